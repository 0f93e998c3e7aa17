"""The atlas's PDF pages, with each line of text laid out once per atlas rather than once per page.

matplotlib lays out a line of text twice for every page it is on (its size, then its glyphs as drawn), at about
25–80 µs per character with the CJK font, and its cache of sizes lives only as long as one page. An atlas repeats
most of its text on every page (the footer, the legend, the status rule, the checklist's headings: about 60 % of the
characters of a county's 59 pages). :class:`AtlasCanvas` saves pages with a PDF renderer that keeps, for the whole
atlas, each string's size and (on matplotlib 3.11) the operators that show it: the same strings, fonts, glyphs and
positions are written, each string laid out once.
"""

from __future__ import annotations

import itertools
import math
import os
from typing import Any, NamedTuple

import matplotlib as mpl
import numpy as np
from matplotlib import _path, ft2font
from matplotlib.backends import backend_pdf
from matplotlib.backends.backend_mixed import MixedModeRenderer
from matplotlib.backends.backend_pdf import PdfPages, RendererPdf
from matplotlib.figure import Figure
from matplotlib.font_manager import fontManager, get_font
from matplotlib.path import Path
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from childspace.outputs._figure_base import FontBytes, OffscreenCanvas, memory_font

__all__ = ["AtlasCanvas", "TextLayouts", "save_page"]

#: the shown strings are kept on the matplotlib release whose PDF text drawing this module follows (3.11: libraqm
#: layout items); elsewhere only the text sizes are kept and matplotlib draws the glyphs itself
_KEEP_SHOWN = tuple(int(v) for v in mpl.__version__.split(".")[:2]) == (3, 11) and all(
    hasattr(backend_pdf, name) for name in ("Op", "FontPath", "LoadFlags", "_fill", "pdfRepr")
)

#: decimals of the path coordinates written (points): 1/100 pt = 0.0035 mm
_DECIMALS = 2


class TextLayouts:
    """Text sizes and shown strings of one atlas (one PDF file), shared by its pages.

    Keyed by the string and its font properties (``FontProperties`` compare by their hash; matplotlib's own
    metrics cache keys on them the same way).
    """

    def __init__(self) -> None:
        self.sizes: dict[tuple, tuple[float, float, float]] = {}
        #: the operators that show each string (font, glyph codes, kerning), as written into ``file``
        self.shown: dict[tuple, bytes] = {}
        #: (ascent, descent, line gap) of each font, as matplotlib 3.11's ``Text._get_layout`` reads them at 72 dpi
        self.heights: dict[int, tuple[float, float, float] | tuple[None, None, None]] = {}
        self.file: Any = None
        #: the layout of each text (``Text._get_layout``: its box and lines), by the text and what it depends on
        self.text_boxes: dict[tuple, tuple] = {}
        #: the fonts the strings are measured and laid out with, read from memory (:func:`_memory_font`)
        self.fonts: dict[tuple, ft2font.FT2Font] = {}
        #: the same fonts, by the font properties and rcParams they were found for
        self.fonts_found: dict[tuple, ft2font.FT2Font] = {}


class _Face(NamedTuple):
    """The font file and face a glyph came from, as matplotlib's ``CharacterTracker.track_glyph`` reads them."""

    fname: str
    face_index: int


def _face(ft_object: Any) -> _Face:
    """The file and face of an ``FT2Font`` made by :func:`_memory_font` (or one opened from its file)."""
    fname = ft_object.fname
    return _Face(fname.path if isinstance(fname, FontBytes) else fname, ft_object.face_index)


#: the rcParams ``FontManager.findfont`` (3.11) finds a font's files with, besides the font properties
_FONT_RC = (
    "family",
    "style",
    "variant",
    "weight",
    "stretch",
    "size",
    "serif",
    "sans-serif",
    "cursive",
    "fantasy",
    "monospace",
)


