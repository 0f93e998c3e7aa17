"""Reading planners' files as they are: tables (CSV/Excel) and GIS layers, their header rows, columns and ids.

Internal module of :mod:`childspace.inputs.loaders` (which re-exports :func:`read_table_or_layer` and
:func:`validate_report`).
"""

from __future__ import annotations

import csv
import io as _io
import re
import unicodedata
import zipfile
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from childspace._errors import DataError
from childspace.inputs import _validate as V
from childspace.inputs import _xlsx

__all__ = [
    "MAX_ROWS",
    "MAX_TEXT_BYTES",
    "MAX_XLSX_RATIO",
    "MAX_XLSX_UNCOMPRESSED",
    "ROW_COLUMN",
    "Source",
    "assemble_layer",
    "describe_mask_rows",
    "finish_layer",
    "make_ids",
    "map_columns",
    "normalise_code",
    "read_table_or_layer",
    "validate_report",
]

ROW_COLUMN = "__row__"

Source: TypeAlias = str | Path | pd.DataFrame


def _check_path(path: Source) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError("file not found", path=p, fix="check the path and the file name (and its extension)")
    if p.is_dir() and p.suffix.lower() != ".gdb":
        raise DataError("is a folder, not a data file", path=p, fix="give the path of the file inside it")
    return p


def _header_row(rows: list[list[Any]], limit: int = 10) -> int:
    """The first row (of the first ``limit``) with at least two cells that are known column names."""
    known = _known_names()
    for i, row in enumerate(rows[:limit]):
        hits = sum(1 for cell in row if not V.is_blank(cell) and V.norm_key(cell) in known)
        if hits >= 2:
            return i
    return 0


def _known_names() -> set[str]:
    return {V.norm_key(a) for names in V.ALIASES.values() for a in names}


def _second_header_row(rows: list[list[Any]], h: int) -> bool:
    """Whether row ``h + 1`` continues the header row ``h`` (a header of two rows with merged cells, e.g.
    ``名称 | 类型 | 坐标 (merged over two columns)`` above ``  |   | 经度 | 纬度``): at least two of its cells are known
    column names and none of its cells is a number."""
    if h + 1 >= len(rows):
        return False
    known = _known_names()
    lower = [c for c in rows[h + 1] if not V.is_blank(c)]
    if any(isinstance(c, (int, float, np.number)) and not isinstance(c, bool) for c in lower):
        return False
    if any(not np.isnan(V.parse_number(str(c), coordinate=True)) for c in lower):
        return False
    return sum(V.norm_key(c) in known for c in lower) >= 2


def _frame_from_rows(raw: pd.DataFrame, first_line: int) -> tuple[pd.DataFrame, int, bool]:
    """Turn a header-less sheet into a frame: find the header row (or two rows, see :func:`_second_header_row`),
    name columns, number the data rows. Returns ``(frame, header row index, two header rows)``."""
    rows = raw.head(11).values.tolist()
    h = _header_row(rows)
    two = _second_header_row(rows, h)
    known = _known_names()
    names: list[str] = []
    upper = raw.iloc[h].tolist() if len(raw) else []
    lower = raw.iloc[h + 1].tolist() if two else [None] * len(upper)
    for j, (up, low) in enumerate(zip(upper, lower)):
        up_s, low_s = V.clean_str(up), V.clean_str(low)
        if low_s is not None and (V.norm_key(low_s) in known or up_s is None):
            name = low_s
        else:
            name = up_s or f"column_{j + 1}"
        base, k = name, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    start = h + 2 if two else h + 1
    df = raw.iloc[start:].copy()
    df.columns = names
    df[ROW_COLUMN] = np.arange(start, start + len(df)) + first_line
    blank = np.ones(len(df), dtype=bool)
    for col in df.columns.drop(ROW_COLUMN):
        cell = df[col].astype("string")
        blank &= (cell.isna() | cell.str.strip().eq("")).fillna(True).to_numpy(dtype=bool)
    df = df.loc[~blank].reset_index(drop=True)
    return df, h, two


