"""The action plan's own targets, measured: one table per township and for the city.

:func:`plan_indicators` computes every target of a plan (:func:`childspace.inputs.plan.load_plan`; Yueqing's plan
by default): infant-care places per 1,000 residents, townships with an infant-care institution, inclusive and
quality kindergarten shares (by places when every kindergarten's places are known, else by count — the row says
which), townships with a demonstration children's home, pilot units per batch, and large venues with the
mother-and-baby room they must have (:func:`childspace.analysis.venues.mother_baby_room_check`). A target whose
data are not in the inputs gets a row with ``status`` "缺数据 missing data" and ``missing`` saying what to add: no
target is left out and no value is guessed.

Facilities are placed in a township by where their point lies (a point on a shared boundary goes to one of them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace.inputs.attributes import QUALITY_GRADES
from childspace.inputs.plan import Plan, Target, load_plan
from childspace.inputs.projection import WGS84

__all__ = ["COLUMNS", "STATUS_MET", "STATUS_MISSING", "STATUS_NOT_MET", "plan_indicators"]

STATUS_MET = "达标 met"
STATUS_NOT_MET = "未达标 not met"
STATUS_MISSING = "缺数据 missing data"
COLUMNS = [
    "level",
    "unit_id",
    "unit",
    "target_id",
    "indicator",
    "wording",
    "comparison",
    "target",
    "value",
    "gap",
    "unit_of_measure",
    "status",
    "year",
    "basis",
    "missing",
    "source",
]
CITY = "city"


class _Context:
    """The inputs of one run, with every facility and venue placed in its township once."""

    def __init__(
        self,
        townships: gpd.GeoDataFrame | None,
        facilities: gpd.GeoDataFrame | None,
        communities: gpd.GeoDataFrame | None,
        pilots: Any,
        venues: gpd.GeoDataFrame | None,
        plan: Plan,
    ) -> None:
        self.plan = plan
        self.towns = townships.to_crs(WGS84).reset_index(drop=True) if townships is not None else None
        self.fac = (
            facilities
            if facilities is not None
            else gpd.GeoDataFrame({"category": pd.Series(dtype=object)}, geometry=[], crs=WGS84)
        )
        self.fac_town = self._town_of(self.fac)
        self.pilots = pilots
        self.venues = venues
        self.venue_town = self._town_of(venues) if venues is not None else None
        self.population, self.pop_source = self._population(communities)

    def _town_of(self, gdf: gpd.GeoDataFrame) -> np.ndarray:
        out = np.full(len(gdf), -1)
        if self.towns is None or not len(gdf):
            return out
        pts = gdf.to_crs(WGS84).geometry.values
        ti, pi = shapely.STRtree(self.towns.geometry.values).query(pts, predicate="within")
        out[ti[::-1]] = pi[::-1]  # first township wins on a shared edge
        return out

    def _population(self, communities: gpd.GeoDataFrame | None) -> tuple[np.ndarray, str]:
        if self.towns is None:
            return np.zeros(0), ""
        pop = pd.to_numeric(
            self.towns.get("population", pd.Series(np.nan, index=self.towns.index)), errors="coerce"
        ).to_numpy(dtype=float)
        source = "乡镇人口 township population"
        if np.isnan(pop).any() and communities is not None and "population" in communities.columns:
            c = communities.to_crs(WGS84)
            where = self._town_of(gpd.GeoDataFrame(geometry=c.geometry.representative_point(), crs=WGS84))
            cp = pd.to_numeric(c["population"], errors="coerce").to_numpy(dtype=float)
            ok = where >= 0
            sums = np.bincount(where[ok], weights=np.nan_to_num(cp[ok]), minlength=len(self.towns))
            fill = np.isnan(pop) & (np.bincount(where[ok], minlength=len(self.towns)) > 0)
            pop[fill] = sums[fill]
            source = "社区人口合计 sum of community populations" if fill.all() else source
        return pop, source

    def units(self) -> list[tuple[str, str, str, int]]:
        """(level, unit_id, name, township index or -1 for the city)."""
        out = [(CITY, CITY, self.plan.city or "全市 city", -1)]
        if self.towns is not None:
            out += [
                ("township", str(self.towns.at[i, "unit_id"]), str(self.towns.at[i, "name"]), i)
                for i in range(len(self.towns))
            ]
        return out

    def of(self, category: str, town: int) -> pd.DataFrame:
        mask = (self.fac["category"] == category).to_numpy().copy()
        if town >= 0:
            mask &= self.fac_town == town
        return self.fac.loc[mask]


def _row(
    t: Target,
    level: str,
    unit_id: str,
    unit: str,
    value: float = np.nan,
    basis: str = "",
    missing: str = "",
    target: float | None = None,
    measure_unit: str | None = None,
) -> dict:
    goal = t.target if target is None else target
    if missing and not np.isfinite(value):
        status, gap = STATUS_MISSING, np.nan
    else:
        ok = value >= goal if t.comparison == ">=" else value <= goal
        status = STATUS_MET if ok else STATUS_NOT_MET
        gap = max(goal - value, 0.0) if t.comparison == ">=" else max(value - goal, 0.0)
    return {
        "level": level,
        "unit_id": unit_id,
        "unit": unit,
        "target_id": t.id,
        "indicator": t.label,
        "wording": t.wording,
        "comparison": t.comparison,
        "target": goal,
        "value": round(float(value), 2) if np.isfinite(value) else np.nan,
        "gap": round(float(gap), 2) if np.isfinite(gap) else np.nan,
        "unit_of_measure": t.unit if measure_unit is None else measure_unit,
        "status": status,
        "year": t.year,
        "basis": basis,
        "missing": ("missing data: " + missing) if missing else "",
        "source": t.source,
    }


def _numbers(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)


def _flags(df: pd.DataFrame, col: str) -> np.ndarray:
    """Object array of True/False/None."""
    if col not in df.columns:
        return np.full(len(df), None, dtype=object)
    v = df[col].to_numpy(dtype=object)
    return np.array(
        [None if x is None or (isinstance(x, float) and np.isnan(x)) else bool(x) for x in v], dtype=object
    )


# -- measures -----------------------------------------------------------------------------------------------------


def _infant_places(ctx: _Context, t: Target) -> list[dict]:
    rows = []
    all_ic = ctx.of("infant_care", -1)
    places_known = bool(len(all_ic)) and np.isfinite(_numbers(all_ic, "capacity")).any()
    for level, uid, name, i in ctx.units():
        pop = (
            float(np.nansum(ctx.population))
            if i < 0
            else float(ctx.population[i])
            if len(ctx.population)
            else np.nan
        )
        ic = ctx.of("infant_care", i)
        cap = _numbers(ic, "capacity")
        known = np.isfinite(cap)
        if not np.isfinite(pop) or pop <= 0:
            rows.append(_row(t, level, uid, name, missing="population (人口) of the township(s)"))
            continue
        if not len(all_ic):
            rows.append(
                _row(
                    t,
                    level,
                    uid,
                    name,
                    missing="no infant-care institutions (托育机构) in the inputs: "
                    "add the register with 托位数 (places)",
                )
            )
            continue
        if not places_known:
            rows.append(_row(t, level, uid, name, missing="托位数 (places) of the infant-care institutions"))
            continue
        places = float(cap[known].sum())
        value = places / pop * 1000.0
        basis = (
            f"{len(ic)} 托育机构 infant-care institutions, {places:,.0f} places "
            f"(known for {int(known.sum())}); {ctx.pop_source} {pop:,.0f}"
        )
        short = (
            ""
            if known.all()
            else f"places unknown for {int((~known).sum())} institutions (value is a lower bound)"
        )
        r = _row(t, level, uid, name, value, basis)
        r["missing"] = ("missing data: " + short) if short else ""
        rows.append(r)
    return rows


def _townships_with(
    category: str, what: str, flag: str | None = None
) -> Callable[[_Context, Target], list[dict]]:
    """Share of townships with at least one facility of ``category`` (with ``flag`` True when given)."""

    def measure(ctx: _Context, t: Target) -> list[dict]:
        if ctx.towns is None:
            return [_row(t, CITY, CITY, ctx.plan.city, missing="township boundaries (乡镇街道边界)")]
        fac = ctx.of(category, -1)
        if not len(fac):
            miss = f"no {what} in the inputs"
            return [_row(t, lvl, uid, name, missing=miss) for lvl, uid, name, _ in ctx.units()]
        flags = _flags(fac, flag) if flag else np.full(len(fac), True, dtype=object)
        if flag and all(f is None for f in flags):
            miss = f"the {flag} flag (示范型) of the {what}"
            return [_row(t, lvl, uid, name, missing=miss) for lvl, uid, name, _ in ctx.units()]
        town = ctx.fac_town[(ctx.fac["category"] == category).to_numpy()]
        n_towns = len(ctx.towns)
        yes = np.array([f is True for f in flags])
        unk = np.array([f is None for f in flags])
        count = np.bincount(town[(town >= 0) & yes], minlength=n_towns)
        unknown = np.bincount(town[(town >= 0) & unk], minlength=n_towns)
        rows = []
        word = "示范型" if flag else ""
        for lvl, uid, name, i in ctx.units():
            if i < 0:
                has = int((count > 0).sum())
                basis = f"{has} of {n_towns} townships have at least one {word}{what}"
                miss = (
                    ""
                    if not (unknown[count == 0] > 0).any()
                    else f"{flag} unknown in {int(((unknown > 0) & (count == 0)).sum())} townships without a known one"
                )
                r = _row(t, lvl, uid, name, 100.0 * has / n_towns, basis)
                r["missing"] = ("missing data: " + miss) if miss else ""
            elif count[i] == 0 and unknown[i] > 0:
                r = _row(
                    t,
                    lvl,
                    uid,
                    name,
                    missing=f"{flag} unknown for {unknown[i]} of its {what}",
                    target=1,
                    measure_unit="个 facilities",
                )
            else:
                r = _row(
                    t,
                    lvl,
                    uid,
                    name,
                    float(count[i]),
                    f"{count[i]} {word}{what} in the township",
                    target=1,
                    measure_unit="个 facilities",
                )
            rows.append(r)
        return rows

    return measure


def _kindergarten_share(ctx: _Context, t: Target, which: str) -> list[dict]:
    kg_all = ctx.of("kindergarten", -1)

    def status(kg: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if which == "inclusive":
            own = (
                kg["ownership"].to_numpy(dtype=object)
                if "ownership" in kg.columns
                else np.full(len(kg), None, dtype=object)
            )
            inc = _flags(kg, "inclusive")
            yes = (own == "public") | np.array([f is True for f in inc])
            known = yes | np.array([f is False for f in inc])
            return yes, known
        grades = tuple(t.params.get("grades", QUALITY_GRADES))
        g = (
            kg["grade"].to_numpy(dtype=object)
            if "grade" in kg.columns
            else np.full(len(kg), None, dtype=object)
        )
        known = np.array(
            [x is not None and not (isinstance(x, float) and np.isnan(x)) for x in g], dtype=bool
        )
        return np.isin(g.astype(str), grades) & known, known

    what = (
        "办园性质/普惠 (ownership or inclusive status)"
        if which == "inclusive"
        else "办园等级 (quality grade)"
    )
    if not len(kg_all):
        return [
            _row(t, lvl, uid, name, missing="no kindergartens (幼儿园) in the inputs")
            for lvl, uid, name, _ in ctx.units()
        ]
    _, known_all = status(kg_all)
    if not known_all.any():
        return [
            _row(t, lvl, uid, name, missing=f"{what} of the kindergartens")
            for lvl, uid, name, _ in ctx.units()
        ]
    by_places = bool(np.isfinite(_numbers(kg_all, "capacity")[known_all]).all())
    rows = []
    for lvl, uid, name, i in ctx.units():
        kg = ctx.of("kindergarten", i)
        yes, known = status(kg)
        if not known.any():
            rows.append(
                _row(
                    t,
                    lvl,
                    uid,
                    name,
                    missing=f"{what} of its {len(kg)} kindergartens"
                    if len(kg)
                    else "no kindergarten in this township",
                )
            )
            continue
        w = _numbers(kg, "capacity") if by_places else np.ones(len(kg))
        value = 100.0 * w[yes & known].sum() / w[known].sum()
        unit = "学位 places" if by_places else "所 kindergartens"
        basis = (
            f"按学位 by places: {w[yes & known].sum():,.0f} of {w[known].sum():,.0f} places"
            if by_places
            else f"按园数 by count (places not known for every kindergarten): {int((yes & known).sum())} of "
            f"{int(known.sum())} kindergartens"
        ) + f" in {int(known.sum())} kindergartens ({unit})"
        r = _row(t, lvl, uid, name, value, basis)
        if (~known).any():
            r["missing"] = f"missing data: {what} unknown for {int((~known).sum())} kindergartens (left out)"
        rows.append(r)
    return rows


def _new_public_places(ctx: _Context, t: Target) -> list[dict]:
    """Places of the public kindergartens opened in the plan's first year (``since``) or later, for the city."""
    since = float(t.params.get("since", 0) or 0)
    name = ctx.plan.city or "全市 city"
    kg = ctx.of("kindergarten", -1)
    if not len(kg):
        return [_row(t, CITY, CITY, name, missing="no kindergartens (幼儿园) in the inputs")]
    year = _numbers(kg, "opened_year")
    if not np.isfinite(year).any():
        return [
            _row(
                t,
                CITY,
                CITY,
                name,
                missing=f"开办年份 (opening year) of the kindergartens, to count the places of public kindergartens "
                f"opened since {since:g} (新增公办学位; or the education bureau's count); not in the inputs",
            )
        ]
    own = kg["ownership"].to_numpy(dtype=object) if "ownership" in kg.columns else np.full(len(kg), None)
    public = own == "public"
    new = np.isfinite(year) & (year >= since)
    cap = _numbers(kg, "capacity")
    sel = public & new
    places = float(np.nansum(cap[sel]))
    basis = (
        f"{int(sel.sum())} 所公办幼儿园 {since:g} 年及以后开办 public kindergartens opened in {since:g} or later, "
        f"{places:,.0f} 学位 places (开办年份 known for {int(np.isfinite(year).sum())} of {len(kg)} kindergartens)"
    )
    gaps = []
    if (sel & ~np.isfinite(cap)).any():
        gaps.append(f"学位数 (places) unknown for {int((sel & ~np.isfinite(cap)).sum())} of them")
    if (public & ~np.isfinite(year)).any():
        gaps.append(f"开办年份 unknown for {int((public & ~np.isfinite(year)).sum())} public kindergartens")
    unknown_own = np.array([o is None or (isinstance(o, float) and np.isnan(o)) for o in own], dtype=bool)
    if (new & unknown_own).any():
        gaps.append(
            f"办园性质 (ownership) unknown for {int((new & unknown_own).sum())} opened since {since:g}"
        )
    r = _row(t, CITY, CITY, name, places, basis)
    if gaps:
        r["missing"] = "missing data: " + "; ".join(gaps) + " (not counted: the value is a lower bound)"
    return [r]


