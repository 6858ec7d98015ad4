"""Data drift between the periods a model was trained on and new periods.

Per feature: the Population Stability Index (PSI) over deciles of the reference (categories for
non-numeric columns; a dominant value such as 0 gets its own bin) and the two-sample
Kolmogorov–Smirnov statistic with its p-value; per target: the same plus the ratio of means (a
target's level is the worse of its PSI level and its mean change: > 10 % moderate, > 25 % major,
because PSI hardly moves on sparse targets); for the risk class: the class balance before and after. Features
are ranked by PSI. Conventional reading of PSI: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 major
shift (the thresholds are parameters).

Example::

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    >>> new = pd.DataFrame({"a": rng.normal(1.0, size=2000), "b": rng.normal(size=2000)})
    >>> rep = drift_report(ref, new, ["a", "b"])
    >>> rep.features[0]["feature"], rep.features[0]["level"]
    ('a', 'major')
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

EPS = 1e-4


def psi(ref: np.ndarray, new: np.ndarray, bins: int = 10) -> float:
    """Population Stability Index of numeric ``new`` against ``ref`` over quantile bins of ``ref``.

    Missing values form their own bin (a feature that starts arriving empty is drift too).
    """
    ref = np.asarray(ref, dtype=float)
    new = np.asarray(new, dtype=float)
    r_ok, n_ok = ref[np.isfinite(ref)], new[np.isfinite(new)]
    if len(ref) == 0 or len(new) == 0:
        return float("nan")
    if len(ref) == len(r_ok) == 0:
        return float("nan")
    # Zero-inflated columns (most asset-months have no outage): the dominant value gets its own bin
    # and the quantile bins are cut over the other values, or every edge would collapse onto it.
    spike = None
    if len(r_ok):
        vals, cnt = np.unique(r_ok, return_counts=True)
        if cnt.max() > 0.3 * len(r_ok):
            spike = vals[np.argmax(cnt)]
    rest = r_ok[r_ok != spike] if spike is not None else r_ok
    edges = np.unique(np.quantile(rest, np.linspace(0, 1, bins + 1)[1:-1])) if len(rest) else np.array([])

    def counts(x: np.ndarray, n_total: int) -> np.ndarray:
        is_spike = (x == spike) if spike is not None else np.zeros(len(x), bool)
        c = np.bincount(np.searchsorted(edges, x[~is_spike], side="right"), minlength=len(edges) + 1)
        return np.concatenate([c, [is_spike.sum(), n_total - len(x)]])

    return _psi_counts(counts(r_ok, len(ref)), counts(n_ok, len(new)))


def psi_categorical(ref: pd.Series, new: pd.Series) -> float:
    """PSI over the categories of ``ref`` ∪ ``new`` (missing is a category)."""
    r = ref.astype("object").fillna("<NA>").astype(str).value_counts()
    n = new.astype("object").fillna("<NA>").astype(str).value_counts()
    cats = sorted(set(r.index) | set(n.index))
    return _psi_counts(r.reindex(cats, fill_value=0).to_numpy(), n.reindex(cats, fill_value=0).to_numpy())


def _psi_counts(r_counts: np.ndarray, n_counts: np.ndarray) -> float:
    p = np.maximum(r_counts / max(r_counts.sum(), 1), EPS)
    q = np.maximum(n_counts / max(n_counts.sum(), 1), EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


def _level(value: float, moderate: float, major: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return "major" if value > major else "moderate" if value > moderate else "stable"


def column_drift(ref: pd.Series, new: pd.Series, moderate: float = 0.1, major: float = 0.25) -> dict[str, Any]:
    """PSI, KS statistic and p-value, means and missing shares of one column."""
    out: dict[str, Any] = {"n_ref": len(ref), "n_new": len(new)}
    if _is_numeric(ref) and _is_numeric(new):
        r = pd.to_numeric(ref, errors="coerce").astype(float).to_numpy()
        n = pd.to_numeric(new, errors="coerce").astype(float).to_numpy()
        r_ok, n_ok = r[np.isfinite(r)], n[np.isfinite(n)]
        miss_r = float(np.mean(~np.isfinite(r))) if len(r) else 0.0
        miss_n = float(np.mean(~np.isfinite(n))) if len(n) else 0.0
        # A column that starts arriving empty is drift (missing is a bin of the PSI). One that is
        # *less* often missing than in the reference is not: history columns are empty in the first
        # periods of any store (no past yet), so the reference always has more gaps; counting them
        # made rain_normal_mm / temp_normal_c the "most drifted" features on data that never moved.
        # Then only the values present are compared.
        out["psi"] = psi(r, n) if miss_n > miss_r else psi(r_ok, n_ok)
        if len(r_ok) and len(n_ok):
            ks = stats.ks_2samp(r_ok, n_ok)
            out["ks"], out["ks_pvalue"] = float(ks.statistic), float(ks.pvalue)
            out["mean_ref"], out["mean_new"] = float(r_ok.mean()), float(n_ok.mean())
        else:
            out["ks"] = out["ks_pvalue"] = out["mean_ref"] = out["mean_new"] = float("nan")
        out["missing_ref"] = miss_r if len(r) else float("nan")
        out["missing_new"] = miss_n if len(n) else float("nan")
        out["kind"] = "numeric"
    else:
        out["psi"] = psi_categorical(ref, new)
        out["ks"] = out["ks_pvalue"] = float("nan")
        out["kind"] = "categorical"
    out["level"] = _level(out["psi"], moderate, major)
    return out


@dataclass
class DriftReport:
    """Result of :func:`drift_report`. ``features`` is sorted by PSI, largest first."""

    reference: str
    new: str
    features: list[dict[str, Any]]
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    class_balance: dict[str, Any] | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    relation: list[dict[str, Any]] = field(default_factory=list)  # feature-target association change

    @property
    def drifted(self) -> list[str]:
        """Features whose PSI is above the moderate threshold, most drifted first."""
        return [f["feature"] for f in self.features if f["level"] in ("moderate", "major")]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["drifted"] = self.drifted
        return d

    def to_json(self) -> str:
        from gridcrit.cli.common import to_json

        return to_json(self.to_dict())

    def summary(self, top: int = 5, lang: str = "en") -> str:
        """One line for people: how many features moved and which most (time counters left out)."""
        return summary_line(self.drifted, len(self.features), self.features, top, lang)

    def to_markdown(self, top: int = 20, lang: str = "en") -> str:
        """The report as Markdown, in ``lang`` (``es`` | ``en``); feature names stay as in the data."""
        T = _REPORT.get(lang, _REPORT["en"])
        lv = _LEVELS.get(lang, _LEVELS["en"])
        th = self.thresholds
        lines = [f"# {T['title']}: {self.new} {T['vs']} {self.reference}", "",
                 T["thresholds"].format(m=th.get("moderate"), M=th.get("major")) + " " + self.summary(lang=lang), "",
                 f"## {T['ranked']}", "",
                 "| {} |".format(" | ".join(T["cols"])),
                 "|---:|---|---:|---:|---:|---:|---:|---:|---|"]
        for i, f in enumerate(self.features[:top], 1):
            lines.append(f"| {i} | {f['feature']} | {_fmt(f['psi'])} | {_fmt(f.get('ks'))} | {_fmt(f.get('ks_pvalue'))} "
                         f"| {_fmt(f.get('mean_ref'))} | {_fmt(f.get('mean_new'))} | {_missing(f)} "
                         f"| {lv.get(f['level'], f['level'])} |")
        if self.targets:
            lines += ["", f"## {T['targets']}", "", "| {} |".format(" | ".join(T["tcols"])),
                      "|---|---:|---:|---:|---:|---|"]
            for t, d in self.targets.items():
                lines.append(f"| {t} | {_fmt(d['psi'])} | {_fmt(d.get('ks'))} | {_fmt(d.get('mean_ref'))} "
                             f"| {_fmt(d.get('mean_new'))} | {lv.get(d['level'], d['level'])} |")
        if self.relation:
            lines += ["", f"## {T['relation'].format(t=self.relation[0]['target'])}", "",
                      "| {} |".format(" | ".join(T["rcols"])), "|---|---:|---:|---:|"]
            for r in self.relation[:10]:
                lines.append(f"| {r['feature']} | {_fmt(r['rho_ref'])} | {_fmt(r['rho_new'])} | {_fmt(r['delta'])} |")
        if self.class_balance:
            cb = self.class_balance
            lines += ["", "## " + T["balance"].format(c=cb["column"], p=_fmt(cb["psi"]), lv=lv.get(cb["level"], cb["level"])),
                      "", "| {} |".format(" | ".join(T["bcols"])), "|---|---:|---:|"]
            for c in cb["classes"]:
                lines.append(f"| {c} | {cb['ref'].get(c, 0):.3f} | {cb['new'].get(c, 0):.3f} |")
        return "\n".join(lines) + "\n"

    def plot_png(self, top: int = 15, lang: str = "en") -> bytes:
        """Horizontal bar chart of the top features' PSI with the thresholds, as PNG bytes."""
        import matplotlib.pyplot as plt

        fig = self.figure(top, lang=lang)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        plt.close(fig)
        return buf.getvalue()

    def figure(self, top: int = 15, lang: str = "en") -> Any:
        """The matplotlib figure of :meth:`plot_png` (thresholds named in a legend, not over each other)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        T = _REPORT.get(lang, _REPORT["en"])
        lv = _LEVELS.get(lang, _LEVELS["en"])
        feats = self.features[:top][::-1]
        fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(feats), 3) + 1.2))
        colors = {"major": "#c0392b", "moderate": "#e67e22", "stable": "#7f8c8d", "n/a": "#bdc3c7",
                  "time_counter": "#bdc3c7"}
        ax.barh([f["feature"] for f in feats], [0 if not np.isfinite(f["psi"]) else f["psi"] for f in feats],
                color=[colors[f["level"]] for f in feats])
        for (name, x), ls in zip(self.thresholds.items(), ("--", ":", "-."), strict=False):
            ax.axvline(x, ls=ls, lw=1, color="k", label=f"{lv.get(name, name)} > {x:g}")
        if self.thresholds:
            ax.legend(loc="lower right", fontsize=8, title="PSI", title_fontsize=8)
        ax.set_xlabel("PSI")
        ax.set_title(f"{T['title']}: {self.new} {T['vs']} {self.reference}")
        fig.tight_layout()
        return fig

    def to_html(self, lang: str = "en") -> str:
        """A self-contained HTML page (chart embedded) in ``lang`` (``es`` | ``en``)."""
        T = _REPORT.get(lang, _REPORT["en"])
        lv = _LEVELS.get(lang, _LEVELS["en"])

        def head(cols: list[str]) -> str:
            return "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>"

        png = base64.b64encode(self.plot_png(lang=lang)).decode()
        rows = "".join(
            f"<tr><td>{i}</td><td>{html.escape(f['feature'])}</td><td>{_fmt(f['psi'])}</td><td>{_fmt(f.get('ks'))}</td>"
            f"<td>{_fmt(f.get('ks_pvalue'))}</td><td>{_fmt(f.get('mean_ref'))}</td><td>{_fmt(f.get('mean_new'))}</td>"
            f"<td>{_missing(f)}</td><td>{html.escape(lv.get(f['level'], f['level']))}</td></tr>"
            for i, f in enumerate(self.features, 1))
        rel = "".join(f"<tr><td>{html.escape(r['feature'])}</td><td>{_fmt(r['rho_ref'])}</td><td>{_fmt(r['rho_new'])}</td>"
                      f"<td>{_fmt(r['delta'])}</td></tr>" for r in self.relation[:15])
        rel = (f"<h2>{html.escape(T['relation'].format(t=self.relation[0]['target']))}</h2>"
               f"<table>{head(T['rcols'])}{rel}</table>") if self.relation else ""
        tg = "".join(f"<tr><td>{html.escape(t)}</td><td>{_fmt(d['psi'])}</td><td>{_fmt(d.get('ks'))}</td>"
                     f"<td>{_fmt(d.get('mean_ref'))}</td><td>{_fmt(d.get('mean_new'))}</td>"
                     f"<td>{html.escape(lv.get(d['level'], d['level']))}</td></tr>"
                     for t, d in self.targets.items())
        bal = ""
        if self.class_balance:
            cb = self.class_balance
            brows = "".join(f"<tr><td>{html.escape(str(c))}</td><td>{cb['ref'].get(c, 0):.3f}</td>"
                            f"<td>{cb['new'].get(c, 0):.3f}</td></tr>" for c in cb["classes"])
            title = T["balance"].format(c=cb["column"], p=_fmt(cb["psi"]), lv=lv.get(cb["level"], cb["level"]))
            bal = f"<h2>{html.escape(title)}</h2><table>{head(T['bcols'])}{brows}</table>"
        th = self.thresholds
        return (f"<!doctype html><html lang='{html.escape(lang)}'><head><meta charset='utf-8'>"
                f"<title>{html.escape(T['title'])}</title>"
                f"<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd}}</style>"
                f"</head><body><h1>{html.escape(T['title'])}: {html.escape(self.new)} {T['vs']} "
                f"{html.escape(self.reference)}</h1>"
                f"<p>{html.escape(T['thresholds'].format(m=th.get('moderate'), M=th.get('major')))} "
                f"{html.escape(self.summary(lang=lang))}</p><img src='data:image/png;base64,{png}'/>"
                f"<h2>{html.escape(T['ranked'])}</h2><table>{head(T['cols'])}{rows}</table>"
                + (f"<h2>{html.escape(T['targets'])}</h2><table>{head(T['tcols'])}{tg}</table>" if tg else "")
                + f"{rel}{bal}</body></html>")

    def write(self, directory: str | Path, lang: str = "en") -> dict[str, str]:
        """Write ``drift.md``, ``drift.html`` and ``drift.png`` (in ``lang``) and ``drift.json`` into
        ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        paths = {"markdown": d / "drift.md", "html": d / "drift.html", "json": d / "drift.json", "png": d / "drift.png"}
        paths["markdown"].write_text(self.to_markdown(lang=lang), encoding="utf-8")
        paths["html"].write_text(self.to_html(lang=lang), encoding="utf-8")
        paths["json"].write_text(self.to_json(), encoding="utf-8")
        paths["png"].write_bytes(self.plot_png(lang=lang))
        return {k: str(v) for k, v in paths.items()}


