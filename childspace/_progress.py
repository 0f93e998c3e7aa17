"""Progress of long stages: a bar under every stage that lasts more than a few seconds.

A run reports its stages through a progress callback (``Callable[[str], None]``: one message per stage).
:class:`StageBars` is such a callback for people watching: it prints each message and, once a stage has run
for ``delay`` seconds, shows a tqdm bar under it with the stage's elapsed time, and the items done when the
stage loops over something (categories, schools, maps) through :func:`track`. The bar disappears when the next
message comes. Library functions call :func:`track` on their loops and never print: with no bar open (tests,
scripts, a progress callback that is not a :class:`StageBars`) :func:`track` returns the items unchanged.

In a terminal the bar is text on stderr; in Jupyter tqdm draws a widget when ipywidgets is installed, text
otherwise. ``CHILDSPACE_PROGRESS=0`` turns the bars off; the messages are printed either way.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, TypeVar

T = TypeVar("T")

_lock = threading.RLock()
_active: _StageBar | None = None  # the stage shown now (one at a time: stages run one after another)


def _in_notebook() -> bool:
    """True inside a running Jupyter kernel (not merely when ipykernel was imported somewhere)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # pragma: no cover - an IPython without get_ipython
        return False
    return shell is not None and hasattr(shell, "kernel")


def bars_wanted(file: IO[str] | None = None) -> bool:
    """True when bars help: a terminal or a Jupyter kernel, and ``CHILDSPACE_PROGRESS`` is not ``0``."""
    env = os.environ.get("CHILDSPACE_PROGRESS", "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env in ("1", "true", "yes", "on"):
        return True
    f = file if file is not None else sys.stderr
    try:
        tty = bool(f is not None and f.isatty())
    except (AttributeError, ValueError):
        tty = False
    return tty or _in_notebook()


class _StageBar:
    """One stage: its label, start time, items done; the tqdm bar is made only once ``delay`` has passed."""

    def __init__(self, label: str, delay: float, file: IO[str] | None) -> None:
        self.label = label.strip()[:60]
        self.start = time.monotonic()
        self.delay = delay
        self.file = file
        self.total: int | None = None
        self.unit = ""
        self.n = 0
        self.bar: Any = None

    def _make(self) -> None:
        if _in_notebook() and self.file is None:
            try:
                import ipywidgets  # noqa: F401  (tqdm.notebook needs it)
                from tqdm.notebook import tqdm as tq
            except ImportError:
                from tqdm import tqdm as tq
        else:
            from tqdm import tqdm as tq
        self.bar = tq(
            total=self.total,
            desc=self.label,
            unit=self.unit or "it",
            leave=False,
            file=self.file if self.file is not None else sys.stderr,
            dynamic_ncols=True,
            mininterval=0.5,
            bar_format=self._format(),
        )
        self.bar.start_t -= time.monotonic() - self.start  # elapsed counts from the stage's start
        self._sync()

    def _sync(self) -> None:
        b = self.bar
        b.total = self.total
        b.unit = self.unit or "it"
        b.n = self.n
        b.bar_format = self._format()
        b.refresh()

    def _format(self) -> str:
        if self.total is None:  # a stage that does not count: its elapsed time
            return "{desc}  {elapsed}"
        return "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit}  {elapsed}<{remaining}"

    def tick(self) -> None:
        if self.bar is None and time.monotonic() - self.start >= self.delay:
            self._make()
        elif self.bar is not None:
            self._sync()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class StageBars:
    """A progress callback that prints each message and shows a bar under stages longer than ``delay`` s.

    Use it as ``progress=StageBars()`` for :func:`childspace.run.pipeline.run_all` and the other run
    functions, or as a context manager (it closes the last bar on exit). ``show=False`` (or
    ``CHILDSPACE_PROGRESS=0``) prints the messages only.
    """

    def __init__(
        self,
        printer: Callable[[str], None] | None = None,
        delay: float = 2.0,
        file: IO[str] | None = None,
        show: bool | None = None,
    ) -> None:
        self.printer = printer if printer is not None else (lambda m: print(f"· {m}", flush=True))
        self.delay = delay
        self.file = file
        self.show = bars_wanted(file) if show is None else show
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, msg: str) -> None:
        global _active
        with _lock:
            if _active is not None:
                _active.close()
                _active = None
            self.printer(msg)
            if self.show:
                _active = _StageBar(msg, self.delay, self.file)
                self._start_ticker()

    def _start_ticker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._tick, name="childspace-progress", daemon=True)
            self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with _lock:
                if _active is not None:
                    _active.tick()

    def close(self) -> None:
        """Close the bar shown (if any) and stop the ticker thread."""
        global _active
        self._stop.set()
        with _lock:
            if _active is not None:
                _active.close()
                _active = None

    def __enter__(self) -> StageBars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def counter(total: int | None, unit: str = "") -> Callable[[], None]:
    """Count ``total`` items on the open stage's bar; returns the function that counts one more (a no-op when
    no bar is open). For work whose items end elsewhere (tasks on other processes), where :func:`track` cannot
    wrap a loop."""
    with _lock:
        bar = _active
        if bar is not None:
            bar.total, bar.unit, bar.n = total, unit, 0

    def one_more() -> None:
        if bar is not None:
            bar.n += 1  # drawn by the ticker thread every half second

    return one_more


def track(items: Iterable[T], total: int | None = None, unit: str = "") -> Iterator[T]:
    """Yield ``items``, counting them on the open stage's bar (a no-op when no bar is open)."""
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    one_more = counter(total, unit)
    for item in items:
        yield item
        one_more()


def _forget_bar() -> None:
    """In a forked child the parent's bar and ticker are not ours: no bar, a fresh lock (the parent's may have
    been held by its ticker thread at the fork)."""
    global _active, _lock
    _active = None
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_bar)


def write(text: str, file: IO[str] | None = None) -> None:
    """Print a line (a warning) without breaking the bar shown: the bar is cleared, the line printed, redrawn."""
    f = file if file is not None else sys.stderr
    with _lock:
        bar = _active.bar if _active is not None else None
        if bar is None:
            print(text, file=f, flush=True)
        else:
            from tqdm import tqdm as tq

            tq.write(text, file=f)