def _pilot_batch(ctx: _Context, t: Target) -> list[dict]:
    batch = int(t.params["batch"])
    name = ctx.plan.city or "全市 city"
    if ctx.pilots is None:
        return [_row(t, CITY, CITY, name, missing="the pilot register (试点单元名册)")]
    sel = ctx.pilots.loc[pd.to_numeric(ctx.pilots["batch"], errors="coerce") == batch]
    basis = f"试点单元名册 pilot register: {len(sel)} units of batch {batch}"
    if "status_zh" in sel.columns and len(sel):
        counts = sel["status_zh"].value_counts()
        basis += " (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"
    return [_row(t, CITY, CITY, name, float(len(sel)), basis)]


def _venues(ctx: _Context, t: Target) -> list[dict]:
    rows = []
    if ctx.venues is None or not len(ctx.venues):
        return [
            _row(
                t,
                lvl,
                uid,
                name,
                missing="public venues with 建筑面积 (floor area) or 日均客流 (daily visitors): "
                "a venue register, or OSM venues",
            )
            for lvl, uid, name, _ in ctx.units()
        ]
    v = ctx.venues
    req = v["required"].to_numpy(dtype=bool)
    has = v["has_room"].to_numpy(dtype=bool)
    unknown = v["floor_area_m2"].isna().to_numpy() if "floor_area_m2" in v.columns else np.ones(len(v), bool)
    if "daily_visitors" in v.columns:
        unknown = unknown & v["daily_visitors"].isna().to_numpy()
    for lvl, uid, name, i in ctx.units():
        m = np.ones(len(v), bool) if i < 0 else np.asarray(ctx.venue_town == i)
        n_req = int((req & m).sum())
        n_ok = int((req & has & m).sum())
        n_unk = int((unknown & m).sum())
        if n_req == 0:
            r = _row(t, lvl, uid, name, 100.0, f"{int(m.sum())} venues, none above the thresholds")
        else:
            r = _row(
                t,
                lvl,
                uid,
                name,
                100.0 * n_ok / n_req,
                f"{n_ok} of {n_req} venues that must have a room have one within "
                f"{ctx.plan.room_distance_m:g} m ({int(m.sum())} venues checked)",
            )
        if n_unk:
            r["missing"] = f"missing data: floor area and visitors unknown for {n_unk} venues (not counted)"
        rows.append(r)
    return rows


