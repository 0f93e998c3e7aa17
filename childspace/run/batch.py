"""Many counties at once: ``childspace batch --config province.toml`` runs each county as a task on Dask.

A province config names the counties in one of two ways::

    [province]
    name = "浙江省 Zhejiang"
    outputs = "province_outputs"     # relative to this file
    maps = true                      # HTML/PNG maps of every county (false: tables and GeoPackage only)

    # (a) one OSM extract, one county boundary layer and a template run config whose input files are
    #     province-wide: each county gets the features inside it (facilities and pilots within buffer_m of it)
    [counties]
    path = "counties.gpkg"           # polygons, one per county-level unit
    id = "code"                      # id column (default: code / 编码 / id / the row number)
    name = "name"                    # name column (default: name / 名称)
    osm = "zhejiang-latest.osm.pbf"  # default: the template's [network] osm
    template = "county_template.toml"

    # (b) or one ordinary run config per county
    [[county]]
    id = "yueqing"
    config = "yueqing.toml"

    [cluster]
    address = ""                     # a Dask scheduler ("tcp://host:8786"); empty: a LocalCluster on this machine
    workers = 2                      # LocalCluster workers (one county per worker at a time)
    processes = true                 # LocalCluster workers as processes (false: threads of this process)
    memory_limit = "auto"            # per LocalCluster worker
    retries = 1                      # re-runs of a county whose task crashed (not of bad input data)

Each county runs :func:`childspace.run.pipeline.run_all` on its own run config, reading the OSM extract clipped
to its boundaries plus the network buffer, and writes under ``outputs/counties/<id>/``; its status (ok/failed,
message, times, worker memory, the files written and a fingerprint of its inputs) goes to
``outputs/status/<id>.json``. A rerun skips every county whose status is ok, whose fingerprint is unchanged and
whose files all exist, and runs the others again. At the end the province tables (``province/counties.csv``,
``province/coverage.csv``, ``province/province.xlsx``) and an overview map (``province/overview.html``) are
merged from every county's outputs.

Dask is an optional dependency (``pip install "childspace[batch]"``), imported only here and only when a batch
runs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from childspace._atomic import atomic_path
from childspace._errors import ChildspaceError, DataError
from childspace.run.results import Progress, quiet

if TYPE_CHECKING:
    import argparse

    import geopandas as gpd
    import pandas as pd
    from shapely.geometry.base import BaseGeometry

INPUT_SECTIONS = ("boundaries", "facilities", "pilots", "origins")


@dataclass
class County:
    """One county task: its id, name and run config (written by :func:`prepare` in mode (a))."""

    id: str
    name: str
    config: Path


@dataclass
class ProvinceConfig:
    """A province run (from a TOML file, see the module docstring)."""

    name: str
    outputs: Path
    source: Path
    maps: bool = True
    counties: list[County] = field(default_factory=list)  # mode (b)
    layer: dict[str, Any] | None = None  # mode (a): [counties]
    cluster: dict[str, Any] = field(default_factory=dict)


def _path(base: Path, value: Any, where: str, cfg: Path) -> Path:
    p = Path(str(value))
    p = p if p.is_absolute() else base / p
    if not p.exists():
        raise DataError(
            f"{where}: file not found: {p}",
            path=cfg,
            fix="check the path (relative paths are relative to the province config)",
        )
    return p


def load_province(path: str | Path, outputs: str | Path | None = None) -> ProvinceConfig:
    """Read a province config (TOML).

    Raises
    ------
    DataError
        Missing file, invalid TOML, neither or both of ``[counties]`` and ``[[county]]``, missing files.
    """
    path = Path(path)
    if not path.exists():
        raise DataError("province config not found", path=path, fix="give the path of a province TOML file")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(
            f"not a valid TOML file ({exc})", path=path, fix="see 'childspace batch --help' for the layout"
        ) from None
    base = path.resolve().parent
    prov = raw.get("province", {})
    unknown = set(raw) - {"province", "counties", "county", "cluster"}
    if unknown:
        raise DataError(
            f"unknown section(s) {sorted(unknown)}",
            path=path,
            fix="use [province], [counties] or [[county]], and [cluster]",
        )
    if ("counties" in raw) == ("county" in raw):
        raise DataError(
            "name the counties either with [counties] (one boundary layer) or with [[county]] "
            "entries (one run config each)",
            path=path,
            fix="keep exactly one of the two",
        )
    out = Path(outputs) if outputs is not None else base / prov.get("outputs", "province_outputs")
    pc = ProvinceConfig(
        name=str(prov.get("name", path.stem)),
        outputs=out,
        source=path,
        maps=bool(prov.get("maps", True)),
        cluster=dict(raw.get("cluster", {})),
    )
    if "county" in raw:
        seen: set[str] = set()
        for i, e in enumerate(raw["county"]):
            if "config" not in e:
                raise DataError(
                    f"[[county]] #{i + 1} has no 'config'", path=path, fix='add config = "my_county.toml"'
                )
            cid = str(e.get("id", Path(e["config"]).stem))
            if cid in seen:
                raise DataError(
                    f"county id {cid!r} appears twice", path=path, fix="give each county its own id"
                )
            seen.add(cid)
            pc.counties.append(
                County(cid, str(e.get("name", cid)), _path(base, e["config"], f"[[county]] {cid}", path))
            )
    else:
        layer = dict(raw["counties"])
        for key in ("path", "template"):
            if key not in layer:
                raise DataError(
                    f"[counties] has no {key!r}",
                    path=path,
                    fix='[counties] needs path = "counties.gpkg" and template = "county.toml"',
                )
            layer[key] = _path(base, layer[key], f"[counties] {key}", path)
        if "osm" in layer:
            layer["osm"] = _path(base, layer["osm"], "[counties] osm", path)
        pc.layer = layer
    return pc


# ---------------------------------------------------------------------------------------------------------------
# mode (a): split province-wide inputs into one run config per county
# ---------------------------------------------------------------------------------------------------------------
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (str, Path)):
        return json.dumps(str(v), ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return (
            "{ "
            + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)} = {_toml_value(x)}" for k, x in v.items())
            + " }"
        )
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _toml(doc: dict[str, Any]) -> str:
    """A small TOML writer for run configs: tables, arrays of tables and inline values."""
    lines: list[str] = []
    for name, table in doc.items():
        rows = table if isinstance(table, list) else [table]
        for row in rows:
            lines.append(f"[[{name}]]" if isinstance(table, list) else f"[{name}]")
            subs = {k: v for k, v in row.items() if isinstance(v, dict) and name == "boundaries"}
            for k, v in row.items():
                if k not in subs:
                    lines.append(f"{k} = {_toml_value(v)}")
            for k, v in subs.items():
                lines.append(f"[{name}.{k}]")
                lines.extend(f"{kk} = {_toml_value(vv)}" for kk, vv in v.items())
            lines.append("")
    return "\n".join(lines)


def _pick(
    columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str, src: Path
) -> str | None:
    if wanted:
        if wanted not in columns:
            raise DataError(
                f"[counties] {what} column {wanted!r} not in the county layer (columns: {columns})",
                path=src,
                fix=f"name one of its columns as the county {what}",
            )
        return wanted
    low = {c.lower(): c for c in columns}
    return next((low[c] for c in candidates if c in low), None)


def county_layer(pc: ProvinceConfig) -> gpd.GeoDataFrame:
    """The county polygons (EPSG:4326) with ``county_id`` and ``county_name``."""
    import geopandas as gpd

    lay = pc.layer or {}
    src = Path(lay["path"])
    g = gpd.read_file(src, layer=lay.get("layer"))
    if g.crs is None:
        raise DataError("the county layer has no CRS", path=src, fix="save it with its coordinate system")
    g = g.to_crs("EPSG:4326")
    cols = [c for c in g.columns if c != g.geometry.name]
    idc = _pick(cols, lay.get("id"), ("code", "编码", "id", "county_id", "adcode"), "id", src)
    nmc = _pick(cols, lay.get("name"), ("name", "名称", "county_name"), "name", src)
    ids = g[idc].astype(str) if idc else [f"county{i + 1:03d}" for i in range(len(g))]
    out = gpd.GeoDataFrame(
        {"county_id": ids, "county_name": g[nmc].astype(str) if nmc else ids},
        geometry=g.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    dup = out["county_id"].duplicated()
    if dup.any():
        raise DataError(
            f"county ids repeat: {sorted(set(out.loc[dup, 'county_id']))}",
            path=src,
            fix="give each county its own id (the [counties] id column)",
        )
    return out


def _within(gdf: gpd.GeoDataFrame, poly: BaseGeometry, buffer_m: float) -> gpd.GeoDataFrame:
    """Features of ``gdf`` (EPSG:4326) whose representative point is in ``poly`` buffered by ``buffer_m``."""
    import geopandas as gpd
    import shapely

    if buffer_m > 0:
        c = gpd.GeoSeries([poly], crs="EPSG:4326")
        poly = c.to_crs(c.estimate_utm_crs()).buffer(buffer_m).to_crs("EPSG:4326").iloc[0]
    pts = gdf.geometry.representative_point().to_numpy()
    return gdf[shapely.contains_xy(poly, shapely.get_x(pts), shapely.get_y(pts))]


def _fingerprint(paths: list[Path], extra: str = "") -> str:
    h = hashlib.sha1(extra.encode("utf-8"))
    for p in paths:
        st = Path(p).stat()
        h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def prepare(pc: ProvinceConfig, progress: Progress = quiet) -> list[County]:
    """The county tasks. Mode (a): split the template's province-wide inputs into ``work/<id>/`` (canonical
    GeoPackages, read with childspace's loaders once) and write one run config per county; skipped when the
    split of the same inputs is already there."""
    if pc.layer is None:
        return list(pc.counties)
    from childspace.run import pipeline

    lay = pc.layer
    tpl_path = Path(lay["template"])
    raw = tomllib.loads(tpl_path.read_text(encoding="utf-8"))
    tpl = pipeline.load_config(tpl_path)
    osm = Path(lay.get("osm") or tpl.osm).resolve()
    buffer_m = float(raw.get("network", {}).get("buffer_m", 500.0))
    sources = [Path(lay["path"]), tpl_path, osm, *_input_paths(raw, tpl_path.resolve().parent)]
    stamp = _fingerprint(sources, extra=json.dumps(lay, default=str, sort_keys=True))
    counties = county_layer(pc)
    work = pc.outputs / "work"
    done = work / "split.json"
    if done.exists() and json.loads(done.read_text(encoding="utf-8")).get("fingerprint") == stamp:
        return [
            County(r.county_id, r.county_name, work / r.county_id / "county.toml")
            for r in counties.itertuples()
        ]
    progress(f"分县准备 Splitting the province inputs into {len(counties)} counties")
    inp = pipeline.load_inputs(tpl)
    tasks = []
    for r in counties.itertuples():
        d = work / r.county_id
        d.mkdir(parents=True, exist_ok=True)
        doc: dict[str, Any] = {"project": {"name": r.county_name, "synthetic": bool(tpl.synthetic)}}
        bounds: dict[str, Any] = {}
        kept_units = []
        all_towns = inp.townships
        towns = _within(all_towns, r.geometry, 0.0) if all_towns is not None else None
        comms = inp.communities
        if comms is not None:
            parent = comms.get("parent_id")
            if (
                all_towns is not None
                and towns is not None
                and parent is not None
                and parent.isin(all_towns["unit_id"]).all()
            ):
                comms = comms[parent.isin(towns["unit_id"])]  # communities follow their township
            else:
                comms = _within(comms, r.geometry, 0.0)
        for level, part in (("township", towns), ("community", comms)):
            if part is not None and len(part):
                kept_units.append(part)
                bounds[level] = {"path": str(_write(part, d / f"{level}.gpkg"))}
        if not bounds:  # no units inside: the county itself is the one unit
            import geopandas as gpd

            one = gpd.GeoDataFrame(
                {"unit_id": [r.county_id], "name": [r.county_name], "level": ["township"]},
                geometry=[r.geometry],
                crs="EPSG:4326",
            )
            bounds["township"] = {"path": str(_write(one, d / "township.gpkg"))}
        doc["boundaries"] = bounds
        # homes and pilots follow their unit (a unit belongs to the county holding its representative point)
        area = _union(kept_units[-1:]) if kept_units else r.geometry  # the finest level
        if inp.facilities is not None:
            f = _within(inp.facilities, area, buffer_m)
            doc["facilities"] = [{"path": str(_write(f, d / "facilities.gpkg"))}] if len(f) else []
        if inp.pilots is not None:
            p = _within(inp.pilots, area, 0.0)
            if len(p):
                doc["pilots"] = {"path": str(_write(p, d / "pilots.gpkg"))}
        if inp.origins is not None:
            o = _within(inp.origins, area, 0.0)
            if len(o):
                doc["origins"] = {"path": str(_write(o, d / "origins.gpkg"))}
        doc["network"] = {**raw.get("network", {}), "osm": str(osm)}
        for sec in ("analysis", "standards"):
            if sec in raw:
                doc[sec] = raw[sec]
        if not doc.get("facilities"):
            doc.pop("facilities", None)
        (d / "county.toml").write_text(_toml(doc), encoding="utf-8")
        tasks.append(County(r.county_id, r.county_name, d / "county.toml"))
    done.write_text(json.dumps({"fingerprint": stamp}), encoding="utf-8")
    return tasks


def _union(frames: list[gpd.GeoDataFrame]) -> BaseGeometry:
    import shapely

    return shapely.union_all([g for f in frames for g in f.geometry.to_numpy()])


def _input_paths(raw: dict[str, Any], base: Path) -> list[Path]:
    out = []
    for sec in INPUT_SECTIONS:
        v = raw.get(sec)
        entries = (
            v.values() if sec == "boundaries" and isinstance(v, dict) else (v if isinstance(v, list) else [v])
        )
        for e in entries:
            if isinstance(e, dict) and "path" in e:
                p = Path(e["path"])
                out.append(p if p.is_absolute() else base / p)
    return out


def _write(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    from childspace.run.pipeline import _for_file

    with atomic_path(path, make_dirs=True) as tmp:
        _for_file(gdf).to_file(tmp, layer=path.stem, driver="GPKG")
    return path


# ---------------------------------------------------------------------------------------------------------------
# one county (runs on a worker)
# ---------------------------------------------------------------------------------------------------------------
def _status_path(outputs: Path, cid: str) -> Path:
    return Path(outputs) / "status" / f"{cid}.json"


def county_fingerprint(config: Path, maps: bool) -> str:
    """Of the county's run config and every file it names (size and mtime), and whether maps are drawn."""
    config = Path(config)
    raw = tomllib.loads(config.read_text(encoding="utf-8"))
    base = config.resolve().parent
    paths = [config, *_input_paths(raw, base)]
    osm = raw.get("network", {}).get("osm")
    if osm:
        paths.append(Path(osm) if Path(osm).is_absolute() else base / osm)
    return _fingerprint([p for p in paths if p.exists()], extra=f"maps={maps}")


