"""TabNet estimators: sklearn contract, inputs, seeding, explanations, persistence."""

from __future__ import annotations

import gc
import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from gridcrit.errors import ValidationError
from gridcrit.models.synthetic_benchmarks import make_syn
from gridcrit.models.tabnet import TabNetClassifier, TabNetRegressor, load

FAST = {"n_d": 8, "n_a": 8, "n_steps": 3, "batch_size": 256, "virtual_batch_size": 64, "max_epochs": 8,
        "n_threads": 1}


@pytest.fixture(scope="module")
def syn1():
    X, y, _ = make_syn("Syn1", 1500, seed=0)
    return X, y


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    n = 1200
    df = pd.DataFrame({
        "a": rng.normal(size=n),
        "b": rng.normal(size=n),
        "zona": rng.choice(["norte", "sur", "centro"], size=n),
        "c": rng.normal(size=n),
    })
    df.loc[rng.uniform(size=n) < 0.1, "b"] = np.nan
    logit = 2 * df["a"].to_numpy() + np.where(df["zona"] == "sur", 1.5, -0.5) + np.nan_to_num(df["b"].to_numpy())
    y = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-logit)), "alto", "bajo")
    return df, y


@pytest.fixture(scope="module")
def fitted(frame):
    df, y = frame
    return TabNetClassifier(**FAST, seed=1).fit(df.iloc[:1000], y[:1000], eval_set=[(df.iloc[1000:], y[1000:])])


def test_classifier_learns_from_frame_with_categories_and_nan(fitted, frame):
    from sklearn.metrics import roc_auc_score

    df, y = frame
    p = fitted.predict_proba(df.iloc[1000:])
    assert p.shape == (200, 2)
    assert np.allclose(p.sum(1), 1, atol=1e-5)
    assert list(fitted.classes_) == ["alto", "bajo"]
    assert roc_auc_score(y[1000:] == "bajo", p[:, 1]) > 0.75
    assert list(fitted.feature_names_in_) == ["a", "b", "zona", "c"]
    assert fitted.preprocessor_.cat_columns == ["zona"]
    assert fitted.preprocessor_.nan_columns == ["b"]


def test_unseen_categories_nan_and_column_order_at_predict(fitted, frame):
    df, _ = frame
    new = df.iloc[:50].copy()
    new.loc[new.index[:10], "zona"] = "nunca_vista"
    new.loc[new.index[10:20], "zona"] = None
    new.loc[new.index[:25], "a"] = np.nan
    new.loc[new.index[25:30], "c"] = np.nan  # no NaN in training for c: mean-imputed
    p = fitted.predict_proba(new[["c", "zona", "b", "a"]])  # other column order
    assert np.isfinite(p).all()
    with pytest.raises(ValidationError, match="zona"):
        fitted.predict(df.drop(columns=["zona"]))


def test_same_seed_same_predictions_and_global_rng_untouched(syn1):
    X, y = syn1
    torch.manual_seed(123)
    np.random.seed(123)
    t_state, n_state = torch.get_rng_state().clone(), np.random.get_state()[1].copy()
    a = TabNetClassifier(**FAST, seed=7).fit(X, y).predict_proba(X[:100])
    b = TabNetClassifier(**FAST, seed=7).fit(X, y).predict_proba(X[:100])
    c = TabNetClassifier(**FAST, seed=8).fit(X, y).predict_proba(X[:100])
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert torch.equal(torch.get_rng_state(), t_state)
    assert np.array_equal(np.random.get_state()[1], n_state)


def test_thread_count_is_restored(syn1):
    X, y = syn1
    before = torch.get_num_threads()
    TabNetClassifier(**{**FAST, "n_threads": 2, "max_epochs": 1}).fit(X, y)
    assert torch.get_num_threads() == before


