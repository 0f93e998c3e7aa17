"""CSV text of a table, built column by column with Arrow compute: the bytes pandas' ``to_csv`` writes, faster.

:func:`csv_bytes` returns exactly what ``DataFrame.to_csv(index=False, encoding="utf-8-sig",
quoting=csv.QUOTE_MINIMAL, lineterminator="\\r\\n")`` writes (the CSV tables of a run,
:func:`childspace.outputs.workbook.write_csv_tables`): a county's per-home routes table (600,000 rows) takes
pandas' Python CSV writer several seconds; here each column becomes its text once and the rows are joined in
Arrow. The text of each kind of column is pandas':

- integers (also nullable, missing as an empty field) as digits; booleans ``True`` / ``False``;
- floats as ``numpy.ndarray.astype(str)`` writes them (the shortest repr: ``0.488``, ``2.0``, ``1e-05``), missing
  as an empty field; Arrow's cast gives the same digits between 1e-4 and 1e9 once whole numbers get their ``.0``
  (checked against numpy in the tests), other magnitudes are formatted by numpy;
- text as it is, quoted as Python's ``csv`` module does with ``QUOTE_MINIMAL`` (a field holding the delimiter, a
  quote or a line break is quoted, its quotes doubled).

Any other kind of column (dates, categories, objects that are not all text, a one-column table, where the csv
module quotes an empty field) returns ``None``: the caller writes that table with pandas.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["csv_bytes"]

#: characters that make Python's csv module quote a field (delimiter, quote character, the line terminator's)
_NEEDS_QUOTES = '[",\r\n]'


def _quote_py(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


def _may_need_quotes(arr: Any) -> bool:
    """Whether a text of the Arrow string array may hold a character that needs quoting: one scan of its data
    buffer (bytes outside a sliced array's range only cost the exact test)."""
    buf = arr.buffers()[2]
    raw = buf.to_pybytes() if buf is not None else b""
    return any(raw.find(ch) >= 0 for ch in (b'"', b",", b"\r", b"\n"))


def _float_text(v: np.ndarray) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    fin = np.isfinite(v)
    if not (fin | np.isnan(v)).all():  # ±inf: pandas writes "inf"; leave it to pandas
        return None
    a = np.abs(v[fin])
    if a.size and not bool(((a == 0) | ((a >= 1e-4) & (a < 1e9))).all()):
        text = pa.array(v.astype(str))  # numpy's own formatting, as pandas
    else:
        text = pc.cast(pa.array(v), pa.string())
        whole = pa.array(fin & (v == np.floor(np.where(fin, v, 0.0))))
        text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
    return pc.if_else(pa.array(fin), text, "")


def _text(s: pd.Series) -> Any:
    """The column's fields as an Arrow string array without nulls, or None for a kind not handled."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dt = s.dtype
    if pd.api.types.is_bool_dtype(dt):
        if isinstance(dt, pd.api.extensions.ExtensionDtype):  # nullable boolean
            b = pa.array(s.array, type=pa.bool_(), from_pandas=True)
            return pc.fill_null(pc.if_else(b, "True", "False"), "")
        return pc.if_else(pa.array(s.to_numpy(dtype=bool)), "True", "False")
    if pd.api.types.is_integer_dtype(dt):
        if isinstance(dt, pd.api.extensions.ExtensionDtype):
            arr = pa.array(s.array, from_pandas=True)
        else:
            arr = pa.array(s.to_numpy())
        return pc.fill_null(pc.cast(arr, pa.string()), "")
    if pd.api.types.is_float_dtype(dt):
        if isinstance(dt, pd.api.extensions.ExtensionDtype) or dt != np.float64:
            return None
        return _float_text(s.to_numpy(dtype=np.float64))
    if pd.api.types.is_string_dtype(dt) and not isinstance(dt, pd.CategoricalDtype):
        try:  # Arrow-backed text as it is (no copy); other text through Python objects
            values = s.array if isinstance(dt, pd.StringDtype) else s.to_numpy(dtype=object)
            arr = pa.array(values, type=pa.string(), from_pandas=True)
            if isinstance(arr, pa.ChunkedArray):
                arr = arr.combine_chunks()
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # objects that are not all text
            return None
        if _may_need_quotes(arr):
            quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
            arr = pc.if_else(pc.match_substring_regex(arr, _NEEDS_QUOTES), quoted, arr)
        return pc.fill_null(arr, "") if arr.null_count else arr
    return None


def csv_bytes(table: pd.DataFrame) -> bytes | None:
    """The bytes of ``table.to_csv(index=False, encoding="utf-8-sig", quoting=csv.QUOTE_MINIMAL,
    lineterminator="\\r\\n")``, or ``None`` when a column is of a kind this does not write (see the module)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.shape[1] < 2:
        return None
    header = (",".join(_quote_py(str(c)) for c in table.columns) + "\r\n").encode("utf-8-sig")
    if len(table) == 0:
        return header
    cols = []
    for c in table.columns:
        t = _text(table[c])
        if t is None:
            return None
        cols.append(t)
    rows = pc.binary_join_element_wise(*cols, ",")
    rows = pc.binary_join_element_wise(rows, "\r\n", "")
    if isinstance(rows, pa.ChunkedArray):
        rows = rows.combine_chunks()
    if rows.null_count:
        return None
    off_type = np.int64 if pa.types.is_large_string(rows.type) else np.int32
    offsets = np.frombuffer(rows.buffers()[1], dtype=off_type)[rows.offset : rows.offset + len(rows) + 1]
    body = memoryview(rows.buffers()[2])[int(offsets[0]) : int(offsets[-1])]
    return header + bytes(body)
