"""The safety rule table, the default profiles and tag parsing (internal to :mod:`childspace.analysis.safety`).

The rules and their sources are in ``config/safety.toml``; the defaults for missing tags (speed, lanes, sidewalks
per road class and context) are profiles, ``config/safety_profile_<name>.toml`` ("china", "generic"), each with an
optimistic and a pessimistic variant. A resolved config is a plain dict: the rules, with the profile applied
(``cfg["profile"]``).
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import shapely

from childspace._errors import DataError
from childspace.network import WalkNetwork

__all__ = [
    "CONFIG_DIR",
    "CONTROL_CODES",
    "CONTROL_NAMES",
    "CONTROL_TAG_COLUMNS",
    "ConfigLike",
    "DEFAULT_PATH",
    "EDGE_TAG_COLUMNS",
    "NetworkTables",
    "PROFILES",
    "ProfileLike",
    "VARIANTS",
    "class_defaults",
    "control_codes",
    "distinct_rows",
    "in_china",
    "isin_once",
    "load_config",
    "load_profile",
    "node_positions",
    "parse_lanes",
    "parse_maxspeed",
    "profile_name",
    "resolve_profile",
    "resolved_config",
    "road_keys",
    "sidewalk_state",
    "split_label",
    "tag_values",
]

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
DEFAULT_PATH = CONFIG_DIR / "safety.toml"
#: Profiles shipped with the package (``config/safety_profile_<name>.toml``).
PROFILES = ("china", "generic")
#: Variants of a profile: the typical defaults and the two ends of the verdict range.
VARIANTS = ("typical", "optimistic", "pessimistic")

#: a safety profile: a name ("china", "generic", "generic:AT", "auto"), a TOML file or its parsed tables
ProfileLike: TypeAlias = str | Path | Mapping[str, Any] | None
#: the safety rules: a TOML file in the layout of ``config/safety.toml``, its parsed tables (or a resolved config),
#: or None for the bundled rules
ConfigLike: TypeAlias = str | Path | Mapping[str, Any] | None
#: a walk network, or its (nodes, edges) tables as read by ``childspace.osm.reader.read_osm``
NetworkTables: TypeAlias = WalkNetwork | tuple[pd.DataFrame, pd.DataFrame]

#: Coarse outline of mainland China with Hainan (lon, lat degrees), for choosing the profile automatically: it
#: leaves out Mongolia, the Korean peninsula, Japan and Taiwan. Hong Kong and Macao fall inside (their own traffic
#: law differs: name the profile there).
_CHINA = shapely.Polygon(
    [
        (73.5, 39.5),
        (74.5, 38.6),
        (75.0, 37.0),
        (78.0, 35.5),
        (79.5, 34.5),
        (78.5, 32.6),
        (79.0, 31.0),
        (81.0, 30.2),
        (84.0, 28.6),
        (86.0, 27.9),
        (89.0, 27.3),
        (92.0, 27.8),
        (96.0, 29.2),
        (97.5, 28.3),
        (98.6, 27.5),
        (97.5, 24.0),
        (99.0, 22.0),
        (100.0, 21.5),
        (101.7, 21.1),
        (103.5, 22.6),
        (105.5, 23.2),
        (106.5, 22.5),
        (108.0, 21.5),
        (108.0, 17.8),
        (111.5, 17.8),
        (111.3, 20.6),
        (114.0, 21.6),
        (117.5, 23.0),
        (119.3, 25.0),
        (120.3, 26.5),
        (122.5, 30.0),
        (122.5, 32.0),
        (120.8, 34.5),
        (122.8, 37.5),
        (121.5, 39.0),
        (124.3, 39.9),
        (126.5, 41.6),
        (128.0, 41.9),
        (130.4, 42.3),
        (131.0, 42.9),
        (133.1, 45.1),
        (134.7, 48.4),
        (131.0, 47.7),
        (130.5, 48.9),
        (127.5, 49.8),
        (126.0, 52.8),
        (123.5, 53.5),
        (121.0, 53.3),
        (119.2, 50.3),
        (117.8, 49.5),
        (115.6, 47.9),
        (119.0, 47.7),
        (119.9, 46.7),
        (117.4, 46.6),
        (116.0, 44.9),
        (113.6, 44.7),
        (111.9, 43.7),
        (110.4, 42.8),
        (107.0, 42.4),
        (105.0, 41.6),
        (101.8, 42.5),
        (100.0, 42.6),
        (96.4, 42.7),
        (95.3, 44.0),
        (90.9, 45.2),
        (90.0, 47.9),
        (87.8, 49.2),
        (85.5, 47.0),
        (82.5, 45.3),
        (79.8, 45.0),
        (73.5, 39.5),
    ]
)


# ----------------------------------------------------------------------------------------------------------------
# Config and profiles
# ----------------------------------------------------------------------------------------------------------------
def _merge(base: dict, extra: Mapping) -> dict:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read_toml(path: Path, what: str) -> dict:
    if not path.exists():
        raise DataError(
            f"{what} file not found", path=path, fix=f"give the path of a TOML file like {DEFAULT_PATH}"
        )
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"not valid TOML ({exc})", path=path, fix="correct the TOML syntax") from exc


def _base_config(config: ConfigLike) -> dict:
    with open(DEFAULT_PATH, "rb") as fh:
        base = tomllib.load(fh)
    if config is None:
        return base
    if isinstance(config, Mapping):
        if config.get("_resolved"):
            return copy.deepcopy(dict(config["_base"]))
        return _merge(base, config)
    return _merge(base, _read_toml(Path(config), "safety config"))


def load_profile(profile: str | Path | Mapping[str, Any]) -> dict:
    """A defaults profile as a dict.

    Parameters
    ----------
    profile : str, path or mapping
        ``"china"``, ``"generic"`` or ``"generic:XX"`` (ISO country code for the legal default speeds), a TOML
        file shaped like ``config/safety_profile_china.toml``, or a mapping: a whole profile, or
        ``{"base": "china", ...}`` whose other keys are merged over the named profile (e.g. to edit one class's
        default speed).

    Returns
    -------
    dict
        With ``name``, ``label``, ``context``, ``defaults`` (``urban``/``rural`` -> class -> maxspeed, lanes,
        sidewalk), ``variants``, optional ``countries``, ``country`` and ``edge_rules``.
    """
    if isinstance(profile, Mapping):
        if "base" in profile:
            base = load_profile(str(profile["base"]))
            out = _merge(base, {k: v for k, v in profile.items() if k != "base"})
            out["name"] = str(profile.get("name", f"{base['name']}+edited"))
            return out
        out = copy.deepcopy(dict(profile))
        out.setdefault("name", "custom")
        return out
    text = str(profile)
    name, _, country = text.partition(":")
    if name.lower() in PROFILES and not Path(text).suffix:
        out = _read_toml(CONFIG_DIR / f"safety_profile_{name.lower()}.toml", "safety profile")
        if country:
            known = set(out.get("countries", {}))
            if country.upper() not in known:
                raise DataError(
                    f"no default speed limits known for country {country!r} in profile {name!r}",
                    feature="profile",
                    fix=f"use one of {sorted(known - {'default'})} or "
                    f"'{name}' (default values), or give a profile file",
                )
            out["country"] = country.upper()
        return out
    path = Path(text)
    if path.suffix.lower() != ".toml" and not path.exists():
        raise DataError(
            f"unknown safety profile {text!r}",
            feature="profile",
            fix=f"use one of {list(PROFILES)}, 'generic:XX' (country code), 'auto', or a TOML file",
        )
    out = _read_toml(path, "safety profile")
    out.setdefault("name", path.stem)
    return out


def _apply_profile(base: dict, prof: dict, variant: str) -> dict:
    if variant not in VARIANTS:
        raise DataError(
            f"unknown profile variant {variant!r}", feature="variant", fix=f"use one of {VARIANTS}"
        )
    cfg = copy.deepcopy(base)
    prof = copy.deepcopy(prof)
    var = prof.get("variants", {}).get(variant, {}) if variant != "typical" else {}
    defaults = prof.get("defaults", {})
    if var.get("classes"):
        for ctx in defaults:
            for cls, vals in var["classes"].items():
                defaults[ctx][cls] = {**defaults[ctx].get(cls, {}), **vals}
    prof["defaults"] = defaults
    prof["variant"] = variant
    prof["forced_context"] = var.get("context")
    cfg["crossing"]["control"]["unknown"] = var.get(
        "crossing_unknown", prof.get("crossing_unknown", "unmarked")
    )
    if "unknown_road_level" in var:
        cfg["crossing_way"]["unknown_road_level"] = int(var["unknown_road_level"])
    cfg["edge_rules"] = list(cfg.get("edge_rules", [])) + list(prof.get("edge_rules", []))
    cfg["profile"] = prof
    return cfg


def load_config(
    config: ConfigLike = None,
    profile: ProfileLike = None,
    variant: str = "typical",
) -> dict:
    """The safety rule table with a defaults profile applied.

    Parameters
    ----------
    config : path, mapping or None
        None: ``childspace/config/safety.toml``. A TOML path or a mapping of the same shape: merged over the
        defaults (tables merged key by key; lists such as ``edge_rules`` replaced whole).
    profile : str, path, mapping or None
        The defaults profile (:func:`load_profile`); None or ``"auto"``: the config's ``[profile].default``; an
        ``"auto"`` there is read as ``"generic"`` here (the data decide it in :func:`network_stress`).
    variant : {"typical", "optimistic", "pessimistic"}

    Returns
    -------
    dict
    """
    base = _base_config(config)
    if profile is None and isinstance(config, Mapping) and config.get("_resolved"):
        profile = config["profile"].get("_spec", config["profile"]["name"])
    spec = profile if profile is not None else base.get("profile", {}).get("default", "auto")
    auto = isinstance(spec, str) and spec.lower() == "auto"
    prof = load_profile("generic" if auto else spec)
    # "auto" without data reads as generic; network_stress decides it from the data
    prof["_spec"] = "auto" if auto else (copy.deepcopy(dict(spec)) if isinstance(spec, Mapping) else spec)
    cfg = _apply_profile(base, prof, variant)
    cfg["_base"] = base
    return cfg


def resolved_config(config: ConfigLike, profile: ProfileLike = None, variant: str | None = None) -> dict:
    """A resolved config (computed once; a resolved config is returned as is unless a profile/variant is asked)."""
    if isinstance(config, Mapping) and config.get("_resolved") and profile is None and variant is None:
        return config  # type: ignore[return-value]
    if variant is None:
        variant = (
            config["profile"]["variant"]
            if isinstance(config, Mapping) and config.get("_resolved")
            else "typical"
        )
    cfg = load_config(config, profile, variant)
    cfg["_resolved"] = True
    return cfg


def _lonlat_of(data: NetworkTables | pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Sample lon/lat (degrees) of nodes/edges tables or a network, or None when they carry no location."""
    import geopandas as gpd
    from pyproj import CRS

    frames = []
    if isinstance(data, tuple):
        frames = list(data)
    elif hasattr(data, "nodes") and hasattr(data, "edges"):
        frames = [data.nodes, data.edges]
    else:
        frames = [data]
    for df in frames:
        if isinstance(df, gpd.GeoDataFrame) and df.crs is not None and len(df):
            g = df.geometry
            sample = g.iloc[:: max(1, len(g) // 200)]
            if not CRS.from_user_input(df.crs).is_geographic:
                sample = sample.to_crs(4326)
            c = shapely.get_coordinates(shapely.centroid(np.asarray(sample.array, dtype=object)))
            return c[:, 0], c[:, 1]
        if isinstance(df, pd.DataFrame) and {"x", "y"} <= set(df.columns) and len(df):
            x = pd.to_numeric(df["x"], errors="coerce").to_numpy(dtype=float)
            y = pd.to_numeric(df["y"], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)
            if ok.any():
                return x[ok], y[ok]
    return None


def in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Whether points (degrees) lie in mainland China or Hainan (a coarse outline; see ``_CHINA``)."""
    return shapely.contains_xy(_CHINA, np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))


def _country_from_tags(edges: Any) -> str | None:
    """The most frequent country prefix of maxspeed zone values ("AT:urban" -> "AT") in the data, if any."""
    if not isinstance(edges, pd.DataFrame) or "maxspeed" not in edges.columns:
        return None
    vals = pd.Series(edges["maxspeed"].dropna().astype(str).unique())
    cc = vals.str.extract(r"^([A-Za-z]{2}):")[0].dropna().str.upper()
    return str(cc.value_counts().index[0]) if len(cc) else None


def resolve_profile(
    profile: ProfileLike, data: NetworkTables | pd.DataFrame | None = None, config: ConfigLike = None
) -> str | Path | Mapping[str, Any]:
    """The profile to use for ``data``: ``profile`` itself, or for ``None``/``"auto"`` (and a config whose
    ``[profile].default`` is "auto") "china" when most of the data lies in China, else "generic" (with the
    country read from the data's maxspeed zone tags when it has known defaults)."""
    if profile is None:
        base = (
            _base_config(config)
            if not (isinstance(config, Mapping) and config.get("_resolved"))
            else config["_base"]
        )
        profile = base.get("profile", {}).get("default", "auto")
    if not (isinstance(profile, str) and profile.lower() == "auto"):
        return profile
    ll = _lonlat_of(data) if data is not None else None
    if ll is not None and len(ll[0]) and in_china(*ll).mean() > 0.5:
        return "china"
    edges = data[1] if isinstance(data, tuple) else getattr(data, "edges", data)
    cc = _country_from_tags(edges)
    if cc and cc != "CN" and cc in load_profile("generic").get("countries", {}):
        return f"generic:{cc}"
    return "generic"


def profile_name(cfg: Mapping[str, Any]) -> str:
    """Name of the profile of a resolved config, with its country and variant (e.g. ``"generic:AT"``,
    ``"china (pessimistic)"``)."""
    p = cfg["profile"]
    name = str(p.get("name", "custom")) + (f":{p['country']}" if p.get("country") else "")
    return name if p.get("variant", "typical") == "typical" else f"{name} ({p['variant']})"


def class_defaults(cfg: Mapping[str, Any], cls: str, context: str) -> dict:
    """Default maxspeed (km/h), lanes and sidewalk state of a road class in a context (``urban``/``rural``)."""
    p = cfg["profile"]
    ctx = p.get("forced_context") or context
    d = dict(p.get("defaults", {}).get(ctx, {}).get(cls, {}))
    sp = d.get("maxspeed")
    if isinstance(sp, str):
        countries = p.get("countries", {})
        table = countries.get(
            p.get("country") or "default", countries.get("default", {"urban": 50, "rural": 80})
        )
        d["maxspeed"] = float(table[sp])
    return d


def split_label(label: str) -> tuple[str, str]:
    zh, _, en = str(label).partition(" ")
    return zh, en


# ----------------------------------------------------------------------------------------------------------------
# Tag parsing (vectorised)
# ----------------------------------------------------------------------------------------------------------------
def tag_values(df: pd.DataFrame, *names: str) -> pd.Series:
    """A tag column as lower-case stripped strings (<NA> when missing); the first existing alias wins."""
    for name in names:
        if name in df.columns:
            return _norm(df[name])
    return pd.Series(pd.NA, index=df.index, dtype="string")


def _norm(col: pd.Series) -> pd.Series:
    """Stripped lower-case strings, computed once per distinct value."""
    codes, uniq = pd.factorize(col, use_na_sentinel=True)
    u = pd.Series(np.asarray(uniq, dtype=object), dtype="string").str.strip().str.lower()
    u = u.mask(u == "")
    vals = np.append(u.to_numpy(dtype=object, na_value=None), None)[codes]  # type: ignore[call-overload]
    return pd.Series(vals, index=col.index, dtype="string")


def isin_once(s: pd.Series, values: Iterable[str]) -> pd.Series:
    """``s.isin(values)`` evaluated once per distinct value (False for missing)."""
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    hit = np.append(np.isin(np.asarray(uniq, dtype=object), list(values)), False)
    return pd.Series(hit[codes], index=s.index)


def road_keys(edges: pd.DataFrame) -> np.ndarray:
    """Integer road identity per edge: the street name when present, else the way id."""
    m = len(edges)
    if "name" in edges.columns:
        rcodes, runiq = pd.factorize(edges["name"], use_na_sentinel=True)
        nuniq = _norm(pd.Series(np.asarray(runiq, dtype=object)))
        ucodes, nu = pd.factorize(nuniq, use_na_sentinel=True)
        ncodes = np.append(ucodes, -1)[rcodes]
        n_names = len(nu)
    else:
        ncodes, n_names = np.full(m, -1), 0
    if "osmid" in edges.columns:
        try:
            wcodes, _ = pd.factorize(edges["osmid"])
        except TypeError:  # list-valued way ids (merged ways)
            wcodes, _ = pd.factorize(pd.Series(edges["osmid"].to_numpy(dtype=object)).astype(str))
    else:
        wcodes = np.arange(m)
    return np.where(ncodes >= 0, ncodes, n_names + wcodes).astype(np.int64)


_NUM_UNIT = re.compile(r"^\s*(?P<num>\d+(?:[.,]\d+)?)\s*(?P<unit>km/h|kmh|kph|km|mph|knots)?\s*$")
_ZONE = re.compile(r"^(?P<cc>[a-z]{2}(?:-[a-z0-9]+)?):(?P<zone>.+)$")


def parse_maxspeed(values: pd.Series | list, config: Mapping[str, Any] | None = None) -> pd.Series:
    """Parse OSM ``maxspeed`` values to km/h.

    Understands ``"50"``, ``"50 km/h"``, ``"30 mph"`` (x 1.609344), zone values (``"CN:urban"``, ``"DE:zone30"``,
    ``"walk"``, ``"none"``; table in the config) and several values (``"50;30"``: the highest, conservative).

    Parameters
    ----------
    values : Series or list of str
        Raw tag values (None/NaN when missing).
    config : mapping, optional
        Safety config (``[maxspeed]`` table).

    Returns
    -------
    Series of float
        km/h; NaN where missing or not understood.
    """
    cfg = _base_config(None)["maxspeed"] if not (config and "maxspeed" in config) else config["maxspeed"]
    full = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    codes, uniq = pd.factorize(pd.Series(full.to_numpy(dtype=object)), use_na_sentinel=True)
    s = pd.Series(np.asarray(uniq, dtype=object), dtype="string").str.strip().str.lower()
    parts = s.str.split(";").explode()
    parts = parts.str.strip()
    m = parts.str.extract(_NUM_UNIT)
    num = pd.to_numeric(m["num"].str.replace(",", ".", regex=False), errors="coerce")
    unit = m["unit"].fillna("km/h")
    factor = np.where(unit == "mph", 1.609344, np.where(unit == "knots", 1.852, 1.0))
    speed = num * factor
    zones = {str(k).lower(): float(v) for k, v in cfg.get("zones", {}).items()}
    generic = {str(k).lower(): float(v) for k, v in cfg.get("generic", {}).items()}
    z = parts.map(zones).astype(float)
    speed = speed.fillna(z)
    zm = parts.str.extract(_ZONE)
    gen = zm["zone"].map(generic).astype(float)
    zone_num = pd.to_numeric(zm["zone"].str.extract(r"^zone:?(\d+)$")[0], errors="coerce")
    speed = speed.fillna(gen).fillna(zone_num)
    bare = parts.map(generic).astype(float)
    speed = speed.fillna(bare)
    out = speed.groupby(level=0, sort=False).max().reindex(s.index).to_numpy(dtype=float)
    return pd.Series(np.append(out, np.nan)[codes], index=full.index, dtype=float)


def parse_lanes(values: pd.Series | list) -> pd.Series:
    """Parse OSM ``lanes`` values (``"4"``, ``"2;3"`` -> the highest, ``"1.5"``) to float; NaN when missing."""
    full = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    codes, uniq = pd.factorize(pd.Series(full.to_numpy(dtype=object)), use_na_sentinel=True)
    s = pd.Series(np.asarray(uniq, dtype=object), dtype="string").str.strip()
    parts = s.str.split(r"[;|]", regex=True).explode().str.strip()
    num = pd.to_numeric(parts.str.extract(r"^(\d+(?:\.\d+)?)$")[0], errors="coerce")
    out = num.groupby(level=0, sort=False).max().reindex(s.index).to_numpy(dtype=float)
    return pd.Series(np.append(out, np.nan)[codes], index=full.index, dtype=float)


def sidewalk_state(edges: pd.DataFrame, cfg: dict) -> pd.Series:
    """'present' / 'none' / 'separate' / <NA> from sidewalk, sidewalk:both/left/right."""
    sw = cfg["sidewalk"]
    present, separate, none = set(sw["present"]), set(sw["separate"]), set(sw["none"])
    main = tag_values(edges, "sidewalk")
    state = pd.Series(pd.NA, index=edges.index, dtype="string")
    state = state.mask(isin_once(main, present), "present").mask(isin_once(main, separate), "separate")
    state = state.mask(isin_once(main, none), "none")
    both = tag_values(edges, "sidewalk_both", "sidewalk:both")
    left = tag_values(edges, "sidewalk_left", "sidewalk:left")
    right = tag_values(edges, "sidewalk_right", "sidewalk:right")
    yes = {"yes"} | present
    side_present = isin_once(both, yes) | isin_once(left, yes) | isin_once(right, yes)
    side_sep = isin_once(both, separate) | isin_once(left, separate) | isin_once(right, separate)
    side_none = isin_once(both, none) | (isin_once(left, none) & isin_once(right, none))
    todo = state.isna()
    state = state.mask(todo & side_none, "none")
    state = state.mask(todo & side_sep, "separate")
    state = state.mask(todo & side_present, "present")
    return state


#: Tag columns that decide the walking-along level of an edge (aliases included; ``_context`` is computed).
EDGE_TAG_COLUMNS = (
    "highway",
    "footway",
    "cycleway",
    "crossing",
    "maxspeed",
    "lanes",
    "oneway",
    "sidewalk",
    "sidewalk_both",
    "sidewalk:both",
    "sidewalk_left",
    "sidewalk:left",
    "sidewalk_right",
    "sidewalk:right",
    "lit",
    "surface",
    "_context",
)
#: Tag columns that decide the crossing control of a node or way.
CONTROL_TAG_COLUMNS = (
    "highway",
    "crossing",
    "crossing_ref",
    "crossing:ref",
    "crossing_markings",
    "crossing:markings",
    "crossing_signals",
    "crossing:signals",
    "crossing_island",
    "crossing:island",
)


#: Crossing control codes (higher = more protective).
CONTROL_NAMES = {1: "unmarked", 2: "marked", 3: "signals"}
CONTROL_CODES = {v: k for k, v in CONTROL_NAMES.items()}


def control_codes(df: pd.DataFrame, cfg: dict, node: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Control code per row (3 signals, 2 marked, 1 unmarked, 0 unknown type, -1 nothing mapped), island flag,
    and whether the row is a mapped crossing at all (evaluated once per distinct tag combination)."""
    uniq, codes = distinct_rows(df, CONTROL_TAG_COLUMNS)
    code, island, mapped = _control_codes_rows(uniq, cfg, node)
    return code[codes], island[codes], mapped[codes]


def _control_codes_rows(df: pd.DataFrame, cfg: dict, node: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = cfg["crossing"]["control"]
    hw = tag_values(df, "highway")
    crossing = tag_values(df, "crossing")
    ref = tag_values(df, "crossing_ref", "crossing:ref")
    markings = tag_values(df, "crossing_markings", "crossing:markings")
    signals_tag = tag_values(df, "crossing_signals", "crossing:signals")
    island_tag = tag_values(df, "crossing_island", "crossing:island")
    n = len(df)
    code = np.full(n, -1, dtype=np.int8)
    mapped = (
        (hw == "crossing").fillna(False).to_numpy(dtype=bool)
        | crossing.notna().fillna(False).to_numpy(dtype=bool)
        | ref.notna().fillna(False).to_numpy(dtype=bool)
        | markings.notna().fillna(False).to_numpy(dtype=bool)
    )
    code[mapped] = 0
    code[(isin_once(crossing, c["unmarked"]) | (markings == "no")).fillna(False).to_numpy(dtype=bool)] = 1
    code[
        (
            isin_once(crossing, c["marked"])
            | isin_once(ref, c["marked_ref"])
            | isin_once(markings, c["marked_markings"])
        )
        .fillna(False)
        .to_numpy(dtype=bool)
    ] = 2
    sig = isin_once(crossing, c["signals"]) | (signals_tag == "yes")
    if node:
        sig = sig | isin_once(hw, c["signals_highway"])
    code[sig.fillna(False).to_numpy(dtype=bool)] = 3
    island = (island_tag == "yes") | (crossing == "island")
    return code, island.fillna(False).to_numpy(dtype=bool), mapped | sig.fillna(False).to_numpy(dtype=bool)


def node_positions(nodes: pd.DataFrame, edges: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    index = pd.Index(nodes.index)
    u = index.get_indexer(pd.Index(edges["u"]))
    v = index.get_indexer(pd.Index(edges["v"]))
    bad = (u < 0) | (v < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{int(bad.sum())} edges refer to nodes missing from the nodes table",
            feature=f"edge row {i} (u={edges['u'].iloc[i]}, v={edges['v'].iloc[i]})",
            fix="build nodes and edges with childspace.osm.reader.read_osm (or keep them together)",
        )
    return u, v


def distinct_rows(df: pd.DataFrame, columns: tuple[str, ...]) -> tuple[pd.DataFrame, np.ndarray]:
    """Distinct combinations of ``columns`` (those present) and the code of each row's combination.

    Tag tables repeat a few hundred combinations over hundreds of thousands of rows; rules are evaluated once
    per combination and expanded with ``codes``. Missing values (None/NaN) form one value.
    """
    present = [c for c in columns if c in df.columns]
    n = len(df)
    if n == 0:
        return df[present].iloc[:0], np.zeros(0, dtype=np.int64)
    key = np.zeros(n, dtype=np.int64)
    for c in present:
        col = df[c]
        try:
            codes, uniq = pd.factorize(col, use_na_sentinel=True)
        except TypeError:  # unhashable values (lists): by their text
            codes, uniq = pd.factorize(col.astype(str), use_na_sentinel=True)
        key = key * (len(uniq) + 1) + (codes + 1)
        if key.max() > 2**40:
            key = pd.factorize(key)[0].astype(np.int64)
    codes, _ = pd.factorize(key)
    codes = codes.astype(np.int64)
    _, first = np.unique(codes, return_index=True)
    return df[present].iloc[first], codes


#: the former private name, still imported by analysis.school_zones; use ``resolved_config``
_cfg = resolved_config
