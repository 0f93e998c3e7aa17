"""Read planners' files into the canonical layers of childspace (EPSG:4326).

Loaders: :func:`load_boundaries`, :func:`load_facilities`, :func:`load_pilots`, :func:`load_origins`. Each reads
GeoPackage, GeoJSON, Shapefile, CSV or Excel (.xlsx), maps Chinese or English column names onto the canonical
ones (see ``docs/architecture.md``), converts coordinates to WGS84 lon/lat (EPSG:4326) and validates the rows.

What the loaders do about common problems:

* text encodings: CSV in UTF-8, UTF-8 with BOM or GBK/GB18030 is detected; a Shapefile's .cpg is honoured, and
  without one the .dbf bytes are tested (strict UTF-8, else GB18030) so that Chinese names come out right;
* CRS: the file's CRS is honoured (EPSG:4490, 4549, 4528, UTM, ...). CGCS2000 (EPSG:4490) and WGS84 (EPSG:4326)
  differ by centimetres and are treated as equal. A file without CRS whose coordinates are all lon/lat degrees is
  read as EPSG:4326 (with a warning); anything else needs ``crs=`` and the error says what the coordinates look
  like (e.g. a 3-degree Gauss-Krueger easting with the zone prefix 40);
* datum: ``coords="gcj02"`` (Amap/高德, Tencent) or ``"bd09"`` (Baidu/百度) converts coordinates to WGS84; in
  CSV/Excel a per-row ``坐标系`` column overrides ``coords`` row by row;
* repaired or set-aside rows are announced with :class:`~childspace.ChildspaceWarning` (count and ids) and listed in
  ``gdf.attrs["issues"]`` (see :func:`validate_report`); rows outside ``study_area`` are kept out of the result and
  listed in ``gdf.attrs["excluded"]`` (a GeoJSON string; :func:`excluded_rows`
  gives a GeoDataFrame) with their number in ``gdf.attrs["n_excluded"]``; anything that cannot be repaired is
  a :class:`~childspace.DataError`
  naming the file, the rows and the fix.

The input files and objects are never modified.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from childspace._errors import DataError
from childspace._gcpause import gc_paused
from childspace._types import CRSLike
from childspace.inputs import _validate as V
from childspace.inputs.attributes import read_attributes
from childspace.inputs.crosscheck import datum_cross_check
from childspace.inputs.geometry import (
    POLYGON_TYPES,
    apply_study_area,
    excluded_rows,
    footprints,
    load_points_or_layer,
    repair_geometries,
    to_points,
)
from childspace.inputs.pilots import PILOT_KINDS, load_pilots
from childspace.inputs.projection import WGS84
from childspace.inputs.standards import Standards, default_standards
from childspace.inputs.tables import (
    ROW_COLUMN,
    Source,
    assemble_layer,
    describe_mask_rows,
    finish_layer,
    make_ids,
    map_columns,
    normalise_code,
    read_table_or_layer,
    validate_report,
)

__all__ = [
    "PILOT_KINDS",
    "Source",
    "combine_facilities",
    "excluded_rows",
    "footprints",
    "load_boundaries",
    "load_facilities",
    "load_origins",
    "load_pilots",
    "read_table_or_layer",
    "validate_report",
]

# ================================================================================================================
# Loaders
# ================================================================================================================

_LEVEL_LABELS = {
    "township": ("township", "town", "street", "乡镇", "镇", "乡", "街道", "镇街", "乡镇街道", "镇街道"),
    "community": ("community", "village", "社区", "村", "村社区", "村(社区)", "社区(村)", "居委会", "村委会"),
}


def _level_of(value: Any) -> str | None:
    key = V.norm_key(V.clean_str(value) or "")
    for level, labels in _LEVEL_LABELS.items():
        if key in {V.norm_key(x) for x in labels}:
            return level
    return None


def _blank_children(units: gpd.GeoDataFrame, info: dict, column: Any) -> None:
    """Warn about units whose child count is blank: they count no children wherever counts are used (e.g. as
    origins when there is no origins file). The children they may hold are estimated from their population and
    the children's share of the population in the other units, when both are known."""
    children = units["children"].to_numpy(dtype="float64")
    blank = np.isnan(children)
    if not blank.any():
        return
    n, total = int(blank.sum()), len(units)
    known = float(np.nansum(children))
    estimate = ""
    if "population" in units.columns:
        pop = units["population"].to_numpy(dtype="float64")
        both = ~blank & np.isfinite(pop) & (pop > 0)
        if both.any() and np.isfinite(pop[blank]).any():
            share = children[both].sum() / pop[both].sum()
            est = float(np.nansum(pop[blank]) * share)
            estimate = (
                f"; from their population ({np.nansum(pop[blank]):,.0f}) and the children's share elsewhere "
                f"({share:.1%}) they hold about {est:,.0f} children, "
                f"{est / (known + est):.0%} of the total"
            )
    V.log_issue(
        info["issues"],
        "children_blank",
        f"{n} of {total} units have no child count in column {column!r} "
        f"(blank, not 0): {describe_mask_rows(units, blank, info, 'name')}; they count 0 children where counts are "
        f"used ({known:,.0f} children counted in the others){estimate} -> fill in the counts (0 where "
        "there are none)",
        ids=units.loc[blank, "unit_id"].tolist(),
        path=info["path"],
    )


