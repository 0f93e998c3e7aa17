"""The context of each road (urban/rural: inside a built-up area or not), which decides the defaults of its
missing tags (internal to :mod:`childspace.analysis.safety`); the rule and its sources are in the profile's
``[context]`` table (``config/safety_profile_generic.toml``)."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from childspace._types import CRSLike
from childspace.analysis._safety_config import (
    distinct_rows,
    isin_once,
    parse_maxspeed,
    road_keys,
    sidewalk_state,
    tag_values,
)

__all__ = ["edge_contexts", "metric_crs", "metric_lines"]


def metric_crs(gdf: gpd.GeoDataFrame) -> tuple[CRS, CRS | None]:
    """The table's CRS and the local metric CRS to measure in (None when the table's own CRS is projected)."""
    crs = CRS.from_user_input(gdf.crs)
    if crs.is_geographic:
        from childspace.inputs.projection import local_crs_for

        return crs, CRS.from_user_input(local_crs_for(gdf))
    return crs, None


def metric_lines(geom: np.ndarray, crs: CRSLike, metric: CRS | None) -> np.ndarray:
    """Line geometries from ``crs`` to ``metric`` (unchanged when ``metric`` is None)."""
    if metric is None:
        return geom
    return np.asarray(gpd.GeoSeries(geom, crs=crs).to_crs(metric).array, dtype=object)


def edge_contexts(
    edges: pd.DataFrame, cfg: dict, extra: gpd.GeoDataFrame | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``urban``/``rural`` per edge (and per road of ``extra``) from the profile's ``[context]`` table.

    Rural: a highway ref or name (profile's ``rural_ref``/``rural_name`` patterns); with a ``cell_m`` grid (metric
    CRS), the built-up context read from the data, in this order (the profile's ``[context]`` table describes the
    rule and its sources):

    1. a road signed above the urban limits (maxspeed >= ``rural_min_kmh``) is rural;
    2. else the same road (same street name, else same way) in the 3 x 3 ``cell_m`` cells around the edge: the
       length signed rural against the length signed urban (maxspeed <= ``urban_max_kmh``, ``lit=yes``, a
       sidewalk tag); rural when it is at least as long (a 30 km/h hairpin between 90 km/h stretches of a pass
       road stays rural);
    3. else the roads around (the same cells): at least ``urban_min_m`` of road carrying urban evidence (the
       tags above, or a class of ``urban_highways``) make a built-up area;
    4. else the density of the walk network: fewer than ``urban_min_edges`` edge midpoints in those cells, the
       threshold scaled to the share of the cells inside the data's extent (an extract's edge is not empty land),
       rural; and an edge decided so takes the context of most of its street (same name and class, length-weighted)
       in those cells, so that the density's noise does not flip the context from block to block along a street.

    Without evidence keys (``urban_max_kmh``) in the profile only step 4's density test applies, without the
    street smoothing. Urban otherwise, and always when the edges carry no geometry.
    """
    ctx_cfg = cfg["profile"].get("context", {})
    n = len(edges)
    n_x = 0 if extra is None else len(extra)
    rural = np.zeros(n + n_x, dtype=bool)
    if isinstance(edges, gpd.GeoDataFrame) and edges.crs is not None and n and "cell_m" in ctx_cfg:
        crs, metric = metric_crs(edges)
        g = metric_lines(np.asarray(edges.geometry.array, dtype=object), crs, metric)
        if extra is not None and n_x:
            xg = np.asarray(extra.to_crs(metric if metric is not None else crs).geometry.array, dtype=object)
            g = np.concatenate([g, xg])
        ok = ~(shapely.is_missing(g) | shapely.is_empty(g))
        mids = np.full((n + n_x, 2), np.nan)
        mids[ok] = shapely.get_coordinates(shapely.line_interpolate_point(g[ok], 0.5, normalized=True))
        cell = float(ctx_cfg["cell_m"])
        good = np.isfinite(mids).all(axis=1)
        ij = np.zeros((n + n_x, 2), dtype=np.int64)
        ij[good] = np.floor(mids[good] / cell).astype(np.int64)
        # edges of the walk network per cell, summed over the 3 x 3 cells around each edge's own cell (a window
        # centred on the edge, not a fixed grid that cuts a town in two); the threshold counts only the cells
        # inside the data's extent
        own = good.copy()
        own[n:] = False
        window = _window_sum(ij, good, np.zeros(n + n_x, dtype=np.int64), own.astype(float))
        share = _extent_share(ij, good, mids, cell)
        dense_rural = good & (window < float(ctx_cfg.get("urban_min_edges", 0)) * share)
        if "urban_max_kmh" in ctx_cfg:
            tags = _context_tags(edges, extra)
            length = np.where(ok, shapely.length(np.where(ok, g, None)), 0.0)  # type: ignore[call-overload]
            flags = _tag_flags(tags, cfg, ctx_cfg)
            rk = road_keys(tags)
            spread = _spread(g, ok, length, cell)
            ev_rural, decided = _evidence_contexts(flags, rk, length, ij, good, spread, ctx_cfg)
            todo = good & ~decided
            rural = np.where(decided, ev_rural, dense_rural)
            rural = _smooth_street(rk, length, flags["road"], flags["cls"], ij, good, spread, rural, todo)
        else:
            rural |= dense_rural
    for pat_key, col in (("rural_ref", "ref"), ("rural_name", "name")):
        pat = ctx_cfg.get(pat_key)
        if not pat:
            continue
        for lo, df in ((0, edges), (n, extra)):
            if df is not None and col in df.columns and len(df):
                rural[lo : lo + len(df)] |= _matches(df[col], re.compile(pat))
    out = np.where(rural, "rural", "urban").astype(object)
    return out[:n], out[n:]


