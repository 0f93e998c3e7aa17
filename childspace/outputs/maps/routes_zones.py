"""The school zones of the routes map (GA/T 1215-2014): the circles around each gate, the zone roads and a ring
per school coloured by the result."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from childspace.analysis.streets import zone_status
from childspace.outputs._routes_common import zone_circles
from childspace.outputs.maps._page import (
    LegendItem,
    add_layer,
    bool_col,
    esc,
    fmt_num,
    popup_html,
    require,
    to_wgs84,
)
from childspace.outputs.maps.routes_lean import Lean, group_lines, lean_frame
from childspace.outputs.style import (
    ZONE_ROAD_COLOURS,
    ZONE_STATUS_LABELS,
    category_label,
    highway_label,
    status_text,
)


def _zone_popups(z: gpd.GeoDataFrame, limit: float, cross_m: float) -> list[str]:
    n = len(z)
    status = zone_status(z)
    names = esc(z["name"]) if "name" in z.columns else esc(z["school_id"])
    sp_ok = bool_col(z, "speed_ok", True)
    cr_ok = bool_col(z, "crossing_ok", False)
    ms = fmt_num(z["max_speed_kmh"], 0, " km/h") if "max_speed_kmh" in z.columns else ["—"] * n
    cd = fmt_num(z["crossing_m"], 0, " m") if "crossing_m" in z.columns else ["—"] * n
    ctype = {"marked": "标线人行横道 marked", "signals": "信号灯 signals"}
    ct = (
        [ctype.get(str(v), "—") if v is not None and pd.notna(v) else "—" for v in z["crossing_type"]]
        if "crossing_type" in z.columns
        else ["—"] * n
    )

    def mark(ok: bool) -> str:
        return (
            "<span style='color:#1a9641'>✓ 符合 meets</span>"
            if ok
            else "<span style='color:#d7191c'>× 不符合 fails</span>"
        )

    rows: list[tuple[str, list[str]]] = [
        ("学校编号 School ID", esc(z["school_id"])),
        (
            "结论 Result",
            [
                f"<b style='color:{ZONE_STATUS_LABELS[s][2]}'>{status_text(s, ZONE_STATUS_LABELS)}</b>"
                for s in status
            ],
        ),
        (
            f"限速≤{limit:g} km/h Speed ≤ {limit:g} km/h",
            [f"{mark(o)} · 最高 max {m}" for o, m in zip(sp_ok, ms)],
        ),
        (
            f"{cross_m:g}米内人行横道 Crossing within {cross_m:g} m",
            [f"{mark(o)} · {d} · {t}" for o, d, t in zip(cr_ok, cd, ct)],
        ),
    ]
    if "category" in z.columns:
        rows.insert(
            1,
            ("类型 Category", [category_label(str(c)) if isinstance(c, str) else "—" for c in z["category"]]),
        )
    if "zone_road_m" in z.columns:
        rows.append(("范围内道路 Zone roads (m)", fmt_num(z["zone_road_m"], 0)))
    if "share_speed_assumed" in z.columns:
        rows.append(
            (
                "假定限速占比 Speed assumed",
                fmt_num(pd.to_numeric(z["share_speed_assumed"], errors="coerce") * 100, 0, "%"),
            )
        )
    if "finding" in z.columns:
        rows.append(("发现 Findings", [v.replace(" | ", "<br>") for v in esc(z["finding"])]))
    return popup_html([f"{nm} · 校园周边 School zone" for nm in names], rows)


def school_zone_base(
    m: folium.Map,
    school_zones: gpd.GeoDataFrame | None,
    zone_roads: gpd.GeoDataFrame | None,
    schools: gpd.GeoDataFrame | None,
    rules: tuple[float, float, float],
    lean: Lean | None = None,
) -> list[LegendItem]:
    """Zone circles (under the routes) and zone roads (narrow lines over the routes); returns legend items.

    A lean map joins the pieces of one road in one school's zone over the limit into one feature (popups on
    the ``lean.zone_road_popups`` longest), and draws the others, each piece once, without popups."""
    lean = lean or Lean(on=False)
    simplify = 0.0 if lean.on else None
    radius, limit, _cross = rules
    items: list[tuple[str, str, str]] = []
    if school_zones is not None and len(school_zones):
        z = to_wgs84(school_zones, "school_zones")
        require(z, ["school_id", "speed_ok", "crossing_ok"], "school_zones")
        # the table as given when no row was dropped (the figure asks for the same circles: made once)
        circ = zone_circles(school_zones if len(z) == len(school_zones) else z, schools, radius)
        if lean.on:
            circ = lean_frame(to_wgs84(circ, "school zone circles"), lean.area_m / 2, lean.digits)
        status = zone_status(z)
        styles = [
            {
                "color": ZONE_STATUS_LABELS[s][2],
                "weight": 2.0,
                "dashArray": "5 4",
                "fillColor": ZONE_STATUS_LABELS[s][2],
                "fillOpacity": 0.06,
            }
            for s in status
        ]
        names = esc(z["name"]) if "name" in z.columns else esc(z["school_id"])
        # a lean map: the circles joined per colour (the ring of each school names it and has its popup)
        tips = (
            None if lean.on else [f"{nm} · 校门{radius:g}米范围 {radius:g} m around the gate" for nm in names]
        )
        add_layer(
            m,
            circ,
            styles,
            None,
            tips,
            f"校园周边{radius:g}米范围（{len(circ)}） School zones {radius:g} m ({len(circ)})",
            show=False,
            simplify_m=simplify,
        )
        items.append(
            ("dash", "#555555", f"校门{radius:g}米范围（GA/T 1215-2014） {radius:g} m around the gate")
        )
    if zone_roads is not None and len(zone_roads):
        zr = to_wgs84(zone_roads, "zone_roads")
        over = bool_col(zr, "over_limit", False)
        n_pieces, n_over = len(zr), int(over.sum())
        # a county's ~40,000 zone-road pieces: popups on the last 4,000 (those over the limit first), the
        # others joined by style
        n_detail = 4000
        if lean.on:
            zr, n_detail = _lean_zone_roads(zr, over, lean)
            over = bool_col(zr, "over_limit", False)
        assumed = bool_col(zr, "speed_assumed", False)
        order = np.argsort(over, kind="stable")  # roads over the limit drawn last, on top
        zr, over, assumed = zr.iloc[order], over[order], assumed[order]
        styles = [
            {
                "color": ZONE_ROAD_COLOURS[bool(o)],
                "weight": 4.0,
                "opacity": 0.95,
                "lineCap": "butt",
                **({"dashArray": "10 5"} if a else {}),
            }
            for o, a in zip(over, assumed)
        ]
        names = esc(zr["name"]) if "name" in zr.columns else ["—"] * len(zr)
        sp = fmt_num(zr["maxspeed_kmh"], 0, " km/h") if "maxspeed_kmh" in zr.columns else ["—"] * len(zr)
        rows = [
            ("限速 Speed limit", [f"{v}（假定 assumed）" if a else v for v, a in zip(sp, assumed)]),
            (f"高于{limit:g} km/h Over {limit:g} km/h", ["是 Yes" if o else "否 No" for o in over]),
        ]
        for col, lab in (("school_id", "学校 School"), ("highway", "道路等级 Road class")):
            if col in zr.columns:
                rows.append((lab, [highway_label(v) for v in zr[col]] if col == "highway" else esc(zr[col])))
        if "length_m" in zr.columns:
            rows.append(("范围内长度 Length in zone (m)", fmt_num(zr["length_m"], 0)))
        pops = popup_html([f"校园周边道路 School-zone road: {nm}" for nm in names], rows)
        tips = [f"{nm} · {v}" for nm, v in zip(names, sp)]
        add_layer(
            m,
            zr,
            styles,
            pops,
            tips,
            f"校园周边道路（{n_pieces}段，{n_over}段超{limit:g}） School-zone roads ({n_pieces}, {n_over} over "
            f"{limit:g} km/h)",
            show=False,
            detail=np.arange(len(zr)) >= len(zr) - n_detail,
            simplify_m=simplify,
        )
        items += [
            ("line", ZONE_ROAD_COLOURS[True], f"限速高于{limit:g} km/h Over {limit:g} km/h"),
            (
                "line",
                ZONE_ROAD_COLOURS[False],
                f"限速≤{limit:g} km/h At most {limit:g} km/h"
                + (
                    "（县域图不画，见 GeoPackage not drawn on a county map: see the GeoPackage）"
                    if lean.on
                    else ""
                ),
            ),
            ("dash", "#555555", "虚线=限速按道路等级假定 Dashed = speed assumed from road class"),
        ]
    return items


def _lean_zone_roads(zr: gpd.GeoDataFrame, over: np.ndarray, lean: Lean) -> tuple[gpd.GeoDataFrame, int]:
    """Zone roads of a lean map: each road over the limit in one school's zone as one run (length summed; the
    longest ``lean.zone_road_popups`` runs last, with popups), the other runs over the limit joined per style,
    each piece once; the roads within the limit are left to the GeoPackage (school_zone_roads). Returns the
    frame and how many of its last rows keep a popup."""
    # only the roads over the limit are drawn: the others (most of a county's) are not simplified for nothing
    runs = group_lines(
        lean_frame(zr[over], lean.line_m, lean.digits),
        ["school_id", "name", "highway", "maxspeed_kmh", "speed_assumed", "over_limit"],
        ["length_m"],
    )
    if "length_m" in runs.columns:
        runs = runs.sort_values("length_m", ascending=False, kind="stable")
    top = runs.iloc[: lean.zone_road_popups]
    rest = [
        group_lines(g, ["over_limit", "speed_assumed"])
        for g in (runs.iloc[lean.zone_road_popups :],)
        if len(g)
    ]
    out = pd.concat([*rest, top.iloc[::-1]]) if rest else top.iloc[::-1]
    return out, len(top)


def school_zone_markers(
    m: folium.Map, school_zones: gpd.GeoDataFrame | None, rules: tuple[float, float, float]
) -> list[LegendItem]:
    """School markers (rings) coloured by the zone result, popup = the findings; returns legend items."""
    if school_zones is None or not len(school_zones):
        return []
    _radius, limit, cross_m = rules
    z = to_wgs84(school_zones, "school_zones")
    status = zone_status(z)
    styles = [{"radius": 13, "color": ZONE_STATUS_LABELS[s][2], "weight": 4, "fill": False} for s in status]
    names = esc(z["name"]) if "name" in z.columns else esc(z["school_id"])
    tips = [
        f"{nm} · 校园周边 School zone: {status_text(s, ZONE_STATUS_LABELS)}" for nm, s in zip(names, status)
    ]
    n_ok = int((status == "compliant").sum())
    add_layer(
        m,
        z,
        styles,
        _zone_popups(z, limit, cross_m),
        tips,
        f"校园周边检查（{n_ok}/{len(z)} 符合） School-zone check ({n_ok}/{len(z)} compliant)",
        show=False,
    )
    counts = pd.Series(status).value_counts()
    return [
        (f"sym:{sy}", col, f"{zh} {en}（{int(counts.get(k, 0))}）")
        for k, (zh, en, col, sy) in ZONE_STATUS_LABELS.items()
    ]
