"""Read OpenStreetMap data into walk-network tables (``nodes``, ``edges``).

Sources: a local file (.osm, .osm.bz2, .osm.gz, .osm.pbf; e.g. a Geofabrik extract, a JOSM or Overpass export)
with :func:`read_osm`, or, when online, an Overpass download with :func:`graph_from_overpass`. Both return
the same tables (see ``docs/architecture.md``, "Walk-network tables"), which
:class:`childspace.network.engine.WalkNetwork` turns into its CSR engine.

Which ways are walkable (:func:`is_walkable`) --------------------------------------------- Kept: ``highway``
= footway, pedestrian, path, steps, living_street, residential, service, unclassified, road, track, corridor,
tertiary, secondary, primary (and their ``_link``), trunk/trunk_link (see below); cycleway and bridleway only
when ``foot`` = yes/designated/permissive, or when the way is a crossing (``footway=crossing``, or
``cycleway=crossing`` with foot allowed). Crossing ways are always kept when walkable (``highway=footway`` +
``footway=crossing``; a cycleway crossing with ``foot=designated``): dropping them, as a plain "no cycleways"
filter does, disconnects the two sides of a road.

Dropped: motorway(+_link), construction, proposed, planned, abandoned, disused, razed, platform, bus_guideway,
busway, raceway, escape, elevator, bus_stop, rest_area, services, no, ``motorroad=yes`` (Chinese 城市快速路 and
other roads closed to pedestrians; Road Traffic Safety Law art. 67 bars pedestrians from expressways) unless
foot is explicitly allowed, ``foot=no``/``foot=private``/``foot=use_sidepath``, and ``access=no``/``private``
unless ``foot`` = yes/designated/permissive. ``indoor`` values that describe rooms/areas/walls (Simple Indoor
Tagging) are dropped; ``indoor=yes`` passages and ``highway=corridor`` are kept (station and underground
passages). ``area=yes`` highways (pedestrian squares) are kept as their outline ring: footways that end on the
square's edge stay connected; a walk across the square is measured around its edge (an overestimate of at most
half the perimeter).

Trunk roads: in Yueqing national/provincial roads (G104, S-roads) are often ``highway=trunk`` and run through
towns where they are the only link between villages, with or without mapped sidewalks. They are kept by
default (``trunk="keep"``; the safety module rates them as high stress), and dropped when tagged
``sidewalk=no`` or ``foot=no`` or ``motorroad=yes``. ``trunk="sidewalk"`` keeps only trunks with a sidewalk
tagged (``sidewalk`` = both/left/right/yes/separate, or ``sidewalk:*`` = yes/separate) or foot explicitly
allowed.

Roads with separately mapped sidewalks (``sidewalk=separate``)
-------------------------------------------------------------- Walkers use the separate ``footway=sidewalk``
ways, so the road centreline would be a shortcut along a road where nobody walks. Rule: a road tagged
``sidewalk=separate`` (or ``sidewalk:both=separate``, or left and right both ``separate``) is dropped when, on
*each* side, sidewalk ways (``footway=sidewalk``) lying within 25 m of the centreline in a one-sided band
cover at least half of the road's length (intersection length of the sidewalks with the band / road length >=
0.5, in the local metric CRS). Otherwise (sidewalks not mapped there, or only on one side) the road stays
walkable. The nodes of a dropped road still count for deciding graph nodes, so crossing ways that pass through
the road's nodes keep a graph node there and the two sides remain connected through the crossing.
``read_osm(..., beside_roads=True)`` also returns the dropped roads with their tags: the safety module rates
their sidewalks and the crossings over them from their speed and lanes.

Roads closed to pedestrians for their traffic (``foot=no``/``use_sidepath``, ``motorroad=yes``, motorways, trunks
with ``sidewalk=no``: :func:`is_closed_road`) are read too but not walked: their nodes count for graph nodes, so a
footway that crosses one at grade is split there, and with ``beside_roads=True`` they are returned with
``dropped = "closed"`` (the others ``"separate"``): the safety module rates such an at-grade crossing level 4.
Private roads (``access=private``) are not closed roads in this sense and are simply left out.

Graph nodes and edges --------------------- Graph nodes are way ends, nodes used two or more times by walkable
ways (including dropped ``sidewalk=separate`` roads, see above), and nodes tagged
``highway=crossing``/``traffic_signals`` or ``crossing=*``. Ways are split at graph nodes into edges ``u ->
v`` with all intermediate vertices; ``length`` is the geodesic length on the WGS84 ellipsoid (pyproj.Geod) in
metres. Zero-length self-loops are dropped; parallel edges between the same pair of nodes get ``key`` 0, 1,
... Way nodes missing from the file (clipped extracts) break a way into the pieces that are present; the count
is reported as a :class:`~childspace.ChildspaceWarning`.

Study area
----------
``area`` is buffered by ``buffer_m`` metres in the local metric CRS; ways with at least one node inside the
buffered area are kept **whole** (not clipped), so routes that leave the area briefly are not cut.
Ways with no node in the bounding box of the buffered area are skipped while the file is decoded (their tags
are never parsed), except ``footway=sidewalk`` ways, which the ``sidewalk=separate`` rule compares with roads
that reach into the area.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod
from shapely.geometry.base import BaseGeometry

from childspace._errors import ChildspaceWarning, DataError, NetworkError
from childspace._gcpause import gc_paused
from childspace.inputs.area import AreaLike, area_polygon
from childspace.inputs.projection import WGS84, local_crs
from childspace.osm import _parse as _osm_reader
from childspace.osm.walk_rules import (
    CLOSED_CANDIDATES,
    ROAD_CLASSES,
    RULE_KEYS,
    SIDEWALK_COVER_SHARE,
    SIDEWALK_SEARCH_M,
    TRUNKS,
    is_closed_road,
    is_walkable,
)

_GEOD = Geod(ellps="WGS84")

#: Edge tag columns of the walk-network contract, with the OSM key each one is read from.
EDGE_TAGS: dict[str, str] = {
    "highway": "highway",
    "name": "name",
    "maxspeed": "maxspeed",
    "lanes": "lanes",
    "sidewalk": "sidewalk",
    "sidewalk_left": "sidewalk:left",
    "sidewalk_right": "sidewalk:right",
    "sidewalk_both": "sidewalk:both",
    "footway": "footway",
    "foot": "foot",
    "access": "access",
    "lit": "lit",
    "surface": "surface",
    "bridge": "bridge",
    "tunnel": "tunnel",
    "junction": "junction",
    "oneway": "oneway",
    "crossing": "crossing",
}
#: Extra edge columns (beyond the contract) useful to the safety rules.
EDGE_EXTRA_TAGS: dict[str, str] = {
    "cycleway": "cycleway",
    "service": "service",
    "layer": "layer",
    "motorroad": "motorroad",
    "crossing_markings": "crossing:markings",
    "ref": "ref",
}
#: Node tag columns with the OSM key each one is read from.
NODE_TAGS: dict[str, str] = {
    "highway": "highway",
    "crossing": "crossing",
    "crossing_island": "crossing:island",
    "kerb": "kerb",
    "crossing_ref": "crossing_ref",
    "crossing_markings": "crossing:markings",
}


# ----------------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------------
def read_osm(
    path: str | Path,
    area: AreaLike | None = None,
    buffer_m: float = 500.0,
    network: str = "walk",
    trunk: Literal["keep", "sidewalk"] = "keep",
    beside_roads: bool = False,
) -> tuple[gpd.GeoDataFrame, ...]:
    """Read an OSM file into walk-network tables.

    Parameters
    ----------
    path : str or Path
        ``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf`` file.
    area : shapely geometry (EPSG:4326), GeoDataFrame/GeoSeries (any CRS), bbox tuple or None
        Study area; None keeps the whole file. Ways with at least one node inside the area buffered by
        ``buffer_m`` are kept whole (not clipped).
    buffer_m : float
        Buffer around ``area`` in metres (local metric CRS), default 500 m.
    network : str
        Only ``"walk"`` is supported.
    trunk : {"keep", "sidewalk"}
        Treatment of trunk roads (see the module docstring).
    beside_roads : bool
        Also return the roads dropped for their separately mapped sidewalks (third table): not walked, but the
        safety rating of the sidewalks beside them and of the crossings over them needs their speed and lanes.

    Returns
    -------
    nodes : GeoDataFrame, EPSG:4326
        Index ``osmid`` (int64); ``x``, ``y`` (lon, lat degrees), ``highway``, ``crossing``,
        ``crossing_island``, ``kerb``, ``crossing_ref``, ``crossing_markings``; Point geometry. Graph nodes
        only.
    edges : GeoDataFrame, EPSG:4326
        ``u``, ``v`` (OSM node ids), ``key``, ``osmid`` (way id), tag columns (raw OSM strings or None, see
        :data:`EDGE_TAGS` plus :data:`EDGE_EXTRA_TAGS`), ``length`` (metres, geodesic), LineString u -> v.
    roads : GeoDataFrame, EPSG:4326 (only with ``beside_roads=True``)
        The roads not walked: ``osmid`` (way id), the same tag columns as ``edges``, ``dropped`` (``"separate"``:
        sidewalks mapped as separate ways; ``"closed"``: closed to pedestrians), one LineString per way (per
        present piece of a clipped way).

    Raises
    ------
    DataError
        File missing or not an OSM file; a malformed study area.
    NetworkError
        Study area outside the file's extent, or no walkable ways in the area.
    """
    if network != "walk":
        raise DataError(f"network='{network}' is not supported", fix="use network='walk'")
    if trunk not in ("keep", "sidewalk"):
        raise DataError(f"trunk='{trunk}' is not supported", fix="use trunk='keep' or trunk='sidewalk'")
    p = _osm_reader.check_osm_path(path)
    poly = area_polygon(area, buffer_m) if area is not None else None
    box = _osm_reader.header_box(p)
    if poly is not None and box is not None and not poly.intersects(shapely.box(*box)):
        raise _outside(p, poly, box, "header bounds")

    way_keys = list(
        dict.fromkeys(list(EDGE_TAGS.values()) + list(EDGE_EXTRA_TAGS.values()) + list(RULE_KEYS))
    )

    def read(bbox: tuple[float, float, float, float] | None):
        return _osm_reader.read_ways_and_nodes(
            p,
            lambda t: is_walkable(t, trunk) or is_closed_road(t, trunk),
            way_keys,
            list(NODE_TAGS.values()),
            bbox=bbox,
            # sidewalks beside a kept road may lie outside the area; the road test needs them
            keep_outside=("footway=sidewalk",),
            keep_keys=RULE_KEYS,
        )

    with gc_paused():  # (hundreds of thousands of geometries: see gc_paused)
        # ways with no node in the area's bounding box are skipped while reading (before their tags are decoded)
        ways, tagged = read(poly.bounds if poly is not None else None)
        if len(ways.ids) == 0 and poly is None:
            raise NetworkError(
                "no walkable ways in the file",
                path=p,
                fix="check that the extract covers a built-up area and contains highway=* ways",
            )
        return _build_tables(
            p,
            ways,
            tagged,
            poly,
            box,
            full_read=lambda: read(None)[0],
            beside_roads=beside_roads,
            trunk=trunk,
        )


def _outside(p: Path, poly: BaseGeometry, box: tuple[float, float, float, float], what: str) -> NetworkError:
    a = tuple(round(v, 5) for v in poly.bounds)
    b = tuple(round(v, 5) for v in box)
    return NetworkError(
        f"the study area {a} lies outside the OSM data ({what} {b}); boxes are "
        "(west, south, east, north) in degrees",
        path=p,
        fix="use an extract that covers the study area (e.g. Geofabrik zhejiang-latest.osm.pbf) "
        "or check the area's CRS/datum",
    )


def _separate_sidewalks(tags: dict[str, np.ndarray]) -> np.ndarray:
    """Vectorised :func:`has_separate_sidewalks` over per-key object arrays of way tags."""
    hw = tags["highway"]
    road = pd.Series(hw, dtype=object).isin(ROAD_CLASSES).to_numpy(bool)
    both = (tags["sidewalk"] == "separate") | (tags["sidewalk:both"] == "separate")
    sides = (tags["sidewalk:left"] == "separate") & (tags["sidewalk:right"] == "separate")
    return road & (both | sides)


def _build_tables(
    p: Path,
    ways: _osm_reader.RawWays,
    tagged: _osm_reader.RawNodes,
    poly: BaseGeometry | None,
    box: tuple[float, float, float, float] | None,
    full_read: Callable[[], _osm_reader.RawWays] | None = None,
    beside_roads: bool = False,
    trunk: Literal["keep", "sidewalk"] = "keep",
) -> tuple[gpd.GeoDataFrame, ...]:
    n_ways = len(ways.ids)
    counts = np.diff(ways.offsets)
    way_of_ref = np.repeat(np.arange(n_ways, dtype=np.int64), counts)
    valid = ~np.isnan(ways.lon)
    n_missing = int((~valid).sum())

    # -- study area: keep ways with at least one (present) node inside the buffered area
    if poly is not None:
        inside = np.zeros(len(ways.refs), dtype=bool)
        w, s, e, n = poly.bounds
        cand = valid & (ways.lon >= w) & (ways.lon <= e) & (ways.lat >= s) & (ways.lat <= n)
        if cand.any():
            shapely.prepare(poly)
            inside[cand] = shapely.contains_xy(poly, ways.lon[cand], ways.lat[cand])
        way_in = np.bincount(way_of_ref[inside], minlength=n_ways) > 0
        if not way_in.any():
            # error path: the extent of all walkable ways in the file (the read above skipped far ones)
            every = full_read() if full_read is not None else ways
            if len(every.ids) == 0:
                raise NetworkError(
                    "no walkable ways in the file",
                    path=p,
                    fix="check that the extract covers a built-up area and contains highway=* ways",
                )
            if not np.isnan(every.lon).all():
                ext = (
                    float(np.nanmin(every.lon)),
                    float(np.nanmin(every.lat)),
                    float(np.nanmax(every.lon)),
                    float(np.nanmax(every.lat)),
                )
                if not poly.intersects(shapely.box(*ext)):
                    raise _outside(p, poly, ext, "extent of its walkable ways")
            raise NetworkError(
                f"no walkable ways within the study area {tuple(round(v, 5) for v in poly.bounds)}",
                path=p,
                fix="check the study area (CRS, datum) or use a larger buffer_m",
            )
    else:
        way_in = np.ones(n_ways, dtype=bool)

    ref_keep = way_in[way_of_ref] & valid
    if not ref_keep.any():
        raise NetworkError(
            "no walkable way has node coordinates in the file",
            path=p,
            fix="the extract lacks the ways' nodes; re-export it with complete ways",
        )
    # pieces: maximal runs of present nodes inside one way
    pos = np.arange(len(ways.refs), dtype=np.int64) - np.repeat(ways.offsets[:-1], counts)
    prev_missing = np.zeros(len(ways.refs), dtype=bool)
    prev_missing[1:] = ~valid[:-1]
    piece_start = (pos == 0) | prev_missing
    piece_id_all = np.cumsum(piece_start) - 1
    refs = ways.refs[ref_keep]
    lon = ways.lon[ref_keep]
    lat = ways.lat[ref_keep]
    way_idx = way_of_ref[ref_keep]
    piece = piece_id_all[ref_keep]
    if n_missing:
        warnings.warn(
            f"{p}: {n_missing} way-node references have no node in the file (clipped extract); the "
            "ways were cut at those nodes",
            ChildspaceWarning,
            stacklevel=3,
        )

    tags_df = {k: np.asarray(v, dtype=object) for k, v in ways.tags.items()}  # object arrays per key
    closed = _closed_roads(tags_df, trunk)
    if not way_in[~closed].any():
        raise NetworkError(
            "no walkable ways within the study area (only roads closed to pedestrians)",
            path=p,
            fix="check the study area (CRS, datum) or use a larger buffer_m",
        )
    separate = _separate_sidewalks(tags_df) & ~closed
    drop_way = np.zeros(n_ways, dtype=bool)
    if (separate & way_in).any():
        drop_way = _roads_beside_sidewalks(
            separate & way_in, tags_df, ways.offsets, ways.lon, ways.lat, valid
        )
    dropped_kind = np.full(n_ways, None, dtype=object)
    dropped_kind[drop_way] = "separate"
    dropped_kind[closed] = "closed"
    drop_way |= closed

    # -- graph nodes (counted over all walkable ways in the area, including dropped sidewalk=separate roads)
    inv = pd.factorize(refs)[0]
    is_graph = np.bincount(inv)[inv] >= 2
    piece_end = np.ones(len(refs), dtype=bool)
    piece_end[:-1] = piece[1:] != piece[:-1]
    piece_first = np.ones(len(refs), dtype=bool)
    piece_first[1:] = piece[1:] != piece[:-1]
    is_graph |= piece_end | piece_first
    tag_graph = _tagged_graph_nodes(tagged)
    if tag_graph.size:
        is_graph |= pd.Series(refs).isin(tag_graph).to_numpy(bool)

    roads = (
        _dropped_roads(drop_way, refs, lon, lat, way_idx, piece, ways, tags_df, dropped_kind)
        if beside_roads
        else None
    )
    # drop the refs of dropped roads now (their nodes already counted)
    keep_ref = ~drop_way[way_idx]
    refs, lon, lat, way_idx, piece, is_graph = (
        a[keep_ref] for a in (refs, lon, lat, way_idx, piece, is_graph)
    )
    if len(refs) == 0:
        raise NetworkError(
            "no walkable ways left in the study area", path=p, fix="check the study area and the file"
        )
    # pieces may now start/end at a non-graph ref only if pieces were cut; recompute piece boundaries
    first = np.ones(len(refs), dtype=bool)
    first[1:] = piece[1:] != piece[:-1]
    last = np.ones(len(refs), dtype=bool)
    last[:-1] = piece[1:] != piece[:-1]
    is_graph |= first | last

    # -- split pieces at graph nodes into edges
    g = np.flatnonzero(is_graph)
    same = piece[g[:-1]] == piece[g[1:]]
    start = g[:-1][same]
    end = g[1:][same]
    n_vert = end - start + 1
    vert = _osm_reader._ranges(start, n_vert)
    edge_of_vert = np.repeat(np.arange(len(start), dtype=np.int64), n_vert)
    geoms = shapely.linestrings(lon[vert], lat[vert], indices=edge_of_vert)
    # geodesic segment lengths summed per edge
    seg_a = vert[:-1]
    seg_same = edge_of_vert[:-1] == edge_of_vert[1:]
    _, _, d = _GEOD.inv(
        lon[seg_a[seg_same]], lat[seg_a[seg_same]], lon[vert[1:][seg_same]], lat[vert[1:][seg_same]]
    )
    length = np.bincount(edge_of_vert[:-1][seg_same], weights=d, minlength=len(start))

    u = refs[start]
    v = refs[end]
    eway = way_idx[start]
    ok = ~((u == v) & (length <= 0.0))
    u, v, eway, length, geoms, start, end = u[ok], v[ok], eway[ok], length[ok], geoms[ok], start[ok], end[ok]

    cols: dict[str, Any] = {"u": u, "v": v, "key": np.zeros(len(u), dtype=np.int64), "osmid": ways.ids[eway]}
    for col, key in {**EDGE_TAGS, **EDGE_EXTRA_TAGS}.items():
        cols[col] = _string_take(tags_df[key], eway)
    cols["length"] = length
    edges = gpd.GeoDataFrame(cols, geometry=geoms, crs=WGS84)
    lo = np.minimum(u, v)
    hi = np.maximum(u, v)
    edges["key"] = (
        pd.DataFrame({"a": lo, "b": hi}).groupby(["a", "b"], sort=False).cumcount().to_numpy(np.int64)
    )

    # -- nodes table: graph nodes that are edge ends
    # coordinates: any occurrence of each end node (a node has one location)
    code, first = pd.factorize(np.concatenate([u, v]))
    at = np.empty(len(first), dtype=np.int64)
    at[code] = np.concatenate([start, end])
    order = np.argsort(first)
    ends, idx = first[order], at[order]
    nx_ = lon[idx]
    ny_ = lat[idx]
    ncols: dict[str, Any] = {"x": nx_, "y": ny_}
    tag_idx = _lookup(tagged.ids, ends)
    for col, key in NODE_TAGS.items():
        if tag_idx is None:
            ncols[col] = np.full(len(ends), None, dtype=object)
        else:
            ncols[col] = _string_take(np.asarray(tagged.tags[key], dtype=object), tag_idx)
    nodes = gpd.GeoDataFrame(
        ncols,
        geometry=shapely.points(nx_, ny_),
        crs=WGS84,
        index=pd.Index(ends, name="osmid", dtype=np.int64),
    )
    return (nodes, edges, roads) if beside_roads else (nodes, edges)


def _string_take(values: np.ndarray, idx: np.ndarray) -> Any:
    """``values[idx]`` (None where ``idx`` is -1) as the column pandas infers from such an object array of
    strings and None: its string dtype when a value is present, else an object column of None. Inferring once
    on ``values`` (one per way) and taking is cheaper than inferring on the longer result (one per edge).

    When pandas infers Arrow-backed strings (pandas 3), the values (str or None: decoded OPL tags) go to Arrow
    in one ``pyarrow.array`` call instead of pandas' inference and its per-value ``ensure_string_array`` pass
    (the county's 30 tag columns: 0.58 -> 0.30 CPU s); anything pyarrow will not take as text falls back."""
    str_dtype = _inferred_str_dtype()
    if str_dtype is not None:
        import pyarrow as pa

        try:
            pa_arr = pa.array(values, type=pa.large_string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pa_arr = None
        if pa_arr is not None:
            if pa_arr.null_count < len(pa_arr):
                typed = str_dtype.construct_array_type()._from_sequence(pa_arr, dtype=str_dtype)
                sub = typed.take(idx, allow_fill=True)
                if not sub.isna().all():
                    return sub
            return np.full(len(idx), None, dtype=object)
    arr = pd.Series(values, dtype=None, copy=False).array
    if arr.dtype != object:
        sub = arr.take(idx, allow_fill=True)
        if not sub.isna().all():
            return sub
    out = np.full(len(idx), None, dtype=object)
    hit = idx >= 0
    if arr.dtype == object:
        out[hit] = values[idx[hit]]
    return out


_STR_DTYPE: list[Any] = []


def _inferred_str_dtype() -> Any:
    """The dtype pandas infers for an object array of strings when it is Arrow-backed text, else None."""
    if not _STR_DTYPE:
        dt = pd.Series(np.array(["a", None], dtype=object)).dtype
        arrow = isinstance(dt, pd.StringDtype) and dt.storage in ("pyarrow", "pyarrow_numpy")
        _STR_DTYPE.append(dt if arrow else None)
    return _STR_DTYPE[0]


def _closed_roads(tags_df: dict[str, np.ndarray], trunk: Literal["keep", "sidewalk"] = "keep") -> np.ndarray:
    """Per way: read only for crossing checks (:func:`is_closed_road`), evaluated on the few candidates."""
    hw = tags_df["highway"]
    n = len(hw)
    cand = pd.Series(hw, dtype=object).isin(CLOSED_CANDIDATES).to_numpy(bool)
    if not cand.any():
        return np.zeros(n, dtype=bool)
    maybe = cand & (
        np.isin(tags_df["foot"], ["no", "use_sidepath"])
        | (tags_df["motorroad"] == "yes")
        | np.isin(hw, ["motorway", "motorway_link"])
        | np.isin(hw, list(TRUNKS))
    )
    out = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(maybe):
        tags = {k: tags_df[k][i] for k in RULE_KEYS if tags_df[k][i] is not None}
        out[i] = is_closed_road(tags, trunk)
    return out


def _dropped_roads(
    drop_way: np.ndarray,
    refs: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    way_idx: np.ndarray,
    piece: np.ndarray,
    ways: Any,
    tags_df: dict[str, np.ndarray],
    kind: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """The roads not walked as lines with their tags (one per way piece); ``dropped`` says why: ``separate``
    (sidewalks mapped as separate ways) or ``closed`` (closed to pedestrians)."""
    sel = np.flatnonzero(drop_way[way_idx])
    pid = piece[sel]
    same = pid[1:] == pid[:-1]
    keep = np.zeros(sel.size, dtype=bool)  # refs of pieces with at least two refs
    keep[:-1] |= same
    keep[1:] |= same
    sel, pid = sel[keep], pid[keep]
    _, grp = np.unique(pid, return_inverse=True)
    first = np.flatnonzero(np.r_[True, grp[1:] != grp[:-1]]) if sel.size else np.zeros(0, dtype=np.int64)
    geoms = shapely.linestrings(lon[sel], lat[sel], indices=grp) if sel.size else np.zeros(0, dtype=object)
    wi = way_idx[sel[first]]
    cols: dict[str, Any] = {"osmid": ways.ids[wi]}
    for col, key in {**EDGE_TAGS, **EDGE_EXTRA_TAGS}.items():
        cols[col] = tags_df[key][wi]
    cols["dropped"] = kind[wi] if kind is not None else np.full(len(wi), "separate", dtype=object)
    return gpd.GeoDataFrame(cols, geometry=geoms, crs=WGS84)


def _lookup(ids: np.ndarray, query: np.ndarray) -> np.ndarray | None:
    """Position of each ``query`` id in ``ids`` (-1 when absent); None when ``ids`` is empty."""
    if len(ids) == 0:
        return None
    order = np.argsort(ids, kind="stable")
    sids = ids[order]
    k = np.minimum(np.searchsorted(sids, query), len(sids) - 1)
    hit = sids[k] == query
    return np.where(hit, order[k], -1)


def _tagged_graph_nodes(tagged: _osm_reader.RawNodes) -> np.ndarray:
    if len(tagged.ids) == 0:
        return np.zeros(0, dtype=np.int64)
    hw = np.asarray(tagged.tags["highway"], dtype=object)
    cr = np.asarray(tagged.tags["crossing"], dtype=object)
    m = (hw == "crossing") | (hw == "traffic_signals") | np.not_equal(cr, None)  # type: ignore[call-overload]
    return tagged.ids[m]


def _roads_beside_sidewalks(
    cand: np.ndarray,
    tags_df: dict[str, np.ndarray],
    offsets: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    valid: np.ndarray,
) -> np.ndarray:
    """Which candidate roads (``sidewalk=separate``) have separate sidewalks alongside on both sides.

    Vectorised: one-sided 25 m buffers of the road centrelines (left and right) against the
    ``footway=sidewalk`` lines through an STRtree; intersection lengths summed per road with ``np.bincount``.
    """
    n_ways = len(cand)
    fw = tags_df["footway"]
    hw = tags_df["highway"]
    sidewalk_way = (fw == "sidewalk") & np.isin(hw, ["footway", "path", "cycleway", "pedestrian"])
    drop = np.zeros(n_ways, dtype=bool)
    if not sidewalk_way.any():
        return drop
    lines = _way_lines(offsets, lon, lat, valid)
    sel_r = np.flatnonzero(cand & ~shapely.is_missing(lines))
    sel_s = np.flatnonzero(sidewalk_way & ~shapely.is_missing(lines))
    if len(sel_r) == 0 or len(sel_s) == 0:
        return drop
    xy = shapely.get_coordinates(lines[sel_r])
    crs = CRS.from_user_input(local_crs(float(xy[:, 0].mean()), float(xy[:, 1].mean())))
    roads = gpd.GeoSeries(lines[sel_r], crs=WGS84).to_crs(crs).to_numpy()
    walks = gpd.GeoSeries(lines[sel_s], crs=WGS84).to_crs(crs).to_numpy()
    road_len = shapely.length(roads)
    tree = shapely.STRtree(walks)
    covered = []
    for side in (1.0, -1.0):
        band = shapely.buffer(roads, side * SIDEWALK_SEARCH_M, single_sided=True)
        ri, wi = tree.query(band, predicate="intersects")
        inter = shapely.length(shapely.intersection(band[ri], walks[wi]))
        covered.append(np.bincount(ri, weights=inter, minlength=len(roads)))
    ok = (
        (road_len > 0)
        & (covered[0] >= SIDEWALK_COVER_SHARE * road_len)
        & (covered[1] >= SIDEWALK_COVER_SHARE * road_len)
    )
    drop[sel_r[ok]] = True
    return drop


def _way_lines(offsets: np.ndarray, lon: np.ndarray, lat: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """One LineString per way from its present nodes (None for ways with fewer than 2)."""
    n = len(offsets) - 1
    counts = np.diff(offsets)
    way_of = np.repeat(np.arange(n), counts)
    vcount = np.bincount(way_of[valid], minlength=n)
    ok_way = vcount >= 2
    m = valid & ok_way[way_of]
    out = np.full(n, None, dtype=object)
    if m.any():
        uniq, dense = np.unique(way_of[m], return_inverse=True)
        out[uniq] = shapely.linestrings(lon[m], lat[m], indices=dense)
    return out


# ----------------------------------------------------------------------------------------------------
# osmnx graphs, and Overpass (online, opt-in)
# ----------------------------------------------------------------------------------------------------
def _first(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return v[0] if len(v) else None
    return v


def _as_tag(v: Any) -> Any:
    """A raw OSM tag string from an osmnx attribute (lists from merged ways are joined with ';')."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, (list, tuple)):
        vals = list(dict.fromkeys(str(x) for x in v))
        return vals[0] if len(vals) == 1 else ";".join(vals)
    return str(v)


def tables_from_osmnx(
    G: Any, trunk: Literal["keep", "sidewalk"] = "keep"
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Convert an osmnx graph into the walk-network tables of :func:`read_osm`.

    The walkability rules of :func:`is_walkable` are applied to the edges (the tags osmnx kept: add the keys of
    :data:`EDGE_TAGS`, :data:`EDGE_EXTRA_TAGS` to ``ox.settings.useful_tags_way``; the ``sidewalk=separate``
    rule of :func:`read_osm` needs the raw ways and is not applied). Reciprocal directed edges become one undirected row;
    lengths are recomputed geodesically (metres) from the geometry.

    Parameters
    ----------
    G : networkx.MultiDiGraph
        An osmnx graph in EPSG:4326 (unprojected), e.g. from ``ox.graph_from_xml`` or
        ``ox.graph_from_polygon``.
    trunk : {"keep", "sidewalk"}
        See :func:`is_walkable`.

    Returns
    -------
    (nodes, edges)
        Same schema as :func:`read_osm`.
    """
    import osmnx as ox

    if len(G.edges) == 0:
        raise NetworkError("the osmnx graph has no edges", fix="download a larger area or check the filter")
    crs = G.graph.get("crs", WGS84)
    if not CRS.from_user_input(crs).equals(CRS.from_epsg(4326)):
        raise NetworkError(
            f"the osmnx graph is projected ({crs})",
            fix="pass the unprojected graph (before ox.project_graph)",
        )
    gn, ge = ox.convert.graph_to_gdfs(G, nodes=True, edges=True, fill_edge_geometry=True)
    ge = ge.reset_index()
    # undirected: keep one of each reciprocal pair (same way, same vertices reversed)
    lo = np.minimum(ge["u"].to_numpy(), ge["v"].to_numpy())
    hi = np.maximum(ge["u"].to_numpy(), ge["v"].to_numpy())
    osmid = np.array([_first(x) for x in ge["osmid"]], dtype=np.int64)
    flip = ge["u"].to_numpy() > ge["v"].to_numpy()
    geoms = ge.geometry.values
    geoms = np.where(flip, shapely.reverse(geoms), geoms) if len(geoms) else geoms
    wkb = shapely.to_wkb(shapely.set_precision(np.asarray(geoms), 1e-7))
    dup = pd.DataFrame({"a": lo, "b": hi, "o": osmid, "w": wkb}).duplicated()
    ge = ge.loc[~dup.to_numpy()].reset_index(drop=True)
    osmid = osmid[~dup.to_numpy()]

    all_keys = set(EDGE_TAGS.values()) | set(EDGE_EXTRA_TAGS.values()) | set(RULE_KEYS)

    def col(key: str) -> np.ndarray:
        if key in ge.columns:
            return np.array([_as_tag(x) for x in ge[key]], dtype=object)
        return np.full(len(ge), None, dtype=object)

    tagcols = {k: col(k) for k in all_keys}
    walk = np.fromiter(
        (
            is_walkable({k: tagcols[k][i] for k in RULE_KEYS if tagcols[k][i] is not None}, trunk)
            for i in range(len(ge))
        ),
        dtype=bool,
        count=len(ge),
    )
    u = ge["u"].to_numpy(np.int64)[walk]
    v = ge["v"].to_numpy(np.int64)[walk]
    geom = ge.geometry.values[walk]
    cols: dict[str, Any] = {"u": u, "v": v, "key": np.zeros(len(u), dtype=np.int64), "osmid": osmid[walk]}
    for c, key in {**EDGE_TAGS, **EDGE_EXTRA_TAGS}.items():
        cols[c] = tagcols[key][walk]
    cols["length"] = geodesic_lengths(geom)
    edges = gpd.GeoDataFrame(cols, geometry=np.asarray(geom), crs=WGS84)
    edges = edges[~((edges["u"] == edges["v"]) & (edges["length"] <= 0))].reset_index(drop=True)
    a = np.minimum(edges["u"].to_numpy(), edges["v"].to_numpy())
    b = np.maximum(edges["u"].to_numpy(), edges["v"].to_numpy())
    edges["key"] = (
        pd.DataFrame({"a": a, "b": b}).groupby(["a", "b"], sort=False).cumcount().to_numpy(np.int64)
    )
    if len(edges) == 0:
        raise NetworkError("no walkable edges in the osmnx graph", fix="check the download filter and area")

    ends = np.unique(np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()]))
    gn = gn.loc[ends]
    ncols: dict[str, Any] = {"x": gn["x"].to_numpy(float), "y": gn["y"].to_numpy(float)}
    for c, key in NODE_TAGS.items():
        ncols[c] = (
            np.array([_as_tag(x) for x in gn[key]], dtype=object)
            if key in gn.columns
            else np.full(len(gn), None, dtype=object)
        )
    nodes = gpd.GeoDataFrame(
        ncols,
        geometry=shapely.points(ncols["x"], ncols["y"]),
        crs=WGS84,
        index=pd.Index(ends, name="osmid", dtype=np.int64),
    )
    return nodes, edges


def geodesic_lengths(lines: Iterable[BaseGeometry] | np.ndarray) -> np.ndarray:
    """Geodesic lengths (metres, WGS84 ellipsoid) of LineStrings in EPSG:4326, vectorised over vertices."""
    arr = np.asarray(lines, dtype=object)
    if len(arr) == 0:
        return np.zeros(0)
    xy, idx = shapely.get_coordinates(arr, return_index=True)
    same = idx[:-1] == idx[1:]
    _, _, d = _GEOD.inv(xy[:-1, 0][same], xy[:-1, 1][same], xy[1:, 0][same], xy[1:, 1][same])
    return np.bincount(idx[:-1][same], weights=d, minlength=len(arr))


def graph_from_overpass(
    area: AreaLike,
    buffer_m: float = 500.0,
    cache_folder: str | Path | None = None,
    trunk: Literal["keep", "sidewalk"] = "keep",
    beside_roads: bool = False,
    url: str | None = None,
) -> tuple[gpd.GeoDataFrame, ...]:
    """Download the walk network of an area from Overpass (online) and return :func:`read_osm`'s tables.

    The area's ways are downloaded as OSM XML (:func:`childspace.osm.overpass.download`, cached on disk: a second
    call for the same area works offline) and read with :func:`read_osm`, so the result follows exactly the
    rules of a local extract. Offline users read an extract with :func:`read_osm`.

    Parameters
    ----------
    area : shapely geometry (EPSG:4326), GeoDataFrame/GeoSeries or bbox tuple
        Study area, buffered by ``buffer_m`` metres (local metric CRS).
    buffer_m : float
        Buffer in metres.
    cache_folder : str or Path, optional
        Where Overpass responses are kept (default ``~/.cache/childspace/overpass``).
    trunk, beside_roads
        See :func:`read_osm`.
    url : str, optional
        Overpass API endpoint (default :data:`childspace.osm.overpass.OVERPASS_URL`).

    Returns
    -------
    (nodes, edges) or (nodes, edges, roads)
        As :func:`read_osm`.

    Raises
    ------
    NetworkError
        The download failed (no connection, server error).
    """
    from childspace.osm import overpass

    path = overpass.download(
        area, buffer_m, "walk", cache_folder=cache_folder, url=url or overpass.OVERPASS_URL
    )
    return read_osm(path, area=area, buffer_m=buffer_m, trunk=trunk, beside_roads=beside_roads)
