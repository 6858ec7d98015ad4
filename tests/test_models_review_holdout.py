"""Hold-outs of the models stage counted in the table's own periods, and tuning that never scores
on the periods `train` reports (review of the models stage)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import gridcrit.models.compare as C  # noqa: N812
from gridcrit.errors import ValidationError
from gridcrit.models.compare import synthetic_panel
from gridcrit.models.train import train_model
from gridcrit.models.tune import tune

FAST = {"n_estimators": 20}


@pytest.fixture(scope="module")
def monthly():
    return synthetic_panel(n_assets=60, n_periods=36, seed=1)


@pytest.fixture(scope="module")
def quarterly(monthly):
    """The same panel labelled by quarter (``2020-Q1``), as ``dataset build --period quarter`` labels it."""
    frame, feats = monthly
    q = pd.PeriodIndex(frame["period"], freq="M").asfreq("Q")
    return frame.assign(period=[f"{p.year}-Q{p.quarter}" for p in q]), feats


def test_train_holds_out_six_months_of_quarters_not_six_quarters(quarterly):
    """``train`` on a quarterly dataset held out 6 *quarters* and early-stopped on 3 more: the model it
    registered had not seen the last 2¼ years. Six months are 2 quarters; three months 1 quarter."""
    frame, feats = quarterly
    out = train_model(frame, feats, "count", "lightgbm", params=FAST)
    assert out["split"]["test_periods"] == "2022-Q3..2022-Q4"
    assert out["split"]["valid_periods"] == "2022-Q2..2022-Q2"
    assert out["split"]["fit_periods"] == "2020-Q1..2022-Q1"


def test_train_monthly_defaults_unchanged(monthly):
    frame, feats = monthly
    out = train_model(frame, feats, "count", "lightgbm", params=FAST)
    assert out["split"]["test_periods"] == "2022-07..2022-12"
    assert out["split"]["valid_periods"] == "2022-04..2022-06"


def test_compare_early_stops_on_one_quarter(quarterly):
    frame, feats = quarterly
    res = C.compare_models(frame, feats, "count", ["lightgbm"], n_folds=2, model_params={"lightgbm": FAST},
                           n_boot=20)
    rows_per_quarter = frame.groupby("period").size().iloc[0]
    assert (res.folds.loc[res.folds.model == "lightgbm", "valid_rows"] == rows_per_quarter).all()


def test_tune_never_scores_the_train_hold_out(monthly, monkeypatch):
    """Trials were scored on the last folds, which are the periods `train` holds out: the parameters
    picked as best there made `train`'s hold-out metrics in-sample."""
    frame, feats = monthly
    seen: list[str] = []
    real = C.compare_models

    def spy(fr, *a, **k):
        seen.append(str(fr["period"].max()))
        return real(fr, *a, **k)

    monkeypatch.setattr(C, "compare_models", spy)
    out = tune(frame, feats, "count", "lightgbm", budget_s=60, n_trials=2, n_folds=2, fixed_params=FAST)
    assert seen and max(seen) == "2022-06"  # the last six months, 2022-07..12, never reach a trial
    assert out["held_out_periods"] == "2022-07..2022-12"
    assert out["scored_periods"] == "2020-01..2022-06"
    seen.clear()
    out = tune(frame, feats, "count", "lightgbm", budget_s=60, n_trials=1, n_folds=2, fixed_params=FAST,
               holdout_periods=0)
    assert max(seen) == "2022-12" and out["held_out_periods"] is None


def test_tune_with_impossible_folds_fails_at_once(monthly):
    """Before: every trial failed inside Optuna until the budget was spent (1,946 trials in 15 s on the tiny
    twin), then "no trial finished within the budget; raise --budget"."""
    frame, feats = monthly
    t0 = time.perf_counter()
    with pytest.raises(ValidationError, match="folds") as e:
        tune(frame, feats, "count", "lightgbm", budget_s=30, n_folds=20, fixed_params=FAST)
    assert "budget" not in str(e.value)
    assert time.perf_counter() - t0 < 10


def test_tune_says_why_every_trial_failed(monthly, tmp_path):
    """A failure in every trial is reported with its cause, also when the journal holds an earlier run's
    finished trials (whose best came back as if this run had produced it)."""
    frame, feats = monthly
    path = tmp_path / "t.journal"
    tune(frame, feats, "count", "lightgbm", budget_s=60, n_trials=1, fixed_params=FAST, storage_path=path,
         study_name="s")
    with pytest.raises(ValidationError, match=r"every trial of lightgbm failed.*min_data_in_leaf"):
        tune(frame, feats, "count", "lightgbm", budget_s=60, n_trials=2, storage_path=path, study_name="s",
             fixed_params={**FAST, "min_data_in_leaf": 3})


def test_tune_refuses_to_resume_a_study_scored_differently(monthly, tmp_path):
    frame, feats = monthly
    path = tmp_path / "t.journal"
    tune(frame, feats, "count", "lightgbm", budget_s=60, n_trials=1, fixed_params=FAST, storage_path=path,
         study_name="s")
    with pytest.raises(ValidationError, match="n_folds 2 -> 3"):
        tune(frame, feats, "count", "lightgbm", budget_s=60, n_trials=1, n_folds=3, fixed_params=FAST,
             storage_path=path, study_name="s")
    out = tune(frame, feats, "count", "lightgbm", budget_s=60, n_trials=1, fixed_params=FAST, storage_path=path,
               study_name="s")
    assert out["n_trials_total"] == 2


def test_holdout_that_leaves_nothing_is_a_clear_error(monthly):
    frame, feats = monthly
    with pytest.raises(ValidationError, match="holdout"):
        tune(frame, feats, "count", "lightgbm", budget_s=5, n_trials=1, holdout_periods=36)


def test_train_refits_the_risk_classes_on_the_periods_before_its_hold_out():
    """`compare` refits the dataset's risk cut points (quantiles of positive SAIFI over all periods) on each
    fold's training rows; `train` used the dataset's classes as given, so the hold-out months' SAIFI shaped
    the classes its model learnt and was scored on. Here y_risk is deliberately wrong (every row 'Muy Alto')
    so the test sees whether it was replaced."""
    from gridcrit.features.splits import relabel_risk
    from gridcrit.models import metrics as M  # noqa: N812

    frame, feats = synthetic_panel(n_assets=120, n_periods=20, seed=2)
    frame = frame.assign(y_risk="Muy Alto")
    out = train_model(frame, feats, "risk", "lightgbm", params=FAST)
    assert out["task"] == "classification" and out["split"]["risk_rebinned"] is True
    assert "Bajo" in set(out["model"].classes_)
    f0 = frame.reset_index(drop=True)
    test = (f0["period"] >= "2021-03").to_numpy()
    labels = np.array(["Bajo", "Medio", "Alto", "Muy Alto"], dtype=object)[relabel_risk(f0, np.flatnonzero(~test))]
    X = C.model_frame(f0[test], feats)
    pred, proba = out["model"].predict(X), out["model"].predict_proba(X)
    expect = M.classification_metrics(labels[test], pred, proba, list(out["model"].classes_))
    assert out["metrics"]["eval"] == pytest.approx(expect)
