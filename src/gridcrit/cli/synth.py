"""CLI of the synthetic twin (thin shell over `gridcrit.data.synth`).

    gridcrit synth --scale tiny --seed 0 --out twin/ [--start 2019-01 --end 2024-06] [--hazard vegetation=2]
    gridcrit synth --report twin/ [--json]
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridcrit.cli.common import JsonOpt, LangOpt, OutOpt, console, emit, fmt_count
from gridcrit.errors import ValidationError

_TEXT = {
    "es": {"wrote": "Gemelo sintético escrito en", "table": "tabla", "rows": "filas", "file": "archivo",
           "metric": "métrica", "generated": "generado", "published": "publicado", "ratio": "razón",
           "ok": "pasa", "passed": "Calibración: {n}/{m} objetivos dentro de un factor {f}",
           "customers": "usuarios", "seconds": "segundos", "need": "indique --out DIR (o --report DIR)",
           "seed": "semilla", "circuits": "circuitos", "segments": "tramos", "transformers": "transformadores",
           "switches": "interruptores", "supports": "apoyos",
           "subset": "{n:,} de {m:,} filas en el subconjunto no programado de 13.2 kV",
           "small_twin": "Nota: los gemelos tiny y small tienen circuitos cortos, pocos usuarios y pocos rayos "
                         "cerca de las líneas; sus cuantiles (sobre todo SAIFI/SAIDI) y la causa 30.0 no son "
                         "comparables con CHEC. Calibre con --scale chec."},
    "en": {"wrote": "Synthetic twin written to", "table": "table", "rows": "rows", "file": "file",
           "metric": "metric", "generated": "generated", "published": "published", "ratio": "ratio",
           "ok": "pass", "passed": "Calibration: {n}/{m} targets within a factor {f}",
           "customers": "customers", "seconds": "seconds", "need": "give --out DIR (or --report DIR)",
           "seed": "seed", "circuits": "circuits", "segments": "segments", "transformers": "transformers",
           "switches": "switches", "supports": "supports",
           "subset": "{n:,} of {m:,} rows in the unplanned 13.2 kV subset",
           "small_twin": "Note: tiny and small twins have short circuits, few customers and few strokes near "
                         "their lines; their quantiles (SAIFI/SAIDI above all) and cause 30.0 are not "
                         "comparable with CHEC's. Calibrate with --scale chec."},
}


def _t(lang: str) -> dict[str, str]:
    return _TEXT.get(lang, _TEXT["es"])


def _parse_hazards(items: list[str] | None) -> dict[str, float] | None:
    if not items:
        return None
    out: dict[str, float] = {}
    for it in items:
        name, sep, val = it.partition("=")
        if not sep:
            raise ValidationError(f"--hazard {it!r}: expected NAME=MULTIPLIER, e.g. vegetation=2")
        try:
            out[name.strip()] = float(val)
        except ValueError:
            raise ValidationError(f"--hazard {it!r}: {val!r} is not a number") from None
    return out


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""

    @app.command("synth")
    def synth_cmd(
        out: OutOpt = None,
        scale: Annotated[str, typer.Option("--scale", help="tiny | small | chec | 10x")] = "tiny",
        seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed (≥ 0) / semilla (≥ 0).")] = 0,
        start: Annotated[str, typer.Option("--start", help="First month YYYY-MM, 2019-01 or later / primer mes (desde 2019-01).")] = "2019-01",
        end: Annotated[str, typer.Option("--end", help="Last month YYYY-MM / último mes.")] = "2024-06",
        hazard: Annotated[
            list[str] | None,
            typer.Option("--hazard", help="Driver multiplier NAME=X (repeatable), e.g. vegetation=2 / multiplicador de causa NOMBRE=X."),
        ] = None,
        snapshots: Annotated[
            str, typer.Option("--snapshots", help="Asset snapshots: monthly | quarterly | last / cortes de activos.")
        ] = "monthly",
        report: Annotated[
            Path | None, typer.Option("--report", help="Compare DIR's events with CHEC's profile / comparar con el perfil de CHEC.")
        ] = None,
        profile: Annotated[
            Path | None, typer.Option("--profile", help="interrupciones_profile.json to compare against / perfil de referencia.")
        ] = None,
        as_json: JsonOpt = False,
        lang: LangOpt = "es",
    ) -> None:
        """Generate a synthetic utility in CHEC's export format, or report its calibration.
        Genera una empresa sintética con el formato de exportación de CHEC, o compara su calibración."""
        t = _t(lang)
        if report is not None:
            from gridcrit.data.synth.report import calibration_report

            rep = calibration_report(report, profile)
            emit(rep, as_json, lambda r: _show_report(r, t))
            return
        if out is None:
            raise ValidationError(t["need"])
        from gridcrit.data.synth import synthesize

        res = synthesize(out, scale=scale, seed=seed, start=start, end=end, hazards=_parse_hazards(hazard),
                         progress=not as_json, snapshots=snapshots)
        summary = {"out_dir": str(res.out_dir), "scale": res.scale, "seed": res.seed, "start": res.start,
                   "end": res.end, "hazards": res.hazards, "rows": res.rows, "assets": res.assets,
                   "customers": res.customers, "files": {k: str(v) for k, v in res.files.items()},
                   "truth": str(res.truth), "seconds": round(res.seconds, 2)}
        emit(summary, as_json, lambda s: _show_synth(s, t))


def _show_synth(s: dict, t: dict[str, str]) -> None:
    from rich.table import Table

    tab = Table(title=f"{t['wrote']} {s['out_dir']} ({s['scale']}, {t['seed']} {s['seed']}, {s['start']}..{s['end']})")
    tab.add_column(t["table"])
    tab.add_column(t["rows"], justify="right")
    tab.add_column(t["file"])
    for k, n in s["rows"].items():
        tab.add_row(k, f"{n:,}", Path(s["files"][k]).name)
    console.print(tab)
    console.print(", ".join(f"{t.get(k, k)}: {fmt_count(v)}" for k, v in s["assets"].items()), highlight=False)
    console.print(f"{t['customers']}: " + ", ".join(f"{k} {fmt_count(v)}" for k, v in s["customers"].items())
                  + f"; {s['seconds']} {t['seconds']}", highlight=False)


def _show_report(r: dict, t: dict[str, str]) -> None:
    from rich.table import Table

    tab = Table(title=f"{r['twin']} ({r.get('scale')}): " + t["subset"].format(n=r["subset_rows"], m=r["rows"]))
    for c in (t["metric"], t["generated"], t["published"], t["ratio"], t["ok"]):
        tab.add_column(c, justify="left" if c == t["metric"] else "right")
    for c in r["checks"]:
        mark = ("[green]✓[/]" if c["pass"] else "[red]✗[/]") if c["target"] else "·"
        ratio = "" if c["ratio"] is None or c["ratio"] != c["ratio"] else f"{c['ratio']:.2f}"
        tab.add_row(c["metric"], f"{c['generated']:.6g}", f"{c['published']:.6g}", ratio, mark)
    console.print(tab)
    console.print(t["passed"].format(n=r["n_pass"], m=r["n_target"], f=r["factor"]))
    if r.get("scale") in ("tiny", "small"):  # failed targets there are expected, not a broken generator
        console.print(t["small_twin"], highlight=False)
