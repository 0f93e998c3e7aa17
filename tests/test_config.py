"""The typed run config: every mistake is one line naming the file, the line and the closest valid key; every
loader option reaches its loader; [standards] categories and safe_max_level work end to end."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import edit_config as _edit

from childspace._errors import ChildspaceWarning, DataError
from childspace.run import checking, pipeline
from childspace.run._tomllines import key_lines
from childspace.run.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "childspace" / "data"
STANDARDS_HINT = (
    "# [standards]               # override any radius, e.g.\n# kindergarten = { radius_m = 300 }"
)


def _line_no(cfg: Path, needle: str) -> int:
    return next(i for i, ln in enumerate(cfg.read_text(encoding="utf-8").splitlines(), 1) if needle in ln)


SAFE_LINE = "safe_max_level = { kindergarten = 1, primary_school = 1, middle_school = 2 }"
MISTAKES = [
    # (old, new, needle for the line, words the message must contain)
    (
        'coords = "gcj02"',
        'cords = "gcj02"',
        "cords",
        ["unknown key 'cords' in [[facilities]] 2", "did you mean 'coords'"],
    ),
    (
        "target_pct = 80",
        "target_pc = 90",
        "target_pc",
        ["unknown key 'target_pc' in [analysis]", "did you mean 'target_pct'"],
    ),
    (
        "[boundaries.township]",
        "[boundries.township]",
        "boundries",
        ["unknown section 'boundries'", "did you mean 'boundaries'"],
    ),
    (
        STANDARDS_HINT,
        "[standards]\nkindergarten = { radius = 250 }",
        "radius = 250",
        ["unknown field 'radius' in [standards.kindergarten]", "did you mean 'radius_m'"],
    ),
    (
        STANDARDS_HINT,
        "[standards.kindergarten]\nradius_m = -250",
        "radius_m = -250",
        ["radius_m must be > 0", "-250"],
    ),
    (
        STANDARDS_HINT,
        "[standards]\nkindergarden = { radius_m = 250 }",
        "kindergarden",
        ["unknown category 'kindergarden'", "did you mean 'kindergarten'"],
    ),
    (SAFE_LINE, 'safe_max_level = "2"', "safe_max_level", ["safe_max_level must be a stress level 1-4"]),
    (
        SAFE_LINE,
        "safe_max_level = { primary_school = 2, midle_school = 3 }",
        "safe_max_level",
        ["unknown category 'midle_school'", "did you mean 'middle_school'"],
    ),
    (
        '"children_home"]',
        '"children_homes"]',
        "categories = [",
        ["unknown category 'children_homes'", "did you mean 'children_home'"],
    ),
    ("buffer_m = 500", 'buffer_m = "500m"', "buffer_m", ["buffer_m must be a number"]),
    (
        'coords = "gcj02"',
        'coords = "Beijing 1954"',
        "Beijing 1954",
        ["[[facilities]] 2 coords = 'Beijing 1954' is not a known datum"],
    ),
    (
        'path = "origins/homes.gpkg"',
        'path = "origins/homes.gpkg"\ncrs = "EPSG:99999"',
        "EPSG:99999",
        ["[origins] crs = 'EPSG:99999' is not a known coordinate system"],
    ),
    (
        'path = "pilots/pilot_units.xlsx"',
        'path = "pilots/pilot_units.xlsx"\nencodng = "gbk"',
        "encodng",
        ["unknown key 'encodng' in [pilots]", "did you mean 'encoding'"],
    ),
    (
        'path = "pilots/pilot_units.xlsx"',
        'path = "pilots/pilot_unit.xlsx"',
        "pilot_unit.xlsx",
        ["[pilots] file not found"],
    ),
]


@pytest.mark.parametrize("old,new,needle,words", MISTAKES, ids=[m[2] for m in MISTAKES])
def test_config_mistake_names_file_line_and_fix(data, old, new, needle, words):
    cfg = _edit(data, old, new)
    with pytest.raises(DataError) as exc:
        load_config(cfg)
    msg = str(exc.value)
    assert "\n" not in msg and str(cfg) in msg
    assert f"(line {_line_no(cfg, needle)})" in msg, msg
    for w in words:
        assert w in msg, msg


def test_config_mistake_is_one_line_on_the_command_line(data):
    cfg = _edit(data, 'coords = "gcj02"', 'cords = "gcj02"')
    r = subprocess.run(
        [sys.executable, "-m", "childspace", "check", "--config", str(cfg)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert err == [
        (
            f"childspace: error: {cfg}: unknown key 'cords' in [[facilities]] 2 (line 24) — did you mean "
            "'coords'? -> fix: write 'coords'; valid: path, layer, sheet, crs, coords, encoding, columns, "
            "category, max_rows, strict"
        )
    ]


def test_osm_section_is_an_alias_and_rejects_loader_options(data):
    cfg = _edit(data, 'osm = "osm/sample.osm"      # .osm / .osm.bz2 / .osm.pbf extract\n', "")
    cfg.write_text(cfg.read_text(encoding="utf-8") + '\n[osm]\npath = "osm/sample.osm"\n', encoding="utf-8")
    assert load_config(cfg).osm == (data / "osm" / "sample.osm")
    cfg.write_text(cfg.read_text(encoding="utf-8") + 'crs = "EPSG:4326"\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"\[osm\] crs does not apply .*\(line \d+\)"):
        load_config(cfg)


def test_key_lines_follow_tables_arrays_and_inline_tables():
    text = (
        'a = 1\n[[f]]\npath = "x # not a comment"\n[[f]]\n# c\ncords = "g"\ncols = [\n  "a = 2",\n]\n'
        "[s]\nk = { radius = 3, b = 4 }\n[f2.sub]\nz = 1\n"
    )
    lines = key_lines(text)
    assert lines[("a",)] == 1
    assert lines[("f", 0, "path")] == 3 and lines[("f", 1)] == 4 and lines[("f", 1, "cords")] == 6
    assert ("f", 1, "a") not in lines  # inside a multi-line array
    assert lines[("s", "k", "radius")] == 11 and lines[("s", "k", "b")] == 11
    assert lines[("f2",)] == 12 and lines[("f2", "sub", "z")] == 13


def test_every_loader_option_reaches_its_loader(data, monkeypatch):
    from childspace.inputs import loaders as io

    opts = 'layer = 0\nsheet = 0\ncrs = "EPSG:4326"\ncoords = "wgs84"\nencoding = "utf-8"\ncolumns = { name = "名称" }\n'
    cfg = data / "sample.toml"
    text = cfg.read_text(encoding="utf-8")
    for p in (
        'path = "boundaries/townships.gpkg"',
        'path = "boundaries/communities.shp"',
        'path = "facilities/facilities.csv"',
        'path = "pilots/pilot_units.xlsx"',
        'path = "origins/homes.gpkg"',
    ):
        text = text.replace(p, p + "\n" + opts.replace('coords = "wgs84"', 'coords = "gcj02"'))
    cfg.write_text(
        text.replace('coords = "wgs84"\n\n[[facilities]]', "\n[[facilities]]", 1), encoding="utf-8"
    )
    seen: dict[str, dict] = {}

    def spy(name):
        def f(path, **kw):
            seen.setdefault(name, {}).update(kw)
            raise DataError("stop", path=path)

        return f

    for name in ("load_boundaries", "load_facilities", "load_pilots", "load_origins"):
        monkeypatch.setattr(io, name, spy(name))
    c = load_config(cfg)
    expect = {
        "layer": 0,
        "sheet": 0,
        "crs": "EPSG:4326",
        "coords": "gcj02",
        "encoding": "utf-8",
        "columns": {"name": "名称"},
        "max_rows": None,
    }
    assert c.pilots.loader_options() == expect and c.origins.loader_options() == expect
    # the pipeline calls each loader (each stops at once; the next input is tried with the earlier ones removed)
    with pytest.raises(DataError, match=r"stop \(input \[boundaries.township\] of the config\)"):
        pipeline.load_inputs(c)
    assert seen["load_boundaries"] == {"level": "township", **expect}
    c.boundaries = {}
    with pytest.raises(DataError, match=r"stop \(input \[\[facilities\]\] 1 of the config\)"):
        pipeline.load_inputs(c)
    assert {k: seen["load_facilities"][k] for k in expect} == expect
    c.facilities = []
    with pytest.raises(DataError, match=r"input \[pilots\]"):
        pipeline.load_inputs(c)
    assert {k: seen["load_pilots"][k] for k in expect} == expect
    c.pilots = None
    with pytest.raises(DataError, match=r"input \[origins\]"):
        pipeline.load_inputs(c)
    assert {k: seen["load_origins"][k] for k in expect} == expect


def test_origins_sheet_is_used(data):
    """A real load: the homes in the second sheet of a workbook whose first sheet is a cover page."""
    homes = gpd.read_file(data / "origins" / "homes.gpkg")
    xlsx = data / "origins" / "homes.xlsx"
    with pd.ExcelWriter(xlsx) as w:
        pd.DataFrame({"说明": ["儿童居住点 cover page"]}).to_excel(w, sheet_name="封面", index=False)
        pd.DataFrame(
            {
                "编号": homes["origin_id"],
                "儿童数": homes["children"],
                "经度": homes.geometry.x,
                "纬度": homes.geometry.y,
            }
        ).to_excel(w, sheet_name="homes", index=False)
    cfg = _edit(data, 'path = "origins/homes.gpkg"', 'path = "origins/homes.xlsx"\nsheet = "homes"')
    c = load_config(cfg)
    c.facilities, c.pilots = [], None
    inp = pipeline.load_inputs(c)
    assert len(inp.origins) == len(homes) and inp.origins["children"].sum() == homes["children"].sum()


def test_gbk_config_is_read_with_a_warning(data):
    cfg = data / "sample.toml"
    cfg.write_bytes(cfg.read_text(encoding="utf-8").encode("gb18030"))
    with pytest.warns(ChildspaceWarning, match="not UTF-8; read it as GBK"):
        c = load_config(cfg)
    assert c.name.startswith("示例区域")


def test_undecodable_config_says_save_as_utf8(data):
    cfg = data / "sample.toml"
    cfg.write_bytes(b'[project]\nname = "\xff\xfe\x80\x80"\n')
    with pytest.raises(DataError, match="not UTF-8 text .* save it as UTF-8"):
        load_config(cfg)
    cfg.write_text('[project]\nname = "乐清"\n[network]\nosm = "osm/sample.osm"\n', encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a UTF-8 file gets no encoding warning
        assert load_config(cfg).name == "乐清"


def test_no_origins_and_no_child_counts_fails_in_check(data, tmp_path):
    b = gpd.read_file(data / "boundaries" / "townships.gpkg")
    b.drop(columns=["人口", "儿童数"]).to_file(tmp_path / "t.geojson")
    cfg = _edit(data, 'path = "boundaries/townships.gpkg"', f'path = "{(tmp_path / "t.geojson").as_posix()}"')
    text = cfg.read_text(encoding="utf-8")
    text = text.replace('[boundaries.community]      # 村社区\npath = "boundaries/communities.shp"\n', "")
    text = text.replace(
        "[origins]                   # where children live (homes with child counts)\n"
        'path = "origins/homes.gpkg"\n',
        "",
    )
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(
        DataError,
        match=r"no children to count: there is no \[origins\] file and the boundaries "
        r"\(\[boundaries.township\]\) have no children",
    ):
        checking.check_inputs(load_config(cfg))


def test_check_prints_the_resolved_config(data):
    cfg = _edit(data, STANDARDS_HINT, "[standards]\nkindergarten = { radius_m = 250 }")
    _edit(data, 'path = "origins/homes.gpkg"', 'path = "origins/homes.gpkg"\nlayer = "homes"')
    text = checking.check_inputs(load_config(cfg))
    assert f"[origins]: {data / 'origins' / 'homes.gpkg'} (layer='homes', coords='wgs84')" in text
    assert "[[facilities]] 2:" in text and "coords='gcj02'" in text
    assert "safe_max_level=kindergarten=1, primary_school=1, middle_school=2" in text
    assert (
        "hazards_rank_by='children'" in text and "safety_profile='auto'" in text and "max_snap_m=150" in text
    )
    assert " *kindergarten 幼儿园: 250 m" in text and "  primary_school 小学: 500 m" in text


YOUTH = """
[standards.youth_centre]
zh = "青少年宫"
en = "Youth centre"
radius_m = 800
life_circle = 15
basis = "planning choice (test)"
labels = ["少年宫", "青少年活动中心"]
"""


def test_category_declared_in_standards_works_end_to_end(data):
    fac = data / "facilities" / "facilities.csv"
    lines = fac.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("名称")] = "示例少年宫"
    row[header.index("类型")] = "少年宫"
    if "编号" in header:
        row[header.index("编号")] = "Y001"
    fac.write_text("\n".join([*lines, ",".join(row)]) + "\n", encoding="utf-8")
    cfg = _edit(data, STANDARDS_HINT, YOUTH)
    with pytest.warns(
        ChildspaceWarning,
        match=r"declares the category 'youth_centre' but \[analysis\] categories "
        r"\(line \d+\) does not list it",
    ):
        load_config(cfg)
    _edit(data, '"children_home"]', '"children_home", "youth_centre"]')
    c = load_config(cfg)
    res = pipeline.run_analyses(c, routes=False)
    uc = res.tables["community_coverage"]
    yc = uc[uc["category"] == "youth_centre"]
    assert len(yc) == 30 and yc["children_covered_walk"].sum() > 0
    assert any(line.startswith("青少年宫 Youth centre") for line in res.summary)


@pytest.fixture(scope="module")
def routes_at_levels():
    out = {}
    for level in (2, 3):
        cfg = pipeline.sample_config()
        cfg.safe_max_level = level
        out[level] = pipeline.run_analyses(cfg, coverage=False)
    return out


def test_safe_max_level_drives_verdicts_walksheds_and_hazards(routes_at_levels):
    r2, r3 = routes_at_levels[2], routes_at_levels[3]
    s2, s3 = r2.tables["schools"], r3.tables["schools"]
    assert s3["children_safe"].sum() > s2["children_safe"].sum()
    safest = r3.layers["routes"]
    lvl3 = safest.loc[safest["worst_level"] == 3, "verdict"]
    assert len(lvl3) and (lvl3 == "safe").all()
    assert set(r3.layers["walksheds"]["max_level"].dropna()) == {3}
    assert (r3.layers["hazards"]["level"] >= 4).all() and (r2.layers["hazards"]["level"] >= 3).all()
    assert len(r3.layers["hazards"]) < len(r2.layers["hazards"])


def test_safe_max_level_per_category():
    cfg = pipeline.sample_config()
    cfg.safe_max_level = {"primary_school": 2, "middle_school": 3}
    res = pipeline.run_analyses(cfg, coverage=False)
    r = res.layers["routes"]
    assert (r.loc[(r["category"] == "middle_school") & (r["worst_level"] == 3), "verdict"] == "safe").all()
    assert (
        r.loc[(r["category"] == "primary_school") & (r["worst_level"] == 3), "verdict"] == "caution"
    ).all()
    ws = res.layers["walksheds"]
    cats = res.layers["schools"].set_index("facility_id")["category"]
    safe = ws[ws["kind"] == "safe"]
    assert (
        safe["max_level"] == safe["school_id"].map(cats).map({"primary_school": 2, "middle_school": 3})
    ).all()


def test_maps_section_reaches_the_run_and_checks_its_values(data):
    cfg_path = data / "sample.toml"
    base = cfg_path.read_text(encoding="utf-8")
    assert load_config(cfg_path).basemaps == ()  # offline by default: no tiles
    cfg_path.write_text(
        base + '\n[maps]\nbasemaps = ["osm", "tianditu"]\ntianditu_key = "abc"\n', encoding="utf-8"
    )
    cfg = load_config(cfg_path)
    assert cfg.basemaps == ("osm", "tianditu") and cfg.tianditu_key == "abc"
    cfg_path.write_text(base + '\n[maps]\nbasemaps = ["tianditu"]\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"names tianditu but no tianditu_key.*\(line \d+\)"):
        load_config(cfg_path)
    cfg_path.write_text(base + '\n[maps]\nbasemaps = ["google"]\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"each must be one of osm, tianditu, amap"):
        load_config(cfg_path)
    cfg_path.write_text(base + '\n[maps]\nbasemap = ["osm"]\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"unknown key 'basemap' in \[maps\].*did you mean 'basemaps'"):
        load_config(cfg_path)
