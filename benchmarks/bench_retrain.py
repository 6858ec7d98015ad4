"""Fine-tuning vs training from scratch: time and quality, side by side in one run.

Goal (issue 7): fine-tuning takes <= 30 % of the time of training from scratch at ``chec`` scale for a
result within 1 % of it.

Setup: the twin 2019-01..2023-12 (default hazards) + 2024-01..2024-06 (vegetation x2), ingested
together; transformer x month dataset built once; for each model kind a champion is trained on
periods <= 2023-12 (early stopping on 2023-12) and registered. Then ``retrain`` runs twice from that
champion on the same data: ``finetune`` (continue the champion's booster / weights on 2024-01..04)
and ``scratch`` (same params, trained on 2019-01..2024-04, early stopping on 2024-04). Both are
scored on the held-out 2024-05..06. Reported per model: fit seconds of each, their ratio, the
primary metric (Poisson deviance for counts, RMSE for regression) of each and the relative gap, plus Spearman and top-10 % recall.

    .venv/bin/python benchmarks/bench_retrain.py --scale chec --models xgboost,lightgbm

Threads: 1 (GRIDCRIT_THREADS=1); the machine may be shared: ratios are measured back to back.
Ends with ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRIDCRIT_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


METRICS = ("rmse", "mae", "poisson_deviance", "spearman", "top10_recall")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="chec")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", default="xgboost,lightgbm")
    ap.add_argument("--target", default="count")
    ap.add_argument("--task", default="poisson")
    ap.add_argument("--level", default="switch",
                    help="asset level; vegetation faults are cleared by switches/fuses, so 'switch' sees them")
    ap.add_argument("--n-estimators", type=int, default=600)
    ap.add_argument("--eval-periods", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()

    from gridcrit.runtime import configure_threads

    threads = configure_threads()
    import psutil

    from gridcrit.data.ingest import ingest
    from gridcrit.data.synth import synthesize
    from gridcrit.features.dataset import build_dataset
    from gridcrit.models.zoo import make_model
    from gridcrit.registry.retrain import retrain, train_and_register

    work = args.workdir or Path(tempfile.mkdtemp(prefix="gridcrit_bench_retrain_"))
    work.mkdir(parents=True, exist_ok=True)
    store = work / "gridcrit.duckdb"
    setup: dict[str, float] = {}
    t0 = time.perf_counter()
    synthesize(work / "base", scale=args.scale, seed=args.seed, start="2019-01", end="2023-12")
    synthesize(work / "new", scale=args.scale, seed=args.seed, start="2024-01", end="2024-06",
               hazards={"vegetation": 2.0})
    setup["synth_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    ingest([work / "base", work / "new"], store)
    setup["ingest_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    ds = build_dataset(store, level=args.level, period="month", risk_fit_until="2023-12")
    setup["dataset_s"] = round(time.perf_counter() - t0, 1)
    setup["rows"] = len(ds.frame)
    setup["features"] = len(ds.feature_columns)
    print(f"setup: {setup}", flush=True)

    def cached(store_, level, period):
        return ds

    results = {}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        params = {"n_estimators": args.n_estimators} if name in ("xgboost", "lightgbm") else {}
        t0 = time.perf_counter()
        v = train_and_register(store, make_model(name, task=args.task, **params), name=name, task=args.task,
                               target=args.target, level=args.level, until="2023-12", dataset=ds, promote=True)
        champion_s = time.perf_counter() - t0
        out = {"champion_fit_s": round(champion_s, 1)}
        for mode in ("finetune", "scratch"):
            r = retrain(store, None, base=v, mode=mode, margin=0.0, eval_periods=args.eval_periods,
                        dataset_fn=cached)
            out[mode] = {"fit_s": round(r.timings_s[f"train_{mode}"], 2), **{
                k: round(r.metrics["challenger"][k], 6) for k in METRICS}}
            out["champion_eval"] = {k: round(r.metrics["champion"][k], 6) for k in METRICS}
            out["primary_metric"] = r.primary_metric
            out["eval_periods"] = r.eval_periods
            # keep the original champion serving for the next mode
            from gridcrit.registry.registry import Registry

            reg = Registry(store)
            if reg.champion(r.slot)["version"] != v:
                reg.rollback(r.slot)
        ft, sc = out["finetune"], out["scratch"]
        out["time_ratio"] = round(ft["fit_s"] / sc["fit_s"], 3) if sc["fit_s"] else None
        pm = out["primary_metric"]  # lower is better for regression / poisson
        out["quality_gap_rel"] = round((ft[pm] - sc[pm]) / sc[pm], 4)
        out["meets_goal"] = bool(out["time_ratio"] is not None and out["time_ratio"] <= 0.30
                                 and out["quality_gap_rel"] <= 0.01)
        results[name] = out
        print(f"{name}: {json.dumps(out)}", flush=True)

    print()
    print(f"{'model':<10} {'scratch s':>10} {'finetune s':>10} {'ratio':>7} {'metric':>17} {'scratch':>9} "
          f"{'finetune':>9} {'gap':>7} {'champion':>9} {'goal':>5}")
    for name, o in results.items():
        pm = o["primary_metric"]
        print(f"{name:<10} {o['scratch']['fit_s']:>10.1f} {o['finetune']['fit_s']:>10.1f} {o['time_ratio']:>7.3f} "
              f"{pm:>17} {o['scratch'][pm]:>9.5g} {o['finetune'][pm]:>9.5g} {o['quality_gap_rel']:>+7.2%} "
              f"{o['champion_eval'][pm]:>9.5g} {'yes' if o['meets_goal'] else 'no':>5}")
    peak = psutil.Process().memory_info().rss / 2**30
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"bench": "retrain", "scale": args.scale, "level": args.level, "threads": threads, "cpu_count": os.cpu_count(),
                      "load_avg_1m": round(os.getloadavg()[0], 2), "rss_gib_end": round(peak, 2),
                      **setup, "models": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
