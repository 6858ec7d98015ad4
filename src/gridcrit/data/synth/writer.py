"""Turn the network and monthly draws into the utility's export files.

Asset tables are monthly snapshots (``FECHA`` = month end) written as Parquet, one row group per
month, with categorical columns dictionary-encoded: at CHEC scale that is ~10M rows, and streaming
month by month keeps memory flat up to the 10x scale. Small tables and ``interrupciones`` are CSV,
as the utility exports them.
"""

from __future__ import annotations

import calendar
import contextlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gridcrit.data.synth.exposure import Strokes, month_of
from gridcrit.data.synth.geography import MUN_DEP, MUN_NAME
from gridcrit.data.synth.network import Network
from gridcrit.data.synth.scales import STREAM_NETWORK, stream

_CAT = {
    "PHASES",
    "FPARENT",
    "CONDUCTOR",
    "NEUTRAL",
    "CLASS",
    "TOWNER",
    "MATERIALCONDUCTOR",
    "TIPOCONDUCTOR",
    "CALIBRECONDUCTOR",
    "GUARDACONDUCTOR",
    "NEUTROCONDUCTOR",
    "NEUTRO_SECUNDARIOCONDUCTOR",
    "NIVEL1CONDUCTOR",
    "NIVEL2CONDUCTOR",
    "NIVEL3CONDUCTOR",
    "NIVEL4CONDUCTOR",
    "ACOMETIDACONDUCTOR",
    "NEUTRO",
    "CALIBRENEUTRO",
    "DEP",
    "MUN",
    "OWNER1",
    "TRFTYPE",
    "MARCA",
    "TIPO_SUB",
    "GRUPO015",
    "ASSEMBLY",
    "STATE",
    "TIPO",
    "CLASE",
    "MATERIAL",
    "TIERRA_PIE",
    "VIENTOS",
}


_LOW_CARD_NUMERIC = {"KVNOM", "CAPACITY", "RESISTANCE", "KVA", "KV1", "KV", "LONG_APOYO"}


def write_csv(columns: dict[str, np.ndarray], path: Path) -> int:
    """Write columns (numpy arrays) as a plain, unquoted UTF-8 CSV; returns rows. Falls back to quoting
    if some value needs it. Written to ``.part`` and renamed."""
    import pyarrow.csv as pacsv

    arrays = {}
    for k, v in columns.items():
        v = np.asarray(v)
        # (object ndarray -> list first: pyarrow converts a typed object ndarray ~100x slower)
        arrays[k] = pa.array(v.tolist(), pa.string()) if v.dtype == object else pa.array(v)
    table = pa.table(arrays)
    tmp = path.with_suffix(path.suffix + ".part")
    header = (",".join(table.column_names) + "\n").encode("utf-8")
    for style in ("none", "needed"):
        try:
            with open(tmp, "wb") as f:
                f.write(header)
                pacsv.write_csv(table, f, pacsv.WriteOptions(include_header=False, quoting_style=style))
            break
        except pa.ArrowInvalid:  # a value with a comma/quote/newline: quote where needed
            continue
    tmp.replace(path)
    return table.num_rows


def _col(name: str, values) -> pa.Array:
    arr = pa.array(values)
    if pa.types.is_null(arr.type):  # an all-empty column is still text
        return pa.nulls(len(arr), pa.string()).dictionary_encode()
    if name in _CAT and pa.types.is_string(arr.type):
        return arr.dictionary_encode()
    return arr


def _dates(years: np.ndarray) -> pa.Array:
    """Fractional years -> date32 (day resolution)."""
    epoch = (np.asarray(years) - 1970.0) * 365.2425
    return pa.array(np.floor(epoch).astype("int32"), type=pa.date32())


def month_end(month_index: int) -> np.datetime64:
    y, m = month_of(month_index)
    return np.datetime64(f"{y:04d}-{m:02d}-{calendar.monthrange(y, m)[1]:02d}")


def _pick(rng, choices, p, n):
    return np.array(choices, dtype=object)[rng.choice(len(choices), n, p=np.array(p) / np.sum(p))]


