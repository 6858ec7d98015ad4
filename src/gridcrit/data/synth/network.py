"""Synthetic radial MV network: substations → circuits → segments/nodes → transformers, switches, supports.

Everything here depends only on ``(seed, scale)``, so two time windows of the same seed describe the
same utility. Arrays are global (all circuits concatenated). Node ``k``'s parent always has a smaller
index (trees are grown by attaching each new node to an earlier one), so one forward pass computes
anything that flows down the tree (depth, position, protecting device) and one backward pass anything
that accumulates up it (subtree sizes). Each non-root node is the downstream end of exactly one segment.

Downstream sets use a pre-order (DFS) numbering: node ``k``'s subtree is the index range
``[tin[k], tout[k])``, and transformers are stored in that order, so "transformers/customers downstream
of a device" is a difference of two prefix sums: O(1) per event at any scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gridcrit.data.synth.geography import (
    KM_PER_DEG_LAT,
    KM_PER_DEG_LON,
    MUN_ALT,
    MUN_INDEX,
    MUN_LAT,
    MUN_LON,
    MUN_NAME,
    SUBSTATIONS,
    URBAN_MUNICIPALITIES,
)
from gridcrit.data.synth.scales import (
    CHEC_SEGMENTS,
    CUSTOMERS_2019_01,
    MONTH_2019_01,
    MONTHLY_GROWTH,
    SCALES,
    STREAM_NETWORK,
    stream,
)

# Switch kinds (``switches.ASSEMBLY``). Breakers, reclosers and fuses clear faults; sectionalisers
# (SECCIONADOR) only isolate sections during restoration and planned work.
BREAKER, RECLOSER, FUSE, SECTIONALISER = "INTERRUPTOR", "RECONECTADOR", "CORTACIRCUITO", "SECCIONADOR"
SWITCH_KINDS = (BREAKER, RECLOSER, FUSE, SECTIONALISER)


@dataclass
class Network:
    """All assets of one synthetic utility (numpy arrays, global indices)."""

    seed: int
    scale: str
    # circuits
    circ_code: np.ndarray
    circ_sub: np.ndarray
    circ_mun: np.ndarray  # municipality index
    circ_kv: np.ndarray  # 13.2 or 33
    circ_urban: np.ndarray  # bool
    circ_root: np.ndarray  # root node (substation bus) of each circuit
    # nodes
    node_circ: np.ndarray
    node_parent: np.ndarray  # -1 for roots
    node_depth: np.ndarray
    node_lon: np.ndarray
    node_lat: np.ndarray
    node_code: np.ndarray
    node_tin: np.ndarray  # pre-order number; subtree = [tin, tout)
    node_tout: np.ndarray
    node_seg: np.ndarray  # segment whose downstream end is this node (-1 for roots)
    # segments (segment s ends at node seg_node[s])
    seg_node: np.ndarray
    seg_code: np.ndarray
    seg_len_m: np.ndarray
    seg_guard: np.ndarray  # bool: guard (shield) wire present
    seg_trunk: np.ndarray  # bool: part of the main feeder
    seg_order: np.ndarray  # ORDER_ (+1: ELNODE1 -> ELNODE2 is downstream, -1 reversed)
    seg_veg: np.ndarray  # latent vegetation density (trees per km that can reach the line)
    seg_underground: np.ndarray  # bool
    # transformers, stored in pre-order of their node (downstream sets are contiguous ranges)
    tr_node: np.ndarray
    tr_code: np.ndarray
    tr_kva: np.ndarray
    tr_fab: np.ndarray  # fabrication date as fractional year
    tr_cust0: np.ndarray  # customers in 2019-01 (float; grown and rounded per month)
    tr_u: np.ndarray  # fixed rounding offsets: monthly counts are deterministic and non-decreasing
    node_tr_lo: np.ndarray  # transformers downstream of node k: indices [lo, hi)
    node_tr_hi: np.ndarray
    # switches
    sw_seg: np.ndarray
    sw_kind: np.ndarray
    sw_code: np.ndarray
    node_prot: np.ndarray  # nearest protective switch (fuse/recloser/breaker) at or above the node's segment
    node_prot_rb: np.ndarray  # nearest recloser/breaker (clears transient faults: fuse saving)
    node_sec: np.ndarray  # nearest sectionaliser at or above (-1 if none)
    # supports (poles)
    ap_node: np.ndarray
    ap_code: np.ndarray
    ap_material: np.ndarray
    ap_height: np.ndarray
    ap_ground: np.ndarray  # bool: grounding at the foot (TIERRA_PIE)
    ap_lon: np.ndarray
    ap_lat: np.ndarray
    # attributes used by the hazard model
    seg_year: np.ndarray  # installation/renewal year (FECHA_ACT)
    seg_covered: np.ndarray  # bool: covered conductor (SEMIAISLADO/AISLADO) instead of bare (DESNUDO)
    circ_grupo: np.ndarray  # CREG 015 group of the circuit's area: '1'/'2' urban, '3'/'4' rural
    node_ap_ground: np.ndarray  # bool per node: the support there is grounded (True where no support)

    @property
    def n_segments(self) -> int:
        return len(self.seg_node)

    def customers(self, month_index: int) -> np.ndarray:
        """Customers per transformer in a month (months since 2000-01); grows ~0.2 %/month."""
        m = month_index - MONTH_2019_01
        return np.floor(self.tr_cust0 * np.exp(MONTHLY_GROWTH * m) + self.tr_u).astype(np.int64)

    def downstream_customers(self, nodes: np.ndarray, cust_cumsum: np.ndarray) -> np.ndarray:
        """Customers downstream of each node, given ``concat([0], cumsum(customers(month)))``."""
        return cust_cumsum[self.node_tr_hi[nodes]] - cust_cumsum[self.node_tr_lo[nodes]]

    def downstream_trafos(self, nodes: np.ndarray) -> np.ndarray:
        return self.node_tr_hi[nodes] - self.node_tr_lo[nodes]


def _codes(prefix: str, n: int, width: int, start: int = 1) -> np.ndarray:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(start, start + n)], dtype=object)


def _node_codes(n: int) -> np.ndarray:
    # The utility's node ids look like 'A06084': a letter and five digits.
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    out = []
    for i in range(n):
        hi, lo = divmod(i + 1001, 100000)
        out.append(
            f"{letters[hi % len(letters)]}{'' if hi < len(letters) else letters[hi // len(letters) % 24]}{lo:05d}"
        )
    return np.array(out, dtype=object)


def _assign_circuits(rng: np.random.Generator, n_circuits: int, max_subs: int):
    """Substation and municipality of each circuit, and its circuit code (e.g. NSA23L14)."""
    subs = list(SUBSTATIONS)
    weights = np.array([SUBSTATIONS[s][1] for s in subs], dtype=float)
    if max_subs < len(subs):  # small twins: a handful of substations, chosen by size
        pick = rng.choice(len(subs), size=max_subs, replace=False, p=weights / weights.sum())
        subs = [subs[i] for i in sorted(pick)]
        weights = weights[sorted(pick)]
    # Every chosen substation gets at least one circuit, the rest in proportion to its size.
    base = np.ones(len(subs), dtype=int) if n_circuits >= len(subs) else np.zeros(len(subs), dtype=int)
    rest = n_circuits - base.sum()
    base += rng.multinomial(rest, weights / weights.sum())
    circ_sub, circ_mun, circ_kv, circ_code = [], [], [], []
    for s, n in zip(subs, base, strict=True):
        home = MUN_INDEX[SUBSTATIONS[s][0]]
        d = np.hypot((MUN_LON - MUN_LON[home]) * KM_PER_DEG_LON, (MUN_LAT - MUN_LAT[home]) * KM_PER_DEG_LAT)
        near = np.argsort(d)[:4]
        numbers = rng.permutation(np.arange(11, 11 + max(n * 2, 20)))[:n]
        for num in sorted(numbers):
            kv = 33.0 if rng.random() < 0.09 else 13.2
            # Most circuits serve the substation's own town, some a neighbouring one.
            mun = home if rng.random() < 0.6 else int(rng.choice(near))
            level = "23" if kv == 13.2 else ("30" if rng.random() < 0.75 else "40")
            circ_sub.append(s)
            circ_mun.append(mun)
            circ_kv.append(kv)
            circ_code.append(f"{s}{level}L{num:02d}" if num < 100 else f"{s}{level}L{num}")
    return (
        np.array(circ_code, dtype=object),
        np.array(circ_sub, dtype=object),
        np.array(circ_mun),
        np.array(circ_kv),
    )


def build_network(seed: int, scale: str) -> Network:
    """Grow the whole network of ``scale`` from ``seed`` (deterministic)."""
    spec = SCALES[scale]
    rng = stream(seed, scale, STREAM_NETWORK)
    C = spec.n_circuits
    circ_code, circ_sub, circ_mun, circ_kv = _assign_circuits(rng, C, spec.max_substations)
    urban_town = np.array([MUN_NAME[m] in URBAN_MUNICIPALITIES for m in circ_mun])
    circ_urban = rng.random(C) < np.where(urban_town, 0.55, 0.12)
    circ_urban &= circ_kv == 13.2

    # ---- tree sizes and shapes ------------------------------------------------------------------
    size = spec.seg_per_circuit * np.exp(rng.normal(0, 0.5, C)) * np.where(circ_urban, 0.65, 1.12)
    size *= np.where(circ_kv == 33.0, 0.8, 1.0)
    n_seg = np.maximum(8, np.round(size * spec.seg_per_circuit * C / size.sum())).astype(np.int64)
    n_nodes_c = n_seg + 1
    N = int(n_nodes_c.sum())
    circ_root = np.concatenate([[0], np.cumsum(n_nodes_c)[:-1]]).astype(np.int64)
    node_circ = np.repeat(np.arange(C), n_nodes_c)
    local = np.arange(N) - circ_root[node_circ]
    # parent: node 1 hangs from the bus (root); later nodes continue the line (k-1) or branch off an
    # earlier node of the circuit (uniform), which yields main feeders with nested laterals.
    cont = rng.random(N) < 0.72
    earlier = 1 + np.floor(rng.random(N) * np.maximum(local - 1, 1)).astype(np.int64)
    parent_local = np.where(local <= 1, local - 1, np.where(cont, local - 1, earlier))
    node_parent = np.where(local == 0, -1, circ_root[node_circ] + parent_local)
    is_branch = (local >= 2) & ~cont

    # ---- forward pass: depth, heading, position --------------------------------------------------
    urban_n = circ_urban[node_circ]
    seg_km = np.exp(rng.normal(np.log(np.where(urban_n, 0.055, 0.17)), 0.65))
    seg_km = np.clip(seg_km, 0.01, 3.0)
    turn = np.where(is_branch, rng.choice([-1.0, 1.0], N) * np.pi / 2, 0.0) + rng.normal(0, 0.35, N)
    root_lon = MUN_LON[circ_mun] + rng.normal(0, 0.025, C)
    root_lat = MUN_LAT[circ_mun] + rng.normal(0, 0.025, C)
    heading0 = rng.uniform(0, 2 * np.pi, C)
    par = node_parent.tolist()
    depth = [0] * N
    head = [0.0] * N
    lon = [0.0] * N
    lat = [0.0] * N
    trn = turn.tolist()
    km = seg_km.tolist()
    cos, sin = math.cos, math.sin
    for k in range(N):
        p = par[k]
        if p < 0:
            c = int(node_circ[k])
            head[k] = float(heading0[c])
            lon[k] = float(root_lon[c])
            lat[k] = float(root_lat[c])
            continue
        depth[k] = depth[p] + 1
        h = head[p] + trn[k]
        head[k] = h
        lon[k] = lon[p] + km[k] * cos(h) / KM_PER_DEG_LON
        lat[k] = lat[p] + km[k] * sin(h) / KM_PER_DEG_LAT
    node_depth = np.array(depth, dtype=np.int64)
    node_lon = np.clip(np.array(lon), -76.9, -74.1)
    node_lat = np.clip(np.array(lat), 4.0, 6.5)

    # ---- segments ------------------------------------------------------------------------------
    seg_node = np.flatnonzero(node_parent >= 0)
    S = len(seg_node)
    node_seg = np.full(N, -1, dtype=np.int64)
    node_seg[seg_node] = np.arange(S)

    # ---- transformers: placed preferably on leaves and branch ends --------------------------------
    n_children = np.bincount(node_parent[seg_node], minlength=N)
    ratio = np.where(circ_urban, 0.46, 0.325) * np.where(circ_kv == 33.0, 0.6, 1.0)
    n_tr_c = np.maximum(2, np.round(n_seg * ratio)).astype(np.int64)
    w = np.where(n_children == 0, 3.0, 1.0) * (local >= 2)
    key = np.where(w > 0, -np.log(rng.random(N)) / np.maximum(w, 1e-12), np.inf)
    order = np.lexsort((key, node_circ))
    rank = np.empty(N, dtype=np.int64)
    rank[order] = np.arange(N) - circ_root[node_circ[order]]
    has_tr = (rank < n_tr_c[node_circ]) & np.isfinite(key)

    # ---- backward pass: subtree sizes (nodes and transformers); forward: pre-order numbers --------
    sub_nodes = np.ones(N, dtype=np.int64)
    sub_tr = has_tr.astype(np.int64)
    sn = sub_nodes.tolist()
    st = sub_tr.tolist()
    for k in range(N - 1, -1, -1):
        p = par[k]
        if p >= 0:
            sn[p] += sn[k]
            st[p] += st[k]
    sub_nodes = np.array(sn, dtype=np.int64)
    sub_tr = np.array(st, dtype=np.int64)
    # pre-order: a child's tin = parent's tin + 1 + sizes of its earlier siblings
    sib_order = np.lexsort((np.arange(N), node_parent))
    sib_par = node_parent[sib_order]
    sizes = sub_nodes[sib_order]
    csum = np.cumsum(sizes) - sizes
    first = np.r_[True, sib_par[1:] != sib_par[:-1]]
    grp_start = np.maximum.accumulate(np.where(first, np.arange(N), 0))
    before = np.empty(N, dtype=np.int64)
    before[sib_order] = csum - csum[grp_start]
    bl = before.tolist()
    tin = [0] * N
    for k in range(N):
        p = par[k]
        tin[k] = k if p < 0 else tin[p] + 1 + bl[k]  # roots: circuit offset (= their own index)
    node_tin = np.array(tin, dtype=np.int64)
    node_tout = node_tin + sub_nodes

    # transformers in pre-order, with downstream index ranges per node
    tr_node = np.flatnonzero(has_tr)
    tr_node = tr_node[np.argsort(node_tin[tr_node], kind="stable")]
    tr_tin = node_tin[tr_node]
    node_tr_lo = np.searchsorted(tr_tin, node_tin, side="left")
    node_tr_hi = np.searchsorted(tr_tin, node_tout, side="left")
    T = len(tr_node)
    assert np.array_equal(node_tr_hi - node_tr_lo, sub_tr)

    # ---- segment attributes ------------------------------------------------------------------------
    sc = node_circ[seg_node]
    seg_trunk = sub_nodes[seg_node] >= 0.15 * n_nodes_c[sc]
    p_guard_c = rng.beta(1.0, 3.0, C)
    seg_guard = rng.random(S) < np.clip(p_guard_c[sc] * np.where(seg_trunk, 1.6, 0.6), 0, 0.95)
    seg_underground = circ_urban[sc] & (rng.random(S) < 0.12)
    seg_order = np.where(rng.random(S) < 0.22, -1, 1)
    # latent vegetation density: patchy (gamma), wetter/warmer lowlands greener, little in towns
    mun_green = 0.6 + 0.8 * np.exp(-MUN_ALT / 1500.0)
    circ_green = mun_green[circ_mun] * rng.gamma(2.0, 0.5, C)
    seg_veg = rng.gamma(0.7, 1.0 / 0.7, S) * circ_green[sc] * np.where(circ_urban[sc], 0.2, 1.0)
    seg_veg = np.where(seg_underground, 0.0, seg_veg)
    seg_len_m = np.round(seg_km[seg_node] * 1000.0, 1)

    # ---- customers -----------------------------------------------------------------------------------
    tc = node_circ[tr_node]
    urb = circ_urban[tc]
    cust = np.exp(rng.normal(np.log(np.where(urb, 80.0, 3.4)), np.where(urb, 0.55, 1.2)))
    target = CUSTOMERS_2019_01 * S / CHEC_SEGMENTS
    cust = np.maximum(1.0, cust * target / cust.sum())
    tr_u = rng.random(T)
    kva_choices = np.array([5, 10, 15, 25, 37.5, 45, 50, 75, 112.5, 150, 225])
    need = cust * np.where(urb, 1.3, 1.8)  # kVA per customer at design time
    tr_kva = kva_choices[
        np.minimum(np.searchsorted(kva_choices, need * rng.uniform(0.7, 1.3, T)), len(kva_choices) - 1)
    ]
    tr_fab = 2018.9 - rng.gamma(2.2, 7.0, T)
    tr_fab = np.clip(tr_fab, 1968.0, 2018.9)

    # ---- switches ------------------------------------------------------------------------------------
    circ_head_seg = node_seg[circ_root + 1]
    sub_tr_seg = sub_tr[seg_node]
    circ_tr = n_tr_c.astype(float)
    frac = sub_tr_seg / np.maximum(circ_tr[sc], 1)
    # reclosers: rural feeders get 0-3 mid-feeder reclosers protecting 15-60 % of the circuit
    n_rec = np.minimum(rng.poisson(np.where(circ_urban, 0.6, 2.2)), 4)
    rec_key = np.where((frac >= 0.15) & (frac <= 0.6) & seg_trunk, rng.random(S), np.inf)
    rec = _pick_per_group(rec_key, sc, n_rec, C)
    # fuses: at the start of laterals with 1-20 transformers (small ones more often)
    branch_seg = is_branch[seg_node]
    fuse_ok = branch_seg & (sub_tr_seg >= 1) & (sub_tr_seg <= 20) & ~rec
    p_fuse = np.where(sub_nodes[seg_node] < 2, 0.35, np.where(sub_tr_seg <= 8, 0.85, 0.5))
    fuse = fuse_ok & (rng.random(S) < p_fuse)
    # sectionalisers: on feeders with enough load below them
    n_sec = np.maximum(1, np.round(n_seg / 45)).astype(np.int64)
    sec_key = np.where((sub_tr_seg >= 4) & ~rec & ~fuse, rng.random(S), np.inf)
    sec_key[circ_head_seg] = np.inf
    sec = _pick_per_group(sec_key, sc, n_sec, C)
    kinds = np.full(S, "", dtype=object)
    kinds[fuse] = FUSE
    kinds[sec] = SECTIONALISER
    kinds[rec] = RECLOSER
    kinds[circ_head_seg] = BREAKER
    sw_seg = np.flatnonzero(kinds != "")
    sw_kind = kinds[sw_seg]
    sw_code = np.empty(len(sw_seg), dtype=object)
    for kind, prefix, width in ((FUSE, "CC", 6), (RECLOSER, "RC", 5), (SECTIONALISER, "SC", 5)):
        m = sw_kind == kind
        sw_code[m] = _codes(prefix, int(m.sum()), width, start=1 if kind != FUSE else 10001)
    m = sw_kind == BREAKER
    sw_code[m] = circ_code[sc[sw_seg[m]]]  # breakers carry the circuit code (equipo_ope == cto_equi_ope)

    node_sw = np.full(N, -1, dtype=np.int64)
    node_sw[seg_node[sw_seg]] = np.arange(len(sw_seg))
    protective = np.isin(sw_kind, (BREAKER, RECLOSER, FUSE))
    rb = np.isin(sw_kind, (BREAKER, RECLOSER))
    own = node_sw.tolist()
    prot_l = protective.tolist()
    rb_l = rb.tolist()
    sec_l = (sw_kind == SECTIONALISER).tolist()
    prot = [-1] * N
    prot_rb = [-1] * N
    secn = [-1] * N
    for k in range(N):
        p = par[k]
        s = own[k]
        if p < 0:
            continue
        prot[k] = s if s >= 0 and prot_l[s] else prot[p]
        prot_rb[k] = s if s >= 0 and rb_l[s] else prot_rb[p]
        secn[k] = s if s >= 0 and sec_l[s] else secn[p]
    node_prot = np.array(prot, dtype=np.int64)
    node_prot_rb = np.array(prot_rb, dtype=np.int64)
    node_sec = np.array(secn, dtype=np.int64)

    # ---- supports ------------------------------------------------------------------------------------
    ap_node = seg_node[(rng.random(S) < 0.93) & ~seg_underground]
    A = len(ap_node)
    ap_urban = circ_urban[node_circ[ap_node]]
    mats = np.array(["CONCRETO", "MADERA", "METALICO", "FIBRA DE VIDRIO"], dtype=object)
    p_rural = np.array([0.64, 0.24, 0.09, 0.03])
    p_urban = np.array([0.90, 0.03, 0.06, 0.01])
    u = rng.random(A)
    ap_material = np.where(
        ap_urban, mats[np.searchsorted(np.cumsum(p_urban), u)], mats[np.searchsorted(np.cumsum(p_rural), u)]
    )
    ap_height = rng.choice(np.array([8.0, 10.0, 12.0, 14.0, 16.0]), A, p=[0.08, 0.22, 0.45, 0.2, 0.05])
    ap_ground = rng.random(A) < np.where(ap_urban, 0.7, 0.35)
    ap_lon = node_lon[ap_node] + rng.normal(0, 2e-5, A)
    ap_lat = node_lat[ap_node] + rng.normal(0, 2e-5, A)

    # ---- attributes the hazard model acts through -----------------------------------------------------
    seg_year = np.clip(2018.9 - rng.gamma(2.0, 8.0, S), 1970.0, 2018.9)
    seg_covered = (rng.random(S) < np.where(circ_urban[sc], 0.45, 0.08)) | seg_underground
    big = np.isin(MUN_NAME[circ_mun], ["MANIZALES", "PEREIRA", "DOSQUEBRADAS"])
    circ_grupo = np.where(circ_urban, np.where(big, "1", "2"), np.where(rng.random(C) < 0.4, "3", "4"))
    node_ap_ground = np.ones(N, dtype=bool)
    node_ap_ground[ap_node] = ap_ground

    return Network(
        seed=seed,
        seg_year=seg_year,
        seg_covered=seg_covered,
        circ_grupo=circ_grupo.astype(object),
        node_ap_ground=node_ap_ground,
        scale=scale,
        circ_code=circ_code,
        circ_sub=circ_sub,
        circ_mun=circ_mun,
        circ_kv=circ_kv,
        circ_urban=circ_urban,
        circ_root=circ_root,
        node_circ=node_circ,
        node_parent=node_parent,
        node_depth=node_depth,
        node_lon=node_lon,
        node_lat=node_lat,
        node_code=_node_codes(N),
        node_tin=node_tin,
        node_tout=node_tout,
        node_seg=node_seg,
        seg_node=seg_node,
        seg_code=_codes("MT", S, 7),
        seg_len_m=seg_len_m,
        seg_guard=seg_guard,
        seg_trunk=seg_trunk,
        seg_order=seg_order,
        seg_veg=seg_veg,
        seg_underground=seg_underground,
        tr_node=tr_node,
        tr_code=_codes("TD", T, 6),
        tr_kva=tr_kva,
        tr_fab=tr_fab,
        tr_cust0=cust,
        tr_u=tr_u,
        node_tr_lo=node_tr_lo,
        node_tr_hi=node_tr_hi,
        sw_seg=sw_seg,
        sw_kind=sw_kind,
        sw_code=sw_code,
        node_prot=node_prot,
        node_prot_rb=node_prot_rb,
        node_sec=node_sec,
        ap_node=ap_node,
        ap_code=_codes("AP", A, 7),
        ap_material=ap_material,
        ap_height=ap_height,
        ap_ground=ap_ground,
        ap_lon=ap_lon,
        ap_lat=ap_lat,
    )


def _pick_per_group(key: np.ndarray, group: np.ndarray, n_per_group: np.ndarray, n_groups: int) -> np.ndarray:
    """Boolean mask choosing, in each group, the ``n_per_group`` items with the smallest finite key."""
    order = np.lexsort((key, group))
    g = group[order]
    start = np.searchsorted(g, np.arange(n_groups))
    rank = np.arange(len(order)) - start[g]
    chosen = (rank < n_per_group[g]) & np.isfinite(key[order])
    mask = np.zeros(len(key), dtype=bool)
    mask[order[chosen]] = True
    return mask
