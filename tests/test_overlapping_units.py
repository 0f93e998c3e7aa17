"""Units of one level whose outlines overlap: every home counts in one unit, and a warning names the pairs.

A planner's community file may have overlapping polygons (a digitising error, two versions of one boundary): a
home in two of them was counted in both, so the communities' children added up to more than the township total,
without a word. Now a home inside several units of one level counts in the one it lies deepest inside (largest
distance to the unit's outline; on a tie, the first in the file), the unit figures add up, and a warning names
each overlapping pair with the area they share and the homes and children in both.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from conftest import sample_file

from childspace._errors import ChildspaceWarning
from childspace.analysis import coverage as cv
from childspace.inputs import loaders as io

M = "EPSG:4549"
X0, Y0 = 500_000.0, 3_110_000.0


def _points(xy, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=[shapely.Point(X0 + x, Y0 + y) for x, y in xy], crs=M).to_crs(4326)


def _units(rows) -> gpd.GeoDataFrame:
    """rows: (unit_id, level, (x0, y0, x1, y1))."""
    return gpd.GeoDataFrame(
        {
            "unit_id": [r[0] for r in rows],
            "name": [f"单元{r[0]}" for r in rows],
            "level": [r[1] for r in rows],
        },
        geometry=[shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d) for _, _, (a, b, c, d) in rows],
        crs=M,
    ).to_crs(4326)


# community A = x 0..100, community B = x 80..200 (y 0..100 both): they share the strip x 80..100 (2,000 m2)
#   h1 (50, 50), 3 children: A only
#   h2 (85, 50), 5 children: in both; 15 m inside A's outline, 5 m inside B's: counted in A
#   h3 (98, 50), 4 children: in both; 2 m inside A's, 18 m inside B's: counted in B
#   h4 (150, 50), 2 children: B only
A = ("A", "community", (0, 0, 100, 100))
B = ("B", "community", (80, 0, 200, 100))
T = ("T", "township", (-10, -10, 210, 110))  # contains all: another level, no overlap to report


@pytest.fixture(scope="module")
def access():
    homes = _points(
        [(50, 50), (85, 50), (98, 50), (150, 50)], origin_id=["h1", "h2", "h3", "h4"], children=[3, 5, 4, 2]
    )
    far = _points([(5000, 5000)], facility_id=["K"], category=["kindergarten"], name=["k"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        return cv.origin_access(homes, far, None, categories=["kindergarten"])


def _coverage(units, access):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        uc = cv.unit_coverage(units, access, target_pct=80.0)
    return uc, [str(w.message) for w in caught if issubclass(w.category, ChildspaceWarning)]


def test_each_home_counts_in_one_unit(access):
    uc, warns = _coverage(_units([A, B, T]), access)
    kids = uc.set_index("unit_id")["children"]
    assert kids["A"] == 3 + 5 and kids["B"] == 4 + 2  # (each home once: was 12 and 11)
    assert kids["A"] + kids["B"] == kids["T"] == 14
    ov = pd.DataFrame(uc.attrs["overlaps"])
    assert len(ov) == 1
    r = ov.iloc[0]
    assert (r["unit_id_a"], r["unit_id_b"], r["level"]) == ("A", "B", "community")
    assert r["overlap_m2"] == pytest.approx(2000.0, rel=1e-6)
    assert r["homes"] == 2 and r["children"] == 9 and r["homes_to_a"] == 1 and r["homes_to_b"] == 1
    # one warning, naming the pair, the area, the homes and children counted twice and the rule
    msg = [w for w in warns if "overlap" in w]
    assert len(msg) == 1
    assert "单元A (A) / 单元B (B): 0.20 ha in common, 2 homes (9 children) in both" in msg[0]
    assert "1 counted in 单元A, 1 in 单元B" in msg[0] and "deepest inside" in msg[0]


def test_the_rule_does_not_depend_on_the_file_order(access):
    uc, _ = _coverage(_units([B, A]), access)
    kids = uc.set_index("unit_id")["children"]
    assert kids["A"] == 8 and kids["B"] == 6


def test_a_tie_goes_to_the_first_unit():
    # h on the middle line of the strip: 10 m inside both outlines
    homes = _points([(90, 50)], origin_id=["h"], children=[7])
    far = _points([(5000, 5000)], facility_id=["K"], category=["kindergarten"], name=["k"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        acc = cv.origin_access(homes, far, None, categories=["kindergarten"])
    for order, first in (([A, B], "A"), ([B, A], "B")):
        uc, _ = _coverage(_units(order), acc)
        kids = uc.set_index("unit_id")["children"]
        assert kids[first] == 7 and kids.sum() == 7


def test_no_overlap_no_warning_and_pilots_keep_every_home(access):
    # A and B' touch along x = 100 only: no warning
    uc, warns = _coverage(_units([A, ("B", "community", (100, 0, 200, 100))]), access)
    assert not any("overlap" in w for w in warns) and len(uc.attrs["overlaps"]) == 0
    # pilot units are judged each on its own: a home in two pilots counts in both
    uc, warns = _coverage(_units([("PA", "pilot", A[2]), ("PB", "pilot", B[2])]), access)
    kids = uc.set_index("unit_id")["children"]
    assert kids["PA"] == 12 and kids["PB"] == 11 and not any("overlap" in w for w in warns)


def test_gaps_count_each_home_once(access):
    g = cv.gaps(_units([A, B]), access, None)
    per = g.set_index("unit_id")["children_uncovered"]
    assert per["A"] == 8 and per["B"] == 6
    assert per.sum() == g.attrs["uncovered_origins_total"]["kindergarten"] == 14


def test_sample_with_an_overlapping_community():
    """The bundled sample's first community grown by 300 m over its neighbours (a digitising error)."""
    raw = gpd.read_file(sample_file("boundaries/communities.shp"), encoding="GBK")
    raw.loc[0, "geometry"] = raw.geometry[0].buffer(300)
    comms = io.load_boundaries(raw, level="community")
    towns = io.load_boundaries(sample_file("boundaries/townships.gpkg"), level="township")
    homes = io.load_origins(sample_file("origins/homes.gpkg"))
    far = gpd.GeoDataFrame(
        {"facility_id": ["K"], "category": ["kindergarten"], "name": ["k"]},
        geometry=[shapely.Point(121.5, 28.5)],
        crs=4326,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        acc = cv.origin_access(homes, far, None, categories=["kindergarten"])
        tc = cv.unit_coverage(towns, acc)
    cc, warns = _coverage(comms, acc)
    total = float(homes["children"].sum())
    # the communities add up to the townships and to the homes (3,605 before: 128 children counted twice)
    assert tc["children"].sum() == pytest.approx(total) == 3477
    assert cc["children"].sum() == pytest.approx(total)
    ov = pd.DataFrame(cc.attrs["overlaps"])
    assert set(ov["name_a"]) | set(ov["name_b"]) >= {"示例青松社区", "示例翠竹社区", "示例梅园社区"}
    assert ov["children"].sum() == pytest.approx(128) and (ov["overlap_m2"] > 1e5).all()
    msg = [w for w in warns if "overlap" in w]
    assert len(msg) == 1 and "示例青松社区" in msg[0] and "128 children" in msg[0]


def test_check_names_overlapping_boundaries_before_any_home_is_counted(tmp_path):
    """``childspace check`` says which communities overlap (from the boundaries alone); touching neighbours and
    the untouched sample say nothing."""
    import shutil

    from conftest import SAMPLE

    from childspace.analysis.units import overlapping_units
    from childspace.run import checking, pipeline

    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("outputs"))
    cfg = pipeline.load_config(data / "sample.toml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        assert "pair(s) overlap" not in checking.check_inputs(cfg)
    raw = gpd.read_file(data / "boundaries/communities.shp", encoding="GBK")
    assert overlapping_units(io.load_boundaries(raw, level="community")).empty  # neighbours only touch
    raw.loc[0, "geometry"] = raw.geometry[0].buffer(300)
    for f in (data / "boundaries").glob("communities.*"):
        f.unlink()
    raw.to_file(data / "boundaries/communities.shp", encoding="GBK")
    ov = overlapping_units(io.load_boundaries(raw, level="community"))
    assert {"示例翠竹社区", "示例梅园社区"} <= set(ov["name_a"]) | set(ov["name_b"])
    assert (ov["overlap_m2"] > 1e4).all() and (ov["share"] <= 1).all() and len(ov) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        text = checking.check_inputs(cfg)
    line = next(x for x in text.splitlines() if "pair(s) overlap" in x)
    assert line.strip().startswith(f"! communities: {len(ov)} pair(s) overlap") and "示例青松社区" in line
