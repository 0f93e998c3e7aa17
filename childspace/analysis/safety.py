"""Pedestrian level of traffic stress (PLTS-like levels 1-4) for walk-network edges and crossings.

Levels: 1 comfortable for a child walking alone, 2 acceptable with care, 3 stressful (accompany the child),
4 unsafe. The rules and thresholds are a table in ``childspace/config/safety.toml`` (each with its basis:
Mekuria, Furth & Nixon 2012 for the LTS idea; Oregon DOT Analysis Procedures Manual ch. 14 (2020) for
pedestrian LTS; GA/T 1215-2014 for school zones; CJJ 37-2012 and the Road Traffic Safety Law regulations for
Chinese default speeds). This module is a table-driven evaluator, vectorised over the edges table.

Walking along an edge
    class level (highway class x sidewalk state) raised/lowered by ordered modifier rules on the parsed speed
    (km/h), lanes, lighting and surface. Missing tags take the class default and are reported per edge
    (``assumed``, ``assumed_tags``).
Crossings
    rated per (node, road edge) pair: the road's speed and lanes with the control at the node (signals, marked,
    unmarked; a refuge island lowers the level). A route passing a node, entering by edge a and leaving by edge
    b, goes round the node on one side of it: it crosses the edges lying angularly between a and b on that side,
    and takes the side whose worst crossing is lower (:meth:`Stress.crossing_level`). This is a simplification:
    the walker is assumed free to be on either side of the road it arrives on, and each edge between is crossed
    at this node with the node's control. At nodes with more than 8 edges every road other than a and b is taken
    as crossed (conservative). Crossing ways (``footway=crossing``) are walked at level 1;
    the crossing is rated at the node where they meet the road; a crossing way that meets no road at any of its
    nodes is rated as a crossing of the road it crosses among the network's ``beside_roads`` (roads left out of the walk network
    because their sidewalks are separate ways), else of the configured ``unknown_road``.
Sidewalk ways
    ``footway=sidewalk`` ways are rated from the road beside them (nearest road edge, or road of
    ``beside_roads``, to their midpoint within ~20 m): walking along that road with a sidewalk, one level lower
    behind a buffer (``[sidewalk_way]``).
School zones
    :func:`school_zones` checks GA/T 1215-2014: 30 km/h on the roads within 150 m of a school gate and a marked
    crossing within 50 m of it (``[school_zone]``).
Routing cost
    ``length * length_factor[level]`` per edge plus, for each endpoint node, half of that node's crossing penalty
    for the worst road at the node that is not the edge's own road (same way id or same street name). A route
    passing a node therefore pays about one crossing penalty there; walking straight along a road through a
    junction pays only for the side streets. This is an approximation used for the search only: routes are then
    evaluated exactly on their edge and node sequence (:mod:`childspace.routes`).
"""

from __future__ import annotations

import copy
import re
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from childspace._errors import ChildspaceWarning, DataError

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "config" / "safety.toml"

#: Crossing control codes (higher = more protective).
CONTROL_NAMES = {1: "unmarked", 2: "marked", 3: "signals"}
_CONTROL_CODES = {v: k for k, v in CONTROL_NAMES.items()}
_CONTROL_ZH = {1: "无标线穿越", 2: "斑马线穿越", 3: "信号灯控制穿越"}
_CONTROL_EN = {1: "Unmarked crossing of", 2: "Zebra crossing of", 3: "Signalised crossing of"}

_SIDEWALK_ZH = {"present": "有人行道", "none": "无人行道", "separate": "人行道独立绘制", "": ""}
_SIDEWALK_EN = {"present": "with sidewalk", "none": "without sidewalk", "separate": "separate sidewalks", "": ""}


# ----------------------------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------------------------
def _merge(base: dict, extra: Mapping) -> dict:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_config(config: str | Path | Mapping[str, Any] | None = None) -> dict:
    """The safety rule table: package defaults, optionally overridden.

    Parameters
    ----------
    config : path, mapping or None
        None: ``childspace/config/safety.toml``. A TOML path or a mapping of the same shape: merged over the
        defaults (tables merged key by key; lists such as ``edge_rules`` replaced whole).

    Returns
    -------
    dict
    """
    with open(DEFAULT_PATH, "rb") as fh:
        base = tomllib.load(fh)
    if config is None:
        return base
    if isinstance(config, Mapping):
        if config.get("_resolved"):
            return dict(config)
        return _merge(base, config)
    path = Path(config)
    if not path.exists():
        raise DataError("safety config file not found", path=path, fix="give the path of a TOML file like "
                        f"{DEFAULT_PATH}")
    try:
        with open(path, "rb") as fh:
            user = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"not valid TOML ({exc})", path=path, fix="correct the TOML syntax") from exc
    return _merge(base, user)


def _cfg(config: str | Path | Mapping[str, Any] | None) -> dict:
    cfg = load_config(config)
    cfg["_resolved"] = True
    return cfg


def _split_label(label: str) -> tuple[str, str]:
    zh, _, en = str(label).partition(" ")
    return zh, en


# ----------------------------------------------------------------------------------------------------------------
# Tag parsing (vectorised)
# ----------------------------------------------------------------------------------------------------------------
def _tag(df: pd.DataFrame, *names: str) -> pd.Series:
    """A tag column as lower-case stripped strings (<NA> when missing); the first existing alias wins."""
    for name in names:
        if name in df.columns:
            return _norm(df[name])
    return pd.Series(pd.NA, index=df.index, dtype="string")


def _norm(col: pd.Series) -> pd.Series:
    """Stripped lower-case strings, computed once per distinct value."""
    codes, uniq = pd.factorize(col, use_na_sentinel=True)
    u = pd.Series(np.asarray(uniq, dtype=object), dtype="string").str.strip().str.lower()
    u = u.mask(u == "")
    vals = np.append(u.to_numpy(dtype=object, na_value=None), None)[codes]
    return pd.Series(vals, index=col.index, dtype="string")


def _isin(s: pd.Series, values: Any) -> pd.Series:
    """``s.isin(values)`` evaluated once per distinct value (False for missing)."""
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    hit = np.append(np.isin(np.asarray(uniq, dtype=object), list(values)), False)
    return pd.Series(hit[codes], index=s.index)


def _keys(edges: pd.DataFrame) -> np.ndarray:
    """Integer road identity per edge: the street name when present, else the way id."""
    m = len(edges)
    if "name" in edges.columns:
        rcodes, runiq = pd.factorize(edges["name"], use_na_sentinel=True)
        nuniq = _norm(pd.Series(np.asarray(runiq, dtype=object)))
        ucodes, nu = pd.factorize(nuniq, use_na_sentinel=True)
        ncodes = np.append(ucodes, -1)[rcodes]
        n_names = len(nu)
    else:
        ncodes, n_names = np.full(m, -1), 0
    if "osmid" in edges.columns:
        try:
            wcodes, _ = pd.factorize(edges["osmid"])
        except TypeError:  # list-valued way ids (merged ways)
            wcodes, _ = pd.factorize(pd.Series(edges["osmid"].to_numpy(dtype=object)).astype(str))
    else:
        wcodes = np.arange(m)
    return np.where(ncodes >= 0, ncodes, n_names + wcodes).astype(np.int64)


_NUM_UNIT = re.compile(r"^\s*(?P<num>\d+(?:[.,]\d+)?)\s*(?P<unit>km/h|kmh|kph|km|mph|knots)?\s*$")
_ZONE = re.compile(r"^(?P<cc>[a-z]{2}(?:-[a-z0-9]+)?):(?P<zone>.+)$")


