"""Corpus: PDF text, header/footer removal, citable units, store tables, atomic replace, bad files."""

from __future__ import annotations

import pytest

from gridcrit.assistant.corpus import add_document, list_documents, remove_document, show_units
from gridcrit.assistant.pdf import extract_pages, strip_running_lines
from gridcrit.assistant.sample import SAMPLE_REGULATION, make_pdf
from gridcrit.assistant.segment import segment_pages
from gridcrit.cli import run
from gridcrit.errors import NotFoundError, ValidationError


@pytest.fixture(scope="module")
def sample_pdf(tmp_path_factory):
    p = tmp_path_factory.mktemp("pdf") / "reglamento.pdf"
    p.write_bytes(make_pdf(SAMPLE_REGULATION))
    return p


def test_headers_footers_and_toc_removed():
    words = ["postes", "cables", "tierra", "rayos", "bóvedas"]
    pages = [f"RESOLUCIÓN 40117 Hoja {i} de 5\nArtículo {i}.1. Título\nTexto sobre {w}.\nPágina {i}"
             for i, w in enumerate(words, 1)]
    pages[0] += "\nArtículo 9.9. Algo ........................ 12"
    clean = strip_running_lines(pages)
    assert all("RESOLUCIÓN" not in c and "Página" not in c for c in clean)
    assert all(f"Texto sobre {w}" in c for w, c in zip(words, clean, strict=True))
    assert "....." not in clean[0]


def test_segment_articles_numerals_and_pages():
    pages = [
        "CAPÍTULO 2 – REDES\nARTÍCULO 20º. REQUISITOS DE PRODUCTOS\nIntroducción del artículo veinte.\n"
        "20.2.1 REQUISITOS GENERALES DE PRODUCTO\na. Los cables deben marcarse.\nb. Otro literal.",
        "Continúa el numeral en la página dos.\nArtículo 3.17.4. Bóvedas\nLas bóvedas deben resistir tres horas.",
    ]
    units = segment_pages("D", pages)
    anchors = [(u.anchor, u.page) for u in units]
    assert ("Art. 20", 1) in anchors
    assert ("Art. 20.2.1", 1) in anchors
    assert ("Art. 3.17.4", 2) in anchors
    u = next(u for u in units if u.anchor == "Art. 20.2.1")
    assert "página dos" in u.text and u.page_end == 2
    assert "ARTÍCULO 20" in u.title and "20.2.1" in u.title


def test_mid_sentence_references_are_not_headings():
    units = segment_pages("D", ["Artículo 1.1. Objeto\nSegún el Capítulo 9 del presente Anexo, se cumple.\n"
                                "2.5 m de altura mínima sobre el piso."])
    assert [u.anchor for u in units] == ["Art. 1.1"]


def test_pdf_roundtrip(sample_pdf):
    pages = extract_pages(sample_pdf)
    assert len(pages) == 2 and "Hoja" not in pages[0]
    assert "5,6 m" in pages[0]


def test_add_list_show_remove_and_replace(tmp_path, sample_pdf):
    store = tmp_path / "s.duckdb"
    info = add_document(store, sample_pdf, name="PRUEBA-2020", aliases="reglamento de prueba")
    assert info.units == 4 and info.year == 2020 and info.embedded_new == 4
    assert [d.doc for d in list_documents(store)] == ["PRUEBA-2020"]
    shown = show_units(store, "1.3")
    assert shown[0]["anchor"] == "Art. 1.3" and shown[0]["page"] == 2 and "10 ohmios" in shown[0]["text"]
    # re-adding replaces (no duplicates) and reuses the cached vectors
    again = add_document(store, sample_pdf, name="PRUEBA-2020")
    assert again.embedded_new == 0
    assert len(show_units(store, "Art. 1.3")) == 1
    with pytest.raises(NotFoundError):
        show_units(store, "Art. 99")
    assert remove_document(store, "PRUEBA-2020") == 4
    with pytest.raises(NotFoundError, match="not in the corpus"):
        remove_document(store, "PRUEBA-2020")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "0 bytes"),
        (b"hola, esto no es un PDF", "not a PDF"),
        (b"%PDF-1.4\n garbage without objects", "PDF"),
        (None, "no extractable text"),  # blank pages, like a scanned PDF without OCR
    ],
)
def test_bad_files_leave_store_unchanged(tmp_path, sample_pdf, content, message):
    store = tmp_path / "s.duckdb"
    add_document(store, sample_pdf, name="BUENO")
    bad = tmp_path / "malo.pdf"
    bad.write_bytes(make_pdf(["", "   "]) if content is None else content)
    with pytest.raises(ValidationError, match=message):
        add_document(store, bad, name="BUENO")  # same name: must not replace the good one
    assert len(show_units(store, "Art. 1.2", doc="BUENO")) == 1
    assert [d.units for d in list_documents(store)] == [4]


def test_cli_corpus(tmp_path, sample_pdf, capsys):
    store = tmp_path / "c.duckdb"
    assert run(["corpus", "add", str(sample_pdf), "--name", "PRUEBA", "--store", str(store), "--json"]) == 0
    assert '"units": 4' in capsys.readouterr().out
    assert run(["corpus", "list", "--store", str(store), "--json"]) == 0
    assert "PRUEBA" in capsys.readouterr().out
    assert run(["corpus", "show", "Art. 1.4", "--store", str(store)]) == 0
    assert "DPS" in capsys.readouterr().out
    missing = tmp_path / "nada.pdf"
    assert run(["corpus", "add", str(missing), "--store", str(store)]) != 0
    err = capsys.readouterr().err
    assert "nada.pdf" in err and err.count("\n") == 1
    empty = tmp_path / "vacio.pdf"
    empty.write_bytes(b"")
    assert run(["corpus", "add", str(empty), "--store", str(store)]) == 2
    assert "0 bytes" in capsys.readouterr().err
    assert run(["corpus", "remove", "PRUEBA", "--store", str(store)]) == 0


def test_an_unchanged_pdf_is_read_once_per_process(tmp_path, monkeypatch):
    import os

    import pypdf

    f = tmp_path / "r.pdf"
    f.write_bytes(make_pdf(SAMPLE_REGULATION))
    opened = []
    real = pypdf.PdfReader
    monkeypatch.setattr(pypdf, "PdfReader", lambda *a, **k: opened.append(a) or real(*a, **k))
    first = extract_pages(f)
    assert extract_pages(f) == first and len(opened) == 1
    f.write_bytes(make_pdf(SAMPLE_REGULATION[:1]))  # a new version of the file is read again
    os.utime(f, ns=(1, 1))
    assert extract_pages(f) != first and len(opened) == 2
