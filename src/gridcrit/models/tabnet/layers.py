"""TabNet building blocks: ghost batch norm, GLU blocks, feature and attentive transformers.

Speed notes (why this is faster than the reference implementation on CPU). At TabNet's sizes
(a few thousand rows × 16–64 columns) a training step costs as much in per-operator dispatch,
autograd bookkeeping and passes over memory as in arithmetic, so the training path issues few
operators:

* :class:`GhostBatchNorm` normalises all virtual batches with ONE native ``batch_norm`` call by
  viewing ``[B, F]`` as ``[vbs, n_chunks·F]`` (each (chunk, feature) pair becomes a channel),
  instead of a Python loop over ``B / vbs`` chunks plus a ``cat``.
* Running statistics are not updated layer by layer: during a training forward every ghost BN
  queues its per-virtual-batch mean / inverse std on a ``pending`` list and
  :func:`flush_running_stats` applies all updates at once (a few ``stack`` / ``_foreach`` calls).
* The training forward of a chain of GLU layers (:func:`glu_chain_forward`) and of an attentive
  transformer (:func:`attentive_forward`) runs without autograd; their backward passes
  (:func:`glu_chain_backward`, :func:`attentive_backward`) are written out with the native kernels
  (``glu_backward``, ``native_batch_norm_backward``, GEMMs that also accumulate the residual
  gradient). :class:`FeatureTransformer` / :class:`AttentiveTransformer` wrap them as one autograd
  node each; the encoder (:mod:`.network`) wraps a whole forward pass as one node.
* GEMMs whose output is tall and narrow with an odd width (``[1024, 11]``) are computed transposed
  (:func:`linear_fwd`), which MKL runs 3–4× faster.
* Where they could be compiled (:mod:`.native`), a GLU layer's ghost BN + gate + residual is one
  C++ call each way (two passes over ``[B, 2F]`` instead of ATen's four calls); otherwise the same
  chain runs on ATen's kernels.

Evaluation, and training batches whose virtual batches would be unequal, use the plain modules;
``tests/test_tabnet_fused.py`` checks the fused path against them (outputs, all gradients and
running statistics, in float64).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812 (the universal PyTorch alias)
from torch import Tensor, nn
from torch.autograd import Function

from gridcrit.models.tabnet import native
from gridcrit.models.tabnet.sparsemax import MASK_FUNCTIONS, MASK_KERNELS

_bn_forward = torch.native_batch_norm
_bn_backward = torch.ops.aten.native_batch_norm_backward
_glu_backward = torch.ops.aten.glu_backward
_BN_MASK = [True, True, True]


def _narrow_out(n: int, rows: int) -> bool:
    # MKL is 3–4× slower on tall outputs whose width is not a multiple of 16 (e.g. [1024, 11]) than
    # on the transposed problem; the choice depends only on shapes, so results are reproducible.
    return n < 64 and n % 16 != 0 and rows >= 64


def linear_fwd(x: Tensor, w: Tensor) -> Tensor:
    """``x @ wᵀ`` as a contiguous ``[B, out]`` tensor (``x [B, in]``, ``w [out, in]``)."""
    if _narrow_out(w.shape[0], x.shape[0]):
        return torch.mm(w, x.t()).t().contiguous()
    return F.linear(x, w)


def linear_grad_w(dh: Tensor, x: Tensor) -> Tensor:
    """``dhᵀ @ x`` = gradient of ``w`` in ``h = x @ wᵀ`` (``[out, in]``)."""
    if _narrow_out(x.shape[1], dh.shape[1]):
        return torch.mm(x.t(), dh).t()
    return torch.mm(dh.t(), x)


def linear_grad_x(dh: Tensor, w: Tensor, acc: Tensor | None = None) -> Tensor:
    """``dh @ w`` = gradient of ``x`` in ``h = x @ wᵀ``; added in place to ``acc`` (by the GEMM) if given."""
    if acc is not None:
        return acc.addmm_(dh, w)
    if _narrow_out(w.shape[1], dh.shape[0]):
        return torch.mm(w.t(), dh.t()).t()
    return torch.mm(dh, w)


def tile(vs: list[Tensor], n: int, mult: Tensor | None = None) -> list[Tensor]:
    """Each ``v`` of ``vs`` (same length; times row i of ``mult`` if given) tiled ``n`` times — the
    per-(chunk, feature) affine of a ghost BN viewed as ``[B/n, n·F]`` — in a few calls for the list."""
    if n == 1 and mult is None:
        return list(vs)
    st = torch.stack(vs)
    if mult is not None:
        st = st.mul_(mult)
    return list((torch.cat([st] * n, dim=1) if n > 1 else st).unbind(0))


def untile_sum(ds: list[Tensor], n: int, mult: Tensor | None = None) -> list[Tensor]:
    """Inverse of :func:`tile` for gradients: sum each ``[n·F]`` over its ``n`` chunks (times row i
    of ``mult`` if given: the chain rule through the multiplier)."""
    if n == 1 and mult is None:
        return list(ds)
    st = torch.stack(ds)
    st = st.view(st.shape[0], n, -1).sum(1) if n > 1 else st
    if mult is not None:
        st = st.mul_(mult)
    return list(st.unbind(0))


_AFFINE_MULT: dict[tuple, Tensor] = {}


def glu_affine_mult(residual: list[bool], width: int, scale: float, dtype: torch.dtype) -> Tensor:
    """``[L, width]`` multipliers for the ghost-BN affine (γ, β) of a GLU chain's layers.

    A residual layer outputs ``(x + glu(y))·s`` with ``glu(y) = y_a·σ(y_b)`` linear in ``y_a``, so
    scaling the affine of the first (``a``) half by ``s`` gives ``s·glu(y)`` directly and the layer
    output is one ``add_(x, alpha=s)``: one pass over ``[B, F]`` instead of two. Same maths.
    """
    key = (tuple(residual), width, scale, dtype)
    mult = _AFFINE_MULT.get(key)
    if mult is None:
        mult = torch.ones(len(residual), width, dtype=dtype)
        for i, res in enumerate(residual):
            if res:
                mult[i, : width // 2] = scale
        mult = _AFFINE_MULT[key] = mult
    return mult


class GhostBatchNorm(nn.Module):
    """Batch norm computed over "virtual" batches of about ``virtual_batch_size`` rows (Hoffer et al. 2017).

    ::

        x [B, F] = rows r = i·n + c   (c = virtual batch 0..n-1, i = position 0..B/n-1)
          ──view (no copy)──> [B/n, n·F]   each (c, feature) pair is one channel
          ──batch_norm (one native call, per-virtual-batch statistics)──> view back [B, F]

    Virtual batch ``c`` is the strided row set ``{c, c+n, c+2n, ...}`` instead of a contiguous
    block: training batches are random permutations, so both are equally random subsets, and the
    strided choice needs no transpose copies (the reference loops over ``x.chunk(n)`` in Python).
    ``n = ceil(B / virtual_batch_size)``; rows that do not fill ``n`` equal groups form one extra
    group. Evaluation uses running statistics, updated once per forward with momentum
    ``1 − (1 − m)^n`` (the decay of n sequential per-chunk updates) towards the average of the
    virtual batches' means and unbiased variances. ``momentum`` follows the PyTorch convention (the
    paper's TensorFlow ``m_B`` = 1 − momentum).

    ``forward(x, pending)``: when ``pending`` is a list, the running-statistics update is deferred
    (appended to it) so the caller can apply all layers' updates at once with
    :func:`flush_running_stats`.

    Shapes: input and output ``[B, F]``.

    Example::

        >>> gbn = GhostBatchNorm(16, virtual_batch_size=128, momentum=0.02)
        >>> gbn(torch.randn(1024, 16)).shape
        torch.Size([1024, 16])
    """

    def __init__(self, num_features: int, virtual_batch_size: int = 128, momentum: float = 0.02, eps: float = 1e-5):
        super().__init__()
        self.num_features = num_features
        self.virtual_batch_size = int(virtual_batch_size)
        self.momentum = float(momentum)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def n_chunks(self, rows: int) -> int:
        """Number of virtual batches a training batch of ``rows`` rows is split into."""
        return max(1, math.ceil(rows / self.virtual_batch_size))

    def fused_chunks(self, rows: int) -> int:
        """``n_chunks(rows)`` if the batch splits into equal virtual batches of ≥ 2 rows (the fused
        training path), else 0 (ragged tail or too few rows: the module path handles it)."""
        n = self.n_chunks(rows)
        return n if rows % n == 0 and rows >= 2 * n else 0

    def _eval(self, x: Tensor) -> Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)

    def _ghost(self, x: Tensor, n_chunks: int) -> tuple[Tensor, Tensor, Tensor]:
        """Normalise contiguous ``x`` (rows divisible by ``n_chunks``) with per-virtual-batch stats.

        Returns the output plus the per-(chunk, feature) mean and inverse std ``[n_chunks·F]``.
        """
        rows, f = x.shape
        if n_chunks == 1:
            w, b = self.weight, self.bias
        else:  # expand+reshape: cheaper than repeat, same values
            w = self.weight.expand(n_chunks, f).reshape(-1)
            b = self.bias.expand(n_chunks, f).reshape(-1)
        yt, mean, invstd = _bn_forward(x.view(rows // n_chunks, n_chunks * f), w, b, None, None, True, 0.0, self.eps)
        return yt.view(rows, f), mean, invstd

    def forward(self, x: Tensor, pending: list | None = None) -> Tensor:
        if not self.training:
            return self._eval(x)
        b = x.shape[0]
        n_full = self.n_chunks(b)
        if b < 2 * n_full:  # fewer than 2 rows per virtual batch: no batch statistics
            return self._eval(x)
        tail = b % n_full
        if not x.is_contiguous():
            x = x.contiguous()
        if tail == 0:
            y, mean, invstd = self._ghost(x, n_full)
            self.record_stats(mean, invstd, n_full, b // n_full, pending)
            return y
        main = b - tail
        y_main, mean, invstd = self._ghost(x[:main], n_full)
        if tail >= 2:
            y_tail = F.batch_norm(x[main:], None, None, self.weight, self.bias, True, 0.0, self.eps)
        else:  # one row has no batch statistics: use (a copy of, as they change below) the running ones
            y_tail = F.batch_norm(x[main:], self.running_mean.clone(), self.running_var.clone(), self.weight,
                                  self.bias, False, 0.0, self.eps)
        self.record_stats(mean, invstd, n_full, main // n_full, pending)
        return torch.cat([y_main, y_tail], dim=0)

    def record_stats(self, mean: Tensor, invstd: Tensor, n_chunks: int, rows: int, pending: list | None) -> None:
        """Queue (``pending`` list) or apply now the running-statistics update of one forward."""
        item = (self, mean, invstd, n_chunks, rows)
        if pending is None:
            flush_running_stats([item])
        else:
            pending.append(item)


def flush_running_stats(pending: list) -> None:
    """Apply the queued running-statistics updates of many :class:`GhostBatchNorm` layers at once.

    Each item is ``(module, mean [n·F], invstd [n·F], n_chunks, rows_per_chunk)`` from a forward;
    the virtual batches' means and unbiased variances (``(1/invstd² − eps)·m/(m−1)``) are averaged
    and lerped into the running buffers with momentum ``1 − (1 − momentum)^n``. Layers with the
    same (width, momentum, eps, n, m) are updated together: two ``stack``, a few element-wise
    operations and two ``_foreach_lerp_`` calls per group.
    """
    if not pending:
        return
    groups: dict[tuple, list] = {}
    for item in pending:
        mod = item[0]
        key = (mod.num_features, mod.momentum, mod.eps, item[3], item[4])
        group = groups.get(key)
        if group is None:
            groups[key] = [item]
        else:
            group.append(item)
    with torch.no_grad():
        for (width, momentum, eps, n, rows), items in groups.items():
            k = len(items)
            means = torch.stack([it[1] for it in items]).view(k, n, width).mean(1)
            inv = torch.stack([it[2] for it in items]).view(k, n, width)
            var = inv.pow_(-2).sub_(eps).clamp_(min=0.0).mul_(rows / max(1, rows - 1)).mean(1)
            eff = 1.0 - (1.0 - momentum) ** n
            torch._foreach_lerp_([it[0].running_mean for it in items], list(means.unbind(0)), eff)
            torch._foreach_lerp_([it[0].running_var for it in items], list(var.unbind(0)), eff)
        pending.clear()


def _init_glu(fc: nn.Linear, input_dim: int, output_dim: int, generator: torch.Generator | None) -> None:
    # Xavier-normal with gain² = (in + out) / √in, ``out`` the GLU's width. pytorch-tabnet passes the
    # linear's full width 2·out (gain ≈ 1.2× ours). The scale matters although BN follows — Adam's steps
    # have a fixed size, so larger weights mean smaller relative updates — and was measured both ways
    # (docs/tabnet.md): with 2·out the Syn1–6 paper AUCs were lower on 5 of 6 sets (by .002–.010),
    # mask precision lower (Syn6 branch .761 vs .824), and vs pytorch-tabnet with identical
    # hyperparameters no better overall (Syn4 .694 / Syn5 .779 / Syn6 .849 vs .685 / .747 / .862).
    gain = math.sqrt((input_dim + output_dim) / math.sqrt(input_dim))
    nn.init.xavier_normal_(fc.weight, gain=gain, generator=generator)


class GLULayer(nn.Module):
    """Gated linear unit: ``Linear(in, 2·out) → GhostBN → a·σ(b)``.

    ::

        x [B, in] ─> Linear (no bias) ─> [B, 2·out] ─> GhostBN ─> glu ─> [B, out]
    """

    def __init__(self, input_dim: int, output_dim: int, fc: nn.Linear | None, virtual_batch_size: int, momentum: float):
        super().__init__()
        self.fc = fc if fc is not None else nn.Linear(input_dim, 2 * output_dim, bias=False)
        self.bn = GhostBatchNorm(2 * output_dim, virtual_batch_size, momentum)

    def forward(self, x: Tensor, pending: list | None = None) -> Tensor:
        return F.glu(self.bn(F.linear(x, self.fc.weight), pending), dim=-1)


class GLUBlock(nn.Module):
    """A stack of GLU layers with scaled residuals ``x ← (x + glu(x))·√0.5``.

    ::

        x ─> [GLU] ─(+)─> ·√½ ─> [GLU] ─(+)─> ·√½ ─> ...
              first layer has no residual when ``first=True`` (its width changes)

    ``shared_fcs`` (if given) supplies the Linear layers, which is how the *shared* part of every
    step's feature transformer reuses the same weights.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        n_glu: int,
        first: bool,
        shared_fcs: nn.ModuleList | None,
        virtual_batch_size: int,
        momentum: float,
    ):
        super().__init__()
        self.first = first
        self.layers = nn.ModuleList()
        for i in range(n_glu):
            fc = shared_fcs[i] if shared_fcs is not None else None
            in_dim = input_dim if i == 0 else output_dim
            self.layers.append(GLULayer(in_dim, output_dim, fc, virtual_batch_size, momentum))
        self.scale = math.sqrt(0.5)

    def residual_flags(self) -> list[bool]:
        """Per layer: does it add its input back (``x ← (x + glu(x))·√½``)?"""
        return [not (self.first and i == 0) for i in range(len(self.layers))]

    def forward(self, x: Tensor, pending: list | None = None) -> Tensor:
        for layer, res in zip(self.layers, self.residual_flags(), strict=True):
            x = (x + layer(x, pending)) * self.scale if res else layer(x, pending)
        return x


