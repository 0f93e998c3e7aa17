"""Maps and figures that grow with the network, not with homes x routes (issue 16), and hazards that read at a
glance (issue 15): merged layers, style tables, routes without geometry, hazard numbers that never overlap."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib.collections import LineCollection
from shapely.geometry import LineString, Point
from test_maps import METRIC, _layers, _origin, _toy_routes, make_sample
from test_plot import _overlaps, _placed_boxes

from childspace.outputs import maps
from childspace.outputs._figure_base import line_collection
from childspace.outputs.figures_routes import plot_routes
from childspace.outputs.maps._page import add_layer, new_map


@pytest.fixture(scope="module")
def sample():
    return make_sample()


def _grid_lines(n: int) -> gpd.GeoDataFrame:
    """``n`` 50 m street pieces along rows 100 m apart; consecutive pieces of a row touch end to end."""
    x0, y0 = _origin()
    per_row = 40
    geoms = [
        LineString(
            [
                (x0 + 50 * (i % per_row), y0 + 100 * (i // per_row)),
                (x0 + 50 * (i % per_row + 1), y0 + 100 * (i // per_row)),
            ]
        )
        for i in range(n)
    ]
    return gpd.GeoDataFrame({"level": np.arange(n) % 2 + 1}, geometry=geoms, crs=METRIC).to_crs(4326)


def test_style_table_and_merged_lines_keep_every_street(sample):
    lines = _grid_lines(2000)
    m = new_map([lines], "t", None, False)
    styles = [{"color": "#d7191c" if lv == 2 else "#2c7bb6", "weight": 2} for lv in lines["level"]]
    layer = add_layer(m, lines, styles, None, None, "streets")
    gj = json.loads(layer.data_json)
    table = json.loads(layer.styles_json)
    # two styles, each written once; the 2,000 pieces are one feature per style
    assert len(table) == 2 and len(gj["features"]) == 2
    merged = {f["properties"]["_s"]: shapely.geometry.shape(f["geometry"]) for f in gj["features"]}
    for k, colour in enumerate(st["color"] for st in table):
        want = shapely.union_all(lines.geometry[[s["color"] == colour for s in styles]].values)
        got = merged[k]
        # the same streets (to the 0.1 m rounding): nothing lost, nothing added
        assert got.length == pytest.approx(want.length, abs=1e-6 * len(lines))  # rounding of the ends
        assert shapely.hausdorff_distance(got, want) < 2e-6
    # with popups nothing is merged: one feature per street, the style still written once
    layer2 = add_layer(m, lines.iloc[:30], styles[:30], ["p"] * 30, None, "streets with popups")
    assert len(json.loads(layer2.data_json)["features"]) == 30
    assert len(json.loads(layer2.styles_json)) == 2


def test_detail_keeps_popups_on_the_chosen_features_only(sample):
    lines = _grid_lines(400)
    m = new_map([lines], "t", None, False)
    styles = [{"color": "#000000", "weight": 1 + (i >= 390)} for i in range(400)]
    pops = [f"街道 {i}" for i in range(400)]
    detail = np.arange(400) >= 390
    layer = add_layer(m, lines, styles, pops, None, "busiest", detail=detail)
    feats = json.loads(layer.data_json)["features"]
    with_pop = [f["properties"]["_p"] for f in feats if "_p" in f["properties"]]
    assert with_pop == [f"街道 {i}" for i in range(390, 400)]
    assert len(feats) == 11  # 390 pieces merged into one feature (one style) + the 10 kept


def test_routes_map_without_route_geometry(sample, tmp_path):
    """The default of large runs: the routes table carries the home point (or nothing), the map shows the
    streets children walk along and says why single routes are not drawn."""
    routes, edges = _toy_routes()
    x0, y0 = _origin()
    as_points = routes.set_geometry([Point(x0, y0)] * len(routes), crs=METRIC)
    m = maps.routes_map(as_points, network_stress=edges, basemaps=(), boundaries=sample["boundaries"])
    layers = _layers(m)
    assert "通学儿童流量（最安全路线） Children per street (safest routes)" in layers
    assert not any("Safest routes" in k or "Shortest routes" in k for k in layers)
    text = maps.render_html(m)
    assert "Route lines not kept: shown per street" in text
    # no geometry column at all: the same
    bare = pd.DataFrame(routes.drop(columns="geometry"))
    bare.attrs = routes.attrs
    m2 = maps.routes_map(bare, network_stress=edges, basemaps=(), boundaries=sample["boundaries"])
    assert "通学儿童流量（最安全路线） Children per street (safest routes)" in _layers(m2)
    fig = plot_routes(bare, network_stress=edges, boundaries=sample["boundaries"])
    widths = sorted(
        {round(float(w), 2) for c in fig.axes[0].collections for w in np.atleast_1d(c.get_linewidths())}
    )
    assert max(widths) == pytest.approx(8.0)  # the busiest street drawn at full width (8 children of 8)


def test_many_route_lines_are_not_drawn(sample):
    routes, edges = _toy_routes()
    m = maps.routes_map(routes, network_stress=edges, basemaps=(), max_route_lines=2)
    layers = _layers(m)
    assert not any("Safest routes" in k for k in layers)  # 3 safest routes > 2
    assert "最短路线（1） Shortest routes (1)" in layers  # 1 shortest route <= 2
    assert "Single routes not drawn (safest 3 &gt; 2)" in maps.render_html(m)


def test_large_network_stress_layers_keep_the_stressful_streets(sample):
    routes, edges = _toy_routes()
    lines = _grid_lines(300).to_crs(METRIC)
    lines["edge"] = np.arange(300)
    lines["level"] = np.where(np.arange(300) % 3 == 0, 4, 1)
    m = maps.routes_map(
        routes.iloc[:0], network_stress=lines, basemaps=(), max_features=50, schools=sample["schools"]
    )
    name = next(k for k in _layers(m) if k.startswith("街道压力等级"))
    assert "3–4" in name and "100 of 300" in name
    feats = _layers(m)[name]["features"]
    # a network larger than max_features is drawn lean: the 100 level-4 pieces (no name, one reason) say the
    # same thing, so they are one joined feature with one popup; every piece is still drawn
    assert sum("_p" in f["properties"] for f in feats) == 1
    drawn = gpd.GeoSeries([shapely.geometry.shape(f["geometry"]) for f in feats], crs=4326).to_crs(METRIC)
    want = lines[lines["level"] >= 3].length.sum()
    assert drawn.length.sum() == pytest.approx(want, rel=1e-3)


def test_hazard_countermeasures_in_popup_and_figure(sample):
    hz = sample["hazards"].copy()
    hz["countermeasures"] = [
        "设置信号灯 Install signals",
        "施划人行横道 Mark a crossing",
        "增设人行道 Add a sidewalk",
    ]
    hz["countermeasure_basis"] = ["GB 5768.3-2009", "GB 5768.3-2009", "CJJ 37-2012"]
    m = maps.routes_map(sample["routes"], hz, schools=sample["schools"], basemaps=())
    pops = [f["properties"].get("_p", "") for layer in _layers(m).values() for f in layer["features"]]
    hit = [p for p in pops if "学府路口" in p and "建议措施 Countermeasures" in p]
    assert hit and "设置信号灯 Install signals" in hit[0] and "GB 5768.3-2009" in hit[0]
    fig = plot_routes(sample["routes"], hz, schools=sample["schools"])
    texts = [t.get_text() for t in fig.texts]
    assert any("with countermeasures" in t for t in texts)
    listed = [t for t in texts if t.startswith(("1 ", "2 ", "3 "))]
    assert [t.split()[0] for t in listed] == ["1", "2", "3"]  # by rank, as in the tables
    assert "设置信号灯 Install signals" in listed[0]
    # absent columns: no list heading with countermeasures, no failure
    fig2 = plot_routes(sample["routes"], sample["hazards"], schools=sample["schools"])
    assert not any("with countermeasures" in t.get_text() for t in fig2.texts)


def test_crowded_hazard_numbers_do_not_overlap(sample):
    """Thirty hazards within 150 m: every number placed is clear of the others (farther out with a leader
    line); the best-ranked are placed first."""
    x0, y0 = _origin()
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 150, size=(30, 2))
    hz = gpd.GeoDataFrame(
        {"level": 4, "children": rng.integers(1, 80, 30), "name": "路口", "rank": np.arange(1, 31)},
        geometry=[Point(x0 + 1300 + a, y0 + 1000 + b) for a, b in xy],
        crs=METRIC,
    )
    fig = plot_routes(sample["routes"], hz, boundaries=sample["boundaries"], max_hazard_list=0)
    texts, boxes = _placed_boxes(fig)
    nums = [t.get_text() for t in texts if re.fullmatch(r"\d+", t.get_text())]
    assert _overlaps(boxes) == []
    assert "1" in nums and len(nums) >= 10
    placed = sorted(int(n) for n in nums)
    assert placed == list(range(1, len(placed) + 1))  # those left out are the lowest-ranked


def test_line_collection_one_artist_per_layer():
    from matplotlib.figure import Figure

    lines = _grid_lines(500).to_crs(METRIC)
    multi = shapely.MultiLineString([[(0, 0), (1, 0)], [(2, 0), (3, 0)]])
    geoms = np.concatenate([lines.geometry.values, [multi]])
    fig = Figure()
    ax = fig.add_subplot()
    colours = ["#ff0000"] * 500 + ["#0000ff"]
    coll = line_collection(ax, geoms, color=colours, linewidth=np.r_[np.ones(500), 3.0])
    assert isinstance(coll, LineCollection) and len(ax.collections) == 1
    assert len(coll.get_segments()) == 502  # the multi-line's two parts repeat its colour and width
    assert list(np.asarray(coll.get_linewidths())[-2:]) == [3.0, 3.0]
    assert np.allclose(coll.get_colors()[-1], (0, 0, 1, 1))


def test_compact_popups_open_with_their_rows_in_browser(sample, tmp_path):
    """Row labels stored once per layer: a popup opened in Chromium shows the same table as popup_html."""
    from _browser import dump_dom, require_chromium
    from branca.element import Element

    from childspace.outputs.maps._page import popup_html

    require_chromium()
    lines = _grid_lines(30)
    m = new_map([lines], "t", None, False)
    pops = popup_html([f"街道 {i}" for i in range(30)], [("儿童 Children", [str(10 * i) for i in range(30)])])
    layer = add_layer(m, lines, [{"color": "#000"}] * 30, pops, None, "streets")
    assert json.loads(layer.heads_json) == ["儿童 Children"]
    m.get_root().script.add_child(
        Element(
            "setTimeout(function () {"
            f"{layer.get_name()}.getLayers()[7].openPopup();"
            "document.documentElement.setAttribute('data-pop', "
            "document.querySelector('.leaflet-popup-content').innerHTML);}, 300);"
        )
    )
    dom = dump_dom(maps.save_map(m, tmp_path / "p.html"))
    got = re.search(r'data-pop="([^"]*)"', dom).group(1)
    assert (
        "街道 7" in got
        and "儿童 Children" in got
        and "<td>70</td>" in got.replace("&lt;", "<").replace("&gt;", ">")
    )


def test_routes_map_keeps_the_busiest_streets_within_its_budget():
    """A county's children-per-street layer: the busiest ``max_streets`` streets only, and the name says so."""
    from childspace.outputs.maps.routes import _edge_use_layer

    n = 300
    use = gpd.GeoDataFrame(
        {
            "children": np.arange(n, dtype=float),
            "level": np.full(n, 2),
            "routes": np.ones(n),
            "schools": np.ones(n),
            "name": [f"街{i}" for i in range(n)],
        },
        geometry=[
            shapely.LineString([(120.9 + i * 1e-4, 28.1), (120.9 + i * 1e-4, 28.1005)]) for i in range(n)
        ],
        crs="EPSG:4326",
    )
    m = new_map([use], "t", None, False)
    name, kmax = _edge_use_layer(m, use, "safest", show=True, max_streets=50)
    assert kmax == n - 1
    assert "最繁忙的 50 段，共 300 段" in name and "the busiest 50 of 300" in name
    html = m.get_root().render()
    assert "街299" in html and "街250" in html and not re.search(r"街(1?\d{1,2}|2[0-4]\d)\b", html)
