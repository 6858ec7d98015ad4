"""Time-budgeted, seeded, resumable hyper-parameter search with Optuna.

Each trial scores one parameter set with the same rolling-origin temporal CV as
:func:`gridcrit.models.compare.compare_models` (mean of the primary metric over test periods). Trials
are stored in an Optuna **journal file** (``JournalStorage`` + ``JournalFileBackend``; no database
server, no SQLAlchemy needed) beside the store, ``<store>_files/tune/<study>.journal``, so running
the same command again continues the study instead of starting over. ``budget`` caps the wall time of
this run; the TPE sampler is seeded.

The last ``holdout_periods`` periods (default: the six months ``train`` holds out, 6 months or 2
quarters) are never scored: parameters picked as the best on the very periods ``train`` then reports
would make that hold-out an optimistic, in-sample figure.

Example::

    >>> from gridcrit.models.compare import synthetic_panel
    >>> from gridcrit.models.tune import tune
    >>> frame, feats = synthetic_panel(200, 18)
    >>> out = tune(frame, feats, "y_count", "lightgbm", budget_s=20, n_trials=2, n_folds=2,
    ...            storage_path=None)                                       # doctest: +SKIP
    >>> sorted(out)[:3]                                                     # doctest: +SKIP
    ['best_params', 'best_value', 'direction']
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridcrit.errors import ValidationError
from gridcrit.models.metrics import HIGHER_IS_BETTER


def parse_budget(text: str | float | int) -> float:
    """``"10m"`` -> 600.0; also ``"90s"``, ``"1h"``, ``"1h30m"``, or plain seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    s = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms])", s)
    if not parts or "".join(a + b for a, b in parts) != s.replace(" ", ""):
        raise ValidationError(f"budget {text!r} is not a duration like 10m, 90s, 1h30m",
                              es=f"el presupuesto {text!r} no es una duración como 10m, 90s, 1h30m")
    return float(sum(float(v) * {"h": 3600, "m": 60, "s": 1}[u] for v, u in parts))


def _space(name: str) -> Callable[[Any], dict[str, Any]]:
    def xgb(t):
        return {"learning_rate": t.suggest_float("learning_rate", 0.02, 0.3, log=True),
                "max_depth": t.suggest_int("max_depth", 3, 10),
                "min_child_weight": t.suggest_float("min_child_weight", 0.5, 50, log=True),
                "subsample": t.suggest_float("subsample", 0.5, 1.0),
                "colsample_bytree": t.suggest_float("colsample_bytree", 0.4, 1.0),
                "reg_lambda": t.suggest_float("reg_lambda", 1e-3, 10, log=True)}

    def lgb(t):
        return {"learning_rate": t.suggest_float("learning_rate", 0.02, 0.3, log=True),
                "num_leaves": t.suggest_int("num_leaves", 8, 255, log=True),
                "min_child_samples": t.suggest_int("min_child_samples", 5, 500, log=True),
                "subsample": t.suggest_float("subsample", 0.5, 1.0),
                "colsample_bytree": t.suggest_float("colsample_bytree", 0.4, 1.0),
                "reg_lambda": t.suggest_float("reg_lambda", 1e-3, 10, log=True)}

    def rf(t):
        return {"n_estimators": t.suggest_int("n_estimators", 50, 300, log=True),
                "max_depth": t.suggest_int("max_depth", 6, 24),
                "min_samples_leaf": t.suggest_int("min_samples_leaf", 1, 100, log=True),
                "max_features": t.suggest_float("max_features", 0.2, 1.0)}

    def mlp(t):
        return {"d_hidden": t.suggest_categorical("d_hidden", [64, 128, 256, 512]),
                "n_layers": t.suggest_int("n_layers", 1, 4),
                "dropout": t.suggest_float("dropout", 0.0, 0.4),
                "lr": t.suggest_float("lr", 1e-4, 3e-3, log=True),
                "weight_decay": t.suggest_float("weight_decay", 1e-6, 1e-3, log=True)}

    def ft(t):
        return {"d_token": t.suggest_categorical("d_token", [16, 32, 64]),
                "n_blocks": t.suggest_int("n_blocks", 1, 3),
                "attention_dropout": t.suggest_float("attention_dropout", 0.0, 0.3),
                "ffn_dropout": t.suggest_float("ffn_dropout", 0.0, 0.3),
                "lr": t.suggest_float("lr", 1e-4, 2e-3, log=True)}

    def tabnet(t):
        return {"tabnet_params": {"n_d": t.suggest_categorical("n_d", [8, 16, 32]),
                                  # 1 step is the zoo default (best on asset × period tables, docs/models.md)
                                  "n_steps": t.suggest_int("n_steps", 1, 5),
                                  "gamma": t.suggest_float("gamma", 1.0, 2.0),
                                  "lambda_sparse": t.suggest_float("lambda_sparse", 1e-5, 1e-2, log=True),
                                  "lr": t.suggest_float("lr", 5e-3, 5e-2, log=True)}}

    spaces = {"xgboost": xgb, "lightgbm": lgb, "rf": rf, "mlp": mlp, "ft_transformer": ft, "tabnet": tabnet}
    if name not in spaces:
        raise ValidationError(f"no search space for model {name!r}; choose one of {', '.join(spaces)}")
    return spaces[name]


