"""The run configuration: one TOML file (see ``childspace/data/sample.toml``) parsed once into typed dataclasses.

Every section and key is checked against the schema below: a misspelt key is an error that names the file, the
line and the closest valid key (``unknown key 'cords' in [[facilities]] 2 (line 23) — did you mean 'coords'?``),
never a setting silently ignored. Every input file takes the same loader options (:data:`LOADER_OPTIONS`) and
they all reach the loader. The checks of the values are in :mod:`childspace.run._config_checks`, the input
file's spec in :mod:`childspace.run.inputspec`.
"""

from __future__ import annotations

import difflib
import hashlib
import tomllib
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from childspace._errors import ChildspaceWarning, DataError
from childspace.run._config_checks import (  # noqa: F401  (re-exported: the schema's field lists lived here)
    CATEGORY_FIELDS,
    LIFE_CIRCLE_FIELDS,
    NEW_CATEGORY_NEEDS,
    STRESS_LEVELS,
    _Checker,
    _decode,
    _input,
    _safe_max_level,
    _safety_profile,
    _standards,
)
from childspace.run.inputspec import LOADER_OPTIONS, InputSpec

if TYPE_CHECKING:
    from childspace.inputs.standards import Standards
    from childspace.osm.features import SchoolNamePatterns


def _package_dir(name: str) -> Path:
    """A folder shipped inside the package (``data``, ``config``), found through importlib.resources."""
    return Path(str(resources.files("childspace") / name))


SAMPLE_DATA = _package_dir("data")
PACKAGE_DIR = _package_dir(".").resolve()

DEFAULT_CATEGORIES = [
    "kindergarten",
    "primary_school",
    "middle_school",
    "playground",
    "park",
    "mother_baby_room",
    "children_home",
]

#: Default of ``[network] max_snap_m``, passed as ``max_snap=`` to the coverage and route functions (their own
#: default, ``childspace.analysis._coverage_base.MAX_SNAP_M``).
MAX_SNAP_M = 150.0

BOUNDARY_LEVELS = ("township", "community")
RANK_BY = ("children", "level")


