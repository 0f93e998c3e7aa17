"""Aggregation of points to a regular grid (汇总格网): hexagon totals for maps of many homes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace._errors import ChildspaceError
from childspace.inputs.projection import local_crs_for

__all__ = ["auto_hex_size", "hex_cells", "hex_polygons", "hex_totals"]


def hex_totals(
    points: gpd.GeoDataFrame, weights: np.ndarray | pd.Series | None = None, size_m: float = 150.0
) -> gpd.GeoDataFrame:
    """Sum of ``weights`` per hexagonal cell (pointy-top hexagons, ``size_m`` = centre-to-corner, metres).

    Parameters
    ----------
    points : GeoDataFrame
        Points in any CRS with a CRS; binned in the local metric CRS (:func:`childspace.inputs.projection.local_crs_for`).
    weights : array-like, optional
        One value per point (e.g. children); default 1 per point.
    size_m : float, default 150
        Hexagon circumradius in metres (cell area = 2.598 · size²; 150 m → 5.85 ha).

    Returns
    -------
    GeoDataFrame (metric CRS)
        Non-empty cells only: ``total`` (sum of weights), ``points`` (count), Polygon geometry.
    """
    if size_m <= 0:
        raise ChildspaceError(f"hexagon size must be positive, got {size_m}", fix="pass size_m > 0 (metres)")
    crs = local_crs_for(points)
    pts = points.geometry.to_crs(crs)
    x, y = pts.x.to_numpy(dtype=float), pts.y.to_numpy(dtype=float)
    w = (
        np.ones(len(x))
        if weights is None
        else np.asarray(pd.to_numeric(pd.Series(np.asarray(weights)), errors="coerce").fillna(0), dtype=float)
    )
    cells, inv = hex_cells(x, y, size_m)
    total = np.bincount(inv, weights=w, minlength=len(cells))
    count = np.bincount(inv, minlength=len(cells))
    polys = hex_polygons(cells, size_m)
    return gpd.GeoDataFrame({"total": total, "points": count}, geometry=polys, crs=crs)


def hex_cells(x: np.ndarray, y: np.ndarray, size_m: float) -> tuple[np.ndarray, np.ndarray]:
    """The pointy-top hexagon (axial q, r) of each point (metric x, y; ``size_m`` = circumradius): the distinct
    cells, sorted, and the cell index of each point."""
    s3 = np.sqrt(3.0)
    # axial coordinates of pointy-top hexagons, then cube rounding (standard hexagon-grid arithmetic)
    qf = (s3 / 3.0 * x - y / 3.0) / size_m
    rf = (2.0 / 3.0 * y) / size_m
    sf = -qf - rf
    q, r, s_ = np.round(qf), np.round(rf), np.round(sf)
    dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s_ - sf)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s_, q)
    r = np.where(fix_r, -q - s_, r)
    cells, inv = np.unique(np.stack([q, r], axis=1), axis=0, return_inverse=True)
    return cells, inv.ravel()


def hex_polygons(cells: np.ndarray, size_m: float) -> np.ndarray:
    """The hexagon polygons of axial ``cells`` (from :func:`hex_cells`), in the same metric CRS."""
    s3 = np.sqrt(3.0)
    cx = size_m * s3 * (cells[:, 0] + cells[:, 1] / 2.0)
    cy = size_m * 1.5 * cells[:, 1]
    ang = np.deg2rad(30.0 + 60.0 * np.arange(7))
    ring = np.stack(
        [cx[:, None] + size_m * np.cos(ang)[None, :], cy[:, None] + size_m * np.sin(ang)[None, :]], axis=2
    )
    return np.asarray(shapely.polygons(ring))


def auto_hex_size(gdf: gpd.GeoDataFrame) -> float:
    """A round hexagon size giving about 20 cells across the extent (50–1000 m)."""
    b = gdf.to_crs(local_crs_for(gdf)).total_bounds
    span = max(b[2] - b[0], b[3] - b[1], 1.0)
    raw = span / 20.0 / np.sqrt(3.0)
    for v in (50, 75, 100, 150, 200, 300, 500, 750, 1000):
        if v >= raw:
            return float(v)
    return 1000.0
