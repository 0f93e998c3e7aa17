"""Excel workbook, CSV tables and the HTML report."""

from __future__ import annotations

import base64
import io
import re

import pandas as pd
import pytest
from _browser import distinct_colours, dump_dom, require_chromium, screenshot
from fontTools.ttLib import TTFont
from test_maps import make_sample

from childspace._errors import ChildspaceError, DataError
from childspace.outputs import figures as plot
from childspace.outputs import maps, report
from childspace.outputs.figures_overview import plot_overview


@pytest.fixture(scope="module")
def sample():
    return make_sample()


def _coverage_table(sample) -> pd.DataFrame:
    uc = sample["unit_coverage"]
    names = sample["boundaries"].set_index("unit_id")["name"]
    return uc.assign(name=uc["unit_id"].map(names))


def test_workbook_sheets_headers_formats(sample, tmp_path):
    cov = _coverage_table(sample)
    sheets = {
        report.SHEET_NAMES["township_coverage"]: cov[cov["unit_id"].str.len() == 2],
        report.SHEET_NAMES["community_coverage"]: cov[cov["unit_id"].str.len() > 2],
        report.SHEET_NAMES["pilots"]: sample["pilots"],  # GeoDataFrame: geometry dropped
        report.SHEET_NAMES["hazards"]: sample["hazards"],
        report.SHEET_NAMES["routes"]: sample["routes"],
    }
    path = report.write_excel(tmp_path / "结果 results.xlsx", sheets)
    from openpyxl import load_workbook

    wb = load_workbook(path)
    assert wb.sheetnames == [
        "乡镇覆盖 Township coverage",
        "社区覆盖 Community coverage",
        "试点单元 Pilot units",
        "隐患点 Hazards",
        "上学路线 School routes",
    ]
    ws = wb["乡镇覆盖 Township coverage"]
    headers = [c.value for c in ws[1]]
    assert headers[:3] == ["单元编号 Unit ID", "设施类型 Category", "服务半径(米) Radius (m)"]
    assert "步行覆盖率 Coverage walk %" in headers
    assert ws.freeze_panes == "B2"  # header row and the first column stay in view
    assert ws.auto_filter.ref == f"A1:{ws.cell(row=1, column=ws.max_column).column_letter}{ws.max_row}"
    assert ws.max_row == 1 + 4  # 2 townships x 2 categories
    col = headers.index("步行覆盖率 Coverage walk %") + 1
    cell = ws.cell(row=2, column=col)
    assert cell.value == pytest.approx(72.0) and cell.number_format == '0.0"%"'
    pw = wb["试点单元 Pilot units"]
    ph = [c.value for c in pw[1]]
    assert "geometry" not in ph and "试点编号 Pilot ID" in ph and "幼儿园具备 Kindergarten: Has" in ph
    assert pw.max_row == 1 + 48
    rw = wb["上学路线 School routes"]
    rh = [c.value for c in rw[1]]
    share = rw.cell(row=2, column=rh.index("1级路段占比 Share level 1") + 1)
    assert share.value == pytest.approx(0.5) and share.number_format == "0.0%"
    # widths set from content: the Chinese reasons column is wider than the id column
    assert pw.column_dimensions["A"].width >= 8
    reasons_letter = pw.cell(row=1, column=ph.index("原因 Reasons") + 1).column_letter
    assert pw.column_dimensions[reasons_letter].width > pw.column_dimensions["A"].width
    # atomic write leaves no temporary files behind
    assert [p.name for p in tmp_path.iterdir()] == ["结果 results.xlsx"]


def test_workbook_errors(tmp_path):
    with pytest.raises(DataError, match="no tables"):
        report.write_excel(tmp_path / "x.xlsx", {})
    with pytest.raises(ChildspaceError, match="does not exist"):
        report.write_excel(tmp_path / "missing" / "x.xlsx", {"a": pd.DataFrame({"x": [1]})})


