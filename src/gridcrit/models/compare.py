"""Measured model comparison: rolling-origin temporal CV over an asset x period table.

For each fold (train on periods before the origin, test on the next periods) every model is fitted
with early stopping on the **last training period** (a temporal hold-out, never a random one),
timed, saved to measure its size, and scored. A *historical-mean* baseline (each asset's mean target
over the training periods; unseen assets get the global mean; for classes: the asset's most frequent
class) is scored on the same rows.

Metrics per fold, and per test period for intervals: MAE, RMSE, R², Poisson deviance (counts);
Spearman, recall of the true top-10 % assets, NDCG@100 (ranking of assets within each period);
risk class: the ranked probability score of the class probabilities on the classes' defined order
(``rps``, the primary metric, lower is better), macro-F1, balanced accuracy, AUC. Intervals are
percentile bootstraps over test periods (paired between models for differences), so "A beats B by x
[lo, hi]" compares both on the same periods.

Example::

    >>> from gridcrit.models.compare import synthetic_panel, compare_models
    >>> frame, features = synthetic_panel(n_assets=200, n_periods=18, seed=0)
    >>> res = compare_models(frame, features, "y_count", ["lightgbm"], task="poisson", n_folds=2,
    ...                      model_params={"lightgbm": {"n_estimators": 50}})
    >>> sorted(res.summary["models"])
    ['historical_mean', 'lightgbm']
"""

from __future__ import annotations

import inspect
import json
import math
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gridcrit.errors import GridcritError, ValidationError
from gridcrit.models import metrics as M  # noqa: N812
from gridcrit.models.base import check_target, check_task, model_size_bytes
from gridcrit.runtime import default_threads

BASELINE = "historical_mean"
# SAIFI/SAIDI contributions are non-negative rates with a few huge values (one feeder outage on a big
# circuit): the Poisson loss (log link) fits them; squared error chases those few values and lost to the
# historical mean on the twin (docs/models.md, "Default task")
TARGET_TASKS = {"saifi": "poisson", "saidi": "poisson", "count": "poisson", "risk": "classification"}


def target_column(target: str) -> str:
    """``saifi`` -> ``y_saifi`` (a name already starting with ``y_`` is kept)."""
    return target if target.startswith("y_") else f"y_{target}"


def default_task(target: str) -> str:
    return TARGET_TASKS.get(target.removeprefix("y_"), "regression")


def is_quarterly(periods: Any) -> bool:
    """True for quarter labels (``2023-Q1``); the dataset's months are ``2023-01``."""
    values = pd.Series(periods).dropna()
    return bool(len(values)) and "Q" in str(values.iloc[0]).upper()


def default_test_periods(periods: Any) -> int:
    """Periods a temporal hold-out keeps for testing: six months, i.e. 6 months or 2 quarters (as
    :func:`gridcrit.features.splits.rolling_origin_splits` does). A fixed 6 on quarters held out a
    year and a half, and ``train`` then registered a model fitted on data more than two years old."""
    return 2 if is_quarterly(periods) else 6


def default_val_periods(periods: Any) -> int:
    """Periods before the test block that drive early stopping: three months (3 months or 1 quarter)."""
    return 1 if is_quarterly(periods) else 3


# -- splits -------------------------------------------------------------------------------------
def rolling_origin(frame: pd.DataFrame, n_folds: int = 3, test_periods: int | None = None,
                   min_train_periods: int = 3, period_col: str = "period") -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Rolling-origin splits by period: fold ``i`` trains on every period before its origin and tests on
    the next ``test_periods`` periods; the last fold ends at the last period.

    ``test_periods`` defaults to ``(n_periods - min_train_periods) // n_folds`` capped at 6.
    """
    if period_col not in frame.columns:
        raise ValidationError(f"table has no {period_col!r} column to split by time")
    periods = np.sort(frame[period_col].dropna().unique())
    n = len(periods)
    if test_periods is None:
        test_periods = max(1, min(6, (n - min_train_periods) // max(1, n_folds)))
    first_origin = n - n_folds * test_periods
    if n_folds < 1 or first_origin < min_train_periods:
        raise ValidationError(
            f"{n} periods cannot make {n_folds} folds of {test_periods} test period(s) with at least "
            f"{min_train_periods} training periods; use fewer folds")
    pos = pd.Series(np.arange(n), index=periods)
    p_idx = frame[period_col].map(pos).to_numpy()
    for f in range(n_folds):
        origin = first_origin + f * test_periods
        train = np.flatnonzero(p_idx < origin)
        test = np.flatnonzero((p_idx >= origin) & (p_idx < origin + test_periods))
        yield train, test


def _splits(frame: pd.DataFrame, n_folds: int, period_col: str,
            test_periods: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    try:  # the features stage owns the canonical splitter; fall back to ours if it is absent
        from gridcrit.features.splits import rolling_origin_splits
    except ImportError:
        return list(rolling_origin(frame, n_folds, test_periods, period_col=period_col))
    return [(np.asarray(a), np.asarray(b)) for a, b in rolling_origin_splits(
        frame, n_folds=n_folds, test_periods=test_periods, period_col=period_col, target=None,
        min_train_periods=3)]  # rows without a target were dropped before; string classes are fine


# -- data ---------------------------------------------------------------------------------------
def model_frame(frame: pd.DataFrame, features: Sequence[str], categorical: Sequence[str] = ()) -> pd.DataFrame:
    """Feature table for the zoo: integer-coded categoricals (``-1`` = missing) become pandas
    categories so every model uses its native categorical handling instead of ordinal codes."""
    X = frame[list(features)]
    cats = [c for c in categorical if c in X.columns]
    if not cats:
        return X
    X = X.copy()
    for c in cats:
        v = pd.to_numeric(X[c], errors="coerce")
        X[c] = v.where(v >= 0).astype("Int64").astype("category")
    return X


def load_dataset(store: str | None = None, level: str = "transformer", period: str = "month",
                 dataset: str | None = None, progress: bool = False) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The criticality dataset as ``(frame, feature_columns, categorical_columns)``.

    ``dataset``: a Parquet file written by ``gridcrit dataset build`` (fast); otherwise it is built
    from ``store`` at ``level`` x ``period``.
    """
    if dataset:
        from gridcrit.features.dataset import read_dataset

        ds = read_dataset(dataset)
    else:
        if store is None:
            raise ValidationError("give --store (or --dataset) to read the criticality dataset")
        from gridcrit.features.dataset import build_dataset

        ds = build_dataset(store, level=level, period=period, progress=progress)
    return ds.frame, list(ds.feature_columns), list(getattr(ds, "categorical_columns", []))


