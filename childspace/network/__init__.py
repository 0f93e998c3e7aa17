"""The walk-network engine: ``WalkNetwork`` (CSR arrays in a metric CRS), snapping and shortest-path queries."""

from childspace.network.engine import EdgeWeight, Paths, PathSteps, Snap, WalkNetwork

__all__ = ["EdgeWeight", "PathSteps", "Paths", "Snap", "WalkNetwork"]
