"""Benchmark: build the transformer x month criticality dataset at ``chec`` and ``10x`` scale.

Targets (issue 3): chec scale (~21k transformers x 66 months ~ 1.4M rows) in <= 60 s on 2 cores;
10x in <= 10 min within 8 GiB peak RSS.

Each build runs in a fresh child process (imports included in nothing: the clock starts at
``build_dataset``); the parent samples the child's RSS with psutil every 50 ms and the child also
reports its own ``ru_maxrss``. Store generation is set-up, not measured.

Sources: ``sample`` (default) = :func:`gridcrit.features.sample_store.build_sample_store`, sized like CHEC
(219 circuits x 283 segments, 0.34 transformers per segment, monthly snapshots 2019-01..2024-06);
``twin`` = the synthetic twin (``gridcrit.data.synth.synthesize`` + ``ingest``) at the same scale names.

    .venv/bin/python benchmarks/bench_dataset.py                     # chec and 10x
    .venv/bin/python benchmarks/bench_dataset.py --scales small,chec  # quicker
    .venv/bin/python benchmarks/bench_dataset.py --scales chec,twin_chec,10x --store twin_chec=twin.duckdb
Prints a table, ratios (time / budget, 10x / chec) and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

SAMPLE_SCALES = {  # n_circuits x 283 segments; chec ~ 62k segments, 21k transformers
    "small": 22,
    "chec": 219,
    "10x": 2190,
}
BUDGET_S = {"small": 60.0, "chec": 60.0, "10x": 600.0}
BUDGET_RSS_GIB = 8.0

CHILD = """
import json, os, resource, sys, time
t0 = time.perf_counter()
from gridcrit.features.dataset import build_dataset
t1 = time.perf_counter()
ds = build_dataset(sys.argv[1], level=sys.argv[2], period=sys.argv[3])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "build_s": t2 - t1, "rows": len(ds.frame),
                  "assets": int(ds.card["assets"]), "features": len(ds.feature_columns),
                  "steps": ds.card["timings_s"], "rss_after_step_gib": ds.card.get("rss_gib_after_step"),
                  "ru_maxrss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def make_store(source: str, scale: str, workdir: Path) -> Path:
    store = workdir / f"{source}_{scale}.duckdb"
    if store.exists():
        return store
    if source == "sample":
        from gridcrit.features.sample_store import build_sample_store

        build_sample_store(store, n_circuits=SAMPLE_SCALES[scale], segments_per_circuit=283, start="2019-01",
                           end="2024-06", event_rate=0.02, trafos_per_segment=0.34, seed=0)
    else:
        from gridcrit.data.ingest import ingest
        from gridcrit.data.synth import synthesize

        twin = workdir / f"twin_{scale}"
        synthesize(twin, scale=scale, seed=0)
        ingest([twin], store)
    return store


def measure(store: Path, level: str, period: str, threads: int) -> dict:
    env = {**os.environ, "GRIDCRIT_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(store), level, period], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    t0 = time.perf_counter()
    while proc.poll() is None:
        try:
            peak = max(peak, ps.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.05)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"build failed on {store}:\n{err[-3000:]}")
    r = json.loads(out.strip().splitlines()[-1])
    r["wall_s"] = time.perf_counter() - t0
    r["peak_rss_gib_psutil"] = peak / 2**30
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="chec,10x")
    ap.add_argument("--source", default="sample", choices=["sample", "twin"])
    ap.add_argument("--level", default="transformer")
    ap.add_argument("--period", default="month")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB / BLAS threads of the build (2 = the 2 cores)")
    ap.add_argument("--workdir", default=None, help="where stores are generated (kept and reused)")
    ap.add_argument("--store", action="append", default=[], metavar="SCALE=PATH",
                    help="measure an existing store for SCALE instead of generating one (e.g. chec=twin.duckdb)")
    args = ap.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench_dataset_"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = {}
    load = os.getloadavg()[0]
    given = dict(x.split("=", 1) for x in args.store)
    for scale in args.scales.split(","):
        t = time.perf_counter()
        store = Path(given[scale]) if scale in given else make_store(args.source, scale, workdir)
        setup_s = time.perf_counter() - t
        r = measure(store, args.level, args.period, args.threads)
        r["setup_s"] = setup_s
        r["store_gib"] = store.stat().st_size / 2**30
        r["budget_s"] = BUDGET_S.get(scale.split("_")[-1], 600.0)  # "twin_chec" has the chec budget
        r["time_ratio_to_budget"] = r["build_s"] / r["budget_s"]
        r["rss_ratio_to_budget"] = max(r["peak_rss_gib_psutil"], r["ru_maxrss_gib"]) / BUDGET_RSS_GIB
        results[scale] = r
        print(f"[{scale}] built {r['rows']:,} rows in {r['build_s']:.1f} s (store set-up {setup_s:.0f} s)", flush=True)
    print()
    print(f"dataset {args.level} x {args.period}, source={args.source} {given or ''}, threads={args.threads}, "
          f"cpus={os.cpu_count()}, load average at start {load:.1f} (shared machine)")
    hdr = f"{'scale':>9} {'rows':>12} {'assets':>8} {'feat':>5} {'build s':>8} {'budget s':>8} {'t/budget':>8} " \
          f"{'rows/s':>10} {'peak RSS GiB':>12} {'rss/8GiB':>8}"
    print(hdr)
    print("-" * len(hdr))
    for scale, r in results.items():
        rss = max(r["peak_rss_gib_psutil"], r["ru_maxrss_gib"])
        print(f"{scale:>9} {r['rows']:>12,} {r['assets']:>8,} {r['features']:>5} {r['build_s']:>8.1f} "
              f"{r['budget_s']:>8.0f} {r['time_ratio_to_budget']:>8.2f} {r['rows'] / r['build_s']:>10,.0f} "
              f"{rss:>12.2f} {r['rss_ratio_to_budget']:>8.2f}")
    for scale, r in results.items():
        print(f"  {scale} steps (s): {r['steps']}")
        print(f"  {scale} RSS after step (GiB): {r['rss_after_step_gib']}")
    summary = {"bench": "dataset", "level": args.level, "period": args.period,
               "source": args.source if not given else f"{args.source}; given stores: {sorted(given)}",
               "threads": args.threads, "load_avg_start": round(load, 2)}
    for scale, r in results.items():
        summary[scale] = {"rows": r["rows"], "build_s": round(r["build_s"], 2),
                          "peak_rss_gib": round(max(r["peak_rss_gib_psutil"], r["ru_maxrss_gib"]), 3),
                          "time_ratio_to_budget": round(r["time_ratio_to_budget"], 3),
                          "meets_budget": r["build_s"] <= r["budget_s"] and r["rss_ratio_to_budget"] <= 1.0}
    if "twin_chec" in results and "chec" in results:
        t, c = results["twin_chec"], results["chec"]
        summary["ratio_twin_over_sample_chec"] = {"rows": round(t["rows"] / c["rows"], 2),
                                                  "time": round(t["build_s"] / c["build_s"], 2)}
        print(f"twin_chec / chec: rows x{t['rows'] / c['rows']:.2f}, time x{t['build_s'] / c['build_s']:.2f}")
    if "chec" in results and "10x" in results:
        c, x = results["chec"], results["10x"]
        summary["ratio_10x_over_chec"] = {"rows": round(x["rows"] / c["rows"], 2),
                                          "time": round(x["build_s"] / c["build_s"], 2)}
        print(f"10x / chec: rows x{x['rows'] / c['rows']:.1f}, time x{x['build_s'] / c['build_s']:.1f}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
