"""REST API of the dashboard: a thin, read-only layer over the Python API of every stage.

``create_app(store)`` returns a FastAPI app; ``gridcrit serve`` runs it with uvicorn on 127.0.0.1.

Routes (all GET unless said; JSON; errors are ``{"error": message, "type": class}`` with status 404 for
:class:`~gridcrit.errors.NotFoundError`, 422 for other :class:`~gridcrit.errors.GridcritError`, for
FastAPI's own parameter checks (with their ``detail``) and for a query parameter the route does not take,
503 while another process writes the store; the message in the language of ``?lang=`` (or the POST body's
``lang``) or ``Accept-Language`` when es/en, else English):

====================================  ============================================================
``/api/health``                       status, version, store path and whether it exists
``/api/store``                        tables (rows, first/last date), loads, months with events,
                                      SAIFI/SAIDI by year and by circuit (``data.summary``)
``/api/indices?by=&period=&exclude_med=``  ``reliability.indices.compute_indices(...).to_dict()``
``/api/assets/{code}/trace``          ``Topology.from_store(store).trace(code)`` (lists capped)
``/api/circuits``                     circuits of the latest snapshot
``/api/map/assets?circuit=&limit=``   coordinates of segments, transformers, switches, lightning,
                                      vegetation (capped per layer)
``/api/models``                       registered model versions (empty when none) and ``champions``:
                                      one ranking per level/period, transformers first
``/api/predict?model=&period=&slot=&limit=``  ``registry.predict.predict`` ranked assets with drivers
    (``period=next``: the forecast of the period after the data); ``/api/predict.csv``: all rows as CSV;
    ``model=champion`` needs ``slot=`` when champions of several levels/periods exist
``/api/explain?model=&asset=&period=&slot=&lang=``  global importances (over all assets, of ``period``
                                      when given) + local drivers of one asset; ``period=next`` (or
                                      its label): the forecast period; ``champion`` = the model the
                                      ranking leads with
``POST /api/ask {question, lang}``    ``assistant.Assistant.ask`` answer + citations + trace
``/``                                 the single-page dashboard (``static/``); plotly.js is served
                                      from the installed ``plotly`` package at ``/vendor/plotly.min.js``
====================================  ============================================================

Expensive objects (criticality datasets, the topology, index tables, the assistant) are cached per
store modification time, so a re-ingested store is picked up without restarting the server.

Example::

    >>> from fastapi.testclient import TestClient                    # doctest: +SKIP
    >>> c = TestClient(create_app("gridcrit.duckdb"))
    >>> c.get("/api/indices", params={"by": "circuit", "period": "year"}).json()["indices"][0]
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import Body, Depends, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from gridcrit import __version__
from gridcrit.errors import GridcritError, NotFoundError, ValidationError

STATIC = Path(str(files("gridcrit.app") / "static"))
#: items of long lists (downstream segments ...) returned by /api/assets/{code}/trace
TRACE_LIST_CAP = 500
#: most rows /api/explain may attribute in one request (attributions cost per row; a CHEC-size dataset
#: has millions of rows)
EXPLAIN_MAX_ROWS = 20000
#: order of the champions' levels in the dashboard (its default model: the first)
LEVEL_ORDER = ("transformer", "switch", "segment", "circuit")


def plotly_js_path() -> Path:
    """The plotly.js bundle shipped inside the installed ``plotly`` Python package (no CDN)."""
    import plotly

    p = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not p.exists():
        raise NotFoundError(f"plotly.min.js not found in the plotly package ({p}); reinstall plotly")
    return p


#: cache entries that are large and slow to build (a CHEC-size dataset: minutes, hundreds of MB)
HEAVY_KEYS = ("dataset", "topology", "assistant")


class _Cache:
    """A small LRU cache whose entries are dropped when the store file changes (mtime/size).

    One build per key at a time: a request that needs a value another request is already building
    waits for it instead of building it again (a CHEC-size dataset takes minutes; the Ranking, the
    map's predicted colours and the Explanations tab all ask for the same one).

    Heavy entries (:data:`HEAVY_KEYS`: datasets, the topology, the assistant; at most ``size``) and the
    light ones (JSON answers, rankings, explanations; at most ``light``) are evicted separately: with one
    LRU of 16, clicking through 16 assets' explanations evicted the dataset behind them all."""

    def __init__(self, store: Path, size: int = 8, light: int = 64):
        self.store, self.size, self.light = store, size, light
        self._d: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._building: dict[Any, threading.Lock] = {}

    def _current(self) -> tuple | None:
        try:
            st = self.store.stat()
            return (st.st_mtime_ns, st.st_size)
        except OSError:
            return None

    @staticmethod
    def _heavy(key: Any) -> bool:
        return isinstance(key, tuple) and bool(key) and key[0] in HEAVY_KEYS

    def _evict(self, heavy: bool) -> None:
        """Drop the least recently used entries of one kind (heavy / light) beyond its limit."""
        keys = [k for k in self._d if self._heavy(k) == heavy]  # oldest first
        for k in keys[: max(0, len(keys) - (self.size if heavy else self.light))]:
            del self._d[k]

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        stamp = self._current()
        with self._lock:
            if stamp != self._stamp:
                self._d.clear()
                self._stamp = stamp
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
            building = self._building.setdefault((stamp, key), threading.Lock())
        # outside the cache lock: a slow build must not block other routes, only those wanting this key
        with building:
            with self._lock:
                if stamp == self._stamp and key in self._d:  # built by the request we waited for
                    self._d.move_to_end(key)
                    return self._d[key]
            try:
                value = make()
            except BaseException:
                with self._lock:
                    self._building.pop((stamp, key), None)
                raise
            with self._lock:  # stored before the key stops being "in progress": no window for a 2nd build
                if stamp == self._stamp:
                    self._d[key] = value
                    self._evict(self._heavy(key))
                self._building.pop((stamp, key), None)
        return value


def _records(frame, limit: int | None = None) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-safe dicts (NaN → null, numpy → python, periods → str)."""
    import json

    f = frame if limit is None else frame.head(limit)
    # 15 decimals (pandas' default is 10: a transformer's SAIFI of 3.2e-8 came back as 0.0000000320,
    # and per-asset values of a CHEC-size network are that small)
    return json.loads(f.to_json(orient="records", date_format="iso", default_handler=str, double_precision=15))


def _jsonable(obj: Any) -> Any:
    """``obj`` with NaN → null and numpy/pandas/dates made JSON types (the CLI's ``--json`` rules)."""
    import json

    from gridcrit.cli.common import to_json

    return json.loads(to_json(obj))


def request_lang(request: Request) -> str:
    """Language a request asks for: ``?lang=es|en`` (or the ``lang`` of a POST body), else the first tag of
    ``Accept-Language`` when it is es or en (the dashboard sends its ES/EN choice there), else English
    (API clients, scripts)."""
    q = request.query_params.get("lang") or getattr(request.state, "lang", None)
    if q in ("es", "en"):
        return q
    first = request.headers.get("accept-language", "").split(",")[0].split(";")[0].strip().lower()
    return first[:2] if first[:2] in ("es", "en") else "en"


_PERIOD_RE = re.compile(r"^(\d{4}-(0[1-9]|1[0-2])|\d{4}-?Q[1-4]|next)$")


def _check_period(period: str | None) -> None:
    """A period as the dashboard's box takes it: YYYY-MM, YYYY-Qn or 'next' (anything else used to reach
    the registry and come back as 'beyond the data')."""
    if period is not None and not _PERIOD_RE.match(period):
        raise ValidationError(f"period {period!r} is not YYYY-MM (month), YYYY-Qn (quarter) or 'next'",
                              es=f"el periodo {period!r} no es AAAA-MM (mes), AAAA-Qn (trimestre) ni 'next'")


def champion_groups(store: Path) -> list[dict[str, Any]]:
    """Champions grouped by (level, period), transformers first: each group is one ranking (its targets
    side by side) led by ``slot`` (SAIFI, then SAIDI, count, risk), as ``registry.predict`` leads it."""
    from gridcrit.registry.predict import TARGET_ORDER
    from gridcrit.registry.registry import Registry

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in Registry(store).list(status="champion"):
        groups.setdefault((m["level"], m["period"]), []).append(m)

    def order(key: tuple[str, str]) -> tuple:
        lv, pk = key
        return (LEVEL_ORDER.index(lv) if lv in LEVEL_ORDER else len(LEVEL_ORDER), pk != "month", key)

    out = []
    for key in sorted(groups, key=order):
        ms = groups[key]
        lead = min(ms, key=lambda m: TARGET_ORDER.index(m["target"]) if m["target"] in TARGET_ORDER else 99)
        out.append({"level": key[0], "period": key[1], "slot": lead["slot"], "version": lead["version"],
                    "targets": {m["target"]: m["version"] for m in ms}})
    return out


def _lead_champion(store: Path, slot: str | None = None) -> str:
    """The version ``predict`` leads its table with: the champion of ``slot``, else — when all champions
    share one level and period — the SAIFI one (then SAIDI, count, risk), so that the Ranking and
    Explanations tabs show the same model. Raises the registry's own error when that is ambiguous."""
    from gridcrit.registry.predict import lead_slot
    from gridcrit.registry.registry import Registry

    reg = Registry(store)
    meta = reg.champion(lead_slot(reg, slot))
    if meta is None:
        raise NotFoundError(f"no champion{' in slot ' + slot if slot else ''}; promote one with 'gridcrit models promote'",
                            es=f"no hay campeón{' en el slot ' + slot if slot else ''}; promueva uno con "
                               "'gridcrit models promote'")
    return meta["version"]


def _known_params(request: Request) -> None:
    """Refuse query parameters a route does not take (``?perido=2023-05`` silently gave the latest period),
    naming the close match and the parameters it does take. ``lang`` is taken everywhere."""
    import difflib

    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None or not request.url.path.startswith("/api/"):
        return  # the page itself: ?lang=, ?circuit=, ?q= are read by the dashboard
    known = {p.alias for p in dependant.query_params} | {"lang"}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        close = {u: difflib.get_close_matches(u, sorted(known), n=1) for u in unknown}
        hint = "; ".join(f"{u!r}" + (f" (did you mean {c[0]!r}?)" if c else "") for u, c in close.items())
        hint_es = "; ".join(f"{u!r}" + (f" (¿quiso decir {c[0]!r}?)" if c else "") for u, c in close.items())
        names = ", ".join(sorted(known))
        raise ValidationError(f"unknown parameter {hint} for {request.url.path}; it takes: {names}",
                              es=f"parámetro desconocido {hint_es} en {request.url.path}; admite: {names}")


def _locked(exc: BaseException) -> bool:
    """True when the store could not be opened because another process holds its write lock."""
    import duckdb

    cause = exc.__cause__
    return isinstance(cause, duckdb.IOException) and "lock" in str(cause).lower()


def create_app(store: str | Path, lang: str = "es", allowed_hosts: Sequence[str] | None = None) -> FastAPI:
    """The dashboard app over the store at ``store`` (opened read-only per request). ``lang``: default
    language of the dashboard and of explanation/assistant prose (es | en). ``allowed_hosts``: the only
    ``Host`` headers answered (others get 400); ``gridcrit serve`` on loopback passes the loopback names, so
    a web page whose DNS name is re-bound to 127.0.0.1 cannot read the store through the browser."""
    if lang not in ("es", "en"):
        raise ValidationError(f"unknown language {lang!r}; use es or en")
    store = Path(store)
    cache = _Cache(store)
    app = FastAPI(title="gridcrit", version=__version__, docs_url="/api/docs", openapi_url="/api/openapi.json",
                  dependencies=[Depends(_known_params)])
    # plotly.js is 4.7 MB and the map layers, rankings and indices are JSON: ~5x smaller compressed
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)
    if allowed_hosts is not None:  # added last: runs first, before any work or compression
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.state.store = store
    app.state.lang = lang
    app.state.cache = cache

    @app.exception_handler(GridcritError)
    async def _gridcrit_error(request: Request, exc: GridcritError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFoundError) else 422
        # the message in the language the request asks for (the dashboard sends its own); English else
        lg = request_lang(request)
        body: dict[str, Any] = {"error": exc.text(lg), "type": type(exc).__name__}
        if _locked(exc):  # a writer (gridcrit ingest / train) holds the store: not the request's fault
            # (store.connect's message says so, with the writer's PID, in both languages)
            return JSONResponse(body, status_code=503, headers={"Retry-After": "30"})
        if isinstance(exc, ValidationError) and exc.problems:
            lines = exc.problem_lines(lg) if hasattr(exc, "problem_lines") else exc.problems
            body["problems"] = lines[:20]
        return JSONResponse(body, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _bad_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's own 422 (a limit of 0, a missing question ...) with the ``error`` line every other
        error has (the dashboard shows ``error``; it showed 'Unprocessable Entity')."""
        parts = []
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ())]
            where = ".".join(loc[1:]) if len(loc) > 1 else ".".join(loc) or "request"
            got = e.get("input")
            parts.append(f"{where}: {e.get('msg', 'invalid')}"
                         + (f" (got {got!r})" if loc[:1] == ["query"] and isinstance(got, str) else ""))
        msg = "; ".join(parts) or str(exc)
        text = f"parámetro no válido: {msg}" if request_lang(request) == "es" else f"invalid parameter: {msg}"
        return JSONResponse({"error": text, "type": "RequestValidationError",
                             "detail": jsonable_encoder(exc.errors())}, status_code=422)

    def _check_schema() -> bool:
        from gridcrit.app.queries import missing_tables

        missing = missing_tables(store)
        if missing:
            raise NotFoundError(f"{store} is not a gridcrit store (no {', '.join(missing)} table); create one with "
                                "'gridcrit ingest' or 'gridcrit demo'",
                                es=f"{store} no es un almacén de gridcrit (sin tabla {', '.join(missing)}); cree uno "
                                   "con 'gridcrit ingest' o 'gridcrit demo'")
        return True

    def need_store() -> Path:
        if not store.exists():
            raise NotFoundError(f"store {store} does not exist; create it with 'gridcrit ingest' or 'gridcrit demo'",
                                es=f"el almacén {store} no existe; créelo con 'gridcrit ingest' o 'gridcrit demo'")
        cache.get(("schema",), _check_schema)  # another DuckDB file answered 500s (no 'interrupciones')
        return store

    def dataset_fn(_store: Any, level: str, period: str, end: str | None = None) -> Any:
        from gridcrit.registry.retrain import default_dataset

        if end is not None:  # predict(period="next"): the dataset extended by the period after the data
            from gridcrit.features.dataset import build_dataset

            return cache.get(("dataset", level, period, end),
                             lambda: build_dataset(need_store(), level=level, period=period, end=end,
                                                   only_periods=[end]))
        return cache.get(("dataset", level, period), lambda: default_dataset(need_store(), level, period))

    def need_registry() -> None:
        from gridcrit.app.queries import has_registry

        # Registry() creates its tables when they are missing; the app must never write
        if not has_registry(need_store()):
            raise NotFoundError("no models registered in this store; train one with 'gridcrit train'",
                                es="no hay modelos registrados en este almacén; entrene uno con 'gridcrit train'")

    def champions() -> list[dict[str, Any]]:
        return cache.get(("champions",), lambda: champion_groups(store))

    def champion_slot(slot: str | None) -> str | None:
        """For ``model=champion``: a clear 422 naming ``slot=`` when champions of several levels/periods
        make 'the champion' ambiguous (the registry's message pointed at the CLI's --slot)."""
        groups = champions()
        if slot is None and len(groups) > 1:
            slots = ", ".join(g["slot"] for g in groups)
            raise ValidationError(f"champions of several levels/periods ({slots}): say which with slot= (e.g. "
                                  f"slot={groups[0]['slot']}) or ask for a version with model=",
                                  es=f"hay campeones de varios niveles/periodos ({slots}): indique cuál con slot= "
                                     f"(p. ej. slot={groups[0]['slot']}) o pida una versión con model=")
        return slot

    def model_meta(model: str, slot: str | None) -> dict[str, Any]:
        """The registry record of ``model`` (``champion``: the one the ranking leads with)."""
        from gridcrit.registry.registry import Registry

        if model == "champion":
            champion_slot(slot)
            model = _lead_champion(store, slot)
        return Registry(store).show(model)

    # ------------------------------------------------------------------ data
    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "store": str(store), "store_exists": store.exists(),
                "lang": lang}

    @app.get("/api/store")
    def store_overview(top: int = Query(20, ge=1, le=500)) -> dict[str, Any]:
        from gridcrit.app.queries import event_periods, network_counts
        from gridcrit.data.store import store_info
        from gridcrit.data.summary import reliability_summary

        def make() -> dict[str, Any]:
            info = store_info(need_store())
            out = {"store": str(store), "bytes": info["bytes"], "tables": info["tables"],
                   "counts": {k: v["rows"] for k, v in info["tables"].items()}, "loads": len(info["loads"]),
                   "periods": event_periods(store), "network": network_counts(store)}
            out.update(reliability_summary(store, top=top))
            return out

        return cache.get(("store", top), make)

    @app.get("/api/indices")
    def indices(
        by: str = Query("system", description="system | circuit | municipality | transformer | switch | segment"),
        period: str = Query("year", description="month | quarter | year"),
        exclude_med: bool = False,
        only_with_events: bool = False,
        limit: int | None = Query(None, ge=1),
    ) -> dict[str, Any]:
        from gridcrit.reliability.indices import compute_indices

        def make() -> dict[str, Any]:
            topo = topology() if by in ("switch", "segment") else None
            res = compute_indices(need_store(), by, period, exclude_med=exclude_med, topology=topo,
                                  only_with_events=only_with_events)
            d = res.to_dict()
            d["indices"] = _records(res.frame)
            return _jsonable(d)

        d = cache.get(("indices", by, period, exclude_med, only_with_events), make)
        return d if limit is None else {**d, "indices": d["indices"][:limit]}

    def topology() -> Any:
        from gridcrit.reliability.topology import Topology

        return cache.get(("topology",), lambda: Topology.from_store(need_store()))

    @app.get("/api/assets/{code}/trace")
    def trace(code: str, cap: int = Query(TRACE_LIST_CAP, ge=1)) -> dict[str, Any]:
        d = topology().trace(code).to_dict()
        for k in ("segments", "transformers"):
            d[f"{k}_truncated"] = len(d[k]) > cap
            d[k] = d[k][:cap]
        return _jsonable(d)

    @app.get("/api/circuits")
    def circuits() -> dict[str, Any]:
        from gridcrit.app.queries import circuits as q

        return {"circuits": cache.get(("circuits",), lambda: q(need_store()))}

    @app.get("/api/map/assets")
    def map_assets(circuit: str | None = None, limit: int = Query(4000, ge=1, le=50000)) -> dict[str, Any]:
        from gridcrit.app.queries import map_layers

        # JSON-cleaned once, inside the cache: the layers are the largest response
        d = cache.get(("map", circuit, limit), lambda: _jsonable(map_layers(need_store(), circuit, limit)))
        if circuit and not d["layers"].get("segments", {}).get("total"):
            raise NotFoundError(f"circuit {circuit!r} has no segments in the latest snapshot",
                                es=f"el circuito {circuit!r} no tiene tramos en la última foto de la red")
        return d

    # ------------------------------------------------------------------ models
    @app.get("/api/models")
    def models() -> dict[str, Any]:
        from gridcrit.app.queries import has_registry
        from gridcrit.registry.registry import Registry

        if not has_registry(need_store()):
            return {"models": [], "message": "no models registered; train one with 'gridcrit train'"}
        keep = ("version", "name", "task", "target", "level", "period", "status", "slot", "created_at", "metrics")
        # champions: one ranking per level/period (the dashboard's "champion" choices; the first is its default)
        return _jsonable({"models": [{k: m.get(k) for k in keep} for m in Registry(store).list()],
                          "champions": champions()})

    def predicted(model: str, period: str | None, slot: str | None) -> Any:
        from gridcrit.registry.predict import predict as run

        return cache.get(("predict", model, period, slot),
                         lambda: run(store, model=model, period=period, slot=slot, dataset_fn=dataset_fn))

    def checked(model: str, period: str | None, slot: str | None) -> str | None:
        """``period`` checked against the model's kind (month / quarter), after the champion is unambiguous."""
        from gridcrit.registry.predict import period_for_model

        _check_period(period)
        need_registry()
        if model == "champion":
            champion_slot(slot)
        if period is None or period == "next":
            return period
        return period_for_model(period, model_meta(model, slot))

    @app.get("/api/predict")
    def predict(model: str = "champion", period: str | None = None, slot: str | None = None,
                limit: int = Query(100, ge=1)) -> dict[str, Any]:
        period = checked(model, period, slot)
        res = predicted(model, period, slot)
        d = {"period": res.period, "models": res.models, "warnings": res.warnings,
             "drivers_method": res.drivers_method, "rows": len(res.frame), "assets": _records(res.frame, limit)}
        return _jsonable(d)

    @app.get("/api/predict.csv")
    def predict_csv(model: str = "champion", period: str | None = None, slot: str | None = None) -> Response:
        """The whole ranking of ``/api/predict`` (every asset, not ``limit``) as CSV, for a spreadsheet."""
        period = checked(model, period, slot)
        res = predicted(model, period, slot)
        name = f"gridcrit_ranking_{res.period}.csv"
        return Response(res.frame.to_csv(index=False), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/api/explain")
    def explain(model: str = "champion", asset: str | None = None, period: str | None = None, slot: str | None = None,
                lang_: str | None = Query(None, alias="lang"), k: int = Query(8, ge=1, le=50),
                max_rows: int = Query(2000, ge=10, le=EXPLAIN_MAX_ROWS)) -> dict[str, Any]:
        from gridcrit.cli.explain import run_explain

        _check_period(period)
        need_registry()
        ln = lang_ or lang
        if model == "champion":
            champion_slot(slot)
            model = _lead_champion(store, slot)
        dsfn = dataset_fn
        if period is not None:
            from gridcrit.registry.fingerprint import period_labels
            from gridcrit.registry.predict import period_for_model

            meta = model_meta(model, None)
            period = period_for_model(period, meta)
            base = dataset_fn(store, meta["level"], meta["period"])
            if period not in set(period_labels(base.frame["period"])):
                # 'next' or the forecast period's label (a row of the ranking's forecast): the dataset
                # extended by the period after the data, as /api/predict builds it (and its errors)
                period = predicted(model, period, None).period
                end = period
                dsfn = lambda s_, lv, pk: dataset_fn(s_, lv, pk, end=end)  # noqa: E731

        def run(a: str | None) -> dict[str, Any]:
            return cache.get(("explain", model, a, period, ln, k, max_rows),
                             lambda: run_explain(store, model, asset=a, period=period, lang=ln, k=k,
                                                 max_rows=max_rows, dataset_fn=dsfn))

        res = run(None)
        if asset is not None:
            # the global importances stay those of all assets (of the period): run_explain given an asset
            # computes them over that asset's rows only (one row when a period is given)
            one = run(asset)
            res = {**res, "local": one["local"]}
        return _jsonable(res)

    def warm() -> None:
        """Build what the first Ranking / Map / Explanations view asks for (the lead champion's ranking of
        the latest period, and so its dataset): ``gridcrit serve`` runs it in the background at start,
        since on a CHEC-size store that first build takes a minute or more."""
        from gridcrit.app.queries import has_registry

        try:
            if store.exists() and has_registry(store):
                # champions of several levels: the dashboard opens with the first (transformers)
                groups = champions()
                predicted("champion", None, groups[0]["slot"] if len(groups) > 1 else None)
        except GridcritError:  # no champion, a broken model ...: the routes will say so
            pass

    app.state.warm = warm

    # ------------------------------------------------------------------ assistant
    def assistant() -> Any:
        from gridcrit.assistant.ask import Assistant

        return cache.get(("assistant",), lambda: Assistant(need_store()))

    @app.post("/api/ask")
    def ask(request: Request, question: str = Body(..., embed=True),
            lang_: str | None = Body(None, alias="lang", embed=True)) -> dict[str, Any]:
        request.state.lang = lang_  # its errors in the language the body names (as ?lang= for GET routes)
        ans = assistant().ask(question, lang=lang_ or lang)
        d = ans.to_dict()
        d["rows"] = d["rows"][:200]
        return _jsonable(d)

    # ------------------------------------------------------------------ dashboard
    @app.get("/vendor/plotly.min.js")
    def plotly_js() -> Response:
        return FileResponse(plotly_js_path(), media_type="application/javascript",
                            headers={"Cache-Control": "max-age=86400"})

    @app.get("/")
    def index() -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
