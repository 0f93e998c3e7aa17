"""Overlays of many small polygons (townships, communities) with one large one (a category's dissolved service
area): the large polygon is cut into small pieces once, so each unit is overlaid with the few pieces near it
instead of the whole polygon (GEOS would otherwise read every vertex of the large polygon for every unit)."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from childspace._parallel import map_split, map_threads

#: Largest number of vertices of a piece (:func:`subdivide`).
PIECE_VERTICES = 1_000
#: Deepest halving of a polygon's extent (2**12 strips per axis: far below any vertex spacing of real areas).
MAX_DEPTH = 12


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


def difference_each(units: np.ndarray, pieces: np.ndarray) -> np.ndarray:
    """Each unit minus the pieces (non-overlapping polygons, :func:`subdivide`) that touch it: the pieces near a
    unit are joined (``union_all``) and taken away from it. Same as ``shapely.difference(units, whole)``."""
    units = np.asarray(units, dtype=object)
    if not len(pieces) or not len(units):
        return units.copy()
    tree = shapely.STRtree(pieces)
    ui, pi = tree.query(units, predicate="intersects")
    order = np.argsort(ui, kind="stable")
    ui, pi = ui[order], pi[order]
    start = np.searchsorted(ui, np.arange(len(units) + 1))

    def one(i: int) -> Any:
        near = pieces[pi[start[i] : start[i + 1]]]
        if not near.size:
            return units[i]
        return shapely.difference(units[i], near[0] if near.size == 1 else shapely.union_all(near))

    return np.asarray(map_threads(one, range(len(units))) + [None], dtype=object)[:-1]
