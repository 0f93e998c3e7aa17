"""Attaching points to the walk network: the nearest point of the nearest edge (bucket grid, R-tree fallback)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from childspace._errors import DataError, NetworkError
from childspace._parallel import map_threads
from childspace.network._base import NetworkBase
from childspace.network._helpers import transform_points
from childspace.network.arrays import ragged_ranges
from childspace.network.types import Snap

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

#: snapping index: a bucket grid over edge segments (see ``SnapMixin._snap_index``): target number of grid
#: entries sharing a typical segment's cell, largest number of cells, and candidates measured per chunk
_SNAP_CELL_LOAD = 2.5
_SNAP_MAX_CELLS = 20_000_000
_SNAP_CHUNK = 250_000
#: blocks of grid cells measured in turn for the points still uncertain (2: the 2 x 2 cells nearest to the point;
#: odd b: the b x b cells around it, at least (b - 1) / 2 cells of guard); the rest go through the R-tree
_SNAP_BLOCKS = (2, 3, 5, 9, 17)
#: offsets this close to an edge's end (m) are its end exactly (floating-point rounding, not a distance)
_SNAP_END_M = 1e-9


class SnapMixin(NetworkBase):
    """Snapping methods of :class:`childspace.network.engine.WalkNetwork`."""

    def snap(
        self,
        points: gpd.GeoDataFrame | gpd.GeoSeries | ArrayLike,
        max_distance: float = 150.0,
        group: ArrayLike | None = None,
        legs: bool = False,
        barriers: str | gpd.GeoSeries | gpd.GeoDataFrame | ArrayLike | None = "network",
    ) -> Snap:
        """Attach points to the nearest point of the nearest walkable edge that is not across a barrier.

        The rule, in order:

        1. Only walkable edges take points: an edge tagged ``highway=motorway``/``motorway_link``,
           ``foot=no``/``private``/``use_sidepath``, ``motorroad=yes`` or ``access=no``/``private`` (without
           ``foot=yes``/``designated``/``permissive``) is never snapped to (networks read with
           :func:`childspace.osm.reader.read_osm` hold walkable ways only; this guards tables from elsewhere,
           e.g. :meth:`from_networkx`).
        2. The point goes to the nearest point of the nearest such edge (straight-line distance in the network
           CRS, exact: see :meth:`_nearest_edge`).
        3. Barriers: when the straight leg from the point to that snapped point crosses a barrier line (by
           default the network's :attr:`barriers`: the carriageways of roads whose sidewalks are mapped as
           separate ways, so a home is not attached to the sidewalk across a main road), the point goes to the
           nearest edge within ``max_distance`` whose leg crosses no barrier; if there is none, the nearest
           edge is kept (counted in ``Snap.summary()['across_barrier']``).
        4. Points farther than ``max_distance`` from every walkable edge are not attached.

        Parameters
        ----------
        points : GeoSeries, GeoDataFrame (any CRS, Point geometries) or array (m, 2) in the network CRS (metres)
        max_distance : float
            Points farther than this (metres) from every edge are not attached (``ok=False``) and are listed by
            :meth:`Snap.unsnapped` / :meth:`Snap.summary`.
        group : array-like (m,), optional
            A label per point; points sharing a label are several entrances of one facility, and queries answer
            once per label (the best entrance). Default: every point is its own group.
        legs : bool
            Record each point's access leg (the straight distance to its snapped point, metres) in
            :attr:`Snap.leg`; every query then adds it to each distance from or to the point, so a walking
            distance is leg + network + leg and never shorter than the straight line between the two points.
            Default False: distances start at the snapped point.
        barriers : "network", None, GeoSeries or array of line/polygon geometries
            Lines a leg may not cross (rule 3): ``"network"`` (default) the network's :attr:`barriers`; None: no
            barrier check; geometries in the network CRS (a GeoSeries in another CRS is reprojected), e.g.
            rivers, railways or motorways read from the extract.

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
        pxy: np.ndarray | None = None  # (m, 2) point coordinates in the network CRS, where already known
        geom: np.ndarray | None
        if isinstance(points, (gpd.GeoDataFrame, gpd.GeoSeries)):
            if points.crs is None:
                raise NetworkError(
                    "the points have no CRS, so they cannot be placed on the network",
                    fix="set it with .set_crs('EPSG:4326') (or load them through childspace.io)",
                )
            gs = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
            geom = np.asarray(gs.array, dtype=object)
            ids = points.index.to_numpy()
            src_crs = CRS.from_user_input(gs.crs)
            if not src_crs.equals(self.crs):
                pxy = transform_points(geom, src_crs, self.crs)
        else:
            arr = np.asarray(points, dtype=float)
            if arr.ndim != 2 or arr.shape[1] != 2:
                raise DataError(
                    f"points must be (m, 2) coordinates in the network CRS, got shape {arr.shape}",
                    fix="pass a GeoSeries/GeoDataFrame with a CRS, or an (m, 2) array of x, y metres",
                )
            geom = None  # coordinates only: no geometry objects needed
            ids = np.arange(arr.shape[0])
            pxy = arr
        if geom is None:
            assert pxy is not None  # points given as coordinates
            m = pxy.shape[0]
            empty = np.zeros(m, dtype=bool)
            notpt = empty
        else:
            m = geom.size
            empty = shapely.is_missing(geom) | shapely.is_empty(geom)
            notpt = (~empty) & (shapely.get_type_id(geom) != 0)
        if notpt.any():
            rows = ids[notpt][:5].tolist()
            raise DataError(
                f"{int(notpt.sum())} geometries are not Points (ids {rows})",
                fix="pass points (use .representative_point() for areas, or their entrances)",
            )
        if group is None:
            labels, owner = ids, np.arange(m, dtype=np.int64)
        else:
            gvals = np.asarray(group)
            if gvals.size != m:
                raise DataError(
                    f"group has {gvals.size} labels for {m} points", fix="give one label per point"
                )
            codes, uniq = pd.factorize(pd.Series(gvals), sort=False)
            owner = codes.astype(np.int64)
            labels = np.asarray(uniq)
        edge = np.zeros(m, dtype=np.int64)
        dist = np.full(m, np.inf)
        offset = np.zeros(m)
        xy = np.zeros((m, 2))
        good = np.flatnonzero(~empty)
        if pxy is None:
            assert geom is not None
            gxy = shapely.get_coordinates(geom[good])
        else:
            gxy = pxy[good]
        fin = np.isfinite(gxy).all(axis=1)
        good, gxy = good[fin], gxy[fin]
        memo = self._memo_key(gxy, max_distance, barriers)
        hit = self._snap_memo.get(memo[0]) if memo is not None else None
        if (
            memo is not None and hit is not None
        ):  # these points snapped before (e.g. the homes: coverage, routes)
            at = good[memo[1]]  # the remembered values are in the points' sorted order
            edge[at], dist[at], offset[at], xy[at] = hit[:4]
            across = hit[4]
        else:
            if good.size:
                edge[good], dist[good], offset[good], xy[good] = self._nearest_edge(gxy)
            across = 0
            btree = self._barrier_tree(barriers)
            if btree is not None and good.size:
                across = self._avoid_barriers(btree, gxy, good, max_distance, edge, dist, offset, xy)
            if memo is not None:
                at = good[memo[1]]
                self._remember(memo[0], (edge[at], dist[at], offset[at], xy[at], across))
        elen = self.length[edge]
        frac = np.divide(offset, elen, out=np.zeros(m), where=elen > 0)
        ok = dist <= max_distance
        if m and good.size and not ok.any():
            raise NetworkError(
                f"none of the {m} points is within {max_distance:g} m of the walk network (nearest edge at "
                f"{np.min(dist[good]):.0f} m)",
                fix='check the points\' CRS and datum (coords = "gcj02"/"bd09" for Amap/Baidu picks, crs= for '
                "projected files) and that the OSM extract covers their area; to snap farther in Python, pass "
                "max_distance= to WalkNetwork.snap (max_snap= to the coverage functions); in a run configuration "
                "[network] max_snap_m (points this far from every street are usually misplaced)",
            )
        leg = np.where(ok, dist, 0.0) if legs else None
        out = Snap(
            edge=edge,
            offset=offset,
            frac=frac,
            distance=dist,
            ok=ok,
            xy=xy,
            ids=ids,
            owner=owner,
            labels=labels,
            max_distance=float(max_distance),
            crs=self.crs,
            n_network_edges=self.n_edges,
            leg=leg,
            across_barrier=int(across),
        )
        return out

    #: point sets of at least this many points have their snap remembered (:meth:`_memo_key`)
    _SNAP_MEMO_MIN = 10_000
    #: snaps remembered per network (the latest)
    _SNAP_MEMO_SIZE = 2

    @property
    def _snap_memo(self) -> dict[bytes, tuple[Any, ...]]:
        memo: dict[bytes, tuple[Any, ...]] | None = self.__dict__.get("_snap_memo_d")
        if memo is None:
            memo = self.__dict__["_snap_memo_d"] = {}
        return memo

    def _memo_key(
        self, gxy: np.ndarray, max_distance: float, barriers: Any
    ) -> tuple[bytes, np.ndarray] | None:
        """The key under which the snap of a large point set is remembered, and the order that sorts the points:
        a digest of the sorted coordinates (exact bytes: the same points in any order), of the tolerance and of
        the barriers (the network's own or none; other barrier sets are not remembered). A county's 300k homes
        are snapped by the coverage (in a spatial order) and by the routes (in the file's order, on another
        process forked after :meth:`remember_snap`): once, not twice. Each point's snap depends on that point
        alone, so the order does not change it."""
        if gxy.shape[0] < self._SNAP_MEMO_MIN or not (barriers is None or isinstance(barriers, str)):
            return None
        import hashlib

        order = np.lexsort((gxy[:, 1], gxy[:, 0]))
        h = hashlib.blake2b(digest_size=20)
        h.update(np.ascontiguousarray(gxy[order], dtype=float).tobytes())
        h.update(repr((float(max_distance), barriers)).encode())
        return h.digest(), order

    def _remember(self, key: bytes, value: tuple[Any, ...]) -> None:
        memo = self._snap_memo
        memo[key] = value
        while len(memo) > self._SNAP_MEMO_SIZE:
            del memo[next(iter(memo))]

    def remember_snap(
        self, points: gpd.GeoDataFrame | gpd.GeoSeries | ArrayLike, max_distance: float
    ) -> None:
        """Snap ``points`` now and remember it (as :meth:`snap` remembers any large point set): the next
        :meth:`snap` of the same points and tolerance, here or in a process forked after this call, reuses it.
        Errors are left for that call to raise."""
        try:
            self.snap(points, max_distance=max_distance)
        except (NetworkError, DataError):
            pass

    def walkable_edges(self) -> np.ndarray:
        """Per edge: True when points may be snapped to it (rule 1 of :meth:`snap`), from the edge tags."""
        mask: np.ndarray | None = getattr(self, "_walkmask", None)
        if mask is None:
            E = self.n_edges
            col = lambda c: (
                self.edges[c].astype(object).to_numpy()
                if c in self.edges.columns
                else np.full(E, None, dtype=object)
            )
            hw, foot, acc, mroad = col("highway"), col("foot"), col("access"), col("motorroad")
            foot_ok = np.isin(foot, ["yes", "designated", "permissive"])
            bad = np.isin(hw, ["motorway", "motorway_link"]) & ~foot_ok
            bad |= np.isin(foot, ["no", "private", "use_sidepath"])
            bad |= (mroad == "yes") & ~foot_ok
            bad |= np.isin(acc, ["no", "private"]) & ~foot_ok
            mask = self._walkmask = ~bad
        return mask

    def _barrier_tree(
        self, barriers: str | gpd.GeoSeries | gpd.GeoDataFrame | ArrayLike | None
    ) -> tuple[shapely.STRtree, np.ndarray] | None:
        """R-tree over the barrier geometries of :meth:`snap` (``"network"``: :attr:`barriers`, cached)."""
        if barriers is None:
            return None
        if isinstance(barriers, str):
            if barriers != "network":
                raise NetworkError(
                    f"unknown barriers value {barriers!r}", fix="pass 'network', None, or barrier geometries"
                )
            geoms = getattr(self, "barriers", None)
            if geoms is None or len(geoms) == 0:
                return None
            if getattr(self, "_btree", None) is None:
                g = np.asarray(geoms, dtype=object)
                self._btree = (shapely.STRtree(g), g)
            return self._btree
        if isinstance(barriers, (gpd.GeoSeries, gpd.GeoDataFrame)):
            gs = barriers.geometry if isinstance(barriers, gpd.GeoDataFrame) else barriers
            if gs.crs is not None and not CRS.from_user_input(gs.crs).equals(self.crs):
                gs = gs.to_crs(self.crs)
            g = np.asarray(gs.array, dtype=object)
        else:
            g = np.asarray(barriers, dtype=object).reshape(-1)
        g = g[~(shapely.is_missing(g) | shapely.is_empty(g))]
        return (shapely.STRtree(g), g) if g.size else None

    def _avoid_barriers(
        self,
        btree: tuple[shapely.STRtree, np.ndarray],
        gxy: np.ndarray,
        good: np.ndarray,
        max_distance: float,
        edge: np.ndarray,
        dist: np.ndarray,
        offset: np.ndarray,
        xy: np.ndarray,
    ) -> int:
        """Rule 3 of :meth:`snap`, in place on the rows ``good``: points whose leg crosses a barrier move to the
        nearest walkable edge within ``max_distance`` reachable without crossing. Returns how many points keep
        a leg across a barrier (no such edge)."""
        tree, _ = btree
        d0 = dist[good]
        live = np.flatnonzero((d0 > 0) & (d0 <= max_distance))
        if live.size == 0:
            return 0
        legs_ = shapely.linestrings(np.stack([gxy[live], xy[good[live]]], axis=1))
        qi, _ = tree.query(legs_, predicate="intersects")
        cross = live[np.unique(qi)]
        if cross.size == 0:
            return 0
        # candidate edges within max_distance of the crossing points, their nearest points and legs
        walk = np.flatnonzero(self.walkable_edges())
        walktree: shapely.STRtree | None = getattr(self, "_walktree", None)
        if walktree is None:
            walktree = self._walktree = shapely.STRtree(self._geom[walk])
        pts = shapely.points(gxy[cross])
        pi, ti = walktree.query(pts, predicate="dwithin", distance=max_distance)
        e = walk[ti]
        eg = self._geom[e]
        off = np.clip(shapely.line_locate_point(eg, pts[pi]), 0.0, self.length[e])
        sxy = shapely.get_coordinates(shapely.line_interpolate_point(eg, off)).reshape(-1, 2)
        d = np.hypot(sxy[:, 0] - gxy[cross][pi, 0], sxy[:, 1] - gxy[cross][pi, 1])
        cand_legs = shapely.linestrings(np.stack([gxy[cross][pi], sxy], axis=1))
        ci, _ = tree.query(cand_legs, predicate="intersects")
        blocked = np.zeros(pi.size, dtype=bool)
        blocked[ci] = True
        d = np.where(blocked | (d > max_distance), np.inf, d)
        order = np.lexsort((d, pi))
        first = order[np.r_[True, pi[order][1:] != pi[order][:-1]]] if order.size else order
        found = first[np.isfinite(d[first])]
        rows = good[cross[pi[found]]]
        edge[rows], dist[rows], offset[rows], xy[rows] = e[found], d[found], off[found], sxy[found]
        return int(cross.size - found.size)

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
        a = np.flatnonzero(~last)  # segment a -> a + 1 (both vertices of one edge)
        seg_edge = np.repeat(np.arange(self.n_edges), np.diff(vptr) - 1)
        sel = np.flatnonzero(self.walkable_edges()[seg_edge])  # only walkable edges' segments are listed
        d = coords[a + 1] - coords[a]
        slen = np.hypot(d[:, 0], d[:, 1])
        ll = slen**2
        lo = np.minimum(coords[a], coords[a + 1])
        hi = np.maximum(coords[a], coords[a + 1])
        ix: dict[str, Any] = {
            "ax": coords[a, 0],
            "ay": coords[a, 1],
            "dx": np.ascontiguousarray(d[:, 0]),
            "dy": np.ascontiguousarray(d[:, 1]),
            "inv_ll": np.divide(1.0, ll, out=np.zeros_like(ll), where=ll > 0),
            "edge": seg_edge,
            "c0": cum[a],
            "slen": slen,
        }
        lo, hi = lo[sel], hi[sel]
        if sel.size:
            origin = lo.min(axis=0)
            span = np.maximum(hi.max(axis=0) - origin, 1.0)
            cell = max(float(np.sqrt(span[0] * span[1] / sel.size)), 1.0)
            for _ in range(4):
                cell = max(cell, float(np.sqrt(span[0] * span[1] / _SNAP_MAX_CELLS)))
                shape = np.floor(span / cell).astype(np.int64) + 1
                # a small margin so that floating-point rounding at cell borders never drops a segment
                eps = 1e-7 * cell + 1e-9 * float(np.abs(origin).max())
                c_lo = np.clip(np.floor((lo - eps - origin) / cell).astype(np.int64), 0, shape - 1)
                c_hi = np.clip(np.floor((hi + eps - origin) / cell).astype(np.int64), 0, shape - 1)
                kx = c_hi[:, 0] - c_lo[:, 0] + 1
                ky = c_hi[:, 1] - c_lo[:, 1] + 1
                q, seg = ragged_ranges(np.zeros(sel.size, dtype=np.int64), kx * ky)
                cid = (c_lo[seg, 0] + q // ky[seg]) * shape[1] + c_lo[seg, 1] + q % ky[seg]
                cnt = np.bincount(cid, minlength=int(shape[0] * shape[1]))
                load = float((cnt.astype(float) ** 2).sum() / cnt.sum())
                if load <= 1.5 * _SNAP_CELL_LOAD:
                    break
                cell *= float(np.sqrt(_SNAP_CELL_LOAD / load))
            order = np.argsort(cid, kind="stable")
            indptr = np.zeros(cnt.size + 1, dtype=np.int64)
            np.cumsum(cnt, out=indptr[1:])
            ix.update(origin=origin, cell=cell, shape=shape, indptr=indptr, cell_seg=sel[seg[order]])
        return ix

    def _nearest_edge(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Nearest edge of every point (m, 2), network CRS: (edge, distance, offset from u, snapped xy).

        The segments listed in a block of grid cells around a point are measured exactly; the answer is certain
        when the best distance is below the distance from the point to the border of that block (a closer
        segment would have its nearest point inside the block, so it would be listed there). A first pass
        measures the 2 x 2 cells nearest to the point (its own cell and the three beside its nearest corner:
        at least half a cell of guard), the next ones the 3 x 3, 5 x 5, 9 x 9 and 17 x 17 cells around it for the
        points left uncertain (at least 1, 2, 4 and 8 cells: homes tens of metres from a street, in a grid sized
        for the street density, stay out of the slow path); the rest (far from every street, or outside the
        grid) go through an R-tree nearest
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
            near = np.where(frac < 0.5, -1, 1)  # towards the nearest cell corner, per axis
            # points in the order of their cells: the lookups into the grid then walk it nearly in memory order
            # (a county's grid has millions of cells; gathers at random places in it cost more than the measuring)
            todo = np.argsort(
                np.clip(ci[:, 0], 0, shape[0]) * (shape[1] + 1) + np.clip(ci[:, 1], 0, shape[1])
            )
            for block in _SNAP_BLOCKS:
                if block == 2:
                    steps = [(0, 0), (1, 0), (0, 1), (1, 1)]
                    guard = np.maximum(frac[todo], 1.0 - frac[todo]).min(axis=1) * cell
                    sign = near[todo]
                else:
                    r = block // 2
                    steps = [(i, j) for i in range(-r, r + 1) for j in range(-r, r + 1)]
                    guard = (r + np.minimum(frac[todo], 1.0 - frac[todo]).min(axis=1)) * cell
                    sign = np.ones((todo.size, 2), dtype=np.int64)
                st = np.array(steps, dtype=np.int64)
                # one (points, cells) table per axis: whole-array operations, row by row in memory
                gi = ci[todo, 0, None] + st[None, :, 0] * sign[:, 0, None]
                gj = ci[todo, 1, None] + st[None, :, 1] * sign[:, 1, None]
                inside = (gi >= 0) & (gi < shape[0]) & (gj >= 0) & (gj < shape[1])
                c = np.where(inside, gi * shape[1] + gj, 0)
                del gi, gj
                starts = indptr[c]
                counts = indptr[c + 1]
                counts -= starts
                counts[~inside] = 0
                del c, inside
                self._measure_cells(xy, todo, starts, counts, edge, best, offset, sxy)
                certain[todo] = best[todo] < guard * (1.0 - 1e-9)
                todo = todo[~certain[todo]]
                if todo.size == 0:
                    break
        rest = np.flatnonzero(~certain)
        if rest.size:
            edge[rest], best[rest], offset[rest], sxy[rest] = self._nearest_edge_strtree(xy[rest])
        # a point whose nearest point is an edge's end node sits exactly at it: the sums of segment lengths (or
        # GEOS's line_locate_point) can leave it 1e-15 m short, and a route to a home at a node would then walk
        # "0 m" of that edge and take its stress level (a tie between the edges meeting there decided which)
        length = self.length[edge]
        at_end = offset >= length - _SNAP_END_M
        offset[at_end] = length[at_end]
        offset[offset <= _SNAP_END_M] = 0.0
        return edge, best, offset, sxy

    def _measure_cells(
        self,
        xy: np.ndarray,
        pts: np.ndarray,
        starts: np.ndarray,
        counts: np.ndarray,
        edge: np.ndarray,
        best: np.ndarray,
        offset: np.ndarray,
        sxy: np.ndarray,
    ) -> None:
        """Nearest of the segments listed in the given grid cells (``starts``/``counts`` into the bucket grid,
        one row per point of ``pts``), written into ``edge``, ``best``, ``offset``, ``sxy`` at ``pts``."""
        ix = self._snap_index()
        k_ = starts.shape[1]
        per_pt = counts.sum(axis=1)
        # chunks of points bound the memory of the candidate arrays
        bounds = np.searchsorted(
            np.cumsum(per_pt), np.arange(1, 1 + int(per_pt.sum()) // _SNAP_CHUNK) * _SNAP_CHUNK
        )

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
                    self._tree = shapely.STRtree(self._geom[self.walkable_edges()])
        pts = shapely.points(xy)
        edge = np.zeros(xy.shape[0], dtype=np.int64)
        dist = np.full(xy.shape[0], np.inf)
        (qi, ti), d = self._tree.query_nearest(pts, all_matches=False, return_distance=True)
        edge[qi] = np.flatnonzero(self.walkable_edges())[ti]
        dist[qi] = d
        eg = self._geom[edge]
        offset = np.clip(shapely.line_locate_point(eg, pts), 0.0, self.length[edge])
        sxy = shapely.get_coordinates(shapely.line_interpolate_point(eg, offset)).reshape(-1, 2)
        return edge, dist, offset, sxy