def _duplicate_names(units: gpd.GeoDataFrame, info: dict) -> None:
    """Warn about units sharing a name (compared normalised): whatever names units without their codes (a pilot
    register without 社区编码) cannot tell them apart, and matches none of them."""
    key = units["name"].map(V.norm_key)
    dup = key.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    groups = units.loc[dup].groupby(key[dup], sort=False)
    shown = "; ".join(
        f"{g['name'].iat[0]} ({describe_mask_rows(g, np.ones(len(g), bool), info)}, ids {', '.join(g['unit_id'])})"
        for _, g in list(groups)[:5]
    )
    more = f" and {groups.ngroups - 5} more names" if groups.ngroups > 5 else ""
    V.log_issue(
        info["issues"],
        "duplicate_names",
        f"{int(dup.sum())} units share {groups.ngroups} {'name' if groups.ngroups == 1 else 'names'}: "
        f"{shown}{more}; a file that names units without "
        "their codes (a pilot register without 社区编码) cannot tell them apart and matches none of them -> "
        "give such files the units' codes, or rename the units apart",
        ids=units.loc[dup, "unit_id"].tolist(),
        path=info["path"],
    )


def load_boundaries(
    path: Source,
    level: str | None = None,
    layer: str | int | None = None,
    crs: CRSLike | None = None,
    encoding: str | None = None,
    columns: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    max_rows: int | None = None,
    coords: str = "wgs84",
) -> gpd.GeoDataFrame:
    """Read administrative units (townships or villages/communities) as polygons.

    Parameters
    ----------
    path : str, Path or GeoDataFrame
        GeoPackage, GeoJSON or Shapefile (polygons), any CRS.
    level : {"township", "community"}, optional
        The level of all units; default from a ``level``/``级别`` column, else from the codes (12-digit codes
        ending in ``000`` are townships), else from the name suffixes (街道/镇/乡 vs 社区/村).
    layer : str or int, optional
        Layer of a multi-layer file.
    crs : optional
        CRS of a file that has none (e.g. ``"EPSG:4549"``); overrides the file's CRS with a warning.
    encoding : str, optional
        Text encoding of a Shapefile .dbf without .cpg; default detected.
    columns : mapping, optional
        canonical name -> input column, for columns the built-in names do not catch.
    max_rows : int, optional
        Refuse a file with more features (default ``childspace.inputs.tables.MAX_ROWS``, 500,000).
    coords : {"wgs84", "gcj02", "bd09"} or alias
        Datum of lon/lat outlines drawn on Amap/Baidu; converted to WGS84.

    Returns
    -------
    GeoDataFrame
        EPSG:4326; ``unit_id`` (str: the code when there is one, else the id column, else ``U0001``...), ``name``,
        ``level``, optional ``code`` (12-digit; 9-digit township codes are padded with ``000``), ``parent_id``
        (same padding), ``population``, ``children`` (float; blank stays NaN, with a warning counting the units
        and the children they may hold); other input columns kept; geometry (Multi)Polygon.
        Invalid polygons are repaired (make_valid) with a warning; a polygon without area, or a unit without
        geometry, is an error naming it.
    """
    gdf, info, used = load_points_or_layer(
        path,
        layer=layer,
        sheet=sheet,
        encoding=encoding,
        crs=crs,
        coords=coords,
        columns=columns,
        max_rows=max_rows,
    )
    path_ = info["path"]
    mapping = map_columns(
        gdf, ["name", "code", "id", "parent_id", "population", "children", "level"], ["name"], info, columns
    )
    name_col = mapping["name"]
    types = gdf.geometry.geom_type.to_numpy()
    nonpoly = ~np.isin(types, list(POLYGON_TYPES))
    if nonpoly.any():
        kinds = sorted(set(types[nonpoly].astype(str)))
        raise DataError(
            f"boundaries must be polygons; found {'/'.join(kinds)} at {describe_mask_rows(gdf, nonpoly, info, name_col)}",
            path=path_,
            fix="use the polygon layer of the administrative units",
        )
    out = assemble_layer(gdf, mapping, used)
    out["name"] = out["name"].map(V.clean_str)
    blank = out["name"].isna().to_numpy()
    if blank.any():
        raise DataError(
            f"empty name at {describe_mask_rows(out, blank, info)}", path=path_, fix="fill in the unit names"
        )
    if "code" in out.columns:
        out["code"] = out["code"].map(normalise_code).astype(object)
    if "parent_id" in out.columns:
        out["parent_id"] = out["parent_id"].map(normalise_code).astype(object)
    id_src = (
        "code"
        if "code" in out.columns and out["code"].notna().all()
        else ("id" if "id" in out.columns else None)
    )
    out["unit_id"] = make_ids(
        out, id_src, "U", info, "name", label=repr(mapping.get(id_src)) if id_src else None
    )
    _duplicate_names(out, info)
    if "id" in out.columns and id_src != "id":
        out = out.rename(columns={"id": "id_input"})
    elif "id" in out.columns:
        out = out.drop(columns="id")
    for col in ("population", "children"):
        if col in out.columns:
            num, bad = V.to_number(out[col])
            if bad.any() or (num < 0).any():
                bad = bad | (num < 0)
                raise DataError(
                    f"{col} is not a number ≥ 0 at {describe_mask_rows(out, bad, info, 'name')}",
                    path=path_,
                    fix=f"write whole numbers in the {mapping[col]!r} column",
                )
            out[col] = num
    if "children" in out.columns:
        _blank_children(out, info, mapping["children"])
        kids = out["children"].to_numpy(dtype="float64")
        if np.isfinite(kids).any() and np.nansum(kids) == 0:
            likely = V.child_count_columns(gdf, exclude=[mapping["children"]])
            V.log_issue(
                info["issues"],
                "children_zero",
                f"the children column {mapping['children']!r} is 0 in every unit: where unit counts are used (no "
                "[origins] file) no child is counted"
                + (f"; columns that look like child counts: {likely}" if likely else "")
                + " -> give the number of children (0-17) per unit, or name the column that holds it: "
                + V.column_setting("children", likely[0] if len(likely) == 1 else "<column>"),
                path=path_,
            )
    # level
    if level is not None:
        if level not in ("township", "community"):
            raise DataError(f"unknown level {level!r}", path=path_, fix="use level='township' or 'community'")
        out["level"] = level
    else:
        lv = pd.Series([None] * len(out), index=out.index, dtype=object)
        if "level" in out.columns:
            lv = out["level"].map(_level_of)
        if lv.isna().any() and "code" in out.columns:
            by_code = out["code"].map(
                lambda c: (
                    None
                    if c is None or not re.fullmatch(r"\d{12}", c)
                    else ("township" if c.endswith("000") else "community")
                )
            )
            lv = lv.fillna(by_code)
        if lv.isna().any():
            by_name = out["name"].map(
                lambda s: (
                    "township"
                    if re.search(r"(街道|镇|乡)$", s)
                    else ("community" if re.search(r"(社区|村|村委会|居委会)$", s) else None)
                )
            )
            lv = lv.fillna(by_name)
        if lv.isna().any():
            raise DataError(
                f"cannot tell township from community at {describe_mask_rows(out, lv.isna().to_numpy(), info, 'name')}",
                path=path_,
                fix="pass level='township' or level='community'",
            )
        out["level"] = lv.astype(object)
    out = repair_geometries(out, info, out["unit_id"], polygonal=True, name_col="name", zero_area="error")
    canonical = ["unit_id", "name", "level", "parent_id", "code", "population", "children"]
    return finish_layer(out, canonical, info, "boundaries")


