"""The overview map (覆盖总览): coverage by community against the target, one category at a time."""

from __future__ import annotations

from collections.abc import Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from childspace._errors import ChildspaceError, DataError
from childspace.outputs.maps._choropleth import (
    choropleth_styles,
    coverage_legend,
    coverage_rows,
    join_coverage,
    life_circle_layer,
    target_of,
)
from childspace.outputs.maps._page import (
    BlankBase,
    LegendItem,
    add_layer,
    boundary_layers,
    esc,
    finish,
    fmt_num,
    new_map,
    popup_html,
    require,
    to_wgs84,
    township_outlines,
)
from childspace.outputs.maps.basemap import Basemap
from childspace.outputs.style import VALUE_LABELS, category_label, split_label

__all__ = ["overview_map"]


def overview_map(
    boundaries: gpd.GeoDataFrame,
    unit_coverage: pd.DataFrame,
    category: str | None = None,
    *,
    townships: gpd.GeoDataFrame | None = None,
    life_circles: pd.DataFrame | None = None,
    categories: Sequence[str] | None = None,
    value: str = "pct_walk",
    title: str | None = None,
    synthetic: bool = False,
    basemaps: Sequence[str] = (),
    base: Basemap | None = None,
    target_pct: float | None = None,
) -> folium.Map:
    """Coverage per unit as choropleths: one category, or every category as a radio-switched layer.

    Parameters
    ----------
    boundaries : GeoDataFrame
        Canonical boundaries (``unit_id``, ``name``, ``level``), any CRS; the units shaded.
    unit_coverage : DataFrame
        ``coverage.unit_coverage`` long table (``unit_id``, ``category``, ``children``, ``pct_walk``,
        ``pct_line``, ``below_target``, ``target_pct`` …); percentages 0–100.
    category : str, optional
        Map this one category only (as before). When omitted and the table holds several categories, every
        category becomes one choropleth in a radio group (one shown at a time, Leaflet base layers); the basemap
        tiles are then checkbox overlays underneath.
    townships : GeoDataFrame, optional
        Township boundaries (``unit_id``, ``name``) drawn over the communities (thick dark line with a white
        casing, always on top) with their names.
    life_circles : DataFrame, optional
        ``coverage.life_circles`` (``unit_id``, ``lc5_complete``, ``lc10_complete``, ``lc15_complete``,
        ``lc*_missing``): adds a "life-circle completeness" choropleth, units coloured by how many of the
        5/10/15-minute circles are complete (0–3; grey = cannot be judged); the popup lists what is missing.
    categories : sequence of str, optional
        Order (and selection) of the categories in the radio group; default the table's order.
    value : str, default "pct_walk"
        Column shaded (``pct_walk``, ``pct_line`` or ``area_pct_walk``), in per cent 0–100. Classes: 0–20,
        20–40, 40–60, 60–80, 80–100 %; units without figures are grey; units below target have a dark red edge.
    title, synthetic, basemaps, base, target_pct
        As in :func:`coverage_map`.

    Returns
    -------
    folium.Map
    """
    b = to_wgs84(boundaries, "boundaries")
    require(b, ["unit_id", "name"], "boundaries")
    require(unit_coverage, ["unit_id", value], "unit_coverage")
    uc = pd.DataFrame(unit_coverage)
    target = target_of(uc, target_pct)
    present_cats = [str(c) for c in pd.unique(uc["category"].dropna())] if "category" in uc.columns else []
    if category is not None and present_cats and category not in present_cats:
        raise DataError(
            f"unit_coverage has no rows for category {category!r}",
            feature="unit_coverage",
            fix=f"pass category= one of {present_cats}",
        )
    if categories is not None:
        unknown = [c for c in categories if c not in present_cats]
        if unknown:
            raise DataError(
                f"unit_coverage has no rows for categories {unknown}",
                feature="unit_coverage",
                fix=f"choose among {present_cats}",
            )
    multi = category is None and (len(present_cats) > 1 or life_circles is not None)
    if not multi:
        if category is None and len(present_cats) == 1:
            category = present_cats[0]
        return _overview_single(b, uc, category, townships, value, title, synthetic, basemaps, base, target)
    cats = list(categories) if categories is not None else present_cats
    vlabel = VALUE_LABELS.get(value, value)
    vz, ve = split_label(vlabel)
    tlabel = f"{target:g}%" if target is not None else "80%"
    frames = [b] + ([to_wgs84(townships, "townships")] if townships is not None and len(townships) else [])
    m = new_map(
        frames,
        title or "儿童服务设施覆盖缺口 Where coverage falls short of the target",
        f"{vz}，目标 {tlabel}；每次显示一类（右上角切换） {ve} against the {tlabel} target, one category "
        "at a time (switch top right)",
        synthetic,
        basemaps,
        tiles_overlay=True,
        base=base,
    )
    level = b["level"].astype(str).to_numpy() if "level" in b.columns else np.array(["community"] * len(b))
    shade_level = "community" if (level == "community").any() else "township"
    units = b[level == shade_level]
    lv_zh, lv_en = ("村社区", "communities") if shade_level == "community" else ("乡镇街道", "townships")
    for i, cat in enumerate(cats):
        j = join_coverage(units, uc, cat, value)
        vals, below, styles = choropleth_styles(j, value, target)
        clabel = category_label(cat)
        cz, ce = split_label(clabel)
        pops = popup_html(
            [f"{n} · {clabel}" for n in esc(j["name"])], coverage_rows(j, vals, value, vlabel, below, target)
        )
        tips = [
            f"{n} · {cz}: {v}{' ▼' if bt else ''}"
            for n, v, bt in zip(esc(j["name"]), fmt_num(pd.Series(vals), 1, "%"), below)
        ]
        n_below = int(below.sum())
        add_layer(
            m,
            j,
            styles,
            pops,
            tips,
            f"{cz}（{n_below}/{len(j)} 低于目标） {ce} ({n_below}/{len(j)} below target)",
            show=(i == 0),
            overlay=False,
            pane="csChoro",
            pane_z=350,
            simplify_m=5.0,
        )
    legend: list[tuple[str, list[LegendItem]]] = [
        (f"{vz}（{lv_zh}） {ve} ({lv_en})", coverage_legend(target))
    ]
    if life_circles is not None:
        items = life_circle_layer(
            m, units, life_circles, "生活圈完整度 Life-circle completeness", show=False, overlay=False
        )
        legend.append(("生活圈完整度（切换后显示） Life circles complete", items))
    BlankBase("不着色 No shading", show=False).add_to(m)
    b_items = boundary_layers(m, b, labels=True, outline=("township",))
    b_items += township_outlines(m, townships, show_names=len(units) > 80)
    if b_items:
        legend.append(("边界 Boundaries", b_items))
    return finish(m, legend)


