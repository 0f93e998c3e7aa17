"""Countermeasures for the hazards on routes to school (隐患整改措施), from the rules table
``childspace/config/countermeasures.toml`` (each rule with its basis: GA/T 1215-2014, GB 5768, GB 14886-2016,
GB 50647-2011 / CJJ 37-2012, FHWA STEP, …).

:func:`suggest` takes one row of facts per hazard (type, control, lanes, speed, sidewalk, school zone, level; see
the table's header) and returns the suggested measures (中文 first, then English), their basis and the ids of the
rules that matched. :func:`childspace.analysis.hazards.hazards` adds them to every hazard as the columns
``countermeasures``, ``countermeasure_basis`` and ``countermeasure_rules``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from childspace._errors import DataError

__all__ = ["DEFAULT_PATH", "FACTS", "load_rules", "suggest"]

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "config" / "countermeasures.toml"

#: fact columns and the conditions that test them (see the header of countermeasures.toml)
FACTS = (
    "type",
    "level",
    "control",
    "island",
    "long_no_refuge",
    "lanes",
    "maxspeed_kmh",
    "sidewalk",
    "road",
    "road_class",
    "school_zone",
)
_CONDITIONS = {
    "type": "type",
    "control": "control",
    "control_not": "control",
    "island": "island",
    "long_no_refuge": "long_no_refuge",
    "min_lanes": "lanes",
    "max_lanes": "lanes",
    "min_speed_kmh": "maxspeed_kmh",
    "max_speed_kmh": "maxspeed_kmh",
    "above_speed_kmh": "maxspeed_kmh",
    "sidewalk": "sidewalk",
    "road": "road",
    "road_class": "road_class",
    "school_zone": "school_zone",
    "min_level": "level",
}


def load_rules(path: str | Path | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The rules table (``countermeasures.toml`` by default, or another file / mapping of the same shape), checked.

    Raises
    ------
    DataError
        Naming the file and the rule: unknown measure or condition, missing id or basis.
    """
    if isinstance(path, Mapping):
        cfg, src = dict(path), "countermeasure rules"
    else:
        p = Path(path) if path is not None else DEFAULT_PATH
        try:
            with open(p, "rb") as fh:
                cfg = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise DataError(
                f"cannot read the countermeasure rules ({exc})",
                path=p,
                fix=f"compare with {DEFAULT_PATH}",
            ) from None
        src = str(p)
    measures = cfg.get("measures") or {}
    rules = cfg.get("rules") or []
    for key, m in measures.items():
        if not isinstance(m, Mapping) or not m.get("zh") or not m.get("en"):
            raise DataError(
                f"measure {key!r} needs zh and en labels",
                feature=src,
                fix='give [measures.NAME] zh = "…" and en = "…"',
            )
    seen: set[str] = set()
    for i, r in enumerate(rules):
        rid = r.get("id")
        where = f"{src}, rule {rid or i + 1}"
        if not rid or rid in seen:
            raise DataError("every rule needs a unique id", feature=where, fix='give id = "short_name"')
        seen.add(rid)
        if r.get("measure") not in measures:
            raise DataError(
                f"unknown measure {r.get('measure')!r}",
                feature=where,
                fix=f"use one of {', '.join(measures)} or add it under [measures]",
            )
        if not r.get("basis"):
            raise DataError("the rule has no basis", feature=where, fix='cite its source in basis = "…"')
        bad = sorted(set(r.get("when", {})) - set(_CONDITIONS))
        if bad:
            raise DataError(
                f"unknown condition(s) {bad}",
                feature=where,
                fix=f"use {', '.join(_CONDITIONS)}",
            )
    return {"measures": dict(measures), "rules": list(rules)}


def _mask(facts: pd.DataFrame, when: Mapping[str, Any]) -> np.ndarray:
    """Rows of ``facts`` meeting every condition of ``when`` (a missing fact never meets a condition)."""
    m = np.ones(len(facts), dtype=bool)
    for cond, val in when.items():
        s = facts[_CONDITIONS[cond]]
        if cond in ("control", "sidewalk", "road_class"):
            m &= s.isin(list(val)).to_numpy()
        elif cond == "control_not":
            m &= (s.notna() & ~s.isin(list(val))).to_numpy()
        elif cond in ("type",):
            m &= (s == val).to_numpy()
        elif cond in ("island", "long_no_refuge", "road", "school_zone"):
            b = s.astype("boolean")
            m &= (b == bool(val)).fillna(False).to_numpy(dtype=bool)
        else:
            x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                if cond.startswith("min_"):
                    m &= x >= float(val)
                elif cond.startswith("max_"):
                    m &= x <= float(val)
                else:  # above_
                    m &= x > float(val)
    return m


def suggest(facts: pd.DataFrame, rules: str | Path | Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Countermeasures per hazard.

    Parameters
    ----------
    facts : DataFrame
        One row per hazard with the columns of :data:`FACTS` (missing columns count as unknown).
    rules : path, mapping or None
        The rules table (default ``childspace/config/countermeasures.toml``).

    Returns
    -------
    DataFrame (index of ``facts``)
        ``countermeasures`` ("信号灯；安全岛 — pedestrian signal; refuge island": the measures in the table's
        order, Chinese first, then English), ``countermeasure_basis`` ("[rule_id] basis；…" for every rule that
        matched) and ``countermeasure_rules`` ("; "-joined rule ids).
    """
    tab = load_rules(rules)
    measures = list(tab["measures"])
    f = facts.copy()
    for c in FACTS:
        if c not in f.columns:
            f[c] = None
    rl = tab["rules"]
    normal = [r for r in rl if not r.get("fallback")]
    hit = np.zeros((len(f), len(rl)), dtype=bool)
    for j, r in enumerate(rl):
        if not r.get("fallback"):
            hit[:, j] = _mask(f, r.get("when", {}))
    none = (
        ~hit[:, [j for j, r in enumerate(rl) if not r.get("fallback")]].any(axis=1)
        if normal
        else np.ones(len(f), dtype=bool)
    )
    for j, r in enumerate(rl):
        if r.get("fallback"):
            hit[:, j] = none & _mask(f, r.get("when", {}))
    # one text per distinct pattern of matched rules (few), not per hazard
    pattern, inv = np.unique(hit, axis=0, return_inverse=True)
    texts, bases, ids = [], [], []
    for row in pattern:
        matched = [rl[j] for j in np.flatnonzero(row)]
        ms = sorted({r["measure"] for r in matched}, key=measures.index)
        zh = "；".join(tab["measures"][k]["zh"] for k in ms)
        en = "; ".join(tab["measures"][k]["en"] for k in ms)
        texts.append(f"{zh} — {en}" if ms else "")
        bases.append("；".join(f"[{r['id']}] {r['basis']}" for r in matched))
        ids.append("; ".join(r["id"] for r in matched))
    inv = np.asarray(inv).reshape(-1)
    return pd.DataFrame(
        {
            "countermeasures": np.asarray(texts, dtype=object)[inv] if len(f) else [],
            "countermeasure_basis": np.asarray(bases, dtype=object)[inv] if len(f) else [],
            "countermeasure_rules": np.asarray(ids, dtype=object)[inv] if len(f) else [],
        },
        index=facts.index,
    )
