"""The assistant's entry point: question → route → tool → backend → checked, cited answer + trace.

    >>> from gridcrit.assistant import Assistant                      # doctest: +SKIP
    >>> a = Assistant("gridcrit.duckdb").ask("¿distancia mínima de una red de 13,2 kV a un edificio?")
    >>> print(a.text); a.citations[0]                                   # doc, anchor, page, quote
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gridcrit.assistant.backends import Draft, make_backend
from gridcrit.assistant.dataqa import answer_data_question, is_data_question
from gridcrit.assistant.trace import Trace
from gridcrit.errors import GridcritError, NotFoundError, ValidationError

MAX_QUESTION_CHARS = 2000


@dataclass
class Answer:
    """An answer with its evidence. ``citations``: [{n, doc, anchor, page, quote}]."""

    question: str
    kind: str  # regulation | data
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

    def to_dict(self) -> dict:
        return asdict(self)


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
        if self._events and is_data_question(q):
            tr.step("route", "data question → SQL tool", {"reason": "event/indicator words"})
            try:
                ans = self._ask_data(q, lang, tr)
                ans.seconds = round(time.perf_counter() - t0, 4)
                ans.trace = tr.to_dict()
                return ans
            except ValidationError as e:
                tr.step("error", "data parser could not map the question", {"error": str(e)})
                if not self._has_corpus():
                    raise
        else:
            tr.step("route", "regulation question → retrieval", {"events_in_store": self._events})
        ans = self._ask_regulation(q, lang, tr)
        ans.seconds = round(time.perf_counter() - t0, 4)
        ans.trace = tr.to_dict()
        return ans

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
                      fallback="; ".join(da.notes) or None)

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
        be = self.backend()
        draft: Draft = be.answer(q, passages, lang, routed_all=docs is None)
        bid = tr.step("backend", f"{be.name}" + (f" → fallback extractive ({draft.fallback[:60]})" if draft.fallback else ""),
                      {"fallback": draft.fallback, **draft.meta})
        tr.edges += [(pid, bid) for pid in pids]
        tr.step("check", f"citations valid: {[c.n for c in draft.citations]}", {"dropped": draft.dropped})
        tr.step("answer", draft.text.splitlines()[0][:100] if draft.text else "", {"chars": len(draft.text)})
        return Answer(q, "regulation", draft.text, [asdict(c) for c in draft.citations],
                      [p.to_dict() for p in passages], draft.backend, draft.fallback, route=why,
                      dropped=draft.dropped, lang=lang)


def ask(question: str, store: str | Path, backend: str = "extractive", lang: str = "es", k: int = 5) -> Answer:
    """One-shot convenience wrapper around :class:`Assistant`."""
    return Assistant(store, backend=backend, k=k).ask(question, lang=lang)
