"""gridcrit TabNet vs pytorch-tabnet 4.1.0, side by side in one run, same data, same threads.

Run in the benchmark venv (pytorch-tabnet is never a gridcrit dependency)::

    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -r benchmarks/requirements-bench.txt
    .venv-bench/bin/pip install -e . --no-deps
    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/bench_tabnet_vs_reference.py [--quick] [--threads 1]

Sections (each prints a table; the last line of output is one JSON object with all figures):

1. **throughput** — identical hyperparameters (n_d = n_a = 16, n_steps, γ, λ_sparse, momentum,
   lr, no schedule, batch/virtual batch), fixed epochs, no eval set; seconds per epoch of the
   whole ``fit`` call (all overheads included) → training rows/s, best of ``--repeats``
   interleaved runs. Both process CPU time (robust when the shared machine is overloaded: with one
   thread it is the work done) and wall time are reported; the ratio uses CPU time.
2. **explain** — ``explain`` on 1M rows (Syn4, 5 steps) and on 100k × 300 features: seconds and
   peak extra RSS beyond the returned arrays, each run in a fresh subprocess so peaks are clean.
3. **auc** — Syn4–6, seeds 0/1/2, train/valid/test drawn with different seeds, early stopping
   (patience 10) on the valid set within ``--auc-epochs`` (100; 200 is pytorch-tabnet's default): (a) both with identical hyperparameters
   (constant lr 0.02), (b) ours with its recipe (entmax-1.5 masks, one-cycle lr schedule over the same epoch budget,
   best validation epoch restored; see docs/tabnet.md), (c) optionally a seed ensemble of the recipe
   (``ours_ens``) and one recipe model distilled from it (``ours_distill``). Mean and spread (max − min), on each seed's own
   10k test set and on one 50k test set shared by all seeds (whose spread is the training seed's
   alone); the Bayes-optimal score's AUC on the same test sets says how much spread the test sets
   alone bring. ``--auc-seeds 0,1,…,9`` runs more seeds; with more than two, the per-seed (paired:
   same data) difference of ours minus pytorch-tabnet is printed with its 95 % bootstrap interval
   (``gridcrit.models.metrics.paired_diff_ci``), which says whether a gap in the 3-seed means is more
   than seed noise.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from gridcrit.models.metrics import paired_diff_ci
from gridcrit.models.synthetic_benchmarks import make_syn, true_log_odds
from gridcrit.models.tabnet import TabNetClassifier

ARCH = {"n_d": 16, "n_a": 16, "gamma": 1.5, "n_independent": 2, "n_shared": 2, "momentum": 0.02}


def ours(params: dict, threads: int, seed: int, **extra) -> TabNetClassifier:
    return TabNetClassifier(
        n_d=params["n_d"], n_a=params["n_a"], n_steps=params["n_steps"], gamma=params["gamma"],
        n_independent=params["n_independent"], n_shared=params["n_shared"], momentum=params["momentum"],
        lambda_sparse=params["lambda_sparse"], batch_size=params["batch_size"],
        virtual_batch_size=params["virtual_batch_size"], max_epochs=params["max_epochs"],
        patience=params.get("patience", 0), lr=params["lr"], lr_schedule=extra.pop("lr_schedule", None),
        mask_type=params.get("mask_type", "sparsemax"), n_threads=threads, seed=seed, **extra,
    )


def reference(params: dict, seed: int):
    from pytorch_tabnet.tab_model import TabNetClassifier as RefClassifier

    return RefClassifier(
        n_d=params["n_d"], n_a=params["n_a"], n_steps=params["n_steps"], gamma=params["gamma"],
        n_independent=params["n_independent"], n_shared=params["n_shared"], momentum=params["momentum"],
        lambda_sparse=params["lambda_sparse"], optimizer_params={"lr": params["lr"]},
        mask_type=params.get("mask_type", "sparsemax"), seed=seed, verbose=0,
    )


def fit_reference(model, X, y, params: dict, eval_set=None):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(
            X, y, eval_set=eval_set, eval_metric=["auc"] if eval_set else None, max_epochs=params["max_epochs"],
            patience=params.get("patience", 0) if eval_set else 0, batch_size=params["batch_size"],
            virtual_batch_size=params["virtual_batch_size"], drop_last=True,
        )
    return model


# ---------------------------------------------------------------------------------------------
def bench_throughput(args) -> list[dict]:
    rows = []
    configs = [
        ("Syn4 b1024/v128 5 steps", "Syn4", {**ARCH, "n_steps": 5, "lambda_sparse": 0.01, "batch_size": 1024, "virtual_batch_size": 128}),
        ("Syn2 b3000/v100 4 steps (paper)", "Syn2", {**ARCH, "n_steps": 4, "gamma": 2.0, "lambda_sparse": 0.01, "momentum": 0.3,
                                                     "batch_size": 3000, "virtual_batch_size": 100}),
    ]
    epochs = 2 if args.quick else 5
    # warm-up (imports, allocator, first-call dispatch) so neither side pays it in the timings
    Xw, yw, _ = make_syn("Syn1", 2048, 0)
    pw = {**configs[0][2], "lr": 0.02, "max_epochs": 1}
    ours(pw, args.threads, 0).fit(Xw, yw)
    torch.set_num_threads(args.threads)
    fit_reference(reference(pw, 0), Xw, yw, pw)
    for label, name, p in configs:
        p = {**p, "lr": 0.02, "max_epochs": epochs}
        X, y, _ = make_syn(name, 10_000, 0)
        load_before = os.getloadavg()[0]
        best = {"ours": np.inf, "ref": np.inf}
        best_wall = {"ours": np.inf, "ref": np.inf}
        for _ in range(args.repeats):
            for impl in ("ref", "ours"):
                t, c = time.perf_counter(), time.process_time()
                if impl == "ours":
                    ours(p, args.threads, 0).fit(X, y)
                else:
                    torch.set_num_threads(args.threads)
                    fit_reference(reference(p, 0), X, y, p)
                best[impl] = min(best[impl], (time.process_time() - c) / epochs)
                best_wall[impl] = min(best_wall[impl], (time.perf_counter() - t) / epochs)
        used = (10_000 // p["batch_size"]) * p["batch_size"]
        r = {
            "config": label, "ref_cpu_s_per_epoch": best["ref"], "ours_cpu_s_per_epoch": best["ours"],
            "ref_wall_s_per_epoch": best_wall["ref"], "ours_wall_s_per_epoch": best_wall["ours"],
            "ref_rows_per_cpu_s": used / best["ref"], "ours_rows_per_cpu_s": used / best["ours"],
            "speedup_cpu": best["ref"] / best["ours"], "speedup_wall": best_wall["ref"] / best_wall["ours"],
            "load_before": load_before, "load_after": os.getloadavg()[0],
        }
        rows.append(r)
        print(f"{label:34s} CPU s/epoch: ref {r['ref_cpu_s_per_epoch']:.3f} ({r['ref_rows_per_cpu_s']:.0f} rows/s)  "
              f"ours {r['ours_cpu_s_per_epoch']:.3f} ({r['ours_rows_per_cpu_s']:.0f} rows/s)  ×{r['speedup_cpu']:.2f} | "
              f"wall s/epoch: ref {r['ref_wall_s_per_epoch']:.3f} ours {r['ours_wall_s_per_epoch']:.3f} "
              f"×{r['speedup_wall']:.2f} | load {r['load_before']:.1f}→{r['load_after']:.1f}", flush=True)
    print("throughput goal ≥ 3× (CPU time): " + ", ".join(
        f"{r['config'].split()[0]} ×{r['speedup_cpu']:.2f} {'met' if r['speedup_cpu'] >= 3 else 'NOT met'}" for r in rows
    ), flush=True)
    return rows


# ---------------------------------------------------------------------------------------------
def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def explain_worker(impl: str, n: int, f: int, threads: int) -> None:
    """Child process: fit a small model, then time ``explain`` on n × f rows; prints one JSON line."""
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    if f == 11:
        Xtr, ytr, _ = make_syn("Syn4", 4096, 0)
        X = rng.standard_normal((n, f), dtype=np.float32)
        steps = 5
    else:
        Xtr = rng.standard_normal((4096, f), dtype=np.float32)
        ytr = (Xtr[:, 0] > 0).astype(int)
        X = rng.standard_normal((n, f), dtype=np.float32)
        steps = 3
    p = {**ARCH, "n_steps": steps, "lambda_sparse": 0.01, "batch_size": 1024, "virtual_batch_size": 128,
         "lr": 0.02, "max_epochs": 1}
    if impl == "ours":
        model = ours(p, threads, 0).fit(Xtr, ytr)
    else:
        model = fit_reference(reference(p, 0), Xtr, ytr, p)
    base = _rss()
    t = time.perf_counter()
    if impl == "ours":
        imp, masks = model.explain(X)
        out_bytes = imp.nbytes + masks.nbytes
    else:
        imp, masks = model.explain(X)
        out_bytes = imp.nbytes + sum(m.nbytes for m in masks.values())
    secs = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(json.dumps({"impl": impl, "n": n, "f": f, "seconds": secs, "out_mb": out_bytes / 2**20,
                      "peak_extra_mb": (peak - base) / 2**20, "extra_beyond_output_mb": (peak - base - out_bytes) / 2**20}))


def bench_explain(args) -> list[dict]:
    rows = []
    cases = [(args.explain_rows, 11), (args.explain_rows // 10, 300)]
    for n, f in cases:
        for impl in ("ref", "ours"):
            out = subprocess.run(
                [sys.executable, __file__, "--explain-worker", impl, str(n), str(f), str(args.threads)],
                capture_output=True, text=True, check=False,
            )
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
            if not lines:
                print(out.stderr[-2000:])
                continue
            r = json.loads(lines[-1])
            rows.append(r)
            print(f"explain {impl:4s} {n}×{f}: {r['seconds']:.2f} s, output {r['out_mb']:.0f} MB, "
                  f"peak extra RSS {r['peak_extra_mb']:.0f} MB ({r['extra_beyond_output_mb']:.0f} MB beyond output)", flush=True)
    return rows


# ---------------------------------------------------------------------------------------------
def _fit_auc_model(impl: str, base: dict, seed: int, threads: int, X, y, valid, members: int = 5,
                   cache: dict | None = None):
    """One fit of the AUC section: pytorch-tabnet, ours with identical hyperparameters, our recipe,
    (``ours_ens``) a seed ensemble of ``members`` recipe models (member i seeded seed·100 + i), or
    (``ours_distill``) ONE recipe model distilled from that ensemble (its probabilities and per-row
    importances on the training rows; seeded seed·100 + 50). ``cache`` (one per seed and data set) lets
    ``ours_ens`` and ``ours_distill`` share the ensemble; the distillation's time is its own fit plus the
    ensemble's."""
    torch.set_num_threads(threads)
    if impl == "ref":
        return fit_reference(reference(base, seed), X, y, base, eval_set=[valid])
    if impl == "ours_same":
        return ours(base, threads, seed).fit(X, y, eval_set=[valid])
    recipe = {**base, **RECIPE, "max_epochs": base["max_epochs"], "patience": base["max_epochs"]}
    if impl in ("ours_ens", "ours_distill"):
        from gridcrit.models.tabnet.ensemble import TabNetEnsembleClassifier

        cache = {} if cache is None else cache
        if "ens" not in cache:
            t = time.perf_counter()
            est = ours(recipe, threads, seed, lr_schedule="onecycle")
            cache["ens"] = TabNetEnsembleClassifier(est, n_members=members, seed=seed).fit(X, y, eval_set=[valid])
            cache["ens_s"] = time.perf_counter() - t
        if impl == "ours_ens":
            return cache["ens"]
        return cache["ens"].distill(X, y, eval_set=[valid])
    return ours(recipe, threads, seed, lr_schedule="onecycle").fit(X, y, eval_set=[valid])


