"""The project store: one embedded DuckDB file.

Tables of the utility (see :mod:`gridcrit.data.schema`) are stored under their own names and column
names. Internal tables start with an underscore (``_loads``: ingest log; other stages add theirs).
Files that belong with the store but are not tables (model artefacts, reports) live in the folder
``<store stem>_files/`` beside the store file (:func:`files_dir`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import duckdb

from gridcrit.data.schema import TABLES, TableSpec
from gridcrit.errors import GridcritError, NotFoundError


def create_table_sql(spec: TableSpec, name: str | None = None) -> str:
    cols = ", ".join(f'"{c}" {t}' for c, t in spec.columns.items())
    return f'CREATE TABLE IF NOT EXISTS "{name or spec.name}" ({cols})'


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the utility's tables and the ingest log if they do not exist yet."""
    for spec in TABLES.values():
        con.execute(create_table_sql(spec))
    con.execute(
        """CREATE TABLE IF NOT EXISTS _loads (
            load_id BIGINT, file VARCHAR, sha256 VARCHAR, "table" VARCHAR,
            rows_in_file BIGINT, rows_added BIGINT, loaded_at TIMESTAMP)"""
    )


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store at ``path``.

    ``read_only=True`` requires an existing store and never writes (used by queries, the assistant
    and the app). A writable connection creates the file and the schema if needed.
    """
    path = Path(path)
    if read_only:
        if not path.exists():
            raise NotFoundError(
                f"store {path} does not exist; create it with 'gridcrit ingest' or 'gridcrit demo'",
                es=f"no existe el almacén {path}; créelo con 'gridcrit ingest' o 'gridcrit demo'",
            )
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as e:
            raise _open_error(path, e, read_only=True) from e
        return _on_file(con, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as e:
        raise _open_error(path, e) from e
    con = _on_file(con, path)
    ensure_schema(con)
    return con


def _on_file(con: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyConnection:
    """``con`` if it is backed by the file ``path``. DuckDB opens an existing ``.csv`` or ``.parquet``
    file given as the database as an empty in-memory database: ``ingest --store REDMT.csv`` (the store
    and an export swapped) then reported a successful load of rows that were never saved."""
    # DuckDB draws a progress bar on stdout when it takes the session for an interactive one (python -c,
    # notebooks): that broke --json output of long commands
    # (a database whose configuration the data assistant's sandbox locked has it set already)
    with contextlib.suppress(duckdb.Error):
        con.execute("SET enable_progress_bar = false")
    r = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    if r is not None and r[0] is None:
        con.close()
        raise GridcritError(
            f"{path} is not a gridcrit store: DuckDB would open it as a temporary in-memory database "
            "and nothing would be saved (an export file given as --store?); name the store file *.duckdb",
            es=f"{path} no es un almacén de gridcrit: DuckDB lo abriría como una base temporal en memoria "
            "y no se guardaría nada (¿un archivo de exportación dado como --store?); use un archivo "
            "*.duckdb",
        )
    return con


def _open_error(path: Path, e: Exception, read_only: bool = False) -> GridcritError:
    """The one-line reason the store could not be opened (Spanish too)."""
    import re

    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if "lock" in text.lower():
        pid = re.search(r"PID (\d+)", text)
        who = f" (PID {pid.group(1)})" if pid else ""
        if read_only:  # a reader (predict, the app, the assistant) while a writer runs
            return GridcritError(
                f"the store {path} is busy: another process{who} is writing it (e.g. 'gridcrit ingest' or "
                "'gridcrit train'); retry when it finishes",
                es=f"el almacén {path} está ocupado: otro proceso{who} lo está escribiendo (p. ej. "
                "'gridcrit ingest' o 'gridcrit train'); repita cuando termine",
            )
        return GridcritError(
            f"cannot open store {path} for writing: another process{who} has it open "
            "(e.g. 'gridcrit serve'); stop it and retry",
            es=f"no se puede abrir el almacén {path} para escribir: otro proceso{who} lo tiene abierto "
            "(p. ej. 'gridcrit serve'); deténgalo y repita",
        )
    return GridcritError(f"cannot open store {path}: {text}", es=f"no se puede abrir el almacén {path}: {text}")


def files_dir(store: str | Path) -> Path:
    """Folder for files that belong with the store (model artefacts, reports)."""
    store = Path(store)
    return store.parent / f"{store.stem}_files"


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every utility table present in the store."""
    present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in TABLES if n in present}


def store_checksum(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Order-independent checksum of every row of ``table``: ``"<rows>:<sum of row hashes>"``.

    The sum (not XOR) of 64-bit row hashes keeps duplicate rows from cancelling out. Used by tests
    to prove a refused or killed load left the store exactly as it was.
    """
    n, s = con.execute(f'SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM "{table}" t').fetchone()
    return f"{n}:{s}"


def store_checksums(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """:func:`store_checksum` of every utility table and of ``_loads``."""
    present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return {t: store_checksum(con, t) for t in [*TABLES, "_loads"] if t in present}


# Column giving the time covered by each table (for "periods covered").
PERIOD_COLUMN = {
    "interrupciones": "inicio",
    "redmt": "FECHA",
    "trafos": "FECHA",
    "switches": "FECHA",
    "apoyos": "FECHA",
    "rayos": "FECHA",
    "vegetacion": "FECHA",
    "clima": "FECHA",
}


def store_info(path: str | Path) -> dict:
    """Tables (rows, first/last date), and the load log of the store at ``path`` (read-only)."""
    con = connect(path, read_only=True)
    try:
        present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        tables = {}
        for name in TABLES:
            if name not in present:
                continue
            col = PERIOD_COLUMN[name]
            n, lo, hi = con.execute(f'SELECT count(*), min("{col}"), max("{col}") FROM "{name}"').fetchone()
            tables[name] = {
                "rows": int(n),
                "first": None if lo is None else str(lo)[:10],
                "last": None if hi is None else str(hi)[:10],
            }
        loads = []
        if "_loads" in present:
            for r in con.execute(
                'SELECT load_id, file, sha256, "table", rows_in_file, rows_added, loaded_at FROM _loads '
                "ORDER BY load_id, file"
            ).fetchall():
                loads.append(
                    dict(
                        zip(
                            ("load_id", "file", "sha256", "table", "rows_in_file", "rows_added", "loaded_at"),
                            (*r[:6], str(r[6])),
                            strict=True,
                        )
                    )
                )
        size = Path(path).stat().st_size
        return {"store": str(path), "bytes": size, "tables": tables, "loads": loads}
    finally:
        con.close()
