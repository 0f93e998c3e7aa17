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
  gives a GeoDataFrame) with their number in ``gdf.attrs["n_excluded"]``; anything that cannot be repaired is a :class:`~childspace.DataError`
  naming the file, the rows and the fix.

The input files and objects are never modified.
"""

from __future__ import annotations

import io as _io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from childspace._errors import DataError
from childspace.inputs import _validate as V
from childspace.inputs.datum import normalise_datum, to_wgs84
from childspace.inputs.projection import WGS84, local_crs_for
from childspace.inputs.register import normalise_unit_name
from childspace.inputs.standards import Standards, default_standards

_ROW = "__row__"
_POLY_TYPES = {"Polygon", "MultiPolygon"}

Source = str | Path | pd.DataFrame

PILOT_KINDS = ("community", "school", "hospital", "park", "venue", "street", "enterprise")
#: Pilot kind labels; the first block is matched exactly, then a label containing one of the Chinese words is
#: accepted (``"儿童友好社区"`` -> community).
_KIND_LABELS: dict[str, tuple[str, ...]] = {
    "community": ("社区", "村社区", "村", "村(社区)", "社区(村)", "城乡社区", "community", "village"),
    "school": ("学校", "幼儿园", "小学", "中学", "初中", "school", "kindergarten"),
    "hospital": ("医院", "妇幼保健院", "hospital"),
    "park": ("公园", "绿地", "park"),
    "venue": ("场馆", "图书馆", "少年宫", "博物馆", "科技馆", "文化馆", "青少年宫", "venue", "library"),
    "street": ("街区", "商圈", "街道", "步行街", "street", "block"),
    "enterprise": ("企业", "公司", "enterprise", "company"),
}
_BATCH_YEARS = {1: 2022, 2: 2023, 3: 2024, 4: 2025}


# ================================================================================================================
# Reading
# ================================================================================================================

def _check_path(path: Source) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError("file not found", path=p, fix="check the path and the file name (and its extension)")
    if p.is_dir() and p.suffix.lower() != ".gdb":
        raise DataError("is a folder, not a data file", path=p, fix="give the path of the file inside it")
    return p


def _header_row(rows: list[list[Any]], limit: int = 10) -> int:
    """The first row (of the first ``limit``) with at least two cells that are known column names."""
    known = {V.norm_key(a) for names in V.ALIASES.values() for a in names}
    for i, row in enumerate(rows[:limit]):
        hits = sum(1 for cell in row if not V.is_blank(cell) and V.norm_key(cell) in known)
        if hits >= 2:
            return i
    return 0


def _frame_from_rows(raw: pd.DataFrame, first_line: int) -> tuple[pd.DataFrame, int]:
    """Turn a header-less sheet into a frame: find the header row, name columns, number the data rows."""
    rows = raw.head(10).values.tolist()
    h = _header_row(rows)
    names: list[str] = []
    for j, cell in enumerate(raw.iloc[h].tolist() if len(raw) else []):
        name = V.clean_str(cell) or f"column_{j + 1}"
        base, k = name, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    df = raw.iloc[h + 1:].copy()
    df.columns = names
    df[_ROW] = np.arange(h + 1, h + 1 + len(df)) + first_line
    blank = np.ones(len(df), dtype=bool)
    for col in df.columns.drop(_ROW):
        cell = df[col].astype("string")
        blank &= (cell.isna() | cell.str.strip().eq("")).fillna(True).to_numpy(dtype=bool)
    df = df.loc[~blank].reset_index(drop=True)
    return df, h


def read_table_or_layer(path: Source, layer: str | int | None = None, sheet: str | int | None = None,
                        encoding: str | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a table (CSV/Excel) or a vector layer (GeoPackage/GeoJSON/Shapefile/...) as it is.

    Parameters
    ----------
    path : str, Path or DataFrame
        The file; a (Geo)DataFrame is copied and used as it is.
    layer : str or int, optional
        Layer of a multi-layer source (GeoPackage); default the first, with a warning when there are several.
    sheet : str or int, optional
        Excel sheet; default the first.
    encoding : str, optional
        Text encoding; default detected (CSV: BOM / UTF-8 / GB18030; Shapefile: .cpg, else from the .dbf bytes).

    Returns
    -------
    (DataFrame or GeoDataFrame, dict)
        The rows, with a column ``__row__`` holding the row number in the file (tables: the spreadsheet row / text
        line; layers: the feature number from 1), and information about the read (``path``, ``kind``
        ``"table"``/``"layer"``, ``encoding``, ``row_word``).
    """
    if isinstance(path, pd.DataFrame):
        df = path.copy()
        df[_ROW] = np.arange(1, len(df) + 1)
        kind = "layer" if isinstance(path, gpd.GeoDataFrame) else "table"
        return df, {"path": "<DataFrame>", "kind": kind, "encoding": None, "row_word": "row", "issues": []}
    p = _check_path(path)
    suffix = p.suffix.lower()
    info: dict[str, Any] = {"path": p, "encoding": encoding}
    if suffix in (".csv", ".txt", ".tsv"):
        try:
            raw_bytes = p.read_bytes()
        except OSError as exc:
            raise DataError(f"cannot read the file ({exc})", path=p, fix="close it in other programs") from None
        if encoding:
            try:
                text = raw_bytes.decode(encoding)
            except (UnicodeDecodeError, LookupError) as exc:
                raise DataError(f"cannot decode the file as {encoding} ({exc})", path=p,
                                fix="leave encoding= out to detect it, or give the right one") from None
            used = encoding
        else:
            text, used = V.decode_text(raw_bytes)
        if not text.strip():
            raise DataError("the file is empty", path=p, fix="export the table again with its rows")
        first = text.split("\n", 1)[0]
        sep = "\t" if first.count("\t") > first.count(",") else (";" if first.count(";") > first.count(",")
                                                                   else ",")
        try:
            raw = pd.read_csv(_io.StringIO(text), header=None, dtype=object, sep=sep, keep_default_na=False,
                              na_values=[""], skip_blank_lines=False)
        except (pd.errors.ParserError, ValueError) as exc:
            raise DataError(f"cannot parse the CSV ({exc})", path=p,
                            fix="check the separator and quoting (export from Excel as 'CSV UTF-8')") from None
        df, _ = _frame_from_rows(raw, first_line=1)
        info.update(kind="table", encoding=used, row_word="line")
    elif suffix in (".xlsx", ".xlsm", ".xls"):
        try:
            raw = pd.read_excel(p, sheet_name=0 if sheet is None else sheet, header=None, dtype=object)
        except ValueError as exc:
            raise DataError(f"cannot read the sheet ({exc})", path=p, fix="check sheet= (name or 0-based number)") \
                from None
        except Exception as exc:  # openpyxl raises many types for damaged files
            raise DataError(f"cannot read the Excel file ({type(exc).__name__}: {exc})", path=p,
                            fix="open and save it again as .xlsx") from None
        df, _ = _frame_from_rows(raw, first_line=1)
        info.update(kind="table", row_word="row")
    else:
        kwargs: dict[str, Any] = {}
        if layer is None:
            try:
                layers = pyogrio.list_layers(p)
            except Exception as exc:
                raise DataError(f"cannot open the file as a GIS layer ({exc})", path=p,
                                fix="use GeoPackage, GeoJSON, Shapefile, CSV or .xlsx") from None
            if len(layers) > 1:
                names = ", ".join(str(n) for n in layers[:, 0])
                V.log_issue(info.setdefault("issues", []), "layer",
                            f"{len(layers)} layers ({names}); reading the first, {layers[0, 0]}", path=p)
                kwargs["layer"] = layers[0, 0]
        else:
            kwargs["layer"] = layer
        if encoding is None and suffix == ".shp":
            encoding, how = V.shapefile_encoding(p)
            info["encoding_basis"] = how
        if encoding is not None:
            kwargs["encoding"] = encoding
        try:
            df = gpd.read_file(p, engine="pyogrio", **kwargs)
        except Exception as exc:
            raise DataError(f"cannot read the file ({type(exc).__name__}: {exc})", path=p,
                            fix="check the file is a complete GeoPackage/GeoJSON/Shapefile (.shp with .shx, .dbf)"
                                " and the layer name") from None
        info.update(kind="layer", encoding=encoding, row_word="feature")
        df[_ROW] = np.arange(1, len(df) + 1)
    info.setdefault("issues", [])
    return df, info


