"""Threads shared by the analyses.

The heavy steps (numpy on large arrays, scipy's KD-tree, GEOS through shapely, contourpy, PROJ) release the GIL,
so a few threads keep all cores busy. One pool serves the whole process: threads are not started on every call,
and what a library keeps per thread stays warm (pyproj makes a transformer's PROJ object once per thread, about
50 ms each). A call made from one of the pool's own threads runs serially (no pool task waits for another).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike

_local = threading.local()
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist: start a new pool when one is needed."""
    global _pool, _lock
    _pool = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def n_workers() -> int:
    """Threads of the shared pool: the CPU count, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


def _mark_worker() -> None:
    _local.worker = True


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(
                    n_workers(), thread_name_prefix="childspace", initializer=_mark_worker
                )
    return _pool


_T = TypeVar("_T")
_R = TypeVar("_R")


def map_threads(fn: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
    """``[fn(x) for x in items]`` on the shared threads, results in order (serial for one item, on a one-core
    machine, or when called from a pool thread)."""
    todo = list(items)
    if len(todo) <= 1 or n_workers() <= 1 or getattr(_local, "worker", False):
        return [fn(x) for x in todo]
    return list(_shared_pool().map(fn, todo))


def map_split(fn: Callable[[np.ndarray], ArrayLike], values: np.ndarray, per_worker: int = 4) -> np.ndarray:
    """``fn`` (vectorised over an array) applied to ``values`` in parts on the shared threads, as one array."""
    parts = np.array_split(np.arange(len(values)), n_workers() * per_worker) if len(values) >= 4 else []
    if len(parts) <= 1:
        return np.asarray(fn(values))
    res = map_threads(lambda i: fn(values[i]), parts)
    out = np.empty(len(values), dtype=np.asarray(res[0]).dtype)
    for idx, r in zip(parts, res):
        out[idx] = r
    return out
