"""Topology features of every asset from the radial MV network of a snapshot.

The network of one ``redmt`` snapshot is a forest: segment ``ELNODE1 -> ELNODE2`` (reversed when
``ORDER_ == -1``) points downstream, each circuit's root node is its substation bus. Nodes are grouped
by depth; then

* upstream totals (km from the substation, protective devices on the path) are one pass from the
  roots down: ``up[level d] += up[parent of level d]``, and
* downstream totals (customers, transformers, km of line below) one pass from the leaves up:
  ``down[parent of level d] += down[level d]``,

a few vectorised numpy operations per depth level for all nodes at once, in O(nodes) memory (an
ancestor matrix would hold the sum of all depths: ~50 million entries at 10x CHEC scale). Structures are
cached by a hash of their segments, so an unchanged network is traced once however many monthly
snapshots share it.

This is the features stage's own light tracer, cross-checked against the reliability stage's
``gridcrit.reliability.topology`` in ``tests/test_dataset_topology.py``; it breaks cycles and reports them
instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PROTECTIVE_KINDS = ("RECONECT", "CORTACIRC", "FUSIBLE", "INTERRUPTOR", "BREAKER", "FUSE", "RECLOSER")


def is_protective(assembly: pd.Series) -> np.ndarray:
    """True for reclosers, fuses (cortacircuitos) and breakers; False for plain sectionalisers."""
    a = assembly.fillna("").astype(str).str.upper()
    out = np.zeros(len(a), dtype=bool)
    for kind in PROTECTIVE_KINDS:
        out |= a.str.contains(kind, regex=False).to_numpy()
    return out


@dataclass
class Network:
    """One traced snapshot structure."""

    nodes: pd.Index  # node ids
    seg_codes: pd.Index  # segment CODE, position = segment index
    seg_down: np.ndarray  # downstream node index of each segment
    seg_up: np.ndarray
    seg_circuit: np.ndarray  # FPARENT of each segment (object)
    parent_seg: np.ndarray  # per node: segment feeding it (-1 at roots)
    depth: np.ndarray  # segments between the node and its root
    parent: np.ndarray  # parent node (-1 at roots)
    levels: list[np.ndarray]  # levels[d-1] = nodes at depth d (d >= 1)
    problems: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def downstream(self, at_node: np.ndarray) -> np.ndarray:
        """Sum of ``at_node`` over each node's subtree (itself included). Works on (n,) or (n, k)."""
        out = np.array(at_node, dtype=np.float64, copy=True)
        n = len(out)
        for nodes in reversed(self.levels):  # leaves first: children hand their totals to parents
            par = self.parent[nodes]
            if out.ndim == 1:
                out += np.bincount(par, out[nodes], n)
            else:
                for j in range(out.shape[1]):
                    out[:, j] += np.bincount(par, out[nodes, j], n)
        return out

    def upstream(self, at_node: np.ndarray) -> np.ndarray:
        """Sum of ``at_node`` over each node's path to its root (itself included)."""
        out = np.array(at_node, dtype=np.float64, copy=True)
        for nodes in self.levels:  # roots first: each level adds its parent's finished total
            out[nodes] += out[self.parent[nodes]]
        return out


