"""Sparse attention normalisers: sparsemax and entmax-1.5 (rows sum to 1, exact zeros allowed).

Both map a score vector ``z ∈ R^f`` to the probability simplex like softmax does, but can put
exactly zero weight on features — which is what makes TabNet's masks readable.

* sparsemax (Martins & Astudillo 2016): Euclidean projection onto the simplex,
  ``p = max(z − τ, 0)`` with τ chosen so that ``Σ p = 1``.
* entmax-1.5 (Peters et al. 2019): ``p = max(z/2 − τ, 0)²``; smoother than sparsemax, still sparse.

Both are written as ``torch.autograd.Function`` with closed-form backward passes (the Jacobians
only involve the support), so no sort appears in the backward graph.

Example::

    >>> import torch
    >>> from gridcrit.models.tabnet.sparsemax import sparsemax
    >>> sparsemax(torch.tensor([[3.0, 1.0, 0.1]]))
    tensor([[1., 0., 0.]])
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd import Function


def _arange_like(z: Tensor, d: int) -> Tensor:
    # shape [1, ..., 1, d] so it broadcasts along the last dim
    view = [1] * (z.dim() - 1) + [d]
    return torch.arange(1, d + 1, device=z.device, dtype=z.dtype).view(view)


class SparsemaxFunction(Function):
    """sparsemax along the last dimension."""

    @staticmethod
    def forward(ctx, z: Tensor) -> Tensor:  # type: ignore[override]
        z = z - z.amax(dim=-1, keepdim=True)  # shift for stability (sparsemax is shift-invariant)
        z_sorted, _ = torch.sort(z, dim=-1, descending=True)
        cumsum = z_sorted.cumsum(dim=-1) - 1.0
        k = _arange_like(z, z.shape[-1])
        support = k * z_sorted > cumsum
        k_z = support.sum(dim=-1, keepdim=True)
        tau = cumsum.gather(-1, k_z - 1) / k_z.to(z.dtype)
        out = torch.clamp(z - tau, min=0.0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> Tensor:  # type: ignore[override]
        (out,) = ctx.saved_tensors
        supp = (out > 0).to(grad_out.dtype)
        g = grad_out * supp
        v_hat = g.sum(dim=-1, keepdim=True) / supp.sum(dim=-1, keepdim=True)
        return supp * (grad_out - v_hat)


class Entmax15Function(Function):
    """entmax with α = 1.5 along the last dimension (exact sort-based algorithm)."""

    @staticmethod
    def forward(ctx, z: Tensor) -> Tensor:  # type: ignore[override]
        z = z / 2.0
        z = z - z.amax(dim=-1, keepdim=True)
        z_sorted, _ = torch.sort(z, dim=-1, descending=True)
        d = z.shape[-1]
        rho = _arange_like(z, d)
        mean = z_sorted.cumsum(dim=-1) / rho
        mean_sq = (z_sorted * z_sorted).cumsum(dim=-1) / rho
        ss = rho * (mean_sq - mean * mean)
        delta = (1.0 - ss) / rho
        tau = mean - torch.sqrt(torch.clamp(delta, min=0.0))
        support_size = (tau <= z_sorted).sum(dim=-1, keepdim=True)
        tau_star = tau.gather(-1, support_size - 1)
        out = torch.clamp(z - tau_star, min=0.0) ** 2
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> Tensor:  # type: ignore[override]
        (out,) = ctx.saved_tensors
        gppr = out.sqrt()
        dx = grad_out * gppr
        q = dx.sum(dim=-1, keepdim=True) / gppr.sum(dim=-1, keepdim=True)
        return dx - q * gppr


def sparsemax(z: Tensor) -> Tensor:
    """sparsemax over the last dimension; rows sum to 1."""
    return SparsemaxFunction.apply(z)


def entmax15(z: Tensor) -> Tensor:
    """entmax-1.5 over the last dimension; rows sum to 1."""
    return Entmax15Function.apply(z)


MASK_FUNCTIONS = {"sparsemax": sparsemax, "entmax": entmax15, "entmax15": entmax15, "softmax": lambda z: torch.softmax(z, dim=-1)}
