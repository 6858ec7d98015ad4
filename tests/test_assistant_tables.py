"""RETIE's voltage tables read back as labelled rows: a question naming a voltage gets each row's value
with its description and citation, not a bare run of numbers. (The text below is written for the test in
the layout pypdf gives the RETIE tables; the real PDFs are checked in the slow
tests/test_assistant_retie_pages.py and tests/test_assistant_tables_retie.py.)"""

from __future__ import annotations

import pytest

from gridcrit.assistant.backends import ExtractiveBackend
from gridcrit.assistant.evaluate import citation_valid
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


# ---------------------------------------------------------------- rows cut by the segmenter, matrix tables,
# numbers checked against their passages. A small PDF in the layout pypdf gives the RETIE tables:
# Artículo 9.2 is ~150 words on page 1 ending with a row's description, the row's values start page 2, and
# the segmenter (~160-word parts, cut where a paragraph — here a page — ends) makes page 2 a new part;
# Artículo 9.3 holds a voltage × voltage table (values made up for the test) on its second page.
_WORDS = ("registro", "plano", "memoria", "bitácora", "informe", "acta", "inventario", "diagrama", "listado",
          "manual", "protocolo", "formato")
_PLACES = ("subestación", "bodega", "oficina", "centro de control", "patio", "sede", "taller", "almacén",
           "laboratorio", "archivo", "portería", "planta")


def _filler(tag: str, n: int) -> str:
    """``n`` distinct sentences of 13 words (a repeated line would be taken for a running header)."""
    return "\n".join(f"Cada {_WORDS[k % 12]} del grupo {tag} se guarda en la {_PLACES[(k * 5) % 12]} durante "
                     f"{k + 2} años." for k in range(n))


ROW_D = "Distancia mínima al suelo “d” en cruces con carreteras y calles de prueba (Figura 9.2)."
RUN_D = "500 11,7 230/220 8,7 115/110 6,3 66/57,5 5,9 44/34,5/33 5,7 13,8/13,2/11,4/7,6 5,5 <1 4,9"
MATRIX = """Tabla 9.3. Distancias verticales de prueba en vanos con líneas de diferentes tensiones
DISTANCIAS EN METROS
Tensión nominal (kV) entre fases de la línea superior
500 4,9 4,3 4,3 4,3 4,4 4,4 4,7 5,4 7,2
230/220 3,1 2,5 2,5 2,5 2,6 2,7 3,0 3,7
115/110 2,4 1,8 1,8 1,8 1,9 2,0 2,3
66 2,1 1,5 1,5 1,5 1,6 1,6
57,5 2,0 1,4 1,4 1,4 1,5
44/34,5/33 1,9 1,3 1,35 1,4
13,8/13,2/11,4/7,6 1,9 1,3 0,7
<1 1,3 0,7
Comunicaciones 0,7
Comunicación <1 13,8/ 13,2/ 11,4/ 7,6 44/ 34,5/ 33 57,5 66 115/ 110 230/ 220 500
Tensión nominal (kV) entre fases de la línea inferior"""
TABLE_PDF = [
    "Artículo 9.2. Distancias mínimas de seguridad en cruces\n" + _filler("a", 10)
    + "\nDescripción Tensión nominal entre fases (kV) Distancia (m)\n" + ROW_D,
    RUN_D + "\nDistancia horizontal “b” a muros de prueba. 66/57,5 2,7 44/34,5/33 2,5 13,8/13,2/11,4/7,6 2,4 "
    "<1 1,8",
    "Artículo 9.3. Distancias verticales en cruces de líneas\nLas distancias verticales mínimas en cruces "
    "de distintas líneas no serán menores que las de la Tabla 9.3.",
    MATRIX + "\nNota: cuando el circuito inferior tenga cable de guarda se usa la columna de menos de 1 kV.",
    "Artículo 9.4. Conductores de redes de 13,2 kV y 33 kV\nLos conductores de las redes de 13,2 kV y de "
    "33 kV se identifican por su calibre y la distancia entre conductores de 13,2 kV y 33 kV se anota en el "
    "plano de la red.\n" + _filler("c", 3),
]


@pytest.fixture(scope="module")
def table_store(tmp_path_factory):
    from gridcrit.assistant.corpus import add_document
    from gridcrit.assistant.sample import make_pdf

    d = tmp_path_factory.mktemp("tables")
    (d / "norma.pdf").write_bytes(make_pdf(TABLE_PDF))
    add_document(d / "s.duckdb", d / "norma.pdf", name="NORMA-PRUEBA", dense=False)
    return d / "s.duckdb"


def _table_line(text: str, start: str) -> str:
    return next(x for x in text.splitlines() if x.startswith(start))


