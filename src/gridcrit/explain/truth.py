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
* :func:`driver_share` — share of total attribution on the features of any true driver;
* :func:`critical_rows` — the *critical* asset-periods the issue scores: the top ``top`` share (default
  10 %) of the model's predicted risk within each period, i.e. the ones a utility's criticality list
  would flag (fixed before any hit rate was looked at; the all-assets figure is always reported too);
* :func:`driver_discrimination` — the harder question behind "driver in the top k": does the row's
  explanation rank its *own* driver above the other drivers present (top-1 driver), and how often do a
  driver's features sit in the top k of rows caused by *other* drivers (false alarms)? A top-k hit
  rate is only informative next to these: with few drivers per asset kind, one global top 3 that names
  each driver once already "hits" nearly every row;
* :func:`driver_disagreements` — rows where two methods (TabNet masks vs TreeSHAP) disagree on
  whether the true driver is in the top k, with examples.

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


def critical_rows(prediction: np.ndarray, periods: pd.Series | np.ndarray, top: float = 0.10) -> np.ndarray:
    """Boolean mask of the *critical* rows: the top ``top`` share of predicted risk within each period.

    This is how a utility reads a criticality model: each month, the assets at the head of the risk
    list. Per period (not overall) so that a stormy month does not fill the list on its own. Ties at
    the threshold are all kept.
    """
    if not 0 < top <= 1:
        raise ValidationError(f"critical share must be in (0, 1], got {top}")
    pred = pd.Series(np.asarray(prediction, dtype=float))
    per = pd.Series(np.asarray(periods).astype(str))
    if len(pred) != len(per):
        raise ValidationError(f"{len(pred)} predictions for {len(per)} periods")
    thr = pred.groupby(per.values).transform(lambda v: v.quantile(1.0 - top, interpolation="higher"))
    return (pred >= thr).to_numpy()


def _driver_rows(rows: pd.DataFrame, drivers: pd.DataFrame, feats_of: dict[str, list[str]],
                 row_mask: np.ndarray | None = None) -> pd.DataFrame:
    """Explained rows joined to their asset-period's driver (``row_idx`` into ``rows``)."""
    key = rows[["asset_id", "period"]].astype(str).reset_index(drop=True).copy()
    key["row_idx"] = np.arange(len(key))
    if row_mask is not None:
        key = key[np.asarray(row_mask, dtype=bool)]
    m = key.merge(drivers.astype({"asset_id": str, "period": str}), on=["asset_id", "period"], how="inner")
    return m[m["driver"].map(lambda d: bool(feats_of.get(d)))].reset_index(drop=True)


def driver_topk(att: Any, rows: pd.DataFrame, drivers: pd.DataFrame, feats_of: dict[str, list[str]],
                k: int = 3, row_mask: np.ndarray | None = None) -> dict[str, Any]:
    """Share of driver-caused asset-periods whose driver has a feature in the row's top ``k``.

    ``rows``: the explained rows' ``asset_id`` and ``period`` (aligned with ``att.values``);
    ``row_mask`` (optional, aligned with ``rows``) restricts the score to those rows (e.g.
    :func:`critical_rows`). Also returns the same share for the model's single global ranking, per
    driver counts, and up to 10 misses as examples (with the rank of the driver's best feature).
    """
    m = _driver_rows(rows, drivers, feats_of, row_mask)
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
            order = np.argsort(-mag[r.row_idx], kind="stable")
            rank = {int(j): i for i, j in enumerate(order)}
            best = min(fset, key=lambda j: rank[j])
            misses.append({"asset_id": r.asset_id, "period": r.period, "driver": r.driver,
                           "top_features": [names[j] for j in row_top],
                           "driver_feature": names[best], "driver_feature_rank": rank[best] + 1})
    n = len(hits)
    return {"k": k, "n_asset_periods": n,
            "topk_hit_rate": float(np.mean(hits)) if n else float("nan"),
            "global_ranking_hit_rate": float(np.mean(ghits)) if n else float("nan"),
            "per_driver": per, "misses": misses}


def _own_vs_others(mag: np.ndarray, row: int, driver: str, cands: list[str], feats_of: dict[str, list[str]],
                   col: dict[str, int]) -> bool:
    own = {col[c] for c in feats_of[driver] if c in col}
    s_own = max(mag[row, j] for j in own)
    other = {col[c] for d in cands if d != driver for c in feats_of[d] if c in col} - own
    return bool(s_own > max((mag[row, j] for j in other), default=-np.inf))


