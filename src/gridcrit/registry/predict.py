"""Predictions from a registered model: assets of one period ranked by predicted criticality.

``predict(store, model="champion", period="2024-06")`` rebuilds the dataset rows of that period,
loads the model (checksums verified; a corrupted champion falls back to the previous one with a
warning), predicts, and for each asset lists its top drivers:

* boosted trees: exact additive contributions (XGBoost ``pred_contribs``, LightGBM ``pred_contrib``);
* models with ``explain`` (TabNet): per-row attention importances (weights, not signed effects);
* otherwise no drivers (the result says so).

With ``model="champion"`` the champions of the other targets of the same level and period are
applied too, so one table carries predicted SAIFI, SAIDI and risk class when they exist.

Example::

    >>> res = predict("gridcrit.duckdb", period="2024-06")        # doctest: +SKIP
    >>> res.frame.head()[["rank", "asset_id", "pred_saifi", "drivers"]]  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridcrit.errors import NotFoundError, ValidationError
from gridcrit.registry.fingerprint import period_labels
from gridcrit.registry.registry import Registry
from gridcrit.registry.retrain import default_dataset, target_column

TARGET_ORDER = ("saifi", "saidi", "count", "risk")


@dataclass
class PredictResult:
    frame: pd.DataFrame
    period: str
    models: dict[str, str]  # target -> version that served
    warnings: list[str] = field(default_factory=list)
    drivers_method: dict[str, str] = field(default_factory=dict)

    def to_dict(self, limit: int | None = None) -> dict[str, Any]:
        df = self.frame if limit is None else self.frame.head(limit)
        return {"period": self.period, "models": self.models, "warnings": self.warnings,
                "drivers_method": self.drivers_method, "rows": len(self.frame),
                "assets": df.to_dict(orient="records")}


def contributions(model: Any, X: pd.DataFrame) -> tuple[np.ndarray | None, str]:
    """Per-row, per-feature contributions in the column order of ``X`` (or None) and the method used.

    The same numbers ``gridcrit explain`` shows (:func:`gridcrit.explain.attribution.attribute`):
    exact TreeSHAP of boosted trees in the prediction's units (log rate for Poisson; the predicted
    class for classifiers), TabNet's attention importances on the inputs its network sees."""
    from gridcrit.explain.attribution import attribute, auto_method
    from gridcrit.registry.native import NativeGBDT

    if isinstance(model, NativeGBDT):
        return model.contributions(X), "tree SHAP contributions"
    method = auto_method(model)
    if method == "treeshap":
        return attribute(model, X, method="treeshap").values, "tree SHAP contributions"
    if method == "tabnet":
        try:
            return attribute(model, X, method="tabnet").values, "TabNet attention importances"
        except Exception:  # explanations are optional; predictions still stand
            pass
    return None, "none available for this model"


def top_drivers(contrib: np.ndarray | None, columns: list[str], k: int = 3) -> list[str]:
    """'feature (+value)' strings of the ``k`` features pushing each row's prediction up most."""
    if contrib is None:
        return [""] * 0
    idx = np.argsort(-contrib, axis=1)[:, :k]
    return ["; ".join(f"{columns[j]} ({contrib[i, j]:+.3g})" for j in row if contrib[i, j] > 0)
            for i, row in enumerate(idx)]


def expected_class_rank(model: Any, proba: np.ndarray) -> np.ndarray:
    """Expected risk-class rank per row, ``Σ_k P(class k) · rank(k)`` with Bajo 0, Medio 1, Alto 2,
    Muy Alto 3 (classes given by name or by their codes 0..3; other labels rank in the model's order)."""
    from gridcrit.features.targets import RISK_LABELS

    classes = [str(c) for c in model.classes_]
    rank = np.array([RISK_LABELS.index(c) if c in RISK_LABELS else i for i, c in enumerate(classes)], float)
    return np.asarray(proba, float) @ rank


def _last_event_label(store: str | Path, pkind: str, required: bool = True) -> tuple[str | None, str | None]:
    """``(label, partial)``: the label of the last period with events in the store (where the default
    dataset ends; None when the store has none and ``required`` is false) and, when the events stop
    before that period's last month (a quarter or year only partly covered), ``'last event YYYY-MM-DD'``
    — one read of the store for both."""
    from gridcrit.data.store import connect
    from gridcrit.features.periods import period_label
    from gridcrit.features.targets import last_complete_period, last_event_period

    con = connect(store, read_only=True)
    try:
        last = last_event_period(con, pkind)
        partial = None
        if last is not None and last_complete_period(con, pkind) != last:
            partial = f"last event {con.execute('SELECT max(inicio)::DATE FROM interrupciones').fetchone()[0]}"
    finally:
        con.close()
    if last is None:
        if not required:
            return None, None
        raise NotFoundError("the store has no interruptions: nothing to forecast from",
                            es="el almacén no tiene interrupciones: no hay de qué pronosticar")
    return str(period_label(last, pkind)[0]), partial


