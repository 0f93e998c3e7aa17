"""The planner's workbook and CSV tables: formula injection, filters, formats tied to the target, translations."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from test_countermeasures import two_level_case

from childspace.outputs import workbook
from childspace.outputs.style import coverage_classes

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = '=HYPERLINK("http://example.invalid/x")'
PREFIXED = ["=1+1", "+41 1234", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def _cells(path: Path):
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                yield ws.title, cell


def test_text_that_starts_a_formula_stays_text(tmp_path):
    df = pd.DataFrame({"name": [HOSTILE] + PREFIXED, "children": np.arange(7.0)})
    path = workbook.write_excel(tmp_path / "w.xlsx", {"t": df}, about=workbook.WorkbookAbout(title=HOSTILE))
    texts = {}
    for sheet, cell in _cells(path):
        assert cell.data_type != "f", (sheet, cell.coordinate, cell.value)
        if isinstance(cell.value, str):
            texts[cell.value] = cell.data_type
    for v in [HOSTILE] + PREFIXED[:-1]:
        assert texts.get(v) == "s", v  # kept as written, stored as a string
    assert any(
        k.endswith("CR") and t == "s" for k, t in texts.items()
    )  # the carriage return is XML-normalised
    csvs = workbook.write_csv_tables(tmp_path, {"t": df}, bilingual=True)
    with open(csvs["t"], encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    names = [r[0] for r in rows[1:]]
    assert names == ["'" + v for v in [HOSTILE] + PREFIXED]
    assert workbook.safe_text(-3) == -3 and workbook.safe_text("示例小学") == "示例小学"


def test_workbook_reads_as_a_planner_needs(tmp_path):
    uc = pd.DataFrame(
        {
            "unit_id": ["C1", "C2"],
            "name": ["海滨社区", "桥头村"],
            "category": "kindergarten",
            "children": [977.0, 120.0],
            "pct_walk": [85.23, 41.0],
            "below_target": [False, True],
            "target_pct": 80.0,
            "median_walk_m": [212.4, 640.7],
        }
    )
    pilots = pd.DataFrame(
        {
            "pilot_id": ["P1", "P2"],
            "status": ["gap", "meets"],
            "kind": ["school", "community"],
            "has_park_playground": [True, False],
        }
    )
    path = workbook.write_excel(
        tmp_path / "w.xlsx",
        {"社区覆盖 Community coverage": uc, "试点 Pilots": pilots},
        about=workbook.WorkbookAbout(title="示例", synthetic=True, sources=["facilities.csv"]),
    )
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "说明 About"
    about = {r[0].value: r[1].value for r in wb["说明 About"].iter_rows(min_row=2)}
    assert "示例数据（虚构）" in about["数据性质 Data"]
    assert (
        "© OpenStreetMap contributors" in about["数据来源 Sources"]
        and "facilities.csv" in about["数据来源 Sources"]
    )
    assert any(k.startswith("标准 Standard: 幼儿园") and "GB 50180-2018" in v for k, v in about.items())
    ws = wb["社区覆盖 Community coverage"]
    head = [c.value for c in ws[1]]
    row = {h: c.value for h, c in zip(head, ws[2])}
    assert row["儿童数 Children"] == 977 and isinstance(row["儿童数 Children"], int)  # not 977.0
    assert row["设施类型 Category"] == "幼儿园 Kindergarten"
    assert row["低于目标 Below target"] == "否 No"
    assert row["步行覆盖率 Coverage walk %"] == pytest.approx(85.2)
    assert row["步行距离中位数(米) Median walk (m)"] == 212
    assert ws.auto_filter.ref == "A1:H3" and ws.freeze_panes == "B2"
    # coverage cells coloured against the 80 % target (conditional formatting follows edits)
    rules = [(str(cf.sqref), r.operator, r.formula) for cf in ws.conditional_formatting for r in cf.rules]
    col = openpyxl.utils.get_column_letter(head.index("步行覆盖率 Coverage walk %") + 1)
    assert (f"{col}2:{col}3", "lessThan", ["80"]) in rules
    assert (f"{col}2:{col}3", "greaterThanOrEqual", ["80"]) in rules
    pw = wb["试点 Pilots"]
    vals = [[c.value for c in r] for r in pw.iter_rows(min_row=2)]
    assert vals[0][1] == "× 缺口 Gap" and vals[1][1] == "✓ 达标 Meets" and vals[0][2] == "学校 School"
    assert [c.value for c in pw[1]][3] == "公园或儿童游戏场地具备 Park or playground: Has"
    assert coverage_classes(80)[-1].lower == 80


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """The whole chain on the sample with a school named like a formula (names come from planners' files and
    from OpenStreetMap, which anyone can edit)."""
    tmp = tmp_path_factory.mktemp("hostile")
    data = tmp / "data"
    shutil.copytree(ROOT / "childspace" / "data", data)
    fac = data / "facilities" / "facilities.csv"
    text = fac.read_text(encoding="utf-8")
    assert "示例甲街道第一小学" in text
    fac.write_text(
        text.replace("示例甲街道第一小学", '"=HYPERLINK(""http://example.invalid/x"")"').replace(
            "示例青松幼儿园", "@SUM(1+1)"
        ),
        encoding="utf-8",
    )
    out = tmp / "out"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "childspace.run.cli",
            "report",
            "--config",
            str(data / "sample.toml"),
            "--outputs",
            str(out),
            "--no-maps",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_every_output_table_keeps_hostile_names_as_text(hostile_run):
    out = hostile_run
    seen_sheets = set()
    for sheet, cell in _cells(out / "childspace.xlsx"):
        assert cell.data_type != "f", (sheet, cell.coordinate, cell.value)
        if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@", "\t", "\r")):
            assert cell.data_type == "s", (sheet, cell.coordinate)
        if cell.value == HOSTILE:
            seen_sheets.add(sheet)
    assert {"学校 Schools", "校园周边 School zones"} <= seen_sheets, seen_sheets
    seen_csv = set()
    for p in sorted((out / "tables").glob("*.csv")):
        with open(p, encoding="utf-8-sig", newline="") as f:
            for row in csv.reader(f):
                for v in row:
                    try:
                        float(v)
                        continue  # a number (e.g. -1) is not a formula
                    except ValueError:
                        pass
                    assert not v.startswith(("=", "+", "-", "@", "\t", "\r")), (p.name, v)
                    if v == "'" + HOSTILE:
                        seen_csv.add(p.stem)
    assert {"schools", "school_zones"} <= seen_csv, seen_csv


def test_every_header_a_planner_reads_is_in_chinese_first(hostile_run):
    """Every column of every sheet and CSV table has a Chinese header (中文 first, English after), none left
    as the machine name (children_no_network, verdict_best, the datum check's columns ...)."""
    import re

    cjk = re.compile(r"[\u4e00-\u9fff]")
    wb = openpyxl.load_workbook(hostile_run / "childspace.xlsx", read_only=True)
    heads = {
        ws.title: [c for c in next(ws.iter_rows(max_row=1, values_only=True)) if c] for ws in wb.worksheets
    }
    for p in sorted((hostile_run / "tables").glob("*.csv")):
        with open(p, encoding="utf-8-sig", newline="") as f:
            heads[p.name] = next(csv.reader(f))
    assert len(heads) > 10 and {"学校 Schools", "坐标检查 Datum check", "routes.csv"} <= set(heads)
    english_only = {k: [c for c in v if not cjk.search(str(c))] for k, v in heads.items()}
    assert not {k: v for k, v in english_only.items() if v}
    for k, v in heads.items():  # Chinese first
        assert all(cjk.match(str(c)) or str(c)[0].isdigit() for c in v), (k, v)


def test_hazard_table_has_place_coordinates_and_school_names():
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    hz = gpd.GeoDataFrame(
        {
            "hazard_id": ["S1", "C2"],
            "type": ["segment", "crossing"],
            "level": [3, 4],
            "children": [40, 90],
            "schools": ["P1; P2", "P2"],
            "name": ["育英路", None],
            "reason": ["r1", "r2"],
            "rank": [2, 1],
        },
        geometry=[LineString([(120.97, 28.11), (120.98, 28.11)]), Point(120.99, 28.12)],
        crs=4326,
    )
    schools = pd.DataFrame({"facility_id": ["P1", "P2"], "name": ["实验小学", "城南小学"]})
    t = workbook.hazard_table(hz.to_crs(4549), schools)
    assert list(t["rank"]) == [1, 2] and list(t.columns[:5]) == ["rank", "hazard_id", "place", "lon", "lat"]
    assert list(t["place"]) == ["无名道路的过街点", "育英路路段"]
    assert list(t["school_names"]) == ["城南小学", "实验小学、城南小学"]
    assert t["lon"].iloc[0] == pytest.approx(120.99, abs=1e-6) and t["lat"].iloc[0] == pytest.approx(
        28.12, abs=1e-6
    )
    assert 120.97 <= t["lon"].iloc[1] <= 120.98


@pytest.fixture(scope="module")
def hazard_case():
    return two_level_case()


def test_hazards_sheet_and_csv_carry_countermeasures_and_children_per_school_level(hazard_case, tmp_path):
    from childspace.analysis.routes import hazards

    net, stress, schools, routes = hazard_case
    hz = hazards(routes, net, stress, schools=schools)
    t = workbook.hazard_table(hz, schools)
    cols = list(t.columns)
    assert cols.index("reason") + 1 == cols.index("countermeasures")
    assert cols.index("countermeasures") + 1 == cols.index("countermeasure_basis")
    assert cols.index("children") + 1 == cols.index("children_primary_school")
    p = workbook.write_excel(tmp_path / "w.xlsx", {"隐患点 Hazards": t})
    ws = openpyxl.load_workbook(p)["隐患点 Hazards"]
    head = [c.value for c in ws[1]]
    assert "整改措施建议 Countermeasures" in head and "措施依据 Basis of the countermeasures" in head
    assert "小学路线经过的儿童 Children (primary-school routes)" in head
    assert (
        "压力等级 Stress level" in head and "层级 Level" not in head
    )  # a hazard's level is its stress level
    rows = [dict(zip(head, [c.value for c in r])) for r in ws.iter_rows(min_row=2)]
    top = next(r for r in rows if r["隐患编号 Hazard ID"].startswith("C"))
    assert top["整改措施建议 Countermeasures"].startswith(
        "信号灯；安全岛；施划人行横道线；学校周边限速30；护学岗 — "
    )
    assert top["措施依据 Basis of the countermeasures"].startswith("[signal_multilane]")
    assert top["儿童数 Children"] == 2 and top["初中路线经过的儿童 Children (middle-school routes)"] == 2
    assert top["位于校园周边150米内 In a school zone (150 m)"] == "是 Yes"
    csvp = workbook.write_csv_tables(tmp_path, {"hazards": t}, bilingual=True)["hazards"]
    back = workbook.read_csv_table(csvp)
    assert {"countermeasures", "countermeasure_basis", "children_middle_school", "level"} <= set(back.columns)
    assert back["countermeasures"].str.contains("护学岗").any()
