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

from gridcrit.models.tabnet.layers import AttentiveTransformer, FeatureTransformer, _init_glu


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

    Input ``x [B, d]`` (already embedded), optional ``prior [B, f]``. ``forward`` returns the list of
    per-step decision outputs ``ReLU(d_i) [B, n_d]`` and the mask-entropy term used by λ_sparse.
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

    def forward(self, x: Tensor, prior: Tensor | None = None) -> tuple[list[Tensor], Tensor]:
        x = self.initial_bn(x)
        if prior is None:
            prior = torch.ones(x.shape[0], self.n_features, dtype=x.dtype)
        m_loss = x.new_zeros(())
        att = self.initial_splitter(x)[:, self.n_d :]
        outs = []
        for step in range(self.n_steps):
            m = self.att_transformers[step](prior, att)
            m_loss = m_loss + (m * torch.log(m + self.epsilon)).sum(dim=1).mean()
            prior = (self.gamma - m) * prior
            out = self.feat_transformers[step](self.expand_mask(m) * x)
            outs.append(torch.relu(out[:, : self.n_d]))
            att = out[:, self.n_d :]
        return outs, m_loss / self.n_steps

    def forward_masks(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Aggregated importances ``[B, f]`` (unnormalised) and per-step masks ``[steps, B, f]``.

        A step's mask is weighted by how much that step contributes to the decision:
        ``η_i = Σ_c ReLU(d_i)_c`` (paper eq. for M_agg).
        """
        x = self.initial_bn(x)
        prior = torch.ones(x.shape[0], self.n_features, dtype=x.dtype)
        att = self.initial_splitter(x)[:, self.n_d :]
        agg = torch.zeros(x.shape[0], self.n_features, dtype=x.dtype)
        masks = []
        for step in range(self.n_steps):
            m = self.att_transformers[step](prior, att)
            masks.append(m)
            prior = (self.gamma - m) * prior
            out = self.feat_transformers[step](self.expand_mask(m) * x)
            eta = torch.relu(out[:, : self.n_d]).sum(dim=1, keepdim=True)
            agg = agg + m * eta
            att = out[:, self.n_d :]
        return agg, torch.stack(masks)


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

    def forward(self, steps: list[Tensor]) -> Tensor:
        res = 0.0
        for ft, s in zip(self.feat_transformers, steps, strict=True):
            res = res + ft(s)
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
        outs, m_loss = self.encoder(self.embedder(x_num, x_cat))
        return self.head(torch.stack(outs).sum(0) if len(outs) > 1 else outs[0]), m_loss

    def forward_masks(self, x_num: Tensor, x_cat: Tensor) -> tuple[Tensor, Tensor]:
        return self.encoder.forward_masks(self.embedder(x_num, x_cat))


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

    GLU linears get the reference implementation's Xavier gain; the head and attention linears the
    reference's non-GLU gain; embeddings N(0, 1).
    """
    from gridcrit.models.tabnet.layers import GLULayer

    glu_fcs = {id(m.fc) for m in net.modules() if isinstance(m, GLULayer)}
    for module in net.modules():
        if isinstance(module, nn.Linear):
            fan_in, fan_out = module.in_features, module.out_features
            if id(module) in glu_fcs:
                _init_glu(module, fan_in, fan_out // 2, generator)
            else:
                gain = math.sqrt((fan_in + fan_out) / math.sqrt(4 * fan_in))
                nn.init.xavier_normal_(module.weight, gain=gain, generator=generator)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, generator=generator)

