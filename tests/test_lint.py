"""The code base stays clean: ruff's lint rules and format, and mypy, as configured in pyproject.toml.

They run here so that the README's one test command checks them too (CI runs exactly that command).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["childspace", "tests", "scripts", "benchmarks"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize(
    "args",
    [("ruff", "check", *PATHS), ("ruff", "format", "--check", *PATHS)],
    ids=["ruff-check", "ruff-format"],
)
def test_ruff(args):
    r = _run(*args)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]


def test_mypy():
    r = _run("mypy")
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert "Success" in r.stdout
