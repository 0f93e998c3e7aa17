"""The hand-off file of a value computed on another process: exact round trip, buffers mapped, not copied."""

from __future__ import annotations

import hashlib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from childspace import _handoff
from childspace.run.results import RouteResults


def _frame(n: int = 50_000) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(7)
    return gpd.GeoDataFrame(
        {
            "origin_id": pd.array([f"h{i}" for i in range(n)], dtype="str"),
            "school_id": np.array([f"s{i % 13}" if i % 5 else None for i in range(n)], dtype=object),
            "length_m": rng.uniform(0, 3000, n),
            "worst_level": rng.integers(1, 5, n),
            "assigned": rng.random(n) < 0.5,
        },
        geometry=shapely.points(rng.uniform(0, 1000, (n, 2))),
        crs="EPSG:4549",
    )


def test_round_trip_is_exact_and_arrays_are_views_of_the_file(tmp_path):
    g = _frame()
    strided = np.arange(40_000, dtype=np.float64)[::2]  # not contiguous: pickled in band, still exact
    value = RouteResults(layers={"routes": g}, tables={"t": pd.DataFrame(g.drop(columns="geometry"))})
    value.messages = ["路线 routes"]
    path = tmp_path / "x.handoff"
    _handoff.dump({"r": value, "strided": strided, "big": np.ones((300, 200))}, path)

    back = _handoff.load(path)
    path.unlink()  # the mapping outlives the file's name
    r = back["r"]
    pd.testing.assert_frame_equal(r.layers["routes"], g)
    pd.testing.assert_frame_equal(r.tables["t"], value.tables["t"])
    assert r.layers["routes"].crs == g.crs
    assert r.messages == ["路线 routes"]
    np.testing.assert_array_equal(back["strided"], strided)

    big = back["big"]
    assert big.shape == (300, 200) and big.flags.c_contiguous
    # the large array is not an allocation of its own: it is backed by the mapped file (its base is a buffer)
    assert not big.flags.owndata and big.base is not None
    assert big.flags.writeable
    big[0, 0] = 5.0  # copy-on-write: this process's page only
    assert big[0, 0] == 5.0 and big[0, 1] == 1.0


def test_writing_to_a_loaded_array_leaves_the_file_unchanged(tmp_path):
    path = tmp_path / "y.handoff"
    _handoff.dump(np.arange(100_000, dtype=np.int64), path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    a = _handoff.load(path)
    a[:] = -1
    del a
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    np.testing.assert_array_equal(_handoff.load(path), np.arange(100_000))


def test_a_truncated_or_foreign_file_is_refused_with_its_name(tmp_path):
    path = tmp_path / "z.handoff"
    _handoff.dump(np.arange(10_000), path)
    data = path.read_bytes()
    path.write_bytes(data[:-8])
    with pytest.raises(ValueError, match="z.handoff: not a complete hand-off file"):
        _handoff.load(path)
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="z.handoff: not a hand-off file"):
        _handoff.load(path)


def test_each_buffer_is_mapped_on_its_own_and_unmapped_when_its_array_goes(tmp_path):
    path = tmp_path / "w.handoff"
    _handoff.dump({"a": np.arange(200_000.0), "b": np.ones(300_000), "empty": np.zeros(0)}, path)

    def mappings() -> int:
        with open("/proc/self/maps") as f:
            return sum(str(path) in line for line in f)

    v = _handoff.load(path, mapped=True)
    assert v["empty"].shape == (0,)
    assert mappings() == 2
    del v["a"]
    assert mappings() == 1  # a's pages are given back while b is still used
    np.testing.assert_array_equal(v["b"], np.ones(300_000))


def test_read_instead_of_mapped_gives_the_same_value_and_owns_its_memory(tmp_path):
    path = tmp_path / "r.handoff"
    g = _frame(5_000)
    _handoff.dump({"g": g, "a": np.arange(70_000.0)}, path)
    v = _handoff.load(path, mapped=False)
    path.unlink()
    pd.testing.assert_frame_equal(v["g"], g)
    np.testing.assert_array_equal(v["a"], np.arange(70_000.0))
    with open("/proc/self/maps") as f:
        assert not any(str(path) in line for line in f)
    v["a"][0] = -1.0  # writable (a bytearray of its own)
    assert v["a"][0] == -1.0


def test_the_file_system_decides_whether_buffers_are_mapped(tmp_path, monkeypatch):
    assert _handoff._fs_type(tmp_path) is not None
    path = tmp_path / "m.handoff"
    _handoff.dump(np.arange(100_000.0), path)

    def mapped() -> bool:
        with open("/proc/self/maps") as f:
            return any(str(path) in line for line in f)

    monkeypatch.setattr(_handoff, "_fs_type", lambda p: "nfs4")  # a network share: read, not mapped
    a = _handoff.load(path)
    assert not mapped() and a.flags.owndata is False and float(a[-1]) == 99_999.0
    del a
    monkeypatch.setattr(_handoff, "_fs_type", lambda p: "ext4")
    b = _handoff.load(path)
    assert mapped() and float(b[-1]) == 99_999.0


def test_small_buffers_stay_in_the_stream(tmp_path):
    path = tmp_path / "s.handoff"
    small = {i: np.full(100, float(i)) for i in range(2_000)}  # 800 bytes each: in band, no page of padding
    _handoff.dump({"small": small, "big": np.arange(50_000.0)}, path)
    assert path.stat().st_size < 2_000 * 1_000 + 400_000 + 2 * 4096 + 1_000
    v = _handoff.load(path, mapped=True)
    assert all(float(v["small"][i][-1]) == i for i in range(2_000))
    with open("/proc/self/maps") as f:
        assert sum(str(path) in line for line in f) == 1  # the big array only
