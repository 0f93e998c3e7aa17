"""Small checks shared by the analyses."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd

from childspace._errors import DataError

__all__ = ["require_layer"]


def require_layer(gdf: object, what: str, columns: Sequence[str]) -> None:
    """``gdf`` is a GeoDataFrame with a CRS, the ``columns`` and a unique first column, else a DataError."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise DataError(
            f"{what} must be a GeoDataFrame",
            feature=what,
            fix="load it with childspace.inputs.loaders (canonical layers)",
        )
    if gdf.crs is None:
        raise DataError(
            f"{what} have no CRS",
            feature=what,
            fix="call .set_crs('EPSG:4326') or load with childspace.inputs.loaders",
        )
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise DataError(
            f"{what} lack the column(s) {missing}",
            feature=what,
            fix=f"give {what} the canonical columns {list(columns)} (see docs/architecture.md)",
        )
    if gdf[columns[0]].duplicated().any():
        dup = gdf.loc[gdf[columns[0]].duplicated(), columns[0]].astype(str).unique()[:5].tolist()
        raise DataError(
            f"duplicate {columns[0]} values in {what}: {dup}", feature=what, fix=f"make {columns[0]} unique"
        )
