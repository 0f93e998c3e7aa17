"""Validation helpers for :mod:`childspace.io`: column names, encodings, CRS guesses, value parsing, issue log.

Internal module; the public entry points are the loaders in :mod:`childspace.io`.
"""

from __future__ import annotations

import re
import struct
import unicodedata
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from childspace._errors import ChildspaceWarning, DataError

# ----------------------------------------------------------------------------------------------------------------
# Column names
# ----------------------------------------------------------------------------------------------------------------

#: Accepted input column names per canonical column (compared after :func:`norm_key`). Earlier names win when a
#: file has several of them.
ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "名称",
        "名字",
        "单位名称",
        "设施名称",
        "学校名称",
        "机构名称",
        "场所名称",
        "试点名称",
        "单元名称",
        "社区名称",
        "村社区名称",
        "镇街名称",
        "乡镇名称",
        "项目名称",
        "mc",
        "name_zh",
        "name:zh",
        "名稱",
        "設施名稱",
        "學校名稱",
    ),
    "category": (
        "category",
        "类型",
        "类别",
        "设施类型",
        "设施类别",
        "分类",
        "种类",
        "type",
        "fclass",
        "類型",
        "類別",
        "設施類型",
    ),
    "kind": ("kind", "类型", "试点类型", "单元类型", "类别", "type", "category"),
    "id": (
        "id",
        "编号",
        "编码",
        "序号",
        "facility_id",
        "pilot_id",
        "origin_id",
        "unit_id",
        "fid_",
        "objectid",
        "編號",
    ),
    "code": (
        "code",
        "社区编码",
        "行政区划代码",
        "区划代码",
        "统计用区划代码",
        "编码",
        "代码",
        "adcode",
        "xzqdm",
    ),
    "address": ("address", "地址", "详细地址", "addr", "位置", "詳細地址"),
    "capacity": ("capacity", "容量", "学位数", "学位", "床位数", "规模", "人数容量"),
    "population": ("population", "人口", "pop", "常住人口", "户籍人口", "总人口", "人口数"),
    "children": (
        "children",
        "儿童数",
        "儿童人数",
        "儿童",
        "儿童人口",
        "儿童数量",
        "0-17岁儿童数",
        "0-17岁儿童人数",
        "0-17岁人口",
        "0-17岁儿童",
        "0-17岁人数",
        "0-17周岁儿童数",
        "0-17周岁人口",
        "0-17周岁儿童",
        "0~17岁儿童数",
        "0~17岁人口",
        "0至17岁儿童数",
        "0至17岁人口",
        "未成年人数",
        "未成年人口",
        "child",
        "kids",
    ),
    "batch": ("batch", "批次", "试点批次", "年份", "year"),
    "township": (
        "township",
        "所属镇街",
        "镇街",
        "所属街道",
        "所属乡镇",
        "所属镇街道",
        "乡镇街道",
        "乡镇",
        "街道",
        "town",
    ),
    "key_project": ("key_project", "重点项目", "是否重点项目", "重点", "key"),
    "notes": ("notes", "备注", "note", "remark", "remarks", "说明"),
    "parent_id": (
        "parent_id",
        "town_code",
        "towncode",
        "parent",
        "上级编码",
        "所属镇街编码",
        "镇街编码",
        "乡镇编码",
        "township_code",
    ),
    "level": ("level", "级别", "层级", "行政级别"),
    "lon": (
        "lon",
        "经度",
        "东经",
        "lng",
        "long",
        "longitude",
        "x",
        "x坐标",
        "point_x",
        "横坐标",
        "經度",
        "東經",
    ),
    "lat": ("lat", "纬度", "北纬", "latitude", "y", "y坐标", "point_y", "纵坐标", "緯度", "北緯"),
    "datum": ("datum", "坐标系", "坐标系统", "坐标类型", "coord_type", "coordsys"),
    "area_ha": ("area_ha", "面积(公顷)", "面积公顷", "占地面积(公顷)", "面积(ha)", "area(ha)"),
    "unit_id": ("unit_id", "单元编号", "所属单元", "所属社区编码"),
    "subtype": ("subtype", "子类", "细类"),
    "source": ("source", "来源", "数据来源"),
}


#: a column label (``find_column`` returns one of the labels it is given, with their type)
_Label = TypeVar("_Label", bound=Hashable)


