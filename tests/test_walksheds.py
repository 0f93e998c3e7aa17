"""Walksheds drawn in one pass (raster engine, chunked turn-aware searches) against the exact vector polygons, and
the overlays of units with a subdivided service area against plain GEOS overlays."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import sample_file

from childspace.analysis import _overlay as ov
from childspace.analysis import walksheds as ws
from childspace.analysis.safety import network_stress
from childspace.network.engine import WalkNetwork

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample():
    sample_file("osm/sample.osm")
    net = WalkNetwork.from_osm(ROOT / "childspace" / "data" / "osm" / "sample.osm")
    stress = network_stress(net)
    rng = np.random.default_rng(3)
    pick = rng.choice(net.n_edges, 12, replace=False)
    pts = shapely.line_interpolate_point(np.asarray(net.edges.geometry.array)[pick], 0.3, normalized=True)
    schools = gpd.GeoDataFrame(
        {
            "facility_id": [f"s{i}" for i in range(12)],
            "category": ["primary_school"] * 6 + ["middle_school"] * 6,
        },
        geometry=gpd.GeoSeries(pts, crs=net.crs).to_crs("EPSG:4326").values,
        crs="EPSG:4326",
    )
    return net, stress, schools


def test_raster_walksheds_match_the_vector_ones(sample):
    net, stress, schools = sample
    vec = ws.walksheds(net, schools, stress, engine="vector")
    ras = ws.walksheds(net, schools, stress, engine="raster")
    assert vec.attrs["engine"] == "vector" and ras.attrs["engine"] == "raster"
    assert list(vec["kind"]) == ["plain", "safe"] * 12
    # the reached network is the same whatever draws the polygon
    np.testing.assert_allclose(ras["length_m"], vec["length_m"], rtol=1e-12)
    assert (
        vec.loc[vec["kind"] == "safe", "length_m"] <= vec.loc[vec["kind"] == "plain", "length_m"].values
    ).all()
    # polygons: areas within 3 %, mostly the same ground
    np.testing.assert_allclose(ras["area_m2"], vec["area_m2"], rtol=0.03)
    a = np.asarray(vec.to_crs(net.crs).geometry.values)
    b = np.asarray(ras.to_crs(net.crs).geometry.values)
    iou = shapely.area(shapely.intersection(a, b)) / shapely.area(shapely.union(a, b))
    assert iou.min() > 0.85
    # every reached street lies inside its raster walkshed (the outline is within a cell of the 25 m band)
    assert (shapely.area(shapely.difference(shapely.buffer(a, -8.0), b)) < 1e-6 * shapely.area(a)).all()


def test_safe_search_chunks_and_levels(sample):
    net, stress, schools = sample
    sm = schools.to_crs(net.crs)
    snap = net.snap(sm.geometry)
    R = np.full(len(sm), 400.0)
    turns = ws._turns(net, stress, stress.edge_level <= 4)
    ok = stress.edge_level <= 2
    one = ws._safe_pieces(net, turns, ok, 2, snap.edge, snap.offset, R, memory_mb=1e-6)  # one source a chunk
    many = ws._safe_pieces(net, turns, ok, 2, snap.edge, snap.offset, R)
    key = lambda p: np.lexsort((p[3], p[2], p[1], p[0]))  # noqa: E731
    for x, y in zip(one, many):
        np.testing.assert_array_equal(x[key(one)], y[key(many)])
    # a stricter level never reaches more; every piece lies on an allowed edge
    strict = ws._safe_pieces(net, turns, stress.edge_level <= 1, 1, snap.edge, snap.offset, R)
    reached = lambda p: np.bincount(p[0], weights=p[3] - p[2], minlength=len(sm))  # noqa: E731
    assert (reached(strict) <= reached(many) + 1e-9).all() and reached(strict).sum() < reached(many).sum()
    assert ok[many[1]].all() and (stress.edge_level[strict[1]] <= 1).all()
    # without any turn limit the safe search reaches what the plain node search reaches
    free = ws._safe_pieces(
        net,
        ws._turns(net, _no_crossings(stress), np.ones(net.n_edges, bool)),
        np.ones(net.n_edges, bool),
        4,
        snap.edge,
        snap.offset,
        R,
    )
    plain = net.reached_pieces(net.reach(snap, R), R)
    own = plain[1] != snap.edge[plain[0]]
    np.testing.assert_allclose(
        reached(free), np.bincount(plain[0][own], weights=(plain[3] - plain[2])[own], minlength=len(sm))
    )


def _no_crossings(stress):
    class Free:
        edge_level = stress.edge_level

        @staticmethod
        def crossing_level(node, a, b):
            return np.zeros(np.asarray(node).size, dtype=np.int8)

    return Free()


def test_overlay_of_units_with_a_subdivided_area():
    rng = np.random.default_rng(11)
    lines = shapely.linestrings(rng.uniform(0, 2000, size=(60, 6, 2)))
    area = shapely.union_all(shapely.buffer(lines, 40.0, quad_segs=4))
    pieces = ov.subdivide(area, max_vertices=50)
    assert len(pieces) > 10 and (shapely.get_num_coordinates(pieces) <= 50).all()
    assert shapely.area(pieces).sum() == pytest.approx(area.area, rel=1e-9)
    units = shapely.buffer(shapely.points(rng.uniform(0, 2000, size=(40, 2))), rng.uniform(50, 600, 40))
    np.testing.assert_allclose(
        ov.area_within(units, pieces), shapely.area(shapely.intersection(units, area)), rtol=1e-9, atol=1e-6
    )
    gaps = ov.difference_each(units, pieces, one_by_one=3)  # small and large units: both ways
    ref = shapely.difference(units, area)
    np.testing.assert_allclose(shapely.area(gaps), shapely.area(ref), rtol=1e-9, atol=1e-6)
    assert (shapely.area(shapely.symmetric_difference(gaps, ref)) < 1e-6).all()
    # the same area again comes from the cache
    assert ov.subdivide(area, max_vertices=50) is pieces


def test_safe_pieces_in_windows_equal_whole_network_search():
    """The turn-aware searches run tile by tile on the states within straight-line reach give the pieces of the
    searches on the whole edge graph, in the same order (Krems: windows much smaller than the extract)."""
    krems = Path("/work/shared/realdata/krems.osm.gz")
    if not krems.exists():
        pytest.skip("real extract not available")
    net = WalkNetwork.from_osm(krems)
    stress = network_stress(net)
    rng = np.random.default_rng(11)
    pick = rng.choice(net.n_edges, 40, replace=False)
    pts = shapely.line_interpolate_point(np.asarray(net.edges.geometry.array)[pick], 0.4, normalized=True)
    snap = net.snap(gpd.GeoSeries(pts, crs=net.crs))
    ok = np.flatnonzero(snap.ok)
    radius = np.where(np.arange(ok.size) % 2 == 0, 150.0, 300.0)
    turns = ws._turns(net, stress, stress.edge_level <= 2)
    tiles = ws._source_tiles(net, snap.xy[ok], radius)
    assert tiles is not None and len(tiles) > 3  # the windowed path is the one tested
    for level in (1, 2):
        args = (net, turns, stress.edge_level <= level, level, snap.edge[ok], snap.offset[ok], radius)
        whole = ws._safe_pieces(*args, memory_mb=0.5)  # several chunks on the whole network
        windows = ws._safe_pieces(*args, memory_mb=0.5, xy0=snap.xy[ok])
        assert len(whole[0]) > 100
        for a, b in zip(whole, windows):
            np.testing.assert_array_equal(a, b)
    # with every edge and crossing allowed the turn-aware search reaches what the plain search reaches: the same
    # length of street per source (pieces from both ends of an edge that do not meet included)
    every = np.ones(net.n_edges, dtype=bool)
    r, e, s0, t0 = ws._safe_pieces(
        net, ws._turns(net, stress, every), every, 9, snap.edge[ok], snap.offset[ok], radius, xy0=snap.xy[ok]
    )
    r2, e2, a2, b2 = net.reached_pieces(net.reach(snap.take(ok), radius), radius)
    own = e2 == snap.edge[ok][r2]
    np.testing.assert_allclose(
        np.bincount(r, weights=t0 - s0, minlength=ok.size),
        np.bincount(r2[~own], weights=(b2 - a2)[~own], minlength=ok.size),
        rtol=1e-12,
    )
