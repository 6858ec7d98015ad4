"""sparsemax / entmax-1.5 and ghost batch norm."""

from __future__ import annotations

import pytest
import torch

from gridcrit.models.tabnet.layers import GhostBatchNorm
from gridcrit.models.tabnet.sparsemax import entmax15, sparsemax


@pytest.mark.parametrize("fn", [sparsemax, entmax15])
def test_rows_sum_to_one_and_are_sparse(fn):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(64, 11, generator=g) * 3
    p = fn(z)
    assert torch.allclose(p.sum(1), torch.ones(64), atol=1e-5)
    assert (p >= 0).all()
    assert (p == 0).any(), "scaled scores should give exact zeros"


def test_sparsemax_known_values():
    p = sparsemax(torch.tensor([[3.0, 1.0, 0.1], [0.5, 0.5, 0.0]]))
    assert torch.allclose(p, torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]))


def test_entmax_matches_bisection_reference():
    # entmax-1.5: p = max(z/2 - tau, 0)^2 with tau solving sum p = 1 (solve by bisection)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(5, 7, generator=g, dtype=torch.float64)
    lo = (z / 2).max(1, keepdim=True).values - 1
    hi = (z / 2).max(1, keepdim=True).values
    for _ in range(100):
        mid = (lo + hi) / 2
        s = (torch.clamp(z / 2 - mid, min=0) ** 2).sum(1, keepdim=True)
        lo = torch.where(s > 1, mid, lo)
        hi = torch.where(s > 1, hi, mid)
    ref = torch.clamp(z / 2 - lo, min=0) ** 2
    assert torch.allclose(entmax15(z), ref, atol=1e-8)


@pytest.mark.parametrize("fn", [sparsemax, entmax15])
def test_gradcheck(fn):
    g = torch.Generator().manual_seed(2)
    z = torch.randn(6, 5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (z,), eps=1e-6, atol=1e-5)


def test_ghost_bn_matches_loop_of_batchnorms():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1024, 6, generator=g) * 2 + 1  # 1024 / 128 → 8 strided virtual batches
    gbn = GhostBatchNorm(6, virtual_batch_size=128, momentum=0.1)
    with torch.no_grad():
        gbn.weight.copy_(torch.arange(6.0) + 1)
        gbn.bias.fill_(0.5)
    y = gbn(x)
    ref = torch.empty_like(x)
    for c in range(8):
        ref[c::8] = torch.nn.functional.batch_norm(x[c::8], None, None, gbn.weight, gbn.bias, training=True)
    assert torch.allclose(y, ref, atol=1e-5)
    assert not torch.allclose(gbn.running_mean, torch.zeros(6))
    # running stats: mean of the virtual-batch statistics with momentum 1 - (1 - m)^8
    eff = 1 - 0.9**8
    assert torch.allclose(gbn.running_mean, eff * x.mean(0), atol=1e-4)
    gbn.eval()
    assert gbn(x).shape == x.shape


def test_ghost_bn_with_ragged_tail_and_gradients():
    x = torch.randn(130, 3, generator=torch.Generator().manual_seed(4), requires_grad=True)
    gbn = GhostBatchNorm(3, virtual_batch_size=64)  # 3 virtual batches of 43 rows + a tail of 1
    y = gbn(x)
    ref_main = torch.empty(129, 3)
    for c in range(3):
        ref_main[c::3] = torch.nn.functional.batch_norm(x[:129][c::3].detach(), None, None, training=True)
    assert torch.allclose(y[:129], ref_main, atol=1e-5)
    y.square().sum().backward()
    assert torch.isfinite(x.grad).all()
