"""Routes of several parts in origin order, and where their edge and crossing sequences are
(:mod:`childspace.analysis.routes`).

A school category's routes come from forests (:class:`childspace.analysis._route_tree.TreeRoutes`) and from
per-school trees read step by step (:class:`PathRoutes`). :func:`chunk_eval` gives the measures of a chunk of
origins in origin order; :class:`SeqStore` notes where each route key's sequences are and reads them (in the order
the chunks have always laid them out), sums children per street on the forests and picks the hazards' entries
without reading the whole sequences; :func:`same_as_shortest` tells which safest routes walk their shortest
route's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from childspace.analysis._route_eval import TurnTable, _take_paths
from childspace.analysis._route_tree import TreeRoutes
from childspace.analysis.safety import Stress


# --------------------------------------------------------------------------------------------------------------
# routes of several parts (forests, paths read step by step) in origin order, and their sequences
# --------------------------------------------------------------------------------------------------------------
class PathRoutes:
    """Routes read step by step (:class:`childspace.network.Paths`, e.g. from ``paths_from``): measured a chunk
    at a time by :func:`_evaluate`."""

    def __init__(self, P: Any):
        self.P = P
        self.source = P.source
        self.reach = np.isfinite(P.dist) & (np.diff(P.ptr) > 0)

    def paths_of(self, groups: np.ndarray) -> Any:
        return _take_paths(self.P.network, self.P, groups)

    def costs(self, network: Any, weight: Any) -> np.ndarray:
        """Each path's cost under ``weight`` (a chunk of paths at a time: bounded per-step arrays)."""
        P = self.P
        if len(P) <= _CHUNK:
            return network.path_costs(P, weight)
        return np.concatenate(
            [
                network.path_costs(_take_paths(network, P, np.arange(lo, min(lo + _CHUNK, len(P)))), weight)
                for lo in range(0, len(P), _CHUNK)
            ]
        )


#: paths read step by step are measured this many at a time (their per-step arrays stay bounded)
_CHUNK = 50_000


