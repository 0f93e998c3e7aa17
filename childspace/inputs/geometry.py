"""Coordinates and geometry of the loaded rows: CRS and datum to WGS84, points from lon/lat columns, repairs,
polygons reduced to points, the study area.

Internal module of :mod:`childspace.inputs.loaders` (which re-exports :func:`excluded_rows` and
:func:`footprints`).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from childspace._errors import DataError
from childspace._types import CRSLike
from childspace.inputs import _crs
from childspace.inputs import _validate as V
from childspace.inputs.datum import normalise_datum, to_wgs84
from childspace.inputs.projection import WGS84, local_crs_for, to_metric
from childspace.inputs.tables import ROW_COLUMN, Source, describe_mask_rows, read_table_or_layer

__all__ = [
    "MIN_POLYGON_AREA_M2",
    "MIN_POLYGON_WIDTH_M",
    "POLYGON_TYPES",
    "apply_study_area",
    "datum_of",
    "excluded_rows",
    "footprints",
    "load_points_or_layer",
    "repair_geometries",
    "to_points",
]

POLYGON_TYPES = {"Polygon", "MultiPolygon"}


def _is_geographic(crs: Any) -> bool:
    return CRS.from_user_input(crs).is_geographic


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= 73) & (lon <= 136) & (lat >= 17) & (lat <= 54)


def _degrees_contradicted(x: np.ndarray, y: np.ndarray, file_crs: Any) -> bool:
    """A geographic CRS whose coordinates are not degrees (a GeoJSON without "crs" holding metres; a wrong .prj)."""
    if not _is_geographic(file_crs):
        return False
    x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
    ok = np.isfinite(x) & np.isfinite(y)
    return bool(ok.any()) and bool(((np.abs(x[ok]) > 180) | (np.abs(y[ok]) > 90)).any())


def datum_of(coords: str, path: str | Path | None) -> str:
    """``coords`` as ``"wgs84" | "gcj02" | "bd09"``; an unknown name is a DataError naming the file."""
    return normalise_datum(coords, path=path)


def _near(info: dict) -> BaseGeometry | None:
    """The study area the loader was given (``info["near"]``) as one geometry (EPSG:4326), made once, or None:
    what tells apart the CRSs coordinates may be in."""
    area = info.get("near")
    if area is None:
        return None
    if not isinstance(area, BaseGeometry):
        area = info["near"] = _study_area_union(area)
    return area


def _resolve_crs(x: np.ndarray, y: np.ndarray, file_crs: Any, crs: Any, info: dict, warn: bool = True) -> Any:
    path = info["path"]
    if crs is not None:
        try:
            user = CRS.from_user_input(crs)
        except Exception as exc:
            raise DataError(
                f"crs={crs!r} is not a CRS ({exc})", path=path, fix="give e.g. crs='EPSG:4549'"
            ) from None
        if file_crs is not None and _degrees_contradicted(x, y, file_crs):
            V.log_issue(
                info["issues"],
                "crs",
                f"the file's own CRS ({CRS.from_user_input(file_crs).name}) does "
                f"not fit its coordinates (not degrees); using crs={crs!r} as asked",
                path=path,
                warn=False,
            )
        elif file_crs is not None and not CRS.from_user_input(file_crs).equals(user):
            V.log_issue(
                info["issues"],
                "crs",
                f"the file says its CRS is {CRS.from_user_input(file_crs).name}; using crs={crs!r} as asked",
                path=path,
            )
        return user
    if file_crs is not None:
        if _degrees_contradicted(x, y, file_crs):
            suffix = str(path).lower().rsplit(".", 1)[-1]
            lead = (
                'the GeoJSON has no "crs" member, so it is read as lon/lat degrees (RFC 7946), but'
                if suffix in ("geojson", "json")
                else f"the file says its CRS is {CRS.from_user_input(file_crs).name} (lon/lat degrees), but"
            )
            _crs.guess_crs(x, y, path, lead=lead, near=_near(info))  # raises, saying what they look like
            raise DataError(
                f"{lead} its coordinates are out of the lon/lat range",
                path=path,
                fix="give the CRS the data were made in: " + V.setting("crs", "EPSG:4549"),
            )
        return file_crs
    guessed = _crs.guess_crs(x, y, path, near=_near(info))
    if warn:  # a lon/lat table is EPSG:4326 by nature; a GIS layer without CRS deserves a warning
        V.log_issue(
            info["issues"],
            "crs",
            "no CRS in the file; all coordinates are lon/lat degrees, read as EPSG:4326 (WGS84/CGCS2000)",
            path=path,
        )
    return guessed


def _datum_per_row(df: pd.DataFrame, coords: str, datum_col: str | None, info: dict) -> np.ndarray:
    default = datum_of(coords, info["path"])
    out = np.full(len(df), default, dtype=object)
    if datum_col is None:
        return out
    values = df[datum_col].map(V.clean_str)
    for value in values.dropna().unique():
        try:
            d = normalise_datum(value)
        except ValueError:
            bad = (values == value).to_numpy()
            raise DataError(
                f"unknown coordinate system {value!r} in column {datum_col!r} at {describe_mask_rows(df, bad, info)}",
                path=info["path"],
                fix="use WGS84, GCJ-02 (高德/腾讯) or BD-09 (百度), or leave the cell empty",
            ) from None
        out[(values == value).to_numpy()] = d
    return out


def _points_from_table(
    df: pd.DataFrame,
    info: dict,
    columns: Mapping[str, str] | None,
    coords: str,
    crs: CRSLike | None,
    name_col: str | None,
    missing_rows: str = "error",
) -> tuple[gpd.GeoDataFrame, list[Hashable]]:
    """Build points (EPSG:4326) from lon/lat (or x/y) columns, or one column of "lon,lat" pairs; returns the
    layer and the columns consumed.

    ``missing_rows``: rows without coordinates are an ``"error"``, ``"drop"``-ped with a warning naming them
    (an error when they are more than half of the rows), or ``"keep"``-ed with an empty geometry.
    """
    path = info["path"]
    lon_col = V.find_column(df.columns, "lon", columns)
    lat_col = V.find_column(df.columns, "lat", columns, exclude=[lon_col])
    pair_col = None
    if lon_col is None or lat_col is None:
        pair_col = V.find_pair_column(df, exclude=[ROW_COLUMN])
    if pair_col is not None:
        x, y, bad = V.split_pair(df[pair_col])
        if bad.any():
            raise DataError(
                f'column {pair_col!r} holds "lon,lat" pairs, but not at {describe_mask_rows(df, bad, info, name_col)}',
                path=path,
                fix="write each cell as longitude,latitude (e.g. 120.9612,28.1203), or leave it empty",
            )
        V.log_issue(
            info["issues"],
            "coordinate_pairs",
            f"coordinates read from the combined column {pair_col!r} (longitude,latitude)",
            path=path,
            warn=False,
        )
    elif lon_col is None or lat_col is None:
        found = [c for c in df.columns if c != ROW_COLUMN]
        which = "longitude" if lon_col is None else "latitude"
        header = ""
        if any(str(c).startswith("column_") for c in found):
            header = (
                "; the header row has empty cells (merged cells, or column names over two rows?): give "
                "every coordinate column its own name (经度, 纬度) in one header row"
            )
        raise DataError(
            f"no {which} column; found columns {found}; accepted names: lon = {V.accepted('lon')}, "
            f'lat = {V.accepted("lat")}, or one column of "lon,lat" pairs named '
            f"{'/'.join(V.PAIR_NAMES[:6])}{header}",
            path=path,
            fix='rename the coordinate columns, or name them with columns = { lon = "<column>", lat = "<column>" } '
            "in this file's block of the run configuration (.toml), or columns={'lon': '<column>', "
            "'lat': '<column>'} in Python",
        )
    else:
        x, badx = V.to_number(df[lon_col], coordinate=True)
        y, bady = V.to_number(df[lat_col], coordinate=True)
        bad = badx | bady
        if bad.any():
            raise DataError(
                f"coordinates that are not numbers at {describe_mask_rows(df, bad, info, name_col)}",
                path=path,
                fix="write decimal degrees (e.g. 120.9612) or degrees-minutes-seconds "
                "(120°57'40\"E) in the lon/lat columns",
            )
    missing = ~(np.isfinite(x) & np.isfinite(y))
    if missing.any() and missing_rows != "keep":
        where = describe_mask_rows(df, missing, info, name_col)
        if missing_rows == "error" or missing.sum() * 2 > len(df):
            raise DataError(
                f"empty coordinates at {where}"
                + (f" ({int(missing.sum())} of {len(df)} rows)" if missing_rows != "error" else ""),
                path=path,
                fix="fill in the longitude and latitude of these rows or delete them"
                + (
                    ""
                    if missing_rows == "error"
                    else "; if most rows are empty, check that the coordinate columns are the right ones"
                ),
            )
        n = int(missing.sum())
        V.log_issue(
            info["issues"],
            "empty_coordinates",
            f"{n} {'row' if n == 1 else 'rows'} without coordinates "
            f"left out: {where}; fill them in to include them (to refuse such a file instead: "
            f"{V.setting('strict', True)})",
            ids=df.loc[missing, ROW_COLUMN].tolist(),
            path=path,
        )
        df, x, y = df.loc[~missing].reset_index(drop=True), x[~missing], y[~missing]
        missing = np.zeros(len(df), dtype=bool)
    datum_col = V.find_column(df.columns, "datum", columns)
    degrees = (np.abs(x) <= 180) & (np.abs(y) <= 180)
    if crs is None and degrees[~missing].mean() >= 0.5:
        crs_used: Any = CRS.from_epsg(4326)  # lon/lat columns; stray values are reported row by row below
    else:
        if crs is None and datum_of(coords, path) == "bd09":
            xs, ys = x[~missing], y[~missing]
            if any(c == "EPSG:3857" for c, _ in _crs.crs_candidates(xs, ys)):
                raise DataError(
                    f"coords={coords!r} declares Baidu lon/lat (BD-09), but the coordinates (e.g. {xs[0]:.1f}, "
                    f"{ys[0]:.1f}) are metres in the range of Baidu Mercator (BD09MC), which childspace does not "
                    "read",
                    path=path,
                    fix="export Baidu lon/lat instead (Baidu APIs: coordtype/ret_coordtype bd09ll) and keep "
                    'coords = "bd09"; if the metres come from another web-map tool (Web Mercator), remove coords '
                    'and set crs = "EPSG:3857" in this file\'s block of the run configuration (.toml)',
                )
        crs_used = _resolve_crs(x[~missing], y[~missing], None, crs, info, warn=False)
    x, y = x.copy(), y.copy()
    if _is_geographic(crs_used):
        swap = ~missing & (((np.abs(y) > 90) & (np.abs(x) <= 90)) | (_in_china(y, x) & ~_in_china(x, y)))
        if swap.any():
            x[swap], y[swap] = y[swap].copy(), x[swap].copy()
            ids = df.loc[swap, ROW_COLUMN].tolist()
            V.log_issue(
                info["issues"],
                "swapped_lonlat",
                f"longitude and latitude swapped at {describe_mask_rows(df, swap, info, name_col)}; swapped back",
                ids=ids,
                path=path,
            )
        out = ~missing & ((np.abs(x) > 180) | (np.abs(y) > 90))
        if out.any():
            raise DataError(
                f"coordinates out of range (|lon| > 180 or |lat| > 90) at {describe_mask_rows(df, out, info, name_col)}",
                path=path,
                fix="correct the coordinates",
            )
        datums = _datum_per_row(df, coords, datum_col, info)
        for d in ("gcj02", "bd09"):
            m = (datums == d) & ~missing
            if m.any():
                x[m], y[m] = to_wgs84(x[m], y[m], d)
        geoms = shapely.points(x, y)
        geoms[missing] = None
        gs = gpd.GeoSeries(geoms, crs=crs_used).to_crs(WGS84)
    else:
        if datum_of(coords, path) != "wgs84":
            raise DataError(
                f"coords={coords!r} applies to lon/lat degrees, but crs={crs!r} is projected",
                path=path,
                fix="leave coords= out for projected coordinates",
            )
        geoms = shapely.points(x, y)
        geoms[missing] = None
        gs = gpd.GeoSeries(geoms, crs=crs_used).to_crs(WGS84)
        lon, lat = gs.x.to_numpy(), gs.y.to_numpy()
        ok = ~missing
        _misfit(x[ok], y[ok], lon[ok], lat[ok], crs, info)
        if ok.any() and not _in_china(lon[ok], lat[ok]).any():
            alt = gpd.GeoSeries(shapely.points(y, x), crs=crs_used).to_crs(WGS84)
            if _in_china(alt.x.to_numpy()[ok], alt.y.to_numpy()[ok]).all():
                gs = alt
                gs[missing] = None
                V.log_issue(
                    info["issues"],
                    "swapped_xy",
                    f"x and y read as northing/easting (surveying order: "
                    f"X = north); swapped for all {int(ok.sum())} rows",
                    path=path,
                )
    # (without a pair column both lon_col and lat_col were found: checked above)
    used = [c for c in ([pair_col] if pair_col is not None else [lon_col, lat_col]) if c is not None]
    used += [datum_col] if datum_col else []
    gdf = gpd.GeoDataFrame(df.drop(columns=used), geometry=gs.values, crs=WGS84)
    return gdf, used


def _layer_to_wgs84(
    gdf: gpd.GeoDataFrame,
    info: dict,
    crs: CRSLike | None,
    coords: str,
    name_col: str | None,
    missing_rows: str = "error",
) -> gpd.GeoDataFrame:
    path = info["path"]
    geom = gdf.geometry
    missing = (geom.isna() | geom.is_empty).to_numpy()
    if missing.any() and missing_rows != "keep":
        where = describe_mask_rows(gdf, missing, info, name_col)
        if missing_rows == "error" or missing.sum() * 2 > len(gdf):
            raise DataError(f"empty geometry at {where}", path=path, fix="draw these features or delete them")
        n = int(missing.sum())
        V.log_issue(
            info["issues"],
            "empty_geometry",
            f"{n} {'feature' if n == 1 else 'features'} without "
            f"geometry left out: {where}; draw them to include them (to refuse such a file instead: "
            f"{V.setting('strict', True)})",
            ids=gdf.loc[missing, ROW_COLUMN].tolist(),
            path=path,
        )
        gdf = gdf.loc[~missing].reset_index(drop=True)
        geom = gdf.geometry
        missing = np.zeros(len(gdf), dtype=bool)
    xy = shapely.get_coordinates(geom.values[~missing][:1000])
    crs_used = _resolve_crs(xy[:, 0], xy[:, 1], gdf.crs, crs, info)
    out = gdf.set_crs(crs_used, allow_override=True).to_crs(WGS84)
    if not _is_geographic(crs_used) and len(xy):
        ll = shapely.get_coordinates(out.geometry.values[~missing][:1000])
        label = "" if crs is not None else f"the file's CRS ({CRS.from_user_input(crs_used).name})"
        _misfit(xy[:, 0], xy[:, 1], ll[:, 0], ll[:, 1], crs_used, info, label)
    d = datum_of(coords, path)
    if d != "wgs84":

        def conv(a: np.ndarray) -> np.ndarray:
            lon, lat = to_wgs84(a[:, 0], a[:, 1], d)
            return np.column_stack([lon, lat])

        out = out.set_geometry(shapely.transform(out.geometry.values, conv), crs=WGS84)
    return out


def _misfit(
    x: np.ndarray, y: np.ndarray, lon: np.ndarray, lat: np.ndarray, crs: Any, info: dict, label: str = ""
) -> None:
    """Refuse projected coordinates that the CRS given (or the file's) puts far from the study area while another
    CRS their ranges allow (:func:`~childspace.inputs._crs.crs_candidates`) puts them in it: every row would
    be kept out as "outside the study area" (e.g. Web Mercator X/Y read as the 6-degree zone 13, 4,000 km west)."""
    near = _near(info)
    if near is None or len(x) == 0 or crs is None:
        return
    d = _crs.distance_km(lon, lat, near)
    if d <= 2 * _crs.FIT_KM:
        return
    given = CRS.from_user_input(crs)
    others = [(c, w) for c, w in _crs.crs_candidates(x, y) if not CRS.from_user_input(c).equals(given)]
    dist = _crs.crs_distances(x, y, others, near)
    fits = [c for c in dist if dist[c] <= _crs.FIT_KM]
    if len(fits) != 1:
        return
    code = fits[0]
    fix = V.setting("crs", code)
    if code == "EPSG:3857":
        fix += _crs.BD09MC_NOTE
    raise DataError(
        f"{label or f'crs={crs!r}'} puts the points around {np.nanmedian(lon):.2f}E {np.nanmedian(lat):.2f}N, {d:,.0f} km "
        f"from the study area (every row would be left out); read as {dict(others)[code]} they fall in it",
        path=info["path"],
        fix=fix,
    )


def load_points_or_layer(
    path: Source,
    *,
    layer: str | int | None,
    sheet: str | int | None,
    encoding: str | None,
    crs: CRSLike | None,
    coords: str,
    columns: Mapping[str, str] | None,
    name_hint: str | None = "name",
    missing_rows: str = "error",
    max_rows: int | None = None,
    near: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None = None,
) -> tuple[gpd.GeoDataFrame, dict, list[Hashable]]:
    datum_of(
        coords, path if not isinstance(path, pd.DataFrame) else None
    )  # a wrong name fails before reading
    df, info = read_table_or_layer(path, layer=layer, sheet=sheet, encoding=encoding, max_rows=max_rows)
    info["near"] = near  # the study area, to tell apart the CRSs projected coordinates may be in
    if len(df) == 0:
        raise DataError("the layer has no rows", path=info["path"], fix="check the file, layer= or sheet=")
    name_col = V.find_column(df.columns, name_hint, columns) if name_hint else None
    is_layer = isinstance(df, gpd.GeoDataFrame) and df.geometry.notna().any()
    if is_layer:
        gdf = _layer_to_wgs84(df, info, crs, coords, name_col, missing_rows)
        used: list[Hashable] = []
    else:
        if isinstance(df, gpd.GeoDataFrame):
            df = pd.DataFrame(df.drop(columns=df.geometry.name))
        gdf, used = _points_from_table(df, info, columns, coords, crs, name_col, missing_rows)
    return gdf, info, used


#: A polygon smaller than this (m², in the local metric CRS), or thinner on average (2 x area / perimeter, m), has
#: no area: a line or a point drawn as a polygon (reprojected, a straight line becomes a sliver of a few m²).
MIN_POLYGON_AREA_M2 = 1.0
MIN_POLYGON_WIDTH_M = 0.5


def repair_geometries(
    gdf: gpd.GeoDataFrame,
    info: dict,
    ids: pd.Series,
    polygonal: bool,
    name_col: str | None = None,
    zero_area: str = "error",
) -> gpd.GeoDataFrame:
    """Repair invalid geometries (make_valid). With ``polygonal``, polygons without area (a line or a point drawn
    as a polygon, below :data:`MIN_POLYGON_AREA_M2`) are an ``"error"`` naming them, or with ``"point"`` become
    points with a warning naming them (never a line or a sliver)."""
    geoms = gdf.geometry.values
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    was_poly = present & np.isin(shapely.get_type_id(geoms), [3, 6])
    invalid = present & ~shapely.is_valid(geoms)
    fixed_all = geoms.copy()
    if invalid.any():
        fixed = shapely.make_valid(geoms[invalid])
        if polygonal:
            fixed = np.array([_polygonal_part(g) for g in fixed], dtype=object)
        fixed_all[invalid] = fixed
    zero = np.zeros(len(geoms), dtype=bool)
    if polygonal and was_poly.any():
        is_poly = np.isin(shapely.get_type_id(fixed_all), [3, 6]) & ~shapely.is_empty(fixed_all)
        area = np.zeros(len(geoms))
        width = np.zeros(len(geoms))
        if is_poly.any():
            metric = to_metric(
                gpd.GeoDataFrame(geometry=gpd.GeoSeries(fixed_all[is_poly], crs=gdf.crs))
            ).geometry
            area[is_poly] = metric.area.to_numpy()
            width[is_poly] = 2.0 * area[is_poly] / np.maximum(metric.length.to_numpy(), 1e-9)
        zero = was_poly & (~is_poly | (area < MIN_POLYGON_AREA_M2) | (width < MIN_POLYGON_WIDTH_M))
    if zero.any():
        where = describe_mask_rows(gdf, zero, info, name_col)
        if zero_area == "error":
            raise DataError(
                f"{'a polygon' if zero.sum() == 1 else f'{int(zero.sum())} polygons'} without area (a "
                f"line or a point drawn as a polygon) at {where}",
                path=info["path"],
                fix="redraw these polygons in GIS so that they enclose an area, or delete them",
            )
        fixed_all[zero] = shapely.centroid(geoms[zero])
        V.log_issue(
            info["issues"],
            "zero_area",
            f"{int(zero.sum())} polygons without area (a line or a point "
            f"drawn as a polygon) used as points: {where}",
            ids=ids[zero].tolist(),
            path=info["path"],
        )
    repaired = invalid & ~zero
    if repaired.any():
        V.log_issue(
            info["issues"],
            "invalid_geometry",
            f"{int(repaired.sum())} invalid geometries repaired with "
            f"make_valid (ids: {', '.join(map(str, ids[repaired].tolist()[:20]))})",
            ids=ids[repaired].tolist(),
            path=info["path"],
        )
    if invalid.any() or zero.any():
        gdf = gdf.set_geometry(gpd.GeoSeries(fixed_all, index=gdf.index, crs=gdf.crs))
    return gdf


def _polygonal_part(g: Any) -> Any:
    """The polygons of a make_valid result (a collection may also hold lines/points), as one (Multi)Polygon."""
    if g.geom_type in POLYGON_TYPES:
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in POLYGON_TYPES]
    return shapely.union_all(parts) if parts else g


def to_points(
    gdf: gpd.GeoDataFrame, info: dict, ids: pd.Series, what: str
) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray]:
    """Reduce non-point geometries to representative points; returns (layer, area_ha, footprint WKB)."""
    geoms = gdf.geometry.values
    types = np.asarray(shapely.get_type_id(geoms))
    present = types >= 0
    area = np.full(len(gdf), np.nan)
    footprint = np.full(len(gdf), None, dtype=object)
    nonpoint = present & (types != 0)
    if not nonpoint.any():
        return gdf, area, footprint
    poly = present & np.isin(types, [3, 6])
    if poly.any():
        metric = gpd.GeoSeries(geoms[poly], crs=gdf.crs).to_crs(local_crs_for(gdf[present]))
        area[poly] = metric.area.to_numpy() / 10_000.0
        footprint[poly] = shapely.to_wkb(geoms[poly])
    kinds = sorted(set(shapely.get_type_id(geoms[nonpoint]).tolist()))
    names = {
        1: "lines",
        2: "rings",
        3: "polygons",
        4: "multipoints",
        5: "multilines",
        6: "multipolygons",
        7: "collections",
    }
    new = geoms.copy()
    new[nonpoint] = shapely.point_on_surface(geoms[nonpoint])
    # a layer of polygons only (e.g. parks) is expected and only logged; a mixed layer is warned about
    mixed = bool((present & (types == 0)).any()) or bool((nonpoint & ~poly).any())
    V.log_issue(
        info["issues"],
        "geometry_type",
        f"{int(nonpoint.sum())} {what} given as "
        f"{'/'.join(names.get(k, str(k)) for k in kinds)} reduced to representative points"
        + (" (polygon area kept in area_ha, outline in footprint)" if poly.any() else ""),
        ids=ids[nonpoint].tolist(),
        path=info["path"],
        warn=mixed,
    )
    out = gdf.set_geometry(gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs))
    return out, area, footprint


def _study_area_union(study_area: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None) -> BaseGeometry:
    if isinstance(study_area, (gpd.GeoDataFrame, gpd.GeoSeries)):
        s = study_area.geometry if isinstance(study_area, gpd.GeoDataFrame) else study_area
        if s.crs is None:
            raise DataError(
                "study_area has no CRS", fix="set one with .set_crs() or load it with load_boundaries"
            )
        return shapely.union_all(s.to_crs(WGS84).values)
    if isinstance(study_area, shapely.Geometry):
        return study_area  # taken as lon/lat (EPSG:4326)
    raise DataError(
        f"study_area must be a GeoDataFrame, GeoSeries or shapely geometry, got {type(study_area).__name__}",
        fix="pass the boundaries layer",
    )


def apply_study_area(
    gdf: gpd.GeoDataFrame,
    study_area: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None,
    info: dict,
    id_col: str,
    what: str,
) -> gpd.GeoDataFrame:
    if study_area is None:
        return gdf
    area = _study_area_union(study_area)
    # prepared first: GEOS then tests each point against the outline's segment index instead of walking every
    # segment (the county's 300k homes: 0.40 -> 0.04 CPU s). Preparing changes no value. A geometry the caller
    # passed is copied first (WKB: the same coordinates) and left unprepared: GEOS builds a prepared geometry's
    # indexes lazily, which is unsafe if the caller's threads use it at the same time.
    if area is study_area:
        area = shapely.from_wkb(shapely.to_wkb(area))
    shapely.prepare(area)
    inside = shapely.covers(area, gdf.geometry.values)
    out = ~inside
    excluded = gdf.loc[out].assign(reason="outside the study area")
    kept = gdf.loc[inside].copy()
    if out.any():
        ids = excluded[id_col].tolist()
        V.log_issue(
            info["issues"],
            "outside_study_area",
            f"{int(out.sum())} {what} outside the study area kept "
            f"out (ids: {', '.join(map(str, ids[:20]))}{' ...' if len(ids) > 20 else ''}); listed in "
            f"attrs['excluded']",
            ids=ids,
            path=info["path"],
        )
    kept.attrs["excluded"] = (
        _records(excluded.drop(columns=[ROW_COLUMN], errors="ignore")) if out.any() else ""
    )
    kept.attrs["n_excluded"] = int(out.sum())
    return kept


def _records(gdf: gpd.GeoDataFrame) -> str:
    """Rows as a GeoJSON FeatureCollection string (EPSG:4326).

    A string, not a DataFrame: pandas deep-copies ``attrs`` on every operation and compares them when
    concatenating (which fails for DataFrames and is slow for large lists); a string is copied and compared
    cheaply. Polygon outlines (``footprint``, WKB) are written as WKT.
    """
    out = gdf.copy()
    if "footprint" in out.columns:
        fp = out["footprint"].to_numpy(dtype=object)
        has = np.array([isinstance(v, (bytes, bytearray)) for v in fp], dtype=bool)
        wkt = np.full(len(fp), None, dtype=object)
        if has.any():
            wkt[has] = shapely.to_wkt(shapely.from_wkb(fp[has]))
        out["footprint"] = wkt
    return out.to_json(drop_id=True, na="null", ensure_ascii=False)


def excluded_rows(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The rows a loader kept out (``attrs["excluded"]``, e.g. outside the study area) as a GeoDataFrame.

    Returns
    -------
    GeoDataFrame
        EPSG:4326, the loader's columns plus ``reason``; empty when nothing was excluded.
    """
    text = gdf.attrs.get("excluded") or ""
    feats = json.loads(text)["features"] if text else []
    if not feats:
        return gpd.GeoDataFrame({"reason": pd.Series(dtype=object)}, geometry=[], crs=WGS84)
    return gpd.GeoDataFrame.from_features(feats, crs=WGS84)


def footprints(facilities: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """The polygon outlines of facilities read from polygons (column ``footprint``, WKB), EPSG:4326.

    Returns a GeoSeries aligned with ``facilities`` (None where the facility was given as a point).
    """
    if "footprint" not in facilities.columns:
        return gpd.GeoSeries([None] * len(facilities), index=facilities.index, crs=WGS84)
    values = facilities["footprint"].to_numpy(dtype=object)
    has = np.array([v is not None and not (isinstance(v, float) and np.isnan(v)) for v in values])
    geoms = np.full(len(values), None, dtype=object)
    if has.any():
        geoms[has] = shapely.from_wkb(values[has])
    return gpd.GeoSeries(geoms, index=facilities.index, crs=WGS84)
