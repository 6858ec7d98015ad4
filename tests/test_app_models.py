"""Model routes of the REST API (models, predict, explain) on a copy of the tiny store with one model,
and the ``gridcrit serve`` command."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from gridcrit.app.api import create_app


@pytest.fixture(scope="module")
def model_store(tiny_store, tmp_path_factory):
    """A copy of the tiny store with two champions of transformer × month: XGBoost SAIFI and a
    LightGBM risk classifier (so "champion" has to pick the model the ranking leads with)."""
    from gridcrit.registry.native import NativeGBDT
    from gridcrit.registry.retrain import train_and_register

    store = tmp_path_factory.mktemp("app_models") / "gridcrit.duckdb"
    shutil.copy(tiny_store, store)
    version = train_and_register(store, NativeGBDT(n_estimators=20, max_depth=3), name="xgboost",
                                 task="regression", target="saifi")
    risk = train_and_register(store, NativeGBDT(library="lightgbm", task="classification", n_estimators=20),
                              name="lightgbm", task="classification", target="risk")
    return store, version, risk


@pytest.fixture(scope="module")
def client(model_store):
    return TestClient(create_app(model_store[0]))


def test_models_lists_the_champion(client, model_store):
    ms = client.get("/api/models").json()["models"]
    assert [m["version"] for m in ms] == [model_store[1], model_store[2]]
    assert [m["status"] for m in ms] == ["champion", "champion"] and [m["target"] for m in ms] == ["saifi", "risk"]


def test_predict_equals_the_registry(client, model_store):
    from gridcrit.registry.predict import predict

    store, version, risk = model_store
    ref = predict(store)
    d = client.get("/api/predict", params={"limit": 5}).json()
    assert d["models"] == {"saifi": version, "risk": risk} and d["period"] == ref.period and d["rows"] == len(ref.frame)
    assert [a["asset_id"] for a in d["assets"]] == ref.frame["asset_id"].head(5).tolist()
    assert [a["rank"] for a in d["assets"]] == [1, 2, 3, 4, 5]
    preds = [a["pred_saifi"] for a in d["assets"]]
    assert preds == sorted(preds, reverse=True)
    assert preds == pytest.approx(ref.frame["pred_saifi"].head(5).tolist())
    assert all(a["drivers"] for a in d["assets"])  # tree SHAP drivers for every asset
    assert [a["pred_risk"] for a in d["assets"]] == ref.frame["pred_risk"].head(5).tolist()
    only = client.get("/api/predict", params={"model": risk, "limit": 3}).json()
    assert only["models"] == {"risk": risk} and "pred_saifi" not in only["assets"][0]
    r = client.get("/api/predict", params={"period": "1999-01"})
    assert r.status_code == 404 and "1999-01" in r.json()["error"]
    r = client.get("/api/predict", params={"model": "v9999"})
    assert r.status_code == 404 and "v9999" in r.json()["error"]


def test_predict_next_period_is_the_forecast(client, model_store):
    from gridcrit.registry.predict import predict

    store = model_store[0]
    ref = predict(store, period="next")
    d = client.get("/api/predict", params={"period": "next", "limit": 3}).json()
    last = client.get("/api/predict", params={"limit": 1}).json()["period"]
    assert d["period"] == ref.period and d["period"] > last and d["rows"] == len(ref.frame)
    assert [a["asset_id"] for a in d["assets"]] == ref.frame["asset_id"].head(3).tolist()
    assert not any(k.startswith("actual_") for k in d["assets"][0])  # no actuals yet: it is a forecast


def test_next_period_by_label_is_one_dataset_build(model_store, monkeypatch):
    """Asking for the next period by its label gives the forecast of ``period="next"`` and builds the
    dataset once (the store says which period is next), not the default dataset first."""
    import gridcrit.features.dataset as fd
    from gridcrit.registry.predict import predict

    store = model_store[0]
    ref = predict(store, period="next")
    calls = []
    real = fd.build_dataset
    monkeypatch.setattr(fd, "build_dataset", lambda *a, **k: calls.append(k.get("end")) or real(*a, **k))
    res = predict(store, period=ref.period)
    assert calls == [ref.period]
    assert res.period == ref.period and res.frame["asset_id"].tolist() == ref.frame["asset_id"].tolist()
    calls.clear()
    predict(store)  # the latest observed period: the default dataset, once
    assert calls == [None]


def test_explain_global_and_asset(client, model_store):
    top = client.get("/api/predict", params={"limit": 1}).json()["assets"][0]["asset_id"]
    g = client.get("/api/explain", params={"k": 5}).json()
    # two champions: "champion" explains the one the ranking leads with (SAIFI)
    assert g["version"] == model_store[1] and g["requested"] == model_store[1]
    assert g["method"] == "treeshap" and len(g["global"]) == 5 and "local" not in g
    assert client.get("/api/explain", params={"model": model_store[2], "k": 3}).json()["version"] == model_store[2]
    imp = [x["importance"] for x in g["global"]]
    assert imp == sorted(imp, reverse=True) and imp[0] > 0
    a = client.get("/api/explain", params={"asset": top, "lang": "en"}).json()
    assert a["local"]["drivers"] and top in a["local"]["text"]
    es = client.get("/api/explain", params={"asset": top, "lang": "es"}).json()
    assert es["local"]["text"] != a["local"]["text"]  # prose follows the language
    r = client.get("/api/explain", params={"asset": "NO_SUCH"})
    assert r.status_code == 404 and "NO_SUCH" in r.json()["error"]


def test_explain_a_row_of_the_forecast(client, model_store):
    """A row of the 'next period' ranking can be explained: period=next (or the forecast's label) explains
    the asset in the forecast period with the features /api/predict used, not in the last observed one."""
    fc = client.get("/api/predict", params={"period": "next", "limit": 1}).json()
    nxt, top = fc["period"], fc["assets"][0]["asset_id"]
    for asked in ("next", nxt):
        r = client.get("/api/explain", params={"asset": top, "period": asked, "lang": "en"})
        assert r.status_code == 200, r.text
        loc = r.json()["local"]
        assert loc["text"].startswith(f"{top} {nxt}:")
    later = client.get("/api/explain", params={"asset": top, "period": "2999-01"})
    assert later.status_code == 422 and "2999-01" in later.json()["error"]  # only the next one can be forecast


def test_explain_global_importance_does_not_depend_on_the_asset(client):
    """The 'global importance' chart stays the importance over all assets when one asset is explained
    (run_explain alone computes it over that asset's rows: a single row when a period is given)."""
    d = client.get("/api/predict", params={"limit": 2}).json()
    period, (a, b) = d["period"], [x["asset_id"] for x in d["assets"]]
    g = client.get("/api/explain", params={"period": period, "k": 5}).json()
    ea = client.get("/api/explain", params={"period": period, "asset": a, "k": 5}).json()
    eb = client.get("/api/explain", params={"period": period, "asset": b, "k": 5}).json()
    assert g["rows"] == d["rows"] > 1
    assert ea["global"] == eb["global"] == g["global"] and ea["rows"] == g["rows"]
    assert ea["local"]["text"].startswith(f"{a} {period}") and eb["local"]["text"].startswith(f"{b} {period}")


def test_errors_follow_the_requested_language(client, model_store):
    r = client.get("/api/predict", params={"period": "2999-01"}, headers={"Accept-Language": "es-CO,es;q=0.9"})
    assert r.status_code == 422 and "más allá de los datos" in r.json()["error"]
    r = client.get("/api/predict", params={"period": "2999-01"})  # API clients: English
    assert r.status_code == 422 and "beyond the data" in r.json()["error"]


def test_ranking_downloads_as_csv_with_every_row(client, model_store):
    """The Ranking shows 200 rows; the engineer can take the whole ranking to a spreadsheet."""
    import io

    import pandas as pd

    from gridcrit.registry.predict import predict

    ref = predict(model_store[0], period="next")
    r = client.get("/api/predict.csv", params={"period": "next"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f"gridcrit_ranking_{ref.period}.csv" in r.headers["content-disposition"]
    got = pd.read_csv(io.StringIO(r.text))
    assert len(got) == len(ref.frame) > 0
    assert got["asset_id"].astype(str).tolist() == ref.frame["asset_id"].tolist()
    assert got["pred_saifi"].tolist() == pytest.approx(ref.frame["pred_saifi"].tolist())
    assert client.get("/api/predict.csv", params={"model": "v9999"}).status_code == 404


def test_malformed_period_says_what_a_period_looks_like(client):
    """A typo in the Ranking's period box ('2024-6', 'junio') is a format error, not 'beyond the data'."""
    for route in ("/api/predict", "/api/explain"):
        for bad in ("junio", "2024-6", "2024-13"):
            r = client.get(route, params={"period": bad})
            assert r.status_code == 422 and "YYYY-MM" in r.json()["error"], (route, bad, r.text)
    es = client.get("/api/predict", params={"period": "junio", "lang": "es"}).json()["error"]
    assert "AAAA-MM" in es


def test_warm_builds_the_first_ranking_in_advance(model_store, monkeypatch):
    """``app.state.warm()`` (run in the background by ``gridcrit serve``) leaves the champion's ranking
    cached: the first Ranking view does not build the dataset any more."""
    import gridcrit.registry.predict as rp

    app = create_app(model_store[0])
    app.state.warm()

    def boom(*a, **k):
        raise AssertionError("predicted again")

    monkeypatch.setattr(rp, "predict", boom)
    c = TestClient(app)
    r = c.get("/api/predict", params={"model": "champion", "limit": 3})
    assert r.status_code == 200 and len(r.json()["assets"]) == 3
    create_app(model_store[0].parent / "none.duckdb").state.warm()  # nothing to warm: no error


def test_serve_command_is_registered_and_checks_the_store(tmp_path, capsys):
    from gridcrit.cli import run

    assert run(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--host" in out and "--no-warm" in out
    code = run(["serve", "--store", str(tmp_path / "missing.duckdb")])
    assert code == 3 and "does not exist" in capsys.readouterr().err


def test_ask_regulation_answer_has_citations(tmp_path):
    from gridcrit.assistant.corpus import add_document
    from gridcrit.assistant.sample import SAMPLE_REGULATION, make_pdf

    pdf = tmp_path / "norma.pdf"
    pdf.write_bytes(make_pdf(SAMPLE_REGULATION))
    store = tmp_path / "corpus.duckdb"
    add_document(store, pdf, name="NORMA-2024")
    c = TestClient(create_app(store))
    r = c.post("/api/ask", json={"question": "¿Qué resistencia de puesta a tierra se pide?", "lang": "es"})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["kind"] == "regulation" and a["citations"] and a["passages"]
    assert {x["doc"] for x in a["citations"]} == {"NORMA-2024"} and all(x["quote"] for x in a["citations"])
    assert any(n["kind"] == "retrieve" for n in a["trace"]["nodes"])
    en = c.post("/api/ask", json={"question": "¿Qué resistencia de puesta a tierra se pide?", "lang": "en"}).json()
    assert en["lang"] == "en" and en["citations"]


def test_serve_answers_on_loopback(model_store):
    """`gridcrit serve` really listens (uvicorn, 127.0.0.1) and serves the API and the page."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:  # a free port on loopback
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "from gridcrit.cli import main; main()", "serve",
                             "--store", str(model_store[0]), "--port", str(port), "--allow-host", "gridcrit.lan"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                h = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not start: " + proc.stdout.read1().decode(errors="replace"))
        assert h["status"] == "ok" and h["store"] == str(model_store[0])
        assert "Asistente" in httpx.get(f"http://127.0.0.1:{port}/").text
        # DNS rebinding: a page whose name now points at 127.0.0.1 sends its own Host and is refused
        url = f"http://127.0.0.1:{port}/api/health"
        assert httpx.get(url, headers={"Host": f"attacker.example:{port}"}).status_code == 400
        assert httpx.get(url, headers={"Host": f"localhost:{port}"}).status_code == 200
        assert httpx.get(url, headers={"Host": "gridcrit.lan"}).status_code == 200  # --allow-host
    finally:
        proc.terminate()
        proc.wait(timeout=10)
