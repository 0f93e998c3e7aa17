"""Overlays of many small polygons (townships, communities) with one large one (a category's dissolved service
area): the large polygon is cut into small pieces once, so each unit is overlaid with the few pieces near it
instead of the whole polygon (GEOS would otherwise read every vertex of the large polygon for every unit)."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import numpy as np
import shapely

from childspace._parallel import map_split, map_threads

#: Largest number of vertices of a piece (:func:`subdivide`).
PIECE_VERTICES = 1_000
#: Deepest halving of a polygon's extent (2**12 strips per axis: far below any vertex spacing of real areas).
MAX_DEPTH = 12
#: Subdivided areas kept (:func:`subdivide`; the ten categories of a run, twice).
CACHE_SIZE = 20
_cache: dict[tuple[bytes, int], np.ndarray] = {}
_cache_lock = threading.Lock()
_diff_cache: dict[tuple[bytes, bytes], np.ndarray] = {}


def _digest(geoms: Any) -> bytes:
    return hashlib.blake2b(
        b"".join(shapely.to_wkb(np.atleast_1d(np.asarray(geoms, dtype=object)))), digest_size=16
    ).digest()


def _polygons(geoms: np.ndarray) -> np.ndarray:
    """The non-empty Polygon parts of ``geoms`` (collections and multi-parts taken apart)."""
    parts = shapely.get_parts(geoms)
    parts = shapely.get_parts(parts)  # a collection may hold multipolygons
    return parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]


def subdivide(geom: Any, max_vertices: int = PIECE_VERTICES) -> np.ndarray:
    """``geom`` (polygonal) cut into Polygons of at most ``max_vertices`` vertices each.

    Parts with more vertices are cut into the four quarters of their bounding box (``shapely.intersection`` with
    each quarter, robust), again until small enough. The pieces do not overlap and together are ``geom``: the
    sum of their intersections with a unit is the unit's intersection with ``geom``.
    """
    if geom is None or shapely.is_empty(geom):
        return np.zeros(0, dtype=object)
    # the same area is overlaid with townships, communities and their gaps: cut once (keyed by its content)
    key = (hashlib.blake2b(shapely.to_wkb(geom), digest_size=16).digest(), max_vertices)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    try:
        out = _subdivide(geom, max_vertices)
    except shapely.errors.GEOSException:  # an invalid outline (e.g. after reprojection): repaired first
        out = _subdivide(shapely.make_valid(geom), max_vertices)
    with _cache_lock:
        _cache[key] = out
        while len(_cache) > CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
    return out


def _subdivide(geom: Any, max_vertices: int) -> np.ndarray:
    todo = _polygons(np.array([geom], dtype=object))
    out = []
    for _ in range(MAX_DEPTH):
        big = shapely.get_num_coordinates(todo) > max_vertices
        out.append(todo[~big])
        todo = todo[big]
        if not todo.size:
            break
        b = shapely.bounds(todo)
        xm, ym = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        x0 = np.c_[b[:, 0], xm, b[:, 0], xm].ravel()
        x1 = np.c_[xm, b[:, 2], xm, b[:, 2]].ravel()
        y0 = np.c_[b[:, 1], b[:, 1], ym, ym].ravel()
        y1 = np.c_[ym, ym, b[:, 3], b[:, 3]].ravel()
        quarters = shapely.box(x0, y0, x1, y1)
        g4 = np.repeat(todo, 4)
        todo = _polygons(_pair_op(shapely.intersection, g4, quarters))
    out.append(todo)
    return np.concatenate(out)


def _pair_op(fn: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``fn(a, b)`` element-wise on the shared threads (GEOS releases the GIL)."""
    if not len(a):
        return np.zeros(0, dtype=object)
    return map_split(lambda ab: fn(ab[:, 0], ab[:, 1]), np.c_[a, b])


def area_within(units: np.ndarray, pieces: np.ndarray) -> np.ndarray:
    """Area of each unit covered by the pieces (non-overlapping polygons, :func:`subdivide`), in CRS units."""
    out = np.zeros(len(units))
    if not len(pieces) or not len(units):
        return out
    tree = shapely.STRtree(pieces)
    ui, pi = tree.query(units, predicate="intersects")
    inside = np.zeros(ui.size, dtype=bool)
    if ui.size:
        ci, cp = tree.query(units, predicate="contains")
        key = ui.astype(np.int64) * len(pieces) + pi
        inside = np.isin(key, ci.astype(np.int64) * len(pieces) + cp)
    area = np.zeros(ui.size)
    area[inside] = shapely.area(pieces[pi[inside]])
    part = ~inside
    area[part] = shapely.area(_pair_op(shapely.intersection, units[ui[part]], pieces[pi[part]]))
    np.add.at(out, ui, area)
    return out


def difference_each(units: np.ndarray, pieces: np.ndarray, one_by_one: int = 8) -> np.ndarray:
    """Each unit minus the pieces (non-overlapping polygons, :func:`subdivide`) that touch it. Same as
    ``shapely.difference(units, whole)`` up to rounding.

    A unit touched by at most ``one_by_one`` pieces loses them one after the other (the k-th piece of every such
    unit at once); a larger unit loses their union (``union_all``), as repeated differences would rebuild its
    growing outline each time.
    """
    units = np.asarray(units, dtype=object)
    out = units.copy()
    if not len(pieces) or not len(units):
        return out
    ui, pi = shapely.STRtree(pieces).query(units, predicate="intersects")
    order = np.argsort(ui, kind="stable")
    ui, pi = ui[order], pi[order]
    start = np.searchsorted(ui, np.arange(len(units) + 1))
    count = np.diff(start)
    many = np.flatnonzero(count > one_by_one)
    if many.size:
        near = map_threads(lambda i: shapely.union_all(pieces[pi[start[i] : start[i + 1]]]), many.tolist())
        out[many] = _pair_op(shapely.difference, units[many], np.asarray(near + [None], dtype=object)[:-1])
    count[many] = 0
    k = 0
    while True:
        sel = np.flatnonzero(count > k)
        if not sel.size:
            break
        out[sel] = _pair_op(shapely.difference, out[sel], pieces[pi[start[sel] + k]])
        k += 1
    return out


def outside_parts(units: np.ndarray, geom: Any) -> np.ndarray:
    """``difference_each(units, subdivide(geom))``: each unit minus the area ``geom``, remembered for the same
    units and area (a run asks for the communities' coverage areas, then for their gaps, with the same dissolved
    areas: the overlay is done once)."""
    units = np.asarray(units, dtype=object)
    key = (_digest(units), _digest(geom) if geom is not None else b"")
    with _cache_lock:
        hit = _diff_cache.get(key)
    if hit is not None:
        return hit.copy()
    out = difference_each(units, subdivide(geom))
    with _cache_lock:
        _diff_cache[key] = out
        while len(_diff_cache) > CACHE_SIZE:
            _diff_cache.pop(next(iter(_diff_cache)))
    return out.copy()


def cached_outside_parts(units: np.ndarray, geom: Any) -> np.ndarray | None:
    """The result of :func:`outside_parts` for these units and area when it was computed already, else None."""
    key = (_digest(np.asarray(units, dtype=object)), _digest(geom) if geom is not None else b"")
    with _cache_lock:
        hit = _diff_cache.get(key)
    return None if hit is None else hit.copy()
