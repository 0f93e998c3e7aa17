"""The one vocabulary of the outputs (制图与表格统一样式): labels (中文 first), colours and classes.

The interactive maps (:mod:`childspace.outputs.maps`), the static figures (:mod:`childspace.outputs.figures`), the
HTML report (:mod:`childspace.outputs.report`) and the workbook (:mod:`childspace.outputs.workbook`) all draw from
here, so a class, a colour or a word means the same thing in every output.

Colours
-------
Status colours (达标 / 部分达标 / 缺口, route verdicts, school-zone results, stress levels) use a blue → light
orange → dark red scheme that stays distinct under red–green colour blindness (deuteranopia, protanopia): the three
statuses differ in lightness as well as hue. Every status also carries a second cue that needs no colour: a symbol
(``✓`` / ``△`` / ``×``) in text and popups, a marker shape and a hatch in figures.

Coverage classes are tied to the coverage target (GB 55014-2021 park service-radius coverage > 80 %, the default
``target_pct`` of ``childspace/config/standards.toml``): four orange classes below the target (darker = further
below) and one blue class at or above it; the class bounds are quarters of the target (0–20–40–60–80–100 % for
80 %). One colour family per layer: coverage = oranges/blue, children not covered and gaps = purples, walking
service areas = the category's own colour (a hue no other layer of the map uses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from childspace._errors import DataError
from childspace.inputs.standards import category_label, category_names, default_standards

__all__ = [
    "CATEGORY_COLOURS",
    "CATEGORY_LABELS",
    "COLUMN_LABELS",
    "CROSSING_LABELS",
    "DEFAULT_TARGET_PCT",
    "ELEMENT_LABELS",
    "HAZARD_TYPE_LABELS",
    "HIGHWAY_LABELS",
    "KIND_LABELS",
    "LEVEL_LABELS",
    "LIFE_CIRCLE_CLASSES",
    "NO_DATA_COLOUR",
    "SHEET_NAMES",
    "STATUS_LABELS",
    "STATUS_MARKERS",
    "STATUS_RULE",
    "STRESS_LABELS",
    "SYNTHETIC_NOTE",
    "UNCOVERED_RAMP",
    "VALUE_LABELS",
    "VERDICT_LABELS",
    "ZONE_ROAD_COLOURS",
    "ZONE_STATUS_LABELS",
    "CoverageClass",
    "category_label",
    "column_label",
    "coverage_class_index",
    "coverage_classes",
    "coverage_colours",
    "element_label",
    "feature_label",
    "header_labels",
    "highway_label",
    "split_label",
    "status_text",
]

#: the note every title carries when the data are the bundled synthetic sample
SYNTHETIC_NOTE = "示例数据（虚构） Synthetic sample data"

# ----------------------------------------------------------------------------------------------------
# words
# ----------------------------------------------------------------------------------------------------


#: canonical category -> (中文, English), from the default standards (``childspace/config/standards.toml``)
class _CategoryNames(dict[str, tuple[str, str]]):
    """(zh, en) per category: the default ones, and those a run's standards added (``[standards.categories.X]``),
    looked up when asked."""

    def __missing__(self, key: str) -> tuple[str, str]:
        names = category_names(key)
        if names is None:
            raise KeyError(key)
        return names

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or (isinstance(key, str) and category_names(key) is not None)


CATEGORY_LABELS: dict[str, tuple[str, str]] = _CategoryNames(
    {key: (cat.zh, cat.en) for key, cat in default_standards().categories.items()}
)

#: checklist elements of the pilot analysis that are not categories -> (中文, English)
ELEMENT_LABELS: dict[str, tuple[str, str]] = {"park_playground": ("公园或儿童游戏场地", "Park or playground")}


def element_label(key: str) -> str:
    """Bilingual label of a pilot checklist element: a category (:func:`category_label`) or a combined element
    such as ``park_playground``; an unknown key raises the :class:`~childspace.DataError` of the standards."""
    if key in ELEMENT_LABELS:
        return " ".join(ELEMENT_LABELS[key])
    return category_label(key)


def split_label(label: str) -> tuple[str, str]:
    """``"幼儿园 Kindergarten"`` -> ``("幼儿园", "Kindergarten")``."""
    zh, _, en = label.partition(" ")
    return zh, en


#: pilot status -> (中文, English, colour, symbol). Blue / light orange / dark red: distinct in lightness, so
#: also under deuteranopia; the symbol is the second cue.
STATUS_LABELS: dict[str, tuple[str, str, str, str]] = {
    "meets": ("达标", "Meets", "#2166ac", "✓"),
    "partly": ("部分达标", "Partly meets", "#f4a259", "△"),
    "gap": ("缺口", "Gap", "#9e0142", "×"),
}

#: the status rule of :func:`childspace.analysis.pilots.pilot_status`, one line per status
STATUS_RULE: tuple[str, ...] = (
    "✓ 达标：检查项全部具备 Meets: every checklist element present",
    "△ 部分达标：至少一半具备 Partly: at least half present",
    "× 缺口：不足一半具备 Gap: fewer than half present",
)

#: marker shape (matplotlib) and hatch per status, the non-colour cue in figures
STATUS_MARKERS: dict[str, tuple[str, str]] = {"meets": ("o", ""), "partly": ("s", ".."), "gap": ("X", "xxx")}

#: route verdict -> (中文, English, colour, symbol); same scheme as the pilot status
VERDICT_LABELS: dict[str, tuple[str, str, str, str]] = {
    "safe": ("安全", "Safe", "#2166ac", "✓"),
    "caution": ("注意", "Caution", "#f4a259", "△"),
    "unsafe": ("不安全", "Unsafe", "#9e0142", "×"),
}

#: school-zone result -> (中文, English, colour, symbol): both requirements met, one failed, both failed
ZONE_STATUS_LABELS: dict[str, tuple[str, str, str, str]] = {
    "compliant": ("符合", "Compliant", "#2166ac", "✓"),
    "one": ("一项不符合", "One requirement fails", "#f4a259", "△"),
    "both": ("两项均不符合", "Both requirements fail", "#9e0142", "×"),
}

#: zone-road colours: at or under the limit / over it
ZONE_ROAD_COLOURS: dict[bool, str] = {False: "#2166ac", True: "#9e0142"}

#: pedestrian stress level 1-4 -> (中文, English, colour): blue, light blue, orange, dark red (RdYlBu-like,
#: ordered in lightness 1 < 2 > 3 > 4 so that 1/2 and 3/4 also differ without colour)
STRESS_LABELS: dict[int, tuple[str, str, str]] = {
    1: ("1级 低压力", "Level 1 low stress", "#2166ac"),
    2: ("2级 较低", "Level 2", "#92c5de"),
    3: ("3级 较高", "Level 3", "#f4a259"),
    4: ("4级 高压力", "Level 4 high stress", "#9e0142"),
}

#: pilot kind -> (中文, English)
KIND_LABELS: dict[str, tuple[str, str]] = {
    "community": ("社区", "Community"),
    "school": ("学校", "School"),
    "hospital": ("医院", "Hospital"),
    "park": ("公园", "Park"),
    "venue": ("场馆", "Venue"),
    "street": ("街区", "Street"),
    "enterprise": ("企业", "Enterprise"),
}

#: boundary level -> (中文, English)
LEVEL_LABELS: dict[str, tuple[str, str]] = {
    "township": ("乡镇街道", "Township"),
    "community": ("村社区", "Community"),
}

#: hazard type -> (中文, English)
HAZARD_TYPE_LABELS: dict[str, tuple[str, str]] = {
    "segment": ("路段", "Segment"),
    "crossing": ("过街点", "Crossing"),
}

#: OSM ``highway`` values planners meet -> 中文 (Chinese popups never show the raw tag value alone)
HIGHWAY_LABELS: dict[str, str] = {
    "motorway": "高速公路",
    "motorway_link": "高速匝道",
    "trunk": "快速路/国道",
    "trunk_link": "快速路匝道",
    "primary": "主干路",
    "primary_link": "主干路匝道",
    "secondary": "次干路",
    "secondary_link": "次干路匝道",
    "tertiary": "支路（三级）",
    "tertiary_link": "支路匝道",
    "unclassified": "乡村道路",
    "residential": "居住区道路",
    "living_street": "生活街道",
    "service": "内部道路",
    "pedestrian": "步行街",
    "footway": "人行道/步道",
    "path": "小路",
    "steps": "台阶",
    "cycleway": "自行车道",
    "track": "机耕路",
    "road": "道路（未分级）",
    "corridor": "室内通道",
    "bridleway": "马道",
    "crossing": "过街",
    "sidewalk": "人行道",
}

#: OSM ``crossing`` values / crossing controls -> 中文
CROSSING_LABELS: dict[str, str] = {
    "traffic_signals": "信号灯控制",
    "signals": "信号灯控制",
    "marked": "标线人行横道",
    "zebra": "斑马线",
    "uncontrolled": "无信号人行横道",
    "unmarked": "无标线过街",
    "no": "禁止过街",
    "island": "有安全岛",
    "informal": "非正式过街",
    "unknown": "未知",
}


def highway_label(value: object) -> str:
    """``"residential"`` -> ``"居住区道路 residential"``; unknown values keep the raw tag after a 中文 placeholder."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    v = str(value)
    zh = HIGHWAY_LABELS.get(v) or CROSSING_LABELS.get(v)
    return f"{zh} {v}" if zh else f"其他 {v}"


