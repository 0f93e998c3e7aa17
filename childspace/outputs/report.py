"""Excel workbook, CSV tables and a self-contained HTML report (报告输出).

Also holds the bilingual vocabulary (Chinese first, then English) that the maps (:mod:`childspace.maps`), the
static figures (:mod:`childspace.plot`) and the tables share: category labels, status labels and column headers.

Percentages: columns named ``pct_*``, ``area_pct_*``, ``target_pct`` and ``share_*`` follow the analysis
outputs: ``pct_*``/``target_pct`` are percentages 0–100; ``share_*`` and ``assumed_share`` are fractions 0–1.
Both are shown as per cent in the workbook.
"""

from __future__ import annotations

import csv
import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from childspace._atomic import atomic_path
from childspace._errors import ChildspaceError, DataError
from childspace.inputs.standards import default_standards

__all__ = [
    "CATEGORY_LABELS",
    "COLUMN_LABELS",
    "KIND_LABELS",
    "SHEET_NAMES",
    "STATUS_LABELS",
    "bilingual_headers",
    "category_label",
    "column_label",
    "html_report",
    "school_zone_table_html",
    "township_table_html",
    "write_csv_tables",
    "write_excel",
]

# ----------------------------------------------------------------------------------------------------
# vocabulary
# ----------------------------------------------------------------------------------------------------

#: canonical category -> (中文, English), from the default standards (``childspace/config/standards.toml``,
#: :func:`childspace.inputs.standards.default_standards`); plus the combined checklist element of the pilot analysis.
CATEGORY_LABELS: dict[str, tuple[str, str]] = {
    **{key: (cat.zh, cat.en) for key, cat in default_standards().categories.items()},
    "park_playground": ("公园或儿童游戏场地", "Park or playground"),
}

#: pilot status -> (中文, English, colour). Colours: green / amber / red.
STATUS_LABELS: dict[str, tuple[str, str, str]] = {
    "meets": ("达标", "Meets", "#1a9641"),
    "partly": ("部分达标", "Partly meets", "#f0a020"),
    "gap": ("缺口", "Gap", "#d7191c"),
}

#: pilot kind -> (中文, English)
KIND_LABELS: dict[str, tuple[str, str]] = {
    "community": ("社区", "Community"),
    "school": ("学校", "School"),
    "hospital": ("医院", "Hospital"),
    "park": ("公园", "Park"),
    "venue": ("场馆", "Venue"),
    "street": ("街区", "Street"),
    "enterprise": ("企业", "Enterprise"),
}

#: route verdict -> (中文, English, colour)
VERDICT_LABELS: dict[str, tuple[str, str, str]] = {
    "safe": ("安全", "Safe", "#1a9641"),
    "caution": ("注意", "Caution", "#f0a020"),
    "unsafe": ("不安全", "Unsafe", "#d7191c"),
}

#: pedestrian stress level 1-4 -> (中文, English, colour): green, light green, orange, red.
STRESS_LABELS: dict[int, tuple[str, str, str]] = {
    1: ("1级 低压力", "Level 1 low stress", "#1a9641"),
    2: ("2级 较低", "Level 2", "#a6d96a"),
    3: ("3级 较高", "Level 3", "#fdae61"),
    4: ("4级 高压力", "Level 4 high stress", "#d7191c"),
}

#: coverage % classes shared by the choropleths (maps, figures) and the HTML tables: upper bound (exclusive),
#: colour, label. Red = low coverage, green = high.
COVERAGE_BINS: list[tuple[float, str, str]] = [
    (20.0, "#d7191c", "0–20%"),
    (40.0, "#fdae61", "20–40%"),
    (60.0, "#ffffbf", "40–60%"),
    (80.0, "#a6d96a", "60–80%"),
    (100.0001, "#1a9641", "80–100%"),
]
#: fill of units without a figure
NO_DATA_COLOUR = "#bdbdbd"

#: analysis value column -> bilingual label (coverage choropleths)
_VALUE_LABELS: dict[str, str] = {"pct_walk": "步行覆盖率 Walking coverage",
                                 "pct_line": "直线覆盖率 Straight-line coverage",
                                 "area_pct_walk": "步行覆盖面积比 Area covered on foot"}


def _only_category(table: pd.DataFrame, caller: str, holds: str) -> str:
    """The one category in ``table["category"]``; a ChildspaceError naming ``caller`` when there are several/none.

    ``holds`` completes the message, e.g. ``"facilities hold"``.
    """
    cats = table["category"].dropna().unique() if "category" in table.columns else []
    if len(cats) != 1:
        raise ChildspaceError(f"{caller} needs a category when {holds} several",
                              fix=f"pass category= one of {sorted(map(str, cats))}")
    return str(cats[0])


