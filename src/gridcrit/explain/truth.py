"""Check explanations against known truth: the synthetic twin's drivers and Syn1–Syn6.

Twin (``truth.json`` + ``truth_events.csv`` of :func:`gridcrit.data.synth.synthesize`):

* the dataset's data card maps each hazard (``vegetation``, ``lightning``, ``age_heat`` ...) to the
  feature columns that carry it (``card["drivers"]``, e.g. lightning -> ``lightning_strokes_prev_period``,
  ``guard_wire_feeder`` ...); hazards without features (``unknown``, ``planned``) are not scored;
* :func:`event_drivers` joins each event's driver (``truth_events.csv``) to the asset that operated it
  (``interrupciones.equipo_ope``) and its period, and keeps the asset-periods whose events have one
  dominant scoreable driver (≥ ``min_share`` of the events);
* :func:`driver_topk` — per such asset-period: does one of its driver's features rank in the row's top
  ``k`` |attributions|? Reported next to the same score for the best *single* global ranking (the model's
  own global top-k applied to every row), so a per-row explanation shows whether it adds anything;
* :func:`driver_share` — share of total attribution on the features of any true driver.

Syn1–Syn6 (:mod:`gridcrit.models.synthetic_benchmarks`): :func:`syn_check` compares per-row top-k
precision of attributions with the best single global ranking (the oracle ordering by how often a
feature is relevant), overall and on the branch features only (x11 excluded) for Syn4–6.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridcrit.errors import NotFoundError, ValidationError
from gridcrit.explain.agreement import (
    global_ranking_topk_precision,
    rowwise_topk_precision,
    share_on_features,
)


# ------------------------------------------------------------------------------------------- Syn1-6
def syn_check(attributions: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Per-row top-k precision vs the best single global ranking on a Syn benchmark.

    ``attributions`` [n, 11] (|values| are used), ``truth`` bool [n, 11]. ``beats_global`` is True only
    when the per-row score is strictly higher than the oracle global ranking's.
    """
    att = np.abs(np.asarray(attributions, dtype=float))
    out: dict[str, Any] = {"rowwise_topk": rowwise_topk_precision(att, truth),
                           "best_global_topk": global_ranking_topk_precision(truth)}
    out["beats_global"] = bool(out["rowwise_topk"] > out["best_global_topk"])
    if truth[:, 10].all() and not truth.all(axis=0)[:10].all():  # Syn4-6: x11 picks the branch
        br = truth.copy()
        br[:, 10] = False
        a2 = att.copy()
        a2[:, 10] = -np.inf
        out["branch_rowwise_topk"] = rowwise_topk_precision(a2, br)
        out["branch_best_global_topk"] = global_ranking_topk_precision(br)
        out["branch_beats_global"] = bool(out["branch_rowwise_topk"] > out["branch_best_global_topk"])
    return out


# --------------------------------------------------------------------------------------------- twin
def driver_features(card: dict[str, Any], features: list[str]) -> dict[str, list[str]]:
    """Hazard -> feature columns (among ``features``) that carry it, from the data card."""
    drivers = card.get("drivers") if isinstance(card, dict) else None
    if not drivers:
        raise ValidationError("the dataset's data card has no 'drivers' map (hazard -> features)")
    keep = set(features)
    return {d: [c for c in cols if c in keep] for d, cols in drivers.items() if any(c in keep for c in cols)}


