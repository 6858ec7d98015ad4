"""Fresh-eyes review of loading the utility's exports the way a CHEC engineer brings them: CSV saved
by Excel in a Spanish locale (``;``, decimal comma, Windows-1252, dd/mm/yyyy, trailing ``;;;;`` rows),
workbooks, a second month's export overlapping the first, the real vegetation sample re-saved."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from gridcrit.data.ingest import ingest
from gridcrit.errors import ValidationError
from ingest_helpers import EV_HEADER, TRAFO_HEADER, checksums, ev_row, stored_rows, trafo_row, write_events


def _es_row(i: int, usus: str = "120", inicio: str = "05/01/2019 10:00:00") -> str:
    """ev_row(i) as Excel writes it in a Spanish locale: ';', decimal comma, dd/mm/yyyy."""
    return (
        f"{7549800 + i};201901;SW{i:04d};interruptor;NSA23L14;13,2;{inicio};05/01/2019 12:30:00;2,5;> 3 min;"
        f"30,0;NP;4;{usus};0,0006;0,00024"
    )


def _write_es(path: Path, rows: list[str], tail: str = "") -> Path:
    path.write_bytes(("\r\n".join([EV_HEADER.replace(",", ";"), *rows]) + "\r\n" + tail).encode("cp1252"))
    return path


def test_rows_of_empty_cells_left_by_excel_are_skipped_not_refused(tmp_path):
    """Excel saves the formatted but empty rows below the data as ';;;;' lines (and a workbook keeps
    rows of blank cells): they used to be refused as rows with missing keys and duplicated rows."""
    import openpyxl

    blank = ";" * 15
    f = _write_es(
        tmp_path / "eventos.csv", [_es_row(0), blank, _es_row(1)], tail=f"{blank}\r\n {blank}\r\n" * 3
    )
    store = tmp_path / "s.duckdb"
    (fr,) = ingest([f], store).files
    assert (fr.status, fr.rows_in_file, fr.rows_added) == ("loaded", 2, 2)

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(TRAFO_HEADER.split(","))
    for i in range(3):
        ws.append(trafo_row(i).split(","))
    for _ in range(4):
        ws.append([" ", None, ""])
    wb.save(tmp_path / "trafos.xlsx")
    (fr,) = ingest([tmp_path / "trafos.xlsx"], store).files
    assert (fr.status, fr.rows_in_file, fr.rows_added) == ("loaded", 3, 3)
    # a row that is only partly empty is still checked (its line is exact after the skipped ones)
    bad = _write_es(tmp_path / "bad.csv", [_es_row(5), blank, ";" * 3 + "x" + ";" * 12])
    with pytest.raises(ValidationError) as ei:
        ingest([bad], store)
    assert ei.value.problems[0] == f"{bad}:4:evento: missing value in key column"


def test_integer_with_a_thousands_separator_or_a_fraction_is_refused(tmp_path):
    """cnt_usus '1.234' (1234 customers in a Spanish-locale export) was stored as 1, and '12.5' as 13:
    DuckDB's text-to-integer cast rounds. Now each is a clear problem, in English and Spanish."""
    f = _write_es(
        tmp_path / "eventos.csv",
        [
            _es_row(0, usus="1.234"),
            _es_row(1, usus="12.5"),
            _es_row(2, usus="12,0"),
            _es_row(3, usus="7.549.809"),
        ],
    )
    store = tmp_path / "s.duckdb"
    with pytest.raises(ValidationError) as ei:
        ingest([f], store)
    e = ei.value
    assert e.n_problems == 3
    assert (
        f"{f}:2:cnt_usus: value 1.234 has a thousands separator: write it without one "
        "(1234, or 1234,5 / 1234.5)"
        in e.problems
    )
    assert f"{f}:3:cnt_usus: value 12.5 is not an integer" in e.problems
    assert (
        f"{f}:5:cnt_usus: el valor 7.549.809 tiene separador de miles: escríbalo sin él "
        "(1234, o 1234,5 / 1234.5)"
        in e.problem_lines("es")
    )
    assert not (tmp_path / "s.duckdb").exists() or stored_rows(store, "SELECT count(*) FROM interrupciones") == [
        (0,)
    ]