def bench_auc(args) -> dict:
    names = ["Syn4"] if args.quick else args.auc_datasets.split(",")
    seeds = [0] if args.quick else [int(x) for x in args.auc_seeds.split(",")]
    base = {**ARCH, "lambda_sparse": 0.01, "n_steps": 5, "batch_size": 1024, "virtual_batch_size": 128, "lr": 0.02,
            "max_epochs": 30 if args.quick else args.auc_epochs, "patience": 10}
    results: dict = {}
    impls = args.auc_impls.split(",")
    for name in names:
        res: dict[str, list] = {k: [] for impl in ("ref", "ours_same", "ours_recipe", "ours_ens", "ours_distill")
                                for k in (impl, impl + "_s", impl + "_common")}
        # one large test set shared by every seed: its spread is the training seed's alone (each seed's own
        # 10k test set adds sampling noise that no model removes; the Bayes score's spread measures it)
        Xc, yc, _ = make_syn(name, COMMON_TEST_ROWS, COMMON_TEST_SEED)
        bayes = []
        for seed in seeds:
            X, y, _ = make_syn(name, 10_000, seed)
            Xv, yv, _ = make_syn(name, 10_000, 100 + seed)
            Xt, yt, _ = make_syn(name, 10_000, 1000 + seed)
            bayes.append(roc_auc_score(yt, true_log_odds(name, Xt)))
            line = f"{name} seed {seed} (Bayes {bayes[-1]:.4f}):"
            cache: dict = {}
            for impl in impls:
                t = time.perf_counter()
                had_ensemble = "ens" in cache
                m = _fit_auc_model(impl, base, seed, args.threads, X, y, (Xv, yv), args.auc_members, cache)
                shared = had_ensemble and impl in ("ours_ens", "ours_distill")  # the ensemble trained earlier
                res[impl + "_s"].append(time.perf_counter() - t + (cache["ens_s"] if shared else 0.0))
                res[impl].append(roc_auc_score(yt, m.predict_proba(Xt)[:, 1]))
                res[impl + "_common"].append(roc_auc_score(yc, m.predict_proba(Xc)[:, 1]))
                line += f"  {impl} {res[impl][-1]:.4f} / common {res[impl + '_common'][-1]:.4f} ({res[impl + '_s'][-1]:.0f} s)"
            print(line, flush=True)
        summary = {k: {"mean": float(np.mean(v)), "spread": float(np.ptp(v)), "values": [round(x, 4) for x in v]}
                   for k, v in res.items() if v}
        summary["bayes_per_seed_test"] = {"mean": float(np.mean(bayes)), "spread": float(np.ptp(bayes)),
                                          "values": [round(x, 4) for x in bayes]}
        summary["bayes_common_test"] = float(roc_auc_score(yc, true_log_odds(name, Xc)))
        results[name] = summary
        print(f"{name}: mean AUC (spread max-min), per-seed test sets [Bayes {summary['bayes_per_seed_test']['mean']:.4f}"
              f" ({summary['bayes_per_seed_test']['spread']:.4f})] " + " | ".join(
                  f"{impl} {summary[impl]['mean']:.4f} ({summary[impl]['spread']:.4f})" for impl in impls), flush=True)
        print(f"{name}: mean AUC (spread max-min), common {COMMON_TEST_ROWS // 1000}k test set [Bayes "
              f"{summary['bayes_common_test']:.4f}] " + " | ".join(
                  f"{impl} {summary[impl + '_common']['mean']:.4f} ({summary[impl + '_common']['spread']:.4f})"
                  for impl in impls), flush=True)
        if "ref" in impls and len(seeds) > 1:
            for impl in (i for i in impls if i != "ref"):
                _compare_with_reference(name, impl, summary, res)
    return results


