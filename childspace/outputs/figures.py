"""Static maps for reports (静态地图): matplotlib figures in the local metric CRS.

Each function mirrors a map of :mod:`childspace.maps` and returns a :class:`matplotlib.figure.Figure` drawn in the
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
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib import font_manager, patheffects, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from pyproj import CRS

from childspace._atomic import atomic_path
from childspace._errors import ChildspaceError, DataError
from childspace.inputs.projection import local_crs_for
from childspace.outputs.report import (
    _VALUE_LABELS,
    CATEGORY_LABELS,
    COVERAGE_BINS,
    NO_DATA_COLOUR,
    STATUS_LABELS,
    STRESS_LABELS,
    _coverage_colours,
    _only_category,
    category_label,
)

__all__ = [
    "cjk_font_stack",
    "find_cjk_font",
    "nice_scale_length",
    "plot_coverage",
    "plot_overview",
    "plot_pilots",
    "plot_routes",
    "save_figure",
]

#: CJK families tried in order (Simplified Chinese faces first)
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC", "Source Han Sans SC", "Source Han Sans CN", "Noto Sans SC", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "SimHei", "Heiti SC", "STHeiti", "Hiragino Sans GB",
    "Noto Sans CJK JP", "Noto Sans CJK TC", "Source Han Sans", "Sarasa Gothic SC", "Droid Sans Fallback",
    "Arial Unicode MS",
)
_FILE_HINTS = ("notosanscjk", "sourcehansans", "notosanssc", "wqy", "msyh", "simhei", "pingfang", "droidsansfallback",
               "sarasa", "hiragino", "stheiti", "arialuni")

#: the font shipped with the package: a subset of Noto Sans CJK SC (SIL OFL 1.1; see childspace/fonts/README.md)
BUNDLED_FAMILY = "Childspace Sans CJK SC"
BUNDLED_FONT_DIR = Path(__file__).resolve().parents[1] / "fonts"

_SYNTHETIC_NOTE = "示例数据（虚构） Synthetic sample data"


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
                "then delete matplotlib's font cache (~/.cache/matplotlib) and retry")
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


@contextmanager
def _style() -> Iterator[None]:
    # font.family is the list itself: matplotlib falls back from one family to the next only within that list
    # (the generic "sans-serif" resolves to a single font)
    stack = list(cjk_font_stack())
    with rc_context({"font.family": stack, "font.sans-serif": stack,
                     "axes.unicode_minus": False, "font.size": 10, "hatch.linewidth": 0.6,
                     "hatch.color": "#7f0000"}):
        yield


def nice_scale_length(width_m: float, fraction: float = 0.2) -> float:
    """A round scale-bar length (1, 2 or 5 × 10^k metres) not longer than ``fraction`` of ``width_m``.

    Parameters
    ----------
    width_m : float
        Width of the map extent in metres.
    fraction : float, default 0.2
        Largest share of the width the bar may take.

    Returns
    -------
    float
        Length in metres, e.g. ``nice_scale_length(4300)`` → 500.0.
    """
    target = max(float(width_m) * fraction, 1e-9)
    k = np.floor(np.log10(target))
    best = 10.0 ** k
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * 10.0 ** k <= target:
            best = m * 10.0 ** k
    return float(best)


def _scale_label(length_m: float) -> str:
    if length_m >= 1000:
        km = length_m / 1000
        return f"{km:g} 公里 km"
    return f"{length_m:g} 米 m"


def _decorate(fig: Figure, ax, title: str, synthetic: bool, handles: Sequence, crs: CRS) -> None:
    ax.set_aspect("equal")
    ax.set_axis_off()
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width, height = x1 - x0, y1 - y0
    # fit the figure height to the extent's shape so no large empty band is left (6-12 inches)
    fw = fig.get_size_inches()[0]
    pos = ax.get_position()
    fig.set_size_inches(fw, float(np.clip(fw * pos.width * height / width / pos.height, 6.0, 12.0)))
    # scale bar: two alternating halves, lower left
    length = nice_scale_length(width)
    bx, by = x0 + 0.04 * width, y0 + 0.04 * height
    h = 0.012 * height
    ax.add_patch(Rectangle((bx, by), length / 2, h, facecolor="black", edgecolor="black", zorder=20))
    ax.add_patch(Rectangle((bx + length / 2, by), length / 2, h, facecolor="white", edgecolor="black", zorder=20))
    halo = [patheffects.withStroke(linewidth=3, foreground="white")]
    ax.text(bx, by + 1.8 * h, "0", ha="center", va="bottom", fontsize=9, zorder=21, path_effects=halo)
    ax.text(bx + length, by + 1.8 * h, _scale_label(length), ha="center", va="bottom", fontsize=9, zorder=21,
            path_effects=halo)
    # north arrow, upper right (grid north of the projected CRS)
    ax.annotate("", xy=(0.95, 0.95), xytext=(0.95, 0.86), xycoords="axes fraction",
                arrowprops=dict(facecolor="black", edgecolor="black", width=5, headwidth=14, headlength=12),
                zorder=21)
    ax.text(0.95, 0.965, "N 北", transform=ax.transAxes, ha="center", va="bottom", fontsize=12,
            fontweight="bold", zorder=21, path_effects=halo)
    fig.suptitle(title, fontsize=15, fontweight="bold", x=0.02, ha="left", y=0.975)
    note = f"坐标系 CRS: {crs.name} (EPSG:{crs.to_epsg()})"
    if synthetic:
        fig.text(0.02, 0.925, _SYNTHETIC_NOTE, fontsize=11, fontweight="bold", color="#7a5200",
                 bbox=dict(boxstyle="round,pad=0.3", facecolor="#fff3cd", edgecolor="#e0b84d"))
    fig.text(0.02, 0.015, note, fontsize=8, color="#555555")
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=True, fontsize=9,
                  title="图例 Legend", title_fontsize=10, borderaxespad=0.0)



# ----------------------------------------------------------------------------------------------------
# label placement
# ----------------------------------------------------------------------------------------------------

#: candidate positions of a point label, in order of preference: (dx, dy) signs of the offset from the marker
_POINT_SLOTS = np.array([(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)], dtype=float)
#: candidate shifts of an area label, in units of its own half width / half height
_AREA_SLOTS = np.array([(0, 0), (0, 1.1), (0, -1.1), (0.6, 1.1), (-0.6, 1.1), (0.6, -1.1), (-0.6, -1.1),
                        (0, 2.2), (0, -2.2), (1.1, 0), (-1.1, 0), (0, 3.3), (0, -3.3)], dtype=float)


class _Labels:
    """Labels collected while a map is drawn and placed once its size and extent are final.

    Greedy, deterministic placement: labels are taken by priority (then in the order added); each tries a few
    positions (point labels: around the marker, then farther out with a leader line; area labels: the centre,
    then small shifts) and takes the first whose box overlaps no label placed before, no marker and stays inside
    the axes. A label that fits nowhere is tried in its short form (if given), else left out and counted. The
    boxes are compared in display units with array operations.
    """

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.obstacles: list[np.ndarray] = []
        self.left_out: list[str] = []

    def add(self, x: Sequence[float], y: Sequence[float], texts: Sequence[str], *, priority: float = 0.0,
            kind: str = "point", marker_pt: float = 4.0, short: Sequence[str] | None = None,
            **text_kw) -> None:
        """Queue labels at data coordinates (metres); ``marker_pt``: radius of the marker (points) to clear."""
        xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        shorts = list(short) if short is not None else [None] * len(xs)
        for xi, yi, t, sh in zip(xs, ys, texts, shorts):
            if np.isfinite(xi) and np.isfinite(yi) and str(t):
                self.rows.append({"x": xi, "y": yi, "text": str(t), "short": sh, "priority": float(priority),
                                  "kind": kind, "marker_pt": float(marker_pt), "kw": text_kw})

    def avoid(self, x: Sequence[float], y: Sequence[float], radius_pt: float | Sequence[float]) -> None:
        """Markers (data coordinates, radius in points) that labels must not cover."""
        xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        r = np.broadcast_to(np.asarray(radius_pt, dtype=float), xs.shape)
        self.obstacles.append(np.stack([xs, ys, r], axis=1) if len(xs) else np.zeros((0, 3)))

    def place(self, ax) -> int:
        """Draw the labels that fit; returns the number left out."""
        if not self.rows:
            return 0
        fig = ax.figure
        renderer = fig.canvas.get_renderer()
        ax.apply_aspect()
        to_px = ax.transData
        px_per_pt = fig.dpi / 72.0
        frame = ax.get_window_extent(renderer)
        obs = np.concatenate(self.obstacles) if self.obstacles else np.zeros((0, 3))
        if len(obs):
            oxy = to_px.transform(obs[:, :2])
            orad = obs[:, 2] * px_per_pt
            boxes = np.column_stack([oxy[:, 0] - orad, oxy[:, 1] - orad, oxy[:, 0] + orad, oxy[:, 1] + orad])
        else:
            boxes = np.zeros((0, 4))
        placed = np.zeros((len(self.rows) + len(boxes), 4))
        placed[:len(boxes)] = boxes
        n = len(boxes)
        order = sorted(range(len(self.rows)), key=lambda i: -self.rows[i]["priority"])
        halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
        gap = 2.0 * px_per_pt
        left_out = 0
        for i in order:
            row = self.rows[i]
            ax_xy = to_px.transform([[row["x"], row["y"]]])[0]
            done = False
            size = float(row["kw"].get("fontsize", 8))
            # the label, then its short form, then (area labels) the label in a smaller font
            variants = [(row["text"], size), (row["short"], size)]
            if row["kind"] == "area":
                variants.append((row["text"], 0.8 * size))
            for text, fs in variants:
                if not text:
                    continue
                kw = {"zorder": 16, **row["kw"], "fontsize": fs}
                art = ax.text(row["x"], row["y"], text, ha="center", va="center", path_effects=halo,
                              gid="cs-label", **kw)
                bb = art.get_window_extent(renderer)
                hw, hh = bb.width / 2 + 1.0, bb.height / 2 + 1.0
                if row["kind"] == "point":
                    r = row["marker_pt"] * px_per_pt + gap
                    near = ax_xy + _POINT_SLOTS * np.array([r + hw, r + hh])
                    far = ax_xy + _POINT_SLOTS * np.array([2.5 * r + hw, 2.5 * r + hh])
                    cand = np.concatenate([near, far])
                else:
                    cand = ax_xy + _AREA_SLOTS * np.array([hw, hh])
                c = np.column_stack([cand[:, 0] - hw, cand[:, 1] - hh, cand[:, 0] + hw, cand[:, 1] + hh])
                inside = ((c[:, 0] >= frame.x0) & (c[:, 2] <= frame.x1) & (c[:, 1] >= frame.y0)
                          & (c[:, 3] <= frame.y1))
                p = placed[:n]
                hit = ((c[:, None, 0] < p[None, :, 2]) & (c[:, None, 2] > p[None, :, 0])
                       & (c[:, None, 1] < p[None, :, 3]) & (c[:, None, 3] > p[None, :, 1])).any(axis=1)
                free = np.flatnonzero(inside & ~hit)
                if not len(free):
                    art.remove()
                    continue
                k = int(free[0])
                xy = to_px.inverted().transform([cand[k]])[0]
                art.set_position((float(xy[0]), float(xy[1])))
                placed[n] = c[k]
                n += 1
                if row["kind"] == "point" and k >= len(_POINT_SLOTS):  # far ring: a leader line to the marker
                    edge = np.clip(ax_xy, c[k, :2], c[k, 2:])
                    ends = to_px.inverted().transform([ax_xy, edge])
                    ax.plot(ends[:, 0], ends[:, 1], color="#555555", lw=0.6, zorder=15, gid="cs-leader")
                done = True
                break
            if not done:
                left_out += 1
                self.left_out.append(row["text"])
        return left_out


def _note_left_out(fig: Figure, n: int) -> None:
    if n:
        fig.text(0.98, 0.015, f"另有 {n} 个标注因空间不足未显示 {n} labels not shown (no room)", fontsize=8,
                 color="#555555", ha="right")


def _new_figure() -> tuple[Figure, object]:
    fig = Figure(figsize=(12, 8.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.05, 0.68, 0.84))
    return fig, ax


def _metric(gdf: gpd.GeoDataFrame | None, crs: CRS, what: str) -> gpd.GeoDataFrame | None:
    if gdf is None:
        return None
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise DataError(f"{what} must be a GeoDataFrame, got {type(gdf).__name__}", feature=what,
                        fix=f"pass {what} as a GeoDataFrame")
    if gdf.crs is None:
        raise DataError(f"{what} has no CRS", feature=what,
                        fix="load it through childspace.inputs.loaders or set its CRS with .set_crs()")
    out = gdf.to_crs(crs)
    return out[~(out.geometry.isna() | out.geometry.is_empty)]


def _crs_for(*layers: gpd.GeoDataFrame | None) -> CRS:
    for g in layers:
        if g is not None and len(g):
            if g.crs is None:
                raise DataError("a layer has no CRS", fix="load it through childspace.inputs.loaders or set its CRS")
            return local_crs_for(g)
    raise DataError("nothing to draw: every layer given is empty", fix="check the inputs of the figure")


def _draw_boundaries(ax, b: gpd.GeoDataFrame | None, handles: list, label_limit: int = 60,
                     outline: Sequence[str] = ("community", "township"), labels: _Labels | None = None) -> None:
    if b is None or not len(b):
        return
    level = b["level"].astype(str).to_numpy() if "level" in b.columns else np.array(["community"] * len(b))
    halo = [patheffects.withStroke(linewidth=3, foreground="white")]
    for lev, colour, lw, ls, lab in (("community", "#777777", 0.7, "--", "村社区边界 Community boundary"),
                                     ("township", "#222222", 1.8, "-", "乡镇街道边界 Township boundary")):
        sub = b[level == lev]
        if not len(sub):
            continue
        if lev in outline:
            sub.boundary.plot(ax=ax, color=colour, linewidth=lw, linestyle=ls, zorder=6)
            handles.append(Line2D([], [], color=colour, lw=lw + 0.5, ls=ls, label=lab))
        show_labels = lev == "township" or not (level == "township").any()
        if "name" in sub.columns and len(sub) <= label_limit and show_labels:
            pts = sub.geometry.representative_point()
            if labels is not None:  # placed later, clear of markers and other labels
                labels.add(pts.x, pts.y, sub["name"].astype(str).tolist(), kind="area",
                           priority=3.0 if lev == "township" else 1.0, fontsize=10 if lev == "township" else 8,
                           fontweight="bold" if lev == "township" else "normal", zorder=15)
                continue
            for x, y, t in zip(pts.x, pts.y, sub["name"].astype(str)):
                ax.text(x, y, t, ha="center", va="center", fontsize=10 if lev == "township" else 8,
                        fontweight="bold" if lev == "township" else "normal", zorder=15, path_effects=halo)


def _fix_extent(ax, *layers: gpd.GeoDataFrame | None, pad: float = 0.04) -> None:
    b = np.array([g.total_bounds for g in layers if g is not None and len(g)])
    minx, miny, maxx, maxy = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    dx, dy = (maxx - minx) or 100.0, (maxy - miny) or 100.0
    ax.set_xlim(minx - pad * dx, maxx + pad * dx)
    ax.set_ylim(miny - (pad + 0.08) * dy, maxy + (pad + 0.06) * dy)  # room for scale bar and arrow


# ----------------------------------------------------------------------------------------------------

def plot_coverage(boundaries: gpd.GeoDataFrame | None, facilities: gpd.GeoDataFrame,
                  service_areas: gpd.GeoDataFrame | None = None, access: gpd.GeoDataFrame | None = None,
                  gaps: gpd.GeoDataFrame | None = None, category: str | None = None, *,
                  max_points: int = 500, hex_size: float | None = None,
                  title: str | None = None, synthetic: bool = False) -> Figure:
    """Static coverage map of one category (mirrors :func:`childspace.outputs.maps.coverage_map`).

    Parameters are those of :func:`childspace.outputs.maps.coverage_map` (any CRS in; drawn in the local metric CRS).
    Gaps are shaded by ``children_uncovered``; homes not covered on foot (``covered_walk_<cat>`` false, else
    ``covered_line_<cat>``) are red dots sized by ``children``; with more than ``max_points`` of them the children
    uncovered are summed per hexagon (``hex_size`` metres, default about 20 cells across;
    :func:`childspace.outputs.maps.hex_totals`) instead.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if category is None:
        category = _only_category(facilities, "plot_coverage", "facilities hold")
    crs = _crs_for(boundaries, facilities)
    b = _metric(boundaries, crs, "boundaries")
    fac = _metric(facilities, crs, "facilities")
    if "category" in fac.columns:
        fac = fac[fac["category"].astype(str) == category]
    clabel = category_label(category)
    zh, en = CATEGORY_LABELS.get(category, (category, category))
    from childspace.outputs.maps import CATEGORY_COLOURS

    colour = CATEGORY_COLOURS.get(category, "#1f78b4")
    with _style():
        fig, ax = _new_figure()
        handles: list = []
        if gaps is not None and len(gaps):
            g = _metric(gaps, crs, "gaps")
            if "category" in g.columns:
                g = g[g["category"].astype(str) == category]
            if len(g):
                n_unc = 0
                if access is not None and f"covered_walk_{category}" in access.columns:
                    n_unc = int((~access[f"covered_walk_{category}"].fillna(False).astype(bool)).sum())
                g.plot(ax=ax, column="children_uncovered", cmap="Reds", alpha=0.45, edgecolor="#99000d",
                       linewidth=0.6, zorder=2, legend=n_unc <= max_points,
                       legend_kwds={"label": "缺口未覆盖儿童 Gap: children uncovered", "shrink": 0.45,
                                    "location": "bottom", "pad": 0.02, "aspect": 30})
                handles.append(Patch(facecolor="#fb6a4a", edgecolor="#99000d", label="覆盖缺口 Coverage gap"))
        if service_areas is not None and len(service_areas):
            sa = _metric(service_areas, crs, "service_areas")
            if "category" in sa.columns:
                sa = sa[sa["category"].astype(str) == category]
            meth = sa["method"].astype(str).to_numpy() if "method" in sa.columns else np.array(["walk"] * len(sa))
            r = pd.to_numeric(sa["radius_m"], errors="coerce").max() if "radius_m" in sa.columns else np.nan
            rt = f"（{r:,.0f} 米 m）" if np.isfinite(r) else ""
            if (meth == "line").any():
                sa[meth == "line"].boundary.plot(ax=ax, color=colour, linewidth=1.0, linestyle="--", zorder=3)
                handles.append(Line2D([], [], color=colour, ls="--", label=f"直线服务区{rt} Straight-line area"))
            if (meth == "walk").any():
                sa[meth == "walk"].plot(ax=ax, color=colour, alpha=0.25, edgecolor=colour, linewidth=0.8,
                                        zorder=3)
                handles.append(Patch(facecolor=colour, alpha=0.35, edgecolor=colour,
                                     label=f"步行服务区{rt} Walking area"))
        labels = _Labels()
        _draw_boundaries(ax, b, handles, labels=labels)
        if access is not None and len(access):
            acc = _metric(access, crs, "access")
            col = next((c for c in (f"covered_walk_{category}", f"covered_line_{category}") if c in acc.columns),
                       None)
            if col is None:
                raise DataError(f"access lacks covered_walk_{category} / covered_line_{category}",
                                feature="access", fix=f"run coverage.origin_access for category {category!r}")
            unc = acc[~acc[col].fillna(False).astype(bool).to_numpy()]
            if len(unc) > max_points:
                from childspace.outputs.maps import _auto_hex_size, hex_totals

                kids = pd.to_numeric(unc.get("children", pd.Series(1, index=unc.index)),
                                     errors="coerce").fillna(0).to_numpy()
                size = hex_size if hex_size is not None else _auto_hex_size(acc)
                hx = hex_totals(unc, kids, size).to_crs(crs)
                hx = hx[hx["total"].to_numpy() > 0]
                if len(hx):
                    hx.plot(ax=ax, column="total", cmap="Purples", alpha=0.75, edgecolor="#3f007d", linewidth=0.3,
                            zorder=7, legend=True,
                            legend_kwds={"label": f"每{size:g}米六边形未覆盖儿童 Children uncovered per {size:g} m "
                                                  "hexagon", "orientation": "horizontal", "location": "bottom",
                                         "pad": 0.02, "aspect": 30, "shrink": 0.6})
                    handles.append(Patch(facecolor="#9e9ac8", edgecolor="#3f007d",
                                         label=f"未覆盖儿童（{size:g}米六边形） Children uncovered ({size:g} m hexagons)"))
            elif len(unc):
                kids = pd.to_numeric(unc.get("children", pd.Series(1, index=unc.index)),
                                     errors="coerce").fillna(0).to_numpy()
                ax.scatter(unc.geometry.x, unc.geometry.y, s=6 + 6 * kids, c="#ef3b2c", edgecolors="#67000d",
                           linewidths=0.4, zorder=8)
                handles.append(Line2D([], [], marker="o", ls="", color="#ef3b2c", markeredgecolor="#67000d",
                                      label="未覆盖住户（大小=儿童数） Uncovered homes (size = children)"))
        if len(fac):
            ax.scatter(fac.geometry.x, fac.geometry.y, s=90, c=colour, edgecolors="white", linewidths=1.5,
                       zorder=10)
            labels.avoid(fac.geometry.x, fac.geometry.y, np.sqrt(90) / 2 + 1.5)
            handles.insert(0, Line2D([], [], marker="o", ls="", markersize=9, color=colour,
                                     markeredgecolor="white", label=f"{clabel}（{len(fac)}）"))
        _fix_extent(ax, b, fac)
        _decorate(fig, ax, title or f"{zh}服务覆盖 {en} service coverage", synthetic, handles, crs)
        _note_left_out(fig, labels.place(ax))
    return fig


