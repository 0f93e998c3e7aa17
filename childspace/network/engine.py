"""``WalkNetwork``: the walk network as arrays, with snapping and shortest-path queries.

The graph is held as a symmetric ``scipy.sparse`` CSR array over positional node indices ``0..n-1`` (walking
ignores ``oneway``), in a local metric CRS (:func:`childspace.inputs.projection.local_crs_for`), so every distance is in
metres. Edge attributes are a GeoDataFrame whose row order is the edge index; node coordinates are numpy arrays.

Points (facilities, homes, entrances) are attached to the nearest point of the nearest *edge*, not to the nearest
node (:meth:`WalkNetwork.snap`: candidate segments from a KD-tree over points sampled along the edges, measured
exactly, with an R-tree query for the few points the samples cannot decide). A query with many sources runs one
:func:`scipy.sparse.csgraph.dijkstra` call on an augmented graph holding one extra "virtual" node per snapped
source, linked to the two ends of its edge with the partial lengths. Targets on edges take ``min(d[u] + offset, d[v] + length - offset)``, and a target on the same
edge as a source also gets the direct distance along the edge.

Routes from *given* sources (each target's assigned school) use one shortest-path tree per source group
(:meth:`WalkNetwork.paths_from`): the augmented graph is built once for all sources, each group's tree is one
bounded Dijkstra call over its virtual nodes, and the paths of all targets are read from the kept predecessor
arrays together. A weight may carry end costs (:meth:`WalkNetwork.edge_weights` ``end_u``/``end_v``, e.g. crossing
penalties at nodes) that partial edges pay in full rather than by the share walked.

Parallel edges (two ways joining the same pair of nodes) keep the shorter one in the CSR; an array maps every CSR
entry back to the edge that achieves it, so paths map back to edge rows, also under custom weights
(:meth:`WalkNetwork.edge_weights`).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS
from scipy.sparse.csgraph import connected_components, dijkstra

from childspace._errors import DataError, NetworkError
from childspace._parallel import map_threads
from childspace.inputs.projection import local_crs_for, transformer
from childspace.network.arrays import ragged_ranges

__all__ = ["EdgeWeight", "PathSteps", "Paths", "Snap", "WalkNetwork"]

_FORMAT_VERSION = 1
_META_LAYER = "childspace_meta"
#: default memory budget (MiB) for dense per-source distance rows in ``distance_matrix`` / ``k_nearest``
DEFAULT_MEMORY_MB = 256
#: snapping index: a bucket grid over edge segments (see ``WalkNetwork._snap_index``): target number of grid
#: entries sharing a typical segment's cell, largest number of cells, and candidates measured per chunk
_SNAP_CELL_LOAD = 2.5
_SNAP_MAX_CELLS = 20_000_000
_SNAP_CHUNK = 250_000


# ----------------------------------------------------------------------------------------------------------------
# small array helpers
# ----------------------------------------------------------------------------------------------------------------
def _group_argmin(values: np.ndarray, owner: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group: the minimum of ``values`` and the position (into ``values``) achieving it (-1 if none/inf)."""
    best = np.full(n_groups, np.inf)
    arg = np.full(n_groups, -1, dtype=np.int64)
    if values.size == 0:
        return best, arg
    if values.size == n_groups and np.array_equal(owner, np.arange(n_groups)):  # one value per group
        fin = np.isfinite(values)
        best[fin] = values[fin]
        arg[fin] = np.flatnonzero(fin)
        return best, arg
    order = np.lexsort((values, owner))
    o = owner[order]
    first = np.ones(o.size, dtype=bool)
    first[1:] = o[1:] != o[:-1]
    pos = order[first]
    best[owner[pos]] = values[pos]
    arg[owner[pos]] = pos
    arg[~np.isfinite(best)] = -1
    return best, arg


def _group_min_columns(mat: np.ndarray, owner: np.ndarray, n_groups: int) -> np.ndarray:
    """Reduce the columns of ``mat`` (r, c) to (r, n_groups) by minimum over columns sharing an owner."""
    out = np.full((mat.shape[0], n_groups), np.inf)
    if mat.shape[1] == 0:
        return out
    order = np.argsort(owner, kind="stable")
    o = owner[order]
    starts = np.flatnonzero(np.r_[True, o[1:] != o[:-1]])
    out[:, o[starts]] = np.minimum.reduceat(mat[:, order], starts, axis=1)
    return out


