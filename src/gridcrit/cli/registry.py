"""CLI commands of the registry stage (thin shell over `gridcrit.registry`).

``gridcrit models list|show|promote|rollback|delete|verify``, ``gridcrit retrain`` and
``gridcrit predict``. Every command takes ``--store`` and ``--json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gridcrit.cli.common import (
    JsonOpt,
    LangOpt,
    OutOpt,
    StoreOpt,
    console,
    default_store,
    emit,
    err_console,
    translate,
)
from gridcrit.errors import ValidationError

SlotOpt = Annotated[str | None, typer.Option("--slot", help="level/period/target, e.g. transformer/month/saifi.")]

_T = {
    "models": {"es": "Modelos registrados", "en": "Registered models"},
    "lower": {"es": "{m} (menor es mejor)", "en": "{m} (lower is better)"},
    "higher": {"es": "{m} (mayor es mejor)", "en": "{m} (higher is better)"},
    "col_version": {"es": "versión", "en": "version"},
    "col_status": {"es": "estado", "en": "status"},
    "col_slot": {"es": "slot", "en": "slot"},
    "col_name": {"es": "modelo", "en": "model"},
    "col_parent": {"es": "padre", "en": "parent"},
    "col_metric": {"es": "métrica", "en": "metric"},
    "col_created": {"es": "creado", "en": "created"},
    "st_champion": {"es": "campeón", "en": "champion"},
    "st_candidate": {"es": "candidato", "en": "candidate"},
    "st_retired": {"es": "retirado", "en": "retired"},
    "none": {"es": "No hay modelos registrados en {s}.", "en": "No models registered in {s}."},
    "none_in": {"es": "No hay modelos en {s}. Slots con modelos: {a}.", "en": "No models in {s}. Slots with models: {a}."},
    "promoted": {"es": "{v} es ahora el campeón de {slot} (antes: {p}).", "en": "{v} is now the champion of {slot} (was: {p})."},
    "rolled": {"es": "Revertido: {v} vuelve a ser campeón de {slot} ({r} retirado).",
               "en": "Rolled back: {v} is champion of {slot} again ({r} retired)."},
    "deleted": {"es": "{v} eliminado.", "en": "{v} deleted."},
    "intact": {"es": "{v}: artefactos intactos ({n} archivos).", "en": "{v}: artefacts intact ({n} files)."},
    "warn": {"es": "Aviso", "en": "Warning"},
    "pred": {"es": "Activos de {p} ordenados por criticidad prevista (modelos: {m})",
             "en": "Assets of {p} ranked by predicted criticality (models: {m})"},
    "wrote": {"es": "Escrito {f} ({n} filas).", "en": "Wrote {f} ({n} rows)."},
    "report_out": {"es": "Informe copiado en {d}.", "en": "Report copied to {d}."},
    "drivers": {"es": "Factores principales (los que más suben la predicción):",
                "en": "Main drivers (those raising the prediction most):"},
}


def _t(key: str, lang: str, **kw: Any) -> str:
    return translate(_T, key, lang, **kw)


def _primary_parts(m: dict) -> tuple[str, float, str | None] | None:
    """(metric name, value, evaluation window) of the task's primary metric on the newest data the version
    was scored on: versions scored on different windows are not comparable, and the table must say so."""
    from gridcrit.registry.evaluate import recorded_primary

    met = m.get("metrics") or {}
    windows = {"eval": met.get("eval_periods") or ((m.get("data_fingerprint") or {}).get("split") or {}).get(
        "test_periods"), "latest_period": met.get("latest_periods")}
    for k in ("eval", "latest_period"):
        d = met.get(k)
        # a classifier registered before the RPS recorded macro-F1: shown by its own name, not as "-"
        name, _ = recorded_primary(m.get("task") or "regression", d)
        if isinstance(d, dict) and d.get(name) is not None:
            w = windows[k]
            if isinstance(w, list) and w:
                w = w[0] if len(w) == 1 else f"{w[0]}..{w[-1]}"
            if isinstance(w, str) and ".." in w:  # 2024-01..2024-06 -> 2024-01..06
                a, z = w.split("..", 1)
                w = f"{a}..{z[5:]}" if a[:5] == z[:5] else w
            return name, float(d[name]), w or None
    return None


def _primary(m: dict) -> str:
    """``"name value (window)"`` of :func:`_primary_parts`, or ``"-"``."""
    p = _primary_parts(m)
    return "-" if p is None else f"{p[0]} {p[1]:.4g}" + (f" ({p[2]})" if p[2] else "")


def _display_frame(df: Any) -> Any:
    """The predict table for people: risk classes by name (the data carry their codes 0..3)."""
    from gridcrit.features.targets import RISK_LABELS

    df = df.copy()
    for c in ("pred_risk", "actual_risk"):
        if c in df and df[c].dtype.kind in "iuf":
            codes = df[c]
            df[c] = [RISK_LABELS[int(v)] if v == v and 0 <= int(v) < len(RISK_LABELS) else "-" for v in codes]
    return df


def _copy_report(r: Any, out: Path, lang: str) -> None:
    """The retrain's report files into ``out`` (created), with ``summary.md`` in ``lang``."""
    import shutil

    from gridcrit.cli.common import to_json
    from gridcrit.registry.retrain import summary_text

    if out.exists() and not out.is_dir():
        raise ValidationError(f"--out {out}: expected a folder for the report files",
                              es=f"--out {out}: debe ser una carpeta para los archivos del informe")
    out.mkdir(parents=True, exist_ok=True)
    src = Path(r.report_dir) if r.report_dir else None
    if src is not None and src.is_dir():
        for f in src.iterdir():
            if f.is_file():
                shutil.copy2(f, out / f.name)
    (out / "summary.md").write_text(summary_text(r, lang), encoding="utf-8")
    (out / "summary.json").write_text(to_json(r.to_dict()), encoding="utf-8")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
    models = typer.Typer(help="Model registry: versions, champion, rollback / registro de modelos.",
                         no_args_is_help=True)

    @models.command("list")
    def list_cmd(store: StoreOpt = default_store(), status: Annotated[str | None, typer.Option(
            "--status", help="candidate | champion | retired")] = None, slot: SlotOpt = None,
            as_json: JsonOpt = False, lang: LangOpt = "es") -> None:
        """List model versions / lista las versiones."""
        from gridcrit.registry.registry import Registry

        reg = Registry(store)
        rows = reg.list(status=status, slot=slot)

        def human(rs: list[dict]) -> None:
            if not rs:
                slots = reg.slots() if (slot or status) else []
                if slots:  # models exist, just none matching the filter
                    console.print(_t("none_in", lang, s=slot or status, a=", ".join(slots)))
                else:
                    console.print(_t("none", lang, s=store))
                return
            # one table per slot, the slot in its title: a slot column does not fit 80 columns beside the
            # others (it was folded to a few letters per line)
            by_slot: dict[str, list[dict]] = {}
            for m in rs:
                by_slot.setdefault(m["slot"], []).append(m)
            for group in by_slot.values():
                console.print(_models_table(group, lang))

        emit(rows, as_json, human)

    @models.command("show")
    def show_cmd(version: Annotated[str, typer.Argument(help="VERSION or 'champion'.")],
                 store: StoreOpt = default_store(), slot: SlotOpt = None, as_json: JsonOpt = False) -> None:
        """Everything recorded about a version / todo sobre una versión."""
        from gridcrit.registry.registry import Registry

        meta = Registry(store).show(version, slot)

        def human(m: dict) -> None:
            from gridcrit.cli.common import to_json

            t = Table(title=f"{m['version']} ({m['status']})", show_header=False)
            for k in ("slot", "name", "task", "target", "parent_version", "created_at", "artefact_path", "notes"):
                t.add_row(k, str(m.get(k)))
            for k in ("params", "metrics", "data_fingerprint", "code_version", "checksums"):
                t.add_row(k, to_json(m.get(k))[:600])
            t.add_row("features", ", ".join((m.get("feature_schema") or {}).get("columns", []))[:600])
            t.add_row("events", "; ".join(f"{e['at']} {e['action']}" for e in m.get("events", [])))
            console.print(t)

        emit(meta, as_json, human)

    @models.command("promote")
    def promote_cmd(version: str, store: StoreOpt = default_store(), as_json: JsonOpt = False,
                    lang: LangOpt = "es") -> None:
        """Make VERSION the champion of its slot / promueve VERSION a campeón."""
        from gridcrit.registry.registry import Registry

        out = Registry(store).promote(version)
        emit(out, as_json, lambda o: console.print(_t("promoted", lang, v=o["champion"], slot=o["slot"],
                                                        p=o["previous"] or "-")))

    @models.command("rollback")
    def rollback_cmd(store: StoreOpt = default_store(), slot: SlotOpt = None, as_json: JsonOpt = False,
                     lang: LangOpt = "es") -> None:
        """Restore the previous champion / restaura el campeón anterior."""
        from gridcrit.registry.registry import Registry

        out = Registry(store).rollback(slot)
        emit(out, as_json, lambda o: console.print(_t("rolled", lang, v=o["champion"], slot=o["slot"],
                                                        r=o["rolled_back"])))

    @models.command("delete")
    def delete_cmd(version: str, store: StoreOpt = default_store(), as_json: JsonOpt = False,
                   lang: LangOpt = "es") -> None:
        """Delete a (non-champion) version and its files / elimina una versión."""
        from gridcrit.registry.registry import Registry

        out = Registry(store).delete(version)
        emit(out, as_json, lambda o: console.print(_t("deleted", lang, v=o["deleted"])))

    @models.command("verify")
    def verify_cmd(version: Annotated[str, typer.Argument()] = "champion", store: StoreOpt = default_store(),
                   slot: SlotOpt = None, as_json: JsonOpt = False, lang: LangOpt = "es") -> None:
        """Check the artefact checksums of a version / verifica los artefactos."""
        from gridcrit.registry.registry import IntegrityError, Registry

        reg = Registry(store)
        meta = reg.show(version, slot)
        problems = reg.verify(meta["version"])
        out = {"version": meta["version"], "ok": not problems, "problems": problems}
        if problems and not as_json:  # the one-line error below says it; never "intact" first
            for p in problems[1:20]:
                err_console.print(p, highlight=False, soft_wrap=True)
        else:
            emit(out, as_json, lambda o: console.print(_t("intact", lang, v=o["version"], n=len(meta["checksums"]))))
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            raise IntegrityError(problems[0] + more,
                                 es=problems[0] + (f" (+{len(problems) - 1} más)" if len(problems) > 1 else ""))

    app.add_typer(models, name="models")

    @app.command("retrain")
    def retrain_cmd(
        data: Annotated[list[Path] | None, typer.Option("--data", help="New export files or folders.")] = None,
        store: StoreOpt = default_store(),
        base: Annotated[str, typer.Option("--base", help="VERSION to start from (default: champion).")] = "champion",
        slot: SlotOpt = None,
        mode: Annotated[str, typer.Option("--mode", help="finetune | scratch | auto")] = "finetune",
        margin: Annotated[float, typer.Option("--margin", min=0.0, help="Relative improvement needed to promote.")] = 0.01,
        force: Annotated[bool, typer.Option("--force", help="Promote even if not better.")] = False,
        eval_periods: Annotated[int | None, typer.Option("--eval-periods", min=1, help="New periods held out (default: a third of them).")] = None,
        pretrain: Annotated[bool, typer.Option("--pretrain", help="TabNet: self-supervised pretraining first.")] = False,
        replay: Annotated[int, typer.Option("--replay", min=0, help="Old periods mixed into fine-tuning data.")] = 12,
        again: Annotated[bool, typer.Option(
            "--again", help="Train a challenger even when an earlier retrain of the same base already used "
                            "exactly these data / reentrenar aunque no haya datos nuevos.")] = False,
        rounds: Annotated[int | None, typer.Option("--rounds", min=1, help="Trees/epochs added when fine-tuning.")] = None,
        out: Annotated[Path | None, typer.Option(
            "--out", help="Folder to copy the retrain report into (summary.md/json in --lang, drift.md/html/json/png) "
                          "/ carpeta donde copiar el informe.")] = None,
        as_json: JsonOpt = False,
        lang: LangOpt = "es",
    ) -> None:
        """Ingest new exports, train a challenger, compare, report drift, promote if better.

        Ingiere exportaciones nuevas, entrena un retador, compara, informa la deriva y promueve si mejora.
        """
        import sys

        from gridcrit.registry.retrain import retrain, summary_text

        try:
            r = retrain(store, data or None, base=base, slot=slot, mode=mode, margin=margin, force=force,
                        eval_periods=eval_periods, pretrain=pretrain, replay=replay, rounds=rounds,
                        progress=not as_json, again=again, lang=lang)
        except ValidationError as e:  # the file:row:column list first, then the one-line reason
            for p in e.problem_lines(lang)[1:20]:
                sys.stderr.write(p + "\n")
            raise

        if out is not None:
            _copy_report(r, out, lang)

        def human(res) -> None:
            from rich.markdown import Markdown

            console.print(Markdown(summary_text(res, lang)))
            if out is not None:
                console.print(_t("report_out", lang, d=out), soft_wrap=True, markup=False)

        emit(r.to_dict() if as_json else r, as_json, human)

    @app.command("predict")
    def predict_cmd(
        model: Annotated[str, typer.Option("--model", help="champion or VERSION.")] = "champion",
        period: Annotated[str | None, typer.Option("--period", help="Period, e.g. 2024-06 (default: the latest, with actuals); 'next': the forecast of the period after the data / el próximo periodo.")] = None,
        store: StoreOpt = default_store(),
        slot: SlotOpt = None,
        top: Annotated[int, typer.Option("--top", min=0, help="Rows to show (table/JSON); 0: all.")] = 20,
        out: OutOpt = None,
        as_json: JsonOpt = False,
        lang: LangOpt = "es",
    ) -> None:
        """Assets ranked by predicted SAIFI/SAIDI/risk with their top drivers / activos por criticidad."""
        from gridcrit.registry.predict import predict

        res = predict(store, model, period, slot=slot)
        if out is not None:
            suffix = out.suffix.lower()
            if suffix == ".csv":
                res.frame.to_csv(out, index=False)
            elif suffix == ".parquet":
                res.frame.to_parquet(out, index=False)
            else:
                raise ValidationError(f"--out {out}: use a .csv or .parquet file name")
        for w in res.warnings:
            err_console.print(f"[yellow]{_t('warn', lang)}:[/yellow] {w}")

        def human(r) -> None:
            df = _display_frame(r.frame.head(top or None))
            # the period is in the title; on a narrow terminal the drivers go under the table, one line
            # per asset, instead of a column that squeezes every other one into unreadable slivers
            drivers = df.pop("drivers") if "drivers" in df and console.width < 140 else None
            df = df.drop(columns=["period"]) if "period" in df else df
            t = Table(title=_t("pred", lang, p=r.period, m=", ".join(f"{k}={v}" for k, v in r.models.items())))
            for c in df.columns:
                t.add_column(c, justify="right" if df[c].dtype.kind in "fi" else "left",
                             no_wrap=c in ("rank", "asset_id"), overflow="fold")
            for row in df.itertuples(index=False):
                t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
            console.print(t)
            if drivers is not None and drivers.astype(str).str.len().gt(0).any():
                console.print(_t("drivers", lang))
                for rank, asset, d in zip(df["rank"], df["asset_id"], drivers, strict=True):
                    console.print(f"  {rank}. {asset}: {d or '-'}", highlight=False)
            if out is not None:
                console.print(_t("wrote", lang, f=out, n=len(r.frame)), soft_wrap=True, markup=False)

        # --top applies to the table and the JSON alike ("rows" keeps the total; --out gets every row)
        emit(res.to_dict(limit=top or None) if as_json else res, as_json, human)