def norm_key(name: object) -> str:
    """Normalise a column name for matching: NFKC, lower case, no whitespace, ``-`` kept, ``_`` kept."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(name))).lower()


def find_column(
    columns: Iterable[_Label],
    canonical: str,
    explicit: Mapping[str, str] | None = None,
    aliases: Mapping[str, Sequence[str]] | None = None,
    exclude: Iterable[Hashable] = (),
) -> _Label | None:
    """The input column holding ``canonical``, or None.

    ``explicit`` (the user's ``columns=`` mapping, canonical -> input name) wins over the aliases.
    """
    cols = [c for c in columns if c not in set(exclude)]
    if explicit and canonical in explicit:
        want = explicit[canonical]
        for c in cols:
            if c == want:
                return c
        for c in cols:
            if norm_key(c) == norm_key(want):
                return c
        return None
    lookup: dict[str, _Label] = {}
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


#: Column names that look like a count of children, compared after :func:`norm_key`: offered in messages when the
#: children column is missing or holds no count (a total population is not offered).
_CHILDREN_LIKE = re.compile(r"儿童|少儿|未成年|child|kid|minor|0[-~至到–—]1[4-8]")


def child_count_columns(df: pd.DataFrame, exclude: Iterable[Hashable] = ()) -> list[Hashable]:
    """Columns of ``df`` that may hold the number of children: named like a count of children (儿童, 未成年,
    0-17岁, children, kids, ...) and holding numbers, some of them above 0."""
    skip = set(exclude) | {"geometry", "__row__"}
    out = []
    for c in df.columns:
        if c in skip or not _CHILDREN_LIKE.search(norm_key(c)):
            continue
        num, bad = to_number(df[c])
        if not bad.all() and np.nansum(np.where(num > 0, num, 0)) > 0:
            out.append(c)
    return out


def column_setting(canonical: str, column: object = "<your column>") -> str:
    """How a planner names the column of a canonical one, for a message's fix: in the run configuration and in
    Python.

    >>> column_setting("children", "儿童数")[:30]
    'columns = { children = "儿童数" }'
    """
    return (
        f'columns = {{ {canonical} = "{column}" }} in this file\'s block of the run configuration (.toml), or '
        f"columns={{{canonical!r}: {str(column)!r}}} in Python"
    )


# ----------------------------------------------------------------------------------------------------------------
# Encodings
# ----------------------------------------------------------------------------------------------------------------

#: File signatures (first bytes) of binary formats a planner may give under a text or Excel name.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook, or a zipped folder)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls workbook (or another Office file)"),
    (b"SQLite format 3\x00", "a SQLite database (a GeoPackage .gpkg)"),
    (b"%PDF", "a PDF document"),
    (b"\x00\x00\x27\x0a", "a Shapefile .shp"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)


def sniff(raw: bytes) -> str | None:
    """What a file's first bytes say it is (``"a zip archive (an Excel .xlsx ...)"``), or None for unknown."""
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            return what
    return None


def _cjk_share(text: str, codec: str) -> float:
    """Share of the CJK characters of ``text`` that are common ones: encodable in GB2312 (simplified) for
    ``gb18030``, in Big5 level 1 (lead byte 0xA4-0xC6, the frequent characters) for ``big5``."""
    cjk = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if not cjk:
        return 1.0
    hits = 0
    for c in cjk:
        try:
            if codec == "big5":
                hits += 0xA4 <= c.encode("big5")[0] <= 0xC6
            else:
                c.encode("gb2312")
                hits += 1
        except UnicodeEncodeError:
            pass
    return hits / len(cjk)


def decode_text(raw: bytes, path: str | Path | None = None) -> tuple[str, str]:
    """Decode the bytes of a text file: BOMs first, then strict UTF-8, then GB18030 (a superset of GBK/GB2312)
    or Big5, whichever reads as common Chinese characters.

    Returns ``(text, encoding)``.

    Raises
    ------
    DataError
        When the bytes are not text in any of these encodings (a binary file under a text name, e.g. an .xlsx
        renamed .csv), naming what the file looks like.
    """
    try:
        if raw.startswith(b"\xef\xbb\xbf"):
            return raw[3:].decode("utf-8"), "utf-8-sig"
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            return raw.decode("utf-16"), "utf-16"
    except UnicodeDecodeError:
        pass
    else:
        if b"\x00" not in raw[:4096]:
            try:
                return raw.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                pass
            candidates = []
            for codec in ("gb18030", "big5"):
                try:
                    candidates.append((raw.decode(codec), codec))
                except UnicodeDecodeError:
                    pass
            if len(candidates) == 2:
                gb, big5 = candidates
                share_gb = _cjk_share(gb[0], "gb18030")
                if share_gb < 0.9 and _cjk_share(big5[0], "big5") > share_gb:
                    return big5
            if candidates:
                return candidates[0]
    what = sniff(raw)
    if what is not None:
        msg = f"this is not a text table: its first bytes show {what}"
        fix = (
            "give the file its real extension (.xlsx for a workbook, .gpkg for a GeoPackage), or open it in "
            "Excel/WPS and save it as 'CSV UTF-8'"
        )
    else:
        msg = "this is not a text table in UTF-8, GBK/GB18030 or Big5 (binary or damaged data)"
        fix = "open it in Excel/WPS and save it as 'CSV UTF-8' (or .xlsx), or pass encoding= if you know it"
    raise DataError(msg, path=path, fix=fix)


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
    parts = [arr[:, off : off + ln].tobytes() for off, ln in fields]
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
    table = {
        "UTF8": "utf-8",
        "65001": "utf-8",
        "GBK": "gbk",
        "CP936": "gbk",
        "936": "gbk",
        "GB2312": "gbk",
        "GB18030": "gb18030",
        "54936": "gb18030",
        "BIG5": "big5",
        "950": "big5",
        "LATIN1": "latin-1",
        "ISO88591": "latin-1",
        "1252": "cp1252",
        "CP1252": "cp1252",
        "ANSI1252": "cp1252",
    }
    return table.get(key)


# ----------------------------------------------------------------------------------------------------------------
# Value parsing
# ----------------------------------------------------------------------------------------------------------------


def is_blank(value: object) -> bool:
    """True for None, NaN and whitespace-only strings."""
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    if value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, str) and not value.strip()


