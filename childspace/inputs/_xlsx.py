"""What an Excel workbook hides from a plain read of its first sheet: the sheet that holds the table when the first
one is instructions (填表说明), and formulas saved without their computed values (they read as empty cells).

Internal module of :mod:`childspace.inputs.tables`.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pandas as pd

from childspace._errors import DataError
from childspace.inputs import _validate as V


def _known_hits(cells: list[Any], known: set[str]) -> list[str]:
    return [str(c) for c in cells if not V.is_blank(c) and V.norm_key(c) in known]


def sheets_with_columns(p: Path, known: set[str], skip: str, rows: int = 11) -> dict[str, list[str]]:
    """Sheet name -> the known column names in its first ``rows`` rows, for the sheets (other than ``skip``) whose
    header row holds at least two of them."""
    import openpyxl

    out: dict[str, list[str]] = {}
    wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    try:
        for name in wb.sheetnames:
            if name == skip:
                continue
            for row in wb[name].iter_rows(max_row=rows, values_only=True):
                hits = _known_hits(list(row), known)
                if len(hits) >= 2:
                    out[name] = hits
                    break
    finally:
        wb.close()
    return out


def check_sheet(p: Path, df: pd.DataFrame, meta: dict[str, Any], known: set[str]) -> None:
    """Refuse the first sheet of a workbook when it holds none of the expected columns and another sheet does
    (a first sheet of instructions, 填表说明): the error names the sheets to choose from with ``sheet``."""
    if meta["given"] or len(meta["sheets"]) < 2:
        return
    if len(_known_hits(list(df.columns), known)) >= 2:
        return
    found = sheets_with_columns(p, known, skip=meta["sheet"])
    if not found:
        return
    shown = "; ".join(f"{name!r} (columns {', '.join(cols[:6])})" for name, cols in found.items())
    first = next(iter(found))
    cols = [c for c in df.columns if c != "__row__"]
    raise DataError(
        f"the first sheet {meta['sheet']!r} of the workbook holds none of the expected columns (found {cols[:8]}); "
        f"the sheets with them: {shown}",
        path=p,
        fix=f'name the sheet to read: sheet = "{first}" in this file\'s block of the run configuration (.toml), '
        f"or sheet={first!r} in Python",
    )


_CELL = re.compile(rb'<c r="([A-Z]{1,3})(\d+)"(?:\s[^>]*?)?(?<!/)>(.*?)</c>', re.S)
_VALUE = re.compile(rb"<v>[^<]+</v>")


def _column_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n - 1


def uncached_formulas(p: Path, xml_path: str | None) -> dict[int, list[int]]:
    """Column index (0 = A) -> spreadsheet rows of the cells that hold a formula without a computed value (a
    workbook written by a script or a system's export and never opened in Excel/WPS: such cells read as empty)."""
    if not xml_path:
        return {}
    try:
        with zipfile.ZipFile(p) as z:
            xml = z.read(xml_path.lstrip("/"))
    except (KeyError, OSError, zipfile.BadZipFile):
        return {}
    if b"<f" not in xml:
        return {}
    out: dict[int, list[int]] = {}
    for m in _CELL.finditer(xml):
        body = m.group(3)
        if b"<f" in body and not _VALUE.search(body):
            out.setdefault(_column_index(m.group(1)), []).append(int(m.group(2)))
    return out


def check_formulas(
    p: Path, raw: pd.DataFrame, df: pd.DataFrame, meta: dict[str, Any], issues: list[dict]
) -> None:
    """Formulas without computed values in the data rows of ``df`` (read from ``raw``, the sheet's cells): a
    column where most cells are such formulas is an error; a few are reported (they read as empty)."""
    if not raw.isna().to_numpy().any():
        return  # no empty cell: nothing can be an uncomputed formula
    found = uncached_formulas(p, meta.get("xml"))
    if not found:
        return
    data_rows = set(df["__row__"].tolist())
    names: list[Hashable] = [c for c in df.columns if c != "__row__"]
    cols = [
        (f"{names[j]!r} (column {_letters(j)})", [r for r in rows if r in data_rows])
        for j, rows in sorted(found.items())
        if j < len(names)
    ]
    cols = [(label, rows) for label, rows in cols if rows]
    label, rows = max(cols, key=lambda t: len(t[1]), default=("", []))
    if len(rows) * 2 > len(df):
        raise DataError(
            f"{len(rows)} of the {len(df)} data rows of {label} are formulas without a computed value "
            f"({V.describe_rows(rows)}), so they read as empty: {_WHY}",
            path=p,
            fix=_FIX,
        )
    for label, rows in cols:
        V.log_issue(
            issues,
            "formula_without_value",
            f"{len(rows)} cells of {label} are formulas without a computed value ({V.describe_rows(rows)}): "
            f"they read as empty; {_WHY} -> {_FIX}",
            ids=rows,
            path=p,
        )


_WHY = (
    "the file was saved by a program that does not compute formulas (a script or a system's export) and never "
    "opened in Excel/WPS"
)
_FIX = (
    "open the file in Excel or WPS and save it (the formulas are computed then), or give values, not formulas"
)


def _letters(j: int) -> str:
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s
