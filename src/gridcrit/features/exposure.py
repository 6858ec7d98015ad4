"""Exposure of an asset to its environment, from facts dated before the period start.

* **Vegetation** (``vegetacion``): inspection records within ``buffer_m`` of the asset (a KD-tree over
  coordinates in metres), all of them and those the utility rated *Alto*, counted over records with
  ``FECHA < period start``. Segments also count the records whose ``NODO_1``/``NODO_2`` are the
  segment's nodes; circuits count the records whose ``CIRCUITO_TRAMO`` is the circuit.
* **Lightning** (``rayos``): cloud-to-ground strokes (``TIPO`` not ``IC``) in the 3 x 3 km box of
  1 km cells around the asset, over the previous period and the last 12 months. A fixed grid (not a
  KD-tree) because strokes are millions: a DuckDB ``GROUP BY`` of cells does it in one pass. The grid
  is anchored at fixed coordinates so a cell never depends on which strokes are loaded.
* **Weather** (``clima``, per municipality): statistics of the previous period and of the last 3
  months, and *normals* of the coming period = mean of the same calendar month/quarter in earlier
  years (NaN until one year of weather exists).

Coordinates: a local equirectangular projection around fixed (-75.5°, 5.0°), metres; an asset's
position is taken from its earliest snapshot (which precedes every period it appears in).
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from gridcrit.features.grid import Grid, accumulate, past_cumsum, past_window
from gridcrit.features.periods import months_per_period, period_index

LON0, LAT0 = -75.5, 5.0
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * np.cos(np.radians(LAT0))


def to_metres(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) metres east/north of the fixed origin."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    return (lon - LON0) * M_PER_DEG_LON, (lat - LAT0) * M_PER_DEG_LAT


def normalise_name(s: pd.Series) -> pd.Series:
    """Upper case, no accents, trimmed (municipality names, risk levels)."""
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        t = unicodedata.normalize("NFKD", str(v)).encode("ascii", "ignore").decode()
        return " ".join(t.upper().split()) or None

    uniq = pd.unique(s.astype(object))
    return s.astype(object).map(dict(zip(uniq, [one(v) for v in uniq], strict=True)))


def asset_xy(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (metres) of every asset from its earliest snapshot; segments use their midpoint."""
    if grid.xy is not None:  # a grid of some periods' rows: its earliest row need not be the earliest
        return grid.xy
    x = np.full(grid.n_assets, np.nan)
    y = np.full(grid.n_assets, np.nan)
    if "lon" not in grid.rows:
        return x, y
    a, first = np.unique(grid.row_asset, return_index=True)  # rows are sorted by period
    xx, yy = to_metres(grid.rows["lon"].to_numpy(np.float64)[first], grid.rows["lat"].to_numpy(np.float64)[first])
    x[a], y[a] = xx, yy
    return x, y


def risk_level(s: pd.Series) -> np.ndarray:
    """0 unknown, 1 Bajo, 2 Medio, 3 Alto (also 'MUY ALTO'); dirty spellings tolerated."""
    n = normalise_name(s).fillna("").astype(str)
    return np.select([n.str.contains("ALT"), n.str.contains("MED"), n.str.contains("BAJ")], [3, 2, 1], 0)


