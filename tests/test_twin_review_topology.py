"""Topology on plausible but imperfect exports (review of the twin and the topology)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridcrit.reliability.topology import Topology


def _feeder(order: list[float]) -> pd.DataFrame:
    # bus B -S1-> X -S2-> Y -S3-> Z, S1 stored reversed (ELNODE1 = X): the export loses its ORDER_
    return pd.DataFrame(
        {
            "CODE": ["S1", "S2", "S3"],
            "FPARENT": ["C1"] * 3,
            "ELNODE1": ["X", "X", "Y"],
            "ELNODE2": ["B", "Y", "Z"],
            "ORDER_": order,
            "LENGTH": [10.0, 20.0, 30.0],
        }
    )


TRAFOS = pd.DataFrame({"CODE": ["T1", "T2"], "ELNODE": ["Y", "Z"], "FPARENT": ["C1", "C1"], "USUARIOS": [5, 7]})
BREAKER = pd.DataFrame({"CODE": ["C1"], "LINESECTIO": ["S1"], "ASSEMBLY": ["INTERRUPTOR"], "STATE": ["CERRADO"]})


def test_breaker_on_a_segment_without_order_still_feeds_its_circuit():
    t = Topology.from_edges(_feeder([np.nan, 1, 1]), transformers=TRAFOS, switches=BREAKER)
    head = t.trace("C1")
    # before: the head was taken at S1's ELNODE1 (X), the wrong end, and the breaker fed nothing
    assert head.customers == 12 and sorted(head.transformers) == ["T1", "T2"]
    assert sorted(head.segments) == ["S1", "S2", "S3"] and t.trace("T2").depth == 3
    assert t.report.count("reversed_orientation") == 0  # no ORDER_ to contradict
    assert t.report.get("bad_order").examples == ["S1=nan"]  # the segment is named (was 'nan')
    # an ORDER_ that is there is still honoured
    t2 = Topology.from_edges(_feeder([-1, 1, 1]), transformers=TRAFOS, switches=BREAKER)
    assert t2.trace("C1").customers == 12 and t2.report.count("bad_order") == 0


def test_numeric_node_ids_read_as_floats_still_match_the_transformers():
    # ELNODE1/ELNODE2 with a missing value are read as floats (19057918.0); trafos.ELNODE as integers
    e = pd.DataFrame(
        {
            "CODE": [1.0, 2.0, 3.0, np.nan],
            "FPARENT": ["K"] * 4,
            "ELNODE1": [19057917.0, 19057918.0, 19057919.0, np.nan],
            "ELNODE2": [19057918.0, 19057919.0, 19057920.0, 19057921.0],
            "ORDER_": [1, 1, 1, 1],
        }
    )
    tr = pd.DataFrame({"CODE": ["T1", "T2"], "ELNODE": [19057919, 19057920], "USUARIOS": [10, 20], "FPARENT": ["K", "K"]})
    sw = pd.DataFrame({"CODE": ["K", "F"], "LINESECTIO": [1, "2 "], "ASSEMBLY": ["INTERRUPTOR", "CORTACIRCUITO"]})
    t = Topology.from_edges(e, transformers=tr, switches=sw, length=None)
    assert t.report.count("transformers_unknown_node") == 0
    assert t.report.count("switches_unknown_segment") == 0
    assert t.trace("K").customers == 30 and t.trace("F").customers == 30
    assert t.trace("T2").node == "19057920" and t.trace("1").kind == "segment"


def test_a_circuit_whose_head_is_guessed_is_reported():
    e = _feeder([np.nan] * 3)
    t = Topology.from_edges(e, transformers=TRAFOS)  # no breaker, no ORDER_: the head is a guess
    p = t.report.get("circuit_head_guessed")
    assert p is not None and p.count == 1 and p.examples[0].startswith("C1:")
    assert any("circuit_head_guessed" in line for line in t.report.lines("en"))
    t2 = Topology.from_edges(e, transformers=TRAFOS, roots={"C1": "B"})
    assert t2.report.count("circuit_head_guessed") == 0 and t2.trace("S1").customers == 12
    t3 = Topology.from_edges(e, transformers=TRAFOS, switches=BREAKER)
    assert t3.report.count("circuit_head_guessed") == 0 and t3.trace("C1").customers == 12