def is_complete(outputs: Path, county: County, maps: bool) -> bool:
    """True when the county's last run succeeded on the same inputs and all its files are still there."""
    sp = _status_path(outputs, county.id)
    if not sp.exists():
        return False
    try:
        st = json.loads(sp.read_text(encoding="utf-8"))
        fp = county_fingerprint(county.config, maps)
    except (OSError, ValueError, tomllib.TOMLDecodeError):
        return False
    return (
        st.get("status") == "ok"
        and st.get("fingerprint") == fp
        and all(Path(p).exists() for p in st.get("files", {}).values())
    )


def _write_status(outputs: Path, status: dict[str, Any]) -> None:
    with atomic_path(_status_path(outputs, status["county_id"]), make_dirs=True) as tmp:
        Path(tmp).write_text(json.dumps(status, ensure_ascii=False, indent=1, default=str), encoding="utf-8")


def run_county(county: County, outputs: Path, maps: bool = True) -> dict[str, Any]:
    """Run one county (``run_all`` on its config) and record its status. Bad input data (a ChildspaceError)
    is a ``failed`` status with the message; any other error is raised, so the scheduler can retry the task."""
    import resource
    import warnings

    from childspace.run import pipeline

    t, c = time.perf_counter(), time.process_time()
    status: dict[str, Any] = {
        "county_id": county.id,
        "name": county.name,
        "config": str(county.config),
        "worker": os.getpid(),
    }
    try:
        status["fingerprint"] = county_fingerprint(county.config, maps)
        cfg = pipeline.load_config(county.config, outputs=Path(outputs) / "counties" / county.id)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            written = pipeline.run_all(cfg, maps=maps)
        status.update(
            status="ok", message="", warnings=len(caught), files={k: str(v) for k, v in written.items()}
        )
    except ChildspaceError as exc:
        status.update(status="failed", message=str(exc), files={})
    status.update(
        wall_s=round(time.perf_counter() - t, 2),
        cpu_s=round(time.process_time() - c, 2),
        worker_peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )
    _write_status(outputs, status)
    return status


