"""Static map (PNG/PDF) of the public venues that must have a mother-and-baby room (mirrors
:func:`childspace.outputs.maps.venues.venues_map`): the venues without the room they must have, named, in red
with ×; those with one in blue with ✓; the others small and grey; the rules' thresholds in the legend."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from childspace.outputs._figure_base import (
    _crs_for,
    _decorate,
    _draw_boundaries,
    _fix_extent,
    _metric,
    _new_figure,
)
from childspace.outputs.figures import _style
from childspace.outputs.maps.venues import (
    ROOM_COLOUR,
    VENUE_STATUS,
    venue_rules_and_distance,
    venue_status_keys,
)

__all__ = ["plot_venues"]


def plot_venues(
    venues: gpd.GeoDataFrame,
    rooms: gpd.GeoDataFrame | None = None,
    *,
    boundaries: gpd.GeoDataFrame | None = None,
    rules: Any = None,
    max_distance_m: float | None = None,
    title: str | None = None,
    synthetic: bool = False,
    label: bool = True,
) -> Figure:
    """Static map of the venues checked for a mother-and-baby room.

    Parameters are those of :func:`childspace.outputs.maps.venues.venues_map`; ``label`` writes the names of the
    venues that must have a room and have none.

    Returns
    -------
    matplotlib.figure.Figure
    """
    crs = _crs_for(venues, boundaries)
    v = _metric(venues, crs, "venues")
    lines, dist = venue_rules_and_distance(venues, rules, max_distance_m)
    b = _metric(boundaries, crs, "boundaries")
    key = venue_status_keys(v)
    pts = v.geometry.representative_point()
    with _style():
        fig, ax = _new_figure()
        handles: list = []
        _draw_boundaries(ax, b, handles)
        if rooms is not None and len(rooms):
            r = _metric(rooms, crs, "rooms")
            ax.scatter(
                r.geometry.x, r.geometry.y, s=22, c=ROOM_COLOUR, edgecolors="white", linewidths=0.6, zorder=8
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    ls="",
                    color=ROOM_COLOUR,
                    markeredgecolor="white",
                    label=f"母婴室 Mother-and-baby rooms（{len(r)}）",
                )
            )
        halo = [patheffects.withStroke(linewidth=3, foreground="white")]
        for k, (zh, en, colour, sym) in VENUE_STATUS.items():
            sel = key == k
            size = {"missing": 150, "ok": 90}.get(k, 30)
            if sel.any():
                ax.scatter(
                    pts.x[sel],
                    pts.y[sel],
                    s=size,
                    c=colour,
                    edgecolors="black" if k == "missing" else "white",
                    linewidths=1.5,
                    zorder=10 if k == "missing" else 9,
                )
                if k in ("missing", "ok"):  # the status without colour
                    ax.scatter(
                        pts.x[sel],
                        pts.y[sel],
                        s=size * 0.35,
                        c="white",
                        marker="x" if k == "missing" else "+",
                        linewidths=1.6,
                        zorder=11,
                    )
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    ls="",
                    color=colour,
                    markeredgecolor="black" if k == "missing" else "white",
                    markersize={"missing": 11, "ok": 9}.get(k, 6),
                    label=f"{sym} {zh} {en}（{int(sel.sum())}）",
                )
            )
        if label and "name" in v.columns:
            miss = np.flatnonzero(key == "missing")
            for i in miss[:40]:
                ax.annotate(
                    str(v["name"].iloc[i]),
                    (pts.x.iloc[i], pts.y.iloc[i]),
                    xytext=(8, 6),
                    textcoords="offset points",
                    fontsize=9,
                    color="#6b0030",
                    fontweight="bold",
                    zorder=12,
                    path_effects=halo,
                )
        handles.append(
            Patch(facecolor="none", edgecolor="none", label="应建母婴室的规则 Which venues must have one:")
        )
        for t in lines:
            zh, _, en = t.partition(" (")
            handles.append(Patch(facecolor="none", edgecolor="none", label=f"  {zh}\n  ({en}"))
        handles.append(
            Patch(
                facecolor="none",
                edgecolor="none",
                label=f"  场所内或 {dist:g} 米内有母婴室即视为已有\n  (a room inside or within {dist:g} m counts)",
            )
        )
        _fix_extent(ax, v, b)
        _decorate(
            fig,
            ax,
            title or "应建母婴室的公共场所 Public venues that must have a mother-and-baby room",
            synthetic,
            handles,
            crs,
        )
    return fig
