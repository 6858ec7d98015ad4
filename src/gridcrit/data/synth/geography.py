"""Geography of the synthetic utility: CHEC's 43 municipalities and substation codes.

Municipality centres are medians of the public ``VegetacionExistente.csv`` coordinates (rounded);
altitudes are approximate town elevations (m a.s.l.). Substation codes and the municipality each one
serves are the three-letter prefixes of the circuit codes seen in the same public file, with the
number of circuits seen there used as a size weight. Nothing here is read at run time.
"""

from __future__ import annotations

import numpy as np

# (DEP, MUN, lon, lat, altitude_m)
MUNICIPALITIES: tuple[tuple[str, str, float, float, float], ...] = (
    ("CALDAS", "AGUADAS", -75.461, 5.612, 2214),
    ("CALDAS", "ANSERMA", -75.786, 5.236, 1790),
    ("CALDAS", "ARANZAZU", -75.500, 5.262, 1950),
    ("CALDAS", "BELALCÁZAR", -75.816, 5.001, 1600),
    ("CALDAS", "CHINCHINÁ", -75.646, 4.989, 1360),
    ("CALDAS", "FILADELFIA", -75.558, 5.260, 1550),
    ("CALDAS", "LA DORADA", -74.682, 5.456, 180),
    ("CALDAS", "LA MERCED", -75.556, 5.393, 1500),
    ("CALDAS", "MANIZALES", -75.513, 5.057, 2150),
    ("CALDAS", "MANZANARES", -75.129, 5.255, 1800),
    ("CALDAS", "MARMATO", -75.612, 5.451, 1300),
    ("CALDAS", "MARQUETALIA", -75.022, 5.302, 1450),
    ("CALDAS", "MARULANDA", -75.225, 5.203, 2800),
    ("CALDAS", "NEIRA", -75.628, 5.191, 1950),
    ("CALDAS", "NORCASIA", -74.876, 5.573, 500),
    ("CALDAS", "PALESTINA", -75.676, 5.067, 1550),
    ("CALDAS", "PENSILVANIA", -75.131, 5.414, 2100),
    ("CALDAS", "PÁCORA", -75.481, 5.497, 1800),
    ("CALDAS", "RIOSUCIO", -75.693, 5.423, 1780),
    ("CALDAS", "RISARALDA", -75.759, 5.120, 1600),
    ("CALDAS", "SALAMINA", -75.485, 5.389, 1800),
    ("CALDAS", "SAMANÁ", -74.969, 5.525, 1450),
    ("CALDAS", "SAN JOSÉ", -75.838, 5.078, 1700),
    ("CALDAS", "SUPÍA", -75.647, 5.441, 1200),
    ("CALDAS", "VICTORIA", -74.888, 5.351, 700),
    ("CALDAS", "VILLAMARÍA", -75.508, 5.028, 1900),
    ("CALDAS", "VITERBO", -75.875, 5.067, 1000),
    ("QUINDÍO", "CIRCASIA", -75.624, 4.621, 1750),
    ("QUINDÍO", "SALENTO", -75.619, 4.639, 1900),
    ("RISARALDA", "APÍA", -75.954, 5.129, 1650),
    ("RISARALDA", "BALBOA", -75.962, 4.956, 1500),
    ("RISARALDA", "BELÉN DE UMBRÍA", -75.830, 5.202, 1550),
    ("RISARALDA", "DOSQUEBRADAS", -75.676, 4.833, 1450),
    ("RISARALDA", "GUÁTICA", -75.806, 5.310, 1900),
    ("RISARALDA", "LA CELIA", -76.003, 4.994, 1450),
    ("RISARALDA", "LA VIRGINIA", -75.879, 4.901, 900),
    ("RISARALDA", "MARSELLA", -75.739, 4.972, 1600),
    ("RISARALDA", "MISTRATÓ", -76.011, 5.378, 1500),
    ("RISARALDA", "PEREIRA", -75.717, 4.843, 1400),
    ("RISARALDA", "PUEBLO RICO", -76.074, 5.324, 1550),
    ("RISARALDA", "QUINCHÍA", -75.733, 5.287, 1800),
    ("RISARALDA", "SANTA ROSA DE CABAL", -75.638, 4.926, 1700),
    ("RISARALDA", "SANTUARIO", -75.969, 5.065, 1550),
)

MUN_DEP = np.array([m[0] for m in MUNICIPALITIES])
MUN_NAME = np.array([m[1] for m in MUNICIPALITIES])
MUN_LON = np.array([m[2] for m in MUNICIPALITIES])
MUN_LAT = np.array([m[3] for m in MUNICIPALITIES])
MUN_ALT = np.array([m[4] for m in MUNICIPALITIES], dtype=float)
MUN_INDEX = {name: i for i, name in enumerate(MUN_NAME)}

