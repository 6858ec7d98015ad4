"""REST API as a reliability engineer uses it (review): champions of several levels, periods of the wrong
kind, full-precision numbers, parameter typos, FastAPI's own 422s, foreign or locked store files, the
body's language, compressed responses. Tiny synthetic utility."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient

from gridcrit.app.api import create_app


@pytest.fixture(scope="module")
def levels_store(tiny_store, tmp_path_factory):
    """A copy of the tiny store with champions at two levels (transformer and switch, monthly) and a
    quarterly transformer champion: "the champion" is ambiguous there."""
    from gridcrit.registry.native import NativeGBDT
    from gridcrit.registry.retrain import train_and_register

    store = tmp_path_factory.mktemp("app_review_levels") / "gridcrit.duckdb"
    shutil.copy(tiny_store, store)
    versions = {}
    for level, period in (("switch", "month"), ("transformer", "month"), ("transformer", "quarter")):
        versions[(level, period)] = train_and_register(
            store, NativeGBDT(library="lightgbm", n_estimators=10, max_depth=3), name="lightgbm",
            task="regression", target="saifi", level=level, period=period)
    return store, versions


@pytest.fixture(scope="module")
def client(levels_store):
    return TestClient(create_app(levels_store[0]))


def test_champions_of_several_levels_are_listed_transformers_first(client, levels_store):
    """/api/models says which champions there are (one ranking each) so the dashboard can offer them; the
    first, its default, is the transformers' monthly one."""
    _, v = levels_store
    ch = client.get("/api/models").json()["champions"]
    assert [(c["level"], c["period"]) for c in ch] == [("transformer", "month"), ("transformer", "quarter"),
                                                      ("switch", "month")]
    assert [c["version"] for c in ch] == [v[("transformer", "month")], v[("transformer", "quarter")],
                                          v[("switch", "month")]]
    assert ch[0]["slot"] == "transformer/month/saifi" and ch[0]["targets"] == {"saifi": v[("transformer", "month")]}


def test_ambiguous_champion_names_the_slot_parameter(client, levels_store):
    """Without slot= the API says how to choose in API terms (slot=, model=), not the CLI's --slot."""
    _, v = levels_store
    for route in ("/api/predict", "/api/predict.csv", "/api/explain"):
        r = client.get(route)
        assert r.status_code == 422, (route, r.text)
        msg = r.json()["error"]
        assert "slot=transformer/month/saifi" in msg and "--slot" not in msg, msg
    es = client.get("/api/predict", params={"lang": "es"}).json()["error"]
    assert "indique cuál con slot=" in es
    d = client.get("/api/predict", params={"slot": "switch/month/saifi", "limit": 3}).json()
    assert d["models"] == {"saifi": v[("switch", "month")]} and len(d["assets"]) == 3


def test_warm_builds_the_dashboards_default_ranking(levels_store, monkeypatch):
    """With champions of several levels, serve's warm-up builds the ranking the dashboard opens with (the
    first champion's); it used to give up on the ambiguity and warm nothing."""
    import gridcrit.registry.predict as rp

    store, _ = levels_store
    calls = []
    real = rp.predict
    monkeypatch.setattr(rp, "predict", lambda *a, **k: calls.append(k.get("slot")) or real(*a, **k))
    app = create_app(store)
    app.state.warm()
    assert calls == ["transformer/month/saifi"]
    c = TestClient(app)
    c.get("/api/predict", params={"slot": "transformer/month/saifi", "limit": 1})
    assert len(calls) == 1  # the dashboard's first request is served from what warm built


