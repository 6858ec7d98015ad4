"""CLI commands of the data stage (thin shell over `gridcrit.data`).

``gridcrit ingest PATH...``, ``gridcrit store info`` and the real-sample loaders
``gridcrit data load-vegetation`` / ``gridcrit data network``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gridcrit.cli.common import (
    JsonOpt,
    LangOpt,
    StoreOpt,
    console,
    default_store,
    emit,
    fmt_count,
    translate,
)
from gridcrit.errors import ValidationError

_T = {
    "files": {"es": "Archivos", "en": "Files"},
    "loaded": {
        "es": "Carga {id}: {n} filas nuevas en {s:.1f} s → {store}",
        "en": "Load {id}: {n} new rows in {s:.1f} s → {store}",
    },
    "more": {"es": "… y {n} problemas más", "en": "… and {n} more problems"},
    "interrupted": {
        "es": "gridcrit: error: carga interrumpida; no se escribió nada en {store}",
        "en": "gridcrit: error: ingest interrupted; nothing was written to {store}",
    },
    # file statuses (the JSON keeps the English codes)
    "loaded_status": {"es": "cargado", "en": "loaded"},
    "already-loaded_status": {"es": "ya cargado", "en": "already-loaded"},
    "ignored_status": {"es": "ignorado", "en": "ignored"},
    "rejected_status": {"es": "rechazado", "en": "rejected"},
    "empty_status": {"es": "vacío", "en": "empty"},
    "empty_file": {
        "es": "{file}: sin filas de datos (solo el encabezado): no hay nada que cargar",
        "en": "{file}: no data rows (header only): nothing to load",
    },
    "ignored_columns": {
        "es": "{file}: columnas ignoradas (no son columnas de la tabla {tbl}): {cols}",
        "en": "{file}: ignored columns (not columns of table {tbl}): {cols}",
    },
    "ignored_file": {
        "es": "{file}: ignorado, su encabezado no corresponde a ninguna tabla",
        "en": "{file}: ignored, its header matches no known table",
    },
    "ignored_near": {
        "es": "{file}: ignorado, su encabezado no corresponde a ninguna tabla; se parece a {tbl}, a la que le "
              "faltan las columnas {cols}",
        "en": "{file}: ignored, its header matches no known table; closest is {tbl}, which needs column(s) {cols}",
    },
    "ignored_format": {
        "es": "{file}: ignorado, no se pueden leer archivos {suffix}: guárdelo como .xlsx o CSV",
        "en": "{file}: ignored, {suffix} files cannot be read: save it as .xlsx or CSV",
    },
    "tables": {"es": "Tablas", "en": "Tables"},
    "by_circuit": {
        "es": "Aporte al SAIFI / SAIDI del sistema por circuito (top {n} por SAIDI)",
        "en": "Contribution to system SAIFI / SAIDI by circuit (top {n} by SAIDI)",
    },
    "by_year": {"es": "SAIFI / SAIDI por año", "en": "SAIFI / SAIDI by year"},
    # column headers
    "file": {"es": "archivo", "en": "file"},
    "table": {"es": "tabla", "en": "table"},
    "status": {"es": "estado", "en": "status"},
    "rows": {"es": "filas", "en": "rows"},
    "added": {"es": "nuevas", "en": "added"},
    "skipped": {"es": "omitidas", "en": "skipped"},
    "first": {"es": "primera", "en": "first"},
    "last": {"es": "última", "en": "last"},
    "load": {"es": "carga", "en": "load"},
    "at": {"es": "fecha", "en": "at"},
    "circuit": {"es": "circuito", "en": "circuit"},
    "events": {"es": "eventos", "en": "events"},
    "year": {"es": "año", "en": "year"},
    "from": {"es": "desde", "en": "from"},
    "to": {"es": "hasta", "en": "to"},
    "normalisation": {"es": "Normalización", "en": "Normalisation"},
}


def _t(key: str, lang: str, **kw: Any) -> str:
    return translate(_T, key, lang, **kw)


def _print_problems(e: ValidationError, lang: str) -> None:
    """The capped problem list on stderr (plain lines: easy to grep), before the one-line reason."""
    for p in e.problem_lines(lang):
        sys.stderr.write(p + "\n")
    hidden = e.n_problems - len(e.problems)
    if hidden > 0:
        sys.stderr.write(_t("more", lang, n=hidden) + "\n")


def _show_ingest(rep: dict, lang: str) -> None:
    from gridcrit.data.readers import UNREADABLE_SUFFIXES

    t = Table(title=_t("files", lang))
    for c in ("file", "table", "status", "rows", "added", "skipped"):
        t.add_column(_t(c, lang), justify="right" if c in ("rows", "added", "skipped") else "left")
    for f in rep["files"]:
        t.add_row(
            Path(f["file"]).name,
            f["table"] or "-",
            _t(f"{f['status']}_status", lang) if f"{f['status']}_status" in _T else f["status"],
            fmt_count(f["rows_in_file"]),
            fmt_count(f["rows_added"]),
            fmt_count(f["skipped_duplicates"]),
        )
    console.print(t)
    # What was not loaded must be visible without --json: a misspelt column is otherwise just NULL.
    for f in rep["files"]:
        name = Path(f["file"]).name
        if f["status"] == "ignored":
            suffix = Path(f["file"]).suffix
            key = "ignored_format" if suffix.lower() in UNREADABLE_SUFFIXES else \
                "ignored_near" if f.get("closest_table") else "ignored_file"
            console.print(_t(key, lang, file=name, suffix=suffix, tbl=f.get("closest_table"),
                             cols=", ".join(f.get("missing_columns") or [])), markup=False, highlight=False,
                          soft_wrap=True)
        elif f["status"] == "empty":
            console.print(_t("empty_file", lang, file=name), markup=False, highlight=False, soft_wrap=True)
        elif f["ignored_columns"]:
            cols = ", ".join(f["ignored_columns"])
            console.print(_t("ignored_columns", lang, file=name, tbl=f["table"], cols=cols), markup=False,
                          highlight=False, soft_wrap=True)
    console.print(
        _t("loaded", lang, id=rep["load_id"], n=fmt_count(rep["rows_added"]), s=rep["seconds"], store=rep["store"])
    )


def _show_info(info: dict, lang: str) -> None:
    t = Table(title=_t("tables", lang))
    for c in ("table", "rows", "first", "last"):
        t.add_column(_t(c, lang), justify="right" if c == "rows" else "left")
    for name, d in info["tables"].items():
        t.add_row(name, fmt_count(d["rows"]), d["first"] or "-", d["last"] or "-")
    console.print(t)
    if info.get("loads"):
        lt = Table(title="_loads")
        for c in ("load", "file", "table", "rows", "added", "at"):
            lt.add_column(_t(c, lang), no_wrap=c in ("at", "rows", "added"))
        for ld in info["loads"][-30:]:
            lt.add_row(
                str(ld["load_id"]),
                Path(ld["file"]).name,
                ld["table"],
                fmt_count(ld["rows_in_file"]),
                fmt_count(ld["rows_added"]),
                ld["loaded_at"][:16],
            )
        console.print(lt)


def _show_summary(s: dict, lang: str) -> None:
    _show_info({"tables": s["tables"]}, lang)
    t = Table(title=_t("by_circuit", lang, n=len(s["by_circuit"])))
    for c in ("circuit", "events", "SAIFI", "SAIDI (h)"):
        t.add_column(_t(c, lang) if c in _T else c, justify="left" if c == "circuit" else "right")
    def num(v, digits: int) -> str:  # None: the store cannot give the index (no customer base ...)
        return "—" if v is None else f"{v:.{digits}f}"

    for r in s["by_circuit"]:
        t.add_row(str(r["circuit"]), fmt_count(r["events"]), num(r["SAIFI"], 4), num(r["SAIDI"], 4))
    console.print(t)
    y = Table(title=_t("by_year", lang))
    for c in ("year", "from", "to", "events", "SAIFI", "SAIDI (h)", "MAIFI"):
        y.add_column(_t(c, lang) if c in _T else c, justify="right")
    for r in s["by_year"]:
        y.add_row(str(r["year"]), r["from"], r["to"], fmt_count(r["events"]), num(r["SAIFI"], 3),
                  num(r["SAIDI"], 3), num(r.get("MAIFI"), 3))
    console.print(y)


def ingest_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive) / archivos o carpetas.")],
    store: StoreOpt = None,  # type: ignore[assignment]
    as_json: JsonOpt = False,
    lang: LangOpt = "es",
) -> None:
    """Load export files (CSV/XLSX/Parquet) into the store: validated, atomic, idempotent.

    Carga archivos de exportación al almacén: validados, atómicos e idempotentes.
    """
    from gridcrit.data.ingest import ingest

    store = store or default_store()
    try:
        rep = ingest(paths, store, progress=not as_json)
    except ValidationError as e:
        _print_problems(e, lang)
        raise
    except KeyboardInterrupt:  # Ctrl-C: ingest rolled back; say so in one line, exit 130 like a shell
        sys.stderr.write(_t("interrupted", lang, store=store) + "\n")
        raise typer.Exit(130) from None
    emit(rep.to_dict(), as_json, lambda r: _show_ingest(r, lang))


def store_info_cmd(
    store: StoreOpt = None, as_json: JsonOpt = False, lang: LangOpt = "es"  # type: ignore[assignment]
) -> None:
    """Tables, row counts, periods covered and the load log / tablas, filas, periodos y cargas."""
    from gridcrit.data.store import store_info

    emit(store_info(store or default_store()), as_json, lambda r: _show_info(r, lang))


def load_vegetation_cmd(
    path: Annotated[
        Path, typer.Argument(help="Real VegetacionExistente.csv export / exportación real VegetacionExistente.csv.")
    ],
    store: StoreOpt = None,  # type: ignore[assignment]
    as_json: JsonOpt = False,
    lang: LangOpt = "es",
) -> None:
    """Normalise the real VegetacionExistente.csv and ingest it as `vegetacion`.

    Normaliza el archivo real de vegetación y lo carga como `vegetacion`.
    """
    from gridcrit.data.real import ingest_vegetation

    try:
        rep, norm = ingest_vegetation(path, store or default_store(), progress=not as_json)
    except ValidationError as e:
        _print_problems(e, lang)
        raise
    d = rep.to_dict()
    d["normalisation"] = norm
    emit(d, as_json, lambda r: (_show_ingest(r, lang), _show_normalisation(r["normalisation"], lang)))


def _show_normalisation(norm: Any, lang: str) -> None:
    """What the vegetation normalisation did, one ``key: value`` line each (not a Python repr)."""
    console.print(f"[bold]{_t('normalisation', lang)}[/bold]")
    if not isinstance(norm, dict):
        console.print(f"  {norm}", markup=False, highlight=False)
        return

    def text(v: Any) -> str:
        if isinstance(v, dict):
            return "; ".join(f"{a}: {text(b)}" for a, b in v.items()) or "-"
        if isinstance(v, (list, tuple)):
            return ", ".join(map(str, v)) or "-"  # values, not counts: no thousands separator inside a list
        if isinstance(v, int) and not isinstance(v, bool):
            return fmt_count(v)
        return str(v)

    for k, v in norm.items():
        console.print(f"  {k}: {text(v)}", markup=False, highlight=False, soft_wrap=True)


def network_cmd(
    folder: Annotated[
        Path, typer.Argument(help="red_nsa folder (circuitos.csv + point files) / carpeta red_nsa.")
    ],
    tolerance_m: Annotated[
        float,
        typer.Option("--tolerance-m", min=0.0, help="Snapping tolerance in metres / tolerancia de unión, metros."),
    ] = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Build the graph of a WKT network export, snapping segment endpoints / construye el grafo."""
    from gridcrit.data.real import load_network

    net = load_network(folder, tolerance_m=tolerance_m)
    emit(net.report, as_json, lambda r: console.print_json(data=r))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
    app.command("ingest")(ingest_cmd)
    store_app = typer.Typer(help="Inspect the store / inspeccionar el almacén.", no_args_is_help=True)
    store_app.command("info")(store_info_cmd)
    app.add_typer(store_app, name="store")
    data_app = typer.Typer(help="Real CHEC samples / muestras reales de CHEC.", no_args_is_help=True)
    data_app.command("load-vegetation")(load_vegetation_cmd)
    data_app.command("network")(network_cmd)
    app.add_typer(data_app, name="data")
