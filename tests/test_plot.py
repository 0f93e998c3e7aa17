"""Static PNG maps: CJK font, no missing glyphs, metric CRS, scale bar length, files written."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _browser import distinct_colours
from matplotlib.figure import Figure
from test_maps import make_sample

from childspace._errors import ChildspaceError, DataError
from childspace.outputs import figures as plot
from childspace.outputs.figures_overview import plot_overview
from childspace.outputs.figures_routes import plot_routes


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


@pytest.mark.parametrize(
    "width, expected", [(4300, 500), (1000, 200), (9999, 1000), (250, 50), (26000, 5000), (70, 10)]
)
def test_nice_scale_length(width, expected):
    assert plot.nice_scale_length(width) == expected


def test_four_figures_in_metric_crs(sample, tmp_path):
    s = sample
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figs = {
            "coverage": plot.plot_coverage(
                s["boundaries"],
                s["facilities"],
                s["service_areas"],
                s["access"],
                s["gaps"],
                "kindergarten",
                synthetic=True,
            ),
            "pilots": plot.plot_pilots(
                s["pilots"], s["catchments"], boundaries=s["boundaries"], synthetic=True
            ),
            "routes": plot_routes(
                s["routes"],
                s["hazards"],
                s["walksheds"],
                s["schools"],
                boundaries=s["boundaries"],
                route="both",
                synthetic=True,
            ),
            "overview": plot_overview(s["boundaries"], s["unit_coverage"], "kindergarten", synthetic=True),
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
        assert fig._suptitle is not None and any(
            "\u4e00" <= ch <= "\u9fff" for ch in fig._suptitle.get_text()
        )
        png = paths[key]
        assert png.stat().st_size > 20_000
        assert distinct_colours(png) > 100
    # the pilot legend counts all 48 units by status
    labels = [t.get_text() for t in figs["pilots"].axes[0].get_legend().get_texts()]
    assert "✓ 达标 Meets（16）" in labels and "× 缺口 Gap（16）" in labels
    assert "2023年试点（31个） Pilots 2023 (31)" in labels


def test_overview_classes(sample):
    fig = plot_overview(sample["boundaries"], sample["unit_coverage"], "kindergarten")
    ax = fig.axes[0]
    # community labels carry the figure: 桥头村 10 %, 海滨社区 95 %, 红星社区 no data
    texts = [t.get_text() for t in ax.texts]
    assert "桥头村\n10%" in texts and "海滨社区\n95%" in texts and "红星社区\n—" in texts
    fills = {tuple(np.round(c, 3)) for coll in ax.collections for c in coll.get_facecolors()}
    from matplotlib.colors import to_rgba

    from childspace.outputs.style import NO_DATA_COLOUR, coverage_classes

    classes = coverage_classes(80)
    assert tuple(np.round(to_rgba(classes[0].colour), 3)) in fills  # 10 % -> 0-20 class
    assert tuple(np.round(to_rgba(classes[4].colour), 3)) in fills  # 95 % -> meets the 80 % target
    assert tuple(np.round(to_rgba(NO_DATA_COLOUR), 3)) in fills  # no data
    # the classes below the target are hatched (the cue without colour), the meeting class is not
    hatched = {c.get_hatch() for c in ax.collections if c.get_hatch()}
    assert {"///", ".."} <= hatched
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "≥80% 达到目标 meets target" and "60–80% 低于目标 below target" in labels


def test_errors(sample, tmp_path):
    with pytest.raises(ChildspaceError, match="category"):
        plot.plot_coverage(sample["boundaries"], sample["facilities"])
    with pytest.raises(DataError, match="status"):
        plot.plot_pilots(sample["pilots"].drop(columns="status"))
    fig = plot_overview(sample["boundaries"], sample["unit_coverage"], "kindergarten")
    with pytest.raises(ChildspaceError, match="does not exist"):
        plot.save_figure(fig, tmp_path / "nope" / "x.png")


def test_overview_small_multiples_and_townships(sample, tmp_path):
    b = sample["boundaries"]
    comms, towns = b[b["level"] == "community"], b[b["level"] == "township"]
    fig = plot_overview(comms, sample["unit_coverage"], townships=towns, small_multiples=True, synthetic=True)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split("（")[0] for ax in panels] == ["幼儿园 Kindergarten", "小学 Primary school"]
    # primary school: 50 % walking coverage everywhere -> overall 50 %
    assert "全部 50% overall" in panels[1].get_title()
    # every community panel is filled with its class colour: primary school all 40-60 % (third class)
    faces = panels[1].collections[0].get_facecolors()
    from matplotlib.colors import to_rgb

    from childspace.outputs.style import coverage_classes

    assert np.allclose(faces[:, :3], to_rgb(coverage_classes(80)[2].colour), atol=1e-3)
    # one compound path per fill colour (one draw per class), holding the 8 communities' rings
    (path,) = panels[1].collections[0].get_paths()
    assert len(faces) == 1 and int((path.codes == path.MOVETO).sum()) == 8
    png = plot.save_figure(fig, tmp_path / "multi.png")
    assert distinct_colours(png) > 50
    one = plot_overview(comms, sample["unit_coverage"], "kindergarten", townships=towns)
    assert any("乡镇街道边界 Township boundary" == t.get_text() for t in one.axes[0].get_legend().get_texts())


def test_coverage_png_aggregates_many_homes(sample):
    s = sample
    fig = plot.plot_coverage(
        s["boundaries"],
        s["facilities"],
        s["service_areas"],
        s["access"],
        s["gaps"],
        "kindergarten",
        max_points=10,
        hex_size=200,
    )
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "未覆盖儿童（200米六边形） Children uncovered (200 m hexagons)" in labels
    assert not any("Uncovered homes" in t for t in labels)


# ----------------------------------------------------------------------------------------------------
# label placement, panel titles, school zones
# ----------------------------------------------------------------------------------------------------


def _placed_boxes(fig):
    """Window extents of the placed labels (gid "cs-label") after a draw."""
    with plot._style():  # measured in the CJK font the figure is saved with
        fig.canvas.draw()
    r = fig.canvas.get_renderer()
    texts = [t for t in fig.axes[0].texts if t.get_gid() == "cs-label"]
    return texts, np.array([[b.x0, b.y0, b.x1, b.y1] for b in (t.get_window_extent(r) for t in texts)])


def _overlaps(boxes: np.ndarray, tol: float = 0.5) -> list[tuple[int, int]]:
    b = boxes
    hit = (
        (b[:, None, 0] < b[None, :, 2] - tol)
        & (b[:, None, 2] > b[None, :, 0] + tol)
        & (b[:, None, 1] < b[None, :, 3] - tol)
        & (b[:, None, 3] > b[None, :, 1] + tol)
    )
    i, j = np.nonzero(np.triu(hit, 1))
    return list(zip(i.tolist(), j.tolist()))


def test_pilot_labels_do_not_overlap(sample):
    ps = sample["pilots"]
    # two pilots at exactly the same place (as SD2023-23 / SD2023-10 in the sample) and one 5 m away
    twin = ps[ps["kind"] == "school"].iloc[[0, 1, 2]].copy()
    twin["pilot_id"] = ["SD2023-23", "SD2023-10", "SD2023-11"]
    p0 = twin.geometry.iloc[0]
    twin = twin.set_geometry([p0, p0, shapely.affinity.translate(p0, 0.00005, 0)], crs=4326)
    pilots = gpd.GeoDataFrame(pd.concat([ps, twin], ignore_index=True), crs=4326)
    fig = plot.plot_pilots(pilots, boundaries=sample["boundaries"], synthetic=True)
    texts, boxes = _placed_boxes(fig)
    shown = [t.get_text() for t in texts]
    assert _overlaps(boxes) == [], [(shown[i], shown[j]) for i, j in _overlaps(boxes)]
    for pid in ("SD2023-23", "SD2023-10", "SD2023-11"):
        assert pid in shown or pid.rsplit("-", 1)[1] in shown, pid
    # every label lies inside the map frame
    frame = fig.axes[0].get_window_extent(fig.canvas.get_renderer())
    assert (boxes[:, 0] >= frame.x0 - 0.5).all() and (boxes[:, 2] <= frame.x1 + 0.5).all()
    # nothing silently lost: labels left out are counted in a note
    n_expected = len(pilots) + int((sample["boundaries"]["level"] == "township").sum())
    notes = [t.get_text() for t in fig.texts if "labels not shown" in t.get_text()]
    left = int(notes[0].split()[1]) if notes else 0
    assert len(texts) + left == n_expected
    # deterministic: the same input gives the same positions
    _t2, boxes2 = _placed_boxes(plot.plot_pilots(pilots, boundaries=sample["boundaries"], synthetic=True))
    np.testing.assert_allclose(boxes2, boxes)


def test_label_placer_crowded_point():
    """Twenty labels on one marker. Of the eight slots of each ring, the N and S ones are blocked by the corner
    labels (a label's half width, ~15 px, exceeds the marker clearance, ~10 px), so each ring holds six: 12
    placed (six with leader lines), 8 left out and counted; boxes never overlap each other or the marker."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with plot._style():
        fig = Figure(figsize=(6, 6), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 1000)
        ax.set_ylim(0, 1000)
        lab = plot._Labels()
        lab.avoid([500.0], [500.0], 5.0)
        lab.add(
            np.full(20, 500.0),
            np.full(20, 500.0),
            [f"P-{i:02d}" for i in range(20)],
            marker_pt=5.0,
            fontsize=8,
        )
        left = lab.place(ax)
        texts, boxes = _placed_boxes(fig)
    assert len(texts) == 12 and left == 8 and lab.left_out == [f"P-{i:02d}" for i in range(12, 20)]
    assert _overlaps(boxes) == []
    cx, cy = ax.transData.transform((500, 500))
    r = 5.0 * fig.dpi / 72
    assert not (
        (boxes[:, 0] < cx + r) & (boxes[:, 2] > cx - r) & (boxes[:, 1] < cy + r) & (boxes[:, 3] > cy - r)
    ).any()
    leaders = [ln for ln in ax.lines if ln.get_gid() == "cs-leader"]
    assert len(leaders) == 6  # the far ring


def test_small_multiple_titles_aligned(sample):
    """Every panel title of a row sits at the same height (also when only some titles carry a figure)."""
    b = sample["boundaries"]
    comms, towns = b[b["level"] == "community"], b[b["level"] == "township"]
    uc = sample["unit_coverage"]
    extra = [uc[uc["category"] == "kindergarten"].assign(category=c) for c in ("park", "library", "hospital")]
    uc4 = pd.concat([uc] + extra, ignore_index=True)
    uc4.loc[uc4["category"] == "library", "children_covered_walk"] = np.nan  # no overall share in its title
    fig = plot_overview(comms, uc4, townships=towns, small_multiples=True, synthetic=True)
    with plot._style():
        fig.canvas.draw()
    r = fig.canvas.get_renderer()
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 5
    rows: dict[float, list[float]] = {}
    for ax in panels:
        top = round(ax.get_position().y1, 3)
        # the title's anchor (its baseline): the box bottom moves with descenders such as g or y
        anchor = ax.title.get_transform().transform(ax.title.get_position())[1]
        assert abs(ax.title.get_window_extent(r).y1 - anchor) < 40  # the anchor belongs to the drawn title
        rows.setdefault(top, []).append(anchor)
    assert len(rows) == 2  # 3 + 2 panels
    for ys in rows.values():
        assert max(ys) - min(ys) < 0.5, ys


def test_plot_routes_school_zones(sample):
    from test_maps import zone_sample

    _net, schools, zones, roads = zone_sample()
    fig = plot_routes(sample["routes"], schools=schools, school_zones=zones, zone_roads=roads, synthetic=True)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "校门150米范围 150 m around the gate (GA/T 1215-2014)" in labels
    assert "校园周边符合 School zone: compliant（1）" in labels
    assert "校园周边两项均不符合 School zone: both requirements fail（1）" in labels
    assert "校园周边道路限速高于30 Zone road over 30 km/h" in labels
    from matplotlib.colors import to_rgba

    colours = {tuple(np.round(c, 3)) for coll in fig.axes[0].collections for c in coll.get_edgecolors()}
    from childspace.outputs.style import ZONE_ROAD_COLOURS, ZONE_STATUS_LABELS

    for c in (ZONE_ROAD_COLOURS[True], ZONE_ROAD_COLOURS[False], ZONE_STATUS_LABELS["compliant"][2]):
        assert tuple(np.round(to_rgba(c), 3)) in colours, c
    # the school names are placed without overlap
    texts, boxes = _placed_boxes(fig)
    assert {"大道小学", "小街幼儿园"} <= {t.get_text() for t in texts}
    assert _overlaps(boxes) == []