def _coverage_colours(values: np.ndarray) -> np.ndarray:
    """Fill colour of each coverage value (per cent 0–100) by :data:`COVERAGE_BINS`; NaN -> :data:`NO_DATA_COLOUR`.

    Values below 0 fall in the first class, values of 100 and above in the last.
    """
    vals = np.asarray(values, dtype=float)
    uppers = np.array([b[0] for b in COVERAGE_BINS])
    idx = np.clip(np.searchsorted(uppers, np.nan_to_num(vals, nan=-1.0), side="right"), 0, len(COVERAGE_BINS) - 1)
    return np.where(np.isfinite(vals), np.array([b[1] for b in COVERAGE_BINS])[idx], NO_DATA_COLOUR)


_LEVEL_LABELS = {"township": "乡镇街道 Township", "community": "村社区 Community"}

#: fixed column headers (bilingual, Chinese first)
COLUMN_LABELS: dict[str, str] = {
    "unit_id": "单元编号 Unit ID",
    "unit_name": "单元名称 Unit name",
    "name": "名称 Name",
    "level": "层级 Level",
    "parent_id": "上级编号 Parent ID",
    "code": "区划代码 Code",
    "population": "人口 Population",
    "category": "设施类型 Category",
    "category_zh": "设施类型（中文） Category (Chinese)",
    "radius_m": "服务半径(米) Radius (m)",
    "children": "儿童数 Children",
    "children_covered_walk": "步行覆盖儿童 Children covered (walk)",
    "pct_walk": "步行覆盖率 Coverage walk %",
    "children_covered_line": "直线覆盖儿童 Children covered (straight line)",
    "pct_line": "直线覆盖率 Coverage straight line %",
    "area_pct_walk": "步行覆盖面积比 Area covered walk %",
    "median_walk_m": "步行距离中位数(米) Median walk (m)",
    "p90_walk_m": "步行距离90分位(米) 90th pct walk (m)",
    "detour_ratio": "绕行系数 Detour ratio",
    "below_target": "低于目标 Below target",
    "target_pct": "目标覆盖率 Target %",
    "lc5_missing": "5分钟生活圈缺项 Missing in 5-min circle",
    "lc10_missing": "10分钟生活圈缺项 Missing in 10-min circle",
    "lc15_missing": "15分钟生活圈缺项 Missing in 15-min circle",
    "lc5_complete": "5分钟生活圈完整 5-min circle complete",
    "lc10_complete": "10分钟生活圈完整 10-min circle complete",
    "lc15_complete": "15分钟生活圈完整 15-min circle complete",
    "children_uncovered": "未覆盖儿童 Children uncovered",
    "area_m2": "面积(平方米) Area (m²)",
    "rank": "排序 Rank",
    "pilot_id": "试点编号 Pilot ID",
    "batch": "批次 Batch",
    "kind": "类型 Kind",
    "township": "所属镇街 Township",
    "notes": "备注 Notes",
    "key_project": "重点项目 Key project",
    "status": "状态 Status",
    "status_zh": "状态（中文） Status (Chinese)",
    "reasons": "原因 Reasons",
    "facility_id": "设施编号 Facility ID",
    "capacity": "容量 Capacity",
    "address": "地址 Address",
    "source": "来源 Source",
    "school_id": "学校编号 School ID",
    "origin_id": "起点编号 Origin ID",
    "route": "路线 Route",
    "length_m": "长度(米) Length (m)",
    "worst_level": "最差压力等级 Worst stress level",
    "unsafe_crossings": "不安全过街 Unsafe crossings",
    "share_l1": "1级路段占比 Share level 1",
    "share_l2": "2级路段占比 Share level 2",
    "share_l3": "3级路段占比 Share level 3",
    "share_l4": "4级路段占比 Share level 4",
    "assumed_share": "推定标签占比 Share on assumed tags",
    "verdict": "评价 Verdict",
    "children_safe": "安全路线儿童 Children safe",
    "children_caution": "需注意儿童 Children caution",
    "children_unsafe": "不安全儿童 Children unsafe",
    "children_unreachable": "不可达儿童 Children unreachable",
    "hazard_id": "隐患编号 Hazard ID",
    "type": "类型 Type",
    "schools": "涉及学校 Schools",
    "reason": "原因 Reason",
    "max_level": "最高压力等级 Max stress level",
    "method": "方法 Method",
    "n_elements": "检查项数 Elements checked",
    "n_present": "具备项数 Elements present",
    "rule": "判定规则 Rule",
    "kind_input": "原始类型 Kind (as given)",
    # school zones (safety.school_zones, GA/T 1215-2014)
    "n_gates": "校门数 Gates",
    "zone_road_m": "校园周边道路长度(米) Zone road length (m)",
    "n_segments": "路段数 Road segments",
    "max_speed_kmh": "最高限速(km/h) Max speed limit (km/h)",
    "speed_ok": "限速符合 Speed limit met",
    "share_over_limit": "超限速道路占比 Share over the limit",
    "share_speed_assumed": "假定限速占比 Share with assumed speed",
    "crossing_m": "最近人行横道距离(米) Nearest marked crossing (m)",
    "crossing_type": "人行横道类型 Crossing type",
    "crossing_osmid": "人行横道OSM编号 Crossing OSM id",
    "crossing_ok": "人行横道符合 Crossing requirement met",
    "compliant": "符合规范 Compliant",
    "finding": "发现 Finding",
    "edge": "路段序号 Edge",
    "osmid": "OSM编号 OSM id",
    "highway": "道路等级 Road class",
    "maxspeed_kmh": "限速(km/h) Speed limit (km/h)",
    "speed_assumed": "限速为假定 Speed assumed",
    "over_limit": "超过限速 Over the limit",
}

