"""Process-wide defaults. Change them as module attributes, e.g. ``facility_planner.settings.solver = "cbc"``.

Attributes
----------
data_dir : str | None
    Folder of the bundled Beijing data; ``None`` finds ``data/beijing`` beside the package.
solver : str
    Default MILP solver: ``"highs"`` (through highspy), or any PuLP solver name (``"cbc"``, ``"glpk"``, ``"gurobi"``,
    ``"cplex"``).
time_limit_s : float
    Default solver time limit in seconds.
mip_rel_gap : float
    Default relative optimality gap at which the solver stops.
working_crs : str
    Metric CRS for analysis. UTM 50N suits Beijing.
show_progress : bool
    Show progress bars on long steps.
"""

from __future__ import annotations

data_dir: str | None = None
solver: str = "highs"
time_limit_s: float = 300.0
mip_rel_gap: float = 1e-4
working_crs: str = "EPSG:32650"
show_progress: bool = True
