r"""Trade-off curves: how much demand each number of new sites covers, with a proven envelope around the optimum.

For a coverage family (demand rows :math:`i` with weight :math:`w_i`, candidate sites, existing sites :math:`E`
kept), let :math:`f(S) = \sum_{i \text{ reached by } S} w_i` and :math:`\mathrm{OPT}(p) = \max_{|T| = p} f(E \cup T)`.

* **Greedy (a feasible plan, so a lower bound).** Starting from :math:`S_0 = E`, add the site with the largest
  marginal gain :math:`\Delta_j(S_k) = f(S_k \cup \{j\}) - f(S_k)`. The gains are kept exact and updated
  incrementally (only the columns of the rows a new site covers change), so the whole run costs one pass over the
  matrix plus one ``argmax`` per step: 80,000 × 80,000 with :math:`p` up to 2,000 takes seconds.
* **Upper bound (proven).** :math:`f` is monotone and submodular, so for every greedy prefix :math:`S_k` and every
  plan :math:`T` of :math:`p` new sites, :math:`f(E \cup T) \le f(S_k \cup T) \le f(S_k) + \sum_{j \in T}
  \Delta_j(S_k) \le f(S_k) + (\text{sum of the } p \text{ largest gains w.r.t. } S_k)` (Nemhauser, Wolsey & Fisher
  1978; Minoux 1978). The bound at :math:`p` is the minimum over all prefixes :math:`k` (also :math:`k > p`).
  :math:`\mathrm{OPT}` is non-decreasing in :math:`p`, so a proven bound at :math:`p^*` (the MIP's best bound at an
  exact point) also bounds every :math:`p \le p^*`, and an exact plan at :math:`p^*` is a lower bound for every
  :math:`p \ge p^*`.
* **Exact points.** At the numbers a planner picks, :func:`facility_planner.models.max_cover` solves the MILP and
  states its status and gap.
* **Fewest sites for a share** :math:`s`: :func:`facility_planner.models.partial_cover` (exact), the greedy count (a
  feasible plan) and the smallest :math:`p` whose upper bound reaches :math:`s` (no plan with fewer sites can).

Every row of :meth:`CurveResult.to_frame` says which it is: ``"exact"`` or ``"greedy (bound)"``.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from ._errors import InfeasibleModelError, OutputExistsError, ValidationError
from .matrices import LabelledMatrix
from .models import max_cover, partial_cover
from .models._milp import stop_when_stalled
from .models.base import as_matrix, as_weights

#: relative slack added to the computed upper bounds, so that floating-point sums never make a bound too low
_BOUND_SLACK = 1e-9

EXACT = "exact"
#: above this many (reachable, weighted) demand rows, ``curve_for_scenario`` solves no exact point unless asked
EXACT_DEFAULT_MAX_ROWS = 30_000
GREEDY = "greedy (bound)"


@dataclass
class GreedyTrace:
    """A greedy run with the submodular upper bound.

    Attributes
    ----------
    values
        ``values[k]``: covered weight of the existing sites plus the first ``k`` greedy sites (k = 0 … K).
    order
        Column positions of the greedy sites in the order picked (may stop early when no site adds anything).
    upper
        ``upper[p]``: proven upper bound on the optimum with ``p`` new sites (p = 0 … K).
    best_k
        ``best_k[p]``: the greedy prefix whose bound gave ``upper[p]``.
    covered_at
        Per demand row, the greedy step that covered it (0: the existing sites; ``len(order) + 1``: never).
    """

    values: npt.NDArray[np.float64]
    order: npt.NDArray[np.int64]
    upper: npt.NDArray[np.float64]
    best_k: npt.NDArray[np.int64]
    covered_at: npt.NDArray[np.int64]


def greedy_trace(
    R: sp.spmatrix,
    w: npt.NDArray[np.float64],
    k_max: int,
    *,
    fixed: npt.NDArray[np.bool_] | None = None,
    allowed: npt.NDArray[np.bool_] | None = None,
    stop_at: float | None = None,
    bounds: bool = True,
) -> GreedyTrace:
    """Greedy maximal covering with exact incremental gains, and the Nemhauser–Wolsey upper bound at every ``p``.

    Parameters
    ----------
    R
        Demand × site matrix; a stored entry means "within reach" (its value is ignored).
    w
        Demand weights (≥ 0).
    k_max
        Greedy steps to take and the largest ``p`` bounded.
    fixed
        Sites open from the start (existing, kept); not counted in ``p``.
    allowed
        Sites that may be opened (default all).
    stop_at
        Stop as soon as the covered weight reaches this value (for "fewest sites for a share").
    bounds
        Compute the upper bounds (``upper`` is all ``inf`` without).

    Returns
    -------
    GreedyTrace
    """
    R = sp.csr_matrix(R, copy=True)
    R.data = np.ones_like(R.data, dtype=np.float64)
    n, m = R.shape
    C = R.tocsc()
    fixed = np.zeros(m, bool) if fixed is None else np.asarray(fixed, bool)
    allowed = np.ones(m, bool) if allowed is None else np.asarray(allowed, bool)
    covered = (R @ fixed.astype(np.float64)) > 0 if fixed.any() else np.zeros(n, bool)
    gain = C.T @ np.where(covered, 0.0, w)
    blocked = fixed | ~allowed
    gain[blocked] = 0.0
    value = float(w[covered].sum())
    values = [value]
    order: list[int] = []
    total = float(w.sum())
    slack = _BOUND_SLACK * max(total, 1.0)
    upper = np.full(k_max + 1, np.inf)
    upper[0] = value + slack
    best_k = np.zeros(k_max + 1, dtype=np.int64)
    covered_at = np.where(covered, 0, np.iinfo(np.int64).max)

    def bound_at(v: float) -> None:
        if not bounds or k_max == 0:
            return
        pos = gain[gain > 0]
        if len(pos) > k_max:
            pos = np.partition(pos, len(pos) - k_max)[len(pos) - k_max :]
        top = np.sort(pos)[::-1]
        cum = np.cumsum(top)
        b = np.full(k_max, v + (cum[-1] if len(cum) else 0.0))
        b[: len(cum)] = v + cum
        better = b + slack < upper[1:]
        upper[1:][better] = b[better] + slack
        best_k[1:][better] = len(order)

    bound_at(value)
    for _ in range(k_max):
        if stop_at is not None and value >= stop_at:
            break
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break  # no site adds anything: the curve is flat from here (and the bound equals the value)
        order.append(j)
        blocked[j] = True
        rows = C.indices[C.indptr[j] : C.indptr[j + 1]]
        new = rows[~covered[rows]]
        covered[new] = True
        covered_at[new] = len(order)
        value += float(w[new].sum())
        if len(new):
            gain -= R[new].T @ w[new]
        gain[blocked] = 0.0
        np.maximum(gain, 0.0, out=gain)  # float round-off only
        values.append(value)
        bound_at(value)
    vals = np.array(values)
    # beyond the last useful site the greedy value stays flat
    if len(vals) < k_max + 1 and stop_at is None:
        vals = np.r_[vals, np.full(k_max + 1 - len(vals), vals[-1])]
    covered_at[covered_at == np.iinfo(np.int64).max] = len(order) + 1
    return GreedyTrace(vals, np.array(order, dtype=np.int64), upper, best_k, covered_at)


class _Lagrangian:
    """The relaxation's data, prepared once for all the points of a curve (rows left uncovered by the existing
    sites, allowed new columns).
    """

    def __init__(self, R, w, fixed=None, allowed=None) -> None:
        R = sp.csr_matrix(R, copy=True)
        R.data = np.ones_like(R.data, dtype=np.float64)
        n, m = R.shape
        fixed = np.zeros(m, bool) if fixed is None else np.asarray(fixed, bool)
        allowed = (np.ones(m, bool) if allowed is None else np.asarray(allowed, bool)) & ~fixed
        base_cov = (R @ fixed.astype(np.float64)) > 0 if fixed.any() else np.zeros(n, bool)
        self.const = float(w[base_cov].sum())
        self.rows = ~base_cov & (w > 0)
        self.A = R[self.rows][:, np.flatnonzero(allowed)].tocsr()
        self.AT = self.A.T.tocsr()
        self.wr = w[self.rows]

    def value(self, lam, p):
        colsum = self.AT @ lam
        top = np.argpartition(colsum, len(colsum) - p)[len(colsum) - p :]
        return self.const + float((self.wr - lam).sum()) + float(colsum[top].sum()), top

    def all_p(self, lam, k_max: int):
        """``L(lam)`` for every ``p = 1 … k_max`` at once (one multiplier vector bounds every number of sites)."""
        colsum = np.sort(self.AT @ lam)[::-1][:k_max]
        cum = np.cumsum(colsum)
        out = np.full(k_max, cum[-1] if len(cum) else 0.0)
        out[: len(cum)] = cum
        return (self.const + float((self.wr - lam).sum()) + out) * (1 + _BOUND_SLACK)

    def bound(self, p: int, starts, *, lower: float, iters: int):
        """(best bound, best relaxed plan's covered weight, best multipliers) from the best of ``starts``."""
        wr, A = self.wr, self.A
        if p <= 0 or A.shape[1] == 0:
            return (self.const + float(wr.sum()) if p > 0 else self.const), self.const, None
        p = min(p, A.shape[1])
        lam = min((np.clip(s, 0.0, wr) for s in starts), key=lambda s: self.value(s, p)[0])
        best, best_plan, best_lam = math.inf, self.const, lam
        theta, stall = 1.0, 0
        for _ in range(iters):
            val, top = self.value(lam, p)
            x = np.zeros(A.shape[1])
            x[top] = 1.0
            cover = A @ x
            best_plan = max(best_plan, self.const + float(wr[cover > 0].sum()))
            if val < best - 1e-9 * max(val, 1.0):
                best, best_lam, stall = val, lam, 0
            else:
                stall += 1
                if stall >= 5:
                    theta, stall = theta / 2, 0
            g = cover - (lam < wr)  # ∂L/∂λ: (sites of the plan reaching i) − z_i
            gg = float(g @ g)
            gap = val - max(lower, best_plan)
            if gg == 0 or gap <= 1e-9 * max(val, 1.0) or theta < 1e-3:
                break
            lam = np.clip(lam - theta * gap / gg * g, 0.0, wr)
        return best * (1 + _BOUND_SLACK), best_plan, best_lam


def lagrangian_bound(
    R: sp.spmatrix,
    w: npt.NDArray[np.float64],
    p: int,
    lam0: npt.NDArray[np.float64],
    *,
    lower: float,
    fixed: npt.NDArray[np.bool_] | None = None,
    allowed: npt.NDArray[np.bool_] | None = None,
    iters: int = 100,
) -> tuple[float, float]:
    r"""Upper bound on maximal covering with ``p`` new sites from the Lagrangian relaxation of the coverage links.

    Relaxing :math:`z_i \le \sum_{j \in N_i} x_j` with multipliers :math:`0 \le \lambda_i \le w_i` gives, for
    every such :math:`\lambda`, the valid bound :math:`L(\lambda) = f(E) + \sum_i (w_i - \lambda_i) +` (sum of the
    :math:`p` largest column sums :math:`\sum_{i \in N_j} \lambda_i`), over the rows not covered by the existing
    sites :math:`E` (Galvão & ReVelle 1996). The greedy (Nemhauser–Wolsey) bound is :math:`L` at
    :math:`\lambda_i = w_i` on the rows a greedy prefix leaves uncovered and 0 elsewhere; starting there, a
    subgradient search (Polyak steps towards the greedy value ``lower``) can only lower it.

    Returns (best bound, covered weight of the best relaxed plan — a feasible plan of ``p`` new sites).
    """
    lg = _Lagrangian(R, w, fixed, allowed)
    b, plan, _ = lg.bound(p, [np.asarray(lam0, dtype=np.float64)[lg.rows]], lower=lower, iters=iters)
    return b, plan


@dataclass
class CurveResult:
    """Covered demand against the number of new sites: greedy plans, proven bounds and exact points.

    Attributes
    ----------
    greedy, upper
        Per number of new sites ``p = 0 … K``: the greedy plan's covered weight and the proven upper bound on the
        optimum (after combining with the exact points).
    lower
        The best covered weight of a known plan with ``p`` new sites (greedy, or an exact plan with fewer sites).
    points
        The numbers of new sites reported as rows.
    exact
        ``p`` → solution summary of :func:`~facility_planner.models.max_cover` at the exact points.
    by_time
        Objective and bound of ``max_cover`` at a few time limits (empty when not asked for).
    share
        For "fewest sites for a share": target share, greedy count, proven lower bound, exact count, status, gap.
    """

    label: str
    weight_label: str
    total_weight: float
    n_existing: int
    greedy: npt.NDArray[np.float64]
    upper: npt.NDArray[np.float64]
    lower: npt.NDArray[np.float64]
    points: list[int]
    exact: dict[int, dict] = field(default_factory=dict)
    by_time: pd.DataFrame = field(default_factory=pd.DataFrame)
    share: dict | None = None
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per point: ``new_sites``, ``method`` ("exact" or "greedy (bound)"), covered weight and share of
        a known plan, the proven upper bound and share, the envelope gap, and for exact points the solver status,
        bound and gap.
        """
        T = self.total_weight or 1.0
        rows = []
        for p in self.points:
            ex = self.exact.get(p)
            lo, up = float(self.lower[p]), float(self.upper[p])
            rows.append(
                {
                    "new_sites": p,
                    "sites_total": p + self.n_existing,
                    "method": EXACT if ex else GREEDY,
                    "covered": round(lo, 1),
                    "covered_share": round(lo / T, 5),
                    "upper_bound": round(up, 1),
                    "upper_share": round(min(up, T) / T, 5),
                    "envelope_gap": round((up - lo) / up, 5) if up - lo > 1e-6 * T else 0.0,
                    "greedy_covered": round(float(self.greedy[p]), 1),
                    "status": ex["status"] if ex else "",
                    "solver_gap": None if not ex or ex["gap"] is None else round(ex["gap"], 6),
                    "seconds": round(ex["seconds"], 2) if ex else None,
                }
            )
        return pd.DataFrame(rows)


def _points(max_new: int, n_points: int) -> list[int]:
    if n_points < 1:
        raise ValidationError("`points`", [f"`points` must be ≥ 1; got {n_points}."])
    return sorted({0, *(round(k * max_new / n_points) for k in range(1, n_points + 1))})


def _solver_kw(kw: dict) -> dict:
    return {k: kw[k] for k in ("solver", "time_limit_s", "mip_rel_gap") if kw.get(k) is not None}


def _sol_row(sol, seconds: float) -> dict:
    bound = None if sol.best_bound is None or not math.isfinite(sol.best_bound) else float(sol.best_bound)
    return {
        "status": sol.status,
        "objective": float(sol.objective),
        "bound": bound,  # None: the solver proved no bound in the time it had
        "gap": sol.gap if sol.gap is not None and math.isfinite(sol.gap) else None,
        "seconds": seconds,
        "sites_new": len(sol.new_sites),
    }


def coverage_curve(
    coverage: LabelledMatrix,
    weights=None,
    *,
    ps: list[int] | None = None,
    max_new: int | None = None,
    points: int = 10,
    to_share: float | None = None,
    existing=(),
    exact_at=(),
    time_limits=(),
    time_p: int | None = None,
    lagrangian_iters: int = 100,
    total_weight: float | None = None,
    label: str = "",
    weight_label: str = "demand",
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float | None = None,
) -> CurveResult:
    """Covered demand against the number of new sites (existing kept): greedy, proven bound, exact points.

    Parameters
    ----------
    coverage
        Demand × candidate-site coverage (:class:`~facility_planner.matrices.LabelledMatrix`; an entry = reached).
    weights
        Demand weight per row (aligned to rows, or a Series by demand id); 1 each by default.
    ps
        The numbers of new sites to report; by default ``points`` evenly spaced up to ``max_new`` (and 0).
    max_new
        The largest number of new sites on the curve (default: the largest of ``ps`` / ``exact_at``).
    to_share
        Instead of (or as well as) ``max_new``: the fewest new sites covering this share of ``total_weight``; the
        curve then runs to the greedy count.
    existing
        Site ids already open: kept in every plan, not counted.
    exact_at
        Numbers of new sites at which the MILP is solved (:func:`~facility_planner.models.max_cover`).
    lagrangian_iters
        Subgradient steps of the Lagrangian bound at each point (0: the greedy bound only).
    time_limits, time_p
        Solve ``max_cover`` at ``time_p`` new sites (default: the largest exact point, else ``max_new``) once per
        time limit, to show the objective and bound against the time allowed.
    total_weight
        All demand, reachable or not (shares are of this); default the sum of ``weights``.
    solver, time_limit_s, mip_rel_gap
        Passed to the exact models.

    Returns
    -------
    CurveResult
    """
    t0 = time.perf_counter()
    M = as_matrix(coverage)
    w = as_weights(weights, M.shape[0], M.row_ids)
    T = float(w.sum()) if total_weight is None else float(total_weight)
    problems = []
    if T + 1e-9 < float(w.sum()):
        problems.append(f"`total_weight` ({T:,.0f}) is below the weights' sum ({w.sum():,.0f}).")
    ex_idx = pd.Index(M.col_ids).get_indexer(list(existing))
    if (ex_idx < 0).any():
        problems.append(f"{int((ex_idx < 0).sum())} existing site id(s) are not columns of `coverage`.")
    if to_share is not None and not (isinstance(to_share, int | float) and 0 < to_share <= 1):
        problems.append(f"`to_share` must be in (0, 1], e.g. 0.9 for 90%; got {to_share!r}.")
    exact_at = sorted({int(p) for p in exact_at})
    for name, vals in (("ps", ps or []), ("exact_at", exact_at)):
        if any(p < 0 for p in vals):
            problems.append(f"`{name}` holds negative numbers of sites.")
    if max_new is not None and max_new < 0:
        problems.append(f"`max_new` must be ≥ 0; got {max_new}.")
    if max_new is None and not ps and not exact_at and to_share is None:
        problems.append("say how far the curve goes: give `max_new`, `ps`, `exact_at` or `to_share`.")
    n_free = M.shape[1] - len(set(ex_idx[ex_idx >= 0].tolist()))
    if problems:
        raise ValidationError("coverage curve", problems)
    fixed = np.zeros(M.shape[1], bool)
    fixed[ex_idx] = True
    notes: list[str] = []
    share_info = None
    t_share = 0.0
    if to_share is not None:
        need = to_share * T
        first = greedy_trace(M.matrix, w, n_free, fixed=fixed, stop_at=need, bounds=False)
        if first.values[-1] + 1e-9 < need:
            raise InfeasibleModelError(
                f"coverage curve: no number of sites covers {to_share:.0%} of the {weight_label}; at most "
                f"{first.values[-1] / T:.1%} is within reach of a candidate site.",
                ["add candidate sites, allow more travel time, or lower the share"],
            )
        greedy_count = len(first.order)
        t1 = time.perf_counter()
        share_of_matrix = need / float(w.sum())
        sol = partial_cover(
            M,
            w,
            min(1.0, share_of_matrix),
            existing=list(existing),
            solver=solver,
            time_limit_s=time_limit_s,
            mip_rel_gap=mip_rel_gap,
        )
        t_share = time.perf_counter() - t1
        exact_new = len(sol.new_sites)
        lb = 0
        if sol.best_bound is not None and math.isfinite(sol.best_bound):
            lb = max(lb, math.ceil(sol.best_bound - len(sol.existing_sites) - 1e-6))
        share_info = {
            "share": to_share,
            "weight_needed": need,
            "greedy_sites": greedy_count,
            "exact_sites": exact_new,
            "lower_bound_sites": min(lb, exact_new),
            "status": sol.status,
            "gap": sol.gap,
            "seconds": round(t_share, 2),
        }
        if max_new is None:
            max_new = greedy_count
        exact_at = sorted({*exact_at, exact_new}) if exact_new <= max_new else exact_at
    k_max = max([max_new or 0, *(ps or []), *exact_at, share_info["greedy_sites"] if share_info else 0])
    if k_max > n_free:
        raise InfeasibleModelError(
            f"coverage curve: cannot open {k_max} new sites; only {n_free} candidate sites are not already open.",
            ["lower --max / the exact points"],
        )
    if ps is None:
        ps = _points(max_new if max_new is not None else k_max, points)
    t1 = time.perf_counter()
    tr = greedy_trace(M.matrix, w, k_max, fixed=fixed)
    t_greedy = time.perf_counter() - t1
    if len(tr.order) < k_max:
        notes.append(
            f"after {len(tr.order)} new sites no further site reaches uncovered {weight_label}: the curve is flat"
        )
    greedy = tr.values[: k_max + 1]
    upper = tr.upper.copy()
    lower = greedy.copy()
    t1 = time.perf_counter()
    if lagrangian_iters > 0:
        lg = _Lagrangian(M.matrix, w, fixed)
        prev = None  # the previous point's best multipliers: often a better start than the greedy ones
        for p in sorted({*ps, *exact_at} - {0}):
            starts = [np.where(tr.covered_at > tr.best_k[p], w, 0.0)[lg.rows]] + ([prev] if prev is not None else [])
            b, _, prev = lg.bound(p, starts, lower=float(greedy[p]), iters=lagrangian_iters)
            upper[p] = min(upper[p], b)
            if prev is not None and k_max > 0:  # the same multipliers bound every other p too
                np.minimum(upper[1:], lg.all_p(prev, k_max), out=upper[1:])
    t_lagr = time.perf_counter() - t1
    exact: dict[int, dict] = {}
    t1 = time.perf_counter()
    for p in exact_at:
        t2 = time.perf_counter()
        sol = max_cover(
            M,
            w,
            p,
            existing=list(existing),
            solver=solver,
            time_limit_s=time_limit_s,
            mip_rel_gap=mip_rel_gap,
        )
        exact[p] = _sol_row(sol, time.perf_counter() - t2)
        if exact[p]["bound"] is not None:
            # OPT is non-decreasing in p: a bound at p bounds every smaller p
            np.minimum(upper[: p + 1], exact[p]["bound"] * (1 + _BOUND_SLACK), out=upper[: p + 1])
        np.maximum(lower[p:], sol.objective, out=lower[p:])
    t_exact = time.perf_counter() - t1
    if share_info is not None:
        # no plan with p sites covers the share while the proven bound at p is below it
        reach_p = int(np.argmax(upper >= share_info["weight_needed"]))  # upper[greedy count] ≥ need: it exists
        share_info["lower_bound_sites"] = min(max(share_info["lower_bound_sites"], reach_p), share_info["exact_sites"])
    # the bound is non-decreasing in p as OPT is; never below a known plan
    upper = np.minimum.accumulate(upper[::-1])[::-1]
    upper = np.maximum(upper, lower)
    by_time = pd.DataFrame()
    t1 = time.perf_counter()
    if time_limits:
        tp = time_p if time_p is not None else (max(exact_at) if exact_at else k_max)
        rows = []
        for lim in sorted(float(x) for x in time_limits):
            t2 = time.perf_counter()
            with stop_when_stalled(False):  # each point shows what its whole time limit buys
                sol = max_cover(
                    M, w, tp, existing=list(existing), solver=solver, time_limit_s=lim, mip_rel_gap=mip_rel_gap
                )
            r = _sol_row(sol, time.perf_counter() - t2)
            rows.append(
                {
                    "new_sites": tp,
                    "time_limit_s": lim,
                    "covered": round(r["objective"], 1),
                    "covered_share": round(r["objective"] / T, 5),
                    "bound": None if r["bound"] is None else round(r["bound"], 1),
                    "bound_share": None if r["bound"] is None else round(min(r["bound"], T) / T, 5),
                    "gap": None if r["gap"] is None else round(r["gap"], 6),
                    "status": r["status"],
                    "seconds": round(r["seconds"], 2),
                }
            )
        by_time = pd.DataFrame(rows)
    pts = sorted({*ps, *exact_at})
    return CurveResult(
        label=label,
        weight_label=weight_label,
        total_weight=T,
        n_existing=int(fixed.sum()),
        greedy=greedy,
        upper=upper,
        lower=lower,
        points=pts,
        exact=exact,
        by_time=by_time,
        share=share_info,
        notes=notes,
        seconds={
            "greedy_and_bound": round(t_greedy, 2),
            "lagrangian": round(t_lagr, 2),
            "exact": round(t_exact, 2),
            "share": round(t_share, 2),
            "by_time": round(time.perf_counter() - t1, 2),
            "total": round(time.perf_counter() - t0, 2),
        },
    )


# --- the chart ------------------------------------------------------------------------------------------------------

_CJK_NAMES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Droid Sans Fallback",
)
_CJK_FILES = ("notosanscjk", "notoserifcjk", "sourcehansans", "wqy", "droidsansfallback", "msyh", "simhei")


def cjk_font() -> str | None:
    """The name of an installed font with Chinese glyphs (Noto Sans CJK preferred), or None.

    Looks at matplotlib's font list and, when its cache predates the font's installation, at the system font files.
    """
    from matplotlib import font_manager

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((n for n in _CJK_NAMES if n in names), None)

    found = known()
    if found is not None:
        return found
    # matplotlib's font cache may predate the font's installation: register the CJK files it does not list
    listed = {f.fname for f in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts():
        base = Path(path).name.lower().replace("-", "").replace("_", "")
        if path not in listed and any(k in base for k in _CJK_FILES):
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                font_manager.fontManager.addfont(path)
    return known()


def chart_style() -> tuple[dict, str | None, list[str]]:
    """Matplotlib rc settings for bilingual labels, the CJK font used (or None) and notes on any fallback."""
    font = cjk_font()
    if font is None:
        return (
            {},
            None,
            [
                "no font with Chinese glyphs found (install fonts-noto-cjk, or any Noto Sans CJK font); "
                "chart labels are in English only"
            ],
        )
    return {"font.family": [font, "DejaVu Sans"], "axes.unicode_minus": False}, font, []


def _label(zh: str, en: str, font: str | None, sep: str = " / ") -> str:
    return f"{zh}{sep}{en}" if font else en


def curve_figure(result: CurveResult):
    """The curve as a matplotlib Figure (Agg): envelope shaded, exact points marked; labels in Chinese and English.

    Returns (figure, notes).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rc, font, notes = chart_style()
    T = result.total_weight or 1.0
    K = len(result.greedy) - 1
    x = np.arange(K + 1)
    with plt.rc_context(rc), glyph_watch(notes):
        ncols = 2 if len(result.by_time) else 1
        fig, axes = plt.subplots(1, ncols, figsize=(11 if ncols == 2 else 8, 5), squeeze=False)
        ax = axes[0, 0]
        lo, up = 100 * result.lower / T, 100 * np.minimum(result.upper, T) / T
        ax.fill_between(
            x,
            lo,
            up,
            color="#9ecae1",
            alpha=0.5,
            linewidth=0,
            label=_label("最优值所在区间", "optimum lies in here (proven)", font),
        )
        ax.plot(
            x,
            lo,
            color="#08519c",
            lw=1.6,
            label=_label("已知最好方案（贪心或精确）", "best plan known (greedy or exact)", font),
        )
        ax.plot(x, up, color="#6baed6", lw=1.0, ls="--", label=_label("上界", "upper bound", font))
        if result.exact:
            ps = sorted(result.exact)
            obj = np.array([100 * result.exact[p]["objective"] / T for p in ps])
            bnd = np.array([100 * min(result.upper[p], T) / T for p in ps])  # the proven bound there
            ax.errorbar(
                ps,
                obj,
                yerr=[np.zeros(len(ps)), np.maximum(bnd - obj, 0)],
                fmt="o",
                color="#d94801",
                capsize=3,
                label=_label("精确解（MILP）", "exact (MILP)", font),
            )
        if result.share:
            s = 100 * result.share["share"]
            ax.axhline(s, color="grey", lw=0.8, ls=":")
            ax.axvline(result.share["exact_sites"], color="grey", lw=0.8, ls=":")
            ax.annotate(
                _label(
                    f"{s:.0f}%：{result.share['exact_sites']} 个",
                    f"{s:.0f}%: {result.share['exact_sites']} sites",
                    font,
                ),
                (result.share["exact_sites"], s),
                textcoords="offset points",
                xytext=(-6, 8),
                ha="right",
                fontsize=9,
            )
        ax.set_xlabel(_label("新增站点数", "new sites", font))
        ax.set_ylabel(_label("覆盖比例（%）", f"covered share of {result.weight_label} (%)", font, "\n"))
        title = result.label or "coverage curve"
        ax.set_title(title + (f" (+{result.n_existing} existing)" if result.n_existing else ""), fontsize=11)
        ax.grid(alpha=0.3)
        ax.set_xlim(0, max(K, 1) * 1.03)
        ax.legend(loc="lower right", fontsize=8)
        if len(result.by_time):
            bt = result.by_time
            a2 = axes[0, 1]
            a2.plot(
                bt["time_limit_s"], 100 * bt["covered_share"], "o-", color="#08519c", label=_label("方案", "plan", font)
            )
            if bt["bound_share"].notna().any():
                a2.plot(
                    bt["time_limit_s"],
                    100 * bt["bound_share"],
                    "s--",
                    color="#6baed6",
                    label=_label("求解器上界", "solver's bound", font),
                )
            tp = int(bt["new_sites"].iloc[0])
            if tp < len(result.upper):
                a2.axhline(
                    100 * min(result.upper[tp], T) / T,
                    color="#d94801",
                    ls=":",
                    lw=1,
                    label=_label("曲线的证明上界", "curve's proven bound", font),
                )
            a2.set_xlabel(_label("求解时限（秒）", "solver time limit (s)", font))
            a2.set_ylabel(_label("覆盖比例（%）", "covered share (%)", font, "\n"))
            a2.set_title(
                _label(f"{int(bt['new_sites'].iloc[0])} 个新增站点", f"{int(bt['new_sites'].iloc[0])} new sites", font),
                fontsize=11,
            )
            a2.grid(alpha=0.3)
            a2.legend(fontsize=8)
        fig.tight_layout()
    return fig, notes


_GLYPH_NOTE = "some characters of the chart could not be drawn with the fonts installed; install fonts-noto-cjk"


@contextlib.contextmanager
def glyph_watch(notes: list[str]):
    """Record matplotlib's missing-glyph warnings as one note (a chart must never drop text silently)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        yield
    if any("missing from font" in str(c.message) for c in caught) and _GLYPH_NOTE not in notes:
        notes.append(_GLYPH_NOTE)
    for c in caught:
        if "missing from font" not in str(c.message):
            warnings.warn_explicit(c.message, c.category, c.filename, c.lineno)


def save_figure(fig, svg: Path, png: Path, *, dpi: int = 150) -> list[str]:
    """Save ``fig`` as SVG (no date, so reruns compare equal) and PNG; notes if some characters had no glyph."""
    notes: list[str] = []
    with glyph_watch(notes):
        fig.savefig(svg, metadata={"Date": None})
        fig.savefig(png, dpi=dpi)
    return notes


def check_curve_out(out_dir: str | Path, *, force: bool = False) -> None:
    """Refuse a folder that already holds curve files (unless ``force``), before any work is done."""
    from ._output import check_output_dir

    out = Path(out_dir)
    check_output_dir(out, force=True)  # a file in its place, a read-only or unreachable folder: a clear error
    there = [n for n in ("curve.csv", "curve.svg", "curve.png", "curve_time.csv") if (out / n).exists()]
    if there and not force:
        raise OutputExistsError(
            f"{out} already holds {', '.join(there)}; choose another folder or pass --force (force=True) to replace them."
        )


def write_curve(result: CurveResult, out_dir: str | Path, *, force: bool = False) -> list[Path]:
    """Write ``curve.csv``, ``curve.svg`` and ``curve.png`` (and ``curve_time.csv`` with a time profile).

    Refuses to replace existing curve files unless ``force``. Each file is written beside its final name and moved
    into place only when complete. Notes on the chart (e.g. no CJK font) are added to ``result.notes``.
    """
    from .io import write_csv_excel

    out = Path(out_dir)
    names = ["curve.csv", "curve.svg", "curve.png"] + (["curve_time.csv"] if len(result.by_time) else [])
    check_curve_out(out, force=force)
    out.mkdir(parents=True, exist_ok=True)
    import matplotlib.pyplot as plt

    fig, notes = curve_figure(result)
    for n in notes:
        if n not in result.notes:
            result.notes.append(n)
    written = []
    tmpdir = Path(tempfile.mkdtemp(prefix=".curve-", dir=out))
    try:
        write_csv_excel(result.to_frame(), tmpdir / "curve.csv")
        if len(result.by_time):
            write_csv_excel(result.by_time, tmpdir / "curve_time.csv")
        result.notes += [
            n for n in save_figure(fig, tmpdir / "curve.svg", tmpdir / "curve.png") if n not in result.notes
        ]
        for n in names:
            os.replace(tmpdir / n, out / n)
            written.append(out / n)
    finally:
        plt.close(fig)
        for f in tmpdir.iterdir():
            f.unlink()
        tmpdir.rmdir()
    return written


# --- from a scenario -----------------------------------------------------------------------------------------------


def family_problem(scenario, family: str, *, district: str | None = None):
    """The family's coverage problem from a scenario (:func:`facility_planner.pipeline.family_problem`)."""
    from .pipeline import family_problem as from_pipeline

    return from_pipeline(scenario, family, district=district)


def curve_for_scenario(
    scenario,
    family: str,
    *,
    max_new: int | None = None,
    to_share: float | None = None,
    district: str | None = None,
    points: int = 10,
    exact_at=None,
    time_limits=(),
) -> CurveResult:
    """The trade-off curve of one family of a scenario (the ``curve`` command).

    ``max_new`` defaults to the family's target number of sites less the existing ones. ``exact_at`` defaults to
    the last point when the problem has at most :data:`EXACT_DEFAULT_MAX_ROWS` demand rows (HiGHS closes those in
    about a minute; measured: the citywide 80k-row model found no bound in 68 s), else to none, with a note. The
    scenario's solver settings are used for the exact points.
    """
    from .scenario import Scenario, load_scenario

    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    prob = family_problem(scn, family, district=district)
    n_ex = len(prob.existing)
    target = getattr(prob, "target_sites", None)
    if max_new is None and to_share is None:
        if target is None:
            raise ValidationError("curve", ["the family has no target number of sites: give --max N or --to-share S."])
        max_new = max(0, int(target) - n_ex)
    notes = []
    if exact_at is None:
        rows = int(((np.diff(prob.coverage.matrix.indptr) > 0) & (np.asarray(prob.weights) > 0)).sum())
        if max_new is None or max_new == 0:
            exact_at = []
        elif rows <= EXACT_DEFAULT_MAX_ROWS:
            exact_at = [max_new]
        else:
            exact_at = []
            notes.append(
                f"no exact point by default: {rows:,} demand rows is beyond what the MILP closes in minutes "
                f"(more than {EXACT_DEFAULT_MAX_ROWS:,}); the envelope is greedy + proven bounds. Ask with --exact."
            )
    with stop_when_stalled(scn.solver.stop_when_stalled):
        res = coverage_curve(
            prob.coverage,
            prob.weights,
            max_new=max_new,
            points=points,
            to_share=to_share,
            existing=prob.existing,
            exact_at=exact_at,
            time_limits=time_limits,
            total_weight=prob.total_weight,
            label=prob.label,
            weight_label=getattr(prob, "weight_label", "demand"),
            solver=scn.solver.name,
            time_limit_s=scn.solver.time_limit_s,
            mip_rel_gap=scn.solver.mip_rel_gap,
        )
    res.notes = notes + list(getattr(prob, "notes", [])) + res.notes
    return res


__all__ = [
    "CurveResult",
    "GreedyTrace",
    "check_curve_out",
    "cjk_font",
    "coverage_curve",
    "curve_figure",
    "curve_for_scenario",
    "family_problem",
    "greedy_trace",
    "lagrangian_bound",
    "write_curve",
]