# ================================================================================================================
# Coordinates and geometry
# ================================================================================================================

def _rows(df: pd.DataFrame, mask: np.ndarray, info: dict, name_col: str | None = None) -> str:
    sub = df.loc[np.asarray(mask)]
    names = sub[name_col].tolist() if name_col and name_col in sub.columns else None
    return V.describe_rows(sub[_ROW].tolist(), names).replace("row", info.get("row_word", "row"), 1)


def _is_geographic(crs: Any) -> bool:
    return CRS.from_user_input(crs).is_geographic


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= 73) & (lon <= 136) & (lat >= 17) & (lat <= 54)


def _resolve_crs(x: np.ndarray, y: np.ndarray, file_crs: Any, crs: Any, info: dict, warn: bool = True) -> Any:
    path = info["path"]
    if crs is not None:
        try:
            user = CRS.from_user_input(crs)
        except Exception as exc:
            raise DataError(f"crs={crs!r} is not a CRS ({exc})", path=path, fix="give e.g. crs='EPSG:4549'") \
                from None
        if file_crs is not None and not CRS.from_user_input(file_crs).equals(user):
            V.log_issue(info["issues"], "crs", f"the file says its CRS is {CRS.from_user_input(file_crs).name}; "
                        f"using crs={crs!r} as asked", path=path)
        return user
    if file_crs is not None:
        return file_crs
    guessed = V.guess_crs(x, y, path)
    if warn:  # a lon/lat table is EPSG:4326 by nature; a GIS layer without CRS deserves a warning
        V.log_issue(info["issues"], "crs", "no CRS in the file; all coordinates are lon/lat degrees, read as "
                    "EPSG:4326 (WGS84/CGCS2000)", path=path)
    return guessed


def _datum_per_row(df: pd.DataFrame, coords: str, datum_col: str | None, info: dict) -> np.ndarray:
    default = normalise_datum(coords)
    out = np.full(len(df), default, dtype=object)
    if datum_col is None:
        return out
    values = df[datum_col].map(V.clean_str)
    for value in values.dropna().unique():
        try:
            d = normalise_datum(value)
        except ValueError:
            bad = (values == value).to_numpy()
            raise DataError(f"unknown coordinate system {value!r} in column {datum_col!r} at "
                            f"{_rows(df, bad, info)}", path=info["path"],
                            fix="use WGS84, GCJ-02 (高德/腾讯) or BD-09 (百度), or leave the cell empty") from None
        out[(values == value).to_numpy()] = d
    return out