def _rc_key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _memory_font(prop, layouts: TextLayouts) -> ft2font.FT2Font:
    """The font (with its fallbacks) matplotlib 3.11's ``RendererPDFPSBase._get_font_ttf`` gives for ``prop``, its
    files read into memory once per atlas, cleared and sized as that method does.

    matplotlib opens a font file through Python's ``open`` and FreeType reads every glyph outline and metric with a
    ``seek`` and a ``read`` of it (both measuring a string and laying it out load each glyph): from memory the same
    bytes are read in about 40 % of the time. The font, the fallback order and the Last Resort font are those of
    ``font_manager._get_font`` (3.11).
    """
    kerning = mpl.rcParams["text.kerning_factor"]
    last_resort = mpl.rcParams["font.enable_last_resort"]
    # the files found for ``prop`` depend on it and on the rcParams ``FontManager.findfont`` reads: looked up once
    # per atlas for each (finding them and resolving their links cost as much as the layout of a short string)
    params: Any = mpl.rcParams  # (indexed by names built here)
    found = (hash(prop), *(_rc_key(params[f"font.{k}"]) for k in _FONT_RC), kerning, last_resort)
    font = layouts.fonts_found.get(found)
    if font is None:
        font_path = backend_pdf.FontPath  # (3.11: a file path with a face index)
        paths = tuple(
            (os.path.realpath(f.path), f.face_index) if isinstance(f, font_path) else (os.path.realpath(f), 0)
            for f in fontManager._find_fonts_by_props(prop)
        )
        key = (paths, kerning, last_resort)
        font = layouts.fonts.get(key)
        if font is None:
            font = memory_font(paths, kerning, last_resort)
            layouts.fonts[key] = font
        layouts.fonts_found[found] = font
    font.clear()
    font.set_size(prop.get_size_in_points(), 72)
    return font


def _font_height_metrics(prop) -> tuple[float, float, float] | tuple[None, None, None]:
    """The font's line metrics as matplotlib 3.11's ``Text._get_layout`` reads them (figure at 72 dpi, as pages
    are printed to PDF)."""
    font: Any = get_font(fontManager._find_fonts_by_props(prop))  # (the table names are typed literals)
    for table_name, gap_key, ascent_key, descent_key in (
        ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
        ("hhea", "lineGap", "ascent", "descent"),
    ):
        table = font.get_sfnt_table(table_name)
        if table is None:
            continue
        scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * 72 / 72
        return table[ascent_key] * scale, -table[descent_key] * scale, table[gap_key] * scale
    return None, None, None


def _one_opaque_stroke(
    gc,
    paths,
    all_transforms,
    offsets,
    facecolors,
    edgecolors,
    linewidths,
    linestyles,
    antialiaseds,
    urls,
    hatchcolors,
) -> bool:
    """Whether a path collection is only stroked, in one opaque style, at one place: drawing its paths as one
    compound path paints the same pixels (an opaque colour painted twice where lines overlap is the same colour;
    filled layers are left alone: the fill rule would count overlapping rings of a compound path together)."""
    if len(paths) < 2 or len(all_transforms) or len(offsets) > 1 or len(facecolors) or gc.get_hatch():
        return False
    if any(
        len(v) > 1
        for v in (
            edgecolors,
            linewidths,
            linestyles,
            antialiaseds,
            [] if hatchcolors is None else hatchcolors,
        )
    ):
        return False
    if len(edgecolors) != 1 or any(u is not None for u in urls):
        return False
    alpha = gc.get_alpha() if gc.get_forced_alpha() else 1.0
    return float(np.asarray(edgecolors)[0][3]) == 1.0 and alpha == 1.0


