// gridcrit dashboard: one page, five tabs, all data from the read-only REST API (/api/*).
// No network access beyond this server: plotly.js is served from the installed Python package and
// maps are plain lon/lat scatter plots (no tiles, no topojson from a CDN).
"use strict";

const I18N = {
  es: {
    subtitle: "criticidad de la red de media tensión", tab_summary: "Resumen", tab_map: "Mapa", tab_ranking: "Ranking",
    tab_explain: "Explicaciones", tab_chat: "Asistente", exclude_med: "Excluir días de evento mayor (IEEE 1366)",
    circuit: "Circuito", all: "Todos", color_by: "Color", by_events: "interrupciones históricas",
    by_pred: "criticidad predicha", model: "Modelo", period: "Periodo", show: "Mostrar", next: "Pronóstico: próximo periodo", asset: "Activo",
    explain: "Explicar", send: "Enviar", chat_ph: "Pregunte por la regulación o por los datos…",
    chat_hint: "Ejemplos: «¿Cuántas interrupciones hubo en 2023?» · «¿Distancia mínima de seguridad a edificaciones?»",
    events: "eventos", rows: "filas", customers: "usuarios", year: "Año", saifi_year: "SAIFI y SAIDI del sistema por año",
    saidi_h: "SAIDI (h)", by_circuit: "SAIFI por circuito y año", table: "Tabla", first: "desde", last: "hasta",
    segments: "tramos", transformers: "transformadores", switches: "interruptores", lightning: "rayos (densidad)",
    vegetation: "vegetación", shown_of: "mostrados", no_models: "No hay modelos registrados: entrene uno con «gridcrit train».",
    rank: "#", pred: "predicho", actual: "real", drivers: "factores principales", global_imp: "Importancia global",
    local_imp: "Factores del activo", thinking: "pensando…", sources: "Fuentes", trace: "Traza", sql: "Consulta SQL",
    downstream: "aguas abajo", protection: "protección aguas arriba", depth: "profundidad", partial: "año parcial",
    interruptions: "interrupciones", kpi_store: "almacén", predicted_saifi: "SAIFI predicho",
    click_hint: "Clic en un activo: traza aguas abajo y explicación.",
    no_pred_transformers: "el modelo campeón no predice transformadores: color por interrupciones",
    snapshot: "foto de la red", champion: "campeón", candidate: "candidato", retired: "retirado", proba: "prob.",
    risk_labels: ["Bajo", "Medio", "Alto", "Muy Alto"], steps: "pasos TabNet",
    kind_transformer: "transformador", kind_switch: "interruptor", kind_segment: "tramo", kind_circuit: "circuito",
    no_indices: "Sin índices de confiabilidad", latest_row: "última fila del activo",
    download_csv: "Descargar CSV (todas las filas)", shown: "mostradas", circuits_of: "Índices por circuito",
    by_saidi: "ordenados por SAIDI", n_customers: "usuarios (N)",
    computing: "calculando… (la primera vez, en una red grande, puede tardar un par de minutos)",
    "tree SHAP contributions": "contribuciones SHAP de árboles", "TabNet attention importances": "importancias de atención de TabNet",
    "none available for this model": "no disponibles para este modelo",
    events_all: "eventos de interrupción (incl. momentáneos)", period_ph: "AAAA-MM", per_month: "mes", per_quarter: "trimestre",
  },
  en: {
    subtitle: "criticality of the medium-voltage network", tab_summary: "Summary", tab_map: "Map", tab_ranking: "Ranking",
    tab_explain: "Explanations", tab_chat: "Assistant", exclude_med: "Exclude major event days (IEEE 1366)",
    circuit: "Circuit", all: "All", color_by: "Colour", by_events: "historical interruptions",
    by_pred: "predicted criticality", model: "Model", period: "Period", show: "Show", next: "Forecast: next period", asset: "Asset",
    explain: "Explain", send: "Send", chat_ph: "Ask about the regulation or the data…",
    chat_hint: "Examples: “How many interruptions were there in 2023?” · “Minimum clearance to buildings?”",
    events: "events", rows: "rows", customers: "customers", year: "Year", saifi_year: "System SAIFI and SAIDI by year",
    saidi_h: "SAIDI (h)", by_circuit: "SAIFI by circuit and year", table: "Table", first: "from", last: "to",
    segments: "segments", transformers: "transformers", switches: "switches", lightning: "lightning (density)",
    vegetation: "vegetation", shown_of: "shown", no_models: "No models registered: train one with “gridcrit train”.",
    rank: "#", pred: "predicted", actual: "actual", drivers: "main drivers", global_imp: "Global importance",
    local_imp: "Drivers of the asset", thinking: "thinking…", sources: "Sources", trace: "Trace", sql: "SQL query",
    downstream: "downstream", protection: "upstream protection", depth: "depth", partial: "partial year",
    interruptions: "interruptions", kpi_store: "store", predicted_saifi: "predicted SAIFI",
    click_hint: "Click an asset: downstream trace and explanation.",
    no_pred_transformers: "the champion model does not predict transformers: coloured by interruptions",
    snapshot: "network snapshot", champion: "champion", candidate: "candidate", retired: "retired", proba: "prob.",
    risk_labels: ["Low", "Medium", "High", "Very high"], steps: "TabNet steps",
    kind_transformer: "transformer", kind_switch: "switch", kind_segment: "segment", kind_circuit: "circuit",
    no_indices: "No reliability indices", latest_row: "latest row of the asset",
    download_csv: "Download CSV (all rows)", shown: "shown", circuits_of: "Indices by circuit",
    by_saidi: "sorted by SAIDI", n_customers: "customers (N)",
    computing: "computing… (the first time, on a large network, this can take a couple of minutes)",
    "tree SHAP contributions": "tree SHAP contributions", "TabNet attention importances": "TabNet attention importances",
    "none available for this model": "none available for this model",
    events_all: "interruption events (incl. momentary)", period_ph: "YYYY-MM", per_month: "month", per_quarter: "quarter",
  },
};
let LANG = "es";
const t = (k) => (I18N[LANG] && I18N[LANG][k]) || I18N.es[k] || k;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const fmt = (v, d = 4) => (v === null || v === undefined || Number.isNaN(v) ? "–" : typeof v === "number" ? (Math.abs(v) >= 1000 ? v.toLocaleString(LANG) : +v.toPrecision(d) + "") : esc(v));
const PLOT_CFG = { displaylogo: false, responsive: true, displayModeBar: "hover" };
const TITLE = { font: { size: 14 }, x: 0.01, xanchor: "left" };  // left: the mode bar sits on the right
const HEAT = [[0, "#ffffcc"], [0.35, "#feb24c"], [0.7, "#f03b20"], [1, "#800026"]];  // low = pale, high = dark red
const loaded = {};

