"""The overview map (覆盖总览): coverage by community against the target, one category at a time."""

from __future__ import annotations

from collections.abc import Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement
from folium.template import Template

from childspace._errors import ChildspaceError, DataError
from childspace.outputs.maps._choropleth import (
    BELOW_EDGE,
    choropleth_styles,
    coverage_legend,
    coverage_rows,
    join_coverage,
    life_circle_layer,
    target_of,
)
from childspace.outputs.maps._elements import GeoLayer
from childspace.outputs.maps._page import (
    BlankBase,
    LegendItem,
    add_layer,
    boundary_layers,
    esc,
    finish,
    fmt_num,
    new_map,
    popup_html,
    require,
    to_wgs84,
    township_outlines,
)
from childspace.outputs.maps.basemap import Basemap
from childspace.outputs.style import VALUE_LABELS, category_label, split_label

__all__ = ["overview_map"]


def overview_map(
    boundaries: gpd.GeoDataFrame,
    unit_coverage: pd.DataFrame,
    category: str | None = None,
    *,
    townships: gpd.GeoDataFrame | None = None,
    life_circles: pd.DataFrame | None = None,
    categories: Sequence[str] | None = None,
    value: str = "pct_walk",
    title: str | None = None,
    synthetic: bool = False,
    basemaps: Sequence[str] = (),
    base: Basemap | None = None,
    target_pct: float | None = None,
) -> folium.Map:
    """Coverage per unit as choropleths: one category, or every category as a radio-switched layer.

    Parameters
    ----------
    boundaries : GeoDataFrame
        Canonical boundaries (``unit_id``, ``name``, ``level``), any CRS; the units shaded.
    unit_coverage : DataFrame
        ``coverage.unit_coverage`` long table (``unit_id``, ``category``, ``children``, ``pct_walk``,
        ``pct_line``, ``below_target``, ``target_pct`` …); percentages 0–100.
    category : str, optional
        Map this one category only (as before). When omitted and the table holds several categories, every
        category becomes one choropleth in a radio group (one shown at a time, Leaflet base layers); the basemap
        tiles are then checkbox overlays underneath.
    townships : GeoDataFrame, optional
        Township boundaries (``unit_id``, ``name``) drawn over the communities (thick dark line with a white
        casing, always on top) with their names.
    life_circles : DataFrame, optional
        ``coverage.life_circles`` (``unit_id``, ``lc5_complete``, ``lc10_complete``, ``lc15_complete``,
        ``lc*_missing``): adds a "life-circle completeness" choropleth, units coloured by how many of the
        5/10/15-minute circles are complete (0–3; grey = cannot be judged); the popup lists what is missing.
    categories : sequence of str, optional
        Order (and selection) of the categories in the radio group; default the table's order.
    value : str, default "pct_walk"
        Column shaded (``pct_walk``, ``pct_line`` or ``area_pct_walk``), in per cent 0–100. Classes: 0–20,
        20–40, 40–60, 60–80, 80–100 %; units without figures are grey; units below target have a thick purple
        edge (over the township outlines when the units shaded are the townships).
    title, synthetic, basemaps, base, target_pct
        As in :func:`coverage_map`.

    Returns
    -------
    folium.Map
    """
    b = to_wgs84(boundaries, "boundaries")
    require(b, ["unit_id", "name"], "boundaries")
    require(unit_coverage, ["unit_id", value], "unit_coverage")
    uc = pd.DataFrame(unit_coverage)
    target = target_of(uc, target_pct)
    present_cats = [str(c) for c in pd.unique(uc["category"].dropna())] if "category" in uc.columns else []
    if category is not None and present_cats and category not in present_cats:
        raise DataError(
            f"unit_coverage has no rows for category {category!r}",
            feature="unit_coverage",
            fix=f"pass category= one of {present_cats}",
        )
    if categories is not None:
        unknown = [c for c in categories if c not in present_cats]
        if unknown:
            raise DataError(
                f"unit_coverage has no rows for categories {unknown}",
                feature="unit_coverage",
                fix=f"choose among {present_cats}",
            )
    multi = category is None and (len(present_cats) > 1 or life_circles is not None)
    if not multi:
        if category is None and len(present_cats) == 1:
            category = present_cats[0]
        return _overview_single(b, uc, category, townships, value, title, synthetic, basemaps, base, target)
    cats = list(categories) if categories is not None else present_cats
    vlabel = VALUE_LABELS.get(value, value)
    vz, ve = split_label(vlabel)
    tlabel = f"{target:g}%" if target is not None else "80%"
    frames = [b] + ([to_wgs84(townships, "townships")] if townships is not None and len(townships) else [])
    m = new_map(
        frames,
        title or "儿童服务设施覆盖缺口 Where coverage falls short of the target",
        f"{vz}，目标 {tlabel}；每次显示一类（右上角切换） {ve} against the {tlabel} target, one category "
        "at a time (switch top right)",
        synthetic,
        basemaps,
        tiles_overlay=True,
        base=base,
    )
    level = b["level"].astype(str).to_numpy() if "level" in b.columns else np.array(["community"] * len(b))
    shade_level = "community" if (level == "community").any() else "township"
    units = b[level == shade_level]
    lv_zh, lv_en = ("村社区", "communities") if shade_level == "community" else ("乡镇街道", "townships")
    for i, cat in enumerate(cats):
        j = join_coverage(units, uc, cat, value)
        vals, below, styles = choropleth_styles(j, value, target)
        clabel = category_label(cat)
        cz, ce = split_label(clabel)
        pops = popup_html(
            [f"{n} · {clabel}" for n in esc(j["name"])], coverage_rows(j, vals, value, vlabel, below, target)
        )
        tips = [
            f"{n} · {cz}: {v}{' ▼' if bt else ''}"
            for n, v, bt in zip(esc(j["name"]), fmt_num(pd.Series(vals), 1, "%"), below)
        ]
        n_below = int(below.sum())
        fill = add_layer(
            m,
            j,
            styles,
            pops,
            tips,
            f"{cz}（{n_below}/{len(j)} 低于目标） {ce} ({n_below}/{len(j)} below target)",
            show=(i == 0),
            overlay=False,
            pane="csChoro",
            pane_z=350,
            simplify_m=5.0,
        )
        if shade_level == "township":
            _below_edges_on_top(m, j, below, fill)
    legend: list[tuple[str, list[LegendItem]]] = [
        (f"{vz}（{lv_zh}） {ve} ({lv_en})", coverage_legend(target))
    ]
    if life_circles is not None:
        items = life_circle_layer(
            m, units, life_circles, "生活圈完整度 Life-circle completeness", show=False, overlay=False
        )
        legend.append(("生活圈完整度（切换后显示） Life circles complete", items))
    BlankBase("不着色 No shading", show=False).add_to(m)
    b_items = _outlines_and_names(
        m, b, townships, township_names=shade_level == "township" or len(units) > 80
    )
    if b_items:
        legend.append(("边界 Boundaries", b_items))
    LabelDeclutter().add_to(m)
    return finish(m, legend)


