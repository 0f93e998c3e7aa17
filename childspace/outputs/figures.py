"""Static maps for reports (静态地图): matplotlib figures in the local metric CRS.

Each function mirrors a map of :mod:`childspace.outputs.maps` and returns a :class:`matplotlib.figure.Figure` drawn in the
local metric CRS (:func:`childspace.inputs.projection.local_crs_for`; CGCS2000 3-degree Gauss–Krüger in China), with a
north arrow, a scale bar of a round length in metres/kilometres, a legend and a bilingual title. Saving is
separate: :func:`save_figure`.

The arrow points to grid north of the projected CRS; in Yueqing (120.5–121.3°E on the 120°E central meridian)
grid north is within about 0.6° of true north (meridian convergence ≈ Δλ·sin φ).

Chinese text needs a CJK font: :func:`find_cjk_font` prefers one installed on the system (Noto Sans CJK / Source
Han Sans / WenQuanYi / SimHei / Microsoft YaHei / PingFang) and otherwise uses the font bundled in
``childspace/fonts/`` (a subset of Noto Sans CJK SC: GB2312 and every character of the package and its data);
characters missing from the first font are taken from the next (:func:`cjk_font_stack`).
Figures are built without pyplot, so nothing is shown or kept open.

This module holds the fonts, the drawing style and the coverage and pilot figures; the map furniture they share
(scale bar, north arrow, title, legend, label placement) is in :mod:`childspace.outputs._figure_base` and
re-exported here. The routes figure is :func:`childspace.outputs.figures_routes.plot_routes`, the coverage overview
:func:`childspace.outputs.figures_overview.plot_overview`. Classes, colours and labels come from
:mod:`childspace.outputs.style` (below-target coverage classes and each pilot status also carry a hatch or a marker,
so they stay apart without colour vision).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib import font_manager, rc_context
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from childspace._atomic import atomic_path
from childspace._errors import ChildspaceError, DataError
from childspace.analysis.aggregate import auto_hex_size, hex_totals

# the map furniture, re-exported (figures_routes, figures_overview and atlas import it from here)
from childspace.outputs._figure_base import (
    _SYNTHETIC_NOTE as _SYNTHETIC_NOTE,
)
from childspace.outputs._figure_base import (
    OffscreenCanvas,
    _crs_for,
    _decorate,
    _draw_boundaries,
    _fix_extent,
    _Labels,
    _metric,
    _new_figure,
    _note_left_out,
    line_collection,
    nice_scale_length,
    polygon_collection,
)
from childspace.outputs._figure_base import _scale_label as _scale_label
from childspace.outputs._simplify import simplify_areas
from childspace.outputs.style import (
    CATEGORY_COLOURS,
    CATEGORY_LABELS,
    NO_DATA_COLOUR,
    STATUS_LABELS,
    STATUS_MARKERS,
    UNCOVERED_RAMP,
    category_label,
    coverage_class_index,
    coverage_classes,
    coverage_colours,
)

__all__ = [
    "cjk_font_stack",
    "find_cjk_font",
    "nice_scale_length",
    "plot_coverage",
    "plot_pilots",
    "save_figure",
]


def only_category(table: pd.DataFrame, caller: str, holds: str) -> str:
    """The one category in ``table["category"]``; a ChildspaceError naming ``caller`` when there are several/none."""
    cats = table["category"].dropna().unique() if "category" in table.columns else []
    if len(cats) != 1:
        raise ChildspaceError(
            f"{caller} needs a category when {holds} several",
            fix=f"pass category= one of {sorted(map(str, cats))}",
        )
    return str(cats[0])


#: CJK families tried in order (Simplified Chinese faces first)
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
    "Heiti SC",
    "STHeiti",
    "Hiragino Sans GB",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Source Han Sans",
    "Sarasa Gothic SC",
    "Droid Sans Fallback",
    "Arial Unicode MS",
)
_FILE_HINTS = (
    "notosanscjk",
    "sourcehansans",
    "notosanssc",
    "wqy",
    "msyh",
    "simhei",
    "pingfang",
    "droidsansfallback",
    "sarasa",
    "hiragino",
    "stheiti",
    "arialuni",
)

#: the font shipped with the package: a subset of Noto Sans CJK SC (SIL OFL 1.1; see childspace/fonts/README.md)
BUNDLED_FAMILY = "Childspace Sans CJK SC"
BUNDLED_FONT_DIR = Path(__file__).resolve().parents[1] / "fonts"


def _system_cjk_font() -> str | None:
    """The family of an installed CJK font (first of :data:`CJK_FAMILIES`), or None.

    Looks first by family name among the fonts matplotlib knows, then scans the system font files for known CJK
    font files and registers them.
    """
    known = {f.name for f in font_manager.fontManager.ttflist}
    for fam in CJK_FAMILIES:
        if fam in known:
            return fam
    for path in font_manager.findSystemFonts():
        stem = Path(path).name.lower().replace("-", "").replace("_", "")
        if any(h in stem for h in _FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    known = {f.name for f in font_manager.fontManager.ttflist}
    for fam in CJK_FAMILIES:
        if fam in known:
            return fam
    return None


def _bundled_cjk_font() -> str | None:
    """Register the font shipped in ``childspace/fonts/`` with matplotlib; its family, or None if it is missing."""
    for path in sorted(BUNDLED_FONT_DIR.glob("*.ttf")):
        if not any(Path(f.fname) == path for f in font_manager.fontManager.ttflist):
            try:
                font_manager.fontManager.addfont(str(path))
            except (OSError, RuntimeError, ValueError):
                continue
    known = {f.name for f in font_manager.fontManager.ttflist}
    return BUNDLED_FAMILY if BUNDLED_FAMILY in known else None


@functools.lru_cache(maxsize=1)
def cjk_font_stack() -> tuple[str, ...]:
    """The families the static maps are drawn with, in order: the system CJK font, the bundled one, DejaVu Sans.

    matplotlib takes each character from the first family that has it, so a rare character missing from the
    system font comes from the bundled one, and symbols neither has (✔ ✗ ▾) from DejaVu Sans.

    Raises
    ------
    ChildspaceError
        Neither a system CJK font nor the bundled font (only if ``childspace/fonts/`` was removed).
    """
    fams = [f for f in (_system_cjk_font(), _bundled_cjk_font()) if f is not None]
    if not fams:
        raise ChildspaceError(
            "no font with Chinese characters was found for the static maps (the font bundled in "
            f"{BUNDLED_FONT_DIR} is missing too)",
            fix="reinstall childspace, or install a CJK font: Debian/Ubuntu `sudo apt install fonts-noto-cjk`; "
            "then delete matplotlib's font cache (~/.cache/matplotlib) and retry",
        )
    return tuple(dict.fromkeys([*fams, "DejaVu Sans"]))


def find_cjk_font() -> str:
    """The family name of the font that renders Chinese in the static maps.

    A font installed on the system (Noto Sans CJK / Source Han Sans / WenQuanYi / Microsoft YaHei / PingFang SC,
    see :data:`CJK_FAMILIES`) when there is one, otherwise the font bundled with the package
    (:data:`BUNDLED_FAMILY`, a subset of Noto Sans CJK SC), registered with matplotlib.

    Returns
    -------
    str
        e.g. ``"Noto Sans CJK SC"`` or ``"Childspace Sans CJK SC"``.
    """
    return cjk_font_stack()[0]


#: set (by :func:`bundled_font_first`) while figures for a PDF are built: :func:`_style` then puts the bundled font
#: first, so the figures drawn inside (plot_coverage, plot_overview …) use it too
_BUNDLED_FIRST: contextvars.ContextVar[bool] = contextvars.ContextVar("cs_bundled_first", default=False)


@contextmanager
def bundled_font_first() -> Iterator[None]:
    """Within this block the static maps are drawn with the bundled font first (see :func:`_style`)."""
    token = _BUNDLED_FIRST.set(True)
    try:
        yield
    finally:
        _BUNDLED_FIRST.reset(token)


@contextmanager
def _style(bundled_first: bool | None = None) -> Iterator[None]:
    # font.family is the list itself: matplotlib falls back from one family to the next only within that list
    # (the generic "sans-serif" resolves to a single font)
    stack = list(cjk_font_stack())
    if bundled_first is None:
        bundled_first = _BUNDLED_FIRST.get()
    if bundled_first and BUNDLED_FAMILY in stack:
        # PDF pages: the bundled subset of Noto Sans CJK SC (2 MB) before a system font (a 20 MB collection),
        # whose glyph subsetting for embedding costs seconds per face; characters it lacks still come from the
        # system font
        stack = [BUNDLED_FAMILY, *(f for f in stack if f != BUNDLED_FAMILY)]
    with rc_context(
        {
            "font.family": stack,
            "font.sans-serif": stack,
            "axes.unicode_minus": False,
            "font.size": 10,
            "hatch.linewidth": 0.6,
            "hatch.color": "#7f0000",
        }
    ):
        yield


# ----------------------------------------------------------------------------------------------------


def plot_coverage(
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
    title: str | None = None,
    synthetic: bool = False,
) -> Figure:
    """Static coverage map of one category (mirrors :func:`childspace.outputs.maps.coverage_map`).

    With ``unit_coverage`` the communities are shaded by walking coverage in the classes of the target
    (:func:`childspace.outputs.style.coverage_classes`; below-target classes hatched), as the map opens; the
    walking service areas are then outlined and the homes / hexagons left to the interactive map.

    Parameters are those of :func:`childspace.outputs.maps.coverage_map` (any CRS in; drawn in the local metric CRS).
    Gaps are shaded by ``children_uncovered``; homes not covered on foot (``covered_walk_<cat>`` false, else
    ``covered_line_<cat>``) are red dots sized by ``children``; with more than ``max_points`` of them the children
    uncovered are summed per hexagon (``hex_size`` metres, default about 20 cells across;
    :func:`childspace.analysis.aggregate.hex_totals`) instead.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if category is None:
        category = only_category(facilities, "plot_coverage", "facilities hold")
    crs = _crs_for(boundaries, facilities)
    b = _metric(boundaries, crs, "boundaries", simplify_m=5.0)
    fac = _metric(facilities, crs, "facilities")
    if "category" in fac.columns:
        fac = fac[fac["category"].astype(str) == category]
    clabel = category_label(category)
    zh, en = CATEGORY_LABELS.get(category, (category, category))
    colour = CATEGORY_COLOURS.get(category, "#0077bb")
    with _style():
        fig, ax = _new_figure()
        handles: list = []
        if unit_coverage is not None and b is not None and len(unit_coverage):
            handles += _coverage_choropleth(ax, b, pd.DataFrame(unit_coverage), category, target_pct)
        if gaps is not None and len(gaps) and unit_coverage is None:
            g = _metric(gaps, crs, "gaps")
            if "category" in g.columns:
                g = g[g["category"].astype(str) == category]
            if len(g):
                n_unc = 0
                if access is not None and f"covered_walk_{category}" in access.columns:
                    n_unc = int((~access[f"covered_walk_{category}"].fillna(False).astype(bool)).sum())
                g.plot(
                    ax=ax,
                    column="children_uncovered",
                    cmap="Purples",
                    alpha=0.55,
                    edgecolor=UNCOVERED_RAMP[3],
                    linewidth=0.6,
                    zorder=2,
                    legend=n_unc <= max_points,
                    legend_kwds={
                        "label": "缺口未覆盖儿童 Gap: children uncovered",
                        "shrink": 0.45,
                        "location": "bottom",
                        "pad": 0.02,
                        "aspect": 30,
                    },
                )
                handles.append(
                    Patch(
                        facecolor=UNCOVERED_RAMP[2],
                        edgecolor=UNCOVERED_RAMP[3],
                        label="覆盖缺口 Coverage gap",
                    )
                )
        if service_areas is not None and len(service_areas):
            sa = service_areas
            if "category" in sa.columns:
                sa = sa[sa["category"].astype(str) == category]
            sa = _metric(sa, crs, "service_areas")
            sa = sa.set_geometry(
                simplify_areas(np.asarray(sa.geometry.values, dtype=object), 5.0), crs=sa.crs
            )
            meth = (
                sa["method"].astype(str).to_numpy()
                if "method" in sa.columns
                else np.array(["walk"] * len(sa))
            )
            r = pd.to_numeric(sa["radius_m"], errors="coerce").max() if "radius_m" in sa.columns else np.nan
            rt = f"（{r:,.0f} 米 m）" if np.isfinite(r) else ""
            if (meth == "line").any():
                line_collection(
                    ax, sa[meth == "line"].boundary, color=colour, linewidth=1.0, linestyle="--", zorder=3
                )
                handles.append(
                    Line2D([], [], color=colour, ls="--", label=f"直线服务区{rt} Straight-line area")
                )
            if (meth == "walk").any() and unit_coverage is not None:  # outline only over the choropleth
                line_collection(ax, sa[meth == "walk"].boundary, color=colour, linewidth=1.2, zorder=3)
                handles.append(Line2D([], [], color=colour, lw=1.2, label=f"步行服务区{rt} Walking area"))
            elif (meth == "walk").any():
                sa[meth == "walk"].plot(
                    ax=ax, color=colour, alpha=0.25, edgecolor=colour, linewidth=0.8, zorder=3
                )
                handles.append(
                    Patch(
                        facecolor=colour, alpha=0.35, edgecolor=colour, label=f"步行服务区{rt} Walking area"
                    )
                )
        labels = _Labels()
        _draw_boundaries(ax, b, handles, labels=labels)
        # with the choropleth the figure answers "which communities fall short"; the homes stay in the HTML map
        if access is not None and len(access) and unit_coverage is None:
            acc = _metric(access, crs, "access")
            col = next(
                (c for c in (f"covered_walk_{category}", f"covered_line_{category}") if c in acc.columns),
                None,
            )
            if col is None:
                raise DataError(
                    f"access lacks covered_walk_{category} / covered_line_{category}",
                    feature="access",
                    fix=f"run coverage.origin_access for category {category!r}",
                )
            unc = acc[~acc[col].fillna(False).astype(bool).to_numpy()]
            if len(unc) > max_points:
                kids = (
                    pd.to_numeric(unc.get("children", pd.Series(1, index=unc.index)), errors="coerce")
                    .fillna(0)
                    .to_numpy()
                )
                size = hex_size if hex_size is not None else auto_hex_size(acc)
                hx = hex_totals(unc, kids, size).to_crs(crs)
                hx = hx[hx["total"].to_numpy() > 0]
                if len(hx):
                    hx.plot(
                        ax=ax,
                        column="total",
                        cmap="Purples",
                        alpha=0.75,
                        edgecolor="#3f007d",
                        linewidth=0.3,
                        zorder=7,
                        legend=True,
                        legend_kwds={
                            "label": f"每{size:g}米六边形未覆盖儿童 Children uncovered per {size:g} m "
                            "hexagon",
                            "orientation": "horizontal",
                            "location": "bottom",
                            "pad": 0.02,
                            "aspect": 30,
                            "shrink": 0.6,
                        },
                    )
                    handles.append(
                        Patch(
                            facecolor="#9e9ac8",
                            edgecolor="#3f007d",
                            label=f"未覆盖儿童（{size:g}米六边形） Children uncovered ({size:g} m hexagons)",
                        )
                    )
            elif len(unc):
                kids = (
                    pd.to_numeric(unc.get("children", pd.Series(1, index=unc.index)), errors="coerce")
                    .fillna(0)
                    .to_numpy()
                )
                ax.scatter(
                    unc.geometry.x,
                    unc.geometry.y,
                    s=6 + 6 * kids,
                    c=UNCOVERED_RAMP[3],
                    edgecolors="white",
                    linewidths=0.4,
                    zorder=8,
                )
                handles.append(
                    Line2D(
                        [],
                        [],
                        marker="o",
                        ls="",
                        color=UNCOVERED_RAMP[3],
                        markeredgecolor="white",
                        label="未覆盖住户（大小=儿童数） Uncovered homes (size = children)",
                    )
                )
        if len(fac):
            ax.scatter(
                fac.geometry.x, fac.geometry.y, s=90, c=colour, edgecolors="white", linewidths=1.5, zorder=10
            )
            labels.avoid(fac.geometry.x, fac.geometry.y, np.sqrt(90) / 2 + 1.5)
            handles.insert(
                0,
                Line2D(
                    [],
                    [],
                    marker="o",
                    ls="",
                    markersize=9,
                    color=colour,
                    markeredgecolor="white",
                    label=f"{clabel}（{len(fac)}）",
                ),
            )
        _fix_extent(ax, b, fac)
        _decorate(fig, ax, title or f"{zh}服务覆盖 {en} service coverage", synthetic, handles, crs)
        _note_left_out(fig, labels.place(ax))
    return fig


