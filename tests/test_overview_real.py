"""The coverage overview (the report's figure and HTML map) on a real OSM extract and on the bundled sample.

Andorra (../shared/realdata, © OpenStreetMap contributors, ODbL): six parishes from boundary=administrative are the
units, shaded themselves (no communities), with place names from the extract that repeat the parishes' names
(Ordino, Encamp, La Massana …). What is checked is what a planner sees: the thick purple edge of a unit below
the target over the black township outline, each boundary once in the legend and the layer list, each name once
and no two names on top of each other (measured in headless Chromium, as laid out), the north arrow clear of
the panels of the small multiples.
"""

from __future__ import annotations

import json
import re
import warnings
from itertools import combinations

import numpy as np
import pytest
from conftest import realdata
from matplotlib.text import Annotation, Text

from childspace.outputs import maps
from childspace.outputs.figures import _style
from childspace.outputs.figures_overview import plot_overview
from childspace.outputs.maps._choropleth import BELOW_EDGE
from childspace.outputs.maps._page import render_html
from childspace.run import pipeline
from childspace.run.writing_maps import basemap


def _overview_inputs(res, cfg) -> dict:
    """What the run hands the overview (childspace.run.writing_maps.map_tasks), and the offline base map."""
    inp = res.inputs
    uc = res.tables.get("community_coverage", res.tables.get("township_coverage"))
    return {
        "bounds": inp.communities if inp.communities is not None else inp.townships,
        "uc": uc,
        "townships": inp.townships,
        "cats": [c for c in cfg.categories if (uc["category"] == c).any()],
        "base": basemap(res, cfg),
        "synthetic": cfg.synthetic,
    }


@pytest.fixture(scope="module")
def andorra(tmp_path_factory):
    osm = realdata("andorra.osm.pbf")
    folder = tmp_path_factory.mktemp("andorra")
    cfg_path = folder / "andorra.toml"
    cfg_path.write_text(f'[osm]\npath = "{osm.as_posix()}"\n', encoding="utf-8")
    cfg = pipeline.load_config(cfg_path, outputs=folder / "out")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pipeline.run_analyses(cfg, routes=False)
    return _overview_inputs(res, cfg)


@pytest.fixture(scope="module")
def sample(sample_run, sample_dir, tmp_path_factory):
    cfg = pipeline.load_config(sample_dir / "sample.toml", outputs=tmp_path_factory.mktemp("sample"))
    return _overview_inputs(sample_run, cfg)


def _overlap(a, b) -> bool:
    """Two boxes (x0, y0, x1, y1) share an area."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _extent(artist, renderer) -> np.ndarray:
    """Display box of a text, with its arrow for an annotation."""
    boxes = [artist.get_window_extent(renderer).extents] if artist.get_text() else []
    if isinstance(artist, Annotation) and artist.arrow_patch is not None:
        boxes.append(artist.arrow_patch.get_window_extent(renderer).extents)
    b = np.array(boxes)
    return np.r_[b[:, :2].min(axis=0), b[:, 2:].max(axis=0)]


# ----------------------------------------------------------------------------------------------------
# the figure (PNG)
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["andorra", "sample"])
def test_small_multiples_north_arrow_is_clear_of_every_panel_and_text(case, request):
    """The report's overview figure: one north arrow, outside every panel (it stood in the first panel's corner,
    over Monaco's tip) and clear of every title, legend entry and note."""
    s = request.getfixturevalue(case)
    fig = plot_overview(
        s["bounds"],
        s["uc"],
        townships=s["townships"],
        small_multiples=True,
        categories=s["cats"],
        synthetic=s["synthetic"],
    )
    with _style():  # measured in the font the figure is saved with
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        arrows = fig.findobj(lambda a: isinstance(a, Annotation) and a.get_text() == "N 北")
        assert len(arrows) == 1
        arrow = _extent(arrows[0], r)
        panels = [ax for ax in fig.axes if ax.get_title()]
        assert len(panels) == len(s["cats"])
        for ax in panels:
            assert not _overlap(arrow, ax.get_window_extent(r).extents), ax.get_title()
        texts = fig.findobj(lambda a: isinstance(a, Text) and a is not arrows[0] and a.get_visible())
        for t in texts:
            if t.get_text().strip():
                assert not _overlap(arrow, t.get_window_extent(r).extents), t.get_text()