def journal_storage(path: str | Path):
    """An Optuna journal-file storage at ``path`` (parent folders created)."""
    import optuna

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        from optuna.storages.journal import JournalFileBackend
    except ImportError:  # optuna < 4
        from optuna.storages import JournalFileStorage as JournalFileBackend  # type: ignore[no-redef]
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def tune(frame: pd.DataFrame, features: Sequence[str], target: str, model: str, task: str | None = None,
         budget_s: float = 600.0, n_trials: int | None = None, seed: int = 0, n_folds: int = 2,
         storage_path: str | Path | None = None, study_name: str | None = None, primary: str | None = None,
         categorical: Sequence[str] = (), fixed_params: dict[str, Any] | None = None,
         progress: bool = False, holdout_periods: int | None = None,
         period_col: str = "period") -> dict[str, Any]:
    """Search ``model``'s parameters for ``budget_s`` seconds (and at most ``n_trials`` trials).

    Returns the best parameters and score, the number of trials in the study (all runs) and in this
    run, and where the journal is. ``fixed_params`` are applied to every trial (e.g. smaller
    ``max_epochs``). ``holdout_periods``: the last periods left out of every trial (module doc).
    """
    import optuna

    from gridcrit.models.compare import (
        _class_order,
        _rebins_risk,
        compare_models,
        default_task,
        target_column,
    )
    from gridcrit.models.metrics import default_primary

    target = target if target in frame.columns else target_column(target)
    task = task or default_task(target)
    frame, scored, held = _without_holdout(frame, target, holdout_periods, period_col)
    _check_folds(frame, target, n_folds, period_col, held)
    if primary is None:  # as compare picks it: for ordered classes the RPS (minimised)
        order = (_class_order(frame, target, task, _rebins_risk(frame, target, task))
                 if task == "classification" and target in frame.columns else None)
        primary = default_primary(task, order)
    direction = "maximize" if HIGHER_IS_BETTER.get(primary, True) else "minimize"
    space = _space(model)
    study_name = study_name or f"{model}-{target}-{task}"
    storage = journal_storage(storage_path) if storage_path else None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=study_name, storage=storage, load_if_exists=True, direction=direction,
                                sampler=optuna.samplers.TPESampler(seed=seed + len(_done(storage, study_name))))
    n_before = len(study.trials)
    # a resumed study's best trial must have been scored the same way as this run's trials
    setup = {"task": task, "primary": primary, "n_folds": n_folds, "scored_periods": scored,
             "held_out_periods": held}
    before = study.user_attrs.get("setup")
    if before is not None and before != setup:
        changed = ", ".join(f"{k} {before.get(k)!r} -> {v!r}" for k, v in setup.items() if before.get(k) != v)
        raise ValidationError(f"study {study_name!r} was scored differently ({changed}); its trials cannot be "
                              "compared with this run's: give another --study name",
                              es=f"el estudio {study_name!r} se evaluó de otra forma ({changed}); sus ensayos no "
                                 "se pueden comparar con los de esta corrida: use otro nombre en --study")
    study.set_user_attr("setup", setup)
    t_end = time.perf_counter() + budget_s

    errors: list[Exception] = []

    def objective(trial) -> float:
        params = {**(fixed_params or {}), **space(trial)}
        remaining = max(5.0, t_end - time.perf_counter())
        if model in ("mlp", "ft_transformer"):
            params.setdefault("time_budget", remaining / max(1, n_folds))
        try:
            res = compare_models(frame, features, target, [model], task=task, n_folds=n_folds,
                                 model_params={model: params}, primary=primary, n_boot=50, seed=seed,
                                 categorical=categorical, period_col=period_col)
        except (ValueError, RuntimeError) as e:  # Optuna records the trial as failed; keep why
            errors.append(e)
            raise
        value = res.summary["models"][model][primary]["mean"]
        trial.set_user_attr("train_s", res.summary["models"][model]["train_s_total"])
        return float(value) if value == value else (-1e9 if direction == "maximize" else 1e9)

    # Optuna's bar is tqdm: off a terminal (a log, a pipe) it writes every redraw as a new line of text
    study.optimize(objective, n_trials=n_trials, timeout=budget_s, catch=(ValueError, RuntimeError),
                   show_progress_bar=progress and sys.stderr.isatty())
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    # every trial of this run failed: say why (not "raise --budget", nor an earlier run's best as if new)
    if errors and not any(t.state.name == "COMPLETE" for t in study.trials[n_before:]):
        first = str(errors[0]).strip().splitlines()[0] if str(errors[0]).strip() else type(errors[0]).__name__
        raise ValidationError(f"every trial of {model} failed ({len(errors)} in this run); the first: {first}",
                              es=f"fallaron todos los ensayos de {model} ({len(errors)} en esta corrida); el "
                                 f"primero: {first}") from errors[0]
    if not complete:
        raise ValidationError(f"no trial of {model} finished within the budget of {budget_s:.0f}s; raise --budget",
                              es=f"ningún ensayo de {model} terminó dentro del presupuesto de {budget_s:.0f} s; "
                                 "aumente --budget")
    best = study.best_trial
    return {"model": model, "target": target, "task": task, "primary": primary, "direction": direction,
            "best_params": {**(fixed_params or {}), **_params_from(best.params, model)},
            "best_value": best.value, "best_trial": best.number, "n_trials_total": len(study.trials),
            "n_trials_this_run": len(study.trials) - n_before, "study": study_name,
            "storage": str(storage_path) if storage_path else None, "seed": seed, "budget_s": budget_s,
            "scored_periods": scored, "held_out_periods": held}