async function api(path, opts = {}) {
  // Accept-Language: the API answers its error messages in the dashboard's language
  const r = await fetch(path, { ...opts, headers: { ...(opts.headers || {}), "Accept-Language": LANG } });
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) { const e = new Error(body.error || r.statusText); e.status = r.status; throw e; }
  return body;
}
function showError(e) { const box = $("error"); box.textContent = e ? String(e.message || e) : ""; box.hidden = !e; }

function applyLang() {
  document.documentElement.lang = LANG;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-ph]").forEach((el) => { el.placeholder = t(el.dataset.i18nPh); });
  $("lang-es").classList.toggle("active", LANG === "es");
  $("lang-en").classList.toggle("active", LANG === "en");
}
function setLang(l) {
  LANG = l; localStorage.setItem("gridcrit-lang", l); applyLang();
  for (const k in loaded) delete loaded[k];
  const sel = $("map-circuit");  // circuit labels carry a translated word: rebuild them
  while (sel.options.length > 1) sel.remove(1);
  for (const id of ["rank-model", "exp-model"]) { keepModel[id] = $(id).value; $(id).innerHTML = ""; }  // model labels too
  modelList = null; predCache = null;
  if (!$("trace-box").hidden && traceCode) showTrace(traceCode);
  openTab(current);
}

let current = "summary";
function openTab(name) {
  if (!LOADERS[name]) name = "summary";
  current = name;
  if (location.hash.slice(1) !== name) history.replaceState(null, "", "#" + name);  // shareable link
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((s) => s.classList.toggle("active", s.id === "tab-" + name));
  showError(null);
  if (!loaded[name]) { loaded[name] = true; (LOADERS[name] || (() => {}))().catch((e) => { loaded[name] = false; showError(e); }); }
  window.dispatchEvent(new Event("resize"));  // plotly charts created while hidden need a resize
}

