"""`forecast` on quarters and with --param (review of the models stage).

Before: seasonal-naive looked 12 periods back whatever the period, i.e. three years back on a quarterly
dataset; `--period quarter` with the default window/test periods of 12 failed on a 21-quarter store; and
`--param gru.random_state=3` or a misspelt parameter ended in a TypeError traceback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gridcrit.models.sequence as S  # noqa: N812
from gridcrit.cli import run
from gridcrit.errors import ValidationError
from gridcrit.models.sequence import baseline_forecasts, forecast_compare, synthetic_series


def _quarterly(n_series: int = 6, n_periods: int = 24) -> pd.DataFrame:
    """A pattern that repeats every 4 quarters exactly: seasonal-naive is perfect on it."""
    per = pd.period_range("2019Q1", periods=n_periods, freq="Q")
    season = np.array([1.0, 5.0, 2.0, 8.0])[np.arange(n_periods) % 4]
    rows = []
    for s in range(n_series):
        y = season * (s + 1)
        rows.append(pd.DataFrame({"asset_id": f"C{s}", "period": [f"{p.year}-Q{p.quarter}" for p in per],
                                  "y_count": y, "exposure": 1.0 + s}))
    return pd.concat(rows, ignore_index=True)


def test_season_is_a_year_of_the_tables_periods():
    assert S.season_length(np.array(["2023-Q1", "2023-Q2"])) == 4
    assert S.season_length(np.array(["2023-01", "2023-02"])) == 12


def test_seasonal_naive_on_quarters_looks_four_quarters_back():
    res = forecast_compare(_quarterly(), "y_count", ["exposure"], models=[], test_periods=4, window=4)
    assert res["summary"]["season"] == 4
    assert res["summary"]["models"]["seasonal_naive"]["mae"]["mean"] == 0.0


def test_baseline_forecasts_default_season_unchanged():
    Y = np.arange(30, dtype=float)[None, :]
    assert baseline_forecasts(Y, np.array([25]))["seasonal_naive"].pred.iloc[0] == 13.0


def test_a_models_own_seed_and_window_win_over_the_runs():
    frame = synthetic_series(8, 40, seed=1)
    res = forecast_compare(frame, "y_count", ["exposure"], models=["gru"], test_periods=6, window=12,
                           params={"gru": {"random_state": 3, "max_epochs": 2, "window": 6}})
    assert "gru" in res["summary"]["models"]


@pytest.mark.parametrize(("params", "match"), [({"epochs": 3}, "no parameter.*epochs.*max_epochs"),
                                               ({"max_epochs": "many"}, "expects an integer")])
def test_bad_parameters_are_one_line_errors(params, match):
    frame = synthetic_series(8, 40, seed=1)
    with pytest.raises(ValidationError, match=match):
        forecast_compare(frame, "y_count", ["exposure"], models=["gru"], test_periods=6, params={"gru": params})


@pytest.fixture()
def quarter_file(tmp_path):
    from gridcrit.features.dataset import CriticalityDataset

    frame = _quarterly(n_periods=21)
    feats = ["exposure"]
    card = {"feature_columns": feats, "feature_groups": {"exposure": "exposure"}, "level": "circuit",
            "period": "quarter"}
    ds = CriticalityDataset(frame=frame, feature_columns=feats, feature_groups={"exposure": "exposure"},
                            level="circuit", period="quarter", card=card)
    path = tmp_path / "circuit_quarter.parquet"
    ds.to_parquet(path)
    return path


def test_cli_forecast_on_quarters_uses_a_year_of_quarters(quarter_file, tmp_path, capsys):
    import json

    rc = run(["forecast", "--dataset", str(quarter_file), "--target", "count", "--models", "gru", "--param",
              "gru.max_epochs=2", "--store", str(tmp_path / "s.duckdb"), "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    s = json.loads(out.out)
    assert s["window"] == 4 and s["season"] == 4 and len(s["test_periods"]) == 4


def test_cli_forecast_bad_param_is_one_line_before_reading_data(tmp_path, capsys):
    rc = run(["forecast", "--models", "gru", "--param", "gru.epochs=3", "--dataset", str(tmp_path / "none.parquet"),
              "--store", str(tmp_path / "s.duckdb"), "--lang", "en"])
    err = capsys.readouterr().err
    assert rc == 2 and "epochs" in err and "Traceback" not in err
