"""The dashboard (static/app.js under node, canned API answers) as an engineer uses it (review): champions
of several levels, map clicks, notes after an error, the language of a link, texts in both languages."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from test_app_dashboard import NODE, run_page

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

# a transformer champion (SAIFI), a switch champion: two rankings, "the champion" alone is ambiguous
LEVELS = {
    "models": [
        {"version": "v0001", "name": "lightgbm", "target": "saifi", "level": "transformer", "period": "month",
         "status": "champion", "slot": "transformer/month/saifi"},
        {"version": "v0002", "name": "xgboost", "target": "saifi", "level": "switch", "period": "month",
         "status": "champion", "slot": "switch/month/saifi"},
    ],
    "champions": [
        {"level": "transformer", "period": "month", "slot": "transformer/month/saifi", "version": "v0001",
         "targets": {"saifi": "v0001"}},
        {"level": "switch", "period": "month", "slot": "switch/month/saifi", "version": "v0002",
         "targets": {"saifi": "v0002"}},
    ],
}


def _pred(period="2024-06", models=None, method="tree SHAP contributions"):
    return {"period": period, "models": models or {"saifi": "v0001"}, "warnings": [],
            "drivers_method": {"saifi": method}, "rows": 1,
            "assets": [{"rank": 1, "asset_id": "TD1", "period": period, "pred_saifi": 0.001, "drivers": "kva (+0.5)"}]}


def _queries(res, route):
    return [parse_qs(urlsplit(r["url"]).query) for r in res["requests"] if urlsplit(r["url"]).path == route]


def test_champions_of_several_levels_each_have_a_choice():
    """With a transformer and a switch champion the Ranking offered one "champion" whose ranking the API
    refuses as ambiguous; now one per level, the first (transformers) by default, sent with its slot (the
    CSV link too), and the model choices name their level."""
    res = run_page("""
        document.querySelector('[data-tab=ranking]').click(); await settle();
        out.options = [...$("rank-model").options].map((o) => [o.value, o.text]);
        out.csv = $("rank-csv").href; out.error = $("error").hidden ? "" : $("error").textContent;
    """, {"/api/models": [200, LEVELS], "/api/predict": [200, _pred()]})
    out = res["out"]
    values = [v for v, _ in out["options"]]
    assert values[:2] == ["champion@transformer/month/saifi", "champion@switch/month/saifi"], values
    texts = dict(out["options"])
    assert "transformador" in texts["champion@transformer/month/saifi"] and "interruptor" in texts["v0002"]
    q = _queries(res, "/api/predict")[-1]
    assert q["model"] == ["champion"] and q["slot"] == ["transformer/month/saifi"]
    assert parse_qs(urlsplit(out["csv"]).query)["slot"] == ["transformer/month/saifi"]
    assert not out["error"]


def test_map_colours_with_the_transformer_champion():
    """The map's predicted colours asked for "the champion" (ambiguous with a switch champion, so no
    colours): it asks for the transformer champion's ranking."""
    layers = {"transformers": {"total": 1, "shown": 1, "columns": ["code", "circuit", "lon", "lat", "events",
                                                                   "customer_interruptions", "customers", "kva"],
                               "rows": [["TD1", "C1", -75.5, 5.0, 0, 0, 10, 50]]}}
    res = run_page("""
        $("map-color").value = "pred";
        document.querySelector('[data-tab=map]').click(); await settle();
        out.colours = __plots["chart-map"].data.find((d) => d.customdata).marker.color;
    """, {"/api/models": [200, LEVELS], "/api/predict": [200, _pred()],
          "/api/map/assets": [200, {"layers": layers, "snapshot": "2024-06-30"}]})
    q = _queries(res, "/api/predict")[-1]
    assert q["slot"] == ["transformer/month/saifi"] and res["out"]["colours"] == [0.001]


def test_trace_of_a_switch_explains_it_with_the_switch_model():
    """The trace box's Explain button used whatever model the Explanations tab had (the transformer
    champion), which cannot explain a switch."""
    trace = {"device": "SW1", "kind": "switch", "circuit": "C1", "depth": 1, "distance_m": 10, "n_segments": 1,
             "n_transformers": 1, "customers": 5, "protective_upstream": ["C1"]}
    explain = {"version": "v0002", "method": "treeshap", "rows": 3, "warning": None,
               "global": [{"feature": "kva", "importance": 0.5, "group": "asset"}],
               "local": {"drivers": [{"feature": "kva", "value": 1, "attribution": 0.5}], "text": "SW1"}}
    res = run_page("""
        document.querySelector('[data-tab=map]').click(); await settle();
        showTrace("SW1"); await settle();
        $("trace-box").children.find((c) => c.tagName === "button").click(); await settle();
        out.error = $("error").hidden ? "" : $("error").textContent;
    """, {"/api/models": [200, LEVELS], "/api/assets/SW1/trace": [200, trace], "/api/explain": [200, explain],
          "/api/predict": [200, _pred()]})
    q = _queries(res, "/api/explain")[-1]
    assert q["asset"] == ["SW1"] and q["model"] == ["champion"] and q["slot"] == ["switch/month/saifi"], q
    assert not res["out"]["error"]


