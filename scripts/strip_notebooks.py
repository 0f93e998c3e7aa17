"""Strip outputs from notebooks so that committed notebooks stay small and their diffs readable.

Usage::

    python scripts/strip_notebooks.py                 # strip notebooks/*.ipynb in place
    python scripts/strip_notebooks.py path/to/a.ipynb # strip given notebooks
    python scripts/strip_notebooks.py --check         # exit 1 (and list them) when a notebook has outputs

Stripping clears every code cell's outputs and execution count and drops the per-cell execution timing that
nbclient/Jupyter record; cell sources and notebook metadata (kernel name) are kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CELL_METADATA_DROPPED = ("execution", "collapsed", "scrolled", "ExecuteTime")


def is_stripped(nb: nbformat.NotebookNode) -> bool:
    """True when no code cell has outputs, an execution count or execution timing."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            return False
        if any(k in cell.get("metadata", {}) for k in CELL_METADATA_DROPPED):
            return False
    return True


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Clear outputs, execution counts and execution timing of every code cell (in place; returns ``nb``)."""
    for cell in nb.cells:
        meta = cell.get("metadata", {})
        for key in CELL_METADATA_DROPPED:
            meta.pop(key, None)
        if cell.cell_type == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="only report notebooks that carry outputs")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "notebooks").glob("*.ipynb"))
    dirty = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if is_stripped(nb):
            continue
        dirty.append(path)
        if not args.check:
            nbformat.write(strip(nb), path)
            print(f"stripped {path}")
    if args.check and dirty:
        for path in dirty:
            print(f"has outputs: {path} (run: python scripts/strip_notebooks.py {path})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