_PREFIX_LABELS = [
    ("dist_walk_", "步行距离(米) Walk distance (m)"),
    ("dist_line_", "直线距离(米) Straight-line distance (m)"),
    ("covered_walk_", "步行覆盖 Covered (walk)"),
    ("covered_line_", "直线覆盖 Covered (line)"),
    ("nearest_", "最近设施 Nearest"),
    ("has_", "具备 Has"),
    ("dist_", "距离(米) Distance (m)"),
]

#: suggested sheet names for :func:`write_excel` (Excel limits sheet names to 31 characters)
SHEET_NAMES: dict[str, str] = {
    "township_coverage": "乡镇覆盖 Township coverage",
    "community_coverage": "社区覆盖 Community coverage",
    "pilots": "试点单元 Pilot units",
    "schools": "学校 Schools",
    "hazards": "隐患点 Hazards",
    "gaps": "缺口 Gaps",
    "life_circles": "生活圈 Life circles",
    "routes": "上学路线 School routes",
    "school_zones": "校园周边 School zones",
    "pilot_units": "试点单元 Pilot units",
    "township_life_circles": "乡镇生活圈 Township life circles",
    "community_life_circles": "社区生活圈 Community life circles",
    "township_minimums": "乡镇设施数 Township minimums",
    "datum_check": "坐标检查 Datum check",
}


def category_label(category: str) -> str:
    """Bilingual label of a canonical category, e.g. ``"幼儿园 Kindergarten"`` (unknown: the key itself)."""
    zh, en = CATEGORY_LABELS.get(category, (category, ""))
    return f"{zh} {en}".strip()


def column_label(column: str) -> str:
    """Bilingual header for an analysis column (Chinese first). Unknown columns are returned unchanged."""
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    for prefix, label in _PREFIX_LABELS:
        if column.startswith(prefix):
            cat = column[len(prefix):]
            if cat in CATEGORY_LABELS:
                zh, en = CATEGORY_LABELS[cat]
                lab_zh, lab_en = label.split(" ", 1)
                return f"{zh}{lab_zh} {en}: {lab_en}"
    return column


