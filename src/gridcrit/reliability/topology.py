"""The MV network as a rooted forest: one tree per circuit, built with array operations.

Input is an edge table (one row per line segment: code, two end nodes, circuit, optionally an orientation
``ORDER_`` and a length), transformers hanging on nodes and switches sitting on segments — the utility's
``redmt`` / ``trafos`` / ``switches`` snapshots (:meth:`Topology.from_store`) or any edge list, such as the
snapped ``red_nsa`` geometry (:meth:`Topology.from_edges`).

How the tree is built (all steps vectorised with numpy / ``scipy.sparse.csgraph``; no per-device search)::

    segments ──(drop self-loops, duplicate codes, segments with a normally-open switch)──► energised edges
    energised edges ──connected_components (undirected)──► components
    each component ──root: given root > circuit breaker (switch CODE == circuit) > node with no
                      upstream segment (ORDER_) reaching most nodes > a leaf──► root
    super-root ─► roots ──BFS──► parent[node], parent_seg[node]      (shortest path = radial path)
    energised edges not used by the BFS tree ──► loops (each closes exactly one independent cycle)
    tree ──DFS preorder──► pos[node]; subtree(node) = preorder[pos : pos + size]  (contiguous!)
    pointer jumping (log depth passes) ──► depth, distance (m), protective devices upstream

Because every subtree is a contiguous slice of the preorder, "customers downstream of every switch" is a
prefix-sum difference, for one month or for a matrix of months at once.

Conventions (documented in ``docs/reliability.md``):

- A switch or segment device interrupts its own segment and everything beyond it (the subtree of the
  segment's downstream node). A transformer's "downstream" is itself (its own customers).
- The depth of a node is the number of segments between it and the circuit head (head: depth 0).
- Protective devices are switches whose ``ASSEMBLY`` names a breaker, recloser or fuse
  (:data:`PROTECTIVE_KEYWORDS`); disconnectors (SECCIONADOR) are not protective. A switch's upstream
  protection excludes switches on its own segment; a segment's and a transformer's include the
  switches on the segment that feeds them.
- Segments carrying a normally-open switch (``STATE`` ABIERTO/OPEN) are ties, not part of the energised
  tree (reported as ``open_ties``, severity info).
- A circuit whose segments form several components has one main tree (the one holding its head) and
  islands (the others); islands still get a local root so that traces work, and are flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from gridcrit.errors import NotFoundError, ValidationError
from gridcrit.reliability.report import ProblemReport

_SEP = "\x1f"  # joins circuit and node id into a per-circuit node key
PROTECTIVE_KEYWORDS = ("RECONECT", "RECLOSER", "INTERRUPTOR", "BREAKER", "CORTACIRCUITO", "FUSIBLE", "FUSE")
OPEN_STATES = ("ABIERTO", "ABIERTA", "OPEN", "NA", "N.A.")


def is_protective(assembly: pd.Series) -> np.ndarray:
    """True where an ``ASSEMBLY`` value names a breaker, recloser or fuse."""
    a = assembly.fillna("").astype(str).str.upper()
    out = np.zeros(len(a), dtype=bool)
    for k in PROTECTIVE_KEYWORDS:
        out |= a.str.contains(k, regex=False).to_numpy()
    return out


def _ids(values: Any) -> pd.Series:
    """Node / asset ids as text, the same whichever way a file was read: a numeric id column that holds a
    missing value is read as floats (``19057918.0``) while the table that refers to it has ``19057918``, so
    integral floats lose their ``.0``; surrounding blanks are dropped. Missing values stay missing."""
    s = pd.Series(np.asarray(values, dtype=object)).astype("string").str.strip()
    return s.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True).astype(object)


def _pointer_jump(parent: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Sum of ``weight`` over each node and all its ancestors (roots: parent -1), in log(depth) passes."""
    # invariant: acc[v] = sum over the path from v (inclusive) to anc[v] (exclusive); once done[v],
    # acc[v] is the total up to the root
    anc = parent.copy()
    acc = weight.astype(np.float64).copy()
    done = parent < 0
    while not done.all():
        a = np.maximum(anc, 0)
        todo = ~done
        acc = np.where(todo, acc + acc[a], acc)
        new_done = done | done[a]
        anc = np.where(todo, anc[a], anc)
        done = new_done
    return acc


def _nearest_marked(parent: np.ndarray, marked: np.ndarray) -> np.ndarray:
    """For each node, itself if marked, else its nearest marked ancestor (-1 if none), by pointer jumping."""
    n = len(parent)
    f = np.where(marked, np.arange(n), parent)
    while True:
        ok = (f < 0) | marked[np.maximum(f, 0)]
        if ok.all():
            return f
        f = np.where(ok, f, f[np.maximum(f, 0)])


@dataclass
class DeviceTrace:
    """What hangs below one device and what protects it."""

    device: str
    kind: str  # switch | transformer | segment | circuit
    circuit: str | None
    node: str | None  # the node the device's downstream starts at
    depth: int  # segments from the circuit head
    distance_m: float
    in_tree: bool  # False for loop-closing segments and open ties: nothing downstream
    island: bool
    segments: list[str] = field(default_factory=list)
    transformers: list[str] = field(default_factory=list)
    customers: float = 0.0
    protective_upstream: list[str] = field(default_factory=list)  # nearest first

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "kind": self.kind,
            "circuit": self.circuit,
            "node": self.node,
            "depth": self.depth,
            "distance_m": self.distance_m,
            "in_tree": self.in_tree,
            "island": self.island,
            "n_segments": len(self.segments),
            "n_transformers": len(self.transformers),
            "customers": self.customers,
            "protective_upstream": self.protective_upstream,
            "segments": self.segments,
            "transformers": self.transformers,
        }


