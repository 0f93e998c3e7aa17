"""Coverage choropleths shared by the overview and the per-category maps: classes tied to the target."""

from __future__ import annotations

import html
import re

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from childspace._errors import DataError
from childspace.outputs.maps._page import LegendItem, add_layer, esc, fmt_num, popup_html, require
from childspace.outputs.style import (
    LIFE_CIRCLE_CLASSES,
    NO_DATA_COLOUR,
    coverage_class_index,
    coverage_classes,
    coverage_colours,
)

#: edge of a unit below the target (the second cue besides the fill class)
BELOW_EDGE = "#4a1486"


def target_of(uc: pd.DataFrame, target_pct: float | None) -> float | None:
    """The coverage target: as given, else the table's ``target_pct`` (first value), else None (the default)."""
    if target_pct is not None:
        return float(target_pct)
    if "target_pct" in uc.columns:
        t = pd.to_numeric(uc["target_pct"], errors="coerce").dropna()
        if len(t):
            return float(t.iloc[0])
    return None


def coverage_legend(target: float | None) -> list[LegendItem]:
    """Legend rows of the coverage classes (highest first), no data and the below-target edge."""
    rows: list[LegendItem] = [("fill", c.colour, c.label) for c in reversed(coverage_classes(target))]
    rows.append(("fill", NO_DATA_COLOUR, "无数据（无儿童） No data (no children)"))
    rows.append(("line", BELOW_EDGE, "紫色粗边 = 低于目标 Thick purple edge = below target"))
    return rows


def coverage_rows(
    sub: pd.DataFrame, vals: np.ndarray, value: str, vlabel: str, below: np.ndarray, target: float | None
) -> list[tuple[str, list[str]]]:
    """Popup rows of a coverage choropleth (names, not codes, first). Children not connected to the network
    are among the children and not among those covered on foot (``unit_coverage``): a unit with children and
    none covered is 0 %, "no data" is only a unit without children."""
    cls = coverage_classes(target)
    idx = coverage_class_index(vals, target)
    rows = [
        (vlabel, fmt_num(pd.Series(vals), 1, "%")),
        ("分级 Class", [cls[i].label if i >= 0 else "无数据 No data" for i in idx]),
    ]
    for col, lab, d in (
        ("children", "儿童数 Children", 0),
        ("children_covered_walk", "步行覆盖儿童 Covered on foot", 0),
        ("children_no_network", "路网不连通儿童（未覆盖） Not connected to the network (not covered)", 0),
        ("pct_line", "直线覆盖率 Straight-line %", 1),
        ("median_walk_m", "步行距离中位数 Median walk (m)", 0),
        ("radius_m", "服务半径 Radius (m)", 0),
        ("target_pct", "目标 Target %", 0),
    ):
        if col in sub.columns and col != value:
            rows.append((lab, fmt_num(sub[col], d)))
    rows.append(("低于目标 Below target", ["▼ 是 Yes" if x else "否 No" for x in below]))
    rows.append(("编号 Unit ID", esc(sub["unit_id"])))
    return rows


def join_coverage(
    b: gpd.GeoDataFrame, uc: pd.DataFrame, category: str | None, value: str
) -> gpd.GeoDataFrame:
    """Boundaries left-joined with the rows of one category (one row per unit, else a DataError)."""
    if category is not None and "category" in uc.columns:
        uc = uc[uc["category"].astype(str) == category]
    if uc["unit_id"].astype(str).duplicated().any():
        dup = uc.loc[uc["unit_id"].astype(str).duplicated(), "unit_id"].iloc[0]
        raise DataError(
            f"unit_coverage has several rows for unit {dup!r} in category {category!r}",
            feature=f"unit_id={dup}",
            fix="pass one row per unit and category",
        )
    keep = [
        c
        for c in (
            "unit_id",
            value,
            "children",
            "children_covered_walk",
            "children_no_network",
            "pct_walk",
            "pct_line",
            "median_walk_m",
            "radius_m",
            "below_target",
            "target_pct",
        )
        if c in uc.columns
    ]
    uc = uc[list(dict.fromkeys(keep))].copy()
    uc["unit_id"] = uc["unit_id"].astype(str)
    b = b.assign(unit_id=b["unit_id"].astype(str))
    data_cols = [c for c in uc.columns if c != "unit_id" and c not in b.columns]
    return b.merge(uc[["unit_id"] + data_cols], on="unit_id", how="left")


