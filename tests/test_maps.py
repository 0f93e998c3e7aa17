"""Interactive maps: self-contained HTML checked in a real headless Chromium (no network)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _browser import distinct_colours, dump_dom, require_chromium, screenshot
from shapely.geometry import LineString, Point, box

from childspace._errors import ChildspaceError, DataError
from childspace.analysis import aggregate, streets
from childspace.outputs import maps

METRIC = "EPSG:4549"  # CGCS2000 / 3-degree GK CM 120E (Yueqing)


def _origin() -> tuple[float, float]:
    pt = gpd.GeoSeries([Point(120.98, 28.12)], crs=4326).to_crs(METRIC).iloc[0]
    return pt.x, pt.y


def make_sample(n_2022: int = 17, n_2023: int = 31) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """Hand-made layers in the shapes of docs/architecture.md, built in metres and returned in EPSG:4326.

    Two 2 km x 2 km townships, each split into four 1 km x 1 km communities; two kindergartens, two primary
    schools; homes on a 250 m grid; 17 + 31 pilot units.
    """
    x0, y0 = _origin()

    def g(geoms):
        return gpd.GeoSeries([shapely.affinity.translate(geom, x0, y0) for geom in geoms], crs=METRIC)

    towns = gpd.GeoDataFrame(
        {
            "unit_id": ["T1", "T2"],
            "name": ["东港镇", "西山街道"],
            "level": "township",
            "children": [800, 600],
        },
        geometry=g([box(0, 0, 2000, 2000), box(2000, 0, 4000, 2000)]),
    )
    comm_geoms, comm_ids, comm_names, parents = [], [], [], []
    names = ["海滨社区", "桥头村", "新城社区", "水门社区", "山前村", "溪口社区", "红星社区", "南岙村"]
    k = 0
    for t, tx in (("T1", 0), ("T2", 2000)):
        for cx in (0, 1000):
            for cy in (0, 1000):
                comm_geoms.append(box(tx + cx, cy, tx + cx + 1000, cy + 1000))
                comm_ids.append(f"{t}C{k}")
                comm_names.append(names[k])
                parents.append(t)
                k += 1
    comms = gpd.GeoDataFrame(
        {
            "unit_id": comm_ids,
            "name": comm_names,
            "level": "community",
            "parent_id": parents,
            "children": np.arange(8) * 20 + 100,
        },
        geometry=g(comm_geoms),
    )
    boundaries = pd.concat([towns, comms], ignore_index=True).to_crs(4326)

    fac = gpd.GeoDataFrame(
        {
            "facility_id": ["K1", "K2", "P1", "P2"],
            "name": ["阳光幼儿园", "蓝天幼儿园", "实验小学", "城南小学"],
            "category": ["kindergarten", "kindergarten", "primary_school", "primary_school"],
            "capacity": [180, 240, 900, 1200],
            "address": ["海滨路1号", "新城路8号", "学府路2号", "南街5号"],
        },
        geometry=g([Point(500, 500), Point(2500, 1500), Point(1500, 1000), Point(3500, 500)]),
    ).to_crs(4326)

    xs, ys = np.meshgrid(np.arange(125, 4000, 250), np.arange(125, 2000, 250))
    xs, ys = xs.ravel(), ys.ravel()
    homes_m = g([Point(a, b) for a, b in zip(xs, ys)])
    kpos = np.array([[500, 500], [2500, 1500]])
    d = np.min(np.hypot(xs[:, None] - kpos[:, 0], ys[:, None] - kpos[:, 1]), axis=1)
    access = gpd.GeoDataFrame(
        {
            "origin_id": [f"H{i}" for i in range(len(xs))],
            "children": (np.arange(len(xs)) % 7) + 1,
            "dist_line_kindergarten": d,
            "dist_walk_kindergarten": d * 1.3,
            "covered_line_kindergarten": d <= 300,
            "covered_walk_kindergarten": d * 1.3 <= 300,
            "nearest_kindergarten": np.where(xs < 2000, "K1", "K2"),
        },
        geometry=homes_m,
    ).to_crs(4326)

    kmet = g([Point(500, 500), Point(2500, 1500)])
    sa = gpd.GeoDataFrame(
        {
            "facility_id": ["K1", "K2", "K1", "K2"],
            "category": "kindergarten",
            "method": ["line", "line", "walk", "walk"],
            "radius_m": 300.0,
        },
        geometry=list(kmet.buffer(300)) + [shapely.affinity.scale(p.buffer(300), 0.8, 0.6) for p in kmet],
        crs=METRIC,
    ).to_crs(4326)
    gaps = gpd.GeoDataFrame(
        {
            "unit_id": ["T2C6", "T1C1", "T2C5"],
            "unit_name": ["红星社区", "桥头村", "溪口社区"],
            "category": "kindergarten",
            "children_uncovered": [140, 65, 20],
            "area_m2": [640000.0, 300000.0, 90000.0],
            "rank": [1, 2, 3],
        },
        geometry=g([box(3100, 100, 3900, 900), box(100, 1300, 700, 1800), box(2100, 100, 2400, 400)]),
    ).to_crs(4326)

    rows = []
    for uid, pct in zip(
        ["T1", "T2"] + comm_ids, [72.0, 35.5, 95.0, 10.0, 55.0, 81.0, 66.0, 25.0, np.nan, 42.0]
    ):
        rows.append(
            {
                "unit_id": uid,
                "category": "kindergarten",
                "radius_m": 300.0,
                "children": 100,
                "pct_walk": pct,
                "pct_line": min(pct + 10, 100) if np.isfinite(pct) else np.nan,
                "children_covered_walk": pct if np.isfinite(pct) else np.nan,
                "below_target": bool(np.isfinite(pct) and pct < 80),
                "target_pct": 80.0,
            }
        )
        rows.append(
            {
                "unit_id": uid,
                "category": "primary_school",
                "radius_m": 500.0,
                "children": 100,
                "pct_walk": 50.0,
                "pct_line": 60.0,
                "children_covered_walk": 50,
                "below_target": True,
                "target_pct": 80.0,
            }
        )
    unit_cov = pd.DataFrame(rows)

    statuses = ["meets", "partly", "gap"]
    kinds = ["community", "school", "hospital", "park", "venue", "street", "enterprise"]
    prow, pgeo = [], []
    for i in range(n_2022 + n_2023):
        batch = 2022 if i < n_2022 else 2023
        kind = kinds[i % len(kinds)]
        px, py = 150 + (i % 12) * 320, 150 + (i // 12) * 420
        pgeo.append(box(px - 120, py - 120, px + 120, py + 120) if kind == "community" else Point(px, py))
        st = statuses[i % 3]
        prow.append(
            {
                "pilot_id": f"P{batch}-{i + 1:02d}",
                "name": f"试点单元{i + 1}号",
                "batch": batch,
                "kind": kind,
                "township": "东港镇" if px < 2000 else "西山街道",
                "key_project": i % 10 == 0,
                "status": st,
                "status_zh": {"meets": "达标", "partly": "部分达标", "gap": "缺口"}[st],
                "reasons": "" if st == "meets" else "300米内无幼儿园 no kindergarten within 300 m",
                "has_kindergarten": st == "meets",
                "dist_kindergarten": 150.0 + 100 * (i % 3),
                "has_playground": st != "gap",
                "dist_playground": 80.0 + 30 * (i % 5),
            }
        )
    pilots = gpd.GeoDataFrame(prow, geometry=g(pgeo)).to_crs(4326)
    catch = gpd.GeoDataFrame(
        {"pilot_id": pilots["pilot_id"]}, geometry=g(pgeo).buffer(300).values, crs=METRIC
    ).to_crs(4326)

    route_rows, route_geo = [], []
    for i, (hx, hy) in enumerate(
        [(200, 1800), (900, 200), (1800, 1700), (1200, 600), (3000, 1900), (3900, 100)]
    ):
        sx, sy = (1500, 1000) if hx < 2000 else (3500, 500)
        sid = "P1" if hx < 2000 else "P2"
        for kind, bend, lvl in (("shortest", 0, min(4, 2 + i % 3)), ("safest", 250, 1 + i % 4)):
            route_geo.append(LineString([(hx, hy), ((hx + sx) / 2 + bend, (hy + sy) / 2), (sx, sy)]))
            route_rows.append(
                {
                    "origin_id": f"H{i}",
                    "school_id": sid,
                    "route": kind,
                    "children": 3 + 5 * i,
                    "length_m": float(np.hypot(hx - sx, hy - sy)),
                    "detour_ratio": 1.0 + bend / 2000,
                    "worst_level": lvl,
                    "unsafe_crossings": int(lvl >= 3),
                    "share_l1": 0.5,
                    "share_l2": 0.3,
                    "share_l3": 0.2,
                    "share_l4": 0.0,
                    "assumed_share": 0.25,
                    "verdict": {1: "safe", 2: "safe", 3: "caution", 4: "unsafe"}[lvl],
                }
            )
    routes = gpd.GeoDataFrame(route_rows, geometry=g(route_geo)).to_crs(4326)
    hazards = gpd.GeoDataFrame(
        {
            "hazard_id": ["HZ1", "HZ2", "HZ3"],
            "type": ["crossing", "crossing", "segment"],
            "level": [4, 3, 4],
            "children": [60, 12, 35],
            "schools": ["P1", "P2", "P1"],
            "name": ["学府路口", "南街口", "海滨路"],
            "reason": [
                "无信号灯、4车道 no signals, 4 lanes",
                "无斑马线 unmarked",
                "无人行道 50 km/h no sidewalk",
            ],
            "rank": [1, 3, 2],
        },
        geometry=g([Point(1300, 1000), Point(3300, 600), LineString([(600, 1400), (1200, 1200)])]),
    ).to_crs(4326)
    smet = g([Point(1500, 1000), Point(3500, 500)])
    walksheds = gpd.GeoDataFrame(
        {
            "school_id": ["P1", "P2", "P1", "P2"],
            "kind": ["plain", "plain", "safe", "safe"],
            "max_level": [4, 4, 2, 2],
            "radius_m": 800.0,
        },
        geometry=list(smet.buffer(800)) + [shapely.affinity.scale(p.buffer(800), 0.6, 0.8) for p in smet],
        crs=METRIC,
    )
    walksheds["area_m2"] = walksheds.area
    walksheds = walksheds.to_crs(4326)
    return {
        "boundaries": boundaries,
        "facilities": fac,
        "access": access,
        "service_areas": sa,
        "gaps": gaps,
        "unit_coverage": unit_cov,
        "pilots": pilots,
        "catchments": catch,
        "routes": routes,
        "hazards": hazards,
        "walksheds": walksheds,
        "schools": fac[fac["category"] == "primary_school"],
    }


@pytest.fixture(scope="module")
def sample():
    return make_sample()


@pytest.fixture(scope="module")
def built(sample):
    s = sample
    return {
        "coverage": maps.coverage_map(
            s["boundaries"],
            s["facilities"],
            s["service_areas"],
            s["access"],
            s["gaps"],
            "kindergarten",
            synthetic=True,
        ),
        "pilots": maps.pilot_map(s["pilots"], s["catchments"], boundaries=s["boundaries"], synthetic=True),
        "routes": maps.routes_map(
            s["routes"],
            s["hazards"],
            s["walksheds"],
            s["schools"],
            boundaries=s["boundaries"],
            synthetic=True,
            basemaps=(),
        ),
        "overview": maps.overview_map(s["boundaries"], s["unit_coverage"], "kindergarten", synthetic=True),
    }


_EXPECTED = {
    "coverage": [
        "幼儿园（2） Kindergarten (2)",
        "步行服务区（300 米 m） Walking service area",
        "直线服务区（300 米 m） Straight-line service area",
        "覆盖缺口（按儿童数） Gaps (by children)",
        "未覆盖住户（步行） Uncovered homes (on foot)",
        "乡镇街道边界 Township boundaries",
    ],
    "pilots": [
        "2022年试点（17个） Pilots 2022 (17)",
        "2023年试点（31个） Pilots 2023 (31)",
        "达标 Meets",
        "部分达标 Partly meets",
        "缺口 Gap",
        "重点项目 ★ Key projects (5)",
    ],
    "routes": [
        "最安全路线（6） Safest routes (6)",
        "最短路线（6） Shortest routes (6)",
        "隐患点（3） Hazards (3)",
        "安全步行范围 Safe walkshed",
        "普通步行范围 Plain walkshed",
        "4级 高压力 Level 4 high stress",
    ],
    "overview": [
        "村社区覆盖率（",
        "乡镇街道覆盖率（",
        "≥80% 达到目标 meets target",
        "无数据（无儿童） No data",
    ],
}


def test_html_is_self_contained(built, tmp_path):
    for key, m in built.items():
        path = maps.save_map(m, tmp_path / f"{key}.html")
        text = path.read_text(encoding="utf-8")
        # no script or stylesheet from the network: Leaflet is inline
        ext = re.findall(
            r"<(?:script|link)\b[^>]*(?:src|href)\s*=\s*[\"']?(?:https?:)?//", text, flags=re.IGNORECASE
        )
        assert ext == [], f"{key}: external resources {ext}"
        assert "Leaflet 1.9.4" in text and "L.control.scale" in text.replace("L.control\n", "L.control")
        assert "cdn.jsdelivr" not in text and "code.jquery.com" not in text
        # offline first: no tile URL at all by default, only Leaflet's own and attribution links
        leaflet_js = (Path(maps.__file__).parent.parent / "static" / "leaflet.js").read_text(encoding="utf-8")
        leaflet_js = leaflet_js[: leaflet_js.rfind("//# sourceMappingURL")].rstrip()
        assert leaflet_js in text  # inlined verbatim
        urls = set(re.findall(r"https?://[^\s\"'<>)\\]+", text.replace(leaflet_js, "")))
        assert all(("openstreetmap.org/copyright" in u or "leafletjs.com" in u) for u in urls), urls
        assert "{z}" not in text and "TileLayer(" not in text.replace("L.TileLayer", "")
        assert maps.SYNTHETIC_NOTE in text


def test_render_refuses_cdn_elements(sample):
    import folium

    m = maps.coverage_map(sample["boundaries"], sample["facilities"], category="kindergarten", basemaps=())
    folium.Marker([28.12, 120.98], icon=folium.Icon(icon="info-sign")).add_to(m)
    with pytest.raises(ChildspaceError, match="internet"):
        maps.render_html(m)


def test_bad_input_is_named(sample):
    bad = sample["pilots"].assign(status=["meets"] * 47 + ["ok"])
    with pytest.raises(DataError, match="ok"):
        maps.pilot_map(bad)
    with pytest.raises(ChildspaceError, match="category"):
        maps.coverage_map(sample["boundaries"], sample["facilities"])
    nocrs = sample["facilities"].set_crs(None, allow_override=True)
    with pytest.raises(DataError, match="no CRS"):
        maps.coverage_map(None, nocrs, category="kindergarten")


def test_maps_run_in_headless_browser(built, tmp_path):
    require_chromium()
    for key, m in built.items():
        path = maps.save_map(m, tmp_path / f"{key}.html")
        dom = dump_dom(path)
        root = re.search(r"<html[^>]*>", dom).group(0)
        assert 'data-map-ready="1"' in root, f"{key}: page scripts did not finish"
        assert "data-js-errors" not in root, root
        assert "leaflet-control-layers" in dom and "leaflet-control-scale" in dom
        for text in _EXPECTED[key]:
            assert text in dom, f"{key}: {text!r} missing from the rendered page"
        assert "示例数据（虚构） Synthetic sample data" in dom
        # Leaflet drew vector paths (SVG) for the layers
        assert dom.count("<path") >= 5, f"{key}: only {dom.count('<path')} paths drawn"


def test_pilot_batches_drawn(built, sample, tmp_path):
    require_chromium()
    path = maps.save_map(built["pilots"], tmp_path / "p.html")
    dom = dump_dom(path)
    # 48 pilots: 14 community polygons + 34 points, plus boundaries (10); the catchments (48) are off at first
    n_paths = dom.count("<path")
    assert 48 + 10 <= n_paths < 48 + 48 + 10, n_paths
    # status colours are used as fills, and every unit carries its status symbol (the cue without colour)
    from childspace.outputs.style import STATUS_LABELS

    for key, (_zh, _en, colour, sym) in STATUS_LABELS.items():
        assert f'fill="{colour}"' in dom
        assert dom.count(f'class="sym {key}">{sym}<') == int((sample["pilots"]["status"] == key).sum())


def test_screenshots_not_blank(built, tmp_path):
    require_chromium()
    out = Path(tmp_path)
    for key, m in built.items():
        html_path = maps.save_map(m, out / f"{key}.html")
        png = screenshot(html_path, out / f"{key}.png")
        assert png.stat().st_size > 10_000
        assert distinct_colours(png) > 200, f"{key}: screenshot looks blank"


def test_script_errors_are_caught(sample, tmp_path):
    """The error collector works: a page with a broken script is flagged (so the check above can fail)."""
    require_chromium()
    from branca.element import Element

    m = maps.coverage_map(sample["boundaries"], sample["facilities"], category="kindergarten", basemaps=())
    m.get_root().script.add_child(Element("undefined_function_xyz();"))
    path = maps.save_map(m, tmp_path / "broken.html")
    root = re.search(r"<html[^>]*>", dump_dom(path)).group(0)
    assert "undefined_function_xyz" in root


# ----------------------------------------------------------------------------------------------------
# overview with every category, townships and life circles; per-street route use; hexagon totals
# ----------------------------------------------------------------------------------------------------


def _life_circles(sample) -> pd.DataFrame:
    comms = sample["boundaries"][sample["boundaries"]["level"] == "community"]
    ids = comms["unit_id"].tolist()
    # unit k has k % 4 circles complete; the last one cannot be judged
    rows = []
    for k, uid in enumerate(ids):
        done = [i < (k % 4) for i in range(3)]
        rows.append(
            {
                "unit_id": uid,
                "lc5_complete": done[0],
                "lc10_complete": done[1],
                "lc15_complete": done[2],
                "lc5_missing": "" if done[0] else "幼儿园 Kindergarten",
                "lc10_missing": "",
                "lc15_missing": "",
            }
        )
    rows[-1].update(lc5_complete=np.nan, lc10_complete=np.nan, lc15_complete=np.nan)
    return pd.DataFrame(rows)


def test_overview_every_category_radio(sample, tmp_path):
    require_chromium()
    b = sample["boundaries"]
    comms, towns = b[b["level"] == "community"], b[b["level"] == "township"]
    m = maps.overview_map(
        comms,
        sample["unit_coverage"],
        townships=towns,
        life_circles=_life_circles(sample),
        synthetic=True,
        basemaps=(),
    )
    dom = dump_dom(maps.save_map(m, tmp_path / "ov.html"))
    root = re.search(r"<html[^>]*>", dom).group(0)
    assert 'data-map-ready="1"' in root and "data-js-errors" not in root
    # kindergarten communities: 95, 10, 55, 81, 66, 25, no data, 42 % -> 5 of 8 below the 80 % target
    assert "幼儿园（5/8 低于目标） Kindergarten (5/8 below target)" in dom
    assert "小学（8/8 低于目标） Primary school (8/8 below target)" in dom
    assert "生活圈完整度 Life-circle completeness" in dom
    assert "乡镇街道边界（2） Township boundaries (2)" in dom
    # 2 categories + life circles + no shading in one radio group; one checked
    radios = re.findall(
        r'<input type="radio" class="leaflet-control-layers-selector" name="leaflet-base-layers[^>]*>', dom
    )
    assert len(radios) == 4, radios
    # only one choropleth drawn at a time: the kindergarten classes are used as fills, the life-circle ones not
    from childspace.outputs.style import LIFE_CIRCLE_CLASSES, coverage_classes

    assert f'fill="{coverage_classes(80)[0].colour}"' in dom  # 10 % community, lowest class
    assert f'fill="{coverage_classes(80)[4].colour}"' in dom  # 95 % community, meets the target
    assert f'fill="{LIFE_CIRCLE_CLASSES[2][0]}"' not in dom  # the life-circle layer is not drawn at first


def test_overview_life_circle_classes(sample, tmp_path):
    b = sample["boundaries"]
    comms = b[b["level"] == "community"]
    m = maps.overview_map(comms, sample["unit_coverage"], life_circles=_life_circles(sample), basemaps=())
    text = maps.render_html(m)
    # unit k has k % 4 complete: ids 0..6 give 0,1,2,3,0,1,2 complete, the 8th is not judged
    for k in range(7):
        assert f"{k % 4} / 3" in text
    assert "0 / 0" in text and "无法判断 not judged" in text
    with pytest.raises(DataError, match="lc<N>_complete"):
        maps.overview_map(comms, sample["unit_coverage"], life_circles=pd.DataFrame({"unit_id": ["x"]}))
    with pytest.raises(DataError, match="no rows for category"):
        maps.overview_map(comms, sample["unit_coverage"], "library")


def _toy_routes():
    """Four network edges; three routes (keys 10, 11, 12) with known edge sequences."""
    from childspace.analysis.routes import _RouteData

    x0, y0 = _origin()
    edges = gpd.GeoDataFrame(
        {
            "edge": [0, 1, 2, 3],
            "name": ["甲路", "乙路", "丙路", "丁路"],
            "level": [1, 4, 2, 3],
            "reason": ["", "4车道 4 lanes", "", ""],
        },
        geometry=[LineString([(x0 + 100 * i, y0), (x0 + 100 * (i + 1), y0)]) for i in range(4)],
        crs=METRIC,
    )
    routes = gpd.GeoDataFrame(
        {
            "origin_id": ["A", "B", "C", "A"],
            "school_id": ["S1", "S1", "S2", "S1"],
            "route": ["safest", "safest", "safest", "shortest"],
            "children": [3, 5, 7, 3],
            "route_key": [10, 11, 12, 13],
            "verdict": ["safe", "caution", "unreachable", "unsafe"],
            "worst_level": [1, 2, 4, 4],
        },
        geometry=[LineString([(x0, y0), (x0 + 400, y0)])] * 4,
        crs=METRIC,
    )
    routes.attrs["childspace_routes"] = _RouteData(
        edge_key=np.array([10, 10, 11, 11, 11, 12, 13]),
        edge=np.array([0, 1, 1, 2, 2, 3, 3]),
        cross_key=np.zeros(0, np.int64),
        cross_node=np.zeros(0, np.int64),
        cross_edge=np.zeros(0, np.int64),
        cross_level=np.zeros(0, np.int8),
        n_edges=4,
    )
    return routes, edges


def test_route_edge_use_hand_counts():
    routes, edges = _toy_routes()
    use = streets.route_edge_use(routes, edges, "safest")
    got = dict(zip(use["edge"], use["children"]))
    # edge 0: route 10 (3); edge 1: routes 10 + 11 (3 + 5); edge 2: route 11 once (listed twice, counted once);
    # edge 3: only the unreachable route 12 and the shortest route 13 -> not in the safest use
    assert got == {0: 3.0, 1: 8.0, 2: 5.0}
    assert dict(zip(use["edge"], use["routes"])) == {0: 1, 1: 2, 2: 1}
    assert list(use["edge"]) == [1, 2, 0]  # most children first
    short = streets.route_edge_use(routes, edges, "shortest")
    assert dict(zip(short["edge"], short["children"])) == {3: 3.0}
    with pytest.raises(DataError, match="network"):
        streets.route_edge_use(routes, edges.iloc[:3], "safest")
    with pytest.raises(DataError, match="edge sequences"):
        streets.route_edge_use(
            gpd.GeoDataFrame(routes.copy()).pipe(lambda d: d.__setattr__("attrs", {}) or d), edges
        )


def test_routes_map_with_network_stress(sample, tmp_path):
    require_chromium()
    routes, edges = _toy_routes()
    x0, y0 = _origin()
    crossings = gpd.GeoDataFrame(
        {
            "node": [1, 2],
            "level": [1, 4],
            "control": ["traffic_signals", "unmarked"],
            "reason": ["信号灯 signals", "无标线 unmarked"],
        },
        geometry=[Point(x0 + 100, y0), Point(x0 + 300, y0)],
        crs=METRIC,
    )
    m = maps.routes_map(routes, network_stress=edges, crossings=crossings, basemaps=())
    dom = dump_dom(maps.save_map(m, tmp_path / "r.html"))
    root = re.search(r"<html[^>]*>", dom).group(0)
    assert 'data-map-ready="1"' in root and "data-js-errors" not in root
    for text in (
        "街道压力等级（全路网 4 段） Street stress (all 4 segments)",
        "过街点压力等级（2） Crossing stress (2)",
        "通学儿童流量（最安全路线） Children per street (safest routes)",
        "通学儿童流量（最短路线） Children per street (shortest routes)",
        "最安全路线（3） Safest routes (3)",
        "线宽=走该街道的儿童数（最多 8）",
    ):
        assert text in dom, text
    # the per-street safest layer is shown, the shortest one and the single route lines are not
    labels = re.findall(
        r'<label>\s*<span>\s*<input type="checkbox" class="leaflet-control-layers-selector"'
        r'( checked="")?>\s*<span>\s*(.*?)</span>',
        dom,
    )
    state = {name.strip(): bool(chk) for chk, name in labels}
    assert state["通学儿童流量（最安全路线） Children per street (safest routes)"] is True
    assert state["通学儿童流量（最短路线） Children per street (shortest routes)"] is False
    assert state["最安全路线（3） Safest routes (3)"] is False


def test_hex_totals_sum_and_area():
    x0, y0 = _origin()
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 1000, size=(300, 2))
    pts = gpd.GeoDataFrame(geometry=[Point(x0 + a, y0 + b) for a, b in xy], crs=METRIC).to_crs(4326)
    w = rng.integers(0, 5, size=300)
    hx = aggregate.hex_totals(pts, w, size_m=100.0)
    assert hx["total"].sum() == pytest.approx(w.sum())
    assert hx["points"].sum() == 300
    assert np.allclose(hx.area, 1.5 * np.sqrt(3) * 100.0**2)  # regular hexagon: (3√3/2)·s²
    # every point lies in the cell it was counted in (cells tile the plane without overlap)
    pm = pts.to_crs(hx.crs)
    joined = gpd.sjoin(pm.assign(w=w), hx, predicate="within")
    assert len(joined) == 300
    assert joined.groupby("index_right")["w"].sum().reindex(hx.index).fillna(0).to_numpy() == pytest.approx(
        hx["total"].to_numpy()
    )


def _layers(m) -> dict[str, dict]:
    """The GeoJSON of every data layer of a map, by its name in the layer list."""
    from childspace.outputs.maps._page import GeoLayer

    out = {}
    for c in m._children.values():
        if isinstance(c, GeoLayer):
            data, heads = json.loads(c.data_json), json.loads(c.heads_json)
            for f in data["features"]:  # popups stored as [caption, values...] + the layer's row labels
                v = f["properties"].get("_p")
                if isinstance(v, list):
                    cap = f"<caption>{v[0]}</caption>" if v[0] else ""
                    rows = "".join(f"<tr><th>{h}</th><td>{x}</td></tr>" for h, x in zip(heads, v[1:]))
                    f["properties"]["_p"] = f"<table class='cs-pop'>{cap}{rows}</table>"
            out[c.layer_name] = data
    return out


def test_coverage_map_aggregates_many_homes(sample):
    s = sample
    m = maps.coverage_map(
        s["boundaries"],
        s["facilities"],
        s["service_areas"],
        s["access"],
        s["gaps"],
        "kindergarten",
        max_points=10,
        hex_size=200,
        basemaps=(),
    )
    layers = _layers(m)
    name = next(k for k in layers if "Children uncovered (on foot, 200 m hexagons)" in k)
    assert not any("Uncovered homes" in k for k in layers)  # above max_points no home is drawn one by one
    # the hexagon popups carry the children summed per cell; all uncovered children are accounted for
    acc = s["access"]
    unc_kids = int(acc.loc[~acc["covered_walk_kindergarten"], "children"].sum())
    feats = layers[name]["features"]
    per_cell = [
        int(re.search(r"儿童数 Children</th><td>([\d,]+)<", f["properties"]["_p"]).group(1).replace(",", ""))
        for f in feats
    ]
    assert sum(per_cell) == unc_kids
    # the cells are clipped to the study area: none reaches beyond the townships (0.1 m rounding aside)
    area = shapely.union_all(s["boundaries"].to_crs(METRIC).geometry.values)
    cells = gpd.GeoSeries([shapely.geometry.shape(f["geometry"]) for f in feats], crs=4326).to_crs(METRIC)
    assert (cells.difference(area.buffer(6.0)).area < 1.0).all()
    assert (
        cells.area.sum() < aggregate.hex_totals(acc[~acc["covered_walk_kindergarten"]], None, 200).area.sum()
    )  # some cells were cut at the boundary


# ----------------------------------------------------------------------------------------------------
# layers added by the user after a map is built; school zones (GA/T 1215-2014)
# ----------------------------------------------------------------------------------------------------


def test_layer_added_after_build_is_listed_without_script_error(sample, tmp_path):
    """A planner's own layer added to the returned map shows in the layer control; the page has no JS error."""
    require_chromium()
    import folium

    m = maps.routes_map(sample["routes"], sample["hazards"], schools=sample["schools"], basemaps=())
    fg = folium.FeatureGroup(name="规划新校址 Planned school sites").add_to(m)
    folium.CircleMarker([28.121, 120.985], radius=9, color="#000000", fill=True).add_to(fg)
    folium.GeoJson(
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [120.99, 28.12]}},
        name="我的GeoJSON My GeoJSON",
    ).add_to(m)
    text = maps.render_html(m)
    # the control is written after every layer variable it lists
    assert text.rfind("L.control.layers") > text.rfind(fg.get_name() + " = ")
    dom = dump_dom(maps.save_map(m, tmp_path / "extended.html"))
    root = re.search(r"<html[^>]*>", dom).group(0)
    assert 'data-map-ready="1"' in root and "data-js-errors" not in root, root
    labels = re.findall(r'class="leaflet-control-layers-selector"[^>]*>\s*<span>\s*(.*?)</span>', dom)
    names = [t.strip() for t in labels]
    assert "规划新校址 Planned school sites" in names and "我的GeoJSON My GeoJSON" in names
    assert "隐患过街点（2） Hazard crossings (2)" in names  # the builder's own layers are still listed
    assert len(names) == len(set(names))


