"""``childspace scenario``: before/after figures for facilities added or removed (情景分析).

The run's chain is computed once as it is (:func:`childspace.run.pipeline.run_analyses`: inputs, network,
coverage, pilot status); then only what the change touches is recomputed on the same network: the walking
coverage of the changed categories (access legs included), the pilot status when a checklist category changed,
and the routes to school of a changed school category. The comparison (:mod:`childspace.analysis.scenarios`) is
written under ``<outputs>/scenario/<name>/`` through the run's staging folder (written whole or not at all):
``summary.txt`` (the bilingual sentences), ``tables/*.csv`` and ``scenario.xlsx`` (before/after per unit and
category, pilot units that change status, homes whose route verdict changes, the sites), and one map per changed
category (``maps/scenario_<category>.html``: coverage after, the homes newly covered, the walking service area
before as a dashed outline, the added and removed sites marked).

A new ``childspace report`` into the same output folder replaces the whole folder, scenarios included (they
compare against the run they were computed with).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from childspace._errors import ChildspaceError, DataError
from childspace.run import outdir
from childspace.run.config import RunConfig
from childspace.run.results import Progress, quiet

if TYPE_CHECKING:
    import argparse

    import folium
    import geopandas as gpd
    import pandas as pd

    from childspace.analysis.scenarios import Change, Comparison, State
    from childspace.inputs.standards import Standards
    from childspace.run.results import Inputs, Results

SCHOOL_CATEGORIES = ("primary_school", "middle_school")
FOLDER = "scenario"


# ---------------------------------------------------------------------------------------------------------------
# the command's arguments
# ---------------------------------------------------------------------------------------------------------------
_SEP = re.compile(r"\s*[,，]\s*")
ADD_FORMAT = '"CATEGORY,LON,LAT[,NAME]", e.g. --add "幼儿园,120.98,28.12" or --add "kindergarten,120.98,28.12,新建示例幼儿园"'


def parse_add(text: str, standards: Standards | None = None) -> dict[str, Any]:
    """One ``--add`` value: ``"幼儿园,120.98,28.12[,名称]"`` -> ``{category, lon, lat, name}``.

    Raises
    ------
    ChildspaceError
        One line naming the argument and the expected form.
    """
    from childspace.inputs.standards import default_standards

    std = standards or default_standards()
    parts = _SEP.split(str(text).strip())
    if len(parts) < 3 or len(parts) > 4 or not parts[0]:
        raise ChildspaceError(
            f'--add "{text}": expected CATEGORY,LON,LAT with an optional NAME ({len(parts)} part(s) given)',
            fix=f"write it as {ADD_FORMAT}",
        )
    nums = []
    for what, v in (("LON", parts[1]), ("LAT", parts[2])):
        try:
            nums.append(float(v))
        except ValueError:
            raise ChildspaceError(
                f'--add "{text}": {what} "{v}" is not a number', fix=f"write it as {ADD_FORMAT}"
            ) from None
    try:
        cat = std.canonical(parts[0])
    except DataError as exc:
        raise ChildspaceError(f'--add "{text}": {exc.message}', fix=exc.fix) from None
    return {
        "category": cat,
        "lon": nums[0],
        "lat": nums[1],
        "name": parts[3] if len(parts) == 4 else None,
        "label": parts[0],
    }


def parse_suggest(text: str, standards: Standards | None = None) -> tuple[str, int]:
    """One ``--suggest`` value: ``"幼儿园"`` or ``"kindergarten:3"`` -> ``(category, n)``."""
    from childspace.inputs.standards import default_standards

    std = standards or default_standards()
    label, _, n = str(text).replace("：", ":").partition(":")
    try:
        k = int(n) if n.strip() else 1
        if k < 1:
            raise ValueError
    except ValueError:
        raise ChildspaceError(
            f'--suggest "{text}": N "{n}" is not a whole number of sites ≥ 1',
            fix='write it as --suggest "幼儿园:2" (two sites) or --suggest kindergarten',
        ) from None
    try:
        return std.canonical(label.strip()), k
    except DataError as exc:
        raise ChildspaceError(f'--suggest "{text}": {exc.message}', fix=exc.fix) from None


def folder_name(
    name: str | None, adds: Sequence[dict], removes: Sequence[str], suggests: Sequence[tuple[str, int]]
) -> str:
    """The scenario's folder under ``<outputs>/scenario/``: ``name``, else made from the change."""
    if name:
        bad = set('<>:"/\\|?*') & set(name)
        if bad or name.strip() in ("", ".", "..") or name.startswith("."):
            raise ChildspaceError(
                f'--name "{name}" cannot be a folder name', fix="use letters, digits, - and _"
            )
        return name.strip()
    parts = []
    cats = list(dict.fromkeys(a["category"] for a in adds))
    if cats:
        parts.append("add-" + "-".join(cats))
    for cat, n in suggests:
        parts.append(f"suggest-{cat}-{n}")
    if removes:
        parts.append("remove-" + "-".join(removes[:3]) + ("-etc" if len(removes) > 3 else ""))
    return re.sub(r"[^\w\-]", "_", "_".join(parts))[:80] or "scenario"


