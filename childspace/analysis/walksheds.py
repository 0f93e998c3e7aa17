"""Walksheds of schools: the area a child reaches on foot within the radius, on every street (plain) and on the
streets and crossings at or below the safe level only (safe)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from childspace.analysis._common import require_layer
from childspace.analysis.areas import (
    CELL_M,
    areas_to_wgs84,
    check_raster_args,
    choose_engine,
    fit_cell,
    raster_per_source,
)
from childspace.analysis.safety import Stress, network_stress, safe_max_levels
from childspace.inputs.projection import WGS84
from childspace.network.arrays import ragged_ranges

__all__ = ["walksheds"]


# ----------------------------------------------------------------------------------------------------------------
# walksheds
# ----------------------------------------------------------------------------------------------------------------
def _default_radius(category: str) -> float:
    try:
        from childspace.inputs.standards import default_standards

        return float(default_standards().radius(category))
    except Exception:  # standards unavailable or unknown category: the GB 50180 school radii
        return 1000.0 if category == "middle_school" else 500.0


#: Memory (MB) for the dense rows of one chunk of turn-aware searches (safe walksheds).
SEARCH_MEMORY_MB = 256.0


def _turns(
    network: Any, stress: Stress, edge_ok: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every turn between edges with ``edge_ok``: ``(s_in, s_out, edge_in, edge_out, level)`` for each ordered
    pair of distinct edges meeting at a node (a loop edge meets itself only at its other end), with the crossing
    level of passing the node from the first edge to the second.

    States: ``2e`` walks edge ``e`` from ``u`` to ``v``, ``2e + 1`` from ``v`` to ``u``; a turn leads from a
    state arriving at the node to a state leaving it.
    """
    ptr, inc_edge, at_u = network._incidence()
    deg = np.diff(ptr)
    node_of = np.repeat(np.arange(deg.size), deg)  # node of every incidence
    rep = deg[node_of]
    i_idx = np.repeat(np.arange(inc_edge.size), rep)
    j_idx = ptr[node_of[i_idx]] + (np.arange(i_idx.size) - np.repeat(np.cumsum(rep) - rep, rep))
    keep = (inc_edge[i_idx] != inc_edge[j_idx]) & edge_ok[inc_edge[i_idx]] & edge_ok[inc_edge[j_idx]]
    i_idx, j_idx = i_idx[keep], j_idx[keep]
    ei, ej = inc_edge[i_idx], inc_edge[j_idx]
    level = stress.crossing_level(node_of[i_idx], ei, ej)
    s_in = 2 * ei + at_u[i_idx]  # arriving at the node: it is the edge's v end when walking u -> v
    s_out = 2 * ej + ~at_u[j_idx]  # leaving from the node: walking u -> v when it is the edge's u end
    return s_in, s_out, ei, ej, level


