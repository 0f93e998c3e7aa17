"""What a run carries from step to step: its loaded inputs, its results and the progress callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry.base import BaseGeometry

    from childspace.analysis.safety import Stress
    from childspace.network import WalkNetwork

#: a run's progress callback: one line of text per step
Progress = Callable[[str], None]

__all__ = ["Inputs", "Progress", "Results", "RouteResults", "pack_frame", "quiet", "unpack_frame"]


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
    #: waits for the origins while another process reads them (``run.pipeline.origins_ready``)
    origins_pending: Callable[[], Any] | None = field(default=None, repr=False, compare=False)
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


@dataclass
class RouteResults:
    """What :func:`childspace.run.pipeline.route_analyses` adds to a run's :class:`Results`."""

    stress: Any = None
    layers: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)
    #: the progress lines said while they were computed on another process (said again by the run)
    messages: list[str] = field(default_factory=list)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with each layer's geometry as one array (:func:`pack_frame`): a county's 1.2 million route
        points pickled one shapely object at a time took seconds each way."""
        state = dict(self.__dict__)
        state["layers"] = {k: pack_frame(v) for k, v in self.layers.items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["layers"] = {k: unpack_frame(v) for k, v in state["layers"].items()}
        self.__dict__.update(state)


@dataclass
class _Packed:
    """A GeoDataFrame for pickling: its other columns, and its geometry as coordinates (points) or WKB."""

    frame: Any
    name: str
    position: int
    kind: str
    geometry: Any
    crs: Any
    attrs: dict[str, Any]


def pack_frame(g: Any) -> Any:
    """``g`` as a :class:`_Packed` when it is a GeoDataFrame (else as it is): every value kept exactly (points'
    float coordinates, other geometries and missing ones as WKB; rows sharing one point object share it again
    after :func:`unpack_frame`)."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    if not isinstance(g, gpd.GeoDataFrame) or g._geometry_column_name not in g.columns:
        return g
    name = g.geometry.name
    values = np.asarray(g.geometry.array, dtype=object)
    if (
        len(values)
        and bool((shapely.get_type_id(values) == 0).all())
        and not (shapely.is_empty(values).any() or shapely.has_z(values).any())
    ):
        # rows sharing one point object (a routes layer without lines: each home's point once per school
        # category) travel as the distinct points and where each row takes its own
        ids = np.fromiter(map(id, values), dtype=np.int64, count=len(values))
        _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        if len(first) < 0.75 * len(values):
            kind, geom = "xy-shared", (shapely.get_coordinates(values[first]), inverse)
        else:
            kind, geom = "xy", shapely.get_coordinates(values)
    else:
        kind, geom = "wkb", shapely.to_wkb(values)
    rest = pd.DataFrame(g.drop(columns=name), copy=False)
    rest.attrs = {}
    return _Packed(rest, name, list(g.columns).index(name), kind, geom, g.crs, dict(g.attrs))


def unpack_frame(p: Any) -> Any:
    """The GeoDataFrame of :func:`pack_frame`."""
    import geopandas as gpd
    import shapely

    if not isinstance(p, _Packed):
        return p
    if p.kind == "xy-shared":
        xy, inverse = p.geometry
        geom = shapely.points(xy)[inverse]
    else:
        geom = shapely.points(p.geometry) if p.kind == "xy" else shapely.from_wkb(p.geometry)
    df = p.frame
    df.insert(p.position, p.name, gpd.GeoSeries(geom, index=df.index, crs=p.crs))
    out = gpd.GeoDataFrame(df, geometry=p.name, crs=p.crs)
    out.attrs = p.attrs
    return out
