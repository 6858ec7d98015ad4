"""The risk task's primary metric is the ranked probability score (RPS) of the class probabilities on the
risk levels' defined order, in `compare` and in registry promotion (review: on the small twins every model's
argmax is the majority class, so macro-F1 tied and `compare --target risk` / retrain promotion decided on
noise)."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from _registry_fakes import fake_dataset, fake_ingest, make_rows, write_export
from gridcrit.errors import GridcritError, ValidationError
from gridcrit.features.targets import RISK_LABELS
from gridcrit.models import metrics as M  # noqa: N812
from gridcrit.models.compare import compare_models, synthetic_panel, verdict
from gridcrit.registry import evaluate as E  # noqa: N812
from gridcrit.registry.native import NativeGBDT
from gridcrit.registry.registry import Registry
from gridcrit.registry.retrain import retrain, summary_text, train_and_register

ABC = ["Alto", "Bajo", "Medio"]  # how sklearn-style models sort the labels: their classes_ order


# -- the score ------------------------------------------------------------------------------------
def test_rps_of_hand_computed_cases():
    # perfect: all mass on the observed class
    assert M.rps([0, 1, 2], np.eye(3), [0, 1, 2]) == 0.0
    # uniform over 3 classes: y=0 -> (1/3-1)² + (2/3-1)² = 5/9; y=1 -> 1/9 + 1/9; y=2 -> 1/9 + 4/9;
    # mean 4/9, over K-1 = 2 -> 2/9
    assert M.rps([0, 1, 2], np.full((3, 3), 1 / 3), [0, 1, 2]) == pytest.approx(2 / 9)
    # sure of the wrong extreme: every threshold between counts 1 -> (K-1)/(K-1) = 1
    assert M.rps([0], [[0.0, 0.0, 1.0]], [0, 1, 2]) == pytest.approx(1.0)
    # a spread forecast, by hand: y=1, p=(.2,.5,.3): thresholds (.2-0)² + (.7-1)² = .13, /2
    assert M.rps([1], [[0.2, 0.5, 0.3]], [0, 1, 2]) == pytest.approx(0.065)
    # two classes: the Brier score of the first class, whatever the order
    assert M.rps(["b"], [[0.3, 0.7]], ["a", "b"]) == pytest.approx(0.09)


def test_rps_rewards_the_adjacent_class_over_a_far_one():
    y = ["Bajo"]
    near = M.rps(y, [[0.0, 0.0, 1.0]], ABC)  # all on Medio (columns Alto, Bajo, Medio)
    far = M.rps(y, [[1.0, 0.0, 0.0]], ABC)   # all on Alto
    assert 0 < near < far
    # on the 4-level scale: Medio is 1 of 3 thresholds off, Alto 2 of 3
    assert near == pytest.approx(1 / 3) and far == pytest.approx(2 / 3)
    # an argmax metric cannot see it: both predictions are simply wrong
    assert M.macro_f1(y, ["Medio"]) == M.macro_f1(y, ["Alto"]) == 0.0


def test_class_order_comes_from_the_risk_definition_not_the_alphabet():
    assert sorted(["Alto", "Bajo", "Medio", "Muy Alto"]) != list(RISK_LABELS)  # what the alphabet gives
    assert M.class_order(["Alto", "Bajo", "Medio"]) == ["Bajo", "Medio", "Alto", "Muy Alto"]
    assert M.class_order(["MUY ALTO", "bajo"]) == list(RISK_LABELS)  # by name, whatever the case
    assert M.class_order(np.array([3, 0, 1], dtype=np.int8)) == [0, 1, 3]  # the dataset's codes by value
    assert M.class_order(["a", "b"]) == ["a", "b"]  # two classes: order is irrelevant to the RPS
    assert M.class_order(["x", "y", "z"]) is None  # no known order
    # a model's columns in alphabetical order are mapped by label: the same score as in the defined order
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=50)
    y = rng.choice(list(RISK_LABELS), 50)
    ordered = M.rps(y, p, list(RISK_LABELS))
    cols = [list(RISK_LABELS).index(c) for c in sorted(RISK_LABELS)]
    assert M.rps(y, p[:, cols], sorted(RISK_LABELS)) == pytest.approx(ordered)
    # the alphabet's order (Alto < Bajo < Medio < Muy Alto) would score it differently
    assert M.rps(y, p[:, cols], sorted(RISK_LABELS), order=sorted(RISK_LABELS)) != pytest.approx(ordered)


def test_rps_errors_say_what_is_missing():
    with pytest.raises(ValidationError, match="probabilities"):
        M.rps(["Bajo"], None, ["Bajo", "Alto"])
    with pytest.raises(ValidationError, match="ordered classes"):
        M.rps(["x"], [[1.0, 0.0, 0.0]], ["x", "y", "z"])
    with pytest.raises(ValidationError, match="do not match"):
        M.rps(["Bajo", "Alto"], [[1.0, 0.0]], ["Bajo", "Alto"])


def test_rps_is_a_lower_is_better_classification_metric():
    assert "rps" in M.CLASSIFICATION_METRICS and M.HIGHER_IS_BETTER["rps"] is False
    out = M.classification_metrics(["Bajo", "Medio"], ["Bajo", "Bajo"], np.array([[0.1, 0.8, 0.1]] * 2), ABC)
    assert {"rps", "macro_f1", "balanced_accuracy", "auc"} <= set(out)


# -- compare ------------------------------------------------------------------------------------------
def test_compare_ranks_majority_class_models_by_rps():
    frame, feats = synthetic_panel(n_assets=150, n_periods=16, seed=0)
    params = {"lightgbm": {"n_estimators": 30}, "rf": {"n_estimators": 20}}
    res = compare_models(frame, feats, "risk", ["lightgbm", "rf"], n_folds=2, n_boot=100, model_params=params)
    # every model (and the baseline) predicts the majority class: macro-F1 is the same in every period
    assert set(res.predictions["pred"]) == {"Bajo"}
    f1 = res.periods.pivot_table(index=["fold", "period"], columns="model", values="macro_f1")
    assert (f1.nunique(axis=1) == 1).all()
    s = res.summary
    assert s["primary"] == "rps" and s["higher_is_better"] is False
    assert s["class_order"] == list(RISK_LABELS)
    means = {m: s["models"][m]["rps"]["mean"] for m in s["ranking"]}
    assert list(means.values()) == sorted(means.values())  # best (lowest) first
    assert len(set(means.values())) == len(means)  # the probabilities tell them apart
    assert s["winner"] == s["ranking"][0] != "historical_mean"
    assert s["beats_baseline"][s["winner"]] is True and s["vs_baseline"][s["winner"]]["diff"] < 0
    v = verdict(s)
    assert f"{s['winner']} " in v and "on rps, lower is better" in v and " tie " not in v
    assert "menor es mejor" in verdict(s, "es")
    # the other classification metrics are still reported
    assert {"macro_f1", "balanced_accuracy", "auc"} <= set(s["models"][s["winner"]])


# -- registry -----------------------------------------------------------------------------------------
class _Fixed:
    """A classifier that always predicts 'Bajo' with fixed class probabilities (columns: ABC)."""

    classes_ = np.array(ABC, dtype=object)

    def __init__(self, p: list[float]):
        self.p = p

    def predict(self, X):
        return np.array(["Bajo"] * len(X), dtype=object)

    def predict_proba(self, X):
        return np.tile(self.p, (len(X), 1))


def test_registry_promotes_on_rps_lower_is_better():
    assert E.primary_metric("classification") == ("rps", False)
    X = pd.DataFrame({"a": np.zeros(6)})
    y = ["Bajo", "Bajo", "Bajo", "Bajo", "Medio", "Alto"]
    vague, sharp = _Fixed([0.1, 0.5, 0.4]), _Fixed([0.05, 0.8, 0.15])
    champ, chall = E.evaluate(vague, X, y, "classification"), E.evaluate(sharp, X, y, "classification")
    assert champ["macro_f1"] == chall["macro_f1"]  # the same argmax: macro-F1 cannot choose
    assert chall["rps"] < champ["rps"]
    gain = E.improvement(champ, chall, "classification")
    assert gain == pytest.approx((champ["rps"] - chall["rps"]) / champ["rps"]) and gain > 0
    assert E.improvement(chall, champ, "classification") < 0
    # the columns were matched by label: the RPS on the defined order
    assert chall["rps"] == pytest.approx(M.rps(y, sharp.predict_proba(X), ABC, list(RISK_LABELS)))


def test_registry_evaluate_errors_are_helpful():
    X = pd.DataFrame({"a": np.zeros(3)})

    class NoProba:
        def predict(self, X):
            return np.array(["Bajo"] * len(X))

    with pytest.raises(GridcritError, match="predict_proba"):
        E.evaluate(NoProba(), X, ["Bajo"] * 3, "classification")
    with pytest.raises(ValidationError, match="ordered classes"):
        m = _Fixed([0.2, 0.3, 0.5])
        m.classes_ = np.array(["x", "y", "z"], dtype=object)
        E.evaluate(m, X, ["x", "y", "z"], "classification")
    with pytest.raises(GridcritError, match="rps"):  # a stored dict without the metric is not compared
        E.improvement({"macro_f1": 0.3}, {"rps": 0.1, "macro_f1": 0.3}, "classification")


@pytest.fixture()
def risk_world(tmp_path):
    """A store with 2019-01..2020-12 and a LightGBM risk classifier (labels Bajo/Medio/Alto) as champion."""
    store = tmp_path / "g.duckdb"
    fake_ingest([write_export(make_rows("2019-01", "2020-12"), tmp_path / "base")], store)
    v = train_and_register(store, NativeGBDT(library="lightgbm", task="classification", n_estimators=20),
                           name="lightgbm", task="classification", target="risk", dataset_fn=fake_dataset)
    new_dir = tmp_path / "new"
    write_export(make_rows("2021-01", "2021-06", w_veg=2.0, veg_shift=0.5), new_dir)
    return store, v, new_dir


def test_retrain_of_a_risk_classifier_compares_on_rps(risk_world):
    store, v1, new_dir = risk_world
    meta = Registry(store).show(v1)
    assert list(Registry(store).load(v1).model.classes_) == ["Alto", "Bajo", "Medio"]  # alphabetical columns
    assert "rps" in meta["metrics"]["latest_period"]
    r = retrain(store, [new_dir], mode="finetune", margin=0.0, ingest_fn=fake_ingest, dataset_fn=fake_dataset)
    assert r.primary_metric == "rps"
    a, b = r.metrics["champion"]["rps"], r.metrics["challenger"]["rps"]
    assert r.improvement == pytest.approx((a - b) / a)
    assert r.promoted == (b <= a)
    assert "lower is better" in summary_text(r, "en") and "mejor cuanto más bajo" in summary_text(r, "es")
    assert Registry(store).show(r.challenger)["metrics"]["primary_metric"] == "rps"


def test_a_version_registered_before_the_rps_is_re_evaluated_and_listed(risk_world, capsys):
    """Versions registered before this change have no rps in their stored metrics: retrain re-evaluates
    both models on the new periods (nothing reads the missing key) and `models list` shows the old
    macro-F1 by name."""
    from gridcrit.cli import run
    from gridcrit.cli.registry import _primary_parts

    store, v1, new_dir = risk_world
    con = duckdb.connect(str(store))
    try:
        met = json.loads(con.execute("SELECT metrics FROM _registry_models WHERE version = ?", [v1]).fetchall()[0][0])
        for d in [met["latest_period"], *met["folds"]]:
            for k in ("rps", "auc"):
                d.pop(k, None)
        con.execute("UPDATE _registry_models SET metrics = ? WHERE version = ?", [json.dumps(met), v1])
    finally:
        con.close()
    old = Registry(store).show(v1)
    assert "rps" not in old["metrics"]["latest_period"]
    assert _primary_parts(old)[0] == "macro_f1"
    assert E.recorded_primary("classification", old["metrics"]["latest_period"]) == ("macro_f1", True)
    assert E.recorded_primary("classification", {"rps": 0.1, "macro_f1": 0.3}) == ("rps", False)
    r = retrain(store, [new_dir], mode="finetune", margin=0.0, ingest_fn=fake_ingest, dataset_fn=fake_dataset)
    assert r.primary_metric == "rps" and np.isfinite(r.improvement)
    assert "rps" in r.metrics["champion"] and "rps" in r.metrics["challenger"]
    assert run(["models", "list", "--store", str(store), "--lang", "en"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "rps (lower is better)" in out and "macro_f1 (higher is better)" in out


def test_rows_without_a_saifi_are_not_a_risk_class_when_registering(tiny_store, tmp_path):
    """The dataset codes the risk class of a row whose SAIFI is not known yet (an unfinished period) as
    -1; training for the registry dropped only NaN targets, so -1 was learned and scored as a class and
    the unfinished period became the "latest period" the model was reported on."""
    import shutil

    from gridcrit.features.dataset import build_dataset
    from gridcrit.registry.native import NativeGBDT
    from gridcrit.registry.registry import Registry
    from gridcrit.registry.retrain import train_and_register

    store = tmp_path / "s.duckdb"
    shutil.copy(tiny_store, store)
    ds = build_dataset(store, level="circuit", period="month")
    last = sorted(ds.frame["period"].astype(str).unique())[-1]
    unfinished = (ds.frame["period"].astype(str) == last).to_numpy()
    ds.frame.loc[unfinished, "y_saifi"] = np.nan
    ds.frame.loc[unfinished, "y_risk"] = -1
    v = train_and_register(store, NativeGBDT(library="lightgbm", task="classification", n_estimators=10),
                           name="lightgbm", task="classification", target="risk", dataset=ds)
    meta = Registry(store).show(v)
    assert last not in [str(p) for p in meta["metrics"]["latest_periods"]]
    assert -1 not in [int(c) for c in Registry(store).load(v).model.classes_]
