"""Benchmark of childspace.analysis.coverage on a synthetic county-scale street lattice.

Goals (issue "Service-radius coverage and gaps"):
* county scale: 200k nodes, 500k origins, 2,000 facilities, all categories (origin access + dissolved walking
  service areas) < 5 s;
* 2,000 per-facility walking service-area polygons < 10 s;
* the county case within 3x of a same-run reference: raw scipy on the same network and points (cKDTree snap of
  origins and facilities to the nearest node, one ``csgraph.dijkstra(min_only=True)`` per category on the
  network's own CSR; ``bench_county.ref_coverage``), timed before and after the childspace calls in the same
  process (the better of the two counts), so the ratio travels between machines where seconds do not.

Usage: ``python benchmarks/bench_coverage.py [--nodes 200000] [--origins 500000] [--facilities 2000]
[--engine auto|vector|raster]``.
Building the lattice (WalkNetwork.from_frames) is not timed.

Recorded (2-core machine shared with other jobs; raster engine with 7.5 m cells where ``engine="auto"`` picks it;
"first" = the first version, "shared" = the last figures that missed the county goal, "local" = snapping on the 2 x 2
nearest cells, one shared thread pool, contourpy generators made directly, raster above 5,000 pieces, bounded
searches on local windows and 4M-cell mosaics for the per-facility areas; five runs; see docs/benchmarks.md):

step (wall s / CPU s)           first  shared (2 runs)         local (5 runs)                                       goal
origin_access, all categories   11.1   2.5 / 3.8, 2.2 / 3.2    1.75 / 2.7, 1.78 / 2.7, 1.72 / 2.7, 1.85 / 2.8, 1.62 / 2.6
dissolve, all categories        66.0   3.6 / 5.7, 3.6 / 5.7    2.14 / 3.3, 2.16 / 3.1, 2.18 / 3.0, 2.23 / 3.4, 2.13 / 3.0
county total                    77.1   6.0 / 9.5, 5.8 / 9.0    3.90 / 5.9, 3.94 / 5.8, 3.89 / 5.7, 4.08 / 6.2, 3.75 / 5.6  < 5
service_areas, 2,000 polygons  126.7   8.9 / 8.9, 9.1 / 9.1    3.97 / 4.4, 4.00 / 4.4, 4.01 / 4.4, 4.03 / 4.4, 3.99 / 4.4  < 10
(load average 1.1–1.3 at the end of the "local" runs)
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import geopandas as gpd
import numpy as np
import shapely
from bench_county import ref_coverage
from pyproj import Transformer

from childspace.analysis import coverage as cv
from childspace.inputs.standards import CATEGORIES
from childspace.network.engine import WalkNetwork

M = "EPSG:4549"


def lattice(n_nodes: int, spacing: float = 100.0) -> WalkNetwork:
    side = int(round(np.sqrt(n_nodes)))
    x0, y0 = Transformer.from_crs("EPSG:4326", M, always_xy=True).transform(120.98, 28.12)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    ids = (ii * side + jj).ravel().astype(np.int64) + 1
    x = x0 + ii.ravel() * spacing
    y = y0 + jj.ravel() * spacing
    nodes = gpd.GeoDataFrame(index=ids, geometry=shapely.points(x, y), crs=M)
    nodes.index.name = "osmid"
    idx = ii * side + jj
    u = np.r_[idx[:-1, :].ravel(), idx[:, :-1].ravel()]
    v = np.r_[idx[1:, :].ravel(), idx[:, 1:].ravel()]
    geom = shapely.linestrings(np.stack([np.c_[x[u], y[u]], np.c_[x[v], y[v]]], axis=1))
    edges = gpd.GeoDataFrame(
        {"u": ids[u], "v": ids[v], "key": 0, "highway": "residential"}, geometry=geom, crs=M
    )
    nodes = nodes.to_crs(4326)
    nodes["x"], nodes["y"] = nodes.geometry.x, nodes.geometry.y
    return WalkNetwork.from_frames(nodes, edges.to_crs(4326), crs=M), (x.min(), y.min(), x.max(), y.max())


def random_points(bounds, n, rng) -> np.ndarray:
    x0, y0, x1, y1 = bounds
    return np.c_[rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=200_000)
    ap.add_argument("--origins", type=int, default=500_000)
    ap.add_argument("--facilities", type=int, default=2_000)
    ap.add_argument(
        "--engine",
        default="auto",
        choices=["auto", "vector", "raster"],
        help="engine of the walking service-area polygons (default auto)",
    )
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    t = time.perf_counter()
    net, bounds = lattice(args.nodes)
    print(f"setup: {net} built in {time.perf_counter() - t:.1f} s")
    oxy = random_points(bounds, args.origins, rng)
    origins = gpd.GeoDataFrame(
        {"origin_id": np.arange(args.origins).astype(str), "children": rng.integers(0, 6, args.origins)},
        geometry=shapely.points(oxy),
        crs=M,
    ).to_crs(4326)
    fxy = random_points(bounds, args.facilities, rng)
    cats = np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), args.facilities)]
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": [f"F{i}" for i in range(args.facilities)],
            "category": cats,
            "area_ha": rng.uniform(0.1, 2.0, args.facilities),
        },
        geometry=shapely.points(fxy),
        crs=M,
    ).to_crs(4326)
    rows = []

    def timed(fn):
        t, c = time.perf_counter(), time.process_time()
        res = fn()
        return res, time.perf_counter() - t, time.process_time() - c

    cats_present = sorted(set(cats))
    ref_before = ref_coverage(net, origins, facilities, cats_present)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc, t_acc, c_acc = timed(lambda: cv.origin_access(origins, facilities, net))
        dis, t_dis, c_dis = timed(lambda: cv.dissolve_service_areas(facilities, net, engine=args.engine))
        sa, t_sa, c_sa = timed(lambda: cv.service_areas(facilities, net, engine=args.engine))
    ref_after = ref_coverage(net, origins, facilities, cats_present)
    ref_w, ref_c = min(ref_before[0], ref_after[0]), min(ref_before[1], ref_after[1])
    rows.append(("origin_access, all categories (walk + line)", t_acc, c_acc, None))
    rows.append(("dissolve_service_areas, all categories (walk)", t_dis, c_dis, None))
    rows.append(("county total: access + dissolved areas", t_acc + t_dis, c_acc + c_dis, 5.0))
    rows.append((f"service_areas: {len(sa)} per-facility walking polygons", t_sa, c_sa, 10.0))
    print(
        f"\n{net.n_nodes:,} nodes, {net.n_edges:,} edges, {args.origins:,} origins, {args.facilities:,} "
        f"facilities, {len(set(cats))} categories; engine={args.engine} (dissolved: {dis.attrs.get('engine')}; "
        f"per facility: {sa.attrs.get('engine')}, {sa.attrs.get('pieces', 0):,} pieces)"
    )
    print(f"{'step':55s} {'wall s':>8s} {'CPU s':>8s} {'goal':>6s}  verdict (on wall time)  x reference")
    for name, sec, cpu, goal in rows:
        verdict = "" if goal is None else ("met" if sec < goal else "MISSED")
        print(
            f"{name:55s} {sec:8.2f} {cpu:8.2f} {'' if goal is None else f'<{goal:g}':>6s}  {verdict:22s} "
            f"{sec / ref_w:5.2f}x"
        )
    ratio = (t_acc + t_dis) / ref_w
    print(
        f"{'reference: raw scipy, KD-tree snap + dijkstra min_only':55s} {ref_w:8.2f} {ref_c:8.2f} "
        f"(before {ref_before[0]:.2f} s, after {ref_after[0]:.2f} s)"
    )
    print(
        f"county total / reference: {ratio:.2f}x wall, {(c_acc + c_dis) / ref_c:.2f}x CPU; goal <= 3x: "
        f"{'met' if ratio <= 3 else 'MISSED'}"
    )
    print(
        f"(load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores; "
        "CPU s counts both cores)"
    )
    covered = {c: float(acc[f"covered_walk_{c}"].mean()) for c in CATEGORIES if f"covered_walk_{c}" in acc}
    print("\nshare of origins covered by walking:", {k: round(v, 3) for k, v in covered.items()})
    print("dissolved area km2:", dict(zip(dis["category"], (dis["area_m2"] / 1e6).round(1))))


if __name__ == "__main__":
    main()