def _coverage_choropleth(
    ax, b: gpd.GeoDataFrame, uc: pd.DataFrame, category: str, target_pct: float | None
) -> list:
    """Communities shaded by walking coverage of ``category`` in the target's classes; returns legend handles."""
    if "category" in uc.columns:
        uc = uc[uc["category"].astype(str) == category]
    if target_pct is None and "target_pct" in uc.columns and uc["target_pct"].notna().any():
        target_pct = float(pd.to_numeric(uc["target_pct"], errors="coerce").dropna().iloc[0])
    lev = b["level"].astype(str).to_numpy() if "level" in b.columns else np.array(["community"] * len(b))
    units = b[lev == ("community" if (lev == "community").any() else "township")].copy()
    units["unit_id"] = units["unit_id"].astype(str)
    u = uc[["unit_id", "pct_walk"]].assign(unit_id=uc["unit_id"].astype(str)).drop_duplicates("unit_id")
    j = units.merge(u, on="unit_id", how="left")
    vals = pd.to_numeric(j["pct_walk"], errors="coerce").to_numpy(dtype=float)
    polygon_collection(
        ax,
        j.geometry,
        coverage_colours(vals, target_pct),
        edgecolor="#777777",
        linewidth=0.4,
        zorder=1.5,
        alpha=0.85,
    )
    classes = coverage_classes(target_pct)
    idx = coverage_class_index(vals, target_pct)
    for i, c in enumerate(classes):
        if c.hatch and (idx == i).any():
            polygon_collection(
                ax,
                j.geometry[idx == i],
                "none",
                edgecolor="#5a2a00",
                hatch=c.hatch,
                linewidth=0.0,
                zorder=1.6,
            )
    return [
        Patch(facecolor=c.colour, edgecolor="#444444", hatch=c.hatch, label=f"步行覆盖率 {c.label}")
        for c in reversed(classes)
    ] + [Patch(facecolor=NO_DATA_COLOUR, edgecolor="#444444", label="无数据（无儿童） No data (no children)")]