def _part(frac: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Cost of a fraction of edges: ``frac * w``, with 0 for a zero fraction even on impassable (inf) edges."""
    with np.errstate(invalid="ignore"):
        return np.where(frac == 0, 0.0, frac * w)


def _csr_from_parts(rows: list[np.ndarray], cols: list[np.ndarray], vals: list[np.ndarray], shape: tuple[int, int]
                    ) -> sp.csr_array:
    """A CSR array from (row, col, value) triples given in parts (no duplicates), entries sorted in each row."""
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    v = np.concatenate(vals) if vals else np.zeros(0)
    o = np.lexsort((c, r))
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=shape[0]), out=indptr[1:])
    return sp.csr_array((v[o], c[o], indptr), shape=shape)


def _with_virtual(base: sp.csr_array, virtual: np.ndarray, cols: np.ndarray, vals: np.ndarray, keep: np.ndarray,
                  k: int) -> sp.csr_array:
    """``base`` (m x m) plus ``k`` virtual nodes (rows m..m+k-1): point j links to the nodes ``cols[j]`` at
    ``vals[j]`` where ``keep[j]``, through virtual node ``virtual[j]``; the cheapest link per (virtual node, node)."""
    m = base.shape[0]
    vrow = np.repeat(virtual[:, None], 2, axis=1)[keep]
    vcol, vval = cols[keep], vals[keep]
    order = np.lexsort((vval, vcol, vrow))
    vrow, vcol, vval = vrow[order], vcol[order], vval[order]
    first = np.r_[True, (vrow[1:] != vrow[:-1]) | (vcol[1:] != vcol[:-1])] if vrow.size else vrow == 0
    vrow, vcol, vval = vrow[first], vcol[first], vval[first]
    itype = base.indices.dtype
    indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(np.bincount(vrow, minlength=k))])
    return sp.csr_array((np.concatenate([base.data, vval]), np.concatenate([base.indices, vcol.astype(itype)]),
                         indptr.astype(itype)), shape=(m + k, m + k))


def _transform_points(geom: np.ndarray, src: CRS, dst: CRS) -> np.ndarray:
    """(m, 2) coordinates of point geometries transformed from ``src`` to ``dst`` (NaN for empty points);
    pyproj on the coordinate arrays, no geometry objects made."""
    out = np.full((geom.size, 2), np.nan)
    has = ~(shapely.is_missing(geom) | shapely.is_empty(geom))
    xy = shapely.get_coordinates(geom[has])
    if xy.shape[0] == int(has.sum()):
        x, y = transformer(src, dst).transform(xy[:, 0], xy[:, 1])
        out[has] = np.c_[x, y]
    return out


def _as_object_none(df: pd.DataFrame, skip: Sequence[str]) -> pd.DataFrame:
    """Text columns as object dtype with ``None`` for missing values (stable through GeoPackage round trips)."""
    gname = df.geometry.name if isinstance(df, gpd.GeoDataFrame) else None
    for col in df.columns:
        if col in skip or col == gname:
            continue
        s = df[col]
        if pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
            obj = s.astype(object)
            df[col] = obj.where(obj.notna(), None)
    return df


# ----------------------------------------------------------------------------------------------------------------
# data classes
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class EdgeWeight:
    """A weight per edge and the CSR built from it (minimum per node pair), usable by every query.

    Attributes
    ----------
    values : numpy.ndarray (n_edges,)
        Cost of traversing each whole edge (e.g. metres, or metres x stress factor); ``inf`` = impassable.
    csr : scipy.sparse.csr_array (n_nodes, n_nodes)
        Symmetric graph; entry (i, j) is the cheapest edge between nodes i and j.
    entry_edge : numpy.ndarray (nnz,)
        Edge index achieving each CSR entry (aligned with ``csr.data``).
    """

    values: np.ndarray
    csr: sp.csr_array
    entry_edge: np.ndarray
    _keys: list = field(default_factory=list, repr=False)
    end_u: np.ndarray | None = None
    end_v: np.ndarray | None = None

    def piece(self, edge: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cost of walking the piece between fractions ``a`` and ``b`` (0 = ``u`` end, 1 = ``v`` end) of edges.

        Without end costs this is ``|b - a| x values``. With end costs (:meth:`WalkNetwork.edge_weights`
        ``end_u``/``end_v``), the part of the edge's cost that belongs to its ends is paid in full by a piece
        that reaches that end, and the rest (``values - end_u - end_v``) proportionally. A zero-length piece
        costs 0, also on impassable (inf) edges.
        """
        edge = np.asarray(edge, dtype=np.int64)
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        frac = hi - lo
        if self.end_u is None:
            return _part(frac, self.values[edge])
        eu, ev = self.end_u[edge], self.end_v[edge]
        with np.errstate(invalid="ignore"):
            along = self.values[edge] - eu - ev
            cost = _part(frac, along) + np.where(lo <= 0.0, eu, 0.0) + np.where(hi >= 1.0, ev, 0.0)
        return np.where(frac == 0, 0.0, cost)

    def entry_keys(self) -> np.ndarray:
        """Sorted int64 keys ``row * n + col`` of the CSR entries (for vectorised (row, col) -> entry lookups)."""
        if not self._keys:
            n = self.csr.shape[0]
            rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.csr.indptr))
            self._keys.append(rows * n + self.csr.indices.astype(np.int64))
        return self._keys[0]

    def lookup(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Edge index of the CSR entry (rows[i], cols[i]) for each i (-1 when there is no such entry).

        Scans each row's few entries in step for all queries (walk networks have small degrees), which beats a
        binary search over all entries; rows of unusually high degree fall back to the binary search.
        """
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        out = np.full(rows.size, -1, dtype=np.int64)
        if rows.size == 0:
            return out
        indptr, indices = self.csr.indptr, self.csr.indices
        p = indptr[rows].astype(np.int64)
        stop = indptr[rows + 1].astype(np.int64)
        todo = np.arange(rows.size)
        for _ in range(8):
            live = p < stop
            todo, p, stop = todo[live], p[live], stop[live]
            if todo.size == 0:
                return out
            hit = indices[p] == cols[todo]
            out[todo[hit]] = self.entry_edge[p[hit]]
            miss = ~hit
            todo, p, stop = todo[miss], p[miss] + 1, stop[miss]
        if todo.size:
            out[todo] = self._lookup_sorted(rows[todo], cols[todo])
        return out

    def _lookup_sorted(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        keys = self.entry_keys()
        n = self.csr.shape[0]
        q = rows.astype(np.int64) * n + cols.astype(np.int64)
        pos = np.searchsorted(keys, q)
        pos_c = np.minimum(pos, max(keys.size - 1, 0))
        hit = (keys.size > 0) & (keys[pos_c] == q) if keys.size else np.zeros(q.size, dtype=bool)
        return np.where(hit, self.entry_edge[pos_c] if keys.size else -1, -1)


@dataclass(frozen=True, eq=False)
class Snap:
    """Points attached to a walk network (the result of :meth:`WalkNetwork.snap`).

    Each row is one attachment point; several attachment points may belong to one *group* (e.g. the entrances
    of one school). Queries answer per group, in the order of :attr:`labels`.

    Attributes
    ----------
    edge : numpy.ndarray (m,) int64
        Edge index the point is attached to (the nearest edge, also for points that are not ``ok``).
    offset : numpy.ndarray (m,) float
        Distance along the edge from its ``u`` end to the snapped point, metres.
    distance : numpy.ndarray (m,) float
        Straight-line distance from the point to the snapped point, metres (``inf`` when the point is empty).
    ok : numpy.ndarray (m,) bool
        ``distance <= max_distance``; only these points are attached and used by queries.
    xy : numpy.ndarray (m, 2)
        Snapped point, network CRS (metres).
    ids : numpy.ndarray (m,)
        Label of each input point (the input index, or ``0..m-1`` for arrays).
    owner : numpy.ndarray (m,) int64
        Group (position in :attr:`labels`) of each point.
    labels : numpy.ndarray (g,)
        Group labels, one per result row of queries.
    max_distance : float
        Snapping tolerance used, metres.
    crs : pyproj.CRS
        The network CRS.
    """

    edge: np.ndarray
    offset: np.ndarray
    frac: np.ndarray
    distance: np.ndarray
    ok: np.ndarray
    xy: np.ndarray
    ids: np.ndarray
    owner: np.ndarray
    labels: np.ndarray
    max_distance: float
    crs: CRS
    n_network_edges: int

    def __len__(self) -> int:
        return int(self.labels.size)

    @property
    def n_groups(self) -> int:
        """Number of groups (rows of query results)."""
        return int(self.labels.size)

    @property
    def n_points(self) -> int:
        """Number of attachment points."""
        return int(self.edge.size)

    @property
    def group_ok(self) -> np.ndarray:
        """Per group: True when at least one of its points is attached."""
        out = np.zeros(self.n_groups, dtype=bool)
        out[self.owner[self.ok]] = True
        return out

    def take(self, points: Any) -> Snap:
        """The attachment points ``points`` (positions or a boolean mask over :attr:`edge`) as a Snap of their
        own; its groups are the groups of those points, in order of first appearance."""
        idx = np.arange(self.n_points)[np.asarray(points)] if np.asarray(points).dtype == bool else \
            np.asarray(points, dtype=np.int64).reshape(-1)
        codes, uniq = pd.factorize(self.owner[idx], sort=False)
        return dataclasses.replace(self, edge=self.edge[idx], offset=self.offset[idx], frac=self.frac[idx],
                                   distance=self.distance[idx], ok=self.ok[idx], xy=self.xy[idx], ids=self.ids[idx],
                                   owner=codes.astype(np.int64), labels=self.labels[uniq])

    def unsnapped(self) -> pd.DataFrame:
        """The points that were not attached: ``id``, ``group``, ``distance_m`` (to the nearest edge), ``reason``."""
        bad = ~self.ok
        dist = self.distance[bad]
        reason = np.where(np.isfinite(dist), f"farther than {self.max_distance:g} m from the walk network",
                          "empty or missing geometry")
        return pd.DataFrame({"id": self.ids[bad], "group": self.labels[self.owner[bad]], "distance_m": dist,
                             "reason": reason})

    def summary(self) -> dict[str, Any]:
        """Counts for reporting: points, attached, not attached (with their ids), groups with no attached point."""
        g_ok = self.group_ok
        return {"points": self.n_points, "attached": int(self.ok.sum()), "not_attached": int((~self.ok).sum()),
                "ids_not_attached": self.ids[~self.ok].tolist(), "groups": self.n_groups,
                "groups_not_attached": self.labels[~g_ok].tolist(), "max_distance_m": self.max_distance}


class PathSteps(NamedTuple):
    """The steps of all paths of a :class:`Paths`, one entry per edge walked (paths in order, each source -> target).

    Attributes
    ----------
    path : numpy.ndarray (t,) of int
        Path index of each step.
    edge : numpy.ndarray (t,) of int
        Edge index.
    forward : numpy.ndarray (t,) of bool
        True when the edge is walked u -> v.
    start, end : numpy.ndarray (t,) of float
        Where the walk enters and leaves the edge, metres from its ``u`` end (``start > end`` when walked
        v -> u); whole edges run from one end to the other, the first/last steps of a path start at
        ``source_offset`` / end at ``target_offset`` (not clipped to the edge).
    first, last : numpy.ndarray (t,) of bool
        The step is the first / last of its path.
    """

    path: np.ndarray
    edge: np.ndarray
    forward: np.ndarray
    start: np.ndarray
    end: np.ndarray
    first: np.ndarray
    last: np.ndarray


@dataclass(frozen=True, eq=False)
class Paths:
    """Shortest paths from each target group to its nearest source (the result of :meth:`WalkNetwork.paths`).

    Path ``i`` runs source -> target: ``edges(i)`` lists edge indices in walking order, starting with the source's
    own edge (walked partially, from ``source_offset``) and ending with the target's edge (walked partially, up to
    ``target_offset``); a source and target on the same edge give a one-edge path.

    Attributes
    ----------
    dist : numpy.ndarray (g,)
        Path cost (metres for the default weight); ``inf`` when unreachable.
    source : numpy.ndarray (g,)
        Source group index (into the sources' labels), -1 when unreachable.
    ptr, flat_edges, flat_forward : numpy.ndarray
        Ragged storage: path ``i`` is ``flat_edges[ptr[i]:ptr[i+1]]``; ``flat_forward`` tells whether each edge is
        walked u -> v (True) or v -> u. The first/last edge of a path are partial.
    source_offset, target_offset : numpy.ndarray (g,)
        Positions (m from ``u``) on the first and last edge.
    """

    dist: np.ndarray
    source: np.ndarray
    ptr: np.ndarray
    flat_edges: np.ndarray
    flat_forward: np.ndarray
    source_offset: np.ndarray
    target_offset: np.ndarray
    network: WalkNetwork = field(repr=False)

    def __len__(self) -> int:
        return int(self.dist.size)

    def edges(self, i: int) -> np.ndarray:
        """Edge indices (source -> target) of path ``i`` (empty when unreachable)."""
        return self.flat_edges[self.ptr[i]:self.ptr[i + 1]]

    def edge_lists(self) -> list[np.ndarray]:
        """All paths as a list of edge-index arrays."""
        return np.split(self.flat_edges, self.ptr[1:-1]) if len(self) else []

    def steps(self) -> PathSteps:
        """Per-step arrays of all paths: path index, edge, direction, and start/end along the edge (metres).

        Returns
        -------
        PathSteps
            One entry per edge walked (``len == flat_edges.size``), positions in metres from each edge's ``u``.
        """
        counts = np.diff(self.ptr)
        path = np.repeat(np.arange(len(self)), counts)
        e = self.flat_edges
        fw = self.flat_forward
        L = self.network.length[e]
        pos = np.arange(e.size)
        first = pos == self.ptr[:-1][path]
        last = pos == self.ptr[1:][path] - 1
        start = np.where(first, self.source_offset[path], np.where(fw, 0.0, L))
        end = np.where(last, self.target_offset[path], np.where(fw, L, 0.0))
        return PathSteps(path=path, edge=e, forward=fw, start=start, end=end, first=first, last=last)

    def length(self) -> np.ndarray:
        """Walked length of each path in metres (partial first/last edges counted partially)."""
        return self.network._paths_length(self)

    def geometry(self, reverse: bool = False, crs: Any = None) -> gpd.GeoSeries:
        """Path LineStrings; None when unreachable.

        Parameters
        ----------
        reverse : bool
            False: source -> target; True: target -> source (e.g. home -> school for paths read from schools).
        crs : optional
            Output CRS (coordinates transformed in one call before the lines are made); default the network CRS.
        """
        out_crs = self.network.crs if crs is None else CRS.from_user_input(crs)
        return gpd.GeoSeries(self.network._paths_linestrings(self, reverse=reverse, crs=crs), crs=out_crs)


# ----------------------------------------------------------------------------------------------------------------
# the engine
# ----------------------------------------------------------------------------------------------------------------
class WalkNetwork:
    """The walk network as CSR arrays in a local metric CRS.

    Build it with :meth:`from_frames` (the ``osm.read_osm`` tables), :meth:`from_osm`, :meth:`from_networkx` or
    :meth:`load`.

    Attributes
    ----------
    crs : pyproj.CRS
        Metric CRS of every coordinate and distance.
    nodes : geopandas.GeoDataFrame
        One row per node, index ``0..n-1``; columns ``osmid``, ``x``, ``y`` (metres, ``crs``), the node tags.
    edges : geopandas.GeoDataFrame
        One row per undirected edge, index ``0..e-1``; ``u``, ``v`` positional node indices, ``u_osmid``,
        ``v_osmid``, the edge tags, ``length`` (metres, geometric length in ``crs``), geometry oriented u -> v.
    node_osmid, x, y : numpy.ndarray (n,)
    u, v, length : numpy.ndarray (e,)
    component : numpy.ndarray (n,)
        Connected-component label per node; label 0 is the largest component.
    """

    def __init__(self, nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, crs: Any,
                 beside_roads: gpd.GeoDataFrame | None = None):
        """Wrap frames that are already metric and positional (use the ``from_*`` constructors instead)."""
        if len(nodes) == 0 or len(edges) == 0:
            raise NetworkError(f"the walk network is empty ({len(nodes)} nodes, {len(edges)} edges)",
                               fix="check that the OSM extract covers the study area and has walkable ways "
                                   "(highway=*), or enlarge the area / buffer")
        self.crs: CRS = CRS.from_user_input(crs)
        self.nodes = nodes
        self.edges = edges
        #: roads that are not walked because their sidewalks are mapped as separate ways (``osm.read_osm``
        #: ``beside_roads``), in ``crs``; the safety rating of those sidewalks and their crossings uses them
        self.beside_roads = beside_roads
        self.node_osmid = nodes["osmid"].to_numpy()
        self.x = nodes["x"].to_numpy(dtype=float)
        self.y = nodes["y"].to_numpy(dtype=float)
        self.u = edges["u"].to_numpy(dtype=np.int64)
        self.v = edges["v"].to_numpy(dtype=np.int64)
        self.length = edges["length"].to_numpy(dtype=float)
        self._geom = np.asarray(edges.geometry.array, dtype=object)
        self._length_weight = self._build_weight(self.length)
        ncomp, labels = connected_components(self._length_weight.csr, directed=False)
        sizes = np.bincount(labels, minlength=ncomp)
        rank = np.empty(ncomp, dtype=np.int64)
        rank[np.argsort(-sizes, kind="stable")] = np.arange(ncomp)
        self.component = rank[labels]
        self.component_sizes = np.sort(sizes)[::-1]
        self._tree: shapely.STRtree | None = None
        self._vcoords: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._snapidx: dict[str, Any] | None = None
        self._inc: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        # guards the lazy caches above: queries may run on several threads (re-entrant: _snap_index fills
        # _vertex_table while holding it)
        self._lazy_lock = threading.RLock()

    # ------------------------------------------------------------------ construction
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.x.size)

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return int(self.u.size)

    @property
    def csr(self) -> sp.csr_array:
        """Symmetric CSR of edge lengths (metres), minimum over parallel edges."""
        return self._length_weight.csr

    def __repr__(self) -> str:
        return (f"WalkNetwork({self.n_nodes} nodes, {self.n_edges} edges, {self.length.sum() / 1000:.1f} km, "
                f"{self.component_sizes.size} components, crs={self.crs.to_string()})")

    @classmethod
    def from_frames(cls, nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, crs: Any = None,
                    beside_roads: gpd.GeoDataFrame | None = None) -> WalkNetwork:
        """Build the engine from the walk-network tables of ``osm.read_osm``.

        Parameters
        ----------
        nodes : geopandas.GeoDataFrame
            Index = OSM node id (``osmid``), Point geometry (any CRS, usually EPSG:4326), tag columns.
        edges : geopandas.GeoDataFrame
            ``u``, ``v`` (OSM node ids), LineString geometry (any CRS; missing geometries become straight
            segments), tag columns. An input ``length`` column is replaced by the geometric length in ``crs``.
        crs : optional
            Metric CRS to work in; default :func:`childspace.inputs.projection.local_crs_for` of the nodes.
        beside_roads : geopandas.GeoDataFrame, optional
            Roads not walked because their sidewalks are separate ways (``read_osm(..., beside_roads=True)``),
            kept as :attr:`beside_roads` for the safety ratings.

        Returns
        -------
        WalkNetwork

        Raises
        ------
        NetworkError
            Empty tables, no CRS, duplicate node ids, or edges whose ``u``/``v`` are not in ``nodes``.
        """
        if nodes is None or edges is None or len(nodes) == 0 or len(edges) == 0:
            raise NetworkError(f"the walk network is empty ({0 if nodes is None else len(nodes)} nodes, "
                               f"{0 if edges is None else len(edges)} edges)",
                               fix="check that the OSM extract covers the study area and has walkable ways "
                                   "(highway=*), or enlarge the area / buffer")
        if nodes.crs is None:
            raise NetworkError("the nodes table has no CRS", feature="nodes",
                               fix="set it with nodes.set_crs('EPSG:4326') (osm.read_osm output is EPSG:4326)")
        for col in ("u", "v"):
            if col not in edges.columns:
                raise NetworkError(f"the edges table has no '{col}' column", feature="edges",
                                   fix="build the tables with childspace.osm.reader.read_osm")
        if not nodes.index.is_unique:
            dup = nodes.index[nodes.index.duplicated()].unique()[:5].tolist()
            raise NetworkError(f"duplicate node ids in the nodes table: {dup}", feature="nodes",
                               fix="drop duplicate nodes (one row per OSM node id)")
        metric = CRS.from_user_input(crs) if crs is not None else local_crs_for(nodes)
        if not metric.is_projected:
            raise NetworkError(f"CRS {metric.to_string()} is not a projected (metric) CRS",
                               fix="pass a metric CRS, or None to choose the local Gauss-Krueger/UTM zone")

        n_geo = nodes.to_crs(metric) if not CRS.from_user_input(nodes.crs).equals(metric) else nodes
        pts = np.asarray(n_geo.geometry.array, dtype=object)
        if shapely.is_missing(pts).any() or shapely.is_empty(pts).any():
            bad = nodes.index[shapely.is_missing(pts) | shapely.is_empty(pts)][:5].tolist()
            raise NetworkError(f"nodes without geometry: {bad}", feature="nodes",
                               fix="every node needs a Point geometry")
        nx_ = shapely.get_x(pts)
        ny_ = shapely.get_y(pts)
        node_cols = [c for c in nodes.columns if c not in ("x", "y", "osmid", nodes.geometry.name)]
        nodes_out = gpd.GeoDataFrame(
            {"osmid": nodes.index.to_numpy(), "x": nx_, "y": ny_,
             **{c: nodes[c].to_numpy() for c in node_cols}},
            geometry=pts, crs=metric)

        idx = pd.Index(nodes.index)
        ui = idx.get_indexer(edges["u"])
        vi = idx.get_indexer(edges["v"])
        missing = (ui < 0) | (vi < 0)
        if missing.any():
            rows = np.flatnonzero(missing)
            desc = ", ".join(f"row {r} (u={edges['u'].iloc[r]}, v={edges['v'].iloc[r]}"
                             + (f", way {edges['osmid'].iloc[r]}" if "osmid" in edges.columns else "") + ")"
                             for r in rows[:5])
            raise NetworkError(f"{rows.size} edge(s) refer to nodes that are not in the nodes table: {desc}",
                               feature="edges", fix="build nodes and edges together (osm.read_osm), or drop "
                                                    "edges whose end nodes were clipped away")

        if isinstance(edges, gpd.GeoDataFrame) and edges.geometry.name in edges.columns:
            if edges.crs is None:
                raise NetworkError("the edges table has no CRS", feature="edges",
                                   fix="set it with edges.set_crs('EPSG:4326')")
            e_geo = edges.to_crs(metric) if not CRS.from_user_input(edges.crs).equals(metric) else edges
            geom = np.asarray(e_geo.geometry.array, dtype=object).copy()
            gname = edges.geometry.name
        else:
            geom = np.full(len(edges), None, dtype=object)
            gname = "geometry"
        none = shapely.is_missing(geom) | shapely.is_empty(geom)
        if none.any():
            a, b = ui[none], vi[none]
            geom[none] = shapely.linestrings(np.stack([np.c_[nx_[a], ny_[a]], np.c_[nx_[b], ny_[b]]], axis=1))
        types = shapely.get_type_id(geom)
        if (types != 1).any():
            if (types == 5).any():  # MultiLineString: merge to one line where possible
                ml = types == 5
                geom[ml] = shapely.line_merge(geom[ml])
                types = shapely.get_type_id(geom)
            if (types != 1).any():
                rows = np.flatnonzero(types != 1)[:5].tolist()
                raise NetworkError(f"edges with a geometry that is not a LineString at rows {rows}",
                                   feature="edges", fix="give each edge a single LineString from u to v")
        # orient every geometry u -> v (a reversed geometry would make offsets run from the wrong end)
        # (first vertices read from the coordinate array: no temporary Point objects for millions of edges)
        coords, li = shapely.get_coordinates(geom, return_index=True)
        first_v = np.searchsorted(li, np.arange(len(geom)))
        sx, sy = coords[first_v, 0], coords[first_v, 1]
        del coords, li
        du = np.hypot(sx - nx_[ui], sy - ny_[ui])
        dv = np.hypot(sx - nx_[vi], sy - ny_[vi])
        flip = (dv < du) & (ui != vi)
        if flip.any():
            geom[flip] = shapely.reverse(geom[flip])

        skip = {"u", "v", "length", gname, "geometry"}
        edge_cols = [c for c in edges.columns if c not in skip]
        data = {"u": ui.astype(np.int64), "v": vi.astype(np.int64),
                "u_osmid": edges["u"].to_numpy(), "v_osmid": edges["v"].to_numpy()}
        for c in edge_cols:
            if c in ("u_osmid", "v_osmid"):
                continue
            data[c] = edges[c].to_numpy()
        data["length"] = shapely.length(geom)
        edges_out = gpd.GeoDataFrame(data, geometry=geom, crs=metric)
        _as_object_none(nodes_out, skip=("osmid", "x", "y"))
        _as_object_none(edges_out, skip=("u", "v", "length"))
        roads = None
        if beside_roads is not None and len(beside_roads):
            if beside_roads.crs is None:
                raise NetworkError("the beside_roads table has no CRS", feature="beside_roads",
                                   fix="pass the third table of read_osm(..., beside_roads=True)")
            roads = beside_roads.to_crs(metric).reset_index(drop=True)
            _as_object_none(roads, skip=())
        return cls(nodes_out, edges_out, metric, beside_roads=roads)

    @classmethod
    def from_osm(cls, path: str | Path, area: Any = None, buffer_m: float = 500, crs: Any = None) -> WalkNetwork:
        """Read an OSM file with :func:`childspace.osm.reader.read_osm` and build the engine (see :meth:`from_frames`)."""
        from childspace.osm.reader import (
            read_osm,  # imported here: osm is optional for users of saved networks
        )

        nodes, edges, roads = read_osm(path, area=area, buffer_m=buffer_m, beside_roads=True)
        return cls.from_frames(nodes, edges, crs=crs, beside_roads=roads)

    @classmethod
    def from_networkx(cls, G: Any, crs: Any = None) -> WalkNetwork:
        """Build the engine from an osmnx graph (MultiDiGraph with ``x``, ``y`` node attributes, ``graph['crs']``).

        Directed edge pairs (u->v and v->u of the same way and length) are merged into one undirected edge.
        """
        import osmnx as ox

        if G.number_of_edges() == 0:
            raise NetworkError("the graph has no edges", fix="check the graph (osmnx) you passed")
        nodes, edges = ox.convert.graph_to_gdfs(G)
        edges = edges.reset_index()
        a = np.minimum(edges["u"].to_numpy(), edges["v"].to_numpy())
        b = np.maximum(edges["u"].to_numpy(), edges["v"].to_numpy())
        way = edges["osmid"].astype(str).to_numpy() if "osmid" in edges.columns else np.zeros(len(edges))
        ln = np.round(edges["length"].to_numpy(dtype=float), 2) if "length" in edges.columns else 0.0
        key = pd.DataFrame({"a": a, "b": b, "w": way, "l": ln})
        edges = edges.loc[~key.duplicated().to_numpy()].reset_index(drop=True)
        nodes = nodes.drop(columns=[c for c in ("x", "y") if c in nodes.columns])
        nodes.index.name = "osmid"
        for col in edges.columns:  # list-valued osmnx attributes -> ";"-joined strings
            if edges[col].dtype == object and edges[col].map(lambda t: isinstance(t, list)).any():
                edges[col] = edges[col].map(lambda t: ";".join(map(str, t)) if isinstance(t, list) else t)
        return cls.from_frames(nodes, edges, crs=crs)

    # ------------------------------------------------------------------ weights
    def _build_weight(self, values: np.ndarray) -> EdgeWeight:
        n = self.n_nodes
        keep = (self.u != self.v) & np.isfinite(values)
        e = np.flatnonzero(keep)
        u, v, w = self.u[e], self.v[e], values[e]
        # both directions; entry j < m is u -> v of edge e[j], entry m + j is v -> u
        key = np.concatenate([u * n + v, v * n + u])
        data = np.concatenate([w, w])
        order = np.lexsort((data, key))  # by (row, col), cheapest first
        key = key[order]
        first = np.ones(key.size, dtype=bool)
        first[1:] = key[1:] != key[:-1]
        sel = order[first]
        del order, first
        key = key[np.flatnonzero(np.r_[True, key[1:] != key[:-1]])] if key.size else key
        data = data[sel]
        eid = e[sel % max(e.size, 1)]
        del sel
        rows = key // n
        itype = np.int32 if max(n, key.size) < 2**31 - 1 else np.int64
        cols = (key - rows * n).astype(itype)
        indptr = np.zeros(n + 1, dtype=itype)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        del key, rows
        csr = sp.csr_array((data, cols, indptr), shape=(n, n))
        return EdgeWeight(values=values, csr=csr, entry_edge=eid)

    def edge_weights(self, values: Any, end_u: Any = None, end_v: Any = None) -> EdgeWeight:
        """A custom weight usable by every query (``weight=``).

        Parameters
        ----------
        values : array-like (n_edges,)
            Cost of each whole edge, in the order of :attr:`edges` (e.g. ``length * stress_factor``); must be
            >= 0; ``inf`` marks an edge that may not be walked. Partial edges cost proportionally.
        end_u, end_v : array-like (n_edges,), optional
            The part of ``values`` incurred at the ``u`` / ``v`` end of each edge (e.g. half a crossing penalty
            at that node, metres-equivalent), >= 0. A partial edge (a point on the edge walked to one end) then
            pays that end's cost in full and the remainder ``values - end_u - end_v`` proportionally, so that a
            penalty at a node is not diluted on the first and last edges of a route. Default: none (all cost is
            proportional to the walked share).

        Returns
        -------
        EdgeWeight
        """
        vals = np.asarray(values, dtype=float).reshape(-1)
        if vals.size != self.n_edges:
            raise NetworkError(f"a weight needs one value per edge ({self.n_edges}), got {vals.size}",
                               fix="compute the weight from network.edges (same row order)")
        bad = np.isnan(vals) | (vals < 0)
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            raise NetworkError(f"{int(bad.sum())} edge weight(s) are negative or NaN (edge rows {rows})",
                               fix="weights must be >= 0 (use inf for edges that may not be walked)")
        ends = []
        if end_u is not None or end_v is not None:
            for name, arr in (("end_u", end_u), ("end_v", end_v)):
                a = np.zeros(self.n_edges) if arr is None else np.asarray(arr, dtype=float).reshape(-1)
                if a.size != self.n_edges:
                    raise NetworkError(f"{name} needs one value per edge ({self.n_edges}), got {a.size}",
                                       fix="compute the end costs from network.edges (same row order)")
                badn = ~np.isfinite(a) | (a < 0)
                if badn.any():
                    rows = np.flatnonzero(badn)[:5].tolist()
                    raise NetworkError(f"{int(badn.sum())} {name} value(s) are negative or not finite "
                                       f"(edge rows {rows})", fix=f"{name} must be finite and >= 0")
                ends.append(a)
            over = np.isfinite(vals) & (ends[0] + ends[1] > vals * (1 + 1e-12) + 1e-9)
            if over.any():
                rows = np.flatnonzero(over)[:5].tolist()
                raise NetworkError(f"{int(over.sum())} edge(s) have end costs larger than the whole edge's cost "
                                   f"(edge rows {rows})", fix="values must include end_u + end_v")
        w = self._build_weight(vals)
        if ends:
            w = dataclasses.replace(w, end_u=ends[0], end_v=ends[1], _keys=[])
        return w

    def _weight(self, weight: Any) -> EdgeWeight:
        if weight is None:
            return self._length_weight
        if isinstance(weight, EdgeWeight):
            if weight.values.size != self.n_edges:
                raise NetworkError("the weight belongs to another network", fix="build it with edge_weights()")
            return weight
        return self.edge_weights(weight)

    # ------------------------------------------------------------------ snapping
    def snap(self, points: Any, max_distance: float = 150.0, group: Any = None) -> Snap:
        """Attach points to the nearest point of the nearest edge.

        Parameters
        ----------
        points : GeoSeries, GeoDataFrame (any CRS, Point geometries) or array (m, 2) in the network CRS (metres)
        max_distance : float
            Points farther than this (metres) from every edge are not attached (``ok=False``) and are listed by
            :meth:`Snap.unsnapped` / :meth:`Snap.summary`.
        group : array-like (m,), optional
            A label per point; points sharing a label are several entrances of one facility, and queries answer
            once per label (the best entrance). Default: every point is its own group.

        Returns
        -------
        Snap

        Raises
        ------
        NetworkError
            Points without a CRS, or none of the (non-empty) points within ``max_distance`` of the network.
        DataError
            Geometries that are not Points.
        """
        pxy = None  # (m, 2) point coordinates in the network CRS, where already known
        if isinstance(points, (gpd.GeoDataFrame, gpd.GeoSeries)):
            if points.crs is None:
                raise NetworkError("the points have no CRS, so they cannot be placed on the network",
                                   fix="set it with .set_crs('EPSG:4326') (or load them through childspace.io)")
            gs = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
            geom = np.asarray(gs.array, dtype=object)
            ids = points.index.to_numpy()
            src_crs = CRS.from_user_input(gs.crs)
            if not src_crs.equals(self.crs):
                pxy = _transform_points(geom, src_crs, self.crs)
        else:
            arr = np.asarray(points, dtype=float)
            if arr.ndim != 2 or arr.shape[1] != 2:
                raise DataError(f"points must be (m, 2) coordinates in the network CRS, got shape {arr.shape}",
                                fix="pass a GeoSeries/GeoDataFrame with a CRS, or an (m, 2) array of x, y metres")
            geom = None  # coordinates only: no geometry objects needed
            ids = np.arange(arr.shape[0])
            pxy = arr
        if geom is None:
            m = pxy.shape[0]
            empty = np.zeros(m, dtype=bool)
            notpt = empty
        else:
            m = geom.size
            empty = shapely.is_missing(geom) | shapely.is_empty(geom)
            notpt = (~empty) & (shapely.get_type_id(geom) != 0)
        if notpt.any():
            rows = ids[notpt][:5].tolist()
            raise DataError(f"{int(notpt.sum())} geometries are not Points (ids {rows})",
                            fix="pass points (use .representative_point() for areas, or their entrances)")
        if group is None:
            labels, owner = ids, np.arange(m, dtype=np.int64)
        else:
            gvals = np.asarray(group)
            if gvals.size != m:
                raise DataError(f"group has {gvals.size} labels for {m} points", fix="give one label per point")
            codes, uniq = pd.factorize(pd.Series(gvals), sort=False)
            owner = codes.astype(np.int64)
            labels = np.asarray(uniq)
        edge = np.zeros(m, dtype=np.int64)
        dist = np.full(m, np.inf)
        offset = np.zeros(m)
        xy = np.zeros((m, 2))
        good = np.flatnonzero(~empty)
        gxy = shapely.get_coordinates(geom[good]) if pxy is None else pxy[good]
        fin = np.isfinite(gxy).all(axis=1)
        good, gxy = good[fin], gxy[fin]
        if good.size:
            edge[good], dist[good], offset[good], xy[good] = self._nearest_edge(gxy)
        elen = self.length[edge]
        frac = np.divide(offset, elen, out=np.zeros(m), where=elen > 0)
        ok = dist <= max_distance
        if m and good.size and not ok.any():
            raise NetworkError(
                f"none of the {m} points is within {max_distance:g} m of the walk network (nearest edge at "
                f"{np.min(dist[good]):.0f} m)",
                fix="check the points' CRS and datum (coords = \"gcj02\"/\"bd09\" for Amap/Baidu picks, crs= for "
                    "projected files) and that the OSM extract covers their area; to snap farther in Python, pass "
                    "max_distance= to WalkNetwork.snap (max_snap= to the coverage functions); a run configuration "
                    "has no such setting, because points this far from every street are misplaced")
        return Snap(edge=edge, offset=offset, frac=frac, distance=dist, ok=ok, xy=xy, ids=ids, owner=owner,
                    labels=labels, max_distance=float(max_distance), crs=self.crs, n_network_edges=self.n_edges)

    def _snap_index(self) -> dict[str, Any]:
        """Straight segments of all edges and a bucket grid over them (built once).

        Every segment is listed in each grid cell its bounding box touches. The cell size starts at the mean
        area per segment and shrinks until a typical segment shares its cells with about ``_SNAP_CELL_LOAD``
        entries (the load weighted by segment density, so dense town centres stay cheap to query).
        """
        if self._snapidx is not None:
            return self._snapidx
        with self._lazy_lock:
            if self._snapidx is None:
                self._snapidx = self._build_snap_index()
        return self._snapidx

    def _build_snap_index(self) -> dict[str, Any]:
        coords, vptr, cum = self._vertex_table()
        last = np.zeros(coords.shape[0], dtype=bool)
        last[vptr[1:] - 1] = True
        a = np.flatnonzero(~last)                    # segment a -> a + 1 (both vertices of one edge)
        seg_edge = np.repeat(np.arange(self.n_edges), np.diff(vptr) - 1)
        d = coords[a + 1] - coords[a]
        slen = np.hypot(d[:, 0], d[:, 1])
        ll = slen ** 2
        lo = np.minimum(coords[a], coords[a + 1])
        hi = np.maximum(coords[a], coords[a + 1])
        ix: dict[str, Any] = {"ax": coords[a, 0], "ay": coords[a, 1],
                              "dx": np.ascontiguousarray(d[:, 0]), "dy": np.ascontiguousarray(d[:, 1]),
                              "inv_ll": np.divide(1.0, ll, out=np.zeros_like(ll), where=ll > 0),
                              "edge": seg_edge, "c0": cum[a], "slen": slen}
        if a.size:
            origin = lo.min(axis=0)
            span = np.maximum(hi.max(axis=0) - origin, 1.0)
            cell = max(float(np.sqrt(span[0] * span[1] / a.size)), 1.0)
            for _ in range(4):
                cell = max(cell, float(np.sqrt(span[0] * span[1] / _SNAP_MAX_CELLS)))
                shape = (np.floor(span / cell).astype(np.int64) + 1)
                # a small margin so that floating-point rounding at cell borders never drops a segment
                eps = 1e-7 * cell + 1e-9 * float(np.abs(origin).max())
                c_lo = np.clip(np.floor((lo - eps - origin) / cell).astype(np.int64), 0, shape - 1)
                c_hi = np.clip(np.floor((hi + eps - origin) / cell).astype(np.int64), 0, shape - 1)
                kx = c_hi[:, 0] - c_lo[:, 0] + 1
                ky = c_hi[:, 1] - c_lo[:, 1] + 1
                q, seg = ragged_ranges(np.zeros(a.size, dtype=np.int64), kx * ky)
                cid = (c_lo[seg, 0] + q // ky[seg]) * shape[1] + c_lo[seg, 1] + q % ky[seg]
                cnt = np.bincount(cid, minlength=int(shape[0] * shape[1]))
                load = float((cnt.astype(float) ** 2).sum() / cnt.sum())
                if load <= 1.5 * _SNAP_CELL_LOAD:
                    break
                cell *= float(np.sqrt(_SNAP_CELL_LOAD / load))
            order = np.argsort(cid, kind="stable")
            indptr = np.zeros(cnt.size + 1, dtype=np.int64)
            np.cumsum(cnt, out=indptr[1:])
            ix.update(origin=origin, cell=cell, shape=shape, indptr=indptr, cell_seg=seg[order])
        return ix

    def _nearest_edge(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Nearest edge of every point (m, 2), network CRS: (edge, distance, offset from u, snapped xy).

        The segments listed in a block of grid cells around a point are measured exactly; the answer is certain
        when the best distance is below the distance from the point to the border of that block (a closer
        segment would have its nearest point inside the block, so it would be listed there). A first pass
        measures the 2 x 2 cells nearest to the point (its own cell and the three beside its nearest corner:
        at least half a cell of guard), a second the 3 x 3 cells around it for the points left uncertain (at
        least one cell); the rest (far from every street, or outside the grid) go through an R-tree nearest
        query (:meth:`_nearest_edge_strtree`), so the result is always the nearest point of the nearest edge.
        Among segments at exactly the same distance the one listed first in the network wins, whatever the pass.
        """
        ix = self._snap_index()
        m = xy.shape[0]
        edge = np.zeros(m, dtype=np.int64)
        best = np.full(m, np.inf)
        offset = np.zeros(m)
        sxy = np.zeros((m, 2))
        certain = np.zeros(m, dtype=bool)
        if m and "cell" in ix:
            cell, shape, indptr = ix["cell"], ix["shape"], ix["indptr"]
            rel = (xy - ix["origin"]) / cell
            ci = np.floor(rel).astype(np.int64)
            frac = rel - ci
            near = np.where(frac < 0.5, -1, 1)          # towards the nearest cell corner, per axis
            todo = np.arange(m)
            for block in (2, 3):
                if block == 2:
                    steps = [(0, 0), (1, 0), (0, 1), (1, 1)]
                    guard = np.maximum(frac[todo], 1.0 - frac[todo]).min(axis=1) * cell
                    sign = near[todo]
                else:
                    steps = [(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)]
                    guard = (1.0 + np.minimum(frac[todo], 1.0 - frac[todo]).min(axis=1)) * cell
                    sign = np.ones((todo.size, 2), dtype=np.int64)
                k_ = len(steps)
                starts = np.zeros((todo.size, k_), dtype=np.int64)
                counts = np.zeros((todo.size, k_), dtype=np.int64)
                for k, (oi, oj) in enumerate(steps):
                    gi, gj = ci[todo, 0] + oi * sign[:, 0], ci[todo, 1] + oj * sign[:, 1]
                    inside = (gi >= 0) & (gi < shape[0]) & (gj >= 0) & (gj < shape[1])
                    c = np.where(inside, gi * shape[1] + gj, 0)
                    starts[:, k] = indptr[c]
                    counts[:, k] = np.where(inside, indptr[c + 1] - indptr[c], 0)
                self._measure_cells(xy, todo, starts, counts, edge, best, offset, sxy)
                certain[todo] = best[todo] < guard * (1.0 - 1e-9)
                todo = todo[~certain[todo]]
                if todo.size == 0:
                    break
        rest = np.flatnonzero(~certain)
        if rest.size:
            edge[rest], best[rest], offset[rest], sxy[rest] = self._nearest_edge_strtree(xy[rest])
        return edge, best, offset, sxy

    def _measure_cells(self, xy: np.ndarray, pts: np.ndarray, starts: np.ndarray, counts: np.ndarray,
                       edge: np.ndarray, best: np.ndarray, offset: np.ndarray, sxy: np.ndarray) -> None:
        """Nearest of the segments listed in the given grid cells (``starts``/``counts`` into the bucket grid,
        one row per point of ``pts``), written into ``edge``, ``best``, ``offset``, ``sxy`` at ``pts``."""
        ix = self._snap_index()
        k_ = starts.shape[1]
        per_pt = counts.sum(axis=1)
        # chunks of points bound the memory of the candidate arrays
        bounds = np.searchsorted(np.cumsum(per_pt), np.arange(1, 1 + int(per_pt.sum()) // _SNAP_CHUNK)
                                 * _SNAP_CHUNK)

        def measure(lo_: int, hi_: int) -> None:
            pos, row = ragged_ranges(starts[lo_:hi_].ravel(), counts[lo_:hi_].ravel())
            if pos.size == 0:
                return
            cand = ix["cell_seg"][pos]
            pt = pts[row // k_ + lo_]
            rx = xy[pt, 0] - ix["ax"][cand]
            ry = xy[pt, 1] - ix["ay"][cand]
            dx, dy = ix["dx"][cand], ix["dy"][cand]
            t = np.clip((rx * dx + ry * dy) * ix["inv_ll"][cand], 0.0, 1.0)
            dist = np.hypot(rx - dx * t, ry - dy * t)
            first = np.flatnonzero(np.r_[True, pt[1:] != pt[:-1]])
            owners = pt[first]
            mn = np.minimum.reduceat(dist, first)
            hit = np.flatnonzero(dist == np.repeat(mn, np.diff(np.r_[first, pt.size])))
            # ties: the lowest segment number (the same answer whichever cells were measured)
            hfirst = np.flatnonzero(np.r_[True, pt[hit][1:] != pt[hit][:-1]])
            sb = np.minimum.reduceat(cand[hit], hfirst)
            if hit.size > hfirst.size:
                tb = np.zeros(hfirst.size)
                tb_all, sb_all = t[hit], cand[hit]
                grp = np.repeat(np.arange(hfirst.size), np.diff(np.r_[hfirst, hit.size]))
                sel = sb_all == sb[grp]
                tb[grp[sel]] = tb_all[sel]
            else:
                tb = t[hit]
            best[owners] = mn
            e = ix["edge"][sb]
            edge[owners] = e
            offset[owners] = np.clip(ix["c0"][sb] + tb * ix["slen"][sb], 0.0, self.length[e])
            sxy[owners] = np.c_[ix["ax"][sb] + ix["dx"][sb] * tb, ix["ay"][sb] + ix["dy"][sb] * tb]

        # chunks write disjoint rows; numpy releases the GIL in these array operations, so two threads share
        # the work
        jobs = [(int(a_), int(b_)) for a_, b_ in zip(np.r_[0, bounds], np.r_[bounds, pts.size]) if b_ > a_]
        map_threads(lambda j: measure(*j), jobs)

    def _nearest_edge_strtree(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """As :meth:`_nearest_edge`, with a shapely R-tree nearest query and ``line_locate_point`` (the
        reference method; slower for many points)."""
        if self._tree is None:
            with self._lazy_lock:
                if self._tree is None:
                    self._tree = shapely.STRtree(self._geom)
        pts = shapely.points(xy)
        edge = np.zeros(xy.shape[0], dtype=np.int64)
        dist = np.full(xy.shape[0], np.inf)
        (qi, ti), d = self._tree.query_nearest(pts, all_matches=False, return_distance=True)
        edge[qi] = ti
        dist[qi] = d
        eg = self._geom[edge]
        offset = np.clip(shapely.line_locate_point(eg, pts), 0.0, self.length[edge])
        sxy = shapely.get_coordinates(shapely.line_interpolate_point(eg, offset)).reshape(-1, 2)
        return edge, dist, offset, sxy

    def snap_nodes(self) -> Snap:
        """Every node as a target (a node is snapped to one of its edges at offset 0 or length)."""
        n = self.n_nodes
        # one incident edge per node (a node that is some edge's u sits at offset 0, else at the v end)
        e_u = np.full(n, -1, dtype=np.int64)
        e_u[self.u] = np.arange(self.n_edges)
        e_v = np.full(n, -1, dtype=np.int64)
        e_v[self.v] = np.arange(self.n_edges)
        is_u = e_u >= 0
        edge = np.where(is_u, e_u, e_v)
        iso = edge < 0
        edge[iso] = 0
        offset = np.where(is_u, 0.0, self.length[edge])
        frac = np.where(is_u, 0.0, 1.0)
        ids = self.node_osmid
        return Snap(edge=edge, offset=offset, frac=frac, distance=np.where(iso, np.inf, 0.0), ok=~iso,
                    xy=np.c_[self.x, self.y], ids=ids, owner=np.arange(n, dtype=np.int64),
                    labels=np.arange(n), max_distance=0.0, crs=self.crs, n_network_edges=self.n_edges)

    def _check_snap(self, s: Snap, what: str) -> None:
        if not isinstance(s, Snap):
            raise NetworkError(f"{what} must be a Snap", fix=f"attach them first: {what} = network.snap(points)")
        if s.n_network_edges != self.n_edges or not s.crs.equals(self.crs):
            raise NetworkError(f"{what} were snapped to another network", fix="snap them to this network")

    # ------------------------------------------------------------------ queries
    def _source_links(self, w: EdgeWeight, s: Snap, handicap: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Links from the attached points of ``s`` to their edge's ends: points ``pts``, end nodes ``(k, 2)``,
        costs ``(k, 2)`` (plus ``handicap`` per point) and which links exist (finite; one for a loop edge)."""
        pts = np.flatnonzero(s.ok)
        e = s.edge[pts]
        f = s.frac[pts]
        wu = w.piece(e, np.zeros(f.size), f)
        wv = w.piece(e, f, np.ones(f.size))
        if handicap is not None:
            wu = wu + handicap
            wv = wv + handicap
        loop = self.u[e] == self.v[e]
        wu = np.where(loop, np.minimum(wu, wv), wu)
        cols = np.stack([self.u[e], self.v[e]], axis=1)
        vals = np.stack([wu, wv], axis=1)
        keep = np.isfinite(vals)
        keep[:, 1] &= ~loop
        return pts, cols, vals, keep

    def _augmented(self, w: EdgeWeight, s: Snap, handicap: np.ndarray | None = None,
                   virtual: np.ndarray | None = None) -> tuple[sp.csr_array, np.ndarray]:
        """CSR with virtual source nodes (rows n..n+k-1); returns it and the attached point ids ``pts``.

        By default there is one virtual node per attached point (``n + j`` is point ``pts[j]``). ``virtual``
        (one value 0..k-1 per attached point) lets several points share a virtual node (one per group, or a
        single super source); ``handicap`` (one cost per attached point) is added to the point's links, so a
        search from the virtual node starts that point ``handicap`` late.
        """
        n = self.n_nodes
        pts, cols, vals, keep = self._source_links(w, s, handicap)
        base = w.csr
        if virtual is not None:  # shared virtual nodes: the cheapest link per (virtual node, node)
            k = int(np.max(virtual)) + 1 if pts.size else 0
            return _with_virtual(base, np.asarray(virtual, dtype=np.int64), cols, vals, keep, k), pts
        counts = keep.sum(axis=1)
        k = pts.size
        itype = base.indices.dtype
        indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(counts)]).astype(itype)
        indices = np.concatenate([base.indices, cols[keep].astype(itype)])
        data = np.concatenate([base.data, vals[keep]])
        aug = sp.csr_array((data, indices, indptr), shape=(n + k, n + k))
        return aug, pts

    def _target_dist(self, w: EdgeWeight, dist: np.ndarray, t: Snap, tp: np.ndarray) -> tuple[np.ndarray, ...]:
        """Distances of target points ``tp`` from node distances: (via-u, via-v) candidates."""
        e = t.edge[tp]
        f = t.frac[tp]
        du = dist[self.u[e]] + w.piece(e, np.zeros(f.size), f)
        dv = dist[self.v[e]] + w.piece(e, f, np.ones(f.size))
        return du, dv

    def _same_edge(self, w: EdgeWeight, s: Snap, sp_pts: np.ndarray, t: Snap, tp: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """For target points: direct along-edge cost to the closest source point on the same edge, and its index
        (into ``sp_pts``; -1 if none)."""
        best = np.full(tp.size, np.inf)
        arg = np.full(tp.size, -1, dtype=np.int64)
        if sp_pts.size == 0 or tp.size == 0:
            return best, arg
        se = s.edge[sp_pts]
        sf = s.frac[sp_pts]
        # only targets on an edge that carries a source can have a direct along-edge path
        has_src = np.zeros(self.n_edges, dtype=bool)
        has_src[se] = True
        sub = np.flatnonzero(has_src[t.edge[tp]])
        if sub.size == 0:
            return best, arg
        tp = tp[sub]
        order = np.lexsort((sf, se))
        key = se[order].astype(float) + 0.5 * sf[order]  # sorted by (edge, frac)
        te = t.edge[tp]
        tf = t.frac[tp]
        q = te.astype(float) + 0.5 * tf
        pos = np.searchsorted(key, q)
        for cand in (pos - 1, pos):
            valid = (cand >= 0) & (cand < key.size)
            c = np.clip(cand, 0, key.size - 1)
            j = order[c]
            valid &= se[j] == te
            d = w.piece(te, sf[j], tf)
            d = np.where(valid, d, np.inf)
            cur_b, cur_a = best[sub], arg[sub]
            better = d < cur_b
            best[sub] = np.where(better, d, cur_b)
            arg[sub] = np.where(better, j, cur_a)
        return best, arg

    def _run(self, w: EdgeWeight, s: Snap, cutoff: float | None, handicap: np.ndarray | None = None
             ) -> tuple[list[np.ndarray], np.ndarray]:
        """One multi-source Dijkstra: [dist, predecessors, source node] over the augmented graph, and the
        attached source points (virtual node ``n + j`` is point ``pts[j]``); ``handicap`` per group."""
        hp = None if handicap is None else handicap[s.owner[s.ok]]
        aug, pts = self._augmented(w, s, handicap=hp)
        n = self.n_nodes
        limit = np.inf if cutoff is None else float(cutoff)
        if pts.size == 0:
            none = np.full(n, -9999, dtype=np.int32)
            return [np.full(n, np.inf), none, none.copy()], pts
        # (scipy returns the ``sources`` array only together with the predecessors)
        out = dijkstra(aug, directed=True, indices=n + np.arange(pts.size), min_only=True,
                       return_predecessors=True, limit=limit)
        return list(out), pts

    def node_distances(self, sources: Snap, cutoff: float | None = None, weight: Any = None,
                       handicap: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Distance from every node to its nearest source (one Dijkstra for all sources).

        Parameters
        ----------
        sources : Snap
        cutoff : float, optional
            Stop searching beyond this cost (metres for the default weight); farther nodes get ``inf``.
        weight : EdgeWeight or array (n_edges,), optional
            Default: edge length in metres.
        handicap : array-like (sources.n_groups,), optional
            A cost (>= 0, same unit) added to every path from each source group: the result is
            ``min over groups (handicap + distance)``. With ``cutoff=R`` and ``handicap = R - radius`` a node is
            within the cutoff exactly when it lies within its own source's ``radius`` (per-source radii in one
            search, e.g. parks of different sizes).

        Returns
        -------
        dist : numpy.ndarray (n_nodes,)
            Cost to the nearest source (``inf`` if unreachable / beyond ``cutoff``).
        nearest_source : numpy.ndarray (n_nodes,) int64
            Source group (index into ``sources.labels``), -1 if unreachable.
        """
        self._check_snap(sources, "sources")
        w = self._weight(weight)
        (d, _, src), pts = self._run(w, sources, cutoff, self._group_values(sources, handicap, "handicap"))
        n = self.n_nodes
        dist = d[:n].copy()
        s = src[:n].astype(np.int64)
        reach = s >= n
        near = np.full(n, -1, dtype=np.int64)
        near[reach] = sources.owner[pts[s[reach] - n]]
        dist[~reach] = np.inf
        return dist, near

    def _group_values(self, s: Snap, values: Any, name: str, default: float | None = None) -> np.ndarray | None:
        """One finite value >= 0 per group of ``s`` (a scalar is broadcast); None when not given."""
        if values is None:
            return None if default is None else np.full(s.n_groups, float(default))
        a = np.asarray(values, dtype=float)
        a = np.broadcast_to(a, (s.n_groups,)).astype(float) if a.ndim == 0 else a.reshape(-1)
        if a.size != s.n_groups:
            raise NetworkError(f"{name} needs one value per source group ({s.n_groups}), got {a.size}",
                               fix=f"give {name} in the order of sources.labels")
        bad = np.isnan(a) | (a < 0)
        if bad.any():
            raise NetworkError(f"{int(bad.sum())} {name} value(s) are negative or NaN (groups "
                               f"{s.labels[bad][:5].tolist()})", fix=f"{name} must be >= 0")
        return a

    def _target_parts(self, w: EdgeWeight, t: Snap) -> tuple[np.ndarray, ...]:
        """Per attached target point: (points, u node, v node, cost from u, cost to v); independent of sources."""
        tp = np.flatnonzero(t.ok)
        e = t.edge[tp]
        f = t.frac[tp]
        return tp, self.u[e], self.v[e], w.piece(e, np.zeros(f.size), f), w.piece(e, f, np.ones(f.size))

    def _nearest_points(self, w: EdgeWeight, sources: Snap, targets: Snap, cutoff: float | None,
                        tparts: tuple[np.ndarray, ...] | None = None):
        (res, pts) = self._run(w, sources, cutoff)
        d = res[0]
        src = res[-1]
        n = self.n_nodes
        tp, tu, tv, pu, pv = self._target_parts(w, targets) if tparts is None else tparts
        du = d[tu] + pu
        dv = d[tv] + pv
        direct, darg = self._same_edge(w, sources, pts, targets, tp)
        # ties go to the direct along-edge path, then to the u end (choice: 0 via u, 1 via v, 2 direct)
        via_v = dv < du
        best = np.where(via_v, dv, du)
        use_direct = direct <= best
        best = np.where(use_direct, direct, best)
        choice = via_v.astype(np.int64)
        choice[use_direct] = 2
        end_node = np.where(via_v, tv, tu)
        src_pt = np.where(use_direct, darg, src[end_node].astype(np.int64) - n)
        if cutoff is not None:
            best = np.where(best <= cutoff, best, np.inf)
        src_pt = np.where(np.isfinite(best), src_pt, -1)
        return tp, best, choice, src_pt, pts, res

    def _nearest_groups(self, sources: Snap, targets: Snap, tp: np.ndarray, best: np.ndarray, src_pt: np.ndarray,
                        pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gbest, garg = _group_argmin(best, targets.owner[tp], targets.n_groups)
        source = np.full(targets.n_groups, -1, dtype=np.int64)
        hit = garg >= 0
        source[hit] = sources.owner[pts[src_pt[garg[hit]]]]
        return gbest, source

    def nearest_many(self, sources: Sequence[Snap], targets: Snap, cutoff: Any = None, weight: Any = None
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`nearest` for several source sets and the same targets (e.g. one set per facility category).

        The targets' side (their edge ends and partial-edge costs) is computed once for all source sets, so this
        is faster than calling :meth:`nearest` per set; the results are identical.

        Parameters
        ----------
        sources : sequence of Snap
        targets : Snap
        cutoff : float or sequence of float/None, optional
            Maximum cost (metres for the default weight), one for all sets or one per set.
        weight : EdgeWeight or array (n_edges,), optional

        Returns
        -------
        list of (dist, source)
            Per source set, as returned by :meth:`nearest`.
        """
        self._check_snap(targets, "targets")
        for s in sources:
            self._check_snap(s, "sources")
        cut = list(cutoff) if isinstance(cutoff, (list, tuple, np.ndarray)) else [cutoff] * len(sources)
        if len(cut) != len(sources):
            raise NetworkError(f"cutoff has {len(cut)} values for {len(sources)} source sets",
                               fix="give one cutoff, or one per source set")
        w = self._weight(weight)
        tparts = self._target_parts(w, targets)
        out = []
        for s, c in zip(sources, cut):
            tp, best, _, src_pt, pts, _ = self._nearest_points(w, s, targets, c, tparts)
            out.append(self._nearest_groups(s, targets, tp, best, src_pt, pts))
        return out

    def nearest(self, sources: Snap, targets: Snap, cutoff: float | None = None, weight: Any = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """Network distance from each target to its nearest source (exact for points on the same edge).

        Parameters
        ----------
        sources, targets : Snap
        cutoff : float, optional
            Maximum cost (metres for the default weight); beyond it the target is unreachable.
        weight : EdgeWeight or array (n_edges,), optional

        Returns
        -------
        dist : numpy.ndarray (targets.n_groups,)
            Cost from the target to its nearest source; ``inf`` when unreachable or not attached.
        source : numpy.ndarray (targets.n_groups,) int64
            Source group index (into ``sources.labels``), -1 when unreachable.
        """
        self._check_snap(sources, "sources")
        self._check_snap(targets, "targets")
        w = self._weight(weight)
        tp, best, _, src_pt, pts, _ = self._nearest_points(w, sources, targets, cutoff)
        return self._nearest_groups(sources, targets, tp, best, src_pt, pts)

    def distance_matrix(self, sources: Snap, targets: Snap, cutoff: float | None = None, weight: Any = None,
                        memory_mb: float = DEFAULT_MEMORY_MB) -> np.ndarray:
        """Network cost between every source group and every target group.

        One Dijkstra call per chunk of sources (dense rows of ``n_nodes`` floats; chunks sized to
        ``memory_mb``).

        Returns
        -------
        numpy.ndarray (sources.n_groups, targets.n_groups)
            Metres for the default weight; ``inf`` when unreachable / beyond ``cutoff`` / not attached.
        """
        self._check_snap(sources, "sources")
        self._check_snap(targets, "targets")
        w = self._weight(weight)
        aug, pts = self._augmented(w, sources)
        n = self.n_nodes
        tp = np.flatnonzero(targets.ok)
        att = np.full((pts.size, tp.size), np.inf)
        te = targets.edge[tp]
        tf = targets.frac[tp]
        twe = w.values[te]
        tu, tv = self.u[te], self.v[te]
        limit = np.inf if cutoff is None else float(cutoff)
        chunk = max(1, int(memory_mb * 2**20 // (8 * 3 * (n + pts.size))))
        se_all = sources.edge[pts]
        sf_all = sources.frac[pts]
        tcu = w.piece(te, np.zeros(tf.size), tf)
        tcv = w.piece(te, tf, np.ones(tf.size))
        for a in range(0, pts.size, chunk):
            b = min(pts.size, a + chunk)
            D = dijkstra(aug, directed=True, indices=n + np.arange(a, b), limit=limit)
            m = np.minimum(D[:, tu] + tcu, D[:, tv] + tcv)
            same = se_all[a:b, None] == te[None, :]
            if w.end_u is None:
                dpart = _part(np.abs(sf_all[a:b, None] - tf[None, :]), twe[None, :])
            else:
                dpart = w.piece(np.broadcast_to(te[None, :], same.shape), np.broadcast_to(
                    sf_all[a:b, None], same.shape), np.broadcast_to(tf[None, :], same.shape))
            direct = np.where(same, dpart, np.inf)
            m = np.minimum(m, direct)
            att[a:b] = m
        if cutoff is not None:
            att[att > cutoff] = np.inf
        by_t = _group_min_columns(att, targets.owner[tp], targets.n_groups)  # (pts, Tg)
        return _group_min_columns(by_t.T, sources.owner[pts], sources.n_groups).T

    def k_nearest(self, sources: Snap, targets: Snap, k: int, cutoff: float | None = None, weight: Any = None,
                  memory_mb: float = DEFAULT_MEMORY_MB) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest source groups of every target group (e.g. the 3 nearest kindergartens).

        Returns
        -------
        dist : numpy.ndarray (targets.n_groups, k)
            Costs, ascending (``inf`` padding when fewer than ``k`` are reachable).
        source : numpy.ndarray (targets.n_groups, k) int64
            Source group indices, -1 padding.
        """
        if k < 1:
            raise NetworkError(f"k must be >= 1, got {k}", fix="ask for at least one nearest source")
        mat = self.distance_matrix(sources, targets, cutoff=cutoff, weight=weight, memory_mb=memory_mb).T
        g = mat.shape[1]
        kk = min(k, g)
        if kk < g:
            part = np.argpartition(mat, kk - 1, axis=1)[:, :kk]
        else:
            part = np.broadcast_to(np.arange(g), (mat.shape[0], g)).copy()
        vals = np.take_along_axis(mat, part, axis=1)
        order = np.argsort(vals, axis=1, kind="stable")
        idx = np.take_along_axis(part, order, axis=1)
        vals = np.take_along_axis(vals, order, axis=1)
        idx = np.where(np.isfinite(vals), idx, -1)
        dist = np.full((mat.shape[0], k), np.inf)
        src = np.full((mat.shape[0], k), -1, dtype=np.int64)
        dist[:, :kk] = vals
        src[:, :kk] = idx
        return dist, src

    # ------------------------------------------------------------------ paths
    def paths(self, sources: Snap, targets: Snap, weight: Any = None, cutoff: float | None = None) -> Paths:
        """Shortest path from every target group to its nearest source.

        One Dijkstra call gives the shortest-path forest of all sources (each node's predecessor towards its
        nearest source); the paths of all targets are read from it together, one hop per step.

        Returns
        -------
        Paths
            Edge indices in walking order source -> target, with the partial first and last edges.
        """
        self._check_snap(sources, "sources")
        self._check_snap(targets, "targets")
        w = self._weight(weight)
        tp, best, choice, src_pt, pts, res = self._nearest_points(w, sources, targets, cutoff)
        _, pred, _ = res
        G = targets.n_groups
        gbest, garg = _group_argmin(best, targets.owner[tp], G)
        hit = np.flatnonzero(garg >= 0)
        sel = garg[hit]  # positions into tp
        t_pt = tp[sel]
        ch = choice[sel]
        s_pt = pts[src_pt[sel]]
        t_edge = targets.edge[t_pt]
        entry = np.where(ch == 0, self.u[t_edge], self.v[t_edge])
        chain = self._walk_chains(w, np.asarray(pred).astype(np.int64, copy=False), np.zeros(hit.size, np.int64),
                                  entry, np.flatnonzero(ch != 2))
        return self._make_paths(sources, targets, hit, gbest, t_pt, ch, s_pt, chain)

    def paths_from(self, sources: Snap, targets: Snap, source: Any, weight: Any = None,
                   cutoff: float | np.ndarray | None = None, memory_mb: float = DEFAULT_MEMORY_MB) -> Paths:
        """Shortest path to every target group from a *given* source group (e.g. its assigned school).

        One shortest-path tree per source group (not per target): the augmented graph holding a virtual node
        for every attached source point is built once, then one :func:`scipy.sparse.csgraph.dijkstra` call per
        source group (over that group's virtual nodes, with predecessors, bounded by the group's ``cutoff``)
        gives its tree. Predecessor arrays are kept up to ``memory_mb`` and the paths of all targets of those
        trees are read from them together, one hop per step for all targets at once.

        (Measured on a 200,704-node grid: one call per source group with its own ``limit`` is faster than one
        call for a chunk of sources, whose dense ``(k, n)`` outputs cost more than the searches.)

        Parameters
        ----------
        sources, targets : Snap
        source : array-like (targets.n_groups,) of int
            Source group (index into ``sources.labels``) of each target group; -1 for none.
        weight : EdgeWeight or array (n_edges,), optional
            Default: edge length in metres.
        cutoff : float or array (sources.n_groups,), optional
            Maximum cost (metres for the default weight), one for all or one per source group; a target beyond
            it is unreachable (NaN or inf: no limit).
        memory_mb : float
            Budget (MiB) for the predecessor arrays kept between path readings.

        Returns
        -------
        Paths
            As :meth:`paths`: per target group the path (source -> target) from its given source; ``dist`` is
            ``inf`` and ``source`` -1 where it is unreachable, not attached, or has no source.

        Raises
        ------
        NetworkError
            ``source`` has the wrong length or names a source group that does not exist.
        """
        self._check_snap(sources, "sources")
        self._check_snap(targets, "targets")
        w = self._weight(weight)
        G = targets.n_groups
        src_of = np.asarray(source, dtype=np.int64).reshape(-1)
        if src_of.size != G:
            raise NetworkError(f"source needs one source group per target group ({G}), got {src_of.size}",
                               fix="give the index (into sources.labels) of each target's source, -1 for none")
        if (src_of >= sources.n_groups).any() or (src_of < -1).any():
            bad = np.flatnonzero((src_of >= sources.n_groups) | (src_of < -1))[:5].tolist()
            raise NetworkError(f"source names groups that are not among the {sources.n_groups} source groups "
                               f"(target groups {bad})", fix="use indices into sources.labels, -1 for none")
        if cutoff is None:
            lim = np.full(sources.n_groups, np.inf)
        else:
            c = np.asarray(cutoff, dtype=float)
            if c.ndim > 1 or (c.ndim == 1 and c.size != sources.n_groups):
                raise NetworkError(f"cutoff needs one value or one per source group ({sources.n_groups}), got "
                                   f"shape {c.shape}", fix="pass a number, or an array aligned with sources.labels")
            lim = np.broadcast_to(c, (sources.n_groups,)).copy()
            lim[np.isnan(lim)] = np.inf
        n = self.n_nodes
        aug, pts = self._augmented(w, sources)
        N = n + pts.size
        # attached points per source group and per target group
        p_owner = sources.owner[pts]
        p_order = np.argsort(p_owner, kind="stable")
        p_start = np.searchsorted(p_owner[p_order], np.arange(sources.n_groups + 1))
        tp_all = np.flatnonzero(targets.ok)
        t_order = tp_all[np.argsort(targets.owner[tp_all], kind="stable")]
        t_start = np.searchsorted(targets.owner[t_order], np.arange(G + 1))
        # target groups by source group
        want = np.flatnonzero(src_of >= 0)
        want = want[np.argsort(src_of[want], kind="stable")]
        groups, g_first = np.unique(src_of[want], return_index=True)
        g_bounds = np.r_[g_first, want.size]
        gbest = np.full(G, np.inf)
        rec: list[tuple[np.ndarray, ...]] = []  # per group: hit target groups, t_pt, choice, s_pt, entry, row
        rows_max = max(1, int(memory_mb * 2**20 // (8 * N)))
        buf: list[np.ndarray] = []
        pending: list[int] = []
        chains: list[tuple[np.ndarray, ...]] = []

        def flush() -> None:
            if not pending:
                return
            flat = np.concatenate(buf)
            ids = np.concatenate([rec[i][0] for i in pending])
            base = np.concatenate([np.full(rec[i][0].size, k * N, dtype=np.int64) for k, i in enumerate(pending)])
            ch = np.concatenate([rec[i][2] for i in pending])
            entry = np.concatenate([rec[i][4] for i in pending])
            chains.append((ids, self._walk_chains(w, flat, base, entry, np.flatnonzero(ch != 2))))
            buf.clear()
            pending.clear()

        for gi, g in enumerate(groups):
            tg = want[g_bounds[gi]:g_bounds[gi + 1]]
            jpos = p_order[p_start[g]:p_start[g + 1]]  # positions into pts (virtual node n + j)
            if jpos.size == 0 or tg.size == 0:
                continue
            tpi, trow = ragged_ranges(t_start[tg], t_start[tg + 1] - t_start[tg])
            tp = t_order[tpi]
            if tp.size == 0:
                continue
            d, pred, srcs = dijkstra(aug, directed=True, indices=n + jpos, min_only=True,
                                     return_predecessors=True, limit=float(lim[g]))
            du, dv = self._target_dist(w, d, targets, tp)
            direct, darg = self._same_edge(w, sources, pts[jpos], targets, tp)
            choice = np.array([2, 0, 1])[np.argmin(np.stack([direct, du, dv]), axis=0)]
            best = np.choose(choice, [du, dv, direct])
            best = np.where(best <= lim[g], best, np.inf)
            te = targets.edge[tp]
            end_node = np.where(choice == 0, self.u[te], self.v[te])
            spt = np.where(choice == 2, jpos[np.maximum(darg, 0)], srcs[end_node].astype(np.int64) - n)
            b, arg = _group_argmin(best, trow, tg.size)
            ok = arg >= 0
            gbest[tg] = b
            if not ok.any():
                continue
            a = arg[ok]
            ch = choice[a]
            entry = np.where(ch == 0, self.u[te[a]], self.v[te[a]])
            rec.append((tg[ok], tp[a], ch, pts[spt[a]], entry))
            if len(pending) >= rows_max:
                flush()
            pending.append(len(rec) - 1)
            buf.append(pred.astype(np.int64 if N >= 2**31 - 1 else np.int32, copy=False))
        flush()
        if not rec:
            return self._make_paths(sources, targets, np.zeros(0, np.int64), gbest, np.zeros(0, np.int64),
                                    np.zeros(0, np.int64), np.zeros(0, np.int64),
                                    self._walk_chains(w, np.zeros(0, np.int64), np.zeros(0, np.int64),
                                                      np.zeros(0, np.int64), np.zeros(0, np.int64)))
        hit_r = np.concatenate([r[0] for r in rec])
        order = np.argsort(hit_r, kind="stable")
        hit = hit_r[order]
        t_pt = np.concatenate([r[1] for r in rec])[order]
        ch = np.concatenate([r[2] for r in rec])[order]
        s_pt = np.concatenate([r[3] for r in rec])[order]
        # merge the chains of the batches, renumbered to positions in ``hit``
        pos_of = np.empty(hit_r.size, dtype=np.int64)
        pos_of[order] = np.arange(hit_r.size)
        offs = np.cumsum([0] + [c[0].size for c in chains])
        ct, ce, cf, cs, ex = [], [], [], [], np.full(hit.size, -1, dtype=np.int64)
        for k, (ids, (c_t, c_e, c_f, c_s, c_x)) in enumerate(chains):
            glob = pos_of[offs[k] + np.arange(ids.size)]
            ct.append(glob[c_t])
            ce.append(c_e)
            cf.append(c_f)
            cs.append(c_s)
            ex[glob] = c_x
        chain = (np.concatenate(ct), np.concatenate(ce), np.concatenate(cf), np.concatenate(cs), ex)
        return self._make_paths(sources, targets, hit, gbest, t_pt, ch, s_pt, chain)

    def _walk_chains(self, w: EdgeWeight, pred: np.ndarray, base: np.ndarray, entry: np.ndarray,
                     active: np.ndarray) -> tuple[np.ndarray, ...]:
        """Walk predecessors from ``entry`` nodes back to a virtual source node, one hop per step for all at once.

        ``pred`` is a flat predecessor array (several trees concatenated, tree ``k`` at ``base = k * N``) over
        the augmented graph (nodes >= ``n_nodes`` are virtual sources). Returns the chain records (target,
        edge, walked u -> v, step) and the exit node (last real node before the source) of each target.
        """
        n = self.n_nodes
        m = entry.size
        rec_t: list[np.ndarray] = []
        rec_e: list[np.ndarray] = []
        rec_f: list[np.ndarray] = []
        rec_s: list[np.ndarray] = []
        exit_node = np.full(m, -1, dtype=np.int64)
        cur = entry.astype(np.int64).copy()
        step = 0
        while active.size:
            c = cur[active]
            p = pred[base[active] + c].astype(np.int64)
            is_real = (p >= 0) & (p < n)
            done = ~is_real
            exit_node[active[done]] = c[done]
            a_r = active[is_real]
            if a_r.size:
                pr = p[is_real]
                e = w.lookup(pr, c[is_real])
                rec_t.append(a_r)
                rec_e.append(e)
                rec_f.append(self.u[e] == pr)
                rec_s.append(np.full(a_r.size, step))
                cur[a_r] = pr
            active = a_r
            step += 1
            if step > n + 1:  # a cycle would be a bug in the predecessor array
                raise NetworkError("predecessor walk did not terminate", fix="report this network")
        cat = (lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dtype=dt))
        return (cat(rec_t, np.int64), cat(rec_e, np.int64), cat(rec_f, bool), cat(rec_s, np.int64), exit_node)

    def _make_paths(self, sources: Snap, targets: Snap, hit: np.ndarray, gbest: np.ndarray, t_pt: np.ndarray,
                    ch: np.ndarray, s_pt: np.ndarray, chain: tuple[np.ndarray, ...]) -> Paths:
        """Assemble :class:`Paths` from the chosen target/source points of the reached target groups ``hit``
        (``ch``: 0 entered at u, 1 at v, 2 direct along a shared edge) and their predecessor chains."""
        G = targets.n_groups
        ct, ce, cf, cs, exit_node = chain
        t_edge = targets.edge[t_pt]
        s_edge = sources.edge[s_pt]
        via = ch != 2
        order = np.lexsort((-cs, ct))  # per target, source side first
        ct, ce, cf = ct[order], ce[order], cf[order]
        n_chain = np.bincount(ct, minlength=hit.size)
        # first edge: source's edge (walked from the source towards exit_node); last: target's edge
        s_loop = self.u[s_edge] == self.v[s_edge]
        s_frac = sources.frac[s_pt]
        # leaving the source's edge at v means walking it u -> v; on a loop edge, the shorter way round
        src_fwd = np.where(s_loop, (1.0 - s_frac) < s_frac, exit_node == self.v[s_edge])
        tgt_fwd = ch == 0  # entering the target's edge at u means walking it u -> v
        direct_fwd = targets.offset[t_pt] >= sources.offset[s_pt]
        counts = np.where(via, n_chain + 2, 1)
        ptr_h = np.zeros(hit.size + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr_h[1:])
        flat_e = np.empty(ptr_h[-1], dtype=np.int64)
        flat_f = np.empty(ptr_h[-1], dtype=bool)
        flat_e[ptr_h[:-1]] = s_edge
        flat_f[ptr_h[:-1]] = np.where(via, src_fwd, direct_fwd)
        last = ptr_h[1:] - 1
        flat_e[last[via]] = t_edge[via]
        flat_f[last[via]] = tgt_fwd[via]
        if ct.size:
            chain_start = ptr_h[:-1][ct] + 1
            rank = np.arange(ct.size) - np.repeat(np.cumsum(n_chain) - n_chain, n_chain)
            flat_e[chain_start + rank] = ce
            flat_f[chain_start + rank] = cf
        s_off_h = sources.offset[s_pt].copy()
        t_off_h = targets.offset[t_pt].copy()
        # drop a first/last edge walked over zero metres (a point sitting at a node), so that paths list only
        # edges actually walked; the offsets then refer to the new first/last edge's end node
        L = self.length
        first_i, last_i = ptr_h[:-1], ptr_h[1:] - 1
        first_len = np.where(flat_f[first_i], L[flat_e[first_i]] - s_off_h, s_off_h)
        last_len = np.where(flat_f[last_i], t_off_h, L[flat_e[last_i]] - t_off_h)
        drop_first = (counts > 1) & (first_len <= 0)
        drop_last = (counts > 1) & (last_len <= 0) & ~(drop_first & (counts == 2))
        keep = np.ones(flat_e.size, dtype=bool)
        keep[first_i[drop_first]] = False
        keep[last_i[drop_last]] = False
        nf = first_i[drop_first] + 1
        s_off_h[drop_first] = np.where(flat_f[nf], 0.0, L[flat_e[nf]])
        nl = last_i[drop_last] - 1
        t_off_h[drop_last] = np.where(flat_f[nl], L[flat_e[nl]], 0.0)
        counts = counts - drop_first - drop_last
        flat_e, flat_f = flat_e[keep], flat_f[keep]
        # expand to all target groups (unreachable ones get empty paths)
        counts_all = np.zeros(G, dtype=np.int64)
        counts_all[hit] = counts
        ptr = np.zeros(G + 1, dtype=np.int64)
        np.cumsum(counts_all, out=ptr[1:])
        source = np.full(G, -1, dtype=np.int64)
        source[hit] = sources.owner[s_pt]
        s_off = np.full(G, np.nan)
        t_off = np.full(G, np.nan)
        s_off[hit] = s_off_h
        t_off[hit] = t_off_h
        return Paths(dist=gbest, source=source, ptr=ptr, flat_edges=flat_e, flat_forward=flat_f,
                     source_offset=s_off, target_offset=t_off, network=self)

    def path_costs(self, paths: Paths, weight: Any = None) -> np.ndarray:
        """Cost of each path under a weight, by the rules of the searches.

        Whole edges cost their weight; the partial first and last edges cost their walked share
        (:meth:`EdgeWeight.piece`, so end costs at nodes passed are paid in full). For the weight a path was
        searched with this equals ``paths.dist`` (up to rounding); for another weight it is that path's cost
        under it (e.g. a shortest route's stress cost).

        Parameters
        ----------
        paths : Paths
            From :meth:`paths` / :meth:`paths_from` on this network.
        weight : EdgeWeight or array (n_edges,), optional
            Default: edge length (the result is then the walked length in metres).

        Returns
        -------
        numpy.ndarray (len(paths),)
            Cost per path; ``inf`` for unreachable (empty) paths.
        """
        w = self._weight(weight)
        G = len(paths)
        counts = np.diff(paths.ptr)
        st = paths.steps()
        e = st.edge
        ends = np.flatnonzero(st.first | st.last)
        Le, start, end = self.length[e[ends]], st.start[ends], st.end[ends]
        with np.errstate(divide="ignore", invalid="ignore"):
            fa = np.where(Le > 0, start / Le, np.where(start > 0, 1.0, 0.0))
            fb = np.where(Le > 0, end / Le, np.where(end > 0, 1.0, 0.0))
        # whole edges: exactly their weight (also zero-length ones); partial ends: their walked share
        c = w.values[e]
        c[ends] = w.piece(e[ends], fa, fb)
        out = np.bincount(st.path, weights=c, minlength=G)
        return np.where(counts > 0, out, np.inf)

    def _vertex_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All edge vertices: coords (K, 2), start pointer per edge (e+1,), cumulative distance per vertex (K,)."""
        if self._vcoords is not None:
            return self._vcoords
        with self._lazy_lock:
            if self._vcoords is None:
                self._vcoords = self._build_vertex_table()
        return self._vcoords

    def _build_vertex_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        coords, li = shapely.get_coordinates(self._geom, return_index=True)
        ptr = np.zeros(self.n_edges + 1, dtype=np.int64)
        np.cumsum(np.bincount(li, minlength=self.n_edges), out=ptr[1:])
        seg = np.r_[0.0, np.hypot(*np.diff(coords, axis=0).T)]
        seg[ptr[:-1]] = 0.0
        cum = np.cumsum(seg)
        cum -= np.repeat(cum[ptr[:-1]], np.diff(ptr))
        return coords, ptr, cum

    def substrings(self, edge: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Pieces of edges between two distances from ``u`` (vectorised ``shapely.ops.substring``).

        Parameters
        ----------
        edge : array (p,) of edge indices
        start, end : array (p,)
            Metres from the edge's ``u`` end; ``start > end`` gives the piece oriented towards ``u``.

        Returns
        -------
        numpy.ndarray (p,) of LineStrings (network CRS)
        """
        edge = np.asarray(edge, dtype=np.int64)
        start = np.asarray(start, dtype=float)
        end = np.asarray(end, dtype=float)
        if edge.size == 0:
            return np.zeros(0, dtype=object)
        coords, vptr, cum = self._vertex_table()
        lo = np.clip(np.minimum(start, end), 0, self.length[edge])
        hi = np.clip(np.maximum(start, end), 0, self.length[edge])
        idx, row = ragged_ranges(vptr[edge], vptr[edge + 1] - vptr[edge])
        inner = (cum[idx] > lo[row]) & (cum[idx] < hi[row])
        idx, row = idx[inner], row[inner]
        g = self._geom[edge]
        p0 = shapely.get_coordinates(shapely.line_interpolate_point(g, lo))
        p1 = shapely.get_coordinates(shapely.line_interpolate_point(g, hi))
        p = edge.size
        allrow = np.concatenate([np.arange(p), row, np.arange(p)])
        rank = np.concatenate([np.zeros(p), 1.0 + cum[idx], np.full(p, np.inf)])
        xy = np.concatenate([p0, coords[idx], p1])
        order = np.lexsort((rank, allrow))
        lines = shapely.linestrings(xy[order], indices=allrow[order])
        rev = start > end
        if rev.any():
            lines[rev] = shapely.reverse(lines[rev])
        return lines

    def _paths_length(self, P: Paths) -> np.ndarray:
        G = len(P)
        counts = np.diff(P.ptr)
        full = self.length[P.flat_edges]
        first = P.ptr[:-1][counts > 0]
        last = P.ptr[1:][counts > 0] - 1
        g = np.flatnonzero(counts > 0)
        L = np.full(G, np.inf)
        tot = np.zeros(G)
        np.add.at(tot, np.repeat(np.arange(G), counts), full)
        so, to = P.source_offset[g], P.target_offset[g]
        fe, le = P.flat_edges[first], P.flat_edges[last]
        single = counts[g] == 1
        fw_first = P.flat_forward[first]
        fw_last = P.flat_forward[last]
        first_len = np.where(fw_first, self.length[fe] - so, so)
        last_len = np.where(fw_last, to, self.length[le] - to)
        multi = tot[g] - self.length[fe] - self.length[le] + first_len + last_len
        L[g] = np.where(single, np.abs(to - so), multi)
        return L

    def _paths_linestrings(self, P: Paths, reverse: bool = False, crs: Any = None) -> np.ndarray:
        """Path LineStrings from the vertex table with array operations only (no per-path unions).

        Whole edges contribute their vertices, the partial first/last edges are cut by linear interpolation on
        their segments; repeated vertices where consecutive edges meet are dropped. ``reverse`` gives target ->
        source lines; ``crs`` transforms the coordinates (one pyproj call) before the lines are made.
        Returns an object array (len(P),) with None for empty (unreachable) paths.
        """
        G = len(P)
        out = np.full(G, None, dtype=object)
        counts = np.diff(P.ptr)
        T = int(P.flat_edges.size)
        if T == 0:
            return out
        coords, vptr, cum = self._vertex_table()
        st = P.steps()
        path_of, e = st.path, st.edge
        L = self.length[e]
        pos = np.arange(T)
        start = np.clip(st.start, 0.0, L)
        end = np.clip(st.end, 0.0, L)
        if reverse:  # walk each entry from its end to its start, the entries of a path in reverse order
            ent = P.ptr[:-1][path_of] + P.ptr[1:][path_of] - 1 - pos
            a, b = end[ent], start[ent]
        else:
            ent = pos
            a, b = start, end
        e = e[ent]
        v0, v1 = vptr[e], vptr[e + 1]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        # interior vertices: a contiguous index range [k_lo, k_hi) per entry (whole edges: all but the ends)
        part = np.flatnonzero((lo > 0.0) | (hi < L[ent]))
        k_lo = v0 + 1
        k_hi = v1 - 1
        pa = np.zeros(T, dtype=np.int64)  # vertices with cum <= a (partial entries), for interpolation
        pb = np.zeros(T, dtype=np.int64)
        if part.size:
            idx, row = ragged_ranges(v0[part], v1[part] - v0[part])
            c = cum[idx]
            k_lo[part] = v0[part] + np.bincount(row, weights=c <= lo[part][row], minlength=part.size).astype(
                np.int64)
            k_hi[part] = v0[part] + np.bincount(row, weights=c < hi[part][row], minlength=part.size).astype(
                np.int64)
            pa[part] = np.bincount(row, weights=c <= a[part][row], minlength=part.size).astype(np.int64)
            pb[part] = np.bincount(row, weights=c <= b[part][row], minlength=part.size).astype(np.int64)
        n_int = np.maximum(k_hi - k_lo, 0)

        Le = L[ent]

        def point_at(sel: np.ndarray, x: np.ndarray, cnt_le: np.ndarray) -> np.ndarray:
            """Coordinates at distance x from u on the edges of entries ``sel`` (exact vertices at the ends)."""
            xs = x[sel]
            xy = coords[np.where(xs <= 0.0, v0[sel], v1[sel] - 1)]
            mid = np.flatnonzero((xs > 0.0) & (xs < Le[sel]))
            if mid.size:
                m = sel[mid]
                k0 = np.clip(v0[m] + cnt_le[m] - 1, v0[m], v1[m] - 2)
                seg = cum[k0 + 1] - cum[k0]
                with np.errstate(divide="ignore", invalid="ignore"):
                    t = np.where(seg > 0, (xs[mid] - cum[k0]) / seg, 0.0)
                t = np.clip(t, 0.0, 1.0)[:, None]
                xy[mid] = coords[k0] + t * (coords[k0 + 1] - coords[k0])
            return xy

        pa_xy = point_at(pos, a, pa)
        # layout per path: for each entry its start point and interior vertices, then the last entry's end
        per_entry = 1 + n_int
        nonempty = counts > 0
        slot_n = np.zeros(T + G, dtype=np.int64)
        rank = pos - P.ptr[:-1][path_of]
        slot_entry = P.ptr[:-1][path_of] + path_of + rank
        slot_extra = P.ptr[1:] + np.arange(G)
        slot_n[slot_entry] = per_entry
        slot_n[slot_extra] = nonempty.astype(np.int64)
        slot_pos = np.zeros(T + G + 1, dtype=np.int64)
        np.cumsum(slot_n, out=slot_pos[1:])
        M = int(slot_pos[-1])
        xy = np.empty((M, 2))
        pid = np.empty(M, dtype=np.int64)
        p0 = slot_pos[slot_entry]
        xy[p0] = pa_xy
        pid[p0] = path_of
        # interior vertices, from a towards b
        idx, row = ragged_ranges(np.zeros(T, dtype=np.int64), n_int)
        desc = a > b
        src = np.where(desc[row], k_hi[row] - 1 - idx, k_lo[row] + idx)
        dst = p0[row] + 1 + idx
        xy[dst] = coords[src]
        pid[dst] = path_of[row]
        ne = np.flatnonzero(nonempty)
        lastent = P.ptr[1:][ne] - 1
        xy[slot_pos[slot_extra[ne]]] = point_at(lastent, b, pb)
        pid[slot_pos[slot_extra[ne]]] = ne
        # drop repeated vertices where consecutive pieces meet
        keep = np.ones(M, dtype=bool)
        keep[1:] = ~((pid[1:] == pid[:-1]) & (xy[1:, 0] == xy[:-1, 0]) & (xy[1:, 1] == xy[:-1, 1]))
        xy, pid = xy[keep], pid[keep]
        npts = np.bincount(pid, minlength=G)
        one = np.flatnonzero(npts == 1)  # zero-length path: repeat the point so it is a valid LineString
        if one.size:
            at = np.searchsorted(pid, one)
            xy = np.insert(xy, at, xy[at], axis=0)
            pid = np.insert(pid, at, one)
        if crs is not None and not CRS.from_user_input(crs).equals(self.crs):
            tr = transformer(self.crs, crs)
            xy = np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
        used = np.flatnonzero(nonempty)
        inv = np.searchsorted(used, pid)
        out[used] = shapely.linestrings(xy, indices=inv)
        return out

    def _paths_geometry(self, P: Paths) -> gpd.GeoSeries:
        return gpd.GeoSeries(self._paths_linestrings(P), crs=self.crs)

    def path_geometry(self, edge_indices: Sequence[int], start_offset: float | None = None,
                      end_offset: float | None = None) -> shapely.LineString:
        """One path's LineString from its edge sequence (walking order), the first/last edges cut at offsets.

        Parameters
        ----------
        edge_indices : sequence of int
            Consecutive edges (each sharing a node with the next).
        start_offset : float, optional
            Position on the first edge (metres from its ``u``) where the walk starts; default its far end from
            the second edge (whole edge).
        end_offset : float, optional
            Position on the last edge where the walk ends; default the whole edge.

        Returns
        -------
        shapely.LineString (network CRS)
        """
        e = np.asarray(edge_indices, dtype=np.int64)
        if e.size == 0:
            raise NetworkError("an empty path has no geometry", fix="check that the target is reachable")
        if e.size == 1:
            a = 0.0 if start_offset is None else start_offset
            b = self.length[e[0]] if end_offset is None else end_offset
            fw = np.array([b >= a])
        else:
            u, v = self.u[e], self.v[e]
            # a node shared with the next edge is where the edge is left
            shared_next = np.where((v[:-1] == u[1:]) | (v[:-1] == v[1:]), v[:-1], u[:-1])
            fw = np.empty(e.size, dtype=bool)
            fw[:-1] = shared_next == v[:-1]
            fw[-1] = shared_next[-1] == u[-1]
        P = Paths(dist=np.zeros(1), source=np.zeros(1, dtype=np.int64), ptr=np.array([0, e.size]),
                  flat_edges=e, flat_forward=fw,
                  source_offset=np.array([(0.0 if fw[0] else self.length[e[0]]) if start_offset is None
                                          else float(start_offset)]),
                  target_offset=np.array([(self.length[e[-1]] if fw[-1] else 0.0) if end_offset is None
                                          else float(end_offset)]), network=self)
        return self._paths_geometry(P).iloc[0]

    # ------------------------------------------------------------------ service areas
    def reachable_edges(self, node_dist: np.ndarray, cutoff: float, weight: Any = None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """How far along every edge one gets within ``cutoff`` from the ``u`` end and from the ``v`` end.

        Parameters
        ----------
        node_dist : numpy.ndarray (n_nodes,)
            Cost to every node (from :meth:`node_distances`).
        cutoff : float
            Budget, same unit as ``node_dist`` (metres for the default weight).
        weight : EdgeWeight or array, optional
            The weight ``node_dist`` was computed with (to convert the remaining budget into metres).

        Returns
        -------
        reach_u, reach_v : numpy.ndarray (n_edges,)
            Metres reachable along the edge from ``u`` and from ``v`` (0..length); the edge is wholly covered
            when ``reach_u + reach_v >= length``. Pieces around sources on an edge are given by
            :meth:`edge_pieces` with ``sources``.
        """
        w = self._weight(weight)
        nd = np.asarray(node_dist, dtype=float)
        L = self.length
        with np.errstate(divide="ignore", invalid="ignore"):
            metres_per_cost = np.where(w.values > 0, L / w.values, np.inf)
            ru = np.clip((cutoff - nd[self.u]) * metres_per_cost, 0.0, L)
            rv = np.clip((cutoff - nd[self.v]) * metres_per_cost, 0.0, L)
        ru = np.where(np.isnan(ru), np.where(cutoff - nd[self.u] >= 0, L, 0.0), ru)
        rv = np.where(np.isnan(rv), np.where(cutoff - nd[self.v] >= 0, L, 0.0), rv)
        return ru, rv

    def edge_pieces(self, node_dist: np.ndarray, cutoff: float, weight: Any = None,
                    sources: Snap | None = None) -> gpd.GeoDataFrame:
        """The walkable pieces of edges within ``cutoff`` (for service-area polygons).

        Returns
        -------
        geopandas.GeoDataFrame
            ``edge``, ``start_m``, ``end_m`` (metres from ``u``), geometry (network CRS). Whole edges appear
            once; partly reached edges as one piece from each reached end; with ``sources``, the stretch within
            ``cutoff`` of each source on its own edge is added (pieces may overlap).
        """
        _, edge, st, en = self.reached_pieces(node_dist, cutoff, weight=weight, sources=sources)
        geom = self.substrings(edge, st, en)
        return gpd.GeoDataFrame({"edge": edge, "start_m": st, "end_m": en}, geometry=geom, crs=self.crs)

    def _incidence(self) -> tuple[np.ndarray, np.ndarray]:
        """Edges at every node: ``edges[ptr[i]:ptr[i+1]]`` (a loop edge is listed twice at its node)."""
        if self._inc is None:
            with self._lazy_lock:
                if self._inc is None:
                    ends = np.concatenate([self.u, self.v])
                    order = np.argsort(ends, kind="stable")
                    ptr = np.zeros(self.n_nodes + 1, dtype=np.int64)
                    np.cumsum(np.bincount(ends, minlength=self.n_nodes), out=ptr[1:])
                    self._inc = (ptr, order % self.n_edges, order < self.n_edges)
        return self._inc[0], self._inc[1]

    def reach(self, sources: Snap, cutoff: Any, weight: Any = None, memory_mb: float = DEFAULT_MEMORY_MB
              ) -> sp.csr_array:
        """Bounded search from every source group separately: the cost to each node it reaches.

        One virtual node per group (linked to the ends of its points' edges) in one augmented graph; groups are
        searched in chunks of equal-sized dense rows (``memory_mb``) with :func:`scipy.sparse.csgraph.dijkstra`
        bounded by the chunk's largest cutoff, and only the entries within each group's own cutoff are kept.

        Parameters
        ----------
        sources : Snap
        cutoff : float or array-like (sources.n_groups,)
            Budget per group (metres for the default weight), finite and >= 0.
        weight : EdgeWeight or array (n_edges,), optional
        memory_mb : float
            Memory for the dense rows of one chunk.

        Returns
        -------
        scipy.sparse.csr_array (sources.n_groups, n_nodes)
            Stored entries are exactly the reached nodes (cost <= the group's cutoff); a cost of 0 is stored
            explicitly, so read ``indptr``/``indices``/``data`` rather than testing for non-zeros. Groups without
            an attached point have an empty row.
        """
        self._check_snap(sources, "sources")
        w = self._weight(weight)
        cut = self._group_values(sources, cutoff, "cutoff")
        if not np.isfinite(cut).all():
            raise NetworkError("reach() needs a finite cutoff per source group",
                               fix="use node_distances() for unbounded searches")
        n, G = self.n_nodes, sources.n_groups
        owner = sources.owner[sources.ok]
        gk = np.unique(owner)                     # groups with an attached point, one virtual node each
        slack = self._straight_line_slack(w)
        if slack is not None and gk.size:
            local = self._reach_local(w, sources, cut, slack, memory_mb)
            if local is not None:
                return local
        aug, _ = self._augmented(w, sources, virtual=np.searchsorted(gk, owner))
        chunk = max(1, int(memory_mb * 2**20 // (8 * (n + gk.size))))
        order = gk[np.argsort(cut[gk], kind="stable")]
        rows_, cols_, vals_ = [], [], []
        for a in range(0, order.size, chunk):
            grp = order[a:a + chunk]
            D = dijkstra(aug, directed=True, indices=n + np.searchsorted(gk, grp), limit=float(cut[grp].max()))
            r, c = np.nonzero(D[:, :n] <= cut[grp][:, None])
            rows_.append(grp[r])
            cols_.append(c)
            vals_.append(D[r, c])
            del D
        return _csr_from_parts(rows_, cols_, vals_, (G, n))

    def _straight_line_slack(self, w: EdgeWeight) -> float | None:
        """Metres by which a straight-line distance may exceed the cost of a path under ``w``; None when ``w``
        does not bound straight lines (a cost below the edge's length).

        A path costs at least its length when every edge's cost (the part paid along it, without end costs) is
        at least its geometric length; its length is at least the straight line between its ends, up to the
        distance between node coordinates and their edges' ends (measured here) and 0.5 % for lengths that were
        measured in another projection.
        """
        vals = w.values
        if w.end_u is not None:
            with np.errstate(invalid="ignore"):
                vals = w.values - w.end_u - w.end_v
        ok = np.isinf(w.values) | (vals >= self.length * 0.995)
        if not ok.all():
            return None
        coords, ptr, _ = self._vertex_table()
        if coords.shape[0] == 0:
            return None
        du = np.hypot(coords[ptr[:-1], 0] - self.x[self.u], coords[ptr[:-1], 1] - self.y[self.u])
        dv = np.hypot(coords[ptr[1:] - 1, 0] - self.x[self.v], coords[ptr[1:] - 1, 1] - self.y[self.v])
        return 2.0 * float(max(du.max(), dv.max())) + 1.0

    def _reach_local(self, w: EdgeWeight, sources: Snap, cut: np.ndarray, slack: float, memory_mb: float
                     ) -> sp.csr_array | None:
        """:meth:`reach` on local subgraphs: the source groups are taken tile by tile, each tile's searches run
        on the nodes within straight-line reach of its groups (cutoff + ``slack`` around their points), which
        hold every path within the cutoff (a path costs at least its straight-line length; see
        :meth:`_straight_line_slack`). Same result as the searches on the whole network; the dense rows shrink
        from all nodes to a window's. None when windows would not be much smaller than the network."""
        n, G = self.n_nodes, sources.n_groups
        pts, cols, vals, keep = self._source_links(w, sources)
        owner = sources.owner[pts]
        gk = np.unique(owner)
        gpos = np.searchsorted(gk, owner)
        pxy = sources.xy[pts]
        lo = np.full((gk.size, 2), np.inf)
        hi = np.full((gk.size, 2), -np.inf)
        np.minimum.at(lo, gpos, pxy)
        np.maximum.at(hi, gpos, pxy)
        r = cut[gk] * 1.005 + slack                               # straight-line reach of each group
        tile = max(2.0 * float(r.max()), 100.0)
        nxy = np.c_[self.x, self.y]
        n0, n1 = nxy.min(axis=0), nxy.max(axis=0)
        if (tile + 2 * float(r.max())) ** 2 > 0.25 * float(np.prod(np.maximum(n1 - n0, 1.0))):
            return None
        # nodes bucketed on a grid of half-reach cells, to gather a window's nodes without scanning them all
        cell = max(float(r.max()) / 2.0, float(np.sqrt(np.prod(np.maximum(n1 - n0, 1.0)) / 4e6)))
        shape = np.floor((n1 - n0) / cell).astype(np.int64) + 1
        ncell = (np.floor((nxy - n0) / cell).astype(np.int64) * [shape[1], 1]).sum(axis=1)
        node_order = np.argsort(ncell, kind="stable")
        cptr = np.zeros(int(shape[0] * shape[1]) + 1, dtype=np.int64)
        np.cumsum(np.bincount(ncell, minlength=int(shape[0] * shape[1])), out=cptr[1:])
        # groups by tile, and by cutoff within a tile
        centre = (lo + hi) / 2.0
        tkey = np.floor((centre - n0) / tile).astype(np.int64)
        gorder = np.lexsort((cut[gk], tkey[:, 1], tkey[:, 0]))
        tk = tkey[gorder]
        tstart = np.flatnonzero(np.r_[True, (tk[1:] != tk[:-1]).any(axis=1)])
        base = w.csr
        remap = np.full(n, -1, dtype=np.int64)
        pts_of = np.argsort(gpos, kind="stable")                  # attached points grouped by group position
        pptr = np.searchsorted(gpos[pts_of], np.arange(gk.size + 1))
        rows_, cols_, vals_ = [], [], []
        for a, b in zip(tstart, np.r_[tstart[1:], gk.size]):
            gsel = gorder[a:b]
            wlo = (lo[gsel] - r[gsel, None]).min(axis=0)
            whi = (hi[gsel] + r[gsel, None]).max(axis=0)
            c0 = np.clip(np.floor((wlo - n0) / cell).astype(np.int64), 0, shape - 1)
            c1 = np.clip(np.floor((whi - n0) / cell).astype(np.int64), 0, shape - 1)
            ci = np.arange(c0[0], c1[0] + 1)[:, None] * shape[1] + np.arange(c0[1], c1[1] + 1)[None, :]
            ci = ci.ravel()
            idx, _ = ragged_ranges(cptr[ci], cptr[ci + 1] - cptr[ci])
            sub = np.sort(node_order[idx])
            sx, sy = self.x[sub], self.y[sub]
            sub = sub[(sx >= wlo[0]) & (sx <= whi[0]) & (sy >= wlo[1]) & (sy <= whi[1])]
            m = sub.size
            remap[sub] = np.arange(m)
            eidx, erow = ragged_ranges(base.indptr[sub].astype(np.int64),
                                        (base.indptr[sub + 1] - base.indptr[sub]).astype(np.int64))
            ecol = remap[base.indices[eidx]]
            inside = ecol >= 0
            sub_csr = sp.csr_array((base.data[eidx][inside], ecol[inside].astype(base.indices.dtype),
                                    np.r_[0, np.cumsum(np.bincount(erow[inside], minlength=m))]
                                    .astype(base.indices.dtype)), shape=(m, m))
            rows_per = max(1, int(memory_mb * 2**20 // (8 * (m + gsel.size))))
            for a2 in range(0, gsel.size, rows_per):
                grp = gsel[a2:a2 + rows_per]                    # group positions (into gk)
                pi, prow = ragged_ranges(pptr[grp], pptr[grp + 1] - pptr[grp])
                pj = pts_of[pi]
                lc = remap[cols[pj]]
                aug = _with_virtual(sub_csr, prow, np.where(lc >= 0, lc, 0), vals[pj], keep[pj] & (lc >= 0),
                                    grp.size)
                lim = cut[gk[grp]]
                D = dijkstra(aug, directed=True, indices=m + np.arange(grp.size), limit=float(lim.max()))
                rr, cc = np.nonzero(D[:, :m] <= lim[:, None])
                rows_.append(gk[grp][rr])
                cols_.append(sub[cc])
                vals_.append(D[rr, cc])
                del D
            remap[sub] = -1
        return _csr_from_parts(rows_, cols_, vals_, (G, n))

    def reached_pieces(self, dist: Any, cutoff: Any, weight: Any = None, sources: Snap | None = None,
                       handicap: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The pieces of edges within budget, as arrays (no geometry), for one or many rows of node costs.

        Parameters
        ----------
        dist : numpy.ndarray (n_nodes,) or (r, n_nodes), or scipy sparse (r, n_nodes)
            Cost to the nodes (:meth:`node_distances`, or :meth:`reach` whose stored entries are the reached
            nodes); ``inf`` = not reached.
        cutoff : float or array-like (r,)
            Budget per row, same unit as ``dist``.
        weight : EdgeWeight or array, optional
            The weight ``dist`` was computed with (the remaining budget is turned into metres along each edge).
        sources : Snap, optional
            Adds the stretch of every attached source point's own edge within ``cutoff - handicap`` of the point
            (the part reached without passing a node). Its groups are the rows when ``dist`` has
            ``sources.n_groups`` rows; with one row, all sources belong to it (a super-source search).
        handicap : array-like (sources.n_groups,), optional
            As in :meth:`node_distances` (the budget of a source's own stretch is ``cutoff - handicap``).

        Returns
        -------
        row, edge : numpy.ndarray int64
            Row of ``dist`` and edge index of every piece.
        start, end : numpy.ndarray float
            Metres from the edge's ``u`` end (``start < end``). Whole edges come first, once per row; then pieces
            from the ``u`` end, from the ``v`` end, and around sources (pieces may overlap; a source's stretch on
            an edge its row covers whole is left out).
        """
        w = self._weight(weight)
        n, E, L = self.n_nodes, self.n_edges, self.length
        if sp.issparse(dist):
            D = sp.csr_array(dist)
            R = D.shape[0]
            r_ent = np.repeat(np.arange(R), np.diff(D.indptr))
            n_ent, d_ent = D.indices.astype(np.int64), np.asarray(D.data, dtype=float)
        else:
            D = np.atleast_2d(np.asarray(dist, dtype=float))
            R = D.shape[0]
            r_ent, n_ent = np.nonzero(np.isfinite(D))
            d_ent = D[r_ent, n_ent]
        if D.shape[1] != n:
            raise NetworkError(f"dist needs {n} node columns, got {D.shape[1]}", fix="pass node costs of this network")
        cut = np.broadcast_to(np.asarray(cutoff, dtype=float), (R,))
        keep = d_ent <= cut[r_ent]
        r_ent, n_ent, rem = r_ent[keep], n_ent[keep], (cut[r_ent] - d_ent)[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            mpc = np.where(w.values > 0, L / w.values, np.inf)          # metres per unit of cost
        # every reached node's incident edges, with the metres reachable from that end
        ptr, inc_edge = self._incidence()
        is_u_all = self._inc[2]
        idx, k = ragged_ranges(ptr[n_ent], ptr[n_ent + 1] - ptr[n_ent])
        e, at_u = inc_edge[idx], is_u_all[idx]
        row = r_ent[k]
        with np.errstate(invalid="ignore"):
            m = np.minimum(rem[k] * mpc[e], L[e])
        m = np.where(np.isnan(m), L[e], m)                               # inf budget x zero cost
        key, inv = np.unique(row * E + e, return_inverse=True)
        ru = np.full(key.size, -1.0)
        rv = np.full(key.size, -1.0)
        ru[inv[at_u]] = m[at_u]
        rv[inv[~at_u]] = m[~at_u]
        prow, pe = key // E, key % E
        Lp = L[pe]
        whole = (ru >= Lp) | (rv >= Lp) | ((ru >= 0) & (rv >= 0) & (ru + rv >= Lp))
        pu = ~whole & (ru > 0)
        pv = ~whole & (rv > 0)
        rows = [prow[whole], prow[pu], prow[pv]]
        edges = [pe[whole], pe[pu], pe[pv]]
        st = [np.zeros(int(whole.sum())), np.zeros(int(pu.sum())), (Lp - rv)[pv]]
        en = [Lp[whole], ru[pu], Lp[pv]]
        if sources is not None:
            self._check_snap(sources, "sources")
            p = np.flatnonzero(sources.ok)
            g = sources.owner[p]
            srow = g if R == sources.n_groups and R > 1 else np.zeros(p.size, dtype=np.int64)
            if R not in (1, sources.n_groups):
                raise NetworkError(f"dist has {R} rows for {sources.n_groups} source groups",
                                   fix="pass one row per source group, or one row for all")
            h = self._group_values(sources, handicap, "handicap", default=0.0)
            se = sources.edge[p]
            with np.errstate(invalid="ignore"):
                b = np.minimum((cut[srow] - h[g]) * mpc[se], L[se])
            b = np.where(np.isnan(b), L[se], b)
            a0 = np.clip(sources.offset[p] - b, 0, L[se])
            b0 = np.clip(sources.offset[p] + b, 0, L[se])
            wkey = prow[whole] * E + pe[whole]
            on_whole = np.isin(srow * E + se, wkey)
            ok = (b >= 0) & (b0 > a0) & ~on_whole
            rows.append(srow[ok])
            edges.append(se[ok])
            st.append(a0[ok])
            en.append(b0[ok])
        return (np.concatenate(rows).astype(np.int64), np.concatenate(edges).astype(np.int64),
                np.concatenate(st), np.concatenate(en))

    def sample_pieces(self, edge: Any, start: Any, end: Any, step: float) -> tuple[np.ndarray, np.ndarray]:
        """Points at most ``step`` metres apart along edge pieces, both ends and every vertex included.

        Parameters
        ----------
        edge, start, end : array-like (p,)
            Pieces as from :meth:`reached_pieces` (metres from ``u``, ``start <= end``).
        step : float
            Largest gap between consecutive points, metres (> 0).

        Returns
        -------
        xy : numpy.ndarray (P, 2)
            Points, network CRS.
        piece : numpy.ndarray (P,) int64
            The piece of every point.
        """
        edge = np.asarray(edge, dtype=np.int64)
        s0 = np.asarray(start, dtype=float)
        t0 = np.asarray(end, dtype=float)
        if edge.size == 0:
            return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
        ix = self._snap_index()
        _, vptr, _ = self._vertex_table()
        sptr = vptr - np.arange(vptr.size)                      # segments of edge i: sptr[i]:sptr[i+1]
        sj, p = ragged_ranges(sptr[edge], sptr[edge + 1] - sptr[edge])
        c0, sl = ix["c0"][sj], ix["slen"][sj]
        lo = np.maximum(s0[p], c0)
        hi = np.minimum(t0[p], c0 + sl)
        keep = hi >= lo
        sj, p, lo, hi = sj[keep], p[keep], lo[keep], hi[keep]
        k = np.ceil((hi - lo) / step).astype(np.int64) + 1
        i, q = ragged_ranges(np.zeros(k.size, dtype=np.int64), k)
        frac = np.divide(i, k[q] - 1, out=np.zeros(i.size), where=k[q] > 1)
        s_ = sj[q]
        along = lo[q] + (hi[q] - lo[q]) * frac - ix["c0"][s_]
        t = np.divide(along, ix["slen"][s_], out=np.zeros(i.size), where=ix["slen"][s_] > 0)
        return np.c_[ix["ax"][s_] + ix["dx"][s_] * t, ix["ay"][s_] + ix["dy"][s_] * t], p[q]

    def pairs_within(self, sources: Snap, targets: Snap, cutoff: float, weight: Any = None,
                     memory_mb: float = DEFAULT_MEMORY_MB) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (source group, target group) pair within ``cutoff``, with its cost (sparse distance matrix).

        Built on :meth:`reach` (one bounded search per source group); exact for points on the same edge.

        Returns
        -------
        source, target : numpy.ndarray int64
            Group indices (into ``sources.labels`` / ``targets.labels``), sorted by target then source.
        cost : numpy.ndarray float
            Metres for the default weight (<= cutoff).
        """
        self._check_snap(targets, "targets")
        w = self._weight(weight)
        Rm = self.reach(sources, cutoff, weight=w, memory_mb=memory_mb)
        Rt = Rm.T.tocsr()                                       # node -> (source group, cost)
        tp = np.flatnonzero(targets.ok)
        te, tf = targets.edge[tp], targets.frac[tp]
        cs, ct, cc = [], [], []
        for node, part in ((self.u[te], w.piece(te, np.zeros(tf.size), tf)),
                           (self.v[te], w.piece(te, tf, np.ones(tf.size)))):
            idx, k = ragged_ranges(Rt.indptr[node].astype(np.int64), np.diff(Rt.indptr)[node].astype(np.int64))
            cs.append(Rt.indices[idx].astype(np.int64))
            ct.append(k)
            cc.append(Rt.data[idx] + part[k])
        # sources on the target's own edge: the direct stretch
        sp_ = np.flatnonzero(sources.ok)
        if sp_.size and tp.size:
            se = sources.edge[sp_]
            o = np.argsort(se, kind="stable")
            lo = np.searchsorted(se[o], te, side="left")
            hi = np.searchsorted(se[o], te, side="right")
            idx, k = ragged_ranges(lo, hi - lo)
            j = sp_[o[idx]]
            cs.append(sources.owner[j])
            ct.append(k)
            cc.append(w.piece(te[k], sources.frac[j], tf[k]))
        s_all, t_all, c_all = np.concatenate(cs), np.concatenate(ct), np.concatenate(cc)
        tg = targets.owner[tp][t_all]
        inside = c_all <= cutoff
        s_all, tg, c_all = s_all[inside], tg[inside], c_all[inside]
        order = np.lexsort((c_all, s_all, tg))
        s_all, tg, c_all = s_all[order], tg[order], c_all[order]
        first = np.r_[True, (s_all[1:] != s_all[:-1]) | (tg[1:] != tg[:-1])] if s_all.size else s_all == 0
        return s_all[first], tg[first], c_all[first]

    # ------------------------------------------------------------------ components
    def islands(self, snap: Snap, min_nodes: int | None = None) -> pd.DataFrame:
        """Attached points that sit on a small network component (not reachable from the main network).

        Parameters
        ----------
        snap : Snap
        min_nodes : int, optional
            Components with fewer nodes count as islands; default: every component but the largest.

        Returns
        -------
        pandas.DataFrame
            One row per such point: ``id``, ``group``, ``edge``, ``component``, ``component_nodes``.
            ``len(result)`` is the count to report.
        """
        self._check_snap(snap, "points")
        p = np.flatnonzero(snap.ok)
        comp = self.component[self.u[snap.edge[p]]]
        size = self.component_sizes[comp]
        bad = comp > 0 if min_nodes is None else size < min_nodes
        q = p[bad]
        return pd.DataFrame({"id": snap.ids[q], "group": snap.labels[snap.owner[q]], "edge": snap.edge[q],
                             "component": comp[bad], "component_nodes": size[bad]})

    # ------------------------------------------------------------------ I/O
    def save(self, path: str | Path) -> Path:
        """Write the network to a GeoPackage (layers ``nodes``, ``edges``, ``beside_roads`` when there are any, and
        a metadata table).

        The file is written under a temporary name in the same folder and renamed onto ``path`` only when
        complete, so a failed save leaves an existing file at ``path`` untouched.

        Parameters
        ----------
        path : str or Path
            The GeoPackage to write (replaced if it exists).

        Returns
        -------
        pathlib.Path
            The path written.
        """
        import pyogrio

        from childspace._atomic import atomic_path

        path = Path(path)
        meta = {"format": "childspace.WalkNetwork", "version": str(_FORMAT_VERSION),
                "crs_wkt": self.crs.to_wkt(), "n_nodes": str(self.n_nodes), "n_edges": str(self.n_edges),
                "dtypes_nodes": json.dumps({c: str(t) for c, t in self.nodes.dtypes.items()}),
                "dtypes_edges": json.dumps({c: str(t) for c, t in self.edges.dtypes.items()})}
        # written under a temporary name beside ``path`` and renamed into place: a failed save keeps the old file
        with atomic_path(path) as tmp:
            self.nodes.to_file(tmp, layer="nodes", driver="GPKG", engine="pyogrio")
            self.edges.to_file(tmp, layer="edges", driver="GPKG", engine="pyogrio")
            if self.beside_roads is not None and len(self.beside_roads):
                self.beside_roads.to_file(tmp, layer="beside_roads", driver="GPKG", engine="pyogrio")
            pyogrio.write_dataframe(pd.DataFrame({"key": list(meta), "value": list(meta.values())}), tmp,
                                    layer=_META_LAYER, driver="GPKG")
        return path

    @classmethod
    def load(cls, path: str | Path) -> WalkNetwork:
        """Read a network written by :meth:`save`.

        Raises
        ------
        NetworkError
            The file is missing or is not a saved WalkNetwork.
        """
        import pyogrio

        path = Path(path)
        if not path.exists():
            raise NetworkError("file not found", path=path, fix="save a network first with WalkNetwork.save()")
        layers = {name for name, _ in pyogrio.list_layers(path)}
        if not {"nodes", "edges", _META_LAYER} <= layers:
            raise NetworkError(f"not a saved walk network (layers: {sorted(layers)})", path=path,
                               fix="build the network with WalkNetwork.from_osm() and save() it")
        meta_df = pyogrio.read_dataframe(path, layer=_META_LAYER)
        meta = dict(zip(meta_df["key"], meta_df["value"]))
        crs = CRS.from_wkt(meta["crs_wkt"])
        nodes = gpd.read_file(path, layer="nodes", engine="pyogrio")
        edges = gpd.read_file(path, layer="edges", engine="pyogrio")
        nodes = nodes.set_crs(crs, allow_override=True)
        edges = edges.set_crs(crs, allow_override=True)
        for frame, key in ((nodes, "dtypes_nodes"), (edges, "dtypes_edges")):
            dtypes = json.loads(meta.get(key, "{}"))
            for c, t in dtypes.items():
                if c in frame.columns and c != frame.geometry.name and t != "object" and str(frame[c].dtype) != t:
                    try:
                        frame[c] = frame[c].astype(t)
                    except (TypeError, ValueError):
                        pass
        _as_object_none(nodes, skip=("osmid", "x", "y"))
        _as_object_none(edges, skip=("u", "v", "length"))
        if len(nodes) != int(meta["n_nodes"]) or len(edges) != int(meta["n_edges"]):
            raise NetworkError("node/edge counts differ from the saved metadata", path=path,
                               fix="the file was modified; rebuild and save the network again")
        roads = None
        if "beside_roads" in layers:
            roads = gpd.read_file(path, layer="beside_roads", engine="pyogrio").set_crs(crs, allow_override=True)
            _as_object_none(roads, skip=())
        return cls(nodes, edges, crs, beside_roads=roads)

    def to_networkx(self) -> Any:
        """An osmnx-compatible ``networkx.MultiDiGraph`` (both directions per edge), in the network CRS.

        Nodes are keyed by OSM id with attributes ``x``, ``y`` (metres) and tags; edges carry ``length``,
        ``osmid`` (way), ``geometry`` (oriented along the direction), tags; ``G.graph['crs']`` is set, so
        ``osmnx.distance.nearest_nodes`` and ``osmnx.routing.shortest_path`` work on it.
        """
        import networkx as nx

        G = nx.MultiDiGraph(crs=self.crs, simplified=True, name="childspace walk network")
        ncols = [c for c in self.nodes.columns if c not in ("osmid", self.nodes.geometry.name)]
        nrec = self.nodes[ncols].to_dict("records")
        G.add_nodes_from(zip(self.node_osmid.tolist(), nrec))
        ecols = [c for c in self.edges.columns if c not in ("u", "v", "u_osmid", "v_osmid", "key",
                                                            self.edges.geometry.name)]
        erec = self.edges[ecols].to_dict("records")
        keys = self.edges["key"].to_numpy() if "key" in self.edges.columns else np.zeros(self.n_edges, int)
        uo = self.node_osmid[self.u].tolist()
        vo = self.node_osmid[self.v].tolist()
        rev = shapely.reverse(self._geom)
        fwd_list = []
        back_list = []
        for i, rec in enumerate(erec):
            k = int(keys[i])
            fwd_list.append((uo[i], vo[i], k, {**rec, "geometry": self._geom[i], "reversed": False}))
            if uo[i] != vo[i]:
                back_list.append((vo[i], uo[i], k, {**rec, "geometry": rev[i], "reversed": True}))
        G.add_edges_from(fwd_list)
        G.add_edges_from(back_list)
        return G
