"""Choose a local metric CRS for a dataset, and project to and from it.

Distances in childspace are always metres in a projected CRS; never degrees.

Inside China the local CRS is the CGCS2000 3-degree Gauss-Krueger zone whose central meridian is nearest the
data (EPSG:4534-4554, no zone prefix in the easting; Yueqing falls in CM 120E, EPSG:4549), which is the CRS that
natural-resources bureaus deliver. Elsewhere it is the WGS84 UTM zone of the data's centre.
"""

from __future__ import annotations

from functools import lru_cache

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

#: EPSG code of CGCS2000 / 3-degree Gauss-Kruger CM 75E; the zones follow every 3 degrees up to CM 135E (4554).
_GK3_FIRST_EPSG = 4534
_GK3_FIRST_CM = 75

WGS84 = "EPSG:4326"


def transformer(src: object, dst: object) -> Transformer:
    """The pyproj transformer from ``src`` to ``dst`` (x = easting/longitude), made once per pair of CRSs.

    Making one costs about 50 ms (PROJ looks up the operation in its database), more than transforming
    500,000 points; pyproj transformers are thread-safe (pyproj >= 3.1), so one cached instance serves all.
    """
    return _transformer(CRS.from_user_input(src), CRS.from_user_input(dst))


@lru_cache(maxsize=32)
def _transformer(src: CRS, dst: CRS) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def in_china(lon: float, lat: float) -> bool:
    """Whether a WGS84 point lies in China's bounding box (the China-specific defaults and standards apply)."""
    return 73.0 <= lon <= 136.0 and 17.0 <= lat <= 54.0


def local_crs(lon: float, lat: float) -> CRS:
    """The local metric CRS for a point given in WGS84 degrees.

    Parameters
    ----------
    lon, lat : float
        Longitude and latitude in degrees (EPSG:4326).

    Returns
    -------
    pyproj.CRS
        CGCS2000 3-degree Gauss-Krueger zone (China) or WGS84 / UTM zone (elsewhere); units metres.
    """
    if in_china(lon, lat):
        cm = int(round(lon / 3.0) * 3)
        cm = min(max(cm, _GK3_FIRST_CM), 135)
        return CRS.from_epsg(_GK3_FIRST_EPSG + (cm - _GK3_FIRST_CM) // 3)
    zone = int((lon + 180.0) // 6.0) + 1
    zone = min(max(zone, 1), 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def local_crs_for(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> CRS:
    """The local metric CRS for a GeoDataFrame (any CRS), from the centre of its bounds in WGS84."""
    if gdf.crs is None:
        raise ValueError(
            "the layer has no CRS; load it through childspace.inputs.loaders or set one with .set_crs()"
        )
    g = gdf.to_crs(WGS84) if not CRS.from_user_input(gdf.crs).equals(CRS.from_epsg(4326)) else gdf
    minx, miny, maxx, maxy = g.total_bounds
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        raise ValueError("the layer is empty or has no valid geometry; cannot choose a local CRS")
    return local_crs((minx + maxx) / 2.0, (miny + maxy) / 2.0)


def to_metric(gdf: gpd.GeoDataFrame, crs: CRS | None = None) -> gpd.GeoDataFrame:
    """Project ``gdf`` to ``crs`` (metres), or to its own local CRS when ``crs`` is None.

    The same result as ``gdf.to_crs(crs)``, through the cached :func:`transformer` (``to_crs`` makes a new
    one on every call). ``gdf`` is not modified.
    """
    crs = CRS.from_user_input(crs) if crs is not None else local_crs_for(gdf)
    if gdf.crs is None:
        raise ValueError(
            "the layer has no CRS; load it through childspace.inputs.loaders or set one with .set_crs()"
        )
    src = CRS.from_user_input(gdf.crs)
    if src.equals(crs):
        return gdf.copy()
    tr = transformer(src, crs)
    geoms = shapely.transform(
        np.asarray(gdf.geometry.values, dtype=object),
        lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])),
    )
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(geoms, index=gdf.index, crs=crs)
    return out
