"""Child-friendly facilities from OpenStreetMap, and merging them with the user's own facility register.

Classification of OSM tags into canonical categories (:func:`classify_tags`)
--------------------------------------------------------------------------
- ``kindergarten`` 幼儿园: ``amenity=kindergarten``; ``amenity=childcare`` only when the name contains 幼儿园.
- ``infant_care`` 托育机构 (0-3): ``amenity=childcare`` otherwise (in China "childcare" places are mostly 0-3 托育
  centres), and ``amenity=kindergarten`` named 托育/托儿所 without 幼儿园.
- ``primary_school`` 小学 / ``middle_school`` 初中: ``amenity=school`` classified, in this order, by
  ``isced:level`` (1 -> primary, 2 -> middle; ISCED 2011 levels, UNESCO), by ``school=*`` (primary; middle,
  junior_high, lower_secondary), or by name patterns by language (``config/school_levels.toml``, extended by
  ``school_names``: 小学/Primary/Elementary/Grundschule/Volksschule -> primary; 初中/中学/Middle/Secondary/
  Gymnasium/Mittelschule -> middle; 九年一贯制/peruskoulu -> both; 高中/职业/Lycée/lukio/BORG/Handelsakademie are
  upper secondary or vocational and are left out). A school that is both (``isced:level=1;2``, 九年一贯制) gives
  **two facilities**, one per category (ids suffixed ``#primary_school``/``#middle_school``), because coverage
  is computed per category. A school whose level cannot be told is **a school of unknown level**: two
  facilities as well, with ``subtype`` ``school_unknown_level``, listed once per OSM object in
  ``result.attrs["unclassified"]`` (records) and announced by a warning that says how to set the level
  (outside China most schools carry no level tag: dropping them read as 0 % coverage). A school mapped only as
  a building (``building=school`` and no ``amenity=*``; not ``disused:``/``abandoned:``) is classified the same
  way; when it lies in or at (within 10 m of) an ``amenity=school`` (its grounds, its node), it is that school's
  building and left out as such (reported), never counted twice. Only such buildings with a name or another
  candidate key (:data:`childspace.osm._tags.CANDIDATE_KEYS`) are read: the file reader does not look at every
  building (an unnamed one, e.g. a school's gym, is not found).
- ``playground`` 儿童游戏场地: ``leisure=playground``.
- ``park`` 公园: ``leisure=park``; ``leisure=garden`` when public (``access`` absent/yes/public/permissive and
  ``garden:type`` not residential/private).
- ``mother_baby_room`` 母婴室: ``baby_feeding=room`` (a dedicated feeding room, OSM wiki Key:baby_feeding);
  ``changing_table=yes`` with ``changing_table:location=dedicated_room``; ``amenity=toilets`` with
  ``changing_table=yes`` (subtype ``changing_table``: a nappy table, not a full 母婴室 — filter on ``subtype`` if
  the stricter definition is needed); any feature named 母婴室/哺乳室/母婴. ``amenity=baby_hatch`` is an anonymous
  infant drop-off (OSM wiki), not a mother-and-baby room, and is ignored.
- ``library`` 图书馆: ``amenity=library``.
- ``hospital`` 医院（儿科）: ``amenity``/``healthcare`` = hospital/clinic/doctors with
  ``healthcare:speciality`` containing paediatrics/pediatrics, or a name containing 儿童/妇幼/儿科.
- ``children_home`` 儿童之家: a name containing 儿童之家 (typically on ``amenity=social_facility`` or
  ``community_centre``).

Areas (closed ways and multipolygon relations) are reduced to a representative point inside them
(``shapely.point_on_surface``) and keep ``area_ha`` (hectares, local metric CRS) and their outline
(``footprint``, WKB). ``entrance=*`` nodes on an
area's outline are kept as a list of (lon, lat) in ``entrances``. A point feature of a category that lies
inside an area of the same category (the school's node inside the school grounds) is dropped as a duplicate of
the area. Everything found but not returned is listed in ``result.attrs["left_out"]`` with the reason;
:func:`osm_report` gives, per category, found / level unknown / left out / merged / added.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace._errors import ChildspaceWarning, DataError
from childspace.inputs.area import AreaLike, area_polygon
from childspace.inputs.crosscheck import normalise_name  # noqa: F401  (re-exported: it lived here)
from childspace.inputs.projection import WGS84, local_crs, local_crs_for
from childspace.inputs.standards import category_label
from childspace.osm import _parse as _osm_reader
from childspace.osm._tags import CANDIDATE_KEYS, MB_NAME

#: Tags summarised in the ``osm_tags`` column.
SUMMARY_KEYS = (
    "amenity",
    "building",
    "leisure",
    "healthcare",
    "healthcare:speciality",
    "isced:level",
    "school",
    "baby_feeding",
    "changing_table",
    "changing_table:location",
    "access",
    "operator",
)

_CHILD_HOSP_NAME = re.compile(r"儿童|妇幼|儿科")
#: Data file of the default school-name patterns, by level and language.
SCHOOL_LEVELS_FILE = Path(__file__).resolve().parents[1] / "config" / "school_levels.toml"
_LEVEL_KEYS = ("primary", "middle", "both", "not_middle")
_NAME_KEYS = ("name", "name:zh", "name:en", "name:de", "official_name")
#: Subtype of a school whose level is unknown (counted as both primary and middle).
UNKNOWN_LEVEL = "school_unknown_level"


#: extra name patterns of school levels (``[schools] name_patterns`` of a run configuration): level -> a pattern,
#: a list of patterns, or language -> pattern(s)
SchoolNamePatterns: TypeAlias = Mapping[str, str | Sequence[str] | Mapping[str, str | Sequence[str]]]


def school_name_patterns(extra: SchoolNamePatterns | None = None) -> dict[str, re.Pattern[str]]:
    """The name patterns of school levels: ``config/school_levels.toml`` plus ``extra`` (same layout:
    level -> list of patterns, or level -> language -> list), compiled case-insensitively."""
    import tomllib

    raw = tomllib.loads(SCHOOL_LEVELS_FILE.read_text(encoding="utf-8"))
    out: dict[str, re.Pattern[str]] = {}
    for level in _LEVEL_KEYS:
        pats: list[str] = []
        for src in (raw.get(level, {}), (extra or {}).get(level, {})):
            vals = src.values() if isinstance(src, dict) else [src]
            for v in vals:
                pats.extend([v] if isinstance(v, str) else list(v))
        for pat in pats:
            try:
                re.compile(pat)
            except re.error as exc:
                raise DataError(
                    f"school name pattern {pat!r} ({level}) is not a regular expression ({exc})",
                    feature="[schools] name_patterns",
                    fix="escape special characters with \\",
                ) from None
        out[level] = re.compile("|".join(f"(?:{q})" for q in pats) if pats else r"(?!x)x", re.IGNORECASE)
    return out


_DEFAULT_PATTERNS: dict[str, re.Pattern[str]] | None = None


def _patterns(p: dict[str, re.Pattern[str]] | None) -> dict[str, re.Pattern[str]]:
    global _DEFAULT_PATTERNS
    if p is not None:
        return p
    if _DEFAULT_PATTERNS is None:
        _DEFAULT_PATTERNS = school_name_patterns()
    return _DEFAULT_PATTERNS


def _school_levels(
    tags: dict[str, str], patterns: dict[str, re.Pattern[str]] | None = None
) -> set[str] | None:
    """Categories of an ``amenity=school`` object: empty set when its level is unknown, None when it is
    neither primary nor middle (upper secondary or vocational by its tags or name)."""
    isced = tags.get("isced:level")
    if isced:
        levels: set[str] = set()
        for part in re.split(r"[;,]", isced):
            part = part.strip()
            rng = re.fullmatch(r"(\d)\s*-\s*(\d)", part)
            nums = range(int(rng[1]), int(rng[2]) + 1) if rng else ([int(part)] if part.isdigit() else [])
            for n in nums:
                if n == 1:
                    levels.add("primary_school")
                elif n == 2:
                    levels.add("middle_school")
        if levels:
            return levels
        if any(ch.isdigit() for ch in isced):
            return None
    school = (tags.get("school") or "").lower()
    if school:
        out = set()
        if "primary" in school:
            out.add("primary_school")
        if any(s in school for s in ("middle", "junior_high", "lower_secondary")):
            out.add("middle_school")
        if out:
            return out
    pat = _patterns(patterns)
    name = " | ".join(tags[k] for k in _NAME_KEYS if tags.get(k))
    if pat["both"].search(name):
        return {"primary_school", "middle_school"}
    out = set()
    if pat["primary"].search(name):
        out.add("primary_school")
    not_middle = bool(pat["not_middle"].search(name))
    if pat["middle"].search(name) and not not_middle:
        out.add("middle_school")
    if not out and not_middle:
        return None
    return out


def classify_tags(
    tags: dict[str, str], patterns: dict[str, re.Pattern[str]] | None = None
) -> list[tuple[str, str | None]]:
    """Canonical categories of an OSM object, with a subtype, from its tags (rules in the module docstring).

    Parameters
    ----------
    tags : dict
        Raw OSM tags.
    patterns : dict, optional
        School-name patterns (:func:`school_name_patterns`; default: ``config/school_levels.toml``).

    Returns
    -------
    list of (category, subtype)
        Empty when the object is not a child-friendly facility; two entries for a school of both levels, and for
        a school of unknown level (subtype ``school_unknown_level``). ``("upper_school", None)`` for a school
        that is neither primary nor middle (left out, reported).
    """
    amenity = tags.get("amenity")
    leisure = tags.get("leisure")
    healthcare = tags.get("healthcare")
    name = tags.get("name") or tags.get("name:zh") or ""
    out: list[tuple[str, str | None]] = []
    if "儿童之家" in name:
        return [("children_home", amenity)]
    if amenity in ("kindergarten", "childcare"):
        infant = "幼儿园" not in name and (amenity == "childcare" or "托育" in name or "托儿所" in name)
        return [("infant_care" if infant else "kindergarten", amenity)]
    if amenity == "school" or school_building(tags):
        levels = _school_levels(tags, patterns)
        if levels is None:
            return [("upper_school", None)]
        if not levels:
            return [("primary_school", UNKNOWN_LEVEL), ("middle_school", UNKNOWN_LEVEL)]
        return [(c, "school") for c in ("primary_school", "middle_school") if c in levels]
    if leisure == "playground":
        return [("playground", None)]
    if leisure == "park":
        return [("park", "park")]
    if leisure == "garden":
        if tags.get("access") in (None, "yes", "public", "permissive") and tags.get("garden:type") not in (
            "residential",
            "private",
        ):
            return [("park", "garden")]
        return []
    if amenity == "library":
        return [("library", None)]
    if amenity in ("hospital", "clinic", "doctors") or healthcare in ("hospital", "clinic", "doctor"):
        spec = (tags.get("healthcare:speciality") or "").lower()
        if "paediatric" in spec or "pediatric" in spec or _CHILD_HOSP_NAME.search(name):
            return [("hospital", amenity or healthcare)]
        return []
    if tags.get("baby_feeding") == "room" or MB_NAME.search(name):
        return [("mother_baby_room", "room")]
    if tags.get("changing_table") == "yes":
        if "dedicated_room" in (tags.get("changing_table:location") or ""):
            return [("mother_baby_room", "room")]
        if amenity == "toilets":
            return [("mother_baby_room", "changing_table")]
    return out


#: life-cycle prefixes of a feature no longer in use (OSM wiki: Lifecycle prefix)
_PAST = ("disused:", "abandoned:", "was:", "demolished:", "razed:", "removed:")


def school_building(tags: Mapping[str, str]) -> bool:
    """A school mapped only as a building: ``building=school`` without an ``amenity=*`` (which would say what
    the building is used for now) and without a life-cycle prefix (``disused:amenity=school`` …)."""
    return (
        tags.get("building") == "school"
        and "amenity" not in tags
        and not any(k.startswith(_PAST) for k in tags)
    )


def _keep(tags: dict[str, str]) -> bool:
    return bool(classify_tags(tags))


#: Reasons an OSM facility is left out, as written in the ``reason`` column of ``attrs["left_out"]``.
LEFT_OUT = {
    "upper_school": "高中/职业学校，非小学初中 upper secondary or vocational school, not primary or middle "
    "(isced:level or name)",
    "no_geometry": "几何不完整（数据范围外）incomplete geometry (members outside the extract)",
    "inside_area": "与其所在的同类设施面重复 the same facility as the area it lies in",
    "outside_area": "在研究范围外 outside the study area",
    "school_building": "已计入学校的校舍 a building (building=school) of a school already counted (amenity=school)",
}
#: a building=school within this distance (metres) of an amenity=school is that school's building
SCHOOL_BUILDING_M = 10.0


def facilities_from_osm(
    source: str | Path | AreaLike,
    area: AreaLike | None = None,
    buffer_m: float = 0.0,
    cache_folder: str | Path | None = None,
    school_names: SchoolNamePatterns | None = None,
) -> gpd.GeoDataFrame:
    """Child-friendly facilities from an OSM file (or, when ``source`` is an area, from an Overpass download).

    Parameters
    ----------
    source : str or Path, or area
        An OSM file (.osm, .osm.bz2, .osm.gz, .osm.pbf); or a study area (shapely geometry in EPSG:4326,
        GeoDataFrame/GeoSeries, bbox tuple) to download from Overpass (online, opt-in; the OSM XML is cached in
        ``cache_folder`` and read like a file, see :mod:`childspace.overpass`).
    area : area-like, optional
        Keep only facilities inside this area (buffered by ``buffer_m`` metres, local metric CRS); with an
        Overpass ``source`` the default is that area.
    buffer_m : float
        Buffer around ``area`` in metres.
    cache_folder : str or Path, optional
        Overpass cache (default ``~/.cache/childspace/overpass``).
    school_names : dict, optional
        Extra school-name patterns by level (``primary``, ``middle``, ``both``, ``not_middle``; a list of
        regular expressions, or language -> list), added to ``config/school_levels.toml``.

    Returns
    -------
    GeoDataFrame, EPSG:4326
        Canonical facilities: ``facility_id`` ("osm/node/123", "osm/way/5", "osm/relation/7", suffixed
        ``#<category>`` for schools of two levels), ``name``, ``category``, ``label`` (bilingual), ``source``
        ("osm"), ``subtype`` (``school_unknown_level`` for a school counted as both levels because its level
        is not known), ``area_ha`` (hectares, NaN for points), ``footprint`` (the outline of an area, WKB in
        EPSG:4326 as :func:`childspace.inputs.loaders.footprints` reads it; None for points: coverage reaches an
        area at its edge), ``entrances`` (list of (lon, lat) or None),
        ``capacity`` (from the ``capacity`` tag, NaN when absent), ``address``, ``osm_tags`` (summary), Point
        geometry. ``attrs["unclassified"]``: the schools of unknown level, one record (dict: ``osm_id``,
        ``name``, ``lon``, ``lat``) per OSM object; ``attrs["left_out"]``: records of the OSM objects found but
        not returned (``osm_id``, ``name``, ``category``, ``reason``); :func:`osm_report` sums both up.

    Warns
    -----
    ChildspaceWarning
        When schools of unknown level are counted as both primary and middle schools.

    Raises
    ------
    DataError
        Missing or unreadable file.
    """
    if not isinstance(source, (str, Path)):
        from childspace.osm import overpass

        path = overpass.download(source, buffer_m, "facilities", cache_folder=cache_folder)
        return facilities_from_osm(
            path, area=source if area is None else area, buffer_m=buffer_m, school_names=school_names
        )
    pats = school_name_patterns(school_names) if school_names else None
    p = _osm_reader.check_osm_path(source)
    raw = _osm_reader.read_features(p, lambda t: bool(classify_tags(t, pats)), CANDIDATE_KEYS)
    geoms = shapely.from_wkb(np.array([g if g is not None else None for g in raw.geoms], dtype=object))
    ent = gpd.GeoDataFrame(
        {"id": raw.entrance_ids}, geometry=shapely.points(raw.entrance_lon, raw.entrance_lat), crs=WGS84
    )
    out = _assemble(raw.kinds, raw.ids, raw.tags, geoms, raw.way_entrance_refs, ent, area, buffer_m, pats)
    unk = pd.DataFrame(out.attrs["unclassified"], columns=["osm_id", "name", "lon", "lat"])
    if len(unk):
        named = (
            unk["name"].astype(object).where(unk["name"].notna(), unk["osm_id"])
        )  # (an unnamed one: its id)
        warnings.warn(
            f"{len(unk)} OSM 学校未注明学段，按小学和初中各计一次 — {len(unk)} OSM schools of unknown level (no "
            "isced:level, school=* or known name pattern) are counted as both primary and middle schools "
            f"(e.g. {', '.join(str(n) for n in named.head(3))}); set their level "
            "with isced:level in OSM, list them in your facility register with 类型 小学/初中 (your register "
            "wins over OSM), or add name patterns in the run config: [schools] name_patterns = "
            '{ primary = ["..."], middle = ["..."] }',
            ChildspaceWarning,
            stacklevel=2,
        )
    return out


def _assemble(
    kinds: list[str],
    ids: list[int],
    tags: list[dict],
    geoms: Any,
    outline: dict[int, list[int]],
    ent: gpd.GeoDataFrame,
    area: AreaLike | None,
    buffer_m: float,
    patterns: dict[str, re.Pattern[str]] | None = None,
) -> gpd.GeoDataFrame:
    rows: list[dict[str, Any]] = []
    row_geom: list[Any] = []
    left: list[dict[str, Any]] = []
    sites: list[Any] = []  # every amenity=school (upper schools too): a building=school there is its building
    for kind, oid, tg, g in zip(kinds, ids, tags, geoms):
        cats = classify_tags(tg, patterns)
        base = f"osm/{kind}/{oid}"
        nm = tg.get("name") or tg.get("name:zh")
        if tg.get("amenity") == "school" and g is not None and not shapely.is_empty(g):
            sites.append(g)
        if g is None or shapely.is_empty(g):
            left.extend(
                {"osm_id": base, "name": nm, "category": c, "reason": LEFT_OUT["no_geometry"]}
                for c, _ in cats
            )
            continue
        for cat, sub in cats:
            if cat == "upper_school":
                left.append(
                    {"osm_id": base, "name": nm, "category": "school", "reason": LEFT_OUT["upper_school"]}
                )
                continue
            fid = base if len(cats) == 1 else f"{base}#{cat}"
            cap = tg.get("capacity")
            addr = tg.get("addr:full") or "".join(
                tg.get(k, "") for k in ("addr:city", "addr:district", "addr:street", "addr:housenumber")
            )
            rows.append(
                {
                    "facility_id": fid,
                    "osm_id": base,
                    "name": nm,
                    "category": cat,
                    "label": category_label(cat),
                    "source": "osm",
                    "subtype": sub,
                    "capacity": float(cap) if cap and re.fullmatch(r"\d+(\.\d+)?", cap) else np.nan,
                    "address": addr or None,
                    "osm_kind": kind,
                    "osm_way": oid if kind == "way" else None,
                    "osm_tags": "; ".join(f"{k}={tg[k]}" for k in SUMMARY_KEYS if k in tg),
                    "building_only": cat in ("primary_school", "middle_school") and school_building(tg),
                }
            )
            row_geom.append(g)
    cols = [
        "facility_id",
        "name",
        "category",
        "label",
        "source",
        "subtype",
        "area_ha",
        "footprint",
        "entrances",
        "capacity",
        "address",
        "osm_tags",
    ]
    left_cols = ["osm_id", "name", "category", "reason"]
    if not rows:
        out = gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=WGS84)
        out.attrs["unclassified"] = []
        out.attrs["left_out"] = (
            pd.DataFrame(left, columns=left_cols).drop_duplicates(["osm_id", "reason"]).to_dict("records")
        )
        return out
    df = pd.DataFrame(rows)
    shapes = np.asarray(row_geom, dtype=object)
    poly = np.isin(shapely.get_type_id(shapes), [3, 6])
    # area in hectares in the local metric CRS
    lon_c, lat_c = shapely.get_coordinates(shapely.centroid(shapes)).mean(axis=0)
    crs = local_crs(float(lon_c), float(lat_c))
    metric = gpd.GeoSeries(shapes, crs=WGS84).to_crs(crs).values
    df["area_ha"] = np.where(poly, shapely.area(np.asarray(metric)) / 10_000.0, np.nan)
    # the outline (WKB, EPSG:4326) as the file loaders keep it: coverage reaches an area at its edge
    # (childspace.analysis.access_points), not at the representative point
    df["footprint"] = np.where(poly, shapely.to_wkb(shapes), None)
    pts = np.where(poly, shapely.point_on_surface(shapes), shapes)
    # entrances on outlines: node ids for ways, else points within 0.5 m of the outline
    df["entrances"] = None
    if len(ent) and poly.any():
        ent_m = ent.to_crs(crs)
        tree = shapely.STRtree(ent_m.geometry.values)
        pi = np.flatnonzero(poly)
        bi, ei = tree.query(shapely.boundary(np.asarray(metric)[pi]), predicate="dwithin", distance=0.5)
        lists: dict[int, list[tuple[float, float]]] = {}
        for b, e in zip(bi, ei):
            row = pi[b]
            refs = outline.get(df["osm_way"].iat[row]) if df["osm_kind"].iat[row] == "way" else None
            if refs is not None and int(ent["id"].iat[e]) not in refs:
                continue
            g = ent.geometry.iat[e]
            lists.setdefault(row, []).append((g.x, g.y))
        for row, lst in lists.items():
            df.at[row, "entrances"] = lst
    out = gpd.GeoDataFrame(df, geometry=pts, crs=WGS84)
    # a building=school in or at an amenity=school is that school's building (first: the school's node inside
    # the building must not be dropped for it by the rule below)
    bldg = out["building_only"].to_numpy(dtype=bool)
    if bldg.any() and sites:
        site_m = gpd.GeoSeries(sites, crs=WGS84).to_crs(crs).values
        bi, _ = shapely.STRtree(np.asarray(site_m)).query(
            np.asarray(metric)[bldg], predicate="dwithin", distance=SCHOOL_BUILDING_M
        )
        drop = np.flatnonzero(bldg)[np.unique(bi)]
        gone = out.iloc[drop]
        left.extend(
            {"osm_id": o, "name": n, "category": c, "reason": LEFT_OUT["school_building"]}
            for o, n, c in zip(gone["osm_id"], gone["name"], gone["category"])
        )
        keep = np.ones(len(out), dtype=bool)
        keep[drop] = False
        out = out[keep].reset_index(drop=True)
        shapes, poly = shapes[keep], poly[keep]
    # a point inside an area of the same category is the same facility
    is_pt = ~poly
    if is_pt.any() and poly.any():
        tree = shapely.STRtree(shapes[poly])
        pi_, ai_ = tree.query(shapes[is_pt], predicate="within")
        same = (
            out["category"].to_numpy()[np.flatnonzero(is_pt)[pi_]]
            == out["category"].to_numpy()[np.flatnonzero(poly)[ai_]]
        )
        drop = np.unique(np.flatnonzero(is_pt)[pi_[same]])
        gone = out.iloc[drop]
        left.extend(
            {"osm_id": o, "name": n, "category": c, "reason": LEFT_OUT["inside_area"]}
            for o, n, c in zip(gone["osm_id"], gone["name"], gone["category"])
        )
        out = out.drop(index=out.index[drop])
    if area is not None:
        a = area_polygon(area, buffer_m)
        inside = shapely.contains_xy(a, out.geometry.x.to_numpy(), out.geometry.y.to_numpy())
        gone = out[~inside]
        left.extend(
            {"osm_id": o, "name": n, "category": c, "reason": LEFT_OUT["outside_area"]}
            for o, n, c in zip(gone["osm_id"], gone["name"], gone["category"])
        )
        out = out[inside]
    unk = out[out["subtype"] == UNKNOWN_LEVEL].drop_duplicates("osm_id")
    unclassified = pd.DataFrame(
        {
            "osm_id": unk["osm_id"].to_numpy(),
            "name": unk["name"].to_numpy(),
            "lon": unk.geometry.x.to_numpy(),
            "lat": unk.geometry.y.to_numpy(),
        }
    )
    out = out[cols + ["geometry"]].reset_index(drop=True)
    # attrs hold records, not DataFrames: pandas compares attrs when frames are joined (DataFrames cannot be)
    out.attrs["unclassified"] = unclassified.to_dict("records")
    left_df = pd.DataFrame(left, columns=left_cols)
    # a school of two levels left out for the same reason is one object
    out.attrs["left_out"] = left_df.drop_duplicates(["osm_id", "reason"]).to_dict("records")
    return out


def osm_report(
    osm: gpd.GeoDataFrame, duplicates: pd.DataFrame | None = None, merged: gpd.GeoDataFrame | None = None
) -> pd.DataFrame:
    """What became of the OSM facilities of a run: found, classified, merged, left out and why, per category.

    Parameters
    ----------
    osm : GeoDataFrame
        From :func:`facilities_from_osm` (with its ``attrs``).
    duplicates : DataFrame, optional
        The second value of :func:`merge_facilities` (OSM facilities dropped as duplicates of the user's).
    merged : GeoDataFrame, optional
        Unused; accepted so a caller can pass both results of :func:`merge_facilities`.

    Returns
    -------
    DataFrame
        One row per category (and ``school`` for schools left out): ``category``, ``label``, ``found`` (OSM
        objects), ``level_unknown`` (schools counted as both levels), ``left_out``, ``merged`` (duplicates of
        the user's facilities, dropped), ``added`` (in the run), ``reasons`` (why left out, with counts).
        A school of unknown (or both) levels is in the rows of both categories, so the columns' sums count it
        twice; ``attrs["objects"]`` holds the totals by OSM object (dict: ``found``, ``level_unknown``,
        ``left_out``, ``merged``, ``added``; ``found`` = ``left_out`` + ``merged`` + ``added``): the figures a
        one-line summary of the run should quote.
    """
    kept = osm.groupby("category").size() if len(osm) else pd.Series(dtype=int)
    unk = (
        osm.loc[osm["subtype"] == UNKNOWN_LEVEL].groupby("category").size()
        if len(osm)
        else pd.Series(dtype=int)
    )
    left = pd.DataFrame(osm.attrs.get("left_out", []), columns=["osm_id", "name", "category", "reason"])
    lo = left.groupby("category").size() if len(left) else pd.Series(dtype=int)
    why = (
        left.groupby("category")["reason"].apply(
            lambda r: "; ".join(f"{k} ×{v}" for k, v in r.value_counts().items())
        )
        if len(left)
        else pd.Series(dtype=object)
    )
    dup = (
        duplicates.groupby("category").size()
        if duplicates is not None and len(duplicates)
        else pd.Series(dtype=int)
    )
    cats = sorted(set(kept.index) | set(lo.index) | set(dup.index))
    rows = []
    for c in cats:
        k, m = int(kept.get(c, 0)), int(dup.get(c, 0))
        rows.append(
            {
                "category": c,
                "label": category_label(c) if c != "school" else "学校 school",
                "found": k + int(lo.get(c, 0)),
                "level_unknown": int(unk.get(c, 0)),
                "left_out": int(lo.get(c, 0)),
                "merged": m,
                "added": k - m,
                "reasons": why.get(c, ""),
            }
        )
    out = pd.DataFrame(
        rows,
        columns=["category", "label", "found", "level_unknown", "left_out", "merged", "added", "reasons"],
    )
    out.attrs["objects"] = osm_totals(osm, duplicates)
    return out


def _object_id(facility_ids: pd.Series) -> pd.Series:
    """The OSM object of each facility (``osm/way/5#primary_school`` -> ``osm/way/5``)."""
    return facility_ids.astype(str).str.split("#", n=1).str[0]


def osm_totals(osm: gpd.GeoDataFrame, duplicates: pd.DataFrame | None = None) -> dict[str, int]:
    """What became of the OSM facilities of a run, counted by OSM object (a school of two levels, or of unknown
    level, is two facilities but one object): ``found``, ``level_unknown`` (schools counted as both levels),
    ``left_out`` (objects none of whose facilities is in the run), ``merged`` (objects every facility of which is
    a duplicate of the user's, dropped), ``added`` (objects with a facility in the run). ``found`` = ``left_out`` +
    ``merged`` + ``added``. Arguments as for :func:`osm_report`."""
    kept = (
        pd.DataFrame({"obj": _object_id(osm["facility_id"]), "fid": osm["facility_id"].astype(str)})
        if len(osm)
        else pd.DataFrame({"obj": pd.Series(dtype=str), "fid": pd.Series(dtype=str)})
    )
    left = {str(r["osm_id"]) for r in osm.attrs.get("left_out", [])}
    dup = (
        set(duplicates["osm_id"].astype(str))
        if duplicates is not None and len(duplicates) and "osm_id" in duplicates.columns
        else set()
    )
    kept["dup"] = kept["fid"].isin(dup)
    all_dup = kept.groupby("obj")["dup"].all() if len(kept) else pd.Series(dtype=bool)
    unknown = (
        kept.loc[(osm["subtype"] == UNKNOWN_LEVEL).to_numpy(), "obj"].nunique()
        if len(osm) and "subtype" in osm.columns
        else 0
    )
    merged, added = int(all_dup.sum()), int((~all_dup).sum())
    left_only = len(left - set(kept["obj"]))
    return {
        "found": left_only + merged + added,
        "level_unknown": int(unknown),
        "left_out": left_only,
        "merged": merged,
        "added": added,
    }


# ----------------------------------------------------------------------------------------------------
# merging with the user's facilities
# ----------------------------------------------------------------------------------------------------
def name_score(a: object, b: object) -> float:
    """Similarity of two names in [0, 1].

    difflib ratio of the normalised names; 1.0 when one contains the other (at least 2 characters); 0.0 when
    either is missing.
    """
    na, nb = normalise_name(a), normalise_name(b)
    if not na or not nb:
        return 0.0
    short, long_ = sorted((na, nb), key=len)
    if len(short) >= 2 and short in long_:
        return 1.0
    return difflib.SequenceMatcher(None, na, nb).ratio()


def merge_facilities(
    user: gpd.GeoDataFrame,
    osm: gpd.GeoDataFrame,
    max_distance_m: float = 100.0,
    name_similarity: float = 0.6,
    unnamed_distance_m: float = 30.0,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Merge OSM facilities into the user's, dropping OSM duplicates (user data wins).

    An OSM facility is a duplicate of a user facility when both have the same ``category``, lie within
    ``max_distance_m`` metres of each other (local metric CRS), and their names are similar
    (:func:`name_score` >= ``name_similarity``), or either name is missing and they are within
    ``unnamed_distance_m`` metres.

    Parameters
    ----------
    user, osm : GeoDataFrame
        Canonical facilities (``facility_id``, ``name``, ``category``, Point geometry), any CRS.
    max_distance_m : float
        Maximum distance in metres.
    name_similarity : float
        Minimum name similarity in [0, 1] (:func:`name_score`).
    unnamed_distance_m : float
        Distance in metres under which a pair with a missing name is a duplicate.

    Returns
    -------
    merged : GeoDataFrame, EPSG:4326
        User rows (``source`` "user" where missing) followed by the OSM rows that are not duplicates.
    duplicates : DataFrame
        One row per dropped OSM facility: ``osm_id``, ``user_id``, ``category``, ``distance_m``, ``osm_name``,
        ``user_name``, ``similarity``.
    """
    for label, g in (("user", user), ("osm", osm)):
        missing = {"facility_id", "name", "category"} - set(g.columns)
        if missing:
            raise DataError(
                f"{label} facilities lack columns {sorted(missing)}",
                fix="load them with childspace.inputs.loaders.load_facilities / facilities_from_osm",
            )
        if g.crs is None:
            raise DataError(f"{label} facilities have no CRS", fix="set it with .set_crs(...)")
    u = user.to_crs(WGS84)
    o = osm.to_crs(WGS84)
    report_cols = ["osm_id", "user_id", "category", "distance_m", "osm_name", "user_name", "similarity"]
    if "source" not in u.columns:
        u = u.assign(source="user")
    else:
        u = u.assign(source=u["source"].fillna("user"))
    if len(u) == 0 or len(o) == 0:
        merged = pd.concat([u, o], ignore_index=True)
        return gpd.GeoDataFrame(merged, geometry="geometry", crs=WGS84), pd.DataFrame(columns=report_cols)
    crs = local_crs_for(gpd.GeoSeries(np.concatenate([u.geometry.values, o.geometry.values]), crs=WGS84))
    up = np.asarray(u.to_crs(crs).geometry.values)
    op = np.asarray(o.to_crs(crs).geometry.values)
    tree = shapely.STRtree(op)
    ui, oi = tree.query(up, predicate="dwithin", distance=max_distance_m)
    ucat = u["category"].to_numpy()
    ocat = o["category"].to_numpy()
    same = ucat[ui] == ocat[oi]
    ui, oi = ui[same], oi[same]
    d = shapely.distance(up[ui], op[oi])
    uname = u["name"].to_numpy()
    oname = o["name"].to_numpy()
    sim = np.fromiter((name_score(uname[a], oname[b]) for a, b in zip(ui, oi)), dtype=float, count=len(ui))
    unnamed = np.array(
        [not normalise_name(uname[a]) or not normalise_name(oname[b]) for a, b in zip(ui, oi)], dtype=bool
    )
    dup = (sim >= name_similarity) | (unnamed & (d < unnamed_distance_m))
    pairs = pd.DataFrame({"ui": ui[dup], "oi": oi[dup], "d": d[dup], "s": sim[dup]})
    pairs = pairs.sort_values(["oi", "d"]).drop_duplicates("oi")  # each OSM facility reported once
    report = pd.DataFrame(
        {
            "osm_id": o["facility_id"].to_numpy()[pairs["oi"]],
            "user_id": u["facility_id"].to_numpy()[pairs["ui"]],
            "category": ocat[pairs["oi"]],
            "distance_m": pairs["d"].to_numpy(),
            "osm_name": oname[pairs["oi"]],
            "user_name": uname[pairs["ui"]],
            "similarity": pairs["s"].to_numpy(),
        },
        columns=report_cols,
    ).reset_index(drop=True)
    keep = np.ones(len(o), dtype=bool)
    keep[pairs["oi"].to_numpy()] = False
    merged = pd.concat([u, o[keep]], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=WGS84), report
