"""The map of one facility category (分类覆盖地图): which communities fall short of the target, and why."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from childspace._errors import ChildspaceError, DataError
from childspace.analysis.aggregate import auto_hex_size, hex_cells, hex_polygons
from childspace.inputs.projection import local_crs_for
from childspace.outputs._simplify import simplify_areas
from childspace.outputs.maps._choropleth import (
    choropleth_styles,
    coverage_legend,
    coverage_rows,
    join_coverage,
    target_of,
)
from childspace.outputs.maps._page import (
    M_PER_DEG,
    OFF_MARK,
    LegendItem,
    add_layer,
    boundary_layers,
    category_filter,
    esc,
    finish,
    fmt_num,
    new_map,
    nice_breaks,
    popup_html,
    require,
    to_wgs84,
)
from childspace.outputs.maps.basemap import Basemap
from childspace.outputs.style import (
    CATEGORY_COLOURS,
    UNCOVERED_RAMP,
    VALUE_LABELS,
    category_label,
    split_label,
)

__all__ = ["coverage_map"]


def _only_category(table: pd.DataFrame) -> str:
    cats = table["category"].dropna().unique() if "category" in table.columns else []
    if len(cats) != 1:
        raise ChildspaceError(
            "coverage_map needs a category when facilities hold several",
            fix=f"pass category= one of {sorted(map(str, cats))}",
        )
    return str(cats[0])


def coverage_map(
    boundaries: gpd.GeoDataFrame | None,
    facilities: gpd.GeoDataFrame,
    service_areas: gpd.GeoDataFrame | None = None,
    access: gpd.GeoDataFrame | None = None,
    gaps: gpd.GeoDataFrame | None = None,
    category: str | None = None,
    *,
    unit_coverage: pd.DataFrame | None = None,
    target_pct: float | None = None,
    max_points: int = 500,
    hex_size: float | None = None,
    max_areas: int = 200,
    simplify_m: float = 5.0,
    title: str | None = None,
    synthetic: bool = False,
    basemaps: Sequence[str] = (),
    base: Basemap | None = None,
) -> folium.Map:
    """Map of one facility category. It opens on the question "which communities fall short of the target?".

    Shown when it opens: the communities shaded by walking coverage in classes tied to the target (with
    ``unit_coverage``; else the gap areas), the facilities and the boundaries. One click away in the layer list:
    the walking and straight-line service areas, the children not covered (hexagons or homes) and the gap areas.

    Parameters
    ----------
    boundaries : GeoDataFrame or None
        Canonical boundaries (``unit_id``, ``name``, ``level``); outlines and labels.
    facilities : GeoDataFrame
        Canonical facilities (``facility_id``, ``name``, ``category``); those of ``category`` are drawn.
    service_areas : GeoDataFrame, optional
        ``coverage.service_areas`` or ``coverage.dissolve_service_areas`` (``category``, ``method`` =
        ``walk``/``line``, ``radius_m``): walking and straight-line areas, two layers (off at first). More than
        ``max_areas`` per-facility areas of a method are drawn as their union (one feature).
    access : GeoDataFrame, optional
        ``coverage.origin_access`` (``children``, ``covered_walk_<cat>`` / ``covered_line_<cat>``,
        ``dist_walk_<cat>``): homes not covered on foot (off at first), summed per hexagon above ``max_points``.
    gaps : GeoDataFrame, optional
        ``coverage.gaps`` (``unit_name``, ``category``, ``children_uncovered``, ``area_m2``, ``rank``): shaded
        by children affected (shown only when there is no ``unit_coverage``).
    category : str, optional
        Canonical category; may be omitted when ``facilities`` holds a single category.
    unit_coverage : DataFrame, optional
        ``coverage.unit_coverage`` rows (``unit_id``, ``category``, ``pct_walk``, ``below_target``,
        ``target_pct`` …): the community choropleth the map opens on.
    target_pct : float, optional
        Coverage target in per cent; default the table's ``target_pct``, else the standards' (80).
    max_points : int, default 500
        With more uncovered homes than this, the children uncovered are summed per hexagon (clipped to the
        boundaries) and the homes are not drawn one by one: the page grows with the area, not with the homes.
    hex_size : float, optional
        Hexagon circumradius in metres; default about 20 cells across the extent
        (:func:`childspace.analysis.aggregate.hex_totals`).
    max_areas : int, default 200
        Above this many per-facility service areas of a method, their union is drawn instead.
    simplify_m : float, default 5
        Polygons (communities, service areas) are simplified to this many metres in the page.
    title : str, optional
        Title box text; default "<category>服务覆盖 <category> service coverage".
    synthetic : bool, default False
        Add the note "示例数据（虚构） Synthetic sample data" to the title.
    basemaps : sequence of str, default ()
        Tile layers offered (:data:`childspace.outputs.maps.TILE_SOURCES`: "osm", "tianditu", "amap"); none by
        default: the map requests nothing from the network.
    base : Basemap, optional
        Data of the offline base map (streets, water, green space) and the 天地图 key.

    Returns
    -------
    folium.Map
        Self-contained once written with :func:`childspace.outputs.maps.save_map`. Any CRS in, EPSG:4326 drawn.
    """
    fac = to_wgs84(facilities, "facilities")
    require(fac, ["facility_id", "name"], "facilities")
    if category is None:
        category = _only_category(fac)
    clabel = category_label(category)
    cz, ce = split_label(clabel)
    colour = CATEGORY_COLOURS.get(category, "#0077bb")
    fac = category_filter(fac, category)
    layers_for_bounds: list[gpd.GeoDataFrame | None] = [fac]
    if boundaries is not None:
        layers_for_bounds.append(to_wgs84(boundaries, "boundaries"))
    choro = unit_coverage is not None and boundaries is not None and len(unit_coverage)
    target = target_of(pd.DataFrame(unit_coverage), target_pct) if choro else target_pct
    sub = (
        f"步行覆盖率，目标 {target or 80:g}%（其余图层在右上角） Walking coverage against the "
        f"{target or 80:g}% target (more layers top right)"
        if choro
        else None
    )
    m = new_map(
        layers_for_bounds, title or f"{cz}服务覆盖 {ce} service coverage", sub, synthetic, basemaps, base=base
    )
    legend: list[tuple[str, list[LegendItem]]] = []

    if choro:
        b = to_wgs84(boundaries, "boundaries")
        level = (
            b["level"].astype(str).to_numpy() if "level" in b.columns else np.array(["community"] * len(b))
        )
        units = b[level == ("community" if (level == "community").any() else "township")]
        uc = pd.DataFrame(unit_coverage)
        j = join_coverage(units, uc, category, "pct_walk")
        vals, below, styles = choropleth_styles(j, "pct_walk", target)
        vlabel = VALUE_LABELS["pct_walk"]
        pops = popup_html(
            [f"{n} · {clabel}" for n in esc(j["name"])],
            coverage_rows(j, vals, "pct_walk", vlabel, below, target),
        )
        tips = [
            f"{n}: {v}{' ▼ 低于目标 below target' if bt else ''}"
            for n, v, bt in zip(esc(j["name"]), fmt_num(pd.Series(vals), 1, "%"), below)
        ]
        add_layer(
            m,
            j,
            styles,
            pops,
            tips,
            f"步行覆盖率（{int(below.sum())}/{len(j)} 低于目标） Walking coverage ({int(below.sum())}/{len(j)} "
            "below target)",
            pane="csChoro",
            pane_z=350,
            simplify_m=simplify_m,
        )
        legend.append((vlabel, coverage_legend(target)))

    # gap polygons (purples: children not covered), shown when there is no choropleth
    if gaps is not None and len(gaps):
        g = category_filter(to_wgs84(gaps, "gaps"), category)
        require(g, ["children_uncovered"], "gaps")
        if len(g):
            kids = pd.to_numeric(g["children_uncovered"], errors="coerce").fillna(0).to_numpy()
            edges = nice_breaks(kids, 4)
            cls = np.clip(np.searchsorted(edges[1:-1], kids, side="right"), 0, 3)
            styles = [
                {
                    "color": UNCOVERED_RAMP[3],
                    "weight": 1.2,
                    "fillColor": UNCOVERED_RAMP[c],
                    "fillOpacity": 0.6,
                }
                for c in cls
            ]
            name_col = (
                "unit_name" if "unit_name" in g.columns else ("unit_id" if "unit_id" in g.columns else None)
            )
            names = esc(g[name_col]) if name_col else ["—"] * len(g)
            rows = [("未覆盖儿童 Children uncovered", fmt_num(g["children_uncovered"]))]
            if "area_m2" in g.columns:
                rows.append(("面积 Area (ha)", fmt_num(g["area_m2"] / 1e4, 1)))
            if "rank" in g.columns:
                rows.append(("排序 Rank", fmt_num(g["rank"])))
            pops = popup_html([f"缺口 Gap: {n}" for n in names], rows)
            tips = [
                f"缺口 Gap: {n} · {k} 名儿童 children"
                for n, k in zip(names, fmt_num(g["children_uncovered"]))
            ]
            add_layer(
                m,
                g,
                styles,
                pops,
                tips,
                "覆盖缺口（按儿童数） Gaps (by children)",
                show=not choro,
                simplify_m=simplify_m,
            )
            legend.append(
                (
                    "覆盖缺口：未覆盖儿童" + (OFF_MARK if choro else "") + " Gaps: children uncovered",
                    [("fill", UNCOVERED_RAMP[i], f"{edges[i]:,.0f}–{edges[i + 1]:,.0f}") for i in range(4)],
                )
            )

    # service areas, one layer per method, in the category's own colour (off at first when the map has a
    # choropleth: they answer "where is it reachable", not "where is the gap")
    if service_areas is not None and len(service_areas):
        sa = category_filter(to_wgs84(service_areas, "service_areas"), category)
        method = sa["method"].astype(str) if "method" in sa.columns else pd.Series("walk", index=sa.index)
        items: list[LegendItem] = []
        for meth, zh, en, style in (
            (
                "line",
                "直线服务区",
                "Straight-line service area",
                {"color": colour, "weight": 1.5, "dashArray": "6 4", "fill": False},
            ),
            (
                "walk",
                "步行服务区",
                "Walking service area",
                {"color": colour, "weight": 1.2, "fillColor": colour, "fillOpacity": 0.25},
            ),
        ):
            part = sa[method.to_numpy() == meth]
            if not len(part):
                continue
            r = pd.to_numeric(part["radius_m"], errors="coerce") if "radius_m" in part.columns else None
            rtxt = f"（{r.max():,.0f} 米 m）" if r is not None and r.notna().any() else ""
            name = f"{zh}{rtxt} {en}"
            # areas simplified here (plain Douglas–Peucker where the result stays valid; the dissolved area of a
            # county took seconds with topology preserved)
            part = part.set_geometry(
                simplify_areas(np.asarray(part.geometry.values, dtype=object), simplify_m / M_PER_DEG),
                crs=part.crs,
            )
            if len(part) > max_areas:  # the union: one feature, however many facilities
                n_fac = len(part)
                part = _dissolved(part, 0.0)  # (the pieces simplified above; the union once more)
                part = part.set_geometry(
                    simplify_areas(np.asarray(part.geometry.values, dtype=object), simplify_m / M_PER_DEG),
                    crs=part.crs,
                )
                name = f"{zh}{rtxt}（{n_fac}处合并） {en} ({n_fac} merged)"
                names = [f"{clabel}（{n_fac}处合并 {n_fac} merged）"] * len(part)
            else:
                names = (
                    esc(
                        part["facility_id"]
                        .map(dict(zip(fac["facility_id"], fac["name"])))
                        .fillna(part["facility_id"])
                    )
                    if "facility_id" in part.columns
                    else [clabel] * len(part)
                )
            tips = [f"{zh} {en}: {i}" for i in names]
            add_layer(
                m,
                part,
                [style] * len(part),
                None,
                tips,
                name,
                show=(meth == "walk" and not choro),
                simplify_m=0.0,
            )
            items.append(("fill" if meth == "walk" else "dash", colour, name))
        if items:
            legend.append(("服务区" + (OFF_MARK if choro else "") + " Service areas", items))

    items = boundary_layers(m, boundaries, outline=("township",) if choro else ("community", "township"))
    if items:
        legend.append(("边界 Boundaries", items))

    if access is not None and len(access):
        legend += _uncovered_layers(m, access, category, clabel, max_points, hex_size, boundaries)

    # facilities on top
    if len(fac):
        rows = [("类型 Category", [clabel] * len(fac))]
        for col, lab in (
            ("capacity", "容量 Capacity"),
            ("address", "地址 Address"),
            ("source", "来源 Source"),
        ):
            if col in fac.columns:
                rows.append((lab, fmt_num(fac[col]) if col == "capacity" else esc(fac[col])))
        rows.append(("编号 ID", esc(fac["facility_id"])))
        pops = popup_html(esc(fac["name"]), rows)
        style = {"radius": 7, "color": "#ffffff", "weight": 2.5, "fillColor": colour, "fillOpacity": 1.0}
        add_layer(
            m,
            fac,
            [style] * len(fac),
            pops,
            [f"{n}（{clabel}）" for n in esc(fac["name"])],
            f"{cz}（{len(fac)}） {ce} ({len(fac)})",
        )
        legend.insert(0, ("设施 Facilities", [("dot", colour, clabel)]))
    return finish(m, legend)


def _dissolved(part: gpd.GeoDataFrame, simplify_m: float) -> gpd.GeoDataFrame:
    """The union of service areas (EPSG:4326), simplified first (the union of 200 detailed areas is the cost)."""
    from childspace.outputs.maps._page import simplify_wgs84

    geoms = simplify_wgs84(np.asarray(part.geometry.values, dtype=object), simplify_m)
    row = {c: [part[c].iloc[0]] for c in ("category", "method") if c in part.columns}
    if "radius_m" in part.columns:
        row["radius_m"] = [pd.to_numeric(part["radius_m"], errors="coerce").max()]
    return gpd.GeoDataFrame(row, geometry=[shapely.union_all(geoms)], crs=part.crs)


#: the study area of the last boundaries drawn, per CRS: the ten coverage maps of a run clip to the same area
_AREA_CACHE: dict[str, Any] = {"ref": None, "areas": {}}


def _study_area(boundaries: gpd.GeoDataFrame | None, crs: object) -> object | None:
    """The union of the boundaries (townships if given, else communities) in ``crs``; None without any.
    Kept per boundaries frame and CRS (the maps of one run share it)."""
    if boundaries is None or not len(boundaries):
        return None
    ref = _AREA_CACHE["ref"]
    if ref is None or ref() is not boundaries:
        _AREA_CACHE["ref"], _AREA_CACHE["areas"] = weakref.ref(boundaries), {}
    key = (CRS.from_user_input(crs).to_wkt(), len(boundaries))
    if key not in _AREA_CACHE["areas"]:
        _AREA_CACHE["areas"][key] = _union_of(boundaries, crs)
    return _AREA_CACHE["areas"][key]


def _union_of(boundaries: gpd.GeoDataFrame, crs: object) -> object:
    b = boundaries
    if "level" in b.columns and (b["level"].astype(str) == "township").any():
        b = b[b["level"].astype(str).to_numpy() == "township"]
    geoms = np.asarray(b.to_crs(crs).geometry.values, dtype=object)
    return shapely.union_all(shapely.buffer(shapely.simplify(geoms, 5.0), 0.0))


#: the hexagon of every home of the last ``access`` frame drawn, per (CRS, size): the coverage maps of one run
#: (one per category) bin the same homes; each map then only sums its uncovered children per cell
_HEX_CACHE: dict[str, Any] = {"ref": None, "cells": {}}


def _hex_totals_shared(
    access: gpd.GeoDataFrame, acc: gpd.GeoDataFrame, sel: np.ndarray, weights: np.ndarray, size: float
) -> gpd.GeoDataFrame:
    """``hex_totals(acc[sel], weights, size)`` (:func:`childspace.analysis.aggregate.hex_totals`: same cells,
    same order, same sums), with the homes' cells computed once per ``access`` frame and reused by every map.

    ``acc`` is ``access`` in EPSG:4326 (empty geometries dropped); ``sel`` a boolean per row of ``acc``;
    ``weights`` one value per selected home.
    """
    crs = local_crs_for(acc.geometry[sel])  # as hex_totals: the zone of the homes binned
    ref = _HEX_CACHE["ref"]
    if ref is None or ref() is not access:
        _HEX_CACHE["ref"], _HEX_CACHE["cells"] = weakref.ref(access), {}
    key = (crs.to_wkt(), float(size), len(acc))
    got = _HEX_CACHE["cells"].get(key)
    if got is None:
        pts = acc.geometry.to_crs(crs)
        got = hex_cells(pts.x.to_numpy(dtype=float), pts.y.to_numpy(dtype=float), size)
        _HEX_CACHE["cells"][key] = got
    cells, inv = got
    w = np.asarray(pd.to_numeric(pd.Series(np.asarray(weights)), errors="coerce").fillna(0), dtype=float)
    total = np.bincount(inv[sel], weights=w, minlength=len(cells))
    count = np.bincount(inv[sel], minlength=len(cells))
    present = count > 0
    cells, total, count = cells[present], total[present], count[present]
    return gpd.GeoDataFrame({"total": total, "points": count}, geometry=hex_polygons(cells, size), crs=crs)


def _shared_bounds(access: gpd.GeoDataFrame, acc: gpd.GeoDataFrame) -> tuple[float, ...]:
    """``acc.total_bounds`` (``acc``: ``access`` in EPSG:4326), kept with the homes' cells of ``access``."""
    ref = _HEX_CACHE["ref"]
    if ref is None or ref() is not access:
        _HEX_CACHE["ref"], _HEX_CACHE["cells"] = weakref.ref(access), {}
    key = ("bounds", len(acc))
    if key not in _HEX_CACHE["cells"]:
        _HEX_CACHE["cells"][key] = tuple(float(v) for v in acc.total_bounds)
    return _HEX_CACHE["cells"][key]


