"""The print atlas (图集, PDF): one file a planner hands in, no browser needed.

Pages (A3 or A4 landscape, fonts embedded as TrueType): an overview of coverage by community against the target,
the action plan's targets vs current values (city, then townships), the venues that must have a mother-and-baby
room and have none, one page per category (the community classes, facilities, walking service areas), and one
page per pilot unit (a map of the unit and its catchment, the checklist ✓/× with distances, the status rule, the
reasons). Every page
carries the map furniture of Chinese practice: title, legend, north arrow, scale bar, 制图单位 (mapping unit),
日期 (date), 数据来源 (sources, with "© OpenStreetMap contributors"), 坐标系 (CRS) and a 示意图 disclaimer
(configurable, :class:`AtlasInfo`).
"""

from __future__ import annotations

import datetime as _dt
import itertools
import warnings
from collections.abc import Generator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from pyproj import CRS

from childspace._atomic import atomic_path
from childspace._errors import ChildspaceWarning, DataError
from childspace.outputs._figure_base import (
    boundary_levels,
    draw_outlines,
    metric_layers_kept,
    new_canvas,
    polygon_collection,
    set_extent,
)
from childspace.outputs.atlas_pdf import TextLayouts, save_page
from childspace.outputs.figures import (
    _crs_for,
    _decorate,
    _metric,
    _new_figure,
    _style,
    bundled_font_first,
    plot_coverage,
)
from childspace.outputs.figures_overview import plot_overview
from childspace.outputs.figures_venues import plot_venues
from childspace.outputs.plan_tables import PLAN_STATUS, city_rows, township_matrix
from childspace.outputs.style import (
    CATEGORY_COLOURS,
    KIND_LABELS,
    STATUS_LABELS,
    STATUS_MARKERS,
    STATUS_RULE,
    element_label,
    status_text,
)
from childspace.outputs.workbook import OSM_CREDIT

__all__ = ["PAPER_SIZES", "AtlasInfo", "write_atlas"]

#: paper sizes, landscape, in inches (ISO 216: A3 420 x 297 mm, A4 297 x 210 mm)
PAPER_SIZES: dict[str, tuple[float, float]] = {"A3": (420 / 25.4, 297 / 25.4), "A4": (297 / 25.4, 210 / 25.4)}


@dataclass
class AtlasInfo:
    """The furniture every page carries.

    Attributes
    ----------
    title : str
        Atlas title, e.g. "乐清市儿童友好空间分析图集 Yueqing child-friendly space atlas".
    agency : str
        制图单位 (who made the maps).
    sources : sequence of str
        Data sources (the planner's files); "© OpenStreetMap contributors" is always added.
    date : str, optional
        Date printed on every page (default today).
    disclaimer : str
        The 示意图 note (boundaries are schematic and not for boundary use; no 审图号).
    synthetic : bool
        Print "示例数据（虚构）" on every page.
    """

    title: str = "儿童友好空间分析图集 Child-friendly space atlas"
    agency: str = "—"
    sources: Sequence[str] = field(default_factory=list)
    date: str | None = None
    disclaimer: str = "示意图，边界不作为权属界线依据（未经审图） Schematic map; boundaries not for legal use (not reviewed)"
    synthetic: bool = False


def _furniture(fig: Figure, info: AtlasInfo, page: int) -> None:
    """Footer: 制图单位, 日期, 数据来源, 示意图 disclaimer, page number (the CRS note is written by the figure)."""
    date = info.date or _dt.date.today().isoformat()
    srcs = "；".join([*info.sources, OSM_CREDIT])
    fig.text(
        0.98,
        0.062,
        f"制图单位 Made by: {info.agency}    日期 Date: {date}    第 {page} 页 Page {page}",
        ha="right",
        va="bottom",
        fontsize=8,
        color="#333333",
    )
    fig.text(0.98, 0.045, f"数据来源 Sources: {srcs}", ha="right", va="bottom", fontsize=7, color="#333333")
    fig.text(0.98, 0.028, info.disclaimer, ha="right", va="bottom", fontsize=7, color="#7a0000")


