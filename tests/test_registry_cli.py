"""CLI: gridcrit models ..., gridcrit retrain, gridcrit predict (with small stand-in data stages)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import gridcrit.registry.predict as predict_mod
import gridcrit.registry.retrain as retrain_mod
from _registry_fakes import fake_dataset, fake_ingest, make_rows, write_export
from gridcrit.cli import run
from gridcrit.registry.native import NativeGBDT
from gridcrit.registry.predict import predict
from gridcrit.registry.registry import Registry
from gridcrit.registry.retrain import train_and_register


@pytest.fixture()
def world(tmp_path, monkeypatch):
    monkeypatch.setattr(retrain_mod, "_default_ingest", fake_ingest)
    monkeypatch.setattr(retrain_mod, "default_dataset", lambda store, level, period, risk_fit_until=None:
                        fake_dataset(store))
    monkeypatch.setattr(predict_mod, "default_dataset", fake_dataset)
    store = tmp_path / "g.duckdb"
    fake_ingest([write_export(make_rows("2019-01", "2020-12"), tmp_path / "base")], store)
    v = train_and_register(store, NativeGBDT(n_estimators=60, max_depth=4), name="xgboost", task="regression",
                           target="saifi", dataset_fn=fake_dataset)
    new_dir = tmp_path / "new"
    write_export(make_rows("2021-01", "2021-06", w_veg=2.0, veg_shift=0.5), new_dir)
    return store, v, new_dir


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_models_list_show_json_and_table(world, capsys):
    store, v, _ = world
    assert run(["models", "list", "--store", str(store), "--json"]) == 0
    rows = _json(capsys)
    assert [r["version"] for r in rows] == [v] and rows[0]["status"] == "champion"
    assert run(["models", "list", "--store", str(store)]) == 0
    assert v in capsys.readouterr().out
    assert run(["models", "show", "champion", "--store", str(store), "--json"]) == 0
    meta = _json(capsys)
    assert meta["version"] == v and meta["events"][0]["action"] == "register"
    assert run(["models", "show", "v0099", "--store", str(store)]) == 3
    assert "v0099" in capsys.readouterr().err


def test_retrain_predict_rollback_cycle(world, capsys, tmp_path):
    store, v1, new_dir = world
    fake_ingest(sorted(new_dir.iterdir()), store)  # loaded earlier; retrain accepts the same files again
    assert run(["predict", "--store", str(store), "--period", "2021-06", "--json"]) == 0
    before = _json(capsys)
    assert before["models"] == {"saifi": v1} and before["rows"] == 80
    top = before["assets"][0]
    assert top["rank"] == 1 and top["pred_saifi"] >= before["assets"][1]["pred_saifi"]
    assert top["drivers"]  # tree contributions

    assert run(["retrain", "--data", str(new_dir), "--store", str(store), "--margin", "0.02", "--json"]) == 0
    r = _json(capsys)
    assert r["promoted"] and r["challenger"] == "v0002" and r["drift"]["drifted"][0] == "veg"

    assert run(["retrain", "--data", str(new_dir), "--store", str(store), "--base", v1, "--mode", "scratch",
                "--margin", "100", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "champion v0002 stays" in " ".join(out.split()) and "Roll back" in out

    csv = tmp_path / "p.csv"
    assert run(["predict", "--store", str(store), "--period", "2021-06", "--out", str(csv)]) == 0
    assert "p.csv" in capsys.readouterr().out
    df = pd.read_csv(csv)
    assert len(df) == 80 and list(df["rank"]) == list(range(1, 81))

    assert run(["models", "rollback", "--store", str(store), "--json"]) == 0
    assert _json(capsys)["champion"] == v1
    assert run(["predict", "--store", str(store), "--period", "2021-06", "--json"]) == 0
    after = _json(capsys)
    assert after["assets"] == before["assets"]  # identical predictions and drivers again

    assert run(["models", "delete", "v0003", "--store", str(store), "--json"]) == 0
    assert run(["models", "delete", v1, "--store", str(store)]) == 1
    assert "es el campeón" in capsys.readouterr().err
    assert run(["models", "delete", v1, "--store", str(store), "--lang", "en"]) == 1
    assert "is the champion" in capsys.readouterr().err


def test_cli_errors_are_one_line(world, capsys, tmp_path):
    store, v1, _ = world
    bad = make_rows("2021-01", "2021-03")
    bad.loc[5, "y_saifi"] = -2
    write_export(bad, tmp_path / "bad")
    assert run(["retrain", "--data", str(tmp_path / "bad"), "--store", str(store), "--lang", "en"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("gridcrit: error: retrain stopped") and "fake_rows.csv:7:y_saifi" in err[-1]
    assert run(["predict", "--store", str(store), "--period", "1990-01", "--lang", "en"]) == 3
    assert "not in the dataset (2019-01..2020-12)" in capsys.readouterr().err
    assert run(["retrain", "--store", str(store), "--mode", "magic"]) == 2
    assert Registry(store).champion()["version"] == v1


def test_corrupted_champion_cli(world, capsys):
    store, v1, new_dir = world
    assert run(["retrain", "--data", str(new_dir), "--store", str(store), "--margin", "0"]) == 0
    capsys.readouterr()
    reg = Registry(store)
    f = reg.root / "v0002" / "booster.json"
    f.write_bytes(f.read_bytes().replace(b"1", b"7", 3))
    assert run(["models", "verify", "--store", str(store)]) == 4
    assert "corrupted" in capsys.readouterr().err
    assert run(["predict", "--store", str(store), "--json"]) == 0
    res = capsys.readouterr()
    assert json.loads(res.out)["models"] == {"saifi": v1}
    assert "serving previous champion v0001" in res.err.replace("\n", " ")


def test_predict_api_ranks_and_explains(world):
    store, v1, _ = world
    res = predict(store, period="2020-12", dataset_fn=fake_dataset)
    f = res.frame
    assert f["pred_saifi"].is_monotonic_decreasing
    assert res.drivers_method["saifi"] == "tree SHAP contributions"
    # contributions + bias reproduce the prediction (xgboost pred_contribs is exact)
    model = Registry(store).load(v1).model
    ds = fake_dataset(store)
    X = ds.frame[ds.frame["period"] == "2020-12"][ds.feature_columns]
    c = model.contributions(X)
    np.testing.assert_allclose(np.sort(c.sum(axis=1))[::-1] - np.sort(model.predict(X))[::-1],
                               np.full(len(X), (c.sum(axis=1) - model.predict(X))[0]), atol=1e-4)
    assert "actual_saifi" in f.columns


def test_predict_top_limits_json_and_rejects_negatives(world, capsys):
    store, _, _ = world
    assert run(["predict", "--store", str(store), "--top", "2", "--json"]) == 0
    r = _json(capsys)
    assert len(r["assets"]) == 2 and r["rows"] == 80  # --top applies to JSON; "rows" keeps the total
    assert run(["predict", "--store", str(store), "--top", "0", "--json"]) == 0
    assert len(_json(capsys)["assets"]) == 80  # 0: all
    assert run(["predict", "--store", str(store), "--top", "-2"]) == 2
    assert "--top" in capsys.readouterr().err
    assert run(["retrain", "--store", str(store), "--eval-periods", "0"]) == 2
    assert "--eval-periods" in capsys.readouterr().err


def test_retrain_with_nothing_new_registers_nothing(world, capsys):
    store, v1, new_dir = world
    assert run(["retrain", "--data", str(new_dir), "--store", str(store), "--margin", "100", "--json"]) == 0
    first = _json(capsys)
    assert first["challenger"] == "v0002" and not first["nothing_new"]
    # the same files again (+0 rows): nothing trained, nothing registered, the earlier challenger named
    assert run(["retrain", "--data", str(new_dir), "--store", str(store), "--margin", "100"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Nada nuevo" in out and "v0002" in out and "--again" in out
    assert [m["version"] for m in Registry(store).list()] == [v1, "v0002"]
    assert run(["retrain", "--store", str(store), "--margin", "100", "--json"]) == 0  # no files: same
    assert _json(capsys)["nothing_new"] == "v0002"
    assert run(["retrain", "--store", str(store), "--margin", "100", "--again", "--json"]) == 0
    assert _json(capsys)["challenger"] == "v0003"
    # other options: a different retrain, so it trains
    assert run(["retrain", "--store", str(store), "--margin", "100", "--replay", "3", "--json"]) == 0
    assert _json(capsys)["challenger"] == "v0004"


def test_retrain_errors_have_no_blank_line_before_them(world, capsys, tmp_path):
    store, _, _ = world
    assert run(["retrain", "--data", str(tmp_path / "nope"), "--store", str(store)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("gridcrit: error: ") and err.count("\n") == 1


def test_models_list_of_an_empty_slot_names_the_existing_ones(world, capsys):
    store, _, _ = world
    assert run(["models", "list", "--store", str(store), "--slot", "foo", "--lang", "en"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "No models in foo" in out and "transformer/month/saifi" in out


def test_a_malformed_slot_names_the_form_and_the_slots(world, capsys):
    store, _, _ = world
    assert run(["predict", "--store", str(store), "--slot", "nonsense", "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert "level/period/target" in err and "transformer/month/saifi" in err and err.count("\n") == 1


def test_models_list_shows_each_metrics_evaluation_window(world, capsys):
    # versions scored on different hold-out windows are not comparable: the table says which window
    import re

    from gridcrit.cli.registry import _primary
    from gridcrit.registry.registry import Registry

    store, _, _ = world
    cells = [_primary(m) for m in Registry(store).list()]
    assert cells and all(re.fullmatch(r"\w+ [\d.e+-]+ \(\d{4}-\d{2}(\.\.[\d-]+)?\)", c) for c in cells), cells
    assert run(["models", "list", "--store", str(store)]) == 0 and "(20" in capsys.readouterr().out


def test_models_list_fits_80_columns_without_breaking_words(world, capsys, monkeypatch):
    """At 80 columns the table broke 'candidat|e', '2026-12|-07' and the metric's digits over lines, with
    a 25-character slot column repeated on every row. What all rows share now goes in the title."""
    store, _, _ = world
    train_and_register(store, NativeGBDT(n_estimators=30, max_depth=3), name="xgboost", task="regression",
                       target="saifi", dataset_fn=fake_dataset)
    monkeypatch.setenv("COLUMNS", "80")
    assert run(["models", "list", "--store", str(store), "--lang", "es"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "campeón" in out and "versión" in out and "champion" not in out
    slot = Registry(store).list()[0]["slot"]
    assert slot in lines[0] and sum(slot in line for line in lines) == 1  # once, in the title
    created = str(Registry(store).list()[0]["created_at"])[:10]
    assert sum(created in line for line in lines) == 2  # whole on each version's line


def test_models_of_several_slots_list_one_table_per_slot(world, capsys, monkeypatch):
    """With two slots the table had a slot column folded to six letters a line ('transf|ormer/|month/')."""
    store, _, _ = world
    train_and_register(store, NativeGBDT(library="lightgbm", task="classification", n_estimators=20),
                       name="lightgbm", task="classification", target="risk", dataset_fn=fake_dataset)
    monkeypatch.setenv("COLUMNS", "80")
    assert run(["models", "list", "--store", str(store), "--lang", "en"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    for slot in ("transformer/month/saifi", "transformer/month/risk"):
        assert sum(slot in line for line in lines) == 1  # whole, in its table's title


def test_a_slot_without_models_says_what_to_train(world, capsys):
    store, _, _ = world
    assert run(["predict", "--store", str(store), "--slot", "circuit/month/saifi", "--lang", "en"]) == 3
    err = capsys.readouterr().err
    assert "has no models" in err and "gridcrit train --level circuit --period month --target saifi" in err
    assert "promote" not in err and "transformer/month/saifi" in err


def test_a_quarter_asked_of_a_monthly_model_names_the_form(world, capsys):
    """The labels were compared as text: '2021-Q1' > '2021-06', so the answer was 'beyond the data'."""
    store, v, _ = world
    assert run(["predict", "--store", str(store), "--model", v, "--period", "2021-Q1", "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert "ranks months" in err and "YYYY-MM" in err and "beyond" not in err
