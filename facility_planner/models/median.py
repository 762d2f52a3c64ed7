r"""Median and centre models.

p-median, uncapacitated: the radius formulation of Elloumi (2010) / García, Labbé & Marín (2011), written
incrementally so that every (demand, site) pair appears once. For demand :math:`i` let
:math:`D_i^1 < \dots < D_i^{K_i}` be its distinct travel costs to the allowed sites, and
:math:`z_i^k \in [0,1]` mean "no open site within :math:`D_i^k`" (:math:`z_i^0 = 1`, :math:`z_i^{K_i} = 0`):

.. math::

    \min \sum_i w_i \Big(D_i^1 + \sum_{k=1}^{K_i-1} (D_i^{k+1} - D_i^k) z_i^k\Big)
    \quad\text{s.t.}\quad z_i^k \ge z_i^{k-1} - \sum_{j: d_{ij} = D_i^k} y_j,\;
    \sum_{j \notin E} y_j = p,\; y_j \in \{0,1\}.

Its LP relaxation equals that of the textbook model (one variable per demand × site) while having far fewer
non-zeros. Before it is built, a greedy + interchange plan gives an upper bound and the Lagrangian dual
(Cornuéjols, Fisher & Nemhauser 1977) a lower bound; every site whose plans all cost at least the best plan known is
closed off (reduced-cost fixing). Often the bounds meet; otherwise a depth-first Lagrangian branch and bound
(Beasley 1985, 1993) over the remaining sites closes the gap: each node re-optimises the dual warm-started from its
parent, closes sites by the same test, and branches on the most attractive site. The bound reported combines the
nodes' bounds with those of the closed sites, so it stays a proven bound for the whole problem, also when time runs
out. The radius-formulation MIP on HiGHS remains for side constraints (quotas, budgets), where the Lagrangian
machinery does not apply. A node's subgradient steps run compiled (numba, :mod:`._median_kernel`) over each
demand's sorted costs, touching only the pairs cheaper than the demand's multiplier: 10–15× faster than the same
steps in numpy (n = 700, p = 70: 1,271 nodes in 1.0 s instead of 12 s). Measured on random graphs of the sizes of
OR-Library's pmed11–40 (n = 300–900, p = 5–200), on a quiet 2-core machine: all 30 proven optimal, each in ≤ 10 s
(slowest n = 800, p = 10 and p = 80, 6–7 s); n = 900, p = 5 took 138 s on HiGHS (its root LP alone over a minute).

p-median with capacities: the textbook assignment model over the stored pairs, :math:`x_{ij} \le y_j`,
:math:`\sum_i w_i x_{ij} \le C_j y_j`; demand may be split between sites.

p-center: the smallest :math:`D` such that ``p`` sites (plus the existing ones) reach every demand within
:math:`D`, found by bisection over the distinct costs, each step an exact set-covering problem.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from .._errors import InfeasibleModelError, ValidationError
from .._validate import fmt_ids
from ..matrices import LabelledMatrix
from ._milp import MILP, Block, RawResult, pad_columns, solver_options, stack_rows
from .base import (
    Prepared,
    SideConstraints,
    Solution,
    as_matrix,
    as_weights,
    check_p,
    nearest_assignment,
    prepare_sides,
    run,
    solved_values,
    stall_figures,
    weighted_bincount,
)
from .coverage import _with_existing, set_cover

FloatArray = npt.NDArray[np.floating[Any]]  # float64 in practice; numpy's stubs widen arithmetic results
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.integer[Any]]


def _dense_costs(C: sp.csr_matrix, missing: float) -> FloatArray | None:
    """A dense copy of the costs (``missing`` where a site cannot serve), for matrices up to 2·10⁷ entries."""
    n, m = C.shape
    if n * m > 2e7:
        return None
    Cc = C.tocoo()
    D = np.full((n, m), missing)
    D[Cc.row, Cc.col] = Cc.data
    return D


def _nearest_costs(C: sp.csr_matrix, open_mask: BoolArray, missing: float = np.inf) -> FloatArray:
    """Each demand row's cost to its nearest open site (``missing`` if no open site reaches it)."""
    vals = np.where(open_mask[C.indices], C.data, np.inf)
    out = np.full(C.shape[0], np.inf)
    has = np.diff(C.indptr) > 0
    if C.nnz:
        out[has] = np.minimum.reduceat(vals, C.indptr[:-1][has])
    out[~np.isfinite(out)] = missing
    return out


def _greedy_median(
    C: sp.csr_matrix,
    w: FloatArray,
    p: int,
    required: BoolArray,
    allowed: BoolArray,
    penalty: float,
    deadline: float = math.inf,
) -> BoolArray | None:
    """Greedy add: open, ``p`` times, the site that saves most weighted cost (an unserved demand costs ``penalty``).

    Works on the stored pairs only, so its cost is ``p`` passes over the non-zeros. Returns the open-site mask.
    """
    Cc = C.tocsc()
    row, col = Cc.indices, np.repeat(np.arange(C.shape[1]), np.diff(Cc.indptr))
    chosen = required.copy()
    cur = _nearest_costs(C, chosen, penalty)
    for picked in range(p):
        saving = np.bincount(col, weights=w[row] * np.maximum(0.0, cur[row] - Cc.data), minlength=C.shape[1])
        saving[~allowed | chosen] = -1.0
        if time.perf_counter() > deadline:
            # out of time: the remaining sites by their current savings, so that there is always a plan
            rest = np.argsort(-saving)[: p - picked]
            if (saving[rest] < 0).any():
                return None
            chosen[rest] = True
            return chosen
        j = int(np.argmax(saving))
        if saving[j] < 0:
            return None
        chosen[j] = True
        sl = slice(Cc.indptr[j], Cc.indptr[j + 1])
        cur[row[sl]] = np.minimum(cur[row[sl]], Cc.data[sl])
    return chosen


