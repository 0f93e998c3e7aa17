"""Low-level OSM file reading with pyosmium into flat numpy arrays (internal).

The public entry points are :func:`childspace.osm.read_osm` and
:func:`childspace.features.facilities_from_osm`. This module only turns a file into arrays: way ids, per-way
tag values, a flat array of node references with their coordinates (NaN where a node is absent from the file),
and tagged nodes. No OSM node becomes a Python object unless it carries one of the requested tags or a second
pass is needed for it.

Reading strategy ---------------- Pass 1 reads nodes and ways together with pyosmium's C++ node-location
cache, so the coordinates of way nodes are attached to the ways when nodes precede ways (always true for .pbf
extracts and for API/JOSM XML). Only ways with a ``highway`` tag and nodes with one of the requested keys
reach Python (tag filters run in C++). A way's coordinates are taken in one call as WKB and decoded in bulk by
shapely. Pass 2 is run only for references whose node came after the way in the file (Overpass ``out; >; out
skel;`` output) and reads just those node ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import osmium
import osmium.filter
import shapely

from childspace._errors import DataError

#: File name endings pyosmium reads (format detected from the suffix).
OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf", ".osc", ".osm.xml", ".xml")


@dataclass
class RawWays:
    """Ways read from a file, as flat arrays.

    ``refs[offsets[i]:offsets[i + 1]]`` are the node ids of way ``i``; ``lon``/``lat`` the node coordinates in
    degrees (EPSG:4326), NaN where the node is not in the file.
    """

    ids: np.ndarray
    tags: dict[str, list]
    offsets: np.ndarray
    refs: np.ndarray
    lon: np.ndarray
    lat: np.ndarray


@dataclass
class RawNodes:
    """Tagged nodes read from a file (only those carrying one of the requested keys)."""

    ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    tags: dict[str, list] = field(default_factory=dict)


def check_osm_path(path: str | Path) -> Path:
    """Check that ``path`` exists and has an OSM file suffix; return it as a Path.

    Raises
    ------
    DataError
        When the file does not exist or its name does not end like an OSM file.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(
            "OSM file not found",
            path=p,
            fix="check the path; download an extract (e.g. Geofabrik zhejiang-latest.osm.pbf) "
            "or export .osm from JOSM/Overpass",
        )
    if p.is_dir():
        raise DataError("is a folder, not an OSM file", path=p, fix="give the path of the .osm/.osm.pbf file")
    name = p.name.lower()
    if not any(name.endswith(s) for s in OSM_SUFFIXES):
        raise DataError(
            f"not an OSM file (suffix '{''.join(p.suffixes) or p.suffix}')",
            path=p,
            fix="give an OpenStreetMap file: .osm, .osm.bz2, .osm.gz or .osm.pbf "
            "(GeoJSON/Shapefile road layers are not OSM data)",
        )
    return p


def _not_osm(p: Path, err: Exception) -> DataError:
    return DataError(
        f"is not a readable OSM file ({err})",
        path=p,
        fix="give an OpenStreetMap file (.osm XML, .osm.bz2, .osm.gz or .osm.pbf); a CSV, GeoJSON or "
        "other file renamed to .osm cannot be read; re-export the data from OSM",
    )


def header_box(path: str | Path) -> tuple[float, float, float, float] | None:
    """The bounding box in the file header as (west, south, east, north) degrees, or None when absent."""
    p = Path(path)
    try:
        box = osmium.io.Reader(str(p), osmium.osm.NOTHING).header().box()
    except RuntimeError as err:
        raise _not_osm(p, err) from err
    if not box.valid():
        return None
    return (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)


def _tag_columns(keys: Sequence[str]) -> dict[str, list]:
    return {k: [] for k in keys}


