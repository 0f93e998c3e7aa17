"""Which OSM ways a pedestrian may walk: the walkability rules of the walk network (highway classes, foot and
access tags, trunks with or without sidewalks, roads closed to pedestrians, separately mapped sidewalks)."""

from __future__ import annotations

from typing import Any, Literal

__all__ = [
    "CLOSED_CANDIDATES",
    "ROAD_CLASSES",
    "RULE_KEYS",
    "SIDEWALK_COVER_SHARE",
    "SIDEWALK_SEARCH_M",
    "TRUNKS",
    "has_separate_sidewalks",
    "is_closed_road",
    "is_walkable",
]


_WALK_HIGHWAYS = frozenset(
    {
        "footway",
        "pedestrian",
        "path",
        "steps",
        "living_street",
        "residential",
        "service",
        "unclassified",
        "road",
        "track",
        "corridor",
        "tertiary",
        "tertiary_link",
        "secondary",
        "secondary_link",
        "primary",
        "primary_link",
    }
)
TRUNKS = frozenset({"trunk", "trunk_link"})
_FOOT_ONLY_IF_ALLOWED = frozenset({"cycleway", "bridleway"})
_FOOT_ALLOWED = frozenset({"yes", "designated", "permissive"})
_FOOT_FORBIDDEN = frozenset({"no", "private", "use_sidepath"})
_ACCESS_FORBIDDEN = frozenset({"no", "private"})
_INDOOR_NOT_ROUTE = frozenset({"room", "area", "wall", "door", "level", "column"})
_SIDEWALK_PRESENT = frozenset({"both", "left", "right", "yes", "separate"})
#: Road classes that can carry a ``sidewalk=separate`` tag (footways and paths themselves cannot).
ROAD_CLASSES = _WALK_HIGHWAYS - {"footway", "pedestrian", "path", "steps", "corridor", "track"} | TRUNKS

#: Half-width (m) of the band on each side of a road searched for separately mapped sidewalks.
SIDEWALK_SEARCH_M = 25.0
#: Share of the road length that separate sidewalks must cover on each side for the road to be dropped.
SIDEWALK_COVER_SHARE = 0.5

RULE_KEYS = (
    "highway",
    "foot",
    "access",
    "footway",
    "cycleway",
    "sidewalk",
    "sidewalk:both",
    "sidewalk:left",
    "sidewalk:right",
    "motorroad",
    "area",
    "indoor",
    "service",
)


def is_walkable(tags: dict[str, str], trunk: Literal["keep", "sidewalk"] = "keep") -> bool:
    """Whether a way with these OSM tags is walkable (rules in the module docstring).

    Parameters
    ----------
    tags : dict
        The way's OSM tags (raw strings).
    trunk : {"keep", "sidewalk"}
        Keep trunk roads unless closed to walkers ("keep"), or only with a sidewalk tagged ("sidewalk").

    Returns
    -------
    bool
    """
    hw = tags.get("highway")
    if hw is None:
        return False
    foot = tags.get("foot")
    foot_ok = foot in _FOOT_ALLOWED
    if foot in _FOOT_FORBIDDEN:
        return False
    if tags.get("access") in _ACCESS_FORBIDDEN and not foot_ok:
        return False
    if tags.get("motorroad") == "yes" and not foot_ok:
        return False
    if tags.get("indoor") in _INDOOR_NOT_ROUTE:
        return False
    if hw in _WALK_HIGHWAYS:
        return True
    if hw in TRUNKS:
        if tags.get("sidewalk") in ("no", "none"):
            return foot_ok
        if trunk == "keep" or foot_ok:
            return True
        return tags.get("sidewalk") in _SIDEWALK_PRESENT or any(
            tags.get(k) in ("yes", "separate") for k in ("sidewalk:both", "sidewalk:left", "sidewalk:right")
        )
    if hw in _FOOT_ONLY_IF_ALLOWED:
        if foot_ok:
            return True
        # a crossing drawn as a cycleway that pedestrians use as well (footway=crossing on the same way)
        return hw == "cycleway" and tags.get("footway") == "crossing"
    return False


#: Motor-road classes whose ways closed to walkers are still read: their at-grade crossings are rated
CLOSED_CANDIDATES = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "road",
    }
)


def is_closed_road(tags: dict[str, str], trunk: Literal["keep", "sidewalk"] = "keep") -> bool:
    """A motor road that walkers may not use because of its traffic (``foot=no``/``use_sidepath``,
    ``motorroad=yes``, a trunk with ``sidewalk=no``, a motorway): not walked, but kept for crossing checks (a
    footway meeting it at grade crosses that traffic). Private roads (``access``/``foot`` = private, no) are not
    closed roads in this sense: they are left out as before."""
    hw = tags.get("highway")
    if hw not in CLOSED_CANDIDATES or tags.get("area") == "yes" or is_walkable(tags, trunk):
        return False
    return (
        tags.get("foot") in ("no", "use_sidepath")
        or tags.get("motorroad") == "yes"
        or hw in ("motorway", "motorway_link")
        or (hw in TRUNKS and tags.get("sidewalk") in ("no", "none"))
    )


def has_separate_sidewalks(tags: dict[str, Any]) -> bool:
    if tags.get("highway") not in ROAD_CLASSES:
        return False
    if tags.get("sidewalk") == "separate" or tags.get("sidewalk:both") == "separate":
        return True
    return tags.get("sidewalk:left") == "separate" and tags.get("sidewalk:right") == "separate"
