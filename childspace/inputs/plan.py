"""A city's action-plan targets (TOML), validated: what :mod:`childspace.analysis.indicators` measures.

The default is Yueqing's plan, ``childspace/config/plan_yueqing.toml``; another city writes its own file of the
same shape (see the comments in that file) and passes its path to :func:`load_plan`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from childspace._errors import DataError

DEFAULT_PLAN = Path(__file__).resolve().parents[1] / "config" / "plan_yueqing.toml"

#: the measures childspace computes, with the extra keys each one takes
MEASURES: dict[str, tuple[str, ...]] = {
    "infant_care_places_per_1000": (),
    "townships_with_infant_care": (),
    "new_public_kindergarten_places": ("since",),
    "inclusive_kindergarten_share": (),
    "quality_kindergarten_share": ("grades",),
    "townships_with_demonstration_children_home": (),
    "pilot_units_batch": ("batch",),
    "venues_with_mother_baby_room": (),
}
_REQUIRED = ("measure", "zh", "en", "wording", "target", "source")
_OPTIONAL = ("unit", "year", "comparison")


@dataclass(frozen=True)
class Target:
    """One target of the plan (see ``config/plan_yueqing.toml``)."""

    id: str
    measure: str
    zh: str
    en: str
    wording: str
    target: float
    source: str
    unit: str = ""
    year: int | None = None
    comparison: str = ">="
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Bilingual name, Chinese first."""
        return f"{self.zh} {self.en}"

    def met(self, value: float) -> bool:
        """Whether ``value`` reaches the target."""
        return value >= self.target if self.comparison == ">=" else value <= self.target


@dataclass(frozen=True)
class VenueRule:
    """A rule making a public venue need a mother-and-baby room (floor area and/or daily visitors)."""

    id: str
    zh: str
    basis: str
    floor_area_m2: float | None = None
    daily_visitors: float | None = None
    inclusive: bool = False

    def applies(self, area: ArrayLike, visitors: ArrayLike) -> np.ndarray:
        """Boolean array: the rule applies (NaN never passes a threshold)."""
        a = np.asarray(area, dtype=float)
        v = np.asarray(visitors, dtype=float)
        out = np.zeros(np.broadcast(a, v).shape, dtype=bool)
        for value, limit in ((a, self.floor_area_m2), (v, self.daily_visitors)):
            if limit is not None:
                out |= (value >= limit) if self.inclusive else (value > limit)
        return out


@dataclass(frozen=True)
class Plan:
    """The targets of an action plan and the mother-and-baby-room rules."""

    zh: str
    en: str
    city: str
    targets: dict[str, Target]
    venue_rules: dict[str, VenueRule]
    room_distance_m: float
    source: str


def _fail(msg: str, path: Path, fix: str) -> DataError:
    return DataError(msg, path=path, fix=fix)


def load_plan(path: str | Path | None = None) -> Plan:
    """Read and validate a plan file (default: Yueqing's plan).

    Raises
    ------
    DataError
        Naming the file, the target and the fix: missing keys, an unknown measure or key, a target that is not a
        number, a pilot target without its batch, a bad comparison or venue rule.
    """
    p = Path(path) if path is not None else DEFAULT_PLAN
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail("plan file not found", p, "check the path, or leave it out for Yueqing's plan") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _fail(
            f"not a valid TOML plan ({exc})", p, "compare with childspace/config/plan_yueqing.toml"
        ) from None
    head = raw.get("plan", {})
    targets: dict[str, Target] = {}
    if not raw.get("targets"):
        raise _fail(
            "no [targets.*] tables", p, "add the plan's targets (see childspace/config/plan_yueqing.toml)"
        )
    for tid, spec in raw["targets"].items():
        where = f"[targets.{tid}]"
        if not isinstance(spec, dict):
            raise _fail(f"{where} is not a table", p, "write each target as a [targets.<id>] table")
        missing = [k for k in _REQUIRED if k not in spec]
        if missing:
            raise _fail(
                f"{where} lacks {', '.join(missing)}", p, f"give {', '.join(_REQUIRED)} for every target"
            )
        measure = str(spec["measure"])
        if measure not in MEASURES:
            raise _fail(f"{where}: unknown measure {measure!r}", p, f"use one of {', '.join(MEASURES)}")
        allowed = set(_REQUIRED) | set(_OPTIONAL) | set(MEASURES[measure])
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise _fail(
                f"{where}: unknown key(s) {', '.join(unknown)}",
                p,
                f"keys of a {measure} target: {', '.join(sorted(allowed))}",
            )
        value = spec["target"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise _fail(
                f"{where}: target must be a number ≥ 0, got {value!r}", p, "write the number, e.g. 4.5"
            )
        comparison = str(spec.get("comparison", ">="))
        if comparison not in (">=", "<="):
            raise _fail(f"{where}: comparison {comparison!r}", p, 'use ">=" (at least) or "<=" (at most)')
        if measure == "pilot_units_batch" and not isinstance(spec.get("batch"), int):
            raise _fail(f"{where}: a pilot_units_batch target needs batch = <year>", p, "e.g. batch = 2022")
        if (measure.endswith("_share") or measure.startswith(("townships_", "venues_"))) and value > 100:
            raise _fail(f"{where}: a share cannot exceed 100 %, got {value}", p, "give a percentage 0-100")
        targets[tid] = Target(
            id=tid,
            measure=measure,
            zh=str(spec["zh"]),
            en=str(spec["en"]),
            wording=str(spec["wording"]),
            target=float(value),
            source=str(spec["source"]),
            unit=str(spec.get("unit", "")),
            year=int(spec["year"]) if "year" in spec else None,
            comparison=comparison,
            params={k: spec[k] for k in MEASURES[measure] if k in spec},
        )
    mb = raw.get("mother_baby_rooms", {})
    rules: dict[str, VenueRule] = {}
    for rid, spec in mb.get("rules", {}).items():
        area, vis = spec.get("floor_area_m2"), spec.get("daily_visitors")
        if area is None and vis is None:
            raise _fail(
                f"[mother_baby_rooms.rules.{rid}] has neither floor_area_m2 nor daily_visitors",
                p,
                "give the threshold(s) of the rule",
            )
        for k, v in (("floor_area_m2", area), ("daily_visitors", vis)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
                raise _fail(
                    f"[mother_baby_rooms.rules.{rid}] {k} must be a positive number, got {v!r}",
                    p,
                    "e.g. floor_area_m2 = 5000",
                )
        rules[rid] = VenueRule(
            id=rid,
            zh=str(spec.get("zh", rid)),
            basis=str(spec.get("basis", "")),
            floor_area_m2=None if area is None else float(area),
            daily_visitors=None if vis is None else float(vis),
            inclusive=bool(spec.get("inclusive", False)),
        )
    dist = mb.get("max_distance_m", 100)
    if isinstance(dist, bool) or not isinstance(dist, (int, float)) or dist < 0:
        raise _fail(f"[mother_baby_rooms] max_distance_m must be a number ≥ 0, got {dist!r}", p, "e.g. 100")
    if any(t.measure == "venues_with_mother_baby_room" for t in targets.values()) and not rules:
        raise _fail(
            "a venues_with_mother_baby_room target needs [mother_baby_rooms.rules.*]",
            p,
            "copy the national_2016 rule from childspace/config/plan_yueqing.toml",
        )
    return Plan(
        zh=str(head.get("zh", p.stem)),
        en=str(head.get("en", "")),
        city=str(head.get("city", "")),
        targets=targets,
        venue_rules=rules,
        room_distance_m=float(dist),
        source=str(p),
    )