#: what an unnamed feature is called in labels and lists: kind -> (中文, English)
UNNAMED_LABELS: dict[str, tuple[str, str]] = {
    "school": ("未命名学校", "unnamed school"),
    "street": ("无名道路", "unnamed street"),
    "crossing": ("无名道路的过街点", "crossing on an unnamed street"),
}


def has_name(value: object) -> bool:
    """Whether a name value is a real name: not missing (None, NaN, pd.NA), not blank, not the text a missing
    value turns into (``"nan"``, ``"None"``, ``"<NA>"``)."""
    if value is None or value is pd.NA or (isinstance(value, float) and not np.isfinite(value)):
        return False
    return str(value).strip() not in ("", "nan", "NaN", "None", "<NA>")


def feature_label(name: object, feature_id: object = None, kind: str = "school") -> str:
    """The name of a feature for a label or a list; an unnamed one is said to be unnamed, with its id.

    ``feature_label(None, "osm/node/529940889#primary_school")`` -> ``"未命名学校 unnamed school (OSM node
    529940889)"``: an OSM id as the object a planner finds on openstreetmap.org, another id as it is, no id: the
    words alone. ``kind``: a key of :data:`UNNAMED_LABELS` (``school``, ``street``, ``crossing``).
    """
    if has_name(name):
        return str(name).strip()
    zh, en = UNNAMED_LABELS.get(kind, ("未命名", f"unnamed {kind}"))
    if not has_name(feature_id):
        return f"{zh} {en}"
    fid = str(feature_id).strip()
    m = re.match(r"^osm/(node|way|relation)/(\d+)", fid)
    ref = f"OSM {m.group(1)} {m.group(2)}" if m else fid
    return f"{zh} {en} ({ref})"


