"""`childspace report` computes the routes on another process beside the coverage and writes the coverage maps
before the routes are done: the same files as one after another, and a task that fails meanwhile stops the run
with its error, leaving nothing."""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from pathlib import Path

import pytest
from test_writing_tasks import _content, _most_at_once

from childspace import _forkpool
from childspace._errors import ChildspaceError

forks = pytest.mark.skipif(not _forkpool.can_fork(), reason="tasks run on forked processes on Linux only")

CATEGORIES = ["kindergarten", "primary_school"]  # fewer maps: a shorter test


def _config(tmp: Path) -> object:
    from childspace.run import pipeline

    return dataclasses.replace(pipeline.sample_config(), categories=CATEGORIES, outputs=tmp / "out")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``run_all`` on the sample with one process and with two; when each progress message came."""
    from childspace.run import pipeline

    got = {}
    for n in (1, 2):
        cfg = _config(tmp_path_factory.mktemp(f"run{n}"))
        said: list[tuple[float, str]] = []
        stats: list = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            written = pipeline.run_all(
                cfg, workers=n, task_stats=stats, progress=lambda m, said=said: said.append((time.time(), m))
            )
        got[n] = (Path(cfg.outputs), written, stats, said)
    return got


def test_the_run_writes_the_same_files_on_two_processes_as_on_one(runs):
    (d1, w1, s1, _), (d2, w2, s2, _) = runs[1], runs[2]
    assert list(w1) == list(w2)  # the same keys in the same order (the report links them in that order)
    files = sorted(p.relative_to(d1) for p in d1.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(d2) for p in d2.rglob("*") if p.is_file())
    assert {"childspace.gpkg", "maps/routes.html", "maps/coverage_kindergarten.html", "atlas.pdf"} <= {
        str(f) for f in files
    }
    for f in files:
        assert _content(d1 / f) == _content(d2 / f), f
    for d in (d1, d2):  # the manifest lists every file once, and nothing else is left beside the folder
        man = json.loads((d / "run.json").read_text(encoding="utf-8"))
        assert sorted(f["path"] for f in man["files"]) == sorted(
            str(f) for f in files if str(f) != "run.json"
        )
        assert sorted(p.name for p in d.parent.iterdir()) == ["out"]
    outputs = [[r.name for r in s if not r.name.startswith("analyses: ")] for s in (s1, s2)]
    assert outputs[0] == outputs[1]  # measured in the same (the tasks') order


@forks
def test_the_routes_are_computed_beside_the_coverage_and_the_maps_start_before_they_end(runs):
    _, _, stats, said = runs[2]
    msgs = [m for _, m in said]
    at = {m: t for t, m in said}
    apart = next(r for r in stats if r.name == "analyses: routes to school")
    assert apart.pid != os.getpid() and apart.error is None
    coverage = next(m for m in msgs if m.startswith("服务覆盖 Coverage"))
    maps_said = next(m for m in msgs if m.startswith("地图 Maps: "))  # said once the coverage is computed
    assert apart.start < at[maps_said]  # computed beside the coverage
    # said in this order: routes started apart, the coverage maps started, then the routes' own lines (said when
    # their results came back)
    i_apart = msgs.index("通学路径 Routes to school: computed on another process beside the coverage")
    i_maps = msgs.index(maps_said)
    i_routes = next(i for i, m in enumerate(msgs) if m.startswith("通学路径 Routes to school: stress"))
    assert i_apart < msgs.index(coverage) < i_maps < i_routes
    # every map that reads only the coverage (and the plan's indicators): overview, one per category, the
    # pilots, the venues, the atlas; not the routes map
    maps = {r.name for r in stats if r.name.startswith("maps/") and "routes" not in r.name} | {"atlas.pdf"}
    assert msgs[i_maps].startswith(f"地图 Maps: {len(maps)} 项") and len(maps) == 1 + len(CATEGORIES) + 3
    routes_back = apart.start + apart.wall_s
    early = {r.name for r in stats if r.start < routes_back and not r.name.startswith("analyses: ")}
    assert early and early <= maps  # the heaviest (the atlas) at least, started before the routes ended
    assert os.getpid() not in {r.pid for r in stats}
    assert _most_at_once(stats) <= 2  # two processes at most beside this one (which waits meanwhile)


def test_one_process_writes_nothing_before_the_analyses_end(runs):
    _, _, stats, said = runs[1]
    writing = next(t for t, m in said if m.startswith("写出 Writing"))
    assert stats and min(r.start for r in stats) >= writing
    assert {r.pid for r in stats} == {os.getpid()}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_map_task_that_fails_during_the_routes_stops_the_run(tmp_path, monkeypatch, workers):
    """The failure comes while the routes are computed (two processes) or at the end (one): the same one-line
    error either way, no output folder, no staging folder, no lock; the analyses after it are not run."""
    from childspace.analysis import routes as rt
    from childspace.run import pipeline, writing_maps

    def broken(what, make):  # any map, figure or the atlas: an error, not the usual warning
        raise ChildspaceError(f"{what} cannot be written", path="/data/out", fix="free some disk")

    slow_routes, walksheds = rt.school_routes, rt.walksheds
    marker = tmp_path.parent / f"{tmp_path.name}.walksheds"  # written by whichever process computes them

    def slow(*a, **k):  # long enough for the failure to come while this runs
        time.sleep(15 if workers == 2 else 0)
        return slow_routes(*a, **k)

    def counted(*a, **k):
        marker.write_text("walksheds", encoding="utf-8")
        return walksheds(*a, **k)

    monkeypatch.setattr(writing_maps, "_guarded", broken)  # inherited by the forked processes
    monkeypatch.setattr(rt, "school_routes", slow)
    monkeypatch.setattr(rt, "walksheds", counted)
    cfg = _config(tmp_path)
    with pytest.raises(ChildspaceError) as e:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipeline.run_all(cfg, workers=workers)
    first = "print atlas atlas.pdf" if workers == 2 else "map maps/overview.html"  # the first task each runs
    assert str(e.value) == f"/data/out: {first} cannot be written -> fix: free some disk"
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing half-written, no lock
    if workers == 2 and _forkpool.can_fork():
        # the process computing the routes was stopped before the walksheds: the error came during the routes
        assert not marker.exists()
    else:
        assert marker.exists()  # one process: every analysis first, then the maps


@forks
def test_a_worker_that_dies_is_an_error_naming_its_task(tmp_path):
    from childspace._forkpool import Task, TaskPool

    with pytest.raises(RuntimeError, match="the process writing dies ended unexpectedly"):
        with TaskPool(2) as pool:
            pool.submit([Task("dies", lambda: os._exit(3)), Task("fine", lambda: 1)])
            pool.join()


@forks
def test_a_worker_forked_early_runs_only_what_it_knew(tmp_path):
    """Tasks given later run on a process forked after them: each sees the state of its own fork."""
    from childspace._forkpool import Task, TaskPool

    state = {"phase": "coverage"}
    with TaskPool(2) as pool:
        pool.submit([Task("early", lambda: (state["phase"], os.getpid()))])
        # the first worker has taken its task (on a loaded machine it may start only after the second is forked,
        # which would then take the first task too: any worker may run any task it knows)
        deadline = time.monotonic() + 60
        while pool._n_taken.value < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        state["phase"] = "routes"  # computed after the first worker was forked
        pool.submit([Task("late", lambda: (state["phase"], os.getpid()))])
        got = pool.join()
    assert [r.value[0] for r in got] == ["coverage", "routes"]
    assert got[0].value[1] != got[1].value[1]


@forks
def test_the_origins_file_is_read_beside_the_osm_extract(runs):
    """With two processes the origins (a county's 300k homes) are read on the other one while this one reads
    the OSM extract; with one they are read in turn. The files written are the same (first test)."""
    _, _, stats, said = runs[2]
    read = next(r for r in stats if r.name == "analyses: origins (read beside the OSM extract)")
    assert read.pid != os.getpid() and read.error is None
    # submitted before the extract is read (its process may start a moment later on a busy machine)
    msgs = [m for _, m in said]
    assert msgs.index("儿童居住点 Origins: homes.gpkg") < next(
        i for i, m in enumerate(msgs) if m.startswith("步行路网 Walk network")
    )
    assert not any(r.name.startswith("analyses: origins") for r in runs[1][2])


@forks
def test_the_base_map_is_read_beside_the_network_and_the_maps_are_the_same(runs):
    """With two processes the maps' base map (a second pass over the extract) is read on another process while
    this one builds the network; the maps are those of one process (first test), whose base map is read here."""
    _, _, stats, said = runs[2]
    read = next(r for r in stats if r.name == "analyses: base map (read beside the network)")
    assert read.pid != os.getpid() and read.error is None
    assert read.value  # the pickle it sent back (read and deleted by this process)
    assert not Path(read.value).exists()
    network = next(t for t, m in said if m.startswith("步行路网 Walk network"))
    assert (
        read.start < next(t for t, m in said if m.startswith("服务覆盖 Coverage"))
        and read.start <= network + 5
    )
    maps_said = next(t for t, m in said if m.startswith("地图 Maps: "))
    assert read.start + read.wall_s <= maps_said + 0.5  # waited for before the maps start
    assert not any("base map" in r.name for r in runs[1][2])  # one process: read here, no task
    # the base map read there is drawn (its attribution is that of the extract's layers), as on one process
    for n in (1, 2):
        assert "Base map data \\u0026copy; OpenStreetMap" in (
            runs[n][0] / "maps" / "overview.html"
        ).read_text("utf-8")
    assert _content(runs[1][0] / "maps" / "overview.html") == _content(runs[2][0] / "maps" / "overview.html")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bad_origins_file_read_beside_stops_the_run_with_its_own_error(tmp_path, workers):
    """An origins file with a negative child count: the same one-line error naming the file, read here or on
    the other process, and nothing written."""
    import geopandas as gpd

    from childspace.run import pipeline

    cfg = _config(tmp_path)
    bad = tmp_path / "homes.gpkg"
    homes = gpd.read_file(cfg.origins.path)
    homes.loc[3, "children"] = -2
    homes.to_file(bad)
    cfg = dataclasses.replace(cfg, origins=dataclasses.replace(cfg.origins, path=bad))
    with pytest.raises(ChildspaceError) as e:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipeline.run_all(cfg, workers=workers)
    assert str(e.value).startswith(str(bad)) and "negative number of children" in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["homes.gpkg"]
