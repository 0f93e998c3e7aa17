"""The lean routes map of a large network (issue 16): street runs joined with one popup each, crossings of one
kind as one multi-point, the top hazards with full popups, zone roads over the limit only, walksheds without
block-sized holes; on the bundled sample (forced lean with a small ``max_features``) and on hand-made shapes."""

from __future__ import annotations

import re
import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon
from test_maps import _layers

from childspace.analysis.streets import route_edge_use, stress_frames
from childspace.outputs import maps
from childspace.outputs.maps.routes_lean import drop_small_holes, group_lines, group_points, lean_settings

METRIC = "EPSG:32651"


@pytest.fixture(scope="module")
def run(sample_run):
    res = sample_run
    edges, crossings = stress_frames(res.network, res.stress)
    L = res.layers
    args = (L["routes"], L["hazards"], L["walksheds"], L["schools"])
    kw = dict(
        network_stress=edges,
        crossings=crossings,
        school_zones=L.get("school_zones"),
        zone_roads=L.get("school_zone_roads"),
        boundaries=res.inputs.communities,
        basemaps=(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = maps.routes_map(*args, **kw)
        lean = maps.routes_map(*args, **kw, max_features=100, max_streets=400)
    return res, edges, crossings, full, lean


def _metric_length(geojson_features: list[dict]) -> float:
    g = gpd.GeoSeries([shapely.geometry.shape(f["geometry"]) for f in geojson_features], crs=4326)
    return float(g.to_crs(METRIC).length.sum())


def _layer(layers: dict[str, dict], start: str) -> dict:
    hits = [v for k, v in layers.items() if k.startswith(start)]
    assert len(hits) == 1, (start, list(layers))
    return hits[0]


def test_lean_settings_only_for_networks_larger_than_the_popup_budget():
    assert not lean_settings(614, 4000).on
    s = lean_settings(275_739, 4000)
    assert s.on and s.digits == 5 and s.line_m == 3.0 and s.street_popups == 1000 and s.hazard_popups == 300


def test_sample_map_is_not_lean_by_default(run):
    _res, _e, _c, full, _lean = run
    html = full.get_root().render()
    assert "县域地图精简说明" not in html


def test_lean_map_is_smaller_and_says_what_it_left_out(run):
    _res, _e, _c, full, lean = run
    a, b = full.get_root().render(), lean.get_root().render()
    assert len(b.encode()) < 0.8 * len(a.encode())
    assert "县域地图精简说明 A county-size map" in b and "GeoPackage" in b
    # the coordinates of the children-per-street layer carry at most 5 decimals (~1 m)
    lay = _layer(_layers(lean), "通学儿童流量（最安全路线")
    xy = np.concatenate(
        [shapely.get_coordinates(shapely.geometry.shape(f["geometry"])) for f in lay["features"]]
    )
    assert np.allclose(xy, np.round(xy, 5), rtol=0, atol=1e-9)
    full_lay = _layer(_layers(full), "通学儿童流量（最安全路线")
    xy6 = np.concatenate(
        [shapely.get_coordinates(shapely.geometry.shape(f["geometry"])) for f in full_lay["features"]]
    )
    assert not np.allclose(xy6, np.round(xy6, 5), rtol=0, atol=1e-9)  # the default map keeps ~0.1 m


def test_lean_children_per_street_keeps_every_street_of_its_budget_and_the_busiest_numbers(run):
    res, edges, _c, _full, lean = run
    use = route_edge_use(res.layers["routes"], edges, "safest")
    kept = use.iloc[:400]  # max_streets=400: the busiest 400 (route_edge_use sorts busiest first)
    lay = _layer(_layers(lean), "通学儿童流量（最安全路线")
    got = _metric_length(lay["features"])
    want = float(kept.to_crs(METRIC).length.sum())
    # the same streets, joined and simplified to 3 m (a street run loses < 1 % of its length)
    assert got == pytest.approx(want, rel=0.01)
    pops = [f["properties"]["_p"] for f in lay["features"] if "_p" in f["properties"]]
    assert 0 < len(pops) <= 25  # lean_settings(…, 100).street_popups
    top = f"{kept['children'].iloc[0]:,.0f}"
    assert any(f"<td>{top}</td>" in p for p in pops)  # the busiest street's children, as computed


def test_lean_crossings_are_one_multipoint_per_kind_and_none_is_lost(run):
    _res, _e, crossings, _full, lean = run
    lay = _layer(_layers(lean), "过街点压力等级")
    n_drawn = sum(len(f["geometry"]["coordinates"]) for f in lay["features"])
    lv = crossings["level"].to_numpy()
    drawn = crossings[lv >= 3] if len(crossings) > 100 else crossings
    assert n_drawn == min(len(drawn), 100)
    kinds = drawn[["level", "control", "reason"]].astype(str).drop_duplicates()
    assert len(lay["features"]) <= len(kinds)
    assert all(f["geometry"]["type"] == "MultiPoint" and "_p" in f["properties"] for f in lay["features"])


def test_lean_hazards_keep_full_popups_on_the_top_ranks_and_a_tooltip_on_every_one(run):
    res, _e, _c, _full, lean = run
    hz = res.layers["hazards"]
    n_pop = lean_settings(10**6, 100).hazard_popups
    feats = [
        f
        for k, v in _layers(lean).items()
        if k.startswith("隐患路段（") or k.startswith("隐患过街点")
        for f in v["features"]
    ]
    assert len(feats) == len(hz)
    assert all("_t" in f["properties"] for f in feats)
    with_pop = sorted(
        int(re.search(r"Hazard (\d+)：", f["properties"]["_p"]).group(1))
        for f in feats
        if "_p" in f["properties"]
    )
    assert with_pop == list(range(1, min(n_pop, len(hz)) + 1))


def test_lean_zone_roads_are_those_over_the_limit(run):
    res, _e, _c, _full, lean = run
    zr = res.layers.get("school_zone_roads")
    if zr is None or not zr["over_limit"].any():
        pytest.skip("no zone road over the limit in the sample")
    lay = _layer(_layers(lean), "校园周边道路")
    # within the limit: not drawn (left to the GeoPackage), as the legend says
    html = lean.get_root().render()
    assert "县域图不画，见 GeoPackage" in html
    over = zr[zr["over_limit"].astype(bool)]
    pieces = over.geometry.to_crs(METRIC)
    uniq = gpd.GeoSeries(shapely.normalize(pieces.values), crs=METRIC).drop_duplicates()
    assert _metric_length(lay["features"]) == pytest.approx(float(uniq.length.sum()), rel=0.02)


def test_group_lines_joins_a_run_and_sums_its_length():
    g = gpd.GeoDataFrame(
        {"name": ["a", "b", "a", "a"], "length_m": [1.0, 2.0, 3.0, 1.0]},
        geometry=[
            LineString([(0, 0), (1, 0)]),
            LineString([(5, 5), (6, 6)]),
            LineString([(1, 0), (2, 0)]),
            LineString([(1, 0), (0, 0)]),  # the first piece again, reversed: drawn once, summed
        ],
        crs=4326,
    )
    out = group_lines(g, ["name"], ["length_m"])
    assert list(out["name"]) == ["a", "b"] and list(out["length_m"]) == [5.0, 2.0]
    assert out.geometry.iloc[0].equals(LineString([(0, 0), (1, 0), (2, 0)]))


def test_group_points_counts_each_kind():
    g = gpd.GeoDataFrame({"level": [3, 4, 3]}, geometry=[Point(0, 0), Point(1, 1), Point(2, 2)], crs=4326)
    out = group_points(g, ["level"])
    assert list(out["count"]) == [2, 1] and len(shapely.get_parts(out.geometry.iloc[0])) == 2


def test_drop_small_holes_fills_blocks_and_keeps_large_gaps():
    # a 1 km square in metres with a 50 m hole (0.25 ha) and a 200 m hole (4 ha), near 28° N
    sq = Polygon(
        [(0, 0), (1000, 0), (1000, 1000), (0, 1000)],
        holes=[
            [(100, 100), (150, 100), (150, 150), (100, 150)],
            [(500, 500), (700, 500), (700, 700), (500, 700)],
        ],
    )
    g = gpd.GeoDataFrame(
        {"k": [1]}, geometry=[shapely.affinity.translate(sq, 300_000, 3_100_000)], crs=METRIC
    )
    out = drop_small_holes(g.to_crs(4326), 10_000).to_crs(METRIC)
    assert len(out.geometry.iloc[0].interiors) == 1
    assert out.area.iloc[0] == pytest.approx(1_000_000 - 40_000, rel=1e-3)


def test_routes_png_draws_each_street_class_as_one_path_with_every_vertex(run):
    from matplotlib.collections import PathCollection

    from childspace.outputs.figures_routes import plot_routes

    res, edges, _c, _full, _lean = run
    fig = plot_routes(res.layers["routes"], network_stress=edges, boundaries=res.inputs.communities)
    try:
        ax = fig.axes[0]
        colls = [c for c in ax.collections if isinstance(c, PathCollection) and c.get_zorder() == 4]
        assert len(colls) == 1
        paths = colls[0].get_paths()
        levels = sorted(set(edges["level"].astype(int)))
        assert len(paths) == len(levels)  # one path per stress level present
        n_vertices = sum(len(p.vertices) for p in paths)
        parts = shapely.get_parts(np.asarray(edges.geometry.values, dtype=object))
        assert n_vertices == int(shapely.get_num_coordinates(parts).sum())  # every street, every vertex
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_lean_map_opens_and_every_layer_shows_without_script_errors(run, tmp_path):
    """In headless Chromium: every layer of the lean sample map switched on (the crossings as multi-points, the
    joined street runs, the zone roads over the limit among them); no script error, the lines drawn."""
    from _browser import dump_dom, require_chromium
    from branca.element import Element

    require_chromium()
    _res, _e, _c, _full, lean = run
    lean.get_root().script.add_child(
        Element(
            "setTimeout(function () {"
            # the clickable lines and shapes on the map (drawn on a canvas: no SVG path per feature)
            "function drawn() { var n = 0; Object.keys(window).forEach(function (k) {"
            " var m = window[k]; if (/^map_/.test(k) && m instanceof L.Map) { m.eachLayer(function (l) {"
            " if (l instanceof L.Path && l.options.interactive !== false && l._pxBounds) { n += 1; } }); } });"
            " return n; }"
            "document.documentElement.setAttribute('data-paths0', String(drawn()));"
            "document.querySelectorAll('.leaflet-control-layers-overlays input[type=checkbox]')"
            ".forEach(function (c) { if (!c.checked) { c.click(); } });"
            "document.documentElement.setAttribute('data-paths', String(drawn()));"
            "}, 300);"
        )
    )
    dom = dump_dom(maps.save_map(lean, tmp_path / "lean.html"), budget_ms=4000)
    root = re.search(r"<html[^>]*>", dom).group(0)
    assert 'data-map-ready="1"' in root and "data-js-errors" not in root, root[:500]
    before = int(re.search(r'data-paths0="(\d+)"', root).group(1))
    after = int(re.search(r'data-paths="(\d+)"', root).group(1))
    assert after > before > 0  # the layers that were off drew their features