def parse_maxspeed(values: pd.Series | list, config: Mapping[str, Any] | None = None) -> pd.Series:
    """Parse OSM ``maxspeed`` values to km/h.

    Understands ``"50"``, ``"50 km/h"``, ``"30 mph"`` (x 1.609344), zone values (``"CN:urban"``, ``"DE:zone30"``,
    ``"walk"``, ``"none"``; table in the config) and several values (``"50;30"``: the highest, conservative).

    Parameters
    ----------
    values : Series or list of str
        Raw tag values (None/NaN when missing).
    config : mapping, optional
        Safety config (``[maxspeed]`` table).

    Returns
    -------
    Series of float
        km/h; NaN where missing or not understood.
    """
    cfg = _cfg(config)["maxspeed"] if not (config and "maxspeed" in config) else config["maxspeed"]
    full = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    codes, uniq = pd.factorize(pd.Series(full.to_numpy(dtype=object)), use_na_sentinel=True)
    s = pd.Series(np.asarray(uniq, dtype=object), dtype="string").str.strip().str.lower()
    parts = s.str.split(";").explode()
    parts = parts.str.strip()
    m = parts.str.extract(_NUM_UNIT)
    num = pd.to_numeric(m["num"].str.replace(",", ".", regex=False), errors="coerce")
    unit = m["unit"].fillna("km/h")
    factor = np.where(unit == "mph", 1.609344, np.where(unit == "knots", 1.852, 1.0))
    speed = num * factor
    zones = {str(k).lower(): float(v) for k, v in cfg.get("zones", {}).items()}
    generic = {str(k).lower(): float(v) for k, v in cfg.get("generic", {}).items()}
    z = parts.map(zones).astype(float)
    speed = speed.fillna(z)
    zm = parts.str.extract(_ZONE)
    gen = zm["zone"].map(generic).astype(float)
    zone_num = pd.to_numeric(zm["zone"].str.extract(r"^zone:?(\d+)$")[0], errors="coerce")
    speed = speed.fillna(gen).fillna(zone_num)
    bare = parts.map(generic).astype(float)
    speed = speed.fillna(bare)
    out = speed.groupby(level=0, sort=False).max().reindex(s.index).to_numpy(dtype=float)
    return pd.Series(np.append(out, np.nan)[codes], index=full.index, dtype=float)


def parse_lanes(values: pd.Series | list) -> pd.Series:
    """Parse OSM ``lanes`` values (``"4"``, ``"2;3"`` -> the highest, ``"1.5"``) to float; NaN when missing."""
    full = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    codes, uniq = pd.factorize(pd.Series(full.to_numpy(dtype=object)), use_na_sentinel=True)
    s = pd.Series(np.asarray(uniq, dtype=object), dtype="string").str.strip()
    parts = s.str.split(r"[;|]", regex=True).explode().str.strip()
    num = pd.to_numeric(parts.str.extract(r"^(\d+(?:\.\d+)?)$")[0], errors="coerce")
    out = num.groupby(level=0, sort=False).max().reindex(s.index).to_numpy(dtype=float)
    return pd.Series(np.append(out, np.nan)[codes], index=full.index, dtype=float)


def _sidewalk_state(edges: pd.DataFrame, cfg: dict) -> pd.Series:
    """'present' / 'none' / 'separate' / <NA> from sidewalk, sidewalk:both/left/right."""
    sw = cfg["sidewalk"]
    present, separate, none = set(sw["present"]), set(sw["separate"]), set(sw["none"])
    main = _tag(edges, "sidewalk")
    state = pd.Series(pd.NA, index=edges.index, dtype="string")
    state = state.mask(_isin(main, present), "present").mask(_isin(main, separate), "separate")
    state = state.mask(_isin(main, none), "none")
    both = _tag(edges, "sidewalk_both", "sidewalk:both")
    left = _tag(edges, "sidewalk_left", "sidewalk:left")
    right = _tag(edges, "sidewalk_right", "sidewalk:right")
    yes = {"yes"} | present
    side_present = _isin(both, yes) | _isin(left, yes) | _isin(right, yes)
    side_sep = _isin(both, separate) | _isin(left, separate) | _isin(right, separate)
    side_none = _isin(both, none) | (_isin(left, none) & _isin(right, none))
    todo = state.isna()
    state = state.mask(todo & side_none, "none")
    state = state.mask(todo & side_sep, "separate")
    state = state.mask(todo & side_present, "present")
    return state


#: Tag columns that decide the walking-along level of an edge (aliases included).
_EDGE_TAG_COLUMNS = ("highway", "footway", "cycleway", "crossing", "maxspeed", "lanes", "oneway", "sidewalk",
                     "sidewalk_both", "sidewalk:both", "sidewalk_left", "sidewalk:left", "sidewalk_right",
                     "sidewalk:right", "lit", "surface")
#: Tag columns that decide the crossing control of a node or way.
_CONTROL_TAG_COLUMNS = ("highway", "crossing", "crossing_ref", "crossing:ref", "crossing_markings",
                        "crossing:markings", "crossing_signals", "crossing:signals", "crossing_island",
                        "crossing:island")


def _dedupe(df: pd.DataFrame, columns: tuple[str, ...]) -> tuple[pd.DataFrame, np.ndarray]:
    """Distinct combinations of ``columns`` (those present) and the code of each row's combination.

    Tag tables repeat a few hundred combinations over hundreds of thousands of rows; rules are evaluated once
    per combination and expanded with ``codes``. Missing values (None/NaN) form one value.
    """
    present = [c for c in columns if c in df.columns]
    n = len(df)
    if n == 0:
        return df[present].iloc[:0], np.zeros(0, dtype=np.int64)
    key = np.zeros(n, dtype=np.int64)
    for c in present:
        col = df[c]
        try:
            codes, uniq = pd.factorize(col, use_na_sentinel=True)
        except TypeError:  # unhashable values (lists): by their text
            codes, uniq = pd.factorize(col.astype(str), use_na_sentinel=True)
        key = key * (len(uniq) + 1) + (codes + 1)
        if key.max() > 2**40:
            key = pd.factorize(key)[0].astype(np.int64)
    codes, _ = pd.factorize(key)
    codes = codes.astype(np.int64)
    _, first = np.unique(codes, return_index=True)
    return df[present].iloc[first], codes


