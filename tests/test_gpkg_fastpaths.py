"""The GeoPackage's faster paths give what the general ones give: point WKB built from coordinates (as
``to_crs`` + ``to_wkb``), the per-home routes placed without a string index per category (as ``reindex``), layers
split on type ids, the routes view when the homes are in the same order, 64 KiB SQLite pages."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, Point

from childspace.analysis.route_tables import VERDICT_ORDER, routes_per_home
from childspace.outputs import geopackage as gp

pytest.importorskip("pyarrow")


def _points(n: int = 50, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    rng = np.random.default_rng(3)
    xy = np.column_stack([120.9 + rng.random(n) * 0.2, 28.0 + rng.random(n) * 0.2])
    return gpd.GeoDataFrame({"v": np.arange(n)}, geometry=shapely.points(xy), crs=crs)


@pytest.mark.parametrize("to", ["EPSG:4326", "EPSG:4549", "EPSG:32651"])
def test_points_wkb_is_to_crs_then_to_wkb(to):
    g = _points()
    got = gp._points_wkb(g, to)
    assert got is not None
    wkb, crs = got
    want = shapely.to_wkb(np.asarray(g.to_crs(to).geometry.array, dtype=object))
    assert wkb.to_pylist() == list(want)  # byte for byte
    assert crs.equals(g.to_crs(to).crs)


@pytest.mark.parametrize(
    "geoms",
    [
        [Point(0, 0), None],
        [Point(0, 0), Point()],
        [Point(0, 0, 1), Point(1, 1, 1)],
        [Point(0, 0), LineString([(0, 0), (1, 1)])],
    ],
)
def test_points_wkb_leaves_other_layers_to_to_crs(geoms):
    g = gpd.GeoDataFrame({"v": range(len(geoms))}, geometry=geoms, crs="EPSG:4326")
    assert gp._points_wkb(g, "EPSG:4549") is None
    assert gp._points_wkb(gpd.GeoDataFrame({"v": [1]}, geometry=[Point(0, 0)]), "EPSG:4549") is None  # no CRS


def _old_routes_per_home(routes: gpd.GeoDataFrame, table: pd.DataFrame) -> gpd.GeoDataFrame:
    """The definition with a string index per category (before the faster placement)."""
    homes = routes.drop_duplicates("origin_id").set_index("origin_id")
    out = pd.DataFrame(index=homes.index)
    out["children"] = homes["children"]
    rank = {v: i for i, v in enumerate(VERDICT_ORDER)}
    worst = pd.Series(-1, index=out.index)
    for cat in sorted(table["category"].unique()):
        sub = table[table["category"] == cat].set_index("origin_id")
        for col in ("school_id", "shortest_m", "safest_m", "worst_level", "verdict"):
            out[f"{cat}_{col}"] = sub[col].reindex(out.index)
        r = sub["verdict"].map(rank).reindex(out.index).fillna(-1).astype(int)
        worst = np.maximum(worst, r)
    names = np.array([*VERDICT_ORDER, None], dtype=object)
    out["verdict"] = names[worst.to_numpy()]
    return gpd.GeoDataFrame(out.reset_index(), geometry=homes.geometry.to_numpy(), crs=routes.crs)


@pytest.mark.parametrize("complete", [True, False])
def test_routes_per_home_as_reindexed(complete):
    rng = np.random.default_rng(5)
    ids = [f"H{i:04d}" for i in range(40)]
    order = rng.permutation(np.repeat(ids, 3))  # several routes per home, homes interleaved
    routes = gpd.GeoDataFrame(
        {"origin_id": order, "children": rng.integers(1, 4, len(order)).astype(float)},
        geometry=[Point(int(i[1:]), 1.0) for i in order],
        crs="EPSG:4326",
    )
    rows = []
    for cat in ("primary_school", "middle_school"):
        for i in ids if complete else ids[::3] if cat == "middle_school" else ids:
            rows.append(
                {
                    "origin_id": i,
                    "category": cat,
                    "school_id": f"S{int(i[1:]) % 7}" if int(i[1:]) % 5 else None,
                    "shortest_m": float(int(i[1:]) * 10),
                    "safest_m": float(int(i[1:]) * 11),
                    "worst_level": int(i[1:]) % 4 + 1,
                    "verdict": ["safe", "caution", "unsafe", "unreachable", "odd"][int(i[1:]) % 5],
                }
            )
    table = pd.DataFrame(rows).sample(frac=1.0, random_state=1)
    got = routes_per_home(routes, table=table)
    want = _old_routes_per_home(routes, table)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_routes_view_when_homes_in_the_same_order(tmp_path):
    g = _points(20)
    acc = g.assign(origin_id=[f"H{i}" for i in range(20)], children=np.arange(20))
    rts = acc[["origin_id", "children", "geometry"]].assign(verdict=["safe", "unsafe"] * 10)
    for routes in (rts, rts.iloc[::-1].reset_index(drop=True)):  # same order (fast check) and reversed
        ready = gp.prepare_layers({"access": acc.drop(columns="v"), "routes": routes})
        assert "routes" in ready.views and "routes" not in ready
        assert ready["access"]["verdict"].tolist() == ["safe", "unsafe"] * 10
        assert "verdict" not in acc.columns  # the access frame itself is not changed


def test_geopackage_pages_and_settings_restored(tmp_path):
    before = pyogrio.get_gdal_config_option("OGR_SQLITE_PRAGMA")
    gp.write_geopackage(tmp_path / "a.gpkg", {"homes": _points()})
    assert pyogrio.get_gdal_config_option("OGR_SQLITE_PRAGMA") == before
    con = sqlite3.connect(tmp_path / "a.gpkg")
    try:
        assert con.execute("PRAGMA page_size").fetchone()[0] == 65536
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
    back = pyogrio.read_dataframe(tmp_path / "a.gpkg", layer="homes")
    assert back["v"].tolist() == list(range(50))
    assert shapely.equals_exact(back.geometry.to_numpy(), _points().geometry.to_numpy(), 0).all()
