"""The GeoPackage's faster paths (fourth round) give what the general ones give: multi-line WKB built from
coordinates (as ``to_crs`` + ``to_wkb``, byte for byte), the streets simplified only where a vertex can go (as
``shapely.simplify`` of every street), GDAL's SQLite connections without SpatiaLite (the setting restored)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, MultiLineString, Point, Polygon

from childspace.outputs import geopackage as gp

pytest.importorskip("pyarrow")


def _lines(n: int = 40, crs: str = "EPSG:4326", parts: bool = False) -> gpd.GeoDataFrame:
    """Multi-lines of 2 to 6 points (with ``parts``: some of 2-3 lines) near 121°E, 28°N."""
    rng = np.random.default_rng(5)
    geoms = []
    for i in range(n):
        k = 1 + (i % 3 if parts else 0)
        lines = []
        for _ in range(k):
            m = 2 + int(rng.integers(0, 5))
            xy = np.column_stack([120.9 + rng.random(m) * 0.2, 28.0 + rng.random(m) * 0.2])
            lines.append(LineString(xy))
        geoms.append(MultiLineString(lines))
    return gpd.GeoDataFrame({"v": np.arange(n)}, geometry=geoms, crs=crs)


@pytest.mark.parametrize("parts", [False, True])
@pytest.mark.parametrize("to", ["EPSG:4326", "EPSG:4549", "EPSG:32651"])
def test_lines_wkb_is_to_crs_then_to_wkb(to, parts):
    g = _lines(parts=parts)
    got = gp._lines_wkb(g, to)
    assert got is not None
    wkb, crs = got
    want = shapely.to_wkb(np.asarray(g.to_crs(to).geometry.array, dtype=object))
    assert wkb.to_pylist() == list(want)  # byte for byte
    assert crs.equals(g.to_crs(to).crs)


def test_lines_wkb_from_a_projected_crs():
    g = _lines().to_crs("EPSG:32651")
    wkb, _ = gp._lines_wkb(g, "EPSG:4326")
    assert wkb.to_pylist() == list(shapely.to_wkb(np.asarray(g.to_crs(4326).geometry.array, dtype=object)))


@pytest.mark.parametrize(
    "geoms",
    [
        [MultiLineString([[(0, 0), (1, 1)]]), None],
        [MultiLineString([[(0, 0), (1, 1)]]), MultiLineString()],
        [MultiLineString([[(0, 0, 1), (1, 1, 1)]])],
        [MultiLineString([[(0, 0), (1, 1)]]), LineString([(0, 0), (1, 1)])],
        [LineString([(0, 0), (1, 1)])],
        [Polygon([(0, 0), (1, 0), (1, 1)])],
        [Point(0, 0)],
    ],
)
def test_lines_wkb_leaves_other_layers_to_to_crs(geoms):
    g = gpd.GeoDataFrame({"v": range(len(geoms))}, geometry=geoms, crs="EPSG:4326")
    assert gp._lines_wkb(g, "EPSG:4549") is None
    no_crs = gpd.GeoDataFrame({"v": [1]}, geometry=[MultiLineString([[(0, 0), (1, 1)]])])
    assert gp._lines_wkb(no_crs, "EPSG:4549") is None


def test_written_lines_read_back_as_to_crs(tmp_path):
    g = _lines(parts=True)
    p = gp.write_geopackage(tmp_path / "l.gpkg", {"roads": g}, crs="EPSG:4549", styles=False)
    back = pyogrio.read_dataframe(p, layer="roads")
    want = np.asarray(g.to_crs(4549).geometry.array, dtype=object)
    assert list(shapely.to_wkb(np.asarray(back.geometry.array, dtype=object))) == list(shapely.to_wkb(want))
    assert back["v"].tolist() == g["v"].tolist()


def test_simplified_is_simplify_of_every_line():
    rng = np.random.default_rng(8)
    geoms = []
    for i in range(300):
        m = 2 + (i % 7)
        xy = np.cumsum(rng.normal(0, 1.5, (m, 2)), axis=0)
        geoms.append(LineString(xy))
    geoms += [
        LineString([(0, 0), (0, 0)]),  # both ends the same point
        LineString([(0, 0), (1e-9, 0)]),
        MultiLineString([[(0, 0), (1, 1)]]),  # a multi-line of two points goes through GEOS
        LineString([(0, 0), (0.5, 0.1), (1, 0)]),  # the middle point within the tolerance: dropped
        None,
    ]
    arr = np.array(geoms, dtype=object)
    before = shapely.to_wkb(arr)
    got = gp._simplified(arr, 1.0)
    want = shapely.simplify(arr, 1.0)
    assert list(shapely.to_wkb(got)) == list(shapely.to_wkb(want))
    assert shapely.get_num_coordinates(got[-2]) == 2
    assert list(shapely.to_wkb(arr)) == list(before)  # the input is left as it was


def test_spatialite_not_loaded_while_writing_and_restored(tmp_path):
    before = pyogrio.get_gdal_config_option("SPATIALITE_LOAD")
    with gp._fast_sqlite():
        assert pyogrio.get_gdal_config_option("SPATIALITE_LOAD") in ("NO", False)
    assert pyogrio.get_gdal_config_option("SPATIALITE_LOAD") == before
    g = _lines()
    p = gp.write_geopackage(tmp_path / "s.gpkg", {"roads": g}, styles=False)
    assert pyogrio.get_gdal_config_option("SPATIALITE_LOAD") == before
    assert len(pyogrio.read_dataframe(p, layer="roads")) == len(g)