def test_csv_round_trip(sample, tmp_path):
    cov = _coverage_table(sample)
    lc = pd.DataFrame(
        {
            "unit_id": ["T1", "T2"],
            "lc5_missing": [["kindergarten", "playground"], []],
            "lc5_complete": [False, True],
        }
    )
    written = report.write_csv_tables(
        tmp_path, {"unit_coverage": cov, "pilots": sample["pilots"], "life_circles": lc}
    )
    raw = written["unit_coverage"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM for Excel
    back = pd.read_csv(written["unit_coverage"], encoding="utf-8-sig")
    pd.testing.assert_frame_equal(back.reset_index(drop=True), cov.reset_index(drop=True), check_dtype=False)
    p = pd.read_csv(written["pilots"], encoding="utf-8-sig")
    assert "geometry" not in p.columns and len(p) == 48 and p.loc[0, "name"] == "试点单元1号"
    l5 = pd.read_csv(written["life_circles"], encoding="utf-8-sig", keep_default_na=False)
    assert l5["lc5_missing"].tolist() == ["kindergarten; playground", ""]
    bil = report.write_csv_tables(tmp_path, {"bi": cov}, bilingual=True)
    assert pd.read_csv(bil["bi"], encoding="utf-8-sig").columns[0] == "单元编号 Unit ID"


def test_html_report_lists_every_pilot(sample, tmp_path):
    s = sample
    (tmp_path / "maps").mkdir()
    (tmp_path / "figures").mkdir()
    mp = maps.save_map(
        maps.overview_map(s["boundaries"], s["unit_coverage"], "kindergarten", basemaps=(), synthetic=True),
        tmp_path / "maps" / "overview.html",
    )
    png = plot.save_figure(
        plot_overview(s["boundaries"], s["unit_coverage"], "kindergarten", synthetic=True),
        tmp_path / "figures" / "overview.png",
        dpi=80,
    )
    cov = _coverage_table(s)
    summary = [
        "幼儿园：5 个社区低于 80% 目标 Kindergartens: 5 communities below the 80% target",
        "最大缺口：红星社区 140 名儿童 Largest gap: 红星社区, 140 children",
    ]
    path = report.html_report(
        tmp_path / "report.html",
        "儿童友好空间评估报告 Child-friendly space report",
        summary,
        maps={"覆盖率总览 Coverage overview": mp},
        pngs={"覆盖率 Coverage": png},
        tables={"社区覆盖 Community coverage": cov},
        pilots_status=s["pilots"],
        synthetic=True,
    )
    text = path.read_text(encoding="utf-8")
    # every pilot with its status
    blocks = re.findall(
        r'<div class="pilot (\w+)" id="pilot-([^"]+)" data-status="(\w+)">(.*?)</div></div>', text
    )
    assert len(blocks) == 48
    expected = dict(zip(s["pilots"]["pilot_id"], s["pilots"]["status"]))
    assert {pid: st for _c, pid, st, _b in blocks} == expected
    zh = {"meets": "达标 Meets", "partly": "部分达标 Partly meets", "gap": "缺口 Gap"}
    for _cls, _pid, st, body in blocks:
        assert zh[st] in body
    assert "Batch 2022 (17 units)" in text and "Batch 2023 (31 units)" in text
    assert 'src="maps/overview.html"' in text and 'src="figures/overview.png"' in text
    assert "示例数据（虚构）" in text and summary[0] in text
    assert text.count("★ 重点项目 Key project") == 5
    # the bundled font's subset of every Chinese character the page shows, first for its whole text: the report
    # reads on a machine with no CJK font (a fresh office PC, a headless browser)
    from childspace.outputs.maps import webfont

    css = re.search(r"<style id='cs-webfont'>(.*?)</style>", text).group(1)
    assert "url(data:font/woff;base64," in css and f'body{{font-family:"{webfont.FONT_FAMILY}"' in css
    woff = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", css).group(1))
    held = set(TTFont(io.BytesIO(woff)).getBestCmap())
    shown = {ord(c) for c in webfont.page_characters(text) if "\u4e00" <= c <= "\u9fff"}
    assert len(shown) > 100 and shown <= held
    with pytest.raises(DataError, match="status"):
        report.html_report(tmp_path / "r2.html", "t", pilots_status=s["pilots"].drop(columns="status"))


def test_html_report_in_browser(sample, tmp_path):
    require_chromium()
    s = sample
    path = report.html_report(
        tmp_path / "report.html",
        "儿童友好空间评估报告 Child-friendly space report",
        ["发现 Finding"],
        tables={"乡镇 Townships": _coverage_table(s).head(4)},
        pilots_status=s["pilots"],
        synthetic=True,
    )
    dom = dump_dom(path, budget_ms=1000)
    assert dom.count('class="pilot ') == 48
    png = screenshot(path, tmp_path / "report.png", size=(1200, 1400), budget_ms=1000)
    assert distinct_colours(png) > 100


def test_township_section_before_pilots(sample, tmp_path):
    uc = _coverage_table(sample)
    towns = uc[uc["unit_id"].isin(["T1", "T2"])].assign(
        name=lambda d: d["unit_id"].map({"T1": "东港镇", "T2": "西山街道"})
    )
    path = report.html_report(
        tmp_path / "r.html",
        "报告 Report",
        tables={"township_coverage": towns},
        pilots_status=sample["pilots"],
        synthetic=True,
    )
    text = path.read_text(encoding="utf-8")
    assert text.index('id="townships"') < text.index('id="pilots"')
    sec = text[text.index('id="townships"') : text.index('id="pilots"')]
    # T1 kindergarten 72 % (60-80 class, below the 80 % target), T2 35.5 % (20-40 class); schools 50 %
    from childspace.outputs.style import coverage_classes

    c = coverage_classes(80)
    assert re.search(f'data-below="1" style="background:{c[3].colour}">72% ▼', sec)
    assert re.search(f'style="background:{c[1].colour}">36% ▼', sec)
    assert sec.count(f'style="background:{c[2].colour}">50% ▼') == 2
    assert "东港镇" in sec and "幼儿园 Kindergarten" in sec and "小学 Primary school" in sec
    with pytest.raises(DataError, match="coverage table"):
        report.township_table_html(pd.DataFrame({"unit_id": ["T1"]}))


def test_school_zone_table_and_report_section(tmp_path):
    """The real school-zone check of two hand-made schools: the failing one is listed first, headers are
    bilingual, the summary counts are right; the report gets a section and the generic table no raw names."""
    from test_maps import zone_sample

    _net, _schools, zones, roads = zone_sample()
    html_text = report.school_zone_table_html(zones)
    assert "1 / 2 所学校符合" in html_text and "1 of 2 schools meet GA/T 1215-2014" in html_text
    assert "1 fail the speed limit, 1 the crossing" in html_text
    rows = re.findall(r'<tr data-school="([^"]+)">', html_text)
    assert rows == ["S1", "S2"]  # both requirements fail first
    for header in (
        "符合规范 Compliant",
        "限速符合 Speed limit met",
        "人行横道符合 Crossing requirement met",
        "最高限速(km/h) Max speed limit (km/h)",
        "最近人行横道距离(米) Nearest marked crossing (m)",
        "校园周边道路长度(米) Zone road length (m)",
        "发现 Finding",
    ):
        assert f"<th>{header}</th>" in html_text, header
    s1 = html_text[html_text.index('data-school="S1"') : html_text.index('data-school="S2"')]
    assert (
        s1.count('class="fail"') == 3 and '<td class="num">50</td>' in s1 and '<td class="num">81</td>' in s1
    )
    # every column of the zone table and of the zone roads has a bilingual header
    for df in (zones, roads):
        plain = pd.DataFrame(df.drop(columns="geometry"))
        unlabelled = [c for c in plain.columns if report.column_label(c) == c]
        assert unlabelled == [], unlabelled
    path = report.html_report(
        tmp_path / "r.html",
        "报告 Report",
        school_zones=zones,
        tables={"校园周边 School zones": pd.DataFrame(zones.drop(columns="geometry"))},
    )
    page = path.read_text(encoding="utf-8")
    assert 'id="school-zones"' in page and 'href="#school-zones"' in page
    assert "<th>school_id</th>" not in page and "<th>speed_ok</th>" not in page
    with pytest.raises(DataError, match="speed_ok"):
        report.school_zone_table_html(zones.drop(columns="speed_ok"))


def test_report_key_figures_matrix_method_print(sample, tmp_path):
    """Key figures come first, the community x category matrix lists the worst units first, the method cites
    each category's radius and basis from the standards, and the page has print CSS."""
    from childspace.inputs.standards import default_standards

    uc = _coverage_table(sample)
    comms = uc[uc["unit_id"].str.len() > 2]
    path = report.html_report(
        tmp_path / "r.html",
        "报告 Report",
        ["发现 Finding"],
        tables={"community_coverage": comms, "hazards": sample["hazards"]},
        pilots_status=sample["pilots"],
        synthetic=True,
    )
    text = path.read_text(encoding="utf-8")
    order = [text.index(f'id="{i}"') for i in ("key", "summary", "communities", "pilots", "tables", "method")]
    assert order == sorted(order)
    key = text[text.index('id="key"') : text.index('id="summary"')]
    n_units = comms["unit_id"].nunique()
    n_below = comms.loc[comms["below_target"], "unit_id"].nunique()
    assert f"{n_below} / {n_units}" in key
    assert f">{len(sample['hazards'])}<" in key
    n_meets = int((sample["pilots"]["status"] == "meets").sum())
    assert f"{n_meets} / 48" in key
    # matrix: one row per community, worst (most categories below target) first
    mat = report.community_matrix(comms)
    assert len(mat) == n_units and set(mat.columns) >= {"kindergarten", "primary_school", "n_below"}
    sec = text[text.index('id="communities"') : text.index('id="pilots"')]
    rows = re.findall(r"<tr><td><b>(.*?)</b>", sec)
    assert len(rows) == n_units
    worst = mat.sort_values("n_below", ascending=False, kind="stable")["name"].iloc[0]
    assert rows[0] == worst
    # method: every category of the tables with its radius and basis
    meth = text[text.index('id="method"') :]
    st = default_standards()
    for cat in comms["category"].unique():
        c = st[cat]
        assert f"{c.zh} {c.en}" in meth and f">{c.radius_m:g}<" in meth and c.basis[:20] in meth
    assert "GB 55014-2021" in meth and "80%" in meth and "© OpenStreetMap contributors" in meth
    assert "@media print" in text and "size:A4 landscape" in text
    # no count shows as "977.0"
    assert not re.search(r">\d+\.0<", text)


def test_long_table_shows_its_first_rows_as_the_whole_table_would(tmp_path):
    """The report shows 300 rows of a long table without translating every row: the first rows must read as
    they do when the whole table is translated and rounded (columns whose treatment depends on later rows)."""
    import numpy as np

    from childspace.outputs.workbook import bilingual_headers, display_table

    n = 1_000
    rng = np.random.default_rng(3)
    whole = np.round(rng.uniform(0, 50, n))
    half = whole.copy()
    half[700] = 2.5  # one value that is not whole, after the rows shown: the column keeps its decimal
    flags = np.array([True, False] * (n // 2), dtype=object)
    mixed = flags.copy()
    mixed[900] = "unknown"  # an object column with one text value after the rows shown: no 是/否
    level = np.array(["x"] * n, dtype=object)
    level[650] = "township"  # a boundary level after the rows shown: the column is translated
    df = pd.DataFrame(
        {
            "category": rng.choice(["park", "playground", "kindergarten"], n),
            "status": rng.choice(["met", "partly", "gap"], n),
            "whole": whole,
            "half": half,
            "nan_first": np.r_[np.full(400, np.nan), whole[400:]],
            "flags": flags,
            "mixed": mixed,
            "level": level,
            "count": rng.integers(0, 1000, n),
            "name": [f"路 {i}" for i in range(n)],
        }
    )
    full = bilingual_headers(display_table(df, "table")).head(300)
    fast = bilingual_headers(report._display_head(df, 300))
    pd.testing.assert_frame_equal(fast, full)
    assert str(fast.iloc[:, 3].dtype) != "Int64"  # "half": shown with its decimal, as the whole table is
    assert str(fast.iloc[:, 2].dtype) == "Int64"  # "whole": whole numbers
    html_fast = report._table_html(df)
    assert html_fast.count("<tr>") == 301 and "First 300 of 1000 rows" in html_fast
