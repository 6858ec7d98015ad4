"""The criticality dataset: one row per asset x period, features known at the period start, targets of
the period.

>>> ds = build_dataset("gridcrit.duckdb", level="transformer", period="month")   # doctest: +SKIP
>>> X, y = ds.frame[ds.feature_columns], ds.frame["y_saifi"]                      # doctest: +SKIP
>>> ds.to_parquet("transformer_month.parquet")   # + transformer_month.card.json    # doctest: +SKIP

Frame columns: ``asset_id`` (str), ``period`` (str, ``YYYY-MM`` or ``YYYY-Qn``; sorts chronologically),
``period_start`` (timestamp), ``circuit`` (str, grouping key), the features (float32; ``*_code``
categoricals are integer codes, -1 missing), and the targets ``y_saifi``, ``y_saidi``, ``y_count``
(float; NaN for periods after the last event in the store) and ``y_risk`` (int8, see
:class:`gridcrit.features.targets.RiskBinner`).

The forecast of the period after the data needs that period's rows alone: ``build_dataset(store,
level, period, end=nxt, only_periods=[nxt])`` builds just those, identical to that period's rows of
the full build (``tests/test_forecast_rows.py``) in a fraction of its time.

Leakage rules (tested in ``tests/test_leakage_*.py``): every feature of period ``p`` reads only rows
dated strictly before ``period_start(p)``: asset tables through the latest snapshot before the start,
events / strokes / weather / vegetation records through their own dates. No identifier is a feature.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gridcrit.data.store import connect
from gridcrit.errors import NotFoundError, ValidationError
from gridcrit.features import attributes, exposure, history, targets, topology_features
from gridcrit.features.datacard import build_card
from gridcrit.features.grid import Grid, accumulate
from gridcrit.features.periods import (
    check_period,
    months_per_period,
    parse_period,
    period_label,
    period_start,
)

TARGET_COLUMNS = ["y_saifi", "y_saidi", "y_count", "y_risk"]
KEY_COLUMNS = ["asset_id", "period", "period_start", "circuit"]
CARD_KEY = b"gridcrit.datacard"


@dataclass
class CriticalityDataset:
    """An asset x period table with its column groups and data card."""

    frame: pd.DataFrame
    feature_columns: list[str]
    feature_groups: dict[str, str]  # column -> asset | topology | exposure | history
    level: str
    period: str
    card: dict = field(default_factory=dict)
    target_columns: list[str] = field(default_factory=lambda: list(TARGET_COLUMNS))

    risk_labels = targets.RISK_LABELS

    @property
    def categorical_columns(self) -> list[str]:
        """Features that are integer category codes (-1 = missing)."""
        return [c for c in self.feature_columns if c.endswith("_code")]

    def to_parquet(self, path: str | Path) -> Path:
        """Write the frame as Parquet (data card in its metadata) and the card as ``<stem>.card.json``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(self.frame, preserve_index=False)
        card = json.dumps(self.card, ensure_ascii=False, default=str)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), CARD_KEY: card.encode()})
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
        card_path(path).write_text(json.dumps(self.card, ensure_ascii=False, indent=1, default=str))
        return path

    def to_csv(self, path: str | Path) -> Path:
        """Write the frame as CSV (for spreadsheets and other tools) and the card as ``<stem>.card.json``.
        Only Parquet carries the card inside the file; the modelling commands read Parquet."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        self.frame.to_csv(tmp, index=False)
        tmp.replace(path)
        card_path(path).write_text(json.dumps(self.card, ensure_ascii=False, indent=1, default=str))
        return path

    def write(self, path: str | Path) -> Path:
        """Write Parquet for a ``.parquet`` name, CSV for a ``.csv`` name (the card beside either)."""
        suffix = Path(path).suffix.lower()
        if suffix == ".parquet":
            return self.to_parquet(path)
        if suffix == ".csv":
            return self.to_csv(path)
        raise ValidationError(f"{path}: use a .parquet or .csv file name")


def card_path(path: str | Path) -> Path:
    """Where the data card of the dataset at ``path`` lives: ``<stem>.card.json`` beside it."""
    path = Path(path)
    return path.with_name(path.stem + ".card.json")


def read_dataset(path: str | Path) -> CriticalityDataset:
    """Read a dataset written by :meth:`CriticalityDataset.to_parquet`."""
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"dataset {path} does not exist; build it with 'gridcrit dataset build'")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise ValidationError(f"{path}: not a readable Parquet file ({e})") from e
    raw = (table.schema.metadata or {}).get(CARD_KEY)
    if raw is None:
        raise ValidationError(f"{path}: no gridcrit data card in the Parquet metadata (not a gridcrit dataset)")
    card = json.loads(raw)
    frame = table.to_pandas()
    return CriticalityDataset(
        frame=frame,
        feature_columns=list(card["feature_columns"]),
        feature_groups=dict(card["feature_groups"]),
        level=card["level"],
        period=card["period"],
        card=card,
    )


def _str_column(codes: np.ndarray, labels) -> pd.Series:
    """A pyarrow-backed string column from integer codes (no per-row Python strings)."""
    arr = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(list(labels), pa.string()))
    return arr.cast(pa.string()).to_pandas()


def check_buffer(buffer_m) -> float:
    """The exposure buffer radius in metres: a finite number ≥ 1 (feature names carry it as whole
    metres, e.g. ``veg_records_100m``, so a smaller radius would be named ``0m``)."""
    try:
        b = float(buffer_m)
    except (TypeError, ValueError):
        raise ValidationError(f"buffer {buffer_m!r} is not a number of metres") from None
    if not math.isfinite(b) or b < 1:
        raise ValidationError(f"buffer {buffer_m!r}: must be a positive, finite number of metres (at least 1)")
    return b


def build_dataset(
    store,
    level: str = "transformer",
    period: str = "month",
    *,
    start: str | None = None,
    end: str | None = None,
    buffer_m: float = 100.0,
    history_months: int = 24,
    unplanned_only: bool = False,
    risk_fit_until: str | None = None,
    progress: bool = False,
    only_periods: str | Sequence[str] | None = None,
) -> CriticalityDataset:
    """Build the criticality dataset of ``level`` x ``period`` from a store.

    Parameters
    ----------
    store : path of a DuckDB store (opened read-only) or an open DuckDB connection.
    level : ``transformer`` | ``switch`` | ``segment`` | ``circuit``.
    period : ``month`` | ``quarter``.
    start, end : first / last period (``YYYY-MM`` or ``YYYY-Qn``). Default: from the first period after
        the first snapshot to the period of the last event in the store. An ``end`` beyond the events
        gives rows with NaN targets (features for forecasting the next period).
    buffer_m : radius of the vegetation buffer (metres).
    history_months : how far back the dense history axis reaches before the first period.
    unplanned_only : count only unplanned events (``tipo_causa == 'NP'``) in targets and history.
    risk_fit_until : last period whose targets fit the risk-class cut points (default: the training
        periods of the first fold of :func:`gridcrit.features.splits.rolling_origin_splits`).
    progress : show a progress bar.
    only_periods : build only the rows of these periods (labels between ``start`` and ``end``): the
        frame equals the full build's rows of those periods (same columns, dtypes, values, order,
        category codes; index from 0), but costs little more than one period's rows. For the forecast
        of the period after the data: ``end=nxt, only_periods=[nxt]``. Whatever depends on the other
        periods (vocabularies, earliest coordinates, the network snapshot a structure is traced from,
        sums over the past, the risk cut points) is still taken from all of them. The card describes
        the rows built (``only_periods``; risk cut points only when some row has a target).
    """
    level = attributes.check_level(level)
    period = check_period(period)
    buffer_m = check_buffer(buffer_m)
    own = not hasattr(store, "execute")
    con = connect(store, read_only=True) if own else store
    try:
        from gridcrit.runtime import default_threads

        con.execute(f"SET threads = {default_threads()}")
        con.execute("SET enable_progress_bar = false")
        # bound DuckDB's buffer (temp tables spill to disk) so the whole build fits the 8 GiB goal at 10x
        con.execute(f"SET memory_limit = '{os.environ.get('GRIDCRIT_DUCKDB_MEMORY', '2GB')}'")
        con.execute(f"SET temp_directory = '{tempfile.gettempdir()}/gridcrit_duckdb_tmp'")
    except Exception:  # pragma: no cover - read-only connections may refuse settings on old DuckDB
        pass
    if isinstance(only_periods, str):
        only_periods = [only_periods]
    if only_periods is not None and not len(only_periods):
        raise ValidationError("only_periods is empty: name at least one period (or None for all)",
                              es="only_periods está vacío: indique al menos un periodo (o None para todos)")
    only = None if only_periods is None else np.array([parse_period(str(x), period) for x in only_periods],
                                                      dtype=np.int64)
    try:
        return _build(con, level, period, start, end, buffer_m, history_months, unplanned_only,
                      risk_fit_until, progress, str(store) if own else "<connection>", only)
    finally:
        for kind, fn in (("VIEW", "duckdb_views"), ("TABLE", "duckdb_tables")):
            for (t,) in con.execute(
                f"SELECT {kind.lower()}_name FROM {fn}() WHERE temporary AND {kind.lower()}_name LIKE '\\_gc\\_%' ESCAPE '\\'"
            ).fetchall():
                con.execute(f'DROP {kind} IF EXISTS "{t}"')
        if own:
            con.close()


def _build(con, level, period, start, end, buffer_m, history_months, unplanned_only, risk_fit_until,
           progress, store_name, only: np.ndarray | None = None) -> CriticalityDataset:
    timings: dict[str, float] = {}
    steps = ["grid", "targets", "history", "attributes", "topology", "exposure", "assemble"]
    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task(f"dataset {level} x {period}", total=len(steps))
    t_last = [time.perf_counter()]

    import psutil

    proc = psutil.Process()
    rss: dict[str, float] = {}

    def step(name: str) -> None:
        now = time.perf_counter()
        timings[name] = round(now - t_last[0], 3)
        rss[name] = round(proc.memory_info().rss / 2**30, 3)
        t_last[0] = now
        if bar is not None:
            bar.update(task, advance=1, description=f"dataset {level} x {period}: {name} done")

    try:
        mpp = months_per_period(period)
        p_event_last = targets.last_event_period(con, period)
        p_start = parse_period(start, period) if start else None
        p_end = parse_period(end, period) if end else None
        hist_periods = max(1, -(-history_months // mpp))
        grid = attributes.build_grid(con, level, period, p_start, p_end, p_event_last, hist_periods,
                                     only=only)
        step("grid")

        feats: dict[str, np.ndarray] = {}
        groups: dict[str, str] = {}

        def add(cols: dict[str, np.ndarray], group: str) -> None:
            # pop from the producer's dict: no second reference keeps a 50 MB (10x scale) column alive
            for k in list(cols):
                feats[k] = np.asarray(cols.pop(k), dtype=np.float32)
                groups[k] = group

        # --- targets (dense over the whole axis: the same arrays feed the history features)
        key = "cto_equi_ope" if level == "circuit" else "equipo_ope"
        agg = targets.event_aggregates(con, period, key=key, unplanned_only=unplanned_only)
        codes = agg["code"].astype(str).str.strip()
        a_idx = grid.assets.get_indexer(codes.to_numpy())
        q = agg["q"].to_numpy(np.int64)
        count = accumulate(grid, a_idx, q, agg["n"].to_numpy(np.float64))
        saifi = accumulate(grid, a_idx, q, agg["saifi"].to_numpy(np.float64))
        saidi = accumulate(grid, a_idx, q, agg["saidi"].to_numpy(np.float64))
        y = {n: grid.gather(d, np.float64) for n, d in (("y_saifi", saifi), ("y_saidi", saidi), ("y_count", count))}
        # targets only for periods fully covered by the events: a quarter whose events stop part-way
        # (data up to May) would otherwise enter training and tests as an unusually quiet quarter
        p_target_last = targets.last_complete_period(con, period)
        no_events_yet = grid.row_period > (p_target_last if p_target_last is not None else -1)
        for v in y.values():
            v[no_events_yet] = np.nan
        if p_event_last is not None and p_target_last is not None and p_target_last < p_event_last:
            grid.report["incomplete_last_period"] = str(period_label(p_event_last, period)[0])
        # the risk cut points are fitted on the full grid's targets: with only some periods' rows, read
        # which rows the full grid has (asset, period pairs) when a row built has a target to classify;
        # rows without targets (the forecast) are class -1 whatever the cut points
        fit_frame = None
        if only is not None and (~no_events_yet).any():
            fit_frame = _full_grid_targets(con, grid, saifi, p_target_last)
        _report_unmatched(grid, agg, a_idx, q, level)
        first_q = int(q.min()) if len(q) else None
        step("targets")

        add(history.history_features(grid, count, saifi, saidi, first_q=first_q), "history")
        for g in targets.cause_groups():  # one dense array at a time (memory at 10x scale)
            dense = accumulate(grid, a_idx, q, agg[f"n_cause_{g}"].to_numpy(np.float64))
            add(history.cause_history(grid, g, dense), "history")
        del dense
        if level != "circuit":
            cagg = targets.event_aggregates(con, period, key="cto_equi_ope", unplanned_only=unplanned_only)
            add(history.circuit_history(grid, cagg, period), "history")
        del count, saifi, saidi
        step("history")

        attrs, vocabs = attributes.asset_attributes(grid)
        add(attrs, "asset")
        step("attributes")

        topo, topo_report = topology_features.topology_features(con, grid)
        physical = ("guard_wire", "bare_conductor")  # line attributes reached through the topology
        add({k: topo.pop(k) for k in list(topo) if k.startswith(physical)}, "asset")
        add(topo, "topology")
        grid.report["topology"] = topo_report
        step("topology")

        if level == "circuit":
            add(_circuit_exposure(con, grid, buffer_m), "exposure")
        else:
            x, yy = exposure.asset_xy(grid)
            add(exposure.vegetation_features(con, grid, x, yy, buffer_m), "exposure")
            add(exposure.lightning_features(con, grid, x, yy), "exposure")
            add(exposure.support_features(con, grid, x, yy, buffer_m), "exposure")
        add(exposure.weather_features(con, grid), "exposure")
        step("exposure")

        frame, feature_columns = _assemble(grid, feats, groups, y)
        ref = frame if only is None else fit_frame
        risk_until, fit_rows, binner = None, np.zeros(0, dtype=bool), None
        if ref is not None:
            risk_until = _risk_fit_until(ref, period, risk_fit_until)
            fit_rows = (ref["period"] <= risk_until).to_numpy() & np.isfinite(ref["y_saifi"].to_numpy())
            binner = targets.RiskBinner().fit(ref["y_saifi"].to_numpy()[fit_rows])
            frame["y_risk"] = binner.transform(frame["y_saifi"].to_numpy())
        else:  # no row has a target: what RiskBinner.transform gives NaN, without fitting cut points
            frame["y_risk"] = np.full(len(frame), -1, dtype=np.int8)
        step("assemble")
    finally:
        if bar is not None:
            bar.stop()

    feature_groups = {c: groups[c] for c in feature_columns}
    meta = {
        "kind": "gridcrit criticality dataset",
        "level": level,
        "period": period,
        "store": store_name,
        "rows": len(frame),
        "assets": int(frame["asset_id"].nunique()),
        "periods": [str(frame["period"].iloc[0]), str(frame["period"].iloc[-1])] if len(frame) else [],
        "feature_columns": feature_columns,
        "feature_groups": feature_groups,
        "target_columns": list(TARGET_COLUMNS),
        "categories": vocabs,
        "risk": {"labels": list(targets.RISK_LABELS), "target": "y_saifi", "fit_until": risk_until,
                 "fit_rows": int(fit_rows.sum()),
                 "thresholds": [float(t) for t in binner.thresholds_] if binner is not None else [],
                 "zero_inflation": "Bajo = no sustained interruption (y_saifi == 0); Medio/Alto/Muy Alto = "
                                   "terciles of the positive y_saifi of the fit periods. Refit per split with "
                                   "gridcrit.features.splits.relabel_risk."},
        "params": {"buffer_m": buffer_m, "history_months": history_months, "unplanned_only": unplanned_only,
                   "lightning_box_km": 3, "weather_normals_years": 10},
        "time_rule": "every feature of period p uses only rows dated before period_start(p); "
                     "targets use events starting within p",
        "report": grid.report,
        "timings_s": timings,
        "rss_gib_after_step": rss,
    }
    if only is not None:  # the rows of some periods only (values as in the full build)
        meta["only_periods"] = [str(v) for v in period_label(np.unique(only), period)]
        if binner is None:
            meta["risk"]["not_fitted"] = "the rows built have no targets (class -1): no cut points needed"
    card = build_card(list(frame.columns), feature_groups, meta)
    return CriticalityDataset(frame=frame, feature_columns=feature_columns, feature_groups=feature_groups,
                              level=level, period=period, card=card)


def _report_unmatched(grid: Grid, agg: pd.DataFrame, a_idx: np.ndarray, q: np.ndarray, level: str) -> None:
    """Count (never silently drop) events that cannot be tied to a dataset row."""
    in_range = (q >= grid.row_period.min()) & (q <= grid.p_last) if len(grid.row_period) else q < -1
    kind = agg["kind"].fillna("").astype(str).to_numpy()
    mine = np.ones(len(agg), bool) if level == "circuit" else kind == targets.LEVEL_EVENT_KIND[level]
    unknown = in_range & mine & (a_idx < 0)
    present = np.zeros((grid.n_assets, grid.n_q), dtype=bool)
    present[grid.row_asset, grid.row_period - grid.q0] = True
    cand = in_range & (a_idx >= 0)
    not_in_snapshot = cand.copy()
    not_in_snapshot[cand] = ~present[a_idx[cand], q[cand] - grid.q0]
    rows = agg["rows"].to_numpy()
    grid.report["events_on_unknown_devices"] = {
        "event_rows": int(rows[unknown].sum()),
        "examples": agg["code"][unknown].astype(str).head(5).tolist(),
    }
    grid.report["events_on_assets_absent_from_prior_snapshot"] = {
        "event_rows": int(rows[not_in_snapshot].sum()),
        "examples": agg["code"][not_in_snapshot].astype(str).head(5).tolist(),
    }
    grid.report["event_rows_without_customer_base"] = int(agg["rows_without_customers"].sum())


def _circuit_exposure(con, grid: Grid, buffer_m: float) -> dict[str, np.ndarray]:
    """Circuit exposure: vegetation by CIRCUITO_TRAMO; lightning as the mean over the circuit's segments."""
    out = exposure.vegetation_features(con, grid, np.array([]), np.array([]), buffer_m)
    # the segment grid spans the circuit grid's whole dataset (its first period with rows), holding the
    # rows of the same periods: segment coordinates and vocabularies as in the full build
    first = int(grid.periods.min())
    only = np.unique(grid.row_period) if grid.partial else None
    seg = attributes.build_grid(con, "segment", grid.period, first, grid.p_last, grid.p_last, first - grid.q0,
                                only=only)
    x, y = exposure.asset_xy(seg)
    light = exposure.lightning_features(con, seg, x, y)
    # segment rows -> circuit asset index (the segment's FPARENT at that period)
    names = pd.Index(pd.Index(grid.assets).astype(str).str.strip().str.upper())
    seg_c = names.get_indexer(pd.Index(seg.vocab["circuit"]))
    sc = seg.rows["circuit"].to_numpy()
    ca = np.where(sc >= 0, seg_c[np.maximum(sc, 0)] if len(seg_c) else -1, -1)
    res = {}
    for name, v in light.items():
        ok = (ca >= 0) & np.isfinite(v)
        tot = accumulate(grid, ca[ok], seg.row_period[ok], v[ok])
        cnt = accumulate(grid, ca[ok], seg.row_period[ok])
        with np.errstate(all="ignore"):
            res[name] = grid.gather(tot, np.float64) / grid.gather(cnt, np.float64)
    return {**out, **res}


