"""Base maps (底图): offline first, drawn from the data the run has; tiles only when asked for.

By default a map requests nothing from the network: the base map is a light vector layer drawn from the run's own
data under the analysis layers: built-up land, green space, water, rivers, major roads and place names read from
the OSM extract (:func:`childspace.osm.landcover.read_landcover`), and the walk network's streets by class.
Place names are shown by rank as the map zooms in (cities and towns always, villages and neighbourhoods from
zoom 13-14). :func:`draw_basemap` draws the same layers on a matplotlib axes. Tiles are opt-in
(``basemaps=("tianditu",)`` …, :data:`TILE_SOURCES`); when they fail to load the page says so.

Datums: 天地图 Tianditu tiles are CGCS2000, which agrees with WGS84 to well under a metre, so the data need no
shift. Amap (高德) tiles are drawn in GCJ-02 (about 500 m off WGS84 in Yueqing): a map offering Amap tiles draws
every overlay shifted to GCJ-02 (:func:`childspace.inputs.datum.wgs84_to_gcj02`), never misaligned, and cannot
be combined with a WGS84/CGCS2000 tile source.
"""

from __future__ import annotations

import html
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.map import Layer
from folium.template import Template

from childspace._errors import ChildspaceError

if TYPE_CHECKING:
    import folium

__all__ = [
    "STREET_CLASSES",
    "TILE_SOURCES",
    "Basemap",
    "TileNotice",
    "TileSource",
    "add_base_labels",
    "add_tiles",
    "check_tiles",
    "draw_basemap",
    "vector_base_layers",
]


@dataclass(frozen=True)
class TileSource:
    """A tile service: name shown in the layer list, URL template(s), attribution, datum of its tiles."""

    name: str
    urls: tuple[str, ...]
    attribution: str
    datum: str
    subdomains: str = "abc"
    max_zoom: int = 18
    needs_key: bool = False


#: tile sources a map may offer (opt-in)
TILE_SOURCES: dict[str, TileSource] = {
    "osm": TileSource(
        "开放街道地图 OpenStreetMap",
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png",),
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        "wgs84",
        max_zoom=19,
    ),
    # 天地图 (National Platform for Common GeoSpatial Information Services): vector map + Chinese annotation,
    # Web-Mercator tile matrix ("_w"), CGCS2000; a free key from https://console.tianditu.gov.cn is required.
    "tianditu": TileSource(
        "天地图 Tianditu (CGCS2000)",
        (
            "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default"
            "&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
            "https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=cva&STYLE=default"
            "&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
        ),
        "&copy; 天地图 Tianditu",
        "wgs84",
        subdomains="01234567",
        max_zoom=18,
        needs_key=True,
    ),
    "amap": TileSource(
        "高德地图（数据已转为GCJ-02） Amap (overlays shifted to GCJ-02)",
        ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",),
        "&copy; 高德地图 Amap (GCJ-02)",
        "gcj02",
        subdomains="1234",
        max_zoom=18,
    ),
}

#: street classes of the offline base map: OSM highway values -> (class, line weight px, colour)
STREET_CLASSES: dict[str, tuple[str, float, str]] = {
    **{
        k: ("major", 2.6, "#8c8c8c")
        for k in ("motorway", "trunk", "primary", "motorway_link", "trunk_link", "primary_link")
    },
    **{k: ("medium", 1.8, "#9e9e9e") for k in ("secondary", "tertiary", "secondary_link", "tertiary_link")},
    **{
        k: ("minor", 1.0, "#b4b4b4")
        for k in ("residential", "unclassified", "living_street", "service", "road", "pedestrian")
    },
}
_PATH_STYLE = ("path", 0.6, "#c8c8c8")
_MAX_BASE_SEGMENTS = 40_000


