"""childspace: GIS toolkit for child-friendly city planning (儿童友好城市规划).

Subpackages, one per layer; data flows one way and a lower layer never imports a higher one
(``tests/test_architecture.py`` checks it):

- ``childspace.inputs``    read and validate planners' files into the canonical data model (EPSG:4326): loaders,
  GCJ-02/BD-09 datums, local metric projections, categories and standards, the administrative register
- ``childspace.osm``       OpenStreetMap: the file reader (.osm/.osm.gz/.osm.bz2/.osm.pbf), the opt-in Overpass
  downloader, facilities from OSM tags
- ``childspace.network``   ``WalkNetwork``: CSR arrays, snapping and shortest-path queries
- ``childspace.analysis``  coverage and service areas, pilot units, route safety, routes to school, data checks
- ``childspace.outputs``   interactive maps, static figures, workbook, CSV and HTML report
- ``childspace.run``       the run config, the whole chain (pipeline) and the ``childspace`` command

Below them: ``_errors`` (exceptions and warnings), ``_atomic`` (atomic file writes), ``_parallel`` (one thread pool).
"""

__version__ = "0.1.0"

from childspace._errors import ChildspaceError, ChildspaceWarning, DataError, NetworkError
from childspace._progress import StageBars

__all__ = ["ChildspaceError", "ChildspaceWarning", "DataError", "NetworkError", "StageBars", "__version__"]
