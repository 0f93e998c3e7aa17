"""The bundled Chinese font: used when the system has none, covers the register and the labels, and a failing
figure does not stop the run."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
from fontTools.ttLib import TTFont
from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from childspace.outputs import figures as plot
from childspace.run.cli import main

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "childspace"
TEXT = "幼儿园覆盖缺口 乐清市 垟岙 达标/部分达标/缺口（18） ≤30 km/h → ° × ★ Kindergarten"


def _glyph_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if "missing from" in str(w.message) or "Glyph" in str(w.message)]


@pytest.fixture
def no_system_font(monkeypatch):
    """matplotlib sees no CJK font on the system: only the bundled one can be found."""
    monkeypatch.setattr(plot, "_system_cjk_font", lambda: None)
    plot.cjk_font_stack.cache_clear()
    yield
    plot.cjk_font_stack.cache_clear()


@pytest.fixture
def latin_system_font(monkeypatch):
    """A 'system' font without Chinese comes first: the Chinese characters must come from the bundled font."""
    monkeypatch.setattr(plot, "_system_cjk_font", lambda: "DejaVu Sans")
    plot.cjk_font_stack.cache_clear()
    yield
    plot.cjk_font_stack.cache_clear()


def _cmap(name: str) -> set[int]:
    return set(TTFont(name, lazy=True).getBestCmap())


def test_bundled_font_renders_chinese_without_a_system_font(no_system_font, tmp_path):
    assert plot.find_cjk_font() == plot.BUNDLED_FAMILY == "Childspace Sans CJK SC"
    assert plot.cjk_font_stack() == (plot.BUNDLED_FAMILY, "DejaVu Sans")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with plot._style():
            fig = Figure(figsize=(6, 1))
            FigureCanvasAgg(fig)
            fig.text(0.02, 0.6, TEXT)
            fig.text(0.02, 0.2, TEXT, fontweight="bold")
            fig.savefig(tmp_path / "t.png")
            regular = font_manager.findfont(font_manager.FontProperties(), fallback_to_default=False)
            bold = font_manager.findfont(
                font_manager.FontProperties(weight="bold"), fallback_to_default=False
            )
    assert _glyph_warnings(caught) == []
    assert Path(regular) == plot.BUNDLED_FONT_DIR / "ChildspaceSansCJKSC-Regular.ttf"
    assert Path(bold) == plot.BUNDLED_FONT_DIR / "ChildspaceSansCJKSC-Bold.ttf"


def test_bundled_font_embeds_in_pdf(no_system_font, tmp_path):
    with plot._style(), rc_context({"pdf.fonttype": 42}):
        fig = Figure(figsize=(4, 1))
        FigureCanvasAgg(fig)
        fig.text(0.02, 0.5, "乐清市 幼儿园")
        fig.savefig(tmp_path / "t.pdf")
    pdf = (tmp_path / "t.pdf").read_bytes()
    assert b"ChildspaceSansCJKSC-Regular" in pdf and b"/FontFile2" in pdf and b"/CIDFontType2" in pdf


def test_characters_missing_from_the_system_font_come_from_the_bundled_one(latin_system_font, tmp_path):
    assert plot.cjk_font_stack() == ("DejaVu Sans", plot.BUNDLED_FAMILY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with plot._style():
            fig = Figure(figsize=(6, 1))
            FigureCanvasAgg(fig)
            fig.text(0.02, 0.5, TEXT)
            fig.savefig(tmp_path / "t.png")
    assert _glyph_warnings(caught) == []


@pytest.mark.parametrize("weight", ["Regular", "Bold"])
def test_font_covers_the_register(weight):
    cmap = _cmap(plot.BUNDLED_FONT_DIR / f"ChildspaceSansCJKSC-{weight}.ttf")
    reg = pd.read_csv(ROOT / "childspace" / "data" / "boundaries" / "yueqing_register.csv", dtype=str)
    names = [v for col in ("name", "township_name", "county_name") for v in reg[col].dropna()]
    assert len(reg) >= 539
    missing = sorted({c for c in "".join(names) if ord(c) not in cmap})
    assert missing == [], f"re-run scripts/make_font_subset.py: {missing}"


@pytest.mark.parametrize("weight", ["Regular", "Bold"])
def test_font_covers_the_package_labels(weight):
    """Every non-ASCII character of the package (labels, legends, config) is in the bundled font, or, for the few
    symbols Noto Sans CJK lacks (✔ ✗ ▾), in DejaVu Sans, which comes next in the fallback list."""
    cmap = _cmap(plot.BUNDLED_FONT_DIR / f"ChildspaceSansCJKSC-{weight}.ttf")
    dejavu = _cmap(font_manager.findfont("DejaVu Sans"))
    files = [*PKG.rglob("*.py"), *(PKG / "config").glob("*.toml")]
    chars = {c for p in files for c in p.read_text(encoding="utf-8") if ord(c) > 0x7E and c.isprintable()}
    cjk = {c for c in chars if re.match(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]", c)}
    assert len(cjk) > 300
    assert sorted(c for c in cjk if ord(c) not in cmap) == [], "re-run scripts/make_font_subset.py"
    assert sorted(c for c in chars if ord(c) not in cmap and ord(c) not in dejavu) == []


def test_gb2312_hanzi_all_present():
    cmap = _cmap(plot.BUNDLED_FONT_DIR / "ChildspaceSansCJKSC-Regular.ttf")
    hanzi = set()
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                hanzi.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    assert len(hanzi) == 6763
    assert all(ord(c) in cmap for c in hanzi)


def test_font_folder_has_licence_and_is_small():
    folder = plot.BUNDLED_FONT_DIR
    assert "SIL OPEN FONT LICENSE Version 1.1" in (folder / "OFL.txt").read_text(encoding="utf-8")
    assert "Noto Sans CJK SC" in (folder / "README.md").read_text(encoding="utf-8")
    assert sum(p.stat().st_size for p in folder.iterdir()) < 5_000_000
    for p in folder.glob("*.ttf"):  # renamed: no Reserved Font Name ("Source") in the family
        names = TTFont(p, lazy=True)["name"]
        for nid in (1, 4, 6, 16):
            assert "Childspace" in names.getDebugName(nid) and "Source" not in names.getDebugName(nid)


def _small_config(tmp_path: Path) -> Path:
    """The sample's configuration with one category and no OSM facilities (a run of a few seconds)."""
    data = ROOT / "childspace" / "data"
    text = (data / "sample.toml").read_text(encoding="utf-8")
    text = re.sub(r'(path|osm) = "([^"]+)"', lambda m: f'{m[1]} = "{(data / m[2]).as_posix()}"', text)
    text = re.sub(r"categories = \[.*?\]", 'categories = ["kindergarten"]', text, flags=re.DOTALL)
    text = text.replace("osm_facilities = true", "osm_facilities = false")
    cfg = tmp_path / "small.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def test_a_failing_figure_is_a_warning_and_the_rest_is_written(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("drawing failed on purpose")

    from childspace.outputs import figures_routes

    monkeypatch.setattr(figures_routes, "plot_routes", broken)  # the slowest figure: the test stays short
    out = tmp_path / "out"
    code = main(["report", "--config", str(_small_config(tmp_path)), "--outputs", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "figures/routes.png was not written: RuntimeError: drawing failed on purpose" in err
    assert not (out / "figures" / "routes.png").exists()
    for rel in (
        "report.html",
        "childspace.gpkg",
        "childspace.xlsx",
        "tables/community_coverage.csv",
        "tables/hazards.csv",
        "maps/routes.html",
        "maps/overview.html",
        "figures/overview.png",
        "figures/coverage_kindergarten.png",
        "figures/pilots.png",
    ):
        assert (out / rel).stat().st_size > 0, rel
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "overview.png" in html and "routes.png" not in html
