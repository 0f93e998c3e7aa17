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
from childspace.analysis.safety import Stress, network_stress, safe_max_levels
from childspace.inputs.projection import WGS84

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


def _line_graph_reach(
    network: Any, stress: Stress, edge_ok: np.ndarray, snap: Any, point: int, radius: float, max_level: int
) -> tuple[np.ndarray, np.ndarray]:
    """Metres reachable along each edge from its u and v ends within ``radius`` of a snapped point, walking
    only edges with ``edge_ok`` and passing nodes only where the crossing (given the two edges used) is at most
    ``max_level``. Exact turn-aware search on the edge graph (one state per edge direction)."""
    L = network.length
    E = network.n_edges
    cand = np.flatnonzero(edge_ok)
    u, v = network.u, network.v
    # incidences of allowed edges at their nodes
    inc_edge = np.concatenate([cand, cand])
    inc_node = np.concatenate([u[cand], v[cand]])
    inc_at_v = np.concatenate([np.zeros(cand.size, bool), np.ones(cand.size, bool)])
    order = np.argsort(inc_node, kind="stable")
    inc_edge, inc_node, inc_at_v = inc_edge[order], inc_node[order], inc_at_v[order]
    starts = np.flatnonzero(np.r_[True, inc_node[1:] != inc_node[:-1]])
    deg = np.diff(np.r_[starts, inc_node.size])
    grp = np.repeat(np.arange(starts.size), deg)
    # all ordered pairs (i -> j) of incidences at the same node
    rep = deg[grp]
    i_idx = np.repeat(np.arange(inc_node.size), rep)
    j_off = np.arange(i_idx.size) - np.repeat(np.cumsum(rep) - rep, rep)
    j_idx = starts[grp[i_idx]] + j_off
    keep = inc_edge[i_idx] != inc_edge[j_idx]
    i_idx, j_idx = i_idx[keep], j_idx[keep]
    node = inc_node[i_idx]
    lvl = stress.crossing_level(node, inc_edge[i_idx], inc_edge[j_idx])
    ok = lvl <= max_level
    i_idx, j_idx = i_idx[ok], j_idx[ok]
    # state 2e: arrived at v (walked u->v); 2e+1: arrived at u
    s_in = 2 * inc_edge[i_idx] + np.where(inc_at_v[i_idx], 0, 1)
    s_out = 2 * inc_edge[j_idx] + np.where(inc_at_v[j_idx], 1, 0)
    cost = L[inc_edge[j_idx]]
    n_states = 2 * E + 1
    src = 2 * E
    e0 = int(snap.edge[point])
    off = float(snap.offset[point])
    rows = np.r_[s_in, src, src]
    cols = np.r_[s_out, 2 * e0, 2 * e0 + 1]
    data = np.r_[cost, L[e0] - off, off]
    data = np.where(data <= 0, 1e-9, data)  # csgraph drops explicit zeros
    G = sp.csr_array((data, (rows, cols)), shape=(n_states, n_states))
    d = dijkstra(G, directed=True, indices=src, limit=radius + L.max() + 1.0)
    d_fwd = d[0 : 2 * E : 2]  # arrival at v having walked u->v
    d_bwd = d[1 : 2 * E : 2]
    with np.errstate(invalid="ignore"):
        ru = np.clip(radius - (d_fwd - L), 0.0, L)
        rv = np.clip(radius - (d_bwd - L), 0.0, L)
    ru = np.where(np.isfinite(d_fwd), ru, 0.0)
    rv = np.where(np.isfinite(d_bwd), rv, 0.0)
    # the school's own edge: from the point itself both ways
    ru[e0] = rv[e0] = 0.0
    return ru, rv


def _pieces(network: Any, ru: np.ndarray, rv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    L = network.length
    whole = (ru + rv >= L) & ((ru > 0) | (rv > 0))
    pu = ~whole & (ru > 0)
    pv = ~whole & (rv > 0)
    e = np.arange(network.n_edges)
    return (
        np.concatenate([e[whole], e[pu], e[pv]]),
        np.concatenate([np.zeros(whole.sum()), np.zeros(pu.sum()), (L - rv)[pv]]),
        np.concatenate([L[whole], ru[pu], L[pv]]),
    )


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

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        Two rows per school: ``school_id``, ``kind`` (``plain``/``safe``), ``max_level`` (None for plain),
        ``radius_m``, ``length_m`` (network length reached), ``area_m2`` (metric CRS), geometry (Polygon).
    """
    require_layer(schools, "schools", ["facility_id"])
    stress = network_stress(network, config) if stress is None else stress
    sm = schools.to_crs(network.crs)
    snap = network.snap(sm.geometry, max_distance=max_snap)
    cats = sm["category"].astype(str).to_numpy() if "category" in sm.columns else np.full(len(sm), "")
    smax = safe_max_levels(safe_max_level if max_level is None else int(max_level), stress.config)
    rows = []
    for i in range(len(sm)):
        max_level_i = smax.get(cats[i], smax["default"])
        edge_ok = stress.edge_level <= max_level_i
        if isinstance(radius, Mapping):
            R = float(radius.get(cats[i], _default_radius(cats[i])))
        elif radius is None:
            R = _default_radius(cats[i])
        else:
            R = float(radius)
        sid = str(sm["facility_id"].iloc[i])
        if not snap.ok[i]:
            for kind in ("plain", "safe"):
                rows.append(
                    dict(
                        school_id=sid,
                        kind=kind,
                        max_level=None if kind == "plain" else max_level_i,
                        radius_m=R,
                        length_m=0.0,
                        area_m2=0.0,
                        geometry=None,
                    )
                )
            continue
        one = snap.take([i])
        d, _ = network.node_distances(one, cutoff=R)
        ru, rv = network.reachable_edges(d, R)
        e0 = int(snap.edge[i])
        ru[e0] = rv[e0] = 0.0
        plain = (ru, rv)
        safe = _line_graph_reach(network, stress, edge_ok, snap, i, R, max_level_i)
        for kind, (a, b) in (("plain", plain), ("safe", safe)):
            e, s0, s1 = _pieces(network, a, b)
            # the stretch of the school's own edge within R of the school
            off = float(snap.offset[i])
            e = np.r_[e, e0]
            s0 = np.r_[s0, max(0.0, off - R)]
            s1 = np.r_[s1, min(network.length[e0], off + R)]
            lines = network.substrings(e, s0, s1)
            reached = float(np.sum(np.abs(s1 - s0)))
            poly = shapely.union_all(shapely.buffer(lines, buffer_m, quad_segs=4))
            rows.append(
                dict(
                    school_id=sid,
                    kind=kind,
                    max_level=None if kind == "plain" else max_level_i,
                    radius_m=R,
                    length_m=reached,
                    area_m2=float(shapely.area(poly)),
                    geometry=poly,
                )
            )
    df = pd.DataFrame(rows)
    geo = gpd.GeoSeries(df.pop("geometry").to_numpy(), crs=network.crs).to_crs(WGS84)
    return gpd.GeoDataFrame(df, geometry=geo.values, crs=WGS84)
