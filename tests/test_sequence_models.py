"""Sequence models (LSTM/GRU/Transformer) and their baselines on monthly series."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gridcrit.errors import ValidationError
from gridcrit.models.sequence import (
    SeriesNet,
    baseline_forecasts,
    forecast_compare,
    panel,
    synthetic_series,
)

FAST = {m: {"max_epochs": 12, "d_model": 16, "patience": 4} for m in ("lstm", "gru", "transformer")}


@pytest.mark.parametrize("cell", ["lstm", "gru", "transformer"])
def test_series_net_shapes(cell):
    net = SeriesNet(cell, n_in=5, n_next=3, d=16)
    assert net(torch.zeros(7, 12, 5), torch.zeros(7, 3)).shape == (7,)


def test_baselines_by_hand():
    Y = np.array([[float(i) for i in range(30)]])  # a ramp: value t at period t
    b = baseline_forecasts(Y, np.array([24, 29]))
    sn, hm = b["seasonal_naive"], b["historical_mean"]
    assert sn.pred.tolist() == [12.0, 17.0]  # 12 periods earlier
    assert hm.pred.tolist() == [np.mean(range(24)), np.mean(range(29))]


def test_sequence_models_beat_seasonal_naive_on_noisy_seasonal_counts():
    frame = synthetic_series(n_series=30, n_periods=40, seed=1)
    res = forecast_compare(frame, "y_count", ["exposure"], test_periods=6, params=FAST, n_boot=200)
    s = res["summary"]
    assert set(s["models"]) == {"lstm", "gru", "transformer", "seasonal_naive", "historical_mean"}
    for m in ("lstm", "gru", "transformer"):
        d = s["models"][m]["mae_vs_seasonal_naive"]
        assert d["diff"] < 0 and d["hi"] < 0, (m, d)  # Poisson noise makes y[t-12] a poor forecast
        assert s["models"][m]["epochs"] >= 1
    # every method is scored on the same rows
    n = {m: len(p) for m, p in res["predictions"].items()}
    assert len(set(n.values())) == 1


def test_panel_and_bad_input():
    frame = synthetic_series(n_series=3, n_periods=20)
    Y, E, _assets, periods = panel(frame, "y_count", ["exposure"])
    assert Y.shape == (3, 20) and E.shape == (3, 20, 1) and periods[0] == "2019-01"
    with pytest.raises(ValidationError, match="column 'nope'"):
        panel(frame, "nope", [])
    with pytest.raises(ValidationError, match="constant"):
        forecast_compare(frame.assign(y_count=2), "y_count", test_periods=3, window=6)
    with pytest.raises(ValidationError, match="need at least"):
        forecast_compare(frame, "y_count", test_periods=12, window=12)
    with pytest.raises(ValidationError, match="unknown sequence model"):
        forecast_compare(frame, "y_count", models=["arima"])