def glu_chain_forward(
    x: Tensor, bns: list[GhostBatchNorm], residual: list[bool], scale: float, n: int, weights: list[Tensor],
    gammas: list[Tensor], betas: list[Tensor], pending: list,
) -> tuple[Tensor, list]:
    """Training forward of a chain of GLU layers without autograd (see :class:`_GLUStackFunction`).

    ``weights[i]`` is layer i's ``[2F, in]`` linear weight, ``gammas[i]`` / ``betas[i]`` its ghost-BN
    affine times :func:`glu_affine_mult`, tiled to ``[n·2F]`` (:func:`tile`). Returns the output and
    what the backward needs.
    """
    b = x.shape[0]
    rows = b // n
    saved = []
    nk = native.kernels() if x.dtype in (torch.float32, torch.float64) else None
    for i, res in enumerate(residual):
        if nk is not None:  # ghost BN + GLU (+ residual) in one compiled call; y is recomputed in the backward
            h = linear_fwd(x, weights[i])
            o, mean, invstd = nk.bn_glu_fwd(h, n, gammas[i], betas[i], bns[i].eps, x if res else None, scale)
            saved.append((x, h, None, mean, invstd))
        else:
            h = linear_fwd(x, weights[i]).view(rows, -1)
            y, mean, invstd = _bn_forward(h, gammas[i], betas[i], None, None, True, 0.0, bns[i].eps)
            y = y.view(b, -1)
            o = F.glu(y, dim=-1)  # already × scale for residual layers (see glu_affine_mult)
            saved.append((x, h, y, mean, invstd))
            if res:
                o = o.add_(x, alpha=scale)
        pending.append((bns[i], mean, invstd, n, rows))
        x = o
    return x, saved


