"""A point far from every street: the error says how to fix it, in Python and for a run."""

from pathlib import Path

import geopandas as gpd
import pytest

from childspace import NetworkError
from childspace.network.engine import WalkNetwork

SAMPLE_OSM = Path(__file__).resolve().parents[1] / "childspace" / "data" / "osm" / "sample.osm"


def test_snap_too_far_says_how_to_set_the_distance():
    net = WalkNetwork.from_osm(SAMPLE_OSM)
    far = gpd.GeoSeries.from_xy([24.94], [60.17], crs=4326)  # Helsinki, far from the sample area
    with pytest.raises(
        NetworkError,
        match=r"none of the 1 points is within 150 m.*fix: .*coords = \"gcj02\".*"
        r"pass max_distance= to WalkNetwork\.snap .*in a run configuration "
        r"\[network\] max_snap_m",
    ):
        net.snap(far)
    assert net.snap(far, max_distance=1e8).ok.all()  # the Python fix works
