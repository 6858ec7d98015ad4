"""predict's per-asset drivers (registry.predict.contributions) are the numbers `gridcrit explain`
shows: TabNet masks on the inputs its network saw, TreeSHAP in the prediction's units."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridcrit.explain.attribution import attribute
from gridcrit.models.zoo import make_model
from gridcrit.registry.predict import contributions, top_drivers


def test_tabnet_drivers_match_its_explanation():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"count": rng.poisson(rng.gamma(0.3, 20, 600)).astype(float), "x": rng.normal(size=600)})
    m = make_model("tabnet", max_epochs=5, n_steps=2, random_state=0).fit(X, np.log1p(X["count"]).to_numpy())
    assert m.log_scale_  # "count" is log-transformed before the network
    c, how = contributions(m, X.iloc[:40])
    assert how == "TabNet attention importances"
    np.testing.assert_allclose(c, attribute(m, X.iloc[:40]).values, atol=1e-6)
    rev, _ = contributions(m, X.iloc[:40, ::-1])  # in the column order of X
    np.testing.assert_allclose(rev[:, ::-1], c, atol=1e-6)


def test_tree_drivers_are_in_the_prediction_units():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    y = 1e-4 * np.exp(0.8 * X["a"].to_numpy()) * rng.gamma(2.0, 0.5, 300)  # SAIFI-sized target
    m = make_model("xgboost", n_estimators=40).fit(X, y)
    c, _ = contributions(m, X)
    att = attribute(m, X)
    np.testing.assert_allclose(c.sum(1) + att.bias, m.predict(X), rtol=1e-4, atol=1e-9)
    hi = int(np.argmax(X["a"].to_numpy()))
    assert top_drivers(c[hi:hi + 1], list(X.columns), k=1)[0].startswith("a (+")
