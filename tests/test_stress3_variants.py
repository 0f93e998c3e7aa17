"""The variants of a stress model computed together (`network_stress_variants`) or from a computed model's shared
parts (``like=``) equal `network_stress` run on its own for each variant: every frame (exact values and dtypes) and
every array. Monaco has closed-road crossings and sidewalk ways rated from the road beside them."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import realdata

from childspace._errors import ChildspaceWarning
from childspace.analysis.safety import VARIANTS, network_stress, network_stress_variants

FRAMES = ("edges", "nodes", "incidence")
ARRAYS = ("ring_edge", "ring_level", "degree", "top_edge", "top_level", "virtual_edge")


def _same(a, b):
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True, obj=name)
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert a.profile == b.profile


@pytest.fixture(scope="module")
def monaco():
    from childspace.network import WalkNetwork

    return WalkNetwork.from_osm(realdata("monaco.osm.gz"))


@pytest.fixture(scope="module")
def alone(monaco):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        typical = network_stress(monaco)
        return {v: network_stress(monaco, typical.config, variant=v) for v in VARIANTS}


def test_monaco_exercises_the_shared_parts(alone):
    st = alone["typical"]
    assert st.virtual_edge.size > 0  # closed-road crossings
    assert (st.edges["beside"] >= 0).any()  # ways rated from a road beside
    assert not alone["optimistic"].edges["level"].equals(alone["pessimistic"].edges["level"])


def test_all_three_at_once_equal_each_alone(monaco, alone):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        together = network_stress_variants(monaco, alone["typical"].config)
    assert list(together) == list(VARIANTS)
    for v in VARIANTS:
        _same(together[v], alone[v])


def test_variants_from_a_computed_model_equal_each_alone(monaco, alone):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        typical = network_stress(monaco)
        alt = network_stress_variants(
            monaco, typical.config, variants=("optimistic", "pessimistic"), like=typical
        )
    for v, st in alt.items():
        assert st.parts is typical.parts  # shared, not recomputed
        _same(st, alone[v])
    # each model has arrays of its own: changing one leaves the others as they were
    alt["optimistic"].ring_edge[:] = -1
    _same(alt["pessimistic"], alone["pessimistic"])


def test_each_model_still_warns_of_closed_roads(monaco, alone):
    with pytest.warns(ChildspaceWarning, match="closed to pedestrians") as rec:
        network_stress_variants(monaco, alone["typical"].config, variants=("optimistic", "pessimistic"))
    assert sum("closed to pedestrians" in str(w.message) for w in rec) == 2


def test_parts_of_another_config_are_not_reused(monaco, alone):
    other = {"closed_road": {"level": 3}}  # a part shared by the variants: the closed roads' crossing level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        own = network_stress(monaco, other)
        via = network_stress_variants(monaco, other, variants=("typical",), like=alone["typical"])["typical"]
    assert via.parts is not alone["typical"].parts
    _same(via, own)
    assert (own.ring_level[own.ring_edge >= len(monaco.edges)] == 3).all()


def test_parts_are_not_pickled(alone):
    st = alone["typical"]
    assert st.parts is not None
    back = pickle.loads(pickle.dumps(st))
    assert back.parts is None and st.parts is not None
    _same(back, st)
