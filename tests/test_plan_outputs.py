"""The plan's indicators as readers see them: the report's first page, the atlas pages, the venues map and figure."""

from __future__ import annotations

import re
import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _browser import dump_dom, require_chromium, screenshot

from childspace.analysis.indicators import plan_indicators
from childspace.analysis.venues import mother_baby_room_check
from childspace.inputs.plan import load_plan
from childspace.outputs import atlas, plan_tables, report
from childspace.outputs.maps import render_html
from childspace.outputs.maps.venues import venue_status_keys, venues_map

T1 = shapely.box(121.00, 28.00, 121.01, 28.01)
T2 = shapely.box(121.01, 28.00, 121.02, 28.01)
Y = 28.005


def _towns() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"unit_id": ["t1", "t2"], "name": ["一镇", "二镇"], "population": [10_000, 5_000]},
        geometry=[T1, T2],
        crs="EPSG:4326",
    )


def _pts(rows: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        [{k: v for k, v in r.items() if k != "x"} for r in rows],
        geometry=[shapely.Point(r["x"], Y) for r in rows],
        crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def case():
    """Two townships, 45 infant-care places (3.0 per 1,000), two kindergartens, one demonstration home, and
    three venues: a 12,000 m² mall with a room 30 m away, a 6,000 m² library without one (Zhejiang's rule),
    and a 2,000 m² service centre (below both thresholds)."""
    fac = _pts(
        [
            {"facility_id": "I1", "name": "托育一", "category": "infant_care", "capacity": 30, "x": 121.005},
            {"facility_id": "I2", "name": "托育二", "category": "infant_care", "capacity": 15, "x": 121.006},
            {
                "facility_id": "K1",
                "name": "幼儿园一",
                "category": "kindergarten",
                "capacity": 300,
                "ownership": "public",
                "grade": "省一级",
                "x": 121.004,
            },
            {
                "facility_id": "K2",
                "name": "幼儿园二",
                "category": "kindergarten",
                "capacity": 100,
                "ownership": "private",
                "inclusive": False,
                "grade": "省三级",
                "x": 121.015,
            },
            {
                "facility_id": "H1",
                "name": "儿童之家",
                "category": "children_home",
                "demonstration": True,
                "x": 121.003,
            },
            {"facility_id": "R1", "name": "母婴室一", "category": "mother_baby_room", "x": 121.0005},
        ]
    )
    venues = _pts(
        [
            {"venue_id": "V1", "name": "商场", "kind": "mall", "floor_area_m2": 12_000.0, "x": 121.0002},
            {"venue_id": "V2", "name": "图书馆", "kind": "culture", "floor_area_m2": 6_000.0, "x": 121.012},
            {"venue_id": "V3", "name": "服务中心", "kind": "service", "floor_area_m2": 2_000.0, "x": 121.018},
        ]
    )
    plan = load_plan()
    rooms = fac[fac["category"] == "mother_baby_room"]
    chk = mother_baby_room_check(venues, rooms, plan.venue_rules, plan.room_distance_m)
    pilots = pd.DataFrame({"batch": [2022] * 17 + [2023] * 30})
    ind = plan_indicators(_towns(), fac, pilots=pilots, venues=chk)
    return {"fac": fac, "rooms": rooms, "venues": chk, "ind": ind, "towns": _towns()}


def test_city_rows_one_line_per_target_with_value_or_missing_data(case):
    rows = plan_tables.city_rows(case["ind"]).set_index("target_id")
    assert list(rows.index) == list(load_plan().targets)
    # hand-computed: 45 places / 15,000 residents = 3 per 1,000; short of 4.5 by 1.5
    ic = rows.loc["infant_care_places"]
    assert (ic["value"], ic["gap"], ic["status"]) == ("3", "1.5", "not_met")
    assert ic["target"].startswith("≥ 4.5 ") and "2025" in ic["target"]
    # public 300 of 400 places = 75 % inclusive (K2 is private and not 普惠); 省一级 300 of 400 = 75 % quality
    assert rows.loc["inclusive_kindergartens", "value"] == "75"
    assert rows.loc["quality_kindergartens", "status"] == "met"
    assert rows.loc["pilots_2023", "gap"] == "1"
    # the mall has its room 30 m away, the library (6,000 m², Zhejiang's rule) has none: 1 of 2
    assert rows.loc["mother_baby_rooms", "value"] == "50"
    # no opening years: explicit missing data, no value
    new = rows.loc["new_public_kindergarten_places"]
    assert new["status"] == "missing" and new["value"] == "—" and new["missing"].startswith("missing data: ")
    # every line: a value, or what is missing
    assert ((rows["value"] != "—") | rows["missing"].str.startswith("missing data: ")).all()
    met = int((rows["status"] == "met").sum())
    assert plan_tables.key_figure(case["ind"])[0] == f"{met} / {len(rows)}"


def test_township_matrix(case):
    val, st, labels = plan_tables.township_matrix(case["ind"])
    assert list(val.index) == ["一镇", "二镇"]
    assert val.at["一镇", "infant_care_places"] == pytest.approx(4.5)  # 45 places / 10,000 residents
    assert st.at["一镇", "infant_care_places"] == "met" and st.at["二镇", "infant_care_places"] == "not_met"
    assert st.at["二镇", "demonstration_children_homes"] == "not_met"
    assert len(labels) == val.shape[1]


def test_report_first_page_is_key_figures_then_plan_targets(case, tmp_path):
    path = report.html_report(
        tmp_path / "r.html", "报告 Report", ["发现 Finding"], tables={"indicators": case["ind"]}
    )
    text = path.read_text(encoding="utf-8")
    order = [text.index(s) for s in ('id="key"', 'id="plan"', 'id="toc"', 'id="summary"', 'id="tables"')]
    assert order == sorted(order)
    plan = text[text.index('id="plan"') : text.index('id="toc"')]
    targets = re.findall(r'<tr data-target="([^"]+)" data-status="([^"]+)"', plan)
    assert [t for t, _ in targets] == list(load_plan().targets)
    assert dict(targets)["new_public_kindergarten_places"] == "missing"
    assert "missing data: 开办年份 (opening year)" in plan
    assert "到2025年，每千人口拥有3岁以下婴幼儿托位数达到4.5个" in plan  # the plan's wording
    assert "分乡镇（街道） By township" in plan and plan.count("<tr><td><b>") == 2
    key = text[text.index('id="key"') : text.index('id="plan"')]
    assert "项规划指标达标" in key
    assert "section#plan{break-after:page}" in text


def test_report_hazards_show_countermeasures_when_present(tmp_path):
    hz = pd.DataFrame(
        {
            "rank": [1],
            "hazard_id": ["H1"],
            "reason": ["无信号灯 no signals"],
            "level": [4],
            "countermeasure_basis": ["GB 5768.3-2009"],
            "countermeasures": ["设置人行横道信号灯 add pedestrian signals"],
        }
    )
    text = report.html_report(tmp_path / "r.html", "t", tables={"hazards": hz}).read_text(encoding="utf-8")
    tab = text[text.index('id="tables"') :]
    assert "设置人行横道信号灯 add pedestrian signals" in tab and "GB 5768.3-2009" in tab
    # next to the reason, the measure before its basis
    assert tab.index("无信号灯") < tab.index("设置人行横道信号灯") < tab.index("GB 5768.3-2009")


def test_report_first_page_in_browser(case, tmp_path):
    require_chromium()
    path = report.html_report(tmp_path / "r.html", "报告 Report", tables={"indicators": case["ind"]})
    dom = dump_dom(path, budget_ms=1000, size=(1300, 1000))
    assert dom.count("<tr data-target=") == len(load_plan().targets)
    png = screenshot(path, tmp_path / "first.png", size=(1300, 1000), budget_ms=1000)
    import matplotlib.image as mpimg

    img = mpimg.imread(png)[:, :, :3]
    # the status badges of the first screen: the red of 未达标 and the grey of 缺数据 are on it
    red = np.all(np.abs(img - np.array([0x9E, 0x01, 0x42]) / 255) < 0.03, axis=2).sum()
    grey = np.all(np.abs(img - np.array([0x88, 0x88, 0x88]) / 255) < 0.03, axis=2).sum()
    assert red > 200 and grey > 100


def test_venues_map_states_thresholds_and_marks_missing(case):
    v = case["venues"]
    assert list(venue_status_keys(v)) == ["ok", "missing", "not_required"]
    page = render_html(venues_map(v, case["rooms"], boundaries=case["towns"]))
    for words in (
        "建筑面积 &gt; 10,000 m²",
        "日均客流 &gt; 10,000 人次",
        "建筑面积 ≥ 5,000 m²",
        "100 米内",
        "应建未建 Must have a room, none found（1）",
        "已有母婴室 Has a room（1）",
    ):
        assert words in page, words
    assert "图书馆" in page


def test_venues_figure_and_atlas_pages(case, tmp_path):
    from childspace.outputs.figures_venues import plot_venues

    fig = plot_venues(case["venues"], case["rooms"], boundaries=case["towns"])
    texts = [t.get_text() for t in fig.legends[0].get_texts()] if fig.legends else []
    texts += [t.get_text() for ax in fig.axes for t in ax.texts]
    legend = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    joined = "\n".join(texts + legend)
    assert "10,000 m²" in joined and "5,000 m²" in joined and "图书馆" in joined
    path = atlas.write_atlas(
        tmp_path / "a.pdf",
        boundaries=case["towns"],
        facilities=case["fac"],
        indicators=case["ind"],
        venues=case["venues"],
        info=atlas.AtlasInfo(date="2026-06-01"),
    )
    data = path.read_bytes()
    # plan targets (city), plan targets by township, venues map
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 3
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler) not installed: the page texts are not checked")

    def page(n: int) -> str:
        return subprocess.run(
            ["pdftotext", "-f", str(n), "-l", str(n), str(path), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    p1, p2, p3 = page(1), page(2), page(3)
    assert "目标与现状" in p1 and "missing data: 开办年份 (opening year)" in p1 and "≥ 4.5" in p1
    assert "一镇" in p2 and "二镇" in p2
    # (names on the map are drawn with a halo, as paths: pdftotext does not see them; the figure test does)
    assert "应建未建 Must have a room, none found（1）" in p3 and "5,000 m" in p3 and "制图单位" in p3


def test_sample_run_sheet_of_venues_without_a_room(sample_run):
    sheet = sample_run.tables["venues_missing_room"]
    assert sorted(sheet["name"]) == ["示例丙镇文体中心", "示例乙街道购物中心", "示例汽车客运站"]
    by_name = sheet.set_index("name")["rule_thresholds"]
    # 5,600 m² (Zhejiang only), 12,000 visitors a day (national only), 23,000 m² (both)
    assert by_name["示例丙镇文体中心"].startswith("浙江省（2017）：建筑面积 ≥ 5,000 m²")
    assert by_name["示例汽车客运站"].startswith(
        "国家标准（2016）：建筑面积 > 10,000 m²或日均客流 > 10,000 人次"
    )
    assert "国家标准" in by_name["示例乙街道购物中心"] and "浙江省" in by_name["示例乙街道购物中心"]
    assert sample_run.layers["venues"].attrs["max_distance_m"] == 100.0
    ind = sample_run.tables["indicators"]
    city = ind[ind["level"] == "city"].set_index("target_id")
    assert city.at["new_public_kindergarten_places", "value"] == 720  # KG07, KG09, KG13: 240 places each
    assert city["value"].notna().all()  # every target of the plan has a value on the sample
