"""The outputs as independent tasks on forked processes: the same files as one after another, errors as before."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sqlite3
import warnings
import zipfile
from pathlib import Path

import pytest

from childspace import _forkpool
from childspace._errors import ChildspaceError, ChildspaceWarning
from childspace._forkpool import Task, run_tasks

forks = pytest.mark.skipif(not _forkpool.can_fork(), reason="tasks run on forked processes on Linux only")


# ---------------------------------------------------------------------------------------------------------------
# the task runner
# ---------------------------------------------------------------------------------------------------------------
def _pid_after(seconds: float, value: int) -> tuple[int, int]:
    import time

    time.sleep(seconds)
    return value, os.getpid()


def _warns(text: str) -> str:
    warnings.warn(text, ChildspaceWarning, stacklevel=1)
    return text


@forks
def test_tasks_run_on_two_processes_and_come_back_in_their_order():
    from functools import partial

    # the first task is the slowest: it ends last, its result still comes first
    tasks = [
        Task(f"t{i}", partial(_pid_after, s, i), weight=w)
        for i, (s, w) in enumerate([(0.6, 3), (0, 1), (0, 1)])
    ]
    ended: list[str] = []
    got = run_tasks(tasks, workers=2, done=lambda r: ended.append(r.name))
    assert [r.value[0] for r in got] == [0, 1, 2]
    pids = {r.value[1] for r in got}
    assert len(pids) == 2 and os.getpid() not in pids  # two worker processes, not this one
    assert ended[-1] == "t0"  # reported as it ended
    assert all(r.wall_s >= 0 and r.cpu_s >= 0 and r.peak_rss_mb > 0 and r.pid in pids for r in got)
    serial = run_tasks(tasks, workers=1)
    assert [r.value[0] for r in serial] == [0, 1, 2] and {r.value[1] for r in serial} == {os.getpid()}


@forks
def test_a_task_s_warnings_are_raised_here():
    tasks = [Task("a", lambda: _warns("map maps/a.html was not written: boom")), Task("b", lambda: 1)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = run_tasks(tasks, workers=2)
    assert [r.value for r in got] == ["map maps/a.html was not written: boom", 1]
    msgs = [(str(w.message), w.category) for w in caught]
    assert msgs == [("map maps/a.html was not written: boom", ChildspaceWarning)]


def _fails() -> None:
    raise ChildspaceError("cannot write", path="/x/childspace.xlsx", fix="close it in Excel")


def _slow_marker(path: str) -> None:
    import time

    time.sleep(30)
    Path(path).write_text("written after the failure")


@forks
@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_task_raises_its_error_and_stops_the_others(tmp_path, workers):
    from functools import partial

    marker = tmp_path / "late.txt"
    tasks = [Task("slow", partial(_slow_marker, str(marker)), weight=2), Task("fails", _fails, weight=1)]
    if workers == 1:
        tasks = tasks[::-1]  # one after another: the failure comes first and nothing else runs
    with pytest.raises(ChildspaceError) as e:
        run_tasks(tasks, workers=workers)
    assert str(e.value) == "/x/childspace.xlsx: cannot write -> fix: close it in Excel"
    assert e.value.path == "/x/childspace.xlsx" and e.value.fix == "close it in Excel"  # the same error
    import time

    time.sleep(0.5)
    assert not marker.exists()  # the slow task's process was ended, not left to write on


# ---------------------------------------------------------------------------------------------------------------
# the sample's outputs: one after another vs two processes
# ---------------------------------------------------------------------------------------------------------------
def _content(p: Path) -> bytes:
    """A file's content without what changes from run to run (timestamps, random element ids)."""
    d = p.read_bytes()
    if p.suffix == ".html":
        s = re.sub(r"[0-9a-f]{32}", "ID", d.decode("utf-8"))
        s = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?", "TIME", s)
        return re.sub(r"data:font/[^)\"']+", "FONT", s).encode()  # a subset font carries its build time
    if p.suffix == ".xlsx":
        z = zipfile.ZipFile(p)
        return b"".join(z.read(n) for n in sorted(z.namelist()) if not n.startswith("docProps"))
    if p.suffix == ".gpkg":
        con = sqlite3.connect(p)
        try:
            tables = [
                t for (t,) in con.execute("select name from sqlite_master where type='table' order by name")
            ]
            out = [repr((t, sorted(map(repr, con.execute(f'select * from "{t}"'))))) for t in tables]
        finally:
            con.close()
        return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "TIME", "".join(out)).encode()
    if p.suffix == ".pdf":
        return re.sub(rb"/CreationDate \(.*?\)", b"", d)
    if p.name == "run.json":
        return json.dumps([f["path"] for f in json.loads(d)["files"]]).encode()
    return d


@pytest.fixture(scope="module")
def written_both_ways(sample_run, tmp_path_factory):
    from childspace.run import pipeline

    cfg = pipeline.sample_config()
    cfg = dataclasses.replace(
        cfg, categories=["kindergarten", "primary_school"]
    )  # fewer maps: a shorter test
    out = {}
    for n in (1, 2):
        c = dataclasses.replace(cfg, outputs=tmp_path_factory.mktemp(f"w{n}") / "out")
        stats: list = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            written = pipeline.write_outputs(sample_run, c, workers=n, task_stats=stats)
        out[n] = (Path(c.outputs), written, stats)
    return out


