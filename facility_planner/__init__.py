"""facility_planner: plan where public service facilities go.

Demand layers from census population → travel (straight line or street network) → exact location models
(HiGHS) → plans against targets → offline maps and reports.
"""

from importlib.metadata import PackageNotFoundError, version

from ._errors import (
    FacilityPlannerError,
    InfeasibleModelError,
    OutputExistsError,
    OutputPathError,
    ScenarioError,
    SolverError,
    ValidationError,
)
from .demand import beijing_demand, build_demand_layer
from .maps import compare_summaries, comparison_map, plan_map, show
from .pipeline import run_scenario, validate_scenario
from .scenario import Scenario, load_scenario, scenario_from_dict

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
