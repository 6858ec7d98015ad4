"""Integrated gradients (Sundararajan et al., 2017) for the zoo's torch models (MLP, FT-Transformer,
TabNet).

``IG_j(x) = (x_j − x'_j) · ∫₀¹ ∂F(x' + α(x − x'))/∂x_j dα``, approximated by a midpoint Riemann sum of
``steps`` points. Inputs are what the network sees:

* numbers: standardised values (baseline 0 = the training mean); a column's "was missing" indicator is
  an extra input whose attribution is added to its column;
* categories: their embedding vectors (baseline = the embedding of code 0, "unknown"), interpolated
  inside the network by a forward hook on :class:`gridcrit.models.mlp.CategoricalEmbeddings`; the
  attribution of a category is the sum over its embedding dimensions.

``F`` is the raw output: the standardised prediction (regression), the log rate (poisson) or the
logit of ``target[i]`` (classification; default the predicted class). Completeness holds up to the
Riemann error: ``Σ_j IG_j ≈ F(x) − F(x')``.

TabNet (:func:`tabnet_integrated_gradients`) is integrated over its embedded input ``x`` (standardised
numbers, is-missing indicators, category embeddings) from the embedding of the all-mean, all-"unknown"
row; the column attributions are summed into features with the network's ``group_index``, so they
line up with the masks. Unlike the masks (where the model *looked*), IG says how much each feature
moved this row's output — including through the attentive transformer that chose the mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from gridcrit.runtime import configure_threads


def _embedding_modules(net: torch.nn.Module) -> list[torch.nn.Module]:
    from gridcrit.models.mlp import CategoricalEmbeddings

    return [m for m in net.modules() if isinstance(m, CategoricalEmbeddings)]


def integrated_gradients(model: Any, X: pd.DataFrame, *, steps: int = 32, batch_rows: int = 256,
                         target: np.ndarray | None = None) -> np.ndarray:
    """IG attributions ``[n, f]`` of a fitted NeuralTabularModel, columns in the order of ``X``."""
    configure_threads()
    enc, net = model.encoder_, model.module_
    Xp = model._prepare(X)
    xn_all = torch.from_numpy(enc.numeric(Xp))
    xc_all = torch.from_numpy(enc.codes(Xp))
    n = len(Xp)
    n_num, n_cat = xn_all.shape[1], xc_all.shape[1]
    att_num = np.zeros((n, n_num))
    att_cat = np.zeros((n, n_cat))
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps  # midpoint rule
    embs = _embedding_modules(net)
    state: dict[str, Any] = {}

    def hook(_module, _inputs, out):  # interpolate category embeddings between "unknown" and the row
        if out.shape[1] == 0:
            return out
        base = torch.stack([t.weight[0] for t in _module.tables])[None]  # [1, n_cat, d]
        a = state["alpha"].view(-1, 1, 1)
        mixed = base + a * (out.detach() - base.detach())
        mixed.requires_grad_(True)
        mixed.retain_grad()
        state["mixed"], state["delta"] = mixed, (out.detach() - base.detach())
        return mixed

    handles = [m.register_forward_hook(hook) for m in embs[:1]] if n_cat else []
    was_training = net.training
    net.eval()
    try:
        for s in range(0, n, batch_rows):
            xn, xc = xn_all[s:s + batch_rows], xc_all[s:s + batch_rows]
            b = len(xn)
            a = alphas.repeat_interleave(b)  # [steps*b], step-major
            x_rep = xn.repeat(steps, 1)
            x_path = (a[:, None] * x_rep).requires_grad_(True)  # baseline 0
            state["alpha"] = a
            out = net(x_path, xc.repeat(steps, 1))
            if out.shape[1] > 1:
                tgt = np.zeros(b, dtype=np.int64) if target is None else np.asarray(target[s:s + b])
                idx = torch.from_numpy(tgt.astype(np.int64)).repeat(steps)
                f = out.gather(1, idx[:, None])[:, 0]
            else:
                f = out[:, 0]
            f.sum().backward()
            g = x_path.grad.view(steps, b, n_num).mean(0)
            att_num[s:s + b] = (g * xn).detach().numpy()
            if n_cat and "mixed" in state and state["mixed"].grad is not None:
                gm = state["mixed"].grad.view(steps, b, n_cat, -1).mean(0)
                delta = state["delta"].view(steps, b, n_cat, -1)[0]
                att_cat[s:s + b] = (gm * delta).sum(-1).detach().numpy()
            net.zero_grad(set_to_none=True)
            state.pop("mixed", None)
    finally:
        for h in handles:
            h.remove()
        net.train(was_training)
    # fold inputs back to the columns of X
    col_att = {c: att_num[:, i] for i, c in enumerate(enc.num_cols)}
    for j, c in enumerate(enc.nan_cols):
        col_att[c] = col_att[c] + att_num[:, len(enc.num_cols) + j]
    for j, c in enumerate(enc.cat_cols):
        col_att[c] = att_cat[:, j]
    zero = np.zeros(n)  # columns the encoder left out (constant in training) moved nothing
    return np.column_stack([col_att.get(str(c), zero) for c in Xp.columns]) if len(Xp.columns) else np.zeros((n, 0))


def tabnet_integrated_gradients(est: Any, X: Any, *, steps: int = 32, batch_rows: int = 256,
                                target: np.ndarray | None = None) -> np.ndarray:
    """IG attributions ``[n, f]`` of a fitted ``TabNetRegressor``/``TabNetClassifier`` (features in
    the estimator's order). ``F``: the head's output (log rate for the Poisson objective, the target
    class's logit for classifiers; default the predicted class); for a seed ensemble, the mean of its
    members' ``F`` (each member integrated from its own baseline)."""
    from gridcrit.models.tabnet.training import torch_threads

    if hasattr(est, "members_"):  # a seed ensemble: IG is linear in F, so the members' mean is the mean F's
        return np.mean([tabnet_integrated_gradients(m, X, steps=steps, batch_rows=batch_rows, target=target)
                        for m in est.members_], axis=0)
    net = est.network_
    n = len(X)
    out_att = np.zeros((n, est.preprocessor_.n_features), dtype=np.float64)
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps  # midpoint rule
    gi = net.encoder.group_index
    was_training = net.training
    net.eval()
    try:
        with torch_threads(est.n_threads):
            base = None
            for s, e, x_num, x_cat in est._iter_batches(X, batch_rows):
                b = e - s
                with torch.no_grad():
                    x = net.embedder(x_num, x_cat)
                    if base is None:  # training mean for numbers (0 after standardising), code 0 for categories
                        base = net.embedder(torch.zeros_like(x_num[:1]), torch.zeros_like(x_cat[:1]))
                delta = x - base
                a = alphas.repeat_interleave(b)[:, None]  # [steps*b, 1], step-major
                path = (base + a * delta.repeat(steps, 1)).requires_grad_(True)
                z, _ = net.encoder(path)
                out = net.head(z.sum(0))
                if out.shape[1] > 1:
                    tgt = np.zeros(b, dtype=np.int64) if target is None else np.asarray(target[s:e], dtype=np.int64)
                    f = out.gather(1, torch.from_numpy(tgt).repeat(steps)[:, None])[:, 0]
                else:
                    f = out[:, 0]
                (g,) = torch.autograd.grad(f.sum(), path)
                cols = (g.view(steps, b, -1).mean(0) * delta).double()
                feat = torch.zeros(b, est.preprocessor_.n_model_features, dtype=torch.float64).index_add_(1, gi, cols)
                out_att[s:e] = est.preprocessor_.to_features(feat.numpy())  # constant columns: 0
    finally:
        net.train(was_training)
    return out_att
