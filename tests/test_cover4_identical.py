"""The coverage stages' shortcuts give what the plain operations give: contourpy's coordinate grids kept per
width, extents of (n, 2) points column by column, the origin table's columns without its attrs, a unit level's
pair starts computed once, and the pilots' check of the origin table."""

from __future__ import annotations

import contourpy
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from childspace.analysis import _raster as R
from childspace.analysis import units as U
from childspace.analysis._coverage_base import without_attrs
from childspace.analysis.pilots import _reusable


def _plain_rings(grid: np.ndarray) -> list[np.ndarray]:
    """contourpy on broadcast coordinate views (what ``_filled_rings`` passed before its grids were kept)."""
    h, w = grid.shape
    gen = contourpy.SerialContourGenerator(
        np.broadcast_to(np.arange(w, dtype=np.float64), (h, w)),
        np.broadcast_to(np.arange(h, dtype=np.float64)[:, None], (h, w)),
        grid.astype(np.float64),
        None,  # type: ignore[arg-type]
        corner_mask=False,
        line_type=contourpy.LineType.SeparateCode,
        fill_type=contourpy.FillType.ChunkCombinedOffsetOffset,
        quad_as_tri=False,
        z_interp=contourpy.ZInterp.Linear,
    )
    return [a[0] for a in gen.filled(0.5, 1.5)]


def test_filled_rings_with_kept_grids_equal_broadcast_views(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    R._GRIDS.clear()
    monkeypatch.setattr(R, "GRID_KEEP", 2)
    # one width at growing and shrinking heights (the kept grid grows, then serves views), other widths (the
    # oldest dropped), and a grid above the kept size (broadcast views, as before)
    shapes = [(40, 60), (90, 60), (30, 60), (50, 45), (70, 33), (40, 60), (200, 60)]
    monkeypatch.setattr(R, "GRID_KEEP_CELLS", 10_000)
    for h, w in shapes:
        grid = (rng.random((h, w)) < 0.3).astype(np.uint8)
        grid = R._disk_dilate(grid, 1.5)
        grid[0, :] = grid[-1, :] = 0
        grid[:, 0] = grid[:, -1] = 0
        got = R._filled_rings(grid)
        want = _plain_rings(grid)
        for a, b in zip(got, want):
            assert a.dtype == b.dtype and np.array_equal(a, b)
        x, y = R._index_grids(h, w)
        assert x.shape == y.shape == (h, w)
        assert np.array_equal(x, np.broadcast_to(np.arange(w, dtype=np.float64), (h, w)))
        assert np.array_equal(y, np.broadcast_to(np.arange(h, dtype=np.float64)[:, None], (h, w)))
        if h * w <= R.GRID_KEEP_CELLS:
            assert x.flags["C_CONTIGUOUS"] and y.flags["C_CONTIGUOUS"] and not x.flags["WRITEABLE"]
    assert len(R._GRIDS) <= 2
    R._GRIDS.clear()


def test_column_extents_equal_axis_reductions() -> None:
    rng = np.random.default_rng(3)
    xy = rng.normal(size=(1001, 2)) * 1e5
    assert np.array_equal(R._col_min(xy), xy.min(axis=0))
    assert np.array_equal(R._col_max(xy), xy.max(axis=0))
    xy[5, 1] = np.nan  # NaN propagates as in the axis reduction
    assert np.array_equal(R._col_min(xy), xy.min(axis=0), equal_nan=True)
    assert np.array_equal(R._col_max(xy), xy.max(axis=0), equal_nan=True)


def test_without_attrs_shares_columns_and_leaves_the_frame() -> None:
    df = gpd.GeoDataFrame(
        {"origin_id": ["a", "b"], "children": [1.0, 2.0]},
        geometry=shapely.points([[0, 0], [1, 1]]),
        crs=4326,
    )
    df.attrs["radii"] = {"park": [300.0, 500.0]}
    plain = without_attrs(df)
    assert plain.attrs == {} and df.attrs == {"radii": {"park": [300.0, 500.0]}}
    assert isinstance(plain, gpd.GeoDataFrame) and plain.crs == df.crs
    pd.testing.assert_frame_equal(pd.DataFrame(plain), pd.DataFrame(df), check_exact=True)
    assert np.shares_memory(plain["children"].to_numpy(), df["children"].to_numpy())


@pytest.mark.parametrize("twice", [False, True])
def test_pair_order_with_starts_equals_without(twice: bool) -> None:
    rng = np.random.default_rng(11)
    n = 500
    vals = np.round(rng.random(n) * 50)  # ties
    vals[::17] = np.inf
    o = np.sort(rng.choice(n, 400, replace=twice))
    if not twice:
        o = np.unique(o)
    U._ORDER_CACHE.clear()
    want = U._pair_order(vals, o)
    starts = U._pair_starts(o, n)
    assert starts is not None and (starts[2] is None) == twice
    got = U._pair_order(vals, o, starts)
    assert want is not None and got is not None and np.array_equal(got, want)
    # every pair once, in the order of their origins' values
    assert np.array_equal(np.sort(got), np.arange(o.size))
    seq = vals[o[got]]
    assert (seq[1:] >= seq[:-1]).all()
    assert U._pair_starts(o[::-1], n) is None  # pairs not sorted by origin: the caller sorts them itself


def test_reusable_compares_origin_ids() -> None:
    pts = shapely.points([[0, 0], [1, 1], [2, 2]])
    origins = gpd.GeoDataFrame({"origin_id": ["o1", "o2", "o3"], "children": 1}, geometry=pts, crs=4326)
    cols = {f"{k}_{m}_park": 0.0 for k in ("dist", "covered") for m in ("walk", "line")}
    access = origins.assign(**cols)
    assert _reusable(access, origins, ["park"])
    other = access.assign(origin_id=["o1", "o2", "x"])
    assert not _reusable(other, origins, ["park"])
    # the same ids in another dtype or under another index: compared as strings, as before
    as_obj = access.assign(origin_id=np.array(["o1", "o2", "o3"], dtype=object))
    assert _reusable(as_obj, origins, ["park"])
    assert _reusable(access.set_axis([5, 6, 7]), origins, ["park"])
    assert not _reusable(access, origins, ["playground"])
