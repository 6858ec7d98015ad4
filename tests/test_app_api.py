"""REST API of the dashboard over the tiny synthetic utility: real content, errors, read-only."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from gridcrit.app.api import create_app
from gridcrit.data.store import connect, store_checksums


@pytest.fixture(scope="module")
def before(tiny_store):
    """Checksums and mtime of the store before any route ran (compared by the last test)."""
    con = connect(tiny_store, read_only=True)
    try:
        return store_checksums(con), tiny_store.stat().st_mtime_ns
    finally:
        con.close()


@pytest.fixture(scope="module")
def client(tiny_store, before):
    return TestClient(create_app(tiny_store))


def _close(a, b, tol=1e-9):
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None and (b is None or math.isnan(b))
    return abs(a - b) <= tol * max(1.0, abs(b))


def test_health_and_store_overview(client, tiny_store):
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["store_exists"] and h["store"] == str(tiny_store)
    s = client.get("/api/store").json()
    con = connect(tiny_store, read_only=True)
    try:
        n_int = con.execute("SELECT count(*) FROM interrupciones").fetchone()[0]
        n_ev = con.execute("SELECT count(DISTINCT evento) FROM interrupciones").fetchone()[0]
        latest_tr = con.execute("SELECT count(*) FROM trafos WHERE FECHA = (SELECT max(FECHA) FROM trafos)").fetchone()[0]
        months = con.execute("SELECT count(DISTINCT strftime(inicio, '%Y-%m')) FROM interrupciones").fetchone()[0]
    finally:
        con.close()
    assert s["counts"]["interrupciones"] == n_int > 0
    assert sum(y["events"] for y in s["by_year"]) == n_ev
    assert s["network"]["transformers"] == latest_tr
    assert len(s["periods"]) == months and s["periods"] == sorted(s["periods"])


@pytest.mark.parametrize("by,period,med", [("system", "year", False), ("circuit", "quarter", True)])
def test_indices_equal_the_reliability_stage(client, tiny_store, by, period, med):
    from gridcrit.reliability.indices import compute_indices

    ref = compute_indices(tiny_store, by, period, exclude_med=med).frame
    got = client.get("/api/indices", params={"by": by, "period": period, "exclude_med": med}).json()
    assert got["by"] == by and got["period"] == period and got["exclude_med"] is med
    assert got["rows"] == len(ref) == len(got["indices"]) > 0
    for row, (_, r) in zip(got["indices"], ref.iterrows(), strict=True):
        assert row["group"] == str(r["group"]) and str(row["period"]) == str(r["period"])
        for c in ("SAIFI", "SAIDI", "MAIFI", "SAIFI_contrib"):
            assert _close(row[c], float(r[c])), (c, row, r[c])
    # limit trims the list, not the row count
    lim = client.get("/api/indices", params={"by": by, "period": period, "exclude_med": med, "limit": 2}).json()
    assert len(lim["indices"]) == 2 and lim["rows"] == len(ref)


def test_indices_bad_level_is_422_with_message(client):
    r = client.get("/api/indices", params={"by": "planet"})
    assert r.status_code == 422
    assert "unknown level 'planet'" in r.json()["error"] and r.json()["type"] == "ValidationError"


def test_trace_of_a_transformer_and_404_for_unknown(client, tiny_store):
    from gridcrit.reliability.topology import Topology

    con = connect(tiny_store, read_only=True)
    try:
        code = con.execute("SELECT CODE FROM trafos WHERE FECHA = (SELECT max(FECHA) FROM trafos) ORDER BY CODE LIMIT 1").fetchone()[0]
        circuit = con.execute("SELECT FPARENT FROM redmt WHERE FECHA = (SELECT max(FECHA) FROM redmt) ORDER BY 1 LIMIT 1").fetchone()[0]
    finally:
        con.close()
    d = client.get(f"/api/assets/{code}/trace").json()
    ref = Topology.from_store(tiny_store).trace(code).to_dict()
    assert d["kind"] == "transformer" and d["transformers"] == [code]
    assert d["customers"] == ref["customers"] and d["protective_upstream"] == ref["protective_upstream"]
    # a circuit's downstream is capped but its counts are the full ones
    c = client.get(f"/api/assets/{circuit}/trace", params={"cap": 3}).json()
    # (the head breaker carries the circuit's code, so it resolves as a switch)
    assert c["kind"] in ("switch", "circuit") and c["n_segments"] > 3 and len(c["segments"]) == 3 and c["segments_truncated"]
    r = client.get("/api/assets/NO_SUCH_ASSET/trace")
    assert r.status_code == 404 and "NO_SUCH_ASSET" in r.json()["error"]


def test_map_layers_have_coordinates_and_caps(client, tiny_store):
    m = client.get("/api/map/assets").json()
    L = m["layers"]
    assert {"segments", "transformers", "switches", "lightning"} <= set(L)
    seg = L["segments"]
    assert seg["shown"] == seg["total"] == len(seg["rows"]) > 0
    i = seg["columns"].index("lon1")
    assert all(-77.5 <= r[i] <= -73.5 for r in seg["rows"])
    # interruption counts on the map agree with the store
    con = connect(tiny_store, read_only=True)
    try:
        n_tr = dict(con.execute("SELECT equipo_ope, count(*) FROM interrupciones GROUP BY 1").fetchall())
    finally:
        con.close()
    tr = L["transformers"]
    ie = tr["columns"].index("events")
    assert sum(r[ie] for r in tr["rows"]) == sum(n_tr.get(r[0], 0) for r in tr["rows"]) > 0
    capped = client.get("/api/map/assets", params={"limit": 10}).json()["layers"]
    assert capped["segments"]["total"] == seg["total"] and 0 < capped["segments"]["shown"] <= 10
    one = client.get("/api/circuits").json()["circuits"][0]
    only = client.get("/api/map/assets", params={"circuit": one["circuit"]}).json()["layers"]["segments"]
    assert only["total"] == one["segments"] and {r[1] for r in only["rows"]} == {one["circuit"]}
    r = client.get("/api/map/assets", params={"circuit": "NOPE"})
    assert r.status_code == 404 and "NOPE" in r.json()["error"]


def test_no_models_is_clear_and_writes_nothing(client, tiny_store):
    assert client.get("/api/models").json()["models"] == []
    r = client.get("/api/predict")
    assert r.status_code == 404 and "no models registered" in r.json()["error"]
    assert client.get("/api/explain", params={"asset": "X"}).status_code == 404
    con = connect(tiny_store, read_only=True)
    try:  # Registry() would have created its tables: the app must not have called it
        assert not any(t[0].startswith("_registry") for t in con.execute("SELECT table_name FROM information_schema.tables").fetchall())
    finally:
        con.close()


def test_error_messages_in_the_dashboard_language(client, tmp_path):
    """The dashboard sends its ES/EN choice (Accept-Language or ?lang=): errors come back in it; a client
    that asks for no language gets English."""
    es = client.get("/api/predict", headers={"Accept-Language": "es"})
    assert es.status_code == 404 and "no hay modelos registrados" in es.json()["error"]
    assert "no models registered" in client.get("/api/predict", headers={"Accept-Language": "en-GB"}).json()["error"]
    assert "no models registered" in client.get("/api/predict").json()["error"]
    r = client.get("/api/map/assets", params={"circuit": "NOPE", "lang": "es"})
    assert r.status_code == 404 and "NOPE" in r.json()["error"] and "tramos" in r.json()["error"]
    missing = TestClient(create_app(tmp_path / "none.duckdb")).get("/api/store", headers={"Accept-Language": "es"})
    assert missing.status_code == 404 and "no existe" in missing.json()["error"]


def test_cache_builds_a_value_once_for_concurrent_requests(tmp_path):
    """Two requests wanting the same slow build (the Ranking and the map's predicted colours both need the
    champion's dataset) share one build instead of each running it."""
    import threading
    import time

    from gridcrit.app.api import _Cache

    f = tmp_path / "s.duckdb"
    f.write_bytes(b"x")
    cache, calls, got = _Cache(f), [], []

    def make():
        calls.append(1)
        time.sleep(0.3)
        return object()

    threads = [threading.Thread(target=lambda: got.append(cache.get(("dataset", "t"), make))) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(calls) == 1 and len(got) == 3 and got[0] is got[1] is got[2]
    assert cache.get(("other",), lambda: 7) == 7  # other keys are not blocked nor mixed up


def test_ask_data_question_and_missing_corpus(client):
    r = client.post("/api/ask", json={"question": "¿Cuántas interrupciones hubo en 2023?", "lang": "es"})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["kind"] == "data" and a["sql"] and a["rows"] and a["trace"]["nodes"]
    # a regulation question on a store without documents: a clear 404, not a crash
    r = client.post("/api/ask", json={"question": "¿Distancia mínima de seguridad a edificaciones?", "lang": "es"})
    if r.status_code == 200:  # a corpus exists: then the answer must cite it
        assert r.json()["citations"]
    else:
        assert r.status_code == 404 and "corpus" in r.json()["error"]
    assert client.post("/api/ask", json={"question": "  "}).status_code == 422
    assert client.post("/api/ask", json={}).status_code == 422  # missing field (FastAPI validation)


def test_dashboard_and_local_plotly(client):
    html = client.get("/").text
    for tab in ("Resumen", "Mapa", "Ranking", "Explicaciones", "Asistente"):
        assert tab in html
    assert "/vendor/plotly.min.js" in html and "cdn" not in html.lower()
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "/api/indices" in js.text and "scattermapbox" not in js.text
    p = client.get("/vendor/plotly.min.js")
    assert p.status_code == 200 and len(p.content) > 1_000_000 and b"plotly" in p.content[:2000].lower()
    assert client.get("/static/style.css").status_code == 200


def test_missing_store_is_404(tmp_path):
    c = TestClient(create_app(tmp_path / "none.duckdb"))
    assert c.get("/api/health").json()["store_exists"] is False
    r = c.get("/api/store")
    assert r.status_code == 404 and "does not exist" in r.json()["error"]


def test_store_unchanged_by_every_route(client, tiny_store, before):
    """Runs last in this file: every route above was read-only."""
    con = connect(tiny_store, read_only=True)
    try:
        assert store_checksums(con) == before[0]
    finally:
        con.close()
    assert tiny_store.stat().st_mtime_ns == before[1]


def test_allowed_hosts_refuse_other_host_headers(tiny_store):
    from fastapi.testclient import TestClient

    from gridcrit.app.api import create_app

    app = create_app(tiny_store, allowed_hosts=["127.0.0.1", "localhost", "[::1]"])
    assert TestClient(app, base_url="http://localhost:8765").get("/api/health").status_code == 200
    assert TestClient(app, base_url="http://[::1]:8765").get("/api/health").status_code == 200
    assert TestClient(app, base_url="http://rebound.example:8765").get("/api/health").status_code == 400
    assert TestClient(create_app(tiny_store), base_url="http://rebound.example").get("/api/health").status_code == 200