def test_nan_and_infinity_text_are_not_numbers(tmp_path):
    """'NaN' (a notebook's str() of a missing value) was stored as NaN and turned every SAIDI sum
    into NaN; 'inf' likewise."""
    rows = [ev_row(0).replace(",2.5,", ",NaN,"), ev_row(1).replace(",0.0006,", ",inf,")]
    f = tmp_path / "eventos.csv"
    f.write_text("\n".join([EV_HEADER, *rows]) + "\n")
    with pytest.raises(ValidationError) as ei:
        ingest([f], tmp_path / "s.duckdb")
    assert ei.value.problems == [
        f"{f}:2:duracion_h: value NaN is not a number",
        f"{f}:3:SAIDI: value inf is not a number",
    ]


def test_spanish_reexport_overlapping_the_first_month_is_recognised_row_by_row(tmp_path):
    """The second export (Spanish Excel: '30,0', '13,2', dd/mm/yyyy, decimal comma, cp1252) repeats
    the first one's rows: they are the same rows (skipped), not conflicts on 'causa'. The cause code is
    stored as '30.0', which the cause groups read as code 30 ('30,0' read as no code at all)."""
    store = tmp_path / "s.duckdb"
    ingest([write_events(tmp_path / "enero.csv", n=3)], store)
    f = _write_es(tmp_path / "enero_febrero.csv", [_es_row(i) for i in range(5)])
    (fr,) = ingest([f], store).files
    assert (fr.status, fr.rows_added, fr.skipped_duplicates) == ("loaded", 2, 3)
    assert stored_rows(
        store, "SELECT DISTINCT causa, tipo_elemento, TRY_CAST(causa AS DOUBLE) FROM interrupciones"
    ) == [("30.0", "13.2", 30.0)]
    assert stored_rows(store, "SELECT count(*), sum(duracion_h), min(inicio)::VARCHAR FROM interrupciones") == [
        (5, 12.5, "2019-01-05 10:00:00")
    ]


def test_a_two_digit_year_is_shown_as_written(tmp_path):
    """'12/01/19' used to be reported as 'date 0019-01-12 ...' (or 0012-01-19): the value the user
    typed was not in the message."""
    f = _write_es(tmp_path / "eventos.csv", [_es_row(0, inicio="05/01/19 10:00")])
    with pytest.raises(ValidationError) as ei:
        ingest([f], tmp_path / "s.duckdb")
    (line,) = ei.value.problems
    assert line.startswith(
        f"{f}:2:inicio: date 05/01/19 10:00 (read as 0019-01-05 10:00:00) is outside 1900..2100"
    )
    assert "(¿año de 2 dígitos o error de digitación?)" in ei.value.problem_lines("es")[0]


