"""Read the pilot units (试点单元) of the child-friendly programme: :func:`load_pilots`.

Split out of :mod:`childspace.inputs.loaders`, which re-exports :func:`load_pilots` and :data:`PILOT_KINDS`; the
file handling (encodings, CRS, datum, study area, issues) is the loaders' and is described there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace._errors import DataError
from childspace._types import CRSLike
from childspace.inputs import _validate as V
from childspace.inputs.geometry import load_points_or_layer, to_points
from childspace.inputs.projection import WGS84
from childspace.inputs.register import normalise_unit_name
from childspace.inputs.tables import (
    Source,
    assemble_layer,
    describe_mask_rows,
    finish_layer,
    make_ids,
    map_columns,
    normalise_code,
)

__all__ = ["PILOT_KINDS", "load_pilots"]

PILOT_KINDS = ("community", "school", "hospital", "park", "venue", "street", "enterprise")
#: Pilot kind labels; the first block is matched exactly, then a label containing one of the Chinese words is
#: accepted (``"儿童友好社区"`` -> community).
_KIND_LABELS: dict[str, tuple[str, ...]] = {
    "community": ("社区", "村社区", "村", "村(社区)", "社区(村)", "城乡社区", "community", "village"),
    "school": ("学校", "幼儿园", "小学", "中学", "初中", "school", "kindergarten"),
    "hospital": ("医院", "妇幼保健院", "hospital"),
    "park": ("公园", "绿地", "park"),
    "venue": ("场馆", "图书馆", "少年宫", "博物馆", "科技馆", "文化馆", "青少年宫", "venue", "library"),
    "street": ("街区", "商圈", "街道", "步行街", "street", "block"),
    "enterprise": ("企业", "公司", "enterprise", "company"),
}
_BATCH_YEARS = {1: 2022, 2: 2023, 3: 2024, 4: 2025}


def _pilot_kind(value: Any) -> str | None:
    text = V.norm_key(V.clean_str(value) or "")
    if not text:
        return None
    for kind, labels in _KIND_LABELS.items():
        if text in {V.norm_key(x) for x in labels}:
            return kind
    hits = {
        kind
        for kind, labels in _KIND_LABELS.items()
        for lab in labels
        if re.search(r"[\u4e00-\u9fff]", lab) and len(lab) >= 2 and lab in text
    }
    if len(hits) == 1:
        return hits.pop()
    if not hits and re.search(r"[\u4e00-\u9fff](村|社区)$", text):  # "儿童友好村", "示范社区"
        return "community"
    return None


def load_pilots(
    path: Source,
    boundaries: gpd.GeoDataFrame | None = None,
    coords: str = "wgs84",
    layer: str | int | None = None,
    crs: CRSLike | None = None,
    encoding: str | None = None,
    columns: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    batch_years: Mapping[int, int] | None = None,
    max_rows: int | None = None,
) -> gpd.GeoDataFrame:
    """Read the pilot units (试点单元) of the child-friendly programme.

    Parameters
    ----------
    path : str, Path or DataFrame
        Excel/CSV with 名称, 批次, 类型 and lon/lat (or a GIS layer); optional 编号, 所属镇街, 社区编码, 重点项目, 备注.
    boundaries : GeoDataFrame, optional
        Community boundaries (from :func:`load_boundaries`): a community pilot takes its unit's polygon, matched
        by code (社区编码 vs ``code``/``unit_id``) or else by exact name. Without it community pilots stay points
        (with a warning).
    coords : {"wgs84", "gcj02", "bd09"} or alias
        Datum of the lon/lat columns.
    layer, crs, encoding, columns, sheet, max_rows : optional
        As in :func:`load_facilities`.
    batch_years : mapping, optional
        Batch number -> year for labels like ``"第一批"``; default ``{1: 2022, 2: 2023, 3: 2024, 4: 2025}``.

    Returns
    -------
    GeoDataFrame
        EPSG:4326; ``pilot_id``, ``name``, ``batch`` (int year), ``kind`` (community, school, hospital, park,
        venue, street, enterprise), ``township``, ``code``, ``unit_id`` (the matched boundary unit),
        ``key_project`` (bool), ``notes``; geometry Polygon/MultiPolygon for matched community pilots, Point
        otherwise.
    """
    years = dict(batch_years or _BATCH_YEARS)
    gdf, info, used = load_points_or_layer(
        path,
        layer=layer,
        sheet=sheet,
        encoding=encoding,
        crs=crs,
        coords=coords,
        columns=columns,
        missing_rows="keep",
        max_rows=max_rows,
    )
    path_ = info["path"]
    mapping = map_columns(
        gdf,
        ["id", "name", "batch", "kind", "township", "code", "key_project", "notes"],
        ["name", "batch", "kind"],
        info,
        columns,
    )
    out = assemble_layer(gdf, mapping, used)
    out["name"] = out["name"].map(V.clean_str)
    blank = out["name"].isna().to_numpy()
    if blank.any():
        raise DataError(
            f"empty name at {describe_mask_rows(out, blank, info)}", path=path_, fix="fill in the pilot names"
        )
    kinds = out["kind"].map(_pilot_kind)
    bad = kinds.isna().to_numpy()
    if bad.any():
        labels = sorted(set(out.loc[bad, "kind"].map(lambda v: str(V.clean_str(v)))))
        known = "; ".join(f"{k}: {'/'.join(v)}" for k, v in _KIND_LABELS.items())
        raise DataError(
            f"unknown pilot type {', '.join(labels)} at {describe_mask_rows(out, bad, info, 'name')}; known: {known}",
            path=path_,
            fix="use one of the known types in the 类型 column",
        )
    out["kind_input"] = out["kind"].map(V.clean_str)
    out["kind"] = kinds.astype(object)
    batch = out["batch"].map(lambda v: V.parse_batch(v, years))
    bad = batch.isna().to_numpy()
    if bad.any():
        raise DataError(
            f"batch not understood ({', '.join(sorted(set(map(str, out.loc[bad, 'batch']))))}) at "
            f"{describe_mask_rows(out, bad, info, 'name')}",
            path=path_,
            fix="write the year (2022) or 第一批/第二批 (batch_years= maps numbers to years)",
        )
    out["batch"] = batch.astype("int64")
    if "key_project" in out.columns:
        kp = out["key_project"].map(V.parse_bool)
        bad = kp.isna().to_numpy()
        if bad.any():
            raise DataError(
                f"key project flag not understood at {describe_mask_rows(out, bad, info, 'name')}",
                path=path_,
                fix="write 是/否, yes/no, 1/0 or ✓",
            )
        out["key_project"] = kp.astype(bool)
    else:
        out["key_project"] = False
    for col in ("township", "notes"):
        if col in out.columns:
            out[col] = out[col].map(V.clean_str).astype(object)
    if "code" in out.columns:
        out["code"] = out["code"].map(normalise_code).astype(object)
    out["pilot_id"] = make_ids(
        out, "id" if "id" in out.columns else None, "P", info, "name", label=repr(mapping.get("id"))
    )
    if "id" in out.columns:
        out = out.drop(columns="id")
    out["unit_id"] = pd.Series([None] * len(out), index=out.index, dtype=object)

    community = (out["kind"] == "community").to_numpy()
    geoms = out.geometry.values.copy()
    if community.any():
        if boundaries is None:
            V.log_issue(
                info["issues"],
                "pilot_polygon",
                f"{int(community.sum())} community pilots kept as points: "
                "pass boundaries= (community polygons) to give them their unit's polygon",
                ids=out.loc[community, "pilot_id"].tolist(),
                path=path_,
            )
        else:
            b = boundaries.to_crs(WGS84) if boundaries.crs is not None else boundaries
            by_code: dict[str, int] = {}
            for col in ("code", "unit_id"):
                if col in b.columns:
                    for i, v in enumerate(b[col].map(normalise_code)):
                        if v is not None:
                            by_code.setdefault(v, i)
            by_name: dict[str, list[int]] = {}
            by_short: dict[str, list[int]] = {}
            for i, v in enumerate(b["name"]):
                by_name.setdefault(V.norm_key(v), []).append(i)
                by_short.setdefault(normalise_unit_name(v), []).append(i)
            unmatched = []
            codes: list[Any] = out["code"].tolist() if "code" in out.columns else [None] * len(out)
            for pos in np.flatnonzero(community):
                hit = by_code.get(codes[pos]) if codes[pos] else None
                if hit is None:
                    cands = (
                        by_name.get(V.norm_key(out["name"].iat[pos]))
                        or by_short.get(normalise_unit_name(out["name"].iat[pos]))
                        or []
                    )
                    hit = cands[0] if len(cands) == 1 else None
                if hit is None:
                    unmatched.append(pos)
                    continue
                geoms[pos] = b.geometry.iat[hit]
                out.iat[pos, out.columns.get_loc("unit_id")] = (
                    b["unit_id"].iat[hit] if "unit_id" in b.columns else None
                )
            if unmatched:
                ids = out["pilot_id"].iloc[unmatched].tolist()
                V.log_issue(
                    info["issues"],
                    "pilot_polygon",
                    f"{len(unmatched)} community pilots match no boundary "
                    f"by code or name and stay points (ids: {', '.join(map(str, ids[:20]))})",
                    ids=ids,
                    path=path_,
                )
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise DataError(
            f"no location for {describe_mask_rows(out, missing, info, 'name')}: empty coordinates"
            + (" and no matching community boundary" if community[missing].any() else ""),
            path=path_,
            fix="fill in lon/lat, or the community code with boundaries=",
        )
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=WGS84))
    nonpoint = ~community & (shapely.get_type_id(geoms) != 0)
    if nonpoint.any():
        sub, _, _ = to_points(out.loc[nonpoint], info, out.loc[nonpoint, "pilot_id"], "non-community pilots")
        geoms[nonpoint] = sub.geometry.values
        out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=WGS84))
    canonical = [
        "pilot_id",
        "name",
        "batch",
        "kind",
        "township",
        "code",
        "unit_id",
        "key_project",
        "notes",
        "kind_input",
    ]
    return finish_layer(out, canonical, info, "pilots")
