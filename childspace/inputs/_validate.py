"""Validation helpers for :mod:`childspace.io`: column names, encodings, CRS guesses, value parsing, issue log.

Internal module; the public entry points are the loaders in :mod:`childspace.io`.
"""

from __future__ import annotations

import re
import struct
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from childspace._errors import ChildspaceWarning, DataError

# ----------------------------------------------------------------------------------------------------------------
# Column names
# ----------------------------------------------------------------------------------------------------------------

#: Accepted input column names per canonical column (compared after :func:`norm_key`). Earlier names win when a
#: file has several of them.
ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "名称", "名字", "单位名称", "设施名称", "学校名称", "机构名称", "场所名称", "试点名称",
             "单元名称", "社区名称", "村社区名称", "镇街名称", "乡镇名称", "项目名称", "mc", "name_zh", "name:zh"),
    "category": ("category", "类型", "类别", "设施类型", "设施类别", "分类", "种类", "type", "fclass"),
    "kind": ("kind", "类型", "试点类型", "单元类型", "类别", "type", "category"),
    "id": ("id", "编号", "编码", "序号", "facility_id", "pilot_id", "origin_id", "unit_id", "fid_", "objectid"),
    "code": ("code", "社区编码", "行政区划代码", "区划代码", "统计用区划代码", "编码", "代码", "adcode", "xzqdm"),
    "address": ("address", "地址", "详细地址", "addr", "位置"),
    "capacity": ("capacity", "容量", "学位数", "学位", "床位数", "规模", "人数容量"),
    "population": ("population", "人口", "pop", "常住人口", "户籍人口", "总人口", "人口数"),
    "children": ("children", "儿童数", "儿童人数", "儿童", "儿童人口", "0-17岁人口", "0-17岁儿童", "未成年人数",
                 "未成年人口", "child", "kids"),
    "batch": ("batch", "批次", "试点批次", "年份", "year"),
    "township": ("township", "所属镇街", "镇街", "所属街道", "所属乡镇", "所属镇街道", "乡镇街道", "乡镇", "街道",
                 "town"),
    "key_project": ("key_project", "重点项目", "是否重点项目", "重点", "key"),
    "notes": ("notes", "备注", "note", "remark", "remarks", "说明"),
    "parent_id": ("parent_id", "town_code", "towncode", "parent", "上级编码", "所属镇街编码", "镇街编码", "乡镇编码",
                  "township_code"),
    "level": ("level", "级别", "层级", "行政级别"),
    "lon": ("lon", "经度", "东经", "lng", "long", "longitude", "x", "x坐标", "point_x", "横坐标"),
    "lat": ("lat", "纬度", "北纬", "latitude", "y", "y坐标", "point_y", "纵坐标"),
    "datum": ("datum", "坐标系", "坐标系统", "坐标类型", "coord_type", "coordsys"),
    "area_ha": ("area_ha", "面积(公顷)", "面积公顷", "占地面积(公顷)", "面积(ha)", "area(ha)"),
    "unit_id": ("unit_id", "单元编号", "所属单元", "所属社区编码"),
    "subtype": ("subtype", "子类", "细类"),
    "source": ("source", "来源", "数据来源"),
}


