"""Facility attributes (places, ownership, 普惠, grade, 示范型, venue size) read with Chinese and English names."""

import warnings

import numpy as np
import pandas as pd
import pytest

from childspace import ChildspaceWarning
from childspace.inputs import load_facilities
from childspace.inputs.attributes import parse_grade, parse_number, parse_ownership, read_attributes


@pytest.mark.parametrize(
    "value,expected",
    [
        ("浙江省一级幼儿园", "省一级"),
        ("省1级", "省一级"),
        ("省二级", "省二级"),
        ("二级", "省二级"),
        ("省三级园", "省三级"),
        ("市一级", "市级"),
        ("市级示范", "市级"),
        ("区级", "县级"),
        ("准办园", "未定级"),
        ("未定级", "未定级"),
        (None, ""),
        ("优秀", None),
    ],
)
def test_parse_grade(value, expected):
    assert parse_grade(value) == expected


def test_parse_number_and_ownership():
    assert (
        parse_number("5,000㎡") == 5000
        and parse_number("1.2万") == 12000
        and parse_number("3000人次") == 3000
    )
    assert parse_number(12.5) == 12.5 and np.isnan(parse_number("")) and parse_number("很多") is None
    assert parse_ownership("公办") == ("public", None, True)
    assert parse_ownership("民办普惠") == ("private", True, True)
    assert parse_ownership("民办非普惠") == ("private", False, True)
    assert parse_ownership("其他")[2] is False


def test_chinese_register_normalised_and_unknown_values_reported(tmp_path):
    p = tmp_path / "幼儿园名册.csv"
    p.write_text(
        "名称,类型,经度,纬度,学位数,办园性质,是否普惠,办园等级\n"
        "甲幼儿园,幼儿园,120.97,28.12,270,公办,是,省一级\n"
        '乙幼儿园,幼儿园,120.98,28.12,"1,080",民办,普惠,浙江省二级幼儿园\n'
        "丙幼儿园,幼儿园,120.99,28.12,180,个体,否,优秀\n"
        "丁幼儿园,幼儿园,121.00,28.12,,民办,,准办\n",
        encoding="utf-8",
    )
    with pytest.warns(ChildspaceWarning) as rec:
        f = load_facilities(p)
    assert f["capacity"].tolist()[:3] == [270, 1080, 180] and np.isnan(f["capacity"].iloc[3])
    assert f["ownership"].tolist() == ["public", "private", None, "private"]
    assert f["inclusive"].tolist() == [True, True, False, None]
    assert f["grade"].tolist() == ["省一级", "省二级", None, "未定级"]
    msgs = " ".join(str(w.message) for w in rec)
    assert "'办园性质'" in msgs and "个体" in msgs and "'办园等级'" in msgs and "优秀" in msgs
    issues = f.attrs["issues"]
    assert {i["check"] for i in issues} >= {"attribute_ownership", "attribute_grade"}
    assert next(i for i in issues if i["check"] == "attribute_grade")["count"] == 1


def test_english_columns_infant_places_and_venues(tmp_path):
    p = tmp_path / "register.csv"
    p.write_text(
        "name,category,lon,lat,places,ownership,inclusive,demonstration,floor_area,daily_visitors\n"
        "Sunshine nursery,infant care,120.97,28.12,60,private,yes,,,\n"
        "Children's home A,children's home,120.98,28.12,,public,,示范型,,\n"
        "Children's home B,children's home,120.99,28.12,,public,,no,,\n"
        'Library,library,121.00,28.12,,public,,,"12,000",1.5万\n',
        encoding="utf-8",
    )
    f = load_facilities(p)
    assert f["category"].tolist() == ["infant_care", "children_home", "children_home", "library"]
    assert f["capacity"].iloc[0] == 60
    assert f["demonstration"].tolist() == [None, True, False, None]
    assert f["floor_area_m2"].iloc[3] == 12000 and f["daily_visitors"].iloc[3] == 15000


def test_toweishu_is_capacity_when_no_capacity_column(tmp_path):
    p = tmp_path / "托育.csv"
    p.write_text(
        "名称,类型,经度,纬度,核定托位数,性质\n甲托育园,托育机构,120.97,28.12,80,民办普惠\n"
        "乙托育点,婴幼儿照护服务驿站,120.98,28.12,20,公办\n",
        encoding="utf-8",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChildspaceWarning)  # a clean file gives no warning
        f = load_facilities(p)
    assert f["capacity"].tolist() == [80, 20]
    assert f["ownership"].tolist() == ["public" if o == "公办" else "private" for o in ("民办普惠", "公办")]
    assert f["inclusive"].tolist() == [True, None]
    assert "核定托位数" not in f.columns and "性质" not in f.columns


def test_explicit_column_mapping_and_input_not_modified():
    df = pd.DataFrame({"facility_id": ["a", "b"], "name": ["x", "y"], "评定结果": ["省二级", "省三级"]})
    before = df.copy()
    out = read_attributes(df, columns={"grade": "评定结果"})
    assert out["grade"].tolist() == ["省二级", "省三级"]
    pd.testing.assert_frame_equal(df, before)
    # without the mapping the column is not an attribute and stays as it is
    assert "grade" not in read_attributes(df).columns