class _FlatSeq:
    """The sequences of routes measured step by step (an :class:`_Eval`'s flat arrays), for :class:`SeqStore`."""

    def __init__(self, ev: Any):
        G = len(ev.reach)
        # only the flat sequences are kept (not the paths or the per-route measures)
        ev = _RowsEval(
            reach=ev.reach,
            flat_path=ev.flat_path,
            flat_edge=ev.flat_edge,
            cross_path=ev.cross_path,
            cross_node=ev.cross_node,
            cross_edge=ev.cross_edge,
            cross_level=ev.cross_level,
        )
        self.ev = ev
        self.ne = np.bincount(ev.flat_path, minlength=G)
        self.nc = np.bincount(ev.cross_path, minlength=G)

    def counts(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.ne[groups], self.nc[groups]

    def _pick(self, path: np.ndarray, cnt: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, ...]:
        """Entries of the routes ``groups``: entry positions, route index (into ``groups``), place in the route."""
        G = cnt.size
        at = np.full(G, -1, dtype=np.int64)
        at[groups] = np.arange(groups.size)
        start = np.zeros(G, dtype=np.int64)
        np.cumsum(cnt[:-1], out=start[1:])
        sel = np.flatnonzero(at[path] >= 0)
        return sel, at[path[sel]], sel - start[path[sel]]

    def edge_use(self, groups: np.ndarray, kids: np.ndarray, school: np.ndarray) -> tuple[np.ndarray, ...]:
        from childspace.analysis._route_eval import once_mask

        ev = self.ev
        sel, i, _ = self._pick(ev.flat_path, self.ne, groups)
        once = once_mask(ev.flat_path[sel], ev.flat_edge[sel])
        sel, i = sel[once], i[once]
        return ev.flat_edge[sel], kids[i], np.ones(sel.size), school[i]

    def hazard_entries(
        self, groups: np.ndarray, edge_ok: np.ndarray, min_level: int
    ) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        ev = self.ev
        sel, i, w = self._pick(ev.flat_path, self.ne, groups)
        k = edge_ok[ev.flat_edge[sel]]
        sel_c, ic, wc = self._pick(ev.cross_path, self.nc, groups)
        kc = ev.cross_level[sel_c] >= min_level
        sel_c = sel_c[kc]
        return (i[k], w[k], ev.flat_edge[sel[k]]), (
            ic[kc],
            wc[kc],
            ev.cross_node[sel_c],
            ev.cross_edge[sel_c],
            ev.cross_level[sel_c],
        )

    def fill(
        self,
        groups: np.ndarray,
        off_e: np.ndarray,
        off_c: np.ndarray,
        edge: np.ndarray,
        c_node: np.ndarray,
        c_edge: np.ndarray,
        c_level: np.ndarray,
    ) -> None:
        ev = self.ev
        G = len(ev.reach)
        for path, offs, cnt, cols in (
            (ev.flat_path, off_e, self.ne, ((edge, ev.flat_edge),)),
            (
                ev.cross_path,
                off_c,
                self.nc,
                ((c_node, ev.cross_node), (c_edge, ev.cross_edge), (c_level, ev.cross_level)),
            ),
        ):
            at = np.full(G, -1, dtype=np.int64)
            at[groups] = offs
            start = np.zeros(G, dtype=np.int64)
            np.cumsum(cnt[:-1], out=start[1:])
            sel = np.flatnonzero(at[path] >= 0)
            pos = at[path[sel]] + sel - start[path[sel]]
            for out, vals in cols:
                out[pos] = vals[sel]


class _RowsEval:
    """Per-route measures of one chunk's routes of one kind (origin order), with where their sequences are:
    ``seq`` lists (positions among the rows, source object, its rows)."""

    def __init__(self, **kw: Any):
        self.__dict__.update(kw)


_FIELDS = (
    "reach",
    "length",
    "shares",
    "assumed",
    "worst_edge",
    "worst_cross",
    "n_cross",
    "n_unsafe",
    "n_assumed_cross",
)


def chunk_eval(
    network: Any,
    stress: Stress,
    parts: list[tuple[np.ndarray, Any, np.ndarray]],
    lo: int,
    hi: int,
    weight: Any,
    unsafe_level: int,
    alt: Sequence[Stress],
    turns: TurnTable | None,
    geometry: bool,
) -> tuple[np.ndarray, _RowsEval] | None:
    """The routes of origins ``lo <= origin < hi`` from the parts (origins ascending, source, its rows): their
    measures in origin order, the sources of their sequences and (``geometry``) their paths."""
    from childspace.analysis._route_eval import _concat_paths, _evaluate

    oi_l, vals, seq, paths = [], [], [], []
    n = 0
    for oi_p, R, g_p in parts:
        a, b = np.searchsorted(oi_p, lo), np.searchsorted(oi_p, hi)
        if b <= a:
            continue
        oi, g = oi_p[a:b], g_p[a:b]
        if isinstance(R, PathRoutes):
            sub = R.P if g.size == len(R.P) else _take_paths(network, R.P, g)
            ev = _evaluate(network, stress, sub, weight, unsafe_level, alt, turns, costs=False)
            src: Any = _FlatSeq(ev)
            rows = np.arange(g.size)
            vals.append([getattr(ev, f) for f in _FIELDS] + list(ev.alt_worst or []))
            if geometry:
                paths.append(sub)
        else:
            src, rows = R, g
            vals.append([getattr(R, f)[g] for f in _FIELDS] + [w[g] for w in R.alt_worst])
            if geometry:
                paths.append(R.forest.paths(g))
        oi_l.append(oi)
        seq.append((n + np.arange(g.size), src, rows))
        n += g.size
    if not oi_l:
        return None
    oi_all = np.concatenate(oi_l)
    order = np.argsort(oi_all, kind="stable")
    inv = np.empty(order.size, dtype=np.int64)
    inv[order] = np.arange(order.size)
    cols = [np.concatenate([v[i] for v in vals])[order] for i in range(len(vals[0]))]
    kw = dict(zip(_FIELDS, cols))
    P = None
    if geometry:
        P = _concat_paths(network, [(p_, P_) for p_, P_ in zip([s_[0] for s_ in seq], paths)], n)[1]
        P = _take_paths(network, P, order) if not np.array_equal(order, np.arange(n)) else P
    return oi_all[order], _RowsEval(
        **kw,
        alt_worst=cols[len(_FIELDS) :],
        paths=P,
        seq=[(inv[pos], src, rows) for pos, src, rows in seq],
    )


def sources_of(
    parts: list[tuple[np.ndarray, Any, np.ndarray]], lo: int, hi: int, sidx: np.ndarray
) -> np.ndarray:
    """The school (position among the schools) each route of origins ``lo <= origin < hi`` was searched from,
    -1 where none, in origin order."""
    oi_l, sch = [], []
    for oi_p, R, g_p in parts:
        a, b = np.searchsorted(oi_p, lo), np.searchsorted(oi_p, hi)
        src = R.source[g_p[a:b]]
        oi_l.append(oi_p[a:b])
        sch.append(np.where(src >= 0, sidx[np.maximum(src, 0)], -1))
    order = np.argsort(np.concatenate(oi_l), kind="stable")
    return np.concatenate(sch)[order]


class SeqStore:
    """Where the edge and crossing sequences of each route key come from (a forest or a chunk's step-by-step
    evaluation, and the route's row there); read into one set of arrays, in route-key order, at the end."""

    def __init__(self, n_origins: int):
        self.n_o = n_origins
        self.parts: list[tuple[np.ndarray, Any, np.ndarray]] = []  # (keys, source, rows)
        #: per key part: its place in a chunk's sequences (0 shortest, 1 safest walking the shortest path, 2
        #: other safest, 3 safest reported as the shortest), as the chunks have always laid them out
        self.place: list[np.ndarray] = []
        self.short: dict[str, tuple[list, np.ndarray, np.ndarray]] = {}  # per category: shortest per origin

    def add(
        self,
        cat: str,
        kind: str,
        keys: np.ndarray,
        oi: np.ndarray,
        keep: np.ndarray,
        seq: list,
        same: np.ndarray | None = None,
    ) -> None:
        if kind == "shortest":
            objs, o_obj, o_row = self.short.setdefault(
                cat, ([], np.full(self.n_o, -1, dtype=np.int64), np.full(self.n_o, -1, dtype=np.int64))
            )
        for pos, src, rows in seq:
            k = keep[pos]
            self.parts.append((keys[pos[k]], src, rows[k]))
            place = np.zeros(int(k.sum()), dtype=np.int8)
            if kind != "shortest":
                place[:] = 2 if same is None else np.where(same[pos[k]], 1, 2)
            self.place.append(place)
            if kind == "shortest":
                objs.append(src)
                o_obj[oi[pos[k]]] = len(objs) - 1
                o_row[oi[pos[k]]] = rows[k]

    def copy_shortest(self, cat: str, keys: np.ndarray, oi: np.ndarray) -> None:
        """Routes ``keys`` walk the shortest route of their origins ``oi`` (its sequences, under their keys)."""
        objs, o_obj, o_row = self.short[cat]
        ob, rw = o_obj[oi], o_row[oi]
        for j in np.unique(ob[ob >= 0]):
            m = ob == j
            self.parts.append((keys[m], objs[j], rw[m]))
            self.place.append(np.full(int(m.sum()), 3, dtype=np.int8))

    def route_data(self, n_keys: int, n_edges: int, chunk_of_key: np.ndarray) -> Any:
        """The routes' sequences, unread (:class:`childspace.analysis._route_eval._RouteData`)."""
        from childspace.analysis._route_eval import _RouteData

        self.n_keys, self.chunk_of_key = n_keys, chunk_of_key
        return _RouteData(n_edges=n_edges, source=self)

    def _layout(self) -> tuple[np.ndarray, ...]:
        """Entries per key and where each key's entries start (edges, crossings), keys in the chunks' order."""
        n_keys, chunk_of_key = self.n_keys, self.chunk_of_key
        ne = np.zeros(n_keys, dtype=np.int64)
        nc = np.zeros(n_keys, dtype=np.int64)
        place = np.zeros(n_keys, dtype=np.int8)
        for (keys, src, rows), pl in zip(self.parts, self.place):
            ne[keys], nc[keys] = src.counts(rows)
            place[keys] = pl
        # the routes in the chunks' order: per chunk its shortest routes, the safest ones walking the same path,
        # the other safest ones, then those reported as the shortest (each group by route key)
        order = np.lexsort((place, chunk_of_key))
        pe = np.zeros(n_keys + 1, dtype=np.int64)
        pe[order] = np.cumsum(ne[order]) - ne[order]
        pe[-1] = ne.sum()
        pc = np.zeros(n_keys + 1, dtype=np.int64)
        pc[order] = np.cumsum(nc[order]) - nc[order]
        pc[-1] = nc.sum()
        return ne, nc, pe, pc, order

    def read(self) -> tuple[np.ndarray, ...]:
        """The sequences as arrays: edge keys, edges, crossing keys, nodes, crossed edges, levels, and where each
        route walks an edge for the first time."""
        from childspace.analysis._route_eval import once_mask

        ne, nc, pe, pc, order = self._layout()
        edge = np.empty(int(pe[-1]), dtype=np.int32)
        c_node = np.empty(int(pc[-1]), dtype=np.int32)
        c_edge = np.empty(int(pc[-1]), dtype=np.int32)
        c_level = np.empty(int(pc[-1]), dtype=np.int8)
        for keys, src, rows in self.parts:
            src.fill(rows, pe[keys], pc[keys], edge, c_node, c_edge, c_level)
        self.parts.clear()
        self.place.clear()
        self.short.clear()
        edge_key = np.repeat(order.astype(np.int32), ne[order])
        cross_key = np.repeat(order.astype(np.int32), nc[order])
        return edge_key, edge, cross_key, c_node, c_edge, c_level, once_mask(edge_key, edge)

    def edge_counts(
        self, keys: np.ndarray, kids: np.ndarray, school: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Children, routes and distinct schools per edge over the routes ``keys``, each route once per edge,
        summed on the forests (subtree sums); None when the children are not whole numbers (their sums would
        then depend on the order of addition) or a forest's subtree mixes schools."""
        kids = np.asarray(kids, dtype=float)
        if kids.size and (not np.array_equal(kids, np.floor(kids)) or np.abs(kids).sum() >= 2.0**52):
            return None
        top = self.n_keys
        chosen = np.zeros(top, dtype=bool)
        chosen[keys] = True
        kid_of = np.zeros(top)
        kid_of[keys] = kids
        school_of = np.zeros(top, dtype=np.int64)
        school_of[keys] = school
        n_sch = int(school.max()) + 1 if school.size else 1
        children = np.zeros(n)
        n_routes = np.zeros(n)
        cells = []
        for pkeys, src, rows in self.parts:
            m = chosen[pkeys]
            if not m.any():
                continue
            k = pkeys[m]
            got = src.edge_use(rows[m], kid_of[k], school_of[k])
            if got is None:
                return None
            e, w, c, sc = got
            children += np.bincount(e, weights=w, minlength=n)
            n_routes += np.bincount(e, weights=c, minlength=n)
            cells.append(e.astype(np.int64) * n_sch + sc)
        cell = np.concatenate(cells) if cells else np.zeros(0, dtype=np.int64)
        if n * n_sch <= 200_000_000:
            flags = np.zeros(n * n_sch, dtype=bool)
            flags[cell] = True
            n_schools = flags.reshape(n, n_sch).sum(axis=1)
        else:
            n_schools = np.bincount(pd.unique(cell) // n_sch, minlength=n)
        return children, np.rint(n_routes).astype(np.int64), n_schools

    def edge_entries(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The edge entries of the routes ``keys`` only (position of the route in ``keys``, edge), read from
        the forests and the step-by-step evaluations that hold them (the others are not read)."""
        at = np.full(self.n_keys, -1, dtype=np.int64)
        at[keys] = np.arange(keys.size)
        out_k: list[np.ndarray] = []
        out_e: list[np.ndarray] = []
        for pkeys, src, rows in self.parts:
            p = at[pkeys]
            m = p >= 0
            if not m.any():
                continue
            r, p = rows[m], p[m]
            ne, nc = src.counts(r)
            off_e = np.cumsum(ne) - ne
            off_c = np.cumsum(nc) - nc
            edge = np.empty(int(ne.sum()), dtype=np.int32)
            nc_all = int(nc.sum())  # (the crossings are filled too, and dropped)
            c_node = np.empty(nc_all, dtype=np.int32)
            c_edge = np.empty(nc_all, dtype=np.int32)
            c_level = np.empty(nc_all, dtype=np.int8)
            src.fill(r, off_e, off_c, edge, c_node, c_edge, c_level)
            out_k.append(np.repeat(p, ne))
            out_e.append(edge)
        if not out_k:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
        return np.concatenate(out_k), np.concatenate(out_e)

    def hazard_entries(self, edge_ok: np.ndarray, min_level: int) -> tuple[np.ndarray, ...]:
        """Entries on edges with ``edge_ok`` and crossings of level >= ``min_level``, in the order of the
        sequences :meth:`read` gives (keys, edges; keys, nodes, crossed edges, levels)."""
        ne, nc, pe, pc, order = self._layout()
        E: list[list[np.ndarray]] = [[], [], []]
        C: list[list[np.ndarray]] = [[], [], [], [], []]
        for keys, src, rows in self.parts:
            (ie, we, e), (ic, wc, cn, ce, cl) = src.hazard_entries(rows, edge_ok, min_level)
            E[0].append(pe[keys[ie]] + we)
            E[1].append(keys[ie])
            E[2].append(e)
            C[0].append(pc[keys[ic]] + wc)
            for j, a in enumerate((keys[ic], cn, ce, cl)):
                C[1 + j].append(a)

        def cat(xs: list[np.ndarray], dt: Any) -> np.ndarray:
            return np.concatenate(xs).astype(dt, copy=False) if xs else np.zeros(0, dtype=dt)

        oe = np.argsort(cat(E[0], np.int64), kind="stable")
        oc = np.argsort(cat(C[0], np.int64), kind="stable")
        return (
            cat(E[1], np.int32)[oe],
            cat(E[2], np.int32)[oe],
            cat(C[1], np.int32)[oc],
            cat(C[2], np.int32)[oc],
            cat(C[3], np.int32)[oc],
            cat(C[4], np.int8)[oc],
        )


def same_as_shortest(
    network: Any,
    s_parts: list[tuple[np.ndarray, Any, np.ndarray]],
    f_parts: list[tuple[np.ndarray, Any, np.ndarray]],
    n_o: int,
) -> np.ndarray:
    """Per origin: True when its safest route walks the same path as its shortest route (on the forests where
    both are forest routes, else by comparing the paths a chunk at a time)."""
    from childspace.analysis._route_eval import _same_paths

    same = np.zeros(n_o, dtype=bool)
    s_obj = np.full(n_o, -1, dtype=np.int64)
    s_grp = np.full(n_o, -1, dtype=np.int64)
    for j, (oi_p, _R, g) in enumerate(s_parts):
        s_obj[oi_p] = j
        s_grp[oi_p] = g
    for oi_p, R, g in f_parts:
        for j, (_oi, S, _g) in enumerate(s_parts):
            m = s_obj[oi_p] == j
            if not m.any():
                continue
            o, gf = oi_p[m], g[m]
            gs = s_grp[o]
            if isinstance(R, TreeRoutes) and isinstance(S, TreeRoutes):
                done, res = R.same_routes(gf, S, gs)
                same[o[done]] = res[done]
                slow = np.flatnonzero(~done)
            else:
                slow = np.arange(o.size)
            for lo in range(0, slow.size, _CHUNK):
                k = slow[lo : lo + _CHUNK]
                Pf, Ps = R.paths_of(gf[k]), S.paths_of(gs[k])
                same[o[k]] = _same_paths(Pf, Ps, np.arange(k.size))
    return same
