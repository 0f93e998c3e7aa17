"""The whole chain (load → network → coverage → routes → maps → report) on one run configuration.

This is the only module that writes files (under the run's output folder, each through a temporary file and a
rename). The CLI and the notebooks call it; the analyses stay pure library functions.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from childspace._atomic import atomic_path
from childspace._errors import DataError

SAMPLE_DATA = Path(__file__).resolve().parents[1] / "data"

DEFAULT_CATEGORIES = ["kindergarten", "primary_school", "middle_school", "playground", "park",
                      "mother_baby_room", "children_home"]


@dataclass
class RunConfig:
    """Inputs and settings of one run (from a TOML file; see ``data/sample.toml``)."""

    name: str
    outputs: Path
    osm: Path
    boundaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    facilities: list[dict[str, Any]] = field(default_factory=list)
    pilots: dict[str, Any] | None = None
    origins: dict[str, Any] | None = None
    synthetic: bool = False
    buffer_m: float = 500.0
    osm_facilities: bool = True
    target_pct: float = 80.0
    categories: list[str] = field(default_factory=lambda: list(DEFAULT_CATEGORIES))
    pilot_radius_m: float = 500.0
    safe_max_level: int = 2
    hazards_rank_by: str = "children"
    standards: dict[str, Any] | None = None
    radius_override: float | None = None
    source: Path | None = None


def _resolve(base: Path, entry: dict[str, Any], where: str, cfg_path: Path) -> dict[str, Any]:
    if "path" not in entry:
        raise DataError(f"[{where}] has no 'path'", path=cfg_path, fix=f'add path = "..." under [{where}]')
    out = dict(entry)
    p = Path(entry["path"])
    out["path"] = p if p.is_absolute() else (base / p)
    if not out["path"].exists():
        raise DataError(f"[{where}] file not found: {out['path']}", path=cfg_path,
                        fix="check the path (relative paths are relative to the config file)")
    return out


def load_config(path: str | Path, outputs: str | Path | None = None) -> RunConfig:
    """Read a run configuration (TOML). Relative paths are relative to the config file.

    Raises
    ------
    DataError
        When the file is missing, is not valid TOML, or names files that do not exist.
    """
    path = Path(path)
    if not path.exists():
        raise DataError("config file not found", path=path, fix="give the path of a TOML file like data/sample.toml")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"not a valid TOML config ({exc})", path=path, fix="compare with data/sample.toml") from None
    base = path.resolve().parent
    proj = raw.get("project", {})
    net = raw.get("network", {})
    if "osm" not in net:
        raise DataError("[network] osm = \"...\" is missing", path=path,
                        fix="name an OpenStreetMap extract (.osm/.osm.pbf), e.g. a Geofabrik zhejiang-latest.osm.pbf")
    osm = _resolve(base, {"path": net["osm"]}, "network", path)["path"]
    ana = raw.get("analysis", {})
    out_dir = Path(outputs) if outputs is not None else base / proj.get("outputs", "outputs")
    bounds = {lvl: _resolve(base, e, f"boundaries.{lvl}", path) for lvl, e in raw.get("boundaries", {}).items()}
    for lvl in bounds:
        if lvl not in ("township", "community"):
            raise DataError(f"unknown boundary level [boundaries.{lvl}]", path=path,
                            fix="use [boundaries.township] and/or [boundaries.community]")
    fac = [_resolve(base, e, f"facilities #{i + 1}", path) for i, e in enumerate(raw.get("facilities", []))]
    if str(ana.get("hazards_rank_by", "children")) not in ("children", "level"):
        raise DataError(f"[analysis] hazards_rank_by = {ana['hazards_rank_by']!r} is not known", path=path,
                        fix='use "children" (most children first) or "level" (worst level first)')
    return RunConfig(
        name=proj.get("name", path.stem),
        outputs=out_dir,
        osm=osm,
        boundaries=bounds,
        facilities=fac,
        pilots=_resolve(base, raw["pilots"], "pilots", path) if "pilots" in raw else None,
        origins=_resolve(base, raw["origins"], "origins", path) if "origins" in raw else None,
        synthetic=bool(proj.get("synthetic", False)),
        buffer_m=float(net.get("buffer_m", 500.0)),
        osm_facilities=bool(net.get("osm_facilities", True)),
        target_pct=float(ana.get("target_pct", 80.0)),
        categories=list(ana.get("categories", DEFAULT_CATEGORIES)),
        pilot_radius_m=float(ana.get("pilot_radius_m", 500.0)),
        safe_max_level=int(ana.get("safe_max_level", 2)),
        hazards_rank_by=str(ana.get("hazards_rank_by", "children")),
        standards=raw.get("standards"),
        source=path,
    )


def sample_config(outputs: str | Path | None = None) -> RunConfig:
    """The run configuration of the bundled synthetic sample (``data/sample.toml``)."""
    return load_config(SAMPLE_DATA / "sample.toml", outputs=outputs if outputs is not None else Path("outputs"))


# ---------------------------------------------------------------------------------------------------------------
# the chain
# ---------------------------------------------------------------------------------------------------------------
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class Inputs:
    """The loaded, validated inputs of a run (canonical layers, EPSG:4326)."""

    townships: Any = None
    communities: Any = None
    facilities: Any = None
    pilots: Any = None
    origins: Any = None
    study_area: Any = None
    reports: dict[str, Any] = field(default_factory=dict)


@dataclass
class Results:
    """Everything a run computes; the frames are the library functions' outputs, unchanged."""

    inputs: Inputs
    network: Any = None
    tables: dict[str, Any] = field(default_factory=dict)
    layers: dict[str, Any] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    stress: Any = None


