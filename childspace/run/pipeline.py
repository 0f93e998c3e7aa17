"""The whole chain (load → network → coverage → routes → maps → report) on one run configuration.

This module and :mod:`childspace.run.writing` are the only ones that write files (under the run's output
folder, each through a temporary file and a rename). The CLI and the notebooks call it; the analyses stay pure
library functions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from childspace._atomic import atomic_path
from childspace._errors import DataError
from childspace._gcpause import gc_paused
from childspace.run import outdir
from childspace.run.config import (  # noqa: F401  (re-exported: the run config used to live here)
    DEFAULT_CATEGORIES,
    SAMPLE_DATA,
    InputSpec,
    RunConfig,
    load_config,
    sample_config,
)
from childspace.run.results import (  # noqa: F401  (re-exported)
    Inputs,
    Progress,
    Results,
    RouteResults,
    _quiet,
    pack_frame,
    unpack_frame,
)
from childspace.run.writing import (  # noqa: F401  (re-exported: the writing used to live here)
    _for_file,
    write_geopackage,
    write_outputs,
)


# ---------------------------------------------------------------------------------------------------------------
# the chain
# ---------------------------------------------------------------------------------------------------------------
def load_inputs(
    cfg: RunConfig,
    progress: Progress = _quiet,
    beside: Callable[[Callable[[], Any], str], Callable[[], Any] | None] | None = None,
) -> Inputs:
    """Load and validate every input file of ``cfg`` (no network, no analysis).

    ``beside`` (as in :func:`run_analyses`): the origins file (often the largest: a county's 300k homes) is read
    on another process while this one goes on with the other files and the OSM extract; :func:`origins_ready`
    waits for it (its errors and warnings are raised here, as when read here).
    """
    import geopandas as gpd
    import pandas as pd

    from childspace.inputs import loaders as io

    inp = Inputs()
    std = cfg.resolved_standards()
    if "township" in cfg.boundaries:
        e = cfg.boundaries["township"]
        progress(f"乡镇街道边界 Townships: {e.path.name}")
        with _input_context(e):
            inp.townships = io.load_boundaries(e.path, level="township", **e.loader_options())
    if "community" in cfg.boundaries:
        e = cfg.boundaries["community"]
        progress(f"村社区边界 Communities: {e.path.name}")
        with _input_context(e):
            inp.communities = io.load_boundaries(e.path, level="community", **e.loader_options())
    from childspace.run import osm_inputs

    osm_inputs.units_from_osm(cfg, inp, progress)  # no boundary files: units from the extract
    units = [b for b in (inp.townships, inp.communities) if b is not None]
    if units:
        import shapely

        inp.study_area = shapely.union_all(pd.concat([u.geometry for u in units]).to_numpy())
    parts = []
    for e in cfg.facilities:
        progress(f"设施 Facilities: {e.path.name} (coords={e.coords})")
        with _input_context(e):
            f = io.load_facilities(
                e.path,
                **e.loader_options(),
                category=e.category,
                study_area=inp.study_area,
                standards=std,
                strict=e.strict,
            )
        parts.append(f)
    if parts:  # one layer; ids found in several files are prefixed with the file's name, with a warning
        inp.facilities = io.combine_facilities(parts, [e.path for e in cfg.facilities])
    if cfg.pilots:
        e = cfg.pilots
        progress(f"试点单元 Pilot units: {e.path.name}")
        with _input_context(e):
            # pilots far outside the boundary files' area are named and left out (a typo in 经度); units taken
            # from OSM often cover only part of the area, so without boundary files the loader decides
            area = inp.study_area if cfg.boundaries else None
            inp.pilots = io.load_pilots(
                e.path, boundaries=inp.communities, study_area=area, **e.loader_options()
            )
    if cfg.origins:
        e = cfg.origins
        progress(f"儿童居住点 Origins: {e.path.name}")
        load = functools.partial(_load_origins, e, inp.study_area)
        inp.origins_pending = (
            beside(lambda: pack_frame(load()), "analyses: origins (read beside the OSM extract)")
            if beside
            else None
        )
        if inp.origins_pending is None:
            inp.origins = load()
    else:
        counted = [u for u in (inp.communities, inp.townships) if u is not None and "children" in u]
        if counted:
            c = counted[0]
            progress(
                f"无居住点文件：以{'社区' if c is inp.communities else '乡镇'}中心点和儿童数代替 No origins file: "
                f"{'community' if c is inp.communities else 'township'} centroids weighted by children"
            )
            inp.origins = gpd.GeoDataFrame(
                {
                    "origin_id": c["unit_id"].astype(str),
                    "children": c["children"].fillna(0).astype(int),
                    "unit_id": c["unit_id"],
                },
                geometry=c.geometry.representative_point(),
                crs=c.crs,
            )
    if inp.origins_pending is None:  # no homes and no child counts: estimated from the extract
        osm_inputs.homes_from_osm(cfg, inp, progress)
    for name in ("townships", "communities", "facilities", "pilots", "origins"):
        g = getattr(inp, name)
        if g is not None:
            inp.reports[name] = io.validate_report(g)
    return inp


def _load_origins(e: InputSpec, study_area: Any) -> Any:
    from childspace.inputs import loaders as io

    with _input_context(e):
        return io.load_origins(e.path, **e.loader_options(), study_area=study_area, strict=e.strict)


def origins_ready(inp: Inputs) -> Inputs:
    """``inp`` with its origins, once read on the other process (:func:`load_inputs` with ``beside``)."""
    if inp.origins_pending is not None:
        from childspace.inputs import loaders as io

        wait, inp.origins_pending = inp.origins_pending, None
        inp.origins = unpack_frame(wait())
        inp.reports["origins"] = io.validate_report(inp.origins)
    return inp


@contextmanager
def _input_context(e: InputSpec) -> Iterator[None]:
    """A loader's error says which section of the config gave the file (its fix names the option to set)."""
    try:
        yield
    except DataError as exc:
        if e.section and e.section not in exc.message:
            raise DataError(
                f"{exc.message} (input {e.section} of the config)",
                path=exc.path,
                feature=exc.feature,
                fix=exc.fix,
            ) from None
        raise


def _origins_source(cfg: RunConfig, inp: Inputs) -> str:
    """Where the run's origins came from, for messages."""
    if cfg.origins is not None:
        return f"[origins] {cfg.origins.path.name}"
    if inp.origins is not None and inp.origins.attrs.get("method"):
        return f"homes estimated from {cfg.osm.name} ([from_osm])"
    src = "[boundaries.community]" if "community" in cfg.boundaries else "[boundaries.township]"
    return f"unit centroids of {src} (no [origins] file)"


@contextmanager
def _origins_context(cfg: RunConfig, inp: Inputs) -> Iterator[None]:
    """A "far from every street" error about the origins names the input they came from."""
    import re

    from childspace._errors import NetworkError
    from childspace.analysis._coverage_base import SNAP_SETTING

    try:
        yield
    except NetworkError as exc:
        msg = exc.message
        if msg.startswith("origins (homes)"):  # from the coverage functions
            msg = msg.replace("origins (homes)", f"origins ({_origins_source(cfg, inp)})", 1)
            raise NetworkError(msg, path=cfg.source, fix=exc.fix) from None
        m = re.match(r"none of the (\d+) points", msg)
        if m is None:
            raise
        n_origins = len(inp.origins) if inp.origins is not None else -1
        what = (
            f"origins ({_origins_source(cfg, inp)})"
            if int(m.group(1)) == n_origins
            else "schools (primary and middle, from [[facilities]] and OSM)"
        )
        raise NetworkError(
            f"{what}: {msg}",
            path=cfg.source,
            fix='check their coordinates (coords = "gcj02"/"bd09" for Amap/Baidu picks, crs= for '
            "projected files) and that the OSM extract covers their area; if they are right, "
            f"raise the tolerance: {SNAP_SETTING}, e.g. max_snap_m = {2 * cfg.max_snap_m:g}",
        ) from None


def require_origins(cfg: RunConfig, inputs: Inputs) -> None:
    """Coverage and routes need where children live: an ``[origins]`` file or child counts in the boundaries.

    Raises
    ------
    DataError
        Naming the config and the two ways to give them.
    """
    if inputs.origins is not None or inputs.origins_pending is not None:
        return
    have = [
        s if lvl in cfg.boundaries else f"{lvl} units from OSM"
        for s, lvl, g in (
            ("[boundaries.community]", "community", inputs.communities),
            ("[boundaries.township]", "township", inputs.townships),
        )
        if g is not None
    ]
    osm = inputs.osm_homes_note or "no homes estimated from the OSM extract"
    fix = (
        'add [origins] path = "homes.gpkg" (points with a children column), or a children/儿童数 column to the '
        "community boundaries"
    )
    if "homes = false" in osm:
        fix += ", or remove homes = false from [from_osm] (homes estimated from the extract's residential buildings)"
    raise DataError(
        "no children to count: there is no [origins] file and "
        + (
            f"the boundaries ({', '.join(have)}) have no children (儿童数) column"
            if have
            else "no boundaries with child counts"
        )
        + f"; {osm}",
        path=cfg.source,
        fix=fix,
    )


def build_network(cfg: RunConfig, inputs: Inputs, progress: Progress = _quiet) -> Any:
    """The walk network of the study area (boundaries' union, buffered by ``cfg.buffer_m``)."""
    from childspace.network import WalkNetwork
    from childspace.osm.reader import read_osm

    progress(f"步行路网 Walk network: {cfg.osm.name} (buffer {cfg.buffer_m:g} m)")
    nodes, edges, roads = read_osm(cfg.osm, area=inputs.study_area, buffer_m=cfg.buffer_m, beside_roads=True)
    net = WalkNetwork.from_frames(nodes, edges, beside_roads=roads)
    progress(f"  {net.n_nodes:,} nodes, {net.n_edges:,} edges, CRS {net.crs.to_string()}")
    return net


def _radii(cfg: RunConfig) -> Any:
    """The standards of the run: defaults, the config's [standards] table, then a CLI --radius override."""
    return cfg.resolved_standards()


def _routes_apart(cfg: RunConfig, inp: Inputs, net: Any, fac: Any) -> RouteResults:
    """:func:`route_analyses` on another process: its progress lines kept for the run to say, and the routes'
    edge sequences (the shortest-path forests, hundreds of MB, that only the children per street of the maps
    still read) replaced by those counts, so that what goes back to the run is the frames."""
    lines: list[str] = []
    part = route_analyses(cfg, inp, net, fac, lines.append)
    part.messages = lines
    r = part.layers.get("routes")
    if r is not None:
        from childspace.analysis.streets import detach_route_sequences

        part.layers["routes"] = detach_route_sequences(r)
    return part


def route_analyses(
    cfg: RunConfig, inp: Inputs, net: Any, fac: Any, progress: Progress = _quiet
) -> RouteResults:
    """The analyses of the routes to school and the school zones of a run (they read no coverage result).

    Returns the street stress, the layers (routes, hazards, walksheds, schools, school zones) and the tables
    (schools, routes) in the order the run adds them. :func:`run_analyses` runs them beside the coverage, on
    another process, when it is given one (``beside``).
    """
    out = RouteResults()
    if fac is None or inp.origins is None:
        return out
    from childspace.analysis import routes as rt
    from childspace.analysis import safety

    schools = fac[fac["category"].isin(["primary_school", "middle_school"])]
    stress = None
    if len(schools):
        progress("通学路径 Routes to school: stress of every street and crossing")
        stress = out.stress = safety.network_stress(net, profile=cfg.safety_profile)
        progress(
            f"  安全配置 Safety profile: {stress.profile} (默认值用于未标注的道路 defaults for untagged roads)"
        )
        progress(f"  routes from {len(inp.origins):,} homes to {len(schools)} schools (shortest and safest)")
        lvl = cfg.safe_max_level  # None: by the child's age (config/safety.toml [verdict.safe_max_level])
        with _origins_context(cfg, inp):
            r = rt.school_routes(
                net,
                inp.origins,
                schools,
                stress=stress,
                safe_max_level=lvl,
                max_snap=cfg.max_snap_m,
                geometry=cfg.route_geometry,
            )
        stress.parts = None  # (what the variants shared with it: ~70 MB on a county, not needed any more)
        out.layers["routes"] = r
        out.tables["schools"] = rt.school_summary(r, schools)
        out.tables["routes"] = rt.routes_table(r)  # one row per home and school category, no geometry
        out.layers["hazards"] = rt.hazards(
            r, net, stress, rank_by=cfg.hazards_rank_by, schools=schools, safe_max_level=lvl
        )
        progress("  school walksheds: plain and safe-only")
        out.layers["walksheds"] = rt.walksheds(
            net, schools, stress, safe_max_level=lvl, max_snap=cfg.max_snap_m
        )
        out.layers["schools"] = schools
    zone_schools = fac[fac["category"].isin(["kindergarten", "primary_school", "middle_school"])]
    if len(zone_schools):
        progress("校园周边 School zones (GA/T 1215-2014: 30 km/h within 150 m, crossing within 50 m)")
        zones, zone_roads = safety.school_zones(net, zone_schools, stress=stress, return_segments=True)
        out.layers["school_zones"] = zones
        out.layers["school_zone_roads"] = zone_roads
        from childspace.inputs.projection import in_china

        pts = zone_schools.to_crs("EPSG:4326").geometry
        if not in_china(float(pts.x.mean()), float(pts.y.mean())):  # a Chinese standard: say so abroad
            zones.attrs["note"] = (
                "校园周边按中国标准 GA/T 1215-2014 评估，此地不在中国，仅供参考 — school zones judged by the "
                "Chinese standard GA/T 1215-2014 (30 km/h within 150 m of a gate, a marked "
                "crossing within 50 m); this area is outside China: for reference only, "
                "check the local rules"
            )
            progress(f"  {zones.attrs['note']}")
    return out


def run_analyses(
    cfg: RunConfig,
    coverage: bool = True,
    routes: bool = True,
    progress: Progress = _quiet,
    ready: Callable[[Results], None] | None = None,
    beside: Callable[[Callable[[], RouteResults], str], Callable[[], RouteResults] | None] | None = None,
    loaded: Callable[[Inputs], None] | None = None,
) -> Results:
    """Load, build the network and run the analyses of ``cfg``; returns the frames (writes nothing).

    ``ready``: called once the coverage (service areas, unit tables, gaps, pilots) and the plan's indicators
    are computed, before the routes, with those results (a :class:`Results` whose frames are the final ones;
    the outputs that read only them can be written meanwhile, :class:`childspace.run.writing.OutputRun`).
    ``beside``: runs a function on another process while this one goes on, and returns a function that waits
    for its result (:meth:`childspace.run.writing.OutputRun.beside`): the routes (:func:`route_analyses`, which
    read no coverage result) are then computed there while the coverage is computed here. ``loaded``: called
    with the inputs once they are read (the study area known), before the network is built (e.g. to read the
    maps' base map from the extract on another process meanwhile, :meth:`~childspace.run.writing.OutputRun.loaded`).
    """
    import warnings

    import geopandas as gpd
    import pandas as pd

    from childspace._errors import ChildspaceWarning
    from childspace.analysis import checks
    from childspace.analysis import coverage as cov
    from childspace.analysis import pilots as pil
    from childspace.osm import features

    with gc_paused():  # inputs and the network: hundreds of thousands of geometries, no reference cycles
        inp = load_inputs(cfg, progress, beside=beside)
        if coverage or routes:
            require_origins(cfg, inp)
        if loaded is not None:
            loaded(inp)
        res = Results(inputs=inp)
        net = res.network = build_network(cfg, inp, progress)
        origins_ready(inp)

    fac = inp.facilities
    osm_fac = None
    if cfg.osm_facilities:
        progress("OSM 设施 Facilities mapped in OpenStreetMap")
        osm_fac = features.facilities_from_osm(cfg.osm, area=inp.study_area, school_names=cfg.school_names)
    if fac is not None and len(fac):
        # before merging: a file in GCJ-02/BD-09 read as WGS84 would not match its OSM twins
        chk = checks.datum_check(fac, net, reference=osm_fac)
        res.tables["datum_check"] = chk
        # a file already named when the files were read (the other files' twins) is not warned about twice
        said = {i["ids"] for i in fac.attrs.get("issues") or [] if i.get("check") == "datum"}
        for msg in chk.loc[(chk["suspect"] != "") & ~chk["group"].astype(str).isin(said), "message"]:
            warnings.warn(msg, ChildspaceWarning, stacklevel=2)
    if osm_fac is not None:
        if fac is None:
            fac = osm_fac
        elif len(osm_fac):
            fac, dups = features.merge_facilities(fac, osm_fac)
            res.tables["osm_duplicates"] = dups
            progress(
                f"  {len(osm_fac)} found in OSM, {len(dups)} duplicates of yours removed, "
                f"{int((fac['source'] == 'osm').sum())} added"
            )
    if osm_fac is not None:  # found, classified, merged, left out and why
        rep = res.tables["osm_facilities"] = features.osm_report(osm_fac, res.tables.get("osm_duplicates"))
        n = rep.attrs.get("objects") or {
            k: int(rep[k].sum()) for k in ("found", "level_unknown", "merged", "left_out")
        }
        progress(  # by OSM object: a school of unknown level is in two categories' rows, counted once here
            f"  OSM: {n['found']} found, {n['level_unknown']} schools of unknown level, {n['merged']} merged, "
            f"{n['left_out']} left out"
        )
    inp.facilities = fac
    res.layers["facilities"] = fac
    part: RouteResults | None = None
    pending: Callable[[], RouteResults] | None = None
    if routes and beside is not None and fac is not None and inp.origins is not None:
        if coverage:  # the homes snapped once, here: the coverage below and the routes there reuse it
            with _origins_context(cfg, inp):
                cov.remember_origins(inp.origins, net, cfg.max_snap_m)
        pending = beside(lambda: _routes_apart(cfg, inp, net, fac), "analyses: routes to school")
        if pending is not None:
            progress("通学路径 Routes to school: computed on another process beside the coverage")
    radii = _radii(cfg)
    categories = list(cfg.categories)

    if coverage and fac is not None and inp.origins is not None:
        progress("服务覆盖 Coverage: distances from every home to the nearest facility of each category")
        snap = cfg.max_snap_m  # [network] max_snap_m: how far from a street a home or facility may lie
        with _origins_context(cfg, inp):
            access = cov.origin_access(
                inp.origins, fac, net, categories=categories, radii=radii, max_snap=snap
            )
        res.layers["access"] = access
        if inp.origins.attrs.get("method"):  # estimated homes: the method goes with the layer
            access.attrs["method"] = inp.origins.attrs["method"]
        progress("服务范围 Service areas (walking and straight-line)")
        sa_walk, d_walk = cov.service_areas_dissolved(
            fac, net, radii=radii, method="walk", categories=categories, max_snap=snap
        )
        sa_line = cov.service_areas(fac, None, radii=radii, method="line", categories=categories)
        res.layers["service_areas"] = gpd.GeoDataFrame(
            pd.concat([sa_walk, sa_line], ignore_index=True), geometry="geometry", crs=sa_walk.crs
        )
        d_line = cov.dissolve_service_areas(sa_line, None, radii=radii, method="line", categories=categories)
        res.layers["service_areas_dissolved"] = gpd.GeoDataFrame(
            pd.concat([d_walk, d_line], ignore_index=True), geometry="geometry", crs=d_walk.crs
        )
        gap_parts = []
        for level, units in (("township", inp.townships), ("community", inp.communities)):
            if units is None:
                continue
            progress(f"单元覆盖 Coverage per {level}")
            if level == "community" or inp.communities is None:  # (first: unit_coverage reuses its overlay)
                gap_parts.append(cov.gaps(units, access, d_walk, categories))
            uc = cov.unit_coverage(units, access, categories, target_pct=cfg.target_pct, service_areas=d_walk)
            res.tables[f"{level}_coverage"] = uc
            res.tables[f"{level}_life_circles"] = cov.life_circles(uc, radii)
        if inp.townships is not None:  # count standards: e.g. a children's home in every township
            res.tables["township_minimums"] = cov.facilities_per_unit(inp.townships, fac, radii)
        if gap_parts:
            res.layers["gaps"] = gpd.GeoDataFrame(
                pd.concat(gap_parts, ignore_index=True), geometry="geometry", crs=gap_parts[0].crs
            )
        if inp.pilots is not None:
            progress("试点单元 Pilot units: catchments, checklist and status")
            res.layers["pilot_catchments"] = pil.pilot_catchments(
                inp.pilots, net, radius=cfg.pilot_radius_m, max_snap=snap
            )
            res.layers["pilots"] = pil.pilot_status(
                inp.pilots,
                fac,
                inp.origins,
                net,
                radii=radii,
                target_pct=cfg.target_pct,
                categories=categories,
                max_snap=snap,
                access=access,
            )
    from childspace.run.plan_step import add_indicators  # the action plan's targets, measured

    early = None
    if ready is not None:  # the plan's indicators read no route: measured now, with the coverage
        early = Results(inputs=inp, network=net, tables=dict(res.tables), layers=dict(res.layers))
        add_indicators(cfg, early, progress)
        ready(early)
    if routes and pending is not None:  # computed beside the coverage: their results, in the run's order
        progress("通学路径 Routes to school: waiting for the other process")
        part = pending()
        for line in part.messages:  # what the other process said, in its order
            progress(line)
    elif routes:
        part = route_analyses(cfg, inp, net, fac, progress)
    if part is not None:
        res.stress = part.stress
        res.layers.update(part.layers)
        res.tables.update(part.tables)
    if early is None:
        add_indicators(cfg, res, progress)
    else:  # the frames the indicators added, in the place they would have had (the GeoPackage's layer order)
        res.layers.update({k: v for k, v in early.layers.items() if k not in res.layers})
        res.tables.update({k: v for k, v in early.tables.items() if k not in res.tables})
    res.summary = summarise(res, cfg)
    return res


def summarise(res: Results, cfg: RunConfig) -> list[str]:
    """Bilingual bullet points on the gaps found."""
    std = cfg.resolved_standards()

    def category_label(cat: str) -> str:
        return std.label(cat)

    out: list[str] = []
    uc = res.tables.get("community_coverage")
    unit_zh, unit_en = "社区", "communities"
    if uc is None or not len(uc):  # units from a township file or from OSM only
        uc = res.tables.get("township_coverage")
        unit_zh, unit_en = "乡镇街道", "townships"
    if uc is not None and len(uc):
        for cat, part in uc.groupby("category", sort=False):
            below = part[part["below_target"]]
            tot = part["children"].sum()
            cov_ = part["children_covered_walk"].sum()
            if not tot > 0:  # no child in any unit: no share to give
                out.append(f"{category_label(cat)}：— 无儿童 no children counted in the {unit_en}")
                continue
            pct = 100.0 * cov_ / tot
            out.append(
                f"{category_label(cat)}：步行 {pct:.0f}% 的儿童在服务半径内，{len(below)} 个{unit_zh}低于 "
                f"{cfg.target_pct:g}% — {pct:.0f}% of children within walking reach; {len(below)} "
                f"{unit_en} below target"
            )
    mins = res.tables.get("township_minimums")
    if mins is not None and len(mins):
        out.extend(mins.loc[~mins["meets"], "finding"].tolist())
    ps = res.layers.get("pilots")
    if ps is not None and len(ps):
        for batch, part in ps.groupby("batch"):
            c = part["status"].value_counts()
            out.append(
                f"{batch} 年试点 {len(part)} 个：达标 {c.get('meets', 0)}，部分达标 {c.get('partly', 0)}，"
                f"缺口 {c.get('gap', 0)} — batch {batch}: {len(part)} units, {c.get('meets', 0)} meet, "
                f"{c.get('partly', 0)} partly, {c.get('gap', 0)} with gaps"
            )
    sch = res.tables.get("schools")
    if sch is not None and len(sch):
        for cat, part in sch.groupby("category", sort=False):
            safe, caution, unsafe, none_ = (
                round(float(part[c].sum()))
                for c in (  # estimates: fractions
                    "children_safe",
                    "children_caution",
                    "children_unsafe",
                    "children_unreachable",
                )
            )
            out.append(
                f"{category_label(cat).split(' ')[0]}通学路径：{safe} 名儿童有安全路径，{caution} 名需注意，{unsafe} 名不安全，"
                f"{none_} 名无可达路径 — routes to the nearest {cat.replace('_', ' ')}: {safe} children safe, "
                f"{caution} caution, {unsafe} unsafe, {none_} unreachable"
            )
    zs = res.layers.get("school_zones")
    if zs is not None and len(zs):
        out.append(
            f"校园周边（GA/T 1215-2014）：{int(zs['compliant'].sum())}/{len(zs)} 所学校/幼儿园达标，"
            f"{int((~zs['speed_ok']).sum())} 所周边道路限速高于30km/h，{int((~zs['crossing_ok']).sum())} 所校门"
            f"50米内无人行横道 — school zones: {int(zs['compliant'].sum())} of {len(zs)} comply; "
            f"{int((~zs['speed_ok']).sum())} with zone roads over 30 km/h, {int((~zs['crossing_ok']).sum())} "
            f"without a marked crossing within 50 m of the gate"
        )
        if zs.attrs.get("note"):
            out.append(zs.attrs["note"])
    r = res.layers.get("routes")
    if r is not None and len(r):  # the profile used and how much of the verdicts rests on assumed tags
        from childspace.analysis.route_tables import assumption_summary

        prof = r.attrs.get("safety_profile") or "?"
        smax = r.attrs.get("safe_max_level") or {}
        ks = [k for k in ("kindergarten", "primary_school", "middle_school") if k in smax]
        zh = "，".join(f"{category_label(k).split(' ')[0]} ≤{smax[k]} 级" for k in ks)
        en = ", ".join(f"{k.replace('_', ' ')} <= {smax[k]}" for k in ks)
        out.append(
            f"通学路径安全配置：{prof}（未标注的车速、车道、人行道取此配置的默认值）；可独自步行的最高压力等级：{zh} — "
            f"route safety profile: {prof} (defaults for untagged speeds, lanes and sidewalks); "
            f"safe to walk alone up to stress level: {en}"
        )
        for line in assumption_summary(r):  # "primary_school：…" → "小学：…" (Chinese first)
            cat, sep, rest = line.partition("：")
            out.append(
                f"{category_label(cat).split(' ')[0]}通学{sep}{rest}"
                if sep and cat in std.categories
                else line
            )
    hz = res.layers.get("hazards")
    if hz is not None and len(hz):
        top = hz.sort_values("rank").iloc[0]
        name = top["name"] if isinstance(top["name"], str) and top["name"] else "（无名道路 unnamed）"
        out.append(
            f"首要隐患 Top hazard: {name} — {top['reason']} ({round(float(top['children']))} 名儿童 children)"
        )
    return out


# ---------------------------------------------------------------------------------------------------------------
# the whole run (its files are written by childspace.run.writing)
# ---------------------------------------------------------------------------------------------------------------
def preflight(cfg: RunConfig) -> str:
    """Before any analysis: every input can be read, the output folder can be written, the disk has room.

    Returns a one-line description of the output folder.

    Raises
    ------
    ChildspaceError
        One line naming the file or folder and the fix.
    """
    size = outdir.check_inputs_readable((section, spec.path) for section, spec in cfg.inputs())
    return outdir.check_output_folder(
        Path(cfg.outputs), need_bytes=outdir.needed_bytes(size, Path(cfg.outputs))
    )


def run_all(
    cfg: RunConfig,
    maps: bool = True,
    coverage: bool = True,
    routes: bool = True,
    progress: Progress = _quiet,
    wait: bool = False,
    workers: int | None = None,
    task_stats: list[Any] | None = None,
) -> dict[str, Path]:
    """Run the whole chain on ``cfg`` and write its outputs; returns the files written.

    The output folder is locked for the whole run (a second run into it stops, or waits with ``wait``) and
    checked before the analyses start (:func:`preflight`). ``workers``: processes for the run (default the
    config's ``[run] workers``, else two; 1 computes, then writes the outputs one after another): with two, the
    maps of the coverage and the atlas are written on another process while this one computes the routes
    (:class:`childspace.run.writing.OutputRun`), the other files on two once the analyses end; ``task_stats``
    receives each output task's measurements (:func:`childspace.run.writing.write_outputs`).
    """
    from childspace.run.writing import OutputRun

    preflight(cfg)
    with outdir.locked(Path(cfg.outputs), wait=wait, progress=progress):
        # the maps of the coverage are written on another process while this one computes the routes
        with OutputRun(cfg, maps=maps, progress=progress, workers=workers, task_stats=task_stats) as w:
            res = run_analyses(
                cfg,
                coverage=coverage,
                routes=routes,
                progress=w.progress,
                ready=w.ready,
                beside=w.beside,
                loaded=w.loaded,
            )
            for line in res.summary:
                progress(line)
            return w.finish(res)


def build_network_file(
    osm: Path,
    out: Path,
    area: Path | None = None,
    buffer_m: float = 500.0,
    progress: Progress = _quiet,
    level: str | None = None,
) -> Path:
    """Parse an OSM extract (clipped to the extent of a boundary file) and save the walk network (GeoPackage)."""
    from childspace.inputs import loaders as io
    from childspace.network import WalkNetwork
    from childspace.osm.reader import read_osm

    poly = None
    if area is not None:
        import shapely

        b = io.load_boundaries(area, level=level)  # level: names without 街道/镇/乡/社区/村 (other countries)
        poly = shapely.union_all(b.geometry.to_numpy())
    progress(f"读取 Reading {osm}")
    nodes, edges, roads = read_osm(osm, area=poly, buffer_m=buffer_m, beside_roads=True)
    net = WalkNetwork.from_frames(nodes, edges, beside_roads=roads)
    progress(f"  {net.n_nodes:,} nodes, {net.n_edges:,} edges")
    with atomic_path(out, make_dirs=True) as tmp:
        net.save(tmp)
    return Path(out)