X0Z, Y0Z = 590000.0, 3110000.0  # metres, EPSG:4549 (near Yueqing)


def _zone_network():
    """Two east-west roads 1 km apart, each 400 m long with a zebra node: a 50 km/h road (y = 0, zebra at
    x = 280) and a 30 km/h road (y = 1000, zebra at x = 230); plus a footway (not a zone road)."""
    from childspace.network.engine import WalkNetwork

    xy = {
        1: (0, 0),
        2: (280, 0),
        3: (400, 0),
        11: (0, 1000),
        12: (230, 1000),
        13: (400, 1000),
        14: (100, 1000),
        15: (100, 1120),
    }
    ids = list(xy)
    nodes = gpd.GeoDataFrame(
        {
            "highway": ["crossing" if i in (2, 12) else None for i in ids],
            "crossing": ["zebra" if i in (2, 12) else None for i in ids],
        },
        geometry=[Point(X0Z + xy[i][0], Y0Z + xy[i][1]) for i in ids],
        index=pd.Index(ids, name="osmid"),
        crs=METRIC,
    )
    fast = dict(highway="secondary", maxspeed="50", lanes="4", sidewalk="both", name="大道")
    calm = dict(highway="residential", maxspeed="30", lanes="2", sidewalk="both", name="小街")
    rows = [
        dict(u=1, v=2, osmid=10, **fast),
        dict(u=2, v=3, osmid=10, **fast),
        dict(u=11, v=14, osmid=20, **calm),
        dict(u=14, v=12, osmid=20, **calm),
        dict(u=12, v=13, osmid=20, **calm),
        dict(u=14, v=15, osmid=21, highway="footway"),
    ]
    edges = pd.DataFrame(rows).assign(key=0)
    geom = [
        LineString([(X0Z + xy[r["u"]][0], Y0Z + xy[r["u"]][1]), (X0Z + xy[r["v"]][0], Y0Z + xy[r["v"]][1])])
        for r in rows
    ]
    return WalkNetwork.from_frames(nodes, gpd.GeoDataFrame(edges, geometry=geom, crs=METRIC), crs=METRIC)


