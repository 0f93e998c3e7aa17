"""The stress model of a whole walk network (internal to :mod:`childspace.analysis.safety`): edge levels, crossing
levels per (node, road), the angular ring of edges at each node, and the routing cost of the safest-route search."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from childspace.analysis._safety_config import (
    ConfigLike,
    NetworkTables,
    ProfileLike,
    profile_name,
    resolve_profile,
    resolved_config,
    road_keys,
)
from childspace.analysis._safety_crossings import (
    closed_road_crossings,
    crossing_incidence,
    node_crossing_stress,
    node_positions,
    unconnected_crossing_ways,
)
from childspace.analysis._safety_edges import edge_stress

__all__ = [
    "MAX_ANGULAR_DEGREE",
    "RoutingCost",
    "Stress",
    "network_stress",
    "routing_cost",
]

# ----------------------------------------------------------------------------------------------------------------
# Network-level model
# ----------------------------------------------------------------------------------------------------------------
#: Nodes with more edges than this use the conservative rule (every other road at the node is crossed).
MAX_ANGULAR_DEGREE = 8


@dataclass
class Stress:
    """Stress of a walk network, aligned with its positional node and edge indices.

    Attributes
    ----------
    edges : DataFrame
        :func:`edge_stress` per edge (row i = edge i); crossing ways that meet no road carry their crossing level.
    nodes : DataFrame
        :func:`node_crossing_stress` per node (row i = node i).
    incidence : DataFrame
        :func:`crossing_incidence` (node, road edge) pairs.
    ring_edge, ring_level : ndarray (n_nodes, MAX_ANGULAR_DEGREE)
        Per node, its edges in anticlockwise order of their direction leaving the node (-1 padding) and the
        level of crossing each of them there (0 for edges without motor traffic).
    degree : ndarray (n_nodes,)
        Edge ends at each node.
    top_edge, top_level : ndarray (n_nodes, 3)
        Per node the three most stressful road edges and their crossing levels (conservative rule for nodes of
        degree above ``MAX_ANGULAR_DEGREE``).
    config : dict
    """

    edges: pd.DataFrame
    nodes: pd.DataFrame
    incidence: pd.DataFrame
    ring_edge: np.ndarray
    ring_level: np.ndarray
    degree: np.ndarray
    top_edge: np.ndarray
    top_level: np.ndarray
    config: dict = field(repr=False)
    #: ring entries >= n_edges are crossings of roads closed to pedestrians: entry n_edges + j reports walk edge
    #: ``virtual_edge[j]`` as the edge crossed (its incidence row carries the closed road's reason)
    virtual_edge: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)

    @property
    def profile(self) -> str:
        """Name of the defaults profile the levels were computed with (e.g. ``"china"``, ``"generic:AT"``)."""
        return profile_name(self.config)

    @property
    def edge_level(self) -> np.ndarray:
        """Level per edge (int8, positional)."""
        return self.edges["level"].to_numpy(dtype=np.int8)

    def _crossing(
        self, node: np.ndarray, enter_edge: np.ndarray, leave_edge: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Crossing level and crossed edge at ``node`` for a walker entering by ``enter_edge`` and leaving by
        ``leave_edge``.

        Rule: going round the node from the entering edge to the leaving edge, the walker can pass on either
        side; on each side it crosses the edges lying between the two (in angular order); it takes the side
        whose worst crossing is lower. A straight walk along a road past a side street on the other side crosses
        nothing; crossing a road from one side street to the opposite one crosses the road on both sides. At
        nodes with more than MAX_ANGULAR_DEGREE edges (rare) every other road is taken as crossed.
        """
        node = np.asarray(node, dtype=np.int64)
        a = np.asarray(enter_edge, dtype=np.int64)
        b = np.asarray(leave_edge, dtype=np.int64)
        q = node.size
        level = np.zeros(q, dtype=np.int8)
        which = np.full(q, -1, dtype=np.int64)
        if q == 0:
            return level, which
        # at a node with at most three ring entries the walker passes on the side with no edge between the two
        # (or on either, both empty): nothing crossed; only the other turns need the angular rule
        few = (a >= 0) & (b >= 0) & (self.degree[node] <= 3) & (self.degree[node] > 0)
        if few.any():
            r3 = self.ring_edge[node[few], :3]
            done = np.zeros(q, dtype=bool)
            done[few] = (r3 == a[few, None]).any(axis=1) & (r3 == b[few, None]).any(axis=1)
            if done.any():
                rest = np.flatnonzero(~done)
                level[rest], which[rest] = self._crossing(node[rest], a[rest], b[rest])
                return level, which
        D = self.ring_edge.shape[1]
        ring = self.ring_edge[node]  # (q, D)
        lv = self.ring_level[node].astype(np.int16)
        deg = self.degree[node]
        k = np.arange(D)[None, :]
        rows = np.arange(q)
        ra = np.argmax(ring == a[:, None], axis=1)
        rb = np.argmax(ring == b[:, None], axis=1)
        found = (ring[rows, ra] == a) & (ring[rows, rb] == b) & (deg <= D) & (deg > 0)
        d1 = np.maximum(deg, 1)
        rel_k = (k - ra[:, None]) % d1[:, None]
        rel_b = ((rb - ra) % d1)[:, None]
        valid = k < deg[:, None]
        l1 = np.where(valid & (rel_k > 0) & (rel_k < rel_b), lv, -1)
        l2 = np.where(valid & (rel_k > rel_b), lv, -1)
        m1 = l1.max(axis=1)
        m2 = l2.max(axis=1)
        use1 = m1 <= m2
        lev = np.maximum(np.where(use1, m1, m2), 0)
        arg = np.where(use1, l1.argmax(axis=1), l2.argmax(axis=1))
        w = np.where(lev > 0, ring[rows, arg], -1)
        if self.virtual_edge.size:
            n_e = self.edges.shape[0]
            virt = w >= n_e
            w = np.where(virt, self.virtual_edge[np.clip(w - n_e, 0, self.virtual_edge.size - 1)], w)
        level[found] = lev[found]
        which[found] = w[found]
        # conservative fallback: every other road at the node
        rest = np.flatnonzero(~found)
        if rest.size:
            done = np.zeros(rest.size, dtype=bool)
            for j in range(self.top_edge.shape[1]):
                e = self.top_edge[node[rest], j]
                ok = ~done & (e >= 0) & (e != a[rest]) & (e != b[rest])
                level[rest[ok]] = self.top_level[node[rest[ok]], j]
                which[rest[ok]] = e[ok]
                done |= ok
        return level, which

    def crossing_level(self, node: np.ndarray, enter_edge: np.ndarray, leave_edge: np.ndarray) -> np.ndarray:
        """Crossing level (0: nothing crossed, else 1-4) at ``node`` between the route's two edges there."""
        return self._crossing(node, enter_edge, leave_edge)[0]

    def crossing_edge(self, node: np.ndarray, enter_edge: np.ndarray, leave_edge: np.ndarray) -> np.ndarray:
        """The (worst) road edge crossed at ``node`` between the route's two edges there; -1 when none."""
        return self._crossing(node, enter_edge, leave_edge)[1]