def _overview_single(
    b: gpd.GeoDataFrame,
    uc: pd.DataFrame,
    category: str | None,
    townships: gpd.GeoDataFrame | None,
    value: str,
    title: str | None,
    synthetic: bool,
    basemaps: Sequence[str],
    base: Basemap | None,
    target: float | None,
) -> folium.Map:
    """One category: a choropleth layer per level present (communities shown)."""
    if "category" in uc.columns and category is None:
        cats = uc["category"].dropna().unique()
        raise ChildspaceError(
            "overview_map needs a category when unit_coverage holds several",
            fix=f"pass category= one of {sorted(map(str, cats))}",
        )
    clabel = category_label(category) if category else ""
    cz, ce = split_label(clabel)
    vlabel = VALUE_LABELS.get(value, value)
    vz, ve = split_label(vlabel)
    frames = [b] + ([to_wgs84(townships, "townships")] if townships is not None and len(townships) else [])
    m = new_map(frames, title or f"{cz}{vz} {ce}: {ve}", None, synthetic, basemaps, base=base)
    j = join_coverage(b, uc, category, value)
    level = j["level"].astype(str).to_numpy() if "level" in j.columns else np.array(["community"] * len(j))
    present = [lv for lv in ("township", "community") if (level == lv).any()]
    for lv in present:
        sub = j[level == lv]
        vals, below, styles = choropleth_styles(sub, value, target)
        pops = popup_html(
            [f"{n} {clabel}" for n in esc(sub["name"])],
            coverage_rows(sub, vals, value, vlabel, below, target),
        )
        tips = [
            f"{n}: {v}{' ▼' if bt else ''}"
            for n, v, bt in zip(esc(sub["name"]), fmt_num(pd.Series(vals), 1, "%"), below)
        ]
        n_below = int(below.sum())
        lname = (
            f"乡镇街道覆盖率（{n_below}/{len(sub)} 低于目标） Township coverage ({n_below} below target)"
            if lv == "township"
            else f"村社区覆盖率（{n_below}/{len(sub)} 低于目标） Community coverage ({n_below} below target)"
        )
        show = lv == "community" or len(present) == 1
        add_layer(m, sub, styles, pops, tips, lname, show=show, pane="csChoro", pane_z=350, simplify_m=5.0)
    items = boundary_layers(m, b, outline=("township",))
    items += township_outlines(m, townships)
    legend: list[tuple[str, list[LegendItem]]] = [(vlabel, coverage_legend(target))]
    if items:
        legend.append(("边界 Boundaries", items))
    return finish(m, legend)
