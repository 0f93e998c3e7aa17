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
import re
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

from childspace._atomic import atomic_path
from childspace._errors import ChildspaceError, DataError
from childspace.outputs.report import (
    _VALUE_LABELS,
    CATEGORY_LABELS,
    COVERAGE_BINS,
    KIND_LABELS,
    NO_DATA_COLOUR,
    STATUS_LABELS,
    STRESS_LABELS,
    VERDICT_LABELS,
    _coverage_colours,
    _only_category,
    category_label,
)

__all__ = [
    "CATEGORY_COLOURS",
    "SYNTHETIC_NOTE",
    "ZONE_STATUS_LABELS",
    "coverage_map",
    "hex_totals",
    "overview_map",
    "pilot_map",
    "render_html",
    "route_edge_use",
    "routes_map",
    "save_map",
    "school_zone_circles",
    "stress_frames",
    "zone_status",
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

#: legend rows of the coverage choropleths
_COVERAGE_LEGEND: list[tuple[str, str, str]] = (
    [("fill", col, lab) for _u, col, lab in COVERAGE_BINS] + [("fill", NO_DATA_COLOUR, "无数据 No data")])

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

    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)  # comments only (links to browser bug trackers)
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

    def render(self, **kwargs: Any) -> None:
        """Render with every layer control last, so layers added after the map was built (e.g.
        ``folium.FeatureGroup(...).add_to(m)``) are defined before the control lists them."""
        for key in [k for k, v in self._children.items() if isinstance(v, folium.LayerControl)]:
            self._children.move_to_end(key)
        super().render(**kwargs)


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
                        fix="load it through childspace.inputs.loaders or set its CRS with .set_crs()")
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
                 padding_bottom_right=(420, 20))
    sub = f"<div class='s'>{html.escape(subtitle)}</div>" if subtitle else ""
    syn = f"<div class='syn'>{html.escape(SYNTHETIC_NOTE)}</div>" if synthetic else ""
    m.get_root().html.add_child(Element(
        f"<div class='cs-title' id='cs-title'><div class='t'>{html.escape(title)}</div>{sub}{syn}</div>"))
    return m


def _finish(m: folium.Map, legend: Sequence[tuple[str, Sequence[tuple[str, str, str]]]]) -> folium.Map:
    m.get_root().html.add_child(Element(_legend_html(legend)))
    # the control is moved behind every other child when the page is rendered (_SelfContainedMap.render), so
    # layers a user adds to the returned map appear in it too
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


def hex_totals(points: gpd.GeoDataFrame, weights: np.ndarray | pd.Series | None = None,
               size_m: float = 150.0) -> gpd.GeoDataFrame:
    """Sum of ``weights`` per hexagonal cell (pointy-top hexagons, ``size_m`` = centre-to-corner, metres).

    Parameters
    ----------
    points : GeoDataFrame
        Points in any CRS with a CRS; binned in the local metric CRS (:func:`childspace.inputs.projection.local_crs_for`).
    weights : array-like, optional
        One value per point (e.g. children); default 1 per point.
    size_m : float, default 150
        Hexagon circumradius in metres (cell area = 2.598 · size²; 150 m → 5.85 ha).

    Returns
    -------
    GeoDataFrame (metric CRS)
        Non-empty cells only: ``total`` (sum of weights), ``points`` (count), Polygon geometry.
    """
    from childspace.inputs.projection import local_crs_for

    if size_m <= 0:
        raise ChildspaceError(f"hexagon size must be positive, got {size_m}", fix="pass size_m > 0 (metres)")
    crs = local_crs_for(points)
    pts = points.geometry.to_crs(crs)
    x, y = pts.x.to_numpy(dtype=float), pts.y.to_numpy(dtype=float)
    w = np.ones(len(x)) if weights is None else np.asarray(pd.to_numeric(pd.Series(np.asarray(weights)),
                                                                       errors="coerce").fillna(0), dtype=float)
    s3 = np.sqrt(3.0)
    # axial coordinates of pointy-top hexagons, then cube rounding (standard hexagon-grid arithmetic)
    qf = (s3 / 3.0 * x - y / 3.0) / size_m
    rf = (2.0 / 3.0 * y) / size_m
    sf = -qf - rf
    q, r, s_ = np.round(qf), np.round(rf), np.round(sf)
    dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s_ - sf)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s_, q)
    r = np.where(fix_r, -q - s_, r)
    cells, inv = np.unique(np.stack([q, r], axis=1), axis=0, return_inverse=True)
    inv = inv.ravel()
    total = np.bincount(inv, weights=w, minlength=len(cells))
    count = np.bincount(inv, minlength=len(cells))
    cx = size_m * s3 * (cells[:, 0] + cells[:, 1] / 2.0)
    cy = size_m * 1.5 * cells[:, 1]
    ang = np.deg2rad(30.0 + 60.0 * np.arange(7))
    ring = np.stack([cx[:, None] + size_m * np.cos(ang)[None, :], cy[:, None] + size_m * np.sin(ang)[None, :]],
                    axis=2)
    polys = shapely.polygons(ring)
    return gpd.GeoDataFrame({"total": total, "points": count}, geometry=polys, crs=crs)


