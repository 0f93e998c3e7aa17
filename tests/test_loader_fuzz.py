"""Property test of the loaders: random tables in random encodings and coordinate formats, and broken files.

The only outcomes allowed are a correct load (the names and the positions written) or a ChildspaceError; any other
exception (UnicodeDecodeError, KeyError, GEOSException, ...) fails the test.
"""

import csv
import io
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from childspace._errors import ChildspaceError
from childspace.inputs import load_boundaries, load_facilities, load_origins

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: names each encoding can hold (simplified for the GB encodings, traditional for Big5), some with the separators,
#: quotes and spaces that CSV has to quote
SIMPLIFIED = [
    "阳光幼儿园",
    "乐清市实验小学",
    "城东口袋公园",
    "白石街道儿童之家",
    "柳市镇第一小学",
    'Park, "North"',
    "南岳;幼儿园",
    "虹桥 镇 公园",
    "x",
]
TRADITIONAL = [
    "陽光幼稚園",
    "樂清市實驗小學",
    "城東口袋公園",
    "白石街道兒童之家",
    "柳市鎮第一小學",
    'Park, "North"',
    "南嶽;幼稚園",
    "虹橋 鎮 公園",
    "x",
]
ENCODINGS = ["utf-8", "utf-8-sig", "gbk", "gb18030", "big5"]
FORMATS = ["decimal", "decimal_comma", "dms", "swapped", "combined"]
CATEGORIES = ["kindergarten", "primary_school", "park", "playground"]
HEADERS = {
    "zh": ("名称", "类型", "经度", "纬度", "坐标"),
    "en": ("name", "category", "lon", "lat", "location"),
    "big5": ("名稱", "類型", "經度", "緯度", "經緯度"),
}


def _dms(v: float, hemi: str) -> str:
    d = int(v)
    m = int((v - d) * 60)
    s = (v - d - m / 60) * 3600
    return f"{d}°{m}'{s:.5f}\"{hemi}"


@st.composite
def tables(draw):
    encoding = draw(st.sampled_from(ENCODINGS))
    pool = TRADITIONAL if encoding == "big5" else SIMPLIFIED
    n = draw(st.integers(1, 7))
    names = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    cats = draw(st.lists(st.sampled_from(CATEGORIES), min_size=n, max_size=n))
    lon = np.array(draw(st.lists(st.floats(120.6, 121.2), min_size=n, max_size=n)))
    lat = np.array(draw(st.lists(st.floats(27.9, 28.4), min_size=n, max_size=n)))
    fmt = draw(st.sampled_from(FORMATS))
    sep = draw(st.sampled_from([",", ";", "\t"]))
    header = draw(st.sampled_from(["big5"] if encoding == "big5" else ["zh", "en"]))
    kind = draw(st.sampled_from(["csv", "csv", "xlsx"]))
    return {
        "encoding": encoding,
        "names": names,
        "cats": cats,
        "lon": lon,
        "lat": lat,
        "fmt": fmt,
        "sep": sep,
        "header": header,
        "kind": kind,
    }


def _write(t, path):
    hn, hc, hx, hy, hp = HEADERS[t["header"]]
    rows = []
    for name, cat, x, y in zip(t["names"], t["cats"], t["lon"], t["lat"]):
        if t["fmt"] == "decimal":
            cells = [repr(float(x)), repr(float(y))]
        elif t["fmt"] == "decimal_comma":
            cells = [repr(float(x)).replace(".", ","), repr(float(y)).replace(".", ",")]
        elif t["fmt"] == "dms":
            cells = [_dms(x, "E"), _dms(y, "N")]
        elif t["fmt"] == "swapped":
            cells = [repr(float(y)), repr(float(x))]
        else:
            cells = [f"{float(x)!r},{float(y)!r}"]
        rows.append([name, cat, *cells])
    head = [hn, hc, hp] if t["fmt"] == "combined" else [hn, hc, hx, hy]
    if t["kind"] == "xlsx":
        pd.DataFrame(rows, columns=head).to_excel(path, index=False)
        return
    buf = io.StringIO()
    csv.writer(buf, delimiter=t["sep"], lineterminator="\n").writerows([head, *rows])
    path.write_bytes(buf.getvalue().encode(t["encoding"]))


