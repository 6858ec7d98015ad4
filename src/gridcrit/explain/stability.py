"""Agreement of explanations across methods, seeds and CV folds, overall and per feature group.

* :func:`method_agreement` — pairwise Spearman / top-k overlap of global importances of several
  :class:`~gridcrit.explain.attribution.Attribution` of the *same rows*, plus the mean per-row Spearman
  of |attributions| (how often two methods agree on a given asset, not only on average).
* :func:`group_agreement` — the same per feature group (asset, topology, exposure, history): do two
  methods rank the features *inside* a group alike, and do they give the group the same share?
* :func:`stability` — fit a model factory with several seeds and/or on several CV folds, attribute a
  common evaluation set, and report the mean pairwise agreement (1 = perfectly stable).

Masks are unsigned, so everything works on |values|.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from gridcrit.explain.agreement import rank_agreement

GROUPS = ("asset", "topology", "exposure", "history")


def rowwise_spearman(a: np.ndarray, b: np.ndarray, max_rows: int = 2000) -> float:
    """Mean over rows of the Spearman correlation of two [n, f] unsigned attribution matrices.

    Rows where either side is constant are skipped (correlation undefined)."""
    a, b = np.abs(np.asarray(a, float))[:max_rows], np.abs(np.asarray(b, float))[:max_rows]
    ra = np.argsort(np.argsort(a, axis=1, kind="stable"), axis=1).astype(float)
    rb = np.argsort(np.argsort(b, axis=1, kind="stable"), axis=1).astype(float)
    ok = (a.std(1) > 0) & (b.std(1) > 0)
    if not ok.any():
        return float("nan")
    ra, rb = ra[ok] - ra[ok].mean(1, keepdims=True), rb[ok] - rb[ok].mean(1, keepdims=True)
    rho = (ra * rb).sum(1) / np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    return float(np.mean(rho))


def method_agreement(atts: dict[str, Any], k: int = 5) -> dict[str, Any]:
    """Pairwise agreement of attributions ``{name: Attribution}`` of the same rows."""
    names = list(atts)
    matrix = np.eye(len(names))
    pairs = []
    for (i, a), (j, b) in combinations(enumerate(names), 2):
        ga, gb = atts[a].global_importance, atts[b].global_importance
        r = rank_agreement(ga, gb, k=k)
        r.update({"a": a, "b": b, "rowwise_spearman": rowwise_spearman(atts[a].values, atts[b].values)})
        matrix[i, j] = matrix[j, i] = r["spearman"]
        pairs.append(r)
    return {"methods": names, "spearman_matrix": matrix.tolist(), "pairs": pairs}


def group_agreement(ga: np.ndarray, gb: np.ndarray, feature_names: list[str], groups: dict[str, str],
                    k: int = 3) -> dict[str, dict[str, float]]:
    """Per group: Spearman and top-k overlap inside the group, and each side's share of importance."""
    ga, gb = np.abs(np.asarray(ga, float)), np.abs(np.asarray(gb, float))
    out: dict[str, dict[str, float]] = {}
    for g in GROUPS:
        idx = [i for i, n in enumerate(feature_names) if groups.get(n) == g]
        if not idx:
            continue
        sa, sb = ga[idx], gb[idx]
        rho = spearmanr(sa, sb).statistic if len(idx) > 2 and sa.std() > 0 and sb.std() > 0 else float("nan")
        top = rank_agreement(sa, sb, k=min(k, len(idx)))["topk_overlap"]
        out[g] = {"n_features": len(idx), "spearman": float(rho), "topk_overlap": float(top),
                  "share_a": float(sa.sum() / ga.sum()) if ga.sum() else float("nan"),
                  "share_b": float(sb.sum() / gb.sum()) if gb.sum() else float("nan")}
    return out


def _pairwise(imps: list[np.ndarray], names: list[str], groups: dict[str, str] | None, k: int) -> dict[str, Any]:
    pairs = [rank_agreement(a, b, k=k) for a, b in combinations(imps, 2)]
    res: dict[str, Any] = {
        "n_runs": len(imps),
        "mean_spearman": float(np.nanmean([p["spearman"] for p in pairs])) if pairs else float("nan"),
        "mean_topk_overlap": float(np.mean([p["topk_overlap"] for p in pairs])) if pairs else float("nan"),
        "k": k,
    }
    if groups:
        per: dict[str, list[dict[str, float]]] = {}
        for a, b in combinations(imps, 2):
            for g, v in group_agreement(a, b, names, groups).items():
                per.setdefault(g, []).append(v)
        shares = {g: [] for g in per}
        for imp in imps:
            tot = float(np.abs(imp).sum()) or 1.0
            for g in per:
                shares[g].append(float(sum(abs(imp[i]) for i, n in enumerate(names) if groups.get(n) == g) / tot))
        res["per_group"] = {g: {"spearman": float(np.nanmean(rhos)) if np.isfinite(rhos).any() else float("nan"),
                                "topk_overlap": float(np.mean([v["topk_overlap"] for v in vs])),
                                "share_mean": float(np.mean(shares[g])), "share_sd": float(np.std(shares[g]))}
                            for g, vs in per.items() for rhos in [np.array([v["spearman"] for v in vs])]}
    return res


def stability(make: Callable[[int], Any], X: pd.DataFrame, y: Any, X_eval: pd.DataFrame, *,
              seeds: Iterable[int] = (0, 1, 2), folds: list[tuple[np.ndarray, np.ndarray]] | None = None,
              method: str = "auto", groups: dict[str, str] | None = None, k: int = 5) -> dict[str, Any]:
    """Refit ``make(seed)`` per seed (on all of ``X``) and per fold (seed 0, on the fold's training
    rows); attribute ``X_eval`` each time and report mean pairwise agreement of global importances."""
    from gridcrit.explain.attribution import attribute

    y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    names = [str(c) for c in X_eval.columns]
    out: dict[str, Any] = {}
    seed_imps = []
    for s in seeds:
        m = make(s).fit(X, y)
        seed_imps.append(attribute(m, X_eval, method=method).global_importance)
    out["seeds"] = _pairwise(seed_imps, names, groups, k)
    if folds:
        fold_imps = []
        for tr, _te in folds:
            m = make(0).fit(X.iloc[tr], y[tr])
            fold_imps.append(attribute(m, X_eval, method=method).global_importance)
        out["folds"] = _pairwise(fold_imps, names, groups, k)
    return out
