"""The checks of the run configuration's values (:mod:`childspace.run.config`): each failure is a ``DataError``
naming the file, the section, the line and the closest valid key.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from childspace._errors import ChildspaceWarning, DataError
from childspace.run._tomllines import Key, key_lines, line_of
from childspace.run.inputspec import LOADER_OPTIONS, InputSpec

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

    def percent(
        self, table: Mapping[str, Any], k: str, key: Key, where: str, default: float, positive: bool = True
    ) -> float:
        """A percentage 0-100 (``target_pct``). A value in (0, 1] is refused: planners often write a share
        (0.8 for 80 %), which read as a percentage would flag almost no unit as below target; an error costs one
        edit, a silent reinterpretation could not be told from a real 1 % target."""
        v = self.number(table, k, key, where, default, positive=positive)
        if 0 < v <= 1:
            self.fail(
                f"{where} {k} = {table[k]!r} is a percentage: {table[k]!r} means {v:g} % of the children, "
                f"not {v * 100:g} %{{line}}",
                (*key, k),
                fix=f"write {k} = {v * 100:g} for {v * 100:g} % (a percentage from 1 to 100, not a share 0-1)",
            )
        if v > 100:
            self.fail(
                f"{where} {k} must be ≤ 100 (a percentage of the children), got {table[k]!r}{{line}}",
                (*key, k),
                fix=f"give a percentage of children, e.g. {k} = 80",
            )
        return v

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
            out["target_pct"] = ck.percent(raw, k, ("standards",), "[standards]", 80.0)
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
    if "large_area_ha" in spec:
        ck.number(spec, "large_area_ha", key, where, 0.5)
    if "target_pct" in spec:
        ck.percent(spec, "target_pct", key, where, 80.0, positive=False)
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