def _target_rank(target: str) -> int:
    """Where a target's columns go in the table: SAIFI, SAIDI, count, risk, then any other."""
    return TARGET_ORDER.index(target) if target in TARGET_ORDER else len(TARGET_ORDER)


def lead_slot(registry: Registry, slot: str | None = None) -> str | None:
    """The slot whose champion ``predict(model="champion")`` leads its table with: ``slot`` when given;
    else, when all champions share one level and period, the SAIFI one (then SAIDI, count, risk);
    else None (the registry's own default, which says when that is ambiguous)."""
    if slot is not None:
        return slot
    champs = registry.list(status="champion")
    if champs and len({(m["level"], m["period"]) for m in champs}) == 1:
        return min(champs, key=lambda m: _target_rank(m["target"]))["slot"]
    return None


_QUARTER_RE = re.compile(r"^(\d{4})-?Q([1-4])$")


def period_for_model(period: str | None, meta: dict[str, Any]) -> str | None:
    """``period`` as the model's dataset labels it (``2024Q1`` → ``2024-Q1``); a quarter asked of a monthly
    model, or a month of a quarterly one, is refused with the form to use (the registry compared the
    labels as text and answered 'beyond the data'). Used by ``predict`` and the app's routes."""
    if period is None or period == "next":
        return period
    q, kind, v = _QUARTER_RE.match(period), meta.get("period"), meta.get("version")
    if kind == "month" and q:
        raise ValidationError(f"model {v} ranks months: give the period as YYYY-MM (e.g. {q.group(1)}-"
                              f"{3 * int(q.group(2)):02d}) or 'next'",
                              es=f"el modelo {v} ordena meses: indique el periodo como AAAA-MM (p. ej. "
                                 f"{q.group(1)}-{3 * int(q.group(2)):02d}) o 'next'")
    if kind == "quarter" and not q:
        y, m = period.split("-")
        inq = f"{y}-Q{(int(m) - 1) // 3 + 1}"
        raise ValidationError(f"model {v} ranks quarters: give the period as YYYY-Qn ({period} is in {inq}) or 'next'",
                              es=f"el modelo {v} ordena trimestres: indique el periodo como AAAA-Qn ({period} está "
                                 f"en {inq}) o 'next'")
    return f"{q.group(1)}-Q{q.group(2)}" if q else period


def _next_period_dataset(store: str | Path, level: str, pkind: str, last: str, asked: str,
                         dataset_fn: Callable[..., Any] | None) -> tuple[Any, str]:
    """The rows of the period after ``last`` (targets unknown, NaN) and that period's label.

    Only the next period can be forecast: a later one would need the history of the periods between,
    which the store does not have yet (they would count as outage-free).

    Without ``dataset_fn`` only that period's rows are built (``build_dataset(..., end=nxt,
    only_periods=[nxt])``): the same rows, codes included, as the dataset extended by ``nxt``, without
    rebuilding every earlier period's rows (most of a full build's time and memory, for a forecast
    asked often). A ``dataset_fn`` is called as before, ``dataset_fn(store, level, period, end=nxt)``."""
    from gridcrit.features.dataset import build_dataset
    from gridcrit.features.periods import parse_period, period_label

    nxt = str(period_label(parse_period(last, pkind) + 1, pkind)[0])
    if asked not in ("next", nxt):
        raise ValidationError(f"period {asked!r} is beyond the data (last {last}): only the next period, {nxt} "
                              "('--period next'), can be forecast; later ones need the periods in between",
                              es=f"el periodo {asked!r} está más allá de los datos (último {last}): solo se puede "
                                 f"pronosticar el siguiente, {nxt} ('--period next'); los posteriores necesitan "
                                 "los periodos intermedios")
    if dataset_fn is not None:  # tests and callers with their own dataset builder
        return dataset_fn(store, level, pkind, end=nxt), nxt
    return build_dataset(store, level=level, period=pkind, end=nxt, only_periods=[nxt]), nxt


