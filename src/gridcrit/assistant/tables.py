"""Rows of RETIE's voltage tables, read back from the flattened text of a passage.

RETIE gives its safety distances (and other limits) as tables: a description, then one line per
nominal voltage with its value. PDF text extraction flattens them into runs like::

    Distancia horizontal “b” a muros, balcones, … (Figura 13.1) 66/57,5 2,5 44/34,5/33 2,3
    13,8/13,2/11,4/7,6 2,3 <1 1,7 Distancia vertical “c” sobre …

Quoted as they are, the numbers have no label: an engineer asking for 13,2 kV cannot tell which number
is the answer, nor what it is the distance to. :func:`voltage_rows` splits such runs back into rows
(description → {voltage column → value}); :func:`rows_for_question` picks the rows for the voltage a
question names, so the answer can say "Distancia horizontal “b” a muros…: 2,3 m" with its citation.
A row the segmenter cut from its description (the part starts with its values) is read with the end of
the part before (``lead``). :func:`matrix_tables` reads the voltage × voltage tables (Tabla 3.10.3.a: the
vertical distance between two lines), whose cells are placed in their columns by the table's shape.

Example::

    >>> text = ("Distancia vertical “a” sobre techos. 44/34,5/33 3,8 13,8/13,2/11,4/7,6 3,8 <1 0,45 "
    ...         "Distancia horizontal “b” a muros. 66/57,5 2,5 13,8/13,2/11,4/7,6 2,3 <1 1,7")
    >>> [(r.description, r.value_for("13,2")) for r in voltage_rows(text)]
    [('Distancia vertical “a” sobre techos.', '3,8'), ('Distancia horizontal “b” a muros.', '2,3')]
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

# RETIE's voltage columns (kV between phases), as printed; "<1" is low voltage.
_LABEL = r"(?:500|230/220|115/110|66/57,5|57,5|66|44/34,5/33|13,8/13,2/11,4/7,6|<1)"
_VALUE = r"\d{1,3}(?:[.,]\d{1,2})?"
_PAIR = re.compile(rf"(?<![\w/,.<])({_LABEL})\s+({_VALUE})(?![\w/,])")
# where a row's description starts inside the text before its values (the table header ends before it)
_DESC_START = re.compile(r"\b(?:Distancia|Distancias|Altura|Separación|Ancho|Zona|Tensión|Corriente|Valor)\b")
_HEADER_END = re.compile(r"Distancia\s*\(m\)|DISTANCIAS EN METROS|\(kV\)")
MIN_PAIRS = 2  # a single "voltage value" pair is as likely a sentence's numbers or a matrix cell


@dataclass
class VoltageRow:
    """One table row: ``description`` (quotable unless it starts in the passage before), ``values``
    [(voltage column, value)] printed in the passage and where they sit in its text (``start``..``end``,
    verbatim span ``text``). ``quote_desc`` is the part of the description printed in the passage itself
    (verbatim; all of it, unless the segmenter cut the row after its description: then only what follows
    the cut, possibly nothing)."""

    description: str
    values: list[tuple[str, str]]
    start: int
    end: int
    text: str  # the verbatim "label value label value …" span
    quote_desc: str | None = None  # None: the whole description

    def __post_init__(self) -> None:
        if self.quote_desc is None:
            self.quote_desc = self.description

    def value_for(self, kv: str) -> str | None:
        """The value of the column containing voltage ``kv`` ("13,2", "33", "<1"), or None."""
        for label, value in self.values:
            if kv in label.split("/"):
                return value
        return None

    def pair_for(self, kv: str) -> str | None:
        """The verbatim "column value" pair of voltage ``kv`` (for a quote), or None."""
        for label, value in self.values:
            if kv in label.split("/"):
                m = re.search(rf"{re.escape(label)}\s+{re.escape(value)}", self.text)
                return m.group(0) if m else None
        return None


# a description read from the passage before (the segmenter cut a row after its description) is taken only
# when little of the row's text stands in this passage before its values; a row's description that is not
# introduced by one of the words of _DESC_START ("En áreas de bosques …") is the text between two rows
MAX_DESC_IN_PASSAGE = 300
MAX_DESC_BETWEEN_ROWS = 400


def _description(full: str, prev_end: int, run_start: int, off: int) -> int | None:
    """Offset in ``full`` where the description of the row whose values start at ``run_start`` begins,
    or None. ``prev_end``: end of the previous row's values (0: none); ``off``: where the passage's own
    text starts in ``full`` (after the lead)."""
    begin = prev_end
    for h in _HEADER_END.finditer(full, prev_end, run_start):
        begin = h.end()
    starts = list(_DESC_START.finditer(full, begin, run_start))
    if starts:
        at = starts[-1].start()
    elif prev_end > 0 and begin == prev_end:  # right after a row: all of the text between is this row's
        at = len(full[:run_start]) - len(full[prev_end:run_start].lstrip())
        if not 0 < run_start - at <= MAX_DESC_BETWEEN_ROWS or not full[at].isupper():
            return None
    else:
        return None
    if at < off and run_start - off > MAX_DESC_IN_PASSAGE:
        return None  # a description before a long stretch of this passage's text: not this row's
    return at


def voltage_rows(text: str, lead: str = "") -> list[VoltageRow]:
    """Rows of every run of at least two consecutive "voltage value" pairs in ``text``, each with the
    description printed before it.

    ``lead``: the end of the text printed just before ``text`` (the previous part of the same article,
    :attr:`Passage.lead`). The segmenter cuts long articles into parts wherever a paragraph ends, also
    inside a table: a run at the very start of a passage then has its description — sometimes its first
    pairs — at the end of the part before. With ``lead`` such a row gets its description from there; its
    values are only those printed in ``text`` (a citation of this passage quotes where they are printed).
    Without it, or when the description is not found, the description is empty."""
    off = len(lead) + 1 if lead else 0
    full = f"{lead} {text}" if lead else text
    runs: list[list[re.Match]] = []
    for m in _PAIR.finditer(full):
        if runs and full[runs[-1][-1].end():m.start()].strip() == "" and m.group(1) not in \
                {x.group(1) for x in runs[-1]}:
            runs[-1].append(m)
        else:
            runs.append([m])
    rows: list[VoltageRow] = []
    prev_end = 0
    for run in runs:
        if len(run) < MIN_PAIRS:
            continue
        own = [m for m in run if m.start() >= off]  # a pair cut by the passage break is in neither part
        if own:
            at = _description(full, prev_end, run[0].start(), off)
            desc = full[at:run[0].start()].strip() if at is not None else ""  # verbatim: it is quoted
            quote = full[max(at, off):run[0].start()].strip() if at is not None else ""
            start, end = own[0].start() - off, own[-1].end() - off
            if at is not None and at < off:
                desc = " ".join(desc.split())  # read across the cut: not verbatim text of this passage
            rows.append(VoltageRow(desc, [(m.group(1), m.group(2)) for m in own], start, end, text[start:end],
                                   quote))
        prev_end = run[-1].end()
    return rows


_KV = re.compile(r"(\d{1,3}(?:[.,]\d{1,2})?)\s*kv\b", re.IGNORECASE)


def question_voltages(question: str) -> list[str]:
    """Voltages a question names, in the tables' spelling ("13.2 kV" → "13,2"); "baja tensión" → "<1"."""
    out = [m.group(1).replace(".", ",") for m in _KV.finditer(question)]
    if re.search(r"baja\s+tensi[oó]n|low\s+voltage", question, re.IGNORECASE):
        out.append("<1")
    return list(dict.fromkeys(out))


