"""facility_planner: plan where public service facilities go.

Demand layers from census population → travel (straight line or street network) → exact location models
(HiGHS) → plans against targets → offline maps and reports.
"""

from importlib.metadata import PackageNotFoundError, version

from ._errors import (
    FacilityPlannerError,
    InfeasibleModelError,
    OutputExistsError,
    ScenarioError,
    SolverError,
    ValidationError,
)

try:
    __version__ = version("facility-planner")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "FacilityPlannerError",
    "InfeasibleModelError",
    "OutputExistsError",
    "ScenarioError",
    "SolverError",
    "ValidationError",
    "__version__",
]
