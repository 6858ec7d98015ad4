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
