"""Cross-checks between layers that no single loader can make.

:func:`datum_check` finds facility files whose points were picked on Amap/Tencent (GCJ-02) or Baidu (BD-09) maps
and loaded as WGS84: every point of such a file is displaced by the datum's shift (about 540 m in Yueqing for
GCJ-02, 1.1 km for BD-09), always in the same direction.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace._types import CRSLike
from childspace.inputs import datum
from childspace.inputs.crosscheck import (
    SHIFT_TOLERANCE,
    distinctive_words,
    name_pairs,
)
from childspace.inputs.crosscheck import datum_shift_m as _shift_m
from childspace.inputs.projection import local_crs_for
from childspace.network import WalkNetwork

#: street test: a group is suspect when its median distance to the nearest street is at least this (m) ...
SUSPECT_MEDIAN_M = 120.0
#: ... and converting from a datum brings that median below this fraction of it
IMPROVEMENT_RATIO = 0.35
# reference test: pairs of a file point and a reference point of the same facility (same category and a similar
# name, or the same venue) within PAIR_SEARCH_M, whose offset matches the datum's shift within SHIFT_TOLERANCE of
# the shift's length (the pairing that the loader's cross-check of the files uses)


def _street_distance(network: WalkNetwork, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    return network.snap(pts, max_distance=np.inf).distance


def _pairs(
    part: gpd.GeoDataFrame, reference: gpd.GeoDataFrame, crs: CRSLike, min_score: float
) -> pd.DataFrame:
    """Mutual best pairs of a point of ``part`` and a reference point, by name, within the search distance."""
    return name_pairs(part.to_crs(crs), reference.to_crs(crs), min_score, distinctive_words())


def datum_check(
    facilities: gpd.GeoDataFrame,
    network: WalkNetwork | None = None,
    reference: gpd.GeoDataFrame | None = None,
    by: str | None = "source_file",
    min_points: int = 3,
    min_pairs: int = 2,
    name_similarity: float = 0.75,
) -> pd.DataFrame:
    """Test each file of facilities for a GCJ-02 / BD-09 shift.

    Two tests, each used when its data are there:

    * **reference** (strong): points of the file are paired (mutual best matches) with reference points
      (facilities mapped in OpenStreetMap, which are WGS84, and the facilities of the *other* files) of the same
      category and a similar distinctive name, or of any category when the venue is the same (a
      mother-and-baby room inside a library), within 2 km. When the offsets
      of the pairs match the displacement that GCJ-02 (or BD-09) applies at those places, within 30 % of its
      length, for at least ``min_pairs`` pairs and most pairs, the file is suspect.
    * **street** (for sparse networks): facilities are entrances next to streets; a file whose median distance
      to the nearest street is ≥ 120 m while converting it from a datum brings the median below 35 % of that is
      suspect. In a dense urban grid a 540 m shift can land next to another street, so this test alone cannot
      clear a file; it can only flag one.

    Parameters
    ----------
    facilities : GeoDataFrame
        Canonical facilities (any CRS), with a column ``by`` naming the file each came from (one group when
        ``by`` is None or missing).
    network : WalkNetwork, optional
        The walk network, for the street test.
    reference : GeoDataFrame, optional
        Trusted WGS84 facilities (``name``, ``category``), for the reference test; the other groups of
        ``facilities`` are used as references too.
    by : str, optional
        Column grouping the points (default ``source_file``).
    min_points : int
        Groups with fewer points are not judged by the street test.
    min_pairs : int
        Fewest matched pairs for the reference test.
    name_similarity : float
        Least similarity (0–1, difflib ratio) of the distinctive parts of two names (category and generic words
        such as 幼儿园, 社区, 中心 removed) for a pair.

    Returns
    -------
    DataFrame
        One row per group: ``group``, ``points``, ``pairs`` (matched reference pairs), ``pair_offset_m``
        (median offset of the pairs), ``median_m`` (median distance to the nearest street as loaded),
        ``median_if_gcj02_m``, ``median_if_bd09_m``, ``suspect`` (``"gcj02"``, ``"bd09"`` or ``""``),
        ``evidence`` (``reference``/``street``), ``message`` (bilingual advice naming the ``coords=`` option).
    """
    f = facilities.to_crs("EPSG:4326")
    keys = f[by].astype(str) if by and by in f.columns else pd.Series("all", index=f.index)
    crs = local_crs_for(f)
    ref_all = f[["name", "category", "geometry"]].assign(_group=keys.to_numpy())
    if reference is not None and len(reference):
        r = reference.to_crs("EPSG:4326")[["name", "category", "geometry"]].assign(_group="\0reference")
        ref_all = pd.concat([ref_all, r], ignore_index=True)
    ref_all = gpd.GeoDataFrame(ref_all, geometry="geometry", crs="EPSG:4326")
    ref_all = ref_all[ref_all.geometry.notna() & (ref_all.geometry.geom_type == "Point")]
    cols = [
        "group",
        "points",
        "pairs",
        "pair_offset_m",
        "median_m",
        "median_if_gcj02_m",
        "median_if_bd09_m",
        "suspect",
        "evidence",
        "message",
    ]
    rows = []
    for key, part in f.groupby(keys, sort=True):
        part = part[part.geometry.notna() & ~part.geometry.is_empty & (part.geometry.geom_type == "Point")]
        lon, lat = part.geometry.x.to_numpy(), part.geometry.y.to_numpy()
        row: dict[str, Any] = dict.fromkeys(cols, np.nan)
        row.update(group=key, points=len(part), pairs=0, suspect="", evidence="", message="")
        found: tuple[str, float, float] | None = None  # (datum, as loaded, after conversion)
        ref = ref_all[ref_all["_group"] != key]
        if len(ref) and len(part):
            pairs = _pairs(part, ref, crs, name_similarity)
            row["pairs"] = len(pairs)
            if len(pairs) >= min_pairs:
                a = part.to_crs(crs).geometry.to_numpy()[pairs["a"].to_numpy()]
                b = ref.to_crs(crs).geometry.to_numpy()[pairs["b"].to_numpy()]
                off = shapely.get_coordinates(a) - shapely.get_coordinates(b)
                row["pair_offset_m"] = float(np.median(np.hypot(*off.T)))
                blon, blat = shapely.get_coordinates(ref.geometry.to_numpy()[pairs["b"].to_numpy()]).T
                for to in ("gcj02", "bd09"):
                    shift = _shift_m(blon, blat, to, crs)
                    miss = np.hypot(*(off - shift).T) / np.hypot(*shift.T)
                    if np.median(miss) <= SHIFT_TOLERANCE and (miss <= SHIFT_TOLERANCE).sum() >= min_pairs:
                        rest = float(np.median(np.hypot(*(off - shift).T)))
                        found = (to, row["pair_offset_m"], rest)
                        row["evidence"] = "reference"
                        break
        if network is not None and len(part) >= min_points:
            row["median_m"] = float(np.median(_street_distance(network, lon, lat)))
            row["median_if_gcj02_m"] = float(
                np.median(_street_distance(network, *datum.gcj02_to_wgs84(lon, lat)))
            )
            row["median_if_bd09_m"] = float(
                np.median(_street_distance(network, *datum.bd09_to_wgs84(lon, lat)))
            )
            best = min(
                ("gcj02", row["median_if_gcj02_m"]), ("bd09", row["median_if_bd09_m"]), key=lambda t: t[1]
            )
            if (
                found is None
                and row["median_m"] >= SUSPECT_MEDIAN_M
                and best[1] <= IMPROVEMENT_RATIO * row["median_m"]
            ):
                found = (best[0], row["median_m"], best[1])
                row["evidence"] = "street"
        if found is not None:
            to, before, after = found
            row["suspect"] = to
            app = "高德/腾讯" if to == "gcj02" else "百度"
            app_en = "Amap/Tencent (GCJ-02)" if to == "gcj02" else "Baidu (BD-09)"
            what = "与其他数据（OSM、其他文件）中同名设施相距" if row["evidence"] == "reference" else "距路网"
            what_en = (
                "from the same facilities in other data (OpenStreetMap, other files)"
                if row["evidence"] == "reference"
                else "from the streets"
            )
            row["message"] = (
                f"{key}: 点位{what}中位数 {before:.0f} 米，按 {to.upper()} 纠偏后为 {after:.0f} 米，坐标可能取自{app}地图，"
                f'请用 coords="{to}" 读取 — points sit a median {before:.0f} m {what_en}, {after:.0f} m after '
                f"converting from {to.upper()}: they were probably picked on {app_en}; load them with "
                f'coords="{to}"'
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)
