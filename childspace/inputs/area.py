"""The study area: one geometry in EPSG:4326 from a polygon, a layer or a bounding box, optionally buffered in metres."""

from __future__ import annotations

from typing import TypeAlias

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from childspace._errors import DataError
from childspace.inputs.projection import WGS84, local_crs

__all__ = ["AreaLike", "area_polygon"]

AreaLike: TypeAlias = BaseGeometry | gpd.GeoDataFrame | gpd.GeoSeries | tuple[float, float, float, float]


def area_polygon(area: AreaLike, buffer_m: float = 0.0) -> BaseGeometry:
    """The study area as one shapely geometry in EPSG:4326 degrees, buffered by ``buffer_m`` metres.

    Parameters
    ----------
    area : shapely (Multi)Polygon (EPSG:4326), GeoDataFrame/GeoSeries (any CRS) or bbox tuple
        A bbox is (west, south, east, north) in degrees.
    buffer_m : float
        Buffer distance in metres, applied in the local metric CRS (:func:`childspace.inputs.projection.local_crs`).

    Returns
    -------
    shapely geometry in EPSG:4326.
    """
    if isinstance(area, (gpd.GeoDataFrame, gpd.GeoSeries)):
        if area.crs is None:
            raise DataError(
                "the study area layer has no CRS",
                fix="set it with .set_crs(...) or load it with childspace.inputs.loaders",
            )
        geom = shapely.union_all(area.to_crs(WGS84).geometry.values)
    elif isinstance(area, BaseGeometry):
        geom = area
    elif isinstance(area, (tuple, list)) and len(area) == 4:
        w, s, e, n = (float(v) for v in area)
        if not (
            w < e and s < n and -180 <= w <= 180 and -90 <= s <= 90 and -180 <= e <= 180 and -90 <= n <= 90
        ):
            raise DataError(
                f"study-area bbox {tuple(area)} is not (west, south, east, north) in degrees",
                fix="give (min lon, min lat, max lon, max lat), e.g. (120.9, 28.0, 121.1, 28.2)",
            )
        geom = shapely.box(w, s, e, n)
    else:
        raise DataError(
            f"cannot use a {type(area).__name__} as study area",
            fix="give a shapely Polygon in EPSG:4326, a GeoDataFrame/GeoSeries, or a bbox tuple "
            "(west, south, east, north)",
        )
    if geom.is_empty:
        raise DataError("the study area is empty", fix="give a non-empty polygon or bbox")
    if buffer_m and buffer_m > 0:
        c = geom.centroid
        crs = local_crs(c.x, c.y)
        s = gpd.GeoSeries([geom], crs=WGS84).to_crs(crs).buffer(buffer_m).to_crs(WGS84)
        geom = s.iloc[0]
    return geom
