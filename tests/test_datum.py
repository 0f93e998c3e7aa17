"""GCJ-02 / BD-09 / WGS84 conversions: reference points, offsets in metres, round trips."""

import numpy as np
import pytest
from pyproj import Geod

from childspace import DataError
from childspace.inputs import datum as D

GEOD = Geod(ellps="WGS84")


def metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(np.broadcast_to(lon1, np.shape(lon2)), np.broadcast_to(lat1, np.shape(lat2)), lon2, lat2)[
        2
    ]


def test_tiananmen_reference_gcj02():
    # Widely quoted reference: Tiananmen WGS84 (116.391275, 39.906217) is about (116.397524, 39.907614) on Amap.
    lon, lat = D.wgs84_to_gcj02(116.391275, 39.906217)
    assert float(lon) == pytest.approx(116.397524, abs=2e-5)
    assert float(lat) == pytest.approx(39.907614, abs=2e-5)


def test_tiananmen_bd09_is_about_1km_off():
    lon, lat = D.wgs84_to_bd09(116.391275, 39.906217)
    d = metres(116.391275, 39.906217, float(lon), float(lat))
    assert 900 < d < 1400
    # BD-09 lies north-east of both WGS84 and GCJ-02
    glon, glat = D.wgs84_to_gcj02(116.391275, 39.906217)
    assert lon > glon and lat > glat


def test_yueqing_gcj02_offset_direction_and_size():
    lon, lat = D.wgs84_to_gcj02(120.96, 28.12)
    dlon, dlat = float(lon) - 120.96, float(lat) - 28.12
    assert dlon == pytest.approx(0.0040, abs=0.0005)  # east
    assert dlat == pytest.approx(-0.0034, abs=0.0005)  # south
    assert 450 < metres(120.96, 28.12, float(lon), float(lat)) < 650


def test_round_trips_below_half_a_metre_over_zhejiang():
    lon, lat = np.meshgrid(np.linspace(118.0, 123.0, 25), np.linspace(27.0, 31.2, 25))
    lon, lat = lon.ravel(), lat.ravel()
    for fwd, inv in (
        (D.wgs84_to_gcj02, D.gcj02_to_wgs84),
        (D.wgs84_to_bd09, D.bd09_to_wgs84),
        (D.gcj02_to_bd09, D.bd09_to_gcj02),
    ):
        back = inv(*fwd(lon, lat))
        err = metres(lon, lat, back[0], back[1])
        assert err.max() < 0.5
    # and the inverse really undoes an offset of hundreds of metres
    g = D.wgs84_to_gcj02(lon, lat)
    assert metres(lon, lat, g[0], g[1]).min() > 100


def test_to_and_from_wgs84_dispatch():
    lon, lat = np.array([120.96, 121.5]), np.array([28.12, 29.8])
    for name in ("gcj02", "bd09"):
        x, y = D.from_wgs84(lon, lat, name)
        bx, by = D.to_wgs84(x, y, name)
        assert metres(lon, lat, bx, by).max() < 0.5
    x, y = D.to_wgs84(lon, lat, "wgs84")
    assert np.array_equal(x, lon) and x is not lon  # a copy, input untouched


def test_outside_china_unchanged_for_gcj02():
    lon = np.array([2.35, -74.0, 151.2])
    lat = np.array([48.85, 40.7, -33.9])
    x, y = D.wgs84_to_gcj02(lon, lat)
    assert np.array_equal(x, lon) and np.array_equal(y, lat)
    x, y = D.gcj02_to_wgs84(lon, lat)
    assert np.array_equal(x, lon) and np.array_equal(y, lat)


def test_nan_passes_through_and_does_not_break_others():
    x, y = D.gcj02_to_wgs84(np.array([np.nan, 120.964]), np.array([np.nan, 28.1166]))
    assert np.isnan(x[0]) and np.isnan(y[0])
    fx, fy = D.wgs84_to_gcj02(x[1], y[1])
    assert abs(float(fx) - 120.964) < 1e-8 and abs(float(fy) - 28.1166) < 1e-8


@pytest.mark.parametrize(
    "alias,expected",
    [
        ("WGS84", "wgs84"),
        ("wgs-84", "wgs84"),
        ("CGCS2000", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("ＷＧＳ８４", "wgs84"),
        ("GCJ-02", "gcj02"),
        (" gcj_02 ", "gcj02"),
        ("amap", "gcj02"),
        ("高德", "gcj02"),
        ("Tencent", "gcj02"),
        ("BD-09", "bd09"),
        ("Baidu", "bd09"),
        ("百度", "bd09"),
        ("bd09ll", "bd09"),
        # spellings planners write in a config or a 坐标系 column
        ("WGS 1984", "wgs84"),
        ("GCS_WGS_1984", "wgs84"),
        ("EPSG 4326", "wgs84"),
        ("GCJ02", "gcj02"),
        ("火星坐标", "gcj02"),
        ("火星坐标系", "gcj02"),
        ("BD09", "bd09"),
        ("百度坐标系", "bd09"),
        ("高德坐标", "gcj02"),
        ("CGCS 2000", "wgs84"),
        ("国家2000坐标系", "wgs84"),
    ],
)
def test_normalise_datum_aliases(alias, expected):
    assert D.normalise_datum(alias) == expected


def test_normalise_datum_error_lists_accepted_names():
    with pytest.raises(
        DataError,
        match=r"coords='utm' is not a known coordinate system; accepted: WGS84 \(also "
        r"WGS 1984, EPSG:4326.*GCJ02.*火星坐标.*BD09.*百度",
    ):
        D.normalise_datum("utm")
    with pytest.raises(
        DataError,
        match=r"^f\.csv: .*fix: set coords = \"wgs84\".*in this file's block of the run "
        r"configuration",
    ):
        D.normalise_datum("Mercator", path="f.csv")
    with pytest.raises(DataError, match="Baidu Mercator"):
        D.normalise_datum("BD09MC")
    with pytest.raises(ValueError):  # still a ValueError for callers that catch that
        D.to_wgs84(120.0, 28.0, "mars")
