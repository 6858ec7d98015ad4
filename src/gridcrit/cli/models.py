"""CLI commands of the models stage (thin shell over `gridcrit.models`).

``gridcrit train``    one zoo model on the criticality dataset -> registered artefact + metrics
``gridcrit compare``  rolling-origin temporal CV of several models -> HTML / Markdown / JSON report
``gridcrit tune``     Optuna search with a time budget, resumable (journal file beside the store)
``gridcrit forecast`` sequence models (LSTM/GRU/Transformer) vs seasonal-naive on monthly series
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from gridcrit.cli.common import (
    JsonOpt,
    LangOpt,
    OutOpt,
    StoreOpt,
    busy,
    console,
    default_store,
    emit,
    err_console,
    translate,
)
from gridcrit.errors import GridcritError, ValidationError

TargetOpt = Annotated[str, typer.Option("--target", help="saifi | saidi | count | risk (or a y_* column).")]
LevelOpt = Annotated[str | None, typer.Option(
    "--level", help="transformer | switch | segment | circuit (default: the --dataset's level, else transformer).")]
PeriodOpt = Annotated[str | None, typer.Option(
    "--period", help="month | quarter (default: the --dataset's period, else month).")]
DatasetOpt = Annotated[Path | None, typer.Option(
    "--dataset", help="Parquet written by 'gridcrit dataset build' (skips building from the store).")]
TaskOpt = Annotated[str | None, typer.Option("--task", help="regression | poisson | classification "
                                                            "(default: from the target).")]
ParamOpt = Annotated[list[str] | None, typer.Option(
    "--param", help="Model parameter NAME=VALUE (compare/tune: MODEL.NAME=VALUE); repeatable.")]

class CompareInterruptedError(GridcritError):
    """Ctrl-C during ``compare`` after some folds finished: their report is kept, the exit code is 130."""

    exit_code = 130


_T = {
    "training": {"es": "entrenando {m}…", "en": "training {m}…"},
    "trained": {"es": "Modelo {m} entrenado para {t} en {s:.1f} s.", "en": "Trained {m} for {t} in {s:.1f} s."},
    "registered": {"es": "Registrado como versión {v} ({slot}).", "en": "Registered as version {v} ({slot})."},
    "saved": {"es": "Artefacto escrito en {p}.", "en": "Artefact written to {p}."},
    "holdout": {"es": "Prueba temporal {p}: {m}", "en": "Temporal hold-out {p}: {m}"},
    "baseline": {"es": "Línea base media histórica: {m}", "en": "Historical-mean baseline: {m}"},
    "report": {"es": "Informe: {p}", "en": "Report: {p}"},
    "cmp_title": {"es": "{t}: media de {n} pliegues temporales (IC95% del primario debajo; todo en el informe)",
                  "en": "{t}: mean over {n} temporal folds (primary's 95% CI below; everything in the report)"},
    "tuned": {"es": "Mejor {k} = {v:.4g} (ensayo {n}; {a} ensayos en total, {b} en esta corrida).",
              "en": "Best {k} = {v:.4g} (trial {n}; {a} trials in total, {b} in this run)."},
    "tune_periods": {"es": "Evaluado en {s}; sin usar (prueba de 'train'): {h}.",
                     "en": "Scored on {s}; left out ('train' hold-out): {h}."},
    "contradicts": {"es": "{o} {g} contradice el conjunto {d}, construido para {h}; quite {o} o use un "
                           "conjunto de ese nivel/periodo",
                    "en": "{o} {g} contradicts the dataset {d}, which was built for {h}; drop {o} or use a "
                          "dataset of that level/period"},
    "param_model": {"es": "--param {m}.NOMBRE=VALOR: el modelo {m} no está en --models ({ms})",
                    "en": "--param {m}.NAME=VALUE: model {m} is not in --models ({ms})"},
    "partial": {"es": "Resultado parcial: {d} de {p} pliegues completos{i}{f}.",
                "en": "Partial result: {d} of {p} folds complete{i}{f}."},
    "interrupted": {"es": "interrumpido; informe parcial escrito en {p}",
                    "en": "interrupted; partial report written to {p}"},
    "p_int": {"es": " (interrumpido)", "en": " (interrupted)"},
    "p_failed": {"es": "; fallaron y se omiten: {x}", "en": "; failed and left out: {x}"},
    "p_unfinished": {"es": "; sin terminar: {x}", "en": "; not finished: {x}"},
    "fc": {"es": "{m}: MAE {v:.4g} [{lo:.4g}, {hi:.4g}]", "en": "{m}: MAE {v:.4g} [{lo:.4g}, {hi:.4g}]"},
    "fc_vs": {"es": "  Δ frente a seasonal_naive {d:+.4g} [{lo:+.4g}, {hi:+.4g}]",
              "en": "  Δ vs seasonal_naive {d:+.4g} [{lo:+.4g}, {hi:+.4g}]"},
}


def _t(key: str, lang: str, **kw: Any) -> str:
    return translate(_T, key, lang, **kw)


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_params(items: list[str] | None, per_model: bool = False) -> dict[str, Any]:
    """``["n_estimators=300"]`` -> ``{"n_estimators": 300}``; with ``per_model``:
    ``["xgboost.max_depth=4"]`` -> ``{"xgboost": {"max_depth": 4}}``."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ValidationError(f"--param {item!r} must look like NAME=VALUE")
        k, v = item.split("=", 1)
        if per_model:
            if "." not in k:
                raise ValidationError(f"--param {item!r} must look like MODEL.NAME=VALUE")
            m, k = k.split(".", 1)
            out.setdefault(m, {})[k] = _value(v)
        else:
            out[k] = _value(v)
    return out


