"""PDF → clean page texts (pypdf), with running headers and footers removed.

Regulation PDFs repeat a header ("RESOLUCIÓN NÚMERO 40117 ... Hoja 6 de 168") and sometimes a footer on
every page; left in, they dominate BM25 statistics and break sentences across pages. A line is a running
header/footer when, with digits masked, it appears among the first or last lines of at least 40 % of
the pages. Table-of-contents lines (dot leaders) are dropped too: they repeat every heading and would
outrank the real article.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gridcrit.errors import NotFoundError, ValidationError

_EDGE_LINES = 5  # how many lines at the top/bottom of a page may be a running header/footer
_DOT_LEADER = re.compile(r"(\.\s?){6,}\s*\d*\s*$")
_PAGE_NUMBER = re.compile(r"^\s*(p[áa]gina|hoja|page)?\s*\d+\s*((de|of|/)\s*\d+)?\s*$", re.IGNORECASE)


def _mask(line: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", " ", line.strip().lower()))


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """pypdf logs its findings ("EOF marker not found", "Ignoring wrong pointing object") on stderr before
    raising or recovering; the error we raise names the problem in one line instead."""
    log = logging.getLogger("pypdf")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


def read_pdf_pages(path: str | Path, progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Raw text of every page of the PDF at ``path``; ``progress(done, total)`` after each page.

    Raises NotFoundError if missing, ValidationError naming the file if it is empty, not a PDF,
    unreadable/encrypted, or has no extractable text (a scanned PDF needs OCR first).
    """
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"{path}: file not found / archivo no encontrado")
    if path.is_dir():
        raise ValidationError(f"{path}: is a folder, expected a PDF file / es una carpeta, se esperaba un PDF")
    size = path.stat().st_size
    if size == 0:
        raise ValidationError(f"{path}: empty file (0 bytes) / archivo vacío (0 bytes)")
    with path.open("rb") as fh:
        head = fh.read(1024)
    if b"%PDF-" not in head:
        raise ValidationError(f"{path}: not a PDF (no %PDF header) / no es un PDF")
    # pypdf needs ~20 s for a 300-page RETIE book: a file read again unchanged in this process (a corpus
    # rebuilt, the same PDF added under another name) reuses its text
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _PAGES_CACHE:
        cached = list(_PAGES_CACHE[key])
        if progress:
            progress(len(cached), len(cached))
        return cached
    pages = _read_with_pypdf(path, progress)
    _PAGES_CACHE[key] = tuple(pages)
    while len(_PAGES_CACHE) > 4:
        _PAGES_CACHE.pop(next(iter(_PAGES_CACHE)))
    return pages


_PAGES_CACHE: dict[tuple[str, int, int], tuple[str, ...]] = {}


def _read_with_pypdf(path: Path, progress: Callable[[int, int], None] | None) -> list[str]:
    import pypdf
    from pypdf.errors import PdfReadError

    try:
        with _quiet_pypdf():
            reader = pypdf.PdfReader(str(path))
            if reader.is_encrypted:
                raise ValidationError(f"{path}: encrypted PDF is not supported / PDF cifrado no soportado")
            pages = []
            n = len(reader.pages)
            for p in reader.pages:
                pages.append(p.extract_text() or "")
                if progress:
                    progress(len(pages), n)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        raise ValidationError(f"{path}: unreadable PDF ({type(e).__name__}: {e}) / PDF ilegible") from e
    if not pages:
        raise ValidationError(f"{path}: PDF has no pages / el PDF no tiene páginas")
    if sum(len(p.strip()) for p in pages) < 20:
        raise ValidationError(
            f"{path}: no extractable text ({len(pages)} pages; scanned images need OCR first) / "
            "sin texto extraíble (¿PDF escaneado?)"
        )
    return pages


def strip_running_lines(pages: list[str]) -> list[str]:
    """Remove running headers/footers, bare page numbers and table-of-contents lines."""
    split = [[ln for ln in p.splitlines()] for p in pages]
    edges: Counter[str] = Counter()
    for lines in split:
        nonblank = [ln for ln in lines if ln.strip()]
        for ln in set(nonblank[:_EDGE_LINES] + nonblank[-_EDGE_LINES:]):
            edges[_mask(ln)] += 1
    threshold = max(2, int(0.4 * len(pages)))
    running = {m for m, n in edges.items() if n >= threshold and m}
    out = []
    for lines in split:
        nonblank_idx = [i for i, ln in enumerate(lines) if ln.strip()]
        edge_idx = set(nonblank_idx[:_EDGE_LINES] + nonblank_idx[-_EDGE_LINES:])
        kept = []
        for i, ln in enumerate(lines):
            if i in edge_idx and (_mask(ln) in running or _PAGE_NUMBER.match(ln)):
                continue
            if _DOT_LEADER.search(ln):
                continue
            kept.append(ln.rstrip())
        out.append("\n".join(kept).strip())
    return out


def extract_pages(path: str | Path, progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Clean text of every page (index 0 = page 1); ``progress(done, total)`` after each page read."""
    return strip_running_lines(read_pdf_pages(path, progress))
