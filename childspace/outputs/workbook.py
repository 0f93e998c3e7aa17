"""The planner's workbook and the CSV tables (工作簿与表格).

The workbook (``childspace.xlsx``) opens with an explanation sheet (说明: method, standards and their basis,
target, date, sources, whether the data are synthetic), then one sheet per table: bilingual headers (中文 first),
filters, frozen header row and first column, values rounded (integers as integers: ``977``, not ``977.0``), codes
translated (``kindergarten`` → ``幼儿园 Kindergarten``, ``gap`` → ``× 缺口 Gap``, TRUE/FALSE → 是/否), coverage
cells coloured against the target (conditional formatting, so it follows edits).

Formula injection (CSV/Excel injection, OWASP "CSV Injection"): names come from planners' files and from
OpenStreetMap, which anyone can edit. Every text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is written as text: in the workbook as a string cell (never a formula), in the CSV files with a
leading apostrophe, as OWASP recommends.

Percentages: ``pct_*``, ``area_pct_*`` and ``target_pct`` are percentages 0–100; ``share_*`` and
``assumed_share`` are fractions 0–1; both are shown as per cent.
"""

from __future__ import annotations

import csv
import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from childspace._atomic import atomic_path
from childspace._errors import ChildspaceError, DataError
from childspace.inputs.standards import Standards, default_standards
from childspace.outputs.csv_text import csv_bytes
from childspace.outputs.style import (
    COLUMN_LABELS,
    CROSSING_LABELS,
    HAZARD_TYPE_LABELS,
    KIND_LABELS,
    LEVEL_LABELS,
    STATUS_LABELS,
    VERDICT_LABELS,
    element_label,
    header_labels,
    highway_label,
    status_text,
)

__all__ = [
    "FORMULA_PREFIXES",
    "HAZARD_LABELS",
    "read_csv_table",
    "WorkbookAbout",
    "bilingual_headers",
    "display_table",
    "hazard_table",
    "safe_text",
    "write_csv_tables",
    "write_excel",
]

#: first characters that make a spreadsheet read a cell as a formula (OWASP CSV-injection guidance)
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

#: the data sources every run rests on, besides the planner's own files
OSM_CREDIT = "© OpenStreetMap contributors（开放街道地图贡献者）, ODbL 1.0"


