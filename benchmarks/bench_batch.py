"""``childspace batch`` on the synthetic province of scripts/make_county.py: 1 worker against 2 workers.

The folder of ``make_county.py`` holds ``province.toml`` (``counties.gpkg``: the county area cut into 4 x 2
rectangles, ``county.toml`` as the template of every county). Each worker count runs from scratch into its own
output folder (the split of the inputs included) on a Dask LocalCluster of single-threaded worker processes.
Prints wall time, the sum of the counties' CPU time, and each worker's peak RSS (``ru_maxrss`` of the worker
process, read by the county tasks). Usage::

    python benchmarks/bench_batch.py --data /tmp/county [--workers 1 2] [--maps]
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
import warnings
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("/tmp/county"))
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument(
        "--maps", action="store_true", help="also draw every county's maps (default: tables only)"
    )
    args = ap.parse_args()
    from childspace.run import batch

    rows = []
    for n in args.workers:
        out = args.data / f"province_outputs_w{n}"
        shutil.rmtree(out, ignore_errors=True)
        pc = batch.load_province(args.data / "province.toml", outputs=out)
        pc.maps = args.maps
        pc.cluster.update(processes=True, threads_per_worker=1)
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = batch.run_batch(pc, workers=n, progress=lambda m: print(m, flush=True))
        wall = time.perf_counter() - t
        per_worker: dict[int, float] = {}
        for s in res.statuses:
            per_worker[s.get("worker", 0)] = max(
                per_worker.get(s.get("worker", 0), 0.0), s.get("worker_peak_rss_mb") or 0.0
            )
        rows.append(
            (
                n,
                wall,
                sum(s.get("cpu_s") or 0 for s in res.statuses),
                max(s.get("wall_s") or 0 for s in res.statuses),
                sorted(per_worker.values()),
                len(res.failed),
                load0,
                os.getloadavg()[0],
            )
        )
    print(
        f"\n{'workers':>7} {'wall s':>8} {'county CPU s':>12} {'slowest county s':>16}  worker peak RSS MB"
        "          failed  load start/end"
    )
    for n, wall, cpu, slow, rss, failed, l0, l1 in rows:
        print(
            f"{n:>7} {wall:8.1f} {cpu:12.1f} {slow:16.1f}  {', '.join(f'{v:.0f}' for v in rss):<26}"
            f"  {failed:>6}  {l0:.1f} / {l1:.1f}"
        )
    if len(rows) >= 2:
        print(f"speed-up {rows[0][0]} -> {rows[1][0]} workers: {rows[0][1] / rows[1][1]:.2f}x")


if __name__ == "__main__":
    main()
