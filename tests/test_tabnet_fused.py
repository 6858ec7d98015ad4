"""The fused training path (one autograd node per encoder, hand-written backward) computes exactly
what the module-by-module path computes: outputs, every parameter gradient and the ghost-BN
running statistics (float64, so agreement is to rounding error, not to a loose tolerance)."""

from __future__ import annotations

import pytest
import torch

from gridcrit.models.tabnet.network import TabNetNetwork, TabNetPretrainNetwork, init_weights


@pytest.fixture(params=["compiled", "aten"])
def kernel_path(request):
    """Run a test with the compiled GLU kernels (native.py) and with PyTorch's own kernels."""
    from gridcrit.models.tabnet import native

    if request.param == "compiled" and native.kernels() is None:
        pytest.skip("the compiled TabNet kernels cannot be built on this machine")
    old = native.set_enabled(request.param == "compiled")
    yield request.param
    native.set_enabled(old)


def _pair(cls, **kw):
    g = torch.Generator().manual_seed(0)
    a = cls(**kw).double()
    init_weights(a, g)
    with torch.no_grad():  # move γ/β away from 1/0 so their gradients are exercised
        for p in a.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.1)
    b = cls(**kw).double()
    b.load_state_dict(a.state_dict())
    return a.train(), b.train()


def _module_path(net):
    """Force the module-by-module forward (the reference maths) on ``net``."""
    net.encoder.forward = lambda x, prior=None: net.encoder._forward_modules(net.encoder.initial_bn(x), prior)
    return net


def _graph_nodes(t) -> set[str]:
    seen, todo, names = set(), [t.grad_fn], set()
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        names.add(type(fn).__name__)
        todo.extend(f for f, _ in fn.next_functions)
    return names


def _compare(a, b, loss_a, loss_b):
    loss_a.backward()
    loss_b.backward()
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert pa.grad is not None and pb.grad is not None, name
        assert torch.allclose(pa.grad, pb.grad, rtol=1e-9, atol=1e-12), name
    for (name, ba), (_, bb) in zip(a.named_buffers(), b.named_buffers(), strict=True):
        if ba.dtype.is_floating_point:
            assert torch.allclose(ba, bb, rtol=1e-9, atol=1e-12), name


@pytest.mark.parametrize("mask_type", ["sparsemax", "entmax", "softmax"])
@pytest.mark.parametrize("rows,vbs,cats", [(512, 128, False), (300, 64, True), (256, 300, False)])
def test_fused_classifier_matches_module_path(mask_type, rows, vbs, cats, kernel_path):
    card = [3, 5] if cats else []
    group = list(range(7)) + ([7, 8] if cats else [])
    kw = dict(n_num=7, cat_cardinalities=card, cat_emb_dim=1, group_index=group, n_features=7 + len(card),
              n_outputs=3, n_d=8, n_a=8, n_steps=3, gamma=1.5, momentum=0.1, virtual_batch_size=vbs,
              mask_type=mask_type)
    ref, fused = _pair(TabNetNetwork, **kw)
    _module_path(ref)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(rows, 7, generator=g, dtype=torch.float64)
    xc = torch.stack([torch.randint(0, 4, (rows,), generator=g), torch.randint(0, 6, (rows,), generator=g)], 1) \
        if cats else torch.zeros(rows, 0, dtype=torch.long)
    (oa, ma), (ob, mb) = ref(x, xc), fused(x, xc)
    assert "_EncoderFunctionBackward" in _graph_nodes(ob) and "_EncoderFunctionBackward" not in _graph_nodes(oa)
    assert torch.allclose(oa, ob, rtol=1e-10, atol=1e-12) and torch.allclose(ma, mb, rtol=1e-10, atol=1e-12)
    w = torch.randn(oa.shape, generator=g, dtype=torch.float64)
    _compare(ref, fused, (oa * w).sum() - 0.3 * ma, (ob * w).sum() - 0.3 * mb)