def _auto_hex_size(gdf: gpd.GeoDataFrame) -> float:
    """A round hexagon size giving about 20 cells across the extent (50–1000 m)."""
    from childspace.inputs.projection import local_crs_for

    b = gdf.to_crs(local_crs_for(gdf)).total_bounds
    span = max(b[2] - b[0], b[3] - b[1], 1.0)
    raw = span / 20.0 / np.sqrt(3.0)
    for v in (50, 75, 100, 150, 200, 300, 500, 750, 1000):
        if v >= raw:
            return float(v)
    return 1000.0


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
                 max_points: int = 500, hex_size: float | None = None,
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
    max_points : int, default 500
        With more uncovered homes than this, the children uncovered are summed per hexagon (shown) and the home
        dots are made small and hidden at first.
    hex_size : float, optional
        Hexagon circumradius in metres; default about 20 cells across the extent (:func:`hex_totals`).
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
        category = _only_category(fac, "coverage_map", "facilities hold")
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
            styles = [{"color": "#99000d", "weight": 1.2, "fillColor": ramp[c], "fillOpacity": 0.45}
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
        aggregate = len(unc) > max_points
        basis = "步行" if col.startswith("covered_walk") else "直线"
        en_basis = "on foot" if basis == "步行" else "straight line"
        if aggregate:
            kids_all = pd.to_numeric(unc.get("children", pd.Series(1, index=unc.index)), errors="coerce").fillna(0)
            size = hex_size if hex_size is not None else _auto_hex_size(acc)
            hx = hex_totals(unc, kids_all.to_numpy(), size)
            hx = _to_wgs84(hx[hx["total"].to_numpy() > 0], "hexagons")
            if len(hx):
                tot = hx["total"].to_numpy(dtype=float)
                edges_ = _nice_breaks(tot, 4)
                ramp = ["#dadaeb", "#9e9ac8", "#6a51a3", "#3f007d"]
                cls = np.clip(np.searchsorted(edges_[1:-1], tot, side="right"), 0, 3)
                styles = [{"color": "#3f007d", "weight": 0.6, "fillColor": ramp[c], "fillOpacity": 0.7}
                          for c in cls]
                pops = _popup_html(["未覆盖儿童 Children uncovered"] * len(hx),
                                   [("儿童数 Children", _fmt_num(hx["total"])),
                                    ("住户数 Homes", _fmt_num(hx["points"])),
                                    ("格网 Cell", [f"六边形 {size:g} 米 hexagon {size:g} m"] * len(hx))])
                tips = [f"未覆盖（{basis}） Uncovered ({en_basis}): {k} 名儿童 children" for k in _fmt_num(hx["total"])]
                hname = f"未覆盖儿童（{basis}，每{size:g}米六边形） Children uncovered ({en_basis}, {size:g} m hexagons)"
                _add_layer(m, hx, styles, pops, tips, hname)
                legend.append((f"未覆盖儿童/六边形（{basis}） Children uncovered per hexagon",
                               [("fill", ramp[i], f"{edges_[i]:,.0f}–{edges_[i + 1]:,.0f}") for i in range(4)]))
        if len(unc):
            kids = pd.to_numeric(unc.get("children", pd.Series(1, index=unc.index)), errors="coerce").fillna(0)
            radius = (np.clip(1.5 + 0.6 * np.sqrt(kids.to_numpy()), 2, 5) if aggregate
                      else np.clip(2.5 + 1.6 * np.sqrt(kids.to_numpy()), 3, 14))
            styles = [{"radius": float(r), "color": "#67000d", "weight": 0.5 if aggregate else 1,
                       "fillColor": "#ef3b2c", "fillOpacity": 0.6 if aggregate else 0.8} for r in radius]
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
            lname = f"未覆盖住户（{basis}） Uncovered homes ({en_basis})"
            _add_layer(m, unc, styles, pops, tips, lname, show=not aggregate)
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

def stress_frames(network: Any, stress: Any) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Street and crossing stress as map layers.

    Parameters
    ----------
    network : WalkNetwork
        The network the stress was computed on (metric CRS, positional edge/node indices).
    stress : safety.Stress
        ``safety.network_stress(network)``.

    Returns
    -------
    edges : GeoDataFrame (network CRS)
        One row per network edge in positional order: ``edge`` (position), ``name``, ``highway``, ``level``
        (1–4), ``reason``, ``assumed`` (bool), ``length`` (m), LineString geometry. Pass as ``network_stress=`` to
        :func:`routes_map` / :func:`childspace.outputs.figures.plot_routes`.
    crossings : GeoDataFrame (network CRS)
        Nodes where a road is crossed (node crossing ``level`` > 0): ``node``, ``level`` (1–4), ``control``,
        ``reason``, Point geometry. Pass as ``crossings=`` to :func:`routes_map`.
    """
    ne, nn = int(network.n_edges), int(network.n_nodes)
    if len(stress.edges) != ne or len(stress.nodes) != nn:
        raise DataError(f"the stress has {len(stress.edges)} edges / {len(stress.nodes)} nodes, the network "
                        f"{ne} / {nn}", feature="stress", fix="pass safety.network_stress(network) of this network")
    ed = network.edges
    se = stress.edges

    def col(df: pd.DataFrame, name: str, n: int) -> np.ndarray:
        return df[name].to_numpy(dtype=object) if name in df.columns else np.full(n, None, dtype=object)

    edges = gpd.GeoDataFrame({
        "edge": np.arange(ne), "name": col(ed, "name", ne), "highway": col(ed, "highway", ne),
        "level": se["level"].to_numpy(dtype=int), "reason": col(se, "reason", ne),
        "assumed": se["assumed"].to_numpy(dtype=bool) if "assumed" in se.columns else np.zeros(ne, dtype=bool),
        "length": np.asarray(network.length, dtype=float)},
        geometry=np.asarray(ed.geometry.values, dtype=object), crs=network.crs)
    sn = stress.nodes
    lev = sn["level"].to_numpy(dtype=int)
    sel = np.flatnonzero(lev > 0)
    crossings = gpd.GeoDataFrame({
        "node": sel, "level": lev[sel], "control": col(sn, "control", nn)[sel], "reason": col(sn, "reason", nn)[sel]},
        geometry=shapely.points(np.asarray(network.x)[sel], np.asarray(network.y)[sel]), crs=network.crs)
    return edges, crossings


def route_edge_use(routes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, route: str = "safest") -> gpd.GeoDataFrame:
    """Children walking along each street: the routes of one kind summed per network edge.

    Parameters
    ----------
    routes : GeoDataFrame
        ``routes.school_routes`` output, as returned (its ``attrs["childspace_routes"]`` holds the edge sequences).
    edges : GeoDataFrame
        The network edges in positional order (e.g. the first frame of :func:`stress_frames`; an ``edge`` column,
        if present, gives the positions).
    route : {"safest", "shortest"}, default "safest"

    Returns
    -------
    GeoDataFrame (CRS of ``edges``)
        The edges used by at least one route, most children first: the columns of ``edges`` plus ``children``
        (sum over routes using the edge), ``routes`` (number of routes) and ``schools`` (number of schools).
        Unreachable routes are left out.
    """
    data = routes.attrs.get("childspace_routes")
    if data is None:
        raise DataError("the routes carry no edge sequences", feature="routes",
                        fix="pass the GeoDataFrame returned by routes.school_routes (not a reloaded file)")
    if route not in ("safest", "shortest"):
        raise DataError(f"route must be 'safest' or 'shortest', got {route!r}", feature="route_edge_use",
                        fix="choose which routes to count")
    pos = edges["edge"].to_numpy(dtype=np.int64) if "edge" in edges.columns else np.arange(len(edges))
    if int(data.n_edges) != len(edges) or not np.array_equal(np.sort(pos), np.arange(len(edges))):
        raise DataError(f"the routes were computed on a network of {data.n_edges} edges, {len(edges)} given",
                        feature="edges", fix="pass the edges of the network the routes were computed on")
    _require(routes, ["route", "route_key", "children", "school_id"], "routes")
    sel = (routes["route"].astype(str) == route).to_numpy().copy()
    if "verdict" in routes.columns:
        sel &= (routes["verdict"].astype(str) != "unreachable").to_numpy()
    keys = routes["route_key"].to_numpy(dtype=np.int64)[sel]
    kids = pd.to_numeric(routes["children"], errors="coerce").fillna(0).to_numpy(dtype=float)[sel]
    school = pd.factorize(routes["school_id"].astype(str).to_numpy()[sel])[0]
    order = np.argsort(keys)
    keys, kids, school = keys[order], kids[order], school[order]
    ek = np.asarray(data.edge_key, dtype=np.int64)
    ee = np.asarray(data.edge, dtype=np.int64)
    i = np.searchsorted(keys, ek)
    ok = (i < len(keys)) & (keys[np.minimum(i, max(len(keys) - 1, 0))] == ek) if len(keys) else np.zeros(len(ek), bool)
    pair = np.unique(np.stack([ek[ok], ee[ok]], axis=1), axis=0) if ok.any() else np.zeros((0, 2), np.int64)
    idx = np.searchsorted(keys, pair[:, 0])
    n = len(edges)
    children = np.bincount(pair[:, 1], weights=kids[idx], minlength=n)
    n_routes = np.bincount(pair[:, 1], minlength=n)
    sp = np.unique(np.stack([pair[:, 1], school[idx]], axis=1), axis=0) if len(pair) else np.zeros((0, 2), np.int64)
    n_schools = np.bincount(sp[:, 0], minlength=n) if len(sp) else np.zeros(n, dtype=np.int64)
    out = edges.copy()
    out["children"] = children[pos]
    out["routes"] = n_routes[pos]
    out["schools"] = n_schools[pos]
    out = out[out["routes"].to_numpy() > 0].sort_values("children", ascending=False, kind="stable")
    return out


def _edge_use_layer(m: folium.Map, use: gpd.GeoDataFrame, kind: str, show: bool) -> tuple[str, float]:
    """Streets used by routes: colour = street stress level, width = children (sqrt scale)."""
    u = _to_wgs84(use, "edge use")
    kids = u["children"].to_numpy(dtype=float)
    kmax = float(kids.max()) if len(kids) else 1.0
    width = 2.0 + 12.0 * np.sqrt(kids / max(kmax, 1.0))
    lev = (pd.to_numeric(u["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
           if "level" in u.columns else np.full(len(u), 4))
    order = np.argsort(kids, kind="stable")  # busiest drawn last (on top)
    u = u.iloc[order]
    width, lev, kids = width[order], lev[order], kids[order]
    styles = [{"color": STRESS_LABELS[lv][2], "weight": float(w), "opacity": 0.85, "lineCap": "butt"}
              for lv, w in zip(lev, width)]
    names = _esc(u["name"]) if "name" in u.columns else ["—"] * len(u)
    rows = [("街道 Street", names), ("通行儿童 Children on this street", _fmt_num(pd.Series(kids))),
            ("路线数 Routes", _fmt_num(u["routes"])), ("学校数 Schools", _fmt_num(u["schools"])),
            ("压力等级 Stress level", [" ".join(STRESS_LABELS[v][:2]) for v in lev])]
    if "reason" in u.columns:
        rows.append(("原因 Reason", _esc(u["reason"])))
    zh, en = ("最安全路线", "safest routes") if kind == "safest" else ("最短路线", "shortest routes")
    pops = _popup_html([f"{n} · {zh} {en}" for n in names], rows)
    tips = [f"{n}: {k} 名儿童 children" for n, k in zip(names, _fmt_num(pd.Series(kids)))]
    name = f"通学儿童流量（{zh}） Children per street ({en})"
    _add_layer(m, u, styles, pops, tips, name, show=show)
    return name, kmax


# ----------------------------------------------------------------------------------------------------
# school zones (GA/T 1215-2014)
# ----------------------------------------------------------------------------------------------------

#: school-zone result -> (中文, English, colour): both requirements met, one failed, both failed
ZONE_STATUS_LABELS: dict[str, tuple[str, str, str]] = {
    "compliant": ("符合", "Compliant", "#1a9641"),
    "one": ("一项不符合", "One requirement fails", "#f0a020"),
    "both": ("两项均不符合", "Both requirements fail", "#d7191c"),
}

#: zone-road colours: at or under the limit / over it
ZONE_ROAD_COLOURS: dict[bool, str] = {False: "#2c7bb6", True: "#d7191c"}


def _zone_rules() -> tuple[float, float, float]:
    """(radius m, speed limit km/h, crossing distance m) of ``[school_zone]`` in the safety config."""
    from childspace.analysis.safety import load_config

    zc = load_config()["school_zone"]
    return float(zc["radius_m"]), float(zc["speed_limit_kmh"]), float(zc["crossing_m"])


def _bool_col(df: pd.DataFrame, col: str, default: bool) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), default, dtype=bool)
    return df[col].astype("boolean").fillna(default).to_numpy(dtype=bool)


def zone_status(school_zones: pd.DataFrame) -> np.ndarray:
    """Per school ``"compliant"``, ``"one"`` (one of the two requirements fails) or ``"both"``.

    Parameters
    ----------
    school_zones : DataFrame
        :func:`childspace.analysis.safety.school_zones` table (``speed_ok``, ``crossing_ok``).

    Returns
    -------
    numpy.ndarray of str
    """
    _require(school_zones, ["speed_ok", "crossing_ok"], "school_zones")
    n_fail = (~_bool_col(school_zones, "speed_ok", True)).astype(int) + \
        (~_bool_col(school_zones, "crossing_ok", False)).astype(int)
    return np.array(["compliant", "one", "both"], dtype=object)[n_fail]


def school_zone_circles(school_zones: gpd.GeoDataFrame, schools: gpd.GeoDataFrame | None = None,
                        radius_m: float | None = None) -> gpd.GeoDataFrame:
    """The zone of each school: the union of the circles of ``radius_m`` around its gates (GA/T 1215-2014 3.2).

    Parameters
    ----------
    school_zones : GeoDataFrame
        :func:`childspace.analysis.safety.school_zones` table (``school_id``, geometry = the school point, any CRS). An
        ``entrances`` column (lists of (lon, lat), WGS84) gives the gates.
    schools : GeoDataFrame, optional
        Facilities with ``facility_id`` and ``entrances`` (as from :mod:`childspace.features`): the gates of the
        schools whose zone table has none. Schools without mapped entrances use the school point, as the check
        itself does.
    radius_m : float, optional
        Circle radius in metres; default ``[school_zone].radius_m`` of the safety config (150 m).

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        One row per school: ``school_id``, ``n_gates``, ``radius_m``, (Multi)Polygon geometry (buffered in the
        local metric CRS, :func:`childspace.inputs.projection.local_crs_for`).
    """
    from childspace.inputs.projection import local_crs_for

    z = _to_wgs84(school_zones, "school_zones")
    _require(z, ["school_id"], "school_zones")
    radius = _zone_rules()[0] if radius_m is None else float(radius_m)
    if radius <= 0:
        raise ChildspaceError(f"the zone radius must be positive, got {radius}", fix="pass radius_m > 0 (metres)")
    ids = z["school_id"].astype(str).to_numpy(dtype=object)
    ent = (z["entrances"].to_numpy(dtype=object) if "entrances" in z.columns
           else np.full(len(z), None, dtype=object))
    if schools is not None and len(schools) and {"facility_id", "entrances"} <= set(schools.columns):
        lookup = dict(zip(schools["facility_id"].astype(str), schools["entrances"].to_numpy(dtype=object)))
        merged = np.empty(len(ent), dtype=object)
        merged[:] = [e if _has_points(e) else lookup.get(i) for e, i in zip(ent, ids)]
        ent = merged
    has = np.array([_has_points(e) for e in ent], dtype=bool)
    counts = np.where(has, [len(e) if h else 1 for e, h in zip(ent, has)], 1)
    owner = np.repeat(np.arange(len(z)), counts)
    gx = np.repeat(z.geometry.x.to_numpy(dtype=float), counts)
    gy = np.repeat(z.geometry.y.to_numpy(dtype=float), counts)
    if has.any():
        xy = np.asarray([tuple(p)[:2] for e, h in zip(ent, has) if h for p in e], dtype=float)
        slot = np.isin(owner, np.flatnonzero(has))
        gx[slot], gy[slot] = xy[:, 0], xy[:, 1]
    gates = gpd.GeoSeries(shapely.points(gx, gy), crs=4326)
    crs = local_crs_for(z) if len(z) else 4326
    circles = gates.to_crs(crs).buffer(radius, quad_segs=32)
    zone = circles.groupby(owner).agg(lambda g: shapely.union_all(np.asarray(g.array, dtype=object)))
    geom = gpd.GeoSeries(np.asarray(zone.reindex(np.arange(len(z))).to_numpy(), dtype=object), crs=crs)
    return gpd.GeoDataFrame({"school_id": ids, "n_gates": counts.astype(np.int64), "radius_m": radius},
                            geometry=geom.to_crs(4326).values, crs=4326)


def _has_points(e: Any) -> bool:
    return isinstance(e, (list, tuple, np.ndarray)) and len(e) > 0


def _zone_popups(z: gpd.GeoDataFrame, limit: float, cross_m: float) -> list[str]:
    n = len(z)
    status = zone_status(z)
    names = _esc(z["name"]) if "name" in z.columns else _esc(z["school_id"])
    sp_ok = _bool_col(z, "speed_ok", True)
    cr_ok = _bool_col(z, "crossing_ok", False)
    ms = _fmt_num(z["max_speed_kmh"], 0, " km/h") if "max_speed_kmh" in z.columns else ["—"] * n
    cd = _fmt_num(z["crossing_m"], 0, " m") if "crossing_m" in z.columns else ["—"] * n
    ctype = {"marked": "人行横道 marked", "signals": "信号灯 signals"}
    ct = ([ctype.get(str(v), "—") if v is not None and v == v else "—" for v in z["crossing_type"]]
          if "crossing_type" in z.columns else ["—"] * n)

    def mark(ok: bool) -> str:
        return ("<span style='color:#1a9641'>✓ 符合 meets</span>" if ok
                else "<span style='color:#d7191c'>✗ 不符合 fails</span>")

    rows: list[tuple[str, list[str]]] = [
        ("学校编号 School ID", _esc(z["school_id"])),
        ("结论 Result", [f"<span style='color:{ZONE_STATUS_LABELS[s][2]}'>{ZONE_STATUS_LABELS[s][0]} "
                         f"{ZONE_STATUS_LABELS[s][1]}</span>" for s in status]),
        (f"限速≤{limit:g} km/h Speed ≤ {limit:g} km/h", [f"{mark(o)} · 最高 max {m}" for o, m in zip(sp_ok, ms)]),
        (f"{cross_m:g}米内人行横道 Crossing within {cross_m:g} m",
         [f"{mark(o)} · {d} · {t}" for o, d, t in zip(cr_ok, cd, ct)]),
    ]
    if "category" in z.columns:
        rows.insert(1, ("类型 Category", [category_label(str(c)) if isinstance(c, str) else "—"
                                         for c in z["category"]]))
    if "zone_road_m" in z.columns:
        rows.append(("范围内道路 Zone roads (m)", _fmt_num(z["zone_road_m"], 0)))
    if "share_speed_assumed" in z.columns:
        rows.append(("假定限速占比 Speed assumed", _fmt_num(pd.to_numeric(z["share_speed_assumed"],
                                                                         errors="coerce") * 100, 0, "%")))
    if "finding" in z.columns:
        rows.append(("发现 Findings", [v.replace(" | ", "<br>") for v in _esc(z["finding"])]))
    return _popup_html([f"{nm} · 校园周边 School zone" for nm in names], rows)


def _school_zone_base(m: folium.Map, school_zones: gpd.GeoDataFrame | None, zone_roads: gpd.GeoDataFrame | None,
                      schools: gpd.GeoDataFrame | None) -> list[tuple[str, str, str]]:
    """Zone circles (under the routes) and zone roads (narrow lines over the routes); returns legend items."""
    radius, limit, _cross = _zone_rules()
    items: list[tuple[str, str, str]] = []
    if school_zones is not None and len(school_zones):
        z = _to_wgs84(school_zones, "school_zones")
        _require(z, ["school_id", "speed_ok", "crossing_ok"], "school_zones")
        circ = school_zone_circles(z, schools, radius)
        status = zone_status(z)
        styles = [{"color": ZONE_STATUS_LABELS[s][2], "weight": 2.0, "dashArray": "5 4",
                   "fillColor": ZONE_STATUS_LABELS[s][2], "fillOpacity": 0.06} for s in status]
        names = _esc(z["name"]) if "name" in z.columns else _esc(z["school_id"])
        tips = [f"{nm} · 校门{radius:g}米范围 {radius:g} m around the gate" for nm in names]
        _add_layer(m, circ, styles, None, tips,
                   f"校园周边{radius:g}米范围（{len(circ)}） School zones {radius:g} m ({len(circ)})")
        items.append(("dash", "#555555", f"校门{radius:g}米范围（GA/T 1215-2014） {radius:g} m around the gate"))
    if zone_roads is not None and len(zone_roads):
        zr = _to_wgs84(zone_roads, "zone_roads")
        over = _bool_col(zr, "over_limit", False)
        assumed = _bool_col(zr, "speed_assumed", False)
        order = np.argsort(over, kind="stable")  # roads over the limit drawn last, on top
        zr, over, assumed = zr.iloc[order], over[order], assumed[order]
        styles = [{"color": ZONE_ROAD_COLOURS[bool(o)], "weight": 4.0, "opacity": 0.95, "lineCap": "butt",
                   **({"dashArray": "10 5"} if a else {})} for o, a in zip(over, assumed)]
        names = _esc(zr["name"]) if "name" in zr.columns else ["—"] * len(zr)
        sp = _fmt_num(zr["maxspeed_kmh"], 0, " km/h") if "maxspeed_kmh" in zr.columns else ["—"] * len(zr)
        rows = [("限速 Speed limit", [f"{v}（假定 assumed）" if a else v for v, a in zip(sp, assumed)]),
                (f"高于{limit:g} km/h Over {limit:g} km/h", ["是 Yes" if o else "否 No" for o in over])]
        for col, lab in (("school_id", "学校 School"), ("highway", "道路等级 Road class")):
            if col in zr.columns:
                rows.append((lab, _esc(zr[col])))
        if "length_m" in zr.columns:
            rows.append(("范围内长度 Length in zone (m)", _fmt_num(zr["length_m"], 0)))
        pops = _popup_html([f"校园周边道路 School-zone road: {nm}" for nm in names], rows)
        tips = [f"{nm} · {v}" for nm, v in zip(names, sp)]
        n_over = int(over.sum())
        _add_layer(m, zr, styles, pops, tips,
                   f"校园周边道路（{len(zr)}段，{n_over}段超{limit:g}） School-zone roads ({len(zr)}, {n_over} over "
                   f"{limit:g} km/h)")
        items += [("line", ZONE_ROAD_COLOURS[True], f"限速高于{limit:g} km/h Over {limit:g} km/h"),
                  ("line", ZONE_ROAD_COLOURS[False], f"限速≤{limit:g} km/h At most {limit:g} km/h"),
                  ("dash", "#555555", "虚线=限速按道路等级假定 Dashed = speed assumed from road class")]
    return items


def _school_zone_markers(m: folium.Map, school_zones: gpd.GeoDataFrame | None) -> list[tuple[str, str, str]]:
    """School markers (rings) coloured by the zone result, popup = the findings; returns legend items."""
    if school_zones is None or not len(school_zones):
        return []
    _radius, limit, cross_m = _zone_rules()
    z = _to_wgs84(school_zones, "school_zones")
    status = zone_status(z)
    styles = [{"radius": 13, "color": ZONE_STATUS_LABELS[s][2], "weight": 4, "fillColor": ZONE_STATUS_LABELS[s][2],
               "fillOpacity": 0.25} for s in status]
    names = _esc(z["name"]) if "name" in z.columns else _esc(z["school_id"])
    tips = [f"{nm} · 校园周边 School zone: {ZONE_STATUS_LABELS[s][0]} {ZONE_STATUS_LABELS[s][1]}"
            for nm, s in zip(names, status)]
    n_ok = int((status == "compliant").sum())
    _add_layer(m, z, styles, _zone_popups(z, limit, cross_m), tips,
               f"校园周边检查（{n_ok}/{len(z)} 符合） School-zone check ({n_ok}/{len(z)} compliant)")
    counts = pd.Series(status).value_counts()
    return [("dot", col, f"{zh} {en}（{int(counts.get(k, 0))}）") for k, (zh, en, col) in ZONE_STATUS_LABELS.items()]


def routes_map(routes: gpd.GeoDataFrame, hazards: gpd.GeoDataFrame | None = None,
               walksheds: gpd.GeoDataFrame | None = None, schools: gpd.GeoDataFrame | None = None, *,
               boundaries: gpd.GeoDataFrame | None = None, network_stress: gpd.GeoDataFrame | None = None,
               crossings: gpd.GeoDataFrame | None = None, school_zones: gpd.GeoDataFrame | None = None,
               zone_roads: gpd.GeoDataFrame | None = None, max_route_lines: int = 1500, title: str | None = None,
               synthetic: bool = False, basemaps: Sequence[str] = ("osm",)) -> folium.Map:
    """Safe routes to school: children per street, street and crossing stress, hazards, walksheds.

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
    network_stress : GeoDataFrame, optional
        Every network edge with its stress ``level`` (1–4) in positional order (first frame of
        :func:`stress_frames`; columns ``edge``, ``level``, optional ``name``, ``reason``): the whole street
        network as a toggleable layer coloured by level. With it, and routes as returned by
        ``routes.school_routes`` (edge sequences in ``attrs``), the main route layer is the number of children
        walking along each street (:func:`route_edge_use`; width = children, colour = street level), for the
        safest routes (shown) and the shortest ones (hidden at first).
    crossings : GeoDataFrame, optional
        Crossing points with a ``level`` (second frame of :func:`stress_frames`): small markers by level.
    school_zones : GeoDataFrame, optional
        :func:`childspace.analysis.safety.school_zones` per-school table (``school_id``, ``name``, ``speed_ok``,
        ``crossing_ok``, ``compliant``, ``finding``, ``max_speed_kmh``, ``crossing_m`` …; geometry = the school):
        the 150 m circles around each gate (:func:`school_zone_circles`; gates from an ``entrances`` column of the
        table or of ``schools``, else the school point) and a ring per school coloured by the result (green =
        compliant, amber = one requirement fails, red = both), whose popup lists the findings (GA/T 1215-2014).
    zone_roads : GeoDataFrame, optional
        The zone road segments (second frame of ``school_zones(..., return_segments=True)``: ``maxspeed_kmh``,
        ``over_limit``, ``speed_assumed``, ``length_m``): red = speed limit over 30 km/h, blue = at most 30 km/h,
        dashed = limit assumed from the road class.
    max_route_lines : int, default 1500
        With the per-street layer, individual route lines are added (hidden at first) only for up to this many
        routes of a kind; more make the page heavy. Without it, every route is drawn.
    boundaries, title, synthetic, basemaps
        As in :func:`coverage_map`.

    Returns
    -------
    folium.Map
    """
    r = _to_wgs84(routes, "routes")
    _require(r, ["school_id", "worst_level"], "routes")
    frames: list[gpd.GeoDataFrame | None] = [r]
    for extra in (walksheds, schools, boundaries, school_zones):
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

    if network_stress is not None and len(network_stress):
        ns = _to_wgs84(network_stress, "network_stress")
        _require(ns, ["level"], "network_stress")
        nl = pd.to_numeric(ns["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
        styles = [{"color": STRESS_LABELS[lv][2], "weight": 2.0, "opacity": 0.75} for lv in nl]
        nnames = _esc(ns["name"]) if "name" in ns.columns else ["—"] * len(ns)
        rows = [("压力等级 Stress level", [" ".join(STRESS_LABELS[v][:2]) for v in nl])]
        if "reason" in ns.columns:
            rows.append(("原因 Reason", _esc(ns["reason"])))
        if "assumed" in ns.columns:
            rows.append(("推定标签 Assumed tags", ["是 Yes" if a else "否 No"
                                                   for a in ns["assumed"].fillna(False).astype(bool)]))
        tips = [f"{n} · {STRESS_LABELS[lv][0]}" for n, lv in zip(nnames, nl)]
        counts = np.bincount(nl, minlength=5)
        _add_layer(m, ns, styles, _popup_html([f"街道 Street: {n}" for n in nnames], rows), tips,
                   f"街道压力等级（全路网 {len(ns)} 段） Street stress (all {len(ns)} segments)", show=True)
        legend.append(("街道压力等级 Street stress level",
                       [("line", col, f"{zh} {en}（{counts[lv]}）") for lv, (zh, en, col) in STRESS_LABELS.items()]))

    if crossings is not None and len(crossings):
        cx = _to_wgs84(crossings, "crossings")
        _require(cx, ["level"], "crossings")
        cl = pd.to_numeric(cx["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
        order = np.argsort(cl, kind="stable")
        cx, cl = cx.iloc[order], cl[order]
        styles = [{"radius": 2.5 if lv <= 2 else 5.0, "color": "#222222", "weight": 0.8 if lv <= 2 else 1.2,
                   "fillColor": STRESS_LABELS[lv][2], "fillOpacity": 1.0} for lv in cl]
        rows = [("过街压力等级 Crossing level", [" ".join(STRESS_LABELS[v][:2]) for v in cl])]
        if "control" in cx.columns:
            rows.append(("过街方式 Control", _esc(cx["control"])))
        if "reason" in cx.columns:
            rows.append(("原因 Reason", _esc(cx["reason"])))
        pops = _popup_html(["过街点 Crossing"] * len(cx), rows)
        tips = [f"过街 Crossing · {STRESS_LABELS[lv][0]}" for lv in cl]
        _add_layer(m, cx, styles, pops, tips, f"过街点压力等级（{len(cx)}） Crossing stress ({len(cx)})", show=True)
        legend.append(("过街点 Crossings", [("dot", STRESS_LABELS[lv][2], f"{zh} {en}")
                                          for lv, (zh, en, _c) in STRESS_LABELS.items()]))

    zone_items = _school_zone_base(m, school_zones, None, schools)

    level = pd.to_numeric(r["worst_level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
    kids = (pd.to_numeric(r["children"], errors="coerce").fillna(0).to_numpy() if "children" in r.columns
            else np.zeros(len(r)))
    weight = np.clip(2.0 + np.sqrt(kids) * 0.8, 2.5, 9.0)
    kinds = r["route"].astype(str).to_numpy() if "route" in r.columns else np.array(["safest"] * len(r))
    aggregated = False
    if (network_stress is not None and len(network_stress) and "childspace_routes" in routes.attrs
            and "route_key" in routes.columns):
        use_items = []
        kmax = 0.0
        for kind in ("safest", "shortest"):
            if not (kinds == kind).any():
                continue
            use = route_edge_use(routes, network_stress, kind)
            if len(use):
                name, k_ = _edge_use_layer(m, use, kind, show=(kind == "safest"))
                use_items.append(name)
                kmax = k_ if not aggregated else kmax  # the legend describes the first (shown) layer
                aggregated = True
        if aggregated:
            legend.append(("通学儿童流量 Children per street",
                           [("line", "#555555", f"线宽=走该街道的儿童数（最多 {kmax:,.0f}） Width = children "
                                                f"(max {kmax:,.0f})"),
                            ("line", STRESS_LABELS[4][2], "颜色=街道压力等级 Colour = street level")]))
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
    pops = _popup_html([("最安全路线 Safest route" if k == "safest" else "最短路线 Shortest route")
                        for k in kinds], rows)
    styles = [{"color": STRESS_LABELS[lv][2], "weight": float(wt), "opacity": 0.9,
               **({"dashArray": "2 6"} if k == "shortest" else {})} for lv, wt, k in zip(level, weight, kinds)]
    tips = [f"{STRESS_LABELS[lv][0]} · {sid}" for lv, sid in zip(level, _esc(r["school_id"]))]
    order = np.argsort(level, kind="stable")  # worst drawn last, on top
    drawn_lines = False
    for kind, zh, en, show in (("shortest", "最短路线", "Shortest routes", False),
                               ("safest", "最安全路线", "Safest routes", True)):
        sel = order[kinds[order] == kind]
        if not len(sel) or (aggregated and len(sel) > max_route_lines):
            continue
        _add_layer(m, r.iloc[sel], [styles[i] for i in sel], [pops[i] for i in sel], [tips[i] for i in sel],
                   f"{zh}（{len(sel)}） {en} ({len(sel)})", show=show and not aggregated)
        drawn_lines = True
    if drawn_lines:
        legend.append(("单条路线：颜色=最差压力等级 Single routes: colour = worst level",
                       [("line", col, f"{zh} {en}") for _lv, (zh, en, col) in STRESS_LABELS.items()]
                       + [("dash", "#555555", "虚线=最短路线，线宽=儿童数 Dotted = shortest, width = children")]))

    zone_items += _school_zone_base(m, None, zone_roads, None)

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
    zone_items = _school_zone_markers(m, school_zones) + zone_items
    if zone_items:
        legend.append(("校园周边（GA/T 1215-2014） School zones", zone_items))
    if b_items:
        legend.append(("边界 Boundaries", b_items))
    return _finish(m, legend)


# ----------------------------------------------------------------------------------------------------
# 4. overview choropleth
# ----------------------------------------------------------------------------------------------------

#: life-circle completeness classes: number of the 5/10/15-minute circles complete -> (colour, label)
LIFE_CIRCLE_CLASSES: dict[int, tuple[str, str]] = {
    0: ("#d7191c", "0 个完整 none complete"),
    1: ("#fdae61", "1 个完整 1 complete"),
    2: ("#a6d96a", "2 个完整 2 complete"),
    3: ("#1a9641", "3 个完整（5/10/15分钟） all 3 complete"),
}

def _split_label(label: str) -> tuple[str, str]:
    zh, _, en = label.partition(" ")
    return zh, en


def _coverage_rows(sub: pd.DataFrame, vals: np.ndarray, value: str, vlabel: str,
                   below: np.ndarray) -> list[tuple[str, list[str]]]:
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
    return rows


def _join_coverage(b: gpd.GeoDataFrame, uc: pd.DataFrame, category: str | None, value: str) -> gpd.GeoDataFrame:
    """Boundaries left-joined with the rows of one category (one row per unit, else a DataError)."""
    if category is not None and "category" in uc.columns:
        uc = uc[uc["category"].astype(str) == category]
    if uc["unit_id"].astype(str).duplicated().any():
        dup = uc.loc[uc["unit_id"].astype(str).duplicated(), "unit_id"].iloc[0]
        raise DataError(f"unit_coverage has several rows for unit {dup!r} in category {category!r}",
                        feature=f"unit_id={dup}", fix="pass one row per unit and category")
    keep = [c for c in ("unit_id", value, "children", "children_covered_walk", "pct_walk", "pct_line",
                        "median_walk_m", "radius_m", "below_target", "target_pct") if c in uc.columns]
    uc = uc[list(dict.fromkeys(keep))].copy()
    uc["unit_id"] = uc["unit_id"].astype(str)
    b = b.assign(unit_id=b["unit_id"].astype(str))
    data_cols = [c for c in uc.columns if c != "unit_id" and c not in b.columns]
    return b.merge(uc[["unit_id"] + data_cols], on="unit_id", how="left")


def _choropleth_styles(sub: gpd.GeoDataFrame, value: str) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    vals = pd.to_numeric(sub[value], errors="coerce").to_numpy(dtype=float)
    cols = _coverage_colours(vals)
    below = (sub["below_target"].astype("boolean").fillna(False).to_numpy(dtype=bool)
             if "below_target" in sub.columns else np.zeros(len(sub), dtype=bool))
    styles = [{"color": "#7f0000" if bt else "#444444", "weight": 2.2 if bt else 1.0,
               "fillColor": c, "fillOpacity": 0.75} for c, bt in zip(cols, below)]
    return vals, below, styles


def _township_outlines(m: folium.Map, townships: gpd.GeoDataFrame | None,
                       show_names: bool = True) -> list[tuple[str, str, str]]:
    """Township boundaries drawn over everything (thick, dark, with a white casing) and their names."""
    if townships is None or not len(townships):
        return []
    t = _to_wgs84(townships, "townships")
    _require(t, ["unit_id", "name"], "townships")
    tips = [f"{n}（{u}）" for n, u in zip(_esc(t["name"]), _esc(t["unit_id"]))]
    _add_layer(m, t, [{"color": "#ffffff", "weight": 6, "fill": False, "opacity": 0.9}] * len(t), None, None,
               "乡镇街道边界（底衬） Township boundaries (casing)", pane="csTop", pane_z=450).control = False
    _add_layer(m, t, [{"color": "#111111", "weight": 3, "fill": False, "opacity": 1.0}] * len(t), None, tips,
               f"乡镇街道边界（{len(t)}） Township boundaries ({len(t)})", pane="csTop", pane_z=450)
    if len(t) <= 80:
        _add_labels(m, t, t["name"].astype(str).tolist(), "乡镇街道名称 Township names", show=show_names)
    return [("line", "#111111", "乡镇街道边界 Township boundaries")]


def _life_circle_layer(m: folium.Map, units: gpd.GeoDataFrame, life_circles: pd.DataFrame, name: str,
                       show: bool, overlay: bool) -> list[tuple[str, str, str]]:
    """Units coloured by how many of the 5/10/15-minute life circles are complete."""
    _require(life_circles, ["unit_id"], "life_circles")
    comp_cols = sorted((c for c in life_circles.columns if re.fullmatch(r"lc\d+_complete", str(c))),
                       key=lambda c: int(re.findall(r"\d+", c)[0]))
    if not comp_cols:
        raise DataError("life_circles has no lc<N>_complete columns", feature="life_circles",
                        fix="pass the output of childspace.analysis.coverage.life_circles")
    lc = pd.DataFrame(life_circles).copy()
    lc["unit_id"] = lc["unit_id"].astype(str)
    lc = lc.drop_duplicates("unit_id")
    j = units.assign(unit_id=units["unit_id"].astype(str)).merge(
        lc.drop(columns=[c for c in ("name", "level") if c in lc.columns]), on="unit_id", how="left")
    comp = j[comp_cols].apply(lambda s: pd.to_numeric(s.astype("object").where(s.notna(), np.nan),
                                                      errors="coerce")).to_numpy(dtype=float)
    judged = np.isfinite(comp)
    n_ok = np.where(judged, comp, 0).sum(axis=1).astype(int)
    any_judged = judged.any(axis=1)
    fills = [LIFE_CIRCLE_CLASSES[min(k, 3)][0] if a else NO_DATA_COLOUR for k, a in zip(n_ok, any_judged)]
    styles = [{"color": "#444444", "weight": 1.0, "fillColor": f, "fillOpacity": 0.75} for f in fills]
    rows: list[tuple[str, list[str]]] = [("编号 Unit ID", _esc(j["unit_id"])),
                                         ("完整的生活圈 Complete circles",
                                          [f"{k} / {int(a)}" for k, a in zip(n_ok, judged.sum(axis=1))])]
    for c in comp_cols:
        mnt = re.findall(r"\d+", c)[0]
        miss_col = f"lc{mnt}_missing"
        vals = comp[:, comp_cols.index(c)]
        miss = (j[miss_col].fillna("").astype(str).to_numpy() if miss_col in j.columns
                else np.array([""] * len(j)))
        txt = []
        for v, ms in zip(vals, miss):
            if not np.isfinite(v):
                txt.append("无法判断 not judged")
            elif v:
                txt.append("<span style='color:#1a9641'>✓ 完整 complete</span>")
            else:
                txt.append(f"<span style='color:#d7191c'>✗ 缺 missing:</span> {html.escape(ms)}")
        rows.append((f"{mnt}分钟生活圈 {mnt}-min circle", txt))
    pops = _popup_html([f"{n} 生活圈 Life circles" for n in _esc(j["name"])], rows)
    tips = [f"{n}: {k}/{int(a)} 生活圈完整 circles complete" for n, k, a in
            zip(_esc(j["name"]), n_ok, judged.sum(axis=1))]
    _add_layer(m, j, styles, pops, tips, name, show=show, overlay=overlay, pane="csChoro", pane_z=350)
    minutes = "/".join(re.findall(r"\d+", c)[0] for c in comp_cols)
    return ([("fill", col, lab) for _k, (col, lab) in LIFE_CIRCLE_CLASSES.items()]
            + [("fill", NO_DATA_COLOUR, f"无法判断（无儿童） Not judged (no children) — {minutes} 分钟 min")])


def overview_map(boundaries: gpd.GeoDataFrame, unit_coverage: pd.DataFrame, category: str | None = None, *,
                 townships: gpd.GeoDataFrame | None = None, life_circles: pd.DataFrame | None = None,
                 categories: Sequence[str] | None = None, value: str = "pct_walk", title: str | None = None,
                 synthetic: bool = False, basemaps: Sequence[str] = ("osm",)) -> folium.Map:
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
        20–40, 40–60, 60–80, 80–100 %; units without figures are grey; units below target have a dark red edge.
    title, synthetic, basemaps
        As in :func:`coverage_map`.

    Returns
    -------
    folium.Map
    """
    b = _to_wgs84(boundaries, "boundaries")
    _require(b, ["unit_id", "name"], "boundaries")
    _require(unit_coverage, ["unit_id", value], "unit_coverage")
    uc = pd.DataFrame(unit_coverage)
    present_cats = ([str(c) for c in pd.unique(uc["category"].dropna())] if "category" in uc.columns else [])
    if category is not None and present_cats and category not in present_cats:
        raise DataError(f"unit_coverage has no rows for category {category!r}", feature="unit_coverage",
                        fix=f"pass category= one of {present_cats}")
    if categories is not None:
        unknown = [c for c in categories if c not in present_cats]
        if unknown:
            raise DataError(f"unit_coverage has no rows for categories {unknown}", feature="unit_coverage",
                            fix=f"choose among {present_cats}")
    multi = category is None and (len(present_cats) > 1 or life_circles is not None)
    if not multi:
        if category is None and len(present_cats) == 1:
            category = present_cats[0]
        return _overview_single(b, uc, category, townships, value, title, synthetic, basemaps)
    cats = list(categories) if categories is not None else present_cats
    vlabel = _VALUE_LABELS.get(value, value)
    vz, ve = _split_label(vlabel)
    frames = [b] + ([_to_wgs84(townships, "townships")] if townships is not None and len(townships) else [])
    m = _new_map(frames, title or "儿童服务设施覆盖总览 Overview of coverage for children",
                 f"{vz}，每次显示一类（右上角切换） {ve}, one category at a time (switch top right)",
                 synthetic, basemaps, tiles_overlay=True)
    level = b["level"].astype(str).to_numpy() if "level" in b.columns else np.array(["community"] * len(b))
    shade_level = "community" if (level == "community").any() else "township"
    units = b[level == shade_level]
    lv_zh, lv_en = ("村社区", "communities") if shade_level == "community" else ("乡镇街道", "townships")
    for i, cat in enumerate(cats):
        j = _join_coverage(units, uc, cat, value)
        vals, below, styles = _choropleth_styles(j, value)
        clabel = category_label(cat)
        cz, ce = _split_label(clabel)
        pops = _popup_html([f"{n} · {clabel}" for n in _esc(j["name"])], _coverage_rows(j, vals, value, vlabel,
                                                                                       below))
        tips = [f"{n} · {cz}: {v}" for n, v in zip(_esc(j["name"]), _fmt_num(pd.Series(vals), 1, "%"))]
        n_below = int(below.sum())
        _add_layer(m, j, styles, pops, tips,
                   f"{cz}（{n_below}/{len(j)} 低于目标） {ce} ({n_below}/{len(j)} below target)",
                   show=(i == 0), overlay=False, pane="csChoro", pane_z=350)
    legend: list[tuple[str, list[tuple[str, str, str]]]] = [
        (f"{vlabel} %（{lv_zh} {lv_en}）", list(_COVERAGE_LEGEND)),
        ("标记 Marks", [("line", "#7f0000", "深红边=低于目标 Dark red edge = below target")])]
    if life_circles is not None:
        items = _life_circle_layer(m, units, life_circles, "生活圈完整度 Life-circle completeness",
                                   show=False, overlay=False)
        legend.append(("生活圈完整度 Life circles complete", items))
    _BlankBase("不着色 No shading", show=False).add_to(m)
    b_items = _boundary_layers(m, b, labels=True, outline=("community", "township"))
    b_items += _township_outlines(m, townships, show_names=len(units) > 80)
    if b_items:
        legend.append(("边界 Boundaries", b_items))
    return _finish(m, legend)


def _overview_single(b: gpd.GeoDataFrame, uc: pd.DataFrame, category: str | None,
                     townships: gpd.GeoDataFrame | None, value: str, title: str | None, synthetic: bool,
                     basemaps: Sequence[str]) -> folium.Map:
    """One category: a choropleth layer per level present and the below-target outlines."""
    if "category" in uc.columns and category is None:
        cats = uc["category"].dropna().unique()
        raise ChildspaceError("overview_map needs a category when unit_coverage holds several",
                              fix=f"pass category= one of {sorted(map(str, cats))}")
    clabel = category_label(category) if category else ""
    vlabel = _VALUE_LABELS.get(value, value)
    frames = [b] + ([_to_wgs84(townships, "townships")] if townships is not None and len(townships) else [])
    m = _new_map(frames, title or f"{clabel.split(' ')[0]}{vlabel.split(' ')[0]} {clabel.split(' ', 1)[-1]}: "
                 f"{vlabel.split(' ', 1)[-1]}", None, synthetic, basemaps)
    j = _join_coverage(b, uc, category, value)
    level = j["level"].astype(str).to_numpy() if "level" in j.columns else np.array(["community"] * len(j))
    present = [lv for lv in ("township", "community") if (level == lv).any()]
    legend_items = list(_COVERAGE_LEGEND)
    for lv in present:
        sub = j[level == lv]
        vals, below, styles = _choropleth_styles(sub, value)
        pops = _popup_html([f"{n} {clabel}" for n in _esc(sub["name"])],
                           _coverage_rows(sub, vals, value, vlabel, below))
        tips = [f"{n}: {v}" for n, v in zip(_esc(sub["name"]), _fmt_num(pd.Series(vals), 1, "%"))]
        lname = "乡镇街道覆盖率 Township coverage" if lv == "township" else "村社区覆盖率 Community coverage"
        show = lv == "community" or len(present) == 1
        _add_layer(m, sub, styles, pops, tips, lname, show=show, pane="csChoro", pane_z=350)
        if below.any():
            bsub = sub[below]
            _add_layer(m, bsub, [{"color": "#7f0000", "weight": 3.5, "fill": False, "dashArray": "8 4"}] * len(bsub),
                       None, [f"低于目标 Below target: {n}" for n in _esc(bsub["name"])],
                       f"{'乡镇' if lv == 'township' else '村社区'}低于目标（{len(bsub)}） "
                       f"{'Townships' if lv == 'township' else 'Communities'} below target ({len(bsub)})", show=show)
    items = _boundary_layers(m, b, outline=("township",))
    items += _township_outlines(m, townships)
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
            fix="build maps with childspace.outputs.maps functions only (CircleMarkers/GeoJSON layers), without folium "
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
    text = render_html(m)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
