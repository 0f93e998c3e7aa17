"""The map of the pilot units (试点单元地图) by status: 达标 / 部分达标 / 缺口, each with a symbol and a colour."""

from __future__ import annotations

from collections.abc import Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from childspace._errors import DataError
from childspace.outputs.maps._page import (
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
from childspace.outputs.style import KIND_LABELS, STATUS_LABELS, STATUS_RULE, element_label, status_text

__all__ = ["pilot_map"]


def _status_columns(ps: pd.DataFrame) -> list[str]:
    return [c[4:] for c in ps.columns if c.startswith("has_")]


def _pilot_popups(ps: pd.DataFrame) -> list[str]:
    n = len(ps)
    status = ps["status"].astype(str).to_numpy()
    st_txt = [
        f"<b style='color:{STATUS_LABELS[s][2] if s in STATUS_LABELS else '#555'}'>{status_text(s)}</b>"
        for s in status
    ]
    kinds = ps["kind"].astype(str).to_numpy() if "kind" in ps.columns else np.array([""] * n)
    rows = [
        ("批次 Batch", esc(ps["batch"]) if "batch" in ps.columns else ["—"] * n),
        ("类型 Kind", [" ".join(KIND_LABELS.get(k, (k, ""))) for k in kinds]),
        ("状态 Status", st_txt),
    ]
    if "township" in ps.columns:
        rows.append(("所属镇街 Township", esc(ps["township"])))
    if "key_project" in ps.columns:
        kp = ps["key_project"].fillna(False).astype(bool).to_numpy()
        rows.append(("重点项目 Key project", ["★ 是 Yes" if k else "否 No" for k in kp]))
    for cat in _status_columns(ps):
        has = ps[f"has_{cat}"].fillna(False).astype(bool).to_numpy()
        dist = fmt_num(ps[f"dist_{cat}"], 0, " m") if f"dist_{cat}" in ps.columns else [""] * n
        rows.append(
            (
                element_label(cat),
                [
                    ("<b style='color:#2166ac'>✓</b> " if h else "<b style='color:#9e0142'>×</b> ")
                    + (d if d != "—" else "")
                    for h, d in zip(has, dist)
                ],
            )
        )
    if "reasons" in ps.columns:
        rows.append(("原因 Reasons", esc(ps["reasons"])))
    if "notes" in ps.columns:
        rows.append(("备注 Notes", esc(ps["notes"])))
    rows.append(("编号 ID", esc(ps["pilot_id"])))
    return popup_html(esc(ps["name"]), rows)


def pilot_map(
    pilots_status: gpd.GeoDataFrame,
    catchments: gpd.GeoDataFrame | None = None,
    *,
    boundaries: gpd.GeoDataFrame | None = None,
    title: str | None = None,
    synthetic: bool = False,
    basemaps: Sequence[str] = (),
    base: Basemap | None = None,
) -> folium.Map:
    """Map of the pilot units (试点单元) coloured by status, one layer per batch.

    Parameters
    ----------
    pilots_status : GeoDataFrame
        ``pilots.pilot_status`` output: ``pilot_id``, ``name``, ``batch``, ``kind``, ``status``
        (``meets``/``partly``/``gap``), ``reasons``, ``has_<cat>``, ``dist_<cat>`` (m), optional ``key_project``;
        Polygon geometry for communities, Point otherwise.
    catchments : GeoDataFrame, optional
        ``pilots.pilot_catchments`` (``pilot_id``, geometry): drawn as a dashed outline layer.
    boundaries : GeoDataFrame, optional
        Canonical boundaries, outlines and labels under the pilots.
    title, synthetic, basemaps, base
        As in :func:`childspace.outputs.maps.coverage_map`.

    Returns
    -------
    folium.Map
        Popups hold the checklist (✓/× per category with distance in metres), figures and reasons; key projects
        (重点项目) get a black ring and a ★. Each unit carries its status symbol (✓ △ ×) as well as its colour, so
        the statuses stay apart without colour vision.
    """
    ps = to_wgs84(pilots_status, "pilots_status")
    require(ps, ["pilot_id", "name", "status"], "pilots_status")
    bad = sorted(set(ps["status"].astype(str)) - set(STATUS_LABELS))
    if bad:
        raise DataError(
            f"unknown pilot status values {bad}",
            feature="pilots_status.status",
            fix=f"status must be one of {list(STATUS_LABELS)}",
        )
    m = new_map(
        [ps] + ([to_wgs84(boundaries, "boundaries")] if boundaries is not None else []),
        title or "儿童友好试点单元评估 Child-friendly pilot units",
        None,
        synthetic,
        basemaps,
        base=base,
    )
    legend: list[tuple[str, list[LegendItem]]] = []
    items = boundary_layers(m, boundaries, label_limit=40)
    if catchments is not None and len(catchments):
        c = to_wgs84(catchments, "catchments")
        style = {
            "color": "#555555",
            "weight": 1.2,
            "dashArray": "5 4",
            "fillColor": "#9ecae1",
            "fillOpacity": 0.08,
        }
        tips = [
            f"服务范围 Catchment: {i}"
            for i in (esc(c["pilot_id"]) if "pilot_id" in c.columns else ["—"] * len(c))
        ]
        add_layer(m, c, [style] * len(c), None, tips, "试点服务范围 Pilot catchments", show=False)
        items.append(("dash", "#555555", "试点服务范围 Pilot catchments"))
    pops = _pilot_popups(ps)
    status = ps["status"].astype(str).to_numpy()
    key = (
        ps["key_project"].fillna(False).astype(bool).to_numpy()
        if "key_project" in ps.columns
        else np.zeros(len(ps), dtype=bool)
    )
    poly = ps.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    styles = []
    for s, k, p in zip(status, key, poly):
        colour = STATUS_LABELS[s][2]
        if p:
            styles.append(
                {
                    "color": "#000000" if k else colour,
                    "weight": 3 if k else 2,
                    "fillColor": colour,
                    "fillOpacity": 0.45,
                }
            )
        else:
            styles.append(
                {
                    "radius": 10 if k else 8,
                    "color": "#000000" if k else "#ffffff",
                    "weight": 3 if k else 2,
                    "fillColor": colour,
                    "fillOpacity": 0.95,
                }
            )
    tips = [
        f"{'★ ' if k else ''}{n} · {STATUS_LABELS[s][0]} {STATUS_LABELS[s][1]}"
        for n, s, k in zip(esc(ps["name"]), status, key)
    ]
    batches = ps["batch"] if "batch" in ps.columns else pd.Series(0, index=ps.index)
    bvals = batches.to_numpy()
    for b in sorted(pd.unique(bvals)):
        sel = np.flatnonzero(bvals == b)
        sub = ps.iloc[sel]
        name = f"{b}年试点（{len(sub)}个） Pilots {b} ({len(sub)})"
        add_layer(m, sub, [styles[i] for i in sel], [pops[i] for i in sel], [tips[i] for i in sel], name)
    # the status symbol on every unit: the cue that needs no colour vision
    sym = [f"<span class='sym {s}'>{STATUS_LABELS[s][3]}</span>" for s in status]
    add_labels(m, ps, sym, "状态符号 Status symbols", raw_html=True, control=False)
    if key.any():
        kp = ps[key]
        add_labels(
            m,
            kp,
            ["<span class='star'>★</span>"] * len(kp),
            f"重点项目 ★ Key projects ({len(kp)})",
            raw_html=True,
        )
    counts = pd.Series(status).value_counts()
    legend.append(
        (
            "试点状态 Pilot status",
            [
                (f"sym:{sy}", col, f"{zh} {en}（{int(counts.get(k_, 0))}）")
                for k_, (zh, en, col, sy) in STATUS_LABELS.items()
            ],
        )
    )
    legend.append(("判定规则 Rule", [("sym:", "#333", t) for t in STATUS_RULE]))
    legend.append(
        (
            "标记 Marks",
            [
                ("sym:★", "#000000", "黑色外圈/★ = 重点项目 Black ring/★ = key project"),
                ("fill", "#cccccc", "面 = 社区试点，点 = 其他 Polygon = community, point = other"),
            ],
        )
    )
    if items:
        legend.append(("边界 Boundaries", items))
    return finish(m, legend)
