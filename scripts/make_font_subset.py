"""Make the bundled Chinese font (childspace/fonts/) from Debian's Noto Sans CJK collection.

The static maps need a font with Chinese characters; a fresh Linux machine often has none. This script cuts the
Simplified Chinese face out of ``NotoSansCJK-Regular.ttc`` / ``NotoSansCJK-Bold.ttc`` (SIL Open Font License 1.1)
and keeps only the characters the toolkit needs:

* ASCII and Latin-1, general punctuation, CJK symbols and punctuation, full-width forms;
* every character of GB2312 (its 6,763 hanzi and its symbols, Greek, Cyrillic, kana, box drawing, ...);
* every non-ASCII character of the package's source and config (``childspace/**/*.py``, ``childspace/config``:
  labels such as ✓ ✗ ° × → ★) and of the bundled data (``data/``: the register of Yueqing's 514 villages,
  the sample's names in CSV, GeoJSON, GeoPackage, Shapefile (GBK .dbf), Excel and OSM files), which holds names
  outside GB2312 such as 垟 and 岙.

Characters Noto Sans CJK SC has no glyph for are left out (a warning lists the project's ones; matplotlib takes
them from DejaVu Sans). The outlines are converted from CFF to TrueType (quadratic, ``fontTools.cu2qu``) so that
matplotlib embeds the font in PDFs (``pdf.fonttype`` 42) as a proper CID TrueType font (a CFF font is written as
TrueType data, which poppler flags as "Mismatch between font type and embedded font file"); hinting, vertical
metrics and the Japanese/Korean/Traditional glyph variants are dropped, and the family is renamed "Childspace
Sans CJK SC": a subset is a Modified Version under the OFL, which must not use the Reserved Font Name "Source"
(Noto Sans CJK is built from Source Han Sans). ``OFL.txt`` is written from the Debian package's copyright file.

Reproduce (Debian/Ubuntu; any directory)::

    apt-get download fonts-noto-cjk            # fonts-noto-cjk_1%3a20220127+repack1-1_all.deb in Debian 12
    dpkg-deb -x fonts-noto-cjk_*_all.deb noto
    python scripts/make_font_subset.py noto     # from the repository root; writes childspace/fonts/

``noto`` may be the extracted package (the script finds ``usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc`` and
``usr/share/doc/fonts-noto-cjk/copyright`` under it) or ``/`` on a machine with fonts-noto-cjk installed.
Needs fontTools (installed with matplotlib) and openpyxl (a dependency of childspace).
"""

from __future__ import annotations

import argparse
import sqlite3
import struct
import sys
import warnings
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "childspace" / "fonts"
FAMILY = "Childspace Sans CJK SC"
PS_FAMILY = "ChildspaceSansCJKSC"
WEIGHTS = {"Regular": "NotoSansCJK-Regular.ttc", "Bold": "NotoSansCJK-Bold.ttc"}
FACE = "Noto Sans CJK SC"  # the face of the collection to keep

RANGES = [
    (0x20, 0x7E),
    (0xA0, 0xFF),  # ASCII, Latin-1
    (0x2000, 0x206F),  # general punctuation (— – ‘ ’ “ ” … ‰ ※)
    (0x3000, 0x303F),  # CJK symbols and punctuation (、。《》【】)
    (0xFF00, 0xFFEF),
]  # full-width and half-width forms (（），：０-９Ａ-Ｚ)
#: OpenType features kept (matplotlib >= 3.11 shapes text with libraqm/HarfBuzz). Not 'locl', 'vert' and the
#: width variants: they pull in the Japanese, Korean and Traditional Chinese glyph forms (14,000 glyphs, 4 MB)
LAYOUT_FEATURES = ["kern", "ccmp", "liga", "calt", "mark", "mkmk"]
TEXT_SUFFIXES = {".csv", ".md", ".toml", ".geojson", ".json", ".osm", ".txt", ".prj", ".cpg", ".py"}