# ---------------------------------------------------------------------------------------------------------------
# computing
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class ScenarioRun:
    """A computed scenario: the run as it is (``base``), the change, both states and their comparison."""

    base: Results
    change: Change
    before: State
    after: State
    comparison: Comparison
    lines: list[str]
    suggested: gpd.GeoDataFrame | None = None  # the sites proposed by ``--suggest`` (maximal coverage)
    maps: dict[str, Path] = field(default_factory=dict)


def _coverage_rows(res: Results, cats: list[str]) -> pd.DataFrame:
    import pandas as pd

    parts = [res.tables[k] for k in ("township_coverage", "community_coverage") if k in res.tables]
    uc = pd.concat(parts, ignore_index=True)
    return uc[uc["category"].isin(cats)].reset_index(drop=True)


def _units(inp: Inputs) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import pandas as pd

    parts = [u[["unit_id", "level", "geometry"]] for u in (inp.townships, inp.communities) if u is not None]
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=parts[0].crs)


def run_scenario(
    cfg: RunConfig,
    add: Sequence[dict] = (),
    remove: Sequence[str] = (),
    suggest: Sequence[tuple[str, int]] = (),
    coords: str = "wgs84",
    progress: Progress = quiet,
) -> ScenarioRun:
    """Compute the scenario (writes nothing).

    Parameters
    ----------
    cfg : RunConfig
    add : sequence of dict
        Sites to add (``category``, ``lon``, ``lat``, optional ``name``; :func:`parse_add`).
    remove : sequence of str
        ``facility_id`` s to remove.
    suggest : sequence of (category, n)
        Add the ``n`` sites :func:`childspace.analysis.siting.suggest_sites` proposes for the category (chosen on
        the run's facilities, before the other changes).
    coords : str
        Datum of the ``add`` coordinates (``wgs84``, ``gcj02``, ``bd09``).
    """
    import geopandas as gpd
    import pandas as pd

    from childspace.analysis import coverage as cov
    from childspace.analysis import pilots as pil
    from childspace.analysis import scenarios as sc
    from childspace.analysis._coverage_base import category_radii
    from childspace.run import pipeline

    if not (add or remove or suggest):
        raise ChildspaceError(
            "no change given",
            fix='add --add "幼儿园,120.98,28.12", --remove FACILITY_ID or --suggest kindergarten[:N]',
        )
    std = cfg.resolved_standards()
    res = pipeline.run_analyses(cfg, coverage=True, routes=False, progress=progress)
    inp, net = res.inputs, res.network
    fac = res.layers.get("facilities")
    if fac is None or net is None or "access" not in res.layers:
        raise DataError(
            "the run has no facilities or no coverage to compare",
            path=cfg.source,
            fix="give [[facilities]] files and [origins] (or child counts) in the config",
        )
    progress("情景 Scenario: 变更设施 applying the changes")
    sites = (
        sc.new_sites(
            list(add),
            coords=coords,
            standards=std,
            study_area=inp.study_area,
            taken_ids=fac["facility_id"].astype(str),
        )
        if add
        else None
    )
    suggested = []
    for cat, n in suggest:
        radius = float(pd.Series(category_radii(cat, None, std)).max())
        progress(f"  选址建议 Suggesting {n} {cat} site(s) within {radius:g} m walking (MCLP)")
        s = cov.suggest_sites(None, inp.origins, net, radius, p=n, facilities=fac[fac["category"] == cat])
        if not len(s):
            progress(f"  no {cat} site to suggest: every child with a street is already within {radius:g} m")
            continue
        s = s.assign(
            category=cat,
            name=[f"建议选址{int(k)} Suggested {cat.replace('_', ' ')} {int(k)}" for k in s["rank"]],
        )
        suggested.append(s)
    parts = [p for p in (sites, *[s[["category", "name", "geometry"]] for s in suggested]) if p is not None]
    added = None
    if parts:
        allp = gpd.GeoDataFrame(
            pd.concat([p[["category", "name", "geometry"]] for p in parts], ignore_index=True),
            geometry="geometry",
            crs="EPSG:4326",
        )
        added = sc.new_sites(
            allp, standards=std, study_area=inp.study_area, taken_ids=fac["facility_id"].astype(str)
        )
    change = sc.apply_changes(fac, add=added, remove=list(remove), standards=std)
    cats = change.categories
    radii = std
    progress(f"  {len(change.added)} added, {len(change.removed)} removed; recomputing {', '.join(cats)}")

    acc0 = res.layers["access"]
    missing = [c for c in cats if f"covered_walk_{c}" not in acc0.columns]
    if missing:  # a category the run does not analyse: its "before" is computed here too
        acc0 = sc.update_access(acc0, inp.origins, fac, net, missing, radii=radii)
    acc1 = sc.update_access(acc0, inp.origins, change.facilities, net, cats, radii=radii)

    uc0 = _coverage_rows(res, [c for c in cats if c not in missing])
    uc1 = []
    for units in (inp.townships, inp.communities):
        if units is None:
            continue
        if missing:
            uc0 = pd.concat(
                [uc0, cov.unit_coverage(units, acc0, missing, target_pct=cfg.target_pct)], ignore_index=True
            )
        uc1.append(cov.unit_coverage(units, acc1, cats, target_pct=cfg.target_pct))
    uc1 = pd.concat(uc1, ignore_index=True)

    p0 = p1 = None
    elem_cats = {c for v in pil.ELEMENTS.values() for c in v[0]}
    if "pilots" in res.layers:
        p0 = res.layers["pilots"]
        p1 = p0
        if set(cats) & elem_cats:
            progress("  试点单元 Pilot status after the change")
            p1 = pil.pilot_status(
                inp.pilots,
                change.facilities,
                inp.origins,
                net,
                radii=radii,
                target_pct=cfg.target_pct,
                categories=list(cfg.categories),
            )

    r0 = r1 = None
    school_cats = [c for c in cats if c in SCHOOL_CATEGORIES]
    if school_cats:
        from childspace.analysis import routes as rt
        from childspace.analysis import safety

        progress(f"  通学路径 Routes to {', '.join(school_cats)} before and after")
        stress = safety.network_stress(net)

        def routes_for(f: Any) -> Any:
            sch = f[f["category"].isin(school_cats)]
            return rt.school_routes(
                net,
                inp.origins,
                sch,
                stress=stress,
                categories=school_cats,
                safe_max_level=cfg.safe_max_level,
                geometry=False,
                verdict_range=False,
            )

        r0, r1 = routes_for(fac), routes_for(change.facilities)

    before = sc.State(coverage=uc0, access=acc0, pilots=p0, routes=r0)
    after = sc.State(coverage=uc1, access=acc1, pilots=p1, routes=r1)
    comp = sc.compare(before, after, units=_units(inp), categories=cats)
    lines = sc.describe(comp, change, standards=std)
    out = ScenarioRun(
        base=res,
        change=change,
        before=before,
        after=after,
        comparison=comp,
        lines=lines,
        suggested=pd.concat(suggested, ignore_index=True) if suggested else None,
    )
    return out


