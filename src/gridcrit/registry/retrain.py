"""Retraining with new exports: ingest -> dataset -> challenger -> compare -> drift -> promote (or not).

::

    new files ──check periods──► ingest (atomic) ──► build_dataset ──► periods the champion never saw
                                                                           │
                              ┌──────────── first ones: train challenger ◄─┤ (fine-tune / scratch / auto)
                              │             last ones:  evaluate both    ◄─┘
                              ▼
              drift report (reference = champion's periods, new = unseen periods)
                              ▼
      register challenger (+ promote if better by ``margin``, or ``force``) in ONE transaction

Failure rules: any error before the final transaction leaves the registry and the champion exactly as
they were (the new data may already be ingested: ingest is atomic on its own and idempotent, so a
rerun with the same files continues). Policy for files from periods already in the store: **rejected**
before anything is ingested, with the file, table and periods named (retraining only learns from new
periods; correct history with ``gridcrit ingest`` and retrain with ``--mode scratch``). Re-supplying a
file that was already ingested byte-for-byte is allowed (it is a no-op).

Which periods: ``unseen`` = periods after the last period in the champion's training data. The last
``eval_periods`` of them (default: a third, at least 1) are held out: neither model trained on them,
both are scored on them. The challenger trains on the earlier unseen periods (fine-tune) or on
everything up to them (scratch).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridcrit.data.store import files_dir
from gridcrit.errors import GridcritError, NotFoundError, ValidationError
from gridcrit.registry.drift import drift_report, same_season
from gridcrit.registry.evaluate import (
    class_scale,
    evaluate,
    higher_is_better,
    improvement,
    primary_metric,
    recorded_primary,
)
from gridcrit.registry.finetune import CannotFinetuneError, continue_training
from gridcrit.registry.fingerprint import (
    TIME_COLUMN,
    feature_schema,
    fingerprint,
    period_labels,
    store_fingerprint,
)
from gridcrit.registry.registry import Registry

MODES = ("finetune", "scratch", "auto")
DATA_SUFFIXES = (".csv", ".parquet", ".xlsx", ".txt")
# tables whose rows belong to a month; vegetation inspections are undated exposure records (key=None)
PERIODIC_TABLES = ("interrupciones", "redmt", "trafos", "switches", "apoyos", "rayos", "clima")


# ---------------------------------------------------------------------------------------- helpers
_STEP_ES = {  # the bar's text in Spanish; ``on_step`` callbacks get the English step names (stable keys)
    "checking the base model": "revisando el modelo base", "checking new files": "revisando los archivos nuevos",
    "ingesting new files": "ingiriendo los archivos nuevos", "rebuilding the dataset": "reconstruyendo el conjunto",
    "fine-tuning the challenger": "ajustando el retador", "training a challenger from scratch":
    "entrenando un retador desde cero", "evaluating champion and challenger": "evaluando campeón y retador",
    "computing drift": "calculando la deriva", "registering": "registrando",
}


class _Steps:
    """Rich progress over the retrain steps (silent unless ``enabled``)."""

    def __init__(self, enabled: bool, total: int, lang: str = "es"):
        self.lang = lang
        self.progress = None
        from gridcrit.cli.common import err_console

        # only on a terminal: elsewhere rich would leave a blank line behind (e.g. before an error line)
        if enabled and err_console.is_terminal:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                                     console=err_console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("retrain", total=total)

    def step(self, text: str) -> None:
        if self.progress is not None:
            shown = text if self.lang == "en" else _STEP_ES.get(text, text)
            self.progress.update(self.task, description=shown, advance=1)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _jsonable(o: Any) -> Any:
    if o is None:
        return None
    if hasattr(o, "to_dict"):
        return json.loads(json.dumps(o.to_dict(), default=str))
    if is_dataclass(o):
        return json.loads(json.dumps(asdict(o), default=str))
    if isinstance(o, dict):
        return json.loads(json.dumps(o, default=str))
    return str(o)


def data_files(paths: list[str | Path]) -> list[Path]:
    """Files named, and data files inside folders named (not recursive into hidden folders)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise NotFoundError(f"new data path {p} does not exist")
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in DATA_SUFFIXES
                          and not f.name.startswith("truth"))
        else:
            out.append(p)
    if not out:
        raise ValidationError(f"no data files (csv, parquet, xlsx) in {', '.join(map(str, paths))}")
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _file_months(path: Path, con) -> tuple[str | None, set[str]]:
    """(table recognised from the header, months its rows fall in) — best effort; (None, {}) if unknown."""
    from gridcrit.data.schema import TABLES

    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            rel = f"read_parquet('{path.as_posix()}')"
        elif suffix in (".csv", ".txt"):
            rel = f"read_csv('{path.as_posix()}', all_varchar=true, header=true)"
        else:
            return None, set()
        cols = [c[0] for c in con.execute(f"SELECT * FROM {rel} LIMIT 0").description]
    except Exception:  # unreadable: ingest's validation reports it properly
        return None, set()
    table = next((t for t, s in TABLES.items() if set(s.signature) <= set(cols)), None)
    if table is None or table not in PERIODIC_TABLES or TIME_COLUMN[table] not in cols:
        return table, set()
    tcol = TIME_COLUMN[table]
    try:
        vals = con.execute(f'SELECT DISTINCT substr(CAST("{tcol}" AS VARCHAR), 1, 10) FROM {rel}').fetchall()
    except Exception:
        return table, set()
    ts = pd.to_datetime(pd.Series([v[0] for v in vals]), errors="coerce")
    return table, {t.strftime("%Y-%m") for t in ts.dropna()}


