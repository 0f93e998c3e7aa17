"""Pilot units of the child-friendly city (儿童友好试点单元): catchments, checklist of elements and status.

Pilots are communities (a polygon) or point-like places (school, hospital, park, venue, street, enterprise). The
checklist asks, per pilot, whether each child-friendly element is within reach:

============================  ==============================================  ===========================
element (``has_<key>``)        facility categories                             radius
============================  ==============================================  ===========================
``park_playground``            ``park`` or ``playground`` (either counts)      each category's standard
``mother_baby_room``           ``mother_baby_room``                             500 m
``kindergarten``               ``kindergarten``                                 300 m
``primary_school``             ``primary_school``                               500 m
``children_home``              ``children_home``                                1000 m
============================  ==============================================  ===========================

Radii come from ``childspace.standards`` (overridable with ``radii=``); parks use 300 m below 0.5 ha and 500 m
from 0.5 ha.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace._errors import ChildspaceWarning, DataError, NetworkError
from childspace.analysis._coverage_base import metric_points, metric_xy, points_in_polygons
from childspace.analysis.coverage import (
    MAX_SNAP_M,
    _default_standards,
    _require,
    _target_pct,
    origin_access,
    service_areas,
    unit_coverage,
)
from childspace.inputs.projection import WGS84, local_crs_for

__all__ = ["ELEMENTS", "elements_for", "pilot_catchments", "pilot_status"]

#: Checklist elements: key -> (categories that satisfy it, Chinese name, English name).
ELEMENTS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "park_playground": (("park", "playground"), "公园或儿童游戏场地", "park or playground"),
    "mother_baby_room": (("mother_baby_room",), "母婴室", "mother-and-baby room"),
    "kindergarten": (("kindergarten",), "幼儿园", "kindergarten"),
    "primary_school": (("primary_school",), "小学", "primary school"),
    "children_home": (("children_home",), "儿童之家", "children's home"),
}


def elements_for(categories: Iterable[str] | None) -> list[str]:
    """The checklist elements a run's ``[analysis] categories`` can judge: those with at least one of their
    categories among ``categories`` (all of :data:`ELEMENTS` when None). An element judged on categories the run
    does not analyse would always read as missing."""
    if categories is None:
        return list(ELEMENTS)
    cats = set(categories)
    return [k for k, (cs, _, _) in ELEMENTS.items() if cats & set(cs)]


_POINT_KINDS = ("school", "hospital", "park", "venue", "street", "enterprise")
_STATUS_ZH = {"meets": "达标", "partly": "部分达标", "gap": "缺口"}


def _select(pilots: gpd.GeoDataFrame, batch: int | Iterable[int] | None) -> gpd.GeoDataFrame:
    _require(pilots, "pilots", ["pilot_id", "name", "kind"])
    kinds = pilots["kind"].astype(str)
    bad = ~kinds.isin(("community",) + _POINT_KINDS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"unknown pilot kind {pilots['kind'].iloc[i]!r}",
            feature=f"pilot {pilots['pilot_id'].iloc[i]} ({pilots['name'].iloc[i]})",
            fix="use community, school, hospital, park, venue, street or enterprise",
        )
    if batch is None:
        return pilots
    if "batch" not in pilots.columns:
        raise DataError(
            "pilots have no 'batch' column to filter on", fix="load pilots with childspace.inputs.loaders"
        )
    want = [batch] if isinstance(batch, (int, np.integer)) else list(batch)
    return pilots[pd.to_numeric(pilots["batch"], errors="coerce").isin(want)]


def pilot_catchments(
    pilots: gpd.GeoDataFrame,
    network: Any = None,
    radius: float = 500.0,
    street_width: float = 25.0,
    max_snap: float = MAX_SNAP_M,
    batch: int | Iterable[int] | None = None,
) -> gpd.GeoDataFrame:
    """The area each pilot serves.

    Community pilots use their community polygon. Point-like pilots (school, hospital, park, venue, street,
    enterprise, and a community pilot left a point because no boundary matched it) use the walking service area
    of the pilot point within ``radius`` (streets reachable within ``radius`` m, buffered by ``street_width`` m;
    see :func:`childspace.analysis.coverage.service_areas`), or a circle of ``radius`` when no network is given or
    the point is farther than ``max_snap`` from any street (those are named in a warning).

    Parameters
    ----------
    pilots : GeoDataFrame
        Canonical pilots (``pilot_id``, ``name``, ``kind``, ``batch``; Polygon for communities, Point otherwise).
    network : WalkNetwork, optional
    radius : float
        Walking radius in metres for point-like pilots.
    street_width, max_snap : float
        Metres.
    batch : int or iterable of int, optional
        Keep only these batches (2022, 2023).

    Returns
    -------
    GeoDataFrame
        ``pilot_id``, ``name``, ``batch``, ``kind``, ``method`` (``polygon``/``walk``/``line``), ``radius_m``
        (NaN for polygons), ``area_m2``, geometry (EPSG:4326).
    """
    sel = _select(pilots, batch)
    pw = sel.to_crs(WGS84)
    geoms = np.asarray(pw.geometry.values, dtype=object).copy()
    method = np.where(_on_polygon(pw), "polygon", "line").astype(object)
    rad = np.where(method == "polygon", np.nan, float(radius))
    pt = np.flatnonzero(method != "polygon")
    if len(pt):
        pts = gpd.GeoDataFrame(
            {"facility_id": pw["pilot_id"].astype(str).to_numpy()[pt], "category": "pilot"},
            geometry=pw.geometry.values[pt],
            crs=WGS84,
        )
        line = service_areas(pts, None, radii={"pilot": radius}, method="line")
        geoms[pt] = line.geometry.values
        if network is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ChildspaceWarning)
                walk = service_areas(
                    pts,
                    network,
                    radii={"pilot": radius},
                    method="walk",
                    street_width=street_width,
                    max_snap=max_snap,
                    quad_segs=4,
                )
            ok = walk.geometry.notna().to_numpy() & ~walk.geometry.is_empty.to_numpy()
            geoms[pt[ok]] = walk.geometry.values[ok]
            method[pt[ok]] = "walk"
            if (~ok).any():
                off = pt[~ok]
                who = ", ".join(f"{pw['pilot_id'].iat[i]} {pw['name'].iat[i]}" for i in off[:20].tolist())
                warnings.warn(
                    f"{len(off)} point pilots are farther than {max_snap:g} m from any street ({who}"
                    f"{' …' if len(off) > 20 else ''}): their catchment is a straight-line circle and their "
                    "checklist finds nothing within walking reach — check their 经度/纬度, or that the OSM "
                    "extract maps the streets there",
                    ChildspaceWarning,
                    stacklevel=2,
                )
    out = gpd.GeoDataFrame(
        {
            "pilot_id": pw["pilot_id"].astype(str).to_numpy(),
            "name": pw["name"].to_numpy(),
            "batch": pw["batch"].to_numpy() if "batch" in pw.columns else None,
            "kind": pw["kind"].astype(str).to_numpy(),
            "method": method,
            "radius_m": rad,
        },
        geometry=gpd.GeoSeries(geoms, crs=WGS84).values,
        crs=WGS84,
    )
    out["area_m2"] = out.to_crs(local_crs_for(out)).geometry.area.to_numpy() if len(out) else []
    return out


def _on_polygon(pilots: gpd.GeoDataFrame) -> np.ndarray:
    """The community pilots that have their community polygon (assessed on it); a community pilot left a point
    (no boundary matched its code or name: the loader says which and why) is assessed as a point."""
    poly = pilots.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    return (pilots["kind"].astype(str) == "community").to_numpy() & poly


def _fmt_m(d: float) -> str:
    return f"{d:,.0f}" if np.isfinite(d) else "∞"


def pilot_status(
    pilots: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    origins: gpd.GeoDataFrame | None,
    network: Any = None,
    elements: Iterable[str] | None = None,
    radii: Mapping[str, float] | Any = None,
    target_pct: float | Mapping[str, float] | None = None,
    batch: int | Iterable[int] | None = None,
    max_snap: float = MAX_SNAP_M,
    categories: Iterable[str] | None = None,
    access: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Checklist of child-friendly elements within reach of each pilot, and its status.

    Rule ("within reach"):

    * community pilot: an element is present when at least the target share (``target_pct``, default each
      category's standard, 80 %) of the children living in the community polygon are covered by walking (straight
      line without a network) — the same figure as :func:`childspace.analysis.coverage.unit_coverage`; ``dist_<key>`` is
      the children-weighted median walking distance. A community without any origin falls back to the point rule
      from a point inside its polygon (said in ``notes_rule``);
    * point pilot: an element is present when the nearest facility of its categories is within the category
      radius by walking from the pilot point (straight line without a network); ``dist_<key>`` is that distance.
      A community pilot without its polygon (no boundary matched its code or name; the loader warned) is judged
      so from its point, with ``rule`` "nearest (community without its polygon)".

    Status: ``meets`` (达标) when every element is present, ``partly`` (部分达标) when at least half are, ``gap``
    (缺口) otherwise. The same checklist is applied to every kind of pilot; a hospital or enterprise pilot would
    arguably be judged on fewer elements (e.g. a mother-and-baby room inside it), which ``elements=`` allows.

    Parameters
    ----------
    pilots : GeoDataFrame
        Canonical pilots.
    facilities : GeoDataFrame
        Canonical facilities (all categories).
    origins : GeoDataFrame or None
        Canonical origins (``origin_id``, ``children``); needed for community pilots (else the point rule).
    network : WalkNetwork, optional
    elements : iterable of str, optional
        Subset of :data:`ELEMENTS` keys (default all five).
    radii : mapping or Standards, optional
        Category radii in metres (default the standards).
    target_pct : float or mapping, optional
        Coverage target for community pilots, percent.
    batch : int or iterable of int, optional
        Keep only these batches.
    max_snap : float
        Metres.
    categories : iterable of str, optional
        The run's categories (``[analysis] categories``): elements are judged only on these (an element none of
        whose categories is analysed is left off the checklist; ``park_playground`` with only ``park`` is judged
        on parks).
    access : GeoDataFrame, optional
        The run's :func:`origin_access` table of ``origins`` (one row per origin, in their order) with the same
        facilities, network, radii and ``max_snap``: the community pilots' origins are taken from it instead of
        being searched again (each origin's figures do not depend on the other origins). Ignored when it lacks
        a category or does not match ``origins`` row for row.

    Returns
    -------
    GeoDataFrame
        The pilots (their CRS) plus ``has_<key>`` (bool), ``dist_<key>`` (m, ``inf`` when none reachable),
        ``n_elements``, ``n_present``, ``status`` (``meets``/``partly``/``gap``), ``status_zh``, ``reasons``
        (one "中文 English" sentence per missing element, joined with "; "), ``rule`` (``coverage``/``nearest``).
    """
    sel = _select(pilots, batch).copy()
    keys = list(ELEMENTS) if elements is None else list(elements)
    unknown = [k for k in keys if k not in ELEMENTS]
    if unknown:
        raise DataError(f"unknown checklist element(s) {unknown}", fix=f"use some of {list(ELEMENTS)}")
    run_cats = None if categories is None else set(categories)
    elem = {
        k: (tuple(c for c in ELEMENTS[k][0] if run_cats is None or c in run_cats), *ELEMENTS[k][1:])
        for k in keys
    }
    keys = [k for k in keys if elem[k][0]]
    if not keys:
        raise DataError(
            "no checklist element can be judged with the run's categories",
            feature="pilots",
            fix=f"include some of {sorted({c for v in ELEMENTS.values() for c in v[0]})} in "
            "[analysis] categories",
        )
    cats = list(dict.fromkeys(c for k in keys for c in elem[k][0]))
    std = radii if hasattr(radii, "categories") else _default_standards()
    n = len(sel)
    geom_pt = sel.geometry.copy()
    comm = _on_polygon(sel)
    if comm.any():
        metric = sel.to_crs(local_crs_for(sel))
        geom_pt = metric.geometry.representative_point().to_crs(sel.crs)
    pts = gpd.GeoDataFrame(
        {"origin_id": sel["pilot_id"].astype(str).to_numpy(), "children": 0},
        geometry=geom_pt.values,
        crs=sel.crs,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        acc = origin_access(pts, facilities, network, categories=cats, radii=radii, max_snap=max_snap)
    walk = network is not None
    m = "walk" if walk else "line"
    radius_of = {c: acc.attrs["radii"][c] for c in cats}
    has = {k: np.zeros(n, dtype=bool) for k in keys}
    dist = {k: np.full(n, np.inf) for k in keys}
    detail: dict[str, list[str | tuple[str, str]]] = {k: [""] * n for k in keys}
    rule = np.where(comm, "coverage", "nearest").astype(object)
    rule[(sel["kind"].astype(str) == "community").to_numpy() & ~comm] = (
        "nearest (community without its polygon)"
    )
    for k in keys:
        for c in elem[k][0]:
            d = acc[f"dist_{m}_{c}"].to_numpy(dtype="float64")
            dist[k] = np.fmin(dist[k], d)
            has[k] |= acc[f"covered_{m}_{c}"].to_numpy(dtype=bool)
    if comm.any() and origins is not None and len(origins):
        units = gpd.GeoDataFrame(
            {
                "unit_id": sel["pilot_id"].astype(str).to_numpy()[comm],
                "name": sel["name"].to_numpy()[comm],
                "level": "pilot",
            },
            geometry=sel.geometry.values[comm],
            crs=sel.crs,
        )
        # only the origins inside a community pilot count in its coverage: the others are not searched
        inner = _origins_within(origins, units)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ChildspaceWarning)
            if _reusable(access, origins, cats):
                assert access is not None
                oacc = access.iloc[origins.index.get_indexer(inner.index)]
            else:
                oacc = None
            try:
                oacc = (
                    oacc
                    if oacc is not None
                    else origin_access(
                        inner, facilities, network, categories=cats, radii=radii, max_snap=max_snap
                    )
                )
            except NetworkError:  # none of them near a street: as with all origins
                oacc = origin_access(
                    origins, facilities, network, categories=cats, radii=radii, max_snap=max_snap
                )
            uc = unit_coverage(units, oacc, categories=cats, target_pct=target_pct)
        ci = np.flatnonzero(comm)
        for k in keys:
            part = uc[uc["category"].isin(elem[k][0])]
            pct_col = "pct_walk" if walk else "pct_line"
            best = part.groupby("unit_id", sort=False)[pct_col].max()
            med = part.groupby("unit_id", sort=False)["median_walk_m"].min()
            kids = part.groupby("unit_id", sort=False)["children"].max()
            tgt = {c: _target_pct(c, target_pct, std) for c in elem[k][0]}
            ok_any = (
                part.assign(_ok=part[pct_col] >= part["category"].map(tgt)).groupby("unit_id")["_ok"].any()
            )
            for j, i in enumerate(ci.tolist()):
                uid = units["unit_id"].iloc[j]
                if kids.get(uid, 0) <= 0:
                    rule[i] = "nearest (no children in polygon)"
                    continue
                has[k][i] = bool(ok_any.get(uid, False))
                if walk:
                    dist[k][i] = float(med.get(uid, np.inf))
                pct = best.get(uid, np.nan)
                t = min(tgt.values())
                detail[k][i] = (
                    f"（覆盖儿童{pct:.1f}%，目标{t:.0f}%）",
                    f"covers {pct:.1f}% of children (target {t:.0f}%)",
                )
    elif comm.any():
        rule[comm] = "nearest (no origins given)"
    reasons = []
    for i in range(n):
        parts = []
        for k in keys:
            if has[k][i]:
                continue
            _, zh, en = elem[k]
            why = detail[k][i]
            if isinstance(why, tuple):
                z, e = why
                parts.append(f"缺{zh}{z} {en[0].upper() + en[1:]} {e}")
                continue
            r = [radius_of[c] for c in elem[k][0]]
            r = [max(x) if isinstance(x, list) else x for x in r]
            rtxt = "/".join(_fmt_m(x) for x in r)
            d = dist[k][i]
            near_zh = f"最近{_fmt_m(d)}米" if np.isfinite(d) else ("步行不可达" if walk else "无")
            near_en = (
                f"nearest {_fmt_m(d)} m" if np.isfinite(d) else ("none reachable on foot" if walk else "none")
            )
            parts.append(f"缺{zh}（{near_zh}，标准{rtxt}米） No {en} within {rtxt} m ({near_en})")
        reasons.append("; ".join(parts))
    n_present = np.sum([has[k] for k in keys], axis=0) if keys else np.zeros(n, dtype=int)
    ne = len(keys)
    status = np.where(n_present == ne, "meets", np.where(2 * n_present >= ne, "partly", "gap"))
    for k in keys:
        sel[f"has_{k}"] = has[k]
        sel[f"dist_{k}"] = dist[k]
    sel["n_elements"] = ne
    sel["n_present"] = n_present
    sel["status"] = status
    sel["status_zh"] = [_STATUS_ZH[s] for s in status]
    sel["reasons"] = reasons
    sel["rule"] = rule
    return sel


