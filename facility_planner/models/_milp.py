"""A sparse MILP in matrix form and the solver backends (HiGHS through highspy; any PuLP solver).

Every formulation in :mod:`facility_planner.models` builds one :class:`MILP` from arrays and calls :func:`solve_milp`,
so solver status is interpreted in exactly one place.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .. import settings
from .._errors import SolverError, ValidationError
from .._interrupt import run_highs

INF = math.inf


@dataclass
class MILP:
    """minimise / maximise c·x subject to row_lower ≤ A x ≤ row_upper, lower ≤ x ≤ upper, x_j integer where flagged."""

    c: npt.NDArray[np.float64]
    A: sp.csr_matrix
    row_lower: npt.NDArray[np.float64]
    row_upper: npt.NDArray[np.float64]
    lower: npt.NDArray[np.float64]
    upper: npt.NDArray[np.float64]
    integer: npt.NDArray[np.bool_]
    maximize: bool = False
    offset: float = 0.0
    #: objective values are always whole numbers (integer data): lets the solver prove optimality at gap < 1
    integral_objective: bool = False
    #: let the solver presolve (off where measured to be slower)
    presolve: bool = True
    #: solve the root LP of branch-and-bound by interior point (HiGHS ``mip_lp_solver="ipm"``) instead of dual
    #: simplex: on degenerate coverage LPs simplex took 74 s where IPM took 1.3 s (Miyun's mutual-aid points)
    root_ipm: bool = False
    #: let HiGHS run its root reduced-cost heuristic, a sub-MIP that reports to no callback, so neither a stall nor
    #: Ctrl-C stops it before it returns (measured: 21 s of a 22 s limit on a Haidian maximal covering)
    root_reduced_cost_heuristic: bool = True
    #: may be stopped early when stalled (:class:`StallWatch`), where enabled: set by models whose stalls were
    #: measured (maximal covering); a partial cover's bound, for one, stood still in its root and then closed an 8.9%
    #: gap, so it is never watched
    stall_watch: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        return self.A.shape


@dataclass
class RawResult:
    status: str  # optimal | time_limit | stalled | infeasible | unbounded | no_solution | error
    x: npt.NDArray[np.float64] | None
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    solver: str
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


Block = tuple[Any, npt.ArrayLike, npt.ArrayLike]
"""A constraint block: (sparse matrix over the columns, row lower bounds, row upper bounds)."""


def stack_rows(
    blocks: Sequence[Block], n_cols: int
) -> tuple[sp.csr_matrix, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Stack constraint blocks (matrix, lower, upper) into one CSR matrix with row bounds."""
    if not blocks:
        return sp.csr_matrix((0, n_cols)), np.zeros(0), np.zeros(0)
    mats: list[sp.csr_matrix] = []
    lows: list[npt.NDArray[np.float64]] = []
    ups: list[npt.NDArray[np.float64]] = []
    for block, lo, up in blocks:
        m = sp.csr_matrix(block)
        mats.append(m)
        lows.append(np.broadcast_to(np.asarray(lo, dtype=float), (m.shape[0],)))
        ups.append(np.broadcast_to(np.asarray(up, dtype=float), (m.shape[0],)))
    return sp.vstack(mats, format="csr"), np.concatenate(lows), np.concatenate(ups)


def pad_columns(blocks: Sequence[Block], n_extra: int) -> list[Block]:
    """Constraint blocks over the site columns, widened with zero columns for a model's extra variables."""
    return [(sp.hstack([m, sp.csr_matrix((m.shape[0], n_extra))], format="csr"), lo, hi) for m, lo, hi in blocks]


def solver_options(time_limit_s: float | None, mip_rel_gap: float | None) -> tuple[float, float]:
    """The time limit and relative gap to use (defaults from :mod:`settings`), checked."""
    time_limit_s = settings.time_limit_s if time_limit_s is None else time_limit_s
    mip_rel_gap = settings.mip_rel_gap if mip_rel_gap is None else mip_rel_gap
    problems = []
    if not (isinstance(time_limit_s, int | float) and time_limit_s > 0):
        problems.append(f"`time_limit_s` must be a number of seconds > 0; got {time_limit_s!r}.")
    if not (isinstance(mip_rel_gap, int | float) and 0 <= mip_rel_gap < 1):
        problems.append(f"`mip_rel_gap` must be in [0, 1), e.g. 0.005 for 0.5%; got {mip_rel_gap!r}.")
    if problems:
        raise ValidationError("solver options", problems)
    return float(time_limit_s), float(mip_rel_gap)