def test_garbage_collector_state_is_restored(syn1):
    # fit pauses the cyclic GC (docs/tabnet.md "Why it is fast"); it must hand it back as it found it,
    # also when fit fails
    X, y = syn1
    assert gc.isenabled()
    TabNetClassifier(**{**FAST, "max_epochs": 1}).fit(X, y)
    assert gc.isenabled()
    with pytest.raises(ValidationError):
        TabNetClassifier(**FAST).fit(X, y, eval_set=[(X[:10], y[:5])])
    assert gc.isenabled()
    gc.disable()
    try:
        TabNetClassifier(**{**FAST, "max_epochs": 1}).fit(X, y)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_clone_and_cross_val_score_roc_auc(syn1):
    X, y = syn1
    est = TabNetClassifier(**FAST)
    c = clone(est)
    assert c.get_params() == est.get_params()
    scores = cross_val_score(est, X, y, cv=2, scoring="roc_auc")
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_grid_search_in_pipeline(syn1):
    X, y = syn1
    pipe = Pipeline([("id", FunctionTransformer()), ("tabnet", TabNetClassifier(**{**FAST, "max_epochs": 3}))])
    gs = GridSearchCV(pipe, {"tabnet__n_steps": [2, 3]}, cv=2, scoring="roc_auc")
    gs.fit(X, y)
    assert gs.best_params_["tabnet__n_steps"] in (2, 3)
    assert gs.predict_proba(X[:5]).shape == (5, 2)


def test_early_stopping_restores_best_weights(syn1):
    X, y = syn1
    clf = TabNetClassifier(**{**FAST, "max_epochs": 30, "patience": 3, "lr": 0.1}, seed=0)
    clf.fit(X[:1000], y[:1000], eval_set=[(X[1000:], y[1000:])])
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(y[1000:], clf.predict_proba(X[1000:])[:, 1])
    assert auc == pytest.approx(clf.best_score_, abs=1e-6)
    assert clf.best_score_ == max(h["eval"] for h in clf.history_)


def test_sample_and_class_weights_change_the_model(syn1):
    X, y = syn1
    base = TabNetClassifier(**FAST).fit(X, y).predict_proba(X[:200])[:, 1].mean()
    heavy = TabNetClassifier(**FAST, class_weight={0: 1.0, 1: 5.0}).fit(X, y).predict_proba(X[:200])[:, 1].mean()
    assert heavy > base + 0.05
    w = np.where(y == 1, 5.0, 1.0)
    sw = TabNetClassifier(**FAST).fit(X, y, sample_weight=w).predict_proba(X[:200])[:, 1].mean()
    assert sw > base + 0.05


def test_warm_start_continues(syn1):
    X, y = syn1
    clf = TabNetClassifier(**{**FAST, "max_epochs": 2}, warm_start=True).fit(X, y)
    w0 = clf.network_.head.weight.detach().clone()
    net = clf.network_
    clf.fit(X, y)
    assert clf.network_ is net and clf.n_fits_ == 2
    assert not torch.equal(w0, clf.network_.head.weight)


def test_explain_shapes_and_normalisation(fitted, frame):
    df, _ = frame
    imp, masks = fitted.explain(df, batch_size=300)
    assert imp.shape == (1200, 4) and masks.shape == (3, 1200, 4)
    assert imp.dtype == np.float32
    assert np.allclose(imp.sum(1), 1, atol=1e-4)
    assert np.allclose(masks.sum(2), 1, atol=1e-4)
    imp2, _ = fitted.explain(df, batch_size=10_000)
    assert np.allclose(imp, imp2, atol=1e-5)
    fi = fitted.feature_importances_
    assert fi.shape == (4,) and fi.sum() == pytest.approx(1, abs=1e-6)
    assert fi[0] > fi[3]  # "a" drives the label, "c" is noise


def test_explain_batches_wide_inputs_by_width():
    # a wide input is explained in batches of ~2^20 cells (bounded memory), with the same result as one batch
    X = np.random.default_rng(0).standard_normal((2000, 600)).astype(np.float32)
    clf = TabNetClassifier(**{**FAST, "max_epochs": 1}).fit(X, (X[:, 0] > 0).astype(int))
    assert clf._rows_per_batch(clf.network_) < len(X)  # 1747 rows: two batches here
    imp, masks = clf.explain(X)
    imp1, masks1 = clf.explain(X, batch_size=len(X))
    np.testing.assert_allclose(imp, imp1, atol=1e-5)
    np.testing.assert_allclose(masks, masks1, atol=1e-5)


def test_entmax_masks(syn1):
    X, y = syn1
    clf = TabNetClassifier(**FAST, mask_type="entmax").fit(X, y)
    _, masks = clf.explain(X[:100])
    assert np.allclose(masks.sum(2), 1, atol=1e-4)


