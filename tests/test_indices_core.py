"""Indices on a hand-built store whose answers are computed by hand (independent of the code under test)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridcrit.data.store import connect
from gridcrit.errors import ValidationError
from gridcrit.reliability.indices import compute_indices
from test_topology_core import _net

N_JAN = 10 + 20 + 5 + 1 + 7 + 100 + 3  # every transformer's USUARIOS, T9 (unknown node) included
N_FEB = N_JAN + 2  # T1 grows from 10 to 12 customers
N_MAR = 200  # no trafos snapshot in March: the base comes from cnt_usus / SAIFI


def _ev(evento, inicio, hours, dev, kind, cto, cnt, n_total, tipo=None):
    ini = pd.Timestamp(inicio)
    return {
        "evento": evento, "periodo": ini.year * 100 + ini.month, "equipo_ope": dev, "tipo_equi_ope": kind,
        "cto_equi_ope": cto, "tipo_elemento": "13.2", "inicio": ini, "fin": ini + pd.Timedelta(hours=hours),
        "duracion_h": hours, "tipo_duracion": tipo or ("<= 3 min" if hours <= 0.05 else "> 3 min"),
        "causa": "30", "tipo_causa": "NP", "CNT_TRAFOS_AFEC": 1, "cnt_usus": cnt,
        "SAIDI": hours * cnt / n_total, "SAIFI": cnt / n_total,
    }


EVENTS = [
    _ev(1, "2023-01-05 10:00", 2.0, "R1", "interruptor", "C1", 15, N_JAN),
    _ev(2, "2023-01-10 08:00", 0.02, "T2", "transformador", "C1", 20, N_JAN),  # momentary
    _ev(3, "2023-02-03 01:00", 1.0, "C1", "interruptor", "C1", 36, N_FEB),  # two restoration steps
    _ev(3, "2023-02-03 01:30", 0.5, "X1", "interruptor", "C1", 10, N_FEB),
    _ev(4, "2023-02-07 12:00", 1.0, "ZZZ", "interruptor", "C2", 50, N_FEB),  # unknown device
    _ev(6, "2023-02-20 12:00", 1.0, "TIE", "interruptor", "C2", 5, N_FEB),  # open tie: no customers below
    _ev(5, "2023-03-01 00:00", 3.0, "S5", "tramo de linea", None, 4, N_MAR),  # circuit from the segment
]


def build_store(path: Path, events=EVENTS, rewire_feb: bool = False) -> Path:
    net = _net()
    con = connect(path)

    def put(table, df):
        con.register("_df", df)
        con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM _df')
        con.unregister("_df")

    mun = {"T1": "A", "T2": "B", "T3": "A", "T4": "A", "T5": "A", "T6": "C", "T9": "A"}
    for fecha, t1 in (("2023-01-31", 10), ("2023-02-28", 12)):
        e = net["edges"].assign(FECHA=pd.Timestamp(fecha).date())
        if rewire_feb and fecha.startswith("2023-02"):  # S5 now hangs from N2 (under R1), not from N4
            e.loc[e["CODE"] == "S5", "ELNODE1"] = "N2"
        put("redmt", e)
        tr = net["trafos"].assign(FECHA=pd.Timestamp(fecha).date(), KVA=50.0)
        tr.loc[tr["CODE"] == "T1", "USUARIOS"] = t1
        tr["MUN"] = tr["CODE"].map(mun)
        put("trafos", tr)
        put("switches", net["switches"].assign(FECHA=pd.Timestamp(fecha).date()))
    put("interrupciones", pd.DataFrame(events))
    con.close()
    return path


@pytest.fixture()
def store(tmp_path) -> Path:
    return build_store(tmp_path / "s.duckdb")


def _row(res, group, period):
    f = res.frame
    r = f[(f["group"] == group) & (f["period"] == period)]
    assert len(r) == 1, (group, period, f)
    return r.iloc[0]


def test_system_month_by_hand(store):
    r = compute_indices(store, "system", "month")
    jan, feb, mar = (_row(r, "SISTEMA", p) for p in ("2023-01", "2023-02", "2023-03"))
    assert jan["SAIFI"] == pytest.approx(15 / N_JAN) and jan["SAIDI"] == pytest.approx(30 / N_JAN)
    assert jan["MAIFI"] == pytest.approx(20 / N_JAN) and jan["CAIDI"] == pytest.approx(2.0)
    assert jan["ASAI"] == pytest.approx(1 - (30 / N_JAN) / (31 * 24))
    assert feb["SAIFI"] == pytest.approx((36 + 10 + 50 + 5) / N_FEB)
    assert feb["SAIDI"] == pytest.approx((36 + 5 + 50 + 5) / N_FEB)
    assert feb["events"] == 3 and feb["rows"] == 4
    # event 3's second step (X1, 10 customers) re-counts customers of its first step in the row sum;
    # SAIFI_event counts each event's customers once (its largest row)
    assert feb["SAIFI_event"] == pytest.approx((36 + 50 + 5) / N_FEB)
    assert mar["customers"] == pytest.approx(N_MAR) and mar["SAIFI"] == pytest.approx(4 / N_MAR)
    assert r.report.get("customer_base_estimated").examples == ["2023-03"]
    assert r.report.info["events_with_several_rows"] == 1


def test_row_sum_of_utility_saifi_equals_index(store):
    """The must-show identity: Σ per-row SAIFI/SAIDI (the utility's columns) == index from cnt_usus,
    duracion_h and N_total, for sustained rows (SAIFI/SAIDI) and momentary rows (MAIFI), any period."""
    ev = pd.DataFrame(EVENTS)
    mom = ev["duracion_h"] <= 0.05
    for period in ("month", "quarter", "year"):
        r = compute_indices(store, "system", period).frame.set_index("period")
        key = ev["inicio"].dt.to_period({"month": "M", "quarter": "Q", "year": "Y"}[period]).astype(str)
        key = key.str.replace("-", "") if period == "quarter" else key
        # pandas writes quarters as 2023Q1, months as 2023-01
        s = ev[~mom].groupby(key[~mom])[["SAIFI", "SAIDI"]].sum()
        mm = ev[mom].groupby(key[mom])["SAIFI"].sum()
        for p in s.index:
            assert r.loc[p, "SAIFI"] == pytest.approx(s.loc[p, "SAIFI"], rel=1e-12)
            assert r.loc[p, "SAIDI"] == pytest.approx(s.loc[p, "SAIDI"], rel=1e-12)
            assert r.loc[p, "MAIFI"] == pytest.approx(mm.get(p, 0.0), rel=1e-12, abs=1e-15)


def test_circuit_and_contributions(store):
    r = compute_indices(store, "circuit", "month")
    c1j = _row(r, "C1", "2023-01")
    assert c1j["customers"] == 46 and c1j["SAIFI"] == pytest.approx(15 / 46) and c1j["MAIFI"] == pytest.approx(20 / 46)
    assert c1j["SAIFI_contrib"] == pytest.approx(15 / N_JAN)
    c2f = _row(r, "C2", "2023-02")
    assert c2f["SAIFI"] == pytest.approx(55 / 100)
    c2j = _row(r, "C2", "2023-01")  # a circuit without events still appears, with zeros
    assert c2j["SAIFI"] == 0 and c2j["rows"] == 0
    # March: S5 has no cto_equi_ope -> circuit from the segment's FPARENT; no March snapshot -> no customers
    c1m = _row(r, "C1", "2023-03")
    assert np.isnan(c1m["SAIFI"]) and c1m["SAIFI_contrib"] == pytest.approx(4 / N_MAR)
    # contributions of all circuits add up to the system index
    sysr = compute_indices(store, "system", "year").frame.iloc[0]
    yr = compute_indices(store, "circuit", "year").frame
    assert yr["SAIFI_contrib"].sum() == pytest.approx(sysr["SAIFI"])
    assert yr["SAIDI_contrib"].sum() == pytest.approx(sysr["SAIDI"])


def test_devices_and_municipality(store):
    sw = compute_indices(store, "switch", "month")
    assert _row(sw, "R1", "2023-01")["SAIFI"] == pytest.approx(15 / 15)
    assert _row(sw, "C1", "2023-02")["customers"] == 38
    assert _row(sw, "C1", "2023-02")["SAIFI"] == pytest.approx(36 / 38)
    assert _row(sw, "X1", "2023-02")["SAIDI"] == pytest.approx(5 / 12)
    p = sw.report.get("periods_without_customers")
    assert p is not None and p.examples == ["TIE@2023-02"] and p.weight["customer_interruptions"] == 5
    tr = compute_indices(store, "transformer", "month", only_with_events=True)
    assert list(tr.frame["group"]) == ["T2"] and tr.frame.iloc[0]["MAIFI"] == pytest.approx(1.0)
    seg = compute_indices(store, "segment", "quarter", only_with_events=True)
    assert _row(seg, "S5", "2023Q1")["customer_interruptions"] == 4
    mu = compute_indices(store, "municipality", "month")
    # R1 is a switch without MUN -> its circuit's main municipality (A: 10+5+1+7+3 customers > B: 20)
    assert _row(mu, "A", "2023-01")["SAIFI"] == pytest.approx(15 / (10 + 5 + 1 + 7 + 3))
    assert _row(mu, "B", "2023-01")["MAIFI"] == pytest.approx(20 / 20)


def test_bad_input_reported(store):
    r = compute_indices(store, "circuit", "month")
    u = r.report.get("events_unknown_device")
    assert u.count == 1 and u.examples == ["4:ZZZ"] and u.weight["customer_interruptions"] == 50
    # the unknown device's row still counts for its circuit (cto_equi_ope) and the system
    assert _row(r, "C2", "2023-02")["customer_interruptions"] == 55
    with pytest.raises(ValidationError):
        compute_indices(store, "planet", "month")


def test_exclude_med_changes_only_med_days(tmp_path):
    # 60 ordinary days in 2023 and one huge day: with same-year basis the huge day is a MED
    rng = np.random.default_rng(0)
    evs = [
        _ev(100 + i, pd.Timestamp("2023-01-01 10:00") + pd.Timedelta(days=i), float(rng.uniform(0.5, 2)), "R1",
            "interruptor", "C1", int(rng.integers(1, 5)), N_JAN if i < 31 else N_FEB)
        for i in range(58)
    ]
    evs.append(_ev(999, "2023-02-10 10:00", 300.0, "C1", "interruptor", "C1", 140, N_FEB))
    s = build_store(tmp_path / "m.duckdb", evs)
    full = compute_indices(s, "system", "year").frame.iloc[0]
    excl = compute_indices(s, "system", "year", exclude_med=True)
    assert excl.report.info["med_days"] >= 1 and excl.report.info["rows_excluded_med"] >= 1
    assert excl.frame.iloc[0]["SAIDI"] < full["SAIDI"] - 300 * 140 / N_FEB + 1e-9


def test_cli_indices_json_and_out(store, tmp_path, capsys):
    from gridcrit.cli import run

    out = tmp_path / "ix.parquet"
    assert run(["indices", "--by", "circuit", "--period", "quarter", "--store", str(store), "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["by"] == "circuit" and doc["report"]["problems"]
    back = pd.read_parquet(out)
    assert set(back["group"]) == {"C1", "C2"} and len(back) == doc["rows"]
    assert run(["indices", "--by", "system", "--store", str(store)]) == 0
    text = capsys.readouterr().out
    assert "SAIFI" in text and "events_unknown_device" in text
    csv = tmp_path / "ix.csv"
    assert run(["indices", "--by", "transformer", "--only-events", "--store", str(store), "--out", str(csv)]) == 0
    assert list(pd.read_csv(csv)["group"]) == ["T2"]
    capsys.readouterr()
    assert run(["indices", "--by", "nope", "--store", str(store)]) != 0
    assert "nope" in capsys.readouterr().err
    assert run(["indices", "--store", str(store), "--out", str(tmp_path / "x.txt")]) != 0
    assert ".parquet o .csv" in capsys.readouterr().err  # Spanish by default
    assert run(["indices", "--store", str(store), "--out", str(tmp_path / "x.txt"), "--lang", "en"]) != 0
    assert ".parquet or .csv" in capsys.readouterr().err


def test_without_usuarios_falls_back_to_row_saifi(tmp_path):
    s = build_store(tmp_path / "nu.duckdb")
    con = connect(s)
    con.execute("UPDATE trafos SET USUARIOS = NULL")
    con.close()
    sysm = compute_indices(s, "system", "month")
    assert sysm.report.info["customer_base_source"] == "cnt_usus/SAIFI"
    jan = _row(sysm, "SISTEMA", "2023-01")
    assert jan["customers"] == pytest.approx(N_JAN) and jan["SAIFI"] == pytest.approx(15 / N_JAN)
    circ = compute_indices(s, "circuit", "month")
    assert circ.report.count("no_customer_base_for_groups") == 1
    c1 = _row(circ, "C1", "2023-01")
    assert np.isnan(c1["SAIFI"]) and c1["SAIFI_contrib"] == pytest.approx(15 / N_JAN)
    assert circ.report.count("periods_without_customers") >= 2


def test_switch_customers_follow_each_months_network(tmp_path):
    from gridcrit.reliability.topology import Topology

    s = build_store(tmp_path / "rw.duckdb", rewire_feb=True)
    r = compute_indices(s, "switch", "month")
    assert r.report.info["network_versions"] == 2
    assert _row(r, "R1", "2023-01")["customers"] == 15  # January network: T3 + T1
    assert _row(r, "R1", "2023-02")["customers"] == 5 + 12 + 20  # February: S5 (T2) moved under R1
    assert _row(r, "F1", "2023-01")["customers"] == 20
    f = r.frame  # February: nothing below F1 and no event on it -> no row
    assert f[(f["group"] == "F1") & (f["period"] == "2023-02")].empty
    # one fixed topology (the latest) would give January the February wiring
    latest = compute_indices(s, "switch", "month", topology=Topology.from_store(s))
    assert _row(latest, "R1", "2023-01")["customers"] == 35
