"""Atomic output: every file is written under a temporary name in its folder, then renamed into place.

A run that fails half-way never leaves a truncated map, workbook or GeoPackage behind, and never destroys the
previous good file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from childspace._errors import ChildspaceError


@contextmanager
def atomic_path(path: str | Path, make_dirs: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, not yet existing); rename it onto ``path`` on success.

    Parameters
    ----------
    path : str or Path
        The file to write.
    make_dirs : bool
        Create the folder when missing; otherwise a missing folder is a :class:`ChildspaceError`.

    Raises
    ------
    ChildspaceError
        The output folder does not exist (and ``make_dirs`` is False).
    """
    path = Path(path)
    if make_dirs:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise ChildspaceError(
            "the output folder does not exist",
            path=path.parent,
            fix="create the folder first or choose another output path",
        )
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # writers such as GDAL's GeoPackage driver want to create the file themselves
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
