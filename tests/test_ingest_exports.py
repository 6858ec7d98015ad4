"""Exports the way users bring them: Excel workbooks, headers with accents / blanks / trailing empty
columns, a second file for the same table, Ctrl-C in the middle of a load."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from gridcrit.cli import run
from gridcrit.data import ingest as ing
from gridcrit.data.ingest import ingest
from gridcrit.errors import ValidationError
from ingest_helpers import (
    EV_HEADER,
    TRAFO_HEADER,
    checksums,
    ev_row,
    stored_rows,
    trafo_row,
    write_events,
    write_trafos,
)


def test_xlsx_alone_or_first_in_the_batch_is_loaded(tmp_path, capsys):
    """The batch's first query leaves a result open on the connection; staging a workbook then used
    to fail inside DuckDB (ResourceInUse traceback) instead of loading it."""
    import pandas as pd

    frame = pd.read_csv(write_trafos(tmp_path / "t.csv", n=4))
    frame.to_excel(tmp_path / "trafos.xlsx", index=False)
    store = tmp_path / "s.duckdb"
    assert run(["ingest", str(tmp_path / "trafos.xlsx"), "--store", str(store), "--json"]) == 0
    capsys.readouterr()
    assert stored_rows(store, "SELECT count(*), sum(USUARIOS), min(KVA) FROM trafos") == [(4, 86, 37.5)]


def test_headers_with_accents_blanks_and_trailing_empty_columns(tmp_path):
    """'Período', 'Duración H', 'equipo ope', ' CNT USUS ' name the canonical columns (they used to be
    ignored: stored as NULL without a word, or the file was not recognised); the empty header cells
    Excel leaves after the last column (';;;') are ignored instead of refusing the file."""
    cols = EV_HEADER.split(",")
    spelled = {
        "periodo": "Período",
        "duracion_h": "Duración H",
        "equipo_ope": "equipo ope",
        "cnt_usus": " CNT USUS ",
        "tipo_equi_ope": "Tipo-Equi-Ope",
    }
    header = ";".join(spelled.get(c, c) for c in cols) + ";;;"
    rows = [ev_row(i).replace(",", ";").replace(";2.5;", ";2,5;") + ";;;" for i in range(3)]
    f = tmp_path / "eventos.csv"
    f.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("latin-1"))
    store = tmp_path / "s.duckdb"
    rep = ingest([f], store)
    (fr,) = rep.files
    assert (fr.table, fr.status, fr.rows_added, fr.ignored_columns) == ("interrupciones", "loaded", 3, [])
    assert stored_rows(
        store,
        "SELECT count(periodo), sum(duracion_h), count(equipo_ope), sum(cnt_usus), min(tipo_equi_ope) "
        "FROM interrupciones",
    ) == [(3, 7.5, 3, 360, "interruptor")]


def test_a_column_given_twice_under_two_spellings_is_refused(tmp_path):
    f = tmp_path / "ev.csv"
    f.write_text(EV_HEADER + ",Período\n" + ev_row(1) + ",201902\n")
    with pytest.raises(ValidationError) as ei:
        ingest([f], tmp_path / "s.duckdb")
    assert f"{f}:1:periodo: column periodo appears more than once in the header (periodo, Período)" in (
        ei.value.problems
    )


def test_conflict_names_the_differing_columns_and_the_earlier_file_of_the_batch(tmp_path):
    """A corrected re-export next to the original in one folder: the conflicting row is not in the
    store yet but in the other file, and the user needs to know which values differ."""
    folder = tmp_path / "exports"
    folder.mkdir()
    write_events(folder / "a.csv", n=3)
    (folder / "b.csv").write_text("\n".join([EV_HEADER, ev_row(0), ev_row(1, usus="999")]) + "\n")
    store = tmp_path / "s.duckdb"
    with pytest.raises(ValidationError) as ei:
        ingest([folder], store)
    (p,) = ei.value.problems
    assert p.startswith(f"{folder / 'b.csv'}:3:evento: key (evento=7549801, equipo_ope=SW0001")
    assert "earlier file of this load (a.csv)" in p and p.endswith("differs in: cnt_usus)")
    (p_es,) = ei.value.problem_lines("es")
    assert "archivo anterior de esta carga (a.csv)" in p_es and p_es.endswith("difiere en: cnt_usus)")


def _interrupt_during_a_query(monkeypatch) -> dict[str, bool]:
    """Make validation run a long DuckDB query and press Ctrl-C (SIGINT to this process) 0.3 s in."""
    state = {"stuck": False}
    orig = ing.val.check_duplicates

    def slow(con, *a, **k):
        timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
        # Safety net so a missed signal fails the test instead of hanging it.
        guard = threading.Timer(30, lambda: (state.update(stuck=True), con.interrupt()))
        timer.start()
        guard.start()
        try:
            con.execute("SELECT count(*) FROM range(100000000000) t(i) WHERE hash(i) % 7 = 3").fetchall()
        finally:
            timer.cancel()
            guard.cancel()
        return orig(con, *a, **k)

    monkeypatch.setattr(ing.val, "check_duplicates", slow)
    return state


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
def test_ctrl_c_mid_load_is_a_keyboard_interrupt_and_writes_nothing(tmp_path, monkeypatch):
    store = tmp_path / "s.duckdb"
    ingest([write_events(tmp_path / "old.csv", n=3)], store)
    before = checksums(store)
    state = _interrupt_during_a_query(monkeypatch)
    with pytest.raises(KeyboardInterrupt):  # DuckDB reports it as RuntimeError('Query interrupted')
        ingest([write_trafos(tmp_path / "trafos.csv"), write_events(tmp_path / "new.csv", 3, 10)], store)
    assert not state["stuck"]
    assert checksums(store) == before


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("lang, words", [("es", "carga interrumpida"), ("en", "ingest interrupted")])
def test_cli_ctrl_c_mid_load_says_so_in_one_line(tmp_path, monkeypatch, capsys, lang, words):
    store = tmp_path / "s.duckdb"
    ingest([write_events(tmp_path / "old.csv", n=3)], store)
    before = checksums(store)
    _interrupt_during_a_query(monkeypatch)
    code = run(["ingest", str(write_events(tmp_path / "new.csv", 3, 10)), "--store", str(store),
                "--json", "--lang", lang])
    assert code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"gridcrit: error: {words}") and str(store) in err[0]
    assert checksums(store) == before


def test_line_numbers_stay_exact_after_empty_and_rejected_lines(tmp_path):
    """DuckDB skips empty lines and stages no rejected line: the rows after them used to be reported
    lines too early (a bad value on line 9 shown as line 6), and a truncated line was listed once per
    missing field."""
    rows = [trafo_row(i) for i in range(6)]
    lines = [
        TRAFO_HEADER,  # 1
        rows[0],  # 2
        "",  # 3
        "",  # 4
        rows[1],  # 5
        "T00099,ABC",  # 6: truncated (9 of 11 fields missing)
        rows[2],  # 7
        rows[3].replace(",37.5,", ",abc,"),  # 8
        "",  # 9
        rows[1],  # 10: identical to line 5
    ]
    f = tmp_path / "trafos.csv"
    f.write_bytes(("\r\n".join(lines) + "\r\n").encode())  # Windows line ends: empty line = "\r\n"
    with pytest.raises(ValidationError) as ei:
        ingest([f], tmp_path / "s.duckdb")
    assert ei.value.problems == [
        f"{f}:6:FPARENT: row has fewer fields (2) than the header's 11 (truncated line?)",
        f"{f}:8:KVA: value abc is not a number",
        f"{f}:10:CODE: duplicated row (identical to line 5)",
    ]
    assert ei.value.n_problems == 3


def test_twelve_hour_times_as_spanish_excel_writes_them(tmp_path):
    f = tmp_path / "eventos.csv"
    f.write_text(
        "\n".join(
            [
                EV_HEADER,
                ev_row(1, inicio="5/01/2019 11:50:00 a. m.", fin="5/01/2019 12:10:00 p. m."),
                ev_row(2, inicio="05/01/2019 12:05 a.m.", fin="05/01/2019 1:30 PM"),
            ]
        )
        + "\n"
    )
    store = tmp_path / "s.duckdb"
    ingest([f], store)
    assert stored_rows(store, "SELECT inicio::VARCHAR, fin::VARCHAR FROM interrupciones ORDER BY evento") == [
        ("2019-01-05 11:50:00", "2019-01-05 12:10:00"),
        ("2019-01-05 00:05:00", "2019-01-05 13:30:00"),
    ]


def test_excel_unicode_text_export_utf16_tabs(tmp_path):
    """Excel's 'Texto Unicode (*.txt)': UTF-16 with BOM, tab-separated (was refused as an unknown header
    of garbled characters)."""
    lines = [TRAFO_HEADER, trafo_row(1).replace("MANIZALES", "CHINCHINÁ"), trafo_row(2)]
    f = tmp_path / "trafos.txt"
    f.write_bytes(("\r\n".join(lines).replace(",", "\t") + "\r\n").encode("utf-16"))
    store = tmp_path / "s.duckdb"
    (fr,) = ingest([f], store).files
    assert (fr.table, fr.encoding, fr.delimiter, fr.rows_added) == ("trafos", "utf-16", "\t", 2)
    assert stored_rows(store, "SELECT CODE, KVA, MUN FROM trafos ORDER BY CODE") == [
        ("T00001", 37.5, "CHINCHINÁ"),
        ("T00002", 37.5, "MANIZALES"),
    ]


def test_same_rows_with_numbers_rounded_to_15_digits_are_not_conflicts(tmp_path):
    """Re-loading an export saved through Excel (15 significant digits) is a no-op, not 'already
    stored with different values'; a real change of a number still is a conflict, naming the column."""
    store = tmp_path / "s.duckdb"
    first = tmp_path / "trafos_2019.csv"
    first.write_text(f"{TRAFO_HEADER}\n{trafo_row(1, lon='-75.51234567890123', lat='5.061234567890123')}\n")
    ingest([first], store)
    resaved = tmp_path / "trafos_2019_excel.csv"
    resaved.write_text(f"{TRAFO_HEADER}\n{trafo_row(1, lon='-75.5123456789012', lat='5.06123456789012')}\n")
    (fr,) = ingest([resaved], store).files
    assert (fr.status, fr.rows_added, fr.skipped_duplicates) == ("loaded", 0, 1)
    moved = tmp_path / "trafos_2019_moved.csv"
    moved.write_text(f"{TRAFO_HEADER}\n{trafo_row(1, lon='-75.5124', lat='5.061234567890123')}\n")
    with pytest.raises(ValidationError) as ei:
        ingest([moved], store)
    assert ei.value.problems[0].endswith("already stored with different values (conflicting row; differs in: LONGITUD)")
    assert stored_rows(store, "SELECT count(*), max(LONGITUD) FROM trafos") == [(1, -75.51234567890123)]


