"""The state every part of :class:`childspace.network.engine.WalkNetwork` shares, declared once for the type checker.

``WalkNetwork`` is assembled from one mixin per concern (``snapping``, ``queries``, ``paths``, ``reach``,
``storage``); each mixin reads the arrays set by ``engine.WalkNetwork.__init__`` and calls methods of the others.
:class:`NetworkBase` declares those attributes and methods (annotations only: it adds nothing at run time), so
that each mixin is type-checked on its own without importing the engine (which imports the mixins).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

if TYPE_CHECKING:
    import scipy.sparse as sp
    from numpy.typing import ArrayLike

    from childspace._types import CRSLike
    from childspace.network.types import EdgeWeight, Snap


class NetworkBase:
    """Attributes of a built walk network (set by ``WalkNetwork.__init__``); see ``WalkNetwork`` for their meaning."""

    crs: CRS
    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    beside_roads: gpd.GeoDataFrame | None
    barriers: np.ndarray | None
    node_osmid: np.ndarray
    x: np.ndarray
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    component: np.ndarray
    component_sizes: np.ndarray
    _geom: np.ndarray
    _length_weight: EdgeWeight
    _tree: shapely.STRtree | None
    _walktree: shapely.STRtree | None
    _btree: tuple[shapely.STRtree, np.ndarray] | None
    _walkmask: np.ndarray | None
    _vcoords: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    _snapidx: dict[str, Any] | None
    _inc: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    _lazy_lock: threading.RLock

    if TYPE_CHECKING:
        # defined by the engine and the mixins; declared here so each mixin can call the others
        def __init__(
            self,
            nodes: gpd.GeoDataFrame,
            edges: gpd.GeoDataFrame,
            crs: CRSLike,
            beside_roads: gpd.GeoDataFrame | None = None,
        ) -> None: ...

        @property
        def n_nodes(self) -> int: ...

        @property
        def n_edges(self) -> int: ...

        @property
        def csr(self) -> sp.csr_array: ...

        def _weight(self, weight: EdgeWeight | ArrayLike | None) -> EdgeWeight: ...

        def _check_snap(self, s: Snap, what: str) -> None: ...

        def _vertex_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

        def _snap_index(self) -> dict[str, Any]: ...

        def _source_links(
            self, w: EdgeWeight, s: Snap, handicap: np.ndarray | None = None
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...

        def _augmented(
            self,
            w: EdgeWeight,
            s: Snap,
            handicap: np.ndarray | None = None,
            virtual: np.ndarray | None = None,
        ) -> tuple[sp.csr_array, np.ndarray]: ...

        def _target_dist(
            self, w: EdgeWeight, dist: np.ndarray, t: Snap, tp: np.ndarray
        ) -> tuple[np.ndarray, ...]: ...

        def _same_edge(
            self, w: EdgeWeight, s: Snap, sp_pts: np.ndarray, t: Snap, tp: np.ndarray
        ) -> tuple[np.ndarray, np.ndarray]: ...

        def _nearest_points(
            self,
            w: EdgeWeight,
            sources: Snap,
            targets: Snap,
            cutoff: float | None,
            tparts: tuple[np.ndarray, ...] | None = None,
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]: ...

        def _group_values(
            self, s: Snap, values: ArrayLike | None, name: str, default: float | None = None
        ) -> np.ndarray | None: ...

        def substrings(self, edge: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray: ...
