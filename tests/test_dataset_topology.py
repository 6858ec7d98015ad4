"""Topology features agree with the reliability stage's tracer (gridcrit.reliability.topology)."""

from __future__ import annotations

import numpy as np
import pytest

from gridcrit.features.dataset import build_dataset
from gridcrit.features.sample_store import build_sample_store

topology = pytest.importorskip("gridcrit.reliability.topology")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_sample_store(tmp_path_factory.mktemp("topo") / "s.duckdb", n_circuits=3, segments_per_circuit=40,
                              start="2019-01", end="2019-06", seed=2)


@pytest.mark.parametrize(("level", "pairs"), [
    ("switch", {"topo_customers_downstream": "customers_down", "topo_transformers_downstream": "n_transformers_down",
                "topo_depth": "depth", "topo_protective_upstream": "n_protective_upstream"}),
    # segment depth is left out: reliability's bulk("segment") counts one more than its switch on the same
    # segment (we count segments from the substation up to and including this one, as for switches)
    ("segment", {"topo_customers_downstream": "customers_down", "topo_transformers_downstream": "n_transformers_down",
                 "topo_protective_upstream": "n_protective_upstream"}),
    ("transformer", {"topo_depth": "depth", "topo_protective_upstream": "n_protective_upstream",
                     "topo_path_km": "distance_m"}),
])
def test_matches_reliability_topology(store, level, pairs):
    # period 2019-07 uses the last snapshot (2019-06-30), the one Topology.from_store reads
    ds = build_dataset(store, level=level, period="month", end="2019-07")
    f = ds.frame[ds.frame["period"] == "2019-07"].set_index("asset_id")
    bulk = topology.Topology.from_store(store).bulk(level).set_index("code")
    common = f.index.intersection(bulk.index)
    assert len(common) == len(f) > 0
    for ours, theirs in pairs.items():
        b = bulk.loc[common, theirs].to_numpy(np.float64)
        if theirs == "distance_m":
            b = b / 1000.0
        np.testing.assert_allclose(f.loc[common, ours].to_numpy(np.float64), b, rtol=1e-5, err_msg=ours)


def test_trace_reports_loops_and_cycles_instead_of_failing():
    import pandas as pd

    from gridcrit.features.topology_features import trace

    seg = pd.DataFrame({
        "CODE": ["A", "B", "C", "D", "E", "F"],
        "FPARENT": "C1",
        "ELNODE1": ["root", "n1", "n1", "n3", "x", "y"],
        "ELNODE2": ["n1", "n2", "n3", "n2", "y", "x"],  # n2 fed twice (loop); x <-> y is a cycle
        "ORDER_": 1,
    })
    net = trace(seg)
    assert net.problems["nodes_with_several_feeders"] == 1
    assert net.examples["nodes_with_several_feeders"] == ["n2"]
    assert net.problems["nodes_on_cycles"] == 2
    depth = dict(zip(net.nodes, net.depth, strict=True))
    assert depth["root"] == 0 and depth["n1"] == 1 and depth["n2"] == 2 and depth["n3"] == 2
    # downstream / upstream sums over the tree that was kept
    ones = np.ones(len(net.nodes))
    down = dict(zip(net.nodes, net.downstream(ones), strict=True))
    assert down["root"] == 4 and down["n1"] == 3
    up = dict(zip(net.nodes, net.upstream(ones), strict=True))
    assert up["n2"] == 3


def test_unknown_nodes_are_reported(tmp_path, store):
    from gridcrit.data.store import connect

    s2 = tmp_path / "s2.duckdb"
    s2.write_bytes(store.read_bytes())
    con = connect(s2)
    con.execute("UPDATE trafos SET ELNODE = 'NOWHERE' WHERE CODE = (SELECT min(CODE) FROM trafos)")
    con.close()
    rep = build_dataset(s2, level="switch").card["report"]["topology"]
    assert rep["problems"]["transformers_on_unknown_nodes"] == 1
    assert len(rep["examples"]["transformers_on_unknown_nodes"]) == 1
