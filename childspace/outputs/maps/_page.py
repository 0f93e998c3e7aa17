"""The page of every map: self-contained Leaflet, title, legend, layers, popups, boundaries, output.

Leaflet 1.9.4 (BSD-2-Clause, ``childspace/outputs/static/LEAFLET_LICENSE``) is inlined into every page; nothing is
loaded from a CDN. Layers are given in EPSG:4326 (any input CRS is reprojected).
"""

from __future__ import annotations

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

from childspace._atomic import atomic_path
from childspace._errors import ChildspaceError, DataError
from childspace.outputs.maps._elements import (
    READY_JS,
    BlankBase,
    FitFirst,
    GeoLayer,
    MetricScale,
    RawElement,
    SelfContainedMap,
    pack_features,
    pack_geojson,
    page_of,
)
from childspace.outputs.maps.basemap import (
    TILE_SOURCES,
    Basemap,
    TileNotice,
    add_base_labels,
    add_tiles,
    check_tiles,
    per_base,
    vector_base_layers,
)
from childspace.outputs.maps.webfont import embed_font
from childspace.outputs.style import SYNTHETIC_NOTE

# ----------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------


def esc(values: Iterable[Any]) -> list[str]:
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and not np.isfinite(v)) or v is pd.NA:
            out.append("—")
        else:
            out.append(html.escape(str(v)))
    return out


def fmt_num(values: pd.Series, digits: int = 0, unit: str = "") -> list[str]:
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    fmt = f"{{:,.{digits}f}}{unit}"
    return ["—" if not np.isfinite(v) else fmt.format(v) for v in arr]