def solve_milp(
    model: MILP,
    *,
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float | None = None,
    warm_start: npt.NDArray[np.float64] | None = None,
    threads: int | None = None,
    log: bool = False,
) -> RawResult:
    """Solve ``model`` with HiGHS (default) or a PuLP solver ("cbc", "glpk", "gurobi", "cplex", …)."""
    solver = (solver or settings.solver).lower()
    time_limit_s, mip_rel_gap = solver_options(time_limit_s, mip_rel_gap)
    if solver == "highs":
        return _solve_highs(model, time_limit_s, mip_rel_gap, warm_start, threads, log)
    return _solve_pulp(model, solver, time_limit_s, mip_rel_gap, warm_start, log)


def _solve_highs(
    model: MILP,
    time_limit_s: float,
    mip_rel_gap: float,
    warm_start: npt.NDArray[np.float64] | None,
    threads: int | None,
    log: bool,
) -> RawResult:
    try:
        import highspy
    except ImportError as exc:  # pragma: no cover - highspy is a core dependency
        raise SolverError("highspy is not installed; `pip install highspy`, or choose solver='cbc'.") from exc
    t0 = time.perf_counter()
    h = _new_highs(highspy, log)
    h.setOptionValue("output_flag", bool(log))
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    if model.integral_objective:
        # objective values are integers: a gap below 1 proves optimality
        h.setOptionValue("mip_abs_gap", 1.0 - 1e-6)
    if threads:
        h.setOptionValue("threads", int(threads))
    if not model.presolve:
        h.setOptionValue("presolve", "off")
    if model.root_ipm and model.integer.any():
        h.setOptionValue("mip_lp_solver", "ipm")
    if not model.root_reduced_cost_heuristic:
        h.setOptionValue("mip_heuristic_run_root_reduced_cost", False)
    lp = _highs_lp(highspy, model, integer=True)
    status = h.passModel(lp)
    if status == highspy.HighsStatus.kError:
        raise SolverError("HiGHS rejected the model (passModel failed); this is a bug, please report it.")
    if warm_start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(np.asarray(warm_start, dtype=float))
        sol.value_valid = True
        h.setSolution(sol)
        # with a feasible start, the feasibility-jump heuristic adds nothing, and it does not watch the time limit
        # (measured: a 7 s limit overrun to 75 s on a p-median with 1.7 M rows; see ERGO-Code/HiGHS#885)
        h.setOptionValue("mip_heuristic_run_feasibility_jump", False)
    watch = None
    if model.stall_watch and model.integer.any() and time_limit_s >= StallWatch.min_limit_s and _stall_enabled():
        watch = StallWatch(time_limit_s, mip_rel_gap, model.integral_objective)
        h.cbMipInterrupt.subscribe(watch.check)
    try:
        run_highs(h)  # in a worker thread, so Ctrl-C/SIGTERM stop the solve promptly
    finally:
        if watch is not None:
            h.cbMipInterrupt.unsubscribe(watch.check)
    seconds = time.perf_counter() - t0
    ms = h.getModelStatus()
    info = h.getInfo()
    has_sol = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    x = np.array(h.getSolution().col_value) if has_sol else None
    M = highspy.HighsModelStatus
    is_mip = bool(model.integer.any())
    if ms == M.kOptimal:
        status = "optimal"
    elif ms in (M.kTimeLimit, M.kIterationLimit, M.kInterrupt, M.kSolutionLimit, M.kHighsInterrupt):  # type: ignore[attr-defined]  # not in highspy's stubs
        status = "time_limit" if has_sol else "no_solution"
        if has_sol and watch is not None and watch.stopped is not None:
            status = "stalled"
    elif ms == M.kInfeasible:
        status = "infeasible"
    elif ms in (M.kUnbounded, M.kUnboundedOrInfeasible):
        status = "unbounded"
    else:
        status = "error"
    objective = float(info.objective_function_value) if has_sol else None
    if is_mip:
        bound = float(info.mip_dual_bound) if has_sol else None
        if bound is not None and model.integral_objective and math.isfinite(bound):
            # every objective value is a whole number, so the true bound is the next whole number
            bound = math.floor(bound + 1e-6) if model.maximize else math.ceil(bound - 1e-6)
    else:
        bound = objective if status == "optimal" else None
    gap = relative_gap(objective, bound) if objective is not None and bound is not None else None
    if status == "optimal" and gap is not None and not is_mip:
        gap = 0.0
    if status == "stalled" and gap is not None and gap <= mip_rel_gap * (1 + 1e-9):
        status = "optimal"  # stopped within the gap asked after all (the bound rounded to a whole number)
    extra: dict[str, Any] = {"mip_nodes": int(getattr(info, "mip_node_count", 0) or 0)}
    if status == "stalled" and watch is not None and watch.stopped is not None:
        extra["stalled"] = {**watch.stopped, "limit_s": time_limit_s}
    return RawResult(status, x, objective, bound, gap, seconds, "highs", h.modelStatusToString(ms), extra)


