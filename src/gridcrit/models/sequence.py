"""Sequence models for per-asset (e.g. per-circuit) monthly series: LSTM, GRU and a Transformer encoder.

Task: forecast the next period's value (SAIFI contribution, interruption count ...) of every series
from its past ``window`` periods plus exposure. Each input step carries ``[y_t / scale, exposure_t,
sin/cos(month_t)]``; the head also sees the exposure and month of the period being forecast (known
in advance: customers, assets, lightning/vegetation exposure, calendar). ``scale`` is each series'
mean over the training periods, so one network serves circuits of very different size, and the loss
is the Poisson deviance on that scale (non-negative, zero-inflated targets; quasi-Poisson for SAIFI).

Baselines on the same rows: **seasonal-naive** (the value a year earlier: 12 months or 4 quarters
before) and **historical-mean**
(mean of every earlier period of the series). :func:`forecast_compare` runs all of them on the last
``test_periods`` periods (one-step-ahead, inputs only from earlier periods) and reports MAE, RMSE,
Poisson deviance with paired bootstrap intervals over test periods.

Example::

    >>> from gridcrit.models.sequence import synthetic_series, forecast_compare
    >>> frame = synthetic_series(n_series=30, n_periods=48, seed=0)
    >>> res = forecast_compare(frame, "y_count", ["exposure"], models=["gru"], test_periods=6,
    ...                        params={"gru": {"max_epochs": 5}})
    >>> sorted(res["summary"]["models"])
    ['gru', 'historical_mean', 'seasonal_naive']
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from torch import nn

from gridcrit.errors import ValidationError
from gridcrit.models import metrics as M  # noqa: N812
from gridcrit.runtime import configure_threads, default_threads

SEQUENCE_MODELS = ("lstm", "gru", "transformer")
BASELINES = ("seasonal_naive", "historical_mean")


class PositionalEncoding(nn.Module):
    """Sinusoidal positional encoding added to ``[B, T, d]`` (Vaswani et al., 2017)."""

    def __init__(self, d: int, max_len: int = 512):
        super().__init__()
        pos = torch.arange(max_len)[:, None]
        div = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
        pe = torch.zeros(max_len, d)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)[:, : d // 2]
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[: x.shape[1]]


class SeriesNet(nn.Module):
    """Encoder over the past window + a head that also reads the next period's known inputs.

    ::

        past  [B, T, n_in] ─┬─ cell="lstm"|"gru": RNN(d, n_layers) ─ last hidden ──────────┐
                            └─ cell="transformer": Linear(n_in, d) + PositionalEncoding     │
                               ─ TransformerEncoder(n_layers, n_heads) ─ last token ────────┤
        next  [B, n_next] ──────────────────────────────────────────────────────────────────┴─ concat
          ─ Linear(d + n_next, d) ─ ReLU ─ Linear(d, 1) ─ log-rate [B]   (prediction = scale * exp)

    Example::

        >>> import torch
        >>> net = SeriesNet("transformer", n_in=4, n_next=3, d=16)
        >>> net(torch.zeros(2, 12, 4), torch.zeros(2, 3)).shape
        torch.Size([2])
    """

    def __init__(self, cell: str, n_in: int, n_next: int, d: int = 32, n_layers: int = 1, n_heads: int = 4,
                 dropout: float = 0.1):
        super().__init__()
        self.cell = cell
        if cell in ("lstm", "gru"):
            rnn = nn.LSTM if cell == "lstm" else nn.GRU
            self.rnn = rnn(n_in, d, n_layers, batch_first=True, dropout=dropout if n_layers > 1 else 0.0)
        elif cell == "transformer":
            self.proj = nn.Linear(n_in, d)
            self.pos = PositionalEncoding(d)
            layer = nn.TransformerEncoderLayer(d, n_heads, 2 * d, dropout, batch_first=True, norm_first=True)
            self.enc = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        else:
            raise ValidationError(f"unknown sequence cell {cell!r}; choose one of {', '.join(SEQUENCE_MODELS)}")
        self.head = nn.Sequential(nn.Linear(d + n_next, d), nn.ReLU(), nn.Linear(d, 1))

    def forward(self, past: torch.Tensor, nxt: torch.Tensor) -> torch.Tensor:
        if self.cell == "transformer":
            h = self.enc(self.pos(self.proj(past)))[:, -1]
        else:
            h = self.rnn(past)[0][:, -1]
        return self.head(torch.cat([h, nxt], dim=1))[:, 0]


# -- data --------------------------------------------------------------------------------------
def _month_of(periods: np.ndarray) -> np.ndarray:
    try:
        return pd.PeriodIndex(periods.astype(str), freq="M").month.to_numpy()
    except (ValueError, TypeError):
        return (np.arange(len(periods)) % 12) + 1


def panel(frame: pd.DataFrame, target: str, exposure: Sequence[str], asset_col: str = "asset_id",
          period_col: str = "period") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Long table -> ``Y[S, P]``, ``E[S, P, k]`` (NaN where a series has no row), assets, periods."""
    for c in (target, asset_col, period_col, *exposure):
        if c not in frame.columns:
            raise ValidationError(f"column {c!r} is not in the series table")
    if len(frame) == 0:
        raise ValidationError("the series table has no rows")
    assets = np.sort(frame[asset_col].astype(str).unique())
    periods = np.sort(frame[period_col].astype(str).unique())
    ai = pd.Index(assets).get_indexer(frame[asset_col].astype(str))
    pi = pd.Index(periods).get_indexer(frame[period_col].astype(str))
    Y = np.full((len(assets), len(periods)), np.nan)
    Y[ai, pi] = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float)
    E = np.full((len(assets), len(periods), len(exposure)), np.nan)
    for j, c in enumerate(exposure):
        E[ai, pi, j] = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
    return Y, E, assets, periods


