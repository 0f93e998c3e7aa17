"""Generate the bundled synthetic sample under ``childspace/data/`` (示例区域，虚构数据 — a synthetic demonstration area).

Everything here is invented: the townships, communities, streets, river, facilities, pilot units and homes do
not exist. The area is placed near 120.98°E, 28.12°N only so that coordinates fall inside Yueqing's range and
the real datum and projection questions (CGCS2000 Gauss-Krüger EPSG:4549, GCJ-02 offsets) arise as they would
with real files.

Usage::

    python scripts/make_sample.py                 # regenerate childspace/data/ (identical output every run)
    python scripts/make_sample.py --out /tmp/x    # write the same files elsewhere

The layout is built in local metres (x east, y north) around the centre, in EPSG:4549, then converted. Random
choices come from ``numpy.random.default_rng(SEED)`` drawn in a fixed order, and every file is written in a
stable order (fixed GeoPackage/DBF dates, fixed Excel timestamps), so two runs give byte-identical files.

The deliberate situations built in are listed in ``childspace/data/README.md``.
"""

from __future__ import annotations

import argparse
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from openpyxl import Workbook
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from shapely.geometry import LineString, Point, Polygon, box

from childspace.inputs.datum import wgs84_to_gcj02

SEED = 20240601
CENTRE_LONLAT = (120.98, 28.12)
METRIC_EPSG = 4549  # CGCS2000 / 3-degree Gauss-Kruger CM 120E, as delivered by natural-resources bureaus
SYNTHETIC = "示例区域，虚构数据 (synthetic demonstration area, invented data)"
FIXED_DATE = "2024-01-01"
FIXED_TIMESTAMP = "2024-01-01T00:00:00Z"

HALF_W, HALF_H = 2000.0, 1500.0  # study area 4 km x 3 km
MAX_SEGMENT_M = 50.0  # OSM ways get an intermediate node at least every 50 m

# --- grid of streets ----------------------------------------------------------------------------------------
COL_X = -1900.0 + 200.0 * np.arange(20)  # north-south streets
ROW_Y_SOUTH = [-1450.0, -1260.0, -1070.0, -880.0, -690.0, -500.0, -310.0, -120.0, 70.0, 260.0]
ROW_Y_NORTH = [900.0, 1100.0, 1300.0, 1450.0]
J_BANK_S, J_BANK_N = 10, 11  # rows following the river banks
N_COLS, N_ROWS = 20, 16
I_TERTIARY_W, I_ARTERIAL, I_TERTIARY_E, I_FOOTBRIDGE = 2, 12, 16, 17
J_SECONDARY, J_TERTIARY_S, J_TERTIARY_N, J_PEDESTRIAN = 3, 8, 13, 7
ARTERIAL_X = 500.0
SIDEWALK_OFFSET = 15.0  # separate sidewalks of the arterial, metres from its centre line
SIGNAL_Y = -600.0  # the one signalised crossing of the arterial
TOWN_AB_X = -400.0  # boundary between townships A and B (south of the river)
INDUSTRIAL = box(1300.0, -1500.0, 2000.0, -1050.0)

COL_NAMES = [
    "松风街",
    "竹影街",
    "河西街",
    "梅香街",
    "桂花街",
    "兰草街",
    "荷风街",
    "柳丝街",
    "枫叶街",
    "桃李街",
    "杏花街",
    "星辰街",
    "示例大道",
    "学府街",
    "明珠街",
    "金桥街",
    "河东街",
    "玉泉街",
    "清溪街",
    "云岭街",
]
ROW_NAMES = [
    "南一路",
    "南二路",
    "南三路",
    "育英路",
    "春晖路",
    "秋实路",
    "晨光路",
    "锦绣路",
    "中心路",
    "和平路",
    "滨江南路",
    "滨江北路",
    "北一路",
    "丙镇大街",
    "北三路",
    "北四路",
]

TOWNSHIPS = [  # code (fake: 9xx is not used by real Yueqing townships), name, x-range / side of the river
    ("330382901000", "示例甲街道"),
    ("330382902000", "示例乙街道"),
    ("330382903000", "示例丙镇"),
]
COMMUNITY_STEMS = [
    "青松",
    "翠竹",
    "梅园",
    "桂园",
    "兰亭",
    "荷塘",
    "柳岸",
    "枫林",
    "桃源",
    "杏坛",
    "星河",
    "月湖",
    "晨光",
    "朝阳",
    "春晖",
    "秋实",
    "锦绣",
    "和谐",
    "明珠",
    "金桥",
    "银湖",
    "玉泉",
    "石门",
    "清溪",
    "云岭",
    "芳草",
    "长乐",
    "永安",
    "太平",
    "新华",
]


def river_y(x: np.ndarray | float) -> np.ndarray:
    """Centre line of the (invented) river 示例江, local metres."""
    return 600.0 + 60.0 * np.sin(2.0 * np.pi * (np.asarray(x, dtype=float) + 2000.0) / 2600.0)


# --- small containers ---------------------------------------------------------------------------------------
@dataclass
class Line:
    coords: np.ndarray
    tags: dict
    walk: bool = True  # noded with the other walkable lines
    trim: str = ""  # "", "both", "start", "end": cut to the first/last junction with other lines
    role: str = ""  # "street", "path", ... (used to place homes and facilities)


@dataclass
class Sample:
    lines: list[Line]
    areas: list[tuple[np.ndarray, dict]]  # closed rings (metric) with tags, written as closed ways
    pois: list[tuple[np.ndarray, dict]]  # OSM POI nodes
    townships: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    facilities: pd.DataFrame
    parks: gpd.GeoDataFrame
    pilots: pd.DataFrame
    homes: gpd.GeoDataFrame
    extra: dict = field(default_factory=dict)


# --- coordinate helpers -------------------------------------------------------------------------------------
_TO_METRIC = Transformer.from_crs(4326, METRIC_EPSG, always_xy=True)
_E0, _N0 = (round(v) for v in _TO_METRIC.transform(*CENTRE_LONLAT))
_TO_WGS = Transformer.from_crs(METRIC_EPSG, 4326, always_xy=True)