def test_a_row_cut_from_its_description_is_read_with_it(table_store):
    """Page 2 starts a new part with "500 11,7 … 13,8/13,2/11,4/7,6 5,5 …": its description ends page 1,
    in the part before, so the row had no description and the value 5,5 was never shown."""
    from gridcrit.assistant import Assistant

    a = Assistant(table_store, dense=False).ask("¿distancia mínima al suelo en cruces con carreteras para 13,2 kV?")
    line = _table_line(a.text, "- Distancia mínima al suelo “d” en cruces con carreteras y calles de prueba:")
    assert line.endswith(": 5,5 m (columna 13,8/13,2/11,4/7,6 kV)" + line[line.rindex(" ["):])
    n = int(line[line.rindex("[") + 1:-1])
    c = next(c for c in a.citations if c["n"] == n)
    p = next(p for p in a.passages if p["n"] == n)
    # cited where the value is printed: the part on page 2, with the value in the quote
    assert (p["part"], c["page"], c["page_end"]) == (2, 2, 2) and "13,8/13,2/11,4/7,6 5,5" in c["quote"]
    assert all(citation_valid(x, a.passages) for x in a.citations)


def test_rows_read_with_the_part_before():
    lead = "Texto de la norma. Descripción Tensión nominal entre fases (kV) Distancia (m) " + ROW_D
    rows = voltage_rows(RUN_D + " Distancia horizontal “b” a muros. 66/57,5 2,7 <1 1,8", lead)
    assert rows[0].description == ROW_D and rows[0].quote_desc == "" and rows[0].value_for("13,2") == "5,5"
    assert rows[0].start == 0 and rows[1].description == "Distancia horizontal “b” a muros."
    assert voltage_rows(RUN_D)[0].description == ""  # without the part before, as before
    # a pair cut by the break ("… estos valores. 500" | "11,1 230/220 9,3 …"): the row keeps the pairs printed
    # here; a description not led by "Distancia…" is the text between two rows
    lead2 = "13,8/13,2/11,4/7,6 5,6 <1 5,0 En áreas de cultivos con maquinaria alta se aplica como distancia “e” estos valores. 500"
    cut = voltage_rows("11,1 230/220 9,3 13,8/13,2/11,4/7,6 8,1 <1 7,5", lead2)
    assert [(r.description[:8], r.values[0], r.value_for("13,2")) for r in cut] == [("En áreas", ("230/220", "9,3"), "8,1")]
    # a description cut mid-sentence: the row's text in this part is what its citation can quote
    cont = voltage_rows("cruce “f” a trolebuses (Figura 9.4) 500 4,8 13,8/13,2/11,4/7,6 1,8", "<1 4,6 Distancia mínima vertical en el")
    assert cont[0].description == "Distancia mínima vertical en el cruce “f” a trolebuses (Figura 9.4)"
    assert cont[0].quote_desc == "cruce “f” a trolebuses (Figura 9.4)"
    # a table header or a long paragraph of this part between the part before and the run: not its description
    assert voltage_rows("Tabla 9.9 Tensión (kV) 500 4,8 <1 1,2", "Distancia vertical “a” sobre techos.")[0].description == ""
    prose = "El diseñador verifica cada caso con el operador de red y deja constancia de ello. " * 5
    assert voltage_rows(prose + "500 4,8 <1 1,2", "Distancia vertical “a” sobre techos.")[0].description == ""


def test_matrix_table_cells_with_their_rows_and_columns():
    """Tabla 3.10.3 (line over line) came out as "500 4,8 4,2 … 44/34,5/33 1,8 1,2 1,2 1,3 …" and was not read."""
    from gridcrit.assistant.tables import matrix_tables

    text = " ".join(MATRIX.split("\n"))
    [t] = matrix_tables(text)
    assert t.title == "Tabla 9.3. Distancias verticales de prueba en vanos con líneas de diferentes tensiones"
    assert (t.row_axis, t.col_axis, t.unit, len(t.cols), len(t.cells)) == ("línea superior", "línea inferior", "m", 9, 9)
    assert t.cells_for("13,2", "33") == t.cells_for("33", "13,2") == [("44/34,5/33", "13,8/13,2/11,4/7,6", "1,35")]
    assert t.cells_for("33", "33") == [("44/34,5/33", "44/34,5/33", "1,4")]
    assert t.cells_for("<1", "Comunicación") == [("<1", "Comunicación", "1,3")]
    assert t.cells_for("500", "230") == [("500", "230/220", "5,4")] and t.cells_for("13,2", "400") == []
    s, e = t.row_spans["44/34,5/33"]
    assert text[s:e] == "44/34,5/33 1,9 1,3 1,35 1,4"
    # a row with a cell too few or too many cannot be placed: the table is not read at all
    assert matrix_tables(text.replace("44/34,5/33 1,9 1,3 1,35 1,4", "44/34,5/33 1,9 1,3 1,4")) == []
    assert matrix_tables(text.replace("<1 1,3 0,7", "<1 1,3 0,7 0,7")) == []
    assert matrix_tables(text.replace("Comunicación <1", "Fuente: metros <1")) == []