class _Windows:
    """Every (series, target period) pair with a full past window, as tensors."""

    def __init__(self, Y: np.ndarray, E: np.ndarray, months: np.ndarray, scale: np.ndarray, e_mu: np.ndarray,
                 e_sd: np.ndarray, window: int, targets: np.ndarray):
        ys = np.nan_to_num(Y / scale[:, None])
        ez = np.nan_to_num((E - e_mu) / e_sd)
        mo = np.stack([np.sin(2 * np.pi * months / 12), np.cos(2 * np.pi * months / 12)], axis=1)
        past, nxt, y, sc, idx = [], [], [], [], []
        for t in targets:
            if t < window:
                continue
            ok = np.isfinite(Y[:, t])
            if not ok.any():
                continue
            s = np.flatnonzero(ok)
            sl = slice(t - window, t)
            step = np.concatenate([ys[s, sl][..., None], ez[s, sl], np.broadcast_to(mo[sl], (len(s), window, 2))], axis=2)
            past.append(step)
            nxt.append(np.concatenate([ez[s, t], np.broadcast_to(mo[t], (len(s), 2))], axis=1))
            y.append(Y[s, t])
            sc.append(scale[s])
            idx.append(np.column_stack([s, np.full(len(s), t)]))
        if not past:
            self.n = 0
            return
        self.past = torch.as_tensor(np.concatenate(past), dtype=torch.float32)
        self.next = torch.as_tensor(np.concatenate(nxt), dtype=torch.float32)
        self.y = torch.as_tensor(np.concatenate(y), dtype=torch.float32)
        self.scale = torch.as_tensor(np.concatenate(sc), dtype=torch.float32)
        self.index = np.concatenate(idx)
        self.n = len(self.y)


