"""Large public venues from OpenStreetMap (malls, hospitals, stations, parks, libraries and museums, stadiums).

Kinds (:data:`childspace.inputs.venues.VENUE_KINDS`) from tags: ``shop=mall|department_store`` -> mall;
``amenity=hospital`` / ``healthcare=hospital`` -> hospital; ``railway=station``, ``public_transport=station``,
``amenity=bus_station|ferry_terminal``, ``aeroway=terminal`` -> station; ``leisure=park`` -> park;
``amenity=library|arts_centre``, ``tourism=museum`` -> culture; ``leisure=stadium|sports_centre``,
``building=stadium`` -> stadium.

Size: the footprint area of an area feature in the local metric CRS; for buildings (anything but parks) the floor
area is the footprint times ``building:levels`` when tagged, else the footprint itself (a lower bound, said in
``area_basis``). Parks count by their site area. Point features have no size (NaN).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace.inputs.area import AreaLike, area_polygon
from childspace.inputs.projection import WGS84, local_crs_for
from childspace.osm import _parse

__all__ = ["venue_kind", "venues_from_osm"]

_KEYS = (
    "shop",
    "amenity",
    "healthcare",
    "railway",
    "public_transport",
    "leisure",
    "tourism",
    "aeroway",
    "building",
)


def venue_kind(tags: dict[str, str]) -> str | None:
    """The venue kind of an OSM object, or None."""
    amenity, leisure = tags.get("amenity"), tags.get("leisure")
    if tags.get("shop") in ("mall", "department_store"):
        return "mall"
    if amenity == "hospital" or tags.get("healthcare") == "hospital":
        return "hospital"
    if (
        tags.get("railway") == "station"
        or tags.get("public_transport") == "station"
        or amenity in ("bus_station", "ferry_terminal")
        or tags.get("aeroway") == "terminal"
    ):
        return "station"
    if leisure == "park":
        return "park"
    if amenity in ("library", "arts_centre") or tags.get("tourism") == "museum":
        return "culture"
    if leisure in ("stadium", "sports_centre") or tags.get("building") == "stadium":
        return "stadium"
    return None


def venues_from_osm(path: str | Path, area: AreaLike | None = None) -> gpd.GeoDataFrame:
    """Public venues of an OSM file, with their footprint and size.

    Parameters
    ----------
    path : str or Path
        .osm / .osm.pbf file.
    area : shapely geometry (lon/lat), GeoDataFrame/GeoSeries or bbox tuple (west, south, east, north), optional
        Keep venues whose point lies inside it.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points (inside the footprint): ``venue_id`` (``osm:way/123``), ``name``, ``kind``,
        ``floor_area_m2``, ``area_basis``, ``source`` (``"osm"``), ``footprint`` (WKB or None).
    """
    p = _parse.check_osm_path(path)
    raw = _parse.read_features(p, lambda t: venue_kind(t) is not None, _KEYS)
    cols = ["venue_id", "name", "kind", "floor_area_m2", "area_basis", "source", "footprint"]
    if not raw.ids:
        return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in cols}, geometry=[], crs=WGS84)
    geoms = shapely.from_wkb(np.array([g for g in raw.geoms], dtype=object))
    ok = ~shapely.is_missing(geoms)
    kinds = np.array([venue_kind(t) for t in raw.tags], dtype=object)
    gdf = (
        gpd.GeoDataFrame(
            {
                "venue_id": [f"osm:{k}/{i}" for k, i in zip(raw.kinds, raw.ids)],
                "name": [t.get("name") or t.get("name:zh") for t in raw.tags],
                "kind": kinds,
                "levels": pd.to_numeric(
                    pd.Series([t.get("building:levels") for t in raw.tags]), errors="coerce"
                ),
                "is_building": [("building" in t) or venue_kind(t) not in ("park",) for t in raw.tags],
            },
            geometry=geoms,
            crs=WGS84,
        )
        .loc[ok]
        .reset_index(drop=True)
    )
    if area is not None:
        shape = area_polygon(area)
        gdf = gdf.loc[shapely.intersects(shape, gdf.geometry.values)].reset_index(drop=True)
    poly = np.isin(shapely.get_type_id(gdf.geometry.values), [3, 6])
    foot = np.full(len(gdf), np.nan)
    if poly.any():
        foot[poly] = gdf.geometry[poly].to_crs(local_crs_for(gdf)).area.to_numpy()
    levels = gdf["levels"].to_numpy(dtype=float)
    building = gdf["is_building"].to_numpy(dtype=bool) & (gdf["kind"].to_numpy() != "park")
    with_levels = building & np.isfinite(levels) & (levels >= 1)
    floor = np.where(with_levels, foot * np.where(with_levels, levels, 1.0), foot)
    basis = np.where(
        ~poly,
        "无面积（点） no area (point)",
        np.where(
            gdf["kind"].to_numpy() == "park",
            "用地面积 site area (OSM polygon)",
            np.where(
                with_levels,
                "占地×层数 footprint × building:levels (OSM)",
                "占地面积（层数未知，下限） footprint, levels unknown (lower bound)",
            ),
        ),
    )
    footprint = np.full(len(gdf), None, dtype=object)
    footprint[poly] = shapely.to_wkb(gdf.geometry.values[poly])
    pts = gdf.geometry.values.copy()
    pts[poly] = shapely.point_on_surface(pts[poly])
    out = gpd.GeoDataFrame(
        {
            "venue_id": gdf["venue_id"],
            "name": gdf["name"],
            "kind": gdf["kind"],
            "floor_area_m2": floor,
            "area_basis": basis,
            "source": "osm",
            "footprint": footprint,
        },
        geometry=pts,
        crs=WGS84,
    )
    return out
