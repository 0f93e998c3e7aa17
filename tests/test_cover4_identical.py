"""The coverage stages' shortcuts give what the plain operations give: extents of (n, 2) points column by column,
the origin table's columns without its attrs, a unit level's pair starts computed once, and the pilots' check of
the origin table."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from childspace.analysis import _raster as R
from childspace.analysis import units as U
from childspace.analysis._coverage_base import without_attrs
from childspace.analysis.pilots import _reusable


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
