"""Work the maps and figures of one run share (hexagon cells, packed base map, off-screen canvas, PDF font order)
gives the same results as doing it map by map."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from test_maps import make_sample

from childspace.analysis.aggregate import hex_totals
from childspace.outputs import atlas
from childspace.outputs._figure_base import _new_figure
from childspace.outputs.figures import BUNDLED_FAMILY, _style, bundled_font_first, cjk_font_stack
from childspace.outputs.maps._elements import pack_geojson
from childspace.outputs.maps._page import features_json
from childspace.outputs.maps.coverage import _HEX_CACHE, _hex_totals_shared


@pytest.fixture(scope="module")
def sample():
    return make_sample()


def _homes(n: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    x = 120.95 + rng.random(n) * 0.08  # Yueqing, ~8 x 6 km
    y = 28.10 + rng.random(n) * 0.05
    return gpd.GeoDataFrame(
        {"children": rng.integers(0, 4, n), "cov_a": rng.random(n) < 0.6, "cov_b": rng.random(n) < 0.3},
        geometry=shapely.points(x, y),
        crs=4326,
    )


def test_shared_hexagons_equal_hex_totals_for_each_category():
    acc = _homes(3000, 1)
    kids = acc["children"].to_numpy(dtype=float)
    for col in ("cov_a", "cov_b"):  # the second map reuses the cells of the first
        sel = ~acc[col].to_numpy()
        got = _hex_totals_shared(acc, acc, sel, kids[sel], 300.0)
        want = hex_totals(acc[sel], kids[sel], 300.0)
        pd.testing.assert_frame_equal(
            pd.DataFrame(got.drop(columns="geometry")), pd.DataFrame(want.drop(columns="geometry"))
        )
        assert got.crs == want.crs
        assert shapely.equals_exact(got.geometry.values, want.geometry.values, tolerance=1e-6).all()
        assert got["total"].sum() == pytest.approx(kids[sel].sum())
    assert len(_HEX_CACHE["cells"]) == 1  # one binning of the homes for both categories
    other = _homes(500, 2)  # another frame: cells computed for it, not taken from the first
    sel = np.ones(len(other), bool)
    got = _hex_totals_shared(other, other, sel, np.ones(len(other)), 300.0)
    assert got["points"].sum() == 500


def test_packed_geojson_unpacks_to_the_same_coordinates():
    geoms = np.array(
        [
            shapely.linestrings([[120.9512345, 28.1], [120.952, 28.1004567], [120.9531, 28.1011]]),
            shapely.multilinestrings([[[121.0, 28.0], [121.001, 28.002]], [[121.1, 28.1], [121.1, 28.1001]]]),
            shapely.Polygon(
                [(121, 28), (121.01, 28), (121.01, 28.01), (121, 28)],
                [[(121.002, 28.001), (121.004, 28.001), (121.004, 28.003), (121.002, 28.001)]],
            ),
            shapely.multipolygons(
                [shapely.box(121, 28, 121.001, 28.001), shapely.box(121.2, 28, 121.3, 28.1)]
            ),
            shapely.points(120.9999995, 28.0000004),
        ],
        dtype=object,
    )
    text = features_json(geoms, [{"_s": i} for i in range(len(geoms))])
    packed = json.loads(pack_geojson(text))  # type: ignore[arg-type]
    plain = json.loads(text)

    def unpack(t: str, c):  # what the page's script does
        def u(a):
            xy = np.cumsum(np.asarray(a, dtype=np.int64).reshape(-1, 2), axis=0)
            return (xy / 1e6).tolist()

        if t == "Point":
            return [c[0] / 1e6, c[1] / 1e6]
        if t == "LineString":
            return u(c)
        if t == "MultiPolygon":
            return [[u(r) for r in p] for p in c]
        return [u(r) for r in c]

    for f, g in zip(packed["features"], plain["features"]):
        assert f["properties"] == g["properties"]
        got = unpack(f["geometry"]["type"], f["geometry"]["coordinates"])
        np.testing.assert_array_equal(
            np.asarray(
                shapely.get_coordinates(
                    shapely.from_geojson(json.dumps({**g["geometry"], "coordinates": got}))
                )
            ),
            np.asarray(shapely.get_coordinates(shapely.from_geojson(json.dumps(g["geometry"])))),
        )
    assert len(json.dumps(packed["features"][0]["geometry"])) < len(
        json.dumps(plain["features"][0]["geometry"])
    )
    # a geometry collection is left as plain GeoJSON
    gc = features_json(np.array([shapely.GeometryCollection([shapely.Point(1, 2)])], dtype=object), [{}])
    assert pack_geojson(gc) is None


def test_base_map_written_packed_and_smaller(sample, tmp_path):
    from childspace.outputs import maps

    s = sample
    rng = np.random.default_rng(3)
    x0, y0 = 120.95, 28.10
    lines = [
        shapely.linestrings(np.c_[x0 + rng.random(30) * 0.05, y0 + rng.random(30) * 0.05]) for _ in range(200)
    ]
    base = maps.Basemap(
        streets=gpd.GeoDataFrame({"highway": ["residential"] * 200}, geometry=lines, crs=4326)
    )
    m = maps.coverage_map(s["boundaries"], s["facilities"], category="kindergarten", base=base)
    text = maps.save_map(m, tmp_path / "m.html").read_text(encoding="utf-8")
    from childspace.outputs.maps._page import GeoLayer

    layer = next(c for c in m._children.values() if isinstance(c, GeoLayer) and c.packed_json)
    assert layer.packed_json in text and layer.data_json not in text
    assert len(layer.packed_json) < 0.6 * len(layer.data_json)


def test_offscreen_canvas_draws_only_when_saved(sample):
    fig, ax = _new_figure()
    calls = []
    fig.canvas.draw = lambda *a, **k: calls.append(1)  # type: ignore[method-assign]
    s = sample
    b = s["boundaries"].to_crs(3857)
    b.plot(ax=ax)  # GeoPandas asks the canvas to draw: nothing is drawn
    b.boundary.plot(ax=ax)
    assert calls == []


def test_pdf_pages_use_the_bundled_font_first(sample, tmp_path):
    stack = cjk_font_stack()
    import matplotlib as mpl

    with _style():
        assert list(mpl.rcParams["font.family"]) == list(stack)
    with bundled_font_first(), _style():
        assert mpl.rcParams["font.family"][0] == BUNDLED_FAMILY
    with _style():  # only inside the block
        assert list(mpl.rcParams["font.family"]) == list(stack)
    s = sample
    path = atlas.write_atlas(
        tmp_path / "a.pdf",
        boundaries=s["boundaries"],
        unit_coverage=s["unit_coverage"],
        facilities=s["facilities"],
        pilots_status=s["pilots"].head(2),
        catchments=s["catchments"],
        paper="A4",
    )
    data = path.read_bytes()
    assert b"ChildspaceSansCJKSC" in data  # the embedded face


def test_simplify_areas_stays_valid_and_within_tolerance():
    from childspace.outputs._simplify import simplify_areas

    rng = np.random.default_rng(5)
    # a staircase outline of raster cells (7.5 m), as the dissolved walking areas have, with a hole
    steps = np.cumsum(rng.choice([0.0, 7.5], size=(400, 2)), axis=0)
    ring = np.vstack([[0, 0], steps, [0, steps[-1, 1]], [0, 0]])
    area = shapely.Polygon(ring).buffer(0)
    hole = shapely.box(100, 100, 130, 130)
    geoms = np.array([area.difference(hole), shapely.Point(1, 1)], dtype=object)
    out = simplify_areas(geoms, 5.0)
    assert shapely.is_valid(out[0]) and out[1].equals(geoms[1])
    assert shapely.get_num_coordinates(out[0]) < shapely.get_num_coordinates(geoms[0])
    assert shapely.hausdorff_distance(out[0], geoms[0]) <= 5.0 + 1e-9
    assert out[0].area == pytest.approx(geoms[0].area, rel=0.02)
    # a thin spike that plain Douglas–Peucker would cut into a self-touching ring: the result is still valid
    bow = shapely.Polygon([(0, 0), (10, 0), (10, 10), (5, 0.5), (0, 10)])
    assert shapely.is_valid(simplify_areas(np.array([bow], dtype=object), 2.0)[0])


def test_pilot_without_geometry_is_named_in_a_warning_and_gets_no_page(sample, tmp_path):
    import re

    from childspace._errors import ChildspaceWarning

    s = sample
    pilots = s["pilots"].head(3).copy()
    pilots.loc[pilots.index[1], "geometry"] = None
    with pytest.warns(ChildspaceWarning, match="1 of 3 pilot units have no geometry"):
        path = atlas.write_atlas(
            tmp_path / "p.pdf", boundaries=s["boundaries"], pilots_status=pilots, paper="A4"
        )
    assert len(re.findall(rb"/Type\s*/Page\b", path.read_bytes())) == 2
