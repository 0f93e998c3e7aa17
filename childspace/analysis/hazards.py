"""Hazards on the routes to school: the road segments and crossings above the safe level, grouped by place and
ranked by the children whose route uses them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from childspace._errors import DataError
from childspace.analysis.countermeasures import FACTS, suggest
from childspace.analysis.safety import Stress, network_stress, safe_max_levels
from childspace.inputs.projection import WGS84

__all__ = ["HAZARD_JOIN_M", "hazards"]


# ----------------------------------------------------------------------------------------------------------------
# summary and hazards
# ----------------------------------------------------------------------------------------------------------------
def hazards(
    routes: gpd.GeoDataFrame,
    network: Any,
    stress: Stress | None = None,
    top: int | None = None,
    min_level: int = 3,
    route: str = "safest",
    rank_by: str = "children",
    safe_max_level: int | Mapping[str, int] | None = None,
    schools: gpd.GeoDataFrame | None = None,
    countermeasure_rules: str | Path | Mapping[str, Any] | None = None,
) -> gpd.GeoDataFrame:
    """Road segments and crossings at level >= ``min_level`` ranked by the children whose route uses them.

    The routes counted are the ``safest`` rows of :func:`school_routes`, i.e. the safest *acceptable* route of
    each child (the shortest one where the least-stress route is too long): a hazard on it is one the child
    cannot reasonably avoid, so it is where a crossing, signal or sidewalk helps most. (A hazard on the
    shortest route that a safe detour avoids is a lesser priority.)

    Parameters
    ----------
    routes : GeoDataFrame
        Straight from :func:`school_routes` (its ``attrs`` carry the edge/crossing sequences).
    network : WalkNetwork
        The network the routes were computed on.
    stress : Stress, optional
        The stress model the routes were computed with (default: recomputed with the default config).
    top : int, optional
        Keep the ``top`` highest-ranked hazards.
    min_level : int
        Lowest level reported (3: stressful and unsafe).
    route : str
        ``"safest"`` (default, the routes children are advised to take) or ``"shortest"`` (what children walk
        when nobody guides them).
    rank_by : str
        ``"children"`` (default: most children first, then the higher level) or ``"level"`` (level 4 first,
        then by children: the most dangerous places first, however few children pass).
    safe_max_level : int, mapping or None
        When given, a hazard is anything above the safe maximum of the route's school category
        (:func:`childspace.analysis.safety.safe_max_levels`), instead of ``min_level``.
    schools : GeoDataFrame, optional
        ``facility_id``, ``name``, Point geometry: the ``schools`` column names schools by name (an unnamed
        school by its id; without ``schools`` the ids are used); a hazard within ``[school_zone] radius_m`` of
        safety.toml (150 m, GA/T 1215-2014) of one of them is in a school zone (``school_zone``).
    countermeasure_rules : path, mapping or None
        The countermeasures table (default ``childspace/config/countermeasures.toml``,
        :mod:`childspace.analysis.countermeasures`).

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        ``hazard_id``, ``type`` (``segment``/``crossing``), ``level``, ``children`` (the children of the homes
        whose routes pass: each home once per hazard, however many of its routes — to its primary school and to
        its middle school — pass there), ``children_<category>`` per school category routed (e.g.
        ``children_primary_school``: the children of the homes whose route to that kind of school passes; these
        may add up to more than ``children``), ``routes`` (home × school-category routes passing), ``schools``
        ("; "-joined school names), ``name`` (street), ``reason`` (bilingual), ``countermeasures`` (中文 first,
        then English) and ``countermeasure_basis`` (the rule ids and their sources), ``rank`` (1 = first by
        ``rank_by``), ``school_zone`` (bool), ``edge`` (for a segment: its longest piece) or ``node`` (network
        positions), ``pieces`` (network edges in the hazard), ``length_m``, ``countermeasure_rules`` (rule ids),
        geometry (LineString/MultiLineString for segments, Point for crossings).

    Notes
    -----
    A segment hazard is one *place*: the pieces of one street (same name, else same OSM way) at the same level
    that touch or lie within ``HAZARD_JOIN_M`` (100 m, about a block) of each other (both carriageways of a
    divided road; pieces either side of a short calmer stretch), so a long arterial split at every side street
    is one entry, not ten.
    """
    data = routes.attrs.get("childspace_routes")
    if data is None:
        raise DataError(
            "the routes carry no edge sequences",
            feature="routes",
            fix="pass the GeoDataFrame returned by school_routes (not a reloaded file)",
        )
    if data.n_edges != network.n_edges:
        raise DataError(
            "the routes were computed on another network",
            feature="routes",
            fix="pass the same WalkNetwork as to school_routes",
        )
    stress = network_stress(network) if stress is None else stress
    if route not in ("safest", "shortest"):
        raise DataError(
            f"route must be 'safest' or 'shortest', got {route!r}",
            feature="hazards",
            fix="choose which routes to count",
        )
    if rank_by not in ("children", "level"):
        raise DataError(
            f"rank_by must be 'children' or 'level', got {rank_by!r}",
            feature="hazards",
            fix="rank the hazards by the children affected or by their level",
        )
    # the routes counted, with the columns read here only (not the layer's geometry and other columns)
    used = [c for c in ("route_key", "children", "school_id", "origin_id", "category") if c in routes.columns]
    s = pd.DataFrame({c: routes[c] for c in used})[
        ((routes["route"] == route) & (routes["verdict"] != "unreachable")).to_numpy()
    ]
    key_children = pd.Series(s["children"].to_numpy(dtype=float), index=s["route_key"].to_numpy())
    key_school = pd.Series(_school_names(s, schools), index=s["route_key"].to_numpy())
    key_origin = pd.Series(s["origin_id"].astype(str).to_numpy(dtype=object), index=s["route_key"].to_numpy())
    key_cat = pd.Series(s["category"].astype(str).to_numpy(dtype=object), index=s["route_key"].to_numpy())
    cats = sorted(pd.unique(key_cat.to_numpy()).tolist(), key=lambda c: (_LEVEL_ORDER.get(c, 9), c))
    tally = _Tally(key_children, key_school, key_origin, key_cat, cats)
    if safe_max_level is not None:
        smax = safe_max_levels(safe_max_level, stress.config)
        key_min = pd.Series(
            _per_value(s["category"], lambda c: smax.get(c, smax["default"]) + 1).to_numpy(dtype=np.int64),
            index=s["route_key"].to_numpy(),
        )
        min_level = int(key_min.min()) if len(key_min) else min_level
    else:
        key_min = None
    rows = []
    # segments: the pieces of one street at one level that touch form one hazard (one place to fix)
    lev = stress.edge_level
    # the sequences' entries at or above the level (in sequence order; routes' forests read only there)
    e_key, e_edge, c_key, c_node, c_edge, c_level = _entries(data, lev >= min_level, min_level)
    m = _chosen(e_key, key_children.index.to_numpy())
    if key_min is not None:
        m[m] = lev[e_edge[m]] >= key_min.reindex(e_key[m]).to_numpy()
    if m.any():
        seg = pd.DataFrame({"key": e_key[m], "edge": e_edge[m]}).drop_duplicates()
        he = np.unique(seg["edge"].to_numpy())
        grp = _street_groups(network, he, lev[he])
        seg["group"] = grp[np.searchsorted(he, seg["edge"].to_numpy())]
        per = seg.drop_duplicates(["group", "key"])  # a child walking 3 pieces of a street counts once
        g = tally(per, "group")
        L = network.length
        order = np.lexsort((-L[he], grp))  # the longest piece represents the group
        first = order[np.r_[True, grp[order][1:] != grp[order][:-1]]]
        rep_e = he[first]
        gid = grp[first]
        g = g.loc[gid]
        geoms = np.asarray(network.edges.geometry.array, dtype=object)
        lines = (
            pd.Series(geoms[he])
            .groupby(grp)
            .agg(lambda x: shapely.line_merge(shapely.union_all(np.asarray(x.to_numpy(), dtype=object))))
            .loc[gid]
            .to_numpy(dtype=object)
        )
        names = (
            network.edges["name"].to_numpy(dtype=object)[rep_e] if "name" in network.edges.columns else None
        )
        rows.append(
            pd.DataFrame(
                {
                    "type": "segment",
                    "level": lev[rep_e].astype(int),
                    "children": g["children"].to_numpy(),
                    **{f"children_{c}": g[f"children_{c}"].to_numpy() for c in cats},
                    "routes": g["routes"].to_numpy(),
                    "schools": g["schools"].to_numpy(),
                    "name": names,
                    "reason": stress.edges["reason"].to_numpy(dtype=object)[rep_e],
                    "edge": rep_e,
                    "node": -1,
                    "pieces": np.bincount(grp)[gid],
                    "length_m": np.bincount(grp, weights=L[he])[gid],
                    "geometry": lines,
                    **_edge_facts(stress, rep_e),
                }
            )
        )
    # crossings (per node; the worst crossing there among the routes using it)
    m = _chosen(c_key, key_children.index.to_numpy())
    if key_min is not None:
        m[m] = c_level[m] >= key_min.reindex(c_key[m]).to_numpy()
    if m.any():
        cr = pd.DataFrame(
            {
                "key": c_key[m],
                "node": c_node[m],
                "edge": c_edge[m],
                "level": c_level[m].astype(int),
            }
        )
        cr = cr.sort_values("level", ascending=False, kind="stable").drop_duplicates(["key", "node"])
        worst = cr.drop_duplicates("node")[["node", "edge", "level"]].set_index("node")
        g = tally(cr, "node")
        nodes = g.index.to_numpy()
        w = worst.loc[nodes]
        inc = (
            stress.incidence.sort_values("level", ascending=False, kind="stable")
            .drop_duplicates(["node", "edge"])
            .set_index(["node", "edge"])
            .reindex(pd.MultiIndex.from_arrays([nodes, w["edge"].to_numpy()]))
        )
        reason = inc["reason"].to_numpy(dtype=object)
        names = (
            network.edges["name"].to_numpy(dtype=object)[w["edge"].to_numpy()]
            if "name" in network.edges.columns
            else None
        )
        rows.append(
            pd.DataFrame(
                {
                    "type": "crossing",
                    "level": w["level"].to_numpy(),
                    "children": g["children"].to_numpy(),
                    **{f"children_{c}": g[f"children_{c}"].to_numpy() for c in cats},
                    "routes": g["routes"].to_numpy(),
                    "schools": g["schools"].to_numpy(),
                    "name": names,
                    "reason": reason,
                    "edge": w["edge"].to_numpy(),
                    "node": nodes,
                    "pieces": 1,
                    "length_m": 0.0,
                    "geometry": shapely.points(network.x[nodes], network.y[nodes]),
                    **_crossing_facts(stress, inc, w["edge"].to_numpy()),
                }
            )
        )
    cols = [
        "hazard_id",
        "type",
        "level",
        "children",
        *[f"children_{c}" for c in cats],
        "routes",
        "schools",
        "name",
        "reason",
        "countermeasures",
        "countermeasure_basis",
        "rank",
        "school_zone",
        "edge",
        "node",
        "pieces",
        "length_m",
        "countermeasure_rules",
    ]
    if not rows:
        return gpd.GeoDataFrame(
            {c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=network.crs).to_crs(WGS84).values, crs=WGS84
        )
    df = pd.concat(rows, ignore_index=True)
    keys = ["children", "level"] if rank_by == "children" else ["level", "children"]
    df = df.sort_values(keys + ["type"], ascending=[False, False, True], kind="stable").reset_index(drop=True)
    df["rank"] = np.arange(1, len(df) + 1)
    df["hazard_id"] = np.where(
        df["type"] == "crossing", "C" + df["node"].astype(str), "S" + df["edge"].astype(str)
    )
    if top is not None:
        df = df.head(int(top))
    df["school_zone"] = _in_school_zone(df["geometry"].to_numpy(), schools, network.crs, stress.config)
    facts = df.rename(columns={f"f_{c}": c for c in FACTS})
    df = df.join(suggest(facts, countermeasure_rules))
    geo = gpd.GeoSeries(df.pop("geometry").to_numpy(), crs=network.crs).to_crs(WGS84)
    return gpd.GeoDataFrame(df[cols], geometry=geo.values, crs=WGS84)


def _entries(data: Any, edge_ok: np.ndarray, min_level: int) -> tuple[np.ndarray, ...]:
    """Sequence entries on the edges ``edge_ok`` (keys, edges) and crossings of level >= ``min_level`` (keys,
    nodes, crossed edges, levels), in sequence order."""
    if hasattr(data, "hazard_entries"):
        return data.hazard_entries(edge_ok, min_level)
    m = edge_ok[data.edge]
    mc = data.cross_level >= min_level
    return (
        data.edge_key[m],
        data.edge[m],
        data.cross_key[mc],
        data.cross_node[mc],
        data.cross_edge[mc],
        data.cross_level[mc],
    )


def _chosen(keys: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Per entry of ``keys``: True when it is among the ``chosen`` route keys (``np.isin`` through a flag table
    over the key range: no sort of millions of sequence entries)."""
    if keys.size == 0 or chosen.size == 0:
        return np.zeros(keys.size, dtype=bool)
    keys = np.asarray(keys, dtype=np.int64)
    chosen = np.asarray(chosen, dtype=np.int64)
    lo = int(min(keys.min(), chosen.min()))
    table = np.zeros(int(max(keys.max(), chosen.max())) - lo + 1, dtype=bool)
    table[chosen - lo] = True
    return table[keys - lo]


