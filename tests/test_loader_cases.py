"""Loaders on the tricky and hostile files planners (and others) give: renamed and binary files, GeoJSON in metres
without CRS, polygons without area, decimal commas, DMS and combined coordinates, blank child counts, ids repeated
across files, incomplete Shapefiles, empty coordinates, truncated GeoPackages, two-row Excel headers, zip bombs,
huge sheets and deeply nested GeoJSON. Every case ends in a correct load or a one-line DataError with its fix."""

import json
import tracemalloc
import warnings
import zipfile

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from pyproj import Geod, Transformer
from shapely.geometry import Polygon, box

from childspace import DataError
from childspace._errors import ChildspaceWarning
from childspace.inputs import _validate as V
from childspace.inputs import load_boundaries, load_facilities, load_origins
from childspace.inputs.datum import gcj02_to_wgs84
from childspace.inputs.loaders import combine_facilities, validate_report

GEOD = Geod(ellps="WGS84")
LON = np.array([120.9612, 120.9705, 120.9820])
LAT = np.array([28.1203, 28.1288, 28.1150])
NAMES = ["阳光幼儿园", "乐清市实验小学", "城东口袋公园"]
CATS = ["幼儿园", "小学", "口袋公园"]
TO_4549 = Transformer.from_crs(4326, 4549, always_xy=True)


def table(**extra):
    df = pd.DataFrame({"编号": ["F01", "F02", "F03"], "名称": NAMES, "类型": CATS, "经度": LON, "纬度": LAT})
    for k, v in extra.items():
        df[k] = v
    return df


def caught(func, *args, **kwargs):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = func(*args, **kwargs)
    return out, [str(w.message) for w in rec if issubclass(w.category, ChildspaceWarning)]


def metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


# ------------------------------------------------------------------------------------------ renamed / binary files
def test_xlsx_renamed_csv_and_random_bytes_are_data_errors(tmp_path):
    table().to_excel(tmp_path / "f.xlsx", index=False)
    renamed = tmp_path / "f.csv"
    renamed.write_bytes((tmp_path / "f.xlsx").read_bytes())
    with pytest.raises(
        DataError,
        match=r"f\.csv: this is not a text table: its first bytes show a zip archive "
        r"\(an Excel \.xlsx workbook.*fix: give the file its real extension",
    ):
        load_facilities(renamed)
    noise = np.random.default_rng(7).bytes(5000)
    (tmp_path / "noise.csv").write_bytes(noise)
    with pytest.raises(
        DataError, match=r"noise\.csv: this is not a text table in UTF-8, GBK/GB18030 or Big5"
    ):
        load_facilities(tmp_path / "noise.csv")
    (tmp_path / "noise.xlsx").write_bytes(noise)
    with pytest.raises(
        DataError,
        match=r"noise\.xlsx: not an Excel \.xlsx workbook: .*binary or damaged.*fix: check "
        r"it is the right file",
    ):
        load_facilities(tmp_path / "noise.xlsx")
    table().to_csv(tmp_path / "text.xlsx", index=False)
    with pytest.raises(
        DataError,
        match=r"text\.xlsx: not an Excel \.xlsx workbook: it is a text file.*rename it "
        r"\.csv",
    ):
        load_facilities(tmp_path / "text.xlsx")
    # following the fix works
    (tmp_path / "text.xlsx").rename(tmp_path / "text.csv")
    assert load_facilities(tmp_path / "text.csv")["name"].tolist() == NAMES


def test_decode_text_tells_gbk_from_big5():
    simplified = "名称,类型\n乐清市实验小学,小学\n城东街道阳光幼儿园,幼儿园\n"
    traditional = "名稱,類型\n樂清市實驗小學,小學\n城東街道陽光幼兒園,幼兒園\n"
    assert V.decode_text(simplified.encode("gbk")) == (simplified, "gb18030")
    assert V.decode_text(traditional.encode("big5")) == (traditional, "big5")
    assert V.decode_text(simplified.encode("utf-8-sig")) == (simplified, "utf-8-sig")


