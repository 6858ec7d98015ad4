"""The training loop shared by all TabNet estimators (no DataLoader, no per-step host syncs).

Why it is fast on CPU: the whole training set is converted to tensors once, each epoch draws one
``randperm`` from the estimator's own ``torch.Generator`` and slices batches with ``index_select``;
the loss is accumulated as a tensor and read once per epoch; evaluation runs under
``torch.inference_mode`` in large batches. TabNet has ~80 small parameter tensors, and per-tensor
overhead dominated the optimizer step, so :class:`FlatParameters` makes every parameter a view
into ONE flat tensor: gradient clipping and the fused Adam kernel then run on a single tensor
(the same update, element by element, as Adam over the separate tensors).
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from gridcrit.runtime import default_threads

LR_SCHEDULES = (None, "none", "step", "cosine", "onecycle")


@contextmanager
def torch_threads(n: int | None) -> Iterator[int]:
    """Run the block with ``n`` torch intra-op threads, then restore the previous setting."""
    n = default_threads() if n is None else max(1, int(n))
    old = torch.get_num_threads()
    if old != n:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if old != n:
            torch.set_num_threads(old)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block (re-enabled after, if it was on).

    Building and training a TabNet creates no cyclic garbage (refcounting frees each step's graph;
    checked), but its many small Python objects trigger the collector, whose full passes scan the
    whole heap (torch, pandas, sklearn: tens of ms each): ~8 % of a training step, and ~40 ms of
    building a 5-step network (~350 modules). Cycles made elsewhere are collected once it resumes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def lr_at(step: int, total: int, base: float, schedule: str | None, decay_rate: float, decay_steps: int) -> float:
    """Learning rate of optimizer step ``step`` (0-based) out of ``total``.

    * ``"step"``: ``base · decay_rate^(step // decay_steps)`` (the paper's schedule);
    * ``"cosine"``: cosine from ``base`` to ~0 over ``total`` steps;
    * ``"onecycle"``: linear warm-up from ``base/25`` over the first 10 % of steps, then cosine down
      to ``base/1000``.
    """
    if schedule in (None, "none"):
        return base
    if schedule == "step":
        return base * decay_rate ** (step // max(1, decay_steps))
    t = min(1.0, step / max(1, total))
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * t))
    if schedule == "onecycle":
        warm = 0.1
        if t < warm:
            return base / 25.0 + (base - base / 25.0) * t / warm
        u = (t - warm) / (1.0 - warm)
        low = base / 1000.0
        return low + (base - low) * 0.5 * (1.0 + math.cos(math.pi * u))
    raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}")


class FlatParameters:
    """All trainable parameters of ``net`` re-pointed to views into one contiguous tensor ``flat``.

    ``gather_grads()`` concatenates the parameters' gradients into ``flat.grad`` (a parameter that
    got no gradient contributes zeros), so an optimizer / clipping over ``[flat]`` equals one over
    the separate parameters. Parameter names, shapes and values are unchanged (``state_dict`` and
    saved weights are identical); the views stay valid after training.
    """

    def __init__(self, net: nn.Module):
        self.params = [p for p in net.parameters() if p.requires_grad]
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1) for p in self.params]) if self.params else torch.zeros(0)
        self.flat = nn.Parameter(flat)
        offset = 0
        for p in self.params:
            n = p.numel()
            p.data = self.flat.data[offset : offset + n].view_as(p)
            offset += n

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None
        self.flat.grad = None

    def clip_grad_norm_(self, max_norm: float) -> None:
        """``torch.nn.utils.clip_grad_norm_`` on the flat gradient (same formula, 4 operator calls)."""
        g = self.flat.grad
        coef = torch.linalg.vector_norm(g).add_(1e-6).reciprocal_().mul_(float(max_norm)).clamp_(max=1.0)
        g.mul_(coef)

    def gather_grads(self) -> None:
        grads = [p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), dtype=p.dtype)
                 for p in self.params]
        self.flat.grad = torch.cat(grads) if grads else torch.zeros(0)


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float | None = None
    epochs: int = 0
    train_seconds: float = 0.0  # time in training steps only (no evaluation)
    rows_seen: int = 0
    stopped_early: bool = False

    @property
    def rows_per_second(self) -> float:
        return self.rows_seen / self.train_seconds if self.train_seconds > 0 else float("nan")

    def to_dict(self) -> dict:
        return {
            "best_epoch": self.best_epoch,
            "best_score": self.best_score,
            "epochs": self.epochs,
            "train_seconds": self.train_seconds,
            "rows_per_second": self.rows_per_second,
            "stopped_early": self.stopped_early,
        }


def train(
    net: nn.Module,
    n_rows: int,
    batch_loss: Callable[[Tensor], Tensor],
    evaluate: Callable[[], float] | None,
    *,
    higher_is_better: bool,
    generator: torch.Generator,
    batch_size: int,
    drop_last: bool,
    max_epochs: int,
    patience: int,
    lr: float,
    weight_decay: float,
    lr_schedule: str | None,
    lr_decay_rate: float,
    lr_decay_steps: int | None,
    clip_value: float | None,
    verbose: int = 0,
) -> FitResult:
    """Adam on ``batch_loss(row_indices)``; early stopping on ``evaluate()`` restores the best weights.

    Run it under :func:`gc_paused` (the estimators pause the collector for their whole ``fit``).
    """
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    batch_size = min(batch_size, n_rows)
    n_batches = n_rows // batch_size if drop_last else math.ceil(n_rows / batch_size)
    total = max(1, n_batches * max_epochs)
    decay_steps = lr_decay_steps or max(1, 10 * n_batches)
    flat = FlatParameters(net)
    opt = torch.optim.Adam([flat.flat], lr=lr, weight_decay=weight_decay, fused=True)
    res = FitResult()
    best_state: dict[str, Tensor] | None = None
    wait = 0
    step = 0
    for epoch in range(max_epochs):
        net.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n_rows, generator=generator)
        loss_sum = torch.zeros(())
        for b in range(n_batches):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total, lr, lr_schedule, lr_decay_rate, decay_steps)
            loss = batch_loss(idx)
            flat.zero_grad()
            loss.backward()
            flat.gather_grads()
            if clip_value:
                flat.clip_grad_norm_(clip_value)
            opt.step()
            loss_sum += loss.detach()
            step += 1
        res.train_seconds += time.perf_counter() - t0
        res.rows_seen += min(n_rows, n_batches * batch_size)
        res.epochs = epoch + 1
        row = {"epoch": epoch, "loss": float(loss_sum) / max(1, n_batches), "lr": opt.param_groups[0]["lr"]}
        if evaluate is not None:
            net.eval()
            score = float(evaluate())
            row["eval"] = score
            improved = res.best_score is None or (score > res.best_score if higher_is_better else score < res.best_score)
            if improved:
                res.best_score, res.best_epoch, wait = score, epoch, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                wait += 1
        res.history.append(row)
        if verbose:
            print(" ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        if evaluate is not None and patience and wait >= patience:
            res.stopped_early = True
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return res
