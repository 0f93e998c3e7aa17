"""End-to-end county benchmark: ``childspace report`` from the PBF to every output, stage by stage.

Input: the folder written by ``scripts/make_county.py`` (made here with ``--make`` if missing). The run is
:func:`childspace.run.pipeline.run_all` on the folder's ``county.toml``, exactly as ``childspace report`` runs it;
each stage is timed by wrapping the public library function the pipeline calls (the pipeline has no stage hooks),
counting only the outermost wrapped call (a function called inside another stage belongs to that stage). Per stage:
wall s, CPU s (all threads of this process but the sampling ones), the highest RSS of this process during the
stage (the kernel's high-water mark ``VmHWM``, reset at each stage's start: nothing polls it), the highest memory
of the whole process tree (the sum of the PSS of this process and its children, sampled every second: pages
shared by forked workers counted once; reading the PSS of GB-sized processes costs the kernel CPU that the run
would otherwise have) and, for writers, the size of what was written. Whatever
the wrapped functions do not cover is the ``other`` row.

The routes are computed on another process beside the coverage (:meth:`childspace.run.writing.OutputRun.beside`):
their stages are measured there (RSS of that process; no tree figure) and listed with ``[other process]``; their
wall overlaps this process's rows, and their CPU is part of the workers' row, not added twice.

The output files are written as tasks (:mod:`childspace._forkpool`) on ``--workers`` processes, the maps of the
coverage already while the routes are computed: one row is this process's wait for the tasks still running when
the analyses end (with one process: all the tasks, run there), one the CPU of the worker processes (from
``RUSAGE_CHILDREN``; its wall is the span from the first task's start to the last one's end, beside the other
rows), and a second table lists each task as measured in the process that ran it (when it started, wall s, CPU
s, its peak RSS, pages shared with the parent included).

In the same process, after the run, a reference for each heavy stage, so the ratio travels between machines:

* parse: a bare pyosmium pass over the PBF with a node-location index for the ways (``osmium.apply`` with C++
  handlers only), against ``read_osm``;
* coverage: raw scipy (cKDTree snap of homes and facilities to the nearest network node, then one
  ``csgraph.dijkstra(min_only=True)`` per category on the network's own CSR), against ``origin_access``;
* routes: raw scipy (cKDTree snap, then per school category two ``dijkstra(min_only=True,
  return_predecessors=True)`` searches, one on lengths and one on a second weight array), against
  ``school_routes``.

Usage::

    python benchmarks/bench_county.py --data /tmp/county --make          # generate (once) and run
    python benchmarks/bench_county.py --data /tmp/county --json out.json # also save the table
    python benchmarks/bench_county.py --data /tmp/county --workers 1     # the outputs one after another
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
#: where the process computing the routes beside the coverage leaves its stage rows
OTHER_ROWS = Path(f"/tmp/bench_county_other_rows.{os.getpid()}.json")


def _hwm() -> int:
    """The highest RSS of this process since its start or the last reset (Linux ``VmHWM``), in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_hwm() -> bool:
    """Start a new ``VmHWM`` window (``/proc/self/clear_refs`` 5); False where that cannot be done."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Sampler:
    """Highest RSS of this process since the last ``reset`` (the kernel's high-water mark, reset at each stage;
    where it cannot be reset, sampled by a thread every ``dt`` s), and the highest memory of the process tree
    (the sum of the PSS of this process and its children, every ``tree_dt`` s; a page shared by forked
    processes counts once, split between them)."""

    def __init__(self, dt: float = 0.02, tree_dt: float | None = 1.0):
        self.proc = psutil.Process()
        self.peak = 0
        self.run_peak = 0  # the highest RSS of the whole run (the kernel's mark is reset at each stage)
        self.tree_peak = 0
        self.tree_run_peak = 0
        self.dt = dt
        self.tree_dt = tree_dt
        #: CPU seconds of the sampling threads themselves (reading /proc/PID/smaps of 4 GB processes costs),
        #: taken out of the stages' CPU so that the figures do not grow with the wall time
        self.own_cpu = [0.0, 0.0]
        self._stop = threading.Event()
        self.kernel_peak = _reset_hwm()
        threads = [] if self.kernel_peak else [self._run]
        if tree_dt:
            threads.append(self._run_tree)
        for target in threads:
            threading.Thread(target=target, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self.own_cpu[0] = time.thread_time()
            time.sleep(self.dt)

    def tree_pss(self) -> int:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_full_info().pss
            except psutil.Error:  # ended meanwhile
                pass
        return total

    def _run_tree(self) -> None:
        while not self._stop.is_set():
            v = self.tree_pss()
            self.tree_peak = max(self.tree_peak, v)
            self.tree_run_peak = max(self.tree_run_peak, v)
            self.own_cpu[1] = time.thread_time()
            time.sleep(self.tree_dt)

    def cpu(self) -> float:
        """CPU seconds of this process, without those of the sampling threads."""
        return time.process_time() - sum(self.own_cpu)

    def reset(self) -> None:
        self.tree_peak = 0
        if self.kernel_peak:
            self.run_peak = max(self.run_peak, _hwm())
            _reset_hwm()
            return
        self.peak = self.proc.memory_info().rss

    def read(self) -> int:
        if self.kernel_peak:
            v = _hwm()
            self.run_peak = max(self.run_peak, v)
            return v
        v = max(self.peak, self.proc.memory_info().rss)
        self.run_peak = max(self.run_peak, v)
        return v

    def read_tree(self) -> int:
        return max(self.tree_peak, self.tree_pss())

    def stop(self) -> None:
        self._stop.set()


def children_cpu() -> float:
    """CPU seconds of the ended (and waited for) child processes of this process."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Stages:
    """Timing wrappers around library functions; rows in call order."""

    def __init__(self, sampler: Sampler):
        self.s = sampler
        self.rows: list[dict] = []
        self.depth = 0
        self.pending: dict[str, list[float]] = {}  # builder time waiting for its save (maps, figures)
        self.captured: dict[str, object] = {}

    def wrap(self, owner: object, attr: str, label, kind: str = "stage", capture=None) -> None:
        if not hasattr(owner, attr):
            return
        orig = getattr(owner, attr)
        is_cm = isinstance(owner, type) and isinstance(owner.__dict__.get(attr), classmethod)
        func = owner.__dict__[attr].__func__ if is_cm else orig
        stages = self

        @functools.wraps(func)
        def timed(*args, **kwargs):
            if stages.depth:
                return func(*args, **kwargs)
            stages.depth += 1
            stages.s.reset()
            t, c = time.perf_counter(), stages.s.cpu()
            try:
                out = func(*args, **kwargs)
            finally:
                stages.depth -= 1
            wall, rss = time.perf_counter() - t, stages.s.read()
            cpu = stages.s.cpu() - c  # this process only: the workers' CPU is a row of its own
            if capture:
                capture(stages.captured, args, kwargs, out)
            name = label(args, kwargs, out) if callable(label) else label
            if kind == "build":
                p = stages.pending.setdefault(name, [0.0, 0.0, 0])
                p[0] += wall
                p[1] += cpu
                p[2] = max(p[2], rss)
            else:
                row = {
                    "stage": name,
                    "end": time.perf_counter(),
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "peak_rss_mb": rss / 2**20,
                    "tree_pss_mb": stages.s.read_tree() / 2**20,
                }
                if kind in ("map", "figure"):
                    b = stages.pending.pop(kind, [0.0, 0.0, 0])
                    row.update(
                        wall_s=wall + b[0],
                        cpu_s=cpu + b[1],
                        peak_rss_mb=max(rss, b[2]) / 2**20,
                        build_s=b[0],
                        save_s=wall,
                    )
                if isinstance(out, (str, Path)) and Path(out).is_file():
                    row["output"] = Path(out).name
                    row["size_mb"] = Path(out).stat().st_size / 2**20
                stages.rows.append(row)
            return out

        setattr(owner, attr, classmethod(timed) if is_cm else timed)


