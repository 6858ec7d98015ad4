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
    rho = spearmanr(a, b).statistic if a.size > 1 else float("nan")
    top_a = set(np.argsort(-a, kind="stable")[:k])
    top_b = set(np.argsort(-b, kind="stable")[:k])
    return {"spearman": float(rho), "topk_overlap": len(top_a & top_b) / k if k else float("nan"), "k": k}


def _relevance_matrix(relevant: np.ndarray | list, n_rows: int, n_features: int) -> np.ndarray:
    rel = np.asarray(relevant)
    if rel.dtype == bool and rel.shape == (n_rows, n_features):
        return rel
    raise ValueError("relevant must be a boolean [n_rows, n_features] matrix")


def rowwise_topk_precision(attributions: np.ndarray, relevant: np.ndarray) -> float:
    """Mean over rows of |top-k attributed ∩ relevant| / k with k = number of relevant features of the row.

    ``attributions``: [n, f] non-negative; ``relevant``: boolean [n, f]. Rows with no relevant
    feature are skipped. Ties are broken by feature order (stable), so constant rows score by chance.
    """
    att = np.asarray(attributions, dtype=float)
    rel = _relevance_matrix(relevant, *att.shape)
    k = rel.sum(axis=1)
    keep = k > 0
    att, rel, k = att[keep], rel[keep], k[keep]
    if att.shape[0] == 0:
        return float("nan")
    order = np.argsort(-att, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(att.shape[0])[:, None]
    ranks[rows, order] = np.arange(att.shape[1])[None, :]
    hits = (ranks < k[:, None]) & rel
    return float(np.mean(hits.sum(axis=1) / k))


def global_ranking_topk_precision(relevant: np.ndarray, ranking: np.ndarray | None = None) -> float:
    """Row-wise top-k precision of one global ranking applied to every row.

    With ``ranking=None`` the best global ranking is used: features ordered by how often they are
    relevant (the oracle a per-row method must beat; it knows the truth, so it is an upper bound for
    any global method).
    """
    rel = np.asarray(relevant, dtype=bool)
    if ranking is None:
        score = rel.sum(axis=0).astype(float)
    else:
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
