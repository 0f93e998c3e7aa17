"""The plan's indicators in a run: read the [plan] and [venues] sections of the run config and measure.

Config (all optional)::

    [plan]
    path = "my_plan.toml"          # default: Yueqing's plan (childspace/config/plan_yueqing.toml)

    [venues]                       # a register of public venues with 建筑面积 / 日均客流
    path = "facilities/venues.csv"
    coords = "wgs84"               # as for [[facilities]]
    osm = false                    # also the venues mapped in OSM (default: only without a register)
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from childspace._errors import DataError


def _section(cfg: Any, name: str) -> dict[str, Any]:
    if hasattr(cfg, name):  # a RunConfig: the section as parsed and checked by childspace.run.config
        return dict(getattr(cfg, name) or {})
    src = getattr(cfg, "source", None)
    if src is None or not Path(src).exists():
        return {}
    return dict(tomllib.loads(Path(src).read_text(encoding="utf-8")).get(name, {}))


def _path(cfg: Any, entry: dict[str, Any], where: str) -> Path:
    p = Path(entry["path"])
    p = p if p.is_absolute() else Path(cfg.source).resolve().parent / p
    if not p.exists():
        raise DataError(
            f"[{where}] file not found: {p}",
            path=cfg.source,
            fix="check the path (relative paths are relative to the config file)",
        )
    return p


def add_indicators(cfg: Any, res: Any, progress: Any = lambda _: None) -> None:
    """Measure the plan's targets on a run's results: ``res.tables["indicators"]``, ``res.layers["venues"]``
    (every venue checked) and ``res.layers["venues_missing_room"]`` / ``res.tables["venues_missing_room"]`` (with
    ``rule_thresholds``: the thresholds of the rules that apply, in words)."""
    import pandas as pd

    from childspace.analysis import venues as vn
    from childspace.analysis.indicators import plan_indicators
    from childspace.inputs.plan import load_plan
    from childspace.inputs.projection import in_china
    from childspace.inputs.venues import load_venues
    from childspace.osm.venues import venues_from_osm
    from childspace.outputs.plan_tables import rule_lines

    inp = res.inputs
    plan_cfg = _section(cfg, "plan")
    area = inp.study_area if inp.study_area is not None else getattr(res.network, "nodes", None)
    if "path" not in plan_cfg and area is not None:
        w, s, e, n = area.to_crs("EPSG:4326").total_bounds if hasattr(area, "to_crs") else area.bounds
        if not in_china((w + e) / 2, (s + n) / 2):  # the default plan is a Chinese city's: not applied abroad
            progress(
                "行动计划指标：数据不在中国，未指定 [plan]，跳过 Plan indicators skipped: outside China and no [plan]"
            )
            return
    plan = load_plan(_path(cfg, plan_cfg, "plan") if "path" in plan_cfg else None)
    progress(f"行动计划指标 Plan indicators: {plan.zh}")
    ven_cfg = _section(cfg, "venues")
    register = None
    if "path" in ven_cfg:
        register = load_venues(
            _path(cfg, ven_cfg, "venues"),
            coords=ven_cfg.get("coords", "wgs84"),
            columns=ven_cfg.get("columns"),
            sheet=ven_cfg.get("sheet"),
            layer=ven_cfg.get("layer"),
            crs=ven_cfg.get("crs"),
            study_area=inp.study_area,
        )
    osm = None
    if ven_cfg.get("osm", register is None) and getattr(cfg, "osm", None) is not None:
        osm = venues_from_osm(cfg.osm, area=inp.study_area)
    venues = vn.combine_venues(register, osm, plan.room_distance_m)
    check = None
    fac = inp.facilities
    if venues is not None and len(venues):
        rooms = fac.loc[fac["category"] == "mother_baby_room"] if fac is not None else None
        check = vn.mother_baby_room_check(venues, rooms, plan.venue_rules, plan.room_distance_m)
        res.layers["venues"] = check
        missing = vn.missing_rooms(check)
        res.layers["venues_missing_room"] = missing
        sheet = pd.DataFrame(missing.drop(columns=["geometry", "footprint"], errors="ignore"))
        # the thresholds that make each venue need a room, in words (the sheet is read without the map legend)
        words = dict(zip(plan.venue_rules, rule_lines(plan.venue_rules)))
        sheet["rule_thresholds"] = [
            "; ".join(words[r] for r in str(ids).split("; ") if r in words) for ids in sheet["rules"]
        ]
        res.tables["venues_missing_room"] = sheet
    pilots = res.layers.get("pilots", inp.pilots)
    res.tables["indicators"] = plan_indicators(
        inp.townships, fac, plan=plan, communities=inp.communities, pilots=pilots, venues=check
    )
