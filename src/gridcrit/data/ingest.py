"""``ingest``: load the utility's export files into the store, validated, atomic and idempotent.

How a load works (one call = one *batch*):

1. Every path is expanded (folders recursively, ``.csv/.txt/.tsv/.xlsx/.parquet`` files, sorted).
2. Each file is hashed and its table recognised from its header (:func:`recognise`: case-insensitive,
   ``TableSpec.signature`` columns all present, aliases honoured; the best-matching table wins).
   A file named explicitly whose header matches no table is an error; a file found while scanning a
   folder is *ignored* and listed in the report (a twin folder also holds ``truth_events.csv``).
3. The whole batch runs in ONE DuckDB transaction. Each file is staged (temp table/view), typed and
   validated with SQL (:mod:`gridcrit.data.validate`), then its new rows are inserted with
   ``INSERT ... SELECT``. Later files are checked against earlier files of the same batch.
4. If ANY file has a problem, nothing is written: the transaction is rolled back and
   :class:`~gridcrit.errors.ValidationError` lists ``file:line:column: what`` problems from every
   file (validation continues over all files so one run shows everything). Otherwise COMMIT.
   A process killed mid-load leaves the store as before: DuckDB discards uncommitted transactions.

Idempotence: a file whose sha256 is already in ``_loads`` for its table is skipped whole; rows whose
key is already stored with identical values are skipped (counted as ``skipped_duplicates``); a key
stored with *different* values is a conflict (error). Every file of a committed batch is recorded in
``_loads`` (file, sha256, table, rows_in_file, rows_added, loaded_at) under one ``load_id``.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from gridcrit.data import readers
from gridcrit.data import validate as val
from gridcrit.data.schema import TABLES, TableSpec
from gridcrit.data.store import connect
from gridcrit.errors import NotFoundError, ValidationError

MAX_PROBLEMS = 100  # problems kept on the exception (the total count is kept separately)
ABORTED = "database error: transaction aborted, later files not checked"


@dataclass
class FileReport:
    """Outcome of one file of a batch."""

    file: str
    table: str | None
    status: str  # loaded | already-loaded | ignored | rejected | empty (header only)
    format: str
    sha256: str
    rows_in_file: int = 0
    rows_added: int = 0
    skipped_duplicates: int = 0  # rows already stored with identical values
    encoding: str | None = None
    delimiter: str | None = None
    ignored_columns: list[str] = field(default_factory=list)
    note: str = ""
    # an ignored file whose header is closest to a known table: that table and the columns it lacks
    closest_table: str | None = None
    missing_columns: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    """Outcome of one ``ingest`` call (only returned when the batch was committed)."""

    store: str
    load_id: int
    files: list[FileReport]
    seconds: float

    @property
    def rows_added(self) -> int:
        return sum(f.rows_added for f in self.files)

    def by_table(self) -> dict[str, dict[str, int]]:
        """{table: {files, rows_in_file, rows_added, skipped_duplicates}} over loaded files."""
        out: dict[str, dict[str, int]] = {}
        for f in self.files:
            if f.table is None:
                continue
            t = out.setdefault(
                f.table, {"files": 0, "rows_in_file": 0, "rows_added": 0, "skipped_duplicates": 0}
            )
            t["files"] += 1
            t["rows_in_file"] += f.rows_in_file
            t["rows_added"] += f.rows_added
            t["skipped_duplicates"] += f.skipped_duplicates
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rows_added"] = self.rows_added
        d["tables"] = self.by_table()
        return d


def collect_files(paths: list[Path | str]) -> list[tuple[Path, bool]]:
    """Expand ``paths`` to ``(file, found_in_folder)`` pairs; raises NotFoundError for missing paths."""
    out: list[tuple[Path, bool]] = []
    seen: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and not f.name.startswith(".")
                and (readers.file_format(f) is not None or f.suffix.lower() in readers.UNREADABLE_SUFFIXES)
            )
            items = [(f, True) for f in found]
        elif p.is_file():
            items = [(p, False)]
        else:
            raise NotFoundError(f"{p}: no such file or folder", es=f"{p}: no existe el archivo o la carpeta")
        for f, in_folder in items:
            r = f.resolve()
            if r not in seen:
                seen.add(r)
                out.append((f, in_folder))
    return out


def header_key(name: str) -> str:
    """How a header cell is compared with column names: BOM and blanks trimmed, case and accents
    ignored, runs of blanks / ``-`` / ``.`` / ``_`` read as one ``_`` (``Duración H`` = ``duracion_h``,
    ``equipo ope`` = ``equipo_ope``, ``Período`` = ``periodo``)."""
    s = unicodedata.normalize("NFKD", name.strip().lstrip("\ufeff").strip())
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[\s._-]+", "_", s)


def recognise(header: list[str]) -> tuple[TableSpec | None, dict[str, int]]:
    """Table whose signature the header contains (best column overlap wins) and its column mapping.

    Header names are compared with :func:`header_key` (case, accents, blanks and ``_``/``-``/``.``
    ignored); aliases map to canonical names. Returns ``(None, {})`` when no table matches.
    """
    norm = [header_key(h) for h in header]
    best: tuple[int, TableSpec | None, dict[str, int]] = (0, None, {})
    for spec in TABLES.values():
        names = {header_key(c): c for c in spec.columns}
        names.update({header_key(a): c for a, c in spec.aliases.items()})
        mapping: dict[str, int] = {}
        for i, h in enumerate(norm):
            c = names.get(h)
            if c is not None and c not in mapping:
                mapping[c] = i
        if all(s in mapping for s in spec.signature) and len(mapping) > best[0]:
            best = (len(mapping), spec, mapping)
    return best[1], best[2]


def closest_table(header: list[str]) -> tuple[TableSpec, list[str]] | None:
    """For a header that :func:`recognise` matches to no table: the table it most nearly matches and
    the signature columns it lacks, when at least two and at least half of that table's signature
    columns are present (a TRAFOS export without ``ELNODE``); else None."""
    norm = {header_key(h) for h in header}
    best: tuple[tuple[float, int], TableSpec, list[str]] | None = None
    for spec in TABLES.values():
        names = {header_key(c): c for c in spec.columns}
        names.update({header_key(a): c for a, c in spec.aliases.items()})
        present = {c for k, c in names.items() if k in norm}
        missing = [c for c in spec.signature if c not in present]
        n_sig = len(spec.signature) - len(missing)
        if not missing or n_sig < 2 or 2 * n_sig < len(spec.signature):
            continue
        score = (n_sig / len(spec.signature), len(present))
        if best is None or score > best[0]:
            best = (score, spec, missing)
    return None if best is None else (best[1], best[2])


def _duckdb_settings(con: duckdb.DuckDBPyConnection) -> None:
    from gridcrit.runtime import default_threads

    # DuckDB draws its own progress bar on stdout for queries over 2 s whenever it takes the session
    # for an interactive one (python -c, a notebook, an embedding script): that broke `ingest --json`.
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET threads = {max(1, default_threads())}")
    con.execute(f"SET memory_limit = '{os.environ.get('GRIDCRIT_DUCKDB_MEMORY', '2GB')}'")


def _already_loaded(con: duckdb.DuckDBPyConnection, sha: str, table: str) -> int | None:
    r = con.execute(
        'SELECT rows_in_file FROM _loads WHERE sha256 = ? AND "table" = ? ORDER BY load_id LIMIT 1',
        [sha, table],
    ).fetchone()
    return None if r is None else int(r[0])


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(e: BaseException) -> str:
    text = str(e)
    return text.splitlines()[0] if text else type(e).__name__


def _table_is_empty(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return con.execute(f'SELECT count(*) FROM (SELECT 1 FROM "{table}" LIMIT 1)').fetchone()[0] == 0


def _load_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    in_folder: bool,
    probs: val.FileProblems,
    earlier: dict[str, list[str]] | None = None,
) -> FileReport:
    """Validate one file and (if clean) insert its new rows inside the open transaction.

    ``earlier``: table -> names of the files of this batch that already inserted rows into it."""
    if readers.file_format(path) is None:  # .xls & co. (a folder lists only those) or any named file
        en, es = val.msg("unsupported", suffix=path.suffix or path.name)
        if in_folder:
            return FileReport(str(path), None, "ignored", path.suffix.lstrip(".") or "?", "", note=en)
        probs.add(1, "-", en, es=es)
        return FileReport(str(path), None, "rejected", path.suffix.lstrip(".") or "?", "")
    try:
        src = readers.inspect(path)
    except (OSError, duckdb.Error, ValueError) as e:
        probs.add_msg(1, "-", "cannot_read", error=_first_line(e))
        return FileReport(str(path), None, "rejected", readers.file_format(path) or "?", "")
    rep = FileReport(
        str(path), None, "rejected", src.format, src.sha256, encoding=src.encoding, delimiter=src.delimiter
    )
    if src.size == 0 or (src.format == "csv" and not src.header):
        probs.add_msg(1, "-", "first_line_blank" if src.first_line_blank else "empty")
        return rep
    name = "_stage"
    if src.format == "xlsx":  # header only known after reading the sheet
        try:
            n_rows = readers.stage(con, src, name)
        except ValueError as e:
            probs.add(1, "-", str(e), es=getattr(e, "es", None))
            return rep
        if not src.header:  # a workbook whose first sheet is blank
            probs.add_msg(1, "-", "empty")
            readers.drop_stage(con, name)
            return rep
    spec, mapping = recognise(src.header)
    if spec is None:
        near = closest_table(src.header)
        if in_folder:
            rep.status, rep.note = "ignored", "header matches no known table"
            if near is not None:
                rep.note += f" (closest: {near[0].name}, which needs column(s) {', '.join(near[1])})"
                rep.closest_table, rep.missing_columns = near[0].name, list(near[1])
            readers.drop_stage(con, name)
            return rep
        if near is not None:
            # a table's export with a required column missing or misspelt: say which, not "no table"
            spec_near, missing = near
            probs.add_msg(1, missing[0], "near_table", table=spec_near.name, missing=", ".join(missing),
                          sig=", ".join(spec_near.signature))
        else:
            cells = list(src.header)
            while cells and not cells[-1].strip():  # a sheet's title row: trailing empty cells say nothing
                cells.pop()
            shown = ", ".join(cells[:6]) + (" ..." if len(cells) > 6 else "")
            sigs = "; ".join(f"{s.name}: {', '.join(s.signature)}" for s in TABLES.values())
            key = "no_table_xlsx" if src.format == "xlsx" else "no_table"
            probs.add_msg(1, "-", key, header=shown, sigs=sigs)
        readers.drop_stage(con, name)
        return rep
    rep.table = spec.name
    rep.ignored_columns = [h for i, h in enumerate(src.header) if i not in mapping.values() and h.strip()]
    for col in spec.required:
        if col not in mapping:
            probs.add_msg(1, col, "required", col=col, table=spec.name)
    # Only recognised columns must be unique: blank or repeated unknown headers (Excel's trailing
    # empty columns, two 'Observación') are ignored like any other unknown column.
    seen = Counter(header_key(h) for h in src.header)
    for col, i in mapping.items():
        if seen[header_key(src.header[i])] > 1:
            same = [h for h in src.header if header_key(h) == header_key(src.header[i])]
            probs.add_msg(1, src.header[i], "repeated_column", col=col, spellings=", ".join(same))
    if probs:
        readers.drop_stage(con, name)
        return rep
    prev = _already_loaded(con, src.sha256, spec.name)
    if prev is not None:
        rep.status, rep.rows_in_file, rep.skipped_duplicates = "already-loaded", prev, prev
        rep.note = "same file content (sha256) was loaded before: skipped"
        readers.drop_stage(con, name)
        return rep
    try:
        if src.format != "xlsx":
            n_rows = readers.stage(con, src, name)
        for line, col, what, what_es in src.structural_problems:
            probs.add(line, col, what, es=what_es)
        if src.n_structural > len(src.structural_problems):
            probs.total += src.n_structural - len(src.structural_problems)
        rep.rows_in_file = n_rows + src.n_structural
        if n_rows == 0 and not src.n_structural:
            # a month without lightning strokes or new switches is exported as a header alone: that is
            # "nothing to load", not a reason to refuse the other files of the folder
            rep.status, rep.note = "empty", "no data rows (header only): nothing to load"
            return rep
        m = val.Mapping(spec, mapping, src.source_types, src.header, typed_file=src.format == "parquet")
        val.typed_view(con, f"{name}_v", m, "_typed")
        empty = _table_is_empty(con, spec.name)
        if empty and m.typed_file and not val.needs_source(m):
            # Fast path (big Parquet snapshots into an empty table): insert first, then run every
            # rule on the stored rows, which scan far faster than re-decoding the Parquet file
            # three times. On any hit the rows are deleted again and the file is re-checked the
            # slow way below to report lines; the transaction is then rolled back anyway.
            added = val.insert_new_rows(con, "_typed", spec, store_empty=True)
            if val.count_problems(con, _quoted(spec.name), m) == 0:
                rep.rows_added, rep.skipped_duplicates, rep.status = added, n_rows - added, "loaded"
                return rep
            con.execute(f"DELETE FROM {_quoted(spec.name)}")
        val.check_rows(con, "_typed", m, probs)
        val.check_duplicates(con, "_typed", m, probs)
        same = val.check_store_conflicts(con, "_typed", m, probs, (earlier or {}).get(spec.name))
        if probs:
            return rep
        rep.rows_added = val.insert_new_rows(con, "_typed", spec, store_empty=empty)
        rep.skipped_duplicates = n_rows - rep.rows_added
        rep.status = "loaded"
        if same and not rep.note:
            rep.note = f"{same} row(s) already stored with identical values: skipped"
        return rep
    except duckdb.InterruptException:
        raise  # Ctrl-C, not a problem of the file: ingest() rolls back and raises KeyboardInterrupt
    except duckdb.Error as e:
        # DuckDB aborts the transaction on an error: nothing more can run in this batch.
        probs.add_msg(1, "-", "cannot_read", error=_first_line(e))
        rep.note = ABORTED
        return rep
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute("DROP VIEW IF EXISTS _typed")
            readers.drop_stage(con, name)


def _interrupted(e: BaseException) -> bool:
    """Whether ``e`` is DuckDB's way of reporting a Ctrl-C (SIGINT) during a query."""
    return isinstance(e, duckdb.InterruptException) or (
        type(e) is RuntimeError and str(e).startswith("Query interrupted")
    )


