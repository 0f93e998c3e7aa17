"""The datum cross-check: Amap/Baidu coordinates loaded as WGS84 are found against the street network."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from childspace.analysis.checks import datum_check
from childspace.inputs import datum
from childspace.inputs import loaders as io
from childspace.network.engine import WalkNetwork
from childspace.osm.features import facilities_from_osm
from childspace.osm.reader import read_osm

DATA = Path(__file__).resolve().parents[1] / "childspace" / "data"


@pytest.fixture(scope="module")
def net() -> WalkNetwork:
    return WalkNetwork.from_frames(*read_osm(DATA / "osm" / "sample.osm"))


@pytest.fixture(scope="module")
def osm_ref() -> gpd.GeoDataFrame:
    return facilities_from_osm(DATA / "osm" / "sample.osm")


@pytest.fixture(scope="module")
def truth() -> gpd.GeoDataFrame:
    f = io.load_facilities(DATA / "facilities" / "facilities.csv")
    f["source_file"] = "facilities.csv"
    return f


def _shifted(f: gpd.GeoDataFrame, to: str, name: str) -> gpd.GeoDataFrame:
    lon, lat = datum.from_wgs84(f.geometry.x.to_numpy(), f.geometry.y.to_numpy(), to)
    out = f.copy()
    out["geometry"] = gpd.points_from_xy(lon, lat, crs="EPSG:4326")
    out["source_file"] = name
    return out


def test_true_positions_are_not_suspect(net, truth, osm_ref):
    rep = datum_check(truth, net, reference=osm_ref)
    assert len(rep) == 1
    row = rep.iloc[0]
    assert row["suspect"] == ""
    assert row["median_m"] < 60  # entrances a few tens of metres from the street
    assert row["message"] == ""
    assert row["pairs"] >= 5 and row["pair_offset_m"] < 60  # same places as in OSM


@pytest.mark.parametrize("to, lo, hi", [("gcj02", 350, 800), ("bd09", 800, 1500)])
def test_shifted_file_is_flagged_with_the_option(net, truth, osm_ref, to, lo, hi):
    shifted = _shifted(truth, to, f"picked_{to}.xlsx")
    both = gpd.GeoDataFrame(gpd.pd.concat([truth, shifted], ignore_index=True), crs="EPSG:4326")
    rep = datum_check(both, net, reference=osm_ref).set_index("group")
    assert rep.loc["facilities.csv", "suspect"] == ""
    bad = rep.loc[f"picked_{to}.xlsx"]
    assert bad["suspect"] == to
    assert f'coords="{to}"' in bad["message"] and f"picked_{to}.xlsx" in bad["message"]
    assert bad["evidence"] == "reference"
    # the offset itself is measured, not assumed: the pairs sit the datum's shift apart
    assert lo < bad["pair_offset_m"] < hi
    d = np.hypot(*(np.array(datum.from_wgs84(120.98, 28.12, to)) - [120.98, 28.12]))
    assert lo < d * 111_000 < hi


def test_street_test_flags_a_shift_in_a_sparse_network(truth):
    # a network of two long streets far apart: shifted entrances sit far from both, converted ones next to one
    from shapely.geometry import LineString, Point

    t = truth.to_crs(4549)
    x0, y0 = t.geometry.iloc[0].x, t.geometry.iloc[0].y
    pts = gpd.GeoDataFrame(
        {"name": ["a", "b", "c", "d"], "category": "kindergarten", "source_file": "picked.csv"},
        geometry=[Point(x0 + dx, y0 + 20) for dx in (-300, -100, 100, 300)],
        crs=4549,
    )
    nodes = gpd.GeoDataFrame(
        {"osmid": [1, 2, 3, 4]},
        geometry=[
            Point(x0 - 2000, y0),
            Point(x0 + 2000, y0),
            Point(x0 - 2000, y0 + 3000),
            Point(x0 + 2000, y0 + 3000),
        ],
        crs=4549,
    ).set_index("osmid")
    edges = gpd.GeoDataFrame(
        {"u": [1, 3], "v": [2, 4], "key": 0, "osmid": [10, 11], "highway": "residential"},
        geometry=[
            LineString([nodes.geometry[1], nodes.geometry[2]]),
            LineString([nodes.geometry[3], nodes.geometry[4]]),
        ],
        crs=4549,
    )
    sparse = WalkNetwork.from_frames(nodes.to_crs(4326), edges.to_crs(4326))
    shifted = _shifted(pts.to_crs(4326), "gcj02", "picked.csv")
    rep = datum_check(shifted, sparse)
    assert rep.iloc[0]["suspect"] == "gcj02" and rep.iloc[0]["evidence"] == "street"
    assert rep.iloc[0]["median_if_gcj02_m"] < 25 < 300 < rep.iloc[0]["median_m"]
    assert datum_check(pts.to_crs(4326), sparse).iloc[0]["suspect"] == ""


def test_the_sample_amap_sheet_read_as_wgs84_is_flagged(net, osm_ref):
    wrong = io.load_facilities(DATA / "facilities" / "mother_baby_rooms_amap.xlsx", coords="wgs84")
    wrong["source_file"] = "mother_baby_rooms_amap.xlsx"
    right = io.load_facilities(DATA / "facilities" / "mother_baby_rooms_amap.xlsx", coords="gcj02")
    right["source_file"] = "mother_baby_rooms_amap.xlsx"
    assert datum_check(wrong, net, reference=osm_ref).iloc[0]["suspect"] == "gcj02"
    assert datum_check(right, net, reference=osm_ref).iloc[0]["suspect"] == ""


def test_small_groups_are_not_judged(net, truth):
    rep = datum_check(_shifted(truth.iloc[:2], "gcj02", "two.csv"), net)
    assert rep.iloc[0]["points"] == 2 and rep.iloc[0]["suspect"] == "" and np.isnan(rep.iloc[0]["median_m"])