class AssetTables:
    """Static columns of the four asset tables (built once), emitted per month with FECHA/USUARIOS."""

    def __init__(self, net: Network):
        self.net = net
        rng = stream(net.seed, net.scale, STREAM_NETWORK, 1)  # cosmetic attributes, network-only
        sc = net.node_circ[net.seg_node]
        S = net.n_segments
        par = net.node_parent[net.seg_node]
        rev = net.seg_order < 0
        a, b = net.node_code[par], net.node_code[net.seg_node]
        e1, e2 = np.where(rev, b, a), np.where(rev, a, b)
        n1 = np.where(rev, net.seg_node, par)
        n2 = np.where(rev, par, net.seg_node)
        cal = np.where(
            net.seg_trunk,
            _pick(rng, ["336", "4/0"], [0.6, 0.4], S),
            _pick(rng, ["2/0", "1/0", "2", "4"], [0.25, 0.3, 0.25, 0.2], S),
        )
        amp = {"336": 530.0, "4/0": 340.0, "2/0": 270.0, "1/0": 230.0, "2": 180.0, "4": 140.0}
        ohm = {"336": 0.19, "4/0": 0.37, "2/0": 0.52, "1/0": 0.66, "2": 1.05, "4": 1.66}
        mat = np.where(net.seg_underground, "CU", np.where(rng.random(S) < 0.85, "ACSR", "AAAC"))
        tipo = np.where(net.seg_underground, "AISLADO", np.where(net.seg_covered, "SEMIAISLADO", "DESNUDO"))
        phases = np.where(
            net.seg_trunk, "ABC", _pick(rng, ["ABC", "AB", "A", "B", "C"], [0.45, 0.15, 0.14, 0.13, 0.13], S)
        )
        kv = net.circ_kv[sc]
        mun = net.circ_mun[sc]
        self.redmt = {
            "CODE": net.seg_code,
            "PHASES": phases,
            "FPARENT": net.circ_code[sc],
            "ELNODE1": e1,
            "ELNODE2": e2,
            "CONDUCTOR": np.char.add(np.char.add(cal.astype(str), " "), mat.astype(str)).astype(object),
            "NEUTRAL": np.where(net.seg_trunk, "2 ACSR", "4 ACSR"),
            "LENGTH": net.seg_len_m,
            "KVNOM": kv,
            "ORDER_": net.seg_order.astype(np.int32),
            "CLASS": np.where(net.seg_underground, "SUBTERRANEA", "AEREA"),
            "TOWNER": np.where(rng.random(S) < 0.03, "PARTICULAR", "CHEC"),
            "MATERIALCONDUCTOR": mat,
            "TIPOCONDUCTOR": tipo,
            "CALIBRECONDUCTOR": cal,
            "GUARDACONDUCTOR": np.where(net.seg_guard, "SI", "NO"),
            "NEUTROCONDUCTOR": np.full(S, "SI"),
            "NEUTRO_SECUNDARIOCONDUCTOR": np.full(S, "NO"),
            "NIVEL1CONDUCTOR": np.full(S, "MT"),
            "NIVEL2CONDUCTOR": np.full(S, None),
            "NIVEL3CONDUCTOR": np.full(S, None),
            "NIVEL4CONDUCTOR": np.full(S, None),
            "ACOMETIDACONDUCTOR": np.full(S, "NO"),
            "NEUTRO": np.full(S, "SI"),
            "CALIBRENEUTRO": np.where(net.seg_trunk, "2", "4"),
            "FECHA_ACT": _dates(net.seg_year),
            "CAPACITY": np.array([amp[c] for c in cal]),
            "RESISTANCE": np.array([ohm[c] for c in cal]),
            "LONGITUD": np.round(net.node_lon[n1], 7),
            "LATITUD": np.round(net.node_lat[n1], 7),
            "LONGITUD2": np.round(net.node_lon[n2], 7),
            "LATITUD2": np.round(net.node_lat[n2], 7),
            "DEP": MUN_DEP[mun],
            "MUN": MUN_NAME[mun],
        }
        T = len(net.tr_node)
        tc = net.node_circ[net.tr_node]
        tm = net.circ_mun[tc]
        urban = net.circ_urban[tc]
        self.trafos = {
            "CODE": net.tr_code,
            "PHASES": np.where(net.tr_kva >= 75, "ABC", _pick(rng, ["A", "AB"], [0.7, 0.3], T)),
            "FPARENT": net.circ_code[tc],
            "OWNER1": np.where(rng.random(T) < 0.12, "PARTICULAR", "CHEC"),
            "TRFTYPE": np.where(rng.random(T) < 0.4, "AUTOPROTEGIDO", "CONVENCIONAL"),
            "ELNODE": net.node_code[net.tr_node],
            "IMPEDANCE": np.round(rng.uniform(2.8, 4.5, T), 2),
            "DATE_FAB": _dates(net.tr_fab),
            "MARCA": _pick(
                rng,
                [
                    "SIEMENS",
                    "ABB",
                    "MAGNETRON",
                    "SUNTEC",
                    "RYMEL",
                    "TRANSFORMADORES DE COLOMBIA",
                    "ELECTROPORCELANA",
                ],
                [0.2, 0.15, 0.25, 0.1, 0.12, 0.1, 0.08],
                T,
            ),
            "TIPO_SUB": np.where(urban & (rng.random(T) < 0.12), "PEDESTAL", "POSTE"),
            "GRUPO015": net.circ_grupo[tc],
            "FECHA_ACT": _dates(np.minimum(net.tr_fab + rng.uniform(0, 1.5, T), 2018.99)),
            "KVA": net.tr_kva.astype(float),
            "KV1": net.circ_kv[tc],
            "LONGITUD": np.round(net.node_lon[net.tr_node] + rng.normal(0, 3e-5, T), 7),
            "LATITUD": np.round(net.node_lat[net.tr_node] + rng.normal(0, 3e-5, T), 7),
            "DEP": MUN_DEP[tm],
            "MUN": MUN_NAME[tm],
        }
        W = len(net.sw_seg)
        wn = net.seg_node[net.sw_seg]
        wc = net.node_circ[wn]
        wm = net.circ_mun[wc]
        self.switches = {
            "CODE": net.sw_code,
            "ASSEMBLY": net.sw_kind,
            "PHASES": phases[net.sw_seg],
            "FPARENT": net.circ_code[wc],
            "KV": net.circ_kv[wc],
            "STATE": np.full(W, "CERRADO"),
            "LINESECTIO": net.seg_code[net.sw_seg],
            "LONGITUD": np.round(net.node_lon[wn], 7),
            "LATITUD": np.round(net.node_lat[wn], 7),
            "DEP": MUN_DEP[wm],
            "MUN": MUN_NAME[wm],
        }
        A = len(net.ap_node)
        am = net.circ_mun[net.node_circ[net.ap_node]]
        tower = (net.ap_material == "METALICO") & (net.ap_height >= 14)
        self.apoyos = {
            "CODE": net.ap_code,
            "ASSEMBLY": _pick(
                rng, ["SUSPENSION", "RETENCION", "TERMINAL", "ANGULO"], [0.6, 0.25, 0.08, 0.07], A
            ),
            "TOWNER": np.where(rng.random(A) < 0.03, "PARTICULAR", "CHEC"),
            "TIPO": np.where(tower, "TORRE", "POSTE"),
            "CLASE": _pick(rng, ["510 KG", "750 KG", "1050 KG", "1350 KG"], [0.35, 0.4, 0.2, 0.05], A),
            "MATERIAL": net.ap_material,
            "LONG_APOYO": net.ap_height,
            "TIERRA_PIE": np.where(net.ap_ground, "SI", "NO"),
            "VIENTOS": np.where(rng.random(A) < 0.2, "SI", "NO"),
            "LONGITUD": np.round(net.ap_lon, 7),
            "LATITUD": np.round(net.ap_lat, 7),
            "DEP": MUN_DEP[am],
            "MUN": MUN_NAME[am],
        }
        self._static = {
            name: {k: _col(k, v) for k, v in cols.items()}
            for name, cols in (
                ("redmt", self.redmt),
                ("trafos", self.trafos),
                ("switches", self.switches),
                ("apoyos", self.apoyos),
            )
        }
        # column order as in gridcrit.data.schema (FECHA, USUARIOS inserted there)
        from gridcrit.data.schema import TABLES

        self._order = {
            t: [c for c in TABLES[t].columns if c in self._static[t] or c in ("FECHA", "USUARIOS")]
            for t in self._static
        }

    def month_table(self, table: str, month_index: int) -> pa.Table:
        st = self._static[table]
        n = len(next(iter(st.values())))
        fecha = pa.array(np.full(n, month_end(month_index)).astype("datetime64[D]"), type=pa.date32())
        cols = []
        for c in self._order[table]:
            if c == "FECHA":
                cols.append(fecha)
            elif c == "USUARIOS":
                cols.append(pa.array(self.net.customers(month_index).astype(np.int32)))
            else:
                cols.append(st[c])
        return pa.Table.from_arrays(cols, names=self._order[table])