@dataclass
class Basemap:
    """What the offline base map is drawn from, and the key of a tile service.

    Attributes
    ----------
    streets : GeoDataFrame, optional
        Street lines with a ``highway`` column (e.g. ``WalkNetwork.edges``), any CRS: drawn grey, wider for major
        roads. With more than 40,000 segments in view only residential roads and above are kept.
    water, green, built : GeoDataFrame, optional
        Water, green-space and built-up polygons (e.g. from the OSM extract), drawn light blue / light green /
        light grey.
    waterways : GeoDataFrame, optional
        River and canal lines, drawn light blue.
    roads : GeoDataFrame, optional
        Major roads with a ``highway`` column (from the extract: motorways too, which no walk network holds),
        drawn under ``streets`` in the same style.
    places : GeoDataFrame, optional
        Place-name points with ``label`` (the name shown, Chinese first) and ``rank`` (1 city … 5 neighbourhood)
        columns; ``name`` (the local name) is added in small type when it differs from ``label``.
    tianditu_key : str, optional
        The planner's 天地图 key (``[maps] tianditu_key`` of the run config); needed for ``"tianditu"`` tiles.
    attribution : str, optional
        Credit shown on the map for the base-map data (e.g. "© OpenStreetMap contributors").
    """

    streets: gpd.GeoDataFrame | None = None
    water: gpd.GeoDataFrame | None = None
    green: gpd.GeoDataFrame | None = None
    tianditu_key: str | None = None
    built: gpd.GeoDataFrame | None = None
    waterways: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None
    places: gpd.GeoDataFrame | None = None
    attribution: str | None = None


def check_tiles(basemaps: str | Iterable[str] | None, base: Basemap | None) -> list[str]:
    """The tile sources asked for, checked: known names, a key where one is needed, one datum only."""
    if isinstance(basemaps, str):
        basemaps = (basemaps,)
    keys = [str(k) for k in (basemaps or ())]
    unknown = [k for k in keys if k not in TILE_SOURCES]
    if unknown:
        raise ChildspaceError(
            f"unknown basemap {unknown}",
            fix=f"use one of {sorted(TILE_SOURCES)} or none (basemaps=(), the offline default)",
        )
    for k in keys:
        if TILE_SOURCES[k].needs_key and not (base is not None and base.tianditu_key):
            raise ChildspaceError(
                f"the {k!r} tiles need a key",
                fix='put your 天地图 key in the run config ([maps] tianditu_key = "…") or pass '
                "base=Basemap(tianditu_key=…)",
            )
    datums = {TILE_SOURCES[k].datum for k in keys}
    if len(datums) > 1:
        raise ChildspaceError(
            f"basemaps {keys} mix GCJ-02 tiles with WGS84/CGCS2000 tiles",
            fix="offer Amap alone (the overlays are then shifted to GCJ-02) or the others alone",
        )
    return keys


def add_tiles(m: folium.Map, keys: list[str], base: Basemap | None, overlay: bool) -> None:
    """Add the tile layers of ``keys`` (the first shown)."""
    import folium

    for i, key in enumerate(keys):
        src = TILE_SOURCES[key]
        for j, url in enumerate(src.urls):
            if src.needs_key and base is not None and base.tianditu_key:
                url = url.replace("{key}", str(base.tianditu_key))
            folium.TileLayer(
                tiles=url,
                attr=src.attribution,
                name=src.name if j == 0 else f"{src.name} 注记 labels",
                overlay=overlay or j > 0,
                control=j == 0,
                show=(i == 0),
                max_zoom=src.max_zoom,
                subdomains=src.subdomains,
            ).add_to(m)


def _clip(gdf: gpd.GeoDataFrame | None, bbox: tuple[float, float, float, float]) -> gpd.GeoDataFrame | None:
    if gdf is None or not len(gdf) or gdf.crs is None:
        return None
    if (
        gdf.crs.to_epsg() != 4326
    ):  # only the columns the base map draws are carried (a county's network: 275k rows)
        gdf = gdf[[c for c in ("highway", "label", "rank", "name") if c in gdf.columns] + [gdf.geometry.name]]
    g = gdf.to_crs(4326) if gdf.crs.to_epsg() != 4326 else gdf
    minx, miny, maxx, maxy = bbox
    dx, dy = (maxx - minx) * 0.15 + 0.002, (maxy - miny) * 0.15 + 0.002
    g = g.iloc[g.sindex.query(shapely.box(minx - dx, miny - dy, maxx + dx, maxy + dy))]
    return g[~(g.geometry.isna() | g.geometry.is_empty)]


