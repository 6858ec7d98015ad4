"""Topology on a hand-built network whose answers are known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcrit.errors import NotFoundError
from gridcrit.reliability.topology import Topology


def _net() -> dict[str, pd.DataFrame]:
    # C1:  N0 -S1(C1 breaker)-> N1 -S2(R1 recloser)-> N2 -S3(X1 disconnector)-> N3
    #                            N1 -S4(F1 fuse)-> N4 -S5-> N5      (S4 stored reversed, ORDER_=-1)
    #      S7: N3 -> N5 closes a loop; S6: N8 -> N9 is an island of C1
    # C2:  M0 -S10(C2)-> M1 -S11-> M2 ; S12: M2 - N5 is a tie with a normally-open switch
    edges = pd.DataFrame(
        [
            ("S1", "C1", "N0", "N1", 1, 100.0),
            ("S2", "C1", "N1", "N2", 1, 50.0),
            ("S3", "C1", "N2", "N3", 1, 10.0),
            ("S4", "C1", "N4", "N1", -1, 20.0),
            ("S5", "C1", "N4", "N5", 1, 30.0),
            ("S6", "C1", "N8", "N9", 1, 5.0),
            ("S7", "C1", "N3", "N5", 1, 5.0),
            ("S10", "C2", "M0", "M1", 1, 1.0),
            ("S11", "C2", "M1", "M2", 1, 1.0),
            ("S12", "C2", "M2", "N5", 1, 1.0),
        ],
        columns=["CODE", "FPARENT", "ELNODE1", "ELNODE2", "ORDER_", "LENGTH"],
    )
    trafos = pd.DataFrame(
        [
            ("T1", "N3", "C1", 10),
            ("T2", "N5", "C1", 20),
            ("T3", "N2", "C1", 5),
            ("T4", "N1", "C1", 1),
            ("T5", "N9", "C1", 7),
            ("T6", "M2", "C2", 100),
            ("T9", "NX", "C1", 3),
        ],
        columns=["CODE", "ELNODE", "FPARENT", "USUARIOS"],
    )
    switches = pd.DataFrame(
        [
            ("C1", "S1", "INTERRUPTOR", "CERRADO", "C1"),
            ("R1", "S2", "RECONECTADOR", "CERRADO", "C1"),
            ("X1", "S3", "SECCIONADOR", "CERRADO", "C1"),
            ("F1", "S4", "CORTACIRCUITO", "CERRADO", "C1"),
            ("C2", "S10", "INTERRUPTOR", "CERRADO", "C2"),
            ("TIE", "S12", "SECCIONADOR", "ABIERTO", "C2"),
            ("X9", "SX", "SECCIONADOR", "CERRADO", "C1"),
        ],
        columns=["CODE", "LINESECTIO", "ASSEMBLY", "STATE", "FPARENT"],
    )
    return {"edges": edges, "trafos": trafos, "switches": switches}


@pytest.fixture()
def topo() -> Topology:
    n = _net()
    return Topology.from_edges(n["edges"], transformers=n["trafos"], switches=n["switches"])


def test_trace_switches(topo):
    t = topo.trace("C1")
    assert t.kind == "switch" and t.circuit == "C1"
    assert sorted(t.segments) == ["S1", "S2", "S3", "S4", "S5"]
    assert sorted(t.transformers) == ["T1", "T2", "T3", "T4"]
    assert t.customers == 36 and t.depth == 1 and t.protective_upstream == []

    r = topo.trace("R1")
    assert sorted(r.segments) == ["S2", "S3"] and sorted(r.transformers) == ["T1", "T3"] and r.customers == 15
    assert r.protective_upstream == ["C1"] and r.depth == 2

    x = topo.trace("X1")  # disconnector: protected by R1 then C1 (nearest first)
    assert x.segments == ["S3"] and x.customers == 10 and x.protective_upstream == ["R1", "C1"]
    assert x.depth == 3 and x.distance_m == pytest.approx(150.0)

    f = topo.trace("F1")  # S4 stored reversed: ORDER_=-1 makes N1 -> N4 downstream
    assert sorted(f.segments) == ["S4", "S5"] and f.customers == 20


def test_trace_transformer_segment_circuit(topo):
    t = topo.trace("T1")
    assert t.kind == "transformer" and t.customers == 10 and t.depth == 3
    assert t.protective_upstream == ["R1", "C1"]  # X1 is a disconnector, not protection
    assert topo.trace("S3").depth == topo.trace("X1").depth == 3  # a segment and the switch on it
    assert topo.trace("S3").distance_m == topo.trace("X1").distance_m == pytest.approx(150.0)
    sb = topo.bulk("segment").set_index("code")
    assert sb.loc["S3", "depth"] == 3 and sb.loc["S3", "n_protective_upstream"] == 2
    s = topo.trace("S5")
    assert s.segments == ["S5"] and s.transformers == ["T2"] and s.protective_upstream == ["F1", "C1"]
    c2 = topo.trace("C2")
    assert c2.customers == 100 and sorted(c2.segments) == ["S10", "S11"]
    with pytest.raises(NotFoundError):
        topo.trace("NOPE")


def test_bad_input_reported_with_counts_and_examples(topo):
    rep = topo.report
    assert rep.count("loops") == 1 and "S7@C1" in rep.get("loops").examples
    assert rep.count("islands") == 1 and rep.get("islands").weight["segments"] == 1
    assert rep.count("transformers_unknown_node") == 1 and rep.get("transformers_unknown_node").examples == ["T9→NX"]
    assert rep.count("switches_unknown_segment") == 1 and rep.get("switches_unknown_segment").examples == ["X9→SX"]
    assert rep.count("open_ties") == 1 and rep.get("open_ties").severity == "info"
    assert rep.count("reversed_orientation") == 0  # S4's ORDER_=-1 is honoured, not an error
    assert not rep.info["radial"] and not rep.ok
    assert any("loops: 1" in line for line in rep.lines("en"))
    isl = topo.trace("S6")
    assert isl.island and isl.transformers == ["T5"]


def test_bulk_matches_trace(topo):
    b = topo.bulk("switch").set_index("code")
    for code in ("C1", "R1", "X1", "F1", "C2"):
        t = topo.trace(code)
        assert b.loc[code, "n_segments_down"] == len(t.segments)
        assert b.loc[code, "n_transformers_down"] == len(t.transformers)
        assert b.loc[code, "customers_down"] == t.customers
        assert b.loc[code, "depth"] == t.depth
        assert b.loc[code, "n_protective_upstream"] == len(t.protective_upstream)
        near = b.loc[code, "nearest_protective_upstream"]
        near = None if pd.isna(near) else near
        assert near == (t.protective_upstream[0] if t.protective_upstream else None)
    assert not b.loc["TIE", "in_tree"] and b.loc["TIE", "customers_down"] == 0
    tb = topo.bulk("transformer").set_index("code")
    assert tb.loc["T1", "n_protective_upstream"] == 2 and tb.loc["T1", "nearest_protective_upstream"] == "R1"
    assert tb.loc["T9", "depth"] == -1
    offs, segs = topo.downstream_sets("switch")
    i = list(topo.sw_codes).index("R1")
    assert sorted(topo.seg_codes[segs[offs[i] : offs[i + 1]]]) == ["S2", "S3"]


def test_cycle_without_entry_and_multiple_heads():
    # a directed cycle A->B->C->A with no upstream, plus a second head feeding the same node (in-degree 2)
    e = pd.DataFrame(
        [("a", "K", "A", "B", 1), ("b", "K", "B", "C", 1), ("c", "K", "C", "A", 1),
         ("h1", "L", "H1", "X", 1), ("h2", "L", "H2", "X", 1), ("x", "L", "X", "Y", 1)],
        columns=["CODE", "FPARENT", "ELNODE1", "ELNODE2", "ORDER_"],
    )
    t = Topology.from_edges(e, length=None)
    assert t.report.count("loops") == 1  # the cycle a-b-c
    # h2 feeds X against the chosen head H1; in the cycle, root A makes segment c (C->A) run backwards
    assert t.report.count("reversed_orientation") == 2
    assert (t.depth >= 0).all() and t.size[t.is_root].sum() == t.n_nodes


def test_undirected_with_roots_and_subtree_sum_matrix():
    e = pd.DataFrame({"n1": ["1", "2", "2", "4"], "n2": ["2", "3", "4", "5"], "k": ["Z"] * 4})
    t = Topology.from_edges(e, code=None, node1="n1", node2="n2", circuit="k", order=None, length=None, roots={"Z": "3"})
    assert t.node_labels[t.is_root].tolist() == ["3"]
    v = t.locate_nodes(["2"])[0]
    w = np.stack([np.ones(t.n_nodes), np.arange(t.n_nodes)], axis=1)
    s = t.subtree_sum(np.array([v]), w)
    below = t.locate_nodes(["1", "2", "4", "5"])
    assert s[0, 0] == 4 and s[0, 1] == below.sum()


def test_empty_or_unusable_edge_table_is_a_clear_error():
    from gridcrit.errors import ValidationError

    e = pd.DataFrame({"CODE": ["a"], "FPARENT": ["K"], "ELNODE1": [None], "ELNODE2": ["B"], "ORDER_": [1]})
    with pytest.raises(ValidationError, match="no usable segment"):
        Topology.from_edges(e)
    with pytest.raises(ValidationError, match="ELNODE1"):
        Topology.from_edges(pd.DataFrame({"CODE": ["a"]}))
