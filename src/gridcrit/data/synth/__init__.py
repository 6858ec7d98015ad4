"""Synthetic network twin: a whole utility in CHEC's export format, with known outage drivers.

>>> from gridcrit.data.synth import synthesize
>>> res = synthesize("twin", scale="tiny", seed=0)          # doctest: +SKIP
>>> sorted(res.files)                                         # doctest: +SKIP
['apoyos', 'clima', 'interrupciones', 'rayos', 'redmt', 'switches', 'trafos', 'vegetacion']

Reproducibility: the network (assets, codes, coordinates, customers per month) depends only on
``(seed, scale)``; the weather, strokes, inspections and events of a month depend only on
``(seed, scale, month)`` and, for events, on ``hazards``. A later window with other hazards
(``start="2024-01", end="2024-06", hazards={"vegetation": 2.0}``) therefore continues the same utility,
and the same window with the same arguments gives byte-identical files. See ``docs/synth.md``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gridcrit.data.synth.exposure import (
    CLIMA_FIELDS,
    LightningModel,
    month_of,
    month_weather,
    vegetation_month,
)
from gridcrit.data.synth.geography import MUN_DEP, MUN_NAME
from gridcrit.data.synth.hazards import HAZARD_NAMES, check_hazards, truth_document
from gridcrit.data.synth.network import Network, build_network
from gridcrit.data.synth.scales import EPOCH, MONTH_2019_01, SCALES, ScaleSpec
from gridcrit.data.synth.writer import AssetTables, ParquetSink, strokes_table, write_csv
from gridcrit.errors import ValidationError

__all__ = ["HAZARD_NAMES", "SCALES", "Network", "ScaleSpec", "SynthResult", "build_network", "synthesize"]

SNAPSHOT_MODES = ("monthly", "quarterly", "last")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass
class SynthResult:
    """What :func:`synthesize` wrote."""

    out_dir: Path
    scale: str
    seed: int
    start: str
    end: str
    hazards: dict[str, float]
    files: dict[str, Path]  # table -> file
    rows: dict[str, int]  # table -> rows written
    assets: dict[str, int]  # distinct circuits, segments, transformers, switches, supports
    customers: dict[str, int]  # month 'YYYY-MM' -> N_total (first and last month)
    truth: Path
    truth_events: Path
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def _month_index(s: str, what: str) -> int:
    m = _MONTH.match(str(s))
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValidationError(f"{what}: {s!r} is not a month 'YYYY-MM'")
    y, mo = int(m.group(1)), int(m.group(2))
    if y < EPOCH[0] or y > 2099:
        raise ValidationError(f"{what}: {s!r} is outside 2000-01..2099-12")
    return (y - EPOCH[0]) * 12 + mo - 1


def _fmt(mi: int) -> str:
    y, m = month_of(mi)
    return f"{y:04d}-{m:02d}"


def synthesize(
    out_dir: str | Path,
    scale: str = "tiny",
    seed: int = 0,
    start: str = "2019-01",
    end: str = "2024-06",
    hazards: dict[str, float] | None = None,
    progress: bool = False,
    snapshots: str = "monthly",
) -> SynthResult:
    """Generate a synthetic utility into ``out_dir`` (created if needed) and return what was written.

    ``scale``: tiny | small | chec | 10x (see ``SCALES``). ``start``/``end``: inclusive months
    'YYYY-MM', from 2019-01 on (the network is as built at the end of 2018). ``hazards``: multipliers
    of the driver intensities by name (``HAZARD_NAMES``).
    ``snapshots``: asset snapshot frequency, ``monthly`` (as the utility exports), ``quarterly``
    (Mar/Jun/Sep/Dec and the last month) or ``last`` (only the last month), to shrink 10x runs.
    """
    t_all = time.perf_counter()
    if scale not in SCALES:
        raise ValidationError(f"scale: unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    if snapshots not in SNAPSHOT_MODES:
        raise ValidationError(f"snapshots: {snapshots!r} must be one of {', '.join(SNAPSHOT_MODES)}")
    m0, m1 = _month_index(start, "start"), _month_index(end, "end")
    if m0 < MONTH_2019_01:
        # the network is the utility as built by the end of 2018 (FECHA_ACT, DATE_FAB <= 2018-12): earlier
        # months would put outages on segments and transformers that were not installed yet
        raise ValidationError(
            f"start: {start!r} is before 2019-01; the twin's network is as built at the end of 2018 "
            "(FECHA_ACT and DATE_FAB up to 2018-12), so its months run from 2019-01 on",
            es=f"start: {start!r} es anterior a 2019-01; la red del gemelo es la construida a finales de 2018 "
               "(FECHA_ACT y DATE_FAB hasta 2018-12), así que sus meses empiezan en 2019-01",
        )
    if m1 < m0:
        raise ValidationError(f"end {end!r} is before start {start!r}")
    hz = check_hazards(hazards)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    from gridcrit.data.synth.events import EventModel

    t = time.perf_counter()
    net = build_network(int(seed), scale)
    assets = AssetTables(net)
    lightning = LightningModel(net)
    events = EventModel(net, hz)
    timings["network"] = time.perf_counter() - t

    months = list(range(m0, m1 + 1))
    snap = {
        "monthly": set(months),
        "quarterly": {m for m in months if (m % 12) in (2, 5, 8, 11)} | {m1},
        "last": {m1},
    }[snapshots]
    used_mun = np.unique(net.circ_mun)
    sinks = {
        name: ParquetSink(out / f"{name}.parquet")
        for name in ("redmt", "trafos", "switches", "apoyos", "rayos")
    }
    ev_parts, veg_parts, clima_parts = [], [], []
    t_ev = t_snap = t_exp = 0.0
    bar = _progress(progress, len(months), scale)
    try:
        for mi in months:
            t = time.perf_counter()
            w = month_weather(int(seed), scale, mi)
            strokes = lightning.month(int(seed), scale, mi, w)
            veg_parts.append(vegetation_month(net, int(seed), scale, mi))
            clima_parts.append(_clima_month(w, mi, used_mun))
            sinks["rayos"].write(strokes_table(net, strokes, mi))
            t_exp += time.perf_counter() - t
            t = time.perf_counter()
            ev_parts.append(events.month(mi, w, strokes, int(seed)))
            t_ev += time.perf_counter() - t
            t = time.perf_counter()
            if mi in snap:
                for name in ("redmt", "trafos", "switches", "apoyos"):
                    sinks[name].write(assets.month_table(name, mi))
            t_snap += time.perf_counter() - t
            if bar is not None:
                bar[0].update(bar[1], advance=1, description=f"synth {scale} {_fmt(mi)}")
        for s in sinks.values():
            s.close()
    except BaseException:
        for s in sinks.values():  # no half-written tables are left behind
            s.abort()
        raise
    finally:
        if bar is not None:
            bar[0].stop()
    timings.update(exposure=t_exp, events=t_ev, snapshots=t_snap)

    t = time.perf_counter()
    ev = {k: np.concatenate([p[k] for p in ev_parts]) for k in ev_parts[0]}
    order = np.lexsort((ev["evento"], ev["inicio"]))
    ev = {k: v[order] for k, v in ev.items()}
    inter = {k: v for k, v in ev.items() if not k.startswith("_")}
    n_inter = write_csv(inter, out / "interrupciones.csv")
    first = np.unique(ev["evento"], return_index=True)[1]
    truth_ev = {
        "evento": ev["evento"][first],
        "driver": ev["_driver"][first],
        "fault_asset": ev["_asset"][first],
    }
    write_csv(truth_ev, out / "truth_events.csv")
    veg = {k: np.concatenate([p[k] for p in veg_parts]) for k in veg_parts[0] if not k.startswith("_")}
    # DEP/MUN of the circuit's municipality, after the coordinates as in the real file
    circ_index = {c: i for i, c in enumerate(net.circ_code)}
    vm = net.circ_mun[np.array([circ_index[c] for c in veg["CIRCUITO_TRAMO"]], dtype=np.int64)]
    veg["DEP"], veg["MUN"] = MUN_DEP[vm], MUN_NAME[vm]
    n_veg = write_csv(veg, out / "vegetacion.csv")
    clima = {k: np.concatenate([p[k] for p in clima_parts]) for k in clima_parts[0]}
    n_clima = write_csv(clima, out / "clima.csv")
    timings["csv"] = time.perf_counter() - t

    rows = {name: s.rows for name, s in sinks.items()}
    rows.update(interrupciones=n_inter, vegetacion=n_veg, clima=n_clima)
    files = {name: s.path for name, s in sinks.items()}
    files.update({n: out / f"{n}.csv" for n in ("interrupciones", "vegetacion", "clima")})
    counts = {
        "circuits": len(net.circ_code),
        "segments": net.n_segments,
        "transformers": len(net.tr_node),
        "switches": len(net.sw_seg),
        "supports": len(net.ap_node),
    }
    customers = {_fmt(m0): int(net.customers(m0).sum()), _fmt(m1): int(net.customers(m1).sum())}
    truth = truth_document(hz, events.rates)
    truth.update(
        generator={
            "scale": scale,
            "seed": int(seed),
            "start": _fmt(m0),
            "end": _fmt(m1),
            "snapshots": snapshots,
        },
        assets=counts,
        customers_total=customers,
        events_by_driver=dict(
            zip(
                *(x.tolist() for x in np.unique(truth_ev["driver"].astype(str), return_counts=True)),
                strict=True,
            )
        ),
    )
    (out / "truth.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return SynthResult(
        out_dir=out,
        scale=scale,
        seed=int(seed),
        start=_fmt(m0),
        end=_fmt(m1),
        hazards=hz,
        files=files,
        rows=rows,
        assets=counts,
        customers=customers,
        truth=out / "truth.json",
        truth_events=out / "truth_events.csv",
        seconds=time.perf_counter() - t_all,
        timings=timings,
    )


def _clima_month(w, month_index: int, muns: np.ndarray) -> dict[str, np.ndarray]:
    y, m = month_of(month_index)
    nd = w.precip.shape[1]
    dates = np.array([f"{y:04d}-{m:02d}-{d:02d}" for d in range(1, nd + 1)], dtype=object)
    df = {
        "FECHA": np.tile(dates, len(muns)),
        "DEP": np.repeat(MUN_DEP[muns], nd),
        "MUN": np.repeat(MUN_NAME[muns], nd),
    }
    for f in CLIMA_FIELDS:
        df[f] = w.fields[f][muns].reshape(-1)
    return df


def _progress(show: bool, total: int, scale: str):
    if not show:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    p = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    )
    p.start()
    return p, p.add_task(f"synth {scale}", total=total)
