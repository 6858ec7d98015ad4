"""Rows of RETIE's voltage tables, read back from the flattened text of a passage.

RETIE gives its safety distances (and other limits) as tables: a description, then one line per
nominal voltage with its value. PDF text extraction flattens them into runs like::

    Distancia horizontal “b” a muros, balcones, … (Figura 13.1) 66/57,5 2,5 44/34,5/33 2,3
    13,8/13,2/11,4/7,6 2,3 <1 1,7 Distancia vertical “c” sobre …

Quoted as they are, the numbers have no label: an engineer asking for 13,2 kV cannot tell which number
is the answer, nor what it is the distance to. :func:`voltage_rows` splits such runs back into rows
(description → {voltage column → value}); :func:`rows_for_question` picks the rows for the voltage a
question names, so the answer can say "Distancia horizontal “b” a muros…: 2,3 m" with its citation.

Example::

    >>> text = ("Distancia vertical “a” sobre techos. 44/34,5/33 3,8 13,8/13,2/11,4/7,6 3,8 <1 0,45 "
    ...         "Distancia horizontal “b” a muros. 66/57,5 2,5 13,8/13,2/11,4/7,6 2,3 <1 1,7")
    >>> [(r.description, r.value_for("13,2")) for r in voltage_rows(text)]
    [('Distancia vertical “a” sobre techos.', '3,8'), ('Distancia horizontal “b” a muros.', '2,3')]
"""

from __future__ import annotations

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
    """One table row: ``description`` (verbatim, quotable), ``values`` [(voltage column, value)] and where the
    values sit in the passage text (``start``..``end``, verbatim span)."""

    description: str
    values: list[tuple[str, str]]
    start: int
    end: int
    text: str  # the verbatim "label value label value …" span

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


def voltage_rows(text: str) -> list[VoltageRow]:
    """Rows of every run of at least two consecutive "voltage value" pairs in ``text``, each with the
    description printed before it (empty when the run starts the passage: its description is elsewhere)."""
    runs: list[list[re.Match]] = []
    for m in _PAIR.finditer(text):
        if runs and text[runs[-1][-1].end():m.start()].strip() == "" and m.group(1) not in \
                {x.group(1) for x in runs[-1]}:
            runs[-1].append(m)
        else:
            runs.append([m])
    rows: list[VoltageRow] = []
    prev_end = 0
    for run in runs:
        if len(run) < MIN_PAIRS:
            continue
        start, end = run[0].start(), run[-1].end()
        before = text[prev_end:start]
        head = None
        for h in _HEADER_END.finditer(before):
            head = h
        if head is not None:
            before = before[head.end():]
        # the last start: a table's title or an earlier sentence ("Distancias de seguridad en zonas con
        # construcciones.") may stand before the row's own description
        starts = list(_DESC_START.finditer(before))
        desc = before[starts[-1].start():].strip() if starts else ""  # verbatim: it is quoted
        rows.append(VoltageRow(desc, [(m.group(1), m.group(2)) for m in run], start, end, text[start:end]))
        prev_end = end
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


def rows_for_question(question: str, rows: list[VoltageRow], kv: str, stems_of: Callable[[str], list[str]],
                      all_rows: list[VoltageRow] | None = None) -> list[tuple[float, VoltageRow]]:
    """``rows`` that have a value for ``kv`` and a description, best first, as (score, row).

    The score sums the question's words found in the description, each weighted by how rare it is among
    ``all_rows``' descriptions (default ``rows``): "distancia mínima" is in every row and says nothing,
    "horizontal" or "muros" picks the row. ``stems_of`` is the retrieval's stemmer, so "edificio" meets
    "edificación"; :data:`ROW_WORDS` adds the tables' words for a few places users name."""
    from gridcrit.assistant.retrieval import fold

    words = fold(question).split()
    q = set(stems_of(question + " " + " ".join(ROW_WORDS[w.strip("¿?.,;:")] for w in words
                                                if w.strip("¿?.,;:") in ROW_WORDS)))
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