# What a user calls a place, in the words of the tables' descriptions (Tabla 13.1 "zonas con construcciones"
# lists walls, balconies, windows and roofs, not "edificios"). Used to rank rows only, not to retrieve.
ROW_WORDS = {
    "edificio": "muros balcones ventanas techos construcciones", "edificios": "muros balcones ventanas techos",
    "edificacion": "muros balcones ventanas techos construcciones",
    "edificaciones": "muros balcones ventanas techos construcciones",
    "casa": "muros balcones ventanas techos", "casas": "muros balcones ventanas techos",
    "vivienda": "muros balcones ventanas techos", "fachada": "muros balcones ventanas",
    "carretera": "carreteras calles vías vehicular", "via": "carreteras calles vías vehicular",
    "vias": "carreteras calles vías vehicular", "calle": "carreteras calles vehicular",
    "suelo": "piso", "piso": "suelo", "rio": "ríos", "rios": "ríos",
}


def _question_stems(question: str, stems_of: Callable[[str], list[str]]) -> set[str]:
    from gridcrit.assistant.retrieval import fold

    words = [w.strip("¿?.,;:") for w in fold(question).split()]
    return set(stems_of(question + " " + " ".join(ROW_WORDS[w] for w in words if w in ROW_WORDS)))


# words of any question about a voltage ("baja tensión", "distancia de seguridad"): they say nothing about
# which table answers it (the rows seldom say "tensión", the table of two lines does: "diferentes tensiones")
GENERIC_WORDS = "tensión tensiones distancia distancias mínima mínimas seguridad"


