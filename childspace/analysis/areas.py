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
    to_crs_cached,
)
from childspace.analysis._raster import (  # noqa: F401  (re-exported: walksheds and coverage use them)
    BATCH_CELLS,
    BLOCK_CELLS,
    CELL_M,
    MAX_CELLS,
    PieceSampler,
    fit_cell,
    raster_areas,
    raster_dissolved,
    raster_per_source,
    raster_pieces_dissolved,
    raster_pieces_per_source,
)
from childspace.inputs.projection import WGS84, local_crs_for, to_metric, transformer

_raster_areas, _raster_dissolved = raster_areas, raster_dissolved  # (older private names, kept for callers)

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
      across a river stays excluded (a street must reach it). Every window's cells lie on one lattice (cell
      centres at multiples of the cell), the one :func:`service_areas_dissolved` traces the dissolved areas on.
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
    return _service_areas(
        facilities,
        network,
        radii,
        method,
        street_width,
        categories,
        max_snap,
        quad_segs,
        engine,
        cell_m,
        legs,
        False,
    )[0]


def service_areas_dissolved(
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
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """:func:`service_areas` and their dissolve per category (the frame of :func:`dissolve_service_areas` on them)
    in one pass.

    With the raster engine the dissolved areas are traced from the same reachable street pieces, burnt on the
    same lattice of cells as the per-facility windows, instead of unioning 2,000 outlines: each category's area is
    the union of its facilities' cells (one grid, so the outline can differ from the union of the traced
    per-facility outlines only inside cells where two areas meet at a corner: a few square metres). Other engines
    union the polygons, as :func:`dissolve_service_areas` does.

    Returns
    -------
    (GeoDataFrame, GeoDataFrame)
        As :func:`service_areas`, and as :func:`dissolve_service_areas` given that frame.
    """
    out, dis = _service_areas(
        facilities,
        network,
        radii,
        method,
        street_width,
        categories,
        max_snap,
        quad_segs,
        engine,
        cell_m,
        legs,
        True,
    )
    assert dis is not None
    return out, dis


def _service_areas(
    facilities: gpd.GeoDataFrame,
    network: Any,
    radii: RadiiLike,
    method: str,
    street_width: float,
    categories: Iterable[str] | str | None,
    max_snap: float,
    quad_segs: int,
    engine: str,
    cell_m: float,
    legs: bool,
    dissolve: bool,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    raster_union: dict[str, Any] | None = None
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
            sampler = PieceSampler(network, edge, s0, t0, cell)
            # each window centred on the facility's point, reaching its radius beyond its farthest access point
            centre = _metric_xy(fm.geometry, crs)[ok]
            far = np.zeros(len(ok))
            att = fsnap.ok
            np.maximum.at(far, fsnap.owner[att], np.hypot(*(fsnap.xy[att] - centre[fsnap.owner[att]]).T))
            geoms[ok] = raster_pieces_per_source(
                sampler, row, edge, s0, t0, centre, radius[ok] + far, len(ok), cell, float(street_width)
            )
            if dissolve:  # the same pieces per category, on the same lattice of cells
                fcats, fcode = np.unique(fm["category"].astype(str).to_numpy(), return_inverse=True)
                pcode = fcode[fac]
                porder = np.argsort(pcode, kind="stable")
                pb = np.searchsorted(pcode[porder], np.arange(len(fcats) + 1))
                codes = [c for c in range(len(fcats)) if pb[c + 1] > pb[c]]

                def one(c: int) -> Any:
                    sel = porder[pb[c] : pb[c + 1]]
                    return raster_pieces_dissolved(sampler, sel, edge, s0, t0, cell, float(street_width))

                raster_union = {str(fcats[c]): g for c, g in zip(codes, map_threads(one, codes))}
        # a polygon facility serves its own ground too
        outl = ap["outline"]
        has = np.flatnonzero(np.array([g is not None for g in outl], dtype=bool))
        if has.size:
            geoms[has] = [g if a is None else shapely.union(a, g) for a, g in zip(geoms[has], outl[has])]
            if raster_union is not None:
                hcat = fm["category"].astype(str).to_numpy()[has]
                for cat in pd.unique(hcat):
                    own = list(outl[has][hcat == cat])
                    base = raster_union.get(cat)
                    raster_union[cat] = shapely.union_all(own if base is None else [base, *own])
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
    if not dissolve:
        return out, None
    polygons = len(out) and out.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).any()
    if not polygons:  # no area at all: from the facilities (an empty area per category)
        return out, dissolve_service_areas(
            facilities,
            network,
            radii,
            method,
            street_width,
            categories,
            max_snap,
            quad_segs,
            engine,
            cell_m,
            legs,
        )
    if raster_union is None:  # vector or straight-line areas: their polygons unioned
        return out, dissolve_service_areas(out, method=method)
    return out, _dissolved_from(out, raster_union, crs)


def _dissolved_from(areas: gpd.GeoDataFrame, union: dict[str, Any], crs: CRS) -> gpd.GeoDataFrame:
    """The frame of :func:`dissolve_service_areas` on ``areas`` (rows, columns, areas measured in the same local
    CRS), with each category's geometry given in ``union`` (metric ``crs``; categories without reached streets
    nor own ground are empty)."""
    wgs = dict(zip(union, areas_to_wgs84(np.asarray(list(union.values()) + [None], dtype=object)[:-1], crs)))
    local = local_crs_for(areas)
    rows = []
    for cat, part in areas.groupby(areas["category"].astype(str), sort=False):
        g = wgs.get(cat)
        geom = shapely.Polygon() if g is None else g
        rows.append(
            {
                "category": cat,
                "method": "walk",
                "radius_m": float(part["radius_m"].max()),
                "n_facilities": int(part.geometry.notna().sum()),
                "geometry": geom,
            }
        )
    geoms = gpd.GeoSeries([r["geometry"] for r in rows], crs=WGS84)
    # (projected once: the unit figures and the gaps project the same areas to the same local CRS)
    area = to_crs_cached(geoms, local).area.to_numpy() if rows else np.zeros(0)
    for r, a in zip(rows, area):
        r["area_m2"] = float(a)
    return _dissolved_frame(rows, None)


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
                    geom = raster_dissolved(xy, cell, float(street_width))
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