#: Pieces of one street at one level closer than this (metres) are one hazard: both carriageways of a divided
#: road, and pieces either side of a short calmer stretch (about one block), which the same children walk.
HAZARD_JOIN_M = 100.0


def _per_value(col: pd.Series, func: Any) -> pd.Series:
    """``col.map(func)`` (positional), ``func`` called once per distinct value instead of once per row (a
    county's 600k routes, two categories)."""
    codes, uniq = pd.factorize(col.array, use_na_sentinel=False)
    return pd.Series(pd.Series(uniq, dtype=col.dtype).map(func).array.take(codes))


def _school_names(routes: pd.DataFrame, schools: gpd.GeoDataFrame | None) -> np.ndarray:
    """The name of each route's school (its id when unnamed or when ``schools`` is not given)."""
    sid = routes["school_id"]
    if isinstance(sid.dtype, pd.StringDtype) and len(sid):
        # text ids (one kind of missing value): each distinct school named once, then taken for the rows
        codes, uniq = pd.factorize(sid.array, use_na_sentinel=False)
        return _names_of(pd.Series(uniq, dtype=sid.dtype), schools)[codes]
    return _names_of(sid, schools)


def _names_of(sid: pd.Series, schools: gpd.GeoDataFrame | None) -> np.ndarray:
    """:func:`_school_names` of the school ids ``sid``, one per row."""
    ids = sid.astype(str).to_numpy(dtype=object)
    if schools is None or "name" not in schools.columns:
        return ids
    nm = pd.Series(
        schools["name"].to_numpy(dtype=object), index=schools["facility_id"].astype(str).to_numpy()
    )
    nm = nm[~nm.index.duplicated()]
    got = nm.reindex(ids).to_numpy(dtype=object)
    ok = pd.notna(got) & (pd.Series(got, dtype=object).astype(str).str.strip() != "").to_numpy()
    return np.where(ok, got, ids)


