"""Independent tasks on forked worker processes (Linux), or one after another in this process.

A task is a function without arguments that writes its files and returns what it wrote. On Linux the tasks run
on ``workers`` processes forked from this one: they inherit everything already computed (no pickling of the
results going in), and send back only their small return value, the warnings they raised and their own
measurements (wall s, CPU s, peak RSS). Elsewhere (macOS and Windows start processes by spawning, which would
have to pickle every input), from a thread other than the main one, inside a daemonic process (a Dask worker) or
with ``workers=1`` the tasks run serially here, exactly as a plain loop would.

Each task's warnings are raised again in this process when it ends; a task that fails stops the others (their
processes are ended) and its exception is raised here, as it would have been in a serial run. The results come
back in the tasks' order, whatever order they finished in.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Task:
    """One independent piece of work: ``run()`` returns a small, picklable value (e.g. the paths written)."""

    name: str
    run: Callable[[], Any]
    #: a rough cost: the heaviest tasks are started first so the processes end together
    weight: float = 1.0


@dataclass
class TaskResult:
    """What a task returned, with where and how long it ran (measured in the process that ran it)."""

    name: str
    value: Any = None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    #: the highest resident memory of the process while the task ran (MB; pages shared with the parent count)
    peak_rss_mb: float = float("nan")
    pid: int = 0
    warnings: list[tuple[str, type[Warning], str, int]] = field(default_factory=list)
    error: BaseException | None = None


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    """Processes for a run's independent tasks: two, or one on a one-CPU machine."""
    return min(2, usable_cpus())


def can_fork() -> bool:
    """True where tasks may run on forked processes: Linux, from the main thread (a fork copies only the thread
    that makes it: another thread's locks would stay held in the child, and two runs in threads of one process,
    as a Dask LocalCluster of threads runs counties, would share the pool's task list), and not inside a
    daemonic process (a Dask worker process)."""
    return (
        sys.platform.startswith("linux")
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
        and threading.current_thread() is threading.main_thread()
    )


# ---------------------------------------------------------------------------------------------------------------
# measuring a task where it runs
# ---------------------------------------------------------------------------------------------------------------
def _reset_peak() -> None:
    """Start a new peak-RSS window for this process (Linux: ``/proc/self/clear_refs`` 5 resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except ImportError:  # pragma: no cover - Windows
        return float("nan")


def _measured(task: Task, record_warnings: bool) -> TaskResult:
    _reset_peak()
    res = TaskResult(task.name, pid=os.getpid())
    t, c = time.perf_counter(), time.process_time()
    try:
        if record_warnings:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")  # the parent's filters decide when they are raised again
                try:
                    res.value = task.run()
                finally:
                    res.warnings = [(str(w.message), w.category, w.filename, w.lineno) for w in caught]
        else:
            res.value = task.run()
    finally:
        res.wall_s, res.cpu_s = time.perf_counter() - t, time.process_time() - c
        res.peak_rss_mb = _peak_rss_mb()
    return res


# ---------------------------------------------------------------------------------------------------------------
# the worker processes
# ---------------------------------------------------------------------------------------------------------------
_tasks: Sequence[Task] = ()  # the tasks of the pool being started: inherited by its forked processes
_parent = 0
_release: tuple[str, ...] = ()  # files whose inherited descriptors the workers close (a lock of this process)


def _child_init() -> None:
    """In a worker: end with the parent (never write on after it was killed), leave Ctrl+C and SIGTERM to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.Signals["SIGKILL"]))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != _parent:  # the parent died before the line above
        os._exit(1)
    _close_inherited(_release)


def _close_inherited(paths: Sequence[str]) -> None:
    """Close this process's copies of the descriptors open on ``paths``: a lock taken with flock by the parent is
    shared with its forked children, and must end with the parent, not with the last child."""
    if not paths:
        return
    wanted = {os.path.realpath(p) for p in paths}
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:  # pragma: no cover - not Linux
        return
    for fd in fds:
        try:
            if os.path.realpath(os.readlink(f"/proc/self/fd/{fd}")) in wanted:
                os.close(int(fd))
        except (OSError, ValueError):
            pass


def _child_run(i: int) -> TaskResult:
    try:
        return _measured(_tasks[i], record_warnings=True)
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, which raises it
        res = TaskResult(_tasks[i].name, pid=os.getpid(), error=exc)
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that cannot cross processes: its type and text do
            res.error = RuntimeError(f"{type(exc).__name__}: {exc}")
        return res


def _reraise_warnings(res: TaskResult, registry: dict[Any, Any]) -> None:
    for message, category, filename, lineno in res.warnings:
        warnings.warn_explicit(message, category, filename, lineno, registry=registry)


def run_tasks(
    tasks: Sequence[Task],
    workers: int = 1,
    done: Callable[[TaskResult], None] | None = None,
    release: Sequence[str | os.PathLike[str]] = (),
) -> list[TaskResult]:
    """Run ``tasks``; returns their results in the tasks' order.

    ``workers`` > 1 on a machine that can fork (:func:`can_fork`): that many forked processes, the heaviest
    tasks first; else one after another in this process. ``done`` is called here after each task (in the order
    they end). A task's exception is raised here (with the parallel path, after the other processes were
    ended); its warnings are raised here when it ends. ``release``: files this process holds open (a lock)
    whose descriptors the workers close as they start, so that the lock ends with this process.
    """
    workers = max(1, min(int(workers), len(tasks)))
    if workers == 1 or not can_fork():
        out = []
        for t in tasks:
            r = _measured(t, record_warnings=False)
            out.append(r)
            if done is not None:
                done(r)
        return out
    return _run_forked(tasks, workers, done, tuple(os.fspath(p) for p in release))


def _run_forked(
    tasks: Sequence[Task], workers: int, done: Callable[[TaskResult], None] | None, release: tuple[str, ...]
) -> list[TaskResult]:
    global _tasks, _parent, _release
    _tasks, _parent, _release = tasks, os.getpid(), release
    order = sorted(range(len(tasks)), key=lambda i: -tasks[i].weight)  # heaviest first (stable)
    results: list[TaskResult | None] = [None] * len(tasks)
    registry: dict[Any, Any] = {}
    gc.collect()
    gc.freeze()  # the children's collector leaves the inherited objects alone (their pages stay shared)
    ex = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_child_init)
    failed: BaseException | None = None
    try:
        pending: dict[Future[TaskResult], int] = {ex.submit(_child_run, i): i for i in order}
        while pending and failed is None:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(finished, key=lambda f: pending[f]):
                i = pending.pop(fut)
                r = fut.result()  # a process that died (killed, out of memory) raises BrokenProcessPool
                results[i] = r
                _reraise_warnings(r, registry)
                if r.error is not None:
                    failed = r.error
                    break
                if done is not None:
                    done(r)
    except BaseException:
        _end(ex)
        raise
    finally:
        gc.unfreeze()
        _tasks, _release = (), ()
    if failed is not None:
        _end(ex)
        raise failed
    ex.shutdown(wait=True)  # the processes are joined: their CPU time counts in RUSAGE_CHILDREN
    return [r for r in results if r is not None]


def _end(ex: ProcessPoolExecutor) -> None:
    """Stop every worker now (a task failed, or Ctrl+C): nothing more is written into the staging folder."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=10)
    ex.shutdown(wait=False, cancel_futures=True)
