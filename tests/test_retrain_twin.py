"""Retrain end to end with the real stages (synth -> ingest -> build_dataset -> zoo model) on the tiny twin."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from gridcrit.errors import ValidationError
from gridcrit.registry.predict import predict
from gridcrit.registry.registry import Registry
from gridcrit.registry.retrain import retrain, train_and_register


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    from gridcrit.data.ingest import ingest
    from gridcrit.data.synth import synthesize
    from gridcrit.models.zoo import make_model

    root = tmp_path_factory.mktemp("retrain_twin")
    synthesize(root / "base", scale="tiny", seed=3, start="2021-01", end="2022-12")
    synthesize(root / "new", scale="tiny", seed=3, start="2023-01", end="2023-06", hazards={"vegetation": 2.0})
    synthesize(root / "overlap", scale="tiny", seed=3, start="2022-11", end="2023-02", hazards={"vegetation": 3.0})
    store = root / "g.duckdb"
    ingest([root / "base"], store)
    v1 = train_and_register(store, make_model("xgboost", task="poisson", n_estimators=40), name="xgboost",
                            task="poisson", target="count", level="switch", period="month")
    return root, store, v1


def _counts(store):
    con = duckdb.connect(str(store), read_only=True)
    try:
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0]
                for t in ("interrupciones", "trafos", "_registry_models", "_registry_events")}
    finally:
        con.close()


def test_overlapping_exports_rejected_before_ingest(twin):
    root, store, v1 = twin
    before = _counts(store)
    with pytest.raises(ValidationError, match=r"period\(s\) 2022-11, 2022-12 that are already in the store"):
        retrain(store, [root / "overlap"])
    assert _counts(store) == before and Registry(store).champion()["version"] == v1


def test_broken_new_export_is_rejected_whole(twin, tmp_path):
    import shutil

    root, store, v1 = twin
    bad = tmp_path / "bad"
    shutil.copytree(root / "new", bad)
    lines = (bad / "interrupciones.csv").read_text().splitlines()
    header = lines[0].split(",")
    row = lines[3].split(",")
    row[header.index("fin")] = "2001-01-01 00:00:00"  # ends before it starts
    lines[3] = ",".join(row)
    (bad / "interrupciones.csv").write_text("\n".join(lines) + "\n")
    before = _counts(store)
    with pytest.raises(ValidationError, match=r"new files were rejected.*interrupciones\.csv:4"):
        retrain(store, [bad])
    assert _counts(store) == before and Registry(store).champion()["version"] == v1


def test_retrain_on_the_twin_records_everything(twin):
    root, store, v1 = twin
    r = retrain(store, [root / "new"], mode="finetune", margin=0.0, force=True)
    assert r.unseen_periods == [f"2023-0{i}" for i in range(1, 7)] and r.eval_periods == ["2023-05", "2023-06"]
    assert r.promoted and r.data_changes["ingest"]["rows_added"] > 0
    assert r.drift["targets"]["y_count"]["mean_new"] > 0
    reg = Registry(store)
    meta = reg.show(r.challenger)
    assert meta["parent_version"] == v1 and meta["data_fingerprint"]["tables"]["interrupciones"]["last"] >= "2023-06"
    new_pred = predict(store, period="2023-06").frame
    reg.rollback()
    old_pred = predict(store, period="2023-06").frame
    v1_pred = predict(store, model=v1, period="2023-06").frame
    np.testing.assert_array_equal(old_pred["pred_count"], v1_pred["pred_count"])
    assert not np.array_equal(np.sort(new_pred["pred_count"]), np.sort(old_pred["pred_count"]))