def status_text(status: str, labels: dict[str, tuple[str, str, str, str]] | None = None) -> str:
    """``"meets"`` -> ``"✓ 达标 Meets"`` (symbol, 中文, English); unknown values are returned unchanged."""
    labels = STATUS_LABELS if labels is None else labels
    if status not in labels:
        return str(status)
    zh, en, _c, sym = labels[status]
    return f"{sym} {zh} {en}"


# ----------------------------------------------------------------------------------------------------
# colours of layers
# ----------------------------------------------------------------------------------------------------

#: one colour per canonical category (facility markers, service areas): hues not used by the coverage classes
#: (oranges/blue) nor by the uncovered-children family (purples)
CATEGORY_COLOURS: dict[str, str] = {
    "infant_care": "#cc3311",
    "kindergarten": "#ee3377",
    "primary_school": "#0077bb",
    "middle_school": "#009988",
    "playground": "#cc6600",
    "park": "#228833",
    "mother_baby_room": "#aa3377",
    "children_home": "#997700",
    "library": "#666633",
    "hospital": "#33bbee",
}

#: a facility category of the user's own, not one of the above
OTHER_CATEGORY_COLOUR = "#555555"

#: children not covered (hexagons, homes) and gap areas: purples, light to dark
UNCOVERED_RAMP: tuple[str, ...] = ("#efedf5", "#bcbddc", "#807dba", "#54278f")

