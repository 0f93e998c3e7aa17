"""Crossings: the level of crossing each road at each node (internal to :mod:`childspace.analysis.safety`).

Control at a node (signals, marked, unmarked; refuge island) from the node's tags, else from the crossing ways
there; an untyped crossing within ``signals_near_m`` of a signal node on the same road reads as signalised
(flagged). The level comes from ``[[crossing_rules]]`` on the crossed road's speed and lanes, raised by the
``[[crossing_floors]]`` of its class (an unmarked crossing of a primary road is not a calm one at 30 km/h); a
refuge island lowers it by at most one level and not below ``island_floor`` on fast or wide roads; long crossings
without a refuge are flagged. A road is crossed at a node with a crossing mapped or with a way that is not of that
road (:func:`_crossed_at`). Roads closed to pedestrians but met at grade by a walk way are crossings too
(:func:`closed_road_crossings`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from childspace._errors import ChildspaceWarning
from childspace.analysis._safety_config import (
    CONTROL_CODES,
    CONTROL_NAMES,
    EDGE_TAG_COLUMNS,
    ConfigLike,
    control_codes,
    distinct_rows,
    node_positions,
    resolved_config,
    road_keys,
    split_label,
)
from childspace.analysis._safety_edges import edge_contexts, edge_stress, edge_stress_rows, metric_lines

__all__ = [
    "CONTROL_CODES",
    "CONTROL_NAMES",
    "closed_road_crossings",
    "control_codes",
    "IncidenceParts",
    "crossing_incidence",
    "incidence_levels",
    "incidence_parts",
    "node_positions",
    "unconnected_crossing_ways",
]

_CONTROL_ZH = {1: "无标线穿越", 2: "斑马线穿越", 3: "信号灯控制穿越"}
_CONTROL_EN = {1: "Unmarked crossing of", 2: "Zebra crossing of", 3: "Signalised crossing of"}


def _node_xy(nodes: pd.DataFrame, edges: pd.DataFrame | None = None) -> tuple[np.ndarray, Any]:
    """Node coordinates in metres and their CRS (nodes' own metric CRS, else a local one; None when unknown)."""
    from childspace.inputs.projection import local_crs

    if isinstance(nodes, gpd.GeoDataFrame) and nodes.crs is not None and len(nodes):
        crs = CRS.from_user_input(nodes.crs)
        g = nodes.geometry
        if crs.is_geographic:
            c = shapely.get_coordinates(np.asarray(g.array, dtype=object))
            crs = local_crs(float(np.nanmean(c[:, 0])), float(np.nanmean(c[:, 1])))
            g = g.to_crs(crs)
        return shapely.get_coordinates(np.asarray(g.array, dtype=object)), crs
    if {"x", "y"} <= set(nodes.columns) and len(nodes):
        x = nodes["x"].to_numpy(dtype=float)
        y = nodes["y"].to_numpy(dtype=float)
        if np.nanmax(np.abs(x)) <= 180 and np.nanmax(np.abs(y)) <= 90:
            crs = local_crs(float(np.nanmean(x)), float(np.nanmean(y)))
            pts = gpd.GeoSeries(shapely.points(x, y), crs=4326).to_crs(crs)
            return shapely.get_coordinates(np.asarray(pts.array, dtype=object)), crs
        return np.c_[x, y], None
    return np.full((len(nodes), 2), np.nan), None


def _crossing_levels(
    control: np.ndarray,
    island: np.ndarray,
    speed: np.ndarray,
    lanes: np.ndarray,
    cfg: dict,
    group: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Crossing level per row from control code (1-3), island flag, speed (km/h), lanes and, when given, the
    class key of the road crossed (``group``: the ``[[crossing_floors]]`` raise the level of a class, before a
    refuge island lowers it). Returns level and the index of the rule used (-1: the control's default; -2 - i:
    raised to floor i)."""
    n = len(control)
    level = np.zeros(n, dtype=np.int16)
    rule_used = np.full(n, -1, dtype=np.int32)
    for i, rule in enumerate(cfg.get("crossing_rules", [])):
        m = (level == 0) & np.isin(control, [CONTROL_CODES[c] for c in rule["control"]])
        with np.errstate(invalid="ignore"):
            if "speed_min" in rule:
                m &= speed >= float(rule["speed_min"])
            if "speed_max" in rule:
                m &= speed <= float(rule["speed_max"])
            if "lanes_min" in rule:
                m &= lanes >= float(rule["lanes_min"])
            if "lanes_max" in rule:
                m &= lanes <= float(rule["lanes_max"])
        level[m] = int(rule["level"])
        rule_used[m] = i
    for name, code in CONTROL_CODES.items():
        m = (level == 0) & (control == code)
        level[m] = int(cfg["crossing"]["default"][name])
    if group is not None:
        grp = np.asarray(group, dtype=object)
        for i, fl in enumerate(cfg.get("crossing_floors", [])):
            m = np.isin(control, [CONTROL_CODES[c] for c in fl["control"]]) & np.isin(
                grp, list(fl["classes"])
            )
            m &= level < int(fl["min_level"])
            level[m] = int(fl["min_level"])
            rule_used[m] = -2 - i
    c = cfg["crossing"]["control"]
    red = int(c.get("island_reduction", 1))
    with np.errstate(invalid="ignore"):
        big = (speed >= float(c.get("island_floor_speed", 60))) | (
            lanes >= float(c.get("island_floor_lanes", 4))
        )
    floor = np.where(big, np.minimum(int(c.get("island_floor", 3)), level), 1)
    level = np.where(island, np.maximum(level - red, floor), level)
    return level.astype(np.int8), rule_used


def _long_crossing(island: np.ndarray, lanes: np.ndarray, cfg: dict) -> np.ndarray:
    c = cfg["crossing"]["control"]
    with np.errstate(invalid="ignore"):
        return ~np.asarray(island, dtype=bool) & (
            np.nan_to_num(lanes) * float(c.get("lane_width_m", 3.5)) > float(c.get("long_crossing_m", 16.0))
        )


def _crossing_reason(
    control: np.ndarray,
    island: np.ndarray,
    speed: np.ndarray,
    lanes: np.ndarray,
    label: np.ndarray,
    speed_assumed: np.ndarray | None = None,
    lanes_assumed: np.ndarray | None = None,
    control_note: np.ndarray | None = None,
    long_: np.ndarray | None = None,
) -> np.ndarray:
    """Bilingual reason per row (computed once per distinct combination). Assumed values are said to be assumed
    ("crossing of a primary road, speed not mapped: assumed 60 km/h")."""
    uniq, codes = _crossing_reason_codes(
        control, island, speed, lanes, label, speed_assumed, lanes_assumed, control_note, long_
    )
    return uniq[codes] if len(uniq) else np.zeros(0, dtype=object)


def _crossing_reason_codes(
    control: np.ndarray,
    island: np.ndarray,
    speed: np.ndarray,
    lanes: np.ndarray,
    label: np.ndarray,
    speed_assumed: np.ndarray | None = None,
    lanes_assumed: np.ndarray | None = None,
    control_note: np.ndarray | None = None,
    long_: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_crossing_reason` as its distinct texts and the code of each row's text."""
    k = len(control)
    z = np.zeros(k, dtype=bool)
    df = pd.DataFrame(
        {
            "c": np.asarray(control, dtype=np.int64),
            "i": np.asarray(island, dtype=bool),
            "s": np.nan_to_num(np.asarray(speed, dtype=float)).round().astype(int),
            "l": np.nan_to_num(np.asarray(lanes, dtype=float)).round().astype(int),
            "b": np.asarray(label, dtype=object),
            "sa": z if speed_assumed is None else np.asarray(speed_assumed, dtype=bool),
            "la": z if lanes_assumed is None else np.asarray(lanes_assumed, dtype=bool),
            "cn": np.full(k, "", dtype=object)
            if control_note is None
            else np.asarray(control_note, dtype=object),
            "lg": z if long_ is None else np.asarray(long_, dtype=bool),
        }
    )
    uniq, codes = distinct_rows(df, tuple(df.columns))
    out = []
    for c, i, sp_, ln, lab, sa, la, cn, lg in uniq.itertuples(index=False, name=None):
        zh, en = split_label(lab)
        sp_zh = f"限速未标注（假定{sp_}km/h）" if sa else f"{sp_}km/h"
        sp_en = f"speed not mapped: assumed {sp_} km/h" if sa else f"{sp_} km/h"
        ln_zh = f"车道数未标注（假定{ln}车道）" if la else f"{ln}车道"
        ln_en = f"lanes not mapped: assumed {ln}" if la else f"{ln} lanes"
        cn_zh, _, cn_en = str(cn or "").partition("|")
        out.append(
            f"{_CONTROL_ZH.get(int(c), '')}{zh}（{sp_zh}，{ln_zh}）{cn_zh}{'（有安全岛）' if i else ''}"
            f"{'（过街距离长且无安全岛）' if lg else ''} "
            f"{_CONTROL_EN.get(int(c), '')} a {en} ({sp_en}, {ln_en}){cn_en}"
            f"{' (refuge island)' if i else ''}{' (long crossing without refuge)' if lg else ''}"
        )
    return np.asarray(out, dtype=object), codes


_NOTE_ASSUMED = "（类型未标注，假定为{zh}）| (type not mapped: assumed {en})"
_NOTE_SIGNALS = (
    "（类型未标注，旁有信号灯，按信号控制）| (type not mapped: signals nearby, read as signalised)"
)


def _notes(base: np.ndarray, used: np.ndarray, cfg: dict, default_unknown: int) -> np.ndarray:
    """The note of each crossing's reason ("zh|en"): its type's (0 none, 1 assumed, 2 signals nearby) and the
    class floor that raised its level (``used`` <= -2, from :func:`_crossing_levels`), as a take of the few
    distinct texts (a fixed-width numpy text array of every pair would be large)."""
    uz, ue = (_CONTROL_ZH[default_unknown].replace("穿越", ""), CONTROL_NAMES[default_unknown])
    kinds = ["", _NOTE_ASSUMED.format(zh=uz, en=ue), _NOTE_SIGNALS]
    floors = [""] + [
        f"（{fl.get('zh', fl.get('name', ''))}）| ({fl.get('en', fl.get('name', ''))})"
        for fl in cfg.get("crossing_floors", [])
    ]
    texts = []
    for k in kinds:
        kz, _, ke = k.partition("|")
        for f in floors:
            fz, _, fe = f.partition("|")
            texts.append(f"{kz}{fz}|{ke}{fe}" if (k or f) else "")
    f_idx = np.where(used <= -2, -1 - used, 0)
    return np.asarray(texts, dtype=object)[np.asarray(base, dtype=np.int64) * len(floors) + f_idx]


def _signals_nearby(
    nodes: pd.DataFrame, node_pos: np.ndarray, road_key: np.ndarray, control_raw: np.ndarray, cfg: dict
) -> np.ndarray:
    """Per incidence row: True where the node's crossing type is unknown and a signal node lies within
    ``signals_near_m`` on the same road (same road key)."""
    near = float(cfg["crossing"]["control"].get("signals_near_m", 0.0))
    out = np.zeros(node_pos.size, dtype=bool)
    unk = np.flatnonzero(control_raw[node_pos] == 0)
    sig_nodes = np.flatnonzero(control_raw == 3)
    if near <= 0 or unk.size == 0 or sig_nodes.size == 0:
        return out
    xy, _ = _node_xy(nodes)
    if not np.isfinite(xy).all():
        return out
    cand = np.unique(node_pos[unk])
    tree = shapely.STRtree(shapely.points(xy[sig_nodes]))
    ci, si = tree.query(shapely.points(xy[cand]), predicate="dwithin", distance=near)
    if ci.size == 0:
        return out
    pairs = pd.DataFrame({"node": cand[ci], "sig": sig_nodes[si]})
    keys = pd.DataFrame({"n": node_pos, "k": road_key}).drop_duplicates()
    a = pairs.merge(keys.rename(columns={"n": "node"}), on="node")
    a = a.merge(keys.rename(columns={"n": "sig"}), on=["sig", "k"])  # the signal node is on the same road
    good = pd.MultiIndex.from_arrays([a["node"].to_numpy(), a["k"].to_numpy()])
    rows = pd.MultiIndex.from_arrays([node_pos, road_key])
    out[:] = rows.isin(good) & (control_raw[node_pos] == 0)
    return out


def crossing_incidence(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    edge_levels: pd.DataFrame | None = None,
    config: ConfigLike = None,
) -> pd.DataFrame:
    """Crossing level of every (node, road edge) pair: what it takes to cross that road at that node.

    Parameters
    ----------
    nodes, edges : DataFrame
        Walk-network tables; ``edges.u``/``edges.v`` must be labels of ``nodes.index``.
    edge_levels : DataFrame, optional
        Output of :func:`edge_stress` for ``edges`` (computed when omitted).
    config : path, mapping or None

    Returns
    -------
    DataFrame
        One row per (node, road edge) pair where the road is crossed (a crossing mapped at the node, or a way
        there that is not of that road: a node joining two ways of one road is none): ``node`` and ``edge``
        (positions in ``nodes``/``edges``), ``node_id``, ``edge_id`` (labels), ``level`` (1-4), ``control``
        (``signals``/``marked``/``unmarked``), ``island`` (bool), ``maxspeed_kmh``, ``lanes``, ``assumed`` (bool),
        ``assumed_tags``, ``reason`` (bilingual), ``road_key`` (int way identity: street name, else way id),
        ``long_no_refuge`` (bool: longer than ``long_crossing_m`` without a refuge island), ``signals_inferred``
        (bool), ``closed_road`` (False here; True on the rows of :func:`closed_road_crossings`).
    """
    cfg = resolved_config(config)
    es = edge_stress(edges, cfg) if edge_levels is None else edge_levels
    parts = incidence_parts(
        nodes,
        edges,
        es["crossing_way"].fillna(False).to_numpy(dtype=bool),
        es["road"].fillna(False).to_numpy(dtype=bool),
        es["group"].to_numpy(dtype=object),
        cfg,
    )
    return incidence_levels(parts, es, cfg)[0]


@dataclass
class IncidenceParts:
    """What :func:`crossing_incidence` derives from the network and the config's class and control tables
    alone (the same for every variant of a profile): the (node, road edge) pairs in their first-seen order,
    each node's mapped control (before the unknown type takes the variant's default) and the pairs' road keys,
    islands, signals nearby and class labels."""

    u: np.ndarray
    v: np.ndarray
    control: np.ndarray
    unknown: np.ndarray
    node_pos: np.ndarray
    edge_pos: np.ndarray
    node_id: np.ndarray
    edge_id: np.ndarray
    road_key: np.ndarray
    sig_near: np.ndarray
    island: np.ndarray
    labels: np.ndarray
    groups: np.ndarray


def incidence_parts(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    is_cw: np.ndarray,
    road: np.ndarray,
    group: np.ndarray,
    cfg: dict,
) -> IncidenceParts:
    """The variant-independent parts of :func:`crossing_incidence` (``is_cw``, ``road``, ``group``: per edge,
    from :func:`edge_stress`)."""
    u, v = node_positions(nodes, edges)
    ncode, nisland, _ = control_codes(nodes, cfg, node=True)
    ecode, eisland, _ = control_codes(edges, cfg, node=False)
    # control from crossing ways at each node: the least protective definite value, else unknown (0)
    n = len(nodes)
    way_def = np.full(n, 99, dtype=np.int16)
    way_unknown = np.zeros(n, dtype=bool)
    way_island = np.zeros(n, dtype=bool)
    for ends in (u, v):
        cw = is_cw & (ecode >= 1)
        np.minimum.at(way_def, ends[cw], ecode[cw])
        way_unknown[ends[is_cw & (ecode <= 0)]] = True
        way_island[ends[is_cw & eisland]] = True
    control = np.where(ncode >= 1, ncode, np.where(way_def < 99, way_def, -1)).astype(np.int16)
    unknown = (control < 1) & ((ncode == 0) | way_unknown)
    raw = np.where(unknown, 0, control)  # 0: a crossing of unknown type; -1: nothing mapped
    island = nisland | way_island

    eidx = np.flatnonzero(road)
    node_pos = np.concatenate([u[eidx], v[eidx]])
    edge_pos = np.concatenate([eidx, eidx])
    # a way that loops back to its own node meets it twice: one (node, edge) row
    pair = pd.DataFrame({"n": node_pos, "e": edge_pos}).drop_duplicates()
    node_pos, edge_pos = pair["n"].to_numpy(dtype=np.int64), pair["e"].to_numpy(dtype=np.int64)
    keys = road_keys(edges)
    crossed = _crossed_at(u, v, road, keys, (control >= 1) | unknown, n)
    keep = crossed[node_pos]
    node_pos, edge_pos = node_pos[keep], edge_pos[keep]
    road_key = keys[edge_pos]
    sig_near = _signals_nearby(nodes, node_pos, road_key, raw, cfg)
    groups = np.asarray(group, dtype=object)[edge_pos]
    glab = {g: cfg["classes"].get(g, cfg["classes_other"]).get("label", g) for g in pd.unique(groups)}
    labels = pd.Series(groups).map(glab).to_numpy(dtype=object)
    return IncidenceParts(
        u=u,
        v=v,
        control=control,
        unknown=unknown,
        node_pos=node_pos,
        edge_pos=edge_pos,
        node_id=np.asarray(nodes.index)[node_pos],
        edge_id=np.asarray(edges.index)[edge_pos],
        road_key=road_key,
        sig_near=sig_near,
        island=island[node_pos],
        labels=labels,
        groups=groups,
    )


def _crossed_at(
    u: np.ndarray, v: np.ndarray, road: np.ndarray, keys: np.ndarray, mapped: np.ndarray, n: int
) -> np.ndarray:
    """Per node: whether a road meeting it is crossed there.

    A road is crossed where a walker comes from a way that is not that road: a node with a crossing mapped (node
    tags, crossing ways), or a node of at least three edges among which one is not of the road (a walk path, or a
    road of another name, else another way). A node that only joins pieces of one road (the same name; a road
    split into two ways, a dual carriageway splitting), or where one way just continues into another (two
    edges), is not a crossing of it: nothing crosses the road there.
    """
    m = u.size
    # one entry per (node, edge): a loop meets its node once
    ne = pd.DataFrame({"n": np.concatenate([u, v]), "e": np.r_[np.arange(m), np.arange(m)]}).drop_duplicates()
    nn, ee = ne["n"].to_numpy(dtype=np.int64), ne["e"].to_numpy(dtype=np.int64)
    degree = np.bincount(nn, minlength=n)
    # the road identity of each edge at the node; a walk path is a way of its own (never the road crossed)
    k = np.where(road[ee], keys[ee], -1 - ee)
    nk = pd.DataFrame({"n": nn, "k": k}).drop_duplicates()
    n_keys = np.bincount(nk["n"].to_numpy(dtype=np.int64), minlength=n)
    return np.asarray(mapped, dtype=bool) | ((degree >= 3) & (n_keys >= 2))


def _text_column(uniq: np.ndarray, codes: np.ndarray) -> Any:
    """``uniq[codes]`` as pandas' ``str`` array (what a DataFrame makes of an object array of texts), converted
    once per distinct text; an empty one stays an object array, as the DataFrame would keep it."""
    if codes.size == 0:
        return np.asarray(uniq, dtype=object)[codes]
    return pd.array(np.asarray(uniq, dtype=object), dtype="str").take(codes)


def incidence_levels(parts: IncidenceParts, es: pd.DataFrame, cfg: dict) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`crossing_incidence` from its variant-independent ``parts``, the edge levels ``es`` and ``cfg``;
    also the level of each pair in the parts' order."""
    p = parts
    node_pos, edge_pos, sig_near, isl = p.node_pos, p.edge_pos, p.sig_near, p.island
    default_unknown = CONTROL_CODES[cfg["crossing"]["control"]["unknown"]]
    control = np.where(p.unknown, default_unknown, np.where(p.control < 1, 1, p.control))
    speed = es["maxspeed_kmh"].to_numpy()[edge_pos]
    lanes = es["lanes"].to_numpy()[edge_pos]
    ctrl = control[node_pos].astype(np.int64)
    ctrl = np.where(sig_near, 3, ctrl)
    is_unknown = p.unknown[node_pos] & ~sig_near
    level, used = _crossing_levels(ctrl, isl, speed, lanes, cfg, p.groups)
    # assumed tags: from the edge's own (per distinct value) and the node's unknown crossing type
    tags_e = es["assumed_tags"].iloc[edge_pos]  # the pairs' edges only, factorized on the column's own array
    tcodes, tuniq = pd.factorize(
        tags_e.fillna("") if tags_e.dtype == "str" else tags_e.astype(object).fillna("")
    )
    tu = pd.Series(np.asarray(tuniq, dtype=object)).astype(str)
    bits = (
        tu.str.contains("highway", regex=False).to_numpy(dtype=np.int64)
        + 2 * tu.str.contains("maxspeed", regex=False).to_numpy(dtype=np.int64)
        + 4 * tu.str.contains("lanes", regex=False).to_numpy(dtype=np.int64)
    )
    combo = (bits[tcodes] if tcodes.size else np.zeros(0, dtype=np.int64)) + 8 * (
        is_unknown | sig_near
    ).astype(np.int64)
    names = np.array(
        [
            "; ".join(t for b, t in zip((1, 2, 4, 8), ("highway", "maxspeed", "lanes", "crossing")) if c & b)
            for c in range(16)
        ],
        dtype=object,
    )
    ctrl_names = np.array([CONTROL_NAMES.get(i, "") for i in range(4)], dtype=object)
    note = _notes(np.where(sig_near, 2, np.where(is_unknown, 1, 0)), used, cfg, default_unknown)
    long_ = _long_crossing(isl, lanes, cfg)
    r_uniq, r_codes = _crossing_reason_codes(
        ctrl, isl, speed, lanes, p.labels, (combo & 2) > 0, (combo & 4) > 0, note, long_
    )
    # the rows in their final order (node, worst level first, edge) before the frame is built
    o = np.lexsort((edge_pos, -level.astype(np.int64), node_pos))
    out = pd.DataFrame(
        {
            "node": node_pos[o],
            "edge": edge_pos[o],
            "node_id": p.node_id[o],
            "edge_id": p.edge_id[o],
            "level": level[o],
            "control": _text_column(ctrl_names, ctrl[o]),
            "island": isl[o],
            "maxspeed_kmh": speed[o],
            "lanes": lanes[o],
            "assumed": combo[o] > 0,
            "assumed_tags": _text_column(names, combo[o]),
            "reason": _text_column(r_uniq, r_codes[o]),
            "road_key": p.road_key[o],
            "long_no_refuge": long_[o],
            "signals_inferred": sig_near[o],
            "closed_road": np.zeros(node_pos.size, dtype=bool),
        }
    )
    return out, level


def closed_road_crossings(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    roads: gpd.GeoDataFrame | None,
    cfg: dict,
    tolerance_m: float = 0.5,
) -> pd.DataFrame:
    """At-grade crossings of roads closed to pedestrians: walk nodes that are vertices of such a road.

    ``roads`` are the roads not walked (``WalkNetwork.beside_roads``); those with ``dropped == "closed"`` (foot=no,
    motorroad=yes, trunks with sidewalk=no, motorways) count. A walk node within ``tolerance_m`` of one of their
    vertices is where a walk way meets the road at grade (OSM ways crossing at grade share the node; bridges and
    tunnels do not). Returns one row per (node, road direction): ``node`` (position), ``angle`` (direction of the
    road leaving the node, radians), ``level`` (``[closed_road].level``), ``reason``, ``road_row``, ``edge`` (a
    walk edge at the node, for reporting).
    """
    out, message = closed_crossing_rows(nodes, edges, roads, cfg, tolerance_m)
    if message:
        warnings.warn(message, ChildspaceWarning, stacklevel=3)
    return out


def closed_crossing_rows(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    roads: gpd.GeoDataFrame | None,
    cfg: dict,
    tolerance_m: float = 0.5,
) -> tuple[pd.DataFrame, str | None]:
    """:func:`closed_road_crossings` and its warning's text (None: nothing to warn), so that the rows can be
    shared by the variants of a model while each model still warns."""
    cols = ["node", "angle", "level", "reason", "road_row", "edge", "name"]
    empty = pd.DataFrame({c: [] for c in cols})
    if roads is None or not len(roads) or "dropped" not in roads.columns or roads.crs is None:
        return empty, None
    closed = np.flatnonzero((roads["dropped"].astype(str) == "closed").to_numpy())
    if closed.size == 0:
        return empty, None
    xy, crs = _node_xy(nodes)
    if crs is None or not np.isfinite(xy).all():
        return empty, None
    rg = np.asarray(roads.iloc[closed].to_crs(crs).geometry.array, dtype=object)
    coords, li = shapely.get_coordinates(rg, return_index=True)
    if coords.size == 0:
        return empty, None
    tree = shapely.STRtree(shapely.points(coords))
    ni, vi = tree.query(shapely.points(xy), predicate="dwithin", distance=tolerance_m)
    if ni.size == 0:
        return empty, None
    u, v = node_positions(nodes, edges)
    first_edge = np.full(len(nodes), -1, dtype=np.int64)
    m = np.arange(len(edges))
    first_edge[v[::-1]] = m[::-1]
    first_edge[u[::-1]] = m[::-1]
    keep = first_edge[ni] >= 0
    ni, vi = ni[keep], vi[keep]
    rows_n, rows_a, rows_r = [], [], []
    for step in (-1, 1):  # the road leaves the node towards its previous and its next vertex
        nb = vi + step
        ok = (nb >= 0) & (nb < len(coords))
        ok[ok] &= li[nb[ok]] == li[vi[ok]]
        d = coords[nb[ok]] - coords[vi[ok]]
        rows_n.append(ni[ok])
        rows_a.append(np.arctan2(d[:, 1], d[:, 0]))
        rows_r.append(closed[li[vi[ok]]])
    node = np.concatenate(rows_n)
    road_row = np.concatenate(rows_r)
    names = (
        roads["name"].to_numpy(dtype=object)[road_row]
        if "name" in roads.columns
        else np.full(node.size, None, dtype=object)
    )
    hw = (
        roads["highway"].to_numpy(dtype=object)[road_row]
        if "highway" in roads.columns
        else np.full(node.size, None, dtype=object)
    )
    zh, en = split_label(cfg["closed_road"]["label"])
    lvl = int(cfg["closed_road"]["level"])
    reason = np.array(
        [
            f"平面穿越{zh}{n or ''}（{h}，不准行人通行） At-grade crossing of a {en}"
            f"{' ' + str(n) if n else ''} ({h}, closed to pedestrians)"
            for n, h in zip(names, hw)
        ],
        dtype=object,
    )
    out = pd.DataFrame(
        {
            "node": node.astype(np.int64),
            "angle": np.concatenate(rows_a),
            "level": lvl,
            "reason": reason,
            "road_row": road_row.astype(np.int64),
            "edge": first_edge[node],
            "name": names,
        }
    )
    out = out.drop_duplicates(["node", "road_row", "angle"]).reset_index(drop=True)
    message = None
    if len(out):
        message = (
            f"{out['node'].nunique()} walk nodes meet a road closed to pedestrians at grade (foot=no, "
            f"motorroad=yes or a trunk without sidewalk): rated as level-{lvl} crossings"
        )
    return out, message


def unconnected_crossing_ways(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    es: pd.DataFrame,
    inc: pd.DataFrame,
    cfg: dict,
    beside_roads: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Crossing-way edges of ways that meet no road at any of their nodes: rated as a crossing of the road they
    cross geometrically (a walked road edge, else a road of ``beside_roads``), else at
    ``[crossing_way].unknown_road_level`` with the road flagged as assumed (no default road class is invented).

    A crossing way is often split into several edges (at kerbs, islands, the road node): only the way as a whole
    tells whether it meets a road, so the pieces between a kerb and the sidewalk of a crossing whose middle
    meets the road are not rated again (the crossing is rated once, at the road node).
    """
    parts = unconnected_parts(
        nodes,
        edges,
        es["crossing_way"].fillna(False).to_numpy(dtype=bool),
        es["road"].to_numpy(dtype=bool),
        inc["node"].to_numpy(),
        cfg,
        beside_roads,
    )
    return unconnected_levels(parts, es, cfg)


@dataclass
class UnconnectedParts:
    """What :func:`unconnected_crossing_ways` derives from geometry and tags alone (the same for every variant
    of a profile): the crossing-way edges ``idx`` that meet no road, their control codes and islands, and per
    source of roads the ways that cross one (``rows``, positions in ``idx``) with the walked road edge crossed
    (``edge``) or the crossed roads' tags as distinct rows (``uniq``, ``codes``)."""

    idx: np.ndarray
    ecode: np.ndarray
    eisland: np.ndarray
    sources: list[tuple[np.ndarray, np.ndarray | None, pd.DataFrame | None, np.ndarray | None]]


def unconnected_parts(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    is_cw: np.ndarray,
    road: np.ndarray,
    inc_nodes: np.ndarray,
    cfg: dict,
    beside_roads: gpd.GeoDataFrame | None = None,
    beside_context: np.ndarray | None = None,
) -> UnconnectedParts:
    """The variant-independent parts of :func:`unconnected_crossing_ways` (``is_cw`` and ``road`` per edge from
    :func:`edge_stress`, ``inc_nodes`` the nodes of :func:`crossing_incidence`; ``beside_context`` the context of
    each road of ``beside_roads`` read with the network, :func:`edge_contexts`, else read from those roads
    alone)."""
    u, v = node_positions(nodes, edges)
    has_road = np.zeros(len(nodes), dtype=bool)
    has_road[inc_nodes] = True
    meets = has_road[u] | has_road[v]
    if "osmid" in edges.columns and is_cw.any():
        way = pd.Series(edges["osmid"].to_numpy(dtype=object)[is_cw])
        way_meets = pd.Series(meets[is_cw]).groupby(way.fillna(-1).astype(str).to_numpy()).transform("any")
        meets[np.flatnonzero(is_cw)] = way_meets.to_numpy(dtype=bool)
    cw = is_cw & ~meets
    idx = np.flatnonzero(cw)
    sources: list[tuple[np.ndarray, np.ndarray | None, pd.DataFrame | None, np.ndarray | None]] = []
    if len(idx) == 0:
        return UnconnectedParts(idx, np.zeros(0, dtype=np.int8), np.zeros(0, dtype=bool), sources)
    ecode, eisland, _ = control_codes(edges.iloc[idx], cfg, node=False)
    found = np.zeros(len(idx), dtype=bool)
    # the walked road edges it crosses, then the roads not walked
    road_rows = np.flatnonzero(road)
    src_sets: list[tuple[Any, bool]] = [(edges.iloc[road_rows] if len(road_rows) else None, True)]
    if beside_roads is not None and len(beside_roads):
        src_sets.append((beside_roads, False))
    for roads, walked in src_sets:
        todo = ~found
        if roads is None or not todo.any():
            continue
        crossed = _crossed_roads(edges, idx[todo], roads)
        hit = crossed >= 0
        if not hit.any():
            continue
        rows = np.flatnonzero(todo)[hit]
        if walked:
            sources.append((rows, road_rows[crossed[hit]], None, None))
        else:
            cols = [c for c in EDGE_TAG_COLUMNS if c in roads.columns and not c.startswith("sidewalk")]
            rt = pd.DataFrame(roads[cols].iloc[crossed[hit]].to_numpy(dtype=object), columns=cols)
            rt["_context"] = (
                beside_context[crossed[hit]]
                if beside_context is not None and len(beside_context) == len(roads)
                else edge_contexts(roads.iloc[crossed[hit]], cfg)[0]
            )
            uniq, codes = distinct_rows(rt, tuple(rt.columns))
            sources.append((rows, None, uniq, codes))
        found[rows] = True
    return UnconnectedParts(idx, ecode, eisland, sources)


def unconnected_levels(parts: UnconnectedParts, es: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """:func:`unconnected_crossing_ways` from its variant-independent ``parts``, the edge levels and ``cfg``."""
    idx = parts.idx
    if len(idx) == 0:
        return pd.DataFrame(
            {
                "edge": np.array([], dtype=np.int64),
                "level": np.array([], dtype=np.int8),
                "reason": np.array([], dtype=object),
                "control": np.array([], dtype=object),
                "assumed_tags": np.array([], dtype=object),
            }
        )
    ecode, eisland = parts.ecode, parts.eisland
    unknown = ecode < 1
    default_unknown = CONTROL_CODES[cfg["crossing"]["control"]["unknown"]]
    ctrl = np.where(ecode >= 1, ecode, default_unknown)
    speed = np.full(len(idx), np.nan)
    lanes = np.full(len(idx), np.nan)
    labels = np.full(len(idx), "", dtype=object)
    groups = np.full(len(idx), "", dtype=object)
    sa = np.zeros(len(idx), dtype=bool)
    la = np.zeros(len(idx), dtype=bool)
    found = np.zeros(len(idx), dtype=bool)
    for rows, edge_rows, uniq, codes in parts.sources:
        if edge_rows is not None:
            rated_rows = es.iloc[edge_rows]
        else:
            assert uniq is not None and codes is not None
            rated_rows = edge_stress_rows(uniq, cfg, np.bincount(codes, minlength=len(uniq))).iloc[codes]
        speed[rows] = rated_rows["maxspeed_kmh"].to_numpy(dtype=float)
        lanes[rows] = rated_rows["lanes"].to_numpy(dtype=float)
        at = pd.Series(rated_rows["assumed_tags"].to_numpy(dtype=object)).fillna("").astype(str)
        sa[rows] = at.str.contains("maxspeed", regex=False).to_numpy()
        la[rows] = at.str.contains("lanes", regex=False).to_numpy()
        groups[rows] = rated_rows["group"].to_numpy(dtype=object)
        labels[rows] = [cfg["classes"].get(g, cfg["classes_other"]).get("label", g) for g in groups[rows]]
        found[rows] = True
    level = np.full(len(idx), int(cfg["crossing_way"].get("unknown_road_level", 3)), dtype=np.int8)
    reason = np.full(len(idx), "", dtype=object)
    if found.any():
        lv, used = _crossing_levels(
            ctrl[found], eisland[found], speed[found], lanes[found], cfg, groups[found]
        )
        level[found] = lv
        note = _notes(unknown[found].astype(np.int64), used, cfg, default_unknown)
        reason[found] = _crossing_reason(
            ctrl[found],
            eisland[found],
            speed[found],
            lanes[found],
            labels[found],
            sa[found],
            la[found],
            note,
        )
    nf = ~found
    if nf.any():
        reason[nf] = (
            f"人行横道未连接道路，所穿越道路不明，假定{int(cfg['crossing_way'].get('unknown_road_level', 3))}级"
            f" Crossing way meets no mapped road: the road crossed is unknown, level "
            f"{int(cfg['crossing_way'].get('unknown_road_level', 3))} assumed"
        )
    tags = np.where(found, np.where(sa, "maxspeed", ""), "road")
    tags = np.where(la & found, np.where(tags == "", "lanes", tags + "; lanes"), tags)
    tags = np.where(unknown, np.where(tags == "", "crossing", tags + "; crossing"), tags)
    return pd.DataFrame(
        {
            "edge": idx.astype(np.int64),
            "level": level,
            "reason": reason,
            "control": np.array([CONTROL_NAMES[int(c)] for c in ctrl], dtype=object),
            "assumed_tags": tags.astype(object),
        }
    )


def _crossed_roads(
    edges: pd.DataFrame, idx: np.ndarray, roads: pd.DataFrame, tolerance_m: float = 2.0
) -> np.ndarray:
    """Row of ``roads`` each edge ``idx`` crosses (nearest within ``tolerance_m``), else -1."""
    out = np.full(len(idx), -1, dtype=np.int64)
    if (
        roads is None
        or not len(roads)
        or not isinstance(edges, gpd.GeoDataFrame)
        or edges.crs is None
        or not isinstance(roads, gpd.GeoDataFrame)
        or roads.crs is None
    ):
        return out
    crs = CRS.from_user_input(edges.crs)
    metric = None
    if crs.is_geographic:
        from childspace.inputs.projection import local_crs_for

        metric = local_crs_for(edges)
    geom = metric_lines(np.asarray(edges.geometry.array, dtype=object)[idx], crs, metric)
    rg = np.asarray(roads.to_crs(metric if metric is not None else crs).geometry.array, dtype=object)
    ok = ~(shapely.is_missing(geom) | shapely.is_empty(geom))
    if not ok.any():
        return out
    pairs = shapely.STRtree(rg).query_nearest(geom[ok], max_distance=tolerance_m, all_matches=False)
    out[np.flatnonzero(ok)[pairs[0]]] = pairs[1]
    return out


#: the former private names, still imported by analysis.school_zones and tests/test_safety_rules.py; use
#: ``CONTROL_CODES`` and ``control_codes``
_CONTROL_CODES = CONTROL_CODES
_control_codes = control_codes
