"""The six synthetic feature-selection benchmarks of the TabNet and INVASE papers (Syn1–Syn6).

``X ~ N(0, I_11)``, ``P(y = 1 | x) = 1 / (1 + L(x))`` with (1-based feature numbers)::

    Syn1  L = exp(x1·x2)                                        true features {1, 2}
    Syn2  L = exp(Σ_{i=3..6} x_i² − 4)                           {3, 4, 5, 6}
    Syn3  L = exp(−10 sin(0.2 x7) + |x8| + x9 + exp(−x10) − 2.4)  {7, 8, 9, 10}
    Syn4  x11 < 0 → Syn1, else Syn2                              branch features + x11
    Syn5  x11 < 0 → Syn1, else Syn3
    Syn6  x11 < 0 → Syn2, else Syn3

Example::

    >>> X, y, truth = make_syn("Syn4", 10_000, seed=0)   # truth: [n, 11] bool, per row
"""

from __future__ import annotations

import numpy as np

from gridcrit.errors import ValidationError

SYN_NAMES = ("Syn1", "Syn2", "Syn3", "Syn4", "Syn5", "Syn6")
PAPER_TABNET_AUC = {"Syn1": 0.682, "Syn2": 0.892, "Syn3": 0.897, "Syn4": 0.776, "Syn5": 0.789, "Syn6": 0.878}

_FEATURES = {1: [0, 1], 2: [2, 3, 4, 5], 3: [6, 7, 8, 9]}
_SWITCH = {"Syn4": (1, 2), "Syn5": (1, 3), "Syn6": (2, 3)}


def _log_l(kind: int, x: np.ndarray) -> np.ndarray:
    if kind == 1:
        return x[:, 0] * x[:, 1]
    if kind == 2:
        return np.sum(x[:, 2:6] ** 2, axis=1) - 4.0
    return -10.0 * np.sin(0.2 * x[:, 6]) + np.abs(x[:, 7]) + x[:, 8] + np.exp(-x[:, 9]) - 2.4


def make_syn(name: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X [n, 11] float32, y [n] int, truth [n, 11] bool)`` for benchmark ``name``.

    ``truth`` marks the features that determine each row's label (for Syn4–6 the chosen branch's
    features plus x11, as in INVASE's ground truth).
    """
    if name not in SYN_NAMES:
        raise ValidationError(f"unknown synthetic benchmark {name!r}; choose one of {', '.join(SYN_NAMES)}")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 11))
    truth = np.zeros((n, 11), dtype=bool)
    log_l = -true_log_odds(name, x)
    if name in ("Syn1", "Syn2", "Syn3"):
        truth[:, _FEATURES[int(name[-1])]] = True
    else:
        a, b = _SWITCH[name]
        left = x[:, 10] < 0
        truth[np.ix_(left, _FEATURES[a])] = True
        truth[np.ix_(~left, _FEATURES[b])] = True
        truth[:, 10] = True
    # 1 / (1 + exp(log_l)) computed stably
    p = 1.0 / (1.0 + np.exp(np.clip(log_l, -50, 50)))
    y = (rng.uniform(size=n) < p).astype(np.int64)
    return x.astype(np.float32), y, truth


def true_log_odds(name: str, X: np.ndarray) -> np.ndarray:
    """``log P(y=1|x) / P(y=0|x) = −log L(x)`` for benchmark ``name``: the Bayes-optimal score.

    Its test AUC is the ceiling any model can reach on a given test set, and how much it varies
    between test sets is the part of a benchmark's spread that no model can remove.
    """
    if name not in SYN_NAMES:
        raise ValidationError(f"unknown synthetic benchmark {name!r}; choose one of {', '.join(SYN_NAMES)}")
    x = np.asarray(X, dtype=np.float64)
    if name in ("Syn1", "Syn2", "Syn3"):
        return -_log_l(int(name[-1]), x)
    a, b = _SWITCH[name]
    return -np.where(x[:, 10] < 0, _log_l(a, x), _log_l(b, x))


def topk_precision(importances: np.ndarray, truth: np.ndarray, exclude: np.ndarray | None = None) -> float:
    """Mean over rows of |top-k(importance) ∩ true| / k with k = number of true features of the row.

    ``exclude`` (bool ``[n, f]``) drops features from both the ranking and the truth (e.g. x11 to
    score only the branch features on Syn4–6). Ties at the cut get expected credit
    (:func:`gridcrit.explain.agreement.rowwise_topk_precision`).
    """
    from gridcrit.explain.agreement import rowwise_topk_precision

    imp = np.asarray(importances, dtype=np.float64).copy()
    tr = np.asarray(truth, dtype=bool).copy()
    if exclude is not None:
        imp[exclude] = -np.inf
        tr &= ~exclude
    return rowwise_topk_precision(imp, tr)


def best_global_ranking_precision(truth: np.ndarray, exclude: np.ndarray | None = None) -> float:
    """Top-k precision of the best single global feature ranking (searched, see
    :func:`gridcrit.explain.agreement.best_global_ranking`): what a per-row explanation must beat to
    show it is instance-wise."""
    from gridcrit.explain.agreement import global_ranking_topk_precision

    tr = np.asarray(truth, dtype=bool)
    if exclude is not None:
        tr = tr & ~exclude
    return global_ranking_topk_precision(tr)