def test_workbook_header_is_read_as_written(tmp_path):
    """pandas renamed a repeated header cell ('FECHA', 'FECHA.1'): the second column was silently
    ignored, where the same header in a CSV is refused."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([*TRAFO_HEADER.split(","), "FECHA", None, "Observación"])
    ws.append([*trafo_row(0).split(","), "28/02/2019", None, "x"])
    wb.save(tmp_path / "trafos.xlsx")
    with pytest.raises(ValidationError) as ei:
        ingest([tmp_path / "trafos.xlsx"], tmp_path / "s.duckdb")
    assert ei.value.problems == [
        f"{tmp_path / 'trafos.xlsx'}:1:FECHA: column FECHA appears more than once in the header "
        "(FECHA, FECHA)"
    ]
    # an empty header cell is not a column named 'Unnamed: 12' (it was listed among the ignored columns)
    ws.delete_cols(12)
    wb.save(tmp_path / "trafos.xlsx")
    (fr,) = ingest([tmp_path / "trafos.xlsx"], tmp_path / "s.duckdb").files
    assert (fr.status, fr.rows_added, fr.ignored_columns) == ("loaded", 1, ["Observación"])


def test_an_export_lacking_a_signature_column_is_told_which(tmp_path, capsys):
    """A TRAFOS export without ELNODE (a required column that also identifies the table) was
    'header matches no known table' followed by every table's signature."""
    cols = TRAFO_HEADER.split(",")
    keep = [i for i, c in enumerate(cols) if c != "ELNODE"]
    f = tmp_path / "TRAFOS_2024.csv"
    f.write_text(
        "\n".join(",".join(r.split(",")[i] for i in keep) for r in [TRAFO_HEADER, trafo_row(0)]) + "\n"
    )
    with pytest.raises(ValidationError) as ei:
        ingest([f], tmp_path / "s.duckdb")
    assert ei.value.problems == [
        f"{f}:1:ELNODE: the header lacks column(s) ELNODE of table trafos "
        "(a trafos file is recognised by: CODE, ELNODE, FPARENT, KVA)"
    ]
    assert ei.value.problem_lines("es")[0].startswith(
        f"{f}:1:ELNODE: al encabezado le faltan la(s) columna(s) ELNODE"
    )
    # met in a folder it is still ignored (a folder holds other files), with the reason in the report
    write_events(tmp_path / "eventos.csv", n=2)
    rep = ingest([tmp_path], tmp_path / "s.duckdb")
    (fr,) = [r for r in rep.files if r.file == str(f)]
    assert fr.status == "ignored" and "closest: trafos, which needs column(s) ELNODE" in fr.note
    assert fr.closest_table == "trafos" and fr.missing_columns == ["ELNODE"]
    # and the CLI's table says it too, not only --json (it printed "matches no known table")
    from gridcrit.cli import run

    for lang, words in (("es", "se parece a trafos, a la que le faltan las columnas ELNODE"),
                        ("en", "closest is trafos, which needs column(s) ELNODE")):
        assert run(["ingest", str(tmp_path), "--store", str(tmp_path / f"c{lang}.duckdb"), "--lang", lang]) == 0
        assert words in " ".join(capsys.readouterr().out.split())


def test_windows_1252_csv_saved_by_excel_loads(tmp_path, monkeypatch):
    """A CSV saved by Excel on Windows is Windows-1252: '…', '“', '–' are bytes 0x80-0x9F, which
    DuckDB's     Latin-1 reader refused ('cannot read file: ... File is not latin-1 encoded' at line 1)."""
    header = "CODE;ASSEMBLY;TOWNER;FECHA;TIPO;CLASE;MATERIAL;LONG_APOYO;LONGITUD;LATITUD;DEP;MUN"
    rows = [
        "A00001;Poste “H”;CHEC;31/01/2019;Retención…;8 – 510;CONCRETO;12,0;-75,51;5,06;CALDAS;"
        "MANIZALES",
        "A00002;Poste;CHEC;31/01/2019;Suspensión;12;CONCRETO;10;-75,52;5,07;QUINDÍO;PEÑAS",
    ]
    f = tmp_path / "APOYOS.csv"
    f.write_bytes("\r\n".join([header, *rows, ";" * 11]).encode("cp1252"))
    store = tmp_path / "s.duckdb"
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where the UTF-8 copy is made
    (fr,) = ingest([f], store).files
    assert (fr.status, fr.rows_added, fr.encoding, fr.delimiter) == ("loaded", 2, "windows-1252", ";")
    assert stored_rows(store, "SELECT ASSEMBLY, TIPO, CLASE, LONG_APOYO, MUN FROM apoyos ORDER BY CODE") == [
        ("Poste “H”", "Retención…", "8 – 510", 12.0, "MANIZALES"),
        ("Poste", "Suspensión", "12", 10.0, "PEÑAS"),
    ]
    assert not list((tmp_path / "tmp").iterdir())  # the UTF-8 copy is removed