def _compare_with_reference(name: str, impl: str, summary: dict, res: dict[str, list]) -> None:
    """Print (and add to ``summary``) ``impl`` against pytorch-tabnet: the issue's bar (mean not lower,
    spread max − min at most half) on both test-set views and, with 3+ seeds, the per-seed difference
    (paired: the same data for both fits of a seed) with its bootstrap interval, which says whether a
    gap in the means is more than seed noise."""
    verdicts = []
    for view, suffix in (("own test sets", ""), ("shared test set", "_common")):
        mine, ref = summary[impl + suffix], summary["ref" + suffix]
        ok_mean, ok_spread = mine["mean"] >= ref["mean"], mine["spread"] <= ref["spread"] / 2
        verdicts.append(f"{view}: mean {'met' if ok_mean else 'NOT met'}, spread ≤ ½ "
                        f"{'met' if ok_spread else 'NOT met'} ({mine['spread']:.4f} vs {ref['spread']:.4f})")
    mine, ref = np.array(res[impl]), np.array(res["ref"])  # per-seed AUCs on the seeds' own test sets
    print(f"{name} {impl} vs ref over {len(mine)} seeds — " + "; ".join(verdicts), flush=True)
    if len(mine) > 2:
        mean, lo, hi = paired_diff_ci(mine, ref)
        summary[f"{impl}_minus_ref"] = {"mean": mean, "ci95": [lo, hi], "wins": int((mine > ref).sum())}
        print(f"{name}: {impl} − ref per seed (paired, own test sets): {mean:+.4f} [95 % bootstrap {lo:+.4f}, "
              f"{hi:+.4f}], {impl} ahead on {(mine > ref).sum()} of {len(mine)} seeds; sd over seeds "
              f"{mine.std(ddof=1):.4f} vs {ref.std(ddof=1):.4f}", flush=True)