def load_facilities(
    path: Source,
    layer: str | int | None = None,
    crs: CRSLike | None = None,
    coords: str = "wgs84",
    encoding: str | None = None,
    columns: Mapping[str, str] | None = None,
    category: str | None = None,
    study_area: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None = None,
    sheet: str | int | None = None,
    standards: Standards | None = None,
    strict: bool = False,
    max_rows: int | None = None,
) -> gpd.GeoDataFrame:
    """Read facilities (schools, parks, mother-and-baby rooms, ...) as points.

    Parameters
    ----------
    path : str, Path or DataFrame
        CSV/Excel with lon/lat columns (经度/纬度, lng/lat, lon/lat, longitude/latitude, x/y, X坐标/Y坐标) or a
        GIS layer of points or polygons.
    layer, sheet : optional
        Layer of a multi-layer file; Excel sheet (default the first).
    crs : optional
        CRS of coordinates given without one (tables: default lon/lat EPSG:4326; e.g. ``"EPSG:4549"`` for
        projected X/Y columns).
    coords : {"wgs84", "gcj02", "bd09"} or alias
        Datum of lon/lat (``"amap"``/``"高德"`` = GCJ-02, ``"baidu"``/``"百度"`` = BD-09); converted to WGS84. A
        ``坐标系`` column overrides it per row. CGCS2000 is treated as WGS84 (they differ by centimetres).
    encoding : str, optional
        Text encoding; default detected.
    columns : mapping, optional
        canonical name -> input column (e.g. ``{"name": "学校", "lon": "E", "lat": "N"}``).
    category : str, optional
        Category of every row (any known label); then a category column of the file is kept as ``subtype``.
    study_area : GeoDataFrame, GeoSeries or shapely geometry, optional
        Facilities not inside it are kept out, warned about and listed in ``attrs["excluded"]`` (GeoJSON
        text; :func:`excluded_rows` gives them as a GeoDataFrame).
    standards : Standards, optional
        For the category labels; default the bundled standards.
    strict : bool
        Refuse a file with rows without coordinates (default: they are left out with a warning naming them,
        unless they are more than half of the rows).
    max_rows : int, optional
        Refuse a file with more rows (default ``childspace.inputs.tables.MAX_ROWS``, 500,000).

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points; ``facility_id`` (str; the file's id column, else ``F0001``...), ``name``, ``category``
        (canonical), ``subtype`` (the label as written), ``source`` (``"user"``), optional ``capacity``,
        ``address``, ``area_ha``; facilities drawn as polygons become representative points with ``area_ha``
        computed in the local metric CRS and their outline kept as WKB in the column ``footprint`` (see
        :func:`footprints`). Other input columns are kept.
    """
    std = standards or default_standards()
    gdf, info, used = load_points_or_layer(
        path,
        layer=layer,
        sheet=sheet,
        encoding=encoding,
        crs=crs,
        coords=coords,
        columns=columns,
        max_rows=max_rows,
        missing_rows="error" if strict else "drop",
        near=study_area,
    )
    path_ = info["path"]
    required = ["name"] if category is not None else ["name", "category"]
    mapping = map_columns(
        gdf,
        ["id", "name", "category", "address", "capacity", "area_ha", "subtype", "source"],
        required,
        info,
        columns,
    )
    out = assemble_layer(gdf, mapping, used)
    out["name"] = out["name"].map(V.clean_str)
    blank = out["name"].isna().to_numpy()
    if blank.any():
        raise DataError(
            f"empty name at {describe_mask_rows(out, blank, info)}",
            path=path_,
            fix="fill in the facility names",
        )
    if category is not None:
        canon = std.canonical(category)
        if "category" in out.columns:
            labels = out["category"].map(V.clean_str)
            if "subtype" not in out.columns:
                out["subtype"] = labels
            out = out.drop(columns="category")
        elif "subtype" not in out.columns:
            out["subtype"] = category
        out["category"] = canon
    else:
        labels = out["category"].map(V.clean_str)
        blank = labels.isna().to_numpy()
        if blank.any():
            raise DataError(
                f"empty category at {describe_mask_rows(out, blank, info, 'name')}",
                path=path_,
                fix="fill in the category (类型) of these rows, or pass category=",
            )
        lookup: dict[str, str] = {}
        for lab in labels.unique():
            try:
                lookup[lab] = std.canonical(lab)
            except DataError as exc:
                bad = (labels == lab).to_numpy()
                raise DataError(
                    f"{exc.message} (at {describe_mask_rows(out, bad, info, 'name')})",
                    path=path_,
                    fix=exc.fix,
                ) from None
        if "subtype" not in out.columns:
            out["subtype"] = labels
        out["category"] = labels.map(lookup)
    out["facility_id"] = make_ids(
        out, "id" if "id" in out.columns else None, "F", info, "name", label=repr(mapping.get("id"))
    )
    info["generated_ids"] = "id" not in out.columns
    if "id" in out.columns:
        out = out.drop(columns="id")
    if "source" not in out.columns:
        out["source"] = "user"
    if "capacity" in out.columns:
        num, bad = V.to_number(out["capacity"])
        if bad.any():
            raise DataError(
                f"capacity is not a number at {describe_mask_rows(out, bad, info, 'name')}",
                path=path_,
                fix=f"write numbers in the {mapping['capacity']!r} column",
            )
        out["capacity"] = num
    if "address" in out.columns:
        out["address"] = out["address"].map(V.clean_str).astype(object)
    out = read_attributes(
        out, info["issues"], path_, columns
    )  # places, ownership, 普惠, grade, 示范型, venue size
    out = repair_geometries(out, info, out["facility_id"], polygonal=True, name_col="name", zero_area="point")
    out, area, footprint = to_points(out, info, out["facility_id"], "facilities")
    if not np.all(np.isnan(area)) or "area_ha" in out.columns:
        given = V.to_number(out["area_ha"])[0] if "area_ha" in out.columns else np.full(len(out), np.nan)
        computed = ~np.isnan(area)
        differ = computed & np.isfinite(given) & (np.abs(given - area) > 0.1 * np.maximum(area, 1e-9))
        if differ.any():
            ids = out.loc[differ, "facility_id"].tolist()
            V.log_issue(
                info["issues"],
                "area_ha",
                f"area_ha of {int(differ.sum())} polygons differs by more than "
                f"10% from the polygon area; the polygon area is used (ids: {', '.join(ids[:20])})",
                ids=ids,
                path=path_,
            )
        out["area_ha"] = np.where(computed, area, given)
    if any(v is not None for v in footprint):
        out["footprint"] = footprint
    out = apply_study_area(out, study_area, info, "facility_id", "facilities")
    canonical = ["facility_id", "name", "category", "subtype", "source", "capacity", "address", "area_ha"]
    return finish_layer(out, canonical, info, "facilities")


