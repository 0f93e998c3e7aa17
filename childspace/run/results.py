"""What a run carries from step to step: its loaded inputs, its results and the progress callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class Inputs:
    """The loaded, validated inputs of a run (canonical layers, EPSG:4326)."""

    townships: Any = None
    communities: Any = None
    facilities: Any = None
    pilots: Any = None
    origins: Any = None
    study_area: Any = None
    reports: dict[str, Any] = field(default_factory=dict)
    #: why no homes were estimated from the OSM extract (``[from_osm] homes = false``, nothing residential
    #: mapped), for the "no children to count" message; None when they were, or were not needed
    osm_homes_note: str | None = None


@dataclass
class Results:
    """Everything a run computes; the frames are the library functions' outputs, unchanged."""

    inputs: Inputs
    network: Any = None
    tables: dict[str, Any] = field(default_factory=dict)
    layers: dict[str, Any] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    stress: Any = None
