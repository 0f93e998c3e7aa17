"""Static PNG maps: CJK font, no missing glyphs, metric CRS, scale bar length, files written."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure

from _browser import distinct_colours
from childspace import plot
from childspace._errors import ChildspaceError, DataError
from test_maps import make_sample


@pytest.fixture(scope="module")
def sample():
    return make_sample()


def test_cjk_font_found_and_renders_without_missing_glyphs(tmp_path):
    fam = plot.find_cjk_font()
    assert any(k in fam for k in ("CJK", "Han", "WenQuanYi", "YaHei", "PingFang", "SimHei", "Heiti"))
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with plot._style():
            fig = Figure(figsize=(3, 1))
            FigureCanvasAgg(fig)
            fig.text(0.1, 0.5, "幼儿园覆盖缺口 乐清市 达标/部分达标/缺口 Kindergarten")
            fig.savefig(tmp_path / "t.png")
    glyph = [str(w.message) for w in caught if "missing from" in str(w.message) or "Glyph" in str(w.message)]
    assert glyph == []


def test_missing_glyph_would_be_detected(tmp_path):
    """Control: the same text in a Latin-only font warns, so the check above can fail."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with rc_context({"font.family": "DejaVu Sans"}):
            fig = Figure(figsize=(3, 1))
            FigureCanvasAgg(fig)
            fig.text(0.1, 0.5, "幼儿园")
            fig.savefig(tmp_path / "t.png")
    assert any("missing from" in str(w.message) for w in caught)


@pytest.mark.parametrize("width, expected", [(4300, 500), (1000, 200), (9999, 1000), (250, 50), (26000, 5000),
                                             (70, 10)])
def test_nice_scale_length(width, expected):
    assert plot.nice_scale_length(width) == expected


def test_four_figures_in_metric_crs(sample, tmp_path):
    s = sample
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figs = {
            "coverage": plot.plot_coverage(s["boundaries"], s["facilities"], s["service_areas"], s["access"],
                                           s["gaps"], "kindergarten", synthetic=True),
            "pilots": plot.plot_pilots(s["pilots"], s["catchments"], boundaries=s["boundaries"], synthetic=True),
            "routes": plot.plot_routes(s["routes"], s["hazards"], s["walksheds"], s["schools"],
                                       boundaries=s["boundaries"], route="both", synthetic=True),
            "overview": plot.plot_overview(s["boundaries"], s["unit_coverage"], "kindergarten", synthetic=True),
        }
        paths = {k: plot.save_figure(f, tmp_path / f"{k}.png") for k, f in figs.items()}
    assert [str(w.message) for w in caught if "Glyph" in str(w.message)] == []
    for key, fig in figs.items():
        assert isinstance(fig, Figure)
        ax = fig.axes[0]
        x0, x1 = ax.get_xlim()
        # metric CRS (EPSG:4549, Gauss-Krueger eastings ~ 500 km): the 4 km wide sample spans 4-6 km, not degrees
        assert 4000 < x1 - x0 < 6000, (key, x1 - x0)
        assert 400_000 < x0 < 600_000
        texts = [t.get_text() for t in ax.texts] + [t.get_text() for t in fig.texts]
        assert "500 米 m" in texts  # nice scale bar for a 4.3 km wide extent
        assert "N 北" in texts
        assert any("示例数据（虚构）" in t for t in texts)
        legend = ax.get_legend()
        assert legend is not None and len(legend.get_texts()) >= 4
        assert fig._suptitle is not None and any("\u4e00" <= ch <= "\u9fff" for ch in fig._suptitle.get_text())
        png = paths[key]
        assert png.stat().st_size > 20_000
        assert distinct_colours(png) > 100
    # the pilot legend counts all 48 units by status
    labels = [t.get_text() for t in figs["pilots"].axes[0].get_legend().get_texts()]
    assert "达标 Meets（16）" in labels and "缺口 Gap（16）" in labels
    assert "2023年试点（31个） Pilots 2023 (31)" in labels


def test_overview_classes(sample):
    fig = plot.plot_overview(sample["boundaries"], sample["unit_coverage"], "kindergarten")
    ax = fig.axes[0]
    # community labels carry the figure: 桥头村 10 %, 海滨社区 95 %, 红星社区 no data
    texts = [t.get_text() for t in ax.texts]
    assert "桥头村\n10%" in texts and "海滨社区\n95%" in texts and "红星社区\n—" in texts
    fills = {tuple(np.round(c, 3)) for coll in ax.collections for c in coll.get_facecolors()}
    from matplotlib.colors import to_rgba

    assert tuple(np.round(to_rgba("#d7191c"), 3)) in fills   # 10 % -> 0-20 class
    assert tuple(np.round(to_rgba("#1a9641"), 3)) in fills   # 95 % -> 80-100 class
    assert tuple(np.round(to_rgba("#bdbdbd"), 3)) in fills   # no data


def test_errors(sample, tmp_path):
    with pytest.raises(ChildspaceError, match="category"):
        plot.plot_coverage(sample["boundaries"], sample["facilities"])
    with pytest.raises(DataError, match="status"):
        plot.plot_pilots(sample["pilots"].drop(columns="status"))
    fig = plot.plot_overview(sample["boundaries"], sample["unit_coverage"], "kindergarten")
    with pytest.raises(ChildspaceError, match="does not exist"):
        plot.save_figure(fig, tmp_path / "nope" / "x.png")


def test_overview_small_multiples_and_townships(sample, tmp_path):
    b = sample["boundaries"]
    comms, towns = b[b["level"] == "community"], b[b["level"] == "township"]
    fig = plot.plot_overview(comms, sample["unit_coverage"], townships=towns, small_multiples=True, synthetic=True)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split("（")[0] for ax in panels] == ["幼儿园 Kindergarten", "小学 Primary school"]
    # primary school: 50 % walking coverage everywhere -> overall 50 %
    assert "全部 50% overall" in panels[1].get_title()
    # every community panel is filled with its class colour: primary school all 40-60 % (#ffffbf)
    faces = panels[1].collections[0].get_facecolors()
    assert len(faces) == 8 and np.allclose(faces[:, :3], [1.0, 1.0, 191 / 255], atol=1e-3)
    png = plot.save_figure(fig, tmp_path / "multi.png")
    assert distinct_colours(png) > 50
    one = plot.plot_overview(comms, sample["unit_coverage"], "kindergarten", townships=towns)
    assert any("乡镇街道边界 Township boundary" == t.get_text() for t in one.axes[0].get_legend().get_texts())


def test_coverage_png_aggregates_many_homes(sample):
    s = sample
    fig = plot.plot_coverage(s["boundaries"], s["facilities"], s["service_areas"], s["access"], s["gaps"],
                             "kindergarten", max_points=10, hex_size=200)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "未覆盖儿童（200米六边形） Children uncovered (200 m hexagons)" in labels
    assert not any("Uncovered homes" in t for t in labels)