#: set by :func:`stop_when_stalled` for the solves made inside it; ``None`` reads :data:`settings.stop_when_stalled`
_STALL: ContextVar[bool | None] = ContextVar("stop_when_stalled", default=None)


@contextmanager
def stop_when_stalled(enabled: bool) -> Iterator[None]:
    """Within this block, watched branch-and-bounds stop early when stalled (:class:`StallWatch`), or not."""
    token = _STALL.set(bool(enabled))
    try:
        yield
    finally:
        _STALL.reset(token)


def _stall_enabled() -> bool:
    v = _STALL.get()
    return bool(settings.stop_when_stalled) if v is None else v


class StallWatch:
    """Stops a branch-and-bound that is not on its way to the gap asked before its time limit.

    HiGHS calls :meth:`check` at its interrupt checks with the running time and the objectives of the best plan and
    of the bound. Once ``min_share`` of the time limit has passed, the solve is stopped when, over the last window
    (a fifth of the time so far, at least ``min_window_s``), the plan has not improved and the bound has moved so
    little that even at ``pace`` times that rate the gap asked would not be reached before the time limit. The plan
    is then the one the limit would most likely have returned, with a slightly looser bound; :attr:`stopped` keeps
    the figures for the reader.

    Progress in branch-and-bound comes in jumps, so this can stop a solve that would have closed its gap later: a
    10,000 × 3,000 maximal covering holds its plan and bound still for 3 s of root cut rounds, then is proven at
    4 s. It is therefore off by default (:data:`facility_planner.settings.stop_when_stalled`) and on for scenario runs
    (``solver.stop_when_stalled``), where a planner waits for many models; benchmarks of published optima leave it
    off. HiGHS's heuristic sub-MIPs call no callback, so a stall inside one is seen only when it returns.

    Only models that set :attr:`MILP.stall_watch` are watched (maximal covering, where it was measured), and not
    solves with a time limit under :attr:`min_limit_s` (e.g. the small windows of a large model's local search).
    """

    min_limit_s = 5.0

    def __init__(
        self,
        time_limit_s: float,
        gap: float,
        integral: bool,
        *,
        min_window_s: float = 2.0,
        min_share: float = 0.1,
        pace: float = 2.0,
    ) -> None:
        self.limit = time_limit_s
        self.min_share = min_share
        self.gap = gap
        self.integral = integral
        self.min_window_s = min_window_s
        self.pace = pace
        self.history: list[tuple[float, float, float]] = []
        #: when stopped: ``after_s`` (solver seconds), ``window_s``, ``bound_moved`` in it and ``needed`` (how far
        #: the bound still had to move to reach the gap asked)
        self.stopped: dict[str, float] | None = None

    def check(self, event: Any) -> None:
        """HiGHS's MIP interrupt callback."""
        out = event.data_out
        self.observe(event, float(out.running_time), float(out.mip_primal_bound), float(out.mip_dual_bound))

    def observe(self, event: Any, t: float, plan: float, bound: float) -> None:
        """Record the state at ``t`` seconds and call ``event.interrupt()`` when the solve has stalled."""
        if self.stopped is not None or not (math.isfinite(plan) and math.isfinite(bound)):
            return
        if self.history and t - self.history[-1][0] < 0.05:
            return
        self.history.append((t, plan, bound))
        if t < self.min_share * self.limit:
            return
        window = max(self.min_window_s, 0.2 * t)
        # the states at least a window old: history[:k] (the history is in time order)
        k = bisect.bisect_right(self.history, t - window, key=lambda h: h[0])
        if k == 0:
            return
        t0, plan0, bound0 = self.history[k - 1]
        if abs(plan - plan0) > 1e-9 * max(1.0, abs(plan)):
            return  # the plan is still improving
        # the gap as it will be reported: with whole-number objectives the bound is rounded towards the plan
        apart = abs(bound - plan)
        if self.integral:
            apart = math.floor(apart + 1e-6)
        needed = apart - self.gap * max(abs(plan), 1e-9)
        left = self.limit - t
        rate = abs(bound - bound0) / (t - t0)
        if needed > 0 and left > 0 and needed > self.pace * rate * left:
            self.stopped = {
                "after_s": round(t, 2),
                "window_s": round(t - t0, 2),
                "bound_moved": abs(bound - bound0),
                "needed": needed,
            }
            event.interrupt()