def _to_paper(fig: Figure, paper: str) -> Figure:
    w, h = PAPER_SIZES[paper]
    fig.set_size_inches(w, h)
    return fig


class _PilotLayers:
    """The layers of the pilot pages (already in the pages' metric CRS), read into arrays once for all pages: each
    page takes its unit's catchment and the boundaries and facilities around it from these.

    ``catchments`` by pilot id (as text); the boundaries' levels and outlines (``.boundary``); the facilities'
    coordinates and categories; a spatial index of each, answering what ``GeoDataFrame.cx`` answers (the rows
    whose geometry intersects a box, in their order).
    """

    def __init__(
        self,
        catchments: gpd.GeoDataFrame | None,
        b: gpd.GeoDataFrame | None,
        fac: gpd.GeoDataFrame | None,
    ) -> None:
        self.catchments: dict[str, np.ndarray] | None = None
        if catchments is not None and len(catchments) and "pilot_id" in catchments.columns:
            ids = catchments["pilot_id"].astype(str).to_numpy()
            geoms = np.asarray(catchments.geometry.values, dtype=object)
            self.catchments = {k: geoms[ids == k] for k in dict.fromkeys(ids.tolist())}
        self.b_level: np.ndarray | None = None
        if b is not None:
            b_geoms = np.asarray(b.geometry.values, dtype=object)
            self.b_tree = shapely.STRtree(b_geoms)
            self.b_level = boundary_levels(b)
            self.b_outline = shapely.boundary(b_geoms)
        self.fac_kind: np.ndarray | None = None
        if fac is not None and len(fac) and "category" in fac.columns:
            f_geoms = np.asarray(fac.geometry.values, dtype=object)
            self.fac_tree = shapely.STRtree(f_geoms)
            self.fac_kind = fac["category"].astype(str).to_numpy()
            self.fac_point = shapely.get_type_id(f_geoms) == 0
            self.fac_x, self.fac_y = shapely.get_x(f_geoms), shapely.get_y(f_geoms)
        #: the pages' legends, by their figure and entries (:func:`_pilot_page`)
        self.legends: dict[tuple, Legend] = {}


