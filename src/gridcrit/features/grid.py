"""The (asset, period) grid every feature is computed on.

Rows of the dataset are the assets present in the **latest snapshot dated strictly before the period
starts** (``FECHA < period_start``), one row per asset and period. Features are first built as dense
``(asset, q)`` arrays over a period axis ``q0 .. p_last`` that reaches back before the first dataset
period (for lags), then gathered at the rows. ``past_cumsum`` is the one primitive the history and
exposure features share: for period ``p`` it only ever adds up bins of periods ``< p``.

A grid may hold the rows of only some periods of its dataset (``build_dataset(..., only_periods=...)``,
the next period's forecast): the dense axis, the vocabularies and the asset coordinates stay those of
the whole dataset, so every feature gathered at those rows equals the whole dataset's value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Grid:
    level: str
    period: str
    assets: pd.Index  # asset codes; position = asset index
    row_asset: np.ndarray  # asset index of each row
    row_period: np.ndarray  # absolute period index of each row
    q0: int  # first period of the dense axis
    p_last: int  # last period of the dense axis
    rows: pd.DataFrame  # the level's snapshot attributes, aligned with rows (FECHA = snapshot used)
    report: dict = field(default_factory=dict)
    vocab: dict = field(default_factory=dict)  # name -> list of strings (asset, circuit, mun, *_code)
    # True when the rows are those of only some periods of the dataset (a forecast period's rows)
    partial: bool = False
    # periods of the whole dataset that have rows (topology and the circuit exposure pick their
    # reference periods from it); None: those of the rows
    axis_periods: np.ndarray | None = None
    # (x, y) metres of every asset from its earliest snapshot in the whole dataset, when the rows
    # alone cannot tell (a partial grid); None: take them from the rows
    xy: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n_q(self) -> int:
        return self.p_last - self.q0 + 1

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    @property
    def periods(self) -> np.ndarray:
        """Periods of the whole dataset that have rows (sorted)."""
        return self.axis_periods if self.axis_periods is not None else np.unique(self.row_period)

    def dense(self, dtype=np.float64) -> np.ndarray:
        return np.zeros((self.n_assets, self.n_q), dtype=dtype)

    def gather(self, dense: np.ndarray, dtype=np.float32) -> np.ndarray:
        """Values of an ``(asset, q)`` array at the dataset rows (float32 by default: features are
        stored as float32, and at 10x scale a float64 row array is 110 MB)."""
        return dense.astype(dtype, copy=False)[self.row_asset, self.row_period - self.q0]

    def bin_q(self, q: np.ndarray) -> np.ndarray:
        """Column of the dense axis for absolute period ``q`` (earlier periods fold into column 0,
        which only feeds sums over the past; -1 marks periods after ``p_last`` / unknown)."""
        out = np.clip(q - self.q0, 0, None)
        return np.where((q < 0) | (q > self.p_last), -1, out)


def accumulate(grid: Grid, asset_idx: np.ndarray, q: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Dense ``(asset, q)`` sums of ``weights`` (1 if None); unknown assets (-1) are skipped."""
    col = grid.bin_q(np.asarray(q))
    ok = (np.asarray(asset_idx) >= 0) & (col >= 0)
    flat = np.asarray(asset_idx)[ok] * grid.n_q + col[ok]
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[ok]
    return np.bincount(flat, w, grid.n_assets * grid.n_q).reshape(grid.n_assets, grid.n_q)


def past_cumsum(dense: np.ndarray) -> np.ndarray:
    """``out[:, j] = dense[:, :j].sum(1)``: totals of all periods strictly before column ``j``."""
    out = np.zeros_like(dense)
    np.cumsum(dense[:, :-1], axis=1, out=out[:, 1:])
    return out


def past_window(cum: np.ndarray, w: int) -> np.ndarray:
    """Totals of the ``w`` periods just before each column, from a :func:`past_cumsum` array."""
    out = cum.copy()
    out[:, w:] -= cum[:, :-w]
    return out
