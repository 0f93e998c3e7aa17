"""Pilot checklist and status on the hand-made river grid of test_coverage."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import sample_file
from test_coverage import X0, Y0, M, P, grid_network, points

from childspace._errors import ChildspaceWarning, DataError
from childspace.analysis import pilots as pl


@pytest.fixture(scope="module")
def net():
    return grid_network()


@pytest.fixture(scope="module")
def facilities():
    # west bank: kindergarten K1 (50, 0), large park at (0, 200), primary school at (200, 0),
    # children's home at (100, 100); the only mother-and-baby room is on the east bank at (400, 200)
    return points(
        [(50, 0), (0, 200), (200, 0), (100, 100), (400, 200)],
        facility_id=["K1", "PL", "S1", "H1", "MB"],
        category=["kindergarten", "park", "primary_school", "children_home", "mother_baby_room"],
        area_ha=[np.nan, 1.0, np.nan, np.nan, np.nan],
    )


@pytest.fixture(scope="module")
def pilots():
    comm = shapely.box(X0 - 50, Y0 - 50, X0 + 250, Y0 + 250)
    g = gpd.GeoDataFrame(
        {
            "pilot_id": ["C1", "S", "E"],
            "name": ["社区", "学校", "企业"],
            "batch": [2022, 2023, 2023],
            "kind": ["community", "school", "enterprise"],
        },
        geometry=[comm, P(100, 0), P(300, 0)],
        crs=M,
    )
    return g.to_crs(4326)


@pytest.fixture(scope="module")
def origins():
    return points([(150, 100), (0, 50), (200, 200)], origin_id=["a", "b", "c"], children=[10, 5, 20])


def test_point_pilots(pilots, facilities, origins, net):
    st = pl.pilot_status(pilots, facilities, origins, net).set_index("pilot_id")
    s = st.loc["S"]
    # school pilot at (100, 0): park 300 m walk (radius 500, large), K1 50, S1 100, H1 100; MB across the river
    assert (
        s["has_park_playground"]
        and s["has_kindergarten"]
        and s["has_primary_school"]
        and s["has_children_home"]
    )
    assert not s["has_mother_baby_room"] and np.isinf(s["dist_mother_baby_room"])
    assert s["dist_park_playground"] == pytest.approx(300, abs=1e-3)
    assert s["status"] == "partly" and s["status_zh"] == "部分达标" and s["n_present"] == 4
    assert (
        s["reasons"]
        == "缺母婴室（步行不可达，标准500米） No mother-and-baby room within 500 m (none reachable on foot)"
    )
    e = st.loc["E"]
    # enterprise pilot at (300, 0) on the east bank: only the mother-and-baby room (100 + 200 = 300 m) is in reach
    assert e["has_mother_baby_room"] and e["dist_mother_baby_room"] == pytest.approx(300, abs=1e-3)
    assert e["status"] == "gap" and e["n_present"] == 1
    assert "缺幼儿园（步行不可达，标准300米）" in e["reasons"]


def test_community_pilot_uses_children_coverage(pilots, facilities, origins, net):
    st = pl.pilot_status(pilots, facilities, origins, net).set_index("pilot_id")
    c = st.loc["C1"]
    # kindergarten: a (200 m) and b (100 m) covered, c (350 m) not: 15 of 35 children = 42.9 % < 80 %
    assert not c["has_kindergarten"]
    assert "缺幼儿园（覆盖儿童42.9%，目标80%）" in c["reasons"]
    assert c["has_park_playground"] and c["has_primary_school"] and c["has_children_home"]
    assert not c["has_mother_baby_room"]
    assert c["status"] == "partly" and c["rule"] == "coverage"


def test_meets_and_line_rule_with_straight_lines(pilots, facilities, origins):
    # without a network the river does not matter: the school pilot is 300 m line from the mother-and-baby
    # room... at (100,0)->(400,200) = 360.6 m < 500: all five present
    st = pl.pilot_status(pilots, facilities, origins, None).set_index("pilot_id")
    assert st.loc["S", "status"] == "meets" and st.loc["S", "reasons"] == ""
    assert st.loc["S", "dist_mother_baby_room"] == pytest.approx(np.hypot(300, 200), abs=1e-3)


def test_batch_filter_and_catchments(pilots, facilities, origins, net):
    st = pl.pilot_status(pilots, facilities, origins, net, batch=2023)
    assert sorted(st["pilot_id"]) == ["E", "S"]
    ca = pl.pilot_catchments(pilots, net, radius=300).set_index("pilot_id")
    assert ca.loc["C1", "method"] == "polygon" and ca.loc["S", "method"] == "walk"
    cm = ca.to_crs(M)
    assert cm.loc["C1"].geometry.area == pytest.approx(90000, rel=1e-6)
    # the enterprise's walking catchment stays on the east bank
    assert not cm.loc["E"].geometry.contains(P(200, 0)) and cm.loc["E"].geometry.contains(P(400, 100))
    assert ca.is_valid.all()


def test_bad_pilot_kind(pilots, facilities, origins):
    bad = pilots.copy()
    bad.loc[1, "kind"] = "mall"
    with pytest.raises(DataError, match="mall"):
        pl.pilot_status(bad, facilities, origins)


_DATA = __import__("pathlib").Path(__file__).resolve().parents[1] / "childspace" / "data"
_SAMPLE = [
    "boundaries/communities.shp",
    "boundaries/townships.gpkg",
    "facilities/facilities.csv",
    "facilities/mother_baby_rooms_amap.xlsx",
    "facilities/parks.geojson",
    "pilots/pilot_units.xlsx",
    "origins/homes.gpkg",
    "osm/sample.osm",
]


def test_bundled_sample_all_pilots_get_a_status():
    for p in _SAMPLE:
        sample_file(p)
    import pandas as pd

    from childspace.analysis import coverage as cv
    from childspace.inputs import loaders as io
    from childspace.network.engine import WalkNetwork

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        comm = io.load_boundaries(_DATA / "boundaries/communities.shp", level="community")
        town = io.load_boundaries(_DATA / "boundaries/townships.gpkg", level="township")
        fac = pd.concat(
            [
                io.load_facilities(_DATA / "facilities/facilities.csv"),
                io.load_facilities(_DATA / "facilities/mother_baby_rooms_amap.xlsx", coords="gcj02"),
                io.load_facilities(_DATA / "facilities/parks.geojson"),
            ],
            ignore_index=True,
        )
        fac = gpd.GeoDataFrame(fac, geometry="geometry", crs=4326)
        pilots = io.load_pilots(_DATA / "pilots/pilot_units.xlsx", boundaries=comm)
        origins = io.load_origins(_DATA / "origins/homes.gpkg")
        net = WalkNetwork.from_osm(_DATA / "osm/sample.osm")
        st = pl.pilot_status(pilots, fac, origins, net)
        acc = cv.origin_access(origins, fac, net)
        units = pd.concat([town, comm], ignore_index=True)
        uc = cv.unit_coverage(gpd.GeoDataFrame(units, geometry="geometry", crs=4326), acc)
    assert len(st) == 48
    assert (st["batch"] == 2022).sum() == 17 and (st["batch"] == 2023).sum() == 31
    assert st["status"].isin(["meets", "partly", "gap"]).all()
    assert (st["reasons"].str.len() > 0).to_numpy().sum() == (st["status"] != "meets").sum()
    assert set(uc["category"]) == set(acc.attrs["categories"])
    assert uc["pct_line"].dropna().between(0, 100).all()


def test_checklist_follows_the_run_categories(pilots, facilities, origins, net):
    """A run without mother-and-baby rooms among its categories does not fail every pilot on them."""
    cats = ["kindergarten", "primary_school", "park", "children_home"]
    assert pl.elements_for(cats) == ["park_playground", "kindergarten", "primary_school", "children_home"]
    st = pl.pilot_status(pilots, facilities, origins, net, categories=cats).set_index("pilot_id")
    assert "has_mother_baby_room" not in st.columns
    s = st.loc["S"]
    assert s["n_elements"] == 4 and s["n_present"] == 4 and s["status"] == "meets" and s["reasons"] == ""
    with pytest.raises(DataError, match="no checklist element"):
        pl.pilot_status(pilots, facilities, origins, net, categories=["library"])
