"""Shared fixtures. Data marked SYNTHETIC are made up for tests only; everything else is the bundled real data."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from facility_planner.coords import BEIJING_UTM


@pytest.fixture(scope="session")
def beijing_areas():
    from facility_planner.areas import load_beijing

    return load_beijing()


@pytest.fixture(scope="session")
def haidian_500():
    from facility_planner.demand import beijing_demand

    return beijing_demand(district="Haidian", cell_size_m=500)


@pytest.fixture(scope="session")
def city_500():
    from facility_planner.demand import beijing_demand

    return beijing_demand(cell_size_m=500)


@pytest.fixture
def synthetic_zones():
    """SYNTHETIC: two 2 km × 1 km township squares in one district, in UTM 50N."""
    return gpd.GeoDataFrame(
        {
            "township_code": ["T1", "T2"],
            "district_code": ["D1", "D1"],
            "pop": [1001, 2],
            "pop_60": [200, 1],
        },
        geometry=[shapely.box(0, 0, 2000, 1000), shapely.box(2000, 0, 4000, 1000)],
        crs=BEIJING_UTM,
    )