def _points_from_table(df: pd.DataFrame, info: dict, columns: Mapping[str, str] | None, coords: str,
                       crs: Any, name_col: str | None, allow_missing: bool = False
                       ) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Build points (EPSG:4326) from lon/lat (or x/y) columns; returns the layer and the columns consumed."""
    path = info["path"]
    lon_col = V.find_column(df.columns, "lon", columns)
    lat_col = V.find_column(df.columns, "lat", columns, exclude=[lon_col])
    if lon_col is None or lat_col is None:
        found = [c for c in df.columns if c != _ROW]
        which = "longitude" if lon_col is None else "latitude"
        raise DataError(f"no {which} column; found columns {found}; accepted names: lon = {V.accepted('lon')}, "
                        f"lat = {V.accepted('lat')}", path=path,
                        fix="rename the coordinate columns or pass columns={'lon': ..., 'lat': ...}")
    x, badx = V.to_number(df[lon_col])
    y, bady = V.to_number(df[lat_col])
    bad = badx | bady
    if bad.any():
        raise DataError(f"coordinates that are not numbers at {_rows(df, bad, info, name_col)}", path=path,
                        fix="write decimal degrees (e.g. 120.9612) in the lon/lat columns")
    missing = ~(np.isfinite(x) & np.isfinite(y))
    if missing.any() and not allow_missing:
        raise DataError(f"empty coordinates at {_rows(df, missing, info, name_col)}", path=path,
                        fix="fill in the longitude and latitude of these rows or delete them")
    datum_col = V.find_column(df.columns, "datum", columns)
    degrees = (np.abs(x) <= 180) & (np.abs(y) <= 180)
    if crs is None and degrees[~missing].mean() >= 0.5:
        crs_used: Any = CRS.from_epsg(4326)  # lon/lat columns; stray values are reported row by row below
    else:
        crs_used = _resolve_crs(x[~missing], y[~missing], None, crs, info, warn=False)
    x, y = x.copy(), y.copy()
    if _is_geographic(crs_used):
        swap = ~missing & (((np.abs(y) > 90) & (np.abs(x) <= 90)) | (_in_china(y, x) & ~_in_china(x, y)))
        if swap.any():
            x[swap], y[swap] = y[swap].copy(), x[swap].copy()
            ids = df.loc[swap, _ROW].tolist()
            V.log_issue(info["issues"], "swapped_lonlat", f"longitude and latitude swapped at "
                        f"{_rows(df, swap, info, name_col)}; swapped back", ids=ids, path=path)
        out = ~missing & ((np.abs(x) > 180) | (np.abs(y) > 90))
        if out.any():
            raise DataError(f"coordinates out of range (|lon| > 180 or |lat| > 90) at "
                            f"{_rows(df, out, info, name_col)}", path=path, fix="correct the coordinates")
        datums = _datum_per_row(df, coords, datum_col, info)
        for d in ("gcj02", "bd09"):
            m = (datums == d) & ~missing
            if m.any():
                x[m], y[m] = to_wgs84(x[m], y[m], d)
        geoms = shapely.points(x, y)
        geoms[missing] = None
        gs = gpd.GeoSeries(geoms, crs=crs_used).to_crs(WGS84)
    else:
        if normalise_datum(coords) != "wgs84":
            raise DataError(f"coords={coords!r} applies to lon/lat degrees, but crs={crs!r} is projected",
                            path=path, fix="leave coords= out for projected coordinates")
        geoms = shapely.points(x, y)
        geoms[missing] = None
        gs = gpd.GeoSeries(geoms, crs=crs_used).to_crs(WGS84)
        lon, lat = gs.x.to_numpy(), gs.y.to_numpy()
        ok = ~missing
        if ok.any() and not _in_china(lon[ok], lat[ok]).any():
            alt = gpd.GeoSeries(shapely.points(y, x), crs=crs_used).to_crs(WGS84)
            if _in_china(alt.x.to_numpy()[ok], alt.y.to_numpy()[ok]).all():
                gs = alt
                gs[missing] = None
                V.log_issue(info["issues"], "swapped_xy", f"x and y read as northing/easting (surveying order: "
                            f"X = north); swapped for all {int(ok.sum())} rows", path=path)
    used = [lon_col, lat_col] + ([datum_col] if datum_col else [])
    gdf = gpd.GeoDataFrame(df.drop(columns=used), geometry=gs.values, crs=WGS84)
    return gdf, used


def _layer_to_wgs84(gdf: gpd.GeoDataFrame, info: dict, crs: Any, coords: str, name_col: str | None,
                    allow_missing: bool = False) -> gpd.GeoDataFrame:
    path = info["path"]
    geom = gdf.geometry
    missing = (geom.isna() | geom.is_empty).to_numpy()
    if missing.any() and not allow_missing:
        raise DataError(f"empty geometry at {_rows(gdf, missing, info, name_col)}", path=path,
                        fix="draw these features or delete them")
    xy = shapely.get_coordinates(geom.values[~missing][:1000])
    crs_used = _resolve_crs(xy[:, 0], xy[:, 1], gdf.crs, crs, info)
    out = gdf.set_crs(crs_used, allow_override=True).to_crs(WGS84)
    d = normalise_datum(coords)
    if d != "wgs84":
        def conv(a: np.ndarray) -> np.ndarray:
            lon, lat = to_wgs84(a[:, 0], a[:, 1], d)
            return np.column_stack([lon, lat])
        out = out.set_geometry(shapely.transform(out.geometry.values, conv), crs=WGS84)
    return out


def _load_points_or_layer(path: Source, *, layer: Any, sheet: Any, encoding: str | None, crs: Any, coords: str,
                          columns: Mapping[str, str] | None, name_hint: str | None = "name",
                          allow_missing: bool = False) -> tuple[gpd.GeoDataFrame, dict, list[str]]:
    df, info = read_table_or_layer(path, layer=layer, sheet=sheet, encoding=encoding)
    if len(df) == 0:
        raise DataError("the layer has no rows", path=info["path"], fix="check the file, layer= or sheet=")
    name_col = V.find_column(df.columns, name_hint, columns) if name_hint else None
    is_layer = isinstance(df, gpd.GeoDataFrame) and df.geometry.notna().any()
    if is_layer:
        gdf = _layer_to_wgs84(df, info, crs, coords, name_col, allow_missing)
        used: list[str] = []
    else:
        if isinstance(df, gpd.GeoDataFrame):
            df = pd.DataFrame(df.drop(columns=df.geometry.name))
        gdf, used = _points_from_table(df, info, columns, coords, crs, name_col, allow_missing)
    return gdf, info, used


def _repair(gdf: gpd.GeoDataFrame, info: dict, ids: pd.Series, polygonal: bool) -> gpd.GeoDataFrame:
    geoms = gdf.geometry.values
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    invalid = present & ~shapely.is_valid(geoms)
    if invalid.any():
        fixed = shapely.make_valid(geoms[invalid])
        if polygonal:
            fixed = np.array([_polygonal_part(g) for g in fixed], dtype=object)
        geoms = geoms.copy()
        geoms[invalid] = fixed
        V.log_issue(info["issues"], "invalid_geometry", f"{int(invalid.sum())} invalid geometries repaired with "
                    f"make_valid (ids: {', '.join(map(str, ids[invalid].tolist()[:20]))})",
                    ids=ids[invalid].tolist(), path=info["path"])
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    return gdf


def _polygonal_part(g: Any) -> Any:
    """The polygons of a make_valid result (a collection may also hold lines/points), as one (Multi)Polygon."""
    if g.geom_type in _POLY_TYPES:
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in _POLY_TYPES]
    return shapely.union_all(parts) if parts else g


def _to_points(gdf: gpd.GeoDataFrame, info: dict, ids: pd.Series, what: str
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
    names = {1: "lines", 2: "rings", 3: "polygons", 4: "multipoints", 5: "multilines", 6: "multipolygons",
             7: "collections"}
    new = geoms.copy()
    new[nonpoint] = shapely.point_on_surface(geoms[nonpoint])
    # a layer of polygons only (e.g. parks) is expected and only logged; a mixed layer is warned about
    mixed = bool((present & (types == 0)).any()) or bool((nonpoint & ~poly).any())
    V.log_issue(info["issues"], "geometry_type", f"{int(nonpoint.sum())} {what} given as "
                f"{'/'.join(names.get(k, str(k)) for k in kinds)} reduced to representative points"
                + (" (polygon area kept in area_ha, outline in footprint)" if poly.any() else ""),
                ids=ids[nonpoint].tolist(), path=info["path"], warn=mixed)
    out = gdf.set_geometry(gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs))
    return out, area, footprint


# ================================================================================================================
# Columns, ids and the study area
# ================================================================================================================

def _map_columns(df: pd.DataFrame, wanted: Sequence[str], required: Sequence[str], info: dict,
                 columns: Mapping[str, str] | None, skip: Sequence[str] = ()) -> dict[str, Any]:
    """canonical -> input column for each wanted canonical column found (a column serves one canonical only)."""
    found: dict[str, Any] = {}
    taken = set(skip) | {_ROW}
    if isinstance(df, gpd.GeoDataFrame):
        taken.add(df.geometry.name)
    for canon in wanted:
        alias_key = canon
        col = V.find_column(df.columns, alias_key, columns, exclude=taken)
        if col is not None:
            found[canon] = col
            taken.add(col)
    if columns:
        unknown = [k for k in columns if k not in found and k not in ("lon", "lat", "datum")]
        for k in unknown:
            if k in wanted:
                raise DataError(f"columns={{{k!r}: {columns[k]!r}}}: no such column; found columns "
                                f"{[c for c in df.columns if c not in (_ROW, 'geometry')]}", path=info["path"],
                                fix="give the column name exactly as in the file")
    for canon in required:
        if canon not in found:
            present = [c for c in df.columns if c not in (_ROW, "geometry")]
            raise DataError(f"missing required column {canon!r}; found columns {present}; accepted names: "
                            f"{V.accepted(canon)}", path=info["path"],
                            fix=f"rename a column or pass columns={{{canon!r}: '<your column>'}}")
    return found


def _ids(df: pd.DataFrame, col: Any, prefix: str, info: dict, name_col: Any = None,
         label: Any = None) -> pd.Series:
    n = len(df)
    if col is None:
        width = max(4, len(str(n)))
        return pd.Series([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], index=df.index, dtype=object)
    shown = label if label else repr(col)
    ids = df[col].map(V.clean_str)
    blank = ids.isna().to_numpy()
    if blank.any():
        raise DataError(f"empty id in column {shown} at {_rows(df, blank, info, name_col)}", path=info["path"],
                        fix="fill in the ids, or remove the column to have ids generated")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        values = sorted(set(ids[dup]))
        raise DataError(f"duplicate ids in column {shown}: {', '.join(values[:10])} at "
                        f"{_rows(df, dup, info, name_col)}", path=info["path"], fix="make the ids unique")
    return ids.astype(object)


def _norm_code(value: Any) -> str | None:
    """A division code as digits; a 9-digit township code is padded to the 12-digit form (``…000``)."""
    text = V.clean_str(value)
    if text is None:
        return None
    if re.fullmatch(r"\d{9}", text):
        return text + "000"
    return text


def _study_area_union(study_area: Any) -> Any:
    if isinstance(study_area, (gpd.GeoDataFrame, gpd.GeoSeries)):
        s = study_area.geometry if isinstance(study_area, gpd.GeoDataFrame) else study_area
        if s.crs is None:
            raise DataError("study_area has no CRS", fix="set one with .set_crs() or load it with load_boundaries")
        return shapely.union_all(s.to_crs(WGS84).values)
    if isinstance(study_area, shapely.Geometry):
        return study_area  # taken as lon/lat (EPSG:4326)
    raise DataError(f"study_area must be a GeoDataFrame, GeoSeries or shapely geometry, got "
                    f"{type(study_area).__name__}", fix="pass the boundaries layer")


def _apply_study_area(gdf: gpd.GeoDataFrame, study_area: Any, info: dict, id_col: str, what: str
                      ) -> gpd.GeoDataFrame:
    if study_area is None:
        return gdf
    area = _study_area_union(study_area)
    inside = shapely.covers(area, gdf.geometry.values)
    out = ~inside
    excluded = gdf.loc[out].assign(reason="outside the study area")
    kept = gdf.loc[inside].copy()
    if out.any():
        ids = excluded[id_col].tolist()
        V.log_issue(info["issues"], "outside_study_area", f"{int(out.sum())} {what} outside the study area kept "
                    f"out (ids: {', '.join(map(str, ids[:20]))}{' ...' if len(ids) > 20 else ''}); listed in "
                    f"attrs['excluded']", ids=ids, path=info["path"])
    kept.attrs["excluded"] = _records(excluded.drop(columns=[_ROW], errors="ignore")) if out.any() else ""
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


def _finish(gdf: gpd.GeoDataFrame, canonical: Sequence[str], info: dict, layer_name: str) -> gpd.GeoDataFrame:
    """Canonical columns first, then the file's other columns, then geometry; attrs set."""
    gdf = gdf.drop(columns=[c for c in (_ROW,) if c in gdf.columns])
    geom = gdf.geometry.name
    extra = [c for c in gdf.columns if c not in canonical and c != geom]
    out = gdf[[c for c in canonical if c in gdf.columns] + extra + [geom]]
    if geom != "geometry":
        out = out.rename_geometry("geometry")
    out = out.reset_index(drop=True)
    out.attrs = {"source": str(info["path"]), "layer": layer_name, "encoding": info.get("encoding"),
                 "issues": list(info["issues"]), "excluded": gdf.attrs.get("excluded", ""),
                 "n_excluded": int(gdf.attrs.get("n_excluded", 0))}
    return out