@dataclass
class RunConfig:
    """Inputs and settings of one run (from a TOML file; see ``childspace/data/sample.toml``).

    ``safe_max_level`` is the highest stress level (1-4) a child's route may reach to count as safe: one number,
    or a table per school category (``{kindergarten = 1, primary_school = 2, middle_school = 3}``); None (the
    default): by the child's age, from ``[verdict.safe_max_level]`` of ``childspace/config/safety.toml``
    (kindergarten and primary 1: alone only on level-1 streets; middle school 2). It drives the route verdicts,
    the walksheds and the hazards alike. ``safety_profile`` is the defaults profile for missing OSM tags
    (``"auto"``: China's in China, the generic one elsewhere; ``"china"``, ``"generic"``, ``"generic:XX"`` or a
    TOML file, see :func:`childspace.analysis.safety.load_profile`). ``max_snap_m`` is the farthest a home or
    facility may be from a street to be attached to it (metres). ``standards`` holds the ``[standards]`` overrides in the
    shape of ``childspace/config/standards.toml`` (``{"categories": {...}, "target_pct": ...}``).
    ``route_geometry`` (``[analysis]``, default false) draws one line per home and school route in the ``routes``
    layer; when off, that layer holds each home's point with its verdicts (children per street and the hazards
    come from the routes' edge sequences either way).
    """

    name: str
    outputs: Path
    osm: Path
    boundaries: dict[str, InputSpec] = field(default_factory=dict)
    facilities: list[InputSpec] = field(default_factory=list)
    pilots: InputSpec | None = None
    origins: InputSpec | None = None
    synthetic: bool = False
    buffer_m: float = 500.0
    osm_facilities: bool = True
    target_pct: float = 80.0
    categories: list[str] = field(default_factory=lambda: list(DEFAULT_CATEGORIES))
    pilot_radius_m: float = 500.0
    safe_max_level: int | dict[str, int] | None = None
    safety_profile: str | Path = "auto"
    max_snap_m: float = MAX_SNAP_M
    hazards_rank_by: str = "children"
    route_geometry: bool = False
    standards: dict[str, Any] | None = None
    radius_override: float | None = None
    source: Path | None = None
    source_sha256: str | None = None
    plan: dict[str, Any] | None = None
    venues: dict[str, Any] | None = None
    basemaps: tuple[str, ...] = ()  # [maps] basemaps: opt-in tile layers ("osm", "tianditu", "amap")
    tianditu_key: str | None = None  # [maps] tianditu_key: the planner's 天地图 key
    from_osm: dict[str, Any] | None = None  # [from_osm]: units and homes from the extract (run/osm_inputs.py)
    school_names: SchoolNamePatterns | None = None  # [schools] name_patterns: levels of OSM schools by name
    workers: int | None = (
        None  # [run] workers: processes writing the outputs (None: two, one on a 1-CPU machine)
    )

    def inputs(self) -> list[tuple[str, InputSpec]]:
        """Every input file: (section, spec), the OSM extract included."""
        out: list[tuple[str, InputSpec]] = [(f"[boundaries.{k}]", v) for k, v in self.boundaries.items()]
        out += [(f.section, f) for f in self.facilities]
        if self.pilots is not None:
            out.append(("[pilots]", self.pilots))
        if self.origins is not None:
            out.append(("[origins]", self.origins))
        base = self.source.resolve().parent if self.source else Path.cwd()
        for name, sec in (("plan", self.plan), ("venues", self.venues)):
            if sec and "path" in sec:
                p = Path(sec["path"])
                out.append(
                    (f"[{name}]", InputSpec(path=p if p.is_absolute() else base / p, section=f"[{name}]"))
                )
        out.append(("[osm]", InputSpec(path=self.osm, section="[osm]")))
        return out

    def resolved_standards(self) -> Standards:
        """The standards of the run: the defaults merged with ``[standards]`` (and ``--radius``)."""
        from childspace.inputs.standards import load_standards

        overrides: dict[str, Any] = {
            k: (dict(v) if isinstance(v, dict) else v) for k, v in (self.standards or {}).items()
        }
        std = load_standards(overrides=overrides or None)
        if (
            self.radius_override is not None
        ):  # one radius for every category asked, parks of any size included
            cats = overrides.setdefault("categories", {})
            for c in self.categories:
                cats[c] = dict(cats.get(c, {}), radius_m=float(self.radius_override))
                if std.categories[c].radius_large_m is not None:
                    cats[c]["radius_large_m"] = float(self.radius_override)
            std = load_standards(overrides=overrides)
        return std

    def level_for(self, category: str) -> int:
        """``safe_max_level`` of one category (by age from the safety rules when the config sets none)."""
        from childspace.analysis.safety import safe_max_levels

        lv = safe_max_levels(self.safe_max_level)
        return int(lv.get(category, lv["default"]))

    def describe(self) -> list[str]:
        """The resolved configuration, one setting per line (what ``childspace check`` prints)."""
        std = self.resolved_standards()
        lines = [
            f"配置 Config: {self.source}" if self.source else "配置 Config: (built in code)",
            f"  project: name={self.name!r}, synthetic={self.synthetic}, outputs={self.outputs}",
        ]
        for section, spec in self.inputs():
            lines.append(f"  {section}: {spec.path if section == '[osm]' else spec.describe()}")
        lines.append(
            f"  network: buffer_m={self.buffer_m:g}, osm_facilities={self.osm_facilities}, "
            f"max_snap_m={self.max_snap_m:g}"
        )
        if self.safe_max_level is None:
            from childspace.analysis.safety import safe_max_levels

            by_age = safe_max_levels(None)
            lvl = (
                "by age ("
                + ", ".join(
                    f"{k}={by_age[k]}"
                    for k in ("kindergarten", "primary_school", "middle_school")
                    if k in by_age
                )
                + ")"
            )
        elif isinstance(self.safe_max_level, int):
            lvl = str(self.safe_max_level)
        else:
            lvl = ", ".join(f"{k}={v}" for k, v in self.safe_max_level.items())
        lines.append(
            f"  analysis: target_pct={self.target_pct:g}, pilot_radius_m={self.pilot_radius_m:g}, "
            f"safe_max_level={lvl}, hazards_rank_by={self.hazards_rank_by!r}, "
            f"safety_profile={str(self.safety_profile)!r}"
        )
        lines.append(f"  analysis categories: {', '.join(self.categories)}")
        changed = set((self.standards or {}).get("categories", {}))
        lines.append("  standards (radius in metres; * = set in this config):")
        for c in std.categories.values():
            big = (
                f", {c.radius_large_m:g} m from {c.large_area_ha:g} ha"
                if c.radius_large_m is not None
                else ""
            )
            mark = "*" if c.name in changed else " "
            unused = (
                f" ([standards] {c.target_pct:g}% not used: the run applies [analysis] target_pct to every "
                "category)"
                if c.target_pct != self.target_pct
                else ""
            )
            lines.append(
                f"   {mark}{c.name} {c.zh}: {c.radius_m:g} m{big}, target {self.target_pct:g}%{unused}"
                + (f", at least {c.min_per_township} per township" if c.min_per_township else "")
            )
        return lines


