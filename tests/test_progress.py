"""Stage bars: shown under long stages for people watching, absent for scripts, never in the way of results."""

from __future__ import annotations

import io
import time

from childspace import _progress
from childspace._progress import StageBars, track


def test_a_long_stage_shows_its_bar_with_items_done_and_clears_it():
    err = io.StringIO()
    printed: list[str] = []
    with StageBars(printer=printed.append, delay=0.0, file=err, show=True) as p:
        p("服务覆盖 Coverage")
        got = list(track(["a", "b", "c"], unit="categories"))
        time.sleep(1.2)  # the ticker draws every 0.5 s
        p("写出 Writing")
    assert got == ["a", "b", "c"]  # the items pass through unchanged
    assert printed == ["服务覆盖 Coverage", "写出 Writing"]
    frames = err.getvalue().split("\r")
    assert any("服务覆盖 Coverage" in f and "3/3 categories" in f for f in frames), frames
    assert _progress._active is None  # closed on exit: nothing left drawing


def test_without_a_bar_track_is_the_identity_and_nothing_is_drawn():
    err = io.StringIO()
    printed: list[str] = []
    with StageBars(printer=printed.append, delay=0.0, file=err, show=False) as p:
        p("stage")
        assert list(track(range(4))) == [0, 1, 2, 3]
        time.sleep(0.6)
    assert printed == ["stage"] and err.getvalue() == ""
    assert list(track(iter([1, 2]))) == [1, 2]  # no StageBars at all: a generator of unknown length


def test_bars_follow_the_environment(monkeypatch):
    monkeypatch.setenv("CHILDSPACE_PROGRESS", "0")
    assert not _progress.bars_wanted(io.StringIO())
    monkeypatch.setenv("CHILDSPACE_PROGRESS", "1")
    assert _progress.bars_wanted(io.StringIO())
    monkeypatch.delenv("CHILDSPACE_PROGRESS")
    assert not _progress.bars_wanted(io.StringIO())  # not a terminal (a log file, CI)


def test_warnings_print_above_the_bar():
    err = io.StringIO()
    with StageBars(printer=lambda m: None, delay=0.0, file=err, show=True) as p:
        p("stage")
        time.sleep(0.7)
        _progress.write("  ! a warning", file=err)
    assert "  ! a warning\n" in err.getvalue()
