"""Areas mapped in OSM (parks, playgrounds, school grounds) keep their outline, and coverage reaches them there."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import shapely
from conftest import realdata

from childspace._errors import ChildspaceWarning
from childspace.analysis import coverage as cov
from childspace.inputs.loaders import footprints
from childspace.network import WalkNetwork
from childspace.osm import areas
from childspace.osm.features import facilities_from_osm


@pytest.fixture(scope="module")
def monaco():
    MONACO = realdata(
        "monaco.osm.gz"
    )  # ../shared/realdata (CHILDSPACE_REALDATA); a failure in CI when absent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        fac = facilities_from_osm(MONACO)
        net = WalkNetwork.from_osm(MONACO)
        homes = areas.residential_homes(areas.read_areas(MONACO))
    homes = homes.assign(children=1)[["origin_id", "children", "geometry"]]
    return fac, net, homes


def test_osm_areas_carry_their_outline(monaco):
    fac, _, _ = monaco
    poly = fac["area_ha"].notna().to_numpy()
    assert poly.sum() >= 14 and (~poly).any()  # Monaco: 14 parks mapped as areas, points as well
    fp = footprints(fac)
    assert fp[poly].notna().all() and fp[~poly].isna().all()
    assert set(shapely.get_type_id(fp[poly].values)) <= {3, 6}
    # the outline is the area's: the representative point lies in it and its area is area_ha
    assert shapely.contains(fp[poly].values, fac.geometry[poly].values).all()
    ha = fp[poly].to_crs(fp[poly].estimate_utm_crs()).area.to_numpy() / 1e4
    np.testing.assert_allclose(ha, fac.loc[poly, "area_ha"].to_numpy(), rtol=0.01)
    assert (fac.loc[fac["category"] == "park", "area_ha"].notna()).all()


def test_parks_are_reached_at_their_edge(monaco):
    fac, net, homes = monaco
    parks = fac[fac["category"] == "park"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ChildspaceWarning)
        edge = cov.origin_access(homes, parks, net, categories=["park"])
        middle = cov.origin_access(homes, parks.drop(columns="footprint"), net, categories=["park"])
    assert edge.attrs["access_points"]["boundary"] >= 14 and middle.attrs["access_points"]["boundary"] == 0
    a, b = edge["dist_walk_park"].to_numpy(), middle["dist_walk_park"].to_numpy()
    f = np.isfinite(a) & np.isfinite(b)
    assert f.sum() > 900
    assert (a[f] <= b[f] + 1e-6).all()  # the edge is never farther than the middle
    assert np.median(b[f] - a[f]) > 50  # measured: 103 m less for the median home
    assert (
        edge["dist_walk_park"] >= edge["dist_line_park"] - 1e-6
    ).all()  # still never below the straight line
    r = 300.0
    assert (a <= r).sum() > (b <= r).sum()  # measured: 333 homes within 300 m instead of 219