def _assemble(grid: Grid, feats: dict, groups: dict, y: dict) -> tuple[pd.DataFrame, list[str]]:
    """One frame; features moved one at a time into a single float32 block to bound peak memory."""
    order = {"asset": 0, "topology": 1, "exposure": 2, "history": 3}
    cols = sorted(feats, key=lambda c: (order[groups[c]], list(feats).index(c)))
    n = len(grid.row_asset)
    block = np.empty((n, len(cols)), dtype=np.float32, order="F")  # columns contiguous: fast fill, and
    # its transpose is the C-ordered (k, n) block pandas keeps, so the frame below does not copy it
    for j, c in enumerate(cols):
        block[:, j] = feats.pop(c)
    frame = pd.DataFrame(block, columns=cols, copy=False)
    uniq_p = np.unique(grid.row_period)
    p_pos = np.searchsorted(uniq_p, grid.row_period)
    if grid.level == "circuit":
        circ_codes, circ_lab = grid.row_asset, list(grid.assets)
    else:
        rc = grid.rows["circuit"].to_numpy()
        circ_lab = [*grid.vocab["circuit"], ""]
        circ_codes = np.where(rc >= 0, rc, len(circ_lab) - 1)
    keys = pd.DataFrame({
        "asset_id": _str_column(grid.row_asset, grid.assets),
        "period": _str_column(p_pos, period_label(uniq_p, grid.period)),
        "period_start": period_start(uniq_p, grid.period)[p_pos],
        "circuit": _str_column(circ_codes, circ_lab),
    })
    tgt = pd.DataFrame({k: v for k, v in y.items()})
    frame = pd.concat([keys, frame, tgt], axis=1, copy=False)
    return frame, cols


