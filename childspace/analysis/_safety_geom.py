"""Segment geometry in numpy for the sidewalk-road pairing of :mod:`childspace.analysis._safety_edges`.

The length of a way within some distance of a road, for many (way, road) pairs at once, measured segment by
segment on coordinates: bounds that leave the exact (GEOS) measure to the few pairs they cannot decide. Metric
CRS, metres.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["SegmentPairs", "Segments"]


class Segments:
    """The straight segments of an array of line geometries (missing or empty lines have none)."""

    def __init__(self, geoms: np.ndarray) -> None:
        xy, owner = shapely.get_coordinates(geoms, return_index=True)
        same = np.flatnonzero(owner[1:] == owner[:-1])
        self.ax, self.ay = xy[same, 0].copy(), xy[same, 1].copy()
        self.bx, self.by = xy[same + 1, 0].copy(), xy[same + 1, 1].copy()
        self.count = np.bincount(owner[same], minlength=len(geoms)).astype(np.int64)
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]]).astype(np.int64)
        self.length = np.hypot(self.bx - self.ax, self.by - self.ay)
        #: per line, the sum of its segment lengths
        self.total = np.bincount(owner[same], weights=self.length, minlength=len(geoms))


def _expand(count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of ``count`` items: the group of each item and its position in the group."""
    grp = np.repeat(np.arange(count.size, dtype=np.int64), count)
    first = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    return grp, np.arange(grp.size, dtype=np.int64) - first[grp]


def _interval(lo: np.ndarray, hi: np.ndarray, coef: np.ndarray, const: np.ndarray, bound: float) -> None:
    """Narrow ``[lo, hi]`` (in place) to the t with ``coef * t + const <= bound``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        root = (bound - const) / coef
    np.minimum(hi, root, out=hi, where=coef > 0)
    np.maximum(lo, root, out=lo, where=coef < 0)
    hi[(coef == 0) & (const > bound)] = -np.inf


class SegmentPairs:
    """Every (way segment, road segment) of the (way, road) pairs ``(wi[j], ri[j])``, in pair order."""

    def __init__(self, wi: np.ndarray, ri: np.ndarray, ws: Segments, rs: Segments) -> None:
        nw, nr = ws.count[wi], rs.count[ri]
        k, pos = _expand(nw * nr)
        nr_k = np.maximum(nr[k], 1)
        self.n_pairs = wi.size
        self.k = k
        self.wseg = ws.start[wi][k] + pos // nr_k
        rseg = rs.start[ri][k] + pos % nr_k
        self.ws = ws
        self.ax, self.ay = ws.ax[self.wseg], ws.ay[self.wseg]
        self.ux, self.uy = ws.bx[self.wseg] - self.ax, ws.by[self.wseg] - self.ay
        self.cx, self.cy = rs.ax[rseg], rs.ay[rseg]
        self.vx, self.vy = rs.bx[rseg] - self.cx, rs.by[rseg] - self.cy
        # (pair, way segment) groups: consecutive runs
        new = np.r_[True, (k[1:] != k[:-1]) | (self.wseg[1:] != self.wseg[:-1])]
        self.group = np.cumsum(new) - 1
        self.g_first = np.flatnonzero(new)

    def subset(self, pairs: np.ndarray) -> SegmentPairs:
        """The segment pairs of the pairs ``pairs`` (sorted positions), renumbered 0..len(pairs)-1."""
        sel = np.flatnonzero(np.isin(self.k, pairs))
        out = object.__new__(SegmentPairs)
        out.n_pairs = pairs.size
        out.k = np.searchsorted(pairs, self.k[sel])
        out.ws = self.ws
        for name in ("wseg", "ax", "ay", "ux", "uy", "cx", "cy", "vx", "vy"):
            setattr(out, name, getattr(self, name)[sel])
        new = np.r_[True, (out.k[1:] != out.k[:-1]) | (out.wseg[1:] != out.wseg[:-1])]
        out.group = np.cumsum(new) - 1
        out.g_first = np.flatnonzero(new)
        return out

    def _disc(
        self, ox: np.ndarray, oy: np.ndarray, uu: np.ndarray, r: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """t of the way segment within ``r`` of the point at (way start - o)."""
        bb = self.ux * ox + self.uy * oy
        cc = ox * ox + oy * oy - r * r
        disc = bb * bb - uu * cc
        ok = (disc >= 0) & (uu > 0)
        sq = np.sqrt(np.where(ok, disc, 0.0))
        den = np.where(uu > 0, uu, 1.0)
        return np.where(ok, (-bb - sq) / den, np.inf), np.where(ok, (-bb + sq) / den, -np.inf)

    def _pieces(self, r: float, r_end: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """The t of each way segment within ``r_end`` of the road segment's ends and within ``r`` of the
        segment beside them: three intervals (empty when lo >= hi)."""
        uu = self.ux * self.ux + self.uy * self.uy
        wx, wy = self.ax - self.cx, self.ay - self.cy
        out = [
            self._disc(wx, wy, uu, r_end),
            self._disc(wx - self.vx, wy - self.vy, uu, r_end),
        ]
        vv = self.vx * self.vx + self.vy * self.vy
        good = vv > 0
        lo = np.where(good, -np.inf, np.inf)
        hi = np.where(good, np.inf, -np.inf)
        vden = np.where(good, vv, 1.0)
        s0 = (wx * self.vx + wy * self.vy) / vden  # projection on the road segment, 0..1
        s1 = (self.ux * self.vx + self.uy * self.vy) / vden
        _interval(lo, hi, s1, s0, 1.0)
        _interval(lo, hi, -s1, -s0, 0.0)
        vn = np.sqrt(vden)
        h0 = (self.vx * wy - self.vy * wx) / vn  # signed distance from the road segment's line
        h1 = (self.vx * self.uy - self.vy * self.ux) / vn
        _interval(lo, hi, h1, h0, r)
        _interval(lo, hi, -h1, -h0, r)
        out.append((lo, hi))
        return out

    def within_length(self, r: float, r_end: float | None = None) -> np.ndarray:
        """Per pair, the length of way within ``r`` of the road (within ``r_end`` <= ``r`` of its vertices and
        ``r`` of the rest, when given)."""
        parts = self._pieces(r, r if r_end is None else r_end)
        if r_end is None or r_end == r:  # one capsule, a convex set: its pieces make one interval
            lo = np.minimum.reduce([np.where(p[0] < p[1], p[0], np.inf) for p in parts])
            hi = np.maximum.reduce([np.where(p[0] < p[1], p[1], -np.inf) for p in parts])
            parts = [(lo, hi)]
        lo = np.clip(np.concatenate([p[0] for p in parts]), 0.0, 1.0)
        hi = np.clip(np.concatenate([p[1] for p in parts]), 0.0, 1.0)
        grp = np.tile(self.group, len(parts))
        has = np.flatnonzero(hi > lo)
        lo, hi, grp = lo[has], hi[has], grp[has]
        order = np.lexsort((lo, grp))
        lo, hi, grp = lo[order], hi[order], grp[order]
        # union of the intervals of each group: what each adds beyond the furthest end before it
        run = np.maximum.accumulate(grp * 2.0 + hi) - grp * 2.0
        prev = np.r_[-np.inf, run[:-1]]
        prev[np.r_[True, grp[1:] != grp[:-1]]] = -np.inf
        frac = np.bincount(
            grp, weights=np.maximum(hi - np.maximum(lo, prev), 0.0), minlength=self.g_first.size
        )
        seg = self.wseg[self.g_first]
        return np.bincount(self.k[self.g_first], weights=frac * self.ws.length[seg], minlength=self.n_pairs)
