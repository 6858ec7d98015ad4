"""TabNet networks: input embedder, encoder, decoder (for pretraining) and prediction head.

Architecture (Arik & Pfister, AAAI 2021)::

    x_num [B, n_num] ─┐
    x_cat [B, n_cat] ─┴─> Embedder ─> x [B, d] ─> BN ─> FeatureTransformer_0 ─> a₀ (last n_a columns)
                                                   │
        for step i = 1..N_steps:                   ▼
            M_i = AttentiveTransformer_i(a_{i−1}, prior)        [B, f]   (one weight per input feature)
            prior ← prior ⊙ (γ − M_i)
            [d_i | a_i] = FeatureTransformer_i(M_i[:, group] ⊙ x)   [B, n_d + n_a]
            out += ReLU(d_i)                                     [B, n_d]
        ŷ = Linear(out)                                          [B, n_outputs]

``f`` counts the user's input features; a feature may span several columns of ``x`` (a categorical
embedding, or a numeric value plus its is-missing indicator); ``group_index[d] → f`` maps columns of
``x`` to the feature whose mask weight they share.

Training speed: in training mode the encoder runs as ONE autograd node (:class:`_EncoderFunction`)
with a hand-written backward built from the fused layer kernels of :mod:`.layers`; the maths is the
module-by-module forward used in evaluation (``tests/test_tabnet_fused.py`` checks both agree).

Example::

    >>> net = TabNetNetwork(n_num=11, cat_cardinalities=[], cat_emb_dim=1, group_index=list(range(11)),
    ...                     n_features=11, n_outputs=2)
    >>> logits, m_loss = net(torch.randn(256, 11), torch.zeros(256, 0, dtype=torch.long))
    >>> logits.shape
    torch.Size([256, 2])
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.autograd import Function

from gridcrit.models.tabnet.layers import (
    AttentiveTransformer,
    FeatureTransformer,
    _init_glu,
    attentive_backward,
    attentive_forward,
    flush_running_stats,
    glu_affine_mult,
    glu_chain_backward,
    glu_chain_forward,
    tile,
    untile_sum,
)


class Embedder(nn.Module):
    """Concatenates numeric columns with embeddings of categorical codes.

    ::

        x_num [B, n_num], x_cat [B, n_cat] (codes; 0 = unseen/missing)
          ─> [x_num | Emb(x_cat + offsets).flatten()]  [B, n_num + n_cat·emb_dim]

    All categorical columns share one embedding table (with per-column offsets) so one lookup serves
    every column.
    """

    def __init__(self, n_num: int, cat_cardinalities: list[int], cat_emb_dim: int):
        super().__init__()
        self.n_num = n_num
        self.n_cat = len(cat_cardinalities)
        self.cat_emb_dim = cat_emb_dim
        self.output_dim = n_num + self.n_cat * cat_emb_dim
        if self.n_cat:
            # +1 per column: index 0 of every column is the reserved unseen/missing category
            sizes = [c + 1 for c in cat_cardinalities]
            offsets = torch.tensor([0, *list(torch.tensor(sizes).cumsum(0)[:-1].tolist())], dtype=torch.long)
            self.register_buffer("offsets", offsets)
            self.embedding = nn.Embedding(int(sum(sizes)), cat_emb_dim)
        else:
            self.embedding = None

    def forward(self, x_num: Tensor, x_cat: Tensor) -> Tensor:
        if self.embedding is None:
            return x_num
        emb = self.embedding(x_cat + self.offsets).reshape(x_cat.shape[0], -1)
        return torch.cat([x_num, emb], dim=1) if self.n_num else emb


class TabNetEncoder(nn.Module):
    """The sequential-attention encoder (see module docstring for the drawing).

    Input ``x [B, d]`` (already embedded), optional ``prior [B, f]``. ``forward`` returns the
    per-step decision outputs ``ReLU(d_i)`` stacked ``[n_steps, B, n_d]`` and the mask-entropy term
    used by λ_sparse.
    """

    def __init__(
        self,
        input_dim: int,
        n_features: int,
        group_index: list[int],
        n_d: int = 8,
        n_a: int = 8,
        n_steps: int = 3,
        gamma: float = 1.3,
        n_independent: int = 2,
        n_shared: int = 2,
        virtual_batch_size: int = 128,
        momentum: float = 0.02,
        mask_type: str = "sparsemax",
        epsilon: float = 1e-15,
    ):
        super().__init__()
        self.input_dim, self.n_features = input_dim, n_features
        self.n_d, self.n_a, self.n_steps, self.gamma, self.epsilon = n_d, n_a, n_steps, gamma, epsilon
        gi = torch.tensor(group_index, dtype=torch.long)
        self.register_buffer("group_index", gi)
        # skip the gather when every column is its own feature (plain numeric input)
        self.identity_groups = input_dim == n_features and bool((gi == torch.arange(n_features)).all())
        self.initial_bn = nn.BatchNorm1d(input_dim, momentum=0.01)
        hidden = n_d + n_a
        if n_shared > 0:
            self.shared_fcs = nn.ModuleList(
                [nn.Linear(input_dim if i == 0 else hidden, 2 * hidden, bias=False) for i in range(n_shared)]
            )
        else:
            self.shared_fcs = None
        ft = lambda: FeatureTransformer(input_dim, hidden, self.shared_fcs, n_independent, virtual_batch_size, momentum)  # noqa: E731
        self.initial_splitter = ft()
        self.feat_transformers = nn.ModuleList([ft() for _ in range(n_steps)])
        self.att_transformers = nn.ModuleList(
            [AttentiveTransformer(n_a, n_features, virtual_batch_size, momentum, mask_type) for _ in range(n_steps)]
        )

    def expand_mask(self, m: Tensor) -> Tensor:
        """Feature-level mask ``[B, f]`` → column-level mask ``[B, d]``."""
        return m if self.identity_groups else m.index_select(1, self.group_index)

    def forward(self, x: Tensor, prior: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Returns the per-step decision outputs ``ReLU(d_i)`` stacked ``[n_steps, B, n_d]`` and the
        mask-entropy term ``mean_rows,steps Σ_f M log(M + ε)`` used by λ_sparse.

        In training every ghost BN queues its running-statistics update and they are applied
        together at the end (:func:`~.layers.flush_running_stats`): the same update, fewer operators.
        """
        x = self.initial_bn(x)
        if self.training:
            sp = self._fused_spec()
            n = self.att_transformers[0].bn.fused_chunks(x.shape[0]) if sp.ok else 0
            if n:
                pending: list = []
                steps, m_loss = _EncoderFunction.apply(x.contiguous(), prior, self, n, pending, *sp.params())
                flush_running_stats(pending)
                return steps, m_loss
        return self._forward_modules(x, prior)

    def _fused_spec(self) -> _EncoderSpec:
        spec = self.__dict__.get("_spec_cache")
        if spec is None:
            spec = self.__dict__["_spec_cache"] = _EncoderSpec(self)
        return spec

    def _forward_modules(self, x: Tensor, prior: Tensor | None) -> tuple[Tensor, Tensor]:
        """Module-by-module forward (evaluation, and training batches with a ragged virtual batch)."""
        decisions, masks, _ = self._run_steps(x, prior, with_importances=False)
        return self._steps_and_mask_loss(decisions, masks)

    def _run_steps(self, x: Tensor, prior: Tensor | None,
                   with_importances: bool) -> tuple[list[Tensor], list[Tensor], Tensor | None]:
        """The decision steps module by module on the normalised input: each step's decision output
        ``d_i``, mask ``M_i`` and, with ``with_importances``, ``Σ_i η_i M_i`` with ``η_i = Σ_c ReLU(d_i)_c``
        (the paper's M_agg). In training the ghost BNs' running statistics are updated once, at the end."""
        pending: list | None = [] if self.training else None
        if prior is None:
            prior = torch.ones(x.shape[0], self.n_features, dtype=x.dtype)
        att = self.initial_splitter(x, pending)[:, self.n_d :]
        masks, decisions = [], []
        agg = torch.zeros(x.shape[0], self.n_features, dtype=x.dtype) if with_importances else None
        for step in range(self.n_steps):
            m = self.att_transformers[step](prior, att, pending)
            masks.append(m)
            if step + 1 < self.n_steps:  # the last step's prior is never used
                prior = (self.gamma - m) * prior
            out = self.feat_transformers[step](self.expand_mask(m) * x, pending)
            d, att = out.split([self.n_d, self.n_a], dim=1)
            decisions.append(d)
            if agg is not None:
                agg = agg + m * torch.relu(d).sum(dim=1, keepdim=True)
        if pending:
            flush_running_stats(pending)
        return decisions, masks, agg

    def _steps_and_mask_loss(self, decisions: list[Tensor], masks: list[Tensor]) -> tuple[Tensor, Tensor]:
        steps = torch.relu(torch.stack(decisions))
        mk = torch.stack(masks)
        m_loss = (mk * torch.log(mk + self.epsilon)).sum() / (mk.shape[0] * mk.shape[1])
        return steps, m_loss

    def forward_with_importances(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`forward` plus the aggregated importances ``Σ_i η_i M_i`` ``[B, f]`` (unnormalised)
        *with* their gradient — for training against target importances (distillation). Runs the
        module-by-module path (the fused training function does not return the masks)."""
        decisions, masks, agg = self._run_steps(self.initial_bn(x), None, with_importances=True)
        return (*self._steps_and_mask_loss(decisions, masks), agg)

    def forward_masks(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Aggregated importances ``[B, f]`` (unnormalised) and per-step masks ``[steps, B, f]``.

        A step's mask is weighted by how much that step contributes to the decision:
        ``η_i = Σ_c ReLU(d_i)_c`` (paper eq. for M_agg).
        """
        _, masks, agg = self._run_steps(self.initial_bn(x), None, with_importances=True)
        return agg, torch.stack(masks)


class _EncoderSpec:
    """The encoder's layers flattened for :class:`_EncoderFunction` (built once per encoder).

    ``params`` order: unique GLU linear weights (the shared ones once), every GLU layer's ghost-BN
    γ then β (chain by chain), then per step the attentive linear weight, γ and β.
    """

    def __init__(self, enc: TabNetEncoder):
        chains = [enc.initial_splitter, *enc.feat_transformers]
        self.chains = []  # per chain: (first global layer, bns, residual flags, scale)
        layers, fc_ids, self.fc_of_layer = [], {}, []
        self.fcs: list[nn.Parameter] = []
        for ft in chains:
            ft_layers, residual, scale = ft._chain()
            self.chains.append((len(layers), [lay.bn for lay in ft_layers], residual, scale))
            for lay in ft_layers:
                w = lay.fc.weight
                if id(w) not in fc_ids:
                    fc_ids[id(w)] = len(self.fcs)
                    self.fcs.append(w)
                self.fc_of_layer.append(fc_ids[id(w)])
            layers.extend(ft_layers)
        self.layers = layers
        self.atts = list(enc.att_transformers)
        widths = {lay.bn.num_features for lay in layers}
        # every chain needs ≥ 1 layer and one ghost-BN width (true for TabNet: 2·(n_d + n_a))
        self.ok = len(widths) == 1 and all(len(c[1]) > 0 for c in self.chains)
        self.n_fc, self.n_layers, self.n_steps = len(self.fcs), len(layers), len(self.atts)
        self.residual = [r for c in self.chains for r in c[2]]
        self.width = layers[0].bn.num_features if layers else 0
        self.scale = self.chains[0][3] if self.chains else 1.0

        # the Parameter objects never change (load_state_dict / .to() / FlatParameters update them in place)
        self._params = [
            *self.fcs,
            *[lay.bn.weight for lay in self.layers],
            *[lay.bn.bias for lay in self.layers],
            *[a.fc.weight for a in self.atts],
            *[a.bn.weight for a in self.atts],
            *[a.bn.bias for a in self.atts],
        ]

    def params(self) -> list[Tensor]:
        return self._params


class _EncoderFunction(Function):
    """The whole training forward of the encoder (after its input BN) as ONE autograd node.

    ``forward(x, prior, encoder, n_chunks, pending, *spec.params())`` → ``(steps [S, B, n_d],
    m_loss)``; the maths is :meth:`TabNetEncoder.forward`'s, step by step (GLU chains via
    :func:`~.layers.glu_chain_forward`, masks via :func:`~.layers.attentive_forward`). The backward
    is written out by hand, so the per-step glue (mask ⊙ x, prior updates, the split into d / a,
    ReLU, the entropy term) costs no autograd bookkeeping.
    """

    @staticmethod
    def forward(ctx, x, prior0, enc, n, pending, *params):  # type: ignore[override]
        sp: _EncoderSpec = enc._fused_spec()
        nf, nl, ns = sp.n_fc, sp.n_layers, sp.n_steps
        fcw = params[:nf]
        mult = glu_affine_mult(sp.residual, sp.width, sp.scale, x.dtype)
        gam = tile(list(params[nf : nf + nl]), n, mult)
        bet = tile(list(params[nf + nl : nf + 2 * nl]), n, mult)
        o = nf + 2 * nl
        aw = params[o : o + ns]
        agb = tile(list(params[o + ns : o + 3 * ns]), n)
        ag, ab = agb[:ns], agb[ns:]
        mask_fwd = sp.atts[0].kernels[0]
        nd, gamma_relax = enc.n_d, enc.gamma
        chain_saved, att_saved, outs, masks, mxs, priors, gms = [], [], [], [], [], [], []

        def run_chain(c: int, inp: Tensor) -> Tensor:
            start, bns, residual, scale = sp.chains[c]
            idx = range(start, start + len(bns))
            out, saved = glu_chain_forward(inp, bns, residual, scale, n, [fcw[sp.fc_of_layer[i]] for i in idx],
                                           [gam[i] for i in idx], [bet[i] for i in idx], pending)
            chain_saved.append(saved)
            return out

        att = run_chain(0, x)[:, nd:]
        prior = prior0
        for s in range(ns):
            m, sv = attentive_forward(att, prior, aw[s], ag[s], ab[s], sp.atts[s].bn, n, mask_fwd, pending)
            att_saved.append(sv)
            masks.append(m)
            priors.append(prior)
            if s + 1 < ns:  # the last step's prior is never used
                gm = torch.rsub(m, gamma_relax)
                gms.append(gm)
                prior = gm if prior is None else gm.mul(prior)
            mx = enc.expand_mask(m)
            mxs.append(mx)
            out = run_chain(s + 1, mx * x)
            outs.append(out)
            att = out[:, nd:]
        o_d = torch.stack(outs)[:, :, :nd]
        steps = torch.relu(o_d)
        mk = torch.stack(masks)
        mk_eps = mk + enc.epsilon
        log_m = torch.log(mk_eps)
        m_loss = torch.dot(mk.view(-1), log_m.view(-1)).div_(ns * x.shape[0])
        ctx.saved = (x, prior0, chain_saved, att_saved, masks, mxs, priors, gms, o_d, mk, mk_eps, log_m, fcw, gam, bet,
                     ag, aw, mult)
        ctx.meta = (enc, n)
        ctx.set_materialize_grads(False)  # an unused output (m_loss when pretraining) gets None
        return steps, m_loss

    @staticmethod
    def backward(ctx, d_steps, d_mloss):  # type: ignore[override]
        x, prior0, chain_saved, att_saved, masks, mxs, priors, gms, o_d, mk, mk_eps, log_m, fcw, gam, bet, ag, aw, mult = (
            ctx.saved
        )
        enc, n = ctx.meta
        ctx.saved = ctx.meta = None
        sp: _EncoderSpec = enc._fused_spec()
        nf, nl, ns = sp.n_fc, sp.n_layers, sp.n_steps
        b, nd, na = x.shape[0], enc.n_d, enc.n_a
        mask_bwd = sp.atts[0].kernels[1]
        d_fc: list[Tensor | None] = [None] * nf
        d_gam: list[Tensor] = [x] * nl
        d_bet: list[Tensor] = [x] * nl
        d_aw: list[Tensor] = [x] * ns
        d_ag: list[Tensor] = [x] * ns
        d_ab: list[Tensor] = [x] * ns

        def chain_back(c: int, g: Tensor, need_x: bool) -> Tensor | None:
            start, bns, residual, scale = sp.chains[c]
            idx = range(start, start + len(bns))
            dx, dw, dg, db = glu_chain_backward(g, chain_saved[c], bns, residual, scale, n,
                                                [fcw[sp.fc_of_layer[i]] for i in idx], [gam[i] for i in idx],
                                                [bet[i] for i in idx], need_x)
            for k, i in enumerate(idx):
                j = sp.fc_of_layer[i]
                d_fc[j] = dw[k] if d_fc[j] is None else d_fc[j].add_(dw[k])
                d_gam[i], d_bet[i] = dg[k], db[k]
            return dx

        d_d = None
        if d_steps is not None:
            d_d = torch.ops.aten.threshold_backward(d_steps, o_d, 0.0)  # ReLU
        d_m = None
        if d_mloss is not None:  # d/dM Σ M log(M + ε) = log(M + ε) + M / (M + ε)
            d_m = (mk / mk_eps).add_(log_m).mul_(d_mloss / (ns * b))
        zeros_d = x.new_zeros(b, nd) if d_d is None else None
        d_att = x.new_zeros(b, na)
        d_prior = None  # gradient w.r.t. the prior entering the step after s
        dx = None
        for s in range(ns - 1, -1, -1):
            d_out = torch.cat([d_d[s] if d_d is not None else zeros_d, d_att], dim=1)
            d_mx = chain_back(s + 1, d_out, True)
            t = d_mx * x
            if enc.identity_groups:
                dm = t
            else:
                dm = t.new_zeros(b, enc.n_features).index_add_(1, enc.group_index, t)
            dx = d_mx * mxs[s] if dx is None else dx.addcmul_(d_mx, mxs[s])
            if d_m is not None:
                dm = dm.add_(d_m[s])
            prior_s = priors[s]
            d_prior_s = None
            if d_prior is not None:  # prior_{s+1} = (γ − M_s) ⊙ prior_s
                if prior_s is None:
                    dm = dm.sub_(d_prior)
                else:
                    dm = dm.addcmul_(d_prior, prior_s, value=-1.0)
                    d_prior_s = d_prior * gms[s]
            need_prior = prior_s is not None and (s > 0 or ctx.needs_input_grad[1])
            d_att, dp, d_aw[s], d_ag[s], d_ab[s] = attentive_backward(
                dm, masks[s], prior_s, att_saved[s], aw[s], ag[s], sp.atts[s].bn, mask_bwd, need_prior, True
            )
            if dp is not None:
                d_prior_s = dp if d_prior_s is None else d_prior_s.add_(dp)
            d_prior = d_prior_s
        d_split = torch.cat([x.new_zeros(b, nd), d_att], dim=1)
        dx0 = chain_back(0, d_split, ctx.needs_input_grad[0])
        if dx0 is not None:
            dx = dx.add_(dx0)
        agb = untile_sum(d_ag + d_ab, n)
        gb = untile_sum(d_gam + d_bet, n, torch.cat([mult, mult]))
        grads = [*d_fc, *gb, *d_aw, *agb]
        d_prior0 = d_prior if (ctx.needs_input_grad[1] and prior0 is not None) else None
        return (dx if ctx.needs_input_grad[0] else None), d_prior0, None, None, None, *grads


class TabNetDecoder(nn.Module):
    """Reconstructs the embedded input from the encoder's per-step outputs (for pretraining).

    ::

        ReLU(d_i) [B, n_d] ─> FeatureTransformer_i ─> Σ_i ─> Linear ─> x̂ [B, d]
    """

    def __init__(self, input_dim: int, n_d: int, n_steps: int, n_independent: int = 1, n_shared: int = 1,
                 virtual_batch_size: int = 128, momentum: float = 0.02):
        super().__init__()
        shared = (
            nn.ModuleList([nn.Linear(n_d, 2 * n_d, bias=False) for _ in range(n_shared)]) if n_shared > 0 else None
        )
        self.shared_fcs = shared
        self.feat_transformers = nn.ModuleList(
            [FeatureTransformer(n_d, n_d, shared, n_independent, virtual_batch_size, momentum) for _ in range(n_steps)]
        )
        self.reconstruction = nn.Linear(n_d, input_dim, bias=False)

    def forward(self, steps: Tensor) -> Tensor:
        """``steps [n_steps, B, n_d]`` (the encoder's stacked decision outputs) → ``x̂ [B, d]``."""
        pending: list | None = [] if self.training else None
        res = self.feat_transformers[0](steps[0], pending)
        for i in range(1, len(self.feat_transformers)):
            res = res + self.feat_transformers[i](steps[i], pending)
        if pending:
            flush_running_stats(pending)
        return self.reconstruction(res)


def _arch_kwargs(cfg: dict) -> dict:
    keys = ("n_d", "n_a", "n_steps", "gamma", "n_independent", "n_shared", "virtual_batch_size", "momentum", "mask_type")
    return {k: cfg[k] for k in keys if k in cfg}


class TabNetNetwork(nn.Module):
    """Embedder + encoder + linear head: ``(x_num, x_cat) → (outputs [B, n_outputs], m_loss)``."""

    def __init__(self, n_num: int, cat_cardinalities: list[int], cat_emb_dim: int, group_index: list[int],
                 n_features: int, n_outputs: int, **arch):
        super().__init__()
        self.embedder = Embedder(n_num, cat_cardinalities, cat_emb_dim)
        self.encoder = TabNetEncoder(self.embedder.output_dim, n_features, group_index, **_arch_kwargs(arch))
        n_d = self.encoder.n_d
        self.head = nn.Linear(n_d, n_outputs, bias=False)

    def forward(self, x_num: Tensor, x_cat: Tensor) -> tuple[Tensor, Tensor]:
        steps, m_loss = self.encoder(self.embedder(x_num, x_cat))
        return self.head(steps.sum(0)), m_loss

    def forward_masks(self, x_num: Tensor, x_cat: Tensor) -> tuple[Tensor, Tensor]:
        return self.encoder.forward_masks(self.embedder(x_num, x_cat))

    def forward_with_importances(self, x_num: Tensor, x_cat: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(outputs, m_loss, importances [B, f])`` with gradients through the importances."""
        steps, m_loss, agg = self.encoder.forward_with_importances(self.embedder(x_num, x_cat))
        return self.head(steps.sum(0)), m_loss, agg


class TabNetPretrainNetwork(nn.Module):
    """Self-supervised TabNet: Bernoulli-mask features, encode the rest, decode all.

    ::

        S ~ Bernoulli(r) [B, f]   (1 = hidden)
        x ─> (1 − S[:, group]) ⊙ x ─> encoder(prior = 1 − S) ─> decoder ─> x̂
        loss = mean_rows Σ_cols ((x̂ − x) ⊙ S[:, group])² / var_batch(x) / Σ S
    """

    def __init__(self, n_num: int, cat_cardinalities: list[int], cat_emb_dim: int, group_index: list[int],
                 n_features: int, n_shared_decoder: int = 1, n_indep_decoder: int = 1, **arch):
        super().__init__()
        self.embedder = Embedder(n_num, cat_cardinalities, cat_emb_dim)
        kw = _arch_kwargs(arch)
        self.encoder = TabNetEncoder(self.embedder.output_dim, n_features, group_index, **kw)
        self.decoder = TabNetDecoder(
            self.embedder.output_dim, self.encoder.n_d, self.encoder.n_steps, n_indep_decoder, n_shared_decoder,
            kw.get("virtual_batch_size", 128), kw.get("momentum", 0.02),
        )

    def forward(self, x_num: Tensor, x_cat: Tensor, hidden: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``hidden [B, f]`` float 0/1. Returns (reconstruction, embedded input, column-level hidden)."""
        x = self.embedder(x_num, x_cat)
        hidden_cols = self.encoder.expand_mask(hidden)
        steps, _ = self.encoder((1.0 - hidden_cols) * x, prior=1.0 - hidden)
        return self.decoder(steps), x, hidden_cols


def reconstruction_loss(x_hat: Tensor, x: Tensor, hidden_cols: Tensor, eps: float = 1e-9) -> Tensor:
    """Masked reconstruction error, each column scaled by its batch variance (as in the paper)."""
    var = x.var(dim=0).detach()
    var = torch.where(var > 0, var, torch.ones_like(var))
    err = ((x_hat - x) * hidden_cols) ** 2
    per_row = (err / var).sum(dim=1) / (hidden_cols.sum(dim=1) + eps)
    return per_row.mean()


def init_weights(net: nn.Module, generator: torch.Generator) -> None:
    """Deterministic initialisation from ``generator`` (never the global RNG).

    GLU linears get Xavier-normal with the reference implementation's gain formula applied to the GLU
    width (the reference uses the linear's full width 2·out; see ``_init_glu``); the head and
    attention linears the reference's non-GLU gain; embeddings N(0, 1).
    """
    from gridcrit.models.tabnet.layers import GLULayer

    glu_fcs = {id(m.fc) for m in net.modules() if isinstance(m, GLULayer)}
    for module in net.modules():
        if isinstance(module, nn.Linear):
            fan_in, fan_out = module.in_features, module.out_features
            if id(module) in glu_fcs:
                _init_glu(module, fan_in, fan_out // 2, generator)  # see _init_glu: out, not 2·out
            else:
                gain = math.sqrt((fan_in + fan_out) / math.sqrt(4 * fan_in))
                nn.init.xavier_normal_(module.weight, gain=gain, generator=generator)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, generator=generator)

