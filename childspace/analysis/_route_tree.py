"""Routes evaluated on their shortest-path tree, not step by step (:mod:`childspace.analysis.routes`).

The route of a target in a shortest-path forest (:meth:`childspace.network.engine.WalkNetwork.forest`) is the
forest's path from its root (the source point) to the target's entry node, plus the partial edge to the target.
Every measure of :func:`childspace.analysis._route_eval._evaluate` either adds up along a path (metres per stress
level, metres on assumed tags, crossings, unsafe crossings, crossings on assumed tags, the cost under a weight) or
is a maximum (worst edge level, worst crossing, the variants' worst levels). So each is accumulated once per node
of the forest, from the roots down one depth level at a time, and a route is its entry node's value plus its last
partial edge and the crossing at its entry node. The crossing at a node depends on the edge entering it and the
edge leaving it, which on a tree is a property of the child node.

The sums are made in the same order as along the path (root first), so the floating-point results are those of
the per-step evaluation bit for bit; the edge and crossing sequences (for children per street and hazards) are
read from the forest only when asked for (:class:`TreeRoutes.fill`), one depth level per step.

The rules of :meth:`childspace.network.engine.WalkNetwork.paths` hold: a first or last edge walked over zero
metres (a point sitting at a node) is not part of the path (no level, no crossing at its node); a target on the
source's own edge walks that edge directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from childspace.analysis._route_eval import TurnTable, _turns
from childspace.analysis.safety import Stress
from childspace.network.arrays import ragged_ranges


class TreeRoutes:
    """The routes of the targets of one forest, measured per node of the forest.

    Per target group (``forest.targets`` groups): ``reach``, ``length``, ``shares`` (g, 4), ``assumed``,
    ``worst_edge``, ``worst_cross``, ``n_cross``, ``n_unsafe``, ``n_assumed_cross``, ``alt_worst`` (one array
    per alternative stress model), ``cost`` (under ``weight`` when given, else None), and the sizes of the
    routes' sequences ``n_edges`` and ``n_crossings`` (as :func:`_evaluate` keeps them: the crossings that
    cross a road).
    """

    def __init__(
        self,
        network: Any,
        forest: Any,
        stress: Stress,
        alt: Sequence[Stress],
        turns: TurnTable | None,
        unsafe_level: int,
        weight: Any = None,
    ):
        net = network
        n = int(net.n_nodes)
        u, v, L = net.u, net.v, net.length
        F = forest
        self.forest = F
        pred = F.pred[:n]
        root = F.root
        reached = root >= 0
        par = np.where((pred >= 0) & (pred < n), pred, -1)
        is_exit = reached & (pred >= n)
        # the edge entering each node (exit nodes: the source's edge, walked from the source point) and its
        # direction; the source's edge is dropped when walked over zero metres
        X = np.flatnonzero(is_exit)
        sp = F.pts[root[X]]
        s_edge = F.sources.edge[sp]
        s_off = F.sources.offset[sp]
        s_frac = F.sources.frac[sp]
        s_loop = u[s_edge] == v[s_edge]
        src_fwd = np.where(s_loop, (1.0 - s_frac) < s_frac, X == v[s_edge])
        first_len = np.where(src_fwd, L[s_edge] - s_off, s_off)
        in_edge = np.where(par >= 0, F.pe, -1)
        in_edge[X] = s_edge
        in_fw = np.zeros(n, dtype=bool)
        C = np.flatnonzero(par >= 0)
        in_fw[C] = u[F.pe[C]] == par[C]
        in_fw[X] = src_fwd
        dropped = np.zeros(n, dtype=bool)
        dropped[X] = first_len <= 0
        incl = reached & ~dropped  # the node's entering edge is part of the paths through it
        walked = np.zeros(n)
        walked[C] = L[F.pe[C]]
        walked[X] = first_len
        lev_e = stress.edge_level.astype(np.int64)
        ass_e = stress.edges["assumed"].to_numpy(dtype=bool)
        # the crossing at each child's parent: (parent's entering edge, child's edge), when the parent's
        # entering edge is walked
        Cc = C[incl[par[C]]]
        a, b = in_edge[par[Cc]], F.pe[Cc]
        fa, fb = in_fw[par[Cc]], in_fw[Cc]
        node = np.where(fa, v[a], u[a])
        c_level, c_edge, c_ass, alt_lv = _turns(net, stress, alt, turns, node, a, b, fa, fb)
        has = np.zeros(n, dtype=bool)
        has[Cc] = c_edge >= 0
        self.c_edge = np.full(n, -1, dtype=np.int64)
        self.c_edge[Cc] = c_edge
        self.c_level = np.zeros(n, dtype=np.int8)
        self.c_level[Cc] = c_level
        # per-node contributions (root first): float sums, integer sums, maxima
        ie = np.maximum(in_edge, 0)
        lv = lev_e[ie]
        fadd = np.zeros((n, 7))
        w_in = np.where(incl, walked, 0.0)
        fadd[:, 0] = w_in
        for k in range(4):
            fadd[:, 1 + k] = np.where(incl & (lv == k + 1), walked, 0.0)
        fadd[:, 5] = w_in * ass_e[ie]
        if weight is not None:  # cost under ``weight``: whole edges their weight, partial ends their share
            wv = weight.values
            cst = np.where(incl, wv[ie], 0.0)
            le = L[s_edge]
            end = np.where(src_fwd, le, 0.0)
            cst[X] = np.where(dropped[X], 0.0, _piece(weight, s_edge, s_off, end, le))
            # a child of a dropped exit node: its edge is the path's first one (a piece from end to end)
            D = C[dropped[par[C]]]
            if D.size:
                e = F.pe[D]
                st = np.where(in_fw[D], 0.0, L[e])
                cst[D] = _piece(weight, e, st, L[e] - st, L[e])
            fadd[:, 6] = cst
        iadd = np.zeros((n, 5), dtype=np.int64)  # crossings, unsafe, assumed crossings, edges, crossings kept
        cl = c_level.astype(np.int64)
        h = c_edge >= 0
        iadd[Cc, 0] = h
        iadd[Cc, 1] = h & (cl >= unsafe_level)
        iadd[Cc, 2] = h & c_ass
        iadd[:, 3] = incl
        iadd[:, 4] = has
        imax = np.zeros((n, 2 + len(alt)), dtype=np.int64)  # worst edge, worst crossing, variants' worst
        imax[:, 0] = np.where(incl, lv, 0)
        imax[Cc, 1] = np.where(h, cl, 0)
        alt_e = [a_.edge_level.astype(np.int64) for a_ in alt]
        for k, al in enumerate(alt_e):
            imax[:, 2 + k] = np.where(incl, al[ie], 0)
            imax[Cc, 2 + k] = np.maximum(imax[Cc, 2 + k], alt_lv[k].astype(np.int64))
        # accumulate from the roots, one depth level at a time
        levels = _depth_levels(par, X)
        fsum, isum, imx = fadd, iadd, imax  # exit nodes: their own contribution (added to 0)
        fsum[X] = 0.0 + fadd[X]
        for nodes in levels[1:]:
            p = par[nodes]
            fsum[nodes] = fsum[p] + fadd[nodes]
            isum[nodes] = isum[p] + iadd[nodes]
            imx[nodes] = np.maximum(imx[p], imax[nodes])
        self.levels = levels
        ex = np.full(n, -1, dtype=np.int64)  # the exit node (below the root) of each node's path
        ex[X] = X
        for nodes in levels[1:]:
            ex[nodes] = ex[par[nodes]]
        self.ex = ex
        # a tree edge that is the path's first edge again (the source's edge walked back): counted once
        exs = np.maximum(ex, 0)
        self.skip = (par >= 0) & (ex >= 0) & incl[exs] & (in_edge == in_edge[exs])
        self.reached, self.dropped = reached, dropped
        self.s_off = np.full(n, np.nan)
        self.s_off[X] = s_off
        self._eq: dict[int, np.ndarray] = {}
        self.par, self.in_edge, self.in_fw, self.incl, self.has = par, in_edge, in_fw, incl, has
        self.node_f, self.node_i, self.node_m = fsum, isum, imx
        #: per node: the sequence entries up to it (edges, crossings kept)
        self.depth = np.ascontiguousarray(isum[:, 3:5])
        # per target group
        G = F.targets.n_groups
        hit, ch = F.hit, F.choice
        te = F.targets.edge[F.t_pt]
        t_off = F.targets.offset[F.t_pt]
        x = F.entry
        via = ch != 2
        tgt_fwd = ch == 0
        x_exit = par[x] < 0
        x_drop = dropped[x] & x_exit
        last_len = np.where(tgt_fwd, t_off, L[te] - t_off)
        drop_last = via & (last_len <= 0) & ~x_drop
        incl_last = ~drop_last
        start = np.where(via, np.where(tgt_fwd, 0.0, L[te]), F.sources.offset[F.s_pt])
        w_last = np.abs(t_off - start)
        # the crossing at the entry node (its entering edge -> the target's edge)
        cx = np.flatnonzero(via & incl_last & ~x_drop)
        xa, xf = in_edge[x[cx]], in_fw[x[cx]]
        xnode = np.where(xf, v[xa], u[xa])
        xl, xe, xs, xalt = _turns(net, stress, alt, turns, xnode, xa, te[cx], xf, tgt_fwd[cx])
        m = hit.size
        self.x_has = np.zeros(m, dtype=bool)
        self.x_has[cx] = xe >= 0
        self.x_edge = np.full(m, -1, dtype=np.int64)
        self.x_edge[cx] = xe
        self.x_level = np.zeros(m, dtype=np.int8)
        self.x_level[cx] = xl
        self.x_node = np.where(via, x, -1)
        self.t_edge, self.incl_last, self.via = te, incl_last, via
        # the last edge is the route's first walk of it unless an earlier entry walked it (only the entry
        # node's own edge or the source's edge can be that edge)
        ex_x = np.maximum(ex[x], 0)
        self.last_once = ~(incl[x] & (in_edge[x] == te)) & ~(incl[ex_x] & (in_edge[ex_x] == te))
        # route values: the entry node's (via) or nothing (direct), then the last edge, then the entry crossing
        base_f = np.where(via[:, None], fsum[x], 0.0)
        base_i = np.where(via[:, None], isum[x], 0)
        base_m = np.where(via[:, None], imx[x], 0)
        lvl = lev_e[te]
        wl = np.where(incl_last, w_last, 0.0)
        length_h = base_f[:, 0] + wl
        lsum = [base_f[:, 1 + k] + np.where(incl_last & (lvl == k + 1), w_last, 0.0) for k in range(4)]
        ass_h = base_f[:, 5] + wl * ass_e[te]
        xh = np.zeros(m, dtype=bool)
        xh[cx] = xe >= 0
        xcl = np.zeros(m, dtype=np.int64)
        xcl[cx] = xl
        xass = np.zeros(m, dtype=bool)
        xass[cx] = xs
        n_cross = base_i[:, 0] + xh
        n_unsafe = base_i[:, 1] + (xh & (xcl >= unsafe_level))
        n_ass_c = base_i[:, 2] + (xh & xass)
        self.n_edges_h = base_i[:, 3] + incl_last
        self.n_cross_h = base_i[:, 4] + xh
        worst_edge = np.maximum(base_m[:, 0], np.where(incl_last, lvl, 0))
        worst_cross = np.maximum(base_m[:, 1], np.where(xh, xcl, 0))
        alt_w = []
        for k, al in enumerate(alt_e):
            wk = np.maximum(base_m[:, 2 + k], np.where(incl_last, al[te], 0))
            xk = np.zeros(m, dtype=np.int64)
            xk[cx] = xalt[k].astype(np.int64)
            alt_w.append(np.maximum(wk, xk))
        cost_h = None
        if weight is not None:
            Le = L[te]
            # the last step: the target's edge (from its entered end, or from the source point when direct)
            c_last = _piece(weight, te, start, t_off, Le)
            # without it (a zero-metre last edge), the entry's edge is the path's last one: a piece
            px = np.maximum(par[x], 0)
            c_prev = np.where(
                x_exit,
                fsum[x, 6],
                fsum[px, 6]
                + np.where(
                    incl[x],
                    _piece(
                        weight,
                        in_edge[x],
                        np.where(in_fw[x], 0.0, L[in_edge[x]]),
                        np.where(in_fw[x], L[in_edge[x]], 0.0),
                        L[in_edge[x]],
                    ),
                    0.0,
                ),
            )
            cost_h = np.where(via, np.where(incl_last, fsum[x, 6] + c_last, c_prev), 0.0 + c_last)

        # expand to all target groups (unreached: empty)
        def full(vals: np.ndarray, fill: Any, dtype: Any = None) -> np.ndarray:
            out = np.full((G,) + vals.shape[1:], fill, dtype=dtype or vals.dtype)
            out[hit] = vals
            return out

        self.reach = np.zeros(G, dtype=bool)
        self.reach[hit] = np.isfinite(F.gbest[hit])
        length = full(length_h, 0.0)
        shares = full(np.column_stack(lsum), 0.0)
        assumed = full(ass_h, 0.0)
        n_cross_g = full(n_cross, 0)
        n_ass_g = full(n_ass_c, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = np.where(length[:, None] > 0, shares / length[:, None], 0.0)
            assumed = np.where(length > 0, assumed / length, 0.0)
        eq = float(stress.config.get("verdict", {}).get("crossing_equiv_m", 15.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            tot = length + eq * n_cross_g
            assumed = np.where(tot > 0, (assumed * length + eq * n_ass_g) / tot, 0.0)
        self.length = np.where(self.reach, length, np.nan)
        self.shares = shares
        self.assumed = assumed
        self.worst_edge = full(worst_edge, 0)
        self.worst_cross = full(worst_cross, 0)
        self.n_cross = n_cross_g
        self.n_unsafe = full(n_unsafe, 0)
        self.n_assumed_cross = n_ass_g
        self.alt_worst = [full(w_, 0) for w_ in alt_w]
        self.cost = None if cost_h is None else np.where(self.reach, full(cost_h, np.inf), np.inf)
        self.row_of = np.full(G, -1, dtype=np.int64)  # target group -> position among the hit ones
        self.row_of[hit] = np.arange(m)

    # ------------------------------------------------------------------------------------------------------
    def release(self) -> None:
        """Drop what only the rows needed (per-route measures, per-node sums, the forest's search arrays): the
        routes' sequences stay readable."""
        for name in (
            "length",
            "shares",
            "assumed",
            "worst_edge",
            "worst_cross",
            "n_cross",
            "n_unsafe",
            "n_assumed_cross",
            "alt_worst",
            "cost",
            "node_f",
            "node_m",
            "s_off",
            "dropped",
            "reached",
            "in_fw",
            "_eq",
            "node_i",
            "forest",
        ):
            setattr(self, name, None)

    def same_nodes(self, other: TreeRoutes) -> np.ndarray:
        """Per node: True when its path from the root is the same walk in this forest and in ``other`` (same
        edges, directions and start on the source's edge)."""
        got = self._eq.get(id(other))
        if got is not None:
            return got
        X = self.levels[0]
        o = other
        eq = np.zeros(self.par.size, dtype=bool)
        eq[X] = (
            o.reached[X]
            & (o.par[X] < 0)
            & (o.in_edge[X] == self.in_edge[X])
            & (o.in_fw[X] == self.in_fw[X])
            & (o.dropped[X] == self.dropped[X])
            & (self.dropped[X] | (o.s_off[X] == self.s_off[X]))
        )
        for nodes in self.levels[1:]:
            p = self.par[nodes]
            eq[nodes] = eq[p] & (o.par[nodes] == p) & (o.in_edge[nodes] == self.in_edge[nodes])
        self._eq = {id(other): eq}
        return eq

    def same_routes(
        self, groups: np.ndarray, other: TreeRoutes, o_groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Whether the routes of target groups ``groups`` here walk the same paths as those of ``o_groups`` in
        ``other`` (the same targets), decided on the forests where both walk part of their last edge, entered
        from a node below the root: (decided, same). The others (a route along the source's edge, from the root
        node itself, or ending at a node) are left to a comparison of the paths."""
        r, q = self.row_of[groups], other.row_of[o_groups]
        ok = (r >= 0) & (q >= 0)
        r, q = np.maximum(r, 0), np.maximum(q, 0)
        x, y = self.forest.entry[r], other.forest.entry[q]
        ok &= self.via[r] & other.via[q] & (self.par[x] >= 0) & (other.par[y] >= 0)
        # a last edge walked over zero metres is not in the path: the same walk may then enter it elsewhere
        ok &= self.incl_last[r] & other.incl_last[q]
        same = (
            (x == y)
            & (self.forest.choice[r] == other.forest.choice[q])
            & (self.t_edge[r] == other.t_edge[q])
            & (self.incl_last[r] == other.incl_last[q])
            & (
                self.forest.targets.offset[self.forest.t_pt[r]]
                == other.forest.targets.offset[other.forest.t_pt[q]]
            )
        )
        same &= self.same_nodes(other)[x]
        return ok, same & ok

    def edge_use(
        self, groups: np.ndarray, kids: np.ndarray, school: np.ndarray
    ) -> tuple[np.ndarray, ...] | None:
        """Children per edge of the routes of target groups ``groups`` (each route once per edge): the routes'
        children summed over each subtree, from the leaves up, plus their last edges. Returns edges, children,
        routes and the school of each (edge, subtree) or last edge; None when a subtree mixes schools."""
        r = self.row_of[groups]
        ok = r >= 0
        r, kids, school = r[ok], kids[ok], school[ok]
        n = self.par.size
        via = self.via[r]
        x = self.x_node[r[via]]
        sk = np.bincount(x, weights=kids[via], minlength=n)
        sc = np.bincount(x, minlength=n).astype(float)
        hi = np.full(n, -1, dtype=np.int64)
        lo = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.maximum.at(hi, x, school[via])
        np.minimum.at(lo, x, school[via])
        par = self.par
        for nodes in reversed(self.levels[1:]):
            p = par[nodes]
            np.add.at(sk, p, sk[nodes])
            np.add.at(sc, p, sc[nodes])
            np.maximum.at(hi, p, hi[nodes])
            np.minimum.at(lo, p, lo[nodes])
        y = np.flatnonzero((sc > 0) & self.incl & ~self.skip)
        if (hi[y] != lo[y]).any():
            return None
        last = np.flatnonzero(~via | (self.incl_last[r] & self.last_once[r]))
        return (
            np.concatenate([self.in_edge[y], self.t_edge[r[last]]]),
            np.concatenate([sk[y], kids[last]]),
            np.concatenate([sc[y], np.ones(last.size)]),
            np.concatenate([hi[y], school[last]]),
        )

    def hazard_entries(
        self, groups: np.ndarray, edge_ok: np.ndarray, min_level: int
    ) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """Entries of the routes of target groups ``groups`` on edges with ``edge_ok`` (route index, place in
        its sequence, edge) and crossings of level >= ``min_level`` (route index, place, node, crossed edge,
        level): the routes' paths read through the nearest such ancestors only."""
        n = self.par.size
        par, ni = self.par, self.depth
        hz = self.incl & (self.in_edge >= 0) & edge_ok[np.maximum(self.in_edge, 0)]
        hc = self.has & (self.c_level >= min_level)
        up_e = np.full(
            n, -1, dtype=np.int64
        )  # nearest ancestor (strictly above) with such an edge / crossing
        up_c = np.full(n, -1, dtype=np.int64)
        for nodes in self.levels[1:]:
            p = par[nodes]
            up_e[nodes] = np.where(hz[p], p, up_e[p])
            up_c[nodes] = np.where(hc[p], p, up_c[p])
        r = self.row_of[groups]
        idx = np.flatnonzero(r >= 0)
        r = r[idx]
        via = self.via[r]
        vi, x = idx[via], self.x_node[r[via]]
        out_e: list[list[np.ndarray]] = [[], [], []]
        cur, who = np.where(hz[x], x, up_e[x]), vi
        while cur.size:
            k = cur >= 0
            cur, who = cur[k], who[k]
            out_e[0].append(who)
            out_e[1].append(ni[cur, 0] - 1)
            out_e[2].append(self.in_edge[cur])
            cur = up_e[cur]
        te = self.t_edge[r]
        last = (~via | self.incl_last[r]) & edge_ok[te]
        out_e[0].append(idx[last])
        out_e[1].append(np.where(via[last], ni[self.x_node[r[last]], 0], 0))
        out_e[2].append(te[last])
        out_c: list[list[np.ndarray]] = [[], [], [], [], []]
        cur, who = np.where(hc[x], x, up_c[x]), vi
        while cur.size:
            k = cur >= 0
            cur, who = cur[k], who[k]
            out_c[0].append(who)
            out_c[1].append(ni[cur, 1] - 1)
            out_c[2].append(par[cur])
            out_c[3].append(self.c_edge[cur])
            out_c[4].append(self.c_level[cur])
            cur = up_c[cur]
        rv = r[via]
        xs = self.x_has[rv] & (self.x_level[rv] >= min_level)
        out_c[0].append(vi[xs])
        out_c[1].append(ni[x[xs], 1])
        out_c[2].append(x[xs])
        out_c[3].append(self.x_edge[rv[xs]])
        out_c[4].append(self.x_level[rv[xs]])
        return tuple(np.concatenate(a) for a in out_e), tuple(np.concatenate(a) for a in out_c)

    @property
    def source(self) -> np.ndarray:
        """Source group of each target group (-1 where unreached)."""
        return self.forest.source

    def costs(self, network: Any, weight: Any) -> np.ndarray:
        """Each route's cost under the weight the forest was measured with (``weight`` must be that one)."""
        assert self.cost is not None, "the forest was measured without a cost weight"
        return self.cost

    def paths_of(self, groups: np.ndarray) -> Any:
        """The paths of target groups ``groups`` (read from the forest)."""
        return self.forest.paths(groups)

    def counts(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Entries of the edge and crossing sequences of the routes of target groups ``groups``."""
        r = self.row_of[groups]
        ok = r >= 0
        rr = np.maximum(r, 0)
        return np.where(ok, self.n_edges_h[rr], 0), np.where(ok, self.n_cross_h[rr], 0)

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
        """Write the edge and crossing sequences (walking order, source first) of the routes of target groups
        ``groups`` at offsets ``off_e`` / ``off_c`` of the output arrays: the forest's path of the entry node,
        one depth level per step for all routes at once, then the last edge and the entry crossing."""
        r = self.row_of[groups]
        ok = r >= 0
        r, off_e, off_c = r[ok], off_e[ok], off_c[ok]
        ni = self.depth
        via = self.via[r]
        # direct routes: their one edge
        d = ~via
        edge[off_e[d]] = self.t_edge[r[d]]
        # last edge and entry crossing
        vr = np.flatnonzero(via)
        x = self.x_node[r[vr]]
        le = vr[self.incl_last[r[vr]]]
        edge[off_e[le] + ni[self.x_node[r[le]], 0]] = self.t_edge[r[le]]
        xc = vr[self.x_has[r[vr]]]
        at = off_c[xc] + ni[self.x_node[r[xc]], 1]
        c_node[at] = self.x_node[r[xc]]
        c_edge[at] = self.x_edge[r[xc]]
        c_level[at] = self.x_level[r[xc]]
        # the path of the entry node, read upwards
        cur = x
        oe, oc = off_e[vr], off_c[vr]
        par, in_edge, incl, has = self.par, self.in_edge, self.incl, self.has
        while cur.size:
            k = incl[cur]
            edge[oe[k] + ni[cur[k], 0] - 1] = in_edge[cur[k]]
            k = has[cur]
            c = cur[k]
            at = oc[k] + ni[c, 1] - 1
            c_node[at] = par[c]
            c_edge[at] = self.c_edge[c]
            c_level[at] = self.c_level[c]
            cur = par[cur]
            k = cur >= 0
            cur, oe, oc = cur[k], oe[k], oc[k]


def _piece(weight: Any, e: np.ndarray, start: np.ndarray, end: np.ndarray, Le: np.ndarray) -> np.ndarray:
    """``weight.piece`` of the steps (edge, start, end) in metres, as ``path_costs`` turns them into fractions."""
    with np.errstate(divide="ignore", invalid="ignore"):
        fa = np.where(Le > 0, start / Le, np.where(start > 0, 1.0, 0.0))
        fb = np.where(Le > 0, end / Le, np.where(end > 0, 1.0, 0.0))
    return weight.piece(e, fa, fb)


def _depth_levels(par: np.ndarray, roots: np.ndarray) -> list[np.ndarray]:
    """The nodes of a forest by depth (``roots`` first), from the parent of each node (-1: none)."""
    kids = np.flatnonzero(par >= 0)
    order = kids[np.argsort(par[kids], kind="stable")]
    n = par.size
    cnt = np.bincount(par[kids], minlength=n)
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(cnt, out=start[1:])
    levels = [roots]
    cur = roots
    while True:
        idx, _ = ragged_ranges(start[cur], cnt[cur])
        if idx.size == 0:
            break
        cur = order[idx]
        levels.append(cur)
    return levels
