"""Inputs of `gridcrit train/compare`: the dataset's level and period, --param types, count options,
and what `compare` keeps when a model fails or the run is interrupted."""

from __future__ import annotations

import json

import pytest

from gridcrit.cli import run
from gridcrit.errors import ValidationError
from gridcrit.models import compare as C  # noqa: N812
from gridcrit.models.compare import check_model_params, compare_models, synthetic_panel


@pytest.fixture(scope="module")
def panel():
    return synthetic_panel(n_assets=120, n_periods=18, seed=1)


@pytest.fixture(scope="module")
def switch_file(panel, tmp_path_factory):
    """A dataset file built for the *switch* level (its data card says so)."""
    from gridcrit.features.dataset import CriticalityDataset

    frame, feats = panel
    frame = frame.copy()
    frame["veg_risk_code"] = frame.veg_risk.map({"Bajo": 0, "Medio": 1, "Alto": 2}).astype("float32")
    feats = [f for f in feats if f not in ("veg_risk", "circuit")] + ["veg_risk_code"]
    frame = frame.drop(columns=["veg_risk"])
    frame["y_risk"] = frame.y_risk.map({"Bajo": 0, "Medio": 1, "Alto": 2, "Muy Alto": 3}).astype("int8")
    groups = {f: "asset" for f in feats}
    card = {"feature_columns": feats, "feature_groups": groups, "level": "switch", "period": "month"}
    ds = CriticalityDataset(frame=frame, feature_columns=feats, feature_groups=groups, level="switch",
                            period="month", card=card)
    path = tmp_path_factory.mktemp("ds") / "switch_month.parquet"
    ds.to_parquet(path)
    return path


def _err_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("gridcrit: error: "), err
    return lines[0]