def read_ways_and_nodes(
    path: str | Path,
    way_keep: Callable[[dict[str, str]], bool],
    way_keys: Sequence[str],
    node_keys: Sequence[str],
    way_key_filter: Sequence[str] = ("highway",),
) -> tuple[RawWays, RawNodes]:
    """Read ways (passing ``way_keep``) and tagged nodes from an OSM file.

    Parameters
    ----------
    path : str or Path
        .osm, .osm.bz2, .osm.gz or .osm.pbf file.
    way_keep : callable
        Called with a dict of the way's tags restricted to ``way_keys`` (absent keys left out); the way is kept
        when it returns True.
    way_keys : sequence of str
        Tag keys stored per kept way (None when absent).
    node_keys : sequence of str
        Nodes having any of these keys are returned in :class:`RawNodes` with these tag values.
    way_key_filter : sequence of str
        Only ways with at least one of these keys are considered (filtered in C++).

    Returns
    -------
    (RawWays, RawNodes)
        Coordinates in degrees (EPSG:4326); NaN for node references missing from the file.
    """
    p = Path(path)
    way_ids: list[int] = []
    refs_per_way: list[list[int]] = []
    wkbs: list[str | None] = []
    fallback: dict[int, tuple[list[float], list[float]]] = {}
    node_ids: list[int] = []
    node_x: list[float] = []
    node_y: list[float] = []
    node_tags = _tag_columns(node_keys)
    factory = osmium.geom.WKBFactory()
    use_all = osmium.geom.ALL
    invalid_loc = osmium.InvalidLocationError
    way_vals: list[list[str | None]] = []
    seen_way = False
    node_before_way = False
    node_after_way = False

    try:
        fp = osmium.FileProcessor(str(p), osmium.osm.NODE | osmium.osm.WAY).with_locations("flex_mem")
        fp.with_filter(osmium.filter.KeyFilter(*way_key_filter).enable_for(osmium.osm.WAY))
        fp.with_filter(osmium.filter.KeyFilter(*node_keys).enable_for(osmium.osm.NODE))
        for obj in fp:
            if obj.is_way():
                seen_way = True
                # one C++ lookup per key is several times faster than iterating the tag list in Python
                raw = getattr(obj, "_pyosmium_data", None)
                get = raw.tags_get_value_by_key if raw is not None else obj.tags.get
                vals = [get(k, None) for k in way_keys]
                if not way_keep({k: v for k, v in zip(way_keys, vals) if v is not None}):
                    continue
                nodes = obj.nodes
                i = len(way_ids)
                way_ids.append(obj.id)
                way_vals.append(vals)
                refs_per_way.append([r.ref for r in nodes])
                try:
                    wkbs.append(factory.create_linestring(nodes, use_all))
                except (invalid_loc, RuntimeError):
                    wkbs.append(None)
                    xs, ys = [], []
                    for r in nodes:
                        loc = r.location
                        if loc.valid():
                            xs.append(loc.lon)
                            ys.append(loc.lat)
                        else:
                            xs.append(np.nan)
                            ys.append(np.nan)
                    fallback[i] = (xs, ys)
            elif obj.is_node():
                if seen_way:
                    node_after_way = True
                else:
                    node_before_way = True
                loc = obj.location
                node_ids.append(obj.id)
                node_x.append(loc.lon if loc.valid() else np.nan)
                node_y.append(loc.lat if loc.valid() else np.nan)
                tg = obj.tags
                for k in node_keys:
                    node_tags[k].append(tg.get(k))
    except RuntimeError as err:
        raise _not_osm(p, err) from err

    columns = list(zip(*way_vals)) if way_vals else [() for _ in way_keys]
    tags_out = {k: list(col) for k, col in zip(way_keys, columns)}
    del way_vals, columns
    counts = np.fromiter((len(r) for r in refs_per_way), dtype=np.int64, count=len(refs_per_way))
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    refs_arr = np.fromiter((r for refs in refs_per_way for r in refs), dtype=np.int64, count=total)
    del refs_per_way
    lon = np.full(total, np.nan)
    lat = np.full(total, np.nan)
    has_wkb = np.fromiter((w is not None for w in wkbs), dtype=bool, count=len(wkbs))
    if has_wkb.any():
        geoms = shapely.from_wkb(np.array([w for w in wkbs if w is not None], dtype=object))
        xy = shapely.get_coordinates(geoms)
        pos = _ranges(offsets[:-1][has_wkb], counts[has_wkb])
        if len(pos) == len(xy):
            lon[pos] = xy[:, 0]
            lat[pos] = xy[:, 1]
        else:  # pragma: no cover - defensive: a factory that dropped vertices; fall back to pass 2
            pass
    for i, (xs, ys) in fallback.items():
        lon[offsets[i] : offsets[i + 1]] = xs
        lat[offsets[i] : offsets[i + 1]] = ys
    del wkbs, fallback

    ways = RawWays(
        ids=np.asarray(way_ids, dtype=np.int64),
        tags=tags_out,
        offsets=offsets,
        refs=refs_arr,
        lon=lon,
        lat=lat,
    )
    nodes = RawNodes(
        ids=np.asarray(node_ids, dtype=np.int64),
        lon=np.asarray(node_x, dtype=float),
        lat=np.asarray(node_y, dtype=float),
        tags=node_tags,
    )
    missing = np.isnan(lon)
    # A second pass can only find nodes that come after the ways in the file. When tagged nodes were seen and
    # all of them came before the first way, the file is sorted (nodes first, as .pbf extracts are) and the
    # missing nodes are simply not in the file (clipped extract).
    sorted_file = node_before_way and not node_after_way
    if missing.any() and not sorted_file:
        _fill_locations(p, ways, missing)
    return ways, nodes


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + c)`` for each start/count pair (vectorised)."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    first = np.repeat(np.asarray(starts, dtype=np.int64) - (ends - counts), counts)
    return first + np.arange(total, dtype=np.int64)


