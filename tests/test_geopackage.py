"""The GeoPackage for QGIS: one geometry type per layer, street stress, a CGCS2000 copy, QGIS styles, atomic."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

from childspace.outputs import geopackage as gp
from childspace.run import pipeline

FAMILY = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "Polygon": "area",
    "MultiPolygon": "area",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The sample's whole chain written as a user's `childspace report --no-maps` writes it."""
    cfg = pipeline.sample_config()
    cfg.outputs = tmp_path_factory.mktemp("run") / "outputs"
    res = pipeline.run_analyses(cfg)
    written = pipeline.write_outputs(res, cfg, maps=False)
    return cfg, res, written


def _styles(path: Path) -> pd.DataFrame:
    with sqlite3.connect(path) as con:
        return pd.read_sql(
            "SELECT f_table_name, f_geometry_column, styleName, styleQML, useAsDefault FROM layer_styles", con
        )


def test_every_layer_has_one_geometry_type(run):
    cfg, res, written = run
    for key in ("geopackage", "geopackage_local"):
        path = written[key]
        for name, gtype in pyogrio.list_layers(path):
            if name in ("layer_styles", "stress_reasons"):  # attribute tables
                assert gtype is None
                continue
            assert gtype in ("Point", "MultiLineString", "MultiPolygon"), (path.name, name, gtype)
            types = set(pyogrio.read_dataframe(path, layer=name, columns=[]).geom_type.dropna())
            assert len({FAMILY[t] for t in types}) == 1, (name, types)
    layers = dict(pyogrio.list_layers(written["geopackage"]))
    assert "pilots" not in layers and "hazards" not in layers
    assert layers["pilots_point"] == "Point" and layers["pilots_area"] == "MultiPolygon"
    assert layers["hazards_point"] == "Point" and layers["hazards_line"] == "MultiLineString"
    path = written["geopackage"]
    pp = gpd.read_file(path, layer="pilots_point")
    pa = gpd.read_file(path, layer="pilots_area")
    assert len(pp) + len(pa) == len(res.layers["pilots"]) == 48
    assert set(pa["kind"]) == {"community"} and "community" not in set(pp["kind"])
    hp = gpd.read_file(path, layer="hazards_point")
    hl = gpd.read_file(path, layer="hazards_line")
    assert len(hp) + len(hl) == len(res.layers["hazards"])
    assert set(hp["type"]) == {"crossing"} and set(hl["type"]) == {"segment"}
    assert (
        hl["countermeasures"].str.contains(" — ").all()
        and hp["countermeasure_basis"].str.startswith("[").all()
    )


def test_street_stress_layer_is_the_network_with_levels(run):
    cfg, res, written = run
    st = gpd.read_file(written["geopackage"], layer="street_stress")
    assert len(st) == res.network.n_edges
    assert set(st["level"]) <= {1, 2, 3, 4} and st["level"].nunique() >= 3
    np.testing.assert_array_equal(st["level"].to_numpy(), res.stress.edge_level.astype(int))
    reasons = pyogrio.read_dataframe(written["geopackage"], layer="stress_reasons").set_index("reason_id")
    assert reasons["reason"].is_unique  # each text once; every street's number names one of them
    assert st["reason_id"].isin(reasons.index).all()
    assert reasons.loc[st["reason_id"], "reason"].str.len().gt(0).all()
    # simplified within 1 m: never more vertices than the network's edges, the same length within 0.5 %
    n_new = shapely.get_num_coordinates(st.geometry.to_numpy()).sum()
    n_old = shapely.get_num_coordinates(np.asarray(res.network.edges.geometry.array)).sum()
    assert n_new <= n_old
    local = gpd.read_file(written["geopackage_local"], layer="street_stress")
    assert local.length.sum() == pytest.approx(float(np.sum(res.network.length)), rel=5e-3)
    cr = gpd.read_file(written["geopackage"], layer="crossing_stress")
    assert len(cr) == int((res.stress.nodes["level"] > 0).sum())


def test_street_stress_layer_counts_the_children_walking_each_street(run):
    """Each street carries the children walking it to school on the safest and on the shortest routes (0: no
    route): the counts of route_edge_use, street by street; the streets walked most are on the routes."""
    from childspace.analysis.streets import route_edge_use, stress_frames

    cfg, res, written = run
    st = gpd.read_file(written["geopackage"], layer="street_stress")
    cols = list(st.columns)
    assert cols.index("children_safest") == cols.index("level") + 1 < cols.index("children_shortest")
    edges, _ = stress_frames(res.network, res.stress)
    for kind in ("safest", "shortest"):
        use = route_edge_use(res.layers["routes"], edges, kind)
        want = np.zeros(len(edges), dtype=np.int64)
        want[use["edge"].to_numpy()] = np.rint(use["children"].to_numpy()).astype(np.int64)
        got = st[f"children_{kind}"].to_numpy()
        np.testing.assert_array_equal(got, want)
        assert got.max() > 0 and (got == 0).sum() > 0  # some streets walked by many, some by none
    local = gpd.read_file(written["geopackage_local"], layer="street_stress")
    np.testing.assert_array_equal(local["children_safest"].to_numpy(), st["children_safest"].to_numpy())
    # the QGIS alias of the column is Chinese first
    with sqlite3.connect(written["geopackage"]) as con:
        qml = con.execute("SELECT styleQML FROM layer_styles WHERE f_table_name='street_stress'").fetchone()[
            0
        ]
    assert "最安全路线上的通学儿童" in qml


