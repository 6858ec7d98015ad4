"""``gridcrit demo``: the walkthrough of the whole pipeline on the synthetic twin (thin shell over
:func:`gridcrit.demo.run_demo`): data → reliability → dataset → models → forecast → explanations →
assistant → retraining, then the commands to go further. ``--steps data`` stops after the data part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gridcrit.cli.common import JsonOpt, LangOpt, OutOpt, StoreOpt, console, emit, fmt_count, translate
from gridcrit.errors import ValidationError

_T = {
    "demo": {
        "es": "Demo: gemelo '{scale}' (semilla {seed}) sintetizado en {a:.1f} s, ingerido en {b:.1f} s → {store}",
        "en": "Demo: '{scale}' twin (seed {seed}) synthesised in {a:.1f} s, ingested in {b:.1f} s → {store}",
    },
    # section titles
    "s_data": {"es": "Datos: gemelo sintético → almacén", "en": "Data: synthetic twin → store"},
    "s_reliability": {"es": "Confiabilidad: IEEE 1366 con días de evento mayor (MED)",
                      "en": "Reliability: IEEE 1366 with major event days (MED)"},
    "s_dataset": {"es": "Conjunto de criticidad sin fuga de información",
                  "en": "Leakage-free criticality dataset"},
    "s_models": {"es": "Modelos sobre SAIFI frente a la media histórica",
                 "en": "Models on SAIFI beside the historical mean"},
    "s_forecast": {"es": "Pronóstico", "en": "Forecast"},
    "s_explain": {"es": "Explicaciones", "en": "Explanations"},
    "s_assistant": {"es": "Asistente (sin conexión)", "en": "Assistant (offline)"},
    "s_retrain": {"es": "Reentrenamiento: campeón frente a retador", "en": "Retraining: champion vs challenger"},
    "s_next": {"es": "Para seguir", "en": "To go further"},
    # reliability
    "rel_table": {"es": "Sistema por año: SAIFI / SAIDI con y sin MED", "en": "System by year: SAIFI / SAIDI with and without MEDs"},
    "year": {"es": "año", "en": "year"},
    "months": {"es": "meses", "en": "months"},
    "t_med": {"es": "T_MED (h)", "en": "T_MED (h)"},
    "basis": {"es": "base", "en": "basis"},
    "n_med": {"es": "MED", "en": "MEDs"},
    "saifi_x": {"es": "SAIFI sin MED", "en": "SAIFI excl. MED"},
    "saidi_x": {"es": "SAIDI sin MED (h)", "en": "SAIDI excl. MED (h)"},
    "rel_line": {
        "es": "Días de evento mayor en total: {n} (2.5β: T_MED = exp(α + 2.5β) del SAIDI diario de los 5 años "
              "previos){days}.",
        "en": "Major event days in all: {n} (2.5β: T_MED = exp(α + 2.5β) of the daily SAIDI of the 5 previous "
              "years){days}.",
    },
    "rel_last": {
        "es": "Último año completo, {y}: MED {n} (T_MED {t} h); SAIFI {s1:.3f} → {s2:.3f} sin MED, "
              "SAIDI {d1:.2f} → {d2:.2f} h sin MED.",
        "en": "Last full year, {y}: MEDs {n} (T_MED {t} h); SAIFI {s1:.3f} → {s2:.3f} without MEDs, "
              "SAIDI {d1:.2f} → {d2:.2f} h without MEDs.",
    },
    # dataset
    "ds_line": {
        "es": "{rows} filas (transformador × mes): {assets} transformadores × {np} meses ({p0}..{p1}); "
              "{nf} variables conocidas al inicio del mes ({groups}), {nc} categóricas; objetivos {targets}; "
              "{share:.1%} de las filas con interrupciones.",
        "en": "{rows} rows (transformer × month): {assets} transformers × {np} months ({p0}..{p1}); "
              "{nf} features known at the month's start ({groups}), {nc} categorical; targets {targets}; "
              "{share:.1%} of rows with interruptions.",
    },
    "g_asset": {"es": "activo", "en": "asset"},
    "g_topology": {"es": "topología", "en": "topology"},
    "g_exposure": {"es": "exposición", "en": "exposure"},
    "g_history": {"es": "historia", "en": "history"},
    # models
    "m_table": {
        "es": "{t} por transformador y mes; retención {test} (ajuste {fit}, parada temprana {val})",
        "en": "{t} per transformer and month; hold-out {test} (fit {fit}, early stopping {val})",
    },
    "model": {"es": "modelo", "en": "model"},
    "version": {"es": "versión", "en": "version"},
    "train_s": {"es": "tiempo (s)", "en": "time (s)"},
    "top10_recall": {"es": "recall top-10 %", "en": "top-10 % recall"},
    "ndcg_at_100": {"es": "NDCG@100", "en": "NDCG@100"},
    "poisson_deviance": {"es": "desv. Poisson", "en": "Poisson deviance"},
    "baseline": {"es": "media histórica (base)", "en": "historical mean (baseline)"},
    "star": {"es": "* campeón", "en": "* champion"},
    "champion_mark": {"es": " (campeón)", "en": " (champion)"},
    "m_line": {
        "es": "Registrados en {slot}: {vs}. Mejor que la línea base: {beats}.",
        "en": "Registered in {slot}: {vs}. Better than the baseline: {beats}.",
    },
    "none": {"es": "ninguna métrica", "en": "no metric"},
    "m_note": {
        "es": "Recall top-10 %: una clasificación al azar obtiene ≈ 0.10 (solo ~4 % de los transformador-mes tienen "
              "interrupciones; docs/models.md).",
        "en": "Top-10 % recall: a random ranking gets ≈ 0.10 (only ~4 % of transformer-months have interruptions; "
              "docs/models.md).",
    },
    # forecast
    "f_table": {
        "es": "{p}: los {n} transformadores con mayor SAIFI previsto (modelo {m}, de {rows}; impulsores: {how})",
        "en": "{p}: the {n} transformers with the highest predicted SAIFI (model {m}, of {rows}; drivers: {how})",
    },
    "rank": {"es": "#", "en": "#"},
    "asset": {"es": "transformador", "en": "transformer"},
    "pred": {"es": "SAIFI previsto", "en": "predicted SAIFI"},
    "drivers": {"es": "impulsores principales", "en": "top drivers"},
    # explain
    "e_table": {
        "es": "Importancia global en la retención ({p}, {n} filas)",
        "en": "Global importance on the hold-out ({p}, {n} rows)",
    },
    "feature": {"es": "variable", "en": "feature"},
    "imp": {"es": "peso", "en": "weight"},
    "e_agree": {
        "es": "Acuerdo {a} ↔ {b}: Spearman {s:.2f} de las importancias globales, {o:.0%} de las 5 primeras en común, "
              "Spearman medio por fila {r:.2f}.",
        "en": "Agreement {a} ↔ {b}: Spearman {s:.2f} of the global importances, {o:.0%} of the top 5 shared, "
              "mean per-row Spearman {r:.2f}.",
    },
    "e_truth": {
        "es": "Verdad del gemelo, {v} ({m}): el impulsor real está entre las {k} variables principales de la fila en el "
              "{h:.1%} de {n} activo-periodos causados por un impulsor (el ranking global solo: {g:.1%}); en los "
              "críticos (10 % de mayor riesgo previsto) {hc:.1%} de {nc}; {sh:.0%} de la atribución sobre columnas "
              "de impulsores reales (son el {sc:.0%} de las columnas).",
        "en": "Twin truth, {v} ({m}): the true driver is among the row's top {k} features for {h:.1%} of {n} "
              "driver-caused asset-periods (the global ranking alone: {g:.1%}); on the critical ones (top 10 % of "
              "predicted risk) {hc:.1%} of {nc}; {sh:.0%} of the attribution on true-driver columns (they are "
              "{sc:.0%} of the columns).",
    },
    "e_per_driver": {"es": "  por impulsor: {d}", "en": "  per driver: {d}"},
    # assistant
    "q": {"es": "Pregunta", "en": "Question"},
    "a": {"es": "Respuesta", "en": "Answer"},
    "sql": {"es": "SQL (solo lectura, validado)", "en": "SQL (read-only, validated)"},
    "params": {"es": "parámetros", "en": "parameters"},
    # retrain
    "r_line": {
        "es": "Meses nuevos {m} del mismo gemelo sintetizados en {d} e ingeridos (+{n} filas); retador {c} {how} "
              "(modo auto: primero se ajusta el campeón {b}; si no lo supera por el margen, también se entrena "
              "desde cero y queda el mejor).",
        "en": "New months {m} of the same twin synthesised into {d} and ingested (+{n} rows); challenger {c} {how} "
              "(auto mode: the champion {b} is fine-tuned first; if that does not beat it by the margin, a model is "
              "also trained from scratch and the better one kept).",
    },
    "r_cands": {"es": "Candidatos en {p} ({pm}, campeón {c}): {cands}.",
                "en": "Candidates on {p} ({pm}, champion {c}): {cands}."},
    "c_finetune": {"es": "ajustado", "en": "fine-tuned"},
    "c_scratch": {"es": "desde cero", "en": "from scratch"},
    "how_finetune": {"es": "ajustado (fine-tune)", "en": "fine-tuned"},
    "how_scratch": {"es": "entrenado desde cero", "en": "trained from scratch"},
    "r_promoted": {"es": "Decisión: {c} promovido a campeón ({pm} mejora {imp:+.1%} ≥ margen {mg:.0%}).",
                   "en": "Decision: {c} promoted to champion ({pm} improves {imp:+.1%} ≥ margin {mg:.0%})."},
    "r_kept": {"es": "Decisión: {b} sigue como campeón ({pm}: {imp:+.1%} < margen {mg:.0%}); {c} queda como candidato.",
               "en": "Decision: {b} stays champion ({pm}: {imp:+.1%} < margin {mg:.0%}); {c} stays a candidate."},
    # closing
    "total": {"es": "Recorrido terminado en {s:.1f} s ({parts}).", "en": "Walkthrough done in {s:.1f} s ({parts})."},
    "step_names": {"es": "datos,confiabilidad,conjunto,modelos,pronóstico,explicaciones,asistente,reentrenamiento",
                   "en": "data,reliability,dataset,models,forecast,explanations,assistant,retraining"},
    "next_intro": {"es": "Comandos para seguir con este almacén:", "en": "Commands to go further with this store:"},
    "n_serve": {"es": "panel web y API REST en 127.0.0.1:8765", "en": "web dashboard and REST API on 127.0.0.1:8765"},
    "n_predict": {"es": "el ranking del próximo mes", "en": "next month's ranking"},
    "n_explain": {"es": "importancias, máscaras e informe HTML", "en": "importances, masks and HTML report"},
    "n_ask": {"es": "preguntas sobre los datos (SQL validado)", "en": "data questions (validated SQL)"},
    "n_corpus": {"es": "agregue el RETIE para preguntas normativas con citas",
                 "en": "add RETIE for cited regulation questions"},
    "n_indices": {"es": "índices IEEE 1366 por circuito y año, sin días de evento mayor",
                  "en": "IEEE 1366 indices per circuit and year, without major event days"},
    "n_train": {"es": "entrenar y registrar un modelo (o `gridcrit demo` para el recorrido completo)",
                "en": "train and register a model (or `gridcrit demo` for the whole walkthrough)"},
}


def _t(key: str, lang: str, **kw: Any) -> str:
    return translate(_T, key, lang, **kw)


def _section(i: int, key: str, lang: str) -> None:
    console.rule(f"[bold]{i}. {_t(key, lang)}[/bold]", align="left")


def _f(v: Any, fmt: str = ".4f") -> str:
    return "-" if v is None else format(v, fmt)


def _show_data(r: dict[str, Any], lang: str) -> None:
    from gridcrit.cli.data import _show_summary

    console.print(_t("demo", lang, scale=r["scale"], seed=r["seed"], a=r["synth_seconds"], b=r["ingest_seconds"],
                     store=r["store"]))
    _show_summary(r, lang)


def _show_reliability(r: dict[str, Any], lang: str) -> None:
    t = Table(title=_t("rel_table", lang))
    for c in ("year", "months", "t_med", "basis", "n_med", "SAIFI", "saifi_x", "SAIDI (h)", "saidi_x"):
        t.add_column(_t(c, lang) if c in _T else c, justify="left" if c == "basis" else "right",
                     no_wrap=c in ("year", "basis"))
    for y in r["years"]:
        t.add_row(str(y["year"]), str(y["months"]), _f(y["t_med_h"], ".3f"), y["basis"] or "-", str(y["n_med"]),
                  _f(y["SAIFI"], ".3f"), _f(y["SAIFI_excl_med"], ".3f"), _f(y["SAIDI"], ".2f"),
                  _f(y["SAIDI_excl_med"], ".2f"))
    console.print(t)
    days = f" ({', '.join(r['med_days'][:8])}{' …' if len(r['med_days']) > 8 else ''})" if r["med_days"] else ""
    console.print(_t("rel_line", lang, n=r["n_med"], days=days))
    y = r.get("last_full_year")
    if y:
        console.print(_t("rel_last", lang, y=y["year"], n=y["n_med"], t=_f(y["t_med_h"], ".3f"), s1=y["SAIFI"] or 0,
                         s2=y["SAIFI_excl_med"] or 0, d1=y["SAIDI"] or 0, d2=y["SAIDI_excl_med"] or 0))


def _show_dataset(r: dict[str, Any], lang: str) -> None:
    groups = ", ".join(f"{_t('g_' + g, lang) if 'g_' + g in _T else g} {n}" for g, n in r["feature_groups"].items())
    console.print(_t("ds_line", lang, rows=fmt_count(r["rows"]), level=r["level"], period=r["period"],
                     assets=fmt_count(r["assets"]), np=r["periods"], p0=r["first_period"], p1=r["last_period"],
                     nf=r["features"], groups=groups, nc=len(r["categorical"]), targets=", ".join(r["targets"]),
                     share=r["share_rows_with_events"] or 0.0))


def _show_models(r: dict[str, Any], lang: str) -> None:
    sp = r["split"]
    t = Table(title=_t("m_table", lang, t=r["target"], test=sp["test_periods"], fit=sp["fit_periods"],
                       val=sp["valid_periods"]))
    keys = ("top10_recall", "ndcg_at_100", "poisson_deviance")
    for c in ("model", "version", "train_s", *keys):
        t.add_column(_t(c, lang), justify="left" if c in ("model", "version") else "right",
                     no_wrap=c in ("model", "version"))
    for m in r["models"]:
        mark = " *" if m["version"] == r["champion"] else ""
        t.add_row(m["model"], f"{m['version']}{mark}", f"{m['train_s']:.1f}",
                  *[_f(m["eval"][k], ".3f" if k != "poisson_deviance" else ".2e") for k in keys])
    if r["models"]:
        b = r["models"][0]["baseline_historical_mean"]
        t.add_row(_t("baseline", lang), "", "", *[_f(b[k], ".3f" if k != "poisson_deviance" else ".2e") for k in keys])
    t.caption = _t("star", lang)
    console.print(t)
    vs = ", ".join(f"{m['version']} {m['model']}{_t('champion_mark', lang) if m['version'] == r['champion'] else ''}"
                   for m in r["models"])
    beats = "; ".join(f"{m['model']}: " + (", ".join(_t(k, lang) for k, ok in m["beats_baseline"].items() if ok)
                                           or _t("none", lang)) for m in r["models"])
    console.print(_t("m_line", lang, slot=r["slot"], vs=vs, beats=beats))
    console.print(_t("m_note", lang), style="dim")


def _show_forecast(r: dict[str, Any], lang: str) -> None:
    how = ", ".join(f"{v}" for v in r["drivers_method"].values()) or "-"
    t = Table(title=_t("f_table", lang, p=r["period"], n=len(r["top"]), rows=fmt_count(r["rows"]),
                       m=", ".join(f"{v}" for v in r["models"].values()), how=how))
    for c in ("rank", "asset", "pred", "drivers"):
        t.add_column(_t(c, lang), justify="right" if c in ("rank", "pred") else "left")
    for a in r["top"]:
        t.add_row(str(a["rank"]), str(a["asset_id"]), _f(a.get("pred_saifi"), ".3e"), str(a.get("drivers") or "-"))
    console.print(t)
    for w in r.get("warnings") or []:
        console.print(f"[yellow]{w}[/yellow]")


def _show_explain(r: dict[str, Any], lang: str) -> None:
    c, tn = r["champion"], r.get("tabnet")
    t = Table(title=_t("e_table", lang, p=r["periods"], n=fmt_count(r["rows"])))
    t.add_column("#", justify="right")
    t.add_column(f"{c['version']} {c['model']} ({c['method']})")
    t.add_column(_t("imp", lang), justify="right")
    if tn:
        t.add_column(f"{tn['version']} tabnet ({tn['method']})")
        t.add_column(_t("imp", lang), justify="right")
    for i, g in enumerate(c["global"]):
        row = [str(i + 1), g["feature"], f"{g['importance']:.3f}"]
        if tn and i < len(tn["global"]):
            row += [tn["global"][i]["feature"], f"{tn['global'][i]['importance']:.3f}"]
        t.add_row(*row)
    console.print(t)
    ag = r.get("agreement")
    if ag:
        console.print(_t("e_agree", lang, a=ag["a"], b=ag["b"], s=ag["spearman"] or 0, o=ag["topk_overlap"] or 0,
                         r=ag["rowwise_spearman"] or 0))
    for v, tr in r["truth"].items():
        tk, tc = tr["topk"], tr["topk_critical"]
        console.print(_t("e_truth", lang, v=v, m=tr["method"], k=tk["k"], h=tk["topk_hit_rate"] or 0,
                         n=fmt_count(tk["n_asset_periods"]), g=tk["global_ranking_hit_rate"] or 0,
                         hc=tc["topk_hit_rate"] or 0, nc=fmt_count(tc["n_asset_periods"]),
                         sh=tr["share_on_true_drivers"] or 0, sc=tr["share_of_driver_columns"] or 0))
        per = ", ".join(f"{d} {x['hits']}/{x['n']}" for d, x in sorted(tr["per_driver"].items(), key=lambda kv: -kv[1]["n"]))
        if per:
            console.print(_t("e_per_driver", lang, d=per), style="dim")


def _show_assistant(r: dict[str, Any], lang: str) -> None:
    console.print(f"[bold]{_t('q', lang)}:[/bold] {r['question']}", highlight=False)
    console.print(f"[bold]{_t('a', lang)}:[/bold] {r['text']}", highlight=False)
    console.print(f"[bold]{_t('sql', lang)}:[/bold] {r['sql']}", markup=True, highlight=False, soft_wrap=True)
    if r.get("params"):
        console.print(f"  {_t('params', lang)}: {r['params']}", highlight=False)


def _show_retrain(r: dict[str, Any], lang: str) -> None:
    from rich.markdown import Markdown

    how = _t(f"how_{r['mode']}", lang) if f"how_{r['mode']}" in _T else r["mode"]
    console.print(_t("r_line", lang, m=r["new_months"], d=r["twin_later"], n=fmt_count(r.get("rows_added") or 0),
                     c=r["challenger"], b=r["base"], how=how))
    console.print(Markdown(r["summary"]))
    cands, pm = r.get("candidates") or {}, r["primary_metric"]
    if len(cands) > 1:
        champ = (r.get("metrics") or {}).get("champion", {}).get(pm)
        console.print(_t("r_cands", lang, p=", ".join(r["eval_periods"]), pm=pm, c=_f(champ, ".4g"),
                         cands="; ".join(f"{_t('c_' + k, lang) if 'c_' + k in _T else k} {_f(v.get(pm), '.4g')}"
                                         for k, v in cands.items())))
    kw = {"c": r["challenger"], "b": r.get("compared_with") or r["base"], "pm": r["primary_metric"],
          "imp": r["improvement"] or 0.0, "mg": r["margin"]}
    console.print(_t("r_promoted" if r["promoted"] else "r_kept", lang, **kw), style="bold")


def _show_next(r: dict[str, Any], lang: str) -> None:
    names = dict(zip(("data", "reliability", "dataset", "models", "forecast", "explain", "assistant", "retrain"),
                     _t("step_names", lang).split(","), strict=True))
    parts = ", ".join(f"{names.get(s, s)} {v:.1f} s" for s, v in r["seconds"].items() if s != "total")
    console.print(_t("next_intro", lang))
    for c in r["next"]:
        console.print(f"  {c['command']}", highlight=False, soft_wrap=True, markup=False)
        if f"n_{c['note']}" in _T:
            console.print(f"      # {_t('n_' + c['note'], lang)}", style="dim", highlight=False, markup=False)
    console.print(_t("total", lang, s=r["seconds"]["total"], parts=parts))


_SHOW = {"data": _show_data, "reliability": _show_reliability, "dataset": _show_dataset, "models": _show_models,
         "forecast": _show_forecast, "explain": _show_explain, "assistant": _show_assistant,
         "retrain": _show_retrain}


def show(r: dict[str, Any], lang: str = "es") -> None:
    """The walkthrough's results as rich text on stdout, one numbered section per step."""
    i = 0
    for step in r["steps"]:
        i += 1
        _section(i, f"s_{step}", lang)
        _SHOW[step](r[step], lang)
    _section(i + 1, "s_next", lang)
    _show_next(r, lang)


