"""Ids read from a column of strings (the fast path of ``tables._clean_ids``) equal the per-cell ``key_str`` (ids
are keys: NFKC-normalised)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from childspace._errors import DataError
from childspace.inputs import _validate as V
from childspace.inputs import tables


def _strings(n: int) -> list[str]:
    rng = np.random.default_rng(2)
    odd = ["  H1 ", "Ｈ２", "ｈ３\u3000", "\u00a0H4", "H5\t", "ﾊ6", "①7", "H\u20038", "x\x1c9"]
    return [odd[i % len(odd)] + f"-{i}" if rng.random() < 0.3 else f"H{i:06d}" for i in range(n)]


@pytest.mark.parametrize("dtype", [object, "str"])
def test_clean_ids_equal_key_str(dtype):
    s = pd.Series(_strings(3000), dtype=dtype, index=np.arange(3000) * 2)
    got = tables._clean_ids(s)
    ref = s.map(V.key_str).astype(object)
    pd.testing.assert_series_equal(got, ref, check_exact=True)
    assert (
        got.str.startswith("H").sum() > 1000 and (got != s.astype(object)).sum() > 500
    )  # cleaned, not copied


def test_clean_ids_blank_and_mixed():
    vals = _strings(2000)
    vals[7] = " \u3000 "  # blank once stripped
    s = pd.Series(vals, dtype=object)
    got = tables._clean_ids(s)
    assert got[7] is None
    pd.testing.assert_series_equal(got, s.map(V.key_str).astype(object), check_exact=True)
    mixed = pd.Series([*vals[:1500], 12.0, None], dtype=object)  # numbers and gaps: cell by cell
    pd.testing.assert_series_equal(tables._clean_ids(mixed), mixed.map(V.key_str).astype(object))
    df = pd.DataFrame({"id": vals, "__row__": np.arange(len(vals)) + 2})
    with pytest.raises(DataError, match="empty id"):
        tables.make_ids(df, "id", "H", {"path": "homes.csv"})