# ---------------------------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------------------------
_HEADERS = {
    "level": "层级 Level",
    "unit_id": "单元编号 Unit ID",
    "name": "名称 Name",
    "category": "设施类型 Category",
    "children": "儿童数 Children",
    "covered_before": "变更前覆盖儿童 Covered before",
    "covered_after": "变更后覆盖儿童 Covered after",
    "newly_covered": "新增覆盖儿童 Newly covered",
    "no_longer_covered": "不再覆盖儿童 No longer covered",
    "pct_before": "变更前覆盖率% Coverage before %",
    "pct_after": "变更后覆盖率% Coverage after %",
    "target_pct": "目标% Target %",
    "below_before": "变更前低于目标 Below target before",
    "below_after": "变更后低于目标 Below target after",
    "target_change": "达标变化 Change against target",
    "pilot_id": "试点编号 Pilot ID",
    "kind": "类型 Kind",
    "batch": "批次 Batch",
    "status_zh_before": "变更前状态 Status before",
    "status_zh_after": "变更后状态 Status after",
    "n_present_before": "变更前具备要素 Elements before",
    "n_present_after": "变更后具备要素 Elements after",
    "reasons_after": "变更后缺项 Missing after",
    "origin_id": "住户编号 Home ID",
    "school_before": "变更前学校 School before",
    "school_after": "变更后学校 School after",
    "verdict_before": "变更前评价 Verdict before",
    "verdict_after": "变更后评价 Verdict after",
    "length_before_m": "变更前路程(米) Length before (m)",
    "length_after_m": "变更后路程(米) Length after (m)",
    "units_level": "单元层级 Unit level",
    "units_reaching_target": "达标单元 Units reaching target",
    "units_falling_below": "降至目标以下单元 Units falling below",
    "units_below_before": "变更前低于目标单元 Units below before",
    "units_below_after": "变更后低于目标单元 Units below after",
    "children_verdict_changed": "路径评价改变儿童 Children whose verdict changes",
    "children_safe_before": "变更前安全路径儿童 Children safe before",
    "children_safe_after": "变更后安全路径儿童 Children safe after",
    "children_school_changed": "改走他校儿童 Children going to another school",
    "change": "变更 Change",
    "facility_id": "设施编号 Facility ID",
    "lon": "经度 Lon (WGS84)",
    "lat": "纬度 Lat (WGS84)",
    "children_new_suggested": "选址估算新增覆盖 Children newly covered (siting estimate)",
}
_LEVELS = {"community": "社区 community", "township": "乡镇街道 township"}
_VERDICTS = {
    "safe": "安全 safe",
    "caution": "注意 caution",
    "unsafe": "不安全 unsafe",
    "unreachable": "不可达 unreachable",
    "nan": "—",
    "None": "—",
}


