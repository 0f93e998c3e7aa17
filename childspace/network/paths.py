"""Shortest paths (from the nearest or a given source), their costs, lengths and geometries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from scipy.sparse.csgraph import dijkstra

from childspace._errors import NetworkError
from childspace.inputs.projection import transformer
from childspace.network._base import NetworkBase
from childspace.network._helpers import DEFAULT_MEMORY_MB, _group_argmin
from childspace.network.arrays import ragged_ranges
from childspace.network.types import EdgeWeight, Paths, Snap


class PathMixin(NetworkBase):
    """Path methods of :class:`childspace.network.engine.WalkNetwork`."""

    def paths(self, sources: Snap, targets: Snap, weight: Any = None, cutoff: float | None = None) -> Paths:
        """Shortest path from every target group to its nearest source.

        One Dijkstra call gives the shortest-path forest of all sources (each node's predecessor towards its
        nearest source); the paths of all targets are read from it together, one hop per step.

        Returns
        -------
        Paths
            Edge indices in walking order source -> target, with the partial first and last edges.
        """
        return self.forest(sources, targets, weight, cutoff).paths()

    def forest(self, sources: Snap, targets: Snap, weight: Any = None, cutoff: float | None = None) -> Forest:
        """The shortest-path forest of all sources and where each target group enters it, paths not yet read.

        :meth:`Forest.paths` reads the paths (as :meth:`paths` returns them); measures that add up along a path
        can instead be accumulated once per node of the forest (``childspace.analysis._route_tree``).
        """
        self._check_snap(sources, "sources")
        self._check_snap(targets, "targets")
        w = self._weight(weight)
        tp, best, choice, src_pt, pts, res = self._nearest_points(w, sources, targets, cutoff)
        _, pred, src = res
        G = targets.n_groups
        gbest, garg = _group_argmin(best, targets.owner[tp], G)
        hit = np.flatnonzero(garg >= 0)
        sel = garg[hit]  # positions into tp
        t_pt = tp[sel]
        ch = choice[sel]
        s_pt = pts[src_pt[sel]]
        t_edge = targets.edge[t_pt]
        entry = np.where(ch == 0, self.u[t_edge], self.v[t_edge])
        predi = np.asarray(pred).astype(np.int64, copy=False)
        # one forest: the edge into each node is looked up once per node, not once per path and hop
        n = self.n_nodes
        real = np.flatnonzero((predi[:n] >= 0) & (predi[:n] < n))
        pe = np.full(n, -1, dtype=np.int64)
        pe[real] = w.lookup(predi[real], real)
        return Forest(
            network=self,
            w=w,
            sources=sources,
            targets=targets,
            pred=predi,
            pe=pe,
            root=np.asarray(src).astype(np.int64, copy=False)[:n] - n,
            pts=pts,
            hit=hit,
            gbest=gbest,
            t_pt=t_pt,
            choice=ch,
            s_pt=s_pt,
            entry=entry,
        )

    def paths_from(
        self,
        sources: Snap,
        targets: Snap,
        source: Any,
        weight: Any = None,
        cutoff: float | np.ndarray | None = None,
        memory_mb: float = DEFAULT_MEMORY_MB,
    ) -> Paths:
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
            raise NetworkError(
                f"source needs one source group per target group ({G}), got {src_of.size}",
                fix="give the index (into sources.labels) of each target's source, -1 for none",
            )
        if (src_of >= sources.n_groups).any() or (src_of < -1).any():
            bad = np.flatnonzero((src_of >= sources.n_groups) | (src_of < -1))[:5].tolist()
            raise NetworkError(
                f"source names groups that are not among the {sources.n_groups} source groups "
                f"(target groups {bad})",
                fix="use indices into sources.labels, -1 for none",
            )
        if cutoff is None:
            lim = np.full(sources.n_groups, np.inf)
        else:
            c = np.asarray(cutoff, dtype=float)
            if c.ndim > 1 or (c.ndim == 1 and c.size != sources.n_groups):
                raise NetworkError(
                    f"cutoff needs one value or one per source group ({sources.n_groups}), got "
                    f"shape {c.shape}",
                    fix="pass a number, or an array aligned with sources.labels",
                )
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
        chains: list[tuple[np.ndarray, tuple[np.ndarray, ...]]] = []

        def flush() -> None:
            if not pending:
                return
            flat = np.concatenate(buf)
            ids = np.concatenate([rec[i][0] for i in pending])
            base = np.concatenate(
                [np.full(rec[i][0].size, k * N, dtype=np.int64) for k, i in enumerate(pending)]
            )
            ch = np.concatenate([rec[i][2] for i in pending])
            entry = np.concatenate([rec[i][4] for i in pending])
            chains.append((ids, self._walk_chains(w, flat, base, entry, np.flatnonzero(ch != 2))))
            buf.clear()
            pending.clear()

        for gi, g in enumerate(groups):
            tg = want[g_bounds[gi] : g_bounds[gi + 1]]
            jpos = p_order[p_start[g] : p_start[g + 1]]  # positions into pts (virtual node n + j)
            if jpos.size == 0 or tg.size == 0:
                continue
            tpi, trow = ragged_ranges(t_start[tg], t_start[tg + 1] - t_start[tg])
            tp = t_order[tpi]
            if tp.size == 0:
                continue
            d, pred, srcs = dijkstra(
                aug,
                directed=True,
                indices=n + jpos,
                min_only=True,
                return_predecessors=True,
                limit=float(lim[g]),
            )
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
            return self._make_paths(
                sources,
                targets,
                np.zeros(0, np.int64),
                gbest,
                np.zeros(0, np.int64),
                np.zeros(0, np.int64),
                np.zeros(0, np.int64),
                self._walk_chains(
                    w,
                    np.zeros(0, np.int64),
                    np.zeros(0, np.int64),
                    np.zeros(0, np.int64),
                    np.zeros(0, np.int64),
                ),
            )
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

    def _walk_chains(
        self,
        w: EdgeWeight,
        pred: np.ndarray,
        base: np.ndarray,
        entry: np.ndarray,
        active: np.ndarray,
        pe: np.ndarray | None = None,
    ) -> tuple[np.ndarray, ...]:
        """Walk predecessors from ``entry`` nodes back to a virtual source node, one hop per step for all at once.

        ``pred`` is a flat predecessor array (several trees concatenated, tree ``k`` at ``base = k * N``) over
        the augmented graph (nodes >= ``n_nodes`` are virtual sources). Returns the chain records (target,
        edge, walked u -> v, step) and the exit node (last real node before the source) of each target. ``pe``
        (one tree only, ``base`` all 0): the edge from each real node's predecessor to it, precomputed.
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
                e = w.lookup(pr, c[is_real]) if pe is None else pe[c[is_real]]
                rec_t.append(a_r)
                rec_e.append(e)
                rec_f.append(self.u[e] == pr)
                rec_s.append(np.full(a_r.size, step))
                cur[a_r] = pr
            active = a_r
            step += 1
            if step > n + 1:  # a cycle would be a bug in the predecessor array
                raise NetworkError("predecessor walk did not terminate", fix="report this network")
        cat = lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dtype=dt)
        return (cat(rec_t, np.int64), cat(rec_e, np.int64), cat(rec_f, bool), cat(rec_s, np.int64), exit_node)

    def _make_paths(
        self,
        sources: Snap,
        targets: Snap,
        hit: np.ndarray,
        gbest: np.ndarray,
        t_pt: np.ndarray,
        ch: np.ndarray,
        s_pt: np.ndarray,
        chain: tuple[np.ndarray, ...],
    ) -> Paths:
        """Assemble :class:`Paths` from the chosen target/source points of the reached target groups ``hit``
        (``ch``: 0 entered at u, 1 at v, 2 direct along a shared edge) and their predecessor chains."""
        G = targets.n_groups
        ct, ce, cf, cs, exit_node = chain
        t_edge = targets.edge[t_pt]
        s_edge = sources.edge[s_pt]
        via = ch != 2
        n_chain = np.bincount(ct, minlength=hit.size)  # steps per target: cs = 0 .. n_chain - 1 from its end
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
        if ct.size:  # the chain in walking order (source side first), placed without sorting
            at = ptr_h[:-1][ct] + n_chain[ct] - cs
            flat_e[at] = ce
            flat_f[at] = cf
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
        return Paths(
            dist=gbest,
            source=source,
            ptr=ptr,
            flat_edges=flat_e,
            flat_forward=flat_f,
            source_offset=s_off,
            target_offset=t_off,
            network=self,
        )

    def path_costs(self, paths: Paths, weight: Any = None, steps: Any = None) -> np.ndarray:
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
        steps : PathSteps, optional
            ``paths.steps()`` when the caller already has it.

        Returns
        -------
        numpy.ndarray (len(paths),)
            Cost per path; ``inf`` for unreachable (empty) paths.
        """
        w = self._weight(weight)
        G = len(paths)
        counts = np.diff(paths.ptr)
        st = paths.steps() if steps is None else steps
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
                np.int64
            )
            k_hi[part] = v0[part] + np.bincount(row, weights=c < hi[part][row], minlength=part.size).astype(
                np.int64
            )
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

    def path_geometry(
        self, edge_indices: Sequence[int], start_offset: float | None = None, end_offset: float | None = None
    ) -> shapely.LineString:
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
        P = Paths(
            dist=np.zeros(1),
            source=np.zeros(1, dtype=np.int64),
            ptr=np.array([0, e.size]),
            flat_edges=e,
            flat_forward=fw,
            source_offset=np.array(
                [(0.0 if fw[0] else self.length[e[0]]) if start_offset is None else float(start_offset)]
            ),
            target_offset=np.array(
                [(self.length[e[-1]] if fw[-1] else 0.0) if end_offset is None else float(end_offset)]
            ),
            network=self,
        )
        return self._paths_geometry(P).iloc[0]


class Forest:
    """A shortest-path forest of source points (one multi-source search) and the targets' entry into it.

    Attributes: ``pred`` (predecessor of each node of the augmented graph; a node whose predecessor is a virtual
    node ``n + j`` starts at source point ``pts[j]``), ``pe`` (the edge from each real node's real predecessor,
    -1 otherwise), ``root`` (per real node the virtual node index ``j`` of its tree; negative when unreached),
    and per reached target group ``hit``: the chosen target point ``t_pt``, ``choice`` (0 entered at ``u``, 1 at
    ``v``, 2 along a shared edge from the source), source point ``s_pt`` and the ``entry`` node.
    """

    def __init__(self, **kw: Any):
        self.network: PathMixin = kw["network"]
        self.w: EdgeWeight = kw["w"]
        self.sources: Snap = kw["sources"]
        self.targets: Snap = kw["targets"]
        self.pred: np.ndarray = kw["pred"]
        self.pe: np.ndarray = kw["pe"]
        self.root: np.ndarray = kw["root"]
        self.pts: np.ndarray = kw["pts"]
        self.hit: np.ndarray = kw["hit"]
        self.gbest: np.ndarray = kw["gbest"]
        self.t_pt: np.ndarray = kw["t_pt"]
        self.choice: np.ndarray = kw["choice"]
        self.s_pt: np.ndarray = kw["s_pt"]
        self.entry: np.ndarray = kw["entry"]

    @property
    def source(self) -> np.ndarray:
        """Source group of each target group (-1 where unreached), as ``Paths.source``."""
        out = np.full(self.targets.n_groups, -1, dtype=np.int64)
        out[self.hit] = self.sources.owner[self.s_pt]
        return out

    def paths(self, rows: np.ndarray | None = None) -> Paths:
        """The paths of all target groups (or of the target groups ``rows``, in that order) read from the
        forest, as :meth:`PathMixin.paths` returns them."""
        net = self.network
        hit, gbest, t_pt, ch, s_pt, entry = (
            self.hit,
            self.gbest,
            self.t_pt,
            self.choice,
            self.s_pt,
            self.entry,
        )
        targets = self.targets
        if rows is not None:
            rows = np.asarray(rows, dtype=np.int64)
            pos = np.full(targets.n_groups, -1, dtype=np.int64)
            pos[hit] = np.arange(hit.size)
            p = pos[rows]
            k = np.flatnonzero(p >= 0)
            hit, t_pt, ch, s_pt, entry = k, t_pt[p[k]], ch[p[k]], s_pt[p[k]], entry[p[k]]
            gbest = gbest[rows]
            return net._make_paths(
                self.sources,
                _GroupCount(rows.size, self.targets),  # type: ignore[arg-type]
                hit,
                gbest,
                t_pt,
                ch,
                s_pt,
                net._walk_chains(
                    self.w,
                    self.pred,
                    np.zeros(hit.size, np.int64),
                    entry,
                    np.flatnonzero(ch != 2),
                    pe=self.pe,
                ),
            )
        chain = net._walk_chains(
            self.w, self.pred, np.zeros(hit.size, np.int64), entry, np.flatnonzero(ch != 2), pe=self.pe
        )
        return net._make_paths(self.sources, targets, hit, gbest, t_pt, ch, s_pt, chain)


class _GroupCount:
    """A target Snap seen with another number of groups (paths of a subset of the target groups: the chosen
    points still index the full Snap's point arrays)."""

    def __init__(self, n_groups: int, snap: Snap):
        self.n_groups = n_groups
        self.edge, self.offset = snap.edge, snap.offset
