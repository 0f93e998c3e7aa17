"""The whole chain (load → network → coverage → routes → maps → report) on one run configuration.

This is the only module that writes files (under the run's output folder, each through a temporary file and a
rename). The CLI and the notebooks call it; the analyses stay pure library functions.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from childspace._errors import DataError

REPO_DATA = Path(__file__).resolve().parents[1] / "data"

DEFAULT_CATEGORIES = ["kindergarten", "primary_school", "middle_school", "playground", "park",
                      "mother_baby_room", "children_home"]


@dataclass
class RunConfig:
    """Inputs and settings of one run (from a TOML file; see ``data/sample.toml``)."""

    name: str
    outputs: Path
    osm: Path
    boundaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    facilities: list[dict[str, Any]] = field(default_factory=list)
    pilots: dict[str, Any] | None = None
    origins: dict[str, Any] | None = None
    synthetic: bool = False
    buffer_m: float = 500.0
    osm_facilities: bool = True
    target_pct: float = 80.0
    categories: list[str] = field(default_factory=lambda: list(DEFAULT_CATEGORIES))
    pilot_radius_m: float = 500.0
    safe_max_level: int = 2
    standards: dict[str, Any] | None = None
    radius_override: float | None = None
    source: Path | None = None


def _resolve(base: Path, entry: dict[str, Any], where: str, cfg_path: Path) -> dict[str, Any]:
    if "path" not in entry:
        raise DataError(f"[{where}] has no 'path'", path=cfg_path, fix=f'add path = "..." under [{where}]')
    out = dict(entry)
    p = Path(entry["path"])
    out["path"] = p if p.is_absolute() else (base / p)
    if not out["path"].exists():
        raise DataError(f"[{where}] file not found: {out['path']}", path=cfg_path,
                        fix="check the path (relative paths are relative to the config file)")
    return out


def load_config(path: str | Path, outputs: str | Path | None = None) -> RunConfig:
    """Read a run configuration (TOML). Relative paths are relative to the config file.

    Raises
    ------
    DataError
        When the file is missing, is not valid TOML, or names files that do not exist.
    """
    path = Path(path)
    if not path.exists():
        raise DataError("config file not found", path=path, fix="give the path of a TOML file like data/sample.toml")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"not a valid TOML config ({exc})", path=path, fix="compare with data/sample.toml") from None
    base = path.resolve().parent
    proj = raw.get("project", {})
    net = raw.get("network", {})
    if "osm" not in net:
        raise DataError("[network] osm = \"...\" is missing", path=path,
                        fix="name an OpenStreetMap extract (.osm/.osm.pbf), e.g. a Geofabrik zhejiang-latest.osm.pbf")
    osm = _resolve(base, {"path": net["osm"]}, "network", path)["path"]
    ana = raw.get("analysis", {})
    out_dir = Path(outputs) if outputs is not None else base / proj.get("outputs", "outputs")
    bounds = {lvl: _resolve(base, e, f"boundaries.{lvl}", path) for lvl, e in raw.get("boundaries", {}).items()}
    for lvl in bounds:
        if lvl not in ("township", "community"):
            raise DataError(f"unknown boundary level [boundaries.{lvl}]", path=path,
                            fix="use [boundaries.township] and/or [boundaries.community]")
    fac = [_resolve(base, e, f"facilities #{i + 1}", path) for i, e in enumerate(raw.get("facilities", []))]
    return RunConfig(
        name=proj.get("name", path.stem),
        outputs=out_dir,
        osm=osm,
        boundaries=bounds,
        facilities=fac,
        pilots=_resolve(base, raw["pilots"], "pilots", path) if "pilots" in raw else None,
        origins=_resolve(base, raw["origins"], "origins", path) if "origins" in raw else None,
        synthetic=bool(proj.get("synthetic", False)),
        buffer_m=float(net.get("buffer_m", 500.0)),
        osm_facilities=bool(net.get("osm_facilities", True)),
        target_pct=float(ana.get("target_pct", 80.0)),
        categories=list(ana.get("categories", DEFAULT_CATEGORIES)),
        pilot_radius_m=float(ana.get("pilot_radius_m", 500.0)),
        safe_max_level=int(ana.get("safe_max_level", 2)),
        standards=raw.get("standards"),
        source=path,
    )


def sample_config(outputs: str | Path | None = None) -> RunConfig:
    """The run configuration of the bundled synthetic sample (``data/sample.toml``)."""
    return load_config(REPO_DATA / "sample.toml", outputs=outputs if outputs is not None else Path("outputs"))