class _Renderer(RendererPdf):
    """matplotlib's PDF renderer, with the text sizes and shown strings of :class:`TextLayouts`."""

    def __init__(
        self, file: Any, image_dpi: float, height: float, width: float, layouts: TextLayouts
    ) -> None:
        super().__init__(file, image_dpi, height, width)
        self._layouts = layouts

    def get_text_width_height_descent(self, s, prop, ismath):  # noqa: D102 - RendererPdf's, kept per atlas
        if ismath:
            return super().get_text_width_height_descent(s, prop, ismath)
        key = (s, hash(prop))
        got = self._layouts.sizes.get(key)
        if got is None:
            if _KEEP_SHOWN and not mpl.rcParams["pdf.use14corefonts"]:
                # RendererPDFPSBase.get_text_width_height_descent (3.11) with the font read from memory
                font = _memory_font(prop, self._layouts)
                font.set_text(s, 0.0, flags=ft2font.LoadFlags.NO_HINTING)
                w, h = font.get_width_height()
                got = (w / 64, h / 64, font.get_descent() / 64)
            else:
                got = super().get_text_width_height_descent(s, prop, ismath)
            self._layouts.sizes[key] = got
        return got

    def draw_path_collection(  # noqa: D102 - RendererPdf's; a stroked-only layer of one style as one path
        self,
        gc,
        master_transform,
        paths,
        all_transforms,
        offsets,
        offset_trans,
        facecolors,
        edgecolors,
        linewidths,
        linestyles,
        antialiaseds,
        urls,
        offset_position,
        *,
        hatchcolors=None,
    ):
        if _one_opaque_stroke(
            gc,
            paths,
            all_transforms,
            offsets,
            facecolors,
            edgecolors,
            linewidths,
            linestyles,
            antialiaseds,
            urls,
            hatchcolors,
        ):
            # the outlines of a layer (community boundaries, service areas) in one path: the same lines, dashes
            # restart at each subpath as they did at each path (PDF 32000-1 8.4.3.6), drawn in one call instead
            # of one per ring (matplotlib's per-path loop was a fifth of a coverage page)
            paths = [Path.make_compound_path(*paths)]
        return super().draw_path_collection(
            gc,
            master_transform,
            paths,
            all_transforms,
            offsets,
            offset_trans,
            facecolors,
            edgecolors,
            linewidths,
            linestyles,
            antialiaseds,
            urls,
            offset_position,
            hatchcolors=hatchcolors,
        )

    def draw_path(self, gc, path, transform, rgbFace=None):  # noqa: D102 - RendererPdf's, 2 decimals
        codes = path.codes
        if not _KEEP_SHOWN or (codes is not None and np.isin(codes, (Path.CURVE3, Path.CURVE4)).any()):
            return super().draw_path(gc, path, transform, rgbFace)
        # RendererPdf.draw_path and PdfFile.writePath with the coordinates of straight lines written to 1/100 point
        # (0.0035 mm on paper; matplotlib writes 6 decimals): a third fewer bytes to compress and store for the
        # coverage pages' outlines; curves (glyph outlines of haloed labels, markers) keep matplotlib's 6
        self.check_gc(gc, rgbFace)
        file = self.file
        if rgbFace is None and gc.get_hatch_path() is None:
            clip: tuple[float, float, float, float] | None = (0.0, 0.0, file.width * 72, file.height * 72)
            simplify = path.should_simplify
        else:
            clip, simplify = None, False
        ops = backend_pdf.Op
        file.output(
            backend_pdf.Verbatim(
                _path.convert_to_string(  # type: ignore[attr-defined]  # (a C extension without stubs)
                    path,
                    transform,
                    clip,
                    simplify,
                    gc.get_sketch_params(),
                    _DECIMALS,
                    [ops.moveto.value, ops.lineto.value, b"", ops.curveto.value, ops.closepath.value],
                    True,
                )
            )
        )
        file.output(self.gc.paint())
        return None

    def _get_font_height_metrics(self, prop):
        # matplotlib 3.11's Text._get_layout asks this first and, for a TrueType font (None here), reads the font's
        # line metrics itself for every text on every page: they are read once per font here, as it reads them
        got = super()._get_font_height_metrics(prop)
        if not _KEEP_SHOWN or got[0] is not None:
            return got
        key = hash(prop)
        got = self._layouts.heights.get(key)
        if got is None:
            got = self._layouts.heights[key] = _font_height_metrics(prop)
        return got

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):  # noqa: D102
        if (
            not _KEEP_SHOWN
            or ismath
            or mpl.rcParams["pdf.use14corefonts"]
            or gc.get_url() is not None
            or (mtext is not None and (mtext.get_fontfeatures() or mtext.get_language()))
        ):
            return super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
        file = self.file
        if self._layouts.file is None:
            self._layouts.file = file
        elif self._layouts.file is not file:
            raise ValueError("the text layouts of an atlas belong to one PDF file")
        Op = backend_pdf.Op
        # as RendererPdf.draw_text: the colour, the position and angle as one matrix, then the string shown
        self.check_gc(gc, gc._rgb)
        key = (s, hash(prop), mpl.rcParams["pdf.fonttype"])
        shown = self._layouts.shown.get(key)
        if shown is None:
            shown = self._layouts.shown[key] = self._show(s, prop)
        file.output(Op.gsave)
        a = math.radians(angle)
        file.output(math.cos(a), math.sin(a), -math.sin(a), math.cos(a), x, y, Op.concat_matrix)
        file.write(shown)
        return None

    def _show(self, s: str, prop) -> bytes:
        """The bytes matplotlib 3.11's ``RendererPdf.draw_text`` writes for ``s`` from ``BT`` to ``Q`` (the fonts
        are named and the glyphs tracked for embedding here, the first time the string is shown)."""
        Op = backend_pdf.Op
        fontsize = prop.get_size_in_points()
        fonttype = mpl.rcParams["pdf.fonttype"]
        file = self.file
        font = _memory_font(prop, self._layouts)  # (as ``self._get_font_ttf(prop)``, read from memory)
        ops: list[bytes] = []

        def output(*data) -> None:  # PdfFile.output, into ``ops``
            ops.append(backend_pdf._fill([backend_pdf.pdfRepr(d) for d in data]) + b"\n")

        def output_singlebyte_chunk(kerns_or_chars: list) -> None:
            if not kerns_or_chars:
                return
            output(
                [
                    (-1000 * next(group) / fontsize) if tp is float else self._encode_glyphs(group, fonttype)
                    for tp, group in itertools.groupby(kerns_or_chars, type)
                ],
                Op.showkern,
            )
            kerns_or_chars.clear()

        chunk: list = []
        prev_font = None
        prev_start_x = 0.0
        output(Op.begin_text)
        # the layout items of matplotlib's ``_text_helpers.layout``, which also loads each glyph's outline (the
        # PDF renderer does not use it: the glyphs are embedded from the font file)
        for item in font._layout(s, backend_pdf.LoadFlags.NO_HINTING):
            face = _face(item.ft_object)  # the font file, as the glyphs are embedded from it
            subset, charcode = file._character_tracker.track_glyph(face, item.char, item.glyph_index)
            if (item.ft_object, subset) != prev_font:
                output_singlebyte_chunk(chunk)
                ft_name = file.fontName(backend_pdf.FontPath(face.fname, face.face_index), subset)
                output(ft_name, fontsize, Op.selectfont)
                output(item.x - prev_start_x, 0, Op.textpos)  # RendererPdf._setup_textpos, unrotated
                prev_font = (item.ft_object, subset)
                prev_start_x = item.x
            if item.y:
                output_singlebyte_chunk(chunk)
                output(item.y, Op.textrise)
            if item.prev_kern:
                chunk.append(item.prev_kern)
            chunk.append(charcode)
            if item.y:
                output_singlebyte_chunk(chunk)
                output(0, Op.textrise)
        output_singlebyte_chunk(chunk)
        output(Op.end_text)
        output(Op.grestore)
        return b"".join(ops)


