"""The hazards of the routes map: numbered by rank (the numbers of the tables and figures), coloured by level."""

from __future__ import annotations

from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from childspace.outputs.maps._page import (
    LegendItem,
    add_labels,
    add_layer,
    esc,
    fmt_num,
    popup_html,
    require,
    to_wgs84,
)
from childspace.outputs.maps.routes_lean import Lean, lean_frame
from childspace.outputs.maps.routes_network import stress_text
from childspace.outputs.style import HAZARD_TYPE_LABELS, STRESS_LABELS

#: hazard numbers drawn when the map opens (by rank); the others are a layer one click away, every hazard keeps
#: its number in its tooltip and popup
MAP_HAZARD_LABELS = 30


def hazard_layer(
    m: folium.Map, hazards: gpd.GeoDataFrame, school_names: dict[str, str], lean: Lean | None = None
) -> tuple[str, list[LegendItem]]:
    """Hazards numbered by rank (the same numbers as the tables and figures), coloured by level.

    On a lean map the first ``lean.hazard_popups`` by rank keep their popup (reason, countermeasures, basis);
    the others a tooltip (number, street, children), their details being in the workbook's hazards table."""
    lean = lean or Lean(on=False)
    h = to_wgs84(hazards, "hazards")
    require(h, ["level"], "hazards")
    if lean.on:
        h = lean_frame(h, lean.line_m, lean.digits)
    hl = pd.to_numeric(h["level"], errors="coerce").fillna(4).clip(1, 4).astype(int).to_numpy()
    hk = pd.to_numeric(h.get("children", pd.Series(0, index=h.index)), errors="coerce").fillna(0).to_numpy()
    is_pt = h.geometry.geom_type.isin(["Point", "MultiPoint"]).to_numpy()
    styles: list[dict[str, Any]] = []
    for lv, k, pt in zip(hl, hk, is_pt):
        if pt:
            styles.append(
                {
                    "radius": float(np.clip(6 + 1.0 * np.sqrt(k), 7, 20)),
                    "color": "#000000",
                    "weight": 2,
                    "fillColor": STRESS_LABELS[lv][2],
                    "fillOpacity": 0.95,
                }
            )
        else:
            styles.append(
                {
                    "color": "#000000",
                    "weight": float(np.clip(6 + 0.8 * np.sqrt(k), 7, 15)),
                    "opacity": 0.9,
                    "dashArray": "1 0",
                }
            )
    types = h["type"].astype(str).to_numpy() if "type" in h.columns else np.array(["crossing"] * len(h))
    rank = (
        pd.to_numeric(h["rank"], errors="coerce").to_numpy()
        if "rank" in h.columns
        else np.arange(1, len(h) + 1, dtype=float)
    )
    num = [f"{int(v)}" if np.isfinite(v) else "" for v in rank]
    full = (
        np.isfinite(rank) & (rank <= lean.hazard_popups) if lean.on else np.ones(len(h), dtype=bool)
    )  # popups written for these
    rows = [
        ("类型 Type", [" ".join(HAZARD_TYPE_LABELS.get(t, (t, ""))) for t in types]),
        ("压力等级 Level", stress_text(hl)),
        ("受影响儿童 Children affected", fmt_num(pd.Series(hk))),
    ]
    if "schools" in h.columns:

        def named(v: object) -> str:
            ids = (
                [x.strip() for x in str(v).replace(",", ";").split(";") if x.strip()] if v is not None else []
            )
            return "、".join(school_names.get(x, x) for x in ids) or "—"

        rows.append(("涉及学校 Schools", esc([named(v) for v in h["schools"]])))
    if "reason" in h.columns:
        rows.append(("原因 Reason", esc(h["reason"])))
    for col, lab in (("countermeasures", "建议措施 Countermeasures"), ("countermeasure_basis", "依据 Basis")):
        if col in h.columns:  # from the countermeasure rules, when the run has them
            rows.append((lab, [v.replace("\n", "<br>").replace(" | ", "<br>") for v in esc(h[col])]))
    names = esc(h["name"]) if "name" in h.columns else ["—"] * len(h)
    made = popup_html(
        [f"隐患 Hazard {n_}：{nm if nm != '—' else '无名道路 unnamed'}" for n_, nm in zip(num, names)], rows
    )
    pops = [p_ if f_ else "" for p_, f_ in zip(made, full)]
    tips = [
        f"隐患 {n_} Hazard: {nm} · {k} 名儿童 children"
        for n_, nm, k in zip(num, names, fmt_num(pd.Series(hk)))
    ]
    # segments: a black casing under a coloured line, so a hazard segment differs from a street by shape too
    seg = ~is_pt
    if seg.any():
        inner = [
            {"color": STRESS_LABELS[lv][2], "weight": max(styles[i]["weight"] - 4, 3), "opacity": 1.0}
            for i, lv in zip(np.flatnonzero(seg), hl[seg])
        ]
        simplify = 0.0 if lean.on else None
        add_layer(
            m,
            h[seg],
            [styles[i] for i in np.flatnonzero(seg)],
            None,
            None,
            "隐患路段底衬 Hazard casing",
            control=False,
            simplify_m=simplify,
        )
        add_layer(
            m,
            h[seg],
            inner,
            [pops[i] for i in np.flatnonzero(seg)],
            [tips[i] for i in np.flatnonzero(seg)],
            f"隐患路段（{int(seg.sum())}） Hazard segments ({int(seg.sum())})",
            simplify_m=simplify,
        )
    if is_pt.any():
        sel = np.flatnonzero(is_pt)
        add_layer(
            m,
            h[is_pt],
            [styles[i] for i in sel],
            [pops[i] for i in sel],
            [tips[i] for i in sel],
            f"隐患过街点（{int(is_pt.sum())}） Hazard crossings ({int(is_pt.sum())})",
        )
    hz_labels = [f"<span class='hz'>{n_}</span>" for n_ in num]
    top = np.isfinite(rank) & (rank <= MAP_HAZARD_LABELS)
    if top.all():
        add_labels(m, h, hz_labels, "隐患编号 Hazard numbers", raw_html=True)
    else:  # a county's 1,500 numbers would bury the map: the first ones shown, the others one click away
        add_labels(
            m,
            h[top],
            [hz_labels[i] for i in np.flatnonzero(top)],
            f"隐患编号（前 {MAP_HAZARD_LABELS}） Hazard numbers (top {MAP_HAZARD_LABELS})",
            raw_html=True,
        )
        add_labels(
            m,
            h[~top],
            [hz_labels[i] for i in np.flatnonzero(~top)],
            f"其余隐患编号（{int((~top).sum())}） Other hazard numbers ({int((~top).sum())})",
            show=False,
            raw_html=True,
        )
    present = sorted(set(hl.tolist()))
    items: list[LegendItem] = [
        ("dot", STRESS_LABELS[lv][2], f"过街点 {STRESS_LABELS[lv][0]} Crossing, {STRESS_LABELS[lv][1]}")
        for lv in present
    ]
    items += [
        ("line", "#000000", "路段：黑边粗线 Segment: thick line with black casing"),
        ("sym:#", "#000000", "编号=排序（表格同号） Number = rank (as in the tables)"),
        ("sym:", "#000000", "大小=受影响儿童 Size = children affected"),
    ]
    return (f"隐患点（{len(h)}） Hazards ({len(h)})", items)
