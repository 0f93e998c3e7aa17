"""Safe routes to school: shortest and safest acceptable routes, per-school summary, hazards, safe walksheds.

Every origin (homes with ``children``, or community centroids) is routed to its school of each requested
category - the nearest by walking distance, or the school a catchment table (学区) assigns - twice:

``shortest``
    the shortest walking route (metres);
``safest``
    the *safest acceptable* route: the route minimising the stress-weighted cost of
    :func:`childspace.analysis.safety.routing_cost` (length x factor per level, plus crossing penalties), provided it is
    not longer than ``max(max_detour_ratio x shortest, shortest + min_extra_m)`` (``[routing]`` in
    ``config/safety.toml``). When the least-stress route is longer than that, a child would in practice take the
    shortest route, so the shortest route is reported as the safest acceptable one (``over_detour = True``, with
    the least-stress route's length in ``min_stress_length_m``).

Both are evaluated exactly on their edge and node sequences: the level of each edge walked, and at each node
passed, the crossing of the worst road there other than the two edges used (:class:`childspace.analysis.safety.Stress`).
A route's ``worst_level`` is its worst edge or crossing; ``verdict`` is ``safe`` (<= 2), ``caution`` (3) or
``unsafe`` (4); origins that cannot reach a school (not attached to the network, another component, or farther
than ``max_distance``) get ``unreachable`` rows.

Searches: the shortest routes of all origins of a category come from one multi-source Dijkstra (the shortest-path
forest of its schools), those of origins assigned to a school by a catchment table from that school's own tree
(:meth:`childspace.network.engine.WalkNetwork.paths_from`: one tree per school, all on one augmented graph). The safest
routes use the stress weight with each edge's crossing penalties as end costs (paid in full on the partial first
and last edges, not diluted by the share walked). One least-stress forest of all the category's schools settles
every origin whose least-stress school is its own school; the others get one tree per school, bounded by the
stress cost of the worst shortest route it serves. Paths are read from the predecessor arrays for all origins at
once, evaluated with array operations (each distinct crossing turn once), and drawn from the vertex table with one
coordinate transformation; a safest route identical to the shortest shares its line.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace._errors import ChildspaceWarning, DataError
from childspace.analysis._common import require_layer
from childspace.analysis.hazards import HAZARD_JOIN_M, hazards  # re-exported: routes is the public module
from childspace.analysis.route_tables import _set_verdicts, assumption_summary, routes_table, school_summary
from childspace.analysis.safety import Stress, _cfg, network_stress, routing_cost, safe_max_levels
from childspace.analysis.safety import verdict as _verdict
from childspace.analysis.walksheds import walksheds  # re-exported
from childspace.inputs.projection import WGS84
from childspace.network import Paths
from childspace.network.arrays import ragged_ranges

__all__ = [
    "HAZARD_JOIN_M",
    "assumption_summary",
    "hazards",
    "routes_table",
    "school_routes",
    "school_summary",
    "walksheds",
]


# ----------------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------------
class _RouteData:
    """Edge/crossing sequences of routes, keyed by ``route_key`` (kept in ``routes.attrs``; shared, not copied)."""

    def __init__(
        self,
        edge_key: np.ndarray,
        edge: np.ndarray,
        cross_key: np.ndarray,
        cross_node: np.ndarray,
        cross_edge: np.ndarray,
        cross_level: np.ndarray,
        n_edges: int,
    ):
        self.edge_key, self.edge = edge_key, edge
        self.cross_key, self.cross_node = cross_key, cross_node
        self.cross_edge, self.cross_level = cross_edge, cross_level
        self.n_edges = n_edges

    def __deepcopy__(self, memo: dict) -> _RouteData:
        return self

    def edges_of(self, key: int) -> np.ndarray:
        """Edge indices (walking order school -> origin) of route ``key``."""
        return self.edge[self.edge_key == key]

    def nodes_of(self, key: int) -> np.ndarray:
        """Nodes passed (crossing points evaluated) of route ``key``."""
        return self.cross_node[self.cross_key == key]


@dataclasses.dataclass
class _Eval:
    """Per-path evaluation of a Paths object (all arrays per path unless flat_*)."""

    reach: np.ndarray
    length: np.ndarray
    cost: np.ndarray
    shares: np.ndarray  # (g, 4)
    assumed: np.ndarray
    worst_edge: np.ndarray
    worst_cross: np.ndarray
    n_unsafe: np.ndarray
    n_cross: np.ndarray
    flat_path: np.ndarray
    flat_edge: np.ndarray
    cross_path: np.ndarray
    cross_node: np.ndarray
    cross_edge: np.ndarray
    cross_level: np.ndarray
    paths: Any
    n_assumed_cross: np.ndarray | None = None
    alt_worst: list | None = None  # worst level per path under each alternative stress model


def _concat_paths(network: Any, parts: list[tuple[np.ndarray, Any]], n_o: int) -> tuple[np.ndarray, Any]:
    """One Paths object from several (origin positions, Paths) parts, rows in ascending origin order."""

    if len(parts) == 1:
        oi, P = parts[0]
        if np.all(np.diff(oi) > 0):
            return oi, P
    oi = np.concatenate([p[0] for p in parts])
    order = np.argsort(oi, kind="stable")
    counts = np.concatenate([np.diff(p[1].ptr) for p in parts])
    starts = np.concatenate(
        [
            p[1].ptr[:-1] + off
            for p, off in zip(parts, np.cumsum([0] + [p[1].flat_edges.size for p in parts])[:-1])
        ]
    )
    flat_e = np.concatenate([p[1].flat_edges for p in parts])
    flat_f = np.concatenate([p[1].flat_forward for p in parts])
    idx, _ = ragged_ranges(starts[order], counts[order])
    ptr = np.zeros(oi.size + 1, dtype=np.int64)
    np.cumsum(counts[order], out=ptr[1:])
    cat = lambda name: np.concatenate([getattr(p[1], name) for p in parts])[order]
    return oi[order], Paths(
        dist=cat("dist"),
        source=cat("source"),
        ptr=ptr,
        flat_edges=flat_e[idx],
        flat_forward=flat_f[idx],
        source_offset=cat("source_offset"),
        target_offset=cat("target_offset"),
        network=network,
    )


def _school_pos(assigned_to: pd.Series, fid: np.ndarray) -> np.ndarray:
    """Position (into the schools) of each origin's assigned school, -1 where none (vectorised lookup)."""
    vals = assigned_to.to_numpy(dtype=object)
    out = np.full(vals.size, -1, dtype=np.int64)
    has = np.flatnonzero(pd.notna(vals))
    if has.size:
        out[has] = pd.Index(fid).get_indexer(vals[has].astype(str))
    return out