def test_fused_pretrainer_matches_module_path(kernel_path):
    kw = dict(n_num=6, cat_cardinalities=[], cat_emb_dim=1, group_index=list(range(6)), n_features=6, n_d=8, n_a=8,
              n_steps=3, virtual_batch_size=64)
    ref, fused = _pair(TabNetPretrainNetwork, **kw)
    _module_path(ref)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(256, 6, generator=g, dtype=torch.float64)
    hidden = torch.bernoulli(torch.full((256, 6), 0.3, dtype=torch.float64), generator=g)
    xc = torch.zeros(256, 0, dtype=torch.long)
    ra, rb = ref(x, xc, hidden), fused(x, xc, hidden)
    assert "_EncoderFunctionBackward" in _graph_nodes(rb[0])
    assert torch.allclose(ra[0], rb[0], rtol=1e-10, atol=1e-12)
    from gridcrit.models.tabnet.network import reconstruction_loss

    _compare(ref, fused, reconstruction_loss(*ra), reconstruction_loss(*rb))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n,residual", [(1, False), (4, True), (8, False)])
def test_compiled_bn_glu_kernels_match_aten(dtype, n, residual):
    from gridcrit.models.tabnet import native

    nk = native.kernels()
    if nk is None:
        pytest.skip("the compiled TabNet kernels cannot be built on this machine")
    g = torch.Generator().manual_seed(3)
    b, f2 = 96 * n, 20
    h = torch.randn(b, f2, generator=g, dtype=dtype) * 3 + 1
    gam = torch.rand(n * f2, generator=g, dtype=dtype) + 0.5
    bet = torch.randn(n * f2, generator=g, dtype=dtype)
    x = torch.randn(b, f2 // 2, generator=g, dtype=dtype) if residual else None
    dout = torch.randn(b, f2 // 2, generator=g, dtype=dtype)
    y, mean, inv = torch.native_batch_norm(h.view(b // n, n * f2), gam, bet, None, None, True, 0.0, 1e-5)
    o = torch.nn.functional.glu(y.view(b, f2), -1)
    if residual:
        o = o + 0.7 * x
    dy = torch.ops.aten.glu_backward(dout, y.view(b, f2), -1)
    dh, dgam, dbet = torch.ops.aten.native_batch_norm_backward(
        dy.view(b // n, n * f2), h.view(b // n, n * f2), gam, None, None, mean, inv, True, 1e-5, [True] * 3
    )
    tol = {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-5}
    o2, mean2, inv2 = nk.bn_glu_fwd(h, n, gam, bet, 1e-5, x, 0.7)
    for got, want in ((o2, o), (mean2, mean), (inv2, inv)):
        assert torch.allclose(got, want, **tol)
    dh2, dgam2, dbet2 = nk.bn_glu_bwd(dout, h, n, mean, inv, gam, bet)
    for got, want in ((dh2, dh.view(b, f2)), (dgam2, dgam), (dbet2, dbet)):
        assert torch.allclose(got, want, **tol)


def test_glu_linears_get_the_documented_xavier_gain():
    """A GLU linear ``in → 2·out`` is Xavier-normal with gain² = (in + out) / √in (layers._init_glu), so
    the weights' std is √(2·(in + out) / ((in + 2·out)·√in)); pytorch-tabnet's gain (in + 2·out) would
    give √2 / in^¼."""
    from gridcrit.models.tabnet.layers import GLULayer

    net = TabNetNetwork(64, [], 1, list(range(64)), 64, 1, n_d=32, n_a=32, n_steps=1)
    init_weights(net, torch.Generator().manual_seed(0))
    first = next(m for m in net.modules() if isinstance(m, GLULayer))
    w = first.fc.weight.detach()
    assert w.shape == (128, 64)
    expect = (2 * (64 + 64) / ((64 + 128) * 64**0.5)) ** 0.5  # 0.408; the reference's gain gives 0.500
    assert abs(float(w.std()) - expect) < 0.02
