"""Which assets exist in each period, and their attributes as of the period start.

For period ``p`` of a level's table (``trafos``, ``switches``, ``redmt``; circuits are the ``FPARENT``
values of ``redmt``), the snapshot used is the latest ``FECHA`` strictly before ``period_start(p)``.
Assets absent from that snapshot have no row in ``p`` (an asset installed during ``p`` is unknown
at its start). Age is measured at the period start.

Categorical attributes become integer codes numbered in order of **first appearance in time**
(ties by value), so codes of earlier periods never change when later data arrives or is removed
(a sorted vocabulary would shift codes when a new value appears: a subtle leak of the future).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridcrit.errors import NotFoundError, ValidationError
from gridcrit.features.grid import Grid
from gridcrit.features.periods import period_index, period_label, period_start

LEVELS = ("transformer", "switch", "segment", "circuit")
LEVEL_TABLE = {"transformer": "trafos", "switch": "switches", "segment": "redmt", "circuit": "redmt"}
# columns read per level (beyond CODE, FPARENT, FECHA); missing optional columns read as NULL
LEVEL_COLUMNS = {
    "transformer": ["KVA", "KV1", "IMPEDANCE", "USUARIOS", "DATE_FAB", "GRUPO015", "PHASES", "OWNER1", "TRFTYPE",
                    "TIPO_SUB", "MARCA", "ELNODE", "MUN", "LONGITUD", "LATITUD"],
    "switch": ["KV", "ASSEMBLY", "STATE", "PHASES", "LINESECTIO", "MUN", "LONGITUD", "LATITUD"],
    "segment": ["LENGTH", "KVNOM", "CAPACITY", "RESISTANCE", "PHASES", "CONDUCTOR", "GUARDACONDUCTOR",
                "TIPOCONDUCTOR", "FECHA_ACT",
                "ELNODE1", "ELNODE2", "MUN", "LONGITUD", "LATITUD", "LONGITUD2", "LATITUD2"],
}
CATEGORICAL = {
    "transformer": {"OWNER1": "owner_code", "TRFTYPE": "trftype_code", "TIPO_SUB": "mounting_code",
                    "MARCA": "brand_code"},
    "switch": {"ASSEMBLY": "switch_kind_code"},
    "segment": {"CONDUCTOR": "conductor_code"},
    "circuit": {},
}


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise ValidationError(f"unknown level {level!r}; use one of: {', '.join(LEVELS)}",
                              es=f"nivel desconocido {level!r}; use uno de: {', '.join(LEVELS)}")
    return level


def snapshot_dates(con, table: str) -> pd.DatetimeIndex:
    """Sorted distinct snapshot dates of ``table``."""
    d = con.execute(f'SELECT DISTINCT FECHA FROM "{table}" WHERE FECHA IS NOT NULL ORDER BY 1').df()["FECHA"]
    return pd.DatetimeIndex(pd.to_datetime(d))


def snapshot_for(dates: pd.DatetimeIndex, periods: np.ndarray, period: str) -> np.ndarray:
    """Per period: position in ``dates`` of the latest snapshot strictly before its start (-1 if none)."""
    starts = period_start(periods, period)
    return np.searchsorted(dates.values, starts.values, side="left") - 1


def guard_flag(v: pd.Series) -> np.ndarray:
    """1.0 where a guard (shield) wire is present: 'SI'/'S'/'YES'/'1' or a conductor code; 0 for 'NO'/empty."""
    s = v.astype("object").where(v.notna(), "").astype(str).str.strip().str.upper()
    absent = s.isin(["", "NO", "N", "0", "NONE", "-", "XXX", "FALSE", "SIN"])
    return np.where(absent, 0.0, 1.0)


def _present(con, table: str) -> set[str]:
    return {r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()}


def _clean(v) -> str | None:
    """Trimmed upper-case text; None for the utility's missing tokens."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    t = " ".join(str(v).upper().split())
    return None if t in ("", "-", "XXX") else t


