"""Outage events (``interrupciones``) drawn from the hazard model of :mod:`.hazards`.

Per month: Poisson faults per (municipality, day) for each component, assigned to assets in
proportion to their weights; lightning faults from that month's strokes. Each fault is then
resolved on the radial tree: the operating device (fuse / recloser / breaker upstream, or the
transformer itself), its downstream customers and transformers in that month, a duration drawn from
the profile's distribution, a cause code and, for some breaker/recloser events, a second restoration
row on the sectionaliser that isolated the faulted section.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridcrit.data.synth.exposure import (
    MEAN_PRECIP,
    PRECIP_CLIM,
    MonthWeather,
    Strokes,
    days_in,
    month_of,
    precip_factor_mun,
)
from gridcrit.data.synth.geography import MUN_ALT, mean_temperature
from gridcrit.data.synth.hazards import (
    COMPONENTS,
    FUSE_MISCOORDINATION_P,
    LIGHTNING_P0,
    LINE_SEGMENT_DEVICE_P,
    PLANNED_CAUSES,
    PLANNED_PER_MONTH_CHEC,
    RESTORATION_STEP_P,
    SUBSTATION_PER_MONTH_CHEC,
    Component,
)
from gridcrit.data.synth.network import BREAKER, FUSE, RECLOSER, SECTIONALISER, Network
from gridcrit.data.synth.scales import CHEC_SEGMENTS, MONTH_2019_01, STREAM_EVENTS, stream

# Duration of sustained interruptions (hours) as a piecewise log-linear quantile function fitted to
# the profile's unplanned 13.2 kV subset (p25 0.24 h, p50 2.17 h, p75 6.37 h, mean 5.7 h, max 393 h)
# once the ~14 % of '<= 3 min' rows are set apart.
_Q_P = np.array([0.0, 0.125, 0.417, 0.708, 0.9, 0.97, 0.995, 1.0])
_Q_H = np.log(np.array([0.051, 0.237, 2.167, 6.37, 13.0, 30.0, 70.0, 390.0]))
_MID_2021 = MONTH_2019_01 + 33  # ageing trends are normalised at mid-period


def sustained_hours(u: np.ndarray) -> np.ndarray:
    return np.exp(np.interp(u, _Q_P, _Q_H))


def _daily_factor(kind: str, w: MonthWeather, month_index: int) -> np.ndarray:
    nm, nd = w.precip.shape
    if kind == "rain":
        return 0.3 + 0.7 * w.precip / MEAN_PRECIP
    if kind == "soil":
        return 0.5 + 0.5 * w.precip / MEAN_PRECIP
    if kind == "heat":
        return np.exp(0.15 * (w.temp - 22.0))
    if kind == "weekday":
        y, m = month_of(month_index)
        first = np.datetime64(f"{y:04d}-{m:02d}-01")
        dow = ((first - np.datetime64("1970-01-05")).astype(int) + np.arange(nd)) % 7  # 0 = Monday
        f = np.where(dow == 6, 0.55, np.where(dow == 5, 0.9, 1.15))
        return np.broadcast_to(f, (nm, nd))
    return np.ones((nm, nd))


def _clim_factor(kind: str) -> np.ndarray:
    """Climatological mean of the daily factor per municipality (used only to normalise base rates)."""
    p = PRECIP_CLIM.mean() * precip_factor_mun()
    if kind == "rain":
        return 0.3 + 0.7 * p / MEAN_PRECIP
    if kind == "soil":
        return 0.5 + 0.5 * p / MEAN_PRECIP
    if kind == "heat":
        return np.exp(0.15 * (mean_temperature(MUN_ALT) - 22.0) + 0.5 * 0.15**2)
    if kind == "weekday":
        return np.full(len(MUN_ALT), (5 * 1.15 + 0.9 + 0.55) / 7)
    return np.ones(len(MUN_ALT))


def asset_weights(net: Network, comp: Component) -> tuple[np.ndarray, np.ndarray]:
    """(x_i, municipality of asset i) for a Poisson component; formulas as documented in hazards."""
    sc = net.node_circ[net.seg_node]
    km = net.seg_len_m / 1000.0
    if comp.asset == "segment":
        mun = net.circ_mun[sc]
        if comp.driver == "vegetation":
            x = km * net.seg_veg
        elif comp.driver == "animals":
            x = km * np.where(net.seg_covered, 0.3, 2.0)
        elif comp.driver == "third_party":
            x = km * np.where(net.circ_urban[sc], 3.0, 1.0)
        elif comp.driver == "equipment":
            x = km * np.exp(0.05 * (2019.0 - net.seg_year))
        else:
            x = km.copy()
        return x, mun
    if comp.asset == "trafo":
        tc = net.node_circ[net.tr_node]
        mun = net.circ_mun[tc]
        if comp.driver == "age_heat":
            cust = net.customers(MONTH_2019_01).astype(float)
            x = np.exp(0.04 * (2019.0 - net.tr_fab)) * np.sqrt(np.maximum(cust, 1) / net.tr_kva)
        elif comp.driver == "animals":  # coefficients documented in hazards.COMPONENTS (truth.json)
            k = comp.coefficients
            grp = np.array([k["group"][g] for g in net.circ_grupo[tc]], dtype=float)
            fseg = net.node_seg[net.tr_node]
            covered = np.where(fseg >= 0, net.seg_covered[np.maximum(fseg, 0)], False)
            ap_at = np.full(len(net.node_parent), -1, dtype=np.int64)
            ap_at[net.ap_node] = np.arange(len(net.ap_node))
            a = ap_at[net.tr_node]
            wood = np.where(a >= 0, net.ap_material[np.maximum(a, 0)] == "MADERA", False)
            x = grp * np.where(covered, k["covered_feeder"], k["bare_feeder"]) * np.where(wood, k["wooden_pole"], 1.0)
        else:
            x = np.ones(len(tc))
        return x, mun
    if comp.asset == "support":
        mun = net.circ_mun[net.node_circ[net.ap_node]]
        mat = {"MADERA": 5.0, "METALICO": 1.5, "CONCRETO": 1.0, "FIBRA DE VIDRIO": 0.8}
        x = np.array([mat[m] for m in net.ap_material]) * np.where(net.ap_height >= 14, 1.3, 1.0)
        return x, mun
    raise ValueError(comp.asset)


@dataclass
class _Prepared:
    comp: Component
    index: int
    x: np.ndarray
    order: np.ndarray  # assets sorted by municipality
    cum: np.ndarray  # cumulative weights in that order
    mun_lo: np.ndarray  # cumulative weight before each municipality's first asset
    mun_x: np.ndarray  # total weight per municipality
    rate: float  # r_c (per unit weight per day)


class EventModel:
    """Draws each month's outage rows for a network and hazard multipliers."""

    def __init__(self, net: Network, hazards: dict[str, float]):
        self.net = net
        self.hazards = hazards
        self.size = net.n_segments / CHEC_SEGMENTS
        nm = len(MUN_ALT)
        self.prepared: list[_Prepared] = []
        self.rates: dict[str, float] = {}
        for i, comp in enumerate(COMPONENTS):
            if comp.asset == "stroke":
                continue
            x, mun = asset_weights(net, comp)
            order = np.argsort(mun, kind="stable")
            cum = np.cumsum(x[order])
            mun_x = np.bincount(mun, weights=x, minlength=nm)
            mun_lo = np.concatenate([[0.0], np.cumsum(mun_x)[:-1]])
            norm = float((x * _clim_factor(comp.weather)[mun]).sum())
            rate = comp.events_per_month_chec * self.size / (30.44 * norm) if norm > 0 else 0.0
            self.rates[f"{comp.driver}/{comp.asset}/{i}"] = rate
            self.prepared.append(_Prepared(comp, i, x, order, cum, mun_lo, mun_x, rate))
        self.lightning_index = next(i for i, c in enumerate(COMPONENTS) if c.asset == "stroke")
        self.node_tr = np.full(len(net.node_parent), -1, dtype=np.int64)
        self.node_tr[net.tr_node] = np.arange(len(net.tr_node))
        self.sw_node = net.seg_node[net.sw_seg]
        self.sw_circ = net.node_circ[self.sw_node]
        self.tr_circ = net.node_circ[net.tr_node]
        self.breaker_of_circ = np.full(len(net.circ_code), -1, dtype=np.int64)
        br = np.flatnonzero(net.sw_kind == BREAKER)
        self.breaker_of_circ[self.sw_circ[br]] = br

    # ------------------------------------------------------------------------------------------------
    def month(
        self, month_index: int, weather: MonthWeather, strokes: Strokes, seed: int
    ) -> dict[str, np.ndarray]:
        """All interruption rows of one month (plus hidden columns ``_driver`` and ``_asset``)."""
        net = self.net
        rng = stream(seed, net.scale, STREAM_EVENTS, month_index, *self._hazard_key())
        nd = days_in(month_index)
        comp_i, kind, node, tr, t = [], [], [], [], []  # kind: 0 line fault, 1 transformer fault

        for p in self.prepared:
            c = p.comp
            h = self.hazards[c.driver]
            if h == 0 or p.rate == 0:
                continue
            g = np.exp(0.04 * (month_index - _MID_2021) / 12.0) if c.driver == "age_heat" else 1.0
            lam = p.rate * h * g * p.mun_x[:, None] * _daily_factor(c.weather, weather, month_index)
            cnt = rng.poisson(lam)
            mun_e, day_e = np.nonzero(cnt)
            reps = cnt[mun_e, day_e]
            mun_e, day_e = np.repeat(mun_e, reps), np.repeat(day_e, reps)
            n = len(mun_e)
            target = p.mun_lo[mun_e] + rng.random(n) * p.mun_x[mun_e]
            j = np.minimum(np.searchsorted(p.cum, target, side="right"), len(p.cum) - 1)
            asset = p.order[j]
            if c.hour is None:
                hour = rng.random(n) * 24.0
            else:
                hour = np.clip(rng.normal(c.hour[0], c.hour[1], n), 0.0, 23.9997)
            comp_i.append(np.full(n, p.index))
            t.append(np.floor(day_e * 86400.0 + hour * 3600.0))
            if c.asset == "trafo":
                kind.append(np.ones(n, dtype=np.int8))
                tr.append(asset)
                node.append(net.tr_node[asset])
            else:
                kind.append(np.zeros(n, dtype=np.int8))
                tr.append(np.full(n, -1))
                node.append(net.seg_node[asset] if c.asset == "segment" else net.ap_node[asset])

        # lightning: each CG stroke may fault its nearest segment (or the transformer on that node)
        hl = self.hazards["lightning"]
        if hl > 0 and len(strokes):
            sn = strokes.node
            seg = net.node_seg[sn]
            p = (
                LIGHTNING_P0
                * hl
                * np.where(net.seg_guard[seg], 1.0, 3.0)
                * np.where(net.node_ap_ground[sn], 1.0, 1.5)
                * np.abs(strokes.current)
                / 22.0
                * np.exp(-strokes.dist_m / 100.0)
            )
            hit = strokes.cg & (rng.random(len(sn)) < np.minimum(p, 0.9))
            hn = sn[hit]
            trh = self.node_tr[hn]
            to_tr = (trh >= 0) & (rng.random(len(hn)) < 0.45)
            comp_i.append(np.full(len(hn), self.lightning_index))
            kind.append(to_tr.astype(np.int8))
            node.append(hn)
            tr.append(np.where(to_tr, trh, -1))
            t.append(strokes.time_s[hit])

        if not comp_i:  # every driver switched off
            comp_i, kind, node, tr, t = [np.zeros(0, np.int64)], [np.zeros(0, np.int8)], [np.zeros(0, np.int64)], \
                [np.zeros(0, np.int64)], [np.zeros(0)]
        comp_i = np.concatenate(comp_i).astype(np.int64)
        kind = np.concatenate(kind)
        node = np.concatenate(node).astype(np.int64)
        tr = np.concatenate(tr).astype(np.int64)
        t = np.concatenate(t)
        t = np.minimum(t, nd * 86400 - 1)
        rows = self._resolve(rng, month_index, comp_i, kind, node, tr, t)
        extra = self._planned_and_substation(rng, month_index)
        return {k: np.concatenate([rows[k], extra[k]]) for k in rows}

    def _hazard_key(self) -> list[int]:
        # hazards change the month's stream only when they differ from the default (1.0 everywhere)
        vals = [self.hazards[k] for k in sorted(self.hazards)]
        if all(v == 1.0 for v in vals):
            return []
        return [round(v * 1000) for v in vals]

    # ------------------------------------------------------------------------------------------------
    def _resolve(self, rng, month_index, comp_i, kind, node, tr, t) -> dict[str, np.ndarray]:
        net = self.net
        n = len(comp_i)
        transient_p = np.array([c.transient for c in COMPONENTS])[comp_i]
        power = np.array([c.duration_power for c in COMPONENTS])[comp_i]
        circ = net.node_circ[node]
        power = power * np.where(net.circ_urban[circ], 1.25, 1.0)  # towns are restored faster
        transient = rng.random(n) < transient_p
        dur_s = np.where(
            transient,
            np.floor(rng.random(n) * 181.0),
            np.round(sustained_hours(rng.random(n) ** power) * 3600.0),
        )
        line = kind == 0
        # operating device of line faults
        dev = np.where(transient, net.node_prot_rb[node], net.node_prot[node])
        mis = (
            line
            & ~transient
            & (net.sw_kind[np.maximum(dev, 0)] == FUSE)
            & (rng.random(n) < FUSE_MISCOORDINATION_P)
        )
        dev = np.where(mis, net.node_prot_rb[node], dev)
        # big devices are restored sooner (crews switch around the fault); quantile u -> u**power
        dk = net.sw_kind[np.maximum(dev, 0)]
        dev_power = np.where(dk == BREAKER, 1.5, np.where(dk == RECLOSER, 1.25, 0.75))  # fuses: longer repairs
        dur_s = np.where(
            line & ~transient, np.round(sustained_hours(rng.random(n) ** (power * dev_power)) * 3600.0), dur_s
        )
        # a feeder's breaker or a recloser is not left open for days: crews switch the healthy part back.
        # With a sectionaliser the long repair goes on under it (the two-step rows below); without one the
        # row of the big device ends at the switching (the faulted part's customers are not modelled apart)
        cap_s = np.round(np.exp(rng.normal(np.log(np.where(dk == BREAKER, 1.0, 2.5) * 3600.0), 0.6, n)))
        as_segment = line & (rng.random(n) < LINE_SEGMENT_DEVICE_P)
        # restoration in two steps: device trips everything, a sectionaliser isolates the faulted part
        sec = net.node_sec[node]
        dev_node = np.where(line, self.sw_node[np.maximum(dev, 0)], node)
        sec_node = self.sw_node[np.maximum(sec, 0)]
        two = (
            line
            & ~transient
            & ~as_segment
            & (sec >= 0)
            & np.isin(net.sw_kind[np.maximum(dev, 0)], (BREAKER, RECLOSER))
            & (net.node_depth[sec_node] > net.node_depth[dev_node])
            & (rng.random(n) < RESTORATION_STEP_P)
        )
        capped = line & ~transient & ~two & np.isin(dk, (BREAKER, RECLOSER))
        dur_s = np.where(capped, np.minimum(dur_s, cap_s), dur_s)
        # the first step is the crew's switching (about 40 min), not a share of the repair: the customers
        # upstream of the sectionaliser are back long before the fault is mended
        switch_s = np.exp(rng.normal(np.log(2400.0), 0.5, n))
        step_s = np.where(two, np.round(np.minimum(dur_s * rng.uniform(0.1, 0.45, n), switch_s)), dur_s)

        cust = net.customers(month_index)
        ccum = np.concatenate([[0], np.cumsum(cust)])
        n_total = int(cust.sum())
        # transformer faults / line faults recorded on the segment / on a switch
        down_node = np.where(line, np.where(as_segment, node, dev_node), node)
        usus = np.where(line, net.downstream_customers(down_node, ccum), cust[np.maximum(tr, 0)])
        ntr = np.where(line, net.downstream_trafos(down_node), 1)
        equipo = np.where(
            line,
            np.where(as_segment, net.seg_code[net.node_seg[node]], net.sw_code[np.maximum(dev, 0)]),
            net.tr_code[np.maximum(tr, 0)],
        )
        tipo_equi = np.where(line, np.where(as_segment, "tramo de linea", "interruptor"), "transformador")
        kv = net.circ_kv[circ]
        elem = np.where(
            line, np.where(kv == 13.2, "13.2", "33"), np.where(rng.random(n) < 0.004, "13.2", "TFD")
        )
        causes = self._causes(rng, comp_i)
        first = {
            "t": t,
            "dur": step_s,
            "equipo": equipo,
            "tipo": tipo_equi,
            "circ": circ,
            "elem": elem,
            "causa": causes,
            "tipo_causa": np.full(n, "NP", dtype=object),
            "trafos": ntr,
            "usus": usus,
            "event": np.arange(n),
            "comp": comp_i,
            "node": node,
            "tr": tr,
        }
        # second rows: the sectionaliser's downstream part stays out for the rest of the outage
        k = np.flatnonzero(two)
        sn = sec_node[k]
        second = {
            "t": t[k] + step_s[k],
            "dur": dur_s[k] - step_s[k],
            "equipo": net.sw_code[sec[k]],
            "tipo": np.full(len(k), "interruptor", dtype=object),
            "circ": circ[k],
            "elem": elem[k],
            "causa": causes[k],
            "tipo_causa": first["tipo_causa"][k],
            "trafos": net.downstream_trafos(sn),
            "usus": net.downstream_customers(sn, ccum),
            "event": k,
            "comp": comp_i[k],
            "node": node[k],
            "tr": tr[k],
        }
        both = {key: np.concatenate([first[key], second[key]]) for key in first}
        return self._finish(both, month_index, n_total, n)

    def _causes(self, rng, comp_i: np.ndarray) -> np.ndarray:
        out = np.empty(len(comp_i), dtype=object)
        u = rng.random(len(comp_i))
        for i, c in enumerate(COMPONENTS):
            m = comp_i == i
            if not m.any():
                continue
            codes = np.array(list(c.causes), dtype=object)
            w = np.cumsum(list(c.causes.values()))
            out[m] = codes[np.minimum(np.searchsorted(w / w[-1], u[m], side="right"), len(codes) - 1)]
        return out

    def _planned_and_substation(self, rng, month_index) -> dict[str, np.ndarray]:
        net = self.net
        nd = days_in(month_index)
        y, mo = month_of(month_index)
        first_dow = int((np.datetime64(f"{y:04d}-{mo:02d}-01") - np.datetime64("1970-01-05")).astype(int) % 7)
        weekdays = np.array([d for d in range(nd) if (first_dow + d) % 7 < 5])
        # planned work: on sectionalisers, fuses, reclosers or the breaker, weekday mornings
        n = rng.poisson(PLANNED_PER_MONTH_CHEC * self.size)
        kinds = net.sw_kind
        w = np.select([kinds == SECTIONALISER, kinds == FUSE, kinds == RECLOSER], [6.0, 1.0, 3.0], 4.0)
        cw = np.cumsum(w)
        dev = np.minimum(np.searchsorted(cw, rng.random(n) * cw[-1], side="right"), len(cw) - 1)
        t = rng.choice(weekdays, n) * 86400.0 + np.floor(rng.uniform(7.0, 10.0, n) * 12) * 300.0
        dur = np.round(rng.uniform(1.5, 9.0, n) * 12) * 300.0
        codes = np.array(list(PLANNED_CAUSES), dtype=object)
        causa = codes[rng.choice(len(codes), n, p=np.array(list(PLANNED_CAUSES.values())))]
        # substation events (power transformer / 115 kV): the whole circuit goes out
        ns = rng.poisson(SUBSTATION_PER_MONTH_CHEC * self.size)
        circ_s = rng.integers(0, len(net.circ_code), ns)
        dev_s = self.breaker_of_circ[circ_s]
        t_s = np.floor(rng.random(ns) * nd * 86400.0)
        dur_s = np.round(sustained_hours(rng.random(ns) ** 1.2) * 3600.0)
        elem_s = np.where(rng.random(ns) < 0.7, "TFP", "115").astype(object)

        devs = np.concatenate([dev, dev_s])
        circ = self.sw_circ[devs]
        cust = net.customers(month_index)
        ccum = np.concatenate([[0], np.cumsum(cust)])
        dn = self.sw_node[devs]
        rows = {
            "t": np.concatenate([t, t_s]),
            "dur": np.concatenate([dur, dur_s]),
            "equipo": net.sw_code[devs],
            "tipo": np.full(n + ns, "interruptor", dtype=object),
            "circ": circ,
            "elem": np.concatenate(
                [np.where(net.circ_kv[circ[:n]] == 13.2, "13.2", "33").astype(object), elem_s]
            ),
            "causa": np.concatenate([causa, np.full(ns, "33.0", dtype=object)]),
            "tipo_causa": np.concatenate([np.full(n, "P", dtype=object), np.full(ns, "NP", dtype=object)]),
            "trafos": net.downstream_trafos(dn),
            "usus": net.downstream_customers(dn, ccum),
            "event": np.arange(n + ns),
            "comp": np.concatenate([np.full(n, -1), np.full(ns, -2)]),
            "node": dn,
            "tr": np.full(n + ns, -1),
        }
        return self._finish(rows, month_index, int(cust.sum()), n + ns, offset=500_000)

    def _finish(self, r: dict, month_index: int, n_total: int, n_events: int, offset: int = 0) -> dict:
        """Event ids (in time order), timestamps, indices, missing tokens; returns the table's columns."""
        y, mo = month_of(month_index)
        # evento: month_index·10^6 + rank of the event's start within the month (+ offset for planned)
        first_t = np.full(n_events, np.inf)
        np.minimum.at(first_t, r["event"], r["t"])
        rank = np.empty(n_events, dtype=np.int64)
        rank[np.argsort(first_t, kind="stable")] = np.arange(n_events)
        evento = month_index * 1_000_000 + offset + rank[r["event"]] + 1
        t0 = np.datetime64(f"{y:04d}-{mo:02d}-01T00:00:00", "s")
        inicio = t0 + r["t"].astype("int64").astype("timedelta64[s]")
        dur_s = r["dur"].astype(np.int64)
        fin = inicio + dur_s.astype("timedelta64[s]")
        dh = np.round(dur_s / 3600.0, 6)
        usus = r["usus"].astype(np.int64)
        driver_names = np.array([c.driver for c in COMPONENTS] + ["substation", "planned"], dtype=object)
        assets = self._asset_codes(r["comp"], r["node"], r["tr"])
        return {
            "evento": evento,
            "periodo": np.full(len(evento), y * 100 + mo, dtype=np.int64),
            "equipo_ope": r["equipo"].astype(object),
            "tipo_equi_ope": r["tipo"].astype(object),
            "cto_equi_ope": self.net.circ_code[r["circ"]],
            "tipo_elemento": r["elem"].astype(object),
            "inicio": inicio,
            "fin": fin,
            "duracion_h": dh,
            "tipo_duracion": np.where(dur_s > 180, "> 3 min", "<= 3 min").astype(object),
            "causa": r["causa"],
            "tipo_causa": r["tipo_causa"],
            "CNT_TRAFOS_AFEC": r["trafos"].astype(np.int64),
            "cnt_usus": usus,
            "SAIDI": dh * usus / n_total,
            "SAIFI": usus / n_total,
            "_driver": driver_names[r["comp"]],
            "_asset": assets,
        }

    def _asset_codes(self, comp, node, tr) -> np.ndarray:
        net = self.net
        seg = net.node_seg[node]
        return np.where(
            tr >= 0, net.tr_code[np.maximum(tr, 0)], np.where(seg >= 0, net.seg_code[np.maximum(seg, 0)], "")
        ).astype(object)
