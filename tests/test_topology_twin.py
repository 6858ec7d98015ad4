"""Topology on the synthetic twin, checked against what the generator wrote for each event."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcrit.data.store import connect
from gridcrit.reliability.customers import downstream_customers
from gridcrit.reliability.topology import Topology


@pytest.fixture(scope="module")
def twin_topo(tiny_store):
    con = connect(tiny_store, read_only=True)
    try:
        topo = Topology.from_store(con)
        down = downstream_customers(con, topo, "switch").set_index(["group", "month"])["customers"]
    finally:
        con.close()
    return topo, down


@pytest.fixture(scope="module")
def events(tiny_twin):
    ev = pd.read_csv(tiny_twin / "interrupciones.csv", dtype={"causa": str})
    ev["month"] = ev["periodo"].astype(str).str[:4] + "-" + ev["periodo"].astype(str).str[4:]
    te = pd.read_csv(tiny_twin / "truth_events.csv")
    return ev.merge(te, on="evento", how="left")


def test_twin_is_radial_and_clean(twin_topo):
    topo, _ = twin_topo
    assert topo.report.ok and topo.report.info["radial"]
    assert topo.report.count("islands") == 0 and topo.report.count("loops") == 0


def test_downstream_customers_and_transformers_equal_generator(twin_topo, events):
    """The generator sets cnt_usus / CNT_TRAFOS_AFEC = customers / transformers downstream of equipo_ope
    in the event month; gridcrit's topology must reproduce them for every switch row."""
    topo, down = twin_topo
    sw = events[events["tipo_equi_ope"] == "interruptor"]
    assert len(sw) > 50
    got = down.reindex(pd.MultiIndex.from_arrays([sw["equipo_ope"], sw["month"]])).to_numpy()
    np.testing.assert_array_equal(got, sw["cnt_usus"].to_numpy())
    b = topo.bulk("switch").set_index("code")
    np.testing.assert_array_equal(sw["equipo_ope"].map(b["n_transformers_down"]).to_numpy(), sw["CNT_TRAFOS_AFEC"].to_numpy())


def test_operating_device_is_upstream_protection_of_the_fault(twin_topo, events):
    """Unplanned faults are cleared by a protective device at or above the faulted segment (truth)."""
    topo, _ = twin_topo
    first = events[~events["evento"].duplicated() & (events["tipo_equi_ope"] == "interruptor") & (events["tipo_causa"] == "NP")]
    first = first[first["fault_asset"].isin(set(topo.seg_codes))]
    assert len(first) > 50
    ok = [d in topo.trace(f).protective_upstream for d, f in zip(first["equipo_ope"], first["fault_asset"], strict=True)]
    assert all(ok)
    # and mostly the nearest one (fuse miscoordination and transient faults pick a farther one)
    near = first["fault_asset"].map(topo.bulk("segment").set_index("code")["nearest_protective_upstream"])
    sustained = first["duracion_h"] > 0.05
    assert (near == first["equipo_ope"])[sustained].mean() > 0.8


def test_bad_input_on_a_damaged_copy(tiny_twin):
    """Damage the twin's latest snapshot: transformers on unknown nodes, a cycle, an island, a switch on
    a missing segment — each is reported with its count and examples."""
    red = pd.read_parquet(tiny_twin / "redmt.parquet")
    red = red[red["FECHA"] == red["FECHA"].max()].reset_index(drop=True)
    tr = pd.read_parquet(tiny_twin / "trafos.parquet")
    tr = tr[tr["FECHA"] == tr["FECHA"].max()].reset_index(drop=True)
    sw = pd.read_parquet(tiny_twin / "switches.parquet")
    sw = sw[sw["FECHA"] == sw["FECHA"].max()].reset_index(drop=True)
    tr.loc[:2, "ELNODE"] = ["GHOST1", "GHOST2", "GHOST3"]
    c0 = red.loc[0, "FPARENT"]
    same = red[red["FPARENT"] == c0]
    extra = pd.DataFrame([
        {**same.iloc[-1].to_dict(), "CODE": "LOOP1", "ELNODE1": same.iloc[-1]["ELNODE2"], "ELNODE2": same.iloc[0]["ELNODE2"], "ORDER_": 1},
        {**same.iloc[-1].to_dict(), "CODE": "ISL1", "ELNODE1": "ISLA", "ELNODE2": "ISLB", "ORDER_": 1},
    ])
    red = pd.concat([red, extra], ignore_index=True)
    sw.loc[0, "LINESECTIO"] = "NO_SUCH_SEGMENT"
    t = Topology.from_edges(red, transformers=tr, switches=sw)
    rep = t.report
    assert rep.count("transformers_unknown_node") == 3 and rep.get("transformers_unknown_node").examples[0].endswith("GHOST1")
    assert rep.count("loops") == 1 and rep.count("islands") == 1
    assert rep.count("switches_unknown_segment") == 1 and "NO_SUCH_SEGMENT" in rep.get("switches_unknown_segment").examples[0]
    assert not rep.ok