#: fill of units without a figure
NO_DATA_COLOUR = "#d9d9d9"

#: life-circle completeness classes: number of the 5/10/15-minute circles complete -> (colour, label)
LIFE_CIRCLE_CLASSES: dict[int, tuple[str, str]] = {
    0: ("#9e0142", "0 个完整 none complete"),
    1: ("#f4a259", "1 个完整 1 complete"),
    2: ("#92c5de", "2 个完整 2 complete"),
    3: ("#2166ac", "3 个完整（5/10/15分钟） all 3 complete"),
}

# ----------------------------------------------------------------------------------------------------
# coverage classes tied to the target
# ----------------------------------------------------------------------------------------------------

#: default coverage target (per cent), ``target_pct`` of the default standards
DEFAULT_TARGET_PCT: float = float(default_standards().target_pct)

_BELOW_COLOURS = ("#a63603", "#e6550d", "#fd8d3c", "#fdd0a2")  # far below -> just below the target
_MEETS_COLOUR = "#2171b5"


@dataclass(frozen=True)
class CoverageClass:
    """One coverage class: ``lower <= value < upper`` (per cent), its fill colour, hatch and bilingual label."""

    lower: float
    upper: float
    colour: str
    hatch: str
    label: str
    meets: bool


def coverage_classes(target_pct: float | None = None) -> list[CoverageClass]:
    """The five coverage classes for a target: four below it (quarters of the target), one at or above it.

    Parameters
    ----------
    target_pct : float, optional
        Coverage target in per cent (0 < target <= 100); default the standards' ``target_pct`` (80).

    Returns
    -------
    list of CoverageClass
        Lowest first; for 80 %: 0–20, 20–40, 40–60, 60–80 (below target, oranges, hatched in figures) and
        80–100 % (达标, blue).
    """
    t = DEFAULT_TARGET_PCT if target_pct is None else float(target_pct)
    if not (0 < t <= 100):
        raise DataError(
            f"coverage target {t} is not a percentage in (0, 100]",
            feature="target_pct",
            fix="set target_pct between 1 and 100 in the standards",
        )
    bounds = [0.0, t / 4, t / 2, 3 * t / 4, t]
    out = []
    for i in range(4):
        lo, hi = bounds[i], bounds[i + 1]
        out.append(
            CoverageClass(
                lo,
                hi,
                _BELOW_COLOURS[i],
                "///" if i < 2 else "..",
                f"{lo:.0f}–{hi:.0f}% 低于目标 below target",
                False,
            )
        )
    out.append(CoverageClass(t, float("inf"), _MEETS_COLOUR, "", f"≥{t:.0f}% 达到目标 meets target", True))
    return out


def coverage_class_index(values: object, target_pct: float | None = None) -> np.ndarray:
    """Class index (0–4, :func:`coverage_classes`) of each coverage value in per cent; NaN -> -1."""
    vals = np.asarray(values, dtype=float)
    classes = coverage_classes(target_pct)
    uppers = np.array([c.upper for c in classes[:-1]])
    idx = np.searchsorted(uppers, np.nan_to_num(vals, nan=-1.0), side="right")
    idx = np.clip(idx, 0, len(classes) - 1)
    return np.where(np.isfinite(vals), idx, -1)


def coverage_colours(values: object, target_pct: float | None = None) -> np.ndarray:
    """Fill colour of each coverage value (per cent) by :func:`coverage_classes`; NaN -> :data:`NO_DATA_COLOUR`."""
    classes = coverage_classes(target_pct)
    idx = coverage_class_index(values, target_pct)
    cols = np.array([c.colour for c in classes] + [NO_DATA_COLOUR])
    return cols[np.where(idx < 0, len(classes), idx)]


#: analysis value column -> bilingual label (coverage choropleths)
VALUE_LABELS: dict[str, str] = {
    "pct_walk": "步行覆盖率 Walking coverage",
    "pct_line": "直线覆盖率 Straight-line coverage",
    "area_pct_walk": "步行覆盖面积比 Area covered on foot",
}

