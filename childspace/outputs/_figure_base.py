"""Map furniture shared by the static maps (地图要素): scale bar, north arrow, title, legend, label placement.

The helpers the figures of :mod:`childspace.outputs.figures`, :mod:`childspace.outputs.figures_routes`,
:mod:`childspace.outputs.figures_overview` and :mod:`childspace.outputs.atlas` are drawn with: a new figure, layers
brought to the local metric CRS, boundaries and their names, the extent, the scale bar of a round length, the
arrow to grid north, the bilingual title and legend (:func:`_decorate`), and the greedy placement of labels clear
of markers and of each other (:class:`_Labels`). Fonts and the drawing style are in
:mod:`childspace.outputs.figures` (:func:`childspace.outputs.figures._style`).
"""

from __future__ import annotations

import contextvars
import io
import os
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, overload

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import shapely
from matplotlib import cbook, ft2font, patheffects
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.path import Path
from pyproj import CRS

from childspace._errors import DataError
from childspace.inputs.projection import local_crs_for

_SYNTHETIC_NOTE = "示例数据（虚构） Synthetic sample data"


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
    best = 10.0**k
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * 10.0**k <= target:
            best = m * 10.0**k
    return float(best)


def _scale_label(length_m: float) -> str:
    if length_m >= 1000:
        km = length_m / 1000
        return f"{km:g} 公里 km"
    return f"{length_m:g} 米 m"


FURNITURE = "cs-furniture"  #: gid of the scale bar and north arrow of a map's axes: labels keep clear of them


def _decorate(fig: Figure, ax: Axes, title: str, synthetic: bool, handles: Sequence, crs: CRS) -> None:
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
    ax.add_patch(
        Rectangle((bx + length / 2, by), length / 2, h, facecolor="white", edgecolor="black", zorder=20)
    )
    halo = [patheffects.withStroke(linewidth=3, foreground="white")]
    ax.text(bx, by + 1.8 * h, "0", ha="center", va="bottom", fontsize=9, zorder=21, path_effects=halo)
    ax.text(
        bx + length,
        by + 1.8 * h,
        _scale_label(length),
        ha="center",
        va="bottom",
        fontsize=9,
        zorder=21,
        path_effects=halo,
    )
    # north arrow, upper right (grid north of the projected CRS)
    ax.annotate(
        "",
        xy=(0.95, 0.95),
        xytext=(0.95, 0.86),
        xycoords="axes fraction",
        arrowprops=dict(facecolor="black", edgecolor="black", width=5, headwidth=14, headlength=12),
        zorder=21,
    )
    ax.text(
        0.95,
        0.965,
        "N 北",
        transform=ax.transAxes,
        ha="center",
        va="bottom",
        fontsize=12,
        fontweight="bold",
        zorder=21,
        path_effects=halo,
    )
    for art in (*ax.patches[-2:], *ax.texts[-4:]):  # labels placed later keep clear of them
        art.set_gid(FURNITURE)
    fig.suptitle(title, fontsize=15, fontweight="bold", x=0.02, ha="left", y=0.975)
    note = f"坐标系 CRS: {crs.name} (EPSG:{crs.to_epsg()})"
    if synthetic:
        fig.text(
            0.02,
            0.925,
            _SYNTHETIC_NOTE,
            fontsize=11,
            fontweight="bold",
            color="#7a5200",
            bbox=dict(boxstyle="round,pad=0.3", facecolor="#fff3cd", edgecolor="#e0b84d"),
        )
    fig.text(0.02, 0.015, note, fontsize=8, color="#555555")
    labels = [str(h.get_label()) for h in handles]  # each label once (a layer drawn in two steps)
    handles = [h for i, h in enumerate(handles) if labels.index(labels[i]) == i]
    if handles:
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=True,
            fontsize=9,
            title="图例 Legend",
            title_fontsize=10,
            borderaxespad=0.0,
        )


# ----------------------------------------------------------------------------------------------------
# label placement
# ----------------------------------------------------------------------------------------------------