def _arg(args, kwargs, i, name, default=None):
    return kwargs.get(name, args[i] if len(args) > i else default)


def instrument(st: Stages) -> None:
    from childspace.analysis import coverage as cov
    from childspace.analysis import pilots as pil
    from childspace.analysis import routes as rt
    from childspace.analysis import safety
    from childspace.network import WalkNetwork
    from childspace.osm import features, reader
    from childspace.outputs import figures, maps, report
    from childspace.run import pipeline

    def cap_net(c, a, k, out):
        c.setdefault("net", out)

    def cap_access(c, a, k, out):
        c["origins"], c["facilities"] = a[0], a[1]
        c["categories"] = k.get("categories")

    def cap_routes(c, a, k, out):
        c["schools"] = a[2]

    st.wrap(pipeline, "load_inputs", "load inputs (boundaries, facilities, pilots, homes)")
    st.wrap(reader, "read_osm", "parse: read_osm (PBF -> nodes, edges)")
    if hasattr(pipeline, "origins_ready"):  # the origins file read on another process meanwhile
        st.wrap(pipeline, "origins_ready", "load inputs: the origins (read on another process)")
    st.wrap(WalkNetwork, "from_frames", "network: WalkNetwork.from_frames", capture=cap_net)
    st.wrap(features, "facilities_from_osm", "parse: OSM facilities")
    for mod, names in (
        (cov, ("origin_access",)),
        (pil, ("pilot_catchments", "pilot_status")),
        (safety, ("network_stress", "school_zones")),
        (rt, ("school_summary", "hazards", "walksheds")),
    ):
        for n in names:
            st.wrap(mod, n, f"analysis: {n}", capture=cap_access if n == "origin_access" else None)
    st.wrap(rt, "school_routes", "analysis: school_routes", capture=cap_routes)
    st.wrap(
        cov, "service_areas", lambda a, k, o: f"analysis: service_areas ({_arg(a, k, 3, 'method', 'walk')})"
    )
    st.wrap(
        cov, "service_areas_dissolved", "analysis: service_areas_dissolved (walk, per facility + dissolved)"
    )
    st.wrap(
        cov,
        "dissolve_service_areas",
        lambda a, k, o: f"analysis: dissolve_service_areas ({_arg(a, k, 3, 'method', 'walk')})",
    )
    for n in ("unit_coverage", "life_circles", "gaps", "facilities_per_unit"):
        st.wrap(cov, n, f"analysis: {n}")
    from childspace.analysis import checks

    st.wrap(checks, "datum_check", "analysis: datum_check")
    st.wrap(features, "merge_facilities", "analysis: merge_facilities")
    try:
        from childspace.run import plan_step

        st.wrap(plan_step, "add_indicators", "analysis: plan indicators and venues")
    except ImportError:
        pass
    st.wrap(pipeline, "summarise", "analysis: summary")
    # the routes computed on another process: their stages come back through a file
    if hasattr(pipeline, "_routes_apart"):
        orig_apart = pipeline._routes_apart

        def apart(*a, **k):
            # this (forked) process's own memory, its own CPU (the parent's sampling threads are not here)
            st.s = Sampler(tree_dt=None)
            first = len(st.rows)
            try:
                return orig_apart(*a, **k)
            finally:
                rows = [
                    dict(r, stage=f"[other process] {r['stage']}", parallel=True) for r in st.rows[first:]
                ]
                for r in rows:
                    r["tree_pss_mb"] = float("nan")
                st.s.stop()
                OTHER_ROWS.write_text(json.dumps(rows), encoding="utf-8")

        pipeline._routes_apart = apart
    from childspace.outputs import atlas
    from childspace.run import osm_inputs, writing

    st.wrap(osm_inputs, "basemap_from_osm", "parse: offline base map from the extract")
    # the output tasks: this process's wait for those not ended when the analyses are (on one process: all of
    # them, run here); each task is measured where it ran (task_stats), the workers' CPU is a row of its own
    from childspace._forkpool import TaskPool

    st.wrap(
        TaskPool,
        "join",
        lambda a, k, o: (
            f"output: waiting for the tasks ({len(o)} on "
            f"{a[0].workers if a[0].forked else 1} process(es)), all files but the report"
        ),
    )
    st.wrap(
        TaskPool,
        "wait_for",
        lambda a, k, o: (
            "analysis: waiting for the base map (read on another process)"
            if any("base map" in str(n) for n in _arg(a, k, 1, "names", ()))
            else "analysis: waiting for the routes (computed on the other process; maps meanwhile)"
            if any(str(n).startswith("analyses") for n in _arg(a, k, 1, "names", ()))
            else "output: waiting for the maps (the report links them)"
            if a[0].forked
            else "output: the tasks, here one after another (all files but the report)"
        ),
    )
    st.wrap(writing, "_gpkg_layers", "output: GeoPackage layers (this process, before the tasks)")
    st.wrap(writing, "_tables", "output: tables of the CSV, workbook and report (this process)")
    st.wrap(rt, "routes_table", "analysis: routes_table")
    st.wrap(writing, "write_geopackage", lambda a, k, o: f"output: GeoPackage {Path(a[0]).name}")
    st.wrap(atlas, "write_atlas", "output: atlas.pdf")
    st.wrap(report, "write_csv_tables", "output: CSV tables")
    st.wrap(report, "write_excel", "output: Excel workbook")
    st.wrap(report, "html_report", "output: report.html")
    st.wrap(maps, "stress_frames", "output: street stress frames (routes map)")
    for n in ("overview_map", "coverage_map", "pilot_map", "routes_map"):
        st.wrap(maps, n, "map", kind="build")
    for n in ("plot_overview", "plot_coverage", "plot_pilots", "plot_routes"):
        st.wrap(figures, n, "figure", kind="build")
    st.wrap(maps, "save_map", lambda a, k, o: f"output: map {Path(o).name}", kind="map")
    st.wrap(figures, "save_figure", lambda a, k, o: f"output: figure {Path(o).name}", kind="figure")


