"""The walk-network engine: ``WalkNetwork`` (CSR arrays in a metric CRS), snapping and shortest-path queries.

One class, :class:`WalkNetwork` (``engine``: construction, weights, components), assembled from one module per
concern: ``snapping`` (attaching points to edges), ``queries`` (nearest, distance matrices), ``paths`` (routes and
their geometry), ``reach`` (bounded searches for service areas), ``storage`` (GeoPackage, networkx); the value
types in ``types`` (``Snap``, ``EdgeWeight``, ``Paths``, ``PathSteps``).
"""

from childspace.network.engine import EdgeWeight, Paths, PathSteps, Snap, WalkNetwork

__all__ = ["EdgeWeight", "PathSteps", "Paths", "Snap", "WalkNetwork"]