def _clip_streets(
    streets: gpd.GeoDataFrame | None, bbox: tuple[float, float, float, float]
) -> gpd.GeoDataFrame | None:
    """:func:`_clip` of the streets, reprojecting the footways and other paths only when they are drawn: with
    more than ``_MAX_BASE_SEGMENTS`` streets in view they are not (:func:`_street_layer`), and on a county
    the roads alone exceed it (106k of 275k segments), so the paths are never reprojected."""
    if streets is None or len(streets) <= _MAX_BASE_SEGMENTS or "highway" not in streets.columns:
        return _clip(streets, bbox)
    code, uniq = pd.factorize(streets["highway"], use_na_sentinel=False)
    path = np.array([STREET_CLASSES.get(str(u), _PATH_STYLE)[0] == "path" for u in uniq], dtype=bool)
    roads = _clip(streets[~path[np.asarray(code, dtype=np.int64)]], bbox)
    if roads is not None and len(roads) > _MAX_BASE_SEGMENTS:
        return roads  # the same streets as the whole clip keeps (in the roads' own index order)
    return _clip(streets, bbox)


#: fills and lines of the offline base map: layer -> (colour, pane z-index)
BASE_COLOURS = {
    "built": ("#ebe7e1", 244),
    "green": ("#dcebd0", 248),
    "water": ("#c4dcf0", 250),
    "waterways": ("#a7c8e6", 252),
}
_FILL_NAMES = {"built": "建成区 Built-up area", "green": "绿地 Green space", "water": "水系 Water"}


def _street_layer(
    s: gpd.GeoDataFrame, simplify_deg: float
) -> tuple[gpd.GeoDataFrame, list[dict], np.ndarray] | None:
    try:  # a county's streets: a few dozen distinct classes, each looked up once
        col = s["highway"] if "highway" in s.columns else pd.Series(["road"] * len(s))
        code, uniq = pd.factorize(col, use_na_sentinel=False)  # a missing class: a path, as before
        kinds = np.array([str(u) for u in uniq], dtype=object)
        code = np.asarray(code, dtype=np.int64)
    except TypeError:  # unhashable values (lists)
        kinds, code = np.unique(s["highway"].astype(str).to_numpy(), return_inverse=True)
    hw = kinds[code] if len(code) else np.array([], dtype=object)
    look = [STREET_CLASSES.get(str(h), _PATH_STYLE) for h in kinds]
    cls = (
        np.array([c for c, _w, _col in look], dtype=object)[code].astype(str)
        if len(hw)
        else np.array([], str)
    )
    if len(s) > _MAX_BASE_SEGMENTS:
        keep = cls != "path"
        s, hw, cls, code = s[keep], hw[keep], cls[keep], code[keep]
    if not len(s):
        return None
    geoms = shapely.simplify(np.asarray(s.geometry.values, dtype=object), simplify_deg)
    s = gpd.GeoDataFrame({"cls": cls}, geometry=geoms, crs=4326)
    order = np.argsort(pd.Categorical(cls, ["path", "minor", "medium", "major"]).codes, kind="stable")
    s, hw, code = s.iloc[order], hw[order], code[order]
    # one style dict per class of road, shared by its streets (add_layer writes each distinct style once)
    per_kind = [{"color": col, "weight": w, "opacity": 0.9, "lineCap": "round"} for _c, w, col in look]
    styles = [per_kind[i] for i in code.tolist()]
    return s, styles, hw


