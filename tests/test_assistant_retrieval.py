"""Retrieval: routing between overlapping editions, both editions shown when none is named, article
citations, synonyms, BM25/dense/hybrid modes."""

from __future__ import annotations

import pytest

from gridcrit.assistant.corpus import add_document
from gridcrit.assistant.retrieval import Retriever, expand_synonyms, tokenize
from gridcrit.assistant.sample import SAMPLE_REGULATION, make_pdf
from gridcrit.errors import NotFoundError


@pytest.fixture(scope="module")
def retriever(tmp_path_factory):
    d = tmp_path_factory.mktemp("rt")
    old, new = d / "old.pdf", d / "new.pdf"
    old.write_bytes(make_pdf(SAMPLE_REGULATION))
    # the new edition repeats the old text (overlap) and adds an article
    new.write_bytes(make_pdf([*SAMPLE_REGULATION, "Artículo 1.5. Vehículos eléctricos\n"
                                                  "Los cargadores de vehículos eléctricos deben tener protección diferencial."]))
    store = d / "s.duckdb"
    add_document(store, old, name="NORMA-2010", aliases="norma vieja")
    info = add_document(store, new, name="NORMA-2024", aliases="norma nueva")
    assert info.embedded_new == 1  # overlapping clauses reuse the cached vectors
    return Retriever(store)


@pytest.mark.parametrize(
    "question, docs",
    [
        ("¿qué resistencia de puesta a tierra pide la norma de 2010?", ["NORMA-2010"]),
        ("según la norma nueva, ¿qué resistencia de puesta a tierra se pide?", ["NORMA-2024"]),
        ("en la versión anterior, ¿qué resistencia de puesta a tierra se pide?", ["NORMA-2010"]),
        ("en la norma vigente, ¿qué resistencia de puesta a tierra se pide?", ["NORMA-2024"]),
        ("¿qué resistencia de puesta a tierra se pide?", None),
        # one year off the document's (RETIE 2013 = resolución de 2013, anexo headed "NOVIEMBRE DE 2012")
        ("¿qué resistencia de puesta a tierra pedía la norma de 2011?", ["NORMA-2010"]),
        ("¿qué resistencia de puesta a tierra pide la norma de 2017?", None),
    ],
)
def test_route(retriever, question, docs):
    got, why = retriever.route(question)
    assert got == docs, why
    hits = retriever.search(question, k=4)
    assert hits[0].anchor == "Art. 1.3"
    if docs:
        assert {h.doc for h in hits} == set(docs)
    else:  # no edition named: both editions are shown
        assert {h.doc for h in hits} == {"NORMA-2010", "NORMA-2024"}


def test_article_cited_by_number_comes_first(retriever):
    hits = retriever.search("¿qué dice el artículo 1.4 de la norma nueva?", k=3)
    assert (hits[0].doc, hits[0].anchor) == ("NORMA-2024", "Art. 1.4")


def test_colloquial_synonyms():
    assert "transformador" in expand_synonyms("¿el trafo necesita polo a tierra?")
    assert set(tokenize("Transformadores eléctricos")) == set(tokenize("transformador electrico"))
    assert "de" not in tokenize("distancia de seguridad")


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_modes(retriever, mode):
    hits = retriever.search("¿qué hay que hacer en zonas con muchas descargas atmosféricas?", k=2, mode=mode)
    assert hits[0].anchor == "Art. 1.4"
    if mode == "bm25":
        assert all(h.dense_rank is None for h in hits)
    if mode == "dense":
        assert all(h.bm25_rank is None for h in hits)


def test_empty_corpus(tmp_path):
    from gridcrit.data.store import connect

    connect(tmp_path / "e.duckdb").close()
    with pytest.raises(NotFoundError, match="corpus"):
        Retriever(tmp_path / "e.duckdb")


def test_documents_without_year_or_aliases(tmp_path):
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(make_pdf(SAMPLE_REGULATION))
    store = tmp_path / "s.duckdb"
    add_document(store, pdf, name="UNO")
    add_document(store, pdf, name="DOS")
    r = Retriever(store)
    assert r.route("¿qué dice la norma vigente sobre la puesta a tierra?")[0] is None
    hits = r.search("puesta a tierra", k=3)
    assert {h.doc for h in hits} == {"UNO", "DOS"} and hits[0].anchor == "Art. 1.3"
