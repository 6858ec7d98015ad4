"""Customer base per month and per group: the denominators of every reliability index.

- System: ``N_total(month)`` = sum of ``trafos.USUARIOS`` over that month's snapshot (the utility's own
  definition, design §3). Months without a snapshot, or stores whose ``trafos`` has no ``USUARIOS``, fall
  back to the utility's per-row figures: ``N_total = median(cnt_usus / SAIFI)`` over that month's rows with
  ``SAIFI > 0`` (recorded in ``report.info['customer_base_source']``).
- Circuit / municipality: sum of ``USUARIOS`` by ``FPARENT`` / ``MUN`` of the month's snapshot.
- Transformer: its own ``USUARIOS`` that month.
- Switch / segment: customers downstream (:class:`~gridcrit.reliability.topology.Topology`) with each
  month's ``USUARIOS`` placed on the transformers' nodes of that month, on that month's network version
  (:func:`downstream_customers_by_snapshot`) or on one given topology (:func:`downstream_customers`).

Month keys are ``'YYYY-MM'`` strings (the snapshot month of ``FECHA``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridcrit.reliability.report import ProblemReport

YM = "(year(FECHA) * 100 + month(FECHA))"  # cheaper than strftime on millions of snapshot rows


def ym_to_month(ym: pd.Series) -> np.ndarray:
    """Integer YYYYMM -> 'YYYY-MM' strings (object array), through a lookup of the few distinct values."""
    v = pd.to_numeric(ym).to_numpy()
    u, inv = np.unique(v, return_inverse=True)
    lut = np.array([f"{int(x) // 100:04d}-{int(x) % 100:02d}" for x in u], dtype=object)
    return lut[inv]


GROUP_COLUMN = {"circuit": "FPARENT", "municipality": "MUN", "transformer": "CODE"}
SYSTEM = "SISTEMA"


def has_usuarios(con) -> bool:
    """True when ``trafos`` holds at least one non-null ``USUARIOS``."""
    return bool(con.execute("SELECT count(USUARIOS) FROM trafos").fetchone()[0])


def system_customers(con, events: pd.DataFrame | None = None, report: ProblemReport | None = None) -> pd.Series:
    """``N_total`` per month (index ``'YYYY-MM'``). ``events`` (with ``month``, ``cnt_usus``, ``SAIFI``)
    supplies the fallback for months without ``USUARIOS``."""
    report = report if report is not None else ProblemReport()
    snap = con.execute(
        f"SELECT {YM} AS ym, sum(USUARIOS) AS n FROM trafos GROUP BY 1 HAVING count(USUARIOS) > 0 ORDER BY 1"
    ).df()
    snap["month"] = ym_to_month(snap["ym"])
    n = pd.Series(snap["n"].to_numpy(dtype=np.float64), index=snap["month"].astype(str), name="customers")
    source = "trafos.USUARIOS" if len(n) else None
    if events is not None and len(events):
        need = sorted(set(events["month"].dropna().unique()) - set(n.index))
        if need:
            in_need = pd.Index(need).get_indexer(events["month"].to_numpy(dtype=object)) >= 0
            ev = events[in_need & (events["SAIFI"] > 0).to_numpy() & (events["cnt_usus"] > 0).to_numpy()]
            est = (ev["cnt_usus"] / ev["SAIFI"]).groupby(ev["month"]).median()
            if len(est):
                report.add(
                    "customer_base_estimated",
                    list(est.index),
                    "meses sin USUARIOS en trafos: N_total estimado como mediana de cnt_usus/SAIFI",
                    "months without trafos.USUARIOS: N_total estimated as the median of cnt_usus/SAIFI",
                    severity="info",
                )
                n = pd.concat([n, est.rename("customers")]).sort_index()
                source = "cnt_usus/SAIFI" if source is None else source + " + cnt_usus/SAIFI"
    report.info["customer_base_source"] = source
    return n


def group_customers(con, by: str) -> pd.DataFrame:
    """Customers per (group, month) for ``by`` in circuit | municipality | transformer, from the
    snapshots' ``USUARIOS``. Columns ``group, month, customers``."""
    col = GROUP_COLUMN[by]
    df = con.execute(
        f"SELECT CAST(\"{col}\" AS VARCHAR) AS \"group\", {YM} AS ym, "
        f"sum(USUARIOS) AS customers FROM trafos WHERE USUARIOS IS NOT NULL GROUP BY 1, 2"
    ).df()
    df["customers"] = df["customers"].astype(np.float64)
    df["month"] = ym_to_month(df["ym"])
    df = df.drop(columns="ym")
    return df


def _trafo_customers(con) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(keys: distinct (fp, el) circuit+node pairs with ``kid``; agg: kid, month, u = USUARIOS summed).
    Aggregated in DuckDB so that node lookups run on ~#transformers, not #transformer-months."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _gc_tr AS SELECT CAST(FPARENT AS VARCHAR) AS fp, CAST(ELNODE AS VARCHAR) AS el, "
        f"{YM} AS month, USUARIOS AS u FROM trafos WHERE USUARIOS IS NOT NULL"
    )
    try:
        keys = con.execute("SELECT DISTINCT fp, el FROM _gc_tr ORDER BY fp, el").df()
        keys["kid"] = np.arange(len(keys))
        con.register("_gc_keys", keys)
        agg = con.execute(
            "SELECT k.kid, t.month, sum(t.u) AS u FROM _gc_tr t JOIN _gc_keys k ON t.fp IS NOT DISTINCT FROM k.fp "
            "AND t.el IS NOT DISTINCT FROM k.el GROUP BY 1, 2"
        ).df()
        con.unregister("_gc_keys")
    finally:
        con.execute("DROP TABLE IF EXISTS _gc_tr")
    if len(agg):
        agg["month"] = ym_to_month(agg["month"])
    return keys, agg


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({"group": pd.Series([], dtype=object), "month": pd.Series([], dtype=object),
                         "customers": pd.Series([], dtype=np.float64)})


