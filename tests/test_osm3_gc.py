"""Reading the extract with the garbage collector paused, and the base map's relation filter."""

from __future__ import annotations

import gc

import numpy as np
import osmium
import pandas as pd
import pytest
import shapely
from conftest import realdata, sample_file

from childspace import _gcpause
from childspace.osm.landcover import read_landcover
from childspace.osm.reader import read_osm


def test_gc_paused_restores_the_collector():
    assert gc.isenabled()
    with _gcpause.gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), _gcpause.gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()  # also after an error


def test_gc_paused_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with _gcpause.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_readers_leave_the_collector_on():
    read_osm(sample_file("osm/sample.osm"))
    assert gc.isenabled()
    read_landcover(sample_file("osm/sample.osm"))
    assert gc.isenabled()


def _same(a, b):
    for name in ("water", "waterways", "green", "built", "roads", "places"):
        x, y = getattr(a, name), getattr(b, name)
        gx = shapely.to_wkb(np.asarray(x.geometry.values))
        gy = shapely.to_wkb(np.asarray(y.geometry.values))
        assert list(gx) == list(gy), name
        pd.testing.assert_frame_equal(
            pd.DataFrame(x.drop(columns="geometry")),
            pd.DataFrame(y.drop(columns="geometry")),
            check_exact=True,
        )


@pytest.mark.parametrize("name", ["andorra.osm.pbf", "monaco.osm.gz"])
def test_relation_filter_keeps_the_base_map(name, monkeypatch):
    """Assembling only the relations with a base-map tag gives the same layers as assembling every one."""
    path = realdata(name)
    filtered = read_landcover(path)
    original = osmium.FileProcessor.with_areas

    def every_relation(self, *filters):
        return original(self)

    monkeypatch.setattr(osmium.FileProcessor, "with_areas", every_relation)
    _same(filtered, read_landcover(path))