def _full_grid_targets(con, grid: Grid, saifi: np.ndarray, p_target_last: int | None) -> pd.DataFrame:
    """``period`` and ``y_saifi`` of every row of the full grid (all periods), for fitting the risk cut
    points when ``grid`` holds only some periods' rows: the rows are the distinct (asset, period) pairs
    of the snapshot view ``_gc_sa`` (one integer pair per row, no attributes), the values those of the
    dense target array, as :func:`_build` gathers them. Row order differs from the full frame's; the
    fit does not depend on it (a split picks periods, the cut points are quantiles)."""
    r = con.execute("SELECT DISTINCT v.code AS a, s.p::BIGINT AS p FROM _gc_sa s "
                    "JOIN _gc_v_asset v ON v.raw = CAST(s.CODE AS VARCHAR)").df()
    a, p = r["a"].to_numpy(np.int64), r["p"].to_numpy(np.int64)
    y = saifi.astype(np.float64, copy=False)[a, p - grid.q0]
    y[p > (p_target_last if p_target_last is not None else -1)] = np.nan
    uniq_p = np.unique(p)
    return pd.DataFrame({"period": _str_column(np.searchsorted(uniq_p, p), period_label(uniq_p, grid.period)),
                         "y_saifi": y})


def _risk_fit_until(frame: pd.DataFrame, period: str, given: str | None) -> str:
    if given:
        p = parse_period(given, period)
        return str(period_label(p, period)[0])
    from gridcrit.features.splits import rolling_origin_splits

    try:
        train_idx, _ = next(iter(rolling_origin_splits(frame)))
    except (StopIteration, ValidationError):  # too few periods for a split: fit on all labelled ones
        ok = np.isfinite(frame["y_saifi"].to_numpy())
        return str(frame["period"][ok].max()) if ok.any() else ""
    return str(frame["period"].iloc[train_idx].max())
