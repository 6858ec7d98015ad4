"""Benchmark: synthesise a utility, ingest it, and compare with a raw (unvalidated) DuckDB copy.

    .venv/bin/python benchmarks/bench_ingest.py --scale chec --threads 2
    .venv/bin/python benchmarks/bench_ingest.py --scale tiny --threads 1        # quick check
    .venv/bin/python benchmarks/bench_ingest.py --twin DIR --threads 2          # skip synth, reuse files
    .venv/bin/python benchmarks/bench_ingest.py --scale 10x --snapshots quarterly   # the 16 GiB check

Each phase runs in its own child process so its peak RSS (``ru_maxrss``) is measured alone:

1. ``synth``: ``gridcrit.data.synth.synthesize(out, scale, seed)``;
2. ``ingest``: ``gridcrit.data.ingest.ingest([out], store)`` (header recognition, typed parsing,
   every validation rule, duplicate/conflict checks, one transaction);
3. ``raw copy`` (baseline, side by side): the same files copied into an empty store with DuckDB's
   own ``read_csv_auto`` / ``read_parquet`` and ``CREATE TABLE AS`` — no validation, no typing rules.
   ``ingest / raw`` is the price of validation and atomicity.

Targets (issue 2): chec scale synth + ingest <= 120 s and <= 4 GiB peak RSS on 2 cores.
Prints a table and ends with ONE JSON line of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD_SYNTH = """
import json, resource, sys, time
from gridcrit.data.synth import synthesize
t = time.perf_counter()
synthesize(sys.argv[1], scale=sys.argv[2], seed=int(sys.argv[3]), snapshots=sys.argv[4])
print(json.dumps({"seconds": time.perf_counter() - t,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

CHILD_INGEST = """
import json, resource, sys, time
from gridcrit.data.ingest import ingest
t = time.perf_counter()
rep = ingest([sys.argv[1]], sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - t, "rows": rep.rows_added, "tables": rep.by_table(),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

CHILD_RAW = """
import json, resource, sys, time, duckdb
from pathlib import Path
from gridcrit.data.ingest import collect_files
from gridcrit.data.readers import inspect
from gridcrit.data.ingest import recognise
t = time.perf_counter()
con = duckdb.connect(sys.argv[2])
con.execute(f"SET threads = {int(sys.argv[3])}")
con.execute("SET memory_limit = '2GB'")
rows = 0
for i, (f, _) in enumerate(collect_files([sys.argv[1]])):
    spec, _m = recognise(inspect(f).header)
    if spec is None:
        continue
    src = f"read_parquet('{f}')" if f.suffix == ".parquet" else f"read_csv_auto('{f}')"
    con.execute(f"CREATE TABLE t{i} AS SELECT * FROM {src}")
    rows += con.execute(f"SELECT count(*) FROM t{i}").fetchone()[0]
con.close()
print(json.dumps({"seconds": time.perf_counter() - t, "rows": rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _child(code: str, *args: str, env: dict) -> dict:
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit(f"child failed ({p.returncode})")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="chec")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--snapshots",
        default="monthly",
        help="asset snapshots: monthly | quarterly | last (to shrink 10x runs)",
    )
    ap.add_argument("--twin", type=Path, default=None, help="existing twin folder (skips synth)")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temp dir)")
    args = ap.parse_args()
    env = {**os.environ, "GRIDCRIT_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads)}
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    work.mkdir(parents=True, exist_ok=True)
    twin = args.twin or work / "twin"
    if args.twin is None:
        synth = _child(CHILD_SYNTH, str(twin), args.scale, str(args.seed), args.snapshots, env=env)
    else:
        synth = {"seconds": 0.0, "peak_rss_mb": 0.0}
    size_mb = sum(f.stat().st_size for f in twin.rglob("*") if f.is_file()) / 2**20
    for f in (work / "store.duckdb", work / "raw.duckdb"):
        f.unlink(missing_ok=True)
    ing = _child(CHILD_INGEST, str(twin), str(work / "store.duckdb"), env=env)
    raw = _child(CHILD_RAW, str(twin), str(work / "raw.duckdb"), str(args.threads), env=env)
    total = synth["seconds"] + ing["seconds"]
    peak = max(synth["peak_rss_mb"], ing["peak_rss_mb"])
    print(
        f"twin: {twin} ({size_mb:.0f} MiB), scale={args.scale}, seed={args.seed}, threads={args.threads}, "
        f"cores={os.cpu_count()}, load avg={os.getloadavg()[0]:.2f}"
    )
    print(f"{'phase':<22}{'seconds':>10}{'rows':>14}{'peak RSS MiB':>14}")
    print(f"{'synth':<22}{synth['seconds']:>10.1f}{'':>14}{synth['peak_rss_mb']:>14.0f}")
    print(f"{'ingest (validated)':<22}{ing['seconds']:>10.1f}{ing['rows']:>14,}{ing['peak_rss_mb']:>14.0f}")
    print(f"{'raw copy (baseline)':<22}{raw['seconds']:>10.1f}{raw['rows']:>14,}{raw['peak_rss_mb']:>14.0f}")
    # Issue 2 targets: chec scale <= 120 s and <= 4 GiB; 10x scale within 16 GiB (no time target).
    t_target, m_target = (None, 16.0) if args.scale == "10x" else (120.0, 4.0)
    t_text = f"target <= {t_target:.0f}" if t_target else "no time target"
    print(
        f"ingest/raw time ratio: {ing['seconds'] / max(raw['seconds'], 1e-9):.2f}x; "
        f"synth+ingest {total:.1f} s ({t_text}), peak {peak / 1024:.2f} GiB (target <= {m_target:.0f})"
    )
    for t, d in sorted(ing["tables"].items()):
        print(f"  {t:<16}{d['rows_added']:>12,} rows")
    print(
        json.dumps(
            {
                "bench": "ingest",
                "scale": args.scale,
                "seed": args.seed,
                "threads": args.threads,
                "load_avg": round(os.getloadavg()[0], 2),
                "twin_mib": round(size_mb, 1),
                "synth_s": round(synth["seconds"], 2),
                "ingest_s": round(ing["seconds"], 2),
                "raw_copy_s": round(raw["seconds"], 2),
                "ingest_over_raw": round(ing["seconds"] / max(raw["seconds"], 1e-9), 2),
                "synth_plus_ingest_s": round(total, 2),
                "peak_rss_gib": round(peak / 1024, 3),
                "rows": ing["rows"],
                "rows_by_table": {t: d["rows_added"] for t, d in ing["tables"].items()},
                "target_s": t_target,
                "target_gib": m_target,
                "meets_time": None if t_target is None else total <= t_target,
                "meets_memory": peak / 1024 <= m_target,
            }
        )
    )


if __name__ == "__main__":
    main()
