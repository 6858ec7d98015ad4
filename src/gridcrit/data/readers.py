"""Readers: turn one export file (CSV, XLSX, Parquet) into a DuckDB *stage* for validation.

A stage is a temporary view or table in the ingest connection with one column per source column
(named ``c0, c1, ...`` in file order, so odd header spellings never reach SQL) plus ``_line``, the
1-based line of the row in the file:

* CSV: header = line 1, data row *k* = line *k + 1* (exact unless a quoted field spans lines or blank lines are skipped).
  Delimiter ``,``, ``;`` or tab is sniffed from the header line; the encoding is UTF-8 (with or
  without BOM) when the bytes decode as UTF-8, otherwise Latin-1, or Windows-1252 when bytes
  0x80-0x9F occur (Excel on Windows: '…', '–', '“'; DuckDB reads a temporary UTF-8 copy), or line by
  line UTF-8 / Windows-1252 when both occur (exports of two systems appended into one file). Rows of
  empty cells (``;;;;``) are skipped like empty lines. Every value is read as text and
  typed later by :mod:`gridcrit.data.validate`, so a bad value is reported, never silently cast.
  Structural errors (a truncated row with fewer fields, an unterminated quote) come from DuckDB's
  reject table with their exact line.
* XLSX: first sheet, header = sheet row 1 as written, data row *k* = sheet row *k + 1*; rows of
  blank cells are skipped.
* Parquet: read directly by DuckDB (no copy; typed columns are kept); ``_line`` = record number.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
SUPPORTED_SUFFIXES = CSV_SUFFIXES | XLSX_SUFFIXES | PARQUET_SUFFIXES
# Spreadsheets users export but we cannot read: listed (not silently skipped) when met in a folder.
UNREADABLE_SUFFIXES = {".xls", ".xlsb", ".ods"}

_CHUNK = 1 << 22  # 4 MiB: hashing + UTF-8 check in one streaming pass
# Bytes 0x80-0x9F: C1 controls in Latin-1 (DuckDB's Latin-1 reader refuses them: "File is not
# latin-1 encoded"), but '…', '–', '“', '€' ... in Windows-1252, the encoding of a CSV saved by Excel
# on Windows.
_C1 = re.compile(rb"[\x80-\x9f]")
# UTF-8 sequences (á = C3 A1, Ñ = C3 91, … = E2 80 A6): in a file that is not valid UTF-8 they mean
# lines of both encodings (a UTF-8 month appended to a Windows-1252 one); read as Latin-1 they would
# silently become 'Ã¡', 'Ã‘' ('PEÃ‘AS' joins nothing). A false alarm on Windows-1252 text ('É”')
# only costs speed: each line is still read as UTF-8 only when the whole line is valid UTF-8.
_UTF8_SEQ = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}")
WINDOWS_1252 = "windows-1252"
MIXED = "utf-8+windows-1252"  # each line decoded as UTF-8 when it is valid UTF-8, else as Windows-1252


def _latin1_fallback(e: UnicodeDecodeError) -> tuple[str, int]:
    # the five bytes Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) read as Latin-1
    return e.object[e.start : e.end].decode("latin-1"), e.end


codecs.register_error("gridcrit_latin1", _latin1_fallback)


def decode_windows_1252(raw: bytes) -> str:
    """Windows-1252 text (undefined bytes read as Latin-1: every byte sequence decodes)."""
    return raw.decode("cp1252", errors="gridcrit_latin1")


def _decode_line(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return decode_windows_1252(raw)


def _single_byte_encoding(path: Path) -> str:
    """Encoding of a file that is not valid UTF-8: ``latin-1`` (DuckDB reads it), Windows-1252 when
    bytes 0x80-0x9F occur, or :data:`MIXED` when UTF-8 encoded letters occur too."""
    c1 = False
    carry = b""
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            buf = carry + chunk
            if _UTF8_SEQ.search(buf):
                return MIXED
            c1 = c1 or bool(_C1.search(chunk))
            carry = buf[-2:]
    return WINDOWS_1252 if c1 else "latin-1"


@dataclass
class SourceFile:
    """What the reader learned about a file before staging it."""

    path: Path
    format: str  # csv | xlsx | parquet
    sha256: str
    size: int
    header: list[str] = field(default_factory=list)
    encoding: str | None = None  # csv only: utf-8 | latin-1 | windows-1252 | utf-8+windows-1252 | utf-16
    delimiter: str | None = None  # csv only
    source_types: list[str] = field(default_factory=list)  # DuckDB type per source column
    # (line, column, what in English, what in Spanish)
    structural_problems: list[tuple[int, str, str, str]] = field(default_factory=list)
    n_structural: int = 0  # lines DuckDB rejected
    blank_lines: list[int] = field(default_factory=list)  # csv only: empty lines (skipped by DuckDB)
    first_line_blank: bool = False  # csv only: text, but not on line 1 (where the header must be)


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


def hash_and_encoding(
    path: Path, check_text: bool, blank_lines: list[int] | None = None
) -> tuple[str, int, str | None]:
    """sha256, size and (if ``check_text``) ``utf-8``/``latin-1``/``utf-16`` in a single streaming pass
    (``utf-16``: the file starts with a UTF-16 little-endian BOM, as Excel's "Unicode text" export).

    ``blank_lines`` (if given) receives the 1-based numbers of the empty lines of the file: DuckDB's
    CSV reader skips them, so the stage's row numbers must be shifted past them."""
    h = hashlib.sha256()
    size = 0
    dec = codecs.getincrementaldecoder("utf-8")() if check_text else None
    utf8 = check_text
    nl = 0  # line ends before ``carry``
    carry = b""
    utf16 = False
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            if check_text and size == 0 and chunk.startswith(codecs.BOM_UTF16_LE):
                # Line numbers of UTF-16 text are not scanned for empty lines (2-byte line ends).
                utf16, utf8, blank_lines = True, False, None
            h.update(chunk)
            size += len(chunk)
            if blank_lines is not None:
                nl, carry = _scan_blank_lines(carry + chunk, nl, blank_lines, final=False)
            if utf8 and dec is not None:
                try:
                    dec.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False  # Latin-1 decodes any byte sequence: it is the fallback
    if blank_lines is not None:
        _scan_blank_lines(carry, nl, blank_lines, final=True)
    if utf8 and dec is not None:
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    enc = ("utf-16" if utf16 else "utf-8" if utf8 else "latin-1") if check_text else None
    return h.hexdigest(), size, enc


def _scan_blank_lines(buf: bytes, nl: int, out: list[int], final: bool) -> tuple[int, bytes]:
    """Append the numbers of empty lines starting in ``buf`` (``nl`` line ends precede it) to ``out``;
    returns the line-end count and the tail to carry into the next chunk (a match needs 2 bytes of
    look-ahead)."""
    end = len(buf) if final else max(0, len(buf) - 2)
    starts = []  # positions of line ends followed by an empty line (bytes.find: C speed, no regex)
    for pat in (b"\n\n", b"\n\r\n"):
        p = buf.find(pat, 0, end + len(pat) - 1)
        while p != -1:
            starts.append(p)
            p = buf.find(pat, p + 1, end + len(pat) - 1)
    pos = 0
    for p in sorted(starts):
        nl += buf.count(b"\n", pos, p)
        pos = p
        out.append(nl + 2)  # lines before the empty one: nl + 1 (this line end included)
    nl += buf.count(b"\n", pos, end)
    return nl, buf[end:]


def decode_text(raw: bytes, encoding: str) -> str:
    """``raw`` decoded as :func:`inspect` detected it (``encoding``: ``SourceFile.encoding``)."""
    if encoding == WINDOWS_1252:
        return decode_windows_1252(raw)
    if encoding == MIXED:
        return "".join(_decode_line(line) for line in raw.splitlines(keepends=True))
    codec = {"utf-8": "utf-8-sig", "utf-16": "utf-16"}.get(encoding, "latin-1")
    if codec == "utf-16" and len(raw) % 2:
        raw = raw[:-1]
    return raw.decode(codec, errors="replace")


def _decode_head(path: Path, encoding: str) -> str:
    with open(path, "rb") as f:
        return decode_text(f.read(1 << 20), encoding)


def _first_line(path: Path, encoding: str) -> str:
    text = _decode_head(path, encoding)
    return text.splitlines()[0] if text.strip() else ""


def _has_text(path: Path, encoding: str) -> bool:
    return bool(_decode_head(path, encoding).strip())


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
    blanks: list[int] | None = [] if fmt == "csv" else None
    sha, size, enc = hash_and_encoding(path, check_text=fmt == "csv", blank_lines=blanks)
    if enc == "latin-1":
        enc = _single_byte_encoding(path)
    src = SourceFile(path=path, format=fmt, sha256=sha, size=size, encoding=enc, blank_lines=blanks or [])
    if size == 0:
        return src
    if fmt == "csv":
        line = _first_line(path, enc or "utf-8")
        if line.strip():
            src.delimiter = sniff_delimiter(line)
            src.header = [h.strip() for h in next(csv.reader(io.StringIO(line), delimiter=src.delimiter))]
        else:
            src.first_line_blank = _has_text(path, enc or "utf-8")
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
        with _utf8_copy(src) as (read_path, encoding):
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM read_csv(?, delim=?, quote='"',
                    escape='"', header=true, auto_detect=false, columns={cols}, encoding=?,
                    null_padding=false, strict_mode=true, store_rejects=true, rejects_table='{rej_t}',
                    rejects_scan='{rej_s}', rejects_limit=0)""",
                [read_path, delim, encoding],
            )
        # One reject row per missing/extra field: report each rejected line once.
        rejected = [
            int(r[0]) for r in con.execute(f"SELECT DISTINCT line FROM {rej_t} ORDER BY line").fetchall()
        ]
        src.n_structural = len(rejected)
        if rejected:
            rej = con.execute(
                f"""SELECT line, list(column_name), first(error_type), first(error_message) FROM {rej_t}
                    WHERE line <= {rejected[min(19, len(rejected) - 1)]} GROUP BY line ORDER BY line"""
            ).fetchall()
            for line, colnames, etype, detail in rej:
                col = _rejected_column(_first_field(colnames), src.header)
                en, es = _structural_message(etype, detail, n)
                src.structural_problems.append((int(line), col, en, es))
        con.execute(f"DROP TABLE IF EXISTS {rej_t}")
        con.execute(f"DROP TABLE IF EXISTS {rej_s}")
        # rowid follows insertion (= file) order. Temp tables created inside a transaction number
        # rows from a large offset: subtract it. Empty lines and rejected lines are not staged: shift
        # the rows after them so that _line stays the file's line.
        base = con.execute(f"SELECT coalesce(min(rowid), 0) FROM {name}").fetchone()[0]
        skipped = sorted(set(src.blank_lines) | set(rejected))
        keep = _not_blank_row(n)
        if not skipped:
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {name}_v AS SELECT rowid - {base} + 2 AS _line, * FROM {name} "
                f"WHERE {keep}"
            )
        else:
            # A staged row r (counting staged rows only, header = 1) is file line r + #{j: s_j - j <= r}
            # for the skipped lines s_0 < s_1 < ...; k_j = s_j - j is non-decreasing: keep its last j.
            k = [s_j - j for j, s_j in enumerate(skipped)]
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {name}_skip AS SELECT k, max(n) AS n
                    FROM (SELECT unnest(?::BIGINT[]) AS k, unnest(?::BIGINT[]) AS n) GROUP BY k""",
                [k, list(range(1, len(k) + 1))],
            )
            con.execute(
                f"""CREATE OR REPLACE TEMP VIEW {name}_v AS
                    SELECT s._r + coalesce(k.n, 0) AS _line, s.* EXCLUDE (_r)
                    FROM (SELECT rowid - {base} + 2 AS _r, * FROM {name}) s
                    ASOF LEFT JOIN {name}_skip k ON s._r >= k.k
                    WHERE {keep}"""
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
            # header=None: row 1 is taken as it is written. With header=0 pandas renames a repeated
            # name ('FECHA', 'FECHA.1': the second column was silently ignored, where a CSV with the
            # same header is refused) and names empty header cells 'Unnamed: 3'.
            df = pd.read_excel(src.path, sheet_name=0, dtype=str, keep_default_na=False, header=None)
        except Exception as e:  # openpyxl raises many kinds on corrupt workbooks
            from gridcrit.data.validate import msg

            en, es = msg("workbook", error=str(e).splitlines()[0] if str(e) else type(e).__name__)
            err = ValueError(en)
            err.es = es  # type: ignore[attr-defined]
            raise err from e
        src.header = [str(h).strip() for h in df.iloc[0]] if len(df) else []
        df = df.iloc[1:].reset_index(drop=True)
        df.columns = [f"c{i}" for i in range(len(df.columns))]
        df.insert(0, "_line", range(2, len(df) + 2))
        # Not con.register(): DuckDB >= 2 refuses it while an earlier fetchone() left a result open
        # on the connection (the batch's load-id query does); a replacement scan of the local
        # DataFrame goes through execute(), which closes that result first.
        xlsx_frame = df  # noqa: F841 (read by DuckDB's replacement scan below)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM xlsx_frame")
        keep = _not_blank_row(len(src.header))
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name}_v AS SELECT * FROM {name} WHERE {keep}")
    types = con.execute(f"DESCRIBE SELECT * FROM {name}_v").fetchall()
    src.source_types = [t[1] for t in types if t[0] != "_line"]
    return con.execute(f"SELECT count(*) FROM {name}_v").fetchone()[0]


