"""The network layers of the routes map: street and crossing stress of the whole network, and the school
walksheds (plain and safe-only); drawn off by default, large networks reduced to their stressful part."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from childspace.outputs.maps._page import (
    OFF_MARK,
    LegendItem,
    add_layer,
    esc,
    fmt_num,
    popup_html,
    require,
    to_wgs84,
)
from childspace.outputs.maps.routes_lean import Lean, drop_small_holes, group_lines, group_points, lean_frame
from childspace.outputs.style import (
    CROSSING_LABELS,
    STRESS_LABELS,
    highway_label,
)

OFF = OFF_MARK


def stress_text(levels: np.ndarray) -> list[str]:
    return [" ".join(STRESS_LABELS[int(v)][:2]) for v in levels]


def walkshed_layers(
    m: folium.Map, walksheds: gpd.GeoDataFrame, school_names: dict[str, str], lean: Lean | None = None
) -> list[tuple[str, list[LegendItem]]]:
    lean = lean or Lean(on=False)
    w = to_wgs84(walksheds, "walksheds")
    require(w, ["kind"], "walksheds")
    if lean.on:  # a walkshed's edge at the scale of a block, not of a kerb; blocks inside it are not holes
        w = lean_frame(drop_small_holes(w, lean.min_hole_m2), lean.area_m, lean.digits)
    items: list[LegendItem] = []
    for kind, zh, en, style in (
        (
            "plain",
            "普通步行范围",
            "Plain walkshed",
            {"color": "#666666", "weight": 1.5, "dashArray": "6 4", "fill": False},
        ),
        (
            "safe",
            "安全步行范围",
            "Safe walkshed",
            {"color": "#2166ac", "weight": 1.5, "fillColor": "#2166ac", "fillOpacity": 0.15},
        ),
    ):
        sub = w[w["kind"].astype(str).to_numpy() == kind]
        if not len(sub):
            continue
        sid = sub["school_id"].astype(str) if "school_id" in sub.columns else pd.Series("—", index=sub.index)
        rows = [("学校 School", esc([school_names.get(x, x) for x in sid]))]
        for col, lab, d in (
            ("radius_m", "半径 Radius (m)", 0),
            ("max_level", "最高压力等级 Max level", 0),
            ("area_m2", "面积 Area (ha)", 1),
        ):
            if col in sub.columns:
                vals = sub[col] / 1e4 if col == "area_m2" else sub[col]
                rows.append((lab, fmt_num(vals, d)))
        pops = popup_html([f"{zh} {en}"] * len(sub), rows)
        add_layer(
            m,
            sub,
            [style] * len(sub),
            pops,
            None,
            f"{zh} {en}",
            show=False,
            simplify_m=0.0 if lean.on else None,
        )
        items.append(("fill" if kind == "safe" else "dash", str(style["color"]), f"{zh} {en}"))
    return [("步行范围" + OFF + " Walksheds", items)] if items else []


def stress_layer(
    m: folium.Map,
    network_stress: gpd.GeoDataFrame,
    max_features: int = 4000,
    max_streets: int | None = None,
    lean: Lean | None = None,
) -> list[tuple[str, list[LegendItem]]]:
    """Every street by stress level; a network of more than ``max_features`` streets: levels 3–4 only, popups
    on the most stressful ``max_features``. A lean map joins the pieces of one street of equal level and reason
    into one feature (one popup instead of one per piece)."""
    lean = lean or Lean(on=False)
    require(network_stress, ["level"], "network_stress")
    n_all = len(network_stress)
    lev_all = (
        pd.to_numeric(network_stress["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
    )
    counts = np.bincount(lev_all, minlength=5)
    big = n_all > max_features
    if big:
        keep = np.flatnonzero(lev_all >= 3)
        keep = keep[np.argsort(lev_all[keep], kind="stable")]  # level 4 drawn last, on top
        if max_streets is not None and keep.size > max_streets:  # a county: level 4 first, then 3
            keep = keep[-max_streets:]
        network_stress = network_stress.iloc[keep]
    ns = to_wgs84(network_stress, "network_stress")
    n_drawn = len(ns)
    if lean.on:
        ns = group_lines(
            lean_frame(ns, lean.line_m, lean.digits), ["name", "highway", "level", "reason", "assumed"]
        )
    nl = pd.to_numeric(ns["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
    styles = [{"color": STRESS_LABELS[lv][2], "weight": 2.0, "opacity": 0.75} for lv in nl]
    nnames = esc(ns["name"]) if "name" in ns.columns else ["—"] * len(ns)
    rows = [("压力等级 Stress level", stress_text(nl))]
    if "highway" in ns.columns:
        rows.append(("道路等级 Road class", [highway_label(v) for v in ns["highway"]]))
    if "reason" in ns.columns:
        rows.append(("原因 Reason", esc(ns["reason"])))
    if "assumed" in ns.columns:
        rows.append(
            (
                "推定标签 Assumed tags",
                ["是 Yes" if a else "否 No" for a in ns["assumed"].fillna(False).astype(bool)],
            )
        )
    tips = [f"{n} · {STRESS_LABELS[lv][0]}" for n, lv in zip(nnames, nl)]
    name = (
        f"街道压力等级3–4（全路网 {n_all:,} 段中 {n_drawn:,} 段） Street stress 3–4 ({n_drawn:,} of {n_all:,} segments)"
        if big
        else f"街道压力等级（全路网 {n_all} 段） Street stress (all {n_all} segments)"
    )
    add_layer(
        m,
        ns,
        styles,
        popup_html([f"街道 Street: {n}" for n in nnames], rows),
        tips,
        name,
        show=False,
        detail=np.arange(len(ns)) >= len(ns) - max_features,
        simplify_m=0.0 if lean.on else None,
    )
    return [
        (
            "街道压力等级" + OFF + " Street stress level",
            [("line", col, f"{zh} {en}（{counts[lv]}）") for lv, (zh, en, col) in STRESS_LABELS.items()],
        )
    ]


def crossing_layer(
    m: folium.Map, crossings: gpd.GeoDataFrame, max_features: int = 4000, lean: Lean | None = None
) -> list[tuple[str, list[LegendItem]]]:
    """Crossings by stress level; more than ``max_features``: levels 3–4 only, the rest counted in the name.
    A lean map draws the crossings of one level, control and reason as one multi-point with one popup."""
    lean = lean or Lean(on=False)
    require(crossings, ["level"], "crossings")
    n_all = len(crossings)
    if n_all > max_features:
        lev_all = pd.to_numeric(crossings["level"], errors="coerce").fillna(4).clip(1, 4).to_numpy()
        crossings = crossings[lev_all >= 3]
    cx = to_wgs84(crossings, "crossings")
    cl = pd.to_numeric(cx["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
    order = np.argsort(cl, kind="stable")
    cx, cl = cx.iloc[order], cl[order]
    if len(cx) > max_features:  # the most stressful only
        cx, cl = cx.iloc[len(cx) - max_features :], cl[len(cl) - max_features :]
    n_drawn = len(cx)
    if lean.on and len(cx):
        cx = group_points(lean_frame(cx, 0.0, lean.digits), ["level", "control", "reason"])
        cl = pd.to_numeric(cx["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
    styles = [
        {
            "radius": 2.5 if lv <= 2 else 4.0,
            "color": "#222222",
            "weight": 0.6,
            "fillColor": STRESS_LABELS[lv][2],
            "fillOpacity": 1.0,
        }
        for lv in cl
    ]
    rows = [("过街压力等级 Crossing level", stress_text(cl))]
    if "control" in cx.columns:
        rows.append(
            (
                "过街方式 Control",
                [
                    f"{CROSSING_LABELS.get(str(v), '其他')} {v}" if v is not None and pd.notna(v) else "—"
                    for v in cx["control"]
                ],
            )
        )
    if "reason" in cx.columns:
        rows.append(("原因 Reason", esc(cx["reason"])))
    if lean.on and "count" in cx.columns:  # lean: one feature per kind
        rows.append(("同类过街点 Crossings of this kind", fmt_num(cx["count"])))
    pops = popup_html(["过街点 Crossing"] * len(cx), rows)
    tips = [f"过街 Crossing · {STRESS_LABELS[lv][0]}" for lv in cl]
    name = (
        f"过街点压力等级（{n_drawn}） Crossing stress ({n_drawn})"
        if n_drawn == n_all
        else f"过街点压力等级3–4（{n_all:,}处中{n_drawn:,}处） Crossing stress 3–4 ({n_drawn:,} of {n_all:,})"
    )
    add_layer(m, cx, styles, pops, tips, name, show=False)
    return [
        (
            "过街点（小圆点）" + OFF + " Crossings (small dots)",
            [("dot", STRESS_LABELS[lv][2], f"{zh} {en}") for lv, (zh, en, _c) in STRESS_LABELS.items()],
        )
    ]
