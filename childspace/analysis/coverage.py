"""Service-radius coverage: who lives within reach of which facility, service areas, per-unit figures and gaps.

Two distances are computed for every origin (where children live) and facility category:

* straight line (直线距离): metres in the local metric CRS (:func:`childspace.inputs.projection.local_crs_for`),
  nearest facility found with a shapely ``STRtree`` (vectorised);
* walking (步行距离): metres along the walk network (:class:`childspace.network.engine.WalkNetwork`), origins and
  facilities snapped onto their nearest street; points farther than ``max_snap`` from any street are not
  attached, get an infinite walking distance and are counted in the result's ``attrs`` and a warning.

A point is *covered* by a category when its distance to the nearest facility is at most the category's radius
(``childspace.standards``; parks: 300 m below 0.5 ha, 500 m from 0.5 ha, by the facility's ``area_ha``). Where
the radius differs between facilities of one category, each radius class is evaluated separately and the covered
flags are OR-ed, so a child 400 m from a large park is covered while one 400 m from a small park is not.

Walking service areas are the reachable parts of the streets (edges cut at the exact remaining distance) buffered
by a street-side width, so land across a river or a highway without a crossing is not counted as served.

All inputs are canonical layers (EPSG:4326, see ``docs/architecture.md``); outputs are EPSG:4326 unless stated.
Capacity-aware accessibility (2SFCA, Luo & Wang 2003) and maximal-coverage siting (MCLP, Church & ReVelle 1974,
solved with PySAL ``spopt``) answer "who has enough seats" and "where should the next one go".
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.spatial import cKDTree

from childspace._errors import ChildspaceWarning, DataError, NetworkError
from childspace._parallel import map_split, map_threads
from childspace.analysis.access_points import facility_access_points, facility_shapes, inside_outlines
from childspace.inputs.projection import WGS84, local_crs_for, to_metric, transformer
from childspace.network import Snap
from childspace.network.arrays import ragged_ranges

__all__ = [
    "category_radii",
    "dissolve_service_areas",
    "facilities_per_unit",
    "gaps",
    "life_circles",
    "origin_access",
    "service_areas",
    "suggest_sites",
    "two_step_fca",
    "uncovered_origins",
    "unit_coverage",
]

#: Default maximum distance (m) between a point and the street it is attached to.
MAX_SNAP_M = 150.0
#: Default for ``legs=``: walking distances include the access legs, the straight walk from a home to the street
#: it is attached to and from the street to the facility (leg + network + leg), so a walking distance is never
#: shorter than the straight line. ``legs=False`` measures between the snapped points only (the figures before
#: legs were counted, for comparison).
ACCESS_LEGS = True

RadiiLike = Mapping[str, float] | Any | None


# ---------------------------------------------------------------------------------------------------------------
# standards and radii
# ---------------------------------------------------------------------------------------------------------------
def _default_standards() -> Any | None:
    try:
        from childspace.inputs.standards import default_standards
    except ImportError:  # pragma: no cover - standards module ships with the package
        return None
    return default_standards()


def _is_standards(obj: Any) -> bool:
    return hasattr(obj, "categories") and hasattr(obj, "radius") and hasattr(obj, "target")


def category_radii(category: str, facilities: gpd.GeoDataFrame | pd.DataFrame | None = None,
                   radii: RadiiLike = None) -> np.ndarray | float:
    """Walking/straight-line radius (m) of a category, per facility when it depends on the facility.

    Parameters
    ----------
    category : str
        Canonical category key.
    facilities : DataFrame, optional
        Facilities of that category; their ``area_ha`` column decides park radii (300 m below 0.5 ha, 500 m
        from 0.5 ha by default; unknown area counts as small).
    radii : mapping or Standards, optional
        ``{category: metres}`` (one radius for every facility of the category), a
        :class:`childspace.inputs.standards.Standards`, or None for the default standards.

    Returns
    -------
    numpy.ndarray or float
        Metres, one per facility when ``facilities`` is given, else the category's base radius.
    """
    n = None if facilities is None else len(facilities)
    if isinstance(radii, Mapping) and category in radii:
        r = float(radii[category])
        if not r > 0:
            raise DataError(f"radius for {category!r} must be > 0 m, got {radii[category]!r}",
                            fix="give radii={category: metres} with positive values")
        return r if n is None else np.full(n, r)
    std = radii if _is_standards(radii) else _default_standards()
    if std is None or category not in getattr(std, "categories", {}):
        raise DataError(f"no radius known for category {category!r}",
                        fix=f"pass radii={{'{category}': metres}} or add the category to the standards TOML")
    if n is None:
        return float(std.radius(category))
    area = (pd.to_numeric(facilities["area_ha"], errors="coerce").to_numpy(dtype="float64")
            if "area_ha" in facilities.columns else np.full(n, np.nan))
    return np.asarray(std.radius(category, area), dtype="float64").reshape(n)


def _target_pct(category: str, target_pct: float | Mapping[str, float] | None, standards: Any) -> float:
    if isinstance(target_pct, Mapping):
        if category in target_pct:
            return float(target_pct[category])
        target_pct = None
    if target_pct is not None:
        return float(target_pct)
    if standards is not None and category in getattr(standards, "categories", {}):
        return float(standards.target(category))
    return 80.0


def _label(category: str) -> str:
    std = _default_standards()
    if std is not None and category in std.categories:
        return std.label(category)
    return category


# ---------------------------------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------------------------------
def _require(gdf: Any, what: str, columns: Sequence[str], geom: str | None = None) -> None:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise DataError(f"{what} must be a GeoDataFrame, got {type(gdf).__name__}",
                        fix=f"load {what} with childspace.inputs.loaders")
    if gdf.crs is None:
        raise DataError(f"{what} have no CRS", fix="load them with childspace.inputs.loaders or call .set_crs('EPSG:4326')")
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise DataError(f"{what} lack column(s) {', '.join(missing)}; columns are {list(gdf.columns)}",
                        fix=f"load {what} with childspace.inputs.loaders (canonical columns)")
    bad = gdf.geometry.isna() | gdf.geometry.is_empty
    if geom is not None:
        kinds = gdf.geometry.geom_type
        if geom == "point":
            bad |= ~kinds.isin(["Point"])
        else:
            bad |= ~kinds.isin(["Polygon", "MultiPolygon"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        ident = _row_name(gdf, i)
        raise DataError(f"{what}: {int(bad.sum())} feature(s) with a missing or non-{geom or 'valid'} geometry",
                        feature=ident, fix=f"give every {what.removesuffix('s')} a "
                                           f"{geom or 'valid'} geometry or drop the row")


def _row_name(gdf: pd.DataFrame, i: int) -> str:
    row = gdf.iloc[i]
    for col in ("facility_id", "origin_id", "unit_id", "pilot_id"):
        if col in gdf.columns:
            name = f" ({row['name']})" if "name" in gdf.columns else ""
            return f"row {i} ({col}={row[col]}){name}"
    return f"row {i}"


def _metric_crs(network: Any, *layers: gpd.GeoDataFrame) -> CRS:
    if network is not None:
        return CRS.from_user_input(network.crs)
    frames = [g for g in layers if g is not None and len(g)]
    if not frames:
        raise DataError("no features to analyse", fix="pass non-empty layers")
    boxes = gpd.GeoSeries(
        [shapely.box(*g.to_crs(WGS84).total_bounds) for g in frames], crs=WGS84)
    return local_crs_for(boxes)


def _categories(facilities: gpd.GeoDataFrame, categories: Iterable[str] | str | None) -> list[str]:
    present = list(dict.fromkeys(facilities["category"].astype(str)))
    if categories is None:
        std = _default_standards()
        order = list(std.categories) if std is not None else []
        return [c for c in order if c in present] + [c for c in present if c not in order]
    if isinstance(categories, str):
        categories = [categories]
    return list(dict.fromkeys(str(c) for c in categories))


def _warn(msg: str) -> None:
    warnings.warn(msg, ChildspaceWarning, stacklevel=3)


# ---------------------------------------------------------------------------------------------------------------
# attaching points to the network (all graph work is done by childspace.network.engine.WalkNetwork)
# ---------------------------------------------------------------------------------------------------------------
def _snap(network: Any, points: gpd.GeoSeries | np.ndarray, max_snap: float, allow_none: bool = False,
          legs: bool = ACCESS_LEGS, group: np.ndarray | None = None) -> Snap:
    """``network.snap`` (with the access legs when ``legs``); with ``allow_none`` a set of which no point attaches
    gives ``ok=False`` for all (instead of the engine's error)."""
    try:
        return network.snap(points, max_distance=max_snap, legs=legs, group=group)
    except NetworkError as err:
        if not allow_none or "none of the" not in str(err):
            raise
        snap = network.snap(points, max_distance=np.inf, legs=legs, group=group)
        return dataclasses.replace(snap, ok=np.zeros(snap.n_points, dtype=bool), max_distance=float(max_snap))


def _snap_facilities(network: Any, facilities: gpd.GeoDataFrame, max_snap: float, legs: bool
                     ) -> tuple[Snap, dict[str, Any]]:
    """Facilities attached by their access points (:mod:`childspace.analysis.access_points`: the point, mapped
    entrances, or where streets meet a polygon's outline); group ``i`` of the Snap is facility row ``i``."""
    ap = facility_access_points(facilities, network, network.crs)
    snap = _snap(network, ap["xy"], max_snap, allow_none=True, legs=legs, group=ap["owner"])
    return snap, ap


def _points_of(snap: Snap, groups: np.ndarray) -> np.ndarray:
    """Boolean mask of the attachment points of ``snap`` that belong to the groups ``groups``."""
    return np.isin(snap.owner, groups)


# ---------------------------------------------------------------------------------------------------------------
# the raster path for walking service areas
# ---------------------------------------------------------------------------------------------------------------
#: ``engine="auto"`` uses the exact vector method when there are fewer reachable street pieces than
#: ``VECTOR_MAX_PIECES`` in all and than ``VECTOR_MAX_UNION`` in the largest single area (one facility's, or one
#: category's dissolved area), the raster otherwise. Buffering and unioning cost grows with the overlap of the
#: pieces' buffers, so with their number per area: measured 50 µs a piece on the bundled sample (at most ~400
#: pieces per area; 0.19 s for its 90 facilities), 65 µs on the county lattice (a category of ~10,000 pieces:
#: 0.65 s as vector, 0.07 s as raster), 560 µs on central Helsinki's dense footways (a category of 4,800 pieces:
#: 2.7 s; 24 facilities' own areas: 23 s as vector, 0.08 s as raster). Raster areas are within about 1 %.
VECTOR_MAX_PIECES = 5_000
VECTOR_MAX_UNION = 500
#: Default raster cell (m) of walking service areas (outline accurate to about one cell, see service_areas).
CELL_M = 7.5
#: Largest raster (cells) built at once; larger extents are cut into strips that are unioned afterwards.
MAX_CELLS = 50_000_000
#: Cells per mosaic of per-facility windows traced at once (small mosaics stay in the CPU caches: 2,000 county
#: facilities take 4.3 s in 4M-cell mosaics, 8.0 s in 50M-cell ones).
BATCH_CELLS = 4_000_000
#: Side (cells) of the blocks that decide which parts of a dissolved raster are traced together (see
#: _raster_dissolved); larger blocks mean fewer, larger windows.
BLOCK_CELLS = 16


def _check_raster_args(engine: str, cell_m: float, street_width: float) -> None:
    _choose_engine(engine, 0, 0)
    if not (np.isfinite(cell_m) and cell_m > 0):
        raise DataError(f"cell_m must be a positive number of metres, got {cell_m!r}", fix="e.g. cell_m=10")
    if not (np.isfinite(street_width) and street_width >= 0):
        raise DataError(f"street_width must be ≥ 0 m, got {street_width!r}", fix="e.g. street_width=25")


def _check_area_args(facilities: gpd.GeoDataFrame, network: Any, method: str, engine: str, cell_m: float,
                     street_width: float) -> None:
    """Checks shared by the service-area functions (facility columns, method, network, raster settings)."""
    _require(facilities, "facilities", ["facility_id", "category"], "point")
    if method not in ("walk", "line"):
        raise DataError(f"unknown method {method!r}", fix="use method='walk' or method='line'")
    if method == "walk" and network is None:
        raise NetworkError("walking service areas need a walk network",
                           fix="pass network=WalkNetwork.from_osm(...) or use method='line'")
    _check_raster_args(engine, cell_m, street_width)


def _choose_engine(engine: str, pieces: int, largest: int) -> str:
    """The engine to use for ``pieces`` reachable pieces in all, ``largest`` of them in one area."""
    if engine not in ("auto", "vector", "raster"):
        raise DataError(f"unknown engine {engine!r}", fix="use engine='auto', 'vector' or 'raster'")
    if engine == "auto":
        return "vector" if pieces < VECTOR_MAX_PIECES and largest < VECTOR_MAX_UNION else "raster"
    return engine


def _metric_xy(geoms: gpd.GeoSeries, crs: CRS) -> np.ndarray:
    """(m, 2) coordinates of points in ``crs`` (pyproj on the coordinate arrays; no geometry objects made)."""
    xy = shapely.get_coordinates(np.asarray(geoms.values, dtype=object))
    if len(xy) != len(geoms):    # empty points have no coordinates: let geopandas handle the general case
        return shapely.get_coordinates(np.asarray(geoms.to_crs(crs).values, dtype=object))
    src = CRS.from_user_input(geoms.crs)
    if src.equals(crs):
        return xy
    x, y = transformer(src, crs).transform(xy[:, 0], xy[:, 1])
    return np.c_[x, y]


def _fit_cell(cell: float, width: float) -> float:
    """The raster cell actually used: at most ``cell``, shrunk so that ``width`` is a whole number of cells plus
    a half (the traced outline then lies ``width`` from the street, not half a cell off)."""
    if width <= 0:
        return cell
    k = np.floor(width / cell + 1e-9)
    if k + 0.5 < width / cell - 1e-9:
        k += 1
    return float(width / (k + 0.5))


def _disk_dilate(grid: np.ndarray, radius_cells: float) -> np.ndarray:
    """Binary dilation of a 0/1 uint8 grid by a disk (cells whose centre lies within ``radius_cells`` of a set
    cell's centre): horizontal runs first, then one shifted OR per row of the disk."""
    r = int(np.floor(radius_cells + 1e-9))
    if r <= 0:
        return grid
    half = np.floor(np.sqrt(np.maximum(radius_cells ** 2 - np.arange(r + 1) ** 2, 0.0)) + 1e-9).astype(int)
    rows = {0: grid}
    h = grid.copy()
    for k in range(1, r + 1):
        h[:, k:] |= grid[:, :-k]
        h[:, :-k] |= grid[:, k:]
        rows[k] = h.copy() if k < r else h
    out = rows[half[0]].copy()
    for dy in range(1, r + 1):
        src = rows[half[dy]]
        out[dy:, :] |= src[:-dy, :]
        out[:-dy, :] |= src[dy:, :]
    return out


def _drop_collinear(xy: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """Mask of ring vertices to keep (closing vertices and vertices on a straight run are dropped).

    ``xy`` holds closed rings one after the other (each ring's last vertex repeats its first), ``ring`` the ring
    number of every vertex (non-decreasing).
    """
    n = len(xy)
    if n == 0:
        return np.zeros(0, dtype=bool)
    brk = ring[1:] != ring[:-1]
    first = np.flatnonzero(np.r_[True, brk])
    close = np.flatnonzero(np.r_[brk, True])     # the closing vertex of each ring
    d = np.diff(xy, axis=0)                      # d[i] = xy[i + 1] - xy[i]
    cross = np.empty(n)
    cross[1:-1] = d[:-1, 0] * d[1:, 1] - d[:-1, 1] * d[1:, 0]
    # a ring's first vertex: the segment before it is the ring's last one (which ends on the closing vertex)
    dp, dn = d[close - 1], d[first]
    cross[first] = dp[:, 0] * dn[:, 1] - dp[:, 1] * dn[:, 0]
    keep = np.abs(cross) > 1e-9
    keep[close] = False
    # a ring must keep at least 3 vertices: rings that would not are kept whole (without the closing vertex)
    small = np.bincount(ring[keep], minlength=int(ring[-1]) + 1) < 3
    if small.any():
        whole = small[ring]
        keep[whole] = True
        keep[close] = False
    return keep


def _filled_rings(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outline of the set cells of a 0/1 grid: contourpy (marching squares, level 0.5, no corner masking).

    Returns vertices ``(P, 2)`` in cell units (x = column, y = row), ring offsets into them and polygon offsets
    into the rings (first ring of each polygon is its exterior); empty arrays when nothing is set.
    The generator is made directly (``contourpy.contour_generator`` would also build coordinate grids and scan
    for a mask: a third of the time on the thousands of small windows of a county).
    """
    import contourpy

    h, w = grid.shape
    gen = contourpy.SerialContourGenerator(
        np.broadcast_to(np.arange(w, dtype=np.float64), (h, w)),
        np.broadcast_to(np.arange(h, dtype=np.float64)[:, None], (h, w)),
        grid.astype(np.float64), None, corner_mask=False, line_type=contourpy.LineType.SeparateCode,
        fill_type=contourpy.FillType.ChunkCombinedOffsetOffset, quad_as_tri=False,
        z_interp=contourpy.ZInterp.Linear)
    pts, offs, outer = (a[0] for a in gen.filled(0.5, 1.5))
    if pts is None or len(pts) == 0:
        return np.zeros((0, 2)), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    return pts, offs, outer


def _raster_areas(xy: np.ndarray, tile: np.ndarray, origin: np.ndarray, shape: tuple[int, int], n_tiles: int,
                  cell: float, width: float) -> np.ndarray:
    """Polygons of the cells within ``width`` m of the sample points, one geometry per tile (None if empty).

    All tiles have the same ``shape`` (rows, cols) and their lower-left cell centre at ``origin[tile]``
    (network CRS); they are laid out side by side in one mosaic traced at once with contourpy (marching squares
    on the 0/1 cell field at level 0.5), so the outline runs half-way between served and unserved cell centres.
    Tiles must leave a margin of at least ``width / cell + 1`` cells around their points.
    """
    out = np.full(n_tiles, None, dtype=object)
    if len(xy) == 0 or n_tiles == 0:
        return out
    H, W = shape
    ncol = max(1, int(np.ceil(np.sqrt(n_tiles * H / max(W, 1)))))
    ncol = min(ncol, n_tiles)
    nrow = int(np.ceil(n_tiles / ncol))
    ti = np.arange(n_tiles)
    row0, col0 = (ti // ncol) * H, (ti % ncol) * W
    grid = np.zeros((nrow * H, ncol * W), dtype=np.uint8)
    j = np.floor((xy[:, 0] - origin[tile, 0]) / cell + 0.5).astype(np.int64)
    i = np.floor((xy[:, 1] - origin[tile, 1]) / cell + 0.5).astype(np.int64)
    inside = (i >= 0) & (i < H) & (j >= 0) & (j < W)
    grid[row0[tile[inside]] + i[inside], col0[tile[inside]] + j[inside]] = 1
    # cells whose centre lies within ``width`` of a burnt cell's centre; the outline runs half-way between a
    # served and an unserved cell centre, so with width / cell = k + 1/2 (see _fit_cell) it lies ``width``
    # from the street along the grid axes
    grid = _disk_dilate(grid, width / cell)
    pts, offs, outer = _filled_rings(grid)
    del grid
    if len(pts) == 0:
        return out
    ring = np.repeat(np.arange(len(offs) - 1), np.diff(offs))
    ring_poly = np.repeat(np.arange(len(outer) - 1), np.diff(outer))
    keep = _drop_collinear(pts, ring)
    pts, ring = pts[keep], ring[keep]
    # the tile of every polygon: from the first vertex of its outer ring
    first_pt = pts[np.searchsorted(ring, outer[:-1])]
    ptile = (np.floor(first_pt[:, 1] / H).astype(np.int64) * ncol + np.floor(first_pt[:, 0] / W).astype(np.int64))
    vt = ptile[ring_poly[ring]]
    wx = origin[vt, 0] + (pts[:, 0] - col0[vt]) * cell
    wy = origin[vt, 1] + (pts[:, 1] - row0[vt]) * cell
    rings = shapely.linearrings(np.c_[wx, wy], indices=ring)
    # valid by construction, as in _raster_dissolved (tiles keep unset margins, so their outlines never touch)
    polys = shapely.polygons(rings, indices=ring_poly)
    order = np.argsort(ptile, kind="stable")
    tiles_present, start = np.unique(ptile[order], return_index=True)
    counts = np.diff(np.r_[start, len(order)])
    out[tiles_present] = shapely.multipolygons(polys[order],
                                               indices=np.repeat(np.arange(len(tiles_present)), counts))
    single = counts == 1
    out[tiles_present[single]] = polys[order[start[single]]]
    return out


def _raster_per_source(xy: np.ndarray, owner: np.ndarray, centre: np.ndarray, reach: np.ndarray, n: int,
                       cell: float, width: float, max_cells: int = BATCH_CELLS) -> np.ndarray:
    """One polygon per source from samples ``xy`` of its reachable streets (``owner``: source 0..n-1).

    Each source gets a square window centred on ``centre`` (its snapped point) reaching ``reach`` m (its
    radius; every reachable street point lies within it) plus the street width; windows of equal size are
    traced together (:func:`_raster_areas`), in batches of at most ``max_cells`` cells, on the shared threads.
    """
    out = np.full(n, None, dtype=object)
    half = np.ceil((np.asarray(reach, dtype="float64") + width) / cell).astype(np.int64) + 2
    order = np.argsort(owner, kind="stable")
    xy, owner = xy[order], owner[order]
    bounds = np.searchsorted(owner, np.arange(n + 1))
    batches = []
    for hw in np.unique(half):
        members = np.flatnonzero(half == hw)
        side = int(2 * hw + 1)
        per = max(1, max_cells // (side * side))
        batches += [(members[a:a + per], int(hw)) for a in range(0, len(members), per)]

    def trace(batch: tuple[np.ndarray, int]) -> np.ndarray:
        mem, hw = batch
        idx, tl = ragged_ranges(bounds[mem], bounds[mem + 1] - bounds[mem])
        side = 2 * hw + 1
        return _raster_areas(xy[idx], tl, centre[mem] - hw * cell, (side, side), len(mem), cell, width)

    for (mem, _), geoms in zip(batches, map_threads(trace, batches)):
        out[mem] = geoms
    return out


def _raster_dissolved(xy: np.ndarray, cell: float, width: float, max_cells: int = MAX_CELLS) -> Any:
    """One (Multi)Polygon: the cells within ``width`` m of the samples ``xy`` (metric CRS), outlined.

    The cells are those of one grid aligned on the samples' extent, but only where there is content: the grid
    is cut into blocks of ``BLOCK_CELLS`` cells (at least ``2 * width / cell + 1``, so samples in blocks that do
    not touch, even at a corner, can never give touching cells), the occupied blocks are labelled into
    8-connected clusters (``scipy.ndimage.label``) and each cluster is burnt, dilated and traced in its own window
    (its samples' bounding box plus a margin). The clusters' outlines are disjoint, so the result is the same as
    tracing the whole grid at once, at a cost that follows the covered area instead of the extent. A cluster
    window above ``max_cells`` cells is traced in strips (:func:`_raster_strips`).
    """
    if len(xy) == 0:
        return shapely.Polygon()
    from scipy import ndimage

    margin = int(np.ceil(width / cell)) + 2
    lo = np.floor(xy.min(axis=0) / cell) * cell - margin * cell      # grid origin (a cell centre)
    J = np.floor((xy[:, 0] - lo[0]) / cell + 0.5).astype(np.int64)
    I = np.floor((xy[:, 1] - lo[1]) / cell + 0.5).astype(np.int64)
    block = max(BLOCK_CELLS, 2 * int(np.floor(width / cell + 1e-9)) + 2)
    bi, bj = I // block, J // block
    occupied = np.zeros((int(bi.max()) + 1, int(bj.max()) + 1), dtype=bool)
    occupied[bi, bj] = True
    labels, n_clusters = ndimage.label(occupied, structure=np.ones((3, 3), dtype=bool))
    cluster = labels[bi, bj] - 1
    # (numpy's stable sort is a radix sort on 16-bit integers)
    order = np.argsort(cluster.astype(np.int16) if n_clusters < 2 ** 15 else cluster, kind="stable")
    I, J, cluster = I[order], J[order], cluster[order]
    start = np.searchsorted(cluster, np.arange(n_clusters + 1))
    i_lo = np.minimum.reduceat(I, start[:-1]) - margin
    j_lo = np.minimum.reduceat(J, start[:-1]) - margin
    h = np.maximum.reduceat(I, start[:-1]) + margin + 1 - i_lo
    w = np.maximum.reduceat(J, start[:-1]) + margin + 1 - j_lo
    flat = (I - i_lo[cluster]) * w[cluster] + (J - j_lo[cluster])      # cell of each sample in its window
    # each cluster in its own window (small arrays stay in the CPU cache: faster than one packed mosaic)
    pts_parts, ring_len, ring_count, shift = [], [], [], []
    big = []
    for k in range(n_clusters):
        a, b = start[k], start[k + 1]
        if int(h[k]) * int(w[k]) > max_cells:
            big.append(order[a:b])
            continue
        grid = np.zeros((int(h[k]), int(w[k])), dtype=np.uint8)
        grid.ravel()[flat[a:b]] = 1
        pts, offs, outer = _filled_rings(_disk_dilate(grid, width / cell))
        if len(pts) == 0:
            continue
        pts_parts.append(pts)
        shift.append((len(pts), j_lo[k], i_lo[k]))
        ring_len.append(np.diff(offs))
        ring_count.append(np.diff(outer))
    polys = np.zeros(0, dtype=object)
    if pts_parts:
        pts = np.concatenate(pts_parts)
        npts, sx, sy = np.asarray(shift).T
        pts += np.repeat(np.c_[sx, sy], npts.astype(np.int64), axis=0)      # window cells to grid cells
        ring = np.repeat(np.arange(sum(len(r) for r in ring_len)), np.concatenate(ring_len))
        ring_counts = np.concatenate(ring_count)
        ring_poly = np.repeat(np.arange(len(ring_counts)), ring_counts)
        keep = _drop_collinear(pts, ring)
        pts, ring = pts[keep], ring[keep]
        rings = shapely.linearrings(np.c_[lo[0] + pts[:, 0] * cell, lo[1] + pts[:, 1] * cell], indices=ring)
        polys = shapely.polygons(rings, indices=ring_poly)
    # No validity check is needed here: on a 0/1 grid traced at level 0.5 without corner masking every outline
    # vertex is the midpoint of one grid edge between a set and an unset cell, and each such edge is crossed by
    # exactly one ring; so no two rings (nor a ring and itself) share a point, rings are at least half a cell
    # apart, dropping collinear vertices does not move the outline, and contourpy puts each hole inside its own
    # exterior. The polygons are valid by construction (the tests check shapely.is_valid on traced outlines).
    extra = [_raster_strips(xy[idx], cell, width, max_cells) for idx in big]
    if extra:
        # strips were already unioned: dissolve everything
        parts = shapely.get_parts(np.r_[polys, np.asarray(extra, dtype=object)])
        parts = parts[shapely.get_type_id(parts) == 3]
        return shapely.make_valid(shapely.union_all(parts)) if len(parts) else shapely.Polygon()
    if len(polys) == 0:
        return shapely.Polygon()
    return polys[0] if len(polys) == 1 else shapely.multipolygons(polys)


def _raster_strips(xy: np.ndarray, cell: float, width: float, max_cells: int = MAX_CELLS) -> Any:
    """Like :func:`_raster_dissolved` for one large cluster: its grid cut into strips of at most ``max_cells``
    cells, each traced with an overlap, clipped to its own rows, then unioned."""
    margin = int(np.ceil(width / cell)) + 2
    lo = np.floor(xy.min(axis=0) / cell) * cell - margin * cell
    hi = np.ceil(xy.max(axis=0) / cell) * cell + margin * cell
    W = int(round((hi[0] - lo[0]) / cell)) + 1
    H = int(round((hi[1] - lo[1]) / cell)) + 1
    rows_per = max(1, max_cells // W - 2 * margin)
    parts = []
    for r0 in range(0, H, rows_per):
        y0 = lo[1] + r0 * cell
        y1 = lo[1] + min(r0 + rows_per, H) * cell
        sel = (xy[:, 1] >= y0 - 2 * margin * cell) & (xy[:, 1] < y1 + 2 * margin * cell)
        if not sel.any():
            continue
        h = int(round((y1 - y0) / cell)) + 4 * margin
        origin = np.array([[lo[0], y0 - 2 * margin * cell]])
        g_ = _raster_areas(xy[sel], np.zeros(int(sel.sum()), dtype=np.int64), origin, (h, W), 1, cell, width)[0]
        if g_ is not None:
            parts.append(shapely.clip_by_rect(g_, lo[0] - cell, y0 - cell / 2, hi[0] + cell, y1 - cell / 2))
    if not parts:
        return shapely.Polygon()
    return shapely.make_valid(shapely.union_all(parts))


# ---------------------------------------------------------------------------------------------------------------
# origin access
# ---------------------------------------------------------------------------------------------------------------
def _spatial_order(xy: np.ndarray, cell: float = 500.0) -> np.ndarray:
    """A permutation of the points (m, 2; metres) that visits them cell by cell, row after row of ``cell`` m
    cells, alternating direction (a serpentine); non-finite points go last."""
    ok = np.isfinite(xy).all(axis=1)
    if not ok.any():
        return np.arange(len(xy))
    g = np.floor((np.where(ok[:, None], xy, 0.0) - xy[ok].min(axis=0)) / cell).astype(np.int64)
    width = int(g[:, 0].max()) + 1
    col = np.where(g[:, 1] % 2 == 0, g[:, 0], width - 1 - g[:, 0])
    key = np.where(ok, g[:, 1] * width + col, np.iinfo(np.int64).max)
    return np.argsort(key, kind="stable")


def _radius_classes(r: np.ndarray) -> list[tuple[float, np.ndarray]]:
    return [(float(x), np.flatnonzero(r == x)) for x in np.unique(r)]


def origin_access(origins: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, network: Any = None,
                  categories: Iterable[str] | str | None = None, radii: RadiiLike = None,
                  max_snap: float = MAX_SNAP_M, legs: bool = ACCESS_LEGS) -> gpd.GeoDataFrame:
    """Distance from every origin to the nearest facility of each category, walking and straight-line.

    The walking distance is leg + network + leg: the straight walk from the home to the point of the street it
    is attached to, the network distance, and the straight walk from the facility's street point to the
    facility; an origin is covered when that sum is within the radius. It is therefore never shorter than the
    straight line (``dist_walk >= dist_line``).

    Parameters
    ----------
    origins : GeoDataFrame
        Canonical origins (``origin_id``, ``children``, Point geometry; any CRS, normally EPSG:4326).
    facilities : GeoDataFrame
        Canonical facilities (``facility_id``, ``category``, Point; optional ``area_ha`` for parks).
    network : WalkNetwork, optional
        Walk network; without it only straight-line figures are computed (walking columns are NaN/False).
    categories : str or iterable of str, optional
        Categories to evaluate (default: those present in ``facilities``, in standards order). A requested
        category without any facility gives infinite distances, no coverage and a ``ChildspaceWarning``.
    radii : mapping or Standards, optional
        ``{category: metres}`` or a Standards object; default the bundled standards (park radius by ``area_ha``).
    max_snap : float
        Metres; origins/facilities farther than this from any street are not attached to the network: their
        walking distance is ``inf`` (origins) or they do not serve (facilities). Both are counted.
    legs : bool
        Count the access legs (default ``ACCESS_LEGS``, True). False: distances between the snapped points
        only, as before legs were counted (for comparison; walking may then come out below the straight line).

    Returns
    -------
    GeoDataFrame
        The origins (their CRS) plus per category ``dist_walk_<cat>``, ``dist_line_<cat>`` (m, ``inf`` when
        unreachable), ``covered_walk_<cat>``, ``covered_line_<cat>`` (bool) and ``nearest_<cat>``
        (facility_id of the nearest facility by walking, else straight line; None when there is none) and
        ``no_network_<cat>`` (bool: the origin is attached to a part of the network, a connected component,
        that holds no facility of the category: its walking distance is ``inf`` because the network is cut,
        e.g. a clipped extract or an island; counted in ``attrs["no_network_origins"]`` /
        ``attrs["no_network_children"]`` and a ``ChildspaceWarning``).
        ``attrs`` holds ``metric_crs``, ``categories``, ``walk`` (bool), ``radii`` (m per category, list for
        size-dependent radii), ``unsnapped_origins``, ``unsnapped_facilities`` (per category),
        ``unreachable_origins`` (per category: attached origins with no facility reachable).
    """
    _require(origins, "origins", ["origin_id", "children"], "point")
    _require(facilities, "facilities", ["facility_id", "category"], "point")
    cats = _categories(facilities, categories)
    crs = _metric_crs(network, origins, facilities)
    oxy = _metric_xy(origins.geometry, crs)
    # the origins are processed in a spatial order (nearby origins next to each other: the KD-tree queries,
    # the snapping and the gathers of the walking searches run faster) and the columns put back at the end
    perm = _spatial_order(oxy)
    oxy = oxy[perm]
    fxy_all = _metric_xy(facilities.geometry, crs)
    fcat = facilities["category"].astype(str).to_numpy()
    fid_all = facilities["facility_id"].astype(str).to_numpy()
    n = len(origins)
    attrs: dict[str, Any] = {"metric_crs": crs.to_string(), "categories": cats, "walk": network is not None,
                             "legs": bool(legs) and network is not None,
                             "radii": {}, "unsnapped_facilities": {}, "unreachable_origins": {}}
    # the straight-line figures (KD-tree queries, which release the GIL) run on a second thread while the
    # origins are attached to the streets and the walking searches run on this one
    members_of = {cat: np.flatnonzero(fcat == cat) for cat in cats}
    radii_of = {cat: category_radii(cat, facilities.iloc[members_of[cat]], radii)
                for cat in cats if len(members_of[cat])}

    # polygon facilities are reached at their outline, facilities with mapped entrances at those too
    shapes, outline = facility_shapes(facilities, crs)

    def line_part(cat: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fxy = fxy_all[members_of[cat]]
        classes = _radius_classes(radii_of[cat])
        geoms = shapes[members_of[cat]]
        if (shapely.get_type_id(geoms) != 0).any():
            # polygons and entrances: the distance to the outline (0 inside) or the nearest entrance, R-tree
            opts = shapely.points(oxy)
            (qi, ti), d = shapely.STRtree(geoms).query_nearest(opts, return_distance=True, all_matches=False)
            dist_line = np.full(n, np.inf)
            fi = np.zeros(n, dtype=np.int64)
            dist_line[qi], fi[qi] = d, ti
            cov_line = np.zeros(n, dtype=bool)
            for radius, cls in classes:
                q2, _ = shapely.STRtree(geoms[cls]).query(opts, predicate="dwithin", distance=radius)
                cov_line[q2] = True
            return dist_line, fi, cov_line
        # facilities and origins are points: a KD-tree gives the exact straight-line nearest neighbour
        dist_line, fi = cKDTree(fxy).query(oxy, workers=-1)
        cov_line = np.zeros(n, dtype=bool)
        for radius, cls in classes:
            if len(classes) == 1:
                cov_line |= dist_line <= radius
                continue
            d2, _ = cKDTree(fxy[cls]).query(oxy, distance_upper_bound=radius, workers=-1)
            cov_line |= d2 <= radius
        return dist_line, fi, cov_line

    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1)
    line_jobs = {cat: pool.submit(line_part, cat) for cat in radii_of} if n else {}
    pool.shutdown(wait=False)
    org_pts = fac_pts = None
    if network is not None and n:
        # origins and facilities are attached to the streets once, for all categories
        org_pts = _snap(network, oxy, max_snap, legs=legs)
        fac_pts, ap = _snap_facilities(network, facilities, max_snap, legs)
        attrs["access_points"] = ap["counts"]
        attrs["unsnapped_origins"] = int((~org_pts.ok).sum())
        if attrs["unsnapped_origins"]:
            _warn(f"{attrs['unsnapped_origins']} of {n} origins are farther than {max_snap:g} m from any street: "
                  "their walking distance is inf (uncovered); check their coordinates or extend the OSM area")
    else:
        attrs["unsnapped_origins"] = 0
    # all walking searches share the origins as targets: one call computes the origins' side once
    walk_keys: list[tuple[str, float | None]] = []
    walk_srcs: list[Snap] = []
    if network is not None and n:
        for cat in radii_of:
            members = members_of[cat]
            okm = fac_pts.group_ok[members]
            if not okm.any():
                continue
            walk_keys.append((cat, None))
            walk_srcs.append(fac_pts.take(_points_of(fac_pts, members[np.flatnonzero(okm)])))
            classes = _radius_classes(radii_of[cat])
            if len(classes) > 1:
                # one bounded search per radius class: covered when within its own class's radius
                for radius, cls in classes:
                    okc = np.flatnonzero(okm[cls])
                    if len(okc):
                        walk_keys.append((cat, radius))
                        walk_srcs.append(fac_pts.take(_points_of(fac_pts, members[cls[okc]])))
    walk_res = network.nearest_many(walk_srcs, org_pts, cutoff=[k[1] for k in walk_keys]) if walk_srcs else []
    # network parts: the component of every attached origin, to tell "no facility in this part of the network"
    # (a clipped extract, an island) from "too far"
    org_comp = network.component[network.u[org_pts.edge]] if org_pts is not None else None
    attrs["no_network_origins"] = {}
    attrs["no_network_children"] = {}
    kids_sorted = pd.to_numeric(origins["children"], errors="coerce").fillna(0).to_numpy(dtype=float)[perm]
    walk_of: dict[tuple[str, float | None], tuple[np.ndarray, np.ndarray]] = dict(zip(walk_keys, walk_res))
    cols: dict[str, Any] = {}
    # facility ids as Python objects once, with None at the end for "no facility" (index -1)
    fid_obj = np.append(fid_all.astype(object), None)
    for cat in cats:
        members = np.flatnonzero(fcat == cat)
        fid = fid_all[members]
        dist_line = np.full(n, np.inf)
        cov_line = np.zeros(n, dtype=bool)
        dist_walk = np.full(n, np.inf if network is not None else np.nan)
        cov_walk = np.zeros(n, dtype=bool)
        near = np.full(n, -1, dtype=np.int64)          # nearest facility (row in ``facilities``), -1: none
        no_net = np.zeros(n, dtype=bool)               # attached, but no facility in the origin's network part
        if len(members) == 0:
            _warn(f"no facilities of category {cat!r} ({_label(cat)}): every origin counts as uncovered; add "
                  f"{cat} facilities or drop the category")
            attrs["radii"][cat] = float(category_radii(cat, None, radii))
        else:
            classes = _radius_classes(radii_of[cat])
            attrs["radii"][cat] = classes[0][0] if len(classes) == 1 else [c[0] for c in classes]
            if n:
                dist_line, fi, cov_line = line_jobs[cat].result()
                near = members[fi]
            if network is not None and n:
                okm = fac_pts.group_ok[members]
                bad = int((~okm).sum())
                attrs["unsnapped_facilities"][cat] = bad
                if bad:
                    names = ", ".join(fid[~okm][:5])
                    _warn(f"{bad} {cat} facilities are farther than {max_snap:g} m from any street and do not "
                          f"serve anyone by walking ({names}{'…' if bad > 5 else ''}); check their coordinates")
                okf = np.flatnonzero(okm)
                if len(okf):
                    dist_walk, src = walk_of[(cat, None)]
                    has = src >= 0
                    near[has] = members[okf[src[has]]]
                    if len(classes) == 1:
                        cov_walk = dist_walk <= classes[0][0]
                    else:
                        for radius, _ in classes:
                            if (cat, radius) in walk_of:
                                cov_walk |= walk_of[(cat, radius)][0] <= radius
                attrs["unreachable_origins"][cat] = int((org_pts.ok & ~np.isfinite(dist_walk)).sum())
                if len(okf):
                    fp = _points_of(fac_pts, members[okf]) & fac_pts.ok
                    fcomp = np.unique(network.component[network.u[fac_pts.edge[fp]]])
                    no_net = org_pts.ok & ~np.isin(org_comp, fcomp)
                    attrs["no_network_origins"][cat] = int(no_net.sum())
                    attrs["no_network_children"][cat] = int(kids_sorted[no_net].sum())
        if len(members) and n:
            # a home inside a facility's outline (a park, a school ground) is at distance 0
            oi, fi_in = inside_outlines(outline[members], oxy)
            if oi.size:
                dist_line[oi] = 0.0
                cov_line[oi] = True
                near[oi] = members[fi_in]
                no_net[oi] = False
                if network is not None:
                    dist_walk[oi] = 0.0
                    cov_walk[oi] = True
        cols[f"dist_walk_{cat}"] = dist_walk
        cols[f"dist_line_{cat}"] = dist_line
        cols[f"covered_walk_{cat}"] = cov_walk
        cols[f"covered_line_{cat}"] = cov_line
        cols[f"nearest_{cat}"] = near
        cols[f"no_network_{cat}"] = no_net
    parts = {c: k for c, k in attrs["no_network_origins"].items() if k}
    if parts:
        _warn("origins in a part of the network with no facility of the category (the OSM extract may be "
              "clipped, or the part is an island); they are left out of the walking percentages and counted "
              "in children_no_network: " + ", ".join(
                  f"{k} homes ({attrs['no_network_children'][c]} children) with no {c}" for c, k in parts.items()))
    for k, v in cols.items():                          # back to the origins' order
        cols[k] = np.empty_like(v)
        cols[k][perm] = v
        if k.startswith("nearest_"):
            cols[k] = fid_obj[cols[k]]
    out = pd.concat([origins.drop(columns=[c for c in cols if c in origins.columns]),
                     pd.DataFrame(cols, index=origins.index, copy=False)], axis=1)   # (new arrays: no copy)
    out = gpd.GeoDataFrame(out, geometry=origins.geometry.name, crs=origins.crs)
    out.attrs.update(attrs)
    return out


def _nearest(network: Any, fgeoms: gpd.GeoSeries, opts: Snap, cutoff: float | None, max_snap: float):
    """Walking distance (m) from every origin to the nearest of ``fgeoms`` and its position (-1: none)."""
    fs = _snap(network, fgeoms, max_snap, legs=opts.leg is not None)
    d, s = network.nearest(fs, opts, cutoff=cutoff)
    d = np.where(opts.ok, np.asarray(d, dtype="float64"), np.inf)
    s = np.where(np.isfinite(d), np.asarray(s, dtype=np.int64), -1)
    return d, s


# ---------------------------------------------------------------------------------------------------------------
# service areas
# ---------------------------------------------------------------------------------------------------------------
def service_areas(facilities: gpd.GeoDataFrame, network: Any = None, radii: RadiiLike = None,
                  method: str = "walk", street_width: float = 25.0, categories: Iterable[str] | str | None = None,
                  max_snap: float = MAX_SNAP_M, quad_segs: int = 2, engine: str = "auto",
                  cell_m: float = CELL_M, legs: bool = ACCESS_LEGS) -> gpd.GeoDataFrame:
    """Service-area polygon of every facility.

    With ``legs`` (default) the walking budget on the streets is the radius minus the facility's access leg
    (the straight walk from the facility to the street it is attached to).

    Two engines draw the walking areas from the same reachable street pieces (exact network distances):

    * ``"vector"``: shapely buffers of the pieces (exact to the buffer's polygonal approximation,
      ``quad_segs``); about 30 ms per 1 km walking area, so slow for thousands of facilities;
    * ``"raster"``: the pieces are sampled every ``cell_m`` m, burnt into a grid of ``cell_m`` m cells in a
      window around each facility, dilated by a disk of ``street_width`` and outlined with contourpy (marching
      squares at level 0.5); accurate to about one cell on the outline (± half a cell from placing the samples in
      cells, ± half a cell from the outline running half-way between cell centres; the gap between samples adds
      ``street_width - sqrt(street_width² - cell_m²/4)``, under 0.5 m for 25 m and 10 m cells; ``cell_m`` is
      shrunk slightly so that ``street_width`` is a whole number of cells plus a half). With the default 7.5 m
      cells the areas on the bundled sample and the hand-checked grid agree with the vector ones within about
      4 % and their intersection over union is at least 0.9 (10 m cells: about 0.89 for 300 m areas); land
      across a river stays excluded (a street must reach it).
    * ``"auto"`` (default): vector below ``VECTOR_MAX_PIECES`` (5,000) reachable pieces in all and
      ``VECTOR_MAX_UNION`` (500) in one facility's area, raster otherwise (the vector cost grows with how much the
      pieces' buffers overlap: dense footway networks are slow).

    Parameters
    ----------
    facilities : GeoDataFrame
        Canonical facilities (Point, any CRS).
    network : WalkNetwork, optional
        Required for ``method="walk"``.
    radii : mapping or Standards, optional
        Radii in metres (see :func:`category_radii`; parks by ``area_ha``).
    method : {"walk", "line"}
        ``"line"``: a circle of the radius. ``"walk"``: the parts of the streets within the walking radius
        (edges reached partly are cut at the exact remaining distance) buffered by ``street_width`` on each side,
        so land across a river or highway without a crossing is not included.
    street_width : float
        Metres on each side of a reachable street counted as served (walk only).
    categories : str or iterable, optional
        Restrict to these categories.
    max_snap : float
        Metres; a facility farther from any street gets no walking area (geometry None, counted in
        ``attrs["unsnapped"]`` and a warning).
    quad_segs : int
        Segments per quarter circle of the buffers (vector engine; 2 is fast, 8 for print quality).
    engine : {"auto", "vector", "raster"}
        How walking polygons are drawn (see above).
    cell_m : float
        Raster cell size in metres (raster engine): the outline is accurate to about one cell.
    legs : bool
        Subtract the facility's access leg from the walking budget (default ``ACCESS_LEGS``; see
        :func:`origin_access`).

    Returns
    -------
    GeoDataFrame
        ``facility_id``, ``category``, ``method``, ``radius_m``, geometry (EPSG:4326). ``attrs``:
        ``metric_crs``, ``street_width``, ``unsnapped`` (walk), ``engine`` (``vector``/``raster``/``line``),
        ``pieces`` (reachable street pieces), ``largest_pieces`` (in one facility's area), ``cell_m`` (raster).
    """
    _check_area_args(facilities, network, method, engine, cell_m, street_width)
    cats = _categories(facilities, categories)
    crs = _metric_crs(network, facilities)
    fm = to_metric(facilities, crs)
    fm = fm[fm["category"].astype(str).isin(cats)]
    radius = np.zeros(len(fm))
    for cat in cats:
        m = (fm["category"].astype(str) == cat).to_numpy()
        if m.any():
            radius[m] = category_radii(cat, fm[m], radii)
    geoms = np.full(len(fm), None, dtype=object)
    attrs: dict[str, Any] = {"metric_crs": crs.to_string(), "street_width": street_width}
    if method == "line":
        attrs["engine"] = "line"
        geoms = shapely.buffer(np.asarray(fm.geometry.values, dtype=object), radius, quad_segs=max(quad_segs, 8))
    else:
        pts, ap = _snap_facilities(network, fm, max_snap, legs)
        attrs["access_points"] = ap["counts"]
        attrs["unsnapped"] = int((~pts.group_ok).sum())
        if attrs["unsnapped"]:
            _warn(f"{attrs['unsnapped']} facilities are farther than {max_snap:g} m from any street and get no "
                  "walking service area (geometry None); check their coordinates")
        ok = np.flatnonzero(pts.group_ok)
        fsnap = pts.take(_points_of(pts, ok))          # group j = facility ok[j] (all its access points)
        # one bounded search per facility (sparse facility x node costs), then the reachable street pieces
        reach = network.reach(fsnap, radius[ok])
        row, edge, s0, t0 = network.reached_pieces(reach, radius[ok], sources=fsnap)
        fac = ok[row]
        largest = int(np.bincount(row).max()) if len(row) else 0
        use = _choose_engine(engine, len(edge), largest)
        attrs.update({"engine": use, "pieces": len(edge), "largest_pieces": largest})
        if use == "vector":
            order = np.argsort(fac, kind="stable")
            present = np.unique(fac)
            if len(present):
                lines = network.substrings(edge[order], s0[order], t0[order])
                ml = shapely.multilinestrings(lines, indices=np.searchsorted(present, fac[order]))
                geoms[present] = _buffer(ml, street_width, quad_segs)
        else:
            cell = attrs["cell_m"] = _fit_cell(float(cell_m), float(street_width))
            xy, piece = network.sample_pieces(edge, s0, t0, cell)
            # each window centred on the facility's point, reaching its radius beyond its farthest access point
            centre = _metric_xy(fm.geometry, crs)[ok]
            far = np.zeros(len(ok))
            att = fsnap.ok
            np.maximum.at(far, fsnap.owner[att], np.hypot(*(fsnap.xy[att] - centre[fsnap.owner[att]]).T))
            geoms[ok] = _raster_per_source(xy, row[piece], centre, radius[ok] + far,
                                           len(ok), cell, float(street_width))
        # a polygon facility serves its own ground too
        outl = ap["outline"]
        has = np.flatnonzero(np.array([g is not None for g in outl], dtype=bool))
        if has.size:
            geoms[has] = [g if a is None else shapely.union(a, g) for a, g in zip(geoms[has], outl[has])]
    out = gpd.GeoDataFrame({"facility_id": fm["facility_id"].astype(str).to_numpy(),
                            "category": fm["category"].astype(str).to_numpy(),
                            "method": method, "radius_m": radius},
                           geometry=gpd.GeoSeries(geoms, crs=crs).values, crs=crs).to_crs(WGS84)
    out.attrs.update(attrs)
    return out


def _buffer(geoms: np.ndarray, width: float, quad_segs: int) -> np.ndarray:
    """``shapely.buffer`` over an array, split across CPU threads (GEOS releases the GIL)."""
    return map_split(lambda g: shapely.buffer(g, width, quad_segs=quad_segs), geoms)


def _union_lines(lines: np.ndarray, width: float, quad_segs: int, tile: float = 1000.0):
    """Buffer and dissolve many lines: buffer per tile (one MultiLineString each), then one union."""
    if len(lines) == 0:
        return shapely.Polygon()
    mid = shapely.get_coordinates(shapely.line_interpolate_point(lines, 0.5, normalized=True))
    key = np.floor(mid[:, 0] / tile).astype(np.int64) * 1_000_003 + np.floor(mid[:, 1] / tile).astype(np.int64)
    order = np.argsort(key, kind="stable")
    _, grp = np.unique(key[order], return_inverse=True)
    ml = shapely.multilinestrings(lines[order], indices=grp)
    polys = _buffer(ml, width, quad_segs)
    return shapely.make_valid(shapely.union_all(polys)) if len(polys) > 1 else polys[0]


def dissolve_service_areas(areas_or_facilities: gpd.GeoDataFrame, network: Any = None, radii: RadiiLike = None,
                           method: str = "walk", street_width: float = 25.0,
                           categories: Iterable[str] | str | None = None, max_snap: float = MAX_SNAP_M,
                           quad_segs: int = 2, engine: str = "auto", cell_m: float = CELL_M,
                           legs: bool = ACCESS_LEGS) -> gpd.GeoDataFrame:
    """One service-area polygon per category (the union of its facilities' areas).

    Parameters
    ----------
    areas_or_facilities : GeoDataFrame
        Either the output of :func:`service_areas` (polygons: dissolved per category and method as they are), or
        canonical facilities (points): then the dissolved areas are computed directly, which is much faster than
        per-facility polygons: one bounded Dijkstra per category from a super source (facilities with a smaller
        radius start with a handicap of ``max radius - radius``), the reachable parts of the streets drawn with
        the vector engine (buffered by ``street_width`` per 1 km tile and unioned once) or the raster engine (a grid
        of ``cell_m`` cells over the category's extent, traced only in windows around its separate clusters, a
        window above ``MAX_CELLS`` cells in strips).
    network, radii, method, street_width, categories, max_snap, quad_segs, engine, cell_m, legs
        As in :func:`service_areas` (``engine="auto"``: vector below 500 reachable pieces per category,
        raster above; the raster outline is accurate to about one ``cell_m``, areas within a few percent).

    Returns
    -------
    GeoDataFrame
        ``category``, ``method``, ``radius_m`` (the largest radius of the category), ``n_facilities``,
        ``area_m2`` (in the metric CRS), geometry (EPSG:4326). ``attrs["engine"]``: engine per category.
    """
    gdf = areas_or_facilities
    if not isinstance(gdf, gpd.GeoDataFrame) or "category" not in gdf.columns:
        raise DataError("expected service areas or facilities with a 'category' column",
                        fix="pass the output of service_areas() or canonical facilities")
    polygons = len(gdf) and gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).any()
    if polygons:
        crs = local_crs_for(gdf)
        gm = gdf.to_crs(crs)
        rows = []
        meth = gm["method"] if "method" in gm.columns else pd.Series(method, index=gm.index)
        for (cat, mth), part in gm.groupby([gm["category"].astype(str), meth], sort=False):
            geom = shapely.union_all(np.asarray(part.geometry.dropna().values, dtype=object))
            rows.append({"category": cat, "method": mth, "radius_m": float(part["radius_m"].max()),
                         "n_facilities": int(part.geometry.notna().sum()), "area_m2": float(geom.area),
                         "geometry": geom})
        return _dissolved_frame(rows, crs)
    _check_area_args(gdf, network, method, engine, cell_m, street_width)
    cats = _categories(gdf, categories)
    crs = _metric_crs(network, gdf)
    fm = to_metric(gdf, crs)
    engines: dict[str, str] = {}
    pts_all, outline_all = None, None
    if method == "walk":
        pts_all, ap_all = _snap_facilities(network, fm, max_snap, legs)
        outline_all = ap_all["outline"]
    fcat = fm["category"].astype(str).to_numpy()

    def one(cat: str) -> dict:
        m = fcat == cat
        r = category_radii(cat, fm[m], radii)
        rmax = float(r.max())
        if method == "line":
            geom = shapely.union_all(shapely.buffer(np.asarray(fm.geometry.values[m], dtype=object), r,
                                                    quad_segs=8))
            nf = int(m.sum())
        else:
            idx = np.flatnonzero(m & pts_all.group_ok)
            nf = len(idx)
            if nf == 0:
                geom = shapely.Polygon()
            else:
                # one search for the whole category: a facility of radius r starts rmax - r late, so "within
                # rmax" of the super source means "within its own radius"
                fsnap = pts_all.take(_points_of(pts_all, idx))
                h = rmax - r[np.searchsorted(np.flatnonzero(m), idx)]
                dist, _ = network.node_distances(fsnap, cutoff=rmax, handicap=h)
                _, edge, s, t = network.reached_pieces(dist, rmax, sources=fsnap, handicap=h)
                use = engines[cat] = _choose_engine(engine, len(edge), len(edge))
                if use == "vector":
                    geom = _union_lines(network.substrings(edge, s, t), street_width, quad_segs)
                else:
                    cell = _fit_cell(float(cell_m), float(street_width))
                    xy, _ = network.sample_pieces(edge, s, t, cell)
                    geom = _raster_dissolved(xy, cell, float(street_width))
            own = [g for g in outline_all[m] if g is not None] if outline_all is not None else []
            if own:                                    # polygon facilities serve their own ground too
                geom = shapely.union_all([geom, *own])
        # reprojected here, on this category's thread
        return {"category": cat, "method": method, "radius_m": rmax, "n_facilities": nf,
                "area_m2": float(geom.area), "geometry": _to_wgs84(np.array([geom], dtype=object), crs)[0]}

    present = [c for c in cats if (fcat == c).any()]
    # largest expected work first (facilities x radius²) so that the two threads finish close together
    cost = {c: float((fcat == c).sum()) * float(np.max(category_radii(c, fm[fcat == c], radii))) ** 2
            for c in present}
    present.sort(key=lambda c: -cost[c])
    for cat in cats:
        if cat not in present:
            _warn(f"no facilities of category {cat!r} ({_label(cat)}): its service area is empty")
    # the categories are independent and their heavy steps (scipy Dijkstra, numpy, contourpy, GEOS) release the
    # GIL: two threads keep both cores busy; results are the same as one after the other
    done = dict(zip(present, map_threads(one, present)))
    rows = [done[cat] if cat in done else
            {"category": cat, "method": method, "radius_m": float(category_radii(cat, None, radii)),
             "n_facilities": 0, "area_m2": 0.0, "geometry": shapely.Polygon()} for cat in cats]
    out = _dissolved_frame(rows, None)
    out.attrs["engine"] = {cat: engines[cat] for cat in cats if cat in engines}
    return out


def _dissolved_frame(rows: list[dict], crs: CRS | None) -> gpd.GeoDataFrame:
    """The dissolved areas' frame; geometries in ``crs`` (reprojected here) or, with ``crs=None``, already in
    EPSG:4326."""
    cols = ["category", "method", "radius_m", "n_facilities", "area_m2", "geometry"]
    df = pd.DataFrame(rows, columns=cols)
    geoms = np.asarray(df["geometry"].to_numpy(), dtype=object)
    if crs is not None:
        geoms = _to_wgs84(geoms, crs)
    return gpd.GeoDataFrame(df.drop(columns="geometry"), geometry=gpd.GeoSeries(geoms, crs=WGS84).values,
                            crs=WGS84)


def _to_wgs84(geoms: np.ndarray, crs: CRS) -> np.ndarray:
    """Geometries from ``crs`` to EPSG:4326 (x = longitude), one geometry per thread task.

    The same coordinate transformation as ``GeoSeries.to_crs`` (pyproj, always_xy), applied with
    ``shapely.transform`` on each geometry's coordinate array; pyproj and GEOS release the GIL, so large outlines
    are converted on two cores at once.
    """
    tr = transformer(crs, WGS84)

    def conv(g: Any) -> Any:
        if g is None:
            return None
        return shapely.transform(g, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))

    return np.asarray(map_threads(conv, list(geoms)) + [None], dtype=object)[:-1]


# ---------------------------------------------------------------------------------------------------------------
# per-unit figures
# ---------------------------------------------------------------------------------------------------------------
def _grouped_weighted_quantile(group: np.ndarray, values: np.ndarray, weights: np.ndarray, q: float,
                               n_groups: int) -> np.ndarray:
    """Per group: the smallest value whose cumulative weight reaches ``q`` of the group's total (NaN if none)."""
    out = np.full(n_groups, np.nan)
    keep = (weights > 0) & ~np.isnan(values)
    if not keep.any():
        return out
    g, v, w = group[keep], values[keep], weights[keep]
    order = np.lexsort((v, g))
    g, v, w = g[order], v[order], w[order]
    cum = np.cumsum(w)
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    ends = np.r_[starts[1:], len(g)]
    before = np.r_[0.0, cum][starts]
    total = cum[ends - 1] - before
    need = before + q * total
    gid = np.repeat(np.arange(len(starts)), ends - starts)
    reached = cum >= np.repeat(need, ends - starts) - 1e-9
    first = np.full(len(starts), -1)
    pos = np.flatnonzero(reached)
    gp = gid[pos]
    firsts = np.r_[True, gp[1:] != gp[:-1]]
    first[gp[firsts]] = pos[firsts]
    out[g[starts]] = v[first]
    return out


def _assign_units(access: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> tuple[pd.DataFrame, int]:
    """(origin position, unit position) pairs by point-in-polygon; and the number of origins in no unit."""
    pts = gpd.GeoDataFrame({"_o": np.arange(len(access))}, geometry=access.geometry.to_crs(units.crs).values,
                           crs=units.crs)
    polys = gpd.GeoDataFrame({"_u": np.arange(len(units))}, geometry=units.geometry.values, crs=units.crs)
    j = gpd.sjoin(pts, polys, how="inner", predicate="within")[["_o", "_u"]]
    outside = len(access) - j["_o"].nunique()
    return j.reset_index(drop=True), int(outside)


def unit_coverage(units: gpd.GeoDataFrame, access: gpd.GeoDataFrame, categories: Iterable[str] | str | None = None,
                  target_pct: float | Mapping[str, float] | None = 80.0,
                  service_areas: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Coverage figures per unit (township, community, pilot catchment) and category.

    Parameters
    ----------
    units : GeoDataFrame
        ``unit_id``, ``name``, ``level`` (optional), (Multi)Polygon geometry, any CRS.
    access : GeoDataFrame
        Output of :func:`origin_access`. Origins are assigned to units by point-in-polygon; an origin may belong
        to units of several levels (township and community). Origins inside no unit are counted in
        ``attrs["origins_outside"]`` and a warning; the rest is computed.
    categories : str or iterable, optional
        Default: the categories of ``access`` (``access.attrs["categories"]`` or the ``dist_line_*`` columns).
    target_pct : float or mapping, optional
        Target share of children covered (percent); a mapping per category; None: each category's standard.
    service_areas : GeoDataFrame, optional
        Dissolved service areas (:func:`dissolve_service_areas`); the walking ones (else the straight-line ones)
        give ``area_pct_walk``; without them it is NaN.

    Returns
    -------
    pandas.DataFrame
        One row per unit and category: ``unit_id``, ``name``, ``level``, ``category``, ``radius_m`` (largest
        radius of the category), ``children``, ``children_covered_walk``, ``pct_walk``,
        ``children_covered_line``, ``pct_line``, ``area_pct_walk``, ``median_walk_m``, ``p90_walk_m``
        (children-weighted over the children with a network; NaN when more than half / a tenth of them cannot
        reach a facility, never ``inf``),
        ``detour_ratio`` (children-weighted median of walking / straight-line distance over origins with a finite
        walking distance), ``below_target`` (bool, on ``pct_walk``, or ``pct_line`` when walking was not
        computed; False for units without children), ``target_pct``, ``children_no_network`` and
        ``homes_no_network`` (origins in a part of the network without a facility of the category, see
        :func:`origin_access`: left out of ``pct_walk`` and the walking quantiles and counted here), ``note``. A
        unit without children has NaN percentages and the note "无儿童 no children"; a unit with homes in such a
        part says how many ("… homes in a part of the network with no …: the extract may be clipped").
    """
    _require(units, "units", ["unit_id", "name"], "polygon")
    if not isinstance(access, gpd.GeoDataFrame):
        raise DataError("access must be the GeoDataFrame returned by origin_access()",
                        fix="run coverage.origin_access(origins, facilities, network) first")
    if categories is None:
        cats = list(access.attrs.get("categories") or
                    [c[len("dist_line_"):] for c in access.columns if c.startswith("dist_line_")])
    else:
        cats = [categories] if isinstance(categories, str) else list(categories)
    for cat in cats:
        miss = [c for c in (f"dist_walk_{cat}", f"dist_line_{cat}", f"covered_walk_{cat}", f"covered_line_{cat}")
                if c not in access.columns]
        if miss:
            raise DataError(f"access has no figures for category {cat!r} (missing {', '.join(miss)})",
                            fix=f"run origin_access(..., categories=[..., '{cat}'])")
    std = _default_standards()
    crs = local_crs_for(units)
    um = units.to_crs(crs)
    pairs, outside = _assign_units(access, um)
    if outside:
        _warn(f"{outside} of {len(access)} origins lie inside no unit and are left out of the unit figures "
              "(they stay in the origin table); check the unit boundaries cover the origins")
    o = pairs["_o"].to_numpy()
    u = pairs["_u"].to_numpy()
    nu = len(um)
    children = pd.to_numeric(access["children"], errors="coerce").fillna(0).to_numpy(dtype="float64")[o]
    kids = np.bincount(u, weights=children, minlength=nu)
    area = um.geometry.area.to_numpy()
    radii_attr = access.attrs.get("radii", {})
    level = um["level"].to_numpy() if "level" in um.columns else np.full(nu, None)
    sa = None
    if service_areas is not None and len(service_areas):
        sa = service_areas.to_crs(crs)
    frames = []
    for cat in cats:
        dw = access[f"dist_walk_{cat}"].to_numpy(dtype="float64")[o]
        dl = access[f"dist_line_{cat}"].to_numpy(dtype="float64")[o]
        walk = not np.all(np.isnan(access[f"dist_walk_{cat}"].to_numpy(dtype="float64")))
        cw = np.bincount(u, weights=children * access[f"covered_walk_{cat}"].to_numpy(dtype=bool)[o], minlength=nu)
        nn_col = f"no_network_{cat}"
        nn = access[nn_col].to_numpy(dtype=bool)[o] if nn_col in access.columns else np.zeros(o.size, dtype=bool)
        kids_nn = np.bincount(u, weights=children * nn, minlength=nu)
        homes_nn = np.bincount(u, weights=nn.astype(float), minlength=nu).astype(np.int64)
        kids_w = kids - kids_nn                          # the walking percentage's base: children with a network
        cl = np.bincount(u, weights=children * access[f"covered_line_{cat}"].to_numpy(dtype=bool)[o], minlength=nu)
        with np.errstate(invalid="ignore", divide="ignore"):
            pw = np.where(kids_w > 0, 100.0 * cw / kids_w, np.nan) if walk else np.full(nu, np.nan)
            pl = np.where(kids > 0, 100.0 * cl / kids, np.nan)
            ratio = np.where(np.isfinite(dw) & (dl > 0), dw / dl, np.nan)
        # quantiles over the children with a network; a quantile that falls on unreachable children is NaN
        # (never inf in a table), the counts say why
        keep = ~nn
        med = _grouped_weighted_quantile(u[keep], dw[keep], children[keep], 0.5, nu)
        p90 = _grouped_weighted_quantile(u[keep], dw[keep], children[keep], 0.9, nu)
        med = np.where(np.isfinite(med), med, np.nan)
        p90 = np.where(np.isfinite(p90), p90, np.nan)
        det = _grouped_weighted_quantile(u, ratio, children, 0.5, nu)
        apct = np.full(nu, np.nan)
        if sa is not None:
            sel = sa[sa["category"].astype(str) == cat]
            if "method" in sel.columns and (sel["method"] == "walk").any():
                sel = sel[sel["method"] == "walk"]
            if len(sel):
                geom = shapely.union_all(np.asarray(sel.geometry.values, dtype=object))
                inter = shapely.area(shapely.intersection(np.asarray(um.geometry.values, dtype=object), geom))
                apct = np.where(area > 0, 100.0 * inter / area, np.nan)
        tgt = _target_pct(cat, target_pct, std)
        basis = pw if walk else pl
        r = radii_attr.get(cat)
        r = float(max(r)) if isinstance(r, (list, tuple)) else (float(r) if r is not None else np.nan)
        frames.append(pd.DataFrame({
            "unit_id": um["unit_id"].astype(str).to_numpy(), "name": um["name"].to_numpy(), "level": level,
            "category": cat, "radius_m": r, "children": kids, "children_covered_walk": cw if walk else np.nan,
            "pct_walk": pw, "children_covered_line": cl, "pct_line": pl, "area_pct_walk": apct,
            "median_walk_m": med if walk else np.nan, "p90_walk_m": p90 if walk else np.nan,
            "detour_ratio": det, "below_target": np.nan_to_num(basis, nan=np.inf) < tgt, "target_pct": tgt,
            "children_no_network": kids_nn, "homes_no_network": homes_nn,
            "note": np.where(kids <= 0, "无儿童 no children", np.where(
                homes_nn > 0, [f"{h} 处住宅所在路网片段没有{_label(cat).split(' ')[0]}（路网数据可能被裁剪） {h} homes "
                               f"in a part of the network with no {cat.replace('_', ' ')}: the extract may be clipped"
                               for h in homes_nn], "")),
        }))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out.attrs.update({"origins_outside": outside, "origins": len(access), "metric_crs": crs.to_string()})
    return out


def facilities_per_unit(units: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, standards: Any = None,
                        categories: Iterable[str] | str | None = None) -> pd.DataFrame:
    """Count the facilities of each category inside each unit, against a minimum per township.

    Some standards are a count, not a radius: the action plan wants a children's home (儿童之家) in every
    township (``min_per_township`` in ``config/standards.toml``). Facilities are assigned to units by
    point-in-polygon (vectorised spatial join).

    Parameters
    ----------
    units : GeoDataFrame
        Canonical boundaries (``unit_id``, ``name``), any CRS.
    facilities : GeoDataFrame
        Canonical facilities (``category``), any CRS.
    standards : Standards, optional
        Default: :func:`childspace.inputs.standards.default_standards`.
    categories : str or iterable, optional
        Default: the categories with a ``min_per_township``.

    Returns
    -------
    DataFrame
        One row per unit and category: ``unit_id``, ``name``, ``category``, ``count``, ``min_required``
        (NaN when the category has no minimum), ``meets`` (bool; True when there is no minimum), ``finding``
        (bilingual, empty when met).
    """
    std = standards if _is_standards(standards) else _default_standards()
    if categories is None:
        cats = [c for c, spec in std.categories.items() if getattr(spec, "min_per_township", None)]
    else:
        cats = [categories] if isinstance(categories, str) else list(categories)
    u = units[["unit_id", "name", "geometry"]].reset_index(drop=True)
    f = facilities[facilities["category"].isin(cats)][["category", "geometry"]].to_crs(u.crs)
    joined = gpd.sjoin(f, u, predicate="within", how="inner")
    counts = joined.groupby(["unit_id", "category"]).size()
    idx = pd.MultiIndex.from_product([u["unit_id"], cats], names=["unit_id", "category"])
    out = counts.reindex(idx, fill_value=0).rename("count").reset_index()
    out = out.merge(u[["unit_id", "name"]], on="unit_id", how="left")
    minimum = {c: getattr(std.categories[c], "min_per_township", None) for c in cats}
    out["min_required"] = out["category"].map(minimum).astype(float)
    out["meets"] = out["min_required"].isna() | (out["count"] >= out["min_required"])
    labels = {c: _label(c) for c in cats}

    def finding(row: pd.Series) -> str:
        if row["meets"]:
            return ""
        zh, _, en = labels[row["category"]].partition(" ")
        return (f"{row['name']}缺{zh}（{int(row['count'])}处，至少{int(row['min_required'])}处） "
                f"{row['name']}: {int(row['count'])} {en.lower() or row['category']}(s), at least "
                f"{int(row['min_required'])} required")

    out["finding"] = out.apply(finding, axis=1) if len(out) else pd.Series(dtype=str)
    return out[["unit_id", "name", "category", "count", "min_required", "meets", "finding"]]


def life_circles(unit_coverage_df: pd.DataFrame, standards: Any = None) -> pd.DataFrame:
    """Which categories each unit lacks in its 5-, 10- and 15-minute life circles (生活圈).

    A category belongs to the life circle given by the standards (``life_circle`` of each category: e.g.
    kindergarten and playground 5 min, primary school 10 min, middle school 15 min). A category is *present* in a
    unit's life circle when at least its target share of the unit's children (``target_pct``) is covered by
    walking (``pct_walk``; ``pct_line`` when walking was not computed). A unit without children cannot be judged:
    its lists stay empty and ``lc*_complete`` is NaN. Each circle is judged on its own categories only.

    Parameters
    ----------
    unit_coverage_df : DataFrame
        Output of :func:`unit_coverage`.
    standards : Standards, optional
        Default: the bundled standards.

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``name``, and for N in 5, 10, 15: ``lcN_missing`` (bilingual labels, Chinese first, joined
        with "; "), ``lcN_complete`` (bool, NaN when the unit has no children or no category of that circle was
        evaluated).
    """
    std = standards if standards is not None else _default_standards()
    df = unit_coverage_df
    need = ["unit_id", "category", "pct_walk", "pct_line", "target_pct", "children"]
    miss = [c for c in need if c not in df.columns]
    if miss:
        raise DataError(f"unit coverage table lacks {', '.join(miss)}", fix="pass the output of unit_coverage()")
    minutes = sorted(std.life_circles) if std is not None and std.life_circles else [5, 10, 15]

    def circle(cat: str) -> int | None:
        if std is not None and cat in std.categories:
            return int(std.categories[cat].life_circle)
        return None

    d = df.copy()
    d["_lc"] = d["category"].map(circle)
    pct = d["pct_walk"].where(d["pct_walk"].notna(), d["pct_line"])
    d["_present"] = pct >= d["target_pct"]
    d["_label"] = d["category"].map(lambda c: std.label(c) if std is not None and c in std.categories else c)
    rows = []
    names = d.drop_duplicates("unit_id").set_index("unit_id")["name"] if "name" in d.columns else None
    for uid, part in d.groupby("unit_id", sort=False):
        row: dict[str, Any] = {"unit_id": uid, "name": names.get(uid) if names is not None else None}
        has_kids = bool(part["children"].max() > 0)
        for mnt in minutes:
            sub = part[part["_lc"] == mnt]
            lacking = sub.loc[~sub["_present"], "_label"].tolist() if has_kids else []
            row[f"lc{mnt}_missing"] = "; ".join(lacking)
            row[f"lc{mnt}_complete"] = (len(lacking) == 0) if (has_kids and len(sub)) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def uncovered_origins(access: gpd.GeoDataFrame, categories: Iterable[str] | str | None = None,
                      method: str = "walk") -> gpd.GeoDataFrame:
    """Origins not covered by a category (one row per origin and category), most children first.

    Returns
    -------
    GeoDataFrame
        ``origin_id``, ``children``, ``category``, ``distance_m`` (to the nearest facility, ``inf`` when
        unreachable), geometry (the origins' CRS).
    """
    cats = (list(access.attrs.get("categories") or
                 [c[len("dist_line_"):] for c in access.columns if c.startswith("dist_line_")])
            if categories is None else ([categories] if isinstance(categories, str) else list(categories)))
    parts = []
    for cat in cats:
        flag = access[f"covered_{method}_{cat}"].to_numpy(dtype=bool)
        sub = access.loc[~flag, ["origin_id", "children", access.geometry.name]].copy()
        sub["category"] = cat
        sub["distance_m"] = access.loc[~flag, f"dist_{method}_{cat}"].to_numpy(dtype="float64")
        parts.append(sub)
    if not parts:
        return gpd.GeoDataFrame(columns=["origin_id", "children", "category", "distance_m", "geometry"],
                                geometry="geometry", crs=access.crs)
    out = pd.concat(parts, ignore_index=True).sort_values(["children", "distance_m"], ascending=[False, False])
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry=access.geometry.name, crs=access.crs)


def gaps(units: gpd.GeoDataFrame, access: gpd.GeoDataFrame, service_areas_dissolved: gpd.GeoDataFrame,
         categories: Iterable[str] | str | None = None, min_area_m2: float = 1.0) -> gpd.GeoDataFrame:
    """The parts of each unit outside the walking service area of each category, ranked by children affected.

    Parameters
    ----------
    units : GeoDataFrame
        ``unit_id``, ``name``, (Multi)Polygon.
    access : GeoDataFrame
        Output of :func:`origin_access`.
    service_areas_dissolved : GeoDataFrame
        Output of :func:`dissolve_service_areas` (walking areas preferred; straight-line used when a category
        has no walking area).
    categories : str or iterable, optional
        Default: the categories of ``access``.
    min_area_m2 : float
        Gap pieces smaller than this (slivers along the buffer edges) are dropped.

    Returns
    -------
    GeoDataFrame
        ``unit_id``, ``unit_name``, ``category``, ``category_label``, ``children_uncovered`` (children of the
        uncovered origins, by walking, lying inside the gap polygon), ``area_m2``, ``rank`` (1 = most children,
        then largest area), geometry (valid (Multi)Polygons, EPSG:4326). Units fully covered have no row.
        ``attrs["uncovered_origins_total"]``: uncovered children per category over all units.
    """
    _require(units, "units", ["unit_id", "name"], "polygon")
    cats = (list(access.attrs.get("categories") or
                 [c[len("dist_line_"):] for c in access.columns if c.startswith("dist_line_")])
            if categories is None else ([categories] if isinstance(categories, str) else list(categories)))
    crs = local_crs_for(units)
    um = units.to_crs(crs)
    ugeom = shapely.make_valid(np.asarray(um.geometry.values, dtype=object))
    sa = service_areas_dissolved.to_crs(crs) if service_areas_dissolved is not None else None
    ogeom = np.asarray(access.geometry.to_crs(crs).values, dtype=object)
    kids = pd.to_numeric(access["children"], errors="coerce").fillna(0).to_numpy(dtype="float64")
    rows = []
    totals = {}
    for cat in cats:
        area_geom = shapely.Polygon()
        if sa is not None:
            sel = sa[sa["category"].astype(str) == cat]
            if "method" in sel.columns and (sel["method"] == "walk").any():
                sel = sel[sel["method"] == "walk"]
            if len(sel):
                area_geom = shapely.union_all(np.asarray(sel.geometry.values, dtype=object))
        walk = not np.all(np.isnan(access[f"dist_walk_{cat}"].to_numpy(dtype="float64")))
        covered = access[f"covered_{'walk' if walk else 'line'}_{cat}"].to_numpy(dtype=bool)
        totals[cat] = float(kids[~covered].sum())
        diff = shapely.make_valid(shapely.difference(ugeom, area_geom))
        diff = _polygonal(diff, min_area_m2)
        unc = np.flatnonzero(~covered & (kids > 0))
        tree = shapely.STRtree(ogeom[unc])
        inside = tree.query(diff, predicate="intersects")   # (gap index, origin index)
        per = np.bincount(inside[0], weights=kids[unc][inside[1]], minlength=len(diff)) if inside.size else \
            np.zeros(len(diff))
        for i in range(len(diff)):  # one row per unit: bounded by the number of units
            if diff[i] is None or shapely.is_empty(diff[i]):
                continue
            rows.append({"unit_id": str(um["unit_id"].iloc[i]), "unit_name": um["name"].iloc[i], "category": cat,
                         "category_label": _label(cat), "children_uncovered": float(per[i]),
                         "area_m2": float(shapely.area(diff[i])), "geometry": diff[i]})
    cols = ["unit_id", "unit_name", "category", "category_label", "children_uncovered", "area_m2", "rank",
            "geometry"]
    if not rows:
        out = gpd.GeoDataFrame(columns=cols, geometry="geometry", crs=WGS84)
    else:
        df = pd.DataFrame(rows).sort_values(["children_uncovered", "area_m2"], ascending=[False, False])
        df["rank"] = np.arange(1, len(df) + 1)
        out = gpd.GeoDataFrame(df[cols].reset_index(drop=True), geometry="geometry", crs=crs).to_crs(WGS84)
    out.attrs["uncovered_origins_total"] = totals
    return out


def _polygonal(geoms: np.ndarray, min_area: float) -> np.ndarray:
    """Keep only polygon parts of at least ``min_area`` (drops lines/points from overlay, slivers)."""
    out = np.empty(len(geoms), dtype=object)
    parts, idx = shapely.get_parts(geoms, return_index=True)
    if len(parts):
        # polygons from collections
        sub, sidx = shapely.get_parts(parts, return_index=True)
        poly = shapely.get_type_id(sub) == 3
        keep = poly & (shapely.area(sub) >= min_area)
        owner = idx[sidx]
        for i in range(len(geoms)):
            sel = sub[keep & (owner == i)]
            out[i] = (shapely.MultiPolygon(list(sel)) if len(sel) > 1 else sel[0]) if len(sel) else None
    return out


# ---------------------------------------------------------------------------------------------------------------
# capacity-aware accessibility and siting
# ---------------------------------------------------------------------------------------------------------------
def _pairs_within(network: Any, src: gpd.GeoSeries, tgt: Snap, radius: float, max_snap: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Snap]:
    """(source position, target position, metres) for every pair within ``radius`` by walking (sparse)."""
    sp_ = _snap(network, src, max_snap, allow_none=True, legs=tgt.leg is not None)
    s, t, d = network.pairs_within(sp_, tgt, float(radius))
    return s, t, d, sp_


@dataclass
class SfcaResult:
    """Result of :func:`two_step_fca`.

    Attributes
    ----------
    origins : GeoDataFrame
        Origins plus ``sfca_ratio`` (capacity units per child within reach, e.g. kindergarten seats per child;
        0 where no facility is within the radius) and ``sfca_facilities`` (number of facilities within reach).
    facilities : GeoDataFrame
        Facilities plus ``sfca_demand`` (children within the radius) and ``sfca_supply_ratio`` (capacity /
        demand; NaN with no demand).
    units : DataFrame or None
        With ``units``: ``unit_id``, ``name``, ``children``, ``sfca_ratio`` (children-weighted mean of the
        origins' ratios), ``capacity_in_reach``.
    """

    origins: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    units: pd.DataFrame | None


def two_step_fca(origins: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, network: Any, radius: float,
                 capacity_col: str = "capacity", units: gpd.GeoDataFrame | None = None,
                 max_snap: float = MAX_SNAP_M) -> SfcaResult:
    """Two-step floating catchment area (2SFCA) accessibility on walking distances.

    Step 1: every facility j gets ``R_j = S_j / sum(P_k for origins k within radius of j)`` (capacity per child
    of its catchment). Step 2: every origin i gets ``A_i = sum(R_j for facilities j within radius of i)``.
    Source: Luo, W. & Wang, F. (2003), "Measures of spatial accessibility to health care in a GIS environment",
    Environment and Planning B 30(6): 865-884. Distances are walking metres (one bounded Dijkstra per facility).

    Parameters
    ----------
    origins : GeoDataFrame
        ``origin_id``, ``children`` (demand P), Point.
    facilities : GeoDataFrame
        Facilities of one category with a capacity column (supply S, e.g. seats).
    network : WalkNetwork
    radius : float
        Catchment radius, walking metres.
    capacity_col : str
        Column of ``facilities`` with the capacity (numbers ≥ 0; missing values are an error).
    units : GeoDataFrame, optional
        Units to summarise the ratios in (children-weighted).
    max_snap : float
        Metres; points farther from the network are not attached (ratio 0 for origins, no supply for facilities).

    Returns
    -------
    SfcaResult
    """
    _require(origins, "origins", ["origin_id", "children"], "point")
    _require(facilities, "facilities", ["facility_id", capacity_col], "point")
    cap = pd.to_numeric(facilities[capacity_col], errors="coerce")
    bad = cap.isna() | (cap < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{int(bad.sum())} facilities have no usable {capacity_col!r} (capacity)",
                        feature=_row_name(facilities, i),
                        fix=f"fill in {capacity_col} (容量, e.g. seats) for every facility or drop those rows")
    if not radius > 0:
        raise DataError(f"radius must be > 0 m, got {radius!r}", fix="give the catchment radius in metres")
    opts = _snap(network, origins.geometry, max_snap)
    fi, oi, _, fpts = _pairs_within(network, facilities.geometry, opts, float(radius), max_snap)
    P = pd.to_numeric(origins["children"], errors="coerce").fillna(0).to_numpy(dtype="float64")
    S = cap.to_numpy(dtype="float64")
    demand = np.bincount(fi, weights=P[oi], minlength=len(facilities))
    with np.errstate(invalid="ignore", divide="ignore"):
        R = np.where(demand > 0, S / demand, np.nan)
    A = np.bincount(oi, weights=np.nan_to_num(R[fi]), minlength=len(origins))
    nfac = np.bincount(oi, minlength=len(origins))
    o_out = origins.copy()
    o_out["sfca_ratio"] = A
    o_out["sfca_facilities"] = nfac
    f_out = facilities.copy()
    f_out["sfca_demand"] = demand
    f_out["sfca_supply_ratio"] = R
    u_out = None
    if units is not None:
        _require(units, "units", ["unit_id", "name"], "polygon")
        pairs, outside = _assign_units(origins, units.to_crs(local_crs_for(units)))
        o, u = pairs["_o"].to_numpy(), pairs["_u"].to_numpy()
        kids = np.bincount(u, weights=P[o], minlength=len(units))
        wsum = np.bincount(u, weights=P[o] * A[o], minlength=len(units))
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(kids > 0, wsum / kids, np.nan)
        u_out = pd.DataFrame({"unit_id": units["unit_id"].astype(str).to_numpy(), "name": units["name"].to_numpy(),
                              "children": kids, "sfca_ratio": ratio, "capacity_in_reach": wsum})
        u_out.attrs["origins_outside"] = outside
    o_out.attrs.update({"radius_m": float(radius), "unsnapped_origins": int((~opts.ok).sum()),
                        "unsnapped_facilities": int((~fpts.ok).sum())})
    return SfcaResult(origins=o_out, facilities=f_out, units=u_out)


def suggest_sites(candidates: gpd.GeoDataFrame | None, origins: gpd.GeoDataFrame, network: Any, radius: float,
                  p: int = 1, facilities: gpd.GeoDataFrame | None = None, thin_m: float | None = None,
                  max_snap: float = MAX_SNAP_M, max_cells: int = 50_000_000) -> gpd.GeoDataFrame:
    """Where to build ``p`` new facilities to cover the most children (maximal covering location problem).

    MCLP (Church, R. & ReVelle, C. (1974), "The maximal covering location problem", Papers of the Regional
    Science Association 32: 101-118), built with PySAL ``spopt.locate.MCLP.from_cost_matrix`` on walking
    distances and solved with the CBC solver bundled with ``pulp`` (works offline).

    Parameters
    ----------
    candidates : GeoDataFrame or None
        Candidate sites (Point; optional ``candidate_id``). None: street nodes within ``radius`` (straight line) of
        an uncovered origin (the gap areas), thinned to one node per ``thin_m`` grid cell (default radius / 2).
    origins : GeoDataFrame
        ``origin_id``, ``children``, Point.
    network : WalkNetwork
    radius : float
        Walking radius (m) a new site covers.
    p : int
        Number of sites to choose.
    facilities : GeoDataFrame, optional
        Existing facilities of the category: children already within ``radius`` of one are not counted as
        demand (only newly covered children count).
    thin_m : float, optional
        Grid cell (m) for thinning default candidates.
    max_snap : float
        Metres (see :func:`origin_access`).
    max_cells : int
        Largest origins x candidates cost matrix allowed (memory guard).

    Returns
    -------
    GeoDataFrame
        The chosen sites: ``candidate_id``, ``children_new`` (children newly covered, each counted once, at the
        first chosen site covering them), ``origins_new``, ``rank``, geometry (EPSG:4326).
        ``attrs``: ``children_new_total``, ``demand_children`` (uncovered before), ``candidates`` (evaluated),
        ``radius_m``.
    """
    import pulp
    from spopt.locate import MCLP

    _require(origins, "origins", ["origin_id", "children"], "point")
    if p < 1:
        raise DataError(f"p must be at least 1, got {p}", fix="ask for one or more sites")
    opts = _snap(network, origins.geometry, max_snap)
    kids = pd.to_numeric(origins["children"], errors="coerce").fillna(0).to_numpy(dtype="float64")
    covered = np.zeros(len(origins), dtype=bool)
    if facilities is not None and len(facilities):
        d, _ = _nearest(network, facilities.geometry, opts, float(radius), max_snap)
        covered = d <= radius
    demand = np.flatnonzero(~covered & (kids > 0) & opts.ok)
    crs = CRS.from_user_input(network.crs)
    if candidates is None:
        nodes = np.c_[network.x, network.y]
        og = shapely.points(shapely.get_coordinates(origins.geometry.to_crs(crs).values)[demand])
        tree = shapely.STRtree(og)
        near = np.unique(tree.query(shapely.points(nodes), predicate="dwithin", distance=float(radius))[0])
        cell = float(thin_m or radius / 2.0)
        key = np.floor(nodes[near] / cell).astype(np.int64)
        _, first = np.unique(key, axis=0, return_index=True)
        sel = near[np.sort(first)]
        candidates = gpd.GeoDataFrame({"candidate_id": [f"node_{network.node_osmid[i]}" for i in sel]},
                                      geometry=shapely.points(nodes[sel]), crs=crs)
    _require(candidates, "candidates", [], "point")
    cand = candidates.reset_index(drop=True)
    cid = (cand["candidate_id"].astype(str).to_numpy() if "candidate_id" in cand.columns
           else np.array([f"candidate_{i}" for i in range(len(cand))]))
    empty = gpd.GeoDataFrame({"candidate_id": [], "children_new": [], "origins_new": [], "rank": []},
                             geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)
    attrs = {"demand_children": float(kids[demand].sum()), "candidates": len(cand), "radius_m": float(radius),
             "children_new_total": 0.0}
    if len(demand) == 0 or len(cand) == 0:
        empty.attrs.update(attrs)
        return empty
    sub = opts.take(demand)
    if len(demand) * len(cand) > max_cells:
        raise DataError(f"{len(demand)} uncovered origins x {len(cand)} candidates is too large a problem",
                        fix="pass fewer candidates (or a larger thin_m), or run per township")
    ci, oi, dd, _ = _pairs_within(network, cand.geometry, sub, float(radius), max_snap)
    cost = np.full((len(demand), len(cand)), float(radius) * 10.0 + 1.0)
    cost[oi, ci] = dd
    useful = np.unique(ci)
    if len(useful) == 0:
        empty.attrs.update(attrs)
        return empty
    with warnings.catch_warnings():   # pulp 3.3 announces API changes for 4.0; nothing to act on here
        warnings.simplefilter("ignore", DeprecationWarning)
        model = MCLP.from_cost_matrix(cost[:, useful], kids[demand], service_radius=float(radius),
                                      p_facilities=int(min(p, len(useful))))
        model.solve(pulp.PULP_CBC_CMD(msg=False))
    chosen = np.array([j for j, var in enumerate(model.fac_vars) if (var.value() or 0) > 0.5], dtype=np.int64)
    gain = [(j, [int(i) for i in model.fac2cli[j]]) for j in chosen]
    gain.sort(key=lambda t: -kids[demand][t[1]].sum() if t[1] else 0.0)
    seen = np.zeros(len(demand), dtype=bool)
    rows = []
    for rank, (j, clients) in enumerate(gain, start=1):
        cl = np.array(clients, dtype=np.int64)
        new = cl[~seen[cl]] if cl.size else cl
        seen[new] = True
        c = int(useful[j])
        rows.append({"candidate_id": cid[c], "children_new": float(kids[demand][new].sum()),
                     "origins_new": int(new.size), "rank": rank, "geometry": cand.geometry.to_crs(crs).iloc[c]})
    out = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=crs).to_crs(WGS84)
    attrs["children_new_total"] = float(out["children_new"].sum())
    out.attrs.update(attrs)
    return out
