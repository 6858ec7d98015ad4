"""Latency of the dashboard's REST routes: first call (cold: builds datasets/topology) vs. cached.

Usage: ``python benchmarks/bench_app.py [--scale tiny|small] [--store PATH]``. Builds a synthetic
utility (unless --store is given) and registers a small XGBoost SAIFI champion on a copy, then times
each route in-process with FastAPI's TestClient. Threads pinned to 1. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRIDCRIT_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROUTES = [
    ("GET", "/api/store", None),
    ("GET", "/api/indices?by=system&period=year", None),
    ("GET", "/api/indices?by=circuit&period=month", None),
    ("GET", "/api/map/assets", None),
    ("GET", "/api/predict?limit=100", None),
    ("GET", "/api/explain?k=10", None),
    ("POST", "/api/ask", {"question": "¿Cuántas interrupciones hubo en 2023?", "lang": "es"}),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="small")
    ap.add_argument("--store", type=Path, default=None)
    args = ap.parse_args()
    from fastapi.testclient import TestClient

    from gridcrit.app.api import create_app
    from gridcrit.runtime import configure_threads

    configure_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="bench_app_"))
    try:
        store = tmp / "gridcrit.duckdb"
        if args.store:
            shutil.copy(args.store, store)
        else:
            from gridcrit.data.ingest import ingest
            from gridcrit.data.synth import synthesize

            synthesize(tmp / "twin", scale=args.scale, seed=0)
            ingest([tmp / "twin"], store)
        from gridcrit.registry.native import NativeGBDT
        from gridcrit.registry.retrain import train_and_register

        train_and_register(store, NativeGBDT(n_estimators=40, max_depth=4), name="xgboost", task="regression",
                           target="saifi")
        client = TestClient(create_app(store))
        res = {}
        print(f"{'route':<45} {'cold s':>8} {'cached s':>9} {'ratio':>7}")
        for method, path, body in ROUTES:
            times = []
            for _ in range(2):
                t0 = time.perf_counter()
                r = client.post(path, json=body) if method == "POST" else client.get(path)
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200, (path, r.text[:300])
            cold, warm = times
            res[path] = {"cold_s": round(cold, 4), "cached_s": round(warm, 4), "bytes": len(r.content)}
            print(f"{method + ' ' + path:<45} {cold:8.3f} {warm:9.4f} {cold / max(warm, 1e-9):7.0f}x")
        print(json.dumps({"bench": "app_routes", "scale": args.scale if not args.store else str(args.store),
                          "threads": 1, "routes": res}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
