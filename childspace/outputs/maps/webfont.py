"""Chinese text in web maps on machines without a CJK font: the bundled font, subset to the page's characters.

A browser on a machine with no Chinese font (a fresh Linux office PC, a headless Chromium) draws every 汉字 of a
map as an empty box. Each map page therefore carries, as an ``@font-face`` data URI, a WOFF subset of the bundled
font (``childspace/fonts/``, Childspace Sans CJK SC, a subset of Noto Sans CJK SC under the SIL OFL 1.1) holding
only the non-ASCII characters the page uses (titles, legend, labels, popups; about 50-100 KB for a map). An
installed Chinese font is used first when the system has one (``local()`` sources); Latin text keeps the system's
sans-serif font.

Only the Regular face is embedded: bold text is drawn by the browser's synthetic bold, which keeps the page
small. Characters outside the bundled font (rare hanzi) fall back to any system font.
"""

from __future__ import annotations

import base64
import functools
import io
import re
from pathlib import Path

import numpy as np

__all__ = ["FONT_FAMILY", "embed_font", "font_face_css", "page_characters"]

#: the family name of the embedded font in the page's CSS
FONT_FAMILY = "Childspace Sans CJK SC"
_FONT = Path(__file__).resolve().parents[2] / "fonts" / "ChildspaceSansCJKSC-Regular.ttf"
_LOCAL = ("Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "WenQuanYi Micro Hei")
#: elements whose text is drawn with the embedded font (the page's own styles name the system fonts only)
_SELECTORS = ".leaflet-container,.cs-title,.cs-legend,.cs-notice,.cs-label>span,.cs-place>span,.cs-pop"
_ESCAPES = re.compile(r"\\u([0-9a-fA-F]{4})|&#(\d+);|&#[xX]([0-9a-fA-F]+);")
_MARK = "<style id='cs-webfont'>"
_BLOCK = 1 << 24  # characters per block of page_characters
_ASCII = bytes(range(128))


def page_characters(text: str) -> set[str]:
    """The non-ASCII characters a page shows: written out, as JSON ``\\uXXXX`` escapes (surrogate pairs joined)
    or as HTML character references.

    Linear and in blocks (a county's routes map is several hundred MB): the ASCII bytes of each block are dropped
    in C (``bytes.translate``) and the rest counted by code point (``numpy.bincount``).
    """
    seen = np.zeros(0x110000, dtype=bool)
    for i in range(0, len(text), _BLOCK):
        rest = text[i : i + _BLOCK].encode("utf-8", "surrogatepass").translate(None, _ASCII)
        if rest:
            cps = np.frombuffer(
                rest.decode("utf-8", "surrogatepass").encode("utf-32-le", "surrogatepass"), "<u4"
            )
            seen |= np.bincount(cps, minlength=0x110000)[:0x110000] > 0
    chars = {chr(c) for c in np.flatnonzero(seen) if not 0xD800 <= c < 0xE000}
    units: list[int] = []
    for lead in ("\\u", "&#"):  # escapes are few: found by str.find (C), parsed one by one
        pos = text.find(lead)
        while pos >= 0:
            m = _ESCAPES.match(text, pos)
            if m is not None:
                if m.group(1):
                    units.append(int(m.group(1), 16))
                else:
                    chars.add(chr(int(m.group(2) or m.group(3), 16 if m.group(3) else 10)))
            pos = text.find(lead, pos + 2)
    i = 0
    while i < len(units):  # \ud83d\ude00 -> one character
        u = units[i]
        if 0xD800 <= u < 0xDC00 and i + 1 < len(units) and 0xDC00 <= units[i + 1] < 0xE000:
            chars.add(chr(0x10000 + ((u - 0xD800) << 10) + (units[i + 1] - 0xDC00)))
            i += 2
            continue
        if u > 127 and not 0xD800 <= u < 0xE000:
            chars.add(chr(u))
        i += 1
    return chars


@functools.lru_cache(maxsize=1)
def _cmap() -> frozenset[int]:
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    with TTFont(str(_FONT), lazy=True) as f:
        return frozenset(f.getBestCmap())


@functools.lru_cache(maxsize=1)
def _glyph_order() -> tuple[str, ...]:
    from fontTools.ttLib import TTFont

    with TTFont(str(_FONT), lazy=True) as f:
        return tuple(f.getGlyphOrder())


@functools.lru_cache(maxsize=16)
def _subset_woff(codepoints: tuple[int, ...]) -> bytes:
    from fontTools import subset  # type: ignore[import-untyped]
    from fontTools.ttLib import TTFont

    opts = subset.Options()
    opts.flavor = "woff"  # zlib-compressed (WOFF2 would need the brotli module)
    opts.layout_features = ["kern", "ccmp", "liga"]
    opts.hinting = False
    opts.glyph_names = False
    opts.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]  # copyright, family, version, licence and its URL (OFL)
    opts.notdef_outline = True
    # only the glyphs kept are decompiled; the font's own date is kept (the same page gives the same bytes)
    font = TTFont(str(_FONT), lazy=True, recalcTimestamp=False)
    font.setGlyphOrder(list(_glyph_order()))  # (named from the cmap once per process, not once per page)
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=codepoints)
    sub.subset(font)
    buf = io.BytesIO()
    font.flavor = "woff"
    font.save(buf)
    return buf.getvalue()


def font_face_css(chars: set[str] | str, selectors: str = _SELECTORS) -> str:
    """The ``@font-face`` rule (and the rule that puts the family first for ``selectors``: a map's elements by
    default) for a font holding ``chars``; empty when the bundled font holds none of them or is missing."""
    if not _FONT.exists():
        return ""
    have = _cmap()
    cps = tuple(sorted(c for c in {ord(ch) for ch in chars} if c > 127 and c in have))
    if not cps:
        return ""
    data = base64.b64encode(_subset_woff(cps)).decode("ascii")
    local = ",".join(f'local("{n}")' for n in _LOCAL)
    return (
        f'@font-face{{font-family:"{FONT_FAMILY}";font-weight:400;font-style:normal;font-display:block;'
        f'src:{local},url(data:font/woff;base64,{data}) format("woff");}}'
        f'{selectors}{{font-family:"{FONT_FAMILY}",{_STACK};}}'
    )


_STACK = (
    '"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC","WenQuanYi Micro Hei",sans-serif'
)


def embed_font(text: str, also: str = "", selectors: str = _SELECTORS) -> str:
    """``text`` (a complete HTML page) with the font subset of its characters (and of ``also``: text the page
    will get later, e.g. a script appended to it) embedded before ``</head>``, first for the elements
    ``selectors`` (a map's by default; ``"body"`` for a whole page of text)."""
    if _MARK in text:
        return text
    css = font_face_css(page_characters(text) | page_characters(also), selectors)
    if not css:
        return text
    idx = text.find("</head>")
    style = f"{_MARK}{css}</style>"
    return text[:idx] + style + text[idx:] if idx >= 0 else style + text