_MEASURES: dict[str, Callable[[_Context, Target], list[dict]]] = {
    "infant_care_places_per_1000": _infant_places,
    "townships_with_infant_care": _townships_with("infant_care", "infant-care institutions (托育机构)"),
    "new_public_kindergarten_places": _new_public_places,
    "inclusive_kindergarten_share": lambda c, t: _kindergarten_share(c, t, "inclusive"),
    "quality_kindergarten_share": lambda c, t: _kindergarten_share(c, t, "quality"),
    "townships_with_demonstration_children_home": _townships_with(
        "children_home", "children's homes (儿童之家)", flag="demonstration"
    ),
    "pilot_units_batch": _pilot_batch,
    "venues_with_mother_baby_room": _venues,
}


def plan_indicators(
    townships: gpd.GeoDataFrame | None,
    facilities: gpd.GeoDataFrame | None,
    *,
    plan: Plan | None = None,
    communities: gpd.GeoDataFrame | None = None,
    pilots: pd.DataFrame | None = None,
    venues: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """The plan's targets measured for the city and each township.

    Parameters
    ----------
    townships : GeoDataFrame or None
        Township polygons (``unit_id``, ``name``, optional ``population``).
    facilities : GeoDataFrame or None
        Canonical facilities with the attributes of :mod:`childspace.inputs.attributes` (``capacity``,
        ``ownership``, ``inclusive``, ``grade``, ``demonstration``, ``opened_year``) where the registers give
        them. New public kindergarten places: the places of the public kindergartens whose ``opened_year`` is
        the target's ``since`` or later.
    plan : Plan, optional
        Default: Yueqing's plan (``childspace/config/plan_yueqing.toml``).
    communities : GeoDataFrame, optional
        For township populations missing from ``townships`` (summed by where each community lies).
    pilots : DataFrame, optional
        The pilot register (``batch``; with ``status_zh`` when it went through the pilot analysis).
    venues : GeoDataFrame, optional
        :func:`childspace.analysis.venues.mother_baby_room_check` output.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`: one row per target for the city (``level`` = ``"city"``) and, for the targets that apply
        to townships, per township; ``status`` is 达标 met / 未达标 not met / 缺数据 missing data, ``gap`` the
        shortfall (0 when met, NaN when missing), ``basis`` the data the value rests on, ``missing`` what is not
        known ("missing data: ..."). Township rows of count targets (an institution, a demonstration home) have
        target 1 (at least one).
    """
    plan = plan or load_plan()
    ctx = _Context(townships, facilities, communities, pilots, venues, plan)
    rows: list[dict] = []
    for t in plan.targets.values():
        rows += _MEASURES[t.measure](ctx, t)
    out = pd.DataFrame(rows, columns=COLUMNS)
    order = {tid: k for k, tid in enumerate(plan.targets)}
    out["_lvl"] = (out["level"] != CITY).astype(int)
    out["_t"] = out["target_id"].map(order)
    out = out.sort_values(["_lvl", "unit_id", "_t"], kind="stable").drop(columns=["_lvl", "_t"])
    return out.reset_index(drop=True)
