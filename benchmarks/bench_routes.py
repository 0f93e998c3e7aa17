"""Benchmark: safe routes to school at city scale (prints a table; not a test).

A synthetic grid walk network (default 448 x 448 = 200,704 nodes, 50 m spacing, in EPSG:4549) with a 4-lane
60 km/h primary road every 10th street (signals at every 3rd junction on it, no crossing elsewhere) and 30 km/h
residential streets in between; 100,000 random homes routed to the nearest of 150 primary schools (shortest and
safest acceptable routes with exact evaluation and geometry).

Run: ``python benchmarks/bench_routes.py [--side 448] [--origins 100000] [--schools 150] [--no-geometry]``

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


if __name__ == "__main__":
    main()
