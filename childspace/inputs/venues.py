"""Public venues (商场, 医院, 交通枢纽, 公园, 图书馆, 体育场馆, ...) from a planner's register, with their size.

The mother-and-baby-room rules apply to public venues by floor area (建筑面积) or daily visitors (日均客流): the
register gives them (columns read by :mod:`childspace.inputs.attributes`), a polygon layer gives the footprint.
:func:`load_venues` reads it with the facility loader (same formats, datums, encodings and checks) and classifies
the 类型 column into venue kinds (:data:`VENUE_KINDS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from childspace._types import CRSLike
from childspace.inputs.standards import Category, Standards

__all__ = ["VENUE_KINDS", "load_venues", "venue_kinds"]

#: venue kind -> (中文, English, labels)
VENUE_KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "mall": (
        "商场",
        "Shopping centre",
        (
            "商场",
            "购物中心",
            "商业综合体",
            "综合体",
            "百货",
            "商业中心",
            "步行街",
            "商业街",
            "超市",
            "mall",
            "shopping centre",
            "shopping center",
            "department store",
            "shop=mall",
        ),
    ),
    "hospital": ("医院", "Hospital", ("医院", "妇幼保健院", "卫生院", "社区卫生服务中心", "hospital")),
    "station": (
        "交通枢纽",
        "Transport hub",
        (
            "交通枢纽",
            "火车站",
            "高铁站",
            "汽车站",
            "客运站",
            "客运中心",
            "公交枢纽",
            "公交总站",
            "机场",
            "码头",
            "station",
            "bus station",
            "railway station",
            "airport",
            "ferry terminal",
        ),
    ),
    "park": ("公园景区", "Park or scenic area", ("公园", "景区", "旅游景区", "广场", "park", "scenic area")),
    "culture": (
        "文化场馆",
        "Library, museum or cultural venue",
        (
            "图书馆",
            "博物馆",
            "科技馆",
            "文化馆",
            "青少年宫",
            "少年宫",
            "美术馆",
            "展览馆",
            "文化中心",
            "文化礼堂",
            "library",
            "museum",
            "science museum",
            "arts centre",
        ),
    ),
    "stadium": (
        "体育场馆",
        "Stadium or sports centre",
        ("体育馆", "体育场", "体育中心", "文体中心", "stadium", "sports centre", "sports center"),
    ),
    "service": (
        "政务服务场所",
        "Public service centre",
        ("便民服务中心", "政务服务中心", "行政服务中心", "党群服务中心", "市民中心", "service centre"),
    ),
    "other": ("其他公共场所", "Other public place", ("公共场所", "其他", "other", "public place")),
}


def venue_kinds() -> Standards:
    """The venue kinds as a label lookup (a :class:`Standards` of kinds; radii are not used)."""
    cats = {
        k: Category(
            name=k, zh=zh, en=en, radius_m=1.0, basis="", life_circle=5, labels=labels, target_pct=0.0
        )
        for k, (zh, en, labels) in VENUE_KINDS.items()
    }
    return Standards(categories=cats, target_pct=0.0, life_circles={}, sources=("childspace.inputs.venues",))


def load_venues(
    path: str | Path | pd.DataFrame,
    *,
    coords: str = "wgs84",
    kind: str | None = None,
    columns: Mapping[str, str] | None = None,
    crs: CRSLike | None = None,
    layer: str | int | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    study_area: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None = None,
) -> gpd.GeoDataFrame:
    """Read a register of public venues (points, or polygons whose footprint is kept).

    Parameters
    ----------
    path : str, Path or DataFrame
        CSV/Excel with 名称, 类型, 经度/纬度 and optionally 建筑面积 (m²), 日均客流 (visitors a day); or a GIS layer.
    coords, crs, layer, sheet, encoding, columns, study_area
        As for :func:`childspace.inputs.load_facilities`.
    kind : str, optional
        Kind of every row (``"mall"``, ``"商场"``, ...) when the file has no 类型 column.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points: ``venue_id``, ``name``, ``kind`` (a key of :data:`VENUE_KINDS`), ``subtype`` (the label as
        written), optional ``floor_area_m2``, ``daily_visitors``, ``area_ha`` and ``footprint`` (WKB; polygons).
    """
    from childspace.inputs.loaders import load_facilities

    out = load_facilities(
        path,
        layer=layer,
        crs=crs,
        coords=coords,
        encoding=encoding,
        columns=columns,
        category=kind,
        study_area=study_area,
        sheet=sheet,
        standards=venue_kinds(),
    )
    out = out.rename(columns={"facility_id": "venue_id", "category": "kind"})
    out.attrs["layer"] = "venues"
    return out
