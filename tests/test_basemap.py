"""The offline base map read from the OSM extract, in the HTML maps and figures, and the embedded Chinese web font."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from _browser import dump_dom, screenshot
from conftest import realdata, sample_file

from childspace.osm.landcover import dissolve, read_landcover
from childspace.outputs import maps
from childspace.outputs.maps import webfont

#: Andorra la Vella's place node in the Andorra extract carries name:zh=安道尔城
ANDORRA_LA_VELLA = (1.52125, 42.50694)


@pytest.fixture(scope="module")
def andorra():
    return read_landcover(realdata("andorra.osm.pbf"))


def _base_from(lc, **kw) -> maps.Basemap:
    return maps.Basemap(
        built=dissolve(lc.built),
        green=dissolve(lc.green),
        water=dissolve(lc.water),
        waterways=dissolve(lc.waterways),
        roads=dissolve(lc.roads, by="highway"),
        places=lc.places,
        attribution="底图数据 Base map data &copy; OpenStreetMap contributors",
        **kw,
    )


def test_andorra_landcover_has_every_layer_and_the_chinese_place_name(andorra):
    lc = andorra
    for name in ("water", "waterways", "green", "built", "roads", "places"):
        assert len(getattr(lc, name)) > 0, name
    # multipolygon relations are assembled too (libosmium), not only closed ways
    assert (
        lc.water["osm_id"].str.startswith("osm/relation/").any()
        or lc.built["osm_id"].str.startswith("osm/relation/").any()
    )
    assert set(lc.roads["highway"]) <= {
        "motorway",
        "trunk",
        "primary",
        "secondary",
        "motorway_link",
        "trunk_link",
        "primary_link",
        "secondary_link",
    }
    assert set(lc.waterways["waterway"]) <= {"river", "canal"}
    town = lc.places[lc.places["name"] == "Andorra la Vella"].iloc[0]
    assert town["label"] == "安道尔城" and town["name_zh"] == "安道尔城" and town["rank"] == 2
    assert (town.geometry.x, town.geometry.y) == pytest.approx(ANDORRA_LA_VELLA, abs=1e-4)
    # places without a Chinese name keep their local name
    ordino = lc.places[lc.places["name"] == "Ordino"].iloc[0]
    assert ordino["label"] == "Ordino" and ordino["rank"] == 2
    # rounded to 1e-5 degrees (about 1 m): a small map file
    xy = shapely.get_coordinates(lc.built.geometry.values)
    assert np.allclose(xy * 1e5, np.round(xy * 1e5), atol=1e-6)
    assert all(lc.built.geometry.geom_type.isin(["Polygon", "MultiPolygon"]))


def test_landcover_is_clipped_to_the_area_and_its_buffer(andorra):
    x, y = ANDORRA_LA_VELLA
    area = shapely.box(x - 0.01, y - 0.01, x + 0.01, y + 0.01)
    lc = read_landcover(realdata("andorra.osm.pbf"), area=area, buffer_m=200)
    keep = area.buffer(0.0035)  # 200 m is 0.0018 degrees of latitude, 0.0025 of longitude here
    for name in ("water", "green", "built", "roads", "places"):
        g = getattr(lc, name)
        assert len(g) < len(getattr(andorra, name)), name
        assert g.geometry.within(keep).all(), name
    assert "安道尔城" in set(lc.places["label"])
    assert "Ordino" not in set(lc.places["label"])  # 5 km away


def test_sample_extract_gives_its_parks_water_and_river():
    lc = read_landcover(sample_file("osm/sample.osm"))
    assert len(lc.water) == 1 and len(lc.waterways) == 1
    assert lc.waterways["waterway"].iloc[0] == "river"
    assert len(lc.green) >= 10 and set(lc.green["tag"]) == {"park"}  # 12 leisure=park areas, none tiny
    assert len(lc.roads) > 0


def test_dissolve_merges_overlaps_into_one_feature():
    g = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3)], crs=4326)
    d = dissolve(g)
    assert len(d) == 1 and d.geometry.iloc[0].area == pytest.approx(7.0)  # no hole where they overlap


def _andorra_map(andorra, **kw):
    x, y = ANDORRA_LA_VELLA
    fac = gpd.GeoDataFrame(
        {"facility_id": ["k1"], "name": ["示例幼儿园"], "category": ["kindergarten"]},
        geometry=[shapely.Point(x + 0.004, y + 0.002)],
        crs=4326,
    )
    units = gpd.GeoDataFrame(
        {"unit_id": ["u1"], "name": ["示例社区"], "level": ["community"]},
        geometry=[shapely.box(x - 0.02, y - 0.015, x + 0.02, y + 0.015)],
        crs=4326,
    )
    return maps.coverage_map(units, fac, category="kindergarten", base=_base_from(andorra), **kw)


def test_offline_base_map_in_the_html_map_with_chinese_place_names(andorra, tmp_path):
    m = _andorra_map(andorra)
    text = maps.render_html(m)
    # built-up, green, water (fills), rivers, major roads: each in its pane under the data, in its light colour
    for key, (colour, z) in maps.basemap.BASE_COLOURS.items():
        assert f'"csBase{z}"' in text and colour in text, key
    assert '"csBase256"' in text  # major roads
    # no tile, nothing from the network
    assert "{z}" not in text and "tile.openstreetmap.org" not in text and "cs-tile-notice" not in text
    assert not re.search(r"""<(script|link|img)\b[^>]*(src|href)\s*=\s*["']https?://""", text)
    assert not re.search(r"url\(\s*['\"]?https?://", text)
    p = maps.save_map(m, tmp_path / "andorra.html")
    dom = dump_dom(p, budget_ms=4000)
    labels = re.findall(r'class="[^"]*cs-place r(\d)[^"]*"[^>]*><span>(.*?)</span>', dom)
    assert ("2", "安道尔城<small>Andorra la Vella</small>") in labels
    assert "OpenStreetMap contributors" in dom  # the base-map data is credited
    assert 'data-tile-errors="1"' not in dom


