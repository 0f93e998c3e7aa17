"""Facility categories and their walking-radius standards, from one TOML config.

The defaults live in ``childspace/config/standards.toml`` (each value with its basis: GB 50180-2018 life circles,
GB/T 51346-2019 / GB 55014-2021 for parks, the 2016 national mother-and-baby-room guidance, ...). A user TOML file
of the same shape, or an ``overrides`` mapping, replaces any value; everything else keeps the default.

Radii are walking distances in metres.
"""

from __future__ import annotations

import copy
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from childspace._errors import DataError

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "config" / "standards.toml"

#: The canonical category keys, in report order.
CATEGORIES = (
    "infant_care",
    "kindergarten",
    "primary_school",
    "middle_school",
    "playground",
    "park",
    "mother_baby_room",
    "children_home",
    "library",
    "hospital",
)

_SPLIT = re.compile(r"\s*[/／、,，;；|｜]\s*")
_CJK = re.compile(r"[\u3400-\u9fff]")


def normalise_label(label: object) -> str:
    """Normalise a label for matching: NFKC (full-width to half-width), lower case, single spaces, no quotes.

    ``"ＫＩＮＤＥＲＧＡＲＴＥＮ "``, ``"Kindergarten"`` and ``"kindergarten"`` all give ``"kindergarten"``;
    underscores count as spaces, so the canonical keys (``"primary_school"``) match too.
    """
    text = unicodedata.normalize("NFKC", str(label)).strip().lower()
    text = text.replace("_", " ").replace("’", "'").replace("‘", "'")
    return re.sub(r"\s+", " ", text)


@dataclass(frozen=True)
class LifeCircle:
    """A walking life circle (生活圈): ``minutes`` of walking ≈ ``radius_m`` metres."""

    minutes: int
    zh: str
    en: str
    radius_m: float
    basis: str

    @property
    def label(self) -> str:
        """Bilingual label, Chinese first (``"5分钟生活圈 5-minute life circle"``)."""
        return f"{self.zh} {self.en}"


@dataclass(frozen=True)
class Category:
    """One facility category and its default standard.

    Attributes
    ----------
    name : str
        Canonical key (``"kindergarten"``).
    zh, en : str
        Chinese and English names.
    radius_m : float
        Default walking radius in metres (for parks: the radius of parks smaller than ``large_area_ha``).
    basis : str
        The source of the radius (standard, clause, or "planning choice").
    life_circle : int
        The life circle (5, 10 or 15 minutes) the facility belongs to.
    labels : tuple of str
        Labels (Chinese and English) that map onto this category.
    target_pct : float
        Share of children (percent) that should live within ``radius_m``.
    radius_large_m, large_area_ha : float or None
        Parks: facilities with ``area_ha >= large_area_ha`` use ``radius_large_m``.
    min_per_township : int or None
        Minimum number per township (children's homes: 1).
    """

    name: str
    zh: str
    en: str
    radius_m: float
    basis: str
    life_circle: int
    labels: tuple[str, ...]
    target_pct: float
    radius_large_m: float | None = None
    large_area_ha: float | None = None
    min_per_township: int | None = None

    @property
    def label(self) -> str:
        """Bilingual label, Chinese first (``"幼儿园 Kindergarten"``)."""
        return f"{self.zh} {self.en}"


