"""Customer base per month and per group: the denominators of every reliability index.

- System: ``N_total(month)`` = sum of ``trafos.USUARIOS`` over that month's snapshot (the utility's own
  definition, design §3). Months without a snapshot, or stores whose ``trafos`` has no ``USUARIOS``, fall
  back to the utility's per-row figures: ``N_total = median(cnt_usus / SAIFI)`` over that month's rows with
  ``SAIFI > 0`` (recorded in ``report.info['customer_base_source']``).
- Circuit / municipality: sum of ``USUARIOS`` by ``FPARENT`` / ``MUN`` of the month's snapshot.
- Transformer: its own ``USUARIOS`` that month.
- Switch / segment: customers downstream (:class:`~gridcrit.reliability.topology.Topology` of one snapshot,
  the latest by default) with each month's ``USUARIOS`` placed on the transformers' nodes of that month.

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
        need = sorted(set(events["month"].dropna()) - set(n.index))
        if need:
            ev = events[events["month"].isin(need) & (events["SAIFI"] > 0) & (events["cnt_usus"] > 0)]
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


def downstream_customers(con, topology, kind: str, report: ProblemReport | None = None) -> pd.DataFrame:
    """Customers downstream of every switch or segment, per month: each month's transformers (by their
    ``ELNODE`` that month) weighted by ``USUARIOS``, summed over the subtree of ``topology``."""
    report = report if report is not None else ProblemReport()
    # aggregate in DuckDB to (distinct circuit+node pair, month): node lookup then runs on ~#transformers
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
    if agg.empty:
        return pd.DataFrame({"group": pd.Series([], dtype=object), "month": pd.Series([], dtype=object),
                             "customers": pd.Series([], dtype=np.float64)})
    agg["month"] = ym_to_month(agg["month"])
    months = np.sort(agg["month"].astype(str).unique())
    knode = topology.locate_nodes(keys["el"].astype(str).to_numpy(), keys["fp"].astype(str).to_numpy())
    node = knode[agg["kid"].to_numpy()]
    unk = node < 0
    if unk.any():
        report.add(
            "customers_on_unknown_nodes",
            keys.loc[knode < 0, "el"].astype(str).to_numpy()[:5],
            "usuarios en transformadores cuyo nodo no está en la topología (no cuentan aguas abajo de ningún equipo)",
            "customers on transformers whose node is not in the topology (downstream of no device)",
            count=int((knode < 0).sum()),
            weight={"customer_months": float(agg.loc[unk, "u"].sum())},
        )
    mi = pd.Index(months).get_indexer(agg["month"].astype(str).to_numpy())
    W = np.zeros((topology.n_nodes, len(months)))
    ok = ~unk
    np.add.at(W, (node[ok], mi[ok]), agg["u"].to_numpy(dtype=np.float64)[ok])
    codes, start, _ = topology.device_nodes(kind)
    keep = ~pd.Index(codes).duplicated()
    S = topology.subtree_sum(start[keep], W)  # (devices, months)
    return pd.DataFrame(
        {
            "group": np.repeat(codes[keep].astype(str).astype(object), len(months)),
            "month": np.tile(months.astype(object), int(keep.sum())),
            "customers": S.reshape(-1),
        }
    )
