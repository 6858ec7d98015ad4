"""Rolling-origin comparison, metrics, reports and the train/compare/tune CLI on synthetic panels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gridcrit.cli import run
from gridcrit.errors import ValidationError
from gridcrit.models import metrics as M  # noqa: N812
from gridcrit.models.compare import compare_models, rolling_origin, synthetic_panel, verdict
from gridcrit.models.report import write_report

FAST = {"lightgbm": {"n_estimators": 60}, "rf": {"n_estimators": 15}, "mlp": {"max_epochs": 3, "d_hidden": 32},
        "xgboost": {"n_estimators": 60}}


@pytest.fixture(scope="module")
def panel():
    return synthetic_panel(n_assets=150, n_periods=20, seed=3)


# -- metrics ------------------------------------------------------------------------------------
def test_top_recall_ties_and_empty_periods():
    y = np.array([0, 0, 0, 0, 0, 0, 0, 0, 3, 1.0])
    assert M.top_recall(y, y, frac=0.1) == 1.0
    assert M.top_recall(y, -y, frac=0.1) == 0.0
    assert np.isnan(M.top_recall(np.zeros(10), np.arange(10.0)))
    # two tied worst assets with k=1: catching either counts as full recall of min(k, |true|)=1
    assert M.top_recall(np.array([0, 0, 5, 5.0, 0, 0, 0, 0, 0, 0]), np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0.0]), 0.1) == 1.0


def test_errors_and_ndcg_match_references():
    from sklearn.metrics import mean_poisson_deviance, ndcg_score, r2_score

    rng = np.random.default_rng(0)
    y = rng.poisson(2, 300).astype(float)
    p = rng.uniform(0.5, 3, 300)
    assert M.poisson_deviance(y, p) == pytest.approx(mean_poisson_deviance(y, p))
    assert M.r2(y, p) == pytest.approx(r2_score(y, p))
    assert M.ndcg_at_k(y, p, 20) == pytest.approx(ndcg_score(y[None], p[None], k=20))


def test_bootstrap_ci_brackets_mean_and_paired_diff():
    v = np.random.default_rng(0).normal(1.0, 0.2, 40)
    mean, lo, hi = M.bootstrap_ci(v)
    assert lo < mean < hi and lo > 0.8 and hi < 1.2
    d, dlo, dhi = M.paired_diff_ci(v + 0.5, v)
    assert d == pytest.approx(0.5) and dlo == pytest.approx(0.5) and dhi == pytest.approx(0.5)


# -- splits and comparison -------------------------------------------------------------------------
def test_rolling_origin_is_temporal(panel):
    frame, _ = panel
    folds = list(rolling_origin(frame, n_folds=3, test_periods=2))
    assert len(folds) == 3
    for tr, te in folds:
        assert frame.period.iloc[tr].max() < frame.period.iloc[te].min()
    assert frame.period.iloc[folds[-1][1]].max() == frame.period.max()
    with pytest.raises(ValidationError, match="cannot make"):
        list(rolling_origin(frame, n_folds=30, test_periods=2))


def test_compare_regression_report(panel, tmp_path):
    frame, feats = panel
    res = compare_models(frame, feats, "count", ["lightgbm", "rf"], n_folds=2, model_params=FAST, n_boot=200)
    s = res.summary
    assert set(s["models"]) == {"lightgbm", "rf", "historical_mean"}
    assert s["task"] == "poisson" and s["primary"] == "top10_recall"
    assert len(res.folds) == 6 and (res.folds.train_s >= 0).all()
    assert (res.folds[res.folds.model != "historical_mean"].size_bytes > 0).all()
    for m in ("lightgbm", "rf"):
        e = s["models"][m]["top10_recall"]
        assert e["lo"] <= e["mean"] <= e["hi"]
        assert m in s["vs_baseline"]
    assert s["winner"] in s["models"]
    assert s["winner"] in verdict(s) and "IC95%" in verdict(s, "es")
    files = write_report(res, tmp_path, lang="en")
    html = files["html"].read_text()
    assert html.count("data:image/png;base64") >= 4
    assert "Verdict" in html
    assert "| model |" in files["md"].read_text()
    j = json.loads(files["json"].read_text())
    assert j["summary"]["winner"] == s["winner"] and len(j["folds"]) == 6


def test_compare_classification(panel):
    frame, feats = panel
    res = compare_models(frame, feats, "risk", ["lightgbm"], n_folds=2, model_params=FAST, n_boot=100)
    assert res.summary["primary"] == "rps" and res.summary["higher_is_better"] is False
    assert {"rps", "macro_f1", "balanced_accuracy", "auc"} <= set(res.folds.columns)


def test_compare_bad_input(panel):
    frame, feats = panel
    with pytest.raises(ValidationError, match="target column 'y_nope' is not in the table"):
        compare_models(frame, feats, "nope", ["lightgbm"])
    const = frame.assign(y_count=1.0)
    with pytest.raises(ValidationError, match="constant"):
        compare_models(const, feats, "count", ["lightgbm"], n_folds=2)
    with pytest.raises(ValidationError, match=r"cannot hold|cannot make"):
        compare_models(frame, feats, "count", ["lightgbm"], n_folds=40)
    with pytest.raises(ValidationError, match="unknown model"):
        compare_models(frame, feats, "count", ["catboost"])
    with pytest.raises(ValidationError, match="leakage"):
        compare_models(frame, [*feats, "y_saifi"], "count", ["lightgbm"])
    one = frame.copy()
    one.loc[one.index[0], "y_risk"] = "Único"
    with pytest.raises(ValidationError, match="only one member"):
        compare_models(one, feats, "risk", ["lightgbm"], n_folds=1, test_periods=2)


def test_fold_with_no_rows_is_a_clear_error(panel):
    frame, feats = panel
    late = frame[frame.period <= "2021-04"]  # the last test block would have no rows
    from gridcrit.models import compare as C  # noqa: N812

    orig = C._splits
    try:
        C._splits = lambda *a, **k: [(np.arange(len(late)), np.array([], dtype=int))]
        with pytest.raises(ValidationError, match="fold 0: test part has no rows"):
            compare_models(late, feats, "count", ["lightgbm"])
    finally:
        C._splits = orig


# -- CLI --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dataset_file(panel, tmp_path_factory):
    from gridcrit.features.dataset import CriticalityDataset

    frame, feats = panel
    frame = frame.copy()
    frame["veg_risk_code"] = frame.veg_risk.map({"Bajo": 0, "Medio": 1, "Alto": 2}).astype("float32")
    frame["circuit_code"] = frame.circuit.str[1:].astype(int).astype("float32")
    frame["y_risk"] = frame.y_risk.map({"Bajo": 0, "Medio": 1, "Alto": 2, "Muy Alto": 3}).astype("int8")
    feats = [f for f in feats if f not in ("veg_risk", "circuit")] + ["veg_risk_code", "circuit_code"]
    frame = frame.drop(columns=["veg_risk", "circuit"])
    groups = {f: "exposure" if f in ("rain_mm", "lightning_density") else "asset" for f in feats}
    card = {"feature_columns": feats, "feature_groups": groups, "level": "transformer", "period": "month"}
    ds = CriticalityDataset(frame=frame, feature_columns=feats, feature_groups=groups, level="transformer",
                            period="month", card=card)
    path = tmp_path_factory.mktemp("ds") / "transformer_month.parquet"
    ds.to_parquet(path)
    return path


def test_cli_compare_json(dataset_file, tmp_path, capsys):
    rc = run(["compare", "--models", "lightgbm,rf", "--target", "count", "--folds", "2", "--dataset",
              str(dataset_file), "--store", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "rep"),
              "--param", "lightgbm.n_estimators=40", "--param", "rf.n_estimators=10", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    r = json.loads(out.out)
    assert r["summary"]["winner"] in ("lightgbm", "rf", "historical_mean")
    assert (tmp_path / "rep" / "report.html").exists()


def test_cli_compare_table_fits_80_columns(dataset_file, tmp_path, capsys, monkeypatch):
    """The terminal table was pandas' to_string of every metric with its interval: about 240 characters
    a model, wrapped over four lines at 80 columns. Now: primary metric with its interval, three more,
    the training seconds; everything else stays in the report and the JSON."""
    monkeypatch.setenv("COLUMNS", "80")
    rc = run(["compare", "--models", "lightgbm,rf", "--target", "count", "--folds", "2", "--dataset",
              str(dataset_file), "--store", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "rep"),
              "--param", "lightgbm.n_estimators=40", "--param", "rf.n_estimators=10", "--lang", "en"])
    out = capsys.readouterr().out
    assert rc == 0
    table = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and max(len(line) for line in table) <= 80
    header = next(line for line in table if line.startswith("┃"))
    assert "top10%" in header and "NDCG@100" in header
    for m in ("historical_mean", "lightgbm", "rf"):
        assert any(line.startswith(f"│ {m} ") for line in table), m
    assert sum("[" in line and "]" in line for line in table) == 3  # one interval under each model's value


def test_cli_compare_seed_reaches_the_models(dataset_file, tmp_path, capsys):
    """Every model was fitted with random_state 0 whatever the run: no way to see how much a comparison
    depends on the seed short of a --param per model. --seed sets it (and the bootstrap's)."""
    def summary(seed: str) -> dict:
        assert run(["compare", "--models", "rf", "--target", "count", "--folds", "2", "--dataset",
                    str(dataset_file), "--store", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / seed),
                    "--param", "rf.n_estimators=5", "--seed", seed, "--json"]) == 0
        return json.loads(capsys.readouterr().out)["summary"]["models"]["rf"]

    a, b, c = summary("0"), summary("0"), summary("7")
    assert a["mae"] == b["mae"] and a["mae"]["mean"] != c["mae"]["mean"]


