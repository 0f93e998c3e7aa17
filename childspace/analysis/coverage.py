"""Service-radius coverage: who lives within reach of which facility, service areas, per-unit figures and gaps.

Two distances are computed for every origin (where children live) and facility category:

* straight line (直线距离): metres in the local metric CRS (:func:`childspace.inputs.projection.local_crs_for`),
  to the nearest facility (a KD-tree for points; an R-tree for facilities with an outline or mapped entrances,
  measured to the outline, 0 inside);
* walking (步行距离): leg + network + leg: the straight walk from the origin to the point of the nearest walkable
  street it is attached to (:meth:`childspace.network.WalkNetwork.snap`), metres along the walk network, and the
  straight walk from the street to the facility's access point (its point, mapped entrances, or where streets
  meet its outline: :mod:`childspace.analysis.access_points`). It is never shorter than the straight line;
  ``legs=False`` leaves the legs out for comparison. Points farther than ``max_snap`` from any street are not
  attached, get an infinite walking distance and are counted in the result's ``attrs`` and a warning. Origins on
  a part of the network that holds no facility of the category (a clipped extract, an island) are flagged
  (``no_network_<cat>``) and counted in the unit figures (``children_no_network``). Both are children not
  covered on foot: they stay in the base of every walking percentage, which is all children, as the
  straight-line one's (so walking coverage is never above straight-line coverage).

A point is *covered* by a category when its distance to the nearest facility is at most the category's radius
(``childspace.standards``; parks: 300 m below 0.5 ha, 500 m from 0.5 ha, by the facility's ``area_ha``). Where
the radius differs between facilities of one category, each radius class is evaluated separately and the covered
flags are OR-ed, so a child 400 m from a large park is covered while one 400 m from a small park is not.

Walking service areas are the reachable parts of the streets (edges cut at the exact remaining distance) buffered
by a street-side width, so land across a river or a highway without a crossing is not counted as served.

Service areas live in :mod:`childspace.analysis.areas`, 2SFCA and MCLP in :mod:`childspace.analysis.siting`,
the per-unit figures and gaps in :mod:`childspace.analysis.units`, the shared helpers in ``_coverage_base``; all
public names are importable from here.

All inputs are canonical layers (EPSG:4326, see ``docs/architecture.md``); outputs are EPSG:4326 unless stated.
Capacity-aware accessibility (2SFCA, Luo & Wang 2003) and maximal-coverage siting (MCLP, Church & ReVelle 1974,
solved with PySAL ``spopt``) answer "who has enough seats" and "where should the next one go".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from childspace.analysis._coverage_base import (  # noqa: F401  (_default_standards, _target_pct re-exported)
    ACCESS_LEGS,
    MAX_SNAP_M,
    SNAP_SETTING,
    RadiiLike,
    _categories,
    _default_standards,
    _files_of,
    _label,
    _metric_crs,
    _metric_xy,
    _points_of,
    _radius_classes,
    _require,
    _snap,
    _snap_facilities,
    _spatial_order,
    _target_pct,
    _warn,
    category_radii,
)
from childspace.analysis.access_points import facility_shapes, inside_outlines
from childspace.analysis.areas import (  # noqa: F401  (re-exported, also the constants and raster helpers)
    BATCH_CELLS,
    BLOCK_CELLS,
    CELL_M,
    MAX_CELLS,
    VECTOR_MAX_PIECES,
    VECTOR_MAX_UNION,
    _raster_areas,
    _raster_dissolved,
    dissolve_service_areas,
    service_areas,
    service_areas_dissolved,
)
from childspace.analysis.siting import SfcaResult, suggest_sites, two_step_fca
from childspace.analysis.units import (
    facilities_per_unit,
    gaps,
    life_circles,
    uncovered_origins,
    unit_coverage,
)
from childspace.network import Snap

__all__ = [
    "SfcaResult",
    "category_radii",
    "dissolve_service_areas",
    "facilities_per_unit",
    "gaps",
    "life_circles",
    "origin_access",
    "service_areas",
    "service_areas_dissolved",
    "suggest_sites",
    "two_step_fca",
    "uncovered_origins",
    "unit_coverage",
]


def remember_origins(origins: gpd.GeoDataFrame, network: Any, max_snap: float = MAX_SNAP_M) -> None:
    """Snap the origins to ``network`` now, as :func:`origin_access` does, and have the network remember it
    (:meth:`~childspace.network.WalkNetwork.remember_snap`): :func:`origin_access` and the routes
    (:func:`childspace.analysis.routes.school_routes`, also on a process forked after this call) reuse it
    instead of snapping the same homes again."""
    if network is None or not len(origins):
        return
    xy = _metric_xy(origins.geometry, network.crs)
    network.remember_snap(xy[_spatial_order(xy)], max_snap)


def origin_access(
    origins: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    network: Any = None,
    categories: Iterable[str] | str | None = None,
    radii: RadiiLike = None,
    max_snap: float = MAX_SNAP_M,
    legs: bool = ACCESS_LEGS,
) -> gpd.GeoDataFrame:
    """Distance from every origin to the nearest facility of each category, walking and straight-line.

    The walking distance is leg + network + leg: the straight walk from the home to the point of the street it
    is attached to, the network distance, and the straight walk from the facility's street point to the
    facility; an origin is covered when that sum is within the radius. It is therefore never shorter than the
    straight line (``dist_walk >= dist_line``).

    Parameters
    ----------
    origins : GeoDataFrame
        Canonical origins (``origin_id``, ``children``, Point geometry; any CRS, normally EPSG:4326).
    facilities : GeoDataFrame
        Canonical facilities (``facility_id``, ``category``, Point; optional ``area_ha`` for parks).
    network : WalkNetwork, optional
        Walk network; without it only straight-line figures are computed (walking columns are NaN/False).
    categories : str or iterable of str, optional
        Categories to evaluate (default: those present in ``facilities``, in standards order). A requested
        category without any facility gives infinite distances, no coverage and a ``ChildspaceWarning``.
    radii : mapping or Standards, optional
        ``{category: metres}`` or a Standards object; default the bundled standards (park radius by ``area_ha``).
    max_snap : float
        Metres; origins/facilities farther than this from any street are not attached to the network: their
        walking distance is ``inf`` (origins) or they do not serve (facilities). Both are counted.
    legs : bool
        Count the access legs (default ``ACCESS_LEGS``, True). False: distances between the snapped points
        only, as before legs were counted (for comparison; walking may then come out below the straight line).

    Returns
    -------
    GeoDataFrame
        The origins (their CRS) plus per category ``dist_walk_<cat>``, ``dist_line_<cat>`` (m, ``inf`` when
        unreachable), ``covered_walk_<cat>``, ``covered_line_<cat>`` (bool) and ``nearest_<cat>``
        (facility_id of the nearest facility by walking, else straight line; None when there is none) and
        ``no_network_<cat>`` (bool: the origin is attached to a part of the network, a connected component,
        that holds no facility of the category: its walking distance is ``inf`` because the network is cut,
        e.g. a clipped extract or an island; not covered on foot; counted in ``attrs["no_network_origins"]`` /
        ``attrs["no_network_children"]`` and a ``ChildspaceWarning``).
        ``attrs`` holds ``metric_crs``, ``categories``, ``walk`` (bool), ``radii`` (m per category, list for
        size-dependent radii), ``unsnapped_origins``, ``unsnapped_facilities`` (per category),
        ``unreachable_origins`` (per category: attached origins with no facility reachable).
    """
    _require(origins, "origins", ["origin_id", "children"], "point")
    _require(facilities, "facilities", ["facility_id", "category"], "point")
    cats = _categories(facilities, categories)
    crs = _metric_crs(network, origins, facilities)
    oxy = _metric_xy(origins.geometry, crs)
    # the origins are processed in a spatial order (nearby origins next to each other: the KD-tree queries,
    # the snapping and the gathers of the walking searches run faster) and the columns put back at the end
    perm = _spatial_order(oxy)
    oxy = oxy[perm]
    fxy_all = _metric_xy(facilities.geometry, crs)
    fcat = facilities["category"].astype(str).to_numpy()
    fid_all = facilities["facility_id"].astype(str).to_numpy()
    n = len(origins)
    attrs: dict[str, Any] = {
        "metric_crs": crs.to_string(),
        "categories": cats,
        "walk": network is not None,
        "legs": bool(legs) and network is not None,
        "radii": {},
        "unsnapped_facilities": {},
        "unreachable_origins": {},
    }
    # the straight-line figures (KD-tree queries, which release the GIL) run on a second thread while the
    # origins are attached to the streets and the walking searches run on this one
    members_of = {cat: np.flatnonzero(fcat == cat) for cat in cats}
    radii_of = {
        cat: np.asarray(category_radii(cat, facilities.iloc[members_of[cat]], radii), dtype="float64")
        for cat in cats
        if len(members_of[cat])
    }

    # polygon facilities are reached at their outline, facilities with mapped entrances at those too
    shapes, outline = facility_shapes(facilities, crs)

    def line_part(cat: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fxy = fxy_all[members_of[cat]]
        classes = _radius_classes(radii_of[cat])
        geoms = shapes[members_of[cat]]
        if (shapely.get_type_id(geoms) != 0).any():
            # polygons and entrances: the distance to the outline (0 inside) or the nearest entrance, R-tree
            opts = shapely.points(oxy)
            (qi, ti), d = shapely.STRtree(geoms).query_nearest(opts, return_distance=True, all_matches=False)
            dist_line = np.full(n, np.inf)
            fi = np.zeros(n, dtype=np.int64)
            dist_line[qi], fi[qi] = d, ti
            cov_line = np.zeros(n, dtype=bool)
            for radius, cls in classes:
                q2, _ = shapely.STRtree(geoms[cls]).query(opts, predicate="dwithin", distance=radius)
                cov_line[q2] = True
            return dist_line, fi, cov_line
        # facilities and origins are points: a KD-tree gives the exact straight-line nearest neighbour
        dist_line, fi = cKDTree(fxy).query(oxy, workers=-1)
        cov_line = np.zeros(n, dtype=bool)
        for radius, cls in classes:
            if len(classes) == 1:
                cov_line |= dist_line <= radius
                continue
            d2, _ = cKDTree(fxy[cls]).query(oxy, distance_upper_bound=radius, workers=-1)
            cov_line |= d2 <= radius
        return dist_line, fi, cov_line

    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1)
    line_jobs = {cat: pool.submit(line_part, cat) for cat in radii_of} if n else {}
    pool.shutdown(wait=False)
    org_pts = fac_pts = None
    if network is not None and n:
        # origins and facilities are attached to the streets once, for all categories
        org_pts = _snap(network, oxy, max_snap, legs=legs, what="origins (homes)")
        fac_pts, ap = _snap_facilities(network, facilities, max_snap, legs)
        attrs["access_points"] = ap["counts"]
        attrs["unsnapped_origins"] = int((~org_pts.ok).sum())
        if attrs["unsnapped_origins"]:
            _warn(
                f"{attrs['unsnapped_origins']} of {n} origins (homes) are farther than {max_snap:g} m from any "
                "street: their walking distance is inf (uncovered); check their coordinates or extend the OSM "
                f"area, or raise the tolerance: {SNAP_SETTING}"
            )
    else:
        attrs["unsnapped_origins"] = 0
    # all walking searches share the origins as targets: one call computes the origins' side once
    walk_keys: list[tuple[str, float | None]] = []
    walk_srcs: list[Snap] = []
    if network is not None and n:
        assert fac_pts is not None  # attached above
        for cat in radii_of:
            members = members_of[cat]
            okm = fac_pts.group_ok[members]
            if not okm.any():
                continue
            walk_keys.append((cat, None))
            walk_srcs.append(fac_pts.take(_points_of(fac_pts, members[np.flatnonzero(okm)])))
            classes = _radius_classes(radii_of[cat])
            if len(classes) > 1:
                # one bounded search per radius class: covered when within its own class's radius
                for radius, cls in classes:
                    okc = np.flatnonzero(okm[cls])
                    if len(okc):
                        walk_keys.append((cat, radius))
                        walk_srcs.append(fac_pts.take(_points_of(fac_pts, members[cls[okc]])))
    walk_res = network.nearest_many(walk_srcs, org_pts, cutoff=[k[1] for k in walk_keys]) if walk_srcs else []
    # network parts: the component of every attached origin, to tell "no facility in this part of the network"
    # (a clipped extract, an island) from "too far"
    org_comp = (
        network.component[network.u[org_pts.edge]] if org_pts is not None else np.zeros(0, dtype=np.int64)
    )
    attrs["no_network_origins"] = {}
    attrs["no_network_children"] = {}
    kids_sorted = pd.to_numeric(origins["children"], errors="coerce").fillna(0).to_numpy(dtype=float)[perm]
    walk_of: dict[tuple[str, float | None], tuple[np.ndarray, np.ndarray]] = dict(zip(walk_keys, walk_res))
    cols: dict[str, Any] = {}
    # facility ids as Python objects once, with None at the end for "no facility" (index -1)
    fid_obj = np.concatenate([fid_all.astype(object), np.array([None], dtype=object)])
    for cat in cats:
        members = np.flatnonzero(fcat == cat)
        fid = fid_all[members]
        dist_line = np.full(n, np.inf)
        cov_line = np.zeros(n, dtype=bool)
        dist_walk = np.full(n, np.inf if network is not None else np.nan)
        cov_walk = np.zeros(n, dtype=bool)
        near = np.full(n, -1, dtype=np.int64)  # nearest facility (row in ``facilities``), -1: none
        no_net = np.zeros(n, dtype=bool)  # attached, but no facility in the origin's network part
        if len(members) == 0:
            _warn(
                f"no facilities of category {cat!r} ({_label(cat)}): every origin counts as uncovered; add "
                f"{cat} facilities or drop the category"
            )
            attrs["radii"][cat] = float(category_radii(cat, None, radii))
        else:
            classes = _radius_classes(radii_of[cat])
            attrs["radii"][cat] = classes[0][0] if len(classes) == 1 else [c[0] for c in classes]
            if n:
                dist_line, fi, cov_line = line_jobs[cat].result()
                near = members[fi]
            if network is not None and n:
                assert fac_pts is not None and org_pts is not None  # attached above
                okm = fac_pts.group_ok[members]
                bad = int((~okm).sum())
                attrs["unsnapped_facilities"][cat] = bad
                if bad:
                    names = ", ".join(fid[~okm][:5])
                    _warn(
                        f"{bad} {cat} facilities ({_label(cat)}) are farther than {max_snap:g} m from any street "
                        f"and do not serve anyone by walking ({names}{'…' if bad > 5 else ''}; "
                        f"{_files_of(facilities.iloc[members[~okm]])}); check their coordinates, or raise the "
                        f"tolerance: {SNAP_SETTING}"
                    )
                okf = np.flatnonzero(okm)
                if len(okf):
                    dist_walk, src = walk_of[(cat, None)]
                    has = src >= 0
                    near[has] = members[okf[src[has]]]
                    if len(classes) == 1:
                        cov_walk = dist_walk <= classes[0][0]
                    else:
                        for radius, _ in classes:
                            if (cat, radius) in walk_of:
                                cov_walk |= walk_of[(cat, radius)][0] <= radius
                attrs["unreachable_origins"][cat] = int((org_pts.ok & ~np.isfinite(dist_walk)).sum())
                if len(okf):
                    fp = _points_of(fac_pts, members[okf]) & fac_pts.ok
                    fcomp = np.unique(network.component[network.u[fac_pts.edge[fp]]])
                    no_net = org_pts.ok & ~np.isin(org_comp, fcomp)
                    attrs["no_network_origins"][cat] = int(no_net.sum())
                    attrs["no_network_children"][cat] = int(kids_sorted[no_net].sum())
        if len(members) and n:
            # a home inside a facility's outline (a park, a school ground) is at distance 0
            oi, fi_in = inside_outlines(outline[members], oxy)
            if oi.size:
                dist_line[oi] = 0.0
                cov_line[oi] = True
                near[oi] = members[fi_in]
                no_net[oi] = False
                if network is not None:
                    dist_walk[oi] = 0.0
                    cov_walk[oi] = True
        cols[f"dist_walk_{cat}"] = dist_walk
        cols[f"dist_line_{cat}"] = dist_line
        cols[f"covered_walk_{cat}"] = cov_walk
        cols[f"covered_line_{cat}"] = cov_line
        cols[f"nearest_{cat}"] = near
        cols[f"no_network_{cat}"] = no_net
    parts = {c: k for c, k in attrs["no_network_origins"].items() if k}
    if parts:
        _warn(
            "origins in a part of the network with no facility of the category (the OSM extract may be "
            "clipped, or the part is an island): they cannot reach one on foot and count as not covered on "
            "foot (children_no_network in the unit tables; extend the OSM area if the extract is clipped): "
            + ", ".join(
                f"{k} homes ({attrs['no_network_children'][c]} children) with no {c}"
                for c, k in parts.items()
            )
        )
    for k, v in cols.items():  # back to the origins' order
        cols[k] = np.empty_like(v)
        cols[k][perm] = v
        if k.startswith("nearest_"):
            cols[k] = _id_column(fid_obj, cols[k])
    out = pd.concat(
        [
            origins.drop(columns=[c for c in cols if c in origins.columns]),
            pd.DataFrame(cols, index=origins.index, copy=False),
        ],
        axis=1,
    )  # (new arrays: no copy)
    out = gpd.GeoDataFrame(out, geometry=origins.geometry.name, crs=origins.crs)
    out.attrs.update(attrs)
    return out


def _id_column(ids: np.ndarray, pos: np.ndarray) -> Any:
    """``ids[pos]`` (``pos`` -1: the last entry, None) as the column pandas makes of it, built from the few ids
    used: pandas converts an object column of strings to its string dtype one Python string at a time (0.4 s
    for the ten ``nearest_<cat>`` columns of 300k homes); the ids used are converted once and gathered. The
    dtype is inferred from the same set of values, so it is the one of ``DataFrame({...: ids[pos]})``."""
    pos = np.where(pos < 0, len(ids) - 1, pos)
    used = np.flatnonzero(np.bincount(pos, minlength=len(ids)))
    small = pd.DataFrame({"id": ids[used]})["id"].array
    at = np.zeros(len(ids), dtype=np.int64)
    at[used] = np.arange(len(used))
    return small.take(at[pos])