COMMON_TEST_ROWS, COMMON_TEST_SEED = 50_000, 7_777


# our recipe for Syn4–6 (docs/tabnet.md): same architecture and epoch budget, entmax-1.5 masks,
# one-cycle lr schedule, no early stop (the schedule needs its tail), best validation epoch restored
RECIPE = {"lr": 0.02, "mask_type": "entmax"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("GRIDCRIT_THREADS", "1")))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--sections", default="throughput,explain,auc")
    ap.add_argument("--explain-rows", type=int, default=1_000_000, help="rows for the 11-feature explain (÷10 for 300 features)")
    ap.add_argument("--auc-datasets", default="Syn4,Syn5,Syn6")
    ap.add_argument("--auc-epochs", type=int, default=100)
    ap.add_argument("--auc-seeds", default="0,1,2", help="training seeds (data seed s, validation 100+s, test 1000+s)")
    ap.add_argument("--auc-members", type=int, default=5, help="members of the ours_ens seed ensemble")
    ap.add_argument("--auc-impls", default="ref,ours_same,ours_recipe",
                    help="which fits of the AUC section to run: ref, ours_same, ours_recipe, ours_ens (a seed "
                         "ensemble of --auc-members recipe models), ours_distill (one recipe model distilled from "
                         "that ensemble, trained once for both); pytorch-tabnet is deterministic with 1 thread, "
                         "so its AUCs can be taken from an earlier run of the same seeds")
    ap.add_argument("--explain-worker", nargs=4, metavar=("IMPL", "N", "F", "THREADS"))
    args = ap.parse_args()
    if args.explain_worker:
        impl, n, f, th = args.explain_worker
        explain_worker(impl, int(n), int(f), int(th))
        return
    torch.set_num_threads(args.threads)
    import pytorch_tabnet

    from gridcrit.models.tabnet import native

    kernels = "compiled" if native.kernels() is not None else "pytorch"
    print(f"pytorch-tabnet {getattr(pytorch_tabnet, '__version__', '4.1.0')} | torch {torch.__version__} | "
          f"threads {args.threads} | cpus {os.cpu_count()} | gridcrit GLU kernels {kernels} | "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    out: dict = {"threads": args.threads, "quick": args.quick, "kernels": kernels, "load_at_start": os.getloadavg()[0]}
    sections = args.sections.split(",")
    if "throughput" in sections:
        out["throughput"] = bench_throughput(args)
    if "explain" in sections:
        out["explain"] = bench_explain(args)
    if "auc" in sections:
        out["auc"] = bench_auc(args)
    out["load_at_end"] = os.getloadavg()[0]
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
