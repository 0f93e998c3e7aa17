"""Type aliases shared by every layer (annotations only: nothing here runs at import beyond the aliases)."""

from __future__ import annotations

from typing import TypeAlias

from pyproj import CRS

#: what the package accepts wherever it takes a coordinate reference system: an authority string
#: (``"EPSG:4549"``), an EPSG code (``4549``) or a ``pyproj.CRS``
CRSLike: TypeAlias = str | int | CRS

__all__ = ["CRSLike"]
