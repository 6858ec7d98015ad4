"""Topology on CHEC's real snapped red_nsa geometry (shared data, read in place)."""

from __future__ import annotations

import numpy as np
import pytest

from gridcrit.reliability.topology import Topology


@pytest.fixture(scope="module")
def net(shared_data):
    real = pytest.importorskip("gridcrit.data.real")
    return real.load_network(shared_data / "chec" / "red_nsa")


def test_snapped_red_nsa_cycles_and_components(net):
    import networkx as nx

    topo = Topology.from_snapped(net)
    # independent check with networkx, one multigraph per circuit: loops = cyclomatic number E - V + C
    comps = cyc = selfl = 0
    for _, e in net.edges.groupby("CIRCUITO"):
        g = nx.MultiGraph()
        g.add_edges_from(zip(e["node1"], e["node2"], strict=True))
        c = nx.number_connected_components(g)
        comps += c
        cyc += g.number_of_edges() - g.number_of_nodes() + c
        selfl += nx.number_of_selfloops(g)
    assert topo.report.info["components"] == comps
    assert topo.report.count("loops") + topo.report.count("self_loops") == cyc
    assert topo.report.count("self_loops") == selfl
    # every node is reached; the roots' subtrees cover the graph
    assert topo.size[topo.is_root].sum() == topo.n_nodes
    assert topo.report.info["transformers"] == int((net.points["kind"] == "transformador").sum())
    # substation bus nodes are shared by the NSA circuits: reported, not merged
    assert topo.report.count("nodes_shared_between_circuits") >= 1


def test_snapped_red_nsa_roots_and_bulk(net):
    e = net.edges[net.edges["CIRCUITO"] == "NSA23L13"]
    topo0 = Topology.from_snapped(net)
    # pick a leaf of NSA23L13 as its head; every downstream count must then be consistent
    deg = np.bincount(np.r_[e["node1"], e["node2"]])
    leaf = int(np.flatnonzero(deg == 1)[0])
    topo = Topology.from_snapped(net, roots={"NSA23L13": leaf})
    head = topo.trace("NSA23L13")
    assert head.node == str(leaf) or head.kind == "circuit"
    b = topo.bulk("switch")
    assert (b["n_segments_down"] <= topo.n_segments).all() and (b["customers_down"] == 0).all()  # no USUARIOS
    assert b["n_transformers_down"].max() > 0
    assert topo0.report.info["segments"] == topo.report.info["segments"]


def test_placeholder_node_id_zero_is_not_one_node(net, shared_data):
    """NODO2_ID "0" (six segments) was taken as a real id: their ends, up to 10.8 km apart, became one node,
    with five false loops. "0" now means "no id": such an end is joined by its coordinates only."""
    import pandas as pd

    raw = pd.read_csv(shared_data / "chec" / "red_nsa" / "circuitos.csv", dtype={"NODO1_ID": str, "NODO2_ID": str})
    zero = (raw["NODO1_ID"] == "0") | (raw["NODO2_ID"] == "0")
    assert zero.sum() >= 2  # the data still has the placeholder: the test means something
    topo = Topology.from_snapped(net)
    assert topo.report.count("loops") == 0  # was 5 (self-loops, segments shorter than the 1 m snap, are apart)
    # no node joins segment ends farther apart than a few metres (the placeholder joined ends 10.8 km apart)
    from gridcrit.data.real import parse_wkt_coords, to_metres

    ends = np.vstack([np.vstack([c[0], c[-1]]) for c in map(parse_wkt_coords, raw["geometry"])])
    xy = pd.DataFrame(to_metres(ends, float(ends[:, 1].mean())), columns=["x", "y"])
    xy["node"] = np.ravel(np.column_stack([net.edges["node1"], net.edges["node2"]]))
    span = xy.groupby("node").agg(lambda v: v.max() - v.min()).max(axis=1)
    assert span.max() < 10.0, span.sort_values().tail(3)


def test_transformer_on_a_bus_shared_by_two_circuits_keeps_its_own(net):
    """from_snapped gave transformers no FPARENT, so one on a node shared by two circuits (the NSA bus)
    was counted in whichever circuit the node was first assigned to; the points' CIRCUITO now decides."""
    topo = Topology.from_snapped(net)
    tr = net.points[net.points["kind"] == "transformador"]
    on_node = topo.node_circuit[topo.trafo_node]
    assert (on_node == tr["CIRCUITO"].to_numpy()).all()
    assert topo.report.count("transformer_circuit_mismatch") == 0
