"""Before/after scenarios on the bundled sample: a facility added or removed changes exactly the figures it should."""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from childspace import DataError
from childspace.analysis import coverage as cov
from childspace.analysis import scenarios as sc
from childspace.run import pipeline

COMMUNITY = "330382901002"  # 示例翠竹社区: 214 children, no kindergarten within 300 m


@pytest.fixture(scope="module")
def base():
    """The sample's run (inputs, network, coverage, pilot status), computed once for the module."""
    cfg = pipeline.sample_config()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pipeline.run_analyses(cfg, routes=False)
    return cfg, res


def _homes_in(res, unit_id):
    com = res.inputs.communities
    poly = com.loc[com["unit_id"] == unit_id].geometry.iloc[0]
    acc = res.layers["access"]
    return acc.geometry.within(poly).to_numpy()


def _after(res, cfg, change):
    acc1 = sc.update_access(
        res.layers["access"],
        res.inputs.origins,
        change.facilities,
        res.network,
        change.categories,
        radii=cfg.resolved_standards(),
    )
    uc1 = pd.concat(
        [
            cov.unit_coverage(u, acc1, change.categories, target_pct=cfg.target_pct)
            for u in (res.inputs.townships, res.inputs.communities)
        ],
        ignore_index=True,
    )
    return sc.State(coverage=uc1, access=acc1)


def _before(res):
    uc0 = pd.concat([res.tables["township_coverage"], res.tables["community_coverage"]], ignore_index=True)
    return sc.State(coverage=uc0, access=res.layers["access"])


def _units(res):
    i = res.inputs
    return gpd.GeoDataFrame(
        pd.concat(
            [i.townships[["unit_id", "level", "geometry"]], i.communities[["unit_id", "level", "geometry"]]],
            ignore_index=True,
        ),
        geometry="geometry",
        crs=i.communities.crs,
    )


def test_new_kindergarten_covers_exactly_the_children_within_300m_on_foot(base):
    cfg, res = base
    net, acc = res.network, res.layers["access"]
    inside = _homes_in(res, COMMUNITY)
    assert inside.sum() > 50
    # the community has no kindergarten within 300 m: no child of it is covered before
    assert not acc["covered_walk_kindergarten"].to_numpy()[inside].any()
    assert acc["dist_walk_kindergarten"].to_numpy()[inside].min() > 300
    # the new site: the street node nearest to the children-weighted centre of the community's homes
    homes_m = acc.to_crs(net.crs)
    w = acc["children"].to_numpy(dtype=float)[inside]
    cx = np.average(homes_m.geometry.x.to_numpy()[inside], weights=w)
    cy = np.average(homes_m.geometry.y.to_numpy()[inside], weights=w)
    node = int(np.argmin(np.hypot(net.x - cx, net.y - cy)))
    site = gpd.GeoSeries(gpd.points_from_xy([net.x[node]], [net.y[node]]), crs=net.crs).to_crs(4326).iloc[0]
    change = sc.apply_changes(
        res.layers["facilities"],
        add=[("幼儿园", site.x, site.y, "新建示例翠竹幼儿园")],
        study_area=res.inputs.study_area,
    )
    assert change.categories == ["kindergarten"]
    assert change.added["facility_id"].tolist() == ["NEW01"] and change.added["source"].iloc[0] == "scenario"
    comp = sc.compare(_before(res), _after(res, cfg, change), units=_units(res))
    row = comp.units[(comp.units["unit_id"] == COMMUNITY) & (comp.units["level"] == "community")].iloc[0]

    # direct computation on the walk network: home leg + network + leg to the new site, within 300 m
    homes = net.snap(acc.geometry, max_distance=150.0, legs=True)
    new = net.snap(gpd.GeoSeries([site], crs=4326), max_distance=150.0, legs=True)
    d, _ = net.nearest(new, homes)
    d = np.where(homes.ok, d, np.inf)
    before = acc["covered_walk_kindergarten"].to_numpy()
    expected = acc["children"].to_numpy(dtype=float)[inside & (d <= 300.0) & ~before].sum()
    assert expected > 0
    assert row["newly_covered"] == expected
    assert row["covered_after"] - row["covered_before"] == expected
    assert row["no_longer_covered"] == 0
    # in total as well: every child newly covered is within 300 m of the new site and was not covered before
    total = acc["children"].to_numpy(dtype=float)[(d <= 300.0) & ~before].sum()
    summ = comp.summary.set_index("category").loc["kindergarten"]
    assert summ["newly_covered"] == total and summ["no_longer_covered"] == 0
    # the walking distance includes the legs: never below the straight line
    line = homes_m.geometry.distance(gpd.GeoSeries([site], crs=4326).to_crs(net.crs).iloc[0]).to_numpy()
    assert (d[np.isfinite(d)] >= line[np.isfinite(d)] - 1e-6).all()
    # the sentence says it
    lines = sc.describe(comp, change)
    assert lines[0].startswith(f"新增幼儿园后新增覆盖 {total:,.0f} 名儿童")
    assert f"the new kindergarten covers {total:,.0f} more children" in lines[0]


