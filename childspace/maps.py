"""Interactive maps (交互地图): self-contained folium/Leaflet HTML that opens with no internet.

Leaflet 1.9.4 (BSD-2-Clause, ``childspace/static/LEAFLET_LICENSE``) is inlined into every page from
``childspace/static/``; nothing is loaded from a CDN. The only network addresses a map may contain are the optional
basemap tiles, switchable in the layer control; without tiles the map stays readable (white background,
boundaries, labels).

Basemaps: ``"osm"`` (OpenStreetMap, WGS84 like the data) and ``"amap"`` (高德 Amap tiles). Tiles of Chinese
providers (Amap, Baidu, Tencent) are drawn in the GCJ-02 datum, so data in WGS84 appear about 500 m off on them
in Yueqing; the Amap layer says so in its name. Use it only to orient, never to read positions.

All layers are given in EPSG:4326 (any input CRS is reprojected). Labels, popups, legends and layer names are
bilingual, Chinese first.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.map import Layer
from folium.template import Template

from childspace._errors import ChildspaceError, DataError
from childspace.report import (
    CATEGORY_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    STRESS_LABELS,
    VERDICT_LABELS,
    category_label,
)

__all__ = [
    "coverage_map",
    "pilot_map",
    "routes_map",
    "overview_map",
    "save_map",
    "render_html",
    "SYNTHETIC_NOTE",
    "CATEGORY_COLOURS",
]

_STATIC = Path(__file__).parent / "static"

#: the note every title carries when the data are the bundled synthetic sample
SYNTHETIC_NOTE = "示例数据（虚构） Synthetic sample data"

#: one colour per canonical category (facility markers, service areas)
CATEGORY_COLOURS: dict[str, str] = {
    "kindergarten": "#e7298a",
    "primary_school": "#1f78b4",
    "middle_school": "#6a3d9a",
    "playground": "#ff7f00",
    "park": "#33a02c",
    "mother_baby_room": "#b15928",
    "children_home": "#e31a1c",
    "library": "#a6761d",
    "hospital": "#1b9e77",
}

#: coverage % classes for choropleths: upper bounds and colours (red = low coverage, green = high)
COVERAGE_BINS: list[tuple[float, str, str]] = [
    (20.0, "#d7191c", "0–20%"),
    (40.0, "#fdae61", "20–40%"),
    (60.0, "#ffffbf", "40–60%"),
    (80.0, "#a6d96a", "60–80%"),
    (100.0001, "#1a9641", "80–100%"),
]
_NO_DATA = "#bdbdbd"

_FONT_STACK = ('"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",'
               '"WenQuanYi Micro Hei","SimHei",sans-serif')

_PAGE_CSS = f"""
html,body{{margin:0;padding:0;height:100%;}}
.leaflet-container{{background:#ffffff;font-family:{_FONT_STACK};font-size:13px;}}
.cs-title{{position:absolute;top:10px;left:60px;z-index:1000;background:rgba(255,255,255,.94);
  padding:6px 12px;border:1px solid #888;border-radius:5px;box-shadow:0 1px 4px rgba(0,0,0,.3);
  font-family:{_FONT_STACK};max-width:46%;}}
.cs-title .t{{font-size:17px;font-weight:bold;color:#1f2d3d;}}
.cs-title .s{{font-size:13px;color:#333;margin-top:2px;}}
.cs-title .syn{{display:inline-block;margin-top:3px;font-size:13px;font-weight:bold;color:#7a5200;
  background:#fff3cd;border:1px solid #e0b84d;border-radius:3px;padding:0 6px;}}
.cs-legend{{position:absolute;bottom:28px;right:10px;z-index:1000;background:rgba(255,255,255,.95);
  padding:6px 10px;border:1px solid #888;border-radius:5px;box-shadow:0 1px 4px rgba(0,0,0,.3);
  font-family:{_FONT_STACK};font-size:13px;line-height:18px;max-height:45%;overflow:auto;}}
.cs-legend .h{{font-weight:bold;margin:4px 0 2px;}}
.cs-legend .i{{white-space:nowrap;}}
.cs-legend .sw{{display:inline-block;width:18px;height:12px;margin-right:6px;vertical-align:middle;
  border:1px solid #555;}}
.cs-legend .dot{{display:inline-block;width:11px;height:11px;border-radius:50%;margin:0 9px 0 3px;
  vertical-align:middle;border:1px solid #333;}}
.cs-legend .ln{{display:inline-block;width:20px;height:0;margin-right:6px;vertical-align:middle;
  border-top-width:4px;border-top-style:solid;}}
.cs-label{{background:none;border:none;width:0;height:0;pointer-events:none;}}
.cs-label>span{{position:absolute;transform:translate(-50%,-50%);font-family:{_FONT_STACK};font-size:13px;
  font-weight:bold;color:#222;white-space:nowrap;text-shadow:-1px -1px 0 #fff,1px -1px 0 #fff,-1px 1px 0 #fff,
  1px 1px 0 #fff,0 0 3px #fff;}}
.cs-label>span.star{{transform:translate(2px,-22px);font-size:18px;color:#000;}}
.cs-legend .toggle{{cursor:pointer;font-weight:bold;font-size:14px;border-bottom:1px solid #ccc;
  margin-bottom:2px;user-select:none;}}
.cs-pop{{border-collapse:collapse;font-size:12px;}}
.cs-pop th{{text-align:left;padding:1px 8px 1px 0;color:#444;font-weight:normal;white-space:nowrap;
  vertical-align:top;}}
.cs-pop td{{padding:1px 0;font-weight:bold;}}
.cs-pop caption{{text-align:left;font-size:14px;font-weight:bold;padding-bottom:4px;}}
.leaflet-control-layers{{font-size:13px;max-height:55vh;overflow:auto;}}
.leaflet-control-scale-line{{font-size:13px;border-width:3px;border-color:#222;background:rgba(255,255,255,.85);}}
#cs-js-errors{{display:none;}}
"""

# Collects script errors into a data attribute of <html> (and a visible box), so a broken map is noticed.
_ERROR_JS = """
window.__csErrors = [];
window.onerror = function (msg, src, line, col) {
  var text = String(msg) + ' @' + (src || '') + ':' + line + ':' + col;
  window.__csErrors.push(text);
  document.documentElement.setAttribute('data-js-errors', window.__csErrors.join(' | '));
  return false;
};
"""

_READY_JS = """
<script>
(function () {
  var root = document.documentElement;
  root.setAttribute('data-map-ready', '1');
  if (window.__csErrors && window.__csErrors.length) {
    var box = document.createElement('div');
    box.id = 'cs-js-errors-visible';
    box.style.cssText = 'position:absolute;top:60px;left:60px;z-index:2000;background:#fdd;border:1px solid #c00;padding:6px;';
    box.textContent = '地图脚本出错 Map script error: ' + window.__csErrors.join(' | ');
    document.body.appendChild(box);
  }
})();
</script>
"""


@functools.lru_cache(maxsize=1)
def _leaflet_assets() -> tuple[str, str]:
    """(leaflet.js, leaflet.css) text with the CSS images inlined as data URIs."""
    try:
        js = (_STATIC / "leaflet.js").read_text(encoding="utf-8")
        css = (_STATIC / "leaflet.css").read_text(encoding="utf-8")
    except OSError as exc:
        raise ChildspaceError("the bundled Leaflet files are missing", path=_STATIC,
                              fix="reinstall childspace (its static/ folder ships leaflet.js and leaflet.css)") from exc
    js = re.sub(r"//# sourceMappingURL=\S+\s*$", "", js).replace("</script", "<\\/script")

    def _img(match: re.Match) -> str:
        name = match.group(1)
        p = _STATIC / f"leaflet-{name}"
        if not p.exists():
            return "url()"
        return "url(data:image/png;base64," + base64.b64encode(p.read_bytes()).decode("ascii") + ")"

    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)  # comments only (links to browser bug trackers)
    css = re.sub(r"url\(images/([A-Za-z0-9_.-]+)\)", _img, css)
    return js, css


class _SelfContainedMap(folium.Map):
    """A folium.Map whose page carries Leaflet inline and loads no script or stylesheet from the network."""

    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.default_js = []
        self.default_css = []
        js, css = _leaflet_assets()
        header = self.get_root().header
        header.add_child(Element('<meta name="viewport" content="width=device-width, initial-scale=1.0">'),
                         name="cs_viewport")
        header.add_child(Element(f"<script>{_ERROR_JS}</script>"), name="cs_errors")
        header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css_inline")
        header.add_child(Element(f"<style>{_PAGE_CSS}</style>"), name="cs_css")
        header.add_child(Element(f"<script>{js}</script>"), name="leaflet_js_inline")


class _GeoLayer(Layer):
    """A GeoJSON overlay whose features carry their own style (``_s``), popup (``_p``), tooltip (``_t``) and,
    for label points, label text (``_label``); no jQuery, no per-feature Python objects in the page."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {%- if this.pane %}
        if (!{{ this._parent.get_name() }}.getPane({{ this.pane|tojson }})) {
            {{ this._parent.get_name() }}.createPane({{ this.pane|tojson }}).style.zIndex = {{ this.pane_z }};
        }
        {%- endif %}
        var {{ this.get_name() }} = L.geoJson({{ this.data_json }}, {
            {%- if this.pane %}
            pane: {{ this.pane|tojson }},
            {%- endif %}
            style: function (f) { return f.properties._s || {}; },
            pointToLayer: function (f, ll) {
                if (f.properties._label !== undefined) {
                    return L.marker(ll, {interactive: false, keyboard: false,
                        icon: L.divIcon({className: 'cs-label', html: f.properties._label, iconSize: null})});
                }
                var o = Object.assign({}, f.properties._s || {});
                {%- if this.pane %}
                o.pane = {{ this.pane|tojson }};
                {%- endif %}
                return L.circleMarker(ll, o);
            },
            onEachFeature: function (f, layer) {
                if (f.properties._p) { layer.bindPopup(f.properties._p, {maxWidth: 420}); }
                if (f.properties._t) { layer.bindTooltip(f.properties._t, {sticky: true}); }
            }
        });
        {% endmacro %}
        """
    )

    def __init__(self, data_json: str, name: str, show: bool = True, overlay: bool = True,
                 pane: str | None = None, pane_z: int = 350):
        super().__init__(name=name, overlay=overlay, control=True, show=show)
        self._name = "GeoLayer"
        self.data_json = data_json
        self.pane = pane
        self.pane_z = int(pane_z)


class _MetricScale(MacroElement):
    """Leaflet's scale bar (``L.control.scale``), metres/kilometres only."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, metric: true, maxWidth: 200, position: 'bottomleft'})
            .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"


class _BlankBase(Layer):
    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.layerGroup();
        {% endmacro %}
        """
    )

    def __init__(self, name: str, show: bool):
        super().__init__(name=name, overlay=False, control=True, show=show)
        self._name = "BlankBase"


# ----------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------

def _esc(values: Iterable[Any]) -> list[str]:
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and not np.isfinite(v)) or v is pd.NA:
            out.append("—")
        else:
            out.append(html.escape(str(v)))
    return out


def _fmt_num(values: pd.Series, digits: int = 0, unit: str = "") -> list[str]:
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    fmt = f"{{:,.{digits}f}}{unit}"
    return ["—" if not np.isfinite(v) else fmt.format(v) for v in arr]


def _popup_html(title: Sequence[str] | None, rows: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """Build one ``<table class="cs-pop">`` per feature; ``rows`` are (bilingual label, already-escaped values)."""
    n = len(title) if title is not None else (len(rows[0][1]) if rows else 0)
    parts = [["<table class='cs-pop'>"] for _ in range(n)]
    if title is not None:
        for p, t in zip(parts, title):
            p.append(f"<caption>{t}</caption>")
    for label, vals in rows:
        lab = html.escape(label)
        for p, v in zip(parts, vals):
            p.append(f"<tr><th>{lab}</th><td>{v}</td></tr>")
    return ["".join(p) + "</table>" for p in parts]


def _to_wgs84(gdf: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise DataError(f"{what} must be a GeoDataFrame, got {type(gdf).__name__}",
                        fix=f"pass {what} as a GeoDataFrame (e.g. from childspace.io)")
    if gdf.crs is None:
        raise DataError(f"{what} has no CRS", feature=what,
                        fix="load it through childspace.io or set its CRS with .set_crs()")
    out = gdf.to_crs(4326) if gdf.crs.to_epsg() != 4326 else gdf
    out = out[~(out.geometry.isna() | out.geometry.is_empty)]
    return out


def _require(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"{what} lacks the columns {missing} (has {list(df.columns)})", feature=what,
                        fix=f"pass the output of the analysis that produces {what} (see docs/architecture.md)")


def _features_json(geoms: gpd.GeoSeries, props: Sequence[dict]) -> str:
    """A GeoJSON FeatureCollection text: geometries rounded to 1e-6 degrees (~0.1 m), properties as given."""
    arr = shapely.transform(np.asarray(geoms.values, dtype=object), lambda c: np.round(c, 6))
    gj = shapely.to_geojson(arr)
    feats = [f'{{"type":"Feature","geometry":{g},"properties":{json.dumps(p, ensure_ascii=False)}}}'
             for g, p in zip(gj, props)]
    text = '{"type":"FeatureCollection","features":[' + ",".join(feats) + "]}"
    return text.replace("</", "<\\/")


def _add_layer(m: folium.Map, gdf: gpd.GeoDataFrame, styles: Sequence[dict], popups: Sequence[str] | None,
               tooltips: Sequence[str] | None, name: str, show: bool = True, overlay: bool = True,
               pane: str | None = None, pane_z: int = 350) -> _GeoLayer:
    n = len(gdf)
    props = []
    for i in range(n):
        p: dict[str, Any] = {"_s": styles[i]}
        if popups is not None:
            p["_p"] = popups[i]
        if tooltips is not None:
            p["_t"] = tooltips[i]
        props.append(p)
    layer = _GeoLayer(_features_json(gdf.geometry, props), name=name, show=show, overlay=overlay, pane=pane,
                      pane_z=pane_z)
    layer.add_to(m)
    return layer


def _add_labels(m: folium.Map, gdf: gpd.GeoDataFrame, labels: Sequence[str], name: str, show: bool = True) -> None:
    pts = gpd.GeoSeries(shapely.point_on_surface(np.asarray(gdf.geometry.values, dtype=object)), crs=gdf.crs)
    props = [{"_label": f"<span>{html.escape(str(t))}</span>"} for t in labels]
    _GeoLayer(_features_json(pts, props), name=name, show=show).add_to(m)


def _legend_html(sections: Sequence[tuple[str, Sequence[tuple[str, str, str]]]]) -> str:
    """sections: (heading, [(kind 'fill'|'dot'|'line'|'dash', colour, label)])."""
    parts = ["<div class='cs-legend' id='cs-legend'><div class='toggle' title='点击收起/展开 Click to fold' "
             "onclick=\"var b=document.getElementById('cs-legend-body');"
             "b.style.display=(b.style.display==='none')?'':'none';\">图例 Legend ▾</div>"
             "<div id='cs-legend-body'>"]
    for heading, items in sections:
        parts.append(f"<div class='h'>{html.escape(heading)}</div>")
        for kind, colour, label in items:
            if kind == "fill":
                sw = f"<span class='sw' style='background:{colour};'></span>"
            elif kind == "dot":
                sw = f"<span class='dot' style='background:{colour};'></span>"
            elif kind == "dash":
                sw = f"<span class='ln' style='border-top-color:{colour};border-top-style:dashed;'></span>"
            else:
                sw = f"<span class='ln' style='border-top-color:{colour};'></span>"
            parts.append(f"<div class='i'>{sw}{html.escape(label)}</div>")
    parts.append("</div></div>")
    return "".join(parts)


def _new_map(bounds_gdfs: Sequence[gpd.GeoDataFrame | None], title: str, subtitle: str | None,
             synthetic: bool, basemaps: Sequence[str], tiles_overlay: bool = False) -> folium.Map:
    frames = [g for g in bounds_gdfs if g is not None and len(g)]
    if not frames:
        raise DataError("nothing to draw: every layer given is empty", fix="check the inputs of the map")
    b = np.array([g.total_bounds for g in frames])
    minx, miny = np.nanmin(b[:, 0]), np.nanmin(b[:, 1])
    maxx, maxy = np.nanmax(b[:, 2]), np.nanmax(b[:, 3])
    m = _SelfContainedMap(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=13, tiles=None,
                          control_scale=False, prefer_canvas=False, zoom_snap=0.25)
    _MetricScale().add_to(m)
    m.get_root().title = title
    unknown = [b_ for b_ in basemaps if b_ not in ("osm", "amap")]
    if unknown:
        raise ChildspaceError(f"unknown basemap {unknown}", fix='use "osm", "amap" or none (basemaps=())')
    for i, key in enumerate(basemaps):
        if key == "osm":
            folium.TileLayer(
                tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                attr='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
                name="开放街道地图 OpenStreetMap", overlay=tiles_overlay, control=True, show=(i == 0),
                max_zoom=19,
            ).add_to(m)
        else:
            folium.TileLayer(
                tiles="https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
                attr="&copy; 高德地图 Amap (GCJ-02)", subdomains="1234",
                name="高德地图（GCJ-02坐标，与数据偏移约500米） Amap (GCJ-02, ~500 m off)",
                overlay=tiles_overlay, control=True, show=(i == 0), max_zoom=18,
            ).add_to(m)
    if not tiles_overlay:
        _BlankBase("无底图（白色） No basemap (white)", show=not basemaps).add_to(m)
    # keep the data clear of the title (top left) and of the layer list and legend (right-hand side)
    m.fit_bounds([[float(miny), float(minx)], [float(maxy), float(maxx)]], padding_top_left=(20, 80),
                 padding_bottom_right=(320, 20))
    sub = f"<div class='s'>{html.escape(subtitle)}</div>" if subtitle else ""
    syn = f"<div class='syn'>{html.escape(SYNTHETIC_NOTE)}</div>" if synthetic else ""
    m.get_root().html.add_child(Element(
        f"<div class='cs-title' id='cs-title'><div class='t'>{html.escape(title)}</div>{sub}{syn}</div>"))
    return m


def _finish(m: folium.Map, legend: Sequence[tuple[str, Sequence[tuple[str, str, str]]]]) -> folium.Map:
    m.get_root().html.add_child(Element(_legend_html(legend)))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def _boundary_layers(m: folium.Map, boundaries: gpd.GeoDataFrame | None, labels: bool = True,
                     label_limit: int = 80,
                     outline: Sequence[str] = ("community", "township")) -> list[tuple[str, str, str]]:
    """Township and community outlines (+ name labels); returns legend items."""
    if boundaries is None or not len(boundaries):
        return []
    b = _to_wgs84(boundaries, "boundaries")
    _require(b, ["unit_id", "name"], "boundaries")
    level = b["level"] if "level" in b.columns else pd.Series("community", index=b.index)
    items = []
    for lev, colour, weight, lname in (("community", "#777777", 1.0, "村社区边界 Community boundaries"),
                                       ("township", "#222222", 2.5, "乡镇街道边界 Township boundaries")):
        sub = b[level.to_numpy() == lev]
        if not len(sub):
            continue
        style = {"color": colour, "weight": weight, "fill": False, "opacity": 0.9}
        if lev == "community":
            style["dashArray"] = "4 3"
        if lev in outline:
            tips = [f"{n}（{u}）" for n, u in zip(_esc(sub["name"]), _esc(sub["unit_id"]))]
            _add_layer(m, sub, [style] * len(sub), None, tips, lname)
            items.append(("dash" if lev == "community" else "line", colour, lname))
        if labels and len(sub) <= label_limit:
            _add_labels(m, sub, sub["name"].astype(str).tolist(),
                        "乡镇街道名称 Township names" if lev == "township" else "村社区名称 Community names",
                        show=(lev == "township") or not (level == "township").any())
    return items


def _category_filter(gdf: gpd.GeoDataFrame, category: str) -> gpd.GeoDataFrame:
    if "category" not in gdf.columns:
        return gdf
    return gdf[gdf["category"].astype(str) == category]


# ----------------------------------------------------------------------------------------------------
# 1. coverage
# ----------------------------------------------------------------------------------------------------

def coverage_map(boundaries: gpd.GeoDataFrame | None, facilities: gpd.GeoDataFrame,
                 service_areas: gpd.GeoDataFrame | None = None, access: gpd.GeoDataFrame | None = None,
                 gaps: gpd.GeoDataFrame | None = None, category: str | None = None, *,
                 title: str | None = None, synthetic: bool = False,
                 basemaps: Sequence[str] = ("osm",)) -> folium.Map:
    """Map of one facility category: facilities, service areas, uncovered homes and gap areas.

    Parameters
    ----------
    boundaries : GeoDataFrame or None
        Canonical boundaries (``unit_id``, ``name``, ``level``); outlines and labels.
    facilities : GeoDataFrame
        Canonical facilities (``facility_id``, ``name``, ``category``); those of ``category`` are drawn.
    service_areas : GeoDataFrame, optional
        ``coverage.service_areas`` or ``coverage.dissolve_service_areas`` (``category``, ``method`` =
        ``walk``/``line``, ``radius_m``): walking and straight-line areas become two toggleable layers.
    access : GeoDataFrame, optional
        ``coverage.origin_access`` (``children``, ``covered_walk_<cat>`` / ``covered_line_<cat>``,
        ``dist_walk_<cat>``): homes not covered on foot are drawn, sized by children.
    gaps : GeoDataFrame, optional
        ``coverage.gaps`` (``unit_name``, ``category``, ``children_uncovered``, ``area_m2``, ``rank``): shaded
        by children affected.
    category : str, optional
        Canonical category; may be omitted when ``facilities`` holds a single category.
    title : str, optional
        Title box text; default "<category> 服务覆盖 Service coverage".
    synthetic : bool, default False
        Add the note "示例数据（虚构） Synthetic sample data" to the title.
    basemaps : sequence of {"osm", "amap"}, default ("osm",)
        Tile layers offered (the first is shown); a white "no basemap" choice is always offered.

    Returns
    -------
    folium.Map
        Self-contained once written with :func:`save_map`. Any CRS in, EPSG:4326 drawn.
    """
    fac = _to_wgs84(facilities, "facilities")
    _require(fac, ["facility_id", "name"], "facilities")
    if category is None:
        cats = fac["category"].dropna().unique() if "category" in fac.columns else []
        if len(cats) != 1:
            raise ChildspaceError("coverage_map needs a category when facilities hold several",
                                  fix=f"pass category= one of {sorted(map(str, cats))}")
        category = str(cats[0])
    clabel = category_label(category)
    colour = CATEGORY_COLOURS.get(category, "#1f78b4")
    fac = _category_filter(fac, category)
    layers_for_bounds: list[gpd.GeoDataFrame | None] = [fac]
    if boundaries is not None:
        layers_for_bounds.append(_to_wgs84(boundaries, "boundaries"))
    m = _new_map(layers_for_bounds, title or f"{clabel.split(' ', 1)[0]}服务覆盖 {clabel.split(' ', 1)[-1]} "
                 "service coverage", None, synthetic, basemaps)
    legend: list[tuple[str, list[tuple[str, str, str]]]] = []

    # gap polygons first (drawn below), shaded by children affected
    if gaps is not None and len(gaps):
        g = _category_filter(_to_wgs84(gaps, "gaps"), category)
        _require(g, ["children_uncovered"], "gaps")
        if len(g):
            kids = pd.to_numeric(g["children_uncovered"], errors="coerce").fillna(0).to_numpy()
            edges = _nice_breaks(kids, 4)
            ramp = ["#fee5d9", "#fcae91", "#fb6a4a", "#cb181d"]
            cls = np.clip(np.searchsorted(edges[1:-1], kids, side="right"), 0, 3)
            styles = [{"color": "#99000d", "weight": 1, "fillColor": ramp[c], "fillOpacity": 0.65}
                      for c in cls]
            name_col = "unit_name" if "unit_name" in g.columns else ("unit_id" if "unit_id" in g.columns else None)
            names = _esc(g[name_col]) if name_col else ["—"] * len(g)
            rows = [("未覆盖儿童 Children uncovered", _fmt_num(g["children_uncovered"]))]
            if "area_m2" in g.columns:
                rows.append(("面积 Area (ha)", _fmt_num(g["area_m2"] / 1e4, 1)))
            if "rank" in g.columns:
                rows.append(("排序 Rank", _fmt_num(g["rank"])))
            pops = _popup_html([f"缺口 Gap: {n}" for n in names], rows)
            tips = [f"缺口 Gap: {n} · {k} 名儿童 children" for n, k in zip(names, _fmt_num(g["children_uncovered"]))]
            _add_layer(m, g, styles, pops, tips, "覆盖缺口（按儿童数） Gaps (by children)")
            legend.append(("覆盖缺口：未覆盖儿童 Gaps: children uncovered",
                           [("fill", ramp[i], f"{edges[i]:,.0f}–{edges[i + 1]:,.0f}") for i in range(4)]))

    # service areas, one layer per method
    if service_areas is not None and len(service_areas):
        sa = _category_filter(_to_wgs84(service_areas, "service_areas"), category)
        method = sa["method"].astype(str) if "method" in sa.columns else pd.Series("walk", index=sa.index)
        items = []
        for meth, zh, en, style in (
                ("line", "直线服务区", "Straight-line service area",
                 {"color": colour, "weight": 1.5, "dashArray": "6 4", "fillColor": colour, "fillOpacity": 0.06}),
                ("walk", "步行服务区", "Walking service area",
                 {"color": colour, "weight": 1.2, "fillColor": colour, "fillOpacity": 0.22})):
            sub = sa[method.to_numpy() == meth]
            if not len(sub):
                continue
            r = pd.to_numeric(sub["radius_m"], errors="coerce") if "radius_m" in sub.columns else None
            rtxt = f"（{r.max():,.0f} 米 m）" if r is not None and r.notna().any() else ""
            name = f"{zh}{rtxt} {en}"
            ids = _esc(sub["facility_id"]) if "facility_id" in sub.columns else [clabel] * len(sub)
            tips = [f"{zh} {en}: {i}" for i in ids]
            _add_layer(m, sub, [style] * len(sub), None, tips, name, show=True)
            items.append(("fill" if meth == "walk" else "dash", colour, name))
        if items:
            legend.append(("服务区 Service areas", items))

    items = _boundary_layers(m, boundaries)
    if items:
        legend.append(("边界 Boundaries", items))

    # uncovered homes
    if access is not None and len(access):
        acc = _to_wgs84(access, "access")
        col = next((c for c in (f"covered_walk_{category}", f"covered_line_{category}") if c in acc.columns), None)
        if col is None:
            raise DataError(f"access lacks covered_walk_{category} / covered_line_{category}", feature="access",
                            fix=f"run coverage.origin_access for category {category!r}")
        unc = acc[~acc[col].fillna(False).astype(bool).to_numpy()]
        if len(unc):
            kids = pd.to_numeric(unc.get("children", pd.Series(1, index=unc.index)), errors="coerce").fillna(0)
            radius = np.clip(2.5 + 1.6 * np.sqrt(kids.to_numpy()), 3, 14)
            styles = [{"radius": float(r), "color": "#67000d", "weight": 1, "fillColor": "#ef3b2c",
                       "fillOpacity": 0.8} for r in radius]
            rows = [("儿童数 Children", _fmt_num(kids))]
            dcol = f"dist_walk_{category}"
            if dcol in unc.columns:
                rows.append((f"最近{clabel.split(' ')[0]}步行距离 Walk to nearest (m)", _fmt_num(unc[dcol])))
            lcol = f"dist_line_{category}"
            if lcol in unc.columns:
                rows.append(("直线距离 Straight line (m)", _fmt_num(unc[lcol])))
            ids = _esc(unc["origin_id"]) if "origin_id" in unc.columns else ["—"] * len(unc)
            pops = _popup_html([f"未覆盖住户 Uncovered home {i}" for i in ids], rows)
            tips = [f"未覆盖 Uncovered: {k} 名儿童 children" for k in _fmt_num(kids)]
            basis = "步行" if col.startswith("covered_walk") else "直线"
            en_basis = "on foot" if basis == "步行" else "straight line"
            lname = f"未覆盖住户（{basis}） Uncovered homes ({en_basis})"
            _add_layer(m, unc, styles, pops, tips, lname)
            legend.append(("住户 Homes", [("dot", "#ef3b2c", f"{lname}，大小=儿童数 size = children")]))

    # facilities on top
    if len(fac):
        rows = [("编号 ID", _esc(fac["facility_id"])), ("类型 Category", [clabel] * len(fac))]
        for col, lab in (("capacity", "容量 Capacity"), ("address", "地址 Address"), ("source", "来源 Source")):
            if col in fac.columns:
                rows.append((lab, _fmt_num(fac[col]) if col == "capacity" else _esc(fac[col])))
        pops = _popup_html(_esc(fac["name"]), rows)
        style = {"radius": 7, "color": "#ffffff", "weight": 2, "fillColor": colour, "fillOpacity": 1.0}
        _add_layer(m, fac, [style] * len(fac), pops, [f"{n}（{clabel}）" for n in _esc(fac["name"])],
                   f"{CATEGORY_LABELS.get(category, (category, category))[0]}（{len(fac)}） "
                   f"{CATEGORY_LABELS.get(category, (category, category))[1]} ({len(fac)})")
        legend.insert(0, ("设施 Facilities", [("dot", colour, clabel)]))
    return _finish(m, legend)


def _nice_breaks(values: np.ndarray, k: int) -> np.ndarray:
    """k equal-count class edges (k+1 values), made strictly increasing."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return np.linspace(0, 1, k + 1)
    edges = np.quantile(v, np.linspace(0, 1, k + 1))
    edges = np.round(edges)
    for i in range(1, len(edges)):
        if edges[i] <= edges[i - 1]:
            edges[i] = edges[i - 1] + 1
    return edges


# ----------------------------------------------------------------------------------------------------
# 2. pilots
# ----------------------------------------------------------------------------------------------------

def _status_columns(ps: pd.DataFrame) -> list[str]:
    return [c[4:] for c in ps.columns if c.startswith("has_")]


def _pilot_popups(ps: pd.DataFrame) -> list[str]:
    n = len(ps)
    status = ps["status"].astype(str).to_numpy()
    st_txt = [f"<span style='color:{STATUS_LABELS.get(s, ('', '', '#555'))[2]}'>"
              f"{STATUS_LABELS.get(s, (s, s, ''))[0]} {STATUS_LABELS.get(s, (s, s, ''))[1]}</span>" for s in status]
    kinds = ps["kind"].astype(str).to_numpy() if "kind" in ps.columns else np.array([""] * n)
    rows = [("编号 ID", _esc(ps["pilot_id"])),
            ("批次 Batch", _esc(ps["batch"]) if "batch" in ps.columns else ["—"] * n),
            ("类型 Kind", [" ".join(KIND_LABELS.get(k, (k, ""))) for k in kinds]),
            ("状态 Status", st_txt)]
    if "township" in ps.columns:
        rows.append(("所属镇街 Township", _esc(ps["township"])))
    if "key_project" in ps.columns:
        kp = ps["key_project"].fillna(False).astype(bool).to_numpy()
        rows.append(("重点项目 Key project", ["★ 是 Yes" if k else "否 No" for k in kp]))
    for cat in _status_columns(ps):
        has = ps[f"has_{cat}"].fillna(False).astype(bool).to_numpy()
        dist = _fmt_num(ps[f"dist_{cat}"], 0, " m") if f"dist_{cat}" in ps.columns else [""] * n
        rows.append((category_label(cat),
                     [("<span style='color:#1a9641'>✓</span> " if h else "<span style='color:#d7191c'>✗</span> ")
                      + (d if d != "—" else "") for h, d in zip(has, dist)]))
    if "reasons" in ps.columns:
        rows.append(("原因 Reasons", _esc(ps["reasons"])))
    if "notes" in ps.columns:
        rows.append(("备注 Notes", _esc(ps["notes"])))
    return _popup_html(_esc(ps["name"]), rows)


def pilot_map(pilots_status: gpd.GeoDataFrame, catchments: gpd.GeoDataFrame | None = None, *,
              boundaries: gpd.GeoDataFrame | None = None, title: str | None = None, synthetic: bool = False,
              basemaps: Sequence[str] = ("osm",)) -> folium.Map:
    """Map of the pilot units (试点单元) coloured by status, one layer per batch.

    Parameters
    ----------
    pilots_status : GeoDataFrame
        ``pilots.pilot_status`` output: ``pilot_id``, ``name``, ``batch``, ``kind``, ``status``
        (``meets``/``partly``/``gap``), ``reasons``, ``has_<cat>``, ``dist_<cat>`` (m), optional ``key_project``;
        Polygon geometry for communities, Point otherwise.
    catchments : GeoDataFrame, optional
        ``pilots.pilot_catchments`` (``pilot_id``, geometry): drawn as a dashed outline layer.
    boundaries : GeoDataFrame, optional
        Canonical boundaries, outlines and labels under the pilots.
    title, synthetic, basemaps
        As in :func:`coverage_map`.

    Returns
    -------
    folium.Map
        Popups hold the checklist (✓/✗ per category with distance in metres), figures and reasons; key projects
        (重点项目) get a black ring and a ★.
    """
    ps = _to_wgs84(pilots_status, "pilots_status")
    _require(ps, ["pilot_id", "name", "status"], "pilots_status")
    bad = sorted(set(ps["status"].astype(str)) - set(STATUS_LABELS))
    if bad:
        raise DataError(f"unknown pilot status values {bad}", feature="pilots_status.status",
                        fix=f"status must be one of {list(STATUS_LABELS)}")
    m = _new_map([ps] + ([_to_wgs84(boundaries, "boundaries")] if boundaries is not None else []),
                 title or "儿童友好试点单元评估 Child-friendly pilot units", None, synthetic, basemaps)
    legend: list[tuple[str, list[tuple[str, str, str]]]] = []
    items = _boundary_layers(m, boundaries, label_limit=40)
    if catchments is not None and len(catchments):
        c = _to_wgs84(catchments, "catchments")
        style = {"color": "#555555", "weight": 1.2, "dashArray": "5 4", "fillColor": "#9ecae1", "fillOpacity": 0.08}
        tips = [f"服务范围 Catchment: {i}" for i in (_esc(c["pilot_id"]) if "pilot_id" in c.columns
                                                     else ["—"] * len(c))]
        _add_layer(m, c, [style] * len(c), None, tips, "试点服务范围 Pilot catchments", show=True)
        items.append(("dash", "#555555", "试点服务范围 Pilot catchments"))
    pops = _pilot_popups(ps)
    status = ps["status"].astype(str).to_numpy()
    key = (ps["key_project"].fillna(False).astype(bool).to_numpy() if "key_project" in ps.columns
           else np.zeros(len(ps), dtype=bool))
    poly = ps.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    styles = []
    for s, k, p in zip(status, key, poly):
        colour = STATUS_LABELS[s][2]
        if p:
            styles.append({"color": "#000000" if k else colour, "weight": 3 if k else 2, "fillColor": colour,
                           "fillOpacity": 0.45})
        else:
            styles.append({"radius": 10 if k else 8, "color": "#000000" if k else "#ffffff",
                           "weight": 3 if k else 2, "fillColor": colour, "fillOpacity": 0.95})
    tips = [f"{'★ ' if k else ''}{n} · {STATUS_LABELS[s][0]} {STATUS_LABELS[s][1]}"
            for n, s, k in zip(_esc(ps["name"]), status, key)]
    batches = ps["batch"] if "batch" in ps.columns else pd.Series(0, index=ps.index)
    bvals = batches.to_numpy()
    for b in sorted(pd.unique(bvals)):
        sel = np.flatnonzero(bvals == b)
        sub = ps.iloc[sel]
        name = f"{b}年试点（{len(sub)}个） Pilots {b} ({len(sub)})"
        _add_layer(m, sub, [styles[i] for i in sel], [pops[i] for i in sel], [tips[i] for i in sel], name)
    if key.any():
        kp = ps[key]
        _GeoLayer(_features_json(gpd.GeoSeries(shapely.point_on_surface(np.asarray(kp.geometry.values)),
                                               crs=4326),
                                 [{"_label": "<span class='star'>★</span>"}] * len(kp)),
                  name=f"重点项目 ★ Key projects ({len(kp)})").add_to(m)
    counts = pd.Series(status).value_counts()
    legend.append(("试点状态 Pilot status", [("fill", col, f"{zh} {en}（{int(counts.get(k_, 0))}）")
                                          for k_, (zh, en, col) in STATUS_LABELS.items()]))
    legend.append(("标记 Marks", [("dot", "#000000", "黑色外圈/★ = 重点项目 Black ring/★ = key project"),
                                ("fill", "#cccccc", "面 = 社区试点，点 = 其他 Polygon = community, point = other")]))
    if items:
        legend.append(("边界 Boundaries", items))
    return _finish(m, legend)


# ----------------------------------------------------------------------------------------------------
# 3. routes
# ----------------------------------------------------------------------------------------------------

def routes_map(routes: gpd.GeoDataFrame, hazards: gpd.GeoDataFrame | None = None,
               walksheds: gpd.GeoDataFrame | None = None, schools: gpd.GeoDataFrame | None = None, *,
               boundaries: gpd.GeoDataFrame | None = None, title: str | None = None, synthetic: bool = False,
               basemaps: Sequence[str] = ("osm",)) -> folium.Map:
    """Safe routes to school: routes coloured by stress level, hazards sized by children, walksheds.

    Parameters
    ----------
    routes : GeoDataFrame
        ``routes.school_routes``: ``origin_id``, ``school_id``, ``route`` (``shortest``/``safest``),
        ``children``, ``length_m``, ``worst_level`` (1–4), ``verdict`` …, LineString geometry. Safest and shortest
        routes are separate layers (shortest hidden at first); colour = worst stress level on the route.
    hazards : GeoDataFrame, optional
        ``routes.hazards``: ``hazard_id``, ``type`` (``segment``/``crossing``), ``level``, ``children``,
        ``name``, ``reason``, ``rank``; points sized and segments thickened by children affected.
    walksheds : GeoDataFrame, optional
        ``routes.walksheds``: ``school_id``, ``kind`` (``plain``/``safe``), ``max_level``, ``radius_m``,
        ``area_m2``; plain and safe walksheds are separate layers.
    schools : GeoDataFrame, optional
        Facilities (``facility_id``, ``name``) of the schools, drawn with labels.
    boundaries, title, synthetic, basemaps
        As in :func:`coverage_map`.

    Returns
    -------
    folium.Map
    """
    r = _to_wgs84(routes, "routes")
    _require(r, ["school_id", "worst_level"], "routes")
    frames: list[gpd.GeoDataFrame | None] = [r]
    for extra in (walksheds, schools, boundaries):
        if extra is not None and len(extra):
            frames.append(_to_wgs84(extra, "layer"))
    m = _new_map(frames, title or "上学路线安全评估 Safe routes to school", None, synthetic, basemaps)
    legend: list[tuple[str, list[tuple[str, str, str]]]] = []
    b_items = _boundary_layers(m, boundaries, label_limit=40)

    if walksheds is not None and len(walksheds):
        w = _to_wgs84(walksheds, "walksheds")
        _require(w, ["kind"], "walksheds")
        items = []
        for kind, zh, en, style in (
                ("plain", "普通步行范围", "Plain walkshed",
                 {"color": "#4a6fa5", "weight": 1.5, "dashArray": "6 4", "fillColor": "#4a6fa5",
                  "fillOpacity": 0.08}),
                ("safe", "安全步行范围", "Safe walkshed",
                 {"color": "#1a9641", "weight": 1.5, "fillColor": "#1a9641", "fillOpacity": 0.22})):
            sub = w[w["kind"].astype(str).to_numpy() == kind]
            if not len(sub):
                continue
            rows = [("学校 School", _esc(sub["school_id"]) if "school_id" in sub.columns else ["—"] * len(sub))]
            for col, lab, d in (("radius_m", "半径 Radius (m)", 0), ("max_level", "最高压力等级 Max level", 0),
                                ("area_m2", "面积 Area (ha)", 1)):
                if col in sub.columns:
                    vals = sub[col] / 1e4 if col == "area_m2" else sub[col]
                    rows.append((lab, _fmt_num(vals, d)))
            pops = _popup_html([f"{zh} {en}"] * len(sub), rows)
            _add_layer(m, sub, [style] * len(sub), pops, None, f"{zh} {en}", show=True)
            items.append(("fill" if kind == "safe" else "dash", style["color"], f"{zh} {en}"))
        if items:
            legend.append(("步行范围 Walksheds", items))

    level = pd.to_numeric(r["worst_level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
    kids = (pd.to_numeric(r["children"], errors="coerce").fillna(0).to_numpy() if "children" in r.columns
            else np.zeros(len(r)))
    weight = np.clip(2.0 + np.sqrt(kids) * 0.8, 2.5, 9.0)
    rows = [("起点 Origin", _esc(r["origin_id"]) if "origin_id" in r.columns else ["—"] * len(r)),
            ("学校 School", _esc(r["school_id"])),
            ("儿童数 Children", _fmt_num(pd.Series(kids))),
            ("最差压力等级 Worst level", [" ".join(STRESS_LABELS[v][:2]) for v in level])]
    for col, lab, d in (("length_m", "长度 Length (m)", 0), ("detour_ratio", "绕行系数 Detour ratio", 2),
                        ("unsafe_crossings", "不安全过街 Unsafe crossings", 0)):
        if col in r.columns:
            rows.append((lab, _fmt_num(r[col], d)))
    if "verdict" in r.columns:
        rows.append(("评价 Verdict", [" ".join(VERDICT_LABELS.get(v, (v, "", ""))[:2])
                                      for v in r["verdict"].astype(str)]))
    shares = [c for c in ("share_l1", "share_l2", "share_l3", "share_l4") if c in r.columns]
    if shares:
        sh = r[shares].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy() * 100
        rows.append(("各级占比 Share by level 1/2/3/4", [" / ".join(f"{x:.0f}%" for x in row) for row in sh]))
    if "assumed_share" in r.columns:
        rows.append(("推定标签占比 Share on assumed tags",
                     _fmt_num(pd.to_numeric(r["assumed_share"], errors="coerce") * 100, 0, "%")))
    kinds = r["route"].astype(str).to_numpy() if "route" in r.columns else np.array(["safest"] * len(r))
    pops = _popup_html([("最安全路线 Safest route" if k == "safest" else "最短路线 Shortest route")
                        for k in kinds], rows)
    styles = [{"color": STRESS_LABELS[lv][2], "weight": float(wt), "opacity": 0.9,
               **({"dashArray": "2 6"} if k == "shortest" else {})} for lv, wt, k in zip(level, weight, kinds)]
    tips = [f"{STRESS_LABELS[lv][0]} · {sid}" for lv, sid in zip(level, _esc(r["school_id"]))]
    order = np.argsort(level, kind="stable")  # worst drawn last, on top
    for kind, zh, en, show in (("shortest", "最短路线", "Shortest routes", False),
                               ("safest", "最安全路线", "Safest routes", True)):
        sel = order[kinds[order] == kind]
        if not len(sel):
            continue
        _add_layer(m, r.iloc[sel], [styles[i] for i in sel], [pops[i] for i in sel], [tips[i] for i in sel],
                   f"{zh}（{len(sel)}） {en} ({len(sel)})", show=show)
    legend.append(("路线最差压力等级 Worst stress on route",
                   [("line", col, f"{zh} {en}") for _lv, (zh, en, col) in STRESS_LABELS.items()]))
    legend.append(("线宽=儿童数 Width = children", [("dash", "#555555", "虚线=最短路线 Dotted = shortest route")]))

    if hazards is not None and len(hazards):
        h = _to_wgs84(hazards, "hazards")
        _require(h, ["level"], "hazards")
        hl = pd.to_numeric(h["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
        hk = pd.to_numeric(h.get("children", pd.Series(0, index=h.index)), errors="coerce").fillna(0).to_numpy()
        is_pt = h.geometry.geom_type.isin(["Point", "MultiPoint"]).to_numpy()
        styles = []
        for lv, k, pt in zip(hl, hk, is_pt):
            if pt:
                styles.append({"radius": float(np.clip(4 + 1.2 * np.sqrt(k), 5, 22)), "color": "#000000",
                               "weight": 1.5, "fillColor": STRESS_LABELS[lv][2], "fillOpacity": 0.9})
            else:
                styles.append({"color": STRESS_LABELS[lv][2], "weight": float(np.clip(4 + 0.8 * np.sqrt(k), 5, 14)),
                               "opacity": 0.85})
        types = h["type"].astype(str).to_numpy() if "type" in h.columns else np.array(["crossing"] * len(h))
        tzh = {"segment": "路段 Segment", "crossing": "过街点 Crossing"}
        rows = [("类型 Type", [tzh.get(t, t) for t in types]),
                ("压力等级 Level", [" ".join(STRESS_LABELS[v][:2]) for v in hl]),
                ("受影响儿童 Children affected", _fmt_num(pd.Series(hk)))]
        for col, lab in (("schools", "涉及学校 Schools"), ("reason", "原因 Reason"), ("rank", "排序 Rank")):
            if col in h.columns:
                rows.append((lab, _fmt_num(h[col]) if col == "rank" else _esc(h[col])))
        names = _esc(h["name"]) if "name" in h.columns else _esc(h.get("hazard_id", pd.Series("—", index=h.index)))
        ids = _esc(h["hazard_id"]) if "hazard_id" in h.columns else [""] * len(h)
        pops = _popup_html([f"隐患 Hazard {i} {n}" for i, n in zip(ids, names)], rows)
        tips = [f"隐患 Hazard: {n} · {k} 名儿童 children" for n, k in zip(names, _fmt_num(pd.Series(hk)))]
        _add_layer(m, h, styles, pops, tips, f"隐患点（{len(h)}） Hazards ({len(h)})")
        legend.append(("隐患点 Hazards", [("dot", STRESS_LABELS[4][2], "过街点：大小=受影响儿童 Crossing: size = children"),
                                        ("line", STRESS_LABELS[4][2], "路段：粗线 Segment: thick line")]))

    if schools is not None and len(schools):
        s = _to_wgs84(schools, "schools")
        sname = _esc(s["name"]) if "name" in s.columns else ["—"] * len(s)
        sid = _esc(s["facility_id"]) if "facility_id" in s.columns else (
            _esc(s["school_id"]) if "school_id" in s.columns else ["—"] * len(s))
        style = {"radius": 8, "color": "#ffffff", "weight": 2, "fillColor": "#1f78b4", "fillOpacity": 1}
        pops = _popup_html(sname, [("编号 ID", sid)])
        _add_layer(m, s, [style] * len(s), pops, sname, f"学校（{len(s)}） Schools ({len(s)})")
        if len(s) <= 60:
            _add_labels(m, s.set_geometry(s.geometry.translate(0, 0.0004)), [html.unescape(n) for n in sname],
                        "学校名称 School names")
        legend.append(("学校 Schools", [("dot", "#1f78b4", "学校 School")]))
    if b_items:
        legend.append(("边界 Boundaries", b_items))
    return _finish(m, legend)


# ----------------------------------------------------------------------------------------------------
# 4. overview choropleth
# ----------------------------------------------------------------------------------------------------

def _coverage_class(values: np.ndarray) -> list[str]:
    uppers = np.array([b[0] for b in COVERAGE_BINS])
    idx = np.searchsorted(uppers, np.nan_to_num(values, nan=-1.0), side="right")
    out = []
    for v, i in zip(values, idx):
        out.append(_NO_DATA if not np.isfinite(v) else COVERAGE_BINS[min(i, len(COVERAGE_BINS) - 1)][1])
    return out


def overview_map(boundaries: gpd.GeoDataFrame, unit_coverage: pd.DataFrame, category: str | None = None, *,
                 value: str = "pct_walk", title: str | None = None, synthetic: bool = False,
                 basemaps: Sequence[str] = ("osm",)) -> folium.Map:
    """Township and community boundaries with a choropleth of coverage per unit.

    Parameters
    ----------
    boundaries : GeoDataFrame
        Canonical boundaries (``unit_id``, ``name``, ``level``).
    unit_coverage : DataFrame
        ``coverage.unit_coverage`` long table (``unit_id``, ``category``, ``children``, ``pct_walk``,
        ``pct_line``, ``below_target``, ``target_pct`` …); percentages 0–100.
    category : str, optional
        The category mapped; may be omitted when the table holds one category.
    value : str, default "pct_walk"
        Column shaded (``pct_walk``, ``pct_line`` or ``area_pct_walk``), in per cent 0–100. Classes: 0–20,
        20–40, 40–60, 60–80, 80–100 %; units without figures are grey.
    title, synthetic, basemaps
        As in :func:`coverage_map`.

    Returns
    -------
    folium.Map
        One choropleth layer per level present (townships, communities) and the outlines.
    """
    b = _to_wgs84(boundaries, "boundaries")
    _require(b, ["unit_id", "name"], "boundaries")
    _require(unit_coverage, ["unit_id", value], "unit_coverage")
    uc = pd.DataFrame(unit_coverage)
    if "category" in uc.columns:
        if category is None:
            cats = uc["category"].dropna().unique()
            if len(cats) != 1:
                raise ChildspaceError("overview_map needs a category when unit_coverage holds several",
                                      fix=f"pass category= one of {sorted(map(str, cats))}")
            category = str(cats[0])
        uc = uc[uc["category"].astype(str) == category]
    if uc["unit_id"].astype(str).duplicated().any():
        dup = uc.loc[uc["unit_id"].astype(str).duplicated(), "unit_id"].iloc[0]
        raise DataError(f"unit_coverage has several rows for unit {dup!r} in category {category!r}",
                        feature=f"unit_id={dup}", fix="pass one row per unit and category")
    clabel = category_label(category) if category else ""
    vlabel = {"pct_walk": "步行覆盖率 Walking coverage", "pct_line": "直线覆盖率 Straight-line coverage",
              "area_pct_walk": "步行覆盖面积比 Area covered on foot"}.get(value, value)
    m = _new_map([b], title or f"{clabel.split(' ')[0]}{vlabel.split(' ')[0]} {clabel.split(' ', 1)[-1]}: "
                 f"{vlabel.split(' ', 1)[-1]}", None, synthetic, basemaps)
    keep = [c for c in ("unit_id", value, "children", "children_covered_walk", "pct_walk", "pct_line",
                        "median_walk_m", "radius_m", "below_target", "target_pct") if c in uc.columns]
    keep = list(dict.fromkeys(keep))
    uc = uc[keep].copy()
    uc["unit_id"] = uc["unit_id"].astype(str)
    b = b.assign(unit_id=b["unit_id"].astype(str))
    data_cols = [c for c in uc.columns if c != "unit_id" and c not in b.columns]
    j = b.merge(uc[["unit_id"] + data_cols], on="unit_id", how="left")
    level = j["level"].astype(str).to_numpy() if "level" in j.columns else np.array(["community"] * len(j))
    present = [lv for lv in ("township", "community") if (level == lv).any()]
    legend_items = [("fill", col, lab) for _u, col, lab in COVERAGE_BINS] + [("fill", _NO_DATA, "无数据 No data")]
    for lv in present:
        sub = j[level == lv]
        vals = pd.to_numeric(sub[value], errors="coerce").to_numpy(dtype=float)
        cols = _coverage_class(vals)
        below = (sub["below_target"].fillna(False).astype(bool).to_numpy() if "below_target" in sub.columns
                 else np.zeros(len(sub), dtype=bool))
        styles = [{"color": "#7f0000" if bt else "#444444", "weight": 2.2 if bt else 1.0,
                   "fillColor": c, "fillOpacity": 0.75} for c, bt in zip(cols, below)]
        rows = [("编号 Unit ID", _esc(sub["unit_id"])), (vlabel + " %", _fmt_num(pd.Series(vals), 1, "%"))]
        for col, lab, d in (("children", "儿童数 Children", 0),
                            ("children_covered_walk", "步行覆盖儿童 Covered on foot", 0),
                            ("pct_line", "直线覆盖率 Straight-line %", 1),
                            ("median_walk_m", "步行距离中位数 Median walk (m)", 0),
                            ("radius_m", "服务半径 Radius (m)", 0), ("target_pct", "目标 Target %", 0)):
            if col in sub.columns and col != value:
                rows.append((lab, _fmt_num(sub[col], d)))
        if "below_target" in sub.columns:
            rows.append(("低于目标 Below target", ["是 Yes" if x else "否 No" for x in below]))
        pops = _popup_html([f"{n} {clabel}" for n in _esc(sub["name"])], rows)
        tips = [f"{n}: {v}" for n, v in zip(_esc(sub["name"]), _fmt_num(pd.Series(vals), 1, "%"))]
        lname = "乡镇街道覆盖率 Township coverage" if lv == "township" else "村社区覆盖率 Community coverage"
        show = lv == "community" or len(present) == 1
        _add_layer(m, sub, styles, pops, tips, lname, show=show)
        if below.any():
            bsub = sub[below]
            _add_layer(m, bsub, [{"color": "#7f0000", "weight": 3.5, "fill": False, "dashArray": "8 4"}] * len(bsub),
                       None, [f"低于目标 Below target: {n}" for n in _esc(bsub["name"])],
                       f"{'乡镇' if lv == 'township' else '村社区'}低于目标（{len(bsub)}） "
                       f"{'Townships' if lv == 'township' else 'Communities'} below target ({len(bsub)})", show=show)
    items = _boundary_layers(m, b, outline=("township",))
    legend: list[tuple[str, list[tuple[str, str, str]]]] = [
        (f"{vlabel} %", legend_items),
        ("标记 Marks", [("dash", "#7f0000", "深红虚线框=低于目标 Dark red dashes = below target")])]
    if items:
        legend.append(("边界 Boundaries", items))
    return _finish(m, legend)


# ----------------------------------------------------------------------------------------------------
# output
# ----------------------------------------------------------------------------------------------------

_EXTERNAL = re.compile(r"""<(script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']((?:https?:)?//[^"']+)["'][^>]*>""",
                       re.IGNORECASE)


def render_html(m: folium.Map) -> str:
    """The complete HTML text of a map, checked to load no script or stylesheet from the network.

    Raises
    ------
    ChildspaceError
        When an element added to the map needs a script or stylesheet from the internet (e.g. folium plugins or
        ``folium.Marker`` icons); the map would not work offline.
    """
    text = m.get_root().render()
    needs = sorted({u for _t, u in _EXTERNAL.findall(text)})
    # elements whose libraries folium would load from a CDN (dropped here): awesome-markers icons, jQuery
    if "L.AwesomeMarkers" in text:
        needs.append("Leaflet.awesome-markers (folium.Icon)")
    if re.search(r"\$\(\s*[`'\"(document]", text):
        needs.append("jQuery (folium.Popup or objects kept in front)")
    if needs:
        raise ChildspaceError(
            "the map needs files from the internet: " + ", ".join(needs),
            fix="build maps with childspace.maps functions only (CircleMarkers/GeoJSON layers), without folium "
                "plugins or folium.Marker icons")
    idx = text.rfind("</html>")
    return text[:idx] + _READY_JS + text[idx:] if idx >= 0 else text + _READY_JS


def save_map(m: folium.Map, path: str | Path) -> Path:
    """Write a map as one self-contained HTML file (UTF-8), atomically (temporary file + rename).

    Parameters
    ----------
    m : folium.Map
        A map from this module.
    path : str or Path
        Target ``.html`` file; its folder must exist.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise ChildspaceError("the output folder does not exist", path=path.parent,
                              fix="create the folder first or choose another output path")
    text = render_html(m)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
