"""Evaluation of walking routes for :mod:`childspace.analysis.routes`: paths joined, compared and cut, each
path measured exactly, route lines built.

:func:`_evaluate` measures every path of a :class:`childspace.network.Paths` object at once with array operations:
the metres walked at each stress level (partial first and last edges included), the path's cost under an edge
weight, the worst edge and the crossing at each node passed (each turn of the network rated once, the first time
a route takes it, and found again by array lookups: :class:`TurnTable`; turns it cannot hold by
:func:`_crossings`), and the share resting on assumed tags. :func:`once_mask` marks where a route walks an edge
for the first time (children per street count each route once per edge without hashing the sequences).
:class:`_RouteData` keeps the edge and crossing sequences of the routes in ``routes.attrs``; :func:`_drop_keys`,
:func:`_drop_keys_multi` and :func:`_copy_keys` edit those sequences by route key. :func:`_geometry` draws route
lines from the vertex table.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely

from childspace.analysis.safety import Stress
from childspace.inputs.projection import WGS84
from childspace.network import Paths
from childspace.network.arrays import ragged_ranges

_READ_LOCK = threading.Lock()


class _RouteData:
    """Edge/crossing sequences of routes, keyed by ``route_key`` (kept in ``routes.attrs``; shared, not copied).

    :func:`childspace.analysis.routes.school_routes` gives them unread (``source``): the arrays are read from the
    routes' shortest-path forests the first time one is asked for, while children per street
    (:meth:`edge_counts`) and the hazards' entries (:meth:`hazard_entries`) are made from the forests without
    them.
    """

    _NAMES = ("edge_key", "edge", "cross_key", "cross_node", "cross_edge", "cross_level", "edge_once")
    edge_key: np.ndarray
    edge: np.ndarray
    cross_key: np.ndarray
    cross_node: np.ndarray
    cross_edge: np.ndarray
    cross_level: np.ndarray
    edge_once: np.ndarray | None

    def __init__(
        self,
        edge_key: np.ndarray | None = None,
        edge: np.ndarray | None = None,
        cross_key: np.ndarray | None = None,
        cross_node: np.ndarray | None = None,
        cross_edge: np.ndarray | None = None,
        cross_level: np.ndarray | None = None,
        n_edges: int = 0,
        edge_once: np.ndarray | None = None,
        source: Any = None,
    ):
        self._arrays: dict[str, Any] | None = None
        #: where the sequences are read from when first asked for (None: given as arrays)
        self.source = source
        if source is None:
            self._arrays = dict(
                edge_key=edge_key,
                edge=edge,
                cross_key=cross_key,
                cross_node=cross_node,
                cross_edge=cross_edge,
                cross_level=cross_level,
                # per entry of ``edge``: True at the first time its route walks that edge (None: not known; the
                # sequences of :func:`school_routes` have it, so counting children per street needs no hashing)
                edge_once=edge_once,
            )
        self.n_edges = n_edges
        #: per-street counts already made by :func:`childspace.analysis.streets.route_edge_use`, by route kind,
        #: with the routes they were counted for (reused when asked again for the same routes)
        self.use_cache: dict[str, tuple] = {}
        #: True for a copy made by :meth:`detached` (no sequences, only ``use_cache``)
        self._detached = False

    def detached(self) -> _RouteData:
        """The same routes without their sequences: only the per-street counts already made (``use_cache``) are
        kept, for a process that has the routes' frames but not their forests (asking for anything else raises
        :class:`childspace._errors.DataError`)."""
        d = _RouteData(n_edges=self.n_edges)
        d._arrays, d.use_cache, d._detached = None, dict(self.use_cache), True
        return d

    def _read(self) -> dict[str, Any]:
        if getattr(self, "_detached", False):
            from childspace._errors import DataError

            raise DataError(
                "the routes' edge sequences were left in the process that computed them; only the children "
                "per street counted there came with the routes",
                feature="routes",
                fix="count what is needed (streets.route_edge_use) before detach_route_sequences, or pass the "
                "routes as school_routes returned them",
            )
        if self._arrays is None:
            with _READ_LOCK:  # (outputs drawn in threads may ask at once: read once)
                if self._arrays is None:
                    self._arrays = dict(zip(self._NAMES, self.source.read()))
                    self.source = None
        return self._arrays

    @property
    def unread(self) -> bool:
        """True while the sequences have not been read into arrays."""
        return self._arrays is None

    def edge_counts(self, keys: np.ndarray, kids: np.ndarray, school: np.ndarray, n: int) -> Any:
        """Children, routes and distinct schools per edge over the routes ``keys`` (each route once per edge),
        made on the forests while the sequences are unread; None when they cannot be (then count the arrays)."""
        src = self.source
        if src is None:
            return None
        return src.edge_counts(keys, kids, school, n)

    def edge_entries(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The edge entries of the routes ``keys`` (distinct route keys): the position of each entry's route in
        ``keys`` and its edge, each route's entries in walking order. Read from the forests for those routes only
        while the sequences are unread (the whole sequences are not read for it)."""
        keys = np.asarray(keys, dtype=np.int64)
        src = self.source
        if src is not None:
            return src.edge_entries(keys)
        a = self._read()
        ek = np.asarray(a["edge_key"])
        top = int(max(ek.max() if ek.size else -1, keys.max() if keys.size else -1)) + 1
        at = np.full(top, -1, dtype=np.int64)
        at[keys] = np.arange(keys.size)
        sel = np.flatnonzero(at[ek] >= 0)
        return at[ek[sel]], np.asarray(a["edge"])[sel]

    def hazard_entries(self, edge_ok: np.ndarray, min_cross_level: int) -> tuple[np.ndarray, ...]:
        """The entries on edges with ``edge_ok`` (keys, edges) and the crossings of level >= ``min_cross_level``
        (keys, nodes, crossed edges, levels), in the order of the full sequences."""
        src = self.source
        if src is not None:
            return src.hazard_entries(edge_ok, min_cross_level)
        a = self._read()
        m = edge_ok[a["edge"]]
        mc = a["cross_level"] >= min_cross_level
        return (
            a["edge_key"][m],
            a["edge"][m],
            a["cross_key"][mc],
            a["cross_node"][mc],
            a["cross_edge"][mc],
            a["cross_level"][mc],
        )

    def __getstate__(self) -> dict:
        if not getattr(self, "_detached", False):
            self._read()
        return self.__dict__

    def __setstate__(self, state: dict) -> None:
        if "_arrays" not in state:  # pickled by an earlier version: the arrays as attributes
            state = dict(state)
            state["_arrays"] = {k: state.pop(k, None) for k in self._NAMES}
            state["source"] = None
        self.__dict__.update(state)

    def __deepcopy__(self, memo: dict) -> _RouteData:
        return self

    def edges_of(self, key: int) -> np.ndarray:
        """Edge indices (walking order school -> origin) of route ``key``."""
        return self.edge[self.edge_key == key]

    def nodes_of(self, key: int) -> np.ndarray:
        """Nodes passed (crossing points evaluated) of route ``key``."""
        return self.cross_node[self.cross_key == key]


