"""The map of public venues and their mother-and-baby rooms (母婴室): which venues must have one and have none.

Opens on the venues that must have a room (by the plan's rules: national 2016 guidance, floor area or daily
visitors over 10,000; Zhejiang 2017, floor area of 5,000 m² or more, or over 5,000 visitors a day) and have none
within the configured distance; the venues that have one, the venues below the thresholds or of unknown size,
and the rooms are one click away. The legend states every rule's thresholds and the distance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

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
from childspace.outputs.plan_tables import rule_lines

__all__ = ["VENUE_STATUS", "venue_rules_and_distance", "venue_status_keys", "venues_map"]

#: status key -> (中文, English, colour, symbol): the statuses of
#: :func:`childspace.analysis.venues.mother_baby_room_check`
VENUE_STATUS: dict[str, tuple[str, str, str, str]] = {
    "missing": ("应建未建", "Must have a room, none found", "#9e0142", "×"),
    "ok": ("已有母婴室", "Has a room", "#2166ac", "✓"),
    "not_required": ("不要求", "Below the thresholds", "#9e9e9e", "·"),
    "unknown": ("面积客流未知", "Size unknown", "#bdbdbd", "?"),
}
ROOM_COLOUR = "#e7298a"


def venue_status_keys(venues: pd.DataFrame) -> np.ndarray:
    """The status key of each venue (:data:`VENUE_STATUS`) from ``required`` and ``has_room`` (and sizes)."""
    req = venues["required"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    has = venues["has_room"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    known = np.zeros(len(venues), dtype=bool)
    for col in ("floor_area_m2", "daily_visitors"):
        if col in venues.columns:
            known |= np.isfinite(pd.to_numeric(venues[col], errors="coerce").to_numpy(dtype=float))
    return np.where(req, np.where(has, "ok", "missing"), np.where(known, "not_required", "unknown"))


def venue_rules_and_distance(
    venues: pd.DataFrame, rules: Any = None, max_distance_m: float | None = None
) -> tuple[list[str], float]:
    """The rule lines and the distance for a legend: given, else those the check stored, else Yueqing's plan."""
    if rules is None:
        rules = venues.attrs.get("rules")
    if max_distance_m is None:
        max_distance_m = venues.attrs.get("max_distance_m")
    if rules is None or max_distance_m is None:
        from childspace.inputs.plan import load_plan

        plan = load_plan()
        rules = plan.venue_rules if rules is None else rules
        max_distance_m = plan.room_distance_m if max_distance_m is None else max_distance_m
    return rule_lines(rules), float(max_distance_m)


def _footprints(v: gpd.GeoDataFrame) -> gpd.GeoDataFrame | None:
    if "footprint" not in v.columns:
        return None
    fp = v["footprint"].to_numpy(dtype=object)
    given = np.array([isinstance(x, (bytes, bytearray)) for x in fp], dtype=bool)
    if not given.any():
        return None
    return gpd.GeoDataFrame(
        {"name": v["name"].to_numpy()[given] if "name" in v.columns else ""},
        geometry=shapely.from_wkb(fp[given]),
        crs=4326,
    )


