"""Rolling-origin (expanding window) temporal splits by period.

::

    periods:  1 2 3 4 5 6 7 8 9 10 11 12
    fold 0:  [train......]   g [test]
    fold 1:  [train..........]   g [test]
    fold 2:  [train..............]   g [test]      g = ``gap`` periods left out

Test blocks are the last ``n_folds * test_periods`` periods; each fold trains on every period before
its test block minus ``gap`` (optionally only the last ``max_train_periods``). All rows of a period are
on the same side, so no event, asset-month or weather month straddles train and test.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from gridcrit.errors import ValidationError
from gridcrit.features.targets import RiskBinner


def _default_test_periods(labels: np.ndarray) -> int:
    quarterly = len(labels) and "Q" in str(labels[0])
    return 2 if quarterly else 6  # six months per test block


def rolling_origin_splits(
    frame: pd.DataFrame,
    n_folds: int = 3,
    *,
    test_periods: int | None = None,
    gap: int = 0,
    min_train_periods: int = 1,
    max_train_periods: int | None = None,
    period_col: str = "period",
    target: str | None = "y_saifi",
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(train_idx, test_idx)`` positional indices into ``frame``, oldest fold first.

    Rows whose ``target`` is NaN (periods after the last event) are never in train or test.
    ``test_periods`` defaults to six months (6 months or 2 quarters).
    """
    if period_col not in frame:
        raise ValidationError(f"frame has no column {period_col!r}")
    codes, uniques = pd.factorize(frame[period_col], sort=True)  # labels sort chronologically
    usable = codes >= 0
    if target is not None and target in frame:
        usable &= np.isfinite(pd.to_numeric(frame[target], errors="coerce").to_numpy(np.float64))
    used = np.unique(codes[usable])
    labels = np.asarray(uniques)[used]
    tp = test_periods or _default_test_periods(labels)
    if n_folds < 1 or tp < 1 or gap < 0:
        raise ValidationError("n_folds and test_periods must be >= 1 and gap >= 0")
    first_test = len(labels) - n_folds * tp
    if first_test - gap < min_train_periods:
        raise ValidationError(
            f"{len(labels)} periods cannot hold {n_folds} folds of {tp} test periods after "
            f"{min_train_periods} training period(s) and a gap of {gap}"
        )
    rank = np.full(len(uniques) + 1, -(10**9))
    rank[used] = np.arange(len(used))
    pos = np.where(usable, rank[codes], -(10**9))
    for k in range(n_folds):
        t0 = first_test + k * tp
        train_end = t0 - gap  # exclusive
        train_start = 0 if max_train_periods is None else max(0, train_end - max_train_periods)
        train = np.flatnonzero(usable & (pos >= train_start) & (pos < train_end))
        test = np.flatnonzero(usable & (pos >= t0) & (pos < t0 + tp))
        yield train, test


def relabel_risk(frame: pd.DataFrame, train_idx: np.ndarray, target: str = "y_saifi") -> np.ndarray:
    """Risk classes of all rows with cut points fitted on the training rows only (use per fold)."""
    y = frame[target].to_numpy(np.float64)
    return RiskBinner().fit(y[train_idx]).transform(y)