// ------------------------------------------------------------------ Resumen
async function loadSummary() {
  const med = $("exclude-med").checked;
  let idxError = null;
  const noIdx = (e) => { idxError = e; return { indices: [] }; };  // e.g. no interruptions ingested yet
  const [store, sys, circ] = await Promise.all([
    api("/api/store"),
    api(`/api/indices?by=system&period=year&exclude_med=${med}`).catch(noIdx),
    api(`/api/indices?by=circuit&period=year&exclude_med=${med}`).catch(noIdx),
  ]);
  const yrs = store.by_year || [];
  const partial = new Set(yrs.filter((y) => !(y.from.slice(5, 7) === "01" && y.to.slice(5, 7) === "12")).map((y) => String(y.year)));
  const last = sys.indices[sys.indices.length - 1] || {};
  const lastLab = (last.period ?? "") + (partial.has(String(last.period)) ? "*" : "");
  const n = store.network || {};
  const kpis = [
    [fmt(yrs.reduce((a, y) => a + y.events, 0)), t("events_all")],  // the indices' events: sustained only
    [fmt(n.circuits), t("circuit") + "s"],
    [fmt(n.transformers), t("transformers")],
    [fmt(n.segments), t("segments")],
    [fmt(n.customers), t("customers")],
    [fmt(last.SAIFI, 3), `SAIFI ${lastLab}`],
    [fmt(last.SAIDI, 3), `SAIDI h ${lastLab}`],
    [store.periods.length ? `${store.periods[0]} … ${store.periods[store.periods.length - 1]}` : "–", t("period")],
  ];
  $("kpis").innerHTML = kpis.map(([v, l]) => `<div class="kpi"><b>${v}</b><span>${esc(l)}</span></div>`).join("");
  const xs = sys.indices.map((r) => r.period + (partial.has(String(r.period)) ? "*" : ""));
  Plotly.react("chart-year", [
    { x: xs, y: sys.indices.map((r) => r.SAIFI), type: "bar", name: "SAIFI", marker: { color: "#0b6e4f" } },
    { x: xs, y: sys.indices.map((r) => r.SAIDI), type: "scatter", mode: "lines+markers", name: t("saidi_h"), yaxis: "y2", line: { color: "#d1495b" } },
  ], { title: { text: t("saifi_year") + (partial.size ? ` (* ${t("partial")})` : ""), ...TITLE }, margin: { t: 40, r: 50, l: 50, b: 40 },
       xaxis: { type: "category" }, yaxis: { title: "SAIFI" }, yaxis2: { title: t("saidi_h"), overlaying: "y", side: "right" }, legend: { orientation: "h" } }, PLOT_CFG);
  // circuit × year heat map (a grouped bar chart of 20+ circuits is unreadable)
  const groups = [...new Set(circ.indices.map((r) => String(r.group)))].sort();
  const periods = [...new Set(circ.indices.map((r) => String(r.period)))].sort();
  const z = groups.map((g) => periods.map((p) => { const r = circ.indices.find((x) => String(x.group) === g && String(x.period) === p); return r ? r.SAIFI : null; }));
  Plotly.react("chart-circuit", [{ type: "heatmap", x: periods.map((p) => p + (partial.has(p) ? "*" : "")), y: groups, z, colorscale: HEAT,
    hovertemplate: "%{y} · %{x}: SAIFI %{z:.3f}<extra></extra>", colorbar: { title: { text: "SAIFI" } } }],
    { title: { text: t("by_circuit"), ...TITLE }, margin: { t: 40, r: 10, l: 90, b: 40 }, xaxis: { type: "category" }, yaxis: { type: "category", autorange: "reversed" },
      height: Math.max(360, 60 + 18 * groups.length) }, PLOT_CFG);
  const rows = Object.entries(store.tables).map(([n, v]) => `<tr><td>${esc(n)}</td><td class="num">${fmt(v.rows)}</td><td>${esc(v.first)}</td><td>${esc(v.last)}</td></tr>`).join("");
  // the numbers behind the heat map: IEEE 1366 indices of each circuit in the latest year, worst SAIDI first
  const lastP = periods[periods.length - 1];
  const cr = circ.indices.filter((r) => String(r.period) === lastP).sort((a, b) => (b.SAIDI ?? -1) - (a.SAIDI ?? -1));
  const f3 = (v) => (v === null || v === undefined ? "–" : Number(v).toLocaleString(LANG, { maximumFractionDigits: 3 }));
  $("circuit-table").innerHTML = cr.length ? `<h3>${t("circuits_of")} · ${esc(lastP)}${partial.has(lastP) ? "*" : ""} (${t("by_saidi")})</h3><table class="data">` +
    `<tr><th>${t("circuit")}</th><th>${t("n_customers")}</th><th>${t("events")}</th><th>SAIFI</th><th>SAIDI h</th><th>CAIDI h</th><th>ASAI</th><th>MAIFI</th></tr>` +
    cr.map((r) => `<tr><td>${esc(r.group)}</td><td class="num">${f3(Math.round(r.customers))}</td><td class="num">${f3(r.events)}</td><td class="num">${f3(r.SAIFI)}</td>` +
      `<td class="num">${f3(r.SAIDI)}</td><td class="num">${f3(r.CAIDI)}</td><td class="num">${r.ASAI == null ? "–" : Number(r.ASAI).toFixed(6)}</td><td class="num">${f3(r.MAIFI)}</td></tr>`).join("") + "</table>" : "";
  if (idxError) showError(`${t("no_indices")}: ${idxError.message}`);
  $("store-tables").innerHTML = `<h3>${t("table")}s</h3><table class="data"><tr><th>${t("table")}</th><th>${t("rows")}</th><th>${t("first")}</th><th>${t("last")}</th></tr>${rows}</table>`;
}

