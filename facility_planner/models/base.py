"""What every model shares: the result object, side constraints, input checks and the status check."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from .._errors import InfeasibleModelError, SolverError, ValidationError
from .._validate import fmt_ids
from ..matrices import LabelledMatrix
from ._milp import MILP, Block, RawResult, solve_milp


@dataclass
class Solution:
    """The result of a location model.

    Parameters
    ----------
    model
        Which model (``"max_cover"``, ``"set_cover"``, ``"partial_cover"``, ``"p_median"``, ``"p_center"``).
    status
        ``"optimal"`` (proven within ``mip_rel_gap``), ``"time_limit"`` (best plan found when time ran out) or
        ``"stalled"`` (best plan found when the solver stopped before its limit, not on its way to ``mip_rel_gap``:
        see :attr:`stalled`).
    objective, best_bound, gap
        The plan's objective, the best bound the solver proved, and their relative gap (0 = proven optimal).
    seconds, build_seconds
        Solver time and model-building time.
    selected
        Ids of the open sites (required/existing ones included).
    existing_sites
        The selected sites that were required (existing); :attr:`new_sites` are the others.
    assignment
        ``demand_id``, ``site_id`` (nearest open site that reaches it, or None), ``cost``, ``covered``.
    solver
        The solver that ran (``"highs"`` or a PuLP solver name).
    size
        Model size (variables, constraints, nonzeros) for the log.
    notes
        What the model did that the reader should know (side constraints applied, methods used), in words.
    extra
        Model-specific figures (e.g. a p-median's assignment cost, a method's iteration counts).
    requested_gap
        The relative gap the caller asked for (``mip_rel_gap``); None when the model does not record it.
    stalled
        When ``status`` is ``"stalled"``: the solver seconds at the stop (``after_s``), of ``limit_s``; the window it
        was judged on (``window_s``), how far the bound moved in it (``bound_moved``) and how far it still had to move
        to reach the gap asked (``needed``). See :class:`facility_planner.models._milp.StallWatch`. A large model
        whose search and bound ended on their own before the limit has ``reason = "converged"`` and only
        ``after_s`` and ``limit_s`` (:func:`search_status`).

    Attributes
    ----------
    new_sites
        The selected sites that were not already open.
    gap_exceeded
        True when the plan is *not* proven within ``requested_gap`` (the gap is larger, or unknown): the plan must
        then be presented as "best found, gap x%", never as optimal.
    """

    model: str
    status: str
    objective: float
    best_bound: float | None
    gap: float | None
    seconds: float
    build_seconds: float
    selected: list[Any]
    existing_sites: list[Any]
    assignment: pd.DataFrame
    solver: str
    size: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    requested_gap: float | None = None
    stalled: dict[str, Any] | None = None

    @property
    def gap_exceeded(self) -> bool:
        """True when the plan is not proven within ``requested_gap`` (see the class notes)."""
        if self.requested_gap is None:
            return False
        if self.gap is None:
            return self.status != "optimal"
        # relative tolerance: the solver stops at its gap up to rounding
        return self.gap > self.requested_gap * (1 + 1e-6) + 1e-12

    @property
    def new_sites(self) -> list[Any]:
        """The selected sites that were not already open."""
        ex = set(self.existing_sites)
        return [s for s in self.selected if s not in ex]

    @property
    def optimal(self) -> bool:
        """True when the solver proved the plan optimal."""
        return self.status == "optimal"

    def summary(self) -> dict[str, Any]:
        """A plain dict for printing or JSON."""
        return {
            "model": self.model,
            "status": self.status,
            "objective": self.objective,
            "best_bound": self.best_bound,
            "gap": self.gap,
            "requested_gap": self.requested_gap,
            "gap_exceeded": self.gap_exceeded,
            "seconds": round(self.seconds, 3),
            "build_seconds": round(self.build_seconds, 3),
            "sites": len(self.selected),
            "sites_new": len(self.new_sites),
            "sites_existing": len(self.existing_sites),
            "solver": self.solver,
            **self.size,
        }

    def __repr__(self) -> str:
        gap = "n/a" if self.gap is None else f"{self.gap:.4%}"
        return (
            f"Solution({self.model}: {self.status}, objective={self.objective:,.6g}, gap={gap}, "
            f"{len(self.selected)} sites, {self.seconds:.2f} s)"
        )


@dataclass
class SideConstraints:
    """Constraints usable with any model.

    Parameters
    ----------
    site_units
        Unit label of each site (a mapping or Series site id → unit, e.g. township code).
    min_per_unit, max_per_unit
        At least / at most this many open sites in each unit: an int for every unit in ``units``, or a mapping
        unit → count. E.g. ``min_per_unit=1`` with ``units=all_townships``: one care centre in every township.
    units
        The units the per-unit limits apply to; by default every unit in ``site_units``. Name units that have no
        candidate site here too, so that the model can tell you they cannot be served.
    required
        Sites that must be open (existing facilities). In ``max_cover`` and ``p_median`` they do not count
        towards ``p`` (p counts new sites).
    forbidden
        Sites that must stay closed.
    budget, site_cost
        Total cost of the new sites ≤ ``budget``; costs per site (default 1 each, making budget a cap on numbers).
    """

    site_units: Mapping[Any, Any] | pd.Series | None = None
    min_per_unit: int | Mapping[Any, int] | None = None
    max_per_unit: int | Mapping[Any, int] | None = None
    units: Iterable[Any] | None = None
    required: Iterable[Any] = ()
    forbidden: Iterable[Any] = ()
    budget: float | None = None
    site_cost: Mapping[Any, float] | pd.Series | None = None


def as_matrix(
    coverage: Any,
    demand_ids: npt.ArrayLike | None = None,
    site_ids: npt.ArrayLike | None = None,
    *,
    what: str = "`coverage`",
) -> LabelledMatrix:
    """A :class:`LabelledMatrix` from a LabelledMatrix, a scipy.sparse matrix or a dense array (ids 0..n-1 when not given).

    Raises
    ------
    ValidationError
        When ``coverage`` is none of these.
    """
    if isinstance(coverage, LabelledMatrix):
        return coverage
    if sp.issparse(coverage):
        csr = sp.csr_matrix(cast(Any, coverage))  # issparse narrows to scipy's abstract base, which has no shape
        n, m = csr.shape
        rows = np.arange(n) if demand_ids is None else np.asarray(demand_ids)
        return LabelledMatrix(csr, rows, np.arange(m) if site_ids is None else np.asarray(site_ids))
    if isinstance(coverage, np.ndarray):
        return LabelledMatrix.from_dense(coverage, demand_ids, site_ids)
    raise ValidationError(what, [f"expected a LabelledMatrix or scipy.sparse matrix; got {type(coverage).__name__}."])


def as_weights(weights: Any, n: int, ids: npt.NDArray[Any], what: str = "`weights`") -> npt.NDArray[np.float64]:
    """``n`` finite, non-negative demand weights (1 each when ``weights`` is None; a Series is matched on ``ids``).

    Raises
    ------
    ValidationError
        Every problem of the weights at once (missing ids, wrong length, NaN or negative values).
    """
    if weights is None:
        return np.ones(n)
    if isinstance(weights, pd.Series):
        w = weights.reindex(ids)
        if w.isna().any():
            raise ValidationError(
                what, [f"no weight for {int(w.isna().sum())} demand id(s): {fmt_ids(ids[w.isna().to_numpy()])}."]
            )
        weights = w.to_numpy()
    arr = np.asarray(weights, dtype=float)
    problems = []
    if arr.shape != (n,):
        problems.append(f"expected {n} weights (one per demand row); got shape {arr.shape}.")
    elif not np.isfinite(arr).all():
        problems.append("weights must be finite numbers.")
    elif (arr < 0).any():
        problems.append(f"{int((arr < 0).sum())} negative weight(s); demand cannot be negative.")
    if problems:
        raise ValidationError(what, problems)
    return arr


def check_p(p: Any, n_allowed: int, n_required: int, *, what: str = "p") -> int:
    """``p`` as an int, after checking it is a whole number ≥ 0 that the allowed sites can meet.

    Raises
    ------
    ValidationError
        When ``p`` is not a whole number ≥ 0.
    InfeasibleModelError
        When fewer than ``p`` allowed sites are not already open.
    """
    if not isinstance(p, int | np.integer) or isinstance(p, bool) or p < 0:
        raise ValidationError(f"`{what}`", [f"`{what}` must be a whole number ≥ 0; got {p!r}."])
    if p > n_allowed - n_required:
        raise InfeasibleModelError(
            f"cannot open {p} new sites: only {n_allowed - n_required} candidate sites are allowed and not already open.",
            [f"{n_allowed} sites allowed (not forbidden), {n_required} of them required/existing"],
        )
    return int(p)


@dataclass
class Prepared:
    """Site-level arrays after applying required/forbidden and per-unit side constraints."""

    lower: npt.NDArray[np.float64]
    upper: npt.NDArray[np.float64]
    required: npt.NDArray[np.bool_]
    rows: list[Block]  # constraint blocks over site columns: (matrix n_rows×n_sites, lower, upper)
    cost: npt.NDArray[np.float64]
    notes: list[str]


def prepare_sides(side: SideConstraints | None, site_ids: npt.NDArray[Any]) -> Prepared:
    """Turn side constraints into bounds and rows over the site variables; explain what cannot be met."""
    n = len(site_ids)
    lower = np.zeros(n)
    upper = np.ones(n)
    required = np.zeros(n, dtype=bool)
    rows: list[Block] = []
    notes: list[str] = []
    cost = np.ones(n)
    if side is None:
        return Prepared(lower, upper, required, rows, cost, notes)
    index = pd.Index(site_ids)
    problems: list[str] = []
    reasons: list[str] = []

    def _idx(ids: Iterable[Any], label: str) -> npt.NDArray[np.intp]:
        ids = list(ids)
        pos = index.get_indexer(ids)
        unknown = [i for i, p in zip(ids, pos, strict=True) if p < 0]
        if unknown:
            problems.append(f"{len(unknown)} {label} site id(s) are not candidate sites: {fmt_ids(unknown)}.")
        found: npt.NDArray[np.intp] = pos[pos >= 0]
        return found

    req = _idx(side.required, "required")
    forb = _idx(side.forbidden, "forbidden")
    both = np.intersect1d(req, forb)
    if len(both):
        reasons.append(f"sites {fmt_ids(site_ids[both])} are both required and forbidden")
    lower[req] = 1
    required[req] = True
    upper[forb] = 0
    if side.site_cost is not None:
        sc = pd.Series(side.site_cost).reindex(site_ids)
        if sc.isna().any():
            problems.append(f"`site_cost` lacks {int(sc.isna().sum())} site(s); give every candidate a cost.")
        elif (sc < 0).any():
            problems.append("`site_cost` has negative costs.")
        else:
            cost = sc.to_numpy(float)
    if side.min_per_unit is not None or side.max_per_unit is not None:
        if side.site_units is None:
            problems.append("per-unit limits need `site_units` (the unit of each site).")
        else:
            su = pd.Series(side.site_units)
            su = su.reindex(site_ids)
            units = list(pd.unique(su.dropna())) if side.units is None else list(side.units)
            codes = pd.Index(units)
            col_unit = codes.get_indexer(su.to_numpy())
            have = col_unit >= 0
            M = sp.csr_matrix((np.ones(int(have.sum())), (col_unit[have], np.flatnonzero(have))), shape=(len(units), n))
            allowed_per_unit = np.asarray(M @ (upper > 0)).ravel()
            req_per_unit = np.asarray(M @ required).ravel()

            def _per(v: int | Mapping[Any, int] | None, default: float) -> npt.NDArray[np.float64]:
                if v is None:
                    return np.full(len(units), default, dtype=float)
                if isinstance(v, Mapping):
                    return np.array([v.get(u, default) for u in units], dtype=float)
                return np.full(len(units), float(v))

            lo = _per(side.min_per_unit, 0.0)
            hi = _per(side.max_per_unit, math.inf)
            short = np.flatnonzero(allowed_per_unit < lo)
            for k in short:
                reasons.append(
                    f"unit {units[k]} needs at least {int(lo[k])} site(s) but has "
                    + (
                        "no allowed candidate site"
                        if allowed_per_unit[k] == 0
                        else f"only {int(allowed_per_unit[k])} allowed"
                    )
                )
            over = np.flatnonzero(req_per_unit > hi)
            for k in over:
                reasons.append(
                    f"unit {units[k]} allows at most {hi[k]:g} site(s) but already has {int(req_per_unit[k])} required"
                )
            rows.append((M, lo, hi))
            notes.append(f"per-unit limits on {len(units)} units")
    if side.budget is not None:
        spent = float(cost[required].sum())
        if side.budget < 0:
            problems.append(f"`budget` must be ≥ 0; got {side.budget}.")
        rows.append((sp.csr_matrix(np.where(required, 0.0, cost)[None, :]), -math.inf, float(side.budget)))
        notes.append(f"budget {side.budget:g} for new sites (required sites cost {spent:g}, not counted)")
    if problems:
        raise ValidationError("side constraints", problems)
    if reasons:
        raise InfeasibleModelError("the side constraints cannot all be met:", reasons)
    return Prepared(lower, upper, required, rows, cost, notes)


def check_status(raw: RawResult, model: str, explain: Iterable[str] = ()) -> None:
    """The one place solver status is checked (as spopt's ``check_status``)."""
    if raw.status in ("optimal", "time_limit", "stalled"):
        return
    if raw.status == "infeasible":
        reasons = list(explain) or ["the constraints contradict each other; relax a per-unit minimum, the budget or p"]
        raise InfeasibleModelError(f"{model}: no plan satisfies every constraint.", reasons)
    if raw.status == "no_solution":
        raise SolverError(
            f"{model}: the solver found no feasible plan within the time limit ({raw.seconds:.0f} s); raise `time_limit_s`."
        )
    raise SolverError(f"{model}: solver {raw.solver} ended with status {raw.message!r}.")


def search_status(
    gap: float, mip_rel_gap: float, started: float, limit_s: float, *, searched_out: bool
) -> tuple[str, dict[str, Any]]:
    """Status of a plan from a search and a bound that end on their own, with no solver's clock.

    Used by the large-model paths of :func:`~facility_planner.models.coverage.max_cover` and
    :func:`~facility_planner.models.capacity.capacitated_max_cover`. ``"optimal"`` within ``mip_rel_gap``.
    ``"stalled"`` when the model ended before its time limit (more than 2% of it left) and its last search ended
    before its own deadline (``searched_out``): the search had nothing left to try and the bound had stopped moving,
    so the rest of the time was not used and a longer limit is unlikely to narrow the gap (figures ``after_s``,
    ``limit_s``, ``reason = "converged"``). Else ``"time_limit"``. Returns (status, the ``extra`` entries of a
    :class:`RawResult`).
    """
    if gap <= mip_rel_gap:
        return "optimal", {}
    after = time.perf_counter() - started
    if searched_out and after < 0.98 * limit_s:
        return "stalled", {"stalled": {"after_s": round(after, 2), "limit_s": limit_s, "reason": "converged"}}
    return "time_limit", {}


def stall_figures(raw: RawResult) -> dict[str, Any] | None:
    """The figures of an early stop for a stall (:attr:`Solution.stalled`), only when the result is still "stalled"."""
    return raw.extra.get("stalled") if raw.status == "stalled" else None


def weighted_bincount(x: npt.ArrayLike, weights: npt.ArrayLike, minlength: int = 0) -> npt.NDArray[np.float64]:
    """``np.bincount`` with weights: the weight summed per non-negative integer of ``x`` (numpy's stubs say int)."""
    return np.bincount(x, weights=weights, minlength=minlength).astype(np.float64, copy=False)


def solved_values(raw: RawResult, model: str) -> npt.NDArray[np.float64]:
    """The variable values of a solve that :func:`check_status` accepted (a :class:`SolverError` if there are none)."""
    if raw.x is None:
        raise SolverError(f"{model}: solver {raw.solver} ended ({raw.status}) without returning a plan.")
    return raw.x


def nearest_assignment(
    reach: sp.csr_matrix,
    cost: sp.csr_matrix | None,
    open_mask: npt.NDArray[np.bool_],
    demand_ids: npt.ArrayLike,
    site_ids: npt.ArrayLike,
) -> pd.DataFrame:
    """Each demand row → its nearest open site among those that reach it (or None)."""
    n = reach.shape[0]
    cols = np.flatnonzero(open_mask)
    c = (cost if cost is not None else reach)[:, cols].tocsr()
    c.sort_indices()
    lens = np.diff(c.indptr)
    rows = np.repeat(np.arange(n), lens)
    # sort every row's entries by cost; the first entry of each non-empty row is its nearest open site
    order = np.lexsort((c.data if cost is not None else np.zeros(len(c.data)), rows))
    nonempty = lens > 0
    first = order[c.indptr[:-1][nonempty]]
    site = np.full(n, -1)
    best = np.full(n, np.nan)
    site[nonempty] = cols[c.indices[first]]
    if cost is not None:
        best[nonempty] = c.data[first]
    return pd.DataFrame(
        {
            "demand_id": demand_ids,
            "site_id": np.where(site >= 0, np.asarray(site_ids, dtype=object)[np.maximum(site, 0)], None),
            "cost": best,
            "covered": site >= 0,
        }
    )


def run(
    model: MILP,
    *,
    name: str,
    solver: str | None,
    time_limit_s: float | None,
    mip_rel_gap: float | None,
    warm_start: npt.NDArray[np.float64] | None = None,
    explain: Iterable[str] = (),
    started: float | None = None,
    limit_s: float | None = None,
) -> RawResult:
    """Solve ``model`` and check the solver's status (:func:`check_status`); ``explain`` says why it may be infeasible.

    A model that gives the solver what is left of its own time limit passes ``started`` (its ``time.perf_counter()``
    at the start) and that ``limit_s``: a stop for a stall is then told in the model's time, not the solver's.
    """
    raw = solve_milp(model, solver=solver, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, warm_start=warm_start)
    check_status(raw, name, explain)
    st = raw.extra.get("stalled")
    if st is not None and started is not None and limit_s is not None:
        raw.extra["stalled"] = {**st, "after_s": round(time.perf_counter() - started, 2), "limit_s": limit_s}
    return raw