def relevance(question: str, descriptions: list[str], stems_of: Callable[[str], list[str]]) -> list[float]:
    """Each description's score for ``question``, as :func:`rows_for_question` ranks rows (the question's
    words found in it, weighted by how rare each is among ``descriptions``), without
    :data:`GENERIC_WORDS`."""
    q = _question_stems(question, stems_of) - set(stems_of(GENERIC_WORDS))
    pool = [set(stems_of(d)) for d in descriptions if d]
    n = len(pool)
    return [sum(math.log((n + 1) / (0.5 + sum(st in d for d in pool))) for st in set(stems_of(desc)) & q)
            if desc else 0.0 for desc in descriptions]


def rows_for_question(question: str, rows: list[VoltageRow], kv: str, stems_of: Callable[[str], list[str]],
                      all_rows: list[VoltageRow] | None = None) -> list[tuple[float, VoltageRow]]:
    """``rows`` that have a value for ``kv`` and a description, best first, as (score, row).

    The score sums the question's words found in the description, each weighted by how rare it is among
    ``all_rows``' descriptions (default ``rows``): "distancia mínima" is in every row and says nothing,
    "horizontal" or "muros" picks the row. ``stems_of`` is the retrieval's stemmer, so "edificio" meets
    "edificación"; :data:`ROW_WORDS` adds the tables' words for a few places users name."""
    q = _question_stems(question, stems_of)
    pool = [set(stems_of(r.description)) for r in (all_rows if all_rows is not None else rows) if r.description]
    n = len(pool)
    scored = []
    for i, r in enumerate(rows):
        if not r.description or r.value_for(kv) is None:
            continue
        stems = set(stems_of(r.description)) & q
        score = sum(math.log((n + 1) / (0.5 + sum(st in d for d in pool))) for st in stems)
        scored.append((score, -i, r))
    scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [(sc, r) for sc, _, r in scored]


# ---------------------------------------------------------------- matrix tables (voltage × voltage)
# Tabla 3.10.3.a (RETIE 2024) / Tabla 13.3 (2013): vertical distances between two lines, one voltage per row
# ("línea superior") and per column ("línea inferior"). pypdf gives them row by row, each row's label then
# its cells from the left, then the column labels on one line:
#     … entre fases de la línea superior 500 4,8 4,2 … 7,1 230/220 3,0 … 3,6 … 44/34,5/33 1,8 1,2 1,2 1,3
#     13,8/13,2/11,4/7,6 1,8 1,2 0,6 <1 1,2 0,6 Comunicaciones 0,6 Comunicación <1 13,8/ 13,2/ 11,4/ 7,6
#     44/ 34,5/ 33 57,5 66 115/ 110 230/ 220 500 Tensión nominal (kV) entre fases de la línea inferior
# The cells' columns are not in the text; they follow from the shape: in a lower-triangular table the row
# of the i-th column's voltage has i + 1 cells (columns 1..i + 1; the printed layout agrees: every row's
# first cell sits under "Comunicación"), in a full one every row has one cell per column. A table whose
# rows do not fit one of the two shapes exactly is not read at all.

