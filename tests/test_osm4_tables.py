"""The fourth round's cheaper table building: tag keys parsed as categories, tag columns sent to Arrow strings in
one call, reprojection from one coordinate array and the engine's text columns made with None directly; each
against the plain reading it replaces."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import realdata, sample_file
from pyproj import CRS

from childspace.network import WalkNetwork, engine
from childspace.osm import _opl
from childspace.osm.reader import _string_take, read_osm


def _plain_take(values: np.ndarray, idx: np.ndarray):
    """The former ``_string_take``: pandas' inference on the per-way values, then a take."""
    arr = pd.Series(values, dtype=None, copy=False).array
    if arr.dtype != object:
        sub = arr.take(idx, allow_fill=True)
        if not sub.isna().all():
            return sub
    out = np.full(len(idx), None, dtype=object)
    hit = idx >= 0
    if arr.dtype == object:
        out[hit] = values[idx[hit]]
    return out


@pytest.mark.parametrize(
    "values",
    [
        ["footway", None, "路", "", "a b", None],
        [None, None, None],
        ["x", 1, None],  # not text: pandas' own inference
        ["x", np.nan, None],
        [],
    ],
)
def test_string_take_as_pandas_infers(values):
    vals = np.asarray(values, dtype=object)
    takes = [np.array([-1, -1])]
    if len(vals):
        takes.append(np.array([0, -1, len(vals) - 1, -1, len(vals) // 2]))
    for idx in takes:
        got, ref = _string_take(vals.copy(), idx), _plain_take(vals.copy(), idx)
        assert type(got) is type(ref) and got.dtype == ref.dtype
        pd.testing.assert_series_equal(pd.Series(got), pd.Series(ref), check_exact=True)


def test_decode_tags_with_key_categories():
    lines = [
        b"highway=footway,name=A%20%b,surface=",
        b"",
        b"building=yes",
        b"highway=residential,foot=yes,name=\xe8\xb7\xaf,x=1",
        b"foot=no,highway=service",
    ]
    a = np.frombuffer(b"\n".join(lines) + b"\n", dtype=np.uint8)
    ends = np.flatnonzero(a == 10)
    starts = np.r_[0, ends[:-1] + 1]
    keys = ["highway", "foot", "name", "surface"]
    cols = _opl.decode_tags(a, starts, ends, keys, {})
    assert list(cols["highway"]) == ["footway", None, None, "residential", "service"]
    assert list(cols["foot"]) == [None, None, None, "yes", "no"]
    assert list(cols["name"]) == ["A b", None, None, "路", None]
    assert list(cols["surface"]) == ["", None, None, None, None]
    assert all(type(v) is str for c in cols.values() for v in c if v is not None)


def test_read_osm_sample_tag_columns():
    nodes, edges = read_osm(sample_file("osm/sample.osm"))
    for c in edges.columns:
        if edges[c].dtype != object and pd.api.types.is_string_dtype(edges[c].dtype):
            assert edges[c].notna().any()


def _geoms():
    lines = shapely.linestrings(
        np.array([[[120.0, 30.0], [120.001, 30.002]], [[120.01, 30.01], [120.0, 30.0]]])
    )
    return {
        "lines": gpd.GeoSeries(list(lines), crs=4326),
        "points": gpd.GeoSeries(shapely.points([[120.0, 30.0], [121.0, 31.0]]), crs=4326),
        "with none": gpd.GeoSeries([lines[0], None], crs=4326),
        "with empty": gpd.GeoSeries([lines[0], shapely.LineString()], crs=4326),
        "3-D": gpd.GeoSeries([shapely.LineString([(120, 30, 5), (120.1, 30.1, 6)])], crs=4326),
        "mixed": gpd.GeoSeries([lines[0], shapely.Point(120, 30)], crs=4326),
        "empty": gpd.GeoSeries([], crs=4326),
    }


@pytest.mark.parametrize("name", list(_geoms()))
def test_to_metric_as_geopandas(name):
    geo = _geoms()[name]
    metric = CRS.from_user_input("EPSG:4547")
    got = engine._to_metric(geo, metric)
    ref = np.asarray(geo.to_crs(metric).array, dtype=object)
    assert len(got) == len(ref)
    assert list(shapely.to_wkb(got)) == list(shapely.to_wkb(ref))


def test_engine_text_columns_as_before():
    """Text columns: object arrays with None where a value is missing (as ``as_object_none`` made them)."""
    nodes, edges = read_osm(realdata("monaco.osm.gz"))
    net = WalkNetwork.from_frames(nodes, edges)
    checked = 0
    for frame, src in ((net.edges, edges), (net.nodes, nodes)):
        for c in src.columns:
            if c in ("u", "v", "x", "y", "length", src.geometry.name) or not pd.api.types.is_string_dtype(
                src[c]
            ):
                continue
            ref = [None if pd.isna(v) else v for v in src[c].to_numpy(dtype=object)]
            assert frame[c].dtype == object and list(frame[c]) == ref
            checked += 1
    assert checked > 10