def test_single_overview_figure_names_each_unit_once_clear_of_each_other(andorra):
    """One category, the parishes shaded and outlined: the township boundary is one legend entry (it was two:
    the units' outline and the township layer's), each parish named once, no name over another or over the
    north arrow and scale bar."""
    s = andorra
    fig = plot_overview(s["bounds"], s["uc"], s["cats"][0], townships=s["townships"])
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend.count("乡镇街道边界 Township boundary") == 1 and len(legend) == len(set(legend))
    with _style():
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        names = set(s["bounds"]["name"].astype(str))
        labels = [t for t in ax.texts if t.get_visible() and t.get_text().split("\n")[0] in names]
        first = [t.get_text().split("\n")[0] for t in labels]
        assert sorted(first) == sorted(names)  # every parish named, once
        boxes = [_extent(t, r) for t in labels]
        furniture = [_extent(t, r) for t in ax.texts if t not in labels]  # north arrow, scale bar figures
        assert len(furniture) >= 3
    for a, b in combinations(boxes, 2):
        assert not _overlap(a, b)
    for a in boxes:
        assert not any(_overlap(a, f) for f in furniture)


# ----------------------------------------------------------------------------------------------------
# the HTML map, as Chromium lays it out
# ----------------------------------------------------------------------------------------------------

_PROBE = """<script>window.addEventListener('load', function () { setTimeout(function () {
    var map = %(map)s, ctrl = %(control)s;
    function z(pane) { return parseInt(getComputedStyle(map.getPane(pane || 'overlayPane')).zIndex || '0', 10); }
    function labels() {
        var out = [];
        document.querySelectorAll('.cs-label, .cs-place').forEach(function (el) {
            var span = el.firstElementChild || el, r = span.getBoundingClientRect();
            if (getComputedStyle(el).visibility === 'hidden' || !r.width || !r.height) { return; }
            var small = span.querySelector('small'), text = span.textContent, names = [];
            if (small) { names.push(small.textContent.trim()); text = text.slice(0, text.length - small.textContent.length); }
            names.push(text.trim());
            out.push({names: names, place: el.classList.contains('cs-place'), box: [r.left, r.top, r.right, r.bottom]});
        });
        return out;
    }
    function lines() {
        var edges = [], outlines = [];
        map.eachLayer(function (l) {
            if (!l.options || !l.getLatLngs) { return; }
            var c = String(l.options.color || '').toLowerCase();
            if (c === '%(below)s' && l.options.weight >= 3) { edges.push(z(l.options.pane)); }
            if (c === '#111111' || c === '#222222') { outlines.push(z(l.options.pane)); }
        });
        return {edges: edges, outlines: outlines};
    }
    var out = {labels: labels(), lines: lines(),
        control: Array.prototype.map.call(document.querySelectorAll('.leaflet-control-layers-selector + span'),
            function (s) { return s.textContent.trim(); })};
    var bases = ctrl._layers.filter(function (o) { return !o.overlay; });
    if (bases.length > 2) {  // switch to the second category, as a click on its radio button does
        map.removeLayer(bases[0].layer);
        map.addLayer(bases[1].layer);
        out.switched = lines();
    }
    setTimeout(function () {
        out.after = labels();
        document.body.setAttribute('data-probe', JSON.stringify(out));
    }, 200);
}, 600); });</script></body>"""


