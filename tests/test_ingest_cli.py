"""CLI of the data stage: `gridcrit ingest`, `gridcrit store info` (JSON and human output, errors)."""

from __future__ import annotations

import json

from gridcrit.cli import run
from ingest_helpers import EV_HEADER, ev_row, write_events, write_trafos


def test_ingest_json_summary_and_store_info(tmp_path, capsys):
    store = tmp_path / "s.duckdb"
    folder = tmp_path / "exp"
    folder.mkdir()
    write_events(folder / "interrupciones.csv", n=4)
    write_trafos(folder / "trafos.csv", n=3)
    assert run(["ingest", str(folder), "--store", str(store), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows_added"] == 7
    assert out["tables"]["interrupciones"]["rows_added"] == 4
    assert {f["table"]: f["status"] for f in out["files"]} == {"interrupciones": "loaded", "trafos": "loaded"}
    assert all(len(f["sha256"]) == 64 for f in out["files"])

    assert run(["ingest", str(folder), "--store", str(store), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["rows_added"] == 0
    assert {f["status"] for f in again["files"]} == {"already-loaded"}

    assert run(["store", "info", "--store", str(store), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tables"]["interrupciones"] == {"rows": 4, "first": "2019-01-05", "last": "2019-01-05"}
    assert info["tables"]["trafos"]["rows"] == 3
    assert len(info["loads"]) == 4  # two files x two loads


def test_ingest_error_prints_problems_and_one_line_reason(tmp_path, capsys):
    store = tmp_path / "s.duckdb"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([EV_HEADER, ev_row(1), ev_row(2, usus="abc")]) + "\n")
    code = run(["ingest", str(bad), "--store", str(store), "--json", "--lang", "en"])
    assert code == 2
    cap = capsys.readouterr()
    doc = json.loads(cap.out)  # stdout: an error document, nothing that looks like a result
    assert set(doc) == {"error", "exit_code", "kind", "problems", "n_problems"} and doc["exit_code"] == 2
    assert doc["problems"] == [f"{bad}:3:cnt_usus: value abc is not an integer"]
    lines = cap.err.strip().splitlines()
    assert lines[0] == f"{bad}:3:cnt_usus: value abc is not an integer"
    assert lines[-1].startswith("gridcrit: error: ingest refused: 1 problem(s) in 1 of 1 file(s)")
    # Spanish by default: the problem lines too, not only the closing reason
    assert run(["ingest", str(bad), "--store", str(store)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == f"{bad}:3:cnt_usus: el valor abc no es un entero"
    assert lines[-1].startswith("gridcrit: error: carga rechazada: 1 problema(s) en 1 de 1 archivo(s)")


def test_ingest_missing_path_fails_cleanly(tmp_path, capsys):
    code = run(["ingest", str(tmp_path / "nope.csv"), "--store", str(tmp_path / "s.duckdb"), "--lang", "en"])
    assert code != 0
    assert "no such file or folder" in capsys.readouterr().err
    assert run(["ingest", str(tmp_path / "nope.csv"), "--store", str(tmp_path / "s.duckdb")]) != 0
    assert "no existe el archivo o la carpeta" in capsys.readouterr().err


def test_human_output_has_table(tmp_path, capsys):
    store = tmp_path / "s.duckdb"
    f = write_events(tmp_path / "interrupciones.csv", n=2)
    assert run(["ingest", str(f), "--store", str(store), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "interrupciones" in out and "2 new rows" in out


def test_human_output_names_ignored_columns_and_files(tmp_path, capsys):
    """A misspelt column is stored as NULL: the human output must say which columns were left out."""
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "interrupciones.csv").write_text(
        EV_HEADER.replace("cnt_usus,SAIDI", "cnt_usus,SAIDY") + ",Observación\n" + ev_row(1) + ",ok\n"
    )
    (folder / "truth_events.csv").write_text("evento,driver\n1,x\n")
    store = tmp_path / "s.duckdb"
    assert run(["ingest", str(folder), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "interrupciones.csv: columnas ignoradas (no son columnas de la tabla interrupciones): SAIDY, " in out
    assert "Observación" in out and "cargado" in out
    assert "truth_events.csv: ignorado" in out
