"""Read-only queries the dashboard needs that no other stage provides: map layers and store overview.

Everything opens the store read-only and closes it before returning (DuckDB refuses a second
connection with another configuration in the same process, so the app never holds one open).
Map layers come from the latest network snapshot and are capped (``limit``) so that a 10x utility
does not send hundreds of thousands of points to a browser; the response says when it was capped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gridcrit.data.store import connect

#: default cap of points/lines per map layer
MAP_LIMIT = 4000


def _tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def _latest(con, table: str):
    return con.execute(f'SELECT max(FECHA) FROM "{table}"').fetchone()[0]


def _capped(con, sql: str, args: list, limit: int) -> tuple[list[tuple], int]:
    """Rows of ``sql`` (at most ``limit``, an even spread by row number) and the total count."""
    n = con.execute(f"SELECT count(*) FROM ({sql})", args).fetchone()[0]
    if n <= limit:
        return con.execute(sql, args).fetchall(), int(n)
    # keep every k-th row (deterministic, spread over the whole network) rather than the first `limit`
    step = -(-n // limit)
    rows = con.execute(
        f"SELECT * EXCLUDE (rn_) FROM (SELECT *, row_number() OVER () - 1 AS rn_ FROM ({sql})) WHERE rn_ % {step} = 0",
        args,
    ).fetchall()
    return rows, int(n)


def circuits(store: str | Path) -> list[dict[str, Any]]:
    """Circuits of the latest snapshot with their segment count and events (distinct ``evento``: an event
    that opened several devices of a circuit has a row for each; the summary and the assistant count
    it once)."""
    con = connect(store, read_only=True)
    try:
        t = _tables(con)
        if "redmt" not in t or _latest(con, "redmt") is None:
            return []
        rows = con.execute(
            """WITH s AS (SELECT FPARENT c, count(*) n FROM redmt WHERE FECHA = (SELECT max(FECHA) FROM redmt) GROUP BY 1),
                    e AS (SELECT cto_equi_ope c, count(DISTINCT evento) n FROM interrupciones GROUP BY 1)
               SELECT s.c, s.n, coalesce(e.n, 0) FROM s LEFT JOIN e USING (c) ORDER BY s.c"""
        ).fetchall()
        return [{"circuit": c, "segments": int(n), "events": int(e)} for c, n, e in rows]
    finally:
        con.close()


def map_layers(store: str | Path, circuit: str | None = None, limit: int = MAP_LIMIT) -> dict[str, Any]:
    """Coordinates of segments (lines), transformers, switches (points, with interruption counts),
    lightning strokes and vegetation records of the latest snapshot (optionally one circuit)."""
    con = connect(store, read_only=True)
    try:
        t = _tables(con)
        out: dict[str, Any] = {"circuit": circuit, "limit": limit, "layers": {}}
        where_c = " AND FPARENT = ?" if circuit else ""
        args = [circuit] if circuit else []
        ev = (
            "(SELECT equipo_ope, count(*) AS n_events, sum(cnt_usus) AS cust_int FROM interrupciones GROUP BY 1)"
            if "interrupciones" in t
            else "(SELECT NULL::VARCHAR AS equipo_ope, 0 AS n_events, 0 AS cust_int)"
        )
        if "redmt" in t and _latest(con, "redmt") is not None:
            fe = _latest(con, "redmt")
            rows, n = _capped(
                con,
                f"""SELECT r.CODE, r.FPARENT, r.LONGITUD, r.LATITUD, r.LONGITUD2, r.LATITUD2,
                           coalesce(e.n_events, 0), r.LENGTH
                    FROM redmt r LEFT JOIN {ev} e ON e.equipo_ope = r.CODE
                    WHERE r.FECHA = ? AND r.LONGITUD IS NOT NULL AND r.LONGITUD2 IS NOT NULL{where_c.replace('FPARENT', 'r.FPARENT')}
                    ORDER BY r.CODE""",
                [fe, *args],
                limit,
            )
            out["snapshot"] = str(fe)[:10]
            out["layers"]["segments"] = {
                "total": n,
                "shown": len(rows),
                "columns": ["code", "circuit", "lon1", "lat1", "lon2", "lat2", "events", "length_m"],
                "rows": [list(r) for r in rows],
            }
        for table, layer, extra in (("trafos", "transformers", "x.USUARIOS, x.KVA"), ("switches", "switches", "x.ASSEMBLY, x.STATE")):
            if table not in t or _latest(con, table) is None:
                continue
            rows, n = _capped(
                con,
                f"""SELECT x.CODE, x.FPARENT, x.LONGITUD, x.LATITUD, coalesce(e.n_events, 0), coalesce(e.cust_int, 0), {extra}
                    FROM "{table}" x LEFT JOIN {ev} e ON e.equipo_ope = x.CODE
                    WHERE x.FECHA = ? AND x.LONGITUD IS NOT NULL{where_c.replace('FPARENT', 'x.FPARENT')}
                    ORDER BY x.CODE""",
                [_latest(con, table), *args],
                limit,
            )
            cols = ["code", "circuit", "lon", "lat", "events", "customer_interruptions"]
            cols += ["customers", "kva"] if table == "trafos" else ["assembly", "state"]
            out["layers"][layer] = {"total": n, "shown": len(rows), "columns": cols, "rows": [list(r) for r in rows]}
        if "rayos" in t:
            rows, n = _capped(
                con,
                f"SELECT LONGITUD, LATITUD, CORRIENTE FROM rayos WHERE LONGITUD IS NOT NULL{where_c} ORDER BY ID",
                args,
                limit,
            )
            out["layers"]["lightning"] = {"total": n, "shown": len(rows), "columns": ["lon", "lat", "current_ka"],
                                          "rows": [list(r) for r in rows]}
        if "vegetacion" in t:
            wv = " AND CIRCUITO_TRAMO = ?" if circuit else ""
            rows, n = _capped(
                con,
                f"SELECT LONGITUD, LATITUD, NIVEL_RIES, NOM_COMUN FROM vegetacion WHERE LONGITUD IS NOT NULL{wv} ORDER BY FECHA",
                args,
                limit,
            )
            out["layers"]["vegetation"] = {"total": n, "shown": len(rows), "columns": ["lon", "lat", "risk", "species"],
                                           "rows": [list(r) for r in rows]}
        return out
    finally:
        con.close()


def event_periods(store: str | Path) -> list[str]:
    """Months ('YYYY-MM') that have interruption rows."""
    con = connect(store, read_only=True)
    try:
        if "interrupciones" not in _tables(con):
            return []
        return [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT strftime(inicio, '%Y-%m') FROM interrupciones WHERE inicio IS NOT NULL ORDER BY 1"
            ).fetchall()
        ]
    finally:
        con.close()


#: tables every gridcrit store has (``gridcrit ingest`` creates them, empty if need be)
CORE_TABLES = ("interrupciones", "redmt", "trafos")


def missing_tables(store: str | Path) -> list[str]:
    """Core tables the file at ``store`` lacks: all of them for a DuckDB file that is not a gridcrit store."""
    con = connect(store, read_only=True)
    try:
        t = _tables(con)
        return [x for x in CORE_TABLES if x not in t]
    finally:
        con.close()


def has_registry(store: str | Path) -> bool:
    """True when the store holds the model registry tables (so that opening it writes nothing)."""
    con = connect(store, read_only=True)
    try:
        return "_registry_models" in _tables(con)
    finally:
        con.close()


def network_counts(store: str | Path) -> dict[str, Any]:
    """Assets of the latest snapshot: segments, transformers, switches, circuits and customers."""
    con = connect(store, read_only=True)
    try:
        t = _tables(con)
        out: dict[str, Any] = {}
        for table, key in (("redmt", "segments"), ("trafos", "transformers"), ("switches", "switches")):
            if table in t:
                n, fe = con.execute(
                    f'SELECT count(*), any_value(FECHA) FROM "{table}" WHERE FECHA = (SELECT max(FECHA) FROM "{table}")'
                ).fetchone()
                out[key] = int(n)
                out[f"{key}_snapshot"] = None if fe is None else str(fe)[:10]
        if "redmt" in t:
            out["circuits"] = int(con.execute(
                "SELECT count(DISTINCT FPARENT) FROM redmt WHERE FECHA = (SELECT max(FECHA) FROM redmt)").fetchone()[0])
        if "trafos" in t:
            c = con.execute("SELECT sum(USUARIOS) FROM trafos WHERE FECHA = (SELECT max(FECHA) FROM trafos)").fetchone()[0]
            out["customers"] = None if c is None else int(c)
        return out
    finally:
        con.close()