def test_multi_output_regressor():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 5)).astype(np.float32)
    Y = np.stack([X[:, 0] * 3 + 1, X[:, 1] - X[:, 2]], axis=1)
    reg = TabNetRegressor(**{**FAST, "max_epochs": 15}).fit(X[:1200], Y[:1200], eval_set=[(X[1200:], Y[1200:])])
    pred = reg.predict(X[1200:])
    assert pred.shape == (300, 2)
    r2 = 1 - ((pred - Y[1200:]) ** 2).sum(0) / ((Y[1200:] - Y[1200:].mean(0)) ** 2).sum(0)
    assert (r2 > 0.7).all(), r2
    one = TabNetRegressor(**{**FAST, "max_epochs": 2}).fit(X, Y[:, 0])
    assert one.predict(X[:7]).shape == (7,)
    assert cross_val_score(TabNetRegressor(**{**FAST, "max_epochs": 2}), X, Y[:, 0], cv=2).shape == (2,)


def test_save_load_round_trip(fitted, frame, tmp_path):
    df, _ = frame
    fitted.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "model.json").read_text())
    assert cfg["format_version"].startswith("1.") and cfg["preprocessor"]["categories"]["zona"]
    assert len(cfg["feature_importances"]) == 4
    for loaded in (TabNetClassifier.load(tmp_path / "m"), load(tmp_path / "m")):
        assert np.array_equal(loaded.predict_proba(df), fitted.predict_proba(df))
        assert np.array_equal(loaded.predict(df), fitted.predict(df))
        assert np.allclose(loaded.feature_importances_, fitted.feature_importances_)
        assert np.array_equal(loaded.explain(df.iloc[:50])[1], fitted.explain(df.iloc[:50])[1])
    assert not any(p.suffix in (".pkl", ".pickle", ".joblib") for p in (tmp_path / "m").iterdir())


def test_regressor_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 4))
    Y = np.stack([X[:, 0], X[:, 1] * 2], 1)
    reg = TabNetRegressor(**{**FAST, "max_epochs": 2}).fit(X, Y)
    reg.save(tmp_path / "r")
    assert np.array_equal(TabNetRegressor.load(tmp_path / "r").predict(X), reg.predict(X))