# -- parameters -----------------------------------------------------------------------------------
_TYPE_WORDS = {"int": ("an integer", "un entero"), "float": ("a number", "un número"),
               "bool": ("true or false", "true o false"), "str": ("a text", "un texto"), "None": ("null", "null")}


def _accepts(kind: str, value: Any) -> bool:
    if kind == "None":
        return value is None
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    return isinstance(value, str)


def _expected_kinds(param: Any) -> list[str] | None:
    """Simple types a constructor parameter takes, from its annotation (``int | None`` -> int, None)
    or else its default's type; None when it is not a plain int/float/bool/str (not checked)."""
    ann = param.annotation
    if isinstance(ann, type):
        ann = ann.__name__
    if isinstance(ann, str) and ann:
        kinds = [a.strip() for a in ann.split("|")]
        return kinds if all(k in _TYPE_WORDS for k in kinds) else None
    d = param.default
    if d is inspect.Parameter.empty or d is None or type(d) not in (int, float, bool, str):
        return None
    return [type(d).__name__]


def check_model_params(name: str, params: dict[str, Any] | None, lang: str = "en") -> None:
    """Fail with one line when a parameter value has the wrong type for model ``name``'s constructor
    (e.g. ``num_leaves="abc"``), before any fitting (where the library would fail with a traceback).
    Unknown names are left to :func:`gridcrit.models.zoo.make_model`, which lists the accepted ones."""
    from gridcrit.models.zoo import model_class

    check_params_types(model_class(name), name, params, lang)


def check_params_types(cls: type, name: str, params: dict[str, Any] | None, lang: str = "en") -> None:
    """:func:`check_model_params` for any estimator class ``cls`` (e.g. the sequence forecaster)."""
    sig = inspect.signature(cls.__init__).parameters
    for key, value in (params or {}).items():
        if key not in sig:
            continue
        kinds = _expected_kinds(sig[key])
        if kinds is None or any(_accepts(k, value) for k in kinds):
            continue
        i = 1 if lang == "es" else 0
        want = (" o " if i else " or ").join(_TYPE_WORDS[k][i] for k in kinds)
        shown = value if isinstance(value, str) else json.dumps(value)
        raise ValidationError(
            f"--param {key}={shown}: el modelo {name} espera {want} ({' | '.join(kinds)}) para {key}" if i else
            f"--param {key}={shown}: model {name} expects {want} ({' | '.join(kinds)}) for {key}")


def fit_failed(name: str, params: dict[str, Any] | None, err: Exception) -> Exception:
    """A library's own error while fitting with user ``params`` (e.g. LightGBM refusing a value that has
    the right type but not an allowed range) becomes a one-line :class:`ValidationError`; anything else
    is returned unchanged (a bug, shown with its traceback)."""
    lib = type(err).__module__.split(".")[0]
    if params and lib in ("lightgbm", "xgboost", "sklearn"):
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        given = ", ".join(f"{k}={v}" for k, v in params.items())
        return ValidationError(f"model {name} rejected its parameters ({given}): {first}")
    return err


# -- baseline -----------------------------------------------------------------------------------
def historical_mean(train: pd.DataFrame, test: pd.DataFrame, target: str, task: str,
                    asset_col: str = "asset_id") -> tuple[np.ndarray, np.ndarray | None, list | None]:
    """Each asset's mean training target (classification: its most frequent class + class shares)."""
    if task == "classification":
        classes = sorted(train[target].astype(str).unique())
        shares = pd.crosstab(train[asset_col], train[target].astype(str), normalize="index")
        shares = shares.reindex(columns=classes, fill_value=0.0)
        glob = train[target].astype(str).value_counts(normalize=True).reindex(classes, fill_value=0.0)
        proba = shares.reindex(test[asset_col]).to_numpy(dtype=float, copy=True)
        miss = np.isnan(proba).any(axis=1)
        proba[miss] = glob.to_numpy()
        return np.asarray(classes, dtype=object)[proba.argmax(1)], proba, classes
    means = train.groupby(asset_col)[target].mean()
    pred = test[asset_col].map(means).fillna(train[target].mean()).to_numpy(dtype=float)
    return pred, None, None


