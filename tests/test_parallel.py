"""The shared thread pool: ordered results, nested calls, and forked worker processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np

from childspace._parallel import map_split, map_threads, n_workers


def test_map_threads_keeps_order_and_nested_calls_run_serially():
    assert map_threads(lambda x: x * x, range(20)) == [x * x for x in range(20)]
    # a call from a pool thread must not wait for the pool (it would deadlock with every worker busy)
    inner = map_threads(
        lambda i: (threading.current_thread().name, map_threads(lambda x: x + i, [1, 2, 3])),
        range(2 * n_workers()),
    )
    assert [r for _, r in inner] == [[1 + i, 2 + i, 3 + i] for i in range(2 * n_workers())]
    out = map_split(lambda a: a * 2, np.arange(1000))
    assert out.dtype == np.int64 and (out == np.arange(1000) * 2).all()


def test_forked_processes_get_their_own_pool():
    # the parent has used the pool; a forked child (multiprocessing's default on Linux) must not wait on the
    # parent's threads, which do not exist in the child
    code = textwrap.dedent("""
        import multiprocessing as mp
        from childspace._parallel import map_threads
        def work(k):
            return sum(map_threads(lambda x: x * k, [1, 2, 3]))
        if __name__ == "__main__":
            assert map_threads(lambda x: x + 1, [1, 2, 3]) == [2, 3, 4]
            with mp.get_context("fork").Pool(2) as p:
                print(p.map(work, range(4)))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[0, 6, 12, 18]"