def clean_str(value: object) -> str | None:
    """A cell as text as the planner wrote it, stripped (``1.0`` -> ``"1"``), None when blank.

    Names, addresses and notes keep their characters (full-width ``（）``, ``，`` stay): they are shown in the
    outputs. Comparisons normalise on their own (:func:`norm_key`, :func:`key_str`).
    """
    if is_blank(value):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return str(value).strip()


def key_str(value: object) -> str | None:
    """A cell as a key (an id, a code): :func:`clean_str` NFKC-normalised, so that ``"ＫＧ０１"`` and ``"KG01"``
    are the same id; None when blank."""
    text = clean_str(value)
    return None if text is None else unicodedata.normalize("NFKC", text).strip()


def to_number(values: pd.Series, coordinate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Parse numbers; returns ``(floats, bad_mask)`` (blank is not bad).

    Besides plain numbers: full-width digits, thousands separators (``"1,200"``, ``"3,112,146.5"``), a decimal
    comma (``"12,5"``, ``"1.234,5"``). With ``coordinate=True`` a single comma is always a decimal comma
    (``"120,961"`` is 120.961 degrees, never 120961) and degrees-minutes-seconds are read (``120°57'40.3"E``,
    ``北纬28度7分13秒``; S/W/南纬/西经 negative).
    """
    num = np.array(
        pd.to_numeric(pd.Series(values, copy=False), errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )
    )
    todo = ~np.isfinite(num)
    bad = np.zeros(len(num), dtype=bool)
    if todo.any():  # the slow path only for cells plain parsing could not read
        sub = pd.Series(values).iloc[np.flatnonzero(todo)]
        text = sub.map(lambda v: None if is_blank(v) else unicodedata.normalize("NFKC", str(v)).strip())
        fixed = text.map(lambda t: parse_number(t, coordinate) if isinstance(t, str) else np.nan).to_numpy(
            dtype="float64"
        )
        num[todo] = fixed
        bad[todo] = text.notna().to_numpy() & ~np.isfinite(fixed)
    return num, bad


_DMS = re.compile(
    r"(?P<h1>[NSEW]|东经|北纬|西经|南纬)?\s*(?P<d>\d+(?:\.\d+)?)\s*(?:°|º|˚|度|d)\s*"
    r"(?:(?P<m>\d+(?:\.\d+)?)\s*(?:′|'|’|分|m)\s*)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)\s*(?:″|\"|”|''|′′|秒|s)\s*)?(?P<h2>[NSEW])?",
    re.IGNORECASE,
)


def parse_number(text: str, coordinate: bool = False) -> float:
    """One cell of :func:`to_number` (NFKC-normalised, stripped); NaN when it is not a number."""
    t = text.replace("\u00a0", "").replace(" ", "") if not coordinate or not _DMS.fullmatch(text) else text
    try:
        return float(t)
    except ValueError:
        pass
    if coordinate:
        m = _DMS.fullmatch(text)
        if m:
            deg, mins, secs = float(m["d"]), float(m["m"] or 0), float(m["s"] or 0)
            if mins >= 60 or secs > 60 or (m["h1"] and m["h2"]):  # 60.0 s: a rounded 59.99999
                return np.nan
            hemi = (m["h1"] or m["h2"] or "").upper()
            sign = -1.0 if hemi in ("S", "W", "南纬", "西经") else 1.0
            return sign * (deg + mins / 60.0 + secs / 3600.0)
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?", t) and not (coordinate and t.count(",") == 1):
        return float(t.replace(",", ""))  # thousands separators
    if re.fullmatch(r"[+-]?\d*,\d+", t):
        return float(t.replace(",", "."))  # decimal comma
    if re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+,\d+", t):
        return float(t.replace(".", "").replace(",", "."))  # 1.234,5
    return np.nan


#: Names of a single column holding "lon,lat" (Amap's location, a copied pair), compared after :func:`norm_key`.
PAIR_NAMES = (
    "坐标",
    "经纬度",
    "经纬度坐标",
    "坐标点",
    "位置坐标",
    "gps坐标",
    "高德坐标",
    "百度坐标",
    "location",
    "lnglat",
    "lonlat",
    "lng,lat",
    "lon,lat",
    "经度,纬度",
    "coordinates",
    "coords",
    "xy",
    "gps",
    "坐標",
    "經緯度",
)
_PAIR = re.compile(r"[(\[]?\s*([+-]?\d+(?:\.\d+)?)\s*[,，;；/\s]\s*([+-]?\d+(?:\.\d+)?)\s*[)\]]?")


def split_pair(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``"120.961,28.124"`` cells into ``(first, second, bad_mask)`` floats (blank is not bad)."""
    text = values.map(lambda v: None if is_blank(v) else unicodedata.normalize("NFKC", str(v)).strip())
    match = text.map(lambda t: _PAIR.fullmatch(t) if isinstance(t, str) else None)
    found = [m for m in match if isinstance(m, re.Match)]
    ok = match.map(lambda m: isinstance(m, re.Match)).to_numpy(dtype=bool)
    a = np.full(len(values), np.nan)
    b = np.full(len(values), np.nan)
    a[ok] = [float(m.group(1)) for m in found]
    b[ok] = [float(m.group(2)) for m in found]
    bad = text.map(lambda t: isinstance(t, str)).to_numpy(dtype=bool) & ~ok
    return a, b, bad


def find_pair_column(df: pd.DataFrame, exclude: Iterable[Hashable] = ()) -> Hashable | None:
    """A column holding "lon,lat" pairs: most of its (first 200) non-blank cells are a pair of numbers; a column
    named like one (:data:`PAIR_NAMES`) comes first."""
    skip = set(exclude)
    names = {norm_key(n) for n in PAIR_NAMES}
    cols = [c for c in df.columns if c not in skip]
    cols = [c for c in cols if norm_key(c) in names] + [c for c in cols if norm_key(c) not in names]
    for c in cols:
        col = df[c]
        if col.dtype != object:
            continue
        sample = col.head(200)
        filled = sample.map(lambda v: not is_blank(v)).to_numpy(dtype=bool)
        if filled.sum() == 0:
            continue
        a, b, bad = split_pair(sample[filled])
        if (~bad).sum() * 2 <= len(bad):
            continue
        if norm_key(c) in names:
            return c
        # found by content only: the pairs must look like coordinates (lon/lat degrees or projected metres)
        a, b = a[~bad], b[~bad]
        degrees = (np.abs(a) <= 180) & (np.abs(b) <= 180) & ((np.abs(a) > 10) | (np.abs(b) > 10))
        metric = (np.abs(a) > 1e4) & (np.abs(b) > 1e4)
        if np.all(degrees | metric):
            return c
    return None


_TRUE = {"是", "yes", "y", "true", "t", "1", "✓", "√", "✔", "对", "有", "重点", "x"}
_FALSE = {"否", "no", "n", "false", "f", "0", "×", "✗", "无", "不是", "-", ""}


def parse_bool(value: object) -> bool | None:
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


_CN_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}