def test_other_major_version_fails_clearly(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    f = tmp_path / "m" / "model.json"
    cfg = json.loads(f.read_text())
    cfg["format_version"] = "2.0"
    f.write_text(json.dumps(cfg))
    with pytest.raises(ValidationError, match=r"format 2\.0.*reads format 1\.x"):
        TabNetClassifier.load(tmp_path / "m")


def test_bad_input_messages(fitted, syn1):
    X, y = syn1
    with pytest.raises(ValidationError, match="only 1 class"):
        TabNetClassifier(**FAST).fit(X, np.zeros(len(X)))
    with pytest.raises(ValidationError, match="X has 3 features, but TabNetClassifier is expecting 11 features"):
        TabNetClassifier(**{**FAST, "max_epochs": 1}).fit(X, y).predict(X[:, :3])
    bad = pd.DataFrame({"v": ["1.0", "x", "2"], "w": [1.0, 2.0, 3.0]})
    with pytest.raises(ValidationError, match=r"'v'.*row 1"):
        TabNetClassifier(**FAST, cat_features=None).fit(bad, [0, 1, 0])


def test_large_offsets_do_not_break_predict_time_normalisation(syn1):
    # coordinates like LONGITUD ≈ -75.7 used to be mis-normalised at predict time (the input batch
    # norm's running mean catches up slowly); inputs are now standardised, so a shifted copy of the
    # data trains an equally good model
    from sklearn.metrics import roc_auc_score

    X, _ = syn1
    y = (X[:, 0] + X[:, 2] > 0).astype(int)
    shifted = X.astype(np.float64) + np.array([-75.7, 5.0, 1000.0] + [0.0] * 8)
    a = TabNetClassifier(**FAST).fit(X[:1200], y[:1200]).predict_proba(X[1200:])[:, 1]
    b = TabNetClassifier(**FAST).fit(shifted[:1200], y[:1200]).predict_proba(shifted[1200:])[:, 1]
    auc_a, auc_b = roc_auc_score(y[1200:], a), roc_auc_score(y[1200:], b)
    assert auc_b > 0.8 and abs(auc_a - auc_b) < 0.05, (auc_a, auc_b)


def test_poisson_objective_counts(tmp_path):
    """Log link + Poisson loss: non-negative predictions near the mean at the start, a better
    ranking of rates than squared error on skewed counts, round trip keeps the objective."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 4)).astype(np.float32)
    y = rng.poisson(np.exp(1.0 * X[:, 0] - 1.5)).astype(float)
    Xt = rng.standard_normal((2000, 4)).astype(np.float32)
    truth = np.exp(Xt[:, 0])
    pois = TabNetRegressor(**{**FAST, "max_epochs": 12}, objective="poisson").fit(X, y)
    p = pois.predict(Xt)
    assert (p >= 0).all() and abs(p.mean() - y.mean()) < 0.5 * y.mean()
    assert spearmanr(p, truth).statistic > 0.8
    pois.save(tmp_path / "p")
    back = TabNetRegressor.load(tmp_path / "p")
    assert back.objective == "poisson" and np.array_equal(back.predict(Xt), p)
    with pytest.raises(ValidationError, match="y >= 0"):
        TabNetRegressor(**FAST, objective="poisson").fit(X, -y - 1)
    with pytest.raises(ValidationError, match="objective"):
        TabNetRegressor(**FAST, objective="gamma").fit(X, y)


def test_constant_columns_are_left_out_of_the_network(syn1, tmp_path):
    """A constant column is an attention sink (mask mass there changes nothing): it is not fed to the
    network, explanations give it 0, and it survives save/load and the array fast path."""
    X, y = syn1
    df = pd.DataFrame(X, columns=[f"x{i + 1}" for i in range(X.shape[1])])
    df.insert(2, "always_zero", 0.0)
    df["all_nan"] = np.nan
    df["one_level"] = pd.Series(["A"] * len(df), dtype=object)
    df["nan_or_one"] = np.where(np.arange(len(df)) % 3 == 0, np.nan, 5.0)  # missingness varies: kept
    m = TabNetClassifier(n_d=8, n_a=8, n_steps=2, max_epochs=3, batch_size=512, virtual_batch_size=128, seed=0,
                         n_threads=1).fit(df, y)
    pre = m.preprocessor_
    assert pre.constant_columns == ["always_zero", "all_nan", "one_level"]
    assert m.network_.encoder.n_features == df.shape[1] - 3 and m.n_features_in_ == df.shape[1]
    imp, masks = m.explain(df.iloc[:300])
    const = [df.columns.get_loc(c) for c in pre.constant_columns]
    assert imp.shape == (300, df.shape[1]) and masks.shape == (2, 300, df.shape[1])
    assert (imp[:, const] == 0).all() and (masks[:, :, const] == 0).all()
    np.testing.assert_allclose(imp.sum(1), 1.0, atol=1e-5)
    gi = m.feature_importances_
    assert gi.shape == (df.shape[1],) and (gi[const] == 0).all() and gi.sum() == pytest.approx(1.0)
    from gridcrit.explain.integrated_gradients import tabnet_integrated_gradients

    ig = tabnet_integrated_gradients(m, df.iloc[:50], steps=8)
    assert ig.shape == (50, df.shape[1]) and (ig[:, const] == 0).all() and np.abs(ig).sum() > 0
    # whatever a constant column holds at predict time, it is ignored
    other = df.assign(always_zero=7.0, one_level="B")
    np.testing.assert_array_equal(m.predict_proba(other.iloc[:300]), m.predict_proba(df.iloc[:300]))
    m.save(tmp_path / "m")
    m2 = load(tmp_path / "m")
    np.testing.assert_array_equal(m2.predict_proba(df.iloc[:300]), m.predict_proba(df.iloc[:300]))
    np.testing.assert_array_equal(m2.explain(df.iloc[:300])[0], imp)
    # all-numeric arrays take the fast path: same answer
    num = df.drop(columns=["one_level"])
    a = TabNetRegressor(n_d=8, n_a=8, n_steps=2, max_epochs=2, batch_size=512, virtual_batch_size=128, seed=0,
                        n_threads=1).fit(num.to_numpy(), y.astype(float))
    assert a.preprocessor_.constant_columns == ["x2", f"x{num.shape[1] - 2}"]  # arrays: names x0..x{n-1}
    np.testing.assert_allclose(a.predict(num.to_numpy()[:50]), a.predict(num.iloc[:50]), rtol=1e-6)
