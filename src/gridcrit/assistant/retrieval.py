"""Hybrid retrieval: BM25 (Spanish stemmer) + e5 dense vectors, fused by reciprocal rank (RRF).

    question ──► route (which document/version does it name?) ──► candidate units
        │                                                            │
        ├─► synonyms ► tokens ► stems ► BM25 ranks ────────┐         │
        └─► e5 query vector (► learned adapter) ► cosine ranks ┴─► RRF ► top-k passages

Routing: both RETIE editions cover the same topics with similar words, so a question that names a
version ("RETIE 2024", "libro 3", "anexo general", "el RETIE anterior", a year) is searched in that
document only; one that names none is searched in all, and the best passage of every document is
kept in the top-k so the user sees both versions. A question that cites an article ("artículo
20.2.1") puts that article first.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gridcrit.assistant.corpus import load_corpus
from gridcrit.data.store import connect
from gridcrit.errors import NotFoundError

RRF_K = 60
_POOL = 100  # candidates taken from each ranking before fusion

# Colloquial / field names -> words the regulation uses (appended to the question, never replacing it).
SYNONYMS: dict[str, str] = {
    "trafo": "transformador",
    "trafos": "transformadores",
    "polo a tierra": "puesta a tierra electrodo",
    "puesta a tierra": "spt",  # the RETIE's tables say "SPT"
    "revisar": "inspección mantenimiento", "revision": "inspección mantenimiento",
    "cada cuanto": "período frecuencia mantenimiento", "con que frecuencia": "período mantenimiento",
    "periodicidad": "período frecuencia",
    "tierra fisica": "puesta a tierra",
    "varilla": "electrodo de puesta a tierra",
    "breaker": "interruptor automático",
    "taco": "interruptor automático",
    "tacos": "interruptores automáticos",
    "totalizador": "interruptor automático",
    "dps": "dispositivo de protección contra sobretensiones",
    "supresor": "dispositivo de protección contra sobretensiones",
    "pararrayo": "pararrayos terminal de captación",
    "rayo": "rayos descargas atmosféricas",
    "poste": "postes apoyos estructuras de soporte",
    "postes": "apoyos estructuras de soporte",
    "cruceta": "crucetas herrajes",
    "guaya": "templete cable de guarda",
    "templete": "templetes",
    "cable de guarda": "cables de guarda apantallamiento",
    "poda": "vegetación árboles zona de servidumbre",
    "arboles": "vegetación zona de servidumbre",
    "servidumbre": "zona de servidumbre",
    "cuchilla": "seccionador",
    "cuchillas": "seccionadores",
    "reconectador": "reconectadores interruptores de media tensión",
    "fusible": "fusibles cortacircuitos",
    "tablero": "tableros",
    "caja de breakers": "tablero de distribución",
    "media tension": "media tensión redes de distribución",
    "cable": "conductor",
    "cables": "conductores",
    "alambre": "conductor",
    "toma": "tomacorriente",
    "enchufe": "clavija tomacorriente",
    "planta electrica": "grupo electrógeno generador",
    "planta de emergencia": "grupo electrógeno sistema de emergencia",
    "carro electrico": "vehículos eléctricos cargadores",
    "carros electricos": "vehículos eléctricos cargadores",
    "panel solar": "paneles solares fotovoltaicos",
    "paneles solares": "fotovoltaicos",
    "electrocucion": "electropatología choque eléctrico",
    "corrientazo": "choque eléctrico contacto",
    "linea viva": "trabajos con tensión",
    "en caliente": "trabajos con tensión",
    "desenergizar": "redes desenergizadas reglas de oro",
    "plano": "diseño",
    "certificado": "certificación conformidad",
    "sancion": "sanciones",
    "multa": "sanciones",
    "ups": "unidades de potencia ininterrumpida",
    "regulador": "reguladores de tensión",
    "hospital": "instituciones de asistencia médica",
    "clinica": "instituciones de asistencia médica",
    "ducha": "duchas eléctricas calentadores de paso",
    "piscina": "piscinas",
}

_STOP = set(
    ["a", "al", "algo", "algun", "alguna", "algunas", "alguno", "algunos", "ante", "antes", "como", "con", "contra", "cual", "cuales", "cuando", "de", "del", "desde", "donde", "dos", "el", "ella", "ellas", "ellos", "en", "entre", "era", "es", "esa", "esas", "ese", "eso", "esos", "esta", "estas", "este", "esto", "estos", "fue", "ha", "hay", "la", "las", "le", "les", "lo", "los", "mas", "me", "mi", "mientras", "muy", "nada", "ni", "no", "nos", "o", "otra", "otro", "para", "pero", "poco", "por", "porque", "que", "quien", "se", "segun", "ser", "si", "sin", "sobre", "su", "sus", "tambien", "tanto", "te", "tiene", "todo", "todos", "tras", "tu", "un", "una", "uno", "unos", "y", "ya", "estar", "mucho", "mucha", "muchos", "muchas", "tener", "quiero", "saber", "cuanto", "cuanta", "cuantos", "cuantas", "dice", "decir", "debe", "deben", "puede", "pueden", "esta", "estan", "hace", "hacer", "qué", "cómo", "cuál", "retie", "reglamento", "articulo", "numeral"]
)
_TOKEN = re.compile(r"[a-z0-9ñ]+")
# units after a number: "13,2 kV", "5,6 m", "10 ohmios" are quantities, never article numbers
UNITS = r"(?:kv|v|kva|mva|va|kw|mw|w|km|m|cm|mm|a|ka|ma|h|min|s|hz|ohm\w*|ω|%|°c|m2|mm2|kcmil|awg)"
_QUANTITY = re.compile(r"\b(\d+)(?:[.,](\d+))?\s*(" + UNITS + r")(?![a-z0-9ñ])")
_ANCHOR_IN_Q = re.compile(
    r"\b(?:art[íi]culo|art\.?|numeral)\s*(\d{1,3}(?:\.\d{1,3}){0,5})(?![\d.,]*\s*" + UNITS + r"(?![a-z0-9ñ]))",
    re.IGNORECASE)


_DECIMAL_COMMA = re.compile(r"(?<![\d.,])(\d+),(\d+)(?![\d]|[.,]\d)")


def _quantity(m: re.Match) -> str:
    value = f"{m.group(1)}{'p' + m.group(2) if m.group(2) else ''}"
    # a voltage is also written bare in the regulation's tables ("44/34,5/33", "13,8/13,2/11,4/7,6")
    return f"{value}{m.group(3)} {value}" if m.group(3) == "kv" else f"{value}{m.group(3)}"


def quantity_tokens(text: str) -> str:
    """Folded ``text`` with each number + unit written as one token ("13,2 kV" → "13p2kv"), so that a
    voltage matches the same voltage and not article or table 13.2. A voltage also gives its bare value
    ("13p2"), and a decimal comma is a decimal ("13,2" → "13p2"): the RETIE tables list voltages without
    unit ("13,8/13,2/11,4/7,6 5,6"); article numbers use dots ("Tabla 13.2") and stay apart."""
    return _DECIMAL_COMMA.sub(r"\1p\2", _QUANTITY.sub(_quantity, text))


def fold(text: str) -> str:
    """Lower-case and strip accents (keeps ñ)."""
    text = text.lower().replace("ñ", "\0")
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return text.replace("\0", "ñ")


_STEMMER = None


def tokenize(text: str) -> list[str]:
    """Folded, stop-word-free, Snowball-Spanish-stemmed tokens."""
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("spanish")
    toks = [t for t in _TOKEN.findall(quantity_tokens(fold(text))) if len(t) > 1 and t not in _STOP]
    return _STEMMER.stemWords(toks)


# English words of regulation questions -> the Spanish words of the RETIE (appended, like SYNONYMS): the
# corpus is Spanish, so an English question otherwise matches only acronym lists ("Ground Potential Rise").
ENGLISH: dict[str, str] = {
    "clearance": "distancia de seguridad", "clearances": "distancias de seguridad", "distance": "distancia",
    "minimum": "mínima", "maximum": "máxima", "safety": "seguridad", "line": "línea", "lines": "líneas",
    "overhead": "aérea", "road": "vías carreteras calles", "street": "calles", "building": "edificaciones construcciones",
    "buildings": "edificaciones construcciones", "ground": "suelo", "grounding": "puesta a tierra",
    "earthing": "puesta a tierra", "resistance": "resistencia", "substation": "subestación",
    "substations": "subestaciones", "transformer": "transformador", "transformers": "transformadores",
    "protection": "protección", "protect": "protección", "lightning": "rayos descargas atmosféricas",
    "surge": "sobretensiones", "arrester": "dps", "arresters": "dps", "vegetation": "vegetación",
    "tree": "árboles", "trees": "árboles", "pruning": "poda", "trimming": "poda", "inspection": "inspección",
    "inspect": "inspección", "maintenance": "mantenimiento", "pole": "postes", "poles": "postes",
    "wire": "conductor", "voltage": "tensión", "medium": "media", "easement": "zona de servidumbre",
    "width": "ancho", "often": "frecuencia", "frequency": "frecuencia", "requirements": "requisitos",
    "touch": "contacto", "step": "paso", "fuse": "fusible", "switch": "seccionador", "work": "trabajos",
    "de-energized": "desenergizadas", "deenergized": "desenergizadas", "penalties": "sanciones",
    "sanctions": "sanciones", "solar": "solares fotovoltaicos", "roof": "techos", "vertical": "vertical",
    "horizontal": "horizontal", "height": "altura", "crossing": "cruce", "river": "ríos",
    "golden": "oro", "rules": "reglas", "rule": "regla", "working": "trabajos", "workers": "trabajadores",
    "live": "tensión", "insulation": "aislamiento", "cable": "cable conductor", "guard": "guarda",
    "shield": "cable de guarda apantallamiento", "circuit": "circuito", "breaker": "interruptor",
    "meter": "medidor", "electrode": "electrodo", "rod": "electrodo varilla", "measure": "medición",
    "measured": "medida", "measurement": "medición", "checked": "verificación", "check": "verificación",
    "danger": "peligro", "risk": "riesgo", "sign": "señalización", "signs": "señalización",
    "protective": "protección", "equipment": "equipos", "helmet": "casco", "underground": "subterránea",
}
_EN_STOP = {
    "what", "which", "who", "how", "when", "where", "why", "is", "are", "was", "were", "be", "been", "does",
    "do", "did", "the", "a", "an", "of", "for", "to", "in", "on", "at", "by", "with", "from", "over",
    "under", "about", "into", "than", "then", "and", "or", "not", "no", "must", "should", "shall", "can",
    "could", "would", "will", "it", "its", "this", "that", "these", "those", "there", "their", "my", "our",
    "your", "me", "i", "we", "you", "he", "she", "they", "require", "requires", "required", "according",
    "say", "says"
}


def expand_synonyms(question: str) -> str:
    """``question`` plus the regulation's words for colloquial (and English) terms it contains."""
    q = fold(question)
    extra = [v for k, v in SYNONYMS.items() if re.search(r"\b" + re.escape(k) + r"\b", q)]
    extra += [v for k, v in ENGLISH.items() if re.search(r"\b" + re.escape(k) + r"\b", q)]
    return question + (" " + " ".join(extra) if extra else "")


