"""Read the pilot units (试点单元) of the child-friendly programme: :func:`load_pilots`.

Split out of :mod:`childspace.inputs.loaders`, which re-exports :func:`load_pilots` and :data:`PILOT_KINDS`; the
file handling (encodings, CRS, datum, study area, issues) is the loaders' and is described there.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace._errors import DataError
from childspace._types import CRSLike
from childspace.inputs import _validate as V
from childspace.inputs.geometry import load_points_or_layer, to_points
from childspace.inputs.projection import WGS84, local_crs
from childspace.inputs.register import closest, normalise_unit_name
from childspace.inputs.tables import (
    ROW_COLUMN,
    Source,
    assemble_layer,
    describe_mask_rows,
    finish_layer,
    make_ids,
    map_columns,
    normalise_code,
)

__all__ = ["MAX_OUTSIDE_M", "PILOT_KINDS", "load_pilots"]

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

#: A pilot point farther than this (m) outside the study area is not assessed: the walk network of a run reaches
#: 500 m beyond the study area (``[network] buffer_m``'s default), so beyond it the pilot has no street to be
#: reached by and its checklist could only read "none reachable" (缺口): a coordinate typo is not a gap.
MAX_OUTSIDE_M = 500.0

#: A part of a name in brackets (after NFKC: （） -> (), ［］ -> []): "示例社区（试点）" is the community 示例社区.
_BRACKETS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|〔[^〔〕]*〕")


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
    study_area: gpd.GeoDataFrame | gpd.GeoSeries | shapely.Geometry | None = None,
    max_outside_m: float = MAX_OUTSIDE_M,
) -> gpd.GeoDataFrame:
    """Read the pilot units (试点单元) of the child-friendly programme.

    Parameters
    ----------
    path : str, Path or DataFrame
        Excel/CSV with 名称, 批次, 类型 and lon/lat (or a GIS layer); optional 编号, 所属镇街, 社区编码, 重点项目, 备注.
    boundaries : GeoDataFrame, optional
        Community boundaries (from :func:`load_boundaries`): a community pilot takes its unit's polygon, matched
        by code (社区编码 vs ``code``/``unit_id``), else by name (as written, then without a suffix such as
        社区/村, then also without a part in brackets: ``"示例社区（试点）"``). A code and a name naming two
        different boundaries are warned about (the code decides), as is a code missing from the boundaries. A
        community pilot matching no boundary keeps its point and is assessed as a point (a warning names its
        row and why); without coordinates it is an error. Without ``boundaries`` every community pilot stays a
        point (with a warning).
    coords : {"wgs84", "gcj02", "bd09"} or alias
        Datum of the lon/lat columns.
    layer, crs, encoding, columns, sheet, max_rows : optional
        As in :func:`load_facilities`.
    batch_years : mapping, optional
        Batch number -> year for labels like ``"第一批"``; default ``{1: 2022, 2: 2023, 3: 2024, 4: 2025}``.
    study_area : GeoDataFrame, GeoSeries or shapely geometry (lon/lat), optional
        The study area (default: ``boundaries`` read from a file; not units taken from OSM, whose villages often
        cover only part of the area). A pilot point farther than ``max_outside_m`` outside it (a
        typo in 经度/纬度) is not assessed: left out of the result, named in a warning with its row and
        distance, and listed in ``attrs["excluded"]``.
    max_outside_m : float
        Metres; default :data:`MAX_OUTSIDE_M` (how far a run's walk network reaches beyond the study area).

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
    why: dict[int, str] = {}
    if community.any():
        if boundaries is None:
            V.log_issue(
                info["issues"],
                "pilot_polygon",
                f"{int(community.sum())} community pilots have no community boundaries to take their polygon "
                "from: each is assessed as a point from its lon/lat (the nearest facility of each element "
                "within its radius) instead of on the children living in the community; pass boundaries= "
                "(community polygons; [boundaries.community] in a run configuration)",
                ids=out.loc[community, "pilot_id"].tolist(),
                path=path_,
            )
        else:
            why = _attach_communities(out, community, geoms, boundaries, info)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        detail = "; ".join(
            f"{_who(out, pos, info)}: {why[pos]}" for pos in np.flatnonzero(missing).tolist() if pos in why
        )
        raise DataError(
            f"no location for {describe_mask_rows(out, missing, info, 'name')}: empty coordinates"
            + (f" and no community boundary ({detail})" if detail else ""),
            path=path_,
            fix="fill in lon/lat (经度/纬度), or for a community pilot its 社区编码 as in the community boundaries",
        )
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=WGS84))
    nonpoint = ~community & (shapely.get_type_id(geoms) != 0)
    if nonpoint.any():
        sub, _, _ = to_points(out.loc[nonpoint], info, out.loc[nonpoint, "pilot_id"], "non-community pilots")
        geoms[nonpoint] = sub.geometry.values
        out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=WGS84))
    area = study_area
    if area is None and boundaries is not None and not _from_osm(boundaries):
        area = boundaries  # a boundary file covers the study area; OSM's villages are often only some of them
    if area is not None:
        out = _keep_out_far_pilots(out, area, info, max_outside_m)
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


