"""Pedestrian level of traffic stress (PLTS-like levels 1-4) for walk-network edges and crossings.

Levels: 1 comfortable for a child walking alone, 2 acceptable with care (older children), 3 stressful (accompany
the child), 4 unsafe. The rules are a table in ``childspace/config/safety.toml``, each with its source (ODOT
Analysis Procedures Manual ch. 14 pedestrian LTS; Zegeer et al. 2005, FHWA-HRT-04-100 table 11 and the FHWA STEP
guide for uncontrolled crossings; NACTO/GDCI *Designing Streets for Kids*; GA/T 1215-2014 for school zones).
Missing tags take the defaults of a *profile* (``config/safety_profile_<name>.toml``): "china" (道路交通安全法
实施条例 art. 45 speeds by centre line and urban/rural context, CJJ 37-2012 design speeds, 2 lanes unless tagged,
sidewalks by context), chosen automatically for data in China, and "generic" elsewhere (OSM per-country default
speed limits). Each profile has an optimistic and a pessimistic variant: routes are re-evaluated under both to
give their verdict range (:mod:`childspace.analysis.routes`).

Walking along an edge (:func:`edge_stress`)
    class level (highway class x sidewalk state), then ordered rules on speed (km/h), lanes, lighting and
    surface; assumed values are named in the reason. Outside China the defaults of missing tags follow the
    road's context, a built-up area read from the tags (speed limits along the street, lighting, sidewalks,
    residential streets around) before the walk network's density. Sidewalk ways and paths parallel to a road
    within ~15 m take that road's context (the road with the longest overlap along the way; flagged
    ``inferred_sidewalk``).
Crossings (:func:`crossing_incidence`)
    rated per (node, road edge) pair from the crossed road's speed, lanes and class and the control at the node
    (signals, marked, unmarked; refuge island), where the road is crossed: a node with a crossing mapped, or one
    where a way that is not of that road meets it (not where two ways of one road join). A route passing a node,
    entering by edge a and leaving by edge b, goes round the node on one side: it crosses the edges lying
    angularly between a and b on that side, and takes the side whose worst crossing is lower
    (:meth:`Stress.crossing_level`); at nodes with more than 8 edges every road other than a and b is taken as
    crossed (conservative). Roads not walked (closed to pedestrians) that a walk way meets at grade are crossings
    too, at level 4. Crossing ways that meet no road are rated as a crossing of the road they cross geometrically.
School zones
    :func:`school_zones` checks GA/T 1215-2014 (:mod:`childspace.analysis.school_zones`).
Routing cost
    ``length * length_factor[level]`` per edge plus, for each endpoint node, half of that node's crossing penalty
    for the worst road at the node that is not the edge's own road. This is an approximation used for the search
    only: routes are then evaluated exactly on their edge and node sequence (:mod:`childspace.analysis.routes`).
Verdicts (:func:`verdict`, :func:`safe_max_levels`)
    "safe" only up to the school category's safe maximum (kindergarten and primary: 1; middle school: 2), set in
    one place (``[verdict.safe_max_level]``, overridden by a ``safe_max_level`` argument).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from childspace._errors import DataError
from childspace.analysis._safety_config import (
    DEFAULT_PATH,
    PROFILES,
    VARIANTS,
    ConfigLike,
    load_config,
    load_profile,
    parse_lanes,
    parse_maxspeed,
    profile_name,
    resolve_profile,
    resolved_config,
)
from childspace.analysis._safety_crossings import CONTROL_NAMES, crossing_incidence
from childspace.analysis._safety_edges import edge_stress, edge_stress_rows
from childspace.analysis._safety_network import (
    MAX_ANGULAR_DEGREE,
    RoutingCost,
    Stress,
    network_stress,
    network_stress_variants,
    node_crossing_stress,
    routing_cost,
)
from childspace.analysis.school_zones import school_zones

__all__ = [
    "CONTROL_NAMES",
    "DEFAULT_PATH",
    "MAX_ANGULAR_DEGREE",
    "PROFILES",
    "VARIANTS",
    "RoutingCost",
    "Stress",
    "crossing_incidence",
    "edge_stress",
    "level_label",
    "load_config",
    "load_profile",
    "network_stress",
    "network_stress_variants",
    "node_crossing_stress",
    "parse_lanes",
    "parse_maxspeed",
    "profile_name",
    "resolve_profile",
    "routing_cost",
    "safe_max_levels",
    "school_zones",
    "verdict",
    "resolved_config",
    "edge_stress_rows",
]

#: the former private names, still imported by analysis.routes, analysis.route_tables and tests/test_safety.py;
#: use ``resolved_config`` and ``edge_stress_rows``
_cfg = resolved_config
_edge_stress_rows = edge_stress_rows

SafeMaxLevel = int | Mapping[str, int] | None


def safe_max_levels(safe_max_level: SafeMaxLevel = None, config: ConfigLike = None) -> dict[str, int]:
    """The highest level a child may walk alone, per school category (``"default"`` for other categories).

    Parameters
    ----------
    safe_max_level : int, mapping or None
        One level for every category, or category -> level (missing categories keep the config's values);
        None: ``[verdict.safe_max_level]`` of the config (kindergarten 1, primary school 1, middle school 2).
    config : path, mapping or None

    Returns
    -------
    dict
        category -> level (1-4), with a ``"default"`` entry.
    """
    base = {str(k): int(v) for k, v in resolved_config(config)["verdict"]["safe_max_level"].items()}
    base.setdefault("default", 1)
    if safe_max_level is None:
        out = base
    elif isinstance(safe_max_level, Mapping):
        out = {**base, **{str(k): int(v) for k, v in safe_max_level.items()}}
    else:
        out = {k: int(safe_max_level) for k in base}
    bad = {k: v for k, v in out.items() if not 1 <= v <= 4}
    if bad:
        raise DataError(
            f"safe_max_level must be a level 1-4, got {bad}",
            feature="safe_max_level",
            fix="give 1 (safe alone only at level 1) to 4, e.g. [analysis] safe_max_level = 1",
        )
    return out


def verdict(
    level: np.ndarray | pd.Series,
    config: ConfigLike = None,
    safe_max_level: SafeMaxLevel = None,
    category: str | ArrayLike | None = None,
) -> np.ndarray:
    """Verdict per route from its worst level: ``safe`` (a child may walk it alone: worst level at most the
    category's safe maximum, :func:`safe_max_levels`), ``caution`` (up to ``[verdict].caution_max``: with care /
    older children, or accompany), ``unsafe`` (above); ``unreachable`` where level is 0 or missing.

    Parameters
    ----------
    level : array-like
        Worst level per route.
    config : path, mapping or None
    safe_max_level : int, mapping or None
        See :func:`safe_max_levels`.
    category : str or array-like, optional
        School category per route (or one for all); None: the ``"default"`` maximum.
    """
    cfg = resolved_config(config)
    lv = np.asarray(pd.to_numeric(pd.Series(level), errors="coerce").fillna(0), dtype=float)
    smax = safe_max_levels(safe_max_level, cfg)
    if category is None:
        limit = np.full(lv.size, smax["default"], dtype=float)
    else:
        cat = pd.Series(np.broadcast_to(np.asarray(category, dtype=object), lv.shape))
        limit = cat.map(smax).fillna(smax["default"]).to_numpy(dtype=float)
    caution = float(cfg["verdict"].get("caution_max", 3))
    return np.select(
        [lv <= 0, lv <= limit, lv <= np.maximum(caution, limit)], ["unreachable", "safe", "caution"], "unsafe"
    ).astype(object)


def level_label(level: int) -> str:
    """Bilingual label of a stress level (``"4 不安全 Unsafe for a child"``)."""
    return str(load_config()["levels"]["labels"][str(int(level))])