# ------------------------------------------------------------------------------------------ CRS
def test_geojson_in_metres_without_crs_is_refused_with_the_zone_then_read_with_crs(tmp_path):
    x, y = TO_4549.transform(LON, LAT)
    feats = [
        {
            "type": "Feature",
            "properties": {"name": n, "category": c},
            "geometry": {"type": "Point", "coordinates": [float(a), float(b)]},
        }
        for n, c, a, b in zip(NAMES, CATS, x, y)
    ]
    p = tmp_path / "metres.geojson"
    p.write_text(
        json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False), encoding="utf-8"
    )
    with pytest.raises(
        DataError,
        match=r'metres\.geojson: the GeoJSON has no "crs" member.*look like metres.*'
        r"EPSG:4549.*fix: crs='EPSG:4549' in Python, or crs = \"EPSG:4549\" in this "
        r"file's block",
    ):
        load_facilities(p)
    f = load_facilities(p, crs="EPSG:4549")
    assert f.crs.to_epsg() == 4326
    assert max(metres(a, b, c, d) for a, b, c, d in zip(f.geometry.x, f.geometry.y, LON, LAT)) < 0.01


# ------------------------------------------------------------------------------------------ polygons without area
def _line_polygon():
    return Polygon([(120.97, 28.11), (120.98, 28.11), (120.99, 28.11)])


@pytest.mark.parametrize("crs", [4326, 4549])
def test_zero_area_boundary_is_an_error_naming_the_unit(tmp_path, crs):
    b = gpd.GeoDataFrame(
        {"name": ["城东街道", "乐成街道"]},
        geometry=[box(120.96, 28.11, 120.97, 28.12), _line_polygon()],
        crs=4326,
    ).to_crs(crs)
    b.to_file(tmp_path / "b.gpkg")
    with pytest.raises(
        DataError,
        match=r"a polygon without area \(a line or a point drawn as a polygon\) at "
        r"feature 2 \(乐成街道\) -> fix: redraw",
    ):
        load_boundaries(tmp_path / "b.gpkg")


def test_zero_area_facility_polygon_becomes_a_point_with_a_warning(tmp_path):
    g = gpd.GeoDataFrame(
        {"name": ["滨江公园", "细线公园"], "category": ["公园", "公园"]},
        geometry=[box(120.96, 28.11, 120.962, 28.112), _line_polygon()],
        crs=4326,
    )
    g.to_file(tmp_path / "parks.gpkg")
    f, msgs = caught(load_facilities, tmp_path / "parks.gpkg")
    assert f.geom_type.tolist() == ["Point", "Point"]
    assert any("1 polygons without area" in m and "feature 2 (细线公园)" in m for m in msgs)
    assert abs(f.geometry.y.iloc[1] - 28.11) < 1e-9 and 120.97 <= f.geometry.x.iloc[1] <= 120.99
    assert np.isnan(f["area_ha"].iloc[1]) and f["area_ha"].iloc[0] > 3  # ~200 m x 220 m park
    assert "zero_area" in validate_report(f)["check"].tolist()


# ------------------------------------------------------------------------------------------ number formats
def test_decimal_comma_in_semicolon_and_quoted_csv(tmp_path):
    lines = [
        f"{n};{c};{str(a).replace('.', ',')};{str(b).replace('.', ',')}"
        for n, c, a, b in zip(NAMES, CATS, LON, LAT)
    ]
    (tmp_path / "semi.csv").write_text("名称;类型;经度;纬度\n" + "\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "quoted.csv").write_text(
        "名称,类型,经度,纬度\n"
        + "\n".join(
            f'{n},{c},"{str(a).replace(".", ",")}","{str(b).replace(".", ",")}"'
            for n, c, a, b in zip(NAMES, CATS, LON, LAT)
        )
        + "\n",
        encoding="utf-8",
    )
    for name in ("semi.csv", "quoted.csv"):
        f = load_facilities(tmp_path / name)
        assert np.allclose(f.geometry.x, LON) and np.allclose(f.geometry.y, LAT), name


