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

:class:`TaskPool` takes tasks as they become ready (e.g. the maps of the coverage while the routes are still
being computed): a worker forked then inherits the results of that moment, runs the tasks it knows and ends;
this process counts as one of the ``workers`` while it computes.
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
from dataclasses import dataclass, field
from typing import Any

#: tasks one forked pool can take (their taken flags live in a fixed block of shared memory)
MAX_TASKS = 4096


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
    #: when the task started (seconds since the epoch)
    start: float = 0.0
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
    res = TaskResult(task.name, pid=os.getpid(), start=time.time())
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
_parent = 0  # the process that forked the workers
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


def _child_run(task: Task) -> TaskResult:
    try:
        return _measured(task, record_warnings=True)
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, which raises it
        res = TaskResult(task.name, pid=os.getpid(), error=exc)
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
    with TaskPool(min(max(1, int(workers)), max(1, len(tasks))), done=done, release=release) as pool:
        pool.submit(tasks)
        return pool.join()


# ---------------------------------------------------------------------------------------------------------------
# the pool: tasks given as they become ready, while this process goes on computing
# ---------------------------------------------------------------------------------------------------------------
class TaskPool:
    """Run tasks on forked processes as they become ready, while this process goes on with other work.

    ``submit(tasks)`` adds tasks whose inputs are computed; ``poll()`` (cheap: call it between steps) collects
    what ended, raises a failed task's error and starts processes for waiting tasks; ``join()`` waits for every
    task and returns the results in the order they were submitted. While this process is computing (between
    ``submit``/``poll`` and ``join``) it counts as one of the ``workers`` processes: on two CPUs one task runs
    beside it, two once it only waits. A process forked before some tasks were submitted does not know them
    (it inherited the state of that moment): it ends when none of the tasks it knows is left, and a new process
    is forked for the others. A worker takes the heaviest task not yet taken among those it knows (the first
    submitted of equal weight): a process forked late starts on the heaviest work of all, e.g. the routes map and
    the GeoPackages once the routes are computed, while an earlier one finishes the lighter maps it knew.

    With ``workers=1``, or where :func:`can_fork` is False, nothing runs before ``join``, which runs the tasks
    one after another here, in the order submitted (warnings raised as they come, exactly as a plain loop).
    Use it as a context manager: leaving the block (an error, Ctrl+C) ends the workers still running, so that
    nothing more is written.
    """

    def __init__(
        self,
        workers: int = 1,
        done: Callable[[TaskResult], None] | None = None,
        release: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        self.workers = max(1, int(workers))
        self.forked = self.workers > 1 and can_fork()
        self.done = done
        self.release = tuple(os.fspath(p) for p in release)
        self._given: list[Task] = []  # in the order submitted
        self._order: list[int] = []  # the order they run in on one process (indices into _given)
        self._results: dict[int, TaskResult] = {}
        self._running: dict[Any, _Worker] = {}  # by the worker's result connection
        self._registry: dict[Any, Any] = {}
        self._frozen = False
        if self.forked:
            ctx = multiprocessing.get_context("fork")
            self._ctx = ctx
            # in shared memory: which tasks were taken (by index into _given), and how many
            self._taken = ctx.RawArray("b", MAX_TASKS)
            self._n_taken = ctx.RawValue("q", 0)
            self._lock = ctx.Lock()

    # -- the parent's side ----------------------------------------------------------------------------------
    def submit(self, tasks: Sequence[Task]) -> None:
        """Add ``tasks`` (their inputs are computed); on forked processes they may start at once."""
        first = len(self._given)
        if self.forked and first + len(tasks) > MAX_TASKS:
            raise ValueError(f"at most {MAX_TASKS} tasks per pool on forked processes")
        self._given.extend(tasks)
        self._order.extend(range(first, len(self._given)))
        self.poll()

    def poll(self) -> None:
        """Collect the tasks that ended (their warnings raised here, a failure raised here); start processes
        for waiting tasks, leaving one CPU to this process."""
        if not self.forked:
            return
        self._collect(timeout=0)
        self._start(slots=self.workers - 1)

    def start_now(self) -> None:
        """Start a process for the waiting tasks even while this one computes (one more than :meth:`poll`
        would: for short work beside this process's single-threaded stretches)."""
        if self.forked:
            self._collect(timeout=0)
            self._start(slots=self.workers)

    def wait_for(self, names: set[str] | frozenset[str]) -> None:
        """Run or wait until the tasks named ``names`` have ended (the others go on meanwhile; on one process,
        the tasks submitted before them run first)."""
        want = {i for i, t in enumerate(self._given) if t.name in names}
        if not self.forked:
            for i in self._order:
                if not want - set(self._results):
                    return
                if i not in self._results:
                    r = self._results[i] = _measured(self._given[i], record_warnings=False)
                    if self.done is not None:
                        self.done(r)
            return
        while want - set(self._results):
            self._start(slots=self.workers)
            if not self._running:  # pragma: no cover - a task taken by a worker that died before saying so
                lost = [self._given[i].name for i in range(len(self._given)) if i not in self._results]
                raise RuntimeError(f"output tasks lost by their worker processes: {', '.join(lost)}")
            self._collect(timeout=None)

    def join(self) -> list[TaskResult]:
        """Run or wait for every task submitted; their results in the order submitted."""
        if not self.forked:
            self.wait_for({t.name for t in self._given})
            return [self._results[i] for i in range(len(self._given))]
        while len(self._results) < len(self._given):
            self._start(slots=self.workers)
            if not self._running:  # pragma: no cover - a task taken by a worker that died before saying so
                lost = [self._given[i].name for i in range(len(self._given)) if i not in self._results]
                raise RuntimeError(f"output tasks lost by their worker processes: {', '.join(lost)}")
            self._collect(timeout=None)
        for w in list(self._running.values()):  # ending: nothing left for them to take
            w.proc.join()  # joined: their CPU time counts in RUSAGE_CHILDREN
            w.conn.close()
        self._running.clear()
        self._unfreeze()
        return [self._results[i] for i in range(len(self._given))]

    def results(self) -> list[TaskResult]:
        """The results of the tasks ended so far (in the order submitted)."""
        return [self._results[i] for i in sorted(self._results)]

    def close(self) -> None:
        """End every worker still running (nothing more is written) and let the collector go on as before."""
        for w in list(self._running.values()):
            if w.proc.is_alive():
                w.proc.terminate()
        for w in list(self._running.values()):
            w.proc.join(timeout=10)
            w.conn.close()
        self._running.clear()
        self._unfreeze()

    def __enter__(self) -> TaskPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self, slots: int) -> None:
        """Fork workers while fewer than ``slots`` run and some task is not taken yet."""
        while len(self._running) < slots and self._n_taken.value < len(self._given):
            # the workers' collector leaves the inherited objects alone (their pages stay shared), and so does
            # this process's while they run (a full collection here would touch, and copy, them all)
            gc.freeze()
            self._frozen = True
            _trim_heap()  # the free pages of this process's heap are not handed down to the worker
            global _parent, _release
            _parent, _release = os.getpid(), self.release
            rd, wr = self._ctx.Pipe(duplex=False)
            p = self._ctx.Process(target=_worker_main, args=(self, len(self._given), wr))
            p.start()
            wr.close()
            self._running[rd] = _Worker(p, rd)

    def _collect(self, timeout: float | None) -> None:
        """Read what the workers sent (waiting up to ``timeout`` s for something, None: until something comes)."""
        from multiprocessing.connection import wait as wait_any

        if not self._running:
            return
        ready = wait_any(list(self._running), timeout=timeout)
        for key in ready:
            w = self._running[key]
            conn = w.conn
            while True:
                try:
                    if not conn.poll():
                        break
                    kind, i, r = conn.recv()
                except (EOFError, OSError):  # the worker ended (its last message was read before)
                    self._ended(w)
                    break
                if kind == "start":
                    w.task = i
                    continue
                w.task = None
                assert isinstance(r, TaskResult)
                self._results[i] = r
                _reraise_warnings(r, self._registry)
                if r.error is not None:
                    self.close()
                    raise r.error
                if self.done is not None:
                    self.done(r)

    def _ended(self, w: _Worker) -> None:
        w.proc.join()
        w.conn.close()
        del self._running[w.conn]
        if w.task is not None:  # killed (out of memory?) while running a task
            name = self._given[w.task].name
            code = w.proc.exitcode
            self.close()
            raise RuntimeError(f"the process writing {name} ended unexpectedly (exit code {code})")

    def _unfreeze(self) -> None:
        if self._frozen and not self._running:
            gc.unfreeze()
            self._frozen = False

    # -- a worker's side ------------------------------------------------------------------------------------
    def _take(self, known: int) -> int | None:
        """The heaviest task not taken yet among the first ``known`` (those this worker inherited), marked taken;
        None when none is left."""
        with self._lock:
            free = [i for i in range(known) if not self._taken[i]]
            if not free:
                return None
            i = min(free, key=lambda j: (-self._given[j].weight, j))
            self._taken[i] = 1
            self._n_taken.value += 1
        return i


def _trim_heap() -> None:
    """Give the free memory of the C heap back to the system (glibc's ``malloc_trim``; elsewhere nothing)."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


@dataclass
class _Worker:
    proc: Any
    conn: Any
    task: int | None = None


def _worker_main(pool: TaskPool, known: int, conn: Any) -> None:
    """A worker: take the next task it knows, run it, send its result; end when none is left or one failed."""
    _child_init()
    try:
        while (i := pool._take(known)) is not None:
            conn.send(("start", i, None))
            r = _child_run(pool._given[i])
            conn.send(("done", i, r))
            if r.error is not None:
                break
    finally:
        conn.close()