def to_lonlat(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local metres -> WGS84 lon/lat degrees (EPSG:4549 is CGCS2000; taken as WGS84 at this accuracy)."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    lon, lat = _TO_WGS.transform(xy[:, 0] + _E0, xy[:, 1] + _N0)
    return np.asarray(lon), np.asarray(lat)


def to_gk(geoms):
    """Shift local-metre geometries to EPSG:4549 coordinates."""
    return shapely.transform(geoms, lambda c: c + np.array([_E0, _N0]))


# --- street network -----------------------------------------------------------------------------------------
def _grid_points(rng: np.random.Generator) -> np.ndarray:
    P = np.zeros((N_COLS, N_ROWS, 2))
    ys = ROW_Y_SOUTH + [np.nan, np.nan] + ROW_Y_NORTH
    jit = rng.uniform(-12.0, 12.0, size=(N_COLS, N_ROWS, 2))
    for j in range(N_ROWS):
        for i in range(N_COLS):
            if j == J_BANK_S:
                P[i, j] = COL_X[i], float(river_y(COL_X[i])) - 50.0
            elif j == J_BANK_N:
                P[i, j] = COL_X[i], float(river_y(COL_X[i])) + 50.0
            else:
                dx = 0.0 if i in (I_ARTERIAL, I_TERTIARY_W, I_TERTIARY_E) else jit[i, j, 0]
                P[i, j] = COL_X[i] + dx, ys[j] + jit[i, j, 1]
    return P


def _segment_classes() -> tuple[np.ndarray, np.ndarray]:
    """Highway class per horizontal segment H[i, j] (P[i,j]-P[i+1,j]) and vertical V[i, j] (P[i,j]-P[i,j+1]).

    An empty string means no street there.
    """
    H = np.full((N_COLS - 1, N_ROWS), "residential", dtype=object)
    V = np.full((N_COLS, N_ROWS - 1), "residential", dtype=object)
    H[:, J_SECONDARY] = "secondary"
    H[:, J_TERTIARY_S] = "tertiary"
    H[:, J_TERTIARY_N] = "tertiary"
    H[14:16, J_PEDESTRIAN] = "pedestrian"  # 示例商业步行街, x 900-1300
    H[1:3, J_PEDESTRIAN] = "living_street"  # 示例老街 in township A
    V[I_ARTERIAL, :] = "primary"
    V[I_TERTIARY_W, :] = "tertiary"
    V[I_TERTIARY_E, :J_BANK_S] = "tertiary"
    V[:, J_BANK_S] = ""  # the river: only bridges cross it
    V[I_ARTERIAL, J_BANK_S] = "primary"
    V[I_TERTIARY_W, J_BANK_S] = "tertiary"
    V[I_FOOTBRIDGE, J_BANK_S] = "footway"
    V[15, 4:6] = "living_street"  # lane between park and hospital
    return H, V


# streets kept when pruning: around school PS02, the village park PK04, and those carrying service roads
_KEEP_SEGMENTS = {
    ("H", 12, 6),
    ("H", 12, 5),
    ("V", 13, 5),
    ("H", 6, 12),
    ("H", 6, 13),
    ("H", 5, 1),
    ("H", 8, 6),
    ("H", 17, 1),
    ("H", 3, 12),
    ("V", 10, 13),
}


def _prune_grid(rng: np.random.Generator, H: np.ndarray, V: np.ndarray) -> None:
    """Remove some residential segments (irregular blocks, dead ends), keeping the grid connected."""
    H[14, 5] = ""  # inside 示例中心公园 (x 900-1100, rows -690..-310): replaced by a park footway

    def n_components() -> int:
        rows, cols = [], []
        for (i, j), c in np.ndenumerate(H):
            if c:
                rows.append(i * N_ROWS + j)
                cols.append((i + 1) * N_ROWS + j)
        for (i, j), c in np.ndenumerate(V):
            if c:
                rows.append(i * N_ROWS + j)
                cols.append(i * N_ROWS + j + 1)
        n = N_COLS * N_ROWS
        m = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
        _, lab = connected_components(m, directed=False)
        used = np.unique(np.r_[rows, cols])
        return len(np.unique(lab[used]))

    cand = [("H", i, j) for (i, j), c in np.ndenumerate(H) if c == "residential"]
    cand += [("V", i, j) for (i, j), c in np.ndenumerate(V) if c == "residential"]
    order = rng.permutation(len(cand))
    for k in order:
        kind, i, j = cand[k]
        arr = H if kind == "H" else V
        north = j >= J_BANK_N
        p = 0.30 if north else 0.12
        if (kind, i, j) in _KEEP_SEGMENTS:
            continue
        if rng.random() < p:
            old = arr[i, j]
            arr[i, j] = ""
            if n_components() != 1:
                arr[i, j] = old


def _street_tags(rng: np.random.Generator, cls: str, name: str) -> dict:
    t: dict = {"highway": cls, "name": name}
    if cls == "secondary":
        t.update(maxspeed="50", lanes="4", sidewalk="both", lit="yes", surface="asphalt")
    elif cls == "tertiary":
        t.update(maxspeed="40", lanes="2", lit="yes")
        if rng.random() < 0.6:
            t["sidewalk"] = "both"
    elif cls == "residential":
        r = rng.random()
        if r < 0.40:
            t["sidewalk"] = "both"
        elif r < 0.60:
            t["sidewalk"] = "no"
        elif r < 0.65:
            t["sidewalk"] = "right"
        r = rng.random()
        if r < 0.45:
            t["lit"] = "yes"
        elif r < 0.65:
            t["lit"] = "no"
        if rng.random() < 0.25:
            t["maxspeed"] = "30"
        if rng.random() < 0.3:
            t["surface"] = "asphalt"
    elif cls == "living_street" or cls == "pedestrian":
        t.update(lit="yes", surface="paving_stones")
    return t


def _run_lines(
    rng: np.random.Generator, pts: list[np.ndarray], classes: list[str], name: str, chunk: bool
) -> list[Line]:
    """Lines along one grid row/column: runs of equal class, cut into ways of 1-4 blocks."""
    out: list[Line] = []
    k = 0
    n = len(classes)
    while k < n:
        if not classes[k]:
            k += 1
            continue
        cls = classes[k]
        m = k
        while m < n and classes[m] == cls:
            m += 1
        s = k
        while s < m:
            e = min(m, s + int(rng.integers(1, 5))) if chunk else m
            coords = np.vstack([pts[q] for q in range(s, e)])
            out.append(Line(_dedupe(coords), _street_tags(rng, cls, name), role="street"))
            s = e
        k = m
    return out


def _dedupe(coords: np.ndarray) -> np.ndarray:
    keep = np.r_[True, np.any(np.abs(np.diff(coords, axis=0)) > 1e-9, axis=1)]
    return coords[keep]


def _hseg(P: np.ndarray, i: int, j: int) -> np.ndarray:
    """Vertices of the horizontal segment H[i, j] (bank rows follow the river curve)."""
    a, b = P[i, j], P[i + 1, j]
    if j in (J_BANK_S, J_BANK_N):
        xs = np.arange(a[0], b[0] + 1e-6, 50.0)
        off = -50.0 if j == J_BANK_S else 50.0
        return np.column_stack([xs, river_y(xs) + off])
    return np.vstack([a, b])


def build_lines(rng: np.random.Generator) -> tuple[list[Line], np.ndarray, dict]:
    P = _grid_points(rng)
    H, V = _segment_classes()
    _prune_grid(rng, H, V)
    lines: list[Line] = []

    # rows (east-west)
    for j in range(N_ROWS):
        segs = [_hseg(P, i, j) for i in range(N_COLS - 1)]
        classes = list(H[:, j])
        major = j in (J_SECONDARY, J_TERTIARY_S, J_TERTIARY_N)
        for ln in _run_lines(rng, segs, classes, ROW_NAMES[j], chunk=not major):
            if ln.tags["highway"] == "pedestrian":
                ln.tags["name"] = "示例商业步行街"
            if ln.tags["highway"] == "living_street":
                ln.tags["name"] = "示例老街"
            lines.append(ln)
        if major:  # the road continues to the edge of the area
            lines.append(
                Line(
                    np.array([[-HALF_W, P[0, j, 1]], P[0, j]]),
                    _street_tags(rng, H[0, j], ROW_NAMES[j]),
                    role="street",
                )
            )
            lines.append(
                Line(
                    np.array([P[-1, j], [HALF_W, P[-1, j, 1]]]),
                    _street_tags(rng, H[-1, j], ROW_NAMES[j]),
                    role="street",
                )
            )

    # columns (north-south), except the arterial and the river crossings
    for i in range(N_COLS):
        if i == I_ARTERIAL:
            continue
        for part in (range(J_BANK_S), range(J_BANK_N, N_ROWS - 1)):
            segs = [np.vstack([P[i, j], P[i, j + 1]]) for j in part]
            classes = [V[i, j] for j in part]
            chunk = i not in (I_TERTIARY_W, I_TERTIARY_E)
            for ln in _run_lines(rng, segs, classes, COL_NAMES[i], chunk=chunk):
                if ln.tags["highway"] == "living_street":
                    ln.tags["name"] = "医院巷"
                lines.append(ln)
    for i in (I_TERTIARY_W,):
        t = _street_tags(rng, "tertiary", COL_NAMES[i])
        lines.append(Line(np.array([[COL_X[i], -HALF_H], P[i, 0]]), dict(t), role="street"))
        lines.append(Line(np.array([P[i, -1], [COL_X[i], HALF_H]]), dict(t), role="street"))
    lines.append(
        Line(
            np.array([[COL_X[I_TERTIARY_E], -HALF_H], P[I_TERTIARY_E, 0]]),
            _street_tags(rng, "tertiary", COL_NAMES[I_TERTIARY_E]),
            role="street",
        )
    )

    # river crossings: approach, bridge (bridge=yes, layer=1), approach
    for i in (I_TERTIARY_W, I_FOOTBRIDGE):
        x = COL_X[i]
        r = float(river_y(x))
        if i == I_FOOTBRIDGE:
            t = {"highway": "footway", "name": "示例江步行桥", "lit": "yes", "surface": "paving_stones"}
        else:
            t = {
                "highway": "tertiary",
                "name": COL_NAMES[i],
                "maxspeed": "40",
                "lanes": "2",
                "lit": "yes",
                "sidewalk": "both",
            }
        lines.append(Line(np.array([P[i, J_BANK_S], [x, r - 22.0]]), dict(t), role="street"))
        lines.append(
            Line(np.array([[x, r - 22.0], [x, r + 22.0]]), dict(t, bridge="yes", layer="1"), role="street")
        )
        lines.append(Line(np.array([[x, r + 22.0], P[i, J_BANK_N]]), dict(t), role="street"))

    # the arterial 示例大道: south end without sidewalks (6 lanes), separate sidewalks (6 lanes), bridge and
    # the north part with sidewalks on the carriageway (4 lanes)
    ax = ARTERIAL_X
    ra = float(river_y(ax))
    art = {"highway": "primary", "name": "示例大道", "maxspeed": "60", "lit": "yes", "surface": "asphalt"}
    ys_south = [P[I_ARTERIAL, j, 1] for j in range(J_BANK_S + 1)]
    lines.append(
        Line(
            np.array([[ax, -HALF_H], [ax, ys_south[0]], [ax, ys_south[1]]]),
            dict(art, lanes="6", sidewalk="no"),
            role="arterial",
        )
    )
    lines.append(
        Line(
            np.array([[ax, y] for y in ys_south[1:]]),
            dict(art, lanes="6", sidewalk="separate"),
            role="arterial",
        )
    )
    lines.append(
        Line(
            np.array([[ax, ys_south[-1]], [ax, ra - 22.0]]),
            dict(art, lanes="4", sidewalk="both"),
            role="arterial",
        )
    )
    lines.append(
        Line(
            np.array([[ax, ra - 22.0], [ax, ra + 22.0]]),
            dict(art, lanes="4", sidewalk="both", bridge="yes", layer="1", name="示例大桥"),
            role="arterial",
        )
    )
    ys_north = [P[I_ARTERIAL, j, 1] for j in range(J_BANK_N, N_ROWS)]
    lines.append(
        Line(
            np.array([[ax, ra + 22.0]] + [[ax, y] for y in ys_north] + [[ax, HALF_H]]),
            dict(art, lanes="4", sidewalk="both"),
            role="arterial",
        )
    )
    # separate sidewalks (footway=sidewalk) from row 1 to the south bank road, cut to their junctions
    y0, y1 = ys_south[1] - 8.0, ys_south[-1] + 8.0
    for side in (-1.0, 1.0):
        x = ax + side * SIDEWALK_OFFSET
        lines.append(
            Line(
                np.array([[x, y0], [x, y1]]),
                {"highway": "footway", "footway": "sidewalk", "lit": "yes", "surface": "paving_stones"},
                trim="both",
                role="sidewalk",
            )
        )
    # the one signalised crossing: footway=crossing joining the two sidewalks through a node on the arterial
    lines.append(
        Line(
            np.array([[ax - SIDEWALK_OFFSET, SIGNAL_Y], [ax + SIDEWALK_OFFSET, SIGNAL_Y]]),
            {"highway": "footway", "footway": "crossing", "crossing": "traffic_signals"},
            role="crossing",
        )
    )

    info = {"P": P, "H": H, "V": V}
    return lines, P, info


def park_geometry(P: np.ndarray) -> list[dict]:
    """Park polygons (local metres) with names and categories."""

    def block(i0, j0, i1, j1, inset=20.0):
        poly = Polygon([P[i0, j0], P[i1, j0], P[i1, j1], P[i0, j1]])
        return poly.buffer(-inset, join_style="mitre")

    def corner(i, j, w, h, sx=1, sy=1):
        x, y = P[i, j]
        x0, y0 = x + sx * 15.0, y + sy * 15.0
        return box(min(x0, x0 + sx * w), min(y0, y0 + sy * h), max(x0, x0 + sx * w), max(y0, y0 + sy * h))

    xs = np.arange(900.0, 1700.0 + 1e-6, 50.0)
    strip = Polygon(
        np.vstack(
            [np.column_stack([xs, river_y(xs) - 46.0]), np.column_stack([xs[::-1], river_y(xs[::-1]) - 24.0])]
        )
    )
    return [
        dict(id="PK01", name="示例中心公园", geom=block(14, 4, 15, 6)),
        dict(id="PK02", name="示例西苑公园", geom=block(3, 4, 4, 5)),
        dict(id="PK03", name="示例滨江公园", geom=strip),
        dict(id="PK04", name="示例丙镇文化公园", geom=block(6, 12, 7, 13, inset=55.0)),
        dict(id="PK05", name="示例翠竹口袋公园", geom=corner(9, 2, 45, 50)),
        dict(id="PK06", name="示例桂园口袋公园", geom=corner(11, 7, 55, 60, sx=-1, sy=-1)),
        dict(id="PK07", name="示例荷塘口袋公园", geom=corner(1, 8, 35, 45)),
        dict(id="PK08", name="示例云岭口袋公园", geom=corner(15, 12, 60, 70)),
        dict(id="PK09", name="示例星河口袋公园", geom=corner(18, 4, 40, 45, sx=-1)),
        dict(id="PK10", name="示例和谐公园", geom=corner(13, 8, 80, 70)),
    ]


# Sites laid over the base town: two parks of >= 0.5 ha inside blocks (behind the homes on their streets)
# and a second primary school for the north of 示例甲街道. Their random draws come from their own generator
# and the plots they take are emptied after the homes are drawn (see make_sample), so the base town --
# streets, homes, children -- does not depend on them.
ADDED_PARKS = [  # id, name, block corners (i0, j0, i1, j1) on the grid, inset from the block's streets (m)
    ("PK11", "示例锦绣公园", (8, 7, 9, 8), 50.0),  # between the 锦绣 and 晨光 compounds
    ("PK12", "示例枫林公园", (5, 8, 6, 9), 50.0),  # 枫林社区, 示例甲街道
]
ADDED_SCHOOLS = [  # id, name, 类型, wanted local xy, capacity
    ("PS09", "示例甲街道第二小学", "小学", (-700.0, 250.0), 1080),  # 枫林社区
]


def added_park_geometry(P: np.ndarray) -> list[dict]:
    """The parks of ``ADDED_PARKS`` (local metres): the inner part of a block, ``inset`` m from its
    streets."""
    out = []
    for pid, name, (i0, j0, i1, j1), inset in ADDED_PARKS:
        poly = Polygon([P[i0, j0], P[i1, j0], P[i1, j1], P[i0, j1]]).buffer(-inset, join_style="mitre")
        out.append(dict(id=pid, name=name, geom=poly))
    return out


# --- school zones (GA/T 1215-2014 中小学与幼儿园校园周边道路交通设施设置规范) ----------------------------------------
# GA/T 1215-2014: the roads within 150 m of a school gate carry a 30 km/h limit, and a marked pedestrian
# crossing (人行横道线) lies within 50 m of the gate. In the sample about a third of the schools and
# kindergartens have both in place, some only the crossing, the rest neither (schools beside the 40-50 km/h
# roads).
SCHOOL_ZONE_RADIUS_M = 150.0  # [GA/T 1215-2014 3.2] roads within 150 m of the gate
ZONE_COMPLETE = ("KG03", "KG08", "KG09", "KG10", "KG19", "PS02", "PS05", "MS04", "PS08", "KG15")
ZONE_CROSSING_ONLY = ("PS01", "KG07")  # a zebra at the gate, but a 40-50 km/h road within 150 m
# a 30 km/h section (学校区域) of the tertiary 河东街 in front of 示例春晖小学 and 示例春晖幼儿园: (x, y0, y1), local m
SCHOOL_ZONE_SECTION = (COL_X[I_TERTIARY_E], -480.0, -80.0)
ZEBRA = {"highway": "crossing", "crossing": "marked", "crossing_ref": "zebra"}


def _insert_vertex(ln: Line, q: np.ndarray) -> np.ndarray:
    """Put point ``q`` (on the line) among its vertices unless one lies within 1 cm; returns the vertex."""
    d_v = np.hypot(*(ln.coords - q).T)
    if d_v.min() <= 0.01:
        return ln.coords[int(np.argmin(d_v))].copy()
    g = LineString(ln.coords)
    seg = np.hypot(*np.diff(ln.coords, axis=0).T)
    at = float(g.project(Point(q)))
    k = int(np.searchsorted(np.cumsum(seg), at))  # q lies on segment k (vertices k, k+1)
    ln.coords = np.vstack([ln.coords[: k + 1], q, ln.coords[k + 1 :]])
    return q


def _split_section(lines: list[Line], name: str, x: float, y0: float, y1: float, tags: dict) -> None:
    """Cut the north-south way ``name`` at x at y0 and y1; the middle piece gets ``tags`` added."""
    k = next(
        k
        for k, ln in enumerate(lines)
        if ln.tags.get("name") == name
        and ln.role == "street"
        and ln.coords[:, 1].min() < y0
        and ln.coords[:, 1].max() > y1
        and np.allclose(ln.coords[:, 0], x)
    )
    ln = lines[k]
    c = ln.coords[::-1] if ln.coords[0, 1] > ln.coords[-1, 1] else ln.coords  # south to north
    inner = c[(c[:, 1] > y0) & (c[:, 1] < y1)]
    south = np.vstack([c[c[:, 1] < y0], [x, y0]])
    middle = np.vstack([[x, y0], inner, [x, y1]])
    north = np.vstack([[x, y1], c[c[:, 1] > y1]])
    lines[k : k + 1] = [
        Line(south, dict(ln.tags), role=ln.role),
        Line(middle, dict(ln.tags, **tags), role=ln.role),
        Line(north, dict(ln.tags), role=ln.role),
    ]


def school_zone_streets(lines: list[Line], fac_xy: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Lay out the school zones: 30 km/h streets and the places of the zebra crossings at the gates.

    The 30 km/h section of 河东街 is cut out of its way; the residential streets within 150 m of a school of
    ``ZONE_COMPLETE`` get ``maxspeed=30`` (a signed limit instead of the untagged default); a vertex is put on
    the street in front of each school of ``ZONE_COMPLETE`` and ``ZONE_CROSSING_ONLY`` (the point of that
    street nearest the school, 20-35 m from it): the crossings are tagged there once the OSM nodes exist
    (:func:`tag_crossings`).
    Returns the crossing points (local metres).
    """
    x, y0, y1 = SCHOOL_ZONE_SECTION
    _split_section(lines, COL_NAMES[I_TERTIARY_E], x, y0, y1, {"maxspeed": "30"})
    streets = StreetIndex(lines)
    points = []
    for fid in ZONE_COMPLETE + ZONE_CROSSING_ONLY:
        p = Point(fac_xy[fid])
        k = int(streets.tree.nearest(p))
        ln = streets.lines[k]
        q = np.asarray(shapely.shortest_line(streets.geoms[k], p).coords[0])
        points.append(_insert_vertex(ln, q))
    zone = shapely.union_all([Point(fac_xy[fid]).buffer(SCHOOL_ZONE_RADIUS_M) for fid in ZONE_COMPLETE])
    for ln in lines:
        if (
            ln.role == "street"
            and ln.tags.get("highway") == "residential"
            and "maxspeed" not in ln.tags
            and zone.intersects(LineString(ln.coords))
        ):
            ln.tags["maxspeed"] = "30"
    return points


def park_paths(P: np.ndarray, parks: list[dict]) -> list[Line]:
    fw = {"highway": "footway", "lit": "yes", "surface": "paving_stones"}
    out = [
        Line(np.vstack([P[14, 5], P[15, 5]]), dict(fw, name="公园步道"), role="path"),
        Line(np.vstack([P[14, 4], P[15, 6]]), dict(fw), role="path"),
        Line(np.vstack([P[15, 4], P[14, 6]]), dict(fw, lit="no"), role="path"),
        Line(np.vstack([P[3, 4], P[4, 5]]), dict(fw), role="path"),
        Line(np.vstack([P[4, 4], P[3, 5]]), dict(fw, lit="no"), role="path"),
    ]
    ring = np.asarray(parks[0]["geom"].buffer(-40.0, join_style="mitre").exterior.coords)
    out.append(Line(ring, {"highway": "path", "surface": "gravel", "lit": "no"}, role="path"))
    xs = np.arange(900.0, 1700.0 + 1e-6, 50.0)
    out.append(Line(np.column_stack([xs, river_y(xs) - 35.0]), dict(fw, name="滨江步道"), role="path"))
    for i in (14, 16, 18):
        x = COL_X[i]
        out.append(Line(np.array([P[i, J_BANK_S], [x, float(river_y(x)) - 35.0]]), dict(fw), role="path"))
    # a path through the village park (PK04), from street to street
    c = np.asarray(parks[3]["geom"].centroid.coords[0])
    out.append(
        Line(
            np.array([[c[0], P[6, 12, 1] - 30.0], [c[0], P[6, 13, 1] + 30.0]]),
            {"highway": "path", "surface": "gravel"},
            trim="both",
            role="path",
        )
    )
    return out


def service_roads(rng: np.random.Generator, P: np.ndarray) -> list[Line]:
    """Short dead-end service roads into blocks (driveways, parking aisles)."""
    specs = [  # start near a street (overshooting it by 3 m), direction, length, service type
        ((P[13, 6] + P[13, 5]) / 2 + [3.0, 0.0], (-1.0, 0.0), 80.0, "driveway"),  # school PS02
        ((P[16, 5] + P[16, 4]) / 2 + [-3.0, 0.0], (1.0, 0.0), 90.0, "parking_aisle"),  # hospital
        ((P[5, 1] + P[6, 1]) / 2 + [0.0, -3.0], (0.0, 1.0), 70.0, "driveway"),
        ((P[8, 6] + P[9, 6]) / 2 + [0.0, 3.0], (0.0, -1.0), 60.0, "driveway"),
        ((P[17, 1] + P[18, 1]) / 2 + [0.0, 3.0], (0.0, -1.0), 110.0, "driveway"),  # industrial
        ((P[3, 12] + P[4, 12]) / 2 + [0.0, -3.0], (0.0, 1.0), 70.0, "driveway"),
        ((P[10, 13] + P[10, 14]) / 2 + [-3.0, 0.0], (1.0, 0.0), 60.0, "parking_aisle"),
    ]
    out = []
    for start, d, length, kind in specs:
        s = np.asarray(start, dtype=float)
        e = s + np.asarray(d) * length
        out.append(
            Line(np.vstack([s, e]), {"highway": "service", "service": kind}, trim="start", role="service")
        )
    return out


def node_lines(lines: list[Line]) -> None:
    """Insert every intersection of walkable lines as a vertex of both (OSM ways share junction nodes)."""
    walk = [k for k, ln in enumerate(lines) if ln.walk]
    geoms = np.array([LineString(lines[k].coords) for k in walk], dtype=object)
    tree = shapely.STRtree(geoms)
    a_idx, b_idx = tree.query(geoms, predicate="intersects")
    keep = a_idx < b_idx
    pairs = sorted(zip(a_idx[keep].tolist(), b_idx[keep].tolist()))
    inserts: dict[int, list[np.ndarray]] = {}
    for a, b in pairs:
        inter = shapely.intersection(geoms[a], geoms[b])
        if inter.geom_type not in ("Point", "MultiPoint"):
            raise RuntimeError(f"lines overlap: {lines[walk[a]].tags} / {lines[walk[b]].tags}")
        pts = shapely.get_coordinates(inter)
        inserts.setdefault(a, []).append(pts)
        inserts.setdefault(b, []).append(pts)
    missing = [k for k, j in enumerate(walk) if lines[j].trim and k not in inserts]
    if missing:
        raise RuntimeError(f"lines meet no other line: {[lines[walk[k]].tags for k in missing]}")
    for a, pts_list in inserts.items():
        ln = lines[walk[a]]
        g = geoms[a]
        pts = np.vstack(pts_list)
        d_new = shapely.line_locate_point(g, shapely.points(pts))
        seg = np.hypot(*np.diff(ln.coords, axis=0).T)
        d_old = np.r_[0.0, np.cumsum(seg)]
        d = np.r_[d_old, d_new]
        xy = np.vstack([ln.coords, pts])
        rank = np.r_[np.zeros(len(d_old)), np.ones(len(d_new))]
        order = np.lexsort((rank, d))
        d, xy = d[order], xy[order]
        if ln.trim == "both" and len(np.unique(np.round(d_new, 3))) < 2:
            raise RuntimeError(f"line {ln.tags} meets fewer than two other lines")
        if ln.trim in ("both", "start"):
            lo = d_new.min()
            sel = d >= lo - 1e-6
            d, xy = d[sel], xy[sel]
        if ln.trim in ("both", "end"):
            hi = d_new.max()
            sel = d <= hi + 1e-6
            d, xy = d[sel], xy[sel]
        keep = np.r_[True, np.diff(d) > 1e-6]
        ln.coords = xy[keep]


@dataclass
class OsmData:
    node_xy: np.ndarray  # (n, 2) local metres, index = node id - 1
    node_tags: dict[int, dict]
    ways: list[tuple[list[int], dict]]


def build_osm(
    lines: list[Line],
    areas: list[tuple[np.ndarray, dict]],
    pois: list[tuple[np.ndarray, dict]],
    open_ways: list[tuple[np.ndarray, dict]] = (),
) -> OsmData:
    """Number nodes (junctions shared within 1 cm), densify ways, add areas, other ways and POI nodes."""
    walk_lines = [ln for ln in lines if ln.walk]
    allxy = np.vstack([ln.coords for ln in walk_lines])
    tree = cKDTree(allxy)
    pairs = tree.query_pairs(r=0.01, output_type="ndarray")
    n = len(allxy)
    lab = np.arange(n)
    if len(pairs):
        m = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        _, lab = connected_components(m, directed=False)
    # canonical point per cluster = first occurrence; ids in order of first occurrence
    first = {}
    order_ids = np.empty(n, dtype=np.int64)
    xy_list: list[np.ndarray] = []
    for k in range(n):
        c = lab[k]
        if c not in first:
            first[c] = len(xy_list) + 1
            xy_list.append(allxy[k])
        order_ids[k] = first[c]
    node_tags: dict[int, dict] = {}
    ways: list[tuple[list[int], dict]] = []
    pos = 0
    for ln in walk_lines:
        ids = order_ids[pos : pos + len(ln.coords)].tolist()
        pos += len(ln.coords)
        refs: list[int] = []
        for a, b in zip(ids[:-1], ids[1:]):
            if not refs:
                refs.append(a)
            if a == b:
                continue
            pa, pb = xy_list[a - 1], xy_list[b - 1]
            dist = float(np.hypot(*(pb - pa)))
            k = math.ceil(dist / MAX_SEGMENT_M) - 1
            for q in range(1, k + 1):
                xy_list.append(pa + (pb - pa) * q / (k + 1))
                refs.append(len(xy_list))
            refs.append(b)
        if len(refs) >= 2:
            ways.append((refs, ln.tags))
    for ring, tags in areas:
        refs = []
        for p in ring[:-1]:
            xy_list.append(np.asarray(p, dtype=float))
            refs.append(len(xy_list))
        refs.append(refs[0])
        ways.append((refs, tags))
    for coords, tags in open_ways:  # e.g. the river: its own nodes, no junction with streets
        refs = []
        for p in coords:
            xy_list.append(np.asarray(p, dtype=float))
            refs.append(len(xy_list))
        ways.append((refs, tags))
    for p, tags in pois:
        xy_list.append(np.asarray(p, dtype=float))
        node_tags[len(xy_list)] = tags
    return OsmData(np.vstack(xy_list), node_tags, ways)


def _find_node(osm: OsmData, xy, tol: float = 0.5) -> int:
    d = np.hypot(*(osm.node_xy - np.asarray(xy)).T)
    k = int(np.argmin(d))
    if d[k] > tol:
        raise RuntimeError(f"no node at {xy} (nearest {d[k]:.2f} m)")
    return k + 1


def tag_crossings(osm: OsmData, P: np.ndarray, gates: list[np.ndarray] | None = None) -> dict:
    """Signals on the arterial, marked/zebra/uncontrolled crossings on the secondary and tertiary roads, and
    a zebra crossing at each point of ``gates`` (local metres; vertices from :func:`school_zone_streets`)."""
    sig = _find_node(osm, (ARTERIAL_X, SIGNAL_Y))
    osm.node_tags[sig] = {
        "highway": "traffic_signals",
        "crossing": "traffic_signals",
        "crossing_island": "no",
    }
    specs = [
        (
            (4, J_SECONDARY),
            {"highway": "crossing", "crossing": "marked", "crossing_ref": "zebra", "kerb": "lowered"},
        ),
        ((7, J_SECONDARY), {"highway": "crossing", "crossing": "zebra", "crossing_island": "yes"}),
        ((10, J_SECONDARY), {"highway": "crossing", "crossing": "uncontrolled"}),
        ((15, J_SECONDARY), {"highway": "crossing", "crossing": "unmarked"}),
        ((13, 6), {"highway": "crossing", "crossing": "marked", "crossing_ref": "zebra"}),  # at school PS02
        ((5, J_TERTIARY_S), {"highway": "crossing", "crossing": "marked", "crossing_ref": "zebra"}),
        ((9, J_TERTIARY_S), {"highway": "crossing", "crossing": "uncontrolled"}),
        ((I_TERTIARY_W, 5), {"highway": "crossing", "crossing": "zebra"}),
        ((I_TERTIARY_W, 13), {"highway": "crossing", "crossing": "uncontrolled"}),
        ((6, J_TERTIARY_N), {"highway": "crossing", "crossing": "marked"}),
    ]
    tagged = {"signals": sig}
    for (i, j), tags in specs:
        nid = _find_node(osm, P[i, j])
        osm.node_tags[nid] = tags
        tagged[(i, j)] = nid
    for q in gates or []:
        nid = _find_node(osm, q, tol=0.01)
        if nid in osm.node_tags:
            raise RuntimeError(f"the crossing at a school gate {q} falls on a tagged node")
        osm.node_tags[nid] = dict(ZEBRA)
        tagged.setdefault("gates", []).append(nid)
    return tagged


# --- placing things near streets ----------------------------------------------------------------------------
class StreetIndex:
    """Nearest street (not the arterial, not footways) to a point, for building entrances and addresses."""

    def __init__(self, lines: list[Line]):
        self.lines = [ln for ln in lines if ln.role == "street" and ln.tags.get("highway") != "footway"]
        self.geoms = np.array([LineString(ln.coords) for ln in self.lines], dtype=object)
        self.tree = shapely.STRtree(self.geoms)

    def near(self, xy, d: float = 25.0) -> tuple[np.ndarray, str]:
        p = Point(xy)
        k = int(self.tree.nearest(p))
        q = np.asarray(shapely.shortest_line(self.geoms[k], p).coords[0])
        v = np.asarray(xy, dtype=float) - q
        nv = float(np.hypot(*v))
        v = v / nv if nv > 1e-6 else np.array([0.70710678, 0.70710678])
        return q + d * v, self.lines[k].tags.get("name", "")


# --- the sample ---------------------------------------------------------------------------------------------
def township_polygons() -> list[Polygon]:
    xs = np.arange(-HALF_W, HALF_W + 1e-6, 50.0)
    south = Polygon(
        np.vstack([[[-HALF_W, -HALF_H], [HALF_W, -HALF_H]], np.column_stack([xs[::-1], river_y(xs[::-1])])])
    )
    area = box(-HALF_W, -HALF_H, HALF_W, HALF_H)
    a = south.intersection(box(-HALF_W, -HALF_H, TOWN_AB_X, HALF_H))
    b = south.intersection(box(TOWN_AB_X, -HALF_H, HALF_W, HALF_H))
    c = area.difference(south)
    return [shapely.normalize(a), shapely.normalize(b), shapely.normalize(c)]


def community_polygons(rng, towns: list[Polygon]) -> list[tuple[int, Polygon]]:
    layouts = [  # township index, x range, y range, columns, rows
        (0, (-HALF_W, TOWN_AB_X), (-HALF_H, 560.0), 2, 4),
        (1, (TOWN_AB_X, HALF_W), (-HALF_H, 560.0), 4, 3),
        (2, (-HALF_W, HALF_W), (640.0, HALF_H), 5, 2),
    ]
    out = []
    for t, (x0, x1), (y0, y1), nc, nr in layouts:
        cw, rh = (x1 - x0) / nc, (y1 - y0) / nr
        seeds = []
        for r in range(nr):
            for c in range(nc):
                seeds.append(
                    (
                        x0 + (c + 0.5 + rng.uniform(-0.25, 0.25)) * cw,
                        y0 + (r + 0.5 + rng.uniform(-0.25, 0.25)) * rh,
                    )
                )
        vor = shapely.voronoi_polygons(
            shapely.multipoints(seeds), extend_to=box(-5000, -5000, 5000, 5000), ordered=True
        )
        for cell in shapely.get_parts(vor):
            g = cell.intersection(towns[t])
            if not g.is_empty:
                out.append((t, shapely.normalize(g)))
    return out


def _home_candidates(lines: list[Line], spacing: float = 30.0, offset: float = 20.0) -> np.ndarray:
    pts = []
    for ln in lines:
        if ln.role != "street" or ln.tags.get("highway") not in (
            "residential",
            "living_street",
            "tertiary",
            "secondary",
        ):
            continue
        g = LineString(ln.coords)
        if g.length < 40:
            continue
        d = np.arange(15.0, g.length - 14.0, spacing)
        a = shapely.get_coordinates(shapely.line_interpolate_point(g, np.maximum(d - 1.0, 0)))
        b = shapely.get_coordinates(shapely.line_interpolate_point(g, np.minimum(d + 1.0, g.length)))
        c = (a + b) / 2
        t = b - a
        nrm = np.column_stack([-t[:, 1], t[:, 0]]) / np.hypot(*t.T)[:, None]
        pts.append(c + offset * nrm)
        pts.append(c - offset * nrm)
    return np.vstack(pts)


# residential compounds (小区) of central 示例乙街道, each with its kindergarten and playground: (name of the
# compound's new kindergarten or "" when an existing one serves it, its capacity, name of the compound's
# playground, core in local metres)
COMPOUNDS = [
    ("示例晨光幼儿园", 180, "示例晨光小区儿童游戏场", (-150.0, -350.0)),
    ("", None, "示例桃李小区儿童游戏场", (-115.0, -720.0)),  # KG03
    ("示例学府幼儿园", 240, "示例学府小区儿童游戏场", (300.0, -450.0)),
    ("示例朝阳东苑幼儿园", 180, "示例朝阳东苑儿童游戏场", (760.0, -560.0)),
    ("", None, "示例和平小区儿童游戏场", (191.0, 88.0)),  # KG07
    ("示例锦绣幼儿园", 180, "示例锦绣小区儿童游戏场", (-200.0, 250.0)),
    ("示例和谐幼儿园", 210, "示例和谐小区儿童游戏场", (560.0, 250.0)),
    ("示例明珠幼儿园", 240, "示例明珠小区儿童游戏场", (1150.0, 400.0)),
    ("示例明珠东苑幼儿园", 180, "示例明珠东苑儿童游戏场", (1450.0, 250.0)),
    ("示例春晖幼儿园", 270, "示例春晖小区儿童游戏场", (1250.0, -250.0)),
    ("示例春晖南苑幼儿园", 180, "示例春晖南苑儿童游戏场", (1340.0, -600.0)),
    ("示例桂园幼儿园", 210, "示例桂园小区儿童游戏场", (-850.0, -650.0)),  # 示例甲街道
]
COMPOUND_L1 = 200.0
# facilities added where a planner would find them: schools of the central compounds, 母婴室 in public venues,
# one 儿童之家 per central community, playgrounds in the compounds
EXTRA_FACILITIES = [  # id, name, 类型, wanted local xy, capacity
    ("PS05", "示例锦绣小学", "小学", (20, 200), 1080),
    ("PS06", "示例和谐小学", "小学", (650, 180), 1080),
    ("PS07", "示例明珠小学", "小学", (1300, 330), 1350),
    ("PS08", "示例春晖小学", "小学", (1200, -380), 1080),
    ("KG19", "示例市机关幼儿园", "幼儿园", (1060, -280), 270),
    ("PG08", "示例春晖东苑儿童游戏场", "儿童游戏场地", (1420, -560), None),
    ("PG09", "示例商业步行街儿童乐园", "儿童游戏场地", (1000, -60), None),
    ("PG10", "示例科技馆儿童科普乐园", "儿童游戏场地", (1690, 60), None),
    ("PG11", "示例老街儿童游戏场", "儿童游戏场地", (-1560, -190), None),
    ("MB06", "示例锦绣社区党群服务中心母婴室", "母婴室", (-76, 79), None),
    ("MB07", "示例乙街道便民服务中心母婴室", "母婴室", (100, -420), None),
    ("MB08", "示例青少年宫母婴室", "母婴室", (1010, 320), None),
    ("MB09", "示例妇幼保健院母婴室", "母婴室", (-150, -1180), None),
    ("MB10", "示例科技馆母婴室", "母婴室", (1700, 120), None),
    ("MB11", "示例秋实社区服务中心母婴室", "母婴室", (1750, -450), None),
    ("MB12", "示例甲街道社区卫生服务中心母婴室", "母婴室", (-1210, -140), None),
    ("MB13", "示例和谐社区党群服务中心母婴室", "母婴室", (600, 230), None),
    ("CH03", "示例锦绣社区儿童之家", "儿童之家", (-20, 150), None),
    ("CH04", "示例和谐社区儿童之家", "儿童之家", (620, 200), None),
    ("CH05", "示例明珠社区儿童之家", "儿童之家", (1350, 350), None),
    ("CH06", "示例春晖社区儿童之家", "儿童之家", (1150, -220), None),
    ("CH07", "示例秋实社区儿童之家", "儿童之家", (1700, -250), None),
]


# attributes of the kindergartens (办园性质, 是否普惠, 办园等级) and children's homes (示范型) read by the plan
# indicators; columns added after 容量 so the other columns stay as they were
KG_ATTRIBUTES = {  # id: (办园性质, 是否普惠, 办园等级)
    "KG01": ("公办", "是", "省一级"),
    "KG02": ("民办", "是", "省三级"),
    "KG03": ("公办", "是", "省一级"),
    "KG04": ("民办", "是", "省二级"),
    "KG05": ("公办", "是", "省二级"),
    "KG06": ("民办", "否", "省三级"),
    "KG07": ("公办", "是", "省二级"),
    "KG08": ("民办", "是", "省二级"),
    "KG09": ("公办", "是", "省二级"),
    "KG10": ("民办", "否", "省三级"),
    "KG11": ("公办", "是", "省二级"),
    "KG12": ("民办", "是", "省三级"),
    "KG13": ("公办", "是", "省一级"),
    "KG14": ("民办", "是", "省三级"),
    "KG15": ("公办", "是", "省一级"),
    "KG16": ("民办", "是", "准办"),
    "KG17": ("民办", "是", "省二级"),
    "KG19": ("公办", "是", "省一级"),
}
# 开办年份 (opening year) of the kindergartens, as registers write it: the plan's "5,400 new public places" counts
# the places of public kindergartens opened in 2022 or later (here KG07, KG09, KG13: 240 + 240 + 240 = 720);
# KG08 and KG16 are new but private, KG17's year is not reported
KG_OPENED = {
    "KG01": "2009",
    "KG02": "2013",
    "KG03": "2012",
    "KG04": "2017",
    "KG05": "2016",
    "KG06": "2010",
    "KG07": "2022年9月",
    "KG08": "2023年9月",
    "KG09": "2023",
    "KG10": "2014",
    "KG11": "2015",
    "KG12": "2019",
    "KG13": "2024-09",
    "KG14": "2020",
    "KG15": "2018",
    "KG16": "2024",
    "KG19": "2011",
}
DEMONSTRATION_HOMES = {"CH01", "CH06"}  # 示范型儿童之家 (none in 示例丙镇, which has no children's home)
# infant-care register (托育机构, 0-3): id, name, 类型, wanted local xy, 托位数 (None: not reported), 性质
INFANT_CARE = [
    ("IC01", "示例甲街道托育服务中心", "托育机构", (-1250.0, -380.0), 25, "公办"),
    ("IC02", "示例荷塘婴幼儿照护服务驿站", "婴幼儿照护服务驿站", (-1650.0, -520.0), 15, "公办"),
    ("IC03", "示例乙街道普惠托育园", "托育机构", (-60.0, -680.0), 20, "民办普惠"),
    ("IC04", "示例学府托儿所", "托儿所", (330.0, -420.0), 15, "民办"),
    ("IC05", "示例春晖婴幼儿照护服务驿站", "婴幼儿照护服务驿站", (1280.0, -220.0), None, "公办"),
]
# public venues register (for the mother-and-baby-room rules): id, name, 类型, where (a facility id whose point
# it takes, shifted by a few metres, or local xy), 建筑面积 (m², text as planners write it), 日均客流
VENUES = [
    ("VN01", "示例商业步行街", "步行街", "MB01", "", "15000"),
    ("VN02", "示例市图书馆", "图书馆", "LB01", "8000", "2000"),
    ("VN03", "示例第一人民医院", "医院", "HP01", "45000", "6000"),
    ("VN04", "示例科技馆", "科技馆", "MB10", "12000", "3000"),
    ("VN05", "示例青少年宫", "青少年宫", "MB08", "6000", "1500"),
    ("VN06", "示例妇幼保健院", "妇幼保健院", "MB09", "9000", "2500"),
    ("VN07", "示例丙镇文体中心", "文体中心", (300.0, 1150.0), "5600", "800"),
    ("VN08", "示例汽车客运站", "客运站", (-1500.0, -1300.0), "3500", "12000"),
    ("VN09", "示例甲街道便民服务中心", "便民服务中心", "MB04", "2500", "600"),
    ("VN10", "示例丙镇农贸市场", "商场", (700.0, 1250.0), "1800", ""),
    ("VN11", "示例乙街道购物中心", "购物中心", (700.0, -900.0), "2.3万", "9000"),
]


def _plan_registers(
    all_facilities: pd.DataFrame, fxy: dict, streets: StreetIndex, towns: list[Polygon]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The infant-care and venue registers (no random draws: the other files keep their bytes)."""
    town_names = [t[1] for t in TOWNSHIPS]
    rows = []
    for fid, name, typ, want, places, kind in INFANT_CARE:
        xy, street = streets.near(want, d=25.0)
        rows.append(
            (fid, name, typ, xy, f"{town_names[_which(towns, xy)]}{street}（示例地址）", places, kind)
        )
    lon, lat = to_lonlat(np.vstack([r[3] for r in rows]))
    infant = pd.DataFrame(
        {
            "编号": [r[0] for r in rows],
            "名称": [r[1] for r in rows],
            "类型": [r[2] for r in rows],
            "经度": np.round(lon, 7),
            "纬度": np.round(lat, 7),
            "地址": [r[4] for r in rows],
            "托位数": pd.array([r[5] for r in rows], dtype="Int64"),
            "性质": [r[6] for r in rows],
        }
    )
    vxy = [
        np.asarray(fxy[w]) + [12.0, 8.0] if isinstance(w, str) else streets.near(w, d=25.0)[0]
        for _, _, _, w, _, _ in VENUES
    ]
    lon, lat = to_lonlat(np.vstack(vxy))
    venues = pd.DataFrame(
        {
            "编号": [v[0] for v in VENUES],
            "名称": [v[1] for v in VENUES],
            "类型": [v[2] for v in VENUES],
            "经度": np.round(lon, 7),
            "纬度": np.round(lat, 7),
            "建筑面积": [v[4] for v in VENUES],
            "日均客流": [v[5] for v in VENUES],
        }
    )
    return infant, venues


def _is_compound_community(township: int, g: Polygon) -> bool:
    """Communities built as compounds: those holding a compound core."""
    return any(g.covers(Point(c)) for *_, c in COMPOUNDS)


def _density_range(township: int, g: Polygon) -> tuple[float, float]:
    """Range of the home density (share of candidate plots taken) of a community, by where it lies."""
    x = g.centroid.x
    if township == 2:
        return 0.15, 0.3
    if township == 1:
        return (0.4, 0.55) if x < 1450.0 else (0.3, 0.45)
    return (0.45, 0.6) if x > -1200.0 else (0.25, 0.4)


def make_sample(seed: int = SEED) -> Sample:
    rng = np.random.default_rng(seed)
    lines, P, info = build_lines(rng)
    parks = park_geometry(P)
    lines += park_paths(P, parks)
    n_base_parks = len(parks)
    parks += added_park_geometry(P)
    lines += service_roads(rng, P)
    node_lines(lines)
    streets = StreetIndex(lines)

    # --- administrative units -------------------------------------------------------------------------------
    towns = township_polygons()
    comms = community_polygons(rng, towns)

    # --- school site, water, parks (areas) ------------------------------------------------------------------
    school_site = Polygon([P[12, 5], P[13, 5], P[13, 6], P[12, 6]]).buffer(-22.0, join_style="mitre")
    xs = np.arange(-HALF_W, HALF_W + 1e-6, 50.0)
    water = Polygon(
        np.vstack(
            [np.column_stack([xs, river_y(xs) - 20.0]), np.column_stack([xs[::-1], river_y(xs[::-1]) + 20.0])]
        )
    )
    river_line = np.column_stack([xs, river_y(xs)])

    # --- facilities -----------------------------------------------------------------------------------------
    r = river_y
    fac_specs = [  # id, name, 类型, wanted local xy (None: fixed below), capacity
        ("KG01", "示例甲街道中心幼儿园", "幼儿园", (-1300, -330), 270),
        ("KG02", "示例青松幼儿园", "幼儿园", (-1690, -1120), 180),
        ("KG03", "示例乙街道中心幼儿园", "幼儿园", (-110, -720), 360),
        ("KG04", "示例星河幼儿园", "幼儿园", (1500, -420), 270),
        ("KG05", "示例丙镇中心幼儿园", "幼儿园", (-200, float(r(-200)) + 90), 180),  # across the river
        ("KG06", "示例云岭幼儿园", "幼儿园", (1310, 1210), 150),
        ("KG07", "示例和平幼儿园", "幼儿园", (190, 110), 240),
        ("PS01", "示例甲街道第一小学", "小学", (-960, -820), 1620),
        ("PS02", "示例乙街道实验小学", "小学", (670, -365), 1800),  # east of the arterial
        ("PS03", "示例丙镇中心小学", "小学", (-800, float(r(-800)) + 90), 1080),  # north bank
        ("PS04", "示例星河小学", "小学", (1610, -910), 1350),
        ("MS01", "示例甲街道初级中学", "初中", (-1490, 160), 1200),
        ("MS02", "示例乙街道第二中学", "初中", (1100, -1090), 1500),
        ("MS03", "示例丙镇初级中学", "初中", (1200, 1010), 900),
        ("MS04", "示例乙街道第三中学", "初中", (850, -150), 1350),
        ("PG01", "示例中心公园儿童乐园", "儿童游戏场地", None, None),
        ("PG02", "示例西苑公园儿童游戏场", "儿童游戏场地", None, None),
        ("PG03", "示例滨江公园儿童游戏场", "儿童游戏场地", None, None),
        ("PG04", "示例翠竹小区儿童游戏场", "儿童游戏场地", (-310, -300), None),
        ("PG05", "示例金桥小区儿童游戏场", "儿童游戏场地", (210, -1110), None),
        ("PG06", "示例荷塘小区儿童游戏场", "儿童游戏场地", (-1710, -490), None),
        ("PG07", "示例丙镇儿童游戏场", "儿童游戏场地", (610, 1010), None),
        ("MB01", "示例商业步行街母婴室", "母婴室", (1110, -100), None),
        ("MB02", "示例市图书馆母婴室", "母婴室", (1010, 110), None),
        ("MB03", "示例第一人民医院母婴室", "母婴室", (1520, -590), None),
        ("MB04", "示例甲街道便民服务中心母婴室", "母婴室", (-1010, -510), None),
        ("MB05", "示例中心公园母婴室", "母婴室", None, None),
        ("CH01", "示例甲街道儿童之家", "儿童之家", (-990, -490), None),
        ("CH02", "示例乙街道儿童之家", "儿童之家", (90, -410), None),
        ("LB01", "示例市图书馆", "图书馆", (1000, 100), None),
        ("LB02", "示例丙镇图书分馆", "图书馆", (400, 1240), None),
        ("HP01", "示例第一人民医院（儿科）", "医院", (1500, -600), None),
        ("HP02", "示例甲街道社区卫生服务中心（儿科）", "医院", (-1210, -140), None),
    ]
    park_c = [np.asarray(p["geom"].centroid.coords[0]) for p in parks]
    fixed_xy = {
        "PG01": park_c[0] + [25.0, 60.0],
        "PG02": park_c[1] + [30.0, 0.0],
        "PG03": np.array([1230.0, float(r(1230.0)) - 40.0]),
        "MB05": park_c[0] + [-25.0, -70.0],
    }
    fac_specs += [
        (f"KG{8 + k:02d}", name, "幼儿园", xy, cap)
        for k, (name, cap, xy) in enumerate((n, c, xy) for n, c, _, xy in COMPOUNDS if n)
    ]
    fac_specs += EXTRA_FACILITIES
    fac_specs += [
        (f"PG{12 + k:02d}", pg, "儿童游戏场地", (xy[0] + 40.0, xy[1] + 40.0), None)
        for k, (_, _, pg, xy) in enumerate(COMPOUNDS)
    ]
    want_of = {row[0]: row[3] for row in fac_specs}
    fac_rows = []
    for fid, name, typ, want, cap in fac_specs:
        if fid in fixed_xy:
            xy = fixed_xy[fid]
            _, street = streets.near(xy)
        else:
            xy, street = streets.near(want, d=float(rng.uniform(20.0, 35.0)))
        fac_rows.append((fid, name, typ, xy, cap, street))
    n_base = len(fac_rows) + n_base_parks  # rows of the base facilities and parks
    site_rng = np.random.default_rng([seed, 1])  # draws of the added sites (ADDED_PARKS, ADDED_SCHOOLS)
    added_rows = []
    for fid, name, typ, want, cap in ADDED_SCHOOLS:
        xy, street = streets.near(want, d=float(site_rng.uniform(20.0, 35.0)))
        added_rows.append((fid, name, typ, xy, cap, street))
    # parks: one point per park at its entrance (boundary point nearest a street)
    for k, p in enumerate(parks):
        g = p["geom"]
        q, street = streets.near(park_c[k], d=0.0)
        ent = np.asarray(shapely.shortest_line(g.exterior, Point(q)).coords[0])
        area_ha = g.area / 10000.0
        typ = "公园" if area_ha >= 0.5 else "口袋公园"
        p["category"] = typ
        p["area_ha"] = round(area_ha, 2)
        fac_rows.append((p["id"], p["name"], typ, ent, None, street))
    # rows: the base facilities, the base parks, then the added schools and parks
    fac_rows = fac_rows[:n_base] + added_rows + fac_rows[n_base:]
    fac_xy = np.vstack([row[3] for row in fac_rows])
    lon, lat = to_lonlat(fac_xy)
    town_names = [t[1] for t in TOWNSHIPS]
    fac_town = [town_names[_which(towns, xy)] for xy in fac_xy]
    numbers = np.r_[rng.integers(1, 300, size=n_base), site_rng.integers(1, 300, size=len(fac_rows) - n_base)]
    all_facilities = pd.DataFrame(
        {
            "编号": [row[0] for row in fac_rows],
            "名称": [row[1] for row in fac_rows],
            "类型": [row[2] for row in fac_rows],
            "经度": np.round(lon, 7),
            "纬度": np.round(lat, 7),
            "地址": [f"{t}{row[5]}{n}号（示例地址）" for t, row, n in zip(fac_town, fac_rows, numbers)],
            "容量": pd.array([row[4] for row in fac_rows], dtype="Int64"),
        }
    )
    for k, col in enumerate(("办园性质", "是否普惠", "办园等级")):
        all_facilities[col] = all_facilities["编号"].map(
            lambda f, k=k: KG_ATTRIBUTES[f][k] if f in KG_ATTRIBUTES else ""
        )
    all_facilities["示范型"] = all_facilities["编号"].map(
        lambda f: ("是" if f in DEMONSTRATION_HOMES else "否") if f.startswith("CH") else ""
    )
    all_facilities["开办年份"] = all_facilities["编号"].map(lambda f: KG_OPENED.get(f, ""))
    # the three facility files are complementary: 母婴室 only in the Amap (GCJ-02) sheet, parks only as polygons
    in_csv = ~all_facilities["类型"].isin(["母婴室", "公园", "口袋公园"])
    facilities = all_facilities[in_csv].reset_index(drop=True)

    # --- homes ----------------------------------------------------------------------------------------------
    # plots along the streets, and a second, deeper row of apartment blocks (used in the compounds only)
    cand0 = _home_candidates(lines)
    cand1 = _home_candidates(lines, offset=45.0)
    cand = np.vstack([cand0, cand1])
    deep = np.r_[np.zeros(len(cand0), dtype=bool), np.ones(len(cand1), dtype=bool)]
    cp = shapely.points(cand)
    walk_union = shapely.union_all([LineString(ln.coords) for ln in lines if ln.walk])
    arterial = shapely.union_all([LineString(ln.coords) for ln in lines if ln.role == "arterial"])
    blocked = shapely.union_all(
        [p["geom"].buffer(8.0) for p in parks[:n_base_parks]]
        + [
            water.buffer(15.0),
            school_site.buffer(10.0),
            INDUSTRIAL,
            box(-HALF_W, -HALF_H, HALF_W, HALF_H).exterior.buffer(20.0),
        ]
    )
    fac_buffer = shapely.union_all(shapely.buffer(shapely.points(fac_xy[:n_base]), 15.0))
    ok = (shapely.distance(cp, walk_union) >= 12.0) & (shapely.distance(cp, arterial) >= 40.0)
    ok &= ~shapely.intersects(cp, blocked) & ~shapely.intersects(cp, fac_buffer)
    cand, cp, deep = cand[ok], cp[ok], deep[ok]
    comm_geoms = np.array([g for _, g in comms], dtype=object)
    ctree = shapely.STRtree(comm_geoms)
    pi, ci = ctree.query(cp, predicate="within")
    comm_of = np.full(len(cand), -1)
    comm_of[pi] = ci
    keep = comm_of >= 0
    cand, comm_of, deep = cand[keep], comm_of[keep], deep[keep]
    # share of the candidate plots that hold a home: medium in the southern part of 示例乙街道 and the inner
    # half of 示例甲街道, thinner at the western and eastern edges, sparse in the villages north of the river
    dens = np.array([rng.uniform(*_density_range(t, g)) for t, g in comms])
    plot_dens = dens[comm_of]
    # the central communities of 示例乙街道 are built as residential compounds (小区) around their kindergartens
    # (GB 50180-2018 places the kindergarten in the 5-minute life circle of the homes it serves): plots within
    # COMPOUND_L1 m (grid distance) of a compound core are mostly taken, the civic and commercial land between
    # them holds few homes
    core = np.array([c for *_, c in COMPOUNDS], dtype=float)
    l1 = np.abs(cand[:, None, :] - core[None, :, :]).sum(axis=2).min(axis=1)
    in_centre = np.array([_is_compound_community(t, g) for t, g in comms])[comm_of]
    in_compound = in_centre & (l1 <= COMPOUND_L1)
    plot_dens = np.where(in_centre, np.where(in_compound, 0.9, 0.06), plot_dens)
    plot_dens = np.where(deep & ~in_compound, 0.0, plot_dens)
    # dense where the deliberate situations are: west of the arterial within PS02's radius, and the south bank
    # opposite KG05/PS03
    ps02 = np.array(want_of["PS02"], dtype=float)
    west_of_ps02 = (cand[:, 0] < ARTERIAL_X) & (np.hypot(*(cand - ps02).T) <= 520.0)
    bank = (cand[:, 0] > -950.0) & (cand[:, 0] < 0.0) & (cand[:, 1] > river_y(cand[:, 0]) - 200.0)
    plot_dens = np.where((west_of_ps02 | bank) & ~deep, np.maximum(plot_dens, 0.7), plot_dens)
    # the added sites empty the plots they take (after the draw, so the other plots keep their draws)
    added = shapely.union_all(
        [p["geom"].buffer(8.0) for p in parks[n_base_parks:]]
        + list(shapely.buffer(shapely.points(fac_xy[n_base:]), 15.0))
    )
    plot_dens = np.where(shapely.intersects(shapely.points(cand), added), 0.0, plot_dens)
    take = rng.random(len(cand)) < plot_dens
    hxy, hcomm = cand[take], comm_of[take]
    order = np.lexsort((hxy[:, 0], -hxy[:, 1]))  # north to south, west to east
    hxy, hcomm = hxy[order], hcomm[order]
    children = rng.choice([0, 1, 2, 3, 4, 5], size=len(hxy), p=[0.22, 0.38, 0.24, 0.11, 0.04, 0.01])
    hlon, hlat = to_lonlat(hxy)
    homes = gpd.GeoDataFrame(
        {
            "origin_id": [f"H{k + 1:04d}" for k in range(len(hxy))],
            "children": children.astype("int32"),
        },
        geometry=shapely.points(np.column_stack([np.round(hlon, 7), np.round(hlat, 7)])),
        crs="EPSG:4326",
    )

    # --- communities & townships ----------------------------------------------------------------------------
    comm_children = np.bincount(hcomm, weights=children, minlength=len(comms)).astype(int)
    share = rng.uniform(0.15, 0.21, size=len(comms))
    comm_pop = np.round(np.maximum(comm_children, 1) / share / 10.0).astype(int) * 10
    stems = list(COMMUNITY_STEMS)
    codes, names, tcodes = [], [], []
    per_town = [0, 0, 0]
    for k, (t, _g) in enumerate(comms):
        per_town[t] += 1
        village = t == 2
        codes.append(TOWNSHIPS[t][0][:9] + f"{(200 if village else 0) + per_town[t]:03d}")
        names.append("示例" + stems[k] + ("村" if village else "社区"))
        tcodes.append(TOWNSHIPS[t][0])
    communities = gpd.GeoDataFrame(
        {
            "CODE": codes,
            "NAME": names,
            "TOWN_CODE": tcodes,
            "POP": comm_pop.astype("int64"),
            "CHILDREN": comm_children.astype("int64"),
        },
        geometry=to_gk(np.array([g for _, g in comms], dtype=object)),
        crs=f"EPSG:{METRIC_EPSG}",
    )
    t_of = np.array([t for t, _ in comms])
    townships = gpd.GeoDataFrame(
        {
            "编码": [t[0] for t in TOWNSHIPS],
            "名称": [t[1] for t in TOWNSHIPS],
            "人口": [int(comm_pop[t_of == t].sum()) for t in range(3)],
            "儿童数": [int(comm_children[t_of == t].sum()) for t in range(3)],
        },
        geometry=to_gk(np.array(towns, dtype=object)),
        crs=f"EPSG:{METRIC_EPSG}",
    ).to_crs(4490)

    # --- parks layer ----------------------------------------------------------------------------------------
    parks_gdf = gpd.GeoDataFrame(
        {
            "id": [p["id"] for p in parks],
            "name": [p["name"] for p in parks],
            "category": [p["category"] for p in parks],
            "area_ha": [p["area_ha"] for p in parks],
        },
        geometry=to_gk(np.array([p["geom"] for p in parks], dtype=object)),
        crs=f"EPSG:{METRIC_EPSG}",
    ).to_crs(4326)

    # --- pilots ---------------------------------------------------------------------------------------------
    pilots = _pilots(rng, comms, names, codes, town_names, towns, fac_rows, streets, P)

    # --- OSM areas and POIs ---------------------------------------------------------------------------------
    areas: list[tuple[np.ndarray, dict]] = []
    areas.append(
        (np.asarray(water.exterior.coords), {"natural": "water", "water": "river", "name": "示例江"})
    )
    for p in parks:
        areas.append((np.asarray(p["geom"].exterior.coords), {"leisure": "park", "name": p["name"]}))
    areas.append(
        (
            np.asarray(school_site.exterior.coords),
            {"amenity": "school", "isced:level": "1", "name": "示例乙街道实验小学"},
        )
    )
    fxy = {row[0]: row[3] for row in fac_rows}
    fname = {row[0]: row[1] for row in fac_rows}
    pois = [
        (fxy["KG01"] + [3.0, -2.0], {"amenity": "kindergarten", "name": fname["KG01"]}),
        (fxy["KG03"], {"amenity": "kindergarten", "name": fname["KG03"]}),
        (fxy["KG05"] + [-4.0, 3.0], {"amenity": "kindergarten", "name": fname["KG05"]}),
        (fxy["PS01"], {"amenity": "school", "isced:level": "1", "name": fname["PS01"]}),
        (fxy["MS01"] + [5.0, 5.0], {"amenity": "school", "isced:level": "2", "name": fname["MS01"]}),
        (fxy["PG01"], {"leisure": "playground", "name": fname["PG01"]}),
        (fxy["PG03"], {"leisure": "playground"}),
        (streets.near((-700.0, -1000.0), d=25.0)[0], {"leisure": "playground", "name": "示例南苑小区游乐场"}),
        (fxy["LB01"], {"amenity": "library", "name": fname["LB01"]}),
        (
            park_c[0] + [-40.0, -60.0],
            {"amenity": "toilets", "changing_table": "yes", "name": "示例中心公园公厕", "wheelchair": "yes"},
        ),
        (
            fxy["HP01"],
            {
                "amenity": "hospital",
                "healthcare": "hospital",
                "healthcare:speciality": "paediatrics",
                "name": "示例第一人民医院",
            },
        ),
    ]
    river_way = np.column_stack(
        [np.arange(-2100.0, 2100.0 + 1e-6, 50.0), river_y(np.arange(-2100.0, 2100.0 + 1e-6, 50.0))]
    )
    gates = school_zone_streets(lines, fxy)
    osm = build_osm(lines, areas, pois, [(river_way, {"waterway": "river", "name": "示例江"})])
    tagged = tag_crossings(osm, P, gates)
    infant_care, venues = _plan_registers(all_facilities, fxy, streets, towns)

    return Sample(
        lines=lines,
        areas=areas,
        pois=pois,
        townships=townships,
        communities=communities,
        facilities=facilities,
        parks=parks_gdf,
        pilots=pilots,
        homes=homes,
        extra={
            "osm": osm,
            "all_facilities": all_facilities,
            "river_line": river_line,
            "P": P,
            "tagged": tagged,
            "water": water,
            "school_site": school_site,
            "fac_xy": dict(fxy),
            "home_xy": hxy,
            "home_comm": hcomm,
            "towns_local": towns,
            "comms_local": [g for _, g in comms],
            "infant_care": infant_care,
            "venues": venues,
        },
    )


def _which(polys: list[Polygon], xy) -> int:
    p = Point(xy)
    for k, g in enumerate(polys):
        if g.covers(p):
            return k
    d = [g.distance(p) for g in polys]
    return int(np.argmin(d))


def _pilots(rng, comms, names, codes, town_names, towns, fac_rows, streets: StreetIndex, P) -> pd.DataFrame:
    fac = {row[0]: row for row in fac_rows}
    comm_geoms = [g for _, g in comms]

    def comm_at(xy) -> int:
        return _which(comm_geoms, xy)

    # community pilots, chosen by place: the central compounds, the inner and outer parts of 示例甲街道, the eastern
    # edge of 示例乙街道 and villages north of the river (first of each list: the notes and key projects below)
    c2022 = [
        comm_at(xy)
        for xy in (
            (-1700, -1300),
            (-171, -415),
            (-637, 1265),
            (-41, 186),
            (565, 263),
            (-1586, -218),
            (815, 1272),
            (-52, 810),
        )
    ]
    c2023 = [
        comm_at(xy)
        for xy in (
            (882, 844),
            (1649, 1291),
            (-1570, 344),
            (-1502, 1294),
            (1163, -478),
            (-922, 856),
            (-852, -661),
            (1688, -1192),
            (-757, -1193),
            (1189, 327),
            (1741, -484),
            (1737, 190),
        )
    ]
    assert len(set(c2022 + c2023)) == 20
    chosen_2022, chosen_2023 = c2022[:4], c2023[:1]
    rows = []

    def add(batch, name, kind, xy, code="", key=False, note=""):
        rows.append(
            dict(
                batch=batch,
                name=name,
                kind=kind,
                xy=np.asarray(xy, dtype=float),
                code=code,
                key=key,
                note=note,
            )
        )

    notes_comm = {
        chosen_2022[0]: "西南片区，周边缺少儿童游戏场地和母婴室（示例）",
        chosen_2022[1]: "中心城区，配套较完善（示例）",
        chosen_2022[2]: "北岸村社区，镇内暂无儿童之家（示例）",
        chosen_2022[3]: "滨江南岸，对岸幼儿园需绕行过桥（示例）",
    }
    for batch, lst in ((2022, c2022), (2023, c2023)):
        for k in lst:
            g = comm_geoms[k]
            kind = "村社区" if comms[k][0] == 2 else "社区"
            add(
                batch,
                names[k],
                kind,
                g.representative_point().coords[0],
                code=codes[k],
                key=(batch == 2022 and k == chosen_2022[1]) or (batch == 2023 and k == chosen_2023[0]),
                note=notes_comm.get(k, ""),
            )

    def fac_xy(fid):
        return fac[fid][3]

    add(
        2022,
        fac["PS02"][1],
        "学校",
        fac_xy("PS02"),
        key=True,
        note="位于示例大道东侧，西侧学生需穿越6车道主干道（示例）",
    )
    add(2022, fac["PS01"][1], "学校", fac_xy("PS01"))
    add(2023, fac["PS03"][1], "学校", fac_xy("PS03"), key=True, note="南岸学生需绕行过桥（示例）")
    add(2023, fac["PS04"][1], "学校", fac_xy("PS04"))
    add(2023, fac["MS01"][1], "学校", fac_xy("MS01"))
    add(2023, fac["KG03"][1], "学校", fac_xy("KG03"))
    add(2022, fac["HP01"][1], "医院", fac_xy("HP01"))
    add(2023, fac["HP02"][1], "医院", fac_xy("HP02"))
    add(2023, "示例妇幼保健院", "医院", streets.near((-150.0, -1180.0), d=28.0)[0])
    add(2022, "示例中心公园", "公园", fac_xy("PK01"), key=True)
    add(2022, "示例滨江公园", "公园", fac_xy("PK03"))
    add(2023, "示例西苑公园", "公园", fac_xy("PK02"))
    add(2023, "示例丙镇文化公园", "公园", fac_xy("PK04"))
    add(2023, "示例翠竹口袋公园", "公园", fac_xy("PK05"))
    add(2023, "示例桂园口袋公园", "公园", fac_xy("PK06"))
    add(2022, fac["LB01"][1], "场馆", fac_xy("LB01"))
    add(2023, "示例青少年宫", "场馆", streets.near((1010.0, 320.0), d=30.0)[0], key=True)
    add(2023, "示例科技馆", "场馆", streets.near((1700.0, 120.0), d=30.0)[0])
    add(2023, fac["LB02"][1], "场馆", fac_xy("LB02"))
    add(2022, "示例商业步行街", "商圈", (P[14, J_PEDESTRIAN] + P[15, J_PEDESTRIAN]) / 2.0, key=True)
    add(2022, "示例滨江街区", "街区", streets.near((1250.0, float(river_y(1250.0)) - 80.0), d=20.0)[0])
    add(2023, "示例学府街区", "街区", streets.near((380.0, -420.0), d=20.0)[0], note="快速路沿线（示例）")
    add(2023, "示例老街", "街区", streets.near((-1520.0, -100.0), d=15.0)[0])
    add(2023, "示例丙镇老街", "街区", streets.near((0.0, 1120.0), d=15.0)[0])
    add(2022, "示例电气有限公司", "企业", streets.near((1500.0, -1300.0), d=35.0)[0])
    add(2023, "示例智能科技有限公司", "企业", streets.near((1750.0, -1180.0), d=35.0)[0])
    add(2023, "示例阀门制造有限公司", "企业", streets.near((1420.0, -1140.0), d=35.0)[0])
    add(2023, "示例农业发展有限公司", "企业", streets.near((1650.0, 1320.0), d=35.0)[0])

    df = pd.DataFrame(rows)
    df["order"] = np.arange(len(df))
    df = df.sort_values(["batch", "order"]).reset_index(drop=True)
    xy = np.vstack(df["xy"].to_numpy())
    lon, lat = to_lonlat(xy)
    num = df.groupby("batch").cumcount() + 1
    out = pd.DataFrame(
        {
            "编号": [f"SD{b}-{n:02d}" for b, n in zip(df["batch"], num)],
            "名称": df["name"],
            "批次": df["batch"].astype("int64"),
            "类型": df["kind"],
            "所属镇街": [town_names[_which(towns, p)] for p in xy],
            "社区编码": df["code"],
            "经度": np.round(lon, 7),
            "纬度": np.round(lat, 7),
            "重点项目": np.where(df["key"], "是", "否"),
            "备注": df["note"],
        }
    )
    return out


# --- writers ------------------------------------------------------------------------------------------------
def _fmt(v: float) -> str:
    return f"{v:.7f}"


def write_osm(osm: OsmData, path: Path) -> None:
    lon, lat = to_lonlat(osm.node_xy)
    lon, lat = np.round(lon, 7), np.round(lat, 7)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<osm version="0.6" generator="childspace scripts/make_sample.py">',
        f"  <!-- {SYNTHETIC} -->",
        f'  <bounds minlat="{_fmt(lat.min())}" minlon="{_fmt(lon.min())}" maxlat="{_fmt(lat.max())}" '
        f'maxlon="{_fmt(lon.max())}"/>',
    ]
    meta = f'version="1" timestamp="{FIXED_TIMESTAMP}"'
    for k in range(len(lon)):
        nid = k + 1
        tags = osm.node_tags.get(nid)
        head = f'  <node id="{nid}" {meta} lat="{_fmt(lat[k])}" lon="{_fmt(lon[k])}"'
        if not tags:
            out.append(head + "/>")
        else:
            out.append(head + ">")
            out += [f"    <tag k={quoteattr(kk)} v={quoteattr(str(vv))}/>" for kk, vv in sorted(tags.items())]
            out.append("  </node>")
    for w, (refs, tags) in enumerate(osm.ways):
        out.append(f'  <way id="{w + 1}" {meta}>')
        out += [f'    <nd ref="{r}"/>' for r in refs]
        out += [f"    <tag k={quoteattr(kk)} v={quoteattr(str(vv))}/>" for kk, vv in sorted(tags.items())]
        out.append("  </way>")
    out.append("</osm>")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def _write_xlsx(
    df: pd.DataFrame, path: Path, sheet: str, title: str, text_cols: tuple[str, ...] = ()
) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):
        vals = []
        for v in row:
            if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
                vals.append(None)
            elif isinstance(v, (np.integer,)):
                vals.append(int(v))
            elif isinstance(v, (np.floating,)):
                vals.append(float(v))
            else:
                vals.append(v if v != "" else None)
        ws.append(vals)
    for c, name in enumerate(df.columns, start=1):
        if name in text_cols:
            for cell in ws.iter_cols(min_col=c, max_col=c, min_row=2):
                for x in cell:
                    x.number_format = "@"
        ws.column_dimensions[ws.cell(1, c).column_letter].width = (
            14 if name not in ("名称", "地址", "备注") else 30
        )
    from datetime import datetime

    fixed = datetime(2024, 1, 1)
    wb.properties.creator = "childspace"
    wb.properties.title = title
    wb.properties.description = SYNTHETIC
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.save(path)
    _normalise_zip(path)


