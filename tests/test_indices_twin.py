"""Indices on the synthetic twin equal those computed independently from the generator's files.

The independent path reads the twin's raw export files with pandas (``interrupciones.csv``, ``trafos``
snapshots), ``truth.json`` (customers) and never touches the store or gridcrit.reliability code.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gridcrit.reliability.indices import compute_indices


def _read(twin, table):
    p = twin / f"{table}.parquet"
    return pd.read_parquet(p) if p.exists() else pd.read_csv(twin / f"{table}.csv")


@pytest.fixture(scope="module")
def raw(tiny_twin):
    ev = pd.read_csv(tiny_twin / "interrupciones.csv", dtype={"causa": str})
    ev["month"] = ev["periodo"].astype(str).str[:4] + "-" + ev["periodo"].astype(str).str[4:]
    ev["sust"] = ev["duracion_h"] > 3 / 60 + 1e-9
    tr = _read(tiny_twin, "trafos")
    tr["month"] = pd.to_datetime(tr["FECHA"]).dt.strftime("%Y-%m")
    truth = json.loads((tiny_twin / "truth.json").read_text())
    return ev, tr, truth


def test_customer_base_matches_truth(tiny_store, raw):
    _, tr, truth = raw
    r = compute_indices(tiny_store, "system", "month").frame.set_index("period")
    for month, n in truth["customers_total"].items():
        assert r.loc[month, "customers"] == n
    n_raw = tr.groupby("month")["USUARIOS"].sum()
    assert np.allclose(r["customers"], n_raw.reindex(r.index))


def test_system_indices_equal_row_sums_of_generator(tiny_store, raw):
    """Σ of the generator's per-row SAIFI/SAIDI == gridcrit's index from cnt_usus, duracion_h, N_total."""
    ev, _, _ = raw
    for period, key in (("month", ev["month"]), ("year", ev["month"].str[:4])):
        r = compute_indices(tiny_store, "system", period).frame.set_index("period")
        s = ev[ev["sust"]].groupby(key[ev["sust"]])[["SAIFI", "SAIDI"]].sum()
        mm = ev[~ev["sust"]].groupby(key[~ev["sust"]])["SAIFI"].sum().reindex(r.index, fill_value=0.0)
        assert len(s) > 0
        np.testing.assert_allclose(r.loc[s.index, "SAIFI"], s["SAIFI"], rtol=1e-9)
        np.testing.assert_allclose(r.loc[s.index, "SAIDI"], s["SAIDI"], rtol=1e-9)
        np.testing.assert_allclose(r["MAIFI"], mm, rtol=1e-9, atol=1e-15)


def test_circuit_month_indices_equal_independent_computation(tiny_store, raw):
    ev, tr, _ = raw
    ours = compute_indices(tiny_store, "circuit", "month").frame.set_index(["group", "period"])
    n = tr.groupby(["FPARENT", "month"])["USUARIOS"].sum()
    months = pd.period_range(ev["month"].min(), ev["month"].max(), freq="M").astype(str)
    n = n[n.index.get_level_values(1).isin(months)]
    s = ev[ev["sust"]]
    ci = s.groupby(["cto_equi_ope", "month"])["cnt_usus"].sum().reindex(n.index, fill_value=0)
    ch = (s["cnt_usus"] * s["duracion_h"]).groupby([s["cto_equi_ope"], s["month"]]).sum().reindex(n.index, fill_value=0)
    mo = ev[~ev["sust"]].groupby(["cto_equi_ope", "month"])["cnt_usus"].sum().reindex(n.index, fill_value=0)
    n_total = tr.groupby("month")["USUARIOS"].sum()
    assert len(ours) == len(n)  # every circuit × month, zeros included
    o = ours.loc[n.index]
    np.testing.assert_allclose(o["SAIFI"], ci / n, rtol=1e-12)
    np.testing.assert_allclose(o["SAIDI"], ch / n, rtol=1e-12)
    np.testing.assert_allclose(o["MAIFI"], mo / n, rtol=1e-12)
    np.testing.assert_allclose(o["SAIFI_contrib"], ci / n_total.reindex(n.index.get_level_values(1)).to_numpy(), rtol=1e-12)
    caidi = (ch / ci).where(ci > 0)
    np.testing.assert_allclose(o["CAIDI"], caidi, rtol=1e-12)


def test_transformer_and_switch_indices_against_generator(tiny_store, raw):
    """The twin writes cnt_usus = customers downstream of the operated device in the event month, so a
    device-month's SAIFI is (rows of that device) × cnt_usus / cnt_usus: integer counts of sustained rows."""
    ev, _, _ = raw
    for level, kind in (("transformer", "transformador"), ("switch", "interruptor")):
        ours = compute_indices(tiny_store, level, "month", only_with_events=True).frame.set_index(["group", "period"])
        s = ev[ev["sust"] & (ev["tipo_equi_ope"] == kind) & (ev["cnt_usus"] > 0)]
        rows = s.groupby(["equipo_ope", "month"]).size()
        np.testing.assert_allclose(ours.loc[rows.index, "SAIFI"], rows.astype(float), rtol=1e-12)
        assert ours.loc[rows.index, "no_customers"].sum() == 0


def test_med_days_independent(tiny_store, raw):
    """2.5β with an independent implementation: same-year basis for the first year, previous years after."""
    ev, tr, _ = raw
    n_total = tr.groupby("month")["USUARIOS"].sum()
    s = ev[ev["sust"]]
    day = pd.to_datetime(s["inicio"]).dt.normalize()
    daily = (s["duracion_h"] * s["cnt_usus"] / s["month"].map(n_total)).groupby(day).sum()
    years = sorted(daily.index.year.unique())
    expected = set()
    for y in years:
        base = daily[(daily.index.year < y) & (daily.index.year >= y - 5)] if y > years[0] else daily[daily.index.year == y]
        base = np.log(base[base > 0])
        if len(base) < 30:
            continue
        t = np.exp(base.mean() + 2.5 * base.std(ddof=1))
        expected |= {d.date() for d in daily[(daily.index.year == y) & (daily > t)].index}
    r = compute_indices(tiny_store, "system", "year", exclude_med=True)
    assert r.med.med_dates == expected
    assert r.report.info["med_days"] == len(expected)