def strokes_table(net: Network, s: Strokes, month_index: int) -> pa.Table:
    y, m = month_of(month_index)
    t0 = np.datetime64(f"{y:04d}-{m:02d}-01T00:00:00", "s")
    seg = net.node_seg[s.node]
    circ = net.node_circ[s.node]
    mun = net.circ_mun[circ]

    def dict_of(indices: np.ndarray, values: np.ndarray) -> pa.Array:
        # build dictionary columns from integer codes directly (hashing 25k strings a month is slow)
        return pa.DictionaryArray.from_arrays(
            pa.array(indices.astype(np.int32)), pa.array(np.asarray(values).tolist(), pa.string())
        )

    cols = {
        "ID": pa.array(s.id.astype(np.int64)),
        "LATITUD": pa.array(s.lat, pa.float64()),
        "LONGITUD": pa.array(s.lon, pa.float64()),
        "ALTITUD": pa.array(s.alt, pa.float64()),
        "TIPO": dict_of(np.where(s.cg, 0, 1), np.array(["CG", "IC"], dtype=object)),
        "CORRIENTE": pa.array(s.current, pa.float64()),
        "ERROR": pa.array(s.error, pa.float64()),
        "CODE": pa.array(net.seg_code[seg].tolist(), pa.string()),
        "FPARENT": dict_of(circ, net.circ_code),
        "DISTANCIA_A_NODO": pa.array(s.dist_m, pa.float64()),
        "FECHA": pa.array(t0 + s.time_s.astype("int64").astype("timedelta64[s]"), pa.timestamp("s")),
        "DEP": dict_of(mun, MUN_DEP),
        "MUN": dict_of(mun, MUN_NAME),
    }
    return pa.table(cols)


