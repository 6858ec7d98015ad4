"""gridcrit retrain failures: every rejected row listed (not only the first), Spanish by default."""

from __future__ import annotations

import pytest

import gridcrit.registry.retrain as retrain_mod
from _registry_fakes import fake_dataset, fake_ingest, make_rows, write_export
from gridcrit.cli import run
from gridcrit.registry.native import NativeGBDT
from gridcrit.registry.registry import Registry
from gridcrit.registry.retrain import train_and_register


@pytest.fixture()
def world(tmp_path, monkeypatch):
    monkeypatch.setattr(retrain_mod, "_default_ingest", fake_ingest)
    monkeypatch.setattr(retrain_mod, "default_dataset", lambda store, level, period, risk_fit_until=None:
                        fake_dataset(store))
    store = tmp_path / "g.duckdb"
    fake_ingest([write_export(make_rows("2019-01", "2020-12"), tmp_path / "base")], store)
    v = train_and_register(store, NativeGBDT(n_estimators=20, max_depth=3), name="xgboost", task="regression",
                           target="saifi", dataset_fn=fake_dataset)
    return store, v


def test_rejected_rows_are_all_listed(world, tmp_path, capsys):
    store, v = world
    bad = make_rows("2021-01", "2021-03")
    bad.loc[[5, 9, 40], "y_saifi"] = -2
    write_export(bad, tmp_path / "bad")
    assert run(["retrain", "--data", str(tmp_path / "bad"), "--store", str(store), "--lang", "en"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("gridcrit: error: retrain stopped") and "fake_rows.csv:7:y_saifi" in err[-1]
    assert any("fake_rows.csv:11:y_saifi" in line for line in err[:-1])
    assert any("fake_rows.csv:42:y_saifi" in line for line in err[:-1])
    assert run(["retrain", "--data", str(tmp_path / "bad"), "--store", str(store)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        "gridcrit: error: reentrenamiento detenido: los archivos nuevos fueron rechazados")
    assert Registry(store).champion()["version"] == v


def test_old_periods_are_rejected_in_spanish(world, tmp_path, capsys):
    import duckdb

    store, _ = world
    con = duckdb.connect(str(store))
    con.execute("INSERT INTO interrupciones (evento, equipo_ope, inicio, fin, cnt_usus) VALUES "
                "(1, 'T001', TIMESTAMP '2020-05-03 10:00', TIMESTAMP '2020-05-03 11:00', 10)")
    con.close()
    (tmp_path / "overlap").mkdir()
    (tmp_path / "overlap" / "interrupciones.csv").write_text(
        "evento,equipo_ope,inicio,fin,cnt_usus\n7,T002,2020-05-09 08:00:00,2020-05-09 09:00:00,5\n")
    assert run(["retrain", "--data", str(tmp_path / "overlap"), "--store", str(store)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("gridcrit: error: reentrenamiento detenido antes de cambiar nada")
    assert "ya están en el almacén" in err[-1] and "already" not in err[-1]
    assert run(["models", "rollback", "--store", str(store)]) == 1
    assert "no tiene un campeón anterior" in capsys.readouterr().err


def test_too_few_new_periods_in_spanish(world, tmp_path, capsys):
    store, _ = world
    write_export(make_rows("2021-01", "2021-01"), tmp_path / "one")
    assert run(["retrain", "--data", str(tmp_path / "one"), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "se necesitan al menos 2" in err
