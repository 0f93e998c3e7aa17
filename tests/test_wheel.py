"""A built wheel carries the bundled sample and the configs, so ``pip install childspace`` then ``childspace demo``
works from any folder (the demo finds its sample through importlib.resources)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_the_sample_data_and_configs(tmp_path):
    src = tmp_path / "src"  # build from a copy: a build in the repository would leave build/ and egg-info
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copytree(ROOT / "childspace", src / "childspace", ignore=shutil.ignore_patterns("__pycache__"))
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "-w", str(tmp_path / "wh"), "--no-deps", "-q"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if r.returncode and "from versions: none" in r.stderr:  # pragma: no cover - no index for setuptools
        pytest.skip(
            "pip cannot fetch the build backend (setuptools) here: " + r.stderr.strip().splitlines()[-1]
        )
    assert r.returncode == 0, r.stderr[-3000:]
    (whl,) = (tmp_path / "wh").glob("childspace-*.whl")
    names = set(zipfile.ZipFile(whl).namelist())
    shipped = {
        p.relative_to(ROOT).as_posix()
        for folder in ("data", "config", "outputs/static")
        for p in (ROOT / "childspace" / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert {
        "childspace/data/sample.toml",
        "childspace/data/osm/sample.osm",
        "childspace/data/boundaries/communities.dbf",
        "childspace/config/standards.toml",
        "childspace/config/safety.toml",
    } <= shipped
    assert shipped <= names, sorted(shipped - names)
    assert "childspace/py.typed" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "childspace = childspace.run.cli:main" in zipfile.ZipFile(whl).read(entry).decode()


def test_the_sample_is_found_through_the_package_and_writes_under_the_current_folder(tmp_path, monkeypatch):
    from childspace.run import config

    monkeypatch.chdir(tmp_path)
    cfg = config.sample_config()
    assert cfg.source == config.SAMPLE_DATA / "sample.toml" and cfg.source.is_file()
    assert cfg.outputs.resolve() == (tmp_path / "outputs").resolve()
    # `report --config <the bundled sample>` without --outputs: ./outputs too, never a folder of the package
    assert config.load_config(config.SAMPLE_DATA / "sample.toml").outputs == tmp_path / "outputs"
