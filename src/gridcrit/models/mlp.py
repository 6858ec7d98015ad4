"""A compact MLP for tables, and the training loop shared by the zoo's neural models.

:class:`NeuralTabularModel` holds what every torch model of the zoo needs: the
:class:`NeuralEncoder` (standardisation, NaN -> mean + missing flags, categorical codes with an
"unknown" slot, and ``log1p`` of heavy-tailed non-negative columns such as counts, customers or
past SAIFI, whose raw z-scores would be dominated by a few huge values), task heads and losses
(squared error on the standardised target, Poisson NLL with a log link and its output bias started
at ``log(mean y)``, cross-entropy), mini-batch AdamW with a warm-up + cosine learning-rate schedule
that is driven by the share of the epoch *or time* budget used (so a time-budgeted fit still ends at
a small learning rate), early stopping on ``eval_set`` (or on a held-out ``validation_fraction`` of
the training rows) checked every ``eval_every`` rows, a ``time_budget`` (CPU seconds of the
process) so a fit never overruns a benchmark, and ``weights.safetensors`` persistence.

Example::

    >>> import numpy as np, pandas as pd
    >>> from gridcrit.models.mlp import MLPModel
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=500), "c": rng.choice(["x", "y"], 500)})
    >>> y = 3 * X["a"] + (X["c"] == "x")
    >>> m = MLPModel(max_epochs=30).fit(X, y)
    >>> float(np.mean((m.predict(X) - y) ** 2)) < 0.5
    True
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from gridcrit.models.base import TabularEncoder, ZooModel
from gridcrit.runtime import configure_threads


def heavy_tail_scales(X: pd.DataFrame, skew_threshold: float = 2.0, max_rows: int = 200_000) -> dict[str, float]:
    """``{column: s}`` for numeric columns with no negative value and skewness > ``skew_threshold``;
    ``s`` is the median of the positive values (the unit of :func:`log_heavy_tails`)."""
    sample = X if len(X) <= max_rows else X.sample(max_rows, random_state=0)
    out: dict[str, float] = {}
    for c in sample.columns:
        if not pd.api.types.is_numeric_dtype(sample[c]) or pd.api.types.is_bool_dtype(sample[c]):
            continue
        v = pd.to_numeric(sample[c], errors="coerce").astype(float)
        v = v[np.isfinite(v.to_numpy())]
        if len(v) < 10 or v.min() < 0 or v.nunique() < 3:
            continue
        if float(v.skew()) > skew_threshold:
            pos = v[v > 0]
            out[str(c)] = float(pos.median()) if len(pos) else 1.0
    return out


def log_heavy_tails(X: pd.DataFrame, scales: dict[str, float]) -> pd.DataFrame:
    """``X`` with each column ``c`` of ``scales`` replaced by ``log1p(max(x, 0) / scales[c])`` (NaN kept)."""
    cols = [c for c in scales if c in X.columns]
    if not cols:
        return X
    return X.assign(**{c: np.log1p(np.clip(pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float), 0, None)
                                   / scales[c]) for c in cols})


class NeuralEncoder(TabularEncoder):
    """:class:`TabularEncoder` that first maps heavy-tailed non-negative numeric columns to
    ``log1p(x / s)`` (``s`` = median of the column's positive values, so the transform is unit-free).

    A column is "heavy-tailed" when it has no negative value and a sample skewness above
    ``skew_threshold`` (counts, customers, kVA, past SAIFI/SAIDI...). Standardising such a column
    raw puts almost every row at the same z-score and a few at +10 (clipped), which starves a neural
    net of resolution where most assets are; trees do not care, so only neural models use this.
    The choice and the scales are learned on the training rows and saved with the model.
    """

    def __init__(self, max_categories: int = 256, log_heavy_tails: bool = True, skew_threshold: float = 2.0):
        super().__init__(max_categories)
        self.log_heavy_tails = log_heavy_tails
        self.skew_threshold = skew_threshold
        self.log_scale: dict[str, float] = {}
        self.constant_cols: list[str] = []  # left out of the inputs (also: encoders saved before this field)

    def fit(self, X: pd.DataFrame) -> NeuralEncoder:
        self.log_scale = heavy_tail_scales(X, self.skew_threshold) if self.log_heavy_tails else {}
        super().fit(log_heavy_tails(X, self.log_scale))
        # constant numeric columns (one value, or none) carry nothing; for an FT-Transformer each one
        # is a token that every attention layer pays for. Left out; their attributions are 0.
        const = list(self._constant_num)
        if len(const) < len(self.num_cols) or self.cat_cols:
            self.num_cols = [c for c in self.num_cols if c not in const]
            self.nan_cols = [c for c in self.nan_cols if c not in const]
            self.constant_cols = const
        return self

    def _log(self, v: np.ndarray, c: str) -> np.ndarray:
        return np.log1p(np.clip(v, 0, None) / self.log_scale[c])  # NaN stays NaN (-> missing flag)

    def numeric_raw(self, X: pd.DataFrame) -> np.ndarray:
        raw = super().numeric_raw(X)
        if self.log_scale:
            raw = np.array(raw, dtype=float)  # pandas may hand back a read-only view
        for j, c in enumerate(self.num_cols):
            if c in self.log_scale:
                raw[:, j] = self._log(raw[:, j], c)
        return raw

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "log_heavy_tails": self.log_heavy_tails,
                "skew_threshold": self.skew_threshold, "log_scale": self.log_scale,
                "constant_cols": list(self.constant_cols)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> NeuralEncoder:
        enc = cls(d["max_categories"])
        for k, v in d.items():
            setattr(enc, k, v)
        enc.log_scale = dict(d.get("log_scale") or {})
        return enc


class CategoricalEmbeddings(nn.Module):
    """One embedding table per categorical column (index 0 = unknown/missing).

    ::

        codes [B, n_cat] --(table_j)--> [B, n_cat, d]
    """

    def __init__(self, cardinalities: list[int], d: int):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(c, d) for c in cardinalities)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        if not len(self.tables):
            return codes.new_zeros((codes.shape[0], 0, 1), dtype=torch.float32)
        return torch.stack([t(codes[:, j]) for j, t in enumerate(self.tables)], dim=1)


class MLP(nn.Module):
    """Plain MLP over standardised numbers and categorical embeddings.

    ::

        x_num [B, n_num] ─────────────────────────────┐
        x_cat [B, n_cat] ─ Embedding(d_emb) ─ flatten ┴─ concat [B, n_num + n_cat*d_emb]
          └─ (Linear ─ ReLU ─ Dropout) x n_layers ─ Linear ─ [B, n_out]

    Example::

        >>> import torch
        >>> net = MLP(n_num=3, cardinalities=[5], n_out=1)
        >>> net(torch.zeros(4, 3), torch.zeros(4, 1, dtype=torch.long)).shape
        torch.Size([4, 1])
    """

    def __init__(self, n_num: int, cardinalities: list[int], n_out: int, d_hidden: int = 256,
                 n_layers: int = 3, dropout: float = 0.1, d_emb: int = 8):
        super().__init__()
        self.emb = CategoricalEmbeddings(cardinalities, d_emb)
        d_in = n_num + len(cardinalities) * d_emb
        layers: list[nn.Module] = []
        for i in range(n_layers):
            layers += [nn.Linear(d_in if i == 0 else d_hidden, d_hidden), nn.ReLU(), nn.Dropout(dropout)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(d_hidden if n_layers else d_in, n_out)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        parts = [x_num]
        if x_cat.shape[1]:
            parts.append(self.emb(x_cat).flatten(1))
        return self.head(self.body(torch.cat(parts, dim=1)))


class NeuralTabularModel(ZooModel):
    """Shared fit/predict/save for torch models. Subclasses implement :meth:`_build`."""

    kind: ClassVar[str] = "neural"

    # params shared by the neural models (subclasses list them in their own __init__)
    task: str
    max_epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    patience: int
    validation_fraction: float
    time_budget: float | None
    max_train_rows: int | None
    random_state: int
    log_heavy_tails: bool = True
    lr_schedule: str | None = "cosine"
    warmup: float = 0.03
    eval_every: int | None = 250_000

    def _build(self, n_num: int, cardinalities: list[int], n_out: int) -> nn.Module:
        raise NotImplementedError

    def _tensors(self, X: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(self.encoder_.numeric(X)), torch.from_numpy(self.encoder_.codes(X))

    def _loss(self, out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        if self.task == "classification":
            loss = nn.functional.cross_entropy(out, y.long(), reduction="none")
        elif self.task == "poisson":
            o = out[:, 0]
            loss = torch.exp(o) - y * o  # Poisson NLL with log link (constant term dropped)
        else:
            loss = (out[:, 0] - y) ** 2
        return (loss * w).sum() / w.sum() if w is not None else loss.mean()

    def _fit(self, X, y, eval_set, sample_weight) -> None:
        configure_threads()
        # the budget counts this process's CPU seconds, so a busy shared machine does not starve the
        # model of epochs (wall time would); with one thread CPU time ~ wall time on an idle machine
        t0 = time.process_time()
        rng = np.random.default_rng(self.random_state)
        torch.manual_seed(self.random_state)
        if self.max_train_rows and len(X) > self.max_train_rows:
            keep = np.sort(rng.choice(len(X), self.max_train_rows, replace=False))
            X, y = X.iloc[keep], y[keep]
            sample_weight = None if sample_weight is None else sample_weight[keep]
        if eval_set is None and self.validation_fraction and len(X) >= 50:
            perm = rng.permutation(len(X))
            n_val = max(1, int(len(X) * self.validation_fraction))
            vi, ti = np.sort(perm[:n_val]), np.sort(perm[n_val:])
            eval_set = (X.iloc[vi], y[vi])
            X, y = X.iloc[ti], y[ti]
            sample_weight = None if sample_weight is None else sample_weight[ti]
        self.encoder_ = NeuralEncoder(log_heavy_tails=self.log_heavy_tails).fit(X)
        if self.task == "regression":
            self.y_mean_, self.y_std_ = float(np.mean(y)), float(np.std(y) or 1.0)
        elif self.task == "poisson":
            from gridcrit.models.gbdt import target_scale

            self.y_std_ = target_scale(y, "poisson")  # tiny SAIFI-like rates -> near 1
            self.y_mean_ = float(np.mean(y)) / self.y_std_
        else:
            self.y_mean_, self.y_std_ = 0.0, 1.0
        n_out = len(self.codec_.classes) if self.task == "classification" else 1
        self.module_ = self._build(self.encoder_.n_numeric_out, self.encoder_.cardinalities, n_out)
        self._init_bias(y)
        xn, xc = self._tensors(X)
        yt = torch.as_tensor(self._scale_y(y), dtype=torch.float32)
        wt = None if sample_weight is None else torch.as_tensor(sample_weight, dtype=torch.float32)
        val = None
        if eval_set is not None:
            vxn, vxc = self._tensors(eval_set[0])
            val = (vxn, vxc, torch.as_tensor(self._scale_y(eval_set[1]), dtype=torch.float32))
        opt = torch.optim.AdamW(self.module_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        best, best_state, bad, self.history_ = math.inf, None, 0, []
        n = len(yt)
        bs = min(self.batch_size, n)
        total_steps = self.max_epochs * math.ceil(n / bs)
        # validate every `eval_every` rows (at least once an epoch): a time-budgeted fit of a large
        # table may see only one or two epochs, and early stopping still needs checkpoints to pick
        check_rows = min(n, self.eval_every) if self.eval_every else n
        out_of_time, step, seen, since_check = False, 0, 0, 0
        self.best_epoch_ = None
        for epoch in range(self.max_epochs):
            self.module_.train()
            perm = torch.from_numpy(rng.permutation(n))
            total, n_done = 0.0, 0
            for s in range(0, n, bs):
                idx = perm[s:s + bs]
                if self.lr_schedule:
                    used = step / total_steps
                    if self.time_budget:
                        used = max(used, (time.process_time() - t0) / self.time_budget)
                    for g in opt.param_groups:
                        g["lr"] = self.lr * _lr_factor(min(used, 1.0), self.warmup, self.lr_schedule)
                opt.zero_grad()
                loss = self._loss(self.module_(xn[idx], xc[idx]), yt[idx], None if wt is None else wt[idx])
                loss.backward()
                nn.utils.clip_grad_norm_(self.module_.parameters(), 5.0)
                opt.step()
                step += 1
                total += float(loss.detach()) * len(idx)
                n_done += len(idx)
                seen += len(idx)
                since_check += len(idx)
                if self.time_budget and time.process_time() - t0 > self.time_budget:
                    out_of_time = True
                end_of_epoch = s + bs >= n
                if not (out_of_time or end_of_epoch or since_check >= check_rows):
                    continue
                since_check = 0
                score = self._eval_loss(*val) if val is not None else total / max(n_done, 1)
                self.history_.append({"epoch": epoch, "rows_seen": seen, "train_loss": total / max(n_done, 1),
                                      "valid_loss": score})
                if score < best - 1e-6:
                    best, bad = score, 0
                    best_state = {k: v.detach().clone() for k, v in self.module_.state_dict().items()}
                    self.best_epoch_ = epoch
                else:
                    bad += 1
                if bad >= self.patience or out_of_time:
                    break
                self.module_.train()
            if bad >= self.patience or out_of_time:
                break
        if best_state is not None:
            self.module_.load_state_dict(best_state)
        self.n_epochs_ = epoch + 1
        self.rows_seen_ = seen
        self.stopped_by_time_ = out_of_time
        self.module_.eval()

    def _init_bias(self, y: np.ndarray) -> None:
        """Start poisson heads at log(mean y): otherwise early epochs only learn the intercept."""
        if self.task != "poisson":
            return
        last = [m for m in self.module_.modules() if isinstance(m, nn.Linear)][-1]
        with torch.no_grad():
            last.bias.fill_(math.log(max(float(np.mean(y)) / self.y_std_, 1e-6)))

    def _scale_y(self, y: np.ndarray) -> np.ndarray:
        if self.task == "regression":
            return (y - self.y_mean_) / self.y_std_
        return y / self.y_std_ if self.task == "poisson" else y

    @torch.no_grad()
    def _forward_all(self, xn: torch.Tensor, xc: torch.Tensor) -> torch.Tensor:
        self.module_.eval()
        bs = max(self.batch_size, 4096)
        return torch.cat([self.module_(xn[s:s + bs], xc[s:s + bs]) for s in range(0, len(xn), bs)])

    def _eval_loss(self, xn, xc, y) -> float:
        return float(self._loss(self._forward_all(xn, xc), y, None))

    def _predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        configure_threads()
        out = self._forward_all(*self._tensors(X))
        if self.task == "classification":
            return torch.softmax(out, dim=1).numpy().astype(float)
        if self.task == "poisson":
            return torch.exp(out[:, 0]).numpy().astype(float) * self.y_std_
        return out[:, 0].numpy().astype(float) * self.y_std_ + self.y_mean_

    def _state(self) -> dict[str, Any]:
        return {"encoder": self.encoder_.to_json(), "y_mean": self.y_mean_, "y_std": self.y_std_,
                "n_epochs": self.n_epochs_, "best_epoch": getattr(self, "best_epoch_", None),
                "stopped_by_time": self.stopped_by_time_}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.encoder_ = NeuralEncoder.from_json(state["encoder"])
        self.y_mean_, self.y_std_ = state["y_mean"], state["y_std"]
        self.n_epochs_, self.best_epoch_ = state["n_epochs"], state["best_epoch"]
        self.stopped_by_time_ = state["stopped_by_time"]

    def _save_weights(self, path: Path) -> list[str]:
        save_file({k: v.contiguous() for k, v in self.module_.state_dict().items()}, str(path / "weights.safetensors"))
        return ["weights.safetensors"]

    def _load_weights(self, path: Path) -> None:
        n_out = len(self.codec_.classes) if self.task == "classification" else 1
        self.module_ = self._build(self.encoder_.n_numeric_out, self.encoder_.cardinalities, n_out)
        self.module_.load_state_dict(load_file(str(path / "weights.safetensors")))
        self.module_.eval()


def _lr_factor(used: float, warmup: float, schedule: str) -> float:
    """Learning-rate multiplier after ``used`` (0..1) of the step or time budget: linear warm-up over
    the first ``warmup`` share, then ``cosine`` decay to 5 % (or ``constant``)."""
    if warmup > 0 and used < warmup:
        return max(used / warmup, 0.05)
    if schedule == "constant":
        return 1.0
    if schedule != "cosine":
        from gridcrit.errors import ValidationError

        raise ValidationError(f"lr_schedule {schedule!r} is not one of cosine, constant, None")
    rest = (used - warmup) / max(1e-9, 1 - warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(max(rest, 0.0), 1.0)))


class MLPModel(NeuralTabularModel):
    """Zoo MLP: :class:`MLP` trained by :class:`NeuralTabularModel`."""

    kind: ClassVar[str] = "mlp"

    def __init__(self, task: str = "regression", d_hidden: int = 256, n_layers: int = 3, dropout: float = 0.1,
                 d_emb: int = 8, max_epochs: int = 100, batch_size: int = 512, lr: float = 1e-3,
                 weight_decay: float = 1e-5, patience: int = 8, validation_fraction: float = 0.1,
                 time_budget: float | None = None, max_train_rows: int | None = None, random_state: int = 0,
                 log_heavy_tails: bool = True, lr_schedule: str | None = "cosine", warmup: float = 0.03,
                 eval_every: int | None = 250_000):
        self.log_heavy_tails = log_heavy_tails
        self.lr_schedule = lr_schedule
        self.warmup = warmup
        self.eval_every = eval_every
        self.task = task
        self.d_hidden = d_hidden
        self.n_layers = n_layers
        self.dropout = dropout
        self.d_emb = d_emb
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.time_budget = time_budget
        self.max_train_rows = max_train_rows
        self.random_state = random_state

    def _build(self, n_num: int, cardinalities: list[int], n_out: int) -> nn.Module:
        return MLP(n_num, cardinalities, n_out, self.d_hidden, self.n_layers, self.dropout, self.d_emb)
