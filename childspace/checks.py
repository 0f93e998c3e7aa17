"""Cross-checks between layers that no single loader can make.

:func:`datum_check` finds facility files whose points sit a few hundred metres off the street network in the
direction of the GCJ-02 / BD-09 shift: coordinates picked on Amap or Baidu maps and loaded as WGS84.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from childspace import datum

#: a file is suspect when its median distance to the nearest street is at least this (metres) as loaded ...
SUSPECT_MEDIAN_M = 120.0
#: ... and a datum conversion brings the median below this fraction of it
IMPROVEMENT_RATIO = 0.35


def _median_street_distance(network: Any, lon: np.ndarray, lat: np.ndarray) -> float:
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    d = network.snap(pts, max_distance=np.inf).distance
    return float(np.median(d)) if len(d) else float("nan")


def datum_check(facilities: gpd.GeoDataFrame, network: Any, by: str | None = "source_file",
                min_points: int = 3) -> pd.DataFrame:
    """Test each group of facilities for a GCJ-02 / BD-09 offset against the walk network.

    Facilities are entrances next to streets, so their median distance to the nearest edge is normally a few
    tens of metres. Points picked on Amap (GCJ-02, ~540 m off in Yueqing) or Baidu (BD-09, ~1.1 km off) and loaded
    as WGS84 sit hundreds of metres off, and converting them from that datum brings them back. The check converts
    each group's points as if they were GCJ-02 and as if BD-09 and compares the median distances.

    Parameters
    ----------
    facilities : GeoDataFrame
        Canonical facilities (EPSG:4326), with a column ``by`` naming the file each came from (all in one group
        when ``by`` is None or missing).
    network : WalkNetwork
        The walk network (metric CRS).
    by : str, optional
        Column grouping the points (default ``source_file``).
    min_points : int
        Groups with fewer points are not judged.

    Returns
    -------
    DataFrame
        One row per group: ``group``, ``points``, ``median_m`` (as loaded), ``median_if_gcj02_m``,
        ``median_if_bd09_m``, ``suspect`` (``"gcj02"``, ``"bd09"`` or ``""``), ``message`` (bilingual advice
        naming the ``coords=`` option, empty when nothing is suspect).
    """
    f = facilities.to_crs("EPSG:4326")
    keys = f[by].astype(str) if by and by in f.columns else pd.Series("all", index=f.index)
    rows = []
    for key, part in f.groupby(keys, sort=True):
        pts = part.geometry
        pts = pts[~(pts.is_empty | pts.isna())]
        pts = pts[pts.geom_type == "Point"]
        lon, lat = pts.x.to_numpy(), pts.y.to_numpy()
        row = {"group": key, "points": len(pts), "median_m": np.nan, "median_if_gcj02_m": np.nan,
               "median_if_bd09_m": np.nan, "suspect": "", "message": ""}
        if len(pts) >= min_points:
            row["median_m"] = _median_street_distance(network, lon, lat)
            row["median_if_gcj02_m"] = _median_street_distance(network, *datum.gcj02_to_wgs84(lon, lat))
            row["median_if_bd09_m"] = _median_street_distance(network, *datum.bd09_to_wgs84(lon, lat))
            best = min(("gcj02", row["median_if_gcj02_m"]), ("bd09", row["median_if_bd09_m"]), key=lambda t: t[1])
            if row["median_m"] >= SUSPECT_MEDIAN_M and best[1] <= IMPROVEMENT_RATIO * row["median_m"]:
                row["suspect"] = best[0]
                source = "高德/腾讯 Amap/Tencent (GCJ-02)" if best[0] == "gcj02" else "百度 Baidu (BD-09)"
                row["message"] = (
                    f"{key}: 点位距路网中位数 {row['median_m']:.0f} 米，按 {best[0].upper()} 纠偏后为 {best[1]:.0f} 米，"
                    f"坐标可能取自{source.split(' ')[0]}地图 — points sit a median {row['median_m']:.0f} m off the "
                    f"streets and {best[1]:.0f} m after converting from {best[0].upper()}: they were probably "
                    f"picked on {source}; load them with coords=\"{best[0]}\"")
        rows.append(row)
    return pd.DataFrame(rows, columns=["group", "points", "median_m", "median_if_gcj02_m", "median_if_bd09_m",
                                       "suspect", "message"])