# -- 1. level/period from the dataset ------------------------------------------------------------
def test_train_takes_level_and_period_from_the_dataset(switch_file, tmp_path, capsys):
    store = tmp_path / "s.duckdb"
    rc = run(["train", "--model", "lightgbm", "--dataset", str(switch_file), "--target", "count", "--store",
              str(store), "--param", "n_estimators=20", "--test-periods", "3", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    r = json.loads(out.out)
    assert r["slot"] == "switch/month/count"
    assert run(["models", "list", "--store", str(store), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(m["slot"], m["status"]) for m in rows] == [("switch/month/count", "champion")]


@pytest.mark.parametrize("opt", [["--level", "transformer"], ["--period", "quarter"]])
def test_an_option_that_contradicts_the_dataset_is_an_error(switch_file, tmp_path, capsys, opt):
    store = tmp_path / "s.duckdb"
    rc = run(["train", "--model", "lightgbm", "--dataset", str(switch_file), "--target", "count", "--store",
              str(store), *opt, "--lang", "en"])
    line = _err_line(capsys)
    assert rc != 0 and opt[0] in line and opt[1] in line and "contradicts" in line
    assert not store.exists()  # nothing was registered
    # agreeing options are fine (no fit needed to know: compare fails later on --folds, not on the level)
    rc = run(["compare", "--models", "lightgbm", "--dataset", str(switch_file), "--target", "count", "--store",
              str(store), "--level", "switch", "--period", "month", "--folds", "50"])
    assert rc != 0 and "folds" in _err_line(capsys)


# -- 2. --param types ------------------------------------------------------------------------------
def test_param_of_the_wrong_type_fails_in_one_line(switch_file, tmp_path, capsys):
    base = ["--dataset", str(switch_file), "--target", "count", "--store", str(tmp_path / "s.duckdb"), "--lang", "en"]
    assert run(["train", "--model", "lightgbm", "--param", "num_leaves=abc", *base]) == 2
    line = _err_line(capsys)
    assert "num_leaves=abc" in line and "integer" in line and "int" in line
    assert run(["compare", "--models", "lightgbm", "--param", "lightgbm.num_leaves=abc", *base]) == 2
    assert "num_leaves=abc" in _err_line(capsys)
    assert run(["compare", "--models", "lightgbm", "--param", "xgboost.max_depth=3", *base]) == 2
    assert "xgboost" in _err_line(capsys)
    assert run(["train", "--model", "lightgbm", "--param", "num_leaves=abc", *base[:-2]]) == 2
    assert "entero" in _err_line(capsys)  # Spanish by default


def test_train_errors_in_spanish_by_default(switch_file, tmp_path, capsys):
    base = ["--dataset", str(switch_file), "--store", str(tmp_path / "s.duckdb")]
    assert run(["train", "--model", "lightgbm", "--target", "count", "--param", "leaves=3", *base]) == 2
    assert "no tiene el/los parámetro(s) leaves" in _err_line(capsys)
    assert run(["train", "--model", "lightgbm", "--target", "count", "--param", "leaves=3", *base, "--lang", "en"]) == 2
    assert "has no parameter(s) leaves" in _err_line(capsys)
    assert run(["train", "--model", "lightgbm", "--target", "y_nope", *base]) == 2
    assert "la columna objetivo 'y_nope' no está en el conjunto" in _err_line(capsys)


def test_check_model_params_uses_the_constructor():
    check_model_params("lightgbm", {"num_leaves": 15, "learning_rate": 1, "n_jobs": None})
    check_model_params("rf", {"max_features": "sqrt", "max_depth": None})
    with pytest.raises(ValidationError, match=r"learning_rate=fast.*number"):
        check_model_params("lightgbm", {"learning_rate": "fast"})
    with pytest.raises(ValidationError, match=r"n_estimators=true"):
        check_model_params("xgboost", {"n_estimators": True})


def test_library_range_error_is_one_line(switch_file, tmp_path, capsys):
    rc = run(["train", "--model", "lightgbm", "--param", "num_leaves=-3", "--dataset", str(switch_file),
              "--target", "count", "--no-register", "--test-periods", "3"])
    assert rc == 2
    assert "num_leaves=-3" in _err_line(capsys)


# -- 3/4. count options, partial compare ----------------------------------------------------------
@pytest.mark.parametrize("opt", [["--n-jobs", "0"], ["--folds", "0"], ["--test-periods", "-1"]])
def test_compare_count_options_are_checked(switch_file, tmp_path, capsys, opt):
    rc = run(["compare", "--models", "lightgbm", "--dataset", str(switch_file), "--target", "count",
              "--store", str(tmp_path / "s.duckdb"), *opt])
    assert rc == 2 and opt[0] in capsys.readouterr().err


def test_one_failing_model_does_not_discard_the_others(panel, monkeypatch):
    frame, feats = panel
    real = C._run_one

    def flaky(fold, name):
        if name == "rf":
            raise RuntimeError("rf exploded")
        return real(fold, name)

    monkeypatch.setattr(C, "_run_one", flaky)
    res = compare_models(frame, feats, "count", ["lightgbm", "rf"], n_folds=2, n_boot=50,
                         model_params={"lightgbm": {"n_estimators": 20}})
    assert res.models == ["lightgbm", "historical_mean"]
    assert res.summary["partial"]["failed"] == {"rf": "rf exploded"}
    assert res.summary["n_folds"] == 2
    with pytest.raises(RuntimeError, match="exploded"):  # nothing left: the error itself
        compare_models(frame, feats, "count", ["rf"], n_folds=2, n_boot=50)


def test_interrupted_compare_keeps_the_finished_folds(panel, monkeypatch):
    frame, feats = panel
    real = C._run_one

    def interrupt_in_fold_1(fold, name):
        if fold == 1 and name == "lightgbm":
            raise KeyboardInterrupt
        return real(fold, name)

    monkeypatch.setattr(C, "_run_one", interrupt_in_fold_1)
    res = compare_models(frame, feats, "count", ["lightgbm"], n_folds=3, test_periods=3, n_boot=50,
                         model_params={"lightgbm": {"n_estimators": 20}})
    assert res.summary["partial"]["interrupted"] is True
    assert res.summary["n_folds"] == 1 and set(res.folds.fold) == {0}

    def interrupt_at_once(fold, name):
        raise KeyboardInterrupt

    monkeypatch.setattr(C, "_run_one", interrupt_at_once)
    with pytest.raises(KeyboardInterrupt):
        compare_models(frame, feats, "count", ["lightgbm"], n_folds=2, n_boot=50)


def test_progress_bar_goes_to_stderr_only_on_a_terminal(monkeypatch):
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert isinstance(C._progress(True, 4), C._NoBar)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bar = C._progress(True, 4)
    assert isinstance(bar, C._Bar) and bar.p.console.stderr
    assert isinstance(C._progress(False, 4), C._NoBar)  # --json


def test_cli_compare_passes_progress(switch_file, tmp_path, monkeypatch, capsys):
    seen = {}
    real = C.compare_models

    def spy(*a, **k):
        seen["progress"] = k.get("progress")
        return real(*a, **k)

    monkeypatch.setattr(C, "compare_models", spy)
    args = ["compare", "--models", "lightgbm", "--dataset", str(switch_file), "--target", "count", "--folds", "2",
            "--store", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "rep"), "--param",
            "lightgbm.n_estimators=10"]
    assert run(args) == 0 and seen["progress"] is True
    assert run([*args, "--json"]) == 0 and seen["progress"] is False
    capsys.readouterr()


def test_train_tabnet_distilled_from_a_seed_ensemble_registers_one_tabnet(switch_file, tmp_path, capsys):
    store = tmp_path / "s.duckdb"
    rc = run(["train", "--model", "tabnet", "--dataset", str(switch_file), "--target", "count", "--store", str(store),
              "--param", "n_members=2", "--param", "distill=true", "--param", "max_epochs=2",
              "--test-periods", "3", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    r = json.loads(out.out)
    model_dir = next(p for p in (tmp_path).rglob("model.json") if (p.parent / "tabnet").is_dir()).parent
    assert json.loads((model_dir / "model.json").read_text())["params"]["distill"] is True, r
    # one TabNet (its JSON + safetensors), not the ensemble's ensemble.json + member_00/ …
    assert sorted(p.name for p in (model_dir / "tabnet").iterdir()) == ["model.json", "weights.safetensors"]
    assert run(["train", "--model", "tabnet", "--dataset", str(switch_file), "--target", "count", "--store",
                str(store), "--param", "distill=true", "--lang", "en"]) != 0
    assert "n_members > 1" in _err_line(capsys)