def _in_box(tree: shapely.STRtree, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """The positions of the geometries of ``tree`` that intersect the box, in order (``GeoDataFrame.cx``)."""
    return np.sort(tree.query(shapely.box(x0, y0, x1, y1), predicate="intersects"))


def _total_bounds(geoms: np.ndarray) -> np.ndarray:
    """``GeoSeries.total_bounds`` of ``geoms``."""
    b = shapely.bounds(geoms)
    return np.array((np.nanmin(b[:, 0]), np.nanmin(b[:, 1]), np.nanmax(b[:, 2]), np.nanmax(b[:, 3])))


def _pilot_page(
    ps: gpd.GeoDataFrame,
    i: int,
    layers: _PilotLayers,
    synthetic: bool,
    crs: CRS,
    page: tuple[Figure, Axes] | None = None,
) -> Figure:
    """One pilot unit: its map (unit, catchment, facilities nearby) and its checklist.

    ``ps`` (the pilots) and ``layers`` (catchments, boundaries, facilities) are already in the local metric
    ``crs`` (brought there once for all pages); only the boundaries in the page's extent are drawn.
    ``page``: the figure and map axes of the previous pilot page, saved and emptied (:func:`_empty_page`), drawn
    on again (a new figure otherwise).
    """
    row = ps.iloc[i]
    one = np.asarray(ps.geometry.values[i : i + 1], dtype=object)
    cat = layers.catchments.get(str(row["pilot_id"])) if layers.catchments is not None else None
    area = cat if cat is not None else one
    area_bounds = _total_bounds(area)
    st = str(row["status"])
    zh, en, colour, sym = STATUS_LABELS[st]
    fig, ax = page if page is not None else _new_figure()
    ax.set_position((0.02, 0.08, 0.52, 0.8))
    set_extent(ax, area_bounds, pad=0.25)  # the extent first: the boundaries outside it are left out of the page
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    handles: list = []
    if layers.b_level is not None:
        near_b = _in_box(layers.b_tree, x0, y0, x1, y1)
        draw_outlines(ax, layers.b_level[near_b], layers.b_outline[near_b], handles)
    if cat is not None:
        polygon_collection(ax, cat, "#deebf7", edgecolor="#555555", linestyle="--", linewidth=1.0, zorder=2)
        handles.append(Patch(facecolor="#deebf7", edgecolor="#555555", ls="--", label="服务范围 Catchment"))
    if np.isin(shapely.get_type_id(one), (3, 6)).any():  # Polygon, MultiPolygon
        polygon_collection(
            ax,
            one,
            colour,
            alpha=0.5,
            edgecolor="black",
            hatch=STATUS_MARKERS[st][1],
            linewidth=1.5,
            zorder=4,
        )
    else:
        ax.scatter(
            shapely.get_x(one),
            shapely.get_y(one),
            s=160,
            c=colour,
            marker=STATUS_MARKERS[st][0],
            edgecolors="black",
            linewidths=1.5,
            zorder=6,
        )
    handles.append(
        Patch(facecolor=colour, edgecolor="black", hatch=STATUS_MARKERS[st][1], label=f"{sym} {zh} {en}")
    )
    if layers.fac_kind is not None:
        minx, miny, maxx, maxy = area_bounds
        pad = max(maxx - minx, maxy - miny) * 0.3 + 200
        near = _in_box(layers.fac_tree, minx - pad, miny - pad, maxx + pad, maxy + pad)
        if len(near):
            if not layers.fac_point[near].all():
                raise ValueError("x attribute access only provided for Point geometries")  # (as GeoSeries.x)
            kinds = layers.fac_kind[near]
            keys = list(dict.fromkeys(kinds.tolist()))  # (in order of appearance, as pd.unique)
            code_of = {k: n for n, k in enumerate(keys)}
            # one marker layer, the categories in turn (as drawn one after another before)
            codes = np.array([code_of[k] for k in kinds.tolist()])
            order = np.argsort(codes, kind="stable")
            cols = np.array([CATEGORY_COLOURS.get(k, "#555555") for k in keys], dtype=object)
            ax.scatter(
                layers.fac_x[near][order],
                layers.fac_y[near][order],
                s=45,
                c=list(cols[codes[order]]),
                edgecolors="white",
                linewidths=1.0,
                zorder=7,
            )
            for key, col in zip(keys, cols):
                handles.append(
                    Line2D(
                        [],
                        [],
                        marker="o",
                        ls="",
                        color=col,
                        markeredgecolor="white",
                        label=element_label(key),
                    )
                )
    set_extent(ax, area_bounds, pad=0.25)  # (again: the collections above may have widened the limits)
    title = f"{row['pilot_id']} {row['name']}"
    _decorate(fig, ax, title, synthetic, [], crs)
    # a legend of the same entries as an earlier page's (on this figure) is that legend again, built once
    key = (id(fig), *(h.get_label() for h in handles))
    leg = layers.legends.get(key)
    if leg is None or leg.get_figure(root=False) not in (None, fig):
        layers.legends[key] = fig.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(0.58, 0.42),
            fontsize=9,
            frameon=True,
            title="图例 Legend",
        )
    else:  # (as Figure.legend adds a new one)
        leg.set_figure(fig)
        fig.legends.append(leg)
        setattr(leg, "_remove_method", fig.legends.remove)  # noqa: B010 - (private, not in the stubs)
        fig.stale = True
    # the checklist
    lines = [f"状态 Status: {status_text(st)}", ""]
    meta = []
    for col_, lab in (("batch", "批次 Batch"), ("kind", "类型 Kind"), ("township", "所属镇街 Township")):
        if col_ in ps.columns and pd.notna(row.get(col_)):
            v = row[col_]
            meta.append(f"{lab}: {' '.join(KIND_LABELS[v]) if col_ == 'kind' and v in KIND_LABELS else v}")
    lines += meta + ["", "检查项 Checklist:"]
    for c in [c[4:] for c in ps.columns if c.startswith("has_")]:
        has = bool(row[f"has_{c}"]) if pd.notna(row[f"has_{c}"]) else False
        d = row.get(f"dist_{c}")
        dist = f"  {float(d):,.0f} 米 m" if d is not None and pd.notna(d) and np.isfinite(float(d)) else ""
        lines.append(f"  {'✓' if has else '×'} {element_label(c)}{dist}")
    lines += ["", "判定规则 Rule:"] + [f"  {t}" for t in STATUS_RULE]
    if "reasons" in ps.columns and pd.notna(row.get("reasons")) and str(row["reasons"]).strip():
        lines += ["", "原因 Reasons:"] + [
            f"  {r.strip()}" for r in str(row["reasons"]).split(";") if r.strip()
        ]
    fig.text(
        0.58,
        0.86,
        "\n".join(lines),
        ha="left",
        va="top",
        fontsize=10,
        linespacing=1.5,
        bbox=dict(boxstyle="round,pad=0.6", facecolor="#fafbfc", edgecolor="#cccccc"),
    )
    return fig


