"""Readers: turn one export file (CSV, XLSX, Parquet) into a DuckDB *stage* for validation.

A stage is a temporary view or table in the ingest connection with one column per source column
(named ``c0, c1, ...`` in file order, so odd header spellings never reach SQL) plus ``_line``, the
1-based line of the row in the file:

* CSV: header = line 1, data row *k* = line *k + 1* (exact unless a quoted field spans lines or blank lines are skipped).
  Delimiter ``,``, ``;`` or tab is sniffed from the header line; the encoding is UTF-8 (with or
  without BOM) when the bytes decode as UTF-8, otherwise Latin-1. Every value is read as text and
  typed later by :mod:`gridcrit.data.validate`, so a bad value is reported, never silently cast.
  Structural errors (a truncated row with fewer fields, an unterminated quote) come from DuckDB's
  reject table with their exact line.
* XLSX: first sheet, header = sheet row 1, data row *k* = sheet row *k + 1*.
* Parquet: read directly by DuckDB (no copy; typed columns are kept); ``_line`` = record number.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
SUPPORTED_SUFFIXES = CSV_SUFFIXES | XLSX_SUFFIXES | PARQUET_SUFFIXES

_CHUNK = 1 << 22  # 4 MiB: hashing + UTF-8 check in one streaming pass


@dataclass
class SourceFile:
    """What the reader learned about a file before staging it."""

    path: Path
    format: str  # csv | xlsx | parquet
    sha256: str
    size: int
    header: list[str] = field(default_factory=list)
    encoding: str | None = None  # csv only: utf-8 | latin-1
    delimiter: str | None = None  # csv only
    source_types: list[str] = field(default_factory=list)  # DuckDB type per source column
    structural_problems: list[tuple[int, str, str]] = field(default_factory=list)  # (line, column, what)
    n_structural: int = 0


def file_format(path: Path) -> str | None:
    """``csv`` / ``xlsx`` / ``parquet`` from the file suffix, None if unsupported."""
    s = path.suffix.lower()
    if s in CSV_SUFFIXES:
        return "csv"
    if s in XLSX_SUFFIXES:
        return "xlsx"
    if s in PARQUET_SUFFIXES:
        return "parquet"
    return None


def hash_and_encoding(path: Path, check_text: bool) -> tuple[str, int, str | None]:
    """sha256, size and (if ``check_text``) ``utf-8``/``latin-1`` in a single streaming pass."""
    h = hashlib.sha256()
    size = 0
    dec = codecs.getincrementaldecoder("utf-8")() if check_text else None
    utf8 = check_text
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
            if utf8 and dec is not None:
                try:
                    dec.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False  # Latin-1 decodes any byte sequence: it is the fallback
    if utf8 and dec is not None:
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    enc = ("utf-8" if utf8 else "latin-1") if check_text else None
    return h.hexdigest(), size, enc


def _first_line(path: Path, encoding: str) -> str:
    with open(path, "rb") as f:
        raw = f.read(1 << 20)
    text = raw.decode("utf-8-sig" if encoding == "utf-8" else "latin-1", errors="replace")
    return text.splitlines()[0] if text.strip() else ""


def sniff_delimiter(header_line: str) -> str:
    """The most frequent of ``;``, ``,`` and tab outside quotes in the header line (``,`` on ties)."""
    counts = {d: 0 for d in (",", ";", "\t")}
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 0 else ","


def inspect(path: Path) -> SourceFile:
    """Hash the file and read its header (and, for CSV, encoding and delimiter)."""
    fmt = file_format(path)
    if fmt is None:
        raise ValueError(f"unsupported file type {path.suffix!r}")
    sha, size, enc = hash_and_encoding(path, check_text=fmt == "csv")
    src = SourceFile(path=path, format=fmt, sha256=sha, size=size, encoding=enc)
    if size == 0:
        return src
    if fmt == "csv":
        line = _first_line(path, enc or "utf-8")
        if line.strip():
            src.delimiter = sniff_delimiter(line)
            src.header = [h.strip() for h in next(csv.reader(io.StringIO(line), delimiter=src.delimiter))]
    elif fmt == "parquet":
        con = duckdb.connect()
        try:
            rows = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
        finally:
            con.close()
        src.header = [r[0] for r in rows]
        src.source_types = [r[1] for r in rows]
    return src


def stage(con: duckdb.DuckDBPyConnection, src: SourceFile, name: str) -> int:
    """Create the stage ``name`` (temp table or view: ``_line, c0, c1, ...``); returns its row count.

    CSV rows DuckDB cannot split into the header's number of fields are recorded in
    ``src.structural_problems`` (exact line) instead of being staged.
    """
    p = str(src.path)
    if src.format == "csv":
        n = len(src.header)
        cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n)) + "}"
        rej_t, rej_s = f"{name}_rej", f"{name}_rejscan"
        delim = src.delimiter or ","
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM read_csv(?, delim=?, quote='"', escape='"',
                header=true, auto_detect=false, columns={cols}, encoding=?, null_padding=false,
                strict_mode=true, store_rejects=true, rejects_table='{rej_t}', rejects_scan='{rej_s}',
                rejects_limit=0)""",
            [p, delim, src.encoding or "utf-8"],
        )
        rej = con.execute(
            f"SELECT line, column_name, error_type, error_message FROM {rej_t} ORDER BY line"
        ).fetchall()
        src.n_structural = len(rej)
        for line, colname, etype, msg in rej[:20]:
            col = _rejected_column(colname, src.header)
            what = _structural_message(etype, msg, n)
            src.structural_problems.append((int(line), col, what))
        con.execute(f"DROP TABLE IF EXISTS {rej_t}")
        con.execute(f"DROP TABLE IF EXISTS {rej_s}")
        # rowid follows insertion (= file) order; rejected rows shift later lines, but a file with
        # rejected rows is refused anyway and those lines are reported exactly from the reject table.
        # Temp tables created inside a transaction number rows from a large offset: subtract it.
        base = con.execute(f"SELECT coalesce(min(rowid), 0) FROM {name}").fetchone()[0]
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name}_v AS SELECT rowid - {base} + 2 AS _line, * FROM {name}"
        )
    elif src.format == "parquet":
        sel = ", ".join('"' + h.replace('"', '""') + f'" AS c{i}' for i, h in enumerate(src.header))
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name}_v AS SELECT file_row_number + 1 AS _line, {sel} "
            f"FROM read_parquet('{_sql_str(p)}', file_row_number=true)"
        )
    else:  # xlsx: small by nature; pandas + openpyxl, every cell as text
        import pandas as pd

        try:
            df = pd.read_excel(src.path, sheet_name=0, dtype=str, keep_default_na=False, header=0)
        except Exception as e:  # openpyxl raises many kinds on corrupt workbooks
            raise ValueError(f"cannot read workbook: {e}") from e
        src.header = [str(h).strip() for h in df.columns]
        df.columns = [f"c{i}" for i in range(len(df.columns))]
        df.insert(0, "_line", range(2, len(df) + 2))
        con.register(f"{name}_df", df)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_df")
        con.unregister(f"{name}_df")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name}_v AS SELECT * FROM {name}")
    types = con.execute(f"DESCRIBE SELECT * FROM {name}_v").fetchall()
    src.source_types = [t[1] for t in types if t[0] != "_line"]
    return con.execute(f"SELECT count(*) FROM {name}_v").fetchone()[0]


def drop_stage(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"DROP VIEW IF EXISTS {name}_v")
    con.execute(f"DROP TABLE IF EXISTS {name}")


def _sql_str(s: str) -> str:
    return s.replace("'", "''")


def _rejected_column(colname: str | None, header: list[str]) -> str:
    if colname and colname.startswith("c") and colname[1:].isdigit():
        i = int(colname[1:])
        if i < len(header):
            return header[i]
    return colname or "-"


def _structural_message(etype: str, msg: str, n: int) -> str:
    if etype == "MISSING COLUMNS":
        return f"row has fewer fields than the header's {n} (truncated line?): {msg}"
    if etype == "TOO MANY COLUMNS":
        return f"row has more fields than the header's {n}: {msg}"
    if etype == "UNQUOTED VALUE":
        return f"malformed quoting: {msg}"
    return f"{etype.lower()}: {msg}"