@dataclass
class Passage:
    """A retrieved passage; ``n`` is its citation number [n] in the answer."""

    n: int
    doc: str
    anchor: str
    part: int
    title: str
    page: int
    page_end: int
    text: str
    score: float
    bm25_rank: int | None
    dense_rank: int | None
    breaks: list | None = None  # [[offset, page], ...] where a page starts in ``text``; None: unknown (old index)
    # the end of the text printed just before this passage (the previous part of the same article): a table
    # row cut by the segmenter has its description there (gridcrit.assistant.tables.voltage_rows)
    lead: str | None = None

    def cite(self) -> str:
        pages = f"p. {self.page}" if self.page_end <= self.page else f"pp. {self.page}–{self.page_end}"
        return f"{self.doc}, {self.anchor}" if re.match(r"p\. ?\d", self.anchor) else \
            f"{self.doc}, {self.anchor}, {pages}"

    def pages_of(self, span: str) -> tuple[int, int]:
        """(first, last) page on which ``span`` — a verbatim piece of ``text``, possibly cut with "…" —
        is printed. Unknown (index without page breaks, or span not found): the passage's page range."""
        from gridcrit.assistant.segment import page_of

        piece = span.strip().rstrip("…").strip()
        at = self.text.find(piece) if piece else -1
        if at < 0 or (self.breaks is None and self.page_end > self.page):
            return self.page, self.page_end
        return page_of(at, self.page, self.breaks), page_of(at + len(piece) - 1, self.page, self.breaks)

    def to_dict(self) -> dict:
        return asdict(self)


