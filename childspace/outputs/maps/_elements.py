"""The Leaflet page elements every map is made of: self-contained Leaflet, the vector layer with its style table
and lazily built popups, the metric scale bar, the blank base layer, the page CSS and scripts.

Leaflet 1.9.4 (BSD-2-Clause, ``childspace/outputs/static/LEAFLET_LICENSE``) is inlined into every page; nothing is
loaded from a CDN.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from pathlib import Path
from typing import Any, cast

import folium
import numpy as np
from branca.element import Element, Figure, MacroElement
from folium.elements import ElementAddToElement
from folium.map import FitBounds, Layer
from folium.template import Template

from childspace._errors import ChildspaceError

_STATIC = Path(__file__).resolve().parent.parent / "static"

_FONT_STACK = (
    '"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",'
    '"WenQuanYi Micro Hei","SimHei",sans-serif'
)

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
  font-family:{_FONT_STACK};font-size:13px;line-height:18px;max-height:calc(100% - 170px);overflow:auto;
  max-width:340px;}}
@media (max-height:800px),(max-width:1100px){{.cs-legend{{font-size:12px;line-height:15px;padding:4px 8px;}}
  .cs-title .t{{font-size:15px;}} .cs-title{{max-width:60%;}}}}
.cs-notice{{display:none;position:absolute;bottom:28px;left:50%;transform:translateX(-50%);z-index:1001;
  background:#fff3cd;border:1px solid #e0b84d;border-radius:4px;padding:4px 10px;font-family:{_FONT_STACK};
  font-size:13px;color:#5c3d00;}}
.cs-legend .sym{{display:inline-block;width:18px;margin-right:6px;text-align:center;font-weight:bold;}}
.cs-legend .h{{font-weight:bold;margin:4px 0 2px;}}
.cs-legend .i{{white-space:normal;padding-left:26px;text-indent:-26px;}}
.cs-legend details{{margin-top:4px;border-top:1px solid #ccc;}}
.cs-legend summary{{cursor:pointer;font-weight:bold;color:#333;}}
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
.cs-label>span.sym{{font-size:15px;color:#fff;text-shadow:0 0 2px #000,0 0 2px #000;}}
.cs-label>span.sym.partly{{color:#000;text-shadow:0 0 2px #fff,0 0 2px #fff;}}
.cs-label>span.hz{{font-size:11px;color:#fff;background:#000;border-radius:3px;padding:0 3px;
  text-shadow:none;transform:translate(6px,-18px);}}
.cs-label>span.star{{transform:translate(2px,-22px);font-size:18px;color:#000;}}
.cs-legend .toggle{{cursor:pointer;font-weight:bold;font-size:14px;border-bottom:1px solid #ccc;
  margin-bottom:2px;user-select:none;}}
.cs-pop{{border-collapse:collapse;font-size:12px;}}
.cs-pop th{{text-align:left;padding:1px 8px 1px 0;color:#444;font-weight:normal;white-space:nowrap;
  vertical-align:top;}}
.cs-pop td{{padding:1px 0;font-weight:bold;}}
.cs-pop caption{{text-align:left;font-size:14px;font-weight:bold;padding-bottom:4px;}}
.leaflet-control-layers{{font-size:13px;max-height:calc(100vh - 200px);overflow:auto;}}
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

# Clickable layers drawn on a canvas (``new_map(canvas=True)``) as they were drawn as SVG paths:
# - Leaflet finds a polygon under the mouse anywhere inside it, filled or not; one drawn as an outline only
#   (``fill: false``, e.g. community boundaries) is found on its outline, as an SVG path is;
# - a line shorter than a pixel at the zoom shown (its ends rounded to one pixel) is a dot of its width, as SVG
#   draws it with its round caps (a canvas draws nothing for a line of no length: short hazards vanished);
#   not with butt caps or dashes, with which SVG draws nothing either. Only clickable layers: the base map's
#   context layers were always drawn on a canvas.
_CANVAS_JS = """
L.Polygon.include({_containsPoint: (function (inside) {
  return function (p) {
    return this.options.fill ? inside.call(this, p) : L.Polyline.prototype._containsPoint.call(this, p, true);
  };
})(L.Polygon.prototype._containsPoint)});
L.Canvas.include({_updatePoly: (function (draw) {
  return function (layer, closed) {
    var parts = layer._parts;
    var o = layer.options;
    if (!closed && o.interactive !== false && o.lineCap !== 'butt' && !o.dashArray && this._drawing) {
      for (var i = 0; i < parts.length; i++) {
        var q = parts[i], a = q[0], k = 1;
        while (k < q.length && q[k].x === a.x && q[k].y === a.y) { k++; }
        if (k === q.length) { q.push(L.point(a.x + 0.01, a.y)); }
      }
    }
    return draw.call(this, layer, closed);
  };
})(L.Canvas.prototype._updatePoly)});
"""

READY_JS = """
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
        raise ChildspaceError(
            "the bundled Leaflet files are missing",
            path=_STATIC,
            fix="reinstall childspace (its static/ folder ships leaflet.js and leaflet.css)",
        ) from exc
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


