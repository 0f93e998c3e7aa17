"""The ``childspace`` command: a thin layer over :mod:`childspace.pipeline`.

Errors in the input data print one line (file, feature, fix) and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

from childspace._errors import ChildspaceError, ChildspaceWarning
from childspace._progress import StageBars
from childspace._progress import write as progress_write

EXAMPLES = {
    "demo": """examples:
  childspace demo                       # whole chain on the bundled synthetic sample, outputs under ./outputs
  childspace demo --outputs /tmp/cs     # write somewhere else
  childspace demo --no-maps             # tables and GeoPackages only (faster)""",
    "report": """examples:
  childspace report --config my_city.toml
  childspace report --config childspace/data/sample.toml --outputs /tmp/run1
The config lists your files (boundaries, facilities with their datum, pilots, origins, the OSM extract) and the
analysis settings; copy childspace/data/sample.toml and edit the paths. Misspelt keys are errors that
name the line; `childspace check` prints the settings as understood.""",
    "check": """examples:
  childspace check --config my_city.toml     # load and validate every input, report what was repaired/excluded
  childspace check --config childspace/data/sample.toml""",
    "coverage": """examples:
  childspace coverage --config my_city.toml                 # all categories of the config
  childspace coverage --config my_city.toml --category kindergarten --radius 300""",
    "routes": """examples:
  childspace routes --config my_city.toml                   # routes to the nearest primary and middle school
  childspace routes --config my_city.toml --max-level 2""",
    "network": """examples:
  childspace network --osm zhejiang-latest.osm.pbf --area data/boundaries/townships.gpkg --out outputs/walk.gpkg
  childspace network --osm data/osm/sample.osm --out outputs/sample_walk.gpkg
  childspace network --osm krems.osm.pbf --area districts.gpkg --level township --out walk.gpkg""",
    "batch": """examples:
  childspace batch --config province.toml                          # every county on a local Dask cluster
  childspace batch --config province.toml --workers 4
  childspace batch --config province.toml --scheduler tcp://10.0.0.5:8786   # on a running Dask cluster
A county whose outputs are complete is skipped on a rerun; failed counties run again. Needs the 'batch' extra:
pip install "childspace[batch]". The province config is described in childspace/run/batch.py and docs/batch.md.""",
}


WAIT_HELP = "when another run is writing the same output folder, wait for it (default: stop with a message)"


