"""Targets of a period and the risk class.

* ``y_saifi`` / ``y_saidi``: the asset's contribution to the system SAIFI / SAIDI in the period = sum of
  the per-row ``SAIFI`` / ``SAIDI`` of the **sustained** event rows (duration > 3 min, the threshold of
  :data:`gridcrit.reliability.indices.MOMENTARY_H`) whose operated device (``equipo_ope``) is the asset
  (circuit level: rows whose ``cto_equi_ope`` is the circuit). Momentary rows (≤ 3 min, or without any
  duration) belong to MAIFI, not to SAIFI/SAIDI — exactly as in ``gridcrit indices``, so that
  ``y_saifi`` summed over a level's assets is that level's ``SAIFI_contrib``. Rows without the utility's
  values get ``cnt_usus / N_total`` and ``duracion_h * cnt_usus / N_total``, ``N_total`` = customers in
  that month's ``trafos`` snapshot (duration from ``fin - inicio`` when ``duracion_h`` is missing).
* ``y_count``: number of distinct events (``evento``) in the period, momentary ones included.
* An event belongs to the period holding its start (``inicio``).
* ``y_risk``: 0 Bajo / 1 Medio / 2 Alto / 3 Muy Alto from :class:`RiskBinner`.

**Zero inflation.** Most asset-periods have no event (``y_saifi == 0``); quantiles over all rows would
put the cut points at 0 and make the classes meaningless. So *Bajo* is exactly "no interruption" and
the positive values are split at their terciles into Medio / Alto / Muy Alto. The tercile cut points
are learned on the training periods only (``RiskBinner.fit`` on the training rows of each split).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from gridcrit.features.periods import months_per_period

RISK_LABELS = ("Bajo", "Medio", "Alto", "Muy Alto")
LEVEL_EVENT_KIND = {"transformer": "transformador", "switch": "interruptor", "segment": "tramo de linea"}


class RiskBinner(BaseEstimator, TransformerMixin):
    """Risk class of a non-negative target: 0 for zero, then quantile bins of the positive values.

    Parameters
    ----------
    n_positive_classes : int, default 3
        Classes above *Bajo* (3 gives Medio / Alto / Muy Alto).

    Attributes
    ----------
    thresholds_ : ndarray of shape (n_positive_classes - 1,)
        Upper edges of Medio, Alto, ... learned from the positive training values.
    n_positive_ : int
        Positive values seen in ``fit``.

    Example
    -------
    >>> b = RiskBinner().fit(np.array([0, 0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    >>> b.transform(np.array([0.0, 1.0, 3.5, 100.0])).tolist()
    [0, 1, 2, 3]
    """

    def __init__(self, n_positive_classes: int = 3):
        self.n_positive_classes = n_positive_classes

    def fit(self, y, X=None):
        y = np.asarray(y, dtype=np.float64)
        pos = y[np.isfinite(y) & (y > 0)]
        self.n_positive_ = len(pos)
        qs = np.arange(1, self.n_positive_classes) / self.n_positive_classes
        self.thresholds_ = np.quantile(pos, qs) if len(pos) else np.full(len(qs), np.inf)
        return self

    def transform(self, y) -> np.ndarray:
        """Class codes (int8); NaN targets (periods without event data yet) give -1."""
        y = np.asarray(y, dtype=np.float64)
        cls = 1 + np.searchsorted(self.thresholds_, y, side="left")
        cls = np.where(y > 0, cls, 0)
        return np.where(np.isfinite(y), cls, -1).astype(np.int8)

    def fit_transform(self, y, X=None, **_):
        return self.fit(y).transform(y)


# CREG cause codes (``interrupciones.causa``, e.g. '30.0') grouped by what a crew would do about them.
# 29 (unknown), 47 (omitted) and the rare codes without a published description go to "other".
CAUSE_GROUPS: dict[str, tuple[int, ...]] = {
    "atmospheric": (30,),   # Condiciones atmosféricas: lightning, storms
    "animals": (19,),       # Animales sobre las redes del SDL
    "vegetation": (27,),    # Árbol o rama sobre redes del SDL
    "third_party": (15,),   # Acciones de terceros
    "equipment": (33, 40),  # Falla del transformador de potencia / de distribución
    "poles": (37,),         # Falla en postes y/o crucetas en el SDL
}


# every event falls in exactly one group: "other" = 29 (causa desconocida), 47 (evento omitido), codes
# without a published description, planned-work codes, missing or unparseable ``causa``
CAUSE_OTHER = "other"


def cause_groups() -> list[str]:
    """Names of the cause groups in column order: :data:`CAUSE_GROUPS` then ``"other"``."""
    return [*CAUSE_GROUPS, CAUSE_OTHER]


def _cause_counts() -> str:
    """SQL select items ``n_cause_<group>``: distinct events per cause group, ``other`` included."""
    code = "TRY_CAST(e.causa AS DOUBLE)"
    items = [f"count(DISTINCT e.evento) FILTER (WHERE {code} IN ({', '.join(map(str, codes))})) AS n_cause_{g}"
             for g, codes in CAUSE_GROUPS.items()]
    known = ", ".join(str(c) for codes in CAUSE_GROUPS.values() for c in codes)
    items.append(f"count(DISTINCT e.evento) FILTER (WHERE coalesce({code} NOT IN ({known}), TRUE)) "
                 f"AS n_cause_{CAUSE_OTHER}")
    return ", ".join(items)


def event_aggregates(con, period: str, key: str = "equipo_ope", unplanned_only: bool = False) -> pd.DataFrame:
    """Per (device code, period index): ``n`` distinct events, ``saifi``, ``saidi``, ``rows``, kind and
    ``n_cause_<group>`` (distinct events per :func:`cause_groups` group; together they are ``n`` when
    every row of an event carries the same cause).

    ``key`` is ``equipo_ope`` (device level) or ``cto_equi_ope`` (circuit level).
    """
    from gridcrit.reliability.indices import MOMENTARY_H

    k = months_per_period(period)
    where = "AND e.tipo_causa = 'NP'" if unplanned_only else ""
    # same rule as the indices: duration = duracion_h, else fin - inicio; unknown counts as momentary
    sustained = f"coalesce(e.duracion_h, epoch(e.fin - e.inicio) / 3600.0, 0) > {MOMENTARY_H + 1e-9!r}"
    return con.execute(
        f"""WITH n AS (
                SELECT year(FECHA) * 12 + month(FECHA) - 1 AS m, sum(USUARIOS)::DOUBLE AS n_total
                FROM trafos GROUP BY 1 HAVING sum(USUARIOS) > 0)
            SELECT e.{key} AS code, (year(e.inicio) * 12 + month(e.inicio) - 1) // {k} AS q,
                   count(DISTINCT e.evento) AS n, count(*) AS rows,
                   coalesce(sum(coalesce(e.SAIFI, e.cnt_usus / n.n_total)) FILTER (WHERE {sustained}), 0)
                       AS saifi,
                   coalesce(sum(coalesce(e.SAIDI, coalesce(e.duracion_h, epoch(e.fin - e.inicio) / 3600.0)
                                              * e.cnt_usus / n.n_total)) FILTER (WHERE {sustained}), 0)
                       AS saidi,
                   any_value(lower(e.tipo_equi_ope)) AS kind,
                   {_cause_counts()},
                   count(*) FILTER (WHERE e.SAIFI IS NULL AND n.n_total IS NULL) AS rows_without_customers
            FROM interrupciones e
            LEFT JOIN n ON n.m = year(e.inicio) * 12 + month(e.inicio) - 1
            WHERE e.inicio IS NOT NULL AND e.{key} IS NOT NULL {where}
            GROUP BY ALL"""
    ).df()


def last_event_period(con, period: str) -> int | None:
    """Period index of the latest event start (the last period the events cover), None without events."""
    k = months_per_period(period)
    v = con.execute(
        f"SELECT max((year(inicio) * 12 + month(inicio) - 1) // {k}) FROM interrupciones"
    ).fetchall()[0][0]
    return None if v is None else int(v)


def last_complete_period(con, period: str) -> int | None:
    """Period index of the last period whose months all have event data: the period of the latest event
    start when that event falls in the period's last month, else the period before (a quarter whose
    events stop in its first or second month is incomplete: its sums would look like a quiet quarter).
    Month periods are taken as complete. None without events."""
    v = con.execute("SELECT max(year(inicio) * 12 + month(inicio) - 1) FROM interrupciones").fetchall()[0][0]
    if v is None:
        return None
    k = months_per_period(period)
    return (int(v) + 1) // k - 1