def _highs_lp(highspy: Any, model: MILP, *, integer: bool) -> Any:
    """``model`` as a ``highspy.HighsLp`` (its LP relaxation when ``integer`` is false)."""
    n_rows, n_cols = model.A.shape
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = n_rows
    lp.col_cost_ = np.asarray(model.c, dtype=np.float64)
    lp.col_lower_ = np.asarray(model.lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(model.upper, dtype=np.float64)
    lp.row_lower_ = np.where(np.isfinite(model.row_lower), model.row_lower, -highspy.kHighsInf)
    lp.row_upper_ = np.where(np.isfinite(model.row_upper), model.row_upper, highspy.kHighsInf)
    lp.col_lower_ = np.where(np.isfinite(lp.col_lower_), lp.col_lower_, -highspy.kHighsInf)
    lp.col_upper_ = np.where(np.isfinite(lp.col_upper_), lp.col_upper_, highspy.kHighsInf)
    lp.offset_ = float(model.offset)
    A = model.A.tocsc()
    A.sort_indices()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(np.float64)
    lp.a_matrix_.num_col_ = n_cols
    lp.a_matrix_.num_row_ = n_rows
    if integer and model.integer.any():
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous for f in model.integer
        ]
    lp.sense_ = highspy.ObjSense.kMaximize if model.maximize else highspy.ObjSense.kMinimize
    return lp


@dataclass
class Dive:
    """The LP relaxation of a MILP, and an integer point found from it by diving (:func:`lp_dive`)."""

    #: the LP's optimal objective, its column values and row duals (``None`` when the LP was not solved in time)
    lp_objective: float | None
    col_value: npt.NDArray[np.float64] | None
    row_dual: npt.NDArray[np.float64] | None
    #: a point with every integer column integral and every row within its bounds (``None`` if the dive failed)
    x: npt.NDArray[np.float64] | None
    #: LPs solved (the first is the relaxation itself)
    steps: int
    seconds: float


