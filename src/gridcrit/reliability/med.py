"""Major event days (IEEE 1366 "2.5 beta" method).

For each reporting year Y (calendar year):

1. daily SAIDI = sum over sustained rows starting that day of ``duracion_h * cnt_usus / N_total(month)``
   (the utility's per-row SAIDI convention, in hours; the method is scale-free, so hours vs minutes
   does not change which days are MEDs);
2. over the days with SAIDI > 0 of the **previous five years** (Y-5 .. Y-1) — or of the previous years
   available when there are fewer (``basis = 'prev<k>y'``) — fit a log-normal: ``alpha`` = mean and
   ``beta`` = standard deviation of ``ln(SAIDI/day)``;
3. ``T_MED = exp(alpha + 2.5 beta)``; a day of year Y whose SAIDI exceeds ``T_MED`` is a major event day.

IEEE 1366 needs history to set a threshold. For the first year of data there is none, so gridcrit fits
that year's own days (``basis = 'same-year'``, provisional: flagged in the output). Years whose basis has
fewer than ``min_days`` non-zero days get no threshold (no MED) and are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridcrit.reliability.report import ProblemReport


@dataclass
class MedResult:
    """``days``: one row per day with events (date, year, saidi, t_med, is_med); ``thresholds``: one row
    per year (year, alpha, beta, t_med, basis, n_days, n_med)."""

    days: pd.DataFrame
    thresholds: pd.DataFrame

    @property
    def med_dates(self) -> set:
        return set(self.days.loc[self.days["is_med"], "date"])


def daily_saidi(events: pd.DataFrame, n_total: pd.Series) -> pd.Series:
    """System SAIDI per day (hours) from sustained rows. ``events`` needs ``day``, ``month``,
    ``customer_hours``, ``momentary``; ``n_total``: customers per month."""
    ev = events[~events["momentary"]]
    n = ev["month"].map(n_total)
    val = ev["customer_hours"] / n
    return val.groupby(ev["day"]).sum().sort_index()


def major_event_days(
    daily: pd.Series, *, years_back: int = 5, k: float = 2.5, min_days: int = 30, report: ProblemReport | None = None
) -> MedResult:
    """Classify days by the 2.5β method (see module docstring). ``daily``: SAIDI per day (index: dates)."""
    report = report if report is not None else ProblemReport()
    d = pd.DataFrame({"date": pd.to_datetime(daily.index), "saidi": daily.to_numpy(dtype=np.float64)})
    d["year"] = d["date"].dt.year
    years = sorted(d["year"].unique())
    rows = []
    for y in years:
        prev = [p for p in years if y - years_back <= p < y]
        basis = f"prev{len(prev)}y" if prev else "same-year"
        pool = d.loc[d["year"].isin(prev if prev else [y]), "saidi"]
        pool = pool[pool > 0]
        if len(pool) < min_days:
            rows.append((y, np.nan, np.nan, np.nan, basis, len(pool)))
            continue
        ln = np.log(pool.to_numpy())
        a, b = float(ln.mean()), float(ln.std(ddof=1)) if len(ln) > 1 else 0.0
        rows.append((y, a, b, float(np.exp(a + k * b)), basis, len(pool)))
    th = pd.DataFrame(rows, columns=["year", "alpha", "beta", "t_med", "basis", "n_days"])
    d = d.merge(th[["year", "t_med"]], on="year", how="left")
    d["is_med"] = d["saidi"] > d["t_med"]  # NaN threshold -> False
    th["n_med"] = th["year"].map(d.groupby("year")["is_med"].sum()).fillna(0).astype(int)
    report.add(
        "med_years_without_threshold",
        th.loc[th["t_med"].isna(), "year"],
        f"años con menos de {min_days} días con SAIDI > 0 en su base: sin umbral T_MED (ningún día excluido)",
        f"years with fewer than {min_days} days with SAIDI > 0 in their basis: no T_MED (no day excluded)",
    )
    report.add(
        "med_provisional_years",
        th.loc[th["basis"] == "same-year", "year"],
        "años sin historia previa: T_MED ajustado con los días del mismo año (provisional)",
        "years without prior history: T_MED fitted on the same year's days (provisional)",
        severity="info",
    )
    d["date"] = d["date"].dt.date
    return MedResult(days=d, thresholds=th)
