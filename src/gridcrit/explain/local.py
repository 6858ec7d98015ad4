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
           "asset": "Activo", "period": "periodo", "pred": "predicción",
           "base": "valor base {b:.4g}; base + contribuciones = {s}",
           "log": "el logaritmo de la predicción (modelo de Poisson: las contribuciones multiplican la tasa)",
           "class": "la puntuación (log-odds) de la clase predicha", "same": "la predicción",
           "unsigned": "los pesos indican cuánto se apoyó el modelo en cada variable, no hacia dónde empuja"},
    "en": {"head": "Main drivers ({method})", "up": "raises the prediction", "down": "lowers the prediction",
           "weight": "weight", "missing": "missing", "none": "No driver with non-zero attribution.",
           "asset": "Asset", "period": "period", "pred": "prediction",
           "base": "base value {b:.4g}; base + contributions = {s}",
           "log": "the log of the prediction (Poisson model: contributions multiply the rate)",
           "class": "the score (log-odds) of the predicted class", "same": "the prediction",
           "unsigned": "weights say how much the model relied on each feature, not which way it pushes"},
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
                      groups: dict[str, str] | None = None, header: str = "", prediction: Any = None,
                      task: str | None = None) -> dict[str, Any]:
    """Top drivers of ``row`` and a one-paragraph text in ``lang`` (``header`` is prepended).

    With ``prediction`` (the model's output for the row, a number or a class label) the text states
    it; for additive methods with a base value (TreeSHAP) it also states the base and what base +
    contributions add up to for ``task`` (the prediction; its log for ``poisson``; the predicted class's
    log-odds for ``classification``), so the numbers can be checked against the prediction."""
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
    out: dict[str, Any] = {"row": row, "drivers": drivers, "lang": lang, "method": att.method}
    if prediction is not None:
        shown = f"{float(prediction):.4g}" if isinstance(prediction, (int, float, np.integer, np.floating)) \
            else str(prediction)
        body = f"{t['pred'].capitalize()} {shown}. " + body
        out["prediction"] = prediction.item() if hasattr(prediction, "item") else prediction
    bias = getattr(att, "bias", None)
    if att.signed and bias is not None and task is not None:
        base = float(np.asarray(bias)[row])
        what = t["log"] if task == "poisson" else t["class"] if task == "classification" else t["same"]
        body += " (" + t["base"].format(b=base, s=what) + ")"
        out["base"] = base
        out["sum"] = base + float(np.nansum(att.values[row]))
    elif not att.signed and parts:
        body += " (" + t["unsigned"] + ")"
    out["text"] = (header + " " + body).strip()
    return out