class Retriever:
    """Hybrid retriever over the corpus of ``store`` (read-only).

    >>> r = Retriever("gridcrit.duckdb")                 # doctest: +SKIP
    >>> [p.anchor for p in r.search("distancia mínima a construcciones", k=3)]  # doctest: +SKIP
    """

    def __init__(self, store: str | Path, dense: bool = True, use_adapter: bool = True):
        self.store = Path(store)
        con = connect(self.store, read_only=True)
        try:
            self.units, self.vectors, self.docs = load_corpus(con)
        finally:
            con.close()
        if not len(self.units):
            raise NotFoundError(f"the corpus of store {self.store} is empty; add PDFs with 'gridcrit corpus add'",
                                es=f"el corpus del almacén {self.store} está vacío; agregue PDF con "
                                   "'gridcrit corpus add'")
        if not dense:
            self.vectors = None
        import bm25s

        docs_tokens = [
            tokenize(f"{t.split(' › ')[-1]} {t.split(' › ')[-1]} {x}")  # heading counts twice
            for t, x in zip(self.units["title"], self.units["text"], strict=True)
        ]
        self._bm25 = bm25s.BM25()
        self._bm25.index(docs_tokens, show_progress=False)
        self._vocab = self._bm25.vocab_dict
        self._df: Counter[str] = Counter()
        for toks in docs_tokens:
            self._df.update(set(toks))
        self._words: list[str] | None = None  # folded words of the corpus, for spelling (built when needed)
        self._spelled: dict[str, str] = {}
        self._doc_of = self.units["doc"].to_numpy()
        self._matrix_units: list[int] | None = None  # units with a voltage × voltage table (built when needed)
        self._anchor_of = self.units["anchor"].to_numpy()
        self.adapter = None
        if use_adapter and self.vectors is not None:
            from gridcrit.assistant.feedback import load_adapter

            self.adapter = load_adapter(self.store)

    # ---------------------------------------------------------------- routing
    def route(self, question: str) -> tuple[list[str] | None, str]:
        """Documents a question names (None: all) and why."""
        q = fold(question)
        docs = self.docs
        if len(docs) <= 1:
            return None, "single document"
        chosen: list[str] = []
        reasons: list[str] = []
        years = {int(y) for y in re.findall(r"\b(19[5-9]\d|20[0-4]\d)\b", q)}
        for r in docs.itertuples():
            keys = {fold(k.strip()) for k in ("" if pd.isna(r.aliases) else str(r.aliases)).split(",") if k.strip()}
            name = fold(r.doc)
            doc_years = {int(y) for y in re.findall(r"(?:19|20)\d\d", name)}
            if pd.notna(r.year):
                doc_years.add(int(r.year))
            hit = None
            if years & doc_years:
                hit = f"year {sorted(years & doc_years)[0]}"
            elif any(k and re.search(r"\b" + re.escape(k) + r"\b", q) for k in keys):
                hit = "alias"
            elif re.search(r"libro\s*3\b", q) and re.search(r"libro-?3|l3\b", name):
                hit = "libro 3"
            elif "anexo" in q and "anexo" in name:
                hit = "anexo"
            if hit:
                chosen.append(r.doc)
                reasons.append(f"{r.doc} ({hit})")
        if not chosen:
            by_year = docs.dropna(subset=["year"]).sort_values("year")
            if len(by_year) >= 2:
                if re.search(r"\b(anterior|antiguo|viejo|derogado|previo)\b", q):
                    return [by_year["doc"].iloc[0]], f"{by_year['doc'].iloc[0]} (older edition named)"
                if re.search(r"\b(nuevo|vigente|actual|reciente|ultimo)\b", q):
                    return [by_year["doc"].iloc[-1]], f"{by_year['doc'].iloc[-1]} (newest edition named)"
            # a year one off the document's: "RETIE 2013" is the resolution of 2013 whose anexo general is
            # headed "NOVIEMBRE DE 2012"
            near = [(abs(int(y) - d.year), d.doc, int(y)) for d in by_year.itertuples() for y in years
                    if abs(int(y) - d.year) <= 1]
            if len(years) == 1 and len({doc for _, doc, _ in near}) == 1:
                _, doc, y = near[0]
                return [doc], f"{doc} (year {y} ≈ {int(by_year.set_index('doc').loc[doc, 'year'])})"
            return None, "no document named: all documents"
        return chosen, ", ".join(reasons)

    def strip_route_words(self, question: str) -> str:
        """The question without the words that only name a document (aliases, years, "RETIE", "libro 3"):
        they pick the document but would otherwise match title pages and tables of contents."""
        words = ["retie", "reglamento tecnico de instalaciones electricas", "libro 3", "anexo general", "anexo"]
        for a in self.docs.get("aliases", []):
            words += [fold(k.strip()) for k in ("" if pd.isna(a) else str(a)).split(",") if k.strip()]
        q = fold(question)
        for w in sorted(set(words), key=len, reverse=True):
            q = re.sub(r"\b" + re.escape(w) + r"\b", " ", q)
        q = re.sub(r"\b(19[5-9]\d|20[0-4]\d)\b", " ", q)
        q = " ".join(q.split())
        return q if len(q) >= 3 else question

    # ---------------------------------------------------------------- spelling and evidence
    def correct(self, word: str) -> str:
        """A folded word of 5+ letters whose stem the corpus does not know, replaced by the closest word the
        corpus has ("distansia" → "distancia", "resistensia" → "resistencia"); else unchanged."""
        if len(word) < 5 or not word.isalpha() or all(t in self._df for t in tokenize(word)):
            return word
        if word in self._spelled:
            return self._spelled[word]
        if self._words is None:
            words: set[str] = set()
            for x in self.units["text"]:
                words.update(w for w in _TOKEN.findall(fold(x)) if len(w) >= 4 and w.isalpha())
            self._words = sorted(words)
        near = difflib.get_close_matches(word, self._words, n=1, cutoff=0.85)
        self._spelled[word] = near[0] if near else word
        return self._spelled[word]

    def spell(self, text: str) -> str:
        """``text`` folded, with each word the corpus does not know replaced by its closest corpus word."""
        return re.sub(r"[a-zñ]{5,}", lambda m: self.correct(m.group(0)), fold(text))

    def _idf(self, stem: str) -> float:
        n = len(self.units)
        return math.log((n + 1) / (self._df.get(stem, 0) + 0.5))

    def terms(self, question: str) -> list[tuple[str, set[str], float]]:
        """The question's content words as (word, stems that count as the word in a passage, weight):
        spelling corrected, colloquial and English words with the regulation's words as alternatives,
        English function words and document names left out; weight = IDF (words the corpus lacks: highest)."""
        global _STEMMER
        out: list[tuple[str, set[str], float]] = []
        seen: set[str] = set()
        for w in _TOKEN.findall(quantity_tokens(fold(self.strip_route_words(question)))):
            if len(w) <= 1 or w in _STOP or w in _EN_STOP or w in seen:
                continue
            seen.add(w)
            alts = set(tokenize(self.correct(w)))
            qty = re.fullmatch(r"(\d+(?:p\d+)?)" + UNITS, w)
            if qty:  # "13,2 kV", "2,3 m" are found as "13,2", "2,3" in a table: one word, not two
                alts.add(qty.group(1))
                seen.add(qty.group(1))
            extra = SYNONYMS.get(w) or ENGLISH.get(w)
            if extra:
                alts |= set(tokenize(extra))
            if not alts:
                continue
            weight = min(self._idf(a) for a in alts)
            if len(w) < 5 and not any(a in self._df for a in alts):
                weight = min(weight, 2.0)  # a short unknown word: an inflection or a typo, not the topic
            out.append((w, alts, max(weight, 0.1)))
        return out

    def coverage(self, question: str, passages: list[Passage]) -> tuple[float, list[str], list[str]]:
        """(share of the question's content — IDF-weighted — found in the best single passage, the words no
        retrieved passage contains, the words the whole corpus lacks). Low coverage, above all with words
        the corpus lacks ("fútbol", "Manizales"): the corpus does not answer the question."""
        terms = self.terms(question)
        if not terms or not passages:
            return (1.0 if not terms else 0.0), [], []
        total = sum(w for _, _, w in terms)
        toks = [set(tokenize(f"{p.title.split(' › ')[-1]} {p.text}")) for p in passages]
        best = max(sum(w for _, alts, w in terms if alts & t) for t in toks) / total
        missing = [word for word, alts, _ in terms if not any(alts & t for t in toks)]
        # words of 5+ letters only: a short one the corpus lacks is mostly an inflection ("mide" ~ "medir")
        absent = [word for word, alts, _ in terms
                  if len(word) >= 5 and word.isalpha() and not any(a in self._df for a in alts)]
        return round(best, 3), missing, absent

    # ---------------------------------------------------------------- search
    def search(self, question: str, k: int = 5, docs: list[str] | None = None, route: bool = True,
               mode: str = "hybrid") -> list[Passage]:
        """Top-``k`` passages for ``question`` (restricted to ``docs``, or to the routed documents).

        ``mode``: hybrid (BM25 + dense, RRF) | bm25 | dense — the single-ranker modes exist for comparisons."""
        self.last_cosine: float | None = None  # e5 similarity of the best passage (None: no dense ranking)
        routed = None
        if docs is None and route:
            routed, _ = self.route(question)
        allowed = docs or routed
        mask = np.ones(len(self.units), dtype=bool) if not allowed else np.isin(self._doc_of, allowed)
        n = len(self.units)
        content = self.strip_route_words(question)
        expanded = expand_synonyms(content)
        q_tokens = [t for t in tokenize(self.spell(expanded)) if t in self._vocab]
        bm = np.zeros(n, dtype=np.float32)
        if q_tokens:
            bm = np.asarray(self._bm25.get_scores(q_tokens), dtype=np.float32)
        bm = np.where(mask, bm, -np.inf)
        rank_lists: list[np.ndarray] = []
        bm_order = np.argsort(-bm, kind="stable")[:_POOL]
        bm_order = bm_order[np.isfinite(bm[bm_order]) & (bm[bm_order] > 0)]
        if mode != "dense":
            rank_lists.append(bm_order)
        dn_order = np.array([], dtype=int)
        if self.vectors is not None and mode != "bm25":
            from gridcrit.assistant.embed import embed_query

            qv = embed_query(content)
            if self.adapter is not None:
                qv = self.adapter.transform(qv)
            sim = np.where(mask, self.vectors @ qv, -np.inf)
            dn_order = np.argsort(-sim, kind="stable")[:_POOL]
            rank_lists.append(dn_order)
            self.last_cosine = float(sim[dn_order[0]]) if len(dn_order) else None
        fused: dict[int, float] = {}
        for order in rank_lists:
            for r, i in enumerate(order):
                fused[int(i)] = fused.get(int(i), 0.0) + 1.0 / (RRF_K + r + 1)
        # an article cited by number goes first
        for m in _ANCHOR_IN_Q.finditer(question):
            a = f"Art. {m.group(1).rstrip('.')}"
            for i in np.flatnonzero((self._anchor_of == a) & mask)[:2]:
                fused[int(i)] = fused.get(int(i), 0.0) + 1.0
        ranked = sorted(fused, key=lambda i: (-fused[i], i))
        top = ranked[:k]
        if not allowed and len(self.docs) > 1 and k >= 3:
            # show every edition: keep the best passage of each document in the top-k
            for d in self.docs["doc"]:
                if not any(self._doc_of[i] == d for i in top):
                    best = next((i for i in ranked if self._doc_of[i] == d), None)
                    if best is not None:
                        top = [*top[:-1], best]
            top = sorted(top, key=lambda i: (-fused[i], i))
        top = self._with_matrix(question, top, ranked, mask, fused, k)
        top = self._with_continuation(top, mask, fused)
        bm_rank = {int(i): r + 1 for r, i in enumerate(bm_order)} if mode != "dense" else {}
        dn_rank = {int(i): r + 1 for r, i in enumerate(dn_order)}
        out = []
        for j, i in enumerate(top, start=1):
            u = self.units.iloc[i]
            br = u.get("breaks")
            out.append(
                Passage(j, u["doc"], u["anchor"], int(u["part"]), u["title"], int(u["page"]), int(u["page_end"]),
                        u["text"], round(float(fused[i]), 6), bm_rank.get(i), dn_rank.get(i),
                        json.loads(br) if isinstance(br, str) else None, self.lead_of(i))
            )
        return out

    # a table row whose values start this far into the next part at most (a pair cut in two leaves its value)
    CONTINUATION_CHARS = 40

    def continues_row(self, j: int) -> bool:
        """Whether unit ``j`` starts with the values of a table row whose description ends the unit before
        (the segmenter cut the row between them)."""
        from gridcrit.assistant.tables import voltage_rows

        lead = self.lead_of(j)
        if not lead:
            return False
        rows = voltage_rows(str(self.units["text"].iloc[j]), lead)
        return bool(rows) and bool(rows[0].description) and rows[0].start <= self.CONTINUATION_CHARS \
            and len(rows[0].quote_desc or "") < len(rows[0].description)

    def _with_continuation(self, top: list[int], mask: np.ndarray, fused: dict[int, float]) -> list[int]:
        """``top`` with the next part of a passage whose last table row lost its values to that part (RETIE
        2024, Art. 3.10.2: "… maquinaria agrícola de gran altura … se debe aplicar como distancia “e” estos
        valores (Figura 11.2.2.). 500" | "11,1 230/220 9,3 … 13,8/13,2/11,4/7,6 8,1 <1 7,5"), so an answer
        can cite where the values are printed. It is cited right after the passage it continues and takes
        the place of the last other passage whose document keeps another one in the top (one continuation
        at most)."""
        for i in top:
            j = i + 1
            if j >= len(self.units) or j in top or not mask[j] or not self.continues_row(j):
                continue
            rest = [x for x in top if x != i]
            if len(top) < 2 or not rest:
                return top
            docs = [self._doc_of[x] for x in top]
            # the last passage whose document keeps another one in the top (every edition stays shown)
            drop = next((x for x in reversed(rest) if docs.count(self._doc_of[x]) > 1), rest[-1])
            out = [x for x in top if x != drop]
            out.insert(out.index(i) + 1, j)
            fused.setdefault(j, 0.0)  # not ranked: it is here for the one it continues
            return out
        return top

    def _with_matrix(self, question: str, top: list[int], ranked: list[int], mask: np.ndarray,
                     fused: dict[int, float], k: int) -> list[int]:
        """``top`` with a voltage × voltage table that crosses the two voltages the question names (or a
        voltage and communication lines): its cells are bare numbers ("44/34,5/33 1,8 1,2 1,2 1,3") that
        neither BM25 nor e5 can match to "13,2 kV y 33 kV". It takes the place of the last passage whose
        document keeps another one in the top, and is cited last."""
        from gridcrit.assistant.tables import matrix_names, matrix_tables

        names = matrix_names(question)
        if len(names) < 2 or k < 2:
            return top
        if self._matrix_units is None:
            self._matrix_units = [i for i, x in enumerate(self.units["text"]) if matrix_tables(x)]
        found = [i for i in self._matrix_units if mask[i] and any(
            mt.cells_for(names[0], names[1]) for mt in matrix_tables(self.units["text"].iloc[i]))]
        if not found or any(i in top for i in found):
            return top
        best = min(found, key=lambda i: ranked.index(i) if i in ranked else len(ranked) + i)
        docs = [self._doc_of[i] for i in top]
        out = list(top)
        if len(out) >= k:
            out.pop(next((j for j in range(len(out) - 1, -1, -1) if docs.count(docs[j]) > 1), len(out) - 1))
        fused.setdefault(best, 0.0)
        return [*out, best]

    LEAD_CHARS = 1000

    def lead_of(self, i: int) -> str | None:
        """The last ~1,000 characters of the unit printed just before unit ``i``: the previous part of the
        same article (or the previous page of a document without headings), else None."""
        if i <= 0:
            return None
        u, prev = self.units.iloc[i], self.units.iloc[i - 1]
        if prev["doc"] != u["doc"] or int(prev["ordinal"]) != int(u["ordinal"]) - 1:
            return None
        same = prev["anchor"] == u["anchor"] or (re.match(r"p\. ?\d", prev["anchor"])
                                                 and re.match(r"p\. ?\d", u["anchor"]))
        if not same or int(prev["page_end"]) < int(u["page"]) - 1:
            return None
        text = str(prev["text"])
        if len(text) > self.LEAD_CHARS:
            text = text[-self.LEAD_CHARS:].split(" ", 1)[-1]
        return text