WORKERS_HELP = (
    "processes writing the outputs (default: the config's [run] workers, else 2; 1: one after another)"
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="childspace",
        description="儿童友好城市空间分析 Child-friendly city planning: coverage, gaps and safe routes to school.",
        epilog="Run 'childspace COMMAND --help' for a command's options and examples.",
    )
    p.add_argument("--version", action="version", version=f"childspace {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    MAX_LEVEL: dict[str, Any] = dict(
        type=int,
        choices=(1, 2, 3, 4),
        help="highest stress level (1-4) a route may reach to count as safe, for every school category; drives "
        "the verdicts, walksheds and hazards (default: the config's [analysis] safe_max_level, else by age: "
        "kindergarten and primary 1, middle school 2)",
    )

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_,
            description=help_,
            epilog=EXAMPLES[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    d = add("demo", "Run the whole chain on the bundled synthetic sample (示例数据全流程).")
    d.add_argument("--outputs", type=Path, default=Path("outputs"), help="output folder (default: ./outputs)")
    d.add_argument("--no-maps", action="store_true", help="skip HTML/PNG maps and the HTML report")
    d.add_argument("--wait", action="store_true", help=WAIT_HELP)
    d.add_argument("--workers", type=int, help=WORKERS_HELP)

    r = add("report", "Run the whole chain on your own files described in a config (全流程分析与报告).")
    r.add_argument(
        "--config", type=Path, required=True, help="run configuration (TOML), see childspace/data/sample.toml"
    )
    r.add_argument("--outputs", type=Path, help="output folder (default: the config's [project] outputs)")
    r.add_argument("--no-maps", action="store_true", help="skip HTML/PNG maps and the HTML report")
    r.add_argument("--max-level", **MAX_LEVEL)
    r.add_argument("--wait", action="store_true", help=WAIT_HELP)
    r.add_argument("--workers", type=int, help=WORKERS_HELP)

    c = add("check", "Load and validate the inputs of a config (数据检查).")
    c.add_argument("--config", type=Path, required=True, help="run configuration (TOML)")

    cv = add("coverage", "Service-radius coverage and gaps (服务半径覆盖与缺口).")
    cv.add_argument("--config", type=Path, required=True, help="run configuration (TOML)")
    cv.add_argument(
        "--category", action="append", help="canonical category (repeatable); default: the config's"
    )
    cv.add_argument("--radius", type=float, help="walking radius in metres, overriding the standard")
    cv.add_argument("--outputs", type=Path, help="output folder")
    cv.add_argument("--wait", action="store_true", help=WAIT_HELP)

    rt = add("routes", "Safe routes to school, hazards and walksheds (儿童安全通学路径).")
    rt.add_argument("--config", type=Path, required=True, help="run configuration (TOML)")
    rt.add_argument("--max-level", **MAX_LEVEL)
    rt.add_argument("--outputs", type=Path, help="output folder")
    rt.add_argument("--wait", action="store_true", help=WAIT_HELP)

    from childspace.run.scenario import add_command as _scenario_command  # childspace scenario

    _scenario_command(sub, WAIT_HELP)

    n = add("network", "Build the walk network from an OSM extract and save it (构建步行路网).")
    n.add_argument("--osm", type=Path, required=True, help=".osm, .osm.bz2 or .osm.pbf file")
    n.add_argument(
        "--area", type=Path, help="boundary file whose extent is the study area (default: whole file)"
    )
    n.add_argument(
        "--level",
        choices=["township", "community"],
        help="level of the --area units when their names carry no 街道/镇/乡/社区/村 suffix",
    )
    n.add_argument(
        "--buffer", type=float, default=500.0, help="metres kept outside the study area (default 500)"
    )
    n.add_argument("--out", type=Path, required=True, help="GeoPackage to write")
    b = add("batch", "Run many counties as tasks on Dask and merge province tables (多县批量运行).")
    b.add_argument("--config", type=Path, required=True, help="province configuration (TOML)")
    b.add_argument("--outputs", type=Path, help="output folder (default: the config's [province] outputs)")
    b.add_argument("--scheduler", help="address of a running Dask scheduler (default: a LocalCluster)")
    b.add_argument("--workers", type=int, help="LocalCluster workers (default: the config's, else 2)")
    b.add_argument("--no-maps", action="store_true", help="skip the counties' HTML/PNG maps and reports")
    return p


def _version() -> str:
    from childspace import __version__

    return __version__


def _safe_console() -> None:
    """Print on any console encoding (GBK, cp1252, ASCII): characters it cannot show become '?', never a crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):  # pragma: no cover - a stream that cannot be reconfigured
                pass


def _progress(msg: str) -> None:
    print(f"· {msg}", flush=True)  # a bullet that GBK (cp936) consoles can show


def _show_warning(message, category, filename, lineno, file=None, line=None):
    progress_write(f"  ! {message}", file=sys.stderr)  # above the stage's bar, if one is shown


class _Stopped(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl+C."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Stopped()


def main(argv: list[str] | None = None) -> int:
    _safe_console()
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 0
    from childspace.run import pipeline

    if hasattr(signal, "SIGTERM") and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            return _run(args, pipeline)
        finally:
            signal.signal(signal.SIGTERM, previous)
    return _run(args, pipeline)


def _run(args: argparse.Namespace, pipeline: Any) -> int:
    warnings.showwarning = _show_warning
    warnings.simplefilter("always", ChildspaceWarning)
    progress = StageBars(printer=_progress)  # a bar under each stage that runs for more than 2 s (terminals)
    try:
        if args.command == "demo":
            cfg = pipeline.sample_config(outputs=args.outputs)
            written = pipeline.run_all(
                cfg, maps=not args.no_maps, progress=progress, wait=args.wait, workers=args.workers
            )
        elif args.command == "report":
            cfg = pipeline.load_config(args.config, outputs=args.outputs)
            if args.max_level:
                cfg.safe_max_level = int(args.max_level)
            written = pipeline.run_all(
                cfg, maps=not args.no_maps, progress=progress, wait=args.wait, workers=args.workers
            )
        elif args.command == "check":
            from childspace.run import checking

            cfg = pipeline.load_config(args.config)
            summary = checking.check_inputs(cfg, progress=progress)
            print(summary)
            return 0
        elif args.command == "coverage":
            cfg = pipeline.load_config(args.config, outputs=args.outputs)
            if args.category:
                cfg.categories = list(args.category)
            if args.radius:
                cfg.radius_override = float(args.radius)
            written = pipeline.run_all(cfg, maps=False, routes=False, progress=progress, wait=args.wait)
        elif args.command == "routes":
            cfg = pipeline.load_config(args.config, outputs=args.outputs)
            if args.max_level:
                cfg.safe_max_level = int(args.max_level)
            written = pipeline.run_all(cfg, maps=False, coverage=False, progress=progress, wait=args.wait)
        elif args.command == "scenario":
            from childspace.run.scenario import command

            written = command(args, pipeline, progress)
        elif args.command == "network":
            out = pipeline.build_network_file(
                args.osm, args.out, area=args.area, buffer_m=args.buffer, progress=progress, level=args.level
            )
            written = {"network": out}
        elif args.command == "batch":
            from childspace.run import batch

            written = batch.cli(args, progress=progress)
        else:  # pragma: no cover - argparse restricts the choices
            raise AssertionError(args.command)
    except ChildspaceError as exc:
        print(f"childspace: error: {exc}", file=sys.stderr)
        return 2
    except _Stopped:
        print("childspace: stopped (SIGTERM); the output folder was left as it was", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("childspace: interrupted; the output folder was left as it was", file=sys.stderr)
        return 130
    finally:
        progress.close()
    print("\n输出文件 Outputs:")
    for name, path in written.items():
        print(f"  {name}: {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
