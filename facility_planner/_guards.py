"""Size guards: refuse, with the numbers and the fix, a request that would run for hours or exhaust memory.

Measured on the 2-core development machine (shared, so rough): the Beijing demand layer has 79,979 populated cells
at 500 m (7 s) and 292,236 at 250 m (23 s); time grows with the cell count, so 100 m citywide (≈ 1.6 M cells) takes
minutes before any model is built and 50 m (≈ 6.6 M cells) did not finish. :data:`MAX_CELLS` sits between.
"""

from __future__ import annotations

import math

from ._errors import ValidationError

#: cells a demand layer may have (estimated from the area before any cell is made)
MAX_CELLS = 1_000_000


def cell_area_km2(cell_size_m: float, shape: str = "square") -> float:
    """Area of one cell: a square of side ``cell_size_m``, or a pointy-top hexagon with that centre spacing."""
    side_km = cell_size_m / 1000.0
    return side_km * side_km * (math.sqrt(3) / 2 if shape == "hex" else 1.0)


def estimate_cells(area_km2: float, cell_size_m: float, shape: str = "square") -> int:
    """About how many cells cover ``area_km2`` (the land the cells are cut from, not its bounding box)."""
    return math.ceil(area_km2 / cell_area_km2(cell_size_m, shape))


def smallest_cell_size_m(area_km2: float, shape: str = "square", *, max_cells: int = MAX_CELLS) -> float:
    """The smallest cell size, rounded up to 50 m, that keeps ``area_km2`` within ``max_cells`` cells."""
    per_cell = area_km2 / max_cells
    side_m = math.sqrt(per_cell / (math.sqrt(3) / 2 if shape == "hex" else 1.0)) * 1000.0
    return float(max(50, math.ceil(side_m / 50.0) * 50))


def check_cell_count(
    area_km2: float,
    cell_size_m: float,
    *,
    shape: str = "square",
    max_cells: int = MAX_CELLS,
    what: str = "the study area",
) -> int:
    """Refuse a cell size that would cut ``area_km2`` into more than ``max_cells`` cells; return the estimate.

    Call it before cutting cells (``build_demand_layer``, ``beijing_demand``, ``demand_from_files``) and in
    ``validate`` with the area of the scenario's districts.

    Raises
    ------
    ValidationError
        With the estimated number of cells and the fix (a cell size that fits, or one district).

    Examples
    --------
    >>> check_cell_count(41.0, 500)  # Beijing's Dongcheng district at 500 m
    164
    """
    problems = []
    if not (isinstance(area_km2, int | float) and math.isfinite(area_km2) and area_km2 >= 0):
        problems.append(f"the area must be a number of km² ≥ 0; got {area_km2!r}.")
    if not (isinstance(cell_size_m, int | float) and math.isfinite(cell_size_m) and cell_size_m > 0):
        problems.append(f"`cell_size_m` must be a number of metres > 0; got {cell_size_m!r}.")
    if problems:
        raise ValidationError("cell size", problems)
    n = estimate_cells(area_km2, cell_size_m, shape)
    if n > max_cells:
        fit = smallest_cell_size_m(area_km2, shape, max_cells=max_cells)
        raise ValidationError(
            "cell size",
            [
                f"`cell_size_m` = {cell_size_m:g} m over {what} ({area_km2:,.0f} km²) makes about {n:,} cells, more "
                f"than the {max_cells:,} a run can handle (it would take hours or run out of memory); use "
                f"`cell_size_m: {fit:g}` or more (≈ {estimate_cells(area_km2, fit, shape):,} cells), or plan one "
                "district at a time (`district:` in the scenario, `--district` on the command line)."
            ],
        )
    return n


def check_grid_bounds(
    bounds: tuple[float, float, float, float],
    cell_size_m: float,
    *,
    shape: str = "square",
    max_cells: int = MAX_CELLS,
    what: str = "the study area",
) -> int:
    """As :func:`check_cell_count` for the bounding box (metres, projected CRS) the grid is laid over."""
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    area_km2 = max(xmax - xmin, 0.0) * max(ymax - ymin, 0.0) / 1e6
    return check_cell_count(area_km2, cell_size_m, shape=shape, max_cells=max_cells, what=f"{what} (bounding box)")