def _name_keys(name: object) -> tuple[str, str, str]:
    """A name's matching keys, strictest first: as written (NFKC, no spaces, lower case), without one
    administrative suffix (社区/村/…), and that without any part in brackets."""
    text = unicodedata.normalize("NFKC", "" if name is None else str(name))
    return V.norm_key(text), normalise_unit_name(text), normalise_unit_name(_BRACKETS.sub("", text))


def _from_osm(units: gpd.GeoDataFrame) -> bool:
    """Whether ``units`` were taken from OpenStreetMap (``source`` "osm") rather than read from a file."""
    return (
        "source" in units.columns and bool(len(units)) and bool((units["source"].astype(str) == "osm").all())
    )


def _who(out: gpd.GeoDataFrame, pos: int, info: dict) -> str:
    """``"row 3 (示例晨光社区, SD2022-02)"``: the pilot's row as the planner counts it in the file, its name, id."""
    word = info.get("row_word", "row")
    return f"{word} {out[ROW_COLUMN].iat[pos]} ({out['name'].iat[pos]}, {out['pilot_id'].iat[pos]})"


def _attach_communities(
    out: gpd.GeoDataFrame, community: np.ndarray, geoms: np.ndarray, boundaries: gpd.GeoDataFrame, info: dict
) -> dict[int, str]:
    """Give each community pilot its community's polygon (in ``geoms``) and ``unit_id`` (in ``out``).

    A pilot is matched by its code (社区编码 against the boundaries' ``code``/``unit_id``), else by its name
    (as written, then without a suffix such as 社区/村, then also without a part in brackets). A code and a name
    that point at two different boundaries, or a code missing from the boundaries, are warned about (row, both
    candidates, the one used, the fix). Returns, by position, why each community pilot matched no boundary;
    those pilots keep their point (and are assessed as points, said in a warning) or, without one, fail later.
    """
    path_ = info["path"]
    b = boundaries.to_crs(WGS84) if boundaries.crs is not None else boundaries
    src = b.attrs.get("source")
    fname = Path(str(src)).name if src and src != "<DataFrame>" else "the community boundaries"
    names = [V.clean_str(v) or "" for v in b["name"]]
    shown: list[str | None] = [None] * len(b)  # the code shown for a boundary: its code, else its unit id
    by_code: dict[str, int] = {}
    for col in ("code", "unit_id"):  # codes first: a unit id equal to another unit's code loses
        if col in b.columns:
            for i, v in enumerate(b[col].map(normalise_code)):
                if not V.is_blank(v):
                    by_code.setdefault(str(v), i)
                    shown[i] = shown[i] or str(v)
    tiers: list[dict[str, list[int]]] = [{}, {}, {}]
    for i, v in enumerate(names):
        for t, key in enumerate(_name_keys(v)):
            if key:
                tiers[t].setdefault(key, []).append(i)

    def label(i: int) -> str:
        return f"{names[i]} ({shown[i]})" if shown[i] else names[i]

    def by_name(name: object) -> tuple[list[int], int]:
        for t, key in enumerate(_name_keys(name)):
            hits = tiers[t].get(key) if key else None
            if hits:
                return hits, t
        return [], -1

    def closest_names(name: object) -> str:
        keys = {_name_keys(v)[2]: i for i, v in reversed(list(enumerate(names)))}
        near = closest(_name_keys(name)[2], list(keys), cutoff=0.6)
        return ", ".join(label(keys[k]) for k in near) or "none alike"

    def lies_in(pos: int) -> str:
        pt = out.geometry.iat[pos]
        if pt is None or pt.is_empty or shapely.get_type_id(pt) != 0:
            return ""
        inside = [int(i) for i in b.sindex.query(pt, predicate="within")]
        return f"; its lon/lat lie in {label(inside[0])}" if inside else ""

    def closest_codes(code: str) -> str:
        near = closest(code, list(by_code), cutoff=0.6)
        return ", ".join(f"{k} {names[by_code[k]]}" for k in near) or "none alike"

    codes: list[Any] = out["code"].tolist() if "code" in out.columns else [None] * len(out)
    hit_of: dict[int, int] = {}
    why: dict[int, tuple[str, str]] = {}  # position -> (reason, fix)
    notes: list[tuple[int, str, bool]] = []  # (position, message, warn)
    conflicts: list[tuple[int, int, list[int]]] = []
    for pos in np.flatnonzero(community).tolist():
        name, code = out["name"].iat[pos], (None if V.is_blank(codes[pos]) else str(codes[pos]))
        hits, tier = by_name(name)
        if code:
            ci = by_code.get(code)
            if ci is not None:
                hit_of[pos] = ci
                if hits and ci not in hits:
                    conflicts.append((pos, ci, hits))
            elif len(hits) == 1:
                hit_of[pos] = hits[0]
                notes.append(
                    (
                        pos,
                        f"社区编码 {code} was not found in the community file {fname} (closest codes: "
                        f"{closest_codes(code)}); matched by its name to {label(hits[0])} instead — fix: correct "
                        f"its 社区编码 to {shown[hits[0]]}",
                        True,
                    )
                )
            else:
                same = (
                    f"its name is shared by {len(hits)} boundaries ({', '.join(label(i) for i in hits)})"
                    if hits
                    else f"its name matches no boundary either (closest names: {closest_names(name)})"
                )
                why[pos] = (
                    f"社区编码 {code} was not found in the community file {fname} (closest codes: "
                    f"{closest_codes(code)}) and {same}",
                    f"correct its 社区编码, or add the community to {fname}",
                )
        elif len(hits) == 1:
            hit_of[pos] = hits[0]
            if tier == 2:
                notes.append(
                    (pos, f"matched by its name without the part in brackets to {label(hits[0])}", False)
                )
        elif hits:
            why[pos] = (
                f"it has no 社区编码 and {len(hits)} boundaries in {fname} are named {names[hits[0]]} (codes "
                f"{', '.join(str(shown[i]) for i in hits)}){lies_in(pos)}",
                f"fill in its 社区编码 (one of {', '.join(str(shown[i]) for i in hits)})",
            )
        else:
            why[pos] = (
                f"it has no 社区编码 and its name matches no boundary in {fname} (closest names: "
                f"{closest_names(name)})",
                f"fill in its 社区编码, or write its name as in {fname}",
            )
    unit_col = out.columns.get_loc("unit_id")
    for pos, i in hit_of.items():
        geoms[pos] = b.geometry.iat[i]
        out.iat[pos, unit_col] = b["unit_id"].iat[i] if "unit_id" in b.columns else None
    pilots_of: dict[int, list[int]] = {}
    for pos, i in hit_of.items():
        pilots_of.setdefault(i, []).append(pos)
    for pos, ci, hits in conflicts:
        code = str(codes[pos])
        n = hits[0] if len(hits) == 1 else None
        named = label(n) if n is not None else " or ".join(label(i) for i in hits)
        where = lies_in(pos)
        also = [p for p in pilots_of.get(ci, []) if p != pos]
        same_unit = (
            f" — the community of {'; '.join(_who(out, p, info) for p in also)} as well" if also else ""
        )
        right = f"correct its 社区编码 to {shown[n]}" if n is not None else "correct its 社区编码"
        other = names[n] if n is not None else "one of the named ones"
        notes.append(
            (
                pos,
                f"社区编码 {code} is {label(ci)} in {fname}, but its name is that of {named}{where}: assessed as "
                f"{names[ci]} (the code decides){same_unit} — fix: if the pilot is {other}, "
                f"{right}; if it is {names[ci]}, correct its name",
                True,
            )
        )
    for pos, msg, warn in sorted(notes):
        V.log_issue(
            info["issues"],
            "pilot_community",
            f"{_who(out, pos, info)}: {msg}",
            ids=[out["pilot_id"].iat[pos]],
            warn=warn,
            path=path_,
        )
    for pos, (reason, fix) in why.items():
        g = geoms[pos]
        if g is None or shapely.is_empty(g):
            continue  # no location at all: the error below says why
        kept = (
            "keeps the polygon given in the pilot file"
            if shapely.get_type_id(g) in (3, 6)
            else "is assessed as a point from its lon/lat (the nearest facility of each element within its "
            "radius) instead of on the children living in the community"
        )
        V.log_issue(
            info["issues"],
            "pilot_polygon",
            f"{_who(out, pos, info)}: community pilot without its community boundary: {reason}; it {kept} — "
            f"fix: {fix}",
            ids=[out["pilot_id"].iat[pos]],
            path=path_,
        )
    return {pos: reason for pos, (reason, _) in why.items()}