def _overview_single(
    b: gpd.GeoDataFrame,
    uc: pd.DataFrame,
    category: str | None,
    townships: gpd.GeoDataFrame | None,
    value: str,
    title: str | None,
    synthetic: bool,
    basemaps: Sequence[str],
    base: Basemap | None,
    target: float | None,
) -> folium.Map:
    """One category: a choropleth layer per level present (communities shown)."""
    if "category" in uc.columns and category is None:
        cats = uc["category"].dropna().unique()
        raise ChildspaceError(
            "overview_map needs a category when unit_coverage holds several",
            fix=f"pass category= one of {sorted(map(str, cats))}",
        )
    clabel = category_label(category) if category else ""
    cz, ce = split_label(clabel)
    vlabel = VALUE_LABELS.get(value, value)
    vz, ve = split_label(vlabel)
    frames = [b] + ([to_wgs84(townships, "townships")] if townships is not None and len(townships) else [])
    m = new_map(frames, title or f"{cz}{vz} {ce}: {ve}", None, synthetic, basemaps, base=base)
    j = join_coverage(b, uc, category, value)
    level = j["level"].astype(str).to_numpy() if "level" in j.columns else np.array(["community"] * len(j))
    present = [lv for lv in ("township", "community") if (level == lv).any()]
    for lv in present:
        sub = j[level == lv]
        vals, below, styles = choropleth_styles(sub, value, target)
        pops = popup_html(
            [f"{n} {clabel}" for n in esc(sub["name"])],
            coverage_rows(sub, vals, value, vlabel, below, target),
        )
        tips = [
            f"{n}: {v}{' ▼' if bt else ''}"
            for n, v, bt in zip(esc(sub["name"]), fmt_num(pd.Series(vals), 1, "%"), below)
        ]
        n_below = int(below.sum())
        lname = (
            f"乡镇街道覆盖率（{n_below}/{len(sub)} 低于目标） Township coverage ({n_below} below target)"
            if lv == "township"
            else f"村社区覆盖率（{n_below}/{len(sub)} 低于目标） Community coverage ({n_below} below target)"
        )
        show = lv == "community" or len(present) == 1
        fill = add_layer(
            m, sub, styles, pops, tips, lname, show=show, pane="csChoro", pane_z=350, simplify_m=5.0
        )
        if lv == "township":
            _below_edges_on_top(m, sub, below, fill)
    items = _outlines_and_names(m, b, townships, township_names=True)
    legend: list[tuple[str, list[LegendItem]]] = [(vlabel, coverage_legend(target))]
    if items:
        legend.append(("边界 Boundaries", items))
    LabelDeclutter().add_to(m)
    return finish(m, legend)