def parse_batch(value: object, batch_years: Mapping[int, int]) -> int | None:
    """A pilot batch as a year: ``2022``, ``"2022年"``, ``"2022年度"``; ``"第一批"``/``"第1批"``/``1`` via
    ``batch_years`` (1 -> 2022, 2 -> 2023 by default). None when not understood."""
    text = key_str(value)
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


def describe_rows(rows: Sequence[object], names: Sequence[object] | None = None, limit: int = 10) -> str:
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


def setting(name: str, value: object) -> str:
    """How a planner sets a loader option, for a message's fix: in Python and in a run configuration.

    >>> setting("crs", "EPSG:4549")
    'crs=\'EPSG:4549\' in Python, or crs = "EPSG:4549" in this file\'s block of the run configuration (.toml)'
    """
    py = repr(value)
    toml = (
        f'"{value}"'
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )
    return f"{name}={py} in Python, or {name} = {toml} in this file's block of the run configuration (.toml)"


def log_issue(
    issues: list[dict],
    check: str,
    message: str,
    ids: Sequence[object] = (),
    warn: bool = True,
    path: str | Path | None = None,
) -> None:
    """Record a handled problem (and emit it as a ChildspaceWarning)."""
    labels = [str(i) for i in ids]
    issues.append(
        {
            "check": check,
            "count": len(labels),
            "ids": "; ".join(labels),
            "message": message,
            "file": None if path is None else str(path),
        }
    )
    if warn:
        prefix = f"{path}: " if path is not None else ""
        warnings.warn(prefix + message, ChildspaceWarning, stacklevel=4)
