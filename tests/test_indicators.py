"""The action plan's targets, measured: hand-computed cases, the plan file's validation, venues, and the sample."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from childspace import DataError
from childspace.analysis.indicators import STATUS_MET, STATUS_MISSING, STATUS_NOT_MET, plan_indicators
from childspace.analysis.venues import missing_rooms, mother_baby_room_check
from childspace.inputs.plan import DEFAULT_PLAN, load_plan

# two townships side by side, 0.01° wide (about 1 km), around 121°E 28°N
T1 = shapely.box(121.00, 28.00, 121.01, 28.01)
T2 = shapely.box(121.01, 28.00, 121.02, 28.01)


def _towns(pop=(10_000, 5_000)):
    return gpd.GeoDataFrame(
        {"unit_id": ["t1", "t2"], "name": ["一镇", "二镇"], "population": list(pop)},
        geometry=[T1, T2],
        crs="EPSG:4326",
    )


def _fac(rows):
    """rows: (category, x, capacity, extra dict); y = 28.005."""
    recs = []
    for k, (cat, x, cap, extra) in enumerate(rows):
        recs.append(
            {
                "facility_id": f"F{k}",
                "name": f"设施{k}",
                "category": cat,
                "capacity": cap,
                **extra,
                "geometry": shapely.Point(x, 28.005),
            }
        )
    return gpd.GeoDataFrame(recs, geometry="geometry", crs="EPSG:4326")


def _pick(table, target_id, unit_id="city"):
    r = table[(table["target_id"] == target_id) & (table["unit_id"] == unit_id)]
    assert len(r) == 1, (target_id, unit_id)
    return r.iloc[0]


def test_infant_care_places_per_1000_and_townships():
    fac = _fac(
        [
            ("infant_care", 121.005, 30, {}),
            ("infant_care", 121.006, 15, {}),
            ("kindergarten", 121.015, 200, {}),
        ]
    )
    t = plan_indicators(_towns(), fac)
    city = _pick(t, "infant_care_places")
    assert city["value"] == pytest.approx(45 / 15_000 * 1000)  # 3.0 per 1,000
    assert city["gap"] == pytest.approx(1.5) and city["status"] == STATUS_NOT_MET
    t1 = _pick(t, "infant_care_places", "t1")
    assert t1["value"] == pytest.approx(4.5) and t1["status"] == STATUS_MET and t1["gap"] == 0  # 45 / 10,000
    assert _pick(t, "infant_care_places", "t2")["value"] == 0
    towns = _pick(t, "infant_care_townships")
    assert towns["value"] == pytest.approx(50.0) and towns["status"] == STATUS_NOT_MET
    assert _pick(t, "infant_care_townships", "t1")["value"] == 2
    assert _pick(t, "infant_care_townships", "t2")["status"] == STATUS_NOT_MET


def test_infant_care_missing_places_and_missing_register():
    fac = _fac([("infant_care", 121.005, 30, {}), ("infant_care", 121.006, np.nan, {})])
    r = _pick(plan_indicators(_towns(), fac), "infant_care_places")
    assert r["value"] == pytest.approx(2.0) and "places unknown for 1" in r["missing"]
    none = plan_indicators(_towns(), _fac([("kindergarten", 121.005, 100, {})]))
    r = _pick(none, "infant_care_places")
    assert r["status"] == STATUS_MISSING and np.isnan(r["value"]) and "托育机构" in r["missing"]
    no_pop = plan_indicators(_towns(pop=(np.nan, np.nan)), fac)
    assert "population" in _pick(no_pop, "infant_care_places")["missing"]


def test_kindergarten_shares_by_places_then_by_count():
    kg = [
        ("kindergarten", 121.005, 300, {"ownership": "public", "inclusive": None, "grade": "省一级"}),
        ("kindergarten", 121.006, 100, {"ownership": "private", "inclusive": True, "grade": "省三级"}),
        ("kindergarten", 121.015, 100, {"ownership": "private", "inclusive": False, "grade": "省二级"}),
    ]
    t = plan_indicators(_towns(), _fac(kg))
    inc = _pick(t, "inclusive_kindergartens")
    assert inc["value"] == pytest.approx(80.0) and "by places" in inc["basis"]  # 400 of 500 places
    assert inc["gap"] == pytest.approx(13.5)
    q = _pick(t, "quality_kindergartens")
    assert q["value"] == pytest.approx(80.0) and q["status"] == STATUS_MET  # 300 + 100 of 500
    assert _pick(t, "inclusive_kindergartens", "t2")["value"] == 0
    # one capacity unknown: every share by count, and the row says so
    kg[2] = ("kindergarten", 121.015, np.nan, kg[2][3])
    t = plan_indicators(_towns(), _fac(kg))
    inc = _pick(t, "inclusive_kindergartens")
    assert inc["value"] == pytest.approx(200 / 3, abs=0.01) and "by count" in inc["basis"]
    # unknown status left out and said; no status at all: missing data
    kg[1] = ("kindergarten", 121.006, 100, {"ownership": "private", "inclusive": None, "grade": None})
    t = plan_indicators(_towns(), _fac(kg))
    assert "unknown for 1" in _pick(t, "inclusive_kindergartens")["missing"]
    bare = plan_indicators(_towns(), _fac([("kindergarten", 121.005, 100, {})]))
    assert _pick(bare, "quality_kindergartens")["status"] == STATUS_MISSING


def test_demonstration_children_homes_per_township():
    fac = _fac(
        [
            ("children_home", 121.005, np.nan, {"demonstration": True}),
            ("children_home", 121.015, np.nan, {"demonstration": False}),
        ]
    )
    t = plan_indicators(_towns(), fac)
    assert _pick(t, "demonstration_children_homes")["value"] == pytest.approx(50.0)
    assert _pick(t, "demonstration_children_homes", "t1")["status"] == STATUS_MET
    assert _pick(t, "demonstration_children_homes", "t2")["status"] == STATUS_NOT_MET
    unknown = plan_indicators(_towns(), _fac([("children_home", 121.005, np.nan, {})]))
    assert _pick(unknown, "demonstration_children_homes")["status"] == STATUS_MISSING


def test_pilot_batches_and_new_places_missing():
    pilots = pd.DataFrame({"batch": [2022] * 17 + [2023] * 30})
    t = plan_indicators(_towns(), None, pilots=pilots)
    assert _pick(t, "pilots_2022")["status"] == STATUS_MET
    p23 = _pick(t, "pilots_2023")
    assert p23["value"] == 30 and p23["gap"] == 1 and p23["status"] == STATUS_NOT_MET
    assert _pick(t, "new_public_kindergarten_places")["status"] == STATUS_MISSING
    assert _pick(plan_indicators(_towns(), None), "pilots_2022")["missing"].startswith(
        "missing data: the pilot"
    )


def test_venues_need_rooms_by_national_and_zhejiang_rules():
    plan = load_plan()
    x0, y0 = 121.005, 28.005
    venues = gpd.GeoDataFrame(
        {
            "venue_id": ["big", "zj", "busy", "small", "unknown", "near", "quiet"],
            "name": ["大商场", "五千平米馆", "客运站", "小馆", "未知", "医院", "五千客流馆"],
            "floor_area_m2": [20_000, 5_000, 3_000, 4_999, np.nan, 10_000, 1_000],
            "daily_visitors": [np.nan, np.nan, 10_001, 10_000, np.nan, np.nan, 5_000],
        },
        geometry=shapely.points(
            [
                [x0, y0],
                [x0 + 0.002, y0],
                [x0 + 0.004, y0],
                [x0 + 0.006, y0],
                [x0 + 0.008, y0],
                [121.015, y0],
                [x0 + 0.02, y0],
            ]
        ),
        crs="EPSG:4326",
    )
    # one room 50 m north of the 大商场 (0.00045° lat ≈ 50 m), one 150 m north of the 医院
    rooms = gpd.GeoDataFrame(
        {"name": ["母婴室A", "母婴室B"]},
        geometry=shapely.points([[x0, y0 + 0.00045], [121.015, y0 + 0.00135]]),
        crs="EPSG:4326",
    )
    chk = mother_baby_room_check(venues, rooms, plan.venue_rules, max_distance_m=100)
    # Zhejiang 2017: ≥ 5,000 m² or more than 5,000 visitors a day (10,000 visitors: not national, but Zhejiang);
    # exactly 5,000 visitors on 1,000 m² is below both
    assert chk["required"].tolist() == [True, True, True, True, False, True, False]
    assert chk["rules"].tolist()[:4] == [
        "national_2016; zhejiang_2017",
        "zhejiang_2017",
        "national_2016; zhejiang_2017_visitors",
        "zhejiang_2017_visitors",
    ]
    assert chk["has_room"].tolist() == [True, False, False, False, False, False, False]
    assert (
        chk.loc[0, "room_distance_m"] == pytest.approx(50, abs=1) and chk.loc[0, "nearest_room"] == "母婴室A"
    )
    assert missing_rooms(chk)["venue_id"].tolist() == ["zj", "busy", "small", "near"]
    # a longer reach finds the 医院's room; a footprint containing the room counts at distance 0
    assert mother_baby_room_check(venues, rooms, plan.venue_rules, max_distance_m=200)["has_room"].iloc[5]
    v2 = venues.iloc[[5]].assign(footprint=[shapely.to_wkb(shapely.box(121.014, 28.004, 121.016, 28.007))])
    inside = mother_baby_room_check(v2, rooms, plan.venue_rules, max_distance_m=0)
    assert inside["has_room"].iloc[0] and inside["room_distance_m"].iloc[0] == 0
    t = plan_indicators(_towns(), None, venues=chk)
    assert _pick(t, "mother_baby_rooms")["value"] == pytest.approx(20.0)  # 1 of 5
    assert "unknown for 1" in _pick(t, "mother_baby_rooms")["missing"]
    assert _pick(t, "mother_baby_rooms", "t2")["value"] == 0


def test_default_plan_carries_wording_and_sources():
    plan = load_plan()
    assert plan.targets["infant_care_places"].target == 4.5
    assert plan.targets["inclusive_kindergartens"].target == 93.5
    assert plan.targets["quality_kindergartens"].target == 75
    assert {plan.targets["pilots_2022"].target, plan.targets["pilots_2023"].target} == {17, 31}
    for t in plan.targets.values():
        assert t.wording and t.source and t.zh and t.en
    assert plan.venue_rules["zhejiang_2017"].floor_area_m2 == 5000
    assert plan.venue_rules["national_2016"].daily_visitors == 10000


@pytest.mark.parametrize(
    "edit,match",
    [
        (("target = 4.5", 'target = "4.5"'), "must be a number"),
        (('measure = "infant_care_places_per_1000"', 'measure = "childcare"'), "unknown measure 'childcare'"),
        (("batch = 2022", "bach = 2022"), "unknown key"),
        (("target = 93.5", "target = 193.5"), "cannot exceed 100"),
        (("max_distance_m = 100", "max_distance_m = -1"), "max_distance_m"),
        (('wording = "到2025年，每千人口拥有3岁以下婴幼儿托位数达到4.5个"\n', ""), "lacks wording"),
    ],
)
def test_plan_file_is_validated(tmp_path, edit, match):
    text = DEFAULT_PLAN.read_text(encoding="utf-8")
    assert edit[0] in text
    p = tmp_path / "plan.toml"
    p.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(DataError, match=match) as exc:
        load_plan(p)
    assert "plan.toml" in str(exc.value)


def test_another_city_writes_its_own_plan(tmp_path):
    p = tmp_path / "city.toml"
    p.write_text(
        '[plan]\nzh = "某市行动计划"\ncity = "某市"\n[targets.ic]\nmeasure = "infant_care_places_per_1000"\n'
        'zh = "托位"\nen = "Places"\nwording = "每千人口托位数达到3个"\ntarget = 3\nsource = "某市计划"\n',
        encoding="utf-8",
    )
    plan = load_plan(p)
    t = plan_indicators(_towns(), _fac([("infant_care", 121.005, 45, {})]), plan=plan)
    assert list(t["target_id"].unique()) == ["ic"] and _pick(t, "ic")["status"] == STATUS_MET
    assert _pick(t, "ic")["unit"] == "某市"


def test_sample_has_a_value_or_missing_data_for_every_target():
    from childspace.analysis import venues as vn
    from childspace.inputs import load_boundaries, load_facilities, load_pilots
    from childspace.inputs.venues import load_venues
    from childspace.run.pipeline import SAMPLE_DATA as D

    towns = load_boundaries(D / "boundaries/townships.gpkg", level="township")
    fac = pd.concat(
        [
            load_facilities(D / "facilities/facilities.csv"),
            load_facilities(D / "facilities/mother_baby_rooms_amap.xlsx", coords="gcj02"),
            load_facilities(D / "facilities/infant_care.csv"),
        ],
        ignore_index=True,
    )
    fac = gpd.GeoDataFrame(fac, geometry="geometry", crs="EPSG:4326")
    plan = load_plan()
    chk = vn.mother_baby_room_check(
        load_venues(D / "facilities/venues.csv"),
        fac[fac["category"] == "mother_baby_room"],
        plan.venue_rules,
        plan.room_distance_m,
    )
    t = plan_indicators(towns, fac, pilots=load_pilots(D / "pilots/pilot_units.xlsx"), venues=chk)
    city = t[t["level"] == "city"]
    assert list(city["target_id"]) == list(plan.targets)
    ok = city["value"].notna() | city["missing"].str.startswith("missing data: ")
    assert ok.all()
    # hand-computed from the sample files: 75 known places (25+15+20+15) / 18,990 residents
    assert _pick(t, "infant_care_places")["value"] == pytest.approx(75 / 18_990 * 1000, abs=0.01)
    assert _pick(t, "inclusive_kindergartens")["value"] == pytest.approx(100 * 3660 / 3990, abs=0.01)
    assert _pick(t, "quality_kindergartens")["value"] == pytest.approx(100 * 2910 / 3990, abs=0.01)
    assert _pick(t, "demonstration_children_homes")["value"] == pytest.approx(200 / 3, abs=0.01)
    assert _pick(t, "pilots_2022")["value"] == 17 and _pick(t, "pilots_2023")["value"] == 31
    assert sorted(missing_rooms(chk)["name"]) == ["示例丙镇文体中心", "示例乙街道购物中心", "示例汽车客运站"]
    assert _pick(t, "mother_baby_rooms")["value"] == pytest.approx(600 / 9, abs=0.01)
    # 开办年份 of the sample: public kindergartens opened since 2022 are KG07, KG09, KG13 (240 places each)
    new = _pick(t, "new_public_kindergarten_places")
    assert new["value"] == 720 and new["status"] == STATUS_NOT_MET and new["missing"] == ""


def test_osm_venues_of_the_sample_with_footprint_area():
    from childspace.osm.venues import venues_from_osm
    from childspace.run.pipeline import SAMPLE_DATA as D

    v = venues_from_osm(D / "osm/sample.osm")
    parks = v[v["kind"] == "park"]
    assert len(parks) == 12 and parks["footprint"].notna().all()
    centre = parks[parks["name"] == "示例中心公园"].iloc[0]
    # the park polygon of the generator, in EPSG:4549 metres
    ref = gpd.read_file(D / "facilities/parks.geojson").to_crs(4549)
    assert centre["floor_area_m2"] == pytest.approx(
        ref.loc[ref["name"] == "示例中心公园"].area.iloc[0], rel=0.01
    )
    assert "site area" in centre["area_basis"]
    points = v[v["kind"].isin(["hospital", "culture"])]
    assert (
        set(points["name"]) == {"示例第一人民医院", "示例市图书馆"} and points["floor_area_m2"].isna().all()
    )


def test_new_public_kindergarten_places_from_opening_years():
    def kg(x, cap, own, year):
        return ("kindergarten", x, cap, {"ownership": own, "opened_year": year})

    fac = _fac(
        [
            kg(121.001, 240, "public", 2022.0),  # counted
            kg(121.002, 180, "public", 2023.0),  # counted
            kg(121.003, 300, "public", 2019.0),  # before the plan
            kg(121.011, 200, "private", 2023.0),  # new but private
            kg(121.012, 150, "public", np.nan),  # public, year unknown: left out, said
        ]
    )
    r = _pick(plan_indicators(_towns(), fac), "new_public_kindergarten_places")
    assert r["value"] == 420 and r["gap"] == 5400 - 420 and r["status"] == STATUS_NOT_MET
    assert r["basis"].startswith("2 所公办幼儿园 2022 年及以后开办")
    assert "开办年份 unknown for 1 public kindergartens" in r["missing"] and "lower bound" in r["missing"]
    # no opening year at all: missing data, no value
    none = _pick(
        plan_indicators(_towns(), _fac([("kindergarten", 121.001, 240, {})])),
        "new_public_kindergarten_places",
    )
    assert none["status"] == STATUS_MISSING and np.isnan(none["value"])
    assert none["missing"].startswith("missing data: 开办年份 (opening year)")


def test_opening_year_read_by_the_loader_in_chinese_and_english(tmp_path):
    from childspace.inputs import load_facilities

    rows = (
        "名称,类型,经度,纬度,学位数,办园性质,{col}\n"
        "甲园,幼儿园,120.97,28.12,240,公办,{a}\n乙园,幼儿园,120.98,28.12,180,民办,{b}\n"
    )
    for col, a, b in (("开园时间", "2023年9月", "2010"), ("opened_year", "2024-09", "")):
        p = tmp_path / f"{col}.csv"
        p.write_text(rows.format(col=col, a=a, b=b), encoding="utf-8")
        f = load_facilities(p)
        assert f["opened_year"].iloc[0] in (2023.0, 2024.0)
        assert f["opened_year"].iloc[1] == 2010.0 or np.isnan(f["opened_year"].iloc[1])
    bad = tmp_path / "bad.csv"
    bad.write_text(rows.format(col="开办年份", a="老园", b="2015"), encoding="utf-8")
    with pytest.warns(Warning, match="not understood as a year"):
        f = load_facilities(bad)
    assert np.isnan(f["opened_year"].iloc[0]) and f["opened_year"].iloc[1] == 2015.0
