"""Planners' real files: the mistakes they make most, each on a modified copy of the bundled sample, must end in
a message that names the file, the cause and the fix in the planner's own terms (never a silent wrong result)."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import edit_config as _edit

from childspace._errors import ChildspaceWarning, DataError
from childspace.inputs import loaders
from childspace.inputs.standards import load_standards
from childspace.run.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "childspace" / "data"


# ---------------------------------------------------------------------------------------------------------------
# 1. target_pct written as a share
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, percent", [("0.8", "80"), ("1", "100"), ("0.95", "95")])
def test_target_pct_written_as_a_share_is_refused_with_the_percentage_to_write(data, value, percent):
    cfg = _edit(data, "target_pct = 80 ", f"target_pct = {value} ")
    with pytest.raises(DataError) as err:
        load_config(cfg)
    text = str(err.value)
    assert "target_pct" in text and "is a percentage" in text
    assert f"write target_pct = {percent} for {percent} %" in text
    assert "(line 52)" in text and str(cfg) in text


def test_target_pct_in_standards_written_as_a_share_is_refused(data, tmp_path):
    cfg = _edit(
        data,
        "# [standards]               # override any radius, e.g.\n# kindergarten = { radius_m = 300 }",
        "[standards]\nkindergarten = { target_pct = 0.9 }",
    )
    with pytest.raises(DataError, match=r"\[standards.kindergarten\] target_pct = 0.9 is a percentage"):
        load_config(cfg)
    own = tmp_path / "my_standards.toml"
    own.write_text("target_pct = 0.85\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"write target_pct = 85 for 85 %"):
        load_standards(own)


def test_target_pct_of_the_standards_is_the_runs_when_analysis_sets_none(data):
    cfg = _edit(data, "target_pct = 80 ", "# target_pct = 80 ")
    text = cfg.read_text(encoding="utf-8").replace(
        "# [standards]               # override any radius, e.g.\n# kindergarten = { radius_m = 300 }",
        "[standards]\ntarget_pct = 90",
    )
    cfg.write_text(text, encoding="utf-8")
    run = load_config(cfg)
    assert run.target_pct == 90.0  # the value every category of the run is measured against
    assert "kindergarten 幼儿园: 300 m, target 90%" in "\n".join(run.describe())


# ---------------------------------------------------------------------------------------------------------------
# 2. no child counted: every home 0 (a wrong column exported) or blank
# ---------------------------------------------------------------------------------------------------------------


def _homes(data: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(data / "origins" / "homes.gpkg")


def test_homes_whose_children_are_all_zero_are_an_error_naming_the_column_and_the_likely_one(data):
    h = _homes(data)
    kids = h["children"].copy()
    h["children"] = 0
    h["常住0-17岁人口数"] = kids  # the right count, under a name no alias catches: it must be offered
    p = data / "origins" / "homes_zero.gpkg"
    h.to_file(p, layer="homes")
    with pytest.raises(DataError) as err:
        loaders.load_origins(p)
    text = str(err.value)
    assert str(p) in text
    assert "the children column 'children' is 0 in all 2,470 rows" in text
    assert "columns that look like child counts: ['常住0-17岁人口数']" in text
    assert 'columns = { children = "常住0-17岁人口数" }' in text  # the config's syntax, not only Python's


def test_homes_whose_children_are_all_blank_are_an_error(data):
    h = _homes(data)
    h["children"] = np.nan
    p = data / "origins" / "homes_blank.gpkg"
    h.to_file(p, layer="homes")
    with pytest.raises(DataError, match=r"the children column 'children' is empty in all 2,470 rows"):
        loaders.load_origins(p)


def test_check_refuses_a_run_whose_homes_count_no_child(data):
    from childspace.run import checking

    h = _homes(data)
    h["children"] = 0
    (data / "origins" / "homes.gpkg").unlink()
    h.to_file(data / "origins" / "homes.gpkg", layer="homes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        with pytest.raises(DataError, match=r"is 0 in all 2,470 rows.*\(input \[origins\] of the config\)"):
            checking.check_inputs(load_config(data / "sample.toml"))


def test_a_unit_without_children_shows_a_dash_with_the_reason_never_nan_percent():
    from childspace.outputs.report import township_table_html

    uc = pd.DataFrame(
        {
            "unit_id": ["T1", "T2"],
            "name": ["甲街道", "乙镇"],
            "category": ["kindergarten", "kindergarten"],
            "children": [120, 0],
            "pct_walk": [55.0, np.nan],
            "below_target": [True, False],
            "target_pct": [80.0, 80.0],
        }
    )
    html = township_table_html(uc)
    assert "nan" not in html.lower()
    assert "55%" in html
    cell = html[html.index("乙镇") :]
    assert "—" in cell and "无儿童 no children" in cell


# ---------------------------------------------------------------------------------------------------------------
# 3. X/Y exported in Web Mercator (web-map tools), not a Gauss-Krueger zone
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture()
def web_mercator(data: Path) -> tuple[Path, gpd.GeoDataFrame]:
    """facilities.csv with X/Y in Web Mercator metres instead of lon/lat, and the study area (communities)."""
    f = pd.read_csv(data / "facilities" / "facilities.csv", dtype=str)
    pts = gpd.GeoSeries(
        gpd.points_from_xy(f["经度"].astype(float), f["纬度"].astype(float)), crs=4326
    ).to_crs(3857)
    f = f.drop(columns=["经度", "纬度"]).assign(X=pts.x.round(2), Y=pts.y.round(2))
    p = data / "facilities" / "facilities_3857.csv"
    f.to_csv(p, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        area = loaders.load_boundaries(data / "boundaries" / "communities.shp", level="community")
    return p, area


def test_web_mercator_xy_is_diagnosed_as_web_mercator_not_a_gauss_krueger_zone(web_mercator):
    p, area = web_mercator
    with pytest.raises(DataError) as err:
        loaders.load_facilities(p, study_area=area)
    text = str(err.value)
    fix = text.split("-> fix:")[1]
    assert "Web Mercator" in text and "in the study area" in text
    assert (
        'crs = "EPSG:3857"' in fix and "EPSG:4491" not in fix
    )  # the zone-13 reading is not offered as the fix
    assert (
        "4,4" in text and "km from the study area" in text
    )  # where zone 13 would put them: Tibet, not Yueqing


def test_web_mercator_xy_without_a_study_area_names_both_readings_and_where_they_lead(web_mercator):
    p, _ = web_mercator
    with pytest.raises(DataError) as err:
        loaders.load_facilities(p)
    text = str(err.value)
    assert "around 120.9" in text and "around 74.6" in text
    assert 'crs = "EPSG:3857"' in text and 'crs = "EPSG:4491"' in text


def test_a_gauss_krueger_crs_that_puts_every_point_far_away_is_refused_with_the_fitting_one(web_mercator):
    p, area = web_mercator
    with pytest.raises(DataError) as err:
        loaders.load_facilities(p, crs="EPSG:4491", study_area=area)
    text = str(err.value)
    assert "crs='EPSG:4491' puts the points around 74.6" in text and "km from the study area" in text
    assert 'crs = "EPSG:3857"' in text.split("-> fix:")[1]
    f = loaders.load_facilities(p, crs="EPSG:3857", study_area=area)
    assert len(f) == 65 and f.attrs["n_excluded"] == 0  # the fix it gives keeps every facility


def test_baidu_mercator_metres_declared_as_bd09_lon_lat_are_named(web_mercator):
    p, area = web_mercator
    with pytest.raises(
        DataError, match=r"declares Baidu lon/lat \(BD-09\), but .* Baidu Mercator \(BD09MC\)"
    ):
        loaders.load_facilities(p, coords="bd09", study_area=area)


# ---------------------------------------------------------------------------------------------------------------
# 4. Amap (GCJ-02) points loaded as WGS84: said when the files are read, not only in the report
# ---------------------------------------------------------------------------------------------------------------


def test_check_says_a_file_was_picked_on_amap_when_it_sits_the_gcj02_shift_from_the_other_files(data):
    from childspace.inputs.datum import wgs84_to_gcj02
    from childspace.run import checking, pipeline

    p = data / "facilities" / "facilities.csv"
    f = pd.read_csv(p, dtype=str)
    lon, lat = wgs84_to_gcj02(f["经度"].astype(float).to_numpy(), f["纬度"].astype(float).to_numpy())
    f["经度"], f["纬度"] = [f"{v:.7f}" for v in lon], [f"{v:.7f}" for v in lat]
    f.to_csv(p, index=False)
    with pytest.warns(ChildspaceWarning, match=r"facilities\.csv: 点位与其他文件") as rec:
        text = checking.check_inputs(load_config(data / "sample.toml"))
    line = next(ln for ln in text.splitlines() if "datum;" in ln)
    assert "facilities.csv" in line and 'load them with coords = "gcj02"' in line
    offset = float(line.split("sit a median ")[1].split(" m")[0])
    assert 500 <= offset <= 580  # the GCJ-02 shift in the sample's area (Yueqing: about 540 m)
    assert not [
        w for w in rec if "mother_baby_rooms_amap.xlsx: 点位" in str(w.message)
    ]  # the right file only
    # the run says it once (when the files are read), not again when the network is there
    cfg = load_config(data / "sample.toml", outputs=data / "out")
    with pytest.warns(ChildspaceWarning) as rec:
        pipeline.run_analyses(cfg, routes=False)
    said = [str(w.message) for w in rec if "load them with coords" in str(w.message)]
    assert len(said) == 1 and "facilities.csv" in said[0]


def test_the_bundled_sample_has_no_datum_suspect():
    from childspace.inputs.crosscheck import datum_cross_check

    fac = loaders.combine_facilities(
        [
            loaders.load_facilities(SAMPLE / "facilities" / "facilities.csv"),
            loaders.load_facilities(SAMPLE / "facilities" / "mother_baby_rooms_amap.xlsx", coords="gcj02"),
            loaders.load_facilities(SAMPLE / "facilities" / "infant_care.csv", category="infant_care"),
        ]
    )
    chk = datum_cross_check(fac)
    assert (chk["pairs"] >= 2).any()  # the files do pair up, and agree
    assert (chk["suspect"] == "").all()
    assert not [i for i in fac.attrs["issues"] if i["check"] == "datum"]


# ---------------------------------------------------------------------------------------------------------------
# 5. the planner's text is kept: full-width （）and ， are not turned into ASCII in the outputs
# ---------------------------------------------------------------------------------------------------------------


def test_pilot_names_and_notes_keep_their_full_width_punctuation_and_still_match_their_boundaries(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        units = loaders.load_boundaries(data / "boundaries" / "communities.shp", level="community")
        pilots = loaders.load_pilots(data / "pilots" / "pilot_units.xlsx", boundaries=units)
    by_id = pilots.set_index("pilot_id")
    assert by_id.at["SD2022-11", "name"] == "示例第一人民医院（儿科）"
    assert by_id.at["SD2022-01", "notes"] == "西南片区，周边缺少儿童游戏场地和母婴室（示例）"
    community = pilots[pilots["kind"] == "community"]
    assert community["unit_id"].notna().all()  # matching still compares normalised names and codes


def test_facility_names_keep_full_width_text_while_ids_compare_normalised(data):
    p = data / "facilities" / "facilities.csv"
    f = pd.read_csv(p, dtype=str)
    f.loc[0, "名称"] = "示例甲街道中心幼儿园（南园）"
    f.to_csv(p, index=False)
    fac = loaders.load_facilities(p)
    assert fac.loc[fac["facility_id"] == "KG01", "name"].item() == "示例甲街道中心幼儿园（南园）"
    f.loc[1, "编号"] = (
        "ＫＧ０１"  # the same id as KG01 typed with full-width characters: a key, compared normalised
    )
    f.to_csv(p, index=False)
    with pytest.raises(DataError, match=r"duplicate ids .*KG01"):
        loaders.load_facilities(p)


# ---------------------------------------------------------------------------------------------------------------
# 6. messages: a first sheet of instructions, formulas without values, 0-17岁儿童数, duplicate unit names
# ---------------------------------------------------------------------------------------------------------------


def test_a_workbook_whose_first_sheet_is_instructions_names_the_sheet_to_read(data):
    f = pd.read_csv(data / "facilities" / "facilities.csv", dtype=str)
    p = data / "facilities" / "facilities.xlsx"
    with pd.ExcelWriter(p) as xw:
        pd.DataFrame({"填表说明": ["1. 坐标为WGS84", "2. 类型按标准填写"]}).to_excel(
            xw, sheet_name="说明", index=False
        )
        f.to_excel(xw, sheet_name="设施清单", index=False)
    with pytest.raises(DataError) as err:
        loaders.load_facilities(p)
    text = str(err.value)
    assert "the first sheet '说明'" in text and "'设施清单' (columns 编号, 名称, 类型, 经度, 纬度" in text
    assert 'sheet = "设施清单"' in text.split("-> fix:")[1]
    assert len(loaders.load_facilities(p, sheet="设施清单")) == 65  # the fix it gives reads the table


def test_formulas_saved_without_values_are_named_as_such_not_as_empty_coordinates(data):
    import openpyxl

    f = pd.read_csv(data / "facilities" / "facilities.csv", dtype=str)
    p = data / "facilities" / "facilities.xlsx"
    f.to_excel(p, index=False)
    wb = openpyxl.load_workbook(p)
    ws = wb.active
    assert ws["D1"].value == "经度"
    for r in range(2, ws.max_row + 1):  # what a script writes: formulas, no computed values
        ws.cell(r, 4).value = f"=ROUND({ws.cell(r, 4).value},7)"
    wb.save(p)
    with pytest.raises(DataError) as err:
        loaders.load_facilities(p)
    text = str(err.value)
    assert "65 of the 65 data rows of '经度' (column D) are formulas without a computed value" in text
    assert "open the file in Excel or WPS and save it" in text
    assert "empty coordinates" not in text


def test_a_few_formulas_without_values_are_a_warning_naming_their_cells(data):
    import openpyxl

    f = pd.read_csv(data / "facilities" / "facilities.csv", dtype=str)
    p = data / "facilities" / "facilities.xlsx"
    f.to_excel(p, index=False)
    wb = openpyxl.load_workbook(p)
    wb.active.cell(3, 6).value = '=CONCAT("乐清市", "示例路1号")'  # an address as a formula, row 3
    wb.save(p)
    with pytest.warns(
        ChildspaceWarning, match=r"1 cells of '地址' \(column F\) are formulas without a computed"
    ):
        fac = loaders.load_facilities(p)
    assert len(fac) == 65


def test_a_children_column_named_0_17岁儿童数_is_recognised(data):
    h = _homes(data)
    p = data / "origins" / "homes.csv"
    pd.DataFrame({"经度": h.geometry.x, "纬度": h.geometry.y, "0-17岁儿童数": h["children"]}).to_csv(
        p, index=False
    )
    o = loaders.load_origins(p)
    assert int(o["children"].sum()) == int(h["children"].sum())


def test_an_unknown_children_column_is_named_with_the_config_syntax(data):
    h = _homes(data)
    p = data / "origins" / "homes.csv"
    pd.DataFrame({"经度": h.geometry.x, "纬度": h.geometry.y, "常住0-17岁人口数": h["children"]}).to_csv(
        p, index=False
    )
    with pytest.raises(DataError) as err:
        loaders.load_origins(p)
    text = str(err.value)
    assert "columns that look like child counts: ['常住0-17岁人口数']" in text
    assert 'columns = { children = "常住0-17岁人口数" }' in text.split("-> fix:")[1]


def test_boundaries_with_a_duplicated_name_say_that_a_register_naming_units_cannot_tell_them_apart(
    data, tmp_path
):
    c = gpd.read_file(data / "boundaries" / "communities.shp", encoding="GBK")
    c.loc[1, "NAME"] = c.loc[0, "NAME"]
    p = tmp_path / "communities.gpkg"
    c.to_file(p)
    with pytest.warns(ChildspaceWarning, match=r"2 units share 1 name: 示例青松社区 \(features 1, 2") as rec:
        loaders.load_boundaries(p, level="community")
    assert "cannot tell them apart" in str(rec[0].message) and "社区编码" in str(rec[0].message)


def test_boundaries_whose_children_are_all_zero_warn_that_no_child_is_counted(data, tmp_path):
    c = gpd.read_file(data / "boundaries" / "communities.shp", encoding="GBK")
    c = c.rename(columns={"CHILDREN": "未成年人数量"})  # the counts, under a name no alias catches
    c["儿童数"] = 0  # a template column never filled in
    p = tmp_path / "communities.gpkg"
    c.to_file(p)
    with pytest.warns(ChildspaceWarning, match=r"the children column '儿童数' is 0 in every unit") as rec:
        loaders.load_boundaries(p, level="community")
    msg = next(str(w.message) for w in rec if "is 0 in every unit" in str(w.message))
    assert "columns that look like child counts: ['未成年人数量']" in msg
    assert 'columns = { children = "未成年人数量" }' in msg


def test_the_run_summary_gives_no_share_where_no_child_is_counted(sample_run, sample_dir):
    """A category whose units count no child (children 0 everywhere) is said without a share ('nan%' before);
    the other categories keep theirs."""
    import dataclasses

    from childspace.run import pipeline

    cfg = pipeline.load_config(sample_dir / "sample.toml")
    uc = sample_run.tables["community_coverage"].copy()
    first = uc["category"].iloc[0]
    at = uc["category"] == first
    uc.loc[at, ["children", "children_covered_walk"]] = 0.0
    res = dataclasses.replace(sample_run, tables={**sample_run.tables, "community_coverage": uc})
    lines = pipeline.summarise(res, cfg)
    assert not any("nan" in s for s in lines)
    assert sum("无儿童 no children counted in the communities" in s for s in lines) == 1
    assert sum("% of children within walking reach" in s for s in lines) == uc["category"].nunique() - 1