def lp_dive(model: MILP, *, deadline: float, fix_share: float = 0.2, max_steps: int | None = None) -> Dive:
    """The LP relaxation of ``model`` solved by HiGHS, then a dive from it to an integer point.

    The dive fixes the largest fractional integer columns up and re-solves, until the LP's optimum is integral. Each step rounds up the ``fix_share`` × (sum of fractional values) largest fractional columns (at least one), so a
    model whose LP opens about ``k`` sites fractionally takes about ``log(k) / fix_share`` re-solves, each warm-started
    from the last basis (the first LP by the interior-point method, then dual simplex). If a step makes the LP
    infeasible, only its largest column is fixed instead; if that fails too, the dive gives up (``x`` is ``None``).
    Stops at ``deadline`` (``time.perf_counter()``) or after ``max_steps`` LPs with whatever it has (``max_steps=1``:
    the LP relaxation only, and its point if that is integral).

    This is a primal heuristic, fast where the LP relaxation is tight but HiGHS's own heuristics find poor plans (the
    maximal covering of a Beijing district: 0.3% below the LP bound in 2 s, where branch-and-bound needs 70 s).
    """
    import highspy

    t0 = time.perf_counter()
    h = _new_highs(highspy, False)
    h.setOptionValue("output_flag", False)
    h.passModel(_highs_lp(highspy, model, integer=False))
    h.setOptionValue("solver", "ipm")  # with crossover: a basis for the warm-started re-solves
    ints = np.flatnonzero(model.integer)
    lower = np.asarray(model.lower, dtype=float).copy()
    upper = np.asarray(model.upper, dtype=float)
    M = highspy.HighsModelStatus
    lp_obj = col = dual = x = None
    steps = 0
    fixed: npt.NDArray[np.int64] = np.zeros(0, np.int64)
    newlo: npt.NDArray[np.float64] = np.zeros(0)
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        # HiGHS checks its time limit against the instance's run time summed over every run, not this run's
        h.setOptionValue("time_limit", float(h.getRunTime() + left))
        run_highs(h)
        steps += 1
        ms = h.getModelStatus()
        if ms != M.kOptimal:
            if steps == 1 or ms != M.kInfeasible or len(fixed) <= 1:
                break
            # the last step over-fixed: undo it, and fix only its largest column
            h.changeColsBounds(len(fixed), fixed.astype(np.int32), lower[fixed], upper[fixed])
            fixed, newlo = fixed[:1], newlo[:1]
            h.changeColsBounds(1, fixed.astype(np.int32), newlo, upper[fixed])
            continue
        v = np.array(h.getSolution().col_value)
        if steps == 1:
            lp_obj = float(h.getInfo().objective_function_value)
            col, dual = v, np.array(h.getSolution().row_dual)
            h.setOptionValue("solver", "simplex")
        vi = v[ints]
        frac = np.abs(vi - np.round(vi)) > 1e-6
        if not frac.any():
            x = v.copy()
            x[ints] = np.round(vi)
            break
        if max_steps is not None and steps >= max_steps:
            break
        fr = ints[frac]
        part = v[fr] - np.floor(v[fr])
        k = max(1, round(fix_share * float(part.sum())))
        fixed = fr[np.argsort(-part, kind="stable")[:k]]
        newlo = np.ceil(v[fixed])
        h.changeColsBounds(len(fixed), fixed.astype(np.int32), newlo, upper[fixed])
    return Dive(lp_obj, col, dual, x, steps, time.perf_counter() - t0)


_banner_shown = False
_banner_lock = threading.Lock()


def _new_highs(highspy: Any, log: bool) -> Any:
    """A Highs instance, with :data:`settings.solver_threads` threads when set.

    HiGHS prints a banner on stdout when the first one is made, which is muted unless logging.
    """
    if log:
        h = highspy.Highs()
    else:
        with _banner_lock:  # threads (the region search) may make their first instances at once
            h = highspy.Highs() if _banner_shown else _muted_first_highs(highspy)
    if settings.solver_threads:
        h.setOptionValue("threads", int(settings.solver_threads))
    return h


def _muted_first_highs(highspy: Any) -> Any:
    """The first Highs instance, made with the process's stdout pointed at /dev/null (HiGHS prints its banner)."""
    global _banner_shown
    import os
    import sys

    _banner_shown = True
    fd = 1  # the process's real stdout, also under Jupyter, whose sys.stdout has no file descriptor
    try:
        sys.stdout.flush()
    except (AttributeError, ValueError):
        pass
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            return highspy.Highs()
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def relative_gap(objective: float, bound: float) -> float:
    """|bound − objective| / |objective| (inf unless both are finite)."""
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.inf
    denom = max(abs(objective), 1e-9)
    return abs(bound - objective) / denom


