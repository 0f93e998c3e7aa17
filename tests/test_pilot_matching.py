"""The pilot register (pilots/pilot_units.xlsx of the bundled sample) with a planner's mistakes in it: a community
pilot that matches no boundary, a code that names another community than the name, a point far outside the study
area. Each is said by row (as counted in Excel: header row 1, first data row 2), name and id, in `check` and in
the run alike, and none stops the run after `check` passed."""

from __future__ import annotations

import re
import shutil
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import SAMPLE, sample_file
from test_coverage import M, P, grid_network

from childspace._errors import ChildspaceWarning, DataError
from childspace.analysis import pilots as pl
from childspace.inputs import loaders as io
from childspace.inputs.projection import local_crs_for

CHENGUANG = "330382902005"  # 示例晨光社区, row 3 of the register (SD2022-02)
JINXIU = "330382902009"  # 示例锦绣社区
QINGSONG, CUIZHU = (
    "330382901001",
    "330382901002",
)  # 示例青松社区 (row 2, SD2022-01), 示例翠竹社区 (row 27, SD2023-09)


@pytest.fixture(scope="module")
def communities():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        return io.load_boundaries(sample_file("boundaries/communities.shp"), level="community")


@pytest.fixture(scope="module")
def register():
    return pd.read_excel(sample_file("pilots/pilot_units.xlsx"), dtype=str)


@pytest.fixture(scope="module")
def facilities():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        return io.load_facilities(sample_file("facilities/facilities.csv"))


def _write(tmp_path, table):
    p = tmp_path / "pilot_units.xlsx"
    table.to_excel(p, index=False, sheet_name="试点单元")
    return p


