"""attribute(): every method on small models; signs, shapes, completeness, per-class, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcrit.errors import ValidationError
from gridcrit.explain.attribution import attribute, auto_method
from gridcrit.explain.local import local_explanation
from gridcrit.models.zoo import make_model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame({"a": rng.normal(size=n), "noise": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], n),
                      "d": rng.normal(size=n)})
    X.loc[::9, "d"] = np.nan
    y = 3 * X["a"] + 2 * (X["c"] == "x") + 0.05 * rng.normal(size=n)
    ycls = np.where(X["a"] > 0.5, 2, np.where(X["a"] < -0.5, 0, 1))
    return X, y.to_numpy(), ycls


def test_treeshap_is_additive_and_finds_the_signal(data):
    X, y, _ = data
    m = make_model("xgboost", n_estimators=60, max_depth=3).fit(X, y)
    att = attribute(m, X)
    assert att.method == "treeshap" and att.signed and att.values.shape == (len(X), 4)
    # exact TreeSHAP: contributions + bias = the prediction, in the target's units (the model fits
    # y / y_scale_ internally; the attributions are scaled back)
    assert m.y_scale_ != 1.0
    assert np.allclose(att.values.sum(1) + att.bias, m.predict(X), atol=1e-3 * m.y_scale_)
    assert att.global_ranking()[:2] == ["a", "c"]
    assert att.global_importance.sum() == pytest.approx(1.0)
    approx = attribute(m, X, approximate=True)
    assert approx.method == "treeshap-approx"
    assert np.allclose(approx.values.sum(1) + approx.bias, att.values.sum(1) + att.bias, atol=1e-3)
    assert not np.allclose(approx.values, att.values)  # a different (path) attribution
    # signs: a large 'a' pushes the prediction up
    hi = int(np.argmax(X["a"].to_numpy()))
    assert att.values[hi, 0] > 0


@pytest.mark.parametrize("kind", ["xgboost", "lightgbm"])
def test_treeshap_sums_to_the_prediction_of_small_scale_targets(kind):
    """SAIFI-like targets (~1e-4): regression contributions sum to the prediction in its own units,
    poisson ones to its log, however the model rescales the target internally."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    y = 1e-4 * np.exp(0.8 * X["a"].to_numpy()) * rng.gamma(2.0, 0.5, 300)
    reg = make_model(kind, n_estimators=40).fit(X, y)
    att = attribute(reg, X)
    assert np.allclose(att.values.sum(1) + att.bias, reg.predict(X), rtol=1e-4, atol=1e-9)
    assert np.abs(att.values).max() < 10 * y.max()  # in SAIFI units, not in units of the scaled target
    poi = make_model(kind, task="poisson", n_estimators=40).fit(X, y)
    att = attribute(poi, X)
    assert np.allclose(np.exp(att.values.sum(1) + att.bias), poi.predict(X), rtol=1e-4)


def test_lightgbm_multiclass_has_per_class_importances(data):
    X, _, ycls = data
    m = make_model("lightgbm", task="classification", n_estimators=30).fit(X, ycls)
    att = attribute(m, X)
    assert set(att.per_class) == {"0", "1", "2"}
    assert att.explained_class is not None and att.values.shape == (len(X), 4)
    assert att.global_ranking()[0] == "a"


def test_lightgbm_fast_mode_is_additive_and_close_to_exact(data):
    """Saabas from leaf tables: same totals as exact TreeSHAP, a different per-feature split."""
    X, y, ycls = data
    m = make_model("lightgbm", n_estimators=40).fit(X, y)
    exact = attribute(m, X)
    fast = attribute(m, X, approximate=True)
    assert fast.method == "treeshap-approx" and fast.values.shape == exact.values.shape
    assert np.allclose(fast.values.sum(1) + fast.bias, exact.values.sum(1) + exact.bias, atol=1e-9)
    assert not np.allclose(fast.values, exact.values)
    assert fast.global_ranking()[0] == exact.global_ranking()[0] == "a"
    mc = make_model("lightgbm", task="classification", n_estimators=20).fit(X, ycls)
    e3, f3 = attribute(mc, X), attribute(mc, X, approximate=True)
    assert np.allclose(f3.values.sum(1) + f3.bias, e3.values.sum(1) + e3.bias, atol=1e-9)


