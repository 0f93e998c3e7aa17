"""Static map of the routes to school (通学路径图, PNG/PDF): children per street, hazards, school zones."""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.collections import PatchCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path
from pyproj import CRS

from childspace._errors import ChildspaceError, DataError
from childspace.analysis.streets import school_zone_rules, zone_status
from childspace.outputs._figure_base import line_collection
from childspace.outputs._routes_common import edge_use, line_routes, zone_circles
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
from childspace.outputs.style import STRESS_LABELS, ZONE_ROAD_COLOURS, ZONE_STATUS_LABELS, feature_label

__all__ = ["plot_routes"]

#: hazard numbers offered to the label placer (the best-ranked first); a county's 1,500 numbers do not fit on a
#: page and measuring each took most of the figure's time; the list beside the map and the tables have them all
MAX_HAZARD_LABELS = 150


def _line_paths(
    ax,
    geoms: gpd.GeoSeries | np.ndarray,
    cls: np.ndarray,
    styles: Mapping[int, tuple[str, float, str]],
    **kw,
) -> PathCollection | None:
    """Lines drawn as one compound path per class: ``cls`` (an int per geometry; drawn in increasing order,
    so the last class is on top) -> (colour, line width, line style). A whole county's streets are a few paths
    (one draw call) instead of one path per street; vertices are read with array operations."""
    arr = np.asarray(geoms.values if isinstance(geoms, gpd.GeoSeries) else geoms, dtype=object)
    if not len(arr):
        return None
    tid = shapely.get_type_id(arr)
    if np.isin(tid, (1, 2)).all():  # single lines (a network's streets): no parts to take apart or copy
        parts, pc = arr, np.asarray(cls)
    else:
        parts, owner = shapely.get_parts(arr, return_index=True)
        keep = np.isin(shapely.get_type_id(parts), (1, 2))  # LineString, LinearRing
        parts, pc = parts[keep], np.asarray(cls)[owner[keep]]
    if not len(parts):
        return None
    o = np.argsort(pc, kind="stable")
    parts, pc = parts[o], pc[o]
    xy, idx = shapely.get_coordinates(parts, return_index=True)
    codes = np.full(len(xy), Path.LINETO, dtype=np.uint8)
    codes[np.r_[0, np.flatnonzero(np.diff(idx)) + 1]] = Path.MOVETO
    ccls = pc[idx]
    keys, starts = np.unique(ccls, return_index=True)
    ends = np.r_[starts[1:], len(xy)]
    paths = [Path(xy[a:b], codes[a:b]) for a, b in zip(starts, ends)]
    st = [styles[int(k)] for k in keys]
    coll = PathCollection(
        paths,
        facecolors="none",
        edgecolors=[c for c, _w, _l in st],
        linewidths=[w for _c, w, _l in st],
        linestyles=[ls for _c, _w, ls in st],
        **kw,
    )
    ax.add_collection(coll, autolim=False)
    return coll


