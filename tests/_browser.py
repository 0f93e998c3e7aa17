"""Headless Chromium for tests: dump the DOM after scripts ran, and take screenshots.

Network is cut off for the browser (a proxy on a closed port and no DNS), so a page that needed a CDN would
visibly fail. Tests skip only when no Chromium binary is found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str | None:
    env = os.environ.get("CHILDSPACE_CHROMIUM")
    if env and Path(env).exists():
        return env
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    exe = find_chromium()
    if exe is None:
        pytest.skip("no Chromium/Chrome binary found (install chromium, or set CHILDSPACE_CHROMIUM)")
    return exe


def _run(args: list[str], timeout: float = 90.0) -> subprocess.CompletedProcess:
    exe = require_chromium()
    with tempfile.TemporaryDirectory(prefix="cs-chrome-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            # no network: every http(s) request goes to a closed local port
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            *args,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def dump_dom(html_path: str | Path, budget_ms: int = 3000, size: tuple[int, int] = (1200, 900)) -> str:
    """The DOM after the page's scripts ran (``--dump-dom`` with a virtual time budget)."""
    url = Path(html_path).resolve().as_uri()
    res = _run(
        [f"--window-size={size[0]},{size[1]}", f"--virtual-time-budget={budget_ms}", "--dump-dom", url]
    )
    if res.returncode != 0 or not res.stdout.strip():
        raise RuntimeError(f"chromium --dump-dom failed ({res.returncode}): {res.stderr[-2000:]}")
    return res.stdout


def screenshot(
    html_path: str | Path, png_path: str | Path, size: tuple[int, int] = (1200, 900), budget_ms: int = 3000
) -> Path:
    """Write a PNG screenshot of the page."""
    png_path = Path(png_path)
    url = Path(html_path).resolve().as_uri()
    res = _run(
        [
            f"--window-size={size[0]},{size[1]}",
            f"--virtual-time-budget={budget_ms}",
            f"--screenshot={png_path}",
            url,
        ]
    )
    if not png_path.exists():
        raise RuntimeError(f"chromium --screenshot wrote nothing ({res.returncode}): {res.stderr[-2000:]}")
    return png_path


def distinct_colours(png_path: str | Path) -> int:
    """Number of distinct RGB colours in a PNG (a blank page has 1-2)."""
    import matplotlib.image as mpimg

    img = mpimg.imread(str(png_path))
    rgb = (np.asarray(img)[..., :3] * 255).round().astype(np.uint32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    return int(np.unique(packed).size)
