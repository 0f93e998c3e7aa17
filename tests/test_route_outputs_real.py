"""What planners read from the routes to school: children per street (each home once, never more than the
children routed), children per home in the routes table (whole, adding up to the school table), and the
names in the routes figure (no "nan"; the hazard list says how many it lists). Hand-checkable cases first, then
the real extracts of Monaco (one school teaching both levels) and Andorra (an unnamed school, homes estimated
from OSM with fractional children)."""

from __future__ import annotations

import re
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import realdata
from shapely.geometry import LineString, Point
from test_maps import METRIC, _origin, make_sample

from childspace.analysis import streets
from childspace.analysis._route_eval import _RouteData
from childspace.analysis.route_tables import whole_children
from childspace.outputs.figures_routes import plot_routes
from childspace.outputs.style import feature_label

# --------------------------------------------------------------------------------------------------------------
# hand-checkable cases
# --------------------------------------------------------------------------------------------------------------


def _two_level_routes() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Four streets in a row; home A (3 children) walks streets 0, 1 to its primary school and 1, 2 to its
    middle school; home B (5 children) walks street 1 to its primary school and 3 to its middle school (safest
    routes, keys 1-4); B's shortest route to its middle school (key 5) walks street 3."""
    x0, y0 = _origin()
    edges = gpd.GeoDataFrame(
        {"edge": [0, 1, 2, 3], "name": ["甲路", "乙路", "丙路", "丁路"], "level": [1, 2, 1, 3]},
        geometry=[LineString([(x0 + 100 * i, y0), (x0 + 100 * (i + 1), y0)]) for i in range(4)],
        crs=METRIC,
    )
    routes = gpd.GeoDataFrame(
        {
            "origin_id": ["A", "A", "B", "B", "B"],
            "category": [
                "primary_school",
                "middle_school",
                "primary_school",
                "middle_school",
                "middle_school",
            ],
            "school_id": ["P1", "M1", "P1", "M1", "M1"],
            "route": ["safest", "safest", "safest", "safest", "shortest"],
            "children": [3, 3, 5, 5, 5],
            "route_key": [1, 2, 3, 4, 5],
            "verdict": ["safe"] * 5,
            "worst_level": [2, 2, 2, 3, 3],
        },
        geometry=[Point(x0, y0)] * 5,
        crs=METRIC,
    )
    routes.attrs["childspace_routes"] = _RouteData(
        edge_key=np.array([1, 1, 2, 2, 3, 4, 5]),
        edge=np.array([0, 1, 1, 2, 1, 3, 3]),
        cross_key=np.zeros(0, np.int64),
        cross_node=np.zeros(0, np.int64),
        cross_edge=np.zeros(0, np.int64),
        cross_level=np.zeros(0, np.int8),
        n_edges=4,
    )
    return routes, edges


def test_a_home_walking_a_street_to_both_schools_counts_once_there():
    routes, edges = _two_level_routes()
    use = streets.route_edge_use(routes, edges, "safest")
    # street 1: A's two routes (3 children, once) and B's primary route (5): 8 children, 3 routes; summing the
    # routes gave 11 while A and B have 8 children in all
    assert dict(zip(use["edge"], use["children"])) == {0: 3.0, 1: 8.0, 2: 3.0, 3: 5.0}
    assert dict(zip(use["edge"], use["routes"])) == {0: 1, 1: 3, 2: 1, 3: 1}
    assert use["children"].max() <= 3 + 5
    primary = streets.route_edge_use(routes, edges, "safest", "primary_school")
    middle = streets.route_edge_use(routes, edges, "safest", "middle_school")
    assert dict(zip(primary["edge"], primary["children"])) == {0: 3.0, 1: 8.0}
    assert dict(zip(middle["edge"], middle["children"])) == {1: 3.0, 2: 3.0, 3: 5.0}
    np.testing.assert_array_equal(
        streets.children_per_edge(routes, 4, "safest", "middle_school"), [0, 3, 3, 5]
    )
    np.testing.assert_array_equal(streets.children_per_edge(routes, 4, "shortest"), [0, 0, 0, 5])


