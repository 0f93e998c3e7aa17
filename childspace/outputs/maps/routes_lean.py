"""A county-size routes map that stays a few MB: streets of one street run joined (one popup where the
popups would repeat), crossings of one kind as one multi-point, geometry simplified to what the zoom shows and
coordinates rounded to ~1 m.

A map is *lean* when its network has more streets than the map's ``max_features`` (a county, not a town): the
bundled sample and small extracts are drawn feature by feature as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace.outputs.maps._page import simplify_wgs84

__all__ = ["Lean", "drop_small_holes", "group_lines", "group_points", "lean_frame", "lean_settings"]


@dataclass(frozen=True)
class Lean:
    """How much a routes map is reduced (see :func:`lean_settings`)."""

    on: bool
    #: Douglas–Peucker tolerance of streets, hazards and zone roads (m): at zoom 16 a pixel is ~2 m at 28° N
    line_m: float = 1.0
    #: tolerance of the walksheds and zone circles (m): their edge is a 100 m-scale boundary, not a kerb
    area_m: float = 5.0
    #: holes of a walkshed smaller than this are filled (m²): 1 ha, a city block
    min_hole_m2: float = 0.0
    #: decimals of the coordinates written (5: ~1.1 m; 6: ~0.1 m)
    digits: int = 6
    #: popups kept on the busiest street runs of the children-per-street layer (safest; shortest: a quarter)
    street_popups: int = 4000
    #: hazards (by rank) that keep their full popup (reason, countermeasures); the others a tooltip only
    hazard_popups: int = 100_000
    #: school-zone road runs over the limit that keep a popup (the longest)
    zone_road_popups: int = 4000


def lean_settings(n_streets: int, max_features: int) -> Lean:
    """:class:`Lean` for a network of ``n_streets`` streets drawn with ``max_features`` popups per layer."""
    if n_streets <= max_features:
        return Lean(on=False)
    return Lean(
        on=True,
        line_m=3.0,
        area_m=15.0,
        min_hole_m2=10_000.0,
        digits=5,
        street_popups=max(min(1000, max_features // 4), 1),
        hazard_popups=max(min(300, max_features // 10), 1),
        zone_road_popups=max(min(500, max_features // 8), 1),
    )


def lean_frame(gdf: gpd.GeoDataFrame, tolerance_m: float, digits: int) -> gpd.GeoDataFrame:
    """``gdf`` (EPSG:4326) with its geometry simplified to ``tolerance_m`` metres and rounded to ``digits``."""
    if not len(gdf):
        return gdf
    g = simplify_wgs84(np.asarray(gdf.geometry.values, dtype=object), tolerance_m)
    g = shapely.transform(g, lambda c: np.round(c, digits))
    return gdf.set_geometry(gpd.GeoSeries(g, index=gdf.index, crs=gdf.crs))


def _codes(df: pd.DataFrame, keys: Sequence[str]) -> np.ndarray:
    cols = [k for k in keys if k in df.columns]
    if not cols:
        return np.arange(len(df))
    # missing values form their own group (an unnamed street is one "name")
    frame = pd.DataFrame({c: df[c].astype(str).to_numpy() for c in cols})
    return frame.groupby(cols, sort=False, dropna=False).ngroup().to_numpy()


def group_lines(gdf: gpd.GeoDataFrame, keys: Sequence[str], sums: Sequence[str] = ()) -> gpd.GeoDataFrame:
    """Lines of equal ``keys`` (e.g. name, level, children) joined into one feature each, contiguous pieces
    merged: the popups that would say the same thing for every piece of a street run are written once.

    The first row of each group gives the other columns; ``sums`` columns are summed over the group. Groups keep
    the order of their first piece (a frame sorted by importance stays sorted). Exact duplicate pieces (a road
    in the zones of two schools) are drawn once.
    """
    if not len(gdf):
        return gdf
    code = _codes(gdf, keys)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    first = pd.Series(np.arange(len(gdf))).groupby(code, sort=False).first().to_numpy()
    out = gdf.iloc[first].copy()
    for c in sums:
        if c in gdf.columns:
            out[c] = (
                pd.to_numeric(gdf[c], errors="coerce").groupby(code, sort=False).sum(min_count=1).to_numpy()
            )
    parts, owner = shapely.get_parts(geoms, return_index=True)
    grp = code[owner]
    # the same piece twice in a group (normalised WKB): once
    key = pd.DataFrame({"g": grp, "w": shapely.to_wkb(shapely.normalize(parts))})
    uniq = ~key.duplicated().to_numpy()
    parts, grp = parts[uniq], grp[uniq]
    # group codes are numbered in order of first appearance, the rows of ``out`` too
    is_line = np.isin(shapely.get_type_id(parts), (1, 2))
    multi = _collect(shapely.multilinestrings, parts[is_line], grp[is_line], len(first))
    has = ~shapely.is_missing(multi)
    merged = np.full(len(first), None, dtype=object)
    merged[has] = shapely.line_merge(multi[has])
    out = out.set_geometry(gpd.GeoSeries(merged, index=out.index, crs=gdf.crs))
    return out[has]


def _collect(make, parts: np.ndarray, grp: np.ndarray, n: int) -> np.ndarray:
    """One multi-geometry per group (``make`` = shapely.multilinestrings / multipoints); None for a group
    without parts."""
    out = np.full(n, None, dtype=object)
    if len(parts):
        present, dense = np.unique(grp, return_inverse=True)  # indices without gaps, sorted
        order = np.argsort(dense, kind="stable")
        out[present] = np.asarray(make(parts[order], indices=dense[order]), dtype=object)
    return out


def group_points(gdf: gpd.GeoDataFrame, keys: Sequence[str]) -> gpd.GeoDataFrame:
    """Points of equal ``keys`` as one multi-point feature each (one popup for all the crossings of a kind),
    with their number in a ``count`` column; groups keep the order of their first point."""
    if not len(gdf):
        return gdf
    code = _codes(gdf, keys)
    first = pd.Series(np.arange(len(gdf))).groupby(code, sort=False).first().to_numpy()
    out = gdf.iloc[first].copy()
    out["count"] = np.bincount(code, minlength=len(first))
    pts = _collect(shapely.multipoints, np.asarray(gdf.geometry.values, dtype=object), code, len(first))
    return out.set_geometry(gpd.GeoSeries(pts, index=out.index, crs=gdf.crs))


def drop_small_holes(gdf: gpd.GeoDataFrame, min_area_m2: float) -> gpd.GeoDataFrame:
    """Polygons (EPSG:4326) without their holes smaller than ``min_area_m2`` (a block inside a walkshed that no
    street enters is part of the walkshed's area for a reader, not a gap in it); other geometries unchanged."""
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    is_poly = np.isin(shapely.get_type_id(geoms), (3, 6))
    if not is_poly.any() or min_area_m2 <= 0:
        return gdf
    polys, owner = shapely.get_parts(geoms[is_poly], return_index=True)
    n_int = shapely.get_num_interior_rings(polys)
    total = int(n_int.sum())
    if not total:
        return gdf
    poly_of = np.repeat(np.arange(len(polys)), n_int)
    ring_no = np.arange(total) - np.repeat(np.cumsum(n_int) - n_int, n_int)
    holes = shapely.get_interior_ring(polys[poly_of], ring_no)
    lat = shapely.get_coordinates(shapely.centroid(polys[poly_of]))[:, 1]
    m2 = shapely.area(shapely.polygons(holes)) * _M2_PER_DEG2 * np.cos(np.radians(lat))
    keep = m2 >= min_area_m2
    rings = np.concatenate([shapely.get_exterior_ring(polys), holes[keep]])
    idx = np.concatenate([np.arange(len(polys)), poly_of[keep]])
    order = np.argsort(idx, kind="stable")  # shell first, then the holes kept, per polygon
    rebuilt = shapely.polygons(rings[order], indices=idx[order])
    multi = shapely.multipolygons(rebuilt, indices=owner)
    single = shapely.get_num_geometries(multi) == 1
    out = geoms.copy()
    out[is_poly] = np.where(single, shapely.get_geometry(multi, 0), multi)
    return gdf.set_geometry(gpd.GeoSeries(out, index=gdf.index, crs=gdf.crs))


#: square metres per square degree at the equator (times cos(latitude) elsewhere)
_M2_PER_DEG2 = 111_320.0**2
