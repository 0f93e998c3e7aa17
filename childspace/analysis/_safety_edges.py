"""Walking along an edge: the level of each walk-network edge (internal to :mod:`childspace.analysis.safety`).

Class level (highway class x sidewalk state), then the ordered ``[[edge_rules]]`` of the config on the parsed
speed (km/h), lanes, lighting and surface. Missing tags take the profile's default for the class and the edge's
context (urban/rural); each assumed value is named in the reason ("speed not mapped: assumed 50 km/h").
Footway=sidewalk ways and paths parallel to a road take the road's context (``[sidewalk_way.from_road]``).
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace._errors import ChildspaceWarning
from childspace.analysis._safety_config import (
    EDGE_TAG_COLUMNS,
    ConfigLike,
    ProfileLike,
    class_defaults,
    distinct_rows,
    isin_once,
    parse_lanes,
    parse_maxspeed,
    resolved_config,
    sidewalk_state,
    split_label,
    tag_values,
)
from childspace.analysis._safety_context import edge_contexts, metric_crs, metric_lines
from childspace.analysis._safety_geom import BAND_ENDS, BAND_IN, BAND_OUT, overlap_rank

__all__ = [
    "BesideParts",
    "EdgeParts",
    "edge_contexts",
    "edge_levels",
    "edge_parts",
    "edge_stress",
    "edge_stress_rows",
    "metric_lines",
]

_SIDEWALK_ZH = {"present": "有人行道", "none": "无人行道", "separate": "人行道独立绘制", "": ""}
_SIDEWALK_EN = {
    "present": "with sidewalk",
    "none": "without sidewalk",
    "separate": "separate sidewalks",
    "": "",
}

_EDGE_COLUMNS = [
    "level",
    "assumed",
    "assumed_tags",
    "reason",
    "group",
    "road",
    "maxspeed_kmh",
    "lanes",
    "sidewalk",
    "crossing_way",
    "context",
]


def edge_stress(
    edges: pd.DataFrame,
    config: ConfigLike = None,
    beside_roads: gpd.GeoDataFrame | None = None,
    profile: ProfileLike = None,
) -> pd.DataFrame:
    """Level of traffic stress of walking along each edge.

    Parameters
    ----------
    edges : DataFrame or GeoDataFrame
        Walk-network edges (columns as in ``docs/architecture.md`` "Walk-network tables"; missing tag columns
        are treated as missing tags).
    config : path, mapping or None
        Safety config (see :func:`childspace.analysis.safety.load_config`).
    beside_roads : GeoDataFrame, optional
        Roads that are not walked (``WalkNetwork.beside_roads``: roads whose sidewalks are separate ways, roads
        closed to pedestrians); sidewalk ways and paths beside them are rated from them too.
    profile : str, path, mapping or None
        Defaults profile (see :func:`childspace.analysis.safety.load_profile`); None: the config's.

    Returns
    -------
    DataFrame
        Same index as ``edges``: ``level`` (int 1-4), ``assumed`` (bool: some input came from a default),
        ``assumed_tags`` ("; "-joined tag names), ``reason`` (bilingual, Chinese first; assumed values are
        named as such), ``group`` (class key of the config), ``road`` (bool: carries motor traffic),
        ``maxspeed_kmh`` and ``lanes`` (parsed or default), ``sidewalk`` (state used), ``crossing_way`` (bool),
        ``context`` (``urban``/``rural``), ``inferred_sidewalk`` (bool: a path rated from the road beside it),
        ``beside`` (for ways rated from a road edge beside them: the positional row of that road edge, else -1),
        ``beside_road`` (the same for a road of ``beside_roads``) and ``buffer_m`` (estimated buffer between that
        road's carriageway and the way, m; NaN otherwise). Ways are rated from roads beside them only when
        ``edges`` is a GeoDataFrame with a CRS.
    """
    cfg = resolved_config(config, profile)
    parts, rows = edge_parts(edges, cfg, beside_roads)
    return edge_levels(parts, cfg, rows)


@dataclass
class BesideParts:
    """The ways rated from the road beside them, by geometry and tags alone (the same for every variant of a
    profile): ``rows`` (positional edges), the road edge or road of ``beside_roads`` beside each (-1 for the
    other kind), the mean distance ``dist`` (m), ``sidewalk`` (a sidewalk way, not a path), and the road's tags
    with ``sidewalk=yes`` as distinct rows (``uniq``, ``codes``, ``counts``)."""

    rows: np.ndarray
    road_row: np.ndarray
    extra_row: np.ndarray
    dist: np.ndarray
    sidewalk: np.ndarray
    uniq: pd.DataFrame
    codes: np.ndarray
    counts: np.ndarray


@dataclass
class EdgeParts:
    """What :func:`edge_stress` derives from the network and the config's class tables alone.

    A profile's variants change default speeds, lanes, sidewalks, contexts and the unknown crossing type only:
    the contexts, the distinct tag combinations, each edge's class flags and the road beside each sidewalk way
    are computed once and shared by the typical model and both variants (:func:`edge_levels`).
    """

    index: pd.Index
    uniq: pd.DataFrame
    codes: np.ndarray
    counts: np.ndarray
    ctx: np.ndarray
    ctx_x: np.ndarray
    group: np.ndarray
    road: np.ndarray
    crossing_way: np.ndarray
    beside: BesideParts | None


def edge_parts(
    edges: pd.DataFrame, cfg: dict, beside_roads: gpd.GeoDataFrame | None = None
) -> tuple[EdgeParts, pd.DataFrame]:
    """The variant-independent parts of :func:`edge_stress` for ``edges``, and the rated distinct rows under
    ``cfg`` itself (so that the first model computed from them does not rate them twice)."""
    ctx, ctx_x = edge_contexts(edges, cfg, beside_roads)
    if len(edges):  # the tag columns only: assigning to ``edges`` would copy its geometry too
        work = pd.DataFrame({c: edges[c] for c in EDGE_TAG_COLUMNS if c in edges.columns}, index=edges.index)
        work["_context"] = ctx
    else:
        work = edges.assign(_context=pd.Series([], dtype=object))
    uniq, codes = distinct_rows(work, EDGE_TAG_COLUMNS)
    counts = np.bincount(codes, minlength=len(uniq))
    rows = edge_stress_rows(uniq, cfg, counts)
    group = rows["group"].to_numpy(dtype=object)[codes]
    road = rows["road"].to_numpy(dtype=bool)[codes]
    crossing_way = rows["crossing_way"].to_numpy(dtype=bool)[codes]
    beside = None
    if isinstance(edges, gpd.GeoDataFrame) and edges.crs is not None and len(edges):
        beside = _beside_parts(edges, group, road, crossing_way, cfg, beside_roads, ctx, ctx_x)
    parts = EdgeParts(
        index=edges.index,
        uniq=uniq,
        codes=codes,
        counts=counts,
        ctx=ctx,
        ctx_x=ctx_x,
        group=group,
        road=road,
        crossing_way=crossing_way,
        beside=beside,
    )
    return parts, rows


def edge_levels(parts: EdgeParts, cfg: dict, rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`edge_stress` from its variant-independent ``parts`` under ``cfg`` (``rows``: the distinct rows
    already rated under ``cfg``). Columns are expanded from the distinct rows with numpy takes, the text columns
    converted once per distinct text."""
    rows = edge_stress_rows(parts.uniq, cfg, parts.counts) if rows is None else rows
    codes = parts.codes
    n = codes.size
    cols = {c: rows[c].to_numpy()[codes] for c in rows.columns}
    cols["inferred_sidewalk"] = np.zeros(n, dtype=bool)
    cols["beside"] = np.full(n, -1, dtype=np.int64)
    cols["beside_road"] = np.full(n, -1, dtype=np.int64)
    cols["buffer_m"] = np.full(n, np.nan)
    bp = parts.beside
    text: dict[str, Any] = {}
    if bp is not None:
        # the rows rated from a road beside: their texts after the distinct rows' own
        r_uniq, r_codes, t_uniq, t_codes = _apply_beside(cols, bp, cfg)
        for col, extra, sub in (("reason", r_uniq, r_codes), ("assumed_tags", t_uniq, t_codes)):
            own = rows[col].to_numpy(dtype=object)
            full = codes.copy()
            full[bp.rows] = own.size + sub
            text[col] = pd.array(np.concatenate([own, extra]), dtype="str").take(full)
    # Series of the arrays' own dtypes: object text stays object (no inference of pandas' str dtype), as the
    # distinct rows had it; the texts of ways rated from a road beside are str, as column assignment made them
    out = pd.DataFrame(
        {c: text[c] if c in text else pd.Series(a, dtype=a.dtype, copy=False) for c, a in cols.items()}
    )
    out.index = parts.index
    return out


def _grade(df: pd.DataFrame) -> np.ndarray:
    """+1 on a bridge, -1 in a tunnel, 0 at grade (per row)."""
    out = np.zeros(len(df), dtype=np.int8)
    for col, val in (("bridge", 1), ("tunnel", -1)):
        if col in df.columns:
            s = tag_values(df, col)
            out[(s.notna() & (s != "no")).to_numpy(dtype=bool)] = val
    return out


def _beside_parts(
    edges: gpd.GeoDataFrame,
    group: np.ndarray,
    road: np.ndarray,
    crossing_way: np.ndarray,
    cfg: dict,
    beside_roads: gpd.GeoDataFrame | None,
    ctx: np.ndarray,
    ctx_x: np.ndarray,
) -> BesideParts | None:
    """Which ``footway=sidewalk`` ways and paths parallel to a road are rated from the road beside them
    (``[sidewalk_way.from_road]`` in the config; the rule is described there), and that road's tags; None when
    no way is."""
    rule = cfg["sidewalk_way"].get("from_road")
    if not rule:
        return None
    search = float(rule["search_m"])
    geom = np.asarray(edges.geometry.array, dtype=object)
    usable = ~(shapely.is_missing(geom) | shapely.is_empty(geom))
    hw = tag_values(edges, "highway")
    is_sw = (group == "sidewalk_way") & usable
    infer = (
        (group == "path")
        & isin_once(hw, rule.get("infer_paths", [])).to_numpy(dtype=bool)
        & usable
        & ~crossing_way
    )
    w_idx = np.flatnonzero(is_sw | infer)
    road_idx = np.flatnonzero(road & usable)
    extra = beside_roads if beside_roads is not None and len(beside_roads) else None
    if w_idx.size == 0 or (road_idx.size == 0 and extra is None):
        return None
    tags = [c for c in EDGE_TAG_COLUMNS if c in edges.columns and not c.startswith("sidewalk")]
    road_tags = pd.DataFrame(edges[tags].iloc[road_idx].to_numpy(dtype=object), columns=tags)
    road_tags["_context"] = ctx[road_idx]
    n_net = road_idx.size
    if extra is not None:  # roads not walked are candidates too (rows after the edges)
        x_tags = pd.DataFrame(
            {c: extra[c].to_numpy(dtype=object) if c in extra.columns else None for c in tags}, columns=tags
        )
        x_tags["_context"] = ctx_x
        road_tags = pd.concat([road_tags, x_tags], ignore_index=True)
    # which road each way runs beside is geometry only: the same for every profile and variant of one network
    key = (
        id(edges),
        id(extra),
        search,
        hash(w_idx.tobytes()),
        hash(road_idx.tobytes()),
        hash(is_sw.tobytes()),
    )
    hit = _BESIDE_CACHE.get("last")
    if hit is not None and hit[0] == key and hit[1]() is edges and (hit[2] is None or hit[2]() is extra):
        wsel, rsel, dsel = hit[3]
    else:
        wsel, rsel, dsel = _beside_pairs(edges, geom, w_idx, road_idx, extra, is_sw, search)
        x_ref = None if extra is None else weakref.ref(extra)
        _BESIDE_CACHE["last"] = (key, weakref.ref(edges), x_ref, (wsel, rsel, dsel))
    if wsel.size == 0:
        return None
    rows = w_idx[wsel]
    on_net = rsel < n_net
    rd_rows = np.where(on_net, road_idx[np.minimum(rsel, max(n_net - 1, 0))] if n_net else -1, -1)
    x_rows = np.where(on_net, -1, rsel - n_net)
    # walking along the road beside, with a sidewalk: the road's tags with sidewalk=yes through the same rules
    beside = road_tags.iloc[rsel].reset_index(drop=True)
    beside["sidewalk"] = "yes"
    uniq, codes = distinct_rows(beside, tuple(beside.columns))
    return BesideParts(
        rows=rows,
        road_row=rd_rows.astype(np.int64),
        extra_row=x_rows.astype(np.int64),
        dist=dsel,
        sidewalk=is_sw[rows],
        uniq=uniq,
        codes=codes,
        counts=np.bincount(codes, minlength=len(uniq)),
    )


def _apply_beside(
    cols: dict[str, np.ndarray], bp: BesideParts, cfg: dict
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rate the ways of ``bp`` from the road beside them under ``cfg``: their columns in ``cols`` (positional
    arrays) are set in place, but for ``reason`` and ``assumed_tags``, returned as distinct texts and the code
    of each way's text (texts are built once per distinct road rating, side and buffer)."""
    rule = cfg["sidewalk_way"]["from_road"]
    rows = bp.rows
    along = edge_stress_rows(bp.uniq, cfg, bp.counts)
    code = bp.codes
    lanes = along["lanes"].to_numpy(dtype=float)[code]
    buffer = bp.dist - lanes * float(rule["lane_width_m"]) / 2.0
    buffered = buffer >= float(rule["buffer_min_m"])
    level = along["level"].to_numpy(dtype=np.int16)[code]
    level = np.where(buffered, np.maximum(level - int(rule["buffer_reduction"]), 1), level)
    sw_row = bp.sidewalk
    own = np.where(sw_row, 1, cols["level"][rows].astype(np.int16))  # a path's own conditions still count
    level = np.maximum(level, own)
    # the reason of a way depends on its road's rating, its kind and its buffer (whole metres) only
    b_int = np.round(np.maximum(buffer, 0.0)).astype(int)
    combo = ((code.astype(np.int64) * 2 + sw_row) * 2 + buffered) * (int(b_int.max()) + 1) + b_int
    _, first, r_codes = np.unique(combo, return_index=True, return_inverse=True)
    r_codes = r_codes.reshape(-1)
    zh_lab, en_lab = split_label(cfg["sidewalk_way"]["label"])
    zh_p, en_p = split_label(cfg["classes"]["path"]["label"])
    head = np.where(
        sw_row[first],
        f"{zh_lab}（{en_lab}）紧邻 beside: ",
        f"{zh_p}，推断为人行道（inferred sidewalk: {en_p} parallel to a road）紧邻 beside: ",
    )
    b_txt = pd.Series(b_int[first].astype(str), dtype=object)
    note = np.where(
        buffered[first],
        "；隔离约"
        + b_txt
        + "m，降"
        + str(int(rule["buffer_reduction"]))
        + "级 buffer ~"
        + b_txt
        + " m: level lowered",
        "；无隔离 no buffer",
    ).astype(object)
    reason = head.astype(object) + along["reason"].to_numpy(dtype=object)[code[first]] + note
    tags_a = along["assumed_tags"].to_numpy(dtype=object)
    cols["level"][rows] = level.astype(np.int8)
    cols["assumed"][rows] = tags_a[code] != ""
    cols["beside"][rows] = bp.road_row
    cols["beside_road"][rows] = bp.extra_row
    cols["buffer_m"][rows] = buffer
    cols["inferred_sidewalk"][rows] = ~sw_row
    return np.asarray(reason, dtype=object), r_codes, tags_a, code


#: the band's bounds (:func:`childspace.analysis._safety_geom.overlap_rank`), under their former names
_BAND_IN, _BAND_ENDS, _BAND_OUT = BAND_IN, BAND_ENDS, BAND_OUT

#: the last network's beside-road pairs (:func:`_beside_pairs`): the optimistic and pessimistic variants rated
#: right after the typical model reuse them (held by weak references to the edge and road tables)
_BESIDE_CACHE: dict[str, Any] = {}


def _beside_pairs(
    edges: gpd.GeoDataFrame,
    geom: np.ndarray,
    w_idx: np.ndarray,
    road_idx: np.ndarray,
    extra: gpd.GeoDataFrame | None,
    is_sw: np.ndarray,
    search: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The road beside each way of ``w_idx`` (positions into ``w_idx``, into the roads: network roads then
    ``extra``, and the mean distance), by geometry alone."""
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    crs, metric = metric_crs(edges)
    w_g = metric_lines(geom[w_idx], crs, metric)
    rd_g = metric_lines(geom[road_idx], crs, metric)
    grade = _grade(edges)  # per row: one pass over the table, not over two row subsets
    grade_r = grade[road_idx]
    if extra is not None:
        x_g = np.asarray(extra.to_crs(metric if metric is not None else crs).geometry.array, dtype=object)
        rd_g = np.concatenate([rd_g, x_g])
        grade_r = np.concatenate([grade_r, _grade(extra)])
    ok_r = ~(shapely.is_missing(rd_g) | shapely.is_empty(rd_g))
    rd_g = np.where(ok_r, rd_g, None)  # type: ignore[call-overload]
    tree = shapely.STRtree(rd_g)
    # candidates: the roads whose box meets the way's box widened by `search`, in the order of the tree's dwithin
    # query (the order that breaks ties below), at the way's grade
    bnd = shapely.bounds(w_g)
    wi, ri = tree.query(
        shapely.box(bnd[:, 0] - search, bnd[:, 1] - search, bnd[:, 2] + search, bnd[:, 3] + search)
    )
    keep = grade[w_idx][wi] == grade_r[ri]
    wi, ri = wi[keep], ri[keep]
    # within `search`: sidewalk ways, any such candidate; other ways, only roads parallel to them: start, end
    # and middle of the way within `search` of the road (tested in that order, each on the pairs left). A way
    # with a point within `search` of the road is within it, so dwithin is left to the pairs that need it
    sw_pair = is_sw[w_idx][wi]
    keep = sw_pair.copy()
    d = np.full((wi.size, 3), np.nan)
    pts = np.empty((w_g.size, 3), dtype=object)
    xy, owner = shapely.get_coordinates(w_g, return_index=True)  # ends: = line_interpolate_point at 0 and 1
    at = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    last = np.r_[at[1:] - 1, owner.size - 1]
    ends = np.full((w_g.size, 2, 2), np.nan)
    ends[owner[at], 0], ends[owner[last], 1] = xy[at], xy[last]
    alive = np.flatnonzero(~sw_pair)
    # ends outside the road's box widened by `search` are too far (no distance needed)
    rb = shapely.bounds(rd_g)[ri[alive]]
    lim = search + 1e-9
    for e in (0, 1):
        ex, ey = ends[wi[alive], e, 0], ends[wi[alive], e, 1]
        near = (
            (ex >= rb[:, 0] - lim) & (ex <= rb[:, 2] + lim) & (ey >= rb[:, 1] - lim) & (ey <= rb[:, 3] + lim)
        )
        alive, rb = alive[near], rb[near]
    todo = np.unique(wi[alive])
    pts[todo, 0] = shapely.points(ends[todo, 0])
    pts[todo, 2] = shapely.points(ends[todo, 1])
    for j in (0, 2, 1):
        if j == 1:
            _midpoints(w_g, pts, wi[alive])
        d[alive, j] = shapely.distance(pts[wi[alive], j], rd_g[ri[alive]])
        alive = alive[d[alive, j] <= lim]
    keep[alive] = True
    check = np.flatnonzero(keep)
    check = check[~sw_pair[check] & (np.fmin.reduce(d[check], axis=1) <= search)]  # within for sure
    unsure = np.setdiff1d(np.flatnonzero(keep), check, assume_unique=True)
    keep[unsure] = shapely.dwithin(w_g[wi[unsure]], rd_g[ri[unsure]], search)
    wi, ri, d, sw_pair = wi[keep], ri[keep], d[keep], sw_pair[keep]
    if wi.size == 0:
        return none
    overlap = overlap_rank(w_g, rd_g, wi, ri, search)
    order = np.lexsort((-overlap, wi))
    first = order[np.r_[True, wi[order][1:] != wi[order][:-1]]]
    wsel, rsel, d = wi[first], ri[first], d[first]
    sw_sel = np.flatnonzero(sw_pair[first])  # sidewalk ways: their distances not measured yet
    if sw_sel.size:
        todo = np.unique(wsel[sw_sel])
        pts[todo, 0] = shapely.points(ends[todo, 0])
        pts[todo, 2] = shapely.points(ends[todo, 1])
        _midpoints(w_g, pts, wsel[sw_sel])
        for j in range(3):
            d[sw_sel, j] = shapely.distance(pts[wsel[sw_sel], j], rd_g[rsel[sw_sel]])
    dsel = d.mean(axis=1)
    return wsel, rsel, dsel


def _midpoints(w_g: np.ndarray, pts: np.ndarray, ways: np.ndarray) -> None:
    """Fill ``pts[ways, 1]`` with the middle (by length) of each line that has none yet."""
    todo = np.unique(ways)
    todo = todo[shapely.is_missing(pts[todo, 1])]
    pts[todo, 1] = shapely.line_interpolate_point(w_g[todo], 0.5, normalized=True)


def edge_stress_rows(edges: pd.DataFrame, cfg: dict, counts: np.ndarray) -> pd.DataFrame:
    """:func:`edge_stress` on distinct tag combinations (``counts``: edges per row, for warnings)."""
    idx = edges.index
    n = len(edges)
    hw = tag_values(edges, "highway")
    footway = tag_values(edges, "footway")
    cycleway = tag_values(edges, "cycleway")
    crossing_tag = tag_values(edges, "crossing")
    context = (
        edges["_context"].fillna("urban").to_numpy(dtype=object)
        if "_context" in edges.columns
        else np.full(n, "urban", dtype=object)
    )

    group = pd.Series("_other", index=idx, dtype=object)
    is_road = np.zeros(n, dtype=bool)
    base_level = np.full(n, int(cfg["classes_other"]["level"]), dtype=np.int16)
    d_speed = np.full(n, np.nan)
    d_lanes = np.full(n, np.nan)
    d_sidewalk = np.full(n, None, dtype=object)
    lvl = {k: np.full(n, 0, dtype=np.int16) for k in ("none", "present", "separate")}
    label = pd.Series(cfg["classes_other"]["label"], index=idx, dtype=object)
    for key, c in cfg["classes"].items():
        m = isin_once(hw, c["highway"]).fillna(False).to_numpy(dtype=bool)
        if not m.any():
            continue
        group.loc[m] = key
        label.loc[m] = c.get("label", key)
        if c.get("road", False):
            is_road[m] = True
            for ctx in ("urban", "rural"):
                mc = m & (context == ctx)
                if not mc.any():
                    continue
                d = class_defaults(cfg, key, ctx)
                d_speed[mc] = float(d.get("maxspeed", c.get("maxspeed", 50)))
                d_lanes[mc] = float(d.get("lanes", c.get("lanes", 2)))
                d_sidewalk[mc] = d.get("sidewalk", c.get("sidewalk", "none"))
            for k in lvl:
                lvl[k][m] = int(c[f"level_{k}"])
        else:
            base_level[m] = int(c["level"])

    is_crossing_way = (
        isin_once(footway, cfg["crossing_way"]["footway"])
        | (cycleway == "crossing")
        | (hw == "crossing")
        | crossing_tag.notna()
    ).fillna(False).to_numpy(dtype=bool) & ~is_road
    is_sidewalk_way = (
        isin_once(footway, cfg["sidewalk_way"]["footway"]).fillna(False).to_numpy(dtype=bool)
        & ~is_road
        & ~is_crossing_way
    )
    base_level[is_crossing_way] = int(cfg["crossing_way"]["level"])
    base_level[is_sidewalk_way] = int(cfg["sidewalk_way"]["level"])
    group.loc[is_crossing_way] = "crossing_way"
    group.loc[is_sidewalk_way] = "sidewalk_way"
    label.loc[is_crossing_way] = cfg["crossing_way"]["label"]
    label.loc[is_sidewalk_way] = cfg["sidewalk_way"]["label"]

    # parsed tags
    raw_speed = tag_values(edges, "maxspeed")
    speed = parse_maxspeed(raw_speed, cfg).to_numpy()
    unparsed = raw_speed.notna().to_numpy() & np.isnan(speed)
    if unparsed.any():
        vals = sorted(set(raw_speed[unparsed].astype(str)))[:5]
        warnings.warn(
            f"{int(counts[unparsed].sum())} edges have a maxspeed value that is not understood ({vals}); the "
            "profile's default speed is used and flagged as assumed",
            ChildspaceWarning,
            stacklevel=3,
        )
    lanes = parse_lanes(tag_values(edges, "lanes")).to_numpy()
    oneway = (
        isin_once(tag_values(edges, "oneway"), ["yes", "true", "1", "-1"]).fillna(False).to_numpy(dtype=bool)
    )
    speed_assumed = is_road & np.isnan(speed)
    lanes_assumed = is_road & np.isnan(lanes)
    lanes_default = np.where(oneway, np.ceil(d_lanes / 2.0), d_lanes)
    speed = np.where(speed_assumed, d_speed, speed)
    lanes = np.where(lanes_assumed, lanes_default, lanes)
    speed = np.where(is_road, speed, np.nan)
    lanes = np.where(is_road, lanes, np.nan)

    sw = sidewalk_state(edges, cfg)
    sw_assumed = is_road & sw.isna().to_numpy()
    sw_arr = np.where(sw.isna().to_numpy(), d_sidewalk, sw.to_numpy(dtype=object))
    sw_arr = np.where(is_road, np.where(pd.isna(sw_arr), "none", sw_arr), "").astype(object)
    level = base_level.copy()
    for k in lvl:
        m = is_road & (sw_arr == k)
        level[m] = lvl[k][m]

    lit = tag_values(edges, "lit").fillna("missing").to_numpy(dtype=object)
    surface = tag_values(edges, "surface")
    unpaved = (
        isin_once(surface, cfg["sidewalk"].get("unpaved_surfaces", [])).fillna(False).to_numpy(dtype=bool)
    )
    lit_assumed = np.zeros(n, dtype=bool)
    hw_arr = hw.fillna("").to_numpy(dtype=object)

    zh_mod = pd.Series("", index=idx, dtype=object)
    en_mod = pd.Series("", index=idx, dtype=object)
    for rule in cfg.get("edge_rules", []):
        w = rule.get("when", {})
        m = np.ones(n, dtype=bool)
        if "road" in w:
            m &= is_road if w["road"] else ~is_road
        if "sidewalk" in w:
            m &= np.isin(sw_arr, list(w["sidewalk"]))
        if "highway" in w:
            m &= np.isin(hw_arr, list(w["highway"])) & (group.to_numpy(dtype=object) == "path")
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
        if "level" in rule:
            new = np.full(n, int(rule["level"]), dtype=np.int16)
        if "min_level" in rule:
            new = np.maximum(new, int(rule["min_level"]))
        if "max_level" in rule:
            new = np.minimum(new, int(rule["max_level"]))
        if "add" in rule:
            new = np.minimum(new + int(rule["add"]), 4)
        changed = m & ((new != level) | ("level" in rule))
        level = np.where(m, new, level)
        if changed.any():
            zh_mod.loc[changed] = zh_mod.loc[changed] + "；" + rule.get("zh", rule.get("name", ""))
            en_mod.loc[changed] = en_mod.loc[changed] + "; " + rule.get("en", rule.get("name", ""))
    level = np.clip(level, 1, 4)

    # assumptions
    parts = []
    for name, mask in (
        ("highway", (group == "_other").to_numpy()),
        ("maxspeed", speed_assumed),
        ("lanes", lanes_assumed),
        ("sidewalk", sw_assumed),
        ("lit", lit_assumed),
    ):
        parts.append(pd.Series(np.where(mask, name, ""), index=idx))
    assumed_tags = parts[0]
    for p in parts[1:]:
        assumed_tags = assumed_tags.str.cat(p, sep="; ")
    assumed_tags = assumed_tags.str.replace(r"(; )+", "; ", regex=True).str.strip("; ")
    assumed = (assumed_tags != "").to_numpy()

    # reasons, Chinese first; an assumed value is named as such, never stated as a fact
    split = {x: split_label(x) for x in pd.unique(label)}
    zh = label.map({k: v[0] for k, v in split.items()})
    en = label.map({k: v[1] for k, v in split.items()})
    sw_s = pd.Series(sw_arr, index=idx)
    sw_zh = pd.Series(
        np.where(
            sw_assumed,
            "人行道未标注（假定" + sw_s.map(_SIDEWALK_ZH).fillna("") + "）",
            sw_s.map(_SIDEWALK_ZH).fillna(""),
        ),
        index=idx,
    )
    sw_en = pd.Series(
        np.where(
            sw_assumed,
            "sidewalk not mapped (assumed " + sw_s.map(_SIDEWALK_EN).fillna("") + ")",
            sw_s.map(_SIDEWALK_EN).fillna(""),
        ),
        index=idx,
    )
    sp = pd.Series(np.where(is_road, np.nan_to_num(speed).round().astype(int).astype(str), ""), index=idx)
    ln = pd.Series(np.where(is_road, np.nan_to_num(lanes).round().astype(int).astype(str), ""), index=idx)
    sp_zh = pd.Series(np.where(speed_assumed, "限速未标注（假定" + sp + "km/h）", sp + "km/h"), index=idx)
    sp_en = pd.Series(
        np.where(speed_assumed, "speed not mapped: assumed " + sp + " km/h", sp + " km/h"), index=idx
    )
    ln_zh = pd.Series(np.where(lanes_assumed, "车道数未标注（假定" + ln + "车道）", ln + "车道"), index=idx)
    ln_en = pd.Series(np.where(lanes_assumed, "lanes not mapped: assumed " + ln, ln + " lanes"), index=idx)
    road_zh = pd.Series(np.where(is_road, "，" + sw_zh + "，" + sp_zh + "，" + ln_zh, ""), index=idx)
    road_en = pd.Series(np.where(is_road, ", " + sw_en + ", " + sp_en + ", " + ln_en, ""), index=idx)
    reason = zh + road_zh + zh_mod + " " + en + road_en + en_mod
    other = (group == "_other").to_numpy()
    reason = reason + pd.Series(np.where(other, "（类型未知，假定 type unknown: assumed）", ""), index=idx)

    return pd.DataFrame(
        {
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
            "context": pd.Series(
                np.where(is_road, context, None),  # type: ignore[arg-type]
                index=idx,
            ).astype(object),
        },
        index=idx,
    )
