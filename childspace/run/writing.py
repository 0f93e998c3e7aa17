"""Writing a run's outputs: the GeoPackage, CSV tables, Excel workbook, HTML/PNG maps, atlas and HTML report.

The only place files of a run are written: into a staging folder swapped in when complete
(:mod:`childspace.run.outdir`), each through a temporary file and a rename. :mod:`childspace.run.pipeline`
calls it and re-exports :func:`write_outputs` and :func:`write_geopackage`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from childspace._forkpool import Task, TaskResult, can_fork, default_workers, run_tasks
from childspace._progress import counter
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
    res: Results,
    cfg: RunConfig,
    maps: bool = True,
    progress: Progress = _quiet,
    wait: bool = False,
    workers: int | None = None,
    task_stats: list[TaskResult] | None = None,
) -> dict[str, Path]:
    """Write the GeoPackage, CSV tables, Excel workbook and (with ``maps``) HTML/PNG maps and the HTML report.

    The files are written into a staging folder beside ``cfg.outputs`` and swapped in, with a ``run.json``
    manifest, when all are written (see :mod:`childspace.run.outdir`): the output folder holds one complete run.
    ``wait``: wait for another run writing the same folder instead of stopping with an error.

    The files are independent tasks (each GeoPackage, the CSV tables, the workbook, each map with its PNG, the
    atlas), run on ``workers`` processes (default ``cfg.workers``, else two, or one on a one-CPU machine; see
    :mod:`childspace._forkpool`); the HTML report, which links them, is written last. ``task_stats``, when
    given, receives each task's measurements (wall s, CPU s, peak RSS of the process that ran it).
    """
    out = Path(os.path.abspath(cfg.outputs))
    progress(f"写出 Writing {out}")
    n = resolve_workers(cfg, workers)
    with outdir.staged(out, info=_manifest_info(cfg, maps), wait=wait, progress=progress) as stage:
        written = _write_files(
            res, cfg, stage, maps=maps, progress=progress, workers=n, task_stats=task_stats
        )
    return {k: out / p.relative_to(stage) for k, p in written.items()}


def resolve_workers(cfg: RunConfig, workers: int | None = None) -> int:
    """Processes for the output tasks: ``workers``, else ``[run] workers`` of the config, else the default."""
    n = workers if workers is not None else getattr(cfg, "workers", None)
    return max(1, int(n)) if n else default_workers()


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


def _tables(res: Results) -> dict[str, Any]:
    """The tables of the CSV files, the workbook and the report (plain columns)."""
    import pandas as pd

    from childspace.outputs import report

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
    return {k: _for_file(v) for k, v in tables.items()}


def _write_csv(out: Path, tables: dict[str, Any]) -> dict[str, Path]:
    from childspace.outputs import report

    (out / "tables").mkdir(exist_ok=True)
    return {f"csv:{k}": p for k, p in report.write_csv_tables(out / "tables", tables, bilingual=True).items()}


def _write_workbook(cfg: RunConfig, out: Path, tables: dict[str, Any]) -> dict[str, Path]:
    import pandas as pd

    from childspace.outputs import report

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
    return {"excel": report.write_excel(out / "childspace.xlsx", sheets, about=about)}


def _write_files(
    res: Results,
    cfg: RunConfig,
    out: Path,
    maps: bool = True,
    progress: Progress = _quiet,
    workers: int = 1,
    task_stats: list[TaskResult] | None = None,
) -> dict[str, Path]:
    """Write every output file under ``out`` (the staging folder): the independent tasks, then the report."""
    from childspace.outputs.geopackage import is_cgcs2000

    progress("GIS 数据包 GeoPackage (EPSG:4326 and the local projected CRS, QGIS styles)")
    layers = _gpkg_layers(res, cfg)
    style = {"target_pct": cfg.target_pct, "categories": cfg.categories}
    tasks = [
        Task(
            "childspace.gpkg",
            lambda: {"geopackage": write_geopackage(out / "childspace.gpkg", layers, **style)},
            weight=20,
        )
    ]
    local = _local_crs(res)
    if (
        local is not None
    ):  # the planners' own CRS (CGCS2000 zone in China); elsewhere the network's projected CRS
        stem = "childspace_cgcs2000" if is_cgcs2000(local) else "childspace_local"
        tasks.append(
            Task(
                f"{stem}.gpkg",
                lambda: {
                    "geopackage_local": write_geopackage(out / f"{stem}.gpkg", layers, crs=local, **style)
                },
                weight=20,
            )
        )
    tables = _tables(res)
    tasks.append(Task("tables/*.csv", lambda: _write_csv(out, tables), weight=6))
    tasks.append(Task("childspace.xlsx", lambda: _write_workbook(cfg, out, tables), weight=4))
    captions: dict[str, str] = {}
    if maps:
        from childspace.run import writing_maps

        progress("地图 Maps (HTML and PNG)")
        map_tasks, captions = writing_maps.map_tasks(res, cfg, out)
        tasks += map_tasks
    n = workers if can_fork() else 1
    progress(
        f"写出 {len(tasks)} 项 Writing {len(tasks)} outputs (GeoPackages, tables"
        + (", maps, atlas" if maps else "")
        + f") on {min(n, len(tasks))} process{'es' if min(n, len(tasks)) > 1 else ''}"
    )
    tick = counter(len(tasks), unit="files")
    lock = outdir.lock_path(
        Path(os.path.abspath(cfg.outputs))
    )  # ends with this process, not with its workers
    results = run_tasks(tasks, workers=n, done=lambda r: tick(), release=[lock])
    if task_stats is not None:
        task_stats.extend(results)
    written: dict[str, Path] = {}
    for r in results:  # in the tasks' order, whatever order they ended in
        written.update(r.value or {})
    if maps:
        from childspace.run import writing_maps

        progress("报告 HTML report")
        written["report"] = writing_maps.write_report(res, cfg, out, tables, written, captions)
    return written
