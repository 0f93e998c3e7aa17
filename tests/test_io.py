"""Loaders of planners' files: formats, encodings, CRS, datums and every validation case."""

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import sample_file
from pyproj import Geod, Transformer
from shapely.geometry import Point, Polygon, box

from childspace import DataError
from childspace._errors import ChildspaceWarning
from childspace.inputs.datum import wgs84_to_bd09, wgs84_to_gcj02
from childspace.inputs.loaders import (
    excluded_rows,
    footprints,
    load_boundaries,
    load_facilities,
    load_origins,
    load_pilots,
    read_table_or_layer,
    validate_report,
)

GEOD = Geod(ellps="WGS84")
REPO = Path(__file__).resolve().parents[1]

# Three facilities near Yueqing (WGS84), their names exercise Chinese text.
LON = np.array([120.9612, 120.9705, 120.9820])
LAT = np.array([28.1203, 28.1288, 28.1150])
NAMES = ["阳光幼儿园", "乐清市实验小学", "城东口袋公园"]
CATS = ["幼儿园", "小学", "口袋公园"]


def metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def facility_table(lon=LON, lat=LAT, **extra):
    df = pd.DataFrame(
        {
            "编号": ["F01", "F02", "F03"],
            "名称": NAMES,
            "类型": CATS,
            "经度": lon,
            "纬度": lat,
            "地址": ["乐成街道1号", "城东街道2号", "城东街道3号"],
            "容量": [180, 1200, None],
        }
    )
    for k, v in extra.items():
        df[k] = v
    return df


def squares(crs="EPSG:4326"):
    """Two adjacent 1 km squares near Yueqing, built in EPSG:4549 metres and returned in ``crs``."""
    x0, y0 = Transformer.from_crs(4326, 4549, always_xy=True).transform(120.96, 28.11)
    polys = [box(x0, y0, x0 + 1000, y0 + 1000), box(x0 + 1000, y0, x0 + 2000, y0 + 1000)]
    return gpd.GeoSeries(polys, crs=4549).to_crs(crs)


def boundary_gdf(crs="EPSG:4326", names=("城东街道", "乐成街道")):
    return gpd.GeoDataFrame(
        {
            "编码": ["330382001", "330382002"],
            "名称": list(names),
            "人口": [52000, 61000],
            "儿童数": [9000, 11000],
        },
        geometry=squares(crs).values,
        crs=crs,
    )


def caught(func, *args, **kwargs):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = func(*args, **kwargs)
    return out, [str(w.message) for w in rec if issubclass(w.category, ChildspaceWarning)]


# ------------------------------------------------------------------------------------------------ formats
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(tmp_path, encoding):
    p = tmp_path / "f.csv"
    facility_table().to_csv(p, index=False, encoding=encoding)
    f = load_facilities(p)
    assert f["name"].tolist() == NAMES
    assert f["category"].tolist() == ["kindergarten", "primary_school", "park"]
    assert f["subtype"].tolist() == CATS
    assert f["facility_id"].tolist() == ["F01", "F02", "F03"]
    assert f.crs.to_epsg() == 4326
    assert np.allclose(f.geometry.x, LON) and np.allclose(f.geometry.y, LAT)
    assert f["capacity"].tolist()[:2] == [180, 1200] and np.isnan(f["capacity"].iloc[2])
    assert f["address"].iloc[0] == "乐成街道1号"
    assert (f["source"] == "user").all()
    assert list(f.columns[:3]) == ["facility_id", "name", "category"]


def test_csv_english_columns_and_generated_ids(tmp_path):
    p = tmp_path / "f.csv"
    pd.DataFrame(
        {"Name": NAMES, "TYPE": ["kindergarten", "Primary School", "park"], "lng": LON, "Lat": LAT}
    ).to_csv(p, index=False)
    f = load_facilities(p)
    assert f["facility_id"].tolist() == ["F0001", "F0002", "F0003"]
    assert f["category"].tolist() == ["kindergarten", "primary_school", "park"]


