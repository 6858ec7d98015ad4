"""The dashboard's JavaScript (static/app.js) run under node against canned API answers.

A small DOM stand-in (elements by id, selects with options, listeners) is enough for app.js: no browser,
no jsdom. Each scenario records the requests the page made and the state of a few elements. Skipped
where node is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

APP_JS = Path(__file__).resolve().parents[1] / "src" / "gridcrit" / "app" / "static" / "app.js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

# The DOM stand-in, app.js, then the scenario (an async function body); prints {"requests", "out"}.
HARNESS = r"""
const vm = require("vm");
const cfg = JSON.parse(require("fs").readFileSync(0, "utf8"));
const requests = [];
class ClassList { constructor() { this.s = new Set(); } toggle(c, on) { on = on === undefined ? !this.s.has(c) : on; on ? this.s.add(c) : this.s.delete(c); }
  add(c) { this.s.add(c); } remove(c) { this.s.delete(c); } contains(c) { return this.s.has(c); } }
class El {
  constructor(tag, id) { Object.assign(this, { tagName: tag, id, children: [], options: [], selectedIndex: -1, _value: "", _html: "",
    textContent: "", hidden: false, checked: false, dataset: {}, listeners: {}, classList: new ClassList(), placeholder: "" }); }
  get value() { return this.tagName === "select" ? (this.options[this.selectedIndex] || { value: "" }).value : this._value; }
  set value(v) { if (this.tagName === "select") this.selectedIndex = this.options.findIndex((o) => o.value === v); else this._value = String(v); }
  get innerHTML() { return this._html; }
  set innerHTML(h) { this._html = h; this.children = []; if (this.tagName === "select") { this.options = []; this.selectedIndex = -1; } }
  add(o) { this.options.push(o); if (this.selectedIndex < 0) this.selectedIndex = 0; }
  remove(i) { this.options.splice(i, 1); }
  addEventListener(ev, fn) { (this.listeners[ev] = this.listeners[ev] || []).push(fn); }
  dispatchEvent(e) { (this.listeners[e.type] || []).forEach((f) => f(e)); }
  click() { this.dispatchEvent({ type: "click", preventDefault() {} }); }
  requestSubmit() { this.dispatchEvent({ type: "submit", preventDefault() {} }); }
  appendChild(c) { this.children.push(c); return c; }
  append(...cs) { cs.forEach((c) => this.children.push(c)); }
  querySelector(sel) { return this.querySelectorAll(sel)[0] || null; }
  querySelectorAll(sel) {
    if (sel === "tr.click") {  // rows of a table written as HTML (the same objects until it is rewritten)
      if (this._rowsOf !== this._html) {
        this._rowsOf = this._html;
        this._rows = [...this._html.matchAll(/<tr class="click" data-asset="([^"]*)"/g)].map((m) => { const r = new El("tr"); r.dataset.asset = m[1]; return r; });
      }
      return this._rows;
    }
    if (sel === "button") return [...this.children.filter((c) => c.tagName === "button")];
    return [];
  }
  scrollIntoView() {}
  on(ev, fn) { this.listeners[ev] = [fn]; }
  removeAllListeners() {}
}
const SELECTS = ["map-circuit", "map-color", "rank-model", "exp-model"];
const byId = {};
const TABS = ["summary", "map", "ranking", "explain", "chat"];
const tabButtons = TABS.map((t) => { const b = new El("button"); b.dataset.tab = t; return b; });
const sections = TABS.map((t) => new El("section", "tab-" + t));
globalThis.document = {
  documentElement: {},
  getElementById(id) {
    if (!byId[id]) {
      byId[id] = new El(SELECTS.includes(id) ? "select" : "div", id);
      if (id === "map-circuit") byId[id].add({ text: "Todos", value: "" });
      if (id === "map-color") { byId[id].add({ text: "", value: "events" }); byId[id].add({ text: "", value: "pred" }); }
    }
    return byId[id];
  },
  querySelectorAll(sel) { return sel === "#tabs button" ? tabButtons : sel === ".tab" ? sections : []; },
  querySelector(sel) { const m = /data-tab=(\w+)/.exec(sel); return m ? tabButtons[TABS.indexOf(m[1])] : null; },
  createElement(tag) { return new El(tag); },
};
globalThis.window = globalThis;
globalThis.dispatchEvent = () => true;
globalThis.addEventListener = () => {};
globalThis.Option = class { constructor(text, value) { this.text = text; this.value = value; } };
const store = {};
globalThis.localStorage = { getItem: (k) => store[k] ?? null, setItem: (k, v) => { store[k] = String(v); } };
globalThis.location = { search: cfg.search || "", hash: cfg.hash || "" };
globalThis.history = { replaceState(_s, _t, u) { location.hash = u; } };
globalThis.__plots = {};
globalThis.Plotly = { react(id, data, layout) { __plots[id] = { data, layout }; }, purge(id) { delete __plots[id]; } };
globalThis.fetch = async (url, opts = {}) => {
  const u = String(url);
  requests.push({ url: u, headers: opts.headers || {} });
  const key = Object.keys(cfg.responses).filter((p) => u.startsWith(p)).sort((a, b) => b.length - a.length)[0];
  const [status, body] = key ? cfg.responses[key] : [404, { error: "not mocked: " + u }];
  return { ok: status < 400, status, statusText: String(status), json: async () => body };
};
const settle = async () => { for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5)); };
const byIdH = (id) => document.getElementById(id);
vm.runInThisContext(require("fs").readFileSync(cfg.app, "utf8"));
(async () => {
  await settle();
  const out = {};
  await (new Function("$", "settle", "out", "return (async () => {" + cfg.scenario + "})()"))(byIdH, settle, out);
  console.log(JSON.stringify({ requests, out }));
})().catch((e) => { console.log(JSON.stringify({ crash: String(e && e.stack || e) })); });
"""

STORE = {"tables": {"redmt": {"rows": 5, "first": "2024-01-31", "last": "2024-06-30"}}, "counts": {"redmt": 5},
         "periods": [], "network": {"circuits": 1, "segments": 5, "transformers": 2, "customers": 90},
         "by_year": [], "by_circuit": []}
MODELS = {"models": [{"version": "v0001", "name": "lightgbm", "target": "saifi", "level": "transformer",
                      "period": "month", "status": "champion"},
                     {"version": "v0002", "name": "tabnet", "target": "risk", "level": "transformer",
                      "period": "month", "status": "candidate"}]}


def _predict(period):
    return {"period": period, "models": {"risk": "v0002"}, "warnings": [], "drivers_method": {}, "rows": 1,
            "assets": [{"rank": 1, "asset_id": "TD000009", "period": period, "pred_risk": 2, "proba_risk": 0.7,
                        "drivers": "kva (+0.5)"}]}


EXPLAIN = {"version": "v0002", "method": "tabnet", "rows": 3, "warning": None,
           "global": [{"feature": "kva", "importance": 0.5, "group": "asset"}],
           "local": {"drivers": [{"feature": "kva", "value": 1, "attribution": 0.5}], "text": "TD000009"}}


def run_page(scenario: str, responses: dict, search: str = "", hash_: str = "") -> dict:
    base = {"/api/health": [200, {"status": "ok", "lang": "es"}], "/api/store": [200, STORE],
            "/api/models": [200, MODELS], "/api/circuits": [200, {"circuits": [{"circuit": "C1", "segments": 5, "events": 3}]}],
            "/api/map/assets": [200, {"layers": {}, "snapshot": "2024-06-30"}]}
    cfg = {"app": str(APP_JS), "scenario": scenario, "responses": {**base, **responses}, "search": search, "hash": hash_}
    p = subprocess.run([NODE, "-e", HARNESS], input=json.dumps(cfg), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert "crash" not in res, res.get("crash")
    return res


def test_requests_carry_the_dashboard_language():
    """The API answers errors in the language the request names: every dashboard call sends its own."""
    res = run_page("""
        document.querySelector('[data-tab=map]').click(); await settle();
        $("lang-en").click(); await settle();
    """, {"/api/indices": [200, {"indices": []}]})
    langs = {r["url"].split("?")[0]: r["headers"].get("Accept-Language") for r in res["requests"]
             if r["url"] != "/api/health"}
    assert set(langs) >= {"/api/store", "/api/circuits", "/api/map/assets"}
    assert all(v in ("es", "en") for v in langs.values()), langs
    after = [r["headers"].get("Accept-Language") for r in res["requests"] if r["url"].startswith("/api/map/assets")]
    assert after[0] == "es" and after[-1] == "en"


def test_ranking_row_explains_its_own_period_and_model():
    """Clicking a row of the forecast ranked by v0002 explains that asset in the forecast period with v0002
    (not the champion in the last observed period)."""
    res = run_page("""
        document.querySelector('[data-tab=ranking]').click(); await settle();
        $("rank-model").value = "v0002"; $("rank-next").click(); await settle();
        $("rank-table").querySelectorAll("tr.click")[0].click(); await settle();
        out.note = $("exp-note").textContent; out.error = $("error").hidden ? "" : $("error").textContent;
    """, {"/api/predict": [200, _predict("2024-07")], "/api/explain": [200, EXPLAIN]})
    from urllib.parse import parse_qs, urlsplit

    ranked = [parse_qs(urlsplit(r["url"]).query) for r in res["requests"] if r["url"].startswith("/api/predict")]
    assert ranked[-1]["period"] == ["next"] and ranked[-1]["model"] == ["v0002"]
    ex = [parse_qs(urlsplit(r["url"]).query) for r in res["requests"] if r["url"].startswith("/api/explain")]
    assert ex, res
    assert ex[-1]["asset"] == ["TD000009"] and ex[-1]["period"] == ["2024-07"] and ex[-1]["model"] == ["v0002"]
    assert not res["out"]["error"]


def test_ranking_offers_the_whole_ranking_as_csv():
    res = run_page("""
        document.querySelector('[data-tab=ranking]').click(); await settle();
        $("rank-model").value = "v0002"; $("rank-next").click(); await settle();
        out.href = $("rank-csv").href; out.hidden = $("rank-csv").hidden;
    """, {"/api/predict": [200, _predict("2024-07")]})
    from urllib.parse import parse_qs, urlsplit

    u = urlsplit(res["out"]["href"])
    assert u.path == "/api/predict.csv" and not res["out"]["hidden"]
    assert parse_qs(u.query) == {"model": ["v0002"], "period": ["2024-07"]}


def test_summary_without_indices_still_shows_the_store():
    """A store with the network but no interruptions yet: the indices 404, the KPIs and tables still show
    and the reason is said once."""
    res = run_page("""
        out.kpis = $("kpis").innerHTML; out.tables = $("store-tables").innerHTML;
        out.error = $("error").hidden ? "" : $("error").textContent;
    """, {"/api/indices": [404, {"error": "no hay filas de interrupciones", "type": "NotFoundError"}]})
    out = res["out"]
    assert "redmt" in out["tables"] and 'class="kpi"' in out["kpis"]
    assert "no hay filas de interrupciones" in out["error"]


def test_language_switch_relabels_selects():
    """Circuit options ("… eventos") and model options ("campeón") follow the ES/EN switch; the chosen
    model stays chosen."""
    res = run_page("""
        document.querySelector('[data-tab=ranking]').click(); await settle();
        $("rank-model").value = "v0002";
        document.querySelector('[data-tab=map]').click(); await settle();
        out.es = [...$("map-circuit").options].map((o) => o.text);
        $("lang-en").click(); await settle();
        out.en = [...$("map-circuit").options].map((o) => o.text);
        document.querySelector('[data-tab=ranking]').click(); await settle();
        out.models = [...$("rank-model").options].map((o) => o.text); out.model = $("rank-model").value;
    """, {"/api/predict": [200, _predict("2024-06")]})
    out = res["out"]
    assert any("eventos" in x for x in out["es"]) and not any("eventos" in x for x in out["en"])
    assert any("events" in x for x in out["en"])
    assert not any("campeón" in x for x in out["models"]) and out["model"] == "v0002"


def test_trace_offers_explain_only_where_a_model_exists():
    """The map's trace box offers 'Explain' for a transformer (models are transformer-level), not for a
    segment that no registered model can explain."""
    trace = {"device": "X", "circuit": "C1", "depth": 1, "distance_m": 10, "n_segments": 1, "n_transformers": 1,
             "customers": 5, "protective_upstream": ["C1"]}
    found = {}
    for kind in ("segment", "transformer"):
        res = run_page("""
            document.querySelector('[data-tab=map]').click(); await settle();
            showTrace("X"); await settle();
            const box = $("trace-box");
            out.buttons = box.querySelectorAll("button").length + (box.innerHTML.match(/<button/g) || []).length;
            out.text = box.innerHTML;
        """, {"/api/assets/X/trace": [200, {**trace, "kind": kind}]})
        found[kind] = res["out"]["buttons"]
        assert "transformador" in res["out"]["text"] or "tramo" in res["out"]["text"]  # the kind, in Spanish
    assert found == {"segment": 0, "transformer": 1}


def test_map_predicted_colour_of_a_risk_model_is_its_class():
    """With a risk classifier as the only champion, 'predicted criticality' colours transformers by the
    predicted class (0 Bajo … 3 Muy Alto), not by proba_risk (the confidence in that class, as high for
    a sure "Bajo" as for a sure "Muy Alto")."""
    pred = {"period": "2024-06", "models": {"risk": "v0002"}, "warnings": [], "drivers_method": {}, "rows": 2,
            "assets": [{"rank": 1, "asset_id": "TD1", "pred_risk": 0, "proba_risk": 0.99},
                       {"rank": 2, "asset_id": "TD2", "pred_risk": 3, "proba_risk": 0.55}]}
    layers = {"transformers": {"total": 2, "shown": 2, "columns": ["code", "circuit", "lon", "lat", "events",
                                                                   "customer_interruptions", "customers", "kva"],
                               "rows": [["TD1", "C1", -75.5, 5.0, 0, 0, 10, 50], ["TD2", "C1", -75.6, 5.1, 4, 30, 20, 75]]}}
    res = run_page("""
        $("map-color").value = "pred";
        document.querySelector('[data-tab=map]').click(); await settle();
        const tr = __plots["chart-map"].data.find((d) => d.customdata);
        out.colours = tr.marker.color; out.title = tr.marker.colorbar.title.text;
    """, {"/api/predict": [200, pred], "/api/map/assets": [200, {"layers": layers, "snapshot": "2024-06-30"}]})
    assert res["out"]["colours"] == [0, 3] and "2024-06" in res["out"]["title"]


def test_summary_lists_the_indices_of_each_circuit():
    """Beside the heat map, the numbers: SAIFI/SAIDI/CAIDI/ASAI/MAIFI of every circuit in the latest year,
    worst SAIDI first."""
    def row(g, p, saifi, saidi):
        return {"group": g, "period": p, "customers": 1000.4, "events": 3, "SAIFI": saifi, "SAIDI": saidi,
                "CAIDI": saidi / saifi, "ASAI": 0.999, "MAIFI": 0.5}

    circ = {"indices": [row("A", "2023", 1.0, 9.0), row("A", "2024", 1.5, 2.0), row("B", "2024", 2.5, 7.25),
                        row("C", "2024", 0.5, 4.0)]}
    res = run_page("""out.html = $("circuit-table").innerHTML;""",
                   {"/api/indices?by=circuit": [200, circ], "/api/indices?by=system": [200, {"indices": []}]})
    import re

    html = res["out"]["html"]
    names = re.findall(r"<tr><td>([A-C])</td>", html)
    assert names == ["B", "C", "A"] and "2024" in html  # 2023's A (SAIDI 9) is not the latest year
    assert "7,25" in html or "7.25" in html


def test_every_text_has_both_languages():
    """Each key the page translates (t("…") in app.js, data-i18n in index.html) exists in Spanish and
    English, so no label falls back to the other language or to its key."""
    import re

    res = run_page("""out.es = Object.keys(I18N.es); out.en = Object.keys(I18N.en);""", {})
    es, en = set(res["out"]["es"]), set(res["out"]["en"])
    assert es == en, (es ^ en)
    html = (APP_JS.parent / "index.html").read_text(encoding="utf-8")
    used = set(re.findall(r'\bt\("([a-z_]+)"\)', APP_JS.read_text(encoding="utf-8")))
    used |= set(re.findall(r'data-i18n(?:-ph)?="([a-z_]+)"', html))
    assert used and used <= es, used - es


def test_chat_cites_both_pages_of_a_quote_over_a_page_break():
    answer = {"text": "Según [1] …", "found": True, "sql": None, "params": [], "rows": [], "seconds": 0.1,
              "backend": "extractive", "trace": {"nodes": []},
              "citations": [{"n": 1, "doc": "RETIE-2024-libro3", "anchor": "Art. 3.12.6", "page": 41, "page_end": 42,
                             "quote": "distancias mínimas"},
                            {"n": 2, "doc": "RETIE-2024-libro3", "anchor": "Art. 3.12.7", "page": 43, "page_end": 43,
                             "quote": "otra"}]}
    res = run_page("""
        $("chat-q").value = "¿distancia mínima a 13,2 kV?"; $("chat-form").requestSubmit(); await settle();
        out.log = $("chat-log").innerHTML + [...($("chat-log").children || [])].map((c) => c.innerHTML).join("");
    """, {"/api/ask": [200, answer]})
    log = res["out"]["log"]
    assert "pp. 41–42" in log and "p. 43" in log and "pp. 43" not in log