def vector_base_layers(
    base: Basemap | None, bbox: tuple[float, float, float, float]
) -> list[tuple[gpd.GeoDataFrame, list[dict], str, int, bool]]:
    """The offline base map as layers to draw under every data layer: (frame in EPSG:4326, one style per feature,
    name, pane z-index, listed in the layer control); built-up land, green space, water and rivers first, then
    the extract's major roads and the streets by class. Place names: :func:`add_base_labels`."""
    out: list[tuple[gpd.GeoDataFrame, list[dict], str, int, bool]] = []
    if base is None:
        return out
    for key in ("built", "green", "water"):
        g = _clip(getattr(base, key), bbox)
        colour, z = BASE_COLOURS[key]
        if g is not None and len(g):
            g = g[g.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()]
            g = g.set_geometry(shapely.simplify(np.asarray(g.geometry.values, dtype=object), 2e-5))
            out.append(
                (
                    g,
                    [{"stroke": False, "fillColor": colour, "fillOpacity": 1.0}] * len(g),
                    _FILL_NAMES[key],
                    z,
                    False,
                )
            )
    w = _clip(base.waterways, bbox)
    if w is not None and len(w):
        colour, z = BASE_COLOURS["waterways"]
        w = w.set_geometry(shapely.simplify(np.asarray(w.geometry.values, dtype=object), 1e-5))
        out.append((w, [{"color": colour, "weight": 2.0, "opacity": 1.0}] * len(w), "河流 Rivers", z, False))
    r = _clip(base.roads, bbox)
    if r is not None and len(r):
        made = _street_layer(r, 1e-5)
        if made is not None:
            out.append((made[0], made[1], "主要道路 Major roads", 256, False))
    s = _clip_streets(base.streets, bbox)
    if s is None or not len(s):
        return out
    made = _street_layer(s, 1e-5)
    if made is not None:
        out.append((made[0], made[1], "离线底图：道路 Offline base map: streets", 260, True))
    return out


#: place-name ranks shown from each zoom level (lower zooms show only the most important)
_RANK_AT_ZOOM = ((14, 5), (13, 4), (12, 3), (0, 2))


class PlaceLabels(Layer):
    """Place names of the offline base map: text on a halo, not clickable, more of them as the map zooms in."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
        .cs-place{pointer-events:none;}
        .cs-place>span{position:absolute;transform:translate(-50%,-50%);white-space:nowrap;color:#5a5a5a;
          font-size:12px;text-align:center;line-height:1.1;
          text-shadow:-1px -1px 0 #fff,1px -1px 0 #fff,-1px 1px 0 #fff,1px 1px 0 #fff,0 0 3px #fff;}
        .cs-place.r1>span{font-size:16px;font-weight:bold;color:#444;}
        .cs-place.r2>span{font-size:14px;font-weight:bold;color:#4a4a4a;}
        .cs-place.r5>span{font-size:11px;}
        .cs-place small{display:block;font-size:10px;font-weight:normal;}
        [data-cs-rank="2"] .cs-place.r3,[data-cs-rank="2"] .cs-place.r4,[data-cs-rank="2"] .cs-place.r5,
        [data-cs-rank="3"] .cs-place.r4,[data-cs-rank="3"] .cs-place.r5,[data-cs-rank="4"] .cs-place.r5
        {display:none;}
        </style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function (map) {
            if (!map.getPane('csPlaces')) {
                var p = map.createPane('csPlaces');
                p.style.zIndex = 390;
                p.style.pointerEvents = 'none';
            }
            function rank() {
                var z = map.getZoom(), r = 2, t = {{ this.ranks|tojson }};
                for (var i = 0; i < t.length; i++) { if (z >= t[i][0]) { r = t[i][1]; break; } }
                map.getContainer().setAttribute('data-cs-rank', String(r));
            }
            map.on('zoomend', rank);
            map.whenReady(rank);
            {%- if this.attribution %}
            if (map.attributionControl) { map.attributionControl.addAttribution({{ this.attribution|tojson }}); }
            {%- endif %}
        })({{ this._parent.get_name() }});
        var {{ this.get_name() }} = L.layerGroup({{ this.points|tojson }}.map(function (p) {
            return L.marker([p[1], p[0]], {pane: 'csPlaces', interactive: false, keyboard: false,
                icon: L.divIcon({className: 'cs-place r' + p[2], html: p[3], iconSize: null})});
        }));
        {% endmacro %}
        """
    )

    def __init__(self, points: list[list], name: str, attribution: str | None, show: bool = True):
        super().__init__(name=name, overlay=True, control=bool(points), show=show)
        self._name = "PlaceLabels"
        self.points = points
        self.ranks = [list(t) for t in _RANK_AT_ZOOM]
        self.attribution = attribution


