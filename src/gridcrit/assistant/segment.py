"""Split clean page texts into citable units: capítulo / título / artículo / numeral, else paragraphs.

Each unit carries the document name, an anchor users can cite ("Art. 3.17.4", "Art. 20.2.1",
"Cap. 2", or "p. 7 ¶2" where the text has no numbering), the page it starts on, and the heading path.
Long articles are cut into parts of about ``max_words`` words at paragraph boundaries (same anchor,
``part`` 1, 2, ...): the embedder reads at most 512 tokens and BM25 favours focused passages.
Each part carries its own first and last page and ``breaks`` — the text offsets where a new page starts —
so that a quoted sentence is cited with the page it is printed on, not the page its article starts on.

A heading must start a sentence: a line such as "Artículo 15°." or "Capítulo 2 Requisitos …" that
continues a sentence of the previous line ("… establecidos en el Capítulo 2,") is a cross-reference.

Headings recognised (both RETIE editions):

    ARTÍCULO 20º. REQUISITOS ...     -> "Art. 20"
    Artículo 3.17.4. Bóvedas         -> "Art. 3.17.4"
    20.2.1 REQUISITOS DE PRODUCTO    -> "Art. 20.2.1"   (numeral: must extend the current article number)
    CAPÍTULO 2 / TÍTULO 5 – ...      -> "Cap. 2" / "Tít. 5" (text before the first article under it)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ARTICLE = re.compile(r"^\s*(?:ART[ÍI]CULO|Art[íi]culo)\s+(\d{1,3}(?:\.\d{1,3}){0,4})\s*[º°o]?\s*[.\-–:]?\s*(.*)$")
_CHAPTER = re.compile(r"^\s*(CAP[ÍI]TULO|Cap[íi]tulo|T[ÍI]TULO|T[íi]tulo)\s+(\d{1,2}|[IVXL]{1,5})\b\s*[.\-–:]?\s*(.*)$")


def _heading_rest(rest: str) -> bool:
    """A heading's text after its number is empty or starts like a title (not "del presente Anexo, ...")."""
    rest = rest.strip()
    return not rest or rest[0].isupper() or rest[0].isdigit()
_NUMERAL = re.compile(r"^\s*(\d{1,2}(?:\.\d{1,2}){1,5})\.?\s+(\S.{1,140})$")
_WORD = re.compile(r"\S+")


@dataclass
class Unit:
    """One citable passage."""

    doc: str
    anchor: str
    title: str  # heading path, e.g. "CAPÍTULO 2 › ARTÍCULO 20 › 20.8 CANALIZACIONES"
    page: int  # 1-based page where the passage starts
    page_end: int
    text: str
    part: int = 1
    ordinal: int = 0  # position in the document
    breaks: list[tuple[int, int]] = field(default_factory=list)  # (offset in text, page starting there)

    @property
    def uid(self) -> str:
        return f"{self.doc}#{self.anchor}#{self.part}"


@dataclass
class _Open:
    anchor: str
    title: str
    page: int
    page_end: int
    paras: list[str] = field(default_factory=list)
    cur: list[str] = field(default_factory=list)
    text_page: int = 0  # page of the last line added to the text


# A page change inside a passage is marked in its text while it is built (private-use characters: not
# whitespace, not word characters, never in a PDF's text) and turned into ``Unit.breaks`` at the end.
_MARK = re.compile("\ue000(\\d+)\ue001")
# a line that does not end a sentence: the next line continues it ("… establecidos en el Capítulo 2,")
_CONTINUES = re.compile(r"(,|\b(?:el|la|los|las|del|de|al|en|con|por|y|o|que|según|segun|presente|dicho|"
                        r"dicha|este|esta|ver|véase|vease|numeral|literal|artículo|articulo))\s*$")


def _is_heading_title(title: str) -> bool:
    letters = [c for c in title if c.isalpha()]
    return len(letters) >= 3 and title.strip()[0].isupper() and not title.rstrip().endswith(",")


def _numeral_ok(num: str, article: str | None, title: str) -> bool:
    if article is None or not _is_heading_title(title):
        return False
    # "20.2.1" under ARTÍCULO 20, "3.13.1.3" under Artículo 3.13.1; anything else is a list item/number.
    return num.startswith(article + ".")


