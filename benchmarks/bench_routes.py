"""Benchmark: safe routes to school at city scale (prints a table; not a test).

A synthetic grid walk network (default 448 x 448 = 200,704 nodes, 50 m spacing, in EPSG:4549) with a 4-lane
60 km/h primary road every 10th street (signals at every 3rd junction on it, no crossing elsewhere) and 30 km/h
residential streets in between; 100,000 random homes routed to the nearest of 150 primary schools (shortest and
safest acceptable routes with exact evaluation and geometry).

Run: ``python benchmarks/bench_routes.py [--side 448] [--origins 100000] [--schools 150] [--no-geometry]``

County case (issue 16): ``python benchmarks/bench_routes.py --county /tmp/county/cache/inputs_network.pkl
[--origins N] [--geometry]`` loads the cached county (``(cfg, inputs, network)`` pickled from the pipeline's
inputs and walk network, see ``scripts/make_county.py``), routes its homes (all, or a seeded sample of N) to the
primary and middle schools as the pipeline does (verdict range included), and prints CPU and wall seconds, the
peak RSS of the process (sampled every 20 ms) and the same-process raw-scipy reference (KD-tree snap to nodes,
then per school category two ``dijkstra(min_only, return_predecessors)`` searches: lengths and a second weight).

Wall and CPU seconds per step are printed: on a shared machine the CPU time of this (single-threaded) process
is the steadier figure.
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace.analysis.routes import hazards, school_routes, school_summary
from childspace.analysis.safety import network_stress
from childspace.network.engine import WalkNetwork

CRS = "EPSG:4549"
X0, Y0 = 590000.0, 3100000.0


def grid(side: int, spacing: float = 50.0) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    ids = (ii * side + jj).ravel() + 1
    x = X0 + jj.ravel() * spacing
    y = Y0 + ii.ravel() * spacing
    main_row = ii.ravel() % 10 == 0
    signals = main_row & (jj.ravel() % 30 == 0)
    nodes = gpd.GeoDataFrame(
        {
            "highway": np.where(signals, "traffic_signals", None),
            "crossing": np.where(signals, "traffic_signals", None),
        },
        geometry=shapely.points(x, y),
        index=pd.Index(ids, name="osmid"),
        crs=CRS,
    )
    # horizontal edges (rows) and vertical edges (columns)
    h_u = (ii[:, :-1] * side + jj[:, :-1]).ravel() + 1
    h_row = ii[:, :-1].ravel()
    v_u = (ii[:-1, :] * side + jj[:-1, :]).ravel() + 1
    u = np.concatenate([h_u, v_u])
    v = np.concatenate([h_u + 1, v_u + side])
    primary = np.concatenate([h_row % 10 == 0, np.zeros(v_u.size, dtype=bool)])
    edges = pd.DataFrame(
        {
            "u": u,
            "v": v,
            "key": 0,
            "osmid": np.where(
                primary, 1_000_000 + np.concatenate([h_row, np.zeros(v_u.size, int)]), np.arange(u.size)
            ),
            "highway": np.where(primary, "primary", "residential"),
            "maxspeed": np.where(primary, "60", "30"),
            "lanes": np.where(primary, "4", "2"),
            "sidewalk": np.where(primary, "no", "both"),
        }
    )
    edges["name"] = None
    xy = np.c_[nodes.geometry.x.to_numpy(), nodes.geometry.y.to_numpy()]
    geom = shapely.linestrings(np.stack([xy[u - 1], xy[v - 1]], axis=1))
    return nodes, gpd.GeoDataFrame(edges, geometry=geom, crs=CRS)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=448)
    ap.add_argument("--origins", type=int, default=100_000)
    ap.add_argument("--schools", type=int, default=150)
    ap.add_argument("--no-geometry", action="store_true")
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    t = {}
    c = {}
    t0, c0 = time.perf_counter(), time.process_time()
    nodes, edges = grid(a.side)
    t["build tables"] = time.perf_counter() - t0
    c["build tables"] = time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    net = WalkNetwork.from_frames(nodes, edges, crs=CRS)
    t["WalkNetwork.from_frames"] = time.perf_counter() - t0
    c["WalkNetwork.from_frames"] = time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    stress = network_stress(net)
    t["network_stress"] = time.perf_counter() - t0
    c["network_stress"] = time.process_time() - c0
    ext = (a.side - 1) * 50.0
    homes = gpd.GeoDataFrame(
        {"origin_id": [f"o{i}" for i in range(a.origins)], "children": rng.integers(0, 4, a.origins)},
        geometry=shapely.points(X0 + rng.uniform(0, ext, a.origins), Y0 + rng.uniform(0, ext, a.origins)),
        crs=CRS,
    )
    schools = gpd.GeoDataFrame(
        {
            "facility_id": [f"s{i}" for i in range(a.schools)],
            "name": [f"school {i}" for i in range(a.schools)],
            "category": "primary_school",
        },
        geometry=shapely.points(X0 + rng.uniform(0, ext, a.schools), Y0 + rng.uniform(0, ext, a.schools)),
        crs=CRS,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    routes = school_routes(
        net, homes, schools, categories="primary_school", stress=stress, geometry=not a.no_geometry
    )
    t["school_routes"] = time.perf_counter() - t0
    c["school_routes"] = time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    summ = school_summary(routes, schools)
    hz = hazards(routes, net, stress)
    t["summary + hazards"] = time.perf_counter() - t0
    c["summary + hazards"] = time.process_time() - c0
    print(
        f"network: {net.n_nodes:,} nodes, {net.n_edges:,} edges; {a.origins:,} origins, {a.schools} schools; "
        f"geometry={'no' if a.no_geometry else 'yes'}"
    )
    print(f"{'step':<28}{'wall s':>10}{'cpu s':>10}")
    for k, v in t.items():
        print(f"{k:<28}{v:>10.2f}{c[k]:>10.2f}")
    s = routes[routes["route"] == "safest"]
    print(
        f"routes: {len(routes):,}; safest verdicts: {s['verdict'].value_counts().to_dict()}; "
        f"over_detour: {int(s['over_detour'].sum()):,}; hazards: {len(hz):,}; schools summarised: {len(summ)}"
    )


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0]) / 1024


def county(path: str, n: int, geometry: bool) -> None:
    import pickle
    import threading

    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    with open(path, "rb") as f:
        cfg, inp, net = pickle.load(f)
    fac = inp.facilities
    schools = fac[fac["category"].isin(["primary_school", "middle_school"])]
    homes = inp.origins
    if 0 < n < len(homes):
        homes = homes.iloc[np.sort(np.random.default_rng(0).choice(len(homes), n, replace=False))]
    stress = network_stress(net, profile=cfg.safety_profile)

    def snap_nodes(g: gpd.GeoDataFrame) -> np.ndarray:
        g = g.to_crs(net.crs)
        return cKDTree(np.c_[net.x, net.y]).query(np.c_[g.geometry.x.to_numpy(), g.geometry.y.to_numpy()])[1]

    c0 = time.process_time()
    at = snap_nodes(homes)
    g2 = net.csr.copy()
    g2.data = g2.data * (1.0 + (np.arange(g2.data.size) % 4))  # a second weight array ("safest")
    for _, s in schools.groupby("category"):
        idx = sorted(set(snap_nodes(s).tolist()))
        for g in (net.csr, g2):
            d, _pred, src = dijkstra(g, directed=False, indices=idx, min_only=True, return_predecessors=True)
            _ = d[at], src[at]
    ref = time.process_time() - c0
    base = _rss_mb()
    peak = [base]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.02)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    t0, c0 = time.perf_counter(), time.process_time()
    routes = school_routes(
        net,
        homes,
        schools,
        stress=stress,
        safe_max_level=cfg.safe_max_level,
        max_snap=cfg.max_snap_m,
        geometry=geometry,
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    done.set()
    th.join()
    ok = routes["verdict"] != "unreachable"
    print(
        f"county: {net.n_nodes:,} nodes, {net.n_edges:,} edges; {len(homes):,} homes, {len(schools)} schools; "
        f"geometry={'yes' if geometry else 'no'}"
    )
    print(
        f"school_routes: wall {wall:.2f} s, CPU {cpu:.2f} s, peak RSS {peak[0]:,.0f} MB (before the call "
        f"{base:,.0f} MB); raw-scipy reference CPU {ref:.2f} s; ratio {cpu / ref:.1f}x"
    )
    print(
        f"routes: {len(routes):,}; verdicts: {routes['verdict'].value_counts().to_dict()}; walks shorter than "
        f"the straight line: {int((routes['length_m'][ok] < routes['straight_m'][ok] - 1e-6).sum())}"
    )


if __name__ == "__main__":
    import sys

    if "--county" in sys.argv:
        ap = argparse.ArgumentParser(description="school_routes on a cached county")
        ap.add_argument("--county", required=True)
        ap.add_argument("--origins", type=int, default=0, help="seeded sample of N homes (0: all)")
        ap.add_argument("--geometry", action="store_true", help="build the route lines")
        a = ap.parse_args()
        county(a.county, a.origins, a.geometry)
    else:
        main()