def _safe_pieces(
    network: Any,
    turns: tuple[np.ndarray, ...],
    edge_ok: np.ndarray,
    max_level: int,
    edge0: np.ndarray,
    offset0: np.ndarray,
    radius: np.ndarray,
    memory_mb: float = SEARCH_MEMORY_MB,
    xy0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reachable street pieces of sources on ``edge0`` at ``offset0`` within ``radius`` (one per source), walking
    only edges with ``edge_ok`` and passing nodes only where the crossing (given the two edges used) is at most
    ``max_level``. Exact turn-aware search on the edge graph (one state per edge direction) with scipy's
    Dijkstra, all sources on one graph (a virtual state each), in chunks of ``memory_mb`` of dense rows.

    A state's cost is the distance walked when starting along its edge, so a search bounded by the radius finds
    every edge entered within it. The sources' own edges are left out (their stretch is added by the caller).

    With the sources' points ``xy0`` (network CRS) the searches run tile by tile on the states that start within
    straight-line reach of the tile's sources (a walk is never shorter than the straight line, up to the slack
    of :meth:`WalkNetwork._straight_line_slack`): the same pieces, in the same order, with dense rows over a
    window's states instead of the whole network's.

    Returns ``row, edge, start, end`` as :meth:`WalkNetwork.reached_pieces` (row: the source).
    """
    s_in, s_out, ei, ej, lvl = turns
    L = network.length
    E = network.n_edges
    ok = edge_ok[ei] & edge_ok[ej] & (lvl <= max_level)
    a, b = s_in[ok], s_out[ok]
    c = np.where(L[ei[ok]] > 0, L[ei[ok]], 1e-9)  # csgraph drops explicit zeros
    order = np.argsort(a, kind="stable")
    a, b, c = a[order], b[order], c[order]
    S = 2 * E
    ptr = np.zeros(S + 1, dtype=np.int64)
    np.cumsum(np.bincount(a, minlength=S), out=ptr[1:])
    n = len(edge0)
    z = np.zeros(0)
    if n == 0:
        return z.astype(np.int64), z.astype(np.int64), z, z

    def search(grp: np.ndarray, states: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sources ``grp`` searched on the states ``states`` (sorted; None: all): (source, state, metres left)
        of every state started with budget left."""
        k = grp.size
        e0, off = edge0[grp], offset0[grp]
        if states is None:
            m, indptr0, cols, vals = S, ptr, b, c
            loc = None
        else:
            m = states.size
            loc = np.full(S, -1, dtype=np.int64)
            loc[states] = np.arange(m)
            idx, q = ragged_ranges(ptr[states], ptr[states + 1] - ptr[states])
            lb = loc[b[idx]]
            inside = lb >= 0
            indptr0 = np.zeros(m + 1, dtype=np.int64)
            np.cumsum(np.bincount(q[inside], minlength=m), out=indptr0[1:])
            cols, vals = lb[inside], c[idx][inside]
        # from the point: arriving at v of its edge costs L - offset, at u the offset; the turns out of those
        # two arrivals are the virtual state's links (the cost of the state left is the distance to the node)
        arr = np.c_[2 * e0, 2 * e0 + 1].ravel()
        cost0 = np.c_[L[e0] - off, off].ravel()
        vrow = np.repeat(np.arange(k), 2)
        idx, q = ragged_ranges(ptr[arr], ptr[arr + 1] - ptr[arr])
        lr, lc, lv = vrow[q], b[idx], np.maximum(cost0[q], 1e-9)
        if loc is not None:
            lc = loc[lc]
            keep = lc >= 0
            lr, lc, lv = lr[keep], lc[keep], lv[keep]
        o = np.lexsort((lv, lc, lr))  # the cheapest link per (source, state): a loop edge gives two
        lr, lc, lv = lr[o], lc[o], lv[o]
        first = np.r_[True, (lr[1:] != lr[:-1]) | (lc[1:] != lc[:-1])] if lr.size else lr == 0
        lr, lc, lv = lr[first], lc[first], lv[first]
        indptr = np.r_[indptr0, indptr0[-1] + np.cumsum(np.bincount(lr, minlength=k))]
        G = sp.csr_array((np.r_[vals, lv], np.r_[cols, lc], indptr), shape=(m + k, m + k))
        Rk = radius[grp]
        D = dijkstra(G, directed=True, indices=m + np.arange(k), limit=float(Rk.max()))
        r, st = np.nonzero(D[:, :m] < Rk[:, None])  # states started with budget left
        left = Rk[r] - D[r, st]
        del D
        return grp[r], (st if states is None else states[st]), left

    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    chunk = max(1, int(memory_mb * 2**20 // (8 * (S + n))))
    src_order = np.argsort(radius, kind="stable")
    tiles = _source_tiles(network, xy0, radius) if xy0 is not None else None
    if tiles is None:
        for k0 in range(0, n, chunk):
            found.append(search(src_order[k0 : k0 + chunk], None))
    else:
        start_node = np.c_[network.u, network.v].ravel()  # the node where each state starts
        by_x = np.argsort(network.x[start_node], kind="stable")
        sx, sy = network.x[start_node][by_x], network.y[start_node][by_x]
        for grp, (wlo, whi) in tiles:
            i0, i1 = np.searchsorted(sx, wlo[0], side="left"), np.searchsorted(sx, whi[0], side="right")
            states = np.sort(by_x[i0:i1][(sy[i0:i1] >= wlo[1]) & (sy[i0:i1] <= whi[1])])
            per = max(1, int(memory_mb * 2**20 // (8 * (states.size + grp.size))))
            grp = grp[np.argsort(radius[grp], kind="stable")]
            for k0 in range(0, grp.size, per):
                found.append(search(grp[k0 : k0 + per], states))
    r = np.concatenate([f[0] for f in found])
    s = np.concatenate([f[1] for f in found])
    amount = np.minimum(np.concatenate([f[2] for f in found]), L[s // 2])
    e = s // 2
    own = e == edge0[r]
    r, s, e, amount = r[~own], s[~own], e[~own], amount[~own]
    fwd = s % 2 == 0  # from the u end
    key, inv = np.unique(r * E + e, return_inverse=True)
    ru = np.zeros(key.size)
    rv = np.zeros(key.size)
    ru[inv[fwd]] = amount[fwd]
    rv[inv[~fwd]] = amount[~fwd]
    prow, pe = key // E, key % E
    Lp = L[pe]
    whole = ru + rv >= Lp
    pu = ~whole & (ru > 0)
    pv = ~whole & (rv > 0)
    # a piece from each end when the two do not meet
    sel = np.r_[np.flatnonzero(whole), np.flatnonzero(pu), np.flatnonzero(pv)]
    kind = np.repeat(np.arange(3), [int(whole.sum()), int(pu.sum()), int(pv.sum())])
    prow, pe, ru, rv, Lp = prow[sel], pe[sel], ru[sel], rv[sel], Lp[sel]
    # in the order of searches on the whole network in chunks by radius: per chunk whole edges, then pieces
    # from the u end, then from the v end, each by (the source's rank, edge)
    rank = np.empty(n, dtype=np.int64)
    rank[src_order] = np.arange(n)
    pr = rank[prow]
    o = np.lexsort((pe, pr, kind, pr // chunk))
    prow, pe, kind, ru, rv, Lp = prow[o], pe[o], kind[o], ru[o], rv[o], Lp[o]
    start = np.where(kind == 2, Lp - rv, 0.0)
    end = np.where(kind == 1, ru, Lp)
    return prow.astype(np.int64), pe.astype(np.int64), start, end


def _source_tiles(
    network: Any, xy: np.ndarray, radius: np.ndarray
) -> list[tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]] | None:
    """The sources grouped by square tiles, with the window of nodes each tile's searches need (the sources'
    points plus their straight-line reach); None when the windows would not be much smaller than the network
    or walks may be shorter than straight lines (as :meth:`WalkNetwork.reach` decides)."""
    slack = network._straight_line_slack(network._weight(None))
    if slack is None or not len(xy):
        return None
    r = np.asarray(radius, dtype=float) * 1.005 + slack
    tile = max(2.0 * float(r.max()), 100.0)
    nxy = np.c_[network.x, network.y]
    n0, n1 = nxy.min(axis=0), nxy.max(axis=0)
    if (tile + 2 * float(r.max())) ** 2 > 0.25 * float(np.prod(np.maximum(n1 - n0, 1.0))):
        return None
    tkey = np.floor((xy - n0) / tile).astype(np.int64)
    order = np.lexsort((tkey[:, 1], tkey[:, 0]))
    tk = tkey[order]
    cut = np.flatnonzero(np.r_[True, (tk[1:] != tk[:-1]).any(axis=1), True])
    out = []
    for a, b in zip(cut[:-1], cut[1:]):
        g = order[a:b]
        out.append((g, ((xy[g] - r[g, None]).min(axis=0), (xy[g] + r[g, None]).max(axis=0))))
    return out


def walksheds(
    network: Any,
    schools: gpd.GeoDataFrame,
    stress: Stress | None = None,
    radius: float | Mapping[str, float] | None = None,
    max_level: int | None = None,
    buffer_m: float = 25.0,
    max_snap: float = 150.0,
    config: str | Path | Mapping[str, Any] | None = None,
    safe_max_level: int | Mapping[str, int] | None = None,
    engine: str = "auto",
    cell_m: float = CELL_M,
) -> gpd.GeoDataFrame:
    """Plain and safe walksheds of each school.

    Parameters
    ----------
    network : WalkNetwork
    schools : GeoDataFrame
        ``facility_id``, ``category`` (optional), Point geometry.
    stress : Stress, optional
    radius : float or mapping category -> float, optional
        Walking radius in metres; default the category's standard radius (:mod:`childspace.standards`; GB 50180:
        primary school 500 m, middle school 1000 m).
    max_level : int, optional
        One level for every school (kept for callers that pass a number); None: the school category's safe
        maximum (``safe_max_level``). The safe walkshed uses only edges at or below this level and passes
        nodes only where the crossing is at
        or below it (exact, turn by turn: the crossing at a node depends on the two edges used). The school's own
        edge is always walkable from the school point (its frontage).
    buffer_m : float
        Half-width (metres) of the band around reachable edge pieces forming the polygon.
    safe_max_level : int, mapping or None
        Safe maximum per school category (:func:`childspace.analysis.safety.safe_max_levels`; default
        kindergarten/primary 1, middle school 2); used when ``max_level`` is None.
    engine : {"auto", "vector", "raster"}
        How the polygons are drawn, as in :func:`childspace.analysis.coverage.service_areas`: ``"vector"``
        buffers the reached street pieces (exact), ``"raster"`` marks the cells within ``buffer_m`` of them on a
        grid of about ``cell_m`` and outlines them (all walksheds in one pass; on a county the areas were
        0.4 % larger in all, a small walkshed a few cells wide up to 13 %); ``"auto"``: vector below
        ``VECTOR_MAX_PIECES`` pieces in all and ``VECTOR_MAX_UNION`` in one walkshed, raster otherwise.
        ``length_m`` is exact with either engine.
    cell_m : float
        Raster cell (m), shrunk so that ``buffer_m`` is a whole number of cells plus a half.

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        Two rows per school: ``school_id``, ``kind`` (``plain``/``safe``), ``max_level`` (NaN for plain),
        ``radius_m``, ``length_m`` (network length reached), ``area_m2`` (metric CRS), geometry (Polygon).
        ``attrs["engine"]``: the engine used.
    """
    require_layer(schools, "schools", ["facility_id"])
    check_raster_args(engine, cell_m, buffer_m)
    stress = network_stress(network, config) if stress is None else stress
    sm = schools.to_crs(network.crs)
    n = len(sm)
    snap = network.snap(sm.geometry, max_distance=max_snap)  # one point per school, group i = school i
    cats = sm["category"].astype(str).to_numpy() if "category" in sm.columns else np.full(n, "")
    smax = safe_max_levels(safe_max_level if max_level is None else int(max_level), stress.config)
    lvl = np.array([smax.get(c, smax["default"]) for c in cats], dtype=np.int64)
    if isinstance(radius, Mapping):
        R = np.array([float(radius.get(c, _default_radius(c))) for c in cats])
    elif radius is None:
        R = np.array([_default_radius(c) for c in cats])
    else:
        R = np.full(n, float(radius))
    ok = np.flatnonzero(snap.ok)
    L = network.length
    e0, off = snap.edge[ok], snap.offset[ok]
    # plain: one bounded search per school on the whole network (reach: local windows, sparse rows)
    rows, edges, starts, ends = [], [], [], []
    if ok.size:
        one = snap.take(ok)  # group j = school ok[j]
        reach = network.reach(one, R[ok])
        r, e, s0, t0 = network.reached_pieces(reach, R[ok])
        keep = e != e0[r]  # the school's own edge: its stretch from the point, below
        rows.append(r[keep])
        edges.append(e[keep])
        starts.append(s0[keep])
        ends.append(t0[keep])
        # safe: turn by turn, one edge graph per safe level
        turns = _turns(network, stress, stress.edge_level <= lvl[ok].max())
        for level in np.unique(lvl[ok]):
            sel = np.flatnonzero(lvl[ok] == level)
            r, e, s0, t0 = _safe_pieces(
                network,
                turns,
                stress.edge_level <= level,
                int(level),
                e0[sel],
                off[sel],
                R[ok][sel],
                xy0=snap.xy[ok][sel],
            )
            rows.append(ok.size + sel[r])
            edges.append(e)
            starts.append(s0)
            ends.append(t0)
        # the stretch of the school's own edge within R of the school, in both walksheds
        own0, own1 = np.maximum(0.0, off - R[ok]), np.minimum(L[e0], off + R[ok])
        rows.append(np.r_[np.arange(ok.size), ok.size + np.arange(ok.size)])
        edges.append(np.r_[e0, e0])
        starts.append(np.r_[own0, own0])
        ends.append(np.r_[own1, own1])
    row = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, dtype=np.int64)
    edge = np.concatenate(edges).astype(np.int64) if rows else np.zeros(0, dtype=np.int64)
    s0 = np.concatenate(starts) if rows else np.zeros(0)
    t0 = np.concatenate(ends) if rows else np.zeros(0)
    m = 2 * ok.size  # sources: plain walksheds 0..k-1, safe ones k..2k-1 (k = attached schools)
    length = np.bincount(row, weights=np.abs(t0 - s0), minlength=m)
    largest = int(np.bincount(row, minlength=m).max()) if m else 0
    use = choose_engine(engine, len(edge), largest)
    poly = np.full(m, None, dtype=object)
    if m and use == "vector":
        order = np.argsort(row, kind="stable")
        lines = network.substrings(edge[order], s0[order], t0[order])
        ml = shapely.multilinestrings(lines, indices=row[order])
        poly[:] = shapely.buffer(ml, buffer_m, quad_segs=4)
    elif m:
        cell = fit_cell(float(cell_m), float(buffer_m))
        xy, piece = network.sample_pieces(edge, s0, t0, cell)
        centre = np.r_[snap.xy[ok], snap.xy[ok]]
        poly[:] = raster_per_source(xy, row[piece], centre, np.r_[R[ok], R[ok]], m, cell, float(buffer_m))
    geom = np.full(2 * n, None, dtype=object)
    length_m = np.zeros(2 * n)
    # output rows: school i plain at 2i, safe at 2i + 1
    geom[2 * ok], geom[2 * ok + 1] = poly[: ok.size], poly[ok.size :]
    length_m[2 * ok], length_m[2 * ok + 1] = length[: ok.size], length[ok.size :]
    area = np.where(shapely.is_missing(geom), 0.0, shapely.area(geom))
    kind = np.tile(np.array(["plain", "safe"], dtype=object), n)
    df = pd.DataFrame(
        {
            "school_id": np.repeat(sm["facility_id"].astype(str).to_numpy(), 2),
            "kind": kind,
            "max_level": np.where(kind == "plain", np.nan, np.repeat(lvl, 2).astype(float)),  # NaN: plain
            "radius_m": np.repeat(R, 2),
            "length_m": length_m,
            "area_m2": np.nan_to_num(area, nan=0.0),
        }
    )
    out = gpd.GeoDataFrame(
        df, geometry=gpd.GeoSeries(areas_to_wgs84(geom, network.crs), crs=WGS84).values, crs=WGS84
    )
    out.attrs["engine"] = use
    return out