// ------------------------------------------------------------------ Mapa
let predCache = null;
async function predictions() {
  if (predCache) return predCache;
  try {
    // the map colours transformers: the transformer champion's ranking (champions of several levels
    // make a plain "champion" ambiguous)
    const ms = await models();
    const v = champGroups.length ? championValue("transformer") : "champion";
    if (!ms.length || !v) predCache = { assets: [], models: {}, error: ms.length ? t("no_pred_transformers") : t("no_models") };
    else predCache = await api("/api/predict?" + new URLSearchParams({ ...modelParams(v), limit: "100000" }));
  } catch (e) { predCache = { assets: [], error: e.message }; }
  return predCache;
}
async function loadMap() {
  const sel = $("map-circuit");
  if (sel.options.length <= 1) {
    const cs = await api("/api/circuits");
    cs.circuits.forEach((c) => sel.add(new Option(`${c.circuit} (${c.events} ${t("events")})`, c.circuit)));
  }
  if (!loadMap.fromUrl) {  // ?circuit=...&color=pred preselect the map
    loadMap.fromUrl = true;
    if (URLP.get("circuit")) sel.value = URLP.get("circuit");
    if (URLP.get("color")) $("map-color").value = URLP.get("color");
  }
  const circuit = sel.value;
  const m = await api("/api/map/assets" + (circuit ? `?circuit=${encodeURIComponent(circuit)}` : ""));
  const L = m.layers, traces = [], notes = [];
  const col = (layer, name) => L[layer] ? L[layer].columns.indexOf(name) : -1;
  // lightning density as a translucent 2-D histogram contour under the network
  if (L.lightning && L.lightning.rows.length) {
    traces.push({ type: "histogram2dcontour", x: L.lightning.rows.map((r) => r[0]), y: L.lightning.rows.map((r) => r[1]), name: t("lightning"),
      colorscale: [[0, "rgba(255,255,255,0)"], [1, "rgba(255,200,0,0.55)"]], showscale: false, contours: { coloring: "fill", showlines: false }, ncontours: 12, hoverinfo: "skip", showlegend: true });
  }
  // segments: one line trace per interruption bucket (plotly lines cannot vary colour along a trace)
  if (L.segments) {
    const buckets = [[0, 0, "#7f8c99", "0"], [1, 2, "#f4a259", "1–2"], [3, 1e9, "#c0392b", "3+"]];
    const ie = col("segments", "events");
    for (const [lo, hi, colour, lab] of buckets) {
      const x = [], y = [], text = [];
      L.segments.rows.filter((r) => r[ie] >= lo && r[ie] <= hi).forEach((r) => { x.push(r[2], r[4], null); y.push(r[3], r[5], null); text.push(r[0], r[0], null); });
      if (x.length) traces.push({ type: "scattergl", mode: "lines", x, y, text, customdata: text, name: `${t("segments")} · ${lab} ${t("events")}`, line: { color: colour, width: lo ? 2.8 : 1.6 }, hoverinfo: "text" });
    }
    notes.push(`${t("segments")}: ${L.segments.shown}/${L.segments.total}`);
  }
  if (L.transformers) {
    const R = L.transformers.rows, ie = col("transformers", "events");
    let vals = R.map((r) => r[ie]), cbar = t("interruptions");
    if ($("map-color").value === "pred") {
      const p = await predictions();
      // the target the ranking leads with (SAIFI first); a risk model: its predicted class 0..3 (Bajo … Muy
      // Alto), not proba_risk, which is the confidence in whatever class it predicts (high for "Bajo" too)
      const tg = Object.keys(p.models || {})[0];
      const by = new Map(p.assets.map((a) => [a.asset_id, a["pred_" + tg]]));
      const hit = R.some((r) => by.has(r[0]));
      if (hit) {
        vals = R.map((r) => by.get(r[0]) ?? null);
        cbar = `${tg === "saifi" ? t("predicted_saifi") : t("pred") + " " + (tg === "risk" && LANG === "es" ? "riesgo" : tg)} ${p.period}`;
      }
      else notes.push(p.error || (by.size ? t("no_pred_transformers") : t("no_models")));
    }
    traces.push({ type: "scattergl", mode: "markers", x: R.map((r) => r[2]), y: R.map((r) => r[3]), name: t("transformers"),
      customdata: R.map((r) => r[0]),
      text: R.map((r, i) => `${r[0]} · ${r[1]}<br>${t("customers")}: ${r[6] ?? "–"} · ${t("events")}: ${r[ie]}<br>${cbar}: ${fmt(vals[i])}`),
      hoverinfo: "text", marker: { size: 7, color: vals, colorscale: HEAT, showscale: true, colorbar: { title: { text: cbar }, len: 0.6 }, line: { width: 0.3, color: "#333" } } });
    notes.push(`${t("transformers")}: ${L.transformers.shown}/${L.transformers.total}`);
  }
  if (L.switches) {
    const R = L.switches.rows;
    traces.push({ type: "scattergl", mode: "markers", x: R.map((r) => r[2]), y: R.map((r) => r[3]), name: t("switches"), customdata: R.map((r) => r[0]),
      text: R.map((r) => `${r[0]} · ${r[6] ?? ""} ${r[7] ?? ""}<br>${t("events")}: ${r[4]}`), hoverinfo: "text",
      visible: "legendonly", marker: { symbol: "diamond", size: 6, color: R.map((r) => (r[7] === "ABIERTO" ? "#ffffff" : "#1f77b4")), line: { width: 1, color: "#1f77b4" } } });
  }
  if (L.vegetation && L.vegetation.rows.length) {
    const R = L.vegetation.rows, c = { Alto: "#2ca02c", Medio: "#98df8a", Bajo: "#d9f0d3" };
    traces.push({ type: "scattergl", mode: "markers", x: R.map((r) => r[0]), y: R.map((r) => r[1]), name: t("vegetation"), visible: "legendonly",
      text: R.map((r) => `${r[3] ?? ""} · ${r[2] ?? ""}`), hoverinfo: "text", marker: { symbol: "triangle-up", size: 7, color: R.map((r) => c[r[2]] || "#2ca02c"), line: { width: 0.5, color: "#1b5e20" } } });
  }
  // equal metres per pixel in both directions at this latitude
  const lats = (L.transformers?.rows || []).map((r) => r[3]);
  const lat0 = lats.length ? lats.reduce((a, b) => a + b, 0) / lats.length : 5;
  // frame the network itself (lightning and vegetation can spread far beyond it)
  const xs = [], ys = [];
  (L.segments?.rows || []).forEach((r) => { xs.push(r[2], r[4]); ys.push(r[3], r[5]); });
  (L.transformers?.rows || []).forEach((r) => { xs.push(r[2]); ys.push(r[3]); });
  const pad = (a) => { const lo = Math.min(...a), hi = Math.max(...a), p = Math.max((hi - lo) * 0.08, 0.002); return [lo - p, hi + p]; };
  const xr = xs.length ? pad(xs) : undefined, yr = ys.length ? pad(ys) : undefined;
  Plotly.react("chart-map", traces, { margin: { t: 10, r: 10, l: 50, b: 40 }, legend: { orientation: "h", y: -0.08 }, hovermode: "closest",
    xaxis: { title: "lon", showgrid: false, zeroline: false, range: xr }, yaxis: { title: "lat", showgrid: false, zeroline: false, range: yr, scaleanchor: "x", scaleratio: 1 / Math.cos(lat0 * Math.PI / 180) },
    plot_bgcolor: "#fbfcfd" }, PLOT_CFG);
  $("map-note").textContent = `${m.snapshot ? t("snapshot") + " " + m.snapshot + " · " : ""}${notes.join(" · ")} · ${t("click_hint")}`;
  const div = $("chart-map");
  div.removeAllListeners && div.removeAllListeners("plotly_click");
  // assets carry their code in customdata; vegetation and lightning points have none (their text is a species)
  div.on("plotly_click", (ev) => { const code = ev.points[0] && ev.points[0].customdata; if (code) showTrace(code); });
}
let traceCode = null;
async function showTrace(code) {
  const box = $("trace-box");
  traceCode = code;
  try {
    const d = await api(`/api/assets/${encodeURIComponent(code)}/trace`);
    box.innerHTML = `<b>${esc(d.device)}</b> (${esc(t("kind_" + d.kind))}, ${t("circuit")} ${esc(d.circuit)}) · ${t("depth")} ${d.depth} · ${fmt(d.distance_m)} m<br>
      ${t("downstream")}: ${d.n_segments} ${t("segments")}, ${d.n_transformers} ${t("transformers")}, ${fmt(d.customers)} ${t("customers")}<br>
      ${t("protection")}: ${esc(d.protective_upstream.join(" → ") || "–")}`;
    const ms = await models().catch(() => []);
    const same = ms.filter((m) => m.level === d.kind);
    if (same.length) {  // a transformer model cannot explain a segment: a model of the asset's own level
      const mv = championValue(d.kind) || (same.find((m) => m.status === "champion") || same[same.length - 1]).version;
      const b = document.createElement("button");
      b.textContent = `${t("explain")} ${d.device}`;
      b.addEventListener("click", () => explainAsset(d.device, mv));
      box.append(document.createElement("br"), b);
    }
  } catch (e) { box.textContent = e.message; }
  box.hidden = false;
}
// explain one asset; from the ranking with its model and period (a forecast row: the forecast period)
function explainAsset(code, model, period) {
  $("exp-asset").value = code;
  $("exp-period").value = period || "";
  loaded.explain = true; openTab("explain");
  (async () => {
    await fillModels($("exp-model"));
    if (model && [...$("exp-model").options].some((o) => o.value === model)) $("exp-model").value = model;
    await loadExplain();
  })().catch(showError);
}