#: candidate positions of a point label, in order of preference: (dx, dy) signs of the offset from the marker
_POINT_SLOTS = np.array([(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)], dtype=float)
#: candidate shifts of an area label, in units of its own half width / half height
_AREA_SLOTS = np.array(
    [
        (0, 0),
        (0, 1.1),
        (0, -1.1),
        (0.6, 1.1),
        (-0.6, 1.1),
        (0.6, -1.1),
        (-0.6, -1.1),
        (0, 2.2),
        (0, -2.2),
        (1.1, 0),
        (-1.1, 0),
        (0, 3.3),
        (0, -3.3),
    ],
    dtype=float,
)


class _Labels:
    """Labels collected while a map is drawn and placed once its size and extent are final.

    Greedy, deterministic placement: labels are taken by priority (then in the order added); each tries a few
    positions (point labels: around the marker, then farther out with a leader line; area labels: the centre,
    then small shifts) and takes the first whose box overlaps no label placed before, no marker, no scale bar or
    north arrow (gid :data:`FURNITURE`) and stays inside the axes. A label that fits nowhere is tried in its short
    form (if given), else left out and counted. The boxes are compared in display units with array operations.
    """

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.obstacles: list[np.ndarray] = []
        self.left_out: list[str] = []

    def add(
        self,
        x: Sequence[float],
        y: Sequence[float],
        texts: Sequence[str],
        *,
        priority: float = 0.0,
        kind: str = "point",
        marker_pt: float = 4.0,
        short: Sequence[str | None] | None = None,
        **text_kw,
    ) -> None:
        """Queue labels at data coordinates (metres); ``marker_pt``: radius of the marker (points) to clear."""
        xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        shorts = list(short) if short is not None else [None] * len(xs)
        for xi, yi, t, sh in zip(xs, ys, texts, shorts):
            if np.isfinite(xi) and np.isfinite(yi) and str(t):
                self.rows.append(
                    {
                        "x": xi,
                        "y": yi,
                        "text": str(t),
                        "short": sh,
                        "priority": float(priority),
                        "kind": kind,
                        "marker_pt": float(marker_pt),
                        "kw": text_kw,
                    }
                )

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
        ext = [a.get_window_extent(renderer).extents for a in ax.get_children() if a.get_gid() == FURNITURE]
        boxes = np.concatenate(
            [boxes, np.reshape(ext, (-1, 4))]
        )  # the scale bar, the north arrow (_decorate)
        placed = np.zeros((len(self.rows) + len(boxes), 4))
        placed[: len(boxes)] = boxes
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
                kw = {"zorder": 16, "path_effects": halo, **row["kw"], "fontsize": fs}
                art = ax.text(row["x"], row["y"], text, ha="center", va="center", gid="cs-label", **kw)
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
                inside = (
                    (c[:, 0] >= frame.x0)
                    & (c[:, 2] <= frame.x1)
                    & (c[:, 1] >= frame.y0)
                    & (c[:, 3] <= frame.y1)
                )
                p = placed[:n]
                hit = (
                    (c[:, None, 0] < p[None, :, 2])
                    & (c[:, None, 2] > p[None, :, 0])
                    & (c[:, None, 1] < p[None, :, 3])
                    & (c[:, None, 3] > p[None, :, 1])
                ).any(axis=1)
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
        fig.text(
            0.98,
            0.015,
            f"另有 {n} 个标注因空间不足未显示 {n} labels not shown (no room)",
            fontsize=8,
            color="#555555",
            ha="right",
        )


Labels = _Labels  # (public names of the label placement)
note_left_out = _note_left_out


class FontBytes(io.BytesIO):
    """A font file's bytes, read once per process (FreeType reads them as it would read the file)."""

    def __init__(self, path: str) -> None:
        with open(path, "rb") as f:
            super().__init__(f.read())
        self.path = path


#: the fonts of :func:`_memory_font`, the text sizes and the glyph layouts of :class:`_TextRenderer`, for the whole
#: process (emptied in a forked child, as matplotlib empties its own font cache: an ``FT2Font`` is not to be shared
#: across ``fork``)
_FONTS: dict[tuple, ft2font.FT2Font] = {}
_SIZES: dict[tuple, tuple[float, float, float]] = {}
_LAYOUTS: dict[tuple, tuple[tuple[Any, int, float, float], ...]] = {}