def _load(path, **kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = io.load_pilots(path, **kw)
    return out, [str(w.message) for w in rec if issubclass(w.category, ChildspaceWarning)]


def _one(msgs, *parts):
    hits = [m for m in msgs if all(p in m for p in parts)]
    assert len(hits) == 1, (parts, msgs)
    return hits[0]


# ------------------------------------------------------------------ a community pilot that matches no boundary
def test_unmatched_community_pilot_is_assessed_as_a_point_and_said_so(
    tmp_path, register, communities, facilities
):
    t = register.copy()
    t.loc[1, "名称"] = "示例晨光杜区"  # typo, and no code
    t.loc[1, "社区编码"] = None
    pilots, msgs = _load(_write(tmp_path, t), boundaries=communities)
    m = _one(msgs, "row 3 (示例晨光杜区, SD2022-02)")
    assert "no 社区编码" in m and "matches no boundary in communities.shp" in m
    assert f"closest names: 示例晨光社区 ({CHENGUANG})" in m and "assessed as a point" in m
    p = pilots.set_index("pilot_id")
    assert p.geometry["SD2022-02"].geom_type == "Point" and p.loc["SD2022-02", "unit_id"] is None
    # the analyses take it as a point pilot instead of stopping (they stopped: "a community pilot needs its
    # community polygon", about "row 1")
    st = pl.pilot_status(pilots, facilities, None, None).set_index("pilot_id")
    assert st.loc["SD2022-02", "rule"] == "nearest (community without its polygon)"
    assert st.loc["SD2022-02", "status"] in ("meets", "partly", "gap") and len(st) == 48
    assert (
        st.loc["SD2022-01", "rule"] == "nearest (no origins given)"
    )  # a community on its polygon, as before
    ca = pl.pilot_catchments(pilots, None, radius=500).set_index("pilot_id")
    assert ca.loc["SD2022-02", "method"] == "line" and ca.loc["SD2022-01", "method"] == "polygon"
    assert ca.loc["SD2022-02", "area_m2"] == pytest.approx(np.pi * 500**2, rel=0.01)


def test_code_missing_from_the_community_file_is_said_with_the_closest_codes(tmp_path, register, communities):
    without = communities[communities["code"] != CHENGUANG]  # the community is not in the boundary file
    pilots, msgs = _load(_write(tmp_path, register), boundaries=without)
    m = _one(msgs, "row 3 (示例晨光社区, SD2022-02)")
    assert f"社区编码 {CHENGUANG} was not found in the community file communities.shp" in m
    assert "closest codes: 330382901005 示例兰亭社区" in m  # one digit off
    assert "assessed as a point" in m and "add the community to communities.shp" in m
    assert pilots.set_index("pilot_id").geometry["SD2022-02"].geom_type == "Point"


def test_code_missing_but_name_found_is_matched_by_name_with_a_warning(tmp_path, register, communities):
    t = register.copy()
    t.loc[1, "社区编码"] = "330382902099"
    pilots, msgs = _load(_write(tmp_path, t), boundaries=communities)
    m = _one(msgs, "row 3 (示例晨光社区, SD2022-02)")
    assert "社区编码 330382902099 was not found" in m and f"correct its 社区编码 to {CHENGUANG}" in m
    assert pilots.set_index("pilot_id").loc["SD2022-02", "unit_id"] == CHENGUANG


def test_two_boundaries_with_the_pilots_name_ask_for_the_code(tmp_path, register, communities):
    twins = communities.copy()
    twins.loc[twins["code"] == JINXIU, "name"] = "示例晨光社区"
    t = register.copy()
    t.loc[1, "社区编码"] = None
    pilots, msgs = _load(_write(tmp_path, t), boundaries=twins)
    m = _one(msgs, "row 3 (示例晨光社区, SD2022-02)")
    assert f"2 boundaries in communities.shp are named 示例晨光社区 (codes {CHENGUANG}, {JINXIU})" in m
    assert f"its lon/lat lie in 示例晨光社区 ({CHENGUANG})" in m
    assert f"fill in its 社区编码 (one of {CHENGUANG}, {JINXIU})" in m
    assert pilots.set_index("pilot_id").geometry["SD2022-02"].geom_type == "Point"


def test_no_coordinates_and_no_boundary_is_an_error_saying_why(tmp_path, register, communities):
    t = register.copy()
    t.loc[1, ["名称", "社区编码", "经度", "纬度"]] = ["示例晨光杜区", None, None, None]
    with pytest.raises(DataError) as e:
        io.load_pilots(_write(tmp_path, t), boundaries=communities)
    msg = str(e.value)
    assert "row 3 (示例晨光杜区, SD2022-02): it has no 社区编码" in msg
    assert f"closest names: 示例晨光社区 ({CHENGUANG})" in msg


def test_a_bracketed_note_in_the_name_still_finds_the_community(tmp_path, register, communities):
    t = register.copy()
    t.loc[1, ["名称", "社区编码"]] = ["示例晨光社区（试点）", None]
    pilots, msgs = _load(_write(tmp_path, t), boundaries=communities)
    p = pilots.set_index("pilot_id")
    assert p.loc["SD2022-02", "unit_id"] == CHENGUANG
    assert p.geometry["SD2022-02"].equals(communities.set_index("code").geometry[CHENGUANG])
    assert not msgs  # not doubtful: said in the check's list only
    note = [i["message"] for i in pilots.attrs["issues"] if i["check"] == "pilot_community"]
    assert note == [f"row 3 (示例晨光社区（试点）, SD2022-02): matched by its name without the part in brackets to "
                    f"示例晨光社区 ({CHENGUANG})"]  # fmt: skip


# ------------------------------------------------------------------ a code that names another community
def test_code_and_name_of_two_communities_are_warned_about(tmp_path, register, communities):
    t = register.copy()
    t.loc[0, "社区编码"] = CUIZHU  # SD2022-01 示例青松社区 given 示例翠竹社区's code
    pilots, msgs = _load(_write(tmp_path, t), boundaries=communities)
    m = _one(msgs, "row 2 (示例青松社区, SD2022-01)")
    assert f"社区编码 {CUIZHU} is 示例翠竹社区 ({CUIZHU}) in communities.shp" in m
    assert f"its name is that of 示例青松社区 ({QINGSONG})" in m
    assert f"its lon/lat lie in 示例青松社区 ({QINGSONG})" in m
    assert "assessed as 示例翠竹社区 (the code decides)" in m
    assert "the community of row 27 (示例翠竹社区, SD2023-09) as well" in m
    assert f"correct its 社区编码 to {QINGSONG}" in m
    p = pilots.set_index("pilot_id")
    assert p.loc["SD2022-01", "unit_id"] == CUIZHU  # as said: the code's community
    # the unchanged register has no such warning
    _, clean = _load(_write(tmp_path, register), boundaries=communities)
    assert not [m for m in clean if "社区编码" in m]


# ------------------------------------------------------------------ a point far outside the study area
def test_point_far_outside_the_study_area_is_not_assessed(tmp_path, register, communities):
    t = register.copy()
    t.loc[8, "经度"] = "121.5"  # SD2022-09 示例乙街道实验小学, row 10: should be 120.9867617
    area = shapely.union_all(communities.geometry.values)
    # a school 300 m east of the study area's easternmost point: within the walk network's reach, kept
    crs = local_crs_for(communities)
    east = gpd.GeoSeries([area], crs=4326).to_crs(crs).iloc[0]
    ex = max(east.exterior.coords if east.geom_type == "Polygon" else
             (c for g in east.geoms for c in g.exterior.coords), key=lambda c: c[0])  # fmt: skip
    near = gpd.GeoSeries([shapely.Point(ex[0] + 300, ex[1])], crs=crs).to_crs(4326).iloc[0]
    t.loc[9, ["经度", "纬度"]] = [str(near.x), str(near.y)]  # SD2022-10
    pilots, msgs = _load(_write(tmp_path, t), boundaries=communities)
    m = _one(msgs, "row 10 (示例乙街道实验小学, SD2022-09)")
    km = float(re.search(r"SD2022-09\): ([\d.]+) km outside", m).group(1))
    far = gpd.GeoSeries([shapely.Point(121.5, float(t.loc[8, "纬度"]))], crs=4326).to_crs(crs).iloc[0]
    assert km == pytest.approx(far.distance(east) / 1000, abs=0.05)
    assert km > 40 and "km outside the study area" in m and "not assessed" in m and "check its 经度/纬度" in m
    ids = set(pilots["pilot_id"])
    assert "SD2022-09" not in ids and "SD2022-10" in ids and len(pilots) == 47
    assert io.excluded_rows(pilots)["pilot_id"].tolist() == ["SD2022-09"]
    assert not [m for m in msgs if "SD2022-10" in m]


def test_street_less_point_pilots_are_named():
    net = grid_network()
    pilots = gpd.GeoDataFrame(
        {
            "pilot_id": ["S1", "S2"],
            "name": ["学校一", "学校二"],
            "batch": [2022, 2022],
            "kind": ["school"] * 2,
        },
        geometry=[P(100, 0), P(100, 2000)],
        crs=M,
    ).to_crs(4326)
    with pytest.warns(
        ChildspaceWarning, match=r"1 point pilots are farther than 150 m from any street \(S2 学校二\)"
    ):
        pl.pilot_catchments(pilots, net, radius=300)
    bad = pilots.assign(kind=["school", "mall"])
    with pytest.raises(DataError, match=r"pilot S2 \(学校二\)"):  # (it said "row 1", counted from 0)
        pl.pilot_catchments(bad)


# ------------------------------------------------------------------ check says what the run then does
def test_check_and_run_agree_on_the_register_with_all_three_mistakes(tmp_path, register):
    from childspace.run import checking, pipeline

    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("outputs"))
    t = register.copy()
    t.loc[1, ["名称", "社区编码"]] = ["示例晨光杜区", None]  # 1: no boundary
    t.loc[0, "社区编码"] = CUIZHU  # 2: code of another community
    t.loc[8, "经度"] = "121.5"  # 3: 49 km east
    t.to_excel(data / "pilots" / "pilot_units.xlsx", index=False, sheet_name="试点单元")
    cfg = pipeline.load_config(data / "sample.toml", outputs=tmp_path / "out")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        text = checking.check_inputs(cfg)
    said = [
        "row 3 (示例晨光杜区, SD2022-02): community pilot without its community boundary",
        "row 2 (示例青松社区, SD2022-01): 社区编码 330382901002 is 示例翠竹社区",
        "row 10 (示例乙街道实验小学, SD2022-09): 49.1 km outside the study area",
    ]
    for s in said:
        assert s in text
    assert (
        "评估 assessed: 19 communities on their polygon (children covered); 1 communities as points, no boundary "
        "matched (SD2022-02); 27 other pilots as points (nearest facility); 未评估 not assessed: 1 outside the "
        "study area (SD2022-09)"
    ) in text
    # the run (coverage and pilots; routes are not about pilots) does what check said, and says it again
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = pipeline.run_analyses(cfg, routes=False)
    run_said = " ".join(str(w.message) for w in rec if issubclass(w.category, ChildspaceWarning))
    for s in said:
        assert s in run_said
    st = res.layers["pilots"].set_index("pilot_id")
    assert "SD2022-09" not in st.index and len(st) == 47
    assert st.loc["SD2022-02", "rule"] == "nearest (community without its polygon)"
    assert st.loc["SD2022-01", "unit_id"] == CUIZHU and st.loc["SD2022-01", "rule"] == "coverage"
    assert st["status"].isin(["meets", "partly", "gap"]).all()


def test_study_area_given_or_not_taken_from_osm_villages(tmp_path, register, communities):
    t = register.copy()
    t.loc[8, "经度"] = "121.5"
    p = _write(tmp_path, t)
    # villages taken from OSM often cover only part of the area: not the study area unless it is given
    osm = communities.assign(source="osm")
    pilots, msgs = _load(p, boundaries=osm)
    assert "SD2022-09" in set(pilots["pilot_id"]) and not [m for m in msgs if "outside the study area" in m]
    pilots, msgs = _load(p, boundaries=osm, study_area=shapely.union_all(communities.geometry.values))
    assert "SD2022-09" not in set(pilots["pilot_id"])
    _one(msgs, "row 10 (示例乙街道实验小学, SD2022-09): 49.1 km outside the study area")
