"""Ground-truth checks: Syn1-6 per-row vs best global ranking; twin drivers -> features -> top-k."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcrit.errors import NotFoundError, ValidationError
from gridcrit.explain.attribution import Attribution
from gridcrit.explain.truth import (
    driver_features,
    driver_share,
    driver_topk,
    event_drivers,
    load_truth,
    syn_check,
)
from gridcrit.models.synthetic_benchmarks import make_syn


def test_syn_oracle_rows_beat_global_and_global_does_not():
    _, _, truth = make_syn("Syn5", 2000, seed=0)
    perfect = syn_check(truth.astype(float) + 0.01, truth)
    assert perfect["rowwise_topk"] == 1.0 and perfect["beats_global"]
    assert perfect["branch_rowwise_topk"] == 1.0 and perfect["branch_beats_global"]
    # one global ordering used for every row cannot beat the best global ranking
    freq = truth.mean(0)
    glob = syn_check(np.broadcast_to(freq, truth.shape), truth)
    assert not glob["beats_global"]
    assert glob["rowwise_topk"] == pytest.approx(glob["best_global_topk"])
    assert 0.5 < glob["best_global_topk"] < 1.0  # rows differ: a global ranking is imperfect


def test_syn_branch_scores_absent_on_syn1_to_3():
    _, _, truth = make_syn("Syn2", 200, seed=0)
    assert "branch_rowwise_topk" not in syn_check(np.random.default_rng(0).random(truth.shape), truth)


def _att(values, names):
    v = np.asarray(values, float)
    imp = np.abs(v).mean(0)
    return Attribution(v, names, "treeshap", True, imp / imp.sum())


def test_driver_topk_hits_misses_and_global_baseline():
    names = ["veg", "age", "light", "hist"]
    rows = pd.DataFrame({"asset_id": ["A", "B", "C", "D"], "period": ["2020-01"] * 4})
    att = _att([[5, 1, 0, 3], [0, 4, 0, 9], [0, 0, 0.1, 9], [9, 0, 0, 1]], names)
    drivers = pd.DataFrame({"asset_id": ["A", "B", "C", "X"], "period": ["2020-01"] * 4,
                            "driver": ["vegetation", "age_heat", "lightning", "vegetation"]})
    feats = {"vegetation": ["veg"], "age_heat": ["age"], "lightning": ["light"]}
    r = driver_topk(att, rows, drivers, feats, k=1)
    assert r["n_asset_periods"] == 3  # X is not among the explained rows
    assert r["topk_hit_rate"] == pytest.approx(1 / 3)  # only A's driver is its top feature
    assert r["global_ranking_hit_rate"] == pytest.approx(0.0)  # global top-1 is 'hist'
    assert {m["asset_id"] for m in r["misses"]} == {"B", "C"}
    r2 = driver_topk(att, rows, drivers, feats, k=2)
    assert r2["topk_hit_rate"] == pytest.approx(1.0)  # B and C: driver second after hist
    share = driver_share(att, feats)
    assert 0 < share["any_true_driver"] < 1 and share["feature_share_of_driver_columns"] == 0.75


def test_driver_features_from_card_and_errors(tmp_path):
    card = {"drivers": {"lightning": ["guard_wire_feeder", "lightning_density_last_12m"], "poles": ["x_missing"]}}
    assert driver_features(card, ["guard_wire_feeder", "age_years"]) == {"lightning": ["guard_wire_feeder"]}
    with pytest.raises(ValidationError, match="drivers"):
        driver_features({}, ["a"])
    with pytest.raises(NotFoundError, match=r"truth\.json"):
        load_truth(tmp_path)


def test_event_drivers_on_tiny_twin(tiny_twin, tiny_store):
    _truth, events = load_truth(tiny_twin)
    d = event_drivers(tiny_store, events, "month", scoreable={"age_heat", "vegetation", "lightning", "animals"})
    assert len(d) > 10
    assert set(d["driver"]) <= {"age_heat", "vegetation", "lightning", "animals"}
    assert (d["share"] >= 0.5).all() and d["period"].str.fullmatch(r"\d{4}-\d{2}").all()
    # transformer faults operate the transformer itself: age_heat asset-periods are transformers
    assert d.loc[d["driver"] == "age_heat", "asset_id"].str.startswith("TD").all()