# Towns whose circuits are mostly urban (short lines, many customers per transformer).
URBAN_MUNICIPALITIES = frozenset(
    {
        "MANIZALES",
        "DOSQUEBRADAS",
        "PEREIRA",
        "CHINCHINÁ",
        "LA DORADA",
        "SANTA ROSA DE CABAL",
        "VILLAMARÍA",
        "LA VIRGINIA",
        "ANSERMA",
        "RIOSUCIO",
    }
)

# substation code -> (municipality it sits in, circuits seen in the public sample = size weight)
SUBSTATIONS: dict[str, tuple[str, int]] = {
    "AGU": ("AGUADAS", 6),
    "AMA": ("ANSERMA", 5),
    "AMR": ("PALESTINA", 3),
    "AZA": ("MANIZALES", 9),
    "AZU": ("SALAMINA", 3),
    "BEL": ("BELALCÁZAR", 4),
    "BEO": ("LA DORADA", 1),
    "BOA": ("BALBOA", 3),
    "BOL": ("PENSILVANIA", 1),
    "BQE": ("DOSQUEBRADAS", 1),
    "BUM": ("BELÉN DE UMBRÍA", 3),
    "BVA": ("LA DORADA", 1),
    "CAM": ("DOSQUEBRADAS", 3),
    "CHA": ("CHINCHINÁ", 7),
    "CHI": ("MANIZALES", 3),
    "COL": ("PÁCORA", 2),
    "DDO": ("MARMATO", 3),
    "DON": ("LA DORADA", 4),
    "DOR": ("LA DORADA", 7),
    "DQA": ("PEREIRA", 1),
    "ELA": ("VICTORIA", 1),
    "ENE": ("MANIZALES", 6),
    "ESM": ("PALESTINA", 4),
    "FIL": ("FILADELFIA", 2),
    "FLR": ("SAMANÁ", 3),
    "GRO": ("PUEBLO RICO", 1),
    "GTO": ("VICTORIA", 2),
    "HER": ("SANTA ROSA DE CABAL", 7),
    "INS": ("CHINCHINÁ", 5),
    "IRR": ("NEIRA", 6),
    "LMC": ("LA MERCED", 3),
    "MAN": ("MANIZALES", 4),
    "MAR": ("MARSELLA", 2),
    "MAZ": ("MANZANARES", 4),
    "MGT": ("RISARALDA", 3),
    "MLA": ("MARQUETALIA", 4),
    "MNA": ("MANIZALES", 1),
    "MTO": ("VILLAMARÍA", 6),
    "MTT": ("MISTRATÓ", 3),
    "NRA": ("NEIRA", 3),
    "NSA": ("NORCASIA", 3),
    "PAV": ("PEREIRA", 1),
    "PRA": ("PÁCORA", 2),
    "PRO": ("PUEBLO RICO", 4),
    "PSO": ("MANIZALES", 8),
    "PSV": ("PENSILVANIA", 2),
    "PUR": ("LA DORADA", 1),
    "QHI": ("QUINCHÍA", 4),
    "RIO": ("RIOSUCIO", 6),
    "ROS": ("DOSQUEBRADAS", 10),
    "RSA": ("RISARALDA", 2),
    "SCE": ("PUEBLO RICO", 1),
    "SCH": ("MISTRATÓ", 1),
    "SIO": ("SANTUARIO", 4),
    "SLM": ("SALAMINA", 3),
    "SNA": ("SAMANÁ", 2),
    "SUP": ("SUPÍA", 4),
    "VBO": ("SAN JOSÉ", 5),
    "VCT": ("VICTORIA", 6),
    "VIR": ("LA VIRGINIA", 3),
    "VMA": ("VILLAMARÍA", 1),
}

KM_PER_DEG_LAT = 110.57
KM_PER_DEG_LON = 111.32 * float(np.cos(np.radians(5.2)))  # at the service area's latitude


def to_km(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Local equirectangular projection (km) good enough for nearest-neighbour search at ~5° N."""
    return np.column_stack([np.asarray(lon) * KM_PER_DEG_LON, np.asarray(lat) * KM_PER_DEG_LAT])


def lightning_climatology(alt_m: np.ndarray) -> np.ndarray:
    """Relative stroke density by altitude: the Magdalena valley lowlands see the most lightning."""
    return 0.35 + 1.6 * np.exp(-np.asarray(alt_m) / 900.0)


def mean_temperature(alt_m: np.ndarray) -> np.ndarray:
    """Annual mean temperature (°C) from altitude with a tropical lapse rate of 5.8 °C/km."""
    return 28.3 - 0.0058 * np.asarray(alt_m)
