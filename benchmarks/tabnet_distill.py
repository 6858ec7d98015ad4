"""One TabNet distilled from a seed ensemble: AUC, per-row mask precision and what the model really uses.

Per dataset and seed (10k training rows; ``bench_tabnet_paper.py``'s paper architecture, entmax masks and fast
one-cycle schedule, validation set for the best epoch): a ``TabNetEnsembleClassifier`` of ``--members`` TabNets
(seeded ``seed·100 + i``; member 0 is the "single" reference) is trained on the 0/1 labels, then
``ens.distill(X, y)`` trains ``--students`` single TabNets (seeded ``seed·100 + 50 + j``) on the *training* rows
with the ensemble's probabilities as soft targets and its row-normalised importances as importance targets
(``importance_weight``, default 1). ``--soft-only`` more students learn the probabilities alone (the ablation:
importance weight 0). No rows beyond the 10k are used and the truth is never seen in training.

Scored on the seed's own 10k test set: AUC; whole-branch top-k precision of ``explain`` (x11 excluded, as in
``bench_tabnet_paper.py``); and, so that masks are not taken on trust, the same precision of the model's
per-row permutation dependence (``gridcrit.explain.permutation``; first 4,000 test rows, 4 repeats) — what
each row's prediction really moves with.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tabnet_distill.py [--datasets Syn4,Syn5,Syn6] [--seeds 0,1,2] \
        [--members 12] [--students 2] [--soft-only 1] [--jobs 2]

``--jobs`` runs (dataset, seed) pairs in parallel processes with one torch thread each (threads pinned).
Prints one line per model and a summary; ends with one JSON line (docs/tabnet.md, "One model distilled").
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy / torch are imported (and the workers forked)

import argparse
import json
import statistics as st
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from bench_tabnet_paper import DEFAULT_EPOCHS, paper_arch, schedule
from gridcrit.explain.permutation import permutation_attributions
from gridcrit.models.synthetic_benchmarks import make_syn, topk_precision
from gridcrit.models.tabnet import TabNetClassifier, TabNetEnsembleClassifier

PERM_ROWS = 4000
KINDS = ("single", "ensemble", "student", "soft_only")


def run(name: str, seed: int, members: int, students: int, soft_only: int, weight: float) -> list[dict]:
    import torch

    torch.set_num_threads(1)
    X, y, _ = make_syn(name, 10_000, seed)
    Xv, yv, _ = make_syn(name, 10_000, 100 + seed)
    Xt, yt, truth = make_syn(name, 10_000, 1000 + seed)
    excl = np.zeros_like(truth)
    excl[:, 10] = True
    hp = {**paper_arch(name), **schedule("fast", DEFAULT_EPOCHS[name]), "mask_type": "entmax"}
    out = []

    def score(kind: str, model, seconds: float, dependence: bool = True) -> None:
        imp, _ = model.explain(Xt)
        r = {"dataset": name, "seed": seed, "kind": kind, "fit_seconds": round(seconds, 1),
             "auc": roc_auc_score(yt, model.predict_proba(Xt)[:, 1]),
             "branch_topk_precision": topk_precision(imp, truth, exclude=excl)}
        if dependence:
            perm = permutation_attributions(model, pd.DataFrame(Xt[:PERM_ROWS]), n_repeats=4, seed=seed)[0]
            r["branch_dependence_precision"] = topk_precision(perm, truth[:PERM_ROWS], exclude=excl[:PERM_ROWS])
        dep = f"  dependence {r['branch_dependence_precision']:.3f}" if dependence else ""
        print(f"{name} seed {seed} {kind:9s} AUC {r['auc']:.4f}  masks {r['branch_topk_precision']:.3f}{dep}"
              f"  ({seconds:.0f} s)", flush=True)
        out.append(r)

    t0 = time.perf_counter()
    ens = TabNetEnsembleClassifier(TabNetClassifier(**hp, n_threads=1), n_members=members, seed=seed)
    ens.fit(X, y, eval_set=[(Xv, yv)])
    t_ens = time.perf_counter() - t0
    score("single", ens.members_[0], t_ens / members)
    score("ensemble", ens, t_ens, dependence=False)  # f × repeats × members predictions: skipped
    for j in range(students + soft_only):
        kind, w = ("student", weight) if j < students else ("soft_only", 0.0)
        t0 = time.perf_counter()
        student = ens.distill(X, y, seed=seed * 100 + 50 + j, importance_weight=w, eval_set=[(Xv, yv)])
        score(kind, student, time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="Syn4,Syn5,Syn6")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--members", type=int, default=12)
    ap.add_argument("--students", type=int, default=2)
    ap.add_argument("--soft-only", type=int, default=1, help="students trained on the probabilities alone")
    ap.add_argument("--importance-weight", type=float, default=1.0)
    ap.add_argument("--jobs", type=int, default=2, help="(dataset, seed) pairs in parallel, 1 torch thread each")
    a = ap.parse_args()
    names = a.datasets.split(",")
    jobs = [(n, s, a.members, a.students, a.soft_only, a.importance_weight) for n in names
            for s in map(int, a.seeds.split(","))]
    print(f"{len(jobs)} (dataset, seed) pairs, {a.jobs} processes x 1 torch thread; "
          f"{a.members} members, {a.students} students, {a.soft_only} soft-only per pair", flush=True)
    with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        rows = [r for part in pool.map(run, *zip(*jobs, strict=True)) for r in part]
    summary = {}
    print("\nmean over seeds (and students):  AUC | branch masks | branch dependence")
    for name in names:
        for kind in KINDS:
            rs = [r for r in rows if r["dataset"] == name and r["kind"] == kind]
            if not rs:
                continue
            s = {"n": len(rs), "auc": round(st.mean(r["auc"] for r in rs), 4),
                 "branch_topk_precision": round(st.mean(r["branch_topk_precision"] for r in rs), 3)}
            if "branch_dependence_precision" in rs[0]:
                s["branch_dependence_precision"] = round(st.mean(r["branch_dependence_precision"] for r in rs), 3)
            summary[f"{name}_{kind}"] = s
            print(f"{name} {kind:9s} ({s['n']:2d} models)  {s['auc']:.4f} | {s['branch_topk_precision']:.3f} | "
                  f"{s.get('branch_dependence_precision', float('nan')):.3f}")
    print(json.dumps({"benchmark": "tabnet_distill", "threads_per_fit": 1, "jobs": a.jobs, "members": a.members,
                      "students": a.students, "soft_only": a.soft_only, "importance_weight": a.importance_weight,
                      "summary": summary, "runs": rows}))


if __name__ == "__main__":
    main()
