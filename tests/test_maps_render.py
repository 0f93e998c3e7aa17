"""How a map page is written (issue 16): layer scripts go into the page as text, the shared style table, the
offline base map's streets by class."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point
from test_maps import METRIC, _origin

from childspace.outputs import maps
from childspace.outputs.maps._page import add_layer, new_map, render_html
from childspace.outputs.maps.basemap import STREET_CLASSES, _street_layer


def _points(n: int) -> gpd.GeoDataFrame:
    x0, y0 = _origin()
    return gpd.GeoDataFrame(
        {"v": np.arange(n)}, geometry=[Point(x0 + 30 * i, y0) for i in range(n)], crs=METRIC
    ).to_crs(4326)


def test_layer_text_with_template_syntax_is_written_as_it_is():
    """Popups and tooltips are the planner's data: text that looks like Jinja template syntax ({{ }}, {% %})
    is written into the page unchanged, not run as a template (the page's scripts are text, not templates)."""
    pts = _points(3)
    m = new_map([pts], "t", None, False)
    tips = ["a {{ 1 + 1 }} b", "c {% if x %} d", "e {# f"]
    add_layer(m, pts, [{"radius": 4}] * 3, None, tips, "points")
    text = render_html(m)
    for t in tips:
        assert json.dumps(t, ensure_ascii=False) in text
    assert "a 2 b" not in text


def test_one_style_object_per_class_is_written_once_per_distinct_style():
    """Layers give one style dict per feature, often the same object repeated: each distinct style is written
    once and every feature points at it (equal dicts that are different objects share the entry too)."""
    pts = _points(6)
    m = new_map([pts], "t", None, False)
    red, blue = {"color": "red", "radius": 3}, {"color": "blue", "radius": 3}
    styles = [red, blue, red, {"radius": 3, "color": "blue"}, red, dict(red)]
    layer = add_layer(m, pts, styles, None, ["x"] * 6, "points")
    table = json.loads(layer.styles_json)
    assert table == [red, blue]
    idx = [f["properties"]["_s"] for f in json.loads(layer.data_json)["features"]]
    assert idx == [0, 1, 0, 1, 0, 0]


def test_street_layer_styles_and_order_by_class():
    """The offline base map's streets: minor first, major last (drawn on top), each with its class's style;
    paths dropped only above 40,000 segments."""
    x0, y0 = _origin()
    hw = ["primary", "footway", "residential", "secondary", "residential", "weird", "primary"]
    s = gpd.GeoDataFrame(
        {"highway": hw},
        geometry=[LineString([(x0, y0 + 20 * i), (x0 + 100, y0 + 20 * i)]) for i in range(len(hw))],
        crs=METRIC,
    ).to_crs(4326)
    frame, styles, kinds = _street_layer(s, 1e-5)
    assert list(kinds) == [
        "footway",
        "weird",
        "residential",
        "residential",
        "secondary",
        "primary",
        "primary",
    ]
    assert list(frame["cls"]) == ["path", "path", "minor", "minor", "medium", "major", "major"]
    for h, st in zip(kinds, styles):
        _c, w, col = STREET_CLASSES.get(h, ("path", 0.6, "#c8c8c8"))
        assert st == {"color": col, "weight": w, "opacity": 0.9, "lineCap": "round"}


@pytest.mark.parametrize("n", [2, 120])
def test_page_scripts_appear_once(n):
    pts = _points(n)
    m = new_map([pts], "t", None, False, base=maps.Basemap(streets=None))
    layer = add_layer(m, pts, [{"radius": 4}] * n, None, [f"p{i}" for i in range(n)], "pts")
    text = render_html(m)
    assert text.count(f"var {layer.get_name()} = L.geoJson(") == 1
    assert text.count("Leaflet 1.9.4") >= 1 and len(re.findall(r"<script>", text)) >= 2


def test_routes_map_and_figure_share_the_children_per_street(sample_run):
    """The routes map and the routes figure draw the same children per street: computed once for the same routes
    and network, equal to route_edge_use, recomputed for other routes."""
    import pandas as pd

    from childspace.analysis.streets import route_edge_use, stress_frames
    from childspace.outputs._routes_common import edge_use

    edges, _crossings = stress_frames(sample_run.network, sample_run.stress)
    routes = sample_run.layers["routes"]
    first = edge_use(routes, edges, "safest")
    pd.testing.assert_frame_equal(pd.DataFrame(first), pd.DataFrame(route_edge_use(routes, edges, "safest")))
    short = edge_use(routes, edges, "shortest")
    assert edge_use(routes, edges, "safest") is first and edge_use(routes, edges, "shortest") is short
    fewer = routes[routes["children"].to_numpy() > 0].copy()
    fewer.attrs = routes.attrs
    fewer = fewer.iloc[: len(fewer) // 2]
    other = edge_use(fewer, edges, "safest")
    assert other is not first
    assert other["children"].sum() < first["children"].sum()


@pytest.mark.parametrize("n_roads", [30, 80])
def test_streets_in_view_without_reprojecting_paths(monkeypatch, n_roads):
    """Above the segment budget the base map drops paths: reprojecting the roads alone keeps the same streets
    as clipping everything and dropping the paths; under it (few roads in view) the paths stay."""
    from childspace.outputs.maps import basemap

    monkeypatch.setattr(basemap, "_MAX_BASE_SEGMENTS", 50)
    x0, y0 = _origin()
    hw = ["footway"] * 60 + ["residential"] * n_roads + ["primary"] * 5
    rng = np.random.default_rng(1)
    xs = rng.uniform(0, 3000, len(hw))
    s = gpd.GeoDataFrame(
        {"highway": hw, "other": np.arange(len(hw))},
        geometry=[LineString([(x0 + x, y0 + 10 * i), (x0 + x + 40, y0 + 10 * i)]) for i, x in enumerate(xs)],
        crs=METRIC,
    )
    bbox = tuple(s.to_crs(4326).total_bounds)
    got = basemap._street_layer(basemap._clip_streets(s, bbox), 1e-5)
    want = basemap._street_layer(basemap._clip(s, bbox), 1e-5)
    assert got is not None and want is not None
    assert sorted(got[0].geometry.to_wkt()) == sorted(want[0].geometry.to_wkt())
    assert sorted(map(str, got[2])) == sorted(map(str, want[2]))
    assert "footway" not in set(got[2])  # 95 or 145 segments in view: over the budget of 50, paths dropped


def test_a_layer_off_at_first_is_built_when_switched_on(tmp_path):
    """A layer that is off when the page opens carries its data as a JSON element, parsed only when the layer
    is switched on (half of a county's routes map is such layers): in the browser it holds no features until
    then, and all of them, with their popups, after; a shown layer is built at once."""
    from _browser import dump_dom

    pts = _points(40)
    lines = gpd.GeoDataFrame(
        {"v": np.arange(30)},
        geometry=[LineString([(p.x, p.y), (p.x + 1e-4, p.y + 1e-4)]) for p in pts.geometry[:30]],
        crs=4326,
    )
    m = new_map([pts], "t", None, False, base=maps.Basemap(streets=None))
    shown = add_layer(m, pts, [{"radius": 4}] * 40, [f"p{i}" for i in range(40)], None, "shown")
    hidden = add_layer(
        m, pts, [{"radius": 5, "color": "red"}] * 40, [f"h{i}" for i in range(40)], None, "off", show=False
    )
    packed = add_layer(
        m,
        lines,
        [{"color": "blue"}] * 30,
        [f"l{i}" for i in range(30)],
        None,
        "off2",
        show=False,
        packed=True,
    )
    text = render_html(m)
    for layer in (hidden, packed):
        assert layer.lazy and f'<script type="application/json" id="{layer.get_name()}_data">' in text
        assert text.count(f"var {layer.get_name()} = L.geoJson(null, ") == 1
    assert not shown.lazy and f"{shown.get_name()}_data" not in text
    probe = f"""<script>window.addEventListener('load', function () {{ setTimeout(function () {{
        var h = {hidden.get_name()}, k = {packed.get_name()}, s = {shown.get_name()}, map = {m.get_name()};
        var out = {{shown: s.getLayers().length, before: h.getLayers().length + k.getLayers().length,
                    on: map.hasLayer(h)}};
        map.addLayer(h); map.addLayer(k);
        out.after = [h.getLayers().length, k.getLayers().length];
        out.popup = h.getLayers()[7].getPopup() ? 1 : 0;
        var ll = k.getLayers()[3].getLatLngs();
        out.line = [ll[0].lng, ll[0].lat, ll[1].lng, ll[1].lat];
        map.removeLayer(h); map.addLayer(h); out.again = h.getLayers().length;
        document.body.setAttribute('data-probe', JSON.stringify(out));
    }}, 50); }});</script></body>"""
    path = tmp_path / "lazy.html"
    path.write_text(text.replace("</body>", probe, 1), encoding="utf-8")
    dom = dump_dom(path)
    got = json.loads(re.search(r"data-probe=\"([^\"]+)\"", dom).group(1).replace("&quot;", '"'))
    assert got["shown"] == 40 and got["before"] == 0 and got["on"] is False
    assert got["after"] == [40, 30] and got["popup"] == 1 and got["again"] == 40  # built once
    p = lines.geometry.iloc[3].coords
    assert got["line"] == pytest.approx([p[0][0], p[0][1], p[1][0], p[1][1]], abs=2e-6)


def test_a_layer_off_at_first_with_values_json_cannot_read_is_built_at_once():
    """NaN or Infinity in a layer's text (JavaScript reads them, JSON.parse does not): built when the page
    opens, as before."""
    from childspace.outputs.maps._elements import GeoLayer

    ok = GeoLayer('{"type":"FeatureCollection","features":[]}', name="a", show=False)
    bad = GeoLayer('{"type":"FeatureCollection","features":[{"properties":{"v":NaN}}]}', name="b", show=False)
    assert ok.lazy and not bad.lazy
    assert not GeoLayer('{"type":"FeatureCollection","features":[]}', name="d", show=True).lazy


def test_the_view_is_fitted_before_any_layer_is_drawn(tmp_path):
    """The map is fitted to its data at once, before its first layer is added: drawn after the layers, the fit
    animated the zoom and drew every layer a second time when the animation ended (a county's routes map
    showed its first frame about a second later)."""
    from _browser import dump_dom

    pts = _points(40)
    m = new_map([pts], "t", None, False, base=maps.Basemap(streets=None))
    shown = add_layer(m, pts, [{"radius": 4}] * 40, [f"p{i}" for i in range(40)], None, "shown")
    text = render_html(m)
    fit = text.index(f"{m.get_name()}.fitBounds(")
    assert '"animate": false' in text[fit : fit + 400]
    assert fit < text.index(f"var {shown.get_name()} = L.geoJson(")
    hook = """<script>window.__ev = []; L.Map.addInitHook(function () {
        this.on('layeradd zoomstart zoomend moveend', function (e) { window.__ev.push(e.type); }); });</script>"""
    probe = f"""<script>window.addEventListener('load', function () {{ setTimeout(function () {{
        var map = {m.get_name()}, s = {shown.get_name()}, ev = window.__ev;
        var first = ev.indexOf('layeradd');
        var out = {{ev: ev.slice(first), zoom: map.getZoom(), features: s.getLayers().length,
            popups: s.getLayers().filter(function (l) {{ return !!l.getPopup(); }}).length,
            fits: map.getBounds().contains(s.getBounds())}};
        document.body.setAttribute('data-probe', JSON.stringify(out));
    }}, 400); }});</script></body>"""
    path = tmp_path / "fit.html"
    text = text.replace("<body>", "<body>" + hook, 1).replace("</body>", probe, 1)
    path.write_text(text, encoding="utf-8")
    got = json.loads(re.search(r"data-probe=\"([^\"]+)\"", dump_dom(path)).group(1).replace("&quot;", '"'))
    assert "zoomstart" not in got["ev"] and "zoomend" not in got["ev"] and "moveend" not in got["ev"]
    assert got["zoom"] != 13 and got["fits"]  # fitted (the map opens at zoom 13 before the fit)
    assert got["features"] == 40 and got["popups"] == 40


def test_a_canvas_map_keeps_its_popups_tooltips_and_outline_only_hits(tmp_path):
    """A map drawn on a canvas (the routes map: thousands of clickable streets): no SVG path per feature, and
    every shown layer still holds all its features with their popups and tooltips; a click on a street opens
    its popup, one on a school its own; an outline-only polygon (community boundaries) shows its tooltip on its
    outline, not anywhere inside it (as an SVG path does)."""
    from _browser import dump_dom
    from shapely.geometry import Polygon

    x0, y0 = _origin()
    lines = gpd.GeoDataFrame(
        {"v": np.arange(10)},
        geometry=[LineString([(x0 + 100 * i, y0 + 600), (x0 + 100 * i, y0 + 900)]) for i in range(10)],
        crs=METRIC,
    ).to_crs(4326)
    pts = gpd.GeoDataFrame(
        {"v": np.arange(10)}, geometry=[Point(x0 + 100 * i, y0) for i in range(10)], crs=METRIC
    ).to_crs(4326)
    area = gpd.GeoDataFrame(
        {"v": [0]},
        geometry=[Polygon([(x0 + 1500, y0), (x0 + 2500, y0), (x0 + 2500, y0 + 900), (x0 + 1500, y0 + 900)])],
        crs=METRIC,
    ).to_crs(4326)
    m = new_map([lines, pts, area], "t", None, False, base=maps.Basemap(streets=None), canvas=True)
    a = add_layer(m, area, [{"color": "#777", "weight": 2, "fill": False}], None, ["area"], "area")
    ln = add_layer(
        m,
        lines,
        [{"color": "#2166ac", "weight": 6}] * 10,
        [f"l{i}" for i in range(10)],
        [f"t{i}" for i in range(10)],
        "lines",
    )
    pt = add_layer(m, pts, [{"radius": 6, "fillOpacity": 1}] * 10, [f"p{i}" for i in range(10)], None, "pts")
    # lines shorter than a pixel: a dot of their width with round caps (as SVG draws them), none with dashes
    short = gpd.GeoDataFrame(
        {"v": [0, 1]},
        geometry=[LineString([(x0 + dx, y0 + 300), (x0 + dx + 0.05, y0 + 300)]) for dx in (300, 700)],
        crs=METRIC,
    ).to_crs(4326)
    dots = add_layer(
        m,
        short,
        [{"color": "#ff0000", "weight": 8}, {"color": "#ff0000", "weight": 8, "dashArray": "1 0"}],
        ["d0", "d1"],
        None,
        "dots",
    )
    probe = f"""<script>window.addEventListener('load', function () {{
        var map = {m.get_name()}, A = {a.get_name()}, L1 = {ln.get_name()}, P = {pt.get_name()};
        var cv = document.querySelector('.leaflet-overlay-pane canvas'), out = {{}};
        function at(ll, type) {{
            var p = map.latLngToContainerPoint(ll), r = map.getContainer().getBoundingClientRect();
            cv.dispatchEvent(new MouseEvent(type, {{clientX: r.left + p.x, clientY: r.top + p.y, bubbles: true}}));
        }}
        function count(g, what) {{ return g.getLayers().filter(function (l) {{ return !!l[what](); }}).length; }}
        out.svg = document.querySelectorAll('path.leaflet-interactive').length;
        // the canvas draws on the next animation frame, which may come after 'load' (e.g. on a busy machine):
        // the pending draw is made now, so the pixels read are those the page shows
        var R = {dots.get_name()}.getLayers()[0]._renderer;
        if (R._redrawRequest) {{ L.Util.cancelAnimFrame(R._redrawRequest); R._redraw(); }}
        out.dots = {dots.get_name()}.getLayers().map(function (l) {{
            var b = l._renderer._bounds, q = map.latLngToLayerPoint(l.getCenter()), r = window.devicePixelRatio || 1;
            var x = Math.round((q.x - b.min.x) * r), y = Math.round((q.y - b.min.y) * r);
            var px = cv.getContext('2d').getImageData(x, y, 1, 1).data;
            return px[0] > 200 && px[1] < 80 && px[3] > 200;
        }});
        out.canvas = !!cv;
        out.n = [A.getLayers().length, L1.getLayers().length, P.getLayers().length];
        out.popups = [count(L1, 'getPopup'), count(P, 'getPopup')];
        out.tooltips = [count(A, 'getTooltip'), count(L1, 'getTooltip')];
        at(L1.getLayers()[4].getCenter(), 'click');
        out.clicked = map._popup && map.hasLayer(map._popup) ? map._popup.getContent() : null;
        map.closePopup();
        at(P.getLayers()[7].getLatLng(), 'click');
        out.clickedPoint = map._popup && map.hasLayer(map._popup) ? map._popup.getContent() : null;
        map.closePopup();
        var poly = A.getLayers()[0], b = poly.getBounds();
        at(b.getCenter(), 'mousemove');
        setTimeout(function () {{
            out.inside = poly.isTooltipOpen();
            at(L.latLng(b.getCenter().lat, b.getWest()), 'mousemove');
            setTimeout(function () {{
                out.edge = poly.isTooltipOpen();
                document.body.setAttribute('data-probe', JSON.stringify(out));
            }}, 60);
        }}, 60);
    }});</script></body>"""
    path = tmp_path / "canvas.html"
    path.write_text(render_html(m).replace("</body>", probe, 1), encoding="utf-8")
    got = json.loads(re.search(r"data-probe=\"([^\"]+)\"", dump_dom(path)).group(1).replace("&quot;", '"'))
    assert got["svg"] == 0 and got["canvas"]
    assert got["n"] == [1, 10, 10] and got["popups"] == [10, 10] and got["tooltips"] == [1, 10]
    assert got["clicked"] == "l4" and got["clickedPoint"] == "p7"
    assert got["inside"] is False and got["edge"] is True
    assert got["dots"] == [True, False]