#: tag columns read by the context evidence
_CONTEXT_TAGS = (
    "highway",
    "name",
    "osmid",
    "maxspeed",
    "lit",
    "sidewalk",
    "sidewalk_both",
    "sidewalk:both",
    "sidewalk_left",
    "sidewalk:left",
    "sidewalk_right",
    "sidewalk:right",
)


def _context_tags(edges: pd.DataFrame, extra: pd.DataFrame | None) -> pd.DataFrame:
    """The tags the context evidence reads, of the edges then the roads of ``extra`` (positional rows)."""
    frames = [edges] if extra is None or not len(extra) else [edges, extra]
    cols = [c for c in _CONTEXT_TAGS if any(c in f.columns for f in frames)]
    parts = [
        pd.DataFrame(
            {
                c: f[c].to_numpy(dtype=object) if c in f.columns else np.full(len(f), None, object)
                for c in cols
            }
        )
        for f in frames
    ]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _tag_flags(tags: pd.DataFrame, cfg: dict, ctx_cfg: dict) -> dict[str, np.ndarray]:
    """Per row: ``road`` (a class with ``road = true``), ``cls`` (class key, "" for none), ``fast`` (a road signed
    at or above ``rural_min_kmh``), ``signed`` (a road signed at or below ``urban_max_kmh``, lit or with sidewalks
    mapped, not fast) and ``street`` (a road of ``urban_highways``, not fast); evaluated once per distinct tag
    combination."""
    uniq, codes = distinct_rows(tags, tuple(c for c in tags.columns if c not in ("name", "osmid")))
    hw = tag_values(uniq, "highway")
    road = np.zeros(len(uniq), dtype=bool)
    cls = np.full(len(uniq), "", dtype=object)
    for key, c in cfg["classes"].items():
        m = isin_once(hw, c["highway"]).fillna(False).to_numpy(dtype=bool)
        cls[m] = key
        road[m] = bool(c.get("road", False))
    with np.errstate(invalid="ignore"):
        speed = parse_maxspeed(tag_values(uniq, "maxspeed"), cfg).to_numpy(dtype=float)
        slow = speed <= float(ctx_cfg["urban_max_kmh"])
        fast = road & (speed >= float(ctx_cfg.get("rural_min_kmh", np.inf)))
    lit = (tag_values(uniq, "lit") == "yes").fillna(False).to_numpy(dtype=bool)
    sw = sidewalk_state(uniq, cfg).isin(["present", "separate"]).fillna(False).to_numpy(dtype=bool)
    street = isin_once(hw, ctx_cfg.get("urban_highways", [])).fillna(False).to_numpy(dtype=bool)
    flags = {
        "road": road,
        "cls": cls,
        "fast": fast,
        "signed": road & ~fast & (slow | lit | sw),
        "street": road & ~fast & street,
    }
    return {k: v[codes] for k, v in flags.items()}


