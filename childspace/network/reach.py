"""Bounded searches for service areas: reached nodes and edge pieces, per-source reach, pairs within a cutoff."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from childspace._errors import NetworkError
from childspace.network._base import NetworkBase
from childspace.network._helpers import DEFAULT_MEMORY_MB, _csr_from_parts, _with_virtual
from childspace.network.arrays import ragged_ranges
from childspace.network.types import EdgeWeight, Snap


class ReachMixin(NetworkBase):
    """Service-area searches of :class:`childspace.network.engine.WalkNetwork`."""

    def reachable_edges(
        self, node_dist: np.ndarray, cutoff: float, weight: Any = None
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

    def edge_pieces(
        self, node_dist: np.ndarray, cutoff: float, weight: Any = None, sources: Snap | None = None
    ) -> gpd.GeoDataFrame:
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

    def _incidence(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Edges at every node: ``edges[ptr[i]:ptr[i+1]]`` (a loop edge is listed twice at its node), and per
        listed edge whether the node is its ``u`` end."""
        inc = self._inc
        if inc is None:
            with self._lazy_lock:
                inc = self._inc
                if inc is None:
                    ends = np.concatenate([self.u, self.v])
                    order = np.argsort(ends, kind="stable")
                    ptr = np.zeros(self.n_nodes + 1, dtype=np.int64)
                    np.cumsum(np.bincount(ends, minlength=self.n_nodes), out=ptr[1:])
                    inc = self._inc = (ptr, order % self.n_edges, order < self.n_edges)
        return inc

    def reach(
        self, sources: Snap, cutoff: Any, weight: Any = None, memory_mb: float = DEFAULT_MEMORY_MB
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
        if cut is None or not np.isfinite(cut).all():
            raise NetworkError(
                "reach() needs a finite cutoff per source group",
                fix="use node_distances() for unbounded searches",
            )
        n, G = self.n_nodes, sources.n_groups
        owner = sources.owner[sources.ok]
        gk = np.unique(owner)  # groups with an attached point, one virtual node each
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
            grp = order[a : a + chunk]
            D = dijkstra(
                aug, directed=True, indices=n + np.searchsorted(gk, grp), limit=float(cut[grp].max())
            )
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

    def _reach_local(
        self, w: EdgeWeight, sources: Snap, cut: np.ndarray, slack: float, memory_mb: float
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
        r = cut[gk] * 1.005 + slack  # straight-line reach of each group
        tile = max(2.0 * float(r.max()), 100.0)
        nxy = np.c_[self.x, self.y]
        # (= nxy.min(axis=0) / max(axis=0), column by column: numpy reduces (n, 2) along axis 0 10x slower)
        n0 = np.array([nxy[:, 0].min(), nxy[:, 1].min()])
        n1 = np.array([nxy[:, 0].max(), nxy[:, 1].max()])
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
        pts_of = np.argsort(gpos, kind="stable")  # attached points grouped by group position
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
            eidx, erow = ragged_ranges(
                base.indptr[sub].astype(np.int64), (base.indptr[sub + 1] - base.indptr[sub]).astype(np.int64)
            )
            ecol = remap[base.indices[eidx]]
            inside = ecol >= 0
            sub_csr = sp.csr_array(
                (
                    base.data[eidx][inside],
                    ecol[inside].astype(base.indices.dtype),
                    np.r_[0, np.cumsum(np.bincount(erow[inside], minlength=m))].astype(base.indices.dtype),
                ),
                shape=(m, m),
            )
            rows_per = max(1, int(memory_mb * 2**20 // (8 * (m + gsel.size))))
            for a2 in range(0, gsel.size, rows_per):
                grp = gsel[a2 : a2 + rows_per]  # group positions (into gk)
                pi, prow = ragged_ranges(pptr[grp], pptr[grp + 1] - pptr[grp])
                pj = pts_of[pi]
                lc = remap[cols[pj]]
                aug = _with_virtual(
                    sub_csr, prow, np.where(lc >= 0, lc, 0), vals[pj], keep[pj] & (lc >= 0), grp.size
                )
                lim = cut[gk[grp]]
                D = dijkstra(aug, directed=True, indices=m + np.arange(grp.size), limit=float(lim.max()))
                # (one flat scan of the row-major mask and a gather from the flat array: half the time of
                # ``np.nonzero`` on the 2-D mask and ``D[rr, cc]``; the same entries in the same order)
                flat = np.flatnonzero(D[:, :m] <= lim[:, None])
                rr, cc = np.divmod(flat, m)
                rows_.append(gk[grp][rr])
                cols_.append(sub[cc])
                vals_.append(D.ravel()[flat + rr * (D.shape[1] - m)])
                del D
            remap[sub] = -1
        return _csr_from_parts(rows_, cols_, vals_, (G, n))

    def reached_pieces(
        self, dist: Any, cutoff: Any, weight: Any = None, sources: Snap | None = None, handicap: Any = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
            Adds the stretch of every attached source point's own edge within ``cutoff - handicap - leg`` of the point
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
            if not D.has_canonical_format:  # (duplicate entries are summed, as scipy does)
                D = D.copy()
                D.sum_duplicates()
            R = D.shape[0]
            r_ent = np.repeat(np.arange(R), np.diff(D.indptr))
            n_ent, d_ent = D.indices.astype(np.int64), np.asarray(D.data, dtype=float)
        else:
            D = np.atleast_2d(np.asarray(dist, dtype=float))
            R = D.shape[0]
            r_ent, n_ent = np.nonzero(np.isfinite(D))
            d_ent = D[r_ent, n_ent]
        if D.shape[1] != n:
            raise NetworkError(
                f"dist needs {n} node columns, got {D.shape[1]}", fix="pass node costs of this network"
            )
        cut = np.broadcast_to(np.asarray(cutoff, dtype=float), (R,))
        keep = d_ent <= cut[r_ent]
        r_ent, n_ent, rem = r_ent[keep], n_ent[keep], (cut[r_ent] - d_ent)[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            mpc = np.where(w.values > 0, L / w.values, np.inf)  # metres per unit of cost
        # every reached node's incident edges; each (row, edge) is taken once: at its u end when u is reached,
        # else at its v end; the budget left at the other end is looked up among the row's reached nodes
        # (entries sorted by row and node: row-major CSR and np.nonzero give them so)
        ptr, inc_edge, is_u_all = self._incidence()
        idx, k = ragged_ranges(ptr[n_ent], ptr[n_ent + 1] - ptr[n_ent])
        e, at_u = inc_edge[idx], is_u_all[idx]
        row = r_ent[k]
        ekey = r_ent * n + n_ent
        other = row * n + np.where(at_u, self.v[e], self.u[e])
        pos = np.minimum(np.searchsorted(ekey, other), max(ekey.size - 1, 0))
        found = ekey[pos] == other if ekey.size else np.zeros(other.size, dtype=bool)
        take = at_u | ~found
        e, at_u, row, k, pos, found = e[take], at_u[take], row[take], k[take], pos[take], found[take]
        Le = L[e]
        with np.errstate(invalid="ignore"):
            m = np.minimum(rem[k] * mpc[e], Le)
            mo = np.where(found, np.minimum(rem[pos] * mpc[e], Le), -1.0)
        m = np.where(np.isnan(m), Le, m)  # inf budget x zero cost
        mo = np.where(np.isnan(mo), Le, mo)
        # in (row, edge) order
        o = np.argsort(row * E + e)
        prow, pe, at_u, m, mo = row[o], e[o], at_u[o], m[o], mo[o]
        ru = np.where(at_u, m, mo)
        rv = np.where(at_u, mo, m)
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
                raise NetworkError(
                    f"dist has {R} rows for {sources.n_groups} source groups",
                    fix="pass one row per source group, or one row for all",
                )
            h = self._group_values(sources, handicap, "handicap", default=0.0)
            assert h is not None  # a default is given
            se = sources.edge[p]
            with np.errstate(invalid="ignore"):
                b = np.minimum((cut[srow] - h[g] - sources.legs(p)) * mpc[se], L[se])
            b = np.where(np.isnan(b), L[se], b)
            a0 = np.clip(sources.offset[p] - b, 0, L[se])
            b0 = np.clip(sources.offset[p] + b, 0, L[se])
            wkey = prow[whole] * E + pe[whole]  # sorted
            skey = srow * E + se
            wpos = np.minimum(np.searchsorted(wkey, skey), max(wkey.size - 1, 0))
            on_whole = wkey[wpos] == skey if wkey.size else np.zeros(skey.size, dtype=bool)
            ok = (b >= 0) & (b0 > a0) & ~on_whole
            rows.append(srow[ok])
            edges.append(se[ok])
            st.append(a0[ok])
            en.append(b0[ok])
        return (
            np.concatenate(rows).astype(np.int64),
            np.concatenate(edges).astype(np.int64),
            np.concatenate(st),
            np.concatenate(en),
        )

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
        sptr = vptr - np.arange(vptr.size)  # segments of edge i: sptr[i]:sptr[i+1]
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

    def pairs_within(
        self,
        sources: Snap,
        targets: Snap,
        cutoff: float,
        weight: Any = None,
        memory_mb: float = DEFAULT_MEMORY_MB,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        Rt = Rm.T.tocsr()  # node -> (source group, cost)
        tp = np.flatnonzero(targets.ok)
        te, tf = targets.edge[tp], targets.frac[tp]
        cs, ct, cc = [], [], []
        tleg = targets.legs(tp)
        for node, part in (
            (self.u[te], w.piece(te, np.zeros(tf.size), tf) + tleg),
            (self.v[te], w.piece(te, tf, np.ones(tf.size)) + tleg),
        ):
            idx, k = ragged_ranges(
                Rt.indptr[node].astype(np.int64), np.diff(Rt.indptr)[node].astype(np.int64)
            )
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
            cc.append(w.piece(te[k], sources.frac[j], tf[k]) + sources.legs(j) + tleg[k])
        s_all, t_all, c_all = np.concatenate(cs), np.concatenate(ct), np.concatenate(cc)
        tg = targets.owner[tp][t_all]
        inside = c_all <= cutoff
        s_all, tg, c_all = s_all[inside], tg[inside], c_all[inside]
        order = np.lexsort((c_all, s_all, tg))
        s_all, tg, c_all = s_all[order], tg[order], c_all[order]
        first = np.r_[True, (s_all[1:] != s_all[:-1]) | (tg[1:] != tg[:-1])] if s_all.size else s_all == 0
        return s_all[first], tg[first], c_all[first]
