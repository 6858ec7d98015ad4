"""The walkthrough behind ``gridcrit demo``: the whole pipeline on the synthetic twin, step by step.

Each step calls the existing API of its stage and returns a JSON-able dict:

=============  =====================================================================================
``data``       :func:`gridcrit.data.synth.synthesize` → :func:`gridcrit.data.ingest.ingest` →
               :func:`gridcrit.data.summary.store_summary` (tables, top circuits, SAIFI/SAIDI per year)
``reliability`` :func:`gridcrit.reliability.indices.compute_indices` (system × year) with and without the
               IEEE 1366 major event days (2.5β): MEDs and T_MED per year, the last full year's indices
``dataset``    :func:`gridcrit.features.dataset.build_dataset` (transformer × month, leakage-free)
``models``     :func:`gridcrit.models.train.train_model` — LightGBM and our TabNet (one decision step) on
               SAIFI, each beside the historical-mean baseline on the same temporal hold-out — registered
               in the store (the first model of the slot is its champion)
``forecast``   :func:`gridcrit.registry.predict.predict` with ``period="next"``: next month's ranking
``explain``    :func:`gridcrit.explain.attribution.attribute` of the champion and of TabNet on the
               hold-out rows, :func:`gridcrit.explain.stability.method_agreement`, and
               :func:`gridcrit.explain.truth.twin_check` against the twin's known drivers
``assistant``  :class:`gridcrit.assistant.Assistant`: one Spanish data question, answered offline with SQL
``retrain``    three later months of the same twin, :func:`gridcrit.registry.retrain.retrain`: the
               champion/challenger decision
=============  =====================================================================================

Example::

    >>> from gridcrit.demo import run_demo
    >>> res = run_demo("gridcrit-demo", scale="tiny", steps="data", progress=False)  # doctest: +SKIP
    >>> res["steps"]                                                                    # doctest: +SKIP
    ['data']

Each step's results are under its name (``res["data"]``, ``res["models"]``, ``res["forecast"]`` ...);
``res["seconds"]`` holds each step's wall time, ``res["next"]`` the commands to go further. The top-level
``store``, ``tables``, ``loads``, ``by_circuit``, ``by_year``, ``rows_added`` ... are what the demo has
always returned, for the store as the walkthrough leaves it (with the retraining step: including the
three later months).
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from gridcrit.errors import ValidationError

#: the walkthrough's steps, in order
STEPS = ("data", "reliability", "dataset", "models", "forecast", "explain", "assistant", "retrain")
#: what each step needs to have run before it (added automatically)
NEEDS: dict[str, tuple[str, ...]] = {
    "reliability": ("data",), "dataset": ("data",), "models": ("dataset",), "forecast": ("models",),
    "explain": ("models",), "assistant": ("data",), "retrain": ("models",),
}
#: the question of the model steps: transformer × month SAIFI
LEVEL, PERIOD, TARGET = "transformer", "month", "saifi"
#: the models trained, in order (the first one registered becomes the slot's champion)
MODELS = ("lightgbm", "tabnet")
#: TabNet with one decision step (docs/models.md: on asset × month tables one step ranked best; ~10 s here)
MODEL_PARAMS: dict[str, dict[str, Any]] = {"lightgbm": {}, "tabnet": {"tabnet_params": {"n_steps": 1}}}
#: months of the same twin synthesised after the data for the retraining step
LATER_MONTHS = 3
#: fine-tune the champion; if that does not beat it by the margin, also train from scratch and keep the better
RETRAIN_MODE = "auto"
#: a hold-out metric, and whether higher is better
METRICS = (("top10_recall", True), ("ndcg_at_100", True), ("poisson_deviance", False))

_PROGRESS = {  # step headers and spinner texts on stderr
    "data": {"es": "Datos: gemelo sintético → almacén", "en": "Data: synthetic twin → store"},
    "reliability": {"es": "Confiabilidad: índices IEEE 1366 y días de evento mayor",
                    "en": "Reliability: IEEE 1366 indices and major event days"},
    "dataset": {"es": "Conjunto de criticidad (transformador × mes)", "en": "Criticality dataset (transformer × month)"},
    "models": {"es": "Modelos: LightGBM y TabNet sobre SAIFI", "en": "Models: LightGBM and TabNet on SAIFI"},
    "forecast": {"es": "Pronóstico del próximo mes", "en": "Next month's forecast"},
    "explain": {"es": "Explicaciones", "en": "Explanations"},
    "assistant": {"es": "Asistente: una pregunta sobre los datos", "en": "Assistant: one data question"},
    "retrain": {"es": "Reentrenamiento con {n} meses nuevos", "en": "Retraining with {n} new months"},
    "training": {"es": "entrenando {m}…", "en": "training {m}…"},
    "indices": {"es": "calculando índices…", "en": "computing indices…"},
    "predicting": {"es": "pronosticando…", "en": "forecasting…"},
    "attributing": {"es": "atribuyendo ({m})…", "en": "attributing ({m})…"},
    "truth": {"es": "comparando con la verdad del gemelo…", "en": "checking against the twin's truth…"},
    "asking": {"es": "respondiendo…", "en": "answering…"},
    "later": {"es": "sintetizando {a}..{b}…", "en": "synthesising {a}..{b}…"},
}


def _p(key: str, lang: str, **kw: Any) -> str:
    texts = _PROGRESS[key]
    return texts.get(lang, texts["en"]).format(**kw)


def resolve_steps(steps: str | Iterable[str] | None = "all") -> list[str]:
    """The steps to run, in order: ``"all"`` (or None), one name, a comma-separated list or an iterable of
    names; the steps a named one needs are added (``"forecast"`` runs data, dataset, models, forecast)."""
    if steps is None:
        names: list[str] = list(STEPS)
    else:
        raw = steps.split(",") if isinstance(steps, str) else list(steps)
        names = [str(s).strip().lower() for s in raw if str(s).strip()]
        if not names or "all" in names:
            names = list(STEPS)
    unknown = [s for s in names if s not in STEPS]
    if unknown:
        raise ValidationError(f"unknown demo step(s) {', '.join(map(repr, unknown))}; use all or some of "
                              f"{', '.join(STEPS)}",
                              es=f"paso(s) desconocido(s) {', '.join(map(repr, unknown))}; use all o algunos de "
                                 f"{', '.join(STEPS)}")
    want = set(names)
    todo = list(want)
    while todo:
        for need in NEEDS.get(todo.pop(), ()):
            if need not in want:
                want.add(need)
                todo.append(need)
    return [s for s in STEPS if s in want]


def _month_add(ym: str, k: int) -> str:
    y, m = int(ym[:4]), int(ym[5:7])
    i = y * 12 + (m - 1) + k
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


def _last_full_year(by_year: list[dict[str, Any]]) -> int | None:
    """The last year whose events run from January to December (``store_summary``'s ``by_year``)."""
    full = [int(r["year"]) for r in by_year
            if str(r.get("from", ""))[:7] == f"{r['year']}-01" and str(r.get("to", ""))[:7] == f"{r['year']}-12"]
    return max(full) if full else None


def _num(v: Any) -> float | None:
    """A float, or None for NaN/missing (JSON-able)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def _fresh_store(store: Path, own: bool) -> None:
    """The model steps register models and the retraining adds months: they need a store without them.
    The demo's own store (``OUT/gridcrit.duckdb``) is replaced; another existing file is refused."""
    from gridcrit.data.store import files_dir

    if not store.exists():
        return
    if not own:
        raise ValidationError(
            f"{store} already exists; the walkthrough trains, registers and retrains models, so it needs a new "
            "store: remove it or give another --store (--steps data only ingests the twin into it)",
            es=f"{store} ya existe; el recorrido entrena, registra y reentrena modelos y necesita un almacén "
               "nuevo: bórrelo o indique otro --store (--steps data solo ingiere el gemelo en él)")
    for p in (store, store.with_name(store.name + ".wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(files_dir(store), ignore_errors=True)


class _Run:
    """State shared by the steps of one walkthrough."""

    def __init__(self, out: Path, store: Path, scale: str, seed: int, progress: bool, lang: str,
                 on_step: Callable[[str], None] | None):
        self.out, self.store, self.scale, self.seed = out, store, scale, seed
        self.progress, self.lang, self.on_step = progress, lang, on_step
        self.twin = out / "twin"
        self.res: dict[str, Any] = {}
        self.ds: Any = None
        self.trained: dict[str, dict[str, Any]] = {}

    @contextmanager
    def busy(self, key: str, **kw: Any) -> Iterator[None]:
        """A spinner on stderr for a step part without a progress bar of its own."""
        if not self.progress:
            yield
            return
        from gridcrit.cli.common import busy  # lazy: gridcrit.cli imports every CLI module

        with busy(False, _p(key, self.lang, **kw)):
            yield

    def header(self, i: int, n: int, step: str) -> None:
        if self.on_step is not None:
            self.on_step(step)
        if self.progress:
            from gridcrit.cli.common import err_console

            err_console.print(f"[bold][{i}/{n}][/bold] {_p(step, self.lang, n=LATER_MONTHS)}", highlight=False)

    # ------------------------------------------------------------------------------------- 1. data
    def data(self) -> dict[str, Any]:
        from gridcrit.data.ingest import ingest
        from gridcrit.data.summary import store_summary
        from gridcrit.data.synth import synthesize  # lazy: the twin is its own module

        t0 = time.perf_counter()
        syn = synthesize(self.twin, scale=self.scale, seed=self.seed, progress=self.progress)
        t1 = time.perf_counter()
        rep = ingest([self.twin], self.store, progress=self.progress)
        t2 = time.perf_counter()
        summary = store_summary(self.store)
        summary.update({
            "twin": str(self.twin), "synth_seconds": round(t1 - t0, 2), "ingest_seconds": round(t2 - t1, 2),
            "rows_added": rep.rows_added, "scale": self.scale, "seed": self.seed,
            "months": f"{syn.start}..{syn.end}", "assets": dict(syn.assets),
            "last_full_year": _last_full_year(summary["by_year"]),
        })
        return summary

    # ------------------------------------------------------------------------------ 2. reliability
    def reliability(self) -> dict[str, Any]:
        from gridcrit.reliability.indices import compute_indices

        with self.busy("indices"):
            full = compute_indices(self.store, by="system", period="year")
            excl = compute_indices(self.store, by="system", period="year", exclude_med=True)
        th = full.med.thresholds.set_index("year")
        fx, ex = full.frame.set_index("period"), excl.frame.set_index("period")
        years = []
        for p in fx.index:
            y = int(str(p)[:4])
            t = th.loc[y] if y in th.index else None
            years.append({
                "year": y, "months": int(fx.at[p, "months"]),
                "t_med_h": _num(t["t_med"]) if t is not None else None,
                "basis": str(t["basis"]) if t is not None else None,
                "n_med": int(t["n_med"]) if t is not None else 0,
                "SAIFI": _num(fx.at[p, "SAIFI"]), "SAIDI": _num(fx.at[p, "SAIDI"]),
                "SAIFI_excl_med": _num(ex.at[p, "SAIFI"]) if p in ex.index else None,
                "SAIDI_excl_med": _num(ex.at[p, "SAIDI"]) if p in ex.index else None,
            })
        full_years = [r["year"] for r in years if r["months"] == 12]
        last = max(full_years) if full_years else None
        days = full.med.days
        med_days = sorted(str(d) for d in days.loc[days["is_med"], "date"])
        return {"by": "system", "period": "year", "n_med": int(th["n_med"].sum()), "med_days": med_days,
                "years": years, "last_full_year": next((r for r in years if r["year"] == last), None),
                "method": "IEEE 1366 2.5β: T_MED = exp(α + 2.5β) of the log daily SAIDI of the 5 previous years"}

    # ---------------------------------------------------------------------------------- 3. dataset
    def dataset(self) -> dict[str, Any]:
        from gridcrit.features.dataset import build_dataset

        ds = build_dataset(self.store, level=LEVEL, period=PERIOD, progress=self.progress)
        self.ds = ds
        f = ds.frame
        periods = sorted(f["period"].astype(str).unique())
        y = f["y_" + TARGET]
        known = y.notna()
        groups = Counter((getattr(ds, "feature_groups", {}) or {}).get(c, "other") for c in ds.feature_columns)
        return {"level": LEVEL, "period": PERIOD, "rows": len(f), "assets": int(f["asset_id"].nunique()),
                "features": len(ds.feature_columns), "feature_groups": dict(sorted(groups.items())),
                "categorical": list(getattr(ds, "categorical_columns", [])),
                "periods": len(periods), "first_period": periods[0] if periods else None,
                "last_period": periods[-1] if periods else None,
                "targets": list(getattr(ds, "target_columns", [c for c in f.columns if str(c).startswith("y_")])),
                "share_rows_with_events": _num((y[known] > 0).mean()) if known.any() else None}

    # ----------------------------------------------------------------------------------- 4. models
    def models(self) -> dict[str, Any]:
        from gridcrit.models.train import train_model
        from gridcrit.registry.registry import Registry, slot_of
        from gridcrit.registry.retrain import register_trained  # the single place that registers a model

        ds = self.ds
        feats, cats = list(ds.feature_columns), list(getattr(ds, "categorical_columns", []))
        rows = []
        for name in MODELS:
            with self.busy("training", m=name):
                res = train_model(ds.frame, feats, TARGET, name, params=MODEL_PARAMS.get(name) or None,
                                  categorical=cats)
            version = register_trained(self.store, res, LEVEL, PERIOD, ds.frame)
            self.trained[name] = {"version": version, "model": res["model"]}
            m = res["metrics"]
            rows.append({
                "model": name, "version": version, "task": res["task"], "params": MODEL_PARAMS.get(name) or {},
                "train_s": round(m["train_s"], 2),
                "eval": {k: _num(m["eval"].get(k)) for k, _ in METRICS},
                "baseline_historical_mean": {k: _num(m["baseline_historical_mean"].get(k)) for k, _ in METRICS},
                "beats_baseline": {k: bool((m["eval"][k] > m["baseline_historical_mean"][k]) if hi
                                           else (m["eval"][k] < m["baseline_historical_mean"][k]))
                                   for k, hi in METRICS},
            })
        slot = slot_of(LEVEL, PERIOD, TARGET)
        champ = Registry(self.store).champion(slot)
        self.split = res["split"]
        return {"slot": slot, "target": "y_" + TARGET, "task": rows[0]["task"] if rows else None,
                "split": res["split"], "models": rows, "champion": champ["version"] if champ else None}

    # --------------------------------------------------------------------------------- 5. forecast
    def forecast(self, top: int = 10) -> dict[str, Any]:
        from gridcrit.registry.predict import predict

        with self.busy("predicting"):
            pr = predict(self.store, period="next")
        d = pr.to_dict(limit=top)
        return {"period": d["period"], "models": d["models"], "warnings": d["warnings"],
                "drivers_method": d["drivers_method"], "rows": d["rows"],
                "top": [{k: (_num(v) if isinstance(v, float) else v) for k, v in a.items()} for a in d["assets"]]}

    # ---------------------------------------------------------------------------------- 6. explain
    def explain(self, k: int = 10) -> dict[str, Any]:
        from gridcrit.explain.attribution import attribute
        from gridcrit.explain.stability import method_agreement
        from gridcrit.explain.truth import twin_check
        from gridcrit.models.compare import model_frame
        from gridcrit.registry.fingerprint import period_labels
        from gridcrit.registry.registry import Registry

        ds, reg = self.ds, Registry(self.store)
        champ = reg.load("champion", slot_of_demo())
        tabnet = self.trained.get("tabnet")
        feats = list(champ.meta["feature_schema"]["columns"])
        # the hold-out months of the model step: rows no model was fitted on
        first, last = self.split["test_periods"].split("..")
        per = period_labels(ds.frame["period"])
        rows = ds.frame[((per >= first) & (per <= last)).to_numpy()].reset_index(drop=True)
        # the columns as the models were fitted on them (train_model: categorical codes as pandas categories)
        X = model_frame(rows, feats, (champ.meta["feature_schema"] or {}).get("categorical") or [])
        keys = rows[["asset_id", "period"]].astype(str)
        groups = dict(getattr(ds, "feature_groups", {}) or {})
        atts = {}
        with self.busy("attributing", m=champ.meta["name"]):
            atts[champ.version] = attribute(champ.model, X)
        out: dict[str, Any] = {"rows": len(X), "periods": f"{first}..{last}"}

        def top_of(att: Any) -> list[dict[str, Any]]:
            order = np.argsort(-att.global_importance, kind="stable")[:k]
            return [{"feature": att.feature_names[j], "importance": float(att.global_importance[j]),
                     "group": groups.get(att.feature_names[j], "")} for j in order]

        c = atts[champ.version]
        out["champion"] = {"version": champ.version, "model": champ.meta["name"], "method": c.method,
                           "seconds": round(c.seconds, 2), "global": top_of(c)}
        if tabnet is not None and tabnet["version"] != champ.version:
            tm = reg.load(tabnet["version"], fallback=False)
            with self.busy("attributing", m="tabnet"):
                atts[tm.version] = attribute(tm.model, X)
            t = atts[tm.version]
            out["tabnet"] = {"version": tm.version, "method": t.method, "seconds": round(t.seconds, 2),
                             "global": top_of(t)}
            ag = method_agreement({f"{champ.version} {c.method}": c, f"{tm.version} {t.method}": t}, k=5)
            p = ag["pairs"][0]
            out["agreement"] = {"a": p["a"], "b": p["b"], "k": 5, "spearman": _num(p["spearman"]),
                                "topk_overlap": _num(p["topk_overlap"]), "rowwise_spearman": _num(p["rowwise_spearman"])}
        truth = {}
        with self.busy("truth"):
            for v, att in atts.items():
                model = champ.model if v == champ.version else reg.load(v, fallback=False).model
                tc = twin_check(att, keys, self.store, self.twin, getattr(ds, "card", {}), period=PERIOD,
                                prediction=np.asarray(model.predict(X), float))
                truth[v] = {
                    "method": att.method,
                    "share_on_true_drivers": _num(tc["share"]["any_true_driver"]),
                    "share_of_driver_columns": _num(tc["share"]["feature_share_of_driver_columns"]),
                    "topk": {kk: tc["topk"][kk] for kk in ("k", "n_asset_periods", "topk_hit_rate",
                                                           "global_ranking_hit_rate")},
                    "topk_critical": {kk: tc["topk_critical"][kk] for kk in ("k", "n_asset_periods", "topk_hit_rate",
                                                                             "global_ranking_hit_rate")},
                    "per_driver": {d: {**x, "hit_rate": x["hits"] / x["n"] if x["n"] else None}
                                   for d, x in tc["topk"]["per_driver"].items()},
                }
        out["truth"] = truth
        return out

    # -------------------------------------------------------------------------------- 7. assistant
    def assistant(self) -> dict[str, Any]:
        from gridcrit.assistant import Assistant

        data = self.res["data"]
        circuit = data["by_circuit"][0]["circuit"] if data.get("by_circuit") else None
        year = data.get("last_full_year") or (data["by_year"][-1]["year"] if data.get("by_year") else None)
        q = (f"¿cuántas interrupciones tuvo el circuito {circuit} en {year}?" if circuit and year
             else "¿cuántas interrupciones hubo en total?")
        with self.busy("asking"):
            a = Assistant(self.store).ask(q, lang=self.lang)
        return {"question": q, "kind": a.kind, "text": a.text, "sql": a.sql, "params": list(a.params),
                "columns": list(a.columns), "rows": [list(r) for r in a.rows[:10]], "backend": a.backend,
                "seconds": a.seconds}

    # ---------------------------------------------------------------------------------- 8. retrain
    def retrain(self) -> dict[str, Any]:
        from gridcrit.data.synth import synthesize
        from gridcrit.registry.retrain import retrain, summary_text

        end = self.res["data"]["months"].split("..")[-1]
        a, b = _month_add(end, 1), _month_add(end, LATER_MONTHS)
        later = self.out / "twin-later"
        synthesize(later, scale=self.scale, seed=self.seed, start=a, end=b, progress=self.progress)
        r = retrain(self.store, [later], mode=RETRAIN_MODE, progress=self.progress, lang=self.lang)
        d = r.to_dict()
        keep = ("base", "challenger", "mode", "how", "promoted", "forced", "champion_after", "slot", "margin",
                "primary_metric", "improvement", "metrics", "unseen_periods", "train_periods", "eval_periods",
                "report_dir", "rollback_hint", "nothing_new", "compared_with", "candidates")
        out = {k: d[k] for k in keep if k in d}
        out.update({"new_months": f"{a}..{b}", "twin_later": str(later),
                    "rows_added": (d["data_changes"].get("ingest") or {}).get("rows_added"),
                    "drift_summary": (d.get("drift") or {}).get("summary"),
                    "summary": summary_text(r, self.lang)})
        return out


def _store_summary(store: Path) -> dict[str, Any]:
    from gridcrit.data.summary import store_summary

    return store_summary(store)


def slot_of_demo() -> str:
    """The registry slot the walkthrough trains: ``transformer/month/saifi``."""
    from gridcrit.registry.registry import slot_of

    return slot_of(LEVEL, PERIOD, TARGET)


def next_commands(store: str | Path, steps: Iterable[str] = STEPS, year: int | None = None) -> list[dict[str, str]]:
    """Where to go from the walkthrough, for the steps that ran: ``[{"command": ..., "note": key}]``
    (``note`` names what the command shows; the CLI words it in the reader's language)."""
    s = str(store)
    ask = f'gridcrit ask "¿qué municipio tuvo el mayor SAIFI en {year or 2023}?" --store {s}'
    if "models" in steps:
        cmds = [(f"gridcrit serve --store {s}", "serve"),
                (f"gridcrit predict --period next --top 20 --store {s}", "predict"),
                (f"gridcrit explain --model champion --global --store {s} --out explain/", "explain"),
                (ask, "ask")]
    else:
        cmds = [(f"gridcrit indices --by circuit --period year --exclude-med --store {s}", "indices"),
                (f"gridcrit train --model lightgbm --target saifi --store {s}", "train"),
                (ask, "ask"), (f"gridcrit serve --store {s}", "serve")]
    cmds.append((f"gridcrit corpus add ../shared/data/regulations/*.pdf --store {s}", "corpus"))
    return [{"command": c, "note": n} for c, n in cmds]


def run_demo(out: str | Path = "gridcrit-demo", store: str | Path | None = None, scale: str = "small",
             seed: int = 0, steps: str | Iterable[str] | None = "all", progress: bool = True, lang: str = "es",
             on_step: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the walkthrough on a synthetic twin written to ``out`` and return each step's results.

    ``store``: the DuckDB store (default ``OUT/gridcrit.duckdb``). With the model steps the store must be
    new: the demo's own store is replaced, an existing ``store`` given explicitly is refused. ``steps``:
    see :func:`resolve_steps` (``"data"``: only synthesise, ingest and summarise, as the demo used to).
    ``progress``: progress bars and step headers on stderr. ``lang``: es | en (progress texts, the
    assistant's and the retraining summary's prose). ``on_step``: called with each step's name as it starts.
    """
    if lang not in ("es", "en"):
        raise ValidationError(f"unknown language {lang!r}; use es or en", es=f"idioma desconocido {lang!r}; use es o en")
    from gridcrit.data.synth import SCALES

    if scale not in SCALES:  # before anything is replaced
        raise ValidationError(f"scale: unknown scale {scale!r}; choose one of {', '.join(SCALES)}",
                              es=f"escala desconocida {scale!r}; elija una de {', '.join(SCALES)}")
    todo = resolve_steps(steps)
    out = Path(out)
    own_store = out / "gridcrit.duckdb"
    store = Path(store) if store is not None else own_store
    own = store.resolve() == own_store.resolve()
    if "models" in todo:
        _fresh_store(store, own)
    run = _Run(out, store, scale, seed, progress, lang, on_step)
    seconds: dict[str, float] = {}
    t_all = time.perf_counter()
    for i, step in enumerate(todo, 1):
        run.header(i, len(todo), step)
        t = time.perf_counter()
        result = getattr(run, step)()
        seconds[step] = round(time.perf_counter() - t, 2)
        run.res[step] = result
    data = run.res["data"]
    # the keys the demo has always printed describe the store as the walkthrough leaves it
    final = data if "retrain" not in todo else _store_summary(store)
    res: dict[str, Any] = {k: final[k] for k in ("store", "tables", "loads", "by_circuit", "by_year")}
    res.update({k: data[k] for k in ("twin", "synth_seconds", "ingest_seconds", "scale", "seed")})
    res["rows_added"] = data["rows_added"] + int((run.res.get("retrain") or {}).get("rows_added") or 0)
    res.update(run.res)
    res["steps"] = todo
    res["seconds"] = {**seconds, "total": round(time.perf_counter() - t_all, 2)}
    res["next"] = next_commands(store, todo, data.get("last_full_year"))
    res["lang"] = lang
    return res
