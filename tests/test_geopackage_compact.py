"""The compact GeoPackage: layers prepared once for both files, per-home routes as a view of the access layer,
recomputable flags left out, whole metres; every figure a planner reads in QGIS the same as in the results."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from childspace.analysis.route_tables import routes_per_home
from childspace.outputs import geopackage as gp
from childspace.run import pipeline, writing

# four homes in Yueqing (WGS84), two categories; h4 reaches no kindergarten on the network
_IDS = ["h1", "h2", "h3", "h4"]
_XY = [(120.95, 28.10), (120.96, 28.11), (120.97, 28.12), (120.98, 28.13)]


def _access() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "origin_id": _IDS,
            "children": [1, 2, 3, 4],
            "dist_walk_kindergarten": [120.4, 299.6, 300.2, np.inf],
            "covered_walk_kindergarten": [True, True, False, False],
            "nearest_kindergarten": ["K1", "K1", "K2", None],
            "no_network_kindergarten": [False, False, False, True],
            "dist_walk_park": [50.0, 60.0, 70.0, 80.0],
            "covered_walk_park": [True, True, True, True],
            "nearest_park": ["P1", "P1", "P1", "P1"],
            "no_network_park": [False, False, True, False],  # not what an empty distance says: kept
        },
        geometry=shapely.points(np.array(_XY)),
        crs=4326,
    )


def _routes(order: list[int]) -> gpd.GeoDataFrame:
    ids = [_IDS[i] for i in order]
    return gpd.GeoDataFrame(
        {
            "origin_id": ids,
            "children": [float(i + 1) for i in order],
            "primary_school_school_id": [f"S{i}" for i in order],
            "primary_school_shortest_m": [100.0 * (i + 1) for i in order],
            "primary_school_verdict": [["safe", "caution", "unsafe", "unreachable"][i] for i in order],
            "verdict": [["safe", "caution", "unsafe", "unreachable"][i] for i in order],
        },
        geometry=shapely.points(np.array([_XY[i] for i in order])),
        crs=4326,
    )


def _read(path, layer):
    df = pyogrio.read_dataframe(path, layer=layer)
    return df.drop(columns="geometry"), df.geometry


def test_prepare_drops_only_flags_an_empty_distance_repeats():
    ready = gp.prepare_layers({"access": _access()})
    a = ready["access"]
    assert "no_network_kindergarten" not in a.columns  # == dist_walk_kindergarten empty
    assert "no_network_park" in a.columns  # says something else: kept
    assert a["dist_walk_kindergarten"].tolist()[:3] == [120, 300, 300] and pd.isna(
        a["dist_walk_kindergarten"][3]
    )
    assert a["covered_walk_kindergarten"].tolist() == [
        True,
        True,
        False,
        False,
    ]  # flags as computed, not rounded
    assert gp.prepare_layers(ready) is ready  # prepared layers are written as they are


def test_routes_of_the_same_homes_are_a_view_of_access(tmp_path):
    routes = _routes([2, 0, 3, 1])  # another order than access
    for crs, epsg in ((4326, "EPSG:4326"), (4549, "EPSG:4549")):
        p = gp.write_geopackage(
            tmp_path / f"{epsg[5:]}.gpkg", {"access": _access(), "routes": routes}, crs=crs
        )
        layers = dict(pyogrio.list_layers(p))
        assert layers["routes"] == "Point" and layers["access"] == "Point"
        with sqlite3.connect(p) as con:
            kinds = dict(
                con.execute("SELECT name, type FROM sqlite_master WHERE name IN ('access','routes')")
            )
            contents = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents"))
            styled = {r[0] for r in con.execute("SELECT f_table_name FROM layer_styles")}
        assert kinds == {"access": "table", "routes": "view"}
        assert contents["routes"] == "features" and "routes" in styled  # opens styled by verdict in QGIS
        info = pyogrio.read_info(p, layer="routes")
        assert info["crs"] == epsg and info["features"] == 4
        got, geom = _read(p, "routes")
        want = routes.set_index("origin_id").loc[_IDS].reset_index()
        assert list(got.columns) == [c for c in routes.columns if c != "geometry"]
        pd.testing.assert_frame_equal(
            got.drop(columns="primary_school_shortest_m"),
            pd.DataFrame(want.drop(columns=["geometry", "primary_school_shortest_m"])),
            check_dtype=False,
        )
        assert got["primary_school_shortest_m"].tolist() == [100, 200, 300, 400]  # whole metres
        ref = want.geometry.to_crs(crs)
        assert shapely.equals_exact(np.asarray(geom.array), np.asarray(ref.array), tolerance=1e-6).all()
        acc, _ = _read(p, "access")
        assert acc["verdict"].tolist() == ["safe", "caution", "unsafe", "unreachable"]


def test_routes_of_other_homes_stay_a_layer(tmp_path):
    routes = _routes([0, 1])  # routes from two homes only
    p = gp.write_geopackage(tmp_path / "x.gpkg", {"access": _access(), "routes": routes})
    with sqlite3.connect(p) as con:
        kinds = dict(con.execute("SELECT name, type FROM sqlite_master WHERE name IN ('access','routes')"))
    assert kinds == {"access": "table", "routes": "table"}
    got, _ = _read(p, "routes")
    assert got["origin_id"].tolist() == ["h1", "h2"] and "verdict" not in _read(p, "access")[0].columns
    moved = _routes([0, 1, 2, 3])
    moved["geometry"] = shapely.points(np.array(_XY) + 0.001)  # not the access points: a layer of its own
    p = gp.write_geopackage(tmp_path / "y.gpkg", {"access": _access(), "routes": moved})
    with sqlite3.connect(p) as con:
        assert con.execute("SELECT type FROM sqlite_master WHERE name = 'routes'").fetchone()[0] == "table"


def test_large_per_home_layer_has_no_spatial_index(tmp_path, monkeypatch):
    monkeypatch.setattr(gp, "NO_INDEX_MIN_ROWS", 4)
    p = gp.write_geopackage(tmp_path / "x.gpkg", {"access": _access(), "other": _access()})
    with sqlite3.connect(p) as con:
        rtrees = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE name LIKE 'rtree_%_geom'")}
    assert rtrees == {"rtree_other_geom"}
    assert pyogrio.read_info(p, layer="access")["features"] == 4


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    cfg = pipeline.sample_config()
    cfg.outputs = tmp_path_factory.mktemp("run") / "outputs"
    res = pipeline.run_analyses(cfg)
    layers = writing._gpkg_layers(res, cfg)
    out = tmp_path_factory.mktemp("gpkg")
    files = {
        "wgs84": writing.write_geopackage(out / "a.gpkg", layers, target_pct=cfg.target_pct),
        "local": writing.write_geopackage(out / "b.gpkg", layers, crs=writing._local_crs(res)),
    }
    return cfg, res, files


def test_sample_files_carry_every_coverage_figure_per_home(sample):
    cfg, res, files = sample
    acc = res.layers["access"].set_index("origin_id")
    cats = [c[len("dist_walk_") :] for c in acc.columns if str(c).startswith("dist_walk_")]
    assert cats
    for key, path in files.items():
        got, _ = _read(path, "access")
        got = got.set_index("origin_id").loc[acc.index]
        for c in cats:
            d = acc[f"dist_walk_{c}"].to_numpy(dtype=float)
            g = got[f"dist_walk_{c}"].to_numpy(dtype=float)
            fin = np.isfinite(d)
            assert np.array_equal(np.isnan(g), ~fin), (key, c)  # unreachable: empty
            assert np.array_equal(g[fin], np.round(d[fin])), (key, c)  # whole metres
            assert got[f"covered_walk_{c}"].astype(bool).tolist() == acc[f"covered_walk_{c}"].tolist()
            n = acc[f"nearest_{c}"].astype(object).where(acc[f"nearest_{c}"].notna(), None)
            assert (
                got[f"nearest_{c}"].astype(object).where(got[f"nearest_{c}"].notna(), None).tolist()
                == n.tolist()
            )
            if f"no_network_{c}" not in got.columns:  # left out only where an empty distance says it
                assert acc[f"no_network_{c}"].astype(bool).tolist() == (~fin).tolist()


def test_sample_routes_layer_reads_as_routes_per_home(sample):
    cfg, res, files = sample
    want = routes_per_home(res.layers["routes"]).set_index("origin_id")
    for path in files.values():
        with sqlite3.connect(path) as con:  # the sample routes every home: the view of access
            assert con.execute("SELECT type FROM sqlite_master WHERE name = 'routes'").fetchone()[0] == "view"
        got, _ = _read(path, "routes")
        assert len(got) == len(want)
        got = got.set_index("origin_id").loc[want.index]
        for c in want.columns:
            if c == "geometry":
                continue
            w = want[c]
            if pd.api.types.is_float_dtype(w.dtype) and str(c).endswith("_m"):
                w = w.round()
            pd.testing.assert_series_equal(got[c], w, check_dtype=False, check_names=False)
        layers = dict(pyogrio.list_layers(path))
        assert layers["routes"] == "Point" and layers["access"] == "Point"