def _uncovered_layers(
    m: folium.Map,
    access: gpd.GeoDataFrame,
    category: str,
    clabel: str,
    max_points: int,
    hex_size: float | None,
    boundaries: gpd.GeoDataFrame | None = None,
) -> list[tuple[str, list[LegendItem]]]:
    """Children not covered, off at first: hexagon totals clipped to the study area (more than ``max_points``
    homes) or the homes themselves (fewer)."""
    legend: list[tuple[str, list[LegendItem]]] = []
    acc = to_wgs84(access, "access")
    col = next(
        (c for c in (f"covered_walk_{category}", f"covered_line_{category}") if c in acc.columns), None
    )
    if col is None:
        raise DataError(
            f"access lacks covered_walk_{category} / covered_line_{category}",
            feature="access",
            fix=f"run coverage.origin_access for category {category!r}",
        )
    covered = acc[col].fillna(False).astype(bool).to_numpy()
    n_unc = int((~covered).sum())
    aggregate = n_unc > max_points
    # the homes themselves only when they are drawn (taking every column of a county's homes is the cost)
    unc = acc[~covered] if not aggregate else acc.iloc[:0]
    basis = "步行" if col.startswith("covered_walk") else "直线"
    en_basis = "on foot" if basis == "步行" else "straight line"
    if aggregate:
        kids_all = pd.to_numeric(
            acc["children"][~covered]
            if "children" in acc.columns
            else pd.Series(1, index=acc.index[~covered]),
            errors="coerce",
        ).fillna(0)
        # the size from the extent alone (reprojecting every home for its bounds is the cost on a county)
        frame = gpd.GeoDataFrame(geometry=[shapely.box(*_shared_bounds(access, acc))], crs=acc.crs)
        size = hex_size if hex_size is not None else auto_hex_size(frame)
        hx = _hex_totals_shared(access, acc, ~covered, kids_all.to_numpy(), size)
        hx = hx[hx["total"].to_numpy() > 0]
        area = _study_area(boundaries, hx.crs)
        if area is not None and len(hx):
            hx = hx.set_geometry(shapely.intersection(np.asarray(hx.geometry.values, dtype=object), area))
        hx = to_wgs84(hx, "hexagons")
        if len(hx):
            tot = hx["total"].to_numpy(dtype=float)
            edges_ = nice_breaks(tot, 4)
            cls = np.clip(np.searchsorted(edges_[1:-1], tot, side="right"), 0, 3)
            styles = [
                {
                    "color": UNCOVERED_RAMP[3],
                    "weight": 0.6,
                    "fillColor": UNCOVERED_RAMP[c],
                    "fillOpacity": 0.75,
                }
                for c in cls
            ]
            pops = popup_html(
                ["未覆盖儿童 Children uncovered"] * len(hx),
                [
                    ("儿童数 Children", fmt_num(hx["total"])),
                    ("住户数 Homes", fmt_num(hx["points"])),
                    ("格网 Cell", [f"六边形 {size:g} 米 hexagon {size:g} m"] * len(hx)),
                ],
            )
            tips = [
                f"未覆盖（{basis}） Uncovered ({en_basis}): {k} 名儿童 children" for k in fmt_num(hx["total"])
            ]
            hname = f"未覆盖儿童（{basis}，每{size:g}米六边形） Children uncovered ({en_basis}, {size:g} m hexagons)"
            add_layer(m, hx, styles, pops, tips, hname, show=False)
            legend.append(
                (
                    f"未覆盖儿童/六边形（{basis}）{OFF_MARK} Children uncovered per hexagon",
                    [("fill", UNCOVERED_RAMP[i], f"{edges_[i]:,.0f}–{edges_[i + 1]:,.0f}") for i in range(4)],
                )
            )
    if len(unc) and not aggregate:
        kids = pd.to_numeric(unc.get("children", pd.Series(1, index=unc.index)), errors="coerce").fillna(0)
        radius = np.clip(2.5 + 1.6 * np.sqrt(kids.to_numpy()), 3, 14)
        styles = [
            {
                "radius": float(r),
                "color": "#ffffff",
                "weight": 1,
                "fillColor": UNCOVERED_RAMP[3],
                "fillOpacity": 0.85,
            }
            for r in radius
        ]
        rows = [("儿童数 Children", fmt_num(kids))]
        dcol = f"dist_walk_{category}"
        if dcol in unc.columns:
            rows.append((f"最近{clabel.split(' ')[0]}步行距离 Walk to nearest (m)", fmt_num(unc[dcol])))
        lcol = f"dist_line_{category}"
        if lcol in unc.columns:
            rows.append(("直线距离 Straight line (m)", fmt_num(unc[lcol])))
        ids = esc(unc["origin_id"]) if "origin_id" in unc.columns else ["—"] * len(unc)
        pops = popup_html([f"未覆盖住户 Uncovered home {i}" for i in ids], rows)
        tips = [f"未覆盖 Uncovered: {k} 名儿童 children" for k in fmt_num(kids)]
        lname = f"未覆盖住户（{basis}） Uncovered homes ({en_basis})"
        add_layer(m, unc, styles, pops, tips, lname, show=False)
        legend.append(
            (
                "住户" + OFF_MARK + " Homes",
                [("dot", UNCOVERED_RAMP[3], f"{lname}，大小=儿童数 size = children")],
            )
        )
    return legend
