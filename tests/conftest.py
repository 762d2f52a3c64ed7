"""Shared fixtures. Data marked SYNTHETIC are made up for tests only; everything else is the bundled real data."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from facility_planner.coords import BEIJING_UTM

ROOT = Path(__file__).resolve().parents[1]


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


@pytest.fixture(scope="session")
def sample_small_plan():
    """The plan of ``scenarios/sample_small.yaml`` (Xicheng, 1 km cells), run once for the whole session.

    Several modules read this one plan; a test must not change it (write it, read it, never modify it).
    """
    from facility_planner.pipeline import run_scenario

    return run_scenario(ROOT / "scenarios" / "sample_small.yaml")


@pytest.fixture(scope="session")
def sample_small_written(sample_small_plan, tmp_path_factory):
    """That plan written once with every output (plan.gpkg, summary, maps, report). Read-only: a test that changes
    the folder takes ``sample_small_dir``."""
    out = tmp_path_factory.mktemp("sample_small") / "xicheng"
    sample_small_plan.write(out)
    return out


@pytest.fixture(scope="module")
def sample_small_dir(sample_small_written, tmp_path_factory):
    """The test module's own copy of the written sample plan: its tests may change it, no other module sees it."""
    return shutil.copytree(sample_small_written, tmp_path_factory.mktemp("plan") / "xicheng")


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
