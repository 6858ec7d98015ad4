"""Train one zoo model on the criticality dataset with an honest temporal hold-out.

The last ``test_periods`` periods (default six months: 6 months or 2 quarters) are held out for the
reported metrics, the ``val_periods`` before them (default three months: 3 months or 1 quarter) drive
early stopping, and the model is fitted on everything earlier. The returned model is
that fitted model (its metrics describe exactly it).

Example::

    >>> from gridcrit.models.compare import synthetic_panel
    >>> from gridcrit.models.train import train_model
    >>> frame, feats = synthetic_panel(200, 18)
    >>> out = train_model(frame, feats, "count", "lightgbm", params={"n_estimators": 50})
    >>> sorted(out["metrics"]["eval"])[:3]
    ['mae', 'ndcg_at_100', 'poisson_deviance']
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from gridcrit.errors import ValidationError
from gridcrit.models import metrics as M  # noqa: N812
from gridcrit.models.base import check_target
from gridcrit.models.compare import (
    _class_order,
    _fold_risk_classes,
    _rebins_risk,
    check_model_params,
    default_task,
    default_test_periods,
    default_val_periods,
    fit_failed,
    historical_mean,
    model_frame,
    target_column,
)
from gridcrit.runtime import default_threads


def train_model(frame: pd.DataFrame, features: Sequence[str], target: str, model: str, task: str | None = None,
                params: dict[str, Any] | None = None, test_periods: int | None = None,
                val_periods: int | None = None, categorical: Sequence[str] = (), period_col: str = "period",
                asset_col: str = "asset_id") -> dict[str, Any]:
    """Fit ``model`` on all but the last ``test_periods`` periods; returns model, metrics and provenance."""
    from gridcrit.models.zoo import make_model

    col = target if target in frame.columns else target_column(target)
    if col not in frame.columns:
        ys = [c for c in frame.columns if str(c).startswith("y_")]
        raise ValidationError(f"target column {col!r} is not in the dataset (targets present: {', '.join(ys) or 'none'})",
                              es=f"la columna objetivo {col!r} no está en el conjunto (objetivos presentes: "
                                 f"{', '.join(ys) or 'ninguno'})")
    task = task or default_task(col)
    if period_col not in frame.columns:
        raise ValidationError(f"the dataset has no {period_col!r} column")
    ok = frame[col].notna() if task == "classification" else np.isfinite(pd.to_numeric(frame[col], errors="coerce"))
    frame = frame[ok.to_numpy()].reset_index(drop=True)
    periods = np.sort(frame[period_col].astype(str).unique())
    # counted in the table's own periods: a fixed 6 held out a year and a half of quarters
    test_periods = default_test_periods(periods) if test_periods is None else test_periods
    val_periods = default_val_periods(periods) if val_periods is None else val_periods
    if len(periods) < test_periods + 2:
        raise ValidationError(f"the dataset has {len(periods)} period(s) with a known {col}; need more than "
                              f"test_periods + 1 = {test_periods + 1}",
                              es=f"el conjunto tiene {len(periods)} periodo(s) con {col} conocido; se necesitan más "
                                 f"de test_periods + 1 = {test_periods + 1}")
    per = frame[period_col].astype(str).to_numpy()
    test_from = periods[-test_periods] if test_periods else None
    n_val = min(val_periods, len(periods) - test_periods - 1)
    val_from = periods[-test_periods - n_val] if n_val > 0 else None
    is_test = per >= test_from if test_from else np.zeros(len(per), bool)
    is_val = (per >= val_from) & ~is_test if val_from else np.zeros(len(per), bool)
    is_fit = ~is_test & ~is_val
    X = model_frame(frame, features, categorical)
    y = frame[col]
    # the dataset's risk classes are quantiles of positive SAIFI over *all* its periods: refit their cut
    # points on the periods before the hold-out, as compare does per fold, so no hold-out value shapes
    # the classes the model learns and is scored on
    rebin = _rebins_risk(frame, col, task) and bool(is_test.any())
    if rebin:
        y = pd.Series(_fold_risk_classes(frame, col, [(np.flatnonzero(~is_test), None)])[0], index=frame.index)
        # rows without a SAIFI have no class (None, or the code -1 when the table carries codes)
        keep = np.isfinite(pd.to_numeric(frame["y_saifi"], errors="coerce").to_numpy(dtype=float))
        if not keep.all():
            frame, X, y, per = frame[keep], X[keep], y[keep], per[keep]
            is_test, is_val, is_fit = is_test[keep], is_val[keep], is_fit[keep]
    check_target(y[is_fit], task, what=f"{col} (training periods)")  # e.g. a class seen once: a mistyped label
    check_model_params(model, params)
    m = make_model(model, task, **(params or {}))
    t0 = time.perf_counter()
    ev = [(X[is_val], y[is_val])] if is_val.any() else None
    try:
        m.fit(X[is_fit], y[is_fit], eval_set=ev)
    except Exception as e:
        err = fit_failed(model, params, e)
        if err is e:
            raise
        raise err from e
    train_s = time.perf_counter() - t0
    metrics: dict[str, Any] = {"train_s": train_s, "threads": default_threads()}
    if is_test.any():
        Xt, yt = X[is_test], y[is_test].to_numpy()
        t0 = time.perf_counter()
        pred = m.predict(Xt)
        metrics["predict_s"] = time.perf_counter() - t0
        labelled = frame.assign(**{col: y.to_numpy()}) if rebin else frame
        base, bproba, bclasses = historical_mean(labelled[~is_test], labelled[is_test], col, task, asset_col)
        if task == "classification":
            import warnings

            # a hold-out need not contain every predicted class: sklearn warns ("y_pred contains classes
            # not in y_true"); the metrics handle it (zero_division), so keep the user's stderr clean
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                # RPS on the classes' defined order (the four risk levels when refitted), one scale for both
                order = _class_order(frame, col, task, rebin)
                metrics["eval"] = M.classification_metrics(yt, pred, m.predict_proba(Xt), list(m.classes_), order)
                metrics["baseline_historical_mean"] = M.classification_metrics(yt, base, bproba, bclasses, order)
        else:
            metrics["eval"] = M.regression_metrics(yt.astype(float), pred, per[is_test], with_deviance=task == "poisson")
            metrics["baseline_historical_mean"] = M.regression_metrics(yt.astype(float), base, per[is_test],
                                                                      with_deviance=task == "poisson")
    info = {"fit_periods": f"{periods[0]}..{per[is_fit].max()}",
            "valid_periods": f"{val_from}..{periods[-test_periods - 1]}" if val_from else None,
            "test_periods": f"{test_from}..{periods[-1]}" if test_from else None,
            "rows": {"fit": int(is_fit.sum()), "valid": int(is_val.sum()), "test": int(is_test.sum())},
            "risk_rebinned": rebin}
    return {"model": m, "name": model, "target": col, "task": task, "metrics": metrics, "split": info,
            "features": list(features), "categorical": [c for c in categorical if c in features]}