def trace(seg: pd.DataFrame) -> Network:
    """Trace one snapshot of ``redmt`` (columns CODE, FPARENT, ELNODE1, ELNODE2, ORDER_)."""
    rev = pd.to_numeric(seg["ORDER_"], errors="coerce").fillna(1).to_numpy() == -1
    n1 = seg["ELNODE1"].astype(str).to_numpy()
    n2 = seg["ELNODE2"].astype(str).to_numpy()
    up_id = np.where(rev, n2, n1)
    down_id = np.where(rev, n1, n2)
    nodes = pd.Index(pd.unique(np.concatenate([up_id, down_id])))
    up = nodes.get_indexer(up_id)
    down = nodes.get_indexer(down_id)
    n = len(nodes)
    problems: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    # a node fed by two segments is a loop (or an unflagged tie): keep the first feeder, report the rest
    parent_seg = np.full(n, -1, dtype=np.int64)
    order = np.arange(len(seg))
    first = pd.Series(order).groupby(down).transform("min").to_numpy()
    keep = order == first
    parent_seg[down[keep]] = order[keep]
    if (~keep).any():
        problems["nodes_with_several_feeders"] = int((~keep).sum())
        examples["nodes_with_several_feeders"] = list(nodes[down[~keep]][:5])
    parent = np.where(parent_seg >= 0, up[np.maximum(parent_seg, 0)], -1)
    parent[parent_seg < 0] = -1
    # nodes that never reach a root sit on a cycle: cut it (pointer doubling finds them in log n steps)
    f = np.where(parent >= 0, parent, np.arange(n))
    for _ in range(max(1, int(np.ceil(np.log2(max(n, 2)))) + 1)):
        f = f[f]
    cyc = parent[f] >= 0
    if cyc.any():
        problems["nodes_on_cycles"] = int(cyc.sum())
        examples["nodes_on_cycles"] = list(nodes[cyc][:5])
        parent[cyc & (parent >= 0)] = -1  # every cycle node becomes a root of an island
        parent_seg[cyc] = -1
    # depth by walking every node up one step per round (O(n) memory; work = sum of depths)
    depth = np.zeros(n, dtype=np.int32)
    a = parent.copy()
    active = np.flatnonzero(a >= 0)
    while len(active):
        depth[active] += 1
        a[active] = parent[a[active]]
        active = active[a[active] >= 0]
    order = np.argsort(depth, kind="stable")
    bounds = np.searchsorted(depth[order], np.arange(1, int(depth.max(initial=0)) + 2))
    levels = [order[bounds[d]:bounds[d + 1]] for d in range(len(bounds) - 1)]
    return Network(
        nodes=nodes,
        seg_codes=pd.Index(seg["CODE"].astype(str).to_numpy()),
        seg_down=down,
        seg_up=up,
        seg_circuit=seg["FPARENT"].astype(str).to_numpy(),
        parent_seg=parent_seg,
        depth=depth,
        parent=parent,
        levels=levels,
        problems=problems,
        examples=examples,
    )


def _structure_hashes(con, dates: list[pd.Timestamp] | None = None) -> dict:
    """Order-independent hash of each ``redmt`` snapshot's segments (structure and the attributes used)
    and their count, by snapshot date; ``dates``: only those snapshots (DuckDB skips the others' row
    groups: one snapshot takes milliseconds, all of them a scan of the table)."""
    where, params = "", []
    if dates is not None:
        if not dates:
            return {}
        where, params = f"WHERE FECHA IN ({', '.join('?' * len(dates))})", [d.date() for d in dates]
    h = con.execute(
        f"""SELECT FECHA, bit_xor(hash(CODE, ELNODE1, ELNODE2, ORDER_, FPARENT, LENGTH, GUARDACONDUCTOR,
                                       TIPOCONDUCTOR)) AS h, count(*) AS n
            FROM redmt {where} GROUP BY FECHA""", params
    ).df()
    return {pd.Timestamp(f): (int(x), int(n)) for f, x, n in zip(h["FECHA"], h["h"], h["n"], strict=True)}


def _first_snapshots(con, axis_dates: list[pd.Timestamp], row_dates: list[pd.Timestamp],
                     chunk: int = 8) -> tuple[dict, dict]:
    """``(first, hashes)``: the earliest of ``axis_dates`` (ascending) with each structure of the
    snapshots ``row_dates``, and the structure keys of the snapshots hashed on the way.

    What a full build finds by hashing every snapshot, for a grid of some periods' rows: only
    snapshots with as many segments as a wanted one can share its structure (the count is part of the
    key), and they are hashed a few at a time from the earliest, stopping once every wanted structure
    has been met (a network that never changes: after the first few; at worst all of them)."""
    hashes = _structure_hashes(con, sorted(set(row_dates)))
    want = set(hashes.values())
    sizes = {n for _, n in want}
    counts = con.execute("SELECT FECHA, count(*) AS n FROM redmt WHERE FECHA IS NOT NULL GROUP BY FECHA").df()
    size_of = {pd.Timestamp(f): int(n) for f, n in zip(counts["FECHA"], counts["n"], strict=True)}
    cand = [d for d in axis_dates if size_of.get(d) in sizes]
    first: dict = {}
    for i in range(0, len(cand), chunk):
        part = cand[i:i + chunk]
        hashes.update(_structure_hashes(con, [d for d in part if d not in hashes]))
        for d in part:
            first.setdefault(hashes[d], d)
        if want <= set(first):
            break
    return first, hashes


