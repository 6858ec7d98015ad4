"""`gridcrit demo`: the walkthrough (gridcrit.demo.run_demo) on the tiny twin agrees with the store and the APIs.

One full walkthrough runs once per module (~15-25 s on 1 thread); just before its retraining step a callback
records what the store's APIs say at that moment (predict, indices, dataset, registry), since the retraining
adds three months and may change the champion. ``--steps data`` is checked separately (fast).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from gridcrit.data.store import connect
from gridcrit.errors import ValidationError

pytest.importorskip("gridcrit.data.synth")


def _cli(argv: list[str]) -> int:
    """The root CLI with this module's ``demo`` in place of any older one (until cli/__init__ registers it)."""
    from gridcrit.cli import cli_app, run
    from gridcrit.cli.demo import register

    cli_app.registered_commands = [c for c in cli_app.registered_commands if c.name != "demo"]
    register(cli_app)
    return run(argv)


def test_resolve_steps_adds_what_a_step_needs():
    from gridcrit.demo import STEPS, resolve_steps

    assert resolve_steps("all") == list(STEPS) == resolve_steps(None)
    assert resolve_steps("data") == ["data"]
    assert resolve_steps("forecast") == ["data", "dataset", "models", "forecast"]
    assert resolve_steps("retrain,reliability") == ["data", "reliability", "dataset", "models", "retrain"]
    assert resolve_steps(["assistant"]) == ["data", "assistant"]
    with pytest.raises(ValidationError, match="unknown demo step"):
        resolve_steps("data,plots")


