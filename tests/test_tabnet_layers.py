"""sparsemax / entmax-1.5 and ghost batch norm."""

from __future__ import annotations

import warnings

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


def _mask_kernels():
    from gridcrit.models.tabnet import native

    nk = native.mask_kernels()
    if nk is None:
        pytest.skip("compiled mask kernels unavailable (no compiler, or GRIDCRIT_TABNET_NATIVE=0)")
    return nk


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_mask_forwards_are_bit_identical_to_pytorch(dtype):
    # the compiled forwards must change no result: same bits as the PyTorch operations they replace
    from gridcrit.models.tabnet import sparsemax as sm

    _mask_kernels()
    g = torch.Generator().manual_seed(3)
    cases = [torch.randn(r, d, generator=g, dtype=dtype) * scale
             for r, d in [(1024, 11), (37, 300), (5, 1), (64, 33), (100, 2)] for scale in (1e-3, 1.0, 30.0, 1e4)]
    cases.append(torch.randint(-3, 4, (512, 11), generator=g).to(dtype))  # ties
    cases.append(torch.zeros(4, 6, dtype=dtype))
    for z in cases:
        assert torch.equal(sm.sparsemax_forward(z), sm.sparsemax_forward_torch(z)), z.shape
        assert torch.equal(sm.entmax15_forward(z), sm.entmax15_forward_torch(z)), z.shape


def test_compiled_mask_forwards_turn_a_nan_row_into_nan():
    from gridcrit.models.tabnet import sparsemax as sm

    _mask_kernels()
    z = torch.randn(3, 5)
    z[1, 2] = float("nan")
    for fwd in (sm.sparsemax_forward, sm.entmax15_forward):
        p = fwd(z)
        assert torch.isnan(p[1]).all() and not torch.isnan(p[[0, 2]]).any()


@pytest.mark.parametrize("mask_type", ["sparsemax", "entmax"])
def test_training_is_identical_with_and_without_compiled_mask_forwards(mask_type, monkeypatch):
    import numpy as np

    from gridcrit.models.synthetic_benchmarks import make_syn
    from gridcrit.models.tabnet import TabNetClassifier, native

    _mask_kernels()
    X, y, _ = make_syn("Syn4", 2048, seed=0)

    def fit():
        clf = TabNetClassifier(n_d=8, n_a=8, n_steps=3, batch_size=512, virtual_batch_size=128, max_epochs=3,
                               mask_type=mask_type, seed=0, n_threads=1).fit(X, y)
        return clf.predict_proba(X), clf.explain(X[:256])[0]

    with_compiled = fit()
    monkeypatch.setattr(native, "mask_kernels", lambda: None)
    without = fit()
    assert np.array_equal(with_compiled[0], without[0]) and np.array_equal(with_compiled[1], without[1])


def test_mask_kernels_that_cannot_be_built_fall_back_with_one_warning(monkeypatch):
    from gridcrit.models.tabnet import native
    from gridcrit.models.tabnet import sparsemax as sm

    def no_compiler(**_):
        raise RuntimeError("compiler missing\nninja: build stopped: subcommand failed.")

    monkeypatch.setattr(native, "_build", no_compiler)
    native.built_masks.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="mask kernels could not be built .*ninja: build stopped"):
            assert native.built_masks() is None
        z = torch.randn(8, 5)
        with warnings.catch_warnings(record=True) as again:
            warnings.simplefilter("always")
            assert torch.equal(sm.sparsemax_forward(z), sm.sparsemax_forward_torch(z))
        assert not again, "the failed build is remembered: no second attempt, no second warning"
    finally:
        native.built_masks.cache_clear()  # the next caller loads the real module again


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
