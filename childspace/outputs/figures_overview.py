"""Static coverage overview (覆盖总览图, PNG/PDF): classes tied to the target, one map or small multiples."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Annotation
from pyproj import CRS

from childspace._errors import DataError
from childspace.outputs._figure_base import (
    Labels,
    line_collection,
    new_canvas,
    note_left_out,
    polygon_collection,
)
from childspace.outputs.figures import (
    _SYNTHETIC_NOTE,
    _crs_for,
    _decorate,
    _draw_boundaries,
    _fix_extent,
    _metric,
    _new_figure,
    _scale_label,
    _style,
    nice_scale_length,
    only_category,
)
from childspace.outputs.style import (
    NO_DATA_COLOUR,
    VALUE_LABELS,
    category_label,
    coverage_class_index,
    coverage_classes,
    coverage_colours,
)

__all__ = ["plot_overview"]

#: gid of the north arrow of the small multiples (drawn once, in the band above the panels)
NORTH_ARROW = "cs-north-arrow"


def _coverage_handles(target: float | None) -> list:
    """Legend patches of the coverage classes (highest first, below-target classes hatched) and "no data"."""
    return [
        Patch(facecolor=c.colour, edgecolor="#444444", hatch=c.hatch, label=c.label)
        for c in reversed(coverage_classes(target))
    ] + [Patch(facecolor=NO_DATA_COLOUR, edgecolor="#444444", label="无数据 No data")]


def _target(uc: pd.DataFrame) -> float | None:
    t = (
        pd.to_numeric(uc["target_pct"], errors="coerce").dropna()
        if "target_pct" in uc.columns
        else pd.Series([])
    )
    return float(t.iloc[0]) if len(t) else None


def _hatch_classes(
    ax, sub: gpd.GeoDataFrame, vals: np.ndarray, target: float | None, zorder: float = 3
) -> None:
    """Hatch each unit by its class (the cue without colour: below-target classes hatched)."""
    idx = coverage_class_index(vals, target)
    for i, c in enumerate(coverage_classes(target)):
        sel = idx == i
        if sel.any() and c.hatch:
            polygon_collection(
                ax,
                sub.geometry[sel],
                "none",
                edgecolor="#5a2a00",
                hatch=c.hatch,
                linewidth=0.0,
                zorder=zorder,
            )


def _overview_fill(
    sub: gpd.GeoDataFrame, uc: pd.DataFrame, category: str | None, value: str, target: float | None = None
) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray]:
    """Units left-joined with the ``value`` (and ``below_target``) of one category, the values and their fill
    colours (:func:`childspace.outputs.style.coverage_classes` of the target)."""
    if category is not None and "category" in uc.columns:
        uc = uc[uc["category"].astype(str) == category]
    cols = ["unit_id", value] + (["below_target"] if "below_target" in uc.columns else [])
    u = uc[cols].copy()
    u["unit_id"] = u["unit_id"].astype(str)
    sub = sub.merge(u.drop_duplicates("unit_id"), on="unit_id", how="left")
    vals = pd.to_numeric(sub[value], errors="coerce").to_numpy(dtype=float)
    return sub, vals, coverage_colours(vals, target)


def _overview_small_multiples(
    b: gpd.GeoDataFrame,
    sub: gpd.GeoDataFrame,
    uc: pd.DataFrame,
    cats: Sequence[str | None],
    townships: gpd.GeoDataFrame | None,
    value: str,
    vlabel: str,
    title: str | None,
    synthetic: bool,
    crs: CRS,
) -> Figure:
    n = len(cats)
    ncols = min(3, n) if n <= 6 else 4
    nrows = int(np.ceil(n / ncols))
    minx, miny, maxx, maxy = b.total_bounds
    aspect = (maxy - miny) / max(maxx - minx, 1.0)
    panel_w = 4.2
    fig = Figure(figsize=(panel_w * ncols, panel_w * aspect * nrows + 2.2), dpi=100)
    new_canvas(fig)
    fig_w, fig_h = fig.get_size_inches()
    top = 1.0 - 1.25 / fig_h  # the band above: the title, the north arrow
    bottom = 0.9 / fig_h  # the band below: the scale bar, the legend
    halo = [patheffects.withStroke(linewidth=2, foreground="white")]
    axes = []
    for i, cat in enumerate(cats):
        r, c = divmod(i, ncols)
        h = (top - bottom) / nrows
        # 0.45 inch over each panel for its title (a fixed height: a share of the figure's is too little in a
        # figure of one row)
        ax = fig.add_axes((0.01 + c * 0.98 / ncols, top - (r + 1) * h, 0.98 / ncols - 0.01, h - 0.45 / fig_h))
        axes.append(ax)
        s2, vals, fill = _overview_fill(sub, uc, cat, value, _target(uc))
        polygon_collection(ax, s2.geometry, fill, edgecolor="#666666", linewidth=0.4, zorder=2)
        _hatch_classes(ax, s2, vals, _target(uc))
        if townships is not None and len(townships):
            line_collection(ax, townships.boundary, color="#111111", linewidth=1.4, zorder=5)
        tot = uc[uc["category"].astype(str) == cat] if "category" in uc.columns else uc
        share = ""
        if {"children", "children_covered_walk"} <= set(tot.columns) and value == "pct_walk":
            ch = pd.to_numeric(tot["children"], errors="coerce").sum()
            cv = pd.to_numeric(tot["children_covered_walk"], errors="coerce").sum()
            share = f"（全部 {100 * cv / ch:.0f}% overall）" if ch else ""
        # a fixed title position (y given): matplotlib's automatic placement lifts some titles above others
        ax.set_title(
            f"{category_label(cat) if cat else ''}{share}", fontsize=11, fontweight="bold", y=1.0, pad=6.0
        )
        ax.set_xlim(minx, maxx)
        ax.set_ylim(miny, maxy)
        ax.set_aspect("equal")
        ax.set_axis_off()
    # scale bar under the last panel
    ax = axes[-1]
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = nice_scale_length(x1 - x0, 0.3)
    ax.add_patch(
        Rectangle(
            (x0, y0 - 0.04 * (y1 - y0)),
            length,
            0.015 * (y1 - y0),
            facecolor="black",
            clip_on=False,
            zorder=20,
        )
    )
    ax.text(  # beside the bar, below the panel (not over its lower edge)
        x0 + length + 0.01 * (x1 - x0),
        y0 - 0.0325 * (y1 - y0),
        _scale_label(length),
        fontsize=8,
        va="center",
        ha="left",
        path_effects=halo,
        clip_on=False,
    )
    # the north arrow (grid north, the same in every panel) in the band above the panels, at its right-hand
    # end: inside a panel it would cover the map where it reaches the panel's corner (Monaco's tip does)
    x_arrow = 1.0 - 0.3 / fig_w
    fig.add_artist(
        Annotation(
            "N 北",
            xy=(x_arrow, top + 0.78 / fig_h),
            xytext=(x_arrow, top + 0.3 / fig_h),
            xycoords="figure fraction",
            textcoords="figure fraction",
            ha="center",
            va="top",
            fontsize=9,
            fontweight="bold",
            arrowprops=dict(facecolor="black", width=3, headwidth=9, headlength=8),
            zorder=21,
            gid=NORTH_ARROW,
        )
    )
    handles = _coverage_handles(_target(uc))
    if townships is not None and len(townships):
        handles.append(Line2D([], [], color="#111111", lw=1.6, label="乡镇街道边界 Township boundary"))
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=min(len(handles), 4),
        fontsize=9,
        frameon=False,
        title=f"{vlabel} %",
        title_fontsize=10,
        bbox_to_anchor=(0.5, 0.0),
    )
    vz, ve = vlabel.split(" ", 1)
    fig.suptitle(
        title or f"各类设施{vz} {ve} by category",
        fontsize=15,
        fontweight="bold",
        x=0.01,
        ha="left",
        y=0.995,
        va="top",
    )
    if synthetic:
        fig.text(
            0.99,
            0.995,
            _SYNTHETIC_NOTE,
            fontsize=10,
            fontweight="bold",
            color="#7a5200",
            ha="right",
            va="top",
            bbox=dict(boxstyle="round,pad=0.3", facecolor="#fff3cd", edgecolor="#e0b84d"),
        )
    fig.text(
        0.99,
        0.003,
        f"坐标系 CRS: {crs.name} (EPSG:{crs.to_epsg()})",
        fontsize=7,
        color="#555555",
        ha="right",
        va="bottom",
    )
    return fig


def plot_overview(
    boundaries: gpd.GeoDataFrame,
    unit_coverage: pd.DataFrame,
    category: str | None = None,
    *,
    value: str = "pct_walk",
    level: str | None = None,
    townships: gpd.GeoDataFrame | None = None,
    small_multiples: bool = False,
    categories: Sequence[str] | None = None,
    title: str | None = None,
    synthetic: bool = False,
) -> Figure:
    """Choropleth of coverage % per unit (mirrors :func:`childspace.outputs.maps.overview_map`).

    Parameters
    ----------
    level : {"community", "township"}, optional
        Units shaded; default communities when present, else townships. Township outlines are always drawn.
    townships : GeoDataFrame, optional
        Township boundaries drawn over the units (thick dark lines, names).
    small_multiples : bool, default False
        One small panel per category (``categories``, default every category of the table) sharing one legend,
        for reports; ``category`` is then ignored.
    categories : sequence of str, optional
        Panels of the small multiples, in order.
    Other parameters as in :func:`childspace.outputs.maps.overview_map`; classes 0–20–40–60–80–100 %, grey = no data,
    hatched = below target.

    Returns
    -------
    matplotlib.figure.Figure
    """
    crs = _crs_for(boundaries)
    b = _metric(boundaries, crs, "boundaries", simplify_m=5.0)
    uc = pd.DataFrame(unit_coverage)
    for col in ("unit_id", value):
        if col not in uc.columns:
            raise DataError(
                f"unit_coverage lacks the column {col!r}",
                feature="unit_coverage",
                fix="pass the output of childspace.analysis.coverage.unit_coverage",
            )
    vlabel = VALUE_LABELS.get(value, value)
    t = _metric(townships, crs, "townships", simplify_m=5.0)
    if small_multiples:
        cats = (
            list(categories)
            if categories is not None
            else (
                [str(c) for c in pd.unique(uc["category"].dropna())] if "category" in uc.columns else [None]
            )
        )
        lev0 = b["level"].astype(str) if "level" in b.columns else pd.Series("community", index=b.index)
        lvl = level or ("community" if (lev0 == "community").any() else "township")
        sub0 = b[lev0.to_numpy() == lvl].copy()
        sub0["unit_id"] = sub0["unit_id"].astype(str)
        with _style():
            return _overview_small_multiples(b, sub0, uc, cats, t, value, vlabel, title, synthetic, crs)
    if "category" in uc.columns:
        if category is None:
            category = only_category(uc, "plot_overview", "unit_coverage holds")
        uc = uc[uc["category"].astype(str) == category]
    lev = b["level"].astype(str) if "level" in b.columns else pd.Series("community", index=b.index)
    if level is None:
        level = "community" if (lev == "community").any() else "township"
    sub = b[lev.to_numpy() == level].copy()
    sub["unit_id"] = sub["unit_id"].astype(str)
    target = _target(uc)
    sub, vals, fill = _overview_fill(sub, uc, category, value, target)
    clabel = category_label(category) if category else ""
    with _style():
        fig, ax = _new_figure()
        handles: list = _coverage_handles(target)
        polygon_collection(ax, sub.geometry, fill, edgecolor="#555555", linewidth=0.6, zorder=2)
        _hatch_classes(ax, sub, vals, target)
        labels = Labels()
        if t is not None and len(
            t
        ):  # the township layer is the outline (the boundaries' townships not again)
            line_collection(ax, t.boundary, color="white", linewidth=4.5, zorder=7)
            line_collection(ax, t.boundary, color="#111111", linewidth=2.2, zorder=8)
            handles.append(Line2D([], [], color="#111111", lw=2.2, label="乡镇街道边界 Township boundary"))
        else:
            _draw_boundaries(ax, b, handles, outline=("township",), label_limit=0)
        if level == "township" and "name" in sub.columns and len(sub) <= 60:
            _unit_labels(labels, sub, sub["name"].astype(str).tolist(), None, 3.0, 10, "bold")
        elif level == "community" and "name" in sub.columns and len(sub) <= 40:
            names = sub["name"].astype(str).tolist()
            shown = [f"{v:.0f}%" if np.isfinite(v) else "—" for v in vals]
            _unit_labels(labels, sub, [f"{n}\n{v}" for n, v in zip(names, shown)], shown, 1.0, 9, "normal")
        _fix_extent(ax, b, t)
        cz, ce = (clabel.split(" ", 1) + [""])[:2] if clabel else ("", "")
        vz, ve = vlabel.split(" ", 1)
        _decorate(fig, ax, title or f"{cz}{vz} {ce}: {ve}", synthetic, handles, crs)
        legend = ax.get_legend()  # (the coverage classes are always in it)
        if legend is not None:
            legend.set_title(f"{vlabel} %")
        note_left_out(fig, labels.place(ax))
    return fig


def _unit_labels(
    labels: Labels,
    units: gpd.GeoDataFrame,
    texts: list[str],
    short: list[str] | None,
    priority: float,
    fontsize: float,
    weight: str,
) -> None:
    """Queue one label per unit name, at a point inside its largest part: a unit of several rows (parts)
    is named once; the labels are then placed clear of each other and of the map furniture (:class:`Labels`)."""
    names = units["name"].astype(str).to_numpy()
    area = shapely.area(np.asarray(units.geometry.values, dtype=object))
    # the largest row of each name first; the others of that name are dropped
    order = np.lexsort((-area, names))
    keep = np.sort(order[np.r_[True, names[order][1:] != names[order][:-1]]]) if len(order) else order
    pts = units.geometry.iloc[keep].representative_point()
    labels.add(
        pts.x,
        pts.y,
        [texts[i] for i in keep],
        kind="area",
        priority=priority,
        short=[short[i] for i in keep] if short is not None else None,
        fontsize=fontsize,
        fontweight=weight,
        zorder=15,
    )
