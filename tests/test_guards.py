"""Size guards: an absurd cell size is refused before any cell is made, with the estimate and a size that fits."""

import math

import pytest

from facility_planner import ValidationError
from facility_planner._guards import (
    MAX_CELLS,
    check_cell_count,
    check_grid_bounds,
    estimate_cells,
    smallest_cell_size_m,
)

BEIJING_KM2 = 16_410.0  # the municipality's area (Beijing Statistical Yearbook)


def test_fifty_metre_cells_citywide_are_refused_with_the_count_and_the_fix():
    with pytest.raises(ValidationError) as e:
        check_cell_count(BEIJING_KM2, 50, what="Beijing")
    msg = str(e.value)
    assert "6,564,000 cells" in msg  # 16,410 km² / 0.0025 km²
    fit = smallest_cell_size_m(BEIJING_KM2)
    assert f"cell_size_m: {fit:g}" in msg and "--district" in msg
    assert check_cell_count(BEIJING_KM2, fit) <= MAX_CELLS  # the size the message proposes is accepted
    assert estimate_cells(BEIJING_KM2, fit - 50) > MAX_CELLS  # and is the smallest multiple of 50 m that is


def test_usual_sizes_pass_and_return_the_estimate():
    assert check_cell_count(BEIJING_KM2, 250) == math.ceil(BEIJING_KM2 / 0.0625)
    assert check_cell_count(41.0, 50) == 16_400  # one small district at 50 m is fine


def test_hexagons_have_a_smaller_area_than_squares_of_the_same_spacing():
    assert estimate_cells(100.0, 500, "hex") > estimate_cells(100.0, 500, "square")


@pytest.mark.parametrize(("area", "size"), [(-1, 500), (float("nan"), 500), (10, 0), (10, float("inf")), (10, "500")])
def test_nonsense_numbers_are_a_validation_error(area, size):
    with pytest.raises(ValidationError):
        check_cell_count(area, size)


def test_bounding_box_check():
    with pytest.raises(ValidationError, match="bounding box"):
        check_grid_bounds((0, 0, 200_000, 200_000), 100)
    assert check_grid_bounds((0, 0, 10_000, 10_000), 500) == 400
