"""Benchmark of the WalkNetwork engine against raw scipy, networkx and the per-facility osmnx recipe.

Not a test: it prints a table. Each case runs in its own subprocess so that its peak memory (``ru_maxrss``) is
its own. Usage::

    python benchmarks/bench_network.py            # 100k and 1M node lattices (a few minutes)
    python benchmarks/bench_network.py --quick    # 100k nodes only, sub-minute

The lattice is a jittered square grid (spacing 80 m, +-15 m jitter, 5 % of links removed) in EPSG:4549, so edge
lengths are those of a town's street blocks. Facilities are random points on random edges (mid-edge, 0-20 m off
the street); the raw-scipy baseline starts from the facility edges' ``u`` nodes instead.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

CRS = "EPSG:4549"
X0, Y0 = 480000.0, 3080000.0
SPACING, JITTER, DROP = 80.0, 15.0, 0.05
N_FAC = 500

# goals (from the issue)
GOAL_Q_1M = 0.7  # s, nearest facility for every node, 1M nodes, 500 facilities
GOAL_Q_100K = 0.05  # s, same for 100k nodes
GOAL_BUILD_200K = 2.0  # s, engine from parsed frames of 200k nodes
GOAL_MEM_1M = 1024.0  # MiB, peak memory of the engine case at 1M nodes
GOAL_RATIO = 1.5  # engine query time / the faster raw scipy call


def lattice(n_nodes: int, seed: int = 0):
    """Jittered grid: node coords (n, 2) in metres (EPSG:4549) and edges (e, 2) of node positions."""
    rng = np.random.default_rng(seed)
    side = int(round(np.sqrt(n_nodes)))
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xy = np.c_[ii.ravel(), jj.ravel()] * SPACING + rng.uniform(-JITTER, JITTER, (side * side, 2)) + [X0, Y0]
    idx = np.arange(side * side).reshape(side, side)
    h = np.c_[idx[:-1, :].ravel(), idx[1:, :].ravel()]
    v = np.c_[idx[:, :-1].ravel(), idx[:, 1:].ravel()]
    e = np.concatenate([h, v])
    e = e[rng.random(len(e)) >= DROP]
    return xy, e


def facilities(xy, e, seed: int = 1):
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(e), N_FAC, replace=False)
    t = rng.uniform(0.05, 0.95, N_FAC)
    a, b = xy[e[pick, 0]], xy[e[pick, 1]]
    p = a + (b - a) * t[:, None]
    d = (b - a) / np.linalg.norm(b - a, axis=1)[:, None]
    p += np.c_[-d[:, 1], d[:, 0]] * rng.uniform(-20, 20, N_FAC)[:, None]
    return p, e[pick, 0]


def raw_csr(xy, e):
    import scipy.sparse as sp

    w = np.linalg.norm(xy[e[:, 0]] - xy[e[:, 1]], axis=1)
    n = len(xy)
    return sp.csr_array((np.r_[w, w], (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(n, n))


def frames(xy, e, crs=CRS):
    import geopandas as gpd
    import pandas as pd
    import shapely

    n = len(xy)
    ids = np.arange(n, dtype=np.int64) * 7 + 100000
    nodes = gpd.GeoDataFrame(
        {"highway": np.full(n, None, dtype=object)},
        index=pd.Index(ids, name="osmid"),
        geometry=shapely.points(xy),
        crs=CRS,
    )
    lines = shapely.linestrings(np.stack([xy[e[:, 0]], xy[e[:, 1]]], axis=1))
    edges = gpd.GeoDataFrame(
        {
            "u": ids[e[:, 0]],
            "v": ids[e[:, 1]],
            "key": 0,
            "osmid": np.arange(len(e)),
            "highway": "residential",
            "name": None,
        },
        geometry=lines,
        crs=CRS,
    )
    if crs != CRS:
        nodes, edges = nodes.to_crs(crs), edges.to_crs(crs)
        nodes["x"], nodes["y"] = nodes.geometry.x, nodes.geometry.y
    return nodes, edges


def best_of(fn, repeat=3):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def traced_peak(fn) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ------------------------------------------------------------------------------------------------ cases
def case_raw(n):
    from scipy.sparse.csgraph import dijkstra

    xy, e = lattice(n)
    _, fac_nodes = facilities(xy, e)
    A = raw_csr(xy, e)
    del xy, e
    q = lambda: dijkstra(A, directed=False, indices=fac_nodes, min_only=True)
    t, d = best_of(q)
    # the same on the symmetric CSR as a directed graph (skips scipy's undirected conversion)
    qd = lambda: dijkstra(A, directed=True, indices=fac_nodes, min_only=True)
    td, dd = best_of(qd)
    assert np.array_equal(d, dd)
    return {
        "query_s": t,
        "query_directed_s": td,
        "query_peak_mib": traced_peak(q),
        "maxrss_mib": maxrss_mib(),
        "max_nearest_m": float(np.max(d[np.isfinite(d)])),
    }


def case_engine(n):
    from scipy.sparse.csgraph import dijkstra

    from childspace.network.engine import WalkNetwork

    xy, e = lattice(n)
    fac, _ = facilities(xy, e)
    nodes, edges = frames(xy, e)
    frames_rss = rss_mib()
    t0 = time.perf_counter()
    net = WalkNetwork.from_frames(nodes, edges, crs=CRS)
    build = time.perf_counter() - t0
    del nodes, edges, xy, e
    gc.collect()
    t0 = time.perf_counter()
    src = net.snap(fac)
    snap = time.perf_counter() - t0
    q = lambda: net.node_distances(src)
    # paired with raw scipy on the engine's own CSR (from the facility edges' u nodes), interleaved, so that
    # the ratio holds on a loaded machine
    un = net.u[src.edge]
    raw = lambda: dijkstra(net.csr, directed=True, indices=un, min_only=True)
    te, tr = [], []
    for _ in range(5):
        tr.append(best_of(raw, 1)[0])
        t_, (d, near) = best_of(q, 1)
        te.append(t_)
    return {
        "query_s": min(te),
        "paired_raw_s": min(tr),
        "query_peak_mib": traced_peak(q),
        "maxrss_mib": maxrss_mib(),
        "frames_rss_mib": frames_rss,
        "build_s": build,
        "snap_s": snap,
        "attached": int(src.ok.sum()),
        "max_nearest_m": float(np.max(d[np.isfinite(d)])),
    }


def case_build(n):
    from childspace.network.engine import WalkNetwork

    xy, e = lattice(n)
    nodes, edges = frames(xy, e, crs="EPSG:4326")  # as parsed by osm.read_osm: WGS84 degrees
    del xy, e
    t, net = best_of(lambda: WalkNetwork.from_frames(nodes, edges), repeat=2)
    return {"build_s": t, "maxrss_mib": maxrss_mib(), "n_nodes": net.n_nodes, "n_edges": net.n_edges}


def case_networkx(n):
    import networkx as nx

    xy, e = lattice(n)
    _, fac_nodes = facilities(xy, e)
    w = np.linalg.norm(xy[e[:, 0]] - xy[e[:, 1]], axis=1)
    t0 = time.perf_counter()
    G = nx.Graph()
    G.add_weighted_edges_from(zip(e[:, 0].tolist(), e[:, 1].tolist(), w.tolist()), weight="length")
    build = time.perf_counter() - t0
    del xy, e, w
    t0 = time.perf_counter()
    nx.multi_source_dijkstra_path_length(G, set(fac_nodes.tolist()), weight="length")
    t = time.perf_counter() - t0
    return {"query_s": t, "build_s": build, "maxrss_mib": maxrss_mib()}


def case_recipe(n, cutoff, budget_s):
    """What an osmnx user writes: one cutoff Dijkstra per facility on the MultiDiGraph, then the minimum."""
    import networkx as nx

    xy, e = lattice(n)
    _, fac_nodes = facilities(xy, e)
    w = np.linalg.norm(xy[e[:, 0]] - xy[e[:, 1]], axis=1)
    t0 = time.perf_counter()
    G = nx.MultiDiGraph()
    a, b, wl = e[:, 0].tolist(), e[:, 1].tolist(), w.tolist()
    G.add_edges_from((u, v, {"length": x}) for u, v, x in zip(a, b, wl))
    G.add_edges_from((v, u, {"length": x}) for u, v, x in zip(a, b, wl))
    build = time.perf_counter() - t0
    del xy, e, w, a, b, wl
    best: dict = {}
    done = 0
    t0 = time.perf_counter()
    for f in fac_nodes.tolist():
        dd = nx.single_source_dijkstra_path_length(G, f, cutoff=cutoff, weight="length")
        for node, d in dd.items():
            if d < best.get(node, np.inf):
                best[node] = d
        done += 1
        if time.perf_counter() - t0 > budget_s:
            break
    t = time.perf_counter() - t0
    return {
        "sample": done,
        "sample_s": t,
        "query_s": t / done * N_FAC,
        "build_s": build,
        "maxrss_mib": maxrss_mib(),
    }


CASES = {
    "raw": case_raw,
    "engine": case_engine,
    "build": case_build,
    "networkx": case_networkx,
    "recipe": case_recipe,
}


def run_case(name, n, *extra):
    cmd = [sys.executable, os.path.abspath(__file__), "--case", name, "--n", str(n)]
    cmd += [str(x) for x in extra]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine_info() -> str:
    import networkx
    import scipy
    import shapely

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{platform.platform()} | {cpu} | {os.cpu_count()} CPUs | Python {platform.python_version()} | "
        f"numpy {np.__version__} | scipy {scipy.__version__} | shapely {shapely.__version__} | "
        f"networkx {networkx.__version__}"
    )


def raw_best(raw: dict) -> float:
    return min(raw["query_s"], raw.get("query_directed_s", np.inf))


def fmt_s(x):
    if x is None:
        return "-"
    return f"{x * 1000:.1f} ms" if x < 1 else (f"{x:.2f} s" if x < 120 else f"{x / 60:.1f} min")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100k nodes only, short osmnx-recipe sample")
    ap.add_argument("--case")
    ap.add_argument("--n", type=int)
    ap.add_argument("rest", nargs="*")
    args = ap.parse_args()
    if args.case:
        extra = [float(x) for x in args.rest]
        print(json.dumps(CASES[args.case](args.n, *extra)))
        return

    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    budget = 5.0 if args.quick else 20.0
    print(machine_info())
    print(f"load average at start: {os.getloadavg()[0]:.1f} (other processes share the CPUs: compare ratios)")
    print(
        f"lattice: spacing {SPACING:g} m, jitter +-{JITTER:g} m, {DROP:.0%} links removed; {N_FAC} facilities\n"
    )
    rows = []
    res_all = {}
    for n in sizes:
        res = {"raw": run_case("raw", n), "engine": run_case("engine", n)}
        res["networkx"] = run_case("networkx", n)
        cutoff = res["raw"].get("max_nearest_m", 3000.0) + 1.0
        res["recipe"] = run_case("recipe", n, cutoff, budget)
        res_all[n] = res
        if "query_directed_s" in res["raw"]:
            res["raw_directed"] = dict(res["raw"], query_s=res["raw"]["query_directed_s"])
        raw_t = min(res["raw"].get("query_s", np.inf), res.get("raw_directed", {}).get("query_s", np.inf))
        raw_t = raw_t if np.isfinite(raw_t) else None
        for name, label in (
            ("raw", "raw scipy dijkstra(min_only), directed=False"),
            ("raw_directed", "raw scipy dijkstra(min_only), directed=True"),
            ("engine", "WalkNetwork.node_distances (mid-edge)"),
            ("networkx", "networkx multi_source_dijkstra"),
            ("recipe", "osmnx recipe: per-facility cutoff Dijkstra"),
        ):
            r = res.get(name, {"error": "not run"})
            if "error" in r:
                rows.append((f"{n:,}", label, "error: " + r["error"], "", "", ""))
                continue
            q = r.get("query_s")
            note = ""
            if name == "recipe":
                note = f"{r['sample']} of {N_FAC} run in {r['sample_s']:.1f} s, extrapolated; cutoff {cutoff:.0f} m"
            if name == "engine":
                note = (
                    f"snap {fmt_s(r['snap_s'])}, {r['attached']} attached; paired raw on same CSR "
                    f"{fmt_s(r['paired_raw_s'])} -> {q / r['paired_raw_s']:.2f}x; input frames "
                    f"{r['frames_rss_mib']:.0f} MiB of the RSS"
                )
            ratio = f"{q / raw_t:.2f}x" if raw_t and q else "-"
            build = fmt_s(r.get("build_s")) if r.get("build_s") is not None else "-"
            rows.append((f"{n:,}", label, fmt_s(q), ratio, build, f"{r['maxrss_mib']:.0f} MiB", note))
    b = run_case("build", 200_000)
    header = ("nodes", "method", "query", "vs raw", "build", "peak RSS", "note")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header) - 1)]
    line = "  ".join(h.ljust(wd) for h, wd in zip(header, widths)) + "  " + header[-1]
    print(line)
    print("-" * len(line))
    for r in rows:
        r = tuple(r) + ("",) * (len(header) - len(r))
        print("  ".join(str(c).ljust(wd) for c, wd in zip(r, widths)) + "  " + r[-1])
    print(
        "\nbuild from parsed frames (EPSG:4326 -> local GK), 200,000-node lattice: "
        + (
            fmt_s(b["build_s"]) + f" ({b['n_edges']:,} edges, peak RSS {b['maxrss_mib']:.0f} MiB)"
            if "error" not in b
            else "error: " + b["error"]
        )
    )

    print("\ngoals:")
    goals = []
    for n, limit in ((100_000, GOAL_Q_100K), (1_000_000, GOAL_Q_1M)):
        if n in res_all and "query_s" in res_all[n]["engine"]:
            eng, raw = res_all[n]["engine"], res_all[n]["raw"]
            goals.append(
                (
                    f"nearest of {N_FAC} for every node, {n:,} nodes < {fmt_s(limit)}",
                    eng["query_s"] < limit,
                    fmt_s(eng["query_s"]),
                )
            )
            goals.append(
                (
                    f"engine within {GOAL_RATIO}x of raw scipy, {n:,} nodes (paired, same process)",
                    eng["query_s"] <= GOAL_RATIO * eng["paired_raw_s"],
                    f"{eng['query_s'] / eng['paired_raw_s']:.2f}x (separate processes: "
                    f"{eng['query_s'] / raw_best(raw):.2f}x of the faster raw call)",
                )
            )
    if "build_s" in b:
        goals.append(
            (
                "build from a parsed 200k-node network < 2 s",
                b["build_s"] < GOAL_BUILD_200K,
                fmt_s(b["build_s"]),
            )
        )
    if 1_000_000 in res_all and "maxrss_mib" in res_all[1_000_000]["engine"]:
        m = res_all[1_000_000]["engine"]
        own = m["maxrss_mib"] - m["frames_rss_mib"]
        goals.append(
            (
                "peak memory, 1M nodes < 1 GiB: whole process incl. the caller's input GeoDataFrames",
                m["maxrss_mib"] < GOAL_MEM_1M,
                f"{m['maxrss_mib']:.0f} MiB",
            )
        )
        goals.append(
            (
                "peak memory, 1M nodes < 1 GiB: engine build + query (peak minus input frames)",
                own < GOAL_MEM_1M,
                f"{own:.0f} MiB (query alone {m['query_peak_mib']:.0f} MiB traced)",
            )
        )
    for text, ok, val in goals:
        print(f"  [{'PASS' if ok else 'FAIL'}] {text}: {val}")


if __name__ == "__main__":
    main()