def test_numeric_code_text_after_an_excel_round_trip_is_not_a_conflict(tmp_path):
    """CHEC's export writes ``causa`` as '30.0'; saved through Excel it comes back as '30'. Re-loading
    it was 'already stored with different values (differs in: causa)', which refused the whole batch.
    The stored text is kept; a different code is still a conflict."""
    store = tmp_path / "s.duckdb"
    write_events(tmp_path / "ev.csv", n=3)
    ingest([tmp_path / "ev.csv"], store)
    resaved = tmp_path / "ev_excel.csv"
    resaved.write_text((tmp_path / "ev.csv").read_text().replace(",30.0,", ",30,"))
    (fr,) = ingest([resaved], store).files
    assert (fr.status, fr.rows_added, fr.skipped_duplicates) == ("loaded", 0, 3)
    other = tmp_path / "ev_other_cause.csv"
    other.write_text((tmp_path / "ev.csv").read_text().replace(",30.0,", ",27,"))
    with pytest.raises(ValidationError) as ei:
        ingest([other], store)
    assert ei.value.problems[0].endswith("(conflicting row; differs in: causa)")
    assert stored_rows(store, "SELECT DISTINCT causa FROM interrupciones") == [("30.0",)]


def test_header_only_file_in_a_folder_is_empty_not_a_refused_batch(tmp_path, capsys):
    """A month without strokes or new switches comes as a header alone. It refused the whole folder
    ('no data rows (header only)'), so the events beside it could not be loaded without deleting it."""
    folder = tmp_path / "export"
    folder.mkdir()
    write_events(folder / "interrupciones.csv", n=3)
    (folder / "trafos_2019_02.csv").write_text(TRAFO_HEADER + "\n")
    store = tmp_path / "s.duckdb"
    assert run(["ingest", str(folder), "--store", str(store), "--lang", "es"]) == 0
    out = capsys.readouterr().out
    assert "trafos_2019_02.csv: sin filas de datos (solo el encabezado): no hay nada que cargar" in out
    assert stored_rows(store, "SELECT count(*) FROM interrupciones") == [(3,)]
    assert stored_rows(store, "SELECT count(*) FROM trafos") == [(0,)]
    rep = ingest([folder / "trafos_2019_02.csv"], store)
    assert [(f.status, f.table, f.rows_added) for f in rep.files] == [("empty", "trafos", 0)]