def zone_sample():
    """School-zone check on the two-road network: S1 (50 km/h road, zebra 81 m away) fails both requirements,
    S2 (30 km/h road, zebra 32 m away) is compliant. Real safety.school_zones output."""
    from childspace.analysis.safety import school_zones

    net = _zone_network()
    schools = gpd.GeoDataFrame(
        {
            "facility_id": ["S1", "S2"],
            "name": ["大道小学", "小街幼儿园"],
            "category": ["primary_school", "kindergarten"],
        },
        geometry=[Point(X0Z + 200, Y0Z + 10), Point(X0Z + 200, Y0Z + 1010)],
        crs=METRIC,
    )
    zones, roads = school_zones(net, schools, return_segments=True)
    return net, schools, zones, roads


def test_school_zone_circles_areas():
    _net, schools, zones, _roads = zone_sample()
    circ = streets.school_zone_circles(zones)
    assert list(circ["school_id"]) == ["S1", "S2"] and (circ["radius_m"] == 150.0).all()
    area = circ.to_crs(METRIC).area.to_numpy()
    # one gate each: a 150 m circle (128-gon: area ratio (n/2π)·sin(2π/n) = 0.9996)
    assert area == pytest.approx(np.pi * 150.0**2, rel=1e-3)
    # two gates 100 m apart: two circles minus their lens, 2r²·acos(d/2r) − (d/2)·√(4r² − d²)
    g = gpd.GeoSeries([Point(X0Z + 150, Y0Z + 10), Point(X0Z + 250, Y0Z + 10)], crs=METRIC).to_crs(4326)
    with_gates = zones.assign(entrances=[[(p.x, p.y) for p in g], None])
    r, d = 150.0, 100.0
    lens = 2 * r * r * np.arccos(d / (2 * r)) - d / 2 * np.sqrt(4 * r * r - d * d)
    a2 = streets.school_zone_circles(with_gates).to_crs(METRIC).area.to_numpy()
    assert a2[0] == pytest.approx(2 * np.pi * r * r - lens, rel=2e-3)
    assert a2[1] == pytest.approx(np.pi * r * r, rel=1e-3)
    # the gates can also come from the schools' entrances (as from childspace.features)
    sch = schools.to_crs(4326).assign(entrances=[[(p.x, p.y) for p in g], None])
    a3 = streets.school_zone_circles(zones, schools=sch).to_crs(METRIC).area.to_numpy()
    assert a3 == pytest.approx(a2, rel=1e-9)
    assert list(streets.zone_status(zones)) == ["both", "compliant"]


