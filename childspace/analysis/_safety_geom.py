"""Segment geometry in numpy for the sidewalk-road pairing of :mod:`childspace.analysis._safety_edges`.

The length of a way within some distance of a road, for many (way, road) pairs at once, measured segment by
segment on coordinates: bounds that leave the exact (GEOS) measure to the few pairs they cannot decide. Metric
CRS, metres.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["BAND_ENDS", "BAND_IN", "BAND_OUT", "TOL", "SegmentPairs", "Segments", "overlap_rank"]


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


#: a road's band (``shapely.buffer`` with ``quad_segs=4``) holds every point within ``BAND_IN`` x its radius of
#: the road's segments and within ``BAND_ENDS`` x it of the road's vertices: its sides are the segments offset by
#: the radius, its arcs around the vertices chords of at most 1.5 x 22.5 degrees (cos 16.9 deg = 0.957), and the
#: line is simplified by 1 % of the radius before buffering (GEOS BufferInputLineSimplifier). None of the band
#: is beyond ``BAND_OUT`` x the radius.
BAND_IN = 0.98
BAND_ENDS = 0.94
BAND_OUT = 1.05
#: lengths closer than this (m) are not told apart by the bounds
TOL = 1e-6


def overlap_rank(
    w_g: np.ndarray, rd_g: np.ndarray, wi: np.ndarray, ri: np.ndarray, search: float
) -> np.ndarray:
    """Per pair, a figure whose order within each way is that of the length of way inside the road's band
    (``shapely.buffer(road, search, quad_segs=4)``): the band's overlap only decides between candidates.

    Ways with one candidate get 0. For the others the length of way within ``BAND_IN``/``BAND_ENDS`` and
    within ``BAND_OUT`` x ``search`` of the road (on the segments, in numpy) bound the overlap: a way lying
    wholly within the inner reach has the overlap of its whole length (``shapely.length``, what the
    intersection measures then) and wins over every candidate after it in query order; a candidate whose upper
    bound is below another's lower bound cannot win (-1); only the remaining ones get the exact intersection
    with the band.
    """
    overlap = np.zeros(wi.size)
    many = np.flatnonzero(np.bincount(wi)[wi] > 1)  # most ways have one candidate
    if many.size == 0:
        return overlap
    ws, rs = Segments(w_g), Segments(rd_g)
    length = shapely.length(w_g)
    # each way's first candidate (pairs are in query order, the tie-break) wins when wholly inside its band
    head = many[np.r_[True, wi[many][1:] != wi[many][:-1]]]
    whole = SegmentPairs(wi[head], ri[head], ws, rs).within_length(search * BAND_ENDS)
    whole = head[whole >= ws.total[wi[head]] - TOL]
    overlap[many] = -1.0
    overlap[whole] = length[wi[whole]]
    done = np.zeros(w_g.size, dtype=bool)
    done[wi[whole]] = True
    many = many[~done[wi[many]]]
    if many.size == 0:
        return overlap
    wm = wi[many]
    sp = SegmentPairs(wm, ri[many], ws, rs)
    total = ws.total[wm]
    low = sp.within_length(search * BAND_ENDS)  # the plain capsule first: most ways lie wholly inside
    full = low >= total - TOL
    high = total.copy()
    idx = np.arange(many.size)
    first_full = np.full(w_g.size, many.size)
    np.minimum.at(first_full, wm, np.where(full, idx, many.size))
    part = np.flatnonzero(~full & (idx < first_full[wm]))  # those after a way's first whole one cannot win
    if part.size:
        sub = sp.subset(part)
        low[part] = np.maximum(low[part], sub.within_length(search * BAND_IN, search * BAND_ENDS))
        full[part] = low[part] >= total[part] - TOL
        high[part] = sub.within_length(search * BAND_OUT)
    best = np.zeros(w_g.size)
    np.maximum.at(best, wm, low)
    alive = high + TOL >= best[wm]
    # a way's first candidate (in query order, the tie-break) wholly inside wins over all after it: none can
    # have more than the whole length
    first_full[:] = many.size
    np.minimum.at(first_full, wm, np.where(full, idx, many.size))
    alive &= idx <= first_full[wm]
    exact = alive & ~full & (np.bincount(wm[alive], minlength=w_g.size)[wm] > 1)
    overlap[many] = np.where(full, length[wm], np.where(alive, 0.0, -1.0))
    if exact.any():
        m_ex = many[exact]
        uniq_r, inv_r = np.unique(ri[m_ex], return_inverse=True)
        bands = shapely.buffer(rd_g[uniq_r], search, quad_segs=4)
        overlap[m_ex] = shapely.length(shapely.intersection(w_g[wi[m_ex]], bands[inv_r]))
    return overlap