_text_layout = getattr(Text, "_get_layout")  # noqa: B009 - (private, not in the stubs)


def _atlas_text_layout(text: Text, renderer) -> tuple:
    """``Text._get_layout`` (3.11), kept per atlas for the pages' renderers (:class:`_Renderer`).

    A text is laid out up to three times a page (its legend's box measured, then drawn; its own box; its lines),
    and most of them are on every page: the result is a function of the text, its font, alignment, spacing,
    rotation and the figure's dpi, with the sizes of the strings (kept per atlas too) and the font's line metrics.
    Other renderers (the Agg canvases of the figures, a rasterized part of a page) get matplotlib's own.
    """
    layouts = getattr(getattr(renderer, "_renderer", renderer), "_layouts", None)
    if not isinstance(layouts, TextLayouts) or text.get_wrap() or text.get_usetex():
        return _text_layout(text, renderer)
    key = (
        text.get_text(),
        hash(text.get_fontproperties()),
        text._linespacing,  # type: ignore[attr-defined]  # (private in the stubs)
        text.get_rotation(),
        text.get_horizontalalignment(),
        text.get_verticalalignment(),
        text._get_multialignment(),  # type: ignore[attr-defined]
        text.get_rotation_mode(),
        text.get_parse_math(),
        text.get_figure(root=True).dpi,  # type: ignore[union-attr]  # (a text being drawn is on a figure)
    )
    got = layouts.text_boxes.get(key)
    if got is None:
        got = layouts.text_boxes[key] = _text_layout(text, renderer)
    bbox, lines, box = got
    return Bbox(bbox.get_points().copy()), list(lines), box  # (a fresh box: callers may move it)


