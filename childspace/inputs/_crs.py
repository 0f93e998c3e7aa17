"""What projected coordinates without a CRS (or with a wrong one) may be in: Web Mercator, Gauss-Krueger zones
with or without the zone prefix; where each reading puts them; which one fits the study area.

Internal module of :mod:`childspace.inputs.geometry`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from childspace._errors import DataError
from childspace.inputs._validate import setting

#: Web Mercator (EPSG:3857) metres of China (lon 73-136E, lat 17-54N): what web-map tools export as X/Y, and
#: the range of Baidu's own Mercator metres (BD09MC). x = R * lon in radians, y = R * ln(tan(45 deg + lat / 2)),
#: R = 6378137 m (EPSG:3857).
_WEB_MERCATOR_CHINA = ((8.1e6, 15.2e6), (1.9e6, 7.2e6))


def crs_candidates(x: np.ndarray, y: np.ndarray) -> list[tuple[str, str]]:
    """The CRSs projected coordinates without a CRS may be in, judged from their ranges: ``[(code, what)]``.

    Web Mercator (EPSG:3857: x 8.1e6-15.2e6, y 1.9e6-7.2e6 in China); CGCS2000 Gauss-Krueger with the zone
    number prefixed to the easting (3-degree zones 25-45: EPSG:4513-4533; 6-degree zones 13-23: EPSG:4491-4501);
    without prefix (eastings 100-1,000 km): the 3-degree zone of Yueqing, CM 120E (EPSG:4549), or UTM 51N. The
    ranges overlap: eastern China in Web Mercator (x 13.0e6-15.0e6) reads as the 6-degree zones 13-14 of far
    western China, so both are given and the caller tells them apart by where they put the points.
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    out: list[tuple[str, str]] = []
    (x0, x1), (y0, y1) = _WEB_MERCATOR_CHINA
    if np.all((x >= x0) & (x <= x1)) and np.all((y >= y0) & (y <= y1)):
        out.append(
            (
                "EPSG:3857",
                "Web Mercator metres (EPSG:3857, what web-map tools export; Baidu's Mercator BD09MC has the "
                "same range)",
            )
        )
    zone = np.floor(x / 1e6)
    if np.all((x >= 13e6) & (x < 46e6)) and np.all(zone == zone[0]) and np.all((y > 1e6) & (y < 7e6)):
        z = int(zone[0])
        if 25 <= z <= 45:
            out.append(
                (
                    f"EPSG:{4513 + z - 25}",
                    f"Gauss-Krueger coordinates with the zone number prefixed: CGCS2000 3-degree zone {z} "
                    f"(central meridian {z * 3}E, EPSG:{4513 + z - 25})",
                )
            )
        elif 13 <= z <= 23:
            out.append(
                (
                    f"EPSG:{4491 + z - 13}",
                    f"Gauss-Krueger coordinates with the zone number prefixed: CGCS2000 6-degree zone {z} "
                    f"(central meridian {z * 6 - 3}E, EPSG:{4491 + z - 13})",
                )
            )
    if np.all((x > 1e5) & (x < 1e6)) and np.all((y > 1e6) & (y < 7e6)):
        out.append(
            (
                "EPSG:4549",
                "metres in a Gauss-Krueger zone without prefix (Yueqing: CGCS2000 CM 120E, EPSG:4549; or UTM "
                "zone 51N, EPSG:32651)",
            )
        )
    return out


def _where(x: np.ndarray, y: np.ndarray, code: str) -> tuple[float, float]:
    """The median lon/lat the points take in ``code``."""
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(code, "EPSG:4326", always_xy=True).transform(x, y)
    return float(np.nanmedian(lon)), float(np.nanmedian(lat))