def _street_groups(
    network: Any, edges: np.ndarray, level: np.ndarray, join_m: float = HAZARD_JOIN_M
) -> np.ndarray:
    """Group label (0..k-1) of each edge of ``edges``: edges of one street (same name, else same OSM way) and
    the same level that touch or come within ``join_m`` metres of each other (the two carriageways of a
    divided road, pieces either side of a short gap) are one group (connected components)."""
    n = edges.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    cols = network.edges.columns
    name = network.edges["name"].to_numpy(dtype=object)[edges] if "name" in cols else np.full(n, None, object)
    way = network.edges["osmid"].to_numpy(dtype=object)[edges] if "osmid" in cols else edges
    nm = pd.Series(name, dtype=object).fillna("").astype(str).str.strip()
    blank = (nm == "").to_numpy()
    way_s = pd.Series(way, dtype=object).fillna(-1).astype(str)
    street = np.where(blank, ("way:" + way_s).to_numpy(dtype=object), ("name:" + nm).to_numpy(dtype=object))
    code = pd.factorize(pd.MultiIndex.from_arrays([street, np.asarray(level, dtype=np.int64)]))[0]
    geoms = np.asarray(network.edges.geometry.array, dtype=object)[edges]  # metric CRS (network.crs)
    i, j = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=join_m)
    same = code[i] == code[j]
    G = sp.csr_array((np.ones(int(same.sum())), (i[same], j[same])), shape=(n, n))
    _, lab = connected_components(G, directed=False)
    return pd.factorize(lab)[0].astype(np.int64)


