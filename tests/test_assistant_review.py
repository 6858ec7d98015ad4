"""Review findings: unknown circuits, SAIFI/SAIDI/counts consistent with `gridcrit indices`, quantities
("13,2 kV") that are not article numbers, English data questions, corpus CLI output, explicit backends."""

from __future__ import annotations

import json
import logging

import pytest

from gridcrit.assistant import Assistant
from gridcrit.assistant.backends import BackendError, ExtractiveBackend, cite_ref, make_backend
from gridcrit.assistant.dataqa import answer_data_question, is_data_question
from gridcrit.assistant.retrieval import _ANCHOR_IN_Q, Passage, tokenize
from gridcrit.assistant.sample import make_pdf, make_sample_store
from gridcrit.cli import run
from gridcrit.data.store import connect
from gridcrit.errors import GridcritError, NotFoundError


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_sample_store(tmp_path_factory.mktemp("rv") / "s.duckdb")


def _one(store, sql, params=()):
    con = connect(store, read_only=True)
    try:
        return con.execute(sql, list(params)).fetchone()
    finally:
        con.close()


# ---------------------------------------------------------------- 1. a named circuit that does not exist
def test_unknown_circuit_is_not_answered_with_the_system_figure(store):
    with pytest.raises(NotFoundError, match=r"NSA23L1[0-9]?\b.*no existe.*NSA23L14"):
        answer_data_question("¿cuántas interrupciones tuvo el circuito NSA23L1 en 2023?", store)
    with pytest.raises(NotFoundError, match="XXX99"):
        Assistant(store).ask("¿cuántas interrupciones tuvo el circuito XXX99 en 2023?")
    with pytest.raises(NotFoundError, match="does not exist"):
        answer_data_question("how many interruptions did circuit XXX99 have in 2023?", store, lang="en")


def test_a_circuit_named_like_a_name_or_a_letter_is_not_the_whole_system(store):
    """Only capitals or digits counted as a name: "circuito Palestina" and "circuit X" were ignored and the
    answer was the system's total for the year."""
    with pytest.raises(NotFoundError, match="PALESTINA no existe"):
        answer_data_question("¿cuántas interrupciones tuvo el circuito Palestina en 2023?", store)
    with pytest.raises(NotFoundError, match="circuit X does not exist"):
        answer_data_question("How many interruptions did circuit X have in 2023?", store, lang="en")
    # lower-case words after "circuito" are the question, not a name
    a = answer_data_question("¿qué circuito tuvo más interrupciones en 2023?", store)
    assert a.rows


def test_unknown_circuit_cli_one_line_error(store, capsys):
    rc = run(["ask", "¿cuántas interrupciones tuvo el circuito XXX99 en 2023?", "--store", str(store), "--json"])
    out, err = capsys.readouterr()
    assert rc == NotFoundError.exit_code and json.loads(out)["error"].startswith("el circuito XXX99 no existe")
    assert err.count("\n") == 1 and err.startswith("gridcrit: error: el circuito XXX99 no existe")


def test_known_circuit_and_quantities_are_not_unknown_codes(store):
    a = answer_data_question("¿cuántas interrupciones tuvo el circuito nsa23l14 en 2023?", store)
    assert a.query["filters"]["circuito"] == "NSA23L14"
    # "13,2 kV" is a voltage, not an asset code
    answer_data_question("¿cuántas interrupciones en redes de 13,2kV hubo en 2023?", store)


# ---------------------------------------------------------------- 2. numbers consistent with `gridcrit indices`
def _circuit_year(tiny_store):
    return _one(tiny_store, "SELECT cto_equi_ope, year(inicio) FROM interrupciones WHERE cto_equi_ope IS NOT NULL "
                            "GROUP BY 1, 2 ORDER BY count(*) FILTER (WHERE duracion_h <= 0.05) DESC, count(*) DESC, "
                            "1, 2 LIMIT 1")