def plot_pilots(
    pilots_status: gpd.GeoDataFrame,
    catchments: gpd.GeoDataFrame | None = None,
    *,
    boundaries: gpd.GeoDataFrame | None = None,
    title: str | None = None,
    synthetic: bool = False,
    label: bool = True,
) -> Figure:
    """Static map of pilot units coloured by status (mirrors :func:`childspace.outputs.maps.pilot_map`).

    Batches are told apart by marker shape (2022 ● circle, 2023 ■ square; others ◆); key projects have a black
    ring. ``label=True`` writes the pilot ids next to the markers.

    Returns
    -------
    matplotlib.figure.Figure
    """
    crs = _crs_for(pilots_status, boundaries)
    ps = _metric(pilots_status, crs, "pilots_status")
    if "status" not in ps.columns:
        raise DataError(
            "pilots_status lacks the column 'status'",
            feature="pilots_status",
            fix="pass the output of childspace.analysis.pilots.pilot_status",
        )
    bad = sorted(set(ps["status"].astype(str)) - set(STATUS_LABELS))
    if bad:
        raise DataError(
            f"unknown pilot status values {bad}",
            feature="pilots_status.status",
            fix=f"status must be one of {list(STATUS_LABELS)}",
        )
    b = _metric(boundaries, crs, "boundaries", simplify_m=5.0)
    with _style():
        fig, ax = _new_figure()
        handles: list = []
        if catchments is not None and len(catchments):
            c = _metric(catchments, crs, "catchments")
            c.boundary.plot(ax=ax, color="#777777", linewidth=0.5, linestyle=":", zorder=2)
            handles.append(Line2D([], [], color="#777777", ls=":", label="试点服务范围 Pilot catchment"))
        labels = _Labels()
        _draw_boundaries(ax, b, handles, labels=labels)
        status = ps["status"].astype(str).to_numpy()
        colours = np.array([STATUS_LABELS[s][2] for s in status])
        key = (
            ps["key_project"].fillna(False).astype(bool).to_numpy()
            if "key_project" in ps.columns
            else np.zeros(len(ps), dtype=bool)
        )
        poly = ps.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
        if poly.any():
            ps[poly].plot(
                ax=ax,
                color=colours[poly],
                alpha=0.55,
                edgecolor=np.where(key[poly], "black", "#333333"),
                linewidth=np.where(key[poly], 2.0, 0.8),
                zorder=5,
            )
            for st_, (_mk, hatch) in STATUS_MARKERS.items():  # the status without colour: a hatch per status
                sel_ = poly & (status == st_)
                if sel_.any() and hatch:
                    ps[sel_].plot(
                        ax=ax, facecolor="none", edgecolor="#222222", hatch=hatch, linewidth=0.0, zorder=5.5
                    )
        pts = ps[~poly]
        batch = ps["batch"].to_numpy() if "batch" in ps.columns else np.zeros(len(ps))
        markers = {2022: "o", 2023: "s"}
        for bval in pd.unique(batch):
            sel = (~poly) & (batch == bval)
            if sel.any():
                sub = ps[sel]
                ax.scatter(
                    sub.geometry.x,
                    sub.geometry.y,
                    s=np.where(key[sel], 110, 70),
                    c=colours[sel],
                    marker=markers.get(int(bval) if np.isfinite(float(bval)) else 0, "D"),
                    edgecolors=np.where(key[sel], "black", "white").tolist(),
                    linewidths=np.where(key[sel], 2.0, 1.0).tolist(),
                    zorder=9,
                )
                for st_, over in (("partly", "."), ("gap", "x")):  # the status without colour
                    sel2 = sel & (status == st_)
                    if sel2.any():
                        ax.scatter(
                            ps[sel2].geometry.x,
                            ps[sel2].geometry.y,
                            s=28,
                            c="black" if st_ == "partly" else "white",
                            marker=over,
                            linewidths=1.6,
                            zorder=9.5,
                        )
            mk = markers.get(int(bval), "D")
            n = int((batch == bval).sum())
            handles.append(
                Line2D(
                    [],
                    [],
                    marker=mk,
                    ls="",
                    color="#888888",
                    markersize=8,
                    label=f"{bval}年试点（{n}个） Pilots {bval} ({n})",
                )
            )
        rp = ps.geometry.representative_point()
        mpt = np.where(key, np.sqrt(110) / 2 + 2.0, np.sqrt(70) / 2 + 1.0)
        labels.avoid(rp.x[~poly], rp.y[~poly], mpt[~poly])
        if label and "pilot_id" in ps.columns and len(ps) <= 150:
            ids = ps["pilot_id"].astype(str)
            # short form when the full id does not fit: the number after the last "-" (the batch is the marker)
            short = [t.rsplit("-", 1)[-1] if "-" in t else None for t in ids]
            for sel, prio in ((key, 2.5), (~key, 2.0)):
                if sel.any():
                    labels.add(
                        rp.x[sel],
                        rp.y[sel],
                        ids[sel].tolist(),
                        priority=prio,
                        kind="point",
                        marker_pt=float(mpt.max()) if (~poly[sel]).any() else 2.0,
                        short=[sh for sh, k in zip(short, sel) if k],
                        fontsize=6.5,
                        zorder=12,
                    )
        for k_, (zh, en, col, sym) in STATUS_LABELS.items():
            handles.append(
                Patch(
                    facecolor=col,
                    edgecolor="#333333",
                    hatch=STATUS_MARKERS[k_][1],
                    label=f"{sym} {zh} {en}（{int((status == k_).sum())}）",
                )
            )
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                color="white",
                markeredgecolor="black",
                markeredgewidth=2,
                markersize=9,
                label="黑圈 = 重点项目 Black ring = key project",
            )
        )
        del pts
        _fix_extent(ax, ps, b, _metric(catchments, crs, "catchments") if catchments is not None else None)
        _decorate(
            fig, ax, title or "儿童友好试点单元评估 Child-friendly pilot units", synthetic, handles, crs
        )
        _note_left_out(fig, labels.place(ax))
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Save a figure (PNG, or any format matplotlib knows from the suffix) atomically: temp file + rename.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
        Target file; its folder must exist.
    dpi : int, default 150

    Returns
    -------
    Path
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as tmp, _style():
        # a figure of this package (its canvas an OffscreenCanvas) is encoded by _figure_base.write_png (the same
        # pixels, unfiltered rows); others by Pillow at zlib level 3 instead of 6 (~60 % of the time, ~6 % larger)
        extra: dict[str, Any] = (
            {"pil_kwargs": {"compress_level": 3}}
            if fmt == "png" and not isinstance(fig.canvas, OffscreenCanvas)
            else {}
        )
        fig.savefig(
            tmp, dpi=dpi, format=fmt, facecolor="white", bbox_inches="tight", pad_inches=0.25, **extra
        )
    return path
