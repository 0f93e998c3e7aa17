"""Before/after scenarios (情景分析): facilities added or removed, and what that changes.

A scenario is the run's facilities with some added (a site picked on a map, or one proposed by
:func:`childspace.analysis.siting.suggest_sites`) and some removed:

* :func:`new_sites` turns picks (category label, lon, lat in WGS84/GCJ-02/BD-09, optional name) into canonical
  facilities, refusing points outside the study area;
* :func:`apply_changes` gives the facilities after the change (a :class:`Change`: after, added, removed, the
  categories that changed);
* :func:`update_access` recomputes the walking and straight-line figures of the changed categories only
  (:func:`childspace.analysis.coverage.origin_access`, access legs included); the other columns are kept;
* :func:`compare` sets two :class:`State` s side by side: children covered per unit and category before and after,
  those newly covered and those no longer covered (per home, so a gain and a loss in one unit do not cancel),
  units that reach or fall below the target, pilot units whose status (达标/部分达标/缺口) changes and children
  whose route-to-school verdict changes;
* :func:`describe` writes the comparison as bilingual sentences (中文 first).

Nothing here prints or writes files (``childspace scenario`` in :mod:`childspace.run.scenario` does).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from childspace._errors import DataError
from childspace.analysis._coverage_base import ACCESS_LEGS, MAX_SNAP_M, RadiiLike, _assign_units
from childspace.analysis.coverage import origin_access
from childspace.inputs.datum import normalise_datum, to_wgs84
from childspace.inputs.projection import WGS84, local_crs_for
from childspace.inputs.standards import Standards, default_standards
from childspace.network import WalkNetwork

__all__ = [
    "Change",
    "Comparison",
    "State",
    "apply_changes",
    "compare",
    "describe",
    "new_sites",
    "update_access",
]

#: ``source`` of the facilities a scenario adds.
SCENARIO_SOURCE = "scenario"
#: Statuses of a unit against the coverage target, as the tables write them.
REACHES = "达标 reaches target"
FALLS = "降至目标以下 falls below target"


# ---------------------------------------------------------------------------------------------------------------
# the change
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Change:
    """Facilities before and after a scenario.

    Attributes
    ----------
    facilities : GeoDataFrame
        The facilities after the change (EPSG:4326): the kept ones, then the added ones; column ``scenario``:
        ``"added"`` for the new ones, ``""`` for the others.
    added, removed : GeoDataFrame
        The facilities added and removed (canonical columns, EPSG:4326).
    categories : list of str
        The categories whose facilities changed, in order of first mention.
    """

    facilities: gpd.GeoDataFrame
    added: gpd.GeoDataFrame
    removed: gpd.GeoDataFrame
    categories: list[str] = field(default_factory=list)


#: new sites: a GeoDataFrame (``category``, Point), or ``(category, lon, lat[, name])`` tuples or mappings with
#: those keys (one mapping alone is one site)
Sites: TypeAlias = gpd.GeoDataFrame | Mapping[str, object] | Sequence[Mapping[str, object] | Sequence[object]]


def _site_rows(sites: Mapping[str, object] | Sequence[Mapping[str, object] | Sequence[object]]) -> list[dict]:
    if isinstance(sites, Mapping):
        sites = [sites]
    rows = []
    for i, s in enumerate(sites):
        if isinstance(s, Mapping):
            rows.append(dict(s))
        elif isinstance(s, Sequence) and not isinstance(s, str) and 3 <= len(s) <= 4:
            rows.append(dict(zip(("category", "lon", "lat", "name"), s)))
        else:
            raise DataError(
                f"site {i + 1} ({s!r}) is not (category, lon, lat[, name])",
                feature=f"site {i + 1}",
                fix='give e.g. ("幼儿园", 120.98, 28.12) or {"category": ..., "lon": ..., "lat": ...}',
            )
    return rows


def _area_geometry(study_area: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None) -> BaseGeometry | None:
    if study_area is None:
        return None
    if isinstance(study_area, (gpd.GeoDataFrame, gpd.GeoSeries)):
        return shapely.union_all(np.asarray(study_area.to_crs(WGS84).geometry.values, dtype=object))
    return study_area


def new_sites(
    sites: Sites,
    *,
    coords: str = "wgs84",
    standards: Standards | None = None,
    study_area: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None = None,
    taken_ids: Iterable[str] = (),
    id_prefix: str = "NEW",
) -> gpd.GeoDataFrame:
    """Canonical facilities from picked sites.

    Parameters
    ----------
    sites : GeoDataFrame or sequence
        A GeoDataFrame with ``category`` (any known label) and Point geometry (any CRS; optional ``name``,
        ``facility_id``), or a sequence of ``(category, lon, lat[, name])`` tuples or mappings with those keys.
    coords : {"wgs84", "gcj02", "bd09"} or alias
        Datum of ``lon``/``lat`` of a sequence (``"gcj02"`` for points picked on Amap, ``"bd09"`` on Baidu);
        converted to WGS84. A GeoDataFrame is taken in its own CRS.
    standards : Standards, optional
        For the category labels (default the bundled standards).
    study_area : shapely geometry, GeoDataFrame or GeoSeries (EPSG:4326), optional
        A site outside it is refused (:class:`~childspace.DataError` giving its distance from the edge).
    taken_ids : iterable of str
        Ids already used; new ids are ``NEW01``, ``NEW02``, ... skipping these.

    Returns
    -------
    GeoDataFrame
        EPSG:4326: ``facility_id``, ``name``, ``category`` (canonical), ``subtype`` (the label as given),
        ``source`` (``"scenario"``), geometry Point.
    """
    std = standards or default_standards()
    if isinstance(sites, gpd.GeoDataFrame):
        if "category" not in sites.columns:
            raise DataError("the new sites have no category column", fix="add a category (类型) column")
        g = sites.to_crs(WGS84)
        if not (shapely.get_type_id(np.asarray(g.geometry.values, dtype=object)) == 0).all():
            raise DataError("the new sites must be points", fix="give one point per site")
        lon, lat = g.geometry.x.to_numpy(), g.geometry.y.to_numpy()
        labels = g["category"].tolist()
        names = g["name"].tolist() if "name" in g.columns else [None] * len(g)
        ids = g["facility_id"].astype(str).tolist() if "facility_id" in g.columns else [None] * len(g)
    else:
        rows = _site_rows(sites)
        labels = [r.get("category") for r in rows]
        names = [r.get("name") for r in rows]
        ids = [r.get("facility_id") for r in rows]
        raw = np.full((len(rows), 2), np.nan)
        for i, r in enumerate(rows):
            for j, key in enumerate(("lon", "lat")):
                try:
                    raw[i, j] = float(r.get(key))  # type: ignore[arg-type]  # (None: TypeError below)
                except (TypeError, ValueError):
                    raise DataError(
                        f"{key} {r.get(key)!r} is not a number",
                        feature=f"site {i + 1}",
                        fix="give lon and lat in decimal degrees, e.g. 120.98, 28.12",
                    ) from None
        for i, (x, y) in enumerate(raw):
            if not (np.isfinite(x) and np.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
                swapped = (
                    " (lat and lon swapped? lon comes first)" if -90 <= x <= 90 and -180 <= y <= 180 else ""
                )
                raise DataError(
                    f"lon {x:g}, lat {y:g} are not valid coordinates{swapped}",
                    feature=f"site {i + 1}",
                    fix="give lon first, then lat, in decimal degrees, e.g. 120.98, 28.12",
                )
        lon, lat = to_wgs84(raw[:, 0], raw[:, 1], normalise_datum(coords))
        lon, lat = np.atleast_1d(lon).astype(float), np.atleast_1d(lat).astype(float)
    cats = []
    for i, lab in enumerate(labels):
        try:
            cats.append(std.canonical(lab))
        except DataError as exc:
            raise DataError(exc.message, feature=f"site {i + 1}", fix=exc.fix) from None
    pts = shapely.points(np.c_[lon, lat]) if len(labels) else np.array([], dtype=object)
    area = _area_geometry(study_area)
    if area is not None and len(labels):
        inside = shapely.covers(area, pts)
        if not inside.all():
            i = int(np.flatnonzero(~inside)[0])
            tmp = gpd.GeoSeries([area, pts[i]], crs=WGS84)
            m = tmp.to_crs(local_crs_for(tmp))
            d = float(m.iloc[0].boundary.distance(m.iloc[1]))
            raise DataError(
                f"the new {std.label(cats[i])} at {lon[i]:.6f},{lat[i]:.6f} (WGS84) lies outside the "
                f"study area, {d:,.0f} m beyond its edge",
                feature=f"site {i + 1}",
                fix="pick a point inside the boundaries of the config; for a point picked on Amap or "
                "Baidu give its datum (--coords gcj02 / bd09)",
            )
    taken = {str(t) for t in taken_ids}
    out_ids = []
    k = 0
    for given in ids:
        if given is not None and str(given) not in ("", "nan", "None"):
            if str(given) in taken:
                raise DataError(f"facility id {given!r} of a new site is already used", fix="give another id")
            out_ids.append(str(given))
            taken.add(str(given))
            continue
        while True:
            k += 1
            cand = f"{id_prefix}{k:02d}"
            if cand not in taken:
                break
        out_ids.append(cand)
        taken.add(cand)
    out_names = [
        str(n)
        if n is not None and str(n).strip() not in ("", "nan", "None")
        else f"新建{std[c].zh} New {std[c].en.lower()} {fid}"
        for n, c, fid in zip(names, cats, out_ids)
    ]
    return gpd.GeoDataFrame(
        {
            "facility_id": out_ids,
            "name": out_names,
            "category": cats,
            "subtype": [str(x) for x in labels],
            "source": SCENARIO_SOURCE,
        },
        geometry=gpd.GeoSeries(pts, crs=WGS84),
        crs=WGS84,
    )


def apply_changes(
    facilities: gpd.GeoDataFrame,
    add: Sites | None = None,
    remove: Iterable[str] | None = None,
    *,
    coords: str = "wgs84",
    standards: Standards | None = None,
    study_area: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None = None,
) -> Change:
    """The facilities after adding ``add`` and removing the ids ``remove``.

    Parameters
    ----------
    facilities : GeoDataFrame
        Canonical facilities of the run (``facility_id``, ``category``, Point).
    add : GeoDataFrame or sequence, optional
        New sites (see :func:`new_sites`; a GeoDataFrame from it is taken as it is).
    remove : iterable of str, optional
        ``facility_id`` s to remove; an unknown id is an error naming the closest known ids.
    coords, standards, study_area
        See :func:`new_sites`.

    Returns
    -------
    Change
    """
    fac = facilities.to_crs(WGS84) if facilities.crs is not None else facilities
    ids = fac["facility_id"].astype(str)
    rem = [str(r) for r in (remove or [])]
    known = set(ids)
    for r in rem:
        if r not in known:
            close = difflib.get_close_matches(r, sorted(known), n=3, cutoff=0.5)
            raise DataError(
                f"no facility with id {r!r} to remove ({len(known)} facilities)",
                fix=("did you mean " + ", ".join(close) + "? " if close else "")
                + "the ids are in the facility_id column of the facilities table (tables/ or the "
                "GeoPackage of a run)",
            )
    drop = ids.isin(rem).to_numpy()
    removed = fac[drop].copy()
    if add is None or (hasattr(add, "__len__") and len(add) == 0):
        added = new_sites([], standards=standards)
    elif (
        isinstance(add, gpd.GeoDataFrame)
        and {"source", "facility_id"} <= set(add.columns)
        and (add["source"] == SCENARIO_SOURCE).all()
    ):
        added = add.to_crs(WGS84)
        clash = sorted(set(added["facility_id"].astype(str)) & known)
        if clash:
            raise DataError(f"new site id(s) {clash} already used by the facilities", fix="give other ids")
    else:
        added = new_sites(add, coords=coords, standards=standards, study_area=study_area, taken_ids=known)
    kept = fac[~drop].copy()
    kept["scenario"] = ""
    new = added.copy()
    new["scenario"] = "added"
    after = gpd.GeoDataFrame(
        pd.concat([kept, new], ignore_index=True), geometry=fac.geometry.name, crs=fac.crs
    )
    after.attrs = {}
    cats = list(dict.fromkeys([*added["category"].astype(str), *removed["category"].astype(str)]))
    return Change(facilities=after, added=added, removed=removed, categories=cats)


def update_access(
    access: gpd.GeoDataFrame,
    origins: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    network: WalkNetwork,
    categories: Iterable[str],
    radii: RadiiLike = None,
    max_snap: float = MAX_SNAP_M,
    legs: bool = ACCESS_LEGS,
) -> gpd.GeoDataFrame:
    """``access`` with the figures of ``categories`` recomputed on ``facilities`` (the other columns reused).

    Parameters
    ----------
    access : GeoDataFrame
        :func:`~childspace.analysis.coverage.origin_access` of ``origins`` (same rows, same order).
    origins, facilities, network, radii, max_snap, legs
        As for :func:`~childspace.analysis.coverage.origin_access`.
    categories : iterable of str
        The categories to recompute (a category not in ``access`` yet is added).

    Returns
    -------
    GeoDataFrame
        A copy of ``access``; ``attrs`` updated for those categories.
    """
    cats = list(dict.fromkeys(categories))
    if len(access) != len(origins):
        raise DataError(
            f"access has {len(access)} rows but origins {len(origins)}",
            fix="give the access table computed from these origins",
        )
    out = access.copy()
    out.attrs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in access.attrs.items()}
    if not cats:
        return out
    new = origin_access(
        origins, facilities, network, categories=cats, radii=radii, max_snap=max_snap, legs=legs
    )
    for cat in cats:
        for pre in ("dist_walk_", "dist_line_", "covered_walk_", "covered_line_", "nearest_", "no_network_"):
            col = pre + cat
            if col in new.columns:
                out[col] = new[col].to_numpy()
    known = list(out.attrs.get("categories") or [])
    out.attrs["categories"] = known + [c for c in cats if c not in known]
    for key, val in new.attrs.items():
        if isinstance(val, dict):
            d = dict(out.attrs.get(key) or {})
            d.update({c: v for c, v in val.items() if c in cats})
            out.attrs[key] = d
    return out


# ---------------------------------------------------------------------------------------------------------------
# comparing two states
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class State:
    """The figures of one state (before or after).

    Attributes
    ----------
    coverage : DataFrame
        :func:`~childspace.analysis.coverage.unit_coverage` rows (one or several levels) of the compared categories.
    access : GeoDataFrame, optional
        :func:`~childspace.analysis.coverage.origin_access` (same origins in both states): gives who is newly
        covered, per home.
    pilots : GeoDataFrame, optional
        :func:`~childspace.analysis.pilots.pilot_status`.
    routes : GeoDataFrame, optional
        :func:`~childspace.analysis.routes.school_routes` of the compared school categories.
    """

    coverage: pd.DataFrame
    access: gpd.GeoDataFrame | None = None
    pilots: gpd.GeoDataFrame | None = None
    routes: gpd.GeoDataFrame | None = None


@dataclass
class Comparison:
    """What a scenario changes (the frames :func:`compare` returns).

    Attributes
    ----------
    units : DataFrame
        Per unit and category: ``level``, ``unit_id``, ``name``, ``category``, ``children``, ``covered_before``,
        ``covered_after``, ``newly_covered``, ``no_longer_covered``, ``pct_before``, ``pct_after``,
        ``target_pct``, ``below_before``, ``below_after``, ``target_change`` (:data:`REACHES`, :data:`FALLS` or
        ``""``).
    pilots : DataFrame
        Pilot units whose status changes: ``pilot_id``, ``name``, ``kind``, ``batch``, ``status_before``,
        ``status_after``, ``status_zh_before``, ``status_zh_after``, ``n_present_before``, ``n_present_after``,
        ``reasons_after``.
    routes : DataFrame
        Homes whose verdict (of the safest route to their school) changes: ``origin_id``, ``category``,
        ``children``, ``school_before``, ``school_after``, ``verdict_before``, ``verdict_after``,
        ``length_before_m``, ``length_after_m``.
    summary : DataFrame
        Per category: ``category``, ``children``, ``covered_before``, ``covered_after``, ``newly_covered``,
        ``no_longer_covered``, ``units_level``, ``units_reaching_target``, ``units_falling_below``,
        ``units_below_before``, ``units_below_after``, ``children_verdict_changed``, ``children_safe_before``,
        ``children_safe_after``, ``children_school_changed``.
    pilot_counts : DataFrame
        ``status``, ``before``, ``after`` (numbers of pilot units).
    """

    units: pd.DataFrame
    pilots: pd.DataFrame
    routes: pd.DataFrame
    summary: pd.DataFrame
    pilot_counts: pd.DataFrame


def _covered_col(uc: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    walk = uc["children_covered_walk"].astype(float)
    use_line = walk.isna()
    cov = walk.where(~use_line, uc["children_covered_line"].astype(float))
    pct = uc["pct_walk"].astype(float).where(~use_line, uc["pct_line"].astype(float))
    return cov, pct


def _flag(access: gpd.GeoDataFrame, cat: str) -> np.ndarray:
    walk = f"covered_walk_{cat}"
    if access.attrs.get("walk", True) and walk in access.columns:
        return access[walk].to_numpy(dtype=bool)
    return access[f"covered_line_{cat}"].to_numpy(dtype=bool)


def _per_home(
    before: State, after: State, units: gpd.GeoDataFrame | None, cats: list[str]
) -> tuple[pd.DataFrame | None, dict[str, tuple[float, float]]]:
    """Children newly / no longer covered, per unit (``level``, ``unit_id``, ``category``) and in total."""
    if before.access is None or after.access is None:
        return None, {}
    if len(before.access) != len(after.access):
        raise DataError(
            "the two states have different origins", fix="compare states computed on the same origins"
        )
    kids = pd.to_numeric(after.access["children"], errors="coerce").fillna(0).to_numpy(dtype=float)
    totals = {}
    gained_of, lost_of = {}, {}
    for cat in cats:
        b, a = _flag(before.access, cat), _flag(after.access, cat)
        gained_of[cat], lost_of[cat] = a & ~b, b & ~a
        totals[cat] = (float(kids[gained_of[cat]].sum()), float(kids[lost_of[cat]].sum()))
    if units is None or not len(units):
        return None, totals
    um = units.to_crs(local_crs_for(units))
    pairs, _ = _assign_units(after.access, um)
    o, u = pairs["_o"].to_numpy(), pairs["_u"].to_numpy()
    level = um["level"].astype(str).to_numpy() if "level" in um.columns else np.full(len(um), "")
    frames = []
    for cat in cats:
        g = np.bincount(u, weights=kids[o] * gained_of[cat][o], minlength=len(um))
        lo = np.bincount(u, weights=kids[o] * lost_of[cat][o], minlength=len(um))
        frames.append(
            pd.DataFrame(
                {
                    "level": level,
                    "unit_id": um["unit_id"].astype(str).to_numpy(),
                    "category": cat,
                    "newly_covered": g,
                    "no_longer_covered": lo,
                }
            )
        )
    return pd.concat(frames, ignore_index=True), totals


def _safest(routes: gpd.GeoDataFrame | None) -> pd.DataFrame | None:
    if routes is None or not len(routes):
        return None
    s = routes[routes["route"] == "safest"]
    return pd.DataFrame(
        {
            "origin_id": s["origin_id"].astype(str).to_numpy(),
            "category": s["category"].to_numpy(),
            "children": s["children"].astype(float).to_numpy(),
            "school": s["school_id"].to_numpy(),
            "verdict": s["verdict"].astype(str).to_numpy(),
            "length_m": s["length_m"].astype(float).to_numpy(),
        }
    )


def compare(
    before: State,
    after: State,
    units: gpd.GeoDataFrame | None = None,
    categories: Iterable[str] | None = None,
) -> Comparison:
    """Before and after side by side.

    Parameters
    ----------
    before, after : State
        The figures of the two states (same units, origins and pilots).
    units : GeoDataFrame, optional
        The units of the coverage rows (``unit_id``, ``level``, polygons): with the two states' ``access``, the
        children newly and no longer covered are counted per home (a unit can gain and lose children at once);
        without them they are the difference of the unit totals (net).
    categories : iterable of str, optional
        Default: the categories of ``after.coverage``.

    Returns
    -------
    Comparison
    """
    cats = list(categories) if categories is not None else list(dict.fromkeys(after.coverage["category"]))
    key = ["level", "unit_id", "category"]
    b = before.coverage[before.coverage["category"].isin(cats)].copy()
    a = after.coverage[after.coverage["category"].isin(cats)].copy()
    for df in (a, b):
        df["level"] = df["level"].astype(str) if "level" in df.columns else ""
        df["unit_id"] = df["unit_id"].astype(str)
    b["covered"], b["pct"] = _covered_col(b)
    a["covered"], a["pct"] = _covered_col(a)
    m = a[[*key, "name", "children", "covered", "pct", "target_pct", "below_target"]].merge(
        b[[*key, "covered", "pct", "below_target"]], on=key, how="left", suffixes=("_after", "_before")
    )
    per_home, totals = _per_home(before, after, units, cats)
    if per_home is not None:
        m = m.merge(per_home, on=key, how="left")
        m[["newly_covered", "no_longer_covered"]] = m[["newly_covered", "no_longer_covered"]].fillna(0.0)
    else:
        diff = (m["covered_after"] - m["covered_before"]).fillna(0.0)
        m["newly_covered"], m["no_longer_covered"] = diff.clip(lower=0), (-diff).clip(lower=0)
    bb = m["below_target_before"].fillna(True).astype(bool)
    ba = m["below_target_after"].astype(bool)
    has_kids = m["children"].astype(float) > 0
    change = np.where(bb & ~ba & has_kids, REACHES, np.where(~bb & ba & has_kids, FALLS, ""))
    unit_df = pd.DataFrame(
        {
            "level": m["level"],
            "unit_id": m["unit_id"],
            "name": m["name"],
            "category": m["category"],
            "children": m["children"].astype(float),
            "covered_before": m["covered_before"].astype(float),
            "covered_after": m["covered_after"].astype(float),
            "newly_covered": m["newly_covered"].astype(float),
            "no_longer_covered": m["no_longer_covered"].astype(float),
            "pct_before": m["pct_before"].astype(float),
            "pct_after": m["pct_after"].astype(float),
            "target_pct": m["target_pct"].astype(float),
            "below_before": bb.to_numpy(),
            "below_after": ba.to_numpy(),
            "target_change": change,
        }
    )

    # pilots
    pcols = [
        "pilot_id",
        "name",
        "kind",
        "batch",
        "status_before",
        "status_after",
        "status_zh_before",
        "status_zh_after",
        "n_present_before",
        "n_present_after",
        "reasons_after",
    ]
    pil = pd.DataFrame(columns=pcols)
    counts = pd.DataFrame({"status": ["meets", "partly", "gap"], "before": 0, "after": 0})
    if before.pilots is not None and after.pilots is not None and len(after.pilots):
        pb = pd.DataFrame(before.pilots.drop(columns=before.pilots.geometry.name))
        pa = pd.DataFrame(after.pilots.drop(columns=after.pilots.geometry.name))
        j = pa[["pilot_id", "name", "kind", "batch", "status", "status_zh", "n_present", "reasons"]].merge(
            pb[["pilot_id", "status", "status_zh", "n_present"]],
            on="pilot_id",
            suffixes=("_after", "_before"),
        )
        j = j.rename(columns={"reasons": "reasons_after"})
        pil = j.loc[j["status_before"] != j["status_after"], pcols].reset_index(drop=True)
        counts["before"] = [int((pb["status"] == s).sum()) for s in counts["status"]]
        counts["after"] = [int((pa["status"] == s).sum()) for s in counts["status"]]

    # routes to school
    rcols = [
        "origin_id",
        "category",
        "children",
        "school_before",
        "school_after",
        "verdict_before",
        "verdict_after",
        "length_before_m",
        "length_after_m",
    ]
    rb, ra = _safest(before.routes), _safest(after.routes)
    rt = pd.DataFrame(columns=rcols)
    rj = None
    if rb is not None and ra is not None:
        rj = ra.merge(rb, on=["origin_id", "category"], how="outer", suffixes=("_after", "_before"))
        rj["children"] = rj["children_after"].fillna(rj["children_before"])
        rj = rj.rename(columns={"length_m_before": "length_before_m", "length_m_after": "length_after_m"})
        changed = rj["verdict_before"].astype(str) != rj["verdict_after"].astype(str)
        rt = rj.loc[changed, rcols].sort_values(["category", "children"], ascending=[True, False])
        rt = rt.reset_index(drop=True)

    # per category
    level_order = [lv for lv in ("community", "township") if (unit_df["level"] == lv).any()] or list(
        dict.fromkeys(unit_df["level"])
    )
    rows = []
    for cat in cats:
        u = unit_df[unit_df["category"] == cat]
        lv = level_order[0] if level_order else ""
        ul = u[u["level"] == lv] if lv else u
        gained, lost = totals.get(
            cat, (float(ul["newly_covered"].sum()), float(ul["no_longer_covered"].sum()))
        )
        row = {
            "category": cat,
            "children": float(ul["children"].sum()),
            "covered_before": float(ul["covered_before"].sum()),
            "covered_after": float(ul["covered_after"].sum()),
            "newly_covered": gained,
            "no_longer_covered": lost,
            "units_level": lv,
            "units_reaching_target": int((ul["target_change"] == REACHES).sum()),
            "units_falling_below": int((ul["target_change"] == FALLS).sum()),
            "units_below_before": int(ul["below_before"].sum()),
            "units_below_after": int(ul["below_after"].sum()),
            "children_verdict_changed": np.nan,
            "children_safe_before": np.nan,
            "children_safe_after": np.nan,
            "children_school_changed": np.nan,
        }
        if rj is not None and (rj["category"] == cat).any():
            r = rj[rj["category"] == cat]
            ch = r["children"].astype(float)
            row["children_verdict_changed"] = float(
                ch[r["verdict_before"].astype(str) != r["verdict_after"].astype(str)].sum()
            )
            row["children_safe_before"] = float(ch[r["verdict_before"] == "safe"].sum())
            row["children_safe_after"] = float(ch[r["verdict_after"] == "safe"].sum())
            row["children_school_changed"] = float(
                ch[r["school_before"].astype(str) != r["school_after"].astype(str)].sum()
            )
        rows.append(row)
    summary = pd.DataFrame(rows)
    unit_df = unit_df.sort_values(
        ["category", "level", "newly_covered", "unit_id"], ascending=[True, True, False, True]
    ).reset_index(drop=True)
    return Comparison(units=unit_df, pilots=pil, routes=rt, summary=summary, pilot_counts=counts)


# ---------------------------------------------------------------------------------------------------------------
# in words
# ---------------------------------------------------------------------------------------------------------------
_LEVEL = {
    "community": ("个社区", "communities", "community"),
    "township": ("个乡镇街道", "townships", "township"),
    "": ("个单元", "units", "unit"),
}
_STATUS = {"meets": ("达标", "meets"), "partly": ("部分达标", "partly"), "gap": ("缺口", "gap")}


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def describe(
    comparison: Comparison, change: Change | None = None, standards: Standards | None = None
) -> list[str]:
    """The comparison as bilingual sentences, Chinese first, one per changed category, then pilots and routes.

    E.g. "新增幼儿园后新增覆盖 412 名儿童；3 个社区达标 — the new kindergarten covers 412 more children;
    3 communities reach the target".
    """
    std = standards or default_standards()
    out = []
    for _, r in comparison.summary.iterrows():
        cat = r["category"]
        zh, en = std[cat].zh, std[cat].en.lower()
        n_add = int((change.added["category"] == cat).sum()) if change is not None else 0
        n_rem = int((change.removed["category"] == cat).sum()) if change is not None else 0
        if n_add and not n_rem:
            head_zh = f"新增{'' if n_add == 1 else f' {n_add} 所'}{zh}后"
            head_en = f"the new {en}" if n_add == 1 else f"the {n_add} new {en}s"
            verb_gain = "covers" if n_add == 1 else "cover"
        elif n_rem and not n_add:
            head_zh = f"撤除{'' if n_rem == 1 else f' {n_rem} 所'}{zh}后"
            head_en = f"removing the {en}" if n_rem == 1 else f"removing {n_rem} {en}s"
            verb_gain = "covers"
        else:
            head_zh = f"调整{zh}（新增 {n_add}，撤除 {n_rem}）后"
            head_en = f"the changes to {en}s (+{n_add}, -{n_rem})"
            verb_gain = "cover"
        lv_zh, lv_en_many, lv_en_one = _LEVEL.get(r["units_level"], _LEVEL[""])
        zh_parts, en_parts = [], []
        if r["newly_covered"] > 0:
            zh_parts.append(f"新增覆盖 {_n(r['newly_covered'])} 名儿童")
            en_parts.append(f"{head_en} {verb_gain} {_n(r['newly_covered'])} more children")
        if r["no_longer_covered"] > 0:
            zh_parts.append(f"{_n(r['no_longer_covered'])} 名儿童不再在服务半径内")
            en_parts.append(f"{_n(r['no_longer_covered'])} children are no longer within reach")
        if not zh_parts:
            zh_parts.append("覆盖儿童数不变")
            en_parts.append(f"{head_en} {verb_gain} no more children")
        up, down = int(r["units_reaching_target"]), int(r["units_falling_below"])
        if up:
            zh_parts.append(f"{up} {lv_zh}达标")
            en_parts.append(
                f"{up} {_plural(up, lv_en_one, lv_en_many)} {_plural(up, 'reaches', 'reach')} the target"
            )
        if down:
            zh_parts.append(f"{down} {lv_zh}降至目标以下")
            en_parts.append(
                f"{down} {_plural(down, lv_en_one, lv_en_many)} {_plural(down, 'falls', 'fall')} below "
                "the target"
            )
        if not up and not down:
            zh_parts.append(f"没有{lv_zh[1:]}改变达标状态")
            en_parts.append(f"no {lv_en_one} changes status against the target")
        zh_parts[0] = head_zh + zh_parts[0]
        out.append("；".join(zh_parts) + " — " + "; ".join(en_parts))
        if pd.notna(r["children_verdict_changed"]):
            out.append(
                f"{zh}通学路径：{_n(r['children_verdict_changed'])} 名儿童的路径评价改变，安全路径儿童 "
                f"{_n(r['children_safe_before'])} → {_n(r['children_safe_after'])}，"
                f"{_n(r['children_school_changed'])} 名儿童改走另一所学校 — routes to the nearest {en}: the "
                f"verdict changes for {_n(r['children_verdict_changed'])} children, children with a safe route "
                f"{_n(r['children_safe_before'])} → {_n(r['children_safe_after'])}, "
                f"{_n(r['children_school_changed'])} children go to another school"
            )
    pc = comparison.pilot_counts
    if len(comparison.pilots):
        moves = comparison.pilots.groupby(["status_before", "status_after"]).size()
        zh_m = "，".join(f"{_STATUS[a][0]}→{_STATUS[b][0]} {k} 个" for (a, b), k in moves.items())
        en_m = ", ".join(f"{k} {_STATUS[a][1]} → {_STATUS[b][1]}" for (a, b), k in moves.items())
        zh_c = "，".join(f"{_STATUS[s][0]} {int(x)}→{int(y)}" for s, x, y in pc.itertuples(index=False))
        en_c = ", ".join(f"{_STATUS[s][1]} {int(x)} → {int(y)}" for s, x, y in pc.itertuples(index=False))
        out.append(
            f"试点单元：{len(comparison.pilots)} 个状态改变（{zh_m}；{zh_c}） — pilot units: "
            f"{len(comparison.pilots)} change status ({en_m}; {en_c})"
        )
    elif pc["before"].sum():
        out.append("试点单元：状态均不变 — pilot units: no status changes")
    return out