class Topology:
    """Rooted forest of a network snapshot; see the module docstring for the construction.

    Arrays are indexed by node id (``0..n_nodes-1``) or by segment / transformer / switch row.

    Example::

        topo = Topology.from_store("gridcrit.duckdb")
        topo.report.lines()                    # loops, islands, unknown nodes ...
        topo.trace("NSA23L14").customers       # whole circuit
        topo.bulk("switch")                    # one row per switch: downstream counts, depth, protection
    """

    def __init__(self) -> None:  # use from_edges / from_store
        self.report = ProblemReport()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edges(
        cls,
        edges: pd.DataFrame,
        *,
        code: str | None = "CODE",
        node1: str = "ELNODE1",
        node2: str = "ELNODE2",
        circuit: str | None = "FPARENT",
        order: str | None = "ORDER_",
        length: str | None = "LENGTH",
        transformers: pd.DataFrame | None = None,
        switches: pd.DataFrame | None = None,
        roots: Mapping[str, Any] | None = None,
        per_circuit: bool = True,
    ) -> Topology:
        """Build from a generic edge table.

        ``code``: segment id column (None: row numbers ``"seg<i>"``); ``circuit``: circuit column (None: one
        circuit ``"ALL"``); ``order``: orientation column (1: node1 → node2 is downstream, -1: reversed;
        None or absent: undirected, e.g. snapped geometry — then pass ``roots`` {circuit: head node} or a
        leaf is used). ``per_circuit``: node ids are scoped by circuit (a graph per circuit; shared ids
        such as a substation bus are reported, not merged). ``transformers``: columns ``CODE, ELNODE`` (+ ``USUARIOS``, ``FPARENT``);
        ``switches``: ``CODE, LINESECTIO`` (+ ``ASSEMBLY``, ``STATE``, ``FPARENT``).
        """
        self = cls()
        rep = self.report
        missing = [c for c in (node1, node2) if c not in edges.columns]
        if missing:
            raise ValidationError(f"edge table lacks column(s) {missing}; columns: {list(edges.columns)}")
        e = pd.DataFrame(
            {
                "code": _ids(edges[code]).astype(str).to_numpy() if code else [f"seg{i}" for i in range(len(edges))],
                "n1": _ids(edges[node1]).to_numpy(),
                "n2": _ids(edges[node2]).to_numpy(),
                "circuit": edges[circuit].astype("string").fillna("?") if circuit else "ALL",
                "order": pd.to_numeric(edges[order], errors="coerce")
                if order and order in edges.columns
                else np.nan,
                "length": pd.to_numeric(edges[length], errors="coerce").fillna(0.0)
                if length and length in edges.columns
                else 0.0,
            }
        ).reset_index(drop=True)
        directed = bool(order and order in edges.columns)
        self.directed = directed

        bad_nodes = e["n1"].isna() | e["n2"].isna() | (e["n1"] == "") | (e["n2"] == "")
        rep.add(
            "segments_missing_node",
            e.loc[bad_nodes, "code"],
            "tramos sin nodo inicial o final (excluidos del grafo)",
            "segments without a start or end node (left out of the graph)",
        )
        dup = e["code"].duplicated() & ~bad_nodes
        rep.add(
            "duplicate_segment_codes",
            e.loc[dup, "code"],
            "códigos de tramo repetidos (se usa la primera fila)",
            "repeated segment codes (first row used)",
        )
        e = e[~bad_nodes & ~dup].reset_index(drop=True)
        if e.empty:
            raise ValidationError(
                f"edge table has no usable segment ({len(edges)} rows; need {node1} and {node2} on each row)"
            )
        e["n1"] = e["n1"].astype(str)
        e["n2"] = e["n2"].astype(str)
        if directed:
            bad_order = ~e["order"].isin([1, -1])
            rep.add(
                "bad_order",
                [f"{c}={o}" for c, o in zip(e.loc[bad_order, "code"], e.loc[bad_order, "order"], strict=True)],
                "ORDER_ distinto de 1/-1 o vacío (orientación tomada desde la cabecera del circuito)",
                "ORDER_ not 1/-1 or missing (orientation taken from the circuit head)",
            )
            rev = (e["order"] == -1).to_numpy()
            self.seg_order_known = ~bad_order.to_numpy()
        else:
            rev = np.zeros(len(e), dtype=bool)
            self.seg_order_known = np.zeros(len(e), dtype=bool)
        tail_lbl = np.where(rev, e["n2"].to_numpy(), e["n1"].to_numpy())
        head_lbl = np.where(rev, e["n1"].to_numpy(), e["n2"].to_numpy())
        names = np.concatenate([tail_lbl, head_lbl])
        self.per_circuit = per_circuit
        if per_circuit:  # one graph per circuit: a node id shared by two circuits is two nodes
            circ2 = np.concatenate([e["circuit"].astype(str).to_numpy()] * 2)
            keys = pd.Series(circ2, dtype=object) + _SEP + pd.Series(names, dtype=object)
        else:
            keys = pd.Series(names, dtype=object)
        codes_all, labels = pd.factorize(keys)
        m = len(e)
        n = len(labels)
        tail = codes_all[:m].astype(np.int64)
        head = codes_all[m:].astype(np.int64)
        first_pos = np.full(n, -1, dtype=np.int64)
        first_pos[codes_all[::-1]] = np.arange(len(codes_all))[::-1]
        self.node_labels = names[first_pos].astype(object)  # the utility's node id, without the circuit
        self.node_key_index = pd.Index(np.asarray(labels, dtype=object))
        name_first = pd.Series(np.arange(n), index=self.node_labels)
        self.node_name_index = name_first[~name_first.index.duplicated()]
        if per_circuit:
            shared = pd.Series(self.node_labels).value_counts()
            shared = shared[shared > 1]
            rep.add(
                "nodes_shared_between_circuits",
                shared.index[:5],
                "nodos que aparecen en varios circuitos (barra de subestación o enlace; cada circuito es un grafo aparte)",
                "node ids used by several circuits (substation bus or tie; each circuit is its own graph)",
                count=len(shared),
                severity="info",
            )
        self.seg_codes = e["code"].to_numpy(dtype=object)
        self.seg_index = pd.Index(self.seg_codes)
        self.seg_circuit = e["circuit"].astype(str).to_numpy(dtype=object)
        self.seg_tail, self.seg_head = tail, head
        self.seg_length = e["length"].to_numpy(dtype=np.float64)
        self.n_nodes, self.n_segments = n, m

        # ---- switches (needed before the tree: open ties and breakers)
        sw = self._prepare_switches(switches)
        selfloop = tail == head
        rep.add(
            "self_loops",
            self.seg_codes[selfloop],
            "tramos con el mismo nodo en ambos extremos (ciclo de longitud 1)",
            "segments whose two ends are the same node (a cycle of length 1)",
        )
        open_seg = np.zeros(m, dtype=bool)
        if len(sw):
            known = sw["seg"].to_numpy() >= 0
            open_seg[sw.loc[known & sw["open"].to_numpy(), "seg"].to_numpy()] = True
        rep.add(
            "open_ties",
            self.seg_codes[open_seg],
            "tramos con un seccionador normalmente abierto (enlaces, fuera del árbol energizado)",
            "segments with a normally-open switch (ties, outside the energised tree)",
            severity="info",
        )
        energ = ~selfloop & ~open_seg
        self.seg_energised = energ
        et, eh = tail[energ], head[energ]

        # ---- components and roots
        und = sparse.coo_matrix((np.ones(len(et) * 2), (np.r_[et, eh], np.r_[eh, et])), shape=(n, n)).tocsr()
        n_comp, comp = csgraph.connected_components(und, directed=False)
        seg_comp = comp[tail]
        comp_circuit = self._majority_circuit(seg_comp[energ], self.seg_circuit[energ], n_comp)
        head_nodes = self._head_nodes(sw, roots)
        root = self._choose_roots(comp, n_comp, head_nodes, et, eh, directed)
        self.comp, self.comp_circuit = comp, comp_circuit

        # ---- BFS from a super-root over the undirected energised graph: shortest path tree = radial path
        S = n
        rows = np.r_[et, eh, np.full(n_comp, S)]
        cols = np.r_[eh, et, root]
        G = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1)).tocsr()
        _, pred = csgraph.breadth_first_order(G, S, directed=True, return_predecessors=True)
        parent = pred[:n].astype(np.int64)
        parent[parent == S] = -1
        parent[parent < 0] = -1
        self.parent = parent
        self.is_root = parent < 0

        # which segment realises each tree edge (first energised segment between the two nodes)
        eidx = np.flatnonzero(energ)
        key_seg = np.minimum(et, eh) * (n + 1) + np.maximum(et, eh)
        key_idx = pd.Index(key_seg)
        first = ~key_idx.duplicated()
        uniq = pd.Index(key_seg[first])
        child = np.flatnonzero(parent >= 0)
        kc = np.minimum(child, parent[child]) * (n + 1) + np.maximum(child, parent[child])
        parent_seg = np.full(n, -1, dtype=np.int64)
        parent_seg[child] = eidx[first][uniq.get_indexer(kc)]
        self.parent_seg = parent_seg
        seg_child = np.full(m, -1, dtype=np.int64)
        seg_child[parent_seg[child]] = child
        self.seg_child = seg_child  # downstream node of each tree segment, -1 if not in the tree
        in_tree = seg_child >= 0
        loops = energ & ~in_tree
        self.seg_in_tree = in_tree
        rep.add(
            "loops",
            [f"{self.seg_codes[s]}@{self.seg_circuit[s]}" for s in np.flatnonzero(loops)[:5]],
            "tramos que cierran un ciclo (la red no es radial; cada uno cierra un ciclo independiente)",
            "segments closing a cycle (the network is not radial; each closes one independent cycle)",
            count=int(loops.sum()),
        )
        if directed:  # segments without a usable ORDER_ have no stored direction to contradict
            reversed_ = in_tree & (seg_child == tail) & self.seg_order_known
            rep.add(
                "reversed_orientation",
                self.seg_codes[reversed_],
                "tramos cuyo ORDER_ apunta hacia la cabecera (orientación corregida desde la cabecera)",
                "segments whose ORDER_ points towards the head (orientation taken from the head)",
                count=int(reversed_.sum()),
            )

        # ---- islands: components of a circuit other than its main one
        main = self._main_components(comp, n_comp, comp_circuit, head_nodes, seg_comp, energ)
        self.node_island = ~main[comp]
        isl_comps = np.flatnonzero(~main & (np.bincount(seg_comp[energ], minlength=n_comp) > 0))
        seg_island = ~main[seg_comp] & energ
        rep.add(
            "islands",
            [f"{comp_circuit[c]}:{self.node_labels[root[c]]}" for c in isl_comps[:5]],
            "componentes desconectadas de la cabecera de su circuito",
            "components not connected to their circuit's head",
            count=len(isl_comps),
            weight={"segments": float(seg_island.sum())},
        )
        guessed = np.flatnonzero(self._guessed_root & main & (np.bincount(seg_comp[energ], minlength=n_comp) > 0))
        rep.add(
            "circuit_head_guessed",
            [f"{comp_circuit[c]}:{self.node_labels[root[c]]}" for c in guessed[:5]],
            "circuitos sin interruptor de cabecera ni ORDER_ que indique su cabecera: se toma un extremo "
            "(hoja) y lo que está aguas abajo puede no ser cierto; indique la raíz (roots=)",
            "circuits with no head breaker and no ORDER_ pointing to a head: an end node (leaf) is taken, so "
            "downstream sets may be wrong; give the root (roots=)",
            count=len(guessed),
        )
        self.node_circuit = comp_circuit[comp]
        mism = energ & (self.seg_circuit != self.node_circuit[tail])
        rep.add(
            "segment_circuit_mismatch",
            [f"{self.seg_codes[s]}:{self.seg_circuit[s]}≠{self.node_circuit[tail[s]]}" for s in np.flatnonzero(mism)[:5]],
            "tramos cuyo FPARENT difiere del circuito de su árbol (enlace entre circuitos)",
            "segments whose FPARENT differs from the circuit of their tree (link between circuits)",
            count=int(mism.sum()),
        )

        # ---- preorder, subtree sizes, depth, distance
        T = sparse.coo_matrix(
            (np.ones(n), (np.where(parent < 0, S, parent), np.arange(n))), shape=(n + 1, n + 1)
        ).tocsr()
        order_ = csgraph.depth_first_order(T, S, directed=True, return_predecessors=False)
        order_ = order_[order_ != S].astype(np.int64)
        self.order = order_
        pos = np.empty(n, dtype=np.int64)
        pos[order_] = np.arange(n)
        self.pos = pos
        self.depth = _pointer_jump(parent, (parent >= 0).astype(np.float64)).astype(np.int64)
        w_len = np.where(parent >= 0, self.seg_length[np.maximum(parent_seg, 0)], 0.0)
        self.distance = _pointer_jump(parent, w_len)
        size = np.ones(n, dtype=np.int64)
        by_depth = np.argsort(-self.depth, kind="stable")
        bounds = np.flatnonzero(np.diff(-self.depth[by_depth])) + 1
        for lvl in np.split(by_depth, bounds):
            lvl = lvl[parent[lvl] >= 0]
            if len(lvl):
                np.add.at(size, parent[lvl], size[lvl])
        self.size = size

        # ---- devices
        self._attach_switches(sw)
        self._attach_transformers(transformers)
        rep.info.update(
            {
                "segments": m,
                "nodes": n,
                "circuits": len(np.unique(self.seg_circuit)) if m else 0,
                "components": int(n_comp),
                "transformers": len(self.trafo_codes),
                "switches": len(self.sw_codes),
                "directed": directed,
                "radial": rep.count("loops") == 0 and rep.count("self_loops") == 0,
                "max_depth": int(self.depth.max()) if n else 0,
            }
        )
        return self

    @classmethod
    def from_store(cls, store: Any, fecha: str | None = None) -> Topology:
        """Build from the ``redmt``/``trafos``/``switches`` snapshot of ``fecha`` (latest at or before it;
        default: the latest snapshot). ``store``: a path or an open DuckDB connection."""
        con, close = _connection(store)
        try:
            fe = _snapshot_date(con, "redmt", fecha)
            edges = con.execute(
                'SELECT CODE, FPARENT, ELNODE1, ELNODE2, ORDER_, LENGTH FROM redmt WHERE FECHA = ?', [fe]
            ).df()
            ft = _snapshot_date(con, "trafos", fe, required=False)
            tr = (
                con.execute(
                    "SELECT CODE, ELNODE, FPARENT, USUARIOS, MUN FROM trafos WHERE FECHA = ?", [ft]
                ).df()
                if ft is not None
                else None
            )
            fs = _snapshot_date(con, "switches", fe, required=False)
            sw = (
                con.execute(
                    "SELECT CODE, LINESECTIO, ASSEMBLY, STATE, FPARENT FROM switches WHERE FECHA = ?", [fs]
                ).df()
                if fs is not None
                else None
            )
        finally:
            if close:
                con.close()
        topo = cls.from_edges(edges, transformers=tr, switches=sw)
        topo.report.info["snapshot"] = str(fe)
        topo.snapshot = str(fe)
        return topo

    @classmethod
    def from_snapped(cls, network: Any, roots: Mapping[str, Any] | None = None) -> Topology:
        """Build from the snapped ``red_nsa`` geometry (:func:`gridcrit.data.real.load_network`): its
        ``edges`` (segment, CIRCUITO, node1, node2, length_m) are undirected, so pass ``roots``
        {circuit: snapped node id} for true depths and downstream sets (otherwise a leaf is the head).
        Transformers / switches come from ``network.points`` (nearest end node / nearest segment) and are
        named ``TR<i>`` / ``SW<i>`` by their row in the points table."""
        e = network.edges.assign(segment=lambda d: d["segment"].astype(str))
        pts = getattr(network, "points", None)
        tr = sw = None
        if pts is not None and len(pts):
            t = pts[pts["kind"] == "transformador"]
            tr = pd.DataFrame({"CODE": [f"TR{i}" for i in t.index], "ELNODE": t["node"].astype(str).to_numpy()})
            s = pts[pts["kind"] == "switch"]
            sw = pd.DataFrame({"CODE": [f"SW{i}" for i in s.index], "LINESECTIO": s["segment"].astype(str).to_numpy()})
            if "CIRCUITO" in pts.columns:  # a node shared by two circuits (a bus, a tie) needs the point's own
                tr["FPARENT"] = t["CIRCUITO"].astype(str).to_numpy()
                sw["FPARENT"] = s["CIRCUITO"].astype(str).to_numpy()
        return cls.from_edges(
            e, code="segment", node1="node1", node2="node2", circuit="CIRCUITO", order=None, length="length_m",
            transformers=tr, switches=sw, roots=None if roots is None else {k: str(v) for k, v in roots.items()},
        )

    # ------------------------------------------------------------------ construction helpers
    def _prepare_switches(self, switches: pd.DataFrame | None) -> pd.DataFrame:
        if switches is None or len(switches) == 0:
            sw = pd.DataFrame({"CODE": [], "seg": [], "open": [], "prot": [], "FPARENT": []})
            sw["seg"] = sw["seg"].astype(np.int64)
            sw["open"] = sw["open"].astype(bool)
            sw["prot"] = sw["prot"].astype(bool)
            return sw
        for c in ("CODE", "LINESECTIO"):
            if c not in switches.columns:
                raise ValidationError(f"switch table lacks column {c!r}")
        sw = pd.DataFrame({"CODE": _ids(switches["CODE"]).astype(str).to_numpy()})
        sw["seg"] = self.seg_index.get_indexer(_ids(switches["LINESECTIO"]).astype(str))
        state = switches["STATE"] if "STATE" in switches.columns else pd.Series([""] * len(sw))
        sw["open"] = state.fillna("").astype(str).str.upper().str.strip().isin(OPEN_STATES).to_numpy()
        asm = switches["ASSEMBLY"] if "ASSEMBLY" in switches.columns else pd.Series([None] * len(sw))
        sw["prot"] = is_protective(asm.reset_index(drop=True))
        sw["ASSEMBLY"] = asm.to_numpy()
        sw["FPARENT"] = (
            switches["FPARENT"].astype(str).to_numpy() if "FPARENT" in switches.columns else None
        )
        unknown = sw["seg"] < 0
        self.report.add(
            "switches_unknown_segment",
            [f"{c}→{s}" for c, s in zip(sw.loc[unknown, "CODE"], switches.loc[unknown.to_numpy(), "LINESECTIO"], strict=False)],
            "seccionadores cuyo LINESECTIO no es un tramo conocido (sin aguas abajo ni protección)",
            "switches whose LINESECTIO is not a known segment (no downstream, no protection role)",
            count=int(unknown.sum()),
        )
        return sw

    @staticmethod
    def _majority_circuit(seg_comp: np.ndarray, seg_circuit: np.ndarray, n_comp: int) -> np.ndarray:
        out = np.full(n_comp, None, dtype=object)
        if len(seg_comp) == 0:
            return out
        df = pd.DataFrame({"c": seg_comp, "k": seg_circuit})
        cnt = df.groupby(["c", "k"], sort=False).size().reset_index(name="n")
        cnt = cnt.sort_values(["c", "n", "k"], ascending=[True, False, True]).drop_duplicates("c")
        out[cnt["c"].to_numpy()] = cnt["k"].to_numpy()
        return out

    def _head_nodes(self, sw: pd.DataFrame, roots: Mapping[str, Any] | None) -> dict[str, int]:
        """Circuit -> head node: given roots first, else the upstream node of the circuit breaker
        (a switch whose CODE is a circuit code)."""
        heads: dict[str, int] = {}
        circuits = set(self.seg_circuit)
        if len(sw):
            brk = sw[(pd.Index(list(circuits)).get_indexer(sw["CODE"].to_numpy(dtype=object)) >= 0) & (sw["seg"] >= 0).to_numpy()]
            en = self.seg_energised
            deg = np.bincount(np.r_[self.seg_tail[en], self.seg_head[en]], minlength=self.n_nodes)
            for code, s in zip(brk["CODE"], brk["seg"], strict=True):
                tail, head = int(self.seg_tail[s]), int(self.seg_head[s])
                if not self.seg_order_known[s] and deg[head] < deg[tail]:
                    # no usable ORDER_ on the breaker's segment: the substation side is the end the rest of
                    # the circuit does not continue from (taking the other end would leave the breaker with
                    # its own segment only downstream)
                    tail = head
                heads.setdefault(code, tail)
        if roots:
            unknown = []
            for c, node in roots.items():
                i = self.locate_nodes([str(node)], [str(c)])[0]
                if i < 0:
                    unknown.append(f"{c}:{node}")
                else:
                    heads[str(c)] = int(i)
            self.report.add(
                "unknown_roots",
                unknown,
                "raíces dadas que no son nodos del grafo",
                "given roots that are not nodes of the graph",
            )
        return heads

    def _choose_roots(
        self, comp: np.ndarray, n_comp: int, heads: dict[str, int], et: np.ndarray, eh: np.ndarray, directed: bool
    ) -> np.ndarray:
        n = len(comp)
        root = np.full(n_comp, -1, dtype=np.int64)
        for node in heads.values():  # heads first
            if root[comp[node]] < 0:
                root[comp[node]] = node
        deg = np.bincount(eh, minlength=n) + np.bincount(et, minlength=n)
        if directed:
            # only segments with a usable ORDER_ say which way is upstream: a head candidate has none
            # coming in and at least one going out (a missing ORDER_ "taken as 1" is no evidence)
            known = self.seg_order_known[self.seg_energised]
            et, eh = et[known], eh[known]
            cand = np.flatnonzero((np.bincount(eh, minlength=n) == 0) & (np.bincount(et, minlength=n) > 0))
            ncand = np.bincount(comp[cand], minlength=n_comp)
            # one node without upstream in its component: it is the head
            single = cand[ncand[comp[cand]] == 1]
            free = root[comp[single]] < 0
            root[comp[single[free]]] = single[free]
            multi = np.unique(comp[cand[ncand[comp[cand]] > 1]])
            multi = multi[root[multi] < 0]
            if len(multi):
                D = sparse.coo_matrix((np.ones(len(et)), (et, eh)), shape=(n, n)).tocsr()
                for c in multi:  # rare: several nodes without upstream; keep the one reaching most nodes
                    cs = cand[comp[cand] == c][:50]
                    reach = [len(csgraph.breadth_first_order(D, int(x), directed=True)[0]) for x in cs]
                    root[c] = cs[int(np.argmax(reach))]
        left = np.flatnonzero(root < 0)
        self._guessed_root = np.zeros(n_comp, dtype=bool)
        self._guessed_root[left] = True
        if len(left):  # undirected graphs or pure cycles: a lowest-degree node (a leaf when there is one)
            nodes = np.flatnonzero(np.isin(comp, left))
            dfn = pd.DataFrame({"c": comp[nodes], "d": deg[nodes], "v": nodes}).sort_values(["c", "d", "v"])
            dfn = dfn.drop_duplicates("c")
            root[dfn["c"].to_numpy()] = dfn["v"].to_numpy()
        return root

    def _main_components(
        self,
        comp: np.ndarray,
        n_comp: int,
        comp_circuit: np.ndarray,
        heads: dict[str, int],
        seg_comp: np.ndarray,
        energ: np.ndarray,
    ) -> np.ndarray:
        """True for the component holding each circuit's head (or its largest one); single isolated nodes
        with no energised segment count as main (they are reported elsewhere)."""
        nseg = np.bincount(seg_comp[energ], minlength=n_comp)
        main = nseg == 0
        df = pd.DataFrame({"c": np.arange(n_comp), "k": comp_circuit, "n": nseg})
        df = df[df["n"] > 0]
        head_comp = {k: int(comp[v]) for k, v in heads.items()}
        df["is_head"] = [head_comp.get(k) == c for k, c in zip(df["k"], df["c"], strict=True)]
        best = df.sort_values(["k", "is_head", "n", "c"], ascending=[True, False, False, True]).drop_duplicates("k")
        main[best["c"].to_numpy()] = True
        return main

    def _attach_switches(self, sw: pd.DataFrame) -> None:
        n = self.n_nodes
        self.sw_codes = sw["CODE"].to_numpy(dtype=object)
        self.sw_index = pd.Index(self.sw_codes)
        self.sw_seg = sw["seg"].to_numpy(dtype=np.int64)
        self.sw_prot = sw["prot"].to_numpy(dtype=bool)
        self.sw_open = sw["open"].to_numpy(dtype=bool)
        self.sw_assembly = sw["ASSEMBLY"].to_numpy(dtype=object) if "ASSEMBLY" in sw else np.array([])
        dup = self.sw_index.duplicated()
        self.report.add(
            "duplicate_switch_codes",
            self.sw_codes[dup],
            "códigos de seccionador repetidos (se usa el primero)",
            "repeated switch codes (first one used)",
        )
        ok = (self.sw_seg >= 0) & self.sw_prot & ~self.sw_open
        prot_per_seg = np.bincount(self.sw_seg[ok], minlength=self.n_segments)
        first_prot = np.full(self.n_segments, -1, dtype=np.int64)
        idx = np.flatnonzero(ok)[::-1]  # reversed so the first switch of a segment wins
        first_prot[self.sw_seg[idx]] = idx
        self.seg_first_prot = first_prot
        ps = np.maximum(self.parent_seg, 0)
        own = np.where(self.parent_seg >= 0, prot_per_seg[ps], 0)
        # protective devices on the path from each node up to the head, the feeding segment included
        self.node_prot_count = _pointer_jump(self.parent, own.astype(np.float64)).astype(np.int64)
        near_node = _nearest_marked(self.parent, own > 0)
        self.node_nearest_prot = np.where(
            near_node >= 0, first_prot[np.maximum(self.parent_seg[np.maximum(near_node, 0)], 0)], -1
        )
        _ = n

    def _attach_transformers(self, transformers: pd.DataFrame | None) -> None:
        n = self.n_nodes
        if transformers is None or len(transformers) == 0:
            self.trafo_codes = np.array([], dtype=object)
            self.trafo_node = np.array([], dtype=np.int64)
            self.trafo_customers = np.array([], dtype=np.float64)
        else:
            for c in ("CODE", "ELNODE"):
                if c not in transformers.columns:
                    raise ValidationError(f"transformer table lacks column {c!r}")
            self.trafo_codes = _ids(transformers["CODE"]).astype(str).to_numpy(dtype=object)
            self.trafo_node = self.locate_nodes(
                transformers["ELNODE"].to_numpy(),
                transformers["FPARENT"].astype(str).to_numpy() if "FPARENT" in transformers.columns else None,
            )
            cust = transformers["USUARIOS"] if "USUARIOS" in transformers.columns else pd.Series(np.nan, index=transformers.index)
            self.trafo_customers = pd.to_numeric(cust, errors="coerce").to_numpy(dtype=np.float64)
            unknown = self.trafo_node < 0
            self.report.add(
                "transformers_unknown_node",
                [f"{c}→{e}" for c, e in zip(self.trafo_codes[unknown], transformers["ELNODE"].to_numpy()[unknown], strict=True)],
                "transformadores cuyo ELNODE no es un nodo de la red (sin circuito ni aguas arriba)",
                "transformers whose ELNODE is not a node of the network (no circuit, no upstream)",
                count=int(unknown.sum()),
                weight={"customers": float(np.nansum(self.trafo_customers[unknown]))},
            )
            if "FPARENT" in transformers.columns:
                kn = ~unknown
                fp = transformers["FPARENT"].astype(str).to_numpy()
                mm = np.zeros(len(fp), dtype=bool)
                mm[kn] = fp[kn] != self.node_circuit[self.trafo_node[kn]]
                self.report.add(
                    "transformer_circuit_mismatch",
                    [f"{c}:{a}≠{b}" for c, a, b in zip(self.trafo_codes[mm], fp[mm], self.node_circuit[self.trafo_node[mm]], strict=True)],
                    "transformadores cuyo FPARENT difiere del circuito de su nodo",
                    "transformers whose FPARENT differs from their node's circuit",
                    count=int(mm.sum()),
                )
        self.trafo_index = pd.Index(self.trafo_codes)
        known = self.trafo_node >= 0
        self.node_trafos = np.bincount(self.trafo_node[known], minlength=n).astype(np.float64)
        self.node_customers = np.bincount(
            self.trafo_node[known], weights=np.nan_to_num(self.trafo_customers[known]), minlength=n
        )

    # ------------------------------------------------------------------ queries
    def locate_nodes(self, names: Any, circuits: Any = None) -> np.ndarray:
        """Node index of each node id (``-1`` if unknown). With ``circuits`` (per-circuit graphs) the node
        of that circuit is used; ids not found in that circuit fall back to any circuit's node."""
        names = _ids(names).astype(str)
        by_name = self.node_name_index.reindex(names.to_numpy()).fillna(-1).to_numpy(dtype=np.int64)
        if not self.per_circuit or circuits is None:
            return by_name
        keys = pd.Series(np.asarray(circuits, dtype=object)).astype(str) + _SEP + names
        idx = self.node_key_index.get_indexer(keys.to_numpy()).astype(np.int64)
        return np.where(idx >= 0, idx, by_name)

    def subtree_sum(self, nodes: np.ndarray, node_weights: np.ndarray) -> np.ndarray:
        """Sum of ``node_weights`` (shape ``(n_nodes,)`` or ``(n_nodes, k)``) over the subtree of each of
        ``nodes`` (-1 gives 0). One prefix sum over the preorder; O(n_nodes + len(nodes))."""
        w = np.asarray(node_weights, dtype=np.float64)[self.order]
        cs = np.concatenate([np.zeros((1, *w.shape[1:])), np.cumsum(w, axis=0)])
        nodes = np.asarray(nodes, dtype=np.int64)
        ok = nodes >= 0
        v = np.maximum(nodes, 0)
        out = cs[self.pos[v] + self.size[v]] - cs[self.pos[v]]
        out[~ok] = 0.0
        return out

    def device_nodes(self, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(codes, start node of the device's downstream or -1, node used for depth/protection) per device."""
        if kind == "switch":
            seg = self.sw_seg
            start = np.where(seg >= 0, self.seg_child[np.maximum(seg, 0)], -1)
            at = np.where(seg >= 0, self.seg_tail[np.maximum(seg, 0)], -1)
            at = np.where(start >= 0, self.parent[np.maximum(start, 0)], at)
            return self.sw_codes, start, at
        if kind == "segment":  # like a switch at the segment's upstream end
            start = self.seg_child
            at = np.where(start >= 0, self.parent[np.maximum(start, 0)], self.seg_tail)
            return self.seg_codes, start, at
        if kind == "transformer":
            return self.trafo_codes, self.trafo_node, self.trafo_node
        raise ValidationError(f"unknown device kind {kind!r}; use switch, segment or transformer")

    def bulk(self, kind: str = "switch", node_weights: np.ndarray | None = None) -> pd.DataFrame:
        """One row per device of ``kind`` (switch | segment | transformer): downstream segments,
        transformers and customers, depth, distance (m), protective devices upstream, island flag.

        ``node_weights`` (n_nodes × k, optional): extra per-node quantities summed downstream (e.g.
        customers per month), returned as columns ``w0..w{k-1}``.
        """
        codes, start, at = self.device_nodes(kind)
        atc = np.maximum(at, 0)
        if kind == "transformer":
            n_seg = np.zeros(len(codes), dtype=np.int64)
            n_tr = (start >= 0).astype(np.int64)
            cust = np.where(start >= 0, np.nan_to_num(self.trafo_customers), 0.0)
            prot_n = self.node_prot_count[atc]
            prot_near = self.node_nearest_prot[atc]
        else:
            stc = np.maximum(start, 0)
            n_seg = np.where(start >= 0, self.size[stc], 0)
            n_tr = self.subtree_sum(start, self.node_trafos).astype(np.int64)
            cust = self.subtree_sum(start, self.node_customers)
            if kind == "switch":  # switches on the device's own segment are not upstream of it
                prot_n = self.node_prot_count[atc]
                prot_near = self.node_nearest_prot[atc]
            else:
                prot_n = self.node_prot_count[np.where(start >= 0, stc, atc)]
                prot_near = self.node_nearest_prot[np.where(start >= 0, stc, atc)]
        prot_near_code = np.where(prot_near >= 0, self.sw_codes[np.maximum(prot_near, 0)] if len(self.sw_codes) else None, None)
        df = pd.DataFrame(
            {
                "code": codes,
                "circuit": np.where(at >= 0, self.node_circuit[atc], None),
                "in_tree": start >= 0,
                "island": np.where(at >= 0, self.node_island[atc], False),
                "depth": np.where(at >= 0, self.depth[atc] + (kind != "transformer") * (start >= 0), -1),
                "distance_m": np.where(at >= 0, self.distance[atc], np.nan),
                "n_segments_down": n_seg,
                "n_transformers_down": n_tr,
                "customers_down": cust,
                "n_protective_upstream": np.where(at >= 0, prot_n, 0),
                "nearest_protective_upstream": prot_near_code,
            }
        )
        if node_weights is not None:
            w = self.subtree_sum(start, node_weights) if kind != "transformer" else None
            if w is None:
                nw = np.asarray(node_weights, dtype=np.float64)
                w = np.zeros((len(codes), *nw.shape[1:]))
            w = w.reshape(len(codes), -1)
            for j in range(w.shape[1]):
                df[f"w{j}"] = w[:, j]
        return df

    def downstream_sets(self, kind: str = "switch") -> tuple[np.ndarray, np.ndarray]:
        """Downstream segment sets of every device of ``kind`` in CSR form: ``(offsets, segments)``, the
        set of device ``i`` being ``segments[offsets[i]:offsets[i+1]]`` (segment row indices)."""
        _, start, _ = self.device_nodes(kind)
        lens = np.where(start >= 0, self.size[np.maximum(start, 0)], 0)
        if kind == "transformer":
            lens = np.zeros_like(lens)
        offsets = np.concatenate([[0], np.cumsum(lens)])
        total = int(offsets[-1])
        starts = self.pos[np.maximum(start, 0)]
        posn = np.repeat(starts - offsets[:-1], lens) + np.arange(total)
        return offsets, self.parent_seg[self.order[posn]]

    def resolve(self, device: str) -> tuple[str, int]:
        """(kind, row) of a device code: switch, transformer, segment, or circuit (row = head node)."""
        device = str(device)
        for kind, idx in (("switch", self.sw_index), ("transformer", self.trafo_index), ("segment", self.seg_index)):
            i = idx.get_indexer([device])[0] if idx.is_unique else (np.flatnonzero(idx == device)[:1].tolist() or [-1])[0]
            if i >= 0:
                return kind, int(i)
        heads = np.flatnonzero(self.is_root & ~self.node_island & (self.node_circuit == device))
        if len(heads):
            return "circuit", int(heads[0])
        raise NotFoundError(f"device {device!r} is not a switch, transformer, segment or circuit of this network",
                            es=f"el equipo {device!r} no es un interruptor, transformador, tramo ni circuito de esta red")

    def trace(self, device: str) -> DeviceTrace:
        """Downstream segments / transformers / customers, depth and upstream protection of one device."""
        kind, i = self.resolve(device)
        if kind == "circuit":
            start, at = i, i
        elif kind == "transformer":
            start = at = int(self.trafo_node[i])
        else:
            _, starts, ats = self.device_nodes(kind)
            start, at = int(starts[i]), int(ats[i])
        if kind == "transformer":
            segs: list[str] = []
            trs = [str(self.trafo_codes[i])] if start >= 0 else []
            cust = float(np.nan_to_num(self.trafo_customers[i])) if start >= 0 else 0.0
        elif start >= 0:
            nodes = self.order[self.pos[start] : self.pos[start] + self.size[start]]
            ps = self.parent_seg[nodes]
            segs = [str(s) for s in self.seg_codes[ps[ps >= 0]]]
            tmask = np.isin(self.trafo_node, nodes)
            trs = [str(t) for t in self.trafo_codes[tmask]]
            cust = float(np.nansum(self.trafo_customers[tmask]))
        else:
            segs, trs, cust = [], [], 0.0
        # walk up from the node where protection starts (see module docstring for what is included)
        walk = at if kind in ("switch", "circuit") else start
        prot: list[str] = []
        v = walk
        while v is not None and v >= 0 and self.parent[v] >= 0:
            s = self.parent_seg[v]
            hit = np.flatnonzero((self.sw_seg == s) & self.sw_prot & ~self.sw_open)
            prot.extend(str(self.sw_codes[h]) for h in hit)
            v = self.parent[v]
        ref = at if at >= 0 else start
        depth = int(self.depth[ref]) + (1 if kind in ("switch", "segment") and start >= 0 else 0) if ref >= 0 else -1
        return DeviceTrace(
            device=str(device),
            kind=kind,
            circuit=None if ref < 0 else self.node_circuit[ref],
            node=None if start < 0 else str(self.node_labels[start]),
            depth=depth,
            distance_m=float(self.distance[ref]) if ref >= 0 else float("nan"),
            in_tree=start >= 0,
            island=bool(self.node_island[ref]) if ref >= 0 else False,
            segments=segs,
            transformers=trs,
            customers=cust,
            protective_upstream=prot,
        )

    def circuit_summary(self) -> pd.DataFrame:
        """Per circuit: head node, segments, transformers, customers, max depth, islands, loops."""
        energ = self.seg_energised
        seg = pd.DataFrame(
            {
                "circuit": self.seg_circuit,
                "loop": energ & ~self.seg_in_tree,
                "island": energ & self.node_island[self.seg_tail],
            }
        )
        g = seg.groupby("circuit").agg(segments=("loop", "size"), loops=("loop", "sum"), island_segments=("island", "sum"))
        heads = np.flatnonzero(self.is_root & ~self.node_island)
        h = pd.DataFrame(
            {
                "circuit": self.node_circuit[heads],
                "head": self.node_labels[heads],
                "customers": self.subtree_sum(heads, self.node_customers),
                "transformers": self.subtree_sum(heads, self.node_trafos).astype(np.int64),
            }
        ).drop_duplicates("circuit").set_index("circuit")
        dep = pd.Series(self.depth, index=self.node_circuit).groupby(level=0).max().rename("max_depth")
        return g.join(h, how="left").join(dep, how="left").reset_index()


def _connection(store: Any):
    """(connection, close_it) from a path or an existing DuckDB connection."""
    if isinstance(store, (str, Path)):
        from gridcrit.data.store import connect

        con, close = connect(store, read_only=True), True
    else:
        con, close = store, False
    # DuckDB draws a progress bar on stderr for long scans; the CLI has its own output
    con.execute("SET enable_progress_bar = false")
    return con, close


def _snapshot_date(con, table: str, fecha: Any = None, required: bool = True):
    """Latest FECHA of ``table`` at or before ``fecha`` (latest overall if None)."""
    if fecha is None:
        row = con.execute(f'SELECT max(FECHA) FROM "{table}"').fetchone()
    else:
        if isinstance(fecha, str):  # a typo ('ayer', '2021-13-01') is the user's, not DuckDB's
            try:
                ok = not pd.isna(pd.Timestamp(fecha.strip()))
            except ValueError:
                ok = False
            if not ok:
                raise ValidationError(f"snapshot date {fecha!r} is not a date; use YYYY-MM-DD (e.g. 2024-06-30)")
        row = con.execute(f'SELECT max(FECHA) FROM "{table}" WHERE FECHA <= CAST(? AS DATE)', [str(fecha)]).fetchone()
    if row is None or row[0] is None:
        if required:
            raise NotFoundError(
                f"table {table!r} has no snapshot" + (f" at or before {fecha}" if fecha else "") + "; ingest it first",
                es=f"la tabla {table!r} no tiene corte" + (f" en o antes de {fecha}" if fecha else "")
                + "; ingrésela primero",
            )
        return None
    return row[0]
