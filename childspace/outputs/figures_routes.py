"""Static map of the routes to school (通学路径图, PNG/PDF): children per street, hazards, school zones."""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from pyproj import CRS

from childspace._errors import ChildspaceError, DataError
from childspace.analysis.streets import route_edge_use, school_zone_circles, school_zone_rules, zone_status
from childspace.outputs.figures import (
    _crs_for,
    _decorate,
    _draw_boundaries,
    _fix_extent,
    _Labels,
    _metric,
    _new_figure,
    _note_left_out,
    _style,
)
from childspace.outputs.style import STRESS_LABELS, ZONE_ROAD_COLOURS, ZONE_STATUS_LABELS

__all__ = ["plot_routes"]


def plot_routes(
    routes: gpd.GeoDataFrame,
    hazards: gpd.GeoDataFrame | None = None,
    walksheds: gpd.GeoDataFrame | None = None,
    schools: gpd.GeoDataFrame | None = None,
    *,
    boundaries: gpd.GeoDataFrame | None = None,
    route: str = "safest",
    network_stress: gpd.GeoDataFrame | None = None,
    school_zones: gpd.GeoDataFrame | None = None,
    zone_roads: gpd.GeoDataFrame | None = None,
    title: str | None = None,
    synthetic: bool = False,
    zone_rules: Mapping[str, float] | None = None,
) -> Figure:
    """Static map of routes to school by worst stress level (mirrors :func:`childspace.outputs.maps.routes_map`).

    Parameters
    ----------
    route : {"safest", "shortest", "both"}, default "safest"
        Which routes of ``routes.school_routes`` to draw (shortest ones dotted).
    network_stress : GeoDataFrame, optional
        Network edges with ``level`` (:func:`childspace.outputs.maps.stress_frames`): the whole network is drawn thin by
        street level and, for ``route`` "safest"/"shortest" with routes as returned by ``school_routes``, the
        routes are summed per street (width = children, :func:`childspace.outputs.maps.route_edge_use`) instead of
        drawing one line per route.
    school_zones, zone_roads : GeoDataFrame, optional
        :func:`childspace.analysis.safety.school_zones` (``return_segments=True``) outputs: the 150 m circles around each
        gate (dashed, coloured by the result: green compliant, amber one requirement fails, red both), the zone
        roads (red = limit over 30 km/h, blue = at most 30 km/h, dashed = limit assumed) and a ring per school
        coloured by the result (GA/T 1215-2014).
    Other parameters as in :func:`childspace.outputs.maps.routes_map`. School and community names are placed clear of
    each other and of the markers; names that fit nowhere are left out and counted in a note.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if route not in ("safest", "shortest", "both"):
        raise ChildspaceError(f"unknown route choice {route!r}", fix='use "safest", "shortest" or "both"')
    crs = _crs_for(routes, boundaries)
    r = _metric(routes, crs, "routes")
    if "worst_level" not in r.columns:
        raise DataError(
            "routes lack the column 'worst_level'",
            feature="routes",
            fix="pass the output of childspace.analysis.routes.school_routes",
        )
    if route != "both" and "route" in r.columns:
        r = r[r["route"].astype(str) == route]
    b = _metric(boundaries, crs, "boundaries")
    with _style():
        fig, ax = _new_figure()
        handles: list = []
        if walksheds is not None and len(walksheds):
            w = _metric(walksheds, crs, "walksheds")
            kind = w["kind"].astype(str).to_numpy() if "kind" in w.columns else np.array(["plain"] * len(w))
            if (kind == "plain").any():
                w[kind == "plain"].plot(ax=ax, color="#4a6fa5", alpha=0.10, linewidth=0, zorder=2)
                w[kind == "plain"].boundary.plot(
                    ax=ax, color="#4a6fa5", linewidth=1.2, linestyle="--", zorder=2
                )
                handles.append(
                    Patch(
                        facecolor="#dfe6f0", edgecolor="#4a6fa5", ls="--", label="普通步行范围 Plain walkshed"
                    )
                )
            if (kind == "safe").any():
                w[kind == "safe"].plot(
                    ax=ax, color="#1a9641", alpha=0.22, edgecolor="#1a9641", linewidth=1, zorder=3
                )
                handles.append(
                    Patch(facecolor="#a9d8b3", edgecolor="#1a9641", label="安全步行范围 Safe walkshed")
                )
        labels = _Labels()
        _draw_boundaries(ax, b, handles, labels=labels)
        zone_handles, zs = _draw_school_zones(ax, school_zones, zone_roads, schools, crs, zone_rules)
        level = pd.to_numeric(r["worst_level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
        kids = (
            pd.to_numeric(r["children"], errors="coerce").fillna(0).to_numpy()
            if "children" in r.columns
            else np.zeros(len(r))
        )
        kinds = r["route"].astype(str).to_numpy() if "route" in r.columns else np.array(["safest"] * len(r))
        use = None
        if network_stress is not None and len(network_stress):
            ns = _metric(network_stress, crs, "network_stress")
            nl = pd.to_numeric(ns["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
            ns.plot(ax=ax, color=[STRESS_LABELS[v][2] for v in nl], linewidth=0.8, alpha=0.8, zorder=4)
            if route != "both" and "childspace_routes" in routes.attrs:
                use = _metric(route_edge_use(routes, network_stress, route), crs, "edge use")
        if use is not None and len(use):
            k = use["children"].to_numpy(dtype=float)
            kmax = max(float(k.max()), 1.0)
            ul = pd.to_numeric(use["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
            o = np.argsort(k, kind="stable")
            use.iloc[o].plot(
                ax=ax,
                color=[STRESS_LABELS[v][2] for v in ul[o]],
                linewidth=1.0 + 7.0 * np.sqrt(k[o] / kmax),
                alpha=0.9,
                zorder=7,
            )
            for frac in (1.0, 0.25):
                handles.append(
                    Line2D(
                        [],
                        [],
                        color="#555555",
                        lw=1.0 + 7.0 * np.sqrt(frac),
                        label=f"{kmax * frac:,.0f} 名儿童走此街道 children on the street",
                    )
                )
            r = r.iloc[0:0]
            level, kids, kinds = level[:0], kids[:0], kinds[:0]
        for lv in (1, 2, 3, 4):
            for kd, ls in (("safest", "-"), ("shortest", ":")):
                sel = (level == lv) & (kinds == kd)
                if sel.any():
                    r[sel].plot(
                        ax=ax,
                        color=STRESS_LABELS[lv][2],
                        linewidth=np.clip(1.2 + 0.35 * np.sqrt(kids[sel]), 1.2, 5),
                        linestyle=ls,
                        zorder=6 + lv,
                    )
        for zh, en, col in STRESS_LABELS.values():
            handles.append(Line2D([], [], color=col, lw=3, label=f"{zh} {en}"))
        if route == "both":
            handles.append(
                Line2D([], [], color="#555555", lw=2, ls=":", label="点线 = 最短路线 Dotted = shortest")
            )
        if hazards is not None and len(hazards):
            h = _metric(hazards, crs, "hazards")
            hl = pd.to_numeric(h["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
            hk = (
                pd.to_numeric(h.get("children", pd.Series(0, index=h.index)), errors="coerce")
                .fillna(0)
                .to_numpy()
            )
            is_pt = h.geometry.geom_type.isin(["Point", "MultiPoint"]).to_numpy()
            if (~is_pt).any():
                h[~is_pt].plot(
                    ax=ax, color=[STRESS_LABELS[v][2] for v in hl[~is_pt]], linewidth=6, alpha=0.6, zorder=11
                )
            if is_pt.any():
                hp = h[is_pt]
                ax.scatter(
                    hp.geometry.x,
                    hp.geometry.y,
                    s=30 + 8 * hk[is_pt],
                    marker="^",
                    c=[STRESS_LABELS[v][2] for v in hl[is_pt]],
                    edgecolors="black",
                    linewidths=1,
                    zorder=12,
                )
                labels.avoid(hp.geometry.x, hp.geometry.y, np.sqrt(30 + 8 * hk[is_pt]) / 2)
            # the hazard numbers of the map and the tables (rank)
            rank = (
                pd.to_numeric(h["rank"], errors="coerce").to_numpy()
                if "rank" in h.columns
                else np.arange(1, len(h) + 1, dtype=float)
            )
            rp = h.geometry.representative_point()
            for x_, y_, k_ in zip(rp.x, rp.y, rank):
                if np.isfinite(k_):
                    ax.annotate(
                        f"{int(k_)}",
                        (x_, y_),
                        xytext=(5, 5),
                        textcoords="offset points",
                        fontsize=7,
                        color="white",
                        fontweight="bold",
                        zorder=12.5,
                        bbox=dict(boxstyle="round,pad=0.15", facecolor="black", edgecolor="none"),
                    )
            for lv in sorted(set(hl.tolist())):
                handles.append(
                    Line2D(
                        [],
                        [],
                        marker="^",
                        ls="",
                        color=STRESS_LABELS[lv][2],
                        markeredgecolor="black",
                        markersize=10,
                        label=f"隐患 {STRESS_LABELS[lv][0]} Hazard, {STRESS_LABELS[lv][1]}",
                    )
                )
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="^",
                    ls="",
                    color="white",
                    markeredgecolor="black",
                    markersize=10,
                    label="大小=受影响儿童，编号=排序 Size = children, number = rank",
                )
            )
        if schools is not None and len(schools):
            s = _metric(schools, crs, "schools")
            ax.scatter(
                s.geometry.x,
                s.geometry.y,
                s=120,
                c="#000000",
                edgecolors="white",
                linewidths=1.5,
                zorder=13,
                marker="o",
            )
            labels.avoid(s.geometry.x, s.geometry.y, np.sqrt(120) / 2 + 1.5)
            if "name" in s.columns and len(s) <= 60:
                labels.add(
                    s.geometry.x,
                    s.geometry.y,
                    s["name"].astype(str).tolist(),
                    priority=3.0,
                    marker_pt=np.sqrt(120) / 2 + 1.5,
                    fontsize=9,
                    zorder=14,
                )
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    ls="",
                    color="#000000",
                    markeredgecolor="white",
                    markersize=10,
                    label="学校 School",
                )
            )
        if zs is not None and len(zs):
            _zone_rings(ax, zs)
            labels.avoid(zs.geometry.x, zs.geometry.y, _ZONE_RING_PT)
        handles += zone_handles
        _fix_extent(
            ax,
            r,
            b,
            use,
            _metric(walksheds, crs, "walksheds") if walksheds is not None else None,
            _metric(schools, crs, "schools") if schools is not None else None,
            zs,
        )
        which = {
            "safest": "最安全路线 safest routes",
            "shortest": "最短路线 shortest routes",
            "both": "最安全与最短路线 safest and shortest routes",
        }[route]
        _decorate(
            fig,
            ax,
            title
            or f"上学路线安全评估（{which.split(' ')[0]}） Safe routes to school ({which.split(' ', 1)[1]})",
            synthetic,
            handles,
            crs,
        )
        _note_left_out(fig, labels.place(ax))
    return fig


_ZONE_RING_PT = 8.0  # radius (points) of the school-zone ring around a school marker


def _draw_school_zones(
    ax,
    school_zones: gpd.GeoDataFrame | None,
    zone_roads: gpd.GeoDataFrame | None,
    schools: gpd.GeoDataFrame | None,
    crs: CRS,
    zone_rules: Mapping[str, float] | None = None,
) -> tuple[list, gpd.GeoDataFrame | None]:
    """Zone circles and zone roads; returns legend handles and the zone table in ``crs`` (rings drawn later)."""
    z_ = dict(zone_rules) if zone_rules is not None else school_zone_rules()
    radius, limit = float(z_["radius_m"]), float(z_["speed_limit_kmh"])
    handles: list = []
    zs = None
    if school_zones is not None and len(school_zones):
        zs = _metric(school_zones, crs, "school_zones")
        status = zone_status(zs)
        circ = school_zone_circles(school_zones, schools, radius).to_crs(crs)
        circ.boundary.plot(
            ax=ax, color=[ZONE_STATUS_LABELS[v][2] for v in status], linewidth=1.0, linestyle="--", zorder=5
        )
        handles.append(
            Line2D(
                [],
                [],
                color="#555555",
                ls="--",
                lw=1.0,
                label=f"校门{radius:g}米范围 {radius:g} m around the gate (GA/T 1215-2014)",
            )
        )
        counts = pd.Series(status).value_counts()
        for k, (zh, en, col, _sym) in ZONE_STATUS_LABELS.items():
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    ls="",
                    markersize=11,
                    markerfacecolor="none",
                    markeredgecolor=col,
                    markeredgewidth=2.5,
                    label=f"校园周边{zh} School zone: {en.lower()}（{int(counts.get(k, 0))}）",
                )
            )
    if zone_roads is not None and len(zone_roads):
        zr = _metric(zone_roads, crs, "zone_roads")
        over = (
            zr["over_limit"].astype("boolean").fillna(False).to_numpy(dtype=bool)
            if "over_limit" in zr.columns
            else np.zeros(len(zr), dtype=bool)
        )
        assumed = (
            zr["speed_assumed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
            if "speed_assumed" in zr.columns
            else np.zeros(len(zr), dtype=bool)
        )
        for o in (False, True):
            for a, ls in ((False, "-"), (True, "--")):
                sel = (over == o) & (assumed == a)
                if sel.any():
                    zr[sel].plot(ax=ax, color=ZONE_ROAD_COLOURS[o], linewidth=2.2, linestyle=ls, zorder=9)
        handles.append(
            Line2D(
                [],
                [],
                color=ZONE_ROAD_COLOURS[True],
                lw=2.2,
                label=f"校园周边道路限速高于{limit:g} Zone road over {limit:g} km/h",
            )
        )
        handles.append(
            Line2D(
                [],
                [],
                color=ZONE_ROAD_COLOURS[False],
                lw=2.2,
                label=f"校园周边道路限速≤{limit:g} Zone road at most {limit:g} km/h",
            )
        )
        if assumed.any():
            handles.append(
                Line2D(
                    [],
                    [],
                    color="#555555",
                    lw=2.2,
                    ls="--",
                    label="虚线 = 限速按道路等级假定 Dashed = speed assumed",
                )
            )
    return handles, zs


def _zone_rings(ax, zs: gpd.GeoDataFrame) -> None:

    status = zone_status(zs)
    ax.scatter(
        zs.geometry.x,
        zs.geometry.y,
        s=(2 * _ZONE_RING_PT) ** 2,
        facecolors="none",
        edgecolors=[ZONE_STATUS_LABELS[v][2] for v in status],
        linewidths=2.5,
        zorder=13.5,
    )