class ParquetSink:
    """Buffers monthly tables and writes them as row groups of ~1M rows; the file appears only when
    closed (it is written as ``.part`` and renamed), so a crash never leaves a half file behind."""

    FLUSH_ROWS = 1_000_000

    def __init__(self, path: Path):
        self.path = path
        self.tmp = path.with_suffix(path.suffix + ".part")
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0
        self._buf: list[pa.Table] = []
        self._buf_rows = 0

    def write(self, table: pa.Table) -> None:
        self._buf.append(table)
        self._buf_rows += table.num_rows
        self.rows += table.num_rows
        if self._buf_rows >= self.FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._buf:
            return
        table = pa.concat_tables(self._buf).unify_dictionaries() if len(self._buf) > 1 else self._buf[0]
        if self.writer is None:
            # dictionary pages only where values repeat within a month (categories, dates, ratings);
            # unique codes and coordinates are cheaper to write plain
            dict_cols = [
                f.name
                for f in table.schema
                if pa.types.is_dictionary(f.type)
                or pa.types.is_date(f.type)
                or (pa.types.is_integer(f.type) and f.name != "ID")
                or f.name in _LOW_CARD_NUMERIC
            ]
            self.writer = pq.ParquetWriter(
                self.tmp, table.schema, compression="zstd", use_dictionary=dict_cols
            )
        self.writer.write_table(table, row_group_size=self.FLUSH_ROWS * 2)
        self._buf, self._buf_rows = [], 0

    def abort(self) -> None:
        """Drop what was written (after an error or an interrupt)."""
        if self.writer is not None:
            # the writer may be in a failed state; the file is removed anyway
            with contextlib.suppress(Exception):
                self.writer.close()
        self.tmp.unlink(missing_ok=True)
        self._buf = []

    def close(self) -> None:
        self._flush()
        if self.writer is not None:
            self.writer.close()
            self.tmp.replace(self.path)
