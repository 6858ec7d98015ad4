"""How much two attributions agree, and how well attributions find known drivers.

All functions take *unsigned* attributions: TabNet masks are non-negative, so SHAP values and
integrated gradients are compared through their absolute values (``np.abs`` before calling).

- :func:`rank_agreement` — Spearman correlation of two global importance vectors and the overlap of
  their top-k sets.
- :func:`rowwise_topk_precision` — per row, the share of the k truly relevant features found among
  the row's k largest attributions (the metric of the TabNet paper's Syn4–Syn6 discussion).
- :func:`global_ranking_topk_precision` — the same score for the best *single* global ranking, the
  baseline a per-row explanation must beat to be worth reading row by row.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr


def rank_agreement(a: np.ndarray, b: np.ndarray, k: int = 5) -> dict[str, float]:
    """Spearman rho and top-k overlap (|top_k(a) ∩ top_k(b)| / k) of two importance vectors."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"importance vectors must be 1-D and of equal length, got {a.shape} and {b.shape}")
    k = min(k, a.size)
    # a constant vector (e.g. permutation of a row no column moves) has no ranking: NaN, without a warning
    rho = spearmanr(a, b).statistic if a.size > 1 and np.ptp(a) > 0 and np.ptp(b) > 0 else float("nan")
    top_a = set(np.argsort(-a, kind="stable")[:k])
    top_b = set(np.argsort(-b, kind="stable")[:k])
    return {"spearman": float(rho), "topk_overlap": len(top_a & top_b) / k if k else float("nan"), "k": k}


def _relevance_matrix(relevant: np.ndarray | list, n_rows: int, n_features: int) -> np.ndarray:
    rel = np.asarray(relevant)
    if rel.dtype == bool and rel.shape == (n_rows, n_features):
        return rel
    raise ValueError("relevant must be a boolean [n_rows, n_features] matrix")


def _expected_hits(att: np.ndarray, rel: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Per row, the expected number of relevant features among the k largest attributions when ties
    are broken at random: features strictly above the k-th value count fully, the tied group at the
    cut counts in proportion to the places left (an unbiased score for sparse masks, whose many
    exact zeros would otherwise be ranked by column order)."""
    kth = -np.sort(-att, axis=1)[np.arange(att.shape[0]), np.clip(k - 1, 0, att.shape[1] - 1)]
    above = att > kth[:, None]
    tied = att == kth[:, None]
    slots = k - above.sum(axis=1)
    n_tied = np.maximum(tied.sum(axis=1), 1)
    return (above & rel).sum(axis=1) + slots / n_tied * (tied & rel).sum(axis=1)


def rowwise_topk_precision(attributions: np.ndarray, relevant: np.ndarray) -> float:
    """Mean over rows of |top-k attributed ∩ relevant| / k with k = number of relevant features of the row.

    ``attributions``: [n, f] non-negative (``-inf`` excludes a feature); ``relevant``: boolean
    [n, f]. Rows with no relevant feature are skipped. Ties at the cut get expected credit (random
    tie-breaking), so a constant row scores what a random guess would, whatever the column order.
    """
    att = np.asarray(attributions, dtype=float)
    rel = _relevance_matrix(relevant, *att.shape)
    k = rel.sum(axis=1)
    keep = k > 0
    att, rel, k = att[keep], rel[keep], k[keep]
    if att.shape[0] == 0:
        return float("nan")
    return float(np.mean(_expected_hits(att, rel, k) / k))


def _ranking_score(order: np.ndarray, patterns: np.ndarray, weights: np.ndarray) -> float:
    score = np.zeros(patterns.shape[1])
    score[order] = np.arange(len(order), 0, -1)
    k = patterns.sum(axis=1)
    return float(np.sum(weights * _expected_hits(np.broadcast_to(score, patterns.shape), patterns, k) / k))


def best_global_ranking(relevant: np.ndarray) -> np.ndarray:
    """The single feature ranking (most important first) with the highest row-wise top-k precision.

    Ordering features by how often they are relevant is *not* optimal when rows need different k
    (Syn4: x11 + {x1, x2} on one branch, x11 + {x3..x6} on the other — putting the small branch
    first wins whichever branch is a little more frequent). Search: start from the frequency order,
    then improve by pairwise swaps until none helps (rows are grouped by relevance pattern, so this
    is cheap for the Syn benchmarks' handful of patterns).
    """
    rel = np.asarray(relevant, dtype=bool)
    rel = rel[rel.sum(axis=1) > 0]
    patterns, counts = np.unique(rel, axis=0, return_counts=True)
    weights = counts / counts.sum()
    f = rel.shape[1]
    order = np.argsort(-rel.sum(axis=0), kind="stable")
    best = _ranking_score(order, patterns, weights)
    improved = True
    while improved:
        improved = False
        for i in range(f - 1):
            for j in range(i + 1, f):
                cand = order.copy()
                cand[[i, j]] = cand[[j, i]]
                sc = _ranking_score(cand, patterns, weights)
                if sc > best + 1e-12:
                    order, best, improved = cand, sc, True
    return order


def global_ranking_topk_precision(relevant: np.ndarray, ranking: np.ndarray | None = None) -> float:
    """Row-wise top-k precision of one global ranking applied to every row.

    With ``ranking=None`` the best global ranking (:func:`best_global_ranking`) is used: the oracle a
    per-row method must beat; it knows the truth, so it bounds any global method from above.
    """
    rel = np.asarray(relevant, dtype=bool)
    if ranking is None:
        ranking = best_global_ranking(rel)
    score = np.zeros(rel.shape[1])
    score[np.asarray(ranking)] = np.arange(len(ranking), 0, -1)
    att = np.broadcast_to(score, rel.shape)
    return rowwise_topk_precision(att, rel)


def share_on_features(attributions: np.ndarray, mask: np.ndarray) -> float:
    """Share of total (absolute) attribution that falls on the features selected by boolean ``mask``.

    ``attributions`` may be [f] (global) or [n, f] (per row; summed over rows).
    """
    att = np.abs(np.asarray(attributions, dtype=float))
    if att.ndim == 2:
        att = att.sum(axis=0)
    total = att.sum()
    return float(att[np.asarray(mask, dtype=bool)].sum() / total) if total > 0 else float("nan")
