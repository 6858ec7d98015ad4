"""Loaders for CHEC's public real samples (``shared/data/chec/``).

**Vegetation** (:func:`load_vegetation`, :func:`ingest_vegetation`): ``VegetacionExistente.csv``
(18,482 inspection records) normalised into the ``vegetacion`` schema. Rules, in order:

1. Text cells are trimmed; empty/blank cells and form placeholders (anything starting with
   ``Seleccione``, e.g. ``Seleccione…``, ``Seleccione,,,``) become missing.
2. Spelling variants of one category are merged: values equal after removing accents, case and
   repeated blanks (``izquierda``/``Izquierda``, ``Roceria``/``Rocería``, ``poda``/``Poda``,
   ``Bosque Natural``/``Bosque natural``) take the most frequent spelling in the file.
3. ``NIVEL_RIES`` is mapped onto the utility's three levels Alto / Medio / Bajo: ``Inminente``
   (22 rows: risk already materialising) → ``Alto``; ``Potencial`` (1 row: possible future risk) →
   ``Bajo``; ``No aplica`` (147 rows: no risk assessed) → missing. Counts are in the report.
4. Outliers: ``DAP_ESTIM`` (trunk diameter, cm) above 300 and ``LONG_INTER`` (length to intervene, m)
   above 300 are typing errors (1000 cm, 158,912 m) and become missing — not clipped, since a clipped
   value would be invented data. 0 is kept (shrubs and rastrojo have no measurable trunk).
5. Coordinates outside ``schema.LON_RANGE/LAT_RANGE`` would become missing (none in this file).

``NOM_COMUN`` keeps ``NN`` (species not identified) as a category. Exact duplicate rows (98) are kept:
the table has no key, identical records can be two trees of one species on one span.

**Network geometry** (:func:`load_network`): ``red_nsa/circuitos.csv`` holds MV segments as WKT
``LINESTRING Z`` with node ids ``NODO1_ID/NODO2_ID`` (``0`` = no id); the ids alone give a graph split in 182
components because the two ends of a joint often carry different ids. Endpoints are therefore
*snapped*: projected to metres (local equirectangular projection, error < 0.1 % over a few tens of
km), paired with a KD-tree within ``tolerance_m`` and merged (union-find) together with equal ids.
Point layers (supports, switches, transformers) are attached to the nearest segment (exact
point-to-segment distance) and to its nearest end node.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gridcrit.data.schema import LAT_RANGE, LON_RANGE, VEGETACION

DAP_MAX_CM = 300.0
LONG_INTER_MAX_M = 300.0
RISK_MAP = {
    "alto": "Alto",
    "medio": "Medio",
    "bajo": "Bajo",
    "inminente": "Alto",
    "potencial": "Bajo",
    "no aplica": None,
}
_NUM = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _fold(s: str) -> str:
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return " ".join(s.casefold().split())


def _clean_text(col: pd.Series) -> tuple[pd.Series, int]:
    """Trim, placeholders → missing; returns the series and how many placeholders were dropped."""
    s = col.astype("string").str.strip()
    placeholder = s.isna() | (s == "") | s.str.casefold().str.startswith("seleccione").fillna(False)
    n = int((placeholder & col.notna() & (col.astype("string").str.strip() != "")).sum())
    return s.mask(placeholder, pd.NA), n


def _merge_variants(s: pd.Series) -> tuple[pd.Series, dict[str, str]]:
    """Map spelling variants (same accent/case-folded form) to the most frequent spelling."""
    counts = s.value_counts()
    best: dict[str, tuple[int, str]] = {}
    for val, n in counts.items():
        k = _fold(str(val))
        if k not in best or n > best[k][0]:
            best[k] = (int(n), str(val))
    mapping = {str(v): best[_fold(str(v))][1] for v in counts.index if best[_fold(str(v))][1] != str(v)}
    return (s.replace(mapping) if mapping else s), mapping


def _read_export_csv(path: str | Path) -> pd.DataFrame:
    """Every cell of a CSV export as text, read the way ``ingest`` reads it: encoding (UTF-8 with or
    without BOM, Latin-1, Windows-1252, both) and delimiter (``,`` ``;`` tab) detected, header cells matched
    to the ``vegetacion`` columns ignoring case, accents and blanks, rows of empty cells dropped (the
    same file re-saved by Excel in a Spanish locale: ``;``, cp1252, ``fecha``, trailing ``;;;;`` rows)."""
    from gridcrit.data import readers
    from gridcrit.data.ingest import header_key
    from gridcrit.errors import GridcritError

    path = Path(path)
    src = readers.inspect(path)
    if src.format != "csv" or not src.header:
        raise GridcritError(f"{path}: not a CSV file with a header",
                            es=f"{path}: no es un archivo CSV con encabezado")
    try:  # a sample of a few MB: decoded whole, also when its lines mix UTF-8 and Windows-1252
        text = readers.decode_text(path.read_bytes(), src.encoding or "utf-8")
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=src.delimiter or ",")
    except (pd.errors.ParserError, UnicodeError, ValueError) as e:
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise GridcritError(f"{path}: cannot read file: {text}",
                            es=f"{path}: no se puede leer el archivo: {text}") from e
    names = {header_key(c): c for c in VEGETACION.columns}
    raw.columns = [names.get(header_key(str(c)), c) for c in raw.columns]
    if len(raw.columns):
        raw = raw[(raw.apply(lambda c: c.str.strip()) != "").any(axis=1)].reset_index(drop=True)
    return raw


def _parse_dates(col: pd.Series) -> pd.Series:
    """``YYYY-MM-DD`` or ``dd/mm/yyyy`` (day first, as ``ingest`` reads it), a time part ignored."""
    d = col.str.strip().str.split(" ", n=1).str[0]
    iso = pd.to_datetime(d, format="%Y-%m-%d", errors="coerce")
    dmy = pd.to_datetime(d, format="%d/%m/%Y", errors="coerce")
    return iso.fillna(dmy).dt.date


def load_vegetation(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """Read and normalise ``VegetacionExistente.csv``; returns (frame in the vegetacion schema, report)."""
    raw = _read_export_csv(path)
    report: dict = {"file": str(path), "rows": len(raw), "placeholders_to_missing": {}, "variants_merged": {}}
    out = pd.DataFrame(index=raw.index)
    for col, typ in VEGETACION.columns.items():
        if col not in raw.columns:
            out[col] = pd.NA
            continue
        if typ == "VARCHAR":
            s, n = _clean_text(raw[col])
            if n:
                report["placeholders_to_missing"][col] = n
            if col not in ("CIRCUITO_TRAMO", "NODO_1", "NODO_2"):  # codes are not spelling variants
                s, mapping = _merge_variants(s)
                if mapping:
                    report["variants_merged"][col] = mapping
            out[col] = s
        elif typ == "DOUBLE":
            out[col] = pd.to_numeric(raw[col].str.strip().str.replace(",", ".", regex=False), errors="coerce")
        elif typ == "DATE":
            # pd.to_datetime's own guess reads '12/01/2024' month first (1 December)
            out[col] = _parse_dates(raw[col])
    risk_before = out["NIVEL_RIES"].value_counts(dropna=False).to_dict()
    out["NIVEL_RIES"] = out["NIVEL_RIES"].map(
        lambda v: RISK_MAP.get(_fold(v), v) if isinstance(v, str) else None
    )
    report["NIVEL_RIES_before"] = {str(k): int(v) for k, v in risk_before.items()}
    report["NIVEL_RIES_after"] = {
        str(k): int(v) for k, v in out["NIVEL_RIES"].value_counts(dropna=False).items()
    }
    for col, cap in (("DAP_ESTIM", DAP_MAX_CM), ("LONG_INTER", LONG_INTER_MAX_M)):
        bad = out[col] > cap
        report.setdefault("outliers_to_missing", {})[col] = {
            "rule": f"> {cap:g}",
            "rows": int(bad.sum()),
            "values": sorted(out.loc[bad, col].tolist()),
        }
        out.loc[bad, col] = np.nan
    lon_bad = ~out["LONGITUD"].between(*LON_RANGE) & out["LONGITUD"].notna()
    lat_bad = ~out["LATITUD"].between(*LAT_RANGE) & out["LATITUD"].notna()
    report["coordinates_to_missing"] = int((lon_bad | lat_bad).sum())
    out.loc[lon_bad | lat_bad, ["LONGITUD", "LATITUD"]] = np.nan
    report["exact_duplicate_rows_kept"] = int(out.duplicated().sum())
    return out, report


def ingest_vegetation(path: str | Path, store: str | Path, *, progress: bool = False):
    """Normalise ``path`` and ingest it as ``vegetacion`` (validated, atomic, idempotent).

    The normalised table is written to ``<store>_files/real/VegetacionExistente.normalised.parquet``
    (kept for provenance; its sha256 in ``_loads`` makes a re-load a no-op). Returns (IngestReport,
    normalisation report).
    """
    from gridcrit.data.ingest import ingest
    from gridcrit.data.store import files_dir

    frame, report = load_vegetation(path)
    dest = files_dir(store) / "real" / f"{Path(path).stem}.normalised.parquet"
    dest.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(dest, index=False)
    return ingest([dest], store, progress=progress), report


# --------------------------------------------------------------------------- network geometry


def parse_wkt_coords(wkt: str) -> np.ndarray:
    """(n, 2) lon/lat of a WKT POINT/LINESTRING with or without Z (the Z value is dropped)."""
    body = wkt[wkt.index("(") + 1 : wkt.rindex(")")]
    pts = [p.split() for p in body.split(",")]
    return np.array([[float(p[0]), float(p[1])] for p in pts if p], dtype=float)


def to_metres(lonlat: np.ndarray, lat0: float) -> np.ndarray:
    """Local equirectangular projection (metres) around latitude ``lat0``."""
    k = np.pi / 180 * 6_371_008.8
    return np.column_stack([lonlat[:, 0] * k * np.cos(np.radians(lat0)), lonlat[:, 1] * k])


class _UnionFind:
    def __init__(self, n: int):
        self.p = np.arange(n)

    def find(self, a: int) -> int:
        root = a
        while self.p[root] != root:
            root = self.p[root]
        while self.p[a] != root:
            self.p[a], a = root, self.p[a]
        return int(root)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb)] = min(ra, rb)


@dataclass
class Network:
    """A snapped MV network: edge table, networkx graph, attached points and a report."""

    edges: pd.DataFrame  # segment, CIRCUITO, node1, node2, NODO1_ID, NODO2_ID, length_m
    nodes: pd.DataFrame  # node, lon, lat, n_endpoints
    graph: object  # networkx.Graph
    points: pd.DataFrame  # kind, CIRCUITO, lon, lat, segment, dist_segment_m, node, dist_node_m
    report: dict = field(default_factory=dict)


def _components(n_nodes: int, a: np.ndarray, b: np.ndarray) -> int:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(n_nodes))
    g.add_edges_from(zip(a.tolist(), b.tolist(), strict=True))
    return nx.number_connected_components(g)


def snap_endpoints(xy: np.ndarray, ids: np.ndarray | None, tolerance_m: float) -> tuple[np.ndarray, int]:
    """Node index per endpoint: endpoints closer than ``tolerance_m`` (or sharing an id) are one node."""
    from scipy.spatial import cKDTree

    uf = _UnionFind(len(xy))
    pairs = cKDTree(xy).query_pairs(r=tolerance_m, output_type="ndarray")
    for i, j in pairs:
        uf.union(int(i), int(j))
    if ids is not None:
        first: dict = {}
        for i, v in enumerate(ids.tolist()):
            if v in first:
                uf.union(first[v], i)
            else:
                first[v] = i
    roots = np.array([uf.find(i) for i in range(len(xy))])
    _, node = np.unique(roots, return_inverse=True)
    return node, len(pairs)


def _point_segment_dist(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from points p to segments a-b (all (n,2)) and the projection parameter t in [0, 1]."""
    ab = b - a
    L2 = np.maximum((ab**2).sum(1), 1e-12)
    t = np.clip(((p - a) * ab).sum(1) / L2, 0.0, 1.0)
    return np.hypot(*(a + t[:, None] * ab - p).T), t