@dataclass(frozen=True)
class Standards:
    """The categories and radii in force for a run (see :func:`load_standards`).

    Attributes
    ----------
    categories : dict of str to Category
        Canonical key -> category, in config order.
    target_pct : float
        Default coverage target (percent of children).
    life_circles : dict of int to LifeCircle
        5, 10 and 15-minute life circles.
    sources : tuple of str
        The files merged, defaults first.
    ambiguous : dict of str to tuple of str
        Labels that name several categories (``"托幼"``: infant care and kindergarten); a facility labelled so is
        an error asking for one of them, not a guess. A label a category lists itself is not ambiguous.
    """

    categories: dict[str, Category]
    target_pct: float
    life_circles: dict[int, LifeCircle]
    sources: tuple[str, ...] = ()
    ambiguous: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _lookup: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _ambiguous: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookup: dict[str, str] = {}
        for cat in self.categories.values():
            for lab in (cat.name, cat.zh, cat.en, *cat.labels):
                key = normalise_label(lab)
                other = lookup.get(key)
                if other is not None and other != cat.name:
                    raise DataError(
                        f"label {lab!r} is given for both {other!r} and {cat.name!r}",
                        path=self.sources[-1] if self.sources else None,
                        fix="keep each label under one category",
                    )
                lookup[key] = cat.name
        object.__setattr__(self, "_lookup", lookup)
        amb = {
            normalise_label(k): tuple(v)
            for k, v in self.ambiguous.items()
            if normalise_label(k) not in lookup
        }
        for key, cats in amb.items():
            unknown = [c for c in cats if c not in self.categories]
            if len(cats) < 2 or unknown:
                raise DataError(
                    f"[ambiguous] {key!r} must list two or more known categories, got {list(cats)}",
                    path=self.sources[-1] if self.sources else None,
                    fix=f"use category keys among {', '.join(self.categories)}",
                )
        object.__setattr__(self, "_ambiguous", amb)

    # -- categories -------------------------------------------------------------------------------------------
    def known_labels(self) -> list[str]:
        """All labels, grouped by category (for error messages)."""
        return [f"{c.name}: {'/'.join(dict.fromkeys([c.zh, *c.labels]))}" for c in self.categories.values()]

    def canonical(self, label: object) -> str:
        """The canonical category of ``label`` (see :func:`canonical_category`)."""
        if label is None or (isinstance(label, float) and np.isnan(label)):
            raise DataError("empty category label", fix="fill in the category (类型) column")
        whole = normalise_label(label)
        if whole in self._lookup:
            return self._lookup[whole]
        parts = [p for p in _SPLIT.split(whole) if p]
        for part in (whole, *parts):
            if part in self._ambiguous:
                raise self._ambiguity(label, self._ambiguous[part])
        found = {m for p in parts if (m := self._match_one(p)) is not None}
        if len(found) == 1:
            return found.pop()
        if not found:  # "公办托幼中心": an ambiguous word inside a label no category claims
            for key, cats in self._ambiguous.items():
                if _CJK.search(key) and key in whole:
                    raise self._ambiguity(label, cats)
        if len(found) > 1:
            raise DataError(
                f"category label {label!r} names several categories ({', '.join(sorted(found))})",
                fix="give one category per facility",
            )
        raise DataError(
            f"unknown category label {label!r}; known labels: " + "; ".join(self.known_labels()),
            fix="use one of the known labels or add it to the labels of a category in a standards "
            "TOML file (load_standards(path))",
        )

    def _ambiguity(self, label: Any, cats: tuple[str, ...]) -> DataError:
        names = [f"{self.categories[c].zh} ({c}: {self.categories[c].en})" for c in cats]
        return DataError(
            f"category label {label!r} is ambiguous: it may mean {' or '.join(names)}",
            fix="write one of "
            + " / ".join(repr(self.categories[c].zh) for c in cats)
            + " in the category (类型) column of these rows instead of a guess"
            + (
                " (托育机构: 0-3 岁 infant care; 幼儿园: 3-6 岁 kindergarten)"
                if {"infant_care", "kindergarten"} <= set(cats)
                else ""
            ),
        )

    def _match_one(self, part: str) -> str | None:
        if part in self._lookup:
            return self._lookup[part]
        # Chinese labels inside a longer label ("公办幼儿园", "乐清市儿童医院"): accept when exactly one category
        # has a Chinese label contained in it.
        if _CJK.search(part):
            hits = {
                cat for lab, cat in self._lookup.items() if _CJK.search(lab) and len(lab) >= 2 and lab in part
            }
            if len(hits) == 1:
                return hits.pop()
        return None

    def label(self, category: str) -> str:
        """Bilingual label of a canonical category, Chinese first (``"幼儿园 Kindergarten"``)."""
        return self[category].label

    def __getitem__(self, category: str) -> Category:
        try:
            return self.categories[category]
        except KeyError:
            return self.categories[self.canonical(category)]

    # -- radii --------------------------------------------------------------------------------------------------
    def radius(self, category: str, area_ha: float | np.ndarray | None = None) -> float | np.ndarray:
        """Walking radius in metres for ``category``.

        Parameters
        ----------
        category : str
            Canonical key or any known label.
        area_ha : float or array of float, optional
            Facility area in hectares; parks of at least ``large_area_ha`` (0.5 ha) get ``radius_large_m``
            (500 m), smaller parks and unknown areas (NaN/None) ``radius_m`` (300 m).

        Returns
        -------
        float or numpy.ndarray
            Metres; an array when ``area_ha`` is an array.
        """
        cat = self[category]
        if area_ha is None:
            return float(cat.radius_m)
        area = np.asarray(area_ha, dtype="float64")
        if cat.radius_large_m is None or cat.large_area_ha is None:
            out = np.full(area.shape, float(cat.radius_m))
        else:
            large = np.nan_to_num(area, nan=-1.0) >= cat.large_area_ha
            out = np.where(large, float(cat.radius_large_m), float(cat.radius_m))
        return float(out) if out.ndim == 0 else out

    def target(self, category: str) -> float:
        """Coverage target of ``category`` in percent of children."""
        return float(self[category].target_pct)


