"""Units and homes from the OSM extract when the planner has no files for them (``[from_osm]`` in the config).

A config with only ``[network] osm = "..."`` runs the whole chain:

- no ``[boundaries]``: units are the ``boundary=administrative`` areas of ``[from_osm] admin_level`` (default
  ``"auto"``; China: 8 = township/street 乡镇街道, see :mod:`childspace.osm.areas`); a second level
  ``community_admin_level`` (China: 10 = village/community) gives communities. When the extract holds no complete
  boundary (a clipped extract), the extract's bounding box (its header, else the homes' extent) is one unit.
- no ``[origins]`` and no ``children`` column in the communities: homes are estimated from residential
  buildings (else residential land), children shared from ``[from_osm] children`` (a number for the whole area,
  or a table by unit name or id), else from the units' ``children`` column, else relative weights.

Everything made here carries ``source = "osm"`` and, for homes, ``estimate`` (the method); a warning says so.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

from childspace._errors import ChildspaceWarning, DataError

__all__ = ["FROM_OSM_KEYS", "basemap_from_osm", "homes_from_osm", "units_from_osm"]

FROM_OSM_KEYS = (
    "units",
    "homes",
    "admin_level",
    "level",
    "community_admin_level",
    "children",
    "grid_m",
    "landuse_far",
    "unmapped_land",
)


def _opts(cfg: Any) -> dict[str, Any]:
    opts = dict(getattr(cfg, "from_osm", None) or {})
    unknown = set(opts) - set(FROM_OSM_KEYS)
    if unknown:
        raise DataError(
            f"[from_osm] has unknown settings {sorted(unknown)}",
            path=getattr(cfg, "source", None),
            fix=f"use {', '.join(FROM_OSM_KEYS)}",
        )
    return opts


def _areas(cfg: Any, inp: Any) -> Any:
    st = cfg.osm.stat()
    return _read(str(cfg.osm), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=2)
def _read(path: str, mtime: int, size: int) -> Any:  # one read for units and homes of a run
    from childspace.osm import areas

    return areas.read_areas(path)


def units_from_osm(cfg: Any, inp: Any, progress: Any) -> None:
    """Fill ``inp.townships``/``inp.communities`` from the extract when the config names no boundary file."""
    import geopandas as gpd
    import shapely

    from childspace.inputs.projection import WGS84
    from childspace.osm import _parse, areas

    opts = _opts(cfg)
    if cfg.boundaries or not opts.get("units", True):
        return
    a = _areas(cfg, inp)
    level = str(opts.get("level", "township"))
    units = areas.admin_units(a, opts.get("admin_level", "auto"), level=level)
    lost = units.attrs.get("left_out")
    if len(units) == 0:
        box = _parse.header_box(cfg.osm)
        homes = areas.residential_homes(a) if box is None else None
        if box is not None:
            geom = shapely.box(*box)
        elif homes is not None and len(homes):
            geom = shapely.convex_hull(shapely.union_all(homes.geometry.values))
            geom = (
                gpd.GeoSeries([geom], crs=WGS84)
                .to_crs(gpd.GeoSeries([geom], crs=WGS84).estimate_utm_crs())
                .buffer(300)
                .to_crs(WGS84)
                .iloc[0]
            )
        else:
            raise DataError(
                "the extract holds no boundary, no header bounding box and no residential building",
                path=cfg.osm,
                fix="give [boundaries.township] (a boundary file) in the run config",
            )
        units = gpd.GeoDataFrame(
            {
                "unit_id": ["extract"],
                "name": [f"OSM 数据范围 extract {cfg.osm.name}"],
                "level": [level],
                "source": ["osm"],
            },
            geometry=[geom],
            crs=WGS84,
        )
        warnings.warn(
            f"{cfg.osm.name}: no complete boundary=administrative area of admin_level "
            f"{opts.get('admin_level', 'auto')} ({0 if lost is None else len(lost)} cut by the extract's edge): the "
            "whole extract is one unit — give a boundary file ([boundaries.township]) or another "
            "[from_osm] admin_level",
            ChildspaceWarning,
            stacklevel=2,
        )
    else:
        warnings.warn(
            f"{len(units)} 个单元边界取自 OSM — {len(units)} units from OSM boundary=administrative admin_level "
            f"{units.attrs.get('admin_level')} ({', '.join(units['name'].astype(str).head(4))}"
            f"{', ...' if len(units) > 4 else ''}); {0 if lost is None else len(lost)} of that level cut by the "
            "extract's edge are left out",
            ChildspaceWarning,
            stacklevel=2,
        )
    progress(f"单元边界取自 OSM Units from OSM: {len(units)} ({level})")
    setattr(inp, "townships" if level == "township" else "communities", units)
    if opts.get("community_admin_level") is not None and level == "township":
        com = areas.admin_units(a, opts["community_admin_level"], level="community")
        if len(com):
            com["parent_id"] = None
            hit = gpd.sjoin(
                gpd.GeoDataFrame(geometry=com.representative_point(), crs=WGS84),
                units[["unit_id", "geometry"]],
                predicate="within",
                how="left",
            )
            com["parent_id"] = hit.groupby(level=0)["unit_id"].first().reindex(com.index).to_numpy()
            inp.communities = com
            progress(f"  communities from OSM: {len(com)}")


def homes_from_osm(cfg: Any, inp: Any, progress: Any) -> None:
    """Fill ``inp.origins`` with estimated homes when the config has no origins and no child counts."""
    from childspace.osm import areas

    opts = _opts(cfg)
    if inp.origins is not None:
        return
    if not opts.get("homes", True):
        inp.osm_homes_note = "no homes from the OSM extract ([from_osm] homes = false)"
        return
    units = inp.communities if inp.communities is not None else inp.townships
    a = _areas(cfg, inp)
    homes = areas.residential_homes(
        a,
        area=inp.study_area,
        grid_m=float(opts.get("grid_m", 100.0)),
        landuse_far=float(opts.get("landuse_far", 1.0)),
        unmapped_land=bool(opts.get("unmapped_land", True)),
    )
    if len(homes) == 0:
        inp.osm_homes_note = (
            f"the OSM extract {cfg.osm.name} maps no residential building or land in the study "
            "area, so no homes could be estimated from it"
        )
        warnings.warn(
            f"{cfg.osm.name}: no residential building or land mapped in the study area: no homes, "
            "no coverage — give an [origins] file",
            ChildspaceWarning,
            stacklevel=2,
        )
        return
    totals = opts.get("children")
    if (
        totals is None
        and units is inp.communities
        and inp.townships is not None
        and "children" in inp.townships.columns
    ):
        units = inp.townships
    est = areas.estimate_children(homes, units, totals=totals)
    keep = [
        "origin_id",
        "children",
        "unit_id",
        "estimate",
        "kind",
        "building",
        "levels",
        "levels_assumed",
        "floor_m2",
        "geometry",
    ]
    inp.origins = est[keep]
    inp.origins.attrs["method"] = est.attrs.get("method", "")
    warnings.warn(
        f"{len(est)} 个居住点为 OSM 估算 — {len(est)} homes estimated from OSM ({est['estimate'].iloc[0]}); "
        "give an [origins] file for real counts",
        ChildspaceWarning,
        stacklevel=2,
    )
    progress(
        f"居住点取自 OSM（估算）Homes estimated from OSM: {len(est):,} "
        f"({int((est['kind'] == 'building').sum()):,} buildings), {est['children'].sum():,.0f} children"
    )


def basemap_from_osm(cfg: Any, inp: Any, buffer_m: float | None = None) -> dict[str, Any]:
    """The offline base map's layers read from the run's OSM extract (keyword arguments of
    :class:`childspace.outputs.maps.Basemap`): built-up land, green space and water (one feature each), rivers,
    major roads (one feature per class) and place names, clipped to the study area plus ``buffer_m`` (default:
    the network's buffer, at least 500 m).

    A file that cannot be read gives a warning and no layers: the maps are still written, with the streets only.
    """
    from childspace._errors import ChildspaceError
    from childspace._gcpause import gc_paused
    from childspace.osm.landcover import read_landcover

    osm = getattr(cfg, "osm", None)
    if osm is None:
        return {}
    buf = float(buffer_m if buffer_m is not None else max(float(getattr(cfg, "buffer_m", 0.0) or 0.0), 500.0))
    try:
        lc = read_landcover(osm, area=getattr(inp, "study_area", None), buffer_m=buf)
    except (ChildspaceError, RuntimeError, ValueError) as exc:
        warnings.warn(
            f"{getattr(osm, 'name', osm)}: the base map could not be read from the extract ({exc}); the maps show "
            "the streets only",
            ChildspaceWarning,
            stacklevel=2,
        )
        return {}
    with gc_paused():  # (the unions make many geometries: see gc_paused)
        return _basemap_layers(lc)


def _basemap_layers(lc: Any) -> dict[str, Any]:
    from childspace.osm.landcover import dissolve

    return {
        "built": dissolve(lc.built),
        "green": dissolve(lc.green),
        "water": dissolve(lc.water),
        "waterways": dissolve(lc.waterways),
        "roads": dissolve(lc.roads, by="highway"),
        "places": lc.places,
        "attribution": "底图数据 Base map data &copy; OpenStreetMap contributors",
    }