def per_base(cache: dict[int, tuple[Any, dict]], base: Basemap) -> dict:
    """The entries ``cache`` keeps for ``base`` (made empty the first time): per Basemap object alive, so that a
    map drawn over a derived base (the routes map's, without the network's streets) does not drop what the
    maps over the run's base share. Entries of bases no longer alive are dropped."""
    got = cache.get(id(base))
    if got is not None and got[0]() is base:
        return got[1]
    for k in [k for k, (ref, _) in cache.items() if ref() is None]:
        del cache[k]
    entries: dict = {}
    cache[id(base)] = (weakref.ref(base), entries)
    return entries


#: the place names of each Basemap drawn, per (extent, datum): the maps of one process share them instead of
#: clipping, reprojecting and escaping the extract's places once per map
_LABEL_CACHE: dict[int, tuple[Any, dict]] = {}


def add_base_labels(m: folium.Map, base: Basemap | None, bbox: tuple[float, float, float, float]) -> None:
    """Add the place names of ``base`` (and the credit for the base-map data) to a map made by ``new_map``."""
    if base is None or (base.places is None and not base.attribution):
        return
    datum = str(getattr(m, "cs_datum", "wgs84"))
    cache = per_base(_LABEL_CACHE, base)
    key = (tuple(round(v, 7) for v in bbox), datum, id(base.places))
    points = cache.get(key)
    if points is None:
        points = cache[key] = _label_points(base, bbox, datum)
    PlaceLabels([list(p) for p in points], "地名 Place names", base.attribution).add_to(m)


def _label_points(base: Basemap, bbox: tuple[float, float, float, float], datum: str) -> list[list]:
    """The place names of ``base`` in ``bbox`` as [lon, lat, rank, label HTML], the most important last."""
    g = _clip(base.places, bbox)
    points: list[list] = []
    if g is not None and len(g):
        g = g[g.geometry.geom_type == "Point"]
        label = (
            g["label"].astype(str) if "label" in g.columns else g.get("name", pd.Series("", index=g.index))
        )
        rank = g["rank"].fillna(4).astype(int) if "rank" in g.columns else pd.Series(3, index=g.index)
        local = g["name"].astype(str) if "name" in g.columns else label
        x, y = shapely.get_x(g.geometry.values), shapely.get_y(g.geometry.values)
        if datum == "gcj02":
            from childspace.inputs.datum import wgs84_to_gcj02

            x, y = (np.asarray(v, dtype=float) for v in wgs84_to_gcj02(x, y))
        order = np.argsort(rank.to_numpy(), kind="stable")[::-1]  # the most important last: drawn on top
        for i in order:
            t, n = str(label.iloc[i]), str(local.iloc[i])
            extra = f"<small>{html.escape(n)}</small>" if n and n not in ("nan", "None", t) else ""
            points.append(
                [
                    round(float(x[i]), 5),
                    round(float(y[i]), 5),
                    int(rank.iloc[i]),
                    f"<span>{html.escape(t)}{extra}</span>",
                ]
            )
    return points


def _polygon_path(geoms: np.ndarray) -> Any:
    """One compound matplotlib Path of all rings (exteriors counter-clockwise, holes clockwise: filled with the
    non-zero rule, holes stay open)."""
    from matplotlib.path import Path as MplPath

    polys = shapely.orient_polygons(shapely.get_parts(geoms))
    rings = np.concatenate([shapely.get_exterior_ring(polys), *_interiors(polys)])
    rings = rings[~shapely.is_empty(rings)]
    xy, idx = shapely.get_coordinates(rings, return_index=True)
    if not len(xy):
        return None
    codes = np.full(len(xy), MplPath.LINETO, dtype=np.uint8)
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    ends = np.r_[starts[1:], len(xy)] - 1
    codes[starts] = MplPath.MOVETO
    codes[ends] = MplPath.CLOSEPOLY
    return MplPath(xy, codes)


def _interiors(polys: np.ndarray) -> list[np.ndarray]:
    n = shapely.get_num_interior_rings(polys)
    out = []
    for k in range(int(n.max()) if len(n) else 0):
        has = n > k
        out.append(shapely.get_interior_ring(polys[has], k))
    return out


