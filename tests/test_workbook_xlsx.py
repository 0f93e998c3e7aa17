"""The workbook as written by xlsxwriter, read back with openpyxl: the layout a planner sees (formats, widths,
colours, frozen panes, filters) and values stored by type (text never a formula)."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd

from childspace.outputs import workbook as wb


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit_id": ["C01", "C02", "C03"],
            "name": ['=HYPERLINK("http://x")', "http://example.org", "示例社区"],
            "category": ["kindergarten", "park", "kindergarten"],
            "pct_walk": [75.04, 91.0, np.nan],
            "share_safe": [0.5, 0.25, 1.0],
            "dist_walk_m": [120.4, np.nan, 88.0],
            "detour_ratio": [1.234, 1.5, 2.0],
            "rank": [1, 2, 3],
            "children": [1200, 35, 7],
            "status": ["gap", "meets", "partly"],
            "note": ["", "x", ""],
        }
    )


def test_layout_and_values_read_back(tmp_path):
    p = wb.write_excel(tmp_path / "t.xlsx", {"社区覆盖 Community coverage": _table()}, target_pct=80)
    book = openpyxl.load_workbook(p)
    assert book.sheetnames == ["社区覆盖 Community coverage"]
    ws = book.active
    head = [c.value for c in ws[1]]
    assert head[0] == "单元编号 Unit ID" and len(head) == 11
    assert all(c.font.b and c.fill.fgColor.rgb.endswith("DDEBF7") and c.alignment.wrap_text for c in ws[1])
    assert ws.row_dimensions[1].height == 32
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref == "A1:K4"
    # text that looks like a formula or a link stays text
    assert ws["B2"].value == '=HYPERLINK("http://x")' and ws["B2"].data_type == "s" and not ws["B2"].hyperlink
    assert ws["B3"].value == "http://example.org" and not ws["B3"].hyperlink
    assert ws["C2"].value.startswith("幼儿园")
    # numbers by kind: per cent 0-100, fraction as per cent, whole metres, ratios, ranks, thousands
    assert (ws["D2"].value, ws["D2"].number_format) == (75.0, '0.0"%"')
    assert ws["D4"].value is None and ws["D4"].number_format == '0.0"%"'  # empty, still formatted
    assert (ws["E3"].value, ws["E3"].number_format) == (0.25, "0.0%")
    assert (ws["F2"].value, ws["F2"].number_format) == (120, "#,##0")  # whole metres: integers
    assert (ws["G2"].value, ws["G2"].number_format) == (1.23, "0.00")
    assert (ws["H3"].value, ws["H3"].number_format) == (2, "0")
    assert (ws["I2"].value, ws["I2"].number_format) == (1200, "#,##0")
    assert ws["K2"].value is None and ws["K3"].value == "x"
    # widths: the longest of the first 500 values (CJK counted double) or half the header, within 8..60
    widths = {}
    for d in ws.column_dimensions.values():
        for c in range(d.min, d.max + 1):
            widths[c] = d.width
    assert widths[2] == len('=HYPERLINK("http://x")') + 2
    assert widths[1] == 10  # short ids: half the header (4 CJK + 8 Latin = 16) + 2
    # conditional colours: coverage against the target, status by its first character
    rules = {}
    for cf in ws.conditional_formatting:
        for r in cf.rules:
            rules.setdefault(str(cf.sqref), []).append(
                (
                    r.type,
                    r.operator,
                    tuple(r.formula),
                    r.dxf.fill.fgColor.rgb[-6:],
                    r.dxf.fill.bgColor.rgb[-6:],
                )
            )
    assert rules["D2:D4"] == [
        ("cellIs", "lessThan", ("80",), "FDD0A2", "FDD0A2"),
        ("cellIs", "greaterThanOrEqual", ("80",), "C6DBEF", "C6DBEF"),
    ]
    assert [r[2][0] for r in rules["J2:J4"]] == [f'LEFT(J2,1)="{w}"' for w in ("×", "△", "✓", "否")]


def test_about_sheet_first(tmp_path):
    about = wb.WorkbookAbout(title="乐清市 Yueqing", sources=["facilities.csv"], date="2026-01-02")
    p = wb.write_excel(tmp_path / "t.xlsx", {"t": _table()}, about=about)
    book = openpyxl.load_workbook(p)
    ws = book["说明 About"]
    assert book.sheetnames[0] == "说明 About"
    assert [c.value for c in ws[1]] == ["项目 Item", "内容 Content"] and ws["A1"].font.b
    assert ws["B2"].value == "乐清市 Yueqing" and ws["B2"].alignment.wrap_text
    assert ws["B4"].value == "2026-01-02"
    assert ws.column_dimensions["A"].width == 34 and ws.column_dimensions["B"].width == 120
    assert ws.freeze_panes == "A2"
