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

import re
import unicodedata
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
    ["a", "al", "algo", "algun", "alguna", "algunas", "alguno", "algunos", "ante", "antes", "como", "con", "contra", "cual", "cuales", "cuando", "de", "del", "desde", "donde", "dos", "el", "ella", "ellas", "ellos", "en", "entre", "era", "es", "esa", "esas", "ese", "eso", "esos", "esta", "estas", "este", "esto", "estos", "fue", "ha", "hay", "la", "las", "le", "les", "lo", "los", "mas", "me", "mi", "mientras", "muy", "nada", "ni", "no", "nos", "o", "otra", "otro", "para", "pero", "poco", "por", "porque", "que", "quien", "se", "segun", "ser", "si", "sin", "sobre", "su", "sus", "tambien", "tanto", "te", "tiene", "todo", "todos", "tras", "tu", "un", "una", "uno", "unos", "y", "ya", "cuanto", "cuanta", "cuantos", "cuantas", "dice", "decir", "debe", "deben", "puede", "pueden", "esta", "estan", "hace", "hacer", "qué", "cómo", "cuál", "retie", "reglamento", "articulo", "numeral"]
)
_TOKEN = re.compile(r"[a-z0-9ñ]+")
# units after a number: "13,2 kV", "5,6 m", "10 ohmios" are quantities, never article numbers
UNITS = r"(?:kv|v|kva|mva|va|kw|mw|w|km|m|cm|mm|a|ka|ma|h|min|s|hz|ohm\w*|ω|%|°c|m2|mm2|kcmil|awg)"
_QUANTITY = re.compile(r"\b(\d+)(?:[.,](\d+))?\s*(" + UNITS + r")(?![a-z0-9ñ])")
_ANCHOR_IN_Q = re.compile(
    r"\b(?:art[íi]culo|art\.?|numeral)\s*(\d{1,3}(?:\.\d{1,3}){0,5})(?![\d.,]*\s*" + UNITS + r"(?![a-z0-9ñ]))",
    re.IGNORECASE)


def quantity_tokens(text: str) -> str:
    """Folded ``text`` with each number + unit written as one token ("13,2 kV" → "13p2kv"), so that a
    voltage matches the same voltage and not article or table 13.2."""
    return _QUANTITY.sub(lambda m: f"{m.group(1)}{'p' + m.group(2) if m.group(2) else ''}{m.group(3)}", text)


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


def expand_synonyms(question: str) -> str:
    """``question`` plus the regulation's words for colloquial terms it contains."""
    q = fold(question)
    extra = [v for k, v in SYNONYMS.items() if re.search(r"\b" + re.escape(k) + r"\b", q)]
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

    def cite(self) -> str:
        return f"{self.doc}, {self.anchor}" if re.match(r"p\. ?\d", self.anchor) else \
            f"{self.doc}, {self.anchor}, p. {self.page}"

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
            raise NotFoundError(f"the corpus of store {self.store} is empty; add PDFs with 'gridcrit corpus add'")
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
        self._doc_of = self.units["doc"].to_numpy()
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

    # ---------------------------------------------------------------- search
    def search(self, question: str, k: int = 5, docs: list[str] | None = None, route: bool = True,
               mode: str = "hybrid") -> list[Passage]:
        """Top-``k`` passages for ``question`` (restricted to ``docs``, or to the routed documents).

        ``mode``: hybrid (BM25 + dense, RRF) | bm25 | dense — the single-ranker modes exist for comparisons."""
        routed = None
        if docs is None and route:
            routed, _ = self.route(question)
        allowed = docs or routed
        mask = np.ones(len(self.units), dtype=bool) if not allowed else np.isin(self._doc_of, allowed)
        n = len(self.units)
        content = self.strip_route_words(question)
        expanded = expand_synonyms(content)
        q_tokens = [t for t in tokenize(expanded) if t in self._vocab]
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
        bm_rank = {int(i): r + 1 for r, i in enumerate(bm_order)} if mode != "dense" else {}
        dn_rank = {int(i): r + 1 for r, i in enumerate(dn_order)}
        out = []
        for j, i in enumerate(top, start=1):
            u = self.units.iloc[i]
            out.append(
                Passage(j, u["doc"], u["anchor"], int(u["part"]), u["title"], int(u["page"]), int(u["page_end"]),
                        u["text"], round(float(fused[i]), 6), bm_rank.get(i), dn_rank.get(i))
            )
        return out
