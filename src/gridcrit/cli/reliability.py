"""CLI commands of the reliability stage (thin shell over `gridcrit.reliability`).

``gridcrit indices --by LEVEL --period PERIOD [--exclude-med] [--store] [--out F.parquet|csv] [--json]``
``gridcrit topology check [--date YYYY-MM-DD] [--store] [--json]``
``gridcrit topology trace DEVICE [--date YYYY-MM-DD] [--store] [--json]``
"""

from __future__ import annotations

from typing import Annotated

import typer

from gridcrit.cli.common import (
    JsonOpt,
    LangOpt,
    OutOpt,
    StoreOpt,
    busy,
    check_date,
    check_out_suffix,
    console,
    default_store,
    emit,
    fmt_count,
)

TEXT = {
    "es": {
        "problems": "Problemas de datos",
        "wrote": "escrito",
        "rows": "filas",
        "more": "filas más (use --out o --json)",
        "radial": "radial",
        "not_radial": "NO radial",
        "device": "equipo",
        "summary": "corte {snapshot}: {circuits} circuitos, {segments} tramos, {transformers} transformadores, "
                   "{switches} interruptores — {radial}, profundidad máxima {max_depth}",
        "kind": "tipo",
        "circuit": "circuito",
        "node": "nodo",
        "depth": "profundidad",
        "distance_m": "distancia (m)",
        "in_tree": "en el árbol",
        "island": "isla",
        "customers": "usuarios",
        "segments": "tramos",
        "transformers": "transformadores",
        "protective_upstream": "protecciones aguas arriba",
        "yes": "sí",
        "no": "no",
        "system": "SISTEMA",
    },
    "en": {
        "problems": "Data problems",
        "wrote": "wrote",
        "rows": "rows",
        "more": "more rows (use --out or --json)",
        "radial": "radial",
        "not_radial": "NOT radial",
        "device": "device",
        "summary": "snapshot {snapshot}: {circuits} circuits, {segments} segments, {transformers} transformers, "
                   "{switches} switches — {radial}, max depth {max_depth}",
        "kind": "kind",
        "circuit": "circuit",
        "node": "node",
        "depth": "depth",
        "distance_m": "distance (m)",
        "in_tree": "in tree",
        "island": "island",
        "customers": "customers",
        "segments": "segments",
        "transformers": "transformers",
        "protective_upstream": "upstream protection",
        "yes": "yes",
        "no": "no",
        "system": "SYSTEM",
    },
}

# level and period names in table titles
NAMES = {"es": {"system": "sistema", "circuit": "circuito", "municipality": "municipio", "transformer": "transformador",
                "switch": "interruptor", "segment": "tramo", "month": "mes", "quarter": "trimestre", "year": "año"}}

# kinds of device a trace reports (DeviceTrace.kind), as shown to people
KIND = {"es": {"switch": "interruptor", "transformer": "transformador", "segment": "tramo", "circuit": "circuito"}}

DateOpt = Annotated[
    str | None,
    typer.Option(
        "--date", "--fecha",
        help="Snapshot date YYYY-MM-DD, latest snapshot at or before it (default: the latest) "
             "/ fecha del corte AAAA-MM-DD (por omisión: el último).",
    ),
]


def _t(lang: str, key: str) -> str:
    return TEXT.get(lang, TEXT["es"])[key]