def safe_text(value: Any) -> Any:
    """A text value that a spreadsheet will not run: ``"=HYPERLINK(…)"`` -> ``"'=HYPERLINK(…)"``.

    Non-text values are returned unchanged. Used for CSV files; the workbook writes such text as string cells.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


@dataclass
class WorkbookAbout:
    """What the explanation sheet (说明 About) says.

    Attributes
    ----------
    title : str
        Name of the run (e.g. "乐清市 Yueqing").
    synthetic : bool
        The data are the bundled synthetic sample (示例数据（虚构）).
    sources : sequence of str
        The input files (names) and other sources used; OpenStreetMap is always credited.
    standards : Standards, optional
        Categories, radii and their basis (default: ``childspace/config/standards.toml``).
    categories : sequence of str, optional
        The categories analysed (default every category of the standards).
    date : str, optional
        Date of the run (default today, ISO format).
    crs : str, optional
        The metric CRS the distances were computed in (e.g. "CGCS2000 / 3-degree GK CM 120E (EPSG:4549)").
    """

    title: str = ""
    synthetic: bool = False
    sources: Sequence[str] = field(default_factory=list)
    standards: Standards | None = None
    categories: Sequence[str] | None = None
    date: str | None = None
    crs: str | None = None


# ----------------------------------------------------------------------------------------------------
# values planners read
# ----------------------------------------------------------------------------------------------------

_INT_HINTS = (
    "children",
    "n_",
    "rank",
    "batch",
    "capacity",
    "population",
    "routes",
    "schools_n",
    "points",
    "unsafe_crossings",
    "worst_level",
    "max_level",
    "level_",
    "lc",
)


def _pct_kind(column: str) -> str | None:
    """'pct100' for 0-100 percentages, 'frac' for 0-1 shares, None otherwise."""
    if column.startswith("pct_") or column.startswith("area_pct_") or column == "target_pct":
        return "pct100"
    if column.startswith("share_") or column == "assumed_share":
        return "frac"
    return None


def _digits(column: str) -> int:
    """Decimals a planner needs for a numeric column."""
    if _pct_kind(column) == "pct100":
        return 1
    if _pct_kind(column) == "frac":
        return 3
    if column in ("detour_ratio",) or column.endswith("_ratio"):
        return 2
    if column in ("lon", "lat"):
        return 6
    return (
        0
        if (
            column.endswith("_m")
            or column.endswith("_m2")
            or column.startswith("dist_")
            or column.startswith("children")
            or column.endswith("_kmh")
        )
        else 2
    )


def _plain_table(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Drop geometry-typed columns (a table never carries geometry); lists become '; '-joined text."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"table {name!r} is a {type(df).__name__}, not a DataFrame",
            fix="pass pandas DataFrames / GeoDataFrames as the tables",
        )
    out = pd.DataFrame(df).copy()
    geom_cols = [c for c in out.columns if str(out[c].dtype) == "geometry"]
    out = out.drop(columns=geom_cols)
    for c in out.columns:
        if out[c].dtype == object and _distinct_values_match(
            out[c], lambda v: isinstance(v, (list, tuple, set))
        ):
            out[c] = out[c].map(lambda v: "; ".join(map(str, v)) if isinstance(v, (list, tuple, set)) else v)
    return pd.DataFrame(out)


def _distinct_values_match(s: pd.Series, test: Any) -> bool:
    """Whether ``test`` holds for a value of the column, looking at each distinct value once (a county's tables
    repeat a few hundred texts over 600,000 rows); unhashable values (lists, sets) are tested one by one."""
    try:
        values = pd.unique(s.to_numpy(dtype=object))
    except TypeError:
        values = s.to_numpy(dtype=object)
    return any(test(v) for v in values)


def _safe_column(s: pd.Series) -> pd.Series:
    """:func:`safe_text` on a text column, touching it only when a value would start a formula."""
    if isinstance(s.dtype, pd.StringDtype):  # text only: one vectorised test of the first characters
        if bool(s.str.startswith(FORMULA_PREFIXES).fillna(False).any()):
            return s.map(safe_text)
        return s
    if _distinct_values_match(s, lambda v: isinstance(v, str) and v.startswith(FORMULA_PREFIXES)):
        return s.map(safe_text)
    return s


def _round_numbers(table: pd.DataFrame) -> pd.DataFrame:
    """Numbers rounded for reading; float columns holding whole numbers become integers (nullable)."""
    out = table.copy()
    for c in out.columns:
        s = out[c]
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            continue
        if pd.api.types.is_float_dtype(s):
            vals = s.to_numpy(dtype=float)
            fin = np.isfinite(vals)
            d = _digits(str(c))
            if fin.any() and (np.all(np.equal(np.mod(vals[fin], 1), 0)) or d == 0):
                out[c] = pd.array(np.where(fin, np.round(vals), 0).astype(np.int64), dtype="Int64")
                out.loc[~fin, c] = pd.NA
            else:
                out[c] = s.round(d)
    return out


def _translate(col: str, s: pd.Series) -> pd.Series:
    """Codes in a column -> 中文 first words (category, status, kind, verdict, level, type, road class, yes/no)."""

    def mapped(fn):  # each distinct text translated once (a county's sheets repeat a few codes)
        done: dict[str, Any] = {}

        def one(v: Any) -> Any:
            if not isinstance(v, str):
                return v
            if v not in done:
                done[v] = fn(v)
            return done[v]

        return s.map(one)

    if col == "category":

        def cat(v: str) -> str:
            try:
                return element_label(v)
            except ChildspaceError:
                return v

        return mapped(cat)
    if col == "status":
        return mapped(lambda v: status_text(v) if v in STATUS_LABELS else v)
    if col == "verdict":
        return mapped(lambda v: status_text(v, VERDICT_LABELS) if v in VERDICT_LABELS else v)
    if col == "kind":
        return mapped(lambda v: " ".join(KIND_LABELS[v]) if v in KIND_LABELS else v)
    if col == "level" and s.map(lambda v: v in LEVEL_LABELS).any():
        return mapped(lambda v: " ".join(LEVEL_LABELS[v]) if v in LEVEL_LABELS else v)
    if col == "type":
        return mapped(lambda v: " ".join(HAZARD_TYPE_LABELS[v]) if v in HAZARD_TYPE_LABELS else v)
    if col == "highway":
        return mapped(highway_label)
    if col in ("crossing_type", "control"):
        return mapped(lambda v: f"{CROSSING_LABELS[v]} {v}" if v in CROSSING_LABELS else v)
    if col in ("lc5_missing", "lc10_missing", "lc15_missing", "missing"):

        def many(v: str) -> str:
            parts = [p.strip() for p in v.split(";") if p.strip()]
            out = []
            for p in parts:
                try:
                    out.append(element_label(p).split(" ")[0])
                except ChildspaceError:
                    out.append(p)
            return "、".join(out)

        return mapped(many)
    if pd.api.types.is_bool_dtype(s) or (
        s.dtype == object
        and len(s.dropna())
        and s.dropna().map(lambda v: isinstance(v, (bool, np.bool_))).all()
    ):
        return s.map(
            lambda v: (
                "是 Yes" if v is True or v is np.True_ else ("否 No" if v is False or v is np.False_ else v)
            )
        )
    return s


def display_table(df: pd.DataFrame, name: str = "table") -> pd.DataFrame:
    """The table as a planner reads it: geometry dropped, codes translated (中文 first), numbers rounded.

    Column names are kept (machine names); :func:`bilingual_headers` translates them.
    """
    table = _plain_table(df, name)
    for c in table.columns:
        table[c] = _translate(str(c), table[c])
    return _round_numbers(table)


#: headers of the hazards' countermeasure and per-school-level columns (the shared ones are in outputs.style)
HAZARD_LABELS: dict[str, str] = {
    "countermeasures": "整改措施建议 Countermeasures",
    "countermeasure_basis": "措施依据 Basis of the countermeasures",
    "countermeasure_rules": "措施规则编号 Countermeasure rules",
    "school_zone": "位于校园周边150米内 In a school zone (150 m)",
    "children_kindergarten": "幼儿园路线经过的儿童 Children (kindergarten routes)",
    "children_primary_school": "小学路线经过的儿童 Children (primary-school routes)",
    "children_middle_school": "初中路线经过的儿童 Children (middle-school routes)",
    "routes": "路线数 Routes",
    "pieces": "路段数 Pieces",
    "node": "节点序号 Node",
}


#: ``level`` of a hazards table is the stress level, not the boundary level (乡镇/社区) of other tables
STRESS_LEVEL_LABEL = "压力等级 Stress level"


def _headers(columns: list[str]) -> list[str]:
    """Bilingual headers (outputs.style's, plus :data:`HAZARD_LABELS`); repeated headers get the raw name."""
    hazards = "hazard_id" in columns
    new = [
        STRESS_LEVEL_LABEL if hazards and c == "level" else (HAZARD_LABELS.get(c) or header_labels([c])[0])
        for c in columns
    ]
    seen: set[str] = set()
    for i, c in enumerate(new):
        if c in seen:
            new[i] = f"{c} ({columns[i]})"
        seen.add(new[i])
    return new


def bilingual_headers(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with bilingual headers; duplicate headers after translation get the raw name appended."""
    out = df.copy()
    out.columns = _headers([str(c) for c in df.columns])
    return out


def hazard_table(hazards: Any, schools: pd.DataFrame | None = None) -> pd.DataFrame:
    """The hazards as a planner reads them: rank first, a place description, WGS84 coordinates, school names.

    Parameters
    ----------
    hazards : GeoDataFrame
        ``routes.hazards`` (``hazard_id``, ``type``, ``level``, ``children``, ``schools`` ("; "-joined ids),
        ``name``, ``reason``, ``rank``, geometry in any CRS).
    schools : DataFrame, optional
        Facilities with ``facility_id`` and ``name`` (or ``school_id`` and ``name``): the ids in ``schools``
        become names (``school_names``).

    Returns
    -------
    DataFrame
        Sorted by rank, with ``place`` (street name and type in 中文), ``lon``/``lat`` (WGS84, a point on the
        hazard) and ``school_names`` added, the countermeasures and their basis after the reason; the geometry
        dropped.
    """
    import geopandas as gpd

    h = hazards
    out = pd.DataFrame(h.drop(columns=h.geometry.name) if isinstance(h, gpd.GeoDataFrame) else h).copy()
    if isinstance(h, gpd.GeoDataFrame) and h.crs is not None and len(h):
        pts = h.geometry.to_crs(4326).representative_point()
        out["lon"], out["lat"] = pts.x.round(6).to_numpy(), pts.y.round(6).to_numpy()
    names: dict[str, str] = {}
    if schools is not None and len(schools) and "name" in schools.columns:
        idc = "facility_id" if "facility_id" in schools.columns else "school_id"
        if idc in schools.columns:
            names = {str(i): str(n) for i, n in zip(schools[idc], schools["name"]) if pd.notna(n)}
    if "schools" in out.columns:
        out["school_names"] = out["schools"].map(
            lambda v: (
                "、".join(
                    names.get(x.strip(), x.strip()) for x in str(v).replace(",", ";").split(";") if x.strip()
                )
                if pd.notna(v)
                else None
            )
        )
    if "name" in out.columns or "type" in out.columns:
        street = out["name"] if "name" in out.columns else pd.Series(None, index=out.index)
        kind = out["type"] if "type" in out.columns else pd.Series("", index=out.index)
        out["place"] = [
            f"{s if isinstance(s, str) and s.strip() else '无名道路'}"
            f"{'的过街点' if k == 'crossing' else ('路段' if k == 'segment' else '')}"
            for s, k in zip(street, kind)
        ]
    per_level = [c for c in out.columns if str(c).startswith("children_")]
    first = [
        c
        for c in (
            "rank",
            "hazard_id",
            "place",
            "lon",
            "lat",
            "level",
            "children",
            *per_level,
            "school_names",
            "reason",
            "countermeasures",
            "countermeasure_basis",
        )
        if c in out.columns
    ]
    out = out[first + [c for c in out.columns if c not in first]]
    return out.sort_values("rank", kind="stable") if "rank" in out.columns else out


# ----------------------------------------------------------------------------------------------------
# Excel
# ----------------------------------------------------------------------------------------------------


def _display_width(text: str) -> int:
    # CJK characters take about two Latin character widths in Excel
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _excel_value(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (str, int, bool)):
        return v
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return str(v)


def _sheet_name(raw: str, used: set[str]) -> str:
    name = str(raw)
    for ch in "[]:*?/\\":
        name = name.replace(ch, "_")
    name = name[:31] or "Sheet"
    base, k = name, 2
    while name.lower() in used:
        suffix = f" ({k})"
        name = base[: 31 - len(suffix)] + suffix
        k += 1
    used.add(name.lower())
    return name


def _about_rows(about: WorkbookAbout, target: float) -> list[tuple[str, str]]:
    st = about.standards or default_standards()
    date = about.date or _dt.date.today().isoformat()
    rows: list[tuple[str, str]] = [
        ("项目 Project", about.title or "—"),
        (
            "数据性质 Data",
            "示例数据（虚构），非真实情况 Synthetic sample data, not real conditions"
            if about.synthetic
            else "真实数据（见数据来源） Real data (see sources)",
        ),
        ("日期 Date", date),
        (
            "方法 Method",
            "按步行网络（OpenStreetMap 道路）计算每处住户到最近设施的步行距离与直线距离；服务半径内的儿童占比即覆盖率，"
            "低于目标即为缺口。 Walking distance along the OpenStreetMap network (and straight-line distance) from "
            "every home to the nearest facility; the share of children within the service radius is the coverage; "
            "below the target is a gap.",
        ),
        (
            "覆盖目标 Target",
            f"{target:g}%（GB 55014-2021 公园服务半径覆盖率 > 80%，统一用于各类设施） "
            f"{target:g}% (GB 55014-2021 park service-radius coverage > 80 %, applied to every "
            "category)",
        ),
        (
            "试点判定 Pilot status",
            "✓ 达标：检查项全部具备；△ 部分达标：至少一半具备；× 缺口：不足一半具备 "
            "Meets: every element; Partly: at least half; Gap: fewer than half",
        ),
        (
            "坐标系 CRS",
            about.crs
            or "距离在当地 CGCS2000 高斯-克吕格投影中计算；经纬度为 WGS84 Distances in the local "
            "CGCS2000 Gauss-Krüger zone; longitude/latitude in WGS84",
        ),
    ]
    cats = list(about.categories) if about.categories else list(st.categories)
    for c in cats:
        try:
            cat = st[c]
        except ChildspaceError:
            continue
        rows.append(
            (
                f"标准 Standard: {cat.zh} {cat.en}",
                f"服务半径 {cat.radius_m:g} 米 radius {cat.radius_m:g} m — {cat.basis}",
            )
        )
    srcs = list(about.sources) + [OSM_CREDIT]
    rows.append(("数据来源 Sources", "；".join(srcs)))
    rows.append(
        (
            "说明 Note",
            "各表格中以 =、+、-、@ 开头的文字前加 ' 作为文本显示。 Text beginning with =, +, -, @ is "
            "shown as text.",
        )
    )
    return rows


def write_excel(
    path: str | Path,
    sheets: Mapping[str, pd.DataFrame],
    *,
    about: WorkbookAbout | None = None,
    target_pct: float | None = None,
) -> Path:
    """Write the planner's workbook: an explanation sheet, then one sheet per table.

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` file to write; written to a temporary file in the same folder and renamed (atomic).
    sheets : mapping of str to DataFrame
        Sheet name -> table, e.g. ``{"乡镇覆盖 Township coverage": df}`` (see :data:`SHEET_NAMES`). Names longer
        than 31 characters (Excel's limit) are cut; characters ``[]:*?/\\`` are replaced.
    about : WorkbookAbout, optional
        The explanation sheet (说明 About) placed first; without it, no explanation sheet.
    target_pct : float, optional
        Coverage target for the conditional formatting of ``pct_*`` columns; default each table's
        ``target_pct``, else the standards' (80).

    Returns
    -------
    Path
        The file written. Every sheet has an auto-filter, a frozen header row (and first column), bilingual
        headers and translated values; text that would start a formula is stored as text.
    """
    import xlsxwriter

    path = Path(path)
    if not sheets:
        raise DataError(
            "no tables to write",
            path=path,
            fix="the run produced no table: give the run origins or child counts per community",
        )
    used: set[str] = set()
    default_target = float(target_pct) if target_pct is not None else float(default_standards().target_pct)
    with atomic_path(path) as tmp:
        # text is text (never a formula or a link): every cell is written by its own type below
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False})
        fmt = _Formats(wb)
        if about is not None:
            ws = wb.add_worksheet(_sheet_name("说明 About", used))
            ws.write_row(0, 0, ["项目 Item", "内容 Content"], fmt.get(bold=True, fill=_HEAD_FILL))
            wrap = fmt.get(text_wrap=True, valign="top")
            for i, (k, v) in enumerate(_about_rows(about, default_target), start=1):
                ws.write_string(i, 0, k, wrap)
                ws.write_string(i, 1, v, wrap)
            _set_width(ws, 0, 34)
            _set_width(ws, 1, 120)
            ws.freeze_panes(1, 0)
        for raw_name, df in sheets.items():
            _write_sheet(wb, fmt, _sheet_name(raw_name, used), _plain_table(df, raw_name), default_target)
        wb.close()
    return path


#: fills of the workbook (header; coverage below / meeting the target; status words)
_HEAD_FILL = "DDEBF7"
_BELOW_FILL = "FDD0A2"
_MEETS_FILL = "C6DBEF"
_STATUS_FILLS = (("×", "F4C7D6"), ("△", "FDE2C4"), ("✓", _MEETS_FILL), ("否", "F4C7D6"))


class _Formats:
    """The workbook's cell formats, each made once (xlsxwriter keeps one style per distinct format)."""

    def __init__(self, wb: Any) -> None:
        self.wb = wb
        self.made: dict[tuple, Any] = {}

    def get(self, fill: str | None = None, **props: Any) -> Any:
        key = (fill, *sorted(props.items()))
        if key not in self.made:
            if fill is not None:  # solid fill: the colour as foreground (as before) and background (Excel's)
                props.update(pattern=1, fg_color="#" + fill, bg_color="#" + fill)
            self.made[key] = self.wb.add_format(props)
        return self.made[key]


def _set_width(ws: Any, col: int, width: float) -> None:
    """A column ``width`` characters wide as stored in the file (xlsxwriter adds 5 px of padding to the width
    it is given, at 7 px per character: given ``width - 5/7``, it stores ``width``)."""
    ws.set_column(col, col, width - 5 / 7 if width >= 1 else width)


def _number_format(col: str, s: pd.Series) -> str | None:
    """The number format of a table column: per cent, decimals, thousands, or none (text)."""
    kind = _pct_kind(col)
    numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    if not numeric:
        return None
    if kind is not None:
        return '0.0"%"' if kind == "pct100" else "0.0%"
    if pd.api.types.is_float_dtype(s):
        d = _digits(col)
        return "0" if d == 0 else "0." + "0" * d
    return "#,##0" if col not in ("batch", "rank") else "0"


def _write_sheet(wb: Any, fmt: _Formats, name: str, raw_table: pd.DataFrame, default_target: float) -> None:
    """One table sheet: bilingual headers, translated and rounded values, number formats, coverage and status
    colours (conditional formatting), widths from the first 500 values, frozen header, filter."""
    from xlsxwriter.utility import xl_col_to_name

    table = display_table(raw_table, name)
    ws = wb.add_worksheet(name)
    headers = _headers([str(c) for c in table.columns])
    ws.write_row(0, 0, headers, fmt.get(bold=True, fill=_HEAD_FILL, text_wrap=True, valign="top"))
    n = len(table) + 1
    target = default_target
    if (
        "target_pct" in raw_table.columns
        and pd.to_numeric(raw_table["target_pct"], errors="coerce").notna().any()
    ):
        target = float(pd.to_numeric(raw_table["target_pct"], errors="coerce").dropna().iloc[0])
    for j, col in enumerate(table.columns):
        s = table[col]
        nf = _number_format(str(col), s)
        cell_fmt = fmt.get(num_format=nf) if nf is not None else None
        values = s.astype(object).where(s.notna(), None).to_numpy()
        for i, v in enumerate(values, start=1):
            x = _excel_value(v)
            if x is None:
                if cell_fmt is not None:  # an empty cell of a number column keeps the column's format
                    ws.write_blank(i, j, None, cell_fmt)
            elif isinstance(x, str):
                if x:
                    ws.write_string(i, j, x, cell_fmt)
                elif cell_fmt is not None:  # an empty text is an empty cell, as openpyxl wrote it
                    ws.write_blank(i, j, None, cell_fmt)
            elif isinstance(x, bool):
                ws.write_boolean(i, j, x, cell_fmt)
            elif isinstance(x, (int, float)):
                ws.write_number(i, j, x, cell_fmt)
            else:  # a date
                ws.write_datetime(i, j, x, cell_fmt or fmt.get(num_format="yyyy-mm-dd h:mm:ss"))
        letter = xl_col_to_name(j)
        rng = f"{letter}2:{letter}{n}"
        if _pct_kind(str(col)) == "pct100" and nf is not None and str(col) != "target_pct" and n > 1:
            for criteria, fill in (("<", _BELOW_FILL), (">=", _MEETS_FILL)):
                ws.conditional_format(
                    rng,
                    {"type": "cell", "criteria": criteria, "value": f"{target:g}", "format": _dxf(wb, fill)},
                )
        if str(col) in ("status", "verdict", "compliant") and n > 1:
            for word, fill in _STATUS_FILLS:
                ws.conditional_format(
                    rng,
                    {"type": "formula", "criteria": f'=LEFT({letter}2,1)="{word}"', "format": _dxf(wb, fill)},
                )
        texts = {str(v) for v in s.head(500).tolist() if v is not None and v is not pd.NA}
        width = max([_display_width(headers[j]) // 2 + 2] + [_display_width(t) + 2 for t in texts])
        _set_width(ws, j, float(min(max(width, 8), 60)))
    ws.freeze_panes(1, 1) if len(table.columns) > 3 else ws.freeze_panes(1, 0)
    ws.set_row_pixels(0, 32 * 4 / 3)  # 32 points (set_row would round it to whole pixels: 32.25)
    if len(table.columns):
        ws.autofilter(0, 0, n - 1, len(table.columns) - 1)


def _dxf(wb: Any, fill: str) -> Any:
    """The fill of a conditional format (a differential format, one per rule as Excel writes them)."""
    return wb.add_format({"pattern": 1, "fg_color": "#" + fill, "bg_color": "#" + fill})


# ----------------------------------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------------------------------


def write_csv_tables(
    directory: str | Path, tables: Mapping[str, pd.DataFrame], *, bilingual: bool = False
) -> dict[str, Path]:
    """Write each table as ``<directory>/<name>.csv`` in UTF-8 with BOM (Excel opens Chinese correctly).

    Parameters
    ----------
    directory : str or Path
        Existing output folder.
    tables : mapping of str to DataFrame
        File stem -> table. Geometry columns are dropped; list values are ``"; "``-joined; text that would start
        a formula gets a leading apostrophe (:func:`safe_text`).
    bilingual : bool, default False
        Write bilingual headers (:func:`childspace.outputs.style.column_label`, 中文 first) instead of the machine
        column names, and round numbers for reading (values keep their codes, so the file stays machine-readable).

    Returns
    -------
    dict of str to Path
        File stem -> file written. Each file is written to a temporary file and renamed (atomic).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ChildspaceError(
            "the output folder does not exist",
            path=directory,
            fix="create the folder first or choose another output folder",
        )
    written: dict[str, Path] = {}
    for stem, df in tables.items():
        safe = "".join("_" if ch in '<>:"/\\|?*' else ch for ch in str(stem)).strip() or "table"
        table = _plain_table(df, stem)
        for c in table.columns:
            if not (
                pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_datetime64_any_dtype(table[c])
            ):
                table[c] = _safe_column(table[c])
        if bilingual:
            table = bilingual_headers(_round_numbers(table))
        target = directory / f"{safe}.csv"
        data = csv_bytes(
            table
        )  # pandas' bytes, built in Arrow; None for a kind of column it leaves to pandas
        with atomic_path(target) as tmp:
            if data is not None:
                Path(tmp).write_bytes(data)
            else:
                table.to_csv(
                    tmp, index=False, encoding="utf-8-sig", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n"
                )
        written[str(stem)] = target
    return written


def read_csv_table(path: str | Path) -> pd.DataFrame:
    """A CSV table written by :func:`write_csv_tables`, with its machine column names again (the files carry
    bilingual headers, :func:`childspace.outputs.style.column_label`); the values are as written."""
    back = {
        label: col for col, label in {**COLUMN_LABELS, **HAZARD_LABELS, "level": STRESS_LEVEL_LABEL}.items()
    }
    back[COLUMN_LABELS["level"]] = "level"
    return pd.read_csv(path, encoding="utf-8-sig").rename(columns=lambda c: back.get(c, c))
