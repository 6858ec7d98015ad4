"""IEEE 1366 reliability indices from the store: SAIFI, SAIDI, CAIDI, ASAI, MAIFI.

Computed from ``cnt_usus``, ``duracion_h`` and the customer base (:mod:`~gridcrit.reliability.customers`),
never from the per-row ``SAIFI``/``SAIDI`` columns (those are used only to check the result and as the
customer-base fallback). Definitions (``docs/reliability.md``):

- a row is **momentary** when its duration is ``<= 3 min`` (``duracion_h``, or ``fin - inicio`` when
  missing); other rows are **sustained**;
- per month m and group g with ``N_g(m)`` customers: ``SAIFI = Σ cnt_usus / N_g(m)``,
  ``SAIDI = Σ duracion_h·cnt_usus / N_g(m)`` (hours) over sustained rows, ``MAIFI = Σ cnt_usus / N_g(m)``
  over momentary rows; a quarter's or year's index is the **sum of its monthly indices** — exactly the
  utility's convention of summing per-row ``SAIFI = cnt_usus / N_total(month)``;
- ``CAIDI = SAIDI / SAIFI`` (hours), ``ASAI = 1 - SAIDI / hours in the period's months``;
- ``SAIFI_contrib`` / ``SAIDI_contrib``: the group's contribution to the system index (÷ ``N_total``);
  summed over the groups of a level they give the system index (for the rows the level covers);
- rows are attributed: circuit → ``cto_equi_ope`` (else the device's ``FPARENT``); municipality → the
  operated device's ``MUN`` (else its circuit's main municipality); transformer / switch / segment →
  ``equipo_ope`` when it is a code of that asset table;
- every row counts (the utility's row-sum convention): an event with several restoration steps adds the
  customers of each step, so customers still out after the first step are counted again in SAIFI (not
  in SAIDI: each row covers its own time interval). ``SAIFI_event`` counts each event's customers once
  per group (its largest sustained row), the IEEE 1366 reading. Such events are counted in
  ``report.info``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridcrit.errors import NotFoundError, ValidationError
from gridcrit.reliability.customers import (
    SYSTEM,
    downstream_customers,
    downstream_customers_by_snapshot,
    group_customers,
    has_usuarios,
    system_customers,
)
from gridcrit.reliability.med import MedResult, daily_saidi, major_event_days
from gridcrit.reliability.report import ProblemReport

LEVELS = ("system", "circuit", "municipality", "transformer", "switch", "segment")
PERIODS = ("month", "quarter", "year")
MOMENTARY_H = 3.0 / 60.0  # CREG / the export's tipo_duracion; IEEE 1366-2012 uses 5 min (momentary_minutes=5)
DEVICE_TABLE = {"transformer": "trafos", "switch": "switches", "segment": "redmt"}
INDEX_COLUMNS = ["SAIFI", "SAIDI", "CAIDI", "ASAI", "MAIFI", "SAIFI_contrib", "SAIDI_contrib"]


@dataclass
class IndicesResult:
    """``frame``: one row per group × period; ``report``: data problems; ``med``: the MED classification."""

    frame: pd.DataFrame
    report: ProblemReport
    by: str
    period: str
    exclude_med: bool
    med: MedResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, max_rows: int | None = None) -> dict[str, Any]:
        f = self.frame if max_rows is None else self.frame.head(max_rows)
        return {
            "by": self.by,
            "period": self.period,
            "exclude_med": self.exclude_med,
            "rows": len(self.frame),
            "indices": f.to_dict(orient="records"),
            "report": self.report.to_dict(),
            "med_thresholds": None if self.med is None else self.med.thresholds.to_dict(orient="records"),
        }


def check_momentary_minutes(minutes: Any) -> float:
    """The momentary threshold in minutes: a finite number > 0 (3 = CREG, 5 = IEEE 1366-2012)."""
    try:
        m = float(minutes)
    except (TypeError, ValueError):
        m = float("nan")
    if not np.isfinite(m) or m <= 0:
        raise ValidationError(
            f"momentary threshold {minutes!r}: must be a positive number of minutes (3 CREG, 5 IEEE 1366)",
            es=f"umbral de momentánea {minutes!r}: debe ser un número positivo de minutos (3 CREG, 5 IEEE 1366)",
        )
    return m


def load_events(con, unplanned_only: bool = False, momentary_minutes: float = MOMENTARY_H * 60) -> pd.DataFrame:
    """The ``interrupciones`` rows with derived columns: ``month`` ('YYYY-MM' of ``periodo``, else of
    ``inicio``), ``day``, ``dur_h``, ``momentary`` (duration ``<= momentary_minutes``), ``customer_hours``."""
    where = "WHERE tipo_causa = 'NP'" if unplanned_only else ""
    ev = con.execute(
        "SELECT evento, periodo, equipo_ope, tipo_equi_ope, cto_equi_ope, inicio, fin, duracion_h, "
        f"tipo_duracion, tipo_causa, cnt_usus, SAIFI, SAIDI FROM interrupciones {where}"
    ).df()
    per = pd.to_numeric(ev["periodo"], errors="coerce")
    ini = pd.to_datetime(ev["inicio"])
    up = per.dropna().unique()
    lut = {p: f"{int(p) // 100:04d}-{int(p) % 100:02d}" for p in up}
    month = per.map(lut).astype(object)
    miss = month.isna().to_numpy()
    if miss.any():
        month[miss] = ini[miss].dt.strftime("%Y-%m").astype(object)
    ev["month"] = month.to_numpy(dtype=object)
    ev["day"] = ini.dt.normalize()
    dur = pd.to_numeric(ev["duracion_h"], errors="coerce")
    if dur.isna().any():
        dur = dur.fillna((pd.to_datetime(ev["fin"]) - ini).dt.total_seconds() / 3600.0)
    ev["dur_missing"] = dur.isna().to_numpy()
    ev["dur_h"] = dur.fillna(0.0).to_numpy(dtype=np.float64)
    ev["cnt_usus"] = pd.to_numeric(ev["cnt_usus"], errors="coerce").fillna(0).to_numpy(dtype=np.float64)
    ev["momentary"] = (ev["dur_h"] <= momentary_minutes / 60.0 + 1e-9).to_numpy()
    ev["customer_hours"] = ev["dur_h"] * ev["cnt_usus"]
    ev["SAIFI"] = pd.to_numeric(ev["SAIFI"], errors="coerce")
    ev["SAIDI"] = pd.to_numeric(ev["SAIDI"], errors="coerce")
    return ev


def period_key(months: pd.Series, period: str) -> pd.Series:
    """'YYYY-MM' -> 'YYYY-MM' | 'YYYYQn' | 'YYYY'."""
    m = months.astype(str)
    if period == "month":
        return m
    if period == "year":
        return m.str[:4]
    q = (m.str[5:7].astype(int) - 1) // 3 + 1
    return m.str[:4] + "Q" + q.astype(str)


def _device_attrs(con, table: str, cols: tuple[str, ...]) -> pd.DataFrame:
    """Latest value of ``cols`` per CODE of an asset table, for the devices named in events only."""
    sel = ", ".join(f'arg_max("{c}", FECHA) AS "{c}"' for c in cols)
    return con.execute(
        f'SELECT CAST(CODE AS VARCHAR) AS CODE, {sel} FROM "{table}" '
        "WHERE CODE IN (SELECT DISTINCT equipo_ope FROM interrupciones) GROUP BY 1"
    ).df()


def _all_codes(con) -> pd.DataFrame:
    """CODE -> kind (transformer / switch / segment / circuit) for every device named in events.

    Devices are first looked up in each table's latest snapshot (cheap: one snapshot); only those not
    found there are looked up in all snapshots (assets removed before the latest month)."""
    dev = con.execute(
        "SELECT DISTINCT CAST(equipo_ope AS VARCHAR) AS c FROM interrupciones WHERE equipo_ope IS NOT NULL"
    ).df()
    spec = (("transformer", "trafos", "CODE"), ("switch", "switches", "CODE"), ("segment", "redmt", "CODE"),
            ("circuit", "redmt", "FPARENT"))
    parts: list[pd.DataFrame] = []

    def look(devices: pd.DataFrame, latest: bool) -> None:
        con.register("_gc_dev", devices)
        try:
            for kind, table, col in spec:
                params: list = []
                when = ""
                if latest:  # a literal date lets DuckDB skip the other snapshots' row groups
                    when, params = "AND FECHA = ?", [con.execute(f'SELECT max(FECHA) FROM "{table}"').fetchone()[0]]
                d = con.execute(
                    f'SELECT DISTINCT CAST("{col}" AS VARCHAR) AS CODE FROM "{table}" '
                    f'WHERE "{col}" IN (SELECT c FROM _gc_dev) {when}',
                    params,
                ).df()
                d["kind"] = kind
                parts.append(d)
        finally:
            con.unregister("_gc_dev")

    look(dev, latest=True)
    found = set(pd.concat(parts)["CODE"]) if parts else set()
    rest = dev[~dev["c"].isin(found)]
    if len(rest):
        look(rest, latest=False)
    out = pd.concat(parts, ignore_index=True).drop_duplicates()
    return out.astype({"CODE": object, "kind": object})


def _isin(values: pd.Series, codes: Any) -> np.ndarray:
    """Fast membership test (pandas' Arrow-string isin is slow on large sets)."""
    idx = pd.Index(pd.unique(np.asarray(list(codes), dtype=object)))
    return idx.get_indexer(values.to_numpy(dtype=object)) >= 0


def _attribute(con, ev: pd.DataFrame, by: str, codes: pd.DataFrame, report: ProblemReport) -> pd.Series:
    """Group of each event row for level ``by`` (NaN: the row belongs to no group of that level)."""
    dev = ev["equipo_ope"].astype("string")
    if by == "system":
        return pd.Series(SYSTEM, index=ev.index, dtype=object)
    if by in DEVICE_TABLE:
        g = dev.where(_isin(ev["equipo_ope"].astype(object), codes.loc[codes["kind"] == by, "CODE"]))
        report.info["rows_of_other_levels"] = int(g.isna().sum())
        return g.astype(object)
    circ = ev["cto_equi_ope"].astype("string")
    if by == "circuit":
        miss = circ.isna()
        if miss.any():
            fp = pd.concat([_device_attrs(con, t, ("FPARENT",)) for t in DEVICE_TABLE.values()]).drop_duplicates("CODE")
            circ = circ.where(~miss, dev.map(fp.set_index("CODE")["FPARENT"]).astype("string"))
        return circ.astype(object)
    # municipality: the operated device's MUN, else the main municipality of its circuit
    mun = pd.concat(
        [_device_attrs(con, t, ("MUN",)) for t in ("trafos", "switches", "redmt")]
    ).dropna(subset=["MUN"]).drop_duplicates("CODE")
    g = dev.map(mun.set_index("CODE")["MUN"]).astype("string")
    cm = con.execute(
        "SELECT CAST(FPARENT AS VARCHAR) AS c, arg_max(MUN, n) AS MUN FROM (SELECT FPARENT, MUN, "
        "sum(coalesce(USUARIOS, 1)) AS n FROM trafos WHERE MUN IS NOT NULL GROUP BY 1, 2) GROUP BY 1"
    ).df()
    g = g.where(g.notna(), circ.map(cm.set_index("c")["MUN"]).astype("string"))
    return g.astype(object)


def compute_indices(
    store: Any,
    by: str = "system",
    period: str = "month",
    *,
    exclude_med: bool = False,
    topology: Any = None,
    only_with_events: bool = False,
    unplanned_only: bool = False,
    momentary_minutes: float = MOMENTARY_H * 60,
) -> IndicesResult:
    """SAIFI, SAIDI, CAIDI, ASAI, MAIFI and contributions for every group of level ``by`` and period.

    ``store``: path or open DuckDB connection. ``exclude_med``: drop rows that start on an IEEE 1366
    major event day. ``topology``: a :class:`~gridcrit.reliability.topology.Topology` for switch/segment
    customer bases (default: built from the store's latest snapshot). ``only_with_events``: keep only
    group-periods with at least one row (default: every group with customers, zeros included).
    Months covered: from the first to the last month with events. ``momentary_minutes``: rows lasting
    at most this long are momentary (MAIFI, not SAIFI/SAIDI): 3 (default) is CREG's threshold and the
    export's ``tipo_duracion``; IEEE 1366-2012 uses 5.
    """
    if by not in LEVELS:
        raise ValidationError(f"unknown level {by!r}; use one of {', '.join(LEVELS)}",
                              es=f"nivel desconocido {by!r}; use uno de {', '.join(LEVELS)}")
    if period not in PERIODS:
        raise ValidationError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}",
                              es=f"periodo desconocido {period!r}; use uno de {', '.join(PERIODS)}")
    momentary_minutes = check_momentary_minutes(momentary_minutes)
    from gridcrit.reliability.topology import _connection

    con, close = _connection(store)
    try:
        return _compute(con, by, period, exclude_med, topology, only_with_events, unplanned_only, momentary_minutes)
    finally:
        if close:
            con.close()