def norm_key(name: Any) -> str:
    """Normalise a column name for matching: NFKC, lower case, no whitespace, ``-`` kept, ``_`` kept."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(name))).lower()


def find_column(columns: Iterable[Any], canonical: str, explicit: Mapping[str, str] | None = None,
                aliases: Mapping[str, Sequence[str]] | None = None, exclude: Iterable[Any] = ()) -> Any | None:
    """The input column holding ``canonical``, or None.

    ``explicit`` (the user's ``columns=`` mapping, canonical -> input name) wins over the aliases.
    """
    cols = [c for c in columns if c not in set(exclude)]
    if explicit and canonical in explicit:
        want = explicit[canonical]
        if want in cols:
            return want
        for c in cols:
            if norm_key(c) == norm_key(want):
                return c
        return None
    lookup: dict[str, Any] = {}
    for c in cols:
        lookup.setdefault(norm_key(c), c)
    for alias in (aliases or ALIASES)[canonical]:
        hit = lookup.get(norm_key(alias))
        if hit is not None:
            return hit
    return None


def accepted(canonical: str) -> str:
    """The accepted names of a canonical column, for messages."""
    return "/".join(ALIASES[canonical])


# ----------------------------------------------------------------------------------------------------------------
# Encodings
# ----------------------------------------------------------------------------------------------------------------

def decode_text(raw: bytes) -> tuple[str, str]:
    """Decode the bytes of a text file: BOMs first, then strict UTF-8, then GB18030 (a superset of GBK/GB2312).

    Returns ``(text, encoding)``.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return raw.decode("gb18030"), "gb18030"


def dbf_text_bytes(dbf: Path, max_records: int = 20000) -> bytes:
    """The raw bytes of the character fields of a dBASE file (the first ``max_records`` records).

    dBASE III layout: record count at byte 4 (uint32), header and record length at bytes 8 and 10 (uint16),
    32-byte field descriptors from byte 32 up to a 0x0D terminator (name 11 bytes, type at 11, length at 16).
    """
    with open(dbf, "rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            return b""
        nrec, hlen, rlen = struct.unpack("<IHH", head[4:12])
        desc = fh.read(max(hlen - 32, 0))
        fields = []
        offset = 1  # deletion flag
        for i in range(0, len(desc) - 31, 32):
            if desc[i] == 0x0D:
                break
            ftype, flen = chr(desc[i + 11]), desc[i + 16]
            if ftype == "C":
                fields.append((offset, flen))
            offset += flen
        if not fields or rlen == 0:
            return b""
        fh.seek(hlen)
        data = fh.read(rlen * min(nrec, max_records))
    arr = np.frombuffer(data[: (len(data) // rlen) * rlen], dtype=np.uint8).reshape(-1, rlen)
    parts = [arr[:, off:off + ln].tobytes() for off, ln in fields]
    return b" ".join(parts)


def shapefile_encoding(shp: Path) -> tuple[str | None, str]:
    """Encoding of a Shapefile's .dbf: the .cpg when present and consistent, else detected from the bytes.

    Returns ``(encoding or None when all text is ASCII, how it was decided)``.
    """
    dbf = shp.with_suffix(".dbf")
    if not dbf.exists():
        dbf = shp.with_suffix(".DBF")
    if not dbf.exists():
        return None, "no .dbf"
    raw = dbf_text_bytes(dbf)
    cpg = next((p for p in (shp.with_suffix(".cpg"), shp.with_suffix(".CPG")) if p.exists()), None)
    if cpg is not None:
        declared = cpg.read_text(errors="replace").strip()
        codec = _cpg_codec(declared)
        if codec is not None:
            try:
                raw.decode(codec)
                return codec, f".cpg says {declared}"
            except UnicodeDecodeError:
                pass
    if raw.isascii():
        return None, "ASCII text"
    try:
        raw.decode("utf-8")
        return "UTF-8", "detected UTF-8 (no usable .cpg)"
    except UnicodeDecodeError:
        return "GB18030", "detected GBK/GB18030 (no usable .cpg)"


def _cpg_codec(declared: str) -> str | None:
    key = declared.strip().upper().replace("-", "").replace("_", "")
    table = {"UTF8": "utf-8", "65001": "utf-8", "GBK": "gbk", "CP936": "gbk", "936": "gbk", "GB2312": "gbk",
             "GB18030": "gb18030", "54936": "gb18030", "BIG5": "big5", "950": "big5", "LATIN1": "latin-1",
             "ISO88591": "latin-1", "1252": "cp1252", "CP1252": "cp1252", "ANSI1252": "cp1252"}
    return table.get(key)


# ----------------------------------------------------------------------------------------------------------------
# CRS guesses
# ----------------------------------------------------------------------------------------------------------------

def guess_crs(x: np.ndarray, y: np.ndarray, path: Any) -> str:
    """Infer a CRS for coordinates read without one, or raise a DataError explaining what they look like.

    Only lon/lat degrees are inferred (EPSG:4326); projected coordinates are ambiguous (Gauss-Krueger zone,
    UTM, local grids) and need ``crs=``.
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) == 0:
        raise DataError("no coordinates to tell the CRS from", path=path, fix="pass crs=")
    if np.all(np.abs(x) <= 180) and np.all(np.abs(y) <= 180):
        return "EPSG:4326"
    zone = np.floor(x / 1e6)
    if np.all((x >= 13e6) & (x < 46e6)) and np.all(zone == zone[0]) and np.all((y > 1e6) & (y < 7e6)):
        z = int(zone[0])
        hint = ""
        if 25 <= z <= 45:
            hint = (f" (CGCS2000 3-degree zone {z}, central meridian {z * 3}E, with the zone prefix: "
                    f"EPSG:{4513 + z - 25})")
        elif 13 <= z <= 23:
            hint = (f" (CGCS2000 6-degree zone {z}, central meridian {z * 6 - 3}E, with the zone prefix: "
                    f"EPSG:{4491 + z - 13})")
        raise DataError(f"the file has no CRS and its eastings start with {z} (e.g. {x[0]:.1f}): they look like "
                        f"Gauss-Krueger coordinates with the zone number prefixed{hint}", path=path,
                        fix=f"pass crs='EPSG:{4513 + z - 25}'" if 25 <= z <= 45 else "pass crs=")
    if np.all((x > 1e5) & (x < 1e6)) and np.all((y > 1e6) & (y < 7e6)):
        raise DataError(f"the file has no CRS; its coordinates (e.g. {x[0]:.1f}, {y[0]:.1f}) look like metres "
                        "in a Gauss-Krueger zone without prefix (Yueqing: CGCS2000 CM 120E, EPSG:4549) or UTM "
                        "(zone 51N, EPSG:32651)", path=path, fix="pass crs='EPSG:4549' (or the CRS of the file)")
    raise DataError(f"the file has no CRS and its coordinates (e.g. {x[0]:.6g}, {y[0]:.6g}) are not lon/lat "
                    "degrees", path=path, fix="pass crs= (e.g. 'EPSG:4549' or 'EPSG:4490')")


# ----------------------------------------------------------------------------------------------------------------
# Value parsing
# ----------------------------------------------------------------------------------------------------------------

def is_blank(value: Any) -> bool:
    """True for None, NaN and whitespace-only strings."""
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    if value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, str) and not value.strip()


def clean_str(value: Any) -> str | None:
    """A cell as a clean string (``1.0`` -> ``"1"``, NFKC, stripped), None when blank."""
    if is_blank(value):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def to_number(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse numbers (also ``"1,200"``, full-width digits); returns ``(floats, bad_mask)`` (blank is not bad)."""
    num = np.array(pd.to_numeric(pd.Series(values, copy=False), errors="coerce").to_numpy(dtype="float64",
                                                                                           na_value=np.nan))
    todo = ~np.isfinite(num)
    bad = np.zeros(len(num), dtype=bool)
    if todo.any():  # the slow path only for cells plain parsing could not read
        sub = pd.Series(values).iloc[np.flatnonzero(todo)]
        text = sub.map(lambda v: None if is_blank(v) else unicodedata.normalize("NFKC", str(v)).strip()
                       .replace(",", ""))
        fixed = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        num[todo] = fixed
        bad[todo] = text.notna().to_numpy() & ~np.isfinite(fixed)
    return num, bad


_TRUE = {"是", "yes", "y", "true", "t", "1", "✓", "√", "✔", "对", "有", "重点", "x"}
_FALSE = {"否", "no", "n", "false", "f", "0", "×", "✗", "无", "不是", "-", ""}


def parse_bool(value: Any) -> bool | None:
    """``是/否``, ``yes/no``, ``1/0``, ``✓``/blank -> True/False; None when not understood."""
    if is_blank(value):
        return False
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    key = norm_key(clean_str(value))
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    return None


_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def parse_batch(value: Any, batch_years: Mapping[int, int]) -> int | None:
    """A pilot batch as a year: ``2022``, ``"2022年"``, ``"2022年度"``; ``"第一批"``/``"第1批"``/``1`` via
    ``batch_years`` (1 -> 2022, 2 -> 2023 by default). None when not understood."""
    text = clean_str(value)
    if text is None:
        return None
    m = re.search(r"(19|20)\d{2}", text)
    if m:
        return int(m.group(0))
    m = re.fullmatch(r"第?\s*([0-9]+|[一二两三四五六七八九十])\s*(批|批次)?", text)
    if m:
        token = m.group(1)
        n = int(token) if token.isdigit() else _CN_DIGITS[token]
        return batch_years.get(n)
    return None


# ----------------------------------------------------------------------------------------------------------------
# Rows and the issue log
# ----------------------------------------------------------------------------------------------------------------

def describe_rows(rows: Sequence[Any], names: Sequence[Any] | None = None, limit: int = 10) -> str:
    """``"rows 3 (阳光幼儿园), 7 (...)"``, at most ``limit`` shown and the rest counted."""
    items = []
    for i, r in enumerate(rows[:limit]):
        label = f"{r}"
        if names is not None and i < len(names) and not is_blank(names[i]):
            label += f" ({names[i]})"
        items.append(label)
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    word = "row" if len(rows) == 1 else "rows"
    return f"{word} " + ", ".join(items) + more


def log_issue(issues: list[dict], check: str, message: str, ids: Sequence[Any] = (), warn: bool = True,
              path: Any = None) -> None:
    """Record a handled problem (and emit it as a ChildspaceWarning)."""
    ids = [str(i) for i in ids]
    issues.append({"check": check, "count": len(ids), "ids": "; ".join(ids), "message": message,
                   "file": None if path is None else str(path)})
    if warn:
        prefix = f"{path}: " if path is not None else ""
        warnings.warn(prefix + message, ChildspaceWarning, stacklevel=4)