def driver_discrimination(att: Any, rows: pd.DataFrame, drivers: pd.DataFrame, feats_of: dict[str, list[str]],
                          k: int = 3, row_mask: np.ndarray | None = None) -> dict[str, Any]:
    """Does a row's explanation tell its own driver apart from the others present?

    Candidates are the drivers that caused at least one scored asset-period. Per row: ``top1`` — the
    true driver's best feature has a larger |attribution| than every feature of the other candidates
    (features shared with the true driver excluded). Baselines: the same with the model's global
    importance (one answer for every row) and the share of the most frequent driver. ``false_alarm``
    per driver: share of rows caused by *other* drivers where this driver has a feature in the top
    ``k`` — a driver whose features are in everyone's top k "hits" its own rows for free.
    """
    m = _driver_rows(rows, drivers, feats_of, row_mask)
    names = att.feature_names
    col = {n: j for j, n in enumerate(names)}
    mag = np.abs(att.values)
    glob = np.broadcast_to(np.asarray(att.global_importance, dtype=float), (1, len(names)))
    cands = sorted(m["driver"].unique())
    top = np.argsort(-mag, axis=1, kind="stable")[:, :k]
    per: dict[str, dict[str, Any]] = {}
    hits, ghits = [], []
    for r in m.itertuples(index=False):
        h = _own_vs_others(mag, r.row_idx, r.driver, cands, feats_of, col)
        g = _own_vs_others(glob, 0, r.driver, cands, feats_of, col)
        hits.append(h)
        ghits.append(g)
        d = per.setdefault(r.driver, {"n": 0, "top1": 0, "global_top1": 0})
        d["n"] += 1
        d["top1"] += h
        d["global_top1"] += g
    for d in cands:
        fset = {col[c] for c in feats_of[d] if c in col}
        other = m.loc[m["driver"] != d, "row_idx"].to_numpy()
        fa = [bool(fset & set(top[i].tolist())) for i in other]
        per[d]["false_alarm_topk"] = float(np.mean(fa)) if fa else float("nan")
    n = len(hits)
    shares = m["driver"].value_counts(normalize=True)
    return {"k": k, "n_asset_periods": n, "candidates": cands,
            "top1_driver_rate": float(np.mean(hits)) if n else float("nan"),
            "global_top1_driver_rate": float(np.mean(ghits)) if n else float("nan"),
            "majority_driver_rate": float(shares.iloc[0]) if n else float("nan"),
            "balanced_top1_driver_rate": float(np.mean([per[d]["top1"] / per[d]["n"] for d in cands]))
            if n else float("nan"),
            "per_driver": per}


def driver_disagreements(a: Any, b: Any, rows: pd.DataFrame, drivers: pd.DataFrame,
                         feats_of: dict[str, list[str]], k: int = 3, n_examples: int = 3) -> dict[str, Any]:
    """Where two attributions (e.g. TabNet masks ``a`` vs TreeSHAP ``b``) disagree on the true driver.

    Counts of driver-caused rows where both, only ``a``, only ``b`` or neither have the driver in the
    row's top ``k``, per driver, and up to ``n_examples`` rows of each one-sided case with both top-k
    lists. ``a`` and ``b`` must explain the same rows in the same feature order.
    """
    if list(a.feature_names) != list(b.feature_names) or a.values.shape != b.values.shape:
        raise ValidationError("driver_disagreements: the two attributions must cover the same rows and features")
    m = _driver_rows(rows, drivers, feats_of)
    names = a.feature_names
    col = {n: j for j, n in enumerate(names)}
    ta = np.argsort(-np.abs(a.values), axis=1, kind="stable")[:, :k]
    tb = np.argsort(-np.abs(b.values), axis=1, kind="stable")[:, :k]
    counts: dict[str, dict[str, int]] = {}
    examples: dict[str, list[dict[str, Any]]] = {f"only_{a.method}": [], f"only_{b.method}": []}
    for r in m.itertuples(index=False):
        fset = {col[c] for c in feats_of[r.driver] if c in col}
        ha, hb = bool(fset & set(ta[r.row_idx].tolist())), bool(fset & set(tb[r.row_idx].tolist()))
        case = "both" if ha and hb else f"only_{a.method}" if ha else f"only_{b.method}" if hb else "neither"
        c = counts.setdefault(r.driver, {"both": 0, f"only_{a.method}": 0, f"only_{b.method}": 0, "neither": 0})
        c[case] += 1
        if case in examples and len(examples[case]) < n_examples:
            examples[case].append({"asset_id": r.asset_id, "period": r.period, "driver": r.driver,
                                   a.method: [names[j] for j in ta[r.row_idx]],
                                   b.method: [names[j] for j in tb[r.row_idx]]})
    total = {case: sum(c[case] for c in counts.values()) for case in
             ("both", f"only_{a.method}", f"only_{b.method}", "neither")}
    return {"k": k, "total": total, "per_driver": counts, "examples": examples}


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
               period: str = "month", k: int = 3, prediction: np.ndarray | None = None,
               critical_top: float = 0.10) -> dict[str, Any]:
    """The twin checks of ``att`` (attributions of ``rows``) against the twin's truth.

    Always on all driver-caused asset-periods (``topk``, ``discrimination``); with the model's
    ``prediction`` for ``rows`` also on the critical ones (:func:`critical_rows`, top
    ``critical_top`` of predicted risk per period: ``topk_critical``, ``discrimination_critical``).
    """
    _truth, events = load_truth(twin_dir)
    feats_of = driver_features(card, att.feature_names)
    drivers = event_drivers(store, events, period, scoreable=set(feats_of))
    out = {"share": driver_share(att, feats_of), "topk": driver_topk(att, rows, drivers, feats_of, k),
           "discrimination": driver_discrimination(att, rows, drivers, feats_of, k),
           "driver_features": feats_of}
    if prediction is not None:
        crit = critical_rows(prediction, rows["period"], critical_top)
        out["critical"] = {"definition": f"top {critical_top:.0%} of predicted risk within each period",
                           "rows": int(crit.sum())}
        out["topk_critical"] = driver_topk(att, rows, drivers, feats_of, k, row_mask=crit)
        out["discrimination_critical"] = driver_discrimination(att, rows, drivers, feats_of, k, row_mask=crit)
        # the same check crediting only the driver's physical columns: the asset's own history by
        # recorded cause (hist_cause_*) carries its drivers too, but a reader may want the figure
        # that does not lean on it (same rows: a driver is scored if it has a physical column)
        cols = card.get("columns", {})
        physical = {d: [c for c in fs if cols.get(c, {}).get("group") != "history"] for d, fs in feats_of.items()}
        out["topk_critical_physical"] = driver_topk(att, rows, drivers, physical, k, row_mask=crit)
    return out