# ---------------------------------------------------------------------------------------------------------------
# the province run
# ---------------------------------------------------------------------------------------------------------------
def _dask() -> Any:
    try:
        import dask.distributed as dd
    except ImportError:
        raise ChildspaceError(
            "childspace batch needs Dask distributed, which is not installed. Install it with: "
            'pip install "childspace[batch]" (or pip install "dask[distributed]")'
        ) from None
    return dd


@dataclass
class BatchResult:
    """Statuses of every county (this run's and the skipped ones') and the province files."""

    statuses: list[dict[str, Any]]
    skipped: list[str]
    files: dict[str, Path]

    @property
    def failed(self) -> list[str]:
        return [s["county_id"] for s in self.statuses if s.get("status") != "ok"]


def run_batch(
    pc: ProvinceConfig,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Progress = quiet,
    bar: bool = False,
) -> BatchResult:
    """Run every county of ``pc`` not already complete, then merge the province tables and map."""
    dd = _dask()
    counties = prepare(pc, progress)
    todo = [c for c in counties if not is_complete(pc.outputs, c, pc.maps)]
    skipped = [c.id for c in counties if c not in todo]
    if skipped:
        progress(f"已完成，跳过 {len(skipped)} counties complete, skipped: {', '.join(skipped)}")
    cl = pc.cluster
    address = scheduler or cl.get("address") or None
    retries = int(cl.get("retries", 1))
    statuses: dict[str, dict[str, Any]] = {}
    if todo:
        if address:
            client, cluster = dd.Client(address), None
            progress(f"Dask scheduler {address}: {len(todo)} counties")
        else:
            n = int(workers or cl.get("workers", 2))
            cluster = dd.LocalCluster(
                n_workers=n,
                threads_per_worker=int(cl.get("threads_per_worker", 1)),
                processes=bool(cl.get("processes", True)),
                memory_limit=cl.get("memory_limit", "auto"),
                dashboard_address=None,
            )
            client = dd.Client(cluster)
            progress(f"Dask LocalCluster, {n} workers: {len(todo)} counties")
        try:
            futs = {
                client.submit(
                    run_county, c, pc.outputs, pc.maps, key=f"county-{c.id}", retries=retries, pure=False
                ): c
                for c in todo
            }
            it = dd.as_completed(futs)
            if bar:
                from tqdm.auto import tqdm

                it = tqdm(it, total=len(futs), desc="counties", unit="county")
            say = progress
            if bar:
                say = it.write
            for f in it:
                c = futs[f]
                try:
                    st = f.result()
                except Exception as exc:  # noqa: BLE001 - the task crashed after its retries
                    st = {
                        "county_id": c.id,
                        "name": c.name,
                        "config": str(c.config),
                        "status": "failed",
                        "message": f"{type(exc).__name__}: {exc} (after {retries} retries)",
                        "files": {},
                    }
                    _write_status(pc.outputs, st)
                statuses[c.id] = st
                tail = f"{st.get('wall_s', 0):.0f} s" if st["status"] == "ok" else st["message"][:200]
                say(f"  {c.id} {c.name}: {st['status']} ({tail})")
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    for c in counties:
        if c.id not in statuses:
            statuses[c.id] = json.loads(_status_path(pc.outputs, c.id).read_text(encoding="utf-8"))
    ordered = [statuses[c.id] for c in counties]
    files = merge_province(pc, ordered, counties)
    return BatchResult(ordered, skipped, files)


