"""Capacity and siting on walking distances: two-step floating catchment (2SFCA) and maximal covering location
(MCLP)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from childspace._errors import DataError
from childspace.analysis._coverage_base import (
    MAX_SNAP_M,
    _assign_units,
    _require,
    _row_name,
    _snap,
)
from childspace.inputs.projection import WGS84, local_crs_for
from childspace.network import Snap, WalkNetwork


def _nearest(network: WalkNetwork, fgeoms: gpd.GeoSeries, opts: Snap, cutoff: float | None, max_snap: float):
    """Walking distance (m) from every origin to the nearest of ``fgeoms`` and its position (-1: none)."""
    fs = _snap(network, fgeoms, max_snap, legs=opts.leg is not None)
    d, s = network.nearest(fs, opts, cutoff=cutoff)
    d = np.where(opts.ok, np.asarray(d, dtype="float64"), np.inf)
    s = np.where(np.isfinite(d), np.asarray(s, dtype=np.int64), -1)
    return d, s


# ---------------------------------------------------------------------------------------------------------------
# capacity-aware accessibility and siting
# ---------------------------------------------------------------------------------------------------------------
def _pairs_within(
    network: WalkNetwork, src: gpd.GeoSeries, tgt: Snap, radius: float, max_snap: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Snap]:
    """(source position, target position, metres) for every pair within ``radius`` by walking (sparse)."""
    sp_ = _snap(network, src, max_snap, allow_none=True, legs=tgt.leg is not None)
    s, t, d = network.pairs_within(sp_, tgt, float(radius))
    return s, t, d, sp_


@dataclass
class SfcaResult:
    """Result of :func:`two_step_fca`.

    Attributes
    ----------
    origins : GeoDataFrame
        Origins plus ``sfca_ratio`` (capacity units per child within reach, e.g. kindergarten seats per child;
        0 where no facility is within the radius) and ``sfca_facilities`` (number of facilities within reach).
    facilities : GeoDataFrame
        Facilities plus ``sfca_demand`` (children within the radius) and ``sfca_supply_ratio`` (capacity /
        demand; NaN with no demand).
    units : DataFrame or None
        With ``units``: ``unit_id``, ``name``, ``children``, ``sfca_ratio`` (children-weighted mean of the
        origins' ratios), ``capacity_in_reach``.
    """

    origins: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    units: pd.DataFrame | None


def two_step_fca(
    origins: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    network: WalkNetwork,
    radius: float,
    capacity_col: str = "capacity",
    units: gpd.GeoDataFrame | None = None,
    max_snap: float = MAX_SNAP_M,
) -> SfcaResult:
    """Two-step floating catchment area (2SFCA) accessibility on walking distances.

    Step 1: every facility j gets ``R_j = S_j / sum(P_k for origins k within radius of j)`` (capacity per child
    of its catchment). Step 2: every origin i gets ``A_i = sum(R_j for facilities j within radius of i)``.
    Source: Luo, W. & Wang, F. (2003), "Measures of spatial accessibility to health care in a GIS environment",
    Environment and Planning B 30(6): 865-884. Distances are walking metres (one bounded Dijkstra per facility).

    Parameters
    ----------
    origins : GeoDataFrame
        ``origin_id``, ``children`` (demand P), Point.
    facilities : GeoDataFrame
        Facilities of one category with a capacity column (supply S, e.g. seats).
    network : WalkNetwork
    radius : float
        Catchment radius, walking metres.
    capacity_col : str
        Column of ``facilities`` with the capacity (numbers ≥ 0; missing values are an error).
    units : GeoDataFrame, optional
        Units to summarise the ratios in (children-weighted).
    max_snap : float
        Metres; points farther from the network are not attached (ratio 0 for origins, no supply for facilities).

    Returns
    -------
    SfcaResult
    """
    _require(origins, "origins", ["origin_id", "children"], "point")
    _require(facilities, "facilities", ["facility_id", capacity_col], "point")
    cap = pd.to_numeric(facilities[capacity_col], errors="coerce")
    bad = cap.isna() | (cap < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{int(bad.sum())} facilities have no usable {capacity_col!r} (capacity)",
            feature=_row_name(facilities, i),
            fix=f"fill in {capacity_col} (容量, e.g. seats) for every facility or drop those rows",
        )
    if not radius > 0:
        raise DataError(f"radius must be > 0 m, got {radius!r}", fix="give the catchment radius in metres")
    opts = _snap(network, origins.geometry, max_snap)
    fi, oi, _, fpts = _pairs_within(network, facilities.geometry, opts, float(radius), max_snap)
    P = pd.to_numeric(origins["children"], errors="coerce").fillna(0).to_numpy(dtype="float64")
    S = cap.to_numpy(dtype="float64")
    demand = np.bincount(fi, weights=P[oi], minlength=len(facilities))
    with np.errstate(invalid="ignore", divide="ignore"):
        R = np.where(demand > 0, S / demand, np.nan)
    A = np.bincount(oi, weights=np.nan_to_num(R[fi]), minlength=len(origins))
    nfac = np.bincount(oi, minlength=len(origins))
    o_out = origins.copy()
    o_out["sfca_ratio"] = A
    o_out["sfca_facilities"] = nfac
    f_out = facilities.copy()
    f_out["sfca_demand"] = demand
    f_out["sfca_supply_ratio"] = R
    u_out = None
    if units is not None:
        _require(units, "units", ["unit_id", "name"], "polygon")
        pairs, outside = _assign_units(origins, units.to_crs(local_crs_for(units)))
        o, u = pairs["_o"].to_numpy(), pairs["_u"].to_numpy()
        kids = np.bincount(u, weights=P[o], minlength=len(units))
        wsum = np.bincount(u, weights=P[o] * A[o], minlength=len(units))
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(kids > 0, wsum / kids, np.nan)
        u_out = pd.DataFrame(
            {
                "unit_id": units["unit_id"].astype(str).to_numpy(),
                "name": units["name"].to_numpy(),
                "children": kids,
                "sfca_ratio": ratio,
                "capacity_in_reach": wsum,
            }
        )
        u_out.attrs["origins_outside"] = outside
    o_out.attrs.update(
        {
            "radius_m": float(radius),
            "unsnapped_origins": int((~opts.ok).sum()),
            "unsnapped_facilities": int((~fpts.ok).sum()),
        }
    )
    return SfcaResult(origins=o_out, facilities=f_out, units=u_out)


def suggest_sites(
    candidates: gpd.GeoDataFrame | None,
    origins: gpd.GeoDataFrame,
    network: WalkNetwork,
    radius: float,
    p: int = 1,
    facilities: gpd.GeoDataFrame | None = None,
    thin_m: float | None = None,
    max_snap: float = MAX_SNAP_M,
    max_cells: int = 50_000_000,
) -> gpd.GeoDataFrame:
    """Where to build ``p`` new facilities to cover the most children (maximal covering location problem).

    MCLP (Church, R. & ReVelle, C. (1974), "The maximal covering location problem", Papers of the Regional
    Science Association 32: 101-118), built with PySAL ``spopt.locate.MCLP.from_cost_matrix`` on walking
    distances and solved with the CBC solver bundled with ``pulp`` (works offline).

    Parameters
    ----------
    candidates : GeoDataFrame or None
        Candidate sites (Point; optional ``candidate_id``). None: street nodes within ``radius`` (straight line) of
        an uncovered origin (the gap areas), thinned to one node per ``thin_m`` grid cell (default radius / 2).
    origins : GeoDataFrame
        ``origin_id``, ``children``, Point.
    network : WalkNetwork
    radius : float
        Walking radius (m) a new site covers.
    p : int
        Number of sites to choose.
    facilities : GeoDataFrame, optional
        Existing facilities of the category: children already within ``radius`` of one are not counted as
        demand (only newly covered children count).
    thin_m : float, optional
        Grid cell (m) for thinning default candidates.
    max_snap : float
        Metres (see :func:`origin_access`).
    max_cells : int
        Largest origins x candidates cost matrix allowed (memory guard).

    Returns
    -------
    GeoDataFrame
        The chosen sites: ``candidate_id``, ``children_new`` (children newly covered, each counted once, at the
        first chosen site covering them), ``origins_new``, ``rank``, geometry (EPSG:4326).
        ``attrs``: ``children_new_total``, ``demand_children`` (uncovered before), ``candidates`` (evaluated),
        ``radius_m``.
    """
    import pulp
    from spopt.locate import MCLP

    _require(origins, "origins", ["origin_id", "children"], "point")
    if p < 1:
        raise DataError(f"p must be at least 1, got {p}", fix="ask for one or more sites")
    opts = _snap(network, origins.geometry, max_snap)
    kids = pd.to_numeric(origins["children"], errors="coerce").fillna(0).to_numpy(dtype="float64")
    covered = np.zeros(len(origins), dtype=bool)
    if facilities is not None and len(facilities):
        d, _ = _nearest(network, facilities.geometry, opts, float(radius), max_snap)
        covered = d <= radius
    demand = np.flatnonzero(~covered & (kids > 0) & opts.ok)
    crs = CRS.from_user_input(network.crs)
    if candidates is None:
        nodes = np.c_[network.x, network.y]
        og = shapely.points(shapely.get_coordinates(origins.geometry.to_crs(crs).values)[demand])
        tree = shapely.STRtree(og)
        near = np.unique(tree.query(shapely.points(nodes), predicate="dwithin", distance=float(radius))[0])
        cell = float(thin_m or radius / 2.0)
        key = np.floor(nodes[near] / cell).astype(np.int64)
        _, first = np.unique(key, axis=0, return_index=True)
        sel = near[np.sort(first)]
        candidates = gpd.GeoDataFrame(
            {"candidate_id": [f"node_{network.node_osmid[i]}" for i in sel]},
            geometry=shapely.points(nodes[sel]),
            crs=crs,
        )
    _require(candidates, "candidates", [], "point")
    cand = candidates.reset_index(drop=True)
    cid = (
        cand["candidate_id"].astype(str).to_numpy()
        if "candidate_id" in cand.columns
        else np.array([f"candidate_{i}" for i in range(len(cand))])
    )
    empty = gpd.GeoDataFrame(
        {"candidate_id": [], "children_new": [], "origins_new": [], "rank": []},
        geometry=gpd.GeoSeries([], crs=WGS84),
        crs=WGS84,
    )
    attrs = {
        "demand_children": float(kids[demand].sum()),
        "candidates": len(cand),
        "radius_m": float(radius),
        "children_new_total": 0.0,
    }
    if len(demand) == 0 or len(cand) == 0:
        empty.attrs.update(attrs)
        return empty
    sub = opts.take(demand)
    if len(demand) * len(cand) > max_cells:
        raise DataError(
            f"{len(demand)} uncovered origins x {len(cand)} candidates is too large a problem",
            fix="pass fewer candidates (or a larger thin_m), or run per township",
        )
    ci, oi, dd, _ = _pairs_within(network, cand.geometry, sub, float(radius), max_snap)
    cost = np.full((len(demand), len(cand)), float(radius) * 10.0 + 1.0)
    cost[oi, ci] = dd
    useful = np.unique(ci)
    if len(useful) == 0:
        empty.attrs.update(attrs)
        return empty
    with warnings.catch_warnings():  # pulp 3.3 announces API changes for 4.0; nothing to act on here
        warnings.simplefilter("ignore", DeprecationWarning)
        model = MCLP.from_cost_matrix(
            cost[:, useful], kids[demand], service_radius=float(radius), p_facilities=int(min(p, len(useful)))
        )
        model.solve(pulp.PULP_CBC_CMD(msg=False))
    chosen = np.array([j for j, var in enumerate(model.fac_vars) if (var.value() or 0) > 0.5], dtype=np.int64)
    gain = [(j, [int(i) for i in model.fac2cli[j]]) for j in chosen]
    gain.sort(key=lambda t: -kids[demand][t[1]].sum() if t[1] else 0.0)
    seen = np.zeros(len(demand), dtype=bool)
    rows = []
    for rank, (j, clients) in enumerate(gain, start=1):
        cl = np.array(clients, dtype=np.int64)
        new = cl[~seen[cl]] if cl.size else cl
        seen[new] = True
        c = int(useful[j])
        rows.append(
            {
                "candidate_id": cid[c],
                "children_new": float(kids[demand][new].sum()),
                "origins_new": int(new.size),
                "rank": rank,
                "geometry": cand.geometry.to_crs(crs).iloc[c],
            }
        )
    out = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=crs).to_crs(WGS84)
    attrs["children_new_total"] = float(out["children_new"].sum())
    out.attrs.update(attrs)
    return out
