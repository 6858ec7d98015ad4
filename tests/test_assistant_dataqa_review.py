"""Second review of data questions: rankings of transformers/switches, periods without data, "the most
critical" circuit or transformer, ties at a top-k cut. Expected values come from independent SQL or from
`gridcrit indices`, never from the assistant itself."""

from __future__ import annotations

import json

import pytest

from gridcrit.assistant import Assistant
from gridcrit.assistant.dataqa import answer_data_question, is_data_question
from gridcrit.cli import run
from gridcrit.data.store import connect


def _rows(store, sql, params=()):
    con = connect(store, read_only=True)
    try:
        return [list(r) for r in con.execute(sql, list(params)).fetchall()]
    finally:
        con.close()


def _busiest_year(store):
    return _rows(store, "SELECT year(inicio) FROM interrupciones GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")[0][0]


def test_which_transformers_had_most_interruptions_is_a_ranking(tiny_store):
    """"¿qué transformador tuvo más interrupciones en 2023?" was answered with the system's total count."""
    y = _busiest_year(tiny_store)
    want = _rows(tiny_store, "SELECT equipo_ope, count(DISTINCT evento) n FROM interrupciones WHERE "
                 "tipo_equi_ope = 'transformador' AND year(inicio) = ? GROUP BY 1 ORDER BY n DESC, 1 LIMIT 5", [y])
    a = answer_data_question(f"¿cuáles son los 5 transformadores con más interrupciones en {y}?", tiny_store)
    assert a.columns == ["equipo_ope", "valor"] and a.rows == want
    one = answer_data_question(f"¿qué transformador tuvo más interrupciones en {y}?", tiny_store)
    assert one.rows == want[:1]
    total = _rows(tiny_store, "SELECT count(DISTINCT evento) FROM interrupciones WHERE year(inicio) = ?", [y])[0][0]
    assert str(total) not in one.text.splitlines()[0]
    sw = answer_data_question(f"¿qué interruptores tuvieron más interrupciones en {y}?", tiny_store)
    sw_want = _rows(tiny_store, "SELECT equipo_ope, count(DISTINCT evento) n FROM interrupciones WHERE "
                    "tipo_equi_ope = 'interruptor' AND year(inicio) = ? GROUP BY 1 ORDER BY n DESC, 1 LIMIT 10", [y])
    assert sw.rows == sw_want


def test_a_tie_at_the_cut_is_named(tiny_store):
    """The year whose top transformer is tied (the tiny twin has such years): the others are named."""
    for (y,) in _rows(tiny_store, "SELECT DISTINCT year(inicio) FROM interrupciones ORDER BY 1"):
        ranked = _rows(tiny_store, "SELECT equipo_ope, count(DISTINCT evento) n FROM interrupciones WHERE "
                       "tipo_equi_ope = 'transformador' AND year(inicio) = ? GROUP BY 1 ORDER BY n DESC, 1", [y])
        tied = [r[0] for r in ranked[1:] if r[1] == ranked[0][1]]
        if tied:
            break
    assert tied, "the tiny twin has a year with transformers tied for most interruptions"
    a = answer_data_question(f"¿qué transformador tuvo más interrupciones en {y}?", tiny_store)
    assert a.rows == [ranked[0]]
    assert "Empatados con el mismo valor" in a.text and all(t in a.text for t in tied[:10])
    untied = answer_data_question(f"¿cuáles son los {len(tied) + 1} transformadores con más interrupciones en {y}?",
                                  tiny_store)
    assert "Empatados" not in untied.text or ranked[len(tied)][1] == ranked[len(tied) + 1][1]


@pytest.mark.parametrize("q", ["¿cuántas interrupciones hubo en 2015?", "¿cuál fue el SAIFI del sistema en 2015?",
                               "how many interruptions were there in 2015?"])
def test_a_year_without_data_is_not_a_zero(tiny_store, q):
    """"¿cuántas interrupciones hubo en 2015?" answered "interrupciones: 0" for a year the store has no
    data for; "¿SAIFI en 2015?" said "No hay datos que cumplan esas condiciones"."""
    lo, hi = _rows(tiny_store, "SELECT min(inicio), max(inicio) FROM interrupciones")[0]
    assert lo.year > 2015
    a = Assistant(tiny_store, dense=False).ask(q, lang="en" if q.startswith("how") else "es")
    assert a.found is False and a.rows == []
    assert f"{lo.year}-{lo.month:02d}" in a.text and f"{hi.year}-{hi.month:02d}" in a.text
    assert ("Sin datos para 2015" in a.text) or ("No data for 2015" in a.text)