@pytest.mark.parametrize("metric", ["SAIFI", "SAIDI"])
def test_circuit_index_equals_indices_command(tiny_store, metric, capsys):
    circ, year = _circuit_year(tiny_store)
    a = answer_data_question(f"¿cuál fue el {metric} del circuito {circ} en {year}?", tiny_store)
    assert run(["indices", "--by", "circuit", "--period", "year", "--store", str(tiny_store), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["indices"]
    row = next(r for r in rows if r["group"] == circ and r["period"] == str(year))
    want = row[metric] if row[metric] is not None else row[metric + "_contrib"]
    assert want is not None and want > 0
    assert a.rows == [[pytest.approx(want)]]
    assert f"{want:.3f}" in a.text and "gridcrit indices --by circuit --period year" in a.text


def test_system_saifi_by_year_equals_indices(tiny_store):
    from gridcrit.reliability.indices import compute_indices

    fr = compute_indices(tiny_store, by="system", period="year").frame
    a = answer_data_question("tendencia anual del SAIFI", tiny_store)
    assert a.columns == ["anio", "valor"]
    assert [[int(p), pytest.approx(v)] for p, v in zip(fr["period"], fr["SAIFI"], strict=True)] == a.rows


def test_count_states_momentary_interruptions(tiny_store):
    circ, year = _circuit_year(tiny_store)
    total, sustained = _one(
        tiny_store, "SELECT count(DISTINCT evento), count(DISTINCT evento) FILTER (WHERE duracion_h > 0.05) "
                    "FROM interrupciones WHERE cto_equi_ope = ? AND year(inicio) = ?", [circ, year])
    assert total > sustained, "the twin should have momentary interruptions on its busiest circuit"
    a = answer_data_question(f"¿cuántas interrupciones tuvo el circuito {circ} en {year}?", tiny_store)
    assert a.rows == [[total]]
    assert f"de ellas {total - sustained} momentáneas (≤ 3 min) y {sustained} sostenidas" in a.text


# ---------------------------------------------------------------- 3. "13,2 kV" is not article 13.2
def test_quantities_are_not_article_numbers():
    assert "13p2kv" in tokenize("redes de 13,2 kV") and "13" not in tokenize("redes de 13,2 kV")
    assert tokenize("13.2 kV") == tokenize("13,2kV")
    assert not _ANCHOR_IN_Q.search("numeral 13.2 kV")
    assert _ANCHOR_IN_Q.search("numeral 13.2 de la norma").group(1) == "13.2"


def test_voltage_question_quotes_the_voltage_not_table_13_2():
    """The RETIE answer quoted "…superen 98 kV, se podrán aumentar las distancias de la Tabla 13.2…" for
    "13,2 kV": the number matched "13.2". A voltage must only match the same voltage."""
    from gridcrit.assistant.backends import best_sentences

    p = Passage(1, "NORMA", "Art. 13.2", 0, "", 56, 56,
                "En tensiones que superen 98 kV se podrán aumentar las distancias de la Tabla 13.2 del reglamento. "
                "En redes de 13,2 kV se guardan 5,6 m sobre vías.", 1.0, 1, None)
    q = "¿Qué distancia mínima de seguridad exige el RETIE para redes de 13,2 kV?"
    assert best_sentences(q, p, n=1) == ["En redes de 13,2 kV se guardan 5,6 m sobre vías."]


# ---------------------------------------------------------------- 4. English data questions
@pytest.mark.parametrize("en, es", [
    ("how many interruptions did circuit NSA23L14 have in 2023?",
     "¿cuántas interrupciones tuvo el circuito NSA23L14 en 2023?"),
    ("which municipality had the most customers affected in 2022?",
     "¿qué municipio tuvo más usuarios afectados en 2022?"),
    ("yearly trend of interruptions caused by vegetation", "tendencia anual de las interrupciones por vegetación"),
    ("average duration of interruptions in March 2022", "duración promedio de las interrupciones en marzo de 2022"),
])
def test_english_data_questions_route_like_spanish(store, en, es):
    assert is_data_question(en)
    a_en = Assistant(store, dense=False).ask(en, lang="en")
    a_es = answer_data_question(es, store)
    assert a_en.kind == "data" and a_en.rows == a_es.rows and a_en.sql == a_es.sql


# ---------------------------------------------------------------- 5. corpus CLI
def test_broken_pdf_one_line_no_library_log(tmp_path, capfd, caplog):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")  # no %%EOF
    with caplog.at_level(logging.DEBUG, logger="pypdf"):
        assert run(["corpus", "add", str(bad), "--store", str(tmp_path / "s.duckdb")]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gridcrit: error:"), err
    # without a handler of its own, a pypdf warning ("EOF marker not found") goes to stderr
    assert [r.getMessage() for r in caplog.records if r.name.startswith("pypdf")] == []


def test_corpus_list_prints_no_none_and_takes_lang(tmp_path, capsys):
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(make_pdf(["Artículo 1.1. Objeto\nEste documento sin año fija requisitos de prueba para redes."]))
    store = str(tmp_path / "s.duckdb")
    assert run(["corpus", "add", str(pdf), "--name", "SINANIO", "--store", store, "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "None" not in out and "year —" in out
    assert run(["corpus", "list", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "None" not in out and "año —" in out and "alias: —" in out
    for sub in (["show", "Art. 1.1"], ["remove", "SINANIO"]):
        assert run(["corpus", *sub, "--store", store, "--lang", "en"]) == 0


def test_pdf_progress_reports_pages(tmp_path):
    from gridcrit.assistant.pdf import extract_pages

    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(make_pdf(["Artículo 1. Uno dos tres cuatro.", "Artículo 2. Cinco seis siete ocho."]))
    seen = []
    extract_pages(pdf, progress=lambda d, n: seen.append((d, n)))
    assert seen == [(1, 2), (2, 2)]


# ---------------------------------------------------------------- 6. explicit backends, page citations
def test_requested_llamacpp_without_extra_is_an_error(store, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "llama_cpp" else real(n, *a))
    with pytest.raises(BackendError, match=r"gridcrit\[llamacpp\]"):
        make_backend("llamacpp")
    with pytest.raises(GridcritError, match=r"gridcrit\[llamacpp\]"):
        Assistant(store, backend="llamacpp").ask("hola")


def test_requested_openai_without_config_is_an_error(store, monkeypatch, capsys):
    monkeypatch.delenv("GRIDCRIT_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("GRIDCRIT_LLM_MODEL", raising=False)
    assert run(["ask", "hola", "--backend", "openai", "--store", str(store)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "GRIDCRIT_LLM_BASE_URL" in err


def test_page_anchor_cited_once():
    assert cite_ref("RETIE_anexo_general", "p. 7", 7) == "RETIE_anexo_general, p. 7"
    assert cite_ref("RETIE_anexo_general", "p. 7 ¶2", 7) == "RETIE_anexo_general, p. 7 ¶2"
    assert cite_ref("RETIE", "Art. 13.2", 56) == "RETIE, Art. 13.2, p. 56"
    p = Passage(1, "DOC", "p. 7", 0, "", 7, 7, "La distancia mínima de seguridad es de 2,3 m.", 1.0, 1, None)
    text = ExtractiveBackend().answer("distancia mínima de seguridad", [p]).text
    assert "p. 7, p. 7" not in text and "p. 7 (DOC, p. 7)" not in text and "[1] DOC, p. 7" in text
    assert p.cite() == "DOC, p. 7"


def test_data_question_on_a_store_without_events_says_so(tmp_path, capsys):
    """A store with network tables only answered "¿cuántas interrupciones…?" with "the corpus … is empty"."""
    from gridcrit.data.ingest import ingest
    from ingest_helpers import write_trafos

    s = tmp_path / "net.duckdb"
    ingest([write_trafos(tmp_path / "trafos.csv")], s)
    with pytest.raises(NotFoundError, match="no outage events"):
        Assistant(s).ask("¿Cuántas interrupciones hubo en 2023?")
    rc = run(["ask", "¿Cuántas interrupciones hubo en 2023?", "--store", str(s), "--lang", "es"])
    err = capsys.readouterr().err
    assert rc == NotFoundError.exit_code and "no tiene eventos de interrupción" in err
    # a regulation question on it still says the corpus is missing, in Spanish too
    rc = run(["ask", "¿qué distancia exige el RETIE a un edificio?", "--store", str(s), "--lang", "es"])
    assert rc == NotFoundError.exit_code and "el corpus del almacén" in capsys.readouterr().err