def test_period_of_the_wrong_kind_says_which_form(client, levels_store):
    """A quarter asked of a monthly model (or a month of a quarterly one) used to come back as 'beyond the
    data'; '2024Q1' (how gridcrit indices writes quarters) never matched the dataset's '2024-Q1'."""
    _, v = levels_store
    mon, qua = v[("transformer", "month")], v[("transformer", "quarter")]
    last_q = client.get("/api/predict", params={"model": qua, "limit": 1}).json()["period"]  # e.g. 2024-Q2
    r = client.get("/api/predict", params={"model": mon, "period": last_q})
    assert r.status_code == 422 and "ranks months" in r.json()["error"] and "YYYY-MM" in r.json()["error"]
    r = client.get("/api/predict", params={"model": qua, "period": last_q[:4] + "-03"})
    assert r.status_code == 422 and f"{last_q[:4]}-Q1" in r.json()["error"]
    compact = last_q.replace("-Q", "Q")
    d = client.get("/api/predict", params={"model": qua, "period": compact, "limit": 1}).json()
    assert d["period"] == last_q, d
    r = client.get("/api/explain", params={"model": mon, "period": last_q, "lang": "es"})
    assert r.status_code == 422 and "ordena meses" in r.json()["error"]
    ok = client.get("/api/explain", params={"model": qua, "period": compact, "k": 3})
    assert ok.status_code == 200, ok.text


def test_predictions_keep_full_precision(client, levels_store):
    """Per-asset SAIFI predictions are small (1e-4 … 1e-8 on a CHEC-size network): the API rounded every
    number to 10 decimals (3 significant digits left of a 3e-8); now 15 (12 or more digits here)."""
    from gridcrit.registry.predict import predict

    store, v = levels_store
    ref = predict(store, model=v[("transformer", "month")]).frame
    d = client.get("/api/predict", params={"model": v[("transformer", "month")], "limit": 50}).json()
    got = [a["pred_saifi"] for a in d["assets"]]
    assert got == pytest.approx(ref["pred_saifi"].head(50).tolist(), rel=1e-10, abs=0)


def test_unknown_query_parameter_is_named_with_its_close_match(client, levels_store):
    _, v = levels_store
    r = client.get("/api/predict", params={"model": v[("switch", "month")], "perido": "2023-05"})
    assert r.status_code == 422
    msg = r.json()["error"]
    assert "'perido'" in msg and "'period'" in msg and "slot" in msg, msg
    r = client.get("/api/indices", params={"by": "circuit", "exclude_meds": "true", "lang": "es"})
    assert r.status_code == 422 and "'exclude_med'" in r.json()["error"] and "desconocido" in r.json()["error"]
    # lang is taken by every route; the page's own links (?circuit=, ?q=) are not API parameters
    assert client.get("/api/health", params={"lang": "es"}).status_code == 200
    assert client.get("/", params={"circuit": "C1", "color": "pred", "q": "x"}).status_code == 200


def test_fastapi_validation_errors_carry_an_error_line(client):
    """The dashboard shows ``error``: FastAPI's own 422 (``detail`` only) came out as 'Unprocessable
    Entity'."""
    r = client.get("/api/indices", params={"limit": 0})
    body = r.json()
    assert r.status_code == 422 and body["type"] == "RequestValidationError" and body["detail"]
    assert "limit" in body["error"] and "greater than or equal to 1" in body["error"]
    es = client.get("/api/map/assets", params={"limit": "many"}, headers={"Accept-Language": "es"}).json()
    assert es["error"].startswith("parámetro no válido") and "limit" in es["error"]
    missing = client.post("/api/ask", json={}).json()
    assert "question" in missing["error"]


def test_explain_rows_are_capped(client):
    """max_rows had no upper bound: one request could attribute every row of a CHEC-size dataset."""
    r = client.get("/api/explain", params={"slot": "switch/month/saifi", "max_rows": 10**7})
    assert r.status_code == 422 and "max_rows" in r.json()["error"]


def test_a_duckdb_file_that_is_not_a_store_is_a_clear_404(tmp_path):
    """Pointing serve at another DuckDB file answered 500 (CatalogException) on the Summary and Map."""
    import duckdb

    f = tmp_path / "other.duckdb"
    duckdb.connect(str(f)).close()
    c = TestClient(create_app(f), raise_server_exceptions=False)
    for route in ("/api/store", "/api/indices", "/api/assets/X/trace", "/api/circuits", "/api/models"):
        r = c.get(route, headers={"Accept-Language": "es"})
        assert r.status_code == 404, (route, r.status_code, r.text)
        assert "no es un almacén de gridcrit" in r.json()["error"]


