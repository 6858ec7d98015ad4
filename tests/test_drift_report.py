"""Drift: PSI / KS per feature, target and class balance, ranking, report files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridcrit.registry.drift import drift_report, psi, psi_categorical


def _frames(shift: float = 1.0, n: int = 3000, seed: int = 0):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({
        "veg": rng.normal(0, 1, n), "age": rng.uniform(0, 40, n), "kind": rng.choice(["a", "b", "c"], n),
        "y_saifi": rng.exponential(1.0, n), "y_risk": rng.choice(["Bajo", "Medio", "Alto"], n, p=[.6, .3, .1]),
    })
    new = pd.DataFrame({
        "veg": rng.normal(shift, 1, n), "age": rng.uniform(0, 40, n),
        "kind": rng.choice(["a", "b", "c"], n, p=[.2, .2, .6]),
        "y_saifi": rng.exponential(1.6, n), "y_risk": rng.choice(["Bajo", "Medio", "Alto"], n, p=[.3, .4, .3]),
    })
    return ref, new


def test_psi_zero_for_same_distribution_and_grows_with_shift():
    rng = np.random.default_rng(1)
    a = rng.normal(size=5000)
    assert psi(a, rng.normal(size=5000)) < 0.02
    small, big = psi(a, rng.normal(0.3, size=5000)), psi(a, rng.normal(1.0, size=5000))
    assert 0.02 < small < big and big > 0.25


def test_psi_counts_missing_as_a_bin():
    a = np.arange(1000.0)
    b = a.copy()
    b[:500] = np.nan
    assert psi(a, b) > 0.5


def test_psi_categorical():
    r = pd.Series(["a"] * 50 + ["b"] * 50)
    assert psi_categorical(r, r) == pytest.approx(0.0)
    assert psi_categorical(r, pd.Series(["a"] * 90 + ["c"] * 10)) > 0.25


def test_report_ranks_shifted_feature_first_and_flags_targets(tmp_path):
    ref, new = _frames()
    rep = drift_report(ref, new, ["age", "veg", "kind"], targets=["y_saifi"], class_column="y_risk",
                       reference_label="2019-01..2023-12", new_label="2024-01..2024-06")
    assert [f["feature"] for f in rep.features][:2] == ["veg", "kind"]
    assert rep.features[0]["level"] == "major" and rep.features[0]["ks_pvalue"] < 1e-6
    assert rep.features[-1]["feature"] == "age" and rep.features[-1]["level"] == "stable"
    assert rep.drifted == ["veg", "kind"]
    assert rep.targets["y_saifi"]["mean_new"] > rep.targets["y_saifi"]["mean_ref"]
    assert rep.class_balance["level"] != "stable" and rep.class_balance["chi2_pvalue"] < 1e-6
    paths = rep.write(tmp_path / "rep")
    md = Path(paths["markdown"]).read_text()
    assert "| 1 | veg |" in md and "Class balance of y_risk" in md
    assert json.loads(Path(paths["json"]).read_text())["drifted"] == ["veg", "kind"]
    assert Path(paths["png"]).read_bytes()[:4] == b"\x89PNG"
    assert "data:image/png;base64" in Path(paths["html"]).read_text()


def test_no_drift_is_reported_as_stable():
    ref, _ = _frames()
    other, _ = _frames(seed=5)
    rep = drift_report(ref, other, ["veg", "age", "kind"], targets=["y_saifi"], class_column="y_risk")
    assert rep.drifted == []
    assert "0 of 3 features drifted" in rep.summary()


def test_relation_drift_finds_feature_whose_effect_changed():
    rng = np.random.default_rng(3)
    n = 4000

    def frame(w):
        veg, age = rng.gamma(2, 1, n), rng.uniform(0, 40, n)
        return pd.DataFrame({"veg": veg, "age": age, "y": w * veg + 0.05 * age + rng.normal(0, 1, n)})

    rep = drift_report(frame(0.1), frame(1.5), ["age", "veg"], relation_target="y")
    assert rep.relation[0]["feature"] == "veg" and rep.relation[0]["delta"] > 0.3
    assert rep.drifted == []  # the inputs did not move, their effect did
    assert "association with y changed most" in rep.to_markdown()


def test_psi_sees_drift_in_zero_inflated_targets():
    rng = np.random.default_rng(4)
    ref = np.where(rng.random(20000) < 0.04, rng.exponential(1.0, 20000), 0.0)
    new = np.where(rng.random(20000) < 0.12, rng.exponential(1.0, 20000), 0.0)  # three times as many outages
    same = np.where(rng.random(20000) < 0.04, rng.exponential(1.0, 20000), 0.0)
    assert psi(ref, new) > 0.05 > 0.01 > psi(ref, same)
    rep = drift_report(pd.DataFrame({"y": ref}), pd.DataFrame({"y": new}), [], targets=["y"])
    assert rep.targets["y"]["level"] == "major" and rep.targets["y"]["mean_ratio"] > 2


def test_fewer_gaps_than_the_reference_is_not_drift(tmp_path):
    """History columns are empty in a store's first periods (no past yet): the reference has gaps the
    new periods lack. The values that are there did not move, so the column is stable; a column that
    starts arriving empty still drifts."""
    rng = np.random.default_rng(6)
    normal = rng.normal(200, 40, 6000)
    ref = pd.DataFrame({"rain_normal_mm": np.where(np.arange(6000) < 1200, np.nan, normal)})  # first year empty
    new = pd.DataFrame({"rain_normal_mm": rng.normal(200, 40, 1500)})
    rep = drift_report(ref, new, ["rain_normal_mm"])
    f = rep.features[0]
    assert f["level"] == "stable" and f["psi"] < 0.05 and rep.drifted == []
    assert f["missing_ref"] == pytest.approx(0.2) and f["missing_new"] == 0.0
    assert "20% → 0%" in rep.to_markdown()
    emptier = drift_report(new, ref, ["rain_normal_mm"])  # now the new rows are the ones with gaps
    assert emptier.drifted == ["rain_normal_mm"]


def test_html_report_has_the_association_change(tmp_path):
    rng = np.random.default_rng(7)
    veg = rng.gamma(2, 1, 2000)
    ref = pd.DataFrame({"veg": veg, "y": 0.1 * veg + rng.normal(0, 1, 2000)})
    new = pd.DataFrame({"veg": veg, "y": 1.5 * veg + rng.normal(0, 1, 2000)})
    rep = drift_report(ref, new, ["veg"], relation_target="y")
    assert "association with y changed most" in rep.to_html()


def test_drift_chart_names_the_thresholds_in_a_legend():
    """The two threshold labels used to be drawn at the same height and overwrote each other."""
    import matplotlib.pyplot as plt

    ref, new = _frames()
    fig = drift_report(ref, new, ["age", "veg", "kind"]).figure()
    try:
        legend = fig.axes[0].get_legend()
        assert legend is not None
        assert [t.get_text() for t in legend.get_texts()] == ["moderate > 0.1", "major > 0.25"]
        assert not fig.axes[0].texts  # no loose labels over the bars
    finally:
        plt.close(fig)


def test_seasonal_features_are_compared_with_the_same_months():
    """Rain follows the seasons: three dry months against whole years read as major drift; against the
    same months of the earlier years they are stable (and a real change still shows)."""
    from gridcrit.registry.drift import same_season

    rng = np.random.default_rng(0)
    months = pd.period_range("2019-01", "2024-09", freq="M").astype(str)
    rows = pd.DataFrame({"period": np.repeat(months, 200)})
    month = rows["period"].str[-2:].astype(int)
    rows["rain"] = 100 + 80 * np.cos(2 * np.pi * (month - 1) / 12) + rng.normal(0, 10, len(rows))
    rows["age"] = rng.normal(20, 5, len(rows))
    new_p = ["2024-07", "2024-08", "2024-09"]
    is_new = rows["period"].isin(new_p).to_numpy()
    ref_all, new = rows[~is_new], rows[is_new]
    whole = drift_report(ref_all, new, ["rain", "age"])
    assert {f["feature"]: f["level"] for f in whole.features}["rain"] == "major"
    ref, seasons = same_season(ref_all, ref_all["period"], new_p)
    assert seasons == ["07", "08", "09"] and set(ref["period"].str[-2:]) == {"07", "08", "09"}
    seasonal = {f["feature"]: f["level"] for f in drift_report(ref, new, ["rain", "age"]).features}
    assert seasonal == {"rain": "stable", "age": "stable"}
    wetter = new.assign(rain=new["rain"] + 60)
    assert {f["feature"]: f["level"] for f in drift_report(ref, wetter, ["rain"]).features}["rain"] == "major"
    # too little of the same season in the past (or all of it): the whole reference
    assert same_season(ref_all.head(300), ref_all["period"].head(300), new_p)[1] == []


def test_report_files_in_spanish_and_english(tmp_path):
    """The retrain report's drift.md / drift.html were English only while the summary beside them was in
    the reader's language; the JSON keeps English keys and level codes for programs."""
    rng = np.random.default_rng(8)
    ref = pd.DataFrame({"lluvia_mm": rng.normal(100, 10, 3000), "y": rng.poisson(1, 3000)})
    new = pd.DataFrame({"lluvia_mm": rng.normal(160, 10, 800), "y": rng.poisson(1, 800)})
    rep = drift_report(ref, new, ["lluvia_mm"], relation_target="y")
    es, en = rep.to_markdown(lang="es"), rep.to_markdown(lang="en")
    assert "Umbrales de PSI: moderada > 0.1, mayor > 0.25." in es and "| mayor |" in es
    assert "1 de 1 variables con deriva" in es and "feature" not in es
    assert "| major |" in en and "mayor" not in en
    paths = rep.write(tmp_path, lang="es")
    html = Path(paths["html"]).read_text(encoding="utf-8")
    assert "Variables ordenadas por PSI" in html and "<th>media nueva</th>" in html
    assert json.loads(Path(paths["json"]).read_text())["features"][0]["level"] == "major"