def _keep_text_layouts() -> None:
    """Text layouts kept per atlas from now on in this process (:func:`_atlas_text_layout`; the same layouts
    for any other renderer)."""
    if _KEEP_SHOWN and getattr(Text, "_get_layout") is _text_layout:  # noqa: B009
        setattr(Text, "_get_layout", _atlas_text_layout)  # noqa: B010


class AtlasCanvas(OffscreenCanvas):
    """An off-screen canvas that saves its figure as a page of a :class:`PdfPages` with shared text layouts."""

    def __init__(self, figure: Figure, layouts: TextLayouts) -> None:
        super().__init__(figure)
        self.layouts = layouts

    def print_pdf(self, filename, *, bbox_inches_restore=None, metadata=None, **_kw) -> None:
        """One page into ``filename`` (a :class:`PdfPages`), as matplotlib's ``FigureCanvasPdf.print_pdf``."""
        fig = self.figure
        dpi = fig.dpi
        fig.dpi = 72  # 72 PDF points to an inch (Figure.savefig restores the dpi)
        width, height = fig.get_size_inches()
        file = filename._ensure_file()
        _keep_text_layouts()
        try:
            file.newPage(width, height)
            renderer = MixedModeRenderer(
                fig,
                width,
                height,
                dpi,
                _Renderer(file, dpi, height, width, self.layouts),
                bbox_inches_restore=bbox_inches_restore,
            )
            fig.draw(renderer)  # type: ignore[arg-type]  # MixedModeRenderer delegates to the PDF renderer
            renderer.finalize()
        finally:
            file.endStream()


def save_page(pdf: PdfPages, fig: Figure, layouts: TextLayouts, dpi: float) -> None:
    """Append ``fig`` to ``pdf`` as one page, its text laid out with (and added to) ``layouts``."""
    canvas = fig.canvas
    if not isinstance(canvas, AtlasCanvas) or canvas.layouts is not layouts:
        AtlasCanvas(fig, layouts)
    # the figure's own canvas prints it (not PdfPages.savefig, which would switch to a plain PDF canvas)
    fig.savefig(pdf, format="pdf", dpi=dpi)  # type: ignore[arg-type]  # our print_pdf takes PdfPages
