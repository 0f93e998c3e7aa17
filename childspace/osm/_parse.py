"""Low-level OSM file reading with pyosmium into flat numpy arrays (internal).

The public entry points are :func:`childspace.osm.reader.read_osm` and
:func:`childspace.osm.features.facilities_from_osm`. This module only turns a file into arrays: way ids, per-way
tag values, a flat array of node references with their coordinates (NaN where a node is absent from the file),
and tagged nodes. No OSM node becomes a Python object unless it carries one of the requested tags or a second
pass is needed for it.

Reading strategy
----------------
Pass 1 runs entirely inside libosmium (``osmium.apply`` with C++ handlers, no Python per object): a
node-location cache attaches coordinates to the ways, key filters keep only ways with a ``highway`` tag and
nodes with one of the requested keys, and a writer puts those into a temporary OPL text file (one object per
line, node coordinates on the way lines). Python then decodes that file in blocks: the node lists of a block
in one ``pandas.read_csv`` call (C parser), tags per way with two ``str.split`` calls, and only for ways that
pass the optional bounding-box test, so a county read from a province file skips most of the decoding. Pass 2
is run only for references whose node came after the way in the file (Overpass ``out; >; out skel;`` output)
and reads just those node ids. The temporary file (roughly 5x the size of the selected part of a .pbf) is
deleted on return.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import osmium
import osmium.filter
import osmium.index
import osmium.io
import pandas as pd

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
    tags: dict[str, np.ndarray]  # tag key -> one value per way (object array, None where absent)
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
    bbox: tuple[float, float, float, float] | None = None,
    keep_outside: Sequence[str] = (),
    chunk_bytes: int = 64 * 2**20,
) -> tuple[RawWays, RawNodes]:
    """Read ways (passing ``way_keep``) and tagged nodes from an OSM file.

    Parameters
    ----------
    path : str or Path
        .osm, .osm.bz2, .osm.gz or .osm.pbf file.
    way_keep : callable
        Called with a dict of the way's tags (raw strings); the way is kept when it returns True.
    way_keys : sequence of str
        Tag keys stored per kept way (None when absent).
    node_keys : sequence of str
        Nodes having any of these keys are returned in :class:`RawNodes` with these tag values.
    way_key_filter : sequence of str
        Only ways with at least one of these keys are considered (filtered in C++).
    bbox : (west, south, east, north) degrees, optional
        Early spatial filter: a way whose nodes all have coordinates and none of which lies in this box is
        skipped before its tags are decoded (unless ``keep_outside`` says otherwise). Ways with a node missing
        from the file are never skipped here. The caller still applies its exact area test.
    keep_outside : sequence of str
        ``"key=value"`` pairs: ways outside ``bbox`` carrying one of them are kept anyway (e.g. sidewalks that
        the caller compares with roads inside the area).
    chunk_bytes : int
        Size of the blocks in which the intermediate file is decoded (bounds the memory of the decoding).

    Returns
    -------
    (RawWays, RawNodes)
        Coordinates in degrees (EPSG:4326); NaN for node references missing from the file.
    """
    p = Path(path)
    way_keys = list(way_keys)
    node_keys = list(node_keys)
    parts_ids: list[np.ndarray] = []
    parts_counts: list[np.ndarray] = []
    parts_refs: list[np.ndarray] = []
    parts_lon: list[np.ndarray] = []
    parts_lat: list[np.ndarray] = []
    way_cols: dict[str, list] = {k: [] for k in way_keys}
    node_ids: list[int] = []
    node_x: list[float] = []
    node_y: list[float] = []
    node_tags = _tag_columns(node_keys)
    seen_way = False
    node_before_way = False
    node_after_way = False
    outside_marks = tuple(_opl_escape(s) for s in keep_outside)

    with tempfile.TemporaryDirectory(prefix="childspace_osm_") as tmp:
        opl = Path(tmp) / "selected.opl"
        _select_to_opl(p, opl, way_key_filter, node_keys)
        with open(opl, encoding="utf-8") as f:
            while True:
                lines = f.readlines(chunk_bytes)
                if not lines:
                    break
                node_lines = [ln for ln in lines if ln[0] == "n"]
                if node_lines:
                    first_way = _first_index(lines, "w")
                    if seen_way or len(lines) - 1 - _first_index(lines[::-1], "n") > first_way:
                        node_after_way = True
                    if not seen_way and _first_index(lines, "n") < first_way:
                        node_before_way = True
                    for ln in node_lines:
                        a, t, x, y = ln.split(" ")
                        node_ids.append(int(a[1:]))
                        node_x.append(float(x[1:]) if len(x) > 1 else np.nan)
                        node_y.append(float(y[1:]) if len(y.strip()) > 1 else np.nan)
                        tags = _opl_tags(t)
                        for k in node_keys:
                            v = tags.get(k)
                            node_tags[k].append(_opl_unescape(v) if v is not None else None)
                way_lines = [ln.split(" ") for ln in lines if ln[0] == "w"]
                del lines, node_lines
                if not way_lines:
                    continue
                seen_way = True
                w_id, w_tags, w_nodes = zip(*way_lines)
                del way_lines
                counts, refs, lon, lat = _opl_node_lists(w_nodes)
                del w_nodes
                starts = np.zeros(len(counts), dtype=np.int64)
                np.cumsum(counts[:-1], out=starts[1:])
                cand = np.ones(len(counts), dtype=bool)
                if bbox is not None and len(refs):
                    w, s, e, n = bbox
                    has_nan = np.isnan(lon)
                    in_box = (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)
                    way_of = np.repeat(np.arange(len(counts)), counts)
                    any_in = np.bincount(way_of[in_box], minlength=len(counts)) > 0
                    any_nan = np.bincount(way_of[has_nan], minlength=len(counts)) > 0
                    cand = any_in | any_nan
                    if outside_marks:
                        for i in np.flatnonzero(~cand):
                            t = w_tags[i]
                            if any(m in t for m in outside_marks):
                                cand[i] = True
                cand_idx = np.flatnonzero(cand)
                dicts = [_opl_tags(w_tags[i]) for i in cand_idx]
                ok = np.fromiter(map(way_keep, dicts), dtype=bool, count=len(dicts))
                keep_idx = cand_idx[ok]
                kept = [d for d, o in zip(dicts, ok) if o]
                del dicts
                for k in way_keys:
                    way_cols[k].extend([d.get(k) for d in kept])
                del kept
                ids = np.fromiter((int(w_id[i][1:]) for i in keep_idx), dtype=np.int64, count=len(keep_idx))
                sel = _ranges(starts[keep_idx], counts[keep_idx])
                parts_ids.append(ids)
                parts_counts.append(counts[keep_idx])
                parts_refs.append(refs[sel])
                parts_lon.append(lon[sel])
                parts_lat.append(lat[sel])

    # raw OPL strings -> tag values (unescaped once per distinct value)
    tags_out: dict[str, np.ndarray] = {}
    for k, col in way_cols.items():
        arr = np.empty(len(col), dtype=object)
        arr[:] = col
        tags_out[k] = _unescape_column(arr)
    del way_cols
    counts = np.concatenate(parts_counts) if parts_counts else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    ways = RawWays(
        ids=np.concatenate(parts_ids) if parts_ids else np.zeros(0, dtype=np.int64),
        tags=tags_out,
        offsets=offsets,
        refs=np.concatenate(parts_refs) if parts_refs else np.zeros(0, dtype=np.int64),
        lon=np.concatenate(parts_lon) if parts_lon else np.zeros(0),
        lat=np.concatenate(parts_lat) if parts_lat else np.zeros(0),
    )
    nodes = RawNodes(
        ids=np.asarray(node_ids, dtype=np.int64),
        lon=np.asarray(node_x, dtype=float),
        lat=np.asarray(node_y, dtype=float),
        tags=node_tags,
    )
    missing = np.isnan(ways.lon)
    # A second pass can only find nodes that come after the ways in the file. When tagged nodes were seen and
    # all of them came before the first way, the file is sorted (nodes first, as .pbf extracts are) and the
    # missing nodes are simply not in the file (clipped extract).
    sorted_file = node_before_way and not node_after_way
    if missing.any() and not sorted_file:
        _fill_locations(p, ways, missing)
    return ways, nodes


def _select_to_opl(p: Path, out: Path, way_key_filter: Sequence[str], node_keys: Sequence[str]) -> None:
    """Copy the ways with one of ``way_key_filter`` (node locations attached) and the nodes with one of
    ``node_keys`` from ``p`` to the OPL text file ``out``, entirely inside libosmium (no Python per object).

    OPL ("object per line", https://osmcode.org/opl-file-format/):
    ``w<id> T<k>=<v>,... N n<ref>x<lon>y<lat>,...`` for ways (``x``/``y`` empty when the node location is
    unknown) and ``n<id> T<tags> x<lon> y<lat>`` for nodes; space, comma, equals sign, percent sign and some
    other characters in tags are escaped as ``%<hex>%``.
    """
    index = osmium.index.create_map("flex_mem")
    locations = osmium.NodeLocationsForWays(index)
    locations.ignore_errors()  # unknown locations are written empty and handled afterwards
    # (WriteHandler takes an osmium.io.File too, although its stub names only str)
    opl = osmium.io.File(str(out), "opl,add_metadata=false,locations_on_ways=true")
    writer = osmium.WriteHandler(opl)  # type: ignore[arg-type]
    way_filter = osmium.filter.KeyFilter(*way_key_filter)
    way_filter.enable_for(osmium.osm.WAY)
    node_filter = osmium.filter.KeyFilter(*node_keys)
    node_filter.enable_for(osmium.osm.NODE)
    try:
        osmium.apply(
            str(p),
            locations,
            osmium.filter.EntityFilter(osmium.osm.NODE | osmium.osm.WAY),
            way_filter,
            node_filter,
            writer,
        )
    except RuntimeError as err:
        raise _not_osm(p, err) from err
    finally:
        writer.close()


_OPL_ESCAPE = re.compile(r"%([0-9a-fA-F]+)%")


def _opl_unescape(s: str) -> str:
    return _OPL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), s) if "%" in s else s


def _opl_escape(s: str) -> str:
    """OPL spelling of a plain ``key=value`` pair (escapes the characters OPL escapes in keys and values)."""
    key, _, value = s.partition("=")

    def esc(t: str) -> str:
        return "".join(c if c.isalnum() or c in ":_-.;/" else f"%{ord(c):x}%" for c in t)

    return f"{esc(key)}={esc(value)}"


def _opl_tags(field: str) -> dict[str, str]:
    """Tags of an OPL ``T`` field (``Tk=v,k2=v2``) as a dict; keys and values still OPL-escaped (values that
    contain ``%`` must go through :func:`_opl_unescape`; plain words such as ``residential`` need nothing)."""
    if len(field) <= 1:
        return {}
    return dict(kv.split("=", 1) for kv in field[1:].split(","))


def _unescape_column(arr: np.ndarray) -> np.ndarray:
    """Unescape the OPL-escaped strings of an object array (None kept), once per distinct escaped value."""
    has = np.fromiter((v is not None and "%" in v for v in arr), dtype=bool, count=len(arr))
    if has.any():
        cache: dict[str, str] = {}
        idx = np.flatnonzero(has)
        arr[idx] = [cache[v] if v in cache else cache.setdefault(v, _opl_unescape(v)) for v in arr[idx]]
    return arr


def _first_index(lines: list[str], kind: str) -> int:
    """Index of the first OPL line of an object kind ("n", "w"), len(lines) when there is none."""
    for i, ln in enumerate(lines):
        if ln[0] == kind:
            return i
    return len(lines)


def _opl_node_lists(fields: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode OPL ``N`` fields (``Nn1x..y..,n2x..y..``) in bulk into counts, refs, lon and lat arrays."""
    fields = [f.rstrip("\n") for f in fields]
    counts = np.fromiter(
        (f.count(",") + 1 if len(f) > 1 else 0 for f in fields), dtype=np.int64, count=len(fields)
    )
    total = int(counts.sum())
    if total == 0:
        return counts, np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    # one CSV row per reference: "ref,lon,lat" (empty lon/lat when the location is unknown), parsed in C
    text = ",".join(f[1:] for f in fields if len(f) > 1).translate(_OPL_TO_CSV)
    table = pd.read_csv(
        io.StringIO(text),
        header=None,
        names=["ref", "lon", "lat"],
        dtype={"ref": np.int64, "lon": np.float64, "lat": np.float64},
        engine="c",
    )
    if len(table) != total:  # pragma: no cover - defensive: the OPL writer changed its layout
        raise RuntimeError(f"OPL node lists: {len(table)} references decoded, {total} expected")
    return (
        counts,
        table["ref"].to_numpy(np.int64),
        table["lon"].to_numpy(np.float64),
        table["lat"].to_numpy(np.float64),
    )


_OPL_TO_CSV = str.maketrans({",": "\n", "n": None, "x": ",", "y": ","})


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
            if not isinstance(n, osmium.osm.Node):  # (the processor reads nodes only)
                continue
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
            if isinstance(obj, osmium.osm.Node):
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
            elif isinstance(obj, osmium.osm.Way):
                # closed ways arrive again as areas; remember their outline nodes for entrances
                if obj.is_closed() and keep(tags):
                    out.way_entrance_refs[obj.id] = [r.ref for r in obj.nodes]
            elif isinstance(obj, osmium.osm.Area):
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