def _forget_text() -> None:
    _FONTS.clear()
    _SIZES.clear()
    _LAYOUTS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_text)


def _font_key(prop: FontProperties) -> tuple:
    """The files (with face index), kerning factor and Last Resort setting ``font_manager.get_font`` (3.11) opens
    for ``prop``, and the thread (matplotlib keys its fonts on it: an ``FT2Font`` is not thread safe)."""
    paths = tuple(
        (os.path.realpath(f.path), f.face_index) if hasattr(f, "face_index") else (os.path.realpath(f), 0)
        for f in fontManager._find_fonts_by_props(prop)
    )
    return (
        paths,
        mpl.rcParams["text.kerning_factor"],
        mpl.rcParams["font.enable_last_resort"],
        threading.get_ident(),
    )


def _memory_font(key: tuple) -> ft2font.FT2Font:
    """The font (with its fallbacks) ``font_manager._get_font`` (3.11) makes for ``key`` (:func:`_font_key`), its
    files read into memory once per process.

    matplotlib opens a font file with Python's ``open`` and FreeType loads every glyph's outline and metrics with
    a ``seek`` and a ``read`` of it, for every string measured and again for every string drawn: with the 20 MB
    Noto Sans CJK collection that was 1.5–3 ms per short string, from memory 0.2–1.5 ms. The fallback order and
    the Last Resort font are those of ``_get_font``.
    """
    font = _FONTS.get(key)
    if font is None:
        paths, kerning, last_resort, _thread = key
        font = _FONTS[key] = memory_font(paths, kerning, last_resort)
    return font


def memory_font(paths: Sequence[tuple[str, int]], kerning: int | None, last_resort: bool) -> ft2font.FT2Font:
    """A font with its fallbacks, as ``font_manager._get_font`` (3.11) makes it, from the files' bytes in memory
    (:class:`FontBytes`): ``paths`` are the (file, face index) pairs of ``_find_fonts_by_props``, ``kerning``
    and ``last_resort`` the rcParams ``text.kerning_factor`` and ``font.enable_last_resort``."""
    (first, first_index), *rest = paths
    fallback = [
        ft2font.FT2Font(FontBytes(path), face_index=index, _kerning_factor=kerning) for path, index in rest
    ]
    last_path = os.path.realpath(mpl.get_data_path() + "/fonts/ttf/LastResortHE-Regular.ttf")
    try:
        last_index = list(paths).index((last_path, 0))
    except ValueError:
        last_index = -1
        if last_resort:
            fallback.append(
                ft2font.FT2Font(FontBytes(last_path), _kerning_factor=kerning, _warn_if_used=True)
            )
            last_index = len(fallback)
    font = ft2font.FT2Font(
        FontBytes(first), face_index=first_index, _fallback_list=fallback, _kerning_factor=kerning
    )
    if last_index == 0:
        font.set_charmap(0)
    elif last_index > 0:
        fallback[last_index - 1].set_charmap(0)
    return font


#: the Agg text drawing :class:`_TextRenderer` follows (matplotlib 3.11: libraqm layout items); elsewhere the
#: figures are drawn by matplotlib's own ``RendererAgg``
_TEXT_CACHE = tuple(int(v) for v in mpl.__version__.split(".")[:2]) == (3, 11) and all(
    hasattr(ft2font.FT2Font, name) for name in ("_layout", "_set_transform", "_render_glyph")
)


