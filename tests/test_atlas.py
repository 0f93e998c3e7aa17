"""The print atlas: pages, paper size, embedded fonts and the map furniture on every page."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib

import numpy as np
import pytest
from test_maps import make_sample

from childspace._errors import DataError
from childspace.outputs import atlas, atlas_pdf


@pytest.fixture(scope="module")
def sample():
    return make_sample()


def test_atlas_pages_paper_fonts_and_furniture(sample, tmp_path):
    s = sample
    pilots = s["pilots"].head(4)
    info = atlas.AtlasInfo(
        agency="乐清市自然资源和规划局", sources=["facilities.csv"], date="2026-06-01", synthetic=True
    )
    path = atlas.write_atlas(
        tmp_path / "atlas.pdf",
        boundaries=s["boundaries"],
        unit_coverage=s["unit_coverage"],
        facilities=s["facilities"],
        service_areas=s["service_areas"],
        pilots_status=pilots,
        catchments=s["catchments"],
        info=info,
        paper="A3",
    )
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    # overview + kindergarten + primary school + 4 pilot units; A3 landscape (1190.55 x 841.89 pt)
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1 + 2 + 4
    assert re.search(rb"/MediaBox\s*\[\s*0 0 1190\.5\d* 841\.8\d*", data)
    assert b"/FontFile2" in data  # TrueType fonts embedded (pdf.fonttype 42)
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler) not installed: the page texts are not checked")
    for page in range(1, 8):
        text = subprocess.run(
            ["pdftotext", "-f", str(page), "-l", str(page), str(path), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for word in (
            "制图单位",
            "乐清市自然资源和规划局",
            "2026-06-01",
            "数据来源",
            "OpenStreetMap contributors",
            "示意图",
            "坐标系",
            "示例数据",
        ):
            assert word in text, (page, word)
    last = subprocess.run(
        ["pdftotext", "-f", "4", "-l", "4", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "检查项 Checklist" in last and "判定规则 Rule" in last and "米 m" in last


def test_atlas_a4_and_errors(sample, tmp_path):
    s = sample
    path = atlas.write_atlas(
        tmp_path / "a4.pdf", boundaries=s["boundaries"], pilots_status=s["pilots"].head(1), paper="A4"
    )
    assert re.search(rb"/MediaBox\s*\[\s*0 0 841\.8\d* 595\.2\d*", path.read_bytes())
    with pytest.raises(DataError, match="paper"):
        atlas.write_atlas(tmp_path / "x.pdf", boundaries=s["boundaries"], paper="A5")
    with pytest.raises(DataError, match="nothing"):
        atlas.write_atlas(tmp_path / "x.pdf", boundaries=s["boundaries"])


def three_pilot_atlas(s: dict) -> dict:
    """The arguments of :func:`atlas.write_atlas` for the sample of :func:`test_maps.make_sample`, three pilots."""
    return dict(
        boundaries=s["boundaries"],
        unit_coverage=s["unit_coverage"],
        facilities=s["facilities"],
        service_areas=s["service_areas"],
        pilots_status=s["pilots"].head(3),
        catchments=s["catchments"],
        info=atlas.AtlasInfo(date="2026-06-01", synthetic=True),
    )


def test_atlas_text_laid_out_once_writes_the_same_pdf(sample, tmp_path, monkeypatch):
    """Text laid out once per atlas: the pages are byte for byte those of matplotlib's own PdfPages.savefig."""
    s = sample
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # the PDF's creation date, else the only difference
    kw = three_pilot_atlas(s)
    # (outlines drawn as one path are compared in test_atlas_outlines_as_one_path)
    monkeypatch.setattr(atlas_pdf, "_one_opaque_stroke", lambda *a: False)
    monkeypatch.setattr(atlas_pdf, "_DECIMALS", 6)  # (matplotlib's; 2 are compared there too)
    ours = atlas.write_atlas(tmp_path / "ours.pdf", **kw).read_bytes()
    monkeypatch.setattr(atlas, "save_page", lambda pdf, fig, layouts, dpi: pdf.savefig(fig, dpi=dpi))
    stock = atlas.write_atlas(tmp_path / "stock.pdf", **kw).read_bytes()
    assert len(re.findall(rb"/Type\s*/Page\b", ours)) == 1 + 2 + 3
    assert ours == stock


def _content(pdf: bytes) -> bytes:
    """The page content streams of a one-page PDF, decompressed."""
    out = b""
    for m in re.finditer(rb"stream\n(.*?)\nendstream", pdf, re.S):
        try:
            out += zlib.decompress(m.group(1))
        except zlib.error:
            continue
    return out


