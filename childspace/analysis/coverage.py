"""Service-radius coverage: who lives within reach of which facility, service areas, per-unit figures and gaps.

Two distances are computed for every origin (where children live) and facility category:

* straight line (直线距离): metres in the local metric CRS (:func:`childspace.inputs.projection.local_crs_for`),
  to the nearest facility (a KD-tree for points; an R-tree for facilities with an outline or mapped entrances,
  measured to the outline, 0 inside);
* walking (步行距离): leg + network + leg: the straight walk from the origin to the point of the nearest walkable
  street it is attached to (:meth:`childspace.network.WalkNetwork.snap`), metres along the walk network, and the
  straight walk from the street to the facility's access point (its point, mapped entrances, or where streets
  meet its outline: :mod:`childspace.analysis.access_points`). It is never shorter than the straight line;
  ``legs=False`` leaves the legs out for comparison. Points farther than ``max_snap`` from any street are not
  attached, get an infinite walking distance and are counted in the result's ``attrs`` and a warning. Origins on
  a part of the network that holds no facility of the category (a clipped extract, an island) are flagged
  (``no_network_<cat>``) and counted apart in the unit figures (``children_no_network``), not as 0 %.

A point is *covered* by a category when its distance to the nearest facility is at most the category's radius
(``childspace.standards``; parks: 300 m below 0.5 ha, 500 m from 0.5 ha, by the facility's ``area_ha``). Where
the radius differs between facilities of one category, each radius class is evaluated separately and the covered
flags are OR-ed, so a child 400 m from a large park is covered while one 400 m from a small park is not.

Walking service areas are the reachable parts of the streets (edges cut at the exact remaining distance) buffered
by a street-side width, so land across a river or a highway without a crossing is not counted as served.

Service areas live in :mod:`childspace.analysis.areas`, 2SFCA and MCLP in :mod:`childspace.analysis.siting`,
the shared helpers in ``_coverage_base``; all public names are importable from here.

All inputs are canonical layers (EPSG:4326, see ``docs/architecture.md``); outputs are EPSG:4326 unless stated.
Capacity-aware accessibility (2SFCA, Luo & Wang 2003) and maximal-coverage siting (MCLP, Church & ReVelle 1974,
solved with PySAL ``spopt``) answer "who has enough seats" and "where should the next one go".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from childspace._errors import DataError
from childspace.analysis._coverage_base import (
    ACCESS_LEGS,
    MAX_SNAP_M,
    SNAP_SETTING,
    RadiiLike,
    _assign_units,
    _categories,
    _default_standards,
    _files_of,
    _is_standards,
    _label,
    _metric_crs,
    _metric_xy,
    _points_of,
    _radius_classes,
    _require,
    _snap,
    _snap_facilities,
    _spatial_order,
    _target_pct,
    _warn,
    category_radii,
)
from childspace.analysis.access_points import facility_shapes, inside_outlines
from childspace.analysis.areas import (  # noqa: F401  (re-exported, also the constants and raster helpers)
    BATCH_CELLS,
    BLOCK_CELLS,
    CELL_M,
    MAX_CELLS,
    VECTOR_MAX_PIECES,
    VECTOR_MAX_UNION,
    _raster_areas,
    _raster_dissolved,
    dissolve_service_areas,
    service_areas,
)
from childspace.analysis.siting import SfcaResult, suggest_sites, two_step_fca
from childspace.inputs.projection import WGS84, local_crs_for
from childspace.network import Snap

__all__ = [
    "SfcaResult",
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


def origin_access(
    origins: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    network: Any = None,
    categories: Iterable[str] | str | None = None,
    radii: RadiiLike = None,
    max_snap: float = MAX_SNAP_M,
    legs: bool = ACCESS_LEGS,
) -> gpd.GeoDataFrame:
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
    attrs: dict[str, Any] = {
        "metric_crs": crs.to_string(),
        "categories": cats,
        "walk": network is not None,
        "legs": bool(legs) and network is not None,
        "radii": {},
        "unsnapped_facilities": {},
        "unreachable_origins": {},
    }
    # the straight-line figures (KD-tree queries, which release the GIL) run on a second thread while the
    # origins are attached to the streets and the walking searches run on this one
    members_of = {cat: np.flatnonzero(fcat == cat) for cat in cats}
    radii_of = {
        cat: category_radii(cat, facilities.iloc[members_of[cat]], radii)
        for cat in cats
        if len(members_of[cat])
    }

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
        org_pts = _snap(network, oxy, max_snap, legs=legs, what="origins (homes)")
        fac_pts, ap = _snap_facilities(network, facilities, max_snap, legs)
        attrs["access_points"] = ap["counts"]
        attrs["unsnapped_origins"] = int((~org_pts.ok).sum())
        if attrs["unsnapped_origins"]:
            _warn(
                f"{attrs['unsnapped_origins']} of {n} origins (homes) are farther than {max_snap:g} m from any "
                "street: their walking distance is inf (uncovered); check their coordinates or extend the OSM "
                f"area, or raise the tolerance: {SNAP_SETTING}"
            )
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
        near = np.full(n, -1, dtype=np.int64)  # nearest facility (row in ``facilities``), -1: none
        no_net = np.zeros(n, dtype=bool)  # attached, but no facility in the origin's network part
        if len(members) == 0:
            _warn(
                f"no facilities of category {cat!r} ({_label(cat)}): every origin counts as uncovered; add "
                f"{cat} facilities or drop the category"
            )
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
                    _warn(
                        f"{bad} {cat} facilities ({_label(cat)}) are farther than {max_snap:g} m from any street "
                        f"and do not serve anyone by walking ({names}{'…' if bad > 5 else ''}; "
                        f"{_files_of(facilities.iloc[members[~okm]])}); check their coordinates, or raise the "
                        f"tolerance: {SNAP_SETTING}"
                    )
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
        _warn(
            "origins in a part of the network with no facility of the category (the OSM extract may be "
            "clipped, or the part is an island); they are left out of the walking percentages and counted "
            "in children_no_network: "
            + ", ".join(
                f"{k} homes ({attrs['no_network_children'][c]} children) with no {c}"
                for c, k in parts.items()
            )
        )
    for k, v in cols.items():  # back to the origins' order
        cols[k] = np.empty_like(v)
        cols[k][perm] = v
        if k.startswith("nearest_"):
            cols[k] = fid_obj[cols[k]]
    out = pd.concat(
        [
            origins.drop(columns=[c for c in cols if c in origins.columns]),
            pd.DataFrame(cols, index=origins.index, copy=False),
        ],
        axis=1,
    )  # (new arrays: no copy)
    out = gpd.GeoDataFrame(out, geometry=origins.geometry.name, crs=origins.crs)
    out.attrs.update(attrs)
    return out


# ---------------------------------------------------------------------------------------------------------------
# per-unit figures
# ---------------------------------------------------------------------------------------------------------------
def _grouped_weighted_quantile(
    group: np.ndarray, values: np.ndarray, weights: np.ndarray, q: float, n_groups: int
) -> np.ndarray:
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


def unit_coverage(
    units: gpd.GeoDataFrame,
    access: gpd.GeoDataFrame,
    categories: Iterable[str] | str | None = None,
    target_pct: float | Mapping[str, float] | None = 80.0,
    service_areas: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
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
        raise DataError(
            "access must be the GeoDataFrame returned by origin_access()",
            fix="run coverage.origin_access(origins, facilities, network) first",
        )
    if categories is None:
        cats = list(
            access.attrs.get("categories")
            or [c[len("dist_line_") :] for c in access.columns if c.startswith("dist_line_")]
        )
    else:
        cats = [categories] if isinstance(categories, str) else list(categories)
    for cat in cats:
        miss = [
            c
            for c in (f"dist_walk_{cat}", f"dist_line_{cat}", f"covered_walk_{cat}", f"covered_line_{cat}")
            if c not in access.columns
        ]
        if miss:
            raise DataError(
                f"access has no figures for category {cat!r} (missing {', '.join(miss)})",
                fix=f"run origin_access(..., categories=[..., '{cat}'])",
            )
    std = _default_standards()
    crs = local_crs_for(units)
    um = units.to_crs(crs)
    pairs, outside = _assign_units(access, um)
    if outside:
        _warn(
            f"{outside} of {len(access)} origins lie inside no unit and are left out of the unit figures "
            "(they stay in the origin table); check the unit boundaries cover the origins"
        )
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
        cw = np.bincount(
            u, weights=children * access[f"covered_walk_{cat}"].to_numpy(dtype=bool)[o], minlength=nu
        )
        nn_col = f"no_network_{cat}"
        nn = (
            access[nn_col].to_numpy(dtype=bool)[o]
            if nn_col in access.columns
            else np.zeros(o.size, dtype=bool)
        )
        kids_nn = np.bincount(u, weights=children * nn, minlength=nu)
        homes_nn = np.bincount(u, weights=nn.astype(float), minlength=nu).astype(np.int64)
        kids_w = kids - kids_nn  # the walking percentage's base: children with a network
        cl = np.bincount(
            u, weights=children * access[f"covered_line_{cat}"].to_numpy(dtype=bool)[o], minlength=nu
        )
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
        frames.append(
            pd.DataFrame(
                {
                    "unit_id": um["unit_id"].astype(str).to_numpy(),
                    "name": um["name"].to_numpy(),
                    "level": level,
                    "category": cat,
                    "radius_m": r,
                    "children": kids,
                    "children_covered_walk": cw if walk else np.nan,
                    "pct_walk": pw,
                    "children_covered_line": cl,
                    "pct_line": pl,
                    "area_pct_walk": apct,
                    "median_walk_m": med if walk else np.nan,
                    "p90_walk_m": p90 if walk else np.nan,
                    "detour_ratio": det,
                    "below_target": np.nan_to_num(basis, nan=np.inf) < tgt,
                    "target_pct": tgt,
                    "children_no_network": kids_nn,
                    "homes_no_network": homes_nn,
                    "note": np.where(
                        kids <= 0,
                        "无儿童 no children",
                        np.where(
                            homes_nn > 0,
                            [
                                f"{h} 处住宅所在路网片段没有{_label(cat).split(' ')[0]}（路网数据可能被裁剪） {h} homes "
                                f"in a part of the network with no {cat.replace('_', ' ')}: the extract may be clipped"
                                for h in homes_nn
                            ],
                            "",
                        ),
                    ),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out.attrs.update({"origins_outside": outside, "origins": len(access), "metric_crs": crs.to_string()})
    return out


def facilities_per_unit(
    units: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    standards: Any = None,
    categories: Iterable[str] | str | None = None,
) -> pd.DataFrame:
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
        return (
            f"{row['name']}缺{zh}（{int(row['count'])}处，至少{int(row['min_required'])}处） "
            f"{row['name']}: {int(row['count'])} {en.lower() or row['category']}(s), at least "
            f"{int(row['min_required'])} required"
        )

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
        raise DataError(
            f"unit coverage table lacks {', '.join(miss)}", fix="pass the output of unit_coverage()"
        )
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


def uncovered_origins(
    access: gpd.GeoDataFrame, categories: Iterable[str] | str | None = None, method: str = "walk"
) -> gpd.GeoDataFrame:
    """Origins not covered by a category (one row per origin and category), most children first.

    Returns
    -------
    GeoDataFrame
        ``origin_id``, ``children``, ``category``, ``distance_m`` (to the nearest facility, ``inf`` when
        unreachable), geometry (the origins' CRS).
    """
    cats = (
        list(
            access.attrs.get("categories")
            or [c[len("dist_line_") :] for c in access.columns if c.startswith("dist_line_")]
        )
        if categories is None
        else ([categories] if isinstance(categories, str) else list(categories))
    )
    parts = []
    for cat in cats:
        flag = access[f"covered_{method}_{cat}"].to_numpy(dtype=bool)
        sub = access.loc[~flag, ["origin_id", "children", access.geometry.name]].copy()
        sub["category"] = cat
        sub["distance_m"] = access.loc[~flag, f"dist_{method}_{cat}"].to_numpy(dtype="float64")
        parts.append(sub)
    if not parts:
        return gpd.GeoDataFrame(
            columns=["origin_id", "children", "category", "distance_m", "geometry"],
            geometry="geometry",
            crs=access.crs,
        )
    out = pd.concat(parts, ignore_index=True).sort_values(
        ["children", "distance_m"], ascending=[False, False]
    )
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry=access.geometry.name, crs=access.crs)


def gaps(
    units: gpd.GeoDataFrame,
    access: gpd.GeoDataFrame,
    service_areas_dissolved: gpd.GeoDataFrame,
    categories: Iterable[str] | str | None = None,
    min_area_m2: float = 1.0,
) -> gpd.GeoDataFrame:
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
    cats = (
        list(
            access.attrs.get("categories")
            or [c[len("dist_line_") :] for c in access.columns if c.startswith("dist_line_")]
        )
        if categories is None
        else ([categories] if isinstance(categories, str) else list(categories))
    )
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
        inside = tree.query(diff, predicate="intersects")  # (gap index, origin index)
        per = (
            np.bincount(inside[0], weights=kids[unc][inside[1]], minlength=len(diff))
            if inside.size
            else np.zeros(len(diff))
        )
        for i in range(len(diff)):  # one row per unit: bounded by the number of units
            if diff[i] is None or shapely.is_empty(diff[i]):
                continue
            rows.append(
                {
                    "unit_id": str(um["unit_id"].iloc[i]),
                    "unit_name": um["name"].iloc[i],
                    "category": cat,
                    "category_label": _label(cat),
                    "children_uncovered": float(per[i]),
                    "area_m2": float(shapely.area(diff[i])),
                    "geometry": diff[i],
                }
            )
    cols = [
        "unit_id",
        "unit_name",
        "category",
        "category_label",
        "children_uncovered",
        "area_m2",
        "rank",
        "geometry",
    ]
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
