"""Evaluation of the assistant on a JSONL set.

One JSON object per line:

* regulation: ``{"question", "gold": [{"doc", "anchor"}...] | "pages": [{"doc", "page"}...], "reference"?}``
  A retrieved passage hits when its document matches and its anchor equals a gold anchor or lies under
  it ("Art. 3.10.1" hits gold "Art. 3.10"), or (page gold) when its page range contains a gold page.
* data: ``{"question", "reference_sql", "ordered"?}`` — the reference SQL (validated like any other) is run
  on the same store at evaluation time and its rows are compared with the answer's rows (exact match,
  floats to 9 significant digits, order-insensitive unless ``ordered``).

Metrics: hit@1/3/5, MRR@5, citation validity (every [n] names a retrieved passage and its quote is a
verbatim span of it), chrF and ROUGE-L against references, data exact match, latency p50/p95/max.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from gridcrit.errors import GridcritError, ValidationError


def load_jsonl(path: str | Path) -> list[dict]:
    """Items of a JSONL file; ValidationError naming file and line on bad JSON or missing question."""
    path = Path(path)
    if not path.exists():
        from gridcrit.errors import NotFoundError

        raise NotFoundError(f"{path}: file not found")
    items = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValidationError(f"{path}:{i}: invalid JSON ({e.msg})") from e
        if not isinstance(obj, dict) or not str(obj.get("question", "")).strip():
            raise ValidationError(f"{path}:{i}: each line needs a 'question'")
        items.append(obj)
    return items


def passage_hits(p: dict, item: dict) -> bool:
    for g in item.get("gold", []):
        if g.get("doc") and g["doc"] != p["doc"]:
            continue
        a = g["anchor"]
        if p["anchor"] == a or p["anchor"].startswith(a + "."):
            return True
    for g in item.get("pages", []):
        if g.get("doc") and g["doc"] != p["doc"]:
            continue
        if p["page"] <= int(g["page"]) <= p["page_end"]:
            return True
    return False


def citation_valid(c: dict, passages: list[dict]) -> bool:
    """The citation names a retrieved passage (doc, anchor), its quote is a verbatim span of it, and the
    cited page is the page the quote is printed on (passages that know their page breaks), else within
    the passage's pages."""
    from gridcrit.assistant.retrieval import Passage

    by_n = {p["n"]: p for p in passages}
    p = by_n.get(c["n"])
    if p is None or (p["doc"], p["anchor"]) != (c["doc"], c["anchor"]):
        return False
    end = c.get("page_end") or c["page"]
    if not p["page"] <= c["page"] <= end <= p["page_end"]:
        return False
    norm = lambda s: " ".join(s.split())  # noqa: E731
    parts = [norm(x) for x in c["quote"].split("…") if x.strip()]
    if not parts or not all(x in norm(p["text"]) for x in parts):
        return False
    if p.get("breaks") is not None:
        ps = Passage(**p)
        pieces = [x for x in c["quote"].split(" … ") if x.strip()] or [c["quote"]]
        return (c["page"], end) == (ps.pages_of(pieces[0])[0], max(c["page"], ps.pages_of(pieces[-1])[1]))
    return True


def _char_ngrams(s: str, n: int) -> Counter:
    s = " ".join(s.split())
    return Counter(s[i : i + n] for i in range(max(0, len(s) - n + 1)))


def chrf(hyp: str, ref: str, n: int = 6, beta: float = 2.0) -> float:
    """chrF (character n-gram F-score, n=1..6, beta=2), 0..100."""
    ps, rs = [], []
    for k in range(1, n + 1):
        h, r = _char_ngrams(hyp, k), _char_ngrams(ref, k)
        overlap = sum((h & r).values())
        if sum(h.values()):
            ps.append(overlap / sum(h.values()))
        if sum(r.values()):
            rs.append(overlap / sum(r.values()))
    p = float(np.mean(ps)) if ps else 0.0
    r = float(np.mean(rs)) if rs else 0.0
    return 0.0 if p + r == 0 else 100 * (1 + beta**2) * p * r / (beta**2 * p + r)


def rouge_l(hyp: str, ref: str) -> float:
    """ROUGE-L F1 over lower-cased word tokens, 0..1."""
    a, b = hyp.lower().split(), ref.lower().split()
    if not a or not b:
        return 0.0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    p, r = lcs / len(a), lcs / len(b)
    return 2 * p * r / (p + r)


