"""Atomicity and idempotence: a SIGKILL mid-load leaves the store readable and unchanged; a re-load
adds nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb

from gridcrit.data.ingest import ingest
from gridcrit.data.store import connect
from ingest_helpers import checksums, write_events, write_trafos


def _big_redmt_parquet(path: Path, n: int) -> None:
    """``n`` valid redmt snapshot rows (wide: all 35 columns) written by DuckDB."""
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT 'S' || i AS CODE, 'ABC' AS PHASES, 'NSA23L' || (i % 50) AS FPARENT,
                   'N' || i AS ELNODE1, 'N' || (i + 1) AS ELNODE2, 'ACSR' AS CONDUCTOR, 'N1' AS NEUTRAL,
                   (i % 300)::DOUBLE AS LENGTH, 13.2 AS KVNOM, 1 AS ORDER_, 'A' AS CLASS, 'CHEC' AS TOWNER,
                   (DATE '2019-01-31' + INTERVAL (i % 60) MONTH)::DATE AS FECHA,
                   'AL' AS MATERIALCONDUCTOR, 'ACSR' AS TIPOCONDUCTOR, '2/0' AS CALIBRECONDUCTOR,
                   CASE WHEN i % 3 = 0 THEN 'SI' ELSE 'NO' END AS GUARDACONDUCTOR,
                   '-' AS NEUTROCONDUCTOR, '-' AS NEUTRO_SECUNDARIOCONDUCTOR, '-' AS NIVEL1CONDUCTOR,
                   '-' AS NIVEL2CONDUCTOR, '-' AS NIVEL3CONDUCTOR, '-' AS NIVEL4CONDUCTOR, '-' AS ACOMETIDACONDUCTOR,
                   '-' AS NEUTRO, '-' AS CALIBRENEUTRO, DATE '2019-01-01' AS FECHA_ACT, 200.0 AS CAPACITY,
                   0.3 AS RESISTANCE, -75.5 + (i % 1000) / 1e4 AS LONGITUD, 5.0 + (i % 997) / 1e4 AS LATITUD,
                   -75.5 AS LONGITUD2, 5.0 AS LATITUD2, 'CALDAS' AS DEP, 'MANIZALES' AS MUN
                 FROM range({n}) t(i)) TO '{path}' (FORMAT parquet)"""
    )
    con.close()


CHILD = textwrap.dedent(
    """
    import sys
    from gridcrit.data import ingest as ing
    orig = ing.val.insert_new_rows
    def announced(*a, **k):
        print("INSERTING", flush=True)
        return orig(*a, **k)
    ing.val.insert_new_rows = announced
    ing.ingest([sys.argv[1], sys.argv[2]], sys.argv[3])
    print("COMMITTED", flush=True)
    """
)


def test_sigkill_mid_load_leaves_store_unchanged(tmp_path):
    store = tmp_path / "store.duckdb"
    write_events(tmp_path / "interrupciones.csv")
    ingest([tmp_path / "interrupciones.csv"], store)
    before = checksums(store)

    small = write_trafos(tmp_path / "trafos.csv", n=50)  # loaded first inside the batch, then killed
    big = tmp_path / "redmt.parquet"
    _big_redmt_parquet(big, 2_000_000)
    env = {**os.environ, "GRIDCRIT_THREADS": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(small), str(big), str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    seen: list[str] = []
    deadline = time.time() + 120
    while time.time() < deadline:  # wait for the second INSERT (the big file) to start
        line = child.stdout.readline()
        if not line:
            break
        seen.append(line.strip())
        if seen.count("INSERTING") == 2:
            break
    assert seen.count("INSERTING") == 2, (seen, child.stderr.read() if child.poll() is not None else "")
    time.sleep(0.5)
    assert child.poll() is None, "the load finished before it could be killed: make the file bigger"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert "COMMITTED" not in seen

    assert checksums(store) == before  # trafos rows from the same batch are gone too
    # The store is not only readable but writable and loads normally afterwards.
    rep = ingest([small], store)
    assert rep.rows_added == 50
    con = connect(store, read_only=True)
    assert con.execute("SELECT count(*) FROM redmt").fetchone()[0] == 0
    con.close()


def test_reload_same_file_adds_nothing_and_is_logged(tmp_path):
    store = tmp_path / "s.duckdb"
    f = write_events(tmp_path / "interrupciones.csv", n=7)
    r1 = ingest([f], store)
    assert r1.rows_added == 7 and r1.files[0].status == "loaded"
    snap = checksums(store)
    r2 = ingest([f], store)
    assert r2.rows_added == 0 and r2.files[0].status == "already-loaded"
    assert r2.files[0].sha256 == r1.files[0].sha256
    after = checksums(store)
    assert {k: v for k, v in after.items() if k != "_loads"} == {
        k: v for k, v in snap.items() if k != "_loads"
    }
    con = connect(store, read_only=True)
    loads = con.execute(
        'SELECT load_id, "table", rows_in_file, rows_added FROM _loads ORDER BY load_id'
    ).fetchall()
    con.close()
    assert loads == [(1, "interrupciones", 7, 7), (2, "interrupciones", 7, 0)]


def test_overlapping_file_skips_identical_rows(tmp_path):
    store = tmp_path / "s.duckdb"
    ingest([write_events(tmp_path / "a.csv", n=5)], store)
    # b.csv: rows 3..7 -> 3,4 identical to stored rows (skipped), 5,6,7 new
    rep = ingest([write_events(tmp_path / "b.csv", n=5, start=3)], store)
    (fr,) = rep.files
    assert (fr.rows_in_file, fr.rows_added, fr.skipped_duplicates) == (5, 3, 2)
    con = connect(store, read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT evento) FROM interrupciones").fetchone() == (8, 8)
    con.close()


def test_parquet_and_xlsx_are_read(tmp_path):
    import pandas as pd

    src = pd.read_csv(write_trafos(tmp_path / "t.csv", n=4))
    src.to_parquet(tmp_path / "t.parquet", index=False)
    src2 = src.copy()
    src2["CODE"] = src2["CODE"] + "X"
    src2.to_excel(tmp_path / "t.xlsx", index=False)
    store = tmp_path / "s.duckdb"
    rep = ingest([tmp_path / "t.parquet", tmp_path / "t.xlsx"], store)
    assert [(f.format, f.table, f.rows_added) for f in rep.files] == [
        ("parquet", "trafos", 4),
        ("xlsx", "trafos", 4),
    ]
    con = connect(store, read_only=True)
    assert con.execute("SELECT count(*), sum(USUARIOS), min(FECHA)::VARCHAR FROM trafos").fetchone() == (
        8,
        2 * 86,
        "2019-01-31",
    )
    con.close()
