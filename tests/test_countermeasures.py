"""Hazard countermeasures from the rules table, and children counted once per hazard (hand-made network)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from test_routes import CRS, X0, Y0, acceptance_frames

from childspace._errors import DataError
from childspace.analysis import countermeasures as cm
from childspace.analysis.routes import hazards, school_routes
from childspace.analysis.safety import network_stress
from childspace.network.engine import WalkNetwork


@pytest.fixture(scope="module")
def two_levels():
    return two_level_case()


def two_level_case():
    """The acceptance network of test_routes with a primary and a middle school side by side north of B.

    home1 (3 children, 90 m south of B) walks round through the signals at C to both schools; home2 (2 children,
    10 m south of B) crosses the 4-lane, 50 km/h primary road at B, unmarked, to both (the detour is too long).
    """
    nodes, edges = acceptance_frames()
    net = WalkNetwork.from_frames(nodes, edges, crs=CRS)
    stress = network_stress(net)
    homes = gpd.GeoDataFrame(
        {"origin_id": ["home1", "home2"], "children": [3, 2]},
        geometry=[shapely.Point(X0 + 100, Y0 - 90), shapely.Point(X0 + 100, Y0 - 10)],
        crs=CRS,
    )
    schools = gpd.GeoDataFrame(
        {
            "facility_id": ["P1", "M1"],
            "name": ["阳光小学", "阳光初中"],
            "category": ["primary_school", "middle_school"],
        },
        geometry=[shapely.Point(X0 + 100, Y0 + 90), shapely.Point(X0 + 100, Y0 + 95)],
        crs=CRS,
    )
    routes = school_routes(net, homes, schools, categories=["primary_school", "middle_school"], stress=stress)
    return net, stress, schools, routes


def _at_b(hz):
    pts = gpd.GeoSeries(hz.geometry, crs=hz.crs).to_crs(CRS)
    row = hz[
        (hz["type"] == "crossing").to_numpy() & (pts.distance(shapely.Point(X0 + 100, Y0)) < 1e-6).to_numpy()
    ]
    assert len(row) == 1
    return row.iloc[0]


def test_a_child_walking_to_two_schools_is_counted_once(two_levels):
    net, stress, schools, routes = two_levels
    hz = hazards(routes, net, stress, schools=schools)
    b = _at_b(hz)
    # home2's 2 children: once, although their primary and middle school routes both cross at B
    assert b["children"] == 2
    assert b["children_primary_school"] == 2 and b["children_middle_school"] == 2
    assert b["routes"] == 2
    assert b["schools"] == "阳光初中; 阳光小学"
    # on the shortest routes both homes cross at B for both schools: 5 children, 4 routes
    hs = hazards(routes, net, stress, route="shortest", schools=schools)
    s = _at_b(hs)
    assert s["children"] == 5 and s["routes"] == 4
    assert s["children_primary_school"] == 5 and s["children_middle_school"] == 5
    cols = list(hz.columns)
    assert cols.index("children_primary_school") < cols.index("children_middle_school") < cols.index("routes")


def test_crossing_of_a_fast_four_lane_road_by_a_school_gets_its_measures(two_levels):
    net, stress, schools, routes = two_levels
    b = _at_b(hazards(routes, net, stress, schools=schools))
    # B: unmarked crossing of 4 lanes at 50 km/h, no island, 14 m (4 x 3.5 m, under 16 m), 90 m from the school
    assert b["level"] == 4 and bool(b["school_zone"])
    assert b["countermeasure_rules"].split("; ") == [
        "signal_multilane",
        "signal_school_zone",
        "refuge_fast",
        "marked_unmarked",
        "guard_school_zone",
        "guard_unsafe_crossing",
        "school_zone_speed",
    ]
    assert b["countermeasures"] == (
        "信号灯；安全岛；施划人行横道线；学校周边限速30；护学岗 — pedestrian signal; refuge island; "
        "marked zebra crossing; 30 km/h school zone; guard on duty at school times"
    )
    basis = b["countermeasure_basis"]
    assert basis.startswith("[signal_multilane] [STEP]")
    assert "[school_zone_speed] [GA1215]" in basis and "GB 5768.8-2018" in basis
    assert "refuge_long" not in basis  # 14 m: no long-crossing rule


def test_school_zone_is_the_radius_of_safety_toml(two_levels):
    net, stress, schools, routes = two_levels
    far = schools.assign(geometry=schools.geometry.translate(0, 70))  # B is now 160-165 m away
    b = _at_b(hazards(routes, net, stress, schools=far))
    assert not bool(b["school_zone"])
    assert "school_zone_speed" not in b["countermeasure_rules"]
    assert "guard_school_zone" not in b["countermeasure_rules"]


def _facts(**kw):
    base = {c: None for c in cm.FACTS}
    base.update(kw)
    return base


def test_rules_on_hand_written_facts():
    facts = pd.DataFrame(
        [
            _facts(type="segment", level=3, sidewalk="none", road=True, maxspeed_kmh=40, lanes=2),
            _facts(type="crossing", level=2, control="unmarked", island=False, lanes=2, maxspeed_kmh=30),
            _facts(
                type="crossing",
                level=3,
                control="marked",
                island=False,
                long_no_refuge=True,
                lanes=4,
                maxspeed_kmh=40,
            ),
            _facts(type="crossing", level=3, control="signals", lanes=6, maxspeed_kmh=60),
            _facts(type="segment", level=2, sidewalk="present", road=True, maxspeed_kmh=30, school_zone=True),
            _facts(type="segment", level=2, sidewalk="present", road=True, maxspeed_kmh=40, school_zone=True),
        ]
    )
    out = cm.suggest(facts)
    assert list(out.index) == list(facts.index)
    assert out.loc[0, "countermeasures"] == "人行道 — sidewalk"
    assert out.loc[0, "countermeasure_rules"] == "sidewalk_missing"
    assert out.loc[1, "countermeasure_rules"] == "raised_local; marked_unmarked"
    assert out.loc[1, "countermeasures"].startswith("抬高式人行横道；施划人行横道线 — ")
    # marked, 4 lanes at 40 km/h, longer than 16 m without refuge: signal and refuge island
    assert out.loc[2, "countermeasure_rules"] == "signal_multilane; refuge_long"
    assert out.loc[2, "countermeasures"] == "信号灯；安全岛 — pedestrian signal; refuge island"
    # a signalised crossing that is still stressful: no rule fits, check on site
    assert out.loc[3, "countermeasure_rules"] == "site_check"
    assert out.loc[3, "countermeasures"] == "现场核查 — check on site"
    # 30 km/h in a school zone is already the limit; 40 km/h is not
    assert out.loc[4, "countermeasure_rules"] == "buffer_traffic"  # not school_zone_speed: 30 km/h already
    assert out.loc[5, "countermeasure_rules"] == "buffer_traffic; school_zone_speed"
    assert out.loc[5, "countermeasure_basis"].count("[") >= 2


def test_missing_facts_never_match():
    out = cm.suggest(pd.DataFrame([_facts(type="crossing", level=4)]))
    assert out.loc[0, "countermeasure_rules"] == "site_check"  # an unknown control is not "not signals"


def test_every_shipped_rule_has_a_basis_and_the_measures_planners_expect():
    tab = cm.load_rules()
    zh = {m["zh"] for m in tab["measures"].values()}
    assert {"信号灯", "安全岛", "抬高式人行横道", "学校周边限速30", "护学岗", "人行道"} <= zh
    for r in tab["rules"]:
        assert r["basis"].strip() and r["measure"] in tab["measures"]
    assert [r["id"] for r in tab["rules"] if r.get("fallback")] == ["site_check"]


def test_a_bad_rule_names_the_rule_and_the_fix(tmp_path):
    p = tmp_path / "cm.toml"
    p.write_text(
        '[measures.signal]\nzh = "信号灯"\nen = "signal"\n'
        '[[rules]]\nid = "x"\nmeasure = "signal"\nbasis = "b"\nwhen = { lanes_min = 4 }\n',
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"rule x.*unknown condition.*lanes_min"):
        cm.load_rules(p)
    p.write_text(
        '[measures.signal]\nzh = "信号灯"\nen = "signal"\n[[rules]]\nid = "x"\nmeasure = "bridge"\n'
        'basis = "b"\n',
        encoding="utf-8",
    )
    with pytest.raises(DataError, match="unknown measure 'bridge'"):
        cm.load_rules(p)