PLACEHOLDER_IDS = ("", "0", "nan", "None")


def load_network(folder: str | Path, tolerance_m: float = 1.0, k_candidates: int = 16) -> Network:
    """Read ``circuitos.csv`` (+ ``apoyos/switches/transformadores.csv``) and build a snapped graph.

    The report gives components with node ids only, with geometric snapping only and with both;
    and point-attachment distances.
    """
    import networkx as nx
    from scipy.spatial import cKDTree

    folder = Path(folder)
    seg = pd.read_csv(folder / "circuitos.csv", dtype={"NODO1_ID": str, "NODO2_ID": str})
    coords = [parse_wkt_coords(w) for w in seg["geometry"]]
    lonlat_ends = np.vstack([np.vstack([c[0], c[-1]]) for c in coords])  # endpoints: 2 per segment
    lat0 = float(np.mean(lonlat_ends[:, 1]))
    xy = to_metres(lonlat_ends, lat0)
    n = len(seg)
    ids = np.empty(2 * n, dtype=object)
    ids[0::2], ids[1::2] = seg["NODO1_ID"].to_numpy(), seg["NODO2_ID"].to_numpy()
    # "0" (and a blank) is the export's placeholder for "no node id", not one node: six segments carry it,
    # and merging their ends joined points up to 10.8 km apart into false loops between circuits. Such an
    # end is joined by its coordinates only.
    no_id = pd.isna(ids) | np.isin(pd.Series(ids).astype(str).str.strip().to_numpy(), list(PLACEHOLDER_IDS))
    ids[no_id] = [f"_no_id_{i}" for i in np.flatnonzero(no_id)]

    _, id_codes = np.unique(ids.astype(str), return_inverse=True)
    comp_ids = _components(int(id_codes.max()) + 1, id_codes[0::2], id_codes[1::2])
    geo_node, _ = snap_endpoints(xy, None, tolerance_m)
    comp_geo = _components(int(geo_node.max()) + 1, geo_node[0::2], geo_node[1::2])
    node, n_pairs = snap_endpoints(xy, ids, tolerance_m)
    n_nodes = int(node.max()) + 1
    comp_both = _components(n_nodes, node[0::2], node[1::2])

    lengths = np.array([np.hypot(*np.diff(to_metres(c, lat0), axis=0).T).sum() for c in coords])
    edges = pd.DataFrame(
        {
            "segment": np.arange(n),
            "CIRCUITO": seg["CIRCUITO"],
            "node1": node[0::2],
            "node2": node[1::2],
            "NODO1_ID": seg["NODO1_ID"],
            "NODO2_ID": seg["NODO2_ID"],
            "length_m": lengths,
        }
    )
    node_ll = pd.DataFrame(lonlat_ends, columns=["lon", "lat"]).groupby(node).mean()
    nodes = node_ll.assign(n_endpoints=np.bincount(node)).rename_axis("node").reset_index()
    g = nx.Graph()
    for r in nodes.itertuples(index=False):
        g.add_node(int(r.node), lon=float(r.lon), lat=float(r.lat))
    for r in edges.itertuples(index=False):
        g.add_edge(
            int(r.node1), int(r.node2), segment=int(r.segment), circuit=r.CIRCUITO, length_m=float(r.length_m)
        )

    # Points → nearest segment: candidate segments from the nearest endpoints/midpoints, exact distance.
    seg_a = xy[0::2]
    seg_b = xy[1::2]
    anchors = np.vstack([seg_a, seg_b, (seg_a + seg_b) / 2])
    anchor_seg = np.tile(np.arange(n), 3)
    tree = cKDTree(anchors)
    node_xy = to_metres(nodes[["lon", "lat"]].to_numpy(), lat0)
    node_tree = cKDTree(node_xy)
    frames = []
    for kind, fname in (
        ("apoyo", "apoyos.csv"),
        ("switch", "switches.csv"),
        ("transformador", "transformadores.csv"),
    ):
        f = folder / fname
        if not f.exists():
            continue
        pts = pd.read_csv(f)
        pll = np.vstack([parse_wkt_coords(w)[0] for w in pts["geometry"]])
        pxy = to_metres(pll, lat0)
        k = min(k_candidates, len(anchors))
        _, cand = tree.query(pxy, k=k)
        cand_seg = anchor_seg[cand.reshape(len(pxy), -1)]
        best_d = np.full(len(pxy), np.inf)
        best_s = np.zeros(len(pxy), dtype=int)
        for j in range(cand_seg.shape[1]):
            s = cand_seg[:, j]
            d, _ = _point_segment_dist(pxy, seg_a[s], seg_b[s])
            better = d < best_d
            best_d[better], best_s[better] = d[better], s[better]
        dn, nn = node_tree.query(pxy)
        frames.append(
            pd.DataFrame(
                {
                    "kind": kind,
                    "CIRCUITO": pts["CIRCUITO"],
                    "lon": pll[:, 0],
                    "lat": pll[:, 1],
                    "segment": best_s,
                    "dist_segment_m": best_d,
                    "node": nn,
                    "dist_node_m": dn,
                }
            )
        )
    points = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    report = {
        "folder": str(folder),
        "segments": n,
        "circuits": seg["CIRCUITO"].value_counts().to_dict(),
        "tolerance_m": tolerance_m,
        "node_ids": len(set(ids.tolist())),
        "components_by_node_ids": comp_ids,
        "components_by_snapping_only": comp_geo,
        "components_after_snapping": comp_both,
        "nodes_after_snapping": n_nodes,
        "endpoint_pairs_within_tolerance": int(n_pairs),
        "total_length_km": round(float(lengths.sum()) / 1000, 2),
    }
    if len(points):
        report["points"] = {
            kind: {
                "n": len(p),
                "dist_segment_m_p50": round(float(p["dist_segment_m"].median()), 2),
                "dist_segment_m_p95": round(float(p["dist_segment_m"].quantile(0.95)), 2),
                "within_5m": round(float((p["dist_segment_m"] <= 5).mean()), 3),
            }
            for kind, p in points.groupby("kind")
        }
    return Network(edges=edges, nodes=nodes, graph=g, points=points, report=report)
