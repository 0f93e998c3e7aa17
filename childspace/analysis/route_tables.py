"""Tables of the routes to school for planners: children per school by verdict (with the verdict range and the
children whose verdict rests on assumed tags), one row per home for a workbook or CSV, and summary sentences.
Inputs are the routes of :func:`childspace.analysis.routes.school_routes`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from childspace.analysis.safety import _cfg, safe_max_levels
from childspace.analysis.safety import verdict as _verdict

__all__ = ["assumption_summary", "routes_per_home", "routes_table", "school_summary", "whole_children"]


def _set_verdicts(routes: pd.DataFrame, cfg: dict, smax: dict) -> None:
    """Verdict, verdict range and the assumption flag of each route, by its category's safe maximum.

    Each distinct (category, level) is decided once and the rows take their text from that small table (a
    county has ~1M routes, a handful of pairs): the category is factorised on its own array (text columns: no
    per-row conversion to Python strings) and the assumption flag compares the two small tables' entries by
    code, not the two text columns row by row (a county's 1.2M routes: 0.13 CPU s instead of 0.57).
    """
    c_code, c_uniq = pd.factorize(routes["category"].array, use_na_sentinel=False)
    picked: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # text column: its table and each row's entry
    for col, lcol in (
        ("verdict", "worst_level"),
        ("verdict_best", "worst_level_best"),
        ("verdict_worst", "worst_level_worst"),
    ):
        l_code, l_uniq = pd.factorize(routes[lcol].to_numpy(), use_na_sentinel=False)
        k = np.asarray(l_uniq).size
        table = _verdict(
            np.tile(np.asarray(l_uniq), c_uniq.size),
            cfg,
            smax,
            np.repeat(np.asarray(c_uniq, dtype=object), k),
        )
        if not table.size:
            routes[col] = table
        elif (
            pd.api.types.infer_dtype(table, skipna=False) == "string"
        ):  # taken from the table, not made per row
            pos = c_code * k + l_code
            routes[col] = pd.array(table, dtype="str").take(pos)
            picked[col] = (np.asarray(table, dtype=object), pos)
        else:
            routes[col] = table.reshape(c_uniq.size, k)[c_code, l_code]
    if "verdict_best" in picked and "verdict_worst" in picked:
        (tb, pb), (tw, pw) = picked["verdict_best"], picked["verdict_worst"]
        differs = tb[:, None] != tw[None, :]  # every pair of the two tables' entries compared once
        routes["verdict_assumed"] = differs[pb, pw]
    else:
        routes["verdict_assumed"] = routes["verdict_best"].to_numpy() != routes["verdict_worst"].to_numpy()


def school_summary(
    routes: gpd.GeoDataFrame,
    schools: gpd.GeoDataFrame,
    safe_max_level: int | Mapping[str, int] | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Children per school by the verdict of their safest acceptable route, with how much of it is assumed.

    Parameters
    ----------
    routes : GeoDataFrame
        From :func:`school_routes`.
    schools : GeoDataFrame
        ``facility_id``, optional ``name``, ``category``.
    safe_max_level : int, mapping or None
        Re-decide the verdicts with these safe maxima (see :func:`childspace.analysis.safety.safe_max_levels`);
        None: the verdicts of ``routes`` as they are.
    config : path, mapping or None
        Safety config for re-decided verdicts.

    Returns
    -------
    DataFrame
        ``school_id``, ``name``, ``category``, ``children_safe``, ``children_caution``, ``children_unsafe``
        (by the ``safest`` route's verdict), ``children_unreachable`` (origins of the school's category with no
        route to any school, counted once per category under ``school_id`` ``unreachable/<category>``), ``children_over_detour``
        (the least-stress route is too long, the shortest is used), ``pct_safe``, ``children_verdict_assumed``
        (children whose verdict changes between the optimistic and the pessimistic defaults: it rests on
        assumed tags), ``children_safe_best`` / ``children_safe_worst`` (children safe under the optimistic /
        pessimistic defaults: the range of ``children_safe``), ``assumed_share`` (children-weighted mean of the
        routes' assumed share), ``safe_max_level``, ``profile``.
    """
    routes = _reverdict(routes, safe_max_level, config)
    # the safest rows with the columns read here only (not the layer's geometry and the rest)
    used = (
        "school_id",
        "category",
        "verdict",
        "children",
        "verdict_assumed",
        "verdict_best",
        "verdict_worst",
        "assumed_share",
        "over_detour",
    )
    rows = pd.DataFrame({c: routes[c] for c in routes.columns if c in used})
    s = rows[(routes["route"] == "safest").to_numpy()]
    cnt = pd.crosstab(
        [s["school_id"].fillna("—"), s["category"]], s["verdict"], values=s["children"], aggfunc="sum"
    ).fillna(0)
    for v in ("safe", "caution", "unsafe", "unreachable"):
        if v not in cnt.columns:
            cnt[v] = 0.0
    key = [s["school_id"].fillna("—"), s["category"]]
    ch = s["children"].astype(float)
    extra = (
        pd.DataFrame(
            {
                "assumed": ch.where(
                    s.get("verdict_assumed", pd.Series(False, index=s.index)).astype(bool), 0.0
                ),
                "best": ch.where(s.get("verdict_best", s["verdict"]) == "safe", 0.0),
                "worst": ch.where(s.get("verdict_worst", s["verdict"]) == "safe", 0.0),
                "ash": ch * s["assumed_share"].astype(float).fillna(0.0),
                "ch": ch.where(s["assumed_share"].notna(), 0.0),
            }
        )
        .groupby(key)
        .sum()
    )
    over = (
        s[s["over_detour"].astype(bool)].groupby(["school_id", "category"])["children"].sum()
        if "over_detour" in s.columns
        else pd.Series(dtype=float)
    )
    cnt = cnt.reset_index().rename(columns={"school_id": "school_id"})
    none = cnt["school_id"] == "—"  # children with no reachable school: an id that says so, never empty
    out = pd.DataFrame(
        {
            "school_id": cnt["school_id"].where(~none, "unreachable/" + cnt["category"].astype(str)),
            "category": cnt["category"],
            "children_safe": cnt["safe"],
            "children_caution": cnt["caution"],
            "children_unsafe": cnt["unsafe"],
            "children_unreachable": cnt["unreachable"],
        }
    )
    out["children_over_detour"] = [
        float(over.get((a, b), 0.0)) for a, b in zip(out["school_id"], out["category"])
    ]
    ex = extra.reindex(pd.MultiIndex.from_arrays([cnt["school_id"], cnt["category"]])).fillna(0.0)
    out["children_verdict_assumed"] = ex["assumed"].to_numpy()
    out["children_safe_best"] = ex["best"].to_numpy()
    out["children_safe_worst"] = ex["worst"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["assumed_share"] = np.where(
            ex["ch"].to_numpy() > 0, ex["ash"].to_numpy() / ex["ch"].to_numpy(), np.nan
        )
    names = dict(
        zip(
            schools["facility_id"].astype(str),
            schools["name"] if "name" in schools.columns else schools["facility_id"].astype(str),
        )
    )
    out.insert(
        1,
        "name",
        out["school_id"].map(
            lambda x: (
                "无可达学校 no reachable school" if str(x).startswith("unreachable/") else names.get(str(x))
            )
        ),
    )
    # schools with no routes at all still appear, with zeros
    cats = set(routes["category"].unique())
    sch = schools[schools["category"].isin(cats)] if "category" in schools.columns else schools
    miss = sch[~sch["facility_id"].astype(str).isin(out["school_id"].dropna().astype(str))]
    if len(miss):
        add = pd.DataFrame(
            {
                "school_id": miss["facility_id"].astype(str).to_numpy(),
                "name": miss["name"].to_numpy() if "name" in miss.columns else None,
                "category": miss["category"].to_numpy() if "category" in miss.columns else None,
            }
        )
        for c in (
            "children_safe",
            "children_caution",
            "children_unsafe",
            "children_unreachable",
            "children_over_detour",
            "children_verdict_assumed",
            "children_safe_best",
            "children_safe_worst",
        ):
            add[c] = 0.0
        out = pd.concat([out, add], ignore_index=True)
    tot = out[["children_safe", "children_caution", "children_unsafe"]].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pct_safe"] = np.where(tot > 0, 100.0 * out["children_safe"] / tot, np.nan)
    smax = routes.attrs.get("safe_max_level") or {}
    out["safe_max_level"] = (
        out["category"].map(lambda c: smax.get(c, smax.get("default"))).astype("Int64") if smax else pd.NA
    )
    out["profile"] = routes.attrs.get("safety_profile")
    return out.reset_index(drop=True)


def _reverdict(routes: gpd.GeoDataFrame, safe_max_level: Any, config: Any) -> gpd.GeoDataFrame:
    """``routes`` with verdicts re-decided for ``safe_max_level`` (unchanged when None)."""
    if safe_max_level is None:
        return routes
    cfg = _cfg(config)
    smax = safe_max_levels(safe_max_level, cfg)
    out = routes.copy()
    out.attrs = dict(routes.attrs)
    if "worst_level_best" not in out.columns:
        out["worst_level_best"] = out["worst_level"]
        out["worst_level_worst"] = out["worst_level"]
    _set_verdicts(out, cfg, smax)
    out.attrs["safe_max_level"] = smax
    return out


def routes_table(
    routes: gpd.GeoDataFrame,
    safe_max_level: int | Mapping[str, int] | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """One row per home and school category: the routes a planner reads in a workbook or CSV.

    Parameters
    ----------
    routes : GeoDataFrame
        From :func:`school_routes`.
    safe_max_level, config
        As for :func:`school_summary`.

    Returns
    -------
    DataFrame (no geometry)
        ``origin_id``, ``category``, ``school_id``, ``children``, ``shortest_m``, ``safest_m`` (walking metres),
        ``straight_m``, ``worst_level`` (of the safest acceptable route), ``verdict``, ``verdict_best``,
        ``verdict_worst`` (range under the profile's optimistic / pessimistic defaults), ``verdict_assumed``,
        ``assumed_share``, ``assumed_crossings``, ``crossings``, ``unsafe_crossings``, ``over_detour``,
        ``safe_max_level``, ``profile``.
    """
    routes = _reverdict(routes, safe_max_level, config)
    key = ["origin_id", "category"]
    extra = (
        "verdict_best",
        "verdict_worst",
        "verdict_assumed",
        "assumed_share",
        "assumed_crossings",
        "crossings",
        "unsafe_crossings",
        "over_detour",
    )
    # the columns read, not the layer's geometry and the rest, taken for the two kinds of rows
    used = key + ["route", "school_id", "children", "length_m", "straight_m", "worst_level", "verdict"]
    rows = pd.DataFrame({c: routes[c] for c in routes.columns if c in used or c in extra})
    safe = rows[rows["route"] == "safest"].set_index(key)
    short = rows[rows["route"] == "shortest"].set_index(key)["length_m"]
    out = pd.DataFrame(
        {
            "school_id": safe["school_id"],
            "children": safe["children"],
            "shortest_m": short.reindex(safe.index).to_numpy(),
            "safest_m": safe["length_m"],
            "straight_m": safe["straight_m"],
            "worst_level": safe["worst_level"],
            "verdict": safe["verdict"],
        }
    )
    for c in extra:
        out[c] = safe[c] if c in safe.columns else None
    smax = routes.attrs.get("safe_max_level") or {}
    out = out.reset_index()
    if smax:  # each category looked up once (not per row), then taken for the rows
        codes, cats = pd.factorize(out["category"].array, use_na_sentinel=False)
        per_cat = pd.Series(cats, dtype=out["category"].dtype).map(lambda c: smax.get(c, smax.get("default")))
        out["safe_max_level"] = per_cat.take(codes).array
    else:
        out["safe_max_level"] = None
    out["profile"] = routes.attrs.get("safety_profile")
    return out


def whole_children(table: pd.DataFrame, column: str = "children") -> pd.DataFrame:
    """``table`` (:func:`routes_table`) with each home's children as whole children that add up, per school,
    category and verdict, to that cell of :func:`school_summary` rounded (largest-remainder rounding).

    Homes estimated from OSM carry fractional children (a dasymetric share of a unit's total, e.g. 0.4):
    rounded one by one, most of them become 0 and a school's homes add up to fewer children than the school
    table counts (Andorra's estimate: 312 instead of 363). Here each home gets its children rounded down, and
    the children that leaves over in each (school, category, verdict) group go to the homes of the group with
    the largest remainders (ties: the earlier row), one each. So every home's figure is within one child of its
    estimate and the table's children per school and verdict equal those of the school table. Whole counts are
    returned unchanged (the same object).

    Parameters
    ----------
    table : DataFrame
        ``school_id``, ``category``, ``verdict`` and ``column`` (one row per home and category).
    column : str, default "children"

    Returns
    -------
    DataFrame
        A copy with ``column`` as int64 (missing children count as 0).
    """
    v = pd.to_numeric(table[column], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    if not v.size or np.array_equal(v, np.floor(v)):
        return table
    g = np.zeros(v.size, dtype=np.int64)
    for col in ("school_id", "category", "verdict"):  # the group of each row: its (school, category, verdict)
        codes, uniq = pd.factorize(table[col].array, use_na_sentinel=False)
        g = pd.factorize(g * max(len(uniq), 1) + codes)[0]
    low = np.floor(v)
    rem = v - low
    n_g = int(g.max()) + 1
    # the children left over per group: the group's rounded total (as a table of totals rounds it) minus the
    # rounded-down homes
    extra = np.round(np.bincount(g, weights=v, minlength=n_g)) - np.bincount(g, weights=low, minlength=n_g)
    order = np.lexsort((np.arange(v.size), -rem, g))  # per group, largest remainder first
    start = np.zeros(n_g, dtype=np.int64)
    np.cumsum(np.bincount(g, minlength=n_g)[:-1], out=start[1:])
    rank = np.empty(v.size, dtype=np.int64)
    rank[order] = np.arange(v.size) - start[g[order]]
    out = table.copy()
    out[column] = (low + (rank < extra[g])).astype(np.int64)
    return out


#: verdicts from best to worst: a home's overall verdict is the worst of its school categories
VERDICT_ORDER = ("safe", "caution", "unsafe", "unreachable")


def _positions(ids: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each id in ``index`` (unique), -1 where absent: ``index.get_indexer(ids)``, hashed in Arrow
    for text ids (a county: 600,000 ids against 300,000 homes, ~10x faster than pandas' string index)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        if pd.api.types.is_string_dtype(ids.dtype) and pd.api.types.is_string_dtype(index.dtype):
            got = pc.index_in(pa.array(ids, from_pandas=True), value_set=pa.array(index, from_pandas=True))
            return np.asarray(got.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.intp)
    except (ImportError, pa.ArrowException):  # values Arrow does not take as text: pandas' index
        pass
    return np.asarray(index.get_indexer(ids), dtype=np.intp)


def routes_per_home(routes: gpd.GeoDataFrame, table: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """One row per home (its point): for each school category the school, the shortest and safest walks, the
    safest route's worst level and verdict; ``verdict`` is the worst of the categories' verdicts.

    The GeoPackage layer of the routes when they carry no lines (the default): a county's 1.2 million route rows
    (shortest and safest, two school categories) become one point per home with the same figures. Routes with
    lines (``route_geometry = true``) are returned unchanged: one line per route. ``table``: the
    :func:`routes_table` of these routes when already made (a run keeps it), so it is not made again.
    """
    import shapely

    geoms = np.asarray(routes.geometry.array, dtype=object)
    if not len(routes) or not bool((shapely.get_type_id(geoms) == 0).all()):  # 0: Point
        return routes
    if table is None:
        table = routes_table(routes)
    # each home's first route row (as drop_duplicates keeps it), found from the ids' codes: hashing the 1.2
    # million ids once in Arrow, not as Python strings
    codes, _ = pd.factorize(routes["origin_id"], use_na_sentinel=False)
    first = np.sort(np.unique(codes, return_index=True)[1])
    homes = routes[["origin_id", "children"]].iloc[first].set_index("origin_id")
    out = pd.DataFrame(index=homes.index)
    out["children"] = homes["children"]
    rank = {v: i for i, v in enumerate(VERDICT_ORDER)}
    worst = pd.Series(-1, index=out.index)
    # the table's rows placed on the homes once (as ``reindex`` places them, without a string index per category)
    pos = _positions(table["origin_id"], homes.index)
    v_codes, v_uniq = pd.factorize(table["verdict"])
    v_rank = np.array([rank.get(v, -1) for v in v_uniq] + [-1], dtype=np.int64)[v_codes]  # -1: none / unknown
    cat = table["category"]
    for c in sorted(cat.unique()):
        rows = np.flatnonzero((cat == c).to_numpy(dtype=bool))
        at = pos[rows]
        if (at < 0).any() or np.bincount(at, minlength=1).max(initial=0) > 1:  # reindex's error, as before
            sub = table.iloc[rows].set_index("origin_id")
            sub["verdict"].reindex(out.index)
        take = np.full(len(out), -1, dtype=np.intp)
        ok = at >= 0
        take[at[ok]] = rows[ok]
        for col in ("school_id", "shortest_m", "safest_m", "worst_level", "verdict"):
            s = table[col]
            vals = s.array if isinstance(s.dtype, pd.api.extensions.ExtensionDtype) else s.to_numpy()
            got = pd.api.extensions.take(vals, take, allow_fill=True)  # reindex's values and dtype
            obj = isinstance(got, np.ndarray) and got.dtype == object  # kept object, as reindex keeps it
            out[f"{c}_{col}"] = pd.Series(got, index=out.index, dtype=object if obj else None)
        r = np.where(take >= 0, v_rank[np.maximum(take, 0)], -1)
        worst = np.maximum(worst, r)
    names = np.array([*VERDICT_ORDER, None], dtype=object)  # -1 (no category reached): None
    out["verdict"] = names[worst.to_numpy()]
    return gpd.GeoDataFrame(out.reset_index(), geometry=geoms[first], crs=routes.crs)


def assumption_summary(
    routes: gpd.GeoDataFrame,
    safe_max_level: int | Mapping[str, int] | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
) -> list[str]:
    """Bilingual sentences per school category: children safe, the range under other plausible defaults, and
    how many children's verdicts rest on assumed tags (for a report's summary)."""
    routes = _reverdict(routes, safe_max_level, config)
    s = routes[(routes["route"] == "safest") & (routes["verdict"] != "unreachable")]
    prof = routes.attrs.get("safety_profile", "?")
    smax = routes.attrs.get("safe_max_level") or {}
    out = []
    for cat, part in s.groupby("category", sort=False):
        ch = part["children"].astype(float)
        tot = float(ch.sum())
        safe = float(ch[part["verdict"] == "safe"].sum())
        best = float(ch[part.get("verdict_best", part["verdict"]) == "safe"].sum())
        worst = float(ch[part.get("verdict_worst", part["verdict"]) == "safe"].sum())
        ass = float(ch[part.get("verdict_assumed", pd.Series(False, index=part.index)).astype(bool)].sum())
        lim = smax.get(cat, smax.get("default", "?"))
        out.append(
            f"{cat}：{safe:.0f}/{tot:.0f} 名儿童可独自安全步行（≤{lim}级），按其他合理默认值在 {worst:.0f}–{best:.0f} "
            f"之间；{ass:.0f} 名儿童的结论依赖假定的标签（配置 {prof}） — {cat.replace('_', ' ')}: {safe:.0f} of "
            f"{tot:.0f} children safe to walk alone (level <= {lim}); {worst:.0f}-{best:.0f} under other "
            f"plausible defaults; {ass:.0f} children's verdicts rest on assumed tags (profile {prof})"
        )
    return out