class RawElement(Element):
    """Text put into the page as it is.

    branca's ``Element(text)`` compiles ``text`` as a Jinja template and renders it: for a layer's script that is
    megabytes of GeoJSON run through Jinja's lexer (most of the time a county map took to render). The text
    comes out as Jinja would give it for text without template syntax: line breaks normalised to ``\\n`` and one
    trailing line break dropped.
    """

    def __init__(self, text: str):
        super().__init__()
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        self._text = text[:-1] if text.endswith("\n") else text

    def render(self, **kwargs: Any) -> str:
        return self._text


def page_of(element: Element) -> Figure:
    """The page (branca ``Figure``) an element belongs to (``get_root()`` is annotated as a plain Element)."""
    return cast(Figure, element.get_root())


class SelfContainedMap(folium.Map):
    """A folium.Map whose page carries Leaflet inline and loads no script or stylesheet from the network."""

    #: the datum of the map's coordinates (set by ``new_map``)
    cs_datum: str

    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.default_js = []
        self.default_css = []
        js, css = _leaflet_assets()
        header = page_of(self).header
        header.add_child(
            Element('<meta name="viewport" content="width=device-width, initial-scale=1.0">'),
            name="cs_viewport",
        )
        header.add_child(RawElement(f"<script>{_ERROR_JS}</script>"), name="cs_errors")
        header.add_child(RawElement(f"<style>{css}</style>"), name="leaflet_css_inline")
        header.add_child(RawElement(f"<style>{_PAGE_CSS}</style>"), name="cs_css")
        header.add_child(RawElement(f"<script>{js}</script>"), name="leaflet_js_inline")
        header.add_child(RawElement(f"<script>{_CANVAS_JS}</script>"), name="cs_canvas")

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # (folium's Map.render returns None)
        """Render with the view fitted first (:class:`FitFirst`) and every layer control last, so layers added after the map was built (e.g.
        ``folium.FeatureGroup(...).add_to(m)``) are defined before the control lists them."""
        for key in [k for k, v in self._children.items() if isinstance(v, FitFirst)]:
            self._children.move_to_end(key, last=False)
        for key in [k for k, v in self._children.items() if isinstance(v, folium.LayerControl)]:
            self._children.move_to_end(key)
        if not any(isinstance(v, ControlFolding) for v in self._children.values()):
            ControlFolding().add_to(self)
        for key in [k for k, v in self._children.items() if isinstance(v, ControlFolding)]:
            self._children.move_to_end(key)
        super().render(**kwargs)