// ------------------------------------------------------------------ Ranking
let modelList = null, champGroups = [];
const keepModel = {};
async function models() {
  if (!modelList) { const r = await api("/api/models"); modelList = r.models; champGroups = r.champions || []; }
  return modelList;
}
// champions of several levels/periods (transformer and switch models ...): one "champion" choice each,
// value "champion@SLOT"; else the one "champion"
function championValue(level) {
  if (champGroups.length > 1) { const g = champGroups.find((x) => x.level === level); return g ? "champion@" + g.slot : null; }
  return champGroups.length === 1 && champGroups[0].level === level ? "champion" : null;
}
const modelParams = (v) => (v.startsWith("champion@") ? { model: "champion", slot: v.slice(9) } : { model: v });
const levelLabel = (level, period) => `${t("kind_" + level)}/${t("per_" + period)}`;
async function fillModels(sel) {
  if (sel.options.length) return true;
  const ms = await models();
  if (!ms.length) { modelList = null; return false; }  // asked again next time: a model may be trained meanwhile
  if (champGroups.length > 1) champGroups.forEach((g) => sel.add(new Option(`${t("champion")} · ${levelLabel(g.level, g.period)}`, "champion@" + g.slot)));
  else sel.add(new Option(t("champion"), "champion"));
  ms.forEach((v) => sel.add(new Option(`${v.version} · ${v.name} · ${levelLabel(v.level, v.period)} · ${v.target} (${t(v.status)})`, v.version)));
  if (keepModel[sel.id] && [...sel.options].some((o) => o.value === keepModel[sel.id])) sel.value = keepModel[sel.id];
  return true;
}
async function loadRanking() {
  if (!(await fillModels($("rank-model")))) {
    $("rank-note").textContent = t("no_models"); $("rank-table").innerHTML = "";
    if ($("rank-period").value === "next") $("rank-period").value = "";
    return;
  }
  const q = new URLSearchParams({ ...modelParams($("rank-model").value), limit: "200" });
  if ($("rank-period").value.trim()) q.set("period", $("rank-period").value.trim());
  $("rank-note").textContent = t("computing");
  const d = await api("/api/predict?" + q).catch((e) => { $("rank-note").textContent = ""; throw e; });
  $("rank-period").value = d.period;
  const a = d.assets, keys = a.length ? Object.keys(a[0]).filter((k) => k.startsWith("pred_") || k.startsWith("proba_") || k.startsWith("actual_")) : [];
  const tgt = (s) => (s === "risk" ? (LANG === "es" ? "riesgo" : "risk") : s === "count" ? t("interruptions") : s.toUpperCase());
  const label = (k) => { const [p, ...rest] = k.split("_"), g = tgt(rest.join("_"));
    return p === "pred" ? (LANG === "es" ? `${g} ${t("pred")}` : `${t("pred")} ${g}`) : p === "actual" ? (LANG === "es" ? `${g} ${t("actual")}` : `${t("actual")} ${g}`) : `${t("proba")} ${g}`; };
  // risk classes are codes 0..3 (Bajo … Muy Alto): show their names
  const cell = (k, v) => (/^(pred|actual)_risk$/.test(k) && Number.isInteger(v) && t("risk_labels")[v] ? esc(t("risk_labels")[v]) : fmt(v));
  const head = `<tr><th>${t("rank")}</th><th>${t("asset")}</th>${keys.map((k) => `<th>${esc(label(k))}</th>`).join("")}<th>${t("drivers")}</th></tr>`;
  $("rank-table").innerHTML = head + a.map((r) => `<tr class="click" data-asset="${esc(r.asset_id)}"><td class="num">${r.rank}</td><td>${esc(r.asset_id)}</td>${keys.map((k) => `<td class="num">${cell(k, r[k])}</td>`).join("")}<td>${esc((r.drivers || "").replaceAll(";", " ·"))}</td></tr>`).join("");
  // a row explains that asset in the ranked period (the forecast period too) with the ranking's model
  const model = $("rank-model").value;
  $("rank-table").querySelectorAll("tr.click").forEach((tr) => tr.addEventListener("click", () => explainAsset(tr.dataset.asset, model, d.period)));
  const method = Object.values(d.drivers_method)[0];
  // the whole ranking (not only the rows on screen) for a spreadsheet
  $("rank-csv").href = "/api/predict.csv?" + new URLSearchParams({ ...modelParams(model), period: d.period });
  $("rank-csv").hidden = false;
  $("rank-note").textContent = `${d.period} · ${Object.entries(d.models).map(([k, v]) => tgt(k) + "=" + v).join(", ")} · ${a.length}/${d.rows} ${t("rows")} ${t("shown")}` +
    (method ? ` · ${t("drivers")}: ${t(method)}` : "") + (d.warnings.length ? " · ⚠ " + d.warnings.join("; ") : "");
}