def _empty_page(fig: Figure, ax: Axes) -> None:
    """Remove what a pilot page drew (layers, scale bar, arrow, legend, texts) from its figure and map axes, which
    the next pilot page draws on: an Axes costs more to build than the artists of a page. The title is kept (the
    next page's ``suptitle`` sets its text), as are the axes' settings, which every page sets again."""
    for art in [*ax.collections, *ax.patches, *ax.lines, *ax.texts, *ax.images]:
        art.remove()
    for leg in list(fig.legends):
        leg.remove()
    for txt in list(fig.texts):
        if txt is not getattr(fig, "_suptitle", None):
            txt.remove()


#: characters a line does not start with (closing brackets and punctuation stay on the line before)
_NO_LINE_START = frozenset("）)]】」』，,。.、；;：:！!？?%")


def _wrap(text: str, units: float) -> list[str]:
    """Lines of at most ``units`` (a CJK character counts 2, others 1), broken at spaces where possible."""
    lines: list[str] = []
    for para in str(text).split("\n"):
        line, width = "", 0.0
        for ch in para:
            w = 2.0 if ord(ch) > 0x2E80 else 1.0
            if width + w > units and line and ch not in _NO_LINE_START:
                cut = line.rfind(" ")
                if 0 < cut > len(line) - 20 and ord(ch) <= 0x2E80:  # break Latin text at the last space
                    lines.append(line[:cut])
                    line = line[cut + 1 :]
                    width = sum(2.0 if ord(c) > 0x2E80 else 1.0 for c in line)
                else:
                    lines.append(line)
                    line, width = "", 0.0
            line += ch
            width += w
        lines.append(line)
    return lines


#: the plan table's columns: (heading, key, left x, width), as fractions of the page width
_PLAN_COLUMNS = (
    ("指标 Indicator", "indicator", 0.03, 0.19),
    ("规划原文 Plan wording", "wording", 0.225, 0.15),
    ("目标 Target", "target", 0.38, 0.12),
    ("现状 Current", "value", 0.505, 0.055),
    ("差距 Gap", "gap", 0.565, 0.045),
    ("状态 Status", "status_text", 0.615, 0.075),
    ("数据依据 / 缺少的数据 Data used / missing", "note", 0.695, 0.285),
)


def _table_page(title: str, synthetic: bool, paper: str) -> Figure:
    fig = Figure(figsize=PAPER_SIZES[paper], dpi=100)
    new_canvas(fig)
    fig.suptitle(title, fontsize=16, fontweight="bold", x=0.03, ha="left", y=0.965)
    if synthetic:
        fig.text(
            0.03,
            0.925,
            "示例数据（虚构） Synthetic sample data",
            fontsize=11,
            fontweight="bold",
            color="#7a5200",
            bbox=dict(boxstyle="round,pad=0.3", facecolor="#fff3cd", edgecolor="#e0b84d"),
        )
    return fig