def _spanish_excel_resave(src: Path, dest: Path) -> Path:
    """``src`` (UTF-8, ',', ISO dates, decimal point) as Excel es-CO saves it: cp1252, ';', lower-case
    header, decimal comma, dd/mm/yyyy, empty rows at the end."""
    import csv
    import io

    rows = list(csv.reader(src.read_text(encoding="utf-8").splitlines()))
    header = rows[0]
    num = [header.index(c) for c in ("DAP_ESTIM", "LONG_INTER", "LONGITUD", "LATITUD")]
    fecha = header.index("FECHA")
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow([c.lower() for c in header])
    for r in rows[1:]:
        for i in num:
            r[i] = r[i].replace(".", ",")
        y, m, d = r[fecha][:10].split("-")
        r[fecha] = f"{d}/{m}/{y}"
        w.writerow(r)
    for _ in range(3):
        w.writerow([""] * len(header))
    dest.write_bytes(buf.getvalue().encode("cp1252"))
    return dest


def test_real_vegetation_sample_resaved_by_spanish_excel_is_the_same_data(shared_data, tmp_path):
    """VegetacionExistente.csv holds '…' (24 'Seleccione…'): re-saved by Excel it could be read
    neither by ``ingest`` (not latin-1) nor by ``data load-vegetation`` (a pandas traceback)."""
    import pandas as pd

    from gridcrit.data.real import load_vegetation

    src = shared_data / "chec" / "VegetacionExistente.csv"
    resaved = _spanish_excel_resave(src, tmp_path / "vegetacion_es.csv")
    store = tmp_path / "s.duckdb"
    assert ingest([src], store).rows_added == 18482
    (fr,) = ingest([resaved], store).files
    assert (fr.encoding, fr.rows_in_file, fr.rows_added, fr.skipped_duplicates) == (
        "windows-1252",
        18482,
        0,
        18482,
    )

    a, ra = load_vegetation(src)
    b, rb = load_vegetation(resaved)
    pd.testing.assert_frame_equal(a, b)
    assert {k: v for k, v in ra.items() if k != "file"} == {k: v for k, v in rb.items() if k != "file"}


def test_vegetation_dates_are_read_day_first(tmp_path):
    """pd.to_datetime guessed the format from the first value: '12/01/2024' became 1 December and
    '30/11/2023' after it became missing."""
    from datetime import date

    from gridcrit.data.real import load_vegetation

    f = tmp_path / "veg.csv"
    f.write_text(
        "NOM_COMUN,FECHA,NIVEL_RIES,CIRCUITO_TRAMO\nGUADUA,12/01/2024,Alto,ESM40L27\n"
        "YARUMO,30/11/2023,Bajo,ESM40L27\nNOGAL,2023-11-30,Medio,ESM40L27\n"
    )
    frame, _ = load_vegetation(f)
    assert frame["FECHA"].tolist() == [date(2024, 1, 12), date(2023, 11, 30), date(2023, 11, 30)]


def test_the_progress_bar_writes_nothing_when_not_on_a_terminal(tmp_path, capsys):
    """A rich Progress writes a newline to its console even when that is a pipe: a refused load left a
    blank line on stdout, and the human output started with one."""
    f = _write_es(tmp_path / "eventos.csv", [_es_row(0, usus="abc")])
    with pytest.raises(ValidationError):
        ingest([f], tmp_path / "s.duckdb", progress=True)
    assert capsys.readouterr().out == ""
    ingest([write_events(tmp_path / "ok.csv", n=2)], tmp_path / "s.duckdb", progress=True)
    assert capsys.readouterr().out == ""


def test_code_column_written_as_float_in_parquet_keeps_the_integer_text(tmp_path):
    """pandas writes an integer node-id column with a missing value as float: '19057918.0' did not
    join the transformers' ELNODE '19057918'."""
    import numpy as np
    import pandas as pd

    pd.DataFrame(
        {
            "CODE": ["MT1", "MT2"],
            "FPARENT": ["C1", "C1"],
            "ELNODE1": [19057918.0, np.nan],
            "ELNODE2": [19057928, 19057929],
            "ORDER_": [1, -1],
            "FECHA": pd.to_datetime(["2019-01-31"] * 2),
            "LENGTH": [1.5, 2.25],
        }
    ).to_parquet(tmp_path / "redmt.parquet")
    store = tmp_path / "s.duckdb"
    ingest([tmp_path / "redmt.parquet"], store)
    assert stored_rows(store, "SELECT ELNODE1, ELNODE2, LENGTH FROM redmt ORDER BY CODE") == [
        ("19057918", "19057928", 1.5),
        (None, "19057929", 2.25),
    ]