def _seq_property(name: str) -> property:
    def get(self: _RouteData) -> Any:
        return self._read()[name]

    def put(self: _RouteData, value: Any) -> None:
        self._read()[name] = value

    return property(get, put)


for _name in _RouteData._NAMES:
    setattr(_RouteData, _name, _seq_property(_name))


@dataclasses.dataclass
class _Eval:
    """Per-path evaluation of a Paths object (all arrays per path unless flat_*)."""

    reach: np.ndarray
    length: np.ndarray
    cost: np.ndarray
    shares: np.ndarray  # (g, 4)
    assumed: np.ndarray
    worst_edge: np.ndarray
    worst_cross: np.ndarray
    n_unsafe: np.ndarray
    n_cross: np.ndarray
    flat_path: np.ndarray
    flat_edge: np.ndarray
    cross_path: np.ndarray
    cross_node: np.ndarray
    cross_edge: np.ndarray
    cross_level: np.ndarray
    paths: Any
    n_assumed_cross: np.ndarray | None = None
    alt_worst: list | None = None  # worst level per path under each alternative stress model


def _concat_paths(network: Any, parts: list[tuple[np.ndarray, Any]], n_o: int) -> tuple[np.ndarray, Any]:
    """One Paths object from several (origin positions, Paths) parts, rows in ascending origin order."""

    if len(parts) == 1:
        oi, P = parts[0]
        if np.all(np.diff(oi) > 0):
            return oi, P
    oi = np.concatenate([p[0] for p in parts])
    order = np.argsort(oi, kind="stable")
    counts = np.concatenate([np.diff(p[1].ptr) for p in parts])
    starts = np.concatenate(
        [
            p[1].ptr[:-1] + off
            for p, off in zip(parts, np.cumsum([0] + [p[1].flat_edges.size for p in parts])[:-1])
        ]
    )
    flat_e = np.concatenate([p[1].flat_edges for p in parts])
    flat_f = np.concatenate([p[1].flat_forward for p in parts])
    idx, _ = ragged_ranges(starts[order], counts[order])
    ptr = np.zeros(oi.size + 1, dtype=np.int64)
    np.cumsum(counts[order], out=ptr[1:])
    cat = lambda name: np.concatenate([getattr(p[1], name) for p in parts])[order]
    return oi[order], Paths(
        dist=cat("dist"),
        source=cat("source"),
        ptr=ptr,
        flat_edges=flat_e[idx],
        flat_forward=flat_f[idx],
        source_offset=cat("source_offset"),
        target_offset=cat("target_offset"),
        network=network,
    )