def tables(run: ScenarioRun, cfg: RunConfig) -> dict[str, pd.DataFrame]:
    """The written tables (bilingual headers, codes translated, rounded), by file stem."""
    import numpy as np
    import pandas as pd

    std = cfg.resolved_standards()
    comp, ch = run.comparison, run.change

    def cat_label(s: pd.Series) -> pd.Series:
        return s.map(lambda c: std.label(c) if c in std.categories else c)

    def yes(s: pd.Series) -> pd.Series:
        return s.map({True: "是 yes", False: "否 no"})

    u = comp.units.copy()
    u["level"] = u["level"].map(lambda v: _LEVELS.get(v, v))
    u["category"] = cat_label(u["category"])
    for c in ("children", "covered_before", "covered_after", "newly_covered", "no_longer_covered"):
        u[c] = u[c].round().astype("Int64")
    for c in ("pct_before", "pct_after"):
        u[c] = u[c].round(1)
    u["below_before"], u["below_after"] = yes(u["below_before"]), yes(u["below_after"])
    s = comp.summary.copy()
    s["category"] = cat_label(s["category"])
    s["units_level"] = s["units_level"].map(lambda v: _LEVELS.get(v, v))
    for c in s.columns:
        if c not in ("category", "units_level"):
            s[c] = pd.to_numeric(s[c]).round().astype("Int64")
    p = comp.pilots.drop(columns=["status_before", "status_after"])
    r = comp.routes.copy()
    r["category"] = cat_label(r["category"])
    for c in ("verdict_before", "verdict_after"):
        r[c] = r[c].astype(str).map(lambda v: _VERDICTS.get(v, v))
    for c in ("length_before_m", "length_after_m", "children"):
        r[c] = pd.to_numeric(r[c]).round().astype("Int64")
    site_rows = []
    for what, g in (("新增 added", ch.added), ("撤除 removed", ch.removed)):
        if len(g):
            site_rows.append(
                pd.DataFrame(
                    {
                        "change": what,
                        "facility_id": g["facility_id"].astype(str).to_numpy(),
                        "name": g["name"].to_numpy(),
                        "category": cat_label(g["category"]).to_numpy(),
                        "lon": g.geometry.x.round(6).to_numpy(),
                        "lat": g.geometry.y.round(6).to_numpy(),
                    }
                )
            )
    sites = pd.concat(site_rows, ignore_index=True) if site_rows else pd.DataFrame(columns=["change"])
    if run.suggested is not None and len(sites):
        est = dict(zip(run.suggested.geometry.x.round(6), run.suggested["children_new"]))
        sites["children_new_suggested"] = [
            est.get(x, np.nan) if c.startswith("新增") else np.nan
            for x, c in zip(sites["lon"], sites["change"])
        ]
    out = {"summary": s, "units": u, "pilots_changed": p, "routes_changed": r, "sites": sites}
    return {k: v.rename(columns=_HEADERS) for k, v in out.items()}


