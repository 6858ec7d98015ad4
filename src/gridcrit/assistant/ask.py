"""The assistant's entry point: question → route → tool → backend → checked, cited answer + trace.

    >>> from gridcrit.assistant import Assistant                      # doctest: +SKIP
    >>> a = Assistant("gridcrit.duckdb").ask("¿distancia mínima de una red de 13,2 kV a un edificio?")
    >>> print(a.text); a.citations[0]                                   # doc, anchor, page, quote
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gridcrit.assistant.backends import Draft, make_backend
from gridcrit.assistant.dataqa import answer_data_question, is_data_question
from gridcrit.assistant.trace import Trace
from gridcrit.errors import GridcritError, NotFoundError, ValidationError

MAX_QUESTION_CHARS = 2000
# When does the corpus answer a question? Share of its content (IDF-weighted words) found in the best
# retrieved passage ("coverage"), words the corpus lacks entirely ("fútbol", "Manizales", "drones") and the
# e5 similarity of the best passage. Below the bar the assistant says the corpus does not answer: it never
# quotes the nearest, unrelated passages as if they did. On both RETIE PDFs: the 60 development questions
# have coverage ≥ 0.43, or a word the corpus lacks with e5 ≥ 0.889 ("meterle mano", "ganado");
# off-topic questions have coverage ≤ 0.36 with such a word and e5 ≤ 0.873.
MIN_COVERAGE = 0.25
MIN_COVERAGE_UNKNOWN_WORDS = 0.5
MIN_COSINE_UNKNOWN_WORDS = 0.88  # with a word the corpus lacks, a passage this close (e5) still answers

_NOT_FOUND = {
    "es": ("No encontré en el corpus un pasaje que responda a esta pregunta: los pasajes más cercanos tratan "
           "otros temas, así que no cito ninguno como respuesta.",
           "Ningún pasaje recuperado menciona: {words}.",
           "Pasajes más cercanos revisados (no responden la pregunta): {refs}.",
           "Nota: el corpus no menciona {words}; la respuesta puede ser parcial."),
    "en": ("I found no passage in the corpus that answers this question: the closest passages are about other "
           "topics, so none is cited as an answer.",
           "No retrieved passage mentions: {words}.",
           "Closest passages checked (they do not answer the question): {refs}.",
           "Note: the corpus never mentions {words}; the answer may be partial."),
}


@dataclass
class Answer:
    """An answer with its evidence. ``citations``: [{n, doc, anchor, page, quote}]."""

    question: str
    kind: str  # regulation | data | refused (SQL or a command written in the question)
    text: str
    citations: list[dict] = field(default_factory=list)
    passages: list[dict] = field(default_factory=list)
    backend: str = "extractive"
    fallback: str | None = None
    sql: str | None = None
    params: list = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)
    route: str = ""
    dropped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lang: str = "es"
    trace: dict = field(default_factory=dict)
    found: bool = True  # False: the corpus (or the data) does not answer the question, and the text says so

    def to_dict(self) -> dict:
        return asdict(self)


# SQL or shell written into the question: never run, never "answered" from unrelated passages.
_COMMAND = re.compile(
    r"(^\s*(select|with|copy|drop|attach|detach|insert|delete|update|pragma|install|load|create|alter|export|"
    r"import|call|set|truncate|vacuum|checkpoint|use)\s+\S|\bselect\b.+\bfrom\b|\b(drop|truncate|alter)\s+"
    r"(table|view|schema|database)\b|\bdelete\s+from\b|\binsert\s+into\b|\bcopy\b.+\b(to|from)\s+'|"
    r"\battach\b\s+'|\b(read_\w+|glob|getenv|read_text|read_blob)\s*\(|\brm\s+-rf\b)",
    re.IGNORECASE | re.DOTALL)
_REFUSE = {
    "es": ("No ejecuto SQL ni comandos escritos en la pregunta (las consultas del asistente son de solo lectura, "
           "generadas y validadas por él). Pregunte en lenguaje natural, p. ej. «¿cuántas interrupciones tuvo el "
           "circuito X en 2023?»."),
    "en": ("I do not run SQL or commands written in the question (the assistant's queries are read-only, built "
           "and validated by itself). Ask in plain language, e.g. 'how many interruptions did circuit X have in "
           "2023?'."),
}


def _as_asked(question: str, folded: list[str]) -> list[str]:
    """The question's own spelling of folded words ("futbol" → "fútbol", "2p3m" → "2,3 m")."""
    from gridcrit.assistant.retrieval import UNITS, fold, quantity_tokens

    spelled = {fold(w): w for w in re.findall(r"\w+", question)}
    folded_q = fold(question)
    same = len(folded_q) == len(question)  # folding kept every character where it was: spans carry over
    for m in re.finditer(r"\d+(?:[.,]\d+)?(?:\s*" + UNITS + r"(?![a-z0-9ñ]))?", folded_q):
        for tok in quantity_tokens(m.group(0)).split()[:1]:  # "2p3m", "13p2kv", "2p5"
            spelled.setdefault(tok, question[m.start():m.end()] if same else m.group(0))
    return [spelled.get(w, w) for w in folded]


