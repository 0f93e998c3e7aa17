"""What a run carries from step to step: its loaded inputs, its results and the progress callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry.base import BaseGeometry

    from childspace.analysis.safety import Stress
    from childspace.network import WalkNetwork

#: a run's progress callback: one line of text per step
Progress = Callable[[str], None]

__all__ = ["Inputs", "Progress", "Results", "quiet"]


def quiet(_: str) -> None:
    """The progress callback that says nothing (the default of every step)."""
    return None


#: the former private name, still imported by run.pipeline and run.writing; use ``quiet``
_quiet = quiet


@dataclass
class Inputs:
    """The loaded, validated inputs of a run (canonical layers, EPSG:4326)."""

    townships: gpd.GeoDataFrame | None = None
    communities: gpd.GeoDataFrame | None = None
    facilities: gpd.GeoDataFrame | None = None
    pilots: gpd.GeoDataFrame | None = None
    origins: gpd.GeoDataFrame | None = None
    study_area: BaseGeometry | None = None  # the union of the boundaries (EPSG:4326)
    #: per input, the loader's report of what was repaired or excluded (``inputs.validate_report``)
    reports: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: why no homes were estimated from the OSM extract (``[from_osm] homes = false``, nothing residential
    #: mapped), for the "no children to count" message; None when they were, or were not needed
    osm_homes_note: str | None = None


@dataclass
class Results:
    """Everything a run computes; the frames are the library functions' outputs, unchanged."""

    inputs: Inputs
    network: WalkNetwork | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    stress: Stress | None = None