def test_explicit_columns_mapping(tmp_path):
    p = tmp_path / "f.csv"
    pd.DataFrame({"学校": NAMES[:2], "E": LON[:2], "N": LAT[:2]}).to_csv(p, index=False)
    f = load_facilities(p, columns={"name": "学校", "lon": "E", "lat": "N"}, category="小学")
    assert f["name"].tolist() == NAMES[:2]
    assert (f["category"] == "primary_school").all()
    assert np.allclose(f.geometry.x, LON[:2])


def test_excel_gcj02_to_wgs84_within_half_a_metre(tmp_path):
    glon, glat = wgs84_to_gcj02(LON, LAT)
    p = tmp_path / "amap.xlsx"
    facility_table(glon, glat).to_excel(p, index=False)
    f = load_facilities(p, coords="amap")
    d = metres(f.geometry.x.to_numpy(), f.geometry.y.to_numpy(), LON, LAT)
    assert d.max() < 0.5
    # read as if WGS84 the points would be ~540 m off
    raw = load_facilities(p)
    assert 400 < metres(raw.geometry.x.to_numpy(), raw.geometry.y.to_numpy(), LON, LAT).min()


def test_excel_title_row_second_sheet_and_bd09(tmp_path):
    blon, blat = wgs84_to_bd09(LON, LAT)
    p = tmp_path / "baidu.xlsx"
    body = facility_table(blon, blat)
    with pd.ExcelWriter(p) as xw:
        pd.DataFrame({"x": [1]}).to_excel(xw, sheet_name="说明", index=False)
        title = pd.DataFrame([["乐清市儿童设施名录（百度坐标）"] + [None] * (body.shape[1] - 1)])
        title.to_excel(xw, sheet_name="设施", index=False, header=False)
        body.to_excel(xw, sheet_name="设施", index=False, startrow=1)
    f = load_facilities(p, sheet="设施", coords="百度")
    assert f["name"].tolist() == NAMES
    assert metres(f.geometry.x.to_numpy(), f.geometry.y.to_numpy(), LON, LAT).max() < 0.5


def test_per_row_datum_column(tmp_path):
    glon, glat = wgs84_to_gcj02(LON, LAT)
    blon, blat = wgs84_to_bd09(LON, LAT)
    df = facility_table(
        np.array([LON[0], glon[1], blon[2]]),
        np.array([LAT[0], glat[1], blat[2]]),
        坐标系=["WGS84", "高德", "BD-09"],
    )
    p = tmp_path / "mixed.csv"
    df.to_csv(p, index=False)
    f = load_facilities(p)
    assert metres(f.geometry.x.to_numpy(), f.geometry.y.to_numpy(), LON, LAT).max() < 0.5
    assert "坐标系" not in f.columns
    df["坐标系"] = ["WGS84", "火星文", None]
    df.to_csv(p, index=False)
    with pytest.raises(DataError, match=r"unknown coordinate system '火星文' in column '坐标系' at line 3"):
        load_facilities(p)


def test_geojson_and_gpkg_points(tmp_path):
    gdf = gpd.GeoDataFrame({"name": NAMES, "category": CATS}, geometry=gpd.points_from_xy(LON, LAT), crs=4326)
    for name in ("f.geojson", "f.gpkg"):
        gdf.to_file(tmp_path / name)
        f = load_facilities(tmp_path / name)
        assert f["name"].tolist() == NAMES and f["facility_id"].tolist() == ["F0001", "F0002", "F0003"]
        assert np.allclose(f.geometry.x, LON)


def test_gpkg_with_two_layers_warns_and_layer_argument(tmp_path):
    p = tmp_path / "two.gpkg"
    gdf = gpd.GeoDataFrame({"name": NAMES, "category": CATS}, geometry=gpd.points_from_xy(LON, LAT), crs=4326)
    gdf.to_file(p, layer="schools")
    gdf.iloc[:1].to_file(p, layer="other")
    f, msgs = caught(load_facilities, p)
    assert len(f) == 3 and any("2 layers" in m for m in msgs)
    assert len(load_facilities(p, layer="other")) == 1


