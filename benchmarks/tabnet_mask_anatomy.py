"""Anatomy of a trained TabNet's masks on Syn4/Syn5: which step carries which branch, and whether
another way of aggregating the same steps would rank the true features higher.

Trains the paper benchmark's model (``bench_tabnet_paper.py`` settings, entmax, 150 epochs) for one
seed, then on the test rows with x11 < −0.3 (label from x1·x2) and x11 > 0.3 (the other branch)
prints per step: mean mask, η = Σ ReLU(d) (the paper's step weight), the spread of the step's
contribution to the logit, and gradient × input through the step's masked input. Then the per-row
top-k precision (branch features, x11 excluded) of several aggregations of the same steps:

* ``eta*M``: the paper's ``Σ_i η_i M_i`` (what ``explain`` returns);
* ``|c-mean|*M``: masks weighted by the row's centred logit contribution of the step;
* ``|c|*M``: by the absolute logit contribution;
* ``sd(c)*M``: by the step's logit spread over the rows;
* ``gxi``: Σ_i |gradient × input| through each step's masked input (mask held fixed).

    .venv/bin/python benchmarks/tabnet_mask_anatomy.py [--dataset Syn4] [--seed 0] [--rows 4000] \
        [--train-rows 10000] [--epochs N]

Ends with one JSON line (docs/tabnet.md, "Where the masks fall short").
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from bench_tabnet_paper import DEFAULT_EPOCHS, paper_arch, schedule
from gridcrit.models.synthetic_benchmarks import make_syn, topk_precision
from gridcrit.models.tabnet import TabNetClassifier


def step_terms(clf: TabNetClassifier, X: np.ndarray) -> dict[str, torch.Tensor]:
    """Per step ``[steps, n, …]``: masks M, η, logit contribution c, |gradient × input| (mask fixed)."""
    net = clf.network_.eval()
    enc = net.encoder
    ((_, _, xn, xc),) = list(clf._iter_batches(X, len(X)))
    w = (net.head.weight[1] - net.head.weight[0]).detach()  # binary: logit = w · Σ_i ReLU(d_i)
    with torch.no_grad():
        x = enc.initial_bn(net.embedder(xn, xc))
        att = enc.initial_splitter(x)[:, enc.n_d :]
    prior = torch.ones(x.shape[0], enc.n_features)
    out: dict[str, list] = {"M": [], "eta": [], "c": [], "gxi": []}
    for i in range(enc.n_steps):
        with torch.no_grad():
            m = enc.att_transformers[i](prior, att)
            prior = (enc.gamma - m) * prior
        u = (enc.expand_mask(m) * x).detach().requires_grad_(True)
        o = enc.feat_transformers[i](u)
        d = torch.relu(o[:, : enc.n_d])
        c = d @ w
        (g,) = torch.autograd.grad(c.sum(), u)
        out["M"].append(m)
        out["eta"].append(d.sum(1).detach())
        out["c"].append(c.detach())
        out["gxi"].append((g * u).abs().detach())
        att = o[:, enc.n_d :].detach()
    return {k: torch.stack(v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="Syn4", choices=["Syn4", "Syn5", "Syn6"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", type=int, default=4000, help="test rows analysed")
    ap.add_argument("--train-rows", type=int, default=10_000)
    ap.add_argument("--epochs", type=int, default=None, help="default: the paper benchmark's")
    args = ap.parse_args()
    torch.set_num_threads(1)
    name, seed = args.dataset, args.seed
    X, y, _ = make_syn(name, args.train_rows, seed)
    Xv, yv, _ = make_syn(name, 10_000, 100 + seed)
    Xt, _, truth = make_syn(name, args.rows, 1000 + seed)
    clf = TabNetClassifier(**paper_arch(name), **schedule("fast", args.epochs or DEFAULT_EPOCHS[name]), mask_type="entmax",
                           seed=seed, n_threads=1).fit(X, y, eval_set=[(Xv, yv)])
    t = step_terms(clf, Xt)
    M, eta, c, gxi = t["M"], t["eta"], t["c"], t["gxi"]
    np.set_printoptions(precision=3, suppress=True, linewidth=200)
    print(f"{name} seed {seed}: per step on rows with x11 < -0.3 (L) and x11 > 0.3 (R); features x1..x11")
    for i in range(M.shape[0]):
        for side, sel in (("L", torch.from_numpy(Xt[:, 10] < -0.3)), ("R", torch.from_numpy(Xt[:, 10] > 0.3))):
            print(f"step {i} {side} mask {M[i][sel].mean(0).numpy()}  eta {eta[i][sel].mean():.2f}  "
                  f"logit sd {c[i][sel].std():.2f}")
            print(f"         gxi  {gxi[i][sel].mean(0).numpy()}")
    variants = {
        "eta*M": (M * eta[..., None]).sum(0),
        "|c-mean|*M": (M * (c - c.mean(1, keepdim=True)).abs()[..., None]).sum(0),
        "|c|*M": (M * c.abs()[..., None]).sum(0),
        "sd(c)*M": (M * c.std(1)[:, None, None]).sum(0),
        "gxi": gxi.sum(0),
    }
    excl = np.zeros_like(truth)
    excl[:, 10] = True
    left = Xt[:, 10] < 0
    res = {}
    for k, v in variants.items():
        imp = v.numpy()
        res[k] = {"branch": topk_precision(imp, truth, exclude=excl),
                  "x11<0": topk_precision(imp[left], truth[left], exclude=excl[left]),
                  "x11>=0": topk_precision(imp[~left], truth[~left], exclude=excl[~left])}
        print(f"{k:12s} branch {res[k]['branch']:.3f}  x11 < 0 {res[k]['x11<0']:.3f}  x11 ≥ 0 {res[k]['x11>=0']:.3f}")
    print(json.dumps({"dataset": name, "seed": seed, "rows": args.rows, "train_rows": args.train_rows,
                      "precision": res}))


if __name__ == "__main__":
    main()