def glu_chain_backward(
    g: Tensor, saved: list, bns: list[GhostBatchNorm], residual: list[bool], scale: float, n: int,
    weights: list[Tensor], gammas: list[Tensor], betas: list[Tensor], need_x: bool,
) -> tuple[Tensor | None, list[Tensor], list[Tensor], list[Tensor]]:
    """Backward of :func:`glu_chain_forward`: ``(d x, d weights, d gammas, d betas)``.

    ``g`` (the output gradient) is overwritten. The γ/β gradients are w.r.t. the tiled, multiplied
    affine: :func:`untile_sum` with the same multipliers gives the parameters' gradients.
    """
    n_layers = len(residual)
    d_w: list[Tensor] = [g] * n_layers
    d_gamma: list[Tensor] = [g] * n_layers
    d_beta: list[Tensor] = [g] * n_layers
    if not g.is_contiguous():
        g = g.contiguous()
    for i in range(n_layers - 1, -1, -1):
        x, h, y, mean, invstd = saved[i]
        if y is None:  # saved by the compiled forward, so the module is built (whatever the switch says now)
            dh, d_gamma[i], d_beta[i] = native.built().bn_glu_bwd(g, h, n, mean, invstd, gammas[i], betas[i])
        else:
            dy = _glu_backward(g, y, -1)
            dh, d_gamma[i], d_beta[i] = _bn_backward(dy.view(h.shape), h, gammas[i], None, None, mean, invstd, True,
                                                     bns[i].eps, _BN_MASK)
            dh = dh.view(y.shape)
        d_w[i] = linear_grad_w(dh, x)
        if i > 0 or need_x:
            # residual: out = s·x + glu → dx = s·g + dh @ W, both in one in-place GEMM (beta = s)
            g = g.addmm_(dh, weights[i], beta=scale) if residual[i] else linear_grad_x(dh, weights[i])
    return (g if need_x else None), d_w, d_gamma, d_beta


