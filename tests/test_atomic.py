"""Outputs are written to a temporary file and renamed: a failure never leaves a broken or half file."""

from __future__ import annotations

import pytest

from childspace._atomic import atomic_path
from childspace._errors import ChildspaceError


def test_success_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "map.html"
    target.write_text("old", encoding="utf-8")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".html" and not tmp.exists()
        tmp.write_text("new", encoding="utf-8")
        assert target.read_text(encoding="utf-8") == "old"  # untouched until the writer is done
    assert target.read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.html"]


def test_failure_keeps_the_previous_file_and_cleans_up(tmp_path):
    target = tmp_path / "table.xlsx"
    target.write_bytes(b"previous good file")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer crashed")
    assert target.read_bytes() == b"previous good file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.xlsx"]


def test_missing_folder_is_a_clear_error_unless_asked_to_create_it(tmp_path):
    with pytest.raises(ChildspaceError, match="output folder does not exist"):
        with atomic_path(tmp_path / "nope" / "x.png"):
            pass
    with atomic_path(tmp_path / "new" / "x.png", make_dirs=True) as tmp:
        tmp.write_bytes(b"png")
    assert (tmp_path / "new" / "x.png").read_bytes() == b"png"