// ------------------------------------------------------------------ Explicaciones
const GROUP_COLOUR = { asset: "#1f77b4", topology: "#9467bd", exposure: "#2ca02c", history: "#ff7f0e", "": "#7f7f7f" };
async function loadExplain() {
  if (!(await fillModels($("exp-model")))) { $("exp-note").textContent = t("no_models"); return; }
  const period = $("exp-period").value.trim();
  $("exp-note").textContent = t("computing");
  if (!$("exp-asset").value.trim()) {  // default: the asset ranked most critical by the chosen model
    const tq = new URLSearchParams({ limit: "1", ...modelParams($("exp-model").value) });
    if (period) tq.set("period", period);
    const top = await api("/api/predict?" + tq).catch(() => null);
    if (top && top.assets.length) $("exp-asset").value = top.assets[0].asset_id;
  }
  const q = new URLSearchParams({ ...modelParams($("exp-model").value), lang: LANG, k: "12" });
  if ($("exp-asset").value.trim()) q.set("asset", $("exp-asset").value.trim());
  if (period) q.set("period", period);
  const d = await api("/api/explain?" + q).catch((e) => { $("exp-note").textContent = ""; throw e; });
  const g = [...d.global].reverse();
  Plotly.react("chart-global", [{ type: "bar", orientation: "h", x: g.map((r) => r.importance), y: g.map((r) => r.feature),
    marker: { color: g.map((r) => GROUP_COLOUR[r.group] || "#7f7f7f") }, text: g.map((r) => r.group), hovertemplate: "%{y}: %{x:.4g} (%{text})<extra></extra>" }],
    { title: { text: `${t("global_imp")} · ${d.version} · ${d.method}`, ...TITLE }, margin: { t: 40, l: 220, r: 10, b: 40 } }, PLOT_CFG);
  if (d.local) {
    const L = [...d.local.drivers].reverse();
    Plotly.react("chart-local", [{ type: "bar", orientation: "h", x: L.map((r) => r.attribution), y: L.map((r) => `${r.feature} = ${fmt(r.value)}`),
      marker: { color: L.map((r) => (r.attribution >= 0 ? "#d1495b" : "#00798c")) }, hovertemplate: "%{y}: %{x:.4g}<extra></extra>" }],
      { title: { text: `${t("local_imp")} ${$("exp-asset").value}`, ...TITLE }, margin: { t: 40, l: 260, r: 10, b: 40 } }, PLOT_CFG);
    $("exp-text").textContent = d.local.text;
  } else { Plotly.purge("chart-local"); $("exp-text").textContent = ""; }
  $("exp-text").hidden = !d.local;
  $("exp-note").textContent = `${d.version} · ${period || (d.local ? t("latest_row") : "")} · ${d.rows} ${t("rows")}` + (d.warning ? " · ⚠ " + d.warning : "") +
    (d.steps ? ` · ${t("steps")}: ` + d.steps.map((s) => s.join(", ")).join(" | ") : "");
}