def _print_report(report, lang: str) -> None:
    console.print(f"[bold]{_t(lang, 'problems')}[/bold]")
    for line in report.lines(lang):
        console.print("  " + line, markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""

    @app.command("indices")
    def indices_cmd(
        by: Annotated[
            str, typer.Option("--by", help="system | circuit | municipality | transformer | switch | segment "
                                     "(grouping / agrupación)")
        ] = "system",
        period: Annotated[str, typer.Option("--period", help="month | quarter | year (period / periodo)")] = "month",
        exclude_med: Annotated[
            bool, typer.Option("--exclude-med", help="Exclude IEEE 1366 major event days / excluir días de evento mayor.")
        ] = False,
        only_events: Annotated[
            bool, typer.Option("--only-events", help="Only groups/periods with interruptions / solo con interrupciones.")
        ] = False,
        unplanned: Annotated[
            bool, typer.Option("--unplanned", "--unplanned-only", help="Only tipo_causa = NP / solo no programadas.")
        ] = False,
        momentary_min: Annotated[
            float,
            typer.Option("--momentary-min", help="Momentary (MAIFI) up to this many minutes: 3 = CREG (default), "
                                                 "5 = IEEE 1366-2012 / umbral de interrupción momentánea en minutos."),
        ] = 3.0,
        limit: Annotated[
            int, typer.Option("--limit", min=0, help="Rows shown in the table (≥ 0) / filas mostradas (≥ 0).")
        ] = 40,
        plot: Annotated[
            str | None,
            typer.Option("--plot", help="Write charts FILE.png (indices) and FILE_med.png (daily SAIDI, T_MED, "
                                        "major event days) / gráficos PNG."),
        ] = None,
        store: StoreOpt = None,
        out: OutOpt = None,
        as_json: JsonOpt = False,
        lang: LangOpt = "es",
    ) -> None:
        """Reliability indices SAIFI, SAIDI, CAIDI, ASAI, MAIFI / índices de confiabilidad IEEE 1366."""
        from gridcrit.reliability.indices import check_momentary_minutes, compute_indices, write_frame

        if out:  # fail before the computation
            check_out_suffix(out, "--out", lang)
        momentary_min = check_momentary_minutes(momentary_min)
        if plot:
            check_out_suffix(plot, "--plot", lang, suffixes=(".png",))
        with busy(as_json, "calculando índices…" if lang == "es" else "computing indices…"):
            res = compute_indices(
                store or default_store(), by, period, exclude_med=exclude_med, only_with_events=only_events,
                unplanned_only=unplanned, momentary_minutes=momentary_min,
            )
        written = write_frame(res.frame, out) if out else None
        charts: list[str] = []
        if plot:
            from pathlib import Path

            from gridcrit.reliability.plots import indices_chart, med_chart

            p = Path(plot)
            charts.append(str(indices_chart(res, p, lang=lang)))
            if res.med is not None and len(res.med.days):
                charts.append(str(med_chart(res.med, p.with_name(p.stem + "_med.png"), lang=lang)))

        def human(r) -> None:
            from rich import box
            from rich.table import Table

            med = (" (sin días de evento mayor)" if lang == "es" else " (major event days excluded)") if exclude_med else ""
            names = NAMES.get(lang, {})
            title = f"{names.get(by, by)} × {names.get(period, period)}{med}"
            tab = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, title=title)
            # short headers so that the table fits 80 columns; --json / --out carry every column
            es = lang == "es"
            cols = {"group": "grupo" if es else "group", "period": "periodo" if es else "period", "customers": "N",
                    "SAIFI": "SAIFI", "SAIDI": "SAIDI h", "CAIDI": "CAIDI h", "ASAI": "ASAI", "MAIFI": "MAIFI",
                    "SAIFI_contrib": "SAIFI sist" if es else "SAIFI sys"}
            for c, head in cols.items():
                tab.add_column(head, justify="left" if c in ("group", "period") else "right", no_wrap=True)
            from gridcrit.reliability.customers import SYSTEM

            for row in r.frame.head(limit).itertuples(index=False):
                d = row._asdict()
                if d["group"] == SYSTEM:  # the data keeps the key SISTEMA; people read it in their language
                    d["group"] = _t(lang, "system")
                tab.add_row(*[f"{d[c]:.0f}" if c == "customers" and d[c] == d[c]
                              else _fmt(d[c], 6 if c == "ASAI" else 4) for c in cols])
            console.print(tab)
            if len(r.frame) > limit:
                console.print(f"… {fmt_count(len(r.frame) - limit)} {_t(lang, 'more')}")
            _print_report(r.report, lang)
            if written:
                console.print(f"{_t(lang, 'wrote')} {written} ({fmt_count(len(r.frame))} {_t(lang, 'rows')})")
            for c in charts:
                console.print(f"{_t(lang, 'wrote')} {c}", markup=False, highlight=False)

        if as_json:
            doc = res.to_dict(max_rows=None if out is None else 0)
            if written:
                doc["out"] = str(written)
            if charts:
                doc["plots"] = charts
            emit(doc, True)
        else:
            human(res)

    topo_app = typer.Typer(help="Network topology: radiality, downstream sets / topología de la red.", no_args_is_help=True)
    app.add_typer(topo_app, name="topology")

    @topo_app.command("check")
    def topology_check(
        fecha: DateOpt = None,
        store: StoreOpt = None,
        out: OutOpt = None,
        as_json: JsonOpt = False,
        lang: LangOpt = "es",
    ) -> None:
        """Radiality check: loops, islands, unknown nodes / chequeo de radialidad."""
        from gridcrit.reliability.indices import write_frame
        from gridcrit.reliability.topology import Topology

        fecha = check_date(fecha, "--date", lang)
        if out:
            check_out_suffix(out, "--out", lang)
        with busy(as_json, "construyendo la topología…" if lang == "es" else "building the topology…"):
            topo = Topology.from_store(store or default_store(), fecha)
            summary = topo.circuit_summary()
        if out:
            write_frame(summary, out)
        if as_json:
            emit({"report": topo.report.to_dict(), "circuits": summary.to_dict(orient="records")}, True)
            return
        info = topo.report.info
        radial = _t(lang, "radial") if info.get("radial") else _t(lang, "not_radial")
        counts = {k: fmt_count(info[k]) for k in ("circuits", "segments", "transformers", "switches")}
        console.print(
            _t(lang, "summary").format(snapshot=info.get("snapshot"), radial=radial, max_depth=info["max_depth"],
                                       **counts),
            soft_wrap=True,
        )
        _print_report(topo.report, lang)

    @topo_app.command("trace")
    def topology_trace(
        device: Annotated[str, typer.Argument(help="Switch, transformer, segment or circuit code / código del equipo.")],
        fecha: DateOpt = None,
        full: Annotated[bool, typer.Option("--full", help="List every downstream segment / listar todo.")] = False,
        store: StoreOpt = None,
        as_json: JsonOpt = False,
        lang: LangOpt = "es",
    ) -> None:
        """Downstream segments, transformers, customers; depth; upstream protection / aguas abajo de un equipo."""
        from gridcrit.reliability.topology import Topology

        fecha = check_date(fecha, "--date", lang)
        with busy(as_json, "construyendo la topología…" if lang == "es" else "building the topology…"):
            topo = Topology.from_store(store or default_store(), fecha)
            tr = topo.trace(device)
        if as_json:
            emit(tr.to_dict(), True)
            return
        d = tr.to_dict()

        def short(xs: list[str]) -> str:
            if not xs:
                return "-"
            return ", ".join(xs if full or len(xs) <= 10 else [*xs[:10], f"… (+{len(xs) - 10})"])

        def value(k: str) -> str:
            v = d[k]
            if isinstance(v, bool):
                return _t(lang, "yes" if v else "no")
            if k == "kind":
                return KIND.get(lang, {}).get(v, v)
            if k == "customers":
                return fmt_count(v)
            if v is None:
                return "-"
            if k == "distance_m" and isinstance(v, float):
                return f"{v:.1f}"  # metres: float sums such as 2513.3999999999996 read as 2513.4
            return str(v)

        def line(text: str) -> None:
            console.print(text, markup=False, highlight=False, soft_wrap=True)

        line(f"{_t(lang, 'device')}: {d['device']}")
        for k in ("kind", "circuit", "node", "depth", "distance_m", "in_tree", "island", "customers"):
            line(f"{_t(lang, k)}: {value(k)}")
        line(f"{_t(lang, 'segments')} ({fmt_count(d['n_segments'])}): {short(d['segments'])}")
        line(f"{_t(lang, 'transformers')} ({fmt_count(d['n_transformers'])}): {short(d['transformers'])}")
        line(f"{_t(lang, 'protective_upstream')}: {', '.join(d['protective_upstream']) or '-'}")


def _fmt(v, digits: int = 4) -> str:
    if isinstance(v, float):
        if v != v:
            return "NaN"
        return f"{v:.{digits}g}"
    return str(v)