SHEETS = {
    "summary": "汇总 Summary",
    "units": "单元前后对比 Units before-after",
    "pilots_changed": "试点状态变化 Pilots",
    "routes_changed": "通学评价变化 Routes",
    "sites": "变更设施 Sites",
}


def _map(run: ScenarioRun, cfg: RunConfig, cat: str) -> folium.Map:
    """Coverage of ``cat`` after the change, with the change marked (drawn through outputs.maps.coverage_map)."""
    import inspect

    import folium
    from branca.element import Figure

    from childspace.analysis import coverage as cov
    from childspace.outputs import maps

    std = cfg.resolved_standards()
    res, ch = run.base, run.change
    inp, net = res.inputs, res.network
    acc0, acc1 = run.before.access, run.after.access
    assert net is not None and acc0 is not None and acc1 is not None  # run_scenario computed them
    bounds = inp.communities if inp.communities is not None else inp.townships
    fac = ch.facilities[ch.facilities["category"] == cat].copy()
    new = fac["scenario"] == "added"
    fac.loc[new, "name"] = "【新增 New】" + fac.loc[new, "name"].astype(str)
    sa = cov.service_areas(fac, net, radii=std, method="walk", categories=[cat]) if len(fac) else None
    zh, en = std[cat].zh, std[cat].en
    row = run.comparison.summary.set_index("category").loc[cat]
    title = (
        f"{zh}情景：变更后服务覆盖（新增覆盖 {row['newly_covered']:,.0f} 名儿童） {en} scenario: coverage after the "
        f"change ({row['newly_covered']:,.0f} children newly covered)"
    )
    # opens on the communities shaded by coverage after the change against the target (the run's map style);
    # the homes newly covered, the service area before and the changed sites are drawn over it
    uc = run.after.coverage
    level = "community" if inp.communities is not None else "township"
    uc = uc[(uc["category"] == cat) & (uc["level"].astype(str) == level)]
    kw: dict[str, Any] = {"title": title, "synthetic": cfg.synthetic}
    params = inspect.signature(maps.coverage_map).parameters
    if "unit_coverage" in params:
        kw.update(unit_coverage=uc, target_pct=cfg.target_pct)
    if "base" in params and hasattr(maps, "Basemap"):
        kw.update(
            base=maps.Basemap(streets=net.edges, tianditu_key=getattr(cfg, "tianditu_key", None)),
            basemaps=tuple(getattr(cfg, "basemaps", ()) or ()),
        )
    m = maps.coverage_map(bounds, fac, sa, acc1, None, cat, **kw)
    before = res.layers.get("service_areas_dissolved")
    if before is not None:
        b = before[(before["category"] == cat) & (before["method"] == "walk")].to_crs("EPSG:4326")
        if len(b):
            folium.GeoJson(
                b[["geometry"]].to_json(),
                name="变更前步行服务区 Walking service area before",
                style_function=lambda _: {"color": "#333333", "weight": 2, "dashArray": "6 5", "fill": False},
                tooltip=f"变更前步行服务区 Walking service area before ({zh} {en})",
            ).add_to(m)
    col = f"covered_walk_{cat}"
    gained = acc1[acc1[col].to_numpy(dtype=bool) & ~acc0[col].to_numpy(dtype=bool)].to_crs("EPSG:4326")
    lost = acc1[acc0[col].to_numpy(dtype=bool) & ~acc1[col].to_numpy(dtype=bool)].to_crs("EPSG:4326")
    for g, colour, zh_, en_ in (
        (gained, "#1a9850", "新增覆盖住户", "Homes newly covered"),
        (lost, "#7b3294", "不再覆盖住户", "Homes no longer covered"),
    ):
        if not len(g):
            continue
        fg = folium.FeatureGroup(name=f"{zh_}（{int(g['children'].sum())} 名儿童） {en_}", show=True)
        for x, y, k, oid in zip(g.geometry.x, g.geometry.y, g["children"], g["origin_id"]):
            folium.CircleMarker(
                (y, x),
                radius=float(min(3 + 1.5 * k**0.5, 12)),
                color="#ffffff",
                weight=1,
                fill=True,
                fill_color=colour,
                fill_opacity=0.9,
                tooltip=f"{zh_} {en_}: {oid}, {int(k)} 名儿童 children",
            ).add_to(fg)
        fg.add_to(m)
    for g, sym, colour, zh_, en_ in (
        (ch.added[ch.added["category"] == cat], "★", "#d7191c", "新增设施", "Added"),
        (ch.removed[ch.removed["category"] == cat], "✕", "#404040", "撤除设施", "Removed"),
    ):
        if not len(g):
            continue
        fg = folium.FeatureGroup(name=f"{zh_} {en_} ({len(g)})", show=True)
        for x, y, fid, name in zip(g.geometry.x, g.geometry.y, g["facility_id"], g["name"]):
            html = (
                f'<div style="font-size:26px;line-height:26px;color:{colour};text-shadow:0 0 3px #fff,0 0 3px '
                f'#fff;transform:translate(-8px,-14px)">{sym}</div>'
            )
            folium.Marker(
                (y, x), icon=folium.DivIcon(html=html), tooltip=f"{zh_} {en_}: {fid} {name}"
            ).add_to(fg)
        fg.add_to(m)
    legend = (
        '<div style="position:fixed;bottom:40px;left:10px;z-index:9999;background:#fff;padding:6px 9px;'
        'border:1px solid #999;border-radius:4px;font-size:12px;line-height:18px">'
        '<b>情景 Scenario</b><br><span style="color:#d7191c;font-size:16px">★</span> 新增设施 Added site<br>'
        '<span style="color:#404040;font-size:16px">✕</span> 撤除设施 Removed site<br>'
        '<span style="color:#1a9850;font-size:16px">●</span> 新增覆盖住户 Homes newly covered<br>'
        '<span style="color:#7b3294;font-size:16px">●</span> 不再覆盖住户 Homes no longer covered<br>'
        '<span style="display:inline-block;width:18px;border-top:2px dashed #333;vertical-align:middle"></span>'
        " 变更前步行服务区 Walking service area before</div>"
    )
    cast(Figure, m.get_root()).html.add_child(folium.Element(legend))
    return m