def plot_pilots(pilots_status: gpd.GeoDataFrame, catchments: gpd.GeoDataFrame | None = None, *,
                boundaries: gpd.GeoDataFrame | None = None, title: str | None = None,
                synthetic: bool = False, label: bool = True) -> Figure:
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
        raise DataError("pilots_status lacks the column 'status'", feature="pilots_status",
                        fix="pass the output of childspace.analysis.pilots.pilot_status")
    bad = sorted(set(ps["status"].astype(str)) - set(STATUS_LABELS))
    if bad:
        raise DataError(f"unknown pilot status values {bad}", feature="pilots_status.status",
                        fix=f"status must be one of {list(STATUS_LABELS)}")
    b = _metric(boundaries, crs, "boundaries")
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
        key = (ps["key_project"].fillna(False).astype(bool).to_numpy() if "key_project" in ps.columns
               else np.zeros(len(ps), dtype=bool))
        poly = ps.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
        if poly.any():
            ps[poly].plot(ax=ax, color=colours[poly], alpha=0.55, edgecolor=np.where(key[poly], "black", "#333333"),
                          linewidth=np.where(key[poly], 2.0, 0.8), zorder=5)
        pts = ps[~poly]
        batch = ps["batch"].to_numpy() if "batch" in ps.columns else np.zeros(len(ps))
        markers = {2022: "o", 2023: "s"}
        for bval in pd.unique(batch):
            sel = (~poly) & (batch == bval)
            if sel.any():
                sub = ps[sel]
                ax.scatter(sub.geometry.x, sub.geometry.y, s=np.where(key[sel], 110, 70), c=colours[sel],
                           marker=markers.get(int(bval) if np.isfinite(float(bval)) else 0, "D"),
                           edgecolors=np.where(key[sel], "black", "white"),
                           linewidths=np.where(key[sel], 2.0, 1.0), zorder=9)
            mk = markers.get(int(bval), "D")
            n = int((batch == bval).sum())
            handles.append(Line2D([], [], marker=mk, ls="", color="#888888", markersize=8,
                                  label=f"{bval}年试点（{n}个） Pilots {bval} ({n})"))
        rp = ps.geometry.representative_point()
        mpt = np.where(key, np.sqrt(110) / 2 + 2.0, np.sqrt(70) / 2 + 1.0)
        labels.avoid(rp.x[~poly], rp.y[~poly], mpt[~poly])
        if label and "pilot_id" in ps.columns and len(ps) <= 150:
            ids = ps["pilot_id"].astype(str)
            # short form when the full id does not fit: the number after the last "-" (the batch is the marker)
            short = [t.rsplit("-", 1)[-1] if "-" in t else None for t in ids]
            for sel, prio in ((key, 2.5), (~key, 2.0)):
                if sel.any():
                    labels.add(rp.x[sel], rp.y[sel], ids[sel].tolist(), priority=prio, kind="point",
                               marker_pt=float(mpt.max()) if (~poly[sel]).any() else 2.0,
                               short=[sh for sh, k in zip(short, sel) if k], fontsize=6.5, zorder=12)
        for k_, (zh, en, col) in STATUS_LABELS.items():
            handles.append(Patch(facecolor=col, edgecolor="#333333",
                                 label=f"{zh} {en}（{int((status == k_).sum())}）"))
        handles.append(Line2D([], [], marker="o", ls="", color="white", markeredgecolor="black",
                              markeredgewidth=2, markersize=9, label="黑圈 = 重点项目 Black ring = key project"))
        del pts
        _fix_extent(ax, ps, b, _metric(catchments, crs, "catchments") if catchments is not None else None)
        _decorate(fig, ax, title or "儿童友好试点单元评估 Child-friendly pilot units", synthetic, handles, crs)
        _note_left_out(fig, labels.place(ax))
    return fig