def _evidence_contexts(
    flags: dict[str, np.ndarray],
    rk: np.ndarray,
    length: np.ndarray,
    ij: np.ndarray,
    good: np.ndarray,
    spread: tuple[np.ndarray, np.ndarray, np.ndarray],
    ctx_cfg: dict,
) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1-3 of :func:`edge_contexts` (``rk``: road keys): rural per row and whether the tags decided it."""
    own_rural, signed = flags["fast"], flags["signed"]
    u_same = _window_sum(ij, good, rk, length * signed, spread)
    r_same = _window_sum(ij, good, rk, length * own_rural, spread)
    area_urban = signed | flags["street"]
    u_area = _window_sum(ij, good, np.zeros(rk.size, dtype=np.int64), length * area_urban, spread)
    same = (u_same + r_same) > 0
    area = u_area >= float(ctx_cfg.get("urban_min_m", np.inf))
    rural = own_rural | (~own_rural & same & (r_same >= u_same))
    decided = good & (own_rural | same | area)
    return rural & decided, decided


def _smooth_street(
    rk: np.ndarray,
    length: np.ndarray,
    road: np.ndarray,
    cls: np.ndarray,
    ij: np.ndarray,
    good: np.ndarray,
    spread: tuple[np.ndarray, np.ndarray, np.ndarray],
    rural: np.ndarray,
    todo: np.ndarray,
) -> np.ndarray:
    """``rural`` with the road rows ``todo`` set to the length-weighted majority of their street (same name, else
    way, and class) in the 3 x 3 cells around them (a tie reads rural)."""
    rows = todo & road
    if not rows.any():
        return rural
    grp = pd.factorize(pd.MultiIndex.from_arrays([rk, cls]))[0].astype(np.int64)
    w = np.where(road, length, 0.0)
    vote_r = _window_sum(ij, good, grp, w * rural, spread)
    vote_t = _window_sum(ij, good, grp, w, spread)
    out = rural.copy()
    at = rows & (vote_t > 0)
    out[at] = 2.0 * vote_r[at] >= vote_t[at]
    return out


def _window_sum(
    ij: np.ndarray,
    good: np.ndarray,
    group: np.ndarray,
    weight: np.ndarray,
    spread: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Per row: the sum of ``weight`` over the rows of the same ``group`` whose cell is one of the 3 x 3 cells
    around the row's own cell (0 for rows not ``good``). With ``spread`` (:func:`_spread`), a row's weight is
    shared among points along it, each counted in its own cell: a long road counts where it runs, not only at its
    middle."""
    out = np.zeros(weight.size)
    group = np.asarray(group, dtype=np.int64)
    if spread is None:
        src = np.flatnonzero(good & (weight != 0))
        s_ij, s_w = ij[src], weight[src]
    else:
        row, p_ij, share = spread
        keep = weight[row] != 0
        src, s_ij = row[keep], p_ij[keep]
        s_w = weight[src] * share[keep]
    at = np.flatnonzero(good)
    if src.size == 0 or at.size == 0:
        return out
    lo = np.minimum(ij[at].min(axis=0), s_ij.min(axis=0)) - 1
    span = np.maximum(ij[at].max(axis=0), s_ij.max(axis=0)) - lo + 2

    def key(i: np.ndarray, j: np.ndarray, gr: np.ndarray) -> np.ndarray:
        return (gr * span[0] + (i - lo[0])) * span[1] + (j - lo[1])

    cells, inv = np.unique(key(s_ij[:, 0], s_ij[:, 1], group[src]), return_inverse=True)
    sums = np.bincount(inv.reshape(-1), weights=s_w)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            k = key(ij[at, 0] + di, ij[at, 1] + dj, group[at])
            pos = np.minimum(np.searchsorted(cells, k), cells.size - 1)
            out[at] += np.where(cells[pos] == k, sums[pos], 0.0)
    return out


def _spread(
    geom: np.ndarray, ok: np.ndarray, length: np.ndarray, cell: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points along each line of ``geom`` (``ok`` rows) about every half cell: their row, their cell and their
    share of the row's length."""
    rows = np.flatnonzero(ok)
    k = np.maximum(np.ceil(length[rows] / (0.5 * cell)).astype(np.int64), 1)
    row = np.repeat(rows, k)
    start = np.repeat(np.cumsum(k) - k, k)
    frac = (np.arange(row.size) - start + 0.5) / np.repeat(k, k)
    xy = shapely.get_coordinates(shapely.line_interpolate_point(geom[row], frac, normalized=True))
    return row, np.floor(xy / cell).astype(np.int64), 1.0 / np.repeat(k, k)


def _extent_share(ij: np.ndarray, good: np.ndarray, mids: np.ndarray, cell: float) -> np.ndarray:
    """Per row, the share of the 3 x 3 cells around its cell that lie inside the data's extent: its own cell, and
    the cells whose centre is within half a cell of the convex hull of all midpoints. An extract cut at a border,
    or a city ending at the sea, has no data beyond; the density there is not that of empty land."""
    out = np.ones(good.size)
    if not good.any():
        return out
    hull = shapely.buffer(shapely.convex_hull(shapely.multipoints(mids[good])), 0.5 * cell)
    off = np.array([(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1)])
    cand = (ij[good][:, None, :] + off[None, :, :]).reshape(-1, 2)
    lo = cand.min(axis=0)
    span = int(cand[:, 1].max() - lo[1]) + 1
    key, first, inv = np.unique(
        (cand[:, 0] - lo[0]) * span + (cand[:, 1] - lo[1]), return_index=True, return_inverse=True
    )
    uniq = cand[first]
    inside = shapely.contains_xy(hull, (uniq[:, 0] + 0.5) * cell, (uniq[:, 1] + 0.5) * cell)
    win = inside[inv.reshape(-1)].reshape(-1, 9)
    win[:, 4] = True  # the row's own cell
    out[good] = win.sum(axis=1) / 9.0
    return out


def _matches(col: pd.Series, pat: re.Pattern) -> np.ndarray:
    """Whether each value (as text) contains ``pat``; False where missing. Tested once per distinct value: a
    few thousand names and refs repeat over the edges."""
    try:
        codes, uniq = pd.factorize(col, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists): each row on its own
        return col.astype("string").str.contains(pat, na=False).to_numpy(dtype=bool)
    u = pd.Series(np.asarray(uniq, dtype=object)).astype("string")
    hit = u.str.contains(pat, na=False).to_numpy(dtype=bool)
    return np.append(hit, False)[codes]