def predict(
    store: str | Path,
    model: str = "champion",
    period: str | None = None,
    *,
    slot: str | None = None,
    n_drivers: int = 3,
    dataset: Any = None,
    dataset_fn: Callable[..., Any] | None = None,
) -> PredictResult:
    """Ranked assets of ``period`` with predictions and drivers. ``period``: a period of the dataset
    (default: the latest, whose actual values are shown beside the predictions) or ``"next"`` — the
    period after the data, the forecast proper (features known at its start, no actuals yet)."""
    reg = Registry(store)
    if model == "champion":
        # several champions of one level/period (SAIFI, SAIDI, risk ...) make one table: lead with SAIFI
        slot = lead_slot(reg, slot)
    first = reg.load(model, slot)
    meta = first.meta
    level, pkind = meta["level"], meta["period"]
    period = period_for_model(period, meta)
    served = {meta["target"]: first}
    if model == "champion":  # the other targets' champions at the same level and period
        for m in reg.list(status="champion"):
            if m["level"] == level and m["period"] == pkind and m["target"] not in served:
                served[m["target"]] = reg.load("champion", slot=m["slot"])
    last = partial = None
    if period is not None and dataset is None and dataset_fn is None:
        last, partial = _last_event_label(store, pkind, required=period == "next")
    if last is not None and (period == "next" or period > last):
        # one build, not two: the store says which period is next (the default dataset is the same rows
        # without it), whether asked as 'next' or by its label
        ds, period = _next_period_dataset(store, level, pkind, last, period, None)
    else:
        ds = dataset if dataset is not None else (dataset_fn or default_dataset)(store, level, pkind)
    frame = ds.frame
    per = period_labels(frame["period"])
    available = sorted(per.unique())
    if not available:
        raise NotFoundError("the dataset has no periods")
    period = period or available[-1]
    if period == "next" or (period not in available and period > available[-1]):
        # the forecast proper: the period after the data; its features are all known at its start
        ds, period = _next_period_dataset(store, level, pkind, available[-1], period, dataset_fn)
        frame = ds.frame
        per = period_labels(frame["period"])
    elif period not in available:
        raise NotFoundError(f"period {period!r} not in the dataset ({available[0]}..{available[-1]})",
                            es=f"el periodo {period!r} no está en el conjunto ({available[0]}..{available[-1]})")
    rows = frame[(per == period).to_numpy()].reset_index(drop=True)
    out = pd.DataFrame({"asset_id": rows["asset_id"].astype(str), "period": period})
    warnings = [lm.warning for lm in served.values() if lm.warning]
    if partial and period > last:
        warnings.append(f"the events end part-way through {last} ({partial}): the forecast of {period} "
                        "reads that period's missing months as outage-free")
    methods: dict[str, str] = {}
    # the requested model's target leads the table and its order (by default the SAIFI champion)
    primary = meta["target"]
    for target in sorted(served, key=lambda t: (t != primary, _target_rank(t))):
        lm = served[target]
        feats = list(lm.meta["feature_schema"]["columns"])
        X = rows[feats]
        if lm.meta["task"] == "classification":
            out[f"pred_{target}"] = lm.model.predict(X)
            if hasattr(lm.model, "predict_proba"):
                proba = lm.model.predict_proba(X)
                out[f"proba_{target}"] = proba.max(axis=1)  # confidence in the predicted class
                out[f"score_{target}"] = expected_class_rank(lm.model, proba)
        else:
            out[f"pred_{target}"] = np.asarray(lm.model.predict(X), dtype=float)
        ycol = target_column(target)
        # an actual value exists once the period's events are in: NaN, or risk class code -1, before that
        known = rows[ycol].notna() & (rows[ycol].astype(str) != "-1") if ycol in rows.columns else None
        if known is not None and known.any():
            out[f"actual_{target}"] = rows[ycol].where(known).to_numpy()
        if target == primary:
            contrib, methods[target] = contributions(lm.model, X)
            if contrib is not None:
                out["drivers"] = top_drivers(contrib, feats, n_drivers)
    if served[primary].meta["task"] != "classification":
        out = out.sort_values(f"pred_{primary}", ascending=False, kind="stable")
    elif f"score_{primary}" in out:
        # riskiest first: the expected class rank (Bajo 0 … Muy Alto 3), not the confidence in whatever
        # class is predicted (which is highest for the many sure "Bajo" assets)
        out = out.sort_values(f"score_{primary}", ascending=False, kind="stable")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return PredictResult(out.reset_index(drop=True), period, {t: lm.version for t, lm in served.items()},
                         warnings, methods)
