"""Homes in units without point geometries (``points_in_polygons``) against GEOS's tree queries, and the reprojected
coordinates that a run shares between its coverage stages (``_metric_xy``): a changed layer is never answered from
the memory of an earlier one."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from conftest import SAMPLE

from childspace.analysis import _coverage_base as cb
from childspace.inputs.projection import local_crs_for


def _tree(xy: np.ndarray, polys: np.ndarray, predicate: str) -> tuple[np.ndarray, np.ndarray]:
    o, u = shapely.STRtree(polys).query(shapely.points(xy), predicate=predicate)
    order = np.lexsort((u, o))
    return o[order], u[order]


def test_points_in_polygons_matches_tree_queries():
    rng = np.random.default_rng(7)
    # a grid of squares sharing edges, a ring with a hole, overlapping disks, an empty and a missing polygon
    squares = [shapely.box(x, y, x + 10, y + 10) for x in range(0, 50, 10) for y in range(0, 30, 10)]
    holed = shapely.Polygon(
        [(60, 0), (90, 0), (90, 30), (60, 30)], [[(70, 10), (80, 10), (80, 20), (70, 20)]]
    )
    disks = list(shapely.buffer(shapely.points([[20, 40], [28, 44]]), 8.0))
    polys = np.array([*squares, holed, *disks, shapely.Polygon(), None], dtype=object)
    xy = np.r_[
        rng.uniform(-5, 95, (3000, 2)),
        np.c_[np.arange(0, 51, 5.0), np.full(11, 10.0)],  # on shared edges and corners
        [[70, 15], [75, 10], [60, 0], [np.nan, 3.0]],  # on the hole's edge, a vertex, no coordinate
    ]
    for predicate in ("within", "intersects"):
        o, u = cb.points_in_polygons(xy, polys, predicate)
        ok = ~np.isnan(xy).any(axis=1)
        t_o, t_u = _tree(xy[ok], polys, predicate)
        np.testing.assert_array_equal(o, np.flatnonzero(ok)[t_o])
        np.testing.assert_array_equal(u, t_u)
    # boundary points belong to both squares for "intersects" and to neither for "within"
    on_edge = np.flatnonzero((xy[:, 1] == 10.0) & (xy[:, 0] == 15.0))
    assert (np.isin(cb.points_in_polygons(xy, polys, "within")[0], on_edge)).sum() == 0
    assert (np.isin(cb.points_in_polygons(xy, polys, "intersects")[0], on_edge)).sum() == 2


def test_assign_units_sample_as_sjoin():
    homes = gpd.read_file(SAMPLE / "origins" / "homes.gpkg").to_crs("EPSG:4326")
    units = gpd.read_file(SAMPLE / "boundaries" / "communities.shp")
    um = units.to_crs(local_crs_for(units))
    pairs, outside = cb._assign_units(homes, um)
    pts = gpd.GeoDataFrame({"_o": np.arange(len(homes))}, geometry=homes.geometry.to_crs(um.crs).values)
    ref = gpd.sjoin(
        pts,
        gpd.GeoDataFrame({"_u": np.arange(len(um))}, geometry=um.geometry.values, crs=um.crs),
        how="inner",
        predicate="within",
    )[["_o", "_u"]].reset_index(drop=True)
    assert len(pairs) > 100
    np.testing.assert_array_equal(pairs["_o"].to_numpy(), ref["_o"].to_numpy())
    np.testing.assert_array_equal(pairs["_u"].to_numpy(), ref["_u"].to_numpy())
    assert outside == len(homes) - ref["_o"].nunique()


def test_metric_xy_memory_follows_the_coordinates():
    rng = np.random.default_rng(1)
    lonlat = np.c_[rng.uniform(120.9, 121.1, 20_000), rng.uniform(28.0, 28.2, 20_000)]
    g = gpd.GeoSeries(shapely.points(lonlat), crs="EPSG:4326")
    crs = local_crs_for(g)
    first = cb._metric_xy(g, crs)
    np.testing.assert_array_equal(first, shapely.get_coordinates(np.asarray(g.to_crs(crs).values)))
    first[:] = 0.0  # the caller's array: the memory keeps its own
    again = cb._metric_xy(g, crs)
    np.testing.assert_array_equal(again, shapely.get_coordinates(np.asarray(g.to_crs(crs).values)))
    moved = g.copy()
    moved.iloc[5] = shapely.Point(121.0, 28.1)  # one home moved: projected anew
    got = cb._metric_xy(moved, crs)
    np.testing.assert_array_equal(got, shapely.get_coordinates(np.asarray(moved.to_crs(crs).values)))
    assert not np.array_equal(got[5], again[5])


def test_quantiles_from_origin_order_equal_own_sort():
    """Weighted medians and p90 per unit read through the origins' remembered order (``_pair_order``) equal
    those of a sort of the pairs, with ties, unreachable (inf), missing (NaN) and zero-weight origins, and
    origins in two units."""
    from childspace.analysis import units as U

    rng = np.random.default_rng(4)
    n = 5000
    vals = np.round(rng.gamma(2.0, 300.0, n), -1)  # many ties
    vals[rng.random(n) < 0.05] = np.inf
    vals[rng.random(n) < 0.05] = np.nan
    o = np.sort(np.r_[np.arange(n), rng.choice(n, 800, replace=False)])  # some origins in two units
    u = rng.integers(0, 40, o.size)
    w = rng.integers(0, 4, o.size).astype(float)
    ref = U._grouped_weighted_quantiles(u, vals[o], w, (0.5, 0.9), 40)
    for _ in range(2):  # the second time from the remembered order
        got = U._grouped_weighted_quantiles(u, vals[o], w, (0.5, 0.9), 40, order=U._pair_order(vals, o))
        for a, b in zip(got, ref):
            np.testing.assert_array_equal(a, b)
    # a plain reading of the rule for one unit
    k = 7
    m = (u == k) & (w > 0) & ~np.isnan(vals[o])
    v, ww = vals[o][m], w[m]
    s = np.argsort(v, kind="stable")
    cum = np.cumsum(ww[s])
    assert ref[0][k] == v[s][np.searchsorted(cum, 0.5 * cum[-1] - 1e-9)]
    assert U._pair_order(vals, o[::-1]) is None  # unsorted pairs: the caller sorts them itself
