"""The map of the routes to school (通学路径地图): where children walk, and the hazards on the way.

It opens on the streets children walk along (width = children, colour = street stress), the numbered hazards
and the schools; the whole-network street and crossing stress, the school zones (GA/T 1215-2014), the walksheds
and single routes are one click away in the layer list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from childspace._errors import DataError
from childspace.analysis.streets import route_edge_use, school_zone_rules, zone_status
from childspace.outputs._routes_common import line_routes
from childspace.outputs.maps._page import (
    OFF_MARK,
    LegendItem,
    add_labels,
    add_layer,
    boundary_layers,
    esc,
    finish,
    fmt_num,
    new_map,
    popup_html,
    require,
    to_wgs84,
)
from childspace.outputs.maps.basemap import Basemap
from childspace.outputs.maps.routes_hazards import MAP_HAZARD_LABELS, hazard_layer
from childspace.outputs.maps.routes_network import crossing_layer, stress_layer, stress_text, walkshed_layers
from childspace.outputs.maps.routes_zones import school_zone_base, school_zone_markers
from childspace.outputs.style import (
    STRESS_LABELS,
    VERDICT_LABELS,
    ZONE_STATUS_LABELS,
    category_label,
    highway_label,
    status_text,
)

__all__ = ["MAP_HAZARD_LABELS", "routes_map"]

OFF = OFF_MARK


def _rules(zone_rules: Mapping[str, float] | None) -> tuple[float, float, float]:
    z = dict(zone_rules) if zone_rules is not None else school_zone_rules()
    return float(z["radius_m"]), float(z["speed_limit_kmh"]), float(z["crossing_m"])


def _edge_use_layer(
    m: folium.Map,
    use: gpd.GeoDataFrame,
    kind: str,
    show: bool,
    max_features: int = 4000,
    max_streets: int | None = None,
) -> tuple[str, float]:
    """Streets used by routes: colour = street stress level, width = children (sqrt scale, in 1-px steps).

    The ``max_features`` busiest streets keep a popup; the others are joined by style (one feature per width
    and level), so the page grows with the streets, not with the homes. More than ``max_streets`` streets: the
    busiest ``max_streets`` only (the layer's name says how many of how many).
    """
    u = to_wgs84(use, "edge use")
    kids = u["children"].to_numpy(dtype=float)
    kmax = float(kids.max()) if len(kids) else 1.0
    width = np.round(2.0 + 12.0 * np.sqrt(kids / max(kmax, 1.0)))
    lev = (
        pd.to_numeric(u["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
        if "level" in u.columns
        else np.full(len(u), 4)
    )
    order = np.argsort(kids, kind="stable")  # busiest drawn last (on top)
    u = u.iloc[order]
    width, lev, kids = width[order], lev[order], kids[order]
    n_all = len(u)
    if max_streets is not None and n_all > max_streets:  # a county: the busiest streets (sorted last)
        u, width, lev, kids = (
            u.iloc[-max_streets:],
            width[-max_streets:],
            lev[-max_streets:],
            kids[-max_streets:],
        )
    styles = [
        {"color": STRESS_LABELS[lv][2], "weight": float(w), "opacity": 0.85, "lineCap": "butt"}
        for lv, w in zip(lev, width)
    ]
    names = esc(u["name"]) if "name" in u.columns else ["—"] * len(u)
    hw = [highway_label(v) for v in u["highway"]] if "highway" in u.columns else ["—"] * len(u)
    rows = [
        ("道路等级 Road class", hw),
        ("通行儿童 Children on this street", fmt_num(pd.Series(kids))),
        ("路线数 Routes", fmt_num(u["routes"])),
        ("学校数 Schools", fmt_num(u["schools"])),
        ("压力等级 Stress level", stress_text(lev)),
    ]
    if "reason" in u.columns:
        rows.append(("原因 Reason", esc(u["reason"])))
    zh, en = ("最安全路线", "safest routes") if kind == "safest" else ("最短路线", "shortest routes")
    pops = popup_html([f"{n if n != '—' else '无名道路 unnamed street'} · {zh} {en}" for n in names], rows)
    tips = [f"{n}: {k} 名儿童 children" for n, k in zip(names, fmt_num(pd.Series(kids)))]
    name = f"通学儿童流量（{zh}） Children per street ({en})"
    if n_all > len(u):
        name = (
            f"通学儿童流量（{zh}，最繁忙的 {len(u):,} 段，共 {n_all:,} 段） Children per street ({en}; "
            f"the busiest {len(u):,} of {n_all:,})"
        )
    detail = np.arange(len(u)) >= len(u) - max_features  # the busiest (drawn last) keep their popups
    add_layer(m, u, styles, pops, tips, name, show=show, detail=detail)
    return name, kmax


def routes_map(
    routes: gpd.GeoDataFrame,
    hazards: gpd.GeoDataFrame | None = None,
    walksheds: gpd.GeoDataFrame | None = None,
    schools: gpd.GeoDataFrame | None = None,
    *,
    boundaries: gpd.GeoDataFrame | None = None,
    network_stress: gpd.GeoDataFrame | None = None,
    crossings: gpd.GeoDataFrame | None = None,
    school_zones: gpd.GeoDataFrame | None = None,
    zone_roads: gpd.GeoDataFrame | None = None,
    max_route_lines: int = 2000,
    max_features: int = 4000,
    max_streets: int = 12_000,
    title: str | None = None,
    synthetic: bool = False,
    basemaps: Sequence[str] = (),
    base: Basemap | None = None,
    zone_rules: Mapping[str, float] | None = None,
) -> folium.Map:
    """Safe routes to school: children per street, street and crossing stress, hazards, walksheds.

    Parameters
    ----------
    routes : GeoDataFrame
        ``routes.school_routes``: ``origin_id``, ``school_id``, ``route`` (``shortest``/``safest``),
        ``children``, ``length_m``, ``worst_level`` (1–4), ``verdict`` …; a LineString per route when the
        route geometry was kept, else the home point or no geometry (the routes are then drawn per street only).
        Single routes (colour = worst stress level) are drawn only when they carry lines and there are at most
        ``max_route_lines`` of a kind; otherwise the legend says why they are not.
    hazards : GeoDataFrame, optional
        ``routes.hazards``: ``hazard_id``, ``type`` (``segment``/``crossing``), ``level``, ``children``,
        ``name``, ``reason``, ``rank``; points sized and segments thickened by children affected.
    walksheds : GeoDataFrame, optional
        ``routes.walksheds``: ``school_id``, ``kind`` (``plain``/``safe``), ``max_level``, ``radius_m``,
        ``area_m2``; plain and safe walksheds are separate layers.
    schools : GeoDataFrame, optional
        Facilities (``facility_id``, ``name``) of the schools, drawn with labels.
    network_stress : GeoDataFrame, optional
        Every network edge with its stress ``level`` (1–4) in positional order (first frame of
        :func:`stress_frames`; columns ``edge``, ``level``, optional ``name``, ``reason``): the whole street
        network as a toggleable layer coloured by level. With it, and routes as returned by
        ``routes.school_routes`` (edge sequences in ``attrs``), the main route layer is the number of children
        walking along each street (:func:`route_edge_use`; width = children, colour = street level), for the
        safest routes (shown) and the shortest ones (hidden at first).
    crossings : GeoDataFrame, optional
        Crossing points with a ``level`` (second frame of :func:`stress_frames`): small markers by level.
    school_zones : GeoDataFrame, optional
        :func:`childspace.analysis.safety.school_zones` per-school table (``school_id``, ``name``, ``speed_ok``,
        ``crossing_ok``, ``compliant``, ``finding``, ``max_speed_kmh``, ``crossing_m`` …; geometry = the school):
        the 150 m circles around each gate (:func:`school_zone_circles`; gates from an ``entrances`` column of the
        table or of ``schools``, else the school point) and a ring per school coloured by the result (green =
        compliant, amber = one requirement fails, red = both), whose popup lists the findings (GA/T 1215-2014).
    zone_roads : GeoDataFrame, optional
        The zone road segments (second frame of ``school_zones(..., return_segments=True)``: ``maxspeed_kmh``,
        ``over_limit``, ``speed_assumed``, ``length_m``): red = speed limit over 30 km/h, blue = at most 30 km/h,
        dashed = limit assumed from the road class.
    max_route_lines : int, default 2000
        Single route lines are drawn (hidden at first under the per-street layer) only for up to this many
        routes of a kind; more make the page heavy (the per-street layer carries them).
    max_streets : int, default 12,000
        At most this many streets in the children-per-street layer of the safest routes (the busiest; half as
        many for the shortest routes and for the stress-3–4 streets), so that a county's page stays a few MB.
    max_features : int, default 4000
        The per-street, street-stress and crossing layers keep a popup on at most this many features (the
        busiest streets, the most stressful streets and crossings); the rest are drawn without one, and a
        network larger than this shows only its stress-3–4 streets and crossings in those layers.
    zone_rules : mapping, optional
        ``radius_m``, ``speed_limit_kmh``, ``crossing_m`` of the school-zone check the tables were computed with
        (:func:`childspace.analysis.streets.school_zone_rules`, the default).
    boundaries, title, synthetic, basemaps, base
        As in :func:`childspace.outputs.maps.coverage_map`.

    Returns
    -------
    folium.Map
    """
    if not isinstance(routes, pd.DataFrame):
        raise DataError(
            f"routes must be a (Geo)DataFrame, got {type(routes).__name__}",
            feature="routes",
            fix="pass the output of childspace.analysis.routes.school_routes",
        )
    require(routes, ["school_id", "worst_level"], "routes")
    rules = _rules(zone_rules)
    lines = line_routes(routes)
    frames: list[gpd.GeoDataFrame | None] = []
    for extra in (walksheds, schools, boundaries, school_zones, hazards):
        if extra is not None and len(extra):
            frames.append(to_wgs84(extra, "layer"))
    if not frames and lines is not None:
        frames.append(to_wgs84(lines.iloc[:max_route_lines], "routes"))
    r = routes
    m = new_map(
        frames,
        title or "上学路线安全评估 Safe routes to school",
        "儿童上学走的街道与沿途隐患（其余图层在右上角） Streets children walk to school and the hazards on "
        "the way (more layers top right)",
        synthetic,
        basemaps,
        base=base,
    )
    legend: list[tuple[str, list[LegendItem]]] = []
    b_items = boundary_layers(m, boundaries, label_limit=40)
    school_names = _school_names(schools, school_zones, r)

    if walksheds is not None and len(walksheds):
        legend += walkshed_layers(m, walksheds, school_names)
    if network_stress is not None and len(network_stress):
        legend += stress_layer(m, network_stress, max_features, max_streets=max_streets // 2)
    if crossings is not None and len(crossings):
        legend += crossing_layer(m, crossings, max_features)
    zone_items = school_zone_base(m, school_zones, None, schools, rules)

    level = pd.to_numeric(r["worst_level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
    kids = (
        pd.to_numeric(r["children"], errors="coerce").fillna(0).to_numpy()
        if "children" in r.columns
        else np.zeros(len(r))
    )
    kinds = r["route"].astype(str).to_numpy() if "route" in r.columns else np.array(["safest"] * len(r))
    aggregated = False
    if (
        network_stress is not None
        and len(network_stress)
        and "childspace_routes" in routes.attrs
        and "route_key" in routes.columns
    ):
        kmax = 0.0
        for kind in ("safest", "shortest"):
            if not (kinds == kind).any():
                continue
            use = route_edge_use(routes, network_stress, kind)
            if len(use):
                budget = max_streets if kind == "safest" else max_streets // 2  # the shortest: off at first
                _name, k_ = _edge_use_layer(
                    m, use, kind, show=(kind == "safest"), max_features=max_features, max_streets=budget
                )
                kmax = k_ if not aggregated else kmax  # the legend describes the first (shown) layer
                aggregated = True
        if aggregated:
            legend.insert(
                0,
                (
                    "通学儿童流量（最安全路线） Children per street (safest routes)",
                    [
                        (
                            "line",
                            "#555555",
                            f"线宽=走该街道的儿童数（最多 {kmax:,.0f}） Width = children (max {kmax:,.0f})",
                        )
                    ]
                    + [("line", col, f"{zh} {en}") for _lv, (zh, en, col) in STRESS_LABELS.items()],
                ),
            )
    drawn, note = _route_lines(m, r, lines, level, kids, kinds, school_names, aggregated, max_route_lines)
    if note:
        legend.append(("单条路线 Single routes", [("sym:i", "#555555", note)]))
    if drawn:
        legend.append(
            (
                "单条路线：颜色=最差压力等级"
                + ("" if not aggregated else OFF)
                + " Single routes: colour = worst level",
                [("line", col, f"{zh} {en}") for _lv, (zh, en, col) in STRESS_LABELS.items()]
                + [("dash", "#555555", "虚线=最短路线，线宽=儿童数 Dotted = shortest, width = children")],
            )
        )
    zone_items += school_zone_base(m, None, zone_roads, None, rules)
    if hazards is not None and len(hazards):
        legend.insert(0 if not aggregated else 1, hazard_layer(m, hazards, school_names))
    if schools is not None and len(schools):
        legend.append(_school_layer(m, schools, school_zones))
    zone_items = school_zone_markers(m, school_zones, rules) + zone_items
    if zone_items:
        legend.append(("校园周边（GA/T 1215-2014）" + OFF + " School zones", zone_items))
    if b_items:
        legend.append(("边界 Boundaries", b_items))
    return finish(m, legend)


def _school_names(
    schools: gpd.GeoDataFrame | None, school_zones: gpd.GeoDataFrame | None, routes: gpd.GeoDataFrame
) -> dict[str, str]:
    """school id -> name, from the schools, the zone table or the routes (names instead of codes in popups)."""
    names: dict[str, str] = {}
    for df, idc in (
        (school_zones, "school_id"),
        (routes, "school_id"),
        (schools, "facility_id"),
        (schools, "school_id"),
    ):
        if df is not None and len(df) and idc in df.columns:
            ncol = (
                "school_name" if "school_name" in df.columns else ("name" if "name" in df.columns else None)
            )
            if ncol is not None and df is not routes or ncol == "school_name":
                names.update(
                    {str(i): str(n) for i, n in zip(df[idc], df[ncol]) if n is not None and pd.notna(n)}
                )
    return names


def _route_lines(
    m: folium.Map,
    table: pd.DataFrame,
    lines: gpd.GeoDataFrame | None,
    level: np.ndarray,
    kids: np.ndarray,
    kinds: np.ndarray,
    school_names: dict[str, str],
    aggregated: bool,
    max_route_lines: int,
) -> tuple[bool, str]:
    """Single route lines, when the routes carry lines and are few; returns (drawn, note for the legend)."""
    if lines is None:
        return False, (
            "单条路线几何未保存，按街道汇总显示；每户结论见路线表 Route lines not kept: shown per street; "
            "each home's verdict is in the routes table"
        )
    has_line = table.index.isin(lines.index)
    counts = {k: int((kinds == k).sum()) for k in ("safest", "shortest")}
    big = {k: n for k, n in counts.items() if n > max_route_lines}
    kind_zh = {"safest": "最安全", "shortest": "最短"}
    note = (
        "单条路线未绘制（"
        + "，".join(f"{kind_zh[k]} {n:,} 条" for k, n in big.items())
        + f"，上限 {max_route_lines:,}），见通学儿童流量与路线表 Single routes not drawn ("
        + ", ".join(f"{k} {n:,}" for k, n in big.items())
        + f" > {max_route_lines:,}): see children per street and the routes table"
        if big
        else ""
    )
    sel_all = np.flatnonzero(has_line & np.isin(kinds, [k for k in counts if k not in big]))
    if not len(sel_all):
        return False, note
    r = to_wgs84(lines.loc[table.index[sel_all]], "routes")
    keep = sel_all[np.isin(table.index[sel_all], r.index)]
    level, kids, kinds = level[keep], kids[keep], kinds[keep]
    weight = np.clip(2.0 + np.sqrt(kids) * 0.8, 2.5, 9.0)
    sid = r["school_id"].astype(str)
    rows = [
        ("学校 School", esc([school_names.get(x, x) for x in sid])),
        ("儿童数 Children", fmt_num(pd.Series(kids))),
        ("最差压力等级 Worst level", stress_text(level)),
    ]
    for col, lab, d in (
        ("length_m", "长度 Length (m)", 0),
        ("detour_ratio", "绕行系数 Detour ratio", 2),
        ("unsafe_crossings", "不安全过街 Unsafe crossings", 0),
    ):
        if col in r.columns:
            rows.append((lab, fmt_num(r[col], d)))
    if "verdict" in r.columns:
        rows.append(("评价 Verdict", [status_text(v, VERDICT_LABELS) for v in r["verdict"].astype(str)]))
    shares = [c for c in ("share_l1", "share_l2", "share_l3", "share_l4") if c in r.columns]
    if shares:
        sh = r[shares].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy() * 100
        rows.append(("各级占比 Share by level 1/2/3/4", [" / ".join(f"{x:.0f}%" for x in row) for row in sh]))
    if "assumed_share" in r.columns:
        rows.append(
            (
                "推定标签占比 Share on assumed tags",
                fmt_num(pd.to_numeric(r["assumed_share"], errors="coerce") * 100, 0, "%"),
            )
        )
    rows.append(("起点 Origin", esc(r["origin_id"]) if "origin_id" in r.columns else ["—"] * len(r)))
    pops = popup_html(
        [("最安全路线 Safest route" if k == "safest" else "最短路线 Shortest route") for k in kinds], rows
    )
    styles = [
        {
            "color": STRESS_LABELS[lv][2],
            "weight": float(wt),
            "opacity": 0.9,
            **({"dashArray": "2 6"} if k == "shortest" else {}),
        }
        for lv, wt, k in zip(level, weight, kinds)
    ]
    tips = [
        f"{STRESS_LABELS[lv][0]} · {n}" for lv, n in zip(level, esc([school_names.get(x, x) for x in sid]))
    ]
    order = np.argsort(level, kind="stable")  # worst drawn last, on top
    drawn = False
    for kind, zh, en, show in (
        ("shortest", "最短路线", "Shortest routes", False),
        ("safest", "最安全路线", "Safest routes", True),
    ):
        sel = order[kinds[order] == kind]
        if not len(sel):
            continue
        add_layer(
            m,
            r.iloc[sel],
            [styles[i] for i in sel],
            [pops[i] for i in sel],
            [tips[i] for i in sel],
            f"{zh}（{len(sel)}） {en} ({len(sel)})",
            show=show and not aggregated,
        )
        drawn = True
    return drawn, note


def _school_layer(
    m: folium.Map, schools: gpd.GeoDataFrame, school_zones: gpd.GeoDataFrame | None
) -> tuple[str, list[LegendItem]]:
    s = to_wgs84(schools, "schools")
    sname = esc(s["name"]) if "name" in s.columns else ["—"] * len(s)
    idc = "facility_id" if "facility_id" in s.columns else ("school_id" if "school_id" in s.columns else None)
    sid = s[idc].astype(str) if idc else pd.Series("—", index=s.index)
    rows: list[tuple[str, list[str]]] = []
    if "category" in s.columns:
        rows.append(
            ("类型 Category", [category_label(str(c)) if isinstance(c, str) else "—" for c in s["category"]])
        )
    if school_zones is not None and len(school_zones) and "school_id" in school_zones.columns:
        st = dict(zip(school_zones["school_id"].astype(str), zone_status(school_zones)))
        rows.append(
            (
                "校园周边 School zone",
                [status_text(st[i], ZONE_STATUS_LABELS) if i in st else "—" for i in sid],
            )
        )
    if "address" in s.columns:
        rows.append(("地址 Address", esc(s["address"])))
    rows.append(("编号 ID", esc(sid)))
    style = {"radius": 7, "color": "#ffffff", "weight": 2, "fillColor": "#000000", "fillOpacity": 1}
    pops = popup_html(sname, rows)
    add_layer(m, s, [style] * len(s), pops, sname, f"学校（{len(s)}） Schools ({len(s)})")
    if len(s) <= 60:
        add_labels(
            m,
            s.set_geometry(s.geometry.translate(0, 0.0004)),
            [nm for nm in s["name"].astype(str)] if "name" in s.columns else sname,
            "学校名称 School names",
        )
    return (
        "学校 Schools",
        [("dot", "#000000", "学校（点击看校园周边检查） School (click for the zone check)")],
    )