def _compute(con, by, period, exclude_med, topology, only_with_events, unplanned_only,
             momentary_minutes=MOMENTARY_H * 60) -> IndicesResult:
    report = ProblemReport()
    ev = load_events(con, unplanned_only, momentary_minutes)
    if ev.empty:
        np_en, np_es = (" with tipo_causa = 'NP'", " con tipo_causa = 'NP'") if unplanned_only else ("", "")
        raise NotFoundError(f"the store has no interrupciones rows{np_en}; ingest them first",
                            es=f"el almacén no tiene filas de interrupciones{np_es}; ingréselas primero")
    report.info["rows"] = len(ev)
    report.info["momentary_minutes"] = momentary_minutes
    n_total = system_customers(con, ev, report)

    # ---- facts about the rows (never silently dropped)
    no_base = pd.Series(~_isin(ev["month"], n_total.index[n_total > 0]), index=ev.index)
    report.add(
        "rows_in_months_without_customers",
        [f"{e}@{m}" for e, m in zip(ev.loc[no_base, "evento"].head(5), ev.loc[no_base, "month"].head(5), strict=True)],
        "filas de meses sin base de usuarios del sistema (índices de esos meses: NaN)",
        "rows in months without a system customer base (those months' indices: NaN)",
        count=int(no_base.sum()),
        weight={"customer_interruptions": float(ev.loc[no_base, "cnt_usus"].sum())},
    )
    codes = _all_codes(con)
    unknown = ~_isin(ev["equipo_ope"].astype(object), codes["CODE"])
    unknown |= ev["equipo_ope"].isna().to_numpy()
    report.add(
        "events_unknown_device",
        [f"{e}:{d}" for e, d in zip(ev.loc[unknown, "evento"].head(5), ev.loc[unknown, "equipo_ope"].head(5), strict=True)],
        "filas cuyo equipo_ope no es un código de trafos, switches, redmt ni un circuito "
        "(cuentan en el sistema; sin grupo en niveles de equipo)",
        "rows whose equipo_ope is not a trafos/switches/redmt code nor a circuit "
        "(counted at system level; no group at device levels)",
        count=int(unknown.sum()),
        weight={"customer_interruptions": float(ev.loc[unknown, "cnt_usus"].sum())},
    )
    tipo = ev["tipo_duracion"].astype("string").str.replace(" ", "")
    # the export's class is at 3 min: compared with the duration class at that threshold
    momentary_3 = ev["dur_h"] <= MOMENTARY_H + 1e-9
    disagree = tipo.notna() & ((tipo == "<=3min") != momentary_3)
    report.add(
        "tipo_duracion_disagrees",
        ev.loc[disagree.fillna(False).to_numpy(dtype=bool), "evento"].head(5),
        "filas cuyo tipo_duracion no coincide con su duración (se usa la duración, umbral 3 min)",
        "rows whose tipo_duracion disagrees with their duration (the duration is used, 3 min threshold)",
        count=int(disagree.fillna(False).sum()),
        severity="info",
    )
    nodur = ev["dur_missing"].to_numpy(dtype=bool)
    report.add(
        "rows_without_duration",
        ev.loc[nodur, "evento"].head(5),
        "filas sin duracion_h ni fin: duración desconocida, contadas como momentáneas (MAIFI, no SAIFI/SAIDI)",
        "rows without duracion_h or fin: unknown duration, counted as momentary (MAIFI, not SAIFI/SAIDI)",
        count=int(nodur.sum()),
        weight={"customer_interruptions": float(ev.loc[nodur, "cnt_usus"].sum())},
    )
    per_event = ev.groupby("evento")["cnt_usus"].agg(["size", "sum"])
    multi = per_event[per_event["size"] > 1]
    report.info["events"] = len(per_event)
    report.info["events_with_several_rows"] = len(multi)
    report.info["share_of_customer_interruptions_in_multi_row_events"] = (
        float(multi["sum"].sum() / per_event["sum"].sum()) if per_event["sum"].sum() else 0.0
    )
    report.info["momentary_rows"] = int(ev["momentary"].sum())

    months_range = _month_range(ev["month"].dropna())  # before MED exclusion: the full data window
    if period != "month" and months_range:
        span = {"quarter": 3, "year": 12}[period]
        n_in = pd.Series(period_key(pd.Series(months_range, dtype=object), period)).value_counts()
        partial = sorted(str(p) for p, n in n_in.items() if n < span)
        report.add(
            "periods_incomplete",
            [f"{p} ({int(n_in[p])}/{span})" for p in partial],
            f"periodos con menos de {span} meses de datos (índices no comparables con un periodo completo; "
            "ver la columna months)",
            f"periods with fewer than {span} months of data (indices not comparable with a full period; "
            "see the months column)",
        )

    # ---- major event days
    med = None
    if len(n_total):
        med = major_event_days(daily_saidi(ev[~no_base], n_total), report=report)
        report.info["med_days"] = int(med.days["is_med"].sum())
        if exclude_med:
            on_med = ev["day"].isin(pd.to_datetime(sorted(med.med_dates))).to_numpy()
            report.info["rows_excluded_med"] = int(on_med.sum())
            report.info["customer_interruptions_excluded_med"] = float(ev.loc[on_med, "cnt_usus"].sum())
            ev = ev[~on_med]

    # ---- customers of each group per month
    if by == "system":
        cust = pd.DataFrame({"group": SYSTEM, "month": n_total.index.astype(str), "customers": n_total.to_numpy()})
    elif by in ("switch", "segment"):
        if not has_usuarios(con):
            cust = _empty_cust()
        elif topology is None:  # each month with its own network version
            cust = downstream_customers_by_snapshot(con, by, report)
        else:
            report.info["topology_snapshot"] = getattr(topology, "snapshot", None)
            cust = downstream_customers(con, topology, by, report)
    else:
        cust = group_customers(con, by) if has_usuarios(con) else _empty_cust()
    if by != "system" and not has_usuarios(con):
        report.add(
            "no_customer_base_for_groups",
            [by],
            "trafos sin USUARIOS: índices por grupo no calculables (solo contribuciones al sistema)",
            "trafos without USUARIOS: per-group indices cannot be computed (system contributions only)",
        )

    # ---- aggregate rows per group × month
    ev = ev.assign(group=_attribute(con, ev, by, codes, report))
    unattributed = ev["group"].isna()
    if by in ("circuit", "municipality"):
        report.add(
            f"rows_without_{by}",
            ev.loc[unattributed, "evento"].head(5),
            f"filas sin {'circuito' if by == 'circuit' else 'municipio'} identificable (solo en el índice del sistema)",
            f"rows without an identifiable {by} (only in the system index)",
            count=int(unattributed.sum()),
            weight={"customer_interruptions": float(ev.loc[unattributed, "cnt_usus"].sum())},
        )
    ev = ev[~unattributed]
    out = _aggregate(ev, cust, n_total, months_range, period, by, report)
    if only_with_events:
        out = out[out["rows"] > 0].reset_index(drop=True)
    report.info["groups"] = int(out["group"].nunique())
    return IndicesResult(frame=out, report=report, by=by, period=period, exclude_med=exclude_med, med=med)


