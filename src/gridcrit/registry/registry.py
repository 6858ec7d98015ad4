"""Model registry inside the project store: versions, champions, history, checksummed artefacts.

Tables (in the DuckDB store, internal names start with ``_``)::

    _registry_models   one row per model version: what it predicts, how it was trained, on which data,
                       with which code, its metrics, its artefact files and their sha256, its status
    _registry_events   append-only history: register / promote / rollback / delete / retrain / integrity

Artefacts live in ``files_dir(store)/models/<version>/`` (a model directory with ``model.json``: the
model zoo's format, or :class:`gridcrit.registry.native.NativeGBDT`'s). The registry is generic: it
never looks inside the model beyond ``model.json``.

A *slot* is what a champion is champion of: ``<level>/<period>/<target>`` (e.g.
``transformer/month/saifi``). Each slot has at most one champion. Who is champion is derived from the
event history (promote pushes, rollback pops, delete removes) so ``rollback`` always restores the
champion that served before, even after several promotions.

Safety: every state change is one DuckDB transaction; artefact folders are written under a temporary
name and renamed into place just before commit (a crash leaves at most an orphan folder that no row
points to, which the next ``register`` removes). ``load`` verifies every checksum; a corrupted
champion is refused with a message naming the file, or — for ``"champion"`` — the previous intact
champion serves instead, with a warning.

Example::

    >>> reg = Registry("gridcrit.duckdb")                                  # doctest: +SKIP
    >>> v = reg.register(model, name="xgboost", task="regression", target="saifi")  # doctest: +SKIP
    >>> reg.promote(v); reg.load("champion").model.predict(X)              # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gridcrit.data.store import connect, files_dir
from gridcrit.errors import GridcritError, NotFoundError, ValidationError

STATUSES = ("candidate", "champion", "retired")

_MODELS_DDL = """CREATE TABLE IF NOT EXISTS _registry_models (
    version VARCHAR PRIMARY KEY, slot VARCHAR, name VARCHAR, task VARCHAR, target VARCHAR,
    level VARCHAR, period VARCHAR, params VARCHAR, metrics VARCHAR, feature_schema VARCHAR,
    data_fingerprint VARCHAR, code_version VARCHAR, parent_version VARCHAR, artefact_path VARCHAR,
    checksums VARCHAR, status VARCHAR, created_at TIMESTAMP, notes VARCHAR)"""
_EVENTS_DDL = """CREATE TABLE IF NOT EXISTS _registry_events (
    event_id BIGINT, "at" TIMESTAMP, action VARCHAR, version VARCHAR, slot VARCHAR, details VARCHAR)"""
_JSON_COLS = ("params", "metrics", "feature_schema", "data_fingerprint", "code_version", "checksums")


class IntegrityError(GridcritError):
    """A model artefact is missing or does not match its recorded checksum."""

    exit_code = 4


@dataclass
class LoadedModel:
    """A model loaded from the registry. ``version`` is the one that serves; ``warning`` says why it
    differs from the one asked for (corrupted champion -> previous champion)."""

    model: Any
    version: str
    meta: dict[str, Any]
    requested: str
    warning: str | None = None
    problems: list[str] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dir_checksums(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory`` keyed by its relative POSIX path."""
    return {p.relative_to(directory).as_posix(): sha256_file(p)
            for p in sorted(directory.rglob("*")) if p.is_file()}


def code_version() -> dict[str, Any]:
    """gridcrit's version and, when run from a git checkout, the commit (and whether it is dirty)."""
    from gridcrit import __version__

    out: dict[str, Any] = {"gridcrit": __version__, "git_commit": None}
    here = Path(__file__).resolve().parent
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if r.returncode == 0:
            out["git_commit"] = r.stdout.strip()
            # a model trained from uncommitted changes is not reproducible from the commit alone
            d = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "."], cwd=here.parent,
                               capture_output=True, timeout=10)
            out["git_dirty"] = d.returncode == 1 if d.returncode in (0, 1) else None
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def slot_of(level: str, period: str, target: str) -> str:
    return f"{level}/{period}/{target}"