# Report texts (the JSON keeps the English keys and level codes: it is for programs).
_REPORT: dict[str, dict[str, Any]] = {
    "en": {"title": "Drift report", "vs": "vs",
           "thresholds": "PSI thresholds: moderate > {m}, major > {M}.",
           "ranked": "Features ranked by PSI",
           "cols": ["rank", "feature", "PSI", "KS", "KS p", "mean ref", "mean new", "missing ref → new", "level"],
           "targets": "Targets", "tcols": ["target", "PSI", "KS", "mean ref", "mean new", "level"],
           "relation": "Features whose association with {t} changed most (Spearman ρ)",
           "rcols": ["feature", "ρ ref", "ρ new", "change"],
           "balance": "Class balance of {c} (PSI {p}, {lv})", "bcols": ["class", "share ref", "share new"]},
    "es": {"title": "Informe de deriva", "vs": "frente a",
           "thresholds": "Umbrales de PSI: moderada > {m}, mayor > {M}.",
           "ranked": "Variables ordenadas por PSI",
           "cols": ["puesto", "variable", "PSI", "KS", "KS p", "media ref", "media nueva", "faltantes ref → nueva",
                    "nivel"],
           "targets": "Objetivos", "tcols": ["objetivo", "PSI", "KS", "media ref", "media nueva", "nivel"],
           "relation": "Variables cuya asociación con {t} cambió más (ρ de Spearman)",
           "rcols": ["variable", "ρ ref", "ρ nueva", "cambio"],
           "balance": "Balance de clases de {c} (PSI {p}, {lv})", "bcols": ["clase", "proporción ref", "proporción nueva"]},
}
_LEVELS = {"en": {"major": "major", "moderate": "moderate", "stable": "stable", "n/a": "n/a",
                  "time_counter": "time counter"},
           "es": {"major": "mayor", "moderate": "moderada", "stable": "estable", "n/a": "n/d",
                  "time_counter": "contador de tiempo"}}


