"""gridcrit explain on a store whose registry has champions in several slots."""

from __future__ import annotations

import json

import pytest

from _registry_fakes import fake_dataset, fake_ingest, make_rows, write_export
from gridcrit.cli import run
from gridcrit.registry.native import NativeGBDT
from gridcrit.registry.retrain import train_and_register


@pytest.fixture()
def store(tmp_path, monkeypatch):
    import gridcrit.cli.explain as cli_explain

    s = tmp_path / "g.duckdb"
    fake_ingest([write_export(make_rows("2019-01", "2019-12"), tmp_path / "base")], s)
    monkeypatch.setattr(cli_explain, "DATASET_FN", fake_dataset)
    vs = [train_and_register(s, NativeGBDT(n_estimators=20, max_depth=3), name="xgboost", task="regression",
                             target="saifi", level=level, dataset_fn=fake_dataset)
          for level in ("transformer", "switch")]
    return s, vs


def test_champion_of_a_named_slot(store, capsys):
    s, (v_tr, v_sw) = store
    assert run(["explain", "--model", "champion", "--slot", "switch/month/saifi", "--global", "--store", str(s),
                "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == v_sw
    assert run(["explain", "--model", "champion", "--slot", "transformer/month/saifi", "--asset", "T003",
                "--period", "2019-05", "--store", str(s), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == v_tr


def test_champion_without_slot_names_the_option(store, capsys):
    s, _ = store
    assert run(["explain", "--model", "champion", "--global", "--store", str(s), "--lang", "en"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--slot" in err
