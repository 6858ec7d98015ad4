"""The utility's tables, under the utility's own column names.

This module is the contract between every stage: the synthetic twin writes these columns, ``ingest``
validates and stores them, and reliability / features read them. Column names and codes follow
``shared/data/chec/interrupciones_profile.json`` (CHEC's exports) and ``shared/design.md`` §3.

Types are DuckDB SQL types. ``key`` columns identify a row (duplicate keys are rejected, re-loading
identical rows is a no-op). ``required`` columns must be present in a file's header; optional columns
missing from a file are stored as NULL. ``signature`` is the set of columns used to recognise a table
from a file header (all of them must be present).

Asset tables are monthly snapshots keyed by ``CODE`` + ``FECHA`` (month end); ``FPARENT`` is the circuit.
Topology: ``redmt.ELNODE1 -> ELNODE2`` oriented by ``ORDER_`` (1 or -1); transformers hang on
``trafos.ELNODE``; switches sit on segment ``switches.LINESECTIO``. Events join assets by
``interrupciones.equipo_ope == CODE`` and month.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TableSpec:
    """Schema of one table of the store."""

    name: str
    columns: dict[str, str]  # column -> DuckDB type, in storage order
    required: tuple[str, ...]
    key: tuple[str, ...] | None  # None: rows are identified by their full content
    signature: tuple[str, ...]
    description: str = ""
    non_negative: tuple[str, ...] = ()
    lon_lat: tuple[str, str] | None = None  # coordinate columns checked for range
    aliases: dict[str, str] = field(default_factory=dict)  # alternative header -> column

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.required)


# Rough bounding box of CHEC's service area (Caldas, Risaralda, Quindío) with a generous margin;
# coordinates outside it are almost always swapped lon/lat or projected (EPSG:3115) values.
LON_RANGE = (-77.5, -73.5)
LAT_RANGE = (3.5, 7.0)

# CREG cause codes seen in the export (profile "cause_codes_seen").
CAUSE_CODES: dict[str, str] = {
    "15": "Acciones de terceros",
    "19": "Animales sobre las redes del SDL",
    "27": "Árbol o rama sobre redes del SDL",
    "29": "Causa desconocida",
    "30": "Condiciones atmosféricas",
    "33": "Falla del transformador de potencia",
    "37": "Falla en postes y/o crucetas en el SDL",
    "40": "Falla en transformador de distribución",
    "47": "Evento Omitido",
}

EQUIPMENT_TYPES = ("interruptor", "transformador", "tramo de linea")
MISSING_TOKENS = ("-", "XXX", "")

_LOC = {"LONGITUD": "DOUBLE", "LATITUD": "DOUBLE", "DEP": "VARCHAR", "MUN": "VARCHAR"}

INTERRUPCIONES = TableSpec(
    name="interrupciones",
    description="Outage events: one row per (event, operated device / restoration step).",
    columns={
        "evento": "BIGINT",
        "periodo": "INTEGER",  # YYYYMM
        "equipo_ope": "VARCHAR",
        "tipo_equi_ope": "VARCHAR",
        "cto_equi_ope": "VARCHAR",
        "tipo_elemento": "VARCHAR",
        "inicio": "TIMESTAMP",
        "fin": "TIMESTAMP",
        "duracion_h": "DOUBLE",
        "tipo_duracion": "VARCHAR",
        "causa": "VARCHAR",
        "tipo_causa": "VARCHAR",
        "CNT_TRAFOS_AFEC": "INTEGER",
        "cnt_usus": "INTEGER",
        "SAIDI": "DOUBLE",
        "SAIFI": "DOUBLE",
    },
    required=("evento", "equipo_ope", "inicio", "fin", "cnt_usus"),
    key=("evento", "equipo_ope", "inicio"),
    signature=("evento", "equipo_ope", "inicio", "fin"),
    non_negative=("duracion_h", "CNT_TRAFOS_AFEC", "cnt_usus", "SAIDI", "SAIFI"),
)

REDMT = TableSpec(
    name="redmt",
    description="Medium-voltage line segments, monthly snapshots.",
    columns={
        "CODE": "VARCHAR",
        "PHASES": "VARCHAR",
        "FPARENT": "VARCHAR",
        "ELNODE1": "VARCHAR",
        "ELNODE2": "VARCHAR",
        "CONDUCTOR": "VARCHAR",
        "NEUTRAL": "VARCHAR",
        "LENGTH": "DOUBLE",  # metres
        "KVNOM": "DOUBLE",
        "ORDER_": "INTEGER",  # 1: ELNODE1 -> ELNODE2 is downstream, -1: reversed
        "CLASS": "VARCHAR",
        "TOWNER": "VARCHAR",
        "FECHA": "DATE",
        "MATERIALCONDUCTOR": "VARCHAR",
        "TIPOCONDUCTOR": "VARCHAR",
        "CALIBRECONDUCTOR": "VARCHAR",
        "GUARDACONDUCTOR": "VARCHAR",  # guard (shield) wire; 'NO'/'SI' or a conductor code
        "NEUTROCONDUCTOR": "VARCHAR",
        "NEUTRO_SECUNDARIOCONDUCTOR": "VARCHAR",
        "NIVEL1CONDUCTOR": "VARCHAR",
        "NIVEL2CONDUCTOR": "VARCHAR",
        "NIVEL3CONDUCTOR": "VARCHAR",
        "NIVEL4CONDUCTOR": "VARCHAR",
        "ACOMETIDACONDUCTOR": "VARCHAR",
        "NEUTRO": "VARCHAR",
        "CALIBRENEUTRO": "VARCHAR",
        "FECHA_ACT": "DATE",
        "CAPACITY": "DOUBLE",
        "RESISTANCE": "DOUBLE",
        "LONGITUD": "DOUBLE",
        "LATITUD": "DOUBLE",
        "LONGITUD2": "DOUBLE",
        "LATITUD2": "DOUBLE",
        "DEP": "VARCHAR",
        "MUN": "VARCHAR",
    },
    required=("CODE", "FPARENT", "ELNODE1", "ELNODE2", "ORDER_", "FECHA"),
    key=("CODE", "FECHA"),
    signature=("CODE", "ELNODE1", "ELNODE2", "FPARENT"),
    non_negative=("LENGTH", "KVNOM", "CAPACITY", "RESISTANCE"),
    lon_lat=("LONGITUD", "LATITUD"),
)

TRAFOS = TableSpec(
    name="trafos",
    description="Distribution transformers, monthly snapshots. USUARIOS (customers served) is optional: "
    "the synthetic twin writes it; without it customers are estimated from events.",
    columns={
        "CODE": "VARCHAR",
        "PHASES": "VARCHAR",
        "FPARENT": "VARCHAR",
        "OWNER1": "VARCHAR",
        "TRFTYPE": "VARCHAR",
        "ELNODE": "VARCHAR",
        "IMPEDANCE": "DOUBLE",
        "DATE_FAB": "DATE",
        "MARCA": "VARCHAR",
        "TIPO_SUB": "VARCHAR",
        "FECHA": "DATE",
        "GRUPO015": "VARCHAR",
        "FECHA_ACT": "DATE",
        "KVA": "DOUBLE",
        "KV1": "DOUBLE",
        "USUARIOS": "INTEGER",
        **_LOC,
    },
    required=("CODE", "FPARENT", "ELNODE", "FECHA"),
    key=("CODE", "FECHA"),
    signature=("CODE", "ELNODE", "FPARENT", "KVA"),
    non_negative=("KVA", "KV1", "USUARIOS", "IMPEDANCE"),
    lon_lat=("LONGITUD", "LATITUD"),
)

SWITCHES = TableSpec(
    name="switches",
    description="Switches, reclosers and fuses on MV segments, monthly snapshots.",
    columns={
        "CODE": "VARCHAR",
        "ASSEMBLY": "VARCHAR",  # device kind: e.g. RECONECTADOR, CORTACIRCUITO (fuse), SECCIONADOR, INTERRUPTOR
        "PHASES": "VARCHAR",
        "FPARENT": "VARCHAR",
        "KV": "DOUBLE",
        "STATE": "VARCHAR",  # CERRADO / ABIERTO (normally open ties)
        "LINESECTIO": "VARCHAR",  # segment CODE the switch sits on
        "FECHA": "DATE",
        **_LOC,
    },
    required=("CODE", "FPARENT", "LINESECTIO", "FECHA"),
    key=("CODE", "FECHA"),
    signature=("CODE", "LINESECTIO", "FPARENT"),
    non_negative=("KV",),
    lon_lat=("LONGITUD", "LATITUD"),
)

APOYOS = TableSpec(
    name="apoyos",
    description="Supports (poles and towers), monthly snapshots.",
    columns={
        "CODE": "VARCHAR",
        "ASSEMBLY": "VARCHAR",
        "TOWNER": "VARCHAR",
        "FECHA": "DATE",
        "TIPO": "VARCHAR",
        "CLASE": "VARCHAR",
        "MATERIAL": "VARCHAR",
        "LONG_APOYO": "DOUBLE",  # metres
        "TIERRA_PIE": "VARCHAR",  # grounding at the foot
        "VIENTOS": "VARCHAR",  # guy wires
        **_LOC,
    },
    required=("CODE", "FECHA"),
    key=("CODE", "FECHA"),
    signature=("CODE", "MATERIAL", "LONG_APOYO"),
    non_negative=("LONG_APOYO",),
    lon_lat=("LONGITUD", "LATITUD"),
)

RAYOS = TableSpec(
    name="rayos",
    description="Lightning strokes (location system), with the nearest asset.",
    columns={
        "ID": "BIGINT",
        "LATITUD": "DOUBLE",
        "LONGITUD": "DOUBLE",
        "ALTITUD": "DOUBLE",
        "TIPO": "VARCHAR",  # CG (cloud-to-ground) / IC
        "CORRIENTE": "DOUBLE",  # kA, signed
        "ERROR": "DOUBLE",  # location error, km
        "CODE": "VARCHAR",  # nearest asset
        "FPARENT": "VARCHAR",
        "DISTANCIA_A_NODO": "DOUBLE",  # metres
        "FECHA": "TIMESTAMP",
        "DEP": "VARCHAR",
        "MUN": "VARCHAR",
    },
    required=("ID", "LATITUD", "LONGITUD", "FECHA"),
    key=("ID",),
    signature=("ID", "CORRIENTE", "DISTANCIA_A_NODO"),
    non_negative=("ERROR", "DISTANCIA_A_NODO"),
    lon_lat=("LONGITUD", "LATITUD"),
)

VEGETACION = TableSpec(
    name="vegetacion",
    description="Vegetation inspection records near MV lines (VegetacionExistente).",
    columns={
        "NOM_COMUN": "VARCHAR",
        "TIPO_VEGET": "VARCHAR",
        "ESTADO_INICIAL": "VARCHAR",
        "FECHA": "DATE",
        "LADO_RED": "VARCHAR",
        "DAP_ESTIM": "DOUBLE",  # trunk diameter, cm
        "LONG_INTER": "DOUBLE",  # m
        "TIPO_INTER": "VARCHAR",
        "NIVEL_RIES": "VARCHAR",  # Alto / Medio / Bajo
        "CIRCUITO_TRAMO": "VARCHAR",
        "NODO_1": "VARCHAR",
        "NODO_2": "VARCHAR",
        **_LOC,
    },
    required=("FECHA", "NIVEL_RIES", "CIRCUITO_TRAMO"),
    key=None,
    signature=("NOM_COMUN", "NIVEL_RIES", "CIRCUITO_TRAMO"),
    non_negative=("DAP_ESTIM", "LONG_INTER"),
    lon_lat=("LONGITUD", "LATITUD"),
)

CLIMA = TableSpec(
    name="clima",
    description="Weather per municipality (daily or hourly), Weatherbit field names as the utility used.",
    columns={
        "FECHA": "TIMESTAMP",
        "DEP": "VARCHAR",
        "MUN": "VARCHAR",
        "precip": "DOUBLE",  # mm
        "temp": "DOUBLE",  # °C
        "rh": "DOUBLE",  # %
        "wind_spd": "DOUBLE",  # m/s
        "wind_gust_spd": "DOUBLE",  # m/s
        "pres": "DOUBLE",  # hPa
        "slp": "DOUBLE",  # hPa
        "clouds": "DOUBLE",  # %
        "solar_rad": "DOUBLE",  # W/m²
        "uv": "DOUBLE",
        "vis": "DOUBLE",  # km
    },
    required=("FECHA", "MUN", "precip"),
    key=("MUN", "FECHA"),
    signature=("precip", "temp", "rh", "wind_spd"),
    non_negative=("precip", "rh", "wind_spd", "wind_gust_spd", "clouds", "solar_rad", "uv", "vis"),
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (INTERRUPCIONES, REDMT, TRAFOS, SWITCHES, APOYOS, RAYOS, VEGETACION, CLIMA)
}


def table_spec(name: str) -> TableSpec:
    """Spec of table ``name`` (case-insensitive); raises NotFoundError listing the known tables."""
    from gridcrit.errors import NotFoundError

    spec = TABLES.get(name.lower())
    if spec is None:
        raise NotFoundError(f"unknown table {name!r}; known tables: {', '.join(TABLES)}")
    return spec