def test_atlas_outlines_as_one_path(tmp_path, monkeypatch):
    """A stroked layer of one opaque style is written as one path with the same vertices (to 1/100 point);
    translucent or filled layers are left as matplotlib writes them (one path per ring)."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    rings = [[(0, 0), (1, 0), (1, 1), (0, 0)], [(2, 0), (3, 0.5), (2, 1)], [(0.5, 2), (2.5, 2 + 1 / 7)]]

    def page(path, stock: bool, alpha: float = 1.0, filled: bool = False):
        fig = Figure(figsize=(4, 3))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(-1, 4)
        ax.set_ylim(-1, 3)
        ax.set_axis_off()
        if filled:
            ax.add_collection(PolyCollection(rings, facecolor="#deebf7", edgecolor="black"))
        else:
            ax.add_collection(LineCollection(rings, colors="#555555", linestyles="--", alpha=alpha))
        with PdfPages(path) as pdf:
            if stock:
                pdf.savefig(fig)
            else:
                atlas_pdf.save_page(pdf, fig, atlas_pdf.TextLayouts(), 100)
        return _content(path.read_bytes())

    ours, stock = page(tmp_path / "a.pdf", False), page(tmp_path / "b.pdf", True)
    # one stroke for the three rings (matplotlib: one per ring), the same moves and lines in the same order
    assert len(re.findall(rb"^S$", stock, re.M)) == 3 and len(re.findall(rb"^S$", ours, re.M)) == 1
    ops = rb"([-\d.]+) ([-\d.]+) ([ml])\b"
    a, b = re.findall(ops, ours), re.findall(ops, stock)
    assert len(a) == len(b) == 4 + (4 + 3 + 2)  # the figure's background, then the rings
    assert [t[2] for t in a] == [t[2] for t in b]
    xy_a = np.array([[float(t[0]), float(t[1])] for t in a])
    xy_b = np.array([[float(t[0]), float(t[1])] for t in b])
    assert (
        np.abs(xy_a - xy_b).max() <= 0.005 and np.abs(xy_a - xy_b).max() > 0
    )  # (2 + 1/7: 169.71 vs 169.714286)
    assert all(len(v.split(b".")[-1]) <= 2 for t in a for v in t[:2] if b"." in v)
    # translucent lines (overlaps would darken) and filled rings (the fill rule) stay one path each
    monkeypatch.setattr(atlas_pdf, "_DECIMALS", 6)
    for kw in ({"alpha": 0.5}, {"filled": True}):
        assert page(tmp_path / "c.pdf", False, **kw) == page(tmp_path / "d.pdf", True, **kw)


def test_atlas_pilot_pages_on_one_figure(sample, tmp_path, monkeypatch):
    """Pilot pages drawn again on one emptied figure are byte for byte the pages of a new figure each; the style
    of the pages does not leak into matplotlib's settings afterwards."""
    import matplotlib as mpl

    s = sample
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    kw = dict(
        boundaries=s["boundaries"],
        facilities=s["facilities"],
        pilots_status=s["pilots"].head(4),
        catchments=s["catchments"],
        info=atlas.AtlasInfo(date="2026-06-01", synthetic=True),
    )
    before = (mpl.rcParams["pdf.fonttype"], list(mpl.rcParams["font.family"]))
    one = atlas.write_atlas(tmp_path / "one.pdf", **kw).read_bytes()
    assert (mpl.rcParams["pdf.fonttype"], list(mpl.rcParams["font.family"])) == before
    fresh = atlas._pilot_page
    monkeypatch.setattr(atlas, "_pilot_page", lambda *a: fresh(*a[:5]))  # a new figure for every page
    each = atlas.write_atlas(tmp_path / "each.pdf", **kw).read_bytes()
    assert len(re.findall(rb"/Type\s*/Page\b", one)) == 4
    assert one == each


def test_atlas_embeds_each_font_once(sample, tmp_path):
    """Latin and Chinese text of one font come from one embedded subset of it (matplotlib numbered the glyphs of
    a PDF in subsets of 256 while ``ps.fonttype`` was 3, embedding each font twice)."""
    import matplotlib as mpl

    before = mpl.rcParams["ps.fonttype"]
    data = atlas.write_atlas(tmp_path / "a.pdf", **three_pilot_atlas(sample)).read_bytes()
    assert mpl.rcParams["ps.fonttype"] == before
    names = [m.split(b"+", 1)[1] for m in re.findall(rb"/FontName\s*/([\w+-]+)", data)]
    assert len(names) == len(re.findall(rb"/FontFile2", data)) >= 2  # regular and bold
    assert len(set(names)) == len(names), names
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler) not installed: the page texts are not checked")
    text = subprocess.run(["pdftotext", str(tmp_path / "a.pdf"), "-"], capture_output=True, text=True).stdout
    assert "制图单位 Made by" in text and "检查项 Checklist" in text