# ---------------------------------------------------------------------------------------------------------------
# same-run references
# ---------------------------------------------------------------------------------------------------------------
def timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t, time.process_time() - c, out


def ref_parse(pbf: Path) -> tuple[float, float]:
    import osmium
    import osmium.index

    def run():
        idx = osmium.index.create_map("flex_mem")
        loc = osmium.NodeLocationsForWays(idx)
        loc.ignore_errors()  # ways cut at the extract's edge
        osmium.apply(str(pbf), loc, osmium.filter.EntityFilter(osmium.osm.NODE | osmium.osm.WAY))

    w, c, _ = timed(run)
    return w, c


def _snap_nodes(net, gdf):
    import numpy as np
    from scipy.spatial import cKDTree

    g = gdf.to_crs(net.crs)
    xy = (
        np.c_[g.geometry.x.to_numpy(), g.geometry.y.to_numpy()]
        if g.geom_type.eq("Point").all()
        else np.c_[g.geometry.representative_point().x, g.geometry.representative_point().y]
    )
    return cKDTree(np.c_[net.x, net.y]).query(xy)[1]


def ref_coverage(net, origins, facilities, categories) -> tuple[float, float]:
    from scipy.sparse.csgraph import dijkstra

    def run():
        _snap_nodes(net, origins)
        cats = categories or sorted(facilities["category"].unique())
        for cat in cats:
            f = facilities[facilities["category"] == cat]
            if len(f):
                dijkstra(
                    net.csr, directed=False, indices=sorted(set(_snap_nodes(net, f).tolist())), min_only=True
                )

    w, c, _ = timed(run)
    return w, c