def test_web_font_is_embedded_and_covers_the_map_characters(andorra):
    from fontTools.ttLib import TTFont

    text = maps.render_html(_andorra_map(andorra))
    m = re.search(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", text)
    assert m is not None
    data = base64.b64decode(m.group(1))
    assert len(m.group(1)) < 300_000
    cmap = set(TTFont(io.BytesIO(data)).getBestCmap())
    bundled = webfont._cmap()
    used = {ord(c) for c in webfont.page_characters(text.replace(m.group(1), ""))}
    assert {ord(c) for c in "安道尔城示例幼儿园社区图例"} <= used
    assert used & bundled <= cmap  # every character of the page the bundled font has is in the subset
    assert len(cmap) < len(used) + 10  # only those (and .notdef/space)
    assert f'"{webfont.FONT_FAMILY}"' in text and "cs-webfont" in text
    assert webfont.embed_font(text) == text  # embedded once


def _glyph_shots(tmp_path, css: str) -> tuple[np.ndarray, np.ndarray]:
    import matplotlib.image as mpimg

    shots = []
    for ch in ("安", "城"):
        page = tmp_path / f"{ord(ch)}-{len(css)}.html"
        page.write_text(
            f"<html><head><meta charset='utf-8'><style>{css}</style></head><body style='margin:0;background:#fff'>"
            f"<div class='cs-title' style='font-size:120px;line-height:1'>{ch}{ch}</div></body></html>",
            encoding="utf-8",
        )
        shots.append(screenshot(page, tmp_path / f"{ord(ch)}-{len(css)}.png", size=(300, 160)))
    a, b = (np.asarray(mpimg.imread(str(s)))[..., :3] for s in shots)
    return a, b


def test_chinese_text_renders_as_glyphs_without_a_system_font(tmp_path, monkeypatch):
    """With no Chinese font on the system (fontconfig given only matplotlib's Latin DejaVu fonts), two different
    hanzi give two different images with the embedded font; without it both are the same empty box (tofu)."""
    import matplotlib

    latin = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        "<?xml version='1.0'?><!DOCTYPE fontconfig SYSTEM 'fonts.dtd'><fontconfig>"
        f"<dir>{latin}</dir><cachedir>{tmp_path / 'fc-cache'}</cachedir></fontconfig>",
        encoding="utf-8",
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(conf))
    a, b = _glyph_shots(tmp_path, "")
    assert np.abs(a - b).sum() < 1e-6  # no font: the same box for both
    a, b = _glyph_shots(tmp_path, webfont.font_face_css({"安", "城"}))
    assert (a.sum(axis=2) < 1.5).sum() > 500  # dark strokes drawn
    assert np.abs(a - b).sum() > 50  # different glyphs, not two identical boxes


def test_run_reads_the_base_map_from_the_extract(sample_run, sample_dir, tmp_path):
    from childspace.run import pipeline
    from childspace.run.osm_inputs import basemap_from_osm

    cfg = pipeline.load_config(sample_dir / "sample.toml", outputs=tmp_path)
    layers = basemap_from_osm(cfg, sample_run.inputs)
    assert len(layers["green"]) == 1 and len(layers["water"]) == 1 and len(layers["waterways"]) == 1
    green = layers["green"].geometry.iloc[0]
    assert green.geom_type in ("Polygon", "MultiPolygon") and green.area > 0
    base = maps.Basemap(streets=sample_run.network.edges, **layers)
    text = maps.render_html(
        maps.coverage_map(
            sample_run.inputs.communities, sample_run.layers["facilities"], category="kindergarten", base=base
        )
    )
    for key in ("green", "water", "waterways"):
        colour, z = maps.basemap.BASE_COLOURS[key]
        assert f'"csBase{z}"' in text and colour in text, key
    assert "{z}" not in text


def test_draw_basemap_on_a_figure(andorra):
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import PathPatch

    from childspace.inputs.projection import local_crs

    crs = local_crs(*ANDORRA_LA_VELLA)
    fig = Figure()
    ax = fig.add_subplot()
    maps.basemap.draw_basemap(ax, _base_from(andorra), crs)
    gids = [a.get_gid() for a in ax.get_children()]
    for gid in ("cs-base-built", "cs-base-green", "cs-base-water", "cs-base-waterways", "cs-base-roads"):
        assert gid in gids, gid
    assert all(a.get_zorder() < 1 for a in ax.get_children() if (a.get_gid() or "").startswith("cs-base"))
    assert "安道尔城" in [t.get_text() for t in ax.texts]
    patch = next(a for a in ax.patches if a.get_gid() == "cs-base-built")
    assert isinstance(patch, PathPatch)
    roads = next(a for a in ax.collections if a.get_gid() == "cs-base-roads")
    assert isinstance(roads, LineCollection) and len(roads.get_segments()) > 10
    # the built-up fill covers the built-up area (the path encloses the same area as the polygons)
    built = dissolve(andorra.built).to_crs(crs).geometry.iloc[0]
    verts = patch.get_path().vertices
    assert verts[:, 0].min() == pytest.approx(built.bounds[0], abs=1.0)
