"""GeoPackage layers written through Arrow equal the feature-by-feature writer's, and a failed Arrow write falls
back without leaving a half-written layer behind."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from childspace.outputs import geopackage as gp


def _layer(n: int = 500) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(3)
    return gpd.GeoDataFrame(
        {
            "origin_id": [f"H{i:05d}" for i in range(n)],
            "children": rng.integers(0, 9, n).astype("int32"),
            "dist_walk_park": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 3000, n)),
            "covered": rng.random(n) < 0.5,
            "名称": ["示例幼儿园"] * n,
        },
        geometry=shapely.points(rng.uniform(120.9, 121.0, n), rng.uniform(28.0, 28.1, n)),
        crs="EPSG:4326",
    )


def test_arrow_and_feature_writers_write_the_same_layer(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    g = _layer()
    monkeypatch.setattr(gp, "_use_arrow", lambda: True)
    gp._write_layer(tmp_path / "a.gpkg", "access", g, None)
    monkeypatch.setattr(gp, "_use_arrow", lambda: False)
    gp._write_layer(tmp_path / "f.gpkg", "access", g, None)
    a = pyogrio.read_dataframe(tmp_path / "a.gpkg", layer="access")
    f = pyogrio.read_dataframe(tmp_path / "f.gpkg", layer="access")
    assert len(a) == len(f) == len(g)
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), f.drop(columns="geometry"))
    assert shapely.equals_exact(a.geometry.array, f.geometry.array, tolerance=0).all()
    assert a["名称"].iloc[0] == "示例幼儿园" and int(a["children"].sum()) == int(g["children"].sum())


def test_a_failed_arrow_write_falls_back_to_a_whole_layer(tmp_path, monkeypatch):
    g = _layer()
    real = pyogrio.write_dataframe

    def half_then_fail(df, path, **kw):
        if kw.pop("use_arrow", False):
            real(df.iloc[:100], path, **kw)  # a layer left half written
            raise RuntimeError("arrow type not supported")
        return real(df, path, **kw)

    monkeypatch.setattr(gp, "_use_arrow", lambda: True)
    monkeypatch.setattr(gp.pyogrio, "write_dataframe", half_then_fail)
    path = tmp_path / "x.gpkg"
    gp._write_layer(path, "other", g.iloc[:10], None)  # another layer already in the file stays
    gp._write_layer(path, "access", g, None)
    back = pyogrio.read_dataframe(path, layer="access")
    assert len(back) == len(g)
    assert back["origin_id"].tolist() == g["origin_id"].tolist()
    assert len(pyogrio.read_dataframe(path, layer="other")) == 10