def check_new_files(files: list[Path], store: str | Path, problems_es: list[str] | None = None) -> list[str]:
    """Problems with files whose periods are already in the store (see module docstring: rejected).
    ``problems_es``, when given, receives the same lines in Spanish."""
    if problems_es is None:
        problems_es = []
    import duckdb

    from gridcrit.data.store import connect

    problems: list[str] = []
    if not Path(store).exists():
        return problems
    scon = connect(store, read_only=True)
    try:
        loaded = {r[0] for r in scon.execute("SELECT sha256 FROM _loads").fetchall()}
        present = {r[0] for r in scon.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        mem = duckdb.connect()
        for f in files:
            if _sha256(f) in loaded:
                continue  # the very same file again: ingest skips it
            table, months = _file_months(f, mem)
            if not table or not months or table not in present:
                continue
            tcol = TIME_COLUMN[table]
            have = {r[0]: r[1] for r in scon.execute(
                f'SELECT strftime("{tcol}", \'%Y-%m\') m, count(*) FROM "{table}" GROUP BY m').fetchall()}
            overlap = sorted(m for m in months if m in have)
            if overlap:
                n = sum(have[m] for m in overlap)
                shown = ", ".join(overlap[:6]) + (" …" if len(overlap) > 6 else "")
                problems.append(
                    f"{f}: table {table} has rows for period(s) {shown} that are already in the store "
                    f"({n} rows); retrain only accepts new periods — to correct past periods use "
                    f"'gridcrit ingest' and then 'gridcrit retrain --mode scratch'")
                problems_es.append(
                    f"{f}: la tabla {table} tiene filas de periodo(s) {shown} que ya están en el almacén "
                    f"({n} filas); el reentrenamiento solo acepta periodos nuevos — para corregir periodos "
                    f"pasados use 'gridcrit ingest' y luego 'gridcrit retrain --mode scratch'")
        mem.close()
    finally:
        scon.close()
    return problems


def _default_ingest(paths: list[Path], store: str | Path, progress: bool) -> Any:
    from gridcrit.data.ingest import ingest

    return ingest(paths, store, progress=progress)


def default_dataset(store: str | Path, level: str, period: str, risk_fit_until: str | None = None) -> Any:
    """The criticality dataset. ``risk_fit_until``: last period whose targets fix the risk-class cut
    points; retraining passes the champion's last training period so classes keep their meaning."""
    from gridcrit.features.dataset import build_dataset

    if risk_fit_until is None:
        return build_dataset(store, level=level, period=period)
    return build_dataset(store, level=level, period=period, risk_fit_until=risk_fit_until)


def _dataset(dataset_fn: Callable[..., Any] | None, store: str | Path, level: str, period: str,
             risk_fit_until: str | None) -> Any:
    if dataset_fn is None:
        return default_dataset(store, level, period, risk_fit_until)
    return dataset_fn(store, level, period)


def target_column(target: str) -> str:
    return target if target.startswith("y_") else f"y_{target}"


def _fit_fresh(model: Any, X: pd.DataFrame, y: pd.Series, X_val: pd.DataFrame | None, y_val: Any) -> Any:
    import inspect

    if X_val is not None and len(X_val) and "eval_set" in inspect.signature(model.fit).parameters:
        return model.fit(X, y, eval_set=[(X_val, y_val)])
    return model.fit(X, y)


# ---------------------------------------------------------------------------------------- champion
def register_trained(store: str | Path, out: dict[str, Any], level: str, period: str, frame: Any) -> str | None:
    """Register a :func:`gridcrit.models.train.train_model` result (``out``) trained on ``frame``:
    THE single place that hands a trained model to the registry (``gridcrit train``, the demo).

    The feature schema and data fingerprint use the registry's own helpers, so ``predict``, ``explain``
    and ``retrain`` read them the same way for models from ``train`` and from ``retrain``; the
    fingerprint covers the periods the model was fitted on (fit + early-stopping), not the test hold-out.
    """
    from gridcrit.data.store import connect
    from gridcrit.registry.fingerprint import feature_schema, fingerprint, period_labels

    m = out["model"]
    split = out["split"]
    seen_until = (split.get("valid_periods") or split["fit_periods"]).split("..")[-1]
    seen = frame[(period_labels(frame["period"]) <= seen_until).to_numpy()]
    schema = feature_schema(frame, out["features"])
    schema["categorical"] = out["categorical"]
    connect(store).close()  # training from a dataset file may target a new store: create it first
    fp = fingerprint(store, seen)
    fp["split"] = split
    registry = Registry(store)
    target = out["target"].removeprefix("y_")
    # The first model of a slot becomes its champion, so `predict --model champion` works right away;
    # later ones stay candidates until promoted (or replaced through `retrain`).
    first = registry.champion(f"{level}/{period}/{target}") is None
    return registry.register(
        m, name=out["name"], task=out["task"], target=target, level=level, period=period,
        params=json.loads(json.dumps(m.get_params(), default=str)), metrics=out["metrics"],
        feature_schema=schema, data_fingerprint=fp, promote=first)


def labelled(frame: pd.DataFrame, ycol: str) -> np.ndarray:
    """Rows of ``frame`` with a target: not NaN, and for the risk class not the code -1 the dataset gives
    rows whose SAIFI is not known yet (a period without event data, e.g. an unfinished quarter)."""
    y = frame[ycol]
    ok = y.notna().to_numpy().copy()
    if ycol == "y_risk" and pd.api.types.is_numeric_dtype(y):
        ok &= (pd.to_numeric(y, errors="coerce") >= 0).to_numpy()
    return ok


def train_and_register(
    store: str | Path,
    model: Any,
    *,
    name: str,
    task: str,
    target: str = "saifi",
    level: str = "transformer",
    period: str = "month",
    until: str | None = None,
    val_periods: int = 1,
    promote: bool = True,
    dataset: Any = None,
    dataset_fn: Callable[..., Any] | None = None,
    notes: str = "",
    n_folds: int = 0,
) -> str:
    """Train ``model`` on the dataset periods up to ``until`` and register it (champion by default).

    The last ``val_periods`` periods of that range are the early-stopping set and the reported
    "latest period" metrics; ``n_folds`` > 0 adds rolling-origin metrics per fold (one extra fit each).
    Returns the version.
    """
    ds = dataset if dataset is not None else _dataset(dataset_fn, store, level, period, until)
    ycol = target_column(target)
    if ycol not in ds.frame.columns:
        raise ValidationError(f"target column {ycol} not in the dataset (have {', '.join(ds.target_columns)})")
    frame = ds.frame[labelled(ds.frame, ycol)]
    per = period_labels(frame["period"])
    if until is not None:
        frame = frame[(per <= until).to_numpy()]
        per = per[per <= until]
    frame = frame.reset_index(drop=True)
    per = per.reset_index(drop=True)
    periods = sorted(per.unique())
    if len(periods) <= val_periods:
        raise ValidationError(f"need more than {val_periods} period(s) to train, have {len(periods)}")
    feats = list(ds.feature_columns)
    # classes: every fold and the latest period scored on one ordered scale (the RPS's K)
    order = class_scale(frame[ycol]) if task == "classification" else None
    folds = []
    if n_folds:
        from sklearn.base import clone

        # rolling origin: fold i trains on the periods before its test period (the last n_folds ones)
        for test_p in periods[-n_folds:]:
            earlier = [p for p in periods if p < test_p]
            trm, tem = per.isin(earlier[:-1]).to_numpy(), (per == test_p).to_numpy()
            vam = per.isin(earlier[-1:]).to_numpy()
            m = _fit_fresh(clone(model), frame.loc[trm, feats], frame.loc[trm, ycol],
                           frame.loc[vam, feats], frame.loc[vam, ycol])
            folds.append({"test_period": test_p,
                          **evaluate(m, frame.loc[tem, feats], frame.loc[tem, ycol], task, order)})
    val_mask = per.isin(periods[-val_periods:]).to_numpy()
    tr, va = frame[~val_mask], frame[val_mask]
    _fit_fresh(model, tr[feats], tr[ycol], va[feats], va[ycol])
    metrics = {"latest_period": evaluate(model, va[feats], va[ycol], task, order),
               "latest_periods": periods[-val_periods:], "folds": folds}
    reg = Registry(store)
    return reg.register(model, name=name, task=task, target=target, level=level, period=period,
                        metrics=metrics, feature_schema=feature_schema(frame, feats, getattr(ds, "feature_groups", None)),
                        data_fingerprint=fingerprint(store, frame), notes=notes, promote=promote)


# ---------------------------------------------------------------------------------------- retrain
@dataclass
class RetrainResult:
    """What a retrain did (also stored as the ``retrain`` event and in ``summary.json``)."""

    base: str
    challenger: str
    mode: str
    how: str
    promoted: bool
    forced: bool
    champion_after: str
    slot: str
    margin: float
    primary_metric: str
    improvement: float
    metrics: dict[str, dict[str, float]]
    unseen_periods: list[str]
    train_periods: list[str]
    eval_periods: list[str]
    data_changes: dict[str, Any]
    drift: dict[str, Any]
    timings_s: dict[str, float]
    report_dir: str
    rollback_hint: str
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)
    # set when nothing was trained: the version an identical earlier retrain registered
    nothing_new: str = ""
    # the serving champion the challenger was scored against (``metrics["champion"]``); differs from
    # ``base`` when retraining started from another version (then ``metrics["base"]`` is the base's score)
    compared_with: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def retrain(
    store: str | Path,
    new_data_paths: list[str | Path] | None,
    *,
    base: str = "champion",
    slot: str | None = None,
    mode: str = "finetune",
    margin: float = 0.01,
    force: bool = False,
    eval_periods: int | None = None,
    rounds: int | None = None,
    replay: int = 12,
    pretrain: bool = False,
    progress: bool = False,
    ingest_fn: Callable[..., Any] | None = None,
    dataset_fn: Callable[..., Any] | None = None,
    on_step: Callable[[str], None] | None = None,
    again: bool = False,
    lang: str = "es",
) -> RetrainResult:
    """Retrain the model ``base`` (default: the champion) with ``new_data_paths``; see module docstring.

    ``mode``: ``finetune`` (continue from the base model), ``scratch`` (same model kind and params, trained
    anew on all periods up to the held-out ones), ``auto`` (fine-tune; if that does not beat the
    champion by ``margin``, also train from scratch and keep the better of the two).
    ``margin``: relative improvement of the primary metric (see :mod:`gridcrit.registry.evaluate`)
    needed to promote. ``force``: promote the challenger whatever the comparison says.
    Nothing new: when an earlier retrain of ``base`` with the same options already ran on exactly the
    data now in the store (same table fingerprints; e.g. the same files given again, all +0 rows),
    nothing is trained or registered and the result names that earlier challenger
    (``nothing_new``); ``again=True`` trains and registers anyway.
    ``new_data_paths`` None or empty: use what is already in the store (retrain on stored new periods).
    ``rounds``: trees (boosted trees) or epochs (TabNet) added when fine-tuning (default: a quarter of
    the champion's, at least 20 trees / 5 epochs). ``replay``: how many of the last periods the base
    model saw are mixed into the fine-tuning data (measured on the twin: replaying 12 months doubled the
    gain of fine-tuning over 4 new months alone). ``lang``: language of the progress bar and of the drift report's
    Markdown / HTML / chart (``on_step`` always gets the English step names, the JSON English keys).
    """
    if mode not in MODES:
        raise ValidationError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if margin < 0:
        raise ValidationError(f"margin must be >= 0, got {margin}")
    if eval_periods is not None and eval_periods < 1:
        raise ValidationError(f"eval_periods must be >= 1 (new periods held out to compare on), got {eval_periods}")
    if rounds is not None and rounds < 1:
        raise ValidationError(f"rounds must be >= 1, got {rounds}")
    if replay < 0:
        raise ValidationError(f"replay must be >= 0, got {replay}")
    store = Path(store)
    reg = Registry(store)
    steps = _Steps(progress, total=8, lang=lang)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def step(text: str) -> None:
        steps.step(text)
        if on_step is not None:
            on_step(text)

    try:
        # 1. the base model must exist and be intact before anything changes
        step("checking the base model")
        base_meta = reg.show(base, slot)
        if base_meta.get("events") is not None:
            base_meta.pop("events")
        loaded = reg.load(base_meta["version"], fallback=False)
        champion_model = loaded.model
        task, target = base_meta["task"], base_meta["target"]
        level, period = base_meta["level"], base_meta["period"]
        feats = list((base_meta.get("feature_schema") or {}).get("columns") or [])
        if not feats:
            raise GridcritError(f"{base_meta['version']} has no recorded feature schema; cannot retrain it")
        trained_until = ((base_meta.get("data_fingerprint") or {}).get("periods") or {}).get("last")
        if not trained_until:
            raise GridcritError(f"{base_meta['version']} has no recorded training periods; cannot tell new data")

        # 2. new files: periods already in the store are rejected before any change
        data_changes: dict[str, Any] = {"files": [], "ingest": None}
        if new_data_paths:
            step("checking new files")
            files = data_files(list(new_data_paths))
            data_changes["files"] = [str(f) for f in files]
            problems_es: list[str] = []
            problems = check_new_files(files, store, problems_es)
            if problems:
                raise ValidationError(
                    f"retrain stopped before any change: {problems[0]}"
                    + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""), problems,
                    es=f"reentrenamiento detenido antes de cambiar nada: {problems_es[0]}"
                       + (f" (+{len(problems) - 1} más)" if len(problems) > 1 else ""), problems_es=problems_es)
            step("ingesting new files")
            t = time.perf_counter()
            try:
                rep = (ingest_fn or _default_ingest)(files, store, False)
            except GridcritError as e:
                msg = (f"retrain stopped: the new files were rejected, nothing was loaded and the "
                       f"champion is unchanged: {e}")
                msg_es = (f"reentrenamiento detenido: los archivos nuevos fueron rechazados, no se cargó nada "
                          f"y el campeón no cambió: {e.text('es')}")
                if isinstance(e, ValidationError):  # keep the file:row:column list for the CLI
                    raise ValidationError(msg, e.problems, e.n_problems, es=msg_es,
                                          problems_es=getattr(e, "problems_es", None)) from e
                err = type(e)(msg, *e.args[1:])
                err.es = msg_es
                raise err from e
            timings["ingest"] = time.perf_counter() - t
            data_changes["ingest"] = _jsonable(rep)

        # nothing new: the same retrain already ran on exactly these data -> register nothing
        options = {"mode": mode, "eval_periods": eval_periods, "rounds": rounds, "replay": replay,
                   "pretrain": pretrain}
        state = _store_state(store)
        if not again:
            same = _earlier_retrain(reg, base_meta, options, state)
            if same is not None:
                return _nothing_new(same, base_meta, margin, data_changes, time.perf_counter() - t0)

        # 3. dataset and the periods the base model never saw
        step("rebuilding the dataset")
        t = time.perf_counter()
        ds = _dataset(dataset_fn, store, level, period, trained_until)
        timings["dataset"] = time.perf_counter() - t
        ycol = target_column(target)
        missing = [c for c in [*feats, ycol] if c not in ds.frame.columns]
        if missing:
            raise ValidationError(f"the rebuilt dataset lacks columns {base_meta['version']} uses: {missing[:5]}")
        frame = ds.frame[labelled(ds.frame, ycol)].reset_index(drop=True)  # periods without events yet: no label
        per = period_labels(frame["period"])
        unseen = sorted(p for p in per.unique() if p > trained_until)
        if len(unseen) < 2:
            raise ValidationError(
                f"{base_meta['version']} was trained up to {trained_until}; the store has {len(unseen)} later "
                "period(s) — need at least 2 (one to train on, one to evaluate on)",
                es=f"{base_meta['version']} se entrenó hasta {trained_until}; el almacén tiene {len(unseen)} "
                   "periodo(s) posteriores — se necesitan al menos 2 (uno para entrenar y otro para evaluar)")
        n_eval = eval_periods if eval_periods is not None else max(1, len(unseen) // 3)
        if n_eval >= len(unseen):
            raise ValidationError(f"eval_periods={n_eval} leaves no new period to train on ({len(unseen)} new)",
                                  es=f"--eval-periods {n_eval} no deja ningún periodo nuevo para entrenar "
                                     f"({len(unseen)} nuevos)")
        ev_p, tr_p = unseen[-n_eval:], unseen[:-n_eval]
        ev = frame[per.isin(ev_p).to_numpy()]
        new_tr = frame[per.isin(tr_p).to_numpy()]
        # fine-tuning data: the new training periods plus the last ``replay`` periods the base model saw,
        # so the added trees / epochs fit what changed rather than the noise of a few new months
        seen = sorted(p for p in per.unique() if p <= trained_until)
        replay_p = seen[-replay:] if replay else []
        ft_frame = frame[per.isin([*replay_p, *tr_p]).to_numpy()]
        data_changes["new_periods"] = unseen
        data_changes["rows_new_periods"] = int(per.isin(unseen).sum())

        # 4. challenger(s)
        candidates: dict[str, tuple[Any, str, float]] = {}

        def do_finetune() -> None:
            step("fine-tuning the challenger")
            t = time.perf_counter()
            m = reg.load(base_meta["version"], fallback=False).model  # a fresh copy; the champion is untouched
            unl = frame[per.isin(unseen).to_numpy()][feats] if pretrain else None
            m, how = continue_training(m, ft_frame[feats], ft_frame[ycol], rounds=rounds, unlabelled=unl,
                                       pretrain=pretrain)
            if replay_p:
                how += f" on {tr_p[0]}..{tr_p[-1]} plus {len(replay_p)} replayed period(s) {replay_p[0]}..{replay_p[-1]}"
            candidates["finetune"] = (m, how, time.perf_counter() - t)

        def do_scratch() -> None:
            from sklearn.base import clone

            step("training a challenger from scratch")
            t = time.perf_counter()
            m = clone(champion_model)
            allp = sorted(p for p in per.unique() if p <= tr_p[-1])
            val = allp[-1:]
            trm = per.isin([p for p in allp if p not in val]).to_numpy()
            vam = per.isin(val).to_numpy()
            _fit_fresh(m, frame.loc[trm, feats], frame.loc[trm, ycol], frame.loc[vam, feats], frame.loc[vam, ycol])
            candidates["scratch"] = (m, f"trained from scratch on {allp[0]}..{allp[-1]}", time.perf_counter() - t)

        if mode in ("finetune", "auto"):
            try:
                do_finetune()
            except CannotFinetuneError:
                if mode == "finetune":
                    raise
        if mode == "scratch" or (mode == "auto" and "finetune" not in candidates):
            do_scratch()

        # 5. compare on the held-out new periods, against the model a promotion would replace: the
        # slot's serving champion (which is not the base when --base names another version)
        step("evaluating champion and challenger")
        serving = reg.champion(base_meta["slot"])
        serving_model, sfeats = None, feats
        if serving is not None and serving["version"] != base_meta["version"]:
            sfeats = list((serving.get("feature_schema") or {}).get("columns") or [])
            if not sfeats or any(c not in frame.columns for c in sfeats):
                raise ValidationError(
                    f"cannot score the serving champion {serving['version']} on the new periods (its features "
                    f"are not in the dataset), so {base_meta['version']}'s challenger cannot be compared with "
                    f"it; retrain from the champion or promote {base_meta['version']} first",
                    es=f"no se puede evaluar al campeón vigente {serving['version']} en los periodos nuevos (sus "
                       f"variables no están en el conjunto), así que el retador de {base_meta['version']} no se "
                       f"puede comparar con él; reentrene desde el campeón o promueva {base_meta['version']} antes")
            serving_model = reg.load(serving["version"], fallback=False).model
        # classes: every model scored on one ordered scale (the data's classes and the models', in their
        # defined order: risk levels Bajo < ... < Muy Alto, codes by value), so their RPS share K
        order = (class_scale(frame[ycol], champion_model, serving_model, *(m for m, _, _ in candidates.values()))
                 if task == "classification" else None)
        base_metrics = evaluate(champion_model, ev[feats], ev[ycol], task, order)
        metrics = {"champion": base_metrics}
        compared_with = base_meta["version"]
        if serving_model is not None:
            metrics = {"champion": evaluate(serving_model, ev[sfeats], ev[ycol], task, order), "base": base_metrics}
            compared_with = serving["version"]
        cand_metrics = {k: evaluate(m, ev[feats], ev[ycol], task, order) for k, (m, _, _) in candidates.items()}
        if mode == "auto" and "scratch" not in candidates and improvement(
                metrics["champion"], cand_metrics["finetune"], task) < margin:
            do_scratch()
            cand_metrics["scratch"] = evaluate(candidates["scratch"][0], ev[feats], ev[ycol], task, order)
        chosen = max(cand_metrics, key=lambda k: improvement(metrics["champion"], cand_metrics[k], task))
        challenger, how, _ = candidates[chosen]
        metrics["challenger"] = cand_metrics[chosen]
        for k, (_, _, s) in candidates.items():
            timings[f"train_{k}"] = s
        gain = improvement(metrics["champion"], metrics["challenger"], task)
        better = bool(np.isfinite(gain) and gain >= margin)
        promote = better or force

        # 6. drift: the champion's periods vs the unseen ones
        step("computing drift")
        seen = (per <= trained_until).to_numpy()
        # the same months of the year as the new periods (seasonal features), when the past has them
        ref, seasons = same_season(frame[seen], per[seen], unseen)
        if len(ref) > 200_000:  # PSI/KS on a fixed-seed sample are stable and much cheaper
            ref = ref.sample(200_000, random_state=0)
        new_rows = frame[per.isin(unseen).to_numpy()]
        targets = [c for c in getattr(ds, "target_columns", []) if c in frame.columns and c != "y_risk"]
        ref_label = f"{per.min()}..{trained_until}" + (f" ({', '.join(seasons)})" if seasons else "")
        drift = drift_report(ref, new_rows, feats, targets=targets,
                             class_column="y_risk" if "y_risk" in frame.columns else None,
                             reference_label=ref_label, new_label=f"{unseen[0]}..{unseen[-1]}",
                             relation_target=ycol if task != "classification" else None)
        drivers = driver_shift(champion_model, challenger, ev[feats])

        # 7. report files (written aside, moved into place only after the registry commits)
        step("registering")
        reports = files_dir(store) / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        tmp_dir = reports / f".retrain-{stamp}"
        final_dir = reports / f"retrain-{stamp}"
        drift_paths = drift.write(tmp_dir, lang=lang)
        pname, _ = primary_metric(task)
        train_frame = frame[(per <= tr_p[-1]).to_numpy()] if chosen == "scratch" else pd.concat(
            [frame[(per <= trained_until).to_numpy()], new_tr])
        result = RetrainResult(
            base=base_meta["version"], challenger="", mode=chosen, how=how, promoted=promote, forced=force and not better,
            champion_after="", slot=base_meta["slot"], margin=margin, primary_metric=pname, improvement=gain,
            compared_with=compared_with,
            metrics=metrics, unseen_periods=unseen, train_periods=tr_p, eval_periods=ev_p,
            data_changes=data_changes,
            drift={"summary": drift.summary(), "drifted": drift.drifted[:20], "n_drifted": len(drift.drifted),
                   "n_features": len(drift.features),
                   "top": [{k: f.get(k) for k in ("feature", "psi", "ks", "level")} for f in drift.features[:10]],
                   "targets": {t: {k: d.get(k) for k in ("psi", "mean_ref", "mean_new", "level")}
                               for t, d in drift.targets.items()},
                   "class_balance": drift.class_balance,
                   "relation": drift.relation[:10], "driver_shift": drivers,
                   "ranked_features": [f["feature"] for f in drift.features],
                   "ranked_relation": [x["feature"] for x in drift.relation],
                   "files": {k: v.replace(str(tmp_dir), str(final_dir)) for k, v in drift_paths.items()}},
            timings_s=timings, report_dir=str(final_dir), rollback_hint="",
            candidates=cand_metrics,
        )
        fp = fingerprint(store, train_frame)
        version = reg.register(
            challenger, name=base_meta["name"], task=task, target=target, level=level, period=period,
            metrics={"eval": metrics["challenger"], "eval_periods": ev_p, "champion_on_eval": metrics["champion"],
                     "compared_with": compared_with, **({"base_on_eval": metrics["base"]} if "base" in metrics else {}),
                     "candidates": cand_metrics, "improvement": gain, "primary_metric": pname},
            feature_schema=base_meta["feature_schema"], data_fingerprint=fp,
            parent=base_meta["version"] if chosen == "finetune" else None,
            notes=f"retrain ({how})", promote=promote,
            extra_events=[("retrain", {"base": base_meta["version"], "mode": chosen, "promoted": promote,
                                       "forced": force and not better, "improvement": gain, "margin": margin,
                                       "metrics": metrics, "eval_periods": ev_p, "train_periods": tr_p,
                                       "files": data_changes["files"], "drift": drift.summary(),
                                       "options": options, "store_state": state,
                                       "report": str(final_dir)})],
        )
        result.challenger = version
        result.champion_after = version if promote else (reg.champion(base_meta["slot"]) or {}).get("version", "")
        result.rollback_hint = (f"gridcrit models rollback --slot {base_meta['slot']}" if promote else
                                f"nothing to roll back; promote it anyway with 'gridcrit models promote {version}'")
        timings["total"] = time.perf_counter() - t0
        (tmp_dir / "summary.json").write_text(json.dumps(result.to_dict(), default=str, indent=1))
        (tmp_dir / "summary.md").write_text(summary_text(result, "en"))
        tmp_dir.rename(final_dir)
        return result
    finally:
        steps.close()
        for d in (files_dir(store) / "reports").glob(".retrain-*") if (files_dir(store) / "reports").exists() else []:
            shutil.rmtree(d, ignore_errors=True)


def _store_state(store: str | Path) -> dict[str, Any]:
    """What the store holds: the utility tables' fingerprints and a hash of every file loaded so far."""
    from gridcrit.data.store import connect

    con = connect(store, read_only=True)
    try:
        shas = sorted({r[0] for r in con.execute("SELECT sha256 FROM _loads").fetchall()})  # a re-load logs again
    finally:
        con.close()
    return {"tables": store_fingerprint(store), "loads": hashlib.sha256("".join(shas).encode()).hexdigest()[:16]}


def _earlier_retrain(reg: Registry, base_meta: dict[str, Any], options: dict[str, Any],
                     state: dict[str, Any]) -> dict[str, Any] | None:
    """The newest version an earlier retrain of the same base, with the same options, registered from
    exactly the store content there is now; None if there is none."""
    for e in reversed(reg.history()):
        d = e["details"]
        if e["action"] != "retrain" or d.get("base") != base_meta["version"] or not e["version"]:
            continue
        if "options" in d:
            if d["options"] != options:
                continue
        elif options["mode"] not in ("auto", d.get("mode")):  # older records: only the mode that ran
            continue
        try:
            meta = reg.show(e["version"])
        except NotFoundError:  # deleted since
            continue
        if meta.get("status") == "retired":
            continue
        if "store_state" in d:
            if d["store_state"] == state:
                return meta
        elif state["tables"] and (meta.get("data_fingerprint") or {}).get("tables") == state["tables"]:
            return meta  # older records: the store tables the version's fingerprint recorded
    return None


def _nothing_new(prev: dict[str, Any], base_meta: dict[str, Any], margin: float, data_changes: dict[str, Any],
                 elapsed: float) -> RetrainResult:
    met = prev.get("metrics") or {}
    ev = (prev.get("events") or [{}])
    details = next((x["details"] for x in ev if x.get("action") == "retrain"), {})
    # the metric that earlier retrain compared on (recorded since the RPS; before, read from its metrics)
    pname = met.get("primary_metric") or recorded_primary(prev.get("task") or "regression", met.get("eval"))[0]
    return RetrainResult(
        base=base_meta["version"], challenger=prev["version"], mode=details.get("mode", ""),
        how=(prev.get("notes") or "").removeprefix("retrain (").removesuffix(")"),
        promoted=False, forced=False, champion_after=base_meta["version"] if base_meta["status"] == "champion" else "",
        slot=base_meta["slot"], margin=margin, primary_metric=pname,
        improvement=float(met.get("improvement", float("nan"))),
        metrics={"champion": met.get("champion_on_eval") or {}, "challenger": met.get("eval") or {}},
        unseen_periods=list(details.get("train_periods", [])) + list(details.get("eval_periods", [])),
        train_periods=list(details.get("train_periods", [])), eval_periods=list(met.get("eval_periods", [])),
        data_changes=data_changes, drift={}, timings_s={"total": elapsed}, report_dir=details.get("report", ""),
        rollback_hint="", candidates=met.get("candidates") or {}, nothing_new=prev["version"],
        compared_with=met.get("compared_with", ""))


def driver_shift(champion: Any, challenger: Any, X: pd.DataFrame, top: int | None = None) -> list[dict[str, Any]]:
    """Mean |contribution| of each feature to the predictions on ``X`` under both models, by change.

    Shows which drivers the challenger learnt to weigh differently (empty when the models offer no
    per-feature contributions)."""
    from gridcrit.registry.predict import contributions

    if len(X) > 50_000:
        X = X.sample(50_000, random_state=0)
    a, _ = contributions(champion, X)
    b, _ = contributions(challenger, X)
    if a is None or b is None:
        return []
    ma, mb = np.abs(a).mean(axis=0), np.abs(b).mean(axis=0)
    rows = [{"feature": c, "champion": float(x), "challenger": float(y), "delta": float(y - x)}
            for c, x, y in zip(X.columns, ma, mb, strict=True)]
    rows.sort(key=lambda r: -abs(r["delta"]))
    return rows if top is None else rows[:top]


# ---------------------------------------------------------------------------------------- summary
_TEXT = {
    "en": {"data": "What changed in the data", "files": "files", "new": "new periods", "rows": "dataset rows in new periods",
           "drift": "Drift", "compare": "Models on the held-out new periods", "model": "model",
           "decision": "Decision", "promoted": "promoted {c} (was {b}): {how}; {change} (margin {mg:.1%})",
           "forced": "promoted {c} with --force although {change} (margin {mg:.1%})",
           "kept": "champion {ch} stays; challenger {c} ({how}) against {b}: {change}; promotion needs an "
                   "improvement of at least {mg:.1%}",
           "better": "{m} improved by {g}", "worse": "{m} worsened by {g}", "same": "{m} did not change",
           "values": " ({a:.4g} → {b:.4g}; {d} is better)", "lower": "lower", "higher": "higher",
           "rollback": "Roll back", "report": "Reports", "champion": "champion", "challenger": "challenger",
           "base": "base (retrained from)",
           "relation": "features whose link with the target changed most",
           "drivers": "drivers the challenger weighs differently (change of mean |contribution|)",
           "nothing": "Nothing new: the store holds the same data {c} was trained on by an earlier retrain of "
                      "{b} with the same options ({change}). Nothing was trained or registered.",
           "nothing_next": "Promote it with `gridcrit models promote {c}`, add new export files, or train again "
                           "anyway with `--again`.",
           "no_rollback": "nothing to roll back; promote it anyway with `gridcrit models promote {c}`",
           "trees": "added {n} trees to the {k} booster", "warm": "warm-started from the champion's weights",
           "tabnet_warm": "warm-started the champion's TabNet weights for up to {n} epochs",
           "tabnet_pre": "self-supervised pretraining on {r} unlabelled new rows, then fine-tuned for up to {n} epochs",
           "replay": " on {a}..{b} plus {n} replayed period(s) {c}..{d}", "scratch": "trained from scratch on {a}..{b}"},
    "es": {"data": "Qué cambió en los datos", "files": "archivos", "new": "periodos nuevos",
           "rows": "filas del dataset en periodos nuevos", "drift": "Deriva",
           "compare": "Modelos en los periodos nuevos reservados", "model": "modelo", "decision": "Decisión",
           "promoted": "se promovió {c} (antes {b}): {how}; {change} (margen {mg:.1%})",
           "forced": "se promovió {c} con --force aunque {change} (margen {mg:.1%})",
           "kept": "se mantiene el campeón {ch}; el retador {c} ({how}) frente a {b}: {change}; para promoverlo "
                   "se exige una mejora de al menos {mg:.1%}",
           "better": "{m} mejoró un {g}", "worse": "{m} empeoró un {g}", "same": "{m} no cambió",
           "values": " ({a:.4g} → {b:.4g}; mejor cuanto más {d})", "lower": "bajo", "higher": "alto",
           "rollback": "Revertir", "report": "Informes", "champion": "campeón", "challenger": "retador",
           "base": "base (punto de partida)",
           "relation": "variables cuya relación con el objetivo cambió más",
           "drivers": "factores que el retador pondera distinto (cambio de |contribución| media)",
           "nothing": "Nada nuevo: el almacén tiene los mismos datos con los que un reentrenamiento anterior de "
                      "{b}, con las mismas opciones, entrenó {c} ({change}). No se entrenó ni registró nada.",
           "nothing_next": "Promuévalo con `gridcrit models promote {c}`, añada exportaciones nuevas o reentrene "
                           "igualmente con `--again`.",
           "no_rollback": "nada que revertir; para promoverlo igualmente: `gridcrit models promote {c}`",
           "trees": "se añadieron {n} árboles al modelo {k}", "warm": "se partió de los pesos del campeón",
           "tabnet_warm": "se continuó el entrenamiento de los pesos TabNet del campeón hasta {n} épocas",
           "tabnet_pre": "preentrenamiento autosupervisado con {r} filas nuevas sin etiqueta y ajuste "
                         "hasta {n} épocas",
           "replay": " con {a}..{b} más {n} periodo(s) repetidos {c}..{d}",
           "scratch": "entrenado desde cero con {a}..{b}"},
}


def _change(r: RetrainResult, T: dict[str, str]) -> str:
    """The primary metric's change worded by direction: improved / worsened, with both values and
    whether lower or higher is better (``improvement`` > 0 always means the challenger is better)."""
    g, m = r.improvement, r.primary_metric
    # two decimals below 0.1 %, so a tiny change is not printed as "worsened by 0.0%"
    shown = f"{abs(g):.1%}" if not np.isfinite(g) or abs(g) >= 0.001 else f"{abs(g):.2%}"
    text = T["same"].format(m=m) if g == 0 else T["better" if g > 0 else "worse"].format(m=m, g=shown)
    a, b = (r.metrics.get("champion") or {}).get(m), (r.metrics.get("challenger") or {}).get(m)
    higher = higher_is_better(m)
    if a is not None and b is not None:
        text += T["values"].format(a=a, b=b, d=T["higher" if higher else "lower"])
    return text


def _how(how: str, T: dict[str, str]) -> str:
    """The fine-tune / scratch description (recorded in English) in the reader's language."""
    import re

    out, rest = how, ""
    mrep = re.search(r" on (\S+)\.\.(\S+) plus (\d+) replayed period\(s\) (\S+)\.\.(\S+)$", how)
    if mrep:
        out, rest = how[:mrep.start()], T["replay"].format(a=mrep[1], b=mrep[2], n=mrep[3], c=mrep[4], d=mrep[5])
    if mt := re.fullmatch(r"added (\d+) trees to the (\S+) booster", out):
        out = T["trees"].format(n=mt[1], k=mt[2])
    elif out == "warm-started from the champion's weights":
        out = T["warm"]
    elif mw := re.fullmatch(r"warm-started the champion's TabNet weights for up to (\d+) epochs", out):
        out = T["tabnet_warm"].format(n=mw[1])
    elif mp := re.fullmatch(r"self-supervised pretraining on (\d+) unlabelled new rows, then fine-tuned "
                            r"for up to (\d+) epochs", out):
        out = T["tabnet_pre"].format(r=mp[1], n=mp[2])
    elif ms := re.fullmatch(r"trained from scratch on (\S+)\.\.(\S+)", out):
        out = T["scratch"].format(a=ms[1], b=ms[2])
    return out + rest


def _drift_line(drift: dict[str, Any], lang: str) -> str:
    from gridcrit.registry.drift import summary_line

    if "n_features" not in drift:  # older summaries: the recorded (English) line
        return str(drift.get("summary"))
    return summary_line(drift.get("drifted") or [], drift["n_features"], drift.get("top") or [], lang=lang)


def summary_text(r: RetrainResult, lang: str = "es") -> str:
    """A Markdown summary a person can read: data changes, comparison, decision, how to roll back."""
    T = _TEXT.get(lang, _TEXT["es"])
    dc = r.data_changes
    ing = dc.get("ingest") or {}
    added = ", ".join(f"{t} +{d.get('rows_added', 0):,}" for t, d in (ing.get("tables") or {}).items())
    files_line = f"- {T['files']}: {len(dc.get('files') or [])}" + (f" ({added})" if added else "")
    if r.nothing_new:
        kw = {"c": r.challenger, "b": r.base, "change": _change(r, T)}
        return "\n".join([f"## {T['data']}", files_line, "", T["nothing"].format(**kw), "",
                          T["nothing_next"].format(**kw)]) + "\n"
    lines = [f"## {T['data']}", files_line,
             f"- {T['new']}: {', '.join(r.unseen_periods)}", f"- {T['rows']}: {dc.get('rows_new_periods')}",
             f"- {T['drift']}: {_drift_line(r.drift, lang)}"]
    if r.drift.get("relation"):
        lines.append(f"- {T['relation']}: " + ", ".join(
            f"{x['feature']} (Δρ {x['delta']:+.2f})" for x in r.drift["relation"][:3]))
    if r.drift.get("driver_shift"):
        lines.append(f"- {T['drivers']}: " + ", ".join(
            f"{x['feature']} ({x['delta']:+.3g})" for x in r.drift["driver_shift"][:3]))
    lines += ["", f"## {T['compare']} ({', '.join(r.eval_periods)})", ""]
    keys = [k for k in ("rmse", "mae", "poisson_deviance", "spearman", "top10_recall", "rps", "macro_f1",
                        "balanced_accuracy")
            if k in r.metrics["champion"]]
    lines.append(f"| {T['model']} | " + " | ".join(keys) + " |")
    lines.append("|---|" + "---:|" * len(keys))
    champ = r.compared_with or r.base
    for who, ver in (("champion", champ), ("base", r.base), ("challenger", r.challenger)):
        if who in r.metrics and (who != "base" or ver != champ):
            lines.append(f"| {T[who]} {ver} | " + " | ".join(f"{r.metrics[who].get(k, float('nan')):.4g}"
                                                             for k in keys) + " |")
    kw = {"c": r.challenger, "b": champ, "how": _how(r.how, T), "change": _change(r, T), "mg": r.margin,
          "ch": r.champion_after or "-"}
    decision = T["forced" if r.forced else "promoted" if r.promoted else "kept"].format(**kw)
    hint = f"`{r.rollback_hint}`" if r.promoted else T["no_rollback"].format(c=r.challenger)
    lines += ["", f"## {T['decision']}", decision, "", f"## {T['rollback']}", hint, "",
              f"## {T['report']}", r.report_dir]
    return "\n".join(lines) + "\n"
