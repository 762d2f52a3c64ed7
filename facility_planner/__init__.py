"""facility_planner: plan where public service facilities go.

Demand layers from census population → travel (straight line or street network) → exact location models
(HiGHS) → plans against targets → offline maps and reports.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from ._errors import (
    FacilityPlannerError,
    InfeasibleModelError,
    OutputExistsError,
    OutputPathError,
    ScenarioError,
    SolverError,
    ValidationError,
)

# The analysis modules load on first use (PEP 562), so `facility-planner` starts in a fraction of a second and a
# Ctrl-C while geopandas & co. load is handled by the command (one line, exit 130) instead of a traceback.
_LAZY = {
    "beijing_demand": ".demand",
    "build_demand_layer": ".demand",
    "compare_summaries": ".maps",
    "comparison_map": ".maps",
    "plan_map": ".maps",
    "show": ".maps",
    "run_scenario": ".pipeline",
    "validate_scenario": ".pipeline",
    "Scenario": ".scenario",
    "load_scenario": ".scenario",
    "scenario_from_dict": ".scenario",
}

if TYPE_CHECKING:  # pragma: no cover
    from .demand import beijing_demand, build_demand_layer
    from .maps import compare_summaries, comparison_map, plan_map, show
    from .pipeline import run_scenario, validate_scenario
    from .scenario import Scenario, load_scenario, scenario_from_dict


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


try:
    __version__ = version("facility-planner")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "FacilityPlannerError",
    "InfeasibleModelError",
    "OutputExistsError",
    "OutputPathError",
    "Scenario",
    "ScenarioError",
    "SolverError",
    "ValidationError",
    "__version__",
    "beijing_demand",
    "build_demand_layer",
    "compare_summaries",
    "comparison_map",
    "load_scenario",
    "plan_map",
    "run_scenario",
    "scenario_from_dict",
    "show",
    "validate_scenario",
]
