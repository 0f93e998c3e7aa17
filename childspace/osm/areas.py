"""Units and homes from OpenStreetMap, for a planner who has only an extract (estimates, labelled as such).

Units: ``boundary=administrative`` relations
--------------------------------------------
Relations (and closed ways) tagged ``boundary=administrative`` of one ``admin_level`` become boundaries, their
rings assembled into (Multi)Polygons by libosmium's multipolygon assembler (pyosmium ``FileProcessor.with_areas``).
A relation whose member ways are not all in the extract (cut by the extract's edge) cannot be assembled and is
left out (counted in ``attrs["left_out"]``). The meaning of ``admin_level`` is national (OSM wiki,
"Tag:boundary=administrative", table "admin_level values for specific countries"):

==================  =================================================================================
country             levels
==================  =================================================================================
China 中国           2 country, 4 province 省, 5 prefecture city 地级市, 6 county/district 区县,
                    **8 township/street 乡镇街道**, 10 village/community 村社区
Austria             2 country, 4 state (Land), 6 district (Bezirk), 8 municipality (Gemeinde),
                    9 city district (Bezirksteil / Stadtteil)
Andorra             2 country, 7 parish (parròquia)
Finland             2 country, 4 region, 6 sub-region, 8 municipality (kunta), 9-10 city districts
France / Monaco     2 country, 8 commune (Monaco), 10 Monaco's quarters (quartiers)
==================  =================================================================================

``admin_level="auto"`` takes the finest level from 6 to 10 whose assembled areas cover at least half the area
covered by the best-covering level, so a county-level extract gives its townships and a city extract its
districts, but two quarters mapped out of ten do not replace the whole city.

Homes: residential buildings, else residential land
--------------------------------------------------
A home is the representative point of a residential building: ``building`` = residential, apartments, house,
detached, semidetached_house, terrace, dormitory, bungalow (anywhere), or ``building=yes`` inside
``landuse=residential`` or where no ``landuse=*`` is mapped at all (``unmapped_land``; never in industrial,
commercial or other land); footprints under 20 m² (sheds, garages) are skipped. Its weight is its floor area:
footprint (m², local metric CRS) x ``building:levels``;
where levels are not mapped, the median of the mapped levels of the extract is used (1 when none is mapped).
``landuse=residential`` areas that hold no residential building become points on a ``grid_m`` grid (the
representative point for a small area), weighted by land area x ``landuse_far`` (an assumed floor-area ratio,
default 1.0: say what is known locally).

Children are distributed dasymetrically (:func:`estimate_children`): each unit's total (given by the planner) is
shared among its homes in proportion to floor area. Without totals the homes get *relative weights* (the
study area's total equals the number of homes), so percentages are meaningful but counts are not. Every
home carries ``estimate`` (the method) and the layer's ``attrs["method"]`` says how it was made.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import numpy as np
import osmium
import osmium.filter
import pandas as pd
import shapely

from childspace._errors import ChildspaceWarning, DataError
from childspace.inputs.area import AreaLike, area_polygon
from childspace.inputs.projection import WGS84, local_crs
from childspace.osm import _parse

__all__ = [
    "RESIDENTIAL_BUILDINGS",
    "OsmAreas",
    "admin_units",
    "estimate_children",
    "read_areas",
    "residential_homes",
]

#: ``building=*`` values that are homes wherever they are (``building=yes`` only inside residential land).
RESIDENTIAL_BUILDINGS = (
    "residential",
    "apartments",
    "house",
    "detached",
    "semidetached_house",
    "terrace",
    "dormitory",
    "bungalow",
)
#: The estimate methods written in the ``estimate`` column.
METHODS = {
    "floor_area": "按建筑面积分配（估算）dasymetric by floor area (estimate)",
    "relative": "相对权重，非儿童数（估算）relative weight by floor area, not a child count (estimate)",
}


@dataclass
class OsmAreas:
    """Areas read from one file: admin boundaries, buildings and residential land (EPSG:4326)."""

    admin: gpd.GeoDataFrame  # osm_id, name, admin_level, population, geometry
    admin_missing: pd.DataFrame  # relations that could not be assembled: osm_id, name, admin_level
    buildings: gpd.GeoDataFrame  # osm_id, building, levels, geometry
    landuse: gpd.GeoDataFrame  # osm_id, landuse, geometry (every landuse=* area)


def _num(v: Any) -> float:
    try:
        return float(str(v).replace(",", ".").split(";")[0])
    except (TypeError, ValueError):
        return float("nan")


def read_areas(source: str | Path) -> OsmAreas:
    """Admin boundaries, buildings and residential land of an OSM file, in one pass (areas assembled by
    libosmium).

    Raises
    ------
    DataError
        Missing or unreadable file.
    """
    p = _parse.check_osm_path(source)
    factory = osmium.geom.WKBFactory()
    adm: dict[str, list] = {"osm_id": [], "name": [], "admin_level": [], "population": [], "wkb": []}
    bld: dict[str, list] = {"osm_id": [], "building": [], "levels": [], "wkb": []}
    lu: dict[str, list] = {"osm_id": [], "landuse": [], "wkb": []}
    rel_admin: dict[str, tuple[str | None, str | None]] = {}
    try:
        fp = osmium.FileProcessor(str(p)).with_areas()
        fp.with_filter(osmium.filter.KeyFilter("boundary", "building", "landuse"))
        for obj in fp:
            if isinstance(obj, osmium.osm.Relation):
                if obj.tags.get("boundary") == "administrative":
                    rel_admin[f"osm/relation/{obj.id}"] = (obj.tags.get("name"), obj.tags.get("admin_level"))
                continue
            if not isinstance(obj, osmium.osm.Area):
                continue
            tags = obj.tags
            oid = f"osm/{'way' if obj.from_way() else 'relation'}/{obj.orig_id()}"
            try:
                wkb = factory.create_multipolygon(obj)
            except RuntimeError:  # broken rings: osmium could not build it
                continue
            if tags.get("boundary") == "administrative" and tags.get("admin_level"):
                adm["osm_id"].append(oid)
                adm["name"].append(tags.get("name"))
                adm["admin_level"].append(tags.get("admin_level"))
                adm["population"].append(_num(tags.get("population")))
                adm["wkb"].append(wkb)
            b = tags.get("building")
            if b and b != "no":
                bld["osm_id"].append(oid)
                bld["building"].append(b)
                bld["levels"].append(_num(tags.get("building:levels")))
                bld["wkb"].append(wkb)
            if tags.get("landuse"):
                lu["osm_id"].append(oid)
                lu["landuse"].append(tags.get("landuse"))
                lu["wkb"].append(wkb)
    except RuntimeError as err:
        raise _parse._not_osm(p, err) from err

    def frame(d: dict[str, list]) -> gpd.GeoDataFrame:
        g = shapely.make_valid(shapely.from_wkb(np.asarray(d.pop("wkb"), dtype=object)))
        g = np.asarray(g, dtype=object)
        if len(g):  # make_valid can return collections: keep their polygonal part
            coll = shapely.get_type_id(g) == 7
            for i in np.flatnonzero(coll):
                parts = [q for q in shapely.get_parts(g[i]) if shapely.get_type_id(q) in (3, 6)]
                g[i] = shapely.union_all(parts) if parts else None
        out = gpd.GeoDataFrame(d, geometry=gpd.GeoSeries(g, crs=WGS84).values, crs=WGS84)
        return out[~(out.geometry.isna() | out.geometry.is_empty)].reset_index(drop=True)

    admin = frame(adm)
    admin["admin_level"] = pd.to_numeric(admin["admin_level"], errors="coerce")
    built = set(admin["osm_id"])
    missing = [(k, n, lv) for k, (n, lv) in rel_admin.items() if k not in built]
    admin_missing = pd.DataFrame(missing, columns=["osm_id", "name", "admin_level"])
    admin_missing["admin_level"] = pd.to_numeric(admin_missing["admin_level"], errors="coerce")
    return OsmAreas(admin=admin, admin_missing=admin_missing, buildings=frame(bld), landuse=frame(lu))


def _areas(source: str | Path | OsmAreas) -> OsmAreas:
    return source if isinstance(source, OsmAreas) else read_areas(source)


def admin_units(
    source: str | Path | OsmAreas,
    admin_level: int | str = "auto",
    level: str = "township",
    area: AreaLike | None = None,
) -> gpd.GeoDataFrame:
    """Boundaries (canonical layer) from ``boundary=administrative`` areas of one ``admin_level``.

    Parameters
    ----------
    source : OSM file or :class:`OsmAreas`
    admin_level : int or "auto"
        The OSM level (see the module docstring: China 8 = township/street 乡镇街道); "auto": see the module
        docstring.
    level : str
        The childspace level of these units: ``township`` or ``community``.
    area : area-like, optional
        Keep only units that intersect it.

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        ``unit_id`` (``osm/relation/<id>``), ``name``, ``level``, ``admin_level``, ``population`` (the OSM tag,
        NaN when absent), ``source`` ("osm"), geometry (Multi)Polygon; empty when none is found.
        ``attrs["left_out"]``: relations of that level that could not be assembled (cut by the extract's
        edge), as a list of dicts (``osm_id``, ``name``, ``admin_level``), ``attrs["admin_level"]``: the level used.
    """
    if level not in ("township", "community"):
        raise DataError(
            f"level must be 'township' or 'community', got {level!r}",
            feature="admin units",
            fix="say which childspace level the OSM boundaries are",
        )
    a = _areas(source)
    adm = a.admin
    if area is not None and len(adm):
        poly = area_polygon(area)
        adm = adm[adm.intersects(poly)]
    if admin_level == "auto":
        cand = adm[adm["admin_level"].between(6, 10)]
        lv = float("nan")
        if len(cand):  # the finest level covering at least half of what the best-covering level covers
            crs = local_crs(*np.asarray(cand.unary_union.centroid.coords[0]))
            cover = cand.to_crs(crs).dissolve("admin_level").area.sort_index(ascending=False)
            lv = float(cover.index[np.argmax(cover.to_numpy() >= 0.5 * cover.max())])
    else:
        try:
            lv = float(admin_level)
        except (TypeError, ValueError):
            raise DataError(
                f"admin_level = {admin_level!r} is not a number",
                feature="admin units",
                fix='give an OSM admin_level such as 8 (China: township/street) or "auto"',
            ) from None
    units = adm[adm["admin_level"] == lv]
    out = gpd.GeoDataFrame(
        {
            "unit_id": units["osm_id"].to_numpy(dtype=object),
            "name": units["name"].fillna(units["osm_id"]).to_numpy(dtype=object),
            "level": level,
            "admin_level": units["admin_level"].to_numpy(),
            "population": units["population"].to_numpy(dtype=float),
            "source": "osm",
        },
        geometry=units.geometry.values,
        crs=WGS84,
    )
    out = out.drop_duplicates("unit_id").reset_index(drop=True)
    miss = a.admin_missing
    # records, not a DataFrame: pandas compares attrs when frames are joined, and DataFrames cannot be compared
    out.attrs["left_out"] = miss[miss["admin_level"] == lv].to_dict("records")
    out.attrs["admin_level"] = None if np.isnan(lv) else int(lv)
    return out


def residential_homes(
    source: str | Path | OsmAreas,
    area: AreaLike | None = None,
    grid_m: float = 100.0,
    landuse_far: float = 1.0,
    unmapped_land: bool = True,
    min_footprint_m2: float = 20.0,
) -> gpd.GeoDataFrame:
    """Homes from residential buildings, else from residential land (rules in the module docstring).

    Parameters
    ----------
    source : OSM file or :class:`OsmAreas`
    area : area-like, optional
        Keep only homes inside it.
    grid_m : float
        Spacing (m) of the points placed in residential land that holds no residential building.
    landuse_far : float
        Floor-area ratio assumed for residential land without buildings (floor m² per m² of land).
    unmapped_land : bool
        Also count ``building=yes`` where no ``landuse=*`` is mapped at all (common in towns mapped building by
        building); buildings in industrial, commercial, retail or other land are never homes.
    min_footprint_m2 : float
        Smaller buildings (sheds, kiosks, garages) are not homes.

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        ``origin_id`` (``osm/way/<id>``, ``…#k`` for grid points), ``kind`` (``building``/``landuse``),
        ``building`` (tag value), ``levels`` (mapped or assumed), ``levels_assumed`` (bool), ``floor_m2``, Point
        geometry. ``attrs["method"]``: how the homes were made.
    """
    a = _areas(source)
    b, lu_all = a.buildings, a.landuse
    lu = lu_all[lu_all["landuse"] == "residential"]
    poly = area_polygon(area) if area is not None else None
    pts_all = np.concatenate([np.asarray(b.geometry.values), np.asarray(lu.geometry.values)])
    if len(pts_all) == 0:
        return _empty_homes()
    c = (
        shapely.get_coordinates(shapely.centroid(pts_all)).mean(axis=0)
        if poly is None
        else np.array([poly.centroid.x, poly.centroid.y])
    )
    crs = local_crs(float(c[0]), float(c[1]))
    bm = np.asarray(b.to_crs(crs).geometry.values) if len(b) else np.zeros(0, dtype=object)
    lm = np.asarray(lu.to_crs(crs).geometry.values) if len(lu) else np.zeros(0, dtype=object)
    btag = b["building"].to_numpy(dtype=object)
    res = np.isin(btag, RESIDENTIAL_BUILDINGS)
    yes = btag == "yes"
    in_res = np.zeros(len(b), dtype=bool)
    no_lu = np.zeros(len(b), dtype=bool)
    if yes.any():
        at = shapely.point_on_surface(bm[yes])
        if len(lm):
            bi, _ = shapely.STRtree(lm).query(at, predicate="within")
            in_res[np.flatnonzero(yes)[np.unique(bi)]] = True
        other = np.asarray(lu_all.to_crs(crs).geometry.values) if len(lu_all) else np.zeros(0, dtype=object)
        covered = np.zeros(yes.sum(), dtype=bool)
        if len(other):
            covered[np.unique(shapely.STRtree(other).query(at, predicate="within")[0])] = True
        no_lu[np.flatnonzero(yes)[~covered]] = True
    big = shapely.area(bm) >= min_footprint_m2 if len(bm) else np.zeros(0, dtype=bool)
    keep = (res | in_res | (no_lu & unmapped_land)) & big
    levels = b["levels"].to_numpy(dtype=float)[keep]
    mapped = np.isfinite(levels) & (levels > 0)
    fill = float(np.median(levels[mapped])) if mapped.any() else 1.0
    lv = np.where(mapped, levels, fill)
    hb = bm[keep]
    rows = pd.DataFrame(
        {
            "origin_id": b["osm_id"].to_numpy(dtype=object)[keep],
            "kind": "building",
            "building": btag[keep],
            "levels": lv,
            "levels_assumed": ~mapped,
            "floor_m2": shapely.area(hb) * lv,
        }
    )
    geoms = [shapely.point_on_surface(hb)]
    frames = [rows]
    # residential land with no residential building inside: grid points
    if len(lm):
        has = np.zeros(len(lm), dtype=bool)
        if len(hb):
            li = shapely.STRtree(lm).query(shapely.point_on_surface(hb), predicate="within")[1]
            has[np.unique(li)] = True
        empty = np.flatnonzero(~has)
        if empty.size:
            gp, gi = _grid_points(lm[empty], grid_m)
            n = np.bincount(gi, minlength=empty.size)
            land = shapely.area(lm[empty])
            k = np.arange(gi.size) - np.r_[0, np.cumsum(n)[:-1]][gi]
            ids = lu["osm_id"].to_numpy(dtype=object)[empty][gi]
            frames.append(
                pd.DataFrame(
                    {
                        "origin_id": np.where(n[gi] > 1, ids + "#" + k.astype(str), ids),
                        "kind": "landuse",
                        "building": None,
                        "levels": np.nan,
                        "levels_assumed": True,
                        "floor_m2": land[gi] * landuse_far / n[gi],
                    }
                )
            )
            geoms.append(gp)
    df = pd.concat(frames, ignore_index=True)
    g = gpd.GeoSeries(np.concatenate(geoms), crs=crs).to_crs(WGS84)
    out = gpd.GeoDataFrame(df, geometry=g.values, crs=WGS84)
    if poly is not None:
        out = out[shapely.contains_xy(poly, out.geometry.x.to_numpy(), out.geometry.y.to_numpy())]
    out = out[out["floor_m2"] > 0].reset_index(drop=True)
    out.attrs["method"] = (
        f"homes: residential buildings ({', '.join(RESIDENTIAL_BUILDINGS)}; building=yes inside "
        f"landuse=residential{' or outside any landuse' if unmapped_land else ''}; footprint >= "
        f"{min_footprint_m2:g} m2), floor area = footprint x building:levels (unmapped levels: {fill:g}); "
        f"landuse=residential without buildings: points every {grid_m:g} m, floor area = land x {landuse_far:g}"
    )
    return out


def _grid_points(polys: np.ndarray, grid_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Points on a ``grid_m`` grid inside each polygon (its representative point when none falls inside);
    returns the points and the polygon index of each."""
    pts: list[np.ndarray] = []
    idx: list[np.ndarray] = []
    for i, pg in enumerate(polys):  # one small grid per residential area, vectorised within
        x0, y0, x1, y1 = pg.bounds
        xs = np.arange(x0 + grid_m / 2, x1, grid_m)
        ys = np.arange(y0 + grid_m / 2, y1, grid_m)
        if xs.size and ys.size and xs.size * ys.size <= 250_000:
            gx, gy = np.meshgrid(xs, ys)
            inside = shapely.contains_xy(pg, gx.ravel(), gy.ravel())
            p = shapely.points(gx.ravel()[inside], gy.ravel()[inside])
        else:
            p = np.zeros(0, dtype=object)
        if p.size == 0:
            p = np.array([shapely.point_on_surface(pg)], dtype=object)
        pts.append(p)
        idx.append(np.full(p.size, i))
    if not pts:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
    return np.concatenate(pts), np.concatenate(idx)


def _empty_homes() -> gpd.GeoDataFrame:
    out = gpd.GeoDataFrame(
        {"origin_id": [], "kind": [], "building": [], "levels": [], "levels_assumed": [], "floor_m2": []},
        geometry=gpd.GeoSeries([], crs=WGS84).values,
        crs=WGS84,
    )
    out.attrs["method"] = "no residential building or land in the extract"
    return out


def estimate_children(
    homes: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None = None,
    totals: float | dict[str, float] | pd.Series | None = None,
) -> gpd.GeoDataFrame:
    """Children per home, shared from unit totals in proportion to floor area (dasymetric estimate).

    Parameters
    ----------
    homes : GeoDataFrame
        From :func:`residential_homes` (``floor_m2``).
    units : GeoDataFrame, optional
        Boundaries (``unit_id``, ``name``); each home takes the unit it lies in.
    totals : number, mapping or Series, optional
        Children of the whole study area (a number), or per unit (keys: ``unit_id`` or ``name``). A unit with
        a ``children`` column gives its own total when ``totals`` is None. Without any total the homes get
        relative weights (their sum equals the number of homes) with a warning.

    Returns
    -------
    GeoDataFrame
        ``homes`` with ``origin_id``, ``unit_id`` (None outside every unit), ``children`` (float ≥ 0),
        ``estimate`` (the method, bilingual); ``attrs["method"]`` extended with the totals used.
    """
    out = homes.copy()
    floor = out["floor_m2"].to_numpy(dtype=float)
    unit = np.full(len(out), None, dtype=object)
    if units is not None and len(units) and len(out):
        u = units.to_crs(WGS84)
        hi, ui = shapely.STRtree(np.asarray(u.geometry.values)).query(
            np.asarray(out.geometry.values), predicate="within"
        )
        first = pd.Series(ui, index=hi).groupby(level=0).min()  # overlapping units: the first listed
        unit[first.index.to_numpy()] = u["unit_id"].to_numpy(dtype=object)[first.to_numpy()]
    out["unit_id"] = unit
    by_unit: dict[Any, float] | None = None
    if (
        totals is None
        and units is not None
        and "children" in units.columns
        and pd.to_numeric(units["children"], errors="coerce").notna().any()
    ):
        totals = pd.Series(
            pd.to_numeric(units["children"], errors="coerce").to_numpy(), index=units["unit_id"].to_numpy()
        )
    if totals is None:
        warnings.warn(
            f"{len(out)} homes estimated from OSM without child counts: each home weighs its floor area "
            "(the total equals the number of homes), so percentages hold but counts are not children — give "
            "the children per unit (a 'children' column in the boundaries, or [from_osm] children = {...} in "
            "the run config)",
            ChildspaceWarning,
            stacklevel=2,
        )
        s = floor.sum()
        out["children"] = floor * (len(out) / s) if s > 0 else 0.0
        out["estimate"] = METHODS["relative"]
        out.attrs["method"] = homes.attrs.get("method", "") + "; children: relative weights (no totals given)"
        return out
    if np.isscalar(totals):
        s = floor.sum()
        out["children"] = floor * (float(cast(float, totals)) / s) if s > 0 else 0.0
    else:
        tot = pd.Series(totals, dtype=float)
        if units is not None and len(units):  # keys may be names: map them to ids
            name_to_id = dict(zip(units["name"].astype(str), units["unit_id"].astype(str)))
            tot.index = [
                k if k in set(units["unit_id"].astype(str)) else name_to_id.get(str(k), k)
                for k in tot.index.astype(str)
            ]
            unknown = [k for k in tot.index if k not in set(units["unit_id"].astype(str))]
            if unknown:
                raise DataError(
                    f"child totals given for units that are not in the boundaries: {unknown[:5]}",
                    feature="[from_osm] children",
                    fix="use the unit names or ids of the boundaries ("
                    + ", ".join(units["name"].astype(str).head(8))
                    + ", ...)",
                )
        by_unit = tot.to_dict()
        key = pd.Series(unit, dtype=object).astype(str).to_numpy()
        share = pd.Series(floor).groupby(key).transform("sum").to_numpy()
        t = np.array([by_unit.get(k, np.nan) for k in key], dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            ch = np.where((share > 0) & np.isfinite(t), floor / share * t, 0.0)
        out["children"] = ch
        empty = [k for k, v in by_unit.items() if v > 0 and k not in set(key)]
        if empty:
            warnings.warn(
                f"{len(empty)} units have children but no home mapped in OSM (e.g. {empty[0]}); "
                "their children are not counted",
                ChildspaceWarning,
                stacklevel=2,
            )
    out["estimate"] = METHODS["floor_area"]
    out.attrs["method"] = homes.attrs.get("method", "") + "; children: unit totals shared by floor area"
    return out