def test_the_street_layer_has_all_levels_and_each_level():
    from childspace.run.writing import _children_per_street

    routes, edges = _two_level_routes()
    out = _children_per_street(edges, routes)
    cols = list(out.columns)
    assert cols[cols.index("level") + 1 :][:6] == [
        "children_safest",
        "children_safest_primary_school",
        "children_safest_middle_school",
        "children_shortest",
        "children_shortest_primary_school",
        "children_shortest_middle_school",
    ]
    assert out["children_safest"].tolist() == [3, 8, 3, 5]
    assert out["children_safest_primary_school"].tolist() == [3, 8, 0, 0]
    assert out["children_safest_middle_school"].tolist() == [0, 3, 3, 5]
    assert out["children_shortest_primary_school"].tolist() == [0, 0, 0, 0]


def test_whole_children_add_up_per_school_and_verdict():
    t = pd.DataFrame(
        {
            "origin_id": ["a", "b", "c", "d", "e", "f"],
            "category": ["primary_school"] * 6,
            "school_id": ["P1", "P1", "P1", "P1", "P2", None],
            "verdict": ["safe", "safe", "safe", "unsafe", "safe", "unreachable"],
            "children": [0.4, 0.45, 0.4, 2.6, 1.5, 0.7],
        }
    )
    got = whole_children(t)
    # P1 safe: 1.25 children -> 1, to the largest remainder (b); P1 unsafe 2.6 -> 3; P2 1.5 -> 2 (as a table of
    # totals rounds it: numpy rounds half to even); no school: 0.7 -> 1. Rounded one by one: 0, 0, 0, 3, 2, 1.
    assert got["children"].tolist() == [0, 1, 0, 3, 2, 1]
    assert got["children"].dtype == np.int64
    assert t["children"].tolist() == [0.4, 0.45, 0.4, 2.6, 1.5, 0.7]  # the input is not changed
    whole = t.assign(children=[1, 0, 2, 3, 1, 0])
    assert whole_children(whole) is whole  # whole counts as they are


def test_unnamed_features_are_named_by_their_id():
    assert feature_label(np.nan, "osm/node/529940889") == "未命名学校 unnamed school (OSM node 529940889)"
    assert feature_label(None, "osm/way/94239579") == "未命名学校 unnamed school (OSM way 94239579)"
    assert feature_label(pd.NA, "F07") == "未命名学校 unnamed school (F07)"
    assert feature_label("nan", None, "street") == "无名道路 unnamed street"
    assert feature_label("École Saint-Charles", "osm/node/1") == "École Saint-Charles"


def test_a_hazard_list_that_does_not_fit_says_how_many_it_lists():
    sample = make_sample()
    x0, y0 = _origin()
    n = 30
    hz = gpd.GeoDataFrame(
        {
            "hazard_id": [f"S{i}" for i in range(n)],
            "type": "segment",
            "level": 4,
            "children": np.arange(n, 0, -1),
            "name": [None, *[f"路{i}" for i in range(1, n)]],
            "rank": np.arange(1, n + 1),
            "countermeasures": "增设人行道 Add a sidewalk",
        },
        geometry=[Point(x0 + 1300 + 20 * i, y0 + 1000) for i in range(n)],
        crs=METRIC,
    )
    fig = plot_routes(sample["routes"], hz, boundaries=sample["boundaries"], max_hazard_list=n)
    texts = [t.get_text() for t in fig.texts]
    rows = [t for t in texts if re.match(r"\d+  ", t)]
    assert 0 < len(rows) < n  # not all 30 fit under the legend
    (title,) = [t for t in texts if t.startswith("隐患排序")]
    assert f"first {len(rows)} of {n}" in title and f"前{len(rows)}处，共{n}处" in title
    assert rows[0].startswith("1  无名道路 unnamed street (S0) · ")  # not "nan"
    few = plot_routes(sample["routes"], hz.iloc[:3], boundaries=sample["boundaries"])
    (title,) = [t.get_text() for t in few.texts if t.get_text().startswith("隐患排序")]
    assert "(all 3)" in title and "共3处" in title


# --------------------------------------------------------------------------------------------------------------
# real extracts
# --------------------------------------------------------------------------------------------------------------


def _run(name: str, tmp_path_factory: pytest.TempPathFactory):
    from childspace.run import pipeline

    cfg_path = tmp_path_factory.mktemp(name) / "run.toml"
    cfg_path.write_text(f'[osm]\npath = "{realdata(name).as_posix()}"\n', encoding="utf-8")
    cfg = pipeline.load_config(cfg_path, outputs=cfg_path.parent / "out")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipeline.run_analyses(cfg)


