"""Customers/transformers of every event row are those downstream of the operated device,
recomputed independently with networkx from the exported tables (ELNODE1/ELNODE2/ORDER_)."""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pyarrow.parquet as pq


def test_cnt_usus_equals_downstream_customers(tiny_twin):
    red = pq.read_table(tiny_twin / "redmt.parquet").to_pandas()
    tr = pq.read_table(tiny_twin / "trafos.parquet").to_pandas()
    sw = pq.read_table(tiny_twin / "switches.parquet").to_pandas()
    ev = pd.read_csv(tiny_twin / "interrupciones.csv", dtype={"causa": str, "tipo_elemento": str})
    red0 = red[red["FECHA"] == red["FECHA"].min()]
    g = nx.DiGraph()
    down_end = {}
    for code, a, b, order in red0[["CODE", "ELNODE1", "ELNODE2", "ORDER_"]].itertuples(index=False):
        u, v = (a, b) if order == 1 else (b, a)
        g.add_edge(u, v)
        down_end[code] = v
    assert nx.is_forest(g)
    assert all(d <= 1 for _, d in g.in_degree())  # radial: one feeder per node
    switch_seg = sw.drop_duplicates("CODE").set_index("CODE")["LINESECTIO"].to_dict()
    tr["periodo"] = pd.to_datetime(tr["FECHA"]).dt.year * 100 + pd.to_datetime(tr["FECHA"]).dt.month
    by_month = {p: f for p, f in tr.groupby("periodo")}
    checked = 0
    for row in ev.itertuples(index=False):
        t = by_month[row.periodo]
        if row.tipo_equi_ope == "transformador":
            sel = t[t["CODE"] == row.equipo_ope]
            assert len(sel) == 1
        else:
            seg = switch_seg[row.equipo_ope] if row.tipo_equi_ope == "interruptor" else row.equipo_ope
            top = down_end[seg]
            nodes = nx.descendants(g, top) | {top}
            sel = t[t["ELNODE"].isin(nodes)]
        assert int(sel["USUARIOS"].sum()) == row.cnt_usus, row
        assert len(sel) == row.CNT_TRAFOS_AFEC, row
        checked += 1
    assert checked == len(ev) > 100
    # every event has an operated device of each kind in the export
    assert {"interruptor", "transformador"} <= set(ev["tipo_equi_ope"])
    assert ev.groupby("evento").size().max() >= 2  # some events have restoration steps