def test_a_store_being_written_is_503_with_a_reason(tiny_store, tmp_path):
    """While 'gridcrit ingest/train' holds the store, requests fail: that is 'busy, retry' (503), not bad
    input (422) with DuckDB's lock message in English only."""
    store = tmp_path / "busy.duckdb"
    shutil.copy(tiny_store, store)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
         "time.sleep(30)", str(store)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        c = TestClient(create_app(store))
        r = c.get("/api/store", headers={"Accept-Language": "es"})
        assert r.status_code == 503 and r.headers["retry-after"], r.text
        assert "ocupado" in r.json()["error"] and str(holder.pid) in r.json()["error"]
        assert "busy" in c.get("/api/indices").json()["error"]
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)


def test_ask_errors_follow_the_language_of_the_body(tmp_path):
    """POST /api/ask names its language in the body: its errors follow it as ?lang= does for GET routes."""
    c = TestClient(create_app(tmp_path / "none.duckdb"))
    r = c.post("/api/ask", json={"question": "¿Cuántas interrupciones hubo en 2023?", "lang": "es"})
    assert r.status_code == 404 and "no existe" in r.json()["error"]
    r = c.post("/api/ask", json={"question": "How many interruptions in 2023?", "lang": "en"})
    assert "does not exist" in r.json()["error"]


def test_large_responses_are_compressed(client):
    """plotly.js (4.7 MB) and the map layers went uncompressed to the browser."""
    r = client.get("/api/map/assets", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers.get("content-encoding") == "gzip" and r.json()["layers"]
    p = client.get("/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert p.headers.get("content-encoding") == "gzip" and len(p.content) > 1_000_000
    small = client.get("/api/health", headers={"Accept-Encoding": "gzip"})
    assert small.headers.get("content-encoding") is None  # not worth it under 2 kB


def test_clicking_through_many_explanations_keeps_the_dataset(tmp_path):
    """One LRU of 16 for everything: 16 assets' explanations (or indices, map circuits ...) evicted the
    dataset behind them, which takes minutes to rebuild on a CHEC-size store."""
    from gridcrit.app.api import _Cache

    f = tmp_path / "s.duckdb"
    f.write_bytes(b"x")
    cache, builds = _Cache(f), []
    cache.get(("dataset", "transformer", "month"), lambda: builds.append(1) or "ds")
    for i in range(40):
        cache.get(("explain", "v0001", f"TD{i:06d}"), lambda: {"local": {}})
    assert cache.get(("dataset", "transformer", "month"), lambda: builds.append(1) or "ds") == "ds"
    assert builds == [1]
    for i in range(20):  # heavy entries stay bounded on their own
        cache.get(("dataset", "l", str(i)), lambda: "big")
    assert sum(1 for k in cache._d if k[0] == "dataset") == cache.size


def test_circuit_list_counts_events_as_the_summary_does(client, levels_store):
    """The map's circuit choices said 'HER23L23 (119 eventos)' counting rows (an event that opened two
    devices has two) where the summary and the assistant say 116 events."""
    from gridcrit.data.store import connect

    con = connect(levels_store[0], read_only=True)
    try:
        ref = dict(con.execute("SELECT cto_equi_ope, count(DISTINCT evento) FROM interrupciones GROUP BY 1").fetchall())
        rows = dict(con.execute("SELECT cto_equi_ope, count(*) FROM interrupciones GROUP BY 1").fetchall())
    finally:
        con.close()
    assert any(rows[c] != ref[c] for c in ref)  # the tiny twin has such events
    got = {c["circuit"]: c["events"] for c in client.get("/api/circuits").json()["circuits"]}
    assert got and all(got[c] == ref.get(c, 0) for c in got)
    summary = {c["circuit"]: c["events"] for c in client.get("/api/store", params={"top": 500}).json()["by_circuit"]}
    assert all(summary[c] == got[c] for c in got if c in summary)
