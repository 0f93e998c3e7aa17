"""Segment geometry in numpy for the sidewalk-road pairing of :mod:`childspace.analysis._safety_edges`.

The length of a way within some distance of a road, for many (way, road) pairs at once, measured segment by
segment on coordinates: bounds that leave the exact (GEOS) measure to the few pairs they cannot decide. Metric
CRS, metres.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["Segments", "pair_segments", "within_length"]


class Segments:
    """The straight segments of an array of line geometries (missing or empty lines have none)."""

    def __init__(self, geoms: np.ndarray) -> None:
        xy, owner = shapely.get_coordinates(geoms, return_index=True)
        same = owner[1:] == owner[:-1]
        self.a = xy[:-1][same]
        self.b = xy[1:][same]
        own = owner[:-1][same]
        self.count = np.bincount(own, minlength=len(geoms)).astype(np.int64)
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]]).astype(np.int64)


def _expand(count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of ``count`` items: the group of each item and its position in the group."""
    grp = np.repeat(np.arange(count.size, dtype=np.int64), count)
    first = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    return grp, np.arange(grp.size, dtype=np.int64) - first[grp]


def pair_segments(
    wi: np.ndarray, ri: np.ndarray, ws: Segments, rs: Segments
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (way segment, road segment) of the pairs ``(wi[k], ri[k])``: pair k, way segment, road segment."""
    nw, nr = ws.count[wi], rs.count[ri]
    k, pos = _expand(nw * nr)
    nr_k = nr[k]
    return k, ws.start[wi][k] + pos // np.maximum(nr_k, 1), rs.start[ri][k] + pos % np.maximum(nr_k, 1)


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]


def _interval(lo: np.ndarray, hi: np.ndarray, coef: np.ndarray, const: np.ndarray, bound: float) -> None:
    """Narrow ``[lo, hi]`` (in place) to the t with ``coef * t + const <= bound``."""
    pos, neg = coef > 0, coef < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        root = (bound - const) / coef
    hi[pos] = np.minimum(hi[pos], root[pos])
    lo[neg] = np.maximum(lo[neg], root[neg])
    flat = ~(pos | neg) & (const > bound)
    hi[flat] = -np.inf


def _capsule(
    a: np.ndarray, u: np.ndarray, c: np.ndarray, d: np.ndarray, r: float, r_end: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The t with ``a + t u`` within ``r_end`` of ``c``, within ``r_end`` of ``d`` and within ``r`` of segment
    ``cd`` beside it: three intervals (empty: lo > hi)."""
    out = []
    uu = np.einsum("ij,ij->i", u, u)
    den = np.where(uu > 0, uu, 1.0)
    for centre in (c, d):  # the discs at both ends
        w = a - centre
        bb = np.einsum("ij,ij->i", u, w)
        cc = np.einsum("ij,ij->i", w, w) - r_end * r_end
        disc = bb * bb - uu * cc
        ok = (disc >= 0) & (uu > 0)
        sq = np.sqrt(np.where(ok, disc, 0.0))
        out.append((np.where(ok, (-bb - sq) / den, np.inf), np.where(ok, (-bb + sq) / den, -np.inf)))
    v = d - c
    vv = np.einsum("ij,ij->i", v, v)
    good = vv > 0
    lo = np.where(good, -np.inf, np.inf)
    hi = np.where(good, np.inf, -np.inf)
    w = a - c
    vden = np.where(good, vv, 1.0)
    s0, s1 = np.einsum("ij,ij->i", w, v) / vden, np.einsum("ij,ij->i", u, v) / vden  # projection on cd
    _interval(lo, hi, s1, s0, 1.0)
    _interval(lo, hi, -s1, -s0, 0.0)
    vn = np.where(good, np.sqrt(vv), 1.0)
    h0, h1 = _cross(v, w) / vn, _cross(v, u) / vn  # signed distance from the line cd
    _interval(lo, hi, h1, h0, r)
    _interval(lo, hi, -h1, -h0, r)
    out.append((lo, hi))
    return [(np.clip(lo_, 0.0, 1.0), np.clip(hi_, 0.0, 1.0)) for lo_, hi_ in out]


def within_length(
    n_pairs: int,
    k: np.ndarray,
    wseg: np.ndarray,
    ws: Segments,
    c: np.ndarray,
    d: np.ndarray,
    r: float,
    r_end: float | None = None,
) -> np.ndarray:
    """Length of way of pair ``k`` within ``r`` of its road (segment pairs as from :func:`pair_segments`); with
    ``r_end``, within ``r_end`` only of the road's vertices and within ``r`` of the rest (``r_end <= r``)."""
    a = ws.a[wseg]
    u = ws.b[wseg] - a
    parts = _capsule(a, u, c, d, r, r if r_end is None else r_end)
    if r_end is None or r_end == r:  # one capsule: a convex set, its pieces make one interval
        lo = np.minimum.reduce([np.where(p[0] <= p[1], p[0], np.inf) for p in parts])
        hi = np.maximum.reduce([np.where(p[0] <= p[1], p[1], -np.inf) for p in parts])
        parts = [(lo, hi)]
    key_all = k.astype(np.int64) * (ws.a.shape[0] + 1) + wseg  # one key per (pair, way segment)
    lo = np.concatenate([p[0] for p in parts])
    hi = np.concatenate([p[1] for p in parts])
    has = hi > lo
    if not has.any():
        return np.zeros(n_pairs)
    key = np.tile(key_all, len(parts))[has]
    seg = np.tile(wseg, len(parts))[has]
    lo, hi = lo[has], hi[has]
    order = np.lexsort((lo, key))
    key, lo, hi, seg = key[order], lo[order], hi[order], seg[order]
    grp = np.concatenate([[0], np.cumsum(key[1:] != key[:-1])])
    run = np.maximum.accumulate(grp * 2.0 + hi) - grp * 2.0  # the union so far within each (pair, segment)
    prev = np.concatenate([[-np.inf], run[:-1]])
    prev[np.r_[True, key[1:] != key[:-1]]] = -np.inf
    part = np.maximum(hi - np.maximum(lo, prev), 0.0)
    seg_len = np.hypot(*(ws.b[seg] - ws.a[seg]).T)
    out = np.zeros(n_pairs)
    np.add.at(out, (key // (ws.a.shape[0] + 1)), part * seg_len)
    return out