def attentive_forward(
    a: Tensor, prior: Tensor | None, w: Tensor, gamma: Tensor, beta: Tensor, bn: GhostBatchNorm, n: int,
    mask_forward, pending: list,
) -> tuple[Tensor, tuple]:
    """Training forward of ``M = mask(ghost_bn(a @ wᵀ) ⊙ prior)`` without autograd (``prior`` None = ones)."""
    b = a.shape[0]
    rows = b // n
    h = linear_fwd(a, w).view(rows, -1)
    y, mean, invstd = _bn_forward(h, gamma, beta, None, None, True, 0.0, bn.eps)
    y = y.view(b, -1)
    m = mask_forward(y if prior is None else y * prior)
    pending.append((bn, mean, invstd, n, rows))
    return m, (a, h, y, mean, invstd)


def attentive_backward(
    dm: Tensor, m: Tensor, prior: Tensor | None, saved: tuple, w: Tensor, gamma: Tensor, bn: GhostBatchNorm,
    mask_backward, need_prior: bool, need_a: bool,
) -> tuple[Tensor | None, Tensor | None, Tensor, Tensor, Tensor]:
    """Backward of :func:`attentive_forward`: ``(d a, d prior, d w, d gamma (tiled), d beta (tiled))``."""
    a, h, y, mean, invstd = saved
    dz = mask_backward(m, dm)
    d_prior = dz * y if (need_prior and prior is not None) else None
    dy = dz if prior is None else dz.mul_(prior)
    if not dy.is_contiguous():
        dy = dy.contiguous()
    dh, d_gamma, d_beta = _bn_backward(dy.view(h.shape), h, gamma, None, None, mean, invstd, True, bn.eps, _BN_MASK)
    dh = dh.view(y.shape)
    d_a = linear_grad_x(dh, w) if need_a else None
    return d_a, d_prior, linear_grad_w(dh, a), d_gamma, d_beta


