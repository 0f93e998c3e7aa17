"""Streaming OPL selection of highway ways and tagged nodes, decoded with numpy (internal).

libosmium selects the objects and attaches node coordinates to the ways (C++ only, no Python per object) and
writes them as OPL text ("object per line", https://osmcode.org/opl-file-format/) to a pipe: the selection runs
in a child Python process that imports only pyosmium, because ``osmium.apply`` holds the interpreter lock and a
reader thread of the same process could not drain the pipe. No file is written. The parent decodes the stream
in blocks with numpy on the raw bytes: line and field boundaries from the positions of newlines and spaces, the
node lists and the key/value pairs of all objects of a block each in one ``pandas.read_csv`` call (C parser), so
no Python code runs per way, per node reference or per tag (only per distinct escaped tag value, to unescape
it).

Layout written by libosmium with ``add_metadata=false,locations_on_ways=true``:
``w<id> T<k>=<v>,... N n<ref>x<lon>y<lat>,...`` for ways (``x``/``y`` empty when the node location is unknown)
and ``n<id> T<tags> x<lon> y<lat>`` for nodes. Space, newline, comma, equals sign, percent sign and characters
outside a few Unicode ranges (among them all CJK) are escaped in keys and values as ``%<hex>%``, so a raw space
or comma always separates fields or pairs.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

# the child process: libosmium selects and writes OPL to stdout (imports nothing but pyosmium)
_CHILD = r"""
import json, sys
import osmium, osmium.filter, osmium.index, osmium.io
path, way_keys, node_keys = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
locations = osmium.NodeLocationsForWays(osmium.index.create_map("flex_mem"))
locations.ignore_errors()  # unknown locations are written empty and handled by the reader
writer = osmium.SimpleWriter(osmium.io.File("-", "opl,add_metadata=false,locations_on_ways=true"))
way_filter = osmium.filter.KeyFilter(*way_keys)
way_filter.enable_for(osmium.osm.WAY)
node_filter = osmium.filter.KeyFilter(*node_keys)
node_filter.enable_for(osmium.osm.NODE)
try:
    osmium.apply(path, locations, osmium.filter.EntityFilter(osmium.osm.NODE | osmium.osm.WAY),
                 way_filter, node_filter, writer)
finally:
    writer.close()
