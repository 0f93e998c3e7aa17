"""Raster drawing of walking service areas: street pieces sampled, burnt on a grid of cells, dilated by the street
width and outlined (marching squares), per source in small windows or dissolved over clusters."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from childspace._parallel import map_threads
from childspace.network.arrays import ragged_ranges

#: Default raster cell (m) of walking service areas (outline accurate to about one cell, see service_areas).
CELL_M = 7.5
#: Largest raster (cells) built at once; larger extents are cut into strips that are unioned afterwards.
MAX_CELLS = 50_000_000
#: Cells per mosaic of per-facility windows traced at once (small mosaics stay in the CPU caches: 2,000 county
#: facilities take 4.3 s in 4M-cell mosaics, 8.0 s in 50M-cell ones).
BATCH_CELLS = 4_000_000
#: Side (cells) of the blocks that decide which parts of a dissolved raster are traced together (see
#: raster_dissolved); larger blocks mean fewer, larger windows.
BLOCK_CELLS = 16


def fit_cell(cell: float, width: float) -> float:
    """The raster cell actually used: at most ``cell``, shrunk so that ``width`` is a whole number of cells plus
    a half (the traced outline then lies ``width`` from the street, not half a cell off)."""
    if width <= 0:
        return cell
    k = np.floor(width / cell + 1e-9)
    if k + 0.5 < width / cell - 1e-9:
        k += 1
    return float(width / (k + 0.5))


def _col_min(xy: np.ndarray) -> np.ndarray:
    """``xy.min(axis=0)`` of (n, 2) points, column by column: numpy reduces a C-ordered (n, 2) array along axis 0
    two values at a time (0.32 s for 8M points against 0.03 s for the two columns; the same values)."""
    return np.array([xy[:, 0].min(), xy[:, 1].min()])


def _col_max(xy: np.ndarray) -> np.ndarray:
    """``xy.max(axis=0)`` of (n, 2) points, column by column (see :func:`_col_min`)."""
    return np.array([xy[:, 0].max(), xy[:, 1].max()])


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


def raster_areas(
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
    # valid by construction, as in raster_dissolved (tiles keep unset margins, so their outlines never touch)
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
    traced together (:func:`raster_areas`), in batches of at most ``max_cells`` cells, on the shared threads.
    """
    out = np.full(n, None, dtype=object)
    half = np.ceil((np.asarray(reach, dtype="float64") + width) / cell).astype(np.int64) + 2
    order = np.argsort(owner, kind="stable")
    xy, owner = xy[order], owner[order]
    bounds = np.searchsorted(owner, np.arange(n + 1))
    batches = _window_batches(half, max_cells)

    def trace(batch: tuple[np.ndarray, int]) -> np.ndarray:
        mem, hw = batch
        idx, tl = ragged_ranges(bounds[mem], bounds[mem + 1] - bounds[mem])
        side = 2 * hw + 1
        return raster_areas(xy[idx], tl, centre[mem] - hw * cell, (side, side), len(mem), cell, width)

    for (mem, _), geoms in zip(batches, map_threads(trace, batches)):
        out[mem] = geoms
    return out


def raster_dissolved(xy: np.ndarray, cell: float, width: float, max_cells: int = MAX_CELLS) -> Any:
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
    lo = np.floor(_col_min(xy) / cell) * cell - margin * cell  # grid origin (a cell centre)
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
    """Like :func:`raster_dissolved` for one large cluster: its grid cut into strips of at most ``max_cells``
    cells, each traced with an overlap, clipped to its own rows, then unioned."""
    margin = int(np.ceil(width / cell)) + 2
    lo = np.floor(_col_min(xy) / cell) * cell - margin * cell
    hi = np.ceil(_col_max(xy) / cell) * cell + margin * cell
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
        g_ = raster_areas(xy[sel], np.zeros(int(sel.sum()), dtype=np.int64), origin, (h, W), 1, cell, width)[
            0
        ]
        if g_ is not None:
            parts.append(shapely.clip_by_rect(g_, lo[0] - cell, y0 - cell / 2, hi[0] + cell, y1 - cell / 2))
    if not parts:
        return shapely.Polygon()
    return shapely.make_valid(shapely.union_all(parts))


def _lattice(xy: np.ndarray, cell: float) -> np.ndarray:
    """The lattice point (a multiple of ``cell`` on both axes) nearest to each of ``xy``: per-source windows and
    dissolved grids put their cell centres on the same lattice, so a dissolved raster is the union of the
    per-source ones cell for cell."""
    return np.round(np.asarray(xy, dtype="float64") / cell) * cell


