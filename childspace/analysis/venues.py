"""Mother-and-baby rooms (母婴室) in the public venues that must have one.

A venue must have a room when a rule of the plan applies to it (national 2016 guidance: more than 10,000 m² of
floor area or more than 10,000 visitors a day; Zhejiang 2017: at least 5,000 m² or more than 5,000 visitors a
day; see ``childspace/config/plan_yueqing.toml``). A room counts for a venue when it lies inside the venue's footprint or
within ``max_distance_m`` of it (a register gives points: the room is in the building when it is close to it).
Distances in metres in the local metric CRS.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace.inputs.plan import VenueRule
from childspace.inputs.projection import WGS84, local_crs_for

__all__ = ["STATUS", "combine_venues", "missing_rooms", "mother_baby_room_check"]

STATUS = {
    "missing": "缺母婴室 must have a room, none found",
    "ok": "已有母婴室 has a room",
    "not_required": "不要求 below the thresholds",
    "unknown": "面积客流未知 size unknown",
}


def _column(gdf: pd.DataFrame, name: str) -> np.ndarray:
    if name not in gdf.columns:
        return np.full(len(gdf), np.nan)
    return pd.to_numeric(gdf[name], errors="coerce").to_numpy(dtype=float)


def mother_baby_room_check(
    venues: gpd.GeoDataFrame,
    rooms: gpd.GeoDataFrame,
    rules: Mapping[str, VenueRule],
    max_distance_m: float = 100.0,
) -> gpd.GeoDataFrame:
    """Which venues must have a mother-and-baby room, and whether one is there.

    Parameters
    ----------
    venues : GeoDataFrame
        Points (:func:`childspace.inputs.venues.load_venues`, :func:`childspace.osm.venues.venues_from_osm`);
        optional ``floor_area_m2``, ``daily_visitors``, ``footprint`` (WKB polygon).
    rooms : GeoDataFrame
        Mother-and-baby rooms (points; e.g. facilities of category ``mother_baby_room``).
    rules : mapping of str to VenueRule
        The plan's rules (:attr:`childspace.inputs.plan.Plan.venue_rules`).
    max_distance_m : float
        A room this close to the venue (its footprint, else its point) counts, metres.

    Returns
    -------
    GeoDataFrame
        The venues (EPSG:4326 points) with ``required`` (bool), ``rules`` (ids of the rules that apply, ``"; "``),
        ``rule_label`` (中文), ``has_room`` (bool), ``nearest_room`` (name), ``room_distance_m`` (metres, NaN when
        no room within reach), ``status`` (:data:`STATUS`); ``attrs["rules"]`` (the rules' thresholds) and
        ``attrs["max_distance_m"]`` say what the check used.
    """
    out = venues.to_crs(WGS84).copy()
    n = len(out)
    area = _column(out, "floor_area_m2")
    visitors = _column(out, "daily_visitors")
    applies = np.zeros((n, len(rules)), dtype=bool)
    for j, rule in enumerate(rules.values()):
        applies[:, j] = rule.applies(area, visitors)
    ids = np.array(list(rules), dtype=object)
    zh = np.array([r.zh for r in rules.values()], dtype=object)
    required = applies.any(axis=1)
    out["required"] = required
    out["rules"] = ["; ".join(ids[row]) for row in applies]
    out["rule_label"] = ["、".join(zh[row]) for row in applies]
    # geometry to measure from: the footprint when known, else the point (metric CRS)
    crs = local_crs_for(out) if n else None
    has = np.zeros(n, dtype=bool)
    dist = np.full(n, np.nan)
    nearest = np.full(n, None, dtype=object)
    if n and rooms is not None and len(rooms):
        shapes = out.geometry.values.copy()
        if "footprint" in out.columns:
            fp = out["footprint"].to_numpy(dtype=object)
            given = np.array([isinstance(v, (bytes, bytearray)) for v in fp], dtype=bool)
            if given.any():
                shapes[given] = shapely.from_wkb(fp[given])
        metric = gpd.GeoSeries(shapes, crs=WGS84).to_crs(crs).values
        room_pts = rooms.to_crs(crs).geometry.values
        tree = shapely.STRtree(room_pts)
        # max_distance 0 means "inside the footprint only" (shapely needs a positive reach)
        reach = max(float(max_distance_m), 1e-6)
        (vi, ri), d = tree.query_nearest(metric, max_distance=reach, return_distance=True, all_matches=False)
        has[vi] = True
        dist[vi] = d
        names = (
            rooms["name"].to_numpy(dtype=object) if "name" in rooms.columns else np.asarray(ri, dtype=object)
        )
        nearest[vi] = names[ri]
    out["has_room"] = has
    out["nearest_room"] = nearest
    out["room_distance_m"] = np.round(dist, 1)
    unknown = np.isnan(area) & np.isnan(visitors)
    status = np.where(required, np.where(has, "ok", "missing"), np.where(unknown, "unknown", "not_required"))
    out["status"] = [STATUS[s] for s in status]
    # what the check used, for the legends of maps and sheets (plain values: they survive copies and pickles)
    out.attrs["rules"] = {
        k: {
            "id": r.id,
            "zh": r.zh,
            "floor_area_m2": r.floor_area_m2,
            "daily_visitors": r.daily_visitors,
            "inclusive": r.inclusive,
        }
        for k, r in rules.items()
    }
    out.attrs["max_distance_m"] = float(max_distance_m)
    return out


def missing_rooms(check: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The venues that must have a mother-and-baby room and have none (for a map layer and a sheet)."""
    return check.loc[check["required"] & ~check["has_room"]].reset_index(drop=True)


def combine_venues(
    register: gpd.GeoDataFrame | None, osm: gpd.GeoDataFrame | None, max_distance_m: float = 100.0
) -> gpd.GeoDataFrame | None:
    """The register's venues plus the OSM venues that are not within ``max_distance_m`` of one of them."""
    parts = [g for g in (register, osm) if g is not None and len(g)]
    if not parts:
        return register if register is not None else osm
    if len(parts) == 1:
        return parts[0]
    assert register is not None and osm is not None  # both given and not empty
    crs = local_crs_for(register)
    reg = register.to_crs(crs).geometry.values
    o = osm.to_crs(crs).geometry.values
    d = shapely.STRtree(reg).query_nearest(o, max_distance=max_distance_m, all_matches=False)[0]
    keep = np.ones(len(osm), dtype=bool)
    keep[d] = False
    both = pd.concat([register.to_crs(WGS84), osm.loc[keep].to_crs(WGS84)], ignore_index=True)
    return gpd.GeoDataFrame(both, geometry="geometry", crs=WGS84)