@contextlib.contextmanager
def _utf8_copy(src: SourceFile) -> Iterator[tuple[str, str]]:
    """(path, encoding) for DuckDB's CSV reader: the file itself, or for Windows-1252 or mixed text
    (which DuckDB cannot decode) a temporary UTF-8 copy, line for line, removed afterwards."""
    if src.encoding not in (WINDOWS_1252, MIXED):
        yield str(src.path), src.encoding or "utf-8"
        return
    fd, tmp = tempfile.mkstemp(prefix="gridcrit-1252-", suffix=".csv")
    try:
        with open(src.path, "rb") as fin, os.fdopen(fd, "wb") as fout:
            if src.encoding == WINDOWS_1252:
                while chunk := fin.read(_CHUNK):  # one byte per character: chunks split nowhere wrong
                    fout.write(decode_windows_1252(chunk).encode("utf-8"))
            else:
                fout.writelines(_decode_line(line).encode("utf-8") for line in fin)
        yield tmp, "utf-8"
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _not_blank_row(n: int) -> str:
    """SQL condition: some field of the row (``c0`` .. ``c{n-1}``) has a non-blank value.

    Rows of separators only (``;;;;``: the formatted but empty rows Excel writes at the end of a
    sheet saved as CSV) or of blank cells are skipped like empty lines: they hold no data, and
    reporting each as a row with missing keys would refuse a good export."""
    if n == 0:
        return "true"
    return "(" + " OR ".join(f"coalesce(trim(c{i}), '') <> ''" for i in range(n)) + ")"


