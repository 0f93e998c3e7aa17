"""Coverage on a hand-made street grid with a river: every figure below is computed by hand.

Grid (metres, EPSG:4549 around 120.98E 28.12N), streets every 100 m:
west bank x = 0, 100, 200 and east bank x = 300, 400, both y = 0, 100, 200; no street crosses the river
between x = 200 and x = 300. Kindergarten K1 at (50, 0) on the street (0,0)-(100,0), radius 300 m.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import sample_file
from pyproj import Transformer

from childspace._errors import ChildspaceWarning, DataError
from childspace.analysis import coverage as cv
from childspace.network.engine import WalkNetwork

M = "EPSG:4549"
X0, Y0 = (round(c) for c in Transformer.from_crs("EPSG:4326", M, always_xy=True).transform(120.98, 28.12))


def P(x: float, y: float) -> shapely.Point:
    return shapely.Point(X0 + x, Y0 + y)


def grid_network(banks=((0, 100, 200), (300, 400)), rows=(0, 100, 200)) -> WalkNetwork:
    nodes, edges = {}, []

    def nid(x, y):
        return int((x + 1000) * 10000 + (y + 1000))

    for bank in banks:
        for i, x in enumerate(bank):
            for j, y in enumerate(rows):
                nodes[nid(x, y)] = P(x, y)
                if i + 1 < len(bank):
                    edges.append(
                        (nid(x, y), nid(bank[i + 1], y), shapely.LineString([P(x, y), P(bank[i + 1], y)]))
                    )
                if j + 1 < len(rows):
                    edges.append(
                        (nid(x, y), nid(x, rows[j + 1]), shapely.LineString([P(x, y), P(x, rows[j + 1])]))
                    )
    ng = gpd.GeoDataFrame(index=np.array(list(nodes), dtype=np.int64), geometry=list(nodes.values()), crs=M)
    ng = ng.to_crs(4326)
    ng.index.name = "osmid"
    ng["x"], ng["y"] = ng.geometry.x, ng.geometry.y
    eg = gpd.GeoDataFrame(
        {"u": [e[0] for e in edges], "v": [e[1] for e in edges], "key": 0, "highway": "residential"},
        geometry=[e[2] for e in edges],
        crs=M,
    ).to_crs(4326)
    return WalkNetwork.from_frames(ng, eg, crs=M)


def points(xy, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=[P(x, y) for x, y in xy], crs=M).to_crs(4326)


def boxes(**units) -> gpd.GeoDataFrame:
    ids = list(units)
    return gpd.GeoDataFrame(
        {"unit_id": ids, "name": [f"单元{i}" for i in ids], "level": "community"},
        geometry=[shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in units.values()],
        crs=M,
    ).to_crs(4326)


# O1..O6: (position, children); O6 lies outside every unit
ORIGINS = [
    ((150, 100), 10),
    ((200, 200), 20),
    ((300, 100), 30),
    ((0, 50), 5),
    ((400, 200), 8),
    ((100, 270), 7),
]


@pytest.fixture(scope="module")
def net():
    return grid_network()


@pytest.fixture(scope="module")
def origins():
    return points(
        [p for p, _ in ORIGINS], origin_id=[f"O{i + 1}" for i in range(6)], children=[c for _, c in ORIGINS]
    )


@pytest.fixture(scope="module")
def facilities():
    return points(
        [(50, 0), (0, 200), (400, 0)],
        facility_id=["K1", "PL", "PS"],
        category=["kindergarten", "park", "park"],
        area_ha=[np.nan, 1.0, 0.2],
        name=["k", "pl", "ps"],
    )


@pytest.fixture(scope="module")
def units():
    return boxes(A=(-50, -50, 250, 250), B=(250, -50, 450, 250), C=(-50, 300, 450, 400))


@pytest.fixture(scope="module")
def access(origins, facilities, net):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        return cv.origin_access(origins, facilities, net, categories=["kindergarten", "park", "library"])


def test_walk_and_line_distances(access):
    walk = access["dist_walk_kindergarten"].to_numpy()
    line = access["dist_line_kindergarten"].to_numpy()
    # O1: 50 + 100 + 50; O2: 350 either way round; O3, O5 across the river: unreachable; O4: 50 + 50;
    # O6 snaps 70 m to (100, 200): its access leg 70 + 50 + 100 + 100 (the kindergarten sits on its street)
    np.testing.assert_allclose(walk, [200, 350, np.inf, 100, np.inf, 320], atol=1e-3)
    np.testing.assert_allclose(
        line,
        [
            np.hypot(100, 100),
            250,
            np.hypot(250, 100),
            np.hypot(50, 50),
            np.hypot(350, 200),
            np.hypot(50, 270),
        ],
        atol=1e-3,
    )
    assert access["covered_walk_kindergarten"].tolist() == [True, False, False, True, False, False]
    assert access["covered_line_kindergarten"].tolist() == [True, True, True, True, False, True]
    assert access["nearest_kindergarten"].tolist() == ["K1"] * 6
    assert access.attrs["unreachable_origins"]["kindergarten"] == 2


def test_category_without_facilities_is_uncovered_with_warning(origins, facilities, net):
    with pytest.warns(ChildspaceWarning, match="library"):
        a = cv.origin_access(origins, facilities, net, categories=["library"])
    assert np.isinf(a["dist_walk_library"]).all() and not a["covered_line_library"].any()


def test_park_radius_by_size_is_or_of_classes():
    # straight street; origin at 0, small park (r 300) 350 m east, large park (r 500) 450 m west
    net = grid_network(banks=(tuple(range(-600, 700, 100)),), rows=(0,))
    o = points([(0, 0), (0, 0)], origin_id=["a", "b"], children=[1, 1])
    f = points(
        [(350, 0), (-450, 0)], facility_id=["small", "large"], category=["park", "park"], area_ha=[0.3, 0.6]
    )
    a = cv.origin_access(o, f, net)
    assert a.attrs["radii"]["park"] == [300.0, 500.0]
    assert a["dist_walk_park"].iloc[0] == pytest.approx(350, abs=1e-3)
    assert a["nearest_park"].iloc[0] == "small"
    assert bool(a["covered_walk_park"].iloc[0]) and bool(a["covered_line_park"].iloc[0])
    # the same with only the small park: not covered
    a2 = cv.origin_access(o, f.iloc[:1], net)
    assert not a2["covered_walk_park"].any() and not a2["covered_line_park"].any()


def _k1_expected_pieces():
    """Reachable streets from K1 within 300 m, by hand (everything on the west bank except the last 50 m
    towards (200, 200) on both streets ending there)."""
    segs = [
        ((0, 0), (200, 0)),
        ((0, 100), (200, 100)),
        ((0, 200), (150, 200)),
        ((0, 0), (0, 200)),
        ((100, 0), (100, 200)),
        ((200, 0), (200, 150)),
    ]
    return shapely.MultiLineString([[(X0 + a, Y0 + b), (X0 + c, Y0 + d)] for (a, b), (c, d) in segs])


def test_walk_service_area_matches_hand_pieces_and_excludes_far_bank(facilities, net):
    sa = cv.service_areas(facilities, net, categories="kindergarten", engine="vector").to_crs(M)
    line = cv.service_areas(facilities, net, categories="kindergarten", method="line").to_crs(M)
    geom = sa.geometry.iloc[0]
    expected = shapely.buffer(_k1_expected_pieces(), 25.0, quad_segs=2)
    assert geom.is_valid
    assert shapely.symmetric_difference(geom, expected).area < 1.0
    assert geom.contains(P(200, 140)) and not geom.contains(P(200, 190))
    far_bank = P(300, 100)
    assert not geom.contains(far_bank) and line.geometry.iloc[0].contains(far_bank)
    assert sa["radius_m"].iloc[0] == 300 and sa["method"].iloc[0] == "walk"


def test_dissolved_equals_union_of_per_facility(facilities, net):
    per = cv.service_areas(facilities, net, engine="vector")
    d1 = cv.dissolve_service_areas(per).to_crs(M).set_index("category")
    d2 = cv.dissolve_service_areas(facilities, net, engine="vector").to_crs(M).set_index("category")
    for cat in ("kindergarten", "park"):
        assert shapely.symmetric_difference(d1.geometry[cat], d2.geometry[cat]).area < 1.0
    # parks on opposite banks: the union is the sum of the two areas
    areas = per.to_crs(M).set_index("facility_id").area
    assert d2.geometry["park"].area == pytest.approx(areas["PL"] + areas["PS"], rel=1e-6)


def test_unit_coverage_hand_figures(units, access, facilities, net):
    d = cv.dissolve_service_areas(facilities, net, categories=["kindergarten", "park"], engine="vector")
    with pytest.warns(ChildspaceWarning, match="1 of 6 origins"):
        uc = cv.unit_coverage(units, access, service_areas=d)
    assert uc.attrs["origins_outside"] == 1
    k = uc[uc.category == "kindergarten"].set_index("unit_id")
    assert k.loc["A", "children"] == 35 and k.loc["A", "children_covered_walk"] == 15
    assert k.loc["A", "pct_walk"] == pytest.approx(100 * 15 / 35)
    assert k.loc["A", "pct_line"] == pytest.approx(100.0)
    # children-weighted: 100 m (5), 200 m (10), 350 m (20) -> median and p90 350 m
    assert k.loc["A", "median_walk_m"] == pytest.approx(350, abs=1e-3)
    assert k.loc["A", "p90_walk_m"] == pytest.approx(350, abs=1e-3)
    assert k.loc["A", "detour_ratio"] == pytest.approx(1.4, abs=1e-6)  # O2: 350 / 250 holds 20 of 35
    assert bool(k.loc["A", "below_target"])
    # B (east bank) is a part of the network with no kindergarten: its children cannot walk to one, 0 % on
    # foot (the straight line crosses the river) and below target; the count says why
    assert k.loc["B", "pct_walk"] == 0.0 and k.loc["B", "pct_line"] == pytest.approx(100 * 30 / 38)
    assert bool(k.loc["B", "below_target"])
    assert k.loc["B", "children_no_network"] == 38 and k.loc["B", "homes_no_network"] == 2
    assert np.isnan(k.loc["B", "median_walk_m"]) and np.isnan(k.loc["B", "detour_ratio"])
    # unit C has no children: NaN and a note, no error
    assert np.isnan(k.loc["C", "pct_walk"]) and "no children" in k.loc["C", "note"]
    assert not bool(k.loc["C", "below_target"])
    # area: the walking area of K1 lies wholly inside A (90,000 m2)
    sa_area = (
        cv.service_areas(facilities, net, categories="kindergarten", engine="vector").to_crs(M).area.iloc[0]
    )
    assert k.loc["A", "area_pct_walk"] == pytest.approx(100 * sa_area / 90000.0, rel=1e-6)
    assert k.loc["B", "area_pct_walk"] == 0
    lib = uc[uc.category == "library"].set_index("unit_id")
    assert lib.loc["A", "pct_walk"] == 0 and lib.loc["A", "pct_line"] == 0


def test_unit_coverage_requires_category_columns(units, access):
    with pytest.raises(DataError, match="hospital"):
        cv.unit_coverage(units, access, categories=["hospital"])


def test_life_circles(units, access):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        uc = cv.unit_coverage(units, access)
    lc = cv.life_circles(uc).set_index("unit_id")
    assert lc.loc["A", "lc5_missing"] == "幼儿园 Kindergarten"  # park is 100 % covered, kindergarten 43 %
    assert lc.loc["A", "lc15_missing"] == "图书馆 Library"
    assert isinstance(lc.loc["A", "lc5_complete"], (bool, np.bool_)) and not lc.loc["A", "lc5_complete"]
    assert lc.loc["C", "lc5_missing"] == "" and np.isnan(lc.loc["C", "lc5_complete"])


def test_gaps_ranked_and_valid(units, access, facilities, net):
    d = cv.dissolve_service_areas(facilities, net, categories=["kindergarten", "park"], engine="vector")
    g = cv.gaps(units, access, d, categories=["kindergarten"])
    assert g.crs.to_epsg() == 4326 and g.is_valid.all()
    assert g["unit_id"].tolist() == ["B", "A", "C"]
    assert g["children_uncovered"].tolist() == [38, 20, 0]
    assert g["rank"].tolist() == [1, 2, 3]
    gm = g.to_crs(M).set_index("unit_id")
    sa_area = (
        cv.service_areas(facilities, net, categories="kindergarten", engine="vector").to_crs(M).area.iloc[0]
    )
    assert gm.loc["A"].geometry.area == pytest.approx(90000 - sa_area, rel=1e-6)
    assert gm.loc["B"].geometry.area == pytest.approx(60000, rel=1e-6)
    assert gm.loc["A"].geometry.contains(P(200, 200)) and not gm.loc["A"].geometry.contains(P(100, 100))
    # O2 20 + O3 30 + O5 8 + O6 7 (outside every unit; 320 m with its 70 m access leg)
    assert g.attrs["uncovered_origins_total"]["kindergarten"] == 65


def test_two_step_fca(origins, net):
    f = points(
        [(50, 0), (0, 200)], facility_id=["K1", "K2"], category=["kindergarten"] * 2, capacity=[30, 10]
    )
    r = cv.two_step_fca(origins, f, net, 300)
    fr = r.facilities.set_index("facility_id")
    # K1 reaches O1, O4 (10 + 5; O6 is 70 + 250 m away); K2 reaches O1, O2, O4, O6 (10 + 20 + 5 + 7)
    assert fr.loc["K1", "sfca_demand"] == 15 and fr.loc["K2", "sfca_demand"] == 42
    ratio = r.origins.set_index("origin_id")["sfca_ratio"]
    assert ratio["O1"] == pytest.approx(30 / 15 + 10 / 42)
    assert ratio["O2"] == pytest.approx(10 / 42)
    assert ratio["O3"] == 0
    # the seats are all given out: sum over children of the ratio equals total capacity reached
    kids = r.origins.set_index("origin_id")["children"]
    assert (ratio * kids).sum() == pytest.approx(40)
    bad = f.assign(capacity=[30, None])
    with pytest.raises(DataError, match="capacity"):
        cv.two_step_fca(origins, bad, net, 300)


def test_suggest_sites_covers_far_bank(origins, facilities, net):
    sites = cv.suggest_sites(None, origins, net, 300, p=1, facilities=facilities.iloc[:1])
    # uncovered by K1: O2 (20), O3 (30), O5 (8), O6 (7: 70 m leg + 250 m); one east-bank node within 300 m
    # of O3 and O5 wins 38, a second site takes O2 and O6
    assert len(sites) == 1 and sites["children_new"].iloc[0] == 38
    assert sites.attrs["demand_children"] == 65
    two = cv.suggest_sites(None, origins, net, 300, p=2, facilities=facilities.iloc[:1])
    assert two["children_new"].sum() == 65


def test_line_only_without_network(origins, facilities):
    a = cv.origin_access(origins, facilities, None, categories=["kindergarten"])
    assert a["dist_walk_kindergarten"].isna().all()
    assert a["covered_line_kindergarten"].sum() == 5


def test_bad_input_names_the_row(origins, facilities):
    broken = facilities.copy()
    broken.loc[1, "geometry"] = None
    with pytest.raises(DataError, match="facility_id=PL"):
        cv.origin_access(origins, broken)


# ---------------------------------------------------------------------------------------------------------------
# raster engine of the walking service areas, fast snapping, one-Dijkstra nearest facility
# ---------------------------------------------------------------------------------------------------------------
def _iou(a, b) -> float:
    return shapely.intersection(a, b).area / shapely.union(a, b).area


def test_auto_engine_is_vector_for_small_inputs(facilities, net):
    sa = cv.service_areas(facilities, net)
    assert sa.attrs["engine"] == "vector" and sa.attrs["pieces"] < cv.VECTOR_MAX_PIECES
    assert set(cv.dissolve_service_areas(facilities, net).attrs["engine"].values()) == {"vector"}


def test_auto_engine_is_raster_for_a_dense_area():
    # a 20 m grid (a dense footway network): a 300 m area holds over 500 street pieces, more than the vector
    # engine unions quickly, so "auto" rasterises it; the areas agree with the exact vector ones
    xs = tuple(range(0, 801, 20))
    dense = grid_network(banks=(xs,), rows=xs)
    fac = points([(400, 400), (100, 100)], facility_id=["G1", "G2"], category="playground", name=["g1", "g2"])
    sa = cv.service_areas(fac, dense, radii={"playground": 300.0})
    assert sa.attrs["largest_pieces"] >= cv.VECTOR_MAX_UNION and sa.attrs["engine"] == "raster"
    vec = cv.service_areas(fac, dense, radii={"playground": 300.0}, engine="vector")
    np.testing.assert_allclose(sa.to_crs(M).area, vec.to_crs(M).area, rtol=0.04)
    dis = cv.dissolve_service_areas(fac, dense, radii={"playground": 300.0})
    assert dis.attrs["engine"] == {"playground": "raster"}


@pytest.mark.parametrize("cell", [5.0, 10.0])
def test_raster_service_areas_agree_with_vector_on_hand_grid(facilities, net, cell):
    vec = cv.service_areas(facilities, net, engine="vector").to_crs(M).set_index("facility_id")
    ras = cv.service_areas(facilities, net, engine="raster", cell_m=cell).to_crs(M).set_index("facility_id")
    assert ras.attrs["engine"] == "raster" and ras.attrs["cell_m"] <= cell
    for fid in ("K1", "PL", "PS"):
        a, b = vec.geometry[fid], ras.geometry[fid]
        assert b.is_valid and b.geom_type in ("Polygon", "MultiPolygon")
        assert b.area == pytest.approx(a.area, rel=0.03)
        assert _iou(a, b) >= 0.95
        assert a.hausdorff_distance(b) <= 1.0 * cell  # outline within about one cell
    k1 = ras.geometry["K1"]
    # the far bank (no crossing) stays out, the reached end of x = 200 (to y = 150, + 25 m) is in, beyond is out
    assert not k1.intersects(shapely.box(X0 + 260, Y0 - 50, X0 + 450, Y0 + 250))
    assert k1.contains(P(200, 140)) and not k1.contains(P(200, 190))
    # the hand pieces buffered by 25 m: the blocks' interiors are holes
    assert not k1.contains(P(50, 50)) and k1.contains(P(50, 20))


def test_raster_dissolved_agrees_with_vector_on_hand_grid(facilities, net):
    vec = cv.dissolve_service_areas(facilities, net, engine="vector").to_crs(M).set_index("category")
    ras = (
        cv.dissolve_service_areas(facilities, net, engine="raster", cell_m=5.0)
        .to_crs(M)
        .set_index("category")
    )
    assert set(ras.attrs["engine"].values()) == {"raster"}
    for cat in ("kindergarten", "park"):
        a, b = vec.geometry[cat], ras.geometry[cat]
        assert b.is_valid and b.area == pytest.approx(a.area, rel=0.03) and _iou(a, b) >= 0.9
        assert ras.loc[cat, "area_m2"] == pytest.approx(b.area, rel=1e-6)
    # the two parks lie on opposite banks: two separate parts
    assert ras.geometry["park"].geom_type == "MultiPolygon" and len(ras.geometry["park"].geoms) == 2


def test_raster_strips_equal_one_grid():
    # an L of samples every 5 m; a strip limit of 1,500 cells forces several strips
    xy = np.r_[np.c_[np.arange(0, 400, 5.0), np.zeros(80)], np.c_[np.zeros(80), np.arange(0, 400, 5.0)]]
    one = cv._raster_dissolved(xy, 10.0, 25.0)
    strips = cv._raster_dissolved(xy, 10.0, 25.0, max_cells=1_500)
    assert one.is_valid and strips.is_valid
    assert shapely.symmetric_difference(one, strips).area < 1.0
    # the exact 25 m buffer of the two lines (0,0)-(395,0) and (0,0)-(0,395)
    exact = shapely.buffer(
        shapely.MultiLineString([[(0, 0), (395, 0)], [(0, 0), (0, 395)]]), 25.0, quad_segs=64
    )
    assert one.area == pytest.approx(exact.area, rel=0.02) and _iou(one, exact) >= 0.95


def _one_grid(xy: np.ndarray, cell: float, width: float):
    """The whole extent burnt and traced as one grid (the reference for the per-cluster windows)."""
    margin = int(np.ceil(width / cell)) + 2
    lo = np.floor(xy.min(axis=0) / cell) * cell - margin * cell
    hi = np.ceil(xy.max(axis=0) / cell) * cell + margin * cell
    shape = (int(round((hi[1] - lo[1]) / cell)) + 1, int(round((hi[0] - lo[0]) / cell)) + 1)
    return cv._raster_areas(xy, np.zeros(len(xy), dtype=np.int64), lo[None, :], shape, 1, cell, width)[0]


def test_raster_clusters_trace_like_one_grid():
    # streets sampled every 5 m: three separate crosses far apart, two short lines whose 25 m bands meet across
    # a block boundary, and a lone point; 10 m cells (fitted: 25 m = 2.5 cells), blocks of 32 cells = 320 m
    rng = np.random.default_rng(3)
    parts = []
    for cx, cy in ((0, 0), (2000, 300), (900, 1700)):
        s = np.arange(-200, 200.1, 5.0)
        parts += [np.c_[cx + s, np.full_like(s, cy)], np.c_[np.full_like(s, cx), cy + s]]
    shift = rng.uniform(-1, 1, (1, 2))
    # the grid starts 5 cells (the margin) below the lowest sample's cell: a block edge lies half-way between the
    # cell centres lo + (32 k - 1) cells and lo + 32 k cells; the two lines end 5 m before and start 40 m after
    # the edge at k = 11 (a 45 m gap < 2 x 25 m)
    lo_x = np.floor((-200 + shift[0, 0]) / 10.0) * 10.0 - 50.0
    edge = lo_x + (32 * 11 - 0.5) * 10.0 - shift[0, 0]
    parts += [
        np.c_[np.arange(edge - 200, edge - 4.9, 5.0), np.full(40, 1000.0)],
        np.c_[np.arange(edge + 40, edge + 200.1, 5.0), np.full(33, 1000.0)],
        np.array([[4321.0, -777.0]]),
    ]
    xy = np.concatenate(parts) + shift
    got = cv._raster_dissolved(xy, 10.0, 25.0)
    ref = _one_grid(xy, 10.0, 25.0)
    assert got.is_valid and ref.is_valid
    assert got.area == pytest.approx(ref.area, rel=1e-9)
    assert shapely.symmetric_difference(got, ref).area < 1e-3
    # three crosses + the two joined lines + the point = 5 separate parts
    assert got.geom_type == "MultiPolygon" and len(got.geoms) == 5
    lines = [g for g in got.geoms if g.bounds[0] < edge + shift[0, 0] < g.bounds[2]]
    assert len(lines) == 1 and lines[0].bounds[2] > edge + 200  # the two lines form one band
    # the lone point: the cells whose centre lies within 25 m (2.5 cells) of its cell's centre, rows of 3, 5, 5,
    # 5, 3 cells = 21 cells, outlined half-way between cell centres; marching squares cut each of the 8 convex
    # corners by 1/8 cell and add 1/8 cell at each of the 4 concave ones: 20.5 cells of 100 m2
    lone = [g for g in got.geoms if g.bounds[0] > 4000][0]
    assert lone.area == pytest.approx((21 - 8 / 8 + 4 / 8) * 100.0)


def test_raster_cluster_above_max_cells_goes_to_strips():
    # one cross of 800 m arms is a single cluster of about 85 x 85 cells: with max_cells=2,000 it is traced in
    # strips, the small square far away in its own window
    s = np.arange(-400, 400.1, 5.0)
    xy = np.r_[
        np.c_[s, np.zeros_like(s)], np.c_[np.zeros_like(s), s], np.c_[5000 + s[:20], np.full(20, 5000.0)]
    ]
    whole = cv._raster_dissolved(xy, 10.0, 25.0)
    strips = cv._raster_dissolved(xy, 10.0, 25.0, max_cells=2_000)
    assert strips.is_valid and len(strips.geoms) == 2
    assert shapely.symmetric_difference(whole, strips).area < 1.0
    exact = shapely.buffer(
        shapely.MultiLineString([[(-400, 0), (400, 0)], [(0, -400), (0, 400)], [(4600, 5000), (4695, 5000)]]),
        25.0,
        quad_segs=64,
    )
    assert whole.area == pytest.approx(exact.area, rel=0.02) and _iou(whole, exact) >= 0.95


def test_raster_engine_arguments_are_checked(facilities, net):
    with pytest.raises(DataError, match="engine"):
        cv.service_areas(facilities, net, engine="pixels")
    with pytest.raises(DataError, match="cell_m"):
        cv.dissolve_service_areas(facilities, net, engine="raster", cell_m=0)


_DATA = __import__("pathlib").Path(__file__).resolve().parents[1] / "childspace" / "data"


@pytest.fixture(scope="module")
def sample():
    from childspace.inputs import loaders as io

    need = ["facilities/facilities.csv", "origins/homes.gpkg", "osm/sample.osm"]
    for p in need:
        sample_file(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        fac = io.load_facilities(_DATA / "facilities/facilities.csv")
        origins = io.load_origins(_DATA / "origins/homes.gpkg")
        net = WalkNetwork.from_osm(_DATA / "osm/sample.osm")
    return fac, origins, net


def test_sample_origin_access_matches_engine_queries(sample):
    fac, origins, net = sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        acc = cv.origin_access(origins, fac, net, categories=["kindergarten", "primary_school"])
    for cat in ("kindergarten", "primary_school"):
        sub = fac[fac["category"] == cat]
        ref, src = net.nearest(
            net.snap(sub, max_distance=150.0, legs=True), net.snap(origins, max_distance=150.0, legs=True)
        )
        got = acc[f"dist_walk_{cat}"].to_numpy()
        np.testing.assert_allclose(got[np.isfinite(ref)], ref[np.isfinite(ref)], atol=1e-6)
        assert (np.isinf(got) == np.isinf(ref)).all()
        r = acc.attrs["radii"][cat]
        assert (acc[f"covered_walk_{cat}"].to_numpy() == (ref <= r)).all()


def test_sample_raster_agrees_with_vector(sample):
    fac, _, net = sample
    sub = fac[fac["category"].isin(["kindergarten", "primary_school"])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        vec = cv.service_areas(sub, net, engine="vector").to_crs(M)
        ras = cv.service_areas(sub, net, engine="raster").to_crs(M)
        dv = cv.dissolve_service_areas(sub, net, engine="vector").to_crs(M)
        dr = cv.dissolve_service_areas(sub, net, engine="raster").to_crs(M)
    have = vec.geometry.notna().to_numpy()
    assert have.sum() >= 3 and (ras.geometry.notna().to_numpy() == have).all()
    a, b = vec.geometry[have].to_numpy(), ras.geometry[have].to_numpy()
    assert shapely.is_valid(b).all()
    np.testing.assert_allclose(shapely.area(b), shapely.area(a), rtol=0.05)
    iou = shapely.area(shapely.intersection(a, b)) / shapely.area(shapely.union(a, b))
    assert (iou >= 0.9).all()
    for ga, gb in zip(dv.geometry, dr.geometry):
        assert gb.is_valid and gb.area == pytest.approx(ga.area, rel=0.05) and _iou(ga, gb) >= 0.9


def test_facilities_per_unit_finds_the_township_without_a_childrens_home():
    """The action plan wants a children's home in every township; the sample's 示例丙镇 has none."""
    from pathlib import Path

    from childspace.analysis.coverage import facilities_per_unit
    from childspace.inputs import loaders as io

    data = Path(__file__).resolve().parents[1] / "childspace" / "data"
    towns = io.load_boundaries(data / "boundaries" / "townships.gpkg", level="township")
    fac = io.load_facilities(data / "facilities" / "facilities.csv")
    got = facilities_per_unit(towns, fac).set_index("name")
    # hand count: children's homes of the CSV by township, point in polygon
    homes = fac[fac["category"] == "children_home"]
    for _, t in towns.iterrows():
        assert got.loc[t["name"], "count"] == int(homes.within(t.geometry).sum())
    assert not got.loc["示例丙镇", "meets"] and got.loc["示例丙镇", "count"] == 0
    assert "示例丙镇缺儿童之家" in got.loc["示例丙镇", "finding"]
    assert got.drop(index="示例丙镇")["meets"].all() and (got.drop(index="示例丙镇")["finding"] == "").all()
    # a category without a minimum is counted and always meets
    kg = facilities_per_unit(towns, fac, categories="kindergarten")
    assert kg["min_required"].isna().all() and kg["meets"].all()
    assert kg["count"].sum() == int((fac["category"] == "kindergarten").sum())


@pytest.mark.parametrize("width", [0.0, 15.0])
def test_raster_outlines_are_valid_without_repair(width):
    # random cells, dense with diagonal-only contacts (saddles) and holes: the traced polygons must be valid as
    # built (the dissolved raster path relies on it and no longer runs is_valid/make_valid)
    rng = np.random.default_rng(3)
    for _ in range(5):
        cells = np.argwhere(rng.random((40, 40)) < (0.35 if width == 0 else 0.08))
        xy = cells[:, ::-1] * 10.0 + 1000.0
        g = cv._raster_dissolved(xy, 10.0, width)
        parts = shapely.get_parts(g)
        assert len(parts) > 1 and shapely.is_valid(parts).all() and g.is_valid
        # parts are disjoint: their areas add up to the area of their union
        assert shapely.union_all(parts).area == pytest.approx(sum(p.area for p in parts), rel=1e-12)
        if width == 0:
            # without dilation the outline runs through edge midpoints of the set cells: never more than them
            assert g.area > 0 and g.area <= len(cells) * 100.0


def test_network_parts_counted_apart():
    """Two parts of the network (a clipped extract): the west part has the only school; homes on the east part
    are counted in children_no_network and as not covered on foot (in the percentage's base); no inf in the
    table; one warning."""
    net = grid_network(banks=((0, 100, 200), (600, 700)), rows=(0, 100))
    homes = points(
        [(50, 0), (150, 100), (650, 0), (700, 50)],
        origin_id=["W1", "W2", "E1", "E2"],
        children=[10, 20, 5, 7],
    )
    school = points([(0, 0)], facility_id=["S"], category=["primary_school"], name=["s"])
    with pytest.warns(ChildspaceWarning, match=r"2 homes \(12 children\) with no primary_school"):
        acc = cv.origin_access(homes, school, net, categories=["primary_school"])
    assert acc["no_network_primary_school"].tolist() == [False, False, True, True]
    assert acc.attrs["no_network_origins"] == {"primary_school": 2}
    # W1 50 m, W2 100 + 100 + 50 = 250 m: both within 500 m
    units = boxes(W=(-50, -50, 250, 150), E=(550, -50, 750, 150), ALL=(-50, -50, 750, 150))
    units.loc[units["unit_id"] == "ALL", "level"] = "township"  # (overlapping units of one level count once)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        uc = cv.unit_coverage(units, acc).set_index("unit_id")
    assert uc.loc["W", "pct_walk"] == 100.0 and uc.loc["W", "children_no_network"] == 0
    # 30 of the 42 children on foot: the east part's 12 are not covered
    assert (
        uc.loc["ALL", "pct_walk"] == pytest.approx(100 * 30 / 42)
        and uc.loc["ALL", "children_no_network"] == 12
    )
    assert uc.loc["ALL", "children"] == 42 and uc.loc["ALL", "homes_no_network"] == 2
    assert "2 homes in a part of the network with no primary school" in uc.loc["ALL", "note"]
    assert uc.loc["E", "pct_walk"] == 0.0 and bool(uc.loc["E", "below_target"])
    assert np.isnan(uc.loc["E", "median_walk_m"])
    assert uc.loc["E", "children_no_network"] == 12 and uc.loc["E", "pct_line"] == 0.0
    num = uc.select_dtypes("number").to_numpy(dtype=float)
    assert not np.isinf(num).any()
    assert uc.loc["ALL", "median_walk_m"] == pytest.approx(250.0)


def _park(box_xy, area_ha=1.0, entrances=None):
    """A park facility given as a polygon (the loaders keep the outline as WKB in ``footprint``)."""
    poly = gpd.GeoSeries([shapely.box(*(np.add(box_xy, [X0, Y0, X0, Y0])))], crs=M).to_crs(4326)
    f = gpd.GeoDataFrame(
        {
            "facility_id": ["P"],
            "name": ["park"],
            "category": ["park"],
            "area_ha": [area_ha],
            "footprint": [shapely.to_wkb(poly.iloc[0])],
        },
        geometry=poly.representative_point().values,
        crs=4326,
    )
    if entrances is not None:
        e = gpd.GeoSeries([P(x, y) for x, y in entrances], crs=M).to_crs(4326)
        f["entrances"] = [[(p.x, p.y) for p in e]]
    return f


@pytest.fixture(scope="module")
def ring_net():
    # streets y=0 and y=300 from x=0 to 400, joined by x=0 and x=400
    return grid_network(banks=((0, 400),), rows=(0, 300))


def test_polygon_park_reached_at_its_boundary(ring_net):
    from childspace.analysis.access_points import facility_access_points

    park = _park((150, 3, 250, 103))  # its south side runs 3 m from the street y=0
    ap = facility_access_points(park, ring_net)
    assert ap["counts"]["boundary"] == 1 and set(ap["kind"]) == {"boundary"}
    rel = ap["xy"] - [X0, Y0]
    # along the south side (every 25 m) and up the east and west sides as far as 10 m from the street
    assert (rel[:, 1] >= 3.0 - 1e-6).all() and (rel[:, 1] <= 10.0 + 1e-6).all()
    assert rel[:, 0].min() == pytest.approx(150) and rel[:, 0].max() == pytest.approx(250)
    assert np.isclose(rel[:, 1], 3.0).sum() == 5
    homes = points([(200, -20), (200, 50), (120, -10)], origin_id=["S", "IN", "SW"], children=[1, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        acc = cv.origin_access(homes, park, ring_net, categories=["park"])
    # S: 20 m to its street, straight to the access point 3 m off it: 23 m (the park's middle would be 73 m);
    # IN: inside the park; SW: 10 + 30 along the street + 3
    np.testing.assert_allclose(acc["dist_walk_park"], [23.0, 0.0, 43.0], atol=1e-6)
    np.testing.assert_allclose(acc["dist_line_park"], [23.0, 0.0, np.hypot(30, 13)], atol=1e-6)
    assert acc["covered_walk_park"].all() and acc["nearest_park"].tolist() == ["P"] * 3


def test_polygon_park_mapped_entrances_win(ring_net):
    from childspace.analysis.access_points import facility_access_points

    park = _park((150, 3, 250, 103), entrances=[(250, 53)])  # one gate on the east side
    ap = facility_access_points(park, ring_net)
    assert ap["kind"].tolist() == ["entrance"] and ap["counts"]["entrance"] == 1
    homes = points([(200, -20)], origin_id=["S"], children=[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        acc = cv.origin_access(homes, park, ring_net, categories=["park"])
    # the gate snaps 53 m south to (250, 0): 20 + 50 + 53
    assert acc["dist_walk_park"].iloc[0] == pytest.approx(123.0)


def test_polygon_park_service_area_starts_at_its_boundary(ring_net):
    park = _park((150, 3, 250, 103))  # 1 ha: 500 m
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        sa = cv.service_areas(park, ring_net, engine="vector").to_crs(M).geometry.iloc[0]
        pt = park.assign(footprint=None)  # the same park as a point in its middle
        sa_pt = cv.service_areas(pt, ring_net, engine="vector").to_crs(M).geometry.iloc[0]
        dis = cv.dissolve_service_areas(park, ring_net, engine="vector").to_crs(M).geometry.iloc[0]
    # 3 + 150 + 290 = 443 m up the east street from the access point at (250, 3); 53 + 200 + 290 from the middle
    assert sa.contains(P(395, 290)) and not sa_pt.contains(P(395, 290))
    assert sa.contains(P(200, 80))  # the park's own ground
    assert dis.contains(P(395, 290)) and dis.contains(P(200, 80))
    assert not sa.contains(P(300, 310))  # 553 m
