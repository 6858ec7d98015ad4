"""The explanation report of one model version: one HTML page plus its PNG/HTML charts.

:func:`explain_rows` attributes the rows with the model's own method and with comparison methods:

* permutation importance (any model, on a row sample);
* integrated gradients of a TabNet model (on a row sample), beside its masks;
* TreeSHAP — of the model itself when it is a boosted tree, of a comparison model given by the caller
  (e.g. the XGBoost version trained on the same slot), or else of a *surrogate*: a small XGBoost fitted
  to the model's own predictions on these rows (labelled ``treeshap-surrogate``; it explains the
  surrogate, which is only as faithful as its fit — its R² is reported).

:func:`disagreements` lists the rows where two methods disagree most (lowest per-row Spearman of
|attributions|) with both top-3 lists, so a reader sees *where* TabNet masks and SHAP part ways.
:func:`write_report` writes ``report.html`` with global bars, per-class importances, group shares,
the agreement matrix, disagreement examples, TabNet per-step masks, the mask heat map, local
explanations of the top predicted rows and, when given, the ground-truth check.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridcrit.explain import plots
from gridcrit.explain.attribution import Attribution, attribute
from gridcrit.explain.local import local_explanation
from gridcrit.explain.stability import GROUPS, group_agreement, method_agreement, rowwise_spearman


@dataclass
class ExplanationBundle:
    """Attributions of one model on a set of rows, with comparison methods."""

    main: Attribution
    X: pd.DataFrame
    rows: pd.DataFrame  # asset_id, period (aligned with X)
    groups: dict[str, str]
    others: dict[str, Attribution] = field(default_factory=dict)
    version: str = ""
    kind: str = ""
    prediction: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    task: str | None = None  # regression / poisson / classification: how the local texts read the numbers


def _surrogate_shap(model: Any, X: pd.DataFrame, pred: np.ndarray, seed: int = 0) -> tuple[Attribution, float]:
    from gridcrit.models.gbdt import XGBoostModel

    sur = XGBoostModel(n_estimators=150, max_depth=5, learning_rate=0.1, random_state=seed,
                       early_stopping_rounds=10)
    sur.fit(X, pred)
    fit = sur.predict(X)
    ss = float(np.sum((pred - pred.mean()) ** 2)) or 1.0
    r2 = 1.0 - float(np.sum((pred - fit) ** 2)) / ss
    att = attribute(sur, X, method="treeshap")
    att.method = "treeshap-surrogate"
    att.notes.append(f"surrogate XGBoost fitted to the model's predictions, R² = {r2:.3f}")
    return att, r2


def _prediction(model: Any, X: pd.DataFrame) -> np.ndarray:
    if getattr(model, "task", None) == "classification":
        p = np.asarray(model.predict_proba(X), dtype=float)
        return p @ np.arange(p.shape[1])  # expected class index: an ordinal risk score
    return np.asarray(model.predict(X), dtype=float).reshape(len(X))


def explain_rows(model: Any, X: pd.DataFrame, rows: pd.DataFrame, groups: dict[str, str], *,
                 method: str = "auto", compare: dict[str, Any] | None = None, permutation_rows: int = 400,
                 ig_rows: int = 2000, surrogate: bool = True, version: str = "", seed: int = 0) -> ExplanationBundle:
    """Attribute ``X`` with ``method`` and comparison methods (see module docstring)."""
    main = attribute(model, X, method=method)
    pred = _prediction(model, X)
    b = ExplanationBundle(main, X, rows.reset_index(drop=True), groups, version=version,
                          kind=str(getattr(model, "kind", type(model).__name__)), prediction=pred,
                          task=getattr(model, "task", None))
    for name, other in (compare or {}).items():
        try:  # a comparison that fails is reported in the notes, not fatal
            att = attribute(other, X, method="treeshap")
            att.method = f"treeshap {name}"
            b.others[att.method] = att
        except Exception as e:
            b.notes.append(f"comparison {name}: {e}")
    if not main.method.startswith("treeshap") and surrogate and not b.others and len(X) >= 50 and np.std(pred) > 0:
        att, _r2 = _surrogate_shap(model, X, pred, seed)
        b.others[att.method] = att
    if main.method == "tabnet" and ig_rows:  # where TabNet looked vs how much each feature moved the row
        sub = _sample(len(X), ig_rows, seed)
        try:
            b.others["ig"] = _expand(attribute(model, X.iloc[sub], method="ig"), sub, len(X))
        except Exception as e:
            b.notes.append(f"integrated gradients: {e}")
    if main.method != "permutation" and permutation_rows:
        sub = _sample(len(X), permutation_rows, seed)
        perm = attribute(model, X.iloc[sub], method="permutation", n_repeats=2, seed=seed)
        b.others["permutation"] = _expand(perm, sub, len(X))
    return b


def _sample(n: int, k: int, seed: int) -> np.ndarray:
    """``k`` of ``n`` row positions (all if ``k >= n``), sorted, drawn with ``seed``."""
    return np.sort(np.random.default_rng(seed).permutation(n)[:k])


def _expand(att: Attribution, idx: np.ndarray, n: int) -> Attribution:
    """Row attributions of a sample placed back into an ``n``-row matrix (other rows NaN)."""
    vals = np.full((n, att.values.shape[1]), np.nan)
    vals[idx] = att.values
    att.values = vals
    att.notes.append(f"rows: a sample of {len(idx)} of {n}")
    return att


def _valid_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.isfinite(a).all(1) & np.isfinite(b).all(1)


def agreement(b: ExplanationBundle, k: int = 5) -> dict[str, Any]:
    """Pairwise method agreement (global + per row) and per-group agreement vs the main method."""
    atts = {b.main.method: b.main, **b.others}
    ok = np.ones(len(b.X), dtype=bool)
    for a in atts.values():
        ok &= np.isfinite(a.values).all(1)
    trimmed = {n: Attribution(a.values[ok], a.feature_names, a.method, a.signed, a.global_importance)
               for n, a in atts.items()}
    res = method_agreement(trimmed, k=k)
    res["per_group"] = {n: group_agreement(b.main.global_importance, a.global_importance, b.main.feature_names,
                                           b.groups) for n, a in b.others.items()}
    return res


def disagreements(a: Attribution, b: Attribution, rows: pd.DataFrame, X: pd.DataFrame, n: int = 5,
                  k: int = 3) -> list[dict[str, Any]]:
    """The ``n`` rows where ``a`` and ``b`` disagree most (lowest per-row Spearman of |values|)."""
    ok = np.where(_valid_rows(a.values, b.values))[0]
    if len(ok) == 0:
        return []
    rho = np.array([rowwise_spearman(a.values[i:i + 1], b.values[i:i + 1]) for i in ok])
    rho = np.where(np.isfinite(rho), rho, 2.0)
    out = []
    for i in ok[np.argsort(rho, kind="stable")[:n]]:
        ta, tb = a.top_features(i, k), b.top_features(i, k)
        out.append({"asset_id": str(rows.iloc[i]["asset_id"]), "period": str(rows.iloc[i]["period"]),
                    "spearman": float(rowwise_spearman(a.values[i:i + 1], b.values[i:i + 1])),
                    a.method: [f"{f}={X.iloc[i][f]}" for f in ta], b.method: [f"{f}={X.iloc[i][f]}" for f in tb],
                    "shared": sorted(set(ta) & set(tb))})
    return out


def group_shares(att: Attribution, groups: dict[str, str]) -> dict[str, float]:
    imp = att.global_importance
    tot = float(imp.sum()) or 1.0
    return {g: float(sum(v for n, v in zip(att.feature_names, imp, strict=True) if groups.get(n) == g) / tot)
            for g in GROUPS}


_T = {
    "es": {"title": "Explicación del modelo", "global": "Importancia global", "class": "Importancia por clase",
           "groups": "Participación por grupo de variables", "agree": "Acuerdo entre métodos",
           "disagree": "Dónde discrepan", "steps": "Máscaras por paso (TabNet)", "heat": "Mapa de máscaras",
           "local": "Explicaciones locales (mayor predicción)", "truth": "Verificación contra la verdad",
           "notes": "Notas"},
    "en": {"title": "Model explanation", "global": "Global importance", "class": "Per-class importance",
           "groups": "Share per feature group", "agree": "Agreement between methods",
           "disagree": "Where they disagree", "steps": "Per-step masks (TabNet)", "heat": "Mask heat map",
           "local": "Local explanations (highest predictions)", "truth": "Ground-truth check", "notes": "Notes"},
}


def _img(p: dict[str, str], out: Path) -> str:
    png, h = Path(p["png"]).relative_to(out), Path(p["html"]).relative_to(out)
    return f'<p><img src="{png}" style="max-width:900px"><br><a href="{h}">interactive</a></p>'


def _table(records: list[dict[str, Any]]) -> str:
    if not records:
        return "<p>—</p>"
    return pd.DataFrame(records).to_html(index=False, float_format=lambda v: f"{v:.3f}", escape=True)


def write_report(b: ExplanationBundle, out_dir: str | Path, lang: str = "es", truth: dict[str, Any] | None = None,
                 n_local: int = 5, focus: int | None = None) -> Path:
    """Write ``report.html`` and its charts into ``out_dir``; returns the report path. ``focus``: the row
    a reader asked about (``--asset``): its chart and explanation come first, before the top predicted rows."""
    t = _T[lang]
    out = Path(out_dir)
    charts = out / "charts"
    names = b.main.feature_names
    parts = [f"<h1>{t['title']} {html.escape(b.version)} ({html.escape(b.kind)}, {b.main.method})</h1>",
             f"<p>{len(b.X)} rows × {len(names)} features.</p>"]
    parts.append(f"<h2>{t['global']}</h2>" + _img(plots.global_bar(names, b.main.global_importance,
                                                                    charts / "global", b.main.method), out))
    if b.main.per_class:
        recs = [{"class": c, **{f"top{i + 1}": names[j] for i, j in enumerate(np.argsort(-v)[:5])}}
                for c, v in b.main.per_class.items()]
        parts.append(f"<h2>{t['class']}</h2>" + _table(recs))
    parts.append(f"<h2>{t['groups']}</h2>" + _table(
        [{"method": n, **group_shares(a, b.groups)} for n, a in {b.main.method: b.main, **b.others}.items()]))
    if b.others:
        ag = agreement(b)
        parts.append(f"<h2>{t['agree']}</h2>" + _img(plots.agreement_matrix(
            ag["methods"], np.array(ag["spearman_matrix"]), charts / "agreement", "Spearman"), out))
        parts.append(_table([{k: v for k, v in p.items()} for p in ag["pairs"]]))
        for other, att in b.others.items():
            parts.append(f"<h3>{t['disagree']}: {b.main.method} vs {html.escape(other)}</h3>"
                         + _table([{**d, b.main.method: ", ".join(d[b.main.method]), att.method: ", ".join(d[att.method]),
                                    "shared": ", ".join(d["shared"])} for d in disagreements(b.main, att, b.rows, b.X)]))
    if b.main.masks is not None:
        parts.append(f"<h2>{t['steps']}</h2>" + _img(plots.step_masks(names, b.main.masks, charts / "steps"), out))
    parts.append(f"<h2>{t['heat']}</h2>" + _img(plots.mask_heatmap(names, b.main.values, charts / "heatmap",
                                                                    b.main.method), out))
    order = list(np.argsort(-b.prediction, kind="stable")[:n_local] if b.prediction is not None
                 else range(min(n_local, len(b.X))))
    if focus is not None:
        order = [focus, *[i for i in order if i != focus][: n_local - 1]]
    loc = []
    for i in order:
        asset, per = str(b.rows.iloc[i]["asset_id"]), str(b.rows.iloc[i]["period"])
        shown = None if b.prediction is None or b.task == "classification" else float(b.prediction[i])
        e = local_explanation(b.main, b.X, int(i), lang=lang, groups=b.groups, header=f"{asset} {per}:",
                              prediction=shown, task=b.task)
        loc.append(f"<li>{html.escape(e['text'])}</li>")
        if len(loc) == 1:
            parts.append(_img(plots.asset_drivers(
                names, b.main.values[i], charts / "asset", f"{asset} {per}", signed=b.main.signed,
                xlabel=("contribution" if b.main.signed else "weight") + f" ({b.main.method})"), out))
    parts.append(f"<h2>{t['local']}</h2><ul>{''.join(loc)}</ul>")
    if truth:
        parts.append(f"<h2>{t['truth']}</h2><pre>{html.escape(_pretty(truth))}</pre>")
    notes = b.notes + [n for a in (b.main, *b.others.values()) for n in a.notes]
    if notes:
        parts.append(f"<h2>{t['notes']}</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    out.mkdir(parents=True, exist_ok=True)
    page = out / "report.html"
    page.write_text("<!doctype html><html><head><meta charset='utf-8'><title>gridcrit explain</title>"
                    "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
                    "td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}</style></head><body>"
                    + "\n".join(parts) + "</body></html>", encoding="utf-8")
    return page


def _pretty(d: dict[str, Any]) -> str:
    import json

    from gridcrit.cli.common import to_json

    return json.dumps(json.loads(to_json(d)), indent=1, ensure_ascii=False)