def _norm_row(row) -> tuple:
    out = []
    for v in row:
        if isinstance(v, float) or (hasattr(v, "dtype") and "float" in str(getattr(v, "dtype", ""))):
            out.append(float(f"{float(v):.9g}"))
        elif hasattr(v, "item"):
            out.append(v.item())
        else:
            out.append(v)
    return tuple(out)


def rows_equal(a: list, b: list, ordered: bool) -> bool:
    ra, rb = [_norm_row(r) for r in a], [_norm_row(r) for r in b]
    if not ordered:
        key = lambda t: tuple((x is None, str(x)) for x in t)  # noqa: E731
        ra, rb = sorted(ra, key=key), sorted(rb, key=key)
    return ra == rb


def _pct(xs: list[float], q: float) -> float | None:
    return round(float(np.percentile(xs, q)), 4) if xs else None


def evaluate(items: list[dict], assistant, lang: str = "es", progress=None) -> dict:
    """Run every item through ``assistant`` (an :class:`Assistant`) and return metrics + per-item rows."""
    from gridcrit.assistant.dataqa import open_readonly, run_select

    per_item = []
    reg_lat, data_lat = [], []
    hits = {1: [], 3: [], 5: []}
    rr, cites_ok, cites_n, chrfs, rouges, exact = [], [], [], [], [], []
    ref_con = None
    for i, it in enumerate(items):
        row = {"id": it.get("id", i), "question": it["question"]}
        try:
            t0 = time.perf_counter()
            ans = assistant.ask(it["question"], lang=lang)
            dt = time.perf_counter() - t0
        except GridcritError as e:
            row["error"] = str(e)
            if "reference_sql" in it:
                exact.append(0.0)
            elif it.get("gold") or it.get("pages"):
                for k in hits:
                    hits[k].append(0.0)
                rr.append(0.0)
            per_item.append(row)
            continue
        row["kind"], row["seconds"] = ans.kind, round(dt, 4)
        if "reference_sql" in it:
            data_lat.append(dt)
            if ref_con is None:
                ref_con = open_readonly(assistant.store)
            try:
                ref = run_select(ref_con, it["reference_sql"])
                ok = ans.kind == "data" and rows_equal(ans.rows, ref.rows, bool(it.get("ordered", False)))
            except GridcritError as e:
                row["reference_error"] = str(e)
                ok = False
            row.update(exact=ok, sql=ans.sql, rows=ans.rows[:5])
            exact.append(float(ok))
        else:
            reg_lat.append(dt)
            ranks = [j + 1 for j, p in enumerate(ans.passages) if passage_hits(p, it)]
            first = ranks[0] if ranks else None
            for k in hits:
                hits[k].append(float(first is not None and first <= k))
            rr.append(1.0 / first if first else 0.0)
            valid = [citation_valid(c, ans.passages) for c in ans.citations]
            cites_ok += valid
            cites_n.append(len(valid))
            row.update(first_hit_rank=first, citations=len(valid), citations_valid=all(valid) if valid else None,
                       top=[f"{p['doc']} {p['anchor']} p.{p['page']}" for p in ans.passages])
            if it.get("reference"):
                chrfs.append(chrf(ans.text, it["reference"]))
                rouges.append(rouge_l(ans.text, it["reference"]))
        per_item.append(row)
        if progress:
            progress(i + 1, len(items))
    if ref_con is not None:
        ref_con.close()
    m = lambda xs: round(float(np.mean(xs)), 4) if xs else None  # noqa: E731
    summary = {
        "n_regulation": len(hits[1]), "n_data": len(exact),
        "hit@1": m(hits[1]), "hit@3": m(hits[3]), "hit@5": m(hits[5]), "mrr@5": m(rr),
        "citations": len(cites_ok), "citation_validity": m(cites_ok),
        "answers_without_citation": sum(1 for n in cites_n if n == 0),
        "chrf": m(chrfs), "rouge_l": m(rouges), "data_exact": m(exact),
        "latency_regulation_p50_s": _pct(reg_lat, 50), "latency_regulation_p95_s": _pct(reg_lat, 95),
        "latency_regulation_max_s": round(max(reg_lat), 4) if reg_lat else None,
        "latency_data_p50_s": _pct(data_lat, 50), "latency_data_p95_s": _pct(data_lat, 95),
    }
    return {"summary": summary, "items": per_item}
