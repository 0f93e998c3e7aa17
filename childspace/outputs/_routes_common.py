"""What the routes map and the routes figure share: which routes carry a line to draw, and the children per street
(computed once for both)."""

from __future__ import annotations

import weakref
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["edge_use", "line_routes", "zone_circles"]


def line_routes(routes: pd.DataFrame) -> gpd.GeoDataFrame | None:
    """The routes that carry a line (a LineString per route), or None.

    Routes written without their geometry (the home point, or no geometry: per-home route geometry is opt-in)
    are drawn per street only (:func:`childspace.analysis.streets.route_edge_use`).
    """
    if not isinstance(routes, gpd.GeoDataFrame):
        return None
    try:
        geom = routes.geometry
    except AttributeError:  # a GeoDataFrame without an active geometry column
        return None
    # type ids, not the type names: a county's 1.2 million home points were 1.2 million strings to compare
    is_line = np.isin(shapely.get_type_id(np.asarray(geom.values, dtype=object)), (1, 5))
    return routes[is_line] if is_line.any() else None


#: the children per street of the last routes and network drawn, per route kind: the routes map and the routes
#: figure of a run draw the same (selecting, counting and sorting 600k routes each time was the cost)
_USE: list[tuple[Any, Any, str, int, int, gpd.GeoDataFrame]] = []


def edge_use(routes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, route: str) -> gpd.GeoDataFrame:
    """:func:`childspace.analysis.streets.route_edge_use` ``(routes, edges, route)``, kept for the next caller with
    the same ``routes`` and ``edges`` objects (the map and the figure); the frame returned is shared: not to be
    modified."""
    from childspace.analysis.streets import route_edge_use

    for r, e, kind, nr, ne, use in _USE:
        if r() is routes and e() is edges and kind == route and nr == len(routes) and ne == len(edges):
            return use
    # counted on the edge positions alone, then the rows used taken once from ``edges``: the same frame as
    # ``route_edge_use(routes, edges, route)`` without copying, filtering and sorting every edge's texts and line
    slim = pd.DataFrame({"edge": _positions(edges)}, index=edges.index)
    counts = route_edge_use(routes, slim, route)
    use = edges.iloc[edges.index.get_indexer(counts.index)] if edges.index.is_unique else None
    if use is None:  # labels repeat: the frame as route_edge_use makes it
        use = route_edge_use(routes, edges, route)
    else:
        use = use.copy()
        for c in ("children", "routes", "schools"):
            use[c] = counts[c].to_numpy()
    if _USE and _USE[0][0]() is not routes:
        _USE.clear()  # other routes: the frames of earlier ones are not kept
    _USE.append((weakref.ref(routes), weakref.ref(edges), route, len(routes), len(edges), use))
    del _USE[:-2]  # the two kinds at most
    return use


def _positions(edges: pd.DataFrame) -> np.ndarray:
    """The network positions of ``edges``' rows (its ``edge`` column, else the row order)."""
    return edges["edge"].to_numpy(dtype=np.int64) if "edge" in edges.columns else np.arange(len(edges))


#: the school-zone circles of the last zone table drawn: the routes map and the routes figure draw the same ones
_CIRCLES: list[tuple[Any, Any, float, int, gpd.GeoDataFrame]] = []


def zone_circles(
    school_zones: gpd.GeoDataFrame, schools: gpd.GeoDataFrame | None, radius_m: float
) -> gpd.GeoDataFrame:
    """:func:`childspace.analysis.streets.school_zone_circles` ``(school_zones, schools, radius_m)`` (EPSG:4326),
    kept for the next caller with the same objects (buffering every gate of a county's schools twice was
    0.2 s); the frame returned is shared: not to be modified."""
    from childspace.analysis.streets import school_zone_circles

    for z, s, r, n, circ in _CIRCLES:
        if z() is school_zones and (s is None if schools is None else s() is schools) and r == radius_m:
            if n == len(school_zones):
                return circ
    circ = school_zone_circles(school_zones, schools, radius_m)
    _CIRCLES.clear()
    _CIRCLES.append(
        (
            weakref.ref(school_zones),
            None if schools is None else weakref.ref(schools),
            radius_m,
            len(school_zones),
            circ,
        )
    )
    return circ
