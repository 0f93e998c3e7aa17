"""The map of the routes to school (通学路径地图): where children walk, and the hazards on the way.

It opens on the streets children walk along (width = children, colour = street stress), the numbered hazards
and the schools; the whole-network street and crossing stress, the school zones (GA/T 1215-2014), the walksheds
and single routes are one click away in the layer list.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from childspace._errors import DataError
from childspace.analysis.streets import school_zone_rules, zone_status
from childspace.outputs._routes_common import edge_use, line_routes
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
from childspace.outputs.maps.routes_lean import Lean, group_lines, lean_frame, lean_settings
from childspace.outputs.maps.routes_network import crossing_layer, stress_layer, stress_text, walkshed_layers
from childspace.outputs.maps.routes_zones import school_zone_base, school_zone_markers
from childspace.outputs.style import (
    STRESS_LABELS,
    VERDICT_LABELS,
    ZONE_STATUS_LABELS,
    category_label,
    feature_label,
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
    lean: Lean | None = None,
) -> tuple[str, float]:
    """Streets used by routes: colour = street stress level, width = children (sqrt scale, in 1-px steps).

    The ``max_features`` busiest streets keep a popup; the others are joined by style (one feature per width
    and level), so the page grows with the streets, not with the homes. More than ``max_streets`` streets: the
    busiest ``max_streets`` only (the layer's name says how many of how many). A lean map (:mod:`routes_lean`)
    joins the pieces of one street run that carry the same children, routes and level into one feature, keeps
    popups on the ``lean.street_popups`` busiest runs and draws simplified, rounded lines.
    """
    lean = lean or Lean(on=False)
    g = use.geometry
    # positions of the streets with a line (to_wgs84 drops the others), before the busiest are picked: the
    # rows drawn are taken from ``use`` once
    valid = np.flatnonzero(~(g.isna() | g.is_empty).to_numpy())
    kids = use["children"].to_numpy(dtype=float)[valid]
    kmax = float(kids.max()) if len(kids) else 1.0
    # busiest drawn last (on top); among streets with as many children, ``use``'s order (the busiest first, as
    # route_edge_use sorts them), so the busiest ``max_streets`` are its first ones, ties included
    order = np.argsort(-kids, kind="stable")[::-1]
    n_all = len(valid)
    if max_streets is not None and n_all > max_streets:  # a county: the busiest streets (sorted last)
        order = order[-max_streets:]
    u = to_wgs84(use.iloc[valid[order]], "edge use")  # only the streets drawn are reprojected
    n_kept = len(u)
    if lean.on and len(u):
        u = lean_frame(u, lean.line_m, lean.digits)
        busy = u.iloc[::-1]  # busiest first
        runs = group_lines(
            busy.iloc[:max_features], ["name", "highway", "level", "reason", "children", "routes", "schools"]
        )
        n_pop = lean.street_popups if kind == "safest" else max(lean.street_popups // 4, 1)
        top, rest = runs.iloc[:n_pop], pd.concat([runs.iloc[n_pop:], busy.iloc[max_features:]])
        u = pd.concat([rest.iloc[::-1], top.iloc[::-1]])  # busiest last
        detail = np.arange(len(u)) >= len(rest)
    else:
        detail = np.arange(len(u)) >= len(u) - max_features  # the busiest (drawn last) keep their popups
    kids = u["children"].to_numpy(dtype=float)
    width = np.round(2.0 + 12.0 * np.sqrt(kids / max(kmax, 1.0)))
    lev = (
        pd.to_numeric(u["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
        if "level" in u.columns
        else np.full(len(u), 4)
    )
    styles = [
        {"color": STRESS_LABELS[lv][2], "weight": float(w), "opacity": 0.85, "lineCap": "butt"}
        for lv, w in zip(lev, width)
    ]
    d = u[detail]  # popups and tooltips are written for these only
    names = esc(d["name"]) if "name" in d.columns else ["—"] * len(d)
    hw = [highway_label(v) for v in d["highway"]] if "highway" in d.columns else ["—"] * len(d)
    dk = pd.Series(kids[detail])
    rows = [
        ("道路等级 Road class", hw),
        ("通行儿童 Children on this street", fmt_num(dk)),
        ("路线数 Routes", fmt_num(d["routes"])),
        ("学校数 Schools", fmt_num(d["schools"])),
        ("压力等级 Stress level", stress_text(lev[detail])),
    ]
    if "reason" in d.columns:
        rows.append(("原因 Reason", esc(d["reason"])))
    zh, en = ("最安全路线", "safest routes") if kind == "safest" else ("最短路线", "shortest routes")
    pops = [""] * len(u)
    tips = [""] * len(u)
    at = np.flatnonzero(detail)
    for i, p_, t_ in zip(
        at,
        popup_html([f"{n if n != '—' else '无名道路 unnamed street'} · {zh} {en}" for n in names], rows),
        [f"{n}: {k} 名儿童 children" for n, k in zip(names, fmt_num(dk))],
    ):
        pops[i], tips[i] = p_, t_
    name = f"通学儿童流量（{zh}） Children per street ({en})"
    if n_all > n_kept:
        name = (
            f"通学儿童流量（{zh}，最繁忙的 {n_kept:,} 段，共 {n_all:,} 段） Children per street ({en}; "
            f"the busiest {n_kept:,} of {n_all:,})"
        )
    add_layer(m, u, styles, pops, tips, name, show=show, detail=detail, simplify_m=0.0 if lean.on else None)
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
        network larger than this shows only its stress-3–4 streets and crossings in those layers. Such a map is
        *lean* (:mod:`childspace.outputs.maps.routes_lean`, so a county's page stays under 5 MB): pieces of one
        street run joined (one popup each, on the 1,000 busiest runs), crossings of one kind as one multi-point,
        full popups on the first 300 hazards by rank (a tooltip on every one), zone roads over the limit only,
        walksheds without block-sized holes, lines simplified to 3 m (walksheds 15 m), coordinates to ~1 m, the
        base map without its whole-network streets; the legend says what is left to the workbook and the
        GeoPackage.
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
    lean = lean_settings(
        max(len(f) if f is not None else 0 for f in (network_stress, crossings, zone_roads)), max_features
    )
    if lean.on and base is not None and base.streets is not None:
        # a county: the base map keeps its major roads, water, green and built-up land; the streets children
        # walk are the map's own layer (every network street under them would be most of the page)
        base = dataclasses.replace(base, streets=None)
    m = new_map(
        frames,
        title or "上学路线安全评估 Safe routes to school",
        "儿童上学走的街道与沿途隐患（其余图层在右上角） Streets children walk to school and the hazards on "
        "the way (more layers top right)",
        synthetic,
        basemaps,
        base=base,
        canvas=True,  # thousands of clickable streets and hazards, all in the overlay pane
    )
    legend: list[tuple[str, list[LegendItem]]] = []
    b_items = boundary_layers(m, boundaries, label_limit=40)
    school_names = _school_names(schools, school_zones, r)

    if walksheds is not None and len(walksheds):
        legend += walkshed_layers(m, walksheds, school_names, lean)
    if network_stress is not None and len(network_stress):
        legend += stress_layer(m, network_stress, max_features, max_streets=max_streets // 2, lean=lean)
    if crossings is not None and len(crossings):
        legend += crossing_layer(m, crossings, max_features, lean=lean)
    zone_items = school_zone_base(m, school_zones, None, schools, rules, lean)

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
            use = edge_use(routes, network_stress, kind)
            if len(use):
                # the shortest: off at first, half as many streets (a quarter on a lean map)
                budget = max_streets if kind == "safest" else max_streets // (4 if lean.on else 2)
                _name, k_ = _edge_use_layer(
                    m,
                    use,
                    kind,
                    show=(kind == "safest"),
                    max_features=max_features,
                    max_streets=budget,
                    lean=lean,
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
    zone_items += school_zone_base(m, None, zone_roads, None, rules, lean)
    if hazards is not None and len(hazards):
        legend.insert(0 if not aggregated else 1, hazard_layer(m, hazards, school_names, lean))
    if schools is not None and len(schools):
        legend.append(_school_layer(m, schools, school_zones))
    zone_items = school_zone_markers(m, school_zones, rules) + zone_items
    if zone_items:
        legend.append(("校园周边（GA/T 1215-2014）" + OFF + " School zones", zone_items))
    if b_items:
        legend.append(("边界 Boundaries", b_items))
    if lean.on:
        legend.append(_lean_note(lean, hazards))
    return finish(m, legend)


def _lean_note(lean: Lean, hazards: gpd.GeoDataFrame | None) -> tuple[str, list[LegendItem]]:
    """What a lean map leaves to the workbook and the GeoPackage (shown in the legend)."""
    n_hz = len(hazards) if hazards is not None else 0
    items: list[LegendItem] = [
        (
            "sym:i",
            "#555555",
            f"点击查看详情：最繁忙的 {lean.street_popups:,} 段街道、前 {min(lean.hazard_popups, n_hz):,} 个隐患、"
            f"超速最长的 {lean.zone_road_popups:,} 段校园周边道路；其余悬停显示名称 Click for details: the "
            f"{lean.street_popups:,} busiest streets, the top {min(lean.hazard_popups, n_hz):,} hazards, the "
            f"{lean.zone_road_popups:,} longest zone roads over the limit; the others show their name on hover",
        ),
        (
            "sym:i",
            "#555555",
            "全部明细见工作簿（隐患、校园周边表）与 GeoPackage（street_stress、crossing_stress、hazards_*、"
            "school_zone_roads 图层） Every item in full: the workbook (hazards, school zones) and the GeoPackage",
        ),
        (
            "sym:i",
            "#555555",
            f"线形简化约 {lean.line_m:g} 米，坐标精确到约 1 米；底图只画主要道路 Lines simplified to "
            f"~{lean.line_m:g} m, coordinates to ~1 m; base map: major roads only",
        ),
    ]
    return ("县域地图精简说明 A county-size map", items)


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
    idc = "facility_id" if "facility_id" in s.columns else ("school_id" if "school_id" in s.columns else None)
    sid = s[idc].astype(str) if idc else pd.Series("—", index=s.index)
    # an unnamed school: "未命名学校 unnamed school (OSM node 123)", not "nan" (its OSM object, without the
    # category the id carries when the school has several)
    named = (
        [feature_label(n, i.split("#", 1)[0] if idc else None, "school") for n, i in zip(s["name"], sid)]
        if "name" in s.columns
        else None
    )
    sname = esc(named) if named is not None else ["—"] * len(s)
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
            named if named is not None else sname,
            "学校名称 School names",
        )
    return (
        "学校 Schools",
        [("dot", "#000000", "学校（点击看校园周边检查） School (click for the zone check)")],
    )
