"""Per-unit figures of the coverage analysis: coverage per unit (:func:`unit_coverage`), facility counts against a
minimum (:func:`facilities_per_unit`), life circles (:func:`life_circles`), the uncovered origins
(:func:`uncovered_origins`) and the uncovered parts of each unit (:func:`gaps`).

They read the per-origin table of :func:`childspace.analysis.coverage.origin_access`; all public names are also
importable from :mod:`childspace.analysis.coverage`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace._errors import DataError
from childspace.analysis._coverage_base import (
    _assign_units,
    _default_standards,
    _is_standards,
    _label,
    _require,
    _target_pct,
    _warn,
    metric_xy,
    one_unit_each,
    overlap_message,
    point_xy,
    points_in_polygons,
    to_crs_cached,
    without_attrs,
)
from childspace.analysis._overlay import area_within, cached_outside_parts, outside_parts, subdivide
from childspace.inputs.projection import WGS84, local_crs_for
from childspace.network.arrays import ragged_ranges

__all__ = ["facilities_per_unit", "gaps", "life_circles", "uncovered_origins", "unit_coverage"]


# ---------------------------------------------------------------------------------------------------------------
# per-unit figures
# ---------------------------------------------------------------------------------------------------------------
def _grouped_weighted_quantiles(
    group: np.ndarray,
    values: np.ndarray,
    weights: np.ndarray,
    qs: Iterable[float],
    n_groups: int,
    order: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Per group and per ``q`` of ``qs``: the smallest value whose cumulative weight reaches ``q`` of the group's
    total (NaN if none). One sort serves every ``q``; ``order``: the positions sorted by value when known
    (:func:`_pair_order`)."""
    qs = list(qs)
    outs = [np.full(n_groups, np.nan) for _ in qs]
    keep = (weights > 0) & ~np.isnan(values)
    if not keep.any():
        return outs
    # by value, then (stable, a radix sort on integers) by group
    # (ties in value may come in any order: they give the same value)
    order = np.argsort(np.where(keep, values, np.inf)) if order is None else order
    order = order[keep[order]]
    gk = group[order]
    if n_groups < 2**15:  # numpy's stable sort is a radix sort on 16-bit integers
        gk = gk.astype(np.int16)
    order = order[np.argsort(gk, kind="stable")]
    g, v, w = group[order], values[order], weights[order]
    cum = np.cumsum(w)
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    ends = np.r_[starts[1:], len(g)]
    before = np.r_[0.0, cum][starts]
    total = cum[ends - 1] - before
    for q, out in zip(qs, outs):
        need = before + q * total - 1e-9
        # the first position of each group whose cumulative weight reaches the need (cum rises within a group)
        first = np.searchsorted(cum, need, side="left")
        first = np.minimum(np.maximum(first, starts), ends - 1)
        out[g[starts]] = v[first]
    return outs


#: Origin orders by value (:func:`_pair_order`), by the values' digest: both unit levels of a run sort the same
#: distances and detour ratios.
_ORDER_CACHE: dict[bytes, np.ndarray] = {}
_ORDER_CACHE_SIZE = 24


