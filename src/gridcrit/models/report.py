"""Writes a :class:`~gridcrit.models.compare.CompareResult` as HTML (with plots), Markdown and JSON.

Files in ``out_dir``: ``report.html`` (self-contained: PNG plots embedded as base64), ``report.md``,
``results.json`` (summary + per-fold + per-period tables), ``folds.csv``, ``periods.csv`` and the plot
PNGs. Plots: the primary metric per fold, calibration (mean actual per decile of prediction; for
classes: observed accuracy per bin of top-class probability), predicted vs actual, and the
time/accuracy trade-off (train seconds vs primary metric).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridcrit.cli.common import to_json
from gridcrit.models.compare import CompareResult, verdict

_TEXT = {
    "en": {"title": "Model comparison", "verdict": "Verdict", "summary": "Summary (mean over test periods, 95% bootstrap CI)",
           "folds": "Per fold", "baseline": "Against the historical-mean baseline (paired, primary metric)",
           "plots": "Plots", "setup": "Setup", "beats": "beats baseline", "yes": "yes", "no": "no",
           "sig": "CI excludes 0"},
    "es": {"title": "Comparación de modelos", "verdict": "Veredicto",
           "summary": "Resumen (media sobre periodos de prueba, IC bootstrap 95%)", "folds": "Por pliegue",
           "baseline": "Frente a la línea base de media histórica (pareado, métrica principal)", "plots": "Gráficos",
           "setup": "Configuración", "beats": "supera la base", "yes": "sí", "no": "no", "sig": "IC excluye 0"},
}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if not np.isfinite(v) else f"{v:.4g}"
    return str(v)


def summary_table(res: CompareResult) -> pd.DataFrame:
    """One row per model: each metric as ``mean [lo, hi]`` plus times and size."""
    s = res.summary
    rows = []
    for m in s["ranking"]:
        e = s["models"][m]
        row: dict[str, Any] = {"model": m}
        for k, v in e.items():
            if isinstance(v, dict):
                row[k] = f"{_fmt(v['mean'])} [{_fmt(v['lo'])}, {_fmt(v['hi'])}]"
        row["train_s"] = round(e["train_s_total"], 2)
        row["predict_s"] = round(e["predict_s_total"], 2)
        row["size_kb"] = round(e["size_bytes"] / 1024, 1)
        rows.append(row)
    return pd.DataFrame(rows)


# Metrics shown in the terminal beside the primary one, in this order when present (the report and the
# JSON keep all of them with their intervals).
TERMINAL_METRICS = ("top10_recall", "ndcg_at_100", "spearman", "poisson_deviance", "macro_f1", "balanced_accuracy",
                    "auc", "mae")


def terminal_table(res: CompareResult, others: int = 3) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)`` for an 80-column terminal: the model, the primary metric with its 95 % interval
    under it, ``others`` more metrics as point estimates (3 significant digits) and the training seconds,
    best model first."""
    s = res.summary
    primary = s["primary"]
    first = s["models"][s["ranking"][0]]
    extra = [k for k in TERMINAL_METRICS if k != primary and isinstance(first.get(k), dict)][:others]
    header = ["model", *(SHORT_NAMES.get(k, k) for k in (primary, *extra)), "s"]

    def g(v: float) -> str:
        return f"{v:.3g}" if v == v else "-"

    rows = []
    for m in s["ranking"]:
        e = s["models"][m]
        pm = e.get(primary)
        cell = "-" if not isinstance(pm, dict) else f"{g(pm['mean'])}\n[{g(pm['lo'])}, {g(pm['hi'])}]"
        rows.append([m, cell, *(g(e[k]["mean"]) if isinstance(e.get(k), dict) else "-" for k in extra),
                     f"{e['train_s_total']:.1f}"])
    return header, rows


SHORT_NAMES = {"top10_recall": "top10%", "ndcg_at_100": "NDCG@100", "spearman": "Spearman",
               "poisson_deviance": "Poisson dev", "balanced_accuracy": "bal. acc", "macro_f1": "macro F1",
               "rps": "RPS"}


