"""Learning from feedback: (question, correct passage) pairs → a query adapter on frozen embeddings.

    question ─► e5 (frozen) ─► q (384) ─► W q, W = I + ΔW (learned, 384×384) ─► normalise ─► cosine with
    passage vectors P (frozen, n×384)

Training minimises the softmax cross-entropy of the correct passage among all passages (temperature
0.05) plus ``l2`` · ||ΔW||², starting from the identity, with full-batch Adam for ``epochs`` steps:
seconds on one core. The adapter is kept only if held-out feedback pairs rank their passage better
(MRR) than without it; it is saved as ``query_adapter.safetensors`` + ``query_adapter.json`` in the
store's files folder (never pickle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from gridcrit.data.store import connect, files_dir
from gridcrit.errors import NotFoundError, ValidationError

_FEEDBACK_DDL = """CREATE TABLE IF NOT EXISTS _assistant_feedback (question VARCHAR, doc VARCHAR, anchor VARCHAR,
    part INTEGER, created_at TIMESTAMP)"""


def adapter_paths(store: str | Path) -> tuple[Path, Path]:
    d = files_dir(store) / "assistant"
    return d / "query_adapter.safetensors", d / "query_adapter.json"


class QueryAdapter:
    """Linear map applied to query vectors: ``normalise(W @ q)``; ``W`` is (384, 384)."""

    def __init__(self, W: np.ndarray):
        self.W = np.asarray(W, dtype=np.float32)

    def transform(self, q: np.ndarray) -> np.ndarray:
        v = self.W @ q
        return (v / (np.linalg.norm(v) + 1e-12)).astype(np.float32)


def load_adapter(store: str | Path) -> QueryAdapter | None:
    """The kept adapter of ``store``, or None."""
    wpath, _ = adapter_paths(store)
    if not wpath.exists():
        return None
    from safetensors.numpy import load_file

    return QueryAdapter(load_file(str(wpath))["W"])


def add_feedback(store: str | Path, question: str, anchor: str, doc: str | None = None) -> dict:
    """Store that ``anchor`` (of ``doc``, or the only document having it) answers ``question``."""
    from gridcrit.assistant.corpus import normalise_anchor

    a = normalise_anchor(anchor)
    con = connect(store)
    try:
        con.execute(_FEEDBACK_DDL)
        sql = "SELECT DISTINCT doc FROM _corpus_units WHERE anchor = ?"
        params = [a]
        if doc:
            sql += " AND doc = ?"
            params.append(doc)
        try:
            docs = [r[0] for r in con.execute(sql, params).fetchall()]
        except Exception as e:  # no corpus tables
            raise NotFoundError("the corpus is empty; add documents first") from e
        if not docs:
            raise NotFoundError(f"anchor {a!r} not found in the corpus" + (f" (document {doc!r})" if doc else ""))
        if len(docs) > 1:
            raise ValidationError(f"anchor {a!r} exists in several documents ({', '.join(docs)}); give DOC#ANCHOR")
        con.execute("INSERT INTO _assistant_feedback VALUES (?, ?, ?, 1, ?)", [question, docs[0], a, datetime.now()])
        n = con.execute("SELECT count(*) FROM _assistant_feedback").fetchone()[0]
    finally:
        con.close()
    return {"question": question, "doc": docs[0], "anchor": a, "feedback_pairs": n}


@dataclass
class TuneReport:
    pairs: int
    train: int
    held_out: int
    mrr_before: float
    mrr_after: float
    kept: bool
    seconds: float
    reason: str = ""


def _mrr(Q: np.ndarray, P: np.ndarray, gold: list[set[int]]) -> float:
    S = Q @ P.T
    out = []
    for i, g in enumerate(gold):
        order = np.argsort(-S[i], kind="stable")
        pos = next((r for r, j in enumerate(order) if j in g), None)
        out.append(0.0 if pos is None else 1.0 / (pos + 1))
    return float(np.mean(out)) if out else 0.0


def fit_adapter(Q: np.ndarray, P: np.ndarray, gold: list[set[int]], epochs: int = 150, l2: float = 1e-2,
                lr: float = 5e-3, temperature: float = 0.05, seed: int = 0) -> np.ndarray:
    """Learn W (384×384, from identity) so that normalise(W q_i) ranks a gold passage of pair i first."""
    import torch

    torch.manual_seed(seed)
    q = torch.from_numpy(Q.astype(np.float32))
    p = torch.from_numpy(P.astype(np.float32))
    target = torch.tensor([min(g) for g in gold])
    dW = torch.zeros(Q.shape[1], Q.shape[1], requires_grad=True)
    opt = torch.optim.Adam([dW], lr=lr)
    eye = torch.eye(Q.shape[1])
    for _ in range(epochs):
        opt.zero_grad()
        z = q @ (eye + dW).T
        z = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)
        loss = torch.nn.functional.cross_entropy(z @ p.T / temperature, target) + l2 * (dW**2).sum()
        loss.backward()
        opt.step()
    return (eye + dW).detach().numpy()


def tune(store: str | Path, held_out_fraction: float = 0.3, seed: int = 0, min_pairs: int = 6) -> TuneReport:
    """Learn a query adapter from stored feedback; keep it only if held-out MRR improves."""
    import time

    from gridcrit.assistant.corpus import load_corpus
    from gridcrit.assistant.embed import embed_query

    t0 = time.perf_counter()
    con = connect(store, read_only=True)
    try:
        units, P, _ = load_corpus(con)
        names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        fb = (
            con.execute("SELECT question, doc, anchor FROM _assistant_feedback ORDER BY created_at").fetchall()
            if "_assistant_feedback" in names
            else []
        )
    finally:
        con.close()
    if P is None:
        raise NotFoundError("the corpus has no dense vectors; add documents first")
    index: dict[tuple[str, str], set[int]] = {}
    for i, (d, a) in enumerate(zip(units["doc"], units["anchor"], strict=True)):
        index.setdefault((d, a), set()).add(i)
    pairs = [(q, index[(d, a)]) for q, d, a in fb if (d, a) in index]
    if len(pairs) < min_pairs:
        return TuneReport(len(pairs), 0, 0, 0.0, 0.0, False, time.perf_counter() - t0,
                          f"need at least {min_pairs} feedback pairs (have {len(pairs)})")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pairs))
    n_test = max(2, round(held_out_fraction * len(pairs)))
    test, train = order[:n_test], order[n_test:]
    Q = np.stack([embed_query(q) for q, _ in pairs])
    gold = [g for _, g in pairs]
    W = fit_adapter(Q[train], P, [gold[i] for i in train], seed=seed)
    Qt = Q[test]
    Qa = Qt @ W.T
    Qa /= np.linalg.norm(Qa, axis=1, keepdims=True) + 1e-12
    before = _mrr(Qt, P, [gold[i] for i in test])
    after = _mrr(Qa, P, [gold[i] for i in test])
    kept = after > before
    wpath, jpath = adapter_paths(store)
    if kept:
        from safetensors.numpy import save_file

        wpath.parent.mkdir(parents=True, exist_ok=True)
        save_file({"W": W.astype(np.float32)}, str(wpath))
        jpath.write_text(json.dumps({"pairs": len(pairs), "held_out": int(n_test), "mrr_before": before,
                                     "mrr_after": after, "created_at": datetime.now().isoformat()}, indent=1))
    return TuneReport(len(pairs), len(train), int(n_test), round(before, 4), round(after, 4), kept,
                      round(time.perf_counter() - t0, 2),
                      "held-out MRR improved: adapter kept" if kept else "no held-out improvement: adapter discarded")
