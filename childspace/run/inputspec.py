"""One input file of a run and the options for its loader (part of :mod:`childspace.run.config`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

#: Options every input file accepts; each is passed on to its loader (``childspace.inputs.loaders``).
LOADER_OPTIONS = ("path", "layer", "sheet", "crs", "coords", "encoding", "columns")


class LoaderOptions(TypedDict):
    """The keyword arguments :meth:`InputSpec.loader_options` gives every loader."""

    layer: str | int | None
    sheet: str | int | None
    crs: str | int | None
    coords: str
    encoding: str | None
    columns: dict[str, str] | None
    max_rows: int | None


@dataclass
class InputSpec:
    """One input file of a run and the options for its loader.

    Attributes
    ----------
    path : Path
        Absolute path (a relative path in the config is relative to the config file).
    layer, sheet : str or int, optional
        Layer of a multi-layer GIS file; sheet of an Excel workbook (name or 0-based number).
    crs : str or int, optional
        CRS of a file that has none, e.g. ``"EPSG:4549"``.
    coords : str
        Datum of lon/lat coordinates: ``"wgs84"``, ``"gcj02"`` (Amap/Tencent), ``"bd09"`` (Baidu).
    encoding : str, optional
        Text encoding (CSV, .dbf without .cpg); default detected.
    columns : dict, optional
        Canonical name -> column of the file, for columns the built-in names do not catch.
    category : str, optional
        ``[[facilities]]`` only: the category of every row of the file.
    section : str
        Where it was given, for messages (``"[[facilities]] 2"``).
    """

    path: Path
    layer: str | int | None = None
    sheet: str | int | None = None
    crs: str | int | None = None
    coords: str = "wgs84"
    encoding: str | None = None
    columns: dict[str, str] | None = None
    category: str | None = None
    max_rows: int | None = None
    strict: bool = False
    section: str = ""

    def loader_options(self) -> LoaderOptions:
        """Keyword arguments every loader takes (``strict``, for facilities and origins, and ``category`` apart)."""
        return {
            "layer": self.layer,
            "sheet": self.sheet,
            "crs": self.crs,
            "coords": self.coords,
            "encoding": self.encoding,
            "columns": self.columns,
            "max_rows": self.max_rows,
        }

    def describe(self) -> str:
        """One line: the path and the options that are set."""
        opts = [
            f"{k}={v!r}"
            for k, v in (
                ("layer", self.layer),
                ("sheet", self.sheet),
                ("crs", self.crs),
                ("coords", self.coords),
                ("encoding", self.encoding),
                ("columns", self.columns),
                ("category", self.category),
                ("max_rows", self.max_rows),
                ("strict", self.strict or None),
            )
            if v is not None
        ]
        return f"{self.path}" + (f" ({', '.join(opts)})" if opts else "")