def test_day_first_dates_parse_to_the_same_values_as_iso_dates(tmp_path):
    """dd/mm/yyyy (the Colombian export format) went through two or three failing casts/formats per
    value (17x slower than ISO; speed: benchmarks/bench_date_parse.py). Same values as ISO dates."""
    import duckdb

    from gridcrit.data.validate import parse_expr

    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute(
        "CREATE TABLE d AS SELECT strftime(DATE '2019-01-31' + (i % 2000)::INT, '%d/%m/%Y') AS dmy, "
        "strftime(DATE '2019-01-31' + (i % 2000)::INT, '%Y-%m-%d') AS iso FROM range(20000) t(i)"
    )
    assert con.execute(
        f"SELECT count(*) FROM d WHERE {parse_expr('dmy', 'VARCHAR', 'DATE')} IS DISTINCT FROM iso::DATE"
    ).fetchone() == (0,)
    cases = {
        "12/01/2024": "2024-01-12 00:00:00",
        "12/01/2024 14:30": "2024-01-12 14:30:00",
        "1/2/2024 3:07:00 p. m.": "2024-02-01 15:07:00",
        "2024/01/12 14:30:00": "2024-01-12 14:30:00",
        "2024-01-12T14:30:00": "2024-01-12 14:30:00",
        "12/1/2024 2:30:00 PM": "2024-01-12 14:30:00",
        "31/02/2024": None,
        "12-01-2024": None,
    }
    expr = parse_expr("x", "VARCHAR", "TIMESTAMP")
    got = {
        v: con.execute(f"SELECT ({expr})::VARCHAR FROM (SELECT ?::VARCHAR AS x)", [v]).fetchone()[0]
        for v in cases
    }
    assert got == cases


def test_refused_batch_with_the_new_rules_writes_nothing(tmp_path):
    """The new refusals (thousands separator, non-finite number) refuse the whole batch like any other."""
    store = tmp_path / "s.duckdb"
    ingest([write_events(tmp_path / "a.csv", n=2)], store)
    before = checksums(store)
    good = write_events(tmp_path / "b.csv", n=3, start=10)
    bad = _write_es(tmp_path / "c.csv", [_es_row(20, usus="2.500")])
    with pytest.raises(ValidationError) as ei:
        ingest([good, bad], store)
    assert ei.value.n_problems == 1 and checksums(store) == before


def test_an_overlapping_export_whose_times_lost_their_seconds_is_refused(tmp_path):
    """Excel saves a date-time as displayed (d/mm/yyyy h:mm): an overlapping month re-saved through it
    has 'inicio' without seconds, its keys matched no stored row and every event of the overlap was
    stored a second time (SAIFI doubled there) without a word."""
    store = tmp_path / "s.duckdb"
    first = tmp_path / "enero.csv"
    first.write_text(
        "\n".join([EV_HEADER, *(ev_row(i, inicio=f"2019-01-05 10:00:{10 + i}") for i in range(3))]) + "\n"
    )
    ingest([first], store)
    before = checksums(store)
    again = tmp_path / "enero_excel.csv"
    again.write_text("\n".join([EV_HEADER, *(ev_row(i, inicio="05/01/2019 10:00") for i in range(4))]) + "\n")
    with pytest.raises(ValidationError) as ei:
        ingest([again], store)
    assert ei.value.n_problems == 3 and checksums(store) == before
    assert ei.value.problems[0] == (
        f"{again}:2:inicio: key (evento=7549800, equipo_ope=SW0000, inicio=2019-01-05 10:00:00) differs "
        "from the stored row with inicio 2019-01-05 10:00:10 only in the seconds (times saved without "
        "seconds, e.g. through "
        "Excel? format them dd/mm/yyyy hh:mm:ss): the same row would be stored twice"
    )
    assert "solo en los segundos" in ei.value.problem_lines("es")[0]
    # a genuinely new restoration step of the same event, minutes later, is not affected
    later = tmp_path / "febrero.csv"
    later.write_text("\n".join([EV_HEADER, ev_row(0, inicio="2019-01-05 10:05:00")]) + "\n")
    assert ingest([later], store).rows_added == 1


