"""Service areas: per-facility and dissolved walking (or straight-line) service-area polygons, drawn from the
reachable street pieces by buffering (vector) or on a grid (raster)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from childspace._errors import DataError, NetworkError
from childspace._parallel import map_split, map_threads
from childspace.analysis._coverage_base import (
    ACCESS_LEGS,
    MAX_SNAP_M,
    RadiiLike,
    _categories,
    _label,
    _metric_crs,
    _metric_xy,
    _points_of,
    _require,
    _snap_facilities,
    _warn,
    category_radii,
)
from childspace.inputs.projection import WGS84, local_crs_for, to_metric, transformer
from childspace.network.arrays import ragged_ranges

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


def check_raster_args(engine: str, cell_m: float, street_width: float) -> None:
    choose_engine(engine, 0, 0)
    if not (np.isfinite(cell_m) and cell_m > 0):
        raise DataError(f"cell_m must be a positive number of metres, got {cell_m!r}", fix="e.g. cell_m=10")
    if not (np.isfinite(street_width) and street_width >= 0):
        raise DataError(f"street_width must be ≥ 0 m, got {street_width!r}", fix="e.g. street_width=25")


def _check_area_args(
    facilities: gpd.GeoDataFrame, network: Any, method: str, engine: str, cell_m: float, street_width: float
) -> None:
    """Checks shared by the service-area functions (facility columns, method, network, raster settings)."""
    _require(facilities, "facilities", ["facility_id", "category"], "point")
    if method not in ("walk", "line"):
        raise DataError(f"unknown method {method!r}", fix="use method='walk' or method='line'")
    if method == "walk" and network is None:
        raise NetworkError(
            "walking service areas need a walk network",
            fix="pass network=WalkNetwork.from_osm(...) or use method='line'",
        )
    check_raster_args(engine, cell_m, street_width)


def choose_engine(engine: str, pieces: int, largest: int) -> str:
    """The engine to use for ``pieces`` reachable pieces in all, ``largest`` of them in one area."""
    if engine not in ("auto", "vector", "raster"):
        raise DataError(f"unknown engine {engine!r}", fix="use engine='auto', 'vector' or 'raster'")
    if engine == "auto":
        return "vector" if pieces < VECTOR_MAX_PIECES and largest < VECTOR_MAX_UNION else "raster"
    return engine


def fit_cell(cell: float, width: float) -> float:
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
    half = np.floor(np.sqrt(np.maximum(radius_cells**2 - np.arange(r + 1) ** 2, 0.0)) + 1e-9).astype(int)
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
    close = np.flatnonzero(np.r_[brk, True])  # the closing vertex of each ring
    d = np.diff(xy, axis=0)  # d[i] = xy[i + 1] - xy[i]
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
        grid.astype(np.float64),
        None,  # type: ignore[arg-type]  # (no mask; the stub does not allow None)
        corner_mask=False,
        line_type=contourpy.LineType.SeparateCode,
        fill_type=contourpy.FillType.ChunkCombinedOffsetOffset,
        quad_as_tri=False,
        z_interp=contourpy.ZInterp.Linear,
    )
    pts, offs, outer = (a[0] for a in gen.filled(0.5, 1.5))
    if pts is None or offs is None or outer is None or len(pts) == 0:
        return np.zeros((0, 2)), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    return pts, offs, outer


def _raster_areas(
    xy: np.ndarray,
    tile: np.ndarray,
    origin: np.ndarray,
    shape: tuple[int, int],
    n_tiles: int,
    cell: float,
    width: float,
) -> np.ndarray:
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
    # served and an unserved cell centre, so with width / cell = k + 1/2 (see fit_cell) it lies ``width``
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
    ptile = np.floor(first_pt[:, 1] / H).astype(np.int64) * ncol + np.floor(first_pt[:, 0] / W).astype(
        np.int64
    )
    vt = ptile[ring_poly[ring]]
    wx = origin[vt, 0] + (pts[:, 0] - col0[vt]) * cell
    wy = origin[vt, 1] + (pts[:, 1] - row0[vt]) * cell
    rings = shapely.linearrings(np.c_[wx, wy], indices=ring)
    # valid by construction, as in _raster_dissolved (tiles keep unset margins, so their outlines never touch)
    polys = shapely.polygons(rings, indices=ring_poly)
    order = np.argsort(ptile, kind="stable")
    tiles_present, start = np.unique(ptile[order], return_index=True)
    counts = np.diff(np.r_[start, len(order)])
    out[tiles_present] = shapely.multipolygons(
        polys[order], indices=np.repeat(np.arange(len(tiles_present)), counts)
    )
    single = counts == 1
    out[tiles_present[single]] = polys[order[start[single]]]
    return out


def raster_per_source(
    xy: np.ndarray,
    owner: np.ndarray,
    centre: np.ndarray,
    reach: np.ndarray,
    n: int,
    cell: float,
    width: float,
    max_cells: int = BATCH_CELLS,
) -> np.ndarray:
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
        batches += [(members[a : a + per], int(hw)) for a in range(0, len(members), per)]

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
    lo = np.floor(xy.min(axis=0) / cell) * cell - margin * cell  # grid origin (a cell centre)
    J = np.floor((xy[:, 0] - lo[0]) / cell + 0.5).astype(np.int64)
    ii = np.floor((xy[:, 1] - lo[1]) / cell + 0.5).astype(np.int64)
    block = max(BLOCK_CELLS, 2 * int(np.floor(width / cell + 1e-9)) + 2)
    bi, bj = ii // block, J // block
    occupied = np.zeros((int(bi.max()) + 1, int(bj.max()) + 1), dtype=bool)
    occupied[bi, bj] = True
    labels, n_clusters = ndimage.label(occupied, structure=np.ones((3, 3), dtype=bool))
    cluster = labels[bi, bj] - 1
    # (numpy's stable sort is a radix sort on 16-bit integers)
    order = np.argsort(cluster.astype(np.int16) if n_clusters < 2**15 else cluster, kind="stable")
    ii, J, cluster = ii[order], J[order], cluster[order]
    start = np.searchsorted(cluster, np.arange(n_clusters + 1))
    i_lo = np.minimum.reduceat(ii, start[:-1]) - margin
    j_lo = np.minimum.reduceat(J, start[:-1]) - margin
    h = np.maximum.reduceat(ii, start[:-1]) + margin + 1 - i_lo
    w = np.maximum.reduceat(J, start[:-1]) + margin + 1 - j_lo
    flat = (ii - i_lo[cluster]) * w[cluster] + (J - j_lo[cluster])  # cell of each sample in its window
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
        pts += np.repeat(np.c_[sx, sy], npts.astype(np.int64), axis=0)  # window cells to grid cells
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
        g_ = _raster_areas(xy[sel], np.zeros(int(sel.sum()), dtype=np.int64), origin, (h, W), 1, cell, width)[
            0
        ]
        if g_ is not None:
            parts.append(shapely.clip_by_rect(g_, lo[0] - cell, y0 - cell / 2, hi[0] + cell, y1 - cell / 2))
    if not parts:
        return shapely.Polygon()
    return shapely.make_valid(shapely.union_all(parts))


# ---------------------------------------------------------------------------------------------------------------
# service areas
# ---------------------------------------------------------------------------------------------------------------
def service_areas(
    facilities: gpd.GeoDataFrame,
    network: Any = None,
    radii: RadiiLike = None,
    method: str = "walk",
    street_width: float = 25.0,
    categories: Iterable[str] | str | None = None,
    max_snap: float = MAX_SNAP_M,
    quad_segs: int = 2,
    engine: str = "auto",
    cell_m: float = CELL_M,
    legs: bool = ACCESS_LEGS,
) -> gpd.GeoDataFrame:
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
        geoms = shapely.buffer(
            np.asarray(fm.geometry.values, dtype=object), radius, quad_segs=max(quad_segs, 8)
        )
    else:
        pts, ap = _snap_facilities(network, fm, max_snap, legs)
        attrs["access_points"] = ap["counts"]
        attrs["unsnapped"] = int((~pts.group_ok).sum())
        if attrs["unsnapped"]:
            _warn(
                f"{attrs['unsnapped']} facilities are farther than {max_snap:g} m from any street and get no "
                "walking service area (geometry None); check their coordinates"
            )
        ok = np.flatnonzero(pts.group_ok)
        fsnap = pts.take(_points_of(pts, ok))  # group j = facility ok[j] (all its access points)
        # one bounded search per facility (sparse facility x node costs), then the reachable street pieces
        reach = network.reach(fsnap, radius[ok])
        row, edge, s0, t0 = network.reached_pieces(reach, radius[ok], sources=fsnap)
        fac = ok[row]
        largest = int(np.bincount(row).max()) if len(row) else 0
        use = choose_engine(engine, len(edge), largest)
        attrs.update({"engine": use, "pieces": len(edge), "largest_pieces": largest})
        if use == "vector":
            order = np.argsort(fac, kind="stable")
            present = np.unique(fac)
            if len(present):
                lines = network.substrings(edge[order], s0[order], t0[order])
                ml = shapely.multilinestrings(lines, indices=np.searchsorted(present, fac[order]))
                geoms[present] = _buffer(ml, street_width, quad_segs)
        else:
            cell = attrs["cell_m"] = fit_cell(float(cell_m), float(street_width))
            xy, piece = network.sample_pieces(edge, s0, t0, cell)
            # each window centred on the facility's point, reaching its radius beyond its farthest access point
            centre = _metric_xy(fm.geometry, crs)[ok]
            far = np.zeros(len(ok))
            att = fsnap.ok
            np.maximum.at(far, fsnap.owner[att], np.hypot(*(fsnap.xy[att] - centre[fsnap.owner[att]]).T))
            geoms[ok] = raster_per_source(
                xy, row[piece], centre, radius[ok] + far, len(ok), cell, float(street_width)
            )
        # a polygon facility serves its own ground too
        outl = ap["outline"]
        has = np.flatnonzero(np.array([g is not None for g in outl], dtype=bool))
        if has.size:
            geoms[has] = [g if a is None else shapely.union(a, g) for a, g in zip(geoms[has], outl[has])]
    out = gpd.GeoDataFrame(
        {
            "facility_id": fm["facility_id"].astype(str).to_numpy(),
            "category": fm["category"].astype(str).to_numpy(),
            "method": method,
            "radius_m": radius,
        },
        geometry=gpd.GeoSeries(geoms, crs=crs).values,
        crs=crs,
    ).to_crs(WGS84)
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
    key = np.floor(mid[:, 0] / tile).astype(np.int64) * 1_000_003 + np.floor(mid[:, 1] / tile).astype(
        np.int64
    )
    order = np.argsort(key, kind="stable")
    _, grp = np.unique(key[order], return_inverse=True)
    ml = shapely.multilinestrings(lines[order], indices=grp)
    polys = _buffer(ml, width, quad_segs)
    return shapely.make_valid(shapely.union_all(polys)) if len(polys) > 1 else polys[0]


def dissolve_service_areas(
    areas_or_facilities: gpd.GeoDataFrame,
    network: Any = None,
    radii: RadiiLike = None,
    method: str = "walk",
    street_width: float = 25.0,
    categories: Iterable[str] | str | None = None,
    max_snap: float = MAX_SNAP_M,
    quad_segs: int = 2,
    engine: str = "auto",
    cell_m: float = CELL_M,
    legs: bool = ACCESS_LEGS,
) -> gpd.GeoDataFrame:
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
        raise DataError(
            "expected service areas or facilities with a 'category' column",
            fix="pass the output of service_areas() or canonical facilities",
        )
    polygons = len(gdf) and gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).any()
    if polygons:
        crs = local_crs_for(gdf)
        gm = gdf.to_crs(crs)
        rows = []
        meth = gm["method"] if "method" in gm.columns else pd.Series(method, index=gm.index)
        for (cat, mth), part in gm.groupby([gm["category"].astype(str), meth], sort=False):
            geom = shapely.union_all(np.asarray(part.geometry.dropna().values, dtype=object))
            rows.append(
                {
                    "category": cat,
                    "method": mth,
                    "radius_m": float(part["radius_m"].max()),
                    "n_facilities": int(part.geometry.notna().sum()),
                    "area_m2": float(geom.area),
                    "geometry": geom,
                }
            )
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
        r = np.asarray(category_radii(cat, fm[m], radii))  # (one radius per facility)
        rmax = float(r.max())
        if method == "line":
            geom = shapely.union_all(
                shapely.buffer(np.asarray(fm.geometry.values[m], dtype=object), r, quad_segs=8)
            )
            nf = int(m.sum())
        else:
            assert pts_all is not None  # method "walk"
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
                use = engines[cat] = choose_engine(engine, len(edge), len(edge))
                if use == "vector":
                    geom = _union_lines(network.substrings(edge, s, t), street_width, quad_segs)
                else:
                    cell = fit_cell(float(cell_m), float(street_width))
                    xy, _ = network.sample_pieces(edge, s, t, cell)
                    geom = _raster_dissolved(xy, cell, float(street_width))
            own = [g for g in outline_all[m] if g is not None] if outline_all is not None else []
            if own:  # polygon facilities serve their own ground too
                geom = shapely.union_all([geom, *own])
        # reprojected here, on this category's thread
        return {
            "category": cat,
            "method": method,
            "radius_m": rmax,
            "n_facilities": nf,
            "area_m2": float(geom.area),
            "geometry": areas_to_wgs84(np.array([geom], dtype=object), crs)[0],
        }

    present = [c for c in cats if (fcat == c).any()]
    # largest expected work first (facilities x radius²) so that the two threads finish close together
    cost = {
        c: float((fcat == c).sum()) * float(np.max(category_radii(c, fm[fcat == c], radii))) ** 2
        for c in present
    }
    present.sort(key=lambda c: -cost[c])
    for cat in cats:
        if cat not in present:
            _warn(f"no facilities of category {cat!r} ({_label(cat)}): its service area is empty")
    # the categories are independent and their heavy steps (scipy Dijkstra, numpy, contourpy, GEOS) release the
    # GIL: two threads keep both cores busy; results are the same as one after the other
    done = dict(zip(present, map_threads(one, present)))
    rows = [
        done[cat]
        if cat in done
        else {
            "category": cat,
            "method": method,
            "radius_m": float(category_radii(cat, None, radii)),
            "n_facilities": 0,
            "area_m2": 0.0,
            "geometry": shapely.Polygon(),
        }
        for cat in cats
    ]
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
        geoms = areas_to_wgs84(geoms, crs)
    return gpd.GeoDataFrame(
        df.drop(columns="geometry"), geometry=gpd.GeoSeries(geoms, crs=WGS84).values, crs=WGS84
    )


def areas_to_wgs84(geoms: np.ndarray, crs: CRS) -> np.ndarray:
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
