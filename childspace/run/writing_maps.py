"""The maps of a run as independent tasks: each HTML map with its PNG, and the print atlas; then the report.

:func:`map_tasks` prepares what every map shares (the offline base map from the extract) and returns one
:class:`childspace._forkpool.Task` per map (its HTML and PNG together: one task builds both from the same
frames) and one for the atlas; :mod:`childspace.run.writing` runs them with the other output tasks. A map or
figure that fails is a warning naming it, and the other files are written; :func:`write_report` links the maps
and figures that were written.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from childspace._forkpool import Task
from childspace.run.config import RunConfig
from childspace.run.results import Results

#: rough cost of each task on a county (seconds, from its profile): the heaviest start first
WEIGHTS = {"routes": 60.0, "atlas": 33.0, "overview": 6.0, "pilots": 3.0, "venues": 2.0}
COVERAGE_WEIGHT = 4.5


def _guarded(what: str, make: Callable[[], Any]) -> Any:
    """One failing map or figure is a warning naming it; the other maps, the report and the tables are written."""
    from childspace._errors import ChildspaceWarning

    try:
        return make()
    except Exception as exc:  # noqa: BLE001
        warnings.warn(f"{what} was not written: {type(exc).__name__}: {exc}", ChildspaceWarning, stacklevel=3)
        return None


def _png(out: Path, key: str, fig: Callable[[], Any]) -> Path:
    import matplotlib.pyplot as plt

    from childspace.outputs import figures as plot

    f = fig()
    try:
        return plot.save_figure(f, out / "figures" / f"{key}.png")
    finally:
        plt.close(f)


def _both(out: Path, key: str, fmap: Callable[[], Any], fig: Callable[[], Any]) -> dict[str, Path]:
    """Write maps/KEY.html and figures/KEY.png; returns those written."""
    from childspace.outputs import maps

    written: dict[str, Path] = {}
    p = _guarded(f"map maps/{key}.html", lambda: maps.save_map(fmap(), out / "maps" / f"{key}.html"))
    if p is not None:
        written[f"map:{key}"] = p
    q = _guarded(f"figure figures/{key}.png", lambda: _png(out, key, fig))
    if q is not None:
        written[f"png:{key}"] = q
    return written


def basemap(res: Results, cfg: RunConfig, layers: dict[str, Any] | None = None) -> Any:
    """The offline base map every map shares: the network's streets, and water, green space, built-up land,
    major roads and place names from the extract (``layers``: those read before,
    :func:`childspace.run.osm_inputs.basemap_from_osm`; None: read now)."""
    from childspace.outputs import maps
    from childspace.run.osm_inputs import basemap_from_osm

    if layers is None:  # water, green space, built-up land, major roads, place names
        layers = basemap_from_osm(cfg, res.inputs)
    return maps.Basemap(
        streets=res.network.edges if res.network is not None else None,
        tianditu_key=cfg.tianditu_key,
        **layers,
    )


def map_tasks(res: Results, cfg: RunConfig, out: Path, base: Any = None) -> tuple[list[Task], dict[str, str]]:
    """The map tasks of ``res`` (writing under ``out``) and the report caption of each map's key.

    ``base``: the offline base map (:func:`basemap`), when made before. The tasks are those ``res`` has the
    layers for: on the results of the coverage alone (the routes not computed yet) every map but the routes
    map, each the same as it is on the whole run's results.
    """
    import matplotlib

    matplotlib.use("Agg")

    from childspace.outputs import figures as plot
    from childspace.outputs import figures_overview, figures_routes, maps

    tasks: list[Task] = []
    captions: dict[str, str] = {}
    inp = res.inputs
    syn = cfg.synthetic
    bounds = inp.communities if inp.communities is not None else inp.townships
    from childspace.analysis.streets import school_zone_rules, stress_frames

    if base is None:
        base = basemap(res, cfg)
    tiles = cfg.basemaps  # opt-in tile layers ([maps] basemaps); none: offline
    (out / "maps").mkdir(exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)

    def both(key: str, caption: str, fmap: Callable[[], Any], fig: Callable[[], Any], weight: float) -> None:
        captions[key] = caption
        tasks.append(
            Task(f"maps/{key}.html + figures/{key}.png", partial(_both, out, key, fmap, fig), weight)
        )

    fac = res.layers.get("facilities")
    if "access" in res.layers:
        uc = res.tables.get("community_coverage", res.tables.get("township_coverage"))
        assert uc is not None  # coverage ran: its unit tables exist
        present = [c for c in cfg.categories if (uc["category"] == c).any()]
        both(
            "overview",
            "总览 Overview",
            partial(
                maps.overview_map,
                bounds,
                uc,
                townships=inp.townships,
                categories=present,
                life_circles=res.tables.get("community_life_circles"),
                synthetic=syn,
                base=base,
                basemaps=tiles,
            ),
            partial(
                figures_overview.plot_overview,
                bounds,
                uc,
                townships=inp.townships,
                small_multiples=True,
                categories=present,
                synthetic=syn,
            ),
            WEIGHTS["overview"],
        )
        for cat in cfg.categories:
            if fac is None or not (fac["category"] == cat).any():
                continue
            f = fac[fac["category"] == cat]
            sa = res.layers["service_areas"]
            sa = sa[sa["category"] == cat]
            dis = res.layers.get("service_areas_dissolved")
            if dis is not None and len(sa) > 200:  # one merged area per method instead of one per facility
                sa = dis[dis["category"] == cat]
            g = res.layers.get("gaps")
            g = g[g["category"] == cat] if g is not None else None
            cap = cfg.resolved_standards().label(cat)
            both(
                f"coverage_{cat}",
                cap,
                partial(
                    maps.coverage_map,
                    bounds,
                    f,
                    sa,
                    res.layers["access"],
                    g,
                    cat,
                    synthetic=syn,
                    base=base,
                    unit_coverage=uc,
                    basemaps=tiles,
                ),
                partial(
                    plot.plot_coverage,
                    bounds,
                    f,
                    sa,
                    res.layers["access"],
                    g,
                    cat,
                    synthetic=syn,
                    unit_coverage=uc,
                ),
                COVERAGE_WEIGHT,
            )
    if "pilots" in res.layers:
        both(
            "pilots",
            "试点单元 Pilot units",
            partial(
                maps.pilot_map,
                res.layers["pilots"],
                res.layers.get("pilot_catchments"),
                boundaries=bounds,
                synthetic=syn,
                base=base,
                basemaps=tiles,
            ),
            partial(
                plot.plot_pilots,
                res.layers["pilots"],
                res.layers.get("pilot_catchments"),
                boundaries=bounds,
                synthetic=syn,
            ),
            WEIGHTS["pilots"],
        )
    if "venues" in res.layers and len(res.layers["venues"]):  # venues that must have a mother-and-baby room
        from childspace.outputs import figures_venues
        from childspace.outputs.maps import venues as venue_maps

        rooms = fac[fac["category"] == "mother_baby_room"] if fac is not None else None
        vkw: dict[str, Any] = dict(boundaries=bounds, synthetic=syn)
        v = res.layers["venues"]
        both(
            "venues",
            "应建母婴室的公共场所 Venues that must have a mother-and-baby room",
            partial(venue_maps.venues_map, v, rooms, **vkw, base=base, basemaps=tiles),
            partial(figures_venues.plot_venues, v, rooms, **vkw),
            WEIGHTS["venues"],
        )
    if "routes" in res.layers:

        def routes() -> dict[str, Path]:  # the street stress frames are made in the task that uses them
            edges_stress, crossings = _guarded(
                "street stress of the routes maps", partial(stress_frames, res.network, res.stress)
            ) or (None, None)
            zones = res.layers.get("school_zones")
            if zones is not None and fac is not None and "entrances" in fac.columns:  # gates, where mapped
                gates = fac[["facility_id", "entrances"]].rename(columns={"facility_id": "school_id"})
                zones = zones.merge(gates, on="school_id", how="left")
            layers = (
                res.layers["routes"],
                res.layers.get("hazards"),
                res.layers.get("walksheds"),
                res.layers.get("schools"),
            )
            shared: dict[str, Any] = dict(
                boundaries=bounds,
                synthetic=syn,
                network_stress=edges_stress,
                school_zones=zones,
                zone_roads=res.layers.get("school_zone_roads"),
            )
            return _both(
                out,
                "routes",
                partial(
                    maps.routes_map,
                    *layers,
                    **shared,
                    crossings=crossings,
                    base=base,
                    basemaps=tiles,
                    zone_rules=school_zone_rules(),
                ),
                partial(figures_routes.plot_routes, *layers, **shared),
            )

        captions["routes"] = "通学路径 Routes to school"
        tasks.append(Task("maps/routes.html + figures/routes.png", routes, WEIGHTS["routes"]))
    if "access" in res.layers or "pilots" in res.layers:
        from childspace.outputs import atlas

        write_atlas = partial(
            atlas.write_atlas,
            out / "atlas.pdf",
            boundaries=bounds,
            unit_coverage=res.tables.get("community_coverage"),
            facilities=fac,
            service_areas=res.layers.get("service_areas"),
            categories=cfg.categories,
            pilots_status=res.layers.get("pilots"),
            catchments=res.layers.get("pilot_catchments"),
            townships=inp.townships,
            indicators=res.tables.get("indicators"),
            venues=res.layers.get("venues"),
            info=atlas.AtlasInfo(
                title=f"儿童友好空间分析图集 Child-friendly space atlas — {cfg.name}", synthetic=syn
            ),
        )

        def atlas_task() -> dict[str, Path]:
            p = _guarded("print atlas atlas.pdf", write_atlas)
            return {"atlas": p} if p is not None else {}

        tasks.append(Task("atlas.pdf", atlas_task, WEIGHTS["atlas"]))
    return tasks, captions


def write_report(
    res: Results,
    cfg: RunConfig,
    out: Path,
    tables: dict[str, Any],
    written: dict[str, Path],
    captions: dict[str, str],
) -> Path:
    """The HTML report, linking the maps and figures written (in the order of ``captions``)."""
    from childspace.outputs import report

    html_maps = {c: written[f"map:{k}"] for k, c in captions.items() if f"map:{k}" in written}
    pngs = {c: written[f"png:{k}"] for k, c in captions.items() if f"png:{k}" in written}
    return report.html_report(
        out / "report.html",
        f"儿童友好空间分析报告 Child-friendly city analysis — {cfg.name}",
        summary=res.summary,
        maps=html_maps,
        pngs=pngs,
        tables=tables,
        pilots_status=res.layers.get("pilots"),
        synthetic=cfg.synthetic,
        school_zones=res.layers.get("school_zones"),
        categories=cfg.categories,
    )
