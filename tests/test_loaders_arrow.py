"""GeoPackage layers read through Arrow (``tables._read_arrow_layer``) equal the plain read, and layers with other
field types, or other formats, keep the plain read."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from childspace.inputs import tables


def _layer(tmp_path, extra=None, name="t.gpkg"):
    n = 2000
    rng = np.random.default_rng(4)
    cols = {
        "编号": [f"H{i:05d}" if i % 97 else None for i in range(n)],
        "名称": ["幼儿园 ﾊ①" if i % 3 else "" for i in range(n)],
        "children": rng.integers(0, 9, n),
        "maybe": pd.array([i if i % 5 else None for i in range(n)], dtype="Int64"),
        "small": rng.integers(0, 9, n).astype(np.int32),
        "share": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
        "nothing": [None] * n,
        **(extra or {}),
    }
    geom = [shapely.Point(120 + i * 1e-4, 30) if i % 50 else None for i in range(n)]
    path = tmp_path / name
    gpd.GeoDataFrame(cols, geometry=geom, crs=4326).to_file(path)
    return path


def test_arrow_read_equals_plain(tmp_path):
    p = _layer(tmp_path)
    meta = pyogrio.read_info(p, force_feature_count=True)
    got = tables._read_arrow_layer(p, meta, {})
    assert got is not None
    ref = gpd.read_file(p, engine="pyogrio")
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    assert got["nothing"].dtype == object and got["nothing"].isna().all()
    assert (shapely.to_wkb(got.geometry.values) == shapely.to_wkb(ref.geometry.values)).all()


def test_other_field_types_read_plain(tmp_path):
    p = _layer(
        tmp_path, {"flag": [True, False] * 1000, "when": pd.date_range("2024-01-01", periods=2000, freq="h")}
    )
    meta = pyogrio.read_info(p, force_feature_count=True)
    assert tables._read_arrow_layer(p, meta, {}) is None


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
def test_layer_loader_same_frame(tmp_path, suffix):
    p = _layer(tmp_path, name="t" + suffix)
    df, _ = tables.read_table_or_layer(p)
    ref = gpd.read_file(p, engine="pyogrio")
    ref[tables.ROW_COLUMN] = np.arange(1, len(ref) + 1)
    pd.testing.assert_frame_equal(df, ref, check_exact=True)