# ---------------------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------------------
SECTIONS = (
    "project",
    "boundaries",
    "facilities",
    "pilots",
    "origins",
    "network",
    "osm",
    "analysis",
    "standards",
    "plan",
    "venues",
    "from_osm",
    "schools",
    "maps",
    "run",
)
RUN_KEYS = ("workers",)
MAPS_KEYS = ("basemaps", "tianditu_key")
TILE_NAMES = ("osm", "tianditu", "amap")
SCHOOLS_KEYS = ("name_patterns",)
PLAN_KEYS = ("path",)
VENUE_KEYS = (*LOADER_OPTIONS, "osm")
PROJECT_KEYS = ("name", "synthetic", "outputs")
NETWORK_KEYS = ("osm", "buffer_m", "osm_facilities", "max_snap_m")
OSM_KEYS = ("path", "buffer_m", "facilities", "max_snap_m")
ANALYSIS_KEYS = (
    "target_pct",
    "categories",
    "pilot_radius_m",
    "safe_max_level",
    "hazards_rank_by",
    "safety_profile",
    "route_geometry",
)


def read_config_text(path: Path) -> tuple[str, bytes]:
    """The text of a config file and its bytes (UTF-8, or GBK with a warning)."""
    if not path.exists():
        raise DataError(
            "config file not found",
            path=path,
            fix=f"give the path of a TOML file like {SAMPLE_DATA / 'sample.toml'}",
        )
    if path.is_dir():
        raise DataError("the config path is a folder", path=path, fix="give the path of the .toml file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(
            f"cannot read the config ({exc.strerror})", path=path, fix="check the file's permissions"
        ) from None
    return _decode(path, data), data


