"""The twin's animals-at-transformers hazard acts through observable columns as documented."""

from __future__ import annotations

import numpy as np

from gridcrit.data.synth import build_network
from gridcrit.data.synth.events import asset_weights
from gridcrit.data.synth.hazards import COMPONENTS, check_hazards, truth_document


def _animals_trafo():
    return next(c for c in COMPONENTS if c.driver == "animals" and c.asset == "trafo")


def test_animals_trafo_weight_is_group_times_feeder_times_pole():
    comp = _animals_trafo()
    k = comp.coefficients
    net = build_network(0, "tiny")
    x, _mun = asset_weights(net, comp)
    tc = net.node_circ[net.tr_node]
    fseg = net.node_seg[net.tr_node]
    covered = np.where(fseg >= 0, net.seg_covered[np.maximum(fseg, 0)], False)
    ap_at = {int(n): i for i, n in enumerate(net.ap_node)}
    wood = np.array([ap_at.get(int(n), -1) >= 0 and net.ap_material[ap_at[int(n)]] == "MADERA"
                     for n in net.tr_node])
    expect = (np.array([k["group"][g] for g in net.circ_grupo[tc]])
              * np.where(covered, k["covered_feeder"], k["bare_feeder"]) * np.where(wood, k["wooden_pole"], 1.0))
    np.testing.assert_allclose(x, expect)
    assert wood.any() and (~wood).any()
    # the contrast that makes the driver identifiable: a rural wooden pole fed by bare conductor is
    # far more exposed than an urban transformer on an insulated feeder
    assert k["group"]["4"] * k["bare_feeder"] * k["wooden_pole"] > 100 * k["group"]["1"] * k["covered_feeder"]


def test_truth_json_documents_the_animals_columns():
    doc = truth_document(check_hazards(None), {})
    comp = next(c for c in doc["drivers"]["animals"]["components"] if c["asset"] == "trafo")
    cols = " ".join(comp["acts_through"])
    assert "GRUPO015" in cols and "TIPOCONDUCTOR" in cols and "apoyos.MATERIAL" in cols
    assert comp["coefficients"]["wooden_pole"] > 1


def test_truth_json_gives_lightning_no_rate_target():
    """Lightning read 'target_events_per_month_at_chec_scale: 0.0', as if the twin aimed at no lightning
    faults; it is stroke-driven, with no rate target (the document says how its events arise)."""
    doc = truth_document(check_hazards(None), {})
    light = doc["drivers"]["lightning"]["components"][0]
    assert light["target_events_per_month_at_chec_scale"] is None and "per stroke" in light["events"]
    veg = doc["drivers"]["vegetation"]["components"][0]
    assert veg["target_events_per_month_at_chec_scale"] > 0
