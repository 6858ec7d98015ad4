"""Retraining from a version that is not the champion: the challenger must beat the serving champion
(the model a promotion would replace), not only the version it started from."""

from __future__ import annotations

import pytest

from _registry_fakes import FakeDataset, fake_dataset, fake_ingest, make_rows, write_export
from gridcrit.registry.native import NativeGBDT
from gridcrit.registry.registry import Registry
from gridcrit.registry.retrain import retrain, summary_text, train_and_register


@pytest.fixture()
def world(tmp_path):
    """A good champion and a bad candidate (trained on targets inflated 5x) in the same slot."""
    store = tmp_path / "g.duckdb"
    fake_ingest([write_export(make_rows("2019-01", "2020-12"), tmp_path / "base")], store)
    good = train_and_register(store, NativeGBDT(library="xgboost", n_estimators=60, max_depth=3, learning_rate=0.1),
                              name="xgboost", task="regression", target="saifi", dataset_fn=fake_dataset)
    ds = fake_dataset(store)
    bad_frame = ds.frame.assign(y_saifi=ds.frame["y_saifi"] * 5.0)
    bad = train_and_register(store, NativeGBDT(library="xgboost", n_estimators=60, max_depth=3, learning_rate=0.1),
                             name="xgboost", task="regression", target="saifi", promote=False,
                             dataset=FakeDataset(bad_frame, ds.feature_columns, ds.target_columns))
    new_dir = tmp_path / "new"
    write_export(make_rows("2021-01", "2021-06"), new_dir)
    return store, good, bad, new_dir


def test_challenger_from_a_worse_base_is_compared_with_the_serving_champion(world):
    store, good, bad, new_dir = world
    r = retrain(store, [new_dir], base=bad, mode="finetune", rounds=3, replay=0,
                ingest_fn=fake_ingest, dataset_fn=fake_dataset)
    reg = Registry(store)
    assert not r.promoted and reg.champion()["version"] == good
    # the fine-tune improves on its (bad) base, but not on the champion it would replace
    assert r.metrics["base"]["rmse"] > r.metrics["challenger"]["rmse"] > r.metrics["champion"]["rmse"]
    assert r.compared_with == good and r.base == bad and r.improvement < 0
    meta = reg.show(r.challenger)
    assert meta["parent_version"] == bad and meta["metrics"]["compared_with"] == good
    txt = summary_text(r, "en")
    assert f"champion {good}" in txt and f"base (retrained from) {bad}" in txt
    assert f"against {good}" in txt


def test_retrain_from_the_champion_compares_with_itself(world):
    store, good, _, new_dir = world
    r = retrain(store, [new_dir], mode="finetune", rounds=3, ingest_fn=fake_ingest, dataset_fn=fake_dataset)
    assert r.compared_with == good == r.base and "base" not in r.metrics