_PULP_NAMES = {
    "cbc": "PULP_CBC_CMD",
    "glpk": "GLPK_CMD",
    "gurobi": "GUROBI",
    "gurobi_cmd": "GUROBI_CMD",
    "cplex": "CPLEX_PY",
    "cplex_cmd": "CPLEX_CMD",
    "highs_cmd": "HiGHS_CMD",
    "pulp_highs": "HiGHS",
    "scip": "SCIP_CMD",
    "mosek": "MOSEK",
    "xpress": "XPRESS",
}


def _solve_pulp(
    model: MILP,
    solver: str,
    time_limit_s: float,
    mip_rel_gap: float,
    warm_start: npt.NDArray[np.float64] | None,
    log: bool,
) -> RawResult:
    import pulp

    name = _PULP_NAMES.get(solver, solver)
    available = pulp.listSolvers(onlyAvailable=True)
    if name not in pulp.listSolvers():
        raise SolverError(
            f"unknown solver {solver!r}; use 'highs' or one of {sorted(_PULP_NAMES)} (PuLP names also work)."
        )
    if name not in available:
        raise SolverError(f"solver {solver!r} ({name}) is not available on this machine; available: {available}.")
    t0 = time.perf_counter()
    n_rows, n_cols = model.A.shape
    prob = pulp.LpProblem("facility_planner", pulp.LpMaximize if model.maximize else pulp.LpMinimize)
    xs = []
    for j in range(n_cols):
        lo = None if not np.isfinite(model.lower[j]) else float(model.lower[j])
        up = None if not np.isfinite(model.upper[j]) else float(model.upper[j])
        xs.append(pulp.LpVariable(f"x{j}", lo, up, cat=pulp.LpInteger if model.integer[j] else pulp.LpContinuous))
    prob += pulp.LpAffineExpression([(xs[j], float(model.c[j])) for j in np.flatnonzero(model.c)]) + model.offset
    A = model.A.tocsr()
    for i in range(n_rows):
        s, e = A.indptr[i], A.indptr[i + 1]
        expr = pulp.LpAffineExpression([(xs[j], float(v)) for j, v in zip(A.indices[s:e], A.data[s:e], strict=True)])
        lo, up = model.row_lower[i], model.row_upper[i]
        if np.isfinite(lo) and np.isfinite(up) and lo == up:
            prob += expr == float(lo)
        else:
            if np.isfinite(lo):
                prob += expr >= float(lo)
            if np.isfinite(up):
                prob += expr <= float(up)
    if warm_start is not None:
        for v, val in zip(xs, warm_start, strict=True):
            v.setInitialValue(float(round(val)) if v.cat == pulp.LpInteger else float(val))
    kwargs = {"msg": bool(log), "timeLimit": float(time_limit_s)}
    try:
        s = pulp.getSolver(name, gapRel=float(mip_rel_gap), warmStart=warm_start is not None, **kwargs)
    except TypeError:
        s = pulp.getSolver(name, **kwargs)
    prob.solve(s)
    seconds = time.perf_counter() - t0
    st = pulp.LpStatus[prob.status]
    x = np.array([v.varValue if v.varValue is not None else np.nan for v in xs])
    has_sol = not np.isnan(x).any() and prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    if st == "Optimal" and prob.sol_status == pulp.LpSolutionOptimal:
        status = "optimal"
    elif has_sol:
        status = "time_limit"
    elif st == "Infeasible":
        status = "infeasible"
    elif st == "Unbounded":
        status = "unbounded"
    else:
        status = "no_solution" if st == "Not Solved" else "error"
    obj = float(pulp.value(prob.objective)) if has_sol else None
    # PuLP does not report a best bound; at "optimal" the bound equals the objective within the solver's gap
    bound = obj if status == "optimal" else None
    gap = (float(mip_rel_gap) if mip_rel_gap else 0.0) if status == "optimal" else None
    return RawResult(
        status,
        x if has_sol else None,
        obj,
        bound,
        gap,
        seconds,
        solver,
        st,
        {"gap_note": "PuLP reports no bound: the gap is the solver's stopping tolerance"},
    )