class _TextRenderer(RendererAgg):
    """matplotlib's Agg renderer with each string measured and laid out once per process, with fonts read from
    memory.

    A figure's text is measured at least twice by matplotlib (the tight bounding box of ``savefig`` is found with
    one renderer, the figure drawn with another; each keeps its own sizes), then laid out again to be drawn, and
    the legends, footers and scale bars repeat from figure to figure. The sizes and glyph positions are those
    ``RendererAgg.get_text_width_height_descent`` and ``RendererAgg.draw_text`` (3.11) compute, kept per string,
    font files, size, dpi and hinting; the glyphs are still rendered where each string is drawn.
    """

    def _prepare_font(self, font_prop):  # noqa: D102 - RendererAgg's, the font read from memory
        font: Any = _memory_font(_font_key(font_prop))  # (_set_transform is not in matplotlib's stubs)
        font._set_transform([[0x10000, 0], [0, 0x10000]], [0, 0])  # as font_manager.get_font does
        font.clear()
        font.set_size(font_prop.get_size_in_points(), self.dpi)
        return font

    def get_text_width_height_descent(self, s, prop, ismath):  # noqa: D102 - RendererAgg's, kept per process
        if ismath:
            return super().get_text_width_height_descent(s, prop, ismath)
        key = (s, _font_key(prop), prop.get_size_in_points(), self.dpi, get_hinting_flag())
        got = _SIZES.get(key)
        if got is None:
            got = _SIZES[key] = super().get_text_width_height_descent(s, prop, ismath)
        return got

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):  # noqa: D102 - RendererAgg's
        if ismath:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        flags = get_hinting_flag()
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        size = prop.get_size_in_points()
        fkey = _font_key(prop)
        key = (s, fkey, size, self.dpi, flags, _hashable(features), _hashable(language))
        items = _LAYOUTS.get(key)
        if items is None:
            font = self._prepare_font(prop)
            items = _LAYOUTS[key] = tuple(
                (item.ft_object, item.glyph_index, item.x, item.y)
                for item in font._layout(s, flags=flags, features=features, language=language)
            )
        self._draw_text_glyphs_and_boxes(
            gc, x, y, angle, ((ft, size, index, 0, 1, gx, gy) for ft, index, gx, gy in items), []
        )
        return None


def _hashable(value: Any) -> Any:
    """Font features or a language as part of a cache key (matplotlib takes them as str, list or tuple)."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


class OffscreenCanvas(FigureCanvasAgg):
    """An Agg canvas for figures that are only saved, never shown: ``draw_idle`` does nothing, and text is
    measured and laid out once per process (:class:`_TextRenderer`).

    GeoPandas' ``GeoDataFrame.plot`` ends with ``canvas.draw_idle()``, which on a plain Agg canvas renders the
    whole figure at once; a page with two GeoPandas layers was drawn three times (twice for nothing). The figure
    is drawn once, when it is saved.
    """

    def draw_idle(self, *args, **kwargs) -> None:  # noqa: D102 - see the class
        return None

    def print_png(self, filename_or_obj, *, metadata=None, pil_kwargs=None, **_kw) -> None:
        """Write the figure as PNG: the pixels matplotlib's ``print_png`` writes, encoded by :func:`write_png`
        (with ``metadata`` or ``pil_kwargs`` given, matplotlib's own encoder through Pillow). ``savefig`` hands a
        print method outside matplotlib all its options (``dpi``, ``facecolor``, ...): the figure has them set
        already, as for matplotlib's own method, which drops them."""
        if metadata is not None or pil_kwargs is not None:
            return super().print_png(filename_or_obj, metadata=metadata, pil_kwargs=pil_kwargs)
        FigureCanvasAgg.draw(self)
        with cbook.open_file_cm(filename_or_obj, "wb") as fh:
            write_png(fh, np.asarray(self.buffer_rgba()), self.figure.dpi)
        return None

    def get_renderer(self):  # noqa: D102 - FigureCanvasAgg's (3.11), with the text kept per process
        if not _TEXT_CACHE:
            return super().get_renderer()
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = _TextRenderer(w, h, self.figure.dpi)
            self._lastKey = key
        return self.renderer


#: zlib level of :func:`write_png`
PNG_LEVEL = 3
#: image rows compressed at a time by :func:`write_png` (bounds the copy with the filter bytes)
_PNG_ROWS = 256


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(fh: Any, rgba: np.ndarray, dpi: float) -> None:
    """Write an RGBA image (rows top to bottom, 8 bits a channel) to ``fh`` as a PNG, each row unfiltered.

    Pillow (which ``matplotlib.image.imsave`` encodes with) filters every row five ways and keeps the one that looks
    most compressible; a map's large areas of one colour and its anti-aliased lines compress better unfiltered, and
    the filtering was most of the encoding: on the county's figures the same pixels are written in about 45 % of
    the CPU time and 10–20 % fewer bytes (PNG filter type 0, W3C PNG 2nd ed., 9.2; zlib level :data:`PNG_LEVEL`).
    The chunks are those Pillow writes for matplotlib: the header, the ``Software`` text, the resolution (pixels
    per metre, as Pillow rounds them), the image data.
    """
    h, w, _ = rgba.shape
    ppm = int(dpi / 0.0254 + 0.5)
    software = f"Matplotlib version{mpl.__version__}, https://matplotlib.org/"
    fh.write(b"\x89PNG\r\n\x1a\n")
    fh.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)))
    fh.write(_png_chunk(b"tEXt", b"Software\x00" + software.encode("latin-1")))
    fh.write(_png_chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)))
    z = zlib.compressobj(PNG_LEVEL)
    rows = np.zeros(
        (min(h, _PNG_ROWS), 1 + 4 * w), dtype=np.uint8
    )  # column 0: the filter type of each row (0)
    for start in range(0, h, _PNG_ROWS):
        n = min(_PNG_ROWS, h - start)
        rows[:n, 1:] = rgba[start : start + n].reshape(n, 4 * w)
        data = z.compress(rows[:n].tobytes())
        if data:
            fh.write(_png_chunk(b"IDAT", data))
    fh.write(_png_chunk(b"IDAT", z.flush()))
    fh.write(_png_chunk(b"IEND", b""))


