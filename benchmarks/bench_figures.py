"""The figures stage of a county run, alone: the overview and coverage maps (HTML) and figures (PNG), the print
atlas (PDF) and the HTML report, drawn from cached analysis results.

Usage: ``python benchmarks/bench_figures.py --results /tmp/county/cache/results.pkl --out /tmp/figures/run``
(``results.pkl``: a pickle of ``(cfg, Results)`` of :func:`childspace.run.pipeline.run_analyses`; see
``benchmarks/bench_county.py``). ``--only atlas,coverage,overview,report`` draws some of them. Prints one line per
piece: wall s, CPU s (``time.process_time``), peak RSS so far, and the size of the file written.
"""

from __future__ import annotations

import argparse
import pickle
import resource
import time
import warnings
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default="/tmp/county/cache/results.pkl")
    ap.add_argument("--out", default="/tmp/figures/run")
    ap.add_argument("--only", default="overview,coverage,atlas,report")
    args = ap.parse_args()
    only = set(args.only.split(","))
    out = Path(args.out)
    (out / "maps").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    warnings.simplefilter("ignore")

    import matplotlib.pyplot as plt

    from childspace.outputs import atlas, figures_overview, maps, report
    from childspace.outputs import figures as plot
    from childspace.run.osm_inputs import basemap_from_osm

    with open(args.results, "rb") as f:
        cfg, res = pickle.load(f)
    rows: list[tuple[str, float, float, float, int]] = []

    def timed(name: str, make, path: Path | None = None):
        w, c = time.perf_counter(), time.process_time()
        r = make()
        w, c = time.perf_counter() - w, time.process_time() - c
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        size = path.stat().st_size if path is not None and path.exists() else 0
        rows.append((name, w, c, rss, size))
        print(f"{name:<28} {w:7.2f} {c:7.2f} {rss:6.2f} GB {size / 1e6:8.2f} MB", flush=True)
        return r

    def png(key: str, fig) -> Path:
        f = fig()
        try:
            return plot.save_figure(f, out / "figures" / f"{key}.png")
        finally:
            plt.close(f)

    inp = res.inputs
    syn = cfg.synthetic
    bounds = inp.communities if inp.communities is not None else inp.townships
    fac = res.layers.get("facilities")
    uc = res.tables.get("community_coverage", res.tables.get("township_coverage"))
    present = [c for c in cfg.categories if (uc["category"] == c).any()]
    html_maps: dict[str, Path] = {}
    pngs: dict[str, Path] = {}
    base = None
    if only & {"overview", "coverage"}:
        base = timed(
            "basemap",
            lambda: maps.Basemap(
                streets=res.network.edges if res.network is not None else None,
                tianditu_key=cfg.tianditu_key,
                **basemap_from_osm(cfg, inp),
            ),
        )
    t_maps = t_pngs = (0.0, 0.0)
    if "overview" in only:
        p = out / "maps" / "overview.html"
        timed(
            "overview.html",
            lambda: maps.save_map(
                maps.overview_map(
                    bounds,
                    uc,
                    townships=inp.townships,
                    categories=present,
                    life_circles=res.tables.get("community_life_circles"),
                    synthetic=syn,
                    base=base,
                    basemaps=cfg.basemaps,
                ),
                p,
            ),
            p,
        )
        html_maps["总览 Overview"] = p
        q = out / "figures" / "overview.png"
        timed(
            "overview.png",
            lambda: png(
                "overview",
                partial(
                    figures_overview.plot_overview,
                    bounds,
                    uc,
                    townships=inp.townships,
                    small_multiples=True,
                    categories=present,
                    synthetic=syn,
                ),
            ),
            q,
        )
        pngs["总览 Overview"] = q
    if "coverage" in only:
        for cat in cfg.categories:
            if fac is None or not (fac["category"] == cat).any():
                continue
            f = fac[fac["category"] == cat]
            sa = res.layers["service_areas"]
            sa = sa[sa["category"] == cat]
            dis = res.layers.get("service_areas_dissolved")
            if dis is not None and len(sa) > 200:
                sa = dis[dis["category"] == cat]
            g = res.layers.get("gaps")
            g = g[g["category"] == cat] if g is not None else None
            p = out / "maps" / f"coverage_{cat}.html"
            timed(
                f"coverage_{cat}.html",
                lambda f=f, sa=sa, g=g, cat=cat, p=p: maps.save_map(
                    maps.coverage_map(
                        bounds,
                        f,
                        sa,
                        res.layers["access"],
                        g,
                        cat,
                        synthetic=syn,
                        base=base,
                        unit_coverage=uc,
                        basemaps=cfg.basemaps,
                    ),
                    p,
                ),
                p,
            )
            t_maps = (t_maps[0] + rows[-1][1], t_maps[1] + rows[-1][2])
            q = out / "figures" / f"coverage_{cat}.png"
            timed(
                f"coverage_{cat}.png",
                lambda f=f, sa=sa, g=g, cat=cat: png(
                    f"coverage_{cat}",
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
                ),
                q,
            )
            t_pngs = (t_pngs[0] + rows[-1][1], t_pngs[1] + rows[-1][2])
            html_maps[cat] = p
            pngs[cat] = q
        print(f"{'coverage maps, all':<28} {t_maps[0]:7.2f} {t_maps[1]:7.2f}")
        print(f"{'coverage PNGs, all':<28} {t_pngs[0]:7.2f} {t_pngs[1]:7.2f}")
        print(f"{'coverage maps + PNGs':<28} {t_maps[0] + t_pngs[0]:7.2f} {t_maps[1] + t_pngs[1]:7.2f}")
    if "atlas" in only:
        p = out / "atlas.pdf"
        timed(
            "atlas.pdf",
            lambda: atlas.write_atlas(
                p,
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
            ),
            p,
        )
    if "report" in only:
        p = out / "report.html"
        tables = {k: res.tables[k] for k in ("community_coverage", "township_coverage") if k in res.tables}
        timed(
            "report.html",
            lambda: report.html_report(
                p,
                f"儿童友好空间分析报告 Child-friendly city analysis — {cfg.name}",
                summary=res.summary,
                maps=html_maps,
                pngs=pngs,
                tables=tables,
                pilots_status=res.layers.get("pilots"),
                synthetic=syn,
                school_zones=res.layers.get("school_zones"),
                categories=cfg.categories,
            ),
            p,
        )


if __name__ == "__main__":
    main()
