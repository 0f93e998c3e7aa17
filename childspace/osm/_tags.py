"""OSM tag keys and name patterns shared by the facility reader and the Overpass downloader."""

from __future__ import annotations

import re

__all__ = ["CANDIDATE_KEYS", "MB_NAME"]

#: Tag keys that make an object a candidate facility (filtered in C++ before Python sees it).
CANDIDATE_KEYS = ("amenity", "leisure", "healthcare", "baby_feeding", "changing_table", "name", "school")
#: Names of mother-and-baby rooms (母婴室, 哺乳室).
MB_NAME = re.compile(r"母婴|哺乳")
