"""childspace batch: 8 small counties on a 2-worker Dask LocalCluster (threads), province tables, failure and rerun.

The province is the bundled sample's street network tiled 4 x 2 by scripts/make_county.py (one copy per county),
with synthetic homes, facilities, townships and communities over the whole area.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from childspace._errors import DataError
from childspace.run import batch
from childspace.run.batch import _read_table
from childspace.run.cli import main as cli_main
from childspace.run.pipeline import SAMPLE_DATA

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = "\n[cluster]\nworkers = 2\nprocesses = false\nretries = 1\n"


def _make_county():
    spec = importlib.util.spec_from_file_location("make_county", ROOT / "scripts" / "make_county.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    d = tmp_path_factory.mktemp("province")
    _make_county().make_county(
        d,
        cols=4,
        rows=2,
        homes=1200,
        facilities=100,
        schools=12,
        seed=5,
        base=SAMPLE_DATA / "osm" / "sample.osm",
        counties=(4, 2),
    )
    text = (d / "province.toml").read_text(encoding="utf-8").replace("maps = true", "maps = false")
    text = text.replace("[cluster]\nworkers = 2\n", "") + CLUSTER
    (d / "province.toml").write_text(text, encoding="utf-8")
    pc = batch.load_province(d / "province.toml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = batch.run_batch(pc, workers=2)
    return d, pc, res


def test_eight_counties_each_with_outputs_and_province_tables(province):
    d, pc, res = province
    assert [s["county_id"] for s in res.statuses] == [f"C{k:02d}" for k in range(1, 9)]
    assert res.failed == [] and res.skipped == []
    for st in res.statuses:
        out = pc.outputs / "counties" / st["county_id"]
        assert Path(st["files"]["geopackage"]).parent == out
        cov = _read_table(out / "tables" / "community_coverage.csv")  # bilingual headers back to column names
        # every county's homes are its own: the children counted are those of the homes split to it
        homes = gpd.read_file(pc.outputs / "work" / st["county_id"] / "origins.gpkg")
        per_cat = cov.groupby("category")["children"].sum()
        assert (per_cat == homes["children"].sum()).all()
        assert 10 <= len(cov["category"].unique()) and (cov["pct_walk"].dropna().between(0, 100)).all()

    counties = pd.read_csv(res.files["counties"], encoding="utf-8-sig")
    coverage = pd.read_csv(res.files["coverage"], encoding="utf-8-sig")
    assert list(counties["status"]) == ["ok"] * 8
    # no child lost or counted twice: the counties' children add up to the children of the province's homes
    # that lie in a community (homes outside every unit are outside the study area)
    homes = gpd.read_file(d / "homes.gpkg")
    comms = gpd.read_file(d / "communities.gpkg")
    inside = gpd.sjoin(homes, comms[["geometry"]], predicate="within")
    total = inside.groupby(level=0)["children"].first().sum()
    prov = coverage[coverage["county_id"] == "province"].set_index("category")
    assert (prov["children"] == total).all()
    assert counties["children"].sum() == total
    per = coverage[coverage["county_id"] != "province"]
    walk = per.groupby("category")["children_covered_walk"].sum()
    assert (walk.sort_index() == prov["children_covered_walk"].sort_index()).all()
    pct = 100 * prov["children_covered_walk"] / prov["children"]
    assert (abs(pct - prov["pct_walk"]) < 1e-9).all()
    html = Path(res.files["overview"]).read_text(encoding="utf-8")
    assert "示例1县" in html and "示例8县" in html and Path(res.files["excel"]).stat().st_size > 0


def test_failed_county_reported_then_rerun_alone(province, capsys):
    d, pc, res = province
    good = {s["county_id"]: Path(s["config"]) for s in res.statuses[:2]}
    # a ninth county whose homes file is broken
    broken = d / "broken"
    broken.mkdir()
    (broken / "homes.gpkg").write_text("not a GeoPackage", encoding="utf-8")
    cfg9 = good["C01"].read_text(encoding="utf-8")
    origins = str(pc.outputs / "work" / "C01" / "origins.gpkg")
    (broken / "county.toml").write_text(
        cfg9.replace(json.dumps(origins), json.dumps(str(broken / "homes.gpkg"))), encoding="utf-8"
    )
    entries = "".join(f'[[county]]\nid = "{cid}"\nconfig = "{p}"\n\n' for cid, p in good.items())
    entries += f'[[county]]\nid = "C09"\nname = "示例9县"\nconfig = "{broken / "county.toml"}"\n'
    prov_b = d / "province_b.toml"
    prov_b.write_text(
        f'[province]\nname = "b"\noutputs = "{pc.outputs}"\nmaps = false\n\n{entries}{CLUSTER}',
        encoding="utf-8",
    )
    before = {cid: batch._status_path(pc.outputs, cid).stat().st_mtime_ns for cid in good}

    assert cli_main(["batch", "--config", str(prov_b)]) == 2
    err = capsys.readouterr().err
    assert "1 counties failed" in err and "C09" in err and "homes.gpkg" in err
    st9 = json.loads(batch._status_path(pc.outputs, "C09").read_text(encoding="utf-8"))
    assert st9["status"] == "failed" and "homes.gpkg" in st9["message"]
    # the complete counties were not run again
    assert {cid: batch._status_path(pc.outputs, cid).stat().st_mtime_ns for cid in good} == before
    tab = pd.read_csv(pc.outputs / "province" / "counties.csv", encoding="utf-8-sig")
    assert dict(zip(tab["county_id"], tab["status"])) == {"C01": "ok", "C02": "ok", "C09": "failed"}

    # fixed: the rerun runs C09 only
    (broken / "homes.gpkg").write_bytes(Path(origins).read_bytes())
    assert cli_main(["batch", "--config", str(prov_b)]) == 0
    out = capsys.readouterr().out
    assert "skipped: C01, C02" in out and "C09" in out
    assert {cid: batch._status_path(pc.outputs, cid).stat().st_mtime_ns for cid in good} == before
    st9 = json.loads(batch._status_path(pc.outputs, "C09").read_text(encoding="utf-8"))
    assert st9["status"] == "ok" and Path(st9["files"]["geopackage"]).exists()


def test_province_config_errors(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text('[province]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(DataError, match="either with \\[counties\\]"):
        batch.load_province(p)
    p.write_text('[[county]]\nid = "a"\nconfig = "missing.toml"\n', encoding="utf-8")
    with pytest.raises(DataError, match="missing.toml"):
        batch.load_province(p)
    p.write_text(
        '[[county]]\nconfig = "a.toml"\n[[county]]\nconfig = "a.toml"\n[clusters]\n', encoding="utf-8"
    )
    with pytest.raises(DataError, match="unknown section"):
        batch.load_province(p)
