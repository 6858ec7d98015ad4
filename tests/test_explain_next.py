"""gridcrit explain --period next: why an asset is forecast critical for the period after the data."""

from __future__ import annotations

import json

import pytest

from _registry_fakes import fake_dataset, fake_ingest, make_rows, write_export
from gridcrit.cli import run
from gridcrit.registry.native import NativeGBDT
from gridcrit.registry.predict import predict
from gridcrit.registry.retrain import train_and_register


@pytest.fixture()
def store(tmp_path, monkeypatch):
    import gridcrit.cli.explain as cli_explain

    s = tmp_path / "g.duckdb"
    fake_ingest([write_export(make_rows("2019-01", "2019-12"), tmp_path / "base")], s)
    monkeypatch.setattr(cli_explain, "DATASET_FN", fake_dataset)
    v = train_and_register(s, NativeGBDT(n_estimators=20, max_depth=3), name="xgboost", task="regression",
                           target="saifi", dataset_fn=fake_dataset)
    return s, v


def test_explain_the_forecast(store, capsys):
    s, v = store
    assert run(["explain", "--model", v, "--period", "next", "--asset", "T003", "--store", str(s), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["local"]["text"].startswith("T003 2020-01:")
    forecast = predict(s, v, "next", dataset_fn=fake_dataset).frame.set_index("asset_id")
    assert res["local"]["prediction"] == pytest.approx(float(forecast.loc["T003", "pred_saifi"]), rel=1e-6)
    assert run(["explain", "--model", v, "--period", "2020-01", "--global", "--store", str(s), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 80  # the forecast period asked by its label
    assert run(["explain", "--model", v, "--period", "2020-03", "--store", str(s), "--lang", "en"]) == 2
    assert "only the next period" in capsys.readouterr().err


def test_report_of_an_asset_charts_that_asset(store, tmp_path, capsys):
    """--asset without --period explains the asset's latest row; the report's chart is of that row,
    not of whichever of its periods has the highest prediction."""
    s, v = store
    out = tmp_path / "rep"
    assert run(["explain", "--model", v, "--asset", "T011", "--store", str(s), "--out", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["local"]["text"].startswith("T011 2019-12:")
    assert "T011 2019-12" in (out / "charts" / "asset.html").read_text(encoding="utf-8")
