"""Land cover and place names for the offline base map (底图), read from the OSM extract itself.

A planner's map must be readable with no network: water, green space, built-up land, major roads and place names
come from the same extract the walk network is built from, in one pass over the file (areas assembled by
libosmium's multipolygon assembler, pyosmium ``FileProcessor.with_areas``; a tag filter in C++ keeps Python away
from every other object).

What is read (OSM wiki, "Map features")
---------------------------------------
=============  =======================================================================================
layer          tags
=============  =======================================================================================
water          areas: ``natural=water``, ``waterway=riverbank``, ``water=*`` (the values in
               :data:`WATER_VALUES`), ``landuse=reservoir/basin``; lines: ``waterway=river/canal``
green          ``leisure=park/garden``, ``landuse=grass/forest/meadow/recreation_ground/village_green``,
               ``natural=wood``
built          ``landuse=residential/commercial/retail/industrial``
roads          ``highway=motorway/trunk/primary/secondary`` (and their ``_link`` ramps), lines
places         ``place=city/town/suburb/quarter/village/neighbourhood`` nodes; the Chinese name is preferred
               (``name:zh-Hans``, ``name:zh-CN``, ``name:zh``, then ``name``)
=============  =======================================================================================

Everything is clipped to the study area plus ``buffer_m``, simplified (``tolerance_m``, in the local metric CRS,
coarser when the layers exceed ``max_vertices``), areas under ``min_area_m2`` dropped and coordinates rounded to
1e-5 degrees (about 1 m), so a county's base map stays small in a web map. The sea is not drawn (coastline assembly is not done).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import osmium.filter
import pandas as pd
import shapely

from childspace._gcpause import gc_paused
from childspace.inputs.area import AreaLike, area_polygon
from childspace.inputs.projection import WGS84, local_crs
from childspace.osm import _parse

__all__ = [
    "BUILT_LANDUSE",
    "GREEN_TAGS",
    "MAJOR_ROADS",
    "PLACE_RANK",
    "WATER_VALUES",
    "OsmLandcover",
    "dissolve",
    "read_landcover",
]

#: ``water=*`` values read as water areas (with or without ``natural=water``)
WATER_VALUES = (
    "river",
    "lake",
    "pond",
    "reservoir",
    "canal",
    "basin",
    "fishpond",
    "lagoon",
    "oxbow",
    "moat",
    "stream",
    "ditch",
)
#: (key, value) pairs of green space
GREEN_TAGS = (
    ("leisure", "park"),
    ("leisure", "garden"),
    ("landuse", "grass"),
    ("landuse", "forest"),
    ("landuse", "meadow"),
    ("landuse", "recreation_ground"),
    ("landuse", "village_green"),
    ("natural", "wood"),
)
#: ``landuse=*`` values of built-up land
BUILT_LANDUSE = ("residential", "commercial", "retail", "industrial")
#: ``highway=*`` values of the major roads drawn on the base map
MAJOR_ROADS = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "motorway_link",
    "trunk_link",
    "primary_link",
    "secondary_link",
)
#: ``place=*`` values and their rank (1 = most important, shown from the lowest zoom)
PLACE_RANK = {"city": 1, "town": 2, "suburb": 3, "quarter": 4, "village": 4, "neighbourhood": 5}
_WATER_LINES = ("river", "canal")
_KEYS = ("natural", "waterway", "water", "leisure", "landuse", "highway", "place")
_ZH_KEYS = ("name:zh-Hans", "name:zh-CN", "name:zh", "name:zh-SG")


@dataclass
class OsmLandcover:
    """The base-map layers of one extract (EPSG:4326, clipped, simplified)."""

    water: gpd.GeoDataFrame  # osm_id, tag, geometry (Multi)Polygon
    waterways: gpd.GeoDataFrame  # osm_id, waterway, geometry (Multi)LineString
    green: gpd.GeoDataFrame  # osm_id, tag, geometry (Multi)Polygon
    built: gpd.GeoDataFrame  # osm_id, landuse, geometry (Multi)Polygon
    roads: gpd.GeoDataFrame  # osm_id, highway, geometry (Multi)LineString
    places: gpd.GeoDataFrame  # osm_id, place, rank, name, name_zh, label, geometry Point


def _tag_filter() -> osmium.filter.TagFilter:
    pairs = [
        ("natural", "water"),
        ("waterway", "riverbank"),
        ("landuse", "reservoir"),
        ("landuse", "basin"),
        *(("water", v) for v in WATER_VALUES),
        *(("waterway", v) for v in _WATER_LINES),
        *GREEN_TAGS,
        *(("landuse", v) for v in BUILT_LANDUSE),
        *(("highway", v) for v in MAJOR_ROADS),
        *(("place", v) for v in PLACE_RANK),
    ]
    return osmium.filter.TagFilter(*pairs)


def _area_kind(tags: osmium.osm.TagList) -> str | None:
    lu = tags.get("landuse")
    if (
        tags.get("natural") == "water"
        or tags.get("waterway") == "riverbank"
        or tags.get("water") in WATER_VALUES
        or lu in ("reservoir", "basin")
    ):
        return "water"
    if lu in BUILT_LANDUSE:
        return "built"
    if any(tags.get(k) == v for k, v in GREEN_TAGS):
        return "green"
    return None


def read_landcover(
    source: str | Path,
    area: AreaLike | None = None,
    buffer_m: float = 500.0,
    tolerance_m: float = 4.0,
    min_area_m2: float = 400.0,
    max_vertices: int | None = 30_000,
) -> OsmLandcover:
    """Water, green space, built-up land, major roads and place names of an OSM file, in one pass.

    Parameters
    ----------
    source : str or Path
        A local OSM file (.osm, .osm.gz, .osm.bz2, .osm.pbf).
    area : shapely geometry (EPSG:4326), GeoDataFrame/GeoSeries or bbox, optional
        The study area; everything is clipped to it plus ``buffer_m``. None keeps the whole extract.
    buffer_m : float
        Metres around the study area kept (the map shows a little beyond the units).
    tolerance_m : float
        Douglas-Peucker tolerance of the simplification, metres.
    min_area_m2 : float
        Areas smaller than this (m², after clipping) are dropped: they are invisible at a county's scale.
    max_vertices : int or None
        Vertex budget of the areas (30,000 with the lines of a county keep a web map's base map under about
        1 MB): while it is exceeded their tolerance is doubled (at most three times). None: no budget.

    Returns
    -------
    OsmLandcover
        Frames in EPSG:4326, coordinates rounded to 1e-5 degrees; ``places["label"]`` is the name shown (Chinese
        when the extract has it).

    Raises
    ------
    DataError
        Missing or unreadable file.
    """
    with gc_paused():  # (thousands of geometries: see gc_paused)
        return _read_landcover(source, area, buffer_m, tolerance_m, min_area_m2, max_vertices)


def _read_landcover(
    source: str | Path,
    area: AreaLike | None,
    buffer_m: float,
    tolerance_m: float,
    min_area_m2: float,
    max_vertices: int | None,
) -> OsmLandcover:
    p = _parse.check_osm_path(source)
    factory = osmium.geom.WKBFactory()
    polys: dict[str, list] = {"osm_id": [], "kind": [], "tag": [], "wkb": []}
    lines: dict[str, list] = {"osm_id": [], "kind": [], "tag": [], "wkb": []}
    pl: dict[str, list] = {"osm_id": [], "place": [], "name": [], "name_zh": [], "x": [], "y": []}
    try:
        # only the multipolygon relations with a base-map tag are assembled (the filters of with_areas act on the
        # relations of the first pass): an area has its relation's tags, so the others would be dropped by the
        # same filters below once assembled (boundaries, buildings, ...). The key filter first: it rejects most
        # objects faster than the (key, value) filter.
        fp = osmium.FileProcessor(str(p)).with_areas(osmium.filter.KeyFilter(*_KEYS), _tag_filter())
        fp.with_filter(osmium.filter.KeyFilter(*_KEYS))
        fp.with_filter(_tag_filter())
        # of the ways only major roads and rivers are read as lines (areas are assembled before the filters: the
        # landuse ways still make their areas), so the ways of every built-up and green area stay in C++
        lines_only = osmium.filter.KeyFilter("highway", "waterway")
        lines_only.enable_for(osmium.osm.WAY)
        fp.with_filter(lines_only)
        for obj in fp:
            if isinstance(obj, osmium.osm.Area):
                kind = _area_kind(obj.tags)
                if kind is None:
                    continue
                try:
                    wkb = factory.create_multipolygon(obj)
                except (RuntimeError, osmium.InvalidLocationError):  # broken rings: not assembled
                    continue
                polys["osm_id"].append(f"osm/{'way' if obj.from_way() else 'relation'}/{obj.orig_id()}")
                polys["kind"].append(kind)
                t = obj.tags
                polys["tag"].append(
                    t.get("landuse") or t.get("leisure") or t.get("water") or t.get("natural")
                )
                polys["wkb"].append(wkb)
            elif isinstance(obj, osmium.osm.Way):
                hw, ww = obj.tags.get("highway"), obj.tags.get("waterway")
                if hw in MAJOR_ROADS:
                    kind, tag = "road", hw
                elif ww in _WATER_LINES:
                    kind, tag = "waterway", ww
                else:
                    continue
                try:
                    wkb = factory.create_linestring(obj)
                except (RuntimeError, osmium.InvalidLocationError):  # nodes missing from the extract
                    continue
                lines["osm_id"].append(f"osm/way/{obj.id}")
                lines["kind"].append(kind)
                lines["tag"].append(tag)
                lines["wkb"].append(wkb)
            elif isinstance(obj, osmium.osm.Node):
                place = obj.tags.get("place")
                name = obj.tags.get("name")
                zh = next((obj.tags.get(k) for k in _ZH_KEYS if obj.tags.get(k)), None)
                if place not in PLACE_RANK or not (name or zh) or not obj.location.valid():
                    continue
                pl["osm_id"].append(f"osm/node/{obj.id}")
                pl["place"].append(place)
                pl["name"].append(name)
                pl["name_zh"].append(zh)
                pl["x"].append(obj.location.lon)
                pl["y"].append(obj.location.lat)
    except RuntimeError as err:
        raise _parse._not_osm(p, err) from err

    poly = area_polygon(area, buffer_m) if area is not None else None
    g_poly = shapely.from_wkb(np.asarray(polys.pop("wkb"), dtype=object))
    g_line = shapely.from_wkb(np.asarray(lines.pop("wkb"), dtype=object))
    pts = shapely.points(np.asarray(pl.pop("x"), dtype=float), np.asarray(pl.pop("y"), dtype=float))
    anchor = poly if poly is not None else _extent(g_poly, g_line, pts)
    if anchor is None:
        return _empty()
    c = shapely.centroid(anchor)
    crs = local_crs(float(c.x), float(c.y))
    clip = None
    if poly is not None:  # a few metres of the buffer's outline do not matter: fewer vertices to clip against
        clip = shapely.simplify(gpd.GeoSeries([poly], crs=WGS84).to_crs(crs).iloc[0], 10.0)
        shapely.prepare(clip)

    def project(geoms: np.ndarray, d: dict[str, list], polygons: bool) -> tuple[pd.DataFrame, np.ndarray]:
        """Kept rows and their geometries in the metric CRS, clipped (box test first, then the exact clip)."""
        frame = gpd.GeoDataFrame(d, geometry=gpd.GeoSeries(geoms, crs=WGS84).values, crs=WGS84)
        if clip is not None and len(frame):
            frame = frame.iloc[frame.sindex.query(poly, predicate="intersects")]
        m = frame.to_crs(crs) if len(frame) else frame
        g = np.asarray(m.geometry.values, dtype=object)
        if polygons and len(g):
            g = shapely.make_valid(g)
        if clip is not None and len(g):
            cut = np.flatnonzero(~shapely.contains(clip, g))
            g[cut] = shapely.intersection(g[cut], clip)
        return pd.DataFrame(m.drop(columns="geometry")), g

    def simplified(attrs: pd.DataFrame, g: np.ndarray, tol: float, polygons: bool) -> gpd.GeoDataFrame:
        g = _only(shapely.simplify(g, tol, preserve_topology=polygons), (3, 6) if polygons else (1, 5))
        keep = ~shapely.is_empty(g) & ~shapely.is_missing(g)
        if polygons:
            keep &= shapely.area(g) >= min_area_m2
        out = gpd.GeoDataFrame(attrs[keep], geometry=g[keep], crs=crs).to_crs(WGS84)
        r = shapely.transform(np.asarray(out.geometry.values, dtype=object), lambda c: np.round(c, 5))
        out = out.set_geometry(gpd.GeoSeries(r, crs=WGS84).values)
        return out[~out.geometry.is_empty].reset_index(drop=True)

    lf = simplified(*project(g_line, lines, False), tolerance_m, False)
    pa, pg = project(g_poly, polys, True)
    for _ in range(4):  # a coarser simplification while the areas exceed the vertex budget
        pf = simplified(pa, pg, tolerance_m, True)
        if max_vertices is None or shapely.get_num_coordinates(pf.geometry.values).sum() <= max_vertices:
            break
        tolerance_m *= 2.0
    places = gpd.GeoDataFrame(pl, geometry=gpd.GeoSeries(pts, crs=WGS84).values, crs=WGS84)
    if poly is not None and len(places):
        places = places[shapely.contains_xy(poly, shapely.get_x(pts), shapely.get_y(pts))]
    places = places.reset_index(drop=True)
    places.insert(2, "rank", places["place"].map(PLACE_RANK).astype("int64"))
    zh, nm = places["name_zh"], places["name"]
    places.insert(5, "label", zh.where(zh.notna(), nm))

    def pick(frame: gpd.GeoDataFrame, kind: str, col: str) -> gpd.GeoDataFrame:
        sub = frame[frame["kind"] == kind].drop(columns="kind").rename(columns={"tag": col})
        return sub.reset_index(drop=True)

    return OsmLandcover(
        water=pick(pf, "water", "tag"),
        waterways=pick(lf, "waterway", "waterway"),
        green=pick(pf, "green", "tag"),
        built=pick(pf, "built", "landuse"),
        roads=pick(lf, "road", "highway"),
        places=places,
    )


def _only(g: np.ndarray, types: tuple[int, int]) -> np.ndarray:
    """Keep the polygonal (or linear) part of each geometry (clipping and repair can give collections)."""
    g = np.asarray(g, dtype=object)
    tid = shapely.get_type_id(g)
    for i in np.flatnonzero(tid == 7):
        parts = [q for q in shapely.get_parts(g[i]) if shapely.get_type_id(q) in types]
        g[i] = shapely.union_all(parts) if parts else None
    g[~np.isin(tid, (*types, 7))] = None
    return g


def _extent(*arrays: np.ndarray) -> shapely.Geometry | None:
    boxes = [shapely.total_bounds(a) for a in arrays if len(a)]
    if not boxes:
        return None
    b = np.asarray(boxes)
    return shapely.box(b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())


def _empty() -> OsmLandcover:
    def f(cols: list[str]) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in cols}, geometry=[], crs=WGS84)

    return OsmLandcover(
        water=f(["osm_id", "tag"]),
        waterways=f(["osm_id", "waterway"]),
        green=f(["osm_id", "tag"]),
        built=f(["osm_id", "landuse"]),
        roads=f(["osm_id", "highway"]),
        places=f(["osm_id", "place", "rank", "name", "name_zh", "label"]),
    )


def dissolve(gdf: gpd.GeoDataFrame | None, by: str | None = None) -> gpd.GeoDataFrame | None:
    """One feature per value of ``by`` (all in one when None): polygons unioned (so overlaps do not punch holes
    when drawn with the even-odd rule), lines joined; a web map then carries a few features, not thousands.
    Coordinates stay rounded to 1e-5 degrees.
    """
    if gdf is None or not len(gdf):
        return gdf
    keys = gdf[by].astype(str).to_numpy() if by else np.zeros(len(gdf), dtype=object).astype(str)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    out_k, out_g = [], []
    for k in pd.unique(keys):
        g = geoms[keys == k]
        if shapely.get_type_id(g[0]) in (1, 5):  # lines: joined where they meet (fewer repeated vertices)
            out_g.append(shapely.line_merge(shapely.multilinestrings(shapely.get_parts(g))))
        else:
            u = shapely.union_all(g)  # (no grid snapping: three times slower, and the inputs are rounded)
            out_g.append(shapely.transform(u, lambda c: np.round(c, 5)))
        out_k.append(k)
    return gpd.GeoDataFrame({by or "layer": out_k}, geometry=out_g, crs=gdf.crs)
