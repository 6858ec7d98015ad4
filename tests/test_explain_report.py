"""Explanation report of a TabNet model: SHAP comparison, disagreements, per-step masks; stability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridcrit.explain.attribution import Attribution
from gridcrit.explain.report import disagreements, explain_rows, write_report
from gridcrit.explain.stability import group_agreement, method_agreement, rowwise_spearman, stability
from gridcrit.models.zoo import make_model


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(1)
    n = 300
    X = pd.DataFrame({"age": rng.uniform(0, 40, n), "veg": rng.gamma(2, 1, n), "depth": rng.integers(1, 9, n) * 1.0,
                      "hist": rng.poisson(1, n) * 1.0})
    y = 0.05 * X["age"] + 0.8 * X["veg"] + 0.1 * rng.normal(size=n)
    rows = pd.DataFrame({"asset_id": [f"T{i:03d}" for i in range(n)], "period": "2020-01"})
    groups = {"age": "asset", "veg": "exposure", "depth": "topology", "hist": "history"}
    return X, y.to_numpy(), rows, groups


def test_tabnet_report_compares_with_shap_and_shows_disagreements(table, tmp_path):
    X, y, rows, groups = table
    m = make_model("tabnet", max_epochs=5, n_steps=2, batch_size=128).fit(X, y)
    b = explain_rows(m, X, rows, groups, version="v0001", permutation_rows=100, ig_rows=120)
    assert set(b.others) == {"treeshap-surrogate", "permutation", "ig"}
    ig = b.others["ig"].values  # integrated gradients on a 120-row sample, the other rows NaN
    assert np.isfinite(ig).all(axis=1).sum() == 120 and np.isnan(ig).all(axis=1).sum() == len(X) - 120
    assert any("R²" in n for n in b.others["treeshap-surrogate"].notes)
    d = disagreements(b.main, b.others["treeshap-surrogate"], b.rows, b.X, n=3)
    assert len(d) == 3 and all(x["spearman"] <= 1 for x in d)
    assert d[0]["spearman"] <= d[-1]["spearman"]  # worst first
    page = write_report(b, tmp_path, lang="en")
    text = page.read_text(encoding="utf-8")
    assert "Where they disagree: tabnet vs treeshap-surrogate" in text and "Per-step masks" in text
    assert (tmp_path / "charts" / "steps.png").exists() and (tmp_path / "charts" / "plotly.min.js").exists()


def test_agreement_helpers():
    a = np.array([[3.0, 2, 1], [1, 2, 3]])
    assert rowwise_spearman(a, a) == pytest.approx(1.0)
    assert rowwise_spearman(a, -a[:, ::-1]) == pytest.approx(-1.0)  # signs are ignored, order reversed
    A = Attribution(a, ["x", "y", "z"], "m1", False, np.array([0.5, 0.3, 0.2]))
    B = Attribution(a[:, ::-1].copy(), ["x", "y", "z"], "m2", False, np.array([0.2, 0.3, 0.5]))
    res = method_agreement({"m1": A, "m2": B}, k=1)
    assert res["spearman_matrix"][0][1] == pytest.approx(-1.0) and res["pairs"][0]["topk_overlap"] == 0.0
    g = group_agreement(A.global_importance, B.global_importance, ["x", "y", "z"],
                        {"x": "asset", "y": "asset", "z": "history"})
    assert g["asset"]["share_a"] == pytest.approx(0.8) and g["history"]["share_b"] == pytest.approx(0.5)


def test_stability_over_seeds_and_folds(table):
    X, y, _, groups = table
    folds = [(np.arange(0, 150), np.arange(150, 200)), (np.arange(0, 250), np.arange(250, 300))]
    res = stability(lambda s: make_model("xgboost", n_estimators=40, max_depth=3, random_state=s), X, y, X.iloc[:100],
                    seeds=(0, 1), folds=folds, groups=groups, k=2)
    assert res["seeds"]["n_runs"] == 2 and res["folds"]["n_runs"] == 2
    assert res["seeds"]["mean_spearman"] > 0.7 and res["seeds"]["mean_topk_overlap"] == 1.0  # age+veg dominate
    assert set(res["seeds"]["per_group"]) == {"asset", "exposure", "topology", "history"}
    assert res["folds"]["per_group"]["exposure"]["share_mean"] > 0.5