def _two_nearest(D: FloatArray, open_: IntArray) -> tuple[FloatArray, FloatArray, IntArray]:
    """Each demand's nearest and second-nearest cost among the open sites, and its nearest site."""
    Do = D[:, open_]
    if len(open_) == 1:
        return Do[:, 0], np.full(len(D), np.inf), np.full(len(D), open_[0])
    rows = np.arange(len(D))
    part = np.argpartition(Do, 1, axis=1)[:, :2]
    a, b = Do[rows, part[:, 0]], Do[rows, part[:, 1]]
    first = np.where(b < a, part[:, 1], part[:, 0])
    return np.minimum(a, b), np.maximum(a, b), open_[first]


def _interchange(
    D: FloatArray,
    w: FloatArray,
    required: BoolArray,
    allowed: BoolArray,
    start: BoolArray,
    max_passes: int = 50,
    deadline: float = math.inf,
) -> BoolArray:
    """Interchange (Teitz & Bart 1968) from the plan ``start``, on dense costs ``D`` in which a pair that cannot be
    served carries a prohibitive cost: each open site in turn is swapped for the free site that lowers the total
    cost most, if any does; passes repeat until none improves or ``deadline``.

    Swapping as soon as a site's best swap improves (rather than once per pass) needs a few passes where the
    best-swap-per-pass rule needs one pass per swap (measured: n = 600, p = 200, 14 s → under 2 s).
    """
    chosen = start.copy()
    d1, d2, nearest = _two_nearest(D, np.flatnonzero(chosen))
    base = float(w @ d1)
    for _ in range(max_passes):
        improved = False
        for j in np.flatnonzero(chosen & ~required):
            if time.perf_counter() > deadline:
                return chosen
            cand = np.flatnonzero(allowed & ~chosen)
            if not len(cand):  # every allowed site is open: nothing to swap in
                return chosen
            # with one open site, closing it leaves nothing: the swap's cost is the new site's alone
            without = np.where(nearest == j, d2, d1)
            tot = w @ np.minimum(without[:, None], D[:, cand])
            k = int(np.argmin(tot))
            if float(tot[k]) - base < -1e-9 * max(1.0, abs(base)):
                chosen[j] = False
                chosen[cand[k]] = True
                d1, d2, nearest = _two_nearest(D, np.flatnonzero(chosen))
                base = float(w @ d1)
                improved = True
        if not improved:
            break
    return chosen


def _plan_cost(C: sp.csr_matrix, w: FloatArray, open_mask: BoolArray) -> float:
    """Σ weight × cost to the nearest open site (inf if some weighted demand has none within reach)."""
    pos = w > 0
    return float(w[pos] @ _nearest_costs(C, open_mask)[pos])


def _slack(value: float, integral: bool) -> float:
    """A bound above ``value − slack`` proves that no plan is cheaper than one costing ``value``."""
    return 1.0 - 1e-6 * max(1.0, abs(value)) if integral else 1e-9 * max(1.0, abs(value))