def _indicator_pages(indicators: pd.DataFrame, info: AtlasInfo, paper: str) -> list[Figure]:
    """The plan's targets vs current values for the city (one line per target), then townships x indicators."""
    rows = city_rows(indicators)
    fs = 9.0 if paper == "A3" else 7.0
    scale = PAPER_SIZES[paper][0]  # page width in inches
    unit = fs / 72 / scale * 0.55  # width of one Latin character as a fraction of the page
    line_h = fs * 1.45 / 72 / PAPER_SIZES[paper][1]
    fig = _table_page("行动计划指标：目标与现状 Plan targets: target vs current", info.synthetic, paper)
    y = 0.88
    for head, _k, x, _w in _PLAN_COLUMNS:
        fig.text(x, y, head, fontsize=fs + 1, fontweight="bold", va="top", color="#1f4e79")
    y -= line_h * 1.6
    fig.add_artist(Line2D([0.03, 0.98], [y + line_h * 0.4] * 2, color="#1f4e79", lw=1.2))
    for r in rows.to_dict("records"):
        cells = {**r, "note": r["basis"]}
        wrapped = {k: _wrap(str(cells[k]), w / unit) for _h, k, _x, w in _PLAN_COLUMNS}
        if not r["basis"]:
            wrapped["note"] = []
        missing = _wrap(r["missing"], _PLAN_COLUMNS[-1][3] / unit) if r["missing"] else []
        n = max(max(len(v) for v in wrapped.values()), len(wrapped["note"]) + len(missing))
        zh, en, colour, sym = PLAN_STATUS[r["status"]]
        for _h, k, x, _w in _PLAN_COLUMNS:
            kw: dict = {"fontsize": fs, "va": "top", "linespacing": 1.35}
            if k == "value":
                kw.update(fontsize=fs + 2, fontweight="bold", color="#1f4e79")
            if k == "status_text":
                kw.update(
                    color="white",
                    fontweight="bold",
                    bbox=dict(boxstyle="round,pad=0.25", fc=colour, ec=colour),
                )
            fig.text(x, y, "\n".join(wrapped[k]), **kw)
            if k == "note" and missing:  # what is missing, in dark red below the data used
                y_m = y - line_h * len(wrapped[k])
                fig.text(x, y_m, "\n".join(missing), **{**kw, "color": "#7a0000", "fontweight": "bold"})
        y -= line_h * n + line_h * 0.8
        fig.add_artist(Line2D([0.03, 0.98], [y + line_h * 0.4] * 2, color="#cccccc", lw=0.6))
    fig.text(
        0.03,
        max(y - line_h, 0.1),
        "✓ 达标 met · × 未达标 not met · ? 缺数据 missing data（写明需补充的数据 says what to add）。"
        "来源见工作簿“规划指标”表 Sources: workbook sheet “规划指标 Plan indicators”.",
        fontsize=fs,
        va="top",
        color="#333333",
    )
    pages = [fig]
    val, st, labels = township_matrix(indicators)
    per_page = 28 if paper == "A3" else 20
    for start in range(0, len(val), per_page):
        part = val.iloc[start : start + per_page]
        fig = _table_page("行动计划指标：分乡镇（街道） Plan targets by township", info.synthetic, paper)
        ncol = len(labels)
        x0, width = 0.18, 0.80 / max(ncol, 1)
        y = 0.88
        fig.text(0.03, y, "乡镇街道 Township", fontsize=fs + 1, fontweight="bold", va="top", color="#1f4e79")
        for j, lab in enumerate(labels):
            fig.text(
                x0 + j * width,
                y,
                "\n".join(_wrap(lab, width / unit - 2)),
                fontsize=fs,
                fontweight="bold",
                va="top",
                color="#1f4e79",
                linespacing=1.3,
            )
        heads = max(len(_wrap(lab, width / unit - 2)) for lab in labels) if labels else 1
        y -= line_h * (heads + 0.8)
        fig.add_artist(Line2D([0.03, 0.98], [y + line_h * 0.4] * 2, color="#1f4e79", lw=1.2))
        for name in part.index:
            fig.text(0.03, y, str(name), fontsize=fs + 1, va="top")
            for j, t in enumerate(part.columns):
                k = str(st.at[name, t]) if pd.notna(st.at[name, t]) else "missing"
                k = k if k in PLAN_STATUS else "missing"
                zh, en, colour, sym = PLAN_STATUS[k]
                v = part.at[name, t]
                txt = f"{sym} {float(v):,.2f}".rstrip("0").rstrip(".") if pd.notna(v) else f"{sym} {zh}"
                fig.text(x0 + j * width, y, txt, fontsize=fs + 1, va="top", color=colour, fontweight="bold")
            y -= line_h * 1.7
            fig.add_artist(Line2D([0.03, 0.98], [y + line_h * 0.5] * 2, color="#dddddd", lw=0.5))
        fig.text(
            0.03,
            max(y - line_h, 0.1),
            "✓ 达标 met · × 未达标 not met · ? 缺数据 missing data；“有/无”类指标的乡镇目标为至少 1 个 "
            "(count targets: at least one per township).",
            fontsize=fs,
            va="top",
            color="#333333",
        )
        pages.append(fig)
    return pages


