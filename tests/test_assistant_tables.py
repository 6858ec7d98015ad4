"""RETIE's voltage tables read back as labelled rows: a question naming a voltage gets each row's value
with its description and citation, not a bare run of numbers. (The text below is written for the test in
the layout pypdf gives the RETIE tables; the real PDFs are checked in the slow
tests/test_assistant_retie_pages.py.)"""

from __future__ import annotations

from gridcrit.assistant.backends import ExtractiveBackend
from gridcrit.assistant.retrieval import Passage, tokenize
from gridcrit.assistant.tables import question_voltages, rows_for_question, voltage_rows

TABLE = (
    "DISTANCIAS DE PRUEBA EN ZONAS CON CONSTRUCCIONES Descripción Tensión nominal entre fases (kV) Distancia (m) "
    "Distancia vertical “a” sobre techos de difícil acceso (Figura 9.1). 44/34,5/33 3,9 13,8/13,2/11,4/7,6 3,7 "
    "<1 0,5 Distancia horizontal “b” a muros, balcones y ventanas. (Figura 9.1) 66/57,5 2,6 44/34,5/33 2,4 "
    "13,8/13,2/11,4/7,6 2,2 <1 1,6 Distancia vertical “d” a carreteras y calles. 115/110 6,2 44/34,5/33 5,7 "
    "13,8/13,2/11,4/7,6 5,5 <1 4,9"
)
SENTENCE = ("Las distancias de seguridad para líneas de 13,2 kV se miden desde el conductor; para 500 kV se "
            "aplica la Tabla 9.2 y 230/220 4,8 es una celda suelta de otra tabla.")


def _passage(text: str, n: int = 1) -> Passage:
    return Passage(n, "RETIE_prueba", "Art. 9.1", 0, "DISTANCIAS", 40, 40, text, 1.0, 1, 1)


def test_rows_split_with_their_descriptions():
    rows = voltage_rows(TABLE)
    assert [r.description[:22] for r in rows] == ["Distancia vertical “a”", "Distancia horizontal “", "Distancia vertical “d”"]
    assert [r.value_for("13,2") for r in rows] == ["3,7", "2,2", "5,5"]
    assert [r.value_for("33") for r in rows] == ["3,9", "2,4", "5,7"]
    assert rows[1].value_for("115") is None and rows[2].value_for("<1") == "4,9"
    assert all(TABLE[r.start:r.end] == r.text and r.description in TABLE for r in rows)
    assert voltage_rows(SENTENCE) == []  # numbers in a sentence and a lone matrix cell are not rows


def test_voltages_named_in_questions():
    assert question_voltages("¿distancia de una red de 13.2 kV a un edificio?") == ["13,2"]
    assert question_voltages("líneas de 33 kV y de 13,2kV") == ["33", "13,2"]
    assert question_voltages("acometidas de baja tensión") == ["<1"]
    assert question_voltages("¿qué dice el RETIE de la poda?") == []


def test_the_row_the_question_describes_ranks_first():
    rows = voltage_rows(TABLE)
    best = rows_for_question("distancia horizontal de una línea de 13,2 kV a un edificio", rows, "13,2", tokenize)
    assert best[0][1].description.startswith("Distancia horizontal “b”")  # "edificio" → muros, balcones
    road = rows_for_question("distancia vertical a una carretera para 33 kV", rows, "33", tokenize)
    assert road[0][1].description.startswith("Distancia vertical “d”")


def test_answer_labels_the_value_and_cites_the_row():
    """The extractive answer quoted '… 13,8/13,2/11,4/7,6 2,2 <1 1,6 …' at best: which of the numbers is
    the answer, and for what, was left to the reader."""
    p = _passage(TABLE)
    d = ExtractiveBackend().answer("¿Cuál es la distancia horizontal de una red de 13,2 kV a un edificio?", [p])
    assert "Valores de las tablas citadas para 13,2 kV:" in d.text
    line = next(x for x in d.text.splitlines() if x.startswith("- Distancia horizontal “b”"))
    assert line.endswith(": 2,2 m (columna 13,8/13,2/11,4/7,6 kV) [1]") and "(Figura" not in line
    for c in d.citations:  # every quote is verbatim text of its passage
        assert all(part.strip().rstrip("…").strip() in TABLE for part in c.quote.split(" … ")), c.quote
    en = ExtractiveBackend().answer("horizontal clearance of a 13.2 kV line to a building", [p], lang="en")
    assert "Values of the cited tables for 13,2 kV:" in en.text and ": 2,2 m (column 13,8/13,2/11,4/7,6 kV) [1]" in en.text


def test_no_table_block_without_a_voltage_or_a_table():
    p = _passage(TABLE)
    assert "Valores de las tablas" not in ExtractiveBackend().answer("¿distancia horizontal a un muro?", [p]).text
    s = _passage(SENTENCE)
    assert "Valores de las tablas" not in ExtractiveBackend().answer("¿distancias para 13,2 kV?", [s]).text


def test_row_from_an_uncited_passage_gets_its_own_citation():
    first = _passage("Las distancias de seguridad se miden desde el conductor más cercano a la edificación.", 1)
    table = _passage(TABLE, 2)
    d = ExtractiveBackend(passages_used=1).answer("distancia horizontal de 13,2 kV a un edificio", [first, table])
    assert "[2]" in d.text and [c.n for c in d.citations] == [1, 2]
    assert "13,8/13,2/11,4/7,6 2,2" in d.citations[1].quote and d.citations[1].page == 40


def test_llm_prompt_carries_the_rows_with_their_columns():
    """An LLM got the same flattened run as the extractive backend; the prompt now lists each row with its
    voltage columns named, inside the passage it comes from."""
    from gridcrit.assistant.backends import build_messages

    user = build_messages("distancia a un edificio, 13,2 kV", [_passage(TABLE, 4)], "es")[1]["content"]
    block = user[user.index('<pasaje n="4"'):user.index("</pasaje>")]
    assert "<filas_de_tabla>" in block
    assert "- Distancia horizontal “b” a muros, balcones y ventanas. (Figura 9.1) → 66/57,5 kV: 2,6; " \
           "44/34,5/33 kV: 2,4; 13,8/13,2/11,4/7,6 kV: 2,2; <1 kV: 1,6" in block
    plain = build_messages("q", [_passage(SENTENCE)], "es")[1]["content"]
    assert "filas_de_tabla" not in plain
