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