# ----------------------------------------------------------------------------------------------------
# column headers and sheet names
# ----------------------------------------------------------------------------------------------------

#: fixed column headers (bilingual, Chinese first)
COLUMN_LABELS: dict[str, str] = {
    "unit_id": "单元编号 Unit ID",
    "unit_name": "单元名称 Unit name",
    "name": "名称 Name",
    "level": "层级 Level",
    "parent_id": "上级编号 Parent ID",
    "code": "区划代码 Code",
    "population": "人口 Population",
    "category": "设施类型 Category",
    "category_zh": "设施类型（中文） Category (Chinese)",
    "radius_m": "服务半径(米) Radius (m)",
    "children": "儿童数 Children",
    "children_safest": "最安全路线上的通学儿童（各类学校，每户计一次） Children walking here (safest routes, all "
    "schools, each home once)",
    "children_shortest": "最短路线上的通学儿童（各类学校，每户计一次） Children walking here (shortest routes, all "
    "schools, each home once)",
    "children_covered_walk": "步行覆盖儿童 Children covered (walk)",
    "pct_walk": "步行覆盖率 Coverage walk %",
    "children_covered_line": "直线覆盖儿童 Children covered (straight line)",
    "pct_line": "直线覆盖率 Coverage straight line %",
    "area_pct_walk": "步行覆盖面积比 Area covered walk %",
    "median_walk_m": "步行距离中位数(米) Median walk (m)",
    "p90_walk_m": "步行距离90分位(米) 90th pct walk (m)",
    "detour_ratio": "绕行系数 Detour ratio",
    "below_target": "低于目标 Below target",
    "target_pct": "目标覆盖率 Target %",
    "lc5_missing": "5分钟生活圈缺项 Missing in 5-min circle",
    "lc10_missing": "10分钟生活圈缺项 Missing in 10-min circle",
    "lc15_missing": "15分钟生活圈缺项 Missing in 15-min circle",
    "lc5_complete": "5分钟生活圈完整 5-min circle complete",
    "lc10_complete": "10分钟生活圈完整 10-min circle complete",
    "lc15_complete": "15分钟生活圈完整 15-min circle complete",
    "children_uncovered": "未覆盖儿童 Children uncovered",
    "area_m2": "面积(平方米) Area (m²)",
    "rank": "排序 Rank",
    "pilot_id": "试点编号 Pilot ID",
    "batch": "批次 Batch",
    "kind": "类型 Kind",
    "township": "所属镇街 Township",
    "notes": "备注 Notes",
    "key_project": "重点项目 Key project",
    "status": "状态 Status",
    "status_zh": "状态（中文） Status (Chinese)",
    "reasons": "原因 Reasons",
    "facility_id": "设施编号 Facility ID",
    "capacity": "容量 Capacity",
    "address": "地址 Address",
    "source": "来源 Source",
    "school_id": "学校编号 School ID",
    "school_name": "学校名称 School name",
    "school_names": "涉及学校名称 School names",
    "origin_id": "起点编号 Origin ID",
    "route": "路线 Route",
    "length_m": "长度(米) Length (m)",
    "worst_level": "最差压力等级 Worst stress level",
    "unsafe_crossings": "不安全过街 Unsafe crossings",
    "share_l1": "1级路段占比 Share level 1",
    "share_l2": "2级路段占比 Share level 2",
    "share_l3": "3级路段占比 Share level 3",
    "share_l4": "4级路段占比 Share level 4",
    "assumed_share": "推定标签占比 Share on assumed tags",
    "verdict": "评价 Verdict",
    "children_safe": "安全路线儿童 Children safe",
    "children_caution": "需注意儿童 Children caution",
    "children_unsafe": "不安全儿童 Children unsafe",
    "children_unreachable": "不可达儿童 Children unreachable",
    "hazard_id": "隐患编号 Hazard ID",
    "type": "类型 Type",
    "schools": "涉及学校 Schools",
    "reason": "原因 Reason",
    "place": "位置描述 Place",
    "lon": "经度(WGS84) Longitude",
    "lat": "纬度(WGS84) Latitude",
    "max_level": "最高压力等级 Max stress level",
    "method": "方法 Method",
    "n_elements": "检查项数 Elements checked",
    "n_present": "具备项数 Elements present",
    "rule": "判定规则 Rule",
    "kind_input": "原始类型 Kind (as given)",
    # school zones (safety.school_zones, GA/T 1215-2014)
    "n_gates": "校门数 Gates",
    "zone_road_m": "校园周边道路长度(米) Zone road length (m)",
    "n_segments": "路段数 Road segments",
    "max_speed_kmh": "最高限速(km/h) Max speed limit (km/h)",
    "speed_ok": "限速符合 Speed limit met",
    "share_over_limit": "超限速道路占比 Share over the limit",
    "share_speed_assumed": "假定限速占比 Share with assumed speed",
    "crossing_m": "最近人行横道距离(米) Nearest marked crossing (m)",
    "crossing_type": "人行横道类型 Crossing type",
    "crossing_osmid": "人行横道OSM编号 Crossing OSM id",
    "crossing_ok": "人行横道符合 Crossing requirement met",
    "compliant": "符合规范 Compliant",
    "finding": "发现 Finding",
    "edge": "路段序号 Edge",
    "osmid": "OSM编号 OSM id",
    "highway": "道路等级 Road class",
    "maxspeed_kmh": "限速(km/h) Speed limit (km/h)",
    "speed_assumed": "限速为假定 Speed assumed",
    "over_limit": "超过限速 Over the limit",
    # homes in a part of the network without the category (clipped extract, islands): out of the walking shares
    "children_no_network": "路网不连通儿童 Children not connected (network)",
    "homes_no_network": "路网不连通居住点 Homes not connected (network)",
    "note": "说明 Note",
    "category_label": "设施类型名称 Category label",
    # routes to school (analysis.route_tables): best/worst = the profile's optimistic/pessimistic defaults
    "shortest_m": "最短路线(米) Shortest route (m)",
    "safest_m": "最安全路线(米) Safest route (m)",
    "straight_m": "直线距离(米) Straight line (m)",
    "verdict_best": "评价（乐观推定） Verdict (optimistic defaults)",
    "verdict_worst": "评价（保守推定） Verdict (pessimistic defaults)",
    "verdict_assumed": "评价取决于推定标签 Verdict rests on assumed tags",
    "assumed_crossings": "推定过街数 Crossings on assumed tags",
    "crossings": "过街数 Crossings",
    "over_detour": "安全路线绕行过远 Safest route too long",
    "safe_max_level": "计为安全的最高等级 Highest level counted safe",
    "profile": "安全评价配置 Safety profile",
    "children_over_detour": "安全路线绕行过远儿童 Children whose safest route is too long",
    "children_verdict_assumed": "评价取决于推定标签的儿童 Children whose verdict rests on assumed tags",
    "children_safe_best": "安全儿童（乐观推定） Children safe (optimistic defaults)",
    "children_safe_worst": "安全儿童（保守推定） Children safe (pessimistic defaults)",
    "pct_safe": "安全路线儿童占比 Children safe %",
    # the township minimums (GB 50180-2018 and the plan's own: e.g. a children's home in every township)
    "count": "设施数 Count",
    "min_required": "最低要求 Minimum required",
    "meets": "达标 Meets",
    # the datum check (analysis.checks.datum_check): GCJ-02 (Amap/Tencent) or BD-09 (Baidu) read as WGS84
    "group": "数据组 Group",
    "points": "点数 Points",
    "pairs": "同名配对数 Pairs with the same name",
    "pair_offset_m": "同名配对偏移中位数(米) Median offset of the pairs (m)",
    "median_m": "距路网中位数(米) Median distance to streets (m)",
    "median_if_gcj02_m": "按GCJ-02纠偏后距路网中位数(米) Median if GCJ-02 (m)",
    "median_if_bd09_m": "按BD-09纠偏后距路网中位数(米) Median if BD-09 (m)",
    "suspect": "疑似坐标系 Suspected datum",
    "evidence": "依据 Evidence",
    "message": "提示 Message",
    # the plan's own targets measured (analysis.indicators)
    "unit": "单元 Unit",
    "target_id": "指标编号 Target ID",
    "indicator": "指标 Indicator",
    "wording": "行动计划原文 Wording in the plan",
    "comparison": "比较 Comparison",
    "target": "目标值 Target",
    "value": "现状值 Value",
    "gap": "差距 Gap",
    "unit_of_measure": "计量单位 Unit of measure",
    "year": "目标年份 Target year",
    "basis": "计算依据 Basis",
    "missing": "缺失数据 Missing data",
    # facilities found in OpenStreetMap (osm.features.osm_report)
    "label": "类型名称 Label",
    "found": "找到数（OSM） Found in OSM",
    "level_unknown": "学段不明 Level unknown",
    "left_out": "未采用 Left out",
    "merged": "与已有设施合并 Merged with yours",
    "added": "新增 Added",
    # venues that must have a mother-and-baby room (analysis.venues)
    "venue_id": "场馆编号 Venue ID",
    "subtype": "子类型 Subtype",
    "floor_area_m2": "建筑面积(平方米) Floor area (m²)",
    "daily_visitors": "日均客流(人次) Daily visitors",
    "required": "须设母婴室 Room required",
    "rules": "适用规定 Rules",
    "rule_label": "适用规定名称 Rules by name",
    "has_room": "已有母婴室 Has a room",
    "nearest_room": "最近母婴室 Nearest room",
    "room_distance_m": "至最近母婴室距离(米) Distance to the nearest room (m)",
    "rule_thresholds": "规定阈值 Rule thresholds",
}

