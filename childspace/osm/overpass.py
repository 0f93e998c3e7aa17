"""Download OpenStreetMap data of a study area from an Overpass API server (online, opt-in).

The download is raw OSM XML written to a cache folder, and everything after it is the local-file path
(:func:`childspace.osm.reader.read_osm`, :func:`childspace.osm.features.facilities_from_osm`): a network or facility list
fetched online is built by exactly the same rules as one read from an extract, and a second call for the same
area and query reads the cached file without going online.

Queries (Overpass QL, ``[out:xml]``, over the bounding box of the buffered area):

* ``walk``: every ``highway`` way with all its nodes (``(._;>;); out body;``, so crossing and kerb nodes keep
  their tags); the walkability rules are applied by ``read_osm``.
* ``facilities``: nodes, ways and relations with a key that may make a child-friendly facility
  (``amenity``, ``leisure``, ``healthcare``, ``baby_feeding``, ``changing_table``, ``school``) or a name of a
  mother-and-baby room, with their member ways and nodes (outlines and entrances).

Servers: the public ``overpass-api.de`` by default (its usage policy asks for moderate use: a county is a few
queries); any mirror can be given with ``url``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from childspace._atomic import atomic_path
from childspace._errors import NetworkError
from childspace.inputs.area import AreaLike, area_polygon
from childspace.osm._tags import CANDIDATE_KEYS, MB_NAME

__all__ = ["OVERPASS_URL", "download", "query"]

#: Default Overpass API endpoint.
OVERPASS_URL = "https://overpass-api.de/api/interpreter"
#: Extra margin (m) around the buffered area in the downloaded box: sidewalks beside roads at the edge of the
#: area (the ``sidewalk=separate`` rule of ``read_osm`` looks 25 m to each side of a road).
MARGIN_M = 100.0


def query(
    area: AreaLike,
    buffer_m: float = 500.0,
    what: Literal["walk", "facilities"] = "walk",
    timeout_s: int = 180,
) -> str:
    """The Overpass QL query for ``what`` over the bounding box of ``area`` buffered by ``buffer_m`` + 100 m.

    Parameters
    ----------
    area : shapely geometry (EPSG:4326), GeoDataFrame/GeoSeries or bbox tuple (west, south, east, north)
    buffer_m : float
        Buffer around the area in metres.
    what : {"walk", "facilities"}
    timeout_s : int
        Server-side time limit of the query.
    """
    if what not in ("walk", "facilities"):
        raise ValueError(f"unknown Overpass query {what!r}; use 'walk' or 'facilities'")
    w, s, e, n = area_polygon(area, float(buffer_m) + MARGIN_M).bounds
    head = f"[out:xml][timeout:{int(timeout_s)}][bbox:{s:.7f},{w:.7f},{n:.7f},{e:.7f}];"
    if what == "walk":
        body = 'way["highway"];'
    else:  # the keys the facility reader looks at (a name only for mother-and-baby rooms)
        body = (
            "".join(f'nwr["{k}"];' for k in CANDIDATE_KEYS if k != "name")
            + f'nwr["name"~"{MB_NAME.pattern}"];'
        )
    return f"{head}({body});(._;>;);out body;"


def download(
    area: AreaLike,
    buffer_m: float = 500.0,
    what: Literal["walk", "facilities"] = "walk",
    cache_folder: str | Path | None = None,
    url: str = OVERPASS_URL,
    timeout_s: int = 180,
) -> Path:
    """Download OSM XML for ``area`` from Overpass into ``cache_folder`` (or return the cached file).

    Parameters
    ----------
    area, buffer_m, what, timeout_s
        As in :func:`query`.
    cache_folder : str or Path, optional
        Where responses are kept, one file per query (named by its hash); default
        ``~/.cache/childspace/overpass``.
    url : str
        Overpass API endpoint.

    Returns
    -------
    pathlib.Path
        The ``.osm`` file.

    Raises
    ------
    NetworkError
        No connection, an HTTP error, or a server-side error (timeout, too many requests).
    """
    import requests

    q = query(area, buffer_m, what, timeout_s)
    folder = (
        Path(cache_folder) if cache_folder is not None else Path.home() / ".cache" / "childspace" / "overpass"
    )
    path = folder / f"{what}-{hashlib.sha1(f'{url}|{q}'.encode()).hexdigest()[:16]}.osm"
    if path.exists() and path.stat().st_size > 0:
        return path
    fix = (
        "check the internet connection or try another Overpass server (url=...), or download an extract "
        "(e.g. from download.geofabrik.de) and read it with read_osm()"
    )
    try:
        resp = requests.post(url, data={"data": q}, timeout=timeout_s + 30)
    except requests.RequestException as err:
        raise NetworkError(f"Overpass download failed ({err.__class__.__name__}: {err})", fix=fix) from err
    if resp.status_code != 200:
        raise NetworkError(f"Overpass server answered HTTP {resp.status_code} ({url})", fix=fix)
    content = resp.content
    head = content[:4096].decode("utf-8", errors="replace")
    if "<osm" not in head:
        raise NetworkError(f"Overpass server sent no OSM data ({head[:120]!r})", fix=fix)
    ends = content[:4096] + content[-4096:]
    if b"<remark>" in ends and b"runtime error" in ends:
        raise NetworkError(
            "Overpass query failed on the server (runtime error: timeout or memory)",
            fix="try a smaller area, later, or another server (url=...)",
        )
    with atomic_path(path, make_dirs=True) as tmp:
        tmp.write_bytes(content)
    return path
