"""The zoo's TabNet as a seed ensemble (``n_members`` > 1): trained, saved, explained and fine-tuned
like the single model, each step answering for all members."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcrit.errors import ValidationError
from gridcrit.explain.attribution import attribute
from gridcrit.models.tabnet.ensemble import TabNetEnsembleClassifier, TabNetEnsembleRegressor
from gridcrit.models.zoo import load_model, make_model
from gridcrit.registry.finetune import continue_training

SMALL = {"max_epochs": 3, "n_d": 8, "n_a": 8, "n_steps": 2, "batch_size": 256}


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                      "count": rng.poisson(rng.gamma(0.3, 20, n)).astype(float),
                      "kind": rng.choice(["u", "v", "w"], n)})
    y = ((X["a"] + (X["kind"] == "u")) > 0.5).astype(int).to_numpy()
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return make_model("tabnet", task="classification", n_members=3, random_state=4, **SMALL).fit(X, y)


def test_n_members_trains_an_ensemble_whose_outputs_are_the_members_means(fitted, data):
    X, _ = data
    assert isinstance(fitted.net_, TabNetEnsembleClassifier) and len(fitted.net_.members_) == 3
    assert [m.seed for m in fitted.net_.members_] == [400, 401, 402]  # member_seed(random_state, i)
    Xn = fitted.network_input(X)
    want = np.mean([m.predict_proba(Xn) for m in fitted.net_.members_], axis=0)
    np.testing.assert_allclose(fitted.predict_proba(X), want, rtol=1e-6)
    assert not np.allclose(fitted.net_.members_[0].predict_proba(Xn), fitted.net_.members_[1].predict_proba(Xn))


def test_one_member_is_the_single_model(data):
    X, y = data
    m = make_model("tabnet", task="classification", random_state=4, **SMALL).fit(X, y)
    assert m.n_members == 1 and not hasattr(m.net_, "members_")


def test_zero_members_is_refused_with_the_ensembles_message(data):
    X, y = data
    with pytest.raises(ValidationError, match="n_members must be >= 1"):
        make_model("tabnet", task="classification", n_members=0, **SMALL).fit(X, y)


def test_saved_ensemble_loads_as_an_ensemble_with_identical_predictions(fitted, data, tmp_path):
    X, _ = data
    fitted.save(tmp_path / "m")
    assert (tmp_path / "m" / "tabnet" / "ensemble.json").exists()
    assert sorted(p.name for p in (tmp_path / "m" / "tabnet").glob("member_*")) == ["member_00", "member_01",
                                                                                 "member_02"]
    back = load_model(tmp_path / "m")
    assert isinstance(back.net_, TabNetEnsembleClassifier) and back.n_members == 3
    np.testing.assert_array_equal(back.predict_proba(X), fitted.predict_proba(X))


def test_masks_and_integrated_gradients_average_the_members(fitted, data):
    X, _ = data
    att = attribute(fitted, X, "tabnet")
    Xn = fitted.net_.preprocessor_.align(fitted.network_input(X))
    imp, steps = fitted.net_.explain(Xn)
    order = [list(fitted.net_.preprocessor_.feature_names).index(c) for c in X.columns]
    np.testing.assert_allclose(att.values, imp[:, order], rtol=1e-6)
    assert att.masks.shape == (2, len(X), X.shape[1])
    np.testing.assert_allclose(att.masks, steps[:, :, order], rtol=1e-6)

    from gridcrit.explain.integrated_gradients import tabnet_integrated_gradients

    ig = attribute(fitted, X, "ig", ig_steps=8)
    pred = np.argmax(fitted.predict_proba(X), axis=1)
    each = [tabnet_integrated_gradients(m, Xn, steps=8, target=pred) for m in fitted.net_.members_]
    np.testing.assert_allclose(ig.values, np.mean(each, axis=0)[:, order], rtol=1e-6, atol=1e-12)
    assert not np.allclose(each[0], each[1])


def test_finetune_continues_every_member_from_its_own_weights(data):
    X, y = data
    m = make_model("tabnet", task="poisson", n_members=2, random_state=1, **SMALL).fit(X, y.astype(float))
    assert isinstance(m.net_, TabNetEnsembleRegressor)
    before = [{k: v.clone() for k, v in mem.network_.state_dict().items()} for mem in m.net_.members_]
    starts = []
    for mem in m.net_.members_:
        fit = mem.fit

        def spy(Xf, yf, _fit=fit, _mem=mem, **kw):
            starts.append((_mem.warm_start, _mem.max_epochs))
            return _fit(Xf, yf, **kw)

        mem.fit = spy
    _, how = continue_training(m, X, y.astype(float), rounds=2)
    assert starts == [(True, 2), (True, 2)]
    assert "2 TabNet members' weights" in how
    for mem, old in zip(m.net_.members_, before, strict=True):
        assert mem.max_epochs == SMALL["max_epochs"] and mem.warm_start is False
        new = mem.network_.state_dict()
        assert any(not np.allclose(old[k].numpy(), new[k].numpy()) for k in old if old[k].is_floating_point())