class SequenceForecaster(BaseEstimator):
    """One-step-ahead forecaster of many series with an LSTM, GRU or Transformer encoder.

    ``fit(Y, E, months, train_until)`` learns from windows whose target period index is
    ``< train_until`` (the last ``val_periods`` of them drive early stopping);
    ``predict(Y, E, months, targets)`` forecasts those target periods from the values before them.
    """

    def __init__(self, cell: str = "gru", window: int = 12, d_model: int = 32, n_layers: int = 1,
                 n_heads: int = 4, dropout: float = 0.1, max_epochs: int = 200, batch_size: int = 128,
                 lr: float = 3e-3, weight_decay: float = 1e-4, patience: int = 15, val_periods: int = 3,
                 time_budget: float | None = None, random_state: int = 0):
        self.cell = cell
        self.window = window
        self.d_model = d_model
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.val_periods = val_periods
        self.time_budget = time_budget
        self.random_state = random_state

    def _loss(self, out: torch.Tensor, y: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        # Poisson deviance on the series' own scale (pred/scale = exp(out)); constant term dropped
        return (torch.exp(out) - (y / scale) * out).mean()

    def fit(self, Y: np.ndarray, E: np.ndarray, months: np.ndarray, train_until: int) -> SequenceForecaster:
        configure_threads()
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        t0 = time.perf_counter()
        if train_until - self.window < 2:
            raise ValidationError(f"only {train_until} training periods: need more than window={self.window} + 1")
        hist = Y[:, :train_until]
        self.scale_ = np.nanmean(hist, axis=1)
        glob = np.nanmean(hist[hist > 0]) if np.isfinite(hist).any() and (hist > 0).any() else 1.0
        self.scale_ = np.where(np.isfinite(self.scale_) & (self.scale_ > 0), self.scale_, glob * 0.1)
        flatE = E[:, :train_until].reshape(-1, E.shape[2])
        self.e_mu_ = np.nan_to_num(np.nanmean(flatE, axis=0)) if E.shape[2] else np.zeros(0)
        sd = np.nan_to_num(np.nanstd(flatE, axis=0)) if E.shape[2] else np.ones(0)
        self.e_sd_ = np.where(sd > 0, sd, 1.0)
        n_val = min(self.val_periods, max(0, train_until - self.window - 2))
        tr_t = np.arange(self.window, train_until - n_val)
        va_t = np.arange(train_until - n_val, train_until)
        tr = self._windows(Y, E, months, tr_t)
        va = self._windows(Y, E, months, va_t) if n_val else None
        if tr.n == 0:
            raise ValidationError("no training windows: every series is shorter than the window")
        self.net_ = SeriesNet(self.cell, tr.past.shape[2], tr.next.shape[1], self.d_model, self.n_layers,
                              self.n_heads, self.dropout)
        opt = torch.optim.AdamW(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        best, best_state, bad = math.inf, None, 0
        self.history_ = []
        for epoch in range(self.max_epochs):
            self.net_.train()
            perm = torch.from_numpy(rng.permutation(tr.n))
            tot = 0.0
            for s in range(0, tr.n, self.batch_size):
                i = perm[s:s + self.batch_size]
                opt.zero_grad()
                loss = self._loss(self.net_(tr.past[i], tr.next[i]), tr.y[i], tr.scale[i])
                loss.backward()
                nn.utils.clip_grad_norm_(self.net_.parameters(), 5.0)
                opt.step()
                tot += float(loss.detach()) * len(i)
            score = self._score(va) if va is not None and va.n else tot / tr.n
            self.history_.append(score)
            if score < best - 1e-6:
                best, bad, self.best_epoch_ = score, 0, epoch
                best_state = {k: v.detach().clone() for k, v in self.net_.state_dict().items()}
            else:
                bad += 1
            if bad >= self.patience or (self.time_budget and time.perf_counter() - t0 > self.time_budget):
                break
        if best_state is not None:
            self.net_.load_state_dict(best_state)
        self.net_.eval()
        return self

    def _windows(self, Y, E, months, targets) -> _Windows:
        return _Windows(Y, E, months, self.scale_, self.e_mu_, self.e_sd_, self.window, targets)

    @torch.no_grad()
    def _score(self, w: _Windows) -> float:
        self.net_.eval()
        return float(self._loss(self.net_(w.past, w.next), w.y, w.scale))

    @torch.no_grad()
    def predict(self, Y: np.ndarray, E: np.ndarray, months: np.ndarray, targets: np.ndarray) -> pd.DataFrame:
        """Forecasts for ``targets`` period indices: DataFrame ``series, t, y, pred``."""
        w = self._windows(Y, E, months, np.asarray(targets))
        if w.n == 0:
            raise ValidationError("no series has a full window before the requested periods")
        self.net_.eval()
        pred = torch.exp(self.net_(w.past, w.next)) * w.scale
        return pd.DataFrame({"series": w.index[:, 0], "t": w.index[:, 1], "y": w.y.numpy(), "pred": pred.numpy()})


def season_length(periods: np.ndarray) -> int:
    """Periods in a year: 4 for quarter labels (``2023-Q1``), else 12 (months)."""
    from gridcrit.models.compare import is_quarterly

    return 4 if is_quarterly(periods) else 12


def check_sequence_params(name: str, params: dict[str, Any] | None, lang: str = "en") -> None:
    """``--param`` values for sequence model ``name``: unknown names and wrong types fail in one line
    before anything is fitted (they were a TypeError traceback from the constructor)."""
    from gridcrit.models.compare import check_params_types

    accepted = sorted(set(inspect.signature(SequenceForecaster.__init__).parameters) - {"self", "cell"})
    unknown = sorted(set(params or {}) - set(accepted))
    if unknown:
        raise ValidationError(f"model {name!r} has no parameter(s) {', '.join(unknown)}; "
                              f"it takes {', '.join(accepted)}",
                              es=f"el modelo {name!r} no tiene el/los parámetro(s) {', '.join(unknown)}; "
                                 f"acepta {', '.join(accepted)}")
    check_params_types(SequenceForecaster, name, params, lang)


def baseline_forecasts(Y: np.ndarray, targets: np.ndarray, season: int = 12) -> dict[str, pd.DataFrame]:
    """Seasonal-naive (value ``season`` periods earlier) and historical-mean (mean of all earlier periods)."""
    out: dict[str, list[pd.DataFrame]] = {b: [] for b in BASELINES}
    for t in targets:
        ok = np.isfinite(Y[:, t])
        s = np.flatnonzero(ok)
        if not len(s):
            continue
        past = Y[s, :t]
        hm = np.nanmean(np.where(np.isfinite(past), past, np.nan), axis=1) if t > 0 else np.full(len(s), np.nan)
        sn = Y[s, t - season] if t >= season else np.full(len(s), np.nan)
        sn = np.where(np.isfinite(sn), sn, hm)  # a missing seasonal value falls back to the mean
        for name, p in (("seasonal_naive", sn), ("historical_mean", hm)):
            out[name].append(pd.DataFrame({"series": s, "t": t, "y": Y[s, t], "pred": p}))
    return {k: pd.concat(v, ignore_index=True) for k, v in out.items() if v}


def forecast_compare(frame: pd.DataFrame, target: str, exposure: Sequence[str] = (),
                     models: Sequence[str] = SEQUENCE_MODELS, test_periods: int = 12, window: int = 12,
                     params: dict[str, dict[str, Any]] | None = None, asset_col: str = "asset_id",
                     period_col: str = "period", n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Train each sequence model on all but the last ``test_periods`` periods and forecast those
    one step ahead; compare with seasonal-naive and historical-mean on exactly the same rows."""
    for m in models:
        if m not in SEQUENCE_MODELS:
            raise ValidationError(f"unknown sequence model {m!r}; choose from {', '.join(SEQUENCE_MODELS)}")
    for m, p in (params or {}).items():
        if m not in models:
            raise ValidationError(f"parameters given for {m!r}, which is not among the models ({', '.join(models)})")
        check_sequence_params(m, p)
    Y, E, assets, periods = panel(frame, target, list(exposure), asset_col, period_col)
    if np.nanmax(Y) == np.nanmin(Y):
        raise ValidationError(f"target {target!r} is constant over every series: nothing to forecast")
    P = len(periods)
    train_until = P - test_periods
    if train_until < window + 3:
        raise ValidationError(f"{P} periods leave {train_until} for training; need at least window+3 = {window + 3}"
                              " (lower --test-periods or the window)")
    months = _month_of(periods)
    targets = np.arange(train_until, P)
    season = season_length(periods)  # seasonal-naive is a year back: 12 months, but 4 quarters
    preds = baseline_forecasts(Y, targets, season)
    info: dict[str, dict[str, Any]] = {b: {"train_s": 0.0} for b in preds}
    for m in models:
        t0 = time.perf_counter()
        # a model's own --param random_state / window wins over the run's seed / window
        f = SequenceForecaster(cell=m, **{"window": window, "random_state": seed, **(params or {}).get(m, {})})
        f.fit(Y, E, months, train_until)
        t1 = time.perf_counter()
        preds[m] = f.predict(Y, E, months, targets)
        info[m] = {"train_s": t1 - t0, "predict_s": time.perf_counter() - t1, "epochs": len(f.history_),
                   "best_epoch": int(getattr(f, "best_epoch_", -1)),
                   "n_params": int(sum(p.numel() for p in f.net_.parameters()))}
    # score every method on the rows all of them predicted
    key = None
    for d in preds.values():
        k = set(zip(d.series, d.t, strict=True))
        key = k if key is None else key & k
    rows = []
    for name, d in preds.items():
        d = d[[(s, t) in key for s, t in zip(d.series, d.t, strict=True)]]
        for t, g in d.groupby("t"):
            rows.append({"model": name, "period": periods[t], "mae": M.mae(g.y, g.pred), "rmse": M.rmse(g.y, g.pred),
                         "poisson_deviance": M.poisson_deviance(g.y, g.pred)})
        preds[name] = d
    per = pd.DataFrame(rows)
    summary: dict[str, Any] = {"target": target, "test_periods": [str(periods[t]) for t in targets], "window": window,
                               "season": season,
                               "n_series": len(assets), "threads": default_threads(), "models": {}}
    wide = {m: g.set_index("period") for m, g in per.groupby("model")}
    for m in wide:
        d = wide[m]
        summary["models"][m] = {
            **{k: dict(zip(("mean", "lo", "hi"), M.bootstrap_ci(d[k].to_numpy(), n_boot, seed=seed), strict=True))
               for k in ("mae", "rmse", "poisson_deviance")},
            "mae_pooled": M.mae(preds[m].y, preds[m].pred), **info.get(m, {})}
        if m != "seasonal_naive":
            a, b = wide[m]["mae"], wide["seasonal_naive"]["mae"].reindex(wide[m].index)
            mean, lo, hi = M.paired_diff_ci(a.to_numpy(), b.to_numpy(), n_boot, seed=seed)
            summary["models"][m]["mae_vs_seasonal_naive"] = {"diff": mean, "lo": lo, "hi": hi,
                                                             "beats": bool(mean < 0), "significant": bool(hi < 0)}
    summary["best_by_mae"] = min(summary["models"], key=lambda m: summary["models"][m]["mae"]["mean"])
    return {"summary": summary, "periods": per, "predictions": preds}


def synthetic_series(n_series: int = 40, n_periods: int = 60, seed: int = 0) -> pd.DataFrame:
    """Monthly count series with size, seasonality, an exposure driver and noise (tests and docs)."""
    rng = np.random.default_rng(seed)
    per = pd.period_range("2019-01", periods=n_periods, freq="M")
    size = rng.gamma(2.0, 5.0, n_series)
    season = 1 + 0.5 * np.sin(2 * np.pi * (per.month.to_numpy() - 4) / 12)
    expo = rng.gamma(2.0, 1.0, (n_series, n_periods))
    rate = size[:, None] * season[None, :] * (0.7 + 0.3 * expo)
    y = rng.poisson(rate)
    return pd.DataFrame({"asset_id": np.repeat([f"C{i:03d}" for i in range(n_series)], n_periods),
                         "period": np.tile(per.strftime("%Y-%m"), n_series), "y_count": y.ravel(),
                         "exposure": expo.ravel()})
