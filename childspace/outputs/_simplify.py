"""Simplifying the large area layers the maps and figures draw (dissolved service areas of a county)."""

from __future__ import annotations

import numpy as np
import shapely


def simplify_areas(geoms: np.ndarray, tolerance: float) -> np.ndarray:
    """Polygons simplified to ``tolerance`` (in the geometries' units) by plain Douglas–Peucker, the few that come
    out invalid or empty redone with topology preserved; other geometry types unchanged.

    The topology-preserving simplifier costs seconds on the dissolved walking area of a county (100k vertices); the
    plain one gives the same outline where it stays valid, which it almost always does at a few metres.
    """
    out = np.asarray(geoms, dtype=object).copy()
    if tolerance <= 0 or not len(out):
        return out
    poly = np.isin(shapely.get_type_id(out), (3, 6))  # Polygon, MultiPolygon
    if not poly.any():
        return out
    src = out[poly]
    fast = shapely.simplify(src, tolerance, preserve_topology=False)
    bad = ~shapely.is_valid(fast) | (shapely.is_empty(fast) & ~shapely.is_empty(src))
    if bad.any():
        fast[bad] = shapely.simplify(src[bad], tolerance, preserve_topology=True)
    out[poly] = fast
    return out
