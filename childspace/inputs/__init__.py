"""Inputs: planners' files read, validated and normalised into the canonical layers (EPSG:4326).

``loaders`` (boundaries, facilities, pilots, origins), ``datum`` (GCJ-02/BD-09/WGS84), ``projection`` (local metric
CRS), ``standards`` (categories, radii and their basis), ``register`` (official administrative register).
"""

from childspace._types import CRSLike
from childspace.inputs.loaders import load_boundaries, load_facilities, load_origins, load_pilots

__all__ = ["CRSLike", "load_boundaries", "load_facilities", "load_origins", "load_pilots"]
