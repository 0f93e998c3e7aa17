"""What a map shows when it opens, its legend, and offline-first base maps (no tile requested by default)."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
from _browser import dump_dom, require_chromium
from shapely.geometry import LineString
from test_maps import make_sample

from childspace._errors import ChildspaceError
from childspace.inputs.datum import wgs84_to_gcj02
from childspace.outputs import maps
from childspace.outputs.style import STRESS_LABELS, coverage_classes


@pytest.fixture(scope="module")
def sample():
    return make_sample()


def _checked_layers(dom: str) -> dict[str, bool]:
    """Layer name -> ticked, from the rendered layer control."""
    out = {}
    for m in re.finditer(
        r"<input (?=[^>]*leaflet-control-layers-selector)([^>]*)>\s*<span>\s*(.*?)</span>", dom
    ):
        out[m.group(2).strip()] = "checked" in m.group(1)
    return out


def test_coverage_map_opens_on_the_gap_against_the_target(sample, tmp_path):
    require_chromium()
    s = sample
    m = maps.coverage_map(
        s["boundaries"],
        s["facilities"],
        s["service_areas"],
        s["access"],
        s["gaps"],
        "kindergarten",
        unit_coverage=s["unit_coverage"],
    )
    dom = dump_dom(maps.save_map(m, tmp_path / "c.html"))
    layers = _checked_layers(dom)
    on = sorted(k for k, v in layers.items() if v)
    off = sorted(k for k, v in layers.items() if not v)
    # shown: the coverage choropleth, the facilities, boundaries; everything else one click away
    assert any(k.startswith("步行覆盖率（5/8 低于目标）") for k in on), on
    assert "幼儿园（2） Kindergarten (2)" in on
    for name in (
        "步行服务区（300 米 m） Walking service area",
        "直线服务区（300 米 m） Straight-line service area",
        "覆盖缺口（按儿童数） Gaps (by children)",
        "未覆盖住户（步行） Uncovered homes (on foot)",
    ):
        assert name in off, (name, on)
    # the classes are tied to the 80 % target: 10 % and 95 % communities fall in the lowest / the meeting class
    assert (
        f'fill="{coverage_classes(80)[0].colour}"' in dom
        and f'fill="{coverage_classes(80)[4].colour}"' in dom
    )
    # the legend of the layers that are off is folded, and complete
    assert "其他图层（勾选后显示） Other layers (tick to show)" in dom
    assert "≥80% 达到目标 meets target" in dom and "60–80% 低于目标 below target" in dom


def test_routes_map_opens_on_hazards_with_a_complete_legend(sample, tmp_path):
    require_chromium()
    s = sample
    m = maps.routes_map(s["routes"], s["hazards"], s["walksheds"], s["schools"], boundaries=s["boundaries"])
    dom = dump_dom(maps.save_map(m, tmp_path / "r.html"), size=(1366, 768))
    layers = _checked_layers(dom)
    assert layers["隐患过街点（2） Hazard crossings (2)"] and layers["隐患路段（1） Hazard segments (1)"]
    assert not layers["安全步行范围 Safe walkshed"] and not layers["普通步行范围 Plain walkshed"]
    assert not layers["最短路线（6） Shortest routes (6)"]
    # every hazard level present has its legend row (the orange level-3 hazards were missing before)
    levels = sorted(set(s["hazards"]["level"].astype(int)))
    for lv in levels:
        assert f"过街点 {STRESS_LABELS[lv][0]} Crossing, {STRESS_LABELS[lv][1]}" in dom
    # hazards are numbered as in the tables
    for rank in s["hazards"]["rank"].astype(int):
        assert f'<span class="hz">{rank}</span>' in dom
    # popups name schools, not codes
    text = maps.render_html(m)
    names = dict(zip(s["schools"]["facility_id"], s["schools"]["name"]))
    assert any(n in text for n in names.values())
    # on a 1366 x 768 screen the layer list is folded (the legend keeps its room)
    assert "leaflet-control-layers-expanded" not in re.search(
        r'<div class="leaflet-control-layers[^"]*"', dom
    ).group(0)


def test_no_tile_is_requested_offline_and_tiles_are_opt_in(sample, tmp_path):
    require_chromium()
    s = sample
    streets = gpd.GeoDataFrame(
        {"highway": ["primary", "residential", "footway"]},
        geometry=[
            LineString([(120.975, 28.118), (121.02, 28.118)]),
            LineString([(120.98, 28.11), (120.98, 28.13)]),
            LineString([(120.99, 28.11), (120.99, 28.13)]),
        ],
        crs=4326,
    )
    base = maps.Basemap(streets=streets)
    off = maps.render_html(maps.overview_map(s["boundaries"], s["unit_coverage"], "kindergarten", base=base))
    assert "{z}" not in off and "tile.openstreetmap.org" not in off and "tianditu" not in off
    assert "Offline base map: streets" in off and "cs-tile-notice" not in off
    # tiles when asked for: the template is in the page, and a failed tile shows the notice (network cut here)
    m = maps.overview_map(s["boundaries"], s["unit_coverage"], "kindergarten", base=base, basemaps=("osm",))
    text = maps.render_html(m)
    assert "tile.openstreetmap.org/{z}/{x}/{y}.png" in text
    dom = dump_dom(maps.save_map(m, tmp_path / "tiles.html"), budget_ms=5000)
    root = re.search(r"<html[^>]*>", dom).group(0)
    assert 'data-tile-errors="1"' in root, root
    assert re.search(r'id="cs-tile-notice"[^>]*style="display: block;"', dom)
    with pytest.raises(ChildspaceError, match="key"):
        maps.overview_map(s["boundaries"], s["unit_coverage"], "kindergarten", basemaps=("tianditu",))
    t = maps.render_html(
        maps.overview_map(
            s["boundaries"],
            s["unit_coverage"],
            "kindergarten",
            basemaps=("tianditu",),
            base=maps.Basemap(tianditu_key="KEY123"),
        )
    )
    assert "tianditu.gov.cn/vec_w/wmts" in t and "tk=KEY123" in t
    with pytest.raises(ChildspaceError, match="GCJ-02"):
        maps.overview_map(s["boundaries"], s["unit_coverage"], "kindergarten", basemaps=("amap", "osm"))


def test_amap_tiles_shift_every_overlay_to_gcj02(sample):
    s = sample
    fac = s["facilities"].iloc[:1]
    plain = maps.render_html(maps.coverage_map(None, fac, category="kindergarten"))
    shifted = maps.render_html(maps.coverage_map(None, fac, category="kindergarten", basemaps=("amap",)))
    x, y = float(fac.geometry.x.iloc[0]), float(fac.geometry.y.iloc[0])
    gx, _gy = (float(np.asarray(v).ravel()[0]) for v in wgs84_to_gcj02(np.array([x]), np.array([y])))
    assert str(round(x, 6)) in plain
    assert str(round(gx, 6)) in shifted and str(round(x, 6)) not in shifted
    assert abs(gx - x) > 0.003  # about 500 m in Yueqing


# Records where the layer list and the legend stand once the page's scripts ran (appended to a saved map).
_BOXES_JS = """<script>window.addEventListener('load', function () {
  var c = document.querySelector('.leaflet-control-layers'), l = document.getElementById('cs-legend');
  var cr = c.getBoundingClientRect(), lr = l.getBoundingClientRect();
  document.documentElement.setAttribute('data-boxes', [cr.top, cr.bottom, lr.top, lr.bottom,
    c.classList.contains('leaflet-control-layers-expanded') ? 1 : 0].join(','));
});</script>"""


@pytest.mark.parametrize("n_layers", [3, 24])
def test_the_open_layer_list_never_covers_the_legend(tmp_path, n_layers):
    """A long layer list (a routes map has ~20 layers) reached down over the legend's top on a 1400 x 900
    screen: it is folded then; a short one stays open above the legend."""
    require_chromium()
    import folium
    from shapely.geometry import box

    area = gpd.GeoDataFrame(geometry=[box(120.95, 28.10, 121.00, 28.14)], crs=4326)
    m = maps._page.new_map([area], "图层很多的地图 Many layers", None, synthetic=True)
    for i in range(n_layers):
        folium.FeatureGroup(name=f"图层 {i} Layer {i} with a rather long name").add_to(m)
    legend = [
        (f"分组 {j} Group {j}", [("fill", "#2166ac", f"类别 {k} Class {k}") for k in range(5)])
        for j in range(4)
    ]
    path = maps.save_map(maps._page.finish(m, legend), tmp_path / "m.html")
    path.write_text(
        path.read_text(encoding="utf-8").replace("</body>", _BOXES_JS + "</body>"), encoding="utf-8"
    )
    dom = dump_dom(path, size=(1400, 900))
    ctop, cbottom, ltop, lbottom, expanded = map(
        float, re.search(r'data-boxes="([^"]+)"', dom).group(1).split(",")
    )
    assert lbottom - ltop > 300  # the legend has its room (four groups of five rows)
    if n_layers == 3:
        assert expanded == 1 and cbottom < ltop
    else:
        assert expanded == 0 and cbottom - ctop < 60  # only the layers icon