def test_two_processes_write_the_same_files_as_one(written_both_ways):
    (d1, w1, s1), (d2, w2, s2) = written_both_ways[1], written_both_ways[2]
    assert list(w1) == list(w2)  # the same keys in the same order
    assert [p.relative_to(d1) for p in w1.values()] == [p.relative_to(d2) for p in w2.values()]
    files = sorted(p.relative_to(d1) for p in d1.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(d2) for p in d2.rglob("*") if p.is_file())
    kinds = {f.suffix for f in files}
    assert {".gpkg", ".csv", ".xlsx", ".html", ".png", ".pdf", ".json"} <= kinds, kinds
    assert {"maps/routes.html", "figures/routes.png", "atlas.pdf", "report.html"} <= {str(f) for f in files}
    same_bytes = [f for f in files if (d1 / f).read_bytes() == (d2 / f).read_bytes()]
    assert {f.suffix for f in same_bytes} >= {".csv", ".png"}  # tables and figures: byte for byte
    for f in files:
        assert _content(d1 / f) == _content(d2 / f), f
    m1 = json.loads((d1 / "run.json").read_text(encoding="utf-8"))["files"]
    m2 = json.loads((d2 / "run.json").read_text(encoding="utf-8"))["files"]
    assert [f["path"] for f in m1] == [f["path"] for f in m2]
    # every task measured where it ran: one after another here, on two other processes there
    assert [r.name for r in s1] == [r.name for r in s2] and len(s1) >= 8
    assert {r.pid for r in s1} == {os.getpid()}
    if _forkpool.can_fork():  # on other processes, never more than two at once
        assert len({r.pid for r in s2}) >= 2 and os.getpid() not in {r.pid for r in s2}
        assert _most_at_once(s2) <= 2


def _most_at_once(stats: list) -> int:
    """The most tasks that ran at the same moment."""
    events = sorted([(r.start, 1) for r in stats] + [(r.start + r.wall_s, -1) for r in stats])
    most = now = 0
    for _, d in events:
        now += d
        most = max(most, now)
    return most


@forks
def test_a_failing_output_task_is_one_error_and_leaves_nothing(sample_run, tmp_path, monkeypatch):
    from childspace.outputs import report
    from childspace.run import pipeline

    def broken(path, *a, **k):
        raise ChildspaceError("the workbook cannot be written", path=path, fix="close it in Excel")

    monkeypatch.setattr(report, "write_excel", broken)  # inherited by the forked processes
    cfg = dataclasses.replace(pipeline.sample_config(), outputs=tmp_path / "out", categories=["kindergarten"])
    with pytest.raises(ChildspaceError, match="the workbook cannot be written -> fix: close it in Excel"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipeline.write_outputs(sample_run, cfg, maps=False, workers=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no output folder, no staging, no lock


def test_workers_from_the_config(tmp_path):
    import shutil

    from childspace.run import pipeline
    from childspace.run.config import SAMPLE_DATA
    from childspace.run.writing import resolve_workers

    assert pipeline.load_config(SAMPLE_DATA / "sample.toml").workers is None
    assert resolve_workers(pipeline.load_config(SAMPLE_DATA / "sample.toml")) == min(
        2, _forkpool.usable_cpus()
    )
    shutil.copytree(SAMPLE_DATA, tmp_path / "data")
    mine = tmp_path / "data" / "sample.toml"
    text = mine.read_text(encoding="utf-8")
    mine.write_text("[run]\nworkers = 1\n\n" + text, encoding="utf-8")
    cfg = pipeline.load_config(mine)
    assert cfg.workers == 1 and resolve_workers(cfg) == 1 and resolve_workers(cfg, 3) == 3
    mine.write_text("[run]\nworkers = 0\n\n" + text, encoding="utf-8")
    with pytest.raises(
        ChildspaceError, match=r"\[run\] workers must be a whole number ≥ 1, got 0 \(line 2\)"
    ):
        pipeline.load_config(mine)
    mine.write_text("[run]\nworker = 2\n\n" + text, encoding="utf-8")
    with pytest.raises(ChildspaceError, match="unknown key 'worker' in \\[run\\].*did you mean 'workers'"):
        pipeline.load_config(mine)


def _holds(path: str) -> bool:
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.path.realpath(os.readlink(f"/proc/self/fd/{fd}")) == path:
                return True
        except OSError:  # the descriptor of the listing itself, closed by now
            pass
    return False


@forks
def test_the_workers_do_not_keep_the_output_folder_s_lock(tmp_path):
    """A run killed while writing must free its folder for the next run at once, not when its last worker ends."""
    from functools import partial

    from childspace.run import outdir

    out = tmp_path / "out"
    lock = os.path.realpath(outdir.lock_path(out))
    with outdir.locked(out):
        assert _holds(lock)  # this process holds it
        got = run_tasks([Task(str(i), partial(_holds, lock)) for i in range(2)], workers=2, release=[lock])
    assert [r.value for r in got] == [False, False]


def test_tasks_started_from_another_thread_run_here():
    """Counties run in threads of one process (a Dask LocalCluster of threads): their tasks are not forked."""
    import threading

    got: list = []
    t = threading.Thread(
        target=lambda: got.extend(run_tasks([Task(str(i), os.getpid) for i in range(3)], workers=2))
    )
    t.start()
    t.join()
    assert [r.value for r in got] == [os.getpid()] * 3