def write_atlas(
    path: str | Path,
    *,
    boundaries: gpd.GeoDataFrame,
    unit_coverage: pd.DataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    service_areas: gpd.GeoDataFrame | None = None,
    categories: Sequence[str] | None = None,
    pilots_status: gpd.GeoDataFrame | None = None,
    catchments: gpd.GeoDataFrame | None = None,
    townships: gpd.GeoDataFrame | None = None,
    indicators: pd.DataFrame | None = None,
    venues: gpd.GeoDataFrame | None = None,
    info: AtlasInfo | None = None,
    paper: str = "A3",
    dpi: int = 300,
) -> Path:
    """Write the print atlas as one PDF.

    Parameters
    ----------
    path : str or Path
        The ``.pdf`` file (atomic: temporary file + rename).
    boundaries : GeoDataFrame
        Canonical boundaries (communities shaded).
    unit_coverage : DataFrame, optional
        ``coverage.unit_coverage``: the overview page and the community classes of each category page.
    facilities, service_areas : GeoDataFrame, optional
        Facilities and (dissolved) service areas of the category pages and the pilot pages.
    categories : sequence of str, optional
        Category pages, in order (default those of ``unit_coverage``).
    pilots_status, catchments : GeoDataFrame, optional
        ``pilots.pilot_status`` and ``pilots.pilot_catchments``: one page per pilot unit.
    townships : GeoDataFrame, optional
        Township outlines on the overview.
    indicators : DataFrame, optional
        :func:`childspace.analysis.indicators.plan_indicators`: pages of the plan's targets vs current values
        (the city, then townships x indicators), after the overview.
    venues : GeoDataFrame, optional
        :func:`childspace.analysis.venues.mother_baby_room_check`: a page mapping the venues that must have a
        mother-and-baby room and have none (rules' thresholds in the legend; rooms from ``facilities``).
    info : AtlasInfo, optional
        Title, 制图单位, date, sources, disclaimer, synthetic note.
    paper : {"A3", "A4"}, default "A3"
        Landscape page size.
    dpi : int, default 300
        Resolution of raster parts (maps are vector).

    Returns
    -------
    Path
        The PDF written; fonts are embedded (TrueType, ``pdf.fonttype`` 42).
    """
    if paper not in PAPER_SIZES:
        raise DataError(f"unknown paper size {paper!r}", fix=f"use one of {sorted(PAPER_SIZES)}")
    info = info or AtlasInfo()
    uc = pd.DataFrame(unit_coverage) if unit_coverage is not None else None
    cats = (
        list(categories)
        if categories is not None
        else (
            [str(c) for c in pd.unique(uc["category"].dropna())]
            if uc is not None and "category" in uc.columns
            else []
        )
    )
    # the PDF embeds the bundled font's glyphs (fast to subset); each layer brought to a page's CRS once
    with bundled_font_first(), metric_layers_kept():
        figs = _pages(
            boundaries,
            uc,
            facilities,
            service_areas,
            cats,
            pilots_status,
            catchments,
            townships,
            indicators,
            venues,
            info,
            paper,
        )
        _save_pages(path, figs, info, paper, dpi)
    return Path(path)


