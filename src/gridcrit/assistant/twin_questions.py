"""Data questions generated from a store's own circuits, municipalities and years, each with a reference
SQL written independently over the raw tables (no ``v_eventos``), so the rule parser can be checked for
exact agreement on any synthetic twin or real export (``evaluate`` runs the reference at eval time).
"""

from __future__ import annotations

from pathlib import Path

from gridcrit.data.store import connect

MUN_SQL = (
    "SELECT i.*, a.mun FROM interrupciones i LEFT JOIN (SELECT CODE, arg_max(MUN, FECHA) AS mun FROM "
    "(SELECT CODE, MUN, FECHA FROM trafos UNION ALL SELECT CODE, MUN, FECHA FROM switches UNION ALL "
    "SELECT CODE, MUN, FECHA FROM redmt) GROUP BY CODE) a ON a.CODE = i.equipo_ope"
)


def _q(s: str) -> str:
    return s.replace("'", "''")


def twin_items(store: str | Path) -> list[dict]:
    """About a dozen evaluation items (question, reference_sql, ordered) built from ``store``'s values."""
    con = connect(store, read_only=True)
    try:
        circ, year = con.execute(
            "SELECT cto_equi_ope, year(inicio) FROM interrupciones WHERE cto_equi_ope IS NOT NULL "
            "GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1").fetchone()
        circ2 = con.execute(
            "SELECT cto_equi_ope FROM interrupciones WHERE cto_equi_ope IS NOT NULL AND cto_equi_ope <> ? "
            "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1", [circ]).fetchone()[0]
        mun = con.execute(f"SELECT mun FROM ({MUN_SQL}) WHERE mun IS NOT NULL GROUP BY 1 "
                          "ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
    finally:
        con.close()
    c, c2, m, y = _q(circ), _q(circ2), _q(mun), int(year)
    items = [
        (f"¿cuántas interrupciones tuvo el circuito {circ} en {y}?",
         f"SELECT count(DISTINCT evento) FROM interrupciones WHERE cto_equi_ope = '{c}' AND year(inicio) = {y}", False),
        # SAIFI/SAIDI answers are those of `gridcrit indices` (customer bases per group and month), checked
        # against compute_indices in tests/test_assistant_indices.py rather than by a reference SQL
        (f"¿qué municipio tuvo más usuarios afectados en {y}?",
         f"SELECT mun, sum(cnt_usus) v FROM ({MUN_SQL}) WHERE year(inicio) = {y} AND mun IS NOT NULL "
         "GROUP BY mun ORDER BY v DESC, mun LIMIT 1", True),
        (f"¿cuántas horas de interrupción tuvo el circuito {circ2} en {y}?",
         f"SELECT sum(duracion_h) FROM interrupciones WHERE cto_equi_ope = '{c2}' AND year(inicio) = {y}", False),
        (f"¿cuántas interrupciones por vegetación hubo en {mun.title()} en {y}?",
         f"SELECT count(DISTINCT evento) FROM ({MUN_SQL}) WHERE mun = '{m}' AND year(inicio) = {y} "
         "AND split_part(causa, '.', 1) = '27'", False),
        (f"tendencia anual de las interrupciones del circuito {circ}",
         f"SELECT year(inicio) y, count(DISTINCT evento) FROM interrupciones WHERE cto_equi_ope = '{c}' "
         "GROUP BY y ORDER BY y", True),
        (f"usuarios afectados por municipio en {y}",
         f"SELECT mun, sum(cnt_usus) FROM ({MUN_SQL}) WHERE year(inicio) = {y} AND mun IS NOT NULL GROUP BY mun",
         False),
        (f"los 3 circuitos con más interrupciones en {y}",
         f"SELECT cto_equi_ope, count(DISTINCT evento) v FROM interrupciones WHERE year(inicio) = {y} "
         "AND cto_equi_ope IS NOT NULL GROUP BY 1 ORDER BY v DESC, 1 LIMIT 3", True),
        (f"¿cuál fue la duración promedio de las interrupciones del circuito {circ} en {y}?",
         f"SELECT avg(duracion_h) FROM interrupciones WHERE cto_equi_ope = '{c}' AND year(inicio) = {y}", False),
        (f"¿cuántas interrupciones hubo en transformadores en {y}?",
         f"SELECT count(DISTINCT evento) FROM interrupciones WHERE tipo_equi_ope = 'transformador' "
         f"AND year(inicio) = {y}", False),
        (f"¿cuántas interrupciones causadas por animales tuvo el circuito {circ}?",
         f"SELECT count(DISTINCT evento) FROM interrupciones WHERE cto_equi_ope = '{c}' "
         "AND split_part(causa, '.', 1) = '19'", False),
        (f"evolución mensual de las interrupciones del circuito {circ2} en {y}",
         f"SELECT year(inicio) y, month(inicio) mo, count(DISTINCT evento) FROM interrupciones "
         f"WHERE cto_equi_ope = '{c2}' AND year(inicio) = {y} GROUP BY y, mo ORDER BY y, mo", True),
        (f"número de interrupciones por tipo de equipo en {y}",
         f"SELECT tipo_equi_ope, count(DISTINCT evento) FROM interrupciones WHERE year(inicio) = {y} "
         "AND tipo_equi_ope IS NOT NULL GROUP BY 1", False),
    ]
    return [{"id": f"t{i:02d}", "question": q, "reference_sql": sql, "ordered": o}
            for i, (q, sql, o) in enumerate(items, 1)]