def _assemble(gdf: gpd.GeoDataFrame, mapping: Mapping[str, Any], consumed: Sequence[str]) -> gpd.GeoDataFrame:
    """Rename mapped input columns to canonical names; other input columns keep their names (suffixed
    ``_input`` when they would clash with a canonical name)."""
    rename = {src: canon for canon, src in mapping.items()}
    keep = [c for c in gdf.columns if c not in consumed]
    out = gdf[keep].copy()
    clash = {c: f"{c}_input" for c in out.columns if c not in rename and c in rename.values()}
    return out.rename(columns={**clash, **rename})


def validate_report(gdf: pd.DataFrame) -> pd.DataFrame:
    """What a loader repaired, assumed or set aside, as a table.

    Parameters
    ----------
    gdf : GeoDataFrame
        A layer returned by one of the loaders.

    Returns
    -------
    pandas.DataFrame
        Columns ``check``, ``count``, ``ids``, ``message``, ``file``; one row per handled problem (empty when the
        file was clean).
    """
    issues = gdf.attrs.get("issues", [])
    return pd.DataFrame(issues, columns=["check", "count", "ids", "message", "file"])


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


# ================================================================================================================
# Loaders
# ================================================================================================================

_LEVEL_LABELS = {"township": ("township", "town", "street", "乡镇", "镇", "乡", "街道", "镇街", "乡镇街道", "镇街道"),
                 "community": ("community", "village", "社区", "村", "村社区", "村(社区)", "社区(村)", "居委会",
                               "村委会")}