def _merge(base: dict, extra: Mapping) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        key = str(key)
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise DataError("standards file not found", path=path, fix="check the path") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"not a valid TOML file ({exc})", path=path, fix="correct the TOML syntax") from None


def _percent(value: Any, where: str, src: str | None) -> float:
    """A ``target_pct`` as a percentage 0-100; a share (0 < value <= 1, e.g. 0.8 for 80 %) is refused rather
    than read as 0.8 %, which would flag almost no unit as below target."""
    v = float(value)
    if 0 < v <= 1:
        raise DataError(
            f"{where}target_pct = {value!r} is a percentage: {v:g} means {v:g} % of the children, not "
            f"{v * 100:g} %",
            path=src,
            fix=f"write target_pct = {v * 100:g} for {v * 100:g} % (a percentage from 1 to 100)",
        )
    if not 0 <= v <= 100:
        raise DataError(
            f"{where}target_pct must be a percentage from 0 to 100, got {value!r}",
            path=src,
            fix="give a percentage of children, e.g. target_pct = 80",
        )
    return v


def _build(raw: dict, sources: tuple[str, ...]) -> Standards:
    src = sources[-1] if sources else None
    target = _percent(raw.get("target_pct", 80.0), "", src)
    cats: dict[str, Category] = {}
    for name, spec in raw.get("categories", {}).items():
        missing = [k for k in ("zh", "en", "radius_m", "life_circle") if k not in spec]
        if missing:
            raise DataError(
                f"category {name!r} lacks {', '.join(missing)}",
                path=src,
                fix="give zh, en, radius_m and life_circle for every category",
            )
        radius = float(spec["radius_m"])
        if not radius > 0:
            raise DataError(
                f"category {name!r}: radius_m must be > 0, got {spec['radius_m']!r}",
                path=src,
                fix="give a positive walking radius in metres",
            )
        cats[name] = Category(
            name=name,
            zh=str(spec["zh"]),
            en=str(spec["en"]),
            radius_m=radius,
            basis=str(spec.get("basis", "")),
            life_circle=int(spec["life_circle"]),
            labels=tuple(str(x) for x in spec.get("labels", ())),
            target_pct=_percent(spec["target_pct"], f"category {name!r}: ", src)
            if "target_pct" in spec
            else target,
            radius_large_m=float(spec["radius_large_m"]) if "radius_large_m" in spec else None,
            large_area_ha=float(spec["large_area_ha"]) if "large_area_ha" in spec else None,
            min_per_township=int(spec["min_per_township"]) if "min_per_township" in spec else None,
        )
    circles = {}
    for key, spec in raw.get("life_circles", {}).items():
        minutes = int(key)
        circles[minutes] = LifeCircle(
            minutes=minutes,
            zh=str(spec.get("zh", f"{minutes}分钟生活圈")),
            en=str(spec.get("en", f"{minutes}-minute life circle")),
            radius_m=float(spec["radius_m"]),
            basis=str(spec.get("basis", "")),
        )
    for cat in cats.values():
        if circles and cat.life_circle not in circles:
            raise DataError(
                f"category {cat.name!r}: life_circle {cat.life_circle} is not one of {sorted(circles)}",
                path=src,
                fix="use 5, 10 or 15",
            )
    ambiguous = {
        str(k): tuple(str(c) for c in (v if isinstance(v, list) else [v]))
        for k, v in raw.get("ambiguous", {}).items()
    }
    return Standards(
        categories=cats,
        target_pct=target,
        life_circles=dict(sorted(circles.items())),
        sources=sources,
        ambiguous=ambiguous,
    )