def new_canvas(fig: Figure) -> OffscreenCanvas:
    """Attach an :class:`OffscreenCanvas` to ``fig`` (text sizes and label placement work; nothing is shown)."""
    return OffscreenCanvas(fig)


def _new_figure() -> tuple[Figure, Axes]:
    fig = Figure(figsize=(12, 8.5), dpi=100)
    new_canvas(fig)
    ax = fig.add_axes((0.02, 0.05, 0.68, 0.84))
    return fig, ax


#: layers already brought to a metric CRS, kept while :func:`metric_layers_kept` is in force: (id of the layer,
#: simplification) -> [(layer, CRS, result)]
_METRIC_KEPT: contextvars.ContextVar[dict | None] = contextvars.ContextVar("cs_metric_kept", default=None)


@contextmanager
def metric_layers_kept() -> Iterator[None]:
    """Within this block :func:`_metric` brings each layer to a CRS once (the atlas's category pages draw the same
    boundaries and facilities ten times over); the layers must not change meanwhile, nor their results be changed
    in place (the figures copy what they change)."""
    token = _METRIC_KEPT.set({})
    try:
        yield
    finally:
        _METRIC_KEPT.reset(token)


@overload
def _metric(gdf: None, crs: CRS, what: str, simplify_m: float = 0.0) -> None: ...
@overload
def _metric(gdf: gpd.GeoDataFrame, crs: CRS, what: str, simplify_m: float = 0.0) -> gpd.GeoDataFrame: ...
def _metric(
    gdf: gpd.GeoDataFrame | None, crs: CRS, what: str, simplify_m: float = 0.0
) -> gpd.GeoDataFrame | None:
    """``gdf`` in the figure's metric CRS, empty geometries dropped, simplified to ``simplify_m`` metres (a
    figure at 150–300 dpi shows nothing finer than a few metres of a county)."""
    if gdf is None:
        return None
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise DataError(
            f"{what} must be a GeoDataFrame, got {type(gdf).__name__}",
            feature=what,
            fix=f"pass {what} as a GeoDataFrame",
        )
    if gdf.crs is None:
        raise DataError(
            f"{what} has no CRS",
            feature=what,
            fix="load it through childspace.inputs.loaders or set its CRS with .set_crs()",
        )
    kept = _METRIC_KEPT.get()
    if kept is not None:
        for layer, layer_crs, result in kept.get((id(gdf), simplify_m), ()):
            if layer is gdf and (layer_crs is crs or layer_crs == crs):
                return result
    out = gdf.to_crs(crs)
    out = out[~(out.geometry.isna() | out.geometry.is_empty)]
    if simplify_m > 0 and len(out):
        out = out.set_geometry(
            shapely.simplify(
                np.asarray(out.geometry.values, dtype=object), simplify_m, preserve_topology=True
            ),
            crs=out.crs,
        )
    if kept is not None:
        kept.setdefault((id(gdf), simplify_m), []).append((gdf, crs, out))
    return out