# what a question about two lines says that the table's title ("… en vanos con líneas de diferentes
# tensiones") does not
MATRIX_WORDS = "cruce cruces cruzan conductores líneas redes entre paralelos"
_AXIS = re.compile(r"Tensi[oó]n\s+nominal\s*\(kV\)\s*entre\s+fases\s+de\s+la\s+(l[ií]nea\s+\w+)")
_CELL = re.compile(r"\d{1,3}(?:[.,]\d{1,2})?")
_VOLT_LABEL = re.compile(r"<1|\d{1,3}(?:,\d{1,2})?(?:/\d{1,3}(?:,\d{1,2})?)*")
_WORD_LABEL = re.compile(r"[A-ZÁÉÍÓÚ][a-záéíóúñ]{3,}")
_TITLE = re.compile(r"Tabla\s+\d{1,3}(?:\.\d{1,3})*\.(?:\s?[a-z]\.)?\s+[^.]*")


@dataclass
class MatrixTable:
    """A voltage × voltage table: ``cells[row label]`` = [(column label, value)], spans verbatim in the
    passage text (``row_spans[row label]`` = (start, end)), ``title`` verbatim ("" when not printed near)."""

    title: str
    row_axis: str  # "línea superior"
    col_axis: str  # "línea inferior"
    cols: list[str]
    cells: dict[str, list[tuple[str, str]]]
    row_spans: dict[str, tuple[int, int]]
    unit: str  # "m" when the table says its distances are in metres, else ""

    @property
    def description(self) -> str:
        """What the table is about, to rank it beside the rows of other tables (:func:`relevance`): its
        title and axes, and :data:`MATRIX_WORDS`."""
        return f"{self.title} {self.row_axis} {self.col_axis} {MATRIX_WORDS}"

    def index(self, name: str) -> int | None:
        """Column of a voltage ("13,2", "<1") or of a named column ("Comunicación"), or None."""
        for i, c in enumerate(self.cols):
            if name in c.split("/") or (_WORD_LABEL.fullmatch(name) and _same_word(name, c)):
                return i
        return None

    def cells_for(self, a: str, b: str) -> list[tuple[str, str, str]]:
        """[(row label, column label, value)] of the cells crossing ``a`` and ``b`` (voltages or named
        columns): in a triangular table the one cell that exists, with the higher of the two as the row."""
        ia, ib = self.index(a), self.index(b)
        if ia is None or ib is None:
            return []
        out = []
        for r, c in ((ia, ib), (ib, ia)):
            row = self._row_label(self.cols[r])
            cells = dict(self.cells.get(row, [])) if row else {}
            if self.cols[c] in cells and (row, self.cols[c], cells[self.cols[c]]) not in out:
                out.append((row, self.cols[c], cells[self.cols[c]]))
        return out

    def _row_label(self, col: str) -> str | None:
        return next((r for r in self.cells if _same_label(r, col)), None)


def _fold(s: str) -> str:
    from gridcrit.assistant.retrieval import fold

    return fold(s)


def _same_word(a: str, b: str) -> bool:
    """"Comunicaciones" (a row) and "Comunicación" (its column) are one label."""
    fa, fb = _fold(a), _fold(b)
    return bool(_WORD_LABEL.fullmatch(b)) and fa[:8] == fb[:8]


def _same_label(a: str, b: str) -> bool:
    return a == b or (bool(_WORD_LABEL.fullmatch(a)) and _same_word(a, b))


def _volts(label: str) -> float:
    return 1.0 if label == "<1" else float(label.split("/")[0].replace(",", "."))