def test_steps_data_json_is_the_data_part_only(tmp_path, capsys):
    out = tmp_path / "demo"
    assert _cli(["demo", "--out", str(out), "--scale", "tiny", "--steps", "data", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    store = out / "gridcrit.duckdb"
    assert s["steps"] == ["data"] and s["store"] == s["data"]["store"] == str(store) and s["rows_added"] > 0
    assert not {"reliability", "dataset", "models", "forecast", "explain", "assistant", "retrain"} & set(s)
    assert set(s["seconds"]) == {"data", "total"}
    con = connect(store, read_only=True)
    try:
        n = con.execute("SELECT count(*) FROM interrupciones").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    finally:
        con.close()
    assert s["tables"]["interrupciones"]["rows"] == n > 0
    assert not any(t.startswith("_registry") for t in tables)  # nothing trained
    assert all(str(store) in c["command"] for c in s["next"])
    assert not any("predict" in c["command"] for c in s["next"])  # no model yet: nothing to predict with


def test_an_existing_foreign_store_is_refused_not_replaced(tmp_path, capsys):
    from gridcrit.demo import run_demo

    other = tmp_path / "mine.duckdb"
    other.write_bytes(b"not the demo's")
    with pytest.raises(ValidationError, match="already exists"):
        run_demo(tmp_path / "demo", store=other, scale="tiny", progress=False)
    assert other.read_bytes() == b"not the demo's"
    assert _cli(["demo", "--out", str(tmp_path / "demo"), "--store", str(other), "--scale", "tiny"]) == 2
    assert "ya existe" in capsys.readouterr().err
    with pytest.raises(ValidationError, match="scale"):
        run_demo(tmp_path / "demo", scale="huge", steps="data", progress=False)


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    from gridcrit.demo import run_demo
    from gridcrit.features.dataset import build_dataset
    from gridcrit.registry.predict import predict
    from gridcrit.registry.registry import Registry
    from gridcrit.reliability.indices import compute_indices

    out = tmp_path_factory.mktemp("walk") / "demo"
    store = out / "gridcrit.duckdb"
    seen: list[str] = []
    before: dict = {}

    def on_step(step: str) -> None:
        seen.append(step)
        if step == "retrain":  # the store as steps 1-7 left it
            before["predict"] = predict(store, period="next")
            before["indices"] = compute_indices(store, by="system", period="year")
            before["indices_excl"] = compute_indices(store, by="system", period="year", exclude_med=True)
            before["dataset"] = build_dataset(store, level="transformer", period="month")
            before["registry"] = {m["version"]: m for m in Registry(store).list()}

    res = run_demo(out, scale="tiny", seed=0, progress=False, on_step=on_step)
    # a second run on the same folder starts over (the demo's own store is replaced, not added to)
    return {"res": json.loads(json.dumps(res)), "raw": res, "store": store, "out": out, "seen": seen,
            "before": before}


def test_walkthrough_runs_every_step_in_order(walk):
    from gridcrit.cli.common import to_json
    from gridcrit.demo import STEPS

    r = walk["res"]
    assert walk["seen"] == r["steps"] == list(STEPS)
    assert set(r["seconds"]) == {*STEPS, "total"}
    assert r["seconds"]["total"] >= sum(v for k, v in r["seconds"].items() if k != "total") - 0.05
    json.loads(to_json(walk["raw"]))  # one JSON object, as `--json` prints it


def test_top_level_summary_is_the_store_the_walkthrough_leaves(walk):
    """The keys the demo always printed describe the final store (three more months after retraining)."""
    from gridcrit.reliability.indices import compute_indices

    r = walk["res"]
    con = connect(walk["store"], read_only=True)
    try:
        n_ev = con.execute("SELECT count(*) FROM interrupciones").fetchone()[0]
    finally:
        con.close()
    assert r["tables"]["interrupciones"]["rows"] == n_ev > r["data"]["tables"]["interrupciones"]["rows"]
    ix = compute_indices(walk["store"], by="system", period="year").frame.set_index("period")
    assert [str(y["year"]) for y in r["by_year"]] == list(ix.index.astype(str))
    for y in r["by_year"]:  # the final store's yearly figures, as `gridcrit indices` computes them
        assert y["SAIDI"] == pytest.approx(ix.loc[str(y["year"]), "SAIDI"], rel=1e-5)
    assert r["rows_added"] == r["data"]["rows_added"] + r["retrain"]["rows_added"]
    assert r["data"]["by_year"][-1]["to"][:7] == "2024-06" and r["by_year"][-1]["to"][:7] == "2024-09"


def test_reliability_agrees_with_compute_indices(walk):
    r, b = walk["res"]["reliability"], walk["before"]
    th = b["indices"].med.thresholds
    assert r["n_med"] == int(th["n_med"].sum())
    assert r["med_days"] == sorted(str(d) for d in b["indices"].med.days.query("is_med")["date"])
    fx = b["indices"].frame.set_index(b["indices"].frame["period"].astype(str).str[:4].astype(int))
    ex = b["indices_excl"].frame.set_index(b["indices_excl"].frame["period"].astype(str).str[:4].astype(int))
    assert [y["year"] for y in r["years"]] == list(fx.index)
    for y in r["years"]:
        assert y["SAIFI"] == pytest.approx(fx.at[y["year"], "SAIFI"])
        assert y["SAIDI_excl_med"] == pytest.approx(ex.at[y["year"], "SAIDI"])
        assert y["n_med"] == int(th.set_index("year").at[y["year"], "n_med"])
        if y["n_med"] == 0:
            assert y["SAIDI_excl_med"] == pytest.approx(y["SAIDI"])
        else:
            assert y["SAIDI_excl_med"] < y["SAIDI"]
    last = r["last_full_year"]
    assert last["months"] == 12 and last["year"] == max(int(y) for y in fx.index[fx["months"] == 12])
    assert last["year"] == walk["res"]["data"]["last_full_year"]  # the data step's reading of the same year


def test_dataset_step_describes_build_dataset(walk):
    r, ds = walk["res"]["dataset"], walk["before"]["dataset"]
    per = sorted(ds.frame["period"].astype(str).unique())
    assert r["rows"] == len(ds.frame) and r["features"] == len(ds.feature_columns)
    assert (r["first_period"], r["last_period"], r["periods"]) == (per[0], per[-1], len(per))
    assert r["assets"] == ds.frame["asset_id"].nunique()
    assert sum(r["feature_groups"].values()) == r["features"]


def test_models_are_registered_and_their_metrics_are_the_registered_models(walk):
    from gridcrit.models import metrics as M  # noqa: N812
    from gridcrit.models.compare import model_frame
    from gridcrit.registry.fingerprint import period_labels
    from gridcrit.registry.registry import Registry

    r, b = walk["res"]["models"], walk["before"]
    assert [m["model"] for m in r["models"]] == ["lightgbm", "tabnet"]
    reg_before = b["registry"]
    first = r["models"][0]["version"]
    assert r["champion"] == first and reg_before[first]["status"] == "champion"  # first model of the slot
    assert reg_before[r["models"][1]["version"]]["status"] == "candidate"
    ds = b["dataset"]
    lo, hi = r["split"]["test_periods"].split("..")
    per = period_labels(ds.frame["period"])
    rows = ds.frame[((per >= lo) & (per <= hi)).to_numpy()]
    reg = Registry(walk["store"])
    for m in r["models"]:
        meta = reg_before[m["version"]]
        assert (meta["name"], meta["slot"], meta["task"]) == (m["model"], r["slot"], "poisson")
        assert meta["metrics"]["eval"]["top10_recall"] == pytest.approx(m["eval"]["top10_recall"])
        # the artefact in the store scores what the demo reported on the same hold-out
        model = reg.load(m["version"], fallback=False).model
        schema = meta["feature_schema"]  # the columns as train_model fitted them (categories, not float codes)
        pred = model.predict(model_frame(rows, schema["columns"], schema["categorical"]))
        again = M.regression_metrics(rows["y_saifi"].to_numpy(float), pred, rows["period"].astype(str).to_numpy())
        for k in ("top10_recall", "ndcg_at_100", "poisson_deviance"):
            assert m["eval"][k] == pytest.approx(again[k], rel=1e-4, abs=1e-9)
        bl = m["baseline_historical_mean"]
        assert m["beats_baseline"]["top10_recall"] == (m["eval"]["top10_recall"] > bl["top10_recall"])
        assert m["beats_baseline"]["poisson_deviance"] == (m["eval"]["poisson_deviance"] < bl["poisson_deviance"])
    assert r["models"][0]["baseline_historical_mean"] == r["models"][1]["baseline_historical_mean"]  # same hold-out


def test_forecast_is_predicts_ranking(walk):
    f, p = walk["res"]["forecast"], walk["before"]["predict"]
    last = walk["res"]["dataset"]["last_period"]
    assert f["period"] == p.period > last and f["rows"] == len(p.frame)
    assert f["models"] == p.models == {"saifi": walk["res"]["models"]["champion"]}
    top = p.frame.head(len(f["top"]))
    assert [a["asset_id"] for a in f["top"]] == top["asset_id"].tolist()
    assert [a["rank"] for a in f["top"]] == list(range(1, len(f["top"]) + 1))
    assert np.allclose([a["pred_saifi"] for a in f["top"]], top["pred_saifi"].to_numpy())
    assert [a["drivers"] for a in f["top"]] == top["drivers"].tolist()


def test_explanations_agree_with_attribute_on_the_hold_out(walk):
    from scipy.stats import spearmanr

    from gridcrit.explain.attribution import attribute
    from gridcrit.models.compare import model_frame
    from gridcrit.registry.fingerprint import period_labels
    from gridcrit.registry.registry import Registry

    e, ds = walk["res"]["explain"], walk["before"]["dataset"]
    lo, hi = e["periods"].split("..")
    assert e["periods"] == walk["res"]["models"]["split"]["test_periods"]
    per = period_labels(ds.frame["period"])
    rows = ds.frame[((per >= lo) & (per <= hi)).to_numpy()]
    assert e["rows"] == len(rows)
    reg = Registry(walk["store"])
    atts = {}
    for key in ("champion", "tabnet"):
        lm = reg.load(e[key]["version"], fallback=False)
        schema = lm.meta["feature_schema"]
        att = attribute(lm.model, model_frame(rows, schema["columns"], schema["categorical"]))
        atts[key] = att
        assert att.method == e[key]["method"]
        assert [g["feature"] for g in e[key]["global"]] == att.global_ranking()[: len(e[key]["global"])]
    assert e["champion"]["version"] == walk["res"]["models"]["champion"]
    assert e["agreement"]["spearman"] == pytest.approx(
        spearmanr(atts["champion"].global_importance, atts["tabnet"].global_importance).statistic, abs=1e-9)
    for t in e["truth"].values():
        tk = t["topk"]
        assert tk["n_asset_periods"] == sum(d["n"] for d in t["per_driver"].values()) > 0
        assert tk["topk_hit_rate"] == pytest.approx(sum(d["hits"] for d in t["per_driver"].values()) / tk["n_asset_periods"])
        assert 0 < t["share_of_driver_columns"] < 1
    assert set(e["truth"]) == {e["champion"]["version"], e["tabnet"]["version"]}


def test_assistant_answer_is_the_stores_count(walk):
    a, r = walk["res"]["assistant"], walk["res"]["data"]
    circuit, year = r["by_circuit"][0]["circuit"], r["last_full_year"]
    assert a["question"] == f"¿cuántas interrupciones tuvo el circuito {circuit} en {year}?"
    assert a["kind"] == "data" and "select" in a["sql"].lower()
    con = connect(walk["store"], read_only=True)
    try:
        n = con.execute("SELECT count(DISTINCT evento) FROM interrupciones WHERE year(inicio) = ? "
                        "AND cto_equi_ope = ?", [year, circuit]).fetchone()[0]
    finally:
        con.close()
    assert n > 0 and a["rows"][0][0] == n and str(n) in a["text"]


def test_retraining_registered_a_challenger_on_the_three_new_months(walk):
    from gridcrit.registry.registry import Registry

    t, r = walk["res"]["retrain"], walk["res"]
    reg = Registry(walk["store"])
    assert t["base"] == r["models"]["champion"] and t["challenger"] not in walk["before"]["registry"]
    ch = reg.show(t["challenger"])
    assert ch["slot"] == r["models"]["slot"]
    assert reg.champion(t["slot"])["version"] == t["champion_after"]
    assert t["champion_after"] == (t["challenger"] if t["promoted"] else t["base"])
    assert ch["status"] == ("champion" if t["promoted"] else "candidate")
    assert t["new_months"] == "2024-07..2024-09" and t["eval_periods"] == ["2024-07", "2024-08", "2024-09"]
    con = connect(walk["store"], read_only=True)
    try:
        last = con.execute("SELECT max(inicio) FROM interrupciones").fetchone()[0]
    finally:
        con.close()
    assert str(last)[:7] == "2024-09" and t["rows_added"] > 0


@pytest.mark.parametrize("lang", ["es", "en"])
def test_human_output_renders_every_section(walk, capsys, lang):
    from gridcrit.cli.demo import show

    show(walk["res"], lang)
    text = capsys.readouterr().out
    r = walk["res"]
    for needle in (r["forecast"]["top"][0]["asset_id"], r["models"]["champion"], r["retrain"]["challenger"],
                   r["assistant"]["sql"].split()[0], "gridcrit serve --store"):
        assert needle in text
    assert ("Pronóstico" in text) == (lang == "es") and ("Forecast" in text) == (lang == "en")


def test_rerun_starts_over(walk):
    """Running the demo again into the same folder replaces its store: versions start at v0001 again."""
    from gridcrit.demo import run_demo
    from gridcrit.registry.registry import Registry

    res = run_demo(walk["out"], scale="tiny", seed=0, steps="models", progress=False)
    assert [m["version"] for m in res["models"]["models"]] == ["v0001", "v0002"]
    assert {m["version"] for m in Registry(walk["store"]).list()} == {"v0001", "v0002"}
    assert res["models"]["models"][0]["eval"] == walk["res"]["models"]["models"][0]["eval"]  # seeded, 1 thread
