"""Routes sent to another process without their edge sequences: the children per street the maps draw come with
them, the same as counted on the sequences; anything else asked of the sequences is a clear error."""

from __future__ import annotations

import os
import pickle

import pandas as pd
import pytest

from childspace._errors import DataError
from childspace.analysis import routes as rt
from childspace.analysis.streets import detach_route_sequences, route_edge_use, stress_frames


def test_detached_routes_carry_the_children_per_street(sample_run):
    routes, net, stress = sample_run.layers["routes"], sample_run.network, sample_run.stress
    edges = stress_frames(net, stress)[0]
    detached = detach_route_sequences(routes)
    data = detached.attrs["childspace_routes"]
    assert data is not routes.attrs["childspace_routes"] and data.n_edges == net.n_edges
    # both kinds, all school categories (each home once) and each category on its own (the street layer's columns)
    cats = ("primary_school", "middle_school")
    assert set(routes["category"]) == set(cats)
    assert set(data.use_cache) == {"safest", "shortest"} | {
        (k, c) for k in ("safest", "shortest") for c in cats
    }
    back = pickle.loads(pickle.dumps(detached))  # what the other process sends: the frame and the counts only
    assert back.attrs["childspace_routes"]._arrays is None and back.attrs["childspace_routes"].source is None
    pd.testing.assert_frame_equal(
        pd.DataFrame(back.drop(columns="geometry")),
        pd.DataFrame(routes.drop(columns="geometry")),
        check_exact=True,
    )
    for kind in ("safest", "shortest"):
        for cat in (None, *cats):
            want = route_edge_use(routes, edges, kind, cat)
            assert len(want) and want["children"].sum() > 0
            pd.testing.assert_frame_equal(route_edge_use(back, edges, kind, cat), want, check_exact=True)


def test_counted_on_forked_processes_the_same(sample_run, monkeypatch):
    """A county's routes are counted on two forked processes (they inherit the sequences and send back the
    counts): the counts are those counted here, one after another."""
    from childspace import _forkpool
    from childspace.analysis import streets

    if not _forkpool.can_fork() or _forkpool.default_workers() < 2:
        pytest.skip("forked processes need Linux and two CPUs")
    routes, net, stress = sample_run.layers["routes"], sample_run.network, sample_run.stress
    edges = stress_frames(net, stress)[0]
    data = routes.attrs["childspace_routes"]
    cats = ("primary_school", "middle_school")
    data.use_cache.clear()
    want = {
        (k, c): route_edge_use(routes, edges, k, c) for k in ("safest", "shortest") for c in (None, *cats)
    }
    data.use_cache.clear()
    pids = []
    real = _forkpool.run_tasks

    def spy(tasks, workers=1, **kw):
        out = real(tasks, workers=workers, **kw)
        pids.extend(r.pid for r in out)
        return out

    monkeypatch.setattr(streets, "_FORK_ROUTES", 0)
    monkeypatch.setattr(_forkpool, "run_tasks", spy)
    back = pickle.loads(pickle.dumps(detach_route_sequences(routes)))
    assert len(pids) == 6 and os.getpid() not in pids  # counted on the other processes
    for (k, c), w in want.items():
        assert len(w) and w["children"].sum() > 0
        pd.testing.assert_frame_equal(route_edge_use(back, edges, k, c), w, check_exact=True)


def test_detached_routes_say_what_they_lack(sample_run):
    routes, net, stress = sample_run.layers["routes"], sample_run.network, sample_run.stress
    back = pickle.loads(pickle.dumps(detach_route_sequences(routes)))
    with pytest.raises(DataError, match="edge sequences were left in the process that computed them"):
        rt.hazards(back, net, stress)
    other = back[back["children"] > 1]  # other routes than those counted: their counts are not there
    if len(other) < len(back):
        with pytest.raises(DataError, match="edge sequences were left"):
            route_edge_use(other, stress_frames(net, stress)[0], "safest")


def test_route_results_cross_processes_unchanged(sample_run):
    """What the process computing the routes sends back: every layer the same, column by column and geometry by
    geometry (points as coordinates, others as WKB), with its attributes, CRS and index."""
    import geopandas as gpd
    import shapely

    from childspace.run.pipeline import RouteResults

    layers = {
        k: sample_run.layers[k]
        for k in ("routes", "hazards", "walksheds", "schools", "school_zones", "school_zone_roads")
    }
    holes = layers["hazards"].copy()  # a missing and an empty geometry are kept as they are
    holes.loc[holes.index[:2], "geometry"] = [None, shapely.Point()]
    layers["with_missing"] = holes
    part = RouteResults(
        stress=sample_run.stress, layers=layers, tables={"schools": sample_run.tables["schools"]}
    )
    back = pickle.loads(pickle.dumps(part))
    assert list(back.layers) == list(layers)
    for k, g in layers.items():
        got = back.layers[k]
        assert isinstance(got, gpd.GeoDataFrame) and got.geometry.name == g.geometry.name, k
        assert list(got.columns) == list(g.columns) and got.crs == g.crs, k
        pd.testing.assert_frame_equal(
            pd.DataFrame(got.drop(columns=g.geometry.name)),
            pd.DataFrame(g.drop(columns=g.geometry.name)),
            check_exact=True,
        )
        a, b = got.geometry.to_numpy(), g.geometry.to_numpy()
        assert (shapely.to_wkb(a) == shapely.to_wkb(b)).all(), k
        assert set(got.attrs) == set(g.attrs), k
    assert back.layers["routes"].attrs["safety_profile"] == layers["routes"].attrs["safety_profile"]
    pd.testing.assert_frame_equal(back.tables["schools"], sample_run.tables["schools"], check_exact=True)
    pd.testing.assert_frame_equal(back.stress.edges, sample_run.stress.edges, check_exact=True)
    # the routes' rows share their home's point (one object per home, once per school category): they travel as
    # the distinct points and share them again
    pts = layers["routes"].geometry.to_numpy()
    assert len({id(p) for p in pts}) < len(pts)
    got = back.layers["routes"].geometry.to_numpy()
    assert len({id(p) for p in got}) == len({id(p) for p in pts})


def test_school_codes_as_text_match_the_conversion():
    """The schools of the routes are told apart by their ids as text: ids that are text already are coded as
    they are, other values (numbers, None, NaN) as their text, exactly as converting them all first."""
    import numpy as np
    import pandas as pd

    from childspace.analysis.streets import _codes_as_text

    cases = [
        np.array(["s2", "s1", "s2", "s3", "s1"], dtype=object),
        np.array(["s2", None, "s2", np.nan, "None", "nan"], dtype=object),
        np.array([1, "1", 2, 2.0, "2"], dtype=object),
        np.array([], dtype=object),
    ]
    for v in cases:
        assert np.array_equal(_codes_as_text(v), pd.factorize(v.astype(str))[0]), v