"""

_NL, _SP, _COMMA, _PCT = 10, 32, 44, 37
_OPL_ESCAPE = re.compile(r"%([0-9a-fA-F]+)%")
# node lists "n1x2.5y3.5,n2x..." -> CSV rows "1,2.5,3.5"
_REFS_LUT = np.arange(256, dtype=np.uint8)
_REFS_LUT[[ord(","), ord("x"), ord("y")]] = [_NL, _COMMA, _COMMA]
# tags "k=v,k2=v2" -> rows "k v" (raw spaces never occur inside an OPL field)
_TAGS_LUT = np.arange(256, dtype=np.uint8)
_TAGS_LUT[[ord(","), ord("=")]] = [_NL, _SP]
# node coordinates "x2.5 y3.5" -> "2.5,3.5"
_XY_LUT = np.arange(256, dtype=np.uint8)
_XY_LUT[_SP] = _COMMA


class OplStreamError(RuntimeError):
    """The selection process failed (message: its last error line)."""


def opl_unescape(s: str) -> str:
    return _OPL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), s) if "%" in s else s


def opl_escape(s: str) -> str:
    """OPL spelling of a plain ``key=value`` pair (escapes the characters OPL escapes in keys and values)."""
    key, _, value = s.partition("=")

    def esc(t: str) -> str:
        return "".join(c if c.isalnum() or c in ":_-.;/" else f"%{ord(c):x}%" for c in t)

    return f"{esc(key)}={esc(value)}"


def stream_opl(
    path: Path, way_key_filter: Sequence[str], node_keys: Sequence[str], chunk_bytes: int
) -> Iterator[memoryview]:
    """Yield the OPL selection of ``path`` in blocks of whole lines (about ``chunk_bytes`` each); each block
    is a view of one reused buffer, valid until the next one is requested."""
    args = [
        sys.executable,
        "-c",
        _CHILD,
        str(path),
        json.dumps(list(way_key_filter)),
        json.dumps(list(node_keys)),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    out = cast(io.BufferedReader, proc.stdout)
    try:
        buf = bytearray(chunk_bytes)
        view = memoryview(buf)
        filled = 0  # bytes of an incomplete last line carried to the front of the buffer
        while True:
            n = out.readinto(view[filled:])
            if not n:
                break
            filled += n
            if filled < len(buf):
                continue
            cut = buf.rfind(b"\n", 0, filled) + 1
            if cut == 0:  # a line longer than the buffer: a buffer twice as large
                grown = bytearray(2 * len(buf))
                grown[:filled] = buf[:filled]
                buf, view = grown, memoryview(grown)
                continue
            yield view[:cut]
            buf[: filled - cut] = buf[cut:filled]
            filled -= cut
        cut = buf.rfind(b"\n", 0, filled) + 1
        if cut:
            yield view[:cut]
        err = proc.stderr.read().decode("utf-8", "replace").strip()
        if proc.wait() != 0:
            raise OplStreamError(err.splitlines()[-1] if err else f"exit status {proc.returncode}")
        if filled > cut:  # pragma: no cover - defensive: the writer ends every line with a newline
            raise OplStreamError("the OPL stream ended inside a line")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _region_mask(size: int, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Boolean mask of the disjoint, ordered ranges ``[start, end)`` over ``size`` bytes."""
    bounds = np.empty(2 * len(start) + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, size
    bounds[1:-1:2] = start
    bounds[2:-1:2] = end
    flags = np.zeros(2 * len(start) + 1, dtype=bool)
    flags[1::2] = True
    return np.repeat(flags, np.diff(bounds))


def _gather(
    a: np.ndarray, start: np.ndarray, end: np.ndarray, lut: np.ndarray | None = None, drop: int | None = None
) -> bytes:
    """The disjoint, ordered byte ranges ``a[start:end]``, each followed by a newline, translated through
    ``lut``, without the bytes ``drop``: one boolean mask over ``a`` built by ``np.repeat``, no index arrays."""
    out = a[_region_mask(len(a), start, end + 1)]  # the byte at ``end`` becomes the newline
    out[np.cumsum(end - start + 1) - 1] = _NL
    if lut is not None:
        out = lut[out]
    if drop is not None:
        out = out[out != drop]
    return out.tobytes()


def _count_in(pos: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """How many of the sorted positions ``pos`` fall in each range ``[start, end)``."""
    return np.searchsorted(pos, end) - np.searchsorted(pos, start)


def _read_ints(a: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    if len(start) == 0:
        return np.zeros(0, dtype=np.int64)
    t = pd.read_csv(io.BytesIO(_gather(a, start, end)), header=None, names=["i"], dtype=np.int64, engine="c")
    return t["i"].to_numpy(np.int64)


def decode_tags(
    a: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    keys: Sequence[str],
    cache: dict[str, str],
    commas: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Values of ``keys`` of each OPL tag field ``a[start:end]`` (without the ``T``), unescaped; ``commas``:
    the positions of the commas in ``a`` when already known."""
    n = len(start)
    cols = {k: np.full(n, None, dtype=object) for k in keys}
    nonempty = end > start
    if not nonempty.any():
        return cols
    s, e = start[nonempty], end[nonempty]
    obj = np.flatnonzero(nonempty)
    if commas is None:
        commas = np.flatnonzero(a == _COMMA)
    pairs = _count_in(commas, s, e) + 1
    text = _gather(a, s, e, _TAGS_LUT)
    t = pd.read_csv(
        io.BytesIO(text),
        sep=" ",
        header=None,
        names=["k", "v"],
        # the keys as categories: the parser hashes them in C and makes one Python string per distinct key (a
        # few hundred) instead of one per pair (the county's 1.5 M pairs: 0.58 -> 0.23 CPU s with the lookup)
        dtype={"k": "category", "v": object},
        quoting=csv.QUOTE_NONE,
        na_filter=False,
        engine="c",
    )
    if len(t) != int(pairs.sum()):  # pragma: no cover - defensive: the OPL writer changed its layout
        raise OplStreamError(f"OPL tags: {len(t)} pairs decoded, {int(pairs.sum())} expected")
    # the wanted keys looked up per distinct key (an object Index: a string Index would convert to Arrow
    # strings first), then read per pair through the category codes
    kcat = t["k"].array
    per_cat = pd.Index(list(keys), dtype=object).get_indexer(np.asarray(kcat.categories, dtype=object))
    code = np.append(per_cat, -1)[np.asarray(kcat.codes)]
    hit = np.flatnonzero(code >= 0)
    if hit.size == 0:
        return cols
    owner = np.repeat(obj, pairs)[hit]
    vals = t["v"].to_numpy(object)[hit]
    # unescape the values holding a '%' (found in the bytes; the text has one pair per line)
    tn = np.frombuffer(text, dtype=np.uint8)
    tp = np.flatnonzero(tn == _PCT)
    if tp.size:
        has = np.zeros(len(t), dtype=bool)
        has[np.searchsorted(np.flatnonzero(tn == _NL), tp)] = True
        esc = np.flatnonzero(has[hit])
        vals[esc] = [cache[v] if v in cache else cache.setdefault(v, opl_unescape(v)) for v in vals[esc]]
    kc = code[hit]
    for j, k in enumerate(keys):
        m = kc == j
        if m.any():
            cols[k][owner[m]] = vals[m]
    return cols
