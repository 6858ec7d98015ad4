"""gridcrit explain of a risk-class model names the classes (Bajo … Muy Alto), not their codes."""

from __future__ import annotations

import json

from _registry_fakes import FakeDataset, fake_dataset, fake_ingest, make_rows, write_export
from gridcrit.cli import run
from gridcrit.features.targets import RISK_LABELS
from gridcrit.registry.native import NativeGBDT
from gridcrit.registry.retrain import train_and_register


def test_risk_classes_by_name(tmp_path, monkeypatch, capsys):
    import gridcrit.cli.explain as cli_explain

    s = tmp_path / "g.duckdb"
    fake_ingest([write_export(make_rows("2019-01", "2019-12"), tmp_path / "base")], s)
    monkeypatch.setattr(cli_explain, "DATASET_FN", fake_dataset)
    ds = fake_dataset(s)
    codes = ds.frame.assign(y_risk=ds.frame["y_risk"].map({"Bajo": 0, "Medio": 1, "Alto": 2}))  # as stored
    v = train_and_register(s, NativeGBDT(task="classification", n_estimators=20, max_depth=3), name="xgboost",
                           task="classification", target="risk",
                           dataset=FakeDataset(codes, ds.feature_columns, ds.target_columns))
    assert run(["explain", "--model", v, "--asset", "T005", "--period", "2019-07", "--store", str(s), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["per_class"] and set(res["per_class"]) <= set(RISK_LABELS)
    pred = res["local"]["text"].split("Predicción ", 1)[1].split(" ", 1)[0]
    assert pred in RISK_LABELS
