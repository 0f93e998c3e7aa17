"""Chinese web-map datums: GCJ-02 (Amap/高德, Tencent) and BD-09 (Baidu/百度) to and from WGS84.

Coordinates picked on Amap are in GCJ-02 (about 540 m off WGS84 in Yueqing) and on Baidu maps in BD-09 (about
1.1 km off). The forward GCJ-02 transform is the widely published reverse-engineered formula (Krasovsky 1940
ellipsoid parameters a = 6378245.0, ee = 0.00669342162296594323), as found e.g. in the MIT-licensed projects
``eviltransform`` (googollee) and ``coordTransform`` (wandergis); BD-09 is GCJ-02 with Baidu's additional published
offset (x_pi = pi * 3000 / 180). The inverses are computed by fixed-point iteration of the forward transform until
the round trip error is below 1e-9 degrees (well under a millimetre), rather than by the one-step approximation
that leaves 1-2 m of error.

All functions are vectorised: they take scalars or numpy arrays of longitude/latitude in degrees.
Points outside mainland China are returned unchanged for GCJ-02 (as the official service does).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from childspace._errors import DataError

_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

DATUMS = ("wgs84", "gcj02", "bd09")


def _out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _transform_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 -> GCJ-02 (degrees). Returns ``(lon, lat)`` arrays (scalars give 0-d arrays)."""
    lon, lat = _as_arrays(lon, lat)
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    out = _out_of_china(lon, lat)
    return np.where(out, lon, lon + dlon), np.where(out, lat, lat + dlat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 -> BD-09 (degrees)."""
    lon, lat = _as_arrays(lon, lat)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 -> GCJ-02 (degrees); Baidu's published inverse, exact to ~1e-7 degrees, refined by iteration."""
    lon, lat = _as_arrays(lon, lat)
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    glon, glat = z * np.cos(theta), z * np.sin(theta)
    return _refine(gcj02_to_bd09, lon, lat, glon, glat)


def _refine(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    tlon: np.ndarray,
    tlat: np.ndarray,
    lon: ArrayLike,
    lat: ArrayLike,
    tol: float = 1e-10,
    max_iter: int = 30,
) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-point iteration: find (lon, lat) with forward(lon, lat) == (tlon, tlat)."""
    x = np.array(lon, dtype="float64")
    y = np.array(lat, dtype="float64")
    for _ in range(max_iter):
        fx, fy = forward(x, y)
        dx, dy = fx - tlon, fy - tlat
        x = x - dx
        y = y - dy
        # NaN inputs (empty cells) must not keep the loop going: test convergence on finite values only
        done = ~np.isfinite(dx) | ~np.isfinite(dy) | ((np.abs(dx) < tol) & (np.abs(dy) < tol))
        if np.all(done):
            break
    return x, y


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 -> WGS84 (degrees), iterated to below 1e-10 degrees of round-trip error."""
    lon, lat = _as_arrays(lon, lat)
    return _refine(wgs84_to_gcj02, lon, lat, lon, lat)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 -> WGS84 (degrees)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 -> BD-09 (degrees)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, datum: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert from ``datum`` (``"wgs84"``, ``"gcj02"`` or ``"bd09"``) to WGS84."""
    datum = normalise_datum(datum)
    if datum == "wgs84":
        lon, lat = _as_arrays(lon, lat)
        return lon.copy(), lat.copy()
    if datum == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    return bd09_to_wgs84(lon, lat)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, datum: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert from WGS84 to ``datum``."""
    datum = normalise_datum(datum)
    if datum == "wgs84":
        lon, lat = _as_arrays(lon, lat)
        return lon.copy(), lat.copy()
    if datum == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    return wgs84_to_bd09(lon, lat)


_ALIASES = {
    # WGS84 and CGCS2000 (they differ by centimetres): GPS, OSM, 天地图 and the natural-resources bureaus' data
    "wgs84": "wgs84",
    "wgs": "wgs84",
    "wgs1984": "wgs84",
    "gcswgs1984": "wgs84",
    "epsg4326": "wgs84",
    "4326": "wgs84",
    "gps": "wgs84",
    "cgcs2000": "wgs84",
    "gcscgcs2000": "wgs84",
    "epsg4490": "wgs84",
    "4490": "wgs84",
    "国家2000": "wgs84",
    "2000国家大地": "wgs84",
    "2000": "wgs84",
    "天地图": "wgs84",
    "wgs84经纬度": "wgs84",
    "大地": "wgs84",
    # GCJ-02: Amap/高德, Tencent/腾讯 (the "Mars" datum, 火星坐标)
    "gcj02": "gcj02",
    "gcj2": "gcj02",
    "gcj": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "autonavi": "gcj02",
    "高德": "gcj02",
    "tencent": "gcj02",
    "qq": "gcj02",
    "腾讯": "gcj02",
    "火星": "gcj02",
    "国测局": "gcj02",
    "gcj02ll": "gcj02",
    # BD-09: Baidu/百度 (lon/lat; not Baidu's Mercator metres, bd09mc)
    "bd09": "bd09",
    "bd9": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
    "百度": "bd09",
    "bd": "bd09",
}

_ACCEPTED = (
    "WGS84 (also WGS 1984, EPSG:4326, GPS, CGCS2000/EPSG:4490, 国家2000, 天地图), "
    "GCJ02 (also GCJ-02, 高德/Amap, 腾讯/Tencent, 火星坐标, 国测局), BD09 (also BD-09, 百度/Baidu)"
)


class DatumError(DataError, ValueError):
    """An unknown datum name (a :class:`~childspace.DataError`, and a ``ValueError`` for older callers)."""


def _datum_key(datum: object) -> str:
    key = unicodedata.normalize("NFKC", str(datum)).strip().lower()
    key = "".join(ch for ch in key if ch not in " _-/:()（）.·")
    for suffix in ("坐标系统", "坐标系", "坐标", "经纬度"):
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
            break
    return key


def normalise_datum(datum: str, path: str | Path | None = None) -> str:
    """Map a datum name (``"GCJ-02"``, ``"WGS 1984"``, ``"EPSG:4326"``, ``"火星坐标"``, ``"百度"``, ...) onto
    ``"wgs84" | "gcj02" | "bd09"``.

    Case, spaces, ``_ - / : .``, full-width characters and a trailing 坐标/坐标系 are ignored (``" GCJ_02 "``,
    ``"ＷＧＳ８４"``, ``"百度坐标系"``).

    Parameters
    ----------
    datum : str
        The name.
    path : str or Path, optional
        The file the name applies to, named in the error.

    Raises
    ------
    DatumError
        (a DataError and ValueError) for an unknown name, naming the file and listing the accepted names.
    """
    key = _datum_key(datum)
    if key in _ALIASES:
        return _ALIASES[key]
    if key in ("bd09mc", "baidumercator", "百度墨卡托"):
        msg = (
            f"coords={datum!r}: Baidu Mercator coordinates (metres) are not read; childspace reads Baidu "
            "lon/lat (BD-09)"
        )
    else:
        msg = f"coords={datum!r} is not a known coordinate system; accepted: {_ACCEPTED}"
    raise DatumError(
        msg,
        path=path,
        fix='set coords = "wgs84" (GPS, OSM, CGCS2000), "gcj02" (picked on Amap/Tencent) or "bd09" '
        "(picked on Baidu) in this file's block of the run configuration, or coords= in Python; "
        'projected coordinates in metres take crs= (e.g. crs = "EPSG:4549") instead',
    )
