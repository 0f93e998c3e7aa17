"""The rules against the published tables, cell by cell, and constructed networks for each finding of the route
safety audit: none of them may come out "safe" for a primary-school child."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from childspace._errors import ChildspaceWarning
from childspace.analysis._safety_crossings import _CONTROL_CODES, _crossing_levels
from childspace.analysis.routes import (
    assumption_summary,
    routes_table,
    school_routes,
    school_summary,
    walksheds,
)
from childspace.analysis.safety import (
    edge_stress,
    load_config,
    network_stress,
    resolve_profile,
)
from childspace.network.engine import WalkNetwork

CRS = "EPSG:4549"
X0, Y0 = 596000.0, 3111000.0


def _level(control, speed, lanes, island=False):
    cfg = load_config()
    lv, _ = _crossing_levels(
        np.array([_CONTROL_CODES[control]]),
        np.array([island]),
        np.array([float(speed)]),
        np.array([float(lanes)]),
        cfg,
    )
    return int(lv[0])


# Zegeer et al. 2005 (FHWA-HRT-04-100) table 11, uncontrolled marked crosswalks, speed columns <= 30 mph (48.3
# km/h), 35 mph (56.4 km/h), 40 mph (64.4 km/h); ADT not in OSM: C -> 2, P -> 3, N -> 4 as read in safety.toml.
# The row for 4+ lanes with a raised median follows the brief's island rule (at most one level lower, never
# below 3 on 4+ lanes or >= 60 km/h).
@pytest.mark.parametrize(
    "lanes,island,speeds_levels",
    [
        (2, False, [(30, 1), (40, 2), (48, 2), (50, 2), (56, 3), (60, 4), (64, 4), (80, 4)]),
        (3, False, [(40, 2), (48, 3), (56, 3), (64, 4)]),
        (4, False, [(30, 3), (40, 3), (41, 4), (48, 4), (56, 4), (64, 4)]),
        (6, False, [(30, 4), (50, 4), (80, 4)]),
        (4, True, [(40, 3), (50, 3), (56, 3), (64, 3), (80, 3)]),
        (2, True, [(40, 1), (50, 1), (56, 2), (60, 3), (80, 3)]),
    ],
)
def test_marked_crossing_table(lanes, island, speeds_levels):
    got = [(s, _level("marked", s, lanes, island)) for s, _ in speeds_levels]
    assert got == speeds_levels


@pytest.mark.parametrize(
    "lanes,speeds_levels",
    [
        (2, [(20, 1), (30, 1), (40, 2), (50, 3), (59, 3), (60, 4)]),
        (3, [(30, 3), (50, 3), (60, 4)]),
        (4, [(30, 3), (40, 4), (60, 4)]),
    ],
)
def test_unmarked_crossing_table(lanes, speeds_levels):
    assert [(s, _level("unmarked", s, lanes)) for s, _ in speeds_levels] == speeds_levels


@pytest.mark.parametrize(
    "speed,lanes,level",
    [
        (30, 2, 1),
        (50, 4, 1),
        (60, 2, 2),
        (55, 4, 2),
        (50, 5, 2),
        (60, 4, 3),
        (80, 4, 3),
        (40, 6, 3),
        (80, 8, 3),
    ],
)
def test_signalised_crossing_table(speed, lanes, level):
    assert _level("signals", speed, lanes) == level
    # a refuge island does not take a wide or fast signalised crossing below 3
    big = speed >= 60 or lanes >= 4
    assert _level("signals", speed, lanes, island=True) == max(level - 1, min(level, 3) if big else 1)


def test_zebra_on_a_two_lane_50_road_number_and_basis_agree():
    cfg = load_config()
    assert _level("marked", 50, 2) == 2
    rule = next(r for r in cfg["crossing_rules"] if r["control"] == ["marked"] and r.get("speed_max") == 50)
    assert rule["level"] == 2 and "35 mph (56 km/h)" in rule["basis"] and "C (candidate)" in rule["basis"]


# walking along: sidewalk present by speed over the whole range; no sidewalk
@pytest.mark.parametrize(
    "tags,level",
    [
        (dict(maxspeed="30", lanes="2", sidewalk="both"), 1),
        (dict(maxspeed="40", lanes="2", sidewalk="both"), 2),
        (dict(maxspeed="50", lanes="4", sidewalk="both"), 2),
        (dict(maxspeed="50", lanes="5", sidewalk="both"), 3),
        (dict(maxspeed="55", lanes="2", sidewalk="both"), 3),
        (dict(maxspeed="60", lanes="2", sidewalk="both"), 3),
        (dict(maxspeed="69", lanes="2", sidewalk="both"), 3),
        (dict(maxspeed="70", lanes="2", sidewalk="both"), 4),
        (dict(maxspeed="100", lanes="6", sidewalk="separate"), 4),
        (dict(maxspeed="40", lanes="6", sidewalk="both"), 3),
        (dict(maxspeed="30", lanes="2", sidewalk="no"), 2),
        (dict(maxspeed="40", lanes="2", sidewalk="no"), 3),
        (dict(maxspeed="50", lanes="2", sidewalk="no"), 4),
    ],
)
def test_walking_along_table(tags, level):
    es = edge_stress(pd.DataFrame([dict(u=1, v=2, highway="secondary", lit="yes", **tags)]))
    assert es["level"].iloc[0] == level, es["reason"].iloc[0]


# ---------------------------------------------------------------------------------------------------------------
# constructed networks: a home south and a school north of a road crossed at node 0
# ---------------------------------------------------------------------------------------------------------------
def _across(road, node_tags=None, way_tags=None, beside=None):
    """Footways north and south of node 0 on a W-E road (two edges); the school 90 m north, the home 90 m
    south. ``road`` None: no road edges (the road may be given in ``beside`` as a road not walked)."""
    pts = {0: (0, 0), 1: (-100, 0), 2: (100, 0), 3: (0, 100), 4: (0, -100)}
    nt = node_tags or {}
    nodes = gpd.GeoDataFrame(
        {k: [v if i == 0 else None for i in pts] for k, v in nt.items()},
        geometry=[shapely.Point(X0 + x, Y0 + y) for x, y in pts.values()],
        index=pd.Index(list(pts), name="osmid"),
        crs=CRS,
    )
    fw = dict(highway="footway", **(way_tags or {}))
    rows = [dict(u=0, v=3, osmid=2, **fw), dict(u=0, v=4, osmid=3, **fw)]
    if road is not None:
        rows = [
            dict(u=0, v=1, osmid=1, name="大路", **road),
            dict(u=0, v=2, osmid=1, name="大路", **road),
        ] + rows
    geom = [
        shapely.LineString(
            [(X0 + pts[r["u"]][0], Y0 + pts[r["u"]][1]), (X0 + pts[r["v"]][0], Y0 + pts[r["v"]][1])]
        )
        for r in rows
    ]
    edges = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geom, crs=CRS)
    used = sorted(set(edges["u"]) | set(edges["v"]))
    return WalkNetwork.from_frames(nodes.loc[used], edges, crs=CRS, beside_roads=beside)


def _route(net, category="primary_school", **kw):
    homes = gpd.GeoDataFrame(
        {"origin_id": ["h"], "children": [4]}, geometry=[shapely.Point(X0, Y0 - 90)], crs=CRS
    )
    schools = gpd.GeoDataFrame(
        {"facility_id": ["S"], "name": ["小学"], "category": [category]},
        geometry=[shapely.Point(X0, Y0 + 90)],
        crs=CRS,
    )
    r = school_routes(net, homes, schools, categories=category, **kw)
    return r, r[r["route"] == "safest"].iloc[0], homes, schools


TRUNK80 = dict(highway="trunk", maxspeed="80", lanes="4", sidewalk="no")


@pytest.mark.parametrize(
    "road,node_tags,level",
    [
        # a zebra with a refuge island across a 4-lane 80 km/h trunk (was level 2, "safe")
        (TRUNK80, {"highway": "crossing", "crossing": "zebra", "crossing_island": "yes"}, 3),
        # a marked crossing of a 4-lane 50 km/h road (was 3)
        (
            dict(highway="primary", maxspeed="50", lanes="4", sidewalk="no"),
            {"highway": "crossing", "crossing": "marked"},
            4,
        ),
        # signals across an 8-lane 80 km/h trunk (was 2, "safe")
        (dict(TRUNK80, lanes="8"), {"highway": "traffic_signals"}, 3),
    ],
)
def test_big_road_crossings_are_not_safe(road, node_tags, level):
    net = _across(road, node_tags)
    r, row, _, _ = _route(net)
    assert row["worst_crossing_level"] == level and row["verdict"] != "safe"


def test_crossing_a_road_closed_to_pedestrians():
    trunk = gpd.GeoDataFrame(
        {"osmid": [9], "highway": ["trunk"], "foot": ["no"], "name": ["G104"], "dropped": ["closed"]},
        geometry=[shapely.LineString([(X0 - 100, Y0), (X0, Y0), (X0 + 100, Y0)])],
        crs=CRS,
    )
    with pytest.warns(ChildspaceWarning, match="closed to pedestrians"):
        net = _across(None, beside=trunk)
        r, row, _, _ = _route(net)
    assert row["worst_level"] == 4 and row["verdict"] == "unsafe" and row["crossings"] == 1
    st = network_stress(net)
    assert st.nodes["level"].iloc[0] == 4 and "G104" in st.nodes["reason"].iloc[0]
    # without the closed road the same walk has no crossing at all (the finding: it came out "safe")
    bare = _across(None)
    assert _route(bare)[1]["verdict"] == "safe"


def test_unconnected_crossing_way_is_not_a_default_tertiary():
    nodes = gpd.GeoDataFrame(
        geometry=[shapely.Point(X0, Y0 - 10), shapely.Point(X0, Y0 + 10)],
        index=pd.Index([1, 2], name="osmid"),
        crs=CRS,
    )
    edges = gpd.GeoDataFrame(
        pd.DataFrame([dict(u=1, v=2, osmid=5, highway="footway", footway="crossing")]),
        geometry=[shapely.LineString([(X0, Y0 - 10), (X0, Y0 + 10)])],
        crs=CRS,
    )
    es = network_stress((nodes, edges)).edges
    assert es["level"].iloc[0] == 3 and "road" in es["assumed_tags"].iloc[0]
    assert "tertiary" not in es["reason"].iloc[0]


def test_cycleway_beside_a_fast_road_is_an_inferred_sidewalk():
    road = dict(highway="primary", maxspeed="60", lanes="2", sidewalk="no")
    edges = gpd.GeoDataFrame(
        pd.DataFrame(
            [
                dict(u=1, v=2, osmid=1, **road),
                dict(u=3, v=4, osmid=2, highway="cycleway", foot="designated"),
                dict(u=5, v=6, osmid=3, highway="residential", maxspeed="30", lanes="2", sidewalk="both"),
            ]
        ),
        geometry=[
            shapely.LineString([(X0, Y0), (X0 + 300, Y0)]),
            shapely.LineString([(X0, Y0 + 4), (X0 + 300, Y0 + 4)]),
            # a side street whose end is nearer the cycleway's midpoint
            shapely.LineString([(X0 + 150, Y0 + 10), (X0 + 150, Y0 + 100)]),
        ],
        crs=CRS,
    )
    es = edge_stress(edges)
    cw = es.iloc[1]
    assert cw["level"] == 3 and cw["inferred_sidewalk"] and cw["beside"] == 0, cw["reason"]
    assert "inferred sidewalk" in cw["reason"]
    # a path 40 m away stays a calm path
    far = edges.copy()
    far.loc[1, "geometry"] = shapely.LineString([(X0, Y0 + 40), (X0 + 300, Y0 + 40)])
    assert edge_stress(far)["level"].iloc[1] == 1


def test_cycleways_shared_with_ebikes_in_china():
    e = pd.DataFrame([dict(u=1, v=2, highway="cycleway", foot="designated")])
    assert edge_stress(e, profile="china")["level"].iloc[0] == 2
    assert edge_stress(e, profile="generic")["level"].iloc[0] == 1


def test_untyped_crossing_next_to_signals_reads_as_signalised():
    pts = {0: (0, 0), 1: (-100, 0), 2: (10, 0), 3: (100, 0), 4: (0, 100), 5: (0, -100), 6: (10, 100)}
    nodes = gpd.GeoDataFrame(
        {"highway": ["crossing", None, "traffic_signals", None, None, None, None]},
        geometry=[shapely.Point(X0 + x, Y0 + y) for x, y in pts.values()],
        index=pd.Index(list(pts), name="osmid"),
        crs=CRS,
    )
    road = dict(highway="primary", name="大路", maxspeed="50", lanes="4", sidewalk="no")
    rows = [
        dict(u=1, v=0, osmid=1, **road),
        dict(u=0, v=2, osmid=1, **road),
        dict(u=2, v=3, osmid=1, **road),
        dict(u=0, v=4, osmid=2, highway="footway"),
        dict(u=0, v=5, osmid=3, highway="footway"),
        dict(u=2, v=6, osmid=4, highway="residential", name="小街", maxspeed="30"),
    ]
    geom = [
        shapely.LineString(
            [(X0 + pts[r["u"]][0], Y0 + pts[r["u"]][1]), (X0 + pts[r["v"]][0], Y0 + pts[r["v"]][1])]
        )
        for r in rows
    ]
    st = network_stress((nodes, gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geom, crs=CRS)))
    inc = st.incidence[st.incidence["node"] == 0]
    assert (inc["control"] == "signals").all() and inc["signals_inferred"].all()
    assert inc["level"].max() == 1 and "signals nearby" in inc["reason"].iloc[0] and inc["assumed"].all()
    # 40 m away the signals do not count: the untyped crossing stays assumed unmarked
    far = nodes.copy()
    far.loc[2, "geometry"] = shapely.Point(X0 + 40, Y0)
    geom2 = [
        g
        if r["u"] != 2 and r["v"] != 2
        else shapely.LineString(
            [
                (X0 + (40 if r["u"] == 2 else pts[r["u"]][0]), Y0 + pts[r["u"]][1]),
                (X0 + (40 if r["v"] == 2 else pts[r["v"]][0]), Y0 + pts[r["v"]][1]),
            ]
        )
        for g, r in zip(geom, rows)
    ]
    st2 = network_stress((far, gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geom2, crs=CRS)))
    assert (st2.incidence[st2.incidence["node"] == 0]["control"] == "unmarked").all()


def test_level_two_is_not_safe_for_young_children_and_max_level_changes_verdicts():
    # a 2-lane 40 km/h street crossed unmarked: level 2
    net = _across(dict(highway="tertiary", maxspeed="40", lanes="2", sidewalk="both"))
    r, row, homes, schools = _route(net)
    assert row["worst_level"] == 2 and row["verdict"] == "caution"
    assert _route(net, category="middle_school")[1]["verdict"] == "safe"
    assert _route(net, safe_max_level=3)[1]["verdict"] == "safe"
    s = school_summary(r, schools, safe_max_level=3).set_index("school_id")
    assert s.loc["S", "children_safe"] == 4 and s.loc["S", "safe_max_level"] == 3
    assert school_summary(r, schools).set_index("school_id").loc["S", "children_safe"] == 0
    # walksheds follow the same limit
    ws1 = walksheds(net, schools, radius=200.0).set_index("kind")
    ws3 = walksheds(net, schools, radius=200.0, safe_max_level=3).set_index("kind")
    assert ws1.loc["safe", "length_m"] < ws3.loc["safe", "length_m"] and ws1.loc["safe", "max_level"] == 1


def test_assumptions_are_counted_and_ranged():
    # an untagged primary crossed at an untyped crossing: everything rests on defaults
    net = _across(dict(highway="primary"), {"highway": "crossing"})
    r, row, homes, schools = _route(net, profile="china")
    assert r.attrs["safety_profile"] == "china"
    assert row["assumed_crossings"] == 1 and row["assumed_share"] > 0
    assert row["verdict_best"] != row["verdict_worst"] and row["verdict_assumed"]
    t = routes_table(r)
    assert list(t.columns[:5]) == ["origin_id", "category", "school_id", "children", "shortest_m"]
    assert t["verdict_assumed"].iloc[0] and t["profile"].iloc[0] == "china"
    s = school_summary(r, schools).set_index("school_id")
    assert s.loc["S", "children_verdict_assumed"] == 4
    assert (
        s.loc["S", "children_safe_worst"] <= s.loc["S", "children_safe"] <= s.loc["S", "children_safe_best"]
    )
    assert "rest on assumed tags" in assumption_summary(r)[0]
    # the crossing reason names the assumed values as assumed
    reason = network_stress(net, profile="china").incidence["reason"].iloc[0]
    assert "speed not mapped: assumed" in reason and "type not mapped: assumed unmarked" in reason
    # fully tagged: no assumption, no range
    tagged = _across(
        dict(highway="primary", maxspeed="50", lanes="2", sidewalk="both", lit="yes"),
        {"highway": "crossing", "crossing": "marked"},
    )
    row2 = _route(tagged)[1]
    assert row2["assumed_share"] == 0 and not row2["verdict_assumed"]


def test_profile_is_chosen_from_where_the_data_lies():
    net = _across(dict(highway="residential"))  # EPSG:4549: Yueqing
    assert resolve_profile(None, net) == "china"
    st = network_stress(net)
    assert st.profile == "china"
    # China: art. 45, no centre line, urban road: 30 km/h (a residential street is no 公路); 2 lanes unless tagged
    assert st.edges["context"].iloc[0] == "urban"
    assert st.edges["maxspeed_kmh"].iloc[0] == 30 and st.edges["lanes"].iloc[0] == 2
    assert network_stress(net, profile="china", variant="optimistic").edges["maxspeed_kmh"].iloc[0] == 20
    assert network_stress(net, profile="china", variant="pessimistic").edges["maxspeed_kmh"].iloc[0] == 40
    # a county road (ref X...) is a 公路: one lane per direction on a highway, 70 km/h
    cr = _across(dict(highway="tertiary", ref="X213"))
    assert network_stress(cr).edges[["context", "maxspeed_kmh"]].iloc[0].tolist() == ["rural", 70]
    helsinki = gpd.GeoDataFrame(geometry=[shapely.Point(24.94, 60.17)], crs=4326)
    assert resolve_profile("auto", helsinki) == "generic"
    # the planner's choice and an edited profile
    assert network_stress(net, profile="generic").profile == "generic"
    edited = {"base": "china", "defaults": {"urban": {"residential": {"maxspeed": 25}}}}
    assert network_stress(net, profile=edited).edges["maxspeed_kmh"].iloc[0] == 25
    r = _route(net, profile=edited)[0]  # the variants of an edited profile (verdict range) work too
    assert r.attrs["safety_profile"] == "china+edited" and r["verdict_worst"].notna().all()
