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
freed (one mapping of the whole file would keep every page it touched until the last array went). Buffers
under 64 KiB stay in the pickle stream. On a file system that is not local (NFS, SMB, FUSE: :data:`LOCAL_FS`)
the buffers are read into memory instead. The file may be deleted as soon as it is loaded.
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
#: smaller buffers stay in the pickle stream (a page of padding and a mapping each would cost more than a copy)
MIN_OUT_OF_BAND = 1 << 16
_HEAD = struct.Struct("<16sQQQ")  # magic, pickle length, number of buffers, offset of the buffer table
_ENTRY = struct.Struct("<QQ")  # offset, length of one buffer


def dump(value: Any, path: str | os.PathLike[str]) -> None:
    """Write ``value`` to ``path``: the pickle stream, then each out-of-band buffer aligned, then their table."""
    bufs: list[pickle.PickleBuffer] = []

    def out_of_band(b: pickle.PickleBuffer) -> bool:  # False: out of band, True: in the stream
        with b.raw() as v:
            if v.nbytes < MIN_OUT_OF_BAND:
                return True
        bufs.append(b)
        return False

    data = pickle.dumps(value, protocol=5, buffer_callback=out_of_band)
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


#: file systems whose files are mapped (elsewhere, e.g. NFS or SMB, where a file deleted while mapped lingers as
#: a hidden file in its folder, or FUSE, where mapping may fail, the buffers are read into memory)
LOCAL_FS = frozenset(
    {"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "ramfs", "overlay", "zfs", "f2fs", "jfs"}
)


def _fs_type(path: str | os.PathLike[str]) -> str | None:
    """The type of the file system holding ``path`` (Linux ``/proc/self/mounts``; None where unknown)."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
            mounts = [line.split()[1:3] for line in f if len(line.split()) > 2]
    except OSError:
        return None
    real = os.path.realpath(path)
    best, kind = "", None
    for point, fs in mounts:
        point = point.replace("\\040", " ")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fs
    return kind


def load(path: str | os.PathLike[str], mapped: bool | None = None) -> Any:
    """The value :func:`dump` wrote to ``path``; its out-of-band buffers are copy-on-write mappings of the file,
    one per buffer (each lives as long as an array made from it; the file's name can be deleted at once).

    ``mapped``: None (default) maps the buffers where the file is on a local file system (:data:`LOCAL_FS`) and
    reads them into memory elsewhere; False always reads them; True always maps them."""
    if mapped is None:
        mapped = _fs_type(path) in LOCAL_FS
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
        buffers: list[Any] = []
        for i in range(nbuf):
            off, length = _ENTRY.unpack_from(table, i * _ENTRY.size)
            buf: Any = None
            if mapped and length:
                try:
                    buf = mmap.mmap(f.fileno(), length, access=mmap.ACCESS_COPY, offset=off)
                except (OSError, ValueError):  # a file system that cannot map: read, from here on
                    mapped = False
            if buf is None:
                buf = bytearray(length)
                f.seek(off)
                if f.readinto(buf) != length:
                    raise ValueError(f"{Path(path)}: not a complete hand-off file")
            buffers.append(buf)
    return pickle.loads(data, buffers=buffers)
