"""The asset's own past: lags and rolling sums of interruptions, SAIFI and SAIDI.

All features of period ``p`` read only the dense target arrays at periods ``< p`` (via
:func:`gridcrit.features.grid.past_cumsum`), i.e. events that *started* before the period start.
Windows are stated in months and converted to periods (a quarter = 3 months).
"""

from __future__ import annotations

import numpy as np

from gridcrit.features.grid import Grid, past_cumsum, past_window
from gridcrit.features.periods import months_per_period

WINDOWS_MONTHS = (3, 12)


def history_features(grid: Grid, count: np.ndarray, saifi: np.ndarray, saidi: np.ndarray,
                     first_q: int | None = None) -> dict[str, np.ndarray]:
    """History features at the rows of ``grid`` from dense ``(asset, q)`` target arrays.

    ``first_q``: first period with event data (for
    ``hist_periods_observed``; default: the start of the dense axis).
    """
    mpp = months_per_period(grid.period)
    out: dict[str, np.ndarray] = {}
    cols = grid.row_period - grid.q0
    a = grid.row_asset
    def at(dense: np.ndarray, c: np.ndarray = cols) -> np.ndarray:  # gather as float32 (memory at 10x)
        return dense.astype(np.float32, copy=False)[a, c]

    for name, arr in (("count", count), ("saifi", saifi), ("saidi", saidi)):
        cum = past_cumsum(arr)
        out[f"hist_{name}_prev_period"] = past_window(cum, 1).astype(np.float32)[a, cols]
        for wm in WINDOWS_MONTHS:
            w = max(1, wm // mpp)
            out[f"hist_{name}_last_{wm}m"] = at(past_window(cum, w))
        if name != "count":  # the all-time count is split by recorded cause instead (cause_history)
            out[f"hist_{name}_total"] = at(cum)
    first_q = grid.q0 if first_q is None else first_q
    observed = np.clip(grid.row_period - first_q, 0, None).astype(np.float32)
    # periods since the last interruption ("never" = one more than the periods observed)
    has = count > 0
    last = np.where(has, np.arange(grid.n_q)[None, :], -1)
    last_before = np.maximum.accumulate(last, axis=1)  # latest event period at or before column j
    lb = np.where(cols >= 1, last_before[a, np.maximum(cols - 1, 0)], -1)
    out["hist_periods_since_last"] = np.where(lb >= 0, cols - lb, observed + 1).astype(np.float32)
    out["hist_periods_observed"] = observed
    return out


def cause_history(grid: Grid, group: str, count: np.ndarray) -> dict[str, np.ndarray]:
    """``hist_cause_<group>_total``: the asset's interruptions recorded with a cause of ``group``
    (:func:`gridcrit.features.targets.cause_groups`) over all periods before the start.

    The groups partition the events ("other" takes unknown and undescribed codes), so their sum is
    the asset's all-time interruption count, which is therefore not a column of its own. Why split
    it: the recorded cause is how a utility tells a lightning-prone or animal-prone asset apart from
    one that is merely busy, and what the maintenance action depends on (surge arresters vs animal
    guards vs replacement). One undivided total also took the credit that belongs to the drivers in
    per-row explanations (measured on the chec twin: docs/explanations.md). Codes are noisy — CREG
    30 "condiciones atmosféricas" covers lightning and storm-blown branches alike — so these are
    counts for the model to weigh, not labels.
    """
    return {f"hist_cause_{group}_total": past_cumsum(count).astype(np.float32)[grid.row_asset,
                                                                               grid.row_period - grid.q0]}


def circuit_history(grid: Grid, cagg, period: str) -> dict[str, np.ndarray]:
    """Recent history of each row's circuit (its ``FPARENT`` at the period start): events and SAIFI of
    the circuit (``cto_equi_ope``) over the 12 months before the start."""
    import pandas as pd

    circuits = pd.Index(grid.vocab["circuit"])  # normalised (upper, trimmed) circuit names
    ci = circuits.get_indexer(cagg["code"].astype(str).str.strip().str.upper().to_numpy())
    col = grid.bin_q(cagg["q"].to_numpy(np.int64))
    ok = (ci >= 0) & (col >= 0)
    n_c = len(circuits) + 1  # last row: circuits without events
    cnt = np.zeros((n_c, grid.n_q))
    sf = np.zeros((n_c, grid.n_q))
    np.add.at(cnt, (ci[ok], col[ok]), cagg["n"].to_numpy(np.float64)[ok])
    np.add.at(sf, (ci[ok], col[ok]), cagg["saifi"].to_numpy(np.float64)[ok])
    rc = grid.rows["circuit"].to_numpy()
    rc = np.where(rc >= 0, rc, n_c - 1)
    cols = grid.row_period - grid.q0
    w = max(1, 12 // months_per_period(period))
    return {
        "hist_circuit_count_last_12m": past_window(past_cumsum(cnt), w).astype(np.float32)[rc, cols],
        "hist_circuit_saifi_last_12m": past_window(past_cumsum(sf), w).astype(np.float32)[rc, cols],
    }
