"""One TabNet distilled from a seed ensemble: AUC and per-row mask precision beside a single model.

Per dataset and seed (10k training rows, ``bench_tabnet_paper.py``'s paper architecture, entmax masks and
fast one-cycle schedule): ``--teachers`` TabNets seeded ``seed·100 + i`` are trained on the 0/1 labels (the
first is the "single" reference); their mean probability p on the *training* rows becomes the soft label of
``--students`` new TabNets (seeded ``seed·100 + 50 + j``), each row written twice — label 1 with weight p,
label 0 with weight 1 − p — which is the cross-entropy with soft targets. No rows beyond the 10k are used.
Scored on the seed's own 10k test set: AUC and whole-branch top-k precision of ``explain`` (x11 excluded,
as in ``bench_tabnet_paper.py``).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tabnet_distill.py [--datasets Syn4,Syn5] [--seeds 0,1,2] \
        [--teachers 5] [--students 2] [--threads 1]

Prints one line per model and a summary; ends with one JSON line (docs/tabnet.md, "Seed ensembles").
"""

from __future__ import annotations

import argparse
import json
import statistics as st

import numpy as np
from sklearn.metrics import roc_auc_score

from bench_tabnet_paper import DEFAULT_EPOCHS, paper_arch, schedule
from gridcrit.models.synthetic_benchmarks import make_syn, topk_precision
from gridcrit.models.tabnet import TabNetClassifier


def run(name: str, seed: int, teachers: int, students: int, threads: int) -> list[dict]:
    X, y, _ = make_syn(name, 10_000, seed)
    Xv, yv, _ = make_syn(name, 10_000, 100 + seed)
    Xt, yt, truth = make_syn(name, 10_000, 1000 + seed)
    excl = np.zeros_like(truth)
    excl[:, 10] = True
    hp = {**paper_arch(name), **schedule("fast", DEFAULT_EPOCHS[name]), "mask_type": "entmax"}
    out = []

    def score(kind: str, clf: TabNetClassifier) -> None:
        imp, _ = clf.explain(Xt)
        r = {"dataset": name, "seed": seed, "kind": kind, "auc": roc_auc_score(yt, clf.predict_proba(Xt)[:, 1]),
             "branch_topk_precision": topk_precision(imp, truth, exclude=excl)}
        print(f"{name} seed {seed} {kind:8s} AUC {r['auc']:.4f}  branch top-k {r['branch_topk_precision']:.3f}",
              flush=True)
        out.append(r)

    p = []
    for i in range(teachers):
        clf = TabNetClassifier(**hp, seed=seed * 100 + i, n_threads=threads).fit(X, y, eval_set=[(Xv, yv)])
        if i == 0:
            score("single", clf)
        p.append(clf.predict_proba(X)[:, 1])
    soft = np.mean(p, axis=0)
    X2, y2 = np.vstack([X, X]), np.r_[np.ones(len(X), int), np.zeros(len(X), int)]
    w = np.r_[soft, 1.0 - soft]
    for j in range(students):
        st_ = TabNetClassifier(**hp, seed=seed * 100 + 50 + j, n_threads=threads)
        score("student", st_.fit(X2, y2, sample_weight=w, eval_set=[(Xv, yv)]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="Syn4,Syn5")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--teachers", type=int, default=5)
    ap.add_argument("--students", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    rows = [r for name in a.datasets.split(",") for s in map(int, a.seeds.split(","))
            for r in run(name, s, a.teachers, a.students, a.threads)]
    summary = {}
    for name in a.datasets.split(","):
        for kind in ("single", "student"):
            rs = [r for r in rows if r["dataset"] == name and r["kind"] == kind]
            summary[f"{name}_{kind}"] = {"n": len(rs), "auc": round(st.mean(r["auc"] for r in rs), 4),
                                         "branch_topk_precision": round(st.mean(r["branch_topk_precision"] for r in rs), 3)}
            print(f"{name} {kind:8s} ({len(rs)} models): mean AUC {summary[f'{name}_{kind}']['auc']:.4f}, "
                  f"branch top-k {summary[f'{name}_{kind}']['branch_topk_precision']:.3f}")
    print(json.dumps({"benchmark": "tabnet_distill", "threads": a.threads, "teachers": a.teachers,
                      "students": a.students, "summary": summary, "runs": rows}))


if __name__ == "__main__":
    main()