def load_inputs(cfg: RunConfig, progress: Progress = _quiet) -> Inputs:
    """Load and validate every input file of ``cfg`` (no network, no analysis)."""
    import geopandas as gpd
    import pandas as pd

    from childspace.inputs import loaders as io

    inp = Inputs()
    if "township" in cfg.boundaries:
        e = cfg.boundaries["township"]
        progress(f"乡镇街道边界 Townships: {e['path'].name}")
        inp.townships = io.load_boundaries(e["path"], level="township", layer=e.get("layer"), crs=e.get("crs"),
                                           encoding=e.get("encoding"), columns=e.get("columns"))
    if "community" in cfg.boundaries:
        e = cfg.boundaries["community"]
        progress(f"村社区边界 Communities: {e['path'].name}")
        inp.communities = io.load_boundaries(e["path"], level="community", layer=e.get("layer"), crs=e.get("crs"),
                                             encoding=e.get("encoding"), columns=e.get("columns"))
    units = [b for b in (inp.townships, inp.communities) if b is not None]
    if units:
        import shapely

        inp.study_area = shapely.union_all(pd.concat([u.geometry for u in units]).to_numpy())
    parts = []
    for e in cfg.facilities:
        progress(f"设施 Facilities: {e['path'].name} (coords={e.get('coords', 'wgs84')})")
        f = io.load_facilities(e["path"], layer=e.get("layer"), crs=e.get("crs"), coords=e.get("coords", "wgs84"),
                               encoding=e.get("encoding"), columns=e.get("columns"), category=e.get("category"),
                               study_area=inp.study_area, sheet=e.get("sheet"), strict=bool(e.get("strict", False)),
                               max_rows=e.get("max_rows"))
        parts.append(f)
    if parts:  # one layer; ids found in several files are prefixed with the file's name, with a warning
        inp.facilities = io.combine_facilities(parts, [e["path"] for e in cfg.facilities])
    if cfg.pilots:
        e = cfg.pilots
        progress(f"试点单元 Pilot units: {e['path'].name}")
        inp.pilots = io.load_pilots(e["path"], boundaries=inp.communities, coords=e.get("coords", "wgs84"),
                                    sheet=e.get("sheet"), columns=e.get("columns"))
    if cfg.origins:
        e = cfg.origins
        progress(f"儿童居住点 Origins: {e['path'].name}")
        inp.origins = io.load_origins(e["path"], layer=e.get("layer"), crs=e.get("crs"),
                                      coords=e.get("coords", "wgs84"), columns=e.get("columns"),
                                      study_area=inp.study_area, strict=bool(e.get("strict", False)),
                                      max_rows=e.get("max_rows"))
    elif inp.communities is not None and "children" in inp.communities:
        progress("无居住点文件：以社区中心点和儿童数代替 No origins file: community centroids weighted by children")
        c = inp.communities
        inp.origins = gpd.GeoDataFrame({"origin_id": c["unit_id"].astype(str), "children": c["children"].fillna(0)
                                        .astype(int), "unit_id": c["unit_id"]},
                                       geometry=c.geometry.representative_point(), crs=c.crs)
    for name in ("townships", "communities", "facilities", "pilots", "origins"):
        g = getattr(inp, name)
        if g is not None:
            inp.reports[name] = io.validate_report(g)
    return inp