def test_a_file_with_utf8_and_windows_1252_lines_is_read_line_by_line(tmp_path):
    """A UTF-8 month appended to a Windows-1252 one: the file is not valid UTF-8, and read as Latin-1
    its UTF-8 lines silently became 'RetenciÃ³n', 'PeÃ±as' (names that join nothing)."""
    header = "CODE;ASSEMBLY;TOWNER;FECHA;TIPO;CLASE;MATERIAL;LONG_APOYO;LONGITUD;LATITUD;DEP;MUN\r\n"
    row = "A00001;Poste “H”;CHEC;{};Retención…;8;CONCRETO;12,0;-75,51;5,06;Quindío;Peñas\r\n"
    f = tmp_path / "apoyos.csv"
    f.write_bytes(
        header.encode() + row.format("31/01/2019").encode("cp1252") + row.format("28/02/2019").encode()
    )
    store = tmp_path / "s.duckdb"
    (fr,) = ingest([f], store).files
    assert (fr.encoding, fr.rows_added) == ("utf-8+windows-1252", 2)
    assert stored_rows(store, "SELECT DISTINCT ASSEMBLY, TIPO, DEP, MUN FROM apoyos") == [
        ("Poste “H”", "Retención…", "Quindío", "Peñas")
    ]


def test_an_export_file_given_as_the_store_is_refused_not_loaded_into_memory(tmp_path, capsys):
    """DuckDB opens an existing .csv/.parquet path as an empty in-memory database: 'ingest --store
    eventos.csv' reported 'Load 1: N new rows' and saved nothing."""
    from gridcrit.cli import run

    export = write_events(tmp_path / "eventos.csv", n=2)
    text = export.read_bytes()
    assert (
        run(
            ["ingest", str(write_events(tmp_path / "otros.csv", n=3)), "--store", str(export), "--lang", "en"]
        )
        == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"gridcrit: error: {export} is not a gridcrit store: DuckDB would open it as a temporary "
        "in-memory database"
        " and nothing would be saved (an export file given as --store?); name the store file *.duckdb"
    ]
    assert export.read_bytes() == text


def test_a_stored_load_without_seconds_and_a_new_export_with_them_are_the_same_rows(tmp_path):
    """The other way round: the first month went through Excel (no seconds), the full export follows."""
    store = tmp_path / "s.duckdb"
    first = tmp_path / "enero_excel.csv"
    first.write_text("\n".join([EV_HEADER, ev_row(0, inicio="05/01/2019 10:00")]) + "\n")
    ingest([first], store)
    full = tmp_path / "enero.csv"
    full.write_text("\n".join([EV_HEADER, ev_row(0, inicio="2019-01-05 10:00:10"), ev_row(1)]) + "\n")
    with pytest.raises(ValidationError) as ei:
        ingest([full], store)
    assert (
        ei.value.n_problems == 1
        and "with inicio 2019-01-05 10:00:00 only in the seconds" in ei.value.problems[0]
    )


def test_duckdb_draws_no_progress_bar_on_stdout_during_a_load():
    """Run from `python -c` (or a notebook), DuckDB printed ' 30% ▕████ ▏' bars on stdout during the
    long queries of a big load (over 2 s each at CHEC scale), so `ingest --json` was not JSON any more:
    `python -c "from gridcrit.cli import run; run(['ingest', 'chec_twin/', '--json'])"`."""
    import duckdb

    from gridcrit.data import ingest as ing

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = true")  # DuckDB's default in an interactive session
    ing._duckdb_settings(con)
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
