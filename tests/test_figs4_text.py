"""Figures' text measured and laid out once per process (``_figure_base._TextRenderer``): the same PNG bytes,
sizes and glyph positions as matplotlib's own Agg renderer."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from matplotlib import patheffects  # noqa: E402
from matplotlib.backends.backend_agg import RendererAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402

from childspace.outputs import _figure_base as fb  # noqa: E402
from childspace.outputs import figures as plot  # noqa: E402

pytestmark = pytest.mark.skipif(
    not fb._TEXT_CACHE, reason="the text cache follows matplotlib 3.11's Agg text"
)

STRINGS = [
    "儿童友好空间 Child-friendly space",
    "AVAWAY To kerning",
    "服务半径 500 m — ½ ✓ ∑",  # symbols from the fallback fonts
    "two\nlines 两行",
    "",
    " ",
]


def _figure() -> Figure:
    fig = Figure(figsize=(4, 3), dpi=100)
    fb.new_canvas(fig)
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
    ax.plot([0, 1], [0, 1])
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for i, s in enumerate(STRINGS):
        ax.text(
            0.05,
            0.1 + 0.12 * i,
            s,
            fontsize=7 + i,
            rotation=15 * (i % 3),
            path_effects=halo if i % 2 else None,
        )
    ax.set_title("标题 Title $x^2$")  # math text is left to matplotlib
    ax.legend(["图例 legend"], title="类别 Category")
    fig.suptitle("总览 Overview", fontweight="bold")
    return fig


def _png(text_cache: bool, monkeypatch) -> bytes:
    monkeypatch.setattr(fb, "_TEXT_CACHE", text_cache)
    buf = io.BytesIO()
    with plot._style():
        fig = _figure()
        fig.savefig(buf, format="png", dpi=150, bbox_inches="tight", pad_inches=0.25, facecolor="white")
    return buf.getvalue()


def test_png_bytes_equal_matplotlibs_renderer(monkeypatch):
    stock = _png(False, monkeypatch)
    fb._forget_text()
    first = _png(True, monkeypatch)  # sizes and layouts computed
    again = _png(True, monkeypatch)  # all taken from the cache
    assert first == stock
    assert again == stock


def test_sizes_equal_matplotlibs_renderer():
    fb._forget_text()
    with plot._style():
        ours = fb._TextRenderer(400, 300, 150)
        theirs = RendererAgg(400, 300, 150)
        for size in (6, 9.5, 15):
            for weight in ("normal", "bold"):
                prop = FontProperties(size=size, weight=weight)
                for s in STRINGS:
                    expect = theirs.get_text_width_height_descent(s, prop, False)
                    assert ours.get_text_width_height_descent(s, prop, False) == expect
                    assert ours.get_text_width_height_descent(s, prop, False) == expect  # cached


def test_forked_child_starts_with_no_fonts():
    with plot._style():
        fb._TextRenderer(10, 10, 72).get_text_width_height_descent("字", FontProperties(size=8), False)
    assert fb._FONTS and fb._SIZES
    fb._forget_text()
    assert not fb._FONTS and not fb._SIZES and not fb._LAYOUTS


def test_png_written_unfiltered_has_matplotlibs_pixels_and_chunks(tmp_path, monkeypatch):
    """``OffscreenCanvas.print_png`` (``write_png``): the pixels, resolution and ``Software`` text of matplotlib's
    own PNG (written through Pillow) of the same figure, across several row blocks."""
    from PIL import Image

    monkeypatch.setattr(fb, "_PNG_ROWS", 37)  # blocks of rows that do not divide the height
    with plot._style():
        fig = _figure()
        ours = tmp_path / "ours.png"
        theirs = tmp_path / "theirs.png"
        plot.save_figure(fig, ours)
        fig.savefig(
            theirs,
            dpi=150,
            facecolor="white",
            bbox_inches="tight",
            pad_inches=0.25,
            pil_kwargs={"compress_level": 3},  # (with pil_kwargs, matplotlib's encoder)
        )
    a, b = Image.open(ours), Image.open(theirs)
    assert a.mode == b.mode == "RGBA" and a.size == b.size
    assert a.info == b.info  # dpi and Software
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert ours.read_bytes() != theirs.read_bytes()  # (the other encoder was used)
