"""Permutation importance for any model, with a per-row view.

Each column is shuffled ``n_repeats`` times (the other columns kept), breaking its link with the
target while keeping its distribution. Two numbers come out:

* per row: mean absolute change of the model's output (prediction; class probabilities summed over
  classes and halved, i.e. total-variation distance) — how much this row's prediction depends on the
  column's value;
* global: mean increase of the loss (squared error, Poisson deviance or log loss) when ``y`` is
  given, as :func:`sklearn.inspection.permutation_importance` would report; else the mean row value.

Cost: ``f · n_repeats`` predictions of ``X``; sample rows for large tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def model_task(model: Any) -> str:
    """``"classification"``, ``"regression"`` or ``"poisson"``: gridcrit's zoo models say their
    ``task``; any other estimator with ``predict_proba`` (sklearn classifiers, our TabNetClassifier)
    is a classifier, so its probabilities are what explanations compare, not its labels."""
    task = getattr(model, "task", None)
    if task is None:
        task = "classification" if hasattr(model, "predict_proba") else "regression"
    return task


def _output(model: Any, X: pd.DataFrame) -> np.ndarray:
    if model_task(model) == "classification" and hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(X), dtype=float)
    return np.asarray(model.predict(X), dtype=float).reshape(len(X), -1)


def _class_codes(model: Any, y: np.ndarray) -> np.ndarray:
    if hasattr(model, "codec_"):
        return np.asarray(model.codec_.encode(y))
    classes = getattr(model, "classes_", None)
    if classes is not None:  # sklearn convention: predict_proba columns follow classes_
        return np.searchsorted(np.asarray(classes), y)
    return y.astype(int)


def _loss(model: Any, out: np.ndarray, y: np.ndarray) -> float:
    task = model_task(model)
    if task == "classification":
        codes = _class_codes(model, y)
        p = np.clip(out[np.arange(len(out)), codes], 1e-12, 1)
        return float(-np.mean(np.log(p)))
    pred = out[:, 0]
    if task == "poisson":
        mu = np.clip(pred, 1e-12, None)
        yy = y.astype(float)
        return float(np.mean(2 * (np.where(yy > 0, yy * np.log(np.where(yy > 0, yy, 1) / mu), 0) - (yy - mu))))
    return float(np.mean((pred - y.astype(float)) ** 2))


def permutation_attributions(model: Any, X: pd.DataFrame, y: Any = None, *, n_repeats: int = 3,
                             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(rows [n, f], global [f])`` permutation attributions (see module docstring)."""
    rng = np.random.default_rng(seed)
    base = _output(model, X)
    y_arr = None if y is None else np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    base_loss = None if y_arr is None else _loss(model, base, y_arr)
    n, f = X.shape
    rows = np.zeros((n, f))
    glob = np.zeros(f)
    scale = 0.5 if base.shape[1] > 1 else 1.0
    for j, col in enumerate(X.columns):
        Xp = X.copy()
        for _ in range(n_repeats):
            Xp[col] = X[col].to_numpy()[rng.permutation(n)]
            out = _output(model, Xp)
            rows[:, j] += np.abs(out - base).sum(axis=1) * scale / n_repeats
            if base_loss is not None:
                glob[j] += (_loss(model, out, y_arr) - base_loss) / n_repeats
    if base_loss is None:
        glob = rows.mean(axis=0)
    return rows, np.clip(glob, 0, None)
