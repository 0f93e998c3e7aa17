"""The file outputs of a county run, stage by stage: GeoPackage layers, the two GeoPackages, CSV tables, workbook.

Input: a pickle of ``(cfg, Results)`` as :func:`childspace.run.pipeline.run_analyses` returns them (e.g. the
county of ``scripts/make_county.py``). Runs what :func:`childspace.run.writing._write_files` runs for these files
(without the maps) into ``--out`` and prints, per stage, wall s, CPU s (``time.process_time``), the highest RSS
sampled during the stage and the size of what was written; ``--layers`` also times each GeoPackage layer.

Usage::

    python benchmarks/bench_gpkg.py --results /tmp/county/cache/results.pkl --out /tmp/gpkg/run
"""

from __future__ import annotations

import argparse
import json
import pickle
import threading
import time
from pathlib import Path
from typing import Any

import psutil


class _Peak:
    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def reset(self) -> None:
        self.peak = self.proc.memory_info().rss


def _size(p: Any) -> int:
    p = Path(p)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return p.stat().st_size if p.exists() else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="/tmp/county/cache/results.pkl")
    ap.add_argument("--out", default="/tmp/gpkg/run")
    ap.add_argument("--json", help="save the table here")
    args = ap.parse_args()

    import pandas as pd

    from childspace.outputs import report
    from childspace.run import writing

    with open(args.results, "rb") as f:
        cfg, res = pickle.load(f)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    peak = _Peak()
    rows: list[dict[str, Any]] = []

    def stage(name: str, fn: Any, path: Any = None) -> Any:
        peak.reset()
        w, c = time.perf_counter(), time.process_time()
        r = fn()
        rows.append(
            {
                "stage": name,
                "wall_s": round(time.perf_counter() - w, 2),
                "cpu_s": round(time.process_time() - c, 2),
                "peak_rss_gb": round(peak.peak / 1e9, 2),
                "mb": None if path == "" else round(_size(path if path is not None else r) / 1e6, 1),
            }
        )
        print(rows[-1], flush=True)
        return r

    layers = stage("_gpkg_layers", lambda: writing._gpkg_layers(res, cfg), path="")
    style = {"target_pct": cfg.target_pct, "categories": cfg.categories}
    stage("childspace.gpkg", lambda: writing.write_geopackage(out / "childspace.gpkg", layers, **style))
    local = writing._local_crs(res)
    stage(
        "childspace_local.gpkg",
        lambda: writing.write_geopackage(out / "childspace_local.gpkg", layers, crs=local, **style),
    )
    layers.clear()
    # the tables as _write_files collects them (CSV + workbook)
    tables: dict[str, pd.DataFrame] = {}
    for key in ("township_coverage", "community_coverage", "township_life_circles", "community_life_circles"):
        if key in res.tables:
            tables[key] = res.tables[key]
    if "pilots" in res.layers:
        tables["pilot_units"] = pd.DataFrame(res.layers["pilots"].drop(columns="geometry"))
    for key in ("schools", "routes"):
        if key in res.tables:
            tables[key] = res.tables[key]
    if "hazards" in res.layers:
        tables["hazards"] = report.hazard_table(res.layers["hazards"], res.layers.get("facilities"))
    for key in ("school_zones", "gaps"):
        if key in res.layers:
            tables[key] = pd.DataFrame(res.layers[key].drop(columns="geometry"))
    for key in ("township_minimums", "datum_check", "indicators", "venues_missing_room", "osm_facilities"):
        if key in res.tables:
            tables[key] = res.tables[key]
    tables = stage(
        "_for_file (tables)", lambda: {k: writing._for_file(v) for k, v in tables.items()}, path=""
    )
    (out / "tables").mkdir(exist_ok=True)
    stage(
        "write_csv_tables",
        lambda: report.write_csv_tables(out / "tables", tables, bilingual=True),
        path=out / "tables",
    )
    sheets = {}
    for k, v in tables.items():
        if len(v) > writing.WORKBOOK_MAX_ROWS:
            v = pd.DataFrame({"note": [f"tables/{k}.csv"]})
        sheets[report.SHEET_NAMES.get(k, k)] = v
    about = report.WorkbookAbout(title=cfg.name, synthetic=cfg.synthetic, categories=cfg.categories)
    stage("write_excel", lambda: report.write_excel(out / "childspace.xlsx", sheets, about=about))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
