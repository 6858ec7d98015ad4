"""Benchmark: the next period's forecast rows, built alone vs cut from the whole dataset, side by side.

``gridcrit predict --period next`` needs the feature rows of one period, the one after the data. It
used to rebuild the whole asset x period dataset up to that period and keep its last period's rows
(**old**: ``build_dataset(store, level, period, end=nxt)`` then ``frame[period == nxt]``); it now
builds those rows alone (**new**: ``build_dataset(..., end=nxt, only_periods=[nxt])``). This script
times both on one synthetic twin store, checks the rows are identical (``assert_frame_equal``, exact:
columns, dtypes, values, order) and prints the ratio old / new.

Each build runs in a fresh child process, as ``gridcrit predict`` does (imports are not timed: the clock
starts at ``build_dataset``); the child reports its build time and ``ru_maxrss`` and pickles the rows for
the equality check. Old and new alternate (``--repeat`` times each, after one untimed warm-up of each
that brings the store's file into the OS cache); medians are compared. Threads are pinned in every
child: ``GRIDCRIT_THREADS`` = ``OMP_NUM_THREADS`` = ``--threads`` (default 1) and DuckDB's ``threads``
setting, which ``build_dataset`` takes from ``GRIDCRIT_THREADS`` (the child reads it back and reports it).
Store generation (``gridcrit synth`` + ``ingest``) is set-up, not measured.

    .venv/bin/python benchmarks/bench_forecast.py                          # small twin, transformer x month
    .venv/bin/python benchmarks/bench_forecast.py --scale chec --workdir /tmp/forecast_chec
    .venv/bin/python benchmarks/bench_forecast.py --store gridcrit.duckdb --levels transformer,circuit
Prints a table and the ratios, and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCALES = ("tiny", "small", "chec", "10x")

CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
import duckdb
from gridcrit.features.dataset import build_dataset
from gridcrit.runtime import default_threads
t1 = time.perf_counter()
store, level, period, nxt, way, out = sys.argv[1:7]
if way == "old":  # the whole dataset up to the next period, then that period's rows
    ds = build_dataset(store, level=level, period=period, end=nxt)
    rows = ds.frame[(ds.frame["period"] == nxt).to_numpy()].reset_index(drop=True)
else:  # the next period's rows alone
    ds = build_dataset(store, level=level, period=period, end=nxt, only_periods=[nxt])
    rows = ds.frame
t2 = time.perf_counter()
rows.to_pickle(out)
con = duckdb.connect(store, read_only=True)
con.execute(f"SET threads = {default_threads()}")  # what build_dataset sets on its connection
duck = con.execute("SELECT current_setting('threads')").fetchone()[0]
con.close()
print(json.dumps({"import_s": t1 - t0, "build_s": t2 - t1, "rows": len(rows), "dataset_rows": len(ds.frame),
                  "ru_maxrss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "duckdb_threads": int(duck), "steps": ds.card.get("timings_s", {})}))
"""


def make_store(scale: str, workdir: Path) -> Path:
    """The synthetic twin of ``scale`` ingested into ``workdir/twin_<scale>.duckdb`` (kept and reused)."""
    store = workdir / f"twin_{scale}.duckdb"
    if store.exists():
        return store
    from gridcrit.data.ingest import ingest
    from gridcrit.data.synth import synthesize

    twin = workdir / f"twin_{scale}"
    synthesize(twin, scale=scale, seed=0)
    ingest([twin], store)
    return store


def next_period(store: Path, period: str) -> str:
    """The period after the last event: what ``predict(period="next")`` forecasts."""
    from gridcrit.features.periods import parse_period, period_label
    from gridcrit.registry.predict import _last_event_label

    last, _ = _last_event_label(store, period)
    return str(period_label(parse_period(last, period) + 1, period)[0])


