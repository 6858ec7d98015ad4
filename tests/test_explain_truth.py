"""Ground-truth checks: Syn1-6 per-row vs best global ranking; twin drivers -> features -> top-k."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcrit.errors import NotFoundError, ValidationError
from gridcrit.explain.attribution import Attribution
from gridcrit.explain.truth import (
    critical_rows,
    driver_disagreements,
    driver_discrimination,
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


def test_critical_rows_top_share_per_period():
    pred = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100, 0, 0, 0, 0, 0, 0, 0, 0, 1], float)
    per = np.array(["2020-01"] * 10 + ["2020-02"] * 10)
    crit = critical_rows(pred, per, top=0.1)
    # one per period: the month's own head of the list, not the two largest overall
    assert crit.tolist() == [False] * 9 + [True] + [True] + [False] * 9
    assert critical_rows(pred, per, top=0.2).sum() == 4
    with pytest.raises(ValidationError, match="critical share"):
        critical_rows(pred, per, top=0.0)
    with pytest.raises(ValidationError, match="predictions"):
        critical_rows(pred[:3], per, top=0.1)


def _two_driver_case():
    names = ["age", "rural", "hist"]
    rows = pd.DataFrame({"asset_id": list("ABCDE"), "period": ["2020-01"] * 5})
    # A, B caused by age_heat; C, D by animals; E has no driver. Top 2: A age,hist  B hist,rural
    # C age,hist  D rural,hist
    att = _att([[5, 1, 3], [1, 2, 9], [4, 1, 3], [0.5, 6, 1], [1, 1, 1]], names)
    drivers = pd.DataFrame({"asset_id": list("ABCD"), "period": ["2020-01"] * 4,
                            "driver": ["age_heat", "age_heat", "animals", "animals"]})
    return att, rows, drivers, {"age_heat": ["age"], "animals": ["rural"]}


def test_driver_topk_restricted_to_critical_rows_and_miss_ranks():
    att, rows, drivers, feats = _two_driver_case()
    every = driver_topk(att, rows, drivers, feats, k=2)
    assert every["n_asset_periods"] == 4 and every["topk_hit_rate"] == pytest.approx(0.5)  # B, C miss
    assert [(ms["asset_id"], ms["driver_feature"], ms["driver_feature_rank"]) for ms in every["misses"]] == [
        ("B", "age", 3), ("C", "rural", 3)]
    crit = driver_topk(att, rows, drivers, feats, k=2, row_mask=np.array([True, False, False, True, True]))
    assert crit["n_asset_periods"] == 2 and crit["topk_hit_rate"] == 1.0  # A and D only


def test_driver_discrimination_top1_false_alarm_and_baselines():
    att, rows, drivers, feats = _two_driver_case()
    d = driver_discrimination(att, rows, drivers, feats, k=2)
    assert d["candidates"] == ["age_heat", "animals"]
    # own driver's feature above the other driver's: A yes (5 > 1), B no (1 < 2), C no (1 < 4), D yes (6 > 0.5)
    assert d["top1_driver_rate"] == pytest.approx(0.5)
    assert d["per_driver"]["age_heat"]["top1"] == 1 and d["per_driver"]["animals"]["top1"] == 1
    assert d["majority_driver_rate"] == pytest.approx(0.5)
    # global importance: age (mean |value| 2.3) > rural (2.2) -> 'age_heat' for every row
    assert d["global_top1_driver_rate"] == pytest.approx(0.5)
    # 'age' is in the top 2 of one animals row (C), 'rural' in the top 2 of one age_heat row (B)
    assert d["per_driver"]["age_heat"]["false_alarm_topk"] == pytest.approx(0.5)
    assert d["per_driver"]["animals"]["false_alarm_topk"] == pytest.approx(0.5)


def test_driver_disagreements_counts_and_examples():
    att, rows, drivers, feats = _two_driver_case()
    masks = Attribution(np.array([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1],
                                  [0.3, 0.3, 0.4]]), att.feature_names, "tabnet", False, np.array([.3, .5, .2]))
    r = driver_disagreements(masks, att, rows, drivers, feats, k=1)
    # SHAP top-1: A age, B hist, C age, D rural; masks top-1: A rural, B age, C rural, D rural
    assert r["total"] == {"both": 1, "only_tabnet": 2, "only_treeshap": 1, "neither": 0}
    assert [e["asset_id"] for e in r["examples"]["only_tabnet"]] == ["B", "C"]
    assert r["examples"]["only_treeshap"][0] == {"asset_id": "A", "period": "2020-01", "driver": "age_heat",
                                                 "tabnet": ["rural"], "treeshap": ["age"]}
    with pytest.raises(ValidationError, match="same rows"):
        driver_disagreements(masks, _att(np.ones((5, 2)), ["a", "b"]), rows, drivers, feats)


def test_twin_check_all_and_critical_on_tiny_twin(tiny_twin, tiny_store):
    from gridcrit.explain.truth import twin_check

    _truth, events = load_truth(tiny_twin)
    d = event_drivers(tiny_store, events, "month", scoreable={"age_heat", "animals"})
    names = ["age_years", "quality_group", "hist_count_total"]
    card = {"drivers": {"age_heat": ["age_years"], "animals": ["quality_group"]}}
    rows = d[["asset_id", "period"]].reset_index(drop=True)
    # an "oracle" explanation: each row's own driver gets the largest attribution
    vals = np.where(d["driver"].to_numpy()[:, None] == np.array(["age_heat", "animals", "x"]), 3.0, 1.0)
    pred = np.arange(len(rows), dtype=float)  # later rows = riskier
    r = twin_check(_att(vals, names), rows, tiny_store, tiny_twin, card, prediction=pred)
    assert r["topk"]["n_asset_periods"] == len(rows) and r["topk"]["topk_hit_rate"] == 1.0
    assert r["discrimination"]["top1_driver_rate"] == 1.0
    assert 0 < r["topk_critical"]["n_asset_periods"] < len(rows)
    assert r["critical"]["rows"] == critical_rows(pred, rows["period"]).sum()
    # without predictions there is no critical subset
    assert "topk_critical" not in twin_check(_att(vals, names), rows, tiny_store, tiny_twin, card)


def test_twin_check_can_leave_the_history_by_cause_out(tiny_twin, tiny_store):
    """``topk_critical_physical`` credits only non-history driver columns: an explanation that names
    animals rows by the asset's past animal outages counts in the check, not in that figure."""
    from gridcrit.explain.truth import twin_check

    _truth, events = load_truth(tiny_twin)
    d = event_drivers(tiny_store, events, "month", scoreable={"age_heat", "animals"})
    names = ["age_years", "quality_group", "hist_cause_animals_total", "other"]
    card = {"drivers": {"age_heat": ["age_years"], "animals": ["quality_group", "hist_cause_animals_total"]},
            "columns": {"age_years": {"group": "asset"}, "quality_group": {"group": "asset"},
                        "hist_cause_animals_total": {"group": "history"}, "other": {"group": "exposure"}}}
    rows = d[["asset_id", "period"]].reset_index(drop=True)
    animals = (d["driver"] == "animals").to_numpy()
    vals = np.tile([0.5, 2.0, 3.0, 1.0], (len(rows), 1))  # animals rows: history first, quality group second
    vals[~animals] = [3.0, 0.5, 0.5, 1.0]  # age_heat rows: age first
    pred = np.arange(len(rows), dtype=float)
    r = twin_check(_att(vals, names), rows, tiny_store, tiny_twin, card, prediction=pred, k=1)
    crit = critical_rows(pred, rows["period"])
    assert animals[crit].any() and (~animals[crit]).any()
    assert r["topk_critical"]["topk_hit_rate"] == 1.0
    assert r["topk_critical_physical"]["topk_hit_rate"] == pytest.approx((~animals[crit]).mean())


@pytest.mark.parametrize("name", ["Syn1", "Syn4", "Syn6"])
def test_true_log_odds_is_calibrated_on_make_syn_labels(name):
    from gridcrit.models.synthetic_benchmarks import true_log_odds

    X, y, _ = make_syn(name, 40_000, seed=5)
    p = 1.0 / (1.0 + np.exp(-true_log_odds(name, X)))
    bins = np.digitize(p, [0.2, 0.4, 0.6, 0.8])
    for b in np.unique(bins):  # observed rate matches the Bayes probability within each fifth
        sel = bins == b
        assert abs(y[sel].mean() - p[sel].mean()) < 0.03, (b, sel.sum())
    with pytest.raises(ValidationError, match="Syn7"):
        true_log_odds("Syn7", X)
