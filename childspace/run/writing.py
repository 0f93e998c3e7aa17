"""Writing a run's outputs: the GeoPackage, CSV tables, Excel workbook, HTML/PNG maps, atlas and HTML report.

The only place files of a run are written: into a staging folder swapped in when complete
(:mod:`childspace.run.outdir`), each through a temporary file and a rename. :mod:`childspace.run.pipeline`
calls it and re-exports :func:`write_outputs` and :func:`write_geopackage`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from childspace._progress import track
from childspace.run import outdir
from childspace.run.config import RunConfig
from childspace.run.results import Progress, Results, _quiet


def _for_file(df: Any) -> Any:
    """A copy whose non-geometry columns are plain scalars (:func:`childspace.outputs.geopackage.plain_columns`)."""
    from childspace.outputs.geopackage import plain_columns

    return plain_columns(df)


#: tables longer than this go to their CSV file only; the workbook's sheet says where (a county's per-home
#: routes table has ~600,000 rows: minutes to write with openpyxl, and no planner scrolls it)
WORKBOOK_MAX_ROWS = 50_000


def write_geopackage(path: Path, layers: dict[str, Any], crs: Any = "EPSG:4326", **kw: Any) -> Path:
    """Write GeoDataFrames as layers of one GeoPackage (one geometry type per layer, QGIS styles), atomically
    (:func:`childspace.outputs.geopackage.write_geopackage`)."""
    from childspace.outputs import geopackage

    return geopackage.write_geopackage(path, layers, crs=crs, **kw)


def _gpkg_layers(res: Results, cfg: RunConfig) -> dict[str, Any]:
    """The layers of the GeoPackage: boundaries, every result layer, coverage by community (one column per
    category) and, with the network, the street and crossing stress; made ready for the file once
    (:func:`childspace.outputs.geopackage.prepare_layers`), so the two GeoPackages share that work."""
    import warnings

    from childspace._errors import ChildspaceWarning
    from childspace.outputs import geopackage

    inp = res.inputs
    layers: dict[str, Any] = {"townships": inp.townships, "communities": inp.communities}
    cov = res.tables.get("community_coverage")
    units = inp.communities
    if cov is None:
        cov, units = res.tables.get("township_coverage"), inp.townships
    if cov is not None and units is not None and len(cov):
        layers["community_coverage"] = geopackage.community_coverage_layer(
            units, cov, cfg.categories, cfg.target_pct
        )
    layers.update(res.layers)
    if layers.get("routes") is not None:  # one point per home (routes without lines), not one row per route
        from childspace.analysis.route_tables import routes_per_home

        layers["routes"] = routes_per_home(layers["routes"])
    if inp.pilots is not None and "pilots" not in layers:
        layers["pilots"] = inp.pilots
    if inp.origins is not None and "access" not in layers:
        layers["origins"] = inp.origins
    if res.network is not None and res.stress is not None:
        from childspace.analysis.streets import stress_frames

        try:
            layers.update(geopackage.street_stress_layers(*stress_frames(res.network, res.stress)))
        except Exception as exc:  # noqa: BLE001 - the other layers are still written
            warnings.warn(
                f"the street-stress layers were not written: {type(exc).__name__}: {exc}",
                ChildspaceWarning,
                stacklevel=2,
            )
    return geopackage.prepare_layers(layers)


def _local_crs(res: Results) -> Any:
    """The projected CRS of the local copy: the network's (the CGCS2000 Gauss–Krüger zone in China), else the
    local zone of the study area."""
    from childspace.inputs.projection import local_crs_for

    if res.network is not None and getattr(res.network, "crs", None) is not None:
        return res.network.crs
    b = res.inputs.communities if res.inputs.communities is not None else res.inputs.townships
    return local_crs_for(b) if b is not None and len(b) else None


def write_outputs(
    res: Results, cfg: RunConfig, maps: bool = True, progress: Progress = _quiet, wait: bool = False
) -> dict[str, Path]:
    """Write the GeoPackage, CSV tables, Excel workbook and (with ``maps``) HTML/PNG maps and the HTML report.

    The files are written into a staging folder beside ``cfg.outputs`` and swapped in, with a ``run.json``
    manifest, when all are written (see :mod:`childspace.run.outdir`): the output folder holds one complete run.
    ``wait``: wait for another run writing the same folder instead of stopping with an error.
    """
    out = Path(os.path.abspath(cfg.outputs))
    progress(f"写出 Writing {out}")
    with outdir.staged(out, info=_manifest_info(cfg, maps), wait=wait, progress=progress) as stage:
        written = _write_files(res, cfg, stage, maps=maps, progress=progress)
    return {k: out / p.relative_to(stage) for k, p in written.items()}


def _manifest_info(cfg: RunConfig, maps: bool) -> dict[str, Any]:
    return {
        "name": cfg.name,
        "config": str(cfg.source) if cfg.source else None,
        "config_sha256": cfg.source_sha256,
        "maps": maps,
        "settings": {
            "safe_max_level": cfg.safe_max_level,
            "radius_override": cfg.radius_override,
            "categories": cfg.categories,
            "safety_profile": str(cfg.safety_profile),
            "max_snap_m": cfg.max_snap_m,
        },
    }


def _write_files(
    res: Results, cfg: RunConfig, out: Path, maps: bool = True, progress: Progress = _quiet
) -> dict[str, Path]:
    """Write every output file under ``out`` (the staging folder)."""
    import pandas as pd

    from childspace.outputs import report
    from childspace.outputs.geopackage import is_cgcs2000

    written: dict[str, Path] = {}
    progress("GIS 数据包 GeoPackage (EPSG:4326 and the local projected CRS, QGIS styles)")
    layers = _gpkg_layers(res, cfg)
    style = {"target_pct": cfg.target_pct, "categories": cfg.categories}
    written["geopackage"] = write_geopackage(out / "childspace.gpkg", layers, **style)
    local = _local_crs(res)
    if (
        local is not None
    ):  # the planners' own CRS (CGCS2000 zone in China); elsewhere the network's projected CRS
        stem = "childspace_cgcs2000" if is_cgcs2000(local) else "childspace_local"
        written["geopackage_local"] = write_geopackage(out / f"{stem}.gpkg", layers, crs=local, **style)

    tables: dict[str, pd.DataFrame] = {}
    for key, sheet in (
        ("township_coverage", "township_coverage"),
        ("community_coverage", "community_coverage"),
        ("township_life_circles", "township_life_circles"),
        ("community_life_circles", "community_life_circles"),
    ):
        if key in res.tables:
            tables[sheet] = res.tables[key]
    if "pilots" in res.layers:
        tables["pilot_units"] = pd.DataFrame(res.layers["pilots"].drop(columns="geometry"))
    if "schools" in res.tables:
        tables["schools"] = res.tables["schools"]
    if "routes" in res.tables:
        tables["routes"] = res.tables["routes"]
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
    if "osm_facilities" in res.tables:
        tables["osm_facilities"] = res.tables["osm_facilities"]
    tables = {k: _for_file(v) for k, v in tables.items()}
    (out / "tables").mkdir(exist_ok=True)
    for name, p in report.write_csv_tables(out / "tables", tables, bilingual=True).items():
        written[f"csv:{name}"] = p
    about = report.WorkbookAbout(
        title=cfg.name,
        synthetic=cfg.synthetic,
        categories=cfg.categories,
        sources=[e.path.name for e in cfg.facilities],
    )
    sheets = {}
    for k, v in tables.items():  # a per-home table of a county is a CSV, not a sheet no one can scroll
        if len(v) > WORKBOOK_MAX_ROWS:
            v = pd.DataFrame(
                {
                    "说明 Note": [
                        f"本表共 {len(v):,} 行，超过工作簿每表 {WORKBOOK_MAX_ROWS:,} 行的上限，完整表格见 "
                        f"tables/{k}.csv — {len(v):,} rows, more than the workbook's {WORKBOOK_MAX_ROWS:,} per "
                        f"sheet: the full table is tables/{k}.csv"
                    ]
                }
            )
        sheets[report.SHEET_NAMES.get(k, k)] = v
    written["excel"] = report.write_excel(out / "childspace.xlsx", sheets, about=about)
    if maps:
        written.update(_write_maps(res, cfg, out, tables, progress))
    return written


def _write_maps(
    res: Results, cfg: RunConfig, out: Path, tables: dict[str, Any], progress: Progress
) -> dict[str, Path]:
    import warnings
    from functools import partial

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from childspace._errors import ChildspaceWarning
    from childspace.outputs import figures as plot
    from childspace.outputs import figures_overview, figures_routes, maps, report

    written: dict[str, Path] = {}
    inp = res.inputs
    syn = cfg.synthetic
    bounds = inp.communities if inp.communities is not None else inp.townships
    from childspace.analysis.streets import school_zone_rules, stress_frames
    from childspace.run.osm_inputs import basemap_from_osm

    base = maps.Basemap(
        streets=res.network.edges if res.network is not None else None,
        tianditu_key=cfg.tianditu_key,
        **basemap_from_osm(cfg, inp),  # water, green space, built-up land, major roads, place names
    )
    tiles = cfg.basemaps  # opt-in tile layers ([maps] basemaps); none: offline
    html_maps: dict[str, Path] = {}
    pngs: dict[str, Path] = {}

    def guarded(what: str, make: Callable[[], Any]) -> Any:
        # one failing map or figure is a warning naming it; the other maps, the report and the tables are written
        try:
            return make()
        except Exception as exc:  # noqa: BLE001
            warnings.warn(
                f"{what} was not written: {type(exc).__name__}: {exc}", ChildspaceWarning, stacklevel=3
            )
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
        assert uc is not None  # coverage ran: its unit tables exist
        present = [c for c in cfg.categories if (uc["category"] == c).any()]
        both(
            "overview",
            "总览 Overview",
            partial(
                maps.overview_map,
                bounds,
                uc,
                townships=inp.townships,
                categories=present,
                life_circles=res.tables.get("community_life_circles"),
                synthetic=syn,
                base=base,
                basemaps=tiles,
            ),
            partial(
                figures_overview.plot_overview,
                bounds,
                uc,
                townships=inp.townships,
                small_multiples=True,
                categories=present,
                synthetic=syn,
            ),
        )
        for cat in track(cfg.categories, unit="categories"):  # counted on the stage's progress bar
            if fac is None or not (fac["category"] == cat).any():
                continue
            f = fac[fac["category"] == cat]
            sa = res.layers["service_areas"]
            sa = sa[sa["category"] == cat]
            dis = res.layers.get("service_areas_dissolved")
            if dis is not None and len(sa) > 200:  # one merged area per method instead of one per facility
                sa = dis[dis["category"] == cat]
            g = res.layers.get("gaps")
            g = g[g["category"] == cat] if g is not None else None
            cap = cfg.resolved_standards().label(cat)
            both(
                f"coverage_{cat}",
                cap,
                partial(
                    maps.coverage_map,
                    bounds,
                    f,
                    sa,
                    res.layers["access"],
                    g,
                    cat,
                    synthetic=syn,
                    base=base,
                    unit_coverage=uc,
                    basemaps=tiles,
                ),
                partial(
                    plot.plot_coverage,
                    bounds,
                    f,
                    sa,
                    res.layers["access"],
                    g,
                    cat,
                    synthetic=syn,
                    unit_coverage=uc,
                ),
            )
    if "pilots" in res.layers:
        both(
            "pilots",
            "试点单元 Pilot units",
            partial(
                maps.pilot_map,
                res.layers["pilots"],
                res.layers.get("pilot_catchments"),
                boundaries=bounds,
                synthetic=syn,
                base=base,
                basemaps=tiles,
            ),
            partial(
                plot.plot_pilots,
                res.layers["pilots"],
                res.layers.get("pilot_catchments"),
                boundaries=bounds,
                synthetic=syn,
            ),
        )
    if "venues" in res.layers and len(res.layers["venues"]):  # venues that must have a mother-and-baby room
        from childspace.outputs import figures_venues
        from childspace.outputs.maps import venues as venue_maps

        rooms = fac[fac["category"] == "mother_baby_room"] if fac is not None else None
        vkw: dict[str, Any] = dict(boundaries=bounds, synthetic=syn)
        v = res.layers["venues"]
        both(
            "venues",
            "应建母婴室的公共场所 Venues that must have a mother-and-baby room",
            partial(venue_maps.venues_map, v, rooms, **vkw, base=base, basemaps=tiles),
            partial(figures_venues.plot_venues, v, rooms, **vkw),
        )
    if "routes" in res.layers:
        edges_stress, crossings = guarded(
            "street stress of the routes maps", partial(stress_frames, res.network, res.stress)
        ) or (None, None)
        zones = res.layers.get("school_zones")
        if zones is not None and fac is not None and "entrances" in fac.columns:  # gates, where mapped
            gates = fac[["facility_id", "entrances"]].rename(columns={"facility_id": "school_id"})
            zones = zones.merge(gates, on="school_id", how="left")
        layers = (
            res.layers["routes"],
            res.layers.get("hazards"),
            res.layers.get("walksheds"),
            res.layers.get("schools"),
        )
        shared: dict[str, Any] = dict(
            boundaries=bounds,
            synthetic=syn,
            network_stress=edges_stress,
            school_zones=zones,
            zone_roads=res.layers.get("school_zone_roads"),
        )
        both(
            "routes",
            "通学路径 Routes to school",
            partial(
                maps.routes_map,
                *layers,
                **shared,
                crossings=crossings,
                base=base,
                basemaps=tiles,
                zone_rules=school_zone_rules(),
            ),
            partial(figures_routes.plot_routes, *layers, **shared),
        )
    if "access" in res.layers or "pilots" in res.layers:
        from childspace.outputs import atlas

        progress("图集 Print atlas (PDF)")
        p_atlas = guarded(
            "print atlas atlas.pdf",
            partial(
                atlas.write_atlas,
                out / "atlas.pdf",
                boundaries=bounds,
                unit_coverage=res.tables.get("community_coverage"),
                facilities=fac,
                service_areas=res.layers.get("service_areas"),
                categories=cfg.categories,
                pilots_status=res.layers.get("pilots"),
                catchments=res.layers.get("pilot_catchments"),
                townships=inp.townships,
                indicators=res.tables.get("indicators"),
                venues=res.layers.get("venues"),
                info=atlas.AtlasInfo(
                    title=f"儿童友好空间分析图集 Child-friendly space atlas — {cfg.name}", synthetic=syn
                ),
            ),
        )
        if p_atlas is not None:
            written["atlas"] = p_atlas
    progress("报告 HTML report")
    written["report"] = report.html_report(
        out / "report.html",
        f"儿童友好空间分析报告 Child-friendly city analysis — {cfg.name}",
        summary=res.summary,
        maps=html_maps,
        pngs=pngs,
        tables=tables,
        pilots_status=res.layers.get("pilots"),
        synthetic=syn,
        school_zones=res.layers.get("school_zones"),
        categories=cfg.categories,
    )
    return written
