"""Benchmark: synthetic twin generation + ingest at CHEC scale (optionally 10x).

    .venv/bin/python benchmarks/bench_synth_ingest.py                       # chec, threads 1
    .venv/bin/python benchmarks/bench_synth_ingest.py --scale tiny          # quick check
    .venv/bin/python benchmarks/bench_synth_ingest.py --scale 10x --snapshots quarterly --no-ingest

Each phase runs in its own child process (threads pinned: GRIDCRIT_THREADS / OMP_NUM_THREADS /
DuckDB ``threads``), so its peak RSS is measured alone: ``ru_maxrss`` of the child plus a psutil
sampler over the child's process tree (the larger one is reported). Phases:

1. ``synth``: ``synthesize(out, scale, seed, snapshots=...)`` with its internal breakdown
   (network, exposure, events, snapshot tables, CSV);
2. ``ingest``: ``gridcrit.data.ingest.ingest([out], store)`` (skipped with ``--no-ingest`` or when the
   data stage has no ingest yet).

Targets (issue 2): chec synth + ingest <= 120 s and <= 4 GiB peak RSS on 2 cores; 10x <= 16 GiB.
Prints a table (with ratios to the targets) and ends with ONE JSON line of the figures.
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

CHILD_SYNTH = """
import json, resource, sys, time
from gridcrit.data.synth import synthesize
t = time.perf_counter()
r = synthesize(sys.argv[1], scale=sys.argv[2], seed=int(sys.argv[3]), snapshots=sys.argv[4])
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t, "timings": r.timings, "rows": r.rows, "assets": r.assets,
                  "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024}))
"""

CHILD_INGEST = """
import json, resource, sys, time
from gridcrit.data.ingest import ingest
t = time.perf_counter()
rep = ingest([sys.argv[1]], sys.argv[2])
loaded = {f.table: f.rows_added for f in rep.files if f.table}
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t, "rows": loaded, "cpu_s": ru.ru_utime + ru.ru_stime,
                  "peak_rss_mb": ru.ru_maxrss / 1024}))
"""


def run_child(code: str, args: list[str], env: dict[str, str]) -> dict:
    """Run ``code`` in a child Python; return its JSON line plus wall time and sampled tree peak RSS."""
    import psutil

    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    peak = 0
    p = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}):\n{err[-3000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    res["wall_s"] = wall
    res["peak_rss_mb"] = max(res["peak_rss_mb"], peak / 2**20)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="chec", choices=["tiny", "small", "chec", "10x"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--snapshots", default="monthly", choices=["monthly", "quarterly", "last"])
    ap.add_argument("--no-ingest", action="store_true")
    ap.add_argument("--workdir", type=Path, default=None, help="where to write (default: a temp dir, removed)")
    args = ap.parse_args()

    env = dict(os.environ)
    env.update(GRIDCRIT_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               OMP_WAIT_POLICY="PASSIVE")
    try:
        import importlib.util

        have_ingest = importlib.util.find_spec("gridcrit.data.ingest") is not None
    except ImportError:
        have_ingest = False
    do_ingest = have_ingest and not args.no_ingest

    tmp = tempfile.TemporaryDirectory(prefix="bench_synth_") if args.workdir is None else None
    root = Path(tmp.name) if tmp else args.workdir
    root.mkdir(parents=True, exist_ok=True)
    twin, store = root / f"twin_{args.scale}", root / f"store_{args.scale}.duckdb"
    if store.exists():
        store.unlink()
    load = os.getloadavg()[0]
    synth = run_child(CHILD_SYNTH, [str(twin), args.scale, str(args.seed), args.snapshots], env)
    size_mb = sum(f.stat().st_size for f in twin.iterdir()) / 2**20
    ing = run_child(CHILD_INGEST, [str(twin), str(store)], env) if do_ingest else None
    if tmp:
        tmp.cleanup()

    total_s = synth["wall_s"] + (ing["wall_s"] if ing else 0.0)
    total_cpu = synth["cpu_s"] + (ing["cpu_s"] if ing else 0.0)
    peak_gib = max(synth["peak_rss_mb"], ing["peak_rss_mb"] if ing else 0.0) / 1024
    limit_s, limit_gib = (120.0, 4.0) if args.scale != "10x" else (float("nan"), 16.0)
    rows = sum(synth["rows"].values())
    print(f"scale={args.scale} seed={args.seed} snapshots={args.snapshots} threads={args.threads} "
          f"cpus={os.cpu_count()} load_before={load:.2f} ingest={'yes' if ing else 'no'}")
    print(f"{'phase':<28}{'wall s':>10}{'CPU s':>10}{'peak RSS GiB':>14}{'rows':>14}")
    print(f"{'synth':<28}{synth['wall_s']:>10.1f}{synth['cpu_s']:>10.1f}{synth['peak_rss_mb'] / 1024:>14.2f}{rows:>14,}")
    for k, v in synth["timings"].items():
        print(f"{'  synth.' + k:<28}{v:>10.1f}")
    if ing:
        print(f"{'ingest':<28}{ing['wall_s']:>10.1f}{ing['cpu_s']:>10.1f}{ing['peak_rss_mb'] / 1024:>14.2f}"
              f"{sum(ing['rows'].values()):>14,}")
    print(f"{'total (synth + ingest)':<28}{total_s:>10.1f}{total_cpu:>10.1f}{peak_gib:>14.2f}")
    no_t = limit_s != limit_s  # 10x: memory target only
    print(f"{'target':<28}{'-' if no_t else f'{limit_s:.0f}':>10}{'':>10}{limit_gib:>14.1f}")
    print(f"{'ratio to target':<28}{'-' if no_t else f'{total_s / limit_s:.2f}':>10}"
          f"{'-' if no_t else f'{total_cpu / limit_s:.2f}':>10}{peak_gib / limit_gib:>14.2f}")
    print("CPU s = user+sys of the phase's process (1 thread): what it needs on an idle core; "
          "wall s also counts waiting for a CPU on a shared machine (see load_before).")
    print("assets: " + ", ".join(f"{k} {v:,}" for k, v in synth["assets"].items()) + f"; files {size_mb:.0f} MiB")
    ok = (args.scale == "10x" or total_s <= limit_s) and peak_gib <= limit_gib
    print(json.dumps({
        "bench": "synth_ingest", "scale": args.scale, "seed": args.seed, "snapshots": args.snapshots,
        "threads": args.threads, "cpus": os.cpu_count(), "load_before": round(load, 2),
        "synth_s": round(synth["wall_s"], 2), "synth_cpu_s": round(synth["cpu_s"], 2), "synth_breakdown_s": {k: round(v, 2) for k, v in synth["timings"].items()},
        "synth_peak_rss_gib": round(synth["peak_rss_mb"] / 1024, 3),
        "ingest_s": round(ing["wall_s"], 2) if ing else None,
        "ingest_cpu_s": round(ing["cpu_s"], 2) if ing else None, "total_cpu_s": round(total_cpu, 2),
        "ingest_peak_rss_gib": round(ing["peak_rss_mb"] / 1024, 3) if ing else None,
        "total_s": round(total_s, 2), "peak_rss_gib": round(peak_gib, 3), "rows": synth["rows"],
        "assets": synth["assets"], "files_mib": round(size_mb, 1), "target_s": None if limit_s != limit_s else limit_s, "target_gib": limit_gib,
        "within_target": ok,
    }))


if __name__ == "__main__":
    main()