def drop_stage(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"DROP VIEW IF EXISTS {name}_v")
    con.execute(f"DROP TABLE IF EXISTS {name}")
    con.execute(f"DROP TABLE IF EXISTS {name}_skip")


def _sql_str(s: str) -> str:
    return s.replace("'", "''")


def _first_field(colnames: list[str | None]) -> str | None:
    """The leftmost of the stage columns (``c3``, ``c10``) DuckDB named for a rejected line."""
    named = [c for c in colnames if c]
    idx = [c for c in named if c.startswith("c") and c[1:].isdigit()]
    if idx:
        return min(idx, key=lambda c: int(c[1:]))
    return named[0] if named else None


def _rejected_column(colname: str | None, header: list[str]) -> str:
    if colname and colname.startswith("c") and colname[1:].isdigit():
        i = int(colname[1:])
        if i < len(header):
            return header[i]
    return colname or "-"


def _structural_message(etype: str, detail: str, n: int) -> tuple[str, str]:
    """(English, Spanish) text of a row DuckDB's CSV reader rejected."""
    from gridcrit.data.validate import msg

    found = re.search(r"Found:\s*(\d+)", detail or "")
    if etype == "MISSING COLUMNS":
        return msg("fewer_fields", n=n, found=found.group(1) if found else "?")
    if etype == "TOO MANY COLUMNS":
        return msg("more_fields", n=n, found=found.group(1) if found else "?")
    if etype == "UNQUOTED VALUE":
        return msg("quoting", detail=detail)
    return msg("csv_error", kind=etype.lower(), detail=detail)
