"""Where a facility is entered from the street: its access points.

A facility given as a point is entered at that point. A facility with an area (a park, a school ground: the
``footprint`` outline kept by :func:`childspace.inputs.loaders.footprints`) is reached at its boundary, not at
its middle:

1. **Entrances**: the facility's mapped gates (column ``entrances``: lists of (lon, lat) in WGS84, as from
   :func:`childspace.osm.features.facilities_from_osm`, which keeps ``entrance=*`` nodes on the outline) when it
   has any; then only those are used, as a fenced ground is entered by its gates.
2. **Where streets meet the boundary** otherwise: every point where a walkable edge crosses the outline, and,
   for an edge that comes within ``tolerance_m`` (10 m) of the outline without crossing it, the stretch of the
   outline within that distance, with a point every ``ENTRY_STEP_M`` (25 m) and at its ends (a path along the
   park's edge, a street beside a school ground: the ground can be entered anywhere along it).
3. **Fallback**: a facility with an outline but none of the above (no street within ``tolerance_m``) is entered
   at its representative point, as a point facility.

Each access point is then attached to the network like any point (with its access leg, ``WalkNetwork.snap``),
and a query answers per facility with its best access point; a home *inside* the outline is at distance 0.

Peers: park-accessibility studies measure network distance to park entrances rather than to a centroid, which
overstates the walk to a large park, most for the homes beside it; Wang, Wang & Liu (2021), "Access to
urban parks: Comparing spatial accessibility measures using three GIS-based approaches", Computers, Environment
and Urban Systems 90: 101713 (doi:10.1016/j.compenvurbsys.2021.101713), find the network- and entrance-based
measures the most realistic; network analysis to greenspace access points also in Comber, Brunsdon & Green
(2008), Landscape and Urban Planning 86: 103-114 (doi:10.1016/j.landurbplan.2008.01.002). Where gates are not
mapped, the points where the street network meets the boundary stand in for them (rule 2); the 10 m tolerance
accepts a street drawn along the outline a few metres off.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from childspace._errors import DataError
from childspace._types import CRSLike
from childspace.inputs.loaders import footprints
from childspace.inputs.projection import WGS84
from childspace.network import WalkNetwork

__all__ = [
    "ENTRY_TOLERANCE_M",
    "facility_access_points",
    "facility_entrances",
    "facility_outlines",
    "facility_shapes",
    "inside_outlines",
]

#: metres: an edge this close to a facility's outline (without crossing it) gives access points on the outline
ENTRY_TOLERANCE_M = 10.0
#: metres between the access points placed along a stretch of outline that runs beside a street
ENTRY_STEP_M = 25.0


def facility_outlines(facilities: gpd.GeoDataFrame, crs: CRSLike) -> np.ndarray:
    """The polygon outline of every facility in ``crs`` (object array, None for point facilities)."""
    fp = footprints(facilities)
    out = np.full(len(facilities), None, dtype=object)
    has = fp.notna().to_numpy() & ~fp.is_empty.to_numpy() if len(fp) else np.zeros(0, dtype=bool)
    if has.any():
        g = fp[has].to_crs(crs) if fp.crs is not None else fp[has].set_crs(WGS84).to_crs(crs)
        poly = np.asarray(g.array, dtype=object)
        ok = np.isin(shapely.get_type_id(poly), [3, 6])  # Polygon, MultiPolygon
        out[np.flatnonzero(has)[ok]] = poly[ok]
    return out


def facility_entrances(facilities: gpd.GeoDataFrame, crs: CRSLike) -> tuple[np.ndarray, np.ndarray]:
    """Mapped entrances: (k, 2) metric xy and the facility row of each."""
    if "entrances" not in facilities.columns:
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    ent = facilities["entrances"].to_numpy(dtype=object)
    has = np.array([isinstance(e, (list, tuple, np.ndarray)) and len(e) > 0 for e in ent], dtype=bool)
    if not has.any():
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    rows = np.flatnonzero(has)
    counts = np.array([len(ent[i]) for i in rows])
    lonlat = np.asarray([tuple(p)[:2] for i in rows for p in ent[i]], dtype=float)
    g = gpd.GeoSeries(shapely.points(lonlat), crs=WGS84).to_crs(crs)
    return shapely.get_coordinates(np.asarray(g.array, dtype=object)), np.repeat(rows, counts)


def facility_access_points(
    facilities: gpd.GeoDataFrame,
    network: WalkNetwork | None = None,
    crs: CRSLike | None = None,
    tolerance_m: float = ENTRY_TOLERANCE_M,
) -> dict[str, Any]:
    """The access points of every facility (rules in the module docstring), in the metric ``crs``.

    Parameters
    ----------
    facilities : GeoDataFrame
        Canonical facilities (Point geometry, any CRS), optional ``footprint`` (WKB outline) and ``entrances``.
    network : WalkNetwork, optional
        Its walkable edges give the boundary access points; without it an outlined facility without mapped
        entrances is entered at its point.
    crs : optional
        Metric CRS (default the network's).
    tolerance_m : float
        Metres (rule 2).

    Returns
    -------
    dict
        ``xy`` (k, 2) access points, ``owner`` (k,) facility row of each (sorted, every facility has at least
        one), ``kind`` (k,) ``point``/``entrance``/``boundary``, ``outline`` (object array per facility: the
        metric polygon or None), ``counts`` (facilities entered by each rule).
    """
    if crs is None:
        if network is None:
            raise DataError(
                "facility_access_points needs a metric crs or a network", fix="pass crs= or network="
            )
        crs = network.crs
    crs = CRS.from_user_input(crs)
    n = len(facilities)
    pts = shapely.get_coordinates(np.asarray(facilities.to_crs(crs).geometry.array, dtype=object)).reshape(
        -1, 2
    )
    outline = facility_outlines(facilities, crs)
    exy, erow = facility_entrances(facilities, crs)
    has_ent = np.zeros(n, dtype=bool)
    has_ent[erow] = True
    bxy, brow = np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    need = np.flatnonzero(np.array([g is not None for g in outline], dtype=bool) & ~has_ent)
    if network is not None and need.size:
        ring = shapely.boundary(outline[need])
        walk = network.walkable_edges()
        eg = network._geom
        tree = shapely.STRtree(eg)
        fi, ei = tree.query(ring, predicate="dwithin", distance=float(tolerance_m))
        keep = walk[ei]
        fi, ei = fi[keep], ei[keep]
        cross = shapely.intersects(ring[fi], eg[ei])
        parts = []
        if cross.any():
            inter = shapely.intersection(ring[fi[cross]], eg[ei[cross]])
            c, ci = shapely.get_coordinates(inter, return_index=True)
            parts.append((c, need[fi[cross]][ci]))
        near = ~cross
        if near.any():
            # the stretch of the outline within the tolerance of the edge (a street along the park's side),
            # one access point every ENTRY_STEP_M along it and at its ends
            stretch = shapely.intersection(ring[fi[near]], shapely.buffer(eg[ei[near]], float(tolerance_m)))
            c, ci = shapely.get_coordinates(shapely.segmentize(stretch, ENTRY_STEP_M), return_index=True)
            parts.append((c, need[fi[near]][ci]))
        if parts:
            bxy = np.concatenate([p[0] for p in parts])
            brow = np.concatenate([p[1] for p in parts])
            # one access point per facility and metre (an edge crossing at a vertex is listed twice)
            key = np.c_[brow, np.round(bxy, 0)]
            _, first = np.unique(key, axis=0, return_index=True)
            bxy, brow = bxy[first], brow[first]
    has_b = np.zeros(n, dtype=bool)
    has_b[brow] = True
    plain = np.flatnonzero(~has_ent & ~has_b)
    xy = np.concatenate([pts[plain], exy, bxy])
    owner = np.concatenate([plain, erow, brow]).astype(np.int64)
    kind = np.concatenate(
        [np.full(plain.size, "point"), np.full(erow.size, "entrance"), np.full(brow.size, "boundary")]
    ).astype(object)
    order = np.argsort(owner, kind="stable")
    outlined = np.array([g is not None for g in outline], dtype=bool)
    counts = {
        "point": int((~outlined & ~has_ent).sum()),
        "entrance": int(has_ent.sum()),
        "boundary": int(has_b.sum()),
        "outline_without_access": int((outlined & ~has_ent & ~has_b).sum()),
    }
    return {"xy": xy[order], "owner": owner[order], "kind": kind[order], "outline": outline, "counts": counts}


def facility_shapes(facilities: gpd.GeoDataFrame, crs: CRSLike) -> tuple[np.ndarray, np.ndarray]:
    """Per facility the shape its straight-line distance is measured to, in ``crs``: the outline when it has
    one, else its point together with its mapped entrances (a MultiPoint), else its point; and the outlines.

    Measuring the straight line to the same places the walk may end at keeps ``dist_walk >= dist_line``."""
    crs = CRS.from_user_input(crs)
    pts = np.asarray(facilities.to_crs(crs).geometry.array, dtype=object).copy()
    outline = facility_outlines(facilities, crs)
    exy, erow = facility_entrances(facilities, crs)
    if erow.size:
        rows = np.unique(erow)
        pxy = shapely.get_coordinates(pts[rows]).reshape(-1, 2)
        allxy = np.concatenate([pxy, exy])
        own = np.concatenate([np.arange(rows.size), np.searchsorted(rows, erow)])
        order = np.argsort(own, kind="stable")
        pts[rows] = shapely.multipoints(allxy[order], indices=own[order])
    has = np.array([g is not None for g in outline], dtype=bool)
    pts[has] = outline[has]
    return pts, outline


def inside_outlines(outline: np.ndarray, oxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(origin index, facility index) of every origin (metric xy) inside a facility's outline."""
    has = np.flatnonzero(np.array([g is not None for g in outline], dtype=bool))
    if has.size == 0 or oxy.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    tree = shapely.STRtree(outline[has])
    oi, fi = tree.query(shapely.points(oxy), predicate="intersects")
    return oi.astype(np.int64), has[fi].astype(np.int64)