def test_number_parsing_rules():
    num, bad = V.to_number(pd.Series(["1,200", "12,5", "1.234,5", "3,112,146.5", "", "abc"]))
    assert np.allclose(num[:4], [1200, 12.5, 1234.5, 3112146.5]) and np.isnan(num[4:]).all()
    assert bad.tolist() == [False] * 5 + [True]
    lon, _ = V.to_number(
        pd.Series(["120,961", "120°57'40.3\"E", "东经120度57分40.3秒", "120.5°"]), coordinate=True
    )
    assert np.allclose(lon, [120.961, 120 + 57 / 60 + 40.3 / 3600, 120 + 57 / 60 + 40.3 / 3600, 120.5])
    lat, bad = V.to_number(pd.Series(["28°7′13″N", "S 33°52'", "28°75'"]), coordinate=True)
    assert np.allclose(lat[:2], [28 + 7 / 60 + 13 / 3600, -(33 + 52 / 60)]) and bad.tolist() == [
        False,
        False,
        True,
    ]


def test_dms_coordinates_load(tmp_path):
    def dms(v, hemi):
        d = int(v)
        m = int((v - d) * 60)
        s = (v - d - m / 60) * 3600
        return f"{d}°{m}'{s:.4f}\"{hemi}"

    table(经度=[dms(v, "E") for v in LON], 纬度=[dms(v, "N") for v in LAT]).to_csv(
        tmp_path / "dms.csv", index=False
    )
    f = load_facilities(tmp_path / "dms.csv")
    assert np.allclose(f.geometry.x, LON, atol=1e-7) and np.allclose(f.geometry.y, LAT, atol=1e-7)


def test_combined_amap_column_is_split_and_converted(tmp_path):
    df = pd.DataFrame({"名称": NAMES, "类型": CATS, "location": [f"{a},{b}" for a, b in zip(LON, LAT)]})
    df.to_csv(tmp_path / "amap.csv", index=False)
    f = load_facilities(tmp_path / "amap.csv", coords="gcj02")
    wlon, wlat = gcj02_to_wgs84(LON, LAT)
    assert np.allclose(f.geometry.x, wlon, atol=1e-9) and np.allclose(f.geometry.y, wlat, atol=1e-9)
    assert "location" not in f.columns
    # an unnamed column of pairs is found by its content; a bad cell is named
    df.rename(columns={"location": "点位"}).assign(
        点位=["120.9612，28.1203", "(120.9705, 28.1288)", "120.98"]
    ).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(
        DataError, match=r"column '点位' holds \"lon,lat\" pairs, but not at line 4 \(城东口袋公园\)"
    ):
        load_facilities(tmp_path / "bad.csv")


# ------------------------------------------------------------------------------------------ blank child counts
def test_blank_child_counts_are_warned_with_units_and_children(tmp_path):
    b = gpd.GeoDataFrame(
        {
            "name": ["城东社区", "乐成社区", "白石村"],
            "children": [100, None, 207],
            "population": [1000, 1500, 2000],
        },
        geometry=[box(120.96 + i * 0.01, 28.11, 120.97 + i * 0.01, 28.12) for i in range(3)],
        crs=4326,
    )
    b.to_file(tmp_path / "c.gpkg")
    out, msgs = caught(load_boundaries, tmp_path / "c.gpkg")
    assert np.isnan(out["children"].iloc[1])
    (msg,) = [m for m in msgs if "no child count" in m]
    # 307 children in 3,000 people elsewhere -> 10.2 % of 1,500 people = 154 children
    assert "1 of 3 units have no child count" in msg and "feature 2 (乐成社区)" in msg
    assert "307 children counted in the others" in msg and "about 154 children" in msg