#: school categories in the order their columns are listed
_LEVEL_ORDER = {"kindergarten": 0, "primary_school": 1, "middle_school": 2}


@dataclass
class _Tally:
    """Children, routes and schools per hazard from (hazard, route key) pairs: a home counts once per hazard."""

    children: pd.Series  # route key -> the home's children
    school: pd.Series  # route key -> school name
    origin: pd.Series  # route key -> origin id
    category: pd.Series  # route key -> school category
    cats: list[str]

    def __call__(self, pairs: pd.DataFrame, by: str) -> pd.DataFrame:
        k = pairs["key"].to_numpy()
        per = pd.DataFrame(
            {
                "by": pairs[by].to_numpy(),
                "key": k,
                "children": self.children.reindex(k).to_numpy(),
                "school": self.school.reindex(k).to_numpy(),
                "origin": self.origin.reindex(k).to_numpy(),
                "category": self.category.reindex(k).to_numpy(),
            }
        )
        g = per.groupby("by").agg(
            routes=("key", "size"), schools=("school", lambda x: "; ".join(sorted(set(x))))
        )
        homes = per.drop_duplicates(["by", "origin"])  # a home's children once, whatever school they walk to
        g["children"] = homes.groupby("by")["children"].sum().reindex(g.index).to_numpy()
        by_cat = per.groupby(["by", "category"])["children"].sum().unstack(fill_value=0.0)
        for c in self.cats:
            g[f"children_{c}"] = (
                by_cat[c].reindex(g.index, fill_value=0.0).to_numpy() if c in by_cat.columns else 0.0
            )
        return g