def _phases(v) -> float:
    t = _clean(v) or ""
    n = sum(t.count(ch) for ch in "ABCRST")
    return float(min(n, 3)) if n else np.nan


def _protective(v) -> float:
    t = _clean(v) or ""
    return float(any(k in t for k in ("RECONECT", "RECLOSER", "INTERRUPTOR", "BREAKER", "CORTACIRC", "FUSIBLE", "FUSE")))


def _open(v) -> float:
    t = _clean(v) or ""
    return float(t.startswith("ABIER") or t == "OPEN")


def _bare(v) -> float:
    """1 for bare conductor (DESNUDO), 0 for insulated / covered (AISLADO, SEMIAISLADO), NaN unknown."""
    t = _clean(v)
    if t is None:
        return np.nan
    return 1.0 if t.startswith("DESNUD") or t == "BARE" else 0.0


def _guard(v) -> float:
    t = _clean(v) or "NO"
    return 0.0 if t in ("NO", "N", "0", "NONE", "FALSE", "SIN") else 1.0


# per level: feature -> (raw column, function of one raw value); evaluated once per distinct value
MAPPED = {
    "transformer": {"phases_n": ("PHASES", _phases)},
    "switch": {"phases_n": ("PHASES", _phases), "is_protective": ("ASSEMBLY", _protective),
               "normally_open": ("STATE", _open)},
    "segment": {"phases_n": ("PHASES", _phases), "guard_wire": ("GUARDACONDUCTOR", _guard),
                "bare_conductor": ("TIPOCONDUCTOR", _bare)},
    "circuit": {},
}
NUMERIC = {
    "transformer": {"kva": "KVA", "kv_primary": "KV1", "impedance_pct": "IMPEDANCE", "customers": "USUARIOS",
                    "quality_group": "GRUPO015"},
    "switch": {"kv": "KV"},
    "segment": {"length_m": "LENGTH", "kv": "KVNOM", "capacity_a": "CAPACITY", "resistance_ohm": "RESISTANCE"},
    "circuit": {"n_segments": "n_segments", "line_km": "line_km"},
}


def _register_map(con, name: str, col: str, fn) -> None:
    """Temp table ``_gc_m_<name>(raw, val)`` of ``fn`` over the distinct raw values of ``_gc_s.col``."""
    raw = con.execute(f'SELECT DISTINCT CAST("{col}" AS VARCHAR) AS raw FROM _gc_s').df()["raw"]
    df = pd.DataFrame({"raw": raw.astype(object), "val": [fn(v) for v in raw.astype(object)]})
    con.register(f"_gc_mdf_{name}", df)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _gc_m_{name} AS SELECT * FROM _gc_mdf_{name}")
    con.unregister(f"_gc_mdf_{name}")


def _register_vocab(con, name: str, col: str, normalise: bool) -> list[str]:
    """Temp table ``_gc_v_<name>(raw, k, code)``: codes numbered by first appearance (FECHA, then value)
    of the normalised value ``k`` over every period of the dataset (``_gc_sa``, not only the rows
    built); returns the vocabulary (``k`` by code)."""
    r = con.execute(f'SELECT CAST("{col}" AS VARCHAR) AS raw, min(FECHA) AS f FROM _gc_sa '
                    f'WHERE "{col}" IS NOT NULL GROUP BY 1').df()
    r["k"] = [(_clean(v) if normalise else v) for v in r["raw"].astype(object)]
    r = r.dropna(subset=["k"])
    first = r.groupby("k", as_index=False)["f"].min().sort_values(["f", "k"], kind="stable")
    first["code"] = np.arange(len(first), dtype=np.int32)
    r = r.merge(first[["k", "code"]], on="k")
    con.register(f"_gc_vdf_{name}", r[["raw", "k", "code"]])
    con.execute(f"CREATE OR REPLACE TEMP TABLE _gc_v_{name} AS SELECT * FROM _gc_vdf_{name}")
    con.unregister(f"_gc_vdf_{name}")
    return first["k"].astype(str).tolist()


