"""The regulation corpus inside the project store (DuckDB tables ``_corpus_*``).

    _corpus_docs     one row per document: name, file, sha256, pages, units, year, aliases, added_at
    _corpus_units    one row per citable passage: doc, ordinal, anchor, part, title, page, page_end, text, vkey,
                     breaks (JSON [[offset, page], ...]: where a new page starts inside the text)
    _corpus_vectors  e5 vectors keyed by a hash of the embedded text (a cache: re-adding a document or a
                     new edition with unchanged clauses re-embeds only what changed)

Adding a document does the slow work first (text extraction, segmentation, embedding) and then replaces
the document's rows in one transaction, so a failure leaves the previous version intact.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from gridcrit.assistant.embed import DIM, embed_passages, passage_text, text_key
from gridcrit.assistant.pdf import read_pdf_pages, strip_running_lines
from gridcrit.assistant.segment import Unit, segment_pages
from gridcrit.data.store import connect
from gridcrit.errors import NotFoundError, ValidationError

_NAME = re.compile(r"^[\w][\w.\-]{0,79}$")

_DDL = (
    """CREATE TABLE IF NOT EXISTS _corpus_docs (doc VARCHAR, file VARCHAR, sha256 VARCHAR, pages INTEGER,
    units INTEGER, year INTEGER, aliases VARCHAR, added_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS _corpus_units (doc VARCHAR, ordinal INTEGER, anchor VARCHAR, part INTEGER,
    title VARCHAR, page INTEGER, page_end INTEGER, text VARCHAR, vkey VARCHAR, breaks VARCHAR)""",
    f"CREATE TABLE IF NOT EXISTS _corpus_vectors (vkey VARCHAR PRIMARY KEY, vec FLOAT[{DIM}])",
    # stores indexed before passages knew their page breaks: NULL = unknown (cited as a page range)
    "ALTER TABLE _corpus_units ADD COLUMN IF NOT EXISTS breaks VARCHAR",
)
_UNIT_COLS = "doc, ordinal, anchor, part, title, page, page_end, text, vkey, breaks"


@dataclass
class DocInfo:
    """Summary of a stored document."""

    doc: str
    file: str
    pages: int
    units: int
    year: int | None
    aliases: str
    embedded_new: int = 0  # vectors computed for this add (others came from the cache)


def ensure_corpus_schema(con) -> None:
    for ddl in _DDL:
        con.execute(ddl)


def _has_corpus(con) -> bool:
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return "_corpus_units" in names


def default_name(path: Path) -> str:
    """Document name from the file name (letters, digits, ``._-``)."""
    return re.sub(r"[^\w.\-]+", "-", path.stem).strip("-")[:80] or "doc"


def _year(pages: list[str], name: str) -> int | None:
    for text in (name, pages[0] if pages else "", *pages[1:3]):
        # not \b: "RETIE_2024_libro3" has the year between underscores, which are word characters
        m = re.search(r"(?<![0-9A-Za-z])(19[5-9]\d|20[0-4]\d)(?![0-9A-Za-z])", text)
        if m:
            return int(m.group(1))
    return None


def add_document(
    store: str | Path,
    path: str | Path,
    name: str | None = None,
    aliases: str = "",
    dense: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> DocInfo:
    """Extract, segment, embed and store the PDF at ``path`` as document ``name`` (replacing it).

    ``aliases``: extra words a question may use to name this document (e.g. "retie 2013, anexo").
    ``progress(stage, done, total)`` reports progress: stage "pages" (PDF pages read), then "embed"
    (passages embedded). Raises ValidationError for an empty,
    non-PDF, unreadable or text-less (scanned) file, naming the file; the store is unchanged then.
    """
    path = Path(path)
    name = name or default_name(path)
    if not _NAME.match(name):
        raise ValidationError(f"invalid document name {name!r}: use letters, digits, '.', '-', '_' (max 80)")
    raw = read_pdf_pages(path, (lambda d, n: progress("pages", d, n)) if progress else None)
    pages = strip_running_lines(raw)
    units = segment_pages(name, pages)
    if not units:
        raise ValidationError(f"{path}: no text passages found after removing headers/footers")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    # the running header ("RESOLUCIÓN NO. 18 XX NOVIEMBRE DE 2012", stripped from the text) dates it too
    year = _year(pages, name) or _year(raw[:1], "")
    texts = [passage_text(u.title, u.text) for u in units]
    keys = [text_key(t) for t in texts]

    con = connect(store)
    try:
        ensure_corpus_schema(con)
        new_idx: list[int] = []
        if dense:
            have = {r[0] for r in con.execute("SELECT vkey FROM _corpus_vectors").fetchall()}
            seen: set[str] = set()
            for i, k in enumerate(keys):
                if k not in have and k not in seen:
                    new_idx.append(i)
                    seen.add(k)
        vecs = None
        if new_idx:
            cb = (lambda d: progress("embed", d, len(new_idx))) if progress else None
            vecs = embed_passages([texts[i] for i in new_idx], progress=cb)
        frame = pd.DataFrame(
            {
                "doc": name,
                "ordinal": [u.ordinal for u in units],
                "anchor": [u.anchor for u in units],
                "part": [u.part for u in units],
                "title": [u.title for u in units],
                "page": [u.page for u in units],
                "page_end": [u.page_end for u in units],
                "text": [u.text for u in units],
                "vkey": keys if dense else [None] * len(units),
                "breaks": [json.dumps(u.breaks) for u in units],
            }
        )
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM _corpus_units WHERE doc = ?", [name])
            con.execute("DELETE FROM _corpus_docs WHERE doc = ?", [name])
            con.register("_new_units", frame)
            con.execute(f"INSERT INTO _corpus_units ({_UNIT_COLS}) SELECT {_UNIT_COLS} FROM _new_units")
            con.unregister("_new_units")
            if vecs is not None:
                vframe = pd.DataFrame({"vkey": [keys[i] for i in new_idx], "vec": list(vecs)})
                con.register("_new_vecs", vframe)
                con.execute(f"INSERT INTO _corpus_vectors SELECT vkey, vec::FLOAT[{DIM}] FROM _new_vecs")
                con.unregister("_new_vecs")
            con.execute(
                "INSERT INTO _corpus_docs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [name, str(path), sha, len(pages), len(units), year, aliases, datetime.now()],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    return DocInfo(name, str(path), len(pages), len(units), year, aliases, len(new_idx))


def list_documents(store: str | Path) -> list[DocInfo]:
    """Documents in the corpus (empty list if none)."""
    con = connect(store, read_only=True)
    try:
        if not _has_corpus(con):
            return []
        rows = con.execute(
            "SELECT doc, file, pages, units, year, aliases FROM _corpus_docs ORDER BY doc"
        ).fetchall()
    finally:
        con.close()
    return [DocInfo(*r) for r in rows]


def remove_document(store: str | Path, name: str) -> int:
    """Remove document ``name`` (and vectors no longer used). Returns its unit count."""
    con = connect(store)
    try:
        ensure_corpus_schema(con)
        n = con.execute("SELECT count(*) FROM _corpus_units WHERE doc = ?", [name]).fetchone()[0]
        if n == 0:
            known = [r[0] for r in con.execute("SELECT doc FROM _corpus_docs ORDER BY doc").fetchall()]
            raise NotFoundError(f"document {name!r} not in the corpus; documents: {', '.join(known) or '(none)'}")
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM _corpus_units WHERE doc = ?", [name])
        con.execute("DELETE FROM _corpus_docs WHERE doc = ?", [name])
        con.execute("DELETE FROM _corpus_vectors WHERE vkey NOT IN (SELECT vkey FROM _corpus_units WHERE vkey IS NOT NULL)")
        con.execute("COMMIT")
    finally:
        con.close()
    return n


def normalise_anchor(anchor: str) -> str:
    """'artículo 20.2.1', 'Art 20.2.1', '20.2.1' -> 'Art. 20.2.1' (other anchors unchanged)."""
    a = anchor.strip()
    m = re.match(r"^(?:art[íi]culo|art\.?)?\s*(\d+(?:\.\d+)*)\.?$", a, re.IGNORECASE)
    return f"Art. {m.group(1)}" if m else a


def show_units(store: str | Path, anchor: str, doc: str | None = None) -> list[dict]:
    """Passages whose anchor is ``anchor`` (any document unless ``doc``), in document order."""
    con = connect(store, read_only=True)
    try:
        if not _has_corpus(con):
            raise NotFoundError("the corpus is empty; add documents with 'gridcrit corpus add FILE.pdf'")
        a = normalise_anchor(anchor)
        sql = "SELECT doc, anchor, part, title, page, page_end, text FROM _corpus_units WHERE anchor = ?"
        params: list = [a]
        if doc:
            sql += " AND doc = ?"
            params.append(doc)
        rows = con.execute(sql + " ORDER BY doc, ordinal", params).fetchall()
    finally:
        con.close()
    if not rows:
        raise NotFoundError(f"anchor {a!r} not found" + (f" in document {doc!r}" if doc else ""))
    keys = ("doc", "anchor", "part", "title", "page", "page_end", "text")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def load_corpus(con) -> tuple[pd.DataFrame, np.ndarray | None, pd.DataFrame]:
    """(units frame in document order, (n, 384) vectors aligned with it or None, docs frame)."""
    if not _has_corpus(con):
        return pd.DataFrame(), None, pd.DataFrame()
    cols = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = '_corpus_units'").fetchall()}
    breaks = "u.breaks" if "breaks" in cols else "NULL::VARCHAR AS breaks"
    units = con.execute(
        f"""SELECT u.doc, u.ordinal, u.anchor, u.part, u.title, u.page, u.page_end, u.text, u.vkey, {breaks},
                  v.vec IS NOT NULL AS has_vec
           FROM _corpus_units u LEFT JOIN _corpus_vectors v USING (vkey) ORDER BY u.doc, u.ordinal"""
    ).df()
    docs = con.execute("SELECT doc, year, aliases, pages FROM _corpus_docs ORDER BY doc").df()
    vecs = None
    if len(units) and bool(units["has_vec"].all()):
        rows = con.execute(
            """SELECT v.vec FROM _corpus_units u JOIN _corpus_vectors v USING (vkey) ORDER BY u.doc, u.ordinal"""
        ).fetchnumpy()["vec"]
        vecs = np.asarray([np.asarray(r, dtype=np.float32) for r in rows], dtype=np.float32).reshape(-1, DIM)
    return units, vecs, docs


def units_from_frame(frame: pd.DataFrame) -> list[Unit]:
    return [
        Unit(r.doc, r.anchor, r.title, int(r.page), int(r.page_end), r.text, int(r.part), int(r.ordinal))
        for r in frame.itertuples()
    ]
