"""The stress model of a whole walk network (internal to :mod:`childspace.analysis.safety`): edge levels, crossing
levels per (node, road), the angular ring of edges at each node, and the routing cost of the safest-route search."""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from childspace._errors import ChildspaceWarning
from childspace.analysis._safety_config import (
    VARIANTS,
    ConfigLike,
    NetworkTables,
    ProfileLike,
    profile_name,
    resolve_profile,
    resolved_config,
    road_keys,
)
from childspace.analysis._safety_crossings import (
    IncidenceParts,
    UnconnectedParts,
    closed_crossing_rows,
    crossing_incidence,
    incidence_levels,
    incidence_parts,
    node_positions,
    unconnected_levels,
    unconnected_parts,
)
from childspace.analysis._safety_edges import EdgeParts, edge_levels, edge_parts

__all__ = [
    "MAX_ANGULAR_DEGREE",
    "RoutingCost",
    "Stress",
    "network_stress",
    "network_stress_variants",
    "node_crossing_stress",
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
    #: the variant-independent parts it was computed from (:func:`network_stress_variants` reuses them); not
    #: pickled, and None on a model read back or built otherwise
    parts: NetworkParts | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["parts"] = None
        return state

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


def _model_config(
    network: NetworkTables, config: ConfigLike, profile: ProfileLike, variant: str | None
) -> dict:
    """The resolved config of one model: the profile decided by the data when it is "auto"."""
    resolved = isinstance(config, Mapping) and config.get("_resolved")
    if profile is None and (
        not resolved or cast(Mapping[str, Any], config)["profile"].get("_spec") == "auto"
    ):
        profile = resolve_profile("auto" if resolved else None, network, config)
    elif isinstance(profile, str) and profile.lower() == "auto":
        profile = resolve_profile(profile, network, config)
    return resolved_config(config, profile, variant)


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
        ``Stress.profile`` names the profile used. The other variants of the same profile are cheaper from
        :func:`network_stress_variants` given this one (``like=``): they share what does not depend on the
        variant.
    """
    cfg = _model_config(network, config, profile, variant)
    nodes, edges = _tables(network)
    roads = getattr(network, "beside_roads", None)
    parts, rows = _network_parts(nodes, edges, roads, cfg)
    return _stress_from_parts(parts, nodes, edges, cfg, rows)


def network_stress_variants(
    network: NetworkTables,
    config: ConfigLike = None,
    profile: ProfileLike = None,
    variants: Iterable[str] = VARIANTS,
    like: Stress | None = None,
) -> dict[str, Stress]:
    """:func:`network_stress` under several variants of one profile, each as ``network_stress(network, config,
    profile, variant=v)`` would give it.

    The variants differ in default speeds, lanes, sidewalks, contexts and the unknown crossing type only: the
    contexts, distinct tag combinations, sidewalk-road pairs, crossing pairs and controls, closed-road crossings
    and the angular ring order at each node are computed once (or taken from ``like``, a :func:`network_stress`
    of the same network and profile computed in this process) and only the levels and reasons per variant.

    Parameters
    ----------
    network, config, profile
        As for :func:`network_stress`.
    variants : iterable of str
        ``"typical"``, ``"optimistic"``, ``"pessimistic"``.
    like : Stress, optional
        A model of ``network`` whose variant-independent parts are reused when they match (same tables, same
        config apart from the variant); otherwise they are computed once here.

    Returns
    -------
    dict
        variant -> Stress, in the order asked.
    """
    nodes, edges = _tables(network)
    roads = getattr(network, "beside_roads", None)
    parts = like.parts if like is not None else None
    out = {}
    for v in variants:
        cfg = _model_config(network, config, profile, v)
        if parts is not None and parts.serves(nodes, edges, roads, cfg):
            out[v] = _stress_from_parts(parts, nodes, edges, cfg)
        else:
            parts, rows = _network_parts(nodes, edges, roads, cfg)
            out[v] = _stress_from_parts(parts, nodes, edges, cfg, rows)
    return out


def _parts_key(cfg: Mapping[str, Any]) -> str:
    """The config without what a profile's variant sets (``_apply_profile``): equal keys, equal network parts."""
    prof = {k: v for k, v in cfg["profile"].items() if k not in ("defaults", "variant", "forced_context")}
    crossing = dict(cfg["crossing"])
    crossing["control"] = {k: v for k, v in crossing["control"].items() if k != "unknown"}
    cway = {k: v for k, v in cfg.get("crossing_way", {}).items() if k != "unknown_road_level"}
    rest = {k: v for k, v in cfg.items() if k not in ("profile", "crossing", "crossing_way", "_base")}
    return repr((rest, prof, crossing, cway))


@dataclass
class NetworkParts:
    """Everything :func:`network_stress` derives from the network and the config apart from the profile's
    variant (see :func:`network_stress_variants`). Held by weak references to the tables it was computed on."""

    key: str
    refs: tuple[Any, Any, Any]
    edges: EdgeParts
    inc: IncidenceParts
    un: UnconnectedParts
    closed_message: str | None
    closed_rows: pd.DataFrame | None
    virtual_edge: np.ndarray
    ring_edge: np.ndarray
    degree: np.ndarray
    slot_node: np.ndarray
    slot_pos: np.ndarray
    slot_pair: np.ndarray
    slot_closed: np.ndarray
    pair_closed: np.ndarray
    closed_level: int

    def serves(self, nodes: pd.DataFrame, edges: pd.DataFrame, roads: Any, cfg: Mapping[str, Any]) -> bool:
        """Whether these parts are those of these tables under ``cfg`` (any variant)."""
        alive = [r() if r is not None else None for r in self.refs]
        return (
            alive[0] is nodes
            and alive[1] is edges
            and (alive[2] is roads or (roads is None and self.refs[2] is None))
            and self.key == _parts_key(cfg)
        )


def _ref(obj: Any) -> Any:
    return None if obj is None else weakref.ref(obj)


def _network_parts(
    nodes: pd.DataFrame, edges: pd.DataFrame, roads: gpd.GeoDataFrame | None, cfg: dict
) -> tuple[NetworkParts, pd.DataFrame]:
    """The variant-independent parts of the model of a network under ``cfg``, and its distinct edge rows rated
    under ``cfg``."""
    ep, rows = edge_parts(edges, cfg, roads)
    ip = incidence_parts(nodes, edges, ep.crossing_way, ep.road, ep.group, cfg)
    up = unconnected_parts(
        nodes, edges, ep.crossing_way, ep.road, ip.node_pos, cfg, beside_roads=roads, beside_context=ep.ctx_x
    )
    m = len(edges)
    n = len(nodes)
    closed, message = closed_crossing_rows(nodes, edges, roads, cfg)
    cr = None
    pair_closed = np.zeros(ip.node_pos.size, dtype=bool)
    closed_level = int(cfg["closed_road"]["level"])
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
        # a pair that a closed road's row shares: that row replaces it when worse (the ring then reads 0 there)
        ckey = cr["node"].to_numpy(dtype=np.int64) * m + cr["edge"].to_numpy(dtype=np.int64)
        pair_closed = np.isin(ip.node_pos * m + ip.edge_pos, ckey)
    # the edges around each node in angular order; each ring slot's level comes from its crossing pair
    u, v = ip.u, ip.v
    au, av = _end_bearings(nodes, edges, u, v)
    e_all = np.arange(m)
    r_node = np.concatenate([u, v])
    r_edge = np.concatenate([e_all, e_all])
    r_ang = np.concatenate([au, av])
    key = r_node.astype(np.int64) * m + r_edge
    pkey = ip.node_pos * m + ip.edge_pos
    porder = np.argsort(pkey, kind="stable")
    r_pair = np.full(key.size, -1, dtype=np.int64)
    if pkey.size:
        sk = pkey[porder]
        at = np.minimum(np.searchsorted(sk, key), sk.size - 1)
        hit = sk[at] == key
        r_pair[hit] = porder[at[hit]]
    r_closed = np.zeros(r_node.size, dtype=bool)
    virtual_edge = np.zeros(0, dtype=np.int64)
    if len(closed):  # the closed roads leaving each node, as ring entries n_edges + j
        j = np.arange(len(closed))
        r_node = np.concatenate([r_node, closed["node"].to_numpy(dtype=np.int64)])
        r_edge = np.concatenate([r_edge, m + j])
        r_ang = np.concatenate([r_ang, closed["angle"].to_numpy(dtype=float)])
        r_pair = np.concatenate([r_pair, np.full(len(closed), -1, dtype=np.int64)])
        r_closed = np.concatenate([r_closed, np.ones(len(closed), dtype=bool)])
        virtual_edge = closed["edge"].to_numpy(dtype=np.int64)
        closed_level = int(closed["level"].to_numpy(dtype=np.int8)[0])
    order = np.lexsort((r_ang, r_node))
    r_node, r_edge, r_pair, r_closed = r_node[order], r_edge[order], r_pair[order], r_closed[order]
    degree = np.bincount(r_node, minlength=n).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(degree)[:-1]])
    pos = np.arange(r_node.size) - start[r_node]
    D = MAX_ANGULAR_DEGREE
    ring_edge = np.full((n, D), -1, dtype=np.int64)
    ok = pos < D
    ring_edge[r_node[ok], pos[ok]] = r_edge[ok]
    parts = NetworkParts(
        key=_parts_key(cfg),
        refs=(_ref(nodes), _ref(edges), _ref(roads)),
        edges=ep,
        inc=ip,
        un=up,
        closed_message=message,
        closed_rows=cr,
        virtual_edge=virtual_edge,
        ring_edge=ring_edge,
        degree=degree,
        slot_node=r_node[ok],
        slot_pos=pos[ok],
        slot_pair=r_pair[ok].astype(np.int64),
        slot_closed=r_closed[ok],
        pair_closed=pair_closed,
        closed_level=closed_level,
    )
    return parts, rows