def load_standards(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Standards:
    """Load the default standards, merged with a user TOML file and/or an overrides mapping.

    Parameters
    ----------
    path : str or Path, optional
        A user TOML file of the same shape as ``childspace/config/standards.toml``; only the keys it gives
        replace the defaults (nested tables are merged, lists such as ``labels`` are replaced).
    overrides : mapping, optional
        Applied last, same shape (e.g. ``{"categories": {"kindergarten": {"radius_m": 250}}}``).

    Returns
    -------
    Standards
        Radii in metres.
    """
    raw = _read_toml(DEFAULT_PATH)
    defaults = set(raw.get("categories", {}))
    sources = [str(DEFAULT_PATH)]
    if path is not None:
        raw = _merge(raw, _read_toml(Path(path)))
        sources.append(str(path))
    if overrides:
        raw = _merge(raw, overrides)
        sources.append("overrides")
    std = _build(raw, tuple(sources))
    for key, cat in std.categories.items():  # a city's own category: its name for the maps and tables
        if key not in defaults:
            _ADDED[key] = cat
    return std


_DEFAULT: Standards | None = None

#: categories a loaded standards file or config added to the defaults (``[standards.categories.X]``), so that
#: :func:`category_label` names them in maps, tables and the atlas, which are drawn with the default standards
_ADDED: dict[str, Category] = {}


def default_standards() -> Standards:
    """The default standards (cached)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_standards()
    return _DEFAULT


def canonical_category(label: object, standards: Standards | None = None) -> str:
    """Map a category label onto its canonical key.

    Matching ignores case, surrounding/repeated whitespace and full-width vs half-width forms; combined labels
    separated by ``/``, ``、``, ``,`` or ``;`` (``"母婴室/哺乳室"``) work when their parts name one category; a
    Chinese label inside a longer one (``"公办幼儿园"``) is accepted when it points to exactly one category.

    Raises
    ------
    DataError
        For an unknown label (the message lists the known labels) or one naming several categories.
    """
    return (standards or default_standards()).canonical(label)


def category_names(category: str) -> tuple[str, str] | None:
    """(Chinese, English) name of a default category or of one a loaded standards file or config added, else
    None."""
    cat = default_standards().categories.get(category) or _ADDED.get(category)
    return (cat.zh, cat.en) if cat is not None else None


def category_label(category: str, standards: Standards | None = None) -> str:
    """Bilingual label of a category, Chinese first: ``category_label("kindergarten") == "幼儿园 Kindergarten"``.

    Without ``standards``, a category added by a loaded standards file or run config (``[standards.categories.X]``
    with ``zh`` and ``en``) is named by its own labels.
    """
    if standards is None and category in _ADDED and category not in default_standards().categories:
        return _ADDED[category].label
    return (standards or default_standards()).label(category)