# ------------------------------------------------------------------------------------------------ shapefiles
def _write_shp(tmp_path, encoding, keep_cpg):
    p = tmp_path / f"communities_{encoding}.shp"
    gdf = gpd.GeoDataFrame(
        {
            "CODE": ["330382001001", "330382001002"],
            "NAME": ["旭阳社区", "东山南社区"],
            "TOWN_CODE": ["330382001", "330382001"],
            "POP": [8000, 9500],
            "CHILDREN": [1400, 1700],
        },
        geometry=squares(4549).values,
        crs=4549,
    )
    gdf.to_file(p, encoding=encoding)
    cpg = p.with_suffix(".cpg")
    if not keep_cpg and cpg.exists():
        cpg.unlink()
    return p


@pytest.mark.parametrize("encoding,keep_cpg", [("GBK", False), ("GBK", True), ("UTF-8", False)])
def test_shapefile_encodings_epsg4549(tmp_path, encoding, keep_cpg):
    p = _write_shp(tmp_path, encoding, keep_cpg)
    assert p.with_suffix(".cpg").exists() == keep_cpg
    b = load_boundaries(p)
    assert b["name"].tolist() == ["旭阳社区", "东山南社区"]
    assert b["level"].tolist() == ["community", "community"]
    assert b["unit_id"].tolist() == ["330382001001", "330382001002"]
    assert b["parent_id"].tolist() == ["330382001000", "330382001000"]  # 9-digit code padded
    assert b["population"].tolist() == [8000, 9500] and b["children"].tolist() == [1400, 1700]
    assert b.crs.to_epsg() == 4326
    ref = squares(4326)
    assert b.geometry.iloc[0].hausdorff_distance(ref.iloc[0]) < 1e-7  # same square (ring order may differ)


def test_gbk_shapefile_without_cpg_is_garbled_by_default_reader(tmp_path):
    # why the detection matters: GDAL alone decodes the GBK bytes as Latin-1
    p = _write_shp(tmp_path, "GBK", keep_cpg=False)
    raw = gpd.read_file(p)
    assert raw["NAME"].iloc[0] != "旭阳社区"
    assert load_boundaries(p)["name"].iloc[0] == "旭阳社区"


def test_epsg4528_zone_prefix(tmp_path):
    b = boundary_gdf("EPSG:4528")
    assert 40e6 < b.total_bounds[0] < 41e6
    p = tmp_path / "t.gpkg"
    b.to_file(p)
    out = load_boundaries(p)
    assert out["level"].tolist() == ["township", "township"]  # from the codes
    assert out["unit_id"].tolist() == ["330382001000", "330382002000"]
    assert np.allclose(out.total_bounds, squares(4326).total_bounds, atol=1e-7)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_no_crs_zone_prefix_is_explained_and_crs_argument(tmp_path):
    b = boundary_gdf("EPSG:4528").set_crs(None, allow_override=True)
    p = tmp_path / "noprj.shp"
    b.to_file(p, encoding="UTF-8")
    assert not p.with_suffix(".prj").exists()
    with pytest.raises(DataError, match=r"zone number prefixed.*zone 40.*EPSG:4528"):
        load_boundaries(p)
    out = load_boundaries(p, crs="EPSG:4528")
    assert np.allclose(out.total_bounds, squares(4326).total_bounds, atol=1e-7)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_no_crs_metres_without_prefix_and_degrees(tmp_path):
    b = boundary_gdf("EPSG:4549").set_crs(None, allow_override=True)
    b.to_file(tmp_path / "m.shp", encoding="UTF-8")
    with pytest.raises(DataError, match="EPSG:4549"):
        load_boundaries(tmp_path / "m.shp")
    d = boundary_gdf("EPSG:4326").set_crs(None, allow_override=True)
    d.to_file(tmp_path / "d.shp", encoding="UTF-8")
    out, msgs = caught(load_boundaries, tmp_path / "d.shp")
    assert out.crs.to_epsg() == 4326
    assert any("no CRS" in m and "EPSG:4326" in m for m in msgs)
    assert validate_report(out)["check"].tolist() == ["crs"]


