"""CSV text built in Arrow (:func:`childspace.outputs.csv_text.csv_bytes`): byte for byte what pandas writes."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from childspace.outputs import workbook as wb
from childspace.outputs.csv_text import csv_bytes


def _pandas(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_csv(buf, index=False, encoding="utf-8-sig", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    return buf.getvalue()


def test_every_kind_of_column_as_pandas_writes_it():
    n = 12
    df = pd.DataFrame(
        {
            "起点编号 Origin ID": [f"H{i:06d}" for i in range(n)],
            "int": np.arange(n, dtype=np.int64) - 5,
            "int16": np.arange(n, dtype=np.int16),
            "Int64": pd.array([1, None, 3, -4] * 3, dtype="Int64"),
            "bool": [True, False] * 6,
            "boolean": pd.array([True, None, False] * 4, dtype="boolean"),
            "float": [0.488, 2.0, np.nan, -0.0, 1e-05, 1e12, 1e20, 123456.789, 0.1, 7.25, -3.0, 1e-4],
            "text": [
                "a,b",
                'say "hi"',
                "two\r\nlines",
                "line\nfeed",
                None,
                "乐清市 Yueqing",
                "",
                " x ",
                "'=1",
                "plain",
                "cr\r",
                "end",
            ],
            "obj": pd.Series(["x", None, "y,z", np.nan] * 3, dtype=object),
            'head,"q"': ["v"] * n,
        }
    )
    got = csv_bytes(df)
    assert got is not None
    assert got == _pandas(df)
    assert got.startswith("\ufeff".encode()) and got.endswith(b"\r\n")
    assert csv_bytes(df.iloc[:0]) == _pandas(df.iloc[:0])
    # every whole float keeps its ".0", small and large magnitudes numpy's own exponent form
    text = got.decode("utf-8-sig")
    assert ",2.0," in text and ",1e-05," in text and ",1e+20," in text and ",-0.0," in text


@pytest.mark.parametrize("decimals", range(7))
def test_rounded_floats_of_every_magnitude(decimals):
    rng = np.random.default_rng(decimals)
    parts = [np.round(rng.uniform(-1, 1, 3000) * 10.0**e, decimals) for e in range(-4, 16)]
    v = np.concatenate(parts)
    v[::97] = np.nan
    df = pd.DataFrame({"id": np.arange(len(v)), "x": v, "whole": np.round(v)})
    assert csv_bytes(df) == _pandas(df)
    for p in parts:  # one magnitude per column: the Arrow cast (1e-4..1e9) and numpy's formatting otherwise
        one = pd.DataFrame({"id": np.arange(len(p)), "x": p})
        assert csv_bytes(one) == _pandas(one)


def test_kinds_left_to_pandas():
    assert csv_bytes(pd.DataFrame({"only": ["", "a"]})) is None  # csv quotes a lone empty field
    assert csv_bytes(pd.DataFrame({"a": [1.0, np.inf], "b": [1, 2]})) is None
    assert csv_bytes(pd.DataFrame({"a": pd.to_datetime(["2024-01-01", "2024-01-02"]), "b": [1, 2]})) is None
    assert csv_bytes(pd.DataFrame({"a": [1, "x"], "b": [1, 2]}, dtype=object)) is None
    assert csv_bytes(pd.DataFrame({"a": pd.Categorical(["x", "y"]), "b": [1, 2]})) is None


def test_run_tables_byte_identical_to_pandas(sample_run, tmp_path, monkeypatch):
    """The sample run's CSV tables (bilingual headers, rounded numbers, translated nothing) are the bytes the
    pandas writer writes; the Arrow text is used for every one of them."""
    from childspace.run import writing

    tables = writing._tables(sample_run)
    assert len(tables) >= 8
    for t in tables.values():  # no table falls back to pandas
        plain = wb._plain_table(t, "t")
        assert csv_bytes(wb.bilingual_headers(wb._round_numbers(plain))) is not None
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    fast = wb.write_csv_tables(tmp_path / "a", tables, bilingual=True)
    monkeypatch.setattr(wb, "csv_bytes", lambda table: None)
    slow = wb.write_csv_tables(tmp_path / "b", tables, bilingual=True)
    assert fast.keys() == slow.keys()
    for k in fast:
        assert fast[k].read_bytes() == slow[k].read_bytes(), k
