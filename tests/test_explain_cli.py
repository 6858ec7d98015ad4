"""gridcrit explain: global / asset / period views, report files, and clear errors."""

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
    v = train_and_register(s, NativeGBDT(n_estimators=30, max_depth=3), name="xgboost", task="regression",
                           target="saifi", dataset_fn=fake_dataset)
    return s, v


def test_global_json(store, capsys):
    s, v = store
    assert run(["explain", "--model", v, "--global", "--store", str(s), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["version"] == v and res["method"] == "treeshap" and res["rows"] == 80 * 12
    assert res["global"][0]["feature"] == "veg"  # the twin-like fake's main driver
    assert abs(sum(g["importance"] for g in res["global"]) - 1.0) < 1e-6


def test_asset_local_spanish_and_english(store, capsys):
    s, v = store
    assert run(["explain", "--model", v, "--asset", "T007", "--period", "2019-06", "--store", str(s), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["local"]["text"].startswith("T007 2019-06: Predicción ")
    assert "Principales factores (treeshap):" in res["local"]["text"]
    # the prediction is stated and base + contributions add up to it (a regression model)
    loc = res["local"]
    assert loc["sum"] == pytest.approx(loc["prediction"], rel=1e-4, abs=1e-6)
    assert f"{loc['prediction']:.4g}" in loc["text"] and "valor base" in loc["text"]
    assert len(res["local"]["drivers"]) == 4 and res["local"]["drivers"][0]["value"] is not None
    assert run(["explain", "--model", v, "--asset", "T007", "--lang", "en", "--store", str(s)]) == 0
    assert "Main drivers" in capsys.readouterr().out


def test_summary_lines_follow_lang(store, capsys):
    s, v = store
    assert run(["explain", "--model", v, "--global", "--store", str(s)]) == 0
    assert f"{80 * 12} filas" in capsys.readouterr().out
    assert run(["explain", "--model", v, "--global", "--lang", "en", "--store", str(s)]) == 0
    assert f"{80 * 12} rows" in capsys.readouterr().out


def test_report_files(store, tmp_path, capsys):
    s, v = store
    out = tmp_path / "rep"
    assert run(["explain", "--model", v, "--period", "2019-12", "--store", str(s), "--out", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Importancia global" in page and "permutation" in page
    for stem in ("global", "agreement", "heatmap", "asset"):
        assert (out / "charts" / f"{stem}.png").stat().st_size > 1000
        assert (out / "charts" / f"{stem}.html").exists()
    assert res["agreement"]["methods"] == ["treeshap", "permutation"]


def test_missing_asset_version_and_period_are_one_line_errors(store, capsys):
    s, v = store
    assert run(["explain", "--model", v, "--asset", "NOPE", "--store", str(s), "--lang", "en"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "asset 'NOPE' is not in the dataset" in err
    assert run(["explain", "--model", v, "--asset", "NOPE", "--store", str(s)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "el activo 'NOPE' no está en el conjunto de datos" in err
    assert run(["explain", "--model", "v9999", "--global", "--store", str(s), "--lang", "en"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model version 'v9999' not found" in err
    assert run(["explain", "--model", v, "--period", "2031-01", "--store", str(s), "--lang", "en"]) == 2
    err = capsys.readouterr().err  # beyond the data: only the next period can be forecast (as predict says)
    assert err.count("\n") == 1 and "period '2031-01' is beyond the data" in err
    assert run(["explain", "--model", v, "--period", "1990-01", "--store", str(s), "--lang", "en"]) == 3
    assert "period '1990-01' not in the dataset" in capsys.readouterr().err
    assert run(["explain", "--model", v, "--global", "--store", str(s / "nope.duckdb")]) == 3


def test_report_compares_with_another_versions_shap(store, tmp_path, capsys):
    s, v = store
    from _registry_fakes import fake_dataset as fd

    v2 = train_and_register(s, NativeGBDT(library="lightgbm", n_estimators=20), name="lightgbm", task="regression",
                            target="saifi", dataset_fn=fd, promote=False)
    out = tmp_path / "cmp"
    assert run(["explain", "--model", v, "--period", "2019-12", "--compare", v2, "--store", str(s), "--out", str(out),
                "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert f"treeshap {v2}" in res["agreement"]["methods"]
    assert f"treeshap vs treeshap {v2}" in (out / "report.html").read_text(encoding="utf-8")


def test_tabnet_integrated_gradients_from_the_cli(store, tmp_path, capsys):
    """A registered TabNet: --method ig explains it with integrated gradients; its report puts IG beside the masks."""
    from _registry_fakes import fake_dataset as fd
    from gridcrit.models.zoo import make_model

    s, _ = store
    tn = make_model("tabnet", task="regression", max_epochs=30, batch_size=256, n_d=8, n_a=8, n_steps=2,
                    random_state=0)
    v = train_and_register(s, tn, name="tabnet", task="regression", target="saifi", dataset_fn=fd, promote=False)
    assert run(["explain", "--model", v, "--global", "--method", "ig", "--store", str(s), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["method"] == "ig" and res["global"][0]["feature"] == "veg"
    out = tmp_path / "tn"
    assert run(["explain", "--model", v, "--period", "2019-12", "--store", str(s), "--out", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["method"] == "tabnet" and "ig" in res["agreement"]["methods"]
