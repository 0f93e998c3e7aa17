"""Writing a run's outputs: the GeoPackage, CSV tables, Excel workbook, HTML/PNG maps, atlas and HTML report.

The only place files of a run are written: into a staging folder swapped in when complete
(:mod:`childspace.run.outdir`), each through a temporary file and a rename. :mod:`childspace.run.pipeline`
calls it and re-exports :func:`write_outputs` and :func:`write_geopackage`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from childspace import _handoff as handoff
from childspace._forkpool import Task, TaskPool, TaskResult, can_fork, default_workers
from childspace._progress import counter
from childspace.run import outdir
from childspace.run.config import RunConfig
from childspace.run.results import Progress, Results, _quiet


def _for_file(df: Any) -> Any:
    """A copy whose non-geometry columns are plain scalars (:func:`childspace.outputs.geopackage.plain_columns`)."""
    from childspace.outputs.geopackage import plain_columns

    return plain_columns(df)


#: tables longer than this go to their CSV file only; the workbook's sheet says where (a county's per-home
#: routes table has ~600,000 rows: slow to write cell by cell, and no planner scrolls it)
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

        layers["routes"] = routes_per_home(layers["routes"], table=res.tables.get("routes"))
    if inp.pilots is not None and "pilots" not in layers:
        layers["pilots"] = inp.pilots
    if inp.origins is not None and "access" not in layers:
        layers["origins"] = inp.origins
    if res.network is not None and res.stress is not None:
        from childspace.analysis.streets import stress_frames

        try:
            edges, crossings = stress_frames(res.network, res.stress)
            edges = _children_per_street(edges, res.layers.get("routes"))
            layers.update(geopackage.street_stress_layers(edges, crossings))
        except Exception as exc:  # noqa: BLE001 - the other layers are still written
            warnings.warn(
                f"the street-stress layers were not written: {type(exc).__name__}: {exc}",
                ChildspaceWarning,
                stacklevel=2,
            )
    return geopackage.prepare_layers(layers)


def _children_per_street(edges: Any, routes: Any) -> Any:
    """``edges`` (:func:`childspace.analysis.streets.stress_frames`) with the children walking each street on the
    safest and on the shortest routes to school (``children_safest``, ``children_shortest``; 0: none), when
    the routes carry their edge sequences: the street layer then answers "how many children walk here".

    A home's children are counted once on a street, however many of its routes (to its primary and to its
    middle school) walk it, so no street shows more children than live in the homes routed; with several school
    categories, ``children_safest_<category>`` and ``children_shortest_<category>`` (e.g.
    ``children_safest_primary_school``) give the children on the routes to each kind of school (these may add
    up to more than ``children_safest``: the same children)."""
    if routes is None or routes.attrs.get("childspace_routes") is None or "route" not in routes.columns:
        return edges
    from childspace.analysis.streets import children_per_edge, route_categories

    kinds = set(routes["route"].astype(str).unique())
    cats = route_categories(routes)
    out = edges.copy(deep=False)
    at = list(out.columns).index("level") + 1  # beside the street's stress
    pos = out["edge"].to_numpy()
    for kind in ("safest", "shortest"):
        if kind not in kinds:
            continue
        out.insert(at, f"children_{kind}", children_per_edge(routes, len(edges), kind)[pos])
        at += 1
        for c in cats if len(cats) > 1 else ():
            out.insert(at, f"children_{kind}_{c}", children_per_edge(routes, len(edges), kind, c)[pos])
            at += 1
    return out


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
    :class:`OutputRun` does the same while the analyses are still running (``childspace report``).
    """
    with OutputRun(
        cfg, maps=maps, progress=progress, wait=wait, workers=workers, task_stats=task_stats
    ) as run:
        return run.finish(res)