def write_scenario(
    run: ScenarioRun,
    cfg: RunConfig,
    name: str,
    maps: bool = True,
    progress: Progress = quiet,
    wait: bool = False,
) -> dict[str, Path]:
    """Write the scenario under ``<cfg.outputs>/scenario/<name>/`` (staged, swapped in whole)."""
    import warnings

    from childspace._errors import ChildspaceWarning
    from childspace.outputs import maps as mp
    from childspace.outputs import report

    out = Path(os.path.abspath(cfg.outputs))
    folder = out / FOLDER / name
    progress(f"写出 Writing {folder}")
    info = {
        "kind": "scenario",
        "name": name,
        "run": cfg.name,
        "config": str(cfg.source) if cfg.source else None,
        "config_sha256": cfg.source_sha256,
        "maps": maps,
        "added": [
            {
                "facility_id": str(r.facility_id),
                "category": r.category,
                "name": str(r.name),
                "lon": round(float(r.geometry.x), 7),
                "lat": round(float(r.geometry.y), 7),
            }
            for r in run.change.added.itertuples()
        ],
        "removed": [str(x) for x in run.change.removed["facility_id"]],
    }
    written: dict[str, Path] = {}
    (out / FOLDER).mkdir(parents=True, exist_ok=True)
    with (
        outdir.locked(out, wait=wait, progress=progress),
        outdir.staged(folder, info=info, wait=wait, progress=progress) as stage,
    ):
        (stage / "summary.txt").write_text("\n".join(run.lines) + "\n", encoding="utf-8")
        written["summary"] = stage / "summary.txt"
        tabs = tables(run, cfg)
        (stage / "tables").mkdir()
        for k, p in report.write_csv_tables(stage / "tables", tabs).items():
            written[f"csv:{k}"] = p
        written["excel"] = report.write_excel(
            stage / "scenario.xlsx", {SHEETS[k]: v for k, v in tabs.items()}
        )
        if maps:
            (stage / "maps").mkdir()
            for cat in run.change.categories:
                try:
                    written[f"map:{cat}"] = mp.save_map(
                        _map(run, cfg, cat), stage / "maps" / f"scenario_{cat}.html"
                    )
                except Exception as exc:  # noqa: BLE001 - one failing map is a warning; the tables are written
                    warnings.warn(
                        f"maps/scenario_{cat}.html was not written: {type(exc).__name__}: {exc}",
                        ChildspaceWarning,
                        stacklevel=2,
                    )
    return {k: folder / p.relative_to(stage) for k, p in written.items()}