def _missing(f: dict[str, Any]) -> str:
    a, b = f.get("missing_ref"), f.get("missing_new")
    if a is None or b is None or not (np.isfinite(a) and np.isfinite(b)):
        return "–"
    return f"{a:.0%} → {b:.0%}"


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def is_time_counter(feature: str) -> bool:
    """Features that grow with time by construction: ``hist_periods_observed`` (periods of history so
    far) and cumulative ``hist_*_total`` sums. Their later periods always sit above the earlier ones, so
    their PSI is large on any data, drifted or not: they are reported (level ``time_counter``) but never
    counted as drift nor named in the headline, where they would hide the features that really moved."""
    return feature == "hist_periods_observed" or (feature.startswith("hist_") and feature.endswith("_total"))


_SUMMARY = {"en": ("{n} of {t} features drifted", "; most: {h}", " (cumulative time counters excluded)"),
            "es": ("{n} de {t} variables con deriva", "; las mayores: {h}",
                   " (se excluyen los contadores acumulados en el tiempo)")}


def summary_line(drifted: list[str], n_features: int, features: list[dict[str, Any]], top: int = 5,
                 lang: str = "en") -> str:
    """``drifted`` names, of ``n_features``; ``features`` ranked by PSI (dicts with feature, psi, level)."""
    T = _SUMMARY.get(lang, _SUMMARY["en"])
    moved = [f for f in features if f.get("level") in ("moderate", "major")][:top]
    head = ", ".join(f"{f['feature']} (PSI {f['psi']:.2f})" for f in moved)
    counters = any(f.get("level") == "time_counter" for f in features)
    return (T[0].format(n=len(drifted), t=n_features) + (T[1].format(h=head) if head else "")
            + (T[2] if counters else ""))


