"""Routes sent to another process without their edge sequences: the children per street the maps draw come with
them, the same as counted on the sequences; anything else asked of the sequences is a clear error."""

from __future__ import annotations

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
    assert set(data.use_cache) == {"safest", "shortest"}
    back = pickle.loads(pickle.dumps(detached))  # what the other process sends: the frame and the counts only
    assert back.attrs["childspace_routes"]._arrays is None and back.attrs["childspace_routes"].source is None
    pd.testing.assert_frame_equal(
        pd.DataFrame(back.drop(columns="geometry")),
        pd.DataFrame(routes.drop(columns="geometry")),
        check_exact=True,
    )
    for kind in ("safest", "shortest"):
        want = route_edge_use(routes, edges, kind)
        assert len(want) and want["children"].sum() > 0
        pd.testing.assert_frame_equal(route_edge_use(back, edges, kind), want, check_exact=True)


def test_detached_routes_say_what_they_lack(sample_run):
    routes, net, stress = sample_run.layers["routes"], sample_run.network, sample_run.stress
    back = pickle.loads(pickle.dumps(detach_route_sequences(routes)))
    with pytest.raises(DataError, match="edge sequences were left in the process that computed them"):
        rt.hazards(back, net, stress)
    other = back[back["children"] > 1]  # other routes than those counted: their counts are not there
    if len(other) < len(back):
        with pytest.raises(DataError, match="edge sequences were left"):
            route_edge_use(other, stress_frames(net, stress)[0], "safest")
