"""The HTML report (报告): key figures first, the community × category matrix, maps, figures, tables, method.

The workbook and the CSV tables are written by :mod:`childspace.outputs.workbook` (re-exported here:
:func:`write_excel`, :func:`write_csv_tables`); labels, colours and classes come from
:mod:`childspace.outputs.style`.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from childspace._atomic import atomic_path
from childspace._errors import DataError
from childspace.inputs.standards import Standards, default_standards
from childspace.outputs import plan_tables
from childspace.outputs.maps.webfont import embed_font
from childspace.outputs.style import (
    CATEGORY_LABELS,
    COLUMN_LABELS,
    KIND_LABELS,
    LEVEL_LABELS,
    NO_DATA_COLOUR,
    SHEET_NAMES,
    STATUS_LABELS,
    STATUS_RULE,
    category_label,
    column_label,
    coverage_class_index,
    coverage_classes,
    coverage_colours,
    status_text,
)
from childspace.outputs.workbook import (
    OSM_CREDIT,
    WorkbookAbout,
    bilingual_headers,
    display_table,
    hazard_table,
    write_csv_tables,
    write_excel,
)

__all__ = [
    "CATEGORY_LABELS",
    "COLUMN_LABELS",
    "KIND_LABELS",
    "SHEET_NAMES",
    "STATUS_LABELS",
    "WorkbookAbout",
    "bilingual_headers",
    "category_label",
    "column_label",
    "community_matrix",
    "hazard_table",
    "html_report",
    "school_zone_table_html",
    "township_table_html",
    "write_csv_tables",
    "write_excel",
]


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
.meets{background:#2166ac}.partly{background:#f4a259;color:#000}.gap{background:#9e0142}.unknown{background:#888}
iframe{width:100%;height:560px;border:1px solid #ccd;border-radius:4px}
img.fig{max-width:100%;border:1px solid #ccd;border-radius:4px;margin:6px 0}
ul.summary li{margin:3px 0}
.pilot{border-left:5px solid #888;padding:4px 10px;margin:8px 0;background:#fafbfc}
.pilot.meets{border-color:#2166ac;background:#f1f6fb}.pilot.partly{border-color:#f4a259;background:#fff8ec}
.pilot.gap{border-color:#9e0142;background:#fbf0f4}
.pilot .meta{color:#555;font-size:13px}
.scroll{max-height:420px;overflow:auto}
table.matrix td.cov{text-align:center;font-weight:bold;min-width:64px}
table.matrix td.cov{color:#2a1200}
table.matrix td.cov.c0,table.matrix td.cov.c1,table.matrix td.cov.c4{color:#fff}
table.zones td.ok{background:#c6dbef;color:#08306b;font-weight:bold;text-align:center}
table.zones td.fail{background:#f4c7d6;color:#6b0030;font-weight:bold;text-align:center}
p.legend .sw{display:inline-block;width:16px;height:11px;border:1px solid #555;margin:0 4px 0 8px;
 vertical-align:middle}
.keys{display:flex;flex-wrap:wrap;gap:12px;margin:4px 0}
.key{flex:1 1 200px;border:1px solid #ccd;border-radius:6px;padding:8px 12px;background:#fafbfc}
.key .v{font-size:26px;font-weight:bold;color:#1f4e79}
.key .l{font-size:13px;color:#444}
table.method td:first-child{white-space:nowrap;font-weight:bold}
table.plan td.big{font-size:17px;font-weight:bold;color:#1f4e79;white-space:nowrap}
table.plan td.note{font-size:12px;color:#444;max-width:360px}
table.plan b.missing{color:#7a0000}
table.plan-towns td.pm{white-space:nowrap}
@media print{
 @page{size:A4 landscape;margin:12mm}
 body{background:#fff;font-size:11pt}
 header{background:#fff;color:#000;border-bottom:2px solid #1f4e79;padding:0 0 6px}
 main{max-width:none;padding:0}
 section{border:none;padding:0;margin:0 0 10mm;break-inside:auto}
 h2,h3{break-after:avoid}
 tr,.pilot,.key,img.fig{break-inside:avoid}
 .scroll{max-height:none;overflow:visible}
 iframe,.noprint,#toc{display:none}
 section#plan{break-after:page}
 img.fig{max-height:170mm;border:none}
 th{background:#ddebf7 !important;-webkit-print-color-adjust:exact;print-color-adjust:exact}
 td.cov,.status{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""


def _esc(v) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    return html.escape(str(v))


def _display_head(df: pd.DataFrame, n: int) -> pd.DataFrame:
    """``display_table(df).head(n)`` without translating and rounding every row of a long table (a county's
    per-home tables have 600,000 rows; the report shows 300).

    A column's treatment depends on all its values: a float column is shown as whole numbers only when every
    finite value is whole, a ``level`` column is translated when any value is a boundary level, an object column
    reads 是/否 only when every value is a bool. So the first ``n`` rows are displayed together with, from the
    rest, the rows that decide these (the first finite value, the first value that is not whole, and the first
    row of each distinct value of the other columns), and those rows are dropped again.
    """
    if len(df) <= n:
        return display_table(df, "table")
    extra: set[int] = set()
    for j in range(df.shape[1]):
        s = df.iloc[n:, j]
        if str(s.dtype) == "geometry" or pd.api.types.is_bool_dtype(s):
            continue
        if pd.api.types.is_float_dtype(s):
            v = s.to_numpy(dtype=float, na_value=np.nan)
            fin = np.isfinite(v)
            for mask in (fin, fin & (np.mod(np.where(fin, v, 0.0), 1) != 0)):
                extra.update(np.flatnonzero(mask)[:1].tolist())
            continue
        tests = []
        if s.dtype == object:  # 是/否 only when every value is a bool
            tests.append(lambda v: not isinstance(v, (bool, np.bool_)))
        if str(df.columns[j]) == "level":  # translated when any value is a boundary level
            tests.append(lambda v: v in LEVEL_LABELS)
        if not tests:
            continue
        try:
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
        except TypeError:  # unhashable values (lists): every row as it is
            return display_table(df, "table").head(n)
        # the first row of each value (numbered in the order they first occur: the first match is the earliest)
        at = np.flatnonzero(codes >= 0)[np.unique(codes[codes >= 0], return_index=True)[1]]
        for test in tests:
            hit = next((i for i, v in enumerate(uniques) if test(v)), None)
            if hit is not None:
                extra.add(int(at[hit]))
    rows = np.concatenate([np.arange(n), n + np.asarray(sorted(extra), dtype=np.int64)])
    return display_table(df.iloc[rows], "table").head(n)


def _table_html(df: pd.DataFrame, max_rows: int = 300) -> str:
    # values planners read: categories, statuses, kinds and yes/no in both languages, numbers rounded
    table = bilingual_headers(_display_head(df, max_rows))
    note = ""
    if len(df) > max_rows:
        note = (
            f"<p>仅显示前 {max_rows} 行，共 {len(df)} 行；完整表格见 Excel 工作簿。 "
            f"First {max_rows} of {len(df)} rows shown; see the Excel workbook for all.</p>"
        )
    head = "".join(f"<th>{_esc(c)}</th>" for c in table.columns)
    rows = []
    for raw_row in table.itertuples(index=False):
        cells = []
        for v in raw_row:
            if v is None or v is pd.NA:
                cells.append("<td></td>")
            elif isinstance(v, (float, np.floating)):
                cells.append(f'<td class="num">{"" if not np.isfinite(v) else f"{v:,.1f}"}</td>')
            elif isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
                cells.append(f'<td class="num">{int(v):,}</td>')
            else:
                cells.append(f"<td>{_esc(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'{note}<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _countermeasures_first(hazards: pd.DataFrame) -> pd.DataFrame:
    """The hazards table with ``countermeasures`` and ``countermeasure_basis`` (when present) after ``reason``."""
    extra = [c for c in ("countermeasures", "countermeasure_basis") if c in hazards.columns]
    if not extra:
        return hazards
    cols = [c for c in hazards.columns if c not in extra]
    at = cols.index("reason") + 1 if "reason" in cols else len(cols)
    return hazards[cols[:at] + extra + cols[at:]]


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
        raise DataError(
            f"pilot status table lacks columns {missing}",
            fix="pass the output of childspace.analysis.pilots.pilot_status",
        )
    df = pd.DataFrame(pilots_status).copy()
    sort_cols = [c for c in ("batch", "pilot_id") if c in df.columns]
    df = df.sort_values(sort_cols, kind="stable") if sort_cols else df
    counts = df["status"].value_counts()
    parts = ["<p>"]
    for key in STATUS_LABELS:
        parts.append(f'<span class="status {key}">{status_text(key)}: {int(counts.get(key, 0))}</span> ')
    parts.append(f"&nbsp; 共 {len(df)} 个试点单元 {len(df)} pilot units</p>")
    groups = df.groupby("batch", sort=True) if "batch" in df.columns else [("", df)]
    for batch, g in groups:
        if batch != "":
            parts.append(f"<h3>{_esc(batch)} 年批次（{len(g)} 个） Batch {_esc(batch)} ({len(g)} units)</h3>")
        for r in g.to_dict("records"):
            st = str(r.get("status", ""))
            label = status_text(st) if st in STATUS_LABELS else str(r.get("status_zh", st))
            cls = st if st in STATUS_LABELS else "unknown"
            kind = str(r.get("kind", "") or "")
            kzh, ken = KIND_LABELS.get(kind, (kind, ""))
            kp = r.get("key_project", False)
            key = (
                " ★ 重点项目 Key project"
                if kp is not None and kp is not pd.NA and pd.notna(kp) and kp
                else ""
            )
            town = (
                f" · {_esc(r['township'])}"
                if r.get("township") not in (None, "")
                and not (isinstance(r.get("township"), float) and np.isnan(r["township"]))
                else ""
            )
            reasons = _esc(r.get("reasons", "")) or "—"
            parts.append(
                f'<div class="pilot {cls}" id="pilot-{_esc(r["pilot_id"])}" data-status="{_esc(st)}">'
                f'<b>{_esc(r["pilot_id"])} {_esc(r["name"])}</b> <span class="status {cls}">{_esc(label)}</span>'
                f'{_esc(key)}<div class="meta">批次 Batch {_esc(r.get("batch", ""))} · 类型 Kind {kzh} {ken}'
                f"{town}</div><div>原因 Reasons: {reasons}</div></div>"
            )
    return "".join(parts)


def community_matrix(unit_coverage: pd.DataFrame, value: str = "pct_walk") -> pd.DataFrame:
    """Units × categories table of coverage (per cent), one row per unit: ``unit_id``, ``name``, ``children``
    (the largest count of the unit's rows), then one column per category, then ``n_below`` (categories below
    target)."""
    need = ["unit_id", "category", value]
    missing = [c for c in need if c not in unit_coverage.columns]
    if missing:
        raise DataError(f"coverage table lacks columns {missing}", fix="pass coverage.unit_coverage")
    df = pd.DataFrame(unit_coverage).assign(unit_id=lambda d: d["unit_id"].astype(str))
    cats = [str(c) for c in pd.unique(df["category"].dropna())]
    piv = df.pivot_table(index="unit_id", columns="category", values=value, aggfunc="first")
    order = list(pd.unique(df["unit_id"]))
    out = pd.DataFrame({"unit_id": order})
    if "name" in df.columns:
        out["name"] = out["unit_id"].map(df.drop_duplicates("unit_id").set_index("unit_id")["name"])
    if "children" in df.columns:
        out["children"] = (
            out["unit_id"]
            .map(pd.to_numeric(df["children"], errors="coerce").groupby(df["unit_id"]).max())
            .round()
            .astype("Int64")
        )
    for c in cats:
        out[c] = out["unit_id"].map(piv[c]) if c in piv.columns else np.nan
    if "below_target" in df.columns:
        nb = (
            df.assign(b=df["below_target"].astype("boolean").fillna(False).astype(int))
            .groupby("unit_id")["b"]
            .sum()
        )
        out["n_below"] = out["unit_id"].map(nb).astype("Int64")
    return out


def _matrix_html(
    coverage: pd.DataFrame, unit_header: str, value: str = "pct_walk", sort_worst: bool = False
) -> str:
    """Units × categories table of coverage %: cells coloured by the target's classes, ▼ below target."""
    need = ["unit_id", "category", value]
    missing = [c for c in need if c not in coverage.columns]
    if missing:
        raise DataError(f"coverage table lacks columns {missing}", fix="pass coverage.unit_coverage")
    df = pd.DataFrame(coverage)
    target = None
    if "target_pct" in df.columns and df["target_pct"].notna().any():
        target = float(pd.to_numeric(df["target_pct"], errors="coerce").dropna().iloc[0])
    mat = community_matrix(df, value)
    cats = [c for c in mat.columns if c not in ("unit_id", "name", "children", "n_below")]
    below = (
        df.assign(unit_id=df["unit_id"].astype(str)).pivot_table(
            index="unit_id", columns="category", values="below_target", aggfunc="first"
        )
        if "below_target" in df.columns
        else None
    )
    if sort_worst and "n_below" in mat.columns:
        mat = mat.sort_values(["n_below", "unit_id"], ascending=[False, True], kind="stable")
    head = (
        f"<tr><th>{_esc(unit_header)}</th>"
        + ("<th>儿童数 Children</th>" if "children" in mat.columns else "")
        + "".join(f"<th>{_esc(category_label(c))}</th>" for c in cats)
        + ("<th>低于目标的类别 Categories below target</th>" if "n_below" in mat.columns else "")
        + "</tr>"
    )
    # classes, colours and below-target flags per column at once (a county: 500 units x 10 categories)
    classes = coverage_classes(target)
    uids = [str(u) for u in mat["unit_id"]]
    bl = below.reindex(index=uids) if below is not None else None
    per_cat = {}
    for c in cats:
        vals = np.array([float(v) if v is not None and pd.notna(v) else np.nan for v in mat[c]], dtype=float)
        flags = (
            bl[c].to_numpy(dtype=object)
            if bl is not None and c in bl.columns
            else np.full(len(mat), None, object)
        )
        per_cat[c] = (vals, coverage_class_index(vals, target), coverage_colours(vals, target), flags)
    rows = []
    for i, r in enumerate(mat.to_dict("records")):
        uid = uids[i]
        cells = [
            f"<td><b>{_esc(r.get('name', uid))}</b><br><span style='color:#666;font-size:12px'>{_esc(uid)}"
            "</span></td>"
        ]
        if "children" in mat.columns:
            k = r.get("children")
            cells.append(f'<td class="num">{"" if k is None or k is pd.NA else f"{int(k):,}"}</td>')
        for c in cats:
            vals, cidx, colours, flags = per_cat[c]
            v = vals[i]
            if not np.isfinite(v):
                # why: no child counted in the unit (a share of nothing), or no value computed
                k = r.get("children")
                why = (
                    "无儿童 no children" if k is not None and k is not pd.NA and k == 0 else "无数据 no data"
                )
                cells.append(
                    f'<td class="num cov" style="background:{NO_DATA_COLOUR}">—<br><small>{why}</small></td>'
                )
                continue
            ci = int(cidx[i])
            bt = bool(flags[i]) if pd.notna(flags[i]) else not classes[ci].meets
            mark = " ▼" if bt else ""
            cells.append(
                f'<td class="num cov c{ci}" data-below="{int(bt)}" style="background:{colours[i]}">{v:.0f}%{mark}</td>'
            )
        if "n_below" in mat.columns:
            nb = r.get("n_below")
            cells.append(f'<td class="num">{"" if nb is None or nb is pd.NA else int(nb)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    legend = (
        "".join(
            f'<span class="sw" style="background:{c.colour}"></span>{_esc(c.label)} '
            for c in reversed(coverage_classes(target))
        )
        + f'<span class="sw" style="background:{NO_DATA_COLOUR}"></span>— 无儿童或无数据 no children or no data'
        + " &nbsp; ▼ = 低于目标 below target"
    )
    return (
        f'<p class="legend">{legend}</p><div class="scroll"><table class="matrix">'
        f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def township_table_html(township_coverage: pd.DataFrame, value: str = "pct_walk") -> str:
    """Townships x categories table of coverage % (cells coloured by the classes of the target; ▼ = below target).

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
    return _matrix_html(township_coverage, "乡镇街道 Township", value)


def _key_figures(
    unit_coverage: pd.DataFrame | None,
    pilots_status: pd.DataFrame | None,
    hazards: pd.DataFrame | None,
    school_zones: pd.DataFrame | None,
) -> list[tuple[str, str]]:
    """(value, label) of the few numbers a planner reads first."""
    out: list[tuple[str, str]] = []
    if unit_coverage is not None and len(unit_coverage) and "below_target" in unit_coverage.columns:
        uc = pd.DataFrame(unit_coverage)
        b = uc["below_target"].astype("boolean").fillna(False)
        units = uc.loc[b.to_numpy(), "unit_id"].astype(str).nunique()
        out.append(
            (
                f"{units} / {uc['unit_id'].astype(str).nunique()}",
                "个单元至少一类低于目标 units below target in at least one category",
            )
        )
        if {"children", "children_covered_walk", "category"} <= set(uc.columns):
            g = uc.groupby("category")[["children", "children_covered_walk"]].sum(numeric_only=True)
            pct = (100 * g["children_covered_walk"] / g["children"].where(g["children"] > 0)).dropna()
            if len(pct):
                worst = str(pct.idxmin())
                out.append((f"{pct.min():.0f}%", f"覆盖最低：{category_label(worst)} lowest coverage"))
    if pilots_status is not None and len(pilots_status) and "status" in pilots_status.columns:
        st = pilots_status["status"].astype(str)
        out.append(
            (f"{int((st == 'meets').sum())} / {len(st)}", "个试点单元达标 pilot units meet the checklist")
        )
    if hazards is not None and len(hazards):
        out.append((f"{len(hazards)}", "处通学隐患 hazards on routes to school"))
    if school_zones is not None and len(school_zones) and "compliant" in school_zones.columns:
        c = school_zones["compliant"].astype("boolean").fillna(False)
        out.append((f"{int(c.sum())} / {len(c)}", "所学校校园周边符合 GA/T 1215-2014 school zones compliant"))
    return out


def method_html(
    standards: Standards | None = None,
    categories: Sequence[str] | None = None,
    target_pct: float | None = None,
) -> str:
    """The method section: what is measured, the target, and each category's radius with its basis."""
    st = standards or default_standards()
    target = float(target_pct) if target_pct is not None else float(st.target_pct)
    cats = list(categories) if categories else list(st.categories)
    rows = []
    for c in cats:
        try:
            cat = st[c]
        except (DataError, KeyError):  # a category unknown to these standards: left out of the method
            continue
        rows.append(
            f"<tr><td>{_esc(cat.zh)} {_esc(cat.en)}</td><td class='num'>{cat.radius_m:g}</td>"
            f"<td>{_esc(cat.basis)}</td></tr>"
        )
    circles = "".join(
        f"<li>{_esc(lc.zh)} {_esc(lc.en)}: {lc.radius_m:g} 米 m — {_esc(lc.basis)}</li>"
        for lc in st.life_circles.values()
    )
    rules = "".join(f"<li>{_esc(t)}</li>" for t in STATUS_RULE)
    return (
        "<p>覆盖率 = 步行服务半径内（沿 OpenStreetMap 步行网络）的儿童占该单元儿童总数的比例；直线距离作对照。"
        f"各类设施以 <b>{target:g}%</b> 为目标（GB 55014-2021：公园服务半径覆盖率应大于 80%），低于目标即为缺口。 "
        "Coverage = share of a unit's children within the walking radius along the OpenStreetMap network "
        f"(straight-line distance for comparison); the target is <b>{target:g}%</b> for every category "
        "(GB 55014-2021: park service-radius coverage above 80 %); below it is a gap.</p>"
        "<table class='method'><thead><tr><th>设施类型 Category</th><th>服务半径(米) Radius (m)</th>"
        f"<th>依据 Basis</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<h3>生活圈 Life circles</h3><ul>{circles}</ul>"
        f"<h3>试点单元判定 Pilot-unit status</h3><ul>{rules}</ul>"
        "<h3>校园周边 School zones</h3><p>GA/T 1215-2014：校门150米范围内道路限速30 km/h，校门50米内有人行横道。 "
        "Roads within 150 m of a school gate limited to 30 km/h; a marked crossing within 50 m of the gate.</p>"
        f"<p>数据来源 Sources: {_esc(OSM_CREDIT)}。</p>"
    )


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
        raise DataError(
            f"school-zone table lacks columns {missing}",
            fix="pass the output of childspace.analysis.safety.school_zones",
        )
    df = pd.DataFrame(school_zones).drop(columns=["geometry"], errors="ignore").reset_index(drop=True)

    def flag(col: str, default: bool) -> np.ndarray:
        return (
            df[col].astype("boolean").fillna(default).to_numpy(dtype=bool)
            if col in df.columns
            else np.full(len(df), default)
        )

    speed, cross = flag("speed_ok", True), flag("crossing_ok", False)
    comp = flag("compliant", False) if "compliant" in df.columns else speed & cross
    fails = (~speed).astype(int) + (~cross).astype(int)
    order = np.lexsort((df["school_id"].astype(str).to_numpy(), -fails))
    cols = [
        c
        for c in (
            "school_id",
            "name",
            "category",
            "compliant",
            "speed_ok",
            "max_speed_kmh",
            "crossing_ok",
            "crossing_m",
            "zone_road_m",
            "finding",
        )
        if c in df.columns or c == "compliant"
    ]
    head = "".join(f"<th>{_esc(column_label(c))}</th>" for c in cols)
    # each column read once (a county: 550 schools x 10 columns)
    raw = {c: df[c].to_numpy(dtype=object) for c in cols if c in df.columns}
    num = {
        c: pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        for c in ("max_speed_kmh", "crossing_m", "zone_road_m")
        if c in cols
    }
    ids = df["school_id"].to_numpy(dtype=object)
    rows = []
    for i in order:
        cells = []
        for c in cols:
            if c in ("compliant", "speed_ok", "crossing_ok"):
                ok = bool({"compliant": comp, "speed_ok": speed, "crossing_ok": cross}[c][i])
                cells.append(f'<td class="{"ok" if ok else "fail"}">{"✓ 是 Yes" if ok else "× 否 No"}</td>')
            elif c == "category":
                v = raw[c][i]
                cells.append(f"<td>{_esc(category_label(v) if isinstance(v, str) else v)}</td>")
            elif c in num:
                v = num[c][i]
                cells.append(f'<td class="num">{"—" if not np.isfinite(v) else f"{v:,.0f}"}</td>')
            elif c == "finding":
                cells.append(f"<td>{_esc(raw[c][i]).replace(' | ', '<br>')}</td>")
            else:
                cells.append(f"<td>{_esc(raw[c][i])}</td>")
        rows.append(f'<tr data-school="{_esc(ids[i])}">' + "".join(cells) + "</tr>")
    n = len(df)
    summary = (
        f"<p>{int(comp.sum())} / {n} 所学校符合 GA/T 1215-2014 校园周边要求（限速与人行横道）；"
        f"{int((~speed).sum())} 所限速不符合，{int((~cross).sum())} 所人行横道不符合。 "
        f"{int(comp.sum())} of {n} schools meet GA/T 1215-2014 around the gate (speed limit and marked "
        f"crossing); {int((~speed).sum())} fail the speed limit, {int((~cross).sum())} the crossing.</p>"
    )
    return (
        f'{summary}<div class="scroll"><table class="zones"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def html_report(
    path: str | Path,
    title: str,
    summary: Sequence[str] | str | None = None,
    maps: Mapping[str, str | Path] | None = None,
    pngs: Mapping[str, str | Path] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    pilots_status: pd.DataFrame | None = None,
    *,
    township_coverage: pd.DataFrame | None = None,
    community_coverage: pd.DataFrame | None = None,
    school_zones: pd.DataFrame | None = None,
    hazards: pd.DataFrame | None = None,
    standards: Standards | None = None,
    categories: Sequence[str] | None = None,
    synthetic: bool = False,
    embed_maps: bool = True,
    indicators: pd.DataFrame | None = None,
) -> Path:
    """Write one HTML page: key figures first, the matrices, the maps and figures, the tables, the method.

    Order: key figures (plan targets met, units below target, lowest coverage, pilot units meeting the
    checklist, hazards, school zones), the plan's targets vs current values (first page), the summary of gaps,
    the community × category matrix (worst first), townships, pilot units, school zones, maps (embedded; they
    request nothing from the network), figures, tables, and the method (each category's radius and its basis
    from the standards, the target, the pilot rule). Prints on A4 landscape (print CSS: no frames, tables
    unbroken; the first page holds the key figures and the plan's targets).

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
        Caption -> interactive map HTML file (from :func:`childspace.outputs.maps.save_map`): shown in an iframe
        with a link to open it full screen.
    pngs : mapping of str to path, optional
        Caption -> static figure file (shown as an image).
    tables : mapping of str to DataFrame, optional
        Caption -> table (bilingual headers, codes translated; first 300 rows shown).
    pilots_status : DataFrame, optional
        Output of ``childspace.analysis.pilots.pilot_status``: one entry per pilot unit, grouped by batch.
    township_coverage, community_coverage : DataFrame, optional
        ``coverage.unit_coverage`` of the townships / communities: units × categories matrices. Default: the
        tables named ``"township_coverage"`` / ``"community_coverage"`` in ``tables``, if any.
    school_zones : DataFrame, optional
        :func:`childspace.analysis.safety.school_zones` table: a "school zones" section (GA/T 1215-2014).
    hazards : DataFrame, optional
        ``routes.hazards``: counted in the key figures. Default: the table named ``"hazards"`` in ``tables``.
    standards : Standards, optional
        The standards of the run, for the method section (default ``childspace/config/standards.toml``).
    categories : sequence of str, optional
        Categories analysed (method section); default those of the coverage tables.
    synthetic : bool, default False
        Say on the page that the data are the synthetic sample (示例数据（虚构）).
    embed_maps : bool, default True
        Show maps in iframes; False gives links only.
    indicators : DataFrame, optional
        :func:`childspace.analysis.indicators.plan_indicators`: the first page after the key figures, target vs
        current for every target of the plan (a value or "missing data: ..."), then townships x indicators.
        Default: the table named ``"indicators"`` in ``tables``.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    base = path.parent
    tables = dict(tables or {})
    if township_coverage is None:
        township_coverage = tables.get("township_coverage")
    if community_coverage is None:
        community_coverage = tables.get("community_coverage")
    if hazards is None:
        hazards = tables.get("hazards")
    if indicators is None:
        indicators = tables.get("indicators")
    if "hazards" in tables:
        tables["hazards"] = _countermeasures_first(tables["hazards"])
    cov_any = community_coverage if community_coverage is not None else township_coverage
    target = None
    if cov_any is not None and "target_pct" in cov_any.columns and cov_any["target_pct"].notna().any():
        target = float(pd.to_numeric(cov_any["target_pct"], errors="coerce").dropna().iloc[0])
    if categories is None and cov_any is not None and "category" in cov_any.columns:
        categories = [str(c) for c in pd.unique(cov_any["category"].dropna())]
    body: list[str] = []
    syn = (
        '<div class="synthetic">示例数据（虚构） Synthetic sample data — 非真实情况 not real conditions</div>'
        if synthetic
        else ""
    )
    body.append(f"<header><h1>{_esc(title)}</h1>{syn}</header><main>")
    sections: list[tuple[str, str, str]] = []  # (id, heading, html)
    keys = _key_figures(cov_any, pilots_status, hazards, school_zones)
    plan_key = plan_tables.key_figure(indicators) if indicators is not None and len(indicators) else None
    if plan_key is not None:
        keys.insert(0, plan_key)
    if keys:
        sections.append(
            (
                "key",
                "关键数字 Key figures",
                '<div class="keys">'
                + "".join(
                    f'<div class="key"><div class="v">{_esc(v)}</div><div class="l">{_esc(lab)}</div></div>'
                    for v, lab in keys
                )
                + "</div>",
            )
        )
    if plan_key is not None:
        assert indicators is not None
        sections.append(
            (
                "plan",
                "行动计划指标：目标与现状 Plan targets: target vs current",
                plan_tables.indicators_html(indicators),
            )
        )
    if summary:
        items = [summary] if isinstance(summary, str) else list(summary)
        sections.append(
            (
                "summary",
                "发现摘要 Summary of gaps",
                '<ul class="summary">' + "".join(f"<li>{_esc(x)}</li>" for x in items) + "</ul>",
            )
        )
    if community_coverage is not None and len(community_coverage):
        sections.append(
            (
                "communities",
                "村社区 × 设施类型 Communities × categories",
                "<p>步行服务半径内儿童所占比例，低于目标的单元在前。 Share of children within walking reach; "
                "units with the most categories below target first.</p>"
                + _matrix_html(community_coverage, "村社区 Community", sort_worst=True),
            )
        )
    if township_coverage is not None and len(township_coverage):
        sections.append(
            (
                "townships",
                "乡镇街道覆盖 Coverage by township",
                "<p>步行服务半径内儿童所占比例 Share of children within walking reach, by category.</p>"
                + township_table_html(township_coverage),
            )
        )
    if pilots_status is not None:
        sections.append(("pilots", "试点单元 Pilot units", _pilot_sections(pilots_status)))
    if school_zones is not None:
        sections.append(
            (
                "school-zones",
                "校园周边道路 School zones",
                "<p>GA/T 1215-2014：校门150米范围内道路限速30 km/h，校门50米内有人行横道。 Roads within 150 m "
                "of a school gate limited to 30 km/h; a marked crossing within 50 m of the gate.</p>"
                + school_zone_table_html(school_zones),
            )
        )
    if maps:
        parts = []
        for caption, p in maps.items():
            rel = _esc(_rel(p, base))
            parts.append(
                f'<h3>{_esc(caption)}</h3><p class="noprint"><a href="{rel}" target="_blank">'
                "在新窗口打开 Open full screen</a></p>"
            )
            if embed_maps:
                parts.append(f'<iframe src="{rel}" title="{_esc(caption)}" loading="lazy"></iframe>')
        sections.append(("maps", "交互地图 Interactive maps", "".join(parts)))
    if pngs:
        sections.append(
            (
                "figures",
                "静态地图 Static maps",
                "".join(
                    f'<h3>{_esc(c)}</h3><img class="fig" src="{_esc(_rel(p, base))}" alt="{_esc(c)}">'
                    for c, p in pngs.items()
                ),
            )
        )
    if tables:
        sections.append(
            (
                "tables",
                "表格 Tables",
                "".join(f"<h3>{_esc(c)}</h3>{_table_html(df)}" for c, df in tables.items()),
            )
        )
    sections.append(("method", "方法与标准 Method and standards", method_html(standards, categories, target)))
    toc = (
        '<section id="toc"><h2>目录 Contents</h2><ul>'
        + "".join(f'<li><a href="#{i}">{_esc(h)}</a></li>' for i, h, _x in sections)
        + "</ul></section>"
    )
    first = [k for k, (i, _h, _x) in enumerate(sections) if i in ("key", "plan")]
    n_first = first[-1] + 1 if first else 0
    for k, (i, h, x) in enumerate(sections):
        if k == n_first:
            body.append(toc)
        cls = ' class="first-page"' if k < n_first else ""
        body.append(f'<section id="{i}"{cls}><h2>{_esc(h)}</h2>{x}</section>')
    body.append("</main>")
    page = (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_REPORT_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    # the bundled font's subset of the page's characters: Chinese text reads on a machine without a CJK font
    page = embed_font(page, selectors="body")
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
