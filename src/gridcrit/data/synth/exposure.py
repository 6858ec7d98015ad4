"""Exposure tables: daily weather per municipality (``clima``), lightning strokes (``rayos``) and
vegetation inspection records (``vegetacion``).

Each month is generated from its own seed stream (seed, scale, component, month), so any window of
months reproduces exactly the same weather, strokes and inspections as a longer run over it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from gridcrit.data.synth.geography import MUN_ALT, lightning_climatology, mean_temperature, to_km
from gridcrit.data.synth.network import Network
from gridcrit.data.synth.scales import (
    CHEC_SEGMENTS,
    STREAM_LIGHTNING,
    STREAM_VEGETATION,
    STREAM_WEATHER,
    stream,
)

# Andean bimodal rainfall: wet seasons Apr-May and Oct-Nov (mm/day climatology, Jan..Dec).
PRECIP_CLIM = np.array([5.0, 5.6, 7.6, 10.6, 10.2, 6.0, 4.2, 4.6, 6.8, 10.8, 10.4, 7.2])
# Stroke activity follows the wet seasons (relative, mean 1).
LIGHTNING_SEASON = np.array([0.55, 0.6, 0.95, 1.45, 1.45, 0.85, 0.6, 0.7, 1.0, 1.45, 1.4, 1.0])
LIGHTNING_SEASON = LIGHTNING_SEASON / LIGHTNING_SEASON.mean()
STROKES_PER_MONTH_CHEC = 1_677_122 / 66.0
VEG_RECORDS_PER_MONTH_CHEC = 18_482 / 66.0
MEAN_PRECIP = 7.0  # mm/day, reference for the rain factor of the hazard model
CLIMA_FIELDS = (
    "precip",
    "temp",
    "rh",
    "wind_spd",
    "wind_gust_spd",
    "pres",
    "slp",
    "clouds",
    "solar_rad",
    "uv",
    "vis",
)


def month_of(month_index: int) -> tuple[int, int]:
    """(year, month) of a month index counted from 2000-01."""
    return 2000 + month_index // 12, month_index % 12 + 1


def days_in(month_index: int) -> int:
    y, m = month_of(month_index)
    return calendar.monthrange(y, m)[1]


def enso(month_index: np.ndarray | int) -> np.ndarray:
    """A fixed ~3.7-year wet/dry oscillation (La Niña > 0 wetter and cooler; El Niño < 0)."""
    return 0.3 * np.sin(2 * np.pi * (np.asarray(month_index) - 243) / 44.0)


def precip_factor_mun() -> np.ndarray:
    """Wetter lowland and Pacific-slope municipalities."""
    return 0.85 + 0.45 * np.exp(-MUN_ALT / 1200.0)


@dataclass
class MonthWeather:
    """Daily weather of all municipalities for one month: arrays of shape (n_mun, n_days)."""

    month_index: int
    fields: dict[str, np.ndarray]

    @property
    def precip(self) -> np.ndarray:
        return self.fields["precip"]

    @property
    def temp(self) -> np.ndarray:
        return self.fields["temp"]


def month_weather(seed: int, scale: str, month_index: int) -> MonthWeather:
    """Daily weather for every municipality (always all 43, so the weather never depends on the network)."""
    rng = stream(seed, scale, STREAM_WEATHER, month_index)
    nd = days_in(month_index)
    nm = len(MUN_ALT)
    _, mon = month_of(month_index)
    e = float(enso(month_index))
    mean = PRECIP_CLIM[mon - 1] * precip_factor_mun() * (1.0 + e)
    p_wet = np.clip(0.3 + 0.045 * mean, 0.25, 0.9)[:, None]
    wet = rng.random((nm, nd)) < p_wet
    amount = rng.gamma(0.75, (mean[:, None] / p_wet) / 0.75, (nm, nd))
    precip = np.round(np.where(wet, amount, 0.0), 1)
    t_clim = mean_temperature(MUN_ALT)[:, None]
    dry_season = 0.5 if mon in (1, 2, 7, 8) else 0.0
    temp = t_clim + dry_season - 1.2 * e + rng.normal(0, 1.0, (nm, nd)) - 0.06 * precip
    rh = np.clip(76 + 0.5 * precip - 1.5 * (temp - t_clim) + rng.normal(0, 4, (nm, nd)), 30, 100)
    wind = rng.gamma(3.0, 0.6, (nm, nd))
    gust = wind * rng.uniform(1.4, 2.4, (nm, nd)) + 0.05 * precip
    pres = 1013.25 * np.exp(-MUN_ALT / 8434.0)[:, None] + rng.normal(0, 1.2, (nm, nd))
    slp = 1012.0 + rng.normal(0, 1.5, (nm, nd))
    clouds = np.clip(45 + 2.5 * precip + rng.normal(0, 12, (nm, nd)), 0, 100)
    solar = np.clip(240 * (1 - 0.6 * clouds / 100) + rng.normal(0, 15, (nm, nd)), 5, None)
    uv = np.clip(solar / 25 + rng.normal(0, 0.8, (nm, nd)), 0, 14)
    vis = np.clip(10 - 0.12 * precip + rng.normal(0, 0.8, (nm, nd)), 0.5, 10)
    fields = {
        "precip": precip,
        "temp": np.round(temp, 1),
        "rh": np.round(rh, 0),
        "wind_spd": np.round(wind, 1),
        "wind_gust_spd": np.round(gust, 1),
        "pres": np.round(pres, 1),
        "slp": np.round(slp, 1),
        "clouds": np.round(clouds, 0),
        "solar_rad": np.round(solar, 1),
        "uv": np.round(uv, 1),
        "vis": np.round(vis, 1),
    }
    return MonthWeather(month_index, fields)


@dataclass
class Strokes:
    """Lightning strokes of one month (columns of ``rayos`` plus the nearest node index)."""

    id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    alt: np.ndarray
    cg: np.ndarray  # bool: cloud-to-ground (TIPO 'CG'), else 'IC'
    current: np.ndarray  # kA, signed
    error: np.ndarray  # km
    node: np.ndarray  # nearest segment end node
    dist_m: np.ndarray
    time_s: np.ndarray  # seconds since the month start

    def __len__(self) -> int:
        return len(self.id)


# Strike-prone sites: ground flash density varies on a few-km scale (ridges, exposed slopes), and
# stays put from year to year — RETIE's lightning risk assessment rests on that (DDT maps). The twin
# draws one smooth log-normal field per (seed, scale): exp(σ·Z), Z a unit-variance Gaussian field with
# correlation length ℓ (random Fourier features), and keeps each stroke with probability
# min(1, field / cap). So a transformer's past stroke density (a feature) tells how many strokes —
# and lightning faults — the coming months will bring, as real flash-density maps do.
HOTSPOT_SIGMA = 1.5
HOTSPOT_LENGTH_KM = 2.0
HOTSPOT_CAP_QUANTILE = 0.995
HOTSPOT_STREAM_KEY = 1_000_000  # the field's own stream, apart from the per-month streams


def hotspot_field(xy_km: np.ndarray, rng: np.random.Generator, sigma: float = HOTSPOT_SIGMA,
                  length_km: float = HOTSPOT_LENGTH_KM, n_waves: int = 256) -> np.ndarray:
    """Log-normal spatial field ``exp(σ·Z(x))`` at points ``xy_km`` (n, 2); Z has unit variance."""
    omega = rng.normal(0.0, 1.0 / length_km, (n_waves, 2))
    phase = rng.uniform(0.0, 2 * np.pi, n_waves)
    z = np.sqrt(2.0 / n_waves) * np.cos(xy_km @ omega.T + phase).sum(axis=1)
    return np.exp(sigma * z)


class LightningModel:
    """Storm cells centred near the network, seasonal, more frequent in the warm lowlands, and
    thinned by a persistent field of strike-prone sites (see ``hotspot_field``)."""

    def __init__(self, net: Network):
        self.net = net
        nodes = net.seg_node
        self.nodes = nodes
        xy = to_km(net.node_lon[nodes], net.node_lat[nodes])
        self.tree = cKDTree(xy)
        w = lightning_climatology(MUN_ALT[net.circ_mun[net.node_circ[nodes]]])
        self.cum_w = np.cumsum(w)
        field = hotspot_field(xy, stream(net.seed, net.scale, STREAM_LIGHTNING, HOTSPOT_STREAM_KEY))
        self.keep_p = np.minimum(1.0, field / np.quantile(field, HOTSPOT_CAP_QUANTILE))
        # more storms are drawn than kept, so the expected stroke count stays the calibrated one: the
        # kept share is estimated with strokes placed like month()'s (centre node + 4 km + 2.5 km)
        rng = stream(net.seed, net.scale, STREAM_LIGHTNING, HOTSPOT_STREAM_KEY + 1)
        centre = np.searchsorted(self.cum_w, rng.random(20_000) * self.cum_w[-1])
        probe = xy[centre] + rng.normal(0.0, np.hypot(4.0, 2.5), (len(centre), 2))
        kept_share = float(self.keep_p[self.tree.query(probe)[1]].mean())
        self.per_month = STROKES_PER_MONTH_CHEC * net.n_segments / CHEC_SEGMENTS / kept_share

    def month(self, seed: int, scale: str, month_index: int, weather: MonthWeather) -> Strokes:
        rng = stream(seed, scale, STREAM_LIGHTNING, month_index)
        net = self.net
        _, mon = month_of(month_index)
        nd = days_in(month_index)
        mean_per_storm = 60.0
        expected = self.per_month * LIGHTNING_SEASON[mon - 1] * (1.0 + 0.5 * float(enso(month_index)))
        n_storms = rng.poisson(expected / mean_per_storm)
        centre_node = self.nodes[np.searchsorted(self.cum_w, rng.random(n_storms) * self.cum_w[-1])]
        mun = net.circ_mun[net.node_circ[centre_node]]
        # storm day: more likely on that municipality's rainy days
        w_day = (weather.precip[mun] + 0.5) ** 1.3
        cw = np.cumsum(w_day, axis=1)
        day = (cw < rng.random(n_storms)[:, None] * cw[:, -1:]).sum(axis=1)
        start_h = np.mod(rng.normal(16.0, 3.0, n_storms), 24.0)
        dur_s = rng.uniform(20, 150, n_storms) * 60
        clon = net.node_lon[centre_node] + rng.normal(0, 4.0, n_storms) / 111.0
        clat = net.node_lat[centre_node] + rng.normal(0, 4.0, n_storms) / 111.0
        size = rng.geometric(1.0 / mean_per_storm, n_storms)
        storm = np.repeat(np.arange(n_storms), size)
        n = len(storm)
        lon = clon[storm] + rng.normal(0, 2.5, n) / 111.0
        lat = clat[storm] + rng.normal(0, 2.5, n) / 111.0
        t = day[storm] * 86400.0 + start_h[storm] * 3600.0 + rng.random(n) * dur_s[storm]
        t = np.minimum(np.floor(t), nd * 86400 - 1)
        order = np.argsort(t, kind="stable")
        lon, lat, t = lon[order], lat[order], t[order]
        cg = rng.random(n) < 0.8
        mag = np.exp(rng.normal(np.log(22.0), 0.6, n)) * np.where(cg, 1.0, 0.5)
        current = np.round(np.where(rng.random(n) < 0.88, -mag, mag), 1)
        error = np.round(rng.gamma(2.0, 0.12, n), 2)
        d_km, j = self.tree.query(to_km(lon, lat))
        kept = rng.random(n) < self.keep_p[j]
        lon, lat, t, cg, current, error, d_km, j = (a[kept] for a in (lon, lat, t, cg, current, error, d_km, j))
        n = len(j)
        node = self.nodes[j]
        alt = np.round(MUN_ALT[net.circ_mun[net.node_circ[node]]] + rng.normal(0, 120, n), 0)
        ids = month_index * 10_000_000 + np.arange(1, n + 1)
        return Strokes(
            ids,
            np.round(lon, 6),
            np.round(lat, 6),
            alt,
            cg,
            current,
            error,
            node,
            np.round(d_km * 1000.0, 1),
            t,
        )


# Species by vegetation type, with weights read off the public VegetacionExistente.csv.
VEG_TYPES = {
    "Arbol aislado": (
        7117,
        [
            "NN",
            "OTROS",
            "MATARRATON",
            "NOGAL CAFETERO",
            "GUAMO",
            "AGUACATE",
            "SAMAN",
            "CAUCHO",
            "CEDRO",
            "GUASIMO",
            "YARUMO",
            "EUCALIPTO",
        ],
    ),
    "Cerca Viva": (2274, ["MATARRATON", "NN", "OTROS", "CHILCA", "SIETE CUEROS", "QUIEBRABARRIGO"]),
    "Bosque natural": (1916, ["YARUMO", "NN", "OTROS", "CARBONERO", "LECHUDO", "TACHUELO", "DINDE"]),
    "Rastrojo": (1730, ["NN", "OTROS", "CHILCA", "LECHUDO", "ARBOLOCO"]),
    "Guadual": (1168, ["GUADUA", "CANIABRAVA"]),
    "Frutales": (1140, ["AGUACATE", "MANGO", "GUAYABO", "PLATANO", "MANDARINO"]),
    "Bosque natural secundario": (977, ["YARUMO BLANCO", "NN", "ARBOLOCO", "MESTIZO", "TACHUELO"]),
    "Cafe/sombrio": (778, ["GUAMO", "PLATANO", "NOGAL CAFETERO"]),
    "Ornamental": (582, ["PALMA", "OTROS", "CIPRES", "CAUCHO"]),
    "Plantacion": (486, ["EUCALIPTO", "PINO PATULA", "CIPRES"]),
    "Huerto": (193, ["PLATANO", "GUAYABO", "OTROS"]),
}
ESTADO = (
    ["Ejecutado", "Inspeccionado", "Existente", "Pendiente Apagon", "Pendiente Otro", "Nuevo"],
    [0.687, 0.158, 0.081, 0.054, 0.014, 0.006],
)
LADO = (
    ["Debajo", "Ambos Lados", "Derecha", "Izquierda", "Encima", "izquierda"],
    [0.447, 0.2, 0.151, 0.146, 0.043, 0.013],
)
INTER = (["Poda", "Tala", "Rocería", "Roceria"], [0.724, 0.165, 0.105, 0.006])


def vegetation_month(net: Network, seed: int, scale: str, month_index: int) -> dict[str, np.ndarray]:
    """Inspection records of one month: segments inspected in proportion to their vegetation, trees
    drawn like the real file; NIVEL_RIES leans to 'Alto' where the (latent) density is high."""
    rng = stream(seed, scale, STREAM_VEGETATION, month_index)
    n = rng.poisson(VEG_RECORDS_PER_MONTH_CHEC * net.n_segments / CHEC_SEGMENTS)
    w = net.seg_veg * net.seg_len_m
    cw = np.cumsum(w)
    seg = np.searchsorted(cw, rng.random(n) * cw[-1], side="right")
    veg = net.seg_veg[seg]
    p_alto = np.clip(0.3 + 0.16 * np.log1p(veg), 0.1, 0.88)
    u = rng.random(n)
    risk = np.where(u < p_alto, "Alto", np.where(u < p_alto + (1 - p_alto) * 0.63, "Medio", "Bajo")).astype(
        object
    )
    odd = rng.random(n)
    risk[odd < 0.008] = "No aplica"
    risk[odd > 0.9988] = "Inminente"
    types = list(VEG_TYPES)
    tw = np.array([VEG_TYPES[t][0] for t in types], dtype=float)
    ti = rng.choice(len(types), n, p=tw / tw.sum())
    species = np.empty(n, dtype=object)
    for k, t in enumerate(types):
        m = ti == k
        names = VEG_TYPES[t][1]
        pw = 1.0 / np.arange(1, len(names) + 1)
        species[m] = np.array(names, dtype=object)[rng.choice(len(names), int(m.sum()), p=pw / pw.sum())]
    node = net.seg_node[seg]
    par = net.node_parent[node]
    a, b = net.node_code[par], net.node_code[node]
    rev = net.seg_order[seg] < 0
    n1, n2 = np.where(rev, b, a), np.where(rev, a, b)
    f = rng.random(n)
    lon = net.node_lon[par] + f * (net.node_lon[node] - net.node_lon[par]) + rng.normal(0, 1e-4, n)
    lat = net.node_lat[par] + f * (net.node_lat[node] - net.node_lat[par]) + rng.normal(0, 1e-4, n)
    y, mo = month_of(month_index)
    day = rng.integers(1, days_in(month_index) + 1, n)
    fecha = np.array([f"{y:04d}-{mo:02d}-{d:02d}" for d in day], dtype=object)

    def pick(choices):
        return np.array(choices[0], dtype=object)[
            rng.choice(len(choices[0]), n, p=np.array(choices[1]) / sum(choices[1]))
        ]

    circ = net.circ_code[net.node_circ[node]]
    return {
        "NOM_COMUN": species,
        "TIPO_VEGET": np.array(types, dtype=object)[ti],
        "ESTADO_INICIAL": pick(ESTADO),
        "FECHA": fecha,
        "LADO_RED": pick(LADO),
        "DAP_ESTIM": np.round(np.clip(np.exp(rng.normal(np.log(24), 0.65, n)), 1, 300)),
        "LONG_INTER": np.round(np.clip(np.exp(rng.normal(np.log(8.5), 0.7, n)), 1, 200)),
        "TIPO_INTER": pick(INTER),
        "NIVEL_RIES": risk,
        "CIRCUITO_TRAMO": circ,
        "NODO_1": n1,
        "NODO_2": n2,
        "LONGITUD": np.round(lon, 8),
        "LATITUD": np.round(lat, 8),
        "_seg": seg,
    }