def _pages(
    boundaries: gpd.GeoDataFrame,
    uc: pd.DataFrame | None,
    facilities: gpd.GeoDataFrame | None,
    service_areas: gpd.GeoDataFrame | None,
    cats: list[str],
    pilots_status: gpd.GeoDataFrame | None,
    catchments: gpd.GeoDataFrame | None,
    townships: gpd.GeoDataFrame | None,
    indicators: pd.DataFrame | None,
    venues: gpd.GeoDataFrame | None,
    info: AtlasInfo,
    paper: str,
) -> Generator[Figure, None, None]:
    """The atlas's pages, in order (see :func:`write_atlas`), each built when the one before is saved (the pilot
    pages are one figure drawn again)."""
    if uc is not None and len(uc) and cats:
        yield plot_overview(
            boundaries,
            uc,
            townships=townships,
            small_multiples=True,
            categories=cats,
            title=info.title,
            synthetic=info.synthetic,
        )
    if indicators is not None and len(indicators):
        with _style():
            tables = _indicator_pages(indicators, info, paper)
        yield from tables
    if venues is not None and len(venues):
        rooms = (
            facilities[facilities["category"].astype(str) == "mother_baby_room"]
            if facilities is not None and "category" in facilities.columns
            else None
        )
        yield plot_venues(venues, rooms, boundaries=boundaries, synthetic=info.synthetic)
    for cat in cats:
        if facilities is None or "category" not in facilities.columns:
            break
        f = facilities[facilities["category"].astype(str) == cat]
        if not len(f):
            continue
        sa = (
            service_areas[service_areas["category"].astype(str) == cat]
            if service_areas is not None and "category" in service_areas.columns
            else None
        )
        yield plot_coverage(boundaries, f, sa, None, None, cat, unit_coverage=uc, synthetic=info.synthetic)
    if pilots_status is not None and len(pilots_status):
        crs = _crs_for(pilots_status)
        ps = _metric(pilots_status, crs, "pilots_status")
        if len(ps) < len(pilots_status):
            warnings.warn(
                f"{len(pilots_status) - len(ps)} of {len(pilots_status)} pilot units have no geometry and get no "
                "atlas page; fix their location in the pilots file",
                ChildspaceWarning,
                stacklevel=3,
            )
        layers = _PilotLayers(
            _metric(catchments, crs, "catchments"),
            _metric(boundaries, crs, "boundaries"),
            _metric(facilities, crs, "facilities"),
        )
        order = np.lexsort(
            (
                ps["pilot_id"].astype(str).to_numpy(),
                ps["batch"].to_numpy() if "batch" in ps.columns else np.zeros(len(ps)),
            )
        )
        page: tuple[Figure, Axes] | None = None
        for i in order:
            if page is not None:
                _empty_page(*page)
            with _style():  # (not held across the yield: the caller's style contexts nest around it)
                fig = _pilot_page(ps, int(i), layers, info.synthetic, crs, page)
            page = (fig, fig.axes[0])
            yield fig


def _save_pages(
    path: str | Path, figs: Generator[Figure, None, None], info: AtlasInfo, paper: str, dpi: int
) -> None:
    first = next(figs, None)
    if first is None:
        raise DataError(
            "nothing to put in the atlas", fix="pass unit_coverage and facilities, or pilots_status"
        )
    # zlib level 4: a third of level 6's time for the county's 12 MB of page content, 7 % larger
    with (
        atomic_path(path) as tmp,
        _style(),
        # ps.fonttype 42: matplotlib's PDF file numbers its glyphs in subsets of the size of the *PostScript* font
        # type (256 for its default 3), so each TrueType font of the atlas was embedded twice (its Latin glyphs and
        # its CJK ones apart), each subset of the font file costing a parse of it; one subset per font at 42
        rc_context({"pdf.fonttype": 42, "ps.fonttype": 42, "pdf.compression": 4}),
        closing(figs),
    ):
        with PdfPages(
            tmp, metadata={"Title": info.title, "Creator": "childspace", "Subject": info.disclaimer}
        ) as pdf:
            layouts = TextLayouts()  # each line of text laid out once for the whole atlas
            for n, fig in enumerate(itertools.chain([first], figs), start=1):
                _to_paper(fig, paper)
                _furniture(fig, info, n)
                save_page(pdf, fig, layouts, dpi)