def _models_table(rs: list[dict], lang: str) -> Table:
    """The versions of one slot as a table that fits 80 columns: what all rows share (the slot, the
    metric's name) goes in the title, the parent only when some version has one, the metric's evaluation
    window under its value."""
    from gridcrit.registry.evaluate import higher_is_better

    t = Table(title=_t("models", lang))
    parents = any(m["parent_version"] for m in rs)
    metrics = [_primary_parts(m) for m in rs]
    names = sorted({p[0] for p in metrics if p is not None})
    one = names[0] if len(names) == 1 else None
    # each metric's direction (rps, rmse, deviance: lower is better; macro_f1: higher)
    ways = [_t("higher" if higher_is_better(n) else "lower", lang, m=n) for n in names]
    t.title = " · ".join([t.title, rs[0]["slot"], *ways])
    cols = ["version", "status", "name", *(["parent"] if parents else []), "metric", "created"]
    for c in cols:
        t.add_column(_t(f"col_{c}", lang), no_wrap=True, overflow="fold")
    for m, p in zip(rs, metrics, strict=True):
        style = "bold green" if m["status"] == "champion" else "dim" if m["status"] == "retired" else ""
        cell = _primary(m) if p is None or not one else f"{p[1]:.3g}" + (f" ({p[2]})" if p[2] else "")
        cell = cell.replace(" (", "\n(")  # the window under the value
        t.add_row(m["version"], _t(f"st_{m['status']}", lang), m["name"],
                  *([m["parent_version"] or "-"] if parents else []), cell, str(m["created_at"])[:10], style=style)
    return t