def _county_polygon(files: dict[str, str]) -> BaseGeometry | None:
    import geopandas as gpd
    import pyogrio
    import shapely

    gpkg = files.get("geopackage")
    if not gpkg or not Path(gpkg).exists():
        return None
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    for lay in ("townships", "communities"):
        if lay in layers:
            g = gpd.read_file(gpkg, layer=lay).to_crs("EPSG:4326")
            return shapely.union_all(g.geometry.to_numpy())
    return None


def _read_table(path: str | Path) -> pd.DataFrame:
    """A county's CSV table with its machine column names (the files carry bilingual headers)."""
    from childspace.outputs.workbook import read_csv_table

    return read_csv_table(path)


def province_tables(statuses: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-county summary and per-county, per-category coverage (children within walking reach)."""
    import pandas as pd

    rows, cov = [], []
    for st in statuses:
        files = st.get("files", {})
        row = {
            "county_id": st["county_id"],
            "name": st.get("name", ""),
            "status": st.get("status"),
            "message": st.get("message", ""),
            "wall_s": st.get("wall_s"),
            "cpu_s": st.get("cpu_s"),
            "worker_peak_rss_mb": st.get("worker_peak_rss_mb"),
        }
        level, tc = next(
            (
                (lv, files[k])
                for lv, k in (("community", "csv:community_coverage"), ("township", "csv:township_coverage"))
                if files.get(k) and Path(files[k]).exists()
            ),
            (None, None),
        )
        if st.get("status") == "ok" and tc:
            t = _read_table(tc)
            g = t.groupby("category", sort=False)[
                ["children", "children_covered_walk", "children_covered_line"]
            ].sum()
            below = t.groupby("category", sort=False)["below_target"].sum()
            for cat, r in g.iterrows():
                cov.append(
                    {
                        "county_id": st["county_id"],
                        "name": st.get("name", ""),
                        "category": cat,
                        "children": r["children"],
                        "children_covered_walk": r["children_covered_walk"],
                        "children_covered_line": r["children_covered_line"],
                        "unit_level": level,
                        "units_below_target": int(below[cat]),
                    }
                )
            row["units"] = int(t["unit_id"].nunique())
            row["unit_level"] = level
            row["children"] = float(g["children"].iloc[0]) if len(g) else 0.0
        for key, col in (("csv:pilot_units", "pilot_units"), ("csv:schools", "schools")):
            p = files.get(key)
            if p and Path(p).exists():
                row[col] = len(pd.read_csv(p, encoding="utf-8-sig"))
        sc = files.get("csv:schools")
        if sc and Path(sc).exists():
            s = _read_table(sc)
            for c in ("children_safe", "children_caution", "children_unsafe", "children_unreachable"):
                row[c] = float(s[c].sum()) if c in s else None
        rows.append(row)
    counties = pd.DataFrame(rows)
    coverage = pd.DataFrame(
        cov,
        columns=[
            "county_id",
            "name",
            "category",
            "children",
            "children_covered_walk",
            "children_covered_line",
            "unit_level",
            "units_below_target",
        ],
    )
    if len(coverage):
        tot = (
            coverage.groupby("category", sort=False)[
                ["children", "children_covered_walk", "children_covered_line", "units_below_target"]
            ]
            .sum()
            .reset_index()
        )
        tot.insert(0, "county_id", "province")
        tot.insert(1, "name", "全省合计 Province")
        coverage = pd.concat([coverage, tot], ignore_index=True)
        coverage["pct_walk"] = (
            100.0 * coverage["children_covered_walk"] / coverage["children"].where(coverage["children"] > 0)
        )
        coverage["pct_line"] = (
            100.0 * coverage["children_covered_line"] / coverage["children"].where(coverage["children"] > 0)
        )
    return counties, coverage


def merge_province(
    pc: ProvinceConfig, statuses: list[dict[str, Any]], counties: list[County]
) -> dict[str, Path]:
    """Write ``province/counties.csv``, ``province/coverage.csv``, ``province/province.xlsx`` and
    ``province/overview.html`` (counties coloured by the share of children within walking reach)."""
    from childspace.outputs import report

    out = pc.outputs / "province"
    out.mkdir(parents=True, exist_ok=True)
    tab_c, tab_v = province_tables(statuses)
    written = dict(report.write_csv_tables(out, {"counties": tab_c, "coverage": tab_v}))
    written["excel"] = report.write_excel(
        out / "province.xlsx", {"县市 Counties": tab_c, "覆盖 Coverage": tab_v}
    )
    written["overview"] = _overview_map(pc, statuses, tab_v, out / "overview.html")
    return written


def _overview_map(
    pc: ProvinceConfig, statuses: list[dict[str, Any]], coverage: pd.DataFrame, path: Path
) -> Path:
    import folium
    import geopandas as gpd
    from branca.element import Figure

    polys = {st["county_id"]: _county_polygon(st.get("files", {})) for st in statuses}
    if pc.layer is not None:
        lay = county_layer(pc)
        polys.update({r.county_id: r.geometry for r in lay.itertuples() if polys.get(r.county_id) is None})
    ids = [k for k, v in polys.items() if v is not None]
    g = gpd.GeoDataFrame({"county_id": ids}, geometry=[polys[k] for k in ids], crs="EPSG:4326")
    g["geometry"] = g.geometry.simplify(0.0005, preserve_topology=True)
    names = {st["county_id"]: st.get("name", "") for st in statuses}
    state = {st["county_id"]: st.get("status") for st in statuses}
    m = folium.Map(tiles=None, prefer_canvas=True)
    if len(g):
        w, s, e, n = g.total_bounds
        m.fit_bounds([[s, w], [n, e]])
    cats = list(dict.fromkeys(coverage["category"])) if len(coverage) else []
    cov = coverage[coverage["county_id"] != "province"] if len(coverage) else coverage

    def colour(pct: float | None) -> str:
        if pct is None or math.isnan(pct):
            return "#bdbdbd"
        return "#1a9850" if pct >= 80 else "#fee08b" if pct >= 50 else "#d73027"

    for i, cat in enumerate(cats or [None]):
        fg = folium.FeatureGroup(
            name=f"{cat or 'status'}: 步行覆盖 % children within walking reach", show=i == 0
        )
        part = cov[cov["category"] == cat].set_index("county_id") if cat else None
        for r in g.itertuples():
            pct = float(part["pct_walk"].get(r.county_id, float("nan"))) if part is not None else None
            tip = f"{names.get(r.county_id, '')} ({r.county_id}): {state.get(r.county_id)}" + (
                f"; {cat}: {pct:.0f}%" if pct is not None and not math.isnan(pct) else ""
            )
            fill = colour(pct) if state.get(r.county_id) == "ok" else "#000000"
            folium.GeoJson(
                r.geometry.__geo_interface__,
                tooltip=tip,
                style_function=lambda _f, c=fill: {
                    "fillColor": c,
                    "color": "#333333",
                    "weight": 1,
                    "fillOpacity": 0.6,
                },
            ).add_to(fg)
        fg.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    title = (
        f"<div style='position:fixed;top:8px;left:50px;z-index:1000;background:white;padding:4px 8px'>"
        f"<b>{pc.name}</b>：各县步行服务覆盖 Children within walking reach per county "
        f"(绿 ≥80%，黄 50–80%，红 &lt;50%，黑 运行失败 failed)</div>"
    )
    cast(Figure, m.get_root()).html.add_child(folium.Element(title))
    with atomic_path(path, make_dirs=True) as tmp:
        m.save(str(tmp))
    return path


def cli(args: argparse.Namespace, progress: Progress = quiet) -> dict[str, Path]:
    """``childspace batch``: run the province and return the province files (an error when a county failed)."""
    pc = load_province(args.config, outputs=args.outputs)
    if args.no_maps:
        pc.maps = False
    res = run_batch(pc, scheduler=args.scheduler, workers=args.workers, progress=progress, bar=True)
    ok = len(res.statuses) - len(res.failed)
    progress(f"{ok}/{len(res.statuses)} counties ok ({len(res.skipped)} skipped as complete)")
    if res.failed:
        lines = [f"{s['county_id']}: {s.get('message', '')}" for s in res.statuses if s.get("status") != "ok"]
        raise ChildspaceError(
            f"{len(res.failed)} counties failed (province tables written without them; fix "
            "and run the same command again to redo only these):\n  " + "\n  ".join(lines)
        )
    return res.files
