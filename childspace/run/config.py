"""The run configuration: one TOML file (see ``childspace/data/sample.toml``) parsed once into typed dataclasses.

Every section and key is checked against the schema below: a misspelt key is an error that names the file, the
line and the closest valid key (``unknown key 'cords' in [[facilities]] 2 (line 23) — did you mean 'coords'?``),
never a setting silently ignored. Every input file takes the same loader options (:data:`LOADER_OPTIONS`) and
they all reach the loader.
"""

from __future__ import annotations

import difflib
import hashlib
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from childspace._errors import ChildspaceWarning, DataError
from childspace.run._tomllines import Key, key_lines, line_of


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

#: Options every input file accepts; each is passed on to its loader (``childspace.inputs.loaders``).
LOADER_OPTIONS = ("path", "layer", "sheet", "crs", "coords", "encoding", "columns")

#: Default of ``[network] max_snap_m``, passed as ``max_snap=`` to the coverage and route functions (their own
#: default, ``childspace.analysis._coverage_base.MAX_SNAP_M``).
MAX_SNAP_M = 150.0

BOUNDARY_LEVELS = ("township", "community")
RANK_BY = ("children", "level")
STRESS_LEVELS = (1, 2, 3, 4)
#: Fields of a category in ``[standards]`` (see ``childspace/config/standards.toml``).
CATEGORY_FIELDS = (
    "zh",
    "en",
    "radius_m",
    "basis",
    "life_circle",
    "labels",
    "target_pct",
    "radius_large_m",
    "large_area_ha",
    "min_per_township",
)
NEW_CATEGORY_NEEDS = ("zh", "en", "radius_m", "life_circle")
LIFE_CIRCLE_FIELDS = ("zh", "en", "radius_m", "basis")


@dataclass
class InputSpec:
    """One input file of a run and the options for its loader.

    Attributes
    ----------
    path : Path
        Absolute path (a relative path in the config is relative to the config file).
    layer, sheet : str or int, optional
        Layer of a multi-layer GIS file; sheet of an Excel workbook (name or 0-based number).
    crs : str or int, optional
        CRS of a file that has none, e.g. ``"EPSG:4549"``.
    coords : str
        Datum of lon/lat coordinates: ``"wgs84"``, ``"gcj02"`` (Amap/Tencent), ``"bd09"`` (Baidu).
    encoding : str, optional
        Text encoding (CSV, .dbf without .cpg); default detected.
    columns : dict, optional
        Canonical name -> column of the file, for columns the built-in names do not catch.
    category : str, optional
        ``[[facilities]]`` only: the category of every row of the file.
    section : str
        Where it was given, for messages (``"[[facilities]] 2"``).
    """

    path: Path
    layer: str | int | None = None
    sheet: str | int | None = None
    crs: str | int | None = None
    coords: str = "wgs84"
    encoding: str | None = None
    columns: dict[str, str] | None = None
    category: str | None = None
    max_rows: int | None = None
    strict: bool = False
    section: str = ""

    def loader_options(self) -> dict[str, Any]:
        """Keyword arguments every loader takes (``strict``, for facilities and origins, and ``category`` apart)."""
        return {
            "layer": self.layer,
            "sheet": self.sheet,
            "crs": self.crs,
            "coords": self.coords,
            "encoding": self.encoding,
            "columns": self.columns,
            "max_rows": self.max_rows,
        }

    def describe(self) -> str:
        """One line: the path and the options that are set."""
        opts = [
            f"{k}={v!r}"
            for k, v in (
                ("layer", self.layer),
                ("sheet", self.sheet),
                ("crs", self.crs),
                ("coords", self.coords),
                ("encoding", self.encoding),
                ("columns", self.columns),
                ("category", self.category),
                ("max_rows", self.max_rows),
                ("strict", self.strict or None),
            )
            if v is not None
        ]
        return f"{self.path}" + (f" ({', '.join(opts)})" if opts else "")


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
    standards: dict[str, Any] | None = None
    radius_override: float | None = None
    source: Path | None = None
    source_sha256: str | None = None
    plan: dict[str, Any] | None = None
    venues: dict[str, Any] | None = None
    basemaps: tuple[str, ...] = ()  # [maps] basemaps: opt-in tile layers ("osm", "tianditu", "amap")
    tianditu_key: str | None = None  # [maps] tianditu_key: the planner's 天地图 key
    from_osm: dict[str, Any] | None = None  # [from_osm]: units and homes from the extract (run/osm_inputs.py)
    school_names: dict[str, Any] | None = None  # [schools] name_patterns: levels of OSM schools by name

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

    def resolved_standards(self) -> Any:
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
            lines.append(
                f"   {mark}{c.name} {c.zh}: {c.radius_m:g} m{big}, target {c.target_pct:g}%"
                + (f", at least {c.min_per_township} per township" if c.min_per_township else "")
            )
        return lines


