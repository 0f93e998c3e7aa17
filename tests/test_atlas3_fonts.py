"""The atlas's text measured and laid out with its fonts read from memory: the same sizes, glyphs and PDF bytes as
with matplotlib's fonts opened from their files."""

from __future__ import annotations

import pytest
from matplotlib import rc_context
from matplotlib.backends.backend_pdf import RendererPdf
from matplotlib.font_manager import FontProperties
from test_atlas import three_pilot_atlas
from test_maps import make_sample

from childspace.outputs import atlas, atlas_pdf
from childspace.outputs.figures import _style, bundled_font_first

NO_HINTING = getattr(getattr(atlas_pdf.ft2font, "LoadFlags", None), "NO_HINTING", None)

pytestmark = pytest.mark.skipif(
    not atlas_pdf._KEEP_SHOWN, reason="the fonts are read from memory on matplotlib 3.11 only"
)

#: Chinese, Latin with kerning pairs, and symbols the CJK fonts lack (taken from a fallback font)
STRINGS = ("制图单位 Made by: 乐清市", "AVATAR Wave, 1,234 米 m", "  ✓ 幼儿园 ×（3）", "✔ ▾ ✗")


def _files_font(prop):
    """The font matplotlib's PDF renderer measures and lays out with (opened from its files)."""
    return RendererPdf._get_font_ttf(None, prop)  # (does not use the renderer)


def test_memory_font_measures_and_lays_out_as_the_files(recwarn):
    layouts = atlas_pdf.TextLayouts()
    with bundled_font_first(), _style():
        for weight in ("normal", "bold"):
            for size in (7.0, 10.0, 16.0):
                prop = FontProperties(size=size, weight=weight)
                for s in STRINGS:
                    mem = atlas_pdf._memory_font(prop, layouts)
                    mem.set_text(s, 0.0, flags=NO_HINTING)
                    got = (mem.get_width_height(), mem.get_descent())
                    mem_items = [
                        (atlas_pdf._face(i.ft_object), i.char, i.glyph_index, i.x, i.y, i.prev_kern)
                        for i in atlas_pdf._memory_font(prop, layouts)._layout(s, NO_HINTING)
                    ]
                    ref = _files_font(prop)
                    ref.set_text(s, 0.0, flags=NO_HINTING)
                    assert got == (ref.get_width_height(), ref.get_descent())
                    ref_items = [
                        (atlas_pdf._face(i.ft_object), i.char, i.glyph_index, i.x, i.y, i.prev_kern)
                        for i in _files_font(prop)._layout(s, NO_HINTING)
                    ]
                    assert mem_items == ref_items
                    assert all(isinstance(f.fname, str) for f, *_ in mem_items)
    assert len(layouts.fonts) == 2  # one font (with its fallbacks) per weight, for all sizes and strings


def test_atlas_bytes_the_same_with_the_fonts_from_their_files(tmp_path, monkeypatch):
    s = make_sample()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the PDF's creation date

    def write(name: str):
        return atlas.write_atlas(tmp_path / name, **three_pilot_atlas(s)).read_bytes()

    with rc_context():
        from_memory = write("memory.pdf")
    monkeypatch.setattr(atlas_pdf, "_memory_font", lambda prop, layouts: _files_font(prop))
    with rc_context():
        from_files = write("files.pdf")
    assert from_memory == from_files


def test_memory_font_found_once_per_properties_and_settings(monkeypatch):
    """The files of a font are looked up once per atlas for the same properties and font settings, and again when
    a setting that changes which files match does."""
    layouts = atlas_pdf.TextLayouts()
    calls = []
    find = atlas_pdf.fontManager._find_fonts_by_props
    monkeypatch.setattr(
        atlas_pdf.fontManager, "_find_fonts_by_props", lambda prop: calls.append(prop) or find(prop)
    )
    with bundled_font_first(), _style():
        a = atlas_pdf._memory_font(FontProperties(size=10.0, weight="bold"), layouts)
        b = atlas_pdf._memory_font(FontProperties(size=10.0, weight="bold"), layouts)
        assert a is b and len(calls) == 1
        a.set_text("制图单位", 0.0, flags=NO_HINTING)
        assert a.get_width_height()[0] > 0
        with rc_context({"font.family": ["DejaVu Sans"], "font.sans-serif": ["DejaVu Sans"]}):
            c = atlas_pdf._memory_font(FontProperties(size=10.0, weight="bold"), layouts)
        assert len(calls) == 2 and c is not a
        assert "DejaVu" in c.family_name and "DejaVu" not in a.family_name