def test_only_assets_open_a_trace_when_clicked():
    """A click on a vegetation point asked for the trace of its species ('Guadua'), then showed 'not a
    switch, transformer …'; a segment is traced by its code."""
    res = run_page("""
        document.querySelector('[data-tab=map]').click(); await settle();
        const click = $("chart-map").listeners["plotly_click"][0];
        click({ points: [{ text: "Guadua · Alto", x: -75.5, y: 5 }] }); await settle();
        click({ points: [{ text: "MT0000007", customdata: "MT0000007" }] }); await settle();
    """, {"/api/assets/MT0000007/trace": [200, {"device": "MT0000007", "kind": "segment", "circuit": "C1",
                                                "depth": 2, "distance_m": 5, "n_segments": 1, "n_transformers": 0,
                                                "customers": 0, "protective_upstream": []}]})
    traced = [r["url"] for r in res["requests"] if r["url"].startswith("/api/assets/")]
    assert traced == ["/api/assets/MT0000007/trace"], traced


def test_segment_lines_carry_their_codes():
    layers = {"segments": {"total": 1, "shown": 1, "columns": ["code", "circuit", "lon1", "lat1", "lon2", "lat2",
                                                               "events", "length_m"],
                           "rows": [["MT1", "C1", -75.5, 5.0, -75.6, 5.1, 2, 100]]}}
    res = run_page("""
        document.querySelector('[data-tab=map]').click(); await settle();
        out.cd = __plots["chart-map"].data.filter((d) => d.mode === "lines").map((d) => d.customdata);
    """, {"/api/map/assets": [200, {"layers": layers, "snapshot": "2024-06-30"}]})
    assert res["out"]["cd"] == [["MT1", "MT1", None]]


def test_a_failed_ranking_does_not_keep_saying_computing():
    """After an error the note said 'calculando…' under the red error bar, as if still working."""
    res = run_page("""
        document.querySelector('[data-tab=ranking]').click(); await settle();
        out.rank = $("rank-note").textContent; out.error = $("error").textContent;
        document.querySelector('[data-tab=explain]').click(); await settle();
        out.exp = $("exp-note").textContent;
    """, {"/api/predict": [422, {"error": "el modelo v0001 ordena meses"}],
          "/api/explain": [422, {"error": "el modelo v0001 ordena meses"}]})
    out = res["out"]
    assert "ordena meses" in out["error"]
    assert "calculando" not in out["rank"] and "calculando" not in out["exp"], out


def test_a_link_in_another_language_falls_back_to_spanish():
    """?lang=fr left LANG = 'fr': labels fell back key by key and the API got 'Accept-Language: fr'
    (English errors under Spanish labels)."""
    res = run_page("""out.lang = LANG; out.kpis = $("kpis").innerHTML;""",
                   {"/api/indices": [200, {"indices": []}]}, search="?lang=fr")
    assert res["out"]["lang"] == "es"
    sent = {r["headers"].get("Accept-Language") for r in res["requests"] if r["url"] != "/api/health"}
    assert sent == {"es"}


def test_texts_of_the_api_and_the_kpis_are_translated():
    """The ranking's 'drivers' method 'none available for this model' (an MLP, an RF ...) showed in English
    on the Spanish page; the events KPI counts momentary events too (the circuit table's events do not),
    so it says so; the period boxes' placeholder is AAAA-MM in Spanish."""
    res = run_page("""
        out.kpis = $("kpis").innerHTML;
        document.querySelector('[data-tab=ranking]').click(); await settle();
        out.note = $("rank-note").textContent;
        $("lang-en").click(); await settle();
        document.querySelector('[data-tab=summary]').click(); await settle();
        out.kpis_en = $("kpis").innerHTML;
        out.ph = I18N.es.period_ph + "|" + I18N.en.period_ph;
    """, {"/api/indices": [200, {"indices": []}],
          "/api/predict": [200, _pred(method="none available for this model")],
          "/api/store": [200, {"tables": {}, "counts": {}, "periods": [], "network": {},
                               "by_year": [{"year": 2023, "events": 961, "from": "2023-01-01", "to": "2023-12-31"}],
                               "by_circuit": []}]})
    out = res["out"]
    assert "no disponibles para este modelo" in out["note"]
    assert "momentáneos" in out["kpis"] and "momentary" in out["kpis_en"]
    assert out["ph"] == "AAAA-MM|YYYY-MM"
    from test_app_dashboard import APP_JS

    html = (APP_JS.parent / "index.html").read_text(encoding="utf-8")
    assert html.count('data-i18n-ph="period_ph"') == 2