// ------------------------------------------------------------------ Asistente
function addMsg(cls, html) { const div = document.createElement("div"); div.className = "msg " + cls; div.innerHTML = html; $("chat-log").appendChild(div); div.scrollIntoView(); return div; }
async function ask(ev) {
  ev.preventDefault();
  const q = $("chat-q").value.trim();
  if (!q) return;
  $("chat-q").value = "";
  addMsg("user", esc(q));
  const pending = addMsg("bot", esc(t("thinking")));
  try {
    const a = await api("/api/ask", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ question: q, lang: LANG }) });
    let html = esc(a.text);
    // a quote running over a page break cites both pages (pp. 41–42)
    const pages = (c) => (c.page_end && c.page_end > c.page ? `pp. ${esc(c.page)}–${esc(c.page_end)}` : `p. ${esc(c.page)}`);
    if (a.citations.length) html += `<ol>${a.citations.map((c) => `<li>[${c.n}] ${esc(c.doc)} ${esc(c.anchor)} ${pages(c)} — «${esc((c.quote || "").slice(0, 240))}»</li>`).join("")}</ol>`;
    if (a.sql) html += `<details><summary>${t("sql")}</summary><code>${esc(a.sql)}</code> ${esc(JSON.stringify(a.params))}<br>${a.rows.slice(0, 20).map((r) => esc(r.join(" | "))).join("<br>")}</details>`;
    if (a.trace && a.trace.nodes) html += `<details><summary>${t("trace")} (${a.seconds}s · ${esc(a.backend)})</summary>${a.trace.nodes.map((n) => esc(`${n.kind || n.step || ""}: ${n.label || n.text || ""}`)).join("<br>")}</details>`;
    pending.innerHTML = html;
  } catch (e) { pending.classList.add("err"); pending.textContent = e.message; }
}