# ------------------------------------------------------------------------------------------ ids across files
def test_duplicate_ids_across_files_are_named_and_kept_apart(tmp_path):
    table().to_csv(tmp_path / "schools.csv", index=False)
    swapped = table(经度=[LAT[0], LON[1], LON[2]], 纬度=[LON[0], LAT[1], LAT[2]])
    swapped.assign(编号=["F01", "F02", "X9"]).to_csv(tmp_path / "parks.csv", index=False)
    a, _ = caught(load_facilities, tmp_path / "schools.csv")
    b, _ = caught(load_facilities, tmp_path / "parks.csv")
    fac, msgs = caught(combine_facilities, [a, b], [tmp_path / "schools.csv", tmp_path / "parks.csv"])
    assert fac["facility_id"].tolist() == [
        "schools:F01",
        "schools:F02",
        "F03",
        "parks:F01",
        "parks:F02",
        "X9",
    ]
    (msg,) = [m for m in msgs if "more than one file" in m]
    assert "F01 in schools.csv and parks.csv" in msg and "F02 in schools.csv and parks.csv" in msg
    rep = validate_report(fac)
    assert {"swapped_lonlat", "duplicate_ids_across_files"} <= set(rep["check"])  # per-file repairs kept
    # ids numbered by the loader (no id column) repeat across files by nature: kept apart without a warning
    table().drop(columns="编号").to_csv(tmp_path / "x.csv", index=False)
    table().drop(columns="编号").to_csv(tmp_path / "y.csv", index=False)
    xy, msgs = caught(
        combine_facilities, [load_facilities(tmp_path / "x.csv"), load_facilities(tmp_path / "y.csv")]
    )
    assert xy["facility_id"].is_unique and xy["facility_id"].iloc[3] == "y:F0001"
    assert not [m for m in msgs if "more than one file" in m]


def test_run_config_keeps_per_file_repairs_and_passes_strict(tmp_path):
    from childspace.run import pipeline as P

    table().to_csv(tmp_path / "a.csv", index=False)
    table(经度=[LAT[0], LON[1], LON[2]], 纬度=[LON[0], LAT[1], LAT[2]]).to_csv(
        tmp_path / "b.csv", index=False
    )
    table(经度=[LON[0], None, LON[2]]).assign(编号=["E1", "E2", "E3"]).to_csv(tmp_path / "c.csv", index=False)
    cfg = P.RunConfig(
        name="t",
        outputs=tmp_path,
        osm=tmp_path,
        from_osm={"units": False, "homes": False},
        facilities=[
            P.InputSpec(path=tmp_path / "a.csv"),
            P.InputSpec(path=tmp_path / "b.csv"),
            P.InputSpec(path=tmp_path / "c.csv"),
        ],
    )
    inp, _ = caught(P.load_inputs, cfg)
    assert len(inp.facilities) == 8
    assert {"swapped_lonlat", "duplicate_ids_across_files", "empty_coordinates"} <= set(
        inp.reports["facilities"]["check"]
    )
    cfg.facilities[2].strict = True
    with pytest.raises(DataError, match=r"c\.csv: empty coordinates at line 3"):
        P.load_inputs(cfg)


# ------------------------------------------------------------------------------------------ incomplete / damaged files
def test_shapefile_without_dbf_or_shx_says_which_file_is_missing(tmp_path):
    g = gpd.GeoDataFrame({"name": ["城东街道"]}, geometry=[box(120.96, 28.11, 120.97, 28.12)], crs=4326)
    g.to_file(tmp_path / "b.shp")
    (tmp_path / "b.dbf").unlink()
    with pytest.raises(
        DataError, match=r"b\.shp: the Shapefile's \.dbf file \(the attribute table.*is missing: b\.dbf"
    ):
        load_boundaries(tmp_path / "b.shp")
    g.to_file(tmp_path / "c.shp")
    (tmp_path / "c.shx").unlink()
    with pytest.raises(DataError, match=r"c\.shp: the Shapefile's \.shx file .*missing"):
        load_boundaries(tmp_path / "c.shp")


def test_truncated_geopackage_is_named_as_truncated(tmp_path):
    g = gpd.GeoDataFrame(
        table().drop(columns=["经度", "纬度"]), geometry=gpd.points_from_xy(LON, LAT), crs=4326
    )
    g.to_file(tmp_path / "full.gpkg")
    raw = (tmp_path / "full.gpkg").read_bytes()
    (tmp_path / "cut.gpkg").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(
        DataError,
        match=r"cut\.gpkg: the GeoPackage is truncated: .* bytes of the .* its header "
        r"announces.*fix: copy or export the file again",
    ):
        load_facilities(tmp_path / "cut.gpkg")