def distance_km(lon: np.ndarray, lat: np.ndarray, near: object) -> float:
    """Median distance (km, roughly: degrees x 111.32, longitude scaled by the latitude) from points to the
    geometry ``near`` (EPSG:4326); 0 inside it."""
    import shapely

    step = max(1, len(lon) // 500)  # a sample is enough for a median
    lon = np.asarray(lon, dtype="float64")[::step]
    lat = np.asarray(lat, dtype="float64")[::step]
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return float("inf")
    pts = shapely.points(lon[ok], lat[ok])
    far = shapely.shortest_line(pts, near)
    a, b = shapely.get_point(far, 0), shapely.get_point(far, 1)
    dx = (shapely.get_x(b) - shapely.get_x(a)) * np.cos(np.radians(lat[ok]))
    dy = shapely.get_y(b) - shapely.get_y(a)
    return float(np.median(np.hypot(dx, dy)) * 111.32)


#: the farthest (km, median over the points) a reading may put points from the study area and still fit it
FIT_KM = 20.0


def crs_distances(
    x: np.ndarray, y: np.ndarray, cands: list[tuple[str, str]], near: object
) -> dict[str, float]:
    """Median distance (km) from the study area ``near`` of the points read in each candidate CRS."""
    from pyproj import Transformer

    sx, sy = np.asarray(x)[:: max(1, len(x) // 500)], np.asarray(y)[:: max(1, len(y) // 500)]
    out = {}
    for code, _ in cands:
        lon, lat = Transformer.from_crs(code, "EPSG:4326", always_xy=True).transform(sx, sy)
        out[code] = distance_km(lon, lat, near)
    return out


def guess_crs(
    x: np.ndarray,
    y: np.ndarray,
    path: str | Path | None,
    lead: str = "the file has no CRS and",
    near: object = None,
) -> str:
    """Infer a CRS for coordinates read without one, or raise a DataError explaining what they look like.

    Only lon/lat degrees are inferred (EPSG:4326); projected coordinates are ambiguous (Web Mercator,
    Gauss-Krueger zone, UTM, local grids) and need ``crs=``: the error names the candidates
    (:func:`crs_candidates`) and, with ``near`` (the study area, a shapely geometry in EPSG:4326), the one that
    puts the points in it. ``lead`` starts the message (what is known of the file's CRS).
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) == 0:
        raise DataError("no coordinates to tell the CRS from", path=path, fix=setting("crs", "EPSG:4549"))
    if np.all(np.abs(x) <= 180) and np.all(np.abs(y) <= 180):
        return "EPSG:4326"
    cands = crs_candidates(x, y)
    if not cands:
        raise DataError(
            f"{lead} its coordinates (e.g. {x[0]:.6g}, {y[0]:.6g}) are not lon/lat degrees",
            path=path,
            fix="give the CRS the data were made in, e.g. " + setting("crs", "EPSG:4549"),
        )
    raise crs_error(x, y, cands, path, f"{lead} its coordinates (e.g. {x[0]:.1f}, {y[0]:.1f})", near)


def crs_error(
    x: np.ndarray,
    y: np.ndarray,
    cands: list[tuple[str, str]],
    path: str | Path | None,
    lead: str,
    near: object = None,
) -> DataError:
    """The error naming the CRSs the coordinates may be in, where each puts them, and which fits ``near``."""
    sx, sy = x[:: max(1, len(x) // 500)], y[:: max(1, len(y) // 500)]
    where = {code: _where(sx, sy, code) for code, _ in cands}
    dist = crs_distances(sx, sy, cands, near) if near is not None else {}
    fits = [c for c in dist if dist[c] <= FIT_KM]

    def line(code: str, what: str) -> str:
        lon, lat = where[code]
        d = ""
        if code in dist:
            d = ", in the study area" if dist[code] == 0 else f", {dist[code]:,.0f} km from the study area"
        return f"{what}: around {lon:.2f}E {lat:.2f}N{d}"

    shown = "; or ".join(line(c, w) for c, w in cands)
    if len(fits) == 1:
        code = fits[0]
        rest = "; ".join(line(c, w) for c, w in cands if c != code)
        msg = f"{lead} fit {line(code, dict(cands)[code])}" + (f" (not {rest})" if rest else "")
        fix = setting("crs", code)
    elif len(cands) == 1:
        code = cands[0][0]
        msg = f"{lead} look like {shown}"
        fix = setting("crs", code) + (" (or the CRS the data were made in)" if code == "EPSG:4549" else "")
    else:
        msg = f"{lead} may be {shown}"
        fix = "; ".join(
            f"if the points belong around {where[c][0]:.2f}E {where[c][1]:.2f}N: {setting('crs', c)}"
            for c, _ in cands
        )
        code = cands[0][0]
    if code == "EPSG:3857" or (len(fits) != 1 and any(c == "EPSG:3857" for c, _ in cands)):
        fix += BD09MC_NOTE
    return DataError(msg, path=path, fix=fix)


#: added to a fix suggesting Web Mercator: Baidu's own Mercator metres have the same range and are not read
BD09MC_NOTE = (
    "; Baidu Mercator metres (BD09MC, from Baidu's APIs) are not read: export Baidu lon/lat (BD-09) and load "
    'them with coords = "bd09"'
)
