"""End to end across stages: a model trained with `gridcrit train` is served by `gridcrit predict`."""

from __future__ import annotations

import json
import shutil

from gridcrit.cli import run


def test_train_then_predict_on_the_twin(tiny_store, tmp_path, capsys):
    store = tmp_path / "s.duckdb"
    shutil.copy(tiny_store, store)
    rc = run(["train", "--model", "lightgbm", "--target", "count", "--level", "switch", "--store", str(store),
              "--param", "n_estimators=30", "--test-periods", "3", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    version = json.loads(out.out)["version"]

    assert run(["models", "show", version, "--store", str(store), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    text = json.dumps(shown)
    assert '"columns"' in text and '"periods"' in text  # schema and fingerprint in the registry's own format

    rc = run(["predict", "--model", version, "--store", str(store), "--top", "5", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    pred = json.loads(out.out)
    assert pred["models"] == {"count": version}
    scores = [a["pred_count"] for a in pred["assets"]]
    assert scores and scores == sorted(scores, reverse=True)
    assert all(a["drivers"] for a in pred["assets"])


def test_first_trained_model_of_a_slot_is_champion(tiny_store, tmp_path, capsys):
    store = tmp_path / "s.duckdb"
    shutil.copy(tiny_store, store)
    args = ["train", "--model", "lightgbm", "--target", "count", "--level", "switch", "--store", str(store),
            "--param", "n_estimators=20", "--test-periods", "3", "--json"]
    assert run(args) == 0
    first = json.loads(capsys.readouterr().out)["version"]
    assert run(args) == 0
    second = json.loads(capsys.readouterr().out)["version"]
    assert run(["models", "list", "--store", str(store), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    rows = listing["models"] if isinstance(listing, dict) else listing
    status = {r["version"]: r["status"] for r in rows}
    assert status[first] == "champion" and status[second] == "candidate"
    assert run(["predict", "--model", "champion", "--store", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["models"] == {"count": first}


def test_explain_against_the_twins_truth(tiny_store, tiny_twin, tmp_path, capsys):
    """`gridcrit explain --twin` scores a trained model's SHAP against truth.json, on all and on the
    critical (top predicted) asset-periods."""
    store = tmp_path / "s.duckdb"
    shutil.copy(tiny_store, store)
    assert run(["train", "--model", "xgboost", "--target", "count", "--level", "transformer", "--store", str(store),
                "--param", "n_estimators=30", "--test-periods", "3", "--json"]) == 0
    version = json.loads(capsys.readouterr().out)["version"]
    rc = run(["explain", "--model", version, "--global", "--twin", str(tiny_twin), "--store", str(store), "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    truth = json.loads(out.out)["truth"]
    assert truth["topk"]["n_asset_periods"] > 0 and 0.0 <= truth["topk"]["topk_hit_rate"] <= 1.0
    assert 0 < truth["topk_critical"]["n_asset_periods"] <= truth["topk"]["n_asset_periods"]
