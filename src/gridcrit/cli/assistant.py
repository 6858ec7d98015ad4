"""CLI commands of the assistant stage (thin shell over `gridcrit.assistant`).

    gridcrit corpus add FILE.pdf... [--name NAME] [--aliases "retie 2013, anexo"]
    gridcrit corpus list | show ANCHOR [--doc NAME] | remove NAME | tune
    gridcrit ask "pregunta" [--backend extractive|openai|llamacpp] [--lang es|en] [--feedback [DOC#]ANCHOR]
                 [--json] [--out trace.html]
    gridcrit assistant eval FILE.jsonl [--out report.json]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gridcrit.cli.common import (
    JsonOpt,
    LangOpt,
    OutOpt,
    StoreOpt,
    console,
    default_store,
    emit,
    err_console,
    to_json,
)
from gridcrit.errors import ValidationError


def _val(v) -> str:
    """A value for human output: "—" when missing (None, NaN, empty)."""
    if v is None or v == "" or (isinstance(v, float) and v != v):
        return "—"
    return str(v)


def _doc_line(d: dict, lang: str) -> str:
    if lang == "en":
        return (f"{d['doc']}: {d['pages']} pages, {d['units']} passages, year {_val(d['year'])}, "
                f"aliases: {_val(d['aliases'])}")
    return (f"{d['doc']}: {d['pages']} pp., {d['units']} pasajes, año {_val(d['year'])}, "
            f"alias: {_val(d['aliases'])}")

corpus_app = typer.Typer(help="Regulation corpus (PDF → citable passages) / corpus normativo.", no_args_is_help=True)
assistant_app = typer.Typer(help="Assistant evaluation / evaluación del asistente.", no_args_is_help=True)


@corpus_app.command("add")
def corpus_add(
    files: Annotated[list[Path], typer.Argument(help="PDF files / archivos PDF.")],
    name: Annotated[str | None, typer.Option("--name", help="Document name (one file only).")] = None,
    aliases: Annotated[str, typer.Option("--aliases", help="Words that name this document in questions.")] = "",
    lang: LangOpt = "es",
    store: StoreOpt = default_store(),
    as_json: JsonOpt = False,
) -> None:
    """Add (or replace) PDF documents in the corpus / añadir o reemplazar documentos."""
    from gridcrit.assistant.corpus import add_document

    if name and len(files) > 1:
        raise ValidationError("--name applies to one file; add files one at a time to name them")
    infos = []
    if as_json or not err_console.is_terminal:  # progress only for a person watching stderr
        infos = [add_document(store, f, name=name, aliases=aliases) for f in files]
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        stage_text = {"pages": "leyendo páginas" if lang == "es" else "reading pages",
                      "embed": "vectorizando pasajes" if lang == "es" else "embedding passages"}
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err_console, transient=True) as bar:
            overall = bar.add_task(("archivos" if lang == "es" else "files"), total=len(files)) if len(files) > 1 \
                else None
            for f in files:
                task = bar.add_task(f"{f.name}", total=None)

                def step(stage, done, total, t=task, fname=f.name):
                    bar.update(t, description=f"{fname}: {stage_text.get(stage, stage)}", completed=done, total=total)

                infos.append(add_document(store, f, name=name, aliases=aliases, progress=step))
                bar.remove_task(task)
                if overall is not None:
                    bar.advance(overall)
    rows = [i.__dict__ for i in infos]

    def human(r):
        for i in r:
            if lang == "en":
                console.print(f"[green]✓[/] {i['doc']}: {i['pages']} pages, {i['units']} passages "
                              f"({i['embedded_new']} new vectors), year {_val(i['year'])}", highlight=False)
            else:
                console.print(f"[green]✓[/] {i['doc']}: {i['pages']} páginas, {i['units']} pasajes "
                              f"({i['embedded_new']} vectores nuevos), año {_val(i['year'])}", highlight=False)

    emit(rows, as_json, human)


@corpus_app.command("list")
def corpus_list(lang: LangOpt = "es", store: StoreOpt = default_store(), as_json: JsonOpt = False) -> None:
    """List documents / listar documentos."""
    from gridcrit.assistant.corpus import list_documents

    rows = [d.__dict__ for d in list_documents(store)]

    def human(r):
        if not r:
            console.print("corpus vacío" if lang == "es" else "empty corpus")
        for d in r:
            console.print(_doc_line(d, lang), markup=False, highlight=False)

    emit(rows, as_json, human)


@corpus_app.command("show")
def corpus_show(
    anchor: Annotated[str, typer.Argument(help='Anchor, e.g. "Art. 20.2.1" or 20.2.1.')],
    doc: Annotated[str | None, typer.Option("--doc", help="Only this document.")] = None,
    lang: LangOpt = "es",
    store: StoreOpt = default_store(),
    as_json: JsonOpt = False,
) -> None:
    """Show the passages of an anchor / mostrar un artículo o numeral."""
    from rich.markup import escape

    from gridcrit.assistant.corpus import show_units

    rows = show_units(store, anchor, doc)

    def human(r):
        for u in r:
            part = "parte" if lang == "es" else "part"
            console.print(f"[bold]{escape(u['doc'])} {escape(u['anchor'])}[/] (p. {u['page']}–{u['page_end']}, "
                          f"{part} {u['part']})")
            console.print(u["text"], markup=False)

    emit(rows, as_json, human)


@corpus_app.command("remove")
def corpus_remove(
    name: Annotated[str, typer.Argument(help="Document name.")],
    lang: LangOpt = "es",
    store: StoreOpt = default_store(),
    as_json: JsonOpt = False,
) -> None:
    """Remove a document / eliminar un documento."""
    from gridcrit.assistant.corpus import remove_document

    n = remove_document(store, name)
    msg = f"eliminado {name} ({n} pasajes)" if lang == "es" else f"removed {name} ({n} passages)"
    emit({"removed": name, "units": n}, as_json, lambda r: console.print(msg, markup=False))


@corpus_app.command("tune")
def corpus_tune(lang: LangOpt = "es", store: StoreOpt = default_store(), as_json: JsonOpt = False) -> None:
    """Learn a query adapter from feedback; keep it only if held-out retrieval improves."""
    from gridcrit.assistant.feedback import tune

    rep = tune(store).__dict__
    emit(rep, as_json, lambda r: console.print(
        f"{r['reason']} (pares {r['pairs']}, MRR {r['mrr_before']} → {r['mrr_after']}, {r['seconds']} s)"))


def ask_command(
    question: Annotated[str, typer.Argument(help="Pregunta / question.")],
    backend: Annotated[str, typer.Option("--backend", help="extractive | openai | llamacpp")] = "extractive",
    lang: LangOpt = "es",
    feedback: Annotated[str | None, typer.Option("--feedback", help="Correct passage: [DOC#]ANCHOR.")] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=20, help="Passages retrieved.")] = 5,
    store: StoreOpt = default_store(),
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask the assistant (regulation or data) / preguntar al asistente."""
    from gridcrit.assistant import Assistant
    from gridcrit.assistant.ask import check_question
    from gridcrit.assistant.trace import Trace

    q = check_question(question)
    fb = None
    if feedback:
        from gridcrit.assistant.feedback import add_feedback

        doc, _, anchor = feedback.rpartition("#")
        fb = add_feedback(store, q, anchor, doc or None)
    ans = Assistant(store, backend=backend, k=k).ask(q, lang=lang)
    if out:
        tr = Trace(nodes=ans.trace["nodes"], edges=[tuple(e) for e in ans.trace["edges"]])
        tr.write_html(out, title=f"gridcrit ask — {q[:80]}")
    result = ans.to_dict()
    if fb:
        result["feedback"] = fb

    def human(r):
        console.print(r["text"], markup=False)
        if r["fallback"]:
            console.print(f"({r['fallback']})", style="yellow", markup=False)
        if r["sql"]:
            console.print(f"SQL: {r['sql']}  {r['params']}", style="dim", markup=False)
        if fb:
            console.print(f"[green]feedback guardado[/]: {fb['doc']} {fb['anchor']} ({fb['feedback_pairs']} pares)")
        if out:
            console.print(f"traza: {out}", soft_wrap=True, markup=False)

    emit(result, as_json, human)