class _GLUStackFunction(Function):
    """Forward + hand-written backward of a chain of GLU layers (one autograd node).

    ``forward(x, bns, residual, scale, n_chunks, pending, *params)`` with ``params`` =
    ``(fc.weight, bn.weight, bn.bias)`` per layer. Per layer::

        h = x @ Wᵀ                          [B, 2F]
        y = ghost_bn(h) (per-chunk stats, affine)   one native_batch_norm on [B/n, n·2F]
        o = glu(y)                          [B, F]
        x = (x + o)·scale  if residual else o

    Backward runs the same chain in reverse with ``glu_backward``, ``native_batch_norm_backward``
    and two GEMMs per layer. Ghost-BN running statistics are queued on ``pending``.
    """

    @staticmethod
    def forward(ctx, x, bns, residual, scale, n, pending, *params):  # type: ignore[override]
        weights = list(params[0::3])
        mult = glu_affine_mult(residual, weights[0].shape[0], scale, x.dtype)
        gammas = tile(list(params[1::3]), n, mult)
        betas = tile(list(params[2::3]), n, mult)
        out, saved = glu_chain_forward(x, bns, residual, scale, n, weights, gammas, betas, pending)
        ctx.saved = saved
        ctx.meta = (bns, residual, scale, n, weights, gammas, betas, mult)
        return out

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        bns, residual, scale, n, weights, gammas, betas, mult = ctx.meta
        # clone: the chain backward accumulates into its output gradient in place
        dx, d_w, d_gamma, d_beta = glu_chain_backward(grad.clone(), ctx.saved, bns, residual, scale, n, weights,
                                                      gammas, betas, ctx.needs_input_grad[0])
        ctx.saved = ctx.meta = None
        n_layers = len(residual)
        grads: list[Tensor | None] = [None] * (3 * n_layers)
        gb = untile_sum(d_gamma + d_beta, n, torch.cat([mult, mult]))
        grads[0::3], grads[1::3], grads[2::3] = d_w, gb[:n_layers], gb[n_layers:]
        return dx, None, None, None, None, None, *grads


