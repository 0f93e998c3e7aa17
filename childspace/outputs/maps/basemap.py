"""Base maps (底图): offline first, drawn from the data the run has; tiles only when asked for.

By default a map requests nothing from the network: the base map is a light vector layer drawn from the run's own
data (the walk network's streets by class, and water and green space when the run passes them), under the
analysis layers. Tiles are opt-in (``basemaps=("tianditu",)`` …, :data:`TILE_SOURCES`); when they fail to load
the page says so.

Datums: 天地图 Tianditu tiles are CGCS2000, which agrees with WGS84 to well under a metre, so the data need no
shift. Amap (高德) tiles are drawn in GCJ-02 (about 500 m off WGS84 in Yueqing): a map offering Amap tiles draws
every overlay shifted to GCJ-02 (:func:`childspace.inputs.datum.wgs84_to_gcj02`), never misaligned, and cannot
be combined with a WGS84/CGCS2000 tile source.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
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
    "add_tiles",
    "check_tiles",
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
    water, green : GeoDataFrame, optional
        Water and green-space polygons (e.g. from the OSM extract), drawn light blue / light green.
    tianditu_key : str, optional
        The planner's 天地图 key (``[maps] tianditu_key`` of the run config); needed for ``"tianditu"`` tiles.
    """

    streets: gpd.GeoDataFrame | None = None
    water: gpd.GeoDataFrame | None = None
    green: gpd.GeoDataFrame | None = None
    tianditu_key: str | None = None


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
    g = gdf.to_crs(4326) if gdf.crs.to_epsg() != 4326 else gdf
    minx, miny, maxx, maxy = bbox
    dx, dy = (maxx - minx) * 0.15 + 0.002, (maxy - miny) * 0.15 + 0.002
    g = g.iloc[g.sindex.query(shapely.box(minx - dx, miny - dy, maxx + dx, maxy + dy))]
    return g[~(g.geometry.isna() | g.geometry.is_empty)]


def vector_base_layers(
    base: Basemap | None, bbox: tuple[float, float, float, float]
) -> list[tuple[gpd.GeoDataFrame, list[dict], str, int, bool]]:
    """The offline base map as layers to draw under every data layer: (frame in EPSG:4326, one style per feature,
    name, pane z-index, listed in the layer control); water and green space first, then streets by class."""
    out: list[tuple[gpd.GeoDataFrame, list[dict], str, int, bool]] = []
    if base is None:
        return out
    for gdf, colour, name in (
        (base.water, "#cfe3f3", "水系 Water"),
        (base.green, "#e3efd9", "绿地 Green space"),
    ):
        g = _clip(gdf, bbox)
        if g is not None and len(g):
            g = g[g.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()]
            g = g.set_geometry(shapely.simplify(np.asarray(g.geometry.values, dtype=object), 2e-5))
            out.append(
                (g, [{"stroke": False, "fillColor": colour, "fillOpacity": 1.0}] * len(g), name, 250, False)
            )
    s = _clip(base.streets, bbox)
    if s is None or not len(s):
        return out
    hw = s["highway"].astype(str).to_numpy() if "highway" in s.columns else np.full(len(s), "road")
    cls = np.array([STREET_CLASSES.get(h, _PATH_STYLE)[0] for h in hw])
    if len(s) > _MAX_BASE_SEGMENTS:
        keep = cls != "path"
        s, hw, cls = s[keep], hw[keep], cls[keep]
    geoms = shapely.simplify(np.asarray(s.geometry.values, dtype=object), 1e-5)
    s = gpd.GeoDataFrame({"cls": cls}, geometry=geoms, crs=4326)
    order = np.argsort(pd.Categorical(cls, ["path", "minor", "medium", "major"]).codes, kind="stable")
    s, hw = s.iloc[order], hw[order]
    styles = []
    for h in hw:
        _c, w, col = STREET_CLASSES.get(h, _PATH_STYLE)
        styles.append({"color": col, "weight": w, "opacity": 0.9, "lineCap": "round"})
    out.append((s, styles, "离线底图：道路 Offline base map: streets", 260, True))
    return out


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