def _same_paths(P: Any, Q: Any, q_rows: np.ndarray) -> np.ndarray:
    """Per path of ``P``: True when it is the same walk as path ``q_rows[i]`` of ``Q`` (edges, directions,
    offsets)."""
    cp = np.diff(P.ptr)
    cq = np.diff(Q.ptr)[q_rows]
    same = (
        (cp == cq)
        & (P.source_offset == Q.source_offset[q_rows])
        & (P.target_offset == Q.target_offset[q_rows])
    )
    rows = np.flatnonzero(same & (cp > 0))
    ip, owner = ragged_ranges(P.ptr[:-1][rows], cp[rows])
    iq, _ = ragged_ranges(Q.ptr[:-1][q_rows[rows]], cp[rows])
    diff = (P.flat_edges[ip] != Q.flat_edges[iq]) | (P.flat_forward[ip] != Q.flat_forward[iq])
    bad = np.bincount(owner[diff], minlength=rows.size) > 0
    same[rows[bad]] = False
    return same & (cp > 0)


def _take_paths(network: Any, P: Any, rows: np.ndarray) -> Any:
    """The paths ``rows`` of ``P`` as a Paths object of their own."""

    counts = np.diff(P.ptr)[rows]
    idx, _ = ragged_ranges(P.ptr[:-1][rows], counts)
    ptr = np.zeros(rows.size + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return Paths(
        dist=P.dist[rows],
        source=P.source[rows],
        ptr=ptr,
        flat_edges=P.flat_edges[idx],
        flat_forward=P.flat_forward[idx],
        source_offset=P.source_offset[rows],
        target_offset=P.target_offset[rows],
        network=network,
    )


def _crossings(
    network: Any, stress: Stress, node: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Crossing level and crossed edge for (node, enter edge, leave edge) triples, each distinct triple
    evaluated once (routes of one school share most of their turns)."""
    if node.size == 0:
        return np.zeros(0, dtype=np.int8), np.zeros(0, dtype=np.int64)
    E = np.int64(network.n_edges)
    key = (a.astype(np.int64) * E + b.astype(np.int64)) * 2 + (node == network.v[a])
    inv, uk = pd.factorize(key)  # hash-based: no sort of millions of keys
    first = np.empty(uk.size, dtype=np.int64)
    first[inv] = np.arange(inv.size)  # one occurrence of each distinct triple
    lv, ce = stress._crossing(node[first], a[first], b[first])
    return lv[inv], ce[inv]


class TurnTable:
    """The turns of the network, each rated once: the crossing (level, crossed edge, assumed tag) for a
    (node, enter edge, leave edge) of a node's edge ring, under the stress model and its alternatives.

    A route step's turn is found by array lookups (the ring position of each edge at each of its ends), not by
    hashing the steps: ``turn = base[node] + pos(enter) * degree[node] + pos(leave)``. A turn is rated the
    first time a route takes it (:meth:`rate`). Turns at nodes whose edges are not all in the ring (more than
    ``MAX_ANGULAR_DEGREE``) are left to :func:`_crossings`."""

    def __init__(self, network: Any, stress: Stress, alt: Sequence[Stress] = ()):
        ring, deg = stress.ring_edge, np.asarray(stress.degree, dtype=np.int64)
        n, D = ring.shape
        n_e = int(network.n_edges)
        self.network, self.stress, self.alt = network, stress, list(alt)
        self.deg = np.where((deg > 0) & (deg <= D), deg, 0)
        self.base = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(self.deg**2, out=self.base[1:])
        u, v = np.asarray(network.u, dtype=np.int64), np.asarray(network.v, dtype=np.int64)
        # ring position of each edge at its u and v end: the first occurrence, as Stress._crossing finds it
        self.pos_u = np.full(n_e, -1, dtype=np.int64)
        self.pos_v = np.full(n_e, -1, dtype=np.int64)
        for k in range(D - 1, -1, -1):
            nodes = np.flatnonzero(self.deg > k)
            e = ring[nodes, k].astype(np.int64)
            real = (e >= 0) & (e < n_e)
            nodes, e = nodes[real], e[real]
            at_u = u[e] == nodes
            self.pos_u[e[at_u]] = k
            at_v = v[e] == nodes
            self.pos_v[e[at_v]] = k

        # per edge and walking direction (column 1: u -> v): the turn offset of entering a node by it, the
        # ring position of leaving a node by it, and the node it leaves
        def enter(node: np.ndarray, pos: np.ndarray) -> np.ndarray:
            return np.where((pos >= 0) & (self.deg[node] > 0), self.base[node] + pos * self.deg[node], -1)

        self.enter = np.column_stack([enter(u, self.pos_u), enter(v, self.pos_v)])
        self.leave = np.column_stack([self.pos_v, self.pos_u])
        self.leave_node = np.column_stack([v, u])
        n_t = int(self.base[-1])
        self.rated = np.zeros(n_t, dtype=bool)
        self.level = np.zeros(n_t, dtype=np.int8)
        self.edge = np.full(n_t, -1, dtype=np.int64)
        self.assumed = np.zeros(n_t, dtype=bool)
        self.alt_level = [np.zeros(n_t, dtype=np.int8) for _ in alt]

    def rate(self, t: np.ndarray) -> None:
        """Rate the turns ``t`` (indices, -1 ignored) not rated yet: each distinct turn once."""
        want = np.zeros(self.rated.size, dtype=bool)
        want[t[t >= 0]] = True
        new = np.flatnonzero(want & ~self.rated)
        if new.size == 0:
            return
        node = np.searchsorted(self.base, new, side="right") - 1
        r = new - self.base[node]
        d = self.deg[node]
        ring = self.stress.ring_edge
        ta = ring[node, r // d].astype(np.int64)
        tb = ring[node, r % d].astype(np.int64)
        lv, ce = self.stress._crossing(node, ta, tb)
        self.level[new] = lv
        self.edge[new] = ce
        self.assumed[new] = _assumed_crossing(self.network, self.stress, node, ce)
        for al, a in zip(self.alt_level, self.alt):
            al[new] = a._crossing(node, ta, tb)[0]
        self.rated[new] = True

    def lookup(
        self,
        network: Any,
        node: np.ndarray,
        a: np.ndarray,
        b: np.ndarray,
        fa: np.ndarray | None = None,
        fb: np.ndarray | None = None,
    ) -> np.ndarray:
        """Turn index of each (node, enter edge, leave edge) step; -1 where the ring does not hold it. ``fa``,
        ``fb``: the two edges walked u -> v (a path's steps: then ``a`` ends and ``b`` starts at ``node``, and
        fewer lookups are needed; a step where ``b`` does not start at ``node`` is left to the caller)."""
        if fa is None or fb is None:
            u, v = network.u, network.v
            ra = np.where(u[a] == node, self.pos_u[a], self.pos_v[a])
            rb = np.where(u[b] == node, self.pos_u[b], self.pos_v[b])
            ok = (u[b] == node) | (v[b] == node)
            ok &= (u[a] == node) | (v[a] == node)
            ok &= (ra >= 0) & (rb >= 0)
            d = self.deg[node]
            ok &= d > 0
            return np.where(ok, self.base[node] + ra * d + rb, -1)
        ia, ib = fa.astype(np.intp), fb.astype(np.intp)
        ta = self.enter[a, ia]
        rb = self.leave[b, ib]
        ok = (ta >= 0) & (rb >= 0) & (self.leave_node[b, ib] == node)
        return np.where(ok, ta + rb, -1)


def _assumed_crossing(network: Any, stress: Stress, node: np.ndarray, c_edge: np.ndarray) -> np.ndarray:
    """Per crossing (node, crossed edge): True when its rating rests on an assumed tag (speed, lanes, crossing
    type of the crossed road); False where nothing is crossed."""
    inc = stress.incidence
    m_e = np.int64(network.n_edges)
    ikey = inc["node"].to_numpy(dtype=np.int64) * m_e + inc["edge"].to_numpy(dtype=np.int64)
    iass = inc["assumed"].to_numpy(dtype=bool)
    has = c_edge >= 0
    out = np.zeros(node.size, dtype=bool)
    pos = pd.Index(ikey).get_indexer(node[has].astype(np.int64) * m_e + c_edge[has].astype(np.int64))
    out[has] = np.where(pos >= 0, iass[np.maximum(pos, 0)], False)
    return out


def _turns(
    network: Any,
    stress: Stress,
    alt: Sequence[Stress],
    turns: TurnTable | None,
    node: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    fa: np.ndarray | None = None,
    fb: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Crossing level, crossed edge, assumed flag and the alternatives' levels of each step's turn: from the
    turn table where it holds the turn, else each distinct turn evaluated once (:func:`_crossings`)."""
    if turns is None:
        t = np.full(node.size, -1, dtype=np.int64)
    else:
        t = turns.lookup(network, node, a, b, fa, fb)
        turns.rate(t)
    miss = np.flatnonzero(t < 0)
    if turns is not None and miss.size == 0:
        return turns.level[t], turns.edge[t], turns.assumed[t], [al[t] for al in turns.alt_level]
    c_level = np.zeros(node.size, dtype=np.int8)
    c_edge = np.full(node.size, -1, dtype=np.int64)
    c_ass = np.zeros(node.size, dtype=bool)
    alts = [np.zeros(node.size, dtype=np.int8) for _ in alt]
    if turns is not None:
        hit = np.flatnonzero(t >= 0)
        th = t[hit]
        c_level[hit], c_edge[hit], c_ass[hit] = turns.level[th], turns.edge[th], turns.assumed[th]
        for k, al in enumerate(turns.alt_level):
            alts[k][hit] = al[th]
    lv, ce = _crossings(network, stress, node[miss], a[miss], b[miss])
    c_level[miss], c_edge[miss] = lv, ce
    c_ass[miss] = _assumed_crossing(network, stress, node[miss], ce)
    for k, alt_st in enumerate(alt):
        alts[k][miss] = _crossings(network, alt_st, node[miss], a[miss], b[miss])[0]
    return c_level, c_edge, c_ass, alts


def _evaluate(
    network: Any,
    stress: Stress,
    P: Any,
    weight: Any,
    unsafe_level: int,
    alt: Sequence[Stress] = (),
    turns: TurnTable | None = None,
    costs: bool = True,
) -> _Eval:
    """Exact evaluation of every path of ``P`` (edges walked, partial ends, crossings at interior nodes);
    ``cost`` is each path's cost under ``weight`` (an EdgeWeight) by the engine's rules (NaN with
    ``costs=False``). ``turns``: the network's :class:`TurnTable` (else each distinct turn is rated here)."""
    G = len(P)
    counts = np.diff(P.ptr)
    st = P.steps()
    path_of, e, fw, last = st.path, st.edge, st.forward, st.last
    walked = np.abs(st.end - st.start)
    reach = np.isfinite(P.dist) & (counts > 0)
    length = np.bincount(path_of, weights=walked, minlength=G)
    # the cost under ``weight`` (not needed for the routes' rows: their searches already compared costs)
    cost = network.path_costs(P, weight, steps=st) if costs else np.full(G, np.nan)
    level = stress.edge_level[e].astype(np.int64)
    shares = np.bincount(path_of * 5 + level, weights=walked, minlength=G * 5).reshape(G, 5)[:, 1:]
    assumed_e = stress.edges["assumed"].to_numpy(dtype=bool)[e]
    assumed = np.bincount(path_of, weights=walked * assumed_e, minlength=G)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(length[:, None] > 0, shares / length[:, None], np.where(level.size, 0.0, 0.0))
        assumed = np.where(length > 0, assumed / length, 0.0)
    # a zero-length path (origin at the school) still has the level of its edge
    worst_edge = np.zeros(G, dtype=np.int64)
    np.maximum.at(worst_edge, path_of, level)
    # crossings at interior nodes: between consecutive edges of a path
    pair = np.flatnonzero(~last)
    a, b = e[pair], e[pair + 1]
    node = np.where(fw[pair], network.v[a], network.u[a])
    c_level, c_edge, c_ass_all, alt_lv = _turns(
        network, stress, alt, turns, node, a, b, fw[pair], fw[pair + 1]
    )
    c_level = c_level.astype(np.int64)
    c_path = path_of[pair]
    has = c_edge >= 0
    worst_cross = np.zeros(G, dtype=np.int64)
    np.maximum.at(worst_cross, c_path[has], c_level[has])
    n_unsafe = np.bincount(c_path[has & (c_level >= unsafe_level)], minlength=G)
    n_cross = np.bincount(c_path[has], minlength=G)
    # crossings whose rating rests on an assumed tag (speed, lanes, crossing type of the crossed road)
    n_ass_c = np.bincount(c_path[has & c_ass_all], minlength=G)
    # assumed share: assumed edge metres plus each assumed crossing as `crossing_equiv_m` metres, over the route
    eq = float(stress.config.get("verdict", {}).get("crossing_equiv_m", 15.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        tot = length + eq * n_cross
        assumed = np.where(tot > 0, (assumed * length + eq * n_ass_c) / tot, 0.0)
    # the same walks under the alternative (optimistic, pessimistic) defaults: worst level of each
    alt_worst = []
    for alt_st, lv in zip(alt, alt_lv):
        w = np.zeros(G, dtype=np.int64)
        np.maximum.at(w, path_of, alt_st.edge_level[e].astype(np.int64))
        np.maximum.at(w, c_path, lv.astype(np.int64))
        alt_worst.append(w)
    return _Eval(
        n_assumed_cross=n_ass_c,
        alt_worst=alt_worst,
        reach=reach,
        length=np.where(reach, length, np.nan),
        cost=np.where(reach, cost, np.inf),
        shares=shares,
        assumed=assumed,
        worst_edge=worst_edge,
        worst_cross=worst_cross,
        n_unsafe=n_unsafe,
        n_cross=n_cross,
        flat_path=path_of,
        flat_edge=e,
        cross_path=c_path[has],
        cross_node=node[has],
        cross_edge=c_edge[has],
        cross_level=c_level[has].astype(np.int8),
        paths=P,
    )


def _geometry(network: Any, P: Any) -> np.ndarray:
    """Route LineStrings origin -> school in EPSG:4326 from paths read school -> origin (vectorised: vertex
    table, partial first/last edges cut by interpolation, one coordinate transformation, one linestrings call).
    A route of zero length (the home is at the school's snap point) has no line: None, not an invalid
    two-identical-point LineString."""
    g = np.asarray(P.geometry(reverse=True, crs=WGS84).array, dtype=object)
    present = ~shapely.is_missing(g)
    bad = np.zeros(g.size, dtype=bool)
    bad[present] = ~shapely.is_valid(g[present]) & (shapely.length(g[present]) == 0)
    g[bad] = None
    return g


def once_mask(edge_key: np.ndarray, edge: np.ndarray) -> np.ndarray:
    """True at the first time each route walks an edge, for sequences where each route key is one contiguous
    run in walking order, read from shortest-path trees (as :func:`_evaluate` gives them).

    A tree path passes each node once, so its whole edges are distinct; only the partial first and last edges
    (the school's and the home's edges) can repeat an edge of the route (e.g. a route leaving the home's edge
    by one end and coming back to it by the other). So an entry repeats an earlier one when it is the first
    edge again, or when it is the last edge and an interior entry walked that edge."""
    n = edge_key.size
    if n == 0:
        return np.ones(0, dtype=bool)
    is_start = np.empty(n, dtype=bool)
    is_start[0] = True
    np.not_equal(edge_key[1:], edge_key[:-1], out=is_start[1:])
    start = np.flatnonzero(is_start)
    end = np.r_[start[1:], n] - 1
    length = end - start + 1
    once = edge != np.repeat(edge[start], length)  # the first edge walked again
    once[start] = True
    inner = edge == np.repeat(edge[end], length)  # an interior entry on the last edge
    inner[start] = False
    inner[end] = False
    hit = np.flatnonzero(inner)
    if hit.size:
        once[end[np.searchsorted(start, hit, side="right") - 1]] = False
    return once


def _key_flags(keys: np.ndarray, marked: np.ndarray) -> np.ndarray:
    """Per entry of ``keys``: True when its key is among ``marked`` (a table over the key range: the keys of
    a chunk are a contiguous range, so no sort or hash of the sequences)."""
    if keys.size == 0 or marked.size == 0:
        return np.zeros(keys.size, dtype=bool)
    lo = int(min(keys.min(), marked.min()))
    hi = int(max(keys.max(), marked.max()))
    table = np.zeros(hi - lo + 1, dtype=bool)
    table[marked - lo] = True
    return table[keys - lo]


def _drop_keys(keys: np.ndarray, vals: np.ndarray, drop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = ~_key_flags(keys, drop)
    return keys[m], vals[m]


def _drop_keys_multi(keys: np.ndarray, vals: tuple, drop: np.ndarray) -> tuple[np.ndarray, tuple]:
    m = ~_key_flags(keys, drop)
    return keys[m], tuple(v[m] for v in vals)


def _copy_keys(
    fk_e: list, fe: list, src: np.ndarray, dst: np.ndarray, fk_c: list, fn: list, fce: list, fcl: list
) -> None:
    """Append the edge/crossing sequences of routes ``src`` again under keys ``dst`` (vectorised)."""
    order = np.argsort(src)
    s_sorted, d_sorted = src[order], dst[order]
    ke = np.concatenate(fk_e)
    m = _key_flags(ke, src)
    fk_e.append(d_sorted[np.searchsorted(s_sorted, ke[m])])
    fe.append(np.concatenate(fe)[m])
    kc = np.concatenate(fk_c)
    m = _key_flags(kc, src)
    fk_c.append(d_sorted[np.searchsorted(s_sorted, kc[m])])
    fn.append(np.concatenate(fn)[m])
    fce.append(np.concatenate(fce)[m])
    fcl.append(np.concatenate(fcl)[m])


def reuse_eval(ev_s: _Eval, rpos: np.ndarray, same: np.ndarray, ev_d: _Eval | None, P: Any) -> _Eval:
    """Evaluation of paths ``P`` where the paths ``same`` are walks already evaluated in ``ev_s`` (at rows
    ``rpos``: e.g. a safest route identical to the shortest one) and the others were evaluated in ``ev_d`` (in
    order). Per-path values are copied, the flat sequences of the copied walks renumbered (order kept)."""
    G = same.size
    s_rows = np.flatnonzero(same)
    d_rows = np.flatnonzero(~same)
    take = rpos[s_rows]

    def per(a_s: np.ndarray, a_d: np.ndarray | None) -> np.ndarray:
        out = np.empty((G,) + a_s.shape[1:], dtype=a_s.dtype if a_d is None else np.result_type(a_s, a_d))
        out[s_rows] = a_s[take]
        if a_d is not None:
            out[d_rows] = a_d
        return out

    new_of = np.full(len(ev_s.reach), -1, dtype=np.int64)
    new_of[take] = s_rows  # one safest path per shortest path at most (one per origin)
    m = new_of[ev_s.flat_path] >= 0
    mc = new_of[ev_s.cross_path] >= 0

    def flat(a_s: np.ndarray, a_d: np.ndarray | None, mask: np.ndarray) -> np.ndarray:
        return a_s[mask] if a_d is None else np.concatenate([a_s[mask], a_d])

    d = ev_d
    alt = [
        per(a, None if d is None or not d.alt_worst else d.alt_worst[k])
        for k, a in enumerate(ev_s.alt_worst or [])
    ]
    assert ev_s.n_assumed_cross is not None
    return _Eval(
        reach=per(ev_s.reach, None if d is None else d.reach),
        length=per(ev_s.length, None if d is None else d.length),
        cost=per(ev_s.cost, None if d is None else d.cost),
        shares=per(ev_s.shares, None if d is None else d.shares),
        assumed=per(ev_s.assumed, None if d is None else d.assumed),
        worst_edge=per(ev_s.worst_edge, None if d is None else d.worst_edge),
        worst_cross=per(ev_s.worst_cross, None if d is None else d.worst_cross),
        n_unsafe=per(ev_s.n_unsafe, None if d is None else d.n_unsafe),
        n_cross=per(ev_s.n_cross, None if d is None else d.n_cross),
        n_assumed_cross=per(ev_s.n_assumed_cross, None if d is None else d.n_assumed_cross),
        alt_worst=alt,
        flat_path=flat(new_of[ev_s.flat_path], None if d is None else d_rows[d.flat_path], m),
        flat_edge=flat(ev_s.flat_edge, None if d is None else d.flat_edge, m),
        cross_path=flat(new_of[ev_s.cross_path], None if d is None else d_rows[d.cross_path], mc),
        cross_node=flat(ev_s.cross_node, None if d is None else d.cross_node, mc),
        cross_edge=flat(ev_s.cross_edge, None if d is None else d.cross_edge, mc),
        cross_level=flat(ev_s.cross_level, None if d is None else d.cross_level, mc),
        paths=P,
    )