def _same_paths(P: Any, Q: Any, q_rows: np.ndarray) -> np.ndarray:
    """Per path of ``P``: True when it is the same walk as path ``q_rows[i]`` of ``Q`` (edges, directions,
    offsets)."""
    cp = np.diff(P.ptr)
    cq = np.diff(Q.ptr)[q_rows]
    same = (
        (cp == cq)
        & (P.source_offset == Q.source_offset[q_rows])
        & (P.target_offset == Q.target_offset[q_rows])
    )
    rows = np.flatnonzero(same & (cp > 0))
    ip, owner = ragged_ranges(P.ptr[:-1][rows], cp[rows])
    iq, _ = ragged_ranges(Q.ptr[:-1][q_rows[rows]], cp[rows])
    diff = (P.flat_edges[ip] != Q.flat_edges[iq]) | (P.flat_forward[ip] != Q.flat_forward[iq])
    bad = np.bincount(owner[diff], minlength=rows.size) > 0
    same[rows[bad]] = False
    return same & (cp > 0)


def _take_paths(network: Any, P: Any, rows: np.ndarray) -> Any:
    """The paths ``rows`` of ``P`` as a Paths object of their own."""

    counts = np.diff(P.ptr)[rows]
    idx, _ = ragged_ranges(P.ptr[:-1][rows], counts)
    ptr = np.zeros(rows.size + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return Paths(
        dist=P.dist[rows],
        source=P.source[rows],
        ptr=ptr,
        flat_edges=P.flat_edges[idx],
        flat_forward=P.flat_forward[idx],
        source_offset=P.source_offset[rows],
        target_offset=P.target_offset[rows],
        network=network,
    )


def _crossings(
    network: Any, stress: Stress, node: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Crossing level and crossed edge for (node, enter edge, leave edge) triples, each distinct triple
    evaluated once (routes of one school share most of their turns)."""
    if node.size == 0:
        return np.zeros(0, dtype=np.int8), np.zeros(0, dtype=np.int64)
    E = np.int64(network.n_edges)
    key = (a.astype(np.int64) * E + b.astype(np.int64)) * 2 + (node == network.v[a])
    inv, uk = pd.factorize(key)  # hash-based: no sort of millions of keys
    first = np.empty(uk.size, dtype=np.int64)
    first[inv] = np.arange(inv.size)  # one occurrence of each distinct triple
    lv, ce = stress._crossing(node[first], a[first], b[first])
    return lv[inv], ce[inv]


def _evaluate(
    network: Any, stress: Stress, P: Any, weight: Any, unsafe_level: int, alt: Sequence[Stress] = ()
) -> _Eval:
    """Exact evaluation of every path of ``P`` (edges walked, partial ends, crossings at interior nodes);
    ``cost`` is each path's cost under ``weight`` (an EdgeWeight) by the engine's rules."""
    G = len(P)
    counts = np.diff(P.ptr)
    st = P.steps()
    path_of, e, fw, last = st.path, st.edge, st.forward, st.last
    walked = np.abs(st.end - st.start)
    reach = np.isfinite(P.dist) & (counts > 0)
    length = np.bincount(path_of, weights=walked, minlength=G)
    cost = network.path_costs(P, weight)
    level = stress.edge_level[e].astype(np.int64)
    shares = np.bincount(path_of * 5 + level, weights=walked, minlength=G * 5).reshape(G, 5)[:, 1:]
    assumed_e = stress.edges["assumed"].to_numpy(dtype=bool)[e]
    assumed = np.bincount(path_of, weights=walked * assumed_e, minlength=G)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(length[:, None] > 0, shares / length[:, None], np.where(level.size, 0.0, 0.0))
        assumed = np.where(length > 0, assumed / length, 0.0)
    # a zero-length path (origin at the school) still has the level of its edge
    worst_edge = np.zeros(G, dtype=np.int64)
    np.maximum.at(worst_edge, path_of, level)
    # crossings at interior nodes: between consecutive edges of a path
    pair = np.flatnonzero(~last)
    a, b = e[pair], e[pair + 1]
    node = np.where(fw[pair], network.v[a], network.u[a])
    c_level, c_edge = _crossings(network, stress, node, a, b)
    c_level = c_level.astype(np.int64)
    c_path = path_of[pair]
    has = c_edge >= 0
    worst_cross = np.zeros(G, dtype=np.int64)
    np.maximum.at(worst_cross, c_path[has], c_level[has])
    n_unsafe = np.bincount(c_path[has & (c_level >= unsafe_level)], minlength=G)
    n_cross = np.bincount(c_path[has], minlength=G)
    # crossings whose rating rests on an assumed tag (speed, lanes, crossing type of the crossed road)
    inc = stress.incidence
    m_e = np.int64(network.n_edges)
    ikey = inc["node"].to_numpy(dtype=np.int64) * m_e + inc["edge"].to_numpy(dtype=np.int64)
    iass = inc["assumed"].to_numpy(dtype=bool)
    pos = pd.Index(ikey).get_indexer(node[has].astype(np.int64) * m_e + c_edge[has].astype(np.int64))
    c_ass = np.where(pos >= 0, iass[np.maximum(pos, 0)], False)
    n_ass_c = np.bincount(c_path[has][c_ass], minlength=G)
    # assumed share: assumed edge metres plus each assumed crossing as `crossing_equiv_m` metres, over the route
    eq = float(stress.config.get("verdict", {}).get("crossing_equiv_m", 15.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        tot = length + eq * n_cross
        assumed = np.where(tot > 0, (assumed * length + eq * n_ass_c) / tot, 0.0)
    # the same walks under the alternative (optimistic, pessimistic) defaults: worst level of each
    alt_worst = []
    for alt_st in alt:
        w = np.zeros(G, dtype=np.int64)
        np.maximum.at(w, path_of, alt_st.edge_level[e].astype(np.int64))
        lv, _ = _crossings(network, alt_st, node, a, b)
        np.maximum.at(w, c_path, lv.astype(np.int64))
        alt_worst.append(w)
    return _Eval(
        n_assumed_cross=n_ass_c,
        alt_worst=alt_worst,
        reach=reach,
        length=np.where(reach, length, np.nan),
        cost=np.where(reach, cost, np.inf),
        shares=shares,
        assumed=assumed,
        worst_edge=worst_edge,
        worst_cross=worst_cross,
        n_unsafe=n_unsafe,
        n_cross=n_cross,
        flat_path=path_of,
        flat_edge=e,
        cross_path=c_path[has],
        cross_node=node[has],
        cross_edge=c_edge[has],
        cross_level=c_level[has].astype(np.int8),
        paths=P,
    )


# ----------------------------------------------------------------------------------------------------------------
# school routes
# ----------------------------------------------------------------------------------------------------------------
def _assignment(
    assignment: pd.DataFrame | None, origins: gpd.GeoDataFrame, schools: gpd.GeoDataFrame
) -> pd.Series:
    """School facility_id assigned to each origin (index = origin position; NaN when not assigned)."""
    out = pd.Series(pd.NA, index=np.arange(len(origins)), dtype=object)
    if assignment is None:
        return out
    if (
        not isinstance(assignment, pd.DataFrame)
        or "facility_id" not in assignment.columns
        or not ({"origin_id", "unit_id"} & set(assignment.columns))
    ):
        raise DataError(
            "the catchment table needs columns origin_id or unit_id, and facility_id",
            feature="assignment",
            fix="give one row per origin (origin_id) or per unit (unit_id) "
            "with the facility_id of its school",
        )
    known = set(schools["facility_id"].astype(str))
    fac = assignment["facility_id"].astype(str)
    bad = ~fac.isin(known)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{int(bad.sum())} catchment rows name a school that is not among the schools "
            f"(e.g. facility_id={fac.iloc[i]!r})",
            feature=f"assignment row {assignment.index[i]}",
            fix="use facility_id values of the schools layer, or add the school",
        )
    if "origin_id" in assignment.columns:
        m = dict(zip(assignment["origin_id"].astype(str), fac))
        key = origins["origin_id"].astype(str)
    else:
        if "unit_id" not in origins.columns:
            raise DataError(
                "the catchment table is by unit_id but the origins have no unit_id column",
                feature="origins",
                fix="add unit_id to the origins (or assign by origin_id)",
            )
        m = dict(zip(assignment["unit_id"].astype(str), fac))
        key = origins["unit_id"].astype(str)
    out[:] = key.map(m).to_numpy(dtype=object)
    return out


def school_routes(
    network: Any,
    origins: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    assignment: pd.DataFrame | None = None,
    categories: Sequence[str] | str = ("primary_school", "middle_school"),
    max_distance: float | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    stress: Stress | None = None,
    max_snap: float = 150.0,
    geometry: bool = True,
    profile: Any = None,
    safe_max_level: int | Mapping[str, int] | None = None,
    verdict_range: bool = True,
) -> gpd.GeoDataFrame:
    """Shortest and safest acceptable walking routes from every origin to its school of each category.

    Parameters
    ----------
    network : WalkNetwork
        Metric walk network (distances in metres).
    origins : GeoDataFrame
        ``origin_id``, ``children``, Point geometry (any CRS, normally EPSG:4326); optional ``unit_id``.
    schools : GeoDataFrame
        Facilities with ``facility_id``, ``category``, Point geometry; optional ``name``. Other categories are
        ignored.
    assignment : DataFrame, optional
        Catchment table (学区): ``origin_id`` or ``unit_id`` -> ``facility_id``. Origins it does not list go to
        their nearest school of the category; an assigned school of another category is ignored for that
        category.
    categories : str or sequence of str
        Canonical school categories to route to.
    max_distance : float, optional
        Longest shortest route (metres); origins farther are ``unreachable``. Default: no limit.
    config : path, mapping or None
        Safety config (:func:`childspace.analysis.safety.load_config`).
    stress : Stress, optional
        Precomputed :func:`childspace.analysis.safety.network_stress` of ``network``.
    max_snap : float
        Maximum distance (metres) from a point to the network for it to be attached.
    geometry : bool
        Build route LineStrings (False: geometry is None; faster for very many origins).
    profile : str, path, mapping or None
        Defaults profile for missing tags (:func:`childspace.analysis.safety.network_stress`; None: chosen from
        the data, "china" in China, "generic" elsewhere). Ignored when ``stress`` is given (its profile is used).
    safe_max_level : int, mapping or None
        Highest level a child may walk alone, one for all or per school category
        (:func:`childspace.analysis.safety.safe_max_levels`; default kindergarten/primary 1, middle school 2).
    verdict_range : bool
        Re-evaluate every route under the profile's optimistic and pessimistic variants (``verdict_best``,
        ``verdict_worst``, ``verdict_assumed``); False: those columns equal the verdict.

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        Two rows per origin and category: ``origin_id``, ``school_id``, ``category``, ``route``
        (``shortest``/``safest``), ``children``, ``length_m``, ``straight_m``, ``detour_ratio``,
        ``worst_level`` (max of edges and crossings), ``worst_edge_level``, ``worst_crossing_level``,
        ``crossings``, ``unsafe_crossings`` (level >= 3), ``share_l1``..``share_l4`` (length shares),
        ``assumed_share`` (share of the route resting on assumed tags: edge metres with an assumed tag plus each
        crossing with an assumed speed, lanes or type counted as ``[verdict].crossing_equiv_m`` metres, over the
        length plus all crossings counted so), ``assumed_crossings``, ``verdict``
        (``safe``/``caution``/``unsafe``/``unreachable``, by the category's safe maximum), ``worst_level_best``,
        ``worst_level_worst``, ``verdict_best``, ``verdict_worst`` (the same walk under the profile's optimistic
        and pessimistic defaults), ``verdict_assumed`` (True when the verdict changes within that range: it rests
        on assumptions), ``over_detour``, ``min_stress_length_m``, ``assigned`` (school from the catchment
        table), ``route_key``, geometry (origin -> school). ``routes.attrs["childspace_routes"]`` keeps the edge
        and crossing sequences for :func:`hazards`; ``routes.attrs["safety_profile"]`` names the profile and
        ``routes.attrs["safe_max_level"]`` the safe maxima used.
    """
    require_layer(origins, "origins", ["origin_id", "children"])
    require_layer(schools, "schools", ["facility_id", "category"])
    cats = [categories] if isinstance(categories, str) else list(categories)
    if stress is None:
        stress = network_stress(network, config, profile=profile)
    cfg = stress.config if config is None else _cfg(config)
    alt = []
    if verdict_range:  # the same network under the variants (their warnings repeat the typical model's)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ChildspaceWarning)
            alt = [network_stress(network, stress.config, variant=v) for v in ("optimistic", "pessimistic")]
    r = cfg["routing"]
    unsafe_level = int(r.get("unsafe_level", 3))
    rc = routing_cost(network, stress, cfg)
    w_safe = network.edge_weights(rc.cost, end_u=rc.pen_u, end_v=rc.pen_v)

    crs = network.crs
    om = origins.to_crs(crs)
    sm = schools.to_crs(crs)
    children = pd.to_numeric(om["children"], errors="coerce")
    if children.isna().any() or (children < 0).any():
        i = int(np.flatnonzero((children.isna() | (children < 0)).to_numpy())[0])
        raise DataError(
            "children must be a number >= 0",
            feature=f"origin {om['origin_id'].iloc[i]}",
            fix="fill the children column (0 when unknown)",
        )
    children = children.to_numpy(dtype=float)
    o_snap = network.snap(om.geometry, max_distance=max_snap)
    s_snap = network.snap(sm.geometry, max_distance=max_snap)
    if (~s_snap.ok).any():
        bad = sm["facility_id"].to_numpy()[~s_snap.ok][:5].tolist()
        warnings.warn(
            f"{int((~s_snap.ok).sum())} schools are farther than {max_snap:g} m from the walk network "
            f"and get no routes: {bad}",
            ChildspaceWarning,
            stacklevel=2,
        )
    if (~o_snap.ok).any():
        warnings.warn(
            f"{int((~o_snap.ok).sum())} origins are farther than {max_snap:g} m from the walk network; "
            "they are reported as unreachable",
            ChildspaceWarning,
            stacklevel=2,
        )
    assigned_to = _assignment(assignment, om, sm)
    ox = shapely.get_x(np.asarray(om.geometry.array))
    oy = shapely.get_y(np.asarray(om.geometry.array))
    sx = shapely.get_x(np.asarray(sm.geometry.array))
    sy = shapely.get_y(np.asarray(sm.geometry.array))
    fid = sm["facility_id"].astype(str).to_numpy(dtype=object)
    fid_pos = {f: i for i, f in enumerate(fid)}
    cat_arr = sm["category"].astype(str).to_numpy(dtype=object)

    blocks: list[dict] = []
    key0 = 0
    for cat in cats:
        sidx = np.flatnonzero((cat_arr == cat) & s_snap.ok)
        if sidx.size == 0:
            warnings.warn(
                f"no school of category {cat!r} on the walk network; no routes for it",
                ChildspaceWarning,
                stacklevel=2,
            )
            continue
        n_o = len(om)
        school_of = np.full(n_o, -1, dtype=np.int64)
        is_assigned = np.zeros(n_o, dtype=bool)
        a_pos = _school_pos(assigned_to, fid)
        a_ok = a_pos >= 0
        a_ok[a_ok] = np.isin(a_pos[a_ok], sidx)
        is_assigned[a_ok] = True
        # shortest routes: the nearest school (one multi-source search: the schools' shortest-path forest) and
        # the assigned school (one tree per assigned school, all on one augmented graph)
        parts: list[tuple[np.ndarray, Any]] = []
        free = np.flatnonzero(~is_assigned)
        if free.size:
            P = network.paths(s_snap.take(sidx), o_snap.take(free), cutoff=max_distance)
            parts.append((free, P))
        oa = np.flatnonzero(is_assigned)
        if oa.size:
            src = np.searchsorted(sidx, a_pos[oa])
            P = network.paths_from(s_snap.take(sidx), o_snap.take(oa), src, cutoff=max_distance)
            parts.append((oa, P))
        oi_s, P_s = _concat_paths(network, parts, n_o)
        sch = np.where(P_s.source >= 0, sidx[np.maximum(P_s.source, 0)], -1)
        ev = _evaluate(network, stress, P_s, w_safe, unsafe_level, alt)
        short_evals = [(oi_s, sch, ev)]
        school_of[oi_s] = np.where(ev.reach, sch, -1)
        short_len = np.full(n_o, np.nan)
        short_len[oi_s] = ev.length
        # safest routes under the stress cost (end penalties undiluted on partial edges). First the least-stress
        # forest of all the category's schools (one search): where an origin's least-stress school is its own
        # school, that path is its least-stress route to it. The others get one tree per school (all on one
        # augmented graph), bounded by the stress cost of the worst shortest route it serves.
        short_cost = np.full(n_o, np.inf)
        short_cost[oi_s] = np.where(ev.reach, ev.cost, np.inf)
        safe_evals: list[tuple[np.ndarray, np.ndarray, _Eval]] = []
        oi = np.flatnonzero(school_of >= 0)
        if oi.size:
            src = np.searchsorted(sidx, school_of[oi])
            s_cat = s_snap.take(sidx)
            parts = []
            Pf = network.paths(s_cat, o_snap.take(oi), weight=w_safe)
            own = Pf.source == src
            if own.any():
                parts.append((oi[own], _take_paths(network, Pf, np.flatnonzero(own))))
            if (~own).any():
                rest = oi[~own]
                bound = np.zeros(sidx.size)
                np.maximum.at(bound, src[~own], short_cost[rest])
                bound = bound * (1 + 1e-9) + 1e-6
                parts.append(
                    (
                        rest,
                        network.paths_from(s_cat, o_snap.take(rest), src[~own], weight=w_safe, cutoff=bound),
                    )
                )
            oi_f, P = _concat_paths(network, parts, n_o)
            ev = _evaluate(network, stress, P, w_safe, unsafe_level, alt)
            safe_evals.append((oi_f, school_of[oi_f], ev))
        # assemble rows
        for kind, evs in (("shortest", short_evals), ("safest", safe_evals)):
            for oi, sch, ev in evs:
                blocks.append(dict(kind=kind, cat=cat, oi=oi, sch=sch, ev=ev, key0=key0))
                key0 += len(oi)
        # origins with no reachable school: unreachable rows for both kinds
        unreach = np.flatnonzero(school_of < 0)
        unreach_safe = unreach  # safest rows exist only for reachable origins
        for kind in ("safest",):
            if unreach_safe.size:
                blocks.append(
                    dict(
                        kind=kind,
                        cat=cat,
                        oi=unreach_safe,
                        sch=np.full(unreach_safe.size, -1),
                        ev=None,
                        key0=key0,
                    )
                )
                key0 += unreach_safe.size
        blocks.append(dict(kind="_short_ref", cat=cat, short_len=short_len, short_evals=short_evals))

    out = _assemble(
        network,
        stress,
        cfg,
        blocks,
        om,
        sm,
        children,
        ox,
        oy,
        sx,
        sy,
        fid,
        is_geometry=geometry,
        assigned_to=assigned_to,
        fid_pos=fid_pos,
    )
    smax = safe_max_levels(safe_max_level, cfg)
    _set_verdicts(out, cfg, smax)
    attrs = dict(out.attrs)
    out = out[[c for c in out.columns if c != "geometry"] + ["geometry"]]
    out.attrs.update(attrs)
    out.attrs["safety_profile"] = stress.profile
    out.attrs["safe_max_level"] = smax
    return out


def _geometry(network: Any, P: Any) -> np.ndarray:
    """Route LineStrings origin -> school in EPSG:4326 from paths read school -> origin (vectorised: vertex
    table, partial first/last edges cut by interpolation, one coordinate transformation, one linestrings call).
    A route of zero length (the home is at the school's snap point) has no line: None, not an invalid
    two-identical-point LineString."""
    g = np.asarray(P.geometry(reverse=True, crs=WGS84).array, dtype=object)
    present = ~shapely.is_missing(g)
    bad = np.zeros(g.size, dtype=bool)
    bad[present] = ~shapely.is_valid(g[present]) & (shapely.length(g[present]) == 0)
    g[bad] = None
    return g


def _assemble(
    network: Any,
    stress: Stress,
    cfg: dict,
    blocks: list[dict],
    om: gpd.GeoDataFrame,
    sm: gpd.GeoDataFrame,
    children: np.ndarray,
    ox: np.ndarray,
    oy: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    fid: np.ndarray,
    is_geometry: bool,
    assigned_to: pd.Series,
    fid_pos: dict,
) -> gpd.GeoDataFrame:
    r = cfg["routing"]
    ratio, extra = float(r["max_detour_ratio"]), float(r["min_extra_m"])
    frames = []
    geoms = []
    fk_e, fe, fk_c, fn, fce, fcl = [], [], [], [], [], []
    oid = om["origin_id"].to_numpy(dtype=object)
    copies_src: list[np.ndarray] = []
    copies_dst: list[np.ndarray] = []
    a_pos_all = _school_pos(assigned_to, fid)
    n_o = len(om)
    # per category: row of each origin among the shortest rows, and the route key of that row (for fallbacks)
    short_pos: dict[str, np.ndarray] = {}
    short_key: dict[str, np.ndarray] = {}
    for b in blocks:
        if b["kind"] == "shortest":
            sp_ = short_pos.setdefault(b["cat"], np.full(n_o, -1, dtype=np.int64))
            sk = short_key.setdefault(b["cat"], np.full(n_o, -1, dtype=np.int64))
            base = int((sp_ >= 0).sum())
            sp_[b["oi"]] = base + np.arange(len(b["oi"]))
            sk[b["oi"]] = b["key0"] + np.arange(len(b["oi"]))
    short_rows: dict[str, pd.DataFrame] = {}
    short_g: dict[str, np.ndarray] = {}
    short_P: dict[str, Any] = {}
    for b in blocks:
        kind = b["kind"]
        if kind == "_short_ref":
            continue
        oi, sch, ev, cat = b["oi"], np.asarray(b["sch"]), b["ev"], b["cat"]
        k = len(oi)
        keys = b["key0"] + np.arange(k)
        df = pd.DataFrame(
            {
                "origin_id": oid[oi],
                "school_id": np.where(sch >= 0, fid[np.maximum(sch, 0)], None),
                "category": cat,
                "route": kind,
                "children": children[oi],
            }
        )
        straight = np.where(
            sch >= 0, np.hypot(ox[oi] - sx[np.maximum(sch, 0)], oy[oi] - sy[np.maximum(sch, 0)]), np.nan
        )
        if ev is None:
            reach = np.zeros(k, dtype=bool)
            df["length_m"] = np.nan
            df["straight_m"] = np.nan
            for c in (
                "worst_level",
                "worst_edge_level",
                "worst_crossing_level",
                "crossings",
                "unsafe_crossings",
            ):
                df[c] = 0
            for lv in range(1, 5):
                df[f"share_l{lv}"] = np.nan
            df["assumed_share"] = np.nan
            df["assumed_crossings"] = 0
            df["worst_level_best"] = 0
            df["worst_level_worst"] = 0
            df["over_detour"] = False
            df["min_stress_length_m"] = np.nan
            g = np.full(k, None, dtype=object)
        else:
            reach = ev.reach & (sch >= 0)
            df["length_m"] = np.where(reach, ev.length, np.nan)
            df["straight_m"] = np.where(reach, straight, np.nan)
            df["worst_edge_level"] = np.where(reach, ev.worst_edge, 0)
            df["worst_crossing_level"] = np.where(reach, ev.worst_cross, 0)
            df["worst_level"] = np.maximum(df["worst_edge_level"], df["worst_crossing_level"])
            df["crossings"] = np.where(reach, ev.n_cross, 0)
            df["unsafe_crossings"] = np.where(reach, ev.n_unsafe, 0)
            for lv in range(1, 5):
                df[f"share_l{lv}"] = np.where(reach, ev.shares[:, lv - 1], np.nan)
            df["assumed_share"] = np.where(reach, ev.assumed, np.nan)
            df["assumed_crossings"] = np.where(reach, ev.n_assumed_cross, 0)
            wl = df["worst_level"].to_numpy()
            alts = ev.alt_worst or [wl, wl]
            df["worst_level_best"] = np.where(reach, np.minimum(np.minimum(alts[0], alts[1]), wl), 0)
            df["worst_level_worst"] = np.where(reach, np.maximum(np.maximum(alts[0], alts[1]), wl), 0)
            df["over_detour"] = False
            df["min_stress_length_m"] = np.nan
            if is_geometry and kind == "shortest":
                g = np.where(reach, _geometry(network, ev.paths), None)  # type: ignore[call-overload]
            else:  # safest: built below, only where it differs from the shortest route
                g = np.full(k, None, dtype=object)
            # flats
            fsel = reach[ev.flat_path]
            fk_e.append(keys[ev.flat_path[fsel]])
            fe.append(ev.flat_edge[fsel])
            csel = reach[ev.cross_path]
            fk_c.append(keys[ev.cross_path[csel]])
            fn.append(ev.cross_node[csel])
            fce.append(ev.cross_edge[csel])
            fcl.append(ev.cross_level[csel])
            if kind == "safest":
                ref = short_rows[cat]
                rpos = short_pos[cat][oi]
                s_len = ref["length_m"].to_numpy(dtype=float)[rpos]
                limit = np.maximum(ratio * s_len, s_len + extra)
                over = reach & (df["length_m"].to_numpy() > limit + 1e-9)
                if over.any():
                    df["min_stress_length_m"] = np.where(over, df["length_m"], np.nan)
                    cols = [
                        c
                        for c in ref.columns
                        if c not in ("route", "min_stress_length_m", "over_detour", "route_key")
                    ]
                    io = np.flatnonzero(over)
                    for c in cols:
                        if c in df.columns:
                            col = df[c].to_numpy().copy()
                            col[io] = ref[c].to_numpy()[rpos[io]]
                            df[c] = col
                    df.loc[over, "over_detour"] = True
                    # route sequences: drop the least-stress ones, reuse the shortest ones
                    over_keys = keys[over]
                    fk_e[-1], fe[-1] = _drop_keys(fk_e[-1], fe[-1], over_keys)
                    fk_c[-1], (fn[-1], fce[-1], fcl[-1]) = _drop_keys_multi(
                        fk_c[-1], (fn[-1], fce[-1], fcl[-1]), over_keys
                    )
                    copies_src.append(short_key[cat][oi[over]])
                    copies_dst.append(over_keys)
            if kind == "safest" and is_geometry and ev is not None:
                # the same path as the shortest route (or the shortest route reported instead): share its line
                same = over | (reach & _same_paths(ev.paths, short_P[cat], rpos))
                g[same] = short_g[cat][rpos[same]]
                build = np.flatnonzero(reach & ~same)
                if build.size:
                    g[build] = _geometry(network, _take_paths(network, ev.paths, build))
        df["route_key"] = keys
        df["assigned"] = (a_pos_all[oi] == sch) & (sch >= 0)
        if kind == "shortest":
            prev = short_rows.get(cat)
            short_rows[cat] = df if prev is None else pd.concat([prev, df], ignore_index=True)
            short_g[cat] = g if prev is None else np.concatenate([short_g[cat], g])
            if ev is not None:
                short_P[cat] = (
                    ev.paths
                    if prev is None
                    else _concat_paths(
                        network,
                        [(np.arange(len(prev)), short_P[cat]), (len(prev) + np.arange(k), ev.paths)],
                        len(prev) + k,
                    )[1]
                )
        frames.append(df)
        geoms.append(g)
    if copies_src:
        _copy_keys(fk_e, fe, np.concatenate(copies_src), np.concatenate(copies_dst), fk_c, fn, fce, fcl)
    if frames:
        df = pd.concat(frames, ignore_index=True)
        g = np.concatenate(geoms)
    else:
        df = pd.DataFrame(
            columns=[
                "origin_id",
                "school_id",
                "category",
                "route",
                "children",
                "length_m",
                "straight_m",
                "worst_level",
                "route_key",
            ]
        )
        g = np.zeros(0, dtype=object)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["detour_ratio"] = np.where(
            df["straight_m"].to_numpy(dtype=float) > 0,
            df["length_m"].to_numpy(dtype=float) / df["straight_m"].to_numpy(dtype=float),
            np.nan,
        )
    df["verdict"] = _verdict(df["worst_level"].to_numpy(), cfg)  # set by category in school_routes
    out = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(g, crs=WGS84).values, crs=WGS84)  # built in WGS84
    order = [
        "origin_id",
        "school_id",
        "category",
        "route",
        "children",
        "length_m",
        "straight_m",
        "detour_ratio",
        "worst_level",
        "worst_edge_level",
        "worst_crossing_level",
        "crossings",
        "unsafe_crossings",
        "share_l1",
        "share_l2",
        "share_l3",
        "share_l4",
        "assumed_share",
        "assumed_crossings",
        "verdict",
        "worst_level_best",
        "worst_level_worst",
        "verdict_best",
        "verdict_worst",
        "verdict_assumed",
        "over_detour",
        "min_stress_length_m",
        "assigned",
        "route_key",
        "geometry",
    ]
    out = out[[c for c in order if c in out.columns]]
    out = out.sort_values(
        ["category", "origin_id", "route"], ascending=[True, True, False], kind="stable"
    ).reset_index(drop=True)
    cat_ = lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64)
    out.attrs["childspace_routes"] = _RouteData(
        cat_(fk_e),
        cat_(fe),
        cat_(fk_c),
        cat_(fn),
        cat_(fce),
        cat_(fcl).astype(np.int8) if fcl else np.zeros(0, np.int8),
        network.n_edges,
    )
    return out


def _drop_keys(keys: np.ndarray, vals: np.ndarray, drop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = ~np.isin(keys, drop)
    return keys[m], vals[m]


def _drop_keys_multi(keys: np.ndarray, vals: tuple, drop: np.ndarray) -> tuple[np.ndarray, tuple]:
    m = ~np.isin(keys, drop)
    return keys[m], tuple(v[m] for v in vals)


def _copy_keys(
    fk_e: list, fe: list, src: np.ndarray, dst: np.ndarray, fk_c: list, fn: list, fce: list, fcl: list
) -> None:
    """Append the edge/crossing sequences of routes ``src`` again under keys ``dst`` (vectorised)."""
    order = np.argsort(src)
    s_sorted, d_sorted = src[order], dst[order]
    ke = np.concatenate(fk_e)
    m = np.isin(ke, src)
    fk_e.append(d_sorted[np.searchsorted(s_sorted, ke[m])])
    fe.append(np.concatenate(fe)[m])
    kc = np.concatenate(fk_c)
    m = np.isin(kc, src)
    fk_c.append(d_sorted[np.searchsorted(s_sorted, kc[m])])
    fn.append(np.concatenate(fn)[m])
    fce.append(np.concatenate(fce)[m])
    fcl.append(np.concatenate(fcl)[m])