_PREFIX_LABELS = [
    ("children_safest_", "最安全路线上的通学儿童 Children walking here (safest routes)"),
    ("children_shortest_", "最短路线上的通学儿童 Children walking here (shortest routes)"),
    ("dist_walk_", "步行距离(米) Walk distance (m)"),
    ("dist_line_", "直线距离(米) Straight-line distance (m)"),
    ("covered_walk_", "步行覆盖 Covered (walk)"),
    ("covered_line_", "直线覆盖 Covered (line)"),
    ("nearest_", "最近设施 Nearest"),
    ("has_", "具备 Has"),
    ("dist_", "距离(米) Distance (m)"),
]

#: suggested sheet names of the workbook (Excel limits sheet names to 31 characters)
SHEET_NAMES: dict[str, str] = {
    "township_coverage": "乡镇覆盖 Township coverage",
    "community_coverage": "社区覆盖 Community coverage",
    "pilots": "试点单元 Pilot units",
    "schools": "学校 Schools",
    "hazards": "隐患点 Hazards",
    "gaps": "缺口 Gaps",
    "life_circles": "生活圈 Life circles",
    "routes": "上学路线 School routes",
    "school_zones": "校园周边 School zones",
    "pilot_units": "试点单元 Pilot units",
    "township_life_circles": "乡镇生活圈 Township life circles",
    "community_life_circles": "社区生活圈 Community life circles",
    "township_minimums": "乡镇设施数 Township minimums",
    "datum_check": "坐标检查 Datum check",
    "matrix": "社区×类型 Community matrix",
    "indicators": "规划指标 Plan indicators",
    "venues_missing_room": "缺母婴室场馆 Venues without room",
}


def _known_element(key: str) -> tuple[str, str] | None:
    if key in CATEGORY_LABELS:
        return CATEGORY_LABELS[key]
    return ELEMENT_LABELS.get(key)


def column_label(column: str) -> str:
    """Bilingual header for an analysis column (Chinese first). Unknown columns are returned unchanged."""
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    for prefix, label in _PREFIX_LABELS:
        if column.startswith(prefix):
            names = _known_element(column[len(prefix) :])
            if names is not None:
                zh, en = names
                lab_zh, lab_en = label.split(" ", 1)
                return f"{zh}{lab_zh} {en}: {lab_en}"
    return column


def header_labels(columns: list[str]) -> list[str]:
    """Bilingual headers of ``columns``; a header repeated after translation gets the raw name appended."""
    new = [column_label(str(c)) for c in columns]
    seen: set[str] = set()
    for i, c in enumerate(new):
        if c in seen:
            new[i] = f"{c} ({columns[i]})"
        seen.add(new[i])
    return new