def test_the_local_copy_is_in_the_cgcs2000_zone_of_the_network(run):
    cfg, res, written = run
    local = written["geopackage_local"]
    assert local.name == "childspace_cgcs2000.gpkg"
    assert res.network.crs.to_epsg() == 4549  # CGCS2000 / 3-degree Gauss-Kruger CM 120E
    wgs = dict(pyogrio.list_layers(written["geopackage"]))
    assert dict(pyogrio.list_layers(local)) == wgs  # the same layers
    for name in wgs:
        if name not in ("layer_styles", "stress_reasons"):  # attribute tables have no CRS
            assert pyogrio.read_info(local, layer=name)["crs"] == "EPSG:4549", name
            assert pyogrio.read_info(written["geopackage"], layer=name)["crs"] == "EPSG:4326", name
    a = gpd.read_file(local, layer="communities")
    b = gpd.read_file(written["geopackage"], layer="communities").to_crs(4549)
    assert a.area.to_numpy() == pytest.approx(b.area.to_numpy(), rel=1e-6)
    x = a.total_bounds
    assert 400_000 < x[0] < 800_000 and 3_000_000 < x[1] < 3_300_000  # metres, no zone prefix in the easting


def test_qgis_styles_are_in_layer_styles(run):
    cfg, res, written = run
    for key in ("geopackage", "geopackage_local"):
        st = _styles(written[key])
        with sqlite3.connect(written[key]) as con:
            geom = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
            kind = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall())
        assert kind["layer_styles"] == "attributes"
        assert {
            "community_coverage",
            "street_stress",
            "crossing_stress",
            "hazards_point",
            "hazards_line",
            "routes",
            "pilots_point",
            "pilots_area",
            "facilities",
        } <= set(st["f_table_name"])
        assert (st.groupby("f_table_name")["useAsDefault"].sum() == 1).all()  # one style applied on open
        for _, r in st.iterrows():
            assert r["f_geometry_column"] == geom[r["f_table_name"]]
            root = ET.fromstring(r["styleQML"])  # every style parses as XML
            assert root.tag == "qgis" and root.find("renderer-v2") is not None
    st = _styles(written["geopackage"]).set_index(["f_table_name", "useAsDefault"])
    # hazards: categories of the levels present, labelled with the rank
    hz = ET.fromstring(st.loc[("hazards_point", 1), "styleQML"])
    rend = hz.find("renderer-v2")
    assert rend.get("type") == "categorizedSymbol" and rend.get("attr") == "level"
    values = {int(c.get("value")) for c in rend.iter("category")}
    assert set(res.layers["hazards"]["level"]) <= values
    assert (
        hz.get("labelsEnabled") == "1" and hz.find("labeling/settings/text-style").get("fieldName") == "rank"
    )
    aliases = {a.get("field"): a.get("name") for a in hz.iter("alias")}
    assert aliases["countermeasures"] == "整改措施建议 Countermeasures"
    # coverage by community against the 80 % target: opened on the number of categories below it
    cov = ET.fromstring(st.loc[("community_coverage", 1), "styleQML"]).find("renderer-v2")
    assert cov.get("type") == "graduatedSymbol" and cov.get("attr") == "n_below_target"
    # the per-category styles classify exactly as the maps do: 79.99 % below, 80 % meets
    kg = st.loc[("community_coverage", 0)]
    kg = kg[kg["styleName"].str.startswith("幼儿园")].iloc[0]
    rend = ET.fromstring(kg["styleQML"]).find("renderer-v2")
    assert rend.get("attr") == "pct_walk_kindergarten"
    ranges = [(float(r.get("lower")), float(r.get("upper")), r.get("label")) for r in rend.iter("range")]

    def label(v):
        return next(lab for lo, hi, lab in ranges if lo <= v <= hi)  # QGIS: both ends included, first wins

    assert "低于目标" in label(79.99) and "达到目标" in label(80.0) and "20–40" in label(20.0)
    # routes by verdict, pilots by status with a shape per status
    rt = ET.fromstring(st.loc[("routes", 1), "styleQML"]).find("renderer-v2")
    assert rt.get("attr") == "verdict"
    assert {c.get("value") for c in rt.iter("category")} >= set(res.layers["routes"]["verdict"])
    pl = ET.fromstring(st.loc[("pilots_point", 1), "styleQML"])
    shapes = [o.get("value") for o in pl.iter("Option") if o.get("name") == "name"]
    assert len(set(shapes)) == 3


