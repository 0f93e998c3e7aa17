"""Planners' real files: the mistakes they make most, each on a modified copy of the bundled sample, must end in
a message that names the file, the cause and the fix in the planner's own terms (never a silent wrong result)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from childspace._errors import DataError
from childspace.inputs.standards import load_standards
from childspace.run.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "childspace" / "data"


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    """A copy of the bundled sample (its files and sample.toml) that the test may edit."""
    shutil.copytree(SAMPLE, tmp_path / "data", ignore=shutil.ignore_patterns("outputs"))
    return tmp_path / "data"


def _edit(data: Path, old: str, new: str) -> Path:
    cfg = data / "sample.toml"
    text = cfg.read_text(encoding="utf-8")
    assert old in text, old
    cfg.write_text(text.replace(old, new, 1), encoding="utf-8")
    return cfg


# ---------------------------------------------------------------------------------------------------------------
# 1. target_pct written as a share
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, percent", [("0.8", "80"), ("1", "100"), ("0.95", "95")])
def test_target_pct_written_as_a_share_is_refused_with_the_percentage_to_write(data, value, percent):
    cfg = _edit(data, "target_pct = 80 ", f"target_pct = {value} ")
    with pytest.raises(DataError) as err:
        load_config(cfg)
    text = str(err.value)
    assert "target_pct" in text and "is a percentage" in text
    assert f"write target_pct = {percent} for {percent} %" in text
    assert "(line 52)" in text and str(cfg) in text


def test_target_pct_in_standards_written_as_a_share_is_refused(data, tmp_path):
    cfg = _edit(
        data,
        "# [standards]               # override any radius, e.g.\n# kindergarten = { radius_m = 300 }",
        "[standards]\nkindergarten = { target_pct = 0.9 }",
    )
    with pytest.raises(DataError, match=r"\[standards.kindergarten\] target_pct = 0.9 is a percentage"):
        load_config(cfg)
    own = tmp_path / "my_standards.toml"
    own.write_text("target_pct = 0.85\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"write target_pct = 85 for 85 %"):
        load_standards(own)


def test_target_pct_of_the_standards_is_the_runs_when_analysis_sets_none(data):
    cfg = _edit(data, "target_pct = 80 ", "# target_pct = 80 ")
    text = cfg.read_text(encoding="utf-8").replace(
        "# [standards]               # override any radius, e.g.\n# kindergarten = { radius_m = 300 }",
        "[standards]\ntarget_pct = 90",
    )
    cfg.write_text(text, encoding="utf-8")
    run = load_config(cfg)
    assert run.target_pct == 90.0  # the value every category of the run is measured against
    assert "kindergarten 幼儿园: 300 m, target 90%" in "\n".join(run.describe())