def _crs_for(*layers: gpd.GeoDataFrame | None) -> CRS:
    for g in layers:
        if g is not None and len(g):
            if g.crs is None:
                raise DataError(
                    "a layer has no CRS", fix="load it through childspace.inputs.loaders or set its CRS"
                )
            return local_crs_for(g)
    raise DataError("nothing to draw: every layer given is empty", fix="check the inputs of the figure")


#: the boundary levels as they are outlined: level, colour, line width, line style, legend label
_BOUNDARY_STYLES = (
    ("community", "#777777", 0.7, "--", "村社区边界 Community boundary"),
    ("township", "#222222", 1.8, "-", "乡镇街道边界 Township boundary"),
)


def boundary_levels(b: gpd.GeoDataFrame) -> np.ndarray:
    """The level of each boundary (``level`` as text; all communities without the column)."""
    return b["level"].astype(str).to_numpy() if "level" in b.columns else np.array(["community"] * len(b))


def draw_outlines(ax: Axes, level: np.ndarray, outlines: np.ndarray, handles: list) -> None:
    """The outlines of boundaries (``outlines``: their ``.boundary``; ``level``: :func:`boundary_levels`) as
    :func:`_draw_boundaries` draws them, each level drawn with its legend entry, without names."""
    for lev, colour, lw, ls, lab in _BOUNDARY_STYLES:
        sel = level == lev
        if not sel.any():
            continue
        line_collection(ax, outlines[sel], color=colour, linewidth=lw, linestyle=ls, zorder=6)
        handles.append(Line2D([], [], color=colour, lw=lw + 0.5, ls=ls, label=lab))


def _draw_boundaries(
    ax,
    b: gpd.GeoDataFrame | None,
    handles: list,
    label_limit: int = 60,
    outline: Sequence[str] = ("community", "township"),
    labels: _Labels | None = None,
) -> None:
    if b is None or not len(b):
        return
    level = boundary_levels(b)
    halo = [patheffects.withStroke(linewidth=3, foreground="white")]
    for lev, colour, lw, ls, lab in _BOUNDARY_STYLES:
        sub = b[level == lev]
        if not len(sub):
            continue
        if lev in outline:
            line_collection(ax, sub.boundary, color=colour, linewidth=lw, linestyle=ls, zorder=6)
            handles.append(Line2D([], [], color=colour, lw=lw + 0.5, ls=ls, label=lab))
        show_labels = lev == "township" or not (level == "township").any()
        if "name" in sub.columns and len(sub) <= label_limit and show_labels:
            pts = sub.geometry.representative_point()
            if labels is not None:  # placed later, clear of markers and other labels
                labels.add(
                    pts.x,
                    pts.y,
                    sub["name"].astype(str).tolist(),
                    kind="area",
                    priority=3.0 if lev == "township" else 1.0,
                    fontsize=10 if lev == "township" else 8,
                    fontweight="bold" if lev == "township" else "normal",
                    zorder=15,
                )
                continue
            for x, y, t in zip(pts.x, pts.y, sub["name"].astype(str)):
                ax.text(
                    x,
                    y,
                    t,
                    ha="center",
                    va="center",
                    fontsize=10 if lev == "township" else 8,
                    fontweight="bold" if lev == "township" else "normal",
                    zorder=15,
                    path_effects=halo,
                )


def _fix_extent(ax, *layers: gpd.GeoDataFrame | None, pad: float = 0.04) -> None:
    b = np.array([g.total_bounds for g in layers if g is not None and len(g)])
    set_extent(ax, (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()), pad=pad)