def load_config(path: str | Path, outputs: str | Path | None = None) -> RunConfig:
    """Read and check a run configuration (TOML). Relative paths are relative to the config file.

    Raises
    ------
    DataError
        One line naming the file, the line and the fix: a missing file, invalid TOML, an unknown section or key
        (with the closest valid one), a value of the wrong type, an input file that does not exist.
    """
    path = Path(path)
    text, data = read_config_text(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(
            f"not a valid TOML config ({exc})",
            path=path,
            fix=f"correct the syntax at that line; compare with {SAMPLE_DATA / 'sample.toml'}",
        ) from None
    ck = _Checker(path, text)
    ck.known(raw, SECTIONS, (), "the config", what="section")
    base = path.resolve().parent
    proj = ck.table(raw.get("project", {}), ("project",), "[project]", '[project] name = "..."')
    ck.known(proj, PROJECT_KEYS, ("project",), "[project]")
    net = ck.table(raw.get("network", {}), ("network",), "[network]", '[network] osm = "..."')
    ck.known(net, NETWORK_KEYS, ("network",), "[network]")
    osm_t = ck.table(raw.get("osm", {}), ("osm",), "[osm]", '[osm] path = "..."')
    loader_only = [k for k in osm_t if k in LOADER_OPTIONS and k != "path"]
    if loader_only:
        ck.fail(
            f"[osm] {loader_only[0]} does not apply to an OpenStreetMap extract{{line}}",
            ("osm", loader_only[0]),
            fix="remove it: OSM files are always WGS84 lon/lat and UTF-8",
        )
    ck.known(osm_t, OSM_KEYS, ("osm",), "[osm]")
    for a, b in (("osm", "path"), ("buffer_m", "buffer_m"), ("osm_facilities", "facilities")):
        if a in net and b in osm_t:
            ck.fail(f"[network] {a} and [osm] {b} both given{{line}}", ("osm", b), fix="keep one of them")
    osm_path = net.get("osm", osm_t.get("path"))
    if osm_path is None:
        ck.fail(
            'no OpenStreetMap extract: [osm] path = "..." is missing',
            (),
            fix="name an OpenStreetMap extract (.osm/.osm.pbf), e.g. a Geofabrik zhejiang-latest.osm.pbf",
        )
    osm = _input(
        ck, base, {"path": osm_path}, ("network", "osm") if "osm" in net else ("osm", "path"), "[osm]"
    ).path
    for k in ("max_snap_m",):
        if k in net and k in osm_t:
            ck.fail(f"[network] {k} and [osm] {k} both given{{line}}", ("osm", k), fix="keep one of them")
    max_snap_m = ck.number(
        net if "max_snap_m" in net else osm_t,
        "max_snap_m",
        ("network",) if "max_snap_m" in net else ("osm",),
        "[network]",
        MAX_SNAP_M,
        positive=True,
    )
    buffer_m = ck.number(
        net if "buffer_m" in net else osm_t,
        "buffer_m",
        ("network",) if "buffer_m" in net else ("osm",),
        "[osm]",
        500.0,
    )
    osm_facilities = (
        ck.boolean(net, "osm_facilities", ("network",), "[network]", True)
        if "osm_facilities" in net
        else ck.boolean(osm_t, "facilities", ("osm",), "[osm]", True)
    )

    bounds_raw = ck.table(
        raw.get("boundaries", {}), ("boundaries",), "[boundaries]", '[boundaries.township] path = "..."'
    )
    ck.known(bounds_raw, BOUNDARY_LEVELS, ("boundaries",), "[boundaries]", what="boundary level")
    bounds = {
        lvl: _input(ck, base, e, ("boundaries", lvl), f"[boundaries.{lvl}]") for lvl, e in bounds_raw.items()
    }
    fac_raw = raw.get("facilities", [])
    if not isinstance(fac_raw, list):
        ck.fail(
            "facilities must be one [[facilities]] block per file (double brackets){line}",
            ("facilities",),
            fix='write [[facilities]] then path = "..."',
        )
    fac = [
        _input(
            ck,
            base,
            e,
            ("facilities", i),
            f"[[facilities]] {i + 1}",
            extra=("category", "max_rows", "strict"),
        )
        for i, e in enumerate(fac_raw)
    ]
    pilots = _input(ck, base, raw["pilots"], ("pilots",), "[pilots]") if "pilots" in raw else None
    origins = (
        _input(ck, base, raw["origins"], ("origins",), "[origins]", extra=("max_rows", "strict"))
        if "origins" in raw
        else None
    )
    plan = ck.table(raw.get("plan", {}), ("plan",), "[plan]", '[plan] path = "my_plan.toml"')
    ck.known(plan, PLAN_KEYS, ("plan",), "[plan]")
    if "path" in plan:
        _input(ck, base, plan, ("plan",), "[plan]", extra=())
    venues = ck.table(raw.get("venues", {}), ("venues",), "[venues]", '[venues] path = "venues.csv"')
    ck.known(venues, VENUE_KEYS, ("venues",), "[venues]")
    if "osm" in venues:
        ck.boolean(venues, "osm", ("venues",), "[venues]", False)
    if "path" in venues:
        _input(ck, base, {k: v for k, v in venues.items() if k != "osm"}, ("venues",), "[venues]", extra=())

    from childspace.run.osm_inputs import FROM_OSM_KEYS

    from_osm = ck.table(raw.get("from_osm", {}), ("from_osm",), "[from_osm]", "[from_osm] admin_level = 8")
    ck.known(from_osm, FROM_OSM_KEYS, ("from_osm",), "[from_osm]")
    schools = ck.table(
        raw.get("schools", {}),
        ("schools",),
        "[schools]",
        '[schools] name_patterns = { primary_school = "小学|Primary" }',
    )
    ck.known(schools, SCHOOLS_KEYS, ("schools",), "[schools]")
    name_patterns = schools.get("name_patterns")
    if name_patterns is not None and not isinstance(name_patterns, dict):
        ck.fail(
            f"[schools] name_patterns must be a table of category = pattern, got {name_patterns!r}{{line}}",
            ("schools", "name_patterns"),
            fix='write name_patterns = { primary_school = "小学|Primary" }',
        )

    workers = _workers(ck, raw)
    maps_t = ck.table(raw.get("maps", {}), ("maps",), "[maps]", '[maps] basemaps = ["tianditu"]')
    ck.known(maps_t, MAPS_KEYS, ("maps",), "[maps]")
    basemaps = maps_t.get("basemaps", [])
    if isinstance(basemaps, str):
        basemaps = [basemaps]
    if not isinstance(basemaps, list) or any(b not in TILE_NAMES for b in basemaps):
        ck.fail(
            f"[maps] basemaps = {basemaps!r}: each must be one of {', '.join(TILE_NAMES)}{{line}}",
            ("maps", "basemaps"),
            fix='write basemaps = ["tianditu"] (none: the offline base map only)',
        )
    tianditu_key = ck.string(maps_t, "tianditu_key", ("maps",), "[maps]")
    if "tianditu" in basemaps and not tianditu_key:
        ck.fail(
            "[maps] basemaps names tianditu but no tianditu_key is given{line}",
            ("maps", "basemaps"),
            fix='add tianditu_key = "..." (the key of your 天地图 account)',
        )

    standards = _standards(ck, raw.get("standards"))
    from childspace.inputs.standards import load_standards

    std = load_standards(overrides=standards)
    for spec in fac:
        if spec.category is not None:
            try:
                std.canonical(spec.category)
            except DataError:
                guess = difflib.get_close_matches(spec.category, list(std.categories), n=1, cutoff=0.6)
                ck.fail(
                    f"{spec.section} category = {spec.category!r} is not a known category{{line}}"
                    + (f" — did you mean '{guess[0]}'?" if guess else ""),
                    ("facilities", fac.index(spec), "category"),
                    fix="use a category or label of the standards: "
                    + ", ".join(std.categories)
                    + "; or declare it in [standards]",
                )

    ana = ck.table(raw.get("analysis", {}), ("analysis",), "[analysis]", "[analysis] target_pct = 80")
    ck.known(ana, ANALYSIS_KEYS, ("analysis",), "[analysis]")
    declared_new = [
        c
        for c in (standards or {}).get("categories", {})
        if c not in DEFAULT_CATEGORIES and c in std.categories
    ]
    categories = ana.get(
        "categories", DEFAULT_CATEGORIES + [c for c in declared_new if c not in DEFAULT_CATEGORIES]
    )
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        ck.fail(
            f"[analysis] categories must be a list of category names, got {categories!r}{{line}}",
            ("analysis", "categories"),
            fix='write categories = ["kindergarten", "primary_school"]',
        )
    for c in declared_new:
        if c not in categories:
            warnings.warn(
                f"{path}: [standards] declares the category '{c}' but [analysis] categories{ck.line(('analysis', 'categories'))} "
                "does not list it: its facilities are loaded but not analysed (add it to the list)",
                ChildspaceWarning,
                stacklevel=2,
            )
    for c in categories:
        if c not in std.categories:
            guess = difflib.get_close_matches(c, list(std.categories), n=1, cutoff=0.6)
            ck.fail(
                f"unknown category '{c}' in [analysis] categories{{line}}"
                + (f" — did you mean '{guess[0]}'?" if guess else ""),
                ("analysis", "categories"),
                fix="use one of " + ", ".join(std.categories) + " (or declare a new one in [standards])",
            )
    rank_by = ana.get("hazards_rank_by", "children")
    if rank_by not in RANK_BY:
        ck.fail(
            f"[analysis] hazards_rank_by = {rank_by!r} is not known{{line}}",
            ("analysis", "hazards_rank_by"),
            fix='use "children" (most children first) or "level" (worst level first)',
        )
    name = ck.string(proj, "name", ("project",), "[project]") or path.stem
    out_rel = ck.string(proj, "outputs", ("project",), "[project]")
    if outputs is not None:
        out_dir = Path(outputs)
    elif out_rel is None and base.is_relative_to(PACKAGE_DIR):  # the bundled sample: never inside the package
        out_dir = Path.cwd() / "outputs"
    else:
        out_dir = (base / (out_rel or "outputs")).resolve()
    return RunConfig(
        name=name,
        outputs=out_dir,
        osm=osm,
        boundaries=bounds,
        facilities=fac,
        pilots=pilots,
        origins=origins,
        synthetic=ck.boolean(proj, "synthetic", ("project",), "[project]", False),
        buffer_m=buffer_m,
        osm_facilities=osm_facilities,
        # without [analysis] target_pct the standards' ([standards] target_pct, else 80) applies: the run passes
        # this one value to every category
        target_pct=ck.percent(ana, "target_pct", ("analysis",), "[analysis]", float(std.target_pct)),
        categories=list(categories),
        pilot_radius_m=ck.number(ana, "pilot_radius_m", ("analysis",), "[analysis]", 500.0, positive=True),
        safe_max_level=_safe_max_level(ck, ana, list(std.categories)),
        safety_profile=_safety_profile(ck, ana, base),
        max_snap_m=max_snap_m,
        hazards_rank_by=str(rank_by),
        route_geometry=ck.boolean(ana, "route_geometry", ("analysis",), "[analysis]", False),
        standards=standards,
        source=path,
        source_sha256=hashlib.sha256(data).hexdigest(),
        plan=dict(plan) or None,
        venues=dict(venues) or None,
        basemaps=tuple(basemaps),
        tianditu_key=tianditu_key,
        from_osm=dict(from_osm) or None,
        school_names=dict(name_patterns) if name_patterns else None,
        workers=workers,
    )


def _workers(ck: _Checker, raw: dict[str, Any]) -> int | None:
    """``[run] workers``: how many processes write the outputs (1: one after another, as before)."""
    run_t = ck.table(raw.get("run", {}), ("run",), "[run]", "[run] workers = 2")
    ck.known(run_t, RUN_KEYS, ("run",), "[run]")
    if "workers" not in run_t:
        return None
    v = run_t["workers"]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        ck.fail(
            f"[run] workers must be a whole number ≥ 1, got {v!r}{{line}}",
            ("run", "workers"),
            fix="write workers = 2 (1: write the outputs one after another)",
        )
    return int(v)


def sample_config(outputs: str | Path | None = None) -> RunConfig:
    """The run configuration of the bundled synthetic sample (``childspace/data/sample.toml``); outputs default
    to ``./outputs`` under the current folder."""
    return load_config(
        SAMPLE_DATA / "sample.toml", outputs=outputs if outputs is not None else Path("outputs")
    )
