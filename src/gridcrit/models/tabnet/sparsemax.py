"""Sparse attention normalisers: sparsemax and entmax-1.5 (rows sum to 1, exact zeros allowed).

Both map a score vector ``z ∈ R^f`` to the probability simplex like softmax does, but can put
exactly zero weight on features — which is what makes TabNet's masks readable.

* sparsemax (Martins & Astudillo 2016): Euclidean projection onto the simplex,
  ``p = max(z − τ, 0)`` with τ chosen so that ``Σ p = 1``.
* entmax-1.5 (Peters et al. 2019): ``p = max(z/2 − τ, 0)²``; smoother than sparsemax, still sparse.

On CPU the forward passes run as compiled kernels when they can be built
(:func:`gridcrit.models.tabnet.native.mask_kernels`): one pass per row doing exactly the
operations written below, so the results are bit-identical; ``*_forward_torch`` are the PyTorch
versions, used otherwise.

Each normaliser is a pair of plain tensor kernels, ``forward(z) -> p`` and
``backward(p, grad_p) -> grad_z``, with closed-form backward passes (the Jacobians only involve
the support, so no sort appears in the backward pass). :data:`MASK_KERNELS` exposes the pairs so
the fused attentive-transformer step (:mod:`.layers`) can call them inside its own autograd
``Function``; :func:`sparsemax` / :func:`entmax15` wrap them as stand-alone autograd functions.

Example::

    >>> import torch
    >>> from gridcrit.models.tabnet.sparsemax import sparsemax
    >>> sparsemax(torch.tensor([[3.0, 1.0, 0.1]]))
    tensor([[1., 0., 0.]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.autograd import Function

from gridcrit.models.tabnet import native

# 1..d along the last dim, cached per (d, dtype, device): creating it is a dispatcher call per step
_ARANGE: dict[tuple[int, torch.dtype, torch.device], Tensor] = {}


def _arange_like(z: Tensor, d: int) -> Tensor:
    key = (d, z.dtype, z.device)
    r = _ARANGE.get(key)
    if r is None:
        r = _ARANGE[key] = torch.arange(1, d + 1, device=z.device, dtype=z.dtype)
    # shape [1, ..., 1, d] so it broadcasts along the last dim
    return r if z.dim() == 1 else r.view([1] * (z.dim() - 1) + [d])


def _compiled(z: Tensor) -> Any | None:
    """The compiled mask kernels if they apply to ``z`` (contiguous 2-D float CPU tensor), else None."""
    if z.dim() == 2 and z.dtype in (torch.float32, torch.float64) and z.device.type == "cpu" and z.is_contiguous():
        return native.mask_kernels()
    return None


def sparsemax_forward(z: Tensor) -> Tensor:
    """sparsemax along the last dimension (compiled when possible, same results as :func:`sparsemax_forward_torch`)."""
    nk = _compiled(z)
    return nk.sparsemax_fwd(z) if nk is not None else sparsemax_forward_torch(z)


def entmax15_forward(z: Tensor) -> Tensor:
    """entmax-1.5 along the last dimension (compiled when possible, same results as :func:`entmax15_forward_torch`)."""
    nk = _compiled(z)
    if nk is None:
        return entmax15_forward_torch(z)
    zz, s, mean, delta = nk.entmax15_prep(z)
    return nk.entmax15_finish(zz, s, mean, torch.sqrt(delta))  # ATen's sqrt, as in the PyTorch path


def sparsemax_forward_torch(z: Tensor) -> Tensor:
    """sparsemax along the last dimension (sort-based exact algorithm).

    With ``z`` sorted descending and ``f(k) = (Σ_{j≤k} z_(j) − 1) / k``, the threshold is
    ``τ = max_k f(k)``: ``f(k+1) > f(k)`` exactly when ``1 + k·z_(k+1) > Σ_{j≤k} z_(j)``, which is
    the support condition, so ``f`` rises up to the support size and falls after it. This needs
    no support count / gather (7 tensor operations in all).
    """
    z_sorted = torch.sort(z, dim=-1, descending=True)[0]
    tau = z_sorted.cumsum_(dim=-1).sub_(1.0).div_(_arange_like(z, z.shape[-1])).amax(dim=-1, keepdim=True)
    return (z - tau).clamp_(min=0.0)


def sparsemax_backward(out: Tensor, grad_out: Tensor) -> Tensor:
    """Gradient of sparsemax: on the support, ``g − mean_support(g)``; 0 elsewhere."""
    supp = (out > 0).to(grad_out.dtype)
    g = grad_out * supp
    v_hat = g.sum(dim=-1, keepdim=True).div_(supp.sum(dim=-1, keepdim=True))
    return g.sub_(supp.mul_(v_hat))


def entmax15_forward_torch(z: Tensor) -> Tensor:
    """entmax with α = 1.5 along the last dimension (exact sort-based algorithm)."""
    z = z / 2.0
    z = z - z.amax(dim=-1, keepdim=True)
    z_sorted = torch.sort(z, dim=-1, descending=True)[0]
    d = z.shape[-1]
    rho = _arange_like(z, d)
    mean = z_sorted.cumsum(dim=-1) / rho
    mean_sq = (z_sorted * z_sorted).cumsum(dim=-1) / rho
    ss = rho * (mean_sq - mean * mean)
    delta = (1.0 - ss) / rho
    tau = mean - torch.sqrt(torch.clamp(delta, min=0.0))
    support_size = (tau <= z_sorted).sum(dim=-1, keepdim=True)
    tau_star = tau.gather(-1, support_size - 1)
    return torch.clamp(z - tau_star, min=0.0) ** 2


def entmax15_backward(out: Tensor, grad_out: Tensor) -> Tensor:
    gppr = out.sqrt()
    dx = grad_out * gppr
    q = dx.sum(dim=-1, keepdim=True) / gppr.sum(dim=-1, keepdim=True)
    return dx.sub_(q * gppr)


def softmax_forward(z: Tensor) -> Tensor:
    return torch.softmax(z, dim=-1)


def softmax_backward(out: Tensor, grad_out: Tensor) -> Tensor:
    return torch._softmax_backward_data(grad_out, out, -1, out.dtype)


class _MaskFunction(Function):
    """Autograd wrapper around a (forward, backward) kernel pair."""

    @staticmethod
    def forward(ctx, z: Tensor, kernels: tuple[Callable, Callable]) -> Tensor:  # type: ignore[override]
        out = kernels[0](z)
        ctx.save_for_backward(out)
        ctx.kernels = kernels
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        (out,) = ctx.saved_tensors
        return ctx.kernels[1](out, grad_out), None


MASK_KERNELS: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor, Tensor], Tensor]]] = {
    "sparsemax": (sparsemax_forward, sparsemax_backward),
    "entmax": (entmax15_forward, entmax15_backward),
    "entmax15": (entmax15_forward, entmax15_backward),
    "softmax": (softmax_forward, softmax_backward),
}


def sparsemax(z: Tensor) -> Tensor:
    """sparsemax over the last dimension; rows sum to 1."""
    return _MaskFunction.apply(z, MASK_KERNELS["sparsemax"])


def entmax15(z: Tensor) -> Tensor:
    """entmax-1.5 over the last dimension; rows sum to 1."""
    return _MaskFunction.apply(z, MASK_KERNELS["entmax"])


MASK_FUNCTIONS = {
    "sparsemax": sparsemax, "entmax": entmax15, "entmax15": entmax15, "softmax": lambda z: torch.softmax(z, dim=-1),
}
