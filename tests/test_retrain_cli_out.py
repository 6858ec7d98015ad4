"""gridcrit retrain --out: the report (summary in the reader's language + drift files) in a folder."""

from __future__ import annotations

import json

import gridcrit.registry.retrain as retrain_mod
from _registry_fakes import fake_dataset, fake_ingest, make_rows, write_export
from gridcrit.cli import run
from gridcrit.registry.native import NativeGBDT
from gridcrit.registry.retrain import train_and_register


def test_retrain_out_copies_the_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(retrain_mod, "_default_ingest", fake_ingest)
    monkeypatch.setattr(retrain_mod, "default_dataset", lambda store, level, period, risk_fit_until=None:
                        fake_dataset(store))
    store = tmp_path / "g.duckdb"
    fake_ingest([write_export(make_rows("2019-01", "2020-12"), tmp_path / "base")], store)
    train_and_register(store, NativeGBDT(n_estimators=30, max_depth=3), name="xgboost", task="regression",
                       target="saifi", dataset_fn=fake_dataset)
    write_export(make_rows("2021-01", "2021-06"), tmp_path / "new")
    out = tmp_path / "informe"
    assert run(["retrain", "--data", str(tmp_path / "new"), "--store", str(store), "--rounds", "5",
                "--out", str(out)]) == 0
    assert "informe" in capsys.readouterr().out
    for name in ("summary.md", "summary.json", "drift.md", "drift.html", "drift.json", "drift.png"):
        assert (out / name).stat().st_size > 0, name
    assert "Qué cambió en los datos" in (out / "summary.md").read_text(encoding="utf-8")
    # the drift files were English whatever --lang said (the summary beside them Spanish)
    drift_md = (out / "drift.md").read_text(encoding="utf-8")
    assert drift_md.startswith("# Informe de deriva:") and "Variables ordenadas por PSI" in drift_md
    assert "Features ranked" not in drift_md and "| estable |" in drift_md
    assert "<html lang='es'>" in (out / "drift.html").read_text(encoding="utf-8")
    assert json.loads((out / "drift.json").read_text())["features"][0]["level"] in ("stable", "moderate", "major",
                                                                                    "n/a", "time_counter")
    assert json.loads((out / "summary.json").read_text())["challenger"] == "v0002"
