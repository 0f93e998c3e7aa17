"""Facility attributes from planners' registers: places, ownership, inclusive, quality grade, demonstration, venue size.

Registers of kindergartens, infant-care institutions, children's homes and public venues carry columns that the
action plan's targets rest on. :func:`read_attributes` finds them by Chinese or English name, normalises their
values and reports the values it cannot read (a :class:`~childspace.ChildspaceWarning` with the count and ids, and
an entry in the loader's issue log); it never guesses.

Canonical columns (all optional; absent when the file has no such column):

==================  =========================================  =================================================
column              accepted input names (examples)            values
==================  =========================================  =================================================
``capacity``        托位数, 核定托位数, 托位 (when the loader      places (float): 托位 for infant care, 学位 for
                    found no 容量/学位数 column)                   kindergartens and schools
``ownership``       性质, 办园性质, 办学性质, 公办/民办            ``"public"`` (公办) / ``"private"`` (民办)
``inclusive``       普惠, 是否普惠, 普惠性                        True (普惠) / False (非普惠) / None
``grade``           等级, 办园等级, 评估等级                      ``"省一级"``, ``"省二级"``, ``"省三级"``, ``"市级"``,
                                                               ``"县级"``, ``"未定级"`` (准办/未评)
``demonstration``   示范型, 是否示范, 示范                        True (示范型) / False / None
``floor_area_m2``   建筑面积, 建筑面积(㎡), 面积(平方米)           square metres (``"1.2万"`` = 12,000)
``daily_visitors``  日均客流, 日均客流量, 日客流量                 visitors a day (``"1.5万人次"`` = 15,000)
``opened_year``     开办年份, 开园时间, 建成年份, opened_year      year (float): ``2023``, ``"2023年9月"``, ``"2023-09"``
==================  =========================================  =================================================

A 性质 value such as ``"民办普惠"`` gives both the ownership and, when the file has no 普惠 column, ``inclusive``.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from childspace._errors import ChildspaceWarning

__all__ = [
    "ALIASES",
    "GRADES",
    "QUALITY_GRADES",
    "parse_grade",
    "parse_number",
    "parse_ownership",
    "parse_year",
    "read_attributes",
]

#: accepted input column names per attribute (compared after NFKC, lower case, no spaces); earlier names win
ALIASES: dict[str, tuple[str, ...]] = {
    "capacity": (
        "capacity",
        "places",
        "托位数",
        "核定托位数",
        "托位数(个)",
        "托位",
        "核定学位数",
        "学位数(个)",
    ),
    "ownership": (
        "ownership",
        "性质",
        "办园性质",
        "办学性质",
        "举办性质",
        "机构性质",
        "公办/民办",
        "公民办",
        "公办民办",
        "所有制",
    ),
    "inclusive": ("inclusive", "普惠", "是否普惠", "普惠性", "是否普惠性", "普惠性质", "普惠园"),
    "grade": ("grade", "等级", "办园等级", "幼儿园等级", "评估等级", "等级评定", "质量等级", "星级"),
    "demonstration": (
        "demonstration",
        "示范型",
        "是否示范型",
        "示范",
        "是否示范",
        "示范性",
        "示范型儿童之家",
    ),
    "floor_area_m2": (
        "floor_area_m2",
        "floor_area",
        "建筑面积",
        "建筑面积(㎡)",
        "建筑面积(m2)",
        "建筑面积(m²)",
        "建筑面积(平方米)",
        "面积(平方米)",
        "面积(㎡)",
        "面积(m2)",
        "场所面积",
    ),
    "daily_visitors": (
        "daily_visitors",
        "visitors_per_day",
        "日均客流",
        "日均客流量",
        "日客流量",
        "日均人流量",
        "日均客流(人次)",
        "日客流(人次)",
        "客流量(人/日)",
    ),
    "opened_year": (
        "opened_year",
        "year_opened",
        "opened",
        "开办年份",
        "开办时间",
        "开办日期",
        "开园年份",
        "开园时间",
        "建园年份",
        "办园年份",
        "建成年份",
        "投用年份",
        "投入使用年份",
        "成立年份",
        "成立时间",
    ),
}

#: quality grades of kindergartens (Zhejiang: 省一级/省二级/省三级 by the provincial assessment), best first
GRADES = ("省一级", "省二级", "省三级", "市级", "县级", "未定级")
#: grades counted as quality kindergartens (优质园: 省二级及以上)
QUALITY_GRADES = ("省一级", "省二级")

_CN = {"一": 1, "二": 2, "两": 2, "三": 3, "1": 1, "2": 2, "3": 3}


def _key(text: Any) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()


def _blank(v: Any) -> bool:
    return (
        v is None
        or v is pd.NA
        or (isinstance(v, float) and np.isnan(v))
        or (isinstance(v, str) and not v.strip())
    )


def parse_number(value: object) -> float | None:
    """``"5,000㎡"``, ``"1.2万"``, ``"3000人次"``, ``12000`` -> float; NaN when blank; None when not a number."""
    if _blank(value):
        return np.nan
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    text = _key(value).replace(",", "")
    text = re.sub(r"(平方米|㎡|m2|m²|人次/日|人次/天|人/日|人/天|人次|人|个|位|约|以上|左右)$", "", text)
    text = re.sub(r"^(约|逾|超过)", "", text)
    mult = 1.0
    if text.endswith("万"):
        mult, text = 10_000.0, text[:-1]
    try:
        return float(text) * mult
    except ValueError:
        return None


def parse_year(value: object) -> float | None:
    """``2023``, ``"2023年"``, ``"2023年9月"``, ``"2023-09-01"``, a date -> 2023.0; NaN when blank; None when not a
    year between 1900 and 2100."""
    if _blank(value):
        return np.nan
    if hasattr(value, "year") and not isinstance(value, (int, float, str)):  # date, datetime, Timestamp
        year = float(value.year)
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        year = float(value)
        if not year.is_integer():
            return None
    else:
        m = re.fullmatch(
            r"(\d{4})(?:年|[-/.]\d{1,2}(?:[-/.]\d{1,2})?|年\d{1,2}月(?:\d{1,2}日)?)?(?:\s.*)?", _key(value)
        )
        if not m:
            return None
        year = float(m.group(1))
    return year if 1900 <= year <= 2100 else None


def parse_ownership(value: object) -> tuple[str | None, bool | None, bool]:
    """``(ownership, inclusive, understood)`` of a 性质 cell: 公办 -> public, 民办 -> private, 普惠 -> inclusive."""
    if _blank(value):
        return None, None, True
    k = _key(value)
    inclusive = (
        False if ("非普惠" in k or "营利" in k and "非营利" not in k) else (True if "普惠" in k else None)
    )
    if any(w in k for w in ("公办", "公立", "国有", "政府", "机关", "事业单位", "部队", "集体", "public")):
        return "public", inclusive, True
    if any(w in k for w in ("民办", "私立", "民营", "社会力量", "企业办", "private")):
        return "private", inclusive, True
    return None, inclusive, inclusive is not None


def _parse_flag(value: Any, yes: Sequence[str], no: Sequence[str]) -> tuple[bool | None, bool]:
    """``(flag, understood)``; blank -> (None, True)."""
    if _blank(value):
        return None, True
    if isinstance(value, (bool, np.bool_)):
        return bool(value), True
    k = _key(value)
    if k in ("是", "yes", "y", "true", "1", "✓", "√", "有") or k in yes:
        return True, True
    if k in ("否", "no", "n", "false", "0", "×", "无", "-") or k in no or k.startswith(("非", "不")):
        return False, True
    if any(w in k for w in yes):
        return True, True
    return None, False


def parse_grade(value: object) -> str | None:
    """A quality grade: ``"浙江省一级幼儿园"``/``"省1级"``/``"一级"`` -> ``"省一级"``; ``"准办"`` -> ``"未定级"``.

    Bare 一级/二级/三级 are read as the provincial grades (Zhejiang grades kindergartens at the provincial level).
    Returns ``""`` for a blank cell and None for a value not understood.
    """
    if _blank(value):
        return ""
    k = _key(value)
    if any(w in k for w in ("准办", "未定级", "未评", "未定", "暂无", "无等级", "不定级")) or k in (
        "无",
        "-",
    ):
        return "未定级"
    m = re.search(r"(省|市|县|区)?级?([一二三123])级", k)
    if m:
        level = {"省": "省", None: "省", "市": "市", "县": "县", "区": "县"}[m.group(1)]
        n = _CN[m.group(2)]
        if level == "省":
            return f"省{'一二三'[n - 1]}级"
        return "市级" if level == "市" else "县级"
    if "市级" in k or "市示范" in k:
        return "市级"
    if "县级" in k or "区级" in k:
        return "县级"
    return None


def _map_unique(raw: pd.Series, fn: Any) -> pd.Series:
    """``fn`` applied once per distinct value (registers repeat a few labels), as an object Series."""
    keys = raw.map(lambda v: None if _blank(v) else v)
    codes, uniques = pd.factorize(keys, use_na_sentinel=True)
    # one result per distinct value, the blank one last (code -1); kept as objects, so a None result ("not
    # understood") stays None and is not turned into NaN by a dict lookup
    results = np.empty(len(uniques) + 1, dtype=object)
    for k, v in enumerate(uniques):
        results[k] = fn(v)
    results[-1] = fn(None)
    return pd.Series(results[codes], index=raw.index, dtype=object)


def _none(s: pd.Series) -> pd.Series:
    """An object Series with None (not NaN) for missing values."""
    s = s.astype(object)
    s[s.isna()] = None
    return s


def _find(columns: Sequence[Any], canon: str, explicit: Mapping[str, str] | None, taken: set) -> Any | None:
    if explicit and canon in explicit:
        want = _key(explicit[canon])
        return next((c for c in columns if _key(c) == want), None)
    lookup: dict[str, Any] = {}
    for c in columns:
        if c not in taken:
            lookup.setdefault(_key(c), c)
    return next((lookup[_key(a)] for a in ALIASES[canon] if _key(a) in lookup), None)


def _report(issues: list[dict] | None, path: Any, check: str, message: str, ids: Sequence[Any]) -> None:
    ids = [str(i) for i in ids]
    if issues is not None:
        issues.append(
            {
                "check": check,
                "count": len(ids),
                "ids": "; ".join(ids),
                "message": message,
                "file": None if path is None else str(path),
            }
        )
    warnings.warn((f"{path}: " if path is not None else "") + message, ChildspaceWarning, stacklevel=4)


def read_attributes(
    df: pd.DataFrame,
    issues: list[dict] | None = None,
    path: str | Path | None = None,
    columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Find, rename and normalise the attribute columns of a facility table (see the module docstring).

    Parameters
    ----------
    df : DataFrame or GeoDataFrame
        A facility table, e.g. inside :func:`childspace.inputs.load_facilities`; ``facility_id`` or ``name``
        identify rows in messages. Not modified.
    issues : list of dict, optional
        The loader's issue log; an entry is added per attribute with values not understood.
    path : optional
        The file, for messages.
    columns : mapping, optional
        canonical name -> input column (``{"grade": "评定结果"}``), winning over the accepted names.

    Returns
    -------
    DataFrame
        A copy with the attribute columns found renamed to their canonical names and normalised; values not
        understood are None/NaN and reported (ChildspaceWarning with the count, the ids and the values).
    """
    out = df.copy()
    geom = getattr(df, "_geometry_column_name", None)
    canon_cols = {"facility_id", "name", "category", "subtype", "source", "address", "area_ha", geom}
    taken = {c for c in out.columns if c in canon_cols}
    ids = (
        out["facility_id"]
        if "facility_id" in out.columns
        else out["name"]
        if "name" in out.columns
        else pd.Series(out.index, index=out.index)
    ).astype(str)
    found: dict[str, Any] = {}
    for canon in ALIASES:
        if canon == "capacity" and "capacity" in out.columns:
            continue
        col = _find([c for c in out.columns if c not in taken], canon, columns, taken)
        if col is not None:
            found[canon] = col
            taken.add(col)

    def bad(canon: str, mask: np.ndarray, raw: pd.Series, what: str) -> None:
        if mask.any():
            vals = sorted({str(v) for v in raw[mask]})
            _report(
                issues,
                path,
                f"attribute_{canon}",
                f"{int(mask.sum())} values of {found[canon]!r} not "
                f"understood as {what}: {', '.join(vals[:10])} (left empty; ids: "
                f"{', '.join(ids[mask].tolist()[:20])})",
                ids[mask].tolist(),
            )

    for canon, col in found.items():
        raw = out[col]
        if canon == "opened_year":
            parsed = _map_unique(raw, parse_year)
            nok = parsed.map(lambda v: v is None).to_numpy(dtype=bool)
            bad(canon, nok, raw, "a year (e.g. 2023, 2023年9月)")
            new = pd.to_numeric(parsed.where(~nok, np.nan), errors="coerce").astype("float64")
        elif canon in ("capacity", "floor_area_m2", "daily_visitors"):
            parsed = _map_unique(raw, parse_number)
            nok = parsed.map(lambda v: v is None).to_numpy(dtype=bool)
            bad(canon, nok, raw, "a number")
            new = pd.to_numeric(parsed.where(~nok, np.nan), errors="coerce").astype("float64")
            neg = (new < 0).to_numpy()
            bad(canon, neg, raw, "a number ≥ 0")
            new[neg] = np.nan
        elif canon == "ownership":
            parsed = _map_unique(raw, parse_ownership)
            bad(canon, ~parsed.map(lambda t: t[2]).to_numpy(dtype=bool), raw, "公办 public / 民办 private")
            new = _none(parsed.map(lambda t: t[0]))
            if "inclusive" not in found and "inclusive" not in out.columns:
                incl = _none(parsed.map(lambda t: t[1]))
                if incl.notna().any():
                    out["inclusive"] = incl
        elif canon == "grade":
            parsed = _map_unique(raw, parse_grade)
            bad(canon, parsed.isna().to_numpy(), raw, f"a grade ({'/'.join(GRADES)})")
            new = _none(parsed.map(lambda g: g or None))
        else:
            yes = ("普惠", "普惠性") if canon == "inclusive" else ("示范型", "示范", "示范性")
            no = (
                ("非普惠", "营利性")
                if canon == "inclusive"
                else ("普通", "一般", "基础型", "标准型", "规范型")
            )
            parsed = _map_unique(raw, lambda v, y=yes, n=no: _parse_flag(v, y, n))
            bad(canon, ~parsed.map(lambda t: t[1]).to_numpy(dtype=bool), raw, "是/否 yes/no")
            new = _none(parsed.map(lambda t: t[0]))
        out = out.drop(columns=col)
        out[canon] = new
    return out
