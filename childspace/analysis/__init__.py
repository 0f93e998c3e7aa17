"""Analyses on the canonical layers and the walk network: ``coverage`` (service radii, service areas, gaps),
``pilots`` (pilot-unit checklists), ``safety`` (pedestrian stress of streets and crossings, school zones),
``routes`` (routes to school, hazards, walksheds), ``checks`` (cross-layer data checks).
Functions take and return GeoDataFrames/arrays; they never print or write files."""
