"""A short summary of a store: counts, period covered and SAIFI / SAIDI by circuit and by year.

SAIFI / SAIDI are sums of the per-row contributions of ``interrupciones`` (``SAIFI = cnt_usus /
N_total``, ``SAIDI = duracion_h * cnt_usus / N_total``), exactly as the utility computes them, over the
**sustained** rows (longer than 3 min, :data:`gridcrit.reliability.indices.MOMENTARY_H`); the momentary
rows' SAIFI contributions are MAIFI. These are the definitions of ``gridcrit indices`` (which recomputes
them from ``cnt_usus`` and the network's customer base), so on a store with the network tables the
summary, the dashboard and the indices agree. Where a row has no stored ``SAIFI``/``SAIDI`` they are
recomputed from ``cnt_usus``/``duracion_h`` and that month's ``N_total`` = sum of ``trafos.USUARIOS`` of
the month's snapshot (if available).
"""

from __future__ import annotations

from pathlib import Path

from gridcrit.data.store import connect, store_info
from gridcrit.reliability.indices import MOMENTARY_H

_CONTRIB = f"""
WITH n AS (
    SELECT strftime(FECHA, '%Y%m')::INTEGER AS ym, sum(USUARIOS)::DOUBLE AS n_total
    FROM trafos WHERE USUARIOS IS NOT NULL GROUP BY 1
), rows AS (
    SELECT i.*,
           coalesce(i.SAIFI, i.cnt_usus / n.n_total) AS saifi_all,
           coalesce(i.SAIDI, coalesce(i.duracion_h, epoch(i.fin - i.inicio) / 3600.0) * i.cnt_usus / n.n_total)
               AS saidi_all,
           coalesce(i.duracion_h, epoch(i.fin - i.inicio) / 3600.0) <= {MOMENTARY_H} + 1e-9 AS momentary
    FROM interrupciones i
    LEFT JOIN n ON n.ym = coalesce(i.periodo, strftime(i.inicio, '%Y%m')::INTEGER)
), ev AS (
    SELECT *, CASE WHEN momentary THEN 0 ELSE saifi_all END AS saifi_row,
              CASE WHEN momentary THEN 0 ELSE saidi_all END AS saidi_row,
              CASE WHEN momentary THEN saifi_all ELSE 0 END AS maifi_row
    FROM rows
)
"""


def reliability_summary(store: str | Path, top: int = 10) -> dict:
    """SAIFI/SAIDI (sum of sustained rows' contributions) by circuit (``top`` by SAIDI) and by calendar
    year, with MAIFI (momentary rows) by year."""
    con = connect(store, read_only=True)
    try:
        by_circuit = con.execute(
            _CONTRIB
            + """SELECT cto_equi_ope, count(DISTINCT evento), sum(saifi_row), sum(saidi_row)
                 FROM ev GROUP BY 1 ORDER BY 4 DESC NULLS LAST, 1 LIMIT ?""",
            [top],
        ).fetchall()
        by_year = con.execute(
            _CONTRIB
            + """SELECT year(inicio), count(DISTINCT evento), count(*), sum(saifi_row), sum(saidi_row),
                        sum(maifi_row), min(inicio)::DATE, max(inicio)::DATE
                 FROM ev GROUP BY 1 ORDER BY 1"""
        ).fetchall()
    finally:
        con.close()
    return {
        "by_circuit": [
            {"circuit": c, "events": int(e), "SAIFI": _f(sf), "SAIDI": _f(sd)} for c, e, sf, sd in by_circuit
        ],
        "by_year": [
            {
                "year": int(y),
                "events": int(e),
                "rows": int(r),
                "SAIFI": _f(sf),
                "SAIDI": _f(sd),
                "MAIFI": _f(mf),
                # a partial year (e.g. 2024-01..06) must not be read as a full one
                "from": str(lo),
                "to": str(hi),
            }
            for y, e, r, sf, sd, mf, lo, hi in by_year
            if y is not None
        ],
    }


def _f(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def store_summary(store: str | Path, top: int = 10) -> dict:
    """Counts and period per table (:func:`store_info`) plus :func:`reliability_summary`."""
    info = store_info(store)
    out = {
        "store": str(store),
        "tables": info["tables"],
        "loads": len(info["loads"]),
    }
    out.update(reliability_summary(store, top=top))
    return out
