"""The offline base map packed from coordinate arrays gives the text packing its GeoJSON gave, and the maps'
per-process caches keep the base of each Basemap alive."""

from __future__ import annotations

import dataclasses
import gc

import geopandas as gpd
import numpy as np
import shapely

from childspace.outputs.maps import _page
from childspace.outputs.maps._elements import pack_features, pack_geojson
from childspace.outputs.maps.basemap import Basemap, per_base


def _geoms() -> np.ndarray:
    rng = np.random.default_rng(7)
    x0, y0 = 116.3912345, 39.9067891
    out = []
    for i in range(40):
        dx, dy = rng.uniform(-0.05, 0.05, 2)
        pts = np.cumsum(rng.normal(0, 1e-4, (5, 2)), axis=0) + (x0 + dx, y0 + dy)
        kind = i % 6
        if kind == 0:
            out.append(shapely.Point(*pts[0]))
        elif kind == 1:
            out.append(shapely.LineString(pts))
        elif kind == 2:  # a polygon with a hole
            c = shapely.Point(*pts[0])
            out.append(c.buffer(1e-3).difference(c.buffer(3e-4)))
        elif kind == 3:
            out.append(shapely.MultiPoint(pts))
        elif kind == 4:
            out.append(shapely.MultiLineString([pts[:3], pts[2:] + 1e-3]))
        else:
            a, b = shapely.Point(*pts[0]), shapely.Point(*(pts[0] + 5e-3))
            out.append(shapely.MultiPolygon([a.buffer(1e-3), b.buffer(1e-3).difference(b.buffer(2e-4))]))
    return np.asarray(out, dtype=object)


def test_pack_features_equals_packing_the_geojson() -> None:
    geoms = _page.ready_geoms(_geoms(), simplify_m=1.0)
    props = [{"_s": i % 3, "_t": "路 </b> road"} if i % 2 else {"_s": 0} for i in range(len(geoms))]
    text = _page.features_json(geoms, props, ready=True)
    assert text == _page.features_json(_geoms(), props, simplify_m=1.0)
    assert pack_features(geoms, props) == pack_geojson(text)


def test_pack_features_leaves_other_geometries_to_the_text() -> None:
    line = shapely.LineString([(116.0, 39.0), (116.1, 39.1)])
    for odd in (
        shapely.Point(),
        shapely.GeometryCollection([line]),
        shapely.LinearRing([(0, 0), (1, 0), (1, 1)]),
    ):
        assert pack_features(np.asarray([line, odd], dtype=object), [{}, {}]) is None


def test_add_layer_packed_matches_pack_geojson() -> None:
    frame = gpd.GeoDataFrame(geometry=list(_geoms()), crs=4326)
    m = _page.new_map([frame], "t", None, synthetic=False)
    layer = _page.add_layer(m, frame, [{"color": "#123456"}] * len(frame), None, None, "x", packed=True)
    assert layer.packed_json == pack_geojson(layer.data_json)


def test_per_base_keeps_each_base_alive() -> None:
    cache: dict = {}
    a = Basemap(streets=None)
    b = dataclasses.replace(a)
    per_base(cache, a)["k"] = 1
    per_base(cache, b)["k"] = 2
    assert per_base(cache, a)["k"] == 1 and per_base(cache, b)["k"] == 2
    del b
    gc.collect()
    per_base(cache, Basemap(streets=None))  # a new base drops the entries of those no longer alive
    assert len(cache) == 2 and per_base(cache, a)["k"] == 1