# ------------------------------------------------------------------------------------------------ boundaries
def test_boundaries_4490_gpkg_chinese_columns(tmp_path):
    p = tmp_path / "townships.gpkg"
    boundary_gdf("EPSG:4490").to_file(p)
    b = load_boundaries(p, level="township")
    assert list(b.columns[:3]) == ["unit_id", "name", "level"]
    assert b["name"].tolist() == ["城东街道", "乐成街道"]
    assert b["code"].tolist() == ["330382001000", "330382002000"]
    assert b["population"].tolist() == [52000, 61000]
    assert b.crs.to_epsg() == 4326
    assert validate_report(b).empty


def test_boundaries_invalid_polygon_repaired_with_warning(tmp_path):
    bow = Polygon([(120.96, 28.11), (120.97, 28.12), (120.97, 28.11), (120.96, 28.12)])  # self-intersecting
    ok = box(120.98, 28.11, 120.99, 28.12)
    gdf = gpd.GeoDataFrame({"name": ["甲社区", "乙社区"], "id": ["A", "B"]}, geometry=[bow, ok], crs=4326)
    p = tmp_path / "bow.gpkg"
    gdf.to_file(p)
    b, msgs = caught(load_boundaries, p)
    assert b.is_valid.all()
    assert b.geometry.iloc[0].geom_type in ("Polygon", "MultiPolygon")
    # make_valid keeps both lobes of the bow tie: two triangles of 0.01 x 0.005 / 2 square degrees
    assert b.geometry.iloc[0].area == pytest.approx(2 * 0.01 * 0.005 / 2, rel=1e-6)
    assert any("1 invalid geometries repaired" in m and "A" in m for m in msgs)
    rep = validate_report(b)
    assert rep.loc[rep["check"] == "invalid_geometry", "ids"].item() == "A"


def test_boundaries_with_points_are_an_error(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"name": ["甲社区", "乙社区"]}, geometry=[box(0, 0, 1, 1), Point(0.5, 0.5)], crs=4326
    )
    gdf.to_file(tmp_path / "mixed.gpkg")
    with pytest.raises(DataError, match=r"boundaries must be polygons; found Point at feature 2 \(乙社区\)"):
        load_boundaries(tmp_path / "mixed.gpkg")


def test_boundaries_bad_values(tmp_path):
    gdf = boundary_gdf()
    gdf["儿童数"] = [100, -5]
    gdf.to_file(tmp_path / "neg.gpkg")
    with pytest.raises(DataError, match=r"children is not a number ≥ 0 at feature 2 \(乐成街道\)"):
        load_boundaries(tmp_path / "neg.gpkg")
    gdf = boundary_gdf()
    gdf["编码"] = ["330382001", "330382001"]
    gdf.to_file(tmp_path / "dup.gpkg")
    with pytest.raises(DataError, match=r"duplicate ids in column '编码': 330382001000 at features 1"):
        load_boundaries(tmp_path / "dup.gpkg")
    gdf = boundary_gdf(names=("示例甲", "示例乙")).drop(columns="编码")
    gdf.to_file(tmp_path / "nolevel.gpkg")
    with pytest.raises(DataError, match="cannot tell township from community"):
        load_boundaries(tmp_path / "nolevel.gpkg")
    assert load_boundaries(tmp_path / "nolevel.gpkg", level="community")["unit_id"].tolist() == [
        "U0001",
        "U0002",
    ]


# ------------------------------------------------------------------------------------------------ validation
def test_file_not_found_and_unreadable(tmp_path):
    with pytest.raises(DataError, match=r"nothere\.csv: file not found"):
        load_facilities(tmp_path / "nothere.csv")
    bad = tmp_path / "broken.gpkg"
    bad.write_bytes(b"this is not a geopackage")
    with pytest.raises(DataError, match=r"broken\.gpkg: not a GeoPackage -> fix: export the layer again"):
        load_facilities(bad)
    xl = tmp_path / "broken.xlsx"
    xl.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(
        DataError, match=r"broken\.xlsx: damaged Excel workbook .* -> fix: open it in Excel/WPS"
    ):
        load_facilities(xl)