def measure(store: Path, level: str, period: str, nxt: str, way: str, out: Path, threads: int) -> dict:
    """One build in a fresh child process with pinned threads."""
    env = {**os.environ, "GRIDCRIT_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "OMP_WAIT_POLICY": "PASSIVE"}
    r = subprocess.run([sys.executable, "-c", CHILD, str(store), level, period, nxt, way, str(out)],
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{way} build failed on {store}:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def compare(store: Path, level: str, period: str, repeat: int, threads: int, tmp: Path) -> dict:
    """Warm-up, then ``repeat`` alternating old/new builds; the rows of the last two compared exactly."""
    import pandas as pd

    nxt = next_period(store, period)
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    for i in range(repeat + 1):  # i == 0: warm-up (OS file cache), not counted
        for way in ("old", "new") if i % 2 == 0 else ("new", "old"):
            r = measure(store, level, period, nxt, way, tmp / f"{level}_{period}_{way}.pkl", threads)
            if i:
                runs[way].append(r)
    old = pd.read_pickle(tmp / f"{level}_{period}_old.pkl")
    new = pd.read_pickle(tmp / f"{level}_{period}_new.pkl")
    pd.testing.assert_frame_equal(new, old, check_exact=True)  # identical or the benchmark stops here
    med = {w: statistics.median(r["build_s"] for r in rs) for w, rs in runs.items()}
    return {
        "next_period": nxt, "rows": len(new), "columns": new.shape[1], "identical": True,
        "dataset_rows_old": runs["old"][-1]["dataset_rows"],
        "old_s": [round(r["build_s"], 3) for r in runs["old"]],
        "new_s": [round(r["build_s"], 3) for r in runs["new"]],
        "old_median_s": round(med["old"], 3), "new_median_s": round(med["new"], 3),
        "ratio_old_over_new": round(med["old"] / med["new"], 2),
        "old_peak_rss_gib": round(max(r["ru_maxrss_gib"] for r in runs["old"]), 3),
        "new_peak_rss_gib": round(max(r["ru_maxrss_gib"] for r in runs["new"]), 3),
        "duckdb_threads": sorted({r["duckdb_threads"] for rs in runs.values() for r in rs}),
        "new_steps_s": runs["new"][-1]["steps"], "old_steps_s": runs["old"][-1]["steps"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="small", choices=SCALES, help="synthetic twin scale (default small)")
    ap.add_argument("--store", default=None, help="an existing store instead of generating the twin")
    ap.add_argument("--workdir", default=None, help="where the twin store is generated (kept and reused)")
    ap.add_argument("--levels", default="transformer", help="comma-separated levels (default transformer)")
    ap.add_argument("--periods", default="month", help="comma-separated month,quarter (default month)")
    ap.add_argument("--repeat", type=int, default=3, help="timed builds of each way (after one warm-up each)")
    ap.add_argument("--threads", type=int, default=1,
                    help="GRIDCRIT_THREADS = OMP_NUM_THREADS = DuckDB threads (default 1)")
    args = ap.parse_args()
    os.environ["GRIDCRIT_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(args.threads)  # set-up too
    load = os.getloadavg()[0]
    t = time.perf_counter()
    if args.store:
        store = Path(args.store)
        source = str(store)
    else:
        workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench_forecast_"))
        workdir.mkdir(parents=True, exist_ok=True)
        store = make_store(args.scale, workdir)
        source = f"twin {args.scale} (seed 0)"
    setup_s = time.perf_counter() - t
    print(f"store {store} ({source}), set-up {setup_s:.0f} s", flush=True)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_forecast_rows_") as tmp:
        for level in args.levels.split(","):
            for period in args.periods.split(","):
                r = compare(store, level, period, args.repeat, args.threads, Path(tmp))
                results[f"{level}_{period}"] = r
                print(f"[{level} x {period}] {r['next_period']}: old {r['old_median_s']:.2f} s, "
                      f"new {r['new_median_s']:.2f} s, x{r['ratio_old_over_new']:.1f}, rows identical",
                      flush=True)
    load_end = os.getloadavg()[0]
    print()
    duck = sorted({d for r in results.values() for d in r["duckdb_threads"]})
    print(f"next-period forecast rows, {source}; GRIDCRIT_THREADS = OMP_NUM_THREADS = {args.threads}, "
          f"DuckDB threads {duck}; cpus={os.cpu_count()}, load average {load:.1f} at start, "
          f"{load_end:.1f} at end (shared machine); medians of {args.repeat}")
    hdr = (f"{'level x period':>20} {'next':>8} {'rows':>8} {'full rows':>10} {'old s':>7} {'new s':>7} "
           f"{'old/new':>8} {'old RSS':>8} {'new RSS':>8}  equal")
    print(hdr)
    print("-" * len(hdr))
    for k, r in results.items():
        print(f"{k.replace('_', ' x '):>20} {r['next_period']:>8} {r['rows']:>8,} "
              f"{r['dataset_rows_old']:>10,} {r['old_median_s']:>7.2f} {r['new_median_s']:>7.2f} "
              f"{r['ratio_old_over_new']:>7.1f}x {r['old_peak_rss_gib']:>7.2f}G "
              f"{r['new_peak_rss_gib']:>7.2f}G  {'yes' if r['identical'] else 'NO'}")
    for k, r in results.items():
        print(f"  {k} old steps (s): {r['old_steps_s']}")
        print(f"  {k} new steps (s): {r['new_steps_s']}")
    summary = {"bench": "forecast_rows", "store": source, "threads": args.threads, "duckdb_threads": duck,
               "repeat": args.repeat, "load_avg_start": round(load, 2), "load_avg_end": round(load_end, 2),
               "setup_s": round(setup_s, 1)}
    for k, r in results.items():
        summary[k] = {key: r[key] for key in ("next_period", "rows", "dataset_rows_old", "old_median_s",
                                              "new_median_s", "ratio_old_over_new", "old_peak_rss_gib",
                                              "new_peak_rss_gib", "duckdb_threads", "identical")}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