def vegetation_features(con, grid: Grid, x: np.ndarray, y: np.ndarray, buffer_m: float = 100.0) -> dict:
    """Vegetation record counts within ``buffer_m`` (and on the segment / circuit) before each period."""
    b = int(buffer_m)
    veg = con.execute(
        """SELECT FECHA, NIVEL_RIES, LONGITUD, LATITUD, CIRCUITO_TRAMO, NODO_1, NODO_2
           FROM vegetacion WHERE FECHA IS NOT NULL"""
    ).df()
    q = period_index(veg["FECHA"], grid.period)
    high = (risk_level(veg["NIVEL_RIES"]) == 3).astype(np.float64)
    out: dict[str, np.ndarray] = {}
    w12 = max(1, 12 // months_per_period(grid.period))

    def emit(prefix: str, a_idx: np.ndarray, qq: np.ndarray, hi: np.ndarray) -> None:
        all_ = past_cumsum(accumulate(grid, a_idx, qq))
        hig = past_cumsum(accumulate(grid, a_idx, qq, hi))
        out[f"{prefix}"] = grid.gather(all_)
        out[f"{prefix.replace('veg_records', 'veg_high_risk')}"] = grid.gather(hig)
        out[f"{prefix.replace('veg_records', 'veg_records_last_12m')}"] = grid.gather(past_window(all_, w12))

    if grid.level != "circuit":
        vx, vy = to_metres(pd.to_numeric(veg["LONGITUD"], errors="coerce"), pd.to_numeric(veg["LATITUD"], errors="coerce"))
        okv = np.isfinite(vx) & np.isfinite(vy)
        oka = np.isfinite(x) & np.isfinite(y)
        ai, vi = np.array([], dtype=np.int64), np.array([], dtype=np.int64)
        if okv.any() and oka.any():
            at = cKDTree(np.column_stack([x[oka], y[oka]]))
            vt = cKDTree(np.column_stack([vx[okv], vy[okv]]))
            pairs = at.sparse_distance_matrix(vt, buffer_m, output_type="ndarray")
            ai = np.flatnonzero(oka)[pairs["i"]]
            vi = np.flatnonzero(okv)[pairs["j"]]
        emit(f"veg_records_{b}m", ai, q[vi], high[vi])
        grid.report["assets_without_coordinates"] = int((~oka).sum())
    if grid.level == "segment":  # records naming the segment's nodes (either order), via SQL
        seg = con.execute(
            # the segment's nodes at its earliest snapshot of the whole dataset (_gc_sa, not only the
            # periods whose rows are built: a forecast's rows give the same counts as the full build)
            """WITH s AS (SELECT a.code AS asset, CAST(ELNODE1 AS VARCHAR) AS n1, CAST(ELNODE2 AS VARCHAR) AS n2
                          FROM _gc_sa JOIN _gc_v_asset a ON a.raw = CAST(_gc_sa.CODE AS VARCHAR)
                          QUALIFY row_number() OVER (PARTITION BY a.code ORDER BY _gc_sa.p) = 1),
                   v AS (SELECT row_number() OVER () - 1 AS vi, CAST(NODO_1 AS VARCHAR) AS n1,
                                CAST(NODO_2 AS VARCHAR) AS n2 FROM vegetacion WHERE FECHA IS NOT NULL)
               SELECT s.asset, v.vi FROM v JOIN s ON v.n1 = s.n1 AND v.n2 = s.n2
               UNION ALL
               SELECT s.asset, v.vi FROM v JOIN s ON v.n1 = s.n2 AND v.n2 = s.n1 AND s.n1 <> s.n2"""
        ).df()
        vi = seg["vi"].to_numpy(np.int64)
        emit("veg_records_on_segment", seg["asset"].to_numpy(np.int64), q[vi], high[vi])
    if grid.level == "circuit":
        names = pd.Index(pd.Index(grid.assets).astype(str).str.strip().str.upper())
        ci = names.get_indexer(veg["CIRCUITO_TRAMO"].astype(str).str.strip().str.upper().to_numpy())
        emit("veg_records_circuit", ci, q, high)
    return out


# A pole-mounted transformer or switch stands on a support; ``apoyos`` has no node column, so the
# asset's own pole is the nearest support within this distance (GPS of both: the twin puts a node's
# support a few metres off the node, median 5 m, 90 % within 12 m; the next support is ~60 m away).
OWN_POLE_M = 25.0


def support_features(con, grid: Grid, x: np.ndarray, y: np.ndarray, buffer_m: float = 100.0) -> dict:
    """Supports (``apoyos``) within ``buffer_m``: how many, how many without foot grounding
    (``TIERRA_PIE``), how many wooden (``MATERIAL`` MADERA). Each support counts from the period after
    its first snapshot, with the attributes of that first snapshot.

    Point assets (transformers, switches) also get their **own pole**: ``pole_wood`` and
    ``pole_no_grounding`` (1/0) of the nearest support within :data:`OWN_POLE_M`, NaN while no such
    support is known (animals climb a wooden pole to reach a bare bushing; a stroke at a pole without
    foot grounding reaches the equipment on it — the counts within 100 m blur both with neighbours')."""
    b = int(buffer_m)
    sup = con.execute(
        """SELECT arg_min(LONGITUD, FECHA) AS lon, arg_min(LATITUD, FECHA) AS lat, min(FECHA) AS f,
                  arg_min(TIERRA_PIE, FECHA) AS ground, arg_min(MATERIAL, FECHA) AS material
           FROM apoyos WHERE CODE IS NOT NULL AND FECHA IS NOT NULL GROUP BY CODE"""
    ).df()
    names = [f"supports_{b}m", f"supports_no_grounding_{b}m", f"supports_wood_{b}m"]
    own = ["pole_wood", "pole_no_grounding"] if grid.level in ("transformer", "switch") else []
    if not len(sup):
        return {n: np.full(len(grid.row_asset), np.nan, dtype=np.float32) for n in names + own}
    # a snapshot dated in period q is known from period q + 1 on
    q = period_index(sup["f"], grid.period) + 1
    ground = normalise_name(sup["ground"]).fillna("").astype(str)
    no_ground = (~ground.isin(["SI", "S", "YES", "1", "TRUE"])).to_numpy(np.float64)
    wood = normalise_name(sup["material"]).fillna("").astype(str).str.startswith("MADER").to_numpy(np.float64)
    sx, sy = to_metres(sup["lon"], sup["lat"])
    oks = np.isfinite(sx) & np.isfinite(sy)
    oka = np.isfinite(x) & np.isfinite(y)
    ai = si = pole_ai = pole_si = np.array([], dtype=np.int64)
    if oks.any() and oka.any():
        a_idx, s_idx = np.flatnonzero(oka), np.flatnonzero(oks)
        a_xy, s_tree = np.column_stack([x[oka], y[oka]]), cKDTree(np.column_stack([sx[oks], sy[oks]]))
        pairs = cKDTree(a_xy).sparse_distance_matrix(s_tree, buffer_m, output_type="ndarray")
        ai, si = a_idx[pairs["i"]], s_idx[pairs["j"]]
        if own:  # the asset's own pole: its nearest support within OWN_POLE_M
            dist, j = s_tree.query(a_xy, distance_upper_bound=OWN_POLE_M)
            hit = np.isfinite(dist)
            pole_ai, pole_si = a_idx[hit], s_idx[j[hit]]
    # cumulative up to and including column j (q already shifted by one period)
    out = {}
    for n, w in zip(names, (None, no_ground, wood), strict=True):
        d = accumulate(grid, ai, q[si], None if w is None else w[si])
        out[n] = grid.gather(np.cumsum(d, axis=1))
    if own:  # NaN until the pole's snapshot is known (and for assets without one)
        known = np.cumsum(accumulate(grid, pole_ai, q[pole_si]), axis=1) > 0
        for n, w in zip(own, (wood, no_ground), strict=True):
            v = np.cumsum(accumulate(grid, pole_ai, q[pole_si], w[pole_si]), axis=1)
            out[n] = grid.gather(np.where(known, v, np.nan))
    return out


def lightning_features(con, grid: Grid, x: np.ndarray, y: np.ndarray, cell_m: float = 1000.0) -> dict:
    """Cloud-to-ground strokes in the 3x3-cell box around each asset, previous period and last 12 months."""
    k = months_per_period(grid.period)
    agg = con.execute(
        f"""SELECT floor((LONGITUD - ({LON0})) * {M_PER_DEG_LON} / {cell_m})::BIGINT AS ix,
                   floor((LATITUD - ({LAT0})) * {M_PER_DEG_LAT} / {cell_m})::BIGINT AS iy,
                   (year(FECHA) * 12 + month(FECHA) - 1) // {k} AS q, count(*) AS n
            FROM rayos
            WHERE FECHA IS NOT NULL AND LONGITUD IS NOT NULL AND LATITUD IS NOT NULL
              AND (TIPO IS NULL OR upper(TIPO) <> 'IC')
            GROUP BY ALL"""
    ).df()
    ncol = grid.n_q
    cells = pd.Index(pd.unique(agg["ix"].to_numpy() * 4_194_304 + agg["iy"].to_numpy()))
    ckey = agg["ix"].to_numpy() * 4_194_304 + agg["iy"].to_numpy()
    col = grid.bin_q(agg["q"].to_numpy(np.int64))
    ok = col >= 0
    cm = np.zeros((len(cells) + 1, ncol))  # last row: "no strokes" for cells never hit
    np.add.at(cm, (cells.get_indexer(ckey[ok]), col[ok]), agg["n"].to_numpy(np.float64)[ok])
    box = np.zeros((grid.n_assets, ncol))
    oka = np.isfinite(x) & np.isfinite(y)
    ax = np.floor(np.where(oka, x, 0) / cell_m).astype(np.int64)
    ay = np.floor(np.where(oka, y, 0) / cell_m).astype(np.int64)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            ci = cells.get_indexer((ax + dx) * 4_194_304 + (ay + dy))
            box += cm[np.where(ci >= 0, ci, len(cells))]
    box[~oka] = np.nan
    area_km2 = 9 * (cell_m / 1000.0) ** 2
    cum = past_cumsum(box)
    w12 = max(1, 12 // k)
    return {
        "lightning_strokes_prev_period": grid.gather(past_window(cum, 1)),
        "lightning_density_last_12m": grid.gather(past_window(cum, w12)) / area_km2,
    }


def weather_features(con, grid: Grid) -> dict:
    """Weather of the municipality of each row: previous period, last 3 months, and normals."""
    k = months_per_period(grid.period)
    w = con.execute(
        f"""WITH d AS (
                SELECT MUN, CAST(FECHA AS DATE) AS day, sum(precip) AS precip, avg(temp) AS temp,
                       max(wind_gust_spd) AS gust
                FROM clima WHERE FECHA IS NOT NULL AND MUN IS NOT NULL GROUP BY ALL)
            SELECT MUN, (year(day) * 12 + month(day) - 1) // {k} AS q, sum(precip) AS rain,
                   max(precip) AS rain_max_day, avg(temp) AS temp, max(temp) AS temp_max,
                   max(gust) AS gust, count(*) AS days
            FROM d GROUP BY ALL"""
    ).df()
    w["MUN"] = normalise_name(w["MUN"])
    w = w.groupby(["MUN", "q"], as_index=False).agg(
        rain=("rain", "sum"), rain_max_day=("rain_max_day", "max"), temp=("temp", "mean"),
        temp_max=("temp_max", "max"), gust=("gust", "max"))
    muns = pd.Index(pd.unique(w["MUN"]))
    q_lo = grid.q0 - 12 * 10 // k  # normals may look back ten years
    n_q = grid.p_last - q_lo + 1
    mi = muns.get_indexer(w["MUN"])
    qi = w["q"].to_numpy(np.int64) - q_lo
    ok = (qi >= 0) & (qi < n_q)
    dense = {}
    for c in ("rain", "rain_max_day", "temp", "temp_max", "gust"):
        d = np.full((len(muns) + 1, n_q), np.nan)  # last row: unknown municipality
        d[mi[ok], qi[ok]] = w[c].to_numpy(np.float64)[ok]
        dense[c] = d
    vocab_m = muns.get_indexer(normalise_name(pd.Series(grid.vocab.get("mun", []), dtype=object)).fillna("\x00").to_numpy())
    rm = grid.rows["mun"].to_numpy(np.int64)
    row_m = np.where(rm >= 0, vocab_m[np.maximum(rm, 0)] if len(vocab_m) else -1, -1)
    grid.report["rows_with_unknown_municipality"] = int((row_m < 0).sum())
    row_m = np.where(row_m >= 0, row_m, len(muns))
    # normals per (municipality, period) first: mean of the same month/quarter in up to ten earlier years
    ppy = 12 // k
    normals = {}
    for c in ("rain", "temp"):
        d = dense[c]
        acc = np.zeros_like(d)
        cnt = np.zeros_like(d)
        for j in range(1, 11):
            prev_year = np.full_like(d, np.nan)
            prev_year[:, j * ppy:] = d[:, : d.shape[1] - j * ppy]
            ok = np.isfinite(prev_year)
            acc += np.where(ok, prev_year, 0.0)
            cnt += ok
        with np.errstate(all="ignore"):
            normals[c] = np.where(cnt > 0, acc / cnt, np.nan)
    rain3 = np.full_like(dense["rain"], np.nan)
    w3 = max(1, 3 // k)
    rain3[:, w3:] = sum(dense["rain"][:, w3 - j : dense["rain"].shape[1] - j] for j in range(1, w3 + 1))
    col = grid.row_period - q_lo
    prev = col - 1

    def at(d: np.ndarray, c: np.ndarray) -> np.ndarray:
        return d.astype(np.float32)[row_m, c]

    out = {
        "rain_prev_period_mm": at(dense["rain"], prev),
        "rain_max_day_prev_period_mm": at(dense["rain_max_day"], prev),
        "temp_mean_prev_period_c": at(dense["temp"], prev),
        "temp_max_prev_period_c": at(dense["temp_max"], prev),
        "wind_gust_max_prev_period_ms": at(dense["gust"], prev),
        "rain_last_3m_mm": at(rain3, col),
        "rain_normal_mm": at(normals["rain"], col),
        "temp_normal_c": at(normals["temp"], col),
    }
    return out