# ---------------------------------------------------------------------------------------------------------------
# the command (wired into childspace.run.cli)
# ---------------------------------------------------------------------------------------------------------------
EXAMPLES = """examples:
  childspace scenario --config my_city.toml --add "幼儿园,120.98,28.12"
  childspace scenario --config my_city.toml --add "幼儿园,120.985,28.118,新建示例幼儿园" --coords gcj02
  childspace scenario --config my_city.toml --remove KG03 --name without_KG03
  childspace scenario --config my_city.toml --suggest kindergarten:2
Writes before/after figures under OUTPUTS/scenario/NAME/: summary.txt, tables/*.csv and scenario.xlsx (children
covered per unit and category before and after, units reaching or falling below the target, pilot units that
change status, homes whose route-to-school verdict changes, the sites) and maps/scenario_CATEGORY.html."""


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], wait_help: str
) -> argparse.ArgumentParser:
    """Add the ``scenario`` subcommand to the CLI's subparsers."""
    import argparse

    help_ = "Before/after figures for facilities added or removed (新增/撤除设施情景对比)."
    sc = sub.add_parser(
        "scenario",
        help=help_,
        description=help_,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sc.add_argument("--config", type=Path, required=True, help="run configuration (TOML)")
    sc.add_argument(
        "--add",
        action="append",
        default=[],
        metavar="CATEGORY,LON,LAT[,NAME]",
        help='a new facility, e.g. "幼儿园,120.98,28.12" (category in Chinese or English; repeatable)',
    )
    sc.add_argument(
        "--coords",
        default="wgs84",
        choices=["wgs84", "gcj02", "bd09"],
        help="datum of the --add coordinates: wgs84 (default; GPS, 天地图, CGCS2000), gcj02 (picked on "
        "Amap 高德), bd09 (Baidu 百度)",
    )
    sc.add_argument(
        "--remove",
        action="append",
        default=[],
        metavar="FACILITY_ID",
        help="facility_id of a facility to remove (repeatable)",
    )
    sc.add_argument(
        "--suggest",
        action="append",
        default=[],
        metavar="CATEGORY[:N]",
        help="add the N sites (default 1) that maximal-coverage siting proposes for the category",
    )
    sc.add_argument("--name", help="folder under OUTPUTS/scenario/ (default: made from the change)")
    sc.add_argument("--outputs", type=Path, help="output folder of the run (default: the config's)")
    sc.add_argument("--no-maps", action="store_true", help="skip the map")
    sc.add_argument("--wait", action="store_true", help=wait_help)
    return sc


def command(args: argparse.Namespace, pipeline: ModuleType, progress: Progress) -> dict[str, Path]:
    """``childspace scenario``: check the arguments first, compute, print the summary, write."""
    cfg = pipeline.load_config(args.config, outputs=args.outputs)
    std = cfg.resolved_standards()
    adds = [parse_add(a, std) for a in args.add]
    sugg = [parse_suggest(s, std) for s in args.suggest]
    name = folder_name(args.name, adds, args.remove, sugg)
    pipeline.preflight(cfg)
    run = run_scenario(cfg, add=adds, remove=args.remove, suggest=sugg, coords=args.coords, progress=progress)
    print("\n情景对比 Scenario:", flush=True)
    for line in run.lines:
        print(f"  {line}", flush=True)
    return write_scenario(run, cfg, name, maps=not args.no_maps, progress=progress, wait=args.wait)