def _normalise_zip(path: Path) -> None:
    """Rewrite a .xlsx with fixed entry dates and core-properties times so the bytes are reproducible."""
    with zipfile.ZipFile(path) as z:
        items = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in items:
            if name == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>2024-01-01T00:00:00Z", data
                )
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            z.writestr(info, data)


def write_sample(sample: Sample, out: Path) -> list[Path]:
    """Write every file of the sample under ``out`` (the layout of ``childspace/data/``); returns the paths written."""
    out = Path(out)
    paths = []
    for sub in ("boundaries", "facilities", "pilots", "origins", "osm"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00.000Z"})

    p = out / "boundaries" / "townships.gpkg"
    p.unlink(missing_ok=True)
    pyogrio.write_dataframe(
        sample.townships,
        p,
        layer="townships",
        driver="GPKG",
        layer_options={"DESCRIPTION": SYNTHETIC, "IDENTIFIER": "示例乡镇街道 townships"},
    )
    paths.append(p)

    for ext in ("shp", "shx", "dbf", "prj", "cpg"):
        (out / "boundaries" / f"communities.{ext}").unlink(missing_ok=True)
    p = out / "boundaries" / "communities.shp"
    pyogrio.write_dataframe(
        sample.communities,
        p,
        driver="ESRI Shapefile",
        encoding="GBK",
        layer_options={"DBF_DATE_LAST_UPDATE": FIXED_DATE},
    )
    (out / "boundaries" / "communities.cpg").unlink(missing_ok=True)
    paths += [out / "boundaries" / f"communities.{e}" for e in ("shp", "shx", "dbf", "prj")]

    p = out / "facilities" / "facilities.csv"
    sample.facilities.to_csv(p, index=False, encoding="utf-8", lineterminator="\n")
    paths.append(p)

    for key, name in (("infant_care", "infant_care.csv"), ("venues", "venues.csv")):
        p = out / "facilities" / name
        sample.extra[key].to_csv(p, index=False, encoding="utf-8", lineterminator="\n")
        paths.append(p)

    allf = sample.extra["all_facilities"]
    mb = allf[allf["类型"] == "母婴室"].reset_index(drop=True)
    glon, glat = wgs84_to_gcj02(mb["经度"].to_numpy(), mb["纬度"].to_numpy())
    amap = pd.DataFrame(
        {
            "名称": mb["名称"],
            "类型": mb["类型"],
            "经度": np.round(glon, 7),
            "纬度": np.round(glat, 7),
            "地址": mb["地址"],
        }
    )
    p = out / "facilities" / "mother_baby_rooms_amap.xlsx"
    _write_xlsx(amap, p, "母婴室", "示例母婴室（高德坐标 GCJ-02）")
    paths.append(p)

    p = out / "facilities" / "parks.geojson"
    p.unlink(missing_ok=True)
    pyogrio.write_dataframe(
        sample.parks,
        p,
        driver="GeoJSON",
        layer="示例公园_synthetic_parks",
        layer_options={"COORDINATE_PRECISION": 7, "DESCRIPTION": SYNTHETIC},
    )
    paths.append(p)

    p = out / "pilots" / "pilot_units.xlsx"
    _write_xlsx(sample.pilots, p, "试点单元", "示例儿童友好试点单元（虚构）", text_cols=("编号", "社区编码"))
    paths.append(p)

    p = out / "origins" / "homes.gpkg"
    p.unlink(missing_ok=True)
    pyogrio.write_dataframe(
        sample.homes,
        p,
        layer="homes",
        driver="GPKG",
        layer_options={"DESCRIPTION": SYNTHETIC, "IDENTIFIER": "示例儿童居住点 homes"},
    )
    paths.append(p)

    p = out / "osm" / "sample.osm"
    write_osm(sample.extra["osm"], p)
    paths.append(p)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Regenerate the synthetic sample (示例区域，虚构数据).")
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "childspace" / "data",
        help="output folder (default: the repository's childspace/data/)",
    )
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    sample = make_sample(args.seed)
    paths = write_sample(sample, args.out)
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
