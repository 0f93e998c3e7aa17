"""QGIS styles of the GeoPackage layers (QML in the ``layer_styles`` table, as QGIS itself writes them with "Save
style → in database"): coverage by community against the target, street and crossing stress levels, hazards
numbered by rank, routes by verdict, pilot units by status, facilities by category, gaps; field aliases are the
bilingual column headers. Used by :mod:`childspace.outputs.geopackage`.
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from childspace._errors import DataError
from childspace.outputs.style import (
    CATEGORY_COLOURS,
    HAZARD_TYPE_LABELS,
    OTHER_CATEGORY_COLOUR,
    STATUS_LABELS,
    STRESS_LABELS,
    UNCOVERED_RAMP,
    VERDICT_LABELS,
    category_label,
    column_label,
    coverage_classes,
)

__all__ = ["FAMILY", "LayerStyle", "geometry_family", "layer_styles", "qml", "write_styles"]

#: geometry type -> family (the suffix of a split layer)
FAMILY = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "LinearRing": "line",
    "Polygon": "area",
    "MultiPolygon": "area",
}

#: headers of columns outputs.style does not name (the hazards' countermeasures, per-level children, stress)
_EXTRA_ALIASES = {
    "countermeasures": "整改措施建议 Countermeasures",
    "countermeasure_basis": "措施依据 Basis of the countermeasures",
    "countermeasure_rules": "措施规则编号 Countermeasure rules",
    "school_zone": "位于校园周边 In a school zone",
    "children_primary_school": "小学路线经过的儿童 Children (primary-school routes)",
    "children_middle_school": "初中路线经过的儿童 Children (middle-school routes)",
    "children_kindergarten": "幼儿园路线经过的儿童 Children (kindergarten routes)",
    "routes": "路线数 Routes",
    "assumed": "含推定标签 Rests on assumed tags",
    "length": "长度(米) Length (m)",
    "control": "过街控制 Crossing control",
    "n_below_target": "低于目标的类型数 Categories below target",
    "min_pct_walk": "最低步行覆盖率 Lowest walking coverage %",
}


# ---------------------------------------------------------------------------------------------------------------
# QGIS styles (QML)
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerStyle:
    """One row of the ``layer_styles`` table: style name, QML document, whether QGIS applies it on open."""

    name: str
    qml: str
    default: bool = True
    description: str = ""


def _rgba(colour: str, alpha: int = 255) -> str:
    h = colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha}"


def _options(parent: ET.Element, props: Mapping[str, str]) -> None:
    """Symbol-layer properties in both forms QGIS reads: ``<Option type="Map">`` (3.26+) and ``<prop>``."""
    opt = ET.SubElement(parent, "Option", type="Map")
    for k, v in props.items():
        ET.SubElement(opt, "Option", name=k, value=str(v), type="QString")
    for k, v in props.items():
        ET.SubElement(parent, "prop", k=k, v=str(v))


def _symbol(kind: str, name: str, colour: str, **kw: Any) -> ET.Element:
    """A QGIS symbol: ``kind`` "marker" (shape, size), "line" (width) or "fill" (outline, hatch)."""
    sym = ET.Element("symbol", type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0")
    if kind == "marker":
        lay = ET.SubElement(
            sym, "layer", attrib={"class": "SimpleMarker", "enabled": "1", "pass": "0", "locked": "0"}
        )
        _options(
            lay,
            {
                "name": kw.get("shape", "circle"),
                "color": _rgba(colour),
                "outline_color": _rgba(kw.get("outline", "#ffffff")),
                "outline_width": "0.3",
                "outline_width_unit": "MM",
                "size": str(kw.get("size", 2.4)),
                "size_unit": "MM",
            },
        )
    elif kind == "line":
        lay = ET.SubElement(
            sym, "layer", attrib={"class": "SimpleLine", "enabled": "1", "pass": "0", "locked": "0"}
        )
        _options(
            lay,
            {
                "line_color": _rgba(colour),
                "line_width": str(kw.get("width", 0.6)),
                "line_width_unit": "MM",
                "capstyle": "round",
                "joinstyle": "round",
                "line_style": kw.get("line_style", "solid"),
            },
        )
    else:
        lay = ET.SubElement(
            sym, "layer", attrib={"class": "SimpleFill", "enabled": "1", "pass": "0", "locked": "0"}
        )
        _options(
            lay,
            {
                "color": _rgba(colour, int(kw.get("alpha", 200))),
                "style": "solid",
                "outline_color": _rgba(kw.get("outline", "#636363")),
                "outline_width": "0.2",
                "outline_width_unit": "MM",
                "outline_style": "solid",
            },
        )
        if kw.get("hatch"):  # the second cue besides colour (as the hatches of the PNG figures)
            lay2 = ET.SubElement(
                sym, "layer", attrib={"class": "SimpleFill", "enabled": "1", "pass": "0", "locked": "0"}
            )
            _options(
                lay2,
                {
                    "color": "60,60,60,255",
                    "style": kw["hatch"],
                    "outline_style": "no",
                    "outline_color": "0,0,0,0",
                    "outline_width": "0",
                },
            )
    return sym


def _categorized(attr: str, classes: Sequence[tuple[Any, str, ET.Element]]) -> ET.Element:
    r = ET.Element(
        "renderer-v2",
        type="categorizedSymbol",
        attr=attr,
        symbollevels="0",
        enableorderby="0",
        forceraster="0",
    )
    cats = ET.SubElement(r, "categories")
    syms = ET.SubElement(r, "symbols")
    for i, (value, label, sym) in enumerate(classes):
        ET.SubElement(cats, "category", value=str(value), label=label, symbol=str(i), render="true")
        sym.set("name", str(i))
        syms.append(sym)
    return r


def _graduated(attr: str, ranges: Sequence[tuple[float, float, str, ET.Element]]) -> ET.Element:
    r = ET.Element(
        "renderer-v2",
        type="graduatedSymbol",
        attr=attr,
        graduatedMethod="GraduatedColor",
        symbollevels="0",
        enableorderby="0",
        forceraster="0",
    )
    rs = ET.SubElement(r, "ranges")
    syms = ET.SubElement(r, "symbols")
    for i, (lo, hi, label, sym) in enumerate(ranges):
        ET.SubElement(
            rs,
            "range",
            lower=repr(float(lo)),
            upper=repr(float(hi)),
            label=label,
            symbol=str(i),
            render="true",
        )
        sym.set("name", str(i))
        syms.append(sym)
    ET.SubElement(r, "mode", name="manual")
    return r


def _single(sym: ET.Element) -> ET.Element:
    r = ET.Element("renderer-v2", type="singleSymbol", symbollevels="0", enableorderby="0", forceraster="0")
    syms = ET.SubElement(r, "symbols")
    sym.set("name", "0")
    syms.append(sym)
    return r


def _labeling(field: str, kind: str) -> ET.Element:
    """Labels of ``field`` (e.g. the hazard's rank number) in bold with a white halo."""
    lab = ET.Element("labeling", type="simple")
    st = ET.SubElement(lab, "settings", calloutType="simple")
    ts = ET.SubElement(
        st,
        "text-style",
        fieldName=field,
        isExpression="0",
        fontSize="9",
        fontSizeUnit="Point",
        fontWeight="75",
        fontFamily="Noto Sans CJK SC",
        textColor="0,0,0,255",
        textOpacity="1",
        namedStyle="Bold",
    )
    ET.SubElement(
        ts, "text-buffer", bufferDraw="1", bufferSize="1", bufferSizeUnits="MM", bufferColor="255,255,255,255"
    )
    ET.SubElement(st, "placement", placement="0" if kind == "point" else "2", dist="1", distUnits="MM")
    ET.SubElement(st, "rendering", obstacle="1", displayAll="1", drawLabels="1")
    return lab


def _alias(col: str) -> str:
    return _EXTRA_ALIASES.get(col) or column_label(col)


def qml(renderer: ET.Element, columns: Sequence[str] = (), labeling: ET.Element | None = None) -> str:
    """A QGIS layer style document (QML) with a renderer, optional labels, and bilingual field aliases."""
    root = ET.Element(
        "qgis",
        version="3.22.0",
        styleCategories="Symbology|Labeling|Fields",
        labelsEnabled="1" if labeling is not None else "0",
    )
    root.append(renderer)
    if labeling is not None:
        root.append(labeling)
    if columns:
        al = ET.SubElement(root, "aliases")
        for i, c in enumerate(columns):
            a = _alias(str(c))
            if a != c:
                ET.SubElement(al, "alias", field=str(c), index=str(i), name=a)
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(
        root, encoding="unicode"
    )


_SHAPES = {
    "meets": "circle",
    "partly": "square",
    "gap": "cross2",
}  # as outputs.style.STATUS_MARKERS (o, s, X)


def _category_name(category: str) -> str:
    """The bilingual label of a standard category; a category from the user's own standards file keeps its key."""
    try:
        return category_label(category)
    except DataError:
        return category


#: shapely geometry type ids (``shapely.get_type_id``) -> family; -1 (missing) and 7 (collection) have none
_FAMILY_BY_ID = {0: "point", 4: "point", 1: "line", 5: "line", 2: "line", 3: "area", 6: "area"}


def geometry_family(gdf: gpd.GeoDataFrame) -> str:
    """The family (point, line, area) of the first geometry that has one; ``point`` when none has."""
    import shapely

    ids = shapely.get_type_id(np.asarray(gdf.geometry.array, dtype=object))
    known = np.flatnonzero(np.isin(ids, list(_FAMILY_BY_ID)))
    return _FAMILY_BY_ID[int(ids[known[0]])] if len(known) else "point"


def _kind(family: str) -> str:
    return {"point": "marker", "line": "line", "area": "fill"}[family]


def layer_styles(
    name: str,
    gdf: gpd.GeoDataFrame,
    target_pct: float | None = None,
    categories: Sequence[str] | None = None,
) -> list[LayerStyle]:
    """The QGIS styles of one layer (the first is applied on open), or none for a layer without one.

    Styled: ``community_coverage`` (categories below the target; one extra style per category by the coverage
    classes), ``street_stress`` / ``crossing_stress`` (level 1–4), ``hazards_*`` (level, labelled with the rank),
    ``routes`` (verdict; lines, or the home points when the routes carry no line), ``pilots_*`` (status, a shape
    per status), ``facilities`` (category), ``gaps`` (children not covered).
    """
    base = name.rsplit("_", 1)[0] if name.rsplit("_", 1)[-1] in ("point", "line", "area") else name
    fam = geometry_family(gdf)
    kind = _kind(fam)
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    out: list[LayerStyle] = []
    if base == "community_coverage":
        classes = coverage_classes(target_pct)
        t = classes[-1].lower
        below = ["#fdd0a2", "#fd8d3c", "#a63603"]
        rng = [
            (
                -0.5,
                0.5,
                f"0 类低于{t:.0f}%目标（全部达标） all categories meet the target",
                _symbol("fill", "", classes[-1].colour),
            ),
            (
                0.5,
                2.5,
                "1–2 类低于目标 1–2 categories below the target",
                _symbol("fill", "", below[0], hatch="b_diagonal"),
            ),
            (
                2.5,
                4.5,
                "3–4 类低于目标 3–4 categories below",
                _symbol("fill", "", below[1], hatch="b_diagonal"),
            ),
            (
                4.5,
                99.0,
                "5 类及以上低于目标 5 or more below",
                _symbol("fill", "", below[2], hatch="b_diagonal"),
            ),
        ]
        out.append(
            LayerStyle(
                "低于目标的类型数 Categories below the target",
                qml(_graduated("n_below_target", rng), cols),
                True,
                f"coverage on foot against the {t:.0f}% target, by community",
            )
        )
        for c in categories or [c[len("pct_walk_") :] for c in cols if str(c).startswith("pct_walk_")]:
            col = f"pct_walk_{c}"
            if col not in cols:
                continue
            rr = []
            for k in (
                classes
            ):  # QGIS ranges include both ends, the first match wins; the classes are [lower, upper)
                hi = k.upper if np.isfinite(k.upper) else 100000.0
                rr.append(
                    (
                        k.lower,
                        hi if k.meets else hi - 1e-6,
                        k.label,
                        _symbol("fill", "", k.colour, hatch="" if k.meets else "b_diagonal"),
                    )
                )
            out.append(
                LayerStyle(
                    f"{_category_name(c)} 步行覆盖率 walking coverage",
                    qml(_graduated(col, rr), cols),
                    False,
                    f"walking coverage of {c} against the {t:.0f}% target",
                )
            )
    elif base in ("street_stress", "crossing_stress"):
        cl: list[tuple[Any, str, ET.Element]] = [
            (lv, f"{zh} {en}", _symbol(kind, "", colour, width=0.3 + 0.3 * lv, size=1.2 + 0.6 * lv))
            for lv, (zh, en, colour) in STRESS_LABELS.items()
        ]
        out.append(LayerStyle("压力等级 Stress level", qml(_categorized("level", cl), cols)))
    elif base == "hazards":
        cl = [
            (
                lv,
                f"{zh} {en}",
                _symbol(kind, "", colour, width=1.6, size=4.0, shape="triangle", outline="#000000"),
            )
            for lv, (zh, en, colour) in STRESS_LABELS.items()
            if lv >= 2
        ]
        t_zh, t_en = HAZARD_TYPE_LABELS["crossing" if fam == "point" else "segment"]
        out.append(
            LayerStyle(
                f"隐患{t_zh}（按排序编号） Hazards ({t_en.lower()}s) numbered by rank",
                qml(_categorized("level", cl), cols, _labeling("rank", fam)),
            )
        )
    elif base == "routes" and "verdict" in cols:
        cl = [
            (
                v,
                f"{sym} {zh} {en}",
                _symbol(kind, "", colour, width=0.5, size=1.6, shape=_SHAPES.get(s, "circle")),
            )
            for (v, (zh, en, colour, sym)), s in zip(VERDICT_LABELS.items(), ("meets", "partly", "gap"))
        ]
        cl.append(("unreachable", "不可达 Unreachable", _symbol(kind, "", "#969696", width=0.4, size=1.4)))
        out.append(LayerStyle("路线评价 Route verdict", qml(_categorized("verdict", cl), cols)))
    elif base == "pilots" and "status" in cols:
        cl = [
            (
                s,
                f"{sym} {zh} {en}",
                _symbol(
                    kind, "", colour, size=3.2, shape=_SHAPES[s], hatch="" if s == "meets" else "b_diagonal"
                ),
            )
            for s, (zh, en, colour, sym) in STATUS_LABELS.items()
        ]
        out.append(
            LayerStyle(
                "试点单元状态 Pilot status", qml(_categorized("status", cl), cols, _labeling("name", fam))
            )
        )
    elif base == "facilities" and "category" in cols:
        # every category in the layer gets a class (one left out would not be drawn in QGIS): the house
        # colours in their order first, then any other category (a user's own) in a neutral grey
        present = set(gdf["category"].dropna().astype(str))
        known = [c for c in CATEGORY_COLOURS if c in present]
        cl = [
            (
                c,
                _category_name(c),
                _symbol(kind, "", CATEGORY_COLOURS.get(c, OTHER_CATEGORY_COLOUR), size=2.6),
            )
            for c in known + sorted(present - set(known))
        ]
        out.append(LayerStyle("设施类型 Facility category", qml(_categorized("category", cl), cols)))
    elif base == "gaps" and kind == "fill":
        out.append(
            LayerStyle(
                "未覆盖区域 Gaps", qml(_single(_symbol("fill", "", UNCOVERED_RAMP[2], alpha=150)), cols)
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------------------------
_STYLES_TABLE = """
CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256), f_geometry_column TEXT(256),
  styleName TEXT(30), styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30),
  ui TEXT(30), update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)"""


def write_styles(path: Path, styles: Mapping[str, Sequence[LayerStyle]]) -> None:
    """Add the ``layer_styles`` table (as QGIS writes it, registered in ``gpkg_contents`` as attributes)."""
    con = sqlite3.connect(path)
    try:
        geom = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
        con.execute(_STYLES_TABLE)
        con.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
            "VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS layer styles', "
            "strftime('%Y-%m-%dT%H:%M:%fZ','now'))"
        )
        rows = [
            ("", "", layer, geom.get(layer, "geom"), s.name, s.qml, "", int(s.default), s.description, "", "")
            for layer, ss in styles.items()
            if layer in geom
            for s in ss
        ]
        con.executemany(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
            "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        con.commit()
    finally:
        con.close()