def test_community_coverage_layer_by_hand():
    units = gpd.GeoDataFrame(
        {"unit_id": ["1", "2"], "name": ["甲社区", "乙社区"]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
        crs=4549,
    )
    cov = pd.DataFrame(
        {
            "unit_id": ["1", "1", "2", "2"],
            "category": ["kindergarten", "park", "kindergarten", "park"],
            "pct_walk": [90.0, 50.0, 79.9, 80.0],
            "children": [10, 10, 20, 20],
            "target_pct": 80.0,
        }
    )
    lay = gp.community_coverage_layer(units, cov, ["kindergarten", "park"])
    assert list(lay["n_below_target"]) == [1, 1]
    assert list(lay["min_pct_walk"]) == [50.0, 79.9]
    assert list(lay["pct_walk_park"]) == [50.0, 80.0] and list(lay["children"]) == [10, 20]


def test_split_layers_and_routes_as_home_points(tmp_path):
    mixed = gpd.GeoDataFrame(
        {"name": ["a", "b", "c"]},
        geometry=[
            shapely.Point(120.9, 28.1),
            shapely.box(120.9, 28.1, 120.91, 28.11),
            shapely.Point(120.95, 28.1),
        ],
        crs=4326,
    )
    parts = gp.single_geometry_layers({"venues": mixed, "empty": mixed.iloc[:0], "none": None})
    assert sorted(parts) == ["venues_area", "venues_point"] and len(parts["venues_point"]) == 2
    # routes without line geometry (route lines opt-in): the home points, styled as markers by verdict
    homes = gpd.GeoDataFrame(
        {"origin_id": ["h1", "h2"], "verdict": ["safe", "unsafe"], "children": [1, 2]},
        geometry=[shapely.Point(120.9, 28.1), shapely.Point(120.91, 28.1)],
        crs=4326,
    )
    lines = homes.assign(geometry=[shapely.LineString([(120.9, 28.1), (120.92, 28.1)])] * 2)
    for lay, want, sym in ((homes, "Point", "marker"), (lines, "MultiLineString", "line")):
        p = gp.write_geopackage(tmp_path / f"{want}.gpkg", {"routes": lay, "venues": mixed}, crs=4549)
        layers = dict(pyogrio.list_layers(p))
        assert layers["routes"] == want and layers["venues_point"] == "Point"
        assert layers["venues_area"] == "MultiPolygon"
        qml = _styles(p).set_index("f_table_name").loc["routes", "styleQML"]
        assert {s.get("type") for s in ET.fromstring(qml).iter("symbol")} == {sym}


def test_a_failed_write_leaves_the_old_file(tmp_path):
    ok = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(120.9, 28.1)], crs=4326)
    p = gp.write_geopackage(tmp_path / "x.gpkg", {"ok": ok})
    before = p.read_bytes()
    bad = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)])  # no CRS: cannot be reprojected
    with pytest.raises(ValueError):
        gp.write_geopackage(p, {"ok": ok, "bad": bad})
    assert p.read_bytes() == before
    assert sorted(q.name for q in tmp_path.iterdir()) == ["x.gpkg"]


def test_the_workbook_of_the_run_shows_the_countermeasures(run):
    cfg, res, written = run
    wb = openpyxl.load_workbook(written["excel"], read_only=True)
    ws = wb["隐患点 Hazards"]
    rows = ws.iter_rows(values_only=True)
    head = list(next(rows))
    i = head.index("整改措施建议 Countermeasures")
    j = head.index("措施依据 Basis of the countermeasures")
    vals = [r for r in rows]
    assert len(vals) == len(res.layers["hazards"])
    assert all(r[i] and " — " in r[i] for r in vals) and all(r[j].startswith("[") for r in vals)
    csv = pd.read_csv(written["csv:hazards"], encoding="utf-8-sig")
    assert (
        "整改措施建议 Countermeasures" in csv.columns
        and "措施依据 Basis of the countermeasures" in csv.columns
    )


def test_every_facility_category_of_the_layer_is_drawn_in_qgis(run):
    """A categorized QGIS style draws only the values it lists: each category in the facilities layer has a class
    (the sample's infant-care centres were left out once), and a category of the user's own gets one too."""
    cfg, res, written = run
    st = _styles(written["geopackage"]).set_index(["f_table_name", "useAsDefault"])
    rend = ET.fromstring(st.loc[("facilities", 1), "styleQML"]).find("renderer-v2")
    assert rend.get("attr") == "category"
    assert set(res.layers["facilities"]["category"]) <= {c.get("value") for c in rend.iter("category")}
    assert "infant_care" in set(res.layers["facilities"]["category"])
    fac = gpd.GeoDataFrame(
        {"category": ["park", "youth_centre", "park"]},
        geometry=gpd.points_from_xy([0, 1, 2], [0, 1, 2]),
        crs="EPSG:4326",
    )
    (style,) = gp.layer_styles("facilities", fac)
    cats = [c.get("value") for c in ET.fromstring(style.qml).iter("category")]
    assert cats == ["park", "youth_centre"]