def build_grid(con, level: str, period: str, start: int | None, end: int | None, p_event_last: int | None,
               history_periods: int, only: np.ndarray | None = None) -> Grid:
    """Rows (asset x period) of the dataset and the level's snapshot attributes at each row.

    Strings never reach Python per row: assets, circuits, municipalities and categorical attributes
    come back as integer codes (vocabularies in ``grid.vocab``); text attributes are mapped once per
    distinct value. This keeps CHEC-size builds fast. Leaves temp views ``_gc_s`` (the rows) and
    ``_gc_sa`` (the rows of every period of the dataset), tables ``_gc_v_*`` (vocabularies: raw, k,
    code) and ``_gc_m_*`` on ``con``.

    ``only``: period indices whose rows to build (None: all). Everything that depends on the other
    periods is still taken from all of them, so each row equals the row of the full grid: the
    vocabularies (codes by first appearance in time, and so the asset order of the rows), the dense
    axis ``q0``, ``grid.axis_periods`` (periods with rows) and ``grid.xy`` (coordinates from each
    asset's earliest snapshot). Those read one or two columns of the snapshots in DuckDB; the wide
    attribute rows are read for ``only`` alone.
    """
    table = LEVEL_TABLE[check_level(level)]
    dates = snapshot_dates(con, table)
    if len(dates) == 0:
        raise NotFoundError(f"table {table} is empty: no {level} snapshots to build a {level} dataset from",
                            es=f"la tabla {table} está vacía: no hay cortes de {level} para construir el conjunto")
    first = int(period_index(dates[:1], period)[0]) + 1  # first period starting after a snapshot
    last = p_event_last if p_event_last is not None else int(period_index(dates[-1:], period)[0]) + 1
    p0 = max(first, start) if start is not None else first
    p1 = end if end is not None else last
    if p1 < p0:
        first_l, last_l = period_label(np.array([p0, p1]), period)
        raise ValidationError(f"no {period}s to build: first possible {first_l}, last {last_l} (check --start/--end)",
                              es=f"no hay periodos ({period}) que construir: primero posible {first_l}, último "
                                 f"{last_l} (revise --start/--end)")
    periods = np.arange(p0, p1 + 1)
    if only is not None:
        only = np.unique(np.asarray(only, dtype=np.int64))
        outside = only[(only < p0) | (only > p1)]
        if len(outside):
            bad, first_l, last_l = period_label(np.array([outside[0], p0, p1]), period)
            raise ValidationError(f"period {bad} is not in the dataset ({first_l}..{last_l})",
                                  es=f"el periodo {bad} no está en el conjunto ({first_l}..{last_l})")
    snap_pos = snapshot_for(dates, periods, period)
    use = pd.DataFrame({"FECHA": dates[snap_pos].date, "p": periods, "start": period_start(periods, period).date})
    present = _present(con, table)
    want = ["CODE", "FPARENT", "FECHA", *LEVEL_COLUMNS.get(level, [])]
    sel = ", ".join(f's."{c}"' if c in present else f'NULL AS "{c}"' for c in want)

    def snapshot_view(name: str, dates_table: str) -> None:
        # a view, not a table: each query below reads only the columns it needs, and nothing of the
        # snapshot rows is held in DuckDB's memory (14M rows at 10x scale)
        if level == "circuit":
            con.execute(
                f"""CREATE OR REPLACE TEMP VIEW {name} AS
                    SELECT s.FPARENT AS CODE, s.FPARENT, s.FECHA, d.p, d.start, count(*)::DOUBLE AS n_segments,
                           sum(TRY_CAST({'s."LENGTH"' if "LENGTH" in present else "NULL"} AS DOUBLE)) / 1000.0 AS line_km,
                           mode({'s."MUN"' if "MUN" in present else "NULL"}) AS MUN
                    FROM "{table}" s JOIN {dates_table} d ON s.FECHA = d.FECHA
                    WHERE s.FPARENT IS NOT NULL GROUP BY s.FPARENT, s.FECHA, d.p, d.start"""
            )
        else:
            con.execute(
                f"""CREATE OR REPLACE TEMP VIEW {name} AS
                    SELECT {sel}, d.p, d.start FROM "{table}" s JOIN {dates_table} d ON s.FECHA = d.FECHA
                    WHERE s.CODE IS NOT NULL"""
            )

    con.register("_gc_dates", use)
    try:
        n_dup = 0
        con.execute("CREATE OR REPLACE TEMP TABLE _gc_dates_t AS SELECT * FROM _gc_dates")
        # _gc_sa: every period of the dataset (vocabularies, earliest snapshots); _gc_s: the rows built
        snapshot_view("_gc_sa", "_gc_dates_t")
        if only is None:
            con.execute("CREATE OR REPLACE TEMP VIEW _gc_s AS SELECT * FROM _gc_sa")
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _gc_rdates_t AS SELECT * FROM _gc_dates_t "
                        f"WHERE p IN ({', '.join(str(int(v)) for v in only)})")
            snapshot_view("_gc_s", "_gc_rdates_t")
    finally:
        con.unregister("_gc_dates")
    s_cols = _present(con, "_gc_s")
    vocab_cols = {"asset": "CODE", "circuit": "FPARENT", "mun": "MUN", **{v: k for k, v in CATEGORICAL[level].items()}}
    vocab: dict[str, list[str]] = {}
    joins, selects = [], []
    for name, col in vocab_cols.items():
        if col not in s_cols:
            selects.append(f"-1 AS {name}")
            vocab[name] = []
            continue
        # codes from every period of the dataset: the codes a model was trained with, whichever rows
        vocab[name] = _register_vocab(con, name, col, normalise=name != "asset")
        joins.append(f'LEFT JOIN _gc_v_{name} v_{name} ON v_{name}.raw = CAST(s."{col}" AS VARCHAR)')
        selects.append(f"coalesce(v_{name}.code, -1)::INTEGER AS {name}")
    for name, (col, fn) in MAPPED[level].items():
        _register_map(con, name, col, fn)
        joins.append(f'LEFT JOIN _gc_m_{name} m_{name} ON m_{name}.raw = CAST(s."{col}" AS VARCHAR)')
        selects.append(f"CAST(m_{name}.val AS FLOAT) AS {name}")
    selects += [f'TRY_CAST(s."{c}" AS FLOAT) AS {n}' for n, c in NUMERIC[level].items()]
    if level == "transformer":
        selects.append("CASE WHEN s.DATE_FAB <= s.start THEN date_diff('day', CAST(s.DATE_FAB AS DATE), s.start)"
                       " / 365.25 END::FLOAT AS age_years")
    if level == "segment":
        selects.append("CASE WHEN s.FECHA_ACT <= s.start THEN date_diff('day', CAST(s.FECHA_ACT AS DATE), s.start)"
                       " / 365.25 END::FLOAT AS years_since_update")
    lon = lat = None
    if level != "circuit":
        lon, lat = 'TRY_CAST(s."LONGITUD" AS DOUBLE)', 'TRY_CAST(s."LATITUD" AS DOUBLE)'
        if level == "segment":  # midpoint when both ends are known
            lon2, lat2 = 'TRY_CAST(s."LONGITUD2" AS DOUBLE)', 'TRY_CAST(s."LATITUD2" AS DOUBLE)'
            both = f"{lon2} IS NOT NULL AND {lat2} IS NOT NULL"
            lon = f"CASE WHEN {both} THEN ({lon} + {lon2}) / 2 ELSE {lon} END"
            lat = f"CASE WHEN {both} THEN ({lat} + {lat2}) / 2 ELSE {lat} END"
        selects += [f"{lon} AS lon", f"{lat} AS lat"]
    rows = con.execute(f"SELECT s.p::INTEGER AS p, {', '.join(selects)} FROM _gc_s s {' '.join(joins)}").df()
    # order rows by (period, asset) in numpy: cheaper than a DuckDB sort of all columns
    order = np.lexsort((rows["asset"].to_numpy(), rows["p"].to_numpy()))
    if not (order[1:] > order[:-1]).all():
        rows = rows.take(order).reset_index(drop=True)
    # duplicate (CODE, FECHA) snapshot rows (ingest rejects them; hand-made stores may not): keep the first
    pa_, aa_ = rows["p"].to_numpy(), rows["asset"].to_numpy()
    dup = np.zeros(len(rows), dtype=bool)
    dup[1:] = (pa_[1:] == pa_[:-1]) & (aa_[1:] == aa_[:-1])
    n_dup = int(dup.sum())
    if n_dup:
        rows = rows[~dup].reset_index(drop=True)
    assets = pd.Index(vocab["asset"])
    q0 = p0 - history_periods
    grid = Grid(
        level=level,
        period=period,
        assets=assets,
        row_asset=rows.pop("asset").to_numpy(np.int64),
        row_period=rows.pop("p").to_numpy(np.int64),
        q0=q0,
        p_last=int(periods[-1]),
        rows=rows,
    )
    grid.vocab = vocab
    if only is None:
        grid.axis_periods = np.unique(grid.row_period)
    else:
        grid.partial = True
        grid.axis_periods = _axis_periods(con, table, level, dates, snap_pos, periods)
        if lon is not None:
            grid.xy = _earliest_xy(con, lon, lat, len(assets))
    grid.report["duplicate_snapshot_rows_dropped"] = n_dup
    grid.report["snapshots_used"] = len(np.unique(use["FECHA"]))
    grid.report["periods_without_assets"] = len(set(periods) - set(grid.axis_periods.tolist()))
    return grid


