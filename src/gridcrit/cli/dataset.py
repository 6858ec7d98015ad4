"""CLI commands of the criticality dataset (thin shell over `gridcrit.features`).

``gridcrit dataset build --level transformer --period month --out ds.parquet`` (or ``.csv``) and
``gridcrit dataset card ds.parquet``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from gridcrit.cli.common import (
    JsonOpt,
    LangOpt,
    OutOpt,
    StoreOpt,
    check_out_suffix,
    console,
    default_store,
    emit,
    fmt_count,
)

_TEXT = {
    "es": {"built": "Conjunto escrito", "rows": "filas", "assets": "activos", "periods": "periodos",
           "features": "variables", "card": "ficha de datos", "problems": "Problemas de datos",
           "column": "columna", "group": "grupo", "unit": "unidad", "basis": "base temporal",
           "meaning": "significado", "driver": "mecanismo",
           "need_out": "falta --out RUTA (el archivo .parquet o .csv a escribir)",
           "buffer": "--buffer-m {v}: debe ser un número finito y positivo de metros (al menos 1)",
           "order": "--start {a} es posterior a --end {b}: no hay periodos que construir",
           "asset": "activo", "topology": "topología", "exposure": "exposición", "history": "historial",
           "target": "objetivo", "key": "clave",
           "start": "inicio", "past": "pasado", "period": "periodo"},
    "en": {"built": "Dataset written", "rows": "rows", "assets": "assets", "periods": "periods",
           "features": "features", "card": "data card", "problems": "Data problems",
           "column": "column", "group": "group", "unit": "unit", "basis": "time basis",
           "meaning": "meaning", "driver": "driver",
           "need_out": "--out PATH is required (the .parquet or .csv file to write)",
           "buffer": "--buffer-m {v}: must be a positive, finite number of metres (at least 1)",
           "order": "--start {a} is after --end {b}: there are no periods to build",
           "asset": "asset", "topology": "topology", "exposure": "exposure", "history": "history",
           "target": "target", "key": "key",
           "start": "start", "past": "past", "period": "period"},
}

FEATURE_GROUPS = ("asset", "topology", "exposure", "history")


def _t(lang: str) -> dict[str, str]:
    return _TEXT.get(lang, _TEXT["es"])


def _span(periods: list) -> str:
    """``2019-02..2024-06`` from the card's ``[first, last]`` periods (``-`` when empty)."""
    return f"{periods[0]}..{periods[-1]}" if periods else "-"


def _problems(report: dict, lang: str = "es") -> list[str]:
    """One line per non-empty problem count of a dataset build report."""
    eg = "ej.:" if lang == "es" else "e.g."
    out = []
    for k in ("events_on_unknown_devices", "events_on_assets_absent_from_prior_snapshot"):
        v = report.get(k, {})
        if v.get("event_rows"):
            out.append(f"{k}: {v['event_rows']} ({eg} {', '.join(v['examples'])})")
    for k in ("event_rows_without_customer_base", "rows_with_unknown_municipality", "assets_without_coordinates",
              "duplicate_snapshot_rows_dropped", "periods_without_assets", "incomplete_last_period"):
        if report.get(k):
            out.append(f"{k}: {report[k]}")
    topo = report.get("topology", {})
    for k, n in topo.get("problems", {}).items():
        ex = topo.get("examples", {}).get(k, [])
        out.append(f"{'topología' if lang == 'es' else 'topology'} {k}: {n}"
                   + (f" ({eg} {', '.join(map(str, ex))})" if ex else ""))
    return out


