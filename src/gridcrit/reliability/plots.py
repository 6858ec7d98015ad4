"""Reliability charts as PNG (matplotlib, Agg backend): what a planner puts in a report.

* :func:`indices_chart` — system: SAIFI and SAIDI per period (bars; incomplete periods hatched);
  other levels: the ``top`` groups by contribution to the system SAIDI, with their SAIFI contribution
  (a Pareto of where the customer-hours go);
* :func:`med_chart` — IEEE 1366 2.5β: daily SAIDI (log scale) with each year's ``T_MED`` and the major
  event days marked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

TEXT = {
    "es": {"saifi": "SAIFI (interrupciones/usuario)", "saidi": "SAIDI (horas/usuario)", "period": "periodo",
           "system": "Sistema", "top": "{n} {level} con mayor contribución al SAIDI del sistema",
           "periods": {"month": "mes", "quarter": "trimestre", "year": "año"},
           "saifi_c": "contribución al SAIFI", "saidi_c": "contribución al SAIDI (h)",
           "daily": "SAIDI diario (h, escala log)", "tmed": "T_MED (2.5β)", "med": "día de evento mayor",
           "med_title": "Días de evento mayor (IEEE 1366, 2.5β)", "partial": "periodo incompleto",
           "med_excl": " — sin días de evento mayor", "day": "día"},
    "en": {"saifi": "SAIFI (interruptions/customer)", "saidi": "SAIDI (hours/customer)", "period": "period",
           "system": "System", "top": "top {n} by contribution to system SAIDI ({level})",
           "periods": {"month": "month", "quarter": "quarter", "year": "year"},
           "saifi_c": "SAIFI contribution", "saidi_c": "SAIDI contribution (h)",
           "daily": "daily SAIDI (h, log scale)", "tmed": "T_MED (2.5β)", "med": "major event day",
           "med_title": "Major event days (IEEE 1366, 2.5β)", "partial": "incomplete period",
           "med_excl": " — major event days excluded", "day": "day"},
}
LEVEL_ES = {"circuit": "circuitos", "municipality": "municipios", "transformer": "transformadores",
            "switch": "interruptores", "segment": "tramos"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def _span(period: str) -> int:
    return {"month": 1, "quarter": 3, "year": 12}[period]


def indices_chart(res, path: str | Path, *, top: int = 15, lang: str = "es") -> Path:
    """PNG of an :class:`~gridcrit.reliability.indices.IndicesResult` (see the module docstring)."""
    t = TEXT.get(lang, TEXT["es"])
    plt = _plt()
    f = res.frame
    med = t["med_excl"] if res.exclude_med else ""
    if res.by == "system":
        f = f.sort_values("period")
        x = np.arange(len(f))
        partial = (f["months"] < _span(res.period)).to_numpy()
        fig, axes = plt.subplots(2, 1, figsize=(max(6.0, 0.35 * len(f) + 3), 6), sharex=True)
        for ax, col, label, color in ((axes[0], "SAIFI", t["saifi"], "#3b6ea5"),
                                      (axes[1], "SAIDI", t["saidi"], "#c0504d")):
            bars = ax.bar(x, f[col].to_numpy(dtype=float), color=color)
            for b, p in zip(bars, partial, strict=True):
                if p:
                    b.set_hatch("//")
                    b.set_alpha(0.5)
            ax.set_ylabel(label)
            ax.grid(axis="y", alpha=0.3)
        axes[0].set_title(f"{t['system']} × {t['periods'][res.period]}{med}")
        if partial.any():
            axes[0].bar([], [], color="#3b6ea5", hatch="//", alpha=0.5, label=t["partial"])
            axes[0].legend(loc="upper right")
        axes[1].set_xticks(x)
        axes[1].set_xticklabels(f["period"].astype(str), rotation=90 if len(f) > 12 else 0)
        return _save(fig, path)
    g = f.groupby("group")[["SAIFI_contrib", "SAIDI_contrib"]].sum(min_count=1).fillna(0.0)
    g = g.sort_values("SAIDI_contrib", ascending=False).head(top).iloc[::-1]
    level = LEVEL_ES.get(res.by, res.by) if lang == "es" else res.by
    fig, axes = plt.subplots(1, 2, figsize=(10, max(3.0, 0.32 * len(g) + 1.5)), sharey=True)
    y = np.arange(len(g))
    axes[0].barh(y, g["SAIDI_contrib"], color="#c0504d")
    axes[0].set_xlabel(t["saidi_c"])
    axes[1].barh(y, g["SAIFI_contrib"], color="#3b6ea5")
    axes[1].set_xlabel(t["saifi_c"])
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(g.index.astype(str))
    periods = sorted(f["period"].astype(str).unique())
    span = f"{periods[0]}..{periods[-1]}" if periods else ""
    fig.suptitle(t["top"].format(n=len(g), level=level) + f" ({span}){med}")
    for ax in axes:
        ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def med_chart(med, path: str | Path, *, lang: str = "es") -> Path:
    """PNG of a :class:`~gridcrit.reliability.med.MedResult`: daily SAIDI, yearly T_MED, MED days."""
    t = TEXT.get(lang, TEXT["es"])
    plt = _plt()
    d = med.days.copy()
    d["date"] = pd.to_datetime(d["date"])
    d = d[d["saidi"] > 0]
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ordinary = d[~d["is_med"]]
    ax.scatter(ordinary["date"], ordinary["saidi"], s=6, color="#7f7f7f", alpha=0.6)
    m = d[d["is_med"]]
    ax.scatter(m["date"], m["saidi"], s=28, color="#c0504d", label=t["med"], zorder=3)
    first = True
    for row in med.thresholds.itertuples(index=False):
        if row.t_med == row.t_med:  # NaN: no threshold that year
            x0, x1 = pd.Timestamp(f"{int(row.year)}-01-01"), pd.Timestamp(f"{int(row.year)}-12-31")
            ax.hlines(row.t_med, x0, x1, colors="#1f4e79", linestyles="--" if row.basis == "same-year" else "-",
                      label=t["tmed"] if first else None)
            first = False
    ax.set_yscale("log")
    ax.set_ylabel(t["daily"])
    ax.set_title(t["med_title"])
    ax.grid(alpha=0.3, which="both", axis="y")
    ax.legend(loc="upper left")
    return _save(fig, path)