def check_inputs(cfg: RunConfig, progress: Progress = _quiet) -> str:
    """Load every input and return a readable summary (counts, repairs, exclusions, register check)."""
    from childspace.inputs import register

    inp = load_inputs(cfg, progress)
    lines = [f"{cfg.name}"]
    for name in ("townships", "communities", "facilities", "pilots", "origins"):
        g = getattr(inp, name)
        if g is None:
            continue
        extra = ""
        if name == "facilities":
            extra = " — " + ", ".join(f"{k} {v}" for k, v in g["category"].value_counts().sort_index().items())
        if name == "pilots":
            extra = " — " + ", ".join(f"{k}: {v}" for k, v in g["batch"].value_counts().sort_index().items())
        if name == "origins":
            extra = f" — {int(g['children'].sum())} children"
        lines.append(f"  {name}: {len(g)} features{extra}")
        rep = inp.reports.get(name)
        if rep is not None and len(rep):
            for _, r in rep.iterrows():
                lines.append(f"    - {'; '.join(str(v) for v in r.to_numpy() if str(v) not in ('', 'nan', 'None'))}")
    reg = register.load_register()
    for name, level in (("townships", "township"), ("communities", "community")):
        g = getattr(inp, name)
        if g is None:
            continue
        chk = register.check_units(g, reg, level=level)
        matched = int((chk["status"] == "ok").sum()) if "status" in chk else 0
        if matched == 0:
            lines.append(f"  register: none of the {name} matches the Yueqing register (another city, or "
                         "synthetic data) — not checked")
        else:
            counts = chk["status"].value_counts().to_dict()
            lines.append(f"  register ({level}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return "\n".join(lines)


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
    from childspace.inputs.standards import load_standards

    overrides: dict[str, Any] = {}
    for key, value in (cfg.standards or {}).items():
        # [standards] kindergarten = { radius_m = 250 } is shorthand for [standards.categories.kindergarten]
        if key == "categories" or not isinstance(value, dict) or key in ("life_circles",):
            overrides[key] = value
        else:
            overrides.setdefault("categories", {})[key] = value
    std = load_standards(overrides=overrides or None)
    if cfg.radius_override is not None:   # one radius for every category asked, parks of any size included
        cats = overrides.setdefault("categories", {})
        for c in cfg.categories:
            cats.setdefault(c, {})["radius_m"] = float(cfg.radius_override)
            if std.categories[c].radius_large_m is not None:
                cats[c]["radius_large_m"] = float(cfg.radius_override)
        std = load_standards(overrides=overrides)
    return std


def run_analyses(cfg: RunConfig, coverage: bool = True, routes: bool = True,
                 progress: Progress = _quiet) -> Results:
    """Load, build the network and run the analyses of ``cfg``; returns the frames (writes nothing)."""
    import warnings

    import geopandas as gpd
    import pandas as pd

    from childspace._errors import ChildspaceWarning
    from childspace.analysis import checks
    from childspace.analysis import coverage as cov
    from childspace.analysis import pilots as pil
    from childspace.osm import features

    inp = load_inputs(cfg, progress)
    res = Results(inputs=inp)
    net = res.network = build_network(cfg, inp, progress)

    fac = inp.facilities
    osm_fac = None
    if cfg.osm_facilities:
        progress("OSM 设施 Facilities mapped in OpenStreetMap")
        osm_fac = features.facilities_from_osm(cfg.osm, area=inp.study_area)
    if fac is not None and len(fac):
        # before merging: a file in GCJ-02/BD-09 read as WGS84 would not match its OSM twins
        chk = checks.datum_check(fac, net, reference=osm_fac)
        res.tables["datum_check"] = chk
        for msg in chk.loc[chk["suspect"] != "", "message"]:
            warnings.warn(msg, ChildspaceWarning, stacklevel=2)
    if osm_fac is not None:
        if fac is None:
            fac = osm_fac
        elif len(osm_fac):
            fac, dups = features.merge_facilities(fac, osm_fac)
            res.tables["osm_duplicates"] = dups
            progress(f"  {len(osm_fac)} found in OSM, {len(dups)} duplicates of yours removed, "
                     f"{int((fac['source'] == 'osm').sum())} added")
    inp.facilities = fac
    res.layers["facilities"] = fac
    radii = _radii(cfg)
    categories = list(cfg.categories)

    if coverage and fac is not None and inp.origins is not None:
        progress("服务覆盖 Coverage: distances from every home to the nearest facility of each category")
        access = cov.origin_access(inp.origins, fac, net, categories=categories, radii=radii)
        res.layers["access"] = access
        progress("服务范围 Service areas (walking and straight-line)")
        sa_walk = cov.service_areas(fac, net, radii=radii, method="walk", categories=categories)
        sa_line = cov.service_areas(fac, None, radii=radii, method="line", categories=categories)
        res.layers["service_areas"] = gpd.GeoDataFrame(pd.concat([sa_walk, sa_line], ignore_index=True),
                                                       geometry="geometry", crs=sa_walk.crs)
        d_walk = cov.dissolve_service_areas(sa_walk, net, radii=radii, method="walk", categories=categories)
        d_line = cov.dissolve_service_areas(sa_line, None, radii=radii, method="line", categories=categories)
        res.layers["service_areas_dissolved"] = gpd.GeoDataFrame(pd.concat([d_walk, d_line], ignore_index=True),
                                                                 geometry="geometry", crs=d_walk.crs)
        gap_parts = []
        for level, units in (("township", inp.townships), ("community", inp.communities)):
            if units is None:
                continue
            progress(f"单元覆盖 Coverage per {level}")
            uc = cov.unit_coverage(units, access, categories, target_pct=cfg.target_pct, service_areas=d_walk)
            res.tables[f"{level}_coverage"] = uc
            res.tables[f"{level}_life_circles"] = cov.life_circles(uc, radii)
            if level == "community" or inp.communities is None:
                gap_parts.append(cov.gaps(units, access, d_walk, categories))
        if inp.townships is not None:   # count standards: e.g. a children's home in every township
            res.tables["township_minimums"] = cov.facilities_per_unit(inp.townships, fac, radii)
        if gap_parts:
            res.layers["gaps"] = gpd.GeoDataFrame(pd.concat(gap_parts, ignore_index=True), geometry="geometry",
                                                  crs=gap_parts[0].crs)
        if inp.pilots is not None:
            progress("试点单元 Pilot units: catchments, checklist and status")
            res.layers["pilot_catchments"] = pil.pilot_catchments(inp.pilots, net, radius=cfg.pilot_radius_m)
            res.layers["pilots"] = pil.pilot_status(inp.pilots, fac, inp.origins, net, radii=radii,
                                                    target_pct=cfg.target_pct)
    if routes and fac is not None and inp.origins is not None:
        from childspace.analysis import routes as rt
        from childspace.analysis import safety

        schools = fac[fac["category"].isin(["primary_school", "middle_school"])]
        if len(schools):
            progress("通学路径 Routes to school: stress of every street and crossing")
            stress = safety.network_stress(net)
            res.stress = stress
            progress(f"  routes from {len(inp.origins):,} homes to {len(schools)} schools (shortest and safest)")
            r = rt.school_routes(net, inp.origins, schools, stress=stress)
            res.layers["routes"] = r
            res.tables["schools"] = rt.school_summary(r, schools)
            res.layers["hazards"] = rt.hazards(r, net, stress, rank_by=cfg.hazards_rank_by)
            progress("  school walksheds: plain and safe-only")
            res.layers["walksheds"] = rt.walksheds(net, schools, stress, max_level=cfg.safe_max_level)
            res.layers["schools"] = schools
        zone_schools = fac[fac["category"].isin(["kindergarten", "primary_school", "middle_school"])]
        if len(zone_schools):
            progress("校园周边 School zones (GA/T 1215-2014: 30 km/h within 150 m, crossing within 50 m)")
            zones, zone_roads = safety.school_zones(net, zone_schools, stress=stress if len(schools) else None,
                                                    return_segments=True)
            res.layers["school_zones"] = zones
            res.layers["school_zone_roads"] = zone_roads
    from childspace.run.plan_step import add_indicators  # the action plan's targets, measured
    add_indicators(cfg, res, progress)
    res.summary = summarise(res, cfg)
    return res


def summarise(res: Results, cfg: RunConfig) -> list[str]:
    """Bilingual bullet points on the gaps found."""
    from childspace.inputs.standards import category_label

    out: list[str] = []
    uc = res.tables.get("community_coverage")
    if uc is not None and len(uc):
        for cat, part in uc.groupby("category", sort=False):
            below = part[part["below_target"]]
            tot = part["children"].sum()
            cov_ = part["children_covered_walk"].sum()
            pct = 100.0 * cov_ / tot if tot else float("nan")
            out.append(f"{category_label(cat)}：步行 {pct:.0f}% 的儿童在服务半径内，{len(below)} 个社区低于 "
                       f"{cfg.target_pct:g}% — {pct:.0f}% of children within walking reach; {len(below)} "
                       f"communities below target")
    mins = res.tables.get("township_minimums")
    if mins is not None and len(mins):
        out.extend(mins.loc[~mins["meets"], "finding"].tolist())
    ps = res.layers.get("pilots")
    if ps is not None and len(ps):
        for batch, part in ps.groupby("batch"):
            c = part["status"].value_counts()
            out.append(f"{batch} 年试点 {len(part)} 个：达标 {c.get('meets', 0)}，部分达标 {c.get('partly', 0)}，"
                       f"缺口 {c.get('gap', 0)} — batch {batch}: {len(part)} units, {c.get('meets', 0)} meet, "
                       f"{c.get('partly', 0)} partly, {c.get('gap', 0)} with gaps")
    sch = res.tables.get("schools")
    if sch is not None and len(sch):
        for cat, part in sch.groupby("category", sort=False):
            safe, caution, unsafe, none_ = (int(part[c].sum()) for c in (
                "children_safe", "children_caution", "children_unsafe", "children_unreachable"))
            out.append(f"{category_label(cat).split(' ')[0]}通学路径：{safe} 名儿童有安全路径，{caution} 名需注意，{unsafe} 名不安全，"
                       f"{none_} 名无可达路径 — routes to the nearest {cat.replace('_', ' ')}: {safe} children safe, "
                       f"{caution} caution, {unsafe} unsafe, {none_} unreachable")
    zs = res.layers.get("school_zones")
    if zs is not None and len(zs):
        out.append(f"校园周边（GA/T 1215-2014）：{int(zs['compliant'].sum())}/{len(zs)} 所学校/幼儿园达标，"
                   f"{int((~zs['speed_ok']).sum())} 所周边道路限速高于30km/h，{int((~zs['crossing_ok']).sum())} 所校门"
                   f"50米内无人行横道 — school zones: {int(zs['compliant'].sum())} of {len(zs)} comply; "
                   f"{int((~zs['speed_ok']).sum())} with zone roads over 30 km/h, {int((~zs['crossing_ok']).sum())} "
                   f"without a marked crossing within 50 m of the gate")
    hz = res.layers.get("hazards")
    if hz is not None and len(hz):
        top = hz.sort_values("rank").iloc[0]
        out.append(f"首要隐患 Top hazard: {top['name'] or ''} — {top['reason']} ({int(top['children'])} 名儿童 children)")
    return out


# ---------------------------------------------------------------------------------------------------------------
# writing (the only place files are written; each through a temporary file and a rename)
# ---------------------------------------------------------------------------------------------------------------
def _for_file(df: Any) -> Any:
    """A copy whose non-geometry columns are plain scalars (lists joined, bytes/geometries as WKT/hex)."""
    import geopandas as gpd
    import numpy as np
    from shapely.geometry.base import BaseGeometry

    out = df.copy()
    out.attrs = {}
    geom_name = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for col in out.columns:
        if col == geom_name:
            continue
        s = out[col]
        if isinstance(s.dtype, gpd.array.GeometryDtype):
            out[col] = s.to_wkt()
        elif s.dtype == object:
            def conv(v: Any) -> Any:
                if isinstance(v, (list, tuple, set, np.ndarray)):
                    return "; ".join(str(x) for x in v)
                if isinstance(v, bytes):
                    return v.hex()
                if isinstance(v, BaseGeometry):
                    return v.wkt
                if isinstance(v, dict):
                    return str(v)
                return v
            out[col] = s.map(conv)
    return out


def write_geopackage(path: Path, layers: dict[str, Any]) -> Path:
    """Write GeoDataFrames as layers of one GeoPackage (EPSG:4326), atomically."""
    with atomic_path(path, make_dirs=True) as tmp:
        for name, gdf in layers.items():
            if gdf is None or len(gdf) == 0:
                continue
            _for_file(gdf.to_crs("EPSG:4326")).to_file(tmp, layer=name, driver="GPKG")
    return path


def write_outputs(res: Results, cfg: RunConfig, maps: bool = True, progress: Progress = _quiet) -> dict[str, Path]:
    """Write the GeoPackage, CSV tables, Excel workbook and (with ``maps``) HTML/PNG maps and the HTML report."""
    import pandas as pd

    from childspace.outputs import report

    out = Path(cfg.outputs)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    inp = res.inputs
    layers = {"townships": inp.townships, "communities": inp.communities, **res.layers}
    if inp.pilots is not None and "pilots" not in layers:
        layers["pilots"] = inp.pilots
    if inp.origins is not None and "access" not in layers:
        layers["origins"] = inp.origins
    progress(f"写出 Writing {out}")
    written["geopackage"] = write_geopackage(out / "childspace.gpkg", layers)

    tables: dict[str, pd.DataFrame] = {}
    for key, sheet in (("township_coverage", "township_coverage"), ("community_coverage", "community_coverage"),
                       ("township_life_circles", "township_life_circles"),
                       ("community_life_circles", "community_life_circles")):
        if key in res.tables:
            tables[sheet] = res.tables[key]
    if "pilots" in res.layers:
        tables["pilot_units"] = pd.DataFrame(res.layers["pilots"].drop(columns="geometry"))
    if "schools" in res.tables:
        tables["schools"] = res.tables["schools"]
    if "hazards" in res.layers:
        tables["hazards"] = report.hazard_table(res.layers["hazards"], res.layers.get("facilities"))
    if "school_zones" in res.layers:
        tables["school_zones"] = pd.DataFrame(res.layers["school_zones"].drop(columns="geometry"))
    if "gaps" in res.layers:
        tables["gaps"] = pd.DataFrame(res.layers["gaps"].drop(columns="geometry"))
    if "township_minimums" in res.tables:
        tables["township_minimums"] = res.tables["township_minimums"]
    if "datum_check" in res.tables:
        tables["datum_check"] = res.tables["datum_check"]
    tables.update({k: res.tables[k] for k in ("indicators", "venues_missing_room") if k in res.tables})
    tables = {k: _for_file(v) for k, v in tables.items()}
    (out / "tables").mkdir(exist_ok=True)
    for name, p in report.write_csv_tables(out / "tables", tables, bilingual=True).items():
        written[f"csv:{name}"] = p
    about = report.WorkbookAbout(title=cfg.name, synthetic=cfg.synthetic, categories=cfg.categories,
                                 sources=[Path(str(e["path"])).name for e in cfg.facilities if "path" in e])
    written["excel"] = report.write_excel(out / "childspace.xlsx",
                                          {report.SHEET_NAMES.get(k, k): v for k, v in tables.items()}, about=about)
    if maps:
        written.update(_write_maps(res, cfg, out, tables, progress))
    return written


def _write_maps(res: Results, cfg: RunConfig, out: Path, tables: dict[str, Any],
                progress: Progress) -> dict[str, Path]:
    import warnings
    from functools import partial

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from childspace.inputs.standards import category_label
    from childspace.outputs import figures as plot
    from childspace.outputs import figures_overview, figures_routes
    from childspace.outputs import maps, report
    from childspace._errors import ChildspaceWarning

    written: dict[str, Path] = {}
    inp = res.inputs
    syn = cfg.synthetic
    bounds = inp.communities if inp.communities is not None else inp.townships
    from childspace.analysis.streets import school_zone_rules, stress_frames
    base = maps.Basemap(streets=res.network.edges if res.network is not None else None,
                        tianditu_key=getattr(cfg, "tianditu_key", None))
    tiles = tuple(getattr(cfg, "basemaps", ()) or ())   # opt-in tile layers; none: offline
    html_maps: dict[str, Path] = {}
    pngs: dict[str, Path] = {}

    def guarded(what: str, make: Callable[[], Any]) -> Any:
        # one failing map or figure is a warning naming it; the other maps, the report and the tables are written
        try:
            return make()
        except Exception as exc:  # noqa: BLE001
            warnings.warn(f"{what} was not written: {type(exc).__name__}: {exc}", ChildspaceWarning, stacklevel=3)
            return None

    def png(key: str, fig: Callable[[], Any]) -> Path:
        f = fig()
        try:
            return plot.save_figure(f, out / "figures" / f"{key}.png")
        finally:
            plt.close(f)

    def both(key: str, caption: str, fmap: Callable[[], Any], fig: Callable[[], Any]) -> None:
        p = guarded(f"map maps/{key}.html", lambda: maps.save_map(fmap(), out / "maps" / f"{key}.html"))
        if p is not None:
            html_maps[caption] = p
            written[f"map:{key}"] = p
        q = guarded(f"figure figures/{key}.png", lambda: png(key, fig))
        if q is not None:
            pngs[caption] = q
            written[f"png:{key}"] = q

    progress("地图 Maps (HTML and PNG)")
    (out / "maps").mkdir(exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    fac = res.layers.get("facilities")
    if "access" in res.layers:
        uc = res.tables.get("community_coverage", res.tables.get("township_coverage"))
        present = [c for c in cfg.categories if (uc["category"] == c).any()]
        both("overview", "总览 Overview",
             partial(maps.overview_map, bounds, uc, townships=inp.townships, categories=present,
                     life_circles=res.tables.get("community_life_circles"), synthetic=syn, base=base,
                     basemaps=tiles),
             partial(figures_overview.plot_overview, bounds, uc, townships=inp.townships, small_multiples=True,
                     categories=present, synthetic=syn))
        for cat in cfg.categories:
            if fac is None or not (fac["category"] == cat).any():
                continue
            f = fac[fac["category"] == cat]
            sa = res.layers["service_areas"]
            sa = sa[sa["category"] == cat]
            g = res.layers.get("gaps")
            g = g[g["category"] == cat] if g is not None else None
            cap = f"{category_label(cat)}"
            both(f"coverage_{cat}", cap,
                 partial(maps.coverage_map, bounds, f, sa, res.layers["access"], g, cat, synthetic=syn, base=base,
                         unit_coverage=uc, basemaps=tiles),
                 partial(plot.plot_coverage, bounds, f, sa, res.layers["access"], g, cat, synthetic=syn,
                         unit_coverage=uc))
    if "pilots" in res.layers:
        both("pilots", "试点单元 Pilot units",
             partial(maps.pilot_map, res.layers["pilots"], res.layers.get("pilot_catchments"), boundaries=bounds,
                     synthetic=syn, base=base, basemaps=tiles),
             partial(plot.plot_pilots, res.layers["pilots"], res.layers.get("pilot_catchments"), boundaries=bounds,
                     synthetic=syn))
    if "routes" in res.layers:
        edges_stress, crossings = guarded("street stress of the routes maps",
                                          partial(stress_frames, res.network, res.stress)) or (None, None)
        zones = res.layers.get("school_zones")
        if zones is not None and fac is not None and "entrances" in fac.columns:   # gates, where mapped
            gates = fac[["facility_id", "entrances"]].rename(columns={"facility_id": "school_id"})
            zones = zones.merge(gates, on="school_id", how="left")
        both("routes", "通学路径 Routes to school",
             partial(maps.routes_map, res.layers["routes"], res.layers.get("hazards"), res.layers.get("walksheds"),
                     res.layers.get("schools"), boundaries=bounds, synthetic=syn,
                     network_stress=edges_stress, crossings=crossings, school_zones=zones,
                     zone_roads=res.layers.get("school_zone_roads"), base=base, basemaps=tiles,
                     zone_rules=school_zone_rules()),
             partial(figures_routes.plot_routes, res.layers["routes"], res.layers.get("hazards"), res.layers.get("walksheds"),
                     res.layers.get("schools"), boundaries=bounds, synthetic=syn,
                     network_stress=edges_stress, school_zones=zones,
                     zone_roads=res.layers.get("school_zone_roads")))
    if "access" in res.layers or "pilots" in res.layers:
        from childspace.outputs import atlas

        progress("图集 Print atlas (PDF)")
        p_atlas = guarded("print atlas atlas.pdf", partial(
            atlas.write_atlas, out / "atlas.pdf", boundaries=bounds, unit_coverage=res.tables.get("community_coverage"),
            facilities=fac, service_areas=res.layers.get("service_areas"), categories=cfg.categories,
            pilots_status=res.layers.get("pilots"), catchments=res.layers.get("pilot_catchments"),
            townships=inp.townships, info=atlas.AtlasInfo(title=f"儿童友好空间分析图集 Child-friendly space atlas — "
                                                               f"{cfg.name}", synthetic=syn)))
        if p_atlas is not None:
            written["atlas"] = p_atlas
    progress("报告 HTML report")
    written["report"] = report.html_report(
        out / "report.html", f"儿童友好空间分析报告 Child-friendly city analysis — {cfg.name}",
        summary=res.summary, maps=html_maps, pngs=pngs, tables=tables,
        pilots_status=res.layers.get("pilots"), synthetic=syn, school_zones=res.layers.get("school_zones"),
        categories=cfg.categories)
    return written


def run_all(cfg: RunConfig, maps: bool = True, coverage: bool = True, routes: bool = True,
            progress: Progress = _quiet) -> dict[str, Path]:
    """Run the whole chain on ``cfg`` and write its outputs; returns the files written."""
    res = run_analyses(cfg, coverage=coverage, routes=routes, progress=progress)
    for line in res.summary:
        progress(line)
    return write_outputs(res, cfg, maps=maps, progress=progress)


def build_network_file(osm: Path, out: Path, area: Path | None = None, buffer_m: float = 500.0,
                       progress: Progress = _quiet) -> Path:
    """Parse an OSM extract (clipped to the extent of a boundary file) and save the walk network (GeoPackage)."""
    from childspace.inputs import loaders as io
    from childspace.network import WalkNetwork
    from childspace.osm.reader import read_osm

    poly = None
    if area is not None:
        import shapely

        b = io.load_boundaries(area)
        poly = shapely.union_all(b.geometry.to_numpy())
    progress(f"读取 Reading {osm}")
    nodes, edges, roads = read_osm(osm, area=poly, buffer_m=buffer_m, beside_roads=True)
    net = WalkNetwork.from_frames(nodes, edges, beside_roads=roads)
    progress(f"  {net.n_nodes:,} nodes, {net.n_edges:,} edges")
    with atomic_path(out, make_dirs=True) as tmp:
        net.save(tmp)
    return Path(out)
