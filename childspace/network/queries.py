"""Distance queries: nearest sources, several source sets at once, distance matrices, k nearest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from childspace._errors import NetworkError
from childspace.network._base import NetworkBase
from childspace.network._helpers import (
    DEFAULT_MEMORY_MB,
    _group_argmin,
    _group_min_columns,
    _part,
    _with_virtual,
)
from childspace.network.arrays import ragged_ranges
from childspace.network.types import EdgeWeight, Snap


class QueryMixin(NetworkBase):
    """Distance queries of :class:`childspace.network.engine.WalkNetwork`."""

    # ------------------------------------------------------------------ queries
    def _source_links(
        self, w: EdgeWeight, s: Snap, handicap: np.ndarray | None = None
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
        if s.leg is not None:  # access legs: the walk from the point to its snapped point
            wu = wu + s.leg[pts]
            wv = wv + s.leg[pts]
        loop = self.u[e] == self.v[e]
        wu = np.where(loop, np.minimum(wu, wv), wu)
        cols = np.stack([self.u[e], self.v[e]], axis=1)
        vals = np.stack([wu, wv], axis=1)
        keep = np.isfinite(vals)
        keep[:, 1] &= ~loop
        return pts, cols, vals, keep

    def _augmented(
        self, w: EdgeWeight, s: Snap, handicap: np.ndarray | None = None, virtual: np.ndarray | None = None
    ) -> tuple[sp.csr_array, np.ndarray]:
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

    def _target_dist(
        self, w: EdgeWeight, dist: np.ndarray, t: Snap, tp: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """Distances of target points ``tp`` from node distances: (via-u, via-v) candidates."""
        e = t.edge[tp]
        f = t.frac[tp]
        leg = t.legs(tp)
        du = dist[self.u[e]] + w.piece(e, np.zeros(f.size), f) + leg
        dv = dist[self.v[e]] + w.piece(e, f, np.ones(f.size)) + leg
        return du, dv

    def _same_edge(
        self, w: EdgeWeight, s: Snap, sp_pts: np.ndarray, t: Snap, tp: np.ndarray
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
        te = t.edge[tp]
        tf = t.frac[tp]
        if s.leg is not None:
            # with access legs the best source on the edge is not always the nearest one along it: all sources
            # on the target's edge are measured (few per edge: facilities)
            o = np.argsort(se, kind="stable")
            lo = np.searchsorted(se[o], te, side="left")
            hi = np.searchsorted(se[o], te, side="right")
            idx, k = ragged_ranges(lo, hi - lo)
            j = o[idx]
            d = w.piece(te[k], sf[j], tf[k]) + s.leg[sp_pts[j]] + t.legs(tp[k])
            b_, a_ = _group_argmin(d, k, tp.size)
            best[sub] = b_
            arg[sub] = np.where(a_ >= 0, j[np.maximum(a_, 0)], -1)
            return best, arg
        order = np.lexsort((sf, se))
        key = se[order].astype(float) + 0.5 * sf[order]  # sorted by (edge, frac)
        q = te.astype(float) + 0.5 * tf
        pos = np.searchsorted(key, q)
        for cand in (pos - 1, pos):
            valid = (cand >= 0) & (cand < key.size)
            c = np.clip(cand, 0, key.size - 1)
            j = order[c]
            valid &= se[j] == te
            d = w.piece(te, sf[j], tf) + t.legs(tp)
            d = np.where(valid, d, np.inf)
            cur_b, cur_a = best[sub], arg[sub]
            better = d < cur_b
            best[sub] = np.where(better, d, cur_b)
            arg[sub] = np.where(better, j, cur_a)
        return best, arg

    def _run(
        self, w: EdgeWeight, s: Snap, cutoff: float | None, handicap: np.ndarray | None = None
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
        out = dijkstra(
            aug,
            directed=True,
            indices=n + np.arange(pts.size),
            min_only=True,
            return_predecessors=True,
            limit=limit,
        )
        return list(out), pts

    def node_distances(
        self, sources: Snap, cutoff: float | None = None, weight: Any = None, handicap: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
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

    def _group_values(
        self, s: Snap, values: Any, name: str, default: float | None = None
    ) -> np.ndarray | None:
        """One finite value >= 0 per group of ``s`` (a scalar is broadcast); None when not given."""
        if values is None:
            return None if default is None else np.full(s.n_groups, float(default))
        a = np.asarray(values, dtype=float)
        a = np.broadcast_to(a, (s.n_groups,)).astype(float) if a.ndim == 0 else a.reshape(-1)
        if a.size != s.n_groups:
            raise NetworkError(
                f"{name} needs one value per source group ({s.n_groups}), got {a.size}",
                fix=f"give {name} in the order of sources.labels",
            )
        bad = np.isnan(a) | (a < 0)
        if bad.any():
            raise NetworkError(
                f"{int(bad.sum())} {name} value(s) are negative or NaN (groups {s.labels[bad][:5].tolist()})",
                fix=f"{name} must be >= 0",
            )
        return a

    def _target_parts(self, w: EdgeWeight, t: Snap) -> tuple[np.ndarray, ...]:
        """Per attached target point: (points, u node, v node, cost from u, cost to v); independent of sources."""
        tp = np.flatnonzero(t.ok)
        e = t.edge[tp]
        f = t.frac[tp]
        leg = t.legs(tp)
        return (
            tp,
            self.u[e],
            self.v[e],
            w.piece(e, np.zeros(f.size), f) + leg,
            w.piece(e, f, np.ones(f.size)) + leg,
        )

    def _nearest_points(
        self,
        w: EdgeWeight,
        sources: Snap,
        targets: Snap,
        cutoff: float | None,
        tparts: tuple[np.ndarray, ...] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
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

    def _nearest_groups(
        self,
        sources: Snap,
        targets: Snap,
        tp: np.ndarray,
        best: np.ndarray,
        src_pt: np.ndarray,
        pts: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        gbest, garg = _group_argmin(best, targets.owner[tp], targets.n_groups)
        source = np.full(targets.n_groups, -1, dtype=np.int64)
        hit = garg >= 0
        source[hit] = sources.owner[pts[src_pt[garg[hit]]]]
        return gbest, source

    def nearest_many(
        self, sources: Sequence[Snap], targets: Snap, cutoff: Any = None, weight: Any = None
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
            raise NetworkError(
                f"cutoff has {len(cut)} values for {len(sources)} source sets",
                fix="give one cutoff, or one per source set",
            )
        w = self._weight(weight)
        tparts = self._target_parts(w, targets)
        out = []
        for s, c in zip(sources, cut):
            tp, best, _, src_pt, pts, _ = self._nearest_points(w, s, targets, c, tparts)
            out.append(self._nearest_groups(s, targets, tp, best, src_pt, pts))
        return out

    def nearest(
        self, sources: Snap, targets: Snap, cutoff: float | None = None, weight: Any = None
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

    def distance_matrix(
        self,
        sources: Snap,
        targets: Snap,
        cutoff: float | None = None,
        weight: Any = None,
        memory_mb: float = DEFAULT_MEMORY_MB,
    ) -> np.ndarray:
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
        tleg = targets.legs(tp)
        sleg = sources.legs(pts)
        tcu = w.piece(te, np.zeros(tf.size), tf) + tleg
        tcv = w.piece(te, tf, np.ones(tf.size)) + tleg
        for a in range(0, pts.size, chunk):
            b = min(pts.size, a + chunk)
            D = dijkstra(aug, directed=True, indices=n + np.arange(a, b), limit=limit)
            m = np.minimum(D[:, tu] + tcu, D[:, tv] + tcv)
            same = se_all[a:b, None] == te[None, :]
            if w.end_u is None:
                dpart = _part(np.abs(sf_all[a:b, None] - tf[None, :]), twe[None, :])
            else:
                dpart = w.piece(
                    np.broadcast_to(te[None, :], same.shape),
                    np.broadcast_to(sf_all[a:b, None], same.shape),
                    np.broadcast_to(tf[None, :], same.shape),
                )
            direct = np.where(same, dpart + sleg[a:b, None] + tleg[None, :], np.inf)
            m = np.minimum(m, direct)
            att[a:b] = m
        if cutoff is not None:
            att[att > cutoff] = np.inf
        by_t = _group_min_columns(att, targets.owner[tp], targets.n_groups)  # (pts, Tg)
        return _group_min_columns(by_t.T, sources.owner[pts], sources.n_groups).T

    def k_nearest(
        self,
        sources: Snap,
        targets: Snap,
        k: int,
        cutoff: float | None = None,
        weight: Any = None,
        memory_mb: float = DEFAULT_MEMORY_MB,
    ) -> tuple[np.ndarray, np.ndarray]:
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