def same_season(ref: pd.DataFrame, ref_periods: pd.Series, new_periods: Any,
                min_rows: int = 500) -> tuple[pd.DataFrame, list[str]]:
    """The reference rows from the same months (or quarters) of the year as the new periods, and those
    months; ``(ref, [])`` unchanged when that leaves fewer than ``min_rows`` rows.

    Why: rain, temperature and lightning features follow the seasons. Three new months compared with
    whole years of reference read as drift (a dry season against the annual mix) although nothing changed;
    against the same months of the earlier years they do not. Periods are labels (``2024-07``,
    ``2024-Q3``/``2024Q3``): the season is the label's last two characters (``07``, ``Q3``).
    """
    seasons = sorted({str(p)[-2:] for p in new_periods})
    keep = ref_periods.astype(str).str[-2:].isin(seasons).to_numpy()
    if keep.sum() < min_rows or keep.all():
        return ref, []
    return ref[keep], seasons


def drift_report(
    ref: pd.DataFrame,
    new: pd.DataFrame,
    features: list[str],
    targets: list[str] | None = None,
    class_column: str | None = None,
    reference_label: str = "reference",
    new_label: str = "new",
    moderate: float = 0.1,
    major: float = 0.25,
    relation_target: str | None = None,
) -> DriftReport:
    """Compare ``new`` rows with ``ref`` rows column by column (see module docstring).

    ``relation_target``: also rank features by the change of their Spearman correlation with this
    target (concept drift: a hazard that grows shows up here even when the feature itself does not
    move, e.g. the same vegetation exposure now causing more outages).
    """
    rows = []
    for c in features:
        d = column_drift(ref[c], new[c], moderate, major)
        d["feature"] = c
        if is_time_counter(c):
            d["level"] = "time_counter"
        rows.append(d)
    # by PSI, time counters after the others (their PSI measures elapsed time, see is_time_counter)
    rows.sort(key=lambda d: (d["level"] == "time_counter", -(d["psi"] if np.isfinite(d["psi"]) else -1.0)))
    tg = {}
    for t in targets or []:
        if t in ref.columns and t in new.columns:
            d = column_drift(ref[t], new[t], moderate, major)
            # sparse targets (mostly zero) barely move PSI even when outages triple: also judge the mean
            m0, m1 = d.get("mean_ref", float("nan")), d.get("mean_new", float("nan"))
            if np.isfinite(m0) and np.isfinite(m1) and m0 != 0:
                d["mean_ratio"] = m1 / m0
                change = abs(d["mean_ratio"] - 1)
                by_mean = "major" if change > 0.25 else "moderate" if change > 0.10 else "stable"
                order = ["n/a", "stable", "moderate", "major"]
                d["level"] = max(d["level"], by_mean, key=order.index)
            tg[t] = d
    cb = None
    if class_column and class_column in ref.columns and class_column in new.columns:
        r = ref[class_column].astype(str).value_counts(normalize=True)
        n = new[class_column].astype(str).value_counts(normalize=True)
        classes = sorted(set(r.index) | set(n.index))
        p = psi_categorical(ref[class_column], new[class_column])
        chi = float("nan")
        counts = pd.DataFrame({"ref": ref[class_column].astype(str).value_counts(),
                               "new": new[class_column].astype(str).value_counts()}).fillna(0)
        if len(counts) > 1 and (counts.sum(axis=0) > 0).all():
            chi = float(stats.chi2_contingency(counts.to_numpy() + 0.5)[1])
        cb = {"column": class_column, "classes": classes, "ref": {k: float(v) for k, v in r.items()},
              "new": {k: float(v) for k, v in n.items()}, "psi": p, "chi2_pvalue": chi,
              "level": _level(p, moderate, major)}
    rel = relation_drift(ref, new, features, relation_target) if relation_target else []
    return DriftReport(reference_label, new_label, rows, tg, cb, {"moderate": moderate, "major": major}, rel)


def relation_drift(ref: pd.DataFrame, new: pd.DataFrame, features: list[str], target: str) -> list[dict[str, Any]]:
    """Spearman ρ(feature, target) in ``ref`` and ``new`` per numeric feature, largest |change| first."""
    if target not in ref.columns or target not in new.columns:
        return []
    out = []
    for c in features:
        if not (_is_numeric(ref[c]) and _is_numeric(new[c])):
            continue
        rho = []
        for df in (ref, new):
            a = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
            b = pd.to_numeric(df[target], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(a) & np.isfinite(b)
            if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
                rho.append(float("nan"))
            else:
                rho.append(float(stats.spearmanr(a[ok], b[ok]).statistic))
        d = rho[1] - rho[0]
        out.append({"feature": c, "target": target, "rho_ref": rho[0], "rho_new": rho[1], "delta": d})
    out.sort(key=lambda r: -abs(r["delta"]) if np.isfinite(r["delta"]) else 0.0)
    return out