def load_origins(
    path: Source,
    layer: str | int | None = None,
    crs: CRSLike | None = None,
    coords: str = "wgs84",
    encoding: str | None = None,
    columns: Mapping[str, str] | None = None,
    study_area: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None = None,
    sheet: str | int | None = None,
    strict: bool = False,
    max_rows: int | None = None,
) -> gpd.GeoDataFrame:
    """Read where children live (homes, residential buildings or blocks) with their number of children.

    Parameters
    ----------
    path : str, Path or DataFrame
        Points (or polygons, reduced to representative points with a warning) with a children column
        (children/儿童数/儿童人数); optional ``origin_id``/编号 and ``unit_id``.
    layer, crs, coords, encoding, columns, sheet, study_area, strict, max_rows : optional
        As in :func:`load_facilities`.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points; ``origin_id`` (str; generated ``O0001``... when absent), ``children`` (int64 ≥ 0;
        fractional counts are rounded with a warning), optional ``unit_id``.
    """
    # the cyclic collector paused: a county's 300k home points are tracked objects, whose creation triggers a
    # young collection every 700 of them and older ones that walk every tracked object (0.25-0.5 CPU s of the
    # county's loading); nothing built here makes a reference cycle. (A with block, not a wrapper function: the
    # warnings keep pointing at the caller.)
    with gc_paused():
        gdf, info, used = load_points_or_layer(
            path,
            layer=layer,
            sheet=sheet,
            encoding=encoding,
            crs=crs,
            coords=coords,
            columns=columns,
            name_hint=None,
            max_rows=max_rows,
            missing_rows="error" if strict else "drop",
            near=study_area,
        )
        path_ = info["path"]
        aliases_id = ("origin_id", "id", "编号", "序号")
        found_id = V.find_column(gdf.columns, "id", columns, aliases={"id": aliases_id})
        mapping = map_columns(
            gdf, ["children", "unit_id"], ["children"], info, columns, skip=[found_id] if found_id else []
        )
        if found_id is not None:
            mapping = {"id": found_id, **mapping}
        out = assemble_layer(gdf, mapping, used)
        num, bad = V.to_number(out["children"])
        nan = ~np.isfinite(num) & ~bad
        if len(num) and (nan.all() or (np.nan_to_num(num, nan=0.0) == 0).all()) and not bad.any():
            raise _no_child_counts(gdf, mapping["children"], nan.all(), len(num), path_)
        if bad.any() or nan.any():
            raise DataError(
                f"children is empty or not a number at {describe_mask_rows(out, bad | nan, info)}",
                path=path_,
                fix=f"write the number of children (0 if none) in the {mapping['children']!r} column",
            )
        neg = num < 0
        if neg.any():
            raise DataError(
                f"negative number of children at {describe_mask_rows(out, neg, info)}",
                path=path_,
                fix="children must be ≥ 0",
            )
        frac = num != np.round(num)
        if frac.any():
            V.log_issue(
                info["issues"],
                "children_rounded",
                f"{int(frac.sum())} fractional children counts rounded "
                f"to whole children (total {num.sum():.1f} -> {np.round(num).sum():.0f})",
                ids=out.loc[frac, ROW_COLUMN].tolist(),
                path=path_,
            )
        out["children"] = np.round(num).astype("int64")
        out["origin_id"] = make_ids(
            out, "id" if "id" in out.columns else None, "O", info, label=repr(mapping.get("id"))
        )
        if "id" in out.columns:
            out = out.drop(columns="id")
        if "unit_id" in out.columns:
            out["unit_id"] = out["unit_id"].map(normalise_code).astype(object)
        out, _, _ = to_points(out, info, out["origin_id"], "origins")
        out = apply_study_area(out, study_area, info, "origin_id", "origins")
        return finish_layer(out, ["origin_id", "children", "unit_id"], info, "origins")


