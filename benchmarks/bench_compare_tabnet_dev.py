"""Model settings for the compare (TabNet by default), chosen on validation windows strictly before its test folds.

The full compare (``bench_compare.py``) tests on 3 folds of 6 months from 2023-01. This script keeps only
the periods before 2023-01 and runs the same rolling-origin CV (2 folds of 6 months: 2022-01..06 and
2022-07..12) for TabNet configurations given as JSON, over several model seeds, beside the historical-mean
baseline. No test-fold month is read. 1 torch thread (pinned); ends with one JSON line.

    .venv/bin/python benchmarks/bench_compare_tabnet_dev.py \
        '{"tabnet_params": {"virtual_batch_size": 256}}' \
        '{"tabnet_params": {"virtual_batch_size": 256, "n_steps": 1}}' --seeds 0,1,2

Each configuration is merged over ``bench_compare.BENCH_PARAMS["tabnet"]`` (without its ``n_steps``);
``--model ft_transformer`` (or any zoo model) merges over that model's benchmark parameters instead::

    .venv/bin/python benchmarks/bench_compare_tabnet_dev.py --model ft_transformer '{}' '{"time_budget": 120}'
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np

from bench_compare import BENCH_PARAMS, dataset
from gridcrit.features.dataset import read_dataset
from gridcrit.models.compare import compare_models


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("configs", nargs="+", help="JSON objects merged over the benchmark's parameters of --model")
    ap.add_argument("--model", default="tabnet", help="zoo model to tune (default tabnet)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--before", default="2023-01", help="first test period of the full compare")
    ap.add_argument("--offset", default="none", choices=["none", "history"], help="as bench_compare.py --offset")
    a = ap.parse_args()
    ds = read_dataset(dataset("transformer", None))
    frame = ds.frame[ds.frame.period < a.before]
    name = a.model
    base = json.loads(json.dumps(BENCH_PARAMS.get(name, {})))
    if name == "tabnet":
        base["tabnet_params"].pop("n_steps", None)
    out = []
    for cfg_text in a.configs:
        cfg = json.loads(cfg_text)
        params = {**base, **cfg}
        if name == "tabnet":
            params["tabnet_params"] = {**base["tabnet_params"], **cfg.get("tabnet_params", {})}
        recalls, baseline = [], None
        t0 = time.perf_counter()
        for seed in (int(s) for s in a.seeds.split(",")):
            res = compare_models(frame, ds.feature_columns, "saifi", [name], task="poisson", n_folds=2,
                                 test_periods=6, model_params={name: {**params, "random_state": seed}},
                                 categorical=ds.categorical_columns, n_jobs=1, progress=False,
                                 offset=None if a.offset == "none" else a.offset)
            m = res.summary["models"]
            recalls.append(m[name]["top10_recall"]["mean"])
            baseline = m["historical_mean"]["top10_recall"]["mean"]
        r = {"config": cfg, "top10_recall_per_seed": [round(x, 4) for x in recalls],
             "top10_recall_mean": round(float(np.mean(recalls)), 4), "baseline": round(baseline, 4),
             "seconds": round(time.perf_counter() - t0, 1)}
        out.append(r)
        print(f"{json.dumps(cfg)}: top-10% recall {r['top10_recall_mean']:.4f} per seed {r['top10_recall_per_seed']}"
              f" (historical mean {r['baseline']:.4f}) {r['seconds']:.0f}s", flush=True)
    print(json.dumps({"bench": "compare_tabnet_dev", "model": name, "threads": 1, "before": a.before, "results": out}))


if __name__ == "__main__":
    main()