def test_cli_compare_offset_option(dataset_file, tmp_path, capsys):
    """--offset reaches compare_models: 'history' needs the dataset's hist_* columns (this synthetic
    table has none -> a one-line message), an unknown kind is refused."""
    base = ["compare", "--models", "lightgbm", "--target", "count", "--folds", "2", "--dataset", str(dataset_file),
            "--store", str(tmp_path / "s.duckdb"), "--param", "lightgbm.n_estimators=20", "--json"]
    assert run([*base, "--offset", "history"]) != 0
    assert "hist_count_total" in capsys.readouterr().err
    assert run([*base, "--offset", "magic"]) != 0
    assert "unknown offset" in capsys.readouterr().err


def test_cli_train_registers(dataset_file, tmp_path, capsys):
    store = tmp_path / "s.duckdb"
    rc = run(["train", "--model", "lightgbm", "--target", "saifi", "--dataset", str(dataset_file), "--store",
              str(store), "--out", str(tmp_path / "m"), "--param", "n_estimators=40", "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    r = json.loads(out.out)
    assert r["version"] and r["metrics"]["eval"]["rmse"] >= 0
    assert "baseline_historical_mean" in r["metrics"]
    # SAIFI is fitted with the Poisson loss unless --task says otherwise (docs/models.md, "Default task")
    assert r["metrics"]["eval"]["poisson_deviance"] >= 0
    from gridcrit.registry.registry import Registry

    loaded = Registry(store).load(r["version"])
    model = getattr(loaded, "model", loaded)
    from gridcrit.models.zoo import load_model

    direct = load_model(tmp_path / "m")
    X = pd.read_parquet(dataset_file)[direct.feature_names_in_.tolist()].head(50)
    from gridcrit.models.compare import model_frame

    X = model_frame(X, list(X.columns), ["veg_risk_code", "circuit_code"])
    np.testing.assert_allclose(model.predict(X), direct.predict(X))


def test_cli_errors_are_one_line(dataset_file, tmp_path, capsys):
    rc = run(["train", "--model", "lightgbm", "--target", "nope", "--dataset", str(dataset_file),
              "--store", str(tmp_path / "s.duckdb"), "--no-register"])
    err = capsys.readouterr().err
    assert rc != 0 and "y_nope" in err and "Traceback" not in err
    rc = run(["compare", "--models", "lightgbm", "--target", "count", "--folds", "50", "--dataset",
              str(dataset_file), "--store", str(tmp_path / "s.duckdb")])
    err = capsys.readouterr().err
    assert rc != 0 and "folds" in err and "Traceback" not in err
    rc = run(["tune", "--model", "lightgbm", "--budget", "ten minutes", "--dataset", str(dataset_file),
              "--store", str(tmp_path / "s.duckdb")])
    assert rc != 0 and "presupuesto 'ten minutes'" in capsys.readouterr().err  # Spanish unless --lang en


def test_cli_tune_resumes(dataset_file, tmp_path, capsys):
    # 20 months: holding out the default six for `train` would leave too few for 2 folds of 6
    args = ["tune", "--model", "lightgbm", "--target", "count", "--budget", "60s", "--trials", "2", "--dataset",
            str(dataset_file), "--store", str(tmp_path / "s.duckdb"), "--param", "n_estimators=30", "--json",
            "--holdout-periods", "2"]
    assert run(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert run(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["n_trials_total"] == 2 and second["n_trials_total"] == 4 and second["n_trials_this_run"] == 2
    assert second["best_params"]["n_estimators"] == 30
    assert second["held_out_periods"] == "2021-07..2021-08"


def test_parallel_fits_match_serial(panel):
    frame, feats = panel
    kw = dict(n_folds=2, model_params=FAST, n_boot=50)
    a = compare_models(frame, feats, "count", ["lightgbm"], n_jobs=1, **kw)
    b = compare_models(frame, feats, "count", ["lightgbm"], n_jobs=2, **kw)
    assert b.summary["n_jobs"] == 2
    pd.testing.assert_frame_equal(a.periods, b.periods)


def _with_history(frame: pd.DataFrame) -> pd.DataFrame:
    """The dataset's history columns the offset reads (past periods only)."""
    f = frame.sort_values(["asset_id", "period"]).copy()
    g = f.groupby("asset_id")["y_count"]
    f["hist_count_total"] = g.cumsum() - f["y_count"]
    f["hist_periods_observed"] = f.groupby("asset_id").cumcount().astype(float)
    return f.reset_index(drop=True)


def test_history_offset_formula_and_errors():
    from gridcrit.models.compare import history_offset

    f = pd.DataFrame({"hist_count_total": [0.0, 6.0, 1.0], "hist_periods_observed": [0.0, 12.0, 48.0]})
    np.testing.assert_allclose(history_offset(f, "y_count", prior=0.5, smoothing=12),
                               [0.5, (6 + 6) / 24, (1 + 6) / 60])
    with pytest.raises(ValidationError, match="hist_saifi_total"):
        history_offset(f, "y_saifi", prior=0.5)
    # a criticality dataset splits the all-time count by recorded cause: the offset sums the groups
    from gridcrit.features.targets import cause_groups

    split = f.drop(columns="hist_count_total")
    for i, g in enumerate(cause_groups()):
        split[f"hist_cause_{g}_total"] = f["hist_count_total"] * (0.5 if i == 0 else 0.5 / (len(cause_groups()) - 1))
    np.testing.assert_allclose(history_offset(split, "y_count", prior=0.5), history_offset(f, "y_count", prior=0.5))
    with pytest.raises(ValidationError, match="hist_count_total"):
        history_offset(split.drop(columns="hist_cause_other_total"), "y_count", prior=0.5)
    with pytest.raises(ValidationError, match="positive mean"):
        history_offset(f, "y_count", prior=0.0)


def test_compare_with_history_offset_applies_to_every_model_alike(panel):
    frame, feats = panel
    frame = _with_history(frame)
    kw = dict(n_folds=2, model_params=FAST, n_boot=50)
    plain = compare_models(frame, feats, "count", ["lightgbm", "mlp"], **kw)
    off = compare_models(frame, feats, "count", ["lightgbm", "mlp"], offset="history", **kw)
    assert off.summary["offset"] == {"kind": "history", "smoothing": 12.0, "applies_to": ["lightgbm", "mlp"]}
    assert plain.summary["offset"] is None
    base = lambda r: r.periods[r.periods.model == "historical_mean"].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(base(plain), base(off))  # the baseline is untouched
    for m in ("lightgbm", "mlp"):
        p = off.predictions[off.predictions.model == m]
        assert (p.pred > 0).all() and p.pred.nunique() > 10
        assert not np.allclose(p.pred.to_numpy(), plain.predictions[plain.predictions.model == m].pred.to_numpy())
    with pytest.raises(ValidationError, match="unknown offset"):
        compare_models(frame, feats, "count", ["lightgbm"], offset="magic", **kw)
    with pytest.raises(ValidationError, match="classification"):
        compare_models(frame, feats, "risk", ["lightgbm"], offset="history", **kw)
    with pytest.raises(ValidationError, match="hist_saifi_total"):
        compare_models(frame, feats, "saifi", ["lightgbm"], offset="history", **kw)


def test_risk_classes_are_refitted_on_each_folds_training_rows():
    """A y_risk column fitted on all periods (here: deliberately wrong, every row 'Muy Alto') is
    replaced per fold by classes whose cut points come from that fold's training SAIFI only."""
    from gridcrit.features.splits import relabel_risk
    from gridcrit.models.compare import _splits, compare_models, synthetic_panel

    frame, feats = synthetic_panel(n_assets=120, n_periods=18)
    frame = frame.assign(y_risk="Muy Alto")
    res = compare_models(frame, feats, "y_risk", [], task="classification", n_folds=2, n_boot=50)
    assert res.summary["risk_rebinned_per_fold"] is True
    base = res.predictions[res.predictions.model == "historical_mean"]
    assert set(base["y"]) <= {"Bajo", "Medio", "Alto", "Muy Alto"} and "Bajo" in set(base["y"])
    f0 = frame.reset_index(drop=True)
    tr, te = _splits(f0, 2, "period", None)[0]
    expect = np.array(["Bajo", "Medio", "Alto", "Muy Alto"], dtype=object)[relabel_risk(f0, tr, "y_saifi")[te]]
    got = base[base.fold == 0]["y"].to_numpy()
    assert len(got) == len(te) and (got == expect).all()