def segment_pages(doc: str, pages: list[str], max_words: int = 160) -> list[Unit]:
    """Units of ``doc`` from its clean page texts (index 0 = page 1)."""
    units: list[Unit] = []
    heads: dict[str, str] = {}  # level -> heading text, for the title path
    article: str | None = None
    cur = _Open(anchor="", title="", page=1, page_end=1)

    def flush_para() -> None:
        if cur.cur:
            text = " ".join(cur.cur)
            # re-join hyphenated line breaks (also across a page mark)
            text = re.sub("(\\w)- (\ue000\\d+\ue001)?(\\w)", r"\1\2\3", text)
            cur.paras.append(re.sub(r"\s+", " ", text).strip())
            cur.cur.clear()

    def close() -> None:
        flush_para()
        paras = [p for p in cur.paras if p]
        if not paras:
            return
        anchor = cur.anchor or f"p. {cur.page}"
        page = cur.page
        for part, chunk in enumerate(_chunks(paras, max_words), start=1):
            text, breaks, start, page = _unmark(chunk, page)
            units.append(Unit(doc, anchor, cur.title, start, page, text, part, len(units), breaks))

    prev_line = ""  # the previous non-blank line (across pages), to tell headings from cross-references
    for pno, page in enumerate(pages, start=1):
        for raw in page.splitlines():
            line = raw.strip()
            if not line:
                flush_para()
                prev_line = ""
                continue
            continues = bool(prev_line) and bool(_CONTINUES.search(prev_line))
            prev_line = line
            m_art = None if continues else _ARTICLE.match(line)
            if m_art and not _heading_rest(m_art.group(2)):
                m_art = None
            m_cap = None if (m_art or continues) else _CHAPTER.match(line)
            if m_cap and not _heading_rest(m_cap.group(3)):
                m_cap = None
            m_num = None if (m_art or m_cap or continues) else _NUMERAL.match(line)
            if m_num and not _numeral_ok(m_num.group(1), article, m_num.group(2)):
                m_num = None
            if m_art or m_cap or m_num:
                close()
                if m_art:
                    article = m_art.group(1)
                    heads = {k: v for k, v in heads.items() if k == "cap"}
                    heads["art"] = line
                    anchor = f"Art. {article}"
                elif m_cap:
                    kind = "Cap." if m_cap.group(1).upper().startswith("CAP") else "Tít."
                    heads = {"cap": line}
                    article = None
                    anchor = f"{kind} {m_cap.group(2)}"
                else:
                    heads = {k: v for k, v in heads.items() if k in ("cap", "art")}
                    heads["num"] = line
                    anchor = f"Art. {m_num.group(1)}"
                cur = _Open(anchor=anchor, title=" › ".join(heads.values()), page=pno, page_end=pno, text_page=pno)
                continue
            if not cur.paras and not cur.cur:
                # the passage's text starts here (its heading may be at the foot of the previous page)
                cur.page = pno
                cur.text_page = pno
            # a new paragraph per literal "a." / "b)" / bullet, so chunks break there
            if re.match(r"^([a-zñ][.)]|\d{1,2}[.)]|[•\-–])\s", line):
                flush_para()
            if pno != cur.text_page:
                line = f"\ue000{pno}\ue001{line}"
                cur.text_page = pno
            cur.cur.append(line)
            cur.page_end = pno
        flush_para()
        if not cur.anchor:  # unnumbered text: one unit per page ("p. N")
            close()
            cur = _Open(anchor="", title="", page=pno + 1, page_end=pno + 1)
    close()
    return units


def _unmark(chunk: str, page: int) -> tuple[str, list[tuple[int, int]], int, int]:
    """(text without page marks, [(offset, page)] of the pages starting inside it, first page, last page);
    ``page`` is the page in effect where the chunk starts."""
    out: list[str] = []
    breaks: list[tuple[int, int]] = []
    pos = n = 0
    start = page
    for m in _MARK.finditer(chunk):
        out.append(chunk[pos:m.start()])
        n += m.start() - pos
        pos = m.end()
        page = int(m.group(1))
        if n == 0:
            start = page
        else:
            breaks.append((n, page))
    out.append(chunk[pos:])
    return "".join(out), breaks, start, page


def page_of(offset: int, page: int, breaks) -> int:
    """Page on which character ``offset`` of a passage starting on ``page`` with ``breaks`` is printed."""
    for off, p in breaks or ():
        if off > offset:
            break
        page = p
    return page


def _chunks(paras: list[str], max_words: int) -> list[str]:
    """Group paragraphs into chunks of at most ~max_words words (a longer paragraph is cut by words)."""
    out: list[str] = []
    buf: list[str] = []
    n = 0
    for p in paras:
        words = _WORD.findall(p)
        if len(words) > max_words:
            if buf:
                out.append(" ".join(buf))
                buf, n = [], 0
            for i in range(0, len(words), max_words):
                out.append(" ".join(words[i : i + max_words]))
            continue
        if n + len(words) > max_words and buf:
            out.append(" ".join(buf))
            buf, n = [], 0
        buf.append(p)
        n += len(words)
    if buf:
        out.append(" ".join(buf))
    return out
