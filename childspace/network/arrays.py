"""Array helpers shared by the engine and the analyses."""

from __future__ import annotations

import numpy as np

__all__ = ["ragged_ranges"]


def ragged_ranges(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flattened ``arange(starts[i], starts[i] + counts[i])`` for all i, and the row i of each element."""
    total = int(counts.sum())
    row = np.repeat(np.arange(counts.size), counts)
    if total == 0:
        return np.zeros(0, dtype=np.int64), row
    offs = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + offs, row