# -- offset -------------------------------------------------------------------------------------
OFFSETS = (None, "history")


def history_offset(frame: pd.DataFrame, target: str, prior: float, smoothing: float = 12.0) -> np.ndarray:
    """Each row's smoothed past mean of its own asset's target, known at the period start.

    ``b = (hist_<t>_total + smoothing * prior) / (hist_periods_observed + smoothing)``: the asset's
    mean target over the periods *before* this one (the dataset's ``hist_*`` columns never include
    the current period), shrunk toward ``prior`` (the training rows' mean) by ``smoothing`` pseudo
    periods so assets with little or no history still get a positive, sensible rate.
    """
    short = target.removeprefix("y_")
    total, seen = f"hist_{short}_total", "hist_periods_observed"
    parts = [total]
    if short == "count" and total not in frame.columns:  # the dataset splits it by recorded cause
        from gridcrit.features.targets import cause_groups

        by_cause = [f"hist_cause_{g}_total" for g in cause_groups()]
        if all(c in frame.columns for c in by_cause):
            parts = by_cause
    missing = [c for c in (*parts, seen) if c not in frame.columns]
    if missing:
        raise ValidationError(f"offset='history' needs column(s) {', '.join(missing)} in the table "
                              f"(the criticality dataset's history features for target {target!r})")
    if not (np.isfinite(prior) and prior > 0):
        raise ValidationError(f"offset='history' needs a positive mean {target!r} in the training rows (got {prior})")
    tot = sum(pd.to_numeric(frame[c], errors="coerce").fillna(0.0).to_numpy(dtype=float) for c in parts)
    n = pd.to_numeric(frame[seen], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    return np.clip((np.clip(tot, 0, None) + smoothing * prior) / (np.clip(n, 0, None) + smoothing), prior * 1e-6, None)


# -- results ------------------------------------------------------------------------------------
@dataclass
class CompareResult:
    """Everything a comparison measured (tables are pandas; ``summary`` is JSON-ready)."""

    target: str
    task: str
    models: list[str]
    folds: pd.DataFrame  # one row per (model, fold): metrics, times, size, rows
    periods: pd.DataFrame  # one row per (model, fold, period): per-period metrics
    predictions: pd.DataFrame  # pooled test predictions: model, fold, period, asset, y, pred
    summary: dict[str, Any] = field(default_factory=dict)


def _check_frame(frame: pd.DataFrame, features: Sequence[str], target: str, period_col: str, asset_col: str) -> None:
    if target not in frame.columns:
        ys = [c for c in frame.columns if str(c).startswith("y_")]
        raise ValidationError(f"target column {target!r} is not in the table (targets present: {', '.join(ys) or 'none'})",
                              es=f"la columna objetivo {target!r} no está en la tabla (objetivos presentes: "
                                 f"{', '.join(ys) or 'ninguno'})")
    for c in (period_col, asset_col):
        if c not in frame.columns:
            raise ValidationError(f"the table has no {c!r} column (needed for temporal CV and the baseline)")
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValidationError(f"feature column(s) not in the table: {', '.join(missing[:5])}")
    if not features:
        raise ValidationError("no feature columns given")
    leak = [c for c in features if str(c).startswith("y_")]
    if leak:
        raise ValidationError(f"target column(s) {', '.join(leak)} listed as features (leakage)")
    if len(frame) == 0:
        raise ValidationError("the table has no rows")


def _period_metrics(task: str, y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, classes: list | None,
                    periods: np.ndarray, order: list | None = None) -> pd.DataFrame:
    rows = []
    for per in np.unique(periods):
        m = periods == per
        if task == "classification":
            r = M.classification_metrics(y[m], pred[m], proba[m], classes, order)
        else:
            yy, pp = y[m].astype(float), pred[m].astype(float)
            r = {"mae": M.mae(yy, pp), "rmse": M.rmse(yy, pp), "spearman": M.spearman(yy, pp),
                 "top10_recall": M.top_recall(yy, pp), "ndcg_at_100": M.ndcg_at_k(yy, pp, 100)}
            if task == "poisson":
                r["poisson_deviance"] = M.poisson_deviance(yy, pp)
        rows.append({"period": per, **r})
    return pd.DataFrame(rows)


def compare_models(frame: pd.DataFrame, features: Sequence[str], target: str, models: Sequence[str],
                   task: str | None = None, n_folds: int = 3, test_periods: int | None = None,
                   model_params: dict[str, dict[str, Any]] | None = None, period_col: str = "period",
                   asset_col: str = "asset_id", primary: str | None = None, n_boot: int = 1000, seed: int = 0,
                   val_periods: int | None = None, categorical: Sequence[str] = (), n_jobs: int = 1, progress: bool = False,
                   keep_predictions: int = 200_000, offset: str | None = None,
                   offset_smoothing: float = 12.0) -> CompareResult:
    """Rolling-origin temporal CV of zoo ``models`` (+ the historical-mean baseline) on ``target``.

    ``model_params`` maps a model name to constructor overrides. ``primary`` is the metric that names
    the winner (default: ``top10_recall`` for regression/poisson; for classification ``rps``, the ranked
    probability score on the classes' defined order — :func:`gridcrit.models.metrics.class_order`,
    recorded as ``class_order`` in the summary — or ``macro_f1`` for labels with no known order).
    Early stopping watches the last ``val_periods`` training periods (not refitted afterwards; default
    three months: 3 months or 1 quarter).
    ``n_jobs > 1`` runs (fold, model) fits in that many forked worker processes, each with
    ``default_threads()`` threads (so ``n_jobs=2`` with 1 thread each uses a 2-core machine fully).

    ``offset="history"`` (poisson/regression) makes every zoo model — all alike, the baseline
    untouched — learn a multiplicative correction to each asset's own past: with
    ``b = history_offset(...)`` (smoothed mean of the asset's target over the periods before the
    row's period, known at its start), a model is fitted on ``y / b`` with sample weight ``b`` and
    predicts ``b * f(x)``. For the Poisson loss this is exactly a log-link GLM/GBDT offset
    ``log b`` (``b*f - y*log(b*f)`` = ``b * (f - (y/b)*log f)`` + a term free of ``f``). Early
    stopping sees ``y_val / b_val`` (the zoo's ``eval_set`` carries no weights).
    """
    from gridcrit.models.zoo import model_class

    target = target if target in frame.columns else target_column(target)
    task = check_task(task or default_task(target))
    if offset not in OFFSETS:
        raise ValidationError(f"unknown offset {offset!r}; choose one of none, history")
    if offset is not None and task == "classification":
        raise ValidationError("an offset only applies to regression/poisson targets, not classification")
    _check_frame(frame, list(features), target, period_col, asset_col)
    if task != "classification":  # periods after the last event have no target yet
        frame = frame[np.isfinite(pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float))]
    else:
        frame = frame[frame[target].notna()]
        if _rebins_risk(frame, target, task):  # no SAIFI yet (class code -1): no class to learn or score
            frame = frame[np.isfinite(pd.to_numeric(frame["y_saifi"], errors="coerce").to_numpy(dtype=float))]
    frame = frame.reset_index(drop=True)
    if val_periods is None:
        val_periods = default_val_periods(frame[period_col])
    for name in models:
        model_class(name)  # unknown names fail before any training
    for name, params in (model_params or {}).items():
        if name in models:
            check_model_params(name, params)  # a wrong value type fails now, not after the first folds
    rebin = _rebins_risk(frame, target, task)
    order = _class_order(frame, target, task, rebin)
    primary = primary or M.default_primary(task, order)
    splits = _splits(frame, n_folds, period_col, test_periods)
    for fold, (tr, te) in enumerate(splits):
        if len(tr) == 0 or len(te) == 0:
            raise ValidationError(f"fold {fold}: {'training' if len(tr) == 0 else 'test'} part has no rows; "
                                  "use fewer folds or more periods",
                                  es=f"pliegue {fold}: la parte de {'entrenamiento' if len(tr) == 0 else 'prueba'} "
                                     "no tiene filas; use menos pliegues o más periodos")
    names = [*models, BASELINE]
    # the risk classes' cut points are quantiles of positive SAIFI: refit them on each fold's
    # training rows so no test-period value shapes the classes a model is scored on (``rebin``)
    if task == "classification" and not rebin:  # the user's own labels: e.g. a class seen once is a typo
        check_target(frame[target], task)
    global _JOB
    _JOB = {"frame": frame, "X": model_frame(frame, features, categorical), "splits": splits, "target": target,
            "task": task, "params": model_params or {}, "asset_col": asset_col, "period_col": period_col,
            "val_periods": val_periods, "cap": max(1, keep_predictions // max(1, len(splits))), "seed": seed,
            "offset": offset, "offset_smoothing": offset_smoothing, "class_order": order,
            "fold_targets": _fold_risk_classes(frame, target, splits) if rebin else None}
    # the (cheap) baseline first in each fold, so an interrupted run has it for every fold it started
    jobs = [(fold, name) for fold in range(len(splits)) for name in [BASELINE, *models]]
    results: dict[tuple[int, str], dict[str, Any]] = {}
    failed: dict[str, BaseException] = {}  # model -> its first error; the model is left out of the result
    interrupted = False

    def done(job: tuple[int, str], run: Callable[[], dict[str, Any]]) -> None:
        try:
            results[job] = run()
        except Exception as e:  # one model failing does not throw away the others' finished fits
            failed.setdefault(job[1], e)

    try:
        with _progress(progress, len(jobs)) as bar:
            if n_jobs <= 1:
                for fold, name in jobs:
                    if bar is not None:
                        bar.update(bar.task_id, description=f"fold {fold + 1}/{len(splits)} {name}")
                    if name not in failed:
                        done((fold, name), lambda f=fold, n=name: _run_one(f, n))
                    if bar is not None:
                        bar.advance(bar.task_id)
            else:
                import multiprocessing as mp
                from concurrent.futures import ProcessPoolExecutor, as_completed

                # fork: workers inherit the table instead of receiving a pickled copy of it
                ex = ProcessPoolExecutor(n_jobs, mp_context=mp.get_context("fork"))
                try:
                    futs = {ex.submit(_run_one, fold, name): (fold, name) for fold, name in jobs}
                    for f in as_completed(futs):
                        done(futs[f], f.result)
                        if bar is not None:
                            bar.update(bar.task_id, description=f"done fold {futs[f][0] + 1} {futs[f][1]}")
                            bar.advance(bar.task_id)
                except KeyboardInterrupt:  # drop the queued fits instead of waiting for them
                    ex.shutdown(wait=False, cancel_futures=True)
                    raise
                ex.shutdown()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        _JOB = {}
    if BASELINE in failed:  # the baseline cannot fail on valid input: a bug
        raise failed[BASELINE]
    kept = [m for m in models if m not in failed]
    if not kept and failed:
        raise next(iter(failed.values()))
    # only folds where every kept model (and the baseline) finished: paired comparisons need them all.
    # Interrupted: the most leading folds that some models finished, then every model that finished them.
    def complete(k: int, ms: list[str]) -> bool:
        return all((f, n) in results for f in range(k) for n in [*ms, BASELINE])

    k = next((k for k in range(len(splits), 0, -1) if any(complete(k, [m]) for m in kept or [BASELINE])), 0)
    unfinished = [m for m in kept if not complete(k, [m])]
    kept = [m for m in kept if m not in unfinished]
    if interrupted and not (k and (kept or not models)):
        raise KeyboardInterrupt
    fold_ok = list(range(k))
    names = [*kept, BASELINE]
    ordered = [results[(f, n)] for f in fold_ok for n in names]
    res = CompareResult(target=target, task=task, models=names, folds=pd.DataFrame([r["row"] for r in ordered]),
                        periods=pd.concat([r["periods"] for r in ordered], ignore_index=True),
                        predictions=pd.concat([r["pred"] for r in ordered], ignore_index=True))
    res.summary = summarize(res, primary=primary, n_boot=n_boot, seed=seed)
    if task != "classification":  # how to read top10_recall: below 10 % positives it is "recall of events"
        test_rows = np.concatenate([splits[f][1] for f in fold_ok])
        y_te = pd.to_numeric(frame[target].iloc[test_rows], errors="coerce")
        res.summary["positive_share_test"] = float((y_te > 0).mean())
    res.summary["threads"] = default_threads()
    res.summary["n_jobs"] = n_jobs
    res.summary["n_folds"] = len(fold_ok)
    if interrupted or failed:  # a partial result says what is missing
        res.summary["partial"] = {"interrupted": interrupted, "folds_done": len(fold_ok), "folds_planned": len(splits),
                                  "failed": {m: str(e).splitlines()[0] if str(e) else type(e).__name__
                                             for m, e in failed.items()},
                                  "not_finished": unfinished}
    res.summary["risk_rebinned_per_fold"] = rebin
    if task == "classification":  # the order the RPS cumulates over (None: labels with no known order)
        res.summary["class_order"] = None if order is None else [str(c) for c in order]
    res.summary["offset"] = None if offset is None else {"kind": offset, "smoothing": offset_smoothing,
                                                         "applies_to": kept}
    return res


_JOB: dict[str, Any] = {}


def _fold_risk_classes(frame: pd.DataFrame, target: str, splits: list) -> list[np.ndarray]:
    """Per fold, every row's risk class with cut points fitted on that fold's training rows (computed
    once here, not in every model's job)."""
    from gridcrit.features.splits import relabel_risk
    from gridcrit.features.targets import RISK_LABELS

    labels = not pd.api.types.is_numeric_dtype(frame[target])  # the table carries labels: keep them
    out = []
    for tr, _te in splits:
        codes = relabel_risk(frame, tr, "y_saifi")
        out.append(np.array([*RISK_LABELS, None], dtype=object)[codes] if labels else codes)  # -1 -> None
    return out


def _class_order(frame: pd.DataFrame, target: str, task: str, rebin: bool) -> list | None:
    """Every class of the target from lowest to highest, fixed for all folds and models so their RPS share
    one scale: the four risk levels (names or codes 0-3) when the classes are refitted per fold, else
    :func:`gridcrit.models.metrics.class_order` of the whole column (None for unordered labels)."""
    if task != "classification":
        return None
    if rebin:
        from gridcrit.features.targets import RISK_LABELS

        numeric = pd.api.types.is_numeric_dtype(frame[target])
        return list(range(len(RISK_LABELS))) if numeric else list(RISK_LABELS)
    return M.class_order(frame[target].dropna())


def _rebins_risk(frame: pd.DataFrame, target: str, task: str) -> bool:
    """True for the dataset's own risk classes (codes 0-3 / Bajo..Muy Alto beside ``y_saifi``): their
    cut points are then refitted per fold. Other class labels are the user's and are kept as given."""
    if task != "classification" or target != "y_risk" or "y_saifi" not in frame.columns:
        return False
    from gridcrit.features.targets import RISK_LABELS

    allowed = {*RISK_LABELS, *range(-1, len(RISK_LABELS))}
    return set(pd.unique(frame[target].dropna())) <= allowed


def _run_one(fold: int, name: str) -> dict[str, Any]:
    """Fit, time, size and score one model on one fold (reads the job from ``_JOB``)."""
    from gridcrit.models.zoo import make_model

    J = _JOB
    frame, X_all, target, task = J["frame"], J["X"], J["target"], J["task"]
    period_col, asset_col = J["period_col"], J["asset_col"]
    tr, te = J["splits"][fold]
    if J.get("fold_targets") is not None:
        frame = frame.assign(**{target: J["fold_targets"][fold]})
    train, test = frame.iloc[tr], frame.iloc[te]
    train_periods = np.sort(train[period_col].unique())
    # temporal early-stopping hold-out: the last `val_periods` training periods (never random rows)
    n_val = min(J["val_periods"], len(train_periods) - 2)
    if n_val >= 1:
        inner = (train[period_col] < train_periods[-n_val]).to_numpy()
        fit_idx, val_idx = tr[inner], tr[~inner]
    else:
        fit_idx, val_idx = tr, np.array([], dtype=int)
    y_test = test[target].to_numpy()
    per = test[period_col].astype(str).to_numpy()
    proba, classes, size, extra = None, None, 0, {}
    t0, c0 = time.perf_counter(), time.process_time()  # CPU time: robust to other load on the machine
    try:
        if name == BASELINE:
            pred, proba, classes = historical_mean(train, test, target, task, asset_col)
            t_train, t_pred = time.perf_counter() - t0, 0.0
            c_train, c_pred = time.process_time() - c0, 0.0
        else:
            model = make_model(name, task, **J["params"].get(name, {}))
            y = frame[target].to_numpy()
            b = w = None
            if J["offset"] == "history":  # every model alike: fit y/b with weight b, predict b*f(x)
                prior = float(np.mean(y[fit_idx].astype(float)))
                b = history_offset(frame, target, prior, J["offset_smoothing"])
                y = y.astype(float) / b
                w = b[fit_idx]
            ev = [(X_all.iloc[val_idx], y[val_idx])] if len(val_idx) else None
            model.fit(X_all.iloc[fit_idx], y[fit_idx], eval_set=ev, sample_weight=w)
            t_train, c_train = time.perf_counter() - t0, time.process_time() - c0
            t0, c0 = time.perf_counter(), time.process_time()
            Xt = X_all.iloc[te]
            pred = model.predict(Xt)
            if b is not None:
                pred = np.asarray(pred, float) * b[te]
            if task == "classification":
                proba = model.predict_proba(Xt)
                classes = list(model.classes_)
            t_pred, c_pred = time.perf_counter() - t0, time.process_time() - c0
            with tempfile.TemporaryDirectory() as d:
                model.save(d)
                size = model_size_bytes(d)
            for k in ("best_iteration_", "n_epochs_", "stopped_by_time_"):
                if hasattr(model, k):
                    extra[k.rstrip("_")] = getattr(model, k)
    except ValidationError as e:
        raise ValidationError(f"fold {fold} (train periods {train_periods[0]}..{train_periods[-1]}), "
                              f"model {name}: {e}") from e
    except Exception as e:
        err = fit_failed(name, J["params"].get(name), e)
        if err is e:
            raise
        raise ValidationError(f"fold {fold}, {err}") from e
    if task == "classification":
        fm = M.classification_metrics(y_test, pred, proba, classes, J["class_order"])
    else:
        fm = M.regression_metrics(y_test.astype(float), np.asarray(pred, float), per, with_deviance=task == "poisson")
    row = {"model": name, "fold": fold, "train_rows": len(fit_idx), "valid_rows": len(val_idx),
           "test_rows": len(test), "train_periods": f"{train_periods[0]}..{train_periods[-1]}",
           "test_periods": f"{min(per)}..{max(per)}", "train_s": t_train, "predict_s": t_pred,
           "train_cpu_s": c_train, "predict_cpu_s": c_pred, "size_bytes": size, "threads": default_threads(), **fm, **extra}
    pt = _period_metrics(task, y_test, np.asarray(pred), proba, classes, per, J["class_order"])
    pt.insert(0, "fold", fold)
    pt.insert(0, "model", name)
    keep = np.arange(len(test))
    if len(keep) > J["cap"]:  # same rows for every model of a fold (paired plots)
        keep = np.sort(np.random.default_rng([J["seed"], fold]).choice(len(test), J["cap"], replace=False))
    pdf = pd.DataFrame({"model": name, "fold": fold, "period": per[keep], "asset_id": test[asset_col].to_numpy()[keep],
                        "y": y_test[keep], "pred": np.asarray(pred)[keep]})
    if proba is not None:
        pdf["p_max"] = proba[keep].max(axis=1)
    return {"row": row, "periods": pt, "pred": pdf}


class _NoBar:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


class _Bar:
    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        # stderr, so it shows even when the report (stdout) goes to a pipe or file, and never mixes with it
        self.p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=Console(stderr=True), transient=True)
        self.total = total

    def __enter__(self):
        self.p.__enter__()
        self.task_id = self.p.add_task("compare", total=self.total)
        return self

    def update(self, task_id, **kw):
        self.p.update(task_id, **kw)

    def advance(self, task_id):
        self.p.advance(task_id)

    def __exit__(self, *a):
        return self.p.__exit__(*a)