#: the pane of the below-target edges of township units: over the township outlines (pane ``csTop``, 450)
BELOW_PANE = "csBelow"


def _below_edges_on_top(m: folium.Map, units: gpd.GeoDataFrame, below: np.ndarray, fill: GeoLayer) -> None:
    """The thick purple edge of the township units below the target, drawn again over the township outlines.

    Shaded townships are the township outlines' own polygons: their edge, drawn with the fill (pane
    ``csChoro``), would lie exactly under the white-cased black outline, unseen. The edges are a layer of their
    own in a pane above the outlines that lets clicks through to the fill below, shown and hidden with ``fill``
    (its category or level switched on or off)."""
    sel = np.asarray(below, dtype=bool)
    if not sel.any():
        return
    style = {"color": BELOW_EDGE, "weight": 3.0, "fill": False, "opacity": 1.0}
    edge = add_layer(
        m,
        units[sel],
        [style] * int(sel.sum()),
        None,
        None,
        f"{fill.layer_name} — 低于目标 below target",
        show=fill.show,
        pane=BELOW_PANE,
        pane_z=460,
        interactive=False,
        control=False,
        simplify_m=5.0,
    )
    FollowLayer(fill, edge, BELOW_PANE).add_to(m)


class FollowLayer(MacroElement):
    """Show and hide one layer with another (a fill and its edges drawn in another pane); the pane ``pane``
    lets clicks through (no pointer events) to the layers under it."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map, lead, follower) {
            var pane = map.getPane({{ this.pane|tojson }});
            if (pane) { pane.style.pointerEvents = 'none'; }
            lead.on('add', function () { map.addLayer(follower); });
            lead.on('remove', function () { map.removeLayer(follower); });
        })({{ this._parent.get_name() }}, {{ this.lead.get_name() }}, {{ this.follower.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, lead: GeoLayer, follower: GeoLayer, pane: str):
        super().__init__()
        self._name = "FollowLayer"
        self.lead = lead
        self.follower = follower
        self.pane = pane


def _outlines_and_names(
    m: folium.Map, b: gpd.GeoDataFrame, townships: gpd.GeoDataFrame | None, township_names: bool
) -> list[LegendItem]:
    """The township outlines and the unit names, each drawn once; returns the legend items.

    With a township layer, its outlines and names are the townships' (the boundaries' own township rows, the
    same units, are neither outlined nor named again: the legend and the layer list would list the township
    boundaries twice, and each township would be named twice); the boundaries' communities are named (up to
    80). The township names come first in the page, so :class:`LabelDeclutter` keeps them where a community
    name would overlap one."""
    if townships is None or not len(townships):
        return boundary_layers(m, b, labels=True, outline=("township",))
    items = township_outlines(m, townships, show_names=township_names)
    level = b["level"].astype(str).to_numpy() if "level" in b.columns else np.array(["community"] * len(b))
    rest = b[level != "township"]
    if len(rest):
        items += boundary_layers(m, rest, labels=True, outline=())
    return list(dict.fromkeys(items))


class LabelDeclutter(MacroElement):
    """Declutter the names on the map, in the browser, after every zoom and every layer switched: labels are
    taken in order, unit names first (in page order), then the base map's place names by rank (cities first);
    a label is hidden (not moved; marked ``data-cs-hidden``) when its box overlaps, or comes within 4 pixels
    of, a label kept before it, and a place name also when it repeats a name already shown (the place=town
    "Ordino" beside the label of the parish Ordino, "摩纳哥 Monaco" beside the unit Monaco). Units that share a
    name are all named. A place name the base map hides at that zoom takes no room."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            var pending = null, GAP = 4;  // pixels kept between two labels
            function rank(el) {
                if (el.classList.contains('cs-label')) { return 0; }
                var r = /(?:^|\\s)r(\\d)(?:\\s|$)/.exec(el.className);
                return r ? 1 + Number(r[1]) : 9;
            }
            function names(el) {  // the label's name, and the local name in small type under it
                var span = el.firstElementChild || el, small = span.querySelector('small');
                var all = span.textContent, out = [];
                if (small) {
                    out.push(small.textContent);
                    all = all.slice(0, all.length - small.textContent.length);
                }
                out.push(all);
                return out.map(function (n) { return n.trim().toLowerCase(); }).filter(Boolean);
            }
            function run() {
                pending = null;
                var els = Array.prototype.slice.call(
                    map.getContainer().querySelectorAll('.cs-label, .cs-place'));
                var order = els.map(function (el, i) { el.style.visibility = ''; return [rank(el), i, el]; });
                order.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
                var kept = [], shown = {};
                order.forEach(function (o) {
                    var el = o[2], box = (el.firstElementChild || el).getBoundingClientRect();
                    if (!box.width || !box.height) { return; }
                    var ns = names(el), why = null;
                    if (o[0] > 0 && ns.some(function (n) { return shown[n]; })) { why = 'name'; }
                    for (var k = 0; why === null && k < kept.length; k++) {
                        var q = kept[k];
                        if (box.left < q.right + GAP && box.right + GAP > q.left && box.top < q.bottom + GAP
                            && box.bottom + GAP > q.top) { why = 'overlap'; }
                    }
                    if (why !== null) {
                        el.style.visibility = 'hidden';
                        el.setAttribute('data-cs-hidden', why);
                        return;
                    }
                    el.removeAttribute('data-cs-hidden');
                    ns.forEach(function (n) { shown[n] = true; });
                    kept.push(box);
                });
            }
            function later() { if (pending === null) { pending = setTimeout(run, 0); } }
            map.on('zoomend layeradd layerremove baselayerchange overlayadd overlayremove', later);
            map.whenReady(later);
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "LabelDeclutter"