def test_the_cell_for_two_voltages_answers_a_question_about_two_lines(table_store):
    from gridcrit.assistant import Assistant

    a = Assistant(table_store, dense=False)
    ans = a.ask("distancia entre conductores de 13,2 kV y 33 kV")
    assert "Valores de las tablas citadas para 13,2 kV con 33 kV:" in ans.text
    line = _table_line(ans.text, "- Tabla 9.3. Distancias verticales de prueba")
    assert ": 1,35 m (línea superior 44/34,5/33 kV, línea inferior 13,8/13,2/11,4/7,6 kV) [" in line
    assert "Valores de las tablas citadas para 13,2 kV:" not in ans.text  # one voltage's rows: another question
    n = int(line[line.rindex("[") + 1:-1])
    c = next(c for c in ans.citations if c["n"] == n)
    assert "44/34,5/33 1,9 1,3 1,35 1,4" in c["quote"] and c["page_end"] == 4  # the table is on page 4
    assert all(citation_valid(x, ans.passages) for x in ans.citations)
    comms = a.ask("distancia vertical entre una línea de 13,2 kV y una de comunicaciones", lang="en")
    assert "for 13,2 kV with communication lines:" in comms.text
    assert ": 1,9 m (row “línea superior” 13,8/13,2/11,4/7,6 kV, column “línea inferior” Comunicación) [" in comms.text


def test_the_matrix_is_retrieved_for_two_voltages(table_store):
    """Its cells are bare numbers: for "13,2 kV y 33 kV" BM25 ranks the passages that spell the voltages
    (Artículo 9.4, the rows of 9.2) first, and with k=2 the table was not among the passages at all."""
    from gridcrit.assistant.retrieval import Retriever

    r = Retriever(table_store, dense=False)
    got = r.search("distancia entre conductores de 13,2 kV y 33 kV", k=2)
    assert "Art. 9.3" in [p.anchor for p in got] and got[0].anchor != "Art. 9.3"
    assert "Art. 9.3" not in [p.anchor for p in r.search("distancia entre conductores de 13,2 kV", k=2)]


def test_prompt_rows_of_a_cut_row_and_of_a_matrix(table_store):
    from gridcrit.assistant.backends import build_messages
    from gridcrit.assistant.retrieval import Retriever

    r = Retriever(table_store, dense=False)
    ps = r.search("distancia mínima al suelo en cruces con carreteras para 13,2 kV; tabla 9.3 de vanos", k=5)
    user = build_messages("q", ps, "es")[1]["content"]
    assert f"- {ROW_D} → 500 kV: 11,7; 230/220 kV: 8,7;" in user
    assert "- Tabla 9.3. Distancias verticales de prueba en vanos con líneas de diferentes tensiones (m), línea " \
           "superior 44/34,5/33 kV → línea inferior Comunicación: 1,9; línea inferior <1 kV: 1,3; línea inferior " \
           "13,8/13,2/11,4/7,6 kV: 1,35; línea inferior 44/34,5/33 kV: 1,4" in user


# ---------------------------------------------------------------- numbers against the cited passages
SPLIT_PAGES = [
    "Artículo 9.1. Distancias a edificaciones\nLas distancias de seguridad se miden desde el conductor más "
    "cercano a la edificación.\n" + _filler("d", 2) + "\nDistancia horizontal “b” a muros, balcones y ventanas.",
    "66/57,5 2,6 44/34,5/33 2,4 13,8/13,2/11,4/7,6 2,2 <1 1,6\n" + _filler("e", 2),
]


def test_a_table_value_is_cited_where_it_is_printed(tmp_path):
    """The row's passage was already cited for its sentences (page 1), so the table line "…: 2,2 m [1]"
    added no quote: the citation held no 2,2 and named page 1, where the value is not printed (page 2)."""
    from gridcrit.assistant import Assistant
    from gridcrit.assistant.corpus import add_document
    from gridcrit.assistant.sample import make_pdf

    (tmp_path / "n.pdf").write_bytes(make_pdf(SPLIT_PAGES))
    add_document(tmp_path / "s.duckdb", tmp_path / "n.pdf", name="NORMA", dense=False)
    a = Assistant(tmp_path / "s.duckdb", dense=False).ask(
        "¿distancia horizontal de una red de 13,2 kV a los muros de la edificación?")
    assert _table_line(a.text, "- Distancia horizontal “b”").endswith(": 2,2 m (columna 13,8/13,2/11,4/7,6 kV) [1]")
    [c] = a.citations
    assert "13,8/13,2/11,4/7,6 2,2" in c["quote"] and (c["page"], c["page_end"]) == (1, 2)
    assert citation_valid(c, a.passages)
    assert "[1] NORMA, Art. 9.1, pp. 1–2" in a.text