def test_routes_map_school_zones_in_browser(sample, tmp_path):
    require_chromium()
    _net, schools, zones, roads = zone_sample()
    assert not zones.iloc[0]["compliant"] and zones.iloc[1]["compliant"]
    n_over = int(roads["over_limit"].sum())
    assert 0 < n_over < len(roads)
    # the routes of the sample stand in; the zones lie 10 km away, which the map extent must include
    m = maps.routes_map(sample["routes"], schools=schools, school_zones=zones, zone_roads=roads, basemaps=())
    text = maps.render_html(m)
    # the popup of S1 lists both failures, the one of S2 says it complies
    assert "校门50米内无人行横道" in text and "限速高于30km/h" in text and "符合GA/T 1215-2014" in text
    assert "× 不符合 fails" in text and "✓ 符合 meets" in text
    dom = dump_dom(maps.save_map(m, tmp_path / "zones.html"))
    root = re.search(r"<html[^>]*>", dom).group(0)
    assert 'data-map-ready="1"' in root and "data-js-errors" not in root, root
    for t in (
        "校园周边150米范围（2） School zones 150 m (2)",
        "校园周边检查（1/2 符合） School-zone check (1/2 compliant)",
        f"校园周边道路（{len(roads)}段，{n_over}段超30） School-zone roads ({len(roads)}, {n_over} over 30 km/h)",
        "校园周边（GA/T 1215-2014） School zones",
        "限速高于30 km/h Over 30 km/h",
        "限速≤30 km/h At most 30 km/h",
        "符合 Compliant（1）",
        "两项均不符合 Both requirements fail（1）",
    ):
        assert t in dom, t
    # the zone layers are off when the map opens (the map answers "where are the hazards"): not drawn yet,
    # but in the page with zone roads over and under the limit and rings for compliant and failing schools
    from childspace.outputs.style import ZONE_ROAD_COLOURS, ZONE_STATUS_LABELS

    assert not re.search(r'checked=""[^>]*>\s*<span>\s*校园周边', dom)
    for colour in (
        ZONE_ROAD_COLOURS[True],
        ZONE_ROAD_COLOURS[False],
        ZONE_STATUS_LABELS["compliant"][2],
        ZONE_STATUS_LABELS["both"][2],
    ):
        assert f'"color": "{colour}"' in text
    with pytest.raises(DataError, match="speed_ok"):
        maps.routes_map(sample["routes"], school_zones=zones.drop(columns="speed_ok"), basemaps=())


def test_routes_map_numbers_the_first_hazards_and_keeps_the_rest_a_click_away(sample):
    """Many hazards: the first MAP_HAZARD_LABELS numbers are on the map, the others in a layer that is off."""
    from childspace.outputs.maps.routes import MAP_HAZARD_LABELS

    hz = sample["hazards"]
    many = pd.concat([hz] * (MAP_HAZARD_LABELS // len(hz) + 2), ignore_index=True)
    many["rank"] = np.arange(1, len(many) + 1)
    m = maps.routes_map(sample["routes"], many, schools=sample["schools"], basemaps=())
    text = maps.render_html(m)
    rest = len(many) - MAP_HAZARD_LABELS
    assert f"Hazard numbers (top {MAP_HAZARD_LABELS})" in text
    assert f"Other hazard numbers ({rest})" in text
    assert text.count("class='hz'>") == len(many)  # every number exists once: shown, or one click away
