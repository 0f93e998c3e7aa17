"""OpenStreetMap: walk-network tables from a local extract (``reader``), the opt-in Overpass downloader
(``overpass``), and facilities from OSM tags (``features``)."""

from childspace.osm.reader import AreaLike, area_polygon, read_osm

__all__ = ["AreaLike", "area_polygon", "read_osm"]