def _fill_locations(p: Path, ways: RawWays, missing: np.ndarray) -> None:
    """Second pass: read the locations of nodes that came after their ways in the file."""
    need = np.unique(ways.refs[missing])
    ids: list[int] = []
    xs: list[float] = []
    ys: list[float] = []
    try:
        fp = osmium.FileProcessor(str(p), osmium.osm.NODE)
        # libosmium's id set allocates 512 KB per 2**22-id window that holds an id: use it only when the
        # needed ids fall into few windows, else let every node through (such files are small XML exports)
        if need.size and need.min() > 0 and np.unique(need >> 22).size <= 64:
            fp.with_filter(osmium.filter.IdFilter(need.tolist()))
        for n in fp:
            loc = n.location
            if loc.valid():
                ids.append(n.id)
                xs.append(loc.lon)
                ys.append(loc.lat)
    except RuntimeError as err:
        raise _not_osm(p, err) from err
    if not ids:
        return
    ids_arr = np.asarray(ids, dtype=np.int64)
    order = np.argsort(ids_arr, kind="stable")
    ids_arr = ids_arr[order]
    x_arr = np.asarray(xs)[order]
    y_arr = np.asarray(ys)[order]
    where = np.flatnonzero(missing)
    k = np.searchsorted(ids_arr, ways.refs[where])
    k_clip = np.minimum(k, len(ids_arr) - 1)
    found = ids_arr[k_clip] == ways.refs[where]
    ways.lon[where[found]] = x_arr[k_clip[found]]
    ways.lat[where[found]] = y_arr[k_clip[found]]


@dataclass
class RawFeatures:
    """Point and area features read for facility extraction (degrees, EPSG:4326)."""

    kinds: list[str]  # "node", "way" or "relation"
    ids: list[int]
    tags: list[dict[str, str]]
    geoms: list[str | None]  # WKB (hex) of point or (multi)polygon, None when it could not be built
    entrance_ids: np.ndarray
    entrance_lon: np.ndarray
    entrance_lat: np.ndarray
    entrance_tags: list[dict[str, str]]
    way_entrance_refs: dict[int, list[int]]


def read_features(
    path: str | Path, keep: Callable[[dict[str, str]], bool], keys: Iterable[str]
) -> RawFeatures:
    """Read nodes and areas (closed ways, multipolygon relations) whose tags pass ``keep``.

    Parameters
    ----------
    path : str or Path
        OSM file.
    keep : callable
        Called with the dict of an object's tags; True keeps the object.
    keys : iterable of str
        Objects without any of these keys are filtered out in C++ before ``keep`` is called.

    Returns
    -------
    RawFeatures
        Geometries as hex WKB in degrees (EPSG:4326); nodes tagged ``entrance=*`` and, for kept closed ways,
        the node ids on their outline (to attach entrances).
    """
    p = Path(path)
    keys = list(keys)
    factory = osmium.geom.WKBFactory()
    out = RawFeatures([], [], [], [], np.zeros(0, np.int64), np.zeros(0), np.zeros(0), [], {})
    ent_ids: list[int] = []
    ent_x: list[float] = []
    ent_y: list[float] = []
    try:
        fp = osmium.FileProcessor(str(p)).with_areas()
        fp.with_filter(osmium.filter.KeyFilter(*keys, "entrance"))
        for obj in fp:
            tags = {t.k: t.v for t in obj.tags}
            if obj.is_node():
                if "entrance" in tags and obj.location.valid():
                    ent_ids.append(obj.id)
                    ent_x.append(obj.location.lon)
                    ent_y.append(obj.location.lat)
                    out.entrance_tags.append(tags)
                if not keep(tags):
                    continue
                out.kinds.append("node")
                out.ids.append(obj.id)
                out.tags.append(tags)
                try:
                    out.geoms.append(factory.create_point(obj))
                except RuntimeError:
                    out.geoms.append(None)
            elif obj.is_way():
                # closed ways arrive again as areas; remember their outline nodes for entrances
                if obj.is_closed() and keep(tags):
                    out.way_entrance_refs[obj.id] = [r.ref for r in obj.nodes]
            elif obj.is_area():
                if not keep(tags):
                    continue
                out.kinds.append("way" if obj.from_way() else "relation")
                out.ids.append(obj.orig_id())
                out.tags.append(tags)
                try:
                    out.geoms.append(factory.create_multipolygon(obj))
                except RuntimeError:
                    out.geoms.append(None)
    except RuntimeError as err:
        raise _not_osm(p, err) from err
    out.entrance_ids = np.asarray(ent_ids, dtype=np.int64)
    out.entrance_lon = np.asarray(ent_x, dtype=float)
    out.entrance_lat = np.asarray(ent_y, dtype=float)
    return out