def register(app: typer.Typer) -> None:
    """Add ``gridcrit dataset build|card``."""
    sub = typer.Typer(help="Criticality dataset: asset x period / Conjunto de criticidad: activo x periodo.",
                      no_args_is_help=True)

    @sub.command("build")
    def build(
        level: Annotated[
            str, typer.Option("--level", help="transformer | switch | segment | circuit (asset level / nivel).")
        ] = "transformer",
        period: Annotated[str, typer.Option("--period", help="month | quarter (period / periodo).")] = "month",
        out: OutOpt = None,
        store: StoreOpt = None,  # type: ignore[assignment]
        start: Annotated[
            str | None,
            typer.Option("--start", help="First period YYYY-MM / YYYY-Qn / primer periodo AAAA-MM / AAAA-Qn."),
        ] = None,
        end: Annotated[
            str | None,
            typer.Option("--end", help="Last period (beyond the events: NaN targets) / último periodo "
                                       "(después de los eventos: objetivos NaN)."),
        ] = None,
        buffer_m: Annotated[
            float,
            typer.Option("--buffer-m", help="Vegetation/support buffer radius, metres (≥ 1) "
                                            "/ radio de vegetación y apoyos, en metros (≥ 1)."),
        ] = 100.0,
        unplanned_only: Annotated[
            bool,
            typer.Option("--unplanned-only", "--unplanned", help="Only unplanned events (tipo_causa NP) "
                                                  "/ solo eventos no programados (tipo_causa NP)."),
        ] = False,
        as_json: JsonOpt = False,
        lang: LangOpt = "es",
    ) -> None:
        """Build the asset x period dataset (features known at the period start) and write it with its
        data card: Parquet (.parquet) or CSV (.csv).
        Construye el conjunto activo x periodo y lo escribe con su ficha de datos: Parquet o CSV."""
        import math

        from gridcrit.errors import ValidationError
        from gridcrit.features.dataset import build_dataset, card_path
        from gridcrit.features.periods import check_period, parse_period, period_label

        t = _t(lang)
        # every check a user can fail runs before the (long) build
        if out is None:
            raise ValidationError(t["need_out"])
        check_out_suffix(out, "--out", lang)
        if not math.isfinite(buffer_m) or buffer_m < 1:
            raise ValidationError(t["buffer"].format(v=buffer_m))
        if start and end:
            p0, p1 = parse_period(start, check_period(period)), parse_period(end, period)
            if p1 < p0:
                a, b = period_label([p0, p1], period)
                raise ValidationError(t["order"].format(a=a, b=b))
        ds = build_dataset(store or default_store(), level=level, period=period, start=start, end=end,
                           buffer_m=buffer_m, unplanned_only=unplanned_only, progress=not as_json)
        path = ds.write(out)
        card = ds.card
        result = {
            "path": str(path), "card": str(card_path(path)), "level": ds.level, "period": ds.period,
            "rows": card["rows"], "assets": card["assets"], "periods": card["periods"],
            "features": len(ds.feature_columns),
            "groups": {g: sum(1 for v in ds.feature_groups.values() if v == g)
                       for g in FEATURE_GROUPS},
            "risk_thresholds": card["risk"]["thresholds"],
            "problems": _problems(card["report"], "en" if as_json else lang),  # JSON: stable English
            "timings_s": card["timings_s"],
        }

        def human(r: dict) -> None:
            # paths unwrapped and unescaped: a long one stays copyable, "[...]" in it is not markup
            console.print(f"[bold]{t['built']}[/bold]: {escape(str(r['path']))} (+ {t['card']} "
                          f"{escape(str(r['card']))})", soft_wrap=True)
            groups = ", ".join(f"{t.get(g, g)} {fmt_count(n)}" for g, n in r["groups"].items())
            console.print(f"{fmt_count(r['rows'])} {t['rows']}, {fmt_count(r['assets'])} {t['assets']}, "
                          f"{t['periods']} {_span(r['periods'])}, {fmt_count(r['features'])} {t['features']} "
                          f"({groups})", highlight=False)
            if r["problems"]:
                console.print(f"[yellow]{t['problems']}[/yellow]:")
                for line in r["problems"]:
                    console.print(f"  - {line}")

        emit(result, as_json, human)

    @sub.command("card")
    def card(
        path: Annotated[Path, typer.Argument(help="Dataset file (.parquet or .csv) / archivo del conjunto.")],
        as_json: JsonOpt = False,
        lang: LangOpt = "es",
    ) -> None:
        """Show the data card of a dataset: every column's meaning, unit and time basis.
        Muestra la ficha de datos: significado, unidad y base temporal de cada columna."""
        import json

        from gridcrit.errors import NotFoundError
        from gridcrit.features.dataset import card_path, read_dataset

        cp = card_path(path)
        if cp.exists():
            c = json.loads(cp.read_text())
        elif Path(path).exists():
            c = read_dataset(path).card
        else:
            raise NotFoundError(f"dataset {path} does not exist; build it with 'gridcrit dataset build'")
        t = _t(lang)

        def human(c: dict) -> None:
            from rich.table import Table

            console.print(f"[bold]{c['kind']}[/bold]: {c['level']} x {c['period']}, {fmt_count(c['rows'])} "
                          f"{t['rows']}, {t['periods']} {_span(c['periods'])}", highlight=False)
            tab = Table(show_lines=False)
            for h in ("column", "group", "unit", "basis", "meaning", "driver"):
                tab.add_column(t[h])
            short = {"as of": "start", "past": "past", "the pe": "period"}  # compact time basis
            for name, d in c["columns"].items():
                basis = next((v for k, v in short.items() if d["time_basis"].startswith(k)), "")
                tab.add_row(name, t.get(d["group"], d["group"]), d["unit"], t.get(basis, basis), d["meaning"],
                            d["driver"])
            console.print(tab)
            for line in _problems(c.get("report", {}), lang):
                console.print(f"[yellow]{t['problems']}[/yellow]: {line}")

        emit(c, as_json, human)

    app.add_typer(sub, name="dataset")
