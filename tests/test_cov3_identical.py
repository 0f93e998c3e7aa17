"""The shortcuts of the coverage stages give what the plain pandas / geopandas / GEOS calls give: the facility-id
columns built from the ids used (``_id_column``), the dissolved areas projected once per process
(``to_crs_cached``) and the pilots' homes found on their coordinates (``_origins_within``)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace.analysis import _coverage_base as cb
from childspace.analysis import pilots
from childspace.analysis.coverage import _id_column


def test_id_column_is_the_inferred_column():
    ids = np.array(["F1", "F2", "F3", None], dtype=object)  # (the last: "no facility", position -1)
    for pos in (
        np.array([0, 2, -1, 2, 1, 0]),
        np.array([-1, -1, -1]),
        np.array([1, 1]),
        np.zeros(0, dtype=np.int64),
    ):
        want = pd.DataFrame({"x": ids[pos]})["x"]
        got = pd.DataFrame({"x": _id_column(ids, pos)})["x"]
        pd.testing.assert_series_equal(got, want, check_exact=True)


def _wkb(values) -> list:
    return [None if g is None else shapely.to_wkb(g) for g in np.asarray(values, dtype=object)]


def test_to_crs_cached_is_to_crs():
    rng = np.random.default_rng(3)
    pts = shapely.points(np.c_[rng.uniform(120.9, 121.0, 6), rng.uniform(28.0, 28.1, 6)])
    polys = list(shapely.buffer(pts, 0.004, quad_segs=4)) + [shapely.Polygon(), None]
    gdf = gpd.GeoDataFrame({"category": list("abcdefgh")}, geometry=polys, crs="EPSG:4326")
    want = gdf.to_crs("EPSG:4549")
    for _ in range(2):  # the second time from the memory
        got = cb.to_crs_cached(gdf, "EPSG:4549")
        assert _wkb(got.geometry.values) == _wkb(want.geometry.values)
        assert got.crs == want.crs and list(got.columns) == list(want.columns)
        pd.testing.assert_frame_equal(
            pd.DataFrame(got.drop(columns="geometry")), pd.DataFrame(want.drop(columns="geometry"))
        )
    # a subset in another order, as a GeoSeries: the same geometries
    sub = gdf.geometry.iloc[[5, 0, 3]]
    assert _wkb(cb.to_crs_cached(sub, "EPSG:4549").values) == _wkb(sub.to_crs("EPSG:4549").values)
    # a changed geometry is projected, not taken from the memory
    moved = gdf.copy()
    moved.loc[0, "geometry"] = shapely.affinity.translate(gdf.geometry.iloc[0], 0.001)
    assert _wkb(cb.to_crs_cached(moved, "EPSG:4549").geometry.values) == _wkb(
        moved.to_crs("EPSG:4549").geometry.values
    )
    # the frame given is not changed
    assert _wkb(gdf.geometry.values) == _wkb(polys)


def test_origins_within_on_coordinates_matches_the_tree_query():
    rng = np.random.default_rng(5)
    units = gpd.GeoDataFrame(
        {"unit_id": ["a", "b"]},
        geometry=[shapely.box(121.0, 28.0, 121.01, 28.01), shapely.box(121.02, 28.0, 121.03, 28.02)],
        crs="EPSG:4326",
    )
    xy = np.c_[rng.uniform(120.99, 121.04, 4000), rng.uniform(27.99, 28.03, 4000)]
    origins = gpd.GeoDataFrame(
        {"origin_id": np.arange(len(xy)).astype(str), "children": 1},
        geometry=shapely.points(xy),
        crs="EPSG:4326",
        index=np.arange(len(xy)) * 3,
    )
    crs = cb.local_crs_for(units)
    polys = shapely.buffer(np.asarray(units.to_crs(crs).geometry.values, dtype=object), 1.0)
    idx, _ = shapely.STRtree(polys).query(cb.metric_points(origins.geometry, crs), predicate="intersects")
    got = pilots._origins_within(origins, units)
    assert 0 < len(got) < len(origins)
    pd.testing.assert_frame_equal(got, origins.iloc[np.unique(idx)])