@assistant_app.command("eval")
def assistant_eval(
    file: Annotated[Path, typer.Argument(help="JSONL set (question, gold/pages, reference, reference_sql).")],
    backend: Annotated[str, typer.Option("--backend")] = "extractive",
    lang: LangOpt = "es",
    store: StoreOpt = default_store(),
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate on a JSONL set: hit@k, MRR, citation validity, chrF/ROUGE-L, data exact match, latency."""
    from gridcrit.assistant import Assistant
    from gridcrit.assistant.evaluate import evaluate, load_jsonl

    items = load_jsonl(file)
    rep = evaluate(items, Assistant(store, backend=backend), lang=lang)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(to_json(rep), encoding="utf-8")

    def human(r):
        for key, v in r.get("summary", r).items():  # the summary alone when the full report went to --out
            console.print(f"{key}: {v}")
        if out:
            console.print(f"informe: {out}" if lang == "es" else f"report: {out}", soft_wrap=True, markup=False)

    emit(rep if out is None else rep["summary"], as_json, human)


@assistant_app.command("recommend")
def assistant_recommend(
    variables: Annotated[str, typer.Argument(help='JSON object variable -> value, e.g. \'{"veg_riesgo_alto": 3}\'.')],
    asset: Annotated[str, typer.Option("--asset", help="Asset code shown in the actions.")] = "el activo",
    lang: LangOpt = "es",
    store: StoreOpt = default_store(),
    as_json: JsonOpt = False,
) -> None:
    """Maintenance recommendations per critical variable, each with a cited clause or 'insufficient evidence'."""
    from gridcrit.assistant.backends import cite_ref
    from gridcrit.assistant.recommend import recommend
    from gridcrit.assistant.retrieval import Retriever

    try:
        var = json.loads(variables)
    except json.JSONDecodeError as e:
        raise ValidationError(f"variables must be a JSON object: {e.msg}") from e
    if not isinstance(var, dict):
        raise ValidationError("variables must be a JSON object name -> value")
    recs = [r.to_dict() for r in recommend(var, Retriever(store), asset=asset, lang=lang)]

    def human(rs):
        for r in rs:
            if r["citation"]:
                c = r["citation"]
                console.print(f"• {r['action']} — {cite_ref(c['doc'], c['anchor'], c['page'], c.get('page_end'))}: «{c['quote']}»",
                              markup=False)
            else:
                console.print(f"• {r['variable']}: {r['note']}", markup=False)

    emit(recs, as_json, human)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
    app.add_typer(corpus_app, name="corpus")
    app.add_typer(assistant_app, name="assistant")
    app.command("ask")(ask_command)
