"""Children whose home cannot reach a facility on foot are children NOT covered on foot.

A home farther than ``max_snap`` from any street, or attached to a part of the network without a facility of the
category (an island, a clipped extract), stays in the base of the walking percentage: ``pct_walk`` and
``pct_line`` share one base (all the unit's children), walking coverage is never above straight-line coverage,
and a unit with children of which none is covered is 0 % and below its target, never NaN / "no data".

A hand-made street line with a known answer, then the real Andorra extract (Sant Julià de Lòria's homes all lie
on a part of the extract's network without a school).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import realdata
from pyproj import Transformer

from childspace._errors import ChildspaceWarning
from childspace.analysis import coverage as cv
from childspace.network.engine import WalkNetwork

M = "EPSG:4549"
X0, Y0 = (round(c) for c in Transformer.from_crs("EPSG:4326", M, always_xy=True).transform(120.98, 28.12))


def P(x: float, y: float) -> shapely.Point:
    return shapely.Point(X0 + x, Y0 + y)


def line_network() -> WalkNetwork:
    """A street along y = 0 from x = 0 to 300 (nodes every 100 m) and, apart from it, an island street from
    (-100, 100) to (-20, 100) that no street joins."""
    nodes = {1: P(0, 0), 2: P(100, 0), 3: P(200, 0), 4: P(300, 0), 11: P(-100, 100), 12: P(-20, 100)}
    edges = [(1, 2), (2, 3), (3, 4), (11, 12)]
    ng = gpd.GeoDataFrame(index=np.array(list(nodes), dtype=np.int64), geometry=list(nodes.values()), crs=M)
    ng = ng.to_crs(4326)
    ng.index.name = "osmid"
    ng["x"], ng["y"] = ng.geometry.x, ng.geometry.y
    eg = gpd.GeoDataFrame(
        {"u": [u for u, _ in edges], "v": [v for _, v in edges], "key": 0, "highway": "residential"},
        geometry=[shapely.LineString([nodes[u], nodes[v]]) for u, v in edges],
        crs=M,
    ).to_crs(4326)
    return WalkNetwork.from_frames(ng, eg, crs=M)


def _points(xy, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=[P(x, y) for x, y in xy], crs=M).to_crs(4326)


def _boxes(**units) -> gpd.GeoDataFrame:
    """Square units; "ALL" is a township, the others communities (units of one level must not overlap)."""
    return gpd.GeoDataFrame(
        {
            "unit_id": list(units),
            "name": [f"单元{i}" for i in units],
            "level": ["township" if i == "ALL" else "community" for i in units],
        },
        geometry=[shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in units.values()],
        crs=M,
    ).to_crs(4326)


# kindergarten K at (150, 0) on the street, radius 300 m:
#   H1 (100, 20), 10 children: leg 20 + 50 m along the street = 70 m on foot, 53.9 m straight: covered both ways
#   H2 (300, 0), 20 children: 150 m both ways: covered both ways
#   H3 (150, 200), 5 children: 200 m from any street (> max_snap 150 m): not on foot; 200 m straight: covered
#   H4 (-50, 100), 7 children: on the island street (no kindergarten there); 223.6 m straight: covered
HOMES = {"H1": ((100, 20), 10), "H2": ((300, 0), 20), "H3": ((150, 200), 5), "H4": ((-50, 100), 7)}


def _invariant(uc: pd.DataFrame) -> None:
    """Walking covers no more children than the straight line, on the same base, on every row."""
    assert len(uc)
    walk = uc["children_covered_walk"].notna()
    assert walk.all(), uc[~walk]
    cw, cl = uc["children_covered_walk"].astype(float), uc["children_covered_line"].astype(float)
    assert (cw <= cl + 1e-6).all(), uc[cw > cl + 1e-6]
    pw, pl = uc["pct_walk"].astype(float), uc["pct_line"].astype(float)
    has = uc["children"].astype(float) > 0
    # one base: every child of the unit (the straight-line base), for both percentages
    assert np.allclose(pw[has], 100 * cw[has] / uc["children"][has], rtol=1e-9, atol=1e-9)
    assert np.allclose(pl[has], 100 * cl[has] / uc["children"][has], rtol=1e-9, atol=1e-9)
    assert (pw[has] <= pl[has] + 1e-9).all(), uc[has & (pw > pl + 1e-9)]
    # NaN ("no data") only where there are no children
    assert pw[has].notna().all() and pw[~has].isna().all(), uc[has & pw.isna()]
    assert not uc.loc[~has, "below_target"].astype(bool).any()
    below = uc["below_target"].astype(bool)
    assert (below[has] == (pw[has] < uc["target_pct"][has].astype(float))).all()


@pytest.fixture(scope="module")
def hand():
    net = line_network()
    homes = _points(
        [p for p, _ in HOMES.values()], origin_id=list(HOMES), children=[c for _, c in HOMES.values()]
    )
    kg = _points([(150, 0)], facility_id=["K"], category=["kindergarten"], name=["k"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        acc = cv.origin_access(homes, kg, net, categories=["kindergarten"], radii={"kindergarten": 300})
    units = _boxes(
        ALL=(-150, -50, 350, 250),  # every home
        ISLAND=(-100, 50, -10, 150),  # H4 only: all its children on the island
        FAR=(100, 150, 200, 250),  # H3 only: too far from any street
        EMPTY=(500, 500, 600, 600),  # no home
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        uc = cv.unit_coverage(units, acc, target_pct=80.0)
    return acc, uc.set_index("unit_id"), [str(w.message) for w in caught]


def test_hand_distances(hand):
    acc, _, warns = hand
    a = acc.set_index("origin_id")
    assert a["dist_walk_kindergarten"].tolist()[:2] == pytest.approx([70.0, 150.0], abs=1e-6)
    assert np.isinf(a.loc["H3", "dist_walk_kindergarten"]) and np.isinf(a.loc["H4", "dist_walk_kindergarten"])
    assert a["dist_line_kindergarten"].to_numpy() == pytest.approx(
        [np.hypot(50, 20), 150, 200, np.hypot(200, 100)]
    )
    assert a["covered_walk_kindergarten"].tolist() == [True, True, False, False]
    assert a["covered_line_kindergarten"].tolist() == [True, True, True, True]
    assert a["no_network_kindergarten"].tolist() == [False, False, False, True]
    assert acc.attrs["unsnapped_origins"] == 1 and acc.attrs["no_network_children"] == {"kindergarten": 7}
    # the warning says what the figures do with them
    assert any("1 homes (7 children) with no kindergarten" in w and "not covered on foot" in w for w in warns)
    assert not any("left out of the walking percentages" in w for w in warns)


def test_hand_unit_figures(hand):
    _, uc, _ = hand
    _invariant(uc.reset_index())
    # all homes: 30 of 42 children on foot (H3 and H4 cannot walk there), 42 of 42 in a straight line;
    # 71.4 % is below the 80 % target (leaving H4's 7 children out gave 30 / 35 = 85.7 %, above it)
    a = uc.loc["ALL"]
    assert a["children"] == 42 and a["children_covered_walk"] == 30 and a["children_covered_line"] == 42
    assert a["pct_walk"] == pytest.approx(100 * 30 / 42) and a["pct_line"] == pytest.approx(100.0)
    assert bool(a["below_target"])
    assert a["children_no_network"] == 7 and a["homes_no_network"] == 1
    # children-weighted median over all 42: 70 m (10), 150 m (20) reach 30 >= 21; p90 falls on unreachable
    assert a["median_walk_m"] == pytest.approx(150.0) and np.isnan(a["p90_walk_m"])
    # the island: 7 children, none reachable on foot: 0 % and below target (was NaN and "not below")
    i = uc.loc["ISLAND"]
    assert i["children"] == 7 and i["children_covered_walk"] == 0 and i["pct_walk"] == 0.0
    assert i["pct_line"] == 100.0 and bool(i["below_target"]) and i["children_no_network"] == 7
    assert "not reachable on foot" in i["note"] and "no children" not in i["note"]
    # too far from any street: 0 % on foot
    f = uc.loc["FAR"]
    assert f["children"] == 5 and f["pct_walk"] == 0.0 and bool(f["below_target"])
    # only a unit without children has no percentage
    e = uc.loc["EMPTY"]
    assert np.isnan(e["pct_walk"]) and np.isnan(e["pct_line"]) and not bool(e["below_target"])
    assert "no children" in e["note"]


def test_hand_life_circles_and_gaps(hand):
    acc, uc, _ = hand
    lc = cv.life_circles(uc.reset_index()).set_index("unit_id")
    # a kindergarten belongs to the 5-minute circle: the island lacks it on foot (its straight-line 100 % does
    # not make the circle complete)
    assert lc.loc["ISLAND", "lc5_complete"] == False  # noqa: E712  (object column: True/False/NaN)
    assert "幼儿园" in lc.loc["ISLAND", "lc5_missing"]
    assert lc.loc["ALL", "lc5_complete"] == False  # noqa: E712
    assert np.isnan(lc.loc["EMPTY", "lc5_complete"])
    d = cv.dissolve_service_areas(_kg(), line_network(), radii={"kindergarten": 300}, engine="vector")
    g = cv.gaps(_boxes(ALL=(-150, -50, 350, 250)), acc, d)
    assert g.attrs["uncovered_origins_total"]["kindergarten"] == 12  # H3 and H4
    assert g["children_uncovered"].sum() == 12  # both outside the walking area, in the gap


def _kg() -> gpd.GeoDataFrame:
    return _points([(150, 0)], facility_id=["K"], category=["kindergarten"], name=["k"])


def test_choropleth_shows_zero_not_no_data(hand):
    from childspace.outputs.maps._choropleth import choropleth_styles, coverage_rows, join_coverage
    from childspace.outputs.style import NO_DATA_COLOUR

    _, uc, _ = hand
    units = _boxes(ISLAND=(-100, 50, -10, 150), EMPTY=(500, 500, 600, 600))
    j = join_coverage(units, uc.reset_index(), "kindergarten", "pct_walk")
    vals, below, styles = choropleth_styles(j, "pct_walk", 80.0)
    assert vals[0] == 0.0 and below[0] and styles[0]["fillColor"] != NO_DATA_COLOUR
    assert np.isnan(vals[1]) and not below[1] and styles[1]["fillColor"] == NO_DATA_COLOUR
    rows = dict(coverage_rows(j, vals, "pct_walk", "walk %", below, 80.0))
    nc = next(v for k, v in rows.items() if "Not connected" in k)
    assert nc[0] == "7"


# ---------------------------------------------------------------------------------------------------------------
# the real Andorra extract
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def andorra(tmp_path_factory):
    from childspace.run import pipeline

    osm = realdata("andorra.osm.pbf")
    tmp: Path = tmp_path_factory.mktemp("andorra_cov")
    cfg_path = tmp / "andorra.toml"
    cfg_path.write_text(
        f'[project]\nname = "andorra"\noutputs = "out"\n\n[network]\nosm = "{osm.as_posix()}"\n',
        encoding="utf-8",
    )
    cfg = pipeline.load_config(cfg_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipeline.run_analyses(cfg, routes=False)


def test_andorra_invariant_on_every_row(andorra):
    tables = {k: v for k, v in andorra.tables.items() if k.endswith("_coverage")}
    assert "township_coverage" in tables
    for t in tables.values():
        _invariant(t)
    acc = andorra.layers["access"]
    for cat in acc.attrs["categories"]:
        walk = acc[f"covered_walk_{cat}"].to_numpy(bool)
        assert not (walk & ~acc[f"covered_line_{cat}"].to_numpy(bool)).any(), cat


def test_andorra_sant_julia_is_zero_and_below_target(andorra):
    tc = andorra.tables["township_coverage"]
    sj = tc[tc["name"] == "Sant Julià de Lòria"].set_index("category")
    ps = sj.loc["primary_school"]
    # every home of the township lies on a part of the extract's network without a school
    assert ps["children"] > 80 and ps["children_no_network"] == pytest.approx(ps["children"])
    assert ps["pct_walk"] == 0.0 and bool(ps["below_target"]) and "no children" not in ps["note"]
    lc = andorra.tables["township_life_circles"].set_index("name")
    assert lc.loc["Sant Julià de Lòria", "lc10_complete"] == False  # noqa: E712
    # Encamp's parks: on foot no more than the straight line's 3.7 % (was 12.6 %, on a base without the
    # children not connected to the network)
    en = tc[(tc["name"] == "Encamp") & (tc["category"] == "park")].iloc[0]
    assert en["children_no_network"] > 0.5 * en["children"]
    assert en["pct_walk"] <= en["pct_line"] and en["pct_line"] == pytest.approx(3.7, abs=0.05)
    assert en["pct_walk"] == pytest.approx(100 * en["children_covered_walk"] / en["children"])