def _read_checked(dataset: Path, level: str | None, period: str | None, lang: str) -> Any:
    """The dataset file, failing when an explicit ``--level``/``--period`` contradicts its data card."""
    from gridcrit.features.dataset import read_dataset

    ds = read_dataset(dataset)
    for opt, given, have in (("--level", level, ds.level), ("--period", period, ds.period)):
        if given is not None and str(given).strip().lower() != str(have).lower():
            raise ValidationError(_t("contradicts", lang, o=opt, g=given, d=dataset, h=have))
    return ds


def _checked_params(items: list[str] | None, models: list[str], lang: str, per_model: bool = False) -> dict:
    """``--param`` values parsed and checked against each model's constructor *before* the dataset is
    read or anything is fitted: a wrong type fails with one line naming parameter, value and type."""
    from gridcrit.models.compare import check_model_params
    from gridcrit.models.zoo import model_class

    for m in models:
        model_class(m)  # unknown model names first
    params = parse_params(items, per_model=per_model)
    for m, p in (params.items() if per_model else [(models[0], params)]):
        if m not in models:
            raise ValidationError(_t("param_model", lang, m=m, ms=", ".join(models)))
        check_model_params(m, p, lang)
    return params


def _load(store: Path, level: str | None, period: str | None, dataset: Path | None, progress: bool,
          lang: str = "es", default_level: str = "transformer") -> tuple[Any, list[str], list[str], str, str]:
    """``(frame, features, categorical, level, period)``. With ``--dataset`` the level and period are the
    dataset's own (its data card says which it was built for): a ``--level``/``--period`` that
    contradicts them is an error, so a model is never registered under another level's slot."""
    if dataset is None:
        from gridcrit.models.compare import load_dataset

        level, period = level or default_level, period or "month"
        frame, feats, cats = load_dataset(str(store), level, period, None, progress=progress)
        return frame, feats, cats, level, period
    ds = _read_checked(dataset, level, period, lang)
    return (ds.frame, list(ds.feature_columns), list(getattr(ds, "categorical_columns", [])),
            str(ds.level), str(ds.period))


def _fmt_metrics(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in d.items() if isinstance(v, float) and v == v)


SeedOpt = Annotated[int, typer.Option(
    "--seed", help="Seed of the models (their random_state, unless --param sets it) and of the bootstrap "
                   "/ semilla de los modelos y del bootstrap.")]