class OutputRun:
    """A run's outputs, started while its analyses go on: the maps of the coverage are written on another
    process while this one computes the routes, the other files once everything is computed.

    Use::

        with OutputRun(cfg, workers=2) as w:
            res = run_analyses(cfg, progress=w.progress, ready=w.ready, beside=w.beside)
            written = w.finish(res)

    Entering it takes the output folder's staging folder (:func:`childspace.run.outdir.staged`); leaving it
    with an error (an analysis or a task failed, Ctrl+C) ends the worker processes and deletes the staging
    folder: the output folder is left as it was. ``progress`` (pass it to the analyses) also collects the
    tasks that ended between two steps, raising a failed one's error at once. On one process (``workers=1``,
    or where tasks cannot run on forked processes) every file is written in :meth:`finish`, as before.
    """

    def __init__(
        self,
        cfg: RunConfig,
        maps: bool = True,
        progress: Progress = _quiet,
        wait: bool = False,
        workers: int | None = None,
        task_stats: list[TaskResult] | None = None,
    ) -> None:
        self.cfg, self.maps, self._progress, self.wait = cfg, maps, progress, wait
        self.out = Path(os.path.abspath(cfg.outputs))
        self.workers = resolve_workers(cfg, workers)
        self.task_stats = task_stats
        self._stack = ExitStack()
        self.stage = self.out
        self.pool = TaskPool(1)
        self._started: set[str] = set()  # the tasks given to the pool before finish (by name)
        self._base: Any = None
        self._base_layers: Callable[[], Any] | None = None  # waits for the base map read on another process
        self._beside: list[str] = []  # the analyses given to the pool (:meth:`beside`), by task name
        self._beside_stats: list[TaskResult] = []

    def __enter__(self) -> OutputRun:
        with ExitStack() as stack:
            self.stage = stack.enter_context(
                outdir.staged(
                    self.out,
                    info=_manifest_info(self.cfg, self.maps),
                    wait=self.wait,
                    progress=self._progress,
                )
            )
            lock = outdir.lock_path(self.out)  # ends with this process, not with its workers
            n = self.workers if can_fork() else 1
            self.pool = stack.enter_context(TaskPool(n, release=[lock]))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._stack.__exit__(*exc)

    def progress(self, msg: str) -> None:
        """The analyses' progress callback: collects the tasks that ended (a failure is raised here), then says
        ``msg``."""
        self.pool.poll()
        self._progress(msg)

    def loaded(self, inp: Any) -> None:
        """The inputs are read (the study area known): the maps' base map (a second pass over the OSM extract,
        :func:`childspace.run.osm_inputs.basemap_from_osm`) is read on another process now, while this one
        builds the network and computes the coverage (only when the maps are written on more than one)."""
        if not (self.maps and self.pool.forked and getattr(self.cfg, "osm", None) is not None):
            return
        from childspace.run.osm_inputs import basemap_from_osm

        cfg = self.cfg
        self._base_layers = self.beside(
            lambda: basemap_from_osm(cfg, inp), "analyses: base map (read beside the network)"
        )

    def ready(self, res: Results) -> None:
        """The coverage is computed (``res``: its results, the routes not yet): its maps, the pilots' and venues'
        maps and the atlas start on another process (only when the outputs run on more than one)."""
        if not (self.maps and self.pool.forked):
            return
        from childspace.run import writing_maps

        layers = self._base_layers() if self._base_layers is not None else None
        self._base = writing_maps.basemap(res, self.cfg, layers=layers)
        tasks, _ = writing_maps.map_tasks(res, self.cfg, self.stage, base=self._base)
        if tasks:
            self._progress(
                f"地图 Maps: {len(tasks)} 项在分析的同时写出 {len(tasks)} maps written while the analyses go on"
            )
            self.pool.submit(tasks)
            self._started = {t.name for t in tasks}

    def beside(
        self, fn: Callable[[], Any], name: str = "analyses", now: bool = True
    ) -> Callable[[], Any] | None:
        """Start ``fn`` on another process (when the outputs run on more than one); returns a function that
        waits for its value and returns it, or None on one process (then compute it here, in order).

        ``now`` (default): it starts at once, on a process of its own even when another task already runs
        beside this one (the analyses computed beside are on the run's critical path: e.g. the routes, while
        the base map is still being read); False: when a process is free (one runs beside this one while it
        computes).

        The value goes back through a file in the staging folder (:mod:`childspace._handoff`: its arrays are
        mapped, not read, then the file is deleted), not through the pipe, so that neither process holds it
        twice; the task's warnings are raised here and its error is raised here as soon as it is known (at the
        next ``progress``)."""
        if not self.pool.forked:
            return None
        name = f"{name} ({len(self._beside) + 1})" if name in self._beside else name
        stage = self.stage

        def run() -> str:
            value = fn()
            fd, path = tempfile.mkstemp(prefix=".beside.", suffix=".handoff", dir=stage)
            os.close(fd)
            handoff.dump(value, path)
            return path

        self.pool.submit([Task(name, run, weight=1000)])
        if now:
            self.pool.start_now()
        self._beside.append(name)

        def wait() -> Any:
            self.pool.wait_for({name})
            r = next(x for x in self.pool.results() if x.name == name)
            self._beside_stats.append(r)
            path = Path(r.value)
            try:
                return handoff.load(path)
            finally:
                path.unlink(missing_ok=True)

        return wait

    def finish(self, res: Results) -> dict[str, Path]:
        """Write the other files of ``res`` (the whole run's results), wait for every task, write the report;
        returns the files (their paths in the output folder, where they are once the block ends)."""
        self._progress(f"写出 Writing {self.out}")
        written = _write_files(
            res,
            self.cfg,
            self.stage,
            maps=self.maps,
            progress=self._progress,
            pool=self.pool,
            started=self._started,
            base=self._base,
            task_stats=self.task_stats,
        )
        if self.task_stats is not None:  # the analyses computed on another process (:meth:`beside`), first
            self.task_stats[:0] = self._beside_stats
        return {k: self.out / p.relative_to(self.stage) for k, p in written.items()}


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
    if "routes" in res.tables:  # whole children per home that add up to the school table's counts
        from childspace.analysis.route_tables import whole_children

        tables["routes"] = whole_children(res.tables["routes"])
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
    pool: TaskPool | None = None,
    started: set[str] | frozenset[str] = frozenset(),
    base: Any = None,
) -> dict[str, Path]:
    """Write every output file under ``out`` (the staging folder): the independent tasks, then the report.

    ``pool``: the pool of the run (its tasks named in ``started`` were given to it before, on the results of
    the coverage), else one of ``workers`` processes; ``base``: the maps' base map, when made before."""
    from childspace.outputs.geopackage import is_cgcs2000

    if pool is None:
        lock = outdir.lock_path(Path(os.path.abspath(cfg.outputs)))  # ends with this process, not its workers
        with TaskPool(workers if can_fork() else 1, release=[lock]) as own:
            return _write_files(res, cfg, out, maps, progress, task_stats=task_stats, pool=own, base=base)
    captions: dict[str, str] = {}
    map_list: list[Task] = []
    if maps:
        from childspace.run import writing_maps

        progress("地图 Maps (HTML and PNG)")
        map_list, captions = writing_maps.map_tasks(res, cfg, out, base=base)
        if pool.forked:  # the routes map starts now, while this process makes the GeoPackages' layers
            pool.submit([t for t in map_list if t.name not in started])
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
    pool.submit(tasks if pool.forked else tasks + map_list)  # one process: in this order, as a plain loop
    tasks += map_list
    n = pool.workers if pool.forked else 1
    progress(
        f"写出 {len(tasks)} 项 Writing {len(tasks)} outputs (GeoPackages, tables"
        + (", maps, atlas" if maps else "")
        + f") on {min(n, len(tasks))} process{'es' if min(n, len(tasks)) > 1 else ''}"
    )
    tick = counter(len(tasks), unit="files")
    for _ in pool.results():  # ended before this stage
        tick()
    pool.done = lambda r: tick()
    report = None
    if maps:  # the report links the maps and figures: written once they are, beside the GeoPackages
        from childspace.run import writing_maps

        pool.wait_for({t.name for t in map_list})
        by_name = {r.name: r for r in pool.results()}
        drawn: dict[str, Path] = {}
        for t in map_list:
            drawn.update(by_name[t.name].value or {})
        progress("报告 HTML report")
        report = writing_maps.write_report(res, cfg, out, tables, drawn, captions)
    by_name = {r.name: r for r in pool.join()}
    results = [by_name[t.name] for t in tasks]  # in the tasks' order, whatever order they ended in
    if task_stats is not None:
        task_stats.extend(results)
    written: dict[str, Path] = {}
    for r in results:
        written.update(r.value or {})
    if report is not None:
        written["report"] = report
    return written