def _edge_facts(stress: Stress, e: np.ndarray) -> dict[str, Any]:
    """Countermeasure facts (``f_`` columns) of segment hazards from their representative edges; a sidewalk way
    rated from the road beside it has a sidewalk present and, where that road is a walk edge, its speed and
    lanes."""
    se = stress.edges
    e = np.asarray(e, dtype=np.int64)
    n = e.size

    def pos(name: str) -> np.ndarray:
        return se[name].to_numpy(dtype=np.int64)[e] if name in se.columns else np.full(n, -1, dtype=np.int64)

    road = se["road"].to_numpy(dtype=bool)[e] if "road" in se.columns else np.ones(n, dtype=bool)
    beside, beside_other = pos("beside"), pos("beside_road")
    along = ~road & ((beside >= 0) | (beside_other >= 0))
    src = np.where(~road & (beside >= 0), beside, e)  # the road whose traffic the walker is beside

    def col(name: str, at: np.ndarray) -> Any:
        return se[name].to_numpy(dtype=object)[at] if name in se.columns else None

    sidewalk = col("sidewalk", e)
    if sidewalk is not None:
        sidewalk = np.where(along, "present", sidewalk)
    return {
        "f_control": None,
        "f_island": None,
        "f_long_no_refuge": None,
        "f_lanes": col("lanes", src),
        "f_maxspeed_kmh": col("maxspeed_kmh", src),
        "f_sidewalk": sidewalk,
        "f_road": road,
        "f_road_class": col("group", e),
    }


def _crossing_facts(stress: Stress, inc: pd.DataFrame, e: np.ndarray) -> dict[str, Any]:
    """Countermeasure facts of crossing hazards from the incidence rows of the worst crossing at each node."""

    def col(name: str) -> Any:
        return inc[name].to_numpy(dtype=object) if name in inc.columns else None

    grp = stress.edges["group"].to_numpy(dtype=object) if "group" in stress.edges.columns else None
    return {
        "f_control": col("control"),
        "f_island": col("island"),
        "f_long_no_refuge": col("long_no_refuge"),
        "f_lanes": col("lanes"),
        "f_maxspeed_kmh": col("maxspeed_kmh"),
        "f_sidewalk": None,
        "f_road": True,
        "f_road_class": grp[e] if grp is not None else None,
    }


def _in_school_zone(
    geoms: np.ndarray, schools: gpd.GeoDataFrame | None, crs: Any, config: dict
) -> np.ndarray:
    """Hazards (metric geometries) within the school-zone radius (safety.toml ``[school_zone] radius_m``,
    GA/T 1215-2014 3.2: 150 m) of a school point."""
    out = np.zeros(len(geoms), dtype=bool)
    if schools is None or len(schools) == 0 or len(geoms) == 0:
        return out
    radius = float(config.get("school_zone", {}).get("radius_m", 150.0))
    pts = np.asarray(schools.to_crs(crs).geometry.array, dtype=object)
    hit, _ = shapely.STRtree(pts).query(np.asarray(geoms, dtype=object), predicate="dwithin", distance=radius)
    out[np.unique(hit)] = True
    return out