#: Largest number of rows (table rows or layer features) a loader reads unless told otherwise (``max_rows=``):
#: bounds memory and time on a wrong or hostile file. Excel's own limit is 1,048,576 rows.
MAX_ROWS = 500_000
#: Largest uncompressed size of an .xlsx (a zip archive) in bytes, and largest compression ratio of one of its
#: parts: a workbook beyond either is refused before it is opened (a "zip bomb" expands to gigabytes).
MAX_XLSX_UNCOMPRESSED = 400 * 2**20
MAX_XLSX_RATIO = 200
#: Largest CSV read (bytes).
MAX_TEXT_BYTES = 512 * 2**20


def _too_many_rows(n: int | str, limit: int, p: Path, what: str = "rows") -> DataError:
    return DataError(
        f"the file has {n} {what}, more than the limit of {limit:,}",
        path=p,
        fix=f"check it is the right file (or split it); to read it anyway raise the limit: "
        f"{V.setting('max_rows', limit * 4)}",
    )


def _read_csv(p: Path, encoding: str | None, max_rows: int) -> tuple[pd.DataFrame, str]:
    try:
        size = p.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise DataError(
                f"the file is {size / 2**20:,.0f} MB, more than a table of {MAX_TEXT_BYTES // 2**20} MB "
                "childspace reads",
                path=p,
                fix="check it is the right file, or give it as a GeoPackage",
            )
        raw_bytes = p.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read the file ({exc})", path=p, fix="close it in other programs") from None
    if encoding:
        try:
            text = raw_bytes.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise DataError(
                f"cannot decode the file as {encoding} ({exc})",
                path=p,
                fix="leave encoding= out to detect it, or give the right one",
            ) from None
        used = encoding
    else:
        text, used = V.decode_text(raw_bytes, path=p)
    if not text.strip():
        raise DataError("the file is empty", path=p, fix="export the table again with its rows")
    lines = text.count("\n")
    if lines > max_rows + 10:
        raise _too_many_rows(f"{lines:,}", max_rows, p, "lines")
    first = text.split("\n", 1)[0]
    sep = (
        "\t"
        if first.count("\t") > first.count(",")
        else (";" if first.count(";") > first.count(",") else ",")
    )
    try:
        raw = pd.read_csv(
            _io.StringIO(text),
            header=None,
            dtype=object,
            sep=sep,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise DataError(
            f"cannot parse the CSV ({str(exc).strip()[:200]})",
            path=p,
            fix="check the separator and quoting (export from Excel as 'CSV UTF-8')",
        ) from None
    return raw, used


def _check_xlsx_zip(p: Path) -> None:
    """Refuse an .xlsx that is not a zip archive, or whose parts expand beyond the limits (zip bomb), before
    openpyxl reads it; the sizes come from the zip directory, nothing is decompressed."""
    with open(p, "rb") as fh:
        head = fh.read(4096)
    if not head.startswith(b"PK\x03\x04"):
        what = V.sniff(head)
        if what is not None:
            looks = f"its first bytes show {what}"
            fix = (
                "open it in Excel/WPS and save it as .xlsx (Excel Workbook)"
                if ".xls " in what
                else "give the file its real extension (.gpkg, .pdf, ...)"
            )
        else:
            try:
                V.decode_text(head)
                looks, fix = "it is a text file, not a zip archive as .xlsx files are", "rename it .csv"
            except DataError:
                looks = "it is not a zip archive as .xlsx files are (binary or damaged data)"
                fix = "check it is the right file; export the table again as .xlsx or 'CSV UTF-8'"
        raise DataError(f"not an Excel .xlsx workbook: {looks}", path=p, fix=fix)
    try:
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(
            f"damaged Excel workbook ({exc})",
            path=p,
            fix="open it in Excel/WPS and save it again as .xlsx (or export it again)",
        ) from None
    total = sum(i.file_size for i in infos)
    worst = max(infos, key=lambda i: i.file_size / max(i.compress_size, 1), default=None)
    ratio = worst.file_size / max(worst.compress_size, 1) if worst is not None else 0
    if worst is not None and (
        total > MAX_XLSX_UNCOMPRESSED or (ratio > MAX_XLSX_RATIO and worst.file_size > 2**20)
    ):
        raise DataError(
            f"the workbook expands to {total / 2**20:,.0f} MB ({worst.filename} compressed "
            f"{ratio:,.0f} times); refused as too large or malformed (limit "
            f"{MAX_XLSX_UNCOMPRESSED // 2**20} MB, ratio {MAX_XLSX_RATIO})",
            path=p,
            fix="check it is the right file; save large tables as CSV or GeoPackage",
        )


def _read_xlsx(p: Path, sheet: str | int | None, max_rows: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The cells of one sheet (no header), streamed by openpyxl in read-only mode and stopped past ``max_rows``,
    and what :mod:`~childspace.inputs._xlsx` checks need: ``sheets`` (names), ``sheet`` (the one read),
    ``given`` (whether the caller named it), ``xml`` (its part in the archive)."""
    import openpyxl

    _check_xlsx_zip(p)
    try:
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise DataError(
            f"damaged Excel workbook ({type(exc).__name__}: {str(exc)[:200]})",
            path=p,
            fix="open it in Excel/WPS and save it again as .xlsx",
        ) from None
    try:
        names = wb.sheetnames
        given = sheet is not None
        if sheet is None:
            sheet = 0
        if isinstance(sheet, int) and not isinstance(sheet, bool):
            if not 0 <= sheet < len(names):
                raise DataError(
                    f"sheet={sheet} does not exist: the workbook has {len(names)} sheets ({names})",
                    path=p,
                    fix="give the sheet's name or its number counted from 0",
                )
            ws = wb[names[sheet]]
        elif str(sheet) in names:
            ws = wb[str(sheet)]
        else:
            raise DataError(
                f"no sheet {sheet!r}; the sheets are {names}",
                path=p,
                fix="give one of these names (or the sheet's number counted from 0)",
            )
        meta = {"sheets": list(names), "sheet": ws.title, "given": given}
        meta["xml"] = getattr(ws, "_worksheet_path", None)
        declared = ws.max_row if ws.max_row is not None else 0
        if declared > max_rows + 10:
            raise _too_many_rows(f"{declared:,}", max_rows, p)
        if hasattr(ws, "reset_dimensions"):
            ws.reset_dimensions()
        rows: list[tuple] = []
        width = 0
        try:
            for row in ws.iter_rows(values_only=True):
                rows.append(row)
                width = max(width, len(row))
                if len(rows) > max_rows + 10:
                    raise _too_many_rows(f"more than {max_rows:,}", max_rows, p)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(
                f"damaged Excel sheet ({type(exc).__name__}: {str(exc)[:200]})",
                path=p,
                fix="open it in Excel/WPS and save it again as .xlsx",
            ) from None
    finally:
        wb.close()
    while rows and all(V.is_blank(c) for c in rows[-1]):
        rows.pop()
    data = [list(r) + [None] * (width - len(r)) for r in rows]
    for r in data:  # error cells (#N/A, #DIV/0!) are blanks
        for j, c in enumerate(r):
            if isinstance(c, str) and c.startswith("#") and c.rstrip("!?0/").upper() in _XL_ERRORS:
                r[j] = None
    return pd.DataFrame(data, dtype=object), meta


_XL_ERRORS = {"#N/A", "#DIV", "#VALUE", "#REF", "#NAME", "#NUM", "#NULL"}


def _layer_error(p: Path, exc: Exception) -> DataError:
    """A read error of a GIS file, with what is wrong with it when it can be told."""
    suffix = p.suffix.lower()
    text = str(exc).strip()[:300]
    if suffix == ".gpkg":
        with open(p, "rb") as fh:
            head = fh.read(100)
        if not head.startswith(b"SQLite format 3\x00"):
            what = V.sniff(head)
            return DataError(
                "not a GeoPackage" + (f": its first bytes show {what}" if what else ""),
                path=p,
                fix="export the layer again as GeoPackage (QGIS: Export > Save Features As), or give "
                "the file its real extension",
            )
        page = int.from_bytes(head[16:18], "big")
        page = 65536 if page == 1 else page
        pages = int.from_bytes(head[28:32], "big")
        size = p.stat().st_size
        if pages and size < page * pages:
            return DataError(
                f"the GeoPackage is truncated: {size:,} bytes of the {page * pages:,} its header "
                "announces (an interrupted copy or download)",
                path=p,
                fix="copy or export the file again",
            )
        return DataError(
            f"damaged GeoPackage ({text})",
            path=p,
            fix="open it in QGIS to check it, or export the layer again as GeoPackage",
        )
    if suffix in (".geojson", ".json"):
        deep = "nested" in text.lower()
        return DataError(
            f"not a readable GeoJSON file ({text})",
            path=p,
            fix="its objects/arrays are nested deeper than any GeoJSON layer (damaged, or not a layer "
            "export): export the layer again from GIS as GeoJSON or GeoPackage"
            if deep
            else "check the file is complete GeoJSON (open it in QGIS), or export the layer again",
        )
    if suffix == ".shp":
        return DataError(
            f"cannot read the Shapefile ({text})",
            path=p,
            fix="copy all the files of the Shapefile together (.shp, .shx, .dbf, .prj, .cpg)",
        )
    return DataError(
        f"cannot open the file as a GIS layer ({text})",
        path=p,
        fix="use GeoPackage (.gpkg), GeoJSON, Shapefile (.shp), CSV or Excel (.xlsx)",
    )


def _shapefile_parts(p: Path) -> None:
    """A Shapefile is several files: say which one is missing (GDAL reads a .shp without .dbf as a layer
    without any column)."""
    for ext, what in ((".shx", "the index"), (".dbf", "the attribute table with the names and codes")):
        if not any(p.with_suffix(e).exists() for e in (ext, ext.upper())):
            raise DataError(
                f"the Shapefile's {ext} file ({what}) is missing: {p.with_suffix(ext).name} is not "
                "next to the .shp",
                path=p,
                fix="copy all the files of the Shapefile together (.shp, .shx, .dbf, .prj, .cpg), or "
                "export it again as GeoPackage",
            )


def read_table_or_layer(
    path: Source,
    layer: str | int | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    max_rows: int | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
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
        Text encoding; default detected (CSV: BOM / UTF-8 / GB18030 / Big5; Shapefile: .cpg, else from the .dbf
        bytes).
    max_rows : int, optional
        Refuse a file with more rows/features than this (default :data:`MAX_ROWS`), before reading them all.

    Returns
    -------
    (DataFrame or GeoDataFrame, dict)
        The rows, with a column ``__row__`` holding the row number in the file (tables: the spreadsheet row / text
        line; layers: the feature number from 1), and information about the read (``path``, ``kind``
        ``"table"``/``"layer"``, ``encoding``, ``row_word``).
    """
    limit = MAX_ROWS if max_rows is None else int(max_rows)
    if isinstance(path, pd.DataFrame):
        df = path.copy()
        df[ROW_COLUMN] = np.arange(1, len(df) + 1)
        kind = "layer" if isinstance(path, gpd.GeoDataFrame) else "table"
        return df, {"path": "<DataFrame>", "kind": kind, "encoding": None, "row_word": "row", "issues": []}
    p = _check_path(path)
    suffix = p.suffix.lower()
    info: dict[str, Any] = {"path": p, "encoding": encoding, "issues": []}
    if suffix in (".csv", ".txt", ".tsv"):
        raw, used = _read_csv(p, encoding, limit)
        df, h, two = _frame_from_rows(raw, first_line=1)
        info.update(kind="table", encoding=used, row_word="line")
    elif suffix in (".xlsx", ".xlsm", ".xls"):
        if suffix == ".xls":
            with open(p, "rb") as fh:
                head = fh.read(8)
            if head.startswith(b"PK\x03\x04"):
                raw, meta = _read_xlsx(p, sheet, limit)  # an .xlsx named .xls
            else:
                raise DataError(
                    "old Excel .xls workbooks are not read"
                    + ("" if V.sniff(head) else " (and this file does not look like one)"),
                    path=p,
                    fix="open it in Excel/WPS and save it as .xlsx (Excel Workbook)",
                )
        else:
            raw, meta = _read_xlsx(p, sheet, limit)
        df, h, two = _frame_from_rows(raw, first_line=1)
        info.update(kind="table", row_word="row", sheet=meta["sheet"])
        _xlsx.check_sheet(p, df, meta, _known_names())
        _xlsx.check_formulas(p, raw, df, meta, info["issues"])
    else:
        if suffix == ".shp":
            _shapefile_parts(p)
        kwargs: dict[str, Any] = {}
        try:
            layers = pyogrio.list_layers(p)
        except Exception as exc:
            raise _layer_error(p, exc) from None
        if layer is None:
            if len(layers) > 1:
                names = ", ".join(str(n) for n in layers[:, 0])
                V.log_issue(
                    info["issues"],
                    "layer",
                    f"{len(layers)} layers ({names}); reading the first, {layers[0, 0]}",
                    path=p,
                )
                kwargs["layer"] = layers[0, 0]
        else:
            kwargs["layer"] = layer
        if encoding is None and suffix == ".shp":
            encoding, how = V.shapefile_encoding(p)
            info["encoding_basis"] = how
        if encoding is not None:
            kwargs["encoding"] = encoding
        layer_info: dict[str, Any] = {}
        try:
            layer_info = pyogrio.read_info(p, layer=kwargs.get("layer"), force_feature_count=True)
            n = layer_info["features"]
        except Exception:
            n = -1  # the read below reports the problem
        if n > limit:
            raise _too_many_rows(f"{n:,}", limit, p, "features")
        try:
            df = _read_arrow_layer(p, layer_info, kwargs) if suffix == ".gpkg" else None
            if df is None:
                df = gpd.read_file(p, engine="pyogrio", **kwargs)
        except Exception as exc:
            if "layer" in kwargs and str(kwargs["layer"]) not in {str(x) for x in layers[:, 0]}:
                raise DataError(
                    f"no layer {kwargs['layer']!r}; the layers are {list(layers[:, 0])}",
                    path=p,
                    fix="give one of these names to layer=",
                ) from None
            raise _layer_error(p, exc) from None
        info.update(kind="layer", encoding=encoding, row_word="feature")
        df[ROW_COLUMN] = np.arange(1, len(df) + 1)
        return df, info
    if two:
        V.log_issue(
            info["issues"],
            "header",
            f"the column names span two rows ({h + 1} and {h + 2}, merged "
            f"cells); read as {[c for c in df.columns if c != ROW_COLUMN]}",
            path=p,
            warn=False,
        )
    return df, info


#: field types a GeoPackage layer may have for the Arrow read (others: dates, booleans, small ints, blobs ... are
#: read the plain way, whose conversions the loaders were written against)
_ARROW_FIELD_DTYPES = frozenset({"object", "int32", "int64", "float64"})


def _read_arrow_layer(p: Path, meta: dict[str, Any], kwargs: dict[str, Any]) -> gpd.GeoDataFrame | None:
    """A GeoPackage layer read through Arrow, as the same frame as the plain read; None when it cannot be.

    The plain read builds a Python object per text cell before pandas turns the column into strings (299k homes:
    1.5 CPU s, 0.8 through Arrow). GeoPackage text is UTF-8 by the format's rule, so only the fields' types can
    make the two reads differ: layers with text, 32/64-bit integer and double fields only are read this way, and a
    text field with no value at all, which the plain read leaves as an object column of None, is made so here.
    Any failure falls back to the plain read (None).
    """
    dtypes = meta.get("dtypes")
    fields = meta.get("fields")
    if "encoding" in kwargs or dtypes is None or fields is None:
        return None
    if not all(str(d) in _ARROW_FIELD_DTYPES for d in dtypes):
        return None
    try:
        df = gpd.read_file(p, engine="pyogrio", use_arrow=True, **kwargs)
    except Exception:
        return None
    if list(df.columns[: len(fields)]) != [str(f) for f in fields]:
        return None
    for f, d in zip(fields, dtypes):
        col = df[f]
        if str(d) == "object" and col.dtype != object and bool(col.isna().all()):
            df[f] = np.full(len(df), None, dtype=object)
    return df


def describe_mask_rows(
    df: pd.DataFrame, mask: np.ndarray, info: dict, name_col: Hashable | None = None
) -> str:
    sub = df.loc[np.asarray(mask)]
    names = sub[name_col].tolist() if name_col and name_col in sub.columns else None
    return V.describe_rows(sub[ROW_COLUMN].tolist(), names).replace("row", info.get("row_word", "row"), 1)


def map_columns(
    df: pd.DataFrame,
    wanted: Sequence[str],
    required: Sequence[str],
    info: dict,
    columns: Mapping[str, str] | None,
    skip: Sequence[str] = (),
) -> dict[str, Hashable]:
    """canonical -> input column for each wanted canonical column found (a column serves one canonical only)."""
    found: dict[str, Hashable] = {}
    taken: set[Hashable] = set(skip) | {ROW_COLUMN}
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
                raise DataError(
                    f'columns = {{ {k} = "{columns[k]}" }}: no such column; found columns '
                    f"{[c for c in df.columns if c not in (ROW_COLUMN, 'geometry')]}",
                    path=info["path"],
                    fix="give the column name exactly as in the file",
                )
    for canon in required:
        if canon not in found:
            present = [c for c in df.columns if c not in (ROW_COLUMN, "geometry")]
            likely = (
                [c for c in V.child_count_columns(df, exclude=taken) if c not in found.values()]
                if canon == "children"
                else []
            )
            hint = f"; columns that look like child counts: {likely}" if likely else ""
            raise DataError(
                f"missing required column {canon!r}; found columns {present}; accepted names: "
                f"{V.accepted(canon)}{hint}",
                path=info["path"],
                fix="rename the column, or name it with "
                + V.column_setting(canon, likely[0] if len(likely) == 1 else "<your column>"),
            )
    return found


def make_ids(
    df: pd.DataFrame,
    col: Hashable | None,
    prefix: str,
    info: dict,
    name_col: Hashable | None = None,
    label: str | None = None,
) -> pd.Series:
    n = len(df)
    if col is None:
        width = max(4, len(str(n)))
        return pd.Series([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], index=df.index, dtype=object)
    shown = label if label else repr(col)
    ids = _clean_ids(df[col])
    blank = ids.isna().to_numpy()
    if blank.any():
        raise DataError(
            f"empty id in column {shown} at {describe_mask_rows(df, blank, info, name_col)}",
            path=info["path"],
            fix="fill in the ids, or remove the column to have ids generated",
        )
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        values = sorted(set(ids[dup]))
        raise DataError(
            f"duplicate ids in column {shown}: {', '.join(values[:10])} at {describe_mask_rows(df, dup, info, name_col)}",
            path=info["path"],
            fix="make the ids unique",
        )
    return ids.astype(object)


def _clean_ids(values: pd.Series) -> pd.Series:
    """``values.map(V.key_str)`` (object dtype); a column of strings only is cleaned without the per-cell type
    checks (300k home ids: 0.5 -> 0.1 s)."""
    obj = values.to_numpy(dtype=object)
    if len(obj) < 1000 or not all(type(v) is str for v in obj):
        return values.map(V.key_str).astype(object)
    norm = unicodedata.normalize
    return pd.Series(
        [norm("NFKC", v).strip() if v.strip() else None for v in obj], index=values.index, dtype=object
    )


def normalise_code(value: object) -> str | None:
    """A division code as digits; a 9-digit township code is padded to the 12-digit form (``…000``)."""
    text = V.key_str(value)
    if text is None:
        return None
    if re.fullmatch(r"\d{9}", text):
        return text + "000"
    return text


def assemble_layer(
    gdf: gpd.GeoDataFrame, mapping: Mapping[str, Hashable], consumed: Sequence[Hashable]
) -> gpd.GeoDataFrame:
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


def finish_layer(
    gdf: gpd.GeoDataFrame, canonical: Sequence[str], info: dict, layer_name: str
) -> gpd.GeoDataFrame:
    """Canonical columns first, then the file's other columns, then geometry; attrs set."""
    gdf = gdf.drop(columns=[c for c in (ROW_COLUMN,) if c in gdf.columns])
    geom = gdf.geometry.name
    extra = [c for c in gdf.columns if c not in canonical and c != geom]
    out = gdf[[c for c in canonical if c in gdf.columns] + extra + [geom]]
    if geom != "geometry":
        out = out.rename_geometry("geometry")
    out = out.reset_index(drop=True)
    out.attrs = {
        "source": str(info["path"]),
        "layer": layer_name,
        "encoding": info.get("encoding"),
        "issues": list(info["issues"]),
        "excluded": gdf.attrs.get("excluded", ""),
        "n_excluded": int(gdf.attrs.get("n_excluded", 0)),
        "generated_ids": bool(info.get("generated_ids", False)),
    }
    return out