def plot_routes(routes: gpd.GeoDataFrame, hazards: gpd.GeoDataFrame | None = None,
                walksheds: gpd.GeoDataFrame | None = None, schools: gpd.GeoDataFrame | None = None, *,
                boundaries: gpd.GeoDataFrame | None = None, route: str = "safest",
                network_stress: gpd.GeoDataFrame | None = None, school_zones: gpd.GeoDataFrame | None = None,
                zone_roads: gpd.GeoDataFrame | None = None, title: str | None = None,
                synthetic: bool = False) -> Figure:
    """Static map of routes to school by worst stress level (mirrors :func:`childspace.outputs.maps.routes_map`).

    Parameters
    ----------
    route : {"safest", "shortest", "both"}, default "safest"
        Which routes of ``routes.school_routes`` to draw (shortest ones dotted).
    network_stress : GeoDataFrame, optional
        Network edges with ``level`` (:func:`childspace.outputs.maps.stress_frames`): the whole network is drawn thin by
        street level and, for ``route`` "safest"/"shortest" with routes as returned by ``school_routes``, the
        routes are summed per street (width = children, :func:`childspace.outputs.maps.route_edge_use`) instead of
        drawing one line per route.
    school_zones, zone_roads : GeoDataFrame, optional
        :func:`childspace.analysis.safety.school_zones` (``return_segments=True``) outputs: the 150 m circles around each
        gate (dashed, coloured by the result: green compliant, amber one requirement fails, red both), the zone
        roads (red = limit over 30 km/h, blue = at most 30 km/h, dashed = limit assumed) and a ring per school
        coloured by the result (GA/T 1215-2014).
    Other parameters as in :func:`childspace.outputs.maps.routes_map`. School and community names are placed clear of
    each other and of the markers; names that fit nowhere are left out and counted in a note.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if route not in ("safest", "shortest", "both"):
        raise ChildspaceError(f"unknown route choice {route!r}", fix='use "safest", "shortest" or "both"')
    crs = _crs_for(routes, boundaries)
    r = _metric(routes, crs, "routes")
    if "worst_level" not in r.columns:
        raise DataError("routes lack the column 'worst_level'", feature="routes",
                        fix="pass the output of childspace.analysis.routes.school_routes")
    if route != "both" and "route" in r.columns:
        r = r[r["route"].astype(str) == route]
    b = _metric(boundaries, crs, "boundaries")
    with _style():
        fig, ax = _new_figure()
        handles: list = []
        if walksheds is not None and len(walksheds):
            w = _metric(walksheds, crs, "walksheds")
            kind = w["kind"].astype(str).to_numpy() if "kind" in w.columns else np.array(["plain"] * len(w))
            if (kind == "plain").any():
                w[kind == "plain"].plot(ax=ax, color="#4a6fa5", alpha=0.10, linewidth=0, zorder=2)
                w[kind == "plain"].boundary.plot(ax=ax, color="#4a6fa5", linewidth=1.2, linestyle="--", zorder=2)
                handles.append(Patch(facecolor="#dfe6f0", edgecolor="#4a6fa5", ls="--",
                                     label="普通步行范围 Plain walkshed"))
            if (kind == "safe").any():
                w[kind == "safe"].plot(ax=ax, color="#1a9641", alpha=0.22, edgecolor="#1a9641", linewidth=1,
                                       zorder=3)
                handles.append(Patch(facecolor="#a9d8b3", edgecolor="#1a9641", label="安全步行范围 Safe walkshed"))
        labels = _Labels()
        _draw_boundaries(ax, b, handles, labels=labels)
        zone_handles, zs = _draw_school_zones(ax, school_zones, zone_roads, schools, crs)
        level = pd.to_numeric(r["worst_level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
        kids = (pd.to_numeric(r["children"], errors="coerce").fillna(0).to_numpy() if "children" in r.columns
                else np.zeros(len(r)))
        kinds = r["route"].astype(str).to_numpy() if "route" in r.columns else np.array(["safest"] * len(r))
        use = None
        if network_stress is not None and len(network_stress):
            ns = _metric(network_stress, crs, "network_stress")
            nl = pd.to_numeric(ns["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
            ns.plot(ax=ax, color=[STRESS_LABELS[v][2] for v in nl], linewidth=0.8, alpha=0.8, zorder=4)
            if route != "both" and "childspace_routes" in routes.attrs:
                from childspace.outputs.maps import route_edge_use

                use = _metric(route_edge_use(routes, network_stress, route), crs, "edge use")
        if use is not None and len(use):
            k = use["children"].to_numpy(dtype=float)
            kmax = max(float(k.max()), 1.0)
            ul = pd.to_numeric(use["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
            o = np.argsort(k, kind="stable")
            use.iloc[o].plot(ax=ax, color=[STRESS_LABELS[v][2] for v in ul[o]],
                             linewidth=1.0 + 7.0 * np.sqrt(k[o] / kmax), alpha=0.9, zorder=7)
            for frac in (1.0, 0.25):
                handles.append(Line2D([], [], color="#555555", lw=1.0 + 7.0 * np.sqrt(frac),
                                      label=f"{kmax * frac:,.0f} 名儿童走此街道 children on the street"))
            r = r.iloc[0:0]
            level, kids, kinds = level[:0], kids[:0], kinds[:0]
        for lv in (1, 2, 3, 4):
            for kd, ls in (("safest", "-"), ("shortest", ":")):
                sel = (level == lv) & (kinds == kd)
                if sel.any():
                    r[sel].plot(ax=ax, color=STRESS_LABELS[lv][2], linewidth=np.clip(1.2 + 0.35 * np.sqrt(kids[sel]),
                                                                                     1.2, 5), linestyle=ls,
                                zorder=6 + lv)
        for lv, (zh, en, col) in STRESS_LABELS.items():
            handles.append(Line2D([], [], color=col, lw=3, label=f"{zh} {en}"))
        if route == "both":
            handles.append(Line2D([], [], color="#555555", lw=2, ls=":", label="点线 = 最短路线 Dotted = shortest"))
        if hazards is not None and len(hazards):
            h = _metric(hazards, crs, "hazards")
            hl = pd.to_numeric(h["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
            hk = pd.to_numeric(h.get("children", pd.Series(0, index=h.index)), errors="coerce").fillna(0).to_numpy()
            is_pt = h.geometry.geom_type.isin(["Point", "MultiPoint"]).to_numpy()
            if (~is_pt).any():
                h[~is_pt].plot(ax=ax, color=[STRESS_LABELS[v][2] for v in hl[~is_pt]], linewidth=6, alpha=0.6,
                               zorder=11)
            if is_pt.any():
                hp = h[is_pt]
                ax.scatter(hp.geometry.x, hp.geometry.y, s=30 + 8 * hk[is_pt], marker="^",
                           c=[STRESS_LABELS[v][2] for v in hl[is_pt]], edgecolors="black", linewidths=1,
                           zorder=12)
                labels.avoid(hp.geometry.x, hp.geometry.y, np.sqrt(30 + 8 * hk[is_pt]) / 2)
            handles.append(Line2D([], [], marker="^", ls="", color="#d7191c", markeredgecolor="black",
                                  markersize=10, label="隐患点（大小=受影响儿童） Hazard (size = children)"))
        if schools is not None and len(schools):
            s = _metric(schools, crs, "schools")
            ax.scatter(s.geometry.x, s.geometry.y, s=120, c="#1f78b4", edgecolors="white", linewidths=1.5,
                       zorder=13, marker="o")
            labels.avoid(s.geometry.x, s.geometry.y, np.sqrt(120) / 2 + 1.5)
            if "name" in s.columns and len(s) <= 60:
                labels.add(s.geometry.x, s.geometry.y, s["name"].astype(str).tolist(), priority=3.0,
                           marker_pt=np.sqrt(120) / 2 + 1.5, fontsize=9, zorder=14)
            handles.append(Line2D([], [], marker="o", ls="", color="#1f78b4", markeredgecolor="white",
                                  markersize=10, label="学校 School"))
        if zs is not None and len(zs):
            _zone_rings(ax, zs)
            labels.avoid(zs.geometry.x, zs.geometry.y, _ZONE_RING_PT)
        handles += zone_handles
        _fix_extent(ax, r, b, use, _metric(walksheds, crs, "walksheds") if walksheds is not None else None,
                    _metric(schools, crs, "schools") if schools is not None else None, zs)
        which = {"safest": "最安全路线 safest routes", "shortest": "最短路线 shortest routes",
                 "both": "最安全与最短路线 safest and shortest routes"}[route]
        _decorate(fig, ax, title or f"上学路线安全评估（{which.split(' ')[0]}） Safe routes to school "
                  f"({which.split(' ', 1)[1]})", synthetic, handles, crs)
        _note_left_out(fig, labels.place(ax))
    return fig


_ZONE_RING_PT = 8.0  # radius (points) of the school-zone ring around a school marker


def _draw_school_zones(ax, school_zones: gpd.GeoDataFrame | None, zone_roads: gpd.GeoDataFrame | None,
                       schools: gpd.GeoDataFrame | None, crs: CRS) -> tuple[list, gpd.GeoDataFrame | None]:
    """Zone circles and zone roads; returns legend handles and the zone table in ``crs`` (rings drawn later)."""
    from childspace.outputs.maps import (
        ZONE_ROAD_COLOURS,
        ZONE_STATUS_LABELS,
        _zone_rules,
        school_zone_circles,
        zone_status,
    )

    radius, limit, _cross = _zone_rules()
    handles: list = []
    zs = None
    if school_zones is not None and len(school_zones):
        zs = _metric(school_zones, crs, "school_zones")
        status = zone_status(zs)
        circ = school_zone_circles(school_zones, schools, radius).to_crs(crs)
        circ.boundary.plot(ax=ax, color=[ZONE_STATUS_LABELS[v][2] for v in status], linewidth=1.0,
                           linestyle="--", zorder=5)
        handles.append(Line2D([], [], color="#555555", ls="--", lw=1.0,
                              label=f"校门{radius:g}米范围 {radius:g} m around the gate (GA/T 1215-2014)"))
        counts = pd.Series(status).value_counts()
        for k, (zh, en, col) in ZONE_STATUS_LABELS.items():
            handles.append(Line2D([], [], marker="o", ls="", markersize=11, markerfacecolor="none",
                                  markeredgecolor=col, markeredgewidth=2.5,
                                  label=f"校园周边{zh} School zone: {en.lower()}（{int(counts.get(k, 0))}）"))
    if zone_roads is not None and len(zone_roads):
        zr = _metric(zone_roads, crs, "zone_roads")
        over = (zr["over_limit"].astype("boolean").fillna(False).to_numpy(dtype=bool) if "over_limit" in zr.columns
                else np.zeros(len(zr), dtype=bool))
        assumed = (zr["speed_assumed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
                   if "speed_assumed" in zr.columns else np.zeros(len(zr), dtype=bool))
        for o in (False, True):
            for a, ls in ((False, "-"), (True, "--")):
                sel = (over == o) & (assumed == a)
                if sel.any():
                    zr[sel].plot(ax=ax, color=ZONE_ROAD_COLOURS[o], linewidth=2.2, linestyle=ls, zorder=9)
        handles.append(Line2D([], [], color=ZONE_ROAD_COLOURS[True], lw=2.2,
                              label=f"校园周边道路限速高于{limit:g} Zone road over {limit:g} km/h"))
        handles.append(Line2D([], [], color=ZONE_ROAD_COLOURS[False], lw=2.2,
                              label=f"校园周边道路限速≤{limit:g} Zone road at most {limit:g} km/h"))
        if assumed.any():
            handles.append(Line2D([], [], color="#555555", lw=2.2, ls="--",
                                  label="虚线 = 限速按道路等级假定 Dashed = speed assumed"))
    return handles, zs


def _zone_rings(ax, zs: gpd.GeoDataFrame) -> None:
    from childspace.outputs.maps import ZONE_STATUS_LABELS, zone_status

    status = zone_status(zs)
    ax.scatter(zs.geometry.x, zs.geometry.y, s=(2 * _ZONE_RING_PT) ** 2, facecolors="none",
               edgecolors=[ZONE_STATUS_LABELS[v][2] for v in status], linewidths=2.5, zorder=13.5)


def _coverage_handles() -> list:
    """Legend patches of the coverage classes and "no data"."""
    return ([Patch(facecolor=c, edgecolor="#444444", label=lab) for _u, c, lab in COVERAGE_BINS]
            + [Patch(facecolor=NO_DATA_COLOUR, edgecolor="#444444", label="无数据 No data")])


def _overview_fill(sub: gpd.GeoDataFrame, uc: pd.DataFrame, category: str | None,
                   value: str) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray]:
    """Units left-joined with the ``value`` (and ``below_target``) of one category, the values and their fill
    colours (classes of :data:`childspace.outputs.report.COVERAGE_BINS`)."""
    if category is not None and "category" in uc.columns:
        uc = uc[uc["category"].astype(str) == category]
    cols = ["unit_id", value] + (["below_target"] if "below_target" in uc.columns else [])
    u = uc[cols].copy()
    u["unit_id"] = u["unit_id"].astype(str)
    sub = sub.merge(u.drop_duplicates("unit_id"), on="unit_id", how="left")
    vals = pd.to_numeric(sub[value], errors="coerce").to_numpy(dtype=float)
    return sub, vals, _coverage_colours(vals)


def _overview_small_multiples(b: gpd.GeoDataFrame, sub: gpd.GeoDataFrame, uc: pd.DataFrame, cats: list[str],
                              townships: gpd.GeoDataFrame | None, value: str, vlabel: str, title: str | None,
                              synthetic: bool, crs: CRS) -> Figure:
    n = len(cats)
    ncols = min(3, n) if n <= 6 else 4
    nrows = int(np.ceil(n / ncols))
    minx, miny, maxx, maxy = b.total_bounds
    aspect = (maxy - miny) / max(maxx - minx, 1.0)
    panel_w = 4.2
    fig = Figure(figsize=(panel_w * ncols, panel_w * aspect * nrows + 2.2), dpi=100)
    FigureCanvasAgg(fig)
    top = 1.0 - 1.25 / fig.get_size_inches()[1]
    bottom = 0.9 / fig.get_size_inches()[1]
    halo = [patheffects.withStroke(linewidth=2, foreground="white")]
    axes = []
    for i, cat in enumerate(cats):
        r, c = divmod(i, ncols)
        h = (top - bottom) / nrows
        ax = fig.add_axes((0.01 + c * 0.98 / ncols, top - (r + 1) * h, 0.98 / ncols - 0.01, h - 0.06))
        axes.append(ax)
        s2, vals, fill = _overview_fill(sub, uc, cat, value)
        s2.plot(ax=ax, color=fill, edgecolor="#666666", linewidth=0.4, zorder=2)
        if townships is not None and len(townships):
            townships.boundary.plot(ax=ax, color="#111111", linewidth=1.4, zorder=5)
        tot = (uc[uc["category"].astype(str) == cat] if "category" in uc.columns else uc)
        share = ""
        if {"children", "children_covered_walk"} <= set(tot.columns) and value == "pct_walk":
            ch = pd.to_numeric(tot["children"], errors="coerce").sum()
            cv = pd.to_numeric(tot["children_covered_walk"], errors="coerce").sum()
            share = f"（全部 {100 * cv / ch:.0f}% overall）" if ch else ""
        # a fixed title position (y given): matplotlib's automatic placement lifts some titles above others
        ax.set_title(f"{category_label(cat)}{share}", fontsize=11, fontweight="bold", y=1.0, pad=6.0)
        ax.set_xlim(minx, maxx)
        ax.set_ylim(miny, maxy)
        ax.set_aspect("equal")
        ax.set_axis_off()
    # scale bar on the last panel, north arrow on the first
    ax = axes[-1]
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = nice_scale_length(x1 - x0, 0.3)
    ax.add_patch(Rectangle((x0, y0 - 0.04 * (y1 - y0)), length, 0.015 * (y1 - y0), facecolor="black",
                           clip_on=False, zorder=20))
    ax.text(x0 + length, y0 - 0.02 * (y1 - y0), _scale_label(length), fontsize=8, va="bottom", ha="left",
            path_effects=halo, clip_on=False)
    axes[0].annotate("N 北", xy=(0.97, 0.97), xytext=(0.97, 0.80), xycoords="axes fraction", ha="center",
                     fontsize=9, fontweight="bold", arrowprops=dict(facecolor="black", width=3, headwidth=9,
                                                                    headlength=8), zorder=21)
    handles = _coverage_handles()
    if townships is not None and len(townships):
        handles.append(Line2D([], [], color="#111111", lw=1.6, label="乡镇街道边界 Township boundary"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False,
               title=f"{vlabel} %", title_fontsize=10, bbox_to_anchor=(0.5, 0.0))
    vz, ve = vlabel.split(" ", 1)
    fig.suptitle(title or f"各类设施{vz} {ve} by category", fontsize=15, fontweight="bold", x=0.01, ha="left",
                 y=0.995, va="top")
    if synthetic:
        fig.text(0.99, 0.995, _SYNTHETIC_NOTE, fontsize=10, fontweight="bold", color="#7a5200", ha="right", va="top",
                 bbox=dict(boxstyle="round,pad=0.3", facecolor="#fff3cd", edgecolor="#e0b84d"))
    fig.text(0.99, 0.003, f"坐标系 CRS: {crs.name} (EPSG:{crs.to_epsg()})", fontsize=7, color="#555555",
             ha="right", va="bottom")
    return fig


def plot_overview(boundaries: gpd.GeoDataFrame, unit_coverage: pd.DataFrame, category: str | None = None, *,
                  value: str = "pct_walk", level: str | None = None, townships: gpd.GeoDataFrame | None = None,
                  small_multiples: bool = False, categories: Sequence[str] | None = None,
                  title: str | None = None, synthetic: bool = False) -> Figure:
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
    b = _metric(boundaries, crs, "boundaries")
    uc = pd.DataFrame(unit_coverage)
    for col in ("unit_id", value):
        if col not in uc.columns:
            raise DataError(f"unit_coverage lacks the column {col!r}", feature="unit_coverage",
                            fix="pass the output of childspace.analysis.coverage.unit_coverage")
    vlabel = _VALUE_LABELS.get(value, value)
    t = _metric(townships, crs, "townships")
    if small_multiples:
        cats = (list(categories) if categories is not None else
                ([str(c) for c in pd.unique(uc["category"].dropna())] if "category" in uc.columns else [None]))
        lev0 = b["level"].astype(str) if "level" in b.columns else pd.Series("community", index=b.index)
        lvl = level or ("community" if (lev0 == "community").any() else "township")
        sub0 = b[lev0.to_numpy() == lvl].copy()
        sub0["unit_id"] = sub0["unit_id"].astype(str)
        with _style():
            return _overview_small_multiples(b, sub0, uc, cats, t, value, vlabel, title, synthetic, crs)
    if "category" in uc.columns:
        if category is None:
            category = _only_category(uc, "plot_overview", "unit_coverage holds")
        uc = uc[uc["category"].astype(str) == category]
    lev = b["level"].astype(str) if "level" in b.columns else pd.Series("community", index=b.index)
    if level is None:
        level = "community" if (lev == "community").any() else "township"
    sub = b[lev.to_numpy() == level].copy()
    sub["unit_id"] = sub["unit_id"].astype(str)
    sub, vals, fill = _overview_fill(sub, uc, category, value)
    clabel = category_label(category) if category else ""
    with _style():
        fig, ax = _new_figure()
        handles: list = _coverage_handles()
        sub.plot(ax=ax, color=fill, edgecolor="#555555", linewidth=0.6, zorder=2)
        if "below_target" in sub.columns:
            bt = sub["below_target"].fillna(False).astype(bool).to_numpy()
            tgt = (pd.to_numeric(uc["target_pct"], errors="coerce").dropna().unique() if "target_pct" in uc.columns
                   else np.array([]))
            redundant = len(tgt) == 1 and any(abs(float(tgt[0]) - u_) < 1e-6 for u_, _c, _l in COVERAGE_BINS)
            if bt.any() and redundant:  # the colour classes already split at the target: say it, no hatching
                handles.append(Patch(facecolor="white", edgecolor="white",
                                     label=f"目标 {float(tgt[0]):g}%：低于 {float(tgt[0]):g}% 即低于目标 "
                                           f"Target {float(tgt[0]):g}%"))
            elif bt.any():
                sub[bt].plot(ax=ax, facecolor="none", edgecolor="#7f0000", hatch="//", linewidth=0.0, zorder=3)
                handles.append(Patch(facecolor="white", edgecolor="#7f0000", hatch="//",
                                     label="斜线 = 低于目标 Hatched = below target"))
        _draw_boundaries(ax, b, handles, outline=("township",), label_limit=0 if level == "community" else 60)
        if t is not None and len(t):
            t.boundary.plot(ax=ax, color="white", linewidth=4.5, zorder=7)
            t.boundary.plot(ax=ax, color="#111111", linewidth=2.2, zorder=8)
            handles.append(Line2D([], [], color="#111111", lw=2.2, label="乡镇街道边界 Township boundary"))
        if len(sub) <= 40 and "name" in sub.columns and level == "community":
            rp = sub.geometry.representative_point()
            halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
            for x, y, t_, v in zip(rp.x, rp.y, sub["name"].astype(str), vals):
                ax.text(x, y, f"{t_}\n{v:.0f}%" if np.isfinite(v) else f"{t_}\n—", ha="center", va="center",
                        fontsize=9, zorder=14, path_effects=halo)
        _fix_extent(ax, b, t)
        cz, ce = (clabel.split(" ", 1) + [""])[:2] if clabel else ("", "")
        vz, ve = vlabel.split(" ", 1)
        _decorate(fig, ax, title or f"{cz}{vz} {ce}: {ve}", synthetic, handles, crs)
        ax.get_legend().set_title(f"{vlabel} %")
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
        fig.savefig(tmp, dpi=dpi, format=fmt, facecolor="white", bbox_inches="tight", pad_inches=0.25)
    return path