const LOADERS = { summary: loadSummary, map: loadMap, ranking: loadRanking, explain: loadExplain, chat: async () => {} };
document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => openTab(b.dataset.tab)));
$("lang-es").addEventListener("click", () => setLang("es"));
$("lang-en").addEventListener("click", () => setLang("en"));
$("exclude-med").addEventListener("change", () => loadSummary().catch(showError));
$("map-circuit").addEventListener("change", () => loadMap().catch(showError));
$("map-color").addEventListener("change", () => loadMap().catch(showError));
$("rank-go").addEventListener("click", () => loadRanking().catch(showError));
$("rank-next").addEventListener("click", () => { $("rank-period").value = "next"; loadRanking().catch(showError); });
$("exp-go").addEventListener("click", () => loadExplain().catch(showError));
$("chat-form").addEventListener("submit", ask);
// ?lang=en and #tab make shareable links; ?q=... asks the assistant on load
const URLP = new URLSearchParams(location.search);
fetch("/api/health").then((r) => r.json()).then((h) => {
  LANG = [URLP.get("lang"), localStorage.getItem("gridcrit-lang"), h.lang].find((l) => I18N[l]) || "es";  // ?lang=fr: Spanish
  applyLang();
  openTab(location.hash.slice(1) || (URLP.get("q") ? "chat" : "summary"));
  if (URLP.get("q")) { $("chat-q").value = URLP.get("q"); $("chat-form").requestSubmit(); }
});