def test_integrated_gradients_complete_and_signed(data):
    X, y, _ = data
    m = make_model("mlp", max_epochs=15, d_hidden=32, n_layers=2, random_state=0).fit(X, y)
    att = attribute(m, X.iloc[:60], ig_steps=64)
    assert att.method == "ig"
    import torch

    enc = m.encoder_
    out = m._forward_all(*m._tensors(X.iloc[:60]))[:, 0].numpy()
    base = m._forward_all(torch.zeros(60, enc.n_numeric_out), torch.zeros(60, len(enc.cat_cols), dtype=torch.long))
    gap = out - base[:, 0].numpy()
    assert np.abs(att.values.sum(1) - gap).max() < 0.05 * np.abs(gap).mean() + 1e-3  # completeness
    assert att.global_ranking()[0] == "a"


def test_tabnet_masks_are_unsigned_rows_sum_to_one(data):
    X, y, _ = data
    m = make_model("tabnet", max_epochs=3, n_steps=2).fit(X, y)
    att = attribute(m, X.iloc[:50])
    assert att.method == "tabnet" and not att.signed
    assert att.masks.shape == (2, 50, 4)
    assert np.allclose(att.values.sum(1), 1.0, atol=1e-4) and (att.values >= 0).all()
    rev = attribute(m, X.iloc[:50, ::-1])  # labelled by X's columns, whatever their order
    assert rev.feature_names == ["d", "c", "noise", "a"]
    assert np.allclose(rev.values[:, ::-1], att.values) and np.allclose(rev.masks[:, :, ::-1], att.masks)


def test_tabnet_fitted_on_an_array_is_explained_from_an_array():
    from gridcrit.models.tabnet import TabNetClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    clf = TabNetClassifier(max_epochs=3, n_steps=2, n_threads=1).fit(X, y)
    for method in ("tabnet", "ig", "permutation"):  # columns are positional, named as the model names them
        att = attribute(clf, X[:40], method=method, n_repeats=1)
        assert att.values.shape == (40, 3)
        assert att.feature_names == [str(c) for c in clf.preprocessor_.feature_names]


def test_zoo_tabnet_is_explained_on_the_inputs_its_network_saw():
    """The zoo wrapper log-transforms heavy-tailed columns before TabNet: masks must see that too."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"count": rng.poisson(rng.gamma(0.3, 20, 600)).astype(float), "x": rng.normal(size=600)})
    m = make_model("tabnet", max_epochs=5, n_steps=2, random_state=0).fit(X, np.log1p(X["count"]).to_numpy())
    assert m.log_scale_  # "count" is heavy-tailed
    att = attribute(m, X.iloc[:40])
    direct, _ = m.net_.explain(m.network_input(X.iloc[:40]))
    assert np.allclose(att.values, direct, atol=1e-6)
    raw, _ = m.net_.explain(X.iloc[:40])  # what the masks were computed on before: untransformed inputs
    assert not np.allclose(att.values, raw, atol=1e-3)


def test_tabnet_integrated_gradients_complete_grouped_and_in_x_order(data):
    """IG through TabNet's embedded input: sums to F(x) - F(baseline) up to the Riemann error (sparsemax
    kinks make it ~1/steps), embedding columns folded into their feature, columns in X's order."""
    import torch

    from gridcrit.explain.integrated_gradients import tabnet_integrated_gradients
    from gridcrit.models.tabnet import TabNetRegressor

    X, y, _ = data
    est = TabNetRegressor(max_epochs=30, n_d=8, n_a=8, n_steps=2, seed=0, cat_emb_dim=3).fit(X, y)
    xn, xc = est.preprocessor_.transform(X.iloc[:80])
    net = est.network_
    with torch.no_grad():
        gap = (net(xn, xc)[0][:, 0] - net(torch.zeros_like(xn[:1]), torch.zeros_like(xc[:1]))[0][:, 0]).numpy()
    coarse = np.abs(tabnet_integrated_gradients(est, X.iloc[:80], steps=16).sum(1) - gap).mean()
    fine = np.abs(tabnet_integrated_gradients(est, X.iloc[:80], steps=256).sum(1) - gap).mean()
    assert fine < 0.02 * np.abs(gap).mean() and fine < coarse / 4
    att = attribute(est, X.iloc[:80], method="ig")
    assert att.method == "ig" and att.signed and att.values.shape == (80, 4)
    assert att.global_ranking()[0] == "a"
    rev = attribute(est, X.iloc[:80, ::-1], method="ig")  # zoo-independent column order
    assert rev.feature_names == ["d", "c", "noise", "a"]
    assert np.allclose(rev.values[:, ::-1], att.values)
    z = make_model("tabnet", max_epochs=30, n_steps=2, random_state=0).fit(X, y)  # the zoo wrapper
    assert attribute(z, X.iloc[:80], method="ig").global_ranking()[0] == "a"


