"""What a planner's run config reaches: the safety profile and the snap tolerance of [analysis]/[network]."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import pytest
from conftest import edit_config as _set
from conftest import realdata

from childspace import DataError, NetworkError
from childspace._errors import ChildspaceWarning
from childspace.run import checking, pipeline
from childspace.run.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "childspace" / "data"


PROFILE_LINE = 'safety_profile = "auto"'


def test_safety_profile_defaults_to_auto_and_by_age_levels(data):
    cfg = load_config(_set(data, PROFILE_LINE, ""))
    assert cfg.safety_profile == "auto"
    cfg = load_config(
        _set(data, "safe_max_level = { kindergarten = 1, primary_school = 1, middle_school = 2 }", "")
    )
    assert cfg.safe_max_level is None  # by age, from config/safety.toml
    assert [cfg.level_for(c) for c in ("kindergarten", "primary_school", "middle_school")] == [1, 1, 2]


@pytest.mark.parametrize(
    "value, message",
    [
        ('"chna"', r"safety_profile = 'chna' is neither a known profile nor a file \(line \d+\)"),
        ('"generic:XX"', r"no default speed limits known for country 'XX'"),
        (
            '"mine.toml"',
            r"safety_profile = 'mine.toml' is neither a known profile nor a file \(line \d+\) \(not found",
        ),
        ("2", r"\[analysis\] safety_profile must be text"),
    ],
)
def test_a_wrong_safety_profile_is_one_line_with_the_line_number(data, value, message):
    cfg = _set(data, PROFILE_LINE, f"safety_profile = {value}")
    with pytest.raises(DataError, match=message):
        load_config(cfg)


def test_a_profile_file_next_to_the_config_is_found(data):
    (data / "mine.toml").write_text(
        (ROOT / "childspace" / "config" / "safety_profile_generic.toml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    cfg = load_config(_set(data, PROFILE_LINE, 'safety_profile = "mine.toml"'))
    assert Path(cfg.safety_profile) == data / "mine.toml"


@pytest.fixture(scope="module")
def generic_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("generic") / "data"
    shutil.copytree(SAMPLE, d, ignore=shutil.ignore_patterns("outputs"))
    cfg = load_config(_set(d, PROFILE_LINE, 'safety_profile = "generic"'))
    return pipeline.run_analyses(cfg, coverage=False)


def test_the_configured_profile_reaches_the_routes_and_the_summary(generic_run):
    res = generic_run
    assert res.stress.profile == "generic"  # "auto" would pick china for this area
    r = res.layers["routes"]
    assert r.attrs["safety_profile"] == "generic" and (res.tables["routes"]["profile"] == "generic").all()
    assert (res.tables["schools"]["profile"] == "generic").all()
    assert sum("route safety profile: generic" in ln for ln in res.summary) == 1
    assert sum("(profile generic)" in ln for ln in res.summary) == 2  # primary and middle school


def test_max_snap_m_reaches_coverage_and_the_warnings_name_the_layer_and_setting(data):
    cfg = load_config(_set(data, "max_snap_m = 150", "max_snap_m = 40"))
    assert cfg.max_snap_m == 40
    with pytest.warns(ChildspaceWarning) as rec:
        tight = pipeline.run_analyses(cfg, routes=False)
    assert tight.layers["access"].attrs["unsnapped_origins"] > 0
    msgs = [str(w.message) for w in rec]
    far_homes = [m for m in msgs if "origins (homes) are farther than 40 m" in m]
    assert far_homes and all("[network] max_snap_m in the run config" in m for m in far_homes)
    far_fac = [m for m in msgs if "farther than 40 m from any street and do not serve anyone" in m]
    assert far_fac and all(
        re.search(
            r"from (facilities\.csv|parks\.geojson|OpenStreetMap|mother_baby_rooms_amap"
            r"\.xlsx|infant_care\.csv): \d+",
            m,
        )
        for m in far_fac
    ), far_fac
    assert all("[network] max_snap_m" in m for m in far_fac)
    default = pipeline.run_analyses(
        load_config(_set(data, "max_snap_m = 40", "max_snap_m = 150")), routes=False
    )
    assert default.layers["access"].attrs["unsnapped_origins"] == 0


def test_origins_far_from_every_street_name_the_input_and_the_setting(data):
    cfg = load_config(_set(data, "max_snap_m = 150", "max_snap_m = 0.001"))
    with pytest.raises(NetworkError) as exc:
        pipeline.run_analyses(cfg, routes=False)
    text = str(exc.value)
    assert "origins ([origins] homes.gpkg): none of the" in text and "sample.toml" in text
    assert "raise the tolerance: [network] max_snap_m in the run config" in text
    with pytest.raises(NetworkError, match=r"origins \(\[origins\] homes\.gpkg\): none of the .*max_snap_m"):
        pipeline.run_analyses(cfg, coverage=False)  # routes alone: the same message


def test_a_wrong_max_snap_m_is_one_line(data):
    with pytest.raises(DataError, match=r"\[network\] max_snap_m must be > 0, got 0 \(line \d+\)"):
        load_config(_set(data, "max_snap_m = 150", "max_snap_m = 0"))


def test_only_an_osm_extract_passes_check_with_estimated_homes(tmp_path):
    MONACO = realdata("monaco.osm.gz")
    cfg = tmp_path / "only.toml"
    cfg.write_text(f'[osm]\npath = "{MONACO.as_posix()}"\n', encoding="utf-8")
    with pytest.warns(ChildspaceWarning, match="homes estimated from OSM"):
        text = checking.check_inputs(load_config(cfg))
    line = next(ln for ln in text.splitlines() if ln.startswith("  origins:"))
    assert re.match(
        r"  origins: \d{3} features — \d+ children \(估算 estimated from monaco\.osm\.gz: homes: "
        r"residential buildings",
        line,
    ), line


def test_no_homes_from_osm_and_no_counts_fails_check_in_one_line(tmp_path):
    MONACO = realdata("monaco.osm.gz")
    cfg = tmp_path / "nohomes.toml"
    cfg.write_text(f'[osm]\npath = "{MONACO.as_posix()}"\n[from_osm]\nhomes = false\n', encoding="utf-8")
    with pytest.raises(DataError) as exc:
        checking.check_inputs(load_config(cfg))
    text = str(exc.value)
    assert "\n" not in text
    assert (
        "no children to count: there is no [origins] file and the boundaries (township units from OSM) have "
        "no children (儿童数) column; no homes from the OSM extract ([from_osm] homes = false)"
    ) in text
    assert "remove homes = false from [from_osm]" in text
    # the same config runs when the homes are estimated: check and run agree
    cfg.write_text(f'[osm]\npath = "{MONACO.as_posix()}"\n', encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        res = pipeline.run_analyses(load_config(cfg), routes=False)
    assert res.inputs.origins is not None and res.layers["access"].attrs["method"]
    # units from OSM only (no communities): the coverage sentences are per township
    park = next(ln for ln in res.summary if ln.startswith("公园 Park："))
    pct = res.tables["township_coverage"].query("category == 'park'")
    expect = 100 * pct["children_covered_walk"].sum() / pct["children"].sum()
    assert f"步行 {expect:.0f}% 的儿童在服务半径内" in park and "townships below target" in park


def test_no_residential_mapping_says_so_in_the_check_error(data, tmp_path):
    import geopandas as gpd

    b = gpd.read_file(data / "boundaries" / "townships.gpkg")
    b.drop(columns=["人口", "儿童数"]).to_file(tmp_path / "t.geojson")
    text = (data / "sample.toml").read_text(encoding="utf-8")
    text = text.replace(
        'path = "boundaries/townships.gpkg"', f'path = "{(tmp_path / "t.geojson").as_posix()}"'
    )
    text = text.replace('[boundaries.community]      # 村社区\npath = "boundaries/communities.shp"\n', "")
    text = text.replace(
        "[origins]                   # where children live (homes with child counts)\n"
        'path = "origins/homes.gpkg"\n',
        "",
    )
    (data / "sample.toml").write_text(text, encoding="utf-8")
    with pytest.raises(
        DataError,
        match=r"have no children \(儿童数\) column; the OSM extract sample\.osm maps no "
        r"residential building or land in the study area",
    ):
        checking.check_inputs(load_config(data / "sample.toml"))