def demo_cmd(
    store: StoreOpt = None,  # type: ignore[assignment]
    out: OutOpt = None,
    scale: Annotated[str, typer.Option("--scale", help="tiny | small | chec | 10x")] = "small",
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed (≥ 0) / semilla (≥ 0).")] = 0,
    steps: Annotated[str, typer.Option(
        "--steps", help="all (default), data (stop after the data part) or a comma-separated list of "
                        "data,reliability,dataset,models,forecast,explain,assistant,retrain (the steps they need "
                        "are added) / pasos a ejecutar.")] = "all",
    as_json: JsonOpt = False,
    lang: LangOpt = "es",
) -> None:
    """Walk through the whole pipeline on a synthetic utility, from the data to retraining.

    Recorre todo el flujo sobre una empresa sintética, de los datos al reentrenamiento.
    """
    from gridcrit.demo import run_demo

    out = Path(out) if out is not None else Path("gridcrit-demo")
    try:
        res = run_demo(out, store=store, scale=scale, seed=seed, steps=steps, progress=not as_json, lang=lang)
    except ValidationError as e:
        # the capped file:row:column list, as `ingest` prints it
        from gridcrit.cli.data import _print_problems

        _print_problems(e, lang)
        raise
    emit(res, as_json, lambda r: show(r, lang))


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to the root app."""
    app.command("demo")(demo_cmd)
