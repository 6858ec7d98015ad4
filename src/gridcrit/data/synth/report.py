"""Calibration report: statistics of a generated ``interrupciones`` against CHEC's published profile.

Targets are the figures of ``shared/data/chec/interrupciones_profile.json`` (copied below so the
report works without the shared folder; pass ``profile=`` to read the file instead). Quantiles
p25/p50/p75 are compared on the profile's subset (``tipo_causa == 'NP'`` and ``tipo_elemento ==
'13.2'``) and pass when the ratio generated/published is within a factor of 1.5 (min/max are not
targets; of the means only SAIFI's and SAIDI's are, the figures the system indices add up). Shares (``> 3 min``, top cause, equipment types) use the same factor. Row counts are
compared after scaling the profile by the network size (segments / 62,300).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gridcrit.errors import NotFoundError, ValidationError

FACTOR = 1.5
QUANTITY_COLUMNS = ("duracion_h", "cnt_usus", "CNT_TRAFOS_AFEC", "SAIFI", "SAIDI")
MEAN_TARGETS = ("SAIFI", "SAIDI")

# From interrupciones_profile.json ("unplanned_13.2kV_subset", "events_joined_to_assets").
PROFILE = {
    "rows_total": 189_639,
    "subset_rows": 93_123,
    "quantiles": {
        "duracion_h": {"p25": 0.237222, "p50": 2.166667, "p75": 6.366667, "mean": 5.739256},
        "CNT_TRAFOS_AFEC": {"p25": 2, "p50": 7, "p75": 45, "mean": 32.187677},
        "cnt_usus": {"p25": 10, "p50": 58, "p75": 442, "mean": 556.544914},
        "SAIDI": {"p25": 0.00003, "p50": 0.000145, "p75": 0.000585, "mean": 0.000888},
        "SAIFI": {"p25": 0.000019, "p50": 0.000108, "p75": 0.000814, "mean": 0.001029},
    },
    "share_gt_3min": 79_781 / 93_123,
    "top_cause": ("30.0", 46_504 / 93_123),
    "causes_unique": 22,
    "interruptor_share": 92_689 / 93_123,
    "joined": {"interruptor": 100_033, "transformador": 67_763, "tramo de linea": 429},
}


@dataclass
class Check:
    metric: str
    generated: float
    published: float
    target: bool  # counts toward pass/fail

    @property
    def ratio(self) -> float:
        if self.published == 0:
            return float("nan")
        return self.generated / self.published

    @property
    def ok(self) -> bool:
        r = self.ratio
        return bool(np.isfinite(r) and 1 / FACTOR <= r <= FACTOR)

    def as_dict(self) -> dict:
        return {
            "metric": self.metric,
            "generated": self.generated,
            "published": self.published,
            "ratio": self.ratio,
            "pass": self.ok,
            "target": self.target,
        }


def load_profile(path: str | Path) -> dict:
    """Targets from an ``interrupciones_profile.json`` file (same structure as ``PROFILE``)."""
    p = json.loads(Path(path).read_text(encoding="utf-8"))
    sub = p["interrupciones"]["unplanned_13.2kV_subset"]
    out = {
        "rows_total": p["interrupciones"]["rows_total"],
        "subset_rows": sub["rows"],
        "quantiles": {c: {k: sub[c][k] for k in ("p25", "p50", "p75", "mean")} for c in QUANTITY_COLUMNS},
        "share_gt_3min": sub["tipo_duracion"]["> 3 min"] / sub["rows"],
        "top_cause": (sub["causa_most_frequent"][0], sub["causa_most_frequent"][1] / sub["rows"]),
        "causes_unique": sub["causa_unique"],
        "interruptor_share": sub["tipo_equi_ope"]["interruptor"] / sub["rows"],
        "joined": {
            "interruptor": p["events_joined_to_assets"]["switch_events"],
            "transformador": p["events_joined_to_assets"]["transformer_events"],
            "tramo de linea": p["events_joined_to_assets"]["line_segment_events"],
        },
    }
    return out


def _size_factor(twin: Path) -> float:
    truth = twin / "truth.json"
    if truth.exists():
        segs = json.loads(truth.read_text(encoding="utf-8")).get("assets", {}).get("segments")
        if segs:
            months = json.loads(truth.read_text(encoding="utf-8"))["generator"]
            y0, m0 = map(int, months["start"].split("-"))
            y1, m1 = map(int, months["end"].split("-"))
            n_months = (y1 - y0) * 12 + m1 - m0 + 1
            return segs / 62_300 * n_months / 66
    return float("nan")


def calibration_report(twin: str | Path, profile: str | Path | None = None) -> dict:
    """Compare ``twin/interrupciones.csv`` with the profile. Returns a JSON-able dict with ``checks``
    (metric, generated, published, ratio, pass, target), ``passed`` (all target checks pass) and
    ``scale`` (from truth.json)."""
    twin = Path(twin)
    f = twin / "interrupciones.csv"
    if not f.exists():
        raise NotFoundError(f"{f}: no interrupciones.csv in {twin} (run `gridcrit synth` first)")
    prof = load_profile(profile) if profile else PROFILE
    df = pd.read_csv(
        f, dtype={"causa": str, "tipo_elemento": str}, na_values=["-", "XXX"], keep_default_na=True
    )
    missing = [
        c for c in ("tipo_causa", "tipo_elemento", "tipo_equi_ope", "causa", *QUANTITY_COLUMNS) if c not in df
    ]
    if missing:
        raise ValidationError(f"{f}: missing column(s) {', '.join(missing)}")
    sub = df[(df["tipo_causa"] == "NP") & (df["tipo_elemento"] == "13.2")]
    checks: list[Check] = []
    if len(sub):
        for c in QUANTITY_COLUMNS:
            q = prof["quantiles"][c]
            for k, p in (("p25", 0.25), ("p50", 0.5), ("p75", 0.75)):
                checks.append(Check(f"{c} {k}", float(sub[c].quantile(p)), float(q[k]), True))
            # the mean SAIDI per row is the customer-weighted restoration time (× SAIFI): the figure the
            # system's SAIDI follows, so a target; other means only shown (heavy tails, not what users read)
            checks.append(Check(f"{c} mean", float(sub[c].mean()), float(q["mean"]), c in MEAN_TARGETS))
        checks.append(
            Check(
                "share > 3 min",
                float((sub["tipo_duracion"] == "> 3 min").mean()),
                prof["share_gt_3min"],
                True,
            )
        )
        code, share = prof["top_cause"]
        top = sub["causa"].value_counts()
        checks.append(Check(f"share of cause {code}", float((sub["causa"] == code).mean()), share, True))
        checks.append(
            Check(
                f"most frequent cause is {code}", float(top.index[0] == code) if len(top) else 0.0, 1.0, True
            )
        )
        checks.append(
            Check("distinct causes", float(sub["causa"].nunique()), float(prof["causes_unique"]), False)
        )
        checks.append(
            Check(
                "interruptor share (subset)",
                float((sub["tipo_equi_ope"] == "interruptor").mean()),
                prof["interruptor_share"],
                True,
            )
        )
    size = _size_factor(twin)
    joined_total = sum(prof["joined"].values())
    for kind, n in prof["joined"].items():
        checks.append(
            Check(
                f"rows share {kind}",
                float((df["tipo_equi_ope"] == kind).mean()),
                n / joined_total,
                kind != "tramo de linea",
            )
        )
    if np.isfinite(size):
        checks.append(
            Check("rows (scaled by network size)", float(len(df)), prof["rows_total"] * size, False)
        )
        checks.append(Check("subset rows (scaled)", float(len(sub)), prof["subset_rows"] * size, False))
    scale = None
    if (twin / "truth.json").exists():
        scale = (
            json.loads((twin / "truth.json").read_text(encoding="utf-8")).get("generator", {}).get("scale")
        )
    targets = [c for c in checks if c.target]
    return {
        "twin": str(twin),
        "scale": scale,
        "rows": len(df),
        "subset_rows": len(sub),
        "factor": FACTOR,
        "passed": bool(targets) and all(c.ok for c in targets),
        "n_pass": sum(c.ok for c in targets),
        "n_target": len(targets),
        "checks": [c.as_dict() for c in checks],
    }