# ----------------------------------------------------------------------------------------------------------------
# Edge stress
# ----------------------------------------------------------------------------------------------------------------
def edge_stress(edges: pd.DataFrame, config: str | Path | Mapping[str, Any] | None = None,
                beside_roads: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Level of traffic stress of walking along each edge.

    Parameters
    ----------
    edges : DataFrame or GeoDataFrame
        Walk-network edges (columns as in ``docs/architecture.md`` "Walk-network tables"; missing tag columns
        are treated as missing tags).
    config : path, mapping or None
        Safety config (see :func:`load_config`).
    beside_roads : GeoDataFrame, optional
        Roads that are not walked because their sidewalks are separate ways (``WalkNetwork.beside_roads``); the
        sidewalk ways beside them are rated from them too.

    Returns
    -------
    DataFrame
        Same index as ``edges``: ``level`` (int 1-4), ``assumed`` (bool: some input came from a default),
        ``assumed_tags`` ("; "-joined tag names), ``reason`` (bilingual, Chinese first), ``group`` (class key of
        the config), ``road`` (bool: carries motor traffic), ``maxspeed_kmh`` and ``lanes`` (parsed or default),
        ``sidewalk`` (state used), ``crossing_way`` (bool), ``beside`` (for ``footway=sidewalk`` ways rated
        from a road edge beside them: the positional row of that road edge, else -1), ``beside_road`` (the same
        for a road of ``beside_roads``: its row, else -1) and ``buffer_m`` (estimated
        buffer between that road's carriageway and the sidewalk, m; NaN otherwise). Sidewalk ways are rated from
        the road beside them only when ``edges`` is a GeoDataFrame with a CRS (see the ``[sidewalk_way]`` table).
    """
    cfg = _cfg(config)
    uniq, codes = _dedupe(edges, _EDGE_TAG_COLUMNS)
    res = _edge_stress_rows(uniq, cfg, np.bincount(codes, minlength=len(uniq)))
    out = res.iloc[codes]
    out.index = edges.index
    out["beside"] = np.full(len(out), -1, dtype=np.int64)
    out["beside_road"] = np.full(len(out), -1, dtype=np.int64)
    out["buffer_m"] = np.full(len(out), np.nan)
    if isinstance(edges, gpd.GeoDataFrame) and edges.crs is not None and len(edges):
        out = _rate_sidewalk_ways(edges, out, cfg, beside_roads)
    return out


def _metric_lines(geom: np.ndarray, crs: Any, metric: CRS | None) -> np.ndarray:
    """Line geometries from ``crs`` to ``metric`` (unchanged when ``metric`` is None)."""
    if metric is None:
        return geom
    return np.asarray(gpd.GeoSeries(geom, crs=crs).to_crs(metric).array, dtype=object)


def _rate_sidewalk_ways(edges: gpd.GeoDataFrame, es: pd.DataFrame, cfg: dict,
                        beside_roads: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Rate ``footway=sidewalk`` ways from the road beside them (``[sidewalk_way.from_road]`` in the config).

    The road beside a sidewalk way is the road edge, or road of ``beside_roads`` (roads not walked because of
    their separate sidewalks), nearest to the way's midpoint within ``search_m`` (STRtree nearest query, metres
    in a local metric CRS). The sidewalk takes the level of walking along that road with a
    sidewalk (the road's class ``level_present`` and the edge rules, on the road's own speed and lanes), lowered by
    ``buffer_reduction`` when the estimated buffer (midpoint offset from the road centre line minus half the
    carriageway, ``lanes x lane_width_m / 2``) is at least ``buffer_min_m``. Sidewalk ways with no road within
    ``search_m`` keep ``[sidewalk_way].level``.
    """
    rule = cfg["sidewalk_way"].get("from_road")
    if not rule:
        return es
    group = es["group"].to_numpy(dtype=object)
    road = es["road"].to_numpy(dtype=bool)
    geom = np.asarray(edges.geometry.array, dtype=object)
    usable = ~(shapely.is_missing(geom) | shapely.is_empty(geom))
    sw_idx = np.flatnonzero((group == "sidewalk_way") & usable)
    road_idx = np.flatnonzero(road & usable)
    extra = beside_roads if beside_roads is not None and len(beside_roads) else None
    if sw_idx.size == 0 or (road_idx.size == 0 and extra is None):
        return es
    crs = CRS.from_user_input(edges.crs)
    metric = None
    if crs.is_geographic:
        from childspace.inputs.projection import local_crs_for
        metric = local_crs_for(edges)
    sw_g = _metric_lines(geom[sw_idx], crs, metric)
    rd_g = _metric_lines(geom[road_idx], crs, metric)
    tags = [c for c in _EDGE_TAG_COLUMNS if c in edges.columns and not c.startswith("sidewalk")]
    road_tags = pd.DataFrame(edges[tags].iloc[road_idx].to_numpy(dtype=object), columns=tags)
    n_net = road_idx.size
    if extra is not None:     # the roads beside separate sidewalks are candidates too (rows after the edges)
        x_g = np.asarray(extra.to_crs(metric if metric is not None else crs).geometry.array, dtype=object)
        rd_g = np.concatenate([rd_g, x_g])
        x_tags = pd.DataFrame({c: extra[c].to_numpy(dtype=object) if c in extra.columns else None
                               for c in tags}, columns=tags)
        road_tags = pd.concat([road_tags, x_tags], ignore_index=True)
    mid = shapely.line_interpolate_point(sw_g, 0.5, normalized=True)
    tree = shapely.STRtree(rd_g)
    pairs, dist = tree.query_nearest(mid, max_distance=float(rule["search_m"]), return_distance=True,
                                     all_matches=False)
    if pairs.shape[1] == 0:
        return es
    sw_rows = sw_idx[pairs[0]]
    cand = pairs[1]
    on_net = cand < n_net
    rd_rows = np.where(on_net, road_idx[np.minimum(cand, max(n_net - 1, 0))] if n_net else -1, -1)
    x_rows = np.where(on_net, -1, cand - n_net)
    # walking along the road beside, with a sidewalk: the road's tags with sidewalk=yes through the same rules
    beside = road_tags.iloc[cand].reset_index(drop=True)
    beside["sidewalk"] = "yes"
    uniq, codes = _dedupe(beside, tuple(beside.columns))
    along = _edge_stress_rows(uniq, cfg, np.bincount(codes, minlength=len(uniq))).iloc[codes]
    lanes = along["lanes"].to_numpy(dtype=float)
    buffer = dist - lanes * float(rule["lane_width_m"]) / 2.0
    buffered = buffer >= float(rule["buffer_min_m"])
    level = along["level"].to_numpy(dtype=np.int16)
    level = np.where(buffered, np.maximum(level - int(rule["buffer_reduction"]), 1), level)
    zh_lab, en_lab = _split_label(cfg["sidewalk_way"]["label"])
    b_txt = pd.Series(np.round(np.maximum(buffer, 0.0)).astype(int).astype(str))
    note = np.where(buffered, "；隔离约" + b_txt + "m，降" + str(int(rule["buffer_reduction"])) + "级 buffer ~"
                    + b_txt + " m: level lowered", "；无隔离 no buffer").astype(object)
    reason = (zh_lab + "（" + en_lab + "）紧邻 beside: ") + along["reason"].to_numpy(dtype=object) + note
    tags_a = along["assumed_tags"].to_numpy(dtype=object)
    cols = {"level": level.astype(np.int8), "reason": reason, "assumed_tags": tags_a, "assumed": tags_a != "",
            "beside": rd_rows.astype(np.int64), "beside_road": x_rows.astype(np.int64), "buffer_m": buffer}
    es = es.copy()
    for col, vals in cols.items():
        arr = es[col].to_numpy(copy=True)
        arr[sw_rows] = vals
        es[col] = arr
    return es


def _edge_stress_rows(edges: pd.DataFrame, cfg: dict, counts: np.ndarray) -> pd.DataFrame:
    """:func:`edge_stress` on distinct tag combinations (``counts``: edges per row, for warnings)."""
    idx = edges.index
    n = len(edges)
    hw = _tag(edges, "highway")
    footway = _tag(edges, "footway")
    cycleway = _tag(edges, "cycleway")
    crossing_tag = _tag(edges, "crossing")

    group = pd.Series("_other", index=idx, dtype=object)
    is_road = np.zeros(n, dtype=bool)
    base_level = np.full(n, int(cfg["classes_other"]["level"]), dtype=np.int16)
    d_speed = np.full(n, np.nan)
    d_lanes = np.full(n, np.nan)
    d_sidewalk = pd.Series(pd.NA, index=idx, dtype="string")
    lvl = {k: np.full(n, 0, dtype=np.int16) for k in ("none", "present", "separate")}
    label = pd.Series(cfg["classes_other"]["label"], index=idx, dtype=object)
    for key, c in cfg["classes"].items():
        m = _isin(hw, c["highway"]).fillna(False).to_numpy(dtype=bool)
        if not m.any():
            continue
        group[m] = key
        label[m] = c.get("label", key)
        if c.get("road", False):
            is_road[m] = True
            d_speed[m] = float(c["maxspeed"])
            d_lanes[m] = float(c["lanes"])
            d_sidewalk[m] = c.get("sidewalk", "none")
            for k in lvl:
                lvl[k][m] = int(c[f"level_{k}"])
        else:
            base_level[m] = int(c["level"])

    is_crossing_way = (_isin(footway, cfg["crossing_way"]["footway"]) | (cycleway == "crossing")
                       | (hw == "crossing") | crossing_tag.notna()).fillna(False).to_numpy(dtype=bool) & ~is_road
    is_sidewalk_way = _isin(footway, cfg["sidewalk_way"]["footway"]).fillna(False).to_numpy(dtype=bool) & ~is_road \
        & ~is_crossing_way
    base_level[is_crossing_way] = int(cfg["crossing_way"]["level"])
    base_level[is_sidewalk_way] = int(cfg["sidewalk_way"]["level"])
    group[is_crossing_way] = "crossing_way"
    group[is_sidewalk_way] = "sidewalk_way"
    label[is_crossing_way] = cfg["crossing_way"]["label"]
    label[is_sidewalk_way] = cfg["sidewalk_way"]["label"]

    # parsed tags
    raw_speed = _tag(edges, "maxspeed")
    speed = parse_maxspeed(raw_speed, cfg).to_numpy()
    unparsed = raw_speed.notna().to_numpy() & np.isnan(speed)
    if unparsed.any():
        vals = sorted(set(raw_speed[unparsed].astype(str)))[:5]
        warnings.warn(f"{int(counts[unparsed].sum())} edges have a maxspeed value that is not understood ({vals}); the "
                      "class default speed is used and flagged as assumed", ChildspaceWarning, stacklevel=3)
    lanes = parse_lanes(_tag(edges, "lanes")).to_numpy()
    oneway = _isin(_tag(edges, "oneway"), ["yes", "true", "1", "-1"]).fillna(False).to_numpy(dtype=bool)
    speed_assumed = is_road & np.isnan(speed)
    lanes_assumed = is_road & np.isnan(lanes)
    lanes_default = np.where(oneway, np.ceil(d_lanes / 2.0), d_lanes)
    speed = np.where(speed_assumed, d_speed, speed)
    lanes = np.where(lanes_assumed, lanes_default, lanes)
    speed = np.where(is_road, speed, np.nan)
    lanes = np.where(is_road, lanes, np.nan)

    sw = _sidewalk_state(edges, cfg)
    sw_assumed = is_road & sw.isna().to_numpy()
    sw = sw.fillna(d_sidewalk).fillna("none")
    sw_arr = np.where(is_road, sw.to_numpy(dtype=object), "")
    level = base_level.copy()
    for k in lvl:
        m = is_road & (sw_arr == k)
        level[m] = lvl[k][m]

    lit = _tag(edges, "lit").fillna("missing").to_numpy(dtype=object)
    surface = _tag(edges, "surface")
    unpaved = _isin(surface, cfg["sidewalk"].get("unpaved_surfaces", [])).fillna(False).to_numpy(dtype=bool)
    lit_assumed = np.zeros(n, dtype=bool)

    zh_mod = pd.Series("", index=idx, dtype=object)
    en_mod = pd.Series("", index=idx, dtype=object)
    for rule in cfg.get("edge_rules", []):
        w = rule.get("when", {})
        m = np.ones(n, dtype=bool)
        if "road" in w:
            m &= is_road if w["road"] else ~is_road
        if "sidewalk" in w:
            m &= np.isin(sw_arr, list(w["sidewalk"]))
        with np.errstate(invalid="ignore"):
            if "speed_min" in w:
                m &= speed >= float(w["speed_min"])
            if "speed_max" in w:
                m &= speed <= float(w["speed_max"])
            if "lanes_min" in w:
                m &= lanes >= float(w["lanes_min"])
            if "lanes_max" in w:
                m &= lanes <= float(w["lanes_max"])
        if "unpaved" in w:
            m &= unpaved if w["unpaved"] else ~unpaved
        if "lit" in w:
            # a missing lit tag never triggers the rule, but is reported as assumed where it could have
            lit_assumed |= m & (lit == "missing")
            m &= np.isin(lit, list(w["lit"]))
        if not m.any():
            continue
        new = level.copy()
        if "min_level" in rule:
            new = np.maximum(new, int(rule["min_level"]))
        if "max_level" in rule:
            new = np.minimum(new, int(rule["max_level"]))
        if "add" in rule:
            new = np.minimum(new + int(rule["add"]), 4)
        changed = m & (new != level)
        level = np.where(m, new, level)
        if changed.any():
            zh_mod[changed] = zh_mod[changed] + "；" + rule.get("zh", rule.get("name", ""))
            en_mod[changed] = en_mod[changed] + "; " + rule.get("en", rule.get("name", ""))
    level = np.clip(level, 1, 4)

    # assumptions
    parts = []
    for name, mask in (("highway", (group == "_other").to_numpy()), ("maxspeed", speed_assumed),
                       ("lanes", lanes_assumed), ("sidewalk", sw_assumed), ("lit", lit_assumed)):
        parts.append(pd.Series(np.where(mask, name, ""), index=idx))
    assumed_tags = parts[0]
    for p in parts[1:]:
        assumed_tags = assumed_tags.str.cat(p, sep="; ")
    assumed_tags = assumed_tags.str.replace(r"(; )+", "; ", regex=True).str.strip("; ")
    assumed = (assumed_tags != "").to_numpy()

    # reasons, Chinese first
    split = {x: _split_label(x) for x in pd.unique(label)}
    zh = label.map({k: v[0] for k, v in split.items()})
    en = label.map({k: v[1] for k, v in split.items()})
    sw_zh = pd.Series(sw_arr, index=idx).map(_SIDEWALK_ZH)
    sw_en = pd.Series(sw_arr, index=idx).map(_SIDEWALK_EN)
    sp = pd.Series(np.where(is_road, np.nan_to_num(speed).round().astype(int).astype(str), ""), index=idx)
    ln = pd.Series(np.where(is_road, np.nan_to_num(lanes).round().astype(int).astype(str), ""), index=idx)
    road_zh = pd.Series(np.where(is_road, "，" + sw_zh + "，" + sp + "km/h，" + ln + "车道", ""), index=idx)
    road_en = pd.Series(np.where(is_road, ", " + sw_en + ", " + sp + " km/h, " + ln + " lanes", ""), index=idx)
    reason = zh + road_zh + zh_mod + " " + en + road_en + en_mod
    assumed_note = pd.Series(np.where(assumed, "（假定 assumed: " + assumed_tags + "）", ""), index=idx)
    reason = reason + assumed_note

    return pd.DataFrame({
        "level": level.astype(np.int8),
        "assumed": assumed,
        "assumed_tags": assumed_tags.astype(object),
        "reason": reason.astype(object),
        "group": group.astype(object),
        "road": is_road,
        "maxspeed_kmh": speed,
        "lanes": lanes,
        "sidewalk": pd.Series(sw_arr, index=idx).replace("", None).astype(object),
        "crossing_way": is_crossing_way,
    }, index=idx)


# ----------------------------------------------------------------------------------------------------------------
# Crossings
# ----------------------------------------------------------------------------------------------------------------
def _control_codes(df: pd.DataFrame, cfg: dict, node: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Control code per row (3 signals, 2 marked, 1 unmarked, 0 unknown type, -1 nothing mapped), island flag,
    and whether the row is a mapped crossing at all (evaluated once per distinct tag combination)."""
    uniq, codes = _dedupe(df, _CONTROL_TAG_COLUMNS)
    code, island, mapped = _control_codes_rows(uniq, cfg, node)
    return code[codes], island[codes], mapped[codes]


def _control_codes_rows(df: pd.DataFrame, cfg: dict, node: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = cfg["crossing"]["control"]
    hw = _tag(df, "highway")
    crossing = _tag(df, "crossing")
    ref = _tag(df, "crossing_ref", "crossing:ref")
    markings = _tag(df, "crossing_markings", "crossing:markings")
    signals_tag = _tag(df, "crossing_signals", "crossing:signals")
    island_tag = _tag(df, "crossing_island", "crossing:island")
    n = len(df)
    code = np.full(n, -1, dtype=np.int8)
    mapped = (hw == "crossing").fillna(False).to_numpy(dtype=bool) | crossing.notna().fillna(False).to_numpy(dtype=bool) \
        | ref.notna().fillna(False).to_numpy(dtype=bool) | markings.notna().fillna(False).to_numpy(dtype=bool)
    code[mapped] = 0
    code[(_isin(crossing, c["unmarked"]) | (markings == "no")).fillna(False).to_numpy(dtype=bool)] = 1
    code[(_isin(crossing, c["marked"]) | _isin(ref, c["marked_ref"])
          | _isin(markings, c["marked_markings"])).fillna(False).to_numpy(dtype=bool)] = 2
    sig = _isin(crossing, c["signals"]) | (signals_tag == "yes")
    if node:
        sig = sig | _isin(hw, c["signals_highway"])
    code[sig.fillna(False).to_numpy(dtype=bool)] = 3
    island = (island_tag == "yes") | (crossing == "island")
    return code, island.fillna(False).to_numpy(dtype=bool), mapped | sig.fillna(False).to_numpy(dtype=bool)


def _node_positions(nodes: pd.DataFrame, edges: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    index = pd.Index(nodes.index)
    u = index.get_indexer(pd.Index(edges["u"]))
    v = index.get_indexer(pd.Index(edges["v"]))
    bad = (u < 0) | (v < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{int(bad.sum())} edges refer to nodes missing from the nodes table",
                        feature=f"edge row {i} (u={edges['u'].iloc[i]}, v={edges['v'].iloc[i]})",
                        fix="build nodes and edges with childspace.osm.reader.read_osm (or keep them together)")
    return u, v


def _crossing_levels(control: np.ndarray, island: np.ndarray, speed: np.ndarray, lanes: np.ndarray,
                     cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """Crossing level per row from control code (1-3), island flag, speed (km/h), lanes. Returns level and
    the index of the rule used (-1: the control's default)."""
    n = len(control)
    level = np.zeros(n, dtype=np.int16)
    rule_used = np.full(n, -1, dtype=np.int32)
    for i, rule in enumerate(cfg.get("crossing_rules", [])):
        m = (level == 0) & np.isin(control, [_CONTROL_CODES[c] for c in rule["control"]])
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
    for name, code in _CONTROL_CODES.items():
        m = (level == 0) & (control == code)
        level[m] = int(cfg["crossing"]["default"][name])
    red = int(cfg["crossing"]["control"].get("island_reduction", 1))
    level = np.where(island, np.maximum(level - red, 1), level)
    return level.astype(np.int8), rule_used


def _crossing_reason(control: np.ndarray, island: np.ndarray, speed: np.ndarray, lanes: np.ndarray,
                     label: np.ndarray) -> np.ndarray:
    """Bilingual reason per row (computed once per distinct combination)."""
    df = pd.DataFrame({"c": np.asarray(control, dtype=np.int64), "i": np.asarray(island, dtype=bool),
                       "s": np.nan_to_num(np.asarray(speed, dtype=float)).round().astype(int),
                       "l": np.nan_to_num(np.asarray(lanes, dtype=float)).round().astype(int),
                       "b": np.asarray(label, dtype=object)})
    uniq, codes = _dedupe(df, ("c", "i", "s", "l", "b"))
    out = []
    for c, i, sp_, ln, lab in uniq.itertuples(index=False, name=None):
        zh, en = _split_label(lab)
        out.append(f"{_CONTROL_ZH.get(int(c), '')}{sp_}km/h{ln}车道{zh}{'（有安全岛）' if i else ''} "
                   f"{_CONTROL_EN.get(int(c), '')} a {ln}-lane {sp_} km/h {en}{' (refuge island)' if i else ''}")
    return np.asarray(out, dtype=object)[codes] if len(out) else np.zeros(0, dtype=object)


def crossing_incidence(nodes: pd.DataFrame, edges: pd.DataFrame, edge_levels: pd.DataFrame | None = None,
                       config: str | Path | Mapping[str, Any] | None = None) -> pd.DataFrame:
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
        One row per road-edge end (one per distinct (node, edge) pair: a loop's two ends are one row): ``node`` and ``edge`` (positions in ``nodes``/``edges``), ``node_id``,
        ``edge_id`` (labels), ``level`` (1-4), ``control`` (``signals``/``marked``/``unmarked``), ``island``
        (bool), ``assumed`` (bool), ``assumed_tags``, ``reason`` (bilingual), ``road_key`` (int way identity:
        street name, else way id).
    """
    cfg = _cfg(config)
    es = edge_stress(edges, cfg) if edge_levels is None else edge_levels
    u, v = _node_positions(nodes, edges)
    ncode, nisland, _ = _control_codes(nodes, cfg, node=True)
    ecode, eisland, _ = _control_codes(edges, cfg, node=False)
    is_cw = es["crossing_way"].fillna(False).to_numpy(dtype=bool)
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
    default_unknown = _CONTROL_CODES[cfg["crossing"]["control"]["unknown"]]
    control = np.where(unknown, default_unknown, np.where(control < 1, 1, control))
    island = nisland | way_island

    road = es["road"].fillna(False).to_numpy(dtype=bool)
    eidx = np.flatnonzero(road)
    open_ = eidx[u[eidx] != v[eidx]]   # a loop (a way back to its start) meets its node once, not twice
    node_pos = np.concatenate([u[eidx], v[open_]])
    edge_pos = np.concatenate([eidx, open_])
    speed = es["maxspeed_kmh"].to_numpy()[edge_pos]
    lanes = es["lanes"].to_numpy()[edge_pos]
    ctrl = control[node_pos]
    isl = island[node_pos]
    level, _ = _crossing_levels(ctrl, isl, speed, lanes, cfg)
    groups = es["group"].to_numpy(dtype=object)[edge_pos]
    glab = {g: cfg["classes"].get(g, cfg["classes_other"]).get("label", g) for g in pd.unique(groups)}
    labels = pd.Series(groups).map(glab).to_numpy(dtype=object)
    # assumed tags: from the edge's own (per distinct value) and the node's unknown crossing type
    tcodes, tuniq = pd.factorize(pd.Series(es["assumed_tags"].to_numpy(dtype=object)).fillna(""))
    tu = pd.Series(np.asarray(tuniq, dtype=object)).astype(str)
    bits = (tu.str.contains("highway", regex=False).to_numpy(dtype=np.int64)
            + 2 * tu.str.contains("maxspeed", regex=False).to_numpy(dtype=np.int64)
            + 4 * tu.str.contains("lanes", regex=False).to_numpy(dtype=np.int64))
    combo = bits[tcodes[edge_pos]] + 8 * unknown[node_pos].astype(np.int64)
    names = np.array(["; ".join(t for b, t in zip((1, 2, 4, 8), ("highway", "maxspeed", "lanes", "crossing"))
                                if c & b) for c in range(16)], dtype=object)
    assumed_tags = names[combo]
    road_key = _keys(edges)[edge_pos]
    ctrl_names = np.array([CONTROL_NAMES.get(i, "") for i in range(4)], dtype=object)
    out = pd.DataFrame({
        "node": node_pos.astype(np.int64), "edge": edge_pos.astype(np.int64),
        "node_id": np.asarray(nodes.index)[node_pos], "edge_id": np.asarray(edges.index)[edge_pos],
        "level": level, "control": ctrl_names[ctrl],
        "island": isl, "maxspeed_kmh": speed, "lanes": lanes,
        "assumed": combo > 0, "assumed_tags": assumed_tags,
        "reason": _crossing_reason(ctrl, isl, speed, lanes, labels), "road_key": road_key,
    })
    order = np.lexsort((edge_pos, -level.astype(np.int64), node_pos))
    return out.iloc[order].reset_index(drop=True)


def _unconnected_crossing_ways(nodes: pd.DataFrame, edges: pd.DataFrame, es: pd.DataFrame,
                               inc: pd.DataFrame, cfg: dict, beside_roads: gpd.GeoDataFrame | None = None
                               ) -> pd.DataFrame:
    """Crossing-way edges of ways that meet no road at any of their nodes: rated as a crossing of the road of
    ``beside_roads`` (roads not walked because of their separate sidewalks) that the edge crosses, else of the
    configured unknown road.

    A crossing way is often split into several edges (at kerbs, islands, the road node): only the way as a whole
    tells whether it meets a road, so the pieces between a kerb and the sidewalk of a crossing whose middle
    meets the road are not rated again (the crossing is rated once, at the road node).
    """
    u, v = _node_positions(nodes, edges)
    has_road = np.zeros(len(nodes), dtype=bool)
    has_road[inc["node"].to_numpy()] = True
    is_cw = es["crossing_way"].fillna(False).to_numpy(dtype=bool)
    meets = has_road[u] | has_road[v]
    if "osmid" in edges.columns and is_cw.any():
        way = pd.Series(edges["osmid"].to_numpy(dtype=object)[is_cw])
        way_meets = pd.Series(meets[is_cw]).groupby(way.fillna(-1).astype(str).to_numpy()).transform("any")
        meets[np.flatnonzero(is_cw)] = way_meets.to_numpy(dtype=bool)
    cw = is_cw & ~meets
    idx = np.flatnonzero(cw)
    if len(idx) == 0:
        return pd.DataFrame({"edge": np.array([], dtype=np.int64), "level": np.array([], dtype=np.int8),
                             "reason": np.array([], dtype=object), "control": np.array([], dtype=object)})
    ecode, eisland, _ = _control_codes(edges.iloc[idx], cfg, node=False)
    unknown = ecode < 1
    default_unknown = _CONTROL_CODES[cfg["crossing"]["control"]["unknown"]]
    ctrl = np.where(ecode >= 1, ecode, default_unknown)
    road_cls = cfg["classes"][cfg["crossing"]["control"]["unknown_road"]]
    speed = np.full(len(idx), float(road_cls["maxspeed"]))
    lanes = np.full(len(idx), float(road_cls["lanes"]))
    labels = np.full(len(idx), road_cls["label"], dtype=object)
    crossed = _crossed_beside_roads(edges, idx, beside_roads)
    found = crossed >= 0
    if found.any():
        tags = [c for c in _EDGE_TAG_COLUMNS if c in beside_roads.columns and not c.startswith("sidewalk")]
        rt = pd.DataFrame(beside_roads[tags].iloc[crossed[found]].to_numpy(dtype=object), columns=tags)
        uniq, codes = _dedupe(rt, tuple(rt.columns))
        rs = _edge_stress_rows(uniq, cfg, np.bincount(codes, minlength=len(uniq))).iloc[codes]
        speed[found] = rs["maxspeed_kmh"].to_numpy(dtype=float)
        lanes[found] = rs["lanes"].to_numpy(dtype=float)
        labels[found] = [cfg["classes"].get(g, cfg["classes_other"]).get("label", g)
                         for g in rs["group"].to_numpy(dtype=object)]
    level, _ = _crossing_levels(ctrl, eisland, speed, lanes, cfg)
    reason = _crossing_reason(ctrl, eisland, speed, lanes, labels)
    reason = reason + np.where(unknown, "（假定 assumed: crossing）", "") + np.where(
        found, "（道路的人行道另绘 the road's sidewalks are mapped separately）",
        "（人行横道未连接道路，道路按默认 crossing way meets no road: default road assumed）")
    return pd.DataFrame({"edge": idx.astype(np.int64), "level": level, "reason": reason,
                         "control": np.array([CONTROL_NAMES[int(c)] for c in ctrl], dtype=object)})


def _crossed_beside_roads(edges: pd.DataFrame, idx: np.ndarray, beside_roads: gpd.GeoDataFrame | None,
                          tolerance_m: float = 2.0) -> np.ndarray:
    """Row of the road of ``beside_roads`` each edge ``idx`` crosses (nearest within ``tolerance_m``), else -1."""
    out = np.full(len(idx), -1, dtype=np.int64)
    if beside_roads is None or not len(beside_roads) or not isinstance(edges, gpd.GeoDataFrame) \
            or edges.crs is None:
        return out
    crs = CRS.from_user_input(edges.crs)
    metric = None
    if crs.is_geographic:
        from childspace.inputs.projection import local_crs_for
        metric = local_crs_for(edges)
    geom = _metric_lines(np.asarray(edges.geometry.array, dtype=object)[idx], crs, metric)
    roads = np.asarray(beside_roads.to_crs(metric if metric is not None else crs).geometry.array, dtype=object)
    ok = ~(shapely.is_missing(geom) | shapely.is_empty(geom))
    if not ok.any():
        return out
    pairs = shapely.STRtree(roads).query_nearest(geom[ok], max_distance=tolerance_m, all_matches=False)
    out[np.flatnonzero(ok)[pairs[0]]] = pairs[1]
    return out


def node_crossing_stress(nodes: pd.DataFrame, edges: pd.DataFrame,
                         config: str | Path | Mapping[str, Any] | None = None,
                         incidence: pd.DataFrame | None = None) -> pd.DataFrame:
    """Worst crossing at each node: the most stressful road at the node with the node's crossing control.

    Parameters
    ----------
    nodes, edges : DataFrame
        Walk-network tables.
    config : path, mapping or None
    incidence : DataFrame, optional
        Output of :func:`crossing_incidence` (computed when omitted).

    Returns
    -------
    DataFrame
        Index as ``nodes``: ``level`` (0 where no road meets the node, else 1-4), ``control``, ``n_roads``
        (road edges at the node), ``road_edge`` (label of the worst road edge), ``island``, ``assumed``,
        ``assumed_tags``, ``reason``.
    """
    cfg = _cfg(config)
    inc = crossing_incidence(nodes, edges, None, cfg) if incidence is None else incidence
    first = inc.drop_duplicates("node", keep="first").set_index("node")
    counts = inc.groupby("node").size()
    n = len(nodes)
    pos = np.arange(n)
    out = pd.DataFrame(index=nodes.index)
    out["level"] = first["level"].reindex(pos).fillna(0).astype(np.int8).to_numpy()
    out["control"] = first["control"].reindex(pos).to_numpy(dtype=object)
    out["n_roads"] = counts.reindex(pos).fillna(0).astype(np.int32).to_numpy()
    out["road_edge"] = first["edge_id"].reindex(pos).to_numpy(dtype=object)
    out["island"] = first["island"].reindex(pos).fillna(False).astype(bool).to_numpy()
    out["assumed"] = first["assumed"].reindex(pos).fillna(False).astype(bool).to_numpy()
    out["assumed_tags"] = first["assumed_tags"].reindex(pos).fillna("").to_numpy(dtype=object)
    out["reason"] = first["reason"].reindex(pos).fillna("").to_numpy(dtype=object)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Network-level model
# ----------------------------------------------------------------------------------------------------------------
#: Nodes with more edges than this use the conservative rule (every other road at the node is crossed).
MAX_ANGULAR_DEGREE = 8


@dataclass
class Stress:
    """Stress of a walk network, aligned with its positional node and edge indices.

    Attributes
    ----------
    edges : DataFrame
        :func:`edge_stress` per edge (row i = edge i); crossing ways that meet no road carry their crossing level.
    nodes : DataFrame
        :func:`node_crossing_stress` per node (row i = node i).
    incidence : DataFrame
        :func:`crossing_incidence` (node, road edge) pairs.
    ring_edge, ring_level : ndarray (n_nodes, MAX_ANGULAR_DEGREE)
        Per node, its edges in anticlockwise order of their direction leaving the node (-1 padding) and the
        level of crossing each of them there (0 for edges without motor traffic).
    degree : ndarray (n_nodes,)
        Edge ends at each node.
    top_edge, top_level : ndarray (n_nodes, 3)
        Per node the three most stressful road edges and their crossing levels (conservative rule for nodes of
        degree above ``MAX_ANGULAR_DEGREE``).
    config : dict
    """

    edges: pd.DataFrame
    nodes: pd.DataFrame
    incidence: pd.DataFrame
    ring_edge: np.ndarray
    ring_level: np.ndarray
    degree: np.ndarray
    top_edge: np.ndarray
    top_level: np.ndarray
    config: dict = field(repr=False)

    @property
    def edge_level(self) -> np.ndarray:
        """Level per edge (int8, positional)."""
        return self.edges["level"].to_numpy(dtype=np.int8)

    def _crossing(self, node: np.ndarray, enter_edge: np.ndarray, leave_edge: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Crossing level and crossed edge at ``node`` for a walker entering by ``enter_edge`` and leaving by
        ``leave_edge``.

        Rule: going round the node from the entering edge to the leaving edge, the walker can pass on either
        side; on each side it crosses the edges lying between the two (in angular order); it takes the side
        whose worst crossing is lower. A straight walk along a road past a side street on the other side crosses
        nothing; crossing a road from one side street to the opposite one crosses the road on both sides. At
        nodes with more than MAX_ANGULAR_DEGREE edges (rare) every other road is taken as crossed.
        """
        node = np.asarray(node, dtype=np.int64)
        a = np.asarray(enter_edge, dtype=np.int64)
        b = np.asarray(leave_edge, dtype=np.int64)
        q = node.size
        level = np.zeros(q, dtype=np.int8)
        which = np.full(q, -1, dtype=np.int64)
        if q == 0:
            return level, which
        D = self.ring_edge.shape[1]
        ring = self.ring_edge[node]                     # (q, D)
        lv = self.ring_level[node].astype(np.int16)
        deg = self.degree[node]
        k = np.arange(D)[None, :]
        rows = np.arange(q)
        ra = np.argmax(ring == a[:, None], axis=1)
        rb = np.argmax(ring == b[:, None], axis=1)
        found = (ring[rows, ra] == a) & (ring[rows, rb] == b) & (deg <= D) & (deg > 0)
        d1 = np.maximum(deg, 1)
        rel_k = (k - ra[:, None]) % d1[:, None]
        rel_b = ((rb - ra) % d1)[:, None]
        valid = k < deg[:, None]
        l1 = np.where(valid & (rel_k > 0) & (rel_k < rel_b), lv, -1)
        l2 = np.where(valid & (rel_k > rel_b), lv, -1)
        m1 = l1.max(axis=1)
        m2 = l2.max(axis=1)
        use1 = m1 <= m2
        lev = np.maximum(np.where(use1, m1, m2), 0)
        arg = np.where(use1, l1.argmax(axis=1), l2.argmax(axis=1))
        w = np.where(lev > 0, ring[rows, arg], -1)
        level[found] = lev[found]
        which[found] = w[found]
        # conservative fallback: every other road at the node
        rest = np.flatnonzero(~found)
        if rest.size:
            done = np.zeros(rest.size, dtype=bool)
            for j in range(self.top_edge.shape[1]):
                e = self.top_edge[node[rest], j]
                ok = ~done & (e >= 0) & (e != a[rest]) & (e != b[rest])
                level[rest[ok]] = self.top_level[node[rest[ok]], j]
                which[rest[ok]] = e[ok]
                done |= ok
        return level, which

    def crossing_level(self, node: np.ndarray, enter_edge: np.ndarray, leave_edge: np.ndarray) -> np.ndarray:
        """Crossing level (0: nothing crossed, else 1-4) at ``node`` between the route's two edges there."""
        return self._crossing(node, enter_edge, leave_edge)[0]

    def crossing_edge(self, node: np.ndarray, enter_edge: np.ndarray, leave_edge: np.ndarray) -> np.ndarray:
        """The (worst) road edge crossed at ``node`` between the route's two edges there; -1 when none."""
        return self._crossing(node, enter_edge, leave_edge)[1]


def _tables(network: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    if isinstance(network, tuple):
        nodes, edges = network
    else:
        nodes, edges = network.nodes, network.edges
    return nodes, edges


def _end_bearings(nodes: pd.DataFrame, edges: pd.DataFrame, u: np.ndarray, v: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Direction (radians) in which each edge leaves its u end and its v end, from its geometry (else the
    straight line between its nodes). Geographic coordinates have their x scaled by cos(latitude)."""
    m = len(edges)
    geo = isinstance(edges, gpd.GeoDataFrame) and edges.crs is not None
    if geo:
        g = np.asarray(edges.geometry.array, dtype=object)
        geo = not (shapely.is_missing(g) | shapely.is_empty(g)).any()
    if geo:
        coords, li = shapely.get_coordinates(g, return_index=True)
        ptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(li, minlength=m), out=ptr[1:])
        p0, p1 = coords[ptr[:-1]], coords[np.minimum(ptr[:-1] + 1, ptr[1:] - 1)]
        q0, q1 = coords[ptr[1:] - 1], coords[np.maximum(ptr[1:] - 2, ptr[:-1])]
        geographic = CRS.from_user_input(edges.crs).is_geographic
        # orient: the geometry may run v -> u
        if isinstance(nodes, gpd.GeoDataFrame) and nodes.crs is not None:
            nx_ = shapely.get_x(np.asarray(nodes.to_crs(edges.crs).geometry.array))
            ny_ = shapely.get_y(np.asarray(nodes.to_crs(edges.crs).geometry.array))
            flip = (np.hypot(p0[:, 0] - nx_[v], p0[:, 1] - ny_[v]) < np.hypot(p0[:, 0] - nx_[u], p0[:, 1] - ny_[u]))
            flip &= u != v
            p0[flip], q0[flip] = q0[flip].copy(), p0[flip].copy()
            p1[flip], q1[flip] = q1[flip].copy(), p1[flip].copy()
    else:
        if isinstance(nodes, gpd.GeoDataFrame):
            x = shapely.get_x(np.asarray(nodes.geometry.array))
            y = shapely.get_y(np.asarray(nodes.geometry.array))
            geographic = nodes.crs is None or CRS.from_user_input(nodes.crs).is_geographic
        else:
            x, y = nodes["x"].to_numpy(dtype=float), nodes["y"].to_numpy(dtype=float)
            geographic = True
        p0 = q1 = np.c_[x[u], y[u]]
        p1 = q0 = np.c_[x[v], y[v]]
    scale = np.cos(np.radians(np.clip(p0[:, 1], -89.0, 89.0))) if geographic else 1.0
    au = np.arctan2(p1[:, 1] - p0[:, 1], (p1[:, 0] - p0[:, 0]) * scale)
    av = np.arctan2(q1[:, 1] - q0[:, 1], (q1[:, 0] - q0[:, 0]) * scale)
    return au, av


def network_stress(network: Any, config: str | Path | Mapping[str, Any] | None = None) -> Stress:
    """Edge and crossing stress of a whole walk network.

    Parameters
    ----------
    network : WalkNetwork or (nodes, edges) tuple
        With a WalkNetwork, rows follow its positional node/edge indices.
    config : path, mapping or None

    Returns
    -------
    Stress
    """
    cfg = _cfg(config)
    nodes, edges = _tables(network)
    roads = getattr(network, "beside_roads", None)
    es = edge_stress(edges, cfg, beside_roads=roads)
    inc = crossing_incidence(nodes, edges, es, cfg)
    un = _unconnected_crossing_ways(nodes, edges, es, inc, cfg, beside_roads=roads)
    if len(un):
        es = es.copy()
        rows = es.index[un["edge"].to_numpy()]
        es.loc[rows, "level"] = np.maximum(es.loc[rows, "level"].to_numpy(), un["level"].to_numpy())
        es.loc[rows, "reason"] = un["reason"].to_numpy()
    nc = node_crossing_stress(nodes, edges, cfg, inc)
    n = len(nodes)
    k = 3
    top_edge = np.full((n, k), -1, dtype=np.int64)
    top_level = np.zeros((n, k), dtype=np.int8)
    rank = inc.groupby("node").cumcount().to_numpy()
    keep = rank < k
    top_edge[inc["node"].to_numpy()[keep], rank[keep]] = inc["edge"].to_numpy()[keep]
    top_level[inc["node"].to_numpy()[keep], rank[keep]] = inc["level"].to_numpy()[keep]
    # the edges around each node in angular order, with the level of crossing each of them there
    u, v = _node_positions(nodes, edges)
    au, av = _end_bearings(nodes, edges, u, v)
    m = len(edges)
    e_all = np.arange(m)
    r_node = np.concatenate([u, v])
    r_edge = np.concatenate([e_all, e_all])
    r_ang = np.concatenate([au, av])
    key = r_node.astype(np.int64) * m + r_edge
    ikey = inc["node"].to_numpy().astype(np.int64) * m + inc["edge"].to_numpy()
    lvl_map = pd.Series(inc["level"].to_numpy(), index=ikey)
    lvl_map = lvl_map[~lvl_map.index.duplicated()]
    r_lvl = lvl_map.reindex(key).fillna(0).to_numpy().astype(np.int8)
    order = np.lexsort((r_ang, r_node))
    r_node, r_edge, r_lvl = r_node[order], r_edge[order], r_lvl[order]
    degree = np.bincount(r_node, minlength=n).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(degree)[:-1]])
    pos = np.arange(r_node.size) - start[r_node]
    D = MAX_ANGULAR_DEGREE
    ring_edge = np.full((n, D), -1, dtype=np.int64)
    ring_level = np.zeros((n, D), dtype=np.int8)
    ok = pos < D
    ring_edge[r_node[ok], pos[ok]] = r_edge[ok]
    ring_level[r_node[ok], pos[ok]] = r_lvl[ok]
    return Stress(edges=es, nodes=nc, incidence=inc, ring_edge=ring_edge, ring_level=ring_level, degree=degree,
                  top_edge=top_edge, top_level=top_level, config=cfg)


@dataclass
class RoutingCost:
    """Per-edge search weights of the safest-route search (metres-equivalent, positional edges).

    ``along`` = length x length_factor[level]; ``pen_u``/``pen_v`` = half the crossing penalty at the u/v end
    (worst road at that node other than the edge's own road); ``cost`` = along + pen_u + pen_v.
    ``factor`` = length_factor[level] (per metre along the edge).
    """

    cost: np.ndarray
    along: np.ndarray
    pen_u: np.ndarray
    pen_v: np.ndarray
    factor: np.ndarray


def routing_cost(network: Any, stress: Stress | None = None,
                 config: str | Path | Mapping[str, Any] | None = None,
                 length: np.ndarray | None = None) -> RoutingCost:
    """Search weights for the "safest acceptable route".

    Parameters
    ----------
    network : WalkNetwork or (nodes, edges) tuple
    stress : Stress, optional
        From :func:`network_stress` (computed when omitted).
    config : path, mapping or None
        ``[routing]`` table: ``length_factor`` and ``crossing_penalty_m`` per level.
    length : ndarray, optional
        Edge lengths in metres (default: ``network.length`` or the edges' ``length`` column).

    Returns
    -------
    RoutingCost
        Arrays per edge in metres-equivalent. The crossing penalty of a node is folded half into each edge at
        the node, taking for each edge the worst road at the node that does not belong to the edge's own road
        (same street name or way id): crossing a road costs about one full penalty; walking along a road through
        a junction costs the side streets only. Exact route evaluation happens afterwards.
    """
    stress = network_stress(network, config) if stress is None else stress
    cfg = stress.config if config is None else _cfg(config)
    nodes, edges = _tables(network)
    if length is None:
        length = np.asarray(getattr(network, "length", edges["length"].to_numpy()), dtype=float)
    r = cfg["routing"]
    lf = np.asarray([1.0] + list(r["length_factor"]), dtype=float)  # index by level 1..4
    cp = np.asarray([0.0] + list(r["crossing_penalty_m"]), dtype=float)
    level = stress.edge_level.astype(np.int64)
    factor = lf[level]
    along = length * factor
    # per node: worst (key1, level1); worst level among other keys (level2)
    inc = stress.incidence
    first = inc.drop_duplicates("node", keep="first")
    n = len(nodes)
    key1 = np.full(n, -(2**62), dtype=np.int64)
    lvl1 = np.zeros(n, dtype=np.int64)
    key1[first["node"].to_numpy()] = first["road_key"].to_numpy()
    lvl1[first["node"].to_numpy()] = first["level"].to_numpy()
    other = inc[inc["road_key"].to_numpy() != key1[inc["node"].to_numpy()]]
    second = other.drop_duplicates("node", keep="first")
    lvl2 = np.zeros(n, dtype=np.int64)
    lvl2[second["node"].to_numpy()] = second["level"].to_numpy()
    # each edge's own road identity (edges without motor traffic: a key of their own)
    u, v = _node_positions(nodes, edges)
    m = len(edges)
    is_road = stress.edges["road"].to_numpy(dtype=bool)
    own = np.where(is_road, _keys(edges), -1 - np.arange(m, dtype=np.int64))
    pen_u = 0.5 * cp[np.where(own == key1[u], lvl2[u], lvl1[u])]
    pen_v = 0.5 * cp[np.where(own == key1[v], lvl2[v], lvl1[v])]
    return RoutingCost(cost=along + pen_u + pen_v, along=along, pen_u=pen_u, pen_v=pen_v, factor=factor)


def verdict(level: np.ndarray | pd.Series, config: str | Path | Mapping[str, Any] | None = None) -> np.ndarray:
    """``safe`` (worst level <= 2), ``caution`` (3), ``unsafe`` (4) per route; ``unreachable`` where level is 0
    or missing."""
    cfg = _cfg(config)["verdict"]
    lv = np.asarray(pd.to_numeric(pd.Series(level), errors="coerce").fillna(0), dtype=float)
    return np.select([lv <= 0, lv <= cfg["safe_max"], lv <= cfg["caution_max"]],
                     ["unreachable", "safe", "caution"], "unsafe").astype(object)


def level_label(level: int) -> str:
    """Bilingual label of a stress level (``"4 不安全 Unsafe for a child"``)."""
    return str(load_config()["levels"]["labels"][str(int(level))])



# ----------------------------------------------------------------------------------------------------------------
# School zones (GA/T 1215-2014)
# ----------------------------------------------------------------------------------------------------------------
_ZONE_COLUMNS = ["school_id", "name", "category", "n_gates", "zone_road_m", "n_segments", "max_speed_kmh",
                 "speed_ok", "share_over_limit", "share_speed_assumed", "crossing_m", "crossing_type",
                 "crossing_osmid", "crossing_ok", "compliant", "finding"]
_SEGMENT_COLUMNS = ["school_id", "edge", "osmid", "name", "highway", "maxspeed_kmh", "speed_assumed",
                    "over_limit", "length_m"]
_WGS84 = "EPSG:4326"


def _metric_tables(network: Any) -> tuple[pd.DataFrame, gpd.GeoDataFrame, Any]:
    """Nodes, edges and a metric CRS (metres) for ``network``; edges/nodes projected when geographic."""
    nodes, edges = _tables(network)
    if not isinstance(edges, gpd.GeoDataFrame) or edges.crs is None:
        raise DataError("the walk network's edges have no geometry or no CRS", feature="network edges",
                        fix="build the network with childspace.network.engine.WalkNetwork.from_frames or osm.read_osm")
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


def school_zones(network: Any, schools: gpd.GeoDataFrame, stress: Stress | None = None,
                 config: str | Path | Mapping[str, Any] | None = None, return_segments: bool = False
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
        raise DataError("the schools have no CRS", feature="schools",
                        fix="load them with childspace.inputs.loaders.load_facilities or call .set_crs('EPSG:4326')")
    sch = schools
    if "category" in sch.columns:
        sch = sch[sch["category"].isin(list(zc["categories"])).to_numpy()]
    g = np.asarray(sch.geometry.array, dtype=object)
    bad = shapely.is_missing(g) | (shapely.get_type_id(g) != 0)
    bad |= ~bad & shapely.is_empty(g)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{int(bad.sum())} schools are not points", feature=f"school row {sch.index[i]}",
                        fix="give each school a Point (the school or its gate), e.g. via io.load_facilities")
    ids = (sch["facility_id"] if "facility_id" in sch.columns else pd.Series(sch.index, index=sch.index))
    ids = ids.astype(str).to_numpy(dtype=object)
    names = sch["name"].to_numpy(dtype=object) if "name" in sch.columns else np.full(len(sch), None, dtype=object)
    cats = sch["category"].to_numpy(dtype=object) if "category" in sch.columns \
        else np.full(len(sch), None, dtype=object)
    nodes, edges, crs = _metric_tables(network)
    st = network_stress(network, cfg) if stress is None else stress
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
    if len(gates) and np.bincount(owner, minlength=n_s).max() > 1:   # several gates: union of circles
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
    sp_assumed = pd.Series(es["assumed_tags"].to_numpy(dtype=object)[pe], dtype=object).fillna("") \
        .str.contains("maxspeed", regex=False).to_numpy(dtype=bool)
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
    ng = np.asarray(nodes.geometry.array, dtype=object) if isinstance(nodes, gpd.GeoDataFrame) \
        else shapely.points(nodes["x"].to_numpy(dtype=float), nodes["y"].to_numpy(dtype=float))
    c_geom = np.concatenate([ng[n_ok], eg[e_ok]])
    c_type = np.concatenate([ncode[n_ok], ecode[e_ok]])
    node_osm = np.asarray(getattr(network, "node_osmid", nodes.index), dtype=object)
    edge_osm = edges["osmid"].to_numpy(dtype=object) if "osmid" in edges.columns else np.asarray(edges.index)
    c_osm = np.concatenate([node_osm[n_ok], edge_osm[e_ok]]).astype(object)
    c_dist = np.full(n_s, np.nan)
    c_best = np.full(n_s, -1, dtype=np.int64)
    if len(c_geom) and len(gates):
        ctree = shapely.STRtree(c_geom)
        (qi, ci), dist = ctree.query_nearest(gates, max_distance=float(zc["search_m"]), return_distance=True,
                                             all_matches=False)
        order = np.lexsort((dist, owner[qi]))
        so, sd, sc = owner[qi][order], dist[order], ci[order]
        first = np.r_[True, so[1:] != so[:-1]][:so.size]   # none within search_m: empty, not [True]
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
    f_speed = pd.Series([
        f"校门{r}米内有{k}段道路限速高于{lim}km/h（最高{ms:.0f}km/h{f'，其中{a}段为假定限速' if a else ''}） "
        f"{k} road segment(s) within {r} m of the gate above {lim} km/h (max {ms:.0f} km/h"
        f"{f', {a} with assumed speed' if a else ''})"
        for k, ms, a in zip(n_over, np.nan_to_num(max_speed), n_over_assumed)], dtype=object)
    dist_txt = [f"（最近{d:.0f}米）" if np.isfinite(d) else f"（{int(zc['search_m'])}米内没有）" for d in c_dist]
    dist_en = [f" (nearest {d:.0f} m)" if np.isfinite(d) else f" (none within {int(zc['search_m'])} m)"
               for d in c_dist]
    f_cross = pd.Series([f"校门{cm}米内无人行横道{z} No marked crossing within {cm} m of the gate{e}"
                         for z, e in zip(dist_txt, dist_en)], dtype=object)
    f_ok = (f"符合GA/T 1215-2014校园周边限速{lim}km/h与{cm}米内人行横道要求 Meets GA/T 1215-2014: "
            f"{lim} km/h around the gate and a marked crossing within {cm} m")
    f_noroad = f"校门{r}米内无机动车道路 No road within {r} m of the gate"
    f_assumed = "（限速按道路等级假定 speed limits assumed from the road class）"
    parts = np.where(speed_ok, "", f_speed.to_numpy(dtype=object)).astype(object)
    parts = np.where(crossing_ok, parts, np.where(parts == "", f_cross.to_numpy(dtype=object),
                                                  parts + " | " + f_cross.to_numpy(dtype=object)))
    compliant = speed_ok & crossing_ok
    finding = np.where(compliant, f_ok, parts).astype(object)
    finding = np.where(speed_ok & (share_ass > 0), finding + f_assumed, finding)
    finding = np.where(zone_len <= 0, finding + " | " + f_noroad, finding)

    pts = gpd.GeoSeries(np.asarray(sch.geometry.array, dtype=object), crs=sch.crs).to_crs(_WGS84)
    out = gpd.GeoDataFrame({
        "school_id": ids, "name": names, "category": cats, "n_gates": n_gates.astype(np.int64),
        "zone_road_m": zone_len, "n_segments": n_seg.astype(np.int64), "max_speed_kmh": max_speed,
        "speed_ok": speed_ok, "share_over_limit": share_over, "share_speed_assumed": share_ass,
        "crossing_m": c_dist, "crossing_type": ctype, "crossing_osmid": cosm, "crossing_ok": crossing_ok,
        "compliant": compliant, "finding": finding,
    }, geometry=pts.values, crs=_WGS84)
    if not return_segments:
        return out

    def col(name: str) -> np.ndarray:
        return edges[name].to_numpy(dtype=object)[pe] if name in edges.columns else np.full(pe.size, None)

    segs = gpd.GeoDataFrame({
        "school_id": ids[ps] if ps.size else np.zeros(0, dtype=object), "edge": pe, "osmid": col("osmid"),
        "name": col("name"), "highway": col("highway"), "maxspeed_kmh": speed, "speed_assumed": sp_assumed,
        "over_limit": over, "length_m": seg_len,
    }, geometry=gpd.GeoSeries(seg, crs=crs).to_crs(_WGS84).values, crs=_WGS84)
    return out, segs