def _load(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


@SETTINGS
@given(t=tables())
def test_random_tables_load_correctly(tmp_path_factory, t):
    path = tmp_path_factory.mktemp("fuzz") / f"f.{t['kind']}"
    _write(t, path)
    f = _load(load_facilities, path)  # a clean table must load: no error at all is allowed here
    assert f["name"].tolist() == t["names"]
    assert f["category"].tolist() == t["cats"]
    assert np.allclose(f.geometry.x, t["lon"], atol=1e-7) and np.allclose(f.geometry.y, t["lat"], atol=1e-7)


def _mutate(data: bytes, how: str, pos: float, noise: bytes) -> bytes:
    at = int(pos * len(data))
    if how == "truncate":
        return data[:at]
    if how == "flip":
        out = bytearray(data)
        for i, b in enumerate(noise):
            j = (at + 997 * i) % max(len(out), 1)
            if out:
                out[j] ^= b | 1
        return bytes(out)
    if how == "insert":
        return data[:at] + noise + data[at:]
    if how == "prefix":
        return noise + data
    return b""


@SETTINGS
@given(
    t=tables(),
    how=st.sampled_from(["truncate", "flip", "insert", "prefix", "empty"]),
    pos=st.floats(0, 1),
    noise=st.binary(min_size=1, max_size=64),
    loader=st.sampled_from(["facilities", "origins", "boundaries"]),
)
def test_broken_tables_give_a_correct_load_or_a_childspace_error(
    tmp_path_factory, t, how, pos, noise, loader
):
    path = tmp_path_factory.mktemp("broken") / f"f.{t['kind']}"
    _write(t, path)
    path.write_bytes(_mutate(path.read_bytes(), how, pos, noise))
    func = {"facilities": load_facilities, "origins": load_origins, "boundaries": load_boundaries}[loader]
    try:
        out = _load(func, path)
    except ChildspaceError:
        return
    assert isinstance(out, gpd.GeoDataFrame) and out.crs.to_epsg() == 4326
    assert out.geometry.notna().all()


@pytest.fixture(scope="module")
def layer_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("layers")
    g = gpd.GeoDataFrame(
        {"name": SIMPLIFIED[:4], "category": CATEGORIES},
        geometry=gpd.points_from_xy([120.96, 120.97, 120.98, 120.99], [28.1, 28.11, 28.12, 28.13]),
        crs=4326,
    )
    out = {}
    for ext, driver in ((".gpkg", "GPKG"), (".geojson", "GeoJSON"), (".shp", "ESRI Shapefile")):
        p = d / f"layer{ext}"
        g.to_file(p, driver=driver)
        out[ext] = p.read_bytes()
    return out


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    ext=st.sampled_from([".gpkg", ".geojson", ".shp"]),
    how=st.sampled_from(["truncate", "flip", "insert", "prefix", "empty"]),
    pos=st.floats(0, 1),
    noise=st.binary(min_size=1, max_size=64),
)
def test_broken_layers_give_a_correct_load_or_a_childspace_error(
    tmp_path_factory, layer_files, ext, how, pos, noise
):
    d = tmp_path_factory.mktemp("blayer")
    path = d / f"layer{ext}"
    path.write_bytes(_mutate(layer_files[ext], how, pos, noise))
    if ext == ".shp":  # the sidecar files, intact
        g = gpd.GeoDataFrame(
            {"name": SIMPLIFIED[:4], "category": CATEGORIES},
            geometry=gpd.points_from_xy([120.96, 120.97, 120.98, 120.99], [28.1, 28.11, 28.12, 28.13]),
            crs=4326,
        )
        g.to_file(d / "ref.shp")
        for side in (".shx", ".dbf", ".prj", ".cpg"):
            if (d / f"ref{side}").exists():
                (d / f"layer{side}").write_bytes((d / f"ref{side}").read_bytes())
    try:
        out = _load(load_facilities, path)
    except ChildspaceError:
        return
    assert isinstance(out, gpd.GeoDataFrame) and out.crs.to_epsg() == 4326
