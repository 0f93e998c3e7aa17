"""Cross-checks between the facility files of one run, made when they are loaded: a file whose points were picked
on Amap/Tencent (GCJ-02) or Baidu (BD-09) maps and loaded as WGS84 sits, as a whole, the datum's shift (about
540 m in Yueqing for GCJ-02, 1.1 km for BD-09, always in the same direction) away from the same facilities in the
other files.

:func:`datum_cross_check` pairs each file's points with the same facilities in the other files (same category
and similar names, or the same venue) and tests the offsets against the shift GCJ-02 and BD-09 apply there. It is
the reference test of ``childspace.analysis.checks.datum_check`` with the other files as the only reference (no
OpenStreetMap, no network), so that ``childspace check`` says what the report would.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Hashable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace.inputs import datum
from childspace.inputs.projection import local_crs_for, transformer

__all__ = [
    "PAIR_SEARCH_M",
    "SHIFT_TOLERANCE",
    "datum_cross_check",
    "datum_shift_m",
    "distinctive_words",
    "name_pairs",
    "normalise_name",
]

#: pairs of a point and the same facility in another file are searched within this distance (m) ...
PAIR_SEARCH_M = 2000.0
#: ... and their offset matches a datum's shift when it is within this fraction of the shift's length
SHIFT_TOLERANCE = 0.3

_PUNCT = re.compile(r"[\s\-_·•,，.。、()（）\[\]【】\"'“”‘’/]+")
_ADMIN_PREFIX = re.compile(r"^(浙江省)?(温州市)?(乐清市)?")
#: words naming a room or department inside a venue, stripped before comparing names across categories
_ROOM_WORDS = re.compile(r"(母婴室|母婴关爱室|哺乳室|第三卫生间|儿科|儿童保健科|门诊部?)$")
_GENERIC_WORDS = ("游乐场", "儿童游戏场", "游戏场", "小区", "社区", "中心", "示例")


def normalise_name(name: object) -> str:
    """NFKC, lower case, no spaces or punctuation, without a leading 浙江省/温州市/乐清市."""
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    return _ADMIN_PREFIX.sub("", _PUNCT.sub("", unicodedata.normalize("NFKC", str(name)).lower()))


def _venue(name: str) -> str:
    """A normalised name without trailing room/department words ("市图书馆母婴室" -> "市图书馆")."""
    prev = None
    while prev != name:
        prev, name = name, _ROOM_WORDS.sub("", name)
    return name


def distinctive_words() -> tuple[str, ...]:
    """Category labels and generic words, longest first: removed to leave what tells one facility from another."""
    from childspace.inputs.standards import default_standards

    labels = {
        normalise_name(lab) for c in default_standards().categories.values() for lab in (*c.labels, c.zh)
    }
    return tuple(
        sorted((w for w in labels | set(_GENERIC_WORDS) if w and not w.isascii()), key=len, reverse=True)
    )


def _distinctive(name: str, words: tuple[str, ...]) -> str:
    for w in words:
        name = name.replace(w, "")
    return name


def name_pairs(
    a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, min_score: float, words: tuple[str, ...]
) -> pd.DataFrame:
    """Mutual best pairs (positions ``a``, ``b``) of the same facility in ``a`` and ``b`` (metric CRS), within
    :data:`PAIR_SEARCH_M`: same category and similar distinctive names, or the same venue."""
    tree = shapely.STRtree(np.asarray(b.geometry.array, dtype=object))
    ia, ib = tree.query(
        np.asarray(a.geometry.array, dtype=object), predicate="dwithin", distance=PAIR_SEARCH_M
    )
    same = a["category"].to_numpy()[ia] == b["category"].to_numpy()[ib]
    na = [normalise_name(x) for x in a["name"].to_numpy()]
    nb = [normalise_name(x) for x in b["name"].to_numpy()]
    da = [_distinctive(x, words) for x in na]
    db = [_distinctive(x, words) for x in nb]
    score = np.array(
        [
            difflib.SequenceMatcher(None, da[i], db[j]).ratio() if da[i] and db[j] else 0.0
            for i, j in zip(ia, ib)
        ],
        dtype=float,
    )
    venue = np.array(
        [len(_venue(na[i])) >= 4 and _venue(na[i]) == _venue(nb[j]) for i, j in zip(ia, ib)], bool
    )
    score = np.where(venue, 1.0, np.where(same, score, 0.0))
    keep = score >= min_score
    df = pd.DataFrame({"a": ia[keep], "b": ib[keep], "score": score[keep]})
    df = df.sort_values(["a", "score"], ascending=[True, False]).drop_duplicates("a")
    return df.sort_values(["b", "score"], ascending=[True, False]).drop_duplicates("b")


def datum_shift_m(lon: np.ndarray, lat: np.ndarray, to: str, crs: Any) -> np.ndarray:
    """The displacement (m, in ``crs``) that the datum ``to`` applies to WGS84 points."""
    t = transformer("EPSG:4326", crs)
    x0, y0 = t.transform(lon, lat)
    x1, y1 = t.transform(*datum.from_wgs84(lon, lat, to))
    return np.column_stack([np.asarray(x1) - x0, np.asarray(y1) - y0])


def datum_cross_check(
    facilities: gpd.GeoDataFrame,
    by: Hashable = "source_file",
    min_pairs: int = 2,
    name_similarity: float = 0.75,
) -> pd.DataFrame:
    """Test each facility file for a GCJ-02 / BD-09 shift against the same facilities in the other files.

    Points of a file are paired (mutual best matches within 2 km) with points of the other files of the same
    category and a similar distinctive name (category words such as 幼儿园 and generic words such as 社区, 中心
    removed), or of any category when the venue is the same (a mother-and-baby room "市图书馆母婴室" in the library
    "市图书馆"). When the offsets of at least ``min_pairs`` pairs, and of most pairs, match the displacement that
    GCJ-02 (or BD-09) applies at those places within 30 % of its length, the file is suspect: its points sit where
    WGS84 points converted to that datum would.

    Parameters
    ----------
    facilities : GeoDataFrame
        Canonical facilities (any CRS; ``name``, ``category``) with a column ``by`` naming each one's file.
    by : str
        The file column (default ``source_file``, as :func:`~childspace.inputs.loaders.combine_facilities` sets).
    min_pairs : int
        Fewest matched pairs to judge a file.
    name_similarity : float
        Least similarity (0-1, difflib ratio) of the distinctive parts of two names for a pair.

    Returns
    -------
    DataFrame
        One row per file: ``group``, ``points``, ``pairs``, ``pair_offset_m`` (median offset of the pairs),
        ``residual_m`` (median offset left after converting from the suspected datum), ``suspect`` (``"gcj02"``,
        ``"bd09"`` or ``""``), ``references`` (the other files the pairs are with), ``message`` (bilingual advice
        naming the ``coords`` option).
    """
    cols = ["group", "points", "pairs", "pair_offset_m", "residual_m", "suspect", "references", "message"]
    if by not in facilities.columns or facilities[by].nunique() < 2:
        return pd.DataFrame(columns=cols)
    f = facilities.to_crs("EPSG:4326") if facilities.crs is not None else facilities
    f = f[f.geometry.notna() & (f.geometry.geom_type == "Point")]
    if not len(f):
        return pd.DataFrame(columns=cols)
    crs = local_crs_for(f)
    metric = f.to_crs(crs)
    keys = f[by].astype(str).to_numpy()
    words = distinctive_words()
    rows = []
    for key in sorted(set(keys)):
        own = keys == key
        part, ref = metric[own], metric[~own]
        row: dict[str, Any] = dict.fromkeys(cols, np.nan)
        row.update(group=key, points=int(own.sum()), pairs=0, suspect="", references="", message="")
        pairs = name_pairs(part, ref, name_similarity, words) if len(ref) else pd.DataFrame()
        row["pairs"] = len(pairs)
        if len(pairs) >= min_pairs:
            a = shapely.get_coordinates(part.geometry.to_numpy()[pairs["a"].to_numpy()])
            b_rows = ref.iloc[pairs["b"].to_numpy()]
            off = a - shapely.get_coordinates(b_rows.geometry.to_numpy())
            row["pair_offset_m"] = float(np.median(np.hypot(*off.T)))
            blon, blat = shapely.get_coordinates(f[~own].geometry.to_numpy()[pairs["b"].to_numpy()]).T
            for to in ("gcj02", "bd09"):
                shift = datum_shift_m(blon, blat, to, crs)
                miss = np.hypot(*(off - shift).T)
                frac = miss / np.hypot(*shift.T)
                if np.median(frac) <= SHIFT_TOLERANCE and (frac <= SHIFT_TOLERANCE).sum() >= min_pairs:
                    row.update(suspect=to, residual_m=float(np.median(miss)))
                    row["references"] = ", ".join(sorted(set(b_rows[by].astype(str))))
                    row["message"] = _message(to, row["pair_offset_m"], row["residual_m"], row)
                    break
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def _message(to: str, before: float, after: float, row: dict[str, Any]) -> str:
    app, app_en = ("高德/腾讯", "Amap/Tencent (GCJ-02)") if to == "gcj02" else ("百度", "Baidu (BD-09)")
    return (
        f"点位与其他文件（{row['references']}）中同名设施相距中位数 {before:.0f} 米，按 {to.upper()} 纠偏后为 "
        f'{after:.0f} 米，坐标可能取自{app}地图，请用 coords = "{to}" 读取 — {row["pairs"]} points sit a median '
        f"{before:.0f} m from the same facilities in the other files ({row['references']}), {after:.0f} m after "
        f'converting from {to.upper()}: they were probably picked on {app_en}; load them with coords = "{to}" '
        f"in this file's block of the run configuration (.toml), or coords='{to}' in Python (if this file is "
        f"right, check the coords of {row['references']} instead)"
    )
