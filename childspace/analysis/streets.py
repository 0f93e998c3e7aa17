"""Streets as map layers (街道图层): stress per street and crossing, children per street, school zones.

Analysis tables the maps, figures and atlas draw: street and crossing stress in the shape of map layers
(:func:`stress_frames`), the number of children walking along each street (:func:`route_edge_use`), the result of
each school-zone check (:func:`zone_status`) and the zone circles around each gate (:func:`school_zone_circles`,
GA/T 1215-2014). Nothing here draws.
"""

from __future__ import annotations

import functools
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from childspace._errors import ChildspaceError, DataError
from childspace.inputs.projection import local_crs_for

__all__ = [
    "children_per_edge",
    "detach_route_sequences",
    "route_categories",
    "route_edge_use",
    "school_zone_circles",
    "school_zone_rules",
    "stress_frames",
    "zone_status",
]


def _require(df: pd.DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(
            f"{what} lacks the columns {missing} (has {list(df.columns)})",
            feature=what,
            fix=f"pass the output of the analysis that produces {what} (see docs/architecture.md)",
        )


def school_zone_rules() -> dict[str, float]:
    """``radius_m``, ``speed_limit_kmh`` and ``crossing_m`` of ``[school_zone]`` in the safety config
    (``childspace/config/safety.toml``, GA/T 1215-2014): pass them to the maps and figures."""
    from childspace.analysis.safety import load_config

    zc = load_config()["school_zone"]
    return {
        "radius_m": float(zc["radius_m"]),
        "speed_limit_kmh": float(zc["speed_limit_kmh"]),
        "crossing_m": float(zc["crossing_m"]),
    }


def stress_frames(network: Any, stress: Any) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Street and crossing stress as map layers.

    Parameters
    ----------
    network : WalkNetwork
        The network the stress was computed on (metric CRS, positional edge/node indices).
    stress : safety.Stress
        ``safety.network_stress(network)``.

    Returns
    -------
    edges : GeoDataFrame (network CRS)
        One row per network edge in positional order: ``edge`` (position), ``name``, ``highway``, ``level``
        (1–4), ``reason``, ``assumed`` (bool), ``length`` (m), LineString geometry. Pass as ``network_stress=`` to
        :func:`routes_map` / :func:`childspace.outputs.figures_routes.plot_routes`.
    crossings : GeoDataFrame (network CRS)
        Nodes where a road is crossed (node crossing ``level`` > 0): ``node``, ``level`` (1–4), ``control``,
        ``reason``, Point geometry. Pass as ``crossings=`` to :func:`routes_map`.
    """
    ne, nn = int(network.n_edges), int(network.n_nodes)
    if len(stress.edges) != ne or len(stress.nodes) != nn:
        raise DataError(
            f"the stress has {len(stress.edges)} edges / {len(stress.nodes)} nodes, the network {ne} / {nn}",
            feature="stress",
            fix="pass safety.network_stress(network) of this network",
        )
    ed = network.edges
    se = stress.edges

    def col(df: pd.DataFrame, name: str, n: int) -> Any:
        if name not in df.columns:
            return np.full(n, None, dtype=object)
        c = df[name]
        if isinstance(
            c.dtype, pd.StringDtype
        ):  # text already: as it is (to objects and back cost ~0.3 s each)
            return c.array
        return c.to_numpy(dtype=object)

    edges = gpd.GeoDataFrame(
        {
            "edge": np.arange(ne),
            "name": col(ed, "name", ne),
            "highway": col(ed, "highway", ne),
            "level": se["level"].to_numpy(dtype=int),
            "reason": col(se, "reason", ne),
            "assumed": se["assumed"].to_numpy(dtype=bool)
            if "assumed" in se.columns
            else np.zeros(ne, dtype=bool),
            "length": np.asarray(network.length, dtype=float),
        },
        geometry=np.asarray(ed.geometry.values, dtype=object),
        crs=network.crs,
    )
    sn = stress.nodes
    lev = sn["level"].to_numpy(dtype=int)
    sel = np.flatnonzero(lev > 0)
    crossings = gpd.GeoDataFrame(
        {
            "node": sel,
            "level": lev[sel],
            "control": col(sn, "control", nn)[sel],
            "reason": col(sn, "reason", nn)[sel],
        },
        geometry=shapely.points(np.asarray(network.x)[sel], np.asarray(network.y)[sel]),
        crs=network.crs,
    )
    return edges, crossings


def route_edge_use(
    routes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, route: str = "safest", category: str | None = None
) -> gpd.GeoDataFrame:
    """Children walking along each street: the routes of one kind counted per network edge, each home once.

    A route's ``children`` are its home's children (:func:`childspace.analysis.routes.school_routes` gives every
    route of a home the home's whole count, for each school category: there is no split by age). So the children
    of a home whose route to its primary school and route to its middle school both walk a street are counted
    there once, not twice: the count on a street is never more than the children of the homes routed. With
    ``category`` the routes to that kind of school only.

    Parameters
    ----------
    routes : GeoDataFrame
        ``routes.school_routes`` output, as returned (its ``attrs["childspace_routes"]`` holds the edge sequences).
    edges : GeoDataFrame
        The network edges in positional order (e.g. the first frame of :func:`stress_frames`; an ``edge`` column,
        if present, gives the positions).
    route : {"safest", "shortest"}, default "safest"
    category : str, optional
        A school category (e.g. ``"primary_school"``): only the routes to schools of that category. None: the
        routes to every category routed.

    Returns
    -------
    GeoDataFrame (CRS of ``edges``)
        The edges used by at least one route, most children first: the columns of ``edges`` plus ``children``
        (the children of the homes whose routes walk the edge, each home once however many of its routes walk
        it; routes without an ``origin_id`` column count as homes of their own), ``routes`` (number of routes:
        a home's route to each school category is one) and ``schools`` (number of schools). Unreachable routes
        are left out; a route passing an edge twice counts once there.

    Notes
    -----
    The counts are kept with the routes' sequences: a second call for the same routes, children and schools
    (the map and the figure both draw them) reuses them. Sequences of :func:`school_routes` carry where each
    route walks an edge for the first time, so they are counted in blocks of entries without hashing; where a
    home has several routes (one per school category) its children are counted once per edge from the (home,
    edge) pairs of its routes' entries, a block of homes at a time.
    """
    data = routes.attrs.get("childspace_routes")
    if data is None:
        raise DataError(
            "the routes carry no edge sequences",
            feature="routes",
            fix="pass the GeoDataFrame returned by routes.school_routes (not a reloaded file)",
        )
    if route not in ("safest", "shortest"):
        raise DataError(
            f"route must be 'safest' or 'shortest', got {route!r}",
            feature="route_edge_use",
            fix="choose which routes to count",
        )
    pos = edges["edge"].to_numpy(dtype=np.int64) if "edge" in edges.columns else np.arange(len(edges))
    if int(data.n_edges) != len(edges) or not np.array_equal(np.sort(pos), np.arange(len(edges))):
        raise DataError(
            f"the routes were computed on a network of {data.n_edges} edges, {len(edges)} given",
            feature="edges",
            fix="pass the edges of the network the routes were computed on",
        )
    cache = getattr(data, "use_cache", None)
    slot, entry = _use_entry(routes, data, route, category, len(edges), cache)
    if cache is not None:  # the map and the figure ask for the same counts: made once
        cache[slot] = entry
    children, n_routes, n_schools = entry[4]
    out = edges.copy()
    out["children"] = children[pos]
    out["routes"] = n_routes[pos]
    out["schools"] = n_schools[pos]
    out = out[out["routes"].to_numpy() > 0].sort_values("children", ascending=False, kind="stable")
    return out


def _use_entry(
    routes: gpd.GeoDataFrame, data: Any, route: str, category: str | None, n: int, cache: Any = None
) -> tuple[Any, tuple]:
    """The cache slot of (route kind, category) and its entry: the selected routes' keys, children, school and
    home codes, and the counts per edge (children, each home once; routes; schools), taken from ``cache`` when
    it holds them for the same routes."""
    _require(routes, ["route", "route_key", "children", "school_id"], "routes")
    sel = (routes["route"].astype(str) == route).to_numpy().copy()
    if "verdict" in routes.columns:
        sel &= (routes["verdict"].astype(str) != "unreachable").to_numpy()
    if category is not None:
        _require(routes, ["category"], "routes")
        sel &= (routes["category"].astype(str) == str(category)).to_numpy()
    keys = routes["route_key"].to_numpy(dtype=np.int64)[sel]
    kids = pd.to_numeric(routes["children"], errors="coerce").fillna(0).to_numpy(dtype=float)[sel]
    school = _selected_codes(routes["school_id"], sel)
    home = (
        _selected_codes(routes["origin_id"], sel) if "origin_id" in routes.columns else np.arange(keys.size)
    )
    slot = route if category is None else (route, str(category))
    hit = None if cache is None else cache.get(slot)
    if (
        hit is not None
        and len(hit) == 5
        and np.array_equal(hit[0], keys)
        and np.array_equal(hit[1], kids)
        and np.array_equal(hit[2], school)
        and np.array_equal(hit[3], home)
    ):
        return slot, hit
    children, n_routes, n_schools = _edge_counts(data, keys, kids, school, n)
    if home.size and np.bincount(home).max() > 1:  # homes with several routes: each home once per edge
        children = _home_counts(data, keys, kids, home, n)
    return slot, (keys, kids, school, home, (children, n_routes, n_schools))


def children_per_edge(
    routes: gpd.GeoDataFrame, n_edges: int, route: str = "safest", category: str | None = None
) -> np.ndarray:
    """Children walking along each network edge (by position, ``n_edges`` of them) on the routes of one kind,
    each home once (:func:`route_edge_use`; ``category``: the routes to that kind of school only), as one whole
    number per edge, 0 where no route walks (for a column of every street, e.g. the GeoPackage's street
    layer)."""
    positions = pd.DataFrame(index=pd.RangeIndex(int(n_edges)))  # the network's edges, by position
    use = route_edge_use(routes, positions, route, category)
    out = np.zeros(int(n_edges), dtype=np.int64)
    out[use.index.to_numpy()] = np.rint(use["children"].to_numpy(dtype=float)).astype(np.int64)
    return out


#: school categories in the order of the children's age (others after them, by name)
_AGE_ORDER = {"kindergarten": 0, "primary_school": 1, "middle_school": 2}


def route_categories(routes: pd.DataFrame) -> list[str]:
    """The school categories of the routes, youngest children first (kindergarten, primary, middle school,
    then any other by name): the order of per-category columns."""
    if "category" not in routes.columns or not len(routes):
        return []
    cats = [str(c) for c in pd.unique(routes["category"].dropna().astype(str))]
    return sorted(cats, key=lambda c: (_AGE_ORDER.get(c, len(_AGE_ORDER)), c))


#: homes whose (home, edge) pairs are sorted at once: a county's 300,000 homes with two routes of ~50 edges each
#: are counted in ten blocks of ~3 M entries (~25 MB of pairs to sort each; two such counts run at once)
_HOME_BLOCK = 32_768


def _home_counts(data: Any, keys: np.ndarray, kids: np.ndarray, home: np.ndarray, n: int) -> np.ndarray:
    """Children per edge over the routes ``keys`` of homes ``home`` (codes 0..), each home once per edge
    whatever number of its routes walk it: the (home, edge) pairs of the routes' entries made distinct, a block
    of homes at a time, and each pair adding its home's children (a home's first route gives them).

    The pairs are sorted, so the sums come in the same order whether the entries are read from the forests or
    from the sequences' arrays."""
    n_home = int(home.max()) + 1 if home.size else 0
    kid_of = np.zeros(n_home)
    first = np.unique(home, return_index=True)[1]  # each home's first route
    kid_of[home[first]] = kids[first]
    children = np.zeros(n)
    for h0 in range(0, n_home, _HOME_BLOCK):
        m = (home >= h0) & (home < h0 + _HOME_BLOCK)
        if not m.any():
            continue
        k_pos, e = data.edge_entries(keys[m])
        pair = np.sort((home[m][k_pos] - h0).astype(np.int64) * n + e.astype(np.int64))
        if pair.size:  # (a sort and a comparison: numpy's unique hashes, several times slower here)
            pair = pair[np.r_[True, pair[1:] != pair[:-1]]]
        children += np.bincount(pair % n, weights=kid_of[h0 + pair // n], minlength=n)
    return children


def _selected_codes(column: pd.Series, sel: np.ndarray) -> np.ndarray:
    """:func:`_codes_as_text` of the rows ``sel`` of a column: a text column without missing values is coded
    as it is (its selected rows only: not every row converted to Python strings first)."""
    if isinstance(column.dtype, pd.StringDtype):
        codes, _ = pd.factorize(column.array[sel])
        if (codes >= 0).all():
            return codes
    return _codes_as_text(column.to_numpy()[sel])


def _codes_as_text(values: np.ndarray) -> np.ndarray:
    """``pd.factorize(values.astype(str))[0]``: the codes of the values as text, in order of first appearance.

    Ids that are all text already (a county's 1.2M routes: 0.06 s) are factorized as they are; only other
    values (numbers, None, NaN: text "None", "nan") go through the conversion (0.4 s)."""
    codes, uniq = pd.factorize(values)
    if (codes >= 0).all() and all(type(u) is str for u in uniq):
        return codes
    return pd.factorize(values.astype(str))[0]


def detach_route_sequences(routes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The routes without their edge sequences, with the children per street of both route kinds counted (all
    school categories, each home once, and, with several categories, each category on its own).

    :func:`childspace.analysis.routes.school_routes` keeps each route's edges on its shortest-path forests
    (``attrs["childspace_routes"]``); pickled, they are read into arrays of tens of millions of entries for a
    county. To send the routes to another process, count what the maps draw from them first, the children per
    street of the safest and of the shortest routes (:func:`route_edge_use`), and leave the forests: the copy
    returned (columns shared, not copied) answers :func:`route_edge_use` for the same routes from those counts.
    Call it after :func:`childspace.analysis.routes.hazards`, which reads the sequences too.
    """
    data = routes.attrs.get("childspace_routes")
    if data is None or not hasattr(data, "detached"):
        return routes
    from childspace._forkpool import Task, default_workers, run_tasks

    kinds = set(routes["route"].astype(str).unique()) if "route" in routes.columns else set()
    cats = route_categories(routes)
    n = int(data.n_edges)
    cache = getattr(data, "use_cache", None)
    # the counts of each route kind (all categories, each home once: the heavy ones) and of each category (the
    # street layer's columns); for a county's routes on two processes forked here (they inherit the sequences
    # and send back the counts), while the run's other process is still busy with the coverage
    slots = [
        (kind, c)
        for kind in ("safest", "shortest")
        if kind in kinds
        for c in [None, *(cats if len(cats) > 1 else [])]
    ]
    heavy = len(routes) >= _FORK_ROUTES
    tasks = [
        Task(f"children per street: {k} {c or 'all'}", functools.partial(_use_entry, routes, data, k, c, n, cache),
             weight=1.0 if c is None else 0.2)
        for k, c in slots
    ]  # fmt: skip
    for r in run_tasks(tasks, workers=default_workers() if heavy else 1):
        slot, entry = r.value
        if cache is not None:  # kept with the sequences' per-street counts
            cache[slot] = entry
    out = routes.copy(deep=False)
    out.attrs = {**routes.attrs, "childspace_routes": data.detached()}
    return out


#: routes from which :func:`detach_route_sequences` counts on forked processes (a county has ~1.2 M)
_FORK_ROUTES = 200_000

#: sequence entries counted per block: the temporaries stay a few tens of MB however many routes there are
_BLOCK = 4_000_000
#: (edge, school) flags kept as one boolean table up to this many cells, else counted by hashing
_MAX_FLAGS = 200_000_000


def _edge_counts(
    data: Any, keys: np.ndarray, kids: np.ndarray, school: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Children, routes and distinct schools per edge over the routes ``keys`` (each route once per edge)."""
    on_trees = getattr(data, "edge_counts", None)
    if on_trees is not None:  # sequences not read yet: summed on the routes' shortest-path forests
        got = on_trees(keys, kids, school, n)
        if got is not None:
            return got
    ek = np.asarray(data.edge_key)
    ee = np.asarray(data.edge)
    # per route key: selected, its children and school (tables over the key range: no sort of the sequences)
    top = int(max(ek.max() if ek.size else -1, keys.max() if keys.size else -1)) + 1
    chosen = np.zeros(top, dtype=bool)
    chosen[keys] = True
    kid_of = np.zeros(top)
    kid_of[keys] = kids
    n_sch = int(school.max()) + 1 if school.size else 1
    school_of = np.zeros(top, dtype=np.int64)
    school_of[keys] = school
    once = getattr(data, "edge_once", None)
    if once is None or once.size != ek.size:
        # sequences of unknown make: each (route, edge) once by hashing the pairs
        ok = chosen[ek]
        pair = pd.unique(ek[ok].astype(np.int64) * n + ee[ok].astype(np.int64))
        p_key, p_edge = pair // n, pair % n
        kids_e = np.bincount(p_edge, weights=kid_of[p_key], minlength=n)
        routes_e = np.bincount(p_edge, minlength=n)
        sp = pd.unique(p_edge * n_sch + school_of[p_key])
        return kids_e, routes_e, np.bincount(sp // n_sch, minlength=n)
    # the sequences of school_routes say where a route walks an edge again: counted block by block
    children = np.zeros(n)
    n_routes = np.zeros(n, dtype=np.int64)
    flags = np.zeros(n * n_sch, dtype=bool) if n * n_sch <= _MAX_FLAGS else None
    sp_parts = []
    for lo in range(0, ek.size, _BLOCK):
        k = ek[lo : lo + _BLOCK]
        m = chosen[k] & once[lo : lo + _BLOCK]
        k = k[m]
        e = ee[lo : lo + _BLOCK][m]
        children += np.bincount(e, weights=kid_of[k], minlength=n)
        n_routes += np.bincount(e, minlength=n)
        cell = e.astype(np.int64) * n_sch + school_of[k]
        if flags is not None:
            flags[cell] = True
        else:
            sp_parts.append(pd.unique(cell))
    if flags is not None:
        n_schools = flags.reshape(n, n_sch).sum(axis=1)
    else:
        sp = pd.unique(np.concatenate(sp_parts)) if sp_parts else np.zeros(0, dtype=np.int64)
        n_schools = np.bincount(sp // n_sch, minlength=n)
    return children, n_routes, n_schools


def _bool_col(df: pd.DataFrame, col: str, default: bool) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), default, dtype=bool)
    return df[col].astype("boolean").fillna(default).to_numpy(dtype=bool)


def zone_status(school_zones: pd.DataFrame) -> np.ndarray:
    """Per school ``"compliant"``, ``"one"`` (one of the two requirements fails) or ``"both"``.

    Parameters
    ----------
    school_zones : DataFrame
        :func:`childspace.analysis.safety.school_zones` table (``speed_ok``, ``crossing_ok``).

    Returns
    -------
    numpy.ndarray of str
    """
    _require(school_zones, ["speed_ok", "crossing_ok"], "school_zones")
    n_fail = (~_bool_col(school_zones, "speed_ok", True)).astype(int) + (
        ~_bool_col(school_zones, "crossing_ok", False)
    ).astype(int)
    return np.array(["compliant", "one", "both"], dtype=object)[n_fail]


def school_zone_circles(
    school_zones: gpd.GeoDataFrame, schools: gpd.GeoDataFrame | None = None, radius_m: float | None = None
) -> gpd.GeoDataFrame:
    """The zone of each school: the union of the circles of ``radius_m`` around its gates (GA/T 1215-2014 3.2).

    Parameters
    ----------
    school_zones : GeoDataFrame
        :func:`childspace.analysis.safety.school_zones` table (``school_id``, geometry = the school point, any CRS). An
        ``entrances`` column (lists of (lon, lat), WGS84) gives the gates.
    schools : GeoDataFrame, optional
        Facilities with ``facility_id`` and ``entrances`` (as from :mod:`childspace.features`): the gates of the
        schools whose zone table has none. Schools without mapped entrances use the school point, as the check
        itself does.
    radius_m : float, optional
        Circle radius in metres; default ``[school_zone].radius_m`` of the safety config (150 m).

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        One row per school: ``school_id``, ``n_gates``, ``radius_m``, (Multi)Polygon geometry (buffered in the
        local metric CRS, :func:`childspace.inputs.projection.local_crs_for`).
    """
    z = (
        school_zones.to_crs(4326)
        if school_zones.crs is not None and school_zones.crs.to_epsg() != 4326
        else school_zones
    )
    _require(z, ["school_id"], "school_zones")
    radius = school_zone_rules()["radius_m"] if radius_m is None else float(radius_m)
    if radius <= 0:
        raise ChildspaceError(
            f"the zone radius must be positive, got {radius}", fix="pass radius_m > 0 (metres)"
        )
    ids = z["school_id"].astype(str).to_numpy(dtype=object)
    ent = (
        z["entrances"].to_numpy(dtype=object)
        if "entrances" in z.columns
        else np.full(len(z), None, dtype=object)
    )
    if schools is not None and len(schools) and {"facility_id", "entrances"} <= set(schools.columns):
        lookup = dict(zip(schools["facility_id"].astype(str), schools["entrances"].to_numpy(dtype=object)))
        merged = np.empty(len(ent), dtype=object)
        merged[:] = [e if _has_points(e) else lookup.get(i) for e, i in zip(ent, ids)]
        ent = merged
    has = np.array([_has_points(e) for e in ent], dtype=bool)
    counts = np.where(has, [len(e) if h else 1 for e, h in zip(ent, has)], 1)
    owner = np.repeat(np.arange(len(z)), counts)
    gx = np.repeat(z.geometry.x.to_numpy(dtype=float), counts)
    gy = np.repeat(z.geometry.y.to_numpy(dtype=float), counts)
    if has.any():
        xy = np.asarray([tuple(p)[:2] for e, h in zip(ent, has) if h for p in e], dtype=float)
        slot = np.isin(owner, np.flatnonzero(has))
        gx[slot], gy[slot] = xy[:, 0], xy[:, 1]
    gates = gpd.GeoSeries(shapely.points(gx, gy), crs=4326)
    crs = local_crs_for(z) if len(z) else 4326
    circles = gates.to_crs(crs).buffer(radius, quad_segs=32)
    zone = circles.groupby(owner).agg(lambda g: shapely.union_all(np.asarray(g.array, dtype=object)))
    geom = gpd.GeoSeries(np.asarray(zone.reindex(np.arange(len(z))).to_numpy(), dtype=object), crs=crs)
    return gpd.GeoDataFrame(
        {"school_id": ids, "n_gates": counts.astype(np.int64), "radius_m": radius},
        geometry=geom.to_crs(4326).values,
        crs=4326,
    )


def _has_points(e: Any) -> bool:
    return isinstance(e, (list, tuple, np.ndarray)) and len(e) > 0
