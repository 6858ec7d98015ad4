"""Sizes of the synthetic utilities and the seed streams that make them reproducible."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScaleSpec:
    """Size of one synthetic utility. ``chec`` matches the published profile of CHEC's network."""

    name: str
    n_circuits: int
    seg_per_circuit: float  # mean MV segments per circuit
    max_substations: int  # tiny/small use a few substations only
    description: str


SCALES: dict[str, ScaleSpec] = {
    "tiny": ScaleSpec("tiny", 4, 60.0, 2, "4 circuits, a few hundred events: unit tests (< 3 s)"),
    "small": ScaleSpec("small", 20, 120.0, 6, "~20 circuits: demos (seconds)"),
    "chec": ScaleSpec("chec", 219, 284.0, 61, "CHEC's size: ~219 circuits, ~62k segments, ~190k event rows"),
    "10x": ScaleSpec("10x", 2190, 284.0, 61, "ten times CHEC (memory/throughput tests)"),
}

# Calibration anchors from shared/data/chec/interrupciones_profile.json (CHEC 2019-01..2024-06).
CHEC_SEGMENTS = 62300
CUSTOMERS_2019_01 = 497_700
CUSTOMERS_2024_06 = 566_100
GROWTH_MONTHS = 65  # 2019-01 -> 2024-06
MONTHLY_GROWTH = float(np.log(CUSTOMERS_2024_06 / CUSTOMERS_2019_01) / GROWTH_MONTHS)
EPOCH = (2000, 1)  # month index 0; all per-month seed streams are keyed by months since EPOCH
MONTH_2019_01 = (2019 - EPOCH[0]) * 12  # month index of 2019-01

# Component ids of the seed streams. The network depends only on (seed, scale); everything that
# happens in a month depends only on (seed, scale, month) and, for events, on the hazard multipliers.
STREAM_NETWORK = 1
STREAM_WEATHER = 2
STREAM_LIGHTNING = 3
STREAM_VEGETATION = 4
STREAM_EVENTS = 5
_SCALE_IDS = {"tiny": 0, "small": 1, "chec": 2, "10x": 3}


def stream(seed: int, scale: str, component: int, *extra: int) -> np.random.Generator:
    """Independent random generator for one component (and month): SeedSequence keyed by all of them."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([seed, _SCALE_IDS[scale], component, *extra]))
    )