class _FixedLLM:
    """An LLM backend whose model always answers ``text``."""

    def __init__(self, text: str):
        from gridcrit.assistant.backends import LLMConfig, OpenAIBackend

        self.be = OpenAIBackend(LLMConfig("http://127.0.0.1:9", "fixed"))
        self.be.complete = lambda messages: text

    def answer(self, question, passages, lang="es"):
        return self.be.answer(question, passages, lang)


def test_llm_numbers_must_be_printed_in_the_cited_passage():
    """An LLM's "2,5 m [1]" passed as long as [1] was a passage number: nothing compared the number with
    the passage. Now a sentence whose quantity the cited passage does not print is dropped (and with no
    cited sentence left, the extractive answer is given); the table's 2,2 passes however it is written."""
    p = _passage(TABLE)
    for said, kept in [("2,2 m", True), ("2.2 m", True), ("2,20 metros", True),  # decimal comma or point, unit
                       ("2,5 m", False), ("22 m", False)]:                       # not the table's value
        d = _FixedLLM(f"La distancia horizontal a muros para 13,2 kV es {said} [1].").answer("muros, 13,2 kV", [p])
        assert (said in d.text, d.fallback is None, bool(d.dropped)) == (kept, kept, not kept), said


def test_number_check_units_and_sources():
    from gridcrit.assistant.backends import check_numbers, unsupported_quantities

    src = ["El electrodo tiene al menos 2,4 m de longitud y la tensión de prueba es de 1.000 V."]
    assert unsupported_quantities("longitud de 2.4 m [1]", src) == []
    assert unsupported_quantities("longitud de 2,4 cm [1]", src) == ["2,4 cm"]  # printed with another unit
    assert unsupported_quantities("prueba a 1000 V y 1.000 voltios", src) == []  # thousands separator
    assert unsupported_quantities("artículo 3.10.1, año 2013, literal 4", src) == []  # bare numbers: not claims
    p = _passage(TABLE)
    text, dropped = check_numbers("Para 13,2 kV la distancia es 2,2 m [1].\nSon 9,9 m [1].", [p], "13,2 kV")
    assert text == "Para 13,2 kV la distancia es 2,2 m [1]." and dropped == ["Son 9,9 m [1]."]


def test_quantities_of_a_question_are_found_bare_in_tables_and_named_as_asked(table_store):
    """"2,4 m" in a question was looked up as the token "2p4m", which the table's bare "2,4" never
    matched: it counted as missing, and a missing quantity was named "«2p4m»"."""
    from gridcrit.assistant import Assistant
    from gridcrit.assistant.retrieval import Retriever

    r = Retriever(table_store, dense=False)
    q = "¿basta una distancia horizontal de 2,4 m a muros para 13,2 kV?"
    assert r.coverage(q, r.search(q, k=5))[1] == ["basta"]  # was ["basta", "2p4m"]
    ans = Assistant(table_store, dense=False).ask("¿cuántos goles de 7,77 m marcó el fútbol en la subestación?")
    assert not ans.found and "«7,77 m»" in ans.text and "7p77" not in ans.text


def test_a_part_ending_with_a_row_description_brings_the_part_with_its_values(table_store):
    """Page 1's part ends with the description of a row whose values open page 2's part: when retrieval
    returns the first without the second, the second comes right after it (in the place of the last other
    passage), so the value can be cited where it is printed."""
    import numpy as np

    from gridcrit.assistant.retrieval import Retriever

    r = Retriever(table_store, dense=False)
    assert [r.continues_row(i) for i in range(len(r.units))] == [False, True, False, False]
    assert r._with_continuation([0, 2, 3], np.ones(4, bool), {0: 1.0, 2: 0.5, 3: 0.2}) == [0, 1, 2]
    assert r._with_continuation([2, 3, 0], np.ones(4, bool), {}) == [2, 0, 1]
    assert r._with_continuation([2, 3], np.ones(4, bool), {}) == [2, 3]  # nothing to continue
    assert r._with_continuation([0, 2], np.array([True, False, True, True]), {}) == [0, 2]  # other document
    got = r.search("¿cuánto tiempo se guarda cada registro del grupo a en la subestación?", k=2)
    assert got[0].text.startswith("Cada registro del grupo a") and got[1].text.startswith("500 11,7")