def default_loader(directory: Path) -> Any:
    """Load a model directory: NativeGBDT's format directly, anything else through the model zoo."""
    meta = json.loads((directory / "model.json").read_text())
    from gridcrit.registry.native import FORMAT, NativeGBDT

    if meta.get("format") == FORMAT:
        return NativeGBDT.load(directory)
    try:
        from gridcrit.models.zoo import load_model
    except ImportError as e:  # pragma: no cover - the zoo is part of the package once it lands
        raise GridcritError(f"{directory}: model format needs gridcrit.models.zoo, which is not available") from e
    return load_model(directory)


class Registry:
    """The model registry of one store. Cheap to create; opens the store only while it works."""

    def __init__(self, store: str | Path, loader: Callable[[Path], Any] | None = None):
        self.store = Path(store)
        self.root = files_dir(self.store) / "models"
        self.loader = loader or default_loader

    # ------------------------------------------------------------------ plumbing
    def _con(self, read_only: bool = False):
        if read_only and self.store.exists():
            try:
                con = connect(self.store, read_only=True)
            except GridcritError as e:
                # another process writing the store holds its lock: say so (a writable connection would
                # fail the same way, with a message about writing); this process's own writable
                # connection, on the other hand, is one a read can use
                if "lock" in str(e.__cause__ or e).lower():
                    raise
                con = connect(self.store)
            tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
            if "_registry_models" in tables:
                return con
            con.close()
        con = connect(self.store)
        con.execute(_MODELS_DDL)
        con.execute(_EVENTS_DDL)
        return con

    @staticmethod
    def _row_to_dict(cols: list[str], row: tuple) -> dict[str, Any]:
        d = dict(zip(cols, row, strict=True))
        for c in _JSON_COLS:
            if d.get(c) is not None:
                d[c] = json.loads(d[c])
        if d.get("created_at") is not None:
            d["created_at"] = d["created_at"].isoformat(timespec="seconds")
        return d

    def _fetch(self, con, where: str = "", args: tuple = ()) -> list[dict[str, Any]]:
        cur = con.execute(f"SELECT * FROM _registry_models {where} ORDER BY version", args)
        cols = [c[0] for c in cur.description]
        return [self._row_to_dict(cols, r) for r in cur.fetchall()]

    def _events(self, con, slot: str | None = None) -> list[dict[str, Any]]:
        q = 'SELECT event_id, "at", action, version, slot, details FROM _registry_events'
        args: tuple = ()
        if slot is not None:
            q += " WHERE slot = ?"
            args = (slot,)
        rows = con.execute(q + " ORDER BY event_id", args).fetchall()
        return [{"event_id": r[0], "at": r[1].isoformat(timespec="seconds"), "action": r[2], "version": r[3],
                 "slot": r[4], "details": json.loads(r[5]) if r[5] else {}} for r in rows]

    def _add_event(self, con, action: str, version: str | None, slot: str | None, details: dict | None = None) -> int:
        eid = con.execute("SELECT coalesce(max(event_id), 0) + 1 FROM _registry_events").fetchall()[0][0]
        con.execute("INSERT INTO _registry_events VALUES (?, ?, ?, ?, ?, ?)",
                    (eid, datetime.now(), action, version, slot, json.dumps(details or {}, default=str)))
        return eid

    def _champion_stack(self, con, slot: str) -> list[str]:
        """Champions of ``slot`` in the order they served, derived from the history (top = current)."""
        stack: list[str] = []
        for e in self._events(con, slot):
            v = e["version"]
            if e["action"] == "promote":
                if v in stack:
                    stack.remove(v)
                stack.append(v)
            elif e["action"] == "rollback" and stack:
                stack.pop()
            elif e["action"] == "delete" and v in stack:
                stack.remove(v)
        return stack

    def _sync_status(self, con, slot: str) -> None:
        """Make the status column agree with the champion stack of ``slot``."""
        stack = self._champion_stack(con, slot)
        con.execute("UPDATE _registry_models SET status = 'retired' WHERE slot = ? AND status = 'champion'", (slot,))
        for v in stack[:-1]:
            con.execute("UPDATE _registry_models SET status = 'retired' WHERE version = ?", (v,))
        if stack:
            con.execute("UPDATE _registry_models SET status = 'champion' WHERE version = ?", (stack[-1],))

    def _transaction(self, fn: Callable[[Any], Any]) -> Any:
        con = self._con()
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                out = fn(con)
                con.execute("COMMIT")
                return out
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.close()

    def _next_version(self, con) -> str:
        nums = [0]
        for (v,) in con.execute(
            "SELECT version FROM _registry_models UNION SELECT version FROM _registry_events WHERE version IS NOT NULL"
        ).fetchall():
            if v and v.startswith("v") and v[1:].isdigit():
                nums.append(int(v[1:]))
        return f"v{max(nums) + 1:04d}"

    # ------------------------------------------------------------------ queries
    def list(self, status: str | None = None, slot: str | None = None) -> list[dict[str, Any]]:
        """All versions (optionally only one status or slot), oldest first."""
        con = self._con(read_only=True)
        try:
            where, args = [], []
            if status:
                where.append("status = ?")
                args.append(status)
            if slot:
                where.append("slot = ?")
                args.append(slot)
            return self._fetch(con, ("WHERE " + " AND ".join(where)) if where else "", tuple(args))
        finally:
            con.close()

    def slots(self) -> list[str]:
        return sorted({m["slot"] for m in self.list()})

    def _resolve_slot(self, con, slot: str | None) -> str:
        if slot is not None:
            if slot.count("/") != 2 or not all(slot.split("/")):
                known = sorted({r[0] for r in con.execute("SELECT DISTINCT slot FROM _registry_models").fetchall()})
                raise ValidationError(f"slot {slot!r} is not of the form level/period/target (e.g. "
                                      f"transformer/month/saifi); slots with models: {', '.join(known) or 'none'}",
                                      es=f"el slot {slot!r} no tiene la forma nivel/periodo/objetivo (p. ej. "
                                         f"transformer/month/saifi); slots con modelos: {', '.join(known) or 'ninguno'}")
            return slot
        slots = sorted({r[0] for r in con.execute(
            "SELECT DISTINCT slot FROM _registry_models WHERE status = 'champion'").fetchall()})
        if not slots:
            slots = sorted({r[0] for r in con.execute("SELECT DISTINCT slot FROM _registry_models").fetchall()})
        if len(slots) == 1:
            return slots[0]
        if not slots:
            raise NotFoundError(f"no models registered in {self.store}; train one with 'gridcrit train'",
                                es=f"no hay modelos registrados en {self.store}; entrene uno con 'gridcrit train'")
        raise GridcritError(f"several model slots have champions ({', '.join(slots)}); say which with --slot",
                            es=f"varios slots tienen campeón ({', '.join(slots)}); indique cuál con --slot")

    def show(self, version: str, slot: str | None = None) -> dict[str, Any]:
        """Everything recorded about ``version`` (or ``"champion"``), plus its history of events."""
        con = self._con(read_only=True)
        try:
            meta = self._get(con, version, slot)
            meta["events"] = [e for e in self._events(con) if e["version"] == meta["version"]]
            return meta
        finally:
            con.close()

    def _get(self, con, version: str, slot: str | None = None) -> dict[str, Any]:
        if version == "champion":
            s = self._resolve_slot(con, slot)
            stack = self._champion_stack(con, s)
            if not stack:
                has = con.execute("SELECT count(*) FROM _registry_models WHERE slot = ?", [s]).fetchone()[0]
                if not has:  # nothing to promote: say what to train, and which slots do have models
                    lv, pk, tg = s.split("/")
                    known = sorted({r[0] for r in con.execute("SELECT DISTINCT slot FROM _registry_models").fetchall()})
                    raise NotFoundError(
                        f"slot {s} has no models; train one with 'gridcrit train --level {lv} --period {pk} "
                        f"--target {tg}' (slots with models: {', '.join(known) or 'none'})",
                        es=f"el slot {s} no tiene modelos; entrene uno con 'gridcrit train --level {lv} --period {pk} "
                           f"--target {tg}' (slots con modelos: {', '.join(known) or 'ninguno'})")
                raise NotFoundError(f"slot {s} has no champion; promote one with 'gridcrit models promote VERSION'",
                                    es=f"el slot {s} no tiene campeón; promueva uno con 'gridcrit models promote VERSIÓN'")
            version = stack[-1]
        rows = self._fetch(con, "WHERE version = ?", (version,))
        if not rows:
            known = [r[0] for r in con.execute("SELECT version FROM _registry_models ORDER BY version").fetchall()]
            raise NotFoundError(f"model version {version!r} not found; known: {', '.join(known[-10:]) or 'none'}",
                                es=f"no existe la versión {version!r}; las hay: {', '.join(known[-10:]) or 'ninguna'}")
        return rows[0]

    def champion(self, slot: str | None = None) -> dict[str, Any] | None:
        """Metadata of the champion of ``slot`` (the only slot if None), or None."""
        con = self._con(read_only=True)
        try:
            try:
                return self._get(con, "champion", slot)
            except NotFoundError:
                return None
        finally:
            con.close()

    def history(self, version: str | None = None) -> list[dict[str, Any]]:
        con = self._con(read_only=True)
        try:
            ev = self._events(con)
            return [e for e in ev if version is None or e["version"] == version]
        finally:
            con.close()

    # ------------------------------------------------------------------ state changes
    def register(
        self,
        model: Any,
        *,
        name: str,
        task: str,
        target: str,
        level: str = "transformer",
        period: str = "month",
        params: dict | None = None,
        metrics: dict | None = None,
        feature_schema: dict | list | None = None,
        data_fingerprint: dict | None = None,
        parent: str | None = None,
        notes: str = "",
        promote: bool = False,
        extra_events: list[tuple[str, dict]] | None = None,
    ) -> str:
        """Store ``model`` (an object with ``save(dir)`` or a model directory) as a new version.

        With ``promote=True`` it becomes the champion of its slot in the same transaction.
        ``extra_events`` (action, details) are recorded in that transaction too (e.g. a retrain log).
        Returns the new version id.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_orphans()
        tmp = self.root / f".incoming-{uuid.uuid4().hex}"
        try:
            if isinstance(model, (str, Path)):
                src = Path(model)
                if not (src / "model.json").is_file():
                    raise NotFoundError(f"{src} is not a model directory (no model.json)")
                shutil.copytree(src, tmp)
            else:
                model.save(tmp)
            if not (tmp / "model.json").is_file():
                raise GridcritError(f"{type(model).__name__}.save() wrote no model.json")
            checksums = dir_checksums(tmp)
            if params is None and hasattr(model, "get_params"):
                params = {k: v for k, v in model.get_params().items() if isinstance(v, (int, float, str, bool, type(None)))}
            slot = slot_of(level, period, target)

            def tx(con):
                version = self._next_version(con)
                dest = self.root / version
                if parent is not None:
                    self._get(con, parent)  # must exist
                con.execute(
                    "INSERT INTO _registry_models VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (version, slot, name, task, target, level, period, json.dumps(params or {}, default=str),
                     json.dumps(metrics or {}, default=str), json.dumps(feature_schema or {}, default=str),
                     json.dumps(data_fingerprint or {}, default=str), json.dumps(code_version()), parent,
                     str(dest.relative_to(self.root.parent)), json.dumps(checksums), "candidate",
                     datetime.now(), notes),
                )
                self._add_event(con, "register", version, slot, {"parent": parent, "name": name})
                for action, details in extra_events or []:
                    self._add_event(con, action, version, slot, details)
                if dest.exists():  # an orphan left by a crash between rename and commit
                    shutil.rmtree(dest)
                tmp.rename(dest)  # just before commit; a failing transaction removes it (below)
                if promote:
                    self._promote(con, version, "registered with promote=True")
                return version

            try:
                version = self._transaction(tx)
            except BaseException:
                # the rename may have happened before a failing commit
                for d in self.root.glob("v*"):
                    if not self._known(d.name):
                        shutil.rmtree(d, ignore_errors=True)
                raise
            return version
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _known(self, version: str) -> bool:
        con = self._con(read_only=True)
        try:
            return bool(con.execute("SELECT count(*) FROM _registry_models WHERE version = ?", (version,)).fetchall()[0][0])
        finally:
            con.close()

    def _remove_orphans(self) -> None:
        """Remove artefact folders no registry row points to (left by a killed register/retrain)."""
        if not self.root.exists():
            return
        for d in self.root.iterdir():
            if d.name.startswith(".incoming-") or d.name.startswith(".deleted-") or (
                    d.is_dir() and d.name.startswith("v") and not self._known(d.name)):
                shutil.rmtree(d, ignore_errors=True)

    def _promote(self, con, version: str, reason: str) -> dict[str, Any]:
        meta = self._get(con, version)
        problems = self._verify_meta(meta)
        if problems:
            raise IntegrityError(f"refusing to promote {version}: {problems[0]}",
                                 es=f"no se promueve {version}: {problems[0]}")
        slot = meta["slot"]
        before = self._champion_stack(con, slot)
        previous = before[-1] if before else None
        if previous == version:
            raise GridcritError(f"{version} is already the champion of {slot}",
                                es=f"{version} ya es el campeón de {slot}")
        self._add_event(con, "promote", version, slot, {"previous": previous, "reason": reason})
        self._sync_status(con, slot)
        return {"slot": slot, "champion": version, "previous": previous}

    def promote(self, version: str, reason: str = "manual") -> dict[str, Any]:
        """Make ``version`` the champion of its slot (the old champion becomes retired)."""
        return self._transaction(lambda con: self._promote(con, version, reason))

    def rollback(self, slot: str | None = None, reason: str = "manual") -> dict[str, Any]:
        """Restore the champion that served before the current one."""

        def tx(con):
            s = self._resolve_slot(con, slot)
            stack = self._champion_stack(con, s)
            if len(stack) < 2:
                raise GridcritError(f"slot {s} has no previous champion to roll back to"
                                    + (f" (champion {stack[-1]})" if stack else ""),
                                    es=f"el slot {s} no tiene un campeón anterior al que volver"
                                    + (f" (campeón {stack[-1]})" if stack else ""))
            current, previous = stack[-1], stack[-2]
            self._add_event(con, "rollback", current, s, {"restored": previous, "reason": reason})
            self._sync_status(con, s)
            return {"slot": s, "rolled_back": current, "champion": previous}

        return self._transaction(tx)

    def delete(self, version: str) -> dict[str, Any]:
        """Remove a version and its artefacts. The serving champion cannot be deleted."""
        trash: list[Path] = []

        def tx(con):
            meta = self._get(con, version)
            if meta["status"] == "champion":
                raise GridcritError(f"{version} is the champion of {meta['slot']}; promote another version or "
                                    "roll back first",
                                    es=f"{version} es el campeón de {meta['slot']}; promueva otra versión o "
                                       "revierta primero")
            children = [r[0] for r in con.execute(
                "SELECT version FROM _registry_models WHERE parent_version = ?", (version,)).fetchall()]
            con.execute("DELETE FROM _registry_models WHERE version = ?", (version,))
            self._add_event(con, "delete", version, meta["slot"], {"meta": meta, "children": children})
            self._sync_status(con, meta["slot"])
            d = self.root / version
            if d.exists():
                t = self.root / f".deleted-{version}-{uuid.uuid4().hex[:8]}"
                d.rename(t)
                trash.append(t)
            return {"deleted": version, "slot": meta["slot"], "children_keep_parent_id": children}

        try:
            out = self._transaction(tx)
        except BaseException:
            for t in trash:  # put the artefacts back
                t.rename(self.root / version)
            raise
        for t in trash:
            shutil.rmtree(t, ignore_errors=True)
        return out

    def record(self, action: str, version: str | None, details: dict, slot: str | None = None) -> None:
        """Append an event (e.g. a retrain that promoted nothing, an integrity failure)."""
        self._transaction(lambda con: self._add_event(con, action, version, slot, details))

    # ------------------------------------------------------------------ artefacts
    def artefact_dir(self, meta: dict[str, Any]) -> Path:
        return self.root.parent / meta["artefact_path"]

    def _verify_meta(self, meta: dict[str, Any]) -> list[str]:
        d = self.artefact_dir(meta)
        problems = []
        for rel, expected in (meta.get("checksums") or {}).items():
            p = d / rel
            if not p.is_file():
                problems.append(f"artefact {p} of {meta['version']} is missing")
            else:
                got = sha256_file(p)
                if got != expected:
                    problems.append(f"artefact {p} of {meta['version']} is corrupted "
                                    f"(sha256 {got[:12]}…, recorded {expected[:12]}…)")
        if not meta.get("checksums"):
            problems.append(f"{meta['version']} has no recorded checksums")
        return problems

    def verify(self, version: str = "champion", slot: str | None = None) -> list[str]:
        """Problems with the artefacts of ``version`` (empty list: intact)."""
        con = self._con(read_only=True)
        try:
            return self._verify_meta(self._get(con, version, slot))
        finally:
            con.close()

    def load(self, version: str = "champion", slot: str | None = None, fallback: bool = True) -> LoadedModel:
        """Load a model after verifying every artefact checksum.

        A corrupted explicit version raises :class:`IntegrityError`. A corrupted ``"champion"`` raises
        too unless ``fallback``: then the most recent previous champion whose artefacts are intact
        serves, and ``LoadedModel.warning`` says so (the event is recorded when the store is writable).
        """
        con = self._con(read_only=True)
        try:
            meta = self._get(con, version, slot)
            problems = self._verify_meta(meta)
            if not problems:
                return LoadedModel(self._load_dir(meta), meta["version"], meta, version)
            if version != "champion" or not fallback:
                raise IntegrityError(problems[0] + "; the registry is unchanged. Restore the file, or "
                                     "'gridcrit models rollback' / promote an intact version")
            stack = self._champion_stack(con, meta["slot"])
            for v in reversed(stack[:-1]):
                prev = self._get(con, v)
                if not self._verify_meta(prev):
                    warning = (f"champion {meta['version']} failed its integrity check ({problems[0]}); "
                               f"serving previous champion {v} instead. Fix with 'gridcrit models rollback' "
                               f"or restore the file")
                    return LoadedModel(self._load_dir(prev), v, prev, version, warning, problems)
            raise IntegrityError(problems[0] + "; no intact previous champion to fall back to")
        finally:
            con.close()

    def _load_dir(self, meta: dict[str, Any]) -> Any:
        d = self.artefact_dir(meta)
        try:
            return self.loader(d)
        except GridcritError:
            raise
        except Exception as e:  # a loader failing on files that match their checksums
            raise IntegrityError(f"cannot load {meta['version']} from {d}: {type(e).__name__}: {e}") from e
