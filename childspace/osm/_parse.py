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
nodes with one of the requested keys, and a writer streams those as OPL text (one object per line, node
coordinates on the way lines) through a pipe from a child process (:mod:`childspace.osm._opl`); no file is
written. Python decodes the stream in blocks with numpy on the raw bytes: node lists and tag pairs of a block
each in one ``pandas.read_csv`` call, tags only for ways that pass the optional bounding-box test (a county read
from a province file skips most of the decoding), and the walkability callback once per distinct combination of
tag values. Pass 2 is run only for references whose node came after the way in the file (Overpass ``out; >; out
skel;`` output) and reads just those node ids.
"""

from __future__ import annotations

import io
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
from childspace._gcpause import gc_paused  # noqa: F401  (re-exported: it used to live here)
from childspace.osm import _opl

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


def read_ways_and_nodes(
    path: str | Path,
    way_keep: Callable[[dict[str, str]], bool],
    way_keys: Sequence[str],
    node_keys: Sequence[str],
    way_key_filter: Sequence[str] = ("highway",),
    bbox: tuple[float, float, float, float] | None = None,
    keep_outside: Sequence[str] = (),
    chunk_bytes: int = 16 * 2**20,
    keep_keys: Sequence[str] | None = None,
) -> tuple[RawWays, RawNodes]:
    """Read ways (passing ``way_keep``) and tagged nodes from an OSM file.

    Parameters
    ----------
    path : str or Path
        .osm, .osm.bz2, .osm.gz or .osm.pbf file.
    way_keep : callable
        Called with a dict of the way's values of ``keep_keys`` (raw strings, absent keys left out); the way is
        kept when it returns True. It is called once per distinct combination of those values, so it must
        depend on nothing else.
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
        ``"key=value"`` pairs: ways outside ``bbox`` whose tags contain one of them are kept anyway (e.g.
        sidewalks that the caller compares with roads inside the area).
    chunk_bytes : int
        Size of the blocks in which the selection is decoded (bounds the memory of the decoding).
    keep_keys : sequence of str, optional
        The keys ``way_keep`` reads (default ``way_keys``); they are decoded as well.

    Returns
    -------
    (RawWays, RawNodes)
        Coordinates in degrees (EPSG:4326); NaN for node references missing from the file.
    """
    p = Path(path)
    out_keys = list(dict.fromkeys(way_keys))
    rule_keys = list(dict.fromkeys(keep_keys if keep_keys is not None else out_keys))
    dec = _BlockDecoder(
        way_keep,
        list(dict.fromkeys(out_keys + rule_keys)),
        rule_keys,
        list(node_keys),
        bbox,
        [_opl.opl_escape(s) for s in keep_outside],
    )
    try:
        for block in _opl.stream_opl(p, way_key_filter, list(node_keys), chunk_bytes):
            dec.add(block)
    except _opl.OplStreamError as err:
        raise _not_osm(p, err) from err
    ways, nodes = dec.result()
    ways.tags = {k: ways.tags[k] for k in out_keys}
    missing = np.isnan(ways.lon)
    # A second pass can only find nodes that come after the ways in the file. When tagged nodes were seen and
    # all of them came before the first way, the file is sorted (nodes first, as .pbf extracts are) and the
    # missing nodes are simply not in the file (clipped extract).
    sorted_file = dec.node_before_way and not dec.node_after_way
    if missing.any() and not sorted_file:
        _fill_locations(p, ways, missing)
    return ways, nodes


class _BlockDecoder:
    """Decodes OPL blocks (whole lines) into arrays; see :mod:`childspace.osm._opl` for the layout."""

    def __init__(
        self,
        way_keep: Callable[[dict[str, str]], bool],
        way_keys: list[str],
        keep_keys: list[str],
        node_keys: list[str],
        bbox: tuple[float, float, float, float] | None,
        outside_marks: list[str],
    ) -> None:
        self.way_keep, self.way_keys, self.keep_keys, self.node_keys = (
            way_keep,
            way_keys,
            keep_keys,
            node_keys,
        )
        self.bbox, self.marks = bbox, [m.encode() for m in outside_marks]
        self.keep_cache: dict[tuple, bool] = {}
        self.unescape: dict[str, str] = {}
        self.parts: dict[str, list] = {k: [] for k in ("ids", "counts", "refs", "lon", "lat")}
        self.way_cols: dict[str, list[np.ndarray]] = {k: [] for k in way_keys}
        self.node_parts: dict[str, list] = {k: [] for k in ("ids", "lon", "lat")}
        self.node_cols: dict[str, list[np.ndarray]] = {k: [] for k in node_keys}
        self.seen_way = self.node_before_way = self.node_after_way = False

    def add(self, block: bytes | memoryview) -> None:
        a = np.frombuffer(block, dtype=np.uint8)
        nl = np.flatnonzero(a == _opl._NL)
        st = np.zeros(len(nl), dtype=np.int64)
        st[1:] = nl[:-1] + 1
        kind = a[st]
        sp = np.flatnonzero(a == _opl._SP)
        first_sp = np.searchsorted(sp, st)
        is_w = kind == ord("w")
        is_n = kind == ord("n")
        if not (is_w | is_n).all():  # pragma: no cover - defensive: only nodes and ways are selected
            raise _opl.OplStreamError("unexpected object in the OPL selection")
        wi, ni = np.flatnonzero(is_w), np.flatnonzero(is_n)
        if ni.size:
            first_way = int(wi[0]) if wi.size else len(kind)
            if self.seen_way or int(ni[-1]) > first_way:
                self.node_after_way = True
            if not self.seen_way and int(ni[0]) < first_way:
                self.node_before_way = True
            self._nodes(a, st[ni], sp, first_sp[ni], nl[ni])
        if wi.size:
            self.seen_way = True
            self._ways(a, st[wi], sp, first_sp[wi], nl[wi])

    def _nodes(self, a: np.ndarray, st: np.ndarray, sp: np.ndarray, f: np.ndarray, end: np.ndarray) -> None:
        s1, s2 = sp[f], sp[f + 1]
        self.node_parts["ids"].append(_opl._read_ints(a, st + 1, s1))
        # "x<lon> y<lat>" -> "<lon>,<lat>"
        xy = _opl._gather(a, s2 + 2, end, _opl._XY_LUT, drop=ord("y"))  # x2.5 y3.5 -> 2.5,3.5
        t = pd.read_csv(
            io.BytesIO(xy),
            header=None,
            names=["x", "y"],
            dtype=np.float64,
            engine="c",
            skip_blank_lines=False,
        )
        self.node_parts["lon"].append(t["x"].to_numpy(np.float64))
        self.node_parts["lat"].append(t["y"].to_numpy(np.float64))
        cols = _opl.decode_tags(a, s1 + 2, s2, self.node_keys, self.unescape)
        for k in self.node_keys:
            self.node_cols[k].append(cols[k])

    def _ways(self, a: np.ndarray, st: np.ndarray, sp: np.ndarray, f: np.ndarray, end: np.ndarray) -> None:
        s1, s2 = sp[f], sp[f + 1]
        t0, t1, n0 = s1 + 2, s2, s2 + 2  # tag field a[t0:t1], node list a[n0:end]
        commas = np.flatnonzero(a == _opl._COMMA)
        counts = np.where(end > n0, _opl._count_in(commas, n0, end) + 1, 0)
        refs, lon, lat = _node_lists(a, n0, end, int(counts.sum()))
        cand = np.ones(len(st), dtype=bool)
        if self.bbox is not None and len(refs):
            w, s, e, n = self.bbox
            way_of = np.repeat(np.arange(len(counts)), counts)
            in_box = (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)
            cand = (np.bincount(way_of[in_box], minlength=len(counts)) > 0) | (
                np.bincount(way_of[np.isnan(lon)], minlength=len(counts)) > 0
            )
            for m in self.marks:  # kept outside the box: the mark anywhere in the way's (escaped) tag field
                hits = _find_all(a, m)
                if hits.size:
                    line = np.searchsorted(st, hits, side="right") - 1
                    inside = (hits >= t0[line] - 1) & (hits + len(m) <= t1[line])
                    cand[line[inside]] = True
        ci = np.flatnonzero(cand)
        cols = _opl.decode_tags(a, t0[ci], t1[ci], self.way_keys, self.unescape, commas)
        ok = self._keep(cols, len(ci))
        keep = ci[ok]
        starts = np.cumsum(counts) - counts
        sel = _ranges(starts[keep], counts[keep])
        self.parts["ids"].append(_opl._read_ints(a, st[keep] + 1, s1[keep]))
        self.parts["counts"].append(counts[keep])
        self.parts["refs"].append(refs[sel])
        self.parts["lon"].append(lon[sel])
        self.parts["lat"].append(lat[sel])
        for k in self.way_keys:
            self.way_cols[k].append(cols[k][ok])

    def _keep(self, cols: dict[str, np.ndarray], n: int) -> np.ndarray:
        """``way_keep`` per way, called once per distinct combination of the way-key values."""
        if n == 0:
            return np.zeros(0, dtype=bool)
        group = np.zeros(n, dtype=np.int64)  # combination id, refined key by key
        uniq_vals = []
        code_cols = []
        for k in self.keep_keys:
            c, u = pd.factorize(cols[k], use_na_sentinel=True)
            uniq_vals.append(u)
            code_cols.append(c)
            group, _ = pd.factorize(group * (len(u) + 1) + (c + 1))
        first = np.unique(group, return_index=True)[1]
        res = np.empty(len(first), dtype=bool)
        for g, i in enumerate(first):
            key = tuple(None if c[i] < 0 else u[c[i]] for c, u in zip(code_cols, uniq_vals))
            hit = self.keep_cache.get(key)
            if hit is None:
                tags = {k: v for k, v in zip(self.keep_keys, key) if v is not None}
                hit = self.keep_cache[key] = bool(self.way_keep(tags))
            res[g] = hit
        return res[group]

    def result(self) -> tuple[RawWays, RawNodes]:
        def cat(parts: list, dtype: type) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        counts = cat(self.parts["counts"], np.int64)
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        ways = RawWays(
            ids=cat(self.parts["ids"], np.int64),
            tags={k: cat(v, object) for k, v in self.way_cols.items()},
            offsets=offsets,
            refs=cat(self.parts["refs"], np.int64),
            lon=cat(self.parts["lon"], np.float64),
            lat=cat(self.parts["lat"], np.float64),
        )
        nodes = RawNodes(
            ids=cat(self.node_parts["ids"], np.int64),
            lon=cat(self.node_parts["lon"], np.float64),
            lat=cat(self.node_parts["lat"], np.float64),
            tags={k: cat(v, object).tolist() for k, v in self.node_cols.items()},
        )
        return ways, nodes


def _find_all(a: np.ndarray, pattern: bytes) -> np.ndarray:
    """Start positions of ``pattern`` in the byte array ``a``."""
    pat = np.frombuffer(pattern, dtype=np.uint8)
    cand = np.flatnonzero(a[: len(a) - len(pat) + 1] == pat[0])
    for i in range(1, len(pat)):
        cand = cand[a[cand + i] == pat[i]]
    return cand


def _node_lists(a: np.ndarray, start: np.ndarray, end: np.ndarray, total: int) -> tuple[np.ndarray, ...]:
    """Refs and coordinates of the OPL node lists ``a[start:end]`` (``n<ref>x<lon>y<lat>,...``), in bulk."""
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    text = _opl._gather(a, start, end, _opl._REFS_LUT, drop=ord("n"))
    table = pd.read_csv(
        io.BytesIO(text),
        header=None,
        names=["ref", "lon", "lat"],
        dtype={"ref": np.int64, "lon": np.float64, "lat": np.float64},
        engine="c",
    )
    if len(table) != total:  # pragma: no cover - defensive: the OPL writer changed its layout
        raise _opl.OplStreamError(f"OPL node lists: {len(table)} references decoded, {total} expected")
    return (
        table["ref"].to_numpy(np.int64),
        table["lon"].to_numpy(np.float64),
        table["lat"].to_numpy(np.float64),
    )


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
