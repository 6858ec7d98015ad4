"""A small, fast, hand-made utility store for the dataset's tests and benchmark.

The project's real test utility is the synthetic twin (:mod:`gridcrit.data.synth`); this module exists
so the criticality dataset can be tested and benchmarked on its own (and at ``chec`` / ``10x`` sizes in
seconds). It writes the utility's tables straight into a store with the schema's column names:
radial circuits (``redmt``), transformers with customers (``trafos``), switches, monthly snapshots,
daily weather per municipality, lightning strokes, vegetation records and outage events drawn from a
simple hazard model (vegetation x rain, lightning x no guard wire, transformer age x heat, plus a
persistent per-asset frailty so that an asset's own history predicts its future).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gridcrit.data.store import connect

_M_PER_DEG = 111_000.0


def _month_ends(start: str, end: str) -> pd.DatetimeIndex:
    return pd.date_range(pd.Period(start, "M").start_time, pd.Period(end, "M").end_time, freq="ME").normalize()


def build_sample_store(
    path: str | Path,
    *,
    n_circuits: int = 4,
    segments_per_circuit: int = 40,
    start: str = "2019-01",
    end: str = "2020-12",
    seed: int = 0,
    event_rate: float = 0.02,
    trafos_per_segment: float = 0.75,
) -> Path:
    """Write a synthetic utility into the store at ``path`` and return the path.

    ``event_rate`` is the base monthly failure rate of one transformer (switches and segments get
    a fraction of it). Same arguments -> same store.
    """
    rng = np.random.default_rng(seed)
    path = Path(path)
    months = _month_ends(start, end)
    n_m = len(months)
    muns = [f"MUN{i:02d}" for i in range(max(2, n_circuits // 5 + 1))]

    # --- circuits and radial segments: node k of a circuit hangs on a node among the 6 before it.
    C, S = n_circuits, segments_per_circuit
    circ = np.array([f"C{i:03d}23L{i % 20 + 10}" for i in range(C)], dtype=object)
    circ_mun = rng.integers(0, len(muns), C)
    root_lon = rng.uniform(-76.0, -75.0, C)
    root_lat = rng.uniform(4.5, 5.5, C)
    k = np.arange(1, S + 1)
    par = np.maximum(0, k - rng.integers(1, 7, (C, S)))  # parent position within the circuit
    lon = np.zeros((C, S + 1))
    lat = np.zeros((C, S + 1))
    lon[:, 0], lat[:, 0] = root_lon, root_lat
    step = rng.normal(0, 250 / _M_PER_DEG, (C, S, 2))
    for j in range(1, S + 1):  # positions follow parents (S steps, vectorised over circuits)
        lon[:, j] = lon[np.arange(C), par[:, j - 1]] + step[:, j - 1, 0]
        lat[:, j] = lat[np.arange(C), par[:, j - 1]] + step[:, j - 1, 1]
    node_id = np.array([[f"N{c}_{j}" for j in range(S + 1)] for c in range(C)], dtype=object)
    cc = np.repeat(np.arange(C), S)
    up = node_id[cc, par.ravel()]
    down = node_id[cc, np.tile(k, C)]
    order = np.where(rng.random(C * S) < 0.1, -1, 1)  # some segments stored reversed
    guard = rng.random(C * S) < 0.4
    seg_code = np.array([f"S{c}_{j}" for c in range(C) for j in range(1, S + 1)], dtype=object)
    seg_lon1, seg_lat1 = lon[cc, par.ravel()], lat[cc, par.ravel()]
    seg_lon2, seg_lat2 = lon[cc, np.tile(k, C)], lat[cc, np.tile(k, C)]
    redmt = pd.DataFrame(
        {
            "CODE": seg_code,
            "PHASES": rng.choice(["ABC", "AB", "A"], C * S, p=[0.7, 0.1, 0.2]),
            "FPARENT": circ[cc],
            "ELNODE1": np.where(order == 1, up, down),
            "ELNODE2": np.where(order == 1, down, up),
            "CONDUCTOR": rng.choice(["ACSR2", "ACSR1/0", "ACSR4/0"], C * S),
            "LENGTH": rng.uniform(50, 600, C * S).round(1),
            "KVNOM": 13.2,
            "ORDER_": order.astype(np.int32),
            "GUARDACONDUCTOR": np.where(guard, "SI", "NO"),
            "LONGITUD": seg_lon1,
            "LATITUD": seg_lat1,
            "LONGITUD2": seg_lon2,
            "LATITUD2": seg_lat2,
            "DEP": "CALDAS",
            "MUN": np.array(muns, dtype=object)[circ_mun[cc]],
        }
    )
    frail_seg = rng.gamma(0.7, 1 / 0.7, C * S)  # persistent per-segment frailty

    # --- transformers on downstream nodes of segments
    n_t = round(trafos_per_segment * C * S)
    t_seg = rng.integers(0, C * S, n_t)
    first_m = np.where(rng.random(n_t) < 0.03, rng.integers(1, max(2, n_m), n_t), 0)  # a few added later
    last_m = np.where(rng.random(n_t) < 0.02, rng.integers(1, max(2, n_m), n_t), n_m - 1)
    last_m = np.maximum(last_m, first_m)
    age0 = rng.uniform(0, 40, n_t)
    date_fab = (pd.Timestamp(start) - pd.to_timedelta(age0 * 365.25, unit="D")).normalize()
    trafos = pd.DataFrame(
        {
            "CODE": [f"T{i:06d}" for i in range(n_t)],
            "PHASES": rng.choice(["ABC", "A"], n_t),
            "FPARENT": circ[cc[t_seg]],
            "OWNER1": rng.choice(["CHEC", "PARTICULAR"], n_t, p=[0.8, 0.2]),
            "TRFTYPE": rng.choice(["MONOFASICO", "TRIFASICO"], n_t),
            "ELNODE": down[t_seg],
            "IMPEDANCE": rng.uniform(2, 5, n_t).round(2),
            "DATE_FAB": date_fab,
            "MARCA": rng.choice(["ABB", "SIEMENS", "MAGNETRON"], n_t),
            "TIPO_SUB": rng.choice(["POSTE", "PEDESTAL"], n_t, p=[0.9, 0.1]),
            "KVA": rng.choice([15.0, 25.0, 37.5, 50.0, 75.0], n_t),
            "KV1": 13.2,
            "USUARIOS0": rng.integers(3, 120, n_t),
            "LONGITUD": seg_lon2[t_seg] + rng.normal(0, 20 / _M_PER_DEG, n_t),
            "LATITUD": seg_lat2[t_seg] + rng.normal(0, 20 / _M_PER_DEG, n_t),
            "DEP": "CALDAS",
            "MUN": redmt["MUN"].to_numpy()[t_seg],
            "first_m": first_m,
            "last_m": last_m,
        }
    )
    frail_t = rng.gamma(0.7, 1 / 0.7, n_t)

    # --- switches on segments
    n_s = max(1, round(0.15 * C * S))
    s_seg = rng.choice(C * S, n_s, replace=False)
    switches = pd.DataFrame(
        {
            "CODE": [f"W{i:06d}" for i in range(n_s)],
            "ASSEMBLY": rng.choice(["RECONECTADOR", "CORTACIRCUITO", "SECCIONADOR"], n_s, p=[0.2, 0.6, 0.2]),
            "PHASES": "ABC",
            "FPARENT": circ[cc[s_seg]],
            "KV": 13.2,
            "STATE": "CERRADO",
            "LINESECTIO": seg_code[s_seg],
            "LONGITUD": seg_lon1[s_seg],
            "LATITUD": seg_lat1[s_seg],
            "DEP": "CALDAS",
            "MUN": redmt["MUN"].to_numpy()[s_seg],
        }
    )

    # --- weather: daily per municipality with a seasonal cycle
    days = pd.date_range(months[0].replace(day=1), months[-1], freq="D")
    doy = days.dayofyear.to_numpy()
    clima = []
    for mi, m in enumerate(muns):
        wet = 1 + 0.6 * np.sin(2 * np.pi * (doy / 365.25) * 2 + mi)  # bimodal rainy seasons
        clima.append(
            pd.DataFrame(
                {
                    "FECHA": days,
                    "DEP": "CALDAS",
                    "MUN": m,
                    "precip": (rng.gamma(0.6, 8 * wet)).round(1),
                    "temp": (19 + 3 * np.sin(2 * np.pi * doy / 365.25) + rng.normal(0, 1.5, len(days))).round(1),
                    "rh": rng.uniform(60, 95, len(days)).round(0),
                    "wind_spd": rng.gamma(2, 1, len(days)).round(1),
                    "wind_gust_spd": rng.gamma(3, 2, len(days)).round(1),
                }
            )
        )
    clima = pd.concat(clima, ignore_index=True)
    mon_of_day = (days.year - months[0].year) * 12 + days.month - months[0].month
    rain_m = np.zeros((len(muns), n_m))
    heat_m = np.zeros((len(muns), n_m))
    for mi in range(len(muns)):
        sub = clima.iloc[mi * len(days) : (mi + 1) * len(days)]
        rain_m[mi] = np.bincount(mon_of_day, sub["precip"].to_numpy(), n_m)
        heat_m[mi] = np.bincount(mon_of_day, sub["temp"].to_numpy(), n_m) / np.bincount(mon_of_day, None, n_m)
    rain_rel = rain_m / rain_m.mean()
    heat_rel = np.clip(heat_m - heat_m.mean(), 0, None)

    # --- lightning: per circuit and month, clustered around the circuit's nodes
    storm = rng.gamma(1.0, 1.0, C)
    season = 1 + 0.8 * np.sin(2 * np.pi * (months.month.to_numpy() / 12.0))
    n_str = rng.poisson(np.outer(storm, season) * 2.0 * S / 10)  # (C, n_m)
    sc, sm = np.nonzero(n_str)
    rep = n_str[sc, sm]
    sc, sm = np.repeat(sc, rep), np.repeat(sm, rep)
    node_pick = rng.integers(0, S + 1, len(sc))
    secs = rng.uniform(0, 27 * 86400, len(sc))
    rayos = pd.DataFrame(
        {
            "ID": np.arange(len(sc), dtype=np.int64),
            "LATITUD": lat[sc, node_pick] + rng.normal(0, 400 / _M_PER_DEG, len(sc)),
            "LONGITUD": lon[sc, node_pick] + rng.normal(0, 400 / _M_PER_DEG, len(sc)),
            "TIPO": "CG",
            "CORRIENTE": rng.normal(-20, 10, len(sc)).round(1),
            "FECHA": months[sm].to_period("M").start_time + pd.to_timedelta(secs, unit="s"),
            "MUN": np.array(muns, dtype=object)[circ_mun[sc]],
        }
    )
    light_cm = n_str / (S + 1)  # strokes per node and month on the circuit

    # --- vegetation records near segments (count and risk driven by a per-segment vegetation level)
    veg_level = rng.gamma(0.5, 2.0, C * S)
    n_v = rng.poisson(veg_level)
    vs = np.repeat(np.arange(C * S), n_v)
    frac = rng.random(len(vs))
    p_alto = np.clip(veg_level[vs] / 4, 0.05, 0.9)
    u = rng.random(len(vs))
    risk = np.where(u < p_alto, "Alto", np.where(u < p_alto + 0.5 * (1 - p_alto), "Medio", "Bajo"))
    vfecha = pd.Timestamp(start) + pd.to_timedelta(rng.uniform(-365, n_m * 30.4, len(vs)), unit="D")
    vegetacion = pd.DataFrame(
        {
            "NOM_COMUN": rng.choice(["GUADUA", "YARUMO", "EUCALIPTO"], len(vs)),
            "TIPO_VEGET": "Arbol",
            "ESTADO_INICIAL": "Nuevo",
            "FECHA": vfecha.normalize(),
            "NIVEL_RIES": risk,
            "CIRCUITO_TRAMO": redmt["FPARENT"].to_numpy()[vs],
            "NODO_1": redmt["ELNODE1"].to_numpy()[vs],
            "NODO_2": redmt["ELNODE2"].to_numpy()[vs],
            "LONGITUD": seg_lon1[vs] + frac * (seg_lon2[vs] - seg_lon1[vs]) + rng.normal(0, 10 / _M_PER_DEG, len(vs)),
            "LATITUD": seg_lat1[vs] + frac * (seg_lat2[vs] - seg_lat1[vs]) + rng.normal(0, 10 / _M_PER_DEG, len(vs)),
            "DEP": "CALDAS",
            "MUN": redmt["MUN"].to_numpy()[vs],
        }
    )
    veg_alto_seg = np.bincount(vs[risk == "Alto"], minlength=C * S)

    # --- events from the hazard model, per asset and month
    t_mun = circ_mun[cc[t_seg]]
    age_m = age0[:, None] + np.arange(n_m)[None, :] / 12.0
    lam_t = event_rate * frail_t[:, None] * (
        1
        + 0.8 * veg_alto_seg[t_seg][:, None] * rain_rel[t_mun]
        + 1.5 * (~guard[t_seg])[:, None] * light_cm[cc[t_seg]]
        + 0.15 * (age_m / 10.0) * heat_rel[t_mun]
    )
    alive = (np.arange(n_m)[None, :] >= first_m[:, None]) & (np.arange(n_m)[None, :] <= last_m[:, None])
    cnt_t = rng.poisson(lam_t * alive)
    s_mun = circ_mun[cc[s_seg]]
    lam_s = 0.5 * event_rate * frail_seg[s_seg][:, None] * (1 + 0.5 * rain_rel[s_mun])
    cnt_s = rng.poisson(np.broadcast_to(lam_s, (n_s, n_m)))
    lam_g = 0.2 * event_rate * frail_seg[:, None] * (1 + 0.5 * veg_alto_seg[:, None] * rain_rel[circ_mun[cc]])
    cnt_g = rng.poisson(lam_g)
    users_t = trafos["USUARIOS0"].to_numpy()
    circ_users = np.bincount(cc[t_seg], users_t, C)
    parts = []
    for cnt, codes, kind, users in (
        (cnt_t, trafos["CODE"].to_numpy(), "transformador", users_t),
        (cnt_s, switches["CODE"].to_numpy(), "interruptor", None),
        (cnt_g, seg_code, "tramo de linea", None),
    ):
        a, m = np.nonzero(cnt)
        rep = cnt[a, m]
        a, m = np.repeat(a, rep), np.repeat(m, rep)
        if kind == "transformador":
            cu, circ_of = users[a], circ[cc[t_seg[a]]]
        elif kind == "interruptor":
            circ_i = cc[s_seg[a]]
            cu, circ_of = (circ_users[circ_i] * rng.uniform(0.05, 0.6, len(a))).astype(int), circ[circ_i]
        else:
            cu, circ_of = (circ_users[cc[a]] * rng.uniform(0.01, 0.3, len(a))).astype(int), circ[cc[a]]
        parts.append(pd.DataFrame({"equipo_ope": codes[a], "tipo_equi_ope": kind, "cto_equi_ope": circ_of,
                                   "m": m, "cnt_usus": cu}))
    ev = pd.concat(parts, ignore_index=True)
    ev = ev.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    n_e = len(ev)
    ini = months[ev["m"].to_numpy()].to_period("M").start_time + pd.to_timedelta(
        rng.uniform(0, 27.5 * 86400, n_e), unit="s"
    )
    dur = np.round(rng.lognormal(0.5, 1.2, n_e), 4)
    month_users = np.array(
        [users_t[(first_m <= j) & (last_m >= j)].sum() + 2 * j for j in range(n_m)], dtype=float
    )
    n_tot = month_users[ev["m"].to_numpy()]
    ev_df = pd.DataFrame(
        {
            "evento": np.arange(1, n_e + 1, dtype=np.int64),
            "periodo": (ini.year * 100 + ini.month).astype(np.int32),
            "equipo_ope": ev["equipo_ope"],
            "tipo_equi_ope": ev["tipo_equi_ope"],
            "cto_equi_ope": ev["cto_equi_ope"],
            "tipo_elemento": "13.2",
            "inicio": ini,
            "fin": ini + pd.to_timedelta(dur, unit="h"),
            "duracion_h": dur,
            "tipo_duracion": np.where(dur * 60 <= 3, "<= 3 min", "> 3 min"),
            "causa": rng.choice(["27", "30", "40", "29"], n_e),
            "tipo_causa": np.where(rng.random(n_e) < 0.9, "NP", "P"),
            "CNT_TRAFOS_AFEC": 1,
            "cnt_usus": ev["cnt_usus"].astype(np.int32),
            "SAIFI": ev["cnt_usus"] / n_tot,
            "SAIDI": dur * ev["cnt_usus"] / n_tot,
        }
    )

    # --- write: static rows x monthly snapshots expanded inside DuckDB
    con = connect(path)
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("months_df", pd.DataFrame({"FECHA": months.date, "mi": np.arange(n_m)}))
        con.register("redmt_s", redmt)
        con.execute("INSERT INTO redmt BY NAME SELECT r.*, m.FECHA FROM redmt_s r CROSS JOIN months_df m")
        con.register("trafos_s", trafos)
        con.execute(
            """INSERT INTO trafos BY NAME SELECT t.* EXCLUDE (USUARIOS0, first_m, last_m),
                   (t.USUARIOS0 + (m.mi * 7 + hash(t.CODE) % 5) // 36)::INTEGER AS USUARIOS, m.FECHA
               FROM trafos_s t JOIN months_df m ON m.mi BETWEEN t.first_m AND t.last_m"""
        )
        con.register("switches_s", switches)
        con.execute("INSERT INTO switches BY NAME SELECT s.*, m.FECHA FROM switches_s s CROSS JOIN months_df m")
        for name, df in (("clima", clima), ("rayos", rayos), ("vegetacion", vegetacion), ("interrupciones", ev_df)):
            con.register(f"{name}_df", df)
            con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM {name}_df")
            con.unregister(f"{name}_df")
    finally:
        con.close()
    return path