def _stress_from_parts(
    parts: NetworkParts, nodes: pd.DataFrame, edges: pd.DataFrame, cfg: dict, rows: pd.DataFrame | None = None
) -> Stress:
    """The model under ``cfg`` from the network's variant-independent ``parts``."""
    es = edge_levels(parts.edges, cfg, rows)
    inc, pair_level = incidence_levels(parts.inc, es, cfg)
    un = unconnected_levels(parts.un, es, cfg)
    if len(un):
        es = es.copy()
        rows_ = es.index[un["edge"].to_numpy()]
        es.loc[rows_, "level"] = np.maximum(es.loc[rows_, "level"].to_numpy(), un["level"].to_numpy())
        es.loc[rows_, "reason"] = un["reason"].to_numpy()
        old = es.loc[rows_, "assumed_tags"].fillna("").astype(str).to_numpy()
        new = un["assumed_tags"].to_numpy(dtype=object)
        es.loc[rows_, "assumed_tags"] = np.where(old == "", new, np.where(new == "", old, old + "; " + new))
        es.loc[rows_, "assumed"] = es.loc[rows_, "assumed_tags"].astype(str).to_numpy() != ""
    if parts.closed_message:
        warnings.warn(parts.closed_message, ChildspaceWarning, stacklevel=3)
    cr = parts.closed_rows
    if cr is not None:
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
    i_node = inc["node"].to_numpy()
    rank = _rank_within(i_node)
    keep = rank < k
    top_edge[i_node[keep], rank[keep]] = inc["edge"].to_numpy()[keep]
    top_level[i_node[keep], rank[keep]] = inc["level"].to_numpy()[keep]
    # the level of crossing each ring entry at its node: its pair's (0 where a worse closed road's row took the
    # pair's place, and for edges without motor traffic), the closed road's for the closed roads
    pl = np.where(parts.pair_closed & (parts.closed_level > pair_level), 0, pair_level).astype(np.int8)
    sp = parts.slot_pair
    slot_level = np.where(sp >= 0, pl[np.maximum(sp, 0)] if pl.size else 0, 0).astype(np.int8)
    slot_level[parts.slot_closed] = parts.closed_level
    ring_level = np.zeros(parts.ring_edge.shape, dtype=np.int8)
    ring_level[parts.slot_node, parts.slot_pos] = slot_level
    return Stress(
        edges=es,
        nodes=nc,
        incidence=inc,
        ring_edge=parts.ring_edge.copy(),
        ring_level=ring_level,
        degree=parts.degree.copy(),
        top_edge=top_edge,
        top_level=top_level,
        config=cfg,
        virtual_edge=parts.virtual_edge.copy(),
        parts=parts,
    )