# ---------------------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------------------
class _Checker:
    """Validation with messages that name the file, the section, the line and the closest valid key."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = key_lines(text)

    def line(self, key: Key) -> str:
        no = line_of(self.lines, key)
        return f" (line {no})" if no else ""

    def fail(self, message: str, key: Key, fix: str) -> None:
        raise DataError(message.replace("{line}", self.line(key)), path=self.path, fix=fix)

    def known(
        self,
        table: Mapping[str, Any],
        allowed: tuple[str, ...] | list[str],
        key: Key,
        where: str,
        what: str = "key",
    ) -> None:
        for k in table:
            if k not in allowed:
                guess = difflib.get_close_matches(k, list(allowed), n=1, cutoff=0.6)
                hint = f" — did you mean '{guess[0]}'?" if guess else ""
                self.fail(
                    f"unknown {what} '{k}' in {where}{{line}}{hint}",
                    (*key, k),
                    fix=(f"write '{guess[0]}'" if guess else "remove it") + "; valid: " + ", ".join(allowed),
                )

    def table(self, value: Any, key: Key, where: str, example: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(f"{where} must be a table, got {value!r}{{line}}", key, fix=f"write it as {example}")
        return value

    def number(
        self, table: Mapping[str, Any], k: str, key: Key, where: str, default: float, positive: bool = False
    ) -> float:
        v = table.get(k, default)
        if isinstance(v, bool) or not isinstance(v, int | float):
            self.fail(
                f"{where} {k} must be a number, got {v!r}{{line}}", (*key, k), fix=f"write {k} = {default:g}"
            )
        if positive and not v > 0:
            self.fail(f"{where} {k} must be > 0, got {v!r}{{line}}", (*key, k), fix="give a positive number")
        elif v < 0:
            self.fail(f"{where} {k} must be ≥ 0, got {v!r}{{line}}", (*key, k), fix="give a number ≥ 0")
        return float(v)

    def boolean(self, table: Mapping[str, Any], k: str, key: Key, where: str, default: bool) -> bool:
        v = table.get(k, default)
        if not isinstance(v, bool):
            self.fail(
                f"{where} {k} must be true or false, got {v!r}{{line}}",
                (*key, k),
                fix=f"write {k} = {str(default).lower()} (no quotes)",
            )
        return v

    def string(self, table: Mapping[str, Any], k: str, key: Key, where: str) -> str | None:
        v = table.get(k)
        if v is not None and not isinstance(v, str):
            self.fail(f"{where} {k} must be text, got {v!r}{{line}}", (*key, k), fix=f'write {k} = "..."')
        return v


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 (with or without BOM); a file saved as GBK/GB18030 is read as such with a warning."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise DataError(
            f"the config is not UTF-8 text (byte {data[utf8_error.start]:#04x} at position "
            f"{utf8_error.start} cannot be read) and not GBK either",
            path=path,
            fix="open it in a text editor and save it as UTF-8 (e.g. Notepad: Save as → Encoding UTF-8)",
        ) from None
    warnings.warn(
        f"{path}: the config is not UTF-8; read it as GBK/GB18030 (Chinese Windows default). Save it "
        "as UTF-8 to silence this warning",
        ChildspaceWarning,
        stacklevel=3,
    )
    return text


def _input(
    ck: _Checker, base: Path, entry: Any, key: Key, where: str, extra: tuple[str, ...] = ("max_rows",)
) -> InputSpec:
    from childspace.inputs.datum import normalise_datum

    entry = ck.table(entry, key, where, 'a table with path = "..."')
    ck.known(entry, LOADER_OPTIONS + extra, key, where)
    if "path" not in entry:
        ck.fail(f"{where} has no 'path'{{line}}", key, fix=f'add path = "..." under {where}')
    raw = ck.string(entry, "path", key, where)
    p = Path(str(raw))
    path = p if p.is_absolute() else base / p
    if not path.exists():
        ck.fail(
            f"{where} file not found: {path}{{line}}",
            (*key, "path"),
            fix="check the path (relative paths are relative to the config file)",
        )
    for k in ("layer", "sheet"):
        v = entry.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, str | int)):
            ck.fail(
                f"{where} {k} must be a name or a 0-based number, got {v!r}{{line}}",
                (*key, k),
                fix=f'write {k} = "name" or {k} = 0',
            )
    crs = entry.get("crs")
    if crs is not None:
        if isinstance(crs, bool) or not isinstance(crs, str | int):
            ck.fail(
                f'{where} crs must be text such as "EPSG:4549", got {crs!r}{{line}}',
                (*key, "crs"),
                fix='write crs = "EPSG:4549" (or the EPSG code of your file)',
            )
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            CRS.from_user_input(crs)
        except CRSError:
            ck.fail(
                f"{where} crs = {crs!r} is not a known coordinate system{{line}}",
                (*key, "crs"),
                fix='give an EPSG code, e.g. "EPSG:4490" (CGCS2000 lon/lat) or "EPSG:4549" (CGCS2000 / 3-degree '
                "Gauss-Kruger CM 120E)",
            )
    coords = ck.string(entry, "coords", key, where) or "wgs84"
    try:
        normalise_datum(coords)
    except DataError:
        ck.fail(
            f"{where} coords = {coords!r} is not a known datum{{line}}",
            (*key, "coords"),
            fix='use "wgs84" (GPS, OpenStreetMap, CGCS2000), "gcj02" (Amap 高德, Tencent) or "bd09" (Baidu 百度); '
            'a projected file takes crs = "EPSG:..." instead',
        )
    enc = ck.string(entry, "encoding", key, where)
    if enc is not None:
        import codecs

        try:
            codecs.lookup(enc)
        except LookupError:
            ck.fail(
                f"{where} encoding = {enc!r} is not a known text encoding{{line}}",
                (*key, "encoding"),
                fix='use e.g. "utf-8" or "gbk"',
            )
    cols = entry.get("columns")
    if cols is not None:
        cols = ck.table(cols, (*key, "columns"), f"{where} columns", '{ name = "学校名称", lon = "E" }')
        bad = [k for k, v in cols.items() if not isinstance(v, str)]
        if bad:
            ck.fail(
                f"{where} columns.{bad[0]} must be a column name (text){{line}}",
                (*key, "columns", bad[0]),
                fix='write columns = { name = "学校名称" } (canonical name = column of your file)',
            )
    max_rows = entry.get("max_rows")
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1):
        ck.fail(
            f"{where} max_rows must be a whole number ≥ 1, got {max_rows!r}{{line}}",
            (*key, "max_rows"),
            fix="write max_rows = 1000000 (no quotes)",
        )
    strict = ck.boolean(entry, "strict", key, where, False) if "strict" in extra else False
    return InputSpec(
        path=path,
        layer=entry.get("layer"),
        sheet=entry.get("sheet"),
        crs=crs,
        coords=coords,
        encoding=enc,
        columns=dict(cols) if cols else None,
        category=ck.string(entry, "category", key, where) if "category" in extra else None,
        max_rows=max_rows,
        strict=strict,
        section=where,
    )


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
)
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
)


def _standards(ck: _Checker, raw: Any) -> dict[str, Any] | None:
    """The ``[standards]`` table, checked, in the shape of ``config/standards.toml``."""
    from childspace.inputs.standards import default_standards

    if raw is None:
        return None
    raw = ck.table(raw, ("standards",), "[standards]", "[standards] kindergarten = { radius_m = 300 }")
    known = default_standards().categories
    out: dict[str, Any] = {}
    cats: dict[str, dict[str, Any]] = {}
    for k, v in raw.items():
        if k == "target_pct":
            out["target_pct"] = ck.number(raw, k, ("standards",), "[standards]", 80.0, positive=True)
        elif k == "life_circles":
            circles = ck.table(v, ("standards", k), "[standards.life_circles]", "[standards.life_circles.5]")
            for m, spec in circles.items():
                where = f"[standards.life_circles.{m}]"
                if m not in ("5", "10", "15"):
                    ck.fail(
                        f"unknown life circle '{m}' in [standards.life_circles]{{line}}",
                        ("standards", k, m),
                        fix="use 5, 10 or 15 (minutes)",
                    )
                spec = ck.table(spec, ("standards", k, m), where, "{ radius_m = 300 }")
                ck.known(spec, LIFE_CIRCLE_FIELDS, ("standards", k, m), where)
                if "radius_m" in spec:
                    ck.number(spec, "radius_m", ("standards", k, m), where, 300.0, positive=True)
            out["life_circles"] = circles
        elif k == "categories":
            for name, spec in ck.table(
                v, ("standards", k), "[standards.categories]", "[standards.categories.kindergarten]"
            ).items():
                cats[name] = _category(ck, name, spec, ("standards", k, name), known)
        else:  # shorthand: [standards] kindergarten = { radius_m = 300 } / [standards.kindergarten]
            if not isinstance(v, dict):
                guess = difflib.get_close_matches(k, ["target_pct", *known], n=1, cutoff=0.6)
                hint = f" — did you mean '{guess[0]}'?" if guess else ""
                ck.fail(
                    f"unknown key '{k}' in [standards]{{line}}{hint}",
                    ("standards", k),
                    fix="a category takes a table, e.g. kindergarten = { radius_m = 300 }; other keys: "
                    "target_pct, life_circles, categories",
                )
            cats[k] = _category(ck, k, v, ("standards", k), known)
    if cats:
        out["categories"] = cats
    # the merged result must build (e.g. a label given to two categories)
    from childspace.inputs.standards import load_standards

    try:
        load_standards(overrides=out)
    except DataError as exc:
        raise DataError(f"[standards]: {exc.message}", path=ck.path, fix=exc.fix) from None
    return out or None


def _category(ck: _Checker, name: str, spec: Any, key: Key, known: Mapping[str, Any]) -> dict[str, Any]:
    where = f"[standards.{name}]"
    spec = ck.table(spec, key, where, "{ radius_m = 300 }")
    if name not in known:
        missing = [f for f in NEW_CATEGORY_NEEDS if f not in spec]
        if missing:
            guess = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
            hint = f" — did you mean '{guess[0]}'?" if guess else ""
            ck.fail(
                f"unknown category '{name}' in [standards]{{line}}{hint}",
                key,
                fix=(
                    "write '" + guess[0] + "'" if guess else "use a known category (" + ", ".join(known) + ")"
                )
                + "; a new category needs "
                + ", ".join(NEW_CATEGORY_NEEDS)
                + " (and labels to match your files)",
            )
    ck.known(spec, CATEGORY_FIELDS, key, where, what="field")
    for f in ("radius_m", "radius_large_m"):
        if f in spec:
            ck.number(spec, f, key, where, 300.0, positive=True)
    for f in ("target_pct", "large_area_ha"):
        if f in spec:
            ck.number(spec, f, key, where, 80.0)
    if "target_pct" in spec and spec["target_pct"] > 100:
        ck.fail(
            f"{where} target_pct must be ≤ 100, got {spec['target_pct']!r}{{line}}",
            (*key, "target_pct"),
            fix="give a percentage of children, e.g. 80",
        )
    if "life_circle" in spec and spec["life_circle"] not in (5, 10, 15):
        ck.fail(
            f"{where} life_circle must be 5, 10 or 15, got {spec['life_circle']!r}{{line}}",
            (*key, "life_circle"),
            fix="use the minutes of the life circle: 5, 10 or 15",
        )
    if "labels" in spec and (
        not isinstance(spec["labels"], list) or not all(isinstance(x, str) for x in spec["labels"])
    ):
        ck.fail(
            f"{where} labels must be a list of text{{line}}",
            (*key, "labels"),
            fix='write labels = ["少儿图书馆", "children\'s library"]',
        )
    return dict(spec)


def _safe_max_level(
    ck: _Checker, ana: Mapping[str, Any], categories: list[str]
) -> int | dict[str, int] | None:
    key: Key = ("analysis", "safe_max_level")
    if "safe_max_level" not in ana:
        return None  # by the child's age ([verdict.safe_max_level] of config/safety.toml)
    v = ana["safe_max_level"]

    def level(x: Any, k: Key) -> int:
        if isinstance(x, bool) or not isinstance(x, int) or x not in STRESS_LEVELS:
            ck.fail(
                f"[analysis] safe_max_level must be a stress level 1-4, got {x!r}{{line}}",
                k,
                fix="write safe_max_level = 2 (no quotes), or a table per school category, e.g. "
                "{ kindergarten = 1, primary_school = 2, middle_school = 3 }",
            )
        return int(x)

    if isinstance(v, dict):
        ck.known(v, categories, key, "[analysis] safe_max_level", what="category")
        return {k: level(x, (*key, k)) for k, x in v.items()}
    return level(v, key)


def _safety_profile(ck: _Checker, ana: Mapping[str, Any], base: Path) -> str | Path:
    """``[analysis] safety_profile``: "auto", "china", "generic", "generic:XX" or a TOML file (relative to the
    config), checked by loading it."""
    from childspace.analysis.safety import PROFILES, load_profile

    key: Key = ("analysis", "safety_profile")
    v = ck.string(ana, "safety_profile", ("analysis",), "[analysis]")
    if v is None or v.strip().lower() == "auto":
        return "auto"
    v = v.strip()
    named = v.partition(":")[0].lower() in PROFILES and not Path(v).suffix
    spec: str | Path = v if named else (Path(v) if Path(v).is_absolute() else base / v)
    if not named and not Path(spec).exists():
        ck.fail(
            f"[analysis] safety_profile = {v!r} is neither a known profile nor a file{{line}}"
            f"{' (not found: ' + str(spec) + ')' if Path(v).suffix else ''}",
            key,
            fix='write "auto" (China\'s defaults in China, generic elsewhere), "china", "generic", '
            '"generic:AT" (a country code) or the path of a profile TOML shaped like '
            "childspace/config/safety_profile_china.toml",
        )
    try:
        load_profile(spec)
    except DataError as exc:
        ck.fail(f"[analysis] safety_profile = {v!r}: {exc.message}{{line}}", key, fix=exc.fix or "")
    return spec


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
        target_pct=ck.number(ana, "target_pct", ("analysis",), "[analysis]", 80.0, positive=True),
        categories=list(categories),
        pilot_radius_m=ck.number(ana, "pilot_radius_m", ("analysis",), "[analysis]", 500.0, positive=True),
        safe_max_level=_safe_max_level(ck, ana, list(std.categories)),
        safety_profile=_safety_profile(ck, ana, base),
        max_snap_m=max_snap_m,
        hazards_rank_by=str(rank_by),
        standards=standards,
        source=path,
        source_sha256=hashlib.sha256(data).hexdigest(),
        plan=dict(plan) or None,
        venues=dict(venues) or None,
        basemaps=tuple(basemaps),
        tianditu_key=tianditu_key,
        from_osm=dict(from_osm) or None,
        school_names=dict(name_patterns) if name_patterns else None,
    )


def sample_config(outputs: str | Path | None = None) -> RunConfig:
    """The run configuration of the bundled synthetic sample (``childspace/data/sample.toml``); outputs default
    to ``./outputs`` under the current folder."""
    return load_config(
        SAMPLE_DATA / "sample.toml", outputs=outputs if outputs is not None else Path("outputs")
    )
