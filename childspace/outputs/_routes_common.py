"""What the routes map and the routes figure share: which routes carry a line to draw."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

__all__ = ["line_routes"]


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