def _rank_within(key: np.ndarray) -> np.ndarray:
    """Per row, how many earlier rows have the same key (``groupby(key).cumcount()``)."""
    if key.size == 0:
        return np.zeros(0, dtype=np.int64)
    o = np.argsort(key, kind="stable")
    ks = key[o]
    first = np.r_[True, ks[1:] != ks[:-1]]
    run_start = np.maximum.accumulate(np.where(first, np.arange(ks.size), 0))
    rank = np.empty(key.size, dtype=np.int64)
    rank[o] = np.arange(ks.size) - run_start
    return rank


def node_crossing_stress(
    nodes: pd.DataFrame, edges: pd.DataFrame, config: ConfigLike = None, incidence: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Worst crossing at each node: the most stressful road at the node with the node's crossing control.

    Parameters
    ----------
    nodes, edges : DataFrame
        Walk-network tables.
    config : path, mapping or None
    incidence : DataFrame, optional
        Output of :func:`crossing_incidence` (computed when omitted).

    Returns
    -------
    DataFrame
        Index as ``nodes``: ``level`` (0 where no road meets the node, else 1-4), ``control``, ``n_roads``
        (road edges at the node), ``road_edge`` (label of the worst road edge), ``island``, ``assumed``,
        ``assumed_tags``, ``reason``.
    """
    cfg = resolved_config(config)
    inc = crossing_incidence(nodes, edges, None, cfg) if incidence is None else incidence
    n = len(nodes)
    pos = np.arange(n)
    node = inc["node"].to_numpy()
    level = inc["level"].to_numpy()
    texts = all(inc[c].dtype == "str" for c in ("control", "assumed_tags", "reason"))
    if (
        len(inc)
        and texts
        and np.issubdtype(node.dtype, np.integer)
        and np.issubdtype(level.dtype, np.integer)
        and node.min() >= 0
        and node.max() < n
    ):
        return _node_crossings_fast(nodes.index, inc, node, level, n)
    inc = inc.sort_values(["node", "level"], ascending=[True, False], kind="stable")
    first = inc.drop_duplicates("node", keep="first").set_index("node")
    counts = inc.groupby("node").size()
    out = pd.DataFrame(index=nodes.index)
    out["level"] = first["level"].reindex(pos).fillna(0).astype(np.int8).to_numpy()
    out["control"] = first["control"].reindex(pos).to_numpy(dtype=object)
    out["n_roads"] = counts.reindex(pos).fillna(0).astype(np.int32).to_numpy()
    out["road_edge"] = first["edge_id"].reindex(pos).to_numpy(dtype=object)
    out["island"] = first["island"].reindex(pos).fillna(False).astype(bool).to_numpy()
    out["assumed"] = first["assumed"].reindex(pos).fillna(False).astype(bool).to_numpy()
    out["assumed_tags"] = first["assumed_tags"].reindex(pos).fillna("").to_numpy(dtype=object)
    out["reason"] = first["reason"].reindex(pos).fillna("").to_numpy(dtype=object)
    return out


def _node_crossings_fast(
    index: pd.Index, inc: pd.DataFrame, node: np.ndarray, level: np.ndarray, n: int
) -> pd.DataFrame:
    """:func:`node_crossing_stress` for an incidence table of integer node positions and levels and ``str``
    texts: the first row per node by a stable numpy sort, each column taken per node with the same reindexing
    as the general path (same dtypes and fills), the texts kept as ``str`` arrays instead of object arrays that
    the frame would convert back."""
    o = np.lexsort((-level.astype(np.int64), node))  # stable: ties keep the table's order
    ns = node[o]
    fi = o[np.r_[True, ns[1:] != ns[:-1]]]
    fnode = node[fi]
    pos = np.arange(n)

    def first(col: str) -> pd.Series:
        return inc[col].iloc[fi].set_axis(fnode).reindex(pos)

    out = pd.DataFrame(index=index)
    lv = np.zeros(n, dtype=np.int8)
    lv[fnode] = level[fi]
    out["level"] = lv
    out["control"] = first("control").array
    out["n_roads"] = np.bincount(node, minlength=n).astype(np.int32)
    out["road_edge"] = first("edge_id").to_numpy(dtype=object)
    out["island"] = first("island").fillna(False).astype(bool).to_numpy()
    out["assumed"] = first("assumed").fillna(False).astype(bool).to_numpy()
    out["assumed_tags"] = first("assumed_tags").fillna("").array
    out["reason"] = first("reason").fillna("").array
    return out


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
