"""childspace: GIS toolkit for child-friendly city planning (儿童友好城市规划).

Modules, one per concern (data flows one way: io -> network -> analyses -> maps/reports):

- ``childspace.io``          read and validate planners' files into the canonical data model (EPSG:4326)
- ``childspace.datum``       GCJ-02 / BD-09 / WGS84 conversions
- ``childspace.projection``  choose a local metric CRS for a dataset
- ``childspace.standards``   categories and service-radius standards (one config file)
- ``childspace.register``    the official administrative register (townships, villages/communities)
- ``childspace.osm``         read OpenStreetMap (.osm/.osm.bz2/.osm.pbf, Overpass) into walk-network tables
- ``childspace.overpass``    opt-in download of an area's OSM data from an Overpass server (cached XML)
- ``childspace.network``     ``WalkNetwork``: CSR arrays, snapping and shortest-path queries
- ``childspace.features``    facilities from OSM, merged with the user's
- ``childspace.coverage``    service-radius coverage, service areas and gaps
- ``childspace.pilots``      pilot-unit checklists and status
- ``childspace.safety``      pedestrian level of traffic stress for edges and crossings
- ``childspace.routes``      safe routes to school, hazards, safe walksheds
- ``childspace.maps``        interactive folium maps (self-contained HTML)
- ``childspace.plot``        static PNG maps for reports
- ``childspace.report``      Excel workbook, CSV and HTML report
"""

__version__ = "0.1.0"

from childspace._errors import ChildspaceError, ChildspaceWarning, DataError, NetworkError  # noqa: F401