def ingest(paths: list[Path | str], store: Path | str, *, progress: bool = False) -> IngestReport:
    """Load export files or folders into ``store`` (created if needed); all or nothing.

    Raises :class:`ValidationError` (``.problems``: ``file:line:column: what`` lines, ``.n_problems``:
    total) when any file is invalid; the store is then unchanged. See the module docstring.
    """
    t0 = time.perf_counter()
    files = collect_files(list(paths) if isinstance(paths, (list, tuple)) else [paths])
    if not files:
        where = ", ".join(map(str, paths))
        raise NotFoundError(
            f"no .csv/.xlsx/.parquet files in {where}", es=f"no hay archivos .csv/.xlsx/.parquet en {where}"
        )
    con = connect(store)
    _duckdb_settings(con)
    reports: list[FileReport] = []
    all_probs: list[val.FileProblems] = []
    earlier: dict[str, list[str]] = {}
    bar = None
    try:
        con.begin()
        load_id = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM _loads").fetchone()[0]
        if progress:
            from rich.console import Console

            # On stderr and only on a terminal: a rich Progress writes a newline to its console even
            # when that is a pipe, which left a blank line in front of the output (and on stdout of a
            # refused load).
            bar_console = Console(stderr=True)
            progress = bar_console.is_terminal
        if progress:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            bar = Progress(
                TextColumn("[bold]ingest[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=bar_console,
                transient=True,
            )
            bar.start()
            task = bar.add_task("", total=len(files))
        for path, in_folder in files:
            if bar is not None:
                bar.update(task, description=path.name)
            probs = val.FileProblems(str(path))
            rep = _load_file(con, path, in_folder, probs, earlier)
            reports.append(rep)
            if rep.rows_added and rep.table:
                earlier.setdefault(rep.table, []).append(path.name)
            if probs:
                rep.status = "rejected"
                all_probs.append(probs)
            elif rep.status in ("loaded", "already-loaded"):
                con.execute(
                    "INSERT INTO _loads VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        load_id,
                        str(path),
                        rep.sha256,
                        rep.table,
                        rep.rows_in_file,
                        rep.rows_added,
                        datetime.now(),
                    ],
                )
            if bar is not None:
                bar.advance(task)
            if rep.note == ABORTED:
                break
        if all_probs:
            total = sum(p.total for p in all_probs)
            shown: list[str] = []
            shown_es: list[str] = []
            # Interleave files so a long list from one file does not hide the others.
            for k in range(val.PROBLEMS_PER_FILE):
                shown.extend(p.shown[k] for p in all_probs if k < len(p.shown))
                shown_es.extend(p.shown_es[k] for p in all_probs if k < len(p.shown_es))
            raise ValidationError(
                f"ingest refused: {total} problem(s) in {len(all_probs)} of {len(files)} file(s); "
                f"nothing was written to {store}. First: {shown[0] if shown else '?'}",
                problems=shown[:MAX_PROBLEMS],
                n_problems=total,
                es=f"carga rechazada: {total} problema(s) en {len(all_probs)} de {len(files)} archivo(s); "
                f"no se escribió nada en {store}. Primero: {shown_es[0] if shown_es else '?'}",
                problems_es=shown_es[:MAX_PROBLEMS],
            )
        con.commit()
    except BaseException as e:
        with contextlib.suppress(duckdb.Error):
            con.rollback()
        if _interrupted(e):
            # Ctrl-C inside a DuckDB query surfaces as RuntimeError('Query interrupted'): make it the
            # KeyboardInterrupt it is (the CLI says so in one line, exit 130), after the rollback.
            raise KeyboardInterrupt(f"ingest interrupted; nothing was written to {store}") from e
        raise
    finally:
        if bar is not None:
            bar.stop()
        con.close()
    return IngestReport(str(store), int(load_id), reports, time.perf_counter() - t0)