class PieceSampler:
    """Points along street pieces (:meth:`WalkNetwork.sample_pieces`), with the points of whole edges computed
    once and gathered for every piece that covers its edge whole (a county's 2,000 service areas cover each
    reached edge ~9 times). The points are the same as sampling every piece on its own."""

    def __init__(self, network: Any, edge: np.ndarray, start: np.ndarray, end: np.ndarray, step: float):
        self.network, self.step = network, step
        L = network.length
        self.whole = (start <= 0.0) & (end >= L[edge])
        seen = np.zeros(network.n_edges, dtype=bool)
        seen[edge[self.whole]] = True
        self.edges = np.flatnonzero(seen)
        self.xy, piece = network.sample_pieces(self.edges, np.zeros(self.edges.size), L[self.edges], step)
        self.ptr = np.searchsorted(piece, np.arange(self.edges.size + 1))
        # position of each edge in ``edges`` (a gather instead of a binary search per piece: millions of pieces)
        self.at = np.zeros(network.n_edges, dtype=np.int64)
        self.at[self.edges] = np.arange(self.edges.size)

    def sample(
        self, pieces: np.ndarray, edge: np.ndarray, start: np.ndarray, end: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Points of the pieces ``pieces`` (indices into the arrays given at construction, whose ``edge``,
        ``start``, ``end`` are passed again), and the position in ``pieces`` of every point."""
        w = self.whole[pieces]
        pw, pp = np.flatnonzero(w), np.flatnonzero(~w)
        wi = self.at[edge[pieces[pw]]]
        idx, k = ragged_ranges(self.ptr[wi], self.ptr[wi + 1] - self.ptr[wi])
        q = pieces[pp]
        xy2, k2 = self.network.sample_pieces(edge[q], start[q], end[q], self.step)
        return np.concatenate([self.xy[idx], xy2]), np.concatenate([pw[k], pp[k2]])


def raster_pieces_per_source(
    sampler: PieceSampler,
    owner: np.ndarray,
    edge: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    centre: np.ndarray,
    reach: np.ndarray,
    n: int,
    cell: float,
    width: float,
    max_cells: int = BATCH_CELLS,
) -> np.ndarray:
    """One polygon per source from its reachable street pieces (``owner``: source 0..n-1 of every piece), as
    :func:`raster_per_source` but sampling the pieces batch by batch on the shared threads (memory follows a
    batch, not the ~10 points per metre of street of all areas at once), and with every window's cells on the
    lattice of :func:`_lattice` (the window is centred on the lattice point nearest to ``centre``)."""
    out = np.full(n, None, dtype=object)
    half = np.ceil((np.asarray(reach, dtype="float64") + width) / cell).astype(np.int64) + 2
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(n + 1))
    origin0 = _lattice(centre, cell)
    batches = _window_batches(half, max_cells)

    def trace(batch: tuple[np.ndarray, int]) -> np.ndarray:
        mem, hw = batch
        idx, tl = ragged_ranges(bounds[mem], bounds[mem + 1] - bounds[mem])
        xy, k = sampler.sample(order[idx], edge, start, end)
        side = 2 * hw + 1
        return raster_areas(xy, tl[k], origin0[mem] - hw * cell, (side, side), len(mem), cell, width)

    for (mem, _), geoms in zip(batches, map_threads(trace, batches)):
        out[mem] = geoms
    return out


def raster_pieces_dissolved(
    sampler: PieceSampler,
    pieces: np.ndarray,
    edge: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    cell: float,
    width: float,
) -> Any:
    """The dissolved raster area of the pieces ``pieces`` (as :func:`raster_dissolved`): the union, cell for cell,
    of the per-source windows of :func:`raster_pieces_per_source` over the same pieces. Whole edges are sampled
    once however many pieces cover them (the same points)."""
    w = sampler.whole[pieces]
    # one piece per whole edge is enough (same points); partial pieces all count
    rep = np.full(sampler.network.n_edges, -1, dtype=np.int64)
    rep[edge[pieces[w]]] = pieces[w]
    rep = rep[rep >= 0]
    xy, _ = sampler.sample(np.r_[rep, pieces[~w]], edge, start, end)
    return raster_dissolved(xy, cell, width)


def _window_batches(half: np.ndarray, max_cells: int) -> list[tuple[np.ndarray, int]]:
    """Owners grouped by their window's half-size (cells), in batches of at most ``max_cells`` raster cells."""
    batches = []
    for hw in np.unique(half):
        members = np.flatnonzero(half == hw)
        side = int(2 * hw + 1)
        per = max(1, max_cells // (side * side))
        batches += [(members[a : a + per], int(hw)) for a in range(0, len(members), per)]
    return batches
