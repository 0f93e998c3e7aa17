"""Layers made ready once for both GeoPackages: plain columns checked in C, geometry families from type ids,
multi parts made once, styles made once, GDAL's SQLite settings restored after a write."""

from __future__ import annotations

import decimal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import GeometryCollection, LineString, Point, Polygon

from childspace.outputs import geopackage as gp
from childspace.outputs.gpkg_styles import FAMILY, geometry_family


def _old_family(gdf: gpd.GeoDataFrame) -> str:  # the definition by type names, value by value
    fam = pd.Series(gdf.geom_type).map(FAMILY).dropna()
    return str(fam.iloc[0]) if len(fam) else "point"


@pytest.mark.parametrize(
    "geoms",
    [
        [Point(0, 0), LineString([(0, 0), (1, 1)])],
        [None, GeometryCollection([Point(0, 0)]), Polygon([(0, 0), (1, 0), (1, 1)])],
        [shapely.multilinestrings([LineString([(0, 0), (1, 1)])]), Point(1, 1)],
        [shapely.linearrings([(0, 0), (1, 0), (1, 1)])],
        [None, None],
        [GeometryCollection([Point(0, 0)])],
    ],
)
def test_geometry_family_as_by_type_names(geoms):
    g = gpd.GeoDataFrame({"a": range(len(geoms))}, geometry=geoms)
    assert geometry_family(g) == _old_family(g)


@pytest.mark.parametrize(
    "values",
    [
        ["a", None],
        [1, 2],
        [1, None],
        [1.5, None],
        [1, 2.5],
        [True, None],
        [None, None],
        [np.nan, np.nan],
        [pd.NA, "a"],
        [decimal.Decimal("1.5"), None],
        [np.int64(3), None],
    ],
)
def test_plain_columns_give_the_dtypes_of_the_value_by_value_map(values):
    df = pd.DataFrame({"c": pd.Series(values, dtype=object)})
    got = gp.plain_columns(df)["c"]
    want = df["c"].map(lambda v: v)  # what the conversion of each value gave (no value changes)
    assert got.dtype == want.dtype
    pd.testing.assert_series_equal(got, want)


def test_lists_bytes_and_geometries_still_become_text():
    df = pd.DataFrame({"c": pd.Series([["a", "b"], b"\x01", Point(1, 2), {"k": 1}, "x"], dtype=object)})
    assert gp.plain_columns(df)["c"].tolist() == ["a; b", "01", "POINT (1 2)", "{'k': 1}", "x"]


def test_both_files_share_the_prepared_layers_and_styles(tmp_path, monkeypatch):
    lines = gpd.GeoDataFrame(
        {"edge": [1, 2], "level": [1, 4], "name": ["甲", None]},
        geometry=[
            LineString([(500000, 3000000), (500100, 3000050)]),
            LineString([(500100, 3000050), (500200, 3000000)]),
        ],
        crs="EPSG:4549",
    )
    ready = gp.prepare_layers({"street_stress": lines})
    # single lines are made multi once, in the prepared layer
    assert (shapely.get_type_id(np.asarray(ready["street_stress"].geometry.array)) == 5).all()
    calls = []
    real = gp.layer_styles
    monkeypatch.setattr(gp, "layer_styles", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    before = pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS")
    gp.write_geopackage(tmp_path / "a.gpkg", ready)
    gp.write_geopackage(tmp_path / "b.gpkg", ready, crs="EPSG:4549")
    assert calls == ["street_stress"]  # made once, written into both files
    assert pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS") == before
    a = pyogrio.read_dataframe(tmp_path / "a.gpkg", layer="street_stress")
    b = pyogrio.read_dataframe(tmp_path / "b.gpkg", layer="street_stress")
    assert a.crs.to_epsg() == 4326 and b.crs.to_epsg() == 4549
    assert a["level"].tolist() == b["level"].tolist() == [1, 4]
    assert shapely.equals_exact(b.geometry.to_numpy(), ready["street_stress"].geometry.to_numpy(), 1e-6).all()
    import sqlite3

    styles = [
        sqlite3.connect(p).execute("SELECT f_table_name, styleQML FROM layer_styles").fetchall()
        for p in (tmp_path / "a.gpkg", tmp_path / "b.gpkg")
    ]
    assert styles[0] == styles[1] and styles[0][0][0] == "street_stress"


def _layers_of(path):
    import sqlite3

    out = {}
    for name, _ in pyogrio.list_layers(path):
        if name == "layer_styles":
            continue
        info = pyogrio.read_info(path, layer=name)
        df = pyogrio.read_dataframe(path, layer=name, fid_as_index=True)
        out[name] = (info["crs"], info["geometry_type"], list(info["fields"]), list(info["dtypes"]), df)
    con = sqlite3.connect(path)
    schema = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    return out, schema


def test_shared_arrow_tables_write_what_pyogrio_writes(sample_run, sample_dir, tmp_path, monkeypatch):
    """Both GeoPackages of the sample written from the Arrow attribute tables made once have the layers, field
    types, values, geometries and table definitions that pyogrio's own Arrow writer gives."""
    from childspace.run import pipeline, writing

    cfg = pipeline.load_config(sample_dir / "sample.toml", outputs=tmp_path / "out")
    layers = writing._gpkg_layers(sample_run, cfg)
    local = writing._local_crs(sample_run)
    writing.write_geopackage(tmp_path / "a.gpkg", layers)
    writing.write_geopackage(tmp_path / "a_local.gpkg", layers, crs=local)
    geo = [k for k, v in layers.items() if isinstance(v, gpd.GeoDataFrame)]
    assert geo and all(layers.arrow.get(k) is not None for k in geo)  # every layer took the shared tables
    monkeypatch.setattr(gp, "_write_shared_arrow", lambda *a, **k: False)
    fresh = writing._gpkg_layers(sample_run, cfg)
    writing.write_geopackage(tmp_path / "b.gpkg", fresh)
    writing.write_geopackage(tmp_path / "b_local.gpkg", fresh, crs=local)
    for x, y in (("a.gpkg", "b.gpkg"), ("a_local.gpkg", "b_local.gpkg")):
        (la, sa), (lb, sb) = _layers_of(tmp_path / x), _layers_of(tmp_path / y)
        assert sa == sb and la.keys() == lb.keys()
        for name in la:
            assert la[name][:4] == lb[name][:4], name
            pd.testing.assert_frame_equal(la[name][4], lb[name][4], check_exact=True)
