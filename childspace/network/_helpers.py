"""Small array helpers of the walk-network engine (group minima, CSR assembly, point transforms)."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS

from childspace.inputs.projection import transformer

__all__ = [
    "DEFAULT_MEMORY_MB",
    "as_object_none",
    "csr_from_parts",
    "group_argmin",
    "group_min_columns",
    "part_cost",
    "transform_points",
    "with_virtual",
]

#: default memory budget (MiB) for dense per-source distance rows in ``distance_matrix`` / ``k_nearest``
DEFAULT_MEMORY_MB = 256


# ----------------------------------------------------------------------------------------------------------------
# small array helpers
# ----------------------------------------------------------------------------------------------------------------
def group_argmin(values: np.ndarray, owner: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group: the minimum of ``values`` and the position (into ``values``) achieving it (-1 if none/inf)."""
    best = np.full(n_groups, np.inf)
    arg = np.full(n_groups, -1, dtype=np.int64)
    if values.size == 0:
        return best, arg
    if values.size == n_groups and np.array_equal(owner, np.arange(n_groups)):  # one value per group
        fin = np.isfinite(values)
        best[fin] = values[fin]
        arg[fin] = np.flatnonzero(fin)
        return best, arg
    order = np.lexsort((values, owner))
    o = owner[order]
    first = np.ones(o.size, dtype=bool)
    first[1:] = o[1:] != o[:-1]
    pos = order[first]
    best[owner[pos]] = values[pos]
    arg[owner[pos]] = pos
    arg[~np.isfinite(best)] = -1
    return best, arg


def group_min_columns(mat: np.ndarray, owner: np.ndarray, n_groups: int) -> np.ndarray:
    """Reduce the columns of ``mat`` (r, c) to (r, n_groups) by minimum over columns sharing an owner."""
    out = np.full((mat.shape[0], n_groups), np.inf)
    if mat.shape[1] == 0:
        return out
    order = np.argsort(owner, kind="stable")
    o = owner[order]
    starts = np.flatnonzero(np.r_[True, o[1:] != o[:-1]])
    out[:, o[starts]] = np.minimum.reduceat(mat[:, order], starts, axis=1)
    return out


def part_cost(frac: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Cost of a fraction of edges: ``frac * w``, with 0 for a zero fraction even on impassable (inf) edges."""
    with np.errstate(invalid="ignore"):
        return np.where(frac == 0, 0.0, frac * w)


def csr_from_parts(
    rows: list[np.ndarray], cols: list[np.ndarray], vals: list[np.ndarray], shape: tuple[int, int]
) -> sp.csr_array:
    """A CSR array from (row, col, value) triples given in parts (no duplicates), entries sorted in each row."""
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    v = np.concatenate(vals) if vals else np.zeros(0)
    o = np.lexsort((c, r))
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=shape[0]), out=indptr[1:])
    return sp.csr_array((v[o], c[o], indptr), shape=shape)


def with_virtual(
    base: sp.csr_array, virtual: np.ndarray, cols: np.ndarray, vals: np.ndarray, keep: np.ndarray, k: int
) -> sp.csr_array:
    """``base`` (m x m) plus ``k`` virtual nodes (rows m..m+k-1): point j links to the nodes ``cols[j]`` at
    ``vals[j]`` where ``keep[j]``, through virtual node ``virtual[j]``; the cheapest link per (virtual node, node)."""
    m = base.shape[0]
    vrow = np.repeat(virtual[:, None], 2, axis=1)[keep]
    vcol, vval = cols[keep], vals[keep]
    order = np.lexsort((vval, vcol, vrow))
    vrow, vcol, vval = vrow[order], vcol[order], vval[order]
    first = np.r_[True, (vrow[1:] != vrow[:-1]) | (vcol[1:] != vcol[:-1])] if vrow.size else vrow == 0
    vrow, vcol, vval = vrow[first], vcol[first], vval[first]
    itype = base.indices.dtype
    indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(np.bincount(vrow, minlength=k))])
    return sp.csr_array(
        (
            np.concatenate([base.data, vval]),
            np.concatenate([base.indices, vcol.astype(itype)]),
            indptr.astype(itype),
        ),
        shape=(m + k, m + k),
    )


def transform_points(geom: np.ndarray, src: CRS, dst: CRS) -> np.ndarray:
    """(m, 2) coordinates of point geometries transformed from ``src`` to ``dst`` (NaN for empty points);
    pyproj on the coordinate arrays, no geometry objects made."""
    out = np.full((geom.size, 2), np.nan)
    has = ~(shapely.is_missing(geom) | shapely.is_empty(geom))
    xy = shapely.get_coordinates(geom[has])
    if xy.shape[0] == int(has.sum()):
        x, y = transformer(src, dst).transform(xy[:, 0], xy[:, 1])
        out[has] = np.c_[x, y]
    return out


def as_object_none(df: pd.DataFrame, skip: Sequence[str]) -> pd.DataFrame:
    """Text columns as object dtype with ``None`` for missing values (stable through GeoPackage round trips)."""
    gname = df.geometry.name if isinstance(df, gpd.GeoDataFrame) else None
    for col in df.columns:
        if col in skip or col == gname:
            continue
        s = df[col]
        if pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
            obj = s.astype(object)
            df[col] = obj.where(obj.notna(), None)
    return df


#: the former private names, still imported by network.paths, network.queries and network.reach
_group_argmin = group_argmin
_group_min_columns = group_min_columns
_part = part_cost
_csr_from_parts = csr_from_parts
_with_virtual = with_virtual