def gb2312_chars() -> set[str]:
    """Every character of GB2312 (rows 0xA1-0xF7, cells 0xA1-0xFE; 7,445 of them, 6,763 hanzi)."""
    out = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return out


def _dbf_text(path: Path) -> str:
    """The text of a dBase file's records, in the encoding of its .cpg (GBK without one, as planners' files)."""
    cpg = path.with_suffix(".cpg")
    enc = cpg.read_text().strip() if cpg.exists() else "gbk"
    raw = path.read_bytes()
    header_len, record_len = struct.unpack("<HH", raw[8:12])
    n = struct.unpack("<I", raw[4:8])[0]
    body = raw[header_len : header_len + n * record_len]
    return "".join(
        body[i * record_len : (i + 1) * record_len].decode(enc, errors="replace") for i in range(n)
    )


def _gpkg_text(path: Path) -> str:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        parts = []
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            for row in con.execute(f'SELECT * FROM "{t}"'):
                parts.extend(v for v in row if isinstance(v, str))
        return "\n".join(parts)
    finally:
        con.close()


def _xlsx_text(path: Path) -> str:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    parts = [ws.title for ws in wb.worksheets]
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            parts.extend(v for v in row if isinstance(v, str))
    wb.close()
    return "\n".join(parts)


def project_chars() -> set[str]:
    """The non-ASCII characters of the package's source and config and of the files under data/."""
    out: set[str] = set()
    files = [
        *sorted((ROOT / "childspace").rglob("*.py")),
        *sorted((ROOT / "childspace" / "config").glob("*.toml")),
        *sorted(p for p in (ROOT / "childspace" / "data").rglob("*") if p.is_file()),
    ]
    for p in files:
        suf = p.suffix.lower()
        if suf in TEXT_SUFFIXES:
            text = p.read_text("utf-8")
        elif suf == ".dbf":
            text = _dbf_text(p)
        elif suf == ".gpkg":
            text = _gpkg_text(p)
        elif suf in (".xlsx", ".xlsm"):
            text = _xlsx_text(p)
        else:
            continue
        out |= {c for c in text if ord(c) > 0x7E and c.isprintable() and c != "\ufffd"}
    return out


def wanted_chars() -> set[str]:
    chars = {chr(u) for lo, hi in RANGES for u in range(lo, hi + 1)}
    return chars | gb2312_chars() | project_chars()


def _find(base: Path, name: str) -> Path:
    for cand in (base / name, base / "usr/share/fonts/opentype/noto" / name):
        if cand.exists():
            return cand
    hits = sorted(base.rglob(name))
    if not hits:
        sys.exit(f"{name} not found under {base}")
    return hits[0]


def _sc_face(ttc: Path) -> TTFont:
    coll = TTCollection(str(ttc), lazy=False)
    for font in coll.fonts:
        if font["name"].getDebugName(1) == FACE:
            return font
    sys.exit(f"no face {FACE!r} in {ttc}")


