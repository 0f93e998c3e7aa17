"""Pedestrian level of traffic stress: tag parsing, edge levels, crossings and routing cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from childspace._errors import ChildspaceWarning, DataError
from childspace.analysis.safety import (
    edge_stress,
    load_config,
    network_stress,
    node_crossing_stress,
    parse_lanes,
    parse_maxspeed,
    routing_cost,
    safe_max_levels,
    verdict,
)


def test_parse_maxspeed():
    raw = [
        "50",
        "50 km/h",
        "30 mph",
        "CN:urban",
        None,
        "walk",
        "50;30",
        "DE:zone30",
        "foo",
        "FI:urban",
        "RU:zone:20",
        "20kmh",
        " 40 ",
    ]
    got = parse_maxspeed(pd.Series(raw)).to_numpy()
    exp = [50, 50, 30 * 1.609344, 50, np.nan, 7, 50, 30, np.nan, 50, 20, 20, 40]
    np.testing.assert_allclose(got, exp, equal_nan=True)


def test_parse_lanes():
    got = parse_lanes(pd.Series(["4", "2;3", None, "x", "1.5"])).to_numpy()
    np.testing.assert_allclose(got, [4, 3, np.nan, np.nan, 1.5], equal_nan=True)


# tags -> expected (level, assumed_tags); generic profile, urban context (no geometry): defaults 50 km/h, 2 lanes,
# sidewalks present on urban streets (config/safety_profile_generic.toml)
CASES = [
    (dict(highway="footway"), 1, ""),
    (dict(highway="steps"), 1, ""),
    (dict(highway="path", surface="dirt"), 2, ""),
    (dict(highway="living_street"), 1, "maxspeed; lanes; sidewalk"),
    (dict(highway="residential"), 2, "maxspeed; lanes; sidewalk"),  # assumed 50 km/h with a sidewalk
    (dict(highway="residential", maxspeed="30", lanes="2", sidewalk="both"), 1, ""),
    (dict(highway="residential", maxspeed="50", lanes="2", sidewalk="no"), 4, "lit"),
    (dict(highway="service", maxspeed="20", lanes="1", sidewalk="no"), 2, ""),
    (dict(highway="tertiary", maxspeed="40", lanes="2", sidewalk="no"), 3, "lit"),
    (dict(highway="tertiary", maxspeed="40", lanes="2", sidewalk="both"), 2, ""),
    (dict(highway="secondary", maxspeed="50", lanes="4", sidewalk="both"), 2, ""),
    (dict(highway="primary", maxspeed="60", lanes="4", sidewalk="no"), 4, "lit"),
    (dict(highway="primary", maxspeed="60", lanes="4", sidewalk="both"), 3, ""),  # 51-69 km/h: 3
    (dict(highway="primary", maxspeed="60", lanes="4", sidewalk="separate"), 3, ""),
    (dict(highway="primary", maxspeed="100", lanes="6", sidewalk="separate"), 4, ""),  # was 2
    (dict(highway="primary", maxspeed="60", lanes="4", sidewalk_left="yes"), 3, ""),
    (dict(highway="primary", maxspeed="60", lanes="4", sidewalk_both="no"), 4, "lit"),
    (dict(highway="primary"), 2, "maxspeed; lanes; sidewalk"),  # urban primary: 50 km/h, 2 lanes, sidewalk
    (dict(highway="primary", maxspeed="30", lanes="2", sidewalk="both"), 1, ""),
    (dict(highway="primary", maxspeed="50", lanes="6", sidewalk="both"), 3, ""),
    (dict(highway="trunk", maxspeed="80", lanes="4", sidewalk="both"), 4, ""),
    (dict(highway="unclassified", maxspeed="40", lanes="2", sidewalk="no", lit="no"), 4, ""),
    (dict(highway="unclassified", maxspeed="40", lanes="2", sidewalk="no"), 3, "lit"),
    (dict(highway="footway", footway="sidewalk"), 2, ""),
    (dict(highway="footway", footway="crossing"), 1, ""),
    (dict(highway="construction"), 2, "highway"),
]


def _edges(cases):
    rows = [dict(u=i, v=i + 1, osmid=100 + i, **tags) for i, (tags, _, _) in enumerate(cases)]
    return pd.DataFrame(rows)


def test_edge_levels_and_assumptions():
    es = edge_stress(_edges(CASES))
    for i, (tags, level, assumed) in enumerate(CASES):
        assert es["level"].iloc[i] == level, (tags, es["reason"].iloc[i])
        assert es["assumed_tags"].iloc[i] == assumed, tags
        assert es["assumed"].iloc[i] == bool(assumed)
    # an unlit, sidewalkless road: lit=no raises the level, a missing lit tag is reported as assumed
    # bilingual reason, Chinese first
    r = es["reason"].iloc[11]
    assert r.startswith("主干路，无人行道，60km/h，4车道") and "primary road, without sidewalk" in r
    # an assumed value is said to be assumed, never stated as a fact
    r = es["reason"].iloc[17]
    assert "限速未标注（假定50km/h）" in r and "speed not mapped: assumed 50 km/h" in r
    assert "lanes not mapped: assumed 2" in r and "sidewalk not mapped (assumed with sidewalk)" in r
    # a oneway road without lanes: half the class default
    one = edge_stress(pd.DataFrame([dict(u=1, v=2, highway="primary", oneway="yes")]))
    assert one["lanes"].iloc[0] == 1


def test_unknown_maxspeed_is_reported():
    with pytest.warns(ChildspaceWarning, match="maxspeed"):
        es = edge_stress(
            pd.DataFrame([dict(u=1, v=2, highway="primary", maxspeed="fast", lanes="4", sidewalk="no")])
        )
    assert es["maxspeed_kmh"].iloc[0] == 50 and "maxspeed" in es["assumed_tags"].iloc[0]


def _star(node_tags, road, way_tags=None):
    """A node 0 where a road (two edges, west and east) meets footways north and south."""
    nodes = pd.DataFrame(
        {
            "x": [0.0, -1e-3, 1e-3, 0.0, 0.0],
            "y": [0.0, 0.0, 0.0, 1e-3, -1e-3],
            **{k: [v, None, None, None, None] for k, v in node_tags.items()},
        },
        index=[10, 11, 12, 13, 14],
    )
    fw = dict(highway="footway", **(way_tags or {}))
    edges = pd.DataFrame(
        [
            dict(u=10, v=11, osmid=1, name="大路", **road),
            dict(u=10, v=12, osmid=1, name="大路", **road),
            dict(u=10, v=13, osmid=2, **fw),
            dict(u=10, v=14, osmid=3, **fw),
        ]
    )
    return nodes, edges


ROAD60 = dict(highway="primary", maxspeed="60", lanes="4", sidewalk="no")
ROAD30 = dict(highway="residential", maxspeed="30", lanes="2", sidewalk="no")


@pytest.mark.parametrize(
    "node_tags,road,way_tags,level,control",
    [
        ({}, ROAD60, None, 4, "unmarked"),
        ({"highway": "traffic_signals"}, ROAD60, None, 3, "signals"),  # >= 60 km/h, 4 lanes: 3
        (
            {"highway": "crossing", "crossing": "traffic_signals"},
            dict(ROAD60, maxspeed="50"),
            None,
            1,
            "signals",
        ),
        ({"highway": "crossing", "crossing": "marked"}, ROAD60, None, 4, "marked"),
        (
            {"highway": "crossing", "crossing": "zebra"},
            dict(ROAD60, maxspeed="40", lanes="2"),
            None,
            2,
            "marked",
        ),
        ({"highway": "crossing", "crossing": "marked", "crossing_island": "yes"}, ROAD60, None, 3, "marked"),
        ({"highway": "crossing"}, ROAD60, None, 4, "unmarked"),  # type unknown: assumed unmarked
        (
            {},
            ROAD60,
            {"footway": "crossing", "crossing": "uncontrolled"},
            4,
            "marked",
        ),  # from the crossing way
        ({}, ROAD30, None, 1, "unmarked"),
    ],
)
def test_node_crossing(node_tags, road, way_tags, level, control):
    nodes, edges = _star(node_tags, road, way_tags)
    nc = node_crossing_stress(nodes, edges)
    assert nc.loc[10, "level"] == level
    assert nc.loc[10, "control"] == control
    assert nc.loc[11, "level"] == 0  # a dead end of the road: no way meets it there, nothing is crossed
    assert nc.loc[13, "level"] == 0  # footway end: no road
    if node_tags == {"highway": "crossing"}:
        assert nc.loc[10, "assumed"] and "crossing" in nc.loc[10, "assumed_tags"]


def test_crossing_rule_by_sides():
    nodes, edges = _star({}, ROAD60)
    st = network_stress((nodes, edges))
    # footway north -> footway south: crosses the road (level 4) whichever side
    assert st.crossing_level([0], [2], [3])[0] == 4
    # along the road west -> east: the footways lie on either side, nothing is crossed
    assert st.crossing_level([0], [0], [1])[0] == 0
    # from the road (west) to the north footway: no crossing on the north-west side
    assert st.crossing_level([0], [0], [2])[0] == 0
    assert st.crossing_edge([0], [2], [3])[0] in (0, 1)


def test_crossing_way_split_at_kerbs_is_rated_once_at_the_road():
    # crossing way 7 runs 13 -> 15 (kerb, where a path joins) -> 10 (road node) -> 16 (kerb) -> 14; its kerb
    # pieces meet no road themselves, but the way does (at 10): they are walked at level 1, the crossing is rated
    # at node 10. Crossing way 8 (20 -> 21) meets no road anywhere: rated as a crossing of the default road.
    nodes = pd.DataFrame(
        {
            "x": [0.0, -1e-3, 1e-3, 0.0, 0.0, 0.0, 0.0, 2e-4, 5e-3, 5e-3],
            "y": [0.0, 0.0, 0.0, 1e-3, -1e-3, 1e-4, -1e-4, 1e-4, 0.0, 1e-4],
        },
        index=[10, 11, 12, 13, 14, 15, 16, 17, 20, 21],
    )
    cw = dict(highway="footway", footway="crossing", crossing="unmarked")
    edges = pd.DataFrame(
        [
            dict(u=10, v=11, osmid=1, **ROAD60),
            dict(u=10, v=12, osmid=1, **ROAD60),
            dict(u=13, v=15, osmid=7, **cw),
            dict(u=15, v=10, osmid=7, **cw),
            dict(u=10, v=16, osmid=7, **cw),
            dict(u=16, v=14, osmid=7, **cw),
            dict(u=15, v=17, osmid=9, highway="footway"),
            dict(u=20, v=21, osmid=8, **cw),
        ]
    )
    st = network_stress((nodes, edges))
    lv = st.edges["level"].tolist()
    assert lv[2:6] == [1, 1, 1, 1]  # the whole crossing way is walked at level 1
    assert not st.edges["reason"].iloc[2:6].str.contains("default road").any()
    assert st.crossing_level([0], [2 + 1], [4])[0] == 4  # crossing the 60 km/h road at node 10: level 4
    # no default road class is invented: the road is unknown, level 3 assumed and flagged
    assert "road crossed is unknown" in st.edges["reason"].iloc[7] and lv[7] == 3
    assert "road" in st.edges["assumed_tags"].iloc[7] and st.edges["assumed"].iloc[7]


def test_routing_cost_folds_crossing_penalties():
    nodes, edges = _star({}, ROAD60)
    edges["length"] = 100.0
    st = network_stress((nodes, edges))
    rc = routing_cost((nodes, edges), st)
    cfg = load_config()
    pen4 = cfg["routing"]["crossing_penalty_m"][3]
    f4 = cfg["routing"]["length_factor"][3]
    # road edges: 100 m x factor of level 4, no penalty for walking along (the footways are no road)
    np.testing.assert_allclose(rc.cost[:2], 100 * f4)
    # footways: half the level-4 crossing penalty at the node: north + south = one full penalty
    np.testing.assert_allclose(rc.pen_u[2:] + rc.pen_v[2:], pen4 / 2)
    np.testing.assert_allclose(rc.cost[2] + rc.cost[3], 200 + pen4)


def test_config_override_and_errors(tmp_path):
    es = edge_stress(_edges(CASES[:1]), config={"classes": {"path": {"level": 2}}})
    assert es["level"].iloc[0] == 2
    with pytest.raises(DataError, match="not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("x = [", encoding="utf-8")
    with pytest.raises(DataError, match="TOML"):
        load_config(bad)
    with pytest.raises(DataError, match="missing from the nodes"):
        node_crossing_stress(pd.DataFrame(index=[1]), pd.DataFrame([dict(u=1, v=2, highway="primary")]))


def test_verdict_by_age():
    # kindergarten and primary: safe alone only at level 1; middle school accepts 2
    assert list(verdict([1, 2, 3, 4, 0], category="primary_school")) == [
        "safe",
        "caution",
        "caution",
        "unsafe",
        "unreachable",
    ]
    assert list(verdict([1, 2, 3], category="kindergarten")) == ["safe", "caution", "caution"]
    assert list(verdict([1, 2, 3], category="middle_school")) == ["safe", "safe", "caution"]
    assert list(verdict([2, 2], category=["primary_school", "middle_school"])) == ["caution", "safe"]
    # one number for all, and a mapping per category
    assert list(verdict([2, 3, 4], safe_max_level=3, category="primary_school")) == ["safe", "safe", "unsafe"]
    assert list(verdict([2], safe_max_level={"primary_school": 2}, category="primary_school")) == ["safe"]
    assert safe_max_levels(None)["middle_school"] == 2
    with pytest.raises(DataError, match="1-4"):
        safe_max_levels(7)


def test_dedupe_matches_row_by_row_and_counts_warnings():
    from childspace.analysis.safety import _cfg, _edge_stress_rows

    rows = _edges(CASES)
    big = pd.concat([rows] * 3).sample(frac=1.0, random_state=0).reset_index(drop=True)
    got = edge_stress(big)
    ref = _edge_stress_rows(big, _cfg(None), np.ones(len(big), dtype=np.int64))
    for col in ("level", "assumed", "assumed_tags", "reason", "group", "road", "sidewalk", "crossing_way"):
        assert got[col].tolist() == ref[col].tolist(), col
    np.testing.assert_allclose(got["maxspeed_kmh"], ref["maxspeed_kmh"], equal_nan=True)
    with pytest.warns(ChildspaceWarning, match="^3 edges"):
        edge_stress(pd.DataFrame([dict(u=i, v=i + 1, highway="primary", maxspeed="fast") for i in range(3)]))


def _sidewalk_beside(road: dict, offset: float):
    """A 200 m east-west road and a footway=sidewalk way parallel to it, ``offset`` m north (EPSG:4549)."""
    import geopandas as gpd
    import shapely

    x0, y0 = 590000.0, 3110000.0
    edges = pd.DataFrame(
        [dict(u=1, v=2, osmid=1, **road), dict(u=3, v=4, osmid=2, highway="footway", footway="sidewalk")]
    )
    geom = [
        shapely.LineString([(x0, y0), (x0 + 200, y0)]),
        shapely.LineString([(x0, y0 + offset), (x0 + 200, y0 + offset)]),
    ]
    return gpd.GeoDataFrame(edges, geometry=geom, crs="EPSG:4549")


@pytest.mark.parametrize(
    "road,offset,level,buffered",
    [
        # 60 km/h, 6 lanes: the road with a sidewalk is level 3; 12 m - 6 x 3.5 / 2 = 1.5 m: no buffer
        (dict(highway="primary", maxspeed="60", lanes="6", sidewalk="separate"), 12.0, 3, False),
        # a 50 km/h, 4-lane road, sidewalk 14 m off the centre line: 7 m buffer, one level lower (2 -> 1)
        (dict(highway="primary", maxspeed="50", lanes="4", sidewalk="separate"), 14.0, 1, True),
        # 80 km/h: >= 70 km/h beside traffic is level 4 without buffer
        (dict(highway="trunk", maxspeed="80", lanes="4", sidewalk="separate"), 8.0, 4, False),
        # a 30 km/h residential street: level 1 (calm street with a sidewalk)
        (dict(highway="residential", maxspeed="30", lanes="2", sidewalk="separate"), 5.0, 1, False),
    ],
)
def test_sidewalk_way_rated_from_the_road_beside(road, offset, level, buffered):
    es = edge_stress(_sidewalk_beside(road, offset))
    sw = es.iloc[1]
    assert sw["level"] == level, sw["reason"]
    assert sw["beside"] == 0
    lanes = float(road["lanes"])
    assert sw["buffer_m"] == pytest.approx(offset - lanes * 3.5 / 2)
    assert ("隔离约" in sw["reason"]) == buffered and ("no buffer" in sw["reason"]) == (not buffered)
    assert sw["reason"].startswith("人行道")
    assert not sw["assumed"]
    assert es["beside"].iloc[0] == -1 and np.isnan(es["buffer_m"].iloc[0])


def test_sidewalk_way_without_road_nearby_and_assumed_speed():
    far = edge_stress(_sidewalk_beside(dict(highway="primary", maxspeed="60", lanes="6"), 35.0))
    assert far["level"].iloc[1] == 2 and far["beside"].iloc[1] == -1  # nothing within 15 m
    # the road's speed is assumed (China, urban road: primary 60 km/h): the sidewalk says so
    es = edge_stress(_sidewalk_beside(dict(highway="primary", lanes="4"), 8.0), profile="china")
    assert es["level"].iloc[1] == 3 and "maxspeed" in es["assumed_tags"].iloc[1] and es["assumed"].iloc[1]
    assert "speed not mapped: assumed 60 km/h" in es["reason"].iloc[1]
    # geographic CRS: same answer (projected to metres internally)
    geo = edge_stress(_sidewalk_beside(dict(highway="primary", maxspeed="60", lanes="6"), 12.0).to_crs(4326))
    assert geo["level"].iloc[1] == 3 and geo["buffer_m"].iloc[1] == pytest.approx(1.5, abs=0.05)
    # network_stress carries the rating through
    import geopandas as gpd
    import shapely

    e = _sidewalk_beside(dict(highway="primary", maxspeed="60", lanes="6"), 12.0)
    pts = {
        1: (590000.0, 3110000.0),
        2: (590200.0, 3110000.0),
        3: (590000.0, 3110012.0),
        4: (590200.0, 3110012.0),
    }
    nodes = gpd.GeoDataFrame(
        geometry=[shapely.Point(p) for p in pts.values()], index=list(pts), crs="EPSG:4549"
    )
    assert network_stress((nodes, e)).edge_level[1] == 3
