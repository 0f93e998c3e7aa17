"""A value handed from a forked process to its parent through a file, its large arrays read back without a copy.

:meth:`childspace.run.writing.OutputRun.beside` computes analyses on another process (the routes to school of a
county: a pickle of ~650 MB, mostly the 1.2 million route rows' columns). A plain pickle is copied twice on
the way back: from the file into the reading process's memory, then into each array it rebuilds; that was
1.2 s of CPU and 170,000 page faults in the waiting process, on the run's critical path.

Here the value is pickled with protocol 5 and its large contiguous buffers (numpy arrays, Arrow buffers) are
written out of band, after the pickle stream, each at an offset that is a multiple of the page size (PEP 574).
The reader maps each buffer on its own, copy-on-write (``MAP_PRIVATE``), and gives pickle those mappings: the
arrays are views of the file's pages in the page cache, writable (a page written is copied for this process
only, the file is not changed), nothing is read until it is used, and an array's pages are unmapped when it is
freed (one mapping of the whole file would keep every page it touched until the last array went). The file
may be deleted as soon as it is loaded.
"""

from __future__ import annotations

import mmap
import os
import pickle
import struct
from pathlib import Path
from typing import Any

__all__ = ["dump", "load"]

_MAGIC = b"CSHANDOFF1\0\0\0\0\0\0"  # 16 bytes
_ALIGN = mmap.ALLOCATIONGRANULARITY  # every buffer starts at a multiple of this (a mapping's offset must)
_HEAD = struct.Struct("<16sQQQ")  # magic, pickle length, number of buffers, offset of the buffer table
_ENTRY = struct.Struct("<QQ")  # offset, length of one buffer


def dump(value: Any, path: str | os.PathLike[str]) -> None:
    """Write ``value`` to ``path``: the pickle stream, then each out-of-band buffer aligned, then their table."""
    bufs: list[pickle.PickleBuffer] = []
    data = pickle.dumps(value, protocol=5, buffer_callback=bufs.append)
    views = [b.raw() for b in bufs]  # raw(): a contiguous byte view (numpy gives only contiguous buffers)
    table: list[tuple[int, int]] = []
    with open(path, "wb") as f:
        f.write(_HEAD.pack(_MAGIC, len(data), len(views), 0))
        f.write(data)
        pos = _HEAD.size + len(data)
        for v in views:
            pad = -pos % _ALIGN
            if pad:
                f.write(b"\0" * pad)
                pos += pad
            table.append((pos, v.nbytes))
            f.write(v)
            pos += v.nbytes
        table_at = pos
        for entry in table:
            f.write(_ENTRY.pack(*entry))
        f.seek(0)
        f.write(_HEAD.pack(_MAGIC, len(data), len(views), table_at))
    for v in views:
        v.release()


def load(path: str | os.PathLike[str]) -> Any:
    """The value :func:`dump` wrote to ``path``; its out-of-band buffers are copy-on-write mappings of the file,
    one per buffer (each lives as long as an array made from it; the file's name can be deleted at once)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(_HEAD.size)
        if len(head) < _HEAD.size:
            raise ValueError(f"{Path(path)}: not a hand-off file (only {size} bytes)")
        magic, n, nbuf, table_at = _HEAD.unpack(head)
        if magic != _MAGIC or table_at + nbuf * _ENTRY.size != size:
            raise ValueError(f"{Path(path)}: not a complete hand-off file")
        data = f.read(n)
        f.seek(table_at)
        table = f.read(nbuf * _ENTRY.size)
        buffers = []
        for i in range(nbuf):
            off, length = _ENTRY.unpack_from(table, i * _ENTRY.size)
            buffers.append(
                mmap.mmap(f.fileno(), length, access=mmap.ACCESS_COPY, offset=off) if length else bytearray()
            )
    return pickle.loads(data, buffers=buffers)
