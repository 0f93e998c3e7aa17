"""Reading planners' files as they are: tables (CSV/Excel) and GIS layers, their header rows, columns and ids.

Internal module of :mod:`childspace.inputs.loaders` (which re-exports :func:`read_table_or_layer` and
:func:`validate_report`).
"""

from __future__ import annotations

import io as _io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from childspace._errors import DataError
from childspace.inputs import _validate as V

_ROW = "__row__"

Source = str | Path | pd.DataFrame


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


def _rows(df: pd.DataFrame, mask: np.ndarray, info: dict, name_col: str | None = None) -> str:
    sub = df.loc[np.asarray(mask)]
    names = sub[name_col].tolist() if name_col and name_col in sub.columns else None
    return V.describe_rows(sub[_ROW].tolist(), names).replace("row", info.get("row_word", "row"), 1)



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

