"""Metrics the registry records and uses to compare a champion with a challenger.

Primary metric (the one the promotion margin applies to), by task:

* ``regression`` -> ``rmse`` (lower is better),
* ``poisson``    -> ``poisson_deviance`` (lower is better),
* ``classification`` -> ``macro_f1`` (higher is better).

Also recorded: MAE, R², Spearman correlation of the asset ranking, recall of the true top-10 %
assets (what planners act on), balanced accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats


def primary_metric(task: str) -> tuple[str, bool]:
    """(metric name, higher_is_better) used for promotion decisions."""
    if task == "classification":
        return "macro_f1", True
    if task == "poisson":
        return "poisson_deviance", False
    return "rmse", False


def top_recall(y_true: np.ndarray, y_pred: np.ndarray, share: float = 0.1) -> float:
    """Share of the truly worst ``share`` of rows (by y_true) found in the predicted worst ``share``."""
    n = len(y_true)
    k = max(1, round(share * n))
    if np.all(y_true == y_true[0]):
        return float("nan")
    true_top = set(np.argsort(-y_true, kind="stable")[:k])
    pred_top = set(np.argsort(-y_pred, kind="stable")[:k])
    return len(true_top & pred_top) / k


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    err = p - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    out = {"n": len(y), "mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err**2))),
           "r2": 1 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else float("nan"),
           "top10_recall": top_recall(y, p)}
    out["spearman"] = float(stats.spearmanr(y, p).statistic) if np.std(y) > 0 and np.std(p) > 0 else float("nan")
    mu = np.clip(p, 1e-9, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)
    out["poisson_deviance"] = float(2 * np.mean(term)) if (y >= 0).all() else float("nan")
    return out


def classification_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    from sklearn.metrics import balanced_accuracy_score, f1_score

    y = np.asarray(y_true).astype(str)
    p = np.asarray(y_pred).astype(str)
    return {"n": len(y), "macro_f1": float(f1_score(y, p, average="macro", zero_division=0)),
            "balanced_accuracy": float(balanced_accuracy_score(y, p)), "accuracy": float(np.mean(y == p))}


def evaluate(model: Any, X: Any, y: Any, task: str) -> dict[str, float]:
    """All metrics of ``model`` on (X, y)."""
    pred = model.predict(X)
    if task == "classification":
        return classification_metrics(y, pred)
    return regression_metrics(y, pred)


def improvement(champion: dict[str, float], challenger: dict[str, float], task: str) -> float:
    """Relative improvement of the challenger on the primary metric (> 0: challenger better)."""
    name, higher = primary_metric(task)
    a, b = champion[name], challenger[name]
    if not (np.isfinite(a) and np.isfinite(b)):
        return float("nan")
    denom = abs(a) if a != 0 else 1.0
    return (b - a) / denom if higher else (a - b) / denom
