"""The project store: one embedded DuckDB file.

Tables of the utility (see :mod:`gridcrit.data.schema`) are stored under their own names and column
names. Internal tables start with an underscore (``_loads``: ingest log; other stages add theirs).
Files that belong with the store but are not tables (model artefacts, reports) live in the folder
``<store stem>_files/`` beside the store file (:func:`files_dir`).
"""

from __future__ import annotations

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
            raise NotFoundError(f"store {path} does not exist; create it with 'gridcrit ingest' or 'gridcrit demo'")
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.Error as e:
            raise GridcritError(f"cannot open store {path} read-only: {e}") from e
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as e:
        raise GridcritError(f"cannot open store {path}: {e}") from e
    ensure_schema(con)
    return con


def files_dir(store: str | Path) -> Path:
    """Folder for files that belong with the store (model artefacts, reports)."""
    store = Path(store)
    return store.parent / f"{store.stem}_files"


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every utility table present in the store."""
    present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in TABLES if n in present}
