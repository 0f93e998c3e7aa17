"""School zones (GA/T 1215-2014 中小学与幼儿园校园周边道路交通设施设置规范): 30 km/h on the roads within 150 m of a
school gate and a marked crossing within 50 m of it (``[school_zone]`` in ``config/safety.toml``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from childspace._errors import DataError
from childspace.analysis._safety_config import _cfg
from childspace.analysis._safety_crossings import _CONTROL_CODES, _control_codes
from childspace.analysis._safety_network import network_stress

# ----------------------------------------------------------------------------------------------------------------
# School zones (GA/T 1215-2014)
# ----------------------------------------------------------------------------------------------------------------
_ZONE_COLUMNS = [
    "school_id",
    "name",
    "category",
    "n_gates",
    "zone_road_m",
    "n_segments",
    "max_speed_kmh",
    "speed_ok",
    "share_over_limit",
    "share_speed_assumed",
    "crossing_m",
    "crossing_type",
    "crossing_osmid",
    "crossing_ok",
    "compliant",
    "finding",
]
_SEGMENT_COLUMNS = [
    "school_id",
    "edge",
    "osmid",
    "name",
    "highway",
    "maxspeed_kmh",
    "speed_assumed",
    "over_limit",
    "length_m",
]
_WGS84 = "EPSG:4326"


def _tables(network: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    if isinstance(network, tuple):
        return network
    return network.nodes, network.edges


def _metric_tables(network: Any) -> tuple[pd.DataFrame, gpd.GeoDataFrame, Any]:
    """Nodes, edges and a metric CRS (metres) for ``network``; edges/nodes projected when geographic."""
    nodes, edges = _tables(network)
    if not isinstance(edges, gpd.GeoDataFrame) or edges.crs is None:
        raise DataError(
            "the walk network's edges have no geometry or no CRS",
            feature="network edges",
            fix="build the network with childspace.network.engine.WalkNetwork.from_frames or osm.read_osm",
        )
    crs = CRS.from_user_input(edges.crs)
    if crs.is_geographic:
        from childspace.inputs.projection import local_crs_for

        metric = local_crs_for(edges)
        edges = edges.to_crs(metric)
        if isinstance(nodes, gpd.GeoDataFrame) and nodes.crs is not None:
            nodes = nodes.to_crs(metric)
        crs = metric
    return nodes, edges, crs


def _gates(schools: gpd.GeoDataFrame, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Gate points (in ``crs``) and the school row of each: the ``entrances`` (lists of (lon, lat), WGS84) when
    given, else the school point."""
    pts = np.asarray(schools.to_crs(crs).geometry.array, dtype=object)
    n = len(schools)
    owner = [np.arange(n)]
    geoms = [pts]
    if "entrances" in schools.columns:
        ent = schools["entrances"].to_numpy(dtype=object)
        has = np.array([isinstance(e, (list, tuple, np.ndarray)) and len(e) > 0 for e in ent], dtype=bool)
        if has.any():
            rows = np.flatnonzero(has)
            counts = np.array([len(ent[i]) for i in rows])
            xy = np.asarray([tuple(p)[:2] for i in rows for p in ent[i]], dtype=float)
            g = gpd.GeoSeries(shapely.points(xy), crs=_WGS84).to_crs(crs)
            keep = ~has
            owner = [np.flatnonzero(keep), np.repeat(rows, counts)]
            geoms = [pts[keep], np.asarray(g.array, dtype=object)]
    return np.concatenate(geoms), np.concatenate(owner)