# ------------------------------------------------------------------------------------------ empty coordinates
def test_a_few_empty_coordinates_are_dropped_and_named_unless_strict(tmp_path):
    df = pd.concat([table()] * 3, ignore_index=True).assign(编号=[f"F{i}" for i in range(9)])
    df.loc[[1, 5], "经度"] = None
    df.loc[5, "纬度"] = None
    df.to_csv(tmp_path / "f.csv", index=False)
    f, msgs = caught(load_facilities, tmp_path / "f.csv")
    assert len(f) == 7 and "F1" not in f["facility_id"].tolist() and "F5" not in f["facility_id"].tolist()
    (msg,) = [m for m in msgs if "without coordinates" in m]
    assert "2 rows without coordinates left out: lines 3 (乐清市实验小学), 7 (城东口袋公园)" in msg
    assert "strict = true" in msg
    with pytest.raises(DataError, match=r"empty coordinates at lines 3 \(乐清市实验小学\), 7"):
        load_facilities(tmp_path / "f.csv", strict=True)
    df.loc[[0, 2, 3, 4, 6], "经度"] = None  # most rows empty: the wrong columns, not a few gaps
    df.to_csv(tmp_path / "g.csv", index=False)
    with pytest.raises(DataError, match=r"empty coordinates at .*\(7 of 9 rows\)"):
        load_facilities(tmp_path / "g.csv")
    homes = pd.DataFrame({"lon": [120.96, None, 120.97], "lat": [28.11, 28.12, 28.13], "children": [3, 4, 5]})
    homes.to_csv(tmp_path / "h.csv", index=False)
    o, msgs = caught(load_origins, tmp_path / "h.csv")
    assert o["children"].tolist() == [3, 5] and any("line 3" in m for m in msgs)


# ------------------------------------------------------------------------------------------ coords spellings
@pytest.mark.parametrize(
    "coords,shift",
    [
        ("WGS 1984", False),
        ("WGS84", False),
        ("EPSG:4326", False),
        ("GCJ02", True),
        ("火星坐标", True),
        ("BD09", True),
        ("百度", True),
    ],
)
def test_coords_spellings(tmp_path, coords, shift):
    table().to_csv(tmp_path / "f.csv", index=False)
    f = load_facilities(tmp_path / "f.csv", coords=coords)
    moved = metres(f.geometry.x.iloc[0], f.geometry.y.iloc[0], LON[0], LAT[0])
    assert (moved > 300) if shift else (moved < 1e-6)


def test_unknown_coords_names_the_file_and_the_accepted_values(tmp_path):
    table().to_csv(tmp_path / "f.csv", index=False)
    with pytest.raises(
        DataError,
        match=r"f\.csv: coords='WGS 1985' is not a known coordinate system; accepted: "
        r"WGS84 .*GCJ02 .*BD09 .*fix: set coords = \"wgs84\"",
    ):
        load_facilities(tmp_path / "f.csv", coords="WGS 1985")


# ------------------------------------------------------------------------------------------ two-row headers
def _sheet(path, header_rows, merges):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in header_rows:
        ws.append(r)
    for m in merges:
        ws.merge_cells(m)
    for n, c, a, b in zip(NAMES, CATS, LON, LAT):
        ws.append([n, c, a, b])
    wb.save(path)


def test_two_row_merged_header_is_read(tmp_path):
    _sheet(
        tmp_path / "a.xlsx",
        [["名称", "类型", "坐标", None], [None, None, "经度", "纬度"]],
        ["A1:A2", "B1:B2", "C1:D1"],
    )
    f = load_facilities(tmp_path / "a.xlsx")
    assert f["name"].tolist() == NAMES and np.allclose(f.geometry.x, LON) and np.allclose(f.geometry.y, LAT)
    _sheet(
        tmp_path / "b.xlsx",
        [["设施信息", None, "位置", None], ["名称", "类型", "经度", "纬度"]],
        ["A1:B1", "C1:D1"],
    )
    assert load_facilities(tmp_path / "b.xlsx")["name"].tolist() == NAMES
    # the same layout saved as CSV (merged cells export as blanks)
    (tmp_path / "c.csv").write_text(
        "名称,类型,坐标,\n,,经度,纬度\n"
        + "".join(f"{n},{c},{a},{b}\n" for n, c, a, b in zip(NAMES, CATS, LON, LAT)),
        encoding="utf-8",
    )
    f = load_facilities(tmp_path / "c.csv")
    assert np.allclose(f.geometry.y, LAT)


