"""The atlas's PDF pages, with each line of text laid out once per atlas rather than once per page.

matplotlib lays out a line of text twice for every page it is on (its size, then its glyphs as drawn), at about
25–80 µs per character with the CJK font, and its cache of sizes lives only as long as one page. An atlas repeats
most of its text on every page (the footer, the legend, the status rule, the checklist's headings; about 60 % of the
characters of a county's 59 pages). :class:`AtlasCanvas` saves pages with a PDF renderer whose text sizes and (on
matplotlib 3.11) glyph layouts are kept for the whole atlas: the same strings, fonts and positions are written,
each string laid out once.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import matplotlib as mpl
from matplotlib.backends import backend_pdf
from matplotlib.backends.backend_mixed import MixedModeRenderer
from matplotlib.backends.backend_pdf import PdfPages, RendererPdf
from matplotlib.figure import Figure

from childspace.outputs._figure_base import OffscreenCanvas

__all__ = ["AtlasCanvas", "TextLayouts", "save_page"]

#: glyph layouts are kept on the matplotlib releases whose PDF text drawing this module follows (3.11: libraqm
#: layout items); elsewhere only the text sizes are kept and matplotlib draws the glyphs itself
_LAYOUT_ITEMS = tuple(int(v) for v in mpl.__version__.split(".")[:2]) == (3, 11) and all(
    hasattr(backend_pdf, name) for name in ("Op", "FontPath", "LoadFlags")
)


class TextLayouts:
    """Text sizes and glyph layouts of one atlas, shared by its pages (keyed by string and font properties)."""

    def __init__(self) -> None:
        self.sizes: dict[tuple, tuple[float, float, float]] = {}
        self.glyphs: dict[tuple, list] = {}


class _Renderer(RendererPdf):
    """matplotlib's PDF renderer, with the text sizes and glyph layouts of :class:`TextLayouts`."""

    def __init__(
        self, file: Any, image_dpi: float, height: float, width: float, layouts: TextLayouts
    ) -> None:
        super().__init__(file, image_dpi, height, width)
        self._layouts = layouts

    def get_text_width_height_descent(self, s, prop, ismath):  # noqa: D102 - RendererPdf's, kept per atlas
        if ismath:
            return super().get_text_width_height_descent(s, prop, ismath)
        # FontProperties compare by their hash (matplotlib's own metrics cache keys on it the same way)
        key = (s, hash(prop))
        got = self._layouts.sizes.get(key)
        if got is None:
            got = self._layouts.sizes[key] = super().get_text_width_height_descent(s, prop, ismath)
        return got

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):  # noqa: D102
        if (
            not _LAYOUT_ITEMS
            or ismath
            or mpl.rcParams["pdf.use14corefonts"]
            or gc.get_url() is not None
            or (mtext is not None and (mtext.get_fontfeatures() or mtext.get_language()))
        ):
            return super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
        self._draw_laid_out(gc, x, y, s, prop, angle)
        return None

    def _glyphs(self, s: str, prop) -> list:
        key = (s, hash(prop))
        items = self._layouts.glyphs.get(key)
        if items is None:
            font = self._get_font_ttf(prop)
            # the layout items as matplotlib's ``_text_helpers.layout`` yields them (it also loads each glyph's
            # outline, which the PDF renderer does not use: the glyphs are embedded from the font file)
            items = self._layouts.glyphs[key] = [
                (it.ft_object, it.char, it.glyph_index, it.x, it.y, it.prev_kern)
                for it in font._layout(s, backend_pdf.LoadFlags.NO_HINTING)
            ]
        return items

    def _draw_laid_out(self, gc, x, y, s, prop, angle) -> None:
        """matplotlib 3.11's ``RendererPdf.draw_text`` for TrueType/Type 3 fonts, with the layout kept per atlas."""
        Op, FontPath = backend_pdf.Op, backend_pdf.FontPath
        self.check_gc(gc, gc._rgb)
        fontsize = prop.get_size_in_points()
        fonttype = mpl.rcParams["pdf.fonttype"]
        items = self._glyphs(s, prop)
        file = self.file

        def output_singlebyte_chunk(kerns_or_chars: list) -> None:
            if not kerns_or_chars:
                return
            file.output(
                [
                    (-1000 * next(group) / fontsize) if tp is float else self._encode_glyphs(group, fonttype)
                    for tp, group in itertools.groupby(kerns_or_chars, type)
                ],
                Op.showkern,
            )
            kerns_or_chars.clear()

        file.output(Op.gsave)
        a = math.radians(angle)
        file.output(math.cos(a), math.sin(a), -math.sin(a), math.cos(a), x, y, Op.concat_matrix)
        chunk: list = []
        prev_font = None
        prev_start_x = 0
        file.output(Op.begin_text)
        for ft_object, char, glyph_index, ix, iy, prev_kern in items:
            subset, charcode = file._character_tracker.track_glyph(ft_object, char, glyph_index)
            if (ft_object, subset) != prev_font:
                output_singlebyte_chunk(chunk)
                ft_name = file.fontName(FontPath(ft_object.fname, ft_object.face_index), subset)
                file.output(ft_name, fontsize, Op.selectfont)
                self._setup_textpos(ix, 0, 0, prev_start_x, 0, 0)
                prev_font = (ft_object, subset)
                prev_start_x = ix
            if iy:
                output_singlebyte_chunk(chunk)
                file.output(iy, Op.textrise)
            if prev_kern:
                chunk.append(prev_kern)
            chunk.append(charcode)
            if iy:
                output_singlebyte_chunk(chunk)
                file.output(0, Op.textrise)
        output_singlebyte_chunk(chunk)
        file.output(Op.end_text)
        file.output(Op.grestore)


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