TOPOLOGY_COLUMNS = {
    "transformer": ["topo_depth", "topo_path_km", "topo_protective_upstream", "topo_node_customers",
                    "topo_circuit_customers", "topo_circuit_transformers", "guard_wire_feeder",
                    "bare_conductor_feeder"],
    "switch": ["topo_depth", "topo_path_km", "topo_protective_upstream", "topo_protective_downstream",
               "topo_customers_downstream", "topo_transformers_downstream", "topo_km_downstream",
               "guard_wire"],
    "segment": ["topo_depth", "topo_path_km", "topo_protective_upstream", "topo_customers_downstream",
                "topo_transformers_downstream", "topo_km_downstream"],
    "circuit": ["topo_customers", "topo_transformers", "topo_max_depth", "topo_protective_devices",
                "topo_switches", "guard_wire_share"],
}


_PROT_SQL = " OR ".join(f"contains(upper(coalesce(ASSEMBLY, '')), '{k}')" for k in PROTECTIVE_KINDS)


def topology_features(con, grid) -> tuple[dict[str, np.ndarray], dict]:
    """Topology features of every row of ``grid`` (see :data:`TOPOLOGY_COLUMNS`) and a problem report.

    Each row uses the ``redmt``, ``trafos`` and ``switches`` snapshots dated before its period start.
    Needs the temp vocabularies ``_gc_v_asset`` / ``_gc_v_circuit`` left by ``build_grid``.
    """
    from gridcrit.features.attributes import _bare, guard_flag, snapshot_dates, snapshot_for

    names = TOPOLOGY_COLUMNS[grid.level]
    out = {n: np.full(len(grid.row_asset), np.nan, dtype=np.float32) for n in names}
    report: dict = {"problems": {}, "examples": {}}
    d_r, d_t, d_s = (snapshot_dates(con, t) for t in ("redmt", "trafos", "switches"))
    if len(d_r) == 0:
        report["problems"]["no_network_snapshot"] = 1
        return out, report
    periods = np.unique(grid.row_period)
    pos = {t: snapshot_for(d, periods, grid.period) for t, d in (("r", d_r), ("t", d_t), ("s", d_s))}
    # each structure is traced from the snapshot of its earliest period in the whole dataset (the
    # periods with rows, not only those built here): a grid of the forecast period's rows traces the
    # very snapshot the full build traced, so node order, first feeders and sums come out the same
    axis_pos = snapshot_for(d_r, grid.periods, grid.period)
    axis_dates = [pd.Timestamp(d) for d in d_r[np.unique(axis_pos[axis_pos >= 0])]]
    if not grid.partial:
        hashes = _structure_hashes(con)
        rep: dict = {}  # structure -> snapshot date it is traced from
        for d in reversed(axis_dates):  # latest first: the earliest wins
            rep[hashes[d]] = d
    else:
        rows_dates = [pd.Timestamp(d_r[j]) for j in pos["r"] if j >= 0]
        rep, hashes = _first_snapshots(con, axis_dates, rows_dates)
    starts = np.searchsorted(grid.row_period, periods, side="left")
    ends = np.searchsorted(grid.row_period, periods, side="right")
    by_structure: dict = {}
    for i in range(len(periods)):
        if pos["r"][i] < 0:
            report["problems"]["periods_without_network_snapshot"] = (
                report["problems"].get("periods_without_network_snapshot", 0) + 1)
            continue
        key = hashes[pd.Timestamp(d_r[pos["r"][i]])]
        by_structure.setdefault(key, []).append(i)
    n_assets = grid.n_assets
    circ_vocab = pd.Index(grid.vocab.get("circuit", []))
    n_circ = len(circ_vocab) + 1  # last: unknown circuit
    if grid.level == "circuit":
        asset_circ = circ_vocab.get_indexer(pd.Index(grid.assets).astype(str).str.strip().str.upper())
        asset_circ = np.where(asset_circ >= 0, asset_circ, n_circ - 1)
    for key, plist in by_structure.items():
        seg = con.execute(
            "SELECT CODE, FPARENT, ELNODE1, ELNODE2, ORDER_, LENGTH, GUARDACONDUCTOR, TIPOCONDUCTOR FROM redmt"
            " WHERE FECHA = ?",
            [rep[key].date()],
        ).df()
        net = trace(seg)
        for k, v in net.problems.items():
            report["problems"][k] = max(report["problems"].get(k, 0), v)
            report["examples"].setdefault(k, net.examples[k])
        seg_len = pd.to_numeric(seg["LENGTH"], errors="coerce").fillna(0).to_numpy()
        len_at_node = np.zeros(len(net.nodes))
        len_at_node[net.seg_down] = seg_len  # a node carries the length of the segment feeding it
        guard_seg = guard_flag(seg["GUARDACONDUCTOR"])
        # _bare once per distinct value (62k segments, a handful of values); NA -> code -1 -> NaN
        t_codes, t_vals = pd.factorize(seg["TIPOCONDUCTOR"].astype(object))
        bare_seg = np.array([*(_bare(v) for v in t_vals), np.nan], dtype=np.float64)[t_codes]
        seg_circ = circ_vocab.get_indexer(seg["FPARENT"].astype(str).str.strip().str.upper().to_numpy())
        seg_circ = np.where(seg_circ >= 0, seg_circ, n_circ - 1)
        con.register("_gc_nodes", pd.DataFrame({"k": np.asarray(net.nodes, dtype=object), "idx": np.arange(len(net.nodes))}))
        con.register("_gc_segs", pd.DataFrame({"k": np.asarray(net.seg_codes, dtype=object), "idx": np.arange(len(net.seg_codes))}))
        t_dates = sorted({int(pos["t"][i]) for i in plist if pos["t"][i] >= 0})
        s_dates = sorted({int(pos["s"][i]) for i in plist if pos["s"][i] >= 0})
        con.register("_gc_td", pd.DataFrame({"FECHA": d_t[t_dates].date, "di": t_dates}))
        con.register("_gc_sd", pd.DataFrame({"FECHA": d_s[s_dates].date, "di": s_dates}))
        own_t = grid.level == "transformer"
        tr = con.execute(
            f"""SELECT d.di::INTEGER AS di, coalesce(n.idx, -1)::INTEGER AS node,
                       coalesce(TRY_CAST(t.USUARIOS AS DOUBLE), 0) AS users,
                       {"coalesce(a.code, -1)" if own_t else "-1"}::INTEGER AS asset,
                       coalesce(c.code, -1)::INTEGER AS circuit,
                       CASE WHEN n.idx IS NULL THEN CAST(t.CODE AS VARCHAR) END AS code_if_unknown
                FROM trafos t JOIN _gc_td d ON t.FECHA = d.FECHA
                LEFT JOIN _gc_nodes n ON n.k = CAST(t.ELNODE AS VARCHAR)
                {"LEFT JOIN _gc_v_asset a ON a.raw = CAST(t.CODE AS VARCHAR)" if own_t else ""}
                LEFT JOIN _gc_v_circuit c ON c.raw = CAST(t.FPARENT AS VARCHAR)
                ORDER BY d.di"""
        ).df()
        own_s = grid.level == "switch"
        sw = con.execute(
            f"""SELECT d.di::INTEGER AS di, coalesce(g.idx, -1)::INTEGER AS seg,
                       CASE WHEN {_PROT_SQL} THEN 1 ELSE 0 END::TINYINT AS prot,
                       {"coalesce(a.code, -1)" if own_s else "-1"}::INTEGER AS asset,
                       coalesce(c.code, -1)::INTEGER AS circuit,
                       CASE WHEN g.idx IS NULL THEN CAST(s.CODE AS VARCHAR) END AS code_if_unknown
                FROM switches s JOIN _gc_sd d ON s.FECHA = d.FECHA
                LEFT JOIN _gc_segs g ON g.k = CAST(s.LINESECTIO AS VARCHAR)
                {"LEFT JOIN _gc_v_asset a ON a.raw = CAST(s.CODE AS VARCHAR)" if own_s else ""}
                LEFT JOIN _gc_v_circuit c ON c.raw = CAST(s.FPARENT AS VARCHAR)
                ORDER BY d.di"""
        ).df()
        for t in ("_gc_nodes", "_gc_segs", "_gc_td", "_gc_sd"):
            con.unregister(t)
        _note_unknown(report, "transformers_on_unknown_nodes", tr, "node")
        _note_unknown(report, "switches_on_unknown_segments", sw, "seg")
        tr_di, sw_di = tr["di"].to_numpy(), sw["di"].to_numpy()
        tr_a = {c: tr.pop(c).to_numpy() for c in ("node", "users", "asset", "circuit")}
        sw_a = {c: sw.pop(c).to_numpy() for c in ("seg", "prot", "asset", "circuit")}
        del tr, sw
        seg_asset = grid.assets.get_indexer(net.seg_codes) if grid.level == "segment" else None
        path_km = net.upstream(len_at_node) / 1000.0  # fixed for the structure
        km_down = net.downstream(len_at_node) / 1000.0
        prot_cache: dict = {}  # protective-device placement -> (upstream, downstream) counts
        for i in plist:
            rows = np.arange(starts[i], ends[i])
            a = grid.row_asset[rows]
            tsl = slice(*np.searchsorted(tr_di, [pos["t"][i], pos["t"][i] + 1])) if pos["t"][i] >= 0 else slice(0, 0)
            ssl = slice(*np.searchsorted(sw_di, [pos["s"][i], pos["s"][i] + 1])) if pos["s"][i] >= 0 else slice(0, 0)
            node, users = tr_a["node"][tsl], tr_a["users"][tsl]
            okn = node >= 0
            cust_node = np.bincount(node[okn], users[okn], len(net.nodes))
            trf_node = np.bincount(node[okn], None, len(net.nodes)).astype(np.float64)
            s_seg, s_prot = sw_a["seg"][ssl], sw_a["prot"][ssl].astype(bool) & (sw_a["seg"][ssl] >= 0)
            prot_nodes = np.sort(net.seg_down[s_seg[s_prot]])
            pkey = prot_nodes.tobytes()
            if pkey not in prot_cache:  # switches rarely move: trace protection once per placement
                prot_node = np.bincount(prot_nodes, None, len(net.nodes)).astype(np.float64)
                prot_cache = {pkey: (prot_node, net.upstream(prot_node), net.downstream(prot_node))}
            prot_node, prot_up, prot_down = prot_cache[pkey]
            if grid.level == "transformer":
                t_asset, t_circ = tr_a["asset"][tsl], tr_a["circuit"][tsl]
                t_circ = np.where(t_circ >= 0, t_circ, n_circ - 1)
                node_of = np.full(n_assets, -1)
                circ_of = np.full(n_assets, n_circ - 1)
                ok = t_asset >= 0
                node_of[t_asset[ok]] = node[ok]
                circ_of[t_asset[ok]] = t_circ[ok]
                circ_cust = np.bincount(t_circ, users, n_circ)
                circ_trf = np.bincount(t_circ, None, n_circ).astype(np.float64)
                v = node_of[a]
                okv = v >= 0
                vv = np.maximum(v, 0)
                ps = np.where(okv, net.parent_seg[vv], -1)
                vals = {
                    "topo_depth": np.where(okv, net.depth[vv], np.nan),
                    "topo_path_km": np.where(okv, path_km[vv], np.nan),
                    "topo_protective_upstream": np.where(okv, prot_up[vv], np.nan),
                    "topo_node_customers": np.where(okv, cust_node[vv], np.nan),
                    "guard_wire_feeder": np.where(ps >= 0, guard_seg[np.maximum(ps, 0)], np.nan),
                    "bare_conductor_feeder": np.where(ps >= 0, bare_seg[np.maximum(ps, 0)], np.nan),
                    "topo_circuit_customers": circ_cust[circ_of[a]],
                    "topo_circuit_transformers": circ_trf[circ_of[a]],
                }
            elif grid.level in ("switch", "segment"):
                if grid.level == "switch":
                    seg_of = np.full(n_assets, -1)
                    prot_of = np.zeros(n_assets)
                    sa = sw_a["asset"][ssl]
                    ok = sa >= 0
                    seg_of[sa[ok]] = s_seg[ok]
                    prot_of[sa[ok]] = s_prot[ok]
                    sg, own = seg_of[a], prot_of[a]
                else:
                    seg_of = np.full(n_assets, -1)
                    okg = seg_asset >= 0
                    seg_of[seg_asset[okg]] = np.flatnonzero(okg)
                    sg, own = seg_of[a], np.zeros(len(a))
                ok = sg >= 0
                v = net.seg_down[np.maximum(sg, 0)]
                u = net.seg_up[np.maximum(sg, 0)]
                down = net.downstream(np.column_stack([cust_node, trf_node]))
                vals = {
                    "topo_depth": net.depth[v],
                    "topo_path_km": path_km[v],
                    # a switch sits at its segment's downstream end: count devices above that segment
                    "topo_protective_upstream": prot_up[u] if grid.level == "switch" else prot_up[v],
                    "topo_customers_downstream": down[v, 0],
                    "topo_transformers_downstream": down[v, 1],
                    "topo_km_downstream": km_down[v],
                }
                if grid.level == "switch":
                    vals["topo_protective_downstream"] = prot_down[v] - own
                    vals["guard_wire"] = guard_seg[np.maximum(sg, 0)]
                vals = {k: np.where(ok, x, np.nan) for k, x in vals.items()}
            else:  # circuit: the asset index is the circuit's position in the asset vocabulary
                t_circ = np.where(tr_a["circuit"][tsl] >= 0, tr_a["circuit"][tsl], n_circ - 1)
                s_circ = np.where(sw_a["circuit"][ssl] >= 0, sw_a["circuit"][ssl], n_circ - 1)
                agg = {
                    "topo_customers": np.bincount(t_circ, users, n_circ),
                    "topo_transformers": np.bincount(t_circ, None, n_circ).astype(float),
                    "topo_max_depth": pd.Series(net.depth[net.seg_down]).groupby(seg_circ).max()
                    .reindex(range(n_circ)).to_numpy(np.float64),
                    "topo_protective_devices": np.bincount(s_circ[s_prot], None, n_circ).astype(float),
                    "topo_switches": np.bincount(s_circ, None, n_circ).astype(float),
                    "guard_wire_share": np.bincount(seg_circ, guard_seg * seg_len, n_circ)
                    / np.maximum(np.bincount(seg_circ, seg_len, n_circ), 1e-9),
                }
                c = asset_circ[a]
                vals = {k: x[c] for k, x in agg.items()}
            for k, x in vals.items():
                out[k][rows] = x
    report["networks_traced"] = len(by_structure)
    return out, report


def _note_unknown(report: dict, name: str, df: pd.DataFrame, col: str) -> None:
    bad = df[col].to_numpy() < 0
    if bad.any():
        n = int(pd.Series(df["code_if_unknown"][bad]).nunique())
        report["problems"][name] = max(report["problems"].get(name, 0), n)
        report["examples"].setdefault(name, pd.Series(df["code_if_unknown"][bad]).drop_duplicates().head(5).tolist())
