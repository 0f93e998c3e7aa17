"""What the routes map and the routes figure share (:mod:`childspace.outputs._routes_common`) and the figure's
line paths: the cheaper ways give the same frames and paths as the plain calls they replace (issue 16)."""

from __future__ import annotations

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import shapely
from matplotlib.figure import Figure
from shapely.geometry import LineString, MultiLineString, Point

from childspace.analysis.streets import route_edge_use, school_zone_circles, stress_frames
from childspace.outputs import _routes_common as rc
from childspace.outputs.figures_routes import _line_paths

matplotlib.use("Agg")


def test_edge_use_is_route_edge_use_of_the_full_edges(sample_run):
    res = sample_run
    edges, _crossings = stress_frames(res.network, res.stress)
    routes = res.layers["routes"]
    for kind in ("safest", "shortest"):
        rc._USE.clear()
        got = rc.edge_use(routes, edges, kind)
        want = route_edge_use(routes, edges, kind)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert type(got) is type(want) and got.crs == want.crs and got.geometry.name == want.geometry.name
        assert rc.edge_use(routes, edges, kind) is got  # the figure gets the map's frame


def test_edge_use_with_repeated_labels_falls_back_to_the_plain_call(sample_run):
    res = sample_run
    edges, _crossings = stress_frames(res.network, res.stress)
    edges = edges.set_index(np.zeros(len(edges), dtype=int))
    rc._USE.clear()
    got = rc.edge_use(res.layers["routes"], edges, "safest")
    pd.testing.assert_frame_equal(
        got, route_edge_use(res.layers["routes"], edges, "safest"), check_exact=True
    )


def test_line_routes_by_type_id():
    pts = gpd.GeoDataFrame({"a": [1, 2]}, geometry=[Point(0, 0), Point(1, 1)], crs=4326)
    assert rc.line_routes(pts) is None
    mixed = gpd.GeoDataFrame(
        {"a": [1, 2, 3, 4]},
        geometry=[Point(0, 0), LineString([(0, 0), (1, 1)]), None, MultiLineString([[(0, 0), (1, 0)]])],
        crs=4326,
    )
    got = rc.line_routes(mixed)
    assert got is not None and got["a"].tolist() == [2, 4]
    assert rc.line_routes(pd.DataFrame({"a": [1]})) is None


def test_zone_circles_made_once_and_equal_to_the_plain_call(sample_run):
    res = sample_run
    zones, schools = res.layers["school_zones"], res.layers["schools"]
    rc._CIRCLES.clear()
    got = rc.zone_circles(zones, schools, 150.0)
    pd.testing.assert_frame_equal(got, school_zone_circles(zones, schools, 150.0), check_exact=True)
    assert rc.zone_circles(zones, schools, 150.0) is got
    assert rc.zone_circles(zones, schools, 100.0) is not got  # another radius: made again
    assert rc.zone_circles(zones.copy(), schools, 150.0) is not got  # another table: made again


def _paths_the_long_way(geoms: np.ndarray, cls: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The paths as the general branch of _line_paths builds them (every geometry taken apart)."""
    fig = Figure()
    ax = fig.add_subplot()
    multi = np.append(geoms, MultiLineString([[(9, 9), (9, 10)]]))  # one multi-part geometry: general branch
    coll = _line_paths(ax, multi, np.append(cls, 99), {int(k): ("red", 1.0, "-") for k in set(cls) | {99}})
    assert coll is not None
    return [(p.vertices, p.codes) for p in coll.get_paths()[:-1]]


def test_line_paths_of_single_lines_are_those_of_the_general_way():
    rng = np.random.default_rng(1)
    geoms = np.array(
        [LineString(rng.random((int(rng.integers(2, 6)), 2))) for _ in range(200)]
        + [shapely.from_wkt("LINESTRING EMPTY")],
        dtype=object,
    )
    cls = rng.integers(1, 5, len(geoms))
    fig = Figure()
    ax = fig.add_subplot()
    coll = _line_paths(ax, geoms, cls, {k: ("red", 1.0, "-") for k in range(1, 5)})
    assert coll is not None
    fast = [(p.vertices, p.codes) for p in coll.get_paths()]
    slow = _paths_the_long_way(geoms, cls)
    assert len(fast) == len(slow) == 4
    for (v1, c1), (v2, c2) in zip(fast, slow):
        assert np.array_equal(v1, v2) and np.array_equal(c1, c2)


def test_polygon_patches_are_the_paths_of_geoseries_plot():
    from shapely.geometry import MultiPolygon, Polygon

    from childspace.outputs.figures_routes import _polygon_patches

    hole = [(2, 2), (2, 3), (3, 3), (3, 2)]
    geoms = gpd.GeoSeries(
        [
            Polygon(
                [(0, 0), (10, 0), (10, 10), (0, 10)], [hole, [(5, 5), (6, 5), (6, 6)]]
            ),  # clockwise holes
            MultiPolygon([Polygon([(20, 0), (20, 5), (25, 5)]), Polygon([(30, 0), (31, 0), (31, 1)])]),
            None,
            Polygon(),
            Polygon([(0, 20), (0, 25), (5, 25), (5, 20)]),
        ],
        crs="EPSG:32651",
    )
    plain, fast = Figure(), Figure()
    ax1, ax2 = plain.add_subplot(), fast.add_subplot()
    geoms.plot(ax=ax1, color="#4a6fa5", alpha=0.1, linewidth=0)
    _polygon_patches(ax2, geoms, facecolor="#4a6fa5", alpha=0.1, linewidth=0)
    p1, p2 = ax1.collections[0].get_paths(), ax2.collections[0].get_paths()
    assert len(p1) == len(p2) == 3
    for a, b in zip(p1, p2):
        assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.codes, b.codes)
    c1, c2 = ax1.collections[0], ax2.collections[0]
    assert np.array_equal(c1.get_facecolor(), c2.get_facecolor()) and c1.get_alpha() == c2.get_alpha()
    assert ax1.get_xlabel() == ax2.get_xlabel() and ax1.get_aspect() == ax2.get_aspect()
    assert ax1.get_xlim() == ax2.get_xlim() and ax1.get_ylim() == ax2.get_ylim()


def test_stress_frames_carry_the_stress_text_as_text(sample_run):
    """The street and crossing layers take the stress's reasons and controls as they are (text columns are not
    turned into objects and back): the same values, row for row, as text."""
    import pandas as pd

    from childspace.analysis.streets import stress_frames

    res = sample_run
    edges, crossings = stress_frames(res.network, res.stress)
    se, sn = res.stress.edges, res.stress.nodes
    assert list(edges["reason"].astype(object)) == list(se["reason"].astype(object))
    at = crossings["node"].to_numpy()
    assert list(crossings["control"].astype(object)) == list(sn["control"].astype(object).to_numpy()[at])
    assert list(crossings["reason"].astype(object)) == list(sn["reason"].astype(object).to_numpy()[at])
    for frame, name in ((edges, "reason"), (crossings, "control"), (crossings, "reason")):
        assert isinstance(frame[name].dtype, pd.StringDtype) or frame[name].dtype == object
    assert list(edges["name"].astype(object).fillna("")) == list(
        res.network.edges["name"].astype(object).fillna("")
    )
