"""Retrain: challenger vs champion on unseen periods, drift, promotion rules, recorded history."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest

from _registry_fakes import fake_dataset, fake_ingest, make_rows, write_export
from gridcrit.errors import GridcritError, ValidationError
from gridcrit.registry.native import NativeGBDT
from gridcrit.registry.registry import Registry
from gridcrit.registry.retrain import retrain, summary_text, train_and_register


def _dump(store: Path):
    con = duckdb.connect(str(store), read_only=True)
    try:
        return (con.execute("SELECT * FROM _registry_models ORDER BY version").fetchall(),
                con.execute("SELECT * FROM _registry_events ORDER BY event_id").fetchall())
    finally:
        con.close()


@pytest.fixture()
def world(tmp_path):
    """A store with 2019-01..2020-12 ingested and an xgboost champion trained on it."""
    store = tmp_path / "g.duckdb"
    fake_ingest([write_export(make_rows("2019-01", "2020-12"), tmp_path / "base")], store)
    model = NativeGBDT(library="xgboost", n_estimators=80, max_depth=4, learning_rate=0.1)
    v = train_and_register(store, model, name="xgboost", task="regression", target="saifi",
                           dataset_fn=fake_dataset, n_folds=2)
    new_dir = tmp_path / "new"
    write_export(make_rows("2021-01", "2021-06", w_veg=2.0, veg_shift=0.5), new_dir)
    return store, v, new_dir


def _kw():
    return {"ingest_fn": fake_ingest, "dataset_fn": fake_dataset}


def test_champion_registered_with_folds_and_fingerprint(world):
    store, v, _ = world
    meta = Registry(store).show(v)
    assert meta["status"] == "champion"
    assert [f["test_period"] for f in meta["metrics"]["folds"]] == ["2020-11", "2020-12"]
    assert meta["data_fingerprint"]["periods"] == {"first": "2019-01", "last": "2020-12", "n": 24}
    assert meta["feature_schema"]["columns"] == ["veg", "age", "frailty", "lightning"]


def test_finetune_beats_champion_is_promoted_and_rollback_restores(world):
    store, v1, new_dir = world
    reg = Registry(store)
    ds = fake_dataset(store)
    X_old = ds.frame[ds.feature_columns]
    before = reg.load("champion").model.predict(X_old)
    r = retrain(store, [new_dir], mode="finetune", margin=0.02, **_kw())
    assert r.unseen_periods == [f"2021-0{i}" for i in range(1, 7)]
    assert r.eval_periods == ["2021-05", "2021-06"] and r.train_periods[-1] == "2021-04"
    assert r.promoted and not r.forced and r.improvement >= 0.02
    assert r.metrics["challenger"]["rmse"] < r.metrics["champion"]["rmse"]
    assert r.drift["drifted"][0] == "veg"  # the driver whose regime changed
    assert r.drift["targets"]["y_saifi"]["mean_new"] > r.drift["targets"]["y_saifi"]["mean_ref"]
    new = reg.show(r.challenger)
    assert new["parent_version"] == v1 and new["status"] == "champion"
    assert new["data_fingerprint"]["periods"]["last"] == "2021-04"  # held-out periods are not training data
    assert reg.show(v1)["status"] == "retired"
    assert {e["action"] for e in reg.history(r.challenger)} >= {"register", "retrain", "promote"}
    assert Path(r.report_dir, "drift.html").exists() and Path(r.report_dir, "summary.md").exists()
    assert json.loads(Path(r.report_dir, "summary.json").read_text())["challenger"] == r.challenger
    assert "rollback" in r.rollback_hint
    txt = summary_text(r, "es")
    assert "se promovió" in txt and "veg" in txt
    reg.rollback()
    served = reg.load("champion")
    assert served.version == v1
    np.testing.assert_array_equal(served.model.predict(X_old), before)


def test_margin_not_met_keeps_champion_but_records_candidate(world):
    store, v1, new_dir = world
    r = retrain(store, [new_dir], mode="finetune", margin=5.0, **_kw())
    reg = Registry(store)
    assert not r.promoted and r.champion_after == v1
    assert reg.show(r.challenger)["status"] == "candidate"
    assert reg.champion()["version"] == v1
    assert "se mantiene el campeón" in summary_text(r, "es")
    # the margin is what a promotion needs, whichever way the metric moved
    assert "se exige una mejora de al menos 500.0%" in " ".join(summary_text(r, "es").split())
    assert "promotion needs an improvement of at least 500.0%" in " ".join(summary_text(r, "en").split())


def test_force_promotes(world):
    store, _, new_dir = world
    r = retrain(store, [new_dir], mode="finetune", margin=5.0, force=True, **_kw())
    assert r.promoted and r.forced and Registry(store).champion()["version"] == r.challenger


def test_scratch_and_auto_modes(world):
    store, v1, new_dir = world
    r = retrain(store, [new_dir], mode="scratch", margin=0.0, **_kw())
    assert r.mode == "scratch" and Registry(store).show(r.challenger)["parent_version"] is None
    r2 = retrain(store, None, base=v1, mode="auto", margin=10.0, **_kw())  # unreachable margin: both tried
    assert set(r2.candidates) == {"finetune", "scratch"} and not r2.promoted


def test_bad_new_file_changes_nothing(world, tmp_path):
    store, v1, _ = world
    bad = make_rows("2021-01", "2021-06")
    bad.loc[17, "y_saifi"] = -1.0
    bad_dir = tmp_path / "bad"
    write_export(bad, bad_dir)
    before = _dump(store)
    with pytest.raises(ValidationError, match=r"new files were rejected.*fake_rows.csv:19:y_saifi"):
        retrain(store, [bad_dir], **_kw())
    assert _dump(store) == before
    assert len(fake_dataset(store).frame) == 80 * 24  # nothing ingested
    assert Registry(store).champion()["version"] == v1


def test_file_from_already_ingested_period_is_rejected(world, tmp_path):
    store, _, new_dir = world
    con = duckdb.connect(str(store))
    con.execute("INSERT INTO interrupciones (evento, equipo_ope, inicio, fin, cnt_usus) VALUES "
                "(1, 'T001', TIMESTAMP '2020-05-03 10:00', TIMESTAMP '2020-05-03 11:00', 10)")
    con.close()
    (new_dir / "interrupciones.csv").write_text(
        "evento,equipo_ope,inicio,fin,cnt_usus\n7,T002,2020-05-09 08:00:00,2020-05-09 09:00:00,5\n"
        "8,T002,2021-02-09 08:00:00,2021-02-09 09:00:00,5\n")
    called = []
    before = _dump(store)
    with pytest.raises(ValidationError, match=r"interrupciones.csv: table interrupciones has rows for period\(s\) "
                                              r"2020-05 that are already in the store \(1 rows\)"):
        retrain(store, [new_dir], ingest_fn=lambda *a: called.append(a), dataset_fn=fake_dataset)
    assert called == [] and _dump(store) == before


def test_corrupted_champion_stops_before_ingest(world):
    store, v1, new_dir = world
    reg = Registry(store)
    f = reg.root / v1 / "booster.json"
    f.write_bytes(f.read_bytes()[:-10])
    with pytest.raises(GridcritError, match=r"booster\.json of v0001 is corrupted"):
        retrain(store, [new_dir], **_kw())
    assert len(fake_dataset(store).frame) == 80 * 24


def test_no_new_periods_is_a_clear_error(world):
    store, _, _ = world
    with pytest.raises(ValidationError, match="trained up to 2020-12; the store has 0 later"):
        retrain(store, None, **_kw())


def test_failure_during_registration_leaves_registry_unchanged(world, monkeypatch):
    store, v1, new_dir = world
    before = _dump(store)

    def boom(*a, **k):
        raise RuntimeError("crash while promoting")

    monkeypatch.setattr(Registry, "_promote", boom)
    with pytest.raises(RuntimeError):
        retrain(store, [new_dir], margin=0.0, **_kw())
    monkeypatch.undo()
    assert _dump(store) == before
    assert sorted(p.name for p in Registry(store).root.iterdir()) == [v1]
    # data were ingested; a rerun with the same files goes on (identical files are no-ops)
    r = retrain(store, [new_dir], margin=0.0, **_kw())
    assert r.promoted


@pytest.mark.slow
def test_tabnet_champion_finetunes_through_the_registry(tmp_path):
    from gridcrit.models.zoo import make_model

    store = tmp_path / "g.duckdb"
    fake_ingest([write_export(make_rows("2019-01", "2020-12"), tmp_path / "base")], store)
    model = make_model("tabnet", task="regression", max_epochs=20, batch_size=256, n_d=8, n_a=8, n_steps=2,
                       virtual_batch_size=64)
    v1 = train_and_register(store, model, name="tabnet", task="regression", target="saifi", dataset_fn=fake_dataset)
    write_export(make_rows("2021-01", "2021-06", w_veg=2.0, veg_shift=0.5), tmp_path / "new")
    r = retrain(store, [tmp_path / "new"], margin=0.0, rounds=10, **_kw())
    assert "warm-started the champion's TabNet weights" in r.how
    reg = Registry(store)
    assert reg.show(r.challenger)["parent_version"] == v1
    X = fake_dataset(store).frame[["veg", "age", "frailty", "lightning"]]
    a, b = reg.load(v1).model.predict(X), reg.load(r.challenger).model.predict(X)
    assert not np.allclose(a, b)
    np.testing.assert_allclose(reg.load(r.challenger).model.predict(X), b)  # reloads identically


def test_decision_is_worded_by_direction(world):
    """improvement > 0 means better whatever the metric's direction; the text says improved/worsened
    and shows both values with which direction is better."""
    import dataclasses

    store, _, new_dir = world
    r = retrain(store, [new_dir], margin=100.0, **_kw())
    rmse_a, rmse_b = r.metrics["champion"]["rmse"], r.metrics["challenger"]["rmse"]
    assert (r.improvement > 0) == (rmse_b < rmse_a)
    down = dataclasses.replace(r, improvement=0.003, metrics={"champion": {**r.metrics["champion"], "rmse": 0.4199},
                                                             "challenger": {**r.metrics["challenger"], "rmse": 0.4187}})
    es, en = " ".join(summary_text(down, "es").split()), " ".join(summary_text(down, "en").split())
    assert "rmse mejoró un 0.3% (0.4199 → 0.4187; mejor cuanto más bajo)" in es
    assert "rmse improved by 0.3% (0.4199 → 0.4187; lower is better)" in en
    up = dataclasses.replace(down, improvement=-0.02)
    assert "rmse empeoró un 2.0%" in summary_text(up, "es") and "worsened by 2.0%" in summary_text(up, "en")
    # no English in the Spanish summary: drift line, rollback hint
    assert "features drifted" not in es and "nothing to roll back" not in es and "Deriva:" in es


def test_eval_periods_zero_is_rejected(world):
    store, _, new_dir = world
    with pytest.raises(ValidationError, match="eval_periods must be >= 1"):
        retrain(store, [new_dir], eval_periods=0, **_kw())


def test_time_counters_are_not_drift():
    import pandas as pd

    from gridcrit.registry.drift import drift_report, is_time_counter

    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"hist_periods_observed": np.arange(1000) % 24, "hist_saifi_total": np.arange(1000) / 10,
                        "veg": rng.normal(0, 1, 1000)})
    new = pd.DataFrame({"hist_periods_observed": 24 + np.arange(300) % 6, "hist_saifi_total": 100 + np.arange(300),
                        "veg": rng.normal(1.0, 1, 300)})
    rep = drift_report(ref, new, list(ref.columns))
    assert is_time_counter("hist_cause_animals_total") and not is_time_counter("hist_saifi_last_12m")
    assert rep.drifted == ["veg"] and rep.features[0]["feature"] == "veg"
    assert "hist_periods_observed" not in rep.summary() and rep.summary().startswith("1 of 3 features drifted")
    assert rep.summary(lang="es").startswith("1 de 3 variables con deriva")


def test_every_retrain_step_has_a_spanish_label():
    # the progress bar follows --lang; a step added without a Spanish label would show English
    import inspect
    import re

    from gridcrit.registry import retrain as retrain_module

    names = set(re.findall(r'\bstep\("([^"]+)"\)', inspect.getsource(retrain_module.retrain)))
    assert len(names) >= 8 and names <= set(retrain_module._STEP_ES), names - set(retrain_module._STEP_ES)