def test_a_month_after_the_last_event_is_not_a_zero(tiny_store):
    hi = _rows(tiny_store, "SELECT max(inicio) FROM interrupciones")[0][0]
    if hi.month == 12:
        pytest.skip("data end in December")
    names = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
             "noviembre", "diciembre"]
    a = answer_data_question(f"¿cuántas interrupciones hubo en {names[hi.month]} de {hi.year}?", tiny_store)
    assert a.found is False and f"Sin datos para {hi.year}-{hi.month + 1:02d}" in a.text


def test_most_critical_circuit_and_transformer_come_from_the_data(tiny_store, capsys):
    """"¿cuál es el circuito más crítico?" quoted RETIE clauses on hospital critical-care areas."""
    assert is_data_question("¿cuál es el circuito más crítico?")
    assert is_data_question("¿qué transformador es el más crítico?")
    assert not is_data_question("¿qué protecciones debe tener un transformador de distribución?")
    full = _rows(tiny_store, "SELECT max(y) FROM (SELECT year(inicio) y FROM interrupciones GROUP BY 1 "
                 "HAVING count(DISTINCT month(inicio)) = 12)")[0][0]
    a = Assistant(tiny_store, dense=False).ask("¿cuál es el circuito más crítico?")
    assert a.kind == "data" and not a.citations
    assert run(["indices", "--by", "circuit", "--period", "year", "--store", str(tiny_store), "--json"]) == 0
    rows = [r for r in json.loads(capsys.readouterr().out)["indices"] if r["period"] == str(full)]
    best = max(rows, key=lambda r: (r["SAIFI"] if r["SAIFI"] is not None else -1))
    assert a.rows[0][0] == best["group"] and a.rows[0][1] == pytest.approx(best["SAIFI"])
    assert f"SAIFI registrado en {full}, último año completo" in a.text and "gridcrit predict" in a.text
    t = Assistant(tiny_store, dense=False).ask("¿qué transformador es el más crítico?")
    want = _rows(tiny_store, "SELECT equipo_ope, count(DISTINCT evento) n FROM interrupciones WHERE "
                 "tipo_equi_ope = 'transformador' AND year(inicio) = ? GROUP BY 1 ORDER BY n DESC, 1 LIMIT 1", [full])
    assert t.rows == want and "número de interrupciones registrado" in t.text


def test_por_anio_with_enye_is_a_yearly_series(tiny_store, capsys):
    """fold() keeps "ñ" and the parser looked for "por ano": "SAIFI del sistema por año" answered one
    multi-year SAIFI (the sum of every year) instead of the series."""
    assert run(["indices", "--by", "system", "--period", "year", "--store", str(tiny_store), "--json"]) == 0
    want = [[int(r["period"]), pytest.approx(r["SAIFI"])] for r in json.loads(capsys.readouterr().out)["indices"]]
    a = answer_data_question("SAIFI del sistema por año", tiny_store)
    assert a.columns == ["anio", "valor"] and a.rows == want
    n = answer_data_question("¿cuántas interrupciones hubo cada año?", tiny_store)
    assert n.rows == _rows(tiny_store, "SELECT year(inicio), count(DISTINCT evento) FROM interrupciones GROUP BY 1 "
                                       "ORDER BY 1")


def test_incomplete_last_year_is_flagged(tiny_store):
    lo, hi = _rows(tiny_store, "SELECT min(inicio), max(inicio) FROM interrupciones")[0]
    a = answer_data_question("tendencia anual de las interrupciones", tiny_store)
    assert [r[0] for r in a.rows][-1] == hi.year
    flagged = f"{hi.year}: datos solo hasta {hi.year}-{hi.month:02d}" in a.text
    assert flagged == (hi.month < 12)
    assert (f"{lo.year}: datos solo desde" in a.text) == (lo.month > 1)


def test_one_momentary_interruption_is_singular(tiny_store):
    """"de ellas 1 momentáneas" → "de ellas 1 momentánea"."""
    names = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
             "noviembre", "diciembre"]
    hits = _rows(tiny_store, "SELECT cto_equi_ope, year(inicio) y, month(inicio) m FROM interrupciones "
                 "WHERE cto_equi_ope IS NOT NULL GROUP BY 1, 2, 3 HAVING count(DISTINCT evento) FILTER "
                 "(WHERE duracion_h <= 0.05) = 1 ORDER BY 1, 2, 3 LIMIT 1")
    assert hits, "the tiny twin has a circuit-month with exactly one momentary interruption"
    c, y, m = hits[0]
    a = answer_data_question(f"¿cuántas interrupciones tuvo el circuito {c} en {names[m - 1]} de {y}?", tiny_store)
    assert "de ellas 1 momentánea (≤ 3 min)" in a.text


@pytest.mark.parametrize("q", ["¿qué equipos son críticos en un hospital?",
                               "¿qué es lo peor que puede pasar en un circuito sin puesta a tierra?",
                               "¿cómo se protege un circuito crítico de emergencia?"])
def test_critical_in_a_regulation_sense_stays_a_regulation_question(q):
    assert not is_data_question(q)