def choropleth_styles(
    sub: gpd.GeoDataFrame, value: str, target: float | None
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """(values, below-target mask, Leaflet styles): fill by class, a thick edge for units below the target."""
    vals = pd.to_numeric(sub[value], errors="coerce").to_numpy(dtype=float)
    cols = coverage_colours(vals, target)
    if "below_target" in sub.columns:
        below = sub["below_target"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    else:
        t = coverage_classes(target)[-1].lower
        below = np.isfinite(vals) & (vals < t)
    styles = [
        {
            "color": BELOW_EDGE if bt else "#555555",
            "weight": 3.0 if bt else 0.8,
            "fillColor": c,
            "fillOpacity": 0.72,
        }
        for c, bt in zip(cols, below)
    ]
    return vals, below, styles


def life_circle_layer(
    m: folium.Map, units: gpd.GeoDataFrame, life_circles: pd.DataFrame, name: str, show: bool, overlay: bool
) -> list[LegendItem]:
    """Units coloured by how many of the 5/10/15-minute life circles are complete."""
    require(life_circles, ["unit_id"], "life_circles")
    comp_cols = sorted(
        (c for c in life_circles.columns if re.fullmatch(r"lc\d+_complete", str(c))),
        key=lambda c: int(re.findall(r"\d+", c)[0]),
    )
    if not comp_cols:
        raise DataError(
            "life_circles has no lc<N>_complete columns",
            feature="life_circles",
            fix="pass the output of childspace.analysis.coverage.life_circles",
        )
    lc = pd.DataFrame(life_circles).copy()
    lc["unit_id"] = lc["unit_id"].astype(str)
    lc = lc.drop_duplicates("unit_id")
    j = units.assign(unit_id=units["unit_id"].astype(str)).merge(
        lc.drop(columns=[c for c in ("name", "level") if c in lc.columns]), on="unit_id", how="left"
    )
    comp = (
        j[comp_cols]
        .apply(lambda s: pd.to_numeric(s.astype("object").where(s.notna(), np.nan), errors="coerce"))
        .to_numpy(dtype=float)
    )
    judged = np.isfinite(comp)
    n_ok = np.where(judged, comp, 0).sum(axis=1).astype(int)
    any_judged = judged.any(axis=1)
    fills = [LIFE_CIRCLE_CLASSES[min(k, 3)][0] if a else NO_DATA_COLOUR for k, a in zip(n_ok, any_judged)]
    styles = [{"color": "#444444", "weight": 1.0, "fillColor": f, "fillOpacity": 0.72} for f in fills]
    rows: list[tuple[str, list[str]]] = [
        ("完整的生活圈 Complete circles", [f"{k} / {int(a)}" for k, a in zip(n_ok, judged.sum(axis=1))])
    ]
    for c in comp_cols:
        mnt = re.findall(r"\d+", c)[0]
        miss_col = f"lc{mnt}_missing"
        vals = comp[:, comp_cols.index(c)]
        miss = (
            j[miss_col].fillna("").astype(str).to_numpy()
            if miss_col in j.columns
            else np.array([""] * len(j))
        )
        txt = []
        for v, ms in zip(vals, miss):
            if not np.isfinite(v):
                txt.append("无法判断 not judged")
            elif v:
                txt.append("<span style='color:#2166ac'>✓ 完整 complete</span>")
            else:
                txt.append(f"<span style='color:#9e0142'>× 缺 missing:</span> {html.escape(ms)}")
        rows.append((f"{mnt}分钟生活圈 {mnt}-min circle", txt))
    rows.append(("编号 Unit ID", esc(j["unit_id"])))
    pops = popup_html([f"{n} 生活圈 Life circles" for n in esc(j["name"])], rows)
    tips = [
        f"{n}: {k}/{int(a)} 生活圈完整 circles complete"
        for n, k, a in zip(esc(j["name"]), n_ok, judged.sum(axis=1))
    ]
    add_layer(
        m, j, styles, pops, tips, name, show=show, overlay=overlay, pane="csChoro", pane_z=350, simplify_m=5.0
    )
    minutes = "/".join(re.findall(r"\d+", c)[0] for c in comp_cols)
    return [("fill", col, lab) for _k, (col, lab) in sorted(LIFE_CIRCLE_CLASSES.items(), reverse=True)] + [
        ("fill", NO_DATA_COLOUR, f"无法判断（无儿童） Not judged (no children) — {minutes} 分钟 min")
    ]