def _polygon_patches(ax, geoms: gpd.GeoSeries, **kw) -> PatchCollection | None:
    """Polygons drawn as ``GeoSeries.plot`` draws them (normalised; one compound path per (multi)polygon, holes
    as inner rings, in one collection: the same paths, so the same pixels), with the rings read by array
    operations instead of ring by ring in Python, and without the draw of the whole figure that ends
    ``GeoSeries.plot`` (its pixels were thrown away: the figure is drawn again when saved)."""
    arr = shapely.normalize(np.asarray(geoms.values, dtype=object))
    arr = arr[~(shapely.is_missing(arr) | shapely.is_empty(arr))]
    tid = shapely.get_type_id(arr)
    if (tid == 7).any():  # geometry collections: taken apart the way GeoSeries.plot does it
        geoms.plot(ax=ax, color=kw.pop("facecolor"), **kw)
        return None
    arr = arr[np.isin(tid, (3, 6))]  # Polygon, MultiPolygon
    if not len(arr):
        return None
    parts, part_of = shapely.get_parts(arr, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)  # per part: the shell, then its holes
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    codes = np.full(len(xy), Path.LINETO, dtype=Path.code_type)
    first = np.r_[0, np.flatnonzero(np.diff(ring_of)) + 1]
    codes[np.r_[first[1:], len(xy)] - 1] = Path.CLOSEPOLY  # as Path(ring, closed=True)
    codes[first] = Path.MOVETO
    geom_of = part_of[ring_part[ring_of]]
    cuts = np.r_[0, np.flatnonzero(np.diff(geom_of)) + 1, len(xy)]
    patches = [PathPatch(Path(xy[i:j], codes[i:j])) for i, j in zip(cuts[:-1], cuts[1:])]
    coll = PatchCollection(patches, **kw)
    ax.add_collection(coll, autolim=True)
    ax.autoscale_view()
    ax.set_aspect("equal")  # as GeoSeries.plot does in a projected CRS
    _axis_labels(ax, geoms.crs)
    return coll


def _axis_labels(ax, crs: CRS | None) -> None:
    """The axis labels ``GeoSeries.plot`` sets from the CRS (e.g. "Easting [metre]"; not drawn: the axes are
    off, but the figure's state stays that of the plain call)."""
    if crs:
        x_label = f"{crs.axis_info[0].name} [{crs.axis_info[0].unit_name}]"
        y_label = f"{crs.axis_info[1].name} [{crs.axis_info[1].unit_name}]"
        if crs.axis_info[0].direction == "north":
            x_label, y_label = y_label, x_label
    else:
        x_label, y_label = "x", "y"
    if ax.get_xlabel() == "":
        ax.set_xlabel(x_label, fontsize="small")
    if ax.get_ylabel() == "":
        ax.set_ylabel(y_label, fontsize="small")