def test_removing_a_kindergarten_loses_only_the_children_it_alone_covered(base):
    cfg, res = base
    acc = res.layers["access"]
    fac = res.layers["facilities"]
    kg = fac[fac["category"] == "kindergarten"]
    served = acc[acc["covered_walk_kindergarten"]].groupby("nearest_kindergarten")["children"].sum()
    fid = str(served.idxmax())  # the kindergarten nearest to the most covered children
    change = sc.apply_changes(fac, remove=[fid])
    assert len(change.facilities) == len(fac) - 1 and change.removed["facility_id"].tolist() == [fid]
    after = _after(res, cfg, change)
    comp = sc.compare(_before(res), after, units=_units(res))
    u = comp.units
    assert (u["newly_covered"] == 0).all()
    assert (u["covered_after"] == u["covered_before"] - u["no_longer_covered"]).all()
    lost = acc["covered_walk_kindergarten"].to_numpy() & ~after.access["covered_walk_kindergarten"].to_numpy()
    assert lost.any()
    # every child no longer covered had the removed kindergarten as nearest, and no other within 300 m
    assert (acc["nearest_kindergarten"].to_numpy()[lost] == fid).all()
    assert (after.access["dist_walk_kindergarten"].to_numpy()[lost] > 300).all()
    summ = comp.summary.set_index("category").loc["kindergarten"]
    assert summ["no_longer_covered"] == acc["children"].to_numpy(dtype=float)[lost].sum()
    comm = u[u["level"] == "community"]
    assert comm["no_longer_covered"].sum() <= summ["no_longer_covered"]
    assert ((comm["target_change"] == sc.REACHES).sum()) == 0
    # removing never brings a kindergarten nearer
    assert (
        after.access["dist_walk_kindergarten"].to_numpy() >= acc["dist_walk_kindergarten"].to_numpy() - 1e-9
    ).all()
    assert len(kg) - 1 == int((change.facilities["category"] == "kindergarten").sum())


def test_suggested_sites_cover_what_the_siting_promised(base):
    cfg, res = base
    fac = res.layers["facilities"]
    net = res.network
    com = res.inputs.communities.to_crs(net.crs)
    poly = com.loc[com["unit_id"].isin([COMMUNITY, "330382902002"])].geometry.union_all()
    nodes = gpd.GeoSeries(gpd.points_from_xy(net.x, net.y), crs=net.crs)
    cand = gpd.GeoDataFrame({"candidate_id": [f"n{i}" for i in range(len(nodes))]}, geometry=nodes)
    cand = cand[nodes.within(poly).to_numpy()]  # street nodes of two communities without kindergartens
    sites = cov.suggest_sites(
        cand, res.inputs.origins, net, 300.0, p=2, facilities=fac[fac["category"] == "kindergarten"]
    )
    assert len(sites) == 2
    change = sc.apply_changes(
        fac,
        add=sites.assign(category="kindergarten", name=sites["candidate_id"]),
        study_area=res.inputs.study_area,
    )
    comp = sc.compare(_before(res), _after(res, cfg, change), units=_units(res))
    summ = comp.summary.set_index("category").loc["kindergarten"]
    assert summ["newly_covered"] == sites["children_new"].sum() > 0
    assert summ["no_longer_covered"] == 0


