"""Leakage guard (b): with the target shuffled, a model on the temporal split scores at chance.

If a feature carried the target of its own period (a leak), LightGBM would find it even with shuffled
training labels only through chance; more importantly, with the real labels the same model must beat
chance (the positive control), so the test can fail in both directions.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from gridcrit.features.dataset import build_dataset
from gridcrit.features.sample_store import build_sample_store
from gridcrit.features.splits import relabel_risk, rolling_origin_splits


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    store = build_sample_store(tmp_path_factory.mktemp("shuffle") / "s.duckdb", n_circuits=8,
                               segments_per_circuit=40, start="2019-01", end="2021-06", event_rate=0.06, seed=5)
    return build_dataset(store, level="transformer", period="month")


def _pooled_auc(ds, shuffle_seed: int | None) -> float:
    f = ds.frame
    X = f[ds.feature_columns].to_numpy(np.float32)
    y = (f["y_count"].to_numpy() > 0).astype(int)
    scores, truth = [], []
    for train, test in rolling_origin_splits(f, n_folds=3, test_periods=3):
        y_tr = y[train].copy()
        if shuffle_seed is not None:
            np.random.default_rng(shuffle_seed).shuffle(y_tr)
        m = lgb.LGBMClassifier(n_estimators=60, learning_rate=0.05, num_leaves=15, min_child_samples=20,
                               n_jobs=1, verbose=-1, random_state=0)
        m.fit(X[train], y_tr)
        scores.append(m.predict_proba(X[test])[:, 1])
        truth.append(y[test])
    return roc_auc_score(np.concatenate(truth), np.concatenate(scores))


def test_real_target_beats_chance(ds):
    assert _pooled_auc(ds, None) > 0.62


def test_shuffled_target_scores_at_chance(ds):
    aucs = [_pooled_auc(ds, s) for s in range(5)]
    assert abs(np.mean(aucs) - 0.5) < 0.05, aucs


def test_splits_are_temporal_and_disjoint(ds):
    f = ds.frame
    folds = list(rolling_origin_splits(f, n_folds=3, test_periods=2, gap=1))
    assert len(folds) == 3
    prev_test_end = None
    for train, test in folds:
        tr_p, te_p = f["period"].iloc[train], f["period"].iloc[test]
        assert tr_p.max() < te_p.min()
        assert te_p.nunique() == 2
        # gap of one period between train and test
        all_p = sorted(f["period"].unique())
        assert all_p.index(te_p.min()) - all_p.index(tr_p.max()) == 2
        if prev_test_end is not None:
            assert te_p.min() > prev_test_end  # consecutive folds move forward
        prev_test_end = te_p.max()
    # expanding window
    assert len(folds[0][0]) < len(folds[1][0]) < len(folds[2][0])


def test_risk_refit_per_split_uses_training_rows_only(ds):
    f = ds.frame
    train, test = next(iter(rolling_origin_splits(f, n_folds=2, test_periods=3)))
    y = f["y_saifi"].to_numpy().copy()
    lab = relabel_risk(f, train)
    f2 = f.copy()
    f2.loc[f2.index[test], "y_saifi"] = y[test] * 1000  # test targets must not move the cut points
    lab2 = relabel_risk(f2, train)
    np.testing.assert_array_equal(lab[train], lab2[train])
    assert (lab[f["y_saifi"].to_numpy() == 0] == 0).all()