def bilingual_headers(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with bilingual headers; duplicate headers after translation get the raw name appended."""
    new = [column_label(str(c)) for c in df.columns]
    seen: dict[str, int] = {}
    for i, c in enumerate(new):
        if c in seen:
            new[i] = f"{c} ({df.columns[i]})"
        seen[new[i]] = i
    out = df.copy()
    out.columns = new
    return out


# ----------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------

def _write_atomic_bytes(path: Path, writer) -> Path:
    """Call ``writer(tmp_path)`` and rename the temporary file onto ``path`` (same folder, atomic)."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return path


def _plain_table(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Drop geometry-typed columns (a table never carries geometry); lists become '; '-joined text."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"table {name!r} is a {type(df).__name__}, not a DataFrame",
                        fix="pass pandas DataFrames / GeoDataFrames as the tables")
    out = pd.DataFrame(df).copy()
    geom_cols = [c for c in out.columns if str(out[c].dtype) == "geometry"]
    out = out.drop(columns=geom_cols)
    for c in out.columns:
        if out[c].dtype == object:
            sample = out[c].dropna()
            if len(sample) and sample.map(lambda v: isinstance(v, (list, tuple, set))).any():
                out[c] = out[c].map(lambda v: "; ".join(map(str, v)) if isinstance(v, (list, tuple, set)) else v)
    return pd.DataFrame(out)


def _display_width(text: str) -> int:
    # CJK characters take about two Latin character widths in Excel
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pct_kind(column: str) -> str | None:
    """'pct100' for 0-100 percentages, 'frac' for 0-1 shares, None otherwise."""
    if column.startswith("pct_") or column.startswith("area_pct_") or column == "target_pct":
        return "pct100"
    if column.startswith("share_") or column == "assumed_share":
        return "frac"
    return None


# ----------------------------------------------------------------------------------------------------
# Excel
# ----------------------------------------------------------------------------------------------------

def write_excel(path: str | Path, sheets: Mapping[str, pd.DataFrame]) -> Path:
    """Write one workbook with one sheet per analysis table.

    Headers are bilingual (Chinese first, :func:`column_label`), the header row is frozen and bold, columns are
    sized to their content, percentage columns get a per-cent format, and geometry columns are dropped.

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` file to write; written to a temporary file in the same folder and renamed (atomic).
    sheets : mapping of str to DataFrame
        Sheet name -> table, e.g. ``{"乡镇覆盖 Township coverage": df}`` (see :data:`SHEET_NAMES`). Names longer
        than 31 characters (Excel's limit) are cut; characters ``[]:*?/\\`` are replaced.

    Returns
    -------
    Path
        The file written.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    path = Path(path)
    if not sheets:
        raise DataError("no tables to write", path=path, fix="pass at least one DataFrame in `sheets`")
    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for raw_name, df in sheets.items():
        table = _plain_table(df, raw_name)
        name = str(raw_name)
        for ch in "[]:*?/\\":
            name = name.replace(ch, "_")
        name = name[:31] or "Sheet"
        base, k = name, 2
        while name.lower() in used:
            suffix = f" ({k})"
            name = base[: 31 - len(suffix)] + suffix
            k += 1
        used.add(name.lower())
        ws = wb.create_sheet(name)
        headers = [column_label(str(c)) for c in table.columns]
        ws.append(headers)
        fill = PatternFill("solid", fgColor="DDEBF7")
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.fill = fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        values = table.astype(object).where(table.notna(), None).to_numpy()
        for row in values:
            ws.append([_excel_value(v) for v in row])
        for j, col in enumerate(table.columns, start=1):
            letter = get_column_letter(j)
            kind = _pct_kind(str(col))
            if kind is not None and pd.api.types.is_numeric_dtype(table[col]):
                fmt = '0.0"%"' if kind == "pct100" else "0.0%"
                for cell in ws[letter][1:]:
                    cell.number_format = fmt
            elif pd.api.types.is_float_dtype(table[col]):
                for cell in ws[letter][1:]:
                    cell.number_format = "0.0"
            texts = [str(v) for v in table[col].head(500).tolist() if v is not None]
            width = max([_display_width(headers[j - 1]) // 2 + 2] + [_display_width(t) + 2 for t in texts])
            ws.column_dimensions[letter].width = float(min(max(width, 8), 60))
        ws.freeze_panes = "A2"
        ws.row_dimensions[1].height = 32
    return _write_atomic_bytes(path, lambda tmp: wb.save(tmp))


def _excel_value(v):
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (str, int, float, bool)):
        return v
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return str(v)


# ----------------------------------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------------------------------

def write_csv_tables(directory: str | Path, tables: Mapping[str, pd.DataFrame], *,
                     bilingual: bool = False) -> dict[str, Path]:
    """Write each table as ``<directory>/<name>.csv`` in UTF-8 with BOM (Excel opens Chinese correctly).

    Parameters
    ----------
    directory : str or Path
        Existing output folder.
    tables : mapping of str to DataFrame
        File stem -> table. Geometry columns are dropped; list values are ``"; "``-joined.
    bilingual : bool, default False
        Write bilingual headers (:func:`column_label`) instead of the machine column names. Keep False when the
        CSV is to be read back by programs.

    Returns
    -------
    dict of str to Path
        File stem -> file written. Each file is written to a temporary file and renamed (atomic).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ChildspaceError("the output folder does not exist", path=directory,
                              fix="create the folder first or choose another output folder")
    written: dict[str, Path] = {}
    for stem, df in tables.items():
        safe = "".join("_" if ch in '<>:"/\\|?*' else ch for ch in str(stem)).strip() or "table"
        table = _plain_table(df, stem)
        if bilingual:
            table = bilingual_headers(table)
        target = directory / f"{safe}.csv"
        written[str(stem)] = _write_atomic_bytes(
            target, lambda tmp, t=table: t.to_csv(tmp, index=False, encoding="utf-8-sig",
                                                  quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n"))
    return written


# ----------------------------------------------------------------------------------------------------
# HTML report
# ----------------------------------------------------------------------------------------------------

_REPORT_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC","WenQuanYi Micro Hei",
 sans-serif;margin:0;color:#222;background:#f6f7f9;font-size:15px;line-height:1.5}
header{background:#1f4e79;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:26px}
header .synthetic{display:inline-block;margin-top:6px;background:#fff3cd;color:#7a5200;padding:2px 10px;
 border-radius:4px;font-weight:bold}
main{padding:10px 28px 40px;max-width:1280px}
section{background:#fff;border:1px solid #dde;border-radius:6px;padding:12px 18px;margin:16px 0}
h2{font-size:20px;margin:4px 0 10px;color:#1f4e79}
h3{font-size:16px;margin:10px 0 6px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid #ccd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#ddebf7}
td.num{text-align:right}
.status{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:bold;white-space:nowrap}
.meets{background:#1a9641}.partly{background:#e08a00}.gap{background:#d7191c}.unknown{background:#888}
iframe{width:100%;height:560px;border:1px solid #ccd;border-radius:4px}
img.fig{max-width:100%;border:1px solid #ccd;border-radius:4px;margin:6px 0}
ul.summary li{margin:3px 0}
.pilot{border-left:5px solid #888;padding:4px 10px;margin:8px 0;background:#fafbfc}
.pilot.meets{border-color:#1a9641;background:#f3faf4}.pilot.partly{border-color:#e08a00;background:#fff8ec}
.pilot.gap{border-color:#d7191c;background:#fdf1f1}
.pilot .meta{color:#555;font-size:13px}
.scroll{max-height:420px;overflow:auto}
table.township td.cov{text-align:center;font-weight:bold;min-width:70px}
table.township td.cov[data-below="1"]{color:#5a0000}
table.zones td.ok{background:#d9f0d3;color:#1a5c1a;font-weight:bold;text-align:center}
table.zones td.fail{background:#fddbc7;color:#8b0000;font-weight:bold;text-align:center}
p.legend .sw{display:inline-block;width:16px;height:11px;border:1px solid #555;margin:0 4px 0 8px;
 vertical-align:middle}
"""


def _esc(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    return html.escape(str(v))


def _table_html(df: pd.DataFrame, max_rows: int = 300) -> str:
    table = _plain_table(df, "table")
    # values planners read: categories, statuses and yes/no in both languages
    for col in table.columns:
        if col == "category":
            table[col] = table[col].map(lambda v: category_label(v) if isinstance(v, str) else v)
        elif col == "status":
            table[col] = table[col].map(lambda v: " ".join(STATUS_LABELS[v][:2]) if v in STATUS_LABELS else v)
        elif col == "kind":
            table[col] = table[col].map(lambda v: " ".join(KIND_LABELS[v]) if v in KIND_LABELS else v)
        elif col == "verdict":
            table[col] = table[col].map(lambda v: " ".join(VERDICT_LABELS[v][:2]) if v in VERDICT_LABELS else v)
        elif pd.api.types.is_bool_dtype(table[col]):
            table[col] = table[col].map({True: "是 Yes", False: "否 No"})
    table = bilingual_headers(table)
    note = ""
    if len(table) > max_rows:
        note = (f"<p>仅显示前 {max_rows} 行，共 {len(table)} 行；完整表格见 Excel 工作簿。 "
                f"First {max_rows} of {len(table)} rows shown; see the Excel workbook for all.</p>")
        table = table.head(max_rows)
    head = "".join(f"<th>{_esc(c)}</th>" for c in table.columns)
    rows = []
    for raw_row in table.itertuples(index=False):
        cells = []
        for v in raw_row:
            if isinstance(v, (float, np.floating)):
                cells.append(f'<td class="num">{"" if not np.isfinite(v) else f"{v:,.1f}"}</td>')
            elif isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
                cells.append(f'<td class="num">{int(v):,}</td>')
            else:
                cells.append(f"<td>{_esc(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'{note}<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _rel(target: str | Path, base: Path) -> str:
    target = Path(target)
    try:
        return os.path.relpath(target.resolve(), base.resolve()).replace(os.sep, "/")
    except ValueError:  # other drive on Windows
        return target.resolve().as_uri()


def _pilot_sections(pilots_status: pd.DataFrame) -> str:
    required = ["pilot_id", "name", "status"]
    missing = [c for c in required if c not in pilots_status.columns]
    if missing:
        raise DataError(f"pilot status table lacks columns {missing}",
                        fix="pass the output of childspace.analysis.pilots.pilot_status")
    df = pd.DataFrame(pilots_status).copy()
    sort_cols = [c for c in ("batch", "pilot_id") if c in df.columns]
    df = df.sort_values(sort_cols, kind="stable") if sort_cols else df
    counts = df["status"].value_counts()
    parts = ["<p>"]
    for key, (zh, en, _c) in STATUS_LABELS.items():
        parts.append(f'<span class="status {key}">{zh} {en}: {int(counts.get(key, 0))}</span> ')
    parts.append(f"&nbsp; 共 {len(df)} 个试点单元 {len(df)} pilot units</p>")
    groups = df.groupby("batch", sort=True) if "batch" in df.columns else [("", df)]
    for batch, g in groups:
        if batch != "":
            parts.append(f"<h3>{_esc(batch)} 年批次（{len(g)} 个） Batch {_esc(batch)} ({len(g)} units)</h3>")
        for r in g.to_dict("records"):
            st = str(r.get("status", ""))
            zh, en, _c = STATUS_LABELS.get(st, (str(r.get("status_zh", st)), st, "#888"))
            cls = st if st in STATUS_LABELS else "unknown"
            kind = str(r.get("kind", "") or "")
            kzh, ken = KIND_LABELS.get(kind, (kind, ""))
            kp = r.get("key_project", False)
            key = " ★ 重点项目 Key project" if (kp is not None and kp is not pd.NA and not (
                isinstance(kp, float) and np.isnan(kp)) and bool(kp)) else ""
            town = f" · {_esc(r['township'])}" if r.get("township") not in (None, "") and not (
                isinstance(r.get("township"), float) and np.isnan(r["township"])) else ""
            reasons = _esc(r.get("reasons", "")) or "—"
            parts.append(
                f'<div class="pilot {cls}" id="pilot-{_esc(r["pilot_id"])}" data-status="{_esc(st)}">'
                f'<b>{_esc(r["pilot_id"])} {_esc(r["name"])}</b> <span class="status {cls}">{zh} {en}</span>'
                f"{_esc(key)}<div class=\"meta\">批次 Batch {_esc(r.get('batch', ''))} · 类型 Kind {kzh} {ken}"
                f"{town}</div><div>原因 Reasons: {reasons}</div></div>")
    return "".join(parts)


def township_table_html(township_coverage: pd.DataFrame, value: str = "pct_walk") -> str:
    """Townships x categories table of coverage % (cells coloured by the map classes; bold red = below target).

    Parameters
    ----------
    township_coverage : DataFrame
        ``coverage.unit_coverage`` rows of the townships (``unit_id``, ``name``, ``category``, ``value``,
        optional ``children``, ``below_target``, ``target_pct``); percentages 0–100.
    value : str, default "pct_walk"

    Returns
    -------
    str
        An HTML ``<table>`` (one row per township, one column per category, plus children).
    """
    need = ["unit_id", "category", value]
    missing = [c for c in need if c not in township_coverage.columns]
    if missing:
        raise DataError(f"township coverage table lacks columns {missing}",
                        fix="pass coverage.unit_coverage of the townships")
    df = pd.DataFrame(township_coverage)
    cats = [str(c) for c in pd.unique(df["category"].dropna())]
    df = df.assign(unit_id=df["unit_id"].astype(str))
    piv = df.pivot_table(index="unit_id", columns="category", values=value, aggfunc="first")
    below = (df.pivot_table(index="unit_id", columns="category", values="below_target", aggfunc="first")
             if "below_target" in df.columns else None)
    names = df.drop_duplicates("unit_id").set_index("unit_id")["name"] if "name" in df.columns else None
    kids = (df.drop_duplicates("unit_id").set_index("unit_id")["children"] if "children" in df.columns else None)
    head = ("<tr><th>乡镇街道 Township</th>" + ("<th>儿童数 Children</th>" if kids is not None else "")
            + "".join(f"<th>{_esc(category_label(c))}</th>" for c in cats) + "</tr>")
    rows = []
    for uid in pd.unique(df["unit_id"]):
        name = _esc(names.get(uid, uid)) if names is not None else _esc(uid)
        cells = [f"<td><b>{name}</b><br><span style='color:#666;font-size:12px'>{_esc(uid)}</span></td>"]
        if kids is not None:
            k = pd.to_numeric(pd.Series([kids.get(uid)]), errors="coerce").iloc[0]
            cells.append(f'<td class="num">{"" if not np.isfinite(k) else f"{k:,.0f}"}</td>')
        for c in cats:
            v = piv.at[uid, c] if (uid in piv.index and c in piv.columns) else np.nan
            v = float(v) if v is not None and pd.notna(v) else np.nan
            if not np.isfinite(v):
                cells.append(f'<td class="num cov" style="background:{NO_DATA_COLOUR}">—</td>')
                continue
            bt = bool(below.at[uid, c]) if below is not None and uid in below.index and c in below.columns \
                and pd.notna(below.at[uid, c]) else False
            mark = " ▼" if bt else ""
            cells.append(f'<td class="num cov" data-below="{int(bt)}" '
                         f'style="background:{_coverage_colours([v])[0]}">{v:.0f}%{mark}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    target = ""
    if "target_pct" in df.columns and df["target_pct"].notna().any():
        target = f"{float(pd.to_numeric(df['target_pct'], errors='coerce').dropna().iloc[0]):g}%"
    legend = ("".join(f'<span class="sw" style="background:{c}"></span>{lab} ' for c, lab in
                      [(c, lab) for _u, c, lab in COVERAGE_BINS] + [(NO_DATA_COLOUR, "无数据 No data")])
              + (f" &nbsp; ▼ = 低于目标 {target} below target" if target else ""))
    return (f'<p class="legend">{legend}</p><div class="scroll"><table class="township">'
            f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>")


def school_zone_table_html(school_zones: pd.DataFrame) -> str:
    """Per-school table of the GA/T 1215-2014 school-zone check, worst first, pass/fail cells coloured.

    Parameters
    ----------
    school_zones : DataFrame
        :func:`childspace.analysis.safety.school_zones` table (``school_id``, ``name``, ``speed_ok``, ``crossing_ok``,
        ``compliant``, ``finding``, optional ``category``, ``zone_road_m`` (m), ``max_speed_kmh``, ``crossing_m``
        (m)); a geometry column is ignored.

    Returns
    -------
    str
        A summary line and an HTML ``<table class="zones">`` with bilingual headers (Chinese first).
    """
    need = ["school_id", "speed_ok", "crossing_ok"]
    missing = [c for c in need if c not in school_zones.columns]
    if missing:
        raise DataError(f"school-zone table lacks columns {missing}",
                        fix="pass the output of childspace.analysis.safety.school_zones")
    df = pd.DataFrame(school_zones).drop(columns=["geometry"], errors="ignore").reset_index(drop=True)

    def flag(col: str, default: bool) -> np.ndarray:
        return (df[col].astype("boolean").fillna(default).to_numpy(dtype=bool) if col in df.columns
                else np.full(len(df), default))

    speed, cross = flag("speed_ok", True), flag("crossing_ok", False)
    comp = flag("compliant", False) if "compliant" in df.columns else speed & cross
    fails = (~speed).astype(int) + (~cross).astype(int)
    order = np.lexsort((df["school_id"].astype(str).to_numpy(), -fails))
    cols = [c for c in ("school_id", "name", "category", "compliant", "speed_ok", "max_speed_kmh",
                        "crossing_ok", "crossing_m", "zone_road_m", "finding") if c in df.columns or c == "compliant"]
    head = "".join(f"<th>{_esc(column_label(c))}</th>" for c in cols)
    rows = []
    for i in order:
        cells = []
        for c in cols:
            if c in ("compliant", "speed_ok", "crossing_ok"):
                ok = bool({"compliant": comp, "speed_ok": speed, "crossing_ok": cross}[c][i])
                cells.append(f'<td class="{"ok" if ok else "fail"}">{"✓ 是 Yes" if ok else "✗ 否 No"}</td>')
            elif c == "category":
                v = df.at[i, c]
                cells.append(f"<td>{_esc(category_label(v) if isinstance(v, str) else v)}</td>")
            elif c in ("max_speed_kmh", "crossing_m", "zone_road_m"):
                v = pd.to_numeric(pd.Series([df.at[i, c]]), errors="coerce").iloc[0]
                cells.append(f'<td class="num">{"—" if not np.isfinite(v) else f"{v:,.0f}"}</td>')
            elif c == "finding":
                cells.append(f"<td>{_esc(df.at[i, c]).replace(' | ', '<br>')}</td>")
            else:
                cells.append(f"<td>{_esc(df.at[i, c])}</td>")
        rows.append(f'<tr data-school="{_esc(df.at[i, "school_id"])}">' + "".join(cells) + "</tr>")
    n = len(df)
    summary = (f"<p>{int(comp.sum())} / {n} 所学校符合 GA/T 1215-2014 校园周边要求（限速与人行横道）；"
               f"{int((~speed).sum())} 所限速不符合，{int((~cross).sum())} 所人行横道不符合。 "
               f"{int(comp.sum())} of {n} schools meet GA/T 1215-2014 around the gate (speed limit and marked "
               f"crossing); {int((~speed).sum())} fail the speed limit, {int((~cross).sum())} the crossing.</p>")
    return (f'{summary}<div class="scroll"><table class="zones"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def html_report(path: str | Path, title: str, summary: Sequence[str] | str | None = None,
                maps: Mapping[str, str | Path] | None = None,
                pngs: Mapping[str, str | Path] | None = None,
                tables: Mapping[str, pd.DataFrame] | None = None,
                pilots_status: pd.DataFrame | None = None, *,
                township_coverage: pd.DataFrame | None = None,
                school_zones: pd.DataFrame | None = None,
                synthetic: bool = False,
                embed_maps: bool = True) -> Path:
    """Write one HTML page that puts the maps, figures, tables and pilot-unit statuses together.

    Parameters
    ----------
    path : str or Path
        The ``.html`` file to write (atomic: temporary file + rename). Map and PNG paths are linked relative to
        its folder, so keep the report next to its ``maps/`` and ``figures/``.
    title : str
        Page title (bilingual, Chinese first).
    summary : str or sequence of str, optional
        Findings on the gaps found, one bullet each (bilingual text).
    maps : mapping of str to path, optional
        Caption -> interactive map HTML file (from :func:`childspace.outputs.maps.save_map`): shown in an iframe with a
        link to open it full screen.
    pngs : mapping of str to path, optional
        Caption -> static figure file (shown as an image).
    tables : mapping of str to DataFrame, optional
        Caption -> table (bilingual headers; first 300 rows shown).
    pilots_status : DataFrame, optional
        Output of ``childspace.analysis.pilots.pilot_status``: one section per pilot unit (id, name, batch, kind,
        status, reasons), grouped by batch.
    township_coverage : DataFrame, optional
        ``coverage.unit_coverage`` of the townships: a per-township section (townships x categories, coverage %
        in coloured cells) placed before the pilot units. Default: the table named ``"township_coverage"`` in
        ``tables``, if any.
    school_zones : DataFrame, optional
        :func:`childspace.analysis.safety.school_zones` table: a "school zones" section (:func:`school_zone_table_html`,
        GA/T 1215-2014), placed after the township section.
    synthetic : bool, default False
        Say on the page that the data are the synthetic sample (示例数据（虚构）).
    embed_maps : bool, default True
        Show maps in iframes; False gives links only.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    base = path.parent
    body: list[str] = []
    syn = ('<div class="synthetic">示例数据（虚构） Synthetic sample data — 非真实情况 not real conditions</div>'
           if synthetic else "")
    body.append(f"<header><h1>{_esc(title)}</h1>{syn}</header><main>")
    toc = ['<section><h2>目录 Contents</h2><ul>']
    if summary:
        toc.append('<li><a href="#summary">发现摘要 Summary of gaps</a></li>')
    if maps:
        toc.append('<li><a href="#maps">交互地图 Interactive maps</a></li>')
    if pngs:
        toc.append('<li><a href="#figures">静态地图 Static maps</a></li>')
    if tables:
        toc.append('<li><a href="#tables">表格 Tables</a></li>')
    if township_coverage is None and tables and "township_coverage" in tables:
        township_coverage = tables["township_coverage"]
    if township_coverage is not None and len(township_coverage):
        toc.append('<li><a href="#townships">乡镇街道覆盖 Coverage by township</a></li>')
    if school_zones is not None:
        toc.append('<li><a href="#school-zones">校园周边道路 School zones</a></li>')
    if pilots_status is not None:
        toc.append('<li><a href="#pilots">试点单元 Pilot units</a></li>')
    toc.append("</ul></section>")
    body.extend(toc)
    if summary:
        items = [summary] if isinstance(summary, str) else list(summary)
        body.append('<section id="summary"><h2>发现摘要 Summary of gaps</h2><ul class="summary">'
                    + "".join(f"<li>{_esc(s)}</li>" for s in items) + "</ul></section>")
    if maps:
        body.append('<section id="maps"><h2>交互地图 Interactive maps</h2>')
        for caption, p in maps.items():
            rel = _esc(_rel(p, base))
            body.append(f'<h3>{_esc(caption)}</h3><p><a href="{rel}" target="_blank">在新窗口打开 Open full screen</a></p>')
            if embed_maps:
                body.append(f'<iframe src="{rel}" title="{_esc(caption)}" loading="lazy"></iframe>')
        body.append("</section>")
    if pngs:
        body.append('<section id="figures"><h2>静态地图 Static maps</h2>')
        for caption, p in pngs.items():
            body.append(f'<h3>{_esc(caption)}</h3><img class="fig" src="{_esc(_rel(p, base))}" alt="{_esc(caption)}">')
        body.append("</section>")
    if tables:
        body.append('<section id="tables"><h2>表格 Tables</h2>')
        for caption, df in tables.items():
            body.append(f"<h3>{_esc(caption)}</h3>{_table_html(df)}")
        body.append("</section>")
    if township_coverage is not None and len(township_coverage):
        body.append('<section id="townships"><h2>乡镇街道覆盖 Coverage by township</h2>'
                    "<p>步行服务半径内儿童所占比例 Share of children within walking reach, by category.</p>"
                    f"{township_table_html(township_coverage)}</section>")
    if school_zones is not None:
        body.append('<section id="school-zones"><h2>校园周边道路 School zones</h2>'
                    "<p>GA/T 1215-2014：校门150米范围内道路限速30 km/h，校门50米内有人行横道。 Roads within 150 m of "
                    "a school gate limited to 30 km/h; a marked crossing within 50 m of the gate.</p>"
                    f"{school_zone_table_html(school_zones)}</section>")
    if pilots_status is not None:
        body.append(f'<section id="pilots"><h2>试点单元 Pilot units</h2>{_pilot_sections(pilots_status)}</section>')
    body.append("</main>")
    page = ("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_esc(title)}</title><style>{_REPORT_CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
    return _write_atomic_bytes(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
