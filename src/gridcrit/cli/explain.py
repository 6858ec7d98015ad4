"""CLI commands of the explain stage (thin shell over `gridcrit.explain`).

``gridcrit explain --model VERSION [--asset CODE | --period P | --global] [--method M] [--lang es|en]
[--store S] [--out DIR] [--json] [--twin DIR] [--max-rows N]``
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from gridcrit.cli.common import JsonOpt, LangOpt, OutOpt, StoreOpt, busy, console, default_store, emit
from gridcrit.errors import NotFoundError, ValidationError


def _rows(frame, asset: str | None, period: str | None, max_rows: int, seed: int = 0):
    per = frame["period"].astype(str)
    if period is not None and period not in set(per):
        ps = sorted(set(per))
        raise NotFoundError(f"period {period!r} not in the dataset ({ps[0]}..{ps[-1]})" if ps else "dataset is empty",
                            es=f"el periodo {period!r} no está en el conjunto de datos ({ps[0]}..{ps[-1]})" if ps
                            else "el conjunto de datos está vacío")
    if asset is not None:
        mask = frame["asset_id"].astype(str) == asset
        if not mask.any():
            sample = ", ".join(sorted(frame["asset_id"].astype(str).unique())[:3])
            raise NotFoundError(f"asset {asset!r} is not in the dataset (e.g. {sample})",
                                es=f"el activo {asset!r} no está en el conjunto de datos (p. ej. {sample})")
        if period is not None:
            mask &= per == period
            if not mask.any():
                raise NotFoundError(f"asset {asset!r} has no row in period {period!r}",
                                    es=f"el activo {asset!r} no tiene fila en el periodo {period!r}")
        idx = np.where(mask.to_numpy())[0]
        return frame.iloc[idx], len(idx) - 1  # the explained row: the latest one of the asset
    sel = frame if period is None else frame[(per == period).to_numpy()]
    if len(sel) > max_rows:
        sel = sel.iloc[np.sort(np.random.default_rng(seed).permutation(len(sel))[:max_rows])]
    return sel, None


def _class_namer(target: str | None):
    """Class code -> what people call it: the risk classes are stored as 0..3 (Bajo … Muy Alto)."""
    from gridcrit.features.targets import RISK_LABELS

    def name(c: Any) -> str:
        s = str(c)
        if target in ("risk", "y_risk") and s.lstrip("-").isdigit() and 0 <= int(s) < len(RISK_LABELS):
            return RISK_LABELS[int(s)]
        return s

    return name


#: dataset builder ``(store, level, period) -> dataset``; None = ``build_dataset`` (tests swap in a fake)
DATASET_FN = None


def _dataset_for(store: Path, level: str, pkind: str, period: str | None, fn: Any) -> tuple[Any, str | None]:
    """The dataset to explain ``period`` from, and the period's label. ``"next"`` (or the next period's
    label) is the forecast: the dataset is extended by the period after the data, as ``gridcrit predict
    --period next`` does, so the explanation is of the very rows that forecast ranks."""
    from gridcrit.registry.predict import _last_event_label, _next_period_dataset
    from gridcrit.registry.retrain import default_dataset

    if fn is None:
        last = _last_event_label(store, pkind, required=period == "next") if period is not None else None
        if last is not None and (period == "next" or str(period) > last):
            return _next_period_dataset(store, level, pkind, last, str(period), None)
        return default_dataset(store, level, pkind), period
    ds = fn(store, level, pkind)
    if period is not None:
        labels = sorted(set(ds.frame["period"].astype(str)))
        if labels and (period == "next" or (period not in labels and period > labels[-1])):
            return _next_period_dataset(store, level, pkind, labels[-1], period, fn)
    return ds, period


def _risk_score(model: Any, X: Any) -> np.ndarray:
    """One number per row that ranks assets by predicted criticality: the prediction of a
    regression/count model, or the expected risk-class rank (Bajo 0 … Muy Alto 3) of a classifier."""
    from gridcrit.registry.predict import expected_class_rank

    if hasattr(model, "predict_proba") and getattr(model, "classes_", None) is not None:
        return expected_class_rank(model, model.predict_proba(X))
    return np.asarray(model.predict(X), float).reshape(len(X), -1).mean(axis=1)


def run_explain(store: Path, model: str, asset: str | None = None, period: str | None = None,
                method: str = "auto", lang: str = "es", out: Path | None = None, twin: Path | None = None,
                max_rows: int = 3000, k: int = 5, dataset_fn: Any = None,
                compare: str | None = None, slot: str | None = None) -> dict[str, Any]:
    """What ``gridcrit explain`` computes (importable for tests and the app)."""
    from gridcrit.explain.attribution import attribute
    from gridcrit.explain.local import check_lang, local_explanation
    from gridcrit.registry.registry import Registry

    check_lang(lang)
    if not Path(store).exists():
        raise NotFoundError(f"store {store} not found", es=f"no existe el almacén {store}")
    lm = Registry(store).load(model, slot=slot)
    meta = lm.meta
    ds, period = _dataset_for(store, meta["level"], meta["period"], period, dataset_fn or DATASET_FN or None)
    feats = list(meta["feature_schema"]["columns"])
    missing = [c for c in feats if c not in ds.frame.columns]
    if missing:
        raise ValidationError(f"model {lm.version} needs feature(s) the dataset lacks: {', '.join(missing[:5])}")
    rows, row = _rows(ds.frame, asset, period, max_rows)
    X = rows[feats].reset_index(drop=True)
    keys = rows[["asset_id", "period"]].astype(str).reset_index(drop=True)
    groups = dict(getattr(ds, "feature_groups", {}) or {})
    if out is not None or twin is not None:
        from gridcrit.explain.report import explain_rows

        others = {}
        if compare is not None:  # SHAP of another registered (tree) version on the same rows
            cm = Registry(store).load(compare, slot=lm.meta["slot"] if compare == "champion" else None)
            cfeats = list(cm.meta["feature_schema"]["columns"])
            if cfeats != feats:
                raise ValidationError(f"--compare {compare}: its features differ from {lm.version}'s")
            others[cm.version] = cm.model
        bundle = explain_rows(lm.model, X, keys, groups, method=method, version=lm.version, compare=others)
        att = bundle.main
    else:
        bundle, att = None, attribute(lm.model, X, method=method)
    top = np.argsort(-att.global_importance, kind="stable")[:k]
    name_of = _class_namer(meta.get("target"))
    res: dict[str, Any] = {
        "version": lm.version, "requested": model, "warning": lm.warning, "method": att.method,
        "rows": len(X), "seconds": att.seconds,
        "global": [{"feature": att.feature_names[j], "importance": float(att.global_importance[j]),
                    "group": groups.get(att.feature_names[j], "")} for j in top],
        "per_class": {name_of(c): [att.feature_names[j] for j in np.argsort(-v, kind="stable")[:k]]
                      for c, v in att.per_class.items()},
    }
    if att.masks is not None:
        res["steps"] = [[att.feature_names[j] for j in np.argsort(-m.mean(0), kind="stable")[:k]] for m in att.masks]
    if row is not None:
        task = meta.get("task")
        one = X.iloc[[row]]
        if task == "classification" and hasattr(lm.model, "predict_proba"):
            proba = np.asarray(lm.model.predict_proba(one), dtype=float)[0]
            label = np.asarray(lm.model.predict(one))[0]
            pred_row: Any = f"{name_of(label)} ({proba.max():.0%})"
        else:
            pred_row = float(np.asarray(lm.model.predict(one), dtype=float).reshape(-1)[0])
        loc = local_explanation(att, X, row, k=k, lang=lang, groups=groups,
                                header=f"{asset} {keys.iloc[row]['period']}:", prediction=pred_row, task=task)
        res["local"] = loc
        if att.masks is not None:
            res["local"]["steps"] = [[att.feature_names[j] for j in np.argsort(-m[row], kind="stable")[:3]]
                                     for m in att.masks]
    truth = None
    if twin is not None:
        from gridcrit.explain.truth import twin_check

        truth = twin_check(att, keys, store, twin, getattr(ds, "card", {}), period=meta["period"],
                           prediction=_risk_score(lm.model, X))
        res["truth"] = {"share": truth["share"], "topk": {k2: v for k2, v in truth["topk"].items() if k2 != "misses"}}
        if "topk_critical" in truth:
            res["truth"]["topk_critical"] = {k2: v for k2, v in truth["topk_critical"].items() if k2 != "misses"}
    if bundle is not None and out is not None:
        from gridcrit.explain.report import agreement, write_report

        if bundle.others:
            ag = agreement(bundle)
            res["agreement"] = {"methods": ag["methods"], "pairs": ag["pairs"]}
        res["report"] = str(write_report(bundle, out, lang=lang, truth=truth, focus=row))
    return res


_T = {
    "rows": {"es": "{n} filas", "en": "{n} rows"},
    "class": {"es": "clase", "en": "class"},
    "step": {"es": "paso", "en": "step"},
    "truth": {"es": "verdad del gemelo: el impulsor real está entre los {k} primeros en el {h:.1%} de {n} "
                    "activo-periodos (ranking global {g:.1%})",
              "en": "twin truth: the true driver is in the top {k} for {h:.1%} of {n} asset-periods "
                    "(global ranking {g:.1%})"},
    "report": {"es": "informe: {p}", "en": "report: {p}"},
}


def _human(res: dict[str, Any], lang: str = "es") -> None:
    def t(key: str, **kw: Any) -> str:
        return _T[key]["en" if lang == "en" else "es"].format(**kw)

    if res.get("warning"):
        console.print(f"[yellow]{res['warning']}[/yellow]")
    console.print(f"[bold]{res['version']}[/bold] · {res['method']} · {t('rows', n=res['rows'])}")
    for g in res["global"]:
        console.print(f"  {g['feature']:<36} {g['importance']:.3f}  {g['group']}")
    for c, fs in res.get("per_class", {}).items():
        console.print(f"  {t('class')} {c}: {', '.join(fs)}")
    for i, fs in enumerate(res.get("steps", [])):
        console.print(f"  {t('step')} {i + 1}: {', '.join(fs)}")
    if "local" in res:
        console.print(res["local"]["text"])
    if "truth" in res:
        tk = res["truth"]["topk"]
        console.print(t("truth", k=tk["k"], h=tk["topk_hit_rate"], n=tk["n_asset_periods"],
                        g=tk["global_ranking_hit_rate"]))
    if "report" in res:
        console.print(t("report", p=res["report"]), soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""

    @app.command("explain")
    def explain(
        model: Annotated[str, typer.Option("--model", help="Model version or 'champion' / versión del modelo.")],
        asset: Annotated[str | None, typer.Option("--asset", help="Asset code / código del activo.")] = None,
        period: Annotated[str | None, typer.Option(
            "--period", help="Period YYYY-MM; 'next': the forecast period after the data / periodo; "
                             "'next': el pronóstico.")] = None,
        global_: Annotated[bool, typer.Option("--global", help="Global importances / importancia global.")] = False,
        method: Annotated[str, typer.Option("--method", help="auto|tabnet|treeshap|ig|permutation")] = "auto",
        twin: Annotated[Path | None, typer.Option("--twin", help="Twin folder with truth.json to check against.")] = None,
        max_rows: Annotated[int, typer.Option("--max-rows", min=1, help="Rows sampled for global views.")] = 3000,
        compare: Annotated[str | None, typer.Option(
            "--compare", help="Tree model version whose SHAP the report compares with (--out).")] = None,
        slot: Annotated[str | None, typer.Option(
            "--slot", help="level/period/target of 'champion' when several slots have one, "
                           "e.g. switch/month/count / slot del campeón.")] = None,
        store: StoreOpt = default_store(),
        out: OutOpt = None,
        as_json: JsonOpt = False,
        lang: LangOpt = "es",
    ) -> None:
        """Explain a model: global, per class, per asset, TabNet steps / Explicar un modelo."""
        if global_ and asset is not None:
            raise ValidationError("--global and --asset exclude each other", es="--global y --asset se excluyen")
        with busy(as_json, "explicando…" if lang == "es" else "explaining…"):
            res = run_explain(store, model, asset=asset, period=period, method=method, lang=lang,
                              out=out, twin=twin, max_rows=max_rows, compare=compare, slot=slot)
        emit(res, as_json, lambda r: _human(r, lang))