def school_zones(
    network: Any,
    schools: gpd.GeoDataFrame,
    stress: Any = None,
    config: str | Path | Mapping[str, Any] | None = None,
    return_segments: bool = False,
) -> gpd.GeoDataFrame | tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Check each school's surroundings against GA/T 1215-2014 (30 km/h within 150 m, a marked crossing within
    50 m of the gate).

    The zone of a school is the straight-line circle of ``[school_zone].radius_m`` (150 m) around each gate:
    GA/T 1215-2014 3.2 defines the roads around a school as the roads "校园出入口周边不少于150 m范围内" (within
    at least 150 m around the school access), a distance around the access, not along the network. Gates are the
    school's ``entrances`` when given (lists of (lon, lat) in WGS84, as from :mod:`childspace.features`), else
    the school point. The zone roads are the road edges (motor traffic; footways, paths, sidewalk and crossing
    ways excluded) intersecting a zone, clipped to it. Their speed limit is the tagged ``maxspeed`` or the class
    default (then flagged as assumed). The crossing requirement is met by a marked or signalised crossing (a
    node, or a crossing way) within ``crossing_m`` (50 m) of a gate, straight-line; crossings whose type is not
    mapped do not count.

    Parameters
    ----------
    network : WalkNetwork or (nodes, edges) tuple
        Walk network with geometry and a CRS (any; distances are computed in metres in a metric CRS).
    schools : GeoDataFrame
        Facilities (Points, any CRS), e.g. from :func:`childspace.inputs.loaders.load_facilities`; with a ``category``
        column only the categories of ``[school_zone].categories`` are kept. ``facility_id`` (else the index)
        identifies a school; optional ``name``, ``entrances``.
    stress : Stress, optional
        :func:`network_stress` of ``network`` (computed when omitted).
    config : path, mapping or None
        Safety config (``[school_zone]`` table).
    return_segments : bool
        Also return the zone road segments (for mapping).

    Returns
    -------
    GeoDataFrame, or (GeoDataFrame, GeoDataFrame) when ``return_segments``
        Per school, EPSG:4326, geometry = the school point: ``school_id``, ``name``, ``category``, ``n_gates``,
        ``zone_road_m`` (road length within the zone, m), ``n_segments``, ``max_speed_kmh``, ``speed_ok`` (every
        zone road <= the limit; True when there is no road), ``share_over_limit`` and ``share_speed_assumed``
        (shares of zone road length over the limit / with an assumed speed), ``crossing_m`` (straight-line
        distance from the nearest gate to the nearest marked or signalised crossing, m; NaN when none within
        ``search_m``), ``crossing_type`` (``marked``/``signals``), ``crossing_osmid`` (OSM id of that node or way),
        ``crossing_ok``, ``compliant`` (both), ``finding`` (bilingual, Chinese first).
        Segments, EPSG:4326, LineStrings clipped to the zone: ``school_id``, ``edge`` (positional edge index),
        ``osmid``, ``name``, ``highway``, ``maxspeed_kmh``, ``speed_assumed``, ``over_limit``, ``length_m``.
    """
    cfg = _cfg(config if config is not None else (stress.config if stress is not None else None))
    zc = cfg["school_zone"]
    if not isinstance(schools, gpd.GeoDataFrame) or schools.crs is None:
        raise DataError(
            "the schools have no CRS",
            feature="schools",
            fix="load them with childspace.inputs.loaders.load_facilities or call .set_crs('EPSG:4326')",
        )
    sch = schools
    if "category" in sch.columns:
        sch = sch[sch["category"].isin(list(zc["categories"])).to_numpy()]
    g = np.asarray(sch.geometry.array, dtype=object)
    bad = shapely.is_missing(g) | (shapely.get_type_id(g) != 0)
    bad |= ~bad & shapely.is_empty(g)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{int(bad.sum())} schools are not points",
            feature=f"school row {sch.index[i]}",
            fix="give each school a Point (the school or its gate), e.g. via io.load_facilities",
        )
    ids = sch["facility_id"] if "facility_id" in sch.columns else pd.Series(sch.index, index=sch.index)
    ids = ids.astype(str).to_numpy(dtype=object)
    names = (
        sch["name"].to_numpy(dtype=object) if "name" in sch.columns else np.full(len(sch), None, dtype=object)
    )
    cats = (
        sch["category"].to_numpy(dtype=object)
        if "category" in sch.columns
        else np.full(len(sch), None, dtype=object)
    )
    nodes, edges, crs = _metric_tables(network)
    st = network_stress(network, config) if stress is None else stress  # the profile decided by the data
    cfg = st.config if config is None else cfg
    es = st.edges
    n_s = len(sch)
    radius = float(zc["radius_m"])
    limit = float(zc["speed_limit_kmh"])
    cross_m = float(zc["crossing_m"])

    gates, owner = _gates(sch, crs) if n_s else (np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64))
    n_gates = np.bincount(owner, minlength=n_s)

    # zone roads: road edges within `radius` of a gate, clipped to the school's zone (union of gate circles)
    road = es["road"].to_numpy(dtype=bool) & ~es["crossing_way"].to_numpy(dtype=bool)
    eg = np.asarray(edges.geometry.array, dtype=object)
    road_idx = np.flatnonzero(road & ~(shapely.is_missing(eg) | shapely.is_empty(eg)))
    circles = shapely.buffer(gates, radius, quad_segs=32)
    if len(gates) and np.bincount(owner, minlength=n_s).max() > 1:  # several gates: union of circles
        zone = gpd.GeoSeries(circles).groupby(owner).agg(lambda s: shapely.union_all(np.asarray(s.array)))
        zone_poly = np.asarray(zone.reindex(np.arange(n_s)).to_numpy(), dtype=object)
    else:
        zone_poly = np.empty(n_s, dtype=object)
        zone_poly[owner] = circles
    tree = shapely.STRtree(eg[road_idx])
    if n_s:
        gi, ti = tree.query(gates, predicate="dwithin", distance=radius)
    else:
        gi, ti = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pair = pd.DataFrame({"s": owner[gi], "e": road_idx[ti]}).drop_duplicates()
    ps, pe = pair["s"].to_numpy(dtype=np.int64), pair["e"].to_numpy(dtype=np.int64)
    seg = shapely.intersection(eg[pe], zone_poly[ps])
    seg_len = shapely.length(seg)
    keep = seg_len > 1e-6
    ps, pe, seg, seg_len = ps[keep], pe[keep], seg[keep], seg_len[keep]
    speed = es["maxspeed_kmh"].to_numpy(dtype=float)[pe]
    sp_assumed = (
        pd.Series(es["assumed_tags"].to_numpy(dtype=object)[pe], dtype=object)
        .fillna("")
        .str.contains("maxspeed", regex=False)
        .to_numpy(dtype=bool)
    )
    over = speed > limit + 1e-9
    zone_len = np.bincount(ps, weights=seg_len, minlength=n_s)
    over_len = np.bincount(ps, weights=seg_len * over, minlength=n_s)
    ass_len = np.bincount(ps, weights=seg_len * sp_assumed, minlength=n_s)
    n_over = np.bincount(ps, weights=over.astype(float), minlength=n_s).astype(int)
    n_over_assumed = np.bincount(ps, weights=(over & sp_assumed).astype(float), minlength=n_s).astype(int)
    n_seg = np.bincount(ps, minlength=n_s)
    max_speed = np.full(n_s, np.nan)
    if ps.size:
        np.fmax.at(max_speed, ps, speed)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_over = np.where(zone_len > 0, over_len / zone_len, 0.0)
        share_ass = np.where(zone_len > 0, ass_len / zone_len, 0.0)
    speed_ok = n_over == 0

    # nearest marked or signalised crossing (nodes, and crossing ways) to any gate
    allowed = {_CONTROL_CODES[c] for c in zc["crossing_controls"]}
    ncode, _, _ = _control_codes(nodes, cfg, node=True)
    ecode, _, _ = _control_codes(edges, cfg, node=False)
    n_ok = np.flatnonzero(np.isin(ncode, list(allowed)))
    e_ok = np.flatnonzero(np.isin(ecode, list(allowed)) & es["crossing_way"].to_numpy(dtype=bool))
    ng = (
        np.asarray(nodes.geometry.array, dtype=object)
        if isinstance(nodes, gpd.GeoDataFrame)
        else shapely.points(nodes["x"].to_numpy(dtype=float), nodes["y"].to_numpy(dtype=float))
    )
    c_geom = np.concatenate([ng[n_ok], eg[e_ok]])
    c_type = np.concatenate([ncode[n_ok], ecode[e_ok]])
    node_osm = np.asarray(getattr(network, "node_osmid", nodes.index), dtype=object)
    edge_osm = edges["osmid"].to_numpy(dtype=object) if "osmid" in edges.columns else np.asarray(edges.index)
    c_osm = np.concatenate([node_osm[n_ok], edge_osm[e_ok]]).astype(object)
    c_dist = np.full(n_s, np.nan)
    c_best = np.full(n_s, -1, dtype=np.int64)
    if len(c_geom) and len(gates):
        ctree = shapely.STRtree(c_geom)
        (qi, ci), dist = ctree.query_nearest(
            gates, max_distance=float(zc["search_m"]), return_distance=True, all_matches=False
        )
        order = np.lexsort((dist, owner[qi]))
        so, sd, sc = owner[qi][order], dist[order], ci[order]
        first = np.r_[True, so[1:] != so[:-1]][: so.size]  # none within search_m: empty, not [True]
        c_dist[so[first]] = sd[first]
        c_best[so[first]] = sc[first]
    found = c_best >= 0
    crossing_ok = found & (c_dist <= cross_m + 1e-9)
    type_names = np.array([None, "unmarked", "marked", "signals"], dtype=object)
    ctype = np.full(n_s, None, dtype=object)
    cosm = np.full(n_s, None, dtype=object)
    ctype[found] = type_names[c_type[c_best[found]]]
    cosm[found] = c_osm[c_best[found]]

    # findings, Chinese first
    r, lim, cm = int(round(radius)), int(round(limit)), int(round(cross_m))
    f_speed = pd.Series(
        [
            f"校门{r}米内有{k}段道路限速高于{lim}km/h（最高{ms:.0f}km/h{f'，其中{a}段为假定限速' if a else ''}） "
            f"{k} road segment(s) within {r} m of the gate above {lim} km/h (max {ms:.0f} km/h"
            f"{f', {a} with assumed speed' if a else ''})"
            for k, ms, a in zip(n_over, np.nan_to_num(max_speed), n_over_assumed)
        ],
        dtype=object,
    )
    dist_txt = [
        f"（最近{d:.0f}米）" if np.isfinite(d) else f"（{int(zc['search_m'])}米内没有）" for d in c_dist
    ]
    dist_en = [
        f" (nearest {d:.0f} m)" if np.isfinite(d) else f" (none within {int(zc['search_m'])} m)"
        for d in c_dist
    ]
    f_cross = pd.Series(
        [
            f"校门{cm}米内无人行横道{z} No marked crossing within {cm} m of the gate{e}"
            for z, e in zip(dist_txt, dist_en)
        ],
        dtype=object,
    )
    f_ok = (
        f"符合GA/T 1215-2014校园周边限速{lim}km/h与{cm}米内人行横道要求 Meets GA/T 1215-2014: "
        f"{lim} km/h around the gate and a marked crossing within {cm} m"
    )
    f_noroad = f"校门{r}米内无机动车道路 No road within {r} m of the gate"
    f_assumed = "（限速按道路等级假定 speed limits assumed from the road class）"
    parts = np.where(speed_ok, "", f_speed.to_numpy(dtype=object)).astype(object)
    parts = np.where(
        crossing_ok,
        parts,
        np.where(parts == "", f_cross.to_numpy(dtype=object), parts + " | " + f_cross.to_numpy(dtype=object)),
    )
    compliant = speed_ok & crossing_ok
    finding = np.where(compliant, f_ok, parts).astype(object)
    finding = np.where(speed_ok & (share_ass > 0), finding + f_assumed, finding)
    finding = np.where(zone_len <= 0, finding + " | " + f_noroad, finding)

    pts = gpd.GeoSeries(np.asarray(sch.geometry.array, dtype=object), crs=sch.crs).to_crs(_WGS84)
    out = gpd.GeoDataFrame(
        {
            "school_id": ids,
            "name": names,
            "category": cats,
            "n_gates": n_gates.astype(np.int64),
            "zone_road_m": zone_len,
            "n_segments": n_seg.astype(np.int64),
            "max_speed_kmh": max_speed,
            "speed_ok": speed_ok,
            "share_over_limit": share_over,
            "share_speed_assumed": share_ass,
            "crossing_m": c_dist,
            "crossing_type": ctype,
            "crossing_osmid": cosm,
            "crossing_ok": crossing_ok,
            "compliant": compliant,
            "finding": finding,
        },
        geometry=pts.values,
        crs=_WGS84,
    )
    if not return_segments:
        return out

    def col(name: str) -> np.ndarray:
        return edges[name].to_numpy(dtype=object)[pe] if name in edges.columns else np.full(pe.size, None)

    segs = gpd.GeoDataFrame(
        {
            "school_id": ids[ps] if ps.size else np.zeros(0, dtype=object),
            "edge": pe,
            "osmid": col("osmid"),
            "name": col("name"),
            "highway": col("highway"),
            "maxspeed_kmh": speed,
            "speed_assumed": sp_assumed,
            "over_limit": over,
            "length_m": seg_len,
        },
        geometry=gpd.GeoSeries(seg, crs=crs).to_crs(_WGS84).values,
        crs=_WGS84,
    )
    return out, segs