def _origins_within(origins: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The origins within 1 m of one of ``units`` (a superset of those :func:`unit_coverage` assigns to them,
    which decides); all origins when none is (the coverage then reports no children)."""
    crs = local_crs_for(units)
    polys = shapely.buffer(np.asarray(units.to_crs(crs).geometry.values, dtype=object), 1.0)
    g = np.asarray(origins.geometry.values, dtype=object)
    if len(g) and (shapely.get_type_id(g) == 0).all() and not shapely.is_empty(g).any():
        # plain points: tested on their coordinates (the same predicate; no 300k point geometries made)
        idx, _ = points_in_polygons(metric_xy(origins.geometry, crs), polys, "intersects")
    else:
        pts = metric_points(origins.geometry, crs)
        idx, _ = shapely.STRtree(polys).query(pts, predicate="intersects")
    if not idx.size:
        return origins
    return origins.iloc[np.unique(idx)]


def _reusable(access: gpd.GeoDataFrame | None, origins: gpd.GeoDataFrame, cats: list[str]) -> bool:
    """Whether ``access`` is an origin table of ``origins`` (row for row) with figures for every category."""
    if access is None or len(access) != len(origins) or not origins.index.is_unique:
        return False
    if "origin_id" in access.columns and "origin_id" in origins.columns:
        a, b = access["origin_id"], origins["origin_id"]
        # (the run's table carries the origins' own column: equal as it is, no 300k strings made to say so)
        if not a.equals(b) and not np.array_equal(a.astype(str).to_numpy(), b.astype(str).to_numpy()):
            return False
    need = [f"{k}_{m}_{c}" for c in cats for k in ("dist", "covered") for m in ("walk", "line")]
    return all(c in access.columns for c in need)
