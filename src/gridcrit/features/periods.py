"""Period arithmetic on integer indices (month: ``year*12 + month-1``; quarter: ``year*4 + q-1``).

Every feature of period ``p`` may only read rows whose timestamp is strictly before
``period_start(p)``; working on integer indices keeps that rule a simple ``<`` comparison and lets
features live in dense ``(asset, period)`` arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridcrit.errors import ValidationError

PERIODS = ("month", "quarter")


def check_period(period: str) -> str:
    """Validate the period name (``month`` or ``quarter``)."""
    if period not in PERIODS:
        raise ValidationError(f"unknown period {period!r}; use one of: {', '.join(PERIODS)}",
                              es=f"periodo desconocido {period!r}; use uno de: {', '.join(PERIODS)}")
    return period


def months_per_period(period: str) -> int:
    return 1 if check_period(period) == "month" else 3


def period_index(ts: pd.Series | pd.DatetimeIndex | np.ndarray, period: str) -> np.ndarray:
    """Integer period index of each timestamp (NaT -> -1)."""
    t = pd.DatetimeIndex(pd.to_datetime(ts))
    idx = t.year.to_numpy(np.int64) * 12 + t.month.to_numpy(np.int64) - 1
    idx = np.where(t.isna(), -1, idx)
    if check_period(period) == "quarter":
        idx = np.where(idx >= 0, idx // 3, -1)
    return idx.astype(np.int64)


def period_start(idx: np.ndarray | int, period: str) -> pd.DatetimeIndex:
    """First instant of each period index."""
    m = np.atleast_1d(np.asarray(idx, dtype=np.int64)) * months_per_period(period)
    return pd.DatetimeIndex(pd.to_datetime({"year": m // 12, "month": m % 12 + 1, "day": 1}))


def period_label(idx: np.ndarray | int, period: str) -> np.ndarray:
    """``'YYYY-MM'`` (month) or ``'YYYY-Qn'`` (quarter) labels; they sort chronologically as strings."""
    i = np.atleast_1d(np.asarray(idx, dtype=np.int64))
    if check_period(period) == "month":
        return np.array([f"{v // 12:04d}-{v % 12 + 1:02d}" for v in i], dtype=object)
    return np.array([f"{v // 4:04d}-Q{v % 4 + 1}" for v in i], dtype=object)


def parse_period(label: str, period: str) -> int:
    """Inverse of :func:`period_label` (also accepts ``YYYY-MM`` for quarters: the quarter holding it, and
    ``YYYYQn`` as ``gridcrit indices`` writes quarters)."""
    try:
        if "Q" in label.upper():  # YYYY-Qn (datasets) or YYYYQn (gridcrit indices, pandas)
            y, q = label.upper().strip().replace("-Q", "Q").split("Q")
            if not 1 <= int(q) <= 4:
                raise ValueError(f"quarter {q}")
            if check_period(period) == "month":
                return int(y) * 12 + (int(q) - 1) * 3
            return int(y) * 4 + int(q) - 1
        ts = pd.Timestamp(label)
    except (ValueError, TypeError) as e:
        raise ValidationError(f"cannot read period {label!r}; expected YYYY-MM or YYYY-Qn",
                              es=f"no se puede leer el periodo {label!r}; se espera AAAA-MM o AAAA-Qn") from e
    return int(period_index(pd.DatetimeIndex([ts]), period)[0])
