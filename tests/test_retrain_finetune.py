"""Continued training of zoo models and NativeGBDT: adapts to new data, survives save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcrit.registry.finetune import CannotFinetuneError, continue_training
from gridcrit.registry.native import NativeGBDT


def _regime(w: float, seed: int, n: int = 1500):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"veg": rng.gamma(2, 1, n), "age": rng.uniform(0, 40, n), "kind": rng.choice(["a", "b"], n)})
    y = w * X["veg"] + 0.05 * X["age"] + (X["kind"] == "a") * 0.5 + rng.normal(0, 0.2, n)
    return X, y


def _rmse(m, X, y):
    return float(np.sqrt(np.mean((m.predict(X) - y) ** 2)))


@pytest.mark.parametrize("name", ["xgboost", "lightgbm"])
def test_zoo_gbdt_continues_and_roundtrips(name, tmp_path):
    from gridcrit.models.zoo import load_model, make_model

    XA, yA = _regime(1.0, 0)
    XB, yB = _regime(2.0, 1)
    XT, yT = _regime(2.0, 2)
    m = make_model(name, task="regression", n_estimators=60, n_jobs=1)
    m.fit(XA, yA, eval_set=[(XB.iloc[:200], yA.iloc[:200])])
    before = _rmse(m, XT, yT)
    n_before = m.n_iterations_
    m, how = continue_training(m, XB, yB, rounds=30)
    assert "added 30 trees" in how and m.n_iterations_ <= n_before + 30
    after = _rmse(m, XT, yT)
    assert after < 0.7 * before
    m.save(tmp_path / "m")
    np.testing.assert_allclose(load_model(tmp_path / "m").predict(XT), m.predict(XT), rtol=1e-6)


def test_zoo_xgboost_classifier_continues():
    from gridcrit.models.zoo import make_model

    XA, yA = _regime(1.0, 0)
    XB, yB = _regime(-1.0, 1)
    cA = np.where(yA > yA.median(), "Alto", "Bajo")
    cB = np.where(yB > yB.median(), "Alto", "Bajo")
    m = make_model("xgboost", task="classification", n_estimators=40, n_jobs=1).fit(XA, cA)
    acc0 = np.mean(m.predict(XB) == cB)
    continue_training(m, XB, cB, rounds=40)
    assert np.mean(m.predict(XB) == cB) > acc0 + 0.1
    assert set(m.predict(XB)) <= {"Alto", "Bajo"}


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_native_gbdt_continues(library, tmp_path):
    XA, yA = _regime(1.0, 0)
    XB, yB = _regime(2.0, 1)
    XT, yT = _regime(2.0, 2)
    num = ["veg", "age"]
    m = NativeGBDT(library=library, n_estimators=60).fit(XA[num], yA)
    before = _rmse(m, XT[num], yT)
    continue_training(m, XB[num], yB, rounds=30)
    assert _rmse(m, XT[num], yT) < 0.7 * before
    m.save(tmp_path / "n")
    np.testing.assert_allclose(NativeGBDT.load(tmp_path / "n").predict(XT[num]), m.predict(XT[num]), rtol=1e-6)


def test_tabnet_warm_start_continues():
    from gridcrit.models.zoo import make_model

    XA, yA = _regime(1.0, 0, 800)
    XB, yB = _regime(2.0, 1, 800)
    XT, yT = _regime(2.0, 2, 400)
    m = make_model("tabnet", task="regression", max_epochs=30, batch_size=256,
                   n_d=8, n_a=8, n_steps=2, virtual_batch_size=64)
    m.fit(XA, yA)
    w0 = {k: v.detach().clone() for k, v in m.net_.network_.state_dict().items()}
    before = _rmse(m, XT, yT)
    m, how = continue_training(m, XB, yB, rounds=15)
    assert "warm-started" in how
    assert _rmse(m, XT, yT) < before
    changed = [k for k, v in m.net_.network_.state_dict().items() if not np.array_equal(v.numpy(), w0[k].numpy())]
    assert changed  # continued from, and moved away from, the champion's weights
    assert m.net_.warm_start is False  # restored for later fits


def test_model_without_continuation_says_so():
    from gridcrit.models.zoo import make_model

    X, y = _regime(1.0, 0, 300)
    m = make_model("rf", task="regression", n_estimators=5).fit(X, y)
    with pytest.raises(CannotFinetuneError, match="cannot continue training; use --mode scratch"):
        continue_training(m, X, y)


@pytest.mark.parametrize("name", ["lightgbm", "xgboost"])
def test_boosters_continue_on_saifi_sized_targets(name):
    """The zoo's boosters fit y / y_scale_ (SAIFI contributions are ~1e-4); continued training must feed
    the new rows on that scale too, or the added trees see targets ~0 and change nothing."""
    from gridcrit.models.zoo import make_model
    from gridcrit.registry.finetune import continue_training

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    y_old = 1e-4 * np.exp(0.3 * X["a"].to_numpy())
    m = make_model(name, "poisson", n_estimators=60).fit(X, y_old)
    assert m.y_scale_ != 1.0
    y_new = 3 * y_old  # the same assets, three times the interruptions
    before = m.predict(X).mean()
    continue_training(m, X, y_new, rounds=80)
    after = m.predict(X).mean()
    assert after > 1.8 * before and after == pytest.approx(y_new.mean(), rel=0.35)