def test_atlas_text_layouts_kept_per_atlas(sample, tmp_path, monkeypatch):
    """Each text is laid out once per atlas (by matplotlib's ``Text._get_layout``): the pages are byte for byte
    those laid out anew every time, and a figure drawn by another renderer gets matplotlib's own layout."""
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    if not atlas_pdf._KEEP_SHOWN:
        pytest.skip("text layouts are kept on matplotlib 3.11 only")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    kw = three_pilot_atlas(sample)
    atlas_pdf._keep_text_layouts()
    assert Text._get_layout is atlas_pdf._atlas_text_layout
    calls = {"all": 0, "laid out": 0}
    original, kept = atlas_pdf._text_layout, atlas_pdf._atlas_text_layout

    def counted_original(text, renderer):
        calls["laid out"] += 1
        return original(text, renderer)

    def counted_kept(text, renderer):
        calls["all"] += 1
        return kept(text, renderer)

    monkeypatch.setattr(atlas_pdf, "_text_layout", counted_original)
    monkeypatch.setattr(Text, "_get_layout", counted_kept)
    once = atlas.write_atlas(tmp_path / "once.pdf", **kw).read_bytes()
    assert 0 < calls["laid out"] < calls["all"] / 2
    monkeypatch.setattr(Text, "_get_layout", original)
    every_time = atlas.write_atlas(tmp_path / "every.pdf", **kw).read_bytes()
    assert once == every_time
    monkeypatch.setattr(Text, "_get_layout", kept)
    fig = Figure(figsize=(3, 2), dpi=100)
    atlas.new_canvas(fig)
    t = fig.text(0.1, 0.5, "Made by\nline two", fontsize=12, ha="center")
    renderer = fig.canvas.get_renderer()
    a, b = kept(t, renderer), original(t, renderer)
    assert (a[0].bounds, a[1], a[2]) == (b[0].bounds, b[1], b[2])


def test_pilot_layers_answer_what_cx_answers(sample):
    """The pilot pages take the boundaries and facilities around a unit from arrays read once: the same rows, in
    the same order, as ``GeoDataFrame.cx`` gives; each pilot's catchment by its id."""
    from childspace.outputs.figures import _crs_for, _metric

    s = sample
    crs = _crs_for(s["pilots"])
    b = _metric(s["boundaries"], crs, "boundaries")
    fac = _metric(s["facilities"], crs, "facilities")
    cat = _metric(s["catchments"], crs, "catchments")
    layers = atlas._PilotLayers(cat, b, fac)
    minx, miny, maxx, maxy = b.total_bounds
    w, h = maxx - minx, maxy - miny
    boxes = [(minx + w * a, miny + h * a, minx + w * (a + 0.3), miny + h * (a + 0.4)) for a in (0, 0.35, 0.7)]
    boxes += [(minx - 10 * w, miny - 10 * h, minx - 9 * w, miny - 9 * h), (minx, miny, maxx, maxy)]
    for x0, y0, x1, y1 in boxes:
        for gdf, tree in ((b, layers.b_tree), (fac, layers.fac_tree)):
            want = gdf.reset_index(drop=True).cx[x0:x1, y0:y1].index.to_numpy()
            assert np.array_equal(atlas._in_box(tree, x0, y0, x1, y1), want)
    assert any(len(atlas._in_box(layers.fac_tree, *box)) for box in boxes[:3])
    assert layers.catchments is not None
    for pid, geoms in layers.catchments.items():
        assert list(geoms) == list(cat.geometry[cat["pilot_id"].astype(str) == pid])
    one = np.asarray(b.geometry.values[:3], dtype=object)
    assert np.array_equal(atlas._total_bounds(one), b.iloc[:3].total_bounds)


def test_metric_layers_kept_within_the_atlas(sample):
    """Within ``metric_layers_kept`` a layer is brought to a CRS once (the same result for the same layer, CRS and
    simplification); another layer, CRS or simplification gets its own, and nothing is kept outside the block."""
    from childspace.outputs import _figure_base as fb

    b = sample["boundaries"]
    crs = fb._crs_for(b)
    with fb.metric_layers_kept():
        one = fb._metric(b, crs, "boundaries", simplify_m=5.0)
        assert fb._metric(b, crs, "boundaries", simplify_m=5.0) is one
        plain = fb._metric(b, crs, "boundaries")
        assert plain is not one and len(plain) == len(one)
        other = fb._metric(b.copy(), crs, "boundaries", simplify_m=5.0)
        assert other is not one and other.geom_equals(one).all()
    assert fb._metric(b, crs, "boundaries", simplify_m=5.0) is not one
    assert fb._metric(b, crs, "boundaries", simplify_m=5.0).geom_equals(one).all()


def test_pilot_legends_built_once_per_entries(sample, tmp_path, monkeypatch):
    """A pilot page whose legend has the entries of an earlier page's shows that legend again (built once); the
    pages are those of a new legend each (compared with new figures in test_atlas_pilot_pages_on_one_figure)."""
    from matplotlib.figure import Figure

    built: list[tuple] = []
    legend = Figure.legend

    def counted(fig, *a, **kw):
        built.append(tuple(h.get_label() for h in kw["handles"]))
        return legend(fig, *a, **kw)

    monkeypatch.setattr(Figure, "legend", counted)
    s = sample
    pilots = s["pilots"].head(6)
    path = atlas.write_atlas(
        tmp_path / "a.pdf", boundaries=s["boundaries"], facilities=s["facilities"], pilots_status=pilots
    )
    data = path.read_bytes()
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 6
    assert len(built) == len(set(built)) and 1 <= len(built) < 6