def check_question(question: str) -> str:
    """Strip and validate a question (non-empty, at most MAX_QUESTION_CHARS characters)."""
    q = (question or "").strip()
    if not q:
        raise ValidationError("empty question / pregunta vacía")
    if len(q) > MAX_QUESTION_CHARS:
        raise ValidationError(
            f"question too long: {len(q)} characters (max {MAX_QUESTION_CHARS}) / pregunta demasiado larga"
        )
    return q


def _has_events(store: Path) -> bool:
    from gridcrit.data.store import connect

    try:
        con = connect(store, read_only=True)
    except GridcritError:
        return False
    try:
        names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        return "interrupciones" in names and con.execute("SELECT count(*) FROM interrupciones").fetchone()[0] > 0
    finally:
        con.close()


class Assistant:
    """Answers regulation questions (retrieval + backend) and data questions (validated read-only SQL).

    ``backend``: extractive (default) | openai | llamacpp; one that is not installed or configured raises
    (GridcritError naming what is missing); an LLM backend that fails, times out or cites passages it was
    not given while answering falls back to extractive (``Answer.fallback`` says why).
    """

    def __init__(self, store: str | Path, backend: str = "extractive", k: int = 5, dense: bool = True,
                 backend_obj=None):
        self.store = Path(store)
        if not self.store.exists():
            raise NotFoundError(f"store {self.store} does not exist; add documents with 'gridcrit corpus add'")
        self.backend_name = backend
        self.k = k
        self.dense = dense
        self._backend = backend_obj
        self._retriever = None
        self._events = None

    @property
    def retriever(self):
        if self._retriever is None:
            from gridcrit.assistant.retrieval import Retriever

            self._retriever = Retriever(self.store, dense=self.dense)
        return self._retriever

    def backend(self):
        if self._backend is None:
            self._backend = make_backend(self.backend_name)
        return self._backend

    def ask(self, question: str, lang: str = "es") -> Answer:
        """Answer ``question`` (Spanish by default; ``lang='en'`` for English prose)."""
        t0 = time.perf_counter()
        q = check_question(question)
        if lang not in ("es", "en"):
            raise ValidationError(f"unknown language {lang!r}; use es or en")
        if self.backend_name != "extractive":
            self.backend()  # an explicitly requested backend that is not available is an error, not a fallback
        tr = Trace()
        tr.step("question", q[:200], {"chars": len(q)})
        if self._events is None:
            self._events = _has_events(self.store)
        data_q = bool(self._events) and is_data_question(q)
        if not self._events and is_data_question(q) and not self._has_corpus():
            # a question about outages in a store without them: say so, not "the corpus is empty"
            raise NotFoundError(
                f"store {self.store} has no outage events (interrupciones) to answer from; load the "
                "export with 'gridcrit ingest'",
                es=f"el almacén {self.store} no tiene eventos de interrupción (interrupciones) con que responder; "
                   "cargue la exportación con 'gridcrit ingest'")
        if not data_q and _COMMAND.search(q):
            # (a data question with SQL pasted into it is answered by the parser: values are bound, the SQL
            # text never runs)
            return self._refuse(q, lang, tr, t0)
        if data_q:
            tr.step("route", "data question → SQL tool", {"reason": "event/indicator words"})
            try:
                ans = self._ask_data(q, lang, tr)
                ans.seconds = round(time.perf_counter() - t0, 4)
                ans.trace = tr.to_dict()
                return ans
            except ValidationError as e:
                tr.step("error", "data parser could not map the question", {"error": str(e)})
                if _COMMAND.search(q):  # "COPY interrupciones TO '…'": not a question the parser maps
                    return self._refuse(q, lang, tr, t0)
                if not self._has_corpus():
                    raise
        else:
            tr.step("route", "regulation question → retrieval", {"events_in_store": self._events})
        ans = self._ask_regulation(q, lang, tr)
        ans.seconds = round(time.perf_counter() - t0, 4)
        ans.trace = tr.to_dict()
        return ans

    def _refuse(self, q: str, lang: str, tr: Trace, t0: float) -> Answer:
        tr.step("route", "SQL/command in the question → refused, nothing run", {})
        tr.step("answer", _REFUSE[lang][:100], {})
        return Answer(q, "refused", _REFUSE[lang], backend="none", route="refused", lang=lang, found=False,
                      seconds=round(time.perf_counter() - t0, 4), trace=tr.to_dict())

    def _has_corpus(self) -> bool:
        try:
            _ = self.retriever
            return True
        except NotFoundError:
            return False

    def _ask_data(self, q: str, lang: str, tr: Trace) -> Answer:
        llm = self._backend if hasattr(self._backend, "complete") else None
        if llm is None and self.backend_name != "extractive":
            try:
                llm = self.backend()
            except GridcritError as e:
                tr.step("error", "LLM backend unavailable; rule parser used", {"error": str(e)})
        da = answer_data_question(q, self.store, lang=lang, llm=llm)
        tr.step("sql", f"SQL ({da.source})", {"sql": da.sql, "params": da.params, "notes": da.notes,
                                              "query": da.query})
        tr.step("answer", da.text.splitlines()[0][:100] if da.text else "", {"rows": len(da.rows)})
        return Answer(q, "data", da.text, backend="sql-" + da.source, sql=da.sql, params=da.params,
                      columns=da.columns, rows=da.rows, route="data", lang=lang,
                      fallback="; ".join(da.notes) or None, found=da.found)

    def _ask_regulation(self, q: str, lang: str, tr: Trace) -> Answer:
        r = self.retriever
        docs, why = r.route(q)
        rid = tr.step("retrieve", f"hybrid BM25 + e5 → top {self.k}", {"route": why, "documents": docs})
        passages = r.search(q, k=self.k, docs=docs)
        pids = []
        for p in passages:
            pids.append(tr.step("passage", f"[{p.n}] {p.cite()}",
                    {"score": p.score, "bm25_rank": p.bm25_rank, "dense_rank": p.dense_rank, "text": p.text[:300]},
                    after=rid))
        cov, missing, absent = r.coverage(q, passages)
        cos = getattr(r, "last_cosine", None)
        need = MIN_COVERAGE_UNKNOWN_WORDS if absent and (cos is None or cos < MIN_COSINE_UNKNOWN_WORDS) \
            else MIN_COVERAGE
        tr.step("evidence", f"coverage {cov:.2f} (min {need})",
                {"coverage": cov, "missing": missing, "not_in_corpus": absent, "e5_best": cos}, after=rid)
        be = self.backend()
        if cov < need:
            return self._not_found(q, lang, tr, passages, missing, why, be.name)
        draft: Draft = be.answer(q, passages, lang, routed_all=docs is None)
        if absent and draft.citations:  # words the corpus lacks entirely (not generic verbs it phrases otherwise)
            note = _NOT_FOUND[lang][3].format(words=", ".join(f"«{w}»" for w in _as_asked(q, absent)))
            draft.text = draft.text.replace("\n\n", f"\n{note}\n\n", 1) if "\n\n" in draft.text \
                else f"{draft.text}\n{note}"
        bid = tr.step("backend", f"{be.name}" + (f" → fallback extractive ({draft.fallback[:60]})" if draft.fallback else ""),
                      {"fallback": draft.fallback, **draft.meta})
        tr.edges += [(pid, bid) for pid in pids]
        tr.step("check", f"citations valid: {[c.n for c in draft.citations]}", {"dropped": draft.dropped})
        tr.step("answer", draft.text.splitlines()[0][:100] if draft.text else "", {"chars": len(draft.text)})
        return Answer(q, "regulation", draft.text, [asdict(c) for c in draft.citations],
                      [p.to_dict() for p in passages], draft.backend, draft.fallback, route=why,
                      dropped=draft.dropped, lang=lang)


    def _not_found(self, q: str, lang: str, tr: Trace, passages, missing: list[str], why: str,
                   backend: str) -> Answer:
        from gridcrit.assistant.backends import cite_ref

        t = _NOT_FOUND[lang]
        lines = [t[0]]
        if missing:
            lines.append(t[1].format(words=", ".join(f"«{w}»" for w in _as_asked(q, missing))))
        refs = list(dict.fromkeys(cite_ref(p.doc, p.anchor, p.page, p.page_end) for p in passages[:3]))
        if refs:
            lines.append(t[2].format(refs="; ".join(refs)))
        text = "\n".join(lines)
        tr.step("backend", f"{backend} not called: the corpus does not answer", {"missing": missing})
        tr.step("answer", text.splitlines()[0][:100], {"chars": len(text)})
        return Answer(q, "regulation", text, [], [p.to_dict() for p in passages], backend, route=why, lang=lang,
                      found=False)


def ask(question: str, store: str | Path, backend: str = "extractive", lang: str = "es", k: int = 5) -> Answer:
    """One-shot convenience wrapper around :class:`Assistant`."""
    return Assistant(store, backend=backend, k=k).ask(question, lang=lang)