def _no_child_counts(gdf: pd.DataFrame, column: Any, blank: bool, n: int, path: Any) -> DataError:
    """The error for an origins file whose children column counts no child at all (every row 0 or blank): a
    wrong column exported, or a template never filled in. Coverage of 0 children would be 0/0 everywhere."""
    likely = V.child_count_columns(gdf, exclude=[column])
    what = "is empty" if blank else "is 0"
    where = (
        f"; columns that look like child counts: {likely}"
        if likely
        else "; no other column looks like a child count"
    )
    return DataError(
        f"the children column {column!r} {what} in all {n:,} rows: no child is counted (a wrong column "
        f"exported, or counts not filled in){where}",
        path=path,
        fix="export the number of children (0-17) per home, or name the column that holds it: "
        + V.column_setting("children", likely[0] if len(likely) == 1 else "<column>"),
    )


def combine_facilities(
    layers: Sequence[gpd.GeoDataFrame], files: Sequence[str | Path | None] | None = None
) -> gpd.GeoDataFrame:
    """Put facilities loaded from several files into one layer, keeping every file's repairs and exclusions.

    Parameters
    ----------
    layers : sequence of GeoDataFrame
        Layers from :func:`load_facilities`.
    files : sequence, optional
        The file of each layer (default ``attrs["source"]``); its name goes into ``source_file``.

    Returns
    -------
    GeoDataFrame
        EPSG:4326; the rows of all layers with ``source_file``. An id found in more than one file is made unique
        by prefixing the file's stem (``b:F01``), with a warning naming the files and the ids. ``attrs["issues"]``
        holds every file's issues (and this one's: ids in several files; a file whose points sit the GCJ-02 or
        BD-09 shift away from the same facilities in the other files, see
        :func:`~childspace.inputs.crosscheck.datum_cross_check`); ``attrs["excluded"]``/``["n_excluded"]`` every
        file's exclusions.
    """
    if not layers:
        raise DataError("no facility layers to combine", fix="load at least one facility file")
    names = (
        [Path(str(f)).name for f in files]
        if files is not None
        else [Path(str(g.attrs.get("source", f"layer {i + 1}"))).name for i, g in enumerate(layers)]
    )
    parts = []
    for g, name in zip(layers, names):
        part = gpd.GeoDataFrame(g.to_crs(WGS84) if g.crs is not None else g, copy=True)
        part.attrs = {}
        part["source_file"] = name
        parts.append(part)
    fac = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=WGS84)
    issues = [dict(i) for g in layers for i in g.attrs.get("issues", [])]
    dup = fac["facility_id"].astype(str).duplicated(keep=False).to_numpy()
    if dup.any():
        generated = {name for g, name in zip(layers, names) if g.attrs.get("generated_ids")}
        files_of: dict[str, list[str]] = {}
        for fid, name in zip(fac.loc[dup, "facility_id"].astype(str), fac.loc[dup, "source_file"]):
            if name not in generated:  # ids numbered by the loader (F0001...) are expected to repeat
                files_of.setdefault(fid, [])
                if name not in files_of[fid]:
                    files_of[fid].append(name)
        files_of = {fid: fs for fid, fs in files_of.items() if len(fs) > 1}
        stem = fac["source_file"].str.rsplit(".", n=1).str[0]
        fac.loc[dup, "facility_id"] = stem[dup] + ":" + fac.loc[dup, "facility_id"].astype(str)
        if files_of:
            shown = "; ".join(f"{fid} in {' and '.join(fs)}" for fid, fs in list(files_of.items())[:10])
            more = f" and {len(files_of) - 10} more" if len(files_of) > 10 else ""
            involved = list(dict.fromkeys(f for fs in files_of.values() for f in fs))
            example = f"{Path(files_of[next(iter(files_of))][1]).stem}:{next(iter(files_of))}"
            V.log_issue(
                issues,
                "duplicate_ids_across_files",
                f"{len(files_of)} facility ids are used in more than "
                f"one file ({shown}{more}); they are prefixed with their file's name (e.g. {example}) to "
                "keep them apart -> give each file its own ids",
                ids=sorted(files_of),
                path=", ".join(involved),
            )
    # a file picked on Amap/Baidu and loaded as WGS84 sits the datum's shift away from the same facilities in
    # the other files: said here, when the files are read (check), not only once OSM and the network are there
    paths = dict(zip(names, files)) if files is not None else {}
    chk = datum_cross_check(fac)
    for r in chk[chk["suspect"] != ""].itertuples():
        V.log_issue(issues, "datum", r.message, ids=[r.group], path=paths.get(r.group, r.group))
    feats = [
        f for g in layers if g.attrs.get("excluded") for f in json.loads(g.attrs["excluded"])["features"]
    ]
    fac.attrs = {
        "source": ", ".join(dict.fromkeys(str(g.attrs.get("source", "")) for g in layers)),
        "layer": "facilities",
        "encoding": None,
        "issues": issues,
        "excluded": json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False)
        if feats
        else "",
        "n_excluded": int(sum(int(g.attrs.get("n_excluded", 0)) for g in layers)),
    }
    return fac
