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
stress cost of the worst shortest route it serves. Routes in a forest are measured on it, once per node
(:mod:`childspace.analysis._route_tree`: sums and maxima accumulated from the roots, the route its entry node plus
its last partial edge); routes from per-school trees are read and measured step by step with array operations
(:mod:`childspace.analysis._route_eval`, each distinct crossing turn once). The routes' edge and crossing sequences
are read only when asked for (:mod:`childspace.analysis._route_seqs`); children per street and hazards are made
without them. Route lines (``geometry=True``) are drawn from the vertex table with one coordinate transformation;
a safest route identical to the shortest shares its line.
"""

from __future__ import annotations

import ctypes
import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from childspace._errors import ChildspaceWarning, DataError
from childspace._progress import track
from childspace.analysis._common import require_layer
from childspace.analysis._route_eval import (
    TurnTable,
    _concat_paths,
    _geometry,
    _RouteData,  # noqa: F401  (re-exported: the type of the routes' sequences)
    _same_paths,
    _take_paths,
)
from childspace.analysis._route_seqs import PathRoutes, SeqStore, chunk_eval, same_as_shortest, sources_of
from childspace.analysis._route_tree import TreeRoutes
from childspace.analysis.hazards import HAZARD_JOIN_M, hazards  # re-exported: routes is the public module
from childspace.analysis.route_tables import _set_verdicts, assumption_summary, routes_table, school_summary
from childspace.analysis.safety import (
    Stress,
    _cfg,
    network_stress,
    network_stress_variants,
    routing_cost,
    safe_max_levels,
)
from childspace.analysis.safety import verdict as _verdict
from childspace.analysis.walksheds import walksheds  # re-exported
from childspace.inputs.projection import WGS84

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
# school routes
# ----------------------------------------------------------------------------------------------------------------
#: origins evaluated and assembled per chunk: the per-step arrays of their paths (~50 edges a route on a county's
#: dense footways) stay within a few hundred MB; the searches run once per category for all origins
_CHUNK = 50_000


def _school_pos(assigned_to: pd.Series, fid: np.ndarray) -> np.ndarray:
    """Position (into the schools) of each origin's assigned school, -1 where none (vectorised lookup)."""
    vals = assigned_to.to_numpy(dtype=object)
    out = np.full(vals.size, -1, dtype=np.int64)
    has = np.flatnonzero(pd.notna(vals))
    if has.size:
        out[has] = pd.Index(fid).get_indexer(vals[has].astype(str))
    return out


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
        Longest shortest walk (metres, access legs included); origins farther are ``unreachable``. Default: no
        limit.
    config : path, mapping or None
        Safety config (:func:`childspace.analysis.safety.load_config`).
    stress : Stress, optional
        Precomputed :func:`childspace.analysis.safety.network_stress` of ``network``.
    max_snap : float
        Maximum distance (metres) from a point to the network for it to be attached.
    geometry : bool
        Build one route LineString per row (origin -> school). False (a run's default, ``[analysis]
        route_geometry = false``): no lines are built and every row's geometry is its origin's Point, so the
        layer stays a usable point layer (verdict per home) whose size grows with the homes, not with the
        routes' vertices; the edge and crossing sequences in ``attrs["childspace_routes"]`` are the same either
        way (children per street, hazards and the tables use those, not the lines).
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
        (``shortest``/``safest``), ``children``, ``length_m`` (the walk: the access leg from the origin to its
        snapped point on the street, the network route, the leg from the school's snapped point to the school;
        never shorter than ``straight_m``), ``access_m`` (the two legs), ``straight_m``, ``detour_ratio``,
        ``worst_level`` (max of edges and crossings), ``worst_edge_level``, ``worst_crossing_level``,
        ``crossings``, ``unsafe_crossings`` (level >= 3), ``share_l1``..``share_l4`` (length shares),
        ``assumed_share`` (share of the route resting on assumed tags: edge metres with an assumed tag plus each
        crossing with an assumed speed, lanes or type counted as ``[verdict].crossing_equiv_m`` metres, over the
        length plus all crossings counted so), ``assumed_crossings``, ``verdict``
        (``safe``/``caution``/``unsafe``/``unreachable``, by the category's safe maximum), ``worst_level_best``,
        ``worst_level_worst``, ``verdict_best``, ``verdict_worst`` (the same walk under the profile's optimistic
        and pessimistic defaults), ``verdict_assumed`` (True when the verdict changes within that range: it rests
        on assumptions), ``over_detour``, ``min_stress_length_m``, ``assigned`` (school from the catchment
        table), ``route_key``, geometry (origin -> school LineString; None for unreachable rows and routes of
        zero length; with ``geometry=False`` the origin's Point on every row).
        ``routes.attrs["childspace_routes"]`` keeps the edge and crossing sequences for :func:`hazards`;
        ``routes.attrs["safety_profile"]`` names the profile and ``routes.attrs["safe_max_level"]`` the safe
        maxima used.
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
            variants = ("optimistic", "pessimistic")  # sharing what does not depend on the variant
            alt = list(
                network_stress_variants(network, stress.config, variants=variants, like=stress).values()
            )
    r = cfg["routing"]
    unsafe_level = int(r.get("unsafe_level", 3))
    turns = TurnTable(network, stress, alt)  # every turn of the network rated once, for all the routes
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
    # access legs (straight, point -> its snapped point) count in the shortest searches, as in the coverage: the
    # nearest school is the nearest on foot door to gate, and max_distance bounds the whole walk. The safest
    # searches compare routes between the same two snapped points, so they run without them.
    o_snap = network.snap(om.geometry, max_distance=max_snap, legs=True)
    s_snap = network.snap(sm.geometry, max_distance=max_snap, legs=True)
    o_nl = dataclasses.replace(o_snap, leg=None)
    s_nl = dataclasses.replace(s_snap, leg=None)
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
    cat_arr = sm["category"].astype(str).to_numpy(dtype=object)

    o_leg, s_leg = _legs(o_snap), _legs(s_snap)
    o_pts = None if geometry else _origin_points(om)
    frames: list[gpd.GeoDataFrame] = []
    key0 = 0
    n_o = len(om)
    seqs = SeqStore(n_o)
    chunk_start: list[int] = []
    for ci, cat in enumerate(
        track(cats, unit="school categories")
    ):  # counted on a progress bar, when one is shown
        sidx = np.flatnonzero((cat_arr == cat) & s_snap.ok)
        if sidx.size == 0:
            warnings.warn(
                f"no school of category {cat!r} on the walk network; no routes for it",
                ChildspaceWarning,
                stacklevel=2,
            )
            continue
        school_of = np.full(n_o, -1, dtype=np.int64)
        is_assigned = np.zeros(n_o, dtype=bool)
        a_pos = _school_pos(assigned_to, fid)
        a_ok = a_pos >= 0
        a_ok[a_ok] = np.isin(a_pos[a_ok], sidx)
        is_assigned[a_ok] = True
        # shortest routes: the nearest school (one multi-source search: the schools' shortest-path forest, the
        # routes measured on it) and the assigned school (one tree per assigned school, all on one augmented
        # graph: those paths are read and measured step by step)
        s_parts: list[tuple[np.ndarray, Any, np.ndarray]] = []
        free = np.flatnonzero(~is_assigned)
        if free.size:
            Fs = network.forest(s_snap.take(sidx), o_snap.take(free), cutoff=max_distance)
            Ts = TreeRoutes(network, Fs, stress, alt, turns, unsafe_level, weight=w_safe)
            s_parts.append((free, Ts, np.arange(free.size)))
            del Fs
        oa = np.flatnonzero(is_assigned)
        if oa.size:
            src = np.searchsorted(sidx, a_pos[oa])
            P_ = network.paths_from(s_snap.take(sidx), o_snap.take(oa), src, cutoff=max_distance)
            s_parts.append((oa, PathRoutes(P_), np.arange(oa.size)))
            del P_
        short_cost = np.full(n_o, np.inf)
        for oi_p, R, _g in s_parts:
            src_p = R.source
            reach_p = R.reach
            school_of[oi_p] = np.where(reach_p & (src_p >= 0), sidx[np.maximum(src_p, 0)], -1)
            short_cost[oi_p] = np.where(reach_p, R.costs(network, w_safe), np.inf)
        # safest routes under the stress cost (end penalties undiluted on partial edges). First the least-stress
        # forest of all the category's schools (one search): where an origin's least-stress school is its own
        # school, that path is its least-stress route to it. The others get one tree per school (all on one
        # augmented graph), bounded by the stress cost of the worst shortest route it serves.
        f_parts: list[tuple[np.ndarray, Any, np.ndarray]] = []
        oi = np.flatnonzero(school_of >= 0)
        if oi.size:
            src = np.searchsorted(sidx, school_of[oi])
            s_cat = s_nl.take(sidx)
            Ff = network.forest(s_cat, o_nl.take(oi), weight=w_safe)
            own = Ff.source == src
            if own.any():
                Tf = TreeRoutes(network, Ff, stress, alt, turns, unsafe_level)
                f_parts.append((oi[own], Tf, np.flatnonzero(own)))
            if (~own).any():
                rest = oi[~own]
                bound = np.zeros(sidx.size)
                np.maximum.at(bound, src[~own], short_cost[rest])
                bound = bound * (1 + 1e-9) + 1e-6
                P_ = network.paths_from(s_cat, o_nl.take(rest), src[~own], weight=w_safe, cutoff=bound)
                f_parts.append((rest, PathRoutes(P_), np.arange(rest.size)))
                del P_
            del Ff
        same = same_as_shortest(network, s_parts, f_parts, n_o)  # (only orders the sequences as before)
        # rows, one chunk of origins at a time (routes read step by step are measured per chunk)
        unreach = np.flatnonzero(
            school_of < 0
        )  # safest rows for them: unreachable (their shortest rows say so)
        for lo in range(0, n_o, _CHUNK):
            hi = lo + _CHUNK
            blocks: list[dict] = []
            chunk_start.append(key0)
            for kind, parts in (("shortest", s_parts), ("safest", f_parts)):
                got = chunk_eval(network, stress, parts, lo, hi, w_safe, unsafe_level, alt, turns, geometry)
                if got is None:
                    continue
                oi_c, ev = got
                sch = school_of[oi_c] if kind == "safest" else sources_of(parts, lo, hi, sidx)
                blocks.append(
                    dict(kind=kind, cat=cat, cat_code=ci, oi=oi_c, sch=sch, ev=ev, key0=key0, same=same[oi_c])
                )
                key0 += oi_c.size
            u = unreach[(unreach >= lo) & (unreach < hi)]
            if u.size:
                blocks.append(
                    dict(
                        kind="safest", cat=cat, cat_code=ci, oi=u, sch=np.full(u.size, -1), ev=None, key0=key0
                    )
                )
                key0 += u.size
            frames.append(
                _assemble(
                    network,
                    cfg,
                    blocks,
                    om,
                    children,
                    ox,
                    oy,
                    sx,
                    sy,
                    fid,
                    is_geometry=geometry,
                    assigned_to=assigned_to,
                    o_leg=o_leg,
                    s_leg=s_leg,
                    o_pts=o_pts,
                    seqs=seqs,
                )
            )
            del blocks
            _release_freed_memory()
        for _oi, R, _g in s_parts + f_parts:  # keep only what reads the routes' sequences
            if isinstance(R, TreeRoutes):
                R.release()
        del s_parts, f_parts
    if not frames:  # no school of any category on the network: the empty layer
        frames.append(
            _assemble(
                network,
                cfg,
                [],
                om,
                children,
                ox,
                oy,
                sx,
                sy,
                fid,
                geometry,
                assigned_to,
                o_leg,
                s_leg,
                o_pts,
            )
        )
    oid = om["origin_id"].to_numpy(dtype=object)
    # the searches and measures are done: their tables (the variant models, the turn table, the snaps) go
    # before the layer is built
    del turns, alt, rc, w_safe, o_snap, s_snap, o_nl, s_nl, om, o_pts
    out = _merge_frames(frames, cfg, oid, fid, cats)
    chunk_of_key = np.searchsorted(np.asarray(chunk_start, dtype=np.int64), np.arange(key0), side="right") - 1
    out.attrs["childspace_routes"] = seqs.route_data(key0, network.n_edges, chunk_of_key)
    del seqs
    smax = safe_max_levels(safe_max_level, cfg)
    _set_verdicts(out, cfg, smax)
    if out.columns[-1] != "geometry":
        attrs = dict(out.attrs)
        out = out[[c for c in out.columns if c != "geometry"] + ["geometry"]]
        out.attrs.update(attrs)
    out.attrs["safety_profile"] = stress.profile
    out.attrs["safe_max_level"] = smax
    return out


def _release_freed_memory() -> None:
    """Hand the heap pages freed by a chunk back to the system (glibc ``malloc_trim``): the chunks' arrays of
    a few MB each are heap allocations, and without this the process keeps their pages as it grows the layer.
    A no-op where the C library has no ``malloc_trim``."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _legs(snap: Any) -> np.ndarray:
    """Access leg (straight metres from the point to its snapped point on the street) per group of a Snap; the
    shortest of a group's attached points (one point per origin or school given as points)."""
    out = np.full(snap.n_groups, np.inf)
    ok = np.flatnonzero(snap.ok)
    np.minimum.at(out, snap.owner[ok], snap.distance[ok])
    return np.where(np.isfinite(out), out, 0.0)


def _origin_points(om: gpd.GeoDataFrame) -> np.ndarray:
    """The origins' points in EPSG:4326 (positional), for a routes layer without lines."""
    return np.asarray(om.geometry.to_crs(WGS84).array, dtype=object)


def _assemble(
    network: Any,
    cfg: dict,
    blocks: list[dict],
    om: gpd.GeoDataFrame,
    children: np.ndarray,
    ox: np.ndarray,
    oy: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    fid: np.ndarray,
    is_geometry: bool,
    assigned_to: pd.Series,
    o_leg: np.ndarray,
    s_leg: np.ndarray,
    o_pts: np.ndarray | None,
    seqs: SeqStore | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Columns (arrays) and geometries of the rows of one chunk of origins (its shortest and safest blocks of one
    category), unsorted; where each route's edge and crossing sequences come from is noted in ``seqs`` (read
    when asked for). Origin, school, category and route are written as text once, in the merged layer."""
    r = cfg["routing"]
    ratio, extra = float(r["max_detour_ratio"]), float(r["min_extra_m"])
    parts: list[dict[str, np.ndarray]] = []
    geoms = []
    a_pos_all = _school_pos(assigned_to, fid)
    n_o = len(om)
    # per category: row of each origin among the shortest rows (for the safest routes reported as shortest)
    short_pos: dict[str, np.ndarray] = {}
    for b in blocks:
        if b["kind"] == "shortest":
            sp_ = short_pos.setdefault(b["cat"], np.full(n_o, -1, dtype=np.int64))
            base = int((sp_ >= 0).sum())
            sp_[b["oi"]] = base + np.arange(len(b["oi"]))
    short_rows: dict[str, dict[str, np.ndarray]] = {}
    short_g: dict[str, np.ndarray] = {}
    short_P: dict[str, Any] = {}
    for b in blocks:
        kind = b["kind"]
        oi, sch, ev, cat = b["oi"], np.asarray(b["sch"]), b["ev"], b["cat"]
        k = len(oi)
        keys = b["key0"] + np.arange(k)
        d: dict[str, np.ndarray] = {"children": children[oi]}
        if ev is None:
            nan = np.full(k, np.nan)
            zero = np.zeros(k, dtype=np.int64)
            d.update(length_m=nan, straight_m=nan)
            for c in (
                "worst_level",
                "worst_edge_level",
                "worst_crossing_level",
                "crossings",
                "unsafe_crossings",
            ):
                d[c] = zero
            for lv in range(1, 5):
                d[f"share_l{lv}"] = nan
            d.update(
                assumed_share=nan,
                assumed_crossings=zero,
                worst_level_best=zero,
                worst_level_worst=zero,
                over_detour=np.zeros(k, dtype=bool),
                min_stress_length_m=nan,
            )
            g = np.full(k, None, dtype=object)
        else:
            reach = ev.reach & (sch >= 0)
            s0 = np.maximum(sch, 0)
            straight = np.where(sch >= 0, np.hypot(ox[oi] - sx[s0], oy[oi] - sy[s0]), np.nan)
            d["length_m"] = np.where(reach, ev.length, np.nan)
            d["straight_m"] = np.where(reach, straight, np.nan)
            d["worst_edge_level"] = np.where(reach, ev.worst_edge, 0)
            d["worst_crossing_level"] = np.where(reach, ev.worst_cross, 0)
            wl = d["worst_level"] = np.maximum(d["worst_edge_level"], d["worst_crossing_level"])
            d["crossings"] = np.where(reach, ev.n_cross, 0)
            d["unsafe_crossings"] = np.where(reach, ev.n_unsafe, 0)
            for lv in range(1, 5):
                d[f"share_l{lv}"] = np.where(reach, ev.shares[:, lv - 1], np.nan)
            d["assumed_share"] = np.where(reach, ev.assumed, np.nan)
            d["assumed_crossings"] = np.where(reach, ev.n_assumed_cross, 0)
            alts = ev.alt_worst or [wl, wl]
            d["worst_level_best"] = np.where(reach, np.minimum(np.minimum(alts[0], alts[1]), wl), 0)
            d["worst_level_worst"] = np.where(reach, np.maximum(np.maximum(alts[0], alts[1]), wl), 0)
            d["over_detour"] = np.zeros(k, dtype=bool)
            d["min_stress_length_m"] = np.full(k, np.nan)
            if is_geometry and kind == "shortest":
                g = np.where(reach, _geometry(network, ev.paths), None)  # type: ignore[call-overload]
            else:  # safest: built below, only where it differs from the shortest route
                g = np.full(k, None, dtype=object)
            over = np.zeros(k, dtype=bool)
            if kind == "safest":
                ref = short_rows[cat]
                rpos = short_pos[cat][oi]
                s_len = ref["length_m"][rpos]
                limit = np.maximum(ratio * s_len, s_len + extra)
                over = reach & (d["length_m"] > limit + 1e-9)
                if over.any():
                    d["min_stress_length_m"] = np.where(over, d["length_m"], np.nan)
                    io = np.flatnonzero(over)
                    for c in list(d):  # the shortest route's figures, reported as the safest acceptable one
                        if c not in ("min_stress_length_m", "over_detour") and c in ref:
                            col = d[c].copy()
                            col[io] = ref[c][rpos[io]]
                            d[c] = col
                    d["over_detour"] = over.copy()
            if seqs is not None:  # the route sequences: their own, or the shortest route's reported instead
                seqs.add(cat, kind, keys, oi, reach & ~over, ev.seq, b.get("same"))
                if over.any():
                    seqs.copy_shortest(cat, keys[over], oi[over])
            if kind == "safest" and is_geometry:
                # the same path as the shortest route (or the shortest route reported instead): share its line
                same = over | (reach & _same_paths(ev.paths, short_P[cat], rpos))
                g[same] = short_g[cat][rpos[same]]
                build = np.flatnonzero(reach & ~same)
                if build.size:
                    g[build] = _geometry(network, _take_paths(network, ev.paths, build))
        d["route_key"] = keys
        d["_oi"] = oi
        d["_sch"] = sch
        d["assigned"] = (a_pos_all[oi] == sch) & (sch >= 0)
        d["_kind"] = np.full(k, 0 if kind == "shortest" else 1, dtype=np.int8)
        d["_cat"] = np.full(k, b["cat_code"], dtype=np.int64)
        if kind == "shortest":
            prev = short_rows.get(cat)
            short_rows[cat] = d if prev is None else {c: np.concatenate([prev[c], d[c]]) for c in d}
            short_g[cat] = g if prev is None else np.concatenate([short_g[cat], g])
            if ev is not None and is_geometry:
                n_prev = 0 if prev is None else len(prev["_oi"])
                short_P[cat] = (
                    ev.paths
                    if prev is None
                    else _concat_paths(
                        network,
                        [(np.arange(n_prev), short_P[cat]), (n_prev + np.arange(k), ev.paths)],
                        n_prev + k,
                    )[1]
                )
        parts.append(d)
        geoms.append(g)
    if not parts:
        return {}, np.zeros(0, dtype=object)
    cols = {c: np.concatenate([p_[c] for p_ in parts]) for c in parts[0]}
    g = np.concatenate(geoms)
    # the walk includes the access legs: home -> its snapped point, and the school's snapped point -> the school
    # (straight, as walked off the street); the detour rule above compared the network parts, which the safest
    # and the shortest route of one home share these legs with
    oi_, sch_ = cols["_oi"], cols["_sch"]
    leg = o_leg[oi_] + np.where(sch_ >= 0, s_leg[np.maximum(sch_, 0)], np.nan)
    for c in ("length_m", "min_stress_length_m"):
        cols[c] = cols[c] + leg
    cols["access_m"] = np.where(np.isfinite(cols["length_m"]), leg, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        cols["detour_ratio"] = np.where(cols["straight_m"] > 0, cols["length_m"] / cols["straight_m"], np.nan)
    if o_pts is not None:  # no lines: each row's geometry is its origin's point
        g = o_pts[oi_]
    return cols, g


_ORDER = [
    "origin_id",
    "school_id",
    "category",
    "route",
    "children",
    "length_m",
    "access_m",
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


def _merge_frames(
    frames: list[tuple[dict[str, np.ndarray], np.ndarray]],
    cfg: dict,
    oid: np.ndarray,
    fid: np.ndarray,
    cats: list[str],
) -> gpd.GeoDataFrame:
    """The chunks' rows in one layer, sorted by category, origin and route (shortest first): the columns joined
    and put in order once, the text columns taken from their distinct values in that order."""
    frames[:] = [f for f in frames if f[0]]  # (the caller's list: each chunk freed once joined)
    if not frames:  # no routes at all: the empty layer, columns as always
        names = ["origin_id", "school_id", "category", "route", "children", "length_m", "straight_m"]
        df = pd.DataFrame(columns=names + ["worst_level", "route_key"])
        df["detour_ratio"] = np.zeros(0)
        df["verdict"] = _verdict(df["worst_level"].to_numpy(), cfg)
        df["verdict_best"] = df["verdict"]
        df["verdict_worst"] = df["verdict"]
        df["verdict_assumed"] = False
        out = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries([], crs=WGS84).values, crs=WGS84)
        return out[[c for c in _ORDER if c in out.columns]]
    cols = {c: np.concatenate([f[0].pop(c) for f in frames]) for c in ("_oi", "_sch", "_kind", "_cat")}
    g = np.concatenate([f[1] for f in frames])
    oi, sch, kind = cols["_oi"], cols["_sch"], cols["_kind"]
    cat_code = cols["_cat"]
    cat_arr = np.asarray(cats, dtype=object)
    if pd.isna(oid).any():  # missing ids: sorted as pandas sorts them (last)
        order = (
            pd.DataFrame(
                {"c": cat_arr[cat_code], "o": oid[oi], "r": np.where(kind == 0, "shortest", "safest")}
            )
            .sort_values(["c", "o", "r"], ascending=[True, True, False], kind="stable")
            .index.to_numpy()
        )
    else:  # each id ranked once among the origins (a county's ~300k ids, not its ~1M rows)
        o_rank = _ranks(oid)[oi]
        c_rank = pd.factorize(cat_arr, sort=True)[0][cat_code]
        order = np.lexsort((kind, o_rank, c_rank))  # "shortest" before "safest"
    oi, sch, kind, cat_code = oi[order], sch[order], kind[order], cat_code[order]
    data: dict[str, Any] = {
        "origin_id": _texts(oid, oi),
        "school_id": _texts(fid, sch),  # text, missing where a row has no school (as the other id columns)
        "category": _texts(cat_arr, cat_code),
        "route": _texts(np.array(["shortest", "safest"], dtype=object), kind.astype(np.int64)),
    }
    # the other columns: each chunk's values put in their place (no joined copy), the chunk then freed
    place = np.empty(order.size, dtype=np.int64)
    place[order] = np.arange(order.size)
    for c in _ORDER[4:-1]:
        if c in ("verdict", "verdict_best", "verdict_worst"):
            data[c] = np.full(order.size, None, dtype=object)  # set with the verdict
        elif c == "verdict_assumed":
            data[c] = np.zeros(order.size, dtype=bool)
        else:
            vals = [f[0].pop(c) for f in frames]
            col = np.empty(order.size, dtype=np.result_type(*vals))
            lo = 0
            for v in vals:
                col[place[lo : lo + v.size]] = v
                lo += v.size
            data[c] = col
            del vals
    frames.clear()
    data["geometry"] = gpd.GeoSeries(g[order], crs=WGS84).values
    # the columns as they are: no consolidating copy of the layer (~0.5 GB and ~1 s for a county)
    return gpd.GeoDataFrame(data, geometry="geometry", crs=WGS84, copy=False)


def _ranks(ids: np.ndarray) -> np.ndarray:
    """Each id's rank among the distinct ids in sorted order (equal ids, equal ranks): the codes of
    ``pd.factorize(ids, sort=True)``. Text ids are ranked by Arrow on their UTF-8 bytes, whose order is the
    code points' order that Python's string comparison uses (a county's 300k ids: 0.05 CPU s instead of 0.17
    for sorting the Python strings); other ids (numbers, mixed, text UTF-8 cannot encode) are factorised as
    before."""
    if pd.api.types.infer_dtype(ids, skipna=False) == "string":
        try:
            arr = pa.array(ids, type=pa.string())
        except (pa.ArrowException, UnicodeError):
            pass
        else:
            rank = pc.rank(arr, sort_keys="ascending", tiebreaker="dense")
            return rank.to_numpy().astype(np.int64) - 1
    return pd.factorize(ids, sort=True)[0]


def _texts(values: np.ndarray, codes: np.ndarray) -> Any:
    """``values[codes]`` (-1: missing) as a text column, taken from the distinct values (not made per row) when
    they are all text; else the object array, as the layer always had it."""
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return pd.array(values, dtype="str").take(codes, allow_fill=True)
    out = np.asarray(values, dtype=object)[np.maximum(codes, 0)]
    out[codes < 0] = None
    return out
