"""gridcrit models verify: a corrupted version is reported as such, never as intact."""

from __future__ import annotations

import json

from _registry_fakes import fake_dataset, fake_ingest, make_rows, write_export
from gridcrit.cli import run
from gridcrit.registry.native import NativeGBDT
from gridcrit.registry.registry import Registry
from gridcrit.registry.retrain import train_and_register


def test_verify_corrupted_and_intact(tmp_path, capsys):
    store = tmp_path / "g.duckdb"
    fake_ingest([write_export(make_rows("2019-01", "2019-12"), tmp_path / "base")], store)
    v = train_and_register(store, NativeGBDT(n_estimators=10, max_depth=2), name="xgboost", task="regression",
                           target="saifi", dataset_fn=fake_dataset)
    assert run(["models", "verify", v, "--store", str(store)]) == 0
    assert "intact" in capsys.readouterr().out
    f = Registry(store).root / v / "model.json"
    f.write_text(f.read_text() + " ")
    assert run(["models", "verify", v, "--store", str(store)]) == 4
    res = capsys.readouterr()
    assert "intact" not in res.out and "corrupted" in res.err and len(res.err.strip().splitlines()) == 1
    assert run(["models", "verify", v, "--store", str(store), "--json"]) == 4
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and "model.json" in out["problems"][0]