class _Lagrangian:
    r"""The Lagrangian dual of the p-median (Cornuéjols, Fisher & Nemhauser 1977), by subgradient optimisation.

    Relaxing "each demand is assigned once" with multipliers :math:`u_i` leaves
    :math:`L(u) = \sum_i u_i + \sum_{j \in R} \rho_j(u) + \min_{S \subseteq F, |S| = p} \sum_{j \in S} \rho_j(u)`
    with :math:`\rho_j(u) = \sum_i \min(0, w_i d_{ij} - u_i)`, for required sites :math:`R` and free sites
    :math:`F`; it is solved by sorting and bounds every plan, for any :math:`u`. Each :math:`u` also bounds each
    free site: a plan that opens :math:`j \notin S` costs at least :math:`L(u) + \rho_j - \rho_{(p)}`.

    ``C`` holds only rows of positive weight ``w``.
    """

    def __init__(self, C: sp.csr_matrix, w: FloatArray) -> None:
        self.C = C
        self.n, self.m = C.shape
        self.row = np.repeat(np.arange(self.n), np.diff(C.indptr))
        self.col = C.indices
        self.wd = w[self.row] * C.data
        self.w = w
        # up to 5·10⁶ pairs, a dense copy of the weighted costs (inf where a site cannot serve): each step is then a
        # few contiguous passes instead of scattered ones (measured 10× faster on a 900 × 900 graph)
        # stored site × demand, so that each step runs along contiguous rows into one reused buffer
        self.WT: FloatArray | None = None
        if self.n * self.m <= 5e6:
            self.WT = np.full((self.m, self.n), np.inf)
            self.WT[self.col, self.row] = self.wd
            self._buf = np.empty_like(self.WT)

    def _reduced(self, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        """ρ_j(u) for every site and, for the subgradient, the site × demand "worth assigning" test."""
        if self.WT is not None:
            red = np.subtract(self.WT, u, out=self._buf)
            np.minimum(red, 0.0, out=red)
            return red.sum(axis=1), red
        red = np.minimum(0.0, self.wd - u[self.row])
        return weighted_bincount(self.col, red, self.m), red

    def _subgradient(self, red: FloatArray, open_: BoolArray) -> FloatArray:
        if self.WT is not None:
            assigned: IntArray = (red[np.flatnonzero(open_)] < 0).sum(axis=0)  # open sites each demand is worth
            return 1.0 - assigned
        return 1.0 - weighted_bincount(self.row, ((red < 0) & open_[self.col]).astype(float), self.n)

    def start(self) -> np.ndarray:
        """Each demand's cheapest weighted cost: the multipliers whose bound is that of opening every site."""
        u = np.full(self.n, np.inf)
        np.minimum.at(u, self.row, self.wd)
        return u

    def solve(
        self,
        p: int,
        required: BoolArray,
        free: BoolArray,
        u: FloatArray,
        target: float,
        slack: float,
        *,
        max_iter: int,
        patience: int,
        lam: float = 2.0,
        site_lb: FloatArray | None = None,
        plans: int = 0,
        D: FloatArray | None = None,
        deadline: float = math.inf,
    ) -> tuple[float, FloatArray, list[BoolArray], float]:
        """Raise the bound from multipliers ``u`` until it is within ``slack`` of ``target`` or the steps die out.

        ``site_lb`` (if given) is raised in place to the best per-site bound seen. With ``plans`` (a number) every
        relaxed plan is costed (on the dense costs ``D`` if given) and the cheapest ``plans`` distinct ones are
        returned, cheapest first. Returns ``(bound, multipliers, [plan masks], cheapest plan's cost)``.
        """
        free_idx, req_idx = np.flatnonzero(free), np.flatnonzero(required)
        best, best_u, best_cost = -np.inf, u, np.inf
        pool: dict[bytes, tuple[float, IntArray]] = {}
        stall = 0
        for _ in range(max_iter):
            rho, red = self._reduced(u)
            rf = rho[free_idx]
            sel = np.argpartition(rf, p - 1)[:p] if 0 < p < len(rf) else np.arange(min(p, len(rf)))
            L = float(u.sum() + rho[req_idx].sum() + rf[sel].sum())
            chosen = free_idx[sel]
            if site_lb is not None and len(sel):
                # a plan opening free site j costs at least L − ρ_(p) + ρ_j (L itself if j is in the chosen set)
                site_lb[free_idx] = np.maximum(site_lb[free_idx], L + np.maximum(0.0, rf - rf[sel].max()))
            open_ = required.copy()
            open_[chosen] = True
            if plans:
                near = D[:, np.flatnonzero(open_)].min(axis=1) if D is not None else _nearest_costs(self.C, open_)
                cost = float(self.w @ near)
                best_cost = min(best_cost, cost)
                pool.setdefault(np.sort(chosen).tobytes(), (cost, chosen))
                if len(pool) > 20 * plans:  # keep the cheapest
                    pool = dict(sorted(pool.items(), key=lambda kv: kv[1][0])[:plans])
            if L > best + 1e-9 * max(1.0, abs(L)):
                best, best_u, stall = L, u, 0
            else:
                stall += 1
                if stall >= patience:
                    lam, stall = lam / 2, 0
            goal = min(target, best_cost)
            if best > goal - slack or lam < 1e-3 or time.perf_counter() > deadline:
                break
            g = self._subgradient(red, open_)
            gg = float(g @ g)
            if gg == 0.0:  # the relaxed plan assigns every demand once: it is optimal
                break
            u = u + lam * (goal - L) / gg * g
        found = []
        for _, plan_sites in sorted(pool.values(), key=lambda v: v[0])[:plans]:
            mask = required.copy()
            mask[plan_sites] = True
            found.append(mask)
        return best, best_u, found, best_cost


# subgradient schedule of the branch-and-bound nodes (halve the step after 4 steps without progress, stop below
# 0.05 or after 60 steps) and of the root (halve after 10); measured on random graphs of OR-Library's sizes
# (n = 900, p = 5 and 10): shorter node schedules trade more nodes for far less work per node, down to a point
_BB_PATIENCE, _BB_LAM_MIN, _BB_MAX_ITER, _ROOT_PATIENCE = 4, 0.05, 60, 10


def _branch_and_bound(
    C: sp.csr_matrix,
    w: FloatArray,
    p: int,
    required: BoolArray,
    free: BoolArray,
    u: FloatArray,
    ub: float,
    best: BoolArray,
    integral: bool,
    deadline: float,
    gap: float = 0.0,
) -> tuple[BoolArray, float, float, bool, int]:
    """Depth-first Lagrangian branch and bound over the sites ``free`` (Beasley 1985; 1993, EJOR 65:383–399).

    Each node re-optimises the Lagrangian dual (warm-started from its parent's multipliers) with its forced-open
    sites required and its closed sites left out, closes every site whose plans are proven no cheaper than the best
    plan known, and branches on the most attractive remaining site (open first). Relaxed plans found on the way are
    costed and improve the best plan. ``C`` holds only demand rows of positive weight ``w``.

    A subtree is pruned when its bound is within the relative ``gap`` of the best plan (0: proven optimal).

    Returns ``(best plan mask, its cost, proven lower bound on every plan, finished?, nodes)``: the bound is the least
    bound of the subtrees pruned, costed or (when time ran out) left unexplored.
    """
    from ._median_kernel import node_dual  # numba: imported (0.4 s) only when a branch and bound runs

    n, m = C.shape
    DT = np.full((m, n), np.inf)  # site × demand
    Cc = C.tocoo()
    DT[Cc.col, Cc.row] = Cc.data
    # each demand's weighted costs, ascending, and their sites: a node's step reads only the pairs that count
    weighted = DT.T * w[:, None]
    site = np.argsort(weighted, axis=1, kind="stable")
    sorted_cost = np.take_along_axis(weighted, site, axis=1)
    del weighted

    def _slack_gap(cost: float) -> float:
        return max(_slack(cost, integral), gap * abs(cost))

    slack = _slack_gap(ub)
    low = math.inf  # the least bound of every subtree closed so far
    nodes = 0
    n_req = int(required.sum())
    # nodes to explore: (forced open, free, multipliers to start from, parent's bound, first step size)
    stack: list[tuple[BoolArray, BoolArray, FloatArray, float, float]] = [
        (required.copy(), free.copy(), u, -math.inf, 2.0)
    ]

    def leaf(plan: BoolArray) -> None:
        nonlocal ub, best, slack, low
        cost = float(w @ DT[plan].min(axis=0))
        low = min(low, cost)
        if cost < ub:
            ub, best, slack = cost, plan.copy(), _slack_gap(cost)

    while stack:
        if time.perf_counter() > deadline:
            return best, ub, min(low, ub, *(node[3] for node in stack)), False, nodes
        req, fr, u, parent_bound, lam = stack.pop()
        if parent_bound > ub - slack:
            low = min(low, parent_bound)
            continue
        k = p - (int(req.sum()) - n_req)  # sites still to open
        n_free = int(fr.sum())
        if k == 0 or n_free <= k:
            if n_free >= k:
                leaf(req | fr if k else req)
            continue
        f_i = np.flatnonzero(fr)
        bound, u, rho, site_b, close_b, plan, _ = node_dual(
            sorted_cost, site, u, np.flatnonzero(req), f_i, k, ub, slack, lam, _BB_MAX_ITER, _BB_PATIENCE, _BB_LAM_MIN
        )
        nodes += 1
        if len(plan):
            mask = np.zeros(m, dtype=bool)
            mask[plan] = True
            leaf(mask)
        if bound > ub - slack:
            low = min(low, bound)
            continue
        site_lb = np.full(m, -np.inf)
        site_lb[f_i] = site_b
        closed = fr & (site_lb > ub - slack)
        if closed.any():
            low = min(low, float(site_lb[closed].min()))
            fr = fr & ~closed
        # the reverse test: a site whose closing is proven no better than the best plan stays open in this subtree
        close_lb = np.full(m, -np.inf)
        close_lb[f_i] = close_b
        must = fr & (close_lb > ub - slack)
        if must.any():
            low = min(low, float(close_lb[must].min()))
            fr = fr & ~must
            req = req | must
            k -= int(must.sum())
        n_free = int(fr.sum())
        if k == 0 or n_free <= k:
            if n_free >= k:
                leaf(req | fr if k else req)
            continue
        # branch on the most attractive free site (the least reduced cost at the best multipliers)
        j = int(np.flatnonzero(fr)[np.argmin(rho[fr])])
        fr = fr.copy()
        fr[j] = False
        opened = req.copy()
        opened[j] = True
        stack.append((req, fr, u, bound, 1.0))  # site j closed
        stack.append((opened, fr, u, bound, 1.0))  # site j open: explored first
    return best, ub, min(low, ub), True, nodes


def p_median(
    costs: Any,
    weights: Any = None,
    p: int = 1,
    *,
    demand_ids: npt.ArrayLike | None = None,
    site_ids: npt.ArrayLike | None = None,
    existing: Iterable[Any] = (),
    capacities: npt.ArrayLike | pd.Series | None = None,
    side: SideConstraints | None = None,
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float | None = None,
) -> Solution:
    """p-median: open ``p`` new sites (existing kept) minimising the total weighted travel cost to the nearest site.

    Parameters
    ----------
    costs
        Demand × site travel costs (LabelledMatrix, scipy sparse, or dense array). In a sparse matrix an absent
        pair cannot be assigned (beyond the travel limit); a stored 0 is a real zero cost.
    capacities
        Optional capacity per site (array or Series by site id) in units of ``weights``. Demand may then be split.

    Returns
    -------
    Solution
        ``objective`` = Σ weight × cost of each demand's assigned site.
    """
    side = _with_existing(side, existing)
    t0 = time.perf_counter()
    M = as_matrix(costs, demand_ids, site_ids, what="`costs`")
    w = as_weights(weights, M.shape[0], M.row_ids)
    prep = prepare_sides(side, M.col_ids)
    allowed = prep.upper > 0
    n, m = M.shape
    p = check_p(p, int(allowed.sum()), int(prep.required.sum()))
    C = M.matrix.tocsr().copy()
    C.sort_indices()
    if C.nnz and not (np.isfinite(C.data).all() and (C.data >= 0).all()):
        # a negative cost would make "nearest site" and the Lagrangian bounds meaningless; refuse it here even when
        # the matrix was changed after it was checked
        raise ValidationError(
            "`costs`",
            [
                f"{int((~(C.data >= 0)).sum())} travel cost(s) are negative or not finite numbers; costs must be ≥ 0 "
                "(leave a pair out of a sparse matrix when a site cannot serve a demand)."
            ],
        )
    Ca = C[:, np.flatnonzero(allowed)]
    unreachable = np.flatnonzero((np.diff(Ca.tocsr().indptr) == 0) & (w > 0))
    if len(unreachable):
        raise InfeasibleModelError(
            f"p_median: {len(unreachable)} demand row(s) with weight > 0 have no allowed site within reach.",
            [f"demand {fmt_ids(M.row_ids[unreachable])} (raise the travel limit, add sites, or give them weight 0)"],
        )
    if capacities is not None:
        return _p_median_capacitated(M, w, p, capacities, prep, solver, time_limit_s, mip_rel_gap, t0)
    time_limit_s, mip_rel_gap = solver_options(time_limit_s, mip_rel_gap)
    coo = C.tocoo()
    keep = allowed[coo.col] & (w[coo.row] > 0)
    integral = bool(np.all(coo.data[keep] == np.round(coo.data[keep])) and np.all(w == np.round(w)))
    t_build = time.perf_counter() - t0  # "seconds" below: heuristics, bounds and solver together
    size: dict[str, Any] = {"demand_rows": n, "sites": m}
    fixed = np.zeros(m, dtype=bool)
    lag_bound, ub, slack = -math.inf, math.inf, 0.0
    y0: BoolArray | None = None
    bb_ran = False
    # heuristics and bounds get at most 40% of the time limit (the first interchange 15%, the Lagrangian dual
    # up to 30%); the solver has the rest
    deadline = t0 + 0.4 * time_limit_s
    pos = w > 0
    if not prep.rows and p > 0 and pos.any():
        # a good plan first: greedy, then interchange on a dense copy of the costs (up to 2·10⁷ entries)
        Cw, wp = (C, w) if pos.all() else (C[pos].tocsr(), w[pos])
        penalty = (float(coo.data[keep].max()) + 1.0) * (wp.sum() / wp.min() + 1.0)  # an unserved demand
        y0 = _greedy_median(Cw, wp, p, prep.required.copy(), allowed, penalty, deadline)
        D = _dense_costs(Cw, penalty)
        if y0 is not None and D is not None:
            y0 = _interchange(D, wp, prep.required, allowed, y0, deadline=t0 + 0.15 * time_limit_s)
        ub = _plan_cost(Cw, wp, y0) if y0 is not None else math.inf
        if not math.isfinite(ub):
            y0 = None
    if y0 is not None:
        slack = _slack(ub, integral)
        free = allowed & ~prep.required
        lag = _Lagrangian(Cw, wp)
        site_lb = np.where(free, -np.inf, np.inf)
        lag_bound, u, found, _ = lag.solve(
            p,
            prep.required,
            free,
            lag.start(),
            ub,
            slack,
            max_iter=3000,
            patience=_ROOT_PATIENCE,
            site_lb=site_lb,
            plans=8,
            D=D,
            deadline=t0 + 0.3 * time_limit_s,
        )
        # the cheapest relaxed plans, polished by interchange, often beat greedy + interchange (measured: the 7th of
        # 8 reached the optimum of a 900-node graph, p = 5, where greedy + interchange stopped 0.07% above)
        for plan in found:
            if lag_bound > ub - slack or time.perf_counter() > deadline:
                break
            # swaps only into sites that some plan cheaper than the best known may open (measured: n = 800, p = 80,
            # the root 5.7 s → 3.5 s)
            hopeful = allowed & ~(site_lb > ub - slack)
            y1 = _interchange(D, wp, prep.required, hopeful, plan, deadline=deadline) if D is not None else plan
            cost = _plan_cost(Cw, wp, y1)
            if cost < ub:
                y0, ub, slack = y1, cost, _slack(cost, integral)
        D = None
        # a site every plan through which costs at least as much as the best plan known can stay closed
        fixed = (site_lb > ub - slack) & free & ~y0
        n_fixed = int(fixed.sum())
        nodes, bb_done = 0, False
        if lag_bound <= ub - slack:
            # Lagrangian branch and bound over the sites left open to choice (measured: n = 900, p = 5 proven in
            # 4 s of CPU where HiGHS on the radius formulation needed 138 s, most of it on the root LP)
            cols = np.flatnonzero(allowed & ~fixed)
            bb_ran = True
            t_bb = time.perf_counter()
            size["seconds_to_branch_and_bound"] = round(t_bb - t0, 3)
            y_s, cost, bb_bound, bb_done, nodes = _branch_and_bound(
                Cw[:, cols].tocsr(),
                wp,
                p,
                prep.required[cols],
                free[cols],
                u,
                ub,
                y0[cols],
                integral,
                t0 + 0.9 * time_limit_s,
                mip_rel_gap,
            )
            size["seconds_branch_and_bound"] = round(time.perf_counter() - t_bb, 3)
            if cost < ub:
                y0 = np.zeros(m, dtype=bool)
                y0[cols[y_s]] = True
                ub, slack = cost, _slack(cost, integral)
            lag_bound = max(lag_bound, min(bb_bound, float(site_lb[fixed].min()) if fixed.any() else math.inf))
        size.update(
            heuristic_cost=ub,
            lagrangian_bound=lag_bound,
            sites_fixed_closed=n_fixed,
            branch_and_bound_nodes=nodes,
            branch_and_bound_finished=bb_done,
        )
    proven = y0 is not None and (lag_bound > ub - slack or ub - lag_bound <= mip_rel_gap * abs(ub))
    if y0 is not None and (proven or bb_ran):
        # the best plan meets the Lagrangian bound (within the gap asked for), or the branch and bound ran out of
        # time with a valid bound: no MIP (both need the plan y0)
        bound = None if not math.isfinite(lag_bound) else math.ceil(lag_bound - 1e-6) if integral else lag_bound
        how = "Lagrangian branch and bound" if bb_ran else "Lagrangian bound"
        raw = RawResult("optimal" if proven else "time_limit", None, ub, bound, None, 0.0, f"interchange + {how}")
        y = y0
    else:
        keep &= ~fixed[coo.col]
        upper = prep.upper.copy()
        upper[fixed] = 0.0
        reduced = replace(prep, upper=upper)
        r, c, d = coo.row[keep], coo.col[keep], coo.data[keep]
        order = np.lexsort((d, r))
        r, c, d = r[order], c[order], d[order]
        # distinct distance levels of each row, and each level's rank within its row
        new_level = np.r_[True, (r[1:] != r[:-1]) | (d[1:] != d[:-1])]
        level_of_pair = np.cumsum(new_level) - 1
        L = int(level_of_pair[-1]) + 1 if len(level_of_pair) else 0
        lvl_row = np.empty(L, dtype=np.int64)
        lvl_dist = np.empty(L)
        lvl_row[level_of_pair] = r
        lvl_dist[level_of_pair] = d
        lvl_first = np.r_[True, lvl_row[1:] != lvl_row[:-1]]
        lvl_rank = np.arange(L) - np.maximum.accumulate(np.where(lvl_first, np.arange(L), 0))
        n_levels = np.bincount(lvl_row, minlength=n)
        milp, ws = _radius_model(
            c, level_of_pair, lvl_row, lvl_dist, lvl_rank, n_levels, w, m, p, reduced, integral, y0
        )
        size.update(levels=L, nnz=int(milp.A.nnz))
        # the time limit covers the whole call: the solver gets what the bounds and heuristics left
        left = max(1.0, time_limit_s - (time.perf_counter() - t0))
        raw = run(
            milp,
            name="p_median",
            solver=solver,
            time_limit_s=left,
            mip_rel_gap=mip_rel_gap,
            warm_start=ws,
            started=t0,
            limit_s=time_limit_s,
        )
        y = solved_values(raw, "p_median")[:m] > 0.5
        if y0 is not None and ub < _plan_cost(C, w, y):
            y = y0  # a solver that ignored the start and stopped early: keep the better plan
        if raw.bound is not None:
            # plans opening a closed-off site cost at least that site's Lagrangian bound; every plan at least the
            # Lagrangian bound
            bound = min(raw.bound, float(site_lb[fixed].min())) if fixed.any() else raw.bound
            bound = max(bound, lag_bound)
            raw.bound = math.ceil(bound - 1e-6) if integral else bound
    assignment = nearest_assignment(C, C, y, M.row_ids, M.col_ids)
    obj = float((w * assignment["cost"].fillna(0).to_numpy()).sum())
    gap = raw.gap if raw.bound is None else max(0.0, obj - raw.bound) / max(abs(obj), 1e-9)
    return Solution(
        "p_median",
        raw.status,
        obj,
        raw.bound,
        gap,
        time.perf_counter() - t0 - t_build,
        t_build,
        list(M.col_ids[y]),
        list(M.col_ids[y & prep.required]),
        assignment,
        raw.solver,
        size,
        prep.notes,
        stalled=stall_figures(raw),
    )


def _radius_model(
    c: IntArray,
    level_of_pair: IntArray,
    lvl_row: IntArray,
    lvl_dist: FloatArray,
    lvl_rank: IntArray,
    n_levels: IntArray,
    w: FloatArray,
    m: int,
    p: int,
    prep: Prepared,
    integral: bool,
    y0: BoolArray | None,
) -> tuple[MILP, npt.NDArray[np.float64] | None]:
    """The incremental radius formulation: one constraint per (demand, distinct distance) level."""
    kept = np.ones(len(lvl_row), dtype=bool)
    last_kept = lvl_rank == n_levels[lvl_row] - 1
    has_z = ~last_kept  # the last level of a row has z = 0: every demand is served
    new_id = np.full(len(lvl_row), -1)
    nk = int(kept.sum())
    new_id[kept] = np.arange(nk)
    zvar = np.full(len(lvl_row), -1)
    nz = int(has_z.sum())
    zvar[has_z] = np.arange(nz)
    nxt = np.r_[lvl_dist[1:], 0.0]
    zcost = (w[lvl_row] * (nxt - lvl_dist))[has_z]
    first = kept & (lvl_rank == 0)
    offset = float((w[lvl_row[first]] * lvl_dist[first]).sum())
    pair_kept = kept[level_of_pair]
    rows_y, cols_y = new_id[level_of_pair[pair_kept]], c[pair_kept]
    zl = np.flatnonzero(has_z)
    rows_z, cols_z = new_id[zl], m + zvar[zl]
    prev = np.flatnonzero(kept & (lvl_rank > 0))
    rows_zp, cols_zp = new_id[prev], m + zvar[prev - 1]
    A_lvl = sp.csr_matrix(
        (
            np.r_[np.ones(len(rows_y)), np.ones(len(rows_z)), -np.ones(len(rows_zp))],
            (np.r_[rows_y, rows_z, rows_zp], np.r_[cols_y, cols_z, cols_zp]),
        ),
        shape=(nk, m + nz),
    )
    lo_lvl = np.where(lvl_rank[kept] == 0, 1.0, 0.0)
    count_row = sp.csr_matrix(np.r_[(~prep.required).astype(float), np.zeros(nz)][None, :])
    blocks: list[Block] = [(A_lvl, lo_lvl, math.inf), (count_row, p, p)]
    blocks += pad_columns(prep.rows, nz)
    A, rl, ru = stack_rows(blocks, m + nz)
    milp = MILP(
        c=np.r_[np.zeros(m), zcost],
        A=A,
        row_lower=rl,
        row_upper=ru,
        lower=np.r_[prep.lower, np.zeros(nz)],
        upper=np.r_[prep.upper, np.ones(nz)],
        integer=np.r_[np.ones(m, bool), np.zeros(nz, bool)],
        offset=offset,
        integral_objective=integral,
        presolve=False,  # measured: HiGHS presolve costs more than it saves on this formulation (pmed6 21 s → 11 s)
    )
    ws = None
    if y0 is not None:
        open_at = np.bincount(level_of_pair, weights=y0[c].astype(float), minlength=len(lvl_row)) > 0
        cum = np.cumsum(open_at)
        start_idx = np.flatnonzero(np.r_[True, lvl_row[1:] != lvl_row[:-1]])
        base = np.repeat(np.r_[0, cum[start_idx[1:] - 1]], np.diff(np.r_[start_idx, len(lvl_row)]))
        found = (cum - base) > 0
        z0 = np.zeros(nz)
        z0[zvar[zl]] = (~found[zl]).astype(float)
        ws = np.r_[y0.astype(float), z0]
    return milp, ws


def _p_median_capacitated(
    M: LabelledMatrix,
    w: FloatArray,
    p: int,
    capacities: npt.ArrayLike | pd.Series,
    prep: Prepared,
    solver: str | None,
    time_limit_s: float | None,
    mip_rel_gap: float | None,
    t0: float,
) -> Solution:
    n, m = M.shape
    if isinstance(capacities, pd.Series):
        by_site = capacities.reindex(M.col_ids)
        if by_site.isna().any():
            raise ValidationError("`capacities`", [f"no capacity for {int(by_site.isna().sum())} site(s)."])
        cap = by_site.to_numpy(float)
    else:
        cap = np.asarray(capacities, dtype=float)
        if cap.shape != (m,):
            raise ValidationError("`capacities`", [f"expected {m} capacities (one per site); got shape {cap.shape}."])
    if (cap < 0).any():
        raise ValidationError("`capacities`", ["capacities must be ≥ 0."])
    allowed = prep.upper > 0
    coo = M.matrix.tocoo()
    keep = allowed[coo.col]
    r, c, d = coo.row[keep], coo.col[keep], coo.data[keep]
    k = len(r)
    fixed_cap = cap[prep.required].sum()
    free = np.sort(cap[allowed & ~prep.required])[::-1][:p].sum()
    if fixed_cap + free + 1e-9 < w.sum():
        raise InfeasibleModelError(
            "p_median: the sites cannot hold all the demand.",
            [
                f"total demand {w.sum():,.0f} exceeds the capacity of the {p} largest new sites plus existing ones "
                f"({fixed_cap + free:,.0f}); raise p or capacities"
            ],
        )
    # variables: y (m), x (k pairs)
    assign = sp.csr_matrix((np.ones(k), (r, m + np.arange(k))), shape=(n, m + k))  # Σ_j x_ij = 1
    link = sp.csr_matrix(
        (np.r_[np.ones(k), -np.ones(k)], (np.r_[np.arange(k), np.arange(k)], np.r_[m + np.arange(k), c])),
        shape=(k, m + k),
    )  # x_ij - y_j ≤ 0
    capr = sp.csr_matrix(
        (
            np.r_[w[r], -cap[c[np.unique(c, return_index=True)[1]]]],
            (np.r_[c, np.unique(c)], np.r_[m + np.arange(k), np.unique(c)]),
        ),
        shape=(m, m + k),
    )
    count_row = sp.csr_matrix(np.r_[(~prep.required).astype(float), np.zeros(k)][None, :])
    has = w > 0
    blocks: list[Block] = [(assign[has], 1.0, 1.0), (link, -math.inf, 0.0), (capr, -math.inf, 0.0), (count_row, p, p)]
    blocks += pad_columns(prep.rows, k)
    A, rl, ru = stack_rows(blocks, m + k)
    milp = MILP(
        c=np.r_[np.zeros(m), w[r] * d],
        A=A,
        row_lower=rl,
        row_upper=ru,
        lower=np.r_[prep.lower, np.zeros(k)],
        upper=np.r_[prep.upper, np.ones(k)],
        integer=np.r_[np.ones(m, bool), np.zeros(k, bool)],
    )
    t_build = time.perf_counter() - t0
    raw = run(
        milp,
        name="p_median (capacitated)",
        solver=solver,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap,
        explain=["capacities, p and the travel limit together leave some demand without a site that has room"],
    )
    x = solved_values(raw, "p_median (capacitated)")
    y, xv = x[:m] > 0.5, x[m:]
    # assignment: each demand to the site carrying most of it
    frame = pd.DataFrame({"row": r, "col": c, "x": xv, "cost": d})
    frame = frame[frame["x"] > 1e-6].sort_values(["row", "x"], ascending=[True, False]).drop_duplicates("row")
    site = np.full(n, None, dtype=object)
    cost = np.full(n, np.nan)
    site[frame["row"].to_numpy()] = M.col_ids[frame["col"].to_numpy()]
    cost[frame["row"].to_numpy()] = frame["cost"].to_numpy()
    assignment = pd.DataFrame({"demand_id": M.row_ids, "site_id": site, "cost": cost, "covered": pd.notna(site)})
    split = int((pd.DataFrame({"row": r, "x": xv}).query("x > 1e-6").groupby("row").size() > 1).sum())
    notes = [*prep.notes, "capacitated: demand may be split between sites"]
    if split:
        notes.append(f"{split} demand row(s) are split between sites; the assignment shows each one's main site")
    size = {"demand_rows": n, "sites": m, "pairs": k, "nnz": int(A.nnz)}
    return Solution(
        "p_median",
        raw.status,
        math.fsum(w[r] * d * xv),  # Σ weight × cost × share of each pair, summed exactly
        raw.bound,
        raw.gap,
        raw.seconds,
        t_build,
        list(M.col_ids[y]),
        list(M.col_ids[y & prep.required]),
        assignment,
        raw.solver,
        size,
        notes,
        {"site_load": pd.Series(np.bincount(c, weights=w[r] * xv, minlength=m), index=M.col_ids)},
        stalled=stall_figures(raw),
    )


def p_center(
    costs: Any,
    p: int = 1,
    *,
    demand_ids: npt.ArrayLike | None = None,
    site_ids: npt.ArrayLike | None = None,
    existing: Iterable[Any] = (),
    side: SideConstraints | None = None,
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float | None = None,
) -> Solution:
    """p-center: open ``p`` new sites (existing kept) minimising the largest travel cost of any demand.

    Demand with zero weight is not ignored here (the centre problem is unweighted); pass only the rows that count.
    """
    side = _with_existing(side, existing)
    t0 = time.perf_counter()
    M = as_matrix(costs, demand_ids, site_ids, what="`costs`")
    prep = prepare_sides(side, M.col_ids)
    allowed = prep.upper > 0
    p = check_p(p, int(allowed.sum()), int(prep.required.sum()))
    C = M.matrix.tocsr()
    if (np.diff(C[:, np.flatnonzero(allowed)].tocsr().indptr) == 0).any():
        bad = M.row_ids[np.diff(C[:, np.flatnonzero(allowed)].tocsr().indptr) == 0]
        raise InfeasibleModelError(
            "p_center: some demand has no allowed site within reach.", [f"demand {fmt_ids(bad)}"]
        )
    levels = np.unique(C.data[allowed[C.tocoo().col]])
    n_req = int(prep.required.sum())
    lo, hi = 0, len(levels) - 1
    best = None
    total_seconds = 0.0
    all_optimal = True
    while lo <= hi:
        mid = (lo + hi) // 2
        cover = M.within(levels[mid])
        try:
            sol = set_cover(cover, side=side, solver=solver, time_limit_s=time_limit_s, mip_rel_gap=0.0)
        except InfeasibleModelError:
            lo = mid + 1
            continue
        total_seconds += sol.seconds
        all_optimal &= sol.optimal
        uncovered = len(sol.extra["uncoverable_rows"])
        if uncovered == 0 and len(sol.selected) - n_req <= p:
            best = (mid, sol)
            hi = mid - 1
        else:
            lo = mid + 1
    if best is None:
        raise InfeasibleModelError(
            "p_center: no radius lets p sites reach every demand.", ["raise p or the travel limit"]
        )
    mid, sol = best
    # pad with any allowed sites up to p new sites (does not change the radius)
    y = pd.Index(M.col_ids).isin(sol.selected)
    extra_needed = p - (int(y.sum()) - n_req)
    if extra_needed > 0:
        spare = np.flatnonzero(allowed & ~y)[:extra_needed]
        y[spare] = True
    assignment = nearest_assignment(C, C, y, M.row_ids, M.col_ids)
    radius = float(assignment["cost"].max())
    raw = RawResult(
        "optimal" if all_optimal else "time_limit",
        None,
        radius,
        radius if all_optimal else None,
        0.0 if all_optimal else None,
        total_seconds,
        sol.solver,
    )
    return Solution(
        "p_center",
        raw.status,
        radius,
        raw.bound,
        raw.gap,
        total_seconds,
        time.perf_counter() - t0 - total_seconds,
        list(M.col_ids[y]),
        list(M.col_ids[y & prep.required]),
        assignment,
        sol.solver,
        {"demand_rows": M.shape[0], "sites": M.shape[1], "radius_levels": len(levels)},
        prep.notes,
    )