def test_a_point_outside_the_study_area_is_refused(base):
    _, res = base
    with pytest.raises(DataError, match=r"outside the study area, [\d,]+ m beyond its edge.*--coords gcj02"):
        sc.apply_changes(
            res.layers["facilities"], add=[("幼儿园", 121.30, 28.12)], study_area=res.inputs.study_area
        )
    with pytest.raises(DataError, match="lat and lon swapped"):
        sc.new_sites([("kindergarten", 28.12, 120.98)])
    with pytest.raises(DataError, match="no facility with id 'KG99' to remove.*did you mean"):
        sc.apply_changes(res.layers["facilities"], remove=["KG99"])


def test_amap_coordinates_are_shifted_to_wgs84():
    from childspace.inputs.datum import wgs84_to_gcj02

    gx, gy = wgs84_to_gcj02(120.97, 28.11)
    s = sc.new_sites([("幼儿园", float(gx), float(gy))], coords="gcj02")
    assert abs(s.geometry.x.iloc[0] - 120.97) < 1e-6 and abs(s.geometry.y.iloc[0] - 28.11) < 1e-6
    assert s["category"].iloc[0] == "kindergarten" and s["name"].iloc[0].startswith("新建幼儿园")


def test_bad_add_gives_one_line_naming_the_argument(capsys):
    from childspace.run.cli import main

    sample = str(pipeline.SAMPLE_DATA / "sample.toml")
    assert main(["scenario", "--config", sample, "--add", "幼儿园,abc"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert '--add "幼儿园,abc"' in err and "CATEGORY,LON,LAT" in err and '--add "幼儿园,120.98,28.12"' in err
    assert main(["scenario", "--config", sample, "--add", "幼儿园,abc,28.1"]) == 2
    assert 'LON "abc" is not a number' in capsys.readouterr().err
    assert main(["scenario", "--config", sample, "--add", "游泳池,120.98,28.12"]) == 2
    err = capsys.readouterr().err
    assert '--add "游泳池,120.98,28.12"' in err and "kindergarten" in err


def test_scenario_command_writes_the_comparison_and_keeps_the_run_folder(base, tmp_path, monkeypatch, capsys):
    """The whole command with a new primary school (routes recomputed), on the module's run."""
    from childspace.run import outdir
    from childspace.run.cli import main

    _cfg, res = base
    monkeypatch.setattr(pipeline, "run_analyses", lambda *a, **k: res)
    out = tmp_path / "out"
    sample = str(pipeline.SAMPLE_DATA / "sample.toml")
    # a primary school in 示例杏坛社区 (no primary school covers any of its children)
    rc = main(
        [
            "scenario",
            "--config",
            sample,
            "--outputs",
            str(out),
            "--add",
            "小学,120.9844,28.1099,新建示例小学",
            "--name",
            "new_primary",
        ]
    )
    printed = capsys.readouterr().out
    assert rc == 0
    folder = out / "scenario" / "new_primary"
    man = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert man["kind"] == "scenario" and man["added"][0]["category"] == "primary_school"
    summ = pd.read_csv(folder / "tables" / "summary.csv", encoding="utf-8-sig")
    units = pd.read_csv(folder / "tables" / "units.csv", encoding="utf-8-sig")
    new = summ["新增覆盖儿童 Newly covered"].iloc[0]
    assert new > 0
    comm = units[units["层级 Level"] == "社区 community"]
    assert comm["新增覆盖儿童 Newly covered"].sum() == new
    assert (
        comm["变更后覆盖儿童 Covered after"] - comm["变更前覆盖儿童 Covered before"]
        == comm["新增覆盖儿童 Newly covered"]
    ).all()
    assert f"新增小学后新增覆盖 {new:,.0f} 名儿童" in printed
    # routes to primary schools were compared: the verdict changes are listed per home
    routes = pd.read_csv(folder / "tables" / "routes_changed.csv", encoding="utf-8-sig")
    changed = summ["路径评价改变儿童 Children whose verdict changes"].iloc[0]
    assert routes["儿童数 Children"].sum() == changed
    assert (folder / "maps" / "scenario_primary_school.html").stat().st_size > 10_000
    assert "新增设施 Added" in (folder / "maps" / "scenario_primary_school.html").read_text(encoding="utf-8")
    # a later `childspace report` into the same folder does not refuse it as foreign
    outdir.check_output_folder(out)