def _probe(m, tmp_path, name: str) -> tuple[dict, str]:
    """What Chromium shows of map ``m`` (labels shown and their boxes, the panes of the below-target edges and of
    the township outlines, the layer list; the same after switching to the second category), and its page."""
    from _browser import dump_dom

    text = render_html(m)
    control = next(c for c in m._children.values() if type(c).__name__ == "LayerControl")
    probe = _PROBE % {"map": m.get_name(), "control": control.get_name(), "below": BELOW_EDGE.lower()}
    path = tmp_path / f"{name}.html"
    path.write_text(text.replace("</body>", probe, 1), encoding="utf-8")
    dom = dump_dom(path, budget_ms=4000, size=(1400, 900))
    got = re.search(r"data-probe=\"([^\"]+)\"", dom)
    assert got is not None, "the probe did not run"
    return json.loads(got.group(1).replace("&quot;", '"').replace("&amp;", "&")), text


def _assert_names_clear(labels: list[dict]) -> None:
    """Every name shown once (units that share a name apart) and no two labels on top of each other."""
    assert labels
    shown = [n for lab in labels for n in lab["names"]]
    assert len(shown) == len(set(shown)), sorted(n for n in shown if shown.count(n) > 1)
    for a, b in combinations(labels, 2):
        assert not _overlap(a["box"], b["box"]), (a["names"], b["names"])


def _legend_items(page: str) -> list[str]:
    return re.findall(r"<div class='i' data-kind='[^']*'><span[^>]*>[^<]*</span>([^<]*)</div>", page)


def test_overview_map_on_andorra_edges_over_outlines_each_name_once(andorra, tmp_path):
    """Every category, the parishes shaded: the purple edge of a parish below the target is drawn over the
    township outline (it lay under it, unseen), also after switching category; the township boundary is one
    legend entry and one layer; the parish names are not repeated by the extract's place names, and no two
    names overlap (安道尔城 Andorra la Vella sat on Escaldes, Sant Julià de Lòria was written twice)."""
    s = andorra
    uc = s["uc"]
    below = {
        c: int(uc.loc[uc["category"] == c, "below_target"].fillna(False).astype(bool).sum())
        for c in s["cats"]
    }
    first, second = s["cats"][:2]
    m = maps.overview_map(s["bounds"], uc, townships=s["townships"], categories=s["cats"], base=s["base"])
    got, page = _probe(m, tmp_path, "andorra")

    def on_top(lines: dict) -> int:  # purple edges drawn above every township outline
        assert lines["outlines"]
        return sum(z > max(lines["outlines"]) for z in lines["edges"])

    assert on_top(got["lines"]) == below[first] > 0
    # switched to the second category: its edges (and only its) over the outlines
    # (every parish is below target in both first categories now that children without a path count as not
    # covered: the edges shown after the switch are those of the second category's layer)
    assert on_top(got["switched"]) == below[second] > 0
    items = _legend_items(page)
    assert items.count("乡镇街道边界 Township boundaries") == 1 and len(items) == len(set(items))
    assert sum("Township boundaries" in c for c in got["control"]) == 1
    _assert_names_clear(got["labels"])
    _assert_names_clear(got["after"])
    units = [lab["names"][0] for lab in got["labels"] if not lab["place"]]
    assert sorted(units) == sorted(s["bounds"]["name"].astype(str))  # every parish named by its own label


@pytest.mark.parametrize("case", ["andorra", "sample"])
def test_single_category_map_names_clear_of_each_other(case, request, tmp_path):
    """One category: township names and community names (sample) or parish and place names (Andorra) all on;
    none shown twice, none over another (示例乙街道 sat on 示例朝阳社区 and 示例春晖社区)."""
    s = request.getfixturevalue(case)
    m = maps.overview_map(
        s["bounds"], s["uc"], s["cats"][0], townships=s["townships"], base=s["base"], synthetic=s["synthetic"]
    )
    got, page = _probe(m, tmp_path, f"single_{case}")
    _assert_names_clear(got["labels"])
    items = _legend_items(page)
    assert len(items) == len(set(items))
    towns = set(s["townships"]["name"].astype(str))
    assert towns <= {
        lab["names"][0] for lab in got["labels"] if not lab["place"]
    }  # township names kept first
