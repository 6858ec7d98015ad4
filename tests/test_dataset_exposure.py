"""Exposure features against brute-force recomputations from the raw rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcrit.data.store import connect
from gridcrit.features.dataset import build_dataset
from gridcrit.features.exposure import LAT0, LON0, M_PER_DEG_LAT, M_PER_DEG_LON, to_metres
from gridcrit.features.sample_store import build_sample_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_sample_store(tmp_path_factory.mktemp("expo") / "s.duckdb", n_circuits=3, segments_per_circuit=30,
                              start="2019-01", end="2020-12", seed=4)


@pytest.fixture(scope="module")
def ds(store):
    return build_dataset(store, level="transformer", period="month")


@pytest.fixture(scope="module")
def raw(store):
    con = connect(store, read_only=True)
    out = {t: con.execute(f"SELECT * FROM {t}").df() for t in ("trafos", "clima", "vegetacion", "rayos")}
    con.close()
    return out


def _sample_rows(ds, n=40):
    f = ds.frame
    return f.iloc[np.random.default_rng(0).choice(len(f), n, replace=False)]


def test_weather_previous_month_and_normal(ds, raw):
    cl = raw["clima"].assign(month=lambda d: pd.to_datetime(d["FECHA"]).dt.to_period("M"))
    monthly = cl.groupby(["MUN", "month"])["precip"].sum()
    first_snap = raw["trafos"].sort_values("FECHA").drop_duplicates("CODE").set_index("CODE")["MUN"]
    for _, r in _sample_rows(ds).iterrows():
        mun = first_snap[r["asset_id"]]
        p = pd.Period(r["period"], "M")
        assert r["rain_prev_period_mm"] == pytest.approx(monthly[(mun, p - 1)], rel=1e-5)
        past_same_month = [monthly[(mun, p - 12 * k)] for k in range(1, 11) if (mun, p - 12 * k) in monthly.index]
        if past_same_month:
            assert r["rain_normal_mm"] == pytest.approx(np.mean(past_same_month), rel=1e-5)
        else:
            assert np.isnan(r["rain_normal_mm"])


def test_vegetation_buffer_counts(ds, raw):
    tr = raw["trafos"].sort_values("FECHA").drop_duplicates("CODE").set_index("CODE")
    veg = raw["vegetacion"]
    vx, vy = to_metres(veg["LONGITUD"], veg["LATITUD"])
    vdate = pd.to_datetime(veg["FECHA"])
    for _, r in _sample_rows(ds).iterrows():
        ax, ay = to_metres(tr.loc[r["asset_id"], "LONGITUD"], tr.loc[r["asset_id"], "LATITUD"])
        near = (np.hypot(vx - ax, vy - ay) <= 100.0) & (vdate < r["period_start"]).to_numpy()
        assert r["veg_records_100m"] == near.sum()
        assert r["veg_high_risk_100m"] == (near & (veg["NIVEL_RIES"] == "Alto").to_numpy()).sum()


def test_lightning_box_counts(ds, raw):
    tr = raw["trafos"].sort_values("FECHA").drop_duplicates("CODE").set_index("CODE")
    ry = raw["rayos"]
    cx = np.floor((ry["LONGITUD"] - LON0) * M_PER_DEG_LON / 1000.0).to_numpy()
    cy = np.floor((ry["LATITUD"] - LAT0) * M_PER_DEG_LAT / 1000.0).to_numpy()
    t = pd.to_datetime(ry["FECHA"])
    for _, r in _sample_rows(ds).iterrows():
        ax, ay = to_metres(tr.loc[r["asset_id"], "LONGITUD"], tr.loc[r["asset_id"], "LATITUD"])
        ix, iy = np.floor(ax / 1000.0), np.floor(ay / 1000.0)
        in_box = (np.abs(cx - ix) <= 1) & (np.abs(cy - iy) <= 1)
        start = r["period_start"]
        prev = in_box & ((t >= start - pd.DateOffset(months=1)) & (t < start)).to_numpy()
        last12 = in_box & ((t >= start - pd.DateOffset(months=12)) & (t < start)).to_numpy()
        assert r["lightning_strokes_prev_period"] == prev.sum()
        assert r["lightning_density_last_12m"] == pytest.approx(last12.sum() / 9.0, rel=1e-5)


def test_age_at_period_start(ds, raw):
    tr = raw["trafos"].drop_duplicates("CODE").set_index("CODE")
    for _, r in _sample_rows(ds).iterrows():
        fab = pd.Timestamp(tr.loc[r["asset_id"], "DATE_FAB"])
        assert r["age_years"] == pytest.approx((r["period_start"] - fab).days / 365.25, abs=1e-4)


@pytest.fixture(scope="module")
def twin_ds(tiny_store):
    return build_dataset(tiny_store, level="transformer", period="month")


def test_own_pole_is_nearest_support_within_25m_once_known(twin_ds, tiny_store):
    ds, store = twin_ds, tiny_store
    con = connect(store, read_only=True)
    ap = con.execute("SELECT CODE, FECHA, MATERIAL, TIERRA_PIE, LONGITUD, LATITUD FROM apoyos").df()
    tr = con.execute("SELECT CODE, FECHA, LONGITUD, LATITUD FROM trafos").df()
    con.close()
    ap = ap.sort_values("FECHA").drop_duplicates("CODE")
    tr = tr.sort_values("FECHA").drop_duplicates("CODE").set_index("CODE")
    sx, sy = to_metres(ap["LONGITUD"], ap["LATITUD"])
    known_rows = 0
    for _, r in _sample_rows(ds, 80).iterrows():
        ax, ay = to_metres(tr.loc[r["asset_id"], "LONGITUD"], tr.loc[r["asset_id"], "LATITUD"])
        d = np.hypot(sx - ax, sy - ay)
        j = int(np.nanargmin(d))
        first = pd.Period(pd.Timestamp(ap["FECHA"].iloc[j]), "M")
        if d[j] > 25.0 or first >= pd.Period(r["period"], "M"):  # unknown before the period after it
            assert np.isnan(r["pole_wood"]) and np.isnan(r["pole_no_grounding"])
            continue
        known_rows += 1
        assert r["pole_wood"] == float(str(ap["MATERIAL"].iloc[j]).upper().startswith("MADER"))
        assert r["pole_no_grounding"] == float(str(ap["TIERRA_PIE"].iloc[j]).upper() not in ("SI", "S"))
    assert known_rows > 10  # the twin puts a support at (a few metres from) most transformers' nodes
