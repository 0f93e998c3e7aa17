"""Shared pieces of the coverage analyses: radii from the standards, input checks, attaching points and
facilities (with their access points and legs) to the walk network."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from childspace._errors import ChildspaceWarning, DataError, NetworkError
from childspace.analysis.access_points import facility_access_points
from childspace.inputs.projection import WGS84, local_crs_for, transformer
from childspace.network import Snap

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


def category_radii(
    category: str, facilities: gpd.GeoDataFrame | pd.DataFrame | None = None, radii: RadiiLike = None
) -> np.ndarray | float:
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
            raise DataError(
                f"radius for {category!r} must be > 0 m, got {radii[category]!r}",
                fix="give radii={category: metres} with positive values",
            )
        return r if n is None else np.full(n, r)
    std: Any = radii if _is_standards(radii) else _default_standards()
    if std is None or category not in getattr(std, "categories", {}):
        raise DataError(
            f"no radius known for category {category!r}",
            fix=f"pass radii={{'{category}': metres}} or add the category to the standards TOML",
        )
    if facilities is None or n is None:
        return float(std.radius(category))
    area = (
        pd.to_numeric(facilities["area_ha"], errors="coerce").to_numpy(dtype="float64")
        if "area_ha" in facilities.columns
        else np.full(n, np.nan)
    )
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
        raise DataError(
            f"{what} must be a GeoDataFrame, got {type(gdf).__name__}",
            fix=f"load {what} with childspace.inputs.loaders",
        )
    if gdf.crs is None:
        raise DataError(
            f"{what} have no CRS",
            fix="load them with childspace.inputs.loaders or call .set_crs('EPSG:4326')",
        )
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise DataError(
            f"{what} lack column(s) {', '.join(missing)}; columns are {list(gdf.columns)}",
            fix=f"load {what} with childspace.inputs.loaders (canonical columns)",
        )
    # (on GEOS type ids: geopandas' geom_type makes a string per feature, 0.07 s for a county's 300k homes)
    g = np.asarray(gdf.geometry.values, dtype=object)
    bad = shapely.is_missing(g) | shapely.is_empty(g)
    if geom is not None:
        kinds = shapely.get_type_id(g)
        if geom == "point":
            bad |= kinds != 0  # Point
        else:
            bad |= (kinds != 3) & (kinds != 6)  # Polygon, MultiPolygon
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        ident = _row_name(gdf, i)
        raise DataError(
            f"{what}: {int(bad.sum())} feature(s) with a missing or non-{geom or 'valid'} geometry",
            feature=ident,
            fix=f"give every {what.removesuffix('s')} a {geom or 'valid'} geometry or drop the row",
        )


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
    boxes = gpd.GeoSeries([shapely.box(*g.to_crs(WGS84).total_bounds) for g in frames], crs=WGS84)
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
#: How a planner changes the snap tolerance, for messages (the run config's setting, then the Python keyword).
SNAP_SETTING = "[network] max_snap_m in the run config (max_snap= in Python)"


def _snap(
    network: Any,
    points: gpd.GeoSeries | np.ndarray,
    max_snap: float,
    allow_none: bool = False,
    legs: bool = ACCESS_LEGS,
    group: np.ndarray | None = None,
    what: str | None = None,
) -> Snap:
    """``network.snap`` (with the access legs when ``legs``); with ``allow_none`` a set of which no point attaches
    gives ``ok=False`` for all (instead of the engine's error). ``what`` names the layer in that error
    ("origins", "facilities"), whose fix names the setting that changes the tolerance."""
    try:
        return network.snap(points, max_distance=max_snap, legs=legs, group=group)
    except NetworkError as err:
        if "none of the" not in str(err):
            raise
        if not allow_none:
            if what is None:
                raise
            raise NetworkError(
                f"{what}: {err.message}",
                fix='check their coordinates: the CRS and datum of the file (coords = "gcj02"/"bd09" for '
                "Amap/Baidu picks, crs= for projected files) and that the OSM extract covers their area; if they "
                f"are right and the streets are farther, raise the tolerance: {SNAP_SETTING}, e.g. "
                f"max_snap_m = {max(2 * max_snap, 300):g}",
            ) from None
        snap = network.snap(points, max_distance=np.inf, legs=legs, group=group)
        return dataclasses.replace(snap, ok=np.zeros(snap.n_points, dtype=bool), max_distance=float(max_snap))


def _files_of(facilities: pd.DataFrame) -> str:
    """Where facilities came from, for messages: ``"from facilities.csv: 2, OpenStreetMap: 1"``."""
    if "source_file" in facilities.columns:
        src = facilities["source_file"].astype(object)
    else:
        src = pd.Series([None] * len(facilities), index=facilities.index, dtype=object)
    if "source" in facilities.columns:
        src = src.where(src.notna(), facilities["source"].map({"osm": "OpenStreetMap"}))
    counts = src.fillna("the facilities layer").value_counts()
    return "from " + ", ".join(f"{k}: {v}" for k, v in counts.items())


def _snap_facilities(
    network: Any, facilities: gpd.GeoDataFrame, max_snap: float, legs: bool
) -> tuple[Snap, dict[str, Any]]:
    """Facilities attached by their access points (:mod:`childspace.analysis.access_points`: the point, mapped
    entrances, or where streets meet a polygon's outline); group ``i`` of the Snap is facility row ``i``."""
    ap = facility_access_points(facilities, network, network.crs)
    snap = _snap(network, ap["xy"], max_snap, allow_none=True, legs=legs, group=ap["owner"])
    return snap, ap


def _points_of(snap: Snap, groups: np.ndarray) -> np.ndarray:
    """Boolean mask of the attachment points of ``snap`` that belong to the groups ``groups``."""
    return np.isin(snap.owner, groups)


#: Point coordinates reprojected lately (:func:`_metric_xy`): a run projects the same 300k homes for the coverage,
#: the gaps, both unit levels and the pilots; each entry keeps its source coordinates, so a hit is exact.
_XY_CACHE: list[tuple[np.ndarray, CRS, CRS, np.ndarray]] = []
_XY_CACHE_SIZE = 4
_xy_lock = threading.Lock()


def _metric_xy(geoms: gpd.GeoSeries, crs: CRS) -> np.ndarray:
    """(m, 2) coordinates of points in ``crs`` (pyproj on the coordinate arrays; no geometry objects made)."""
    xy = shapely.get_coordinates(np.asarray(geoms.values, dtype=object))
    if len(xy) != len(geoms):  # empty points have no coordinates: let geopandas handle the general case
        return shapely.get_coordinates(np.asarray(geoms.to_crs(crs).values, dtype=object))
    src, dst = CRS.from_user_input(geoms.crs), CRS.from_user_input(crs)
    if src.equals(dst):
        return xy
    with _xy_lock:
        for sxy, s_crs, d_crs, out in _XY_CACHE:
            if sxy.shape == xy.shape and s_crs == src and d_crs == dst and np.array_equal(sxy, xy):
                return out.copy()
    x, y = transformer(src, dst).transform(xy[:, 0], xy[:, 1])
    out = np.c_[x, y]
    if len(xy) >= 10_000:  # (small layers are cheap to project again)
        with _xy_lock:
            _XY_CACHE.insert(0, (xy, src, dst, out.copy()))
            del _XY_CACHE[_XY_CACHE_SIZE:]
    return out


def metric_points(geoms: gpd.GeoSeries, crs: CRS) -> np.ndarray:
    """The points ``geoms`` in ``crs`` as shapely geometries (:func:`_metric_xy`; missing or empty geometries
    through geopandas)."""
    xy = shapely.get_coordinates(np.asarray(geoms.values, dtype=object))
    if len(xy) != len(geoms) or not (shapely.get_type_id(np.asarray(geoms.values, dtype=object)) == 0).all():
        return np.asarray(geoms.to_crs(crs).values, dtype=object)
    return shapely.points(_metric_xy(geoms, crs))


#: public name of :func:`_metric_xy` for the other coverage modules
metric_xy = _metric_xy


# ---------------------------------------------------------------------------------------------------------------
# origin access
# ---------------------------------------------------------------------------------------------------------------
def _spatial_order(xy: np.ndarray, cell: float = 500.0) -> np.ndarray:
    """A permutation of the points (m, 2; metres) that visits them cell by cell, row after row of ``cell`` m
    cells, alternating direction (a serpentine); non-finite points go last."""
    ok = np.isfinite(xy).all(axis=1)
    if not ok.any():
        return np.arange(len(xy))
    fin = xy[ok]
    low = np.array([fin[:, 0].min(), fin[:, 1].min()])  # (= fin.min(axis=0), column by column: 10x faster)
    g = np.floor((np.where(ok[:, None], xy, 0.0) - low) / cell).astype(np.int64)
    width = int(g[:, 0].max()) + 1
    col = np.where(g[:, 1] % 2 == 0, g[:, 0], width - 1 - g[:, 0])
    key = np.where(ok, g[:, 1] * width + col, np.iinfo(np.int64).max)
    return np.argsort(key, kind="stable")


def _radius_classes(r: np.ndarray) -> list[tuple[float, np.ndarray]]:
    return [(float(x), np.flatnonzero(r == x)) for x in np.unique(r)]


def points_in_polygons(
    xy: np.ndarray, polys: np.ndarray, predicate: str = "within"
) -> tuple[np.ndarray, np.ndarray]:
    """(point, polygon) position pairs, sorted by point then polygon, of the points ``xy`` (m, 2) lying in
    ``polys``: ``"within"`` their interior (as ``STRtree(polys).query(points, predicate="within")``) or
    ``"intersects"`` them (boundary included). The points are never made into geometries: each polygon tests
    the coordinates inside its bounding box (found on the points sorted by x) with
    ``shapely.contains_xy`` / ``intersects_xy`` on the prepared polygon."""
    test = {"within": shapely.contains_xy, "intersects": shapely.intersects_xy}[predicate]
    xy = np.asarray(xy, dtype="float64").reshape(-1, 2)
    polys = np.asarray(polys, dtype=object)
    ok = ~(shapely.is_missing(polys) | shapely.is_empty(polys))
    if not len(xy) or not ok.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    by_x = _x_order(xy)
    xs, ys = xy[by_x, 0], xy[by_x, 1]
    box = shapely.bounds(polys)
    shapely.prepare(polys[ok])
    pts_, polys_ = [], []
    for k in np.flatnonzero(ok):  # (one vectorised test per polygon: units, not points)
        a = np.searchsorted(xs, box[k, 0], side="left")
        b = np.searchsorted(xs, box[k, 2], side="right")
        cand = np.arange(a, b)[(ys[a:b] >= box[k, 1]) & (ys[a:b] <= box[k, 3])]
        hit = cand[test(polys[k], xs[cand], ys[cand])]
        pts_.append(by_x[hit])
        polys_.append(np.full(hit.size, k, dtype=np.int64))
    p, q = np.concatenate(pts_).astype(np.int64), np.concatenate(polys_)
    # each (point, polygon) pair comes once: one sort of a combined key gives the order of
    # ``np.lexsort((q, p))`` (0.02 s against 0.11 s for a county's 300k homes)
    order = np.argsort(p * len(polys) + q)
    return p[order], q[order]


#: Orders of point sets by x (:func:`_x_order`), by their coordinates' digest: a run assigns the same homes to the
#: townships, the communities, their gaps and the pilots.
_X_ORDER: dict[bytes, np.ndarray] = {}
_X_ORDER_SIZE = 4


def _x_order(xy: np.ndarray) -> np.ndarray:
    """``np.argsort(xy[:, 0], kind="stable")``, remembered for the last few point sets (keyed by the digest of
    their coordinates: a hit is the same points)."""
    if len(xy) < 10_000:  # (small sets are cheap to sort again)
        return np.argsort(xy[:, 0], kind="stable")
    key = hashlib.blake2b(np.ascontiguousarray(xy).tobytes(), digest_size=16).digest()
    with _xy_lock:
        hit = _X_ORDER.get(key)
    if hit is None:
        hit = np.argsort(xy[:, 0], kind="stable")
        with _xy_lock:
            _X_ORDER[key] = hit
            while len(_X_ORDER) > _X_ORDER_SIZE:
                _X_ORDER.pop(next(iter(_X_ORDER)))
    return hit


#: Units of this level are judged each on its own (a pilot's catchment may overlap another's): a home in two of
#: them counts in both. A home in two units of any other level counts in one (:func:`one_unit_each`).
OVERLAP_ALLOWED_LEVELS = frozenset({"pilot"})


def one_unit_each(
    o: np.ndarray,
    u: np.ndarray,
    xy: np.ndarray,
    units: gpd.GeoDataFrame,
    weights: np.ndarray | None = None,
    geoms: np.ndarray | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Which (origin, unit) pairs to keep so that every origin counts in one unit of each level.

    Units of one level (``units["level"]``; all one level without the column) should not overlap; where they do,
    an origin lying in several of them is kept in the one it lies deepest inside (the largest distance from the
    origin to the unit's outline, to the millimetre), and on a tie (a home on a shared edge) in the first of
    them in the units' order. The rule depends on the geometry only, not on the file's order: a sliver where two neighbours'
    outlines overlap is split along its middle. Units of the levels in :data:`OVERLAP_ALLOWED_LEVELS` keep every
    pair.

    Parameters
    ----------
    o, u : numpy.ndarray
        The pairs' origin and unit positions, sorted by origin.
    xy : numpy.ndarray
        (m, 2) origin coordinates in the units' CRS (metres).
    units : GeoDataFrame
        The units (``level`` optional, ``unit_id``, ``name``), in a metric CRS.
    weights : numpy.ndarray, optional
        Children per origin, for the overlap report.
    geoms : numpy.ndarray, optional
        The units' geometries to use instead of ``units.geometry`` (e.g. made valid).

    Returns
    -------
    keep : numpy.ndarray
        Boolean mask of the pairs to keep.
    overlaps : pandas.DataFrame
        One row per pair of units of a level that hold the same origins: ``level``, ``unit_a``, ``unit_b``
        (positions), ``unit_id_a``, ``name_a``, ``unit_id_b``, ``name_b``, ``overlap_m2`` (area of their common
        part), ``homes`` and ``children`` (in both: they would have been counted twice), ``homes_to_a`` and
        ``homes_to_b`` (of them, counted in ``unit_a`` / ``unit_b``; with three units overlapping, some go to
        the third), most children first; empty when no origin lies in two units of a level.
    """
    o = np.asarray(o, dtype=np.int64)
    u = np.asarray(u, dtype=np.int64)
    keep = np.ones(o.size, dtype=bool)
    cols = ["level", "unit_a", "unit_b", "unit_id_a", "name_a", "unit_id_b", "name_b", "overlap_m2", "homes"]
    empty = pd.DataFrame({c: [] for c in [*cols, "children", "homes_to_a", "homes_to_b"]})
    if o.size < 2 or not (o[1:] == o[:-1]).any():  # (the common case: each origin in one unit at most)
        return keep, empty
    lv = (
        units["level"].astype(object).where(units["level"].notna(), "").astype(str).to_numpy()
        if "level" in units.columns
        else np.full(len(units), "", dtype=object)
    )
    lcode, lnames = pd.factorize(lv)
    allowed = np.isin(np.asarray(lnames, dtype=object), list(OVERLAP_ALLOWED_LEVELS))
    key = o * max(len(lnames), 1) + lcode[u]
    order = np.argsort(key, kind="stable")  # (by origin and level, then unit: the pairs' own order)
    ks = key[order]
    first = np.r_[True, ks[1:] != ks[:-1]]
    gid = np.cumsum(first) - 1
    size = np.bincount(gid)[gid]
    multi = (size > 1) & ~allowed[lcode[u[order]]]
    if not multi.any():
        return keep, empty
    sel = order[multi]  # pairs of origins in several units of one level, grouped, units in order
    g = gid[multi]
    geoms = np.asarray(units.geometry.values if geoms is None else geoms, dtype=object)
    # (to the millimetre: a home on the middle line of a strip is a tie, whatever the reprojection's last digits)
    depth = np.round(shapely.distance(shapely.boundary(geoms[u[sel]]), shapely.points(xy[o[sel]])), 3)
    # per group: the deepest, then the first unit (stable sort on the depth, descending, within each group)
    pick = np.lexsort((np.arange(sel.size), -depth, g))
    lead = np.r_[True, g[pick][1:] != g[pick][:-1]]
    chosen = np.zeros(sel.size, dtype=bool)
    chosen[pick[lead]] = True
    keep[sel[~chosen]] = False
    # the pairs of units that share origins, with the homes and children they would have counted twice
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    ends = np.r_[starts[1:], g.size]
    a_l, b_l, org, to_a, to_b = [], [], [], [], []
    for s0, e0 in zip(starts.tolist(), ends.tolist()):  # (origins in overlaps only: a few per sliver)
        us, ch = u[sel[s0:e0]], chosen[s0:e0]
        for i in range(us.size):
            for j in range(i + 1, us.size):
                a_l.append(us[i])
                b_l.append(us[j])
                org.append(o[sel[s0]])
                to_a.append(bool(ch[i]))
                to_b.append(bool(ch[j]))
    pr = pd.DataFrame({"unit_a": a_l, "unit_b": b_l, "_o": org, "_to_a": to_a, "_to_b": to_b})
    w = np.ones(len(xy)) if weights is None else np.asarray(weights, dtype="float64")
    pr["_w"] = w[pr["_o"].to_numpy()]
    agg = (
        pr.groupby(["unit_a", "unit_b"], sort=True)
        .agg(
            homes=("_o", "size"),
            children=("_w", "sum"),
            homes_to_a=("_to_a", "sum"),
            homes_to_b=("_to_b", "sum"),
        )
        .reset_index()
    )
    ua, ub = agg["unit_a"].to_numpy(), agg["unit_b"].to_numpy()
    ga, gb = geoms[ua], geoms[ub]
    ga = np.where(shapely.is_valid(ga), ga, shapely.make_valid(ga))
    gb = np.where(shapely.is_valid(gb), gb, shapely.make_valid(gb))
    ids = units["unit_id"].astype(str).to_numpy() if "unit_id" in units.columns else np.arange(len(units))
    names = units["name"].astype(str).to_numpy() if "name" in units.columns else ids
    agg.insert(0, "level", lv[ua])
    agg["unit_id_a"], agg["name_a"] = ids[ua], names[ua]
    agg["unit_id_b"], agg["name_b"] = ids[ub], names[ub]
    agg["overlap_m2"] = shapely.area(shapely.intersection(ga, gb))
    agg["homes_to_a"] = agg["homes_to_a"].astype(np.int64)
    agg["homes_to_b"] = agg["homes_to_b"].astype(np.int64)
    agg = agg.sort_values(["children", "homes"], ascending=False, kind="stable").reset_index(drop=True)
    return keep, agg[[*cols, "children", "homes_to_a", "homes_to_b"]]


def overlap_message(overlaps: pd.DataFrame | list[dict], what: str = "units", most: int = 5) -> str:
    """A warning naming the overlapping units of :func:`one_unit_each` (the ``most`` with the most children
    first; a frame or its records), the area they share and the homes and children in both, with the rule
    applied and the fix."""
    overlaps = pd.DataFrame(overlaps)
    n_pairs = len(overlaps)
    parts = []
    for r in overlaps.head(most).itertuples():
        lvl = f"{r.level} " if r.level else ""
        parts.append(
            f"{lvl}{r.name_a} ({r.unit_id_a}) / {r.name_b} ({r.unit_id_b}): {r.overlap_m2 / 1e4:,.2f} ha in "
            f"common, {r.homes} homes ({r.children:,.0f} children) in both, {r.homes_to_a} counted in "
            f"{r.name_a}, {r.homes_to_b} in {r.name_b}"
        )
    more = f"; and {n_pairs - most} more pairs" if n_pairs > most else ""
    return (
        f"单元边界重叠 overlapping {what}: {n_pairs} pair(s) of units of one level overlap, so their homes would "
        f"be counted twice ({int(overlaps['homes'].sum())} homes, {overlaps['children'].sum():,.0f} children); "
        "each such home is counted in one unit only, the one it lies deepest inside (farthest from the unit's "
        "outline), so the units' children add up to the total: "
        + "; ".join(parts)
        + more
        + ". Fix the boundary file so that units of one level do not overlap (e.g. QGIS's Topology Checker, "
        "rule 'must not overlap', then Snap geometries to layer)"
    )


def point_xy(geoms: np.ndarray) -> np.ndarray:
    """(m, 2) coordinates of geometries (their centroid when not points), NaN for missing or empty ones."""
    geoms = np.asarray(geoms, dtype=object)
    xy = np.full((len(geoms), 2), np.nan)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    xy[ok] = shapely.get_coordinates(shapely.centroid(geoms[ok]))
    return xy


def _assign_units(access: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> tuple[pd.DataFrame, int]:
    """(origin position, unit position) pairs by point-in-polygon, sorted by origin then unit (as
    ``geopandas.sjoin(..., predicate="within")`` gives them); and the number of origins in no unit.

    An origin inside several units of one level (overlapping boundaries) is kept in one of them
    (:func:`one_unit_each`): the pairs' ``attrs["overlaps"]`` lists the units that overlap, as records (dicts:
    a frame in ``attrs`` would break pandas' concat, which compares them; empty when none).
    ``units`` are in a metric CRS."""
    g = np.asarray(access.geometry.values, dtype=object)
    ugeom = np.asarray(units.geometry.values, dtype=object)
    if len(g) and (shapely.get_type_id(g) == 0).all() and not shapely.is_empty(g).any():
        xy = _metric_xy(access.geometry, CRS.from_user_input(units.crs))
        o, u = points_in_polygons(xy, ugeom)
    else:  # missing or empty points, other geometries: through GEOS
        pts = np.asarray(access.geometry.to_crs(units.crs).values, dtype=object)
        o, u = shapely.STRtree(ugeom).query(pts, predicate="within")
        order = np.lexsort((u, o))
        o, u = o[order], u[order]
        xy = point_xy(pts)
    kids = (
        pd.to_numeric(access["children"], errors="coerce").fillna(0).to_numpy(dtype="float64")
        if "children" in access.columns
        else None
    )
    keep, overlaps = one_unit_each(o, u, xy, units, kids)
    if not keep.all():
        o, u = o[keep], u[keep]
    j = pd.DataFrame({"_o": o.astype(np.int64), "_u": u.astype(np.int64)})
    j.attrs["overlaps"] = overlaps.to_dict("records")
    outside = len(access) - int(np.count_nonzero(np.bincount(o, minlength=len(access))))
    return j, int(outside)


def without_attrs(frame: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy of ``frame`` (the same column arrays) without its ``attrs``: pandas deep-copies a frame's
    ``attrs`` into every column taken from it (~1.5 ms for an origin table's, which names its facilities' access
    points: 0.45 s for the ~300 columns the per-unit figures and the gaps read on a county)."""
    out = frame.copy(deep=False)
    out.attrs = {}
    return out


#: Geometries reprojected lately (:func:`to_crs_cached`), by (WKB digest, source CRS, target CRS): a run projects
#: the ten dissolved walking areas of a county (~360k vertices) to the local CRS four times (their areas, the
#: townships' and communities' covered areas and the gaps), 0.15 s each.
_GEOM_CACHE: dict[tuple[bytes, str, str], Any] = {}
_GEOM_CACHE_SIZE = 40
_geom_lock = threading.Lock()


def to_crs_cached(frame: gpd.GeoDataFrame | gpd.GeoSeries, crs: Any) -> Any:
    """``frame.to_crs(crs)``, each geometry projected once per process (keyed by its WKB and both CRSs, so a hit
    is the same geometry; pyproj transforms point by point, so projecting a geometry alone or with others gives
    the same coordinates). Missing geometries stay missing; the frame is not changed."""
    geo = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    src, dst = CRS.from_user_input(geo.crs), CRS.from_user_input(crs)
    vals = np.asarray(geo.values, dtype=object)
    if src.equals(dst) or not len(vals):
        return frame.to_crs(dst)
    s, d = src.to_wkt(), dst.to_wkt()
    miss = shapely.is_missing(vals)
    keys: list[tuple[bytes, str, str] | None] = [None] * len(vals)
    for j in np.flatnonzero(~miss).tolist():
        keys[j] = (hashlib.blake2b(shapely.to_wkb(vals[j]), digest_size=16).digest(), s, d)
    out = np.full(len(vals), None, dtype=object)
    with _geom_lock:
        for j, k in enumerate(keys):
            if k is not None and k in _GEOM_CACHE:
                out[j] = _GEOM_CACHE[k]
    todo = np.flatnonzero(~miss & shapely.is_missing(out))
    if todo.size:
        out[todo] = gpd.GeoSeries(vals[todo], crs=src).to_crs(dst).values
        with _geom_lock:
            for j in todo.tolist():
                _GEOM_CACHE[keys[j]] = out[j]  # type: ignore[index]
            while len(_GEOM_CACHE) > _GEOM_CACHE_SIZE:
                _GEOM_CACHE.pop(next(iter(_GEOM_CACHE)))
    series = gpd.GeoSeries(out, index=geo.index, crs=dst, name=geo.name)
    if isinstance(frame, gpd.GeoSeries):
        return series
    res = frame.copy()
    res[frame.geometry.name] = series
    return res