def _to_truetype(font: TTFont) -> None:
    """Replace the CFF outlines with quadratic TrueType ones (glyf/loca), as fontTools' otf2ttf does."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    gs = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(gs)
        gs[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    font["loca"] = newTable("loca")
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attr in (
        "maxZones",
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    font["head"].glyphDataFormat = 0
    font["head"].indexToLocFormat = 0
    font["post"].formatType = 3.0  # no glyph names (the CID font's are "cid12345"): smaller
    font.sfntVersion = "\x00\x01\x00\x00"
    hmtx = font["hmtx"]
    for name, g in glyphs.items():  # left side bearings of the new outlines
        g.recalcBounds(glyf)
        hmtx[name] = (hmtx[name][0], getattr(g, "xMin", 0))


def _rename(font: TTFont, weight: str) -> None:
    """Name table IDs 1, 2, 3, 4, 6, 16, 17 for the new family (no Reserved Font Name), keep copyright/licence."""
    name = font["name"]
    full = FAMILY if weight == "Regular" else f"{FAMILY} {weight}"
    ps = f"{PS_FAMILY}-{weight}"
    version = name.getDebugName(5) or ""
    new = {
        1: FAMILY,
        2: weight,
        3: f"{ps};subset of {name.getDebugName(3)}",
        4: full,
        6: ps,
        16: FAMILY,
        17: weight,
    }
    name.names = [r for r in name.names if r.nameID not in (1, 2, 3, 4, 6, 16, 17, 18, 19, 20, 21, 22, 25)]
    new[5] = f"{version}; subset of {FACE} for childspace"
    for nid, text in new.items():
        name.setName(text, nid, 3, 1, 0x409)
    if "CFF " in font:
        font["CFF "].cff.fontNames = [ps]


def make(weight: str, ttc: Path, chars: set[str], out: Path) -> tuple[Path, set[str]]:
    font = _sc_face(ttc)
    cmap = font.getBestCmap()
    missing = {c for c in chars if ord(c) not in cmap}
    opts = subset.Options()
    opts.layout_features = LAYOUT_FEATURES
    opts.name_IDs = ["*"]
    opts.name_languages = ["*"]
    opts.notdef_outline = True
    opts.hinting = False
    opts.drop_tables += ["BASE", "vhea", "vmtx", "VORG"]
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=sorted(ord(c) for c in chars if ord(c) in cmap))
    sub.subset(font)
    _rename(font, weight)
    _to_truetype(font)
    path = out / f"{PS_FAMILY}-{weight}.ttf"
    font.recalcTimestamp = False  # keep the source's dates: the same input gives the same bytes
    font.save(str(path))
    return path, missing


def write_licence(base: Path, out: Path) -> Path:
    """OFL.txt: the copyright notice of the font with its Reserved Font Name, and the licence from Debian."""
    copyright_file = base / "usr/share/doc/fonts-noto-cjk/copyright"
    if not copyright_file.exists():
        copyright_file = _find(base, "copyright")
    text = copyright_file.read_text("utf-8")
    block = text.split("License: SIL-1.1\n", 2)[-1].split("\nLicense:", 1)[0]
    lines = [ln.removeprefix(" ") for ln in block.rstrip().splitlines()]
    body = "\n".join("" if ln == "." else ln for ln in lines)
    head = (
        "Copyright 2014-2021 Adobe (http://www.adobe.com/), with Reserved Font Name 'Source'.\n"
        "Noto is a trademark of Google Inc.\n\n"
        "This Font Software is licensed under the SIL Open Font License, Version 1.1.\n"
        "This license is copied below, and is also available with a FAQ at:\n"
        "http://scripts.sil.org/OFL\n\n"
    )
    path = out / "OFL.txt"
    path.write_text(head + body + "\n", "utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("noto", type=Path, help="extracted fonts-noto-cjk package (or / when it is installed)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--weights", nargs="+", default=list(WEIGHTS), choices=list(WEIGHTS))
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    chars = wanted_chars()
    print(
        f"{len(chars)} characters wanted ({len(gb2312_chars())} GB2312, {len(project_chars())} from the project)"
    )
    for weight in args.weights:
        path, missing = make(weight, _find(args.noto, WEIGHTS[weight]), chars, args.out)
        proj_missing = sorted(c for c in missing & project_chars())
        if proj_missing:
            warnings.warn(
                f"{weight}: no glyph in {FACE} for project characters "
                f"{' '.join(f'{c} U+{ord(c):04X}' for c in proj_missing)}",
                stacklevel=1,
            )
        print(
            f"{path}: {path.stat().st_size / 1e6:.2f} MB, {len(chars) - len(missing)} characters "
            f"({len(missing)} wanted but not in {FACE})"
        )
    print(write_licence(args.noto, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