def test_header_with_empty_cells_explains_itself(tmp_path):
    (tmp_path / "h.csv").write_text(
        "名称,类型,坐标,\n" + "".join(f"{n},{c},{a},{b}\n" for n, c, a, b in zip(NAMES, CATS, LON, LAT)),
        encoding="utf-8",
    )
    with pytest.raises(
        DataError,
        match=r"found columns \['名称', '类型', '坐标', 'column_4'\].*the header row has "
        r"empty cells",
    ):
        load_facilities(tmp_path / "h.csv")


# ------------------------------------------------------------------------------------------ hostile inputs
def _zip_bomb(path, mb):
    table().to_excel(path.with_name("seed.xlsx"), index=False)
    seed = zipfile.ZipFile(path.with_name("seed.xlsx"))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for it in seed.infolist():
            data = seed.read(it)
            if it.filename == "xl/worksheets/sheet1.xml":
                head, tail = data.split(b"<sheetData>")
                with z.open(it.filename, "w", force_zip64=True) as fh:
                    fh.write(head + b"<sheetData>")
                    for _ in range(mb):
                        fh.write(b" " * 2**20)
                    fh.write(tail)
            else:
                z.writestr(it, data)


def test_xlsx_zip_bomb_is_refused_from_the_zip_directory(tmp_path):
    p = tmp_path / "bomb.xlsx"
    _zip_bomb(p, 40)
    assert p.stat().st_size < 2**20  # 40 MB of XML in a small file
    tracemalloc.start()
    with pytest.raises(
        DataError,
        match=r"bomb\.xlsx: the workbook expands to 40 MB \(xl/worksheets/sheet1\.xml "
        r"compressed [\d,]+ times\); refused",
    ):
        load_facilities(p)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5 * 2**20  # nothing was decompressed


def test_row_limit_for_csv_xlsx_and_layers(tmp_path):
    big = pd.DataFrame(
        {"名称": [f"点{i}" for i in range(300)], "类型": "公园", "经度": 120.96, "纬度": 28.12}
    )
    big.to_csv(tmp_path / "big.csv", index=False)
    big.to_excel(tmp_path / "big.xlsx", index=False)
    gpd.GeoDataFrame(
        big[["名称", "类型"]], geometry=gpd.points_from_xy(big["经度"], big["纬度"]), crs=4326
    ).to_file(tmp_path / "big.gpkg")
    for name, what in (("big.csv", "lines"), ("big.xlsx", "rows"), ("big.gpkg", "features")):
        with pytest.raises(
            DataError,
            match=rf"big\.\w+: the file has .*{what}, more than the limit of 100 .*"
            r"max_rows=400 in Python, or max_rows = 400 in this file's block",
        ):
            load_facilities(tmp_path / name, max_rows=100)
        assert len(load_facilities(tmp_path / name, max_rows=400)) == 300  # following the fix works


def test_million_line_csv_is_refused_quickly_by_default(tmp_path):
    p = tmp_path / "million.csv"
    with open(p, "w", encoding="utf-8") as fh:
        fh.write("名称,类型,经度,纬度\n")
        fh.write("点,公园,120.96,28.12\n" * 1_000_000)
    with pytest.raises(DataError, match=r"1,000,001 lines, more than the limit of 500,000"):
        load_facilities(p)


def test_deeply_nested_geojson_is_a_data_error(tmp_path):
    depth = 100_000
    text = (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"a","category":"公园",'
        '"x":' + "[" * depth + "]" * depth + '},"geometry":{"type":"Point","coordinates":[120.96,28.12]}}]}'
    )
    p = tmp_path / "deep.geojson"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(
        DataError,
        match=r"deep\.geojson: not a readable GeoJSON file .*nested.*fix: its objects/arrays "
        r"are nested deeper than any GeoJSON layer",
    ):
        load_facilities(p)