def _downstream_from(topology, kind: str, keys: pd.DataFrame, agg: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Downstream customers per device and month of ``agg`` on one topology; also unknown-node stats."""
    if agg.empty:
        return _empty_frame(), {"n": 0, "examples": [], "customer_months": 0.0}
    months = np.sort(agg["month"].astype(str).unique())
    knode = topology.locate_nodes(keys["el"].astype(str).to_numpy(), keys["fp"].astype(str).to_numpy())
    node = knode[agg["kid"].to_numpy()]
    unk = node < 0
    bad_keys = np.unique(agg["kid"].to_numpy()[unk])
    stats = {
        "n": len(bad_keys),
        "examples": keys["el"].astype(str).to_numpy()[bad_keys[:5]].tolist(),
        "customer_months": float(agg.loc[unk, "u"].sum()),
    }
    mi = pd.Index(months).get_indexer(agg["month"].astype(str).to_numpy())
    W = np.zeros((topology.n_nodes, len(months)))
    ok = ~unk
    np.add.at(W, (node[ok], mi[ok]), agg["u"].to_numpy(dtype=np.float64)[ok])
    codes, start, _ = topology.device_nodes(kind)
    keep = ~pd.Index(codes).duplicated()
    S = topology.subtree_sum(start[keep], W)  # (devices, months)
    out = pd.DataFrame(
        {
            "group": np.repeat(codes[keep].astype(str).astype(object), len(months)),
            "month": np.tile(months.astype(object), int(keep.sum())),
            "customers": S.reshape(-1),
        }
    )
    return out, stats


def _report_unknown(report: ProblemReport, stats: dict) -> None:
    report.add(
        "customers_on_unknown_nodes",
        stats["examples"],
        "transformadores con usuarios cuyo nodo no está en la topología (no cuentan aguas abajo de ningún equipo)",
        "transformers with customers whose node is not in the topology (downstream of no device)",
        count=stats["n"],
        weight={"customer_months": stats["customer_months"]},
    )


def downstream_customers(con, topology, kind: str, report: ProblemReport | None = None) -> pd.DataFrame:
    """Customers downstream of every switch or segment, per month: each month's transformers (by their
    ``ELNODE`` that month) weighted by ``USUARIOS``, summed over the subtree of one ``topology``."""
    report = report if report is not None else ProblemReport()
    keys, agg = _trafo_customers(con)
    out, stats = _downstream_from(topology, kind, keys, agg)
    _report_unknown(report, stats)
    return out


def network_versions(con) -> pd.DataFrame:
    """One row per ``redmt`` snapshot: ``fecha``, ``month`` and ``version`` — snapshots whose segments
    (CODE, nodes, ORDER_, FPARENT) and switches (CODE, LINESECTIO, STATE, ASSEMBLY) are identical share a
    version (order-independent XOR of row hashes plus row counts)."""
    red = con.execute(
        "SELECT FECHA AS fecha, bit_xor(hash(CODE, ELNODE1, ELNODE2, ORDER_, FPARENT)) AS hr, count(*) AS nr "
        "FROM redmt GROUP BY 1"
    ).df()
    sw = con.execute(
        "SELECT FECHA AS fecha, bit_xor(hash(CODE, LINESECTIO, STATE, ASSEMBLY)) AS hs, count(*) AS ns "
        "FROM switches GROUP BY 1"
    ).df()
    v = red.merge(sw, on="fecha", how="left").sort_values("fecha").reset_index(drop=True)
    sig = v[["hr", "nr", "hs", "ns"]].astype(str).agg("|".join, axis=1)
    v["version"] = pd.factorize(sig)[0]
    v["month"] = pd.to_datetime(v["fecha"]).dt.strftime("%Y-%m").astype(object)
    return v[["fecha", "month", "version"]]


def downstream_customers_by_snapshot(con, kind: str, report: ProblemReport | None = None) -> pd.DataFrame:
    """Like :func:`downstream_customers`, with each month's own network: one
    :class:`~gridcrit.reliability.topology.Topology` per distinct network version (usually one), each
    used for the months whose ``redmt`` snapshot it is (months without one use the latest earlier
    snapshot, or the first)."""
    from gridcrit.reliability.topology import Topology

    report = report if report is not None else ProblemReport()
    versions = network_versions(con)
    keys, agg = _trafo_customers(con)
    if agg.empty or versions.empty:
        return _empty_frame()
    vm = versions.sort_values("month")
    months = np.sort(agg["month"].astype(str).unique())
    pos = np.searchsorted(vm["month"].to_numpy(dtype=str), months, side="right") - 1
    month_version = pd.Series(vm["version"].to_numpy()[np.maximum(pos, 0)], index=months)
    agg = agg.assign(version=agg["month"].map(month_version).to_numpy())
    frames, total = [], {"n": 0, "examples": [], "customer_months": 0.0}
    for ver, part in agg.groupby("version", sort=True):
        fecha = versions.loc[versions["version"] == ver, "fecha"].max()
        topo = Topology.from_store(con, fecha=str(fecha))
        out, stats = _downstream_from(topo, kind, keys, part.drop(columns="version"))
        frames.append(out)
        total["n"] += stats["n"]
        total["examples"] += stats["examples"]
        total["customer_months"] += stats["customer_months"]
    _report_unknown(report, total)
    report.info["network_versions"] = int(versions["version"].nunique())
    return pd.concat(frames, ignore_index=True)