def _keep_out_far_pilots(
    out: gpd.GeoDataFrame, area: Any, info: dict, max_outside_m: float
) -> gpd.GeoDataFrame:
    """The pilots without those whose point lies farther than ``max_outside_m`` outside ``area`` (GeoDataFrame,
    GeoSeries or a lon/lat geometry): each is named in a warning (row, name, id, distance) as not assessed,
    and listed in ``attrs["excluded"]``. A polygon pilot (a community) is kept."""
    if isinstance(area, (gpd.GeoDataFrame, gpd.GeoSeries)):
        if area.crs is None:
            raise DataError(
                "study_area has no CRS", fix="set one with .set_crs() or load it with load_boundaries"
            )
        polys = np.asarray(area.to_crs(WGS84).geometry.values, dtype=object)
    elif isinstance(area, shapely.Geometry):
        polys = np.asarray([area], dtype=object)
    else:
        raise DataError(
            f"study_area must be a GeoDataFrame, GeoSeries or shapely geometry, got {type(area).__name__}",
            fix="pass the boundaries layer",
        )
    polys = polys[~(shapely.is_missing(polys) | shapely.is_empty(polys))]
    geoms = np.asarray(out.geometry.values, dtype=object)
    pts = np.flatnonzero(shapely.get_type_id(geoms) == 0)
    if not len(polys) or not len(pts):
        return out
    minx, miny, maxx, maxy = shapely.total_bounds(polys)
    crs = local_crs((minx + maxx) / 2.0, (miny + maxy) / 2.0)
    metric = gpd.GeoSeries(polys, crs=WGS84).to_crs(crs).values
    where = gpd.GeoSeries(geoms[pts], crs=WGS84).to_crs(crs).values
    tree = shapely.STRtree(np.asarray(metric, dtype=object))
    _, dist = tree.query_nearest(np.asarray(where, dtype=object), return_distance=True, all_matches=False)
    far = dist > max_outside_m
    if not far.any():
        return out
    drop = pts[far]
    for pos, d in zip(drop.tolist(), dist[far].tolist()):
        x, y = geoms[pos].x, geoms[pos].y
        V.log_issue(
            info["issues"],
            "pilot_outside",
            f"{_who(out, pos, info)}: {d / 1000:,.1f} km outside the study area (lon {x:.5f}, lat {y:.5f}; "
            f"more than {max_outside_m:g} m): not assessed — neither 达标 nor 缺口, left out of the pilot "
            "results — fix: check its 经度/纬度 (a typo? swapped? picked on Amap/Baidu without coords = "
            '"gcj02"/"bd09"?)',
            ids=[out["pilot_id"].iat[pos]],
            path=info["path"],
        )
    mask = np.zeros(len(out), dtype=bool)
    mask[drop] = True
    excluded = out.loc[mask].assign(reason="outside the study area: not assessed")
    kept = out.loc[~mask].copy()
    # as the other loaders keep rows out (a GeoJSON string, read by excluded_rows)
    kept.attrs["excluded"] = excluded.drop(columns=[ROW_COLUMN], errors="ignore").to_json(
        drop_id=True, na="null", ensure_ascii=False
    )
    kept.attrs["n_excluded"] = int(mask.sum())
    return kept
