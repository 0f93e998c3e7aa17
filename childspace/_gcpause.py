"""Python's cyclic garbage collector paused around blocks that build many geometries."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for the block (restored after it, also on an error).

    Shapely geometries are objects the collector tracks: building a county's 300,000 edge lines, its 300,000
    homes or the base map's thousands of areas triggers a young-generation collection every 700 of them and
    repeated older ones that walk every tracked object of the process; that was 14 % of the CPU time of
    ``read_osm`` and of ``read_landcover`` on the county benchmark (py-spy), and most of what
    ``WalkNetwork.from_frames`` spent in ``set_coordinates``. The blocks paused make no reference cycles, so
    nothing is left for the collector to find later than it would have.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
