"""Metrics used to compare models: errors, ranking quality of assets, classification, and bootstrap CIs.

Ranking metrics answer the planners' question "did the model put the right assets on top?" and are
computed **per period** (one ranking of assets per month/quarter), then averaged:

* ``spearman`` — rank correlation of predicted vs actual;
* ``top_recall`` — share of the truly worst ``frac`` (default 10 %) assets that the model's top
  ``frac`` contains. Ties: the true top set is every asset with a positive value at least as large as
  the ``k``-th largest (``k = ceil(frac * n)``); recall is divided by ``min(k, |true set|)`` so a
  period where only 3 % of assets failed can still reach 1.0, and a period with no failures is skipped;
* ``ndcg_at_k`` — normalised discounted cumulative gain of the top ``k`` with the actual values as gains.

Example::

    >>> import numpy as np
    >>> from gridcrit.models.metrics import top_recall
    >>> top_recall(np.array([0, 0, 5, 1, 0, 0, 0, 0, 0, 9]), np.arange(10.0), frac=0.2)
    0.5
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd


# -- errors -------------------------------------------------------------------------------------
def mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y, float) - np.asarray(p, float))))


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, float) - np.asarray(p, float)) ** 2)))


def r2(y: np.ndarray, p: np.ndarray) -> float:
    y, p = np.asarray(y, float), np.asarray(p, float)
    ss = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - p) ** 2) / ss) if ss > 0 else float("nan")


def poisson_deviance(y: np.ndarray, p: np.ndarray, eps: float = 1e-9) -> float:
    """Mean Poisson deviance (predictions clipped at ``eps``; needs y >= 0)."""
    y, p = np.asarray(y, float), np.clip(np.asarray(p, float), eps, None)
    term = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / p), 0.0)
    return float(np.mean(2 * (term - (y - p))))


# -- ranking ------------------------------------------------------------------------------------
def spearman(y: np.ndarray, p: np.ndarray) -> float:
    y, p = pd.Series(np.asarray(y, float)), pd.Series(np.asarray(p, float))
    if y.nunique() < 2 or p.nunique() < 2:
        return float("nan")
    return float(y.rank().corr(p.rank()))


def top_recall(y: np.ndarray, p: np.ndarray, frac: float = 0.1) -> float:
    """Recall of the true top-``frac`` assets within the predicted top-``frac`` (see module doc)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    n = len(y)
    if n == 0:
        return float("nan")
    k = max(1, math.ceil(frac * n))
    kth = np.sort(y)[::-1][k - 1]
    true_top = (y >= kth) & (y > 0)
    if not true_top.any():
        return float("nan")
    # stable tie-break on predictions by position so equal predictions do not favour anyone
    pred_top = np.zeros(n, bool)
    pred_top[np.argsort(-p, kind="stable")[:k]] = True
    return float((pred_top & true_top).sum() / min(k, int(true_top.sum())))


def ndcg_at_k(y: np.ndarray, p: np.ndarray, k: int = 100) -> float:
    """NDCG@k with actual values as gains (NaN if no positive value)."""
    y, p = np.clip(np.asarray(y, float), 0, None), np.asarray(p, float)
    k = min(k, len(y))
    disc = 1 / np.log2(np.arange(2, k + 2))
    ideal = float(np.sum(np.sort(y)[::-1][:k] * disc))
    if ideal <= 0:
        return float("nan")
    return float(np.sum(y[np.argsort(-p, kind="stable")[:k]] * disc) / ideal)


def per_group(fn: Callable[[np.ndarray, np.ndarray], float], y: np.ndarray, p: np.ndarray,
              groups: np.ndarray) -> pd.Series:
    """``fn`` on each group (period), as a Series indexed by group (NaN groups kept)."""
    df = pd.DataFrame({"y": np.asarray(y, float), "p": np.asarray(p, float), "g": np.asarray(groups)})
    return pd.Series({g: fn(d["y"].to_numpy(), d["p"].to_numpy()) for g, d in df.groupby("g", sort=True)},
                     dtype=float)


# -- classification -----------------------------------------------------------------------------
def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(np.asarray(y).astype(str), np.asarray(pred).astype(str), average="macro", zero_division=0))


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(np.asarray(y).astype(str), np.asarray(pred).astype(str)))


def auc(y: np.ndarray, proba: np.ndarray, classes: list) -> float:
    """ROC AUC (binary) or macro one-vs-rest AUC over the classes present (NaN if < 2 present)."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(str)
    cls = [str(c) for c in classes]
    present = [i for i, c in enumerate(cls) if (y == c).any()]
    if len(present) < 2:
        return float("nan")
    scores = []
    for i in present:
        pos = y == cls[i]
        if pos.all():
            continue
        scores.append(roc_auc_score(pos, proba[:, i]))
        if len(cls) == 2:
            break
    return float(np.mean(scores)) if scores else float("nan")


# -- bundles ------------------------------------------------------------------------------------
REGRESSION_METRICS = ("mae", "rmse", "r2", "poisson_deviance", "spearman", "top10_recall", "ndcg_at_100")
CLASSIFICATION_METRICS = ("macro_f1", "balanced_accuracy", "auc")
HIGHER_IS_BETTER = {"mae": False, "rmse": False, "r2": True, "poisson_deviance": False, "spearman": True,
                    "top10_recall": True, "ndcg_at_100": True, "macro_f1": True, "balanced_accuracy": True,
                    "auc": True}


def regression_metrics(y: np.ndarray, p: np.ndarray, periods: np.ndarray | None = None,
                       with_deviance: bool = True) -> dict[str, float]:
    """Errors over all rows plus ranking metrics averaged over periods (all rows = one period if None)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    g = np.zeros(len(y)) if periods is None else np.asarray(periods)
    out = {"mae": mae(y, p), "rmse": rmse(y, p), "r2": r2(y, p)}
    out["poisson_deviance"] = poisson_deviance(y, p) if with_deviance and (y >= 0).all() else float("nan")
    out["spearman"] = _nanmean(per_group(spearman, y, p, g))
    out["top10_recall"] = _nanmean(per_group(top_recall, y, p, g))
    out["ndcg_at_100"] = _nanmean(per_group(ndcg_at_k, y, p, g))
    return out


def classification_metrics(y: np.ndarray, pred: np.ndarray, proba: np.ndarray, classes: list) -> dict[str, float]:
    return {"macro_f1": macro_f1(y, pred), "balanced_accuracy": balanced_accuracy(y, pred),
            "auc": auc(y, proba, classes)}


def _nanmean(s: pd.Series) -> float:
    v = s.to_numpy(dtype=float)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


# -- bootstrap ----------------------------------------------------------------------------------
def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> tuple[float, float, float]:
    """Mean of per-unit ``values`` (e.g. one per period) and its percentile bootstrap interval."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    return float(v.mean()), float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def paired_diff_ci(a: np.ndarray, b: np.ndarray, n_boot: int = 1000, alpha: float = 0.05,
                   seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``a - b`` over paired units (same periods) with a bootstrap interval."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    return bootstrap_ci(a[ok] - b[ok], n_boot, alpha, seed)
