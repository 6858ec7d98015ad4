"""A folder of broken export files: each is refused with file:row:column, the store is unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridcrit.data.ingest import ingest
from gridcrit.data.store import connect
from gridcrit.errors import ValidationError
from ingest_helpers import EV_HEADER, TRAFO_HEADER, checksums, ev_row, trafo_row, write_events, write_trafos


@pytest.fixture
def store(tmp_path) -> Path:
    """A store already holding 5 events and 5 transformers (the 'before' state)."""
    s = tmp_path / "store.duckdb"
    good = tmp_path / "good"
    good.mkdir()
    write_events(good / "interrupciones.csv")
    write_trafos(good / "trafos.csv")
    ingest([good], s)
    return s


def _lines(header: str, *rows: str) -> str:
    return "\n".join([header, *rows]) + "\n"


# name -> (file content as bytes, expected "file:line:column" fragment, expected words in the message,
#          the same in Spanish)
BROKEN: dict[str, tuple[bytes, str, str, str]] = {
    "missing_column.csv": (
        _lines(
            EV_HEADER.replace(",cnt_usus", ""),
            *(",".join(ev_row(i + 50).split(",")[:13] + ev_row(i + 50).split(",")[14:]) for i in range(2)),
        ).encode(),
        ":1:cnt_usus:",
        "required column",
        "falta en el encabezado la columna obligatoria",
    ),
    "wrong_type.csv": (
        _lines(EV_HEADER, ev_row(60), ev_row(61, usus="muchos")).encode(),
        ":3:cnt_usus:",
        "is not an integer",
        "no es un entero",
    ),
    "fin_before_inicio.csv": (
        _lines(EV_HEADER, ev_row(70, inicio="2019-03-01 10:00:00", fin="2019-03-01 09:00:00")).encode(),
        ":2:fin:",
        "is before inicio",
        "es anterior a inicio",
    ),
    "empty.csv": (b"", ":1:-:", "empty file", "archivo vacío"),
    "leading_empty_line.csv": (  # not 'empty file': the header is just not on line 1
        ("\n" + _lines(EV_HEADER, ev_row(75))).encode(),
        ":1:-:",
        "line 1 is empty: the header must be on line 1",
        "la línea 1 está vacía",
    ),
    "truncated_last_line.csv": (
        (_lines(EV_HEADER, ev_row(80), ev_row(81)) + ev_row(82)[:40]).encode(),
        ":4:",
        "fewer fields",
        "menos campos",
    ),
    "duplicated_rows.csv": (
        _lines(EV_HEADER, ev_row(90), ev_row(91), ev_row(90)).encode(),
        ":4:evento:",
        "duplicated row (identical to line 2)",
        "fila duplicada (idéntica a la línea 2)",
    ),
    "unknown_table.csv": (b"foo,bar,baz\n1,2,3\n", ":1:-:", "matches no known table", "no corresponde a ninguna tabla conocida"),
    "negative_count.csv": (
        _lines(EV_HEADER, ev_row(100, usus="-7")).encode(),
        ":2:cnt_usus:",
        "negative value -7",
        "valor negativo -7",
    ),
    "bad_coordinates.csv": (
        _lines(TRAFO_HEADER, trafo_row(900, lon="5.06", lat="-75.51")).encode(),
        ":2:LONGITUD:",
        "outside",
        "coordenada 5.06 fuera de",
    ),
    "bad_date.csv": (
        _lines(TRAFO_HEADER, trafo_row(901, fecha="2019-02-31")).encode(),
        ":2:FECHA:",
        "is not a date",
        "no es una fecha",
    ),
    "missing_key_value.csv": (
        _lines(TRAFO_HEADER, trafo_row(902), "-" + trafo_row(903)[6:]).encode(),
        ":3:CODE:",
        "missing value in key column",
        "falta el valor en una columna clave",
    ),
    "conflicts_with_store.csv": (  # event 7549800 / SW0000 is stored with 120 customers
        _lines(EV_HEADER, ev_row(0, usus="999")).encode(),
        ":2:evento:",
        "already stored with different values",
        "ya está almacenada con valores distintos (fila en conflicto; difiere en: cnt_usus)",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_file_is_refused_with_location_and_store_unchanged(store, tmp_path, name):
    content, where, words, words_es = BROKEN[name]
    f = tmp_path / name
    f.write_bytes(content)
    before = checksums(store)
    with pytest.raises(ValidationError) as ei:
        ingest([f], store)
    e = ei.value
    assert e.problems, "a refused load must list its problems"
    hit = [p for p in e.problems if p.startswith(str(f) + where) and words in p]
    assert hit, f"expected '{f}{where} ... {words}' in {e.problems}"
    assert "nothing was written" in str(e)
    # the same problems in Spanish (what the CLI prints unless --lang en), same place
    es = e.problem_lines("es")
    assert len(es) == len(e.problems)
    hit = [p for p in es if p.startswith(str(f) + where) and words_es in p]
    assert hit, f"expected '{f}{where} ... {words_es}' in {es}"
    assert "no se escribió nada" in e.text("es")
    assert checksums(store) == before


def test_whole_folder_is_refused_if_one_file_is_bad(store, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    write_events(folder / "a_new_events.csv", n=3, start=200)  # valid on its own
    for name in ("wrong_type.csv", "fin_before_inicio.csv", "truncated_last_line.csv"):
        (folder / name).write_bytes(BROKEN[name][0])
    before = checksums(store)
    with pytest.raises(ValidationError) as ei:
        ingest([folder], store)
    # Every broken file is reported in the same run (validation goes on after the first failure).
    for name in ("wrong_type.csv", "fin_before_inicio.csv", "truncated_last_line.csv"):
        assert any(name in p for p in ei.value.problems), name
    assert not any("a_new_events.csv" in p for p in ei.value.problems)
    assert checksums(store) == before  # the valid file was not loaded either


def test_latin1_semicolon_decimal_comma_loads(store, tmp_path):
    header = "CODE;PHASES;FPARENT;ELNODE;KVA;FECHA;USUARIOS;LONGITUD;LATITUD;DEP;MUN"
    rows = [
        "T90001;ABC;NSA23L14;N1;37,5;31/01/2019;12;-75,512;5,061;CALDAS;CHINCHINÁ",
        "T90002;AB;NSA23L14;N2;-;31/01/2019;XXX;-75,513;5,062;QUINDÍO;SALENTO",
    ]
    f = tmp_path / "trafos_latin1.csv"
    f.write_bytes(("\n".join([header, *rows]) + "\n").encode("latin-1"))
    rep = ingest([f], store)
    (fr,) = rep.files
    assert (fr.table, fr.status, fr.encoding, fr.delimiter, fr.rows_added) == (
        "trafos",
        "loaded",
        "latin-1",
        ";",
        2,
    )
    con = connect(store, read_only=True)
    got = con.execute(
        "SELECT CODE, KVA, USUARIOS, LONGITUD, LATITUD, MUN, FECHA::VARCHAR FROM trafos WHERE CODE LIKE 'T9%' ORDER BY CODE"
    ).fetchall()
    con.close()
    assert got == [
        ("T90001", 37.5, 12, -75.512, 5.061, "CHINCHINÁ", "2019-01-31"),
        ("T90002", None, None, -75.513, 5.062, "SALENTO", "2019-01-31"),
    ]


def test_problem_list_is_capped_but_counts_everything(store, tmp_path):
    f = tmp_path / "many_bad.csv"
    f.write_text(_lines(EV_HEADER, *(ev_row(300 + i, usus="x") for i in range(500))))
    with pytest.raises(ValidationError) as ei:
        ingest([f], store)
    assert ei.value.n_problems == 500
    assert 0 < len(ei.value.problems) <= 20
    assert "500 problem(s)" in str(ei.value)


def test_case_insensitive_header_stores_canonical_names(tmp_path):
    f = tmp_path / "ev.csv"
    f.write_text(_lines(EV_HEADER.upper(), ev_row(1)))
    s = tmp_path / "s.duckdb"
    rep = ingest([f], s)
    assert rep.files[0].table == "interrupciones" and rep.rows_added == 1
    con = connect(s, read_only=True)
    assert con.execute("SELECT cnt_usus, CNT_TRAFOS_AFEC FROM interrupciones").fetchall() == [(120, 4)]
    con.close()


def test_folder_scan_ignores_unrelated_files_but_explicit_file_is_an_error(tmp_path):
    folder = tmp_path / "twin"
    folder.mkdir()
    write_events(folder / "interrupciones.csv", n=2)
    (folder / "truth_events.csv").write_text("evento,driver\n7549800,vegetation\n")
    s = tmp_path / "s.duckdb"
    rep = ingest([folder], s)
    status = {Path(f.file).name: f.status for f in rep.files}
    assert status == {"interrupciones.csv": "loaded", "truth_events.csv": "ignored"}
    with pytest.raises(ValidationError, match="matches no known table"):
        ingest([folder / "truth_events.csv"], s)


def test_parquet_into_empty_table_fast_path_still_reports_records(store, tmp_path, monkeypatch):
    """Big typed Parquet files are inserted first and checked on the stored rows; a bad one is
    removed again and reported with record numbers, the store unchanged."""
    import pandas as pd

    from gridcrit.data import validate

    calls: list[int] = []
    orig = validate.count_problems
    monkeypatch.setattr(validate, "count_problems", lambda *a: calls.append(orig(*a)) or calls[-1])

    n = 50
    df = pd.DataFrame(
        {
            "CODE": [f"P{i}" for i in range(n)],
            "FECHA": pd.to_datetime(["2019-01-31"] * n).date,
            "MATERIAL": "CONCRETO",
            "LONG_APOYO": [12.0] * n,
            "LONGITUD": -75.5,
            "LATITUD": 5.0,
        }
    )
    good = tmp_path / "apoyos_ok.parquet"
    df.to_parquet(good, index=False)
    bad_df = df.copy()
    bad_df.loc[9, "LONG_APOYO"] = -3.0  # record 10
    bad_df.loc[30, "CODE"] = "P3"  # record 31 duplicates record 4
    bad = tmp_path / "apoyos_bad.parquet"
    bad_df.to_parquet(bad, index=False)
    before = checksums(store)
    with pytest.raises(ValidationError) as ei:
        ingest([bad], store)
    probs = ei.value.problems
    assert any(p.startswith(f"{bad}:10:LONG_APOYO: negative value -3") for p in probs), probs
    assert any(p.startswith(f"{bad}:31:CODE: duplicate") and "line 4" in p for p in probs), probs
    assert checksums(store) == before
    rep = ingest([good], store)  # the fast path commits a clean file
    assert rep.rows_added == n and rep.files[0].status == "loaded"
    assert len(calls) == 2 and calls[0] > 0 and calls[1] == 0  # both loads took the fast path
