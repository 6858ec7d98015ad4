"""CLI commands of the criticality dataset (thin shell over `gridcrit.features`).

``gridcrit dataset build --level transformer --period month --out ds.parquet`` and
``gridcrit dataset card ds.parquet``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridcrit.cli.common import JsonOpt, LangOpt, OutOpt, StoreOpt, console, default_store, emit

_TEXT = {
    "es": {"built": "Conjunto escrito", "rows": "filas", "assets": "activos", "periods": "periodos",
           "features": "variables", "card": "ficha de datos", "problems": "Problemas de datos",
           "column": "columna", "group": "grupo", "unit": "unidad", "basis": "base temporal",
           "meaning": "significado", "driver": "mecanismo"},
    "en": {"built": "Dataset written", "rows": "rows", "assets": "assets", "periods": "periods",
           "features": "features", "card": "data card", "problems": "Data problems",
           "column": "column", "group": "group", "unit": "unit", "basis": "time basis",
           "meaning": "meaning", "driver": "driver"},
}


def _t(lang: str) -> dict[str, str]:
    return _TEXT.get(lang, _TEXT["es"])


def _problems(report: dict) -> list[str]:
    """One line per non-empty problem count of a dataset build report."""
    out = []
    for k in ("events_on_unknown_devices", "events_on_assets_absent_from_prior_snapshot"):
        v = report.get(k, {})
        if v.get("event_rows"):
            out.append(f"{k}: {v['event_rows']} (e.g. {', '.join(v['examples'])})")
    for k in ("event_rows_without_customer_base", "rows_with_unknown_municipality", "assets_without_coordinates",
              "duplicate_snapshot_rows_dropped", "periods_without_assets"):
        if report.get(k):
            out.append(f"{k}: {report[k]}")
    topo = report.get("topology", {})
    for k, n in topo.get("problems", {}).items():
        ex = topo.get("examples", {}).get(k, [])
        out.append(f"topology {k}: {n}" + (f" (e.g. {', '.join(map(str, ex))})" if ex else ""))
    return out


def register(app: typer.Typer) -> None:
    """Add ``gridcrit dataset build|card``."""
    sub = typer.Typer(help="Criticality dataset: asset x period / Conjunto de criticidad: activo x periodo.",
                      no_args_is_help=True)

    @sub.command("build")
    def build(
        level: Annotated[str, typer.Option("--level", help="transformer | switch | segment | circuit")] = "transformer",
        period: Annotated[str, typer.Option("--period", help="month | quarter")] = "month",
        out: OutOpt = None,
        store: StoreOpt = None,  # type: ignore[assignment]
        start: Annotated[str | None, typer.Option("--start", help="First period YYYY-MM / YYYY-Qn.")] = None,
        end: Annotated[str | None, typer.Option("--end", help="Last period (beyond the events: NaN targets).")] = None,
        buffer_m: Annotated[float, typer.Option("--buffer-m", help="Vegetation/support buffer, metres.")] = 100.0,
        unplanned_only: Annotated[bool, typer.Option("--unplanned-only", help="Only tipo_causa NP events.")] = False,
        as_json: JsonOpt = False,
        lang: LangOpt = "es",
    ) -> None:
        """Build the asset x period dataset (features known at the period start) and write Parquet + data card."""
        from gridcrit.errors import ValidationError
        from gridcrit.features.dataset import build_dataset, card_path

        if out is None:
            raise ValidationError("--out PATH is required (the Parquet file to write)")
        ds = build_dataset(store or default_store(), level=level, period=period, start=start, end=end,
                           buffer_m=buffer_m, unplanned_only=unplanned_only, progress=not as_json)
        path = ds.to_parquet(out)
        card = ds.card
        result = {
            "path": str(path), "card": str(card_path(path)), "level": ds.level, "period": ds.period,
            "rows": card["rows"], "assets": card["assets"], "periods": card["periods"],
            "features": len(ds.feature_columns),
            "groups": {g: sum(1 for v in ds.feature_groups.values() if v == g)
                       for g in ("asset", "topology", "exposure", "history")},
            "risk_thresholds": card["risk"]["thresholds"], "problems": _problems(card["report"]),
            "timings_s": card["timings_s"],
        }
        t = _t(lang)

        def human(r: dict) -> None:
            console.print(f"[bold]{t['built']}[/bold]: {r['path']} (+ {t['card']} {r['card']})")
            console.print(f"{r['rows']} {t['rows']}, {r['assets']} {t['assets']}, {t['periods']} "
                          f"{r['periods'][0] if r['periods'] else '-'}..{r['periods'][-1] if r['periods'] else '-'}, "
                          f"{r['features']} {t['features']} {r['groups']}")
            if r["problems"]:
                console.print(f"[yellow]{t['problems']}[/yellow]:")
                for line in r["problems"]:
                    console.print(f"  - {line}")

        emit(result, as_json, human)

    @sub.command("card")
    def card(
        path: Annotated[Path, typer.Argument(help="Dataset Parquet file / archivo Parquet del conjunto.")],
        as_json: JsonOpt = False,
        lang: LangOpt = "es",
    ) -> None:
        """Show the data card of a dataset: every column's meaning, unit and time basis."""
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

            console.print(f"[bold]{c['kind']}[/bold]: {c['level']} x {c['period']}, {c['rows']} {t['rows']}, "
                          f"{t['periods']} {c['periods']}")
            tab = Table(show_lines=False)
            for h in ("column", "group", "unit", "basis", "meaning", "driver"):
                tab.add_column(t[h])
            short = {"as of": "start", "past": "past", "the pe": "period"}  # compact time basis
            for name, d in c["columns"].items():
                basis = next((v for k, v in short.items() if d["time_basis"].startswith(k)), "")
                tab.add_row(name, d["group"], d["unit"], basis, d["meaning"], d["driver"])
            console.print(tab)
            for line in _problems(c.get("report", {})):
                console.print(f"[yellow]{t['problems']}[/yellow]: {line}")

        emit(c, as_json, human)

    app.add_typer(sub, name="dataset")