def _month_range(months: pd.Series) -> list[str]:
    u = [str(x) for x in pd.unique(months.to_numpy(dtype=object))]
    if not u:
        return []
    return [str(x) for x in pd.period_range(min(u), max(u), freq="M")]


def _empty_cust() -> pd.DataFrame:
    return pd.DataFrame({"group": pd.Series([], dtype=object), "month": pd.Series([], dtype=object),
                         "customers": pd.Series([], dtype=np.float64)})


def write_frame(frame: pd.DataFrame, out: str | Path) -> Path:
    """Write ``frame`` as Parquet (``.parquet``) or CSV (``.csv``)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        frame.to_parquet(out, index=False)
    elif out.suffix.lower() == ".csv":
        frame.to_csv(out, index=False)
    else:
        raise ValidationError(f"--out {out}: use a .parquet or .csv file name")
    return out


def _aggregate(
    ev: pd.DataFrame, cust: pd.DataFrame, n_total: pd.Series, months: list[str], period: str, by: str,
    report: ProblemReport,
) -> pd.DataFrame:
    """Group × month grids (numpy) -> group × period table. Period values are sums of monthly indices."""
    M = pd.Index(months)
    nM = len(M)
    groups = pd.Index(sorted(set(cust["group"].astype(str).unique()) | set(ev["group"].astype(str).unique())))
    nG = len(groups)
    # customers grid
    Ng = np.zeros((nG, nM))
    cg = groups.get_indexer(cust["group"].astype(str).to_numpy(dtype=object))
    cm = M.get_indexer(cust["month"].astype(str).to_numpy(dtype=object))
    ok = (cg >= 0) & (cm >= 0)
    np.add.at(Ng, (cg[ok], cm[ok]), cust["customers"].to_numpy(dtype=np.float64)[ok])
    # event grids (rows outside the month range cannot exist: the range spans all event months)
    eg = groups.get_indexer(ev["group"].astype(str).to_numpy(dtype=object))
    em = M.get_indexer(ev["month"].astype(str).to_numpy(dtype=object))
    flat = eg.astype(np.int64) * nM + em
    size = nG * nM

    def grid(w=None) -> np.ndarray:
        return np.bincount(flat, weights=w, minlength=size).reshape(nG, nM).astype(np.float64)

    mom = ev["momentary"].to_numpy(dtype=bool)
    cnt = ev["cnt_usus"].to_numpy(dtype=np.float64)
    chs = ev["customer_hours"].to_numpy(dtype=np.float64)
    rows = grid()
    ci = grid(np.where(mom, 0.0, cnt))
    ch = grid(np.where(mom, 0.0, chs))
    cim = grid(np.where(mom, cnt, 0.0))
    # IEEE-style count: each event's customers once per group (its largest sustained row). Later
    # restoration steps re-count customers already out since the first step (row-sum convention).
    sus = pd.DataFrame({"e": ev["evento"].to_numpy()[~mom], "g": eg[~mom], "f": flat[~mom], "c": cnt[~mom]})
    top = sus.sort_values("c", ascending=False, kind="stable").drop_duplicates(["e", "g"])
    cie = np.bincount(top["f"].to_numpy(), weights=top["c"].to_numpy(), minlength=size).reshape(nG, nM)
    ev_once = sus.drop_duplicates(["e", "f"])
    nev = np.bincount(ev_once["f"].to_numpy(), minlength=size).reshape(nG, nM).astype(np.float64)

    has_c = Ng > 0
    present = has_c | (rows > 0)
    no_cust = (rows > 0) & ~has_c
    if by != "system":
        gi, mi = np.nonzero(no_cust)
        report.add(
            "periods_without_customers",
            [f"{groups[g]}@{M[m]}" for g, m in zip(gi[:5], mi[:5], strict=True)],
            "grupo-mes con interrupciones pero sin usuarios: índices NaN (las contribuciones al sistema sí cuentan)",
            "group-months with interruptions but no customers: indices NaN (system contributions still counted)",
            count=len(gi),
            weight={"customer_interruptions": float(ci[no_cust].sum())},
        )
    Nsafe = np.where(has_c, Ng, 1.0)
    nt = n_total.reindex(M).to_numpy(dtype=np.float64)
    nt_ok = np.nan_to_num(nt) > 0
    ntsafe = np.where(nt_ok, nt, 1.0)[None, :]
    hours_m = (pd.PeriodIndex(M, freq="M").days_in_month.to_numpy() * 24.0)[None, :]

    # months -> periods: one-hot matrix, sums by matrix product
    pk = period_key(pd.Series(months, dtype=object), period).to_numpy(dtype=object)
    P = pd.Index(sorted(set(pk)))
    A = np.zeros((nM, len(P)))
    A[np.arange(nM), P.get_indexer(pk)] = 1.0

    def per(x: np.ndarray) -> np.ndarray:
        return x @ A

    months_p = per(has_c.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        cust_p = per(np.where(has_c, Ng, 0.0)) / np.where(months_p > 0, months_p, np.nan)
    nan_p = per(no_cust.astype(np.float64)) > 0
    ntmiss_p = per(((rows > 0) & ~nt_ok[None, :]).astype(np.float64)) > 0
    present_p = per(present.astype(np.float64)) > 0
    gi, pi = np.nonzero(present_p)

    def take(x: np.ndarray) -> np.ndarray:
        return x[gi, pi]

    def idx(num: np.ndarray) -> np.ndarray:
        v = take(per(np.where(has_c, num / Nsafe, 0.0)))
        return np.where(take(nan_p), np.nan, v)

    def contrib(num: np.ndarray) -> np.ndarray:
        v = take(per(np.where(nt_ok[None, :], num / ntsafe, 0.0)))
        return np.where(take(ntmiss_p), np.nan, v)

    out = pd.DataFrame(
        {
            "level": by,
            "group": groups.to_numpy(dtype=object)[gi],
            "period": P.to_numpy(dtype=object)[pi],
            "customers": take(cust_p),
            "months": take(months_p).astype(np.int64),
            "rows": take(per(rows)).astype(np.int64),
            "events": take(per(nev)).astype(np.int64),
            "customer_interruptions": take(per(ci)),
            "customer_hours": take(per(ch)),
            "momentary_interruptions": take(per(cim)),
            "SAIFI": idx(ci),
            "SAIDI": idx(ch),
        }
    )
    hours = take(per(np.where(has_c, hours_m, 0.0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        out["CAIDI"] = out["SAIDI"] / out["SAIFI"].where(out["SAIFI"] > 0)
        out["ASAI"] = 1.0 - out["SAIDI"] / np.where(hours > 0, hours, np.nan)
    out["MAIFI"] = idx(cim)
    out["SAIFI_contrib"] = contrib(ci)
    out["SAIDI_contrib"] = contrib(ch)
    out["SAIFI_event"] = idx(cie)
    out["no_customers"] = take(nan_p)
    cols = [
        "level", "group", "period", "customers", "months", "rows", "events", "customer_interruptions",
        "customer_hours", "momentary_interruptions", *INDEX_COLUMNS, "SAIFI_event", "no_customers",
    ]
    return out[cols]