def _check_folds(frame: pd.DataFrame, target: str, n_folds: int, period_col: str, held: str | None) -> None:
    """The rolling-origin folds every trial will use, built once before searching: a table too short for
    ``n_folds`` fails now with the splitter's message, instead of failing every trial until the budget
    is spent (and then blaming the budget)."""
    from gridcrit.models.compare import _splits

    if period_col not in frame.columns or target not in frame.columns:
        return  # compare_models words these errors in the first trial
    try:
        _splits(frame[frame[target].notna().to_numpy()].reset_index(drop=True), n_folds, period_col, None)
    except ValidationError as e:
        if held is None:
            raise
        raise ValidationError(f"{e} (periods {held} are held out for 'train'): lower --folds or --holdout-periods",
                              es=f"{e.text('es')} (los periodos {held} se reservan para "
                                 "'train'): reduzca --folds o --holdout-periods") from e


def _without_holdout(frame: pd.DataFrame, target: str, holdout: int | None,
                     period_col: str) -> tuple[pd.DataFrame, str, str | None]:
    """``frame`` without its last ``holdout`` periods that have a target; the scored and held-out ranges."""
    from gridcrit.models.compare import default_test_periods

    if period_col not in frame.columns or target not in frame.columns:
        return frame, "", None  # compare_models words these errors
    known = frame[target].notna().to_numpy()
    periods = np.sort(frame.loc[known, period_col].astype(str).unique())
    holdout = default_test_periods(periods) if holdout is None else int(holdout)
    if holdout < 0:
        raise ValidationError(f"holdout_periods must be >= 0, got {holdout}")
    if holdout == 0 or not len(periods):
        return frame, f"{periods[0]}..{periods[-1]}" if len(periods) else "", None
    if holdout >= len(periods):
        raise ValidationError(f"holding out the last {holdout} period(s) leaves none of the {len(periods)} to tune on;"
                              " lower --holdout-periods",
                              es=f"reservar los últimos {holdout} periodo(s) no deja ninguno de los {len(periods)} "
                                 "para ajustar; reduzca --holdout-periods")
    first_held = periods[-holdout]
    keep = (frame[period_col].astype(str) < first_held).to_numpy()
    return (frame[keep], f"{periods[0]}..{periods[-holdout - 1]}", f"{first_held}..{periods[-1]}")


def _done(storage, study_name: str) -> list:
    """Trials already in a stored study (0 for a new one); offsets the seed so a resumed run explores."""
    if storage is None:
        return []
    import optuna

    try:
        return optuna.load_study(study_name=study_name, storage=storage).trials
    except KeyError:
        return []


def _params_from(flat: dict[str, Any], model: str) -> dict[str, Any]:
    if model == "tabnet":
        return {"tabnet_params": dict(flat)}
    return dict(flat)
