"""Local explanations in words: the top drivers of one asset-period, with their values (es / en).

Signed methods (TreeSHAP, integrated gradients) say whether a value pushes the prediction up or
down; TabNet masks and permutation only say how much the model relied on it, and the text says so.

Example::

    >>> import numpy as np, pandas as pd
    >>> from gridcrit.explain.attribution import Attribution
    >>> att = Attribution(np.array([[0.5, -0.1]]), ["age_years", "kva"], "treeshap", True, np.array([.8, .2]))
    >>> local_explanation(att, pd.DataFrame({"age_years": [31.0], "kva": [15.0]}), 0, lang="en")["text"]
    'Main drivers (treeshap): age_years = 31 (raises the prediction, +0.5); kva = 15 (lowers the prediction, -0.1).'
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from gridcrit.errors import ValidationError

TEXT = {
    "es": {"head": "Principales factores ({method})", "up": "sube la predicción", "down": "baja la predicción",
           "weight": "peso", "missing": "sin dato", "none": "Sin factores con atribución distinta de cero.",
           "asset": "Activo", "period": "periodo", "pred": "predicción"},
    "en": {"head": "Main drivers ({method})", "up": "raises the prediction", "down": "lowers the prediction",
           "weight": "weight", "missing": "missing", "none": "No driver with non-zero attribution.",
           "asset": "Asset", "period": "period", "pred": "prediction"},
}


def check_lang(lang: str) -> str:
    if lang not in TEXT:
        raise ValidationError(f"unknown language {lang!r}; choose es or en")
    return lang


def format_value(v: Any, lang: str = "es") -> str:
    """A feature value for people: short numbers, 'sin dato'/'missing' for NaN."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return TEXT[lang]["missing"]
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return str(v)


def local_drivers(att: Any, X: pd.DataFrame, row: int, k: int = 3,
                  groups: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The ``k`` features with the largest |attribution| in ``row``: name, value, attribution, group."""
    if not 0 <= row < att.values.shape[0]:
        raise ValidationError(f"row {row} out of range (0..{att.values.shape[0] - 1})")
    vals = att.values[row]
    order = np.argsort(-np.abs(vals), kind="stable")[:k]
    out = []
    for j in order:
        if vals[j] == 0:
            continue
        name = att.feature_names[j]
        v = X.iloc[row][name]
        out.append({"feature": name, "value": None if pd.isna(v) else (v.item() if hasattr(v, "item") else v),
                    "attribution": float(vals[j]), "group": (groups or {}).get(name, ""),
                    "direction": ("up" if vals[j] > 0 else "down") if att.signed else None})
    return out


def local_explanation(att: Any, X: pd.DataFrame, row: int, k: int = 3, lang: str = "es",
                      groups: dict[str, str] | None = None, header: str = "") -> dict[str, Any]:
    """Top drivers of ``row`` and a one-paragraph text in ``lang`` (``header`` is prepended)."""
    t = TEXT[check_lang(lang)]
    drivers = local_drivers(att, X, row, k, groups)
    parts = []
    for d in drivers:
        val = format_value(d["value"], lang)
        if att.signed:
            how = t["up"] if d["direction"] == "up" else t["down"]
            parts.append(f"{d['feature']} = {val} ({how}, {d['attribution']:+.2g})")
        else:
            parts.append(f"{d['feature']} = {val} ({t['weight']} {d['attribution']:.2f})")
    body = (t["head"].format(method=att.method) + ": " + "; ".join(parts) + ".") if parts else t["none"]
    return {"row": row, "drivers": drivers, "text": (header + " " + body).strip(), "lang": lang,
            "method": att.method}
