"""Agreement and ground-truth scores of attributions."""

from __future__ import annotations

import numpy as np
import pytest

from gridcrit.explain.agreement import (
    global_ranking_topk_precision,
    rank_agreement,
    rowwise_topk_precision,
    share_on_features,
)


def test_rank_agreement_identical_and_reversed():
    a = np.array([5.0, 4, 3, 2, 1])
    same = rank_agreement(a, a, k=2)
    assert same["spearman"] == pytest.approx(1.0)
    assert same["topk_overlap"] == 1.0
    rev = rank_agreement(a, a[::-1].copy(), k=2)
    assert rev["spearman"] == pytest.approx(-1.0)
    assert rev["topk_overlap"] == 0.0


def test_rowwise_precision_perfect_and_wrong():
    rel = np.array([[1, 1, 0, 0], [0, 0, 1, 1]], dtype=bool)
    perfect = rel.astype(float) + 0.01
    assert rowwise_topk_precision(perfect, rel) == 1.0
    wrong = (~rel).astype(float)
    assert rowwise_topk_precision(wrong, rel) == 0.0
    half = np.array([[1.0, 0, 0.5, 0], [0, 1.0, 0.5, 0]])
    assert rowwise_topk_precision(half, rel) == pytest.approx(0.5)


def test_per_row_beats_global_only_when_rows_differ():
    rel = np.array([[1, 1, 0, 0]] * 3 + [[0, 0, 1, 1]], dtype=bool)
    # the best single ranking gets the majority pattern right, the minority wrong
    assert global_ranking_topk_precision(rel) == pytest.approx(0.75)
    assert rowwise_topk_precision(rel.astype(float), rel) == 1.0


def test_share_on_features():
    att = np.array([[-3.0, 1.0], [1.0, 0.0]])
    assert share_on_features(att, np.array([True, False])) == pytest.approx(4 / 5)


def test_ties_at_the_cut_get_expected_credit_whatever_the_column_order():
    rel = np.array([[1, 1, 0, 0], [0, 0, 1, 1]], dtype=bool)
    const = np.zeros((2, 4))
    # random guess of 2 of 4 features: expected precision 1/2, not 1 or 0 by column order
    assert rowwise_topk_precision(const, rel) == pytest.approx(0.5)
    one = np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0]])  # one right, then a 3-way tie for one place
    assert rowwise_topk_precision(one, rel) == pytest.approx((1 + 1 / 3) / 2)


def test_best_global_ranking_beats_frequency_order_when_k_differs():
    """Syn4-like: x0 always relevant; a small branch {1, 2} on 49 % of rows, a large one {3..6}
    on 51 %. Frequency order puts the large branch first (precision .66); the small branch first
    is better (.80) — the oracle must find it."""
    from gridcrit.explain.agreement import best_global_ranking

    small = np.zeros(7, dtype=bool)
    small[[0, 1, 2]] = True
    large = np.zeros(7, dtype=bool)
    large[[0, 3, 4, 5, 6]] = True
    rel = np.array([small] * 49 + [large] * 51)
    freq = np.argsort(-rel.sum(0), kind="stable")
    assert global_ranking_topk_precision(rel, freq) == pytest.approx((49 * 1 / 3 + 51 * 1.0) / 100)
    best = best_global_ranking(rel)
    assert list(best[:3]) == [0, 1, 2]
    assert global_ranking_topk_precision(rel) == pytest.approx((49 * 1.0 + 51 * 3 / 5) / 100)


def test_rank_agreement_of_a_constant_vector_is_nan_without_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = rank_agreement(np.zeros(4), np.array([0.4, 0.3, 0.2, 0.1]), k=2)
    assert np.isnan(res["spearman"]) and res["k"] == 2