def _tables(network: NetworkTables) -> tuple[pd.DataFrame, pd.DataFrame]:
    if isinstance(network, tuple):
        nodes, edges = network
    else:
        nodes, edges = network.nodes, network.edges
    return nodes, edges


def _end_bearings(
    nodes: pd.DataFrame, edges: pd.DataFrame, u: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Direction (radians) in which each edge leaves its u end and its v end, from its geometry (else the
    straight line between its nodes). Geographic coordinates have their x scaled by cos(latitude)."""
    m = len(edges)
    geo = isinstance(edges, gpd.GeoDataFrame) and edges.crs is not None
    if geo:
        g = np.asarray(edges.geometry.array, dtype=object)
        geo = not (shapely.is_missing(g) | shapely.is_empty(g)).any()
    if geo:
        coords, li = shapely.get_coordinates(g, return_index=True)
        ptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(li, minlength=m), out=ptr[1:])
        p0, p1 = coords[ptr[:-1]], coords[np.minimum(ptr[:-1] + 1, ptr[1:] - 1)]
        q0, q1 = coords[ptr[1:] - 1], coords[np.maximum(ptr[1:] - 2, ptr[:-1])]
        geographic = CRS.from_user_input(edges.crs).is_geographic
        # orient: the geometry may run v -> u
        if isinstance(nodes, gpd.GeoDataFrame) and nodes.crs is not None:
            nx_ = shapely.get_x(np.asarray(nodes.to_crs(edges.crs).geometry.array))
            ny_ = shapely.get_y(np.asarray(nodes.to_crs(edges.crs).geometry.array))
            flip = np.hypot(p0[:, 0] - nx_[v], p0[:, 1] - ny_[v]) < np.hypot(
                p0[:, 0] - nx_[u], p0[:, 1] - ny_[u]
            )
            flip &= u != v
            p0[flip], q0[flip] = q0[flip].copy(), p0[flip].copy()
            p1[flip], q1[flip] = q1[flip].copy(), p1[flip].copy()
    else:
        if isinstance(nodes, gpd.GeoDataFrame):
            x = shapely.get_x(np.asarray(nodes.geometry.array))
            y = shapely.get_y(np.asarray(nodes.geometry.array))
            geographic = nodes.crs is None or CRS.from_user_input(nodes.crs).is_geographic
        else:
            x, y = nodes["x"].to_numpy(dtype=float), nodes["y"].to_numpy(dtype=float)
            geographic = True
        p0 = q1 = np.c_[x[u], y[u]]
        p1 = q0 = np.c_[x[v], y[v]]
    scale = np.cos(np.radians(np.clip(p0[:, 1], -89.0, 89.0))) if geographic else 1.0
    au = np.arctan2(p1[:, 1] - p0[:, 1], (p1[:, 0] - p0[:, 0]) * scale)
    av = np.arctan2(q1[:, 1] - q0[:, 1], (q1[:, 0] - q0[:, 0]) * scale)
    return au, av


def network_stress(
    network: NetworkTables,
    config: ConfigLike = None,
    profile: ProfileLike = None,
    variant: str | None = None,
) -> Stress:
    """Edge and crossing stress of a whole walk network.

    Parameters
    ----------
    network : WalkNetwork or (nodes, edges) tuple
        With a WalkNetwork, rows follow its positional node/edge indices.
    config : path, mapping or None
    profile : str, path, mapping or None
        Defaults profile for missing tags (:func:`childspace.analysis.safety.load_profile`): ``"china"``,
        ``"generic"``, ``"generic:AT"``, a TOML file, a mapping (``{"base": "china", ...}`` to edit one); None or
        ``"auto"``: the config's ``[profile].default`` ("auto": china for data in China, generic elsewhere).
    variant : {"typical", "optimistic", "pessimistic"}, optional
        The profile's variant (default typical).

    Returns
    -------
    Stress
        ``Stress.profile`` names the profile used.
    """
    resolved = isinstance(config, Mapping) and config.get("_resolved")
    if profile is None and (
        not resolved or cast(Mapping[str, Any], config)["profile"].get("_spec") == "auto"
    ):
        profile = resolve_profile("auto" if resolved else None, network, config)
    elif isinstance(profile, str) and profile.lower() == "auto":
        profile = resolve_profile(profile, network, config)
    cfg = resolved_config(config, profile, variant)
    nodes, edges = _tables(network)
    roads = getattr(network, "beside_roads", None)
    es = edge_stress(edges, cfg, beside_roads=roads)
    inc = crossing_incidence(nodes, edges, es, cfg)
    un = unconnected_crossing_ways(nodes, edges, es, inc, cfg, beside_roads=roads)
    if len(un):
        es = es.copy()
        rows = es.index[un["edge"].to_numpy()]
        es.loc[rows, "level"] = np.maximum(es.loc[rows, "level"].to_numpy(), un["level"].to_numpy())
        es.loc[rows, "reason"] = un["reason"].to_numpy()
        old = es.loc[rows, "assumed_tags"].fillna("").astype(str).to_numpy()
        new = un["assumed_tags"].to_numpy(dtype=object)
        es.loc[rows, "assumed_tags"] = np.where(old == "", new, np.where(new == "", old, old + "; " + new))
        es.loc[rows, "assumed"] = es.loc[rows, "assumed_tags"].astype(str).to_numpy() != ""
    m = len(edges)
    closed = closed_road_crossings(nodes, edges, roads, cfg)
    if len(closed):  # incidence rows for reporting (worst first per node), not used for the ring levels
        cr = pd.DataFrame(
            {
                "node": closed["node"].to_numpy(dtype=np.int64),
                "edge": closed["edge"].to_numpy(dtype=np.int64),
                "node_id": np.asarray(nodes.index)[closed["node"].to_numpy()],
                "edge_id": np.asarray(edges.index)[closed["edge"].to_numpy()],
                "level": closed["level"].to_numpy(dtype=np.int8),
                "control": "unmarked",
                "island": False,
                "maxspeed_kmh": np.nan,
                "lanes": np.nan,
                "assumed": False,
                "assumed_tags": "",
                "reason": closed["reason"].to_numpy(dtype=object),
                "road_key": -(10**12) - closed["road_row"].to_numpy(dtype=np.int64),
                "long_no_refuge": False,
                "signals_inferred": False,
                "closed_road": True,
            }
        )
        cr = cr.drop_duplicates(["node", "edge"])
        inc = pd.concat([inc, cr], ignore_index=True)
        inc = inc.iloc[
            np.lexsort(
                (inc["edge"].to_numpy(), -inc["level"].to_numpy(dtype=np.int64), inc["node"].to_numpy())
            )
        ]
        inc = inc.drop_duplicates(["node", "edge"], keep="first").reset_index(drop=True)
    nc = node_crossing_stress(nodes, edges, cfg, inc)
    n = len(nodes)
    k = 3
    top_edge = np.full((n, k), -1, dtype=np.int64)
    top_level = np.zeros((n, k), dtype=np.int8)
    rank = inc.groupby("node").cumcount().to_numpy()
    keep = rank < k
    top_edge[inc["node"].to_numpy()[keep], rank[keep]] = inc["edge"].to_numpy()[keep]
    top_level[inc["node"].to_numpy()[keep], rank[keep]] = inc["level"].to_numpy()[keep]
    # the edges around each node in angular order, with the level of crossing each of them there
    u, v = node_positions(nodes, edges)
    au, av = _end_bearings(nodes, edges, u, v)
    e_all = np.arange(m)
    r_node = np.concatenate([u, v])
    r_edge = np.concatenate([e_all, e_all])
    r_ang = np.concatenate([au, av])
    key = r_node.astype(np.int64) * m + r_edge
    real = ~inc["closed_road"].to_numpy(dtype=bool)
    ikey = inc["node"].to_numpy()[real].astype(np.int64) * m + inc["edge"].to_numpy()[real]
    lvl_map = pd.Series(inc["level"].to_numpy()[real], index=ikey)
    lvl_map = lvl_map[~lvl_map.index.duplicated()]
    r_lvl = lvl_map.reindex(key).fillna(0).to_numpy().astype(np.int8)
    virtual_edge = np.zeros(0, dtype=np.int64)
    if len(closed):  # the closed roads leaving each node, as ring entries n_edges + j
        j = np.arange(len(closed))
        r_node = np.concatenate([r_node, closed["node"].to_numpy(dtype=np.int64)])
        r_edge = np.concatenate([r_edge, m + j])
        r_ang = np.concatenate([r_ang, closed["angle"].to_numpy(dtype=float)])
        r_lvl = np.concatenate([r_lvl, closed["level"].to_numpy(dtype=np.int8)])
        virtual_edge = closed["edge"].to_numpy(dtype=np.int64)
    order = np.lexsort((r_ang, r_node))
    r_node, r_edge, r_lvl = r_node[order], r_edge[order], r_lvl[order]
    degree = np.bincount(r_node, minlength=n).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(degree)[:-1]])
    pos = np.arange(r_node.size) - start[r_node]
    D = MAX_ANGULAR_DEGREE
    ring_edge = np.full((n, D), -1, dtype=np.int64)
    ring_level = np.zeros((n, D), dtype=np.int8)
    ok = pos < D
    ring_edge[r_node[ok], pos[ok]] = r_edge[ok]
    ring_level[r_node[ok], pos[ok]] = r_lvl[ok]
    return Stress(
        edges=es,
        nodes=nc,
        incidence=inc,
        ring_edge=ring_edge,
        ring_level=ring_level,
        degree=degree,
        top_edge=top_edge,
        top_level=top_level,
        config=cfg,
        virtual_edge=virtual_edge,
    )


@dataclass
class RoutingCost:
    """Per-edge search weights of the safest-route search (metres-equivalent, positional edges).

    ``along`` = length x length_factor[level]; ``pen_u``/``pen_v`` = half the crossing penalty at the u/v end
    (worst road at that node other than the edge's own road); ``cost`` = along + pen_u + pen_v.
    ``factor`` = length_factor[level] (per metre along the edge).
    """

    cost: np.ndarray
    along: np.ndarray
    pen_u: np.ndarray
    pen_v: np.ndarray
    factor: np.ndarray


def routing_cost(
    network: NetworkTables,
    stress: Stress | None = None,
    config: ConfigLike = None,
    length: np.ndarray | None = None,
) -> RoutingCost:
    """Search weights for the "safest acceptable route".

    Parameters
    ----------
    network : WalkNetwork or (nodes, edges) tuple
    stress : Stress, optional
        From :func:`network_stress` (computed when omitted).
    config : path, mapping or None
        ``[routing]`` table: ``length_factor`` and ``crossing_penalty_m`` per level.
    length : ndarray, optional
        Edge lengths in metres (default: ``network.length`` or the edges' ``length`` column).

    Returns
    -------
    RoutingCost
        Arrays per edge in metres-equivalent. The crossing penalty of a node is folded half into each edge at
        the node, taking for each edge the worst road at the node that does not belong to the edge's own road
        (same street name or way id): crossing a road costs about one full penalty; walking along a road through
        a junction costs the side streets only. Exact route evaluation happens afterwards.
    """
    stress = network_stress(network, config) if stress is None else stress
    cfg = stress.config if config is None else resolved_config(config)
    nodes, edges = _tables(network)
    if length is None:
        length = np.asarray(getattr(network, "length", edges["length"].to_numpy()), dtype=float)
    r = cfg["routing"]
    lf = np.asarray([1.0] + list(r["length_factor"]), dtype=float)  # index by level 1..4
    cp = np.asarray([0.0] + list(r["crossing_penalty_m"]), dtype=float)
    level = stress.edge_level.astype(np.int64)
    factor = lf[level]
    along = length * factor
    # per node: worst (key1, level1); worst level among other keys (level2)
    inc = stress.incidence
    first = inc.drop_duplicates("node", keep="first")
    n = len(nodes)
    key1 = np.full(n, -(2**62), dtype=np.int64)
    lvl1 = np.zeros(n, dtype=np.int64)
    key1[first["node"].to_numpy()] = first["road_key"].to_numpy()
    lvl1[first["node"].to_numpy()] = first["level"].to_numpy()
    other = inc[inc["road_key"].to_numpy() != key1[inc["node"].to_numpy()]]
    second = other.drop_duplicates("node", keep="first")
    lvl2 = np.zeros(n, dtype=np.int64)
    lvl2[second["node"].to_numpy()] = second["level"].to_numpy()
    # each edge's own road identity (edges without motor traffic: a key of their own)
    u, v = node_positions(nodes, edges)
    m = len(edges)
    is_road = stress.edges["road"].to_numpy(dtype=bool)
    own = np.where(is_road, road_keys(edges), -1 - np.arange(m, dtype=np.int64))
    pen_u = 0.5 * cp[np.where(own == key1[u], lvl2[u], lvl1[u])]
    pen_v = 0.5 * cp[np.where(own == key1[v], lvl2[v], lvl1[v])]
    return RoutingCost(cost=along + pen_u + pen_v, along=along, pen_u=pen_u, pen_v=pen_v, factor=factor)