def _pair_starts(o: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """What :func:`_pair_order` needs of the pairs' origins ``o`` (non-decreasing; None when not), computed once
    for every category of a unit level: pairs per origin, the first pair of each origin, and when no origin lies
    in two units, that first pair (-1: none)."""
    if o.size > 1 and (o[1:] < o[:-1]).any():
        return None
    count = np.bincount(o, minlength=n)
    start = np.cumsum(count) - count
    single = np.where(count == 1, start, -1) if not count.size or count.max() <= 1 else None
    return count, start, single


def _pair_order(
    origin_values: np.ndarray,
    o: np.ndarray,
    starts: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
) -> np.ndarray | None:
    """Positions of the (origin, unit) pairs sorted by their origin's value, from one sort of the origins'
    values (remembered); ``o``: the pairs' origins, non-decreasing (None when not); ``starts``: their
    :func:`_pair_starts` when known."""
    vals = np.ascontiguousarray(origin_values, dtype="float64")
    if starts is None:
        starts = _pair_starts(o, len(vals))
        if starts is None:
            return None
    key = hashlib.blake2b(vals.tobytes(), digest_size=16).digest()
    go = _ORDER_CACHE.get(key)
    if go is None:
        go = np.argsort(vals).astype(np.int64 if len(vals) >= 2**31 else np.int32)
        _ORDER_CACHE[key] = go
        while len(_ORDER_CACHE) > _ORDER_CACHE_SIZE:
            _ORDER_CACHE.pop(next(iter(_ORDER_CACHE)))
    count, start, single = starts
    if single is not None:  # each origin in one unit at most (a level's units do not overlap)
        first = single[go]
        return first[first >= 0]
    idx, _ = ragged_ranges(start[go], count[go])
    return idx


def _grouped_weighted_quantile(
    group: np.ndarray, values: np.ndarray, weights: np.ndarray, q: float, n_groups: int
) -> np.ndarray:
    """Per group: the smallest value whose cumulative weight reaches ``q`` of the group's total (NaN if none)."""
    return _grouped_weighted_quantiles(group, values, weights, [q], n_groups)[0]


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
        to units of several levels (township and community). Units of one level (``level``; all one level
        without it) should not overlap: an origin inside several of them counts in one only, the one it lies
        deepest inside (largest distance to the unit's outline; on a tie the first in ``units``' order), so the
        units' children add up to the total; a ``ChildspaceWarning`` names the overlapping pairs, the area they
        share and the homes and children in both, and ``attrs["overlaps"]`` lists them (records of
        :func:`childspace.analysis._coverage_base.one_unit_each`'s table). Pilot units (``level`` "pilot") are judged
        each on its own and keep every origin inside them. Origins inside no unit are counted in
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
        (children-weighted over all the unit's children; NaN when more than half / a tenth of them cannot
        reach a facility on foot, never ``inf``),
        ``detour_ratio`` (children-weighted median of walking / straight-line distance over origins with a finite
        walking distance), ``below_target`` (bool, on ``pct_walk``, or ``pct_line`` when walking was not
        computed; False for units without children), ``target_pct``, ``children_no_network`` and
        ``homes_no_network`` (origins in a part of the network without a facility of the category, see
        :func:`origin_access`), ``note``.

        Both percentages have the same base, all the unit's children: ``pct_walk = children_covered_walk /
        children`` and ``pct_line = children_covered_line / children``. A child whose home cannot reach a
        facility on foot (farther than ``max_snap`` from any street, or on a part of the network without a
        facility of the category) is a child not covered on foot: counted in ``children`` and not in
        ``children_covered_walk``; those in a part without the facility are also counted in
        ``children_no_network``. As walking is never shorter than the straight line, ``children_covered_walk <=
        children_covered_line`` and ``pct_walk <= pct_line`` on every row. A unit with children of which none
        is covered has 0 % and is below its target; only a unit without children has NaN percentages and the
        note "无儿童 no children". A unit with homes in a part of the network without the facility says how many
        ("… homes in a part of the network with no …: not reachable on foot, the extract may be clipped").
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
    oc = without_attrs(access)  # (its columns, without a deep copy of its attrs each)
    crs = local_crs_for(units)
    um = units.to_crs(crs)
    pairs, outside = _assign_units(oc, um)
    overlaps = pairs.attrs.get("overlaps") or []
    if overlaps:
        _warn(overlap_message(overlaps))
    if outside:
        _warn(
            f"{outside} of {len(access)} origins lie inside no unit and are left out of the unit figures "
            "(they stay in the origin table); check the unit boundaries cover the origins"
        )
    o = pairs["_o"].to_numpy()
    u = pairs["_u"].to_numpy()
    nu = len(um)
    starts = _pair_starts(o, len(access))  # (the same pairs for every category)
    children = pd.to_numeric(oc["children"], errors="coerce").fillna(0).to_numpy(dtype="float64")[o]
    kids = np.bincount(u, weights=children, minlength=nu)
    area = um.geometry.area.to_numpy()
    ugeom = np.asarray(um.geometry.values, dtype=object)
    radii_attr = access.attrs.get("radii", {})
    level = um["level"].to_numpy() if "level" in um.columns else np.full(nu, None)
    sa = None
    if service_areas is not None and len(service_areas):
        sa = to_crs_cached(service_areas, crs)  # (the same areas as the gaps' and the other level's)
    frames = []
    for cat in cats:
        dw = oc[f"dist_walk_{cat}"].to_numpy(dtype="float64")[o]
        dl = oc[f"dist_line_{cat}"].to_numpy(dtype="float64")[o]
        walk = not np.all(np.isnan(oc[f"dist_walk_{cat}"].to_numpy(dtype="float64")))
        cw = np.bincount(
            u, weights=children * oc[f"covered_walk_{cat}"].to_numpy(dtype=bool)[o], minlength=nu
        )
        nn_col = f"no_network_{cat}"
        nn = oc[nn_col].to_numpy(dtype=bool)[o] if nn_col in access.columns else np.zeros(o.size, dtype=bool)
        kids_nn = np.bincount(u, weights=children * nn, minlength=nu)
        homes_nn = np.bincount(u, weights=nn.astype(float), minlength=nu).astype(np.int64)
        cl = np.bincount(
            u, weights=children * oc[f"covered_line_{cat}"].to_numpy(dtype=bool)[o], minlength=nu
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            # one base for both: every child of the unit (one not reaching the network is not covered on foot)
            pw = np.where(kids > 0, 100.0 * cw / kids, np.nan) if walk else np.full(nu, np.nan)
            pl = np.where(kids > 0, 100.0 * cl / kids, np.nan)
            ratio = np.where(np.isfinite(dw) & (dl > 0), dw / dl, np.nan)
        # quantiles over all the children (unreachable ones at inf); a quantile that falls on unreachable
        # children is NaN (never inf in a table), the counts say why
        dw_o = oc[f"dist_walk_{cat}"].to_numpy(dtype="float64")
        med, p90 = _grouped_weighted_quantiles(
            u,
            dw,
            children,
            (0.5, 0.9),
            nu,
            order=None if starts is None else _pair_order(dw_o, o, starts),
        )
        med = np.where(np.isfinite(med), med, np.nan)
        p90 = np.where(np.isfinite(p90), p90, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            dl_o = oc[f"dist_line_{cat}"].to_numpy(dtype="float64")
            ratio_o = np.where(np.isfinite(dw_o) & (dl_o > 0), dw_o / dl_o, np.nan)
        det = _grouped_weighted_quantiles(
            u, ratio, children, (0.5,), nu, order=None if starts is None else _pair_order(ratio_o, o, starts)
        )[0]
        apct = np.full(nu, np.nan)
        if sa is not None:
            sel = sa[sa["category"].astype(str) == cat]
            if "method" in sel.columns and (sel["method"] == "walk").any():
                sel = sel[sel["method"] == "walk"]
            if len(sel):
                # the area cut into small pieces once: each unit is overlaid with the pieces near it only; when
                # the gaps of these units were drawn already (:func:`gaps`), the covered area is what they left
                geom = _dissolved(sel)
                parts = cached_outside_parts(ugeom, geom)
                if parts is None:
                    inter = area_within(ugeom, subdivide(geom))
                else:
                    inter = np.maximum(area - np.nan_to_num(shapely.area(parts), nan=0.0), 0.0)
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
                                f"{h} 处住宅所在路网片段没有{_label(cat).split(' ')[0]}，步行不可达（路网数据可能被"
                                f"裁剪） {h} homes in a part of the network with no {cat.replace('_', ' ')}: not "
                                "reachable on foot, the extract may be clipped"
                                for h in homes_nn
                            ],
                            "",
                        ),
                    ),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out.attrs.update(
        {
            "origins_outside": outside,
            "origins": len(access),
            "metric_crs": crs.to_string(),
            "overlaps": overlaps,
        }
    )
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
    std: Any = standards if _is_standards(standards) else _default_standards()
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
    # per unit (in order of first appearance), per circle: the labels of its categories below target, in table
    # order; judged only for units with children and categories in the circle
    pos, units = pd.factorize(d["unit_id"], sort=False)  # position of each row's unit in ``units``
    _, first = np.unique(pos, return_index=True)
    kids = np.full(len(units), -np.inf)
    np.maximum.at(kids, pos, pd.to_numeric(d["children"], errors="coerce").fillna(0).to_numpy(dtype=float))
    has_kids = kids > 0
    out: dict[str, Any] = {"unit_id": list(units)}
    if "name" in d.columns:
        out["name"] = list(d["name"].to_numpy()[first])
    else:
        out["name"] = [None] * len(units)
    lc = d["_lc"].to_numpy()
    present = d["_present"].to_numpy(dtype=bool)
    labels = d["_label"].to_numpy(dtype=object)
    for mnt in minutes:
        in_circle = lc == mnt
        lacking = np.flatnonzero(in_circle & ~present & has_kids[pos])
        missing: list[list[str]] = [[] for _ in range(len(units))]
        for i in lacking.tolist():  # rows below target: at most units x categories
            missing[pos[i]].append(labels[i])
        judged = has_kids & (np.bincount(pos[in_circle], minlength=len(units)) > 0)
        out[f"lc{mnt}_missing"] = ["; ".join(m) for m in missing]
        out[f"lc{mnt}_complete"] = [(not m) if j else np.nan for m, j in zip(missing, judged)]
    return pd.DataFrame(out)


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
        uncovered origins, by walking, lying inside the gap polygon; an origin in two overlapping units of one
        level, or on their shared edge, counts in one of them, by :func:`unit_coverage`'s rule), ``area_m2``,
        ``rank`` (1 = most children, then largest area), geometry (valid (Multi)Polygons, EPSG:4326). Units
        fully covered have no row.
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
    ugeom = np.asarray(um.geometry.values, dtype=object)
    ugeom = np.where(
        shapely.is_valid(ugeom), ugeom, shapely.make_valid(ugeom)
    )  # (as unit_coverage's when valid)
    sa = to_crs_cached(service_areas_dissolved, crs) if service_areas_dissolved is not None else None
    oc = without_attrs(access)  # (its columns, without a deep copy of its attrs each)
    g = np.asarray(oc.geometry.values, dtype=object)
    plain = bool(len(g)) and bool((shapely.get_type_id(g) == 0).all()) and not shapely.is_empty(g).any()
    oxy = metric_xy(oc.geometry, crs) if plain else None
    ogeom = None if plain else np.asarray(oc.geometry.to_crs(crs).values, dtype=object)
    kids = pd.to_numeric(oc["children"], errors="coerce").fillna(0).to_numpy(dtype="float64")
    unit_ids = um["unit_id"].astype(str).to_numpy()
    unit_names = um["name"].to_numpy()
    # origins with children and the units they lie in, once (a unit's gap lies inside the unit)
    wk = np.flatnonzero(kids > 0)
    if oxy is not None:  # (sorted by origin: the sums below add in the same order either way)
        po, pu = points_in_polygons(oxy[wk], ugeom, "intersects")
    else:
        assert ogeom is not None
        po, pu = shapely.STRtree(ugeom).query(ogeom[wk], predicate="intersects")
        by = np.lexsort((pu, po))
        po, pu = po[by], pu[by]
    po = wk[po]
    # a home in two units of one level (overlapping outlines, or on a shared edge) counts in one of them, the one
    # unit_coverage counts it in (:func:`one_unit_each`)
    if oxy is not None:
        pxy = oxy
    else:
        assert ogeom is not None
        pxy = point_xy(ogeom)
    keep, _ = one_unit_each(po, pu, pxy, um, geoms=ugeom)
    po, pu = po[keep], pu[keep]
    rows: list[pd.DataFrame] = []
    totals = {}
    for cat in cats:
        area_geom = shapely.Polygon()
        if sa is not None:
            sel = sa[sa["category"].astype(str) == cat]
            if "method" in sel.columns and (sel["method"] == "walk").any():
                sel = sel[sel["method"] == "walk"]
            if len(sel):
                area_geom = _dissolved(sel)
        walk = not np.all(np.isnan(oc[f"dist_walk_{cat}"].to_numpy(dtype="float64")))
        covered = oc[f"covered_{'walk' if walk else 'line'}_{cat}"].to_numpy(dtype=bool)
        totals[cat] = float(kids[~covered].sum())
        # the area cut into small pieces once: each unit loses the pieces near it only
        diff = shapely.make_valid(outside_parts(ugeom, area_geom))
        diff = _polygonal(diff, min_area_m2)
        # the uncovered origins in each gap: tested against their own units' gaps only
        m = ~covered[po]
        o, u = po[m], pu[m]
        m = ~shapely.is_missing(diff[u])
        o, u = o[m], u[m]
        shapely.prepare(diff)
        if oxy is not None:
            hit = shapely.intersects_xy(diff[u], oxy[o, 0], oxy[o, 1])
        else:
            assert ogeom is not None
            hit = shapely.intersects(diff[u], ogeom[o])
        per = np.bincount(u[hit], weights=kids[o[hit]], minlength=len(diff))
        has = np.flatnonzero(~shapely.is_missing(diff) & ~shapely.is_empty(diff))
        rows.append(
            pd.DataFrame(
                {
                    "unit_id": unit_ids[has],
                    "unit_name": unit_names[has],
                    "category": cat,
                    "category_label": _label(cat),
                    "children_uncovered": per[has].astype(float),
                    "area_m2": shapely.area(diff[has]),
                    "geometry": diff[has],
                }
            )
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
    rows = [r for r in rows if len(r)]
    if not rows:
        out = gpd.GeoDataFrame(columns=cols, geometry="geometry", crs=WGS84)
    else:
        df = pd.concat(rows, ignore_index=True).sort_values(
            ["children_uncovered", "area_m2"], ascending=[False, False]
        )
        df["rank"] = np.arange(1, len(df) + 1)
        out = gpd.GeoDataFrame(df[cols].reset_index(drop=True), geometry="geometry", crs=crs).to_crs(WGS84)
    out.attrs["uncovered_origins_total"] = totals
    return out


def _dissolved(areas: gpd.GeoDataFrame) -> Any:
    """One polygonal geometry of the service-area rows ``areas`` (a dissolved category is one row already: taken
    as it is, no union needed)."""
    geoms = np.asarray(areas.geometry.values, dtype=object)
    geoms = geoms[~shapely.is_missing(geoms)]
    if len(geoms) == 1:
        return geoms[0]
    return shapely.union_all(geoms) if len(geoms) else shapely.Polygon()


def _polygonal(geoms: np.ndarray, min_area: float) -> np.ndarray:
    """Keep only polygon parts of at least ``min_area`` (drops lines/points from overlay, slivers)."""
    out = np.full(len(geoms), None, dtype=object)
    parts, idx = shapely.get_parts(geoms, return_index=True)
    if len(parts):
        # polygons from collections
        sub, sidx = shapely.get_parts(parts, return_index=True)
        keep = (shapely.get_type_id(sub) == 3) & (shapely.area(sub) >= min_area)
        sub, owner = sub[keep], idx[sidx][keep]
        order = np.argsort(owner, kind="stable")
        sub, owner = sub[order], owner[order]
        present, start, count = np.unique(owner, return_index=True, return_counts=True)
        one = count == 1
        out[present[one]] = sub[start[one]]
        many = ~one
        if many.any():
            sel = np.isin(owner, present[many])
            out[present[many]] = shapely.multipolygons(
                sub[sel], indices=np.searchsorted(present[many], owner[sel])
            )
    return out


def overlapping_units(
    units: gpd.GeoDataFrame, min_m2: float = 100.0, min_share: float = 0.01
) -> pd.DataFrame:
    """Pairs of units of one level whose areas overlap, from the boundaries alone (what ``childspace check``
    says before any home is counted; :func:`unit_coverage` then counts each home in one of them).

    A pair is listed when the area in common is at least ``min_m2`` square metres and ``min_share`` of the
    smaller unit: digitising slivers along a shared edge (a few square metres) are not overlaps a planner fixes.

    Returns
    -------
    DataFrame
        ``unit_id_a``, ``name_a``, ``unit_id_b``, ``name_b``, ``overlap_m2`` and ``share`` (of the smaller
        unit), the largest overlap first; empty when none.
    """
    cols = ["unit_id_a", "name_a", "unit_id_b", "name_b", "overlap_m2", "share"]
    if units is None or len(units) < 2:
        return pd.DataFrame(columns=cols)
    g = units.to_crs(local_crs_for(units)) if units.crs is not None and units.crs.is_geographic else units
    geoms = shapely.make_valid(g.geometry.to_numpy())
    a, b = g.sindex.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if not len(a):
        return pd.DataFrame(columns=cols)
    inter = shapely.area(shapely.intersection(geoms[a], geoms[b]))
    smaller = np.minimum(shapely.area(geoms[a]), shapely.area(geoms[b]))
    share = np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)
    sel = (inter >= min_m2) & (share >= min_share)
    ids = g["unit_id"].astype(str).to_numpy() if "unit_id" in g else np.arange(len(g)).astype(str)
    names = g["name"].astype(str).to_numpy() if "name" in g else ids
    out = pd.DataFrame(
        {
            "unit_id_a": ids[a[sel]],
            "name_a": names[a[sel]],
            "unit_id_b": ids[b[sel]],
            "name_b": names[b[sel]],
            "overlap_m2": inter[sel],
            "share": share[sel],
        }
    )
    return out.sort_values("overlap_m2", ascending=False, ignore_index=True)
