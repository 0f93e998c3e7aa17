"""Interactive maps (交互地图): self-contained folium/Leaflet HTML that opens with no internet.

Each map answers one question when it opens and keeps everything else one click away in the layer list:

- :func:`overview_map`: coverage by community against the target, one category at a time;
- :func:`coverage_map`: one category — which communities fall short of the target, where the facilities are
  (service areas, children not covered and gap areas off at first);
- :func:`pilot_map`: the pilot units by status (达标/部分达标/缺口, with a symbol as well as a colour);
- :func:`routes_map`: where children walk to school and the hazards on the way (street and crossing stress,
  school zones, walksheds off at first).

Offline first: the base map is drawn from the run's own data (:class:`Basemap`); tiles (OpenStreetMap, 天地图,
高德 with the overlays shifted to GCJ-02) only when asked for (``basemaps=``). Leaflet 1.9.4 (BSD-2-Clause,
``childspace/outputs/static/LEAFLET_LICENSE``) is inlined into every page; nothing is loaded from a CDN. Labels,
popups, legends and layer names are bilingual, Chinese first; colours and classes come from
:mod:`childspace.outputs.style`.
"""

from childspace.outputs.maps._page import render_html, save_map
from childspace.outputs.maps.basemap import TILE_SOURCES, Basemap
from childspace.outputs.maps.coverage import coverage_map
from childspace.outputs.maps.overview import overview_map
from childspace.outputs.maps.pilots import pilot_map
from childspace.outputs.maps.routes import routes_map
from childspace.outputs.style import CATEGORY_COLOURS, SYNTHETIC_NOTE, ZONE_STATUS_LABELS

__all__ = [
    "CATEGORY_COLOURS",
    "SYNTHETIC_NOTE",
    "TILE_SOURCES",
    "ZONE_STATUS_LABELS",
    "Basemap",
    "coverage_map",
    "overview_map",
    "pilot_map",
    "render_html",
    "routes_map",
    "save_map",
]