@pytest.fixture(scope="module")
def monaco(tmp_path_factory):
    return _run("monaco.osm.gz", tmp_path_factory)


@pytest.fixture(scope="module")
def andorra(tmp_path_factory):
    return _run("andorra.osm.pbf", tmp_path_factory)


def _routed_children(routes: pd.DataFrame) -> float:
    return float(routes.drop_duplicates("origin_id")["children"].sum())


@pytest.mark.parametrize("place", ["monaco", "andorra"])
def test_no_street_carries_more_children_than_there_are(place, request):
    from childspace.run.writing import _children_per_street

    res = request.getfixturevalue(place)
    routes = res.layers["routes"]
    total = _routed_children(routes)
    edges, _ = streets.stress_frames(res.network, res.stress)
    layer = _children_per_street(edges, routes)
    for kind in ("safest", "shortest"):
        every = layer[f"children_{kind}"].to_numpy()
        assert every.max() <= round(total), (kind, every.max(), total)
        p = layer[f"children_{kind}_primary_school"].to_numpy()
        m = layer[f"children_{kind}_middle_school"].to_numpy()
        assert (every >= np.maximum(p, m)).all() and (every <= p + m).all()
        assert (every < p + m).any()  # streets both levels' routes of the same homes walk
    if place == "monaco":
        # one school teaches both levels: every home's two routes are the same walk, so each street carries the
        # same children on all levels as on each (summing the levels doubled them: 1,781 of 891)
        np.testing.assert_array_equal(layer["children_safest"], layer["children_safest_primary_school"])
        np.testing.assert_array_equal(layer["children_safest"], layer["children_safest_middle_school"])
        assert layer["children_safest"].max() == 890  # all but the one unreachable home's child (891 in all)


def test_routes_csv_adds_up_to_schools_csv(andorra, tmp_path):
    from childspace.outputs import report
    from childspace.run.writing import _tables

    tables = _tables(andorra)
    assert not np.array_equal(  # the homes estimated from OSM carry fractional children
        andorra.tables["routes"]["children"], np.round(andorra.tables["routes"]["children"])
    )
    report.write_csv_tables(tmp_path, {k: tables[k] for k in ("routes", "schools")}, bilingual=True)
    r = pd.read_csv(tmp_path / "routes.csv")
    s = pd.read_csv(tmp_path / "schools.csv")
    cat, kids, sid, verdict = "设施类型 Category", "儿童数 Children", "学校编号 School ID", "评价 Verdict"
    cells = {
        "safe": "安全路线儿童 Children safe",
        "caution": "需注意儿童 Children caution",
        "unsafe": "不安全儿童 Children unsafe",
        "unreachable": "不可达儿童 Children unreachable",
    }
    per_cat = r.groupby(cat)[kids].sum()
    want = s.groupby(cat)[list(cells.values())].sum().sum(axis=1)
    assert per_cat.to_dict() == want.to_dict() == {"middle_school": 363, "primary_school": 363}
    # and school by school, verdict by verdict
    r[sid] = r[sid].where(r[sid].notna(), "unreachable/" + r[cat])
    got = r.groupby([sid, cat, verdict])[kids].sum()
    for _, row in s.iterrows():
        for v, col in cells.items():
            assert got.get((row[sid], row[cat], v), 0) == row[col], (row[sid], v)


def test_the_routes_figure_names_the_unnamed_school_and_lists_what_it_says(andorra):
    res = andorra
    edges, _ = streets.stress_frames(res.network, res.stress)
    schools = res.layers["schools"]
    assert schools["name"].isna().all()  # Andorra's one school is mapped without a name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = plot_routes(
            res.layers["routes"],
            res.layers["hazards"],
            res.layers["walksheds"],
            schools,
            boundaries=res.inputs.townships,
            network_stress=edges,
        )
    texts = [t.get_text() for t in fig.texts] + [t.get_text() for ax in fig.axes for t in ax.texts]
    assert not [t for t in texts if re.search(r"\bnan\b", t)]
    assert (
        sum("未命名学校 unnamed school (OSM node 529940889)" in t for t in texts) == 1
    )  # once, not per level
    (title,) = [t for t in fig.texts if t.get_text().startswith("隐患排序")]
    rows = [t for t in texts if re.match(r"\d+  ", t)]
    assert f"first {len(rows)} of {len(res.layers['hazards'])}" in title.get_text()
    assert any(t.startswith("1  无名道路 unnamed street (") for t in rows)