def draw_basemap(ax: Any, base: Basemap | None, crs: Any, labels: bool = True, max_labels: int = 40) -> None:
    """Draw the offline base map on a matplotlib axes, under everything else (zorder below 1).

    Parameters
    ----------
    ax : matplotlib Axes
        The figure's map axes, in ``crs``.
    base : Basemap or None
        The layers (as for the HTML maps): built-up land, green space, water, rivers, major roads, streets and
        place names; None draws nothing.
    crs : CRS or anything pyproj accepts
        The axes' (metric) CRS.
    labels : bool
        Write the place names of rank 1-3 (cities, towns, suburbs), most important first, at most ``max_labels``.
    """
    if base is None:
        return
    from matplotlib.collections import LineCollection
    from matplotlib.patches import PathPatch

    def metric(g: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
        if g is None or not len(g) or g.crs is None:
            return None
        g = g.to_crs(crs)
        return g[~(g.geometry.isna() | g.geometry.is_empty)]

    for key in ("built", "green", "water"):
        g = metric(getattr(base, key))
        if g is None:
            continue
        polys = np.asarray(g.geometry.values, dtype=object)
        polys = polys[np.isin(shapely.get_type_id(polys), (3, 6))]
        path = _polygon_path(polys) if len(polys) else None
        if path is not None:
            colour, z = BASE_COLOURS[key]
            ax.add_patch(
                PathPatch(
                    path, facecolor=colour, edgecolor="none", zorder=0.1 + z / 1000, gid=f"cs-base-{key}"
                )
            )

    def lines(g: gpd.GeoDataFrame | None, styles: list[tuple[str, float]], z: float, gid: str) -> None:
        if g is None:
            return
        geoms = np.asarray(g.geometry.values, dtype=object)
        parts, owner = shapely.get_parts(geoms, return_index=True)
        xy, idx = shapely.get_coordinates(parts, return_index=True)
        if not len(xy):
            return
        segs = np.split(xy, np.flatnonzero(np.diff(idx)) + 1)
        colours = [styles[i][0] for i in owner]
        widths = [styles[i][1] * 0.5 for i in owner]
        ax.add_collection(
            LineCollection(segs, colors=colours, linewidths=widths, zorder=z, gid=gid, capstyle="round")
        )

    w = metric(base.waterways)
    if w is not None:
        lines(w, [(BASE_COLOURS["waterways"][0], 2.0)] * len(w), 0.36, "cs-base-waterways")
    for key, zl in (("roads", 0.37), ("streets", 0.38)):
        g = metric(getattr(base, key))
        if g is None:
            continue
        hw = g["highway"].astype(str).to_numpy() if "highway" in g.columns else np.full(len(g), "road")
        st = [STREET_CLASSES.get(h, _PATH_STYLE) for h in hw]
        keep = (
            np.array([c != "path" for c, _w, _col in st])
            if len(g) > _MAX_BASE_SEGMENTS
            else np.ones(len(g), bool)
        )
        lines(g[keep], [(col, wd) for (c, wd, col), k in zip(st, keep) if k], zl, f"cs-base-{key}")
    p = metric(base.places)
    if labels and p is not None and "label" in p.columns:
        from matplotlib import patheffects

        rank = p["rank"].fillna(4).astype(int).to_numpy() if "rank" in p.columns else np.full(len(p), 3)
        order = np.argsort(rank, kind="stable")
        order = order[rank[order] <= 3][:max_labels]
        halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
        x, y = shapely.get_x(p.geometry.values), shapely.get_y(p.geometry.values)
        for i in order:  # a few dozen names at most
            ax.text(
                x[i],
                y[i],
                str(p["label"].iloc[i]),
                fontsize={1: 11, 2: 9.5}.get(int(rank[i]), 8),
                color="#666666",
                ha="center",
                va="center",
                zorder=0.9,
                path_effects=halo,
                clip_on=True,
                gid="cs-base-place",
            )


class TileNotice(MacroElement):
    """Shows the page's tile notice when a tile layer reports a failed tile."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            function hook(l) {
                if (l instanceof L.TileLayer && !l._csHooked) {
                    l._csHooked = true;
                    l.on('tileerror', function () {
                        var n = document.getElementById('cs-tile-notice');
                        if (n) { n.style.display = 'block'; }
                        document.documentElement.setAttribute('data-tile-errors', '1');
                    });
                }
            }
            map.eachLayer(hook);
            map.on('layeradd', function (e) { hook(e.layer); });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "TileNotice"