def _md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(_fmt(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def _plots(res: CompareResult, out: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s, paths = res.summary, {}
    prim = s["primary"]
    f = res.folds
    models = s["ranking"]

    fig, ax = plt.subplots(figsize=(7, 4))
    for m in models:
        d = f[f.model == m]
        ax.plot(d.fold, d[prim], marker="o", label=m, linestyle="--" if m == "historical_mean" else "-")
    ax.set_xlabel("fold")
    ax.set_ylabel(prim)
    ax.set_xticks(sorted(f.fold.unique()))
    ax.legend(fontsize=8)
    ax.set_title(f"{prim} per fold")
    paths["metric_per_fold"] = out / "metric_per_fold.png"
    fig.tight_layout()
    fig.savefig(paths["metric_per_fold"], dpi=90)
    plt.close(fig)

    p = res.predictions
    fig, ax = plt.subplots(figsize=(7, 4))
    for m in models:
        d = p[p.model == m]
        if res.task == "classification":
            if "p_max" not in d:
                continue
            bins = pd.cut(d.p_max, np.linspace(0, 1, 11), include_lowest=True)
            g = (d.y.astype(str) == d.pred.astype(str)).groupby(bins, observed=True).mean()
            x = d.p_max.groupby(bins, observed=True).mean()
        else:
            q = pd.qcut(d.pred.astype(float).rank(method="first"), 10, labels=False, duplicates="drop")
            x = d.pred.astype(float).groupby(q).mean()
            g = d.y.astype(float).groupby(q).mean()
        ax.plot(x.to_numpy(), g.to_numpy(), marker="o", label=m)
    lim = ax.get_xlim()
    ax.plot(lim, lim, color="grey", lw=0.8)
    ax.set_xlabel("mean predicted" if res.task != "classification" else "top-class probability")
    ax.set_ylabel("mean actual" if res.task != "classification" else "accuracy")
    ax.set_title("calibration (deciles of prediction)")
    ax.legend(fontsize=8)
    paths["calibration"] = out / "calibration.png"
    fig.tight_layout()
    fig.savefig(paths["calibration"], dpi=90)
    plt.close(fig)

    if res.task != "classification":
        n = len(models)
        cols = min(3, n)
        rows = int(np.ceil(n / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3 * rows), squeeze=False)
        for ax, m in zip(axes.ravel(), models, strict=False):
            d = p[p.model == m]
            d = d.sample(min(len(d), 3000), random_state=0)
            ax.scatter(d.y.astype(float), d.pred.astype(float), s=3, alpha=0.3)
            hi = max(float(d.y.max()), float(d.pred.max()), 1e-9)
            ax.plot([0, hi], [0, hi], color="grey", lw=0.8)
            ax.set_title(m, fontsize=9)
            ax.set_xlabel("actual", fontsize=8)
            ax.set_ylabel("predicted", fontsize=8)
        for ax in axes.ravel()[n:]:
            ax.axis("off")
        paths["pred_vs_actual"] = out / "pred_vs_actual.png"
        fig.tight_layout()
        fig.savefig(paths["pred_vs_actual"], dpi=90)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for m in models:
        e = s["models"][m]
        ax.errorbar(max(e["train_s_total"], 1e-3), e[prim]["mean"],
                    yerr=[[e[prim]["mean"] - e[prim]["lo"]], [e[prim]["hi"] - e[prim]["mean"]]], fmt="o", capsize=3)
        ax.annotate(m, (max(e["train_s_total"], 1e-3), e[prim]["mean"]), fontsize=8, xytext=(4, 4),
                    textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("total train seconds (all folds, log)")
    ax.set_ylabel(prim)
    ax.set_title("time / accuracy trade-off")
    paths["time_vs_accuracy"] = out / "time_vs_accuracy.png"
    fig.tight_layout()
    fig.savefig(paths["time_vs_accuracy"], dpi=90)
    plt.close(fig)
    return paths


def write_report(res: CompareResult, out_dir: str | Path, lang: str = "es",
                 setup: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write HTML + Markdown + JSON (+ CSV, PNG) reports of ``res`` into ``out_dir``; returns the paths."""
    t = _TEXT.get(lang, _TEXT["en"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    setup = {**(setup or {}), "target": res.target, "task": res.task, "threads": res.summary.get("threads"),
             "folds": res.summary.get("n_folds"), "primary_metric": res.summary["primary"],
             "offset": res.summary.get("offset") or "none"}
    ps = res.summary.get("positive_share_test")
    if ps is not None and ps < 0.1:
        setup["note_top10_recall"] = (
            f"only {ps:.1%} of test asset-periods have {res.target} > 0, so each period's 'true top 10 %' is "
            "every asset with a positive value (ties at 0 excluded): the metric scores how well a model ranks "
            "the chance of any event, not its size")
    files: dict[str, Path] = {}
    res.folds.to_csv(out / "folds.csv", index=False)
    res.periods.to_csv(out / "periods.csv", index=False)
    files["folds_csv"], files["periods_csv"] = out / "folds.csv", out / "periods.csv"
    payload = {"setup": setup, "summary": res.summary, "verdict": verdict(res.summary, lang),
               "folds": res.folds.to_dict(orient="records"), "periods": res.periods.to_dict(orient="records")}
    (out / "results.json").write_text(json.dumps(json.loads(to_json(payload)), indent=1, ensure_ascii=False))
    files["json"] = out / "results.json"

    st = summary_table(res)
    fold_cols = ["model", "fold", "train_periods", "test_periods", "train_rows", "test_rows", "train_s", "predict_s",
                 "size_bytes", res.summary["primary"]]
    ft = res.folds[[c for c in fold_cols if c in res.folds.columns]]
    vb = pd.DataFrame([{"model": m, "diff": d["diff"], "lo": d["lo"], "hi": d["hi"],
                        t["beats"]: t["yes"] if res.summary["beats_baseline"][m] else t["no"],
                        t["sig"]: t["yes"] if res.summary["beats_baseline_significantly"][m] else t["no"]}
                       for m, d in res.summary["vs_baseline"].items()])
    setup_md = "\n".join(f"- {k}: {v}" for k, v in setup.items())
    md = (f"# {t['title']}: {res.target}\n\n## {t['verdict']}\n\n{verdict(res.summary, lang)}\n\n"
          f"## {t['setup']}\n\n{setup_md}\n\n## {t['summary']}\n\n{_md_table(st)}\n\n"
          f"## {t['baseline']}\n\n{_md_table(vb)}\n\n## {t['folds']}\n\n{_md_table(ft)}\n")
    (out / "report.md").write_text(md)
    files["md"] = out / "report.md"

    plots = _plots(res, out)
    files.update(plots)
    imgs = "".join(
        f'<figure><img alt="{k}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
        f"<figcaption>{k}</figcaption></figure>" for k, p in plots.items())
    body = (f"<h1>{html.escape(t['title'])}: {html.escape(res.target)}</h1>"
            f"<h2>{t['verdict']}</h2><p><b>{html.escape(verdict(res.summary, lang))}</b></p>"
            f"<h2>{t['setup']}</h2><ul>{''.join(f'<li>{html.escape(str(k))}: {html.escape(str(v))}</li>' for k, v in setup.items())}</ul>"
            f"<h2>{t['summary']}</h2>{st.to_html(index=False, escape=True)}"
            f"<h2>{t['baseline']}</h2>{vb.to_html(index=False, float_format=lambda x: f'{x:.4g}')}"
            f"<h2>{t['folds']}</h2>{ft.to_html(index=False, float_format=lambda x: f'{x:.4g}')}"
            f"<h2>{t['plots']}</h2>{imgs}")
    doc = (f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'><title>{t['title']}</title>"
           "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse;font-size:12px}"
           "td,th{border:1px solid #ccc;padding:3px 6px}figure{display:inline-block;margin:8px}</style></head>"
           f"<body>{body}</body></html>")
    (out / "report.html").write_text(doc)
    files["html"] = out / "report.html"
    return files
