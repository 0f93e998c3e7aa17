"""Service areas and their dissolve from one pass, the reached pieces against a brute force, the per-unit overlay
shared by the coverage figures and the gaps, and pilots reading the run's origin table."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from test_coverage import M, P, grid_network, points, sample  # noqa: F401  (sample: a fixture)

from childspace._errors import ChildspaceWarning
from childspace.analysis import _overlay
from childspace.analysis import coverage as cv
from childspace.analysis import pilots as pl
from childspace.analysis._raster import PieceSampler
from childspace.inputs.projection import local_crs_for
from childspace.network.engine import WalkNetwork


def _iou(a, b) -> float:
    return shapely.area(shapely.intersection(a, b)) / shapely.area(shapely.union(a, b))


# ---------------------------------------------------------------------------------------------------------------
# reached pieces
# ---------------------------------------------------------------------------------------------------------------
def _loop_net() -> WalkNetwork:
    """A street (0,0)-(100,0)-(200,0), a spur (100,0)-(100,60) and a loop of 120 m hanging at (200,0)."""
    nodes = {1: P(0, 0), 2: P(100, 0), 3: P(200, 0), 4: P(100, 60)}
    loop = shapely.LineString([P(200, 0), P(230, 0), P(230, 30), P(200, 30), P(200, 0)])
    edges = [
        (1, 2, shapely.LineString([P(0, 0), P(100, 0)])),
        (2, 3, shapely.LineString([P(100, 0), P(200, 0)])),
        (2, 4, shapely.LineString([P(100, 0), P(100, 60)])),
        (3, 3, loop),
    ]
    ng = gpd.GeoDataFrame(index=np.array(list(nodes), dtype=np.int64), geometry=list(nodes.values()), crs=M)
    ng = ng.to_crs(4326)
    ng.index.name = "osmid"
    ng["x"], ng["y"] = ng.geometry.x, ng.geometry.y
    eg = gpd.GeoDataFrame(
        {"u": [e[0] for e in edges], "v": [e[1] for e in edges], "key": 0, "highway": "residential"},
        geometry=[e[2] for e in edges],
        crs=M,
    ).to_crs(4326)
    return WalkNetwork.from_frames(ng, eg, crs=M)


def _brute_pieces(net: WalkNetwork, dist: np.ndarray, cut: np.ndarray) -> set:
    """(row, edge, start, end) of the node-reached pieces, edge by edge, without any vectorisation."""
    out = set()
    L = net.length
    for r in range(dist.shape[0]):
        for e in range(net.n_edges):
            du, dv = dist[r, net.u[e]], dist[r, net.v[e]]
            ru = min(cut[r] - du, L[e]) if du <= cut[r] else -1.0
            rv = min(cut[r] - dv, L[e]) if dv <= cut[r] else -1.0
            if ru >= L[e] or rv >= L[e] or (ru >= 0 and rv >= 0 and ru + rv >= L[e]):
                out.add((r, e, 0.0, round(float(L[e]), 6)))
                continue
            if ru > 0:
                out.add((r, e, 0.0, round(ru, 6)))
            if rv > 0:
                out.add((r, e, round(float(L[e] - rv), 6), round(float(L[e]), 6)))
    return out


def test_reached_pieces_match_a_brute_force_with_a_loop_edge():
    net = _loop_net()
    # sources at (20, 0), on the spur at (100, 50) and at (190, 0)
    src = net.snap(points([(20, 0), (100, 50), (190, 0)]), max_distance=5.0)
    cut = np.array([150.0, 70.0, 75.0])
    R = net.reach(src, cut)
    dense = np.full((3, net.n_nodes), np.inf)
    for r in range(3):
        a, b = R.indptr[r], R.indptr[r + 1]
        dense[r, R.indices[a:b]] = R.data[a:b]
    exp = _brute_pieces(net, dense, cut)
    assert len(exp) >= 6
    # the loop edge: reached from both of its ends (the same node) by the third source
    loop = int(np.flatnonzero(net.u == net.v)[0])
    assert any(p[0] == 2 and p[1] == loop for p in exp)
    for dist in (R, dense):
        row, edge, st, en = net.reached_pieces(dist, cut)
        got = list(zip(row.tolist(), edge.tolist(), st.round(6).tolist(), en.round(6).tolist()))
        assert len(got) == len(set(got)) and set(got) == exp
        # whole edges first, each group in (row, edge) order
        whole = (st == 0) & (en >= net.length[edge])
        k = int(whole.sum())
        assert whole[:k].all() and (np.diff(row[:k] * net.n_edges + edge[:k]) > 0).all()


# ---------------------------------------------------------------------------------------------------------------
# service areas and their dissolve in one pass
# ---------------------------------------------------------------------------------------------------------------
def test_piece_sampler_gives_the_points_of_each_piece(sample):  # noqa: F811
    _, _, net = sample
    rng = np.random.default_rng(3)
    edge = rng.integers(0, net.n_edges, 400)
    L = net.length[edge]
    a = rng.uniform(0, 1, 400) * L
    b = rng.uniform(0, 1, 400) * L
    st, en = np.minimum(a, b), np.maximum(a, b)
    st[::3], en[::3] = 0.0, L[::3]  # a third whole
    s = PieceSampler(net, edge, st, en, 7.0)
    pieces = rng.permutation(400)[:250]
    xy, k = s.sample(pieces, edge, st, en)
    for j in (0, 1, 2, 3, 100, 249):
        p = pieces[j]
        ref, _ = net.sample_pieces(edge[[p]], st[[p]], en[[p]], 7.0)
        np.testing.assert_array_equal(xy[k == j], ref)


def test_one_pass_equals_service_areas_and_their_union(sample):  # noqa: F811
    fac, _, net = sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        sa = cv.service_areas(fac, net, engine="raster")
        both, dis = cv.service_areas_dissolved(fac, net, engine="raster")
        union = cv.dissolve_service_areas(both)
    assert len(both) == len(fac) and both.attrs["engine"] == "raster"
    pd.testing.assert_frame_equal(
        pd.DataFrame(sa.drop(columns="geometry")), pd.DataFrame(both.drop(columns="geometry"))
    )
    assert shapely.equals_exact(sa.geometry.to_numpy(), both.geometry.to_numpy(), tolerance=0.0).all()
    cols = ["category", "method", "radius_m", "n_facilities"]
    pd.testing.assert_frame_equal(pd.DataFrame(dis[cols]), pd.DataFrame(union[cols]))
    dm, um = dis.to_crs(M), union.to_crs(M)
    assert len(dm) >= 5
    for a, b in zip(dm.geometry, um.geometry):
        # the same cells: the traced outlines differ only where two areas meet corner to corner
        assert a.is_valid and _iou(a, b) > 0.999
        assert a.area == pytest.approx(b.area, rel=2e-3)
    np.testing.assert_allclose(dis["area_m2"], union["area_m2"], rtol=2e-3)


def test_one_pass_vector_engine_is_the_union_of_polygons():
    net = grid_network()
    fac = points([(50, 0), (200, 100)], facility_id=["K1", "K2"], category=["kindergarten", "kindergarten"])
    both, dis = cv.service_areas_dissolved(fac, net, engine="vector")
    ref = cv.dissolve_service_areas(cv.service_areas(fac, net, engine="vector"))
    pd.testing.assert_frame_equal(pd.DataFrame(dis), pd.DataFrame(ref))
    assert both.attrs["engine"] == "vector" and dis["n_facilities"].tolist() == [2]


# ---------------------------------------------------------------------------------------------------------------
# coverage figures and gaps from one overlay
# ---------------------------------------------------------------------------------------------------------------
def test_area_share_equals_the_intersection_and_gaps_reuse_the_overlay(sample, monkeypatch):  # noqa: F811
    fac, origins, net = sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        cats = ["kindergarten", "primary_school", "playground"]
        acc = cv.origin_access(origins, fac, net, categories=cats)
        _, dis = cv.service_areas_dissolved(fac, net, categories=cats)
    b = origins.to_crs(M).total_bounds
    xs, ys = np.linspace(b[0] - 10, b[2] + 10, 4), np.linspace(b[1] - 10, b[3] + 10, 4)
    boxes = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(3) for j in range(3)]
    units = gpd.GeoDataFrame(
        {"unit_id": [f"u{i}" for i in range(9)], "name": [f"U{i}" for i in range(9)]}, geometry=boxes, crs=M
    ).to_crs(4326)
    _overlay._diff_cache.clear()
    crs = local_crs_for(units)
    um = units.to_crs(crs)
    areas = dis.to_crs(crs).set_index("category").geometry
    first = cv.unit_coverage(units, acc, cats, service_areas=dis)  # no overlay remembered: intersections
    g = cv.gaps(units, acc, dis, cats)
    gm = g.to_crs(crs)
    assert len(g)
    for cat in cats:
        exp = shapely.area(shapely.difference(um.geometry.to_numpy(), areas[cat]))
        got = gm[gm["category"] == cat].set_index("unit_id")["area_m2"]
        keep = exp >= 1.0
        np.testing.assert_allclose(got.reindex(um["unit_id"][keep]).to_numpy(), exp[keep], rtol=1e-7)
    # after the gaps, the coverage figures read the overlay the gaps made (no intersection) and are the same
    import childspace.analysis.units as units_module

    monkeypatch.setattr(units_module, "area_within", lambda *a, **k: pytest.fail("overlay not reused"))
    uc = cv.unit_coverage(units, acc, cats, service_areas=dis)
    pd.testing.assert_frame_equal(uc.drop(columns="area_pct_walk"), first.drop(columns="area_pct_walk"))
    for cat in cats:
        exp = (
            100 * shapely.area(shapely.intersection(um.geometry.to_numpy(), areas[cat])) / um.area.to_numpy()
        )
        for tab in (first, uc):
            got = tab[tab["category"] == cat]["area_pct_walk"].to_numpy()
            np.testing.assert_allclose(got, exp, rtol=1e-9, atol=1e-9)
            assert 0 < np.nanmax(got) <= 100


# ---------------------------------------------------------------------------------------------------------------
# pilots from the run's origin table
# ---------------------------------------------------------------------------------------------------------------
def test_pilot_status_with_the_runs_access_table_is_the_same(sample):  # noqa: F811
    fac, origins, net = sample
    b = origins.to_crs(M).total_bounds
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    pil = gpd.GeoDataFrame(
        {
            "pilot_id": ["C1", "C2", "S"],
            "name": ["甲", "乙", "丙"],
            "kind": ["community", "community", "school"],
        },
        geometry=[
            shapely.box(b[0], b[1], cx, cy),
            shapely.box(cx, cy, b[2], b[3]),
            shapely.Point(cx, cy),
        ],
        crs=M,
    ).to_crs(4326)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        acc = cv.origin_access(origins, fac, net, categories=sorted(set(fac["category"])))
        a = pl.pilot_status(pil, fac, origins, net)
        b2 = pl.pilot_status(pil, fac, origins, net, access=acc)
        # a table that does not match the origins is not used
        c = pl.pilot_status(pil, fac, origins, net, access=acc.iloc[::-1])
    assert (a["rule"] == "coverage").sum() == 2
    pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b2))
    pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(c))


def test_one_pass_without_any_area_gives_the_empty_dissolve():
    net = grid_network()
    # farther than max_snap from every street: no walking area at all
    fac = points([(50, 5000)], facility_id=["K9"], category=["kindergarten"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        both, dis = cv.service_areas_dissolved(fac, net, engine="raster")
        ref = cv.dissolve_service_areas(fac, net, engine="raster")
    assert both.geometry.isna().all() and both.attrs["unsnapped"] == 1
    pd.testing.assert_frame_equal(pd.DataFrame(dis), pd.DataFrame(ref))
    assert dis["n_facilities"].tolist() == [0] and dis["area_m2"].tolist() == [0.0]
