"""Thread control. On small machines oversubscribing cores slows torch / BLAS / OpenMP code
10-100x, so gridcrit sets thread counts deliberately instead of trusting library defaults.

``GRIDCRIT_THREADS`` (default: 1 on machines with <= 2 cores, else cores - 1) is applied to torch,
BLAS/OpenMP (via threadpoolctl) and passed explicitly to XGBoost/LightGBM by the model wrappers.
"""

from __future__ import annotations

import os


def default_threads() -> int:
    """Threads gridcrit uses when nothing is configured."""
    env = os.environ.get("GRIDCRIT_THREADS")
    if env:
        return max(1, int(env))
    n = os.cpu_count() or 1
    return 1 if n <= 2 else n - 1


def configure_threads(n: int | None = None) -> int:
    """Pin torch, BLAS and OpenMP to ``n`` threads (``default_threads()`` if None). Returns ``n``.

    Safe to call many times; cheap after the first call.
    """
    n = default_threads() if n is None else max(1, int(n))
    # Idle OpenMP workers spin by default and steal the other core from the main thread.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch

        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # pragma: no cover
        pass
    return n
