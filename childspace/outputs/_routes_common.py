"""What the routes map and the routes figure share: which routes carry a line to draw, and the children per street
(computed once for both)."""

from __future__ import annotations

import weakref
from typing import Any

import geopandas as gpd
import pandas as pd

__all__ = ["edge_use", "line_routes"]


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
    is_line = geom.geom_type.isin(["LineString", "MultiLineString"]).to_numpy()
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
    use = route_edge_use(routes, edges, route)
    if _USE and _USE[0][0]() is not routes:
        _USE.clear()  # other routes: the frames of earlier ones are not kept
    _USE.append((weakref.ref(routes), weakref.ref(edges), route, len(routes), len(edges), use))
    del _USE[:-2]  # the two kinds at most
    return use