def popup_html(title: Sequence[str] | None, rows: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
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


def to_wgs84(gdf: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise DataError(
            f"{what} must be a GeoDataFrame, got {type(gdf).__name__}",
            fix=f"pass {what} as a GeoDataFrame (e.g. from childspace.io)",
        )
    if gdf.crs is None:
        raise DataError(
            f"{what} has no CRS",
            feature=what,
            fix="load it through childspace.inputs.loaders or set its CRS with .set_crs()",
        )
    out = gdf.to_crs(4326) if gdf.crs.to_epsg() != 4326 else gdf
    out = out[~(out.geometry.isna() | out.geometry.is_empty)]
    return out


def require(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(
            f"{what} lacks the columns {missing} (has {list(df.columns)})",
            feature=what,
            fix=f"pass the output of the analysis that produces {what} (see docs/architecture.md)",
        )


#: metres per degree of latitude (a tolerance in metres as degrees: slightly finer across longitudes)
M_PER_DEG = 111_320.0
_M_PER_DEG = M_PER_DEG


def simplify_wgs84(geoms: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Geometries in EPSG:4326 simplified to about ``tolerance_m`` metres (points unchanged).

    Polygons keep their topology (no ring crosses itself); lines are simplified by plain Douglas–Peucker, which
    stays fast on the merged lines of a whole county.
    """
    if tolerance_m <= 0 or not len(geoms):
        return geoms
    tol = tolerance_m / _M_PER_DEG
    out = np.asarray(geoms, dtype=object).copy()
    kind = shapely.get_type_id(out)
    line = np.isin(kind, (1, 2, 5))  # LineString, LinearRing, MultiLineString
    poly = np.isin(kind, (3, 6))
    if line.any():
        out[line] = shapely.simplify(out[line], tol, preserve_topology=False)
    if poly.any():
        out[poly] = shapely.simplify(out[poly], tol, preserve_topology=True)
    return out


def ready_geoms(
    geoms: gpd.GeoSeries | np.ndarray, datum: str = "wgs84", simplify_m: float = 0.0
) -> np.ndarray:
    """The geometries as :func:`features_json` writes them: simplified to ``simplify_m`` metres, shifted to
    GCJ-02 for ``datum="gcj02"``, rounded to 1e-6 degrees."""
    arr = np.asarray(geoms.values if isinstance(geoms, gpd.GeoSeries) else geoms, dtype=object)
    arr = simplify_wgs84(arr, simplify_m)
    if datum == "gcj02":
        from childspace.inputs.datum import wgs84_to_gcj02

        def shift(c: np.ndarray) -> np.ndarray:
            lon, lat = wgs84_to_gcj02(c[:, 0], c[:, 1])
            return np.stack([np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)], axis=1)

        arr = shapely.transform(arr, shift)
    return shapely.transform(arr, lambda c: np.round(c, 6))


def features_json(
    geoms: gpd.GeoSeries | np.ndarray,
    props: Sequence[dict],
    datum: str = "wgs84",
    simplify_m: float = 0.0,
    ready: bool = False,
) -> str:
    """A GeoJSON FeatureCollection text: geometries simplified to ``simplify_m`` metres (0: not simplified),
    rounded to 1e-6 degrees (~0.1 m), properties as given.

    ``datum="gcj02"`` shifts the coordinates to GCJ-02 (for a map drawn over GCJ-02 tiles such as Amap's).
    ``ready``: the geometries come from :func:`ready_geoms` (written as they are).
    """
    arr = geoms if ready else ready_geoms(geoms, datum, simplify_m)
    gj = shapely.to_geojson(np.asarray(arr, dtype=object))
    feats = [
        f'{{"type":"Feature","geometry":{g},"properties":{json.dumps(p, ensure_ascii=False)}}}'
        for g, p in zip(gj, props)
    ]
    text = '{"type":"FeatureCollection","features":[' + ",".join(feats) + "]}"
    return text.replace("</", "<\\/")


def map_datum(m: folium.Map) -> str:
    """The datum overlays are drawn in: ``"gcj02"`` on a map over GCJ-02 tiles, else ``"wgs84"``."""
    return str(getattr(m, "cs_datum", "wgs84"))


def _merge_by_style(geoms: np.ndarray, style_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lines (or polygons) of one style joined into one multi-geometry per style: a layer without popups or
    tooltips costs one GeoJSON feature per style, not one per street."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    kinds = shapely.get_type_id(parts)
    keys = np.unique(style_idx)
    is_line = np.isin(kinds, (1, 2))  # LineString, LinearRing
    is_poly = kinds == 3
    out_g: list[Any] = []
    out_s: list[int] = []
    for k in keys:
        sel = style_idx[owner] == k
        if (sel & is_line).any():  # contiguous pieces joined: shared ends and the vertices between go
            out_g.append(shapely.line_merge(shapely.multilinestrings(parts[sel & is_line])))
            out_s.append(int(k))
        if (sel & is_poly).any():
            out_g.append(shapely.multipolygons(parts[sel & is_poly]))
            out_s.append(int(k))
        rest = sel & ~is_line & ~is_poly
        if rest.any():  # points and anything else stay single features
            out_g += list(parts[rest])
            out_s += [int(k)] * int(rest.sum())
    return np.asarray(out_g, dtype=object), np.asarray(out_s, dtype=np.int64)


_POP = re.compile(
    r"<table class='cs-pop'>(?:<caption>(.*?)</caption>)?((?:<tr><th>.*?</th><td>.*?</td></tr>)*)</table>",
    re.S,
)
_ROW = re.compile(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", re.S)


def _compact_popups(popups: Sequence[str]) -> tuple[list[Any], list[str]] | None:
    """Popups of :func:`popup_html` that share their row labels as ([caption, value, ...] per feature, labels):
    the page carries the labels once per layer, not once per feature. None when they do not share them."""
    heads: list[str] | None = None
    out: list[Any] = []
    for p in popups:
        if not p:
            out.append("")
            continue
        mt = _POP.fullmatch(p)
        if mt is None:
            return None
        rows = _ROW.findall(mt.group(2))
        h = [r[0] for r in rows]
        if heads is None:
            heads = h
        elif h != heads:
            return None
        out.append([mt.group(1) or ""] + [r[1] for r in rows])
    return (out, heads) if heads is not None else None


def add_layer(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    styles: Sequence[dict],
    popups: Sequence[str] | None,
    tooltips: Sequence[str] | None,
    name: str,
    show: bool = True,
    overlay: bool = True,
    pane: str | None = None,
    pane_z: int = 350,
    interactive: bool = True,
    control: bool = True,
    simplify_m: float | None = None,
    merge: bool | None = None,
    detail: np.ndarray | None = None,
    packed: bool = False,
) -> GeoLayer:
    """Add one GeoJSON layer, a style (and optional popup/tooltip) per feature; ``show`` = on when it opens.

    The page carries each distinct style once (a table per layer), and the row labels of popups made by
    :func:`popup_html` once per layer; geometries are simplified to ``simplify_m`` metres (default 1,
    non-interactive context layers 3) and rounded to ~0.1 m. ``merge`` (default: when the features have neither
    popups nor tooltips and there are more than 50) joins the lines and polygons of one style into one feature.
    ``detail`` (a boolean per feature) keeps popups and tooltips on those features only; the others are merged
    by style and drawn under them (a layer of a whole county's streets with popups on the few that matter).
    ``packed``: the layer also gets its coordinates packed for the page (``packed_json``, see
    :func:`childspace.outputs.maps._elements.pack_geojson`).
    """
    if simplify_m is None:  # context layers (no clicks) are drawn coarser
        simplify_m = 1.0 if interactive else 3.0
    n = len(gdf)
    table: dict[tuple, int] = {}  # distinct styles, in the order first met (the drawing order)
    first: list[dict] = []
    seen: dict[int, int] = {}  # the index of each style object met (layers repeat one dict per class)

    def index(st: dict) -> int:
        i = seen.get(id(st))
        if i is not None:
            return i
        k = tuple(sorted(st.items()))
        i = table.setdefault(k, len(table))
        if i == len(first):
            first.append(st)
        seen[id(st)] = i
        return i

    idx = np.fromiter((index(st) for st in styles[:n]), dtype=np.int64, count=n)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    if merge is None:
        merge = popups is None and tooltips is None and n > 50
    if detail is not None and n and not np.asarray(detail, dtype=bool).all():
        mask = np.asarray(detail, dtype=bool)
        keep = np.flatnonzero(mask)
        geoms = simplify_wgs84(geoms, simplify_m)  # piece by piece: simplifying a merged county is slow
        simplify_m = 0.0
        rest_g, rest_i = _merge_by_style(geoms[~mask], idx[~mask])
        geoms = np.concatenate([rest_g, geoms[keep]])
        idx = np.concatenate([rest_i, idx[keep]])
        none = [""] * len(rest_g)
        popups = none + [popups[int(i)] for i in keep] if popups is not None else None
        tooltips = none + [tooltips[int(i)] for i in keep] if tooltips is not None else None
    elif merge and popups is None and tooltips is None and n:
        geoms, idx = _merge_by_style(geoms, idx)  # simplified once merged (the joins go too)
    heads: list[str] = []
    if popups is not None and len(popups) > 20:
        compact = _compact_popups(popups)
        if compact is not None:
            popups, heads = compact
    props = []
    for i in range(len(geoms)):
        p: dict[str, Any] = {"_s": int(idx[i])}
        if popups is not None and popups[i]:
            p["_p"] = popups[i]
        if tooltips is not None and tooltips[i]:
            p["_t"] = tooltips[i]
        props.append(p)
    styles_json = json.dumps(first, ensure_ascii=False).replace("</", "<\\/")
    ready = ready_geoms(geoms, map_datum(m), simplify_m)
    data_json = features_json(ready, props, ready=True)
    packed_json = None
    if packed:
        packed_json = pack_features(ready, props)
        if packed_json is None:  # geometries the array packer does not write
            packed_json = pack_geojson(data_json)
    layer = GeoLayer(
        data_json,
        name=name,
        show=show,
        overlay=overlay,
        pane=pane,
        pane_z=pane_z,
        interactive=interactive,
        control=control,
        styles_json=styles_json,
        heads_json=json.dumps(heads, ensure_ascii=False).replace("</", "<\\/"),
        packed_json=packed_json,
    )
    layer.add_to(m)
    return layer


def add_labels(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    labels: Sequence[str],
    name: str,
    show: bool = True,
    raw_html: bool = False,
    control: bool = True,
) -> None:
    """Text labels at a point on each geometry (``raw_html``: labels are already HTML)."""
    pts = gpd.GeoSeries(shapely.point_on_surface(np.asarray(gdf.geometry.values, dtype=object)), crs=gdf.crs)
    props = [{"_label": t if raw_html else f"<span>{html.escape(str(t))}</span>"} for t in labels]
    GeoLayer(features_json(pts, props, map_datum(m)), name=name, show=show, control=control).add_to(m)


#: marks in a legend heading of a layer that is off when the map opens: such sections are folded under
#: "其他图层 Other layers"
OFF_MARK = "（勾选后显示 tick to show）"
_OFF_MARKS = (OFF_MARK, "（切换后显示）", "(when switched on)")

#: a legend entry: (kind, colour, label); kinds: 'fill', 'dot', 'line', 'dash', 'sym:<symbol>' (a coloured symbol)
LegendItem = tuple[str, str, str]


def legend_html(sections: Sequence[tuple[str, Sequence[LegendItem]]]) -> str:
    """The legend box: sections of (heading, items); see :data:`LegendItem`."""
    parts = [
        "<div class='cs-legend' id='cs-legend'><div class='toggle' title='点击收起/展开 Click to fold' "
        "onclick=\"var b=document.getElementById('cs-legend-body');"
        "b.style.display=(b.style.display==='none')?'':'none';\">图例 Legend ▾</div>"
        "<div id='cs-legend-body'>"
    ]
    shown = [sec for sec in sections if not any(m in sec[0] for m in _OFF_MARKS)]
    hidden = [sec for sec in sections if any(m in sec[0] for m in _OFF_MARKS)]
    for group, secs in (("shown", shown), ("hidden", hidden)):
        if not secs:
            continue
        if group == "hidden":
            parts.append(
                "<details id='cs-legend-more'><summary>其他图层（勾选后显示） Other layers (tick to show)"
                "</summary>"
            )
        for heading, items in secs:
            for mark in _OFF_MARKS:
                heading = heading.replace(mark, "")
            parts.append(f"<div class='h'>{html.escape(heading)}</div>")
            for kind, colour, label in items:
                if kind == "fill":
                    sw = f"<span class='sw' style='background:{colour};'></span>"
                elif kind == "dot":
                    sw = f"<span class='dot' style='background:{colour};'></span>"
                elif kind == "dash":
                    sw = (
                        f"<span class='ln' style='border-top-color:{colour};border-top-style:dashed;'></span>"
                    )
                elif kind.startswith("sym:"):
                    sw = f"<span class='sym' style='color:{colour};'>{html.escape(kind[4:])}</span>"
                else:
                    sw = f"<span class='ln' style='border-top-color:{colour};'></span>"
                parts.append(f"<div class='i' data-kind='{html.escape(kind)}'>{sw}{html.escape(label)}</div>")
        if group == "hidden":
            parts.append("</details>")
    parts.append("</div></div>")
    return "".join(parts)


#: the offline base map of each Basemap drawn, as page text per (extent, datum): the maps of one run share it
#: instead of clipping, merging and encoding a county's streets once per map
_BASE_CACHE: dict[int, tuple[Any, dict]] = {}


def _base_layers(
    base: Basemap | None, bbox: tuple[float, float, float, float], datum: str
) -> list[tuple[str, str, str, int, bool, str | None]]:
    """The vector base layers as (GeoJSON text, style table, name, pane z, listed, packed GeoJSON text for the
    page), cached per Basemap."""
    if base is None:
        return []
    layers = per_base(_BASE_CACHE, base)
    key = (
        tuple(round(v, 7) for v in bbox),
        datum,
        *(id(getattr(base, f)) for f in ("streets", "water", "green", "built", "waterways", "roads")),
    )
    cached = layers.get(key)
    if cached is None:
        probe = folium.Map(tiles=None)
        probe.cs_datum = datum  # type: ignore[attr-defined]
        cached = []
        for frame, styles, name, z, listed in vector_base_layers(base, bbox):
            layer = add_layer(probe, frame, styles, None, None, name, interactive=False, packed=True)
            cached.append((layer.data_json, layer.styles_json, name, z, listed, layer.packed_json))
        layers[key] = cached
    return list(cached)


def new_map(
    bounds_gdfs: Sequence[gpd.GeoDataFrame | None],
    title: str,
    subtitle: str | None,
    synthetic: bool,
    basemaps: Sequence[str] = (),
    tiles_overlay: bool = False,
    base: Basemap | None = None,
    canvas: bool = False,
) -> folium.Map:
    """A map fitted to the layers given, with its title box, scale bar and base map.

    ``canvas``: the data layers are drawn on one canvas per pane instead of as SVG paths (they keep their
    popups and tooltips): a map of a few thousand clickable streets opens faster, as there are no DOM elements
    to style and lay out for each feature. For maps whose clickable layers share one pane: a canvas takes the
    clicks over its whole pane, so layers in a pane under it would not get theirs.

    The base map is offline first: the vector layers of ``base`` (streets by class, water, green space) drawn
    light under the data; tiles only when ``basemaps`` names them (:data:`TILE_SOURCES`), with a notice on the
    page when they fail to load.
    """
    frames = [g for g in bounds_gdfs if g is not None and len(g)]
    if not frames:
        raise DataError("nothing to draw: every layer given is empty", fix="check the inputs of the map")
    sources = check_tiles(basemaps, base)
    b = np.array([g.total_bounds for g in frames])
    minx, miny = np.nanmin(b[:, 0]), np.nanmin(b[:, 1])
    maxx, maxy = np.nanmax(b[:, 2]), np.nanmax(b[:, 3])
    datum = "gcj02" if any(TILE_SOURCES[k].datum == "gcj02" for k in sources) else "wgs84"
    bbox84 = (float(minx), float(miny), float(maxx), float(maxy))
    if datum == "gcj02":
        from childspace.inputs.datum import wgs84_to_gcj02

        (minx, maxx), (miny, maxy) = (
            np.asarray(v, dtype=float) for v in wgs84_to_gcj02(np.array([minx, maxx]), np.array([miny, maxy]))
        )
    m = SelfContainedMap(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=13,
        tiles=None,
        control_scale=False,
        prefer_canvas=canvas,
        zoom_snap=0.25,
    )
    m.cs_datum = datum
    MetricScale().add_to(m)
    page_of(m).title = title
    add_tiles(m, sources, base, tiles_overlay)
    if not tiles_overlay:
        BlankBase("无瓦片底图 No tiles" if sources else "离线底图 Offline base map", show=not sources).add_to(
            m
        )
    for data_json, styles_json, name, z, listed, packed in _base_layers(base, bbox84, datum):
        GeoLayer(
            data_json,
            name=name,
            pane=f"csBase{z}",
            pane_z=z,
            interactive=False,
            control=listed,
            styles_json=styles_json,
            packed_json=packed,
        ).add_to(m)
    add_base_labels(m, base, bbox84)
    # keep the data clear of the title (top left) and of the legend (right-hand side); fitted before any layer
    # is drawn (see FitFirst)
    FitFirst(
        [[float(miny), float(minx)], [float(maxy), float(maxx)]],
        padding_top_left=(20, 90),
        padding_bottom_right=(330, 20),
    ).add_to(m)
    sub = f"<div class='s'>{html.escape(subtitle)}</div>" if subtitle else ""
    syn = f"<div class='syn'>{html.escape(SYNTHETIC_NOTE)}</div>" if synthetic else ""
    page_of(m).html.add_child(  # (as text: not compiled as a template, see RawElement)
        RawElement(
            f"<div class='cs-title' id='cs-title'><div class='t'>{html.escape(title)}</div>{sub}{syn}</div>"
        )
    )
    if sources:
        page_of(m).html.add_child(
            RawElement(
                "<div class='cs-notice' id='cs-tile-notice'>瓦片底图无法加载（离线或网络受限），仅显示数据图层。 "
                "Basemap tiles failed to load (offline?); the data layers are complete.</div>"
            )
        )
        TileNotice().add_to(m)
    return m


def finish(m: folium.Map, legend: Sequence[tuple[str, Sequence[LegendItem]]]) -> folium.Map:
    """Add the legend and the layer control (folded on small screens) to a map built by :func:`new_map`."""
    page_of(m).html.add_child(RawElement(legend_html(legend)))
    # the control is moved behind every other child when the page is rendered (SelfContainedMap.render), so
    # layers a user adds to the returned map appear in it too
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def boundary_layers(
    m: folium.Map,
    boundaries: gpd.GeoDataFrame | None,
    labels: bool = True,
    label_limit: int = 80,
    outline: Sequence[str] = ("community", "township"),
) -> list[tuple[str, str, str]]:
    """Township and community outlines (+ name labels); returns legend items."""
    if boundaries is None or not len(boundaries):
        return []
    b = to_wgs84(boundaries, "boundaries")
    require(b, ["unit_id", "name"], "boundaries")
    level = b["level"] if "level" in b.columns else pd.Series("community", index=b.index)
    items = []
    for lev, colour, weight, lname in (
        ("community", "#777777", 1.0, "村社区边界 Community boundaries"),
        ("township", "#222222", 2.5, "乡镇街道边界 Township boundaries"),
    ):
        sub = b[level.to_numpy() == lev]
        if not len(sub):
            continue
        style = {"color": colour, "weight": weight, "fill": False, "opacity": 0.9}
        if lev == "community":
            style["dashArray"] = "4 3"
        if lev in outline:
            tips = [f"{n}（{u}）" for n, u in zip(esc(sub["name"]), esc(sub["unit_id"]))]
            add_layer(m, sub, [style] * len(sub), None, tips, lname, simplify_m=5.0)
            items.append(("dash" if lev == "community" else "line", colour, lname))
        if labels and len(sub) <= label_limit:
            add_labels(
                m,
                sub,
                sub["name"].astype(str).tolist(),
                "乡镇街道名称 Township names" if lev == "township" else "村社区名称 Community names",
                show=(lev == "township") or not (level == "township").any(),
            )
    return items


def category_filter(gdf: gpd.GeoDataFrame, category: str) -> gpd.GeoDataFrame:
    if "category" not in gdf.columns:
        return gdf
    return gdf[gdf["category"].astype(str) == category]


def nice_breaks(values: np.ndarray, k: int) -> np.ndarray:
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


def bool_col(df: pd.DataFrame, col: str, default: bool) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), default, dtype=bool)
    return df[col].astype("boolean").fillna(default).to_numpy(dtype=bool)


def township_outlines(
    m: folium.Map, townships: gpd.GeoDataFrame | None, show_names: bool = True
) -> list[tuple[str, str, str]]:
    """Township boundaries drawn over everything (thick, dark, with a white casing) and their names."""
    if townships is None or not len(townships):
        return []
    t = to_wgs84(townships, "townships")
    require(t, ["unit_id", "name"], "townships")
    tips = [f"{n}（{u}）" for n, u in zip(esc(t["name"]), esc(t["unit_id"]))]
    add_layer(
        m,
        t,
        [{"color": "#ffffff", "weight": 6, "fill": False, "opacity": 0.9}] * len(t),
        None,
        None,
        "乡镇街道边界（底衬） Township boundaries (casing)",
        pane="csTop",
        pane_z=450,
        simplify_m=5.0,
    ).control = False
    add_layer(
        m,
        t,
        [{"color": "#111111", "weight": 3, "fill": False, "opacity": 1.0}] * len(t),
        None,
        tips,
        f"乡镇街道边界（{len(t)}） Township boundaries ({len(t)})",
        pane="csTop",
        pane_z=450,
        simplify_m=5.0,
    )
    if len(t) <= 80:
        add_labels(m, t, t["name"].astype(str).tolist(), "乡镇街道名称 Township names", show=show_names)
    return [("line", "#111111", "乡镇街道边界 Township boundaries")]


_EXTERNAL = re.compile(
    r"""<(script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']((?:https?:)?//[^"']+)["'][^>]*>""", re.IGNORECASE
)


def render_html(m: folium.Map) -> str:
    """The complete HTML text of a map, checked to load no script or stylesheet from the network.

    Raises
    ------
    ChildspaceError
        When an element added to the map needs a script or stylesheet from the internet (e.g. folium plugins or
        ``folium.Marker`` icons); the map would not work offline.
    """
    text = embed_font(m.get_root().render(), also=READY_JS)  # Chinese without a system CJK font
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
            "plugins or folium.Marker icons",
        )
    idx = text.rfind("</html>")
    return text[:idx] + READY_JS + text[idx:] if idx >= 0 else text + READY_JS


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