def ref_routes(net, origins, schools) -> tuple[float, float]:
    import numpy as np
    from scipy.sparse.csgraph import dijkstra

    def run():
        homes = _snap_nodes(net, origins)
        g2 = net.csr.copy()
        g2.data = g2.data * (1.0 + (np.arange(g2.data.size) % 4))  # a second weight array ("safest")
        for _, s in schools.groupby("category"):
            idx = sorted(set(_snap_nodes(net, s).tolist()))
            for g in (net.csr, g2):
                d, _pred, src = dijkstra(
                    g, directed=False, indices=idx, min_only=True, return_predecessors=True
                )
                _ = d[homes], src[homes]

    w, c, _ = timed(run)
    return w, c


# ---------------------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/county"), help="folder of scripts/make_county.py")
    ap.add_argument(
        "--make", action="store_true", help="run scripts/make_county.py first if the folder is empty"
    )
    ap.add_argument("--outputs", type=Path, help="output folder (default DATA/outputs)")
    ap.add_argument("--no-maps", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    ap.add_argument(
        "--tree-every",
        type=float,
        default=1.0,
        help="seconds between samples of the process tree's PSS (default 1; each sample makes the kernel walk "
        "every process's page tables, CPU that two cores share with the run)",
    )
    ap.add_argument(
        "--workers", type=int, help="processes writing the outputs (default: the config's, else 2; 1: serial)"
    )
    args = ap.parse_args()
    cfg_path = args.data / "county.toml"
    if not cfg_path.exists():
        if not args.make:
            sys.exit(f"{cfg_path} not found: run scripts/make_county.py --out {args.data} (or pass --make)")
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "make_county.py"), "--out", str(args.data)], check=True
        )

    from childspace.run import pipeline

    sampler = Sampler(tree_dt=args.tree_every)
    st = Stages(sampler)
    instrument(st)
    cfg = pipeline.load_config(cfg_path, outputs=args.outputs or args.data / "outputs")
    load0 = os.getloadavg()
    t0, c0, cc0 = time.perf_counter(), sampler.cpu(), children_cpu()
    epoch0 = time.time()
    tasks: list = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = pipeline.run_all(cfg, maps=not args.no_maps, workers=args.workers, task_stats=tasks)
    wall, cpu = time.perf_counter() - t0, sampler.cpu() - c0 + children_cpu() - cc0
    if OTHER_ROWS.exists():  # the stages of the routes computed on another process (their CPU: workers' row)
        other = json.loads(OTHER_ROWS.read_text(encoding="utf-8"))
        OTHER_ROWS.unlink()
        st.rows.extend(other)
        st.rows.sort(key=lambda r: r.get("end", float("inf")))
    sampling_cpu = sum(sampler.own_cpu)
    load1 = os.getloadavg()
    peak = (
        max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, sampler.run_peak, sampler.read())
        / 2**20
    )
    # tasks run here (one process) reset the kernel's mark for their own measurement: their peaks count too
    peak = max([peak, *(r.peak_rss_mb for r in tasks if r.pid == os.getpid())])
    tree_peak = max(sampler.tree_run_peak, sampler.tree_pss()) / 2**20
    analyses_end = max((r["end"] for r in st.rows if r["stage"].startswith("analysis:")), default=t0)
    covered_w = sum(r["wall_s"] for r in st.rows if not r.get("parallel"))
    covered_c = sum(r["cpu_s"] for r in st.rows if not r.get("parallel"))
    workers_cpu = children_cpu() - cc0
    forked = [r for r in tasks if r.pid != os.getpid()]
    if forked:  # tasks on forked processes, beside the rows above (their wall overlaps them)
        starts = [r.start for r in forked]
        span = max(r.start + r.wall_s for r in forked) - min(starts)
        st.rows.append(
            {
                "stage": f"{len(forked)} tasks on worker processes (CPU of the workers; wall: span)",
                "wall_s": span,
                "cpu_s": workers_cpu,
                "peak_rss_mb": max(r.peak_rss_mb for r in forked),
                "tree_pss_mb": float("nan"),
                "parallel": True,
            }
        )
        covered_c += workers_cpu
    st.rows.append(
        {
            "stage": "other (pipeline glue, not wrapped)",
            "wall_s": wall - covered_w,
            "cpu_s": cpu - covered_c,
            "peak_rss_mb": float("nan"),
            "tree_pss_mb": float("nan"),
        }
    )

    # references, after the run (same process, same machine state)
    c = st.captured
    refs = {}
    w, cc = ref_parse(cfg.osm)
    refs["parse: read_osm (PBF -> nodes, edges)"] = ("bare pyosmium pass + node locations", w, cc)
    if "origins" in c:
        w, cc = ref_coverage(c["net"], c["origins"], c["facilities"], c["categories"])
        refs["analysis: origin_access"] = ("raw scipy: KD-tree snap + dijkstra min_only per category", w, cc)
    if "schools" in c:
        w, cc = ref_routes(c["net"], c["origins"], c["schools"])
        refs["analysis: school_routes"] = ("raw scipy: KD-tree snap + 2 dijkstra per school category", w, cc)
    sampler.stop()

    net = c.get("net")
    print(
        f"\ncounty: {args.data}  PBF {cfg.osm.stat().st_size / 2**20:.1f} MB; network "
        f"{getattr(net, 'n_nodes', 0):,} nodes, {getattr(net, 'n_edges', 0):,} edges; "
        f"homes {len(c['origins']) if 'origins' in c else 0:,}; "
        f"facilities {len(c['facilities']) if 'facilities' in c else 0:,}"
    )
    print(
        f"CPUs {os.cpu_count()}; load average at start {load0[0]:.1f}, at end {load1[0]:.1f}; the memory "
        f"sampling threads' own {sampling_cpu:.1f} CPU s are left out of the figures"
    )
    hdr = (
        f"{'stage':<58} {'wall s':>7} {'CPU s':>7} {'RSS MB':>7} {'tree MB':>7} {'size MB':>8}  "
        "reference (wall / CPU s)  ratio"
    )
    print(hdr)
    print("-" * len(hdr))
    for r in st.rows:
        ref = refs.get(r["stage"])
        rtxt = f"{ref[1]:6.2f} / {ref[2]:6.2f}   {r['wall_s'] / ref[1]:5.1f}x" if ref else ""
        if ref:
            r.update(
                reference=ref[0],
                ref_wall_s=ref[1],
                ref_cpu_s=ref[2],
                ratio_wall=r["wall_s"] / ref[1],
                ratio_cpu=r["cpu_s"] / max(ref[2], 1e-9),
            )
        size = f"{r['size_mb']:8.1f}" if "size_mb" in r else " " * 8
        print(
            f"{r['stage'][:58]:<58} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} {r['peak_rss_mb']:7.0f} "
            f"{r['tree_pss_mb']:7.0f} {size}  {rtxt}"
        )
    print("-" * len(hdr))
    print(
        f"{'total (run_all; CPU of all processes)':<58} {wall:7.2f} {cpu:7.2f} {peak:7.0f} {tree_peak:7.0f}"
    )
    for name, (what, w, cc) in refs.items():
        print(f"reference for {name}: {what}: {w:.2f} s wall, {cc:.2f} s CPU")

    sizes = {k: Path(p).stat().st_size / 2**20 for k, p in written.items() if Path(p).is_file()}
    task_rows = [
        {
            "task": r.name,
            "wall_s": r.wall_s,
            "cpu_s": r.cpu_s,
            "peak_rss_mb": r.peak_rss_mb,
            "pid": r.pid,
            "start_s": r.start - epoch0,
            "size_mb": sum(sizes.get(k, 0.0) for k in (r.value if isinstance(r.value, dict) else {})),
        }
        for r in tasks
    ]
    if task_rows:
        print(
            f"\noutput tasks, each measured in the process that ran it ({len({r['pid'] for r in task_rows})} "
            "processes; start: s after the run's start; analyses ended at "
            f"{analyses_end - t0:.1f} s):"
        )
        print(f"  {'task':<60} {'start':>7} {'wall s':>7} {'CPU s':>7} {'RSS MB':>7} {'size MB':>8}")
        for r in task_rows:
            print(
                f"  {r['task'][:60]:<60} {r['start_s']:7.1f} {r['wall_s']:7.2f} {r['cpu_s']:7.2f} "
                f"{r['peak_rss_mb']:7.0f} {r['size_mb']:8.1f}  pid {r['pid']}"
            )
    gpkg = sizes.get("geopackage", float("nan"))
    html = {k: v for k, v in sizes.items() if k.startswith("map:")}
    biggest = max(html.items(), key=lambda kv: kv[1]) if html else ("-", 0.0)
    print(
        f"\noutputs: {len(sizes)} files, {sum(sizes.values()):.1f} MB; GeoPackage {gpkg:.1f} MB; "
        f"largest map {biggest[0]} {biggest[1]:.1f} MB; maps over 5 MB: "
        f"{', '.join(f'{k[4:]} {v:.0f}' for k, v in sorted(html.items(), key=lambda kv: -kv[1]) if v > 5) or 'none'}"
    )
    targets = [
        ("end to end < 60 s wall", wall < 60, f"{wall:.1f} s"),
        ("peak RSS < 4 GB", peak < 4096, f"{peak / 1024:.2f} GB"),
        ("peak memory of the process tree (PSS) < 4 GB", tree_peak < 4096, f"{tree_peak / 1024:.2f} GB"),
        ("GeoPackage < 200 MB", gpkg < 200, f"{gpkg:.1f} MB"),
        ("every HTML map < 5 MB", biggest[1] < 5, f"largest {biggest[1]:.1f} MB"),
    ]
    for what, ok, fig in targets:
        print(f"  {'PASS' if ok else 'FAIL'}  {what}: {fig}")
    kinds: dict[str, int] = {}
    for w_ in caught:
        key = str(w_.message).split(":")[0][:70]
        kinds[key] = kinds.get(key, 0) + 1
    if kinds:
        print(f"warnings during the run: {sum(kinds.values())} ({len(kinds)} kinds)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rows": st.rows,
                    "total": {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak, "tree_pss_mb": tree_peak},
                    "workers": args.workers,
                    "tasks": task_rows,
                    "load": [load0, load1],
                    "sizes_mb": sizes,
                    "references": {k: list(v) for k, v in refs.items()},
                },
                indent=1,
                default=str,
            ),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
