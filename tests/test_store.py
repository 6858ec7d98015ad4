"""Store helpers: order-independent checksums, info, summary (SAIFI/SAIDI by circuit and year)."""

from __future__ import annotations

import pytest

from gridcrit.data.ingest import ingest
from gridcrit.data.store import connect, store_checksum, store_info
from gridcrit.data.summary import reliability_summary
from ingest_helpers import EV_HEADER, ev_row


def test_checksum_is_order_independent_and_sees_duplicates(tmp_path):
    con = connect(tmp_path / "s.duckdb")
    con.execute("CREATE TABLE t (a INTEGER, b VARCHAR)")
    con.execute("INSERT INTO t VALUES (1, 'x'), (2, 'y')")
    c1 = store_checksum(con, "t")
    con.execute("DELETE FROM t")
    con.execute("INSERT INTO t VALUES (2, 'y'), (1, 'x')")
    assert store_checksum(con, "t") == c1
    con.execute("INSERT INTO t VALUES (1, 'x'), (1, 'x')")  # a XOR of hashes would cancel these out
    assert store_checksum(con, "t") != c1
    con.execute("UPDATE t SET b = 'z' WHERE a = 2")
    assert store_checksum(con, "t").split(":")[0] == "4"
    con.close()


def test_read_only_connect_of_missing_store_is_a_clear_error(tmp_path):
    from gridcrit.errors import NotFoundError

    with pytest.raises(NotFoundError, match="does not exist"):
        connect(tmp_path / "missing.duckdb", read_only=True)


def test_reliability_summary_by_circuit_and_year(tmp_path):
    rows = [
        ev_row(1, inicio="2019-03-01 10:00:00", fin="2019-03-01 12:00:00"),
        ev_row(2, inicio="2020-03-01 10:00:00", fin="2020-03-01 12:00:00").replace("NSA23L14", "MAZ30L13"),
        ev_row(3, inicio="2020-04-01 10:00:00", fin="2020-04-01 12:00:00").replace("NSA23L14", "MAZ30L13"),
        # a 2-minute (momentary) row: MAIFI, not SAIFI/SAIDI, as in `gridcrit indices`
        ev_row(4, inicio="2019-05-01 10:00:00", fin="2019-05-01 10:02:00").replace(",2.5,> 3 min,", ",0.0333,< 3 min,"),
    ]
    f = tmp_path / "ev.csv"
    f.write_text("\n".join([EV_HEADER, *rows]) + "\n")
    store = tmp_path / "s.duckdb"
    ingest([f], store)
    s = reliability_summary(store)
    # each row: SAIFI 0.00024, SAIDI 0.0006 (stored per-row contributions are summed)
    assert s["by_circuit"][0] == {"circuit": "MAZ30L13", "events": 2, "SAIFI": 0.00048, "SAIDI": 0.0012}
    assert s["by_circuit"][1]["circuit"] == "NSA23L14"
    assert [(y["year"], y["events"], y["SAIFI"], y["MAIFI"]) for y in s["by_year"]] == [
        (2019, 2, 0.00024, 0.00024),
        (2020, 2, 0.00048, 0.0),
    ]
    info = store_info(store)
    assert info["tables"]["interrupciones"] == {"rows": 4, "first": "2019-03-01", "last": "2020-04-01"}


def test_store_locked_by_another_process_is_one_clear_line(tmp_path):
    """Ingesting while 'gridcrit serve' (or a notebook) holds the store used to print DuckDB's
    English lock message with its documentation link, and nothing in Spanish."""
    import subprocess
    import sys

    from gridcrit.errors import GridcritError

    store = tmp_path / "s.duckdb"
    connect(store).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
         "time.sleep(60)", str(store)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(GridcritError) as ei:
            connect(store)
    finally:
        holder.kill()
        holder.wait()
    assert str(ei.value).startswith(f"cannot open store {store} for writing: another process (PID {holder.pid})")
    assert ei.value.text("es").startswith(f"no se puede abrir el almacén {store} para escribir: otro proceso")
