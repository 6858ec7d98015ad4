"""Scripted retraining scenario on the synthetic twin (issue 7, "Must show").

1. Generate 2019-01..2023-12 with the default hazard mix, ingest it, train a champion (transformer x
   month, SAIFI contribution) and register it as champion.
2. Generate 2024-01..2024-06 of the SAME utility (same seed) with vegetation faults doubled
   (``hazards={"vegetation": 2.0}``: a rainy season).
3. ``retrain`` with the new folder (fine-tune): drift report, champion vs challenger on the held-out
   2024 periods, promotion if better by the margin.
4. ``rollback``: the previous champion serves again with identical predictions.

Prints what happened step by step and ends with ONE JSON line of figures. Threads pinned to 1.

    .venv/bin/python benchmarks/scenario_retrain.py --scale small
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

import numpy as np

# How the vegetation hazard reaches the dataset's features. truth.json says the vegetation driver acts
# through redmt.LENGTH (km of line downstream), the vegetation records near the lines and the day's
# rain; the dataset names those features topo_*km*, veg_* and rain_*.
DRIVING = ("veg", "km", "rain")


def _ranks(names: list[str], keys: tuple[str, ...] = DRIVING) -> dict[str, int]:
    """1-based rank of each feature whose name mentions one of ``keys``."""
    return {n: i + 1 for i, n in enumerate(names) if any(k in n.lower() for k in keys)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="small")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="xgboost", help="zoo model name (xgboost, lightgbm, tabnet)")
    ap.add_argument("--target", default="count",
                    help="count (Poisson) by default: per switch-month SAIFI is dominated by a few large events")
    ap.add_argument("--level", default="switch",
                    help="asset level; vegetation faults are cleared by switches/fuses, so 'switch' sees them")
    ap.add_argument("--task", default="poisson")
    ap.add_argument("--margin", type=float, default=0.01)
    ap.add_argument("--n-estimators", type=int, default=300)
    ap.add_argument("--workdir", type=Path, default=None, help="keep files here (default: a temp dir, removed)")
    args = ap.parse_args()

    from gridcrit.runtime import configure_threads

    threads = configure_threads()
    from gridcrit.data.ingest import ingest
    from gridcrit.data.synth import synthesize
    from gridcrit.models.zoo import make_model
    from gridcrit.registry.predict import predict
    from gridcrit.registry.registry import Registry
    from gridcrit.registry.retrain import retrain, summary_text, train_and_register

    work = args.workdir or Path(tempfile.mkdtemp(prefix="gridcrit_scenario_"))
    if args.workdir and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    store = work / "gridcrit.duckdb"
    t: dict[str, float] = {}

    def tick(name: str, t0: float) -> None:
        t[name] = round(time.perf_counter() - t0, 2)
        print(f"[{t[name]:7.1f} s] {name}", flush=True)

    t0 = time.perf_counter()
    synthesize(work / "base", scale=args.scale, seed=args.seed, start="2019-01", end="2023-12")
    tick("synth 2019-01..2023-12", t0)
    t0 = time.perf_counter()
    ingest([work / "base"], store)
    tick("ingest base", t0)

    t0 = time.perf_counter()
    params = {"n_estimators": args.n_estimators} if args.model in ("xgboost", "lightgbm") else {}
    model = make_model(args.model, task=args.task, **params)
    v1 = train_and_register(store, model, name=args.model, task=args.task, target=args.target,
                            level=args.level, period="month", notes="scenario champion")
    tick(f"champion {v1} trained and promoted", t0)
    reg = Registry(store)
    before_2023 = predict(store, v1, "2023-12").frame

    t0 = time.perf_counter()
    synthesize(work / "new", scale=args.scale, seed=args.seed, start="2024-01", end="2024-06",
               hazards={"vegetation": 2.0})
    tick("synth 2024-01..2024-06, vegetation x2", t0)

    t0 = time.perf_counter()
    r = retrain(store, [work / "new"], mode="finetune", margin=args.margin, progress=sys.stderr.isatty())
    tick("retrain", t0)
    print(summary_text(r, "en"))
    preds_v1_2024 = predict(store, v1, "2024-06").frame

    n_feat = len(r.drift["ranked_features"])
    psi_rank = _ranks(r.drift["ranked_features"])
    rel_rank = _ranks(r.drift["ranked_relation"])
    drv_rank = _ranks([f["feature"] for f in r.drift.get("driver_shift", [])])
    print(f"vegetation-hazard features among {n_feat}: PSI ranks {psi_rank}; association-change ranks "
          f"{rel_rank}; driver-shift ranks {drv_rank}")
    print(f"target drift: {json.dumps(r.drift['targets'], default=str)}")

    t0 = time.perf_counter()
    rb = reg.rollback() if r.promoted else None
    tick("rollback" if rb else "no rollback (not promoted)", t0)
    served = reg.champion(r.slot)["version"]
    after_2024 = predict(store, "champion", "2024-06", slot=r.slot).frame
    after_2023 = predict(store, "champion", "2023-12", slot=r.slot).frame
    same_2024 = bool(np.array_equal(after_2024[f"pred_{args.target}"].to_numpy(),
                                    preds_v1_2024[f"pred_{args.target}"].to_numpy())
                     and list(after_2024["asset_id"]) == list(preds_v1_2024["asset_id"]))
    same_2023 = bool(np.array_equal(after_2023[f"pred_{args.target}"].to_numpy(),
                                    before_2023[f"pred_{args.target}"].to_numpy()))
    print(f"after rollback champion = {served}; predictions identical to {v1}: 2024-06 {same_2024}, "
          f"2023-12 (before vs after the retrain) {same_2023}")

    figures = {
        "scenario": "retrain", "scale": args.scale, "level": args.level, "seed": args.seed, "model": args.model, "target": args.target,
        "threads": threads, "champion": v1, "challenger": r.challenger, "promoted": r.promoted, "mode": r.mode,
        "primary_metric": r.primary_metric, "improvement": round(r.improvement, 4), "margin": args.margin,
        "champion_eval": {k: round(v, 6) for k, v in r.metrics["champion"].items() if isinstance(v, float)},
        "challenger_eval": {k: round(v, 6) for k, v in r.metrics["challenger"].items() if isinstance(v, float)},
        "eval_periods": r.eval_periods, "drifted_features": r.drift["drifted"][:10],
        "n_features": n_feat, "veg_rank_psi": psi_rank, "veg_rank_relation": rel_rank, "veg_rank_driver_shift": drv_rank,
        "target_drift": {k: v.get("level") for k, v in r.drift["targets"].items()},
        "class_balance_level": (r.drift.get("class_balance") or {}).get("level"),
        "rollback_champion": served, "rollback_identical_2024": same_2024, "rollback_identical_2023": same_2023,
        "seconds": t, "report_dir": r.report_dir if args.workdir else None,
    }
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