def _level_of(value: Any) -> str | None:
    key = V.norm_key(V.clean_str(value) or "")
    for level, labels in _LEVEL_LABELS.items():
        if key in {V.norm_key(x) for x in labels}:
            return level
    return None


def load_boundaries(path: Source, level: str | None = None, layer: str | int | None = None, crs: Any = None,
                    encoding: str | None = None, columns: Mapping[str, str] | None = None,
                    sheet: str | int | None = None, coords: str = "wgs84") -> gpd.GeoDataFrame:
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
    coords : {"wgs84", "gcj02", "bd09"} or alias
        Datum of lon/lat outlines drawn on Amap/Baidu; converted to WGS84.

    Returns
    -------
    GeoDataFrame
        EPSG:4326; ``unit_id`` (str: the code when there is one, else the id column, else ``U0001``...), ``name``,
        ``level``, optional ``code`` (12-digit; 9-digit township codes are padded with ``000``), ``parent_id``
        (same padding), ``population``, ``children``; other input columns kept; geometry (Multi)Polygon.
        Invalid polygons are repaired (make_valid) with a warning.
    """
    gdf, info, used = _load_points_or_layer(path, layer=layer, sheet=sheet, encoding=encoding, crs=crs,
                                            coords=coords, columns=columns)
    path_ = info["path"]
    mapping = _map_columns(gdf, ["name", "code", "id", "parent_id", "population", "children", "level"],
                           ["name"], info, columns)
    name_col = mapping["name"]
    types = gdf.geometry.geom_type.to_numpy()
    nonpoly = ~np.isin(types, list(_POLY_TYPES))
    if nonpoly.any():
        kinds = sorted(set(types[nonpoly].astype(str)))
        raise DataError(f"boundaries must be polygons; found {'/'.join(kinds)} at "
                        f"{_rows(gdf, nonpoly, info, name_col)}", path=path_,
                        fix="use the polygon layer of the administrative units")
    out = _assemble(gdf, mapping, used)
    out["name"] = out["name"].map(V.clean_str)
    blank = out["name"].isna().to_numpy()
    if blank.any():
        raise DataError(f"empty name at {_rows(out, blank, info)}", path=path_, fix="fill in the unit names")
    if "code" in out.columns:
        out["code"] = out["code"].map(_norm_code).astype(object)
    if "parent_id" in out.columns:
        out["parent_id"] = out["parent_id"].map(_norm_code).astype(object)
    id_src = "code" if "code" in out.columns and out["code"].notna().all() else ("id" if "id" in out.columns
                                                                              else None)
    out["unit_id"] = _ids(out, id_src, "U", info, "name", label=repr(mapping.get(id_src)) if id_src else None)
    if "id" in out.columns and id_src != "id":
        out = out.rename(columns={"id": "id_input"})
    elif "id" in out.columns:
        out = out.drop(columns="id")
    for col in ("population", "children"):
        if col in out.columns:
            num, bad = V.to_number(out[col])
            if bad.any() or (num < 0).any():
                bad = bad | (num < 0)
                raise DataError(f"{col} is not a number ≥ 0 at {_rows(out, bad, info, 'name')}", path=path_,
                                fix=f"write whole numbers in the {mapping[col]!r} column")
            out[col] = num
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
            by_code = out["code"].map(lambda c: None if c is None or not re.fullmatch(r"\d{12}", c)
                                      else ("township" if c.endswith("000") else "community"))
            lv = lv.fillna(by_code)
        if lv.isna().any():
            by_name = out["name"].map(lambda s: "township" if re.search(r"(街道|镇|乡)$", s) else
                                      ("community" if re.search(r"(社区|村|村委会|居委会)$", s) else None))
            lv = lv.fillna(by_name)
        if lv.isna().any():
            raise DataError(f"cannot tell township from community at {_rows(out, lv.isna().to_numpy(), info, 'name')}",
                            path=path_, fix="pass level='township' or level='community'")
        out["level"] = lv.astype(object)
    out = _repair(out, info, out["unit_id"], polygonal=True)
    canonical = ["unit_id", "name", "level", "parent_id", "code", "population", "children"]
    return _finish(out, canonical, info, "boundaries")


def load_facilities(path: Source, layer: str | int | None = None, crs: Any = None, coords: str = "wgs84",
                    encoding: str | None = None, columns: Mapping[str, str] | None = None,
                    category: str | None = None, study_area: Any = None, sheet: str | int | None = None,
                    standards: Standards | None = None) -> gpd.GeoDataFrame:
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
    gdf, info, used = _load_points_or_layer(path, layer=layer, sheet=sheet, encoding=encoding, crs=crs,
                                            coords=coords, columns=columns)
    path_ = info["path"]
    required = ["name"] if category is not None else ["name", "category"]
    mapping = _map_columns(gdf, ["id", "name", "category", "address", "capacity", "area_ha", "subtype", "source"],
                           required, info, columns)
    out = _assemble(gdf, mapping, used)
    out["name"] = out["name"].map(V.clean_str)
    blank = out["name"].isna().to_numpy()
    if blank.any():
        raise DataError(f"empty name at {_rows(out, blank, info)}", path=path_, fix="fill in the facility names")
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
            raise DataError(f"empty category at {_rows(out, blank, info, 'name')}", path=path_,
                            fix="fill in the category (类型) of these rows, or pass category=")
        lookup: dict[str, str] = {}
        for lab in labels.unique():
            try:
                lookup[lab] = std.canonical(lab)
            except DataError as exc:
                bad = (labels == lab).to_numpy()
                raise DataError(f"{exc.message} (at {_rows(out, bad, info, 'name')})", path=path_,
                                fix=exc.fix) from None
        if "subtype" not in out.columns:
            out["subtype"] = labels
        out["category"] = labels.map(lookup)
    out["facility_id"] = _ids(out, "id" if "id" in out.columns else None, "F", info, "name",
                              label=repr(mapping.get("id")))
    if "id" in out.columns:
        out = out.drop(columns="id")
    if "source" not in out.columns:
        out["source"] = "user"
    if "capacity" in out.columns:
        num, bad = V.to_number(out["capacity"])
        if bad.any():
            raise DataError(f"capacity is not a number at {_rows(out, bad, info, 'name')}", path=path_,
                            fix=f"write numbers in the {mapping['capacity']!r} column")
        out["capacity"] = num
    if "address" in out.columns:
        out["address"] = out["address"].map(V.clean_str).astype(object)
    out = _repair(out, info, out["facility_id"], polygonal=True)
    out, area, footprint = _to_points(out, info, out["facility_id"], "facilities")
    if not np.all(np.isnan(area)) or "area_ha" in out.columns:
        given = V.to_number(out["area_ha"])[0] if "area_ha" in out.columns else np.full(len(out), np.nan)
        computed = ~np.isnan(area)
        differ = computed & np.isfinite(given) & (np.abs(given - area) > 0.1 * np.maximum(area, 1e-9))
        if differ.any():
            ids = out.loc[differ, "facility_id"].tolist()
            V.log_issue(info["issues"], "area_ha", f"area_ha of {int(differ.sum())} polygons differs by more than "
                        f"10% from the polygon area; the polygon area is used (ids: {', '.join(ids[:20])})",
                        ids=ids, path=path_)
        out["area_ha"] = np.where(computed, area, given)
    if any(v is not None for v in footprint):
        out["footprint"] = footprint
    out = _apply_study_area(out, study_area, info, "facility_id", "facilities")
    canonical = ["facility_id", "name", "category", "subtype", "source", "capacity", "address", "area_ha"]
    return _finish(out, canonical, info, "facilities")


def _pilot_kind(value: Any) -> str | None:
    text = V.norm_key(V.clean_str(value) or "")
    if not text:
        return None
    for kind, labels in _KIND_LABELS.items():
        if text in {V.norm_key(x) for x in labels}:
            return kind
    hits = {kind for kind, labels in _KIND_LABELS.items()
            for lab in labels if re.search(r"[\u4e00-\u9fff]", lab) and len(lab) >= 2 and lab in text}
    if len(hits) == 1:
        return hits.pop()
    if not hits and re.search(r"[\u4e00-\u9fff](村|社区)$", text):  # "儿童友好村", "示范社区"
        return "community"
    return None


def load_pilots(path: Source, boundaries: gpd.GeoDataFrame | None = None, coords: str = "wgs84",
                layer: str | int | None = None, crs: Any = None, encoding: str | None = None,
                columns: Mapping[str, str] | None = None, sheet: str | int | None = None,
                batch_years: Mapping[int, int] | None = None) -> gpd.GeoDataFrame:
    """Read the pilot units (试点单元) of the child-friendly programme.

    Parameters
    ----------
    path : str, Path or DataFrame
        Excel/CSV with 名称, 批次, 类型 and lon/lat (or a GIS layer); optional 编号, 所属镇街, 社区编码, 重点项目, 备注.
    boundaries : GeoDataFrame, optional
        Community boundaries (from :func:`load_boundaries`): a community pilot takes its unit's polygon, matched
        by code (社区编码 vs ``code``/``unit_id``) or else by exact name. Without it community pilots stay points
        (with a warning).
    coords : {"wgs84", "gcj02", "bd09"} or alias
        Datum of the lon/lat columns.
    layer, crs, encoding, columns, sheet : optional
        As in :func:`load_facilities`.
    batch_years : mapping, optional
        Batch number -> year for labels like ``"第一批"``; default ``{1: 2022, 2: 2023, 3: 2024, 4: 2025}``.

    Returns
    -------
    GeoDataFrame
        EPSG:4326; ``pilot_id``, ``name``, ``batch`` (int year), ``kind`` (community, school, hospital, park,
        venue, street, enterprise), ``township``, ``code``, ``unit_id`` (the matched boundary unit),
        ``key_project`` (bool), ``notes``; geometry Polygon/MultiPolygon for matched community pilots, Point
        otherwise.
    """
    years = dict(batch_years or _BATCH_YEARS)
    gdf, info, used = _load_points_or_layer(path, layer=layer, sheet=sheet, encoding=encoding, crs=crs,
                                            coords=coords, columns=columns, allow_missing=True)
    path_ = info["path"]
    mapping = _map_columns(gdf, ["id", "name", "batch", "kind", "township", "code", "key_project", "notes"],
                           ["name", "batch", "kind"], info, columns)
    out = _assemble(gdf, mapping, used)
    out["name"] = out["name"].map(V.clean_str)
    blank = out["name"].isna().to_numpy()
    if blank.any():
        raise DataError(f"empty name at {_rows(out, blank, info)}", path=path_, fix="fill in the pilot names")
    kinds = out["kind"].map(_pilot_kind)
    bad = kinds.isna().to_numpy()
    if bad.any():
        labels = sorted(set(out.loc[bad, "kind"].map(lambda v: str(V.clean_str(v)))))
        known = "; ".join(f"{k}: {'/'.join(v)}" for k, v in _KIND_LABELS.items())
        raise DataError(f"unknown pilot type {', '.join(labels)} at {_rows(out, bad, info, 'name')}; known: {known}",
                        path=path_, fix="use one of the known types in the 类型 column")
    out["kind_input"] = out["kind"].map(V.clean_str)
    out["kind"] = kinds.astype(object)
    batch = out["batch"].map(lambda v: V.parse_batch(v, years))
    bad = batch.isna().to_numpy()
    if bad.any():
        raise DataError(f"batch not understood ({', '.join(sorted(set(map(str, out.loc[bad, 'batch']))))}) at "
                        f"{_rows(out, bad, info, 'name')}", path=path_,
                        fix="write the year (2022) or 第一批/第二批 (batch_years= maps numbers to years)")
    out["batch"] = batch.astype("int64")
    if "key_project" in out.columns:
        kp = out["key_project"].map(V.parse_bool)
        bad = kp.isna().to_numpy()
        if bad.any():
            raise DataError(f"key project flag not understood at {_rows(out, bad, info, 'name')}", path=path_,
                            fix="write 是/否, yes/no, 1/0 or ✓")
        out["key_project"] = kp.astype(bool)
    else:
        out["key_project"] = False
    for col in ("township", "notes"):
        if col in out.columns:
            out[col] = out[col].map(V.clean_str).astype(object)
    if "code" in out.columns:
        out["code"] = out["code"].map(_norm_code).astype(object)
    out["pilot_id"] = _ids(out, "id" if "id" in out.columns else None, "P", info, "name",
                           label=repr(mapping.get("id")))
    if "id" in out.columns:
        out = out.drop(columns="id")
    out["unit_id"] = pd.Series([None] * len(out), index=out.index, dtype=object)

    community = (out["kind"] == "community").to_numpy()
    geoms = out.geometry.values.copy()
    if community.any():
        if boundaries is None:
            V.log_issue(info["issues"], "pilot_polygon", f"{int(community.sum())} community pilots kept as points: "
                        "pass boundaries= (community polygons) to give them their unit's polygon",
                        ids=out.loc[community, "pilot_id"].tolist(), path=path_)
        else:
            b = boundaries.to_crs(WGS84) if boundaries.crs is not None else boundaries
            by_code: dict[str, int] = {}
            for col in ("code", "unit_id"):
                if col in b.columns:
                    for i, v in enumerate(b[col].map(_norm_code)):
                        if v is not None:
                            by_code.setdefault(v, i)
            by_name: dict[str, list[int]] = {}
            by_short: dict[str, list[int]] = {}
            for i, v in enumerate(b["name"]):
                by_name.setdefault(V.norm_key(v), []).append(i)
                by_short.setdefault(normalise_unit_name(v), []).append(i)
            unmatched = []
            codes = out["code"].tolist() if "code" in out.columns else [None] * len(out)
            for pos in np.flatnonzero(community):
                hit = by_code.get(codes[pos]) if codes[pos] else None
                if hit is None:
                    cands = by_name.get(V.norm_key(out["name"].iat[pos])) or \
                        by_short.get(normalise_unit_name(out["name"].iat[pos])) or []
                    hit = cands[0] if len(cands) == 1 else None
                if hit is None:
                    unmatched.append(pos)
                    continue
                geoms[pos] = b.geometry.iat[hit]
                out.iat[pos, out.columns.get_loc("unit_id")] = b["unit_id"].iat[hit] if "unit_id" in b.columns \
                    else None
            if unmatched:
                ids = out["pilot_id"].iloc[unmatched].tolist()
                V.log_issue(info["issues"], "pilot_polygon", f"{len(unmatched)} community pilots match no boundary "
                            f"by code or name and stay points (ids: {', '.join(map(str, ids[:20]))})",
                            ids=ids, path=path_)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise DataError(f"no location for {_rows(out, missing, info, 'name')}: empty coordinates"
                        + (" and no matching community boundary" if community[missing].any() else ""),
                        path=path_, fix="fill in lon/lat, or the community code with boundaries=")
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=WGS84))
    nonpoint = ~community & (shapely.get_type_id(geoms) != 0)
    if nonpoint.any():
        sub, _, _ = _to_points(out.loc[nonpoint], info, out.loc[nonpoint, "pilot_id"], "non-community pilots")
        geoms[nonpoint] = sub.geometry.values
        out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=WGS84))
    canonical = ["pilot_id", "name", "batch", "kind", "township", "code", "unit_id", "key_project", "notes",
                 "kind_input"]
    return _finish(out, canonical, info, "pilots")


def load_origins(path: Source, layer: str | int | None = None, crs: Any = None, coords: str = "wgs84",
                 encoding: str | None = None, columns: Mapping[str, str] | None = None,
                 study_area: Any = None, sheet: str | int | None = None) -> gpd.GeoDataFrame:
    """Read where children live (homes, residential buildings or blocks) with their number of children.

    Parameters
    ----------
    path : str, Path or DataFrame
        Points (or polygons, reduced to representative points with a warning) with a children column
        (children/儿童数/儿童人数); optional ``origin_id``/编号 and ``unit_id``.
    layer, crs, coords, encoding, columns, sheet, study_area : optional
        As in :func:`load_facilities`.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points; ``origin_id`` (str; generated ``O0001``... when absent), ``children`` (int64 ≥ 0;
        fractional counts are rounded with a warning), optional ``unit_id``.
    """
    gdf, info, used = _load_points_or_layer(path, layer=layer, sheet=sheet, encoding=encoding, crs=crs,
                                            coords=coords, columns=columns, name_hint=None)
    path_ = info["path"]
    aliases_id = ("origin_id", "id", "编号", "序号")
    found_id = V.find_column(gdf.columns, "id", columns, aliases={"id": aliases_id})
    mapping = _map_columns(gdf, ["children", "unit_id"], ["children"], info, columns,
                           skip=[found_id] if found_id else [])
    if found_id is not None:
        mapping = {"id": found_id, **mapping}
    out = _assemble(gdf, mapping, used)
    num, bad = V.to_number(out["children"])
    nan = ~np.isfinite(num) & ~bad
    if bad.any() or nan.any():
        raise DataError(f"children is empty or not a number at {_rows(out, bad | nan, info)}", path=path_,
                        fix=f"write the number of children (0 if none) in the {mapping['children']!r} column")
    neg = num < 0
    if neg.any():
        raise DataError(f"negative number of children at {_rows(out, neg, info)}", path=path_,
                        fix="children must be ≥ 0")
    frac = num != np.round(num)
    if frac.any():
        V.log_issue(info["issues"], "children_rounded", f"{int(frac.sum())} fractional children counts rounded "
                    f"to whole children (total {num.sum():.1f} -> {np.round(num).sum():.0f})",
                    ids=out.loc[frac, _ROW].tolist(), path=path_)
    out["children"] = np.round(num).astype("int64")
    out["origin_id"] = _ids(out, "id" if "id" in out.columns else None, "O", info, label=repr(mapping.get("id")))
    if "id" in out.columns:
        out = out.drop(columns="id")
    if "unit_id" in out.columns:
        out["unit_id"] = out["unit_id"].map(_norm_code).astype(object)
    out, _, _ = _to_points(out, info, out["origin_id"], "origins")
    out = _apply_study_area(out, study_area, info, "origin_id", "origins")
    return _finish(out, ["origin_id", "children", "unit_id"], info, "origins")
