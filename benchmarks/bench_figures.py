"""The figures stage of a county run, alone: the map tasks of ``childspace report`` (each HTML map with its PNG,
the print atlas) and the HTML report, drawn from cached analysis results.

Usage: ``python benchmarks/bench_figures.py --results /tmp/county/cache/results.pkl --out /tmp/figures/run``
(``results.pkl``: a pickle of ``(cfg, Results)`` of :func:`childspace.run.pipeline.run_analyses`; see
``benchmarks/bench_county.py``). ``--only atlas,coverage,overview,report`` runs the tasks whose name contains one
of the words. The tasks are the pipeline's own (:func:`childspace.run.writing_maps.map_tasks`), run one after
another in this process. Prints one line per task: wall s, CPU s (``time.process_time``), peak RSS so far, and
the size of the files written.
"""

from __future__ import annotations

import argparse
import pickle
import resource
import time
import warnings
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default="/tmp/county/cache/results.pkl")
    ap.add_argument("--out", default="/tmp/figures/run")
    ap.add_argument("--only", default="overview,coverage,atlas,report")
    args = ap.parse_args()
    only = [w for w in args.only.split(",") if w]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")

    from childspace.run import writing_maps
    from childspace.run.writing import _tables

    with open(args.results, "rb") as f:
        cfg, res = pickle.load(f)
    tasks, captions = writing_maps.map_tasks(res, cfg, out)
    written: dict[str, Path] = {}
    print(f"{'task':<64} {'wall s':>7} {'CPU s':>7} {'RSS MB':>7} {'size MB':>8}")

    def line(name: str, wall: float, cpu: float, paths: list[Path]) -> None:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        size = sum(p.stat().st_size for p in paths if p.is_file()) / 2**20
        print(f"{name[:64]:<64} {wall:7.2f} {cpu:7.2f} {rss:7.0f} {size:8.2f}", flush=True)

    for task in tasks:
        if not any(w in task.name for w in only):
            continue
        t, c = time.perf_counter(), time.process_time()
        got = task.run() or {}
        written.update(got)
        line(task.name, time.perf_counter() - t, time.process_time() - c, [Path(p) for p in got.values()])
    if "report" in only:
        t, c = time.perf_counter(), time.process_time()
        p = writing_maps.write_report(res, cfg, out, _tables(res), written, captions)
        line("report.html", time.perf_counter() - t, time.process_time() - c, [p])


if __name__ == "__main__":
    main()
