"""Benchmark of the assistant (issue 8 "Must show").

    .venv/bin/python benchmarks/bench_assistant.py [--dir /tmp/gridcrit_bench_assistant] [--reindex]

1. Index both RETIE PDFs of ../shared/data/regulations into a store under --dir (cached: a later run
   reuses it and reports the indexing time measured when it was built; --reindex rebuilds).
2. Regulation dev set (src/gridcrit/assistant/devsets/regulation_dev.jsonl), extractive backend:
   hit@1/3/5, MRR, citation validity, latency p50/p95 (warm retriever, one process), and side by side in
   the same run: BM25 only vs dense only vs hybrid, with and without document routing.
3. Data dev set on the sample store (gridcrit.assistant.sample): exact match against the reference SQL.
Threads pinned to 1 (GRIDCRIT_THREADS=1, OMP_NUM_THREADS=1). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("GRIDCRIT_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
REGS = ROOT.parent / "shared" / "data" / "regulations"
DEV = ROOT / "src" / "gridcrit" / "assistant" / "devsets"
DOCS = [
    ("RETIE_2024_libro3_instalaciones.pdf", "RETIE-2024-libro3", "retie 2024, libro 3, resolucion 40117"),
    ("RETIE_anexo_general.pdf", "RETIE-2013-anexo-general", "retie 2013, anexo general"),
]


def index(store: Path, reindex: bool) -> dict:
    from gridcrit.assistant.corpus import add_document

    meta = store.with_suffix(".meta.json")
    if store.exists() and meta.exists() and not reindex:
        m = json.loads(meta.read_text())
        m["cached"] = True
        return m
    if store.exists():
        store.unlink()
    t0, c0 = time.perf_counter(), time.process_time()
    per = {}
    for f, name, aliases in DOCS:
        t = time.perf_counter()
        info = add_document(store, REGS / f, name=name, aliases=aliases)
        per[name] = {"pages": info.pages, "units": info.units, "seconds": round(time.perf_counter() - t, 1)}
        print(f"indexed {name}: {info.pages} pages, {info.units} units in {per[name]['seconds']} s", flush=True)
    m = {"index_s": round(time.perf_counter() - t0, 1), "index_cpu_s": round(time.process_time() - c0, 1),
         "loadavg_during": round(os.getloadavg()[1], 2), "docs": per, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    meta.write_text(json.dumps(m))
    m["cached"] = False
    return m


def retrieval_table(items: list[dict], retriever) -> dict:
    from gridcrit.assistant.evaluate import passage_hits

    out = {}
    for mode in ("bm25", "dense", "hybrid"):
        for routed in (False, True):
            h5, rr = [], []
            for it in items:
                ps = retriever.search(it["question"], k=5, route=routed, mode=mode)
                ranks = [i + 1 for i, p in enumerate(ps) if passage_hits(p.to_dict(), it)]
                h5.append(1.0 if ranks else 0.0)
                rr.append(1.0 / ranks[0] if ranks else 0.0)
            key = f"{mode}{'+route' if routed else ''}"
            out[key] = {"hit@5": round(sum(h5) / len(h5), 4), "mrr@5": round(sum(rr) / len(rr), 4)}
    return out


def twin_eval(d: Path, scale: str) -> dict:
    """Data questions generated from a synthetic twin's own values, exact match against independent SQL."""
    from gridcrit.assistant import Assistant
    from gridcrit.assistant.evaluate import evaluate
    from gridcrit.assistant.twin_questions import twin_items

    try:
        from gridcrit.data.ingest import ingest
        from gridcrit.data.synth import synthesize
    except ImportError as e:  # pragma: no cover - synth/ingest owned by other stages
        return {"twin_error": str(e)}
    store = d / f"twin_{scale}.duckdb"
    if not store.exists():
        t = time.perf_counter()
        synthesize(d / f"twin_{scale}", scale=scale, seed=0)
        ingest([d / f"twin_{scale}"], store)
        print(f"twin {scale} built in {time.perf_counter() - t:.0f} s", flush=True)
    rep = evaluate(twin_items(store), Assistant(store))
    bad = [i["question"] for i in rep["items"] if not i.get("exact")]
    if bad:
        print("twin misses:", bad, flush=True)
    return {"twin_n_data": rep["summary"]["n_data"], "twin_data_exact": rep["summary"]["data_exact"],
            "twin_data_p95_s": rep["summary"]["latency_data_p95_s"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/gridcrit_bench_assistant")
    ap.add_argument("--reindex", action="store_true")
    ap.add_argument("--twin", default="small", help="synthetic twin scale for data questions (tiny|small|none)")
    args = ap.parse_args(argv)
    from gridcrit.runtime import configure_threads

    threads = configure_threads(int(os.environ["GRIDCRIT_THREADS"]))
    import psutil

    from gridcrit.assistant import Assistant
    from gridcrit.assistant.evaluate import evaluate, load_jsonl
    from gridcrit.assistant.sample import make_sample_store

    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    idx = index(d / "corpus.duckdb", args.reindex)
    t = time.perf_counter()
    ast = Assistant(d / "corpus.duckdb")
    _ = ast.retriever
    cold_s = round(time.perf_counter() - t, 2)
    reg_items = load_jsonl(DEV / "regulation_dev.jsonl")
    ast.ask(reg_items[0]["question"])  # warm-up (first e5 call)
    reg = evaluate(reg_items, ast)["summary"]
    table = retrieval_table(reg_items, ast.retriever)
    for k, v in table.items():
        print(f"{k:14s} hit@5 {v['hit@5']:.3f}  mrr@5 {v['mrr@5']:.3f}")
    sample = d / "sample.duckdb"
    if sample.exists():
        sample.unlink()
    make_sample_store(sample)
    data = evaluate(load_jsonl(DEV / "data_dev.jsonl"), Assistant(sample))["summary"]
    twin = {"twin_scale": args.twin}
    if args.twin != "none":
        twin.update(twin_eval(d, args.twin))
    res = {
        "bench": "assistant", "threads": threads, "cpus": os.cpu_count(), "loadavg_start": round(load_before, 2),
        "loadavg_end": round(os.getloadavg()[0], 2), "rss_mb": round(psutil.Process().memory_info().rss / 2**20),
        "index_s": idx["index_s"], "index_cpu_s": idx.get("index_cpu_s"), "index_loadavg_5min": idx.get("loadavg_during"),
        "index_cached": idx["cached"], "index_wall_le_600s": idx["index_s"] <= 600,
        "index_cpu_le_600s": (idx.get("index_cpu_s") or 1e9) <= 600, "units": sum(v["units"] for v in idx["docs"].values()),
        "retriever_cold_start_s": cold_s,
        "n_regulation": reg["n_regulation"], "hit@1": reg["hit@1"], "hit@3": reg["hit@3"], "hit@5": reg["hit@5"],
        "mrr@5": reg["mrr@5"], "citation_validity": reg["citation_validity"], "citations": reg["citations"],
        "chrf": reg["chrf"], "rouge_l": reg["rouge_l"],
        "extractive_p50_s": reg["latency_regulation_p50_s"], "extractive_p95_s": reg["latency_regulation_p95_s"],
        "extractive_max_s": reg["latency_regulation_max_s"],
        "n_data": data["n_data"], "data_exact": data["data_exact"], "data_p95_s": data["latency_data_p95_s"],
        **twin,
        "retrieval_modes": table,
        "hybrid_over_bm25_hit5": round(table["hybrid+route"]["hit@5"] / max(table["bm25"]["hit@5"], 1e-9), 3),
        "must_show_ok": bool(reg["hit@5"] >= 0.9 and reg["citation_validity"] == 1.0
                             and reg["latency_regulation_p95_s"] <= 1.0 and idx["index_s"] <= 600
                             and data["data_exact"] == 1.0),
    }
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