def set_extent(ax, bounds: Sequence[float] | np.ndarray, pad: float = 0.04) -> None:
    """The map's extent around ``bounds`` (minx, miny, maxx, maxy), as :func:`_fix_extent` sets it."""
    minx, miny, maxx, maxy = bounds
    dx, dy = (maxx - minx) or 100.0, (maxy - miny) or 100.0
    ax.set_xlim(minx - pad * dx, maxx + pad * dx)
    ax.set_ylim(miny - (pad + 0.08) * dy, maxy + (pad + 0.06) * dy)  # room for scale bar and arrow


def line_collection(ax: Axes, geoms: gpd.GeoSeries | np.ndarray, **kw) -> LineCollection | None:
    """Lines (and polygon outlines: pass ``.boundary``) as one matplotlib collection: one draw call per layer.

    ``color`` and ``linewidth`` may be one value or one per geometry (multi-part geometries repeat theirs); the
    vertices are read with array operations, never geometry by geometry.
    """
    arr = np.asarray(geoms.values if isinstance(geoms, gpd.GeoSeries) else geoms, dtype=object)
    if not len(arr):
        return None
    parts, owner = shapely.get_parts(arr, return_index=True)
    keep = np.isin(shapely.get_type_id(parts), (1, 2))  # LineString, LinearRing
    parts, owner = parts[keep], owner[keep]
    if not len(parts):
        return None
    xy, idx = shapely.get_coordinates(parts, return_index=True)
    segs = np.split(xy, np.flatnonzero(np.diff(idx)) + 1)
    for key in ("color", "colors", "linewidth", "linewidths"):
        v = kw.get(key)
        if v is not None and not isinstance(v, str) and np.ndim(v) and len(v) == len(arr):
            kw[key] = np.asarray(v, dtype=object if key.startswith("color") else float)[owner]
            if key.startswith("color"):
                kw[key] = list(kw[key])
    coll = LineCollection(segs, **kw)
    ax.add_collection(coll, autolim=False)
    return coll


def polygon_collection(
    ax: Axes,
    geoms: gpd.GeoSeries | np.ndarray,
    facecolor: str | Sequence[str] | np.ndarray = "none",
    **kw,
) -> PathCollection | None:
    """Polygons as one matplotlib collection with one compound path per fill colour (hatches are drawn once per
    colour, not once per polygon); rings are read with array operations.

    ``facecolor``: one colour or one per geometry; other keywords (``edgecolor``, ``linewidth``, ``hatch``,
    ``alpha``, ``zorder``) apply to the whole layer.
    """
    arr = np.asarray(geoms.values if isinstance(geoms, gpd.GeoSeries) else geoms, dtype=object)
    if not len(arr):
        return None
    fc = np.asarray([facecolor] * len(arr) if isinstance(facecolor, str) else list(facecolor), dtype=object)
    parts, owner = shapely.get_parts(arr, return_index=True)
    poly = shapely.get_type_id(parts) == 3
    parts, owner = (
        shapely.orient_polygons(parts[poly]),
        owner[poly],
    )  # exterior anticlockwise, holes clockwise
    if not len(parts):
        return None
    rings, ring_owner = shapely.get_rings(parts, return_index=True)
    xy, idx = shapely.get_coordinates(rings, return_index=True)
    codes = np.full(len(xy), Path.LINETO, dtype=np.uint8)
    first = np.r_[0, np.flatnonzero(np.diff(idx)) + 1]
    codes[first] = Path.MOVETO
    codes[np.r_[first[1:] - 1, len(xy) - 1]] = Path.CLOSEPOLY
    colour_of_vertex = fc[owner[ring_owner[idx]]]
    paths, colours = [], []
    for colour in dict.fromkeys(fc[owner].tolist()):
        sel = colour_of_vertex == colour
        paths.append(Path(xy[sel], codes[sel]))
        colours.append(colour)
    coll = PathCollection(paths, facecolors=colours, **kw)
    ax.add_collection(coll, autolim=True)
    ax.autoscale_view()
    return coll