def load_truth(twin_dir: str | Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """``(truth.json, truth_events.csv)`` of a twin folder; a clear error if they are missing."""
    twin = Path(twin_dir)
    tj, te = twin / "truth.json", twin / "truth_events.csv"
    for f in (tj, te):
        if not f.exists():
            raise NotFoundError(f"{f} not found: not a synthetic twin folder (gridcrit synth writes it)")
    return json.loads(tj.read_text(encoding="utf-8")), pd.read_csv(te, dtype={"evento": "int64", "driver": str})


def _period_label(periodo: pd.Series, kind: str) -> pd.Series:
    p = pd.PeriodIndex(pd.to_datetime(periodo.astype(int).astype(str), format="%Y%m"), freq="M")
    if kind == "quarter":
        return pd.Series(p.asfreq("Q").astype(str), index=periodo.index)
    return pd.Series(p.astype(str), index=periodo.index)


def event_drivers(store: str | Path, truth_events: pd.DataFrame, period: str = "month",
                  scoreable: set[str] | None = None, min_share: float = 0.5) -> pd.DataFrame:
    """Asset-periods with their dominant true driver: columns ``asset_id, period, driver, n_events,
    share`` (share of the asset-period's events caused by that driver; kept if ≥ ``min_share``)."""
    from gridcrit.data.store import connect

    con = connect(store, read_only=True)
    try:
        ev = con.execute("SELECT DISTINCT evento, periodo, equipo_ope FROM interrupciones").df()
    finally:
        con.close()
    ev = ev.merge(truth_events[["evento", "driver"]], on="evento", how="inner")
    if ev.empty:
        return pd.DataFrame(columns=["asset_id", "period", "driver", "n_events", "share"])
    ev["period"] = _period_label(ev["periodo"], period)
    ev["asset_id"] = ev["equipo_ope"].astype(str)
    cnt = ev.groupby(["asset_id", "period", "driver"]).size().rename("n").reset_index()
    tot = cnt.groupby(["asset_id", "period"])["n"].transform("sum")
    cnt["share"] = cnt["n"] / tot
    cnt = cnt.sort_values(["asset_id", "period", "n"], ascending=[True, True, False]).drop_duplicates(
        ["asset_id", "period"])
    cnt = cnt[cnt["share"] >= min_share]
    if scoreable is not None:
        cnt = cnt[cnt["driver"].isin(scoreable)]
    return cnt.rename(columns={"n": "n_events"}).reset_index(drop=True)


def driver_topk(att: Any, rows: pd.DataFrame, drivers: pd.DataFrame, feats_of: dict[str, list[str]],
                k: int = 3) -> dict[str, Any]:
    """Share of driver-caused asset-periods whose driver has a feature in the row's top ``k``.

    ``rows``: the explained rows' ``asset_id`` and ``period`` (aligned with ``att.values``).
    Also returns the same share for the model's single global ranking, per driver counts, and up to
    10 misses as examples.
    """
    key = rows[["asset_id", "period"]].astype(str).reset_index(drop=True).copy()
    key["row_idx"] = np.arange(len(key))
    m = key.merge(drivers.astype({"asset_id": str, "period": str}), on=["asset_id", "period"], how="inner")
    names = att.feature_names
    col = {n: j for j, n in enumerate(names)}
    mag = np.abs(att.values)
    top = np.argsort(-mag, axis=1, kind="stable")[:, :k]
    gtop = set(np.argsort(-att.global_importance, kind="stable")[:k].tolist())
    hits, ghits, per, misses = [], [], {}, []
    for r in m.itertuples(index=False):
        fset = {col[c] for c in feats_of.get(r.driver, []) if c in col}
        if not fset:
            continue
        row_top = top[r.row_idx]
        hit = bool(fset & set(row_top.tolist()))
        ghit = bool(fset & gtop)
        hits.append(hit)
        ghits.append(ghit)
        d = per.setdefault(r.driver, {"n": 0, "hits": 0, "global_hits": 0})
        d["n"] += 1
        d["hits"] += hit
        d["global_hits"] += ghit
        if not hit and len(misses) < 10:
            misses.append({"asset_id": r.asset_id, "period": r.period, "driver": r.driver,
                           "top_features": [names[j] for j in row_top]})
    n = len(hits)
    return {"k": k, "n_asset_periods": n,
            "topk_hit_rate": float(np.mean(hits)) if n else float("nan"),
            "global_ranking_hit_rate": float(np.mean(ghits)) if n else float("nan"),
            "per_driver": per, "misses": misses}


def driver_share(att: Any, feats_of: dict[str, list[str]]) -> dict[str, float]:
    """Share of total |attribution| on each driver's features and on the union of all of them."""
    names = att.feature_names
    out = {}
    union = np.zeros(len(names), dtype=bool)
    for d, cols in feats_of.items():
        mask = np.array([n in cols for n in names])
        union |= mask
        out[d] = share_on_features(att.values, mask)
    out["any_true_driver"] = share_on_features(att.values, union)
    out["feature_share_of_driver_columns"] = float(union.mean())  # the share a uniform attribution would get
    return out


def twin_check(att: Any, rows: pd.DataFrame, store: str | Path, twin_dir: str | Path, card: dict[str, Any],
               period: str = "month", k: int = 3) -> dict[str, Any]:
    """Both twin checks of ``att`` (attributions of ``rows``) against the twin's truth."""
    _truth, events = load_truth(twin_dir)
    feats_of = driver_features(card, att.feature_names)
    drivers = event_drivers(store, events, period, scoreable=set(feats_of))
    return {"share": driver_share(att, feats_of), "topk": driver_topk(att, rows, drivers, feats_of, k),
            "driver_features": feats_of}
