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
solver_threads : int | None
    Threads for each HiGHS solve; ``None`` lets HiGHS choose. A local sweep's workers get
    cores ÷ workers, from the environment variable ``FACILITY_PLANNER_SOLVER_THREADS``, so parallel runs do not
    oversubscribe the machine.
family_workers : int
    Families a scenario run plans at once, in threads (most of a family's time is in HiGHS or numpy, which release the
    GIL); 1 plans them one after another. By default the machine's cores, at most 2, or the environment variable
    ``FACILITY_PLANNER_FAMILY_WORKERS``. A sweep's runs plan theirs one at a time: the sweep already runs one scenario
    per core.
working_crs : str
    Metric CRS for analysis. UTM 50N suits Beijing.
stop_when_stalled : bool
    Stop a branch-and-bound before its time limit when it is not on its way to ``mip_rel_gap``
    (:class:`facility_planner.models._milp.StallWatch`); the plan then says so. Off: every solve runs to its limit or
    its gap. Scenario runs set it from ``solver.stop_when_stalled`` (on by default there).
show_progress : bool
    Show progress bars on long steps.
"""

from __future__ import annotations

import os

data_dir: str | None = None
solver: str = "highs"
time_limit_s: float = 300.0
mip_rel_gap: float = 1e-4
solver_threads: int | None = int(os.environ.get("FACILITY_PLANNER_SOLVER_THREADS", "0") or 0) or None
family_workers: int = int(os.environ.get("FACILITY_PLANNER_FAMILY_WORKERS", "0") or 0) or min(2, os.cpu_count() or 1)
working_crs: str = "EPSG:32650"
stop_when_stalled: bool = False
show_progress: bool = True