def plot_routes(
    routes: pd.DataFrame,
    hazards: gpd.GeoDataFrame | None = None,
    walksheds: gpd.GeoDataFrame | None = None,
    schools: gpd.GeoDataFrame | None = None,
    *,
    boundaries: gpd.GeoDataFrame | None = None,
    route: str = "safest",
    network_stress: gpd.GeoDataFrame | None = None,
    school_zones: gpd.GeoDataFrame | None = None,
    zone_roads: gpd.GeoDataFrame | None = None,
    max_route_lines: int = 2000,
    max_hazard_list: int = 10,
    title: str | None = None,
    synthetic: bool = False,
    zone_rules: Mapping[str, float] | None = None,
) -> Figure:
    """Static map of routes to school (mirrors :func:`childspace.outputs.maps.routes_map`).

    Parameters
    ----------
    routes : DataFrame or GeoDataFrame
        ``routes.school_routes`` output (``school_id``, ``worst_level``, ``route``, ``children`` …), with a
        LineString per route when the route geometry was kept, else home points or no geometry.
    route : {"safest", "shortest", "both"}, default "safest"
        Which routes to draw (shortest ones dotted).
    network_stress : GeoDataFrame, optional
        Network edges with ``level`` (:func:`childspace.analysis.streets.stress_frames`): the whole network is
        drawn thin by street level and, for ``route`` "safest"/"shortest" with routes as returned by
        ``school_routes``, the routes are summed per street (width = children,
        :func:`childspace.analysis.streets.route_edge_use`) instead of one line per route.
    school_zones, zone_roads : GeoDataFrame, optional
        :func:`childspace.analysis.safety.school_zones` (``return_segments=True``) outputs: the 150 m circles around each
        gate (dashed, coloured by the result: green compliant, amber one requirement fails, red both), the zone
        roads (red = limit over 30 km/h, blue = at most 30 km/h, dashed = limit assumed) and a ring per school
        coloured by the result (GA/T 1215-2014).
    max_route_lines : int, default 2000
        Without the per-street sums, single route lines are drawn when the routes carry lines and there are at
        most this many; otherwise a note says so (the figure grows with the streets, not with the homes).
    max_hazard_list : int, default 10
        The first hazards by rank are listed beside the map (number, street, level, children and, when the
        hazards carry ``countermeasures``, the measure suggested).
    Other parameters as in :func:`childspace.outputs.maps.routes_map`. Hazard numbers (the rank, as in the tables
    and the HTML map), school and community names are placed clear of each other and of the markers (farther
    out with a leader line when crowded); labels that fit nowhere are left out and counted in a note.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if route not in ("safest", "shortest", "both"):
        raise ChildspaceError(f"unknown route choice {route!r}", fix='use "safest", "shortest" or "both"')
    if not isinstance(routes, pd.DataFrame) or "worst_level" not in routes.columns:
        raise DataError(
            "routes lack the column 'worst_level'",
            feature="routes",
            fix="pass the output of childspace.analysis.routes.school_routes",
        )
    lines = line_routes(routes)
    crs = _crs_for(
        *(
            g
            for g in (boundaries, walksheds, schools, hazards, school_zones, lines)
            if g is not None and len(g)
        )
    )
    b = _metric(boundaries, crs, "boundaries", simplify_m=5.0)
    with _style():
        fig, ax = _new_figure()
        handles: list = []
        if walksheds is not None and len(walksheds):
            w = _metric(walksheds, crs, "walksheds")
            kind = w["kind"].astype(str).to_numpy() if "kind" in w.columns else np.array(["plain"] * len(w))
            if (kind == "plain").any():
                _polygon_patches(
                    ax, w.geometry[kind == "plain"], facecolor="#4a6fa5", alpha=0.10, linewidth=0, zorder=2
                )
                line_collection(
                    ax, w[kind == "plain"].boundary, color="#4a6fa5", linewidth=1.2, linestyle="--", zorder=2
                )
                handles.append(
                    Patch(
                        facecolor="#dfe6f0", edgecolor="#4a6fa5", ls="--", label="普通步行范围 Plain walkshed"
                    )
                )
            if (kind == "safe").any():
                _polygon_patches(
                    ax,
                    w.geometry[kind == "safe"],
                    facecolor="#1a9641",
                    alpha=0.22,
                    edgecolor="#1a9641",
                    linewidth=1,
                    zorder=3,
                )
                handles.append(
                    Patch(facecolor="#a9d8b3", edgecolor="#1a9641", label="安全步行范围 Safe walkshed")
                )
        labels = _Labels()
        _draw_boundaries(ax, b, handles, labels=labels)
        zone_handles, zs = _draw_school_zones(ax, school_zones, zone_roads, schools, crs, zone_rules)
        use = None
        if network_stress is not None and len(network_stress):
            ns = _metric(network_stress, crs, "network_stress")
            nl = pd.to_numeric(ns["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
            _line_paths(
                ax,
                ns.geometry,
                nl,
                {lv: (STRESS_LABELS[lv][2], 0.6, "-") for lv in STRESS_LABELS},
                # one path per level: overlapping strokes no longer add up, so a county's dense network (more
                # streets than pixels across) is drawn lighter, or it would fill in; a town's as before
                alpha=0.8 if len(ns) <= 20_000 else 0.45,
                zorder=4,
            )
            if route != "both" and "childspace_routes" in routes.attrs and "route_key" in routes.columns:
                use = _metric(edge_use(routes, network_stress, route), crs, "edge use")
        r = None
        note = ""
        if use is not None and len(use):
            k = use["children"].to_numpy(dtype=float)
            kmax = max(float(k.max()), 1.0)
            ul = pd.to_numeric(use["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
            # width in 0.25-pt steps; one path per (width, level), the widest (busiest) drawn last
            step = np.round((7.0 * np.sqrt(k / kmax)) / 0.25).astype(int)
            ucls = step * 8 + ul
            _line_paths(
                ax,
                use.geometry,
                ucls,
                {
                    int(c): (STRESS_LABELS[int(c) % 8][2], 1.0 + 0.25 * (int(c) // 8), "-")
                    for c in np.unique(ucls)
                },
                alpha=0.9,
                zorder=7,
                capstyle="butt",
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
        elif lines is None:
            note = (
                "单条路线几何未保存；按街道汇总需路网 Route lines not kept; per-street sums need the network"
            )
        elif len(table := _of_kind(routes, route)) > max_route_lines:
            note = (
                f"单条路线未绘制（{len(table):,} 条 > {max_route_lines:,}） Single routes not drawn "
                f"({len(table):,} > {max_route_lines:,})"
            )
        else:
            r = _metric(lines.loc[lines.index.intersection(table.index)], crs, "routes")
        if r is not None and len(r):
            level = (
                pd.to_numeric(r["worst_level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
            )
            kids = (
                pd.to_numeric(r["children"], errors="coerce").fillna(0).to_numpy()
                if "children" in r.columns
                else np.zeros(len(r))
            )
            kinds = (
                r["route"].astype(str).to_numpy() if "route" in r.columns else np.array(["safest"] * len(r))
            )
            for lv in (1, 2, 3, 4):
                for kd, ls in (("safest", "-"), ("shortest", ":")):
                    sel = (level == lv) & (kinds == kd)
                    if sel.any():
                        line_collection(
                            ax,
                            r.geometry.to_numpy()[sel],
                            color=STRESS_LABELS[lv][2],
                            linewidth=np.clip(1.2 + 0.35 * np.sqrt(kids[sel]), 1.2, 5),
                            linestyle=ls,
                            zorder=6 + lv,
                        )
        for zh, en, col in STRESS_LABELS.values():
            handles.append(Line2D([], [], color=col, lw=3, label=f"{zh} {en}"))
        if route == "both" and r is not None:
            handles.append(
                Line2D([], [], color="#555555", lw=2, ls=":", label="点线 = 最短路线 Dotted = shortest")
            )
        hz = None
        if hazards is not None and len(hazards):
            hz = _draw_hazards(ax, _metric(hazards, crs, "hazards"), handles, labels)
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
            lx, ly, lt = _school_labels(s) if "name" in s.columns else ([], [], [])
            if 0 < len(lt) <= 60:
                labels.add(
                    lx,
                    ly,
                    lt,
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
        if note:
            handles.append(Line2D([], [], ls="", label=note))
        _fix_extent(
            ax,
            r,
            b,
            use,
            _metric(walksheds, crs, "walksheds") if walksheds is not None else None,
            _metric(schools, crs, "schools") if schools is not None else None,
            zs,
            hz,
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
        # hazard numbers past MAX_HAZARD_LABELS are not offered to the placer: counted with those left out
        n_unoffered = (
            max(int(np.isfinite(_hazard_numbers(hz)).sum()) - MAX_HAZARD_LABELS, 0) if hz is not None else 0
        )
        _note_left_out(fig, labels.place(ax) + n_unoffered)
        if hz is not None and max_hazard_list > 0:
            _hazard_list(fig, ax, hz, max_hazard_list)
    return fig


def _school_labels(s: gpd.GeoDataFrame) -> tuple[list[float], list[float], list[str]]:
    """One label per school place: its name, or for an unnamed school "未命名学校 unnamed school (OSM node 123)"
    (:func:`childspace.outputs.style.feature_label`); a school listed once per category at the same point (a
    school with primary and middle grades) is labelled once."""
    ids = s["facility_id"] if "facility_id" in s.columns else pd.Series([None] * len(s), index=s.index)
    names = s["name"]
    # an OSM school split per category ("osm/way/1#primary_school", "#middle_school") is one school
    base = [str(i).split("#", 1)[0] if isinstance(i, str) else i for i in ids]
    text = [feature_label(n, i, "school") for n, i in zip(names, base)]
    x, y = s.geometry.x.to_numpy(), s.geometry.y.to_numpy()
    keep = ~pd.DataFrame({"x": x, "y": y, "t": text}).duplicated().to_numpy()
    return x[keep].tolist(), y[keep].tolist(), [t for t, k in zip(text, keep) if k]


def _of_kind(routes: pd.DataFrame, route: str) -> pd.DataFrame:
    """The routes of the kind drawn (all for "both"): selected only when single routes may be drawn, a county's
    1.2 million rows of every column are not copied for a per-street figure."""
    if route == "both" or "route" not in routes.columns:
        return routes
    return routes[routes["route"].astype(str) == route]


def _hazard_numbers(h: pd.DataFrame) -> np.ndarray:
    """The hazard numbers of the tables and the HTML map: the rank (else the order given)."""
    if "rank" in h.columns:
        return pd.to_numeric(h["rank"], errors="coerce").to_numpy(dtype=float)
    return np.arange(1, len(h) + 1, dtype=float)


def _draw_hazards(ax, h: gpd.GeoDataFrame, handles: list, labels: _Labels) -> gpd.GeoDataFrame:
    """Hazard segments and crossings by level (size = children); their numbers go to the label placer (first of
    all labels, so they are the last to be left out). Returns the hazards in the figure's CRS."""
    hl = pd.to_numeric(h["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
    hk = pd.to_numeric(h.get("children", pd.Series(0, index=h.index)), errors="coerce").fillna(0).to_numpy()
    size_pt = np.clip(4.0 + 0.8 * np.sqrt(hk), 4.0, 14.0)  # marker radius (points), as in the HTML map
    is_pt = h.geometry.geom_type.isin(["Point", "MultiPoint"]).to_numpy()
    if (~is_pt).any():
        line_collection(
            ax,
            h.geometry.to_numpy()[~is_pt],
            color=[STRESS_LABELS[v][2] for v in hl[~is_pt]],
            linewidth=6,
            alpha=0.6,
            zorder=11,
        )
    rp = h.geometry.representative_point()
    if is_pt.any():
        ax.scatter(
            rp.x[is_pt],
            rp.y[is_pt],
            s=(2 * size_pt[is_pt]) ** 2,
            marker="^",
            c=[STRESS_LABELS[v][2] for v in hl[is_pt]],
            edgecolors="black",
            linewidths=1,
            zorder=12,
        )
    labels.avoid(rp.x, rp.y, np.where(is_pt, size_pt, 3.0).tolist())
    rank = _hazard_numbers(h)
    ok = np.isfinite(rank)
    # the best-ranked numbers are placed first; each tries the slots around its marker, then farther out with a
    # leader line; none overlaps another label or a marker
    order = np.argsort(np.where(ok, rank, np.inf), kind="stable")
    for i in order[ok[order]][:MAX_HAZARD_LABELS]:
        labels.add(
            [rp.x.iloc[i]],
            [rp.y.iloc[i]],
            [f"{int(rank[i])}"],
            priority=10.0 - 1e-6 * rank[i],
            marker_pt=float(size_pt[i]) if is_pt[i] else 3.0,
            fontsize=7,
            color="white",
            fontweight="bold",
            zorder=16.5,
            bbox=dict(boxstyle="round,pad=0.15", facecolor="black", edgecolor="none"),
            path_effects=[],
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
            label="大小=受影响儿童，编号=排序（同表格） Size = children, number = rank (as in the tables)",
        )
    )
    return h


def _hazard_list(fig: Figure, ax, h: gpd.GeoDataFrame, limit: int) -> None:
    """The first hazards by rank, listed under the legend: number, street, level, children, countermeasure.

    As many as asked for (``limit``) and there are, as long as they fit above the bottom of the figure; the
    title says how many are listed of how many (e.g. "first 5 of 37": the tables list them all). An unnamed
    street is called so, with the hazard's id (:func:`childspace.outputs.style.feature_label`)."""
    rank = _hazard_numbers(h)
    order = np.argsort(np.where(np.isfinite(rank), rank, np.inf), kind="stable")[:limit]
    if not len(order):
        return
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # (an Agg canvas: _new_figure)
    leg = ax.get_legend()
    fig_h = fig.bbox.height
    top = (leg.get_window_extent(renderer).y0 / fig_h - 0.02) if leg is not None else 0.6
    x0 = ax.get_position().x1 + 0.01
    if top < 0.12:
        return
    hl = pd.to_numeric(h["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
    hk = pd.to_numeric(h.get("children", pd.Series(0, index=h.index)), errors="coerce").fillna(0).to_numpy()
    names = h["name"].to_numpy(dtype=object) if "name" in h.columns else np.full(len(h), None, dtype=object)
    ids = h["hazard_id"].to_numpy(dtype=object) if "hazard_id" in h.columns else np.full(len(h), None, object)
    kinds = h["type"].astype(str).to_numpy() if "type" in h.columns else np.full(len(h), "segment", object)
    measures = h["countermeasures"].to_numpy() if "countermeasures" in h.columns else None
    lines = []
    for i in order:
        nm = feature_label(names[i], ids[i], "crossing" if kinds[i] == "crossing" else "street")
        row = f"{int(rank[i]) if np.isfinite(rank[i]) else '—'}  {nm} · {STRESS_LABELS[hl[i]][0]} · {hk[i]:,.0f} 名儿童"
        if measures is not None and isinstance(measures[i], str) and measures[i].strip():
            m_ = measures[i].strip().replace("\n", " ")
            row += "\n     → " + (m_ if len(m_) <= 60 else m_[:58] + "…")
        lines.append(row)
    # the title first (its height places the rows), its text once the rows that fit are known
    text = fig.text(
        x0,
        top,
        _hazard_list_title(len(lines), len(h), measures is not None),
        fontsize=9,
        fontweight="bold",
        va="top",
        ha="left",
    )
    bb = text.get_window_extent(renderer)
    y = (bb.y0 - 2) / fig_h
    shown = 0
    for row in lines:
        t = fig.text(x0, y, row, fontsize=7.5, va="top", ha="left", linespacing=1.25)
        y1 = t.get_window_extent(renderer).y0 / fig_h
        if y1 < 0.04:  # no room left: the table has the rest
            t.remove()
            break
        shown += 1
        y = y1 - 0.004
    if not shown:
        text.remove()
        return
    text.set_text(_hazard_list_title(shown, len(h), measures is not None))


def _hazard_list_title(shown: int, total: int, measures: bool) -> str:
    """ "隐患排序（前 5 处，共 37 处） Hazards by rank (first 5 of 37)"; all of them: "（共 3 处） (all 3)"."""
    if shown >= total:
        head = f"隐患排序（共{total}处） Hazards by rank (all {total})"
    else:
        head = f"隐患排序（前{shown}处，共{total}处，全部见表格） Hazards by rank (first {shown} of {total}; all in the tables)"
    if measures:
        head += "，含建议措施 with countermeasures"
    return head


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
        circ = zone_circles(school_zones, schools, radius).to_crs(crs)
        keys = list(ZONE_STATUS_LABELS)
        _line_paths(
            ax,
            circ.boundary,
            np.array([keys.index(v) for v in status], dtype=int),
            {i: (ZONE_STATUS_LABELS[k][2], 1.0, "--") for i, k in enumerate(keys)},
            zorder=5,
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
        # over the limit drawn last (on top); dashed = limit assumed
        _line_paths(
            ax,
            zr.geometry,
            over.astype(int) * 2 + assumed.astype(int),
            {
                o * 2 + a: (ZONE_ROAD_COLOURS[bool(o)], 2.2, "--" if a else "-")
                for o in (0, 1)
                for a in (0, 1)
            },
            zorder=9,
        )
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