def _axis_periods(con, table: str, level: str, dates: pd.DatetimeIndex, snap_pos: np.ndarray,
                  periods: np.ndarray) -> np.ndarray:
    """The periods of the full grid that have rows: those whose snapshot holds an asset (one
    ``DISTINCT FECHA`` of the table instead of reading its rows)."""
    key = "FPARENT" if level == "circuit" else "CODE"
    with_rows = con.execute(
        f'SELECT DISTINCT FECHA FROM "{table}" WHERE FECHA IS NOT NULL AND "{key}" IS NOT NULL').df()["FECHA"]
    return periods[dates[snap_pos].isin(pd.DatetimeIndex(pd.to_datetime(with_rows)))]


def _earliest_xy(con, lon: str, lat: str, n_assets: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) metres of every asset at its earliest row of the full grid (as
    :func:`gridcrit.features.exposure.asset_xy` takes them from a full grid's rows), NaN if unknown."""
    from gridcrit.features.exposure import to_metres

    r = con.execute(
        f"""SELECT v.code AS asset, {lon} AS lon, {lat} AS lat
            FROM _gc_sa s JOIN _gc_v_asset v ON v.raw = CAST(s.CODE AS VARCHAR)
            QUALIFY row_number() OVER (PARTITION BY v.code ORDER BY s.p) = 1"""
    ).df()
    x = np.full(n_assets, np.nan)
    y = np.full(n_assets, np.nan)
    a = r["asset"].to_numpy(np.int64)
    x[a], y[a] = to_metres(r["lon"].to_numpy(np.float64), r["lat"].to_numpy(np.float64))
    return x, y


def asset_attributes(grid: Grid) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Attribute features of every row and the vocabularies of categorical codes."""
    r = grid.rows
    names = [n for n in r.columns if n not in ("circuit", "mun", "lon", "lat")]
    out = {n: r.pop(n).to_numpy(np.float32) for n in names}  # popped: grid.rows shrinks as we go
    vocabs = {n: grid.vocab[n] for n in CATEGORICAL[grid.level].values()}
    return out, vocabs