def test_permutation_any_model_and_auto(data):
    X, y, _ = data
    m = make_model("rf", n_estimators=20).fit(X, y)
    assert auto_method(m) == "permutation"
    att = attribute(m, X.iloc[:120], y=y[:120], n_repeats=2)
    assert att.global_ranking()[0] == "a"
    assert att.global_importance[1] < 0.1  # noise column barely matters
    with pytest.raises(ValidationError, match="treeshap"):
        attribute(m, X, method="treeshap")
    with pytest.raises(ValidationError, match="unknown attribution method"):
        attribute(m, X, method="lime")


def test_permutation_of_a_plain_classifier_compares_probabilities():
    """An estimator without gridcrit's ``task`` but with predict_proba (sklearn, TabNetClassifier) is
    scored on its probabilities (a label flip would make per-row values multiples of 1) and with
    log loss over its ``classes_`` (string labels included)."""
    from sklearn.linear_model import LogisticRegression

    from gridcrit.explain.permutation import permutation_attributions

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=300), "noise": rng.normal(size=300)})
    y = np.where(X["a"] + 0.3 * rng.normal(size=300) > 0, "alto", "bajo")
    m = LogisticRegression().fit(X, y)
    rows, glob = permutation_attributions(m, X, y, n_repeats=2, seed=0)
    fractional = (rows[:, 0] > 1e-6) & (np.abs(rows[:, 0] - np.round(rows[:, 0])) > 1e-6)
    assert fractional.mean() > 0.9  # probability changes, not label flips
    assert rows[:, 0].mean() > 5 * rows[:, 1].mean()
    assert glob[0] > 0.1 and glob[1] < 0.02  # log-loss increase: large for a, ~0 for noise


def test_local_text_spanish_and_english(data):
    X, y, _ = data
    m = make_model("xgboost", n_estimators=30, max_depth=3).fit(X, y)
    att = attribute(m, X)
    i = int(np.argmax(X["a"].to_numpy()))
    es = local_explanation(att, X, i, k=2, lang="es")
    en = local_explanation(att, X, i, k=2, lang="en")
    assert es["drivers"][0]["feature"] == "a" and es["drivers"][0]["direction"] == "up"
    assert "sube la predicción" in es["text"] and f"a = {X['a'].iloc[i]:.4g}" in es["text"]
    assert "raises the prediction" in en["text"]
    with pytest.raises(ValidationError, match="language"):
        local_explanation(att, X, 0, lang="fr")


def test_contrastive_surfaces_row_specific_features():
    from gridcrit.explain.attribution import contrastive

    # column 0 is used by every row; columns 1/2 alternate between rows; column 3 is never used
    v = np.array([[0.5, 0.4, 0.0, 0.1], [0.5, 0.0, 0.4, 0.1]] * 5)
    raw_top2 = np.argsort(-v, axis=1)[:, :2]
    assert (raw_top2[:, 0] == 0).all()  # raw weights: the shared feature leads every row
    c = contrastive(v)
    assert (np.argmax(c, axis=1) == np.array([1, 2] * 5)).all()  # the row-specific feature leads
    assert (np.argsort(-c, axis=1)[:, 1] == 0).all()  # the shared one is kept second, ahead of noise