def matrix_tables(text: str) -> list[MatrixTable]:
    """The voltage × voltage tables printed whole in ``text`` (see the comment above)."""
    out = []
    axes = list(_AXIS.finditer(text))
    for top, bottom in itertools.pairwise(axes):
        if top.group(1) == bottom.group(1):
            continue
        t = _read_matrix(text, top, bottom)
        if t is not None:
            out.append(t)
    return out


def _read_matrix(text: str, top: re.Match, bottom: re.Match) -> MatrixTable | None:
    toks = [(m.group(0), m.start(), m.end()) for m in re.finditer(r"\S+", text[:bottom.start()])
            if m.start() >= top.end()]
    merged: list[tuple[str, int, int]] = []  # the column labels are printed over several lines: "13,8/ 13,2/"
    for tok, s, e in toks:
        if merged and merged[-1][0].endswith("/"):
            merged[-1] = (merged[-1][0] + tok, merged[-1][1], e)
        else:
            merged.append((tok, s, e))
    # the column labels close the table: voltages rising to the right, a named column ("Comunicación") first
    first = len(merged)
    while first > 0:
        tok = merged[first - 1][0]
        if _WORD_LABEL.fullmatch(tok):
            first -= 1
            break
        if not _VOLT_LABEL.fullmatch(tok) or (first < len(merged) and _volts(tok) >= _volts(merged[first][0])):
            break  # not a voltage, or not below the column after it
        first -= 1
    for k in range(first, len(merged) - 1):  # the scan may have taken a last cell for a column: drop it
        cols = [tok for tok, _, _ in merged[k:]]
        parsed = _matrix_rows(merged[:k], cols)
        if parsed is not None:
            cells, spans = parsed
            metres = re.search(r"METROS|metros|\(m\)", text[max(0, top.start() - 60):top.end()])
            return MatrixTable(_matrix_title(text, top, bottom), " ".join(top.group(1).split()),
                               " ".join(bottom.group(1).split()), cols, cells, spans, "m" if metres else "")
    return None


def _matrix_rows(toks: list[tuple[str, int, int]], cols: list[str]):
    """({row label: [(column, value)]}, {row label: span}) if ``toks`` are rows of ``cols`` in one of the
    two shapes, else None."""
    for shape in ("lower", "full"):
        cells: dict[str, list[tuple[str, str]]] = {}
        spans: dict[str, tuple[int, int]] = {}
        i = 0
        while i < len(toks):
            label = toks[i][0]
            col = next((j for j, c in enumerate(cols) if _same_label(label, c)), None)
            if col is None or label in cells:
                break
            n = col + 1 if shape == "lower" else len(cols)
            vals = toks[i + 1:i + 1 + n]
            if len(vals) < n or not all(_CELL.fullmatch(v) for v, _, _ in vals):
                break
            cells[label] = [(cols[j], v) for j, (v, _, _) in enumerate(vals)]
            spans[label] = (toks[i][1], vals[-1][2])
            i += 1 + n
        if i == len(toks) and len(cells) >= 2:
            return cells, spans
    return None


def _matrix_title(text: str, top: re.Match, bottom: re.Match) -> str:
    """The table's "Tabla N. …" title: printed before it (2024) or just after it (2013), verbatim."""
    # the last "Tabla N." before it: "… establecidas en la Tabla 3.10.3.a. Tabla 3.10.3.a. Distancias …"
    window = max(0, top.start() - 300)
    before = list(re.finditer(r"Tabla\s+\d", text[window:top.start()]))
    if before:
        title = text[window + before[-1].start():top.start()]
        title = re.split(r"\s+DISTANCIAS EN METROS", title)[0]
        return title.strip()
    after = _TITLE.search(text, bottom.end(), min(len(text), bottom.end() + 200))
    return after.group(0).strip() if after else ""


def matrix_names(question: str) -> list[str]:
    """What a question names that a matrix table has a column for: its voltages (:func:`question_voltages`)
    and communication lines ("Comunicación")."""
    names = question_voltages(question)
    if re.search(r"comunicaci|telecomunicaci|telefon|communication|telecom", _fold(question)):
        names.append("Comunicación")
    return names
