"""The command line: help, one-line errors, and the whole chain on the bundled sample (``childspace demo``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest

from childspace.outputs.workbook import read_csv_table
from childspace.run.cli import main

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["demo", "report", "check", "coverage", "routes", "network"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "childspace.run.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=600,
    )


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in COMMANDS:
        assert cmd in out


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_command_has_help_with_examples(cmd, capsys):
    with pytest.raises(SystemExit):
        main([cmd, "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and f"childspace {cmd}" in out


def test_missing_config_is_one_line_without_traceback(tmp_path):
    r = run_cli("report", "--config", str(tmp_path / "nope.toml"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("childspace: error:") and "nope.toml" in lines[0]


def _config_with(tmp_path: Path, facilities_csv: str) -> Path:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "childspace" / "data", data)
    (data / "facilities" / "facilities.csv").write_text(facilities_csv, encoding="utf-8")
    return data / "sample.toml"


def test_unknown_category_names_file_row_and_known_labels(tmp_path):
    cfg = _config_with(
        tmp_path, "名称,类型,经度,纬度\n示例幼儿园,幼儿园,120.97,28.115\n示例游泳馆,游泳馆,120.98,28.12\n"
    )
    r = run_cli("check", "--config", str(cfg))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("childspace: error:")]
    assert len(err) == 1
    assert "facilities.csv" in err[0] and "游泳馆" in err[0] and "幼儿园" in err[0]


def test_unknown_hazard_ranking_in_config_is_one_line(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "childspace" / "data", data)
    cfg = data / "sample.toml"
    cfg.write_text(
        cfg.read_text(encoding="utf-8").replace('hazards_rank_by = "children"', 'hazards_rank_by = "danger"'),
        encoding="utf-8",
    )
    r = run_cli("check", "--config", str(cfg))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and "sample.toml" in err[0] and "hazards_rank_by" in err[0] and '"level"' in err[0]


def test_check_summarises_the_sample():
    r = run_cli("check", "--config", str(ROOT / "childspace" / "data" / "sample.toml"))
    assert r.returncode == 0, r.stderr
    assert "pilots: 48 features" in r.stdout and "2022: 17" in r.stdout and "2023: 31" in r.stdout
    assert "communities: 30 features" in r.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("demo")
    r = run_cli("demo", "--outputs", str(out))
    return out, r


def test_demo_runs_end_to_end(demo):
    out, r = demo
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    assert str(out) in r.stdout
    for rel in (
        "childspace.gpkg",
        "childspace.xlsx",
        "report.html",
        "maps/pilots.html",
        "maps/routes.html",
        "maps/overview.html",
        "maps/coverage_kindergarten.html",
        "figures/pilots.png",
        "tables/pilot_units.csv",
    ):
        assert (out / rel).stat().st_size > 0, rel
    assert not list(out.rglob(".*.tmp")) and not list(out.glob(".childspace.*"))  # no temporary files left


def _pilots(out):
    """The pilot units of the GeoPackage (points and areas are two layers: one geometry type per layer)."""
    parts = [gpd.read_file(out / "childspace.gpkg", layer=f"pilots_{k}") for k in ("point", "area")]
    return pd.concat(parts, ignore_index=True)


def test_demo_geopackage_layers(demo):
    out, _ = demo
    layers = {name for name, _ in pyogrio.list_layers(out / "childspace.gpkg")}
    assert {
        "townships",
        "communities",
        "facilities",
        "access",
        "service_areas",
        "gaps",
        "pilots_point",
        "pilots_area",
        "routes",
        "hazards_point",
        "hazards_line",
        "walksheds",
        "street_stress",
    } <= layers
    pilots = _pilots(out)
    assert len(pilots) == 48
    assert set(pilots["status"]) <= {"meets", "partly", "gap"}
    assert (pilots["batch"] == 2022).sum() == 17 and (pilots["batch"] == 2023).sum() == 31
    gaps = gpd.read_file(out / "childspace.gpkg", layer="gaps")
    assert gaps.crs.to_epsg() == 4326 and gaps.is_valid.all() and (gaps["children_uncovered"] >= 0).all()


def test_demo_workbook_and_report(demo):
    out, _ = demo
    wb = openpyxl.load_workbook(out / "childspace.xlsx", read_only=True)
    assert len(wb.sheetnames) >= 5
    html = (out / "report.html").read_text(encoding="utf-8")
    pilots = _pilots(out)
    for pid in pilots["pilot_id"]:
        assert pid in html
    assert "示例数据" in html  # the synthetic sample says so


def test_demo_prints_the_safety_profile_and_the_assumptions(demo):
    out, r = demo
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("· ")]
    prof = [ln for ln in lines if "route safety profile: china" in ln]  # the sample lies in Yueqing
    assert len(prof) == 1 and "小学 ≤1 级" in prof[0] and "middle school <= 2" in prof[0]
    ass = {ln.split("：")[0]: ln for ln in lines if "rest on assumed tags" in ln}
    assert set(ass) == {"· 小学通学", "· 初中通学"}
    routes = read_csv_table(out / "tables" / "routes.csv")
    routes["origin_id"] = routes["origin_id"].astype(str)
    for cat, key in (("primary_school", "· 小学通学"), ("middle_school", "· 初中通学")):
        part = routes[(routes["category"] == cat) & (routes["verdict"] != "unreachable")]
        safe = part.loc[part["verdict"] == "safe", "children"].sum()
        worst = part.loc[part["verdict_worst"] == "safe", "children"].sum()
        best = part.loc[part["verdict_best"] == "safe", "children"].sum()
        assumed = part.loc[part["verdict_assumed"], "children"].sum()
        assert f"{safe:.0f} of {part['children'].sum():.0f} children safe" in ass[key]
        assert f"{worst:.0f}-{best:.0f} under other plausible defaults; {assumed:.0f} children's" in ass[key]
        assert worst <= safe <= best and 0 < assumed
    # one row per home and school category, no geometry; both lengths and the verdict range
    homes = gpd.read_file(
        out / "childspace.gpkg",
        layer="origins" if "origins" in dict(pyogrio.list_layers(out / "childspace.gpkg")) else "access",
    )
    assert len(routes) == 2 * len(homes) and not routes.duplicated(["origin_id", "category"]).any()
    assert {
        "shortest_m",
        "safest_m",
        "worst_level",
        "verdict",
        "verdict_best",
        "verdict_worst",
        "assumed_share",
        "profile",
    } <= set(routes.columns) and "geometry" not in routes.columns
    assert (routes["safest_m"] >= routes["shortest_m"] - 1e-6).all() and (routes["profile"] == "china").all()
    wb = openpyxl.load_workbook(out / "childspace.xlsx", read_only=True)
    assert any("routes" in name or "路径" in name for name in wb.sheetnames)


def test_routes_max_level_changes_the_verdicts(tmp_path):
    sample = str(ROOT / "childspace" / "data" / "sample.toml")

    def routes_at(level: str) -> pd.DataFrame:
        r = run_cli("routes", "--config", sample, "--max-level", level, "--outputs", str(tmp_path / level))
        assert r.returncode == 0, r.stderr[-2000:]
        return read_csv_table(tmp_path / level / "tables" / "routes.csv")

    r1, r3 = routes_at("1"), routes_at("3")
    assert (r3.loc[r3["worst_level"] == 3, "verdict"] == "safe").all() and (r3["worst_level"] == 3).any()
    assert (r1.loc[r1["worst_level"].between(2, 3), "verdict"] == "caution").all()
    assert (r1["safe_max_level"] == 1).all() and (r3["safe_max_level"] == 3).all()
    assert (
        r3.loc[r3["verdict"] == "safe", "children"].sum() > r1.loc[r1["verdict"] == "safe", "children"].sum()
    )


def test_demo_warns_about_a_gcj02_file_read_as_wgs84(tmp_path):
    cfg = _config_with(
        tmp_path, (ROOT / "childspace" / "data" / "facilities" / "facilities.csv").read_text(encoding="utf-8")
    )
    text = cfg.read_text(encoding="utf-8").replace('coords = "gcj02"', 'coords = "wgs84"')
    cfg.write_text(text, encoding="utf-8")
    r = run_cli("report", "--config", str(cfg), "--outputs", str(tmp_path / "out"), "--no-maps")
    assert r.returncode == 0, r.stderr[-3000:]
    # named when the files are read (once: the report does not say it again when the network is there)
    assert "mother_baby_rooms_amap.xlsx" in r.stderr and 'coords = "gcj02"' in r.stderr


def test_coverage_radius_override_changes_the_figures(tmp_path):
    def kg_line(radius: str | None) -> float:
        args = [
            "coverage",
            "--config",
            str(ROOT / "childspace" / "data" / "sample.toml"),
            "--category",
            "kindergarten",
            "--outputs",
            str(tmp_path / (radius or "std")),
        ]
        if radius:
            args += ["--radius", radius]
        r = run_cli(*args)
        assert r.returncode == 0, r.stderr[-2000:]
        line = next(ln for ln in r.stdout.splitlines() if "Kindergarten" in ln and "%" in ln)
        return float(line.split("步行 ")[1].split("%")[0])

    standard, wider = kg_line(None), kg_line("600")
    assert wider > standard  # 600 m reaches more children than the standard's 300 m


def test_network_command_saves_a_network_that_loads(tmp_path):
    from childspace.network.engine import WalkNetwork

    out = tmp_path / "new" / "walk.gpkg"
    r = run_cli(
        "network",
        "--osm",
        str(ROOT / "childspace" / "data" / "osm" / "sample.osm"),
        "--area",
        str(ROOT / "childspace" / "data" / "boundaries" / "townships.gpkg"),
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    net = WalkNetwork.load(out)
    assert net.n_nodes > 100 and net.n_edges > net.n_nodes
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_network_command_rejects_a_file_that_is_not_osm(tmp_path):
    r = run_cli(
        "network",
        "--osm",
        str(ROOT / "childspace" / "data" / "facilities" / "facilities.csv"),
        "--out",
        str(tmp_path / "x.gpkg"),
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr and "not an OSM file" in r.stderr


@pytest.mark.parametrize("command", ["report", "routes"])
def test_max_level_reaches_the_run_config(command, monkeypatch):
    """`--max-level` on report and routes sets the one safe level the verdicts, walksheds and hazards use."""
    from childspace.run import pipeline

    seen = {}

    def fake_run_all(cfg, **kw):
        seen["level"] = cfg.safe_max_level
        return {}

    monkeypatch.setattr(pipeline, "run_all", fake_run_all)
    cfg = str(ROOT / "childspace" / "data" / "sample.toml")
    assert main([command, "--config", cfg, "--max-level", "3"]) == 0
    assert seen["level"] == 3
    assert main([command, "--config", cfg]) == 0
    assert seen["level"] != 3  # the config's per-age table