def test_missing_required_column_lists_found_and_accepted(tmp_path):
    p = tmp_path / "f.csv"
    facility_table().drop(columns="类型").to_csv(p, index=False)
    with pytest.raises(DataError) as exc:
        load_facilities(p)
    msg = str(exc.value)
    assert "missing required column 'category'" in msg
    assert "'名称'" in msg and "'地址'" in msg  # found columns
    assert "类型" in msg and "类别" in msg  # accepted names
    facility_table().drop(columns="纬度").to_csv(p, index=False)
    with pytest.raises(DataError, match=r"no latitude column; found columns .*accepted names: lon = .*经度"):
        load_facilities(p)


def test_unknown_category_names_rows_and_lists_known(tmp_path):
    p = tmp_path / "f.csv"
    facility_table().assign(类型=["幼儿园", "高中", "高中"]).to_csv(p, index=False)
    with pytest.raises(DataError) as exc:
        load_facilities(p)
    msg = str(exc.value)
    assert "unknown category label '高中'" in msg and "lines 3 (乐清市实验小学), 4 (城东口袋公园)" in msg
    assert "kindergarten: 幼儿园" in msg


def test_empty_layers(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("名称,类型,经度,纬度\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"empty\.csv: the layer has no rows"):
        load_facilities(p)
    g = tmp_path / "empty.gpkg"
    gpd.GeoDataFrame({"name": pd.Series(dtype=str)}, geometry=[], crs=4326).to_file(g)
    with pytest.raises(DataError, match="the layer has no rows"):
        load_boundaries(g)
    z = tmp_path / "zero.csv"
    z.write_bytes(b"")
    with pytest.raises(DataError, match="the file is empty"):
        load_facilities(z)


def test_duplicate_ids(tmp_path):
    p = tmp_path / "f.csv"
    facility_table().assign(编号=["A", "B", "A"]).to_csv(p, index=False)
    with pytest.raises(DataError, match=r"duplicate ids in column '编号': A at lines 2 \(阳光幼儿园\), 4"):
        load_facilities(p)


def test_lat_lon_swapped_rows_are_fixed_with_warning(tmp_path):
    lon, lat = LON.copy(), LAT.copy()
    lon[1], lat[1] = LAT[1], LON[1]
    p = tmp_path / "f.csv"
    facility_table(lon, lat).to_csv(p, index=False)
    f, msgs = caught(load_facilities, p)
    assert np.allclose(f.geometry.x, LON) and np.allclose(f.geometry.y, LAT)
    assert any("swapped at line 3 (乐清市实验小学)" in m for m in msgs)


def test_empty_and_bad_coordinates_name_rows(tmp_path):
    p = tmp_path / "f.csv"
    facility_table(np.array([LON[0], np.nan, LON[2]]), LAT).to_csv(p, index=False)
    with pytest.raises(DataError, match=r"empty coordinates at line 3 \(乐清市实验小学\).*fill in"):
        load_facilities(p, strict=True)
    facility_table().assign(经度=["120.96", "东经约120度", "120.98"]).to_csv(p, index=False)
    with pytest.raises(DataError, match=r"not numbers at line 3"):
        load_facilities(p)
    facility_table().assign(经度=[120.96, 500.0, 120.98], 纬度=[28.1, 28.1, 28.1]).to_csv(p, index=False)
    with pytest.raises(DataError, match=r"out of range .* at line 3"):
        load_facilities(p)


def test_points_outside_study_area_excluded_and_listed(tmp_path):
    area = gpd.GeoDataFrame(geometry=[box(120.95, 28.11, 120.975, 28.13)], crs=4326).to_crs(4549)
    p = tmp_path / "f.csv"
    facility_table().to_csv(p, index=False)
    f, msgs = caught(load_facilities, p, study_area=area)
    assert f["facility_id"].tolist() == ["F01", "F02"]
    assert any("1 facilities outside the study area" in m and "F03" in m for m in msgs)
    assert f.attrs["n_excluded"] == 1 and "城东口袋公园" in f.attrs["excluded"]
    ex = excluded_rows(f)
    assert ex["facility_id"].tolist() == ["F03"]
    assert ex["name"].tolist() == ["城东口袋公园"] and ex["reason"].tolist() == ["outside the study area"]
    assert ex.geometry.iloc[0].equals_exact(Point(LON[2], LAT[2]), 1e-9)
    assert excluded_rows(load_facilities(p)).empty


def test_mixed_points_and_polygons_in_a_facility_layer(tmp_path):
    sq = squares(4549).iloc[0]
    small = shapely.affinity.scale(sq, 0.1, 0.1)  # 100 m x 100 m = 1 ha
    gdf = gpd.GeoDataFrame(
        {
            "name": ["东山公园", "口袋公园", "游乐场"],
            "category": ["公园", "口袋公园", "游乐场"],
            "area_ha": [5.0, None, None],
        },
        geometry=[small, sq.centroid.buffer(30), Point(sq.centroid.x + 300, sq.centroid.y)],
        crs=4549,
    )
    p = tmp_path / "parks.gpkg"
    gdf.to_file(p)
    f, msgs = caught(load_facilities, p)
    assert (f.geom_type == "Point").all()
    assert f["area_ha"].iloc[0] == pytest.approx(1.0, rel=1e-3)
    assert f["area_ha"].iloc[1] == pytest.approx(np.pi * 0.09, rel=1e-2)
    assert np.isnan(f["area_ha"].iloc[2])
    assert any("2 facilities given as polygons reduced to representative points" in m for m in msgs)
    assert any("area_ha of 1 polygons differs" in m and "F0001" in m for m in msgs)
    fp = footprints(f)
    assert fp.iloc[2] is None
    assert fp.iloc[0].area == pytest.approx(
        gpd.GeoSeries([small], crs=4549).to_crs(4326).iloc[0].area, rel=1e-9
    )
    assert fp.iloc[0].contains(f.geometry.iloc[0])
    f.drop(columns="footprint").to_file(tmp_path / "out.gpkg")  # a plain, writable layer
    f.to_file(tmp_path / "out2.gpkg")  # WKB footprint is writable too


def test_inputs_never_modified(tmp_path):
    df = facility_table()
    before = df.copy()
    f = load_facilities(df)
    pd.testing.assert_frame_equal(df, before)
    assert f["name"].tolist() == NAMES
    p = tmp_path / "f.csv"
    facility_table().to_csv(p, index=False, encoding="gbk")
    raw = p.read_bytes()
    load_facilities(p, coords="gcj02")
    assert p.read_bytes() == raw


def test_loaded_layers_concatenate(tmp_path):
    p = tmp_path / "f.csv"
    facility_table().to_csv(p, index=False)
    a, _ = caught(load_facilities, p, study_area=box(120.95, 28.11, 120.975, 28.13))
    b = load_facilities(p)
    both = pd.concat([a, b], ignore_index=True)
    assert len(both) == 5


def test_read_table_or_layer_row_numbers(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("名称,类型,经度,纬度\n甲,幼儿园,120.9,28.1\n\n乙,小学,120.91,28.11\n", encoding="utf-8")
    df, info = read_table_or_layer(p)
    assert df["__row__"].tolist() == [2, 4]
    assert info["kind"] == "table" and info["encoding"] == "utf-8"


# ------------------------------------------------------------------------------------------------ pilots
def pilot_table():
    return pd.DataFrame(
        {
            "编号": ["P1", "P2", "P3", "P4", "P5"],
            "名称": ["旭阳社区", "乐清市实验小学", "东山南社区", "乐清市图书馆", "示例村"],
            "批次": ["2022年", "第二批", 2023, "2022", "第一批"],
            "类型": ["社区", "学校", "村社区", "图书馆", "儿童友好村"],
            "所属镇街": ["城东街道"] * 5,
            "社区编码": ["330382001001", None, None, None, None],
            "经度": [120.965, 120.9705, 120.975, 120.98, 120.985],
            "纬度": [28.115, 28.1188, 28.115, 28.12, 28.115],
            "重点项目": ["是", "否", "✓", None, "0"],
            "备注": ["示例", None, None, None, None],
        }
    )


def test_pilots_with_boundaries(tmp_path):
    comm = gpd.GeoDataFrame(
        {"CODE": ["330382001001", "330382001002"], "NAME": ["旭阳社区", "东山南社区"]},
        geometry=squares(4549).values,
        crs=4549,
    )
    comm.to_file(tmp_path / "c.gpkg")
    bounds = load_boundaries(tmp_path / "c.gpkg")
    p = tmp_path / "pilots.xlsx"
    pilot_table().to_excel(p, index=False)
    pl, msgs = caught(load_pilots, p, boundaries=bounds)
    assert pl["pilot_id"].tolist() == ["P1", "P2", "P3", "P4", "P5"]
    assert pl["batch"].tolist() == [2022, 2023, 2023, 2022, 2022]
    assert pl["kind"].tolist() == ["community", "school", "community", "venue", "community"]
    assert pl["key_project"].tolist() == [True, False, True, False, False]
    assert pl.geom_type.tolist()[:4] == ["Polygon", "Point", "Polygon", "Point"]
    assert pl.geometry.iloc[0].equals(bounds.geometry.iloc[0])  # by code
    assert pl.geometry.iloc[2].equals(bounds.geometry.iloc[1])  # by exact name
    assert pl["unit_id"].tolist()[:3] == ["330382001001", None, "330382001002"]
    assert pl.geom_type.iloc[4] == "Point"  # 示例村 matches no boundary: assessed as a point, said by its row
    assert any(
        m.endswith(
            "row 6 (示例村, P5): community pilot without its community boundary: it has no 社区编码 and its name "
            "matches no boundary in c.gpkg (closest names: none alike); it is assessed as a point from its lon/lat "
            "(the nearest facility of each element within its radius) instead of on the children living in the "
            "community — fix: fill in its 社区编码, or write its name as in c.gpkg"
        )
        for m in msgs
    ), msgs
    assert pl.crs.to_epsg() == 4326


def test_pilots_without_boundaries_and_errors(tmp_path):
    p = tmp_path / "pilots.csv"
    pilot_table().to_csv(p, index=False)
    pl, msgs = caught(load_pilots, p)
    assert (pl.geom_type == "Point").all()
    assert any(
        "3 community pilots have no community boundaries" in m and "assessed as a point" in m for m in msgs
    )
    pilot_table().assign(类型=["社区", "学校", "火星基地", "社区", "社区"]).to_csv(p, index=False)
    with pytest.raises(
        DataError, match=r"unknown pilot type 火星基地 at line 4 \(东山南社区\); known: community"
    ):
        load_pilots(p)
    pilot_table().assign(批次=["2022", "明年", "2023", "2023", "2023"]).to_csv(p, index=False)
    with pytest.raises(DataError, match=r"batch not understood \(明年\) at line 3"):
        load_pilots(p)
    pilot_table().assign(重点项目=["是", "也许", None, None, None]).to_csv(p, index=False)
    with pytest.raises(DataError, match=r"key project flag not understood at line 3"):
        load_pilots(p)


# ------------------------------------------------------------------------------------------------ origins
def test_origins(tmp_path):
    gdf = gpd.GeoDataFrame({"children": [3, 0, 12]}, geometry=gpd.points_from_xy(LON, LAT), crs=4326)
    gdf.to_file(tmp_path / "homes.gpkg")
    o = load_origins(tmp_path / "homes.gpkg")
    assert o["origin_id"].tolist() == ["O0001", "O0002", "O0003"]
    assert o["children"].dtype == np.int64 and o["children"].tolist() == [3, 0, 12]
    p = tmp_path / "homes.csv"
    pd.DataFrame(
        {
            "编号": ["h1", "h2"],
            "儿童数": [2.6, 1.0],
            "lon": LON[:2],
            "lat": LAT[:2],
            "unit_id": ["330382001001", "330382001002"],
        }
    ).to_csv(p, index=False)
    o, msgs = caught(load_origins, p)
    assert o["origin_id"].tolist() == ["h1", "h2"] and o["children"].tolist() == [3, 1]
    assert o["unit_id"].tolist() == ["330382001001", "330382001002"]
    assert any("1 fractional children counts rounded" in m for m in msgs)


def test_origins_errors_and_polygons(tmp_path):
    p = tmp_path / "homes.csv"
    pd.DataFrame({"儿童数": [2, -1], "lon": LON[:2], "lat": LAT[:2]}).to_csv(p, index=False)
    with pytest.raises(DataError, match=r"negative number of children at line 3"):
        load_origins(p)
    pd.DataFrame({"人口": [2, 1], "lon": LON[:2], "lat": LAT[:2]}).to_csv(p, index=False)
    with pytest.raises(DataError, match=r"missing required column 'children'; found columns \['人口'\]"):
        load_origins(p)
    blocks = gpd.GeoDataFrame({"children": [40, 25]}, geometry=squares(4549).values, crs=4549)
    blocks.to_file(tmp_path / "blocks.gpkg")
    o, msgs = caught(load_origins, tmp_path / "blocks.gpkg")
    assert (o.geom_type == "Point").all() and o["children"].sum() == 65
    assert not msgs  # a polygon-only layer is expected: logged in the report, not warned
    rep = validate_report(o)
    assert rep.loc[rep["check"] == "geometry_type", "count"].item() == 2
    assert "2 origins given as polygons" in rep["message"].iloc[0]


# ------------------------------------------------------------------------------------------------ bundled sample
SAMPLE = {
    "townships": REPO / "childspace/data/boundaries/townships.gpkg",
    "communities": REPO / "childspace/data/boundaries/communities.shp",
    "facilities": REPO / "childspace/data/facilities/facilities.csv",
    "mbr": REPO / "childspace/data/facilities/mother_baby_rooms_amap.xlsx",
    "parks": REPO / "childspace/data/facilities/parks.geojson",
    "pilots": REPO / "childspace/data/pilots/pilot_units.xlsx",
    "homes": REPO / "childspace/data/origins/homes.gpkg",
}


def need(key):
    return sample_file(str(SAMPLE[key].relative_to(REPO / "childspace" / "data")))


def test_sample_boundaries():
    t = load_boundaries(need("townships"))
    c = load_boundaries(need("communities"))
    assert (t["level"] == "township").all() and (c["level"] == "community").all()
    assert t["unit_id"].is_unique and c["unit_id"].is_unique
    assert not c["name"].str.contains("Ã|Â|Ð|Ç", regex=True).any()  # no mojibake from the GBK .dbf
    assert c["name"].str.contains(r"[\u4e00-\u9fff]").all()
    assert set(c["parent_id"]) <= set(t["unit_id"])
    assert 120.5 < t.union_all().centroid.x < 121.5 and 27.8 < t.union_all().centroid.y < 28.5
    cu, tu = c.to_crs(4549).union_all(), t.to_crs(4549).union_all()
    assert cu.difference(tu).area < 0.01 * cu.area  # communities lie within the townships


def test_sample_facilities_and_origins():
    t = load_boundaries(need("townships"))
    f = load_facilities(need("facilities"), study_area=t)
    m = load_facilities(need("mbr"), coords="gcj02", study_area=t)
    parks = load_facilities(need("parks"), study_area=t)
    assert set(f["category"]) <= set(
        (
            "kindergarten",
            "primary_school",
            "middle_school",
            "playground",
            "park",
            "mother_baby_room",
            "children_home",
            "library",
            "hospital",
        )
    )
    assert (m["category"] == "mother_baby_room").all()
    assert (parks["category"] == "park").all() and parks["area_ha"].notna().all()
    allf = pd.concat([f, m, parks], ignore_index=True)
    assert (allf.geom_type == "Point").all()
    o = load_origins(need("homes"), study_area=t)
    assert o["children"].ge(0).all() and len(o) > 0


def test_sample_pilots():
    c = load_boundaries(need("communities"))
    pl = load_pilots(need("pilots"), boundaries=c)
    assert pl["batch"].isin([2022, 2023]).all()
    comm = pl[pl["kind"] == "community"]
    assert len(comm) > 0 and comm.geom_type.isin(["Polygon", "MultiPolygon"]).all()
