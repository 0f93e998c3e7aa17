"""The engine's value types: ``EdgeWeight``, ``Snap`` (points attached to the network), ``Paths`` and
``PathSteps``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from pyproj import CRS

from childspace._types import CRSLike
from childspace.network._helpers import part_cost

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from childspace.network.paths import PathMixin


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
        if self.end_u is None or self.end_v is None:  # set together (WalkNetwork.edge_weights)
            return part_cost(frac, self.values[edge])
        eu, ev = self.end_u[edge], self.end_v[edge]
        with np.errstate(invalid="ignore"):
            along = self.values[edge] - eu - ev
            cost = part_cost(frac, along) + np.where(lo <= 0.0, eu, 0.0) + np.where(hi >= 1.0, ev, 0.0)
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
    leg : numpy.ndarray (m,) float or None
        Access leg of each point, metres: the straight walk between the point and its snapped point, added by
        every query to each distance from or to the point (``snap(..., legs=True)``), in the query's cost unit
        (metres for the default weight); ``Paths.dist`` includes them, while ``Paths.length`` and
        :meth:`WalkNetwork.path_costs` measure the network part only. None: no legs (queries measure from the
        snapped point, as a point already on the street).
    across_barrier : int
        Points left attached across a barrier because no edge within ``max_distance`` could be reached without
        crossing one (:meth:`WalkNetwork.snap`, rule 3).
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
    leg: np.ndarray | None = None
    across_barrier: int = 0

    def legs(self, points: np.ndarray) -> np.ndarray:
        """Access legs (metres) of the attachment points ``points`` (zeros when the snap has none)."""
        if self.leg is None:
            return np.zeros(np.asarray(points).shape)
        return self.leg[points]

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

    def take(self, points: ArrayLike) -> Snap:
        """The attachment points ``points`` (positions or a boolean mask over :attr:`edge`) as a Snap of their
        own; its groups are the groups of those points, in order of first appearance."""
        idx = (
            np.arange(self.n_points)[np.asarray(points)]
            if np.asarray(points).dtype == bool
            else np.asarray(points, dtype=np.int64).reshape(-1)
        )
        codes, uniq = pd.factorize(self.owner[idx], sort=False)
        return dataclasses.replace(
            self,
            edge=self.edge[idx],
            offset=self.offset[idx],
            frac=self.frac[idx],
            distance=self.distance[idx],
            ok=self.ok[idx],
            xy=self.xy[idx],
            ids=self.ids[idx],
            owner=codes.astype(np.int64),
            labels=self.labels[uniq],
            leg=None if self.leg is None else self.leg[idx],
        )

    def unsnapped(self) -> pd.DataFrame:
        """The points that were not attached: ``id``, ``group``, ``distance_m`` (to the nearest edge), ``reason``."""
        bad = ~self.ok
        dist = self.distance[bad]
        reason = np.where(
            np.isfinite(dist),
            f"farther than {self.max_distance:g} m from the walk network",
            "empty or missing geometry",
        )
        return pd.DataFrame(
            {"id": self.ids[bad], "group": self.labels[self.owner[bad]], "distance_m": dist, "reason": reason}
        )

    def summary(self) -> dict[str, Any]:
        """Counts for reporting: points, attached, not attached (with their ids), groups with no attached point."""
        g_ok = self.group_ok
        return {
            "points": self.n_points,
            "attached": int(self.ok.sum()),
            "not_attached": int((~self.ok).sum()),
            "ids_not_attached": self.ids[~self.ok].tolist(),
            "groups": self.n_groups,
            "groups_not_attached": self.labels[~g_ok].tolist(),
            "max_distance_m": self.max_distance,
            "across_barrier": self.across_barrier,
            "legs": self.leg is not None,
        }


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
    network: PathMixin = field(repr=False)  # the WalkNetwork the paths belong to (its path methods)

    def __len__(self) -> int:
        return int(self.dist.size)

    def edges(self, i: int) -> np.ndarray:
        """Edge indices (source -> target) of path ``i`` (empty when unreachable)."""
        return self.flat_edges[self.ptr[i] : self.ptr[i + 1]]

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

    def geometry(self, reverse: bool = False, crs: CRSLike | None = None) -> gpd.GeoSeries:
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
