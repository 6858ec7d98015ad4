"""gridcrit predict for people: readable on an 80-column terminal, risk classes by name."""

from __future__ import annotations

import pandas as pd

import gridcrit.registry.predict as predict_mod
from _registry_fakes import fake_dataset, fake_ingest, make_rows, write_export
from gridcrit.cli import run
from gridcrit.cli.registry import _display_frame
from gridcrit.registry.native import NativeGBDT
from gridcrit.registry.retrain import train_and_register


def test_drivers_under_the_table_on_a_narrow_terminal(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(predict_mod, "default_dataset", fake_dataset)
    store = tmp_path / "g.duckdb"
    fake_ingest([write_export(make_rows("2019-01", "2019-12"), tmp_path / "base")], store)
    train_and_register(store, NativeGBDT(n_estimators=20, max_depth=3), name="xgboost", task="regression",
                       target="saifi", dataset_fn=fake_dataset)
    assert run(["predict", "--store", str(store), "--period", "2019-12", "--top", "3", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if line.startswith("┃") and "rank" in line)
    assert "drivers" not in header and "asset_id" in header
    assert "Main drivers" in out
    listed = [line for line in lines if line.startswith("  1. T")]
    assert listed and "(+" in listed[0]  # rank 1's drivers, with their contributions


def test_risk_codes_are_shown_by_name():
    df = pd.DataFrame({"rank": [1, 2, 3], "pred_risk": [3, 0, 1], "actual_risk": [2.0, float("nan"), 0.0]})
    shown = _display_frame(df)
    assert list(shown["pred_risk"]) == ["Muy Alto", "Bajo", "Medio"]
    assert list(shown["actual_risk"]) == ["Alto", "-", "Bajo"]
    assert list(df["pred_risk"]) == [3, 0, 1]  # the data themselves are untouched