def test_old_excel_files_are_named_not_silently_skipped(tmp_path, capsys):
    """A folder scan used to skip .xls files without a word (the table simply stayed empty); a named
    .xls file was 'cannot read file: unsupported file type'."""
    folder = tmp_path / "exports"
    folder.mkdir()
    write_events(folder / "interrupciones.csv", n=2)
    (folder / "trafos.xls").write_bytes(b"\xd0\xcf\x11\xe0 old binary workbook")
    store = tmp_path / "s.duckdb"
    rep = ingest([folder], store)
    assert {Path(f.file).name: (f.status, f.note) for f in rep.files}["trafos.xls"] == (
        "ignored",
        ".xls files cannot be read: save it as .xlsx or CSV",
    )
    assert run(["ingest", str(folder), "--store", str(store)]) == 0
    assert "trafos.xls: ignorado, no se pueden leer archivos .xls: guárdelo como .xlsx o CSV" in " ".join(
        capsys.readouterr().out.split()
    )
    with pytest.raises(ValidationError) as ei:
        ingest([folder / "trafos.xls"], store)
    assert ei.value.problem_lines("es") == [
        f"{folder / 'trafos.xls'}:1:-: no se pueden leer archivos .xls: guárdelo como .xlsx o CSV"
    ]


def test_blank_workbook_is_an_empty_file(tmp_path):
    import pandas as pd

    f = tmp_path / "trafos.xlsx"
    pd.DataFrame().to_excel(f, index=False)
    with pytest.raises(ValidationError) as ei:
        ingest([f], tmp_path / "s.duckdb")
    assert ei.value.problems == [f"{f}:1:-: empty file (no header, no rows)"]
