"""The shortcuts of the routes layer give exactly what the plain ways gave: the origins' ranks from Arrow equal
``pd.factorize(sort=True)``'s codes, the verdicts and the assumption flag compared by table entry equal the
row-by-row columns, and the hazards' school names and per-category levels looked up per distinct value equal
the row-by-row lookups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from childspace.analysis.route_tables import _set_verdicts
from childspace.analysis.routes import _ranks
from childspace.analysis.safety import resolved_config, safe_max_levels
from childspace.analysis.safety import verdict as _verdict


@pytest.mark.parametrize(
    "ids",
    [
        ["H000002", "H000001", "H000010", "H000001", "a", "Z", "é", "z", "a\u00ff", "a\U0001f600", "ab", ""],
        [f"o{i}" for i in np.random.default_rng(3).permutation(5000)],
        [3, 1, 2, 1, 10],
        ["b", 1, "a"],
        ["a\udc80", "b", "a"],  # not encodable as UTF-8: factorised as before
        [],
    ],
)
def test_ranks_are_the_sorted_factorize_codes(ids):
    arr = np.asarray(ids, dtype=object)
    try:
        want = pd.factorize(arr, sort=True)[0]
    except TypeError:  # (mixed types cannot be sorted: neither way applies)
        with pytest.raises(TypeError):
            _ranks(arr)
        return
    got = _ranks(arr)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def _old_set_verdicts(routes: pd.DataFrame, cfg: dict, smax: dict) -> None:
    """The verdicts as they were set before (the category converted per row, the flag compared per row)."""
    c_code, c_uniq = pd.factorize(routes["category"].to_numpy(dtype=object), use_na_sentinel=False)
    for col, lcol in (
        ("verdict", "worst_level"),
        ("verdict_best", "worst_level_best"),
        ("verdict_worst", "worst_level_worst"),
    ):
        l_code, l_uniq = pd.factorize(routes[lcol].to_numpy(), use_na_sentinel=False)
        k = np.asarray(l_uniq).size
        table = _verdict(
            np.tile(np.asarray(l_uniq), c_uniq.size),
            cfg,
            smax,
            np.repeat(np.asarray(c_uniq, dtype=object), k),
        )
        if not table.size:
            routes[col] = table
        elif pd.api.types.infer_dtype(table, skipna=False) == "string":
            routes[col] = pd.array(table, dtype="str").take(c_code * k + l_code)
        else:
            routes[col] = table.reshape(c_uniq.size, k)[c_code, l_code]
    routes["verdict_assumed"] = routes["verdict_best"].to_numpy() != routes["verdict_worst"].to_numpy()


@pytest.mark.parametrize("cat_dtype", ["str", object])
@pytest.mark.parametrize("n", [0, 1, 5000])
def test_verdicts_equal_the_row_by_row_columns(cat_dtype, n):
    rng = np.random.default_rng(11)
    cats = np.array(["primary_school", "middle_school", "kindergarten"], dtype=object)
    frame = pd.DataFrame(
        {
            "category": pd.array(cats[rng.integers(0, 3, n)], dtype=cat_dtype),
            "worst_level": rng.integers(0, 5, n),
            "worst_level_best": rng.integers(0, 5, n),
            "worst_level_worst": rng.integers(0, 5, n),
        }
    )
    cfg = resolved_config(None)
    smax = safe_max_levels(None, cfg)
    got, want = frame.copy(), frame.copy()
    _set_verdicts(got, cfg, smax)
    _old_set_verdicts(want, cfg, smax)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def _old_school_names(routes, schools):
    """The schools' names as they were read before (every row's id converted and looked up)."""
    ids = routes["school_id"].astype(str).to_numpy(dtype=object)
    if schools is None or "name" not in schools.columns:
        return ids
    nm = pd.Series(
        schools["name"].to_numpy(dtype=object), index=schools["facility_id"].astype(str).to_numpy()
    )
    nm = nm[~nm.index.duplicated()]
    got = nm.reindex(ids).to_numpy(dtype=object)
    ok = pd.notna(got) & (pd.Series(got, dtype=object).astype(str).str.strip() != "").to_numpy()
    return np.where(ok, got, ids)


@pytest.mark.parametrize("dtype", ["str", object])
@pytest.mark.parametrize("named", [True, False])
def test_school_names_per_distinct_school_equal_per_row(dtype, named):
    from childspace.analysis.hazards import _school_names

    rng = np.random.default_rng(5)
    pool = np.array(["s1", "s2", "s3", "s4", None, "s9"], dtype=object)
    routes = pd.DataFrame({"school_id": pd.array(pool[rng.integers(0, 6, 3000)], dtype=dtype)})
    schools = pd.DataFrame(
        {"facility_id": ["s1", "s2", "s3", "s4", "s2"], "name": ["A", " ", None, "D", "B"]}
    )
    if not named:
        schools = schools.drop(columns="name")
    for frame in (routes, routes.iloc[:0]):
        got, want = _school_names(frame, schools), _old_school_names(frame, schools)
        assert got.dtype == want.dtype
        assert [repr(x) for x in got] == [repr(x) for x in want]


@pytest.mark.parametrize("dtype", ["str", object])
def test_per_value_map_equals_the_row_by_row_map(dtype):
    from childspace.analysis.hazards import _per_value

    rng = np.random.default_rng(6)
    cats = np.array(["primary_school", "middle_school", None], dtype=object)
    col = pd.Series(pd.array(cats[rng.integers(0, 3, 2000)], dtype=dtype), index=rng.permutation(2000))
    smax = {"primary_school": 1, "default": 2}
    f = lambda c: smax.get(c, smax["default"]) + 1  # noqa: E731
    for c in (col, col.iloc[:0]):
        np.testing.assert_array_equal(
            _per_value(c, f).to_numpy(dtype=np.int64), c.map(f).to_numpy(dtype=np.int64)
        )
