"""Seed ensembles of TabNet: members trained with their own seeds, probabilities and row-normalised
importances averaged, sklearn contract, JSON + safetensors persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from gridcrit.errors import ValidationError
from gridcrit.models.synthetic_benchmarks import make_syn
from gridcrit.models.tabnet import (
    TabNetClassifier,
    TabNetEnsembleClassifier,
    TabNetEnsembleRegressor,
    TabNetRegressor,
)
from gridcrit.models.tabnet.ensemble import member_seed

FAST = {"n_d": 8, "n_a": 8, "n_steps": 2, "batch_size": 256, "virtual_batch_size": 64, "max_epochs": 4,
        "n_threads": 1}


@pytest.fixture(scope="module")
def syn():
    X, y, _ = make_syn("Syn2", 1200, seed=0)
    return X, y


@pytest.fixture(scope="module")
def fitted(syn):
    X, y = syn
    return TabNetEnsembleClassifier(TabNetClassifier(**FAST), n_members=3, seed=2).fit(X, y)


def test_members_have_their_own_seeds_and_the_means_are_the_outputs(fitted, syn):
    X, _ = syn
    assert [m.seed for m in fitted.members_] == [member_seed(2, i) for i in range(3)] == [200, 201, 202]
    # each member is exactly the single model of that seed
    solo = TabNetClassifier(**FAST, seed=201).fit(*syn)
    assert np.array_equal(solo.predict_proba(X[:100]), fitted.members_[1].predict_proba(X[:100]))
    proba = fitted.predict_proba(X[:100])
    assert np.allclose(proba, np.mean([m.predict_proba(X[:100]) for m in fitted.members_], axis=0))
    assert list(fitted.classes_) == [0, 1] and fitted.n_features_in_ == 11
    imp, steps = fitted.explain(X[:100])
    manual = np.mean([m.explain(X[:100])[0] for m in fitted.members_], axis=0)
    assert np.allclose(imp, manual / manual.sum(1, keepdims=True), atol=1e-6)
    assert np.allclose(imp.sum(1), 1, atol=1e-5) and steps.shape == (2, 100, 11)
    assert np.isclose(fitted.feature_importances_.sum(), 1)


def test_clone_and_cross_val_score(syn):
    X, y = syn
    est = TabNetEnsembleClassifier(TabNetClassifier(**{**FAST, "max_epochs": 2}), n_members=2)
    assert clone(est).get_params()["n_members"] == 2
    scores = cross_val_score(est, X, y, cv=2, scoring="roc_auc")
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_save_load_round_trip_never_pickles(fitted, syn, tmp_path):
    X, _ = syn
    fitted.save(tmp_path / "e")
    cfg = json.loads((tmp_path / "e" / "ensemble.json").read_text())
    assert cfg["members"] == ["member_00", "member_01", "member_02"] and cfg["seed"] == 2
    back = TabNetEnsembleClassifier.load(tmp_path / "e")
    assert np.array_equal(back.predict_proba(X), fitted.predict_proba(X))
    assert np.array_equal(back.explain(X[:50])[0], fitted.explain(X[:50])[0])
    files = [p for p in (tmp_path / "e").rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".json", ".safetensors"}
    with pytest.raises(ValidationError, match="not a TabNetEnsembleRegressor"):
        TabNetEnsembleRegressor.load(tmp_path / "e")
    cfg["format_version"] = "2.0"
    (tmp_path / "e" / "ensemble.json").write_text(json.dumps(cfg))
    with pytest.raises(ValidationError, match=r"ensemble format 2\.0"):
        TabNetEnsembleClassifier.load(tmp_path / "e")


def test_regressor_and_bad_member_count():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 4))
    y = X[:, 0] + 0.1 * rng.normal(size=500)
    reg = TabNetEnsembleRegressor(TabNetRegressor(**FAST), n_members=2).fit(X, y)
    assert np.allclose(reg.predict(X), np.mean([m.predict(X) for m in reg.members_], axis=0))
    assert reg.__sklearn_tags__().target_tags.multi_output and reg.__sklearn_tags__().input_tags.allow_nan
    two = TabNetEnsembleRegressor(TabNetRegressor(**FAST), n_members=2).fit(X, np.c_[y, -y])
    assert two.predict(X).shape == (500, 2) and two.n_outputs_ == 2
    with pytest.raises(ValidationError, match="n_members must be >= 1"):
        TabNetEnsembleRegressor(n_members=0).fit(X, y)