class FitFirst(FitBounds):
    """folium's ``FitBounds``, set at once (no zoom animation) and put in the page before any layer
    (:meth:`SelfContainedMap.render`).

    Fitted after the layers were added, the map drew every layer at its opening zoom, animated to the fitted
    one and, when the animation's timer ended (250 ms on), drew every layer again: on a county's routes map,
    about a second before the first frame."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.options["animate"] = False


#: a NaN or Infinity value in a layer's text (JavaScript reads them, JSON.parse does not): such a layer is built
#: when the page opens, as a shown one
_STRICT_JSON_RE = re.compile(r"[:,\[]\s*-?(?:NaN|Infinity)\b")


class GeoLayer(Layer):
    """A GeoJSON overlay whose features carry the index of their style in the layer's style table (``_s``), a
    popup (``_p``), a tooltip (``_t``) and, for label points, label text (``_label``); no jQuery, no per-feature
    Python objects in the page.

    A layer that is off when the page opens (``show=False``) is built when it is first switched on: its data
    is a ``<script type="application/json">`` element of the page, which the browser neither parses nor turns
    into map objects before then (half of a county's routes map is such layers: walksheds, school zones, the
    other hazards; the page opens in about half the time)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {%- if this.pane %}
        if (!{{ this._parent.get_name() }}.getPane({{ this.pane|tojson }})) {
            {{ this._parent.get_name() }}.createPane({{ this.pane|tojson }}).style.zIndex = {{ this.pane_z }};
        }
        {%- endif %}
        var {{ this.get_name() }}_s = {{ this.styles_json }};
        var {{ this.get_name() }}_h = {{ this.heads_json }};
        {%- if this.packed_json %}
        function {{ this.get_name() }}_u(d) {  // coordinates packed: see pack_geojson
            function u(a) {
                var o = new Array(a.length / 2), x = 0, y = 0;
                for (var i = 0; i < a.length; i += 2) { x += a[i]; y += a[i + 1]; o[i / 2] = [x / 1e6, y / 1e6]; }
                return o;
            }
            function g(t, c) {
                if (t === "Point") { return [c[0] / 1e6, c[1] / 1e6]; }
                if (t === "LineString" || t === "MultiPoint") { return u(c); }
                if (t === "MultiPolygon") { return c.map(function (p) { return p.map(u); }); }
                return c.map(u);
            }
            d.features.forEach(function (f) { f.geometry.coordinates = g(f.geometry.type, f.geometry.coordinates); });
            return d;
        }
        {%- endif %}
        var {{ this.get_name() }}_o = {
            {%- if this.pane %}
            pane: {{ this.pane|tojson }},
            {%- endif %}
            {%- if not this.interactive %}
            interactive: false, renderer: L.canvas({padding: 0.2{% if this.pane %}, pane: {{ this.pane|tojson }}{% endif %}}),
            {%- endif %}
            style: function (f) { return {{ this.get_name() }}_s[f.properties._s] || {}; },
            pointToLayer: function (f, ll) {
                if (f.properties._label !== undefined) {
                    return L.marker(ll, {interactive: false, keyboard: false,
                        icon: L.divIcon({className: 'cs-label', html: f.properties._label, iconSize: null})});
                }
                var o = Object.assign({}, {{ this.get_name() }}_s[f.properties._s] || {});
                {%- if this.pane %}
                o.pane = {{ this.pane|tojson }};
                {%- endif %}
                return L.circleMarker(ll, o);
            },
            onEachFeature: function (f, layer) {
                var p = f.properties._p;
                if (Array.isArray(p)) {  // [caption, value per row]: the row labels are the layer's (_h)
                    var h = {{ this.get_name() }}_h, v = p;
                    p = function () {
                        var t = "<table class='cs-pop'>" + (v[0] ? "<caption>" + v[0] + "</caption>" : "");
                        for (var i = 0; i < h.length; i++) { t += "<tr><th>" + h[i] + "</th><td>" + v[i + 1] + "</td></tr>"; }
                        return t + "</table>";
                    };
                }
                if (p) { layer.bindPopup(p, {maxWidth: 420, autoPanPaddingTopLeft: [20, 120],
                    autoPanPaddingBottomRight: [360, 30]}); }
                if (f.properties._t) { layer.bindTooltip(f.properties._t, {sticky: true}); }
            }
        };
        {%- if this.lazy %}
        var {{ this.get_name() }} = L.geoJson(null, {{ this.get_name() }}_o);
        {{ this.get_name() }}.once('add', function () {  // built when first switched on
            var d = JSON.parse(document.getElementById({{ (this.get_name() ~ '_data')|tojson }}).textContent);
            {{ this.get_name() }}.addData({% if this.packed_json %}{{ this.get_name() }}_u(d){% else %}d{% endif %});
        });
        {%- else %}
        var {{ this.get_name() }} = L.geoJson({% if this.packed_json %}{{ this.get_name() }}_u({{ this.packed_json }}){% else %}{{ this.data_json }}{% endif %}, {{ this.get_name() }}_o);
        {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(
        self,
        data_json: str,
        name: str,
        show: bool = True,
        overlay: bool = True,
        pane: str | None = None,
        pane_z: int = 350,
        interactive: bool = True,
        control: bool = True,
        styles_json: str = "[]",
        heads_json: str = "[]",
        packed_json: str | None = None,
    ):
        super().__init__(name=name, overlay=overlay, control=control, show=show)
        self._name = "GeoLayer"
        self.packed_json = packed_json  # written into the page instead of data_json (see pack_geojson)
        self.interactive = bool(interactive)
        self.data_json = data_json
        self.styles_json = styles_json
        self.heads_json = heads_json
        self.pane = pane
        self.pane_z = int(pane_z)

    @property
    def lazy(self) -> bool:
        """Off when the page opens and its text is strict JSON (no NaN or Infinity, which JavaScript reads and
        JSON.parse does not): built when first switched on."""
        return not self.show and _STRICT_JSON_RE.search(self.page_json) is None

    @property
    def page_json(self) -> str:
        """The layer's data as the page carries it (packed where it is)."""
        return self.packed_json or self.data_json

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # (folium's Layer.render returns None)
        """As folium's ``Layer.render``, with the layer's script put into the page as text (:class:`RawElement`)
        instead of being compiled once more as a template."""
        parent = self._parent
        assert parent is not None, "a layer is rendered as part of a map"
        if self.show:
            self.add_child(
                ElementAddToElement(element_name=self.get_name(), element_parent_name=parent.get_name()),
                name=self.get_name() + "_add",
            )
        script = self._template.module.__dict__["script"]
        page = page_of(self)
        if self.lazy:  # the data as a JSON element of the page, parsed when the layer is switched on
            text = self.page_json.replace("<!--", "\\u003c!--")  # (only "</" ends it, and this may confuse it)
            page.html.add_child(
                RawElement(f'<script type="application/json" id="{self.get_name()}_data">{text}</script>'),
                name=self.get_name() + "_data",
            )
        page.script.add_child(RawElement(script(self, kwargs)), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)


def _pack_coords(c: list, depth: int) -> list:
    """Nested GeoJSON coordinates (``depth`` 0: a position; 1: a list of positions …) as millionths of a
    degree, each list of positions flattened and delta-coded: ``[x0, y0, x1 - x0, y1 - y0, …]``."""
    if depth == 0:
        return [round(c[0] * 1e6), round(c[1] * 1e6)]
    if depth == 1:
        a = np.rint(np.asarray(c, dtype=float).reshape(-1, 2) * 1e6).astype(np.int64)
        if len(a):
            a[1:] = np.diff(a, axis=0)
        return a.ravel().tolist()
    return [_pack_coords(p, depth - 1) for p in c]


#: nesting depth of the coordinates of each GeoJSON geometry type
_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


def pack_geojson(data_json: str) -> str | None:
    """A FeatureCollection of :func:`childspace.outputs.maps._page.features_json` with its coordinates packed
    for the page: integers in millionths of a degree (the 1e-6 degrees the coordinates are rounded to, so the
    map draws exactly the same points), delta-coded along each line or ring. A county's streets take about a
    third of the text. Unpacked in the browser by :class:`GeoLayer`; None when a geometry cannot be packed
    (e.g. a GeometryCollection) and the layer is written as plain GeoJSON."""
    data = json.loads(data_json)
    for f in data.get("features", []):
        g = f.get("geometry") or {}
        depth = _DEPTH.get(g.get("type", ""))
        if depth is None:
            return None
        g["coordinates"] = _pack_coords(g["coordinates"], depth)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


#: GeoJSON type names by shapely type id (the types :func:`pack_features` writes)
_TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
}


