"""GA/T 1215-2014 school-zone check: hand-made zones with known answers, and the bundled sample."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from childspace._errors import DataError
from childspace.analysis.safety import network_stress, school_zones
from childspace.inputs.loaders import load_facilities
from childspace.network.engine import WalkNetwork
from childspace.osm.reader import read_osm

ROOT = Path(__file__).resolve().parents[1]
CRS = "EPSG:4549"
X0, Y0 = 590000.0, 3110000.0


def _street(road_tags: dict, crossing_x: float, footway: bool = True) -> WalkNetwork:
    """An east-west road from x=0 to x=400 m (split at a zebra crossing node at ``crossing_x``) and, optionally,
    a footway running north from x=100 (not a road: never part of a zone)."""
    xy = {1: (0.0, 0.0), 2: (crossing_x, 0.0), 3: (400.0, 0.0), 4: (100.0, 0.0), 5: (100.0, 120.0)}
    node_ids = [1, 4, 2, 3] + ([5] if footway else [])
    nodes = gpd.GeoDataFrame(
        {
            "highway": ["crossing" if i == 2 else None for i in node_ids],
            "crossing": ["zebra" if i == 2 else None for i in node_ids],
        },
        geometry=[shapely.Point(X0 + xy[i][0], Y0 + xy[i][1]) for i in node_ids],
        index=pd.Index(node_ids, name="osmid"),
        crs=CRS,
    )
    rows = [
        dict(u=1, v=4, osmid=10, **road_tags),
        dict(u=4, v=2, osmid=10, **road_tags),
        dict(u=2, v=3, osmid=10, **road_tags),
    ]
    if footway:
        rows.append(dict(u=4, v=5, osmid=11, highway="footway"))
    edges = pd.DataFrame(rows)
    edges["key"] = 0
    geom = [
        shapely.LineString(
            [(X0 + xy[r["u"]][0], Y0 + xy[r["u"]][1]), (X0 + xy[r["v"]][0], Y0 + xy[r["v"]][1])]
        )
        for r in rows
    ]
    return WalkNetwork.from_frames(nodes, gpd.GeoDataFrame(edges, geometry=geom, crs=CRS), crs=CRS)


def _school(x: float, y: float, **extra) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "facility_id": ["S1"],
            "name": ["测试小学"],
            "category": ["primary_school"],
            **{k: [v] for k, v in extra.items()},
        },
        geometry=[shapely.Point(X0 + x, Y0 + y)],
        crs=CRS,
    )


ROAD50 = dict(highway="secondary", maxspeed="50", lanes="4", sidewalk="both", name="大道")
ROAD30 = dict(highway="residential", maxspeed="30", lanes="2", sidewalk="both", name="小街")


def test_fast_road_far_zebra_fails_both():
    net = _street(ROAD50, crossing_x=280.0)
    z, seg = school_zones(net, _school(200.0, 10.0), return_segments=True)
    assert len(z) == 1 and z.crs.to_epsg() == 4326
    r = z.iloc[0]
    # the road is a chord of the 150 m circle at 10 m from its centre: 2 * sqrt(150^2 - 10^2)
    assert r["zone_road_m"] == pytest.approx(2 * np.sqrt(150**2 - 10**2), rel=1e-3)
    assert r["max_speed_kmh"] == 50 and not r["speed_ok"] and r["share_over_limit"] == pytest.approx(1.0)
    assert r["share_speed_assumed"] == 0
    assert r["crossing_m"] == pytest.approx(np.hypot(80.0, 10.0), abs=0.01)
    assert r["crossing_type"] == "marked" and r["crossing_osmid"] == 2
    assert not r["crossing_ok"] and not r["compliant"]
    assert (
        "校门50米内无人行横道" in r["finding"]
        and "No marked crossing within 50 m of the gate" in r["finding"]
    )
    assert "最近81米" in r["finding"]
    assert "限速高于30km/h" in r["finding"] and "above 30 km/h (max 50 km/h)" in r["finding"]
    assert r["finding"].index("校门") == 0  # Chinese first
    # segments: the three road edges clipped to the circle (the footway is not a road), all over the limit
    assert set(seg["edge"]) == {0, 1, 2} and seg["over_limit"].all()
    assert seg["length_m"].sum() == pytest.approx(r["zone_road_m"])
    assert (seg["highway"] == "secondary").all() and (seg["school_id"] == "S1").all()
    # the point geometry is the school
    p = gpd.GeoSeries([shapely.Point(X0 + 200, Y0 + 10)], crs=CRS).to_crs(4326).iloc[0]
    assert z.geometry.iloc[0].distance(p) < 1e-9


def test_calm_street_near_zebra_is_compliant():
    net = _street(ROAD30, crossing_x=230.0)
    r = school_zones(net, _school(200.0, 10.0)).iloc[0]
    assert r["speed_ok"] and r["crossing_ok"] and r["compliant"]
    assert r["crossing_m"] == pytest.approx(np.hypot(30.0, 10.0), abs=0.01)
    assert r["share_over_limit"] == 0 and r["max_speed_kmh"] == 30
    assert r["finding"].startswith("符合GA/T 1215-2014")


def test_assumed_speed_is_reported():
    tags = dict(ROAD30)
    tags.pop("maxspeed")  # China, in town: residential default 30 km/h: compliant only by assumption
    net = _street(tags, crossing_x=230.0)
    town = network_stress(net, profile={"base": "china", "context": {"urban_min_edges": 0}})
    r = school_zones(net, _school(200.0, 10.0), stress=town).iloc[0]
    assert r["speed_ok"] and r["share_speed_assumed"] == pytest.approx(1.0)
    assert "speed limits assumed" in r["finding"]


def test_entrance_is_the_gate_and_other_categories_are_skipped():
    net = _street(ROAD50, crossing_x=280.0)
    # school centre 300 m north (no road within 150 m); its mapped entrance is 20 m from the zebra
    gate = gpd.GeoSeries([shapely.Point(X0 + 280, Y0 + 20)], crs=CRS).to_crs(4326).iloc[0]
    schools = pd.concat(
        [
            _school(200.0, 300.0, entrances=[(gate.x, gate.y)]),
            _school(280.0, 5.0).assign(facility_id="P1", category="playground"),
        ]
    )
    z = school_zones(net, gpd.GeoDataFrame(schools, crs=CRS))
    assert list(z["school_id"]) == ["S1"]
    r = z.iloc[0]
    assert r["n_gates"] == 1 and r["crossing_m"] == pytest.approx(20.0, abs=0.01) and r["crossing_ok"]
    # the circle around the gate (x = 280) reaches x = 280 - sqrt(150^2 - 20^2); the road ends at x = 400
    assert r["zone_road_m"] == pytest.approx(400 - (280 - np.sqrt(150**2 - 20**2)), rel=1e-3)
    # without the entrance the centre is the gate: no road within 150 m
    far = school_zones(net, _school(200.0, 300.0)).iloc[0]
    assert far["zone_road_m"] == 0 and far["speed_ok"] and not far["crossing_ok"]
    assert "No road within 150 m of the gate" in far["finding"]


def test_config_override_and_bad_input():
    net = _street(ROAD50, crossing_x=280.0)
    r = school_zones(
        net, _school(200.0, 10.0), config={"school_zone": {"crossing_m": 100.0, "speed_limit_kmh": 50.0}}
    ).iloc[0]
    assert r["crossing_ok"] and r["speed_ok"] and r["compliant"]
    with pytest.raises(DataError, match="no CRS"):
        school_zones(net, gpd.GeoDataFrame({"category": ["primary_school"]}, geometry=[shapely.Point(0, 0)]))
    poly = _school(0, 0).set_geometry([shapely.Point(X0, Y0).buffer(10)], crs=CRS)
    with pytest.raises(DataError, match="not points"):
        school_zones(net, poly)


@pytest.fixture(scope="module")
def sample_net() -> WalkNetwork:
    nodes, edges = read_osm(ROOT / "childspace" / "data" / "osm" / "sample.osm")
    return WalkNetwork.from_frames(nodes, edges)


def test_sample_schools_all_get_a_row(sample_net):
    fac = load_facilities(ROOT / "childspace" / "data" / "facilities" / "facilities.csv")
    schools = fac[fac["category"].isin(["kindergarten", "primary_school", "middle_school"])]
    st = network_stress(sample_net)
    z, seg = school_zones(sample_net, fac, stress=st, return_segments=True)
    assert sorted(z["school_id"]) == sorted(schools["facility_id"])
    assert len(z) == len(schools) > 0
    assert z["finding"].str.len().gt(0).all()
    np.testing.assert_array_equal(z["compliant"], z["speed_ok"] & z["crossing_ok"])
    # per school, segments add up to the zone road length; flags agree with the segments
    per = seg.groupby("school_id")["length_m"].sum().reindex(z["school_id"]).fillna(0).to_numpy()
    np.testing.assert_allclose(per, z["zone_road_m"].to_numpy(), rtol=1e-9)
    over = (
        seg.groupby("school_id")["over_limit"]
        .any()
        .reindex(z["school_id"])
        .fillna(False)
        .to_numpy(dtype=bool)
    )
    np.testing.assert_array_equal(over, ~z["speed_ok"].to_numpy(dtype=bool))
    # no footways/sidewalks/crossing ways in a zone; every segment within 150 m of its school (+ tolerance)
    assert not seg["highway"].isin(["footway", "path", "pedestrian"]).any()
    zm = z.set_index("school_id").to_crs(CRS)
    sm = seg.to_crs(CRS)
    d = shapely.distance(np.asarray(sm.geometry.array), np.asarray(zm.geometry.loc[sm["school_id"]].array))
    assert (d <= 150.0 + 1e-6).all()
    # crossing distances are real distances to marked/signalised crossings
    ok = z["crossing_m"].notna()
    assert ok.any() and (z.loc[ok, "crossing_type"].isin(["marked", "signals"])).all()
    assert ((z["crossing_m"] <= 50) == z["crossing_ok"]).all()