def venues_map(
    venues: gpd.GeoDataFrame,
    rooms: gpd.GeoDataFrame | None = None,
    *,
    boundaries: gpd.GeoDataFrame | None = None,
    rules: Any = None,
    max_distance_m: float | None = None,
    title: str | None = None,
    synthetic: bool = False,
    basemaps: Sequence[str] = (),
    base: Basemap | None = None,
) -> folium.Map:
    """Map of the public venues checked for a mother-and-baby room.

    Parameters
    ----------
    venues : GeoDataFrame
        :func:`childspace.analysis.venues.mother_baby_room_check` output (``name``, ``required``, ``has_room``,
        ``rule_label``, ``nearest_room``, ``room_distance_m`` (m), optional ``floor_area_m2`` (m²),
        ``daily_visitors``, ``kind``, ``footprint`` (WKB)).
    rooms : GeoDataFrame, optional
        The mother-and-baby rooms (points), drawn as small dots.
    boundaries : GeoDataFrame, optional
        Canonical boundaries, outlines and labels under the venues.
    rules : mapping of str to VenueRule, optional
        The plan's rules, for the legend (default: those stored by the check, else Yueqing's plan).
    max_distance_m : float, optional
        The distance within which a room counts, metres (same defaults).
    title, synthetic, basemaps, base
        As in :func:`childspace.outputs.maps.coverage_map`.

    Returns
    -------
    folium.Map
        Venues that must have a room and have none in red with ×, those with one in blue with ✓ (both shown when
        the map opens); venues below the thresholds or of unknown size, and the rooms, off at first.
    """
    v = to_wgs84(venues, "venues")
    require(v, ["name", "required", "has_room"], "venues")
    lines, dist = venue_rules_and_distance(venues, rules, max_distance_m)
    frames = [v] + ([to_wgs84(boundaries, "boundaries")] if boundaries is not None else [])
    m = new_map(
        frames,
        title or "应建母婴室的公共场所 Public venues that must have a mother-and-baby room",
        None,
        synthetic,
        basemaps,
        base=base,
    )
    items = boundary_layers(m, boundaries, label_limit=40)
    key = venue_status_keys(v)
    pts = v.copy()
    pts["geometry"] = shapely.point_on_surface(np.asarray(v.geometry.values, dtype=object))
    n = len(v)
    kinds = v["kind"].astype(str).tolist() if "kind" in v.columns else ["—"] * n
    pops = popup_html(
        esc(v["name"]),
        [
            ("状态 Status", [f"{VENUE_STATUS[k][3]} {VENUE_STATUS[k][0]} {VENUE_STATUS[k][1]}" for k in key]),
            ("类型 Kind", esc(kinds)),
            (
                "建筑面积 Floor area",
                fmt_num(v["floor_area_m2"], 0, " m²") if "floor_area_m2" in v.columns else ["—"] * n,
            ),
            (
                "日均客流 Visitors a day",
                fmt_num(v["daily_visitors"], 0) if "daily_visitors" in v.columns else ["—"] * n,
            ),
            ("适用规则 Rules that apply", esc(v["rule_label"]) if "rule_label" in v.columns else ["—"] * n),
            (
                "最近母婴室 Nearest room",
                [
                    f"{a} ({d})" if a != "—" else f"{dist:g} 米内无 none within {dist:g} m"
                    for a, d in zip(
                        esc(v["nearest_room"]) if "nearest_room" in v.columns else ["—"] * n,
                        fmt_num(v["room_distance_m"], 0, " m")
                        if "room_distance_m" in v.columns
                        else ["—"] * n,
                    )
                ],
            ),
        ],
    )
    fps = _footprints(v)
    if fps is not None:
        style = {"color": "#555555", "weight": 1, "fillColor": "#cccccc", "fillOpacity": 0.25}
        add_layer(m, fps, [style] * len(fps), None, esc(fps["name"]), "场所范围 Venue footprints", pane_z=380)
        items.append(("fill", "#cccccc", "场所范围 Venue footprints"))
    legend: list[tuple[str, list[LegendItem]]] = []
    status_items: list[LegendItem] = []
    for k, (zh, en, colour, sym) in VENUE_STATUS.items():
        sel = np.flatnonzero(key == k)
        shown = k in ("missing", "ok")
        label = f"{zh} {en}（{len(sel)}）"
        status_items.append((f"sym:{sym}", colour, label))
        if not len(sel):
            continue
        big = k == "missing"
        style = {
            "radius": 10 if big else (8 if k == "ok" else 5),
            "color": "#000000" if big else "#ffffff",
            "weight": 2,
            "fillColor": colour,
            "fillOpacity": 0.95,
        }
        sub = pts.iloc[sel]
        add_layer(
            m,
            sub,
            [style] * len(sel),
            [pops[i] for i in sel],
            [f"{sym} {t} · {zh} {en}" for t in esc(sub["name"])],
            f"{label}" + ("" if shown else OFF_MARK),
            show=shown,
            pane_z=420 if big else 410,
        )
        if big:  # the venues to act on, named
            add_labels(
                m, sub, list(sub["name"].astype(str)), "应建未建场所名称 Names of venues without a room"
            )
        if k in ("missing", "ok"):
            add_labels(
                m,
                sub,
                [f"<span class='sym {'gap' if big else 'meets'}'>{sym}</span>"] * len(sel),
                f"{zh} 符号 symbols",
                raw_html=True,
                control=False,
            )
    if rooms is not None and len(rooms):
        r = to_wgs84(rooms, "rooms")
        style = {"radius": 4, "color": "#ffffff", "weight": 1, "fillColor": ROOM_COLOUR, "fillOpacity": 1.0}
        add_layer(
            m,
            r,
            [style] * len(r),
            None,
            esc(r["name"]) if "name" in r.columns else None,
            f"母婴室 Mother-and-baby rooms（{len(r)}）",
            pane_z=430,
        )
        items.append(("dot", ROOM_COLOUR, f"母婴室 Mother-and-baby rooms（{len(r)}）"))
    legend.append(("公共场所 Public venues", status_items))
    rule_items: list[LegendItem] = [("sym:", "#333333", t) for t in lines]
    rule_items.append(
        (
            "sym:",
            "#333333",
            f"场所范围内或 {dist:g} 米内有母婴室即视为已有 A room inside the venue or within {dist:g} m counts",
        )
    )
    legend.append(("应建母婴室的规则 Which venues must have a room", rule_items))
    if items:
        legend.append(("其他 Other", items))
    return finish(m, legend)