class FeatureTransformer(nn.Module):
    """Shared GLU block (weights common to all steps) followed by a step-dependent GLU block.

    ::

        x [B, d_in] ─> shared GLU block ─> [B, n_d+n_a] ─> step GLU block ─> [B, n_d+n_a]

    In training (batches that split into equal virtual batches) all GLU layers run as one fused
    autograd node (:class:`_GLUStackFunction`); evaluation and ragged batches use the modules.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        shared_fcs: nn.ModuleList | None,
        n_independent: int,
        virtual_batch_size: int,
        momentum: float,
    ):
        super().__init__()
        n_shared = len(shared_fcs) if shared_fcs is not None else 0
        self.shared = (
            GLUBlock(input_dim, output_dim, n_shared, True, shared_fcs, virtual_batch_size, momentum)
            if n_shared > 0
            else None
        )
        if n_independent > 0:
            first = self.shared is None
            spec_in = input_dim if first else output_dim
            self.specific = GLUBlock(spec_in, output_dim, n_independent, first, None, virtual_batch_size, momentum)
        else:
            self.specific = None

    def _blocks(self) -> list[GLUBlock]:
        return [b for b in (self.shared, self.specific) if b is not None]

    def _chain(self) -> tuple[list[GLULayer], list[bool], float]:
        """All GLU layers in order, their residual flags and the residual scale (cached: fixed at build)."""
        chain = self.__dict__.get("_chain_cache")
        if chain is None:
            layers, residual = [], []
            for block in self._blocks():
                layers.extend(block.layers)
                residual.extend(block.residual_flags())
            chain = self.__dict__["_chain_cache"] = (layers, residual, math.sqrt(0.5))
        return chain

    def forward(self, x: Tensor, pending: list | None = None) -> Tensor:
        blocks = self._blocks()
        if not blocks:
            return x
        if self.training:
            layers, residual, scale = self._chain()
            n = layers[0].bn.fused_chunks(x.shape[0])
            if n:
                params = []
                for layer in layers:
                    params += [layer.fc.weight, layer.bn.weight, layer.bn.bias]
                queue = [] if pending is None else pending
                bns = [layer.bn for layer in layers]
                out = _GLUStackFunction.apply(x.contiguous(), bns, residual, scale, n, queue, *params)
                if pending is None:
                    flush_running_stats(queue)
                return out
        for block in blocks:
            x = block(x, pending)
        return x


class _AttentiveFunction(Function):
    """Forward + hand-written backward of ``M = mask_fn(ghost_bn(a @ Wᵀ) ⊙ prior)`` (one autograd node)."""

    @staticmethod
    def forward(ctx, a, prior, w_fc, g, beta, module, n, pending):  # type: ignore[override]
        gamma, beta_t = tile([g, beta], n) if n > 1 else (g, beta)
        m, saved = attentive_forward(a, prior, w_fc, gamma, beta_t, module.bn, n, module.kernels[0], pending)
        ctx.save_for_backward(m)  # an output: saved here, not on ctx (no reference cycle)
        ctx.saved = (saved, prior, gamma)
        ctx.meta = (module, n, w_fc)
        return m

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (m,) = ctx.saved_tensors
        saved, prior, gamma = ctx.saved
        module, n, w_fc = ctx.meta
        da, dprior, dw, dg, db = attentive_backward(grad, m, prior, saved, w_fc, gamma, module.bn,
                                                    module.kernels[1], ctx.needs_input_grad[1],
                                                    ctx.needs_input_grad[0])
        ctx.saved = ctx.meta = None
        dg, db = untile_sum([dg, db], n)
        return da, dprior, dw, dg, db, None, None, None


class AttentiveTransformer(nn.Module):
    """Computes a step's feature mask from the previous step's attention features and the prior.

    ::

        a [B, n_a] ─> Linear ─> GhostBN ─> ⊙ prior [B, f] ─> sparsemax | entmax ─> M [B, f]

    Rows of ``M`` sum to 1. The prior ``P = Π_j (γ − M_j)`` shrinks the weight of features already
    used, so γ = 1 forces each feature into at most one step and larger γ allows reuse. In training
    the whole chain is one fused autograd node (:class:`_AttentiveFunction`).
    """

    def __init__(self, n_a: int, n_features: int, virtual_batch_size: int, momentum: float, mask_type: str):
        super().__init__()
        if mask_type not in MASK_FUNCTIONS:
            raise ValueError(f"mask_type must be one of {sorted(MASK_FUNCTIONS)}, got {mask_type!r}")
        self.fc = nn.Linear(n_a, n_features, bias=False)
        self.bn = GhostBatchNorm(n_features, virtual_batch_size, momentum)
        self.selector = MASK_FUNCTIONS[mask_type]
        self.kernels = MASK_KERNELS[mask_type]

    def forward(self, prior: Tensor, a: Tensor, pending: list | None = None) -> Tensor:
        if self.training:
            n = self.bn.fused_chunks(a.shape[0])
            if n:
                own = pending is None
                queue = [] if own else pending
                m = _AttentiveFunction.apply(a.contiguous(), prior, self.fc.weight, self.bn.weight, self.bn.bias,
                                             self, n, queue)
                if own:
                    flush_running_stats(queue)
                return m
        return self.selector(self.bn(F.linear(a, self.fc.weight), pending) * prior)