def pack_features(geoms: np.ndarray, props: list[dict]) -> str | None:
    """The text :func:`pack_geojson` gives for the FeatureCollection of ``geoms`` (already rounded to 1e-6
    degrees, as :func:`childspace.outputs.maps._page.features_json` writes them) and ``props``, made from the
    coordinate arrays instead of writing the GeoJSON text, parsing it back and packing every line in Python: a
    county's base map (2.6 MB of GeoJSON, 40,000 street lines) was parsed and packed list by list for every map
    process (~1.2 CPU s). None for geometries it does not write (empty, 3D, collections, rings): the caller
    packs the GeoJSON text then."""
    import shapely

    arr = np.asarray(geoms, dtype=object)
    if len(arr) != len(props):
        return None
    kind = shapely.get_type_id(arr)
    if not np.isin(kind, list(_TYPE_NAMES)).all() or shapely.is_empty(arr).any() or shapely.has_z(arr).any():
        return None
    texts: list[str] = [""] * len(arr)
    for k in np.unique(kind):
        pos = np.flatnonzero(kind == k)
        _, coords, offsets = shapely.to_ragged_array(arr[pos])
        ints = np.rint(coords * 1e6).astype(np.int64)
        if k == 0:  # a point: not delta-coded
            nums = ints.ravel().tolist()
            for j, p in enumerate(pos.tolist()):
                texts[p] = f"[{nums[2 * j]},{nums[2 * j + 1]}]"
            continue
        starts = np.asarray(offsets[0], dtype=np.int64)  # the innermost lists (lines, rings, a multipoint)
        delta = ints.copy()
        delta[1:] -= ints[:-1]
        delta[starts[:-1]] = ints[starts[:-1]]  # each list starts with its absolute position
        nums = list(map(str, delta.ravel().tolist()))
        level = [
            "[" + ",".join(nums[2 * a : 2 * b]) + "]"
            for a, b in zip(starts[:-1].tolist(), starts[1:].tolist())
        ]
        for off in offsets[1:]:  # rings into polygons, lines into multilines, polygons into multipolygons
            o = np.asarray(off, dtype=np.int64).tolist()
            level = ["[" + ",".join(level[a:b]) + "]" for a, b in zip(o[:-1], o[1:])]
        for j, p in enumerate(pos.tolist()):
            texts[p] = level[j]
    name = [_TYPE_NAMES[int(k)] for k in kind.tolist()]
    feats = [
        f'{{"type":"Feature","geometry":{{"type":"{t}","coordinates":{c}}},'
        f'"properties":{json.dumps(p, ensure_ascii=False, separators=(",", ":"))}}}'
        for t, c, p in zip(name, texts, props)
    ]
    return ('{"type":"FeatureCollection","features":[' + ",".join(feats) + "]}").replace("</", "<\\/")


class MetricScale(MacroElement):
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


class BlankBase(Layer):
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


class ControlFolding(MacroElement):
    """Folds the layer list on small screens (and in the report's frames), and wherever the open list would
    reach down over the legend (both stand on the right-hand side: a long list of layers covered the legend's
    top on a 1400 x 900 screen); a click on its icon opens it."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var small = window.innerWidth < 1100 || window.innerHeight < 700;
            document.querySelectorAll('.leaflet-control-layers').forEach(function (c) {
                var t = c.querySelector('.leaflet-control-layers-toggle');
                if (t) { t.addEventListener('click', function (e) {
                    e.preventDefault(); c.classList.toggle('leaflet-control-layers-expanded'); }); }
                if (small) { c.classList.remove('leaflet-control-layers-expanded'); }
            });
            var legend = document.getElementById('cs-legend');
            var open = document.querySelector('.leaflet-control-layers-expanded');
            if (legend && open && legend.getBoundingClientRect().top < open.getBoundingClientRect().bottom + 6) {
                open.classList.remove('leaflet-control-layers-expanded');
            }
            if (small && window.innerHeight < 520) {
                var lb = document.getElementById('cs-legend-body');
                if (lb) { lb.style.display = 'none'; }
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "ControlFolding"