def _progress(on: bool, total: int):
    """A (fold x model) progress bar on stderr when ``on`` and stderr is a terminal (not in --json runs,
    logs or tests)."""
    if on:
        import sys

        if sys.stderr.isatty():
            return _Bar(total)
    return _NoBar()


# -- summary ------------------------------------------------------------------------------------
def summarize(res: CompareResult, primary: str, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Mean and bootstrap CI of each metric per model (units: test periods), timings, the winner."""
    per = res.periods
    metric_cols = [c for c in per.columns if c not in ("model", "fold", "period")]
    if primary not in metric_cols:
        raise GridcritError(f"primary metric {primary!r} not measured for task {res.task!r}; "
                            f"choose one of {', '.join(metric_cols)}")
    out: dict[str, Any] = {"target": res.target, "task": res.task, "primary": primary,
                           "higher_is_better": M.HIGHER_IS_BETTER.get(primary, True), "models": {}}
    key = ["fold", "period"]
    wide = {m: d.set_index(key) for m, d in per.groupby("model")}
    for m in res.models:
        d = wide[m]
        f = res.folds[res.folds.model == m]
        entry = {metric: dict(zip(("mean", "lo", "hi"), M.bootstrap_ci(d[metric].to_numpy(), n_boot, seed=seed),
                                  strict=True)) for metric in metric_cols}
        entry["train_s_total"] = float(f.train_s.sum())
        entry["predict_s_total"] = float(f.predict_s.sum())
        if "train_cpu_s" in f:
            entry["cpu_s_total"] = float(f.train_cpu_s.sum() + f.predict_cpu_s.sum())
        entry["size_bytes"] = int(f.size_bytes.max())
        out["models"][m] = entry
    hib = out["higher_is_better"]
    ranked = sorted(res.models, key=lambda m: out["models"][m][primary]["mean"] * (1 if hib else -1)
                    if math.isfinite(out["models"][m][primary]["mean"]) else -math.inf, reverse=True)
    out["ranking"] = ranked
    winner = ranked[0]
    out["winner"] = winner

    def diff(a: str, b: str) -> dict[str, float]:
        common = wide[a][[primary]].join(wide[b][[primary]], lsuffix="_a", rsuffix="_b", how="inner")
        mean, lo, hi = M.paired_diff_ci(common[f"{primary}_a"].to_numpy(), common[f"{primary}_b"].to_numpy(),
                                        n_boot, seed=seed)
        return {"vs": b, "diff": mean, "lo": lo, "hi": hi}

    out["winner_margin"] = diff(winner, ranked[1]) if len(ranked) > 1 else None
    if out["winner_margin"] is not None:  # "wins" only when the paired interval excludes 0
        mg = out["winner_margin"]
        mg["significant"] = bool((mg["lo"] > 0) if hib else (mg["hi"] < 0))
    out["vs_baseline"] = {m: diff(m, BASELINE) for m in res.models if m != BASELINE}
    out["beats_baseline"] = {m: (d["diff"] > 0) == hib and d["diff"] != 0 for m, d in out["vs_baseline"].items()}
    out["beats_baseline_significantly"] = {
        m: (d["lo"] > 0) if hib else (d["hi"] < 0) for m, d in out["vs_baseline"].items()}
    return out


def _num(v: float, sign: bool = False) -> str:
    """Three decimals, or two significant digits below 0.01 (small RPS differences are not "+0.000")."""
    s = "+" if sign else ""
    if not math.isfinite(v) or v == 0 or abs(v) >= 0.01:
        return f"{v:{s}.3f}"
    return f"{v:{s}.{min(9, 1 - math.floor(math.log10(abs(v))))}f}"


def verdict(summary: dict[str, Any], lang: str = "en") -> str:
    """One sentence: who wins on the primary metric and by how much (with the interval). A metric where
    lower is better (``rps``, errors, deviance) is named with that, so a negative difference reads right."""
    w, p, mg = summary["winner"], summary["primary"], summary.get("winner_margin")
    mean = summary["models"][w][p]
    hib = summary.get("higher_is_better", True)
    if not hib:
        p = f"{p}, {'menor es mejor' if lang == 'es' else 'lower is better'}"
    if mg is None:
        return f"{w}: {p} = {_num(mean['mean'])}"
    losers = [m for m, ok in summary.get("beats_baseline", {}).items() if not ok]
    # the leader on the point estimate "wins" only when the paired interval excludes 0; with the same
    # value in every test period (e.g. every model predicting the majority class) it is a tie
    same = mg["diff"] == 0 and mg["lo"] == 0 and mg["hi"] == 0
    sig = mg.get("significant", (mg["lo"] > 0) if hib else (mg["hi"] < 0))
    m0, d, lo, hi = _num(mean["mean"]), _num(mg["diff"], True), _num(mg["lo"], True), _num(mg["hi"], True)
    if lang == "es":
        tail = (f" No superan a la línea base de media histórica: {', '.join(losers)}." if losers else
                " Todos los modelos superan a la línea base de media histórica (estimación puntual).")
        ci = f"IC95% {_num(mean['lo'])}–{_num(mean['hi'])}"
        if same:
            return (f"{w} y {mg['vs']} empatan en {p} ({m0}, {ci}): el mismo valor en cada periodo "
                    f"de prueba.{tail}")
        head = f"Gana {w} en {p}" if sig else f"{w} encabeza en {p}"
        note = "" if sig else ": el intervalo incluye 0, la diferencia no es significativa"
        return (f"{head} ({m0}, {ci}); {'supera' if sig else 'aventaja'} a {mg['vs']} por {d} (IC95% "
                f"{lo} a {hi}, bootstrap pareado sobre periodos de prueba){note}.{tail}")
    tail = (f" Not beating the historical-mean baseline: {', '.join(losers)}." if losers else
            " Every model beats the historical-mean baseline (point estimate).")
    ci = f"95% CI {_num(mean['lo'])}–{_num(mean['hi'])}"
    if same:
        return f"{w} and {mg['vs']} tie on {p} ({m0}, {ci}): the same value in every test period.{tail}"
    head = f"{w} wins on {p}" if sig else f"{w} leads on {p}"
    note = "" if sig else ": the interval includes 0, not a significant difference"
    return (f"{head} ({m0}, {ci}); it {'beats' if sig else 'is ahead of'} {mg['vs']} by {d} (95% CI "
            f"{lo} to {hi}, paired bootstrap over test periods){note}.{tail}")


# -- demo / test data ---------------------------------------------------------------------------
def synthetic_panel(n_assets: int = 500, n_periods: int = 24, seed: int = 0,
                    start: str = "2020-01") -> tuple[pd.DataFrame, list[str]]:
    """A small asset x month table shaped like the criticality dataset, with known drivers.

    Interruptions per asset-month are Poisson with a rate driven by vegetation risk x rain, lightning
    x missing guard wire and age; SAIFI/SAIDI follow from customers and durations; ``y_risk`` is a
    4-level class by SAIFI quantiles. Used by tests, docs and when no store is at hand.
    """
    rng = np.random.default_rng(seed)
    a = pd.DataFrame({
        "asset_id": [f"T{i:05d}" for i in range(n_assets)],
        "age_years": rng.uniform(0, 40, n_assets),
        "customers": rng.integers(5, 300, n_assets),
        "veg_risk": rng.choice(["Bajo", "Medio", "Alto"], n_assets, p=[0.5, 0.3, 0.2]),
        "guard_wire": rng.choice([0, 1], n_assets),
        "lightning_density": rng.gamma(2.0, 1.0, n_assets),
        "circuit": rng.choice([f"C{i:02d}" for i in range(12)], n_assets),
    })
    frailty = rng.gamma(2.0, 0.5, n_assets)
    periods = pd.period_range(start, periods=n_periods, freq="M")
    rain = 1 + 0.8 * np.sin(2 * np.pi * (periods.month.to_numpy() - 3) / 12)
    veg = a.veg_risk.map({"Bajo": 0.2, "Medio": 0.6, "Alto": 1.2}).to_numpy()
    rate = 0.02 * frailty[:, None] * (1 + veg[:, None] * rain[None, :]
                                       + (1 - a.guard_wire.to_numpy())[:, None] * a.lightning_density.to_numpy()[:, None] * rain[None, :] * 0.5
                                       + a.age_years.to_numpy()[:, None] / 40)
    counts = rng.poisson(rate)
    rows = pd.DataFrame({"asset_id": np.repeat(a.asset_id, n_periods),
                         "period": np.tile(periods.strftime("%Y-%m"), n_assets),
                         "rain_mm": np.tile(rain * 100, n_assets) + rng.normal(0, 5, n_assets * n_periods),
                         "y_count": counts.ravel()})
    rows = rows.merge(a, on="asset_id")
    # history features: only past periods (shifted), like the real dataset
    rows = rows.sort_values(["asset_id", "period"]).reset_index(drop=True)
    g = rows.groupby("asset_id")["y_count"]
    rows["hist_count_mean"] = g.transform(lambda s: s.shift(1).expanding().mean())
    rows["hist_count_last"] = g.shift(1)
    dur = rng.gamma(2.0, 1.0, len(rows))
    n_total = a.customers.sum()
    rows["y_saifi"] = rows.y_count * rows.customers / n_total
    rows["y_saidi"] = rows.y_saifi * dur
    q = np.quantile(rows.y_saifi[rows.y_saifi > 0], [0.5, 0.9]) if (rows.y_saifi > 0).any() else [1, 2]
    rows["y_risk"] = np.select([rows.y_saifi == 0, rows.y_saifi <= q[0], rows.y_saifi <= q[1]],
                               ["Bajo", "Medio", "Alto"], "Muy Alto")
    features = ["age_years", "customers", "veg_risk", "guard_wire", "lightning_density", "circuit", "rain_mm",
                "hist_count_mean", "hist_count_last"]
    return rows, features