def _seeded(params: dict, models: list[str], seed: int, per_model: bool) -> dict:
    """``params`` with ``random_state=seed`` for every model that does not set its own: the same command
    with the same seed gives the same numbers, and another seed shows how much they depend on it."""
    if per_model:
        return {m: {"random_state": seed, **params.get(m, {})} for m in models}
    return {"random_state": seed, **params}


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""

    @app.command("train")
    def train_cmd(
        model: Annotated[str, typer.Option("--model", help="tabnet | xgboost | lightgbm | rf | mlp | ft_transformer")],
        target: TargetOpt = "saifi", level: LevelOpt = None, period: PeriodOpt = None,
        store: StoreOpt = default_store(), dataset: DatasetOpt = None, out: OutOpt = None, task: TaskOpt = None,
        param: ParamOpt = None,
        test_periods: Annotated[int | None, typer.Option(
            "--test-periods", min=0,
            help="Periods held out for metrics (0: none; default six months: 6 months or 2 quarters).")] = None,
        no_register: Annotated[bool, typer.Option("--no-register", help="Do not add it to the registry.")] = False,
        seed: SeedOpt = 0, as_json: JsonOpt = False, lang: LangOpt = "es",
    ) -> None:
        """Train one model with a temporal hold-out and register it / entrena y registra un modelo."""
        from gridcrit.models.train import train_model
        from gridcrit.registry.retrain import register_trained

        params = _seeded(_checked_params(param, [model], lang), [model], seed, per_model=False)
        frame, feats, cats, level, period = _load(store, level, period, dataset, not as_json, lang)
        with busy(as_json, _t("training", lang, m=model)):
            res = train_model(frame, feats, target, model, task=task, params=params,
                              test_periods=test_periods, categorical=cats)
        version = None if no_register else register_trained(store, res, level, period, frame)
        if out is not None:
            res["model"].save(out)
        result = {"model": model, "target": res["target"], "task": res["task"], "version": version,
                  "slot": f"{level}/{period}/{res['target'].removeprefix('y_')}", "out": str(out) if out else None,
                  "metrics": res["metrics"], "split": res["split"]}

        def human(r: dict[str, Any]) -> None:
            console.print(_t("trained", lang, m=model, t=r["target"], s=r["metrics"]["train_s"]))
            if "eval" in r["metrics"]:
                console.print(_t("holdout", lang, p=r["split"]["test_periods"], m=_fmt_metrics(r["metrics"]["eval"])))
                console.print(_t("baseline", lang, m=_fmt_metrics(r["metrics"]["baseline_historical_mean"])))
            if r["version"]:
                console.print(_t("registered", lang, v=r["version"], slot=r["slot"]))
            if r["out"]:
                console.print(_t("saved", lang, p=r["out"]), soft_wrap=True, markup=False)

        emit(result, as_json, human)

    @app.command("compare")
    def compare_cmd(
        models: Annotated[str, typer.Option("--models", help="Comma-separated zoo names.")] =
            "tabnet,xgboost,lightgbm,rf,mlp,ft_transformer",
        target: TargetOpt = "saifi", level: LevelOpt = None, period: PeriodOpt = None,
        folds: Annotated[int, typer.Option("--folds", min=1, help="Rolling-origin folds.")] = 3,
        test_periods: Annotated[int | None, typer.Option("--test-periods", min=1,
                                                         help="Periods per test fold.")] = None,
        primary: Annotated[str | None, typer.Option("--primary", help="Metric that names the winner.")] = None,
        n_jobs: Annotated[int, typer.Option("--n-jobs", min=1,
                                            help="Fits run at once (processes, threads each).")] = 1,
        offset: Annotated[str, typer.Option(
            "--offset", help="none | history: every model learns a correction to each asset's smoothed past mean "
                             "(log-link offset; regression/count targets).")] = "none",
        store: StoreOpt = default_store(), dataset: DatasetOpt = None, out: OutOpt = None, task: TaskOpt = None,
        param: ParamOpt = None, seed: SeedOpt = 0, as_json: JsonOpt = False, lang: LangOpt = "es",
    ) -> None:
        """Compare models with rolling-origin temporal CV / compara modelos con validación temporal."""
        from gridcrit.data.store import files_dir
        from gridcrit.models.compare import compare_models, verdict
        from gridcrit.models.report import write_report

        names = [m.strip() for m in models.split(",") if m.strip()]
        if not names:
            raise ValidationError("--models is empty")
        params = _seeded(_checked_params(param, names, lang, per_model=True), names, seed, per_model=True)
        frame, feats, cats, level, period = _load(store, level, period, dataset, not as_json, lang)
        res = compare_models(frame, feats, target, names, task=task, n_folds=folds, test_periods=test_periods,
                             model_params=params, primary=primary, seed=seed,
                             categorical=cats, n_jobs=n_jobs, progress=not as_json,
                             offset=None if offset == "none" else offset)
        out_dir = out or files_dir(store) / "reports" / f"compare-{level}-{period}-{res.target}"
        files = write_report(res, out_dir, lang=lang, setup={"level": level, "period": period, "models": names})
        result = {"verdict": verdict(res.summary, lang), "summary": res.summary,
                  "files": {k: str(v) for k, v in files.items()}}
        partial = res.summary.get("partial")
        if partial:  # what finished is kept (report written); say what is missing, on stderr
            failed = "; ".join(f"{m}: {e}" for m, e in partial["failed"].items())
            left = ", ".join(partial.get("not_finished") or [])
            err_console.print(_t("partial", lang, d=partial["folds_done"], p=partial["folds_planned"],
                                 i=_t("p_int", lang) if partial["interrupted"] else "",
                                 f=(_t("p_failed", lang, x=failed) if failed else "")
                                 + (_t("p_unfinished", lang, x=left) if left else "")),
                              style="yellow", markup=False, highlight=False)

        def human(r: dict[str, Any]) -> None:
            from rich.table import Table

            from gridcrit.models.report import terminal_table

            # the full table (every metric with its interval) is in the report; the terminal gets what fits
            header, rows = terminal_table(res)
            t = Table(title=_t("cmp_title", lang, t=res.target, n=res.summary.get("n_folds", folds)))
            for i, c in enumerate(header):
                t.add_column(c, justify="left" if i == 0 else "right", no_wrap=True)
            for row in rows:
                t.add_row(*row)
            console.print(t)
            console.print(f"[bold]{r['verdict']}[/bold]")
            console.print(_t("report", lang, p=r["files"]["html"]), soft_wrap=True, markup=False)

        emit(result, as_json, human)
        if partial and partial["interrupted"]:  # exit as an interrupted command does, after keeping the work
            raise CompareInterruptedError(_t("interrupted", lang, p=files["html"]))

    @app.command("tune")
    def tune_cmd(
        model: Annotated[str, typer.Option("--model", help="Zoo model to tune.")],
        target: TargetOpt = "saifi", level: LevelOpt = None, period: PeriodOpt = None,
        budget: Annotated[str, typer.Option("--budget", help="Wall time of this run: 90s, 10m, 1h.")] = "10m",
        trials: Annotated[int | None, typer.Option("--trials", min=1, help="At most this many trials.")] = None,
        folds: Annotated[int, typer.Option("--folds", min=1, help="Rolling-origin folds per trial.")] = 2,
        seed: Annotated[int, typer.Option("--seed")] = 0,
        study: Annotated[str | None, typer.Option("--study", help="Study name (same name = resume).")] = None,
        holdout_periods: Annotated[int | None, typer.Option(
            "--holdout-periods", min=0,
            help="Last periods no trial is scored on (default: the six months 'train' holds out; "
                 "0: none).")] = None,
        store: StoreOpt = default_store(), dataset: DatasetOpt = None, task: TaskOpt = None,
        param: ParamOpt = None, as_json: JsonOpt = False, lang: LangOpt = "es",
    ) -> None:
        """Optuna search, time-budgeted and resumable / búsqueda de hiperparámetros."""
        from gridcrit.data.store import files_dir
        from gridcrit.models.tune import parse_budget, tune

        budget_s = parse_budget(budget)
        fixed = _checked_params(param, [model], lang)
        frame, feats, cats, level, period = _load(store, level, period, dataset, not as_json, lang)
        name = study or f"{model}-{level}-{period}-{target}"
        res = tune(frame, feats, target, model, task=task, budget_s=budget_s, n_trials=trials, seed=seed,
                   n_folds=folds, storage_path=files_dir(store) / "tune" / f"{name}.journal", study_name=name,
                   categorical=cats, fixed_params=fixed, progress=not as_json, holdout_periods=holdout_periods)

        def human(r: dict[str, Any]) -> None:
            console.print(_t("tuned", lang, k=r["primary"], v=r["best_value"], n=r["best_trial"],
                             a=r["n_trials_total"], b=r["n_trials_this_run"]))
            if r.get("held_out_periods"):
                console.print(_t("tune_periods", lang, s=r["scored_periods"], h=r["held_out_periods"]))
            console.print(json.dumps(r["best_params"], indent=1))

        emit(res, as_json, human)

    @app.command("forecast")
    def forecast_cmd(
        target: TargetOpt = "saifi",
        models: Annotated[str, typer.Option("--models", help="lstm,gru,transformer")] = "lstm,gru,transformer",
        level: LevelOpt = None, period: PeriodOpt = None,
        test_periods: Annotated[int | None, typer.Option(
            "--test-periods", min=1,
            help="Last periods forecast one step ahead (default a year: 12 months or 4 quarters).")] = None,
        window: Annotated[int | None, typer.Option(
            "--window", min=1, help="Past periods each forecast reads (default a year: 12 months or 4 quarters).")] = None,
        exposure: Annotated[str | None, typer.Option(
            "--exposure", help="Comma-separated exposure columns (default: the dataset's exposure group).")] = None,
        store: StoreOpt = default_store(), dataset: DatasetOpt = None, out: OutOpt = None,
        param: ParamOpt = None, as_json: JsonOpt = False, lang: LangOpt = "es",
    ) -> None:
        """Sequence models vs seasonal-naive on per-asset series / pronóstico con modelos secuenciales."""
        from gridcrit.models.compare import target_column
        from gridcrit.models.sequence import (
            SEQUENCE_MODELS,
            check_sequence_params,
            forecast_compare,
            season_length,
        )

        names = [m.strip() for m in models.split(",") if m.strip()]
        unknown = [m for m in names if m not in SEQUENCE_MODELS]
        if unknown or not names:
            raise ValidationError(f"unknown sequence model(s) {', '.join(unknown) or '(none given)'}; choose from "
                                  f"{', '.join(SEQUENCE_MODELS)}")
        seq_params = parse_params(param, per_model=True)
        for m, p in seq_params.items():  # before the (slow) dataset build, as train/compare/tune do
            if m not in names:
                raise ValidationError(_t("param_model", lang, m=m, ms=", ".join(names)))
            check_sequence_params(m, p, lang)
        if dataset:
            ds = _read_checked(dataset, level, period, lang)
        else:
            from gridcrit.features.dataset import build_dataset

            ds = build_dataset(store, level=level or "circuit", period=period or "month", progress=not as_json)
        expo = [c.strip() for c in exposure.split(",")] if exposure else default_exposure(ds)
        year = season_length(ds.frame["period"].astype(str).unique())  # periods in a year
        with busy(as_json, _t("training", lang, m=", ".join(names))):
            res = forecast_compare(ds.frame, target_column(target), expo, models=names,
                                   test_periods=test_periods or year, window=window or year, params=seq_params)
        if out is not None:
            Path(out).mkdir(parents=True, exist_ok=True)
            res["periods"].to_csv(Path(out) / "forecast_periods.csv", index=False)
            (Path(out) / "forecast.json").write_text(json.dumps(res["summary"], indent=1, default=str))

        def human(r: dict[str, Any]) -> None:
            for m, e in sorted(r["models"].items(), key=lambda kv: kv[1]["mae"]["mean"]):
                line = _t("fc", lang, m=m, v=e["mae"]["mean"], lo=e["mae"]["lo"], hi=e["mae"]["hi"])
                if "mae_vs_seasonal_naive" in e:
                    d = e["mae_vs_seasonal_naive"]
                    line += _t("fc_vs", lang, d=d["diff"], lo=d["lo"], hi=d["hi"])
                console.print(line)

        emit(res["summary"], as_json, human)


def default_exposure(ds: Any, limit: int = 8) -> list[str]:
    """Exposure columns for sequence inputs: the dataset's ``exposure`` group (plus customers-like
    asset size columns), capped at ``limit`` so the per-step input stays small."""
    groups = getattr(ds, "feature_groups", {}) or {}
    cols = [c for c, g in groups.items() if g == "exposure" and not c.endswith("_code")]
    size = [c for c in ds.feature_columns if any(k in c.lower() for k in ("customers", "usuarios", "n_trafos"))]
    return list(dict.fromkeys(size + cols))[:limit]
