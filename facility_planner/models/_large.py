r"""Heuristics and bounds for large maximal-covering models: repair of group minima, swap local search and a
Lagrangian upper bound.

All functions work on the reduced problem built by :func:`facility_planner.models.coverage.max_cover`: ``U`` is the
0/1 coverage matrix (merged demand rows × candidate sites, CSR), ``wu`` the row weights.

Lagrangian bound (Galvão & ReVelle 1996's relaxation of maximal covering). Relax every link
:math:`z_i \le \sum_{j \in N_i} y_j` with :math:`\lambda_i \ge 0` and keep the group minima
:math:`\sum_{i \in g} w_i z_i \ge s_g W_g` in the subproblem:

.. math::
    L(\lambda) = \max_{z \in Z} \sum_i (w_i - \lambda_i) z_i
        + \sum_{j \in E} c_j + \max_{|S| = p,\, S \subseteq A \setminus E} \sum_{j \in S} c_j,
        \qquad c_j = \sum_{i \in N_j} \lambda_i,

with :math:`Z` the :math:`z \in [0,1]^n` meeting every group minimum (a continuous knapsack per group), :math:`E`
the required sites and :math:`A` the allowed ones. For *any* :math:`\lambda \ge 0` this is an upper bound on the
covered weight of every feasible plan (weak duality), so the bound reported is valid however far the subgradient
search got; its best value equals the LP relaxation's bound. :func:`lagrangian_value` evaluates the variant that
relaxes the minima too (multipliers :math:`\nu_g \ge 0`, e.g. an LP's duals):
:math:`\sum_i \max(0, w_i (1 + \nu_{g(i)}) - \lambda_i) + \dots - \sum_g \nu_g s_g W_g`.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ._milp import MILP, Block, Dive, solve_milp, stack_rows
from .base import weighted_bincount


def _covered(U: sp.csr_matrix, wu: npt.NDArray[np.float64], x: npt.NDArray[np.bool_]) -> float:
    """The weight the plan ``x`` covers."""
    return float(wu[np.asarray(U @ x.astype(float)).ravel() > 0].sum())


def group_cover(
    covered: npt.NDArray[np.bool_], wu: npt.NDArray[np.float64], codes: npt.NDArray[np.int64], n_groups: int
) -> npt.NDArray[np.float64]:
    """Covered weight per group (rows with code -1 belong to no group)."""
    has = codes >= 0
    return weighted_bincount(codes[has], np.where(covered, wu, 0.0)[has], n_groups)


def meets_minima(
    U: sp.csr_matrix,
    wu: npt.NDArray[np.float64],
    x: npt.NDArray[np.bool_],
    codes: npt.NDArray[np.int64] | None,
    need: npt.NDArray[np.float64] | None,
) -> bool:
    """Whether the plan ``x`` covers every group's minimum (always true without minima)."""
    if codes is None or need is None:
        return True
    covered = np.asarray(U @ x.astype(float)).ravel() > 0
    return bool(np.all(group_cover(covered, wu, codes, len(need)) >= need - 1e-9))


def _exclusive(
    C: sp.csr_matrix, opens: npt.NDArray[np.int64], cnt: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Rows covered by exactly one open site, with that site's position in ``opens``; ``C`` = Uᵀ in CSR (a gather)."""
    st = C.indptr[opens]
    ln = C.indptr[opens + 1] - st
    if ln.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows = C.indices[np.repeat(st - np.r_[0, np.cumsum(ln)[:-1]], ln) + np.arange(ln.sum())]
    k = np.repeat(np.arange(len(opens)), ln)
    one = cnt[rows] == 1
    return rows[one], k[one]


def repair_groups(
    U: sp.csr_matrix,
    wu: npt.NDArray[np.float64],
    x: npt.NDArray[np.bool_],
    keep_open: npt.NDArray[np.bool_],
    allowed: npt.NDArray[np.bool_],
    codes: npt.NDArray[np.int64],
    need: npt.NDArray[np.float64],
    *,
    deadline: float | None = None,
) -> npt.NDArray[np.bool_]:
    """Move sites until every group minimum holds (or no move helps): open the site covering the most uncovered weight
    of the groups short of their minimum, and close the open site whose loss is smallest among those whose closing
    keeps every group that meets its minimum at or above it. Starts from a good unconstrained plan, so only the short
    groups pay. The result may still miss a minimum (the caller checks).
    """
    U = U.tocsr()
    UT = U.T.tocsr()
    n_groups = len(need)
    x = x.copy()
    has = codes >= 0
    for _ in range(int(x.sum()) + 1):
        if deadline is not None and time.perf_counter() > deadline:
            break
        cnt = np.asarray(U @ x.astype(float)).ravel()
        covered = cnt > 0
        gc = group_cover(covered, wu, codes, n_groups)
        short = gc < need - 1e-9
        if not short.any():
            break
        in_short = has & short[np.maximum(codes, 0)]
        gain = UT @ np.where(~covered & in_short, wu, 0.0)
        gain[x | ~allowed] = -1
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        opens = np.flatnonzero(x & ~keep_open)
        rows1, kcol = _exclusive(UT, opens, cnt)
        loss = np.bincount(kcol, weights=wu[rows1], minlength=len(opens))
        # loss per (open site, group): closing k must keep every group at or above its minimum (or where it was)
        hr = has[rows1]
        Lg = sp.csr_matrix((wu[rows1][hr], (kcol[hr], codes[rows1][hr])), shape=(len(opens), n_groups)).toarray()
        col = UT.indices[UT.indptr[j] : UT.indptr[j + 1]]
        hc = has[col]
        gain_g = weighted_bincount(codes[col][hc], np.where(covered[col], 0.0, wu[col])[hc], n_groups)
        after = gc + gain_g
        ok = np.all((after[None, :] - Lg >= need[None, :] - 1e-9) | (Lg == 0), axis=1)
        if not ok.any():
            break
        k = opens[np.flatnonzero(ok)[np.argmin(loss[ok])]]
        x[k] = False
        x[j] = True
    return x


def swap_local_search(
    U: sp.csr_matrix,
    wu: npt.NDArray[np.float64],
    x: npt.NDArray[np.bool_],
    keep_open: npt.NDArray[np.bool_],
    allowed: npt.NDArray[np.bool_],
    *,
    codes: npt.NDArray[np.int64] | None = None,
    need: npt.NDArray[np.float64] | None = None,
    deadline: float | None = None,
    max_swaps: int = 100_000,
) -> tuple[npt.NDArray[np.bool_], int]:
    """Best-improvement interchange (one site out, one in) until no swap improves or time runs out.

    Each round prices every swap at once: closing open site k loses the weight only k covers; opening j gains the
    uncovered weight in its reach plus what it covers of k's exclusive weight (the sparse product
    ``Uᵀ · K`` over exclusively covered rows). With group minima, a swap is taken only if every minimum still holds.
    Returns the improved plan and the number of swaps made.
    """
    U = U.tocsr()
    UT = U.T.tocsr()
    n = U.shape[0]
    x = x.copy()
    mins = (codes, need) if codes is not None and need is not None else None
    swaps = 0
    while swaps < max_swaps and (deadline is None or time.perf_counter() < deadline):
        opens = np.flatnonzero(x)
        if len(opens) == 0 or not allowed[~x].any():
            break
        cnt = np.asarray(U @ x.astype(float)).ravel()
        unc = np.where(cnt == 0, wu, 0.0)
        gain = UT @ unc
        gain[x | ~allowed] = -np.inf
        rows1, kcol = _exclusive(UT, opens, cnt)
        loss = np.bincount(kcol, weights=wu[rows1], minlength=len(opens))
        loss[keep_open[opens]] = np.inf
        K = sp.csr_matrix((wu[rows1], (rows1, kcol)), shape=(n, len(opens)))
        S = (UT @ K).tocoo()
        cand_val = gain[S.row] - loss[S.col] + S.data
        cand_j, cand_k = S.row, S.col
        # pairs with no overlap: the best is the best gain with the smallest loss (overlap only adds)
        j0, k0 = int(np.argmax(gain)), int(np.argmin(loss))
        if np.isfinite(gain[j0]) and np.isfinite(loss[k0]):
            ov = float(K[:, [k0]].multiply(U[:, [j0]]).sum()) if K.nnz else 0.0
            cand_val = np.r_[cand_val, gain[j0] - loss[k0] + ov]
            cand_j, cand_k = np.r_[cand_j, j0], np.r_[cand_k, k0]
        ok = np.isfinite(cand_val) & (cand_val > 1e-9 * max(1.0, float(wu.sum())))
        if not ok.any():
            break
        order = np.flatnonzero(ok)[np.argsort(-cand_val[ok])]
        done = False
        if mins is None:
            b = order[0]
            x[opens[cand_k[b]]] = False
            x[cand_j[b]] = True
            done = True
        else:
            gcodes, gneed = mins
            base = group_cover(cnt > 0, wu, gcodes, len(gneed))
            for b in order[:50]:
                y = x.copy()
                y[opens[cand_k[b]]] = False
                y[cand_j[b]] = True
                cov_new = np.asarray(U @ y.astype(float)).ravel() > 0
                gc = group_cover(cov_new, wu, gcodes, len(gneed))
                if np.all((gc >= gneed - 1e-9) | (gc >= base - 1e-9)):
                    x = y
                    done = True
                    break
        if not done:
            break
        swaps += 1
    return x, swaps


def _count_open(C: sp.csc_matrix, cols: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.float64]:
    """For each row, how many of the sites ``cols`` reach it (a gather over the CSC columns; ~6× faster than U @ y)."""
    st = C.indptr[cols]
    ln = C.indptr[cols + 1] - st
    if ln.sum() == 0:
        return np.zeros(n)
    idx = C.indices[np.repeat(st - np.r_[0, np.cumsum(ln)[:-1]], ln) + np.arange(ln.sum())]
    return np.bincount(idx, minlength=n).astype(float)


def _z_part(
    a: npt.NDArray[np.float64],
    wu: npt.NDArray[np.float64],
    codes: npt.NDArray[np.int64] | None,
    need: npt.NDArray[np.float64] | None,
) -> npt.NDArray[np.float64]:
    r"""The best z of the Lagrangian subproblem, every group minimum kept.

    :math:`\max \sum_i a_i z_i` over :math:`z \in [0,1]` with :math:`\sum_{i \in g} w_i z_i \ge` ``need[g]``: a
    continuous knapsack per group. Every row with :math:`a_i > 0`, then, in a group still short, the rows that cost
    least per unit of weight, the last one fractionally. A group that cannot reach its minimum takes all its rows.
    """
    z = (a > 0).astype(float)
    if codes is None or need is None or not len(need):
        return z
    has = codes >= 0
    cov = np.bincount(codes[has], weights=(wu * z)[has], minlength=len(need))
    deficit = need - cov
    cand = np.flatnonzero(has & (z == 0) & (wu > 0))
    cand = cand[deficit[codes[cand]] > 1e-12]
    if len(cand) == 0:
        return z
    g = codes[cand]
    order = np.lexsort((-a[cand] / wu[cand], g))  # by group, then least cost per unit of weight first
    cand, g = cand[order], g[order]
    wc = wu[cand]
    csum = np.cumsum(wc)
    start = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    before = csum - wc - np.repeat(csum[start] - wc[start], np.diff(np.r_[start, len(g)]))
    z[cand] = np.clip((deficit[g] - before) / wc, 0.0, 1.0)
    return z


def lagrangian_bound(
    U: sp.csr_matrix,
    wu: npt.NDArray[np.float64],
    p: int,
    required: npt.NDArray[np.bool_],
    allowed: npt.NDArray[np.bool_],
    lower: float,
    *,
    codes: npt.NDArray[np.int64] | None = None,
    need: npt.NDArray[np.float64] | None = None,
    deadline: float | None = None,
    max_iter: int = 3000,
    target_gap: float = 0.0,
    lam0: npt.NDArray[np.float64] | None = None,
) -> tuple[float, int, npt.NDArray[np.float64]]:
    """Subgradient minimisation of the Lagrangian bound (module docstring); ``lower`` is the incumbent's value, the
    Polyak target.

    Group minima (``codes``, ``need``) stay in the subproblem (:func:`_z_part`), so only the links are relaxed and
    the search is over λ alone: measured on Beijing's stations with a district minimum of 30%, relaxing the minima
    too (multipliers ν) left the bound 2.6% above the LP's after 20 s, this way it is within 0.1% of it. Stops at
    ``max_iter``, the deadline, a step that vanished, or when the bound is within ``target_gap`` of ``lower``;
    ``lam0`` starts the multipliers (e.g. from a run without group minima). Returns (best valid bound, iterations,
    the multipliers λ of the best bound).
    """
    U = U.tocsr()
    UT = U.T.tocsr()
    C = U.tocsc()
    n = U.shape[0]
    free = allowed & ~required
    free_idx = np.flatnonzero(free)
    req_idx = np.flatnonzero(required)
    p = min(p, len(free_idx))
    groups = codes is not None and need is not None and len(need) > 0
    gc, gn = (codes, need) if groups else (None, None)
    deg = np.maximum(np.diff(U.indptr), 1)
    lam = wu / deg if lam0 is None else lam0.copy()
    lam_best = lam
    best = np.inf
    alpha, since, it = (2.0 if lam0 is None else 0.25), 0, 0
    for it in range(1, max_iter + 1):  # noqa: B007
        a = wu - lam
        c = UT @ lam
        cf = c[free_idx]
        top = free_idx[np.argpartition(-cf, p - 1)[:p]] if 0 < p < len(free_idx) else free_idx[:p]
        z = _z_part(a, wu, gc, gn)
        L = float(a @ z + c[req_idx].sum() + c[top].sum())
        if L < best - 1e-9 * max(1.0, abs(best) if np.isfinite(best) else 1.0):
            best, since, lam_best = L, 0, lam
        else:
            since += 1
            if since >= 20:
                alpha, since = alpha / 2, 0
        if best - lower <= target_gap * max(abs(lower), 1e-9) or alpha < 1e-6:
            break
        if deadline is not None and time.perf_counter() > deadline:
            break
        g = z - _count_open(C, np.r_[req_idx, top], n)
        nn = float(g @ g)
        if nn == 0:
            break
        step = alpha * max(L - lower, 1e-9 * max(abs(L), 1.0)) / nn
        # without minima λ_i > w_i never helps; with them a row forced in may need more
        lam = np.maximum(lam + step * g, 0.0) if groups else np.clip(lam + step * g, 0.0, wu)
    return best, it, lam_best


def lagrangian_value(
    U: sp.csr_matrix,
    wu: npt.NDArray[np.float64],
    p: int,
    required: npt.NDArray[np.bool_],
    allowed: npt.NDArray[np.bool_],
    lam: npt.NDArray[np.float64],
    *,
    codes: npt.NDArray[np.int64] | None = None,
    need: npt.NDArray[np.float64] | None = None,
    nu: npt.NDArray[np.float64] | None = None,
) -> float:
    r"""The Lagrangian bound :math:`L(\lambda, \nu)` of the module docstring at given multipliers.

    Valid for any :math:`\lambda, \nu \ge 0` (negative values are raised to 0), so multipliers taken from an
    approximate LP solution (e.g. the row duals of an interior-point solve) still give a proven upper bound on the
    covered weight of every plan; at the LP's optimal duals it equals the LP bound.
    """
    lam = np.maximum(np.asarray(lam, dtype=float), 0.0)
    a = wu.astype(float).copy()
    penalty = 0.0
    if codes is not None and need is not None and nu is not None and len(need):
        nu = np.maximum(np.asarray(nu, dtype=float), 0.0)
        has = codes >= 0
        a[has] *= 1.0 + nu[codes[has]]
        penalty = float(np.sum(nu * need))
    c = np.asarray(U.T @ lam).ravel()
    free_idx = np.flatnonzero(allowed & ~required)
    p = min(p, len(free_idx))
    cf = c[free_idx]
    top = float(np.sum(np.partition(-cf, p - 1)[:p])) * -1.0 if 0 < p < len(cf) else float(np.sum(cf[:p]))
    return float(np.sum(np.maximum(a - lam, 0.0)) + c[required].sum() + max(top, 0.0) - penalty)


def reduced_cost_closed(
    U: sp.csr_matrix,
    wu: npt.NDArray[np.float64],
    p: int,
    required: npt.NDArray[np.bool_],
    allowed: npt.NDArray[np.bool_],
    lam: npt.NDArray[np.float64],
    x: npt.NDArray[np.bool_],
    *,
    integral: bool,
) -> npt.NDArray[np.bool_]:
    r"""Sites that no plan better than ``x`` can open: they may be fixed closed without losing the optimum.

    At multipliers :math:`\lambda \ge 0` the Lagrangian bound is
    :math:`L = \sum_i (w_i - \lambda_i)^+ + \sum_{j \in E} c_j + \sum_{j \in T} c_j` with
    :math:`c_j = \sum_{i \ni j} \lambda_i` and :math:`T` the ``p`` free sites of largest :math:`c_j`. Forcing a site
    :math:`j \notin T` open replaces the smallest of :math:`T`, :math:`c_{(p)}`, so every plan that opens :math:`j`
    covers at most :math:`L_j = L - c_{(p)} + c_j`. When :math:`L_j` is not above the weight ``x`` covers (below it
    plus one for whole-number weights, where a plan's weight is whole), no plan opening :math:`j` beats ``x``.
    Sites ``x`` opens are never returned, so ``x`` stays a plan of the restricted model: its optimum is the whole
    model's, and a bound proven on it bounds the whole model too. Reduced-cost fixing in the sense of
    Beasley (1993, "Lagrangean relaxation", in *Modern heuristic techniques for combinatorial problems*).
    """
    lam = np.maximum(np.asarray(lam, dtype=float), 0.0)
    c = np.asarray(U.T @ lam).ravel()
    free_idx = np.flatnonzero(allowed & ~required)
    out = np.zeros(U.shape[1], bool)
    if not 0 < p < len(free_idx):
        return out
    cf = c[free_idx]
    c_p = float(-np.partition(-cf, p - 1)[p - 1])  # the p-th largest
    L = lagrangian_value(U, wu, p, required, allowed, lam)
    lower = _covered(U, wu, x)
    L_j = L - c_p + cf
    # a margin for rounding in L (sums of many floats): a site is fixed only when clearly below
    tol = 1e-9 * max(abs(L), 1.0)
    below = L_j < lower + 1.0 - tol if integral else L_j <= lower - tol
    out[free_idx[below]] = True
    out &= ~x
    return out


@dataclass
class PricedDive:
    """:func:`priced_lp_dive`'s result: the dive, and the sites its LP was solved over."""

    dive: Dive
    #: sites whose columns the LPs kept (every allowed site when the whole model was solved)
    sites: int
    #: LP solves over a set of sites that pricing then grew
    rounds: int
    #: whether the LP's optimum is proven to be the whole model's (unless time or rounds ran out while pricing, or no
    #: LP was solved in time)
    whole: bool


def priced_lp_dive(
    milp: MILP,
    U: sp.csr_matrix,
    wu: npt.NDArray[np.float64],
    p: int,
    required: npt.NDArray[np.bool_],
    allowed: npt.NDArray[np.bool_],
    *,
    deadline: float,
    max_steps: int | None = None,
    lower: float = 0.0,
    target_gap: float = 0.0,
    min_sites: int = 1000,
    per_site: int = 20,
    max_rounds: int = 20,
    max_rows_share: float = 0.4,
) -> PricedDive:
    r""":func:`~facility_planner.models._milp.lp_dive` on a maximal covering's MILP, its LP solved over a few sites
    and priced to the whole model's optimum.

    ``milp`` has the columns of :func:`~facility_planner.models.coverage.max_cover` (the sites, then one :math:`z_i`
    per row of ``U``), its links first, then the count row; no other rows. Most sites are not open in the LP's
    optimum, so the LP is first solved with only the ``max(min_sites, per_site × p)`` sites of largest
    :math:`c_j = \sum_{i \in N_j} \lambda_i` open to it, :math:`\lambda` from 200 subgradient steps
    (:func:`lagrangian_bound`). Its row duals are multipliers of the whole model's Lagrangian
    (:func:`lagrangian_value`, over every allowed site): where that equals the restricted LP's optimum, no site left
    out prices in and the restricted optimum is the whole LP's (strong duality); otherwise the sites whose
    :math:`c_j` beat the restricted model's p-th are added and the LP solved again. The dive then runs on the
    restricted model; its plan is a plan of the whole model, and the duals bound the whole model as before. When
    that plan is short of ``target_gap`` below the LP bound, a second, finer dive is tried and the better plan kept.

    Column generation in the sense of Gilmore & Gomory (1961); measured on Miyun's stations and mutual-aid points
    (10,000 rows × 10,000 sites, 57,000-99,000 entries): the LP in 0.14-0.58 s (1-3 rounds, about 1,000 sites)
    instead of 1.4-3.5 s by interior point over every site, at the same optimum. The whole model is solved as before
    when the few sites would be most of them, or when they reach more than ``max_rows_share`` of the rows.
    """
    from ._milp import lp_dive

    def whole_model() -> PricedDive:
        return PricedDive(lp_dive(milp, deadline=deadline, max_steps=max_steps), int(allowed.sum()), 1, True)

    m = U.shape[1]
    free = allowed & ~required
    k = max(min_sites, per_site * p)
    if k >= 0.5 * int(free.sum()):
        return whole_model()
    _, _, lam = lagrangian_bound(U, wu, p, required, allowed, lower, max_iter=200, deadline=deadline)
    c = np.asarray(U.T @ lam).ravel()
    cand = np.flatnonzero(free)
    sites = required & allowed
    sites[cand[np.argsort(-c[cand], kind="stable")[:k]]] = True
    nu = U.shape[0]
    reached = np.asarray(U[:, np.flatnonzero(sites)].sum(axis=1)).ravel() > 0
    if reached.mean() > max_rows_share:
        # the sites ranked first reach most of the demand: the restricted LP is nearly the whole one, and pricing
        # takes round after round (measured on SYNTHETIC towns where they reached 60-99% of the rows: 1-18 rounds,
        # 1.5-10x the whole LP's time; on Beijing's models where it pays they reach 13-33%)
        return whole_model()
    rounds = 0
    whole = False
    last: tuple[MILP, Dive, int] | None = None  # the last restricted LP solved, and its number of sites
    while True:
        restricted = dataclasses.replace(milp, upper=milp.upper.copy())
        restricted.upper[:m][~sites] = 0.0
        first = lp_dive(restricted, deadline=deadline, max_steps=1)
        rounds += 1
        if first.lp_objective is None or first.row_dual is None:
            if last is None:
                # not even the first restricted LP was solved in time: the whole model, with what time is left
                rest = lp_dive(milp, deadline=deadline, max_steps=max_steps)
                return PricedDive(rest, int(allowed.sum()), rounds, rest.lp_objective is not None)
            # time ran out while pricing: the last LP solved stands (its duals bound the whole model)
            restricted, first, _ = last
            break
        last = (restricted, first, int(sites.sum()))
        duals = np.abs(first.row_dual[:nu])
        if lagrangian_value(U, wu, p, required, allowed, duals) <= first.lp_objective + 1e-7 * max(
            1.0, abs(first.lp_objective)
        ):
            whole = True  # no site left out prices in: this is the whole LP's optimum
            break
        cj = np.asarray(U.T @ duals).ravel()
        inside = np.sort(cj[sites & ~required])[::-1]
        threshold = inside[min(p, len(inside)) - 1] if len(inside) else 0.0
        enter = np.flatnonzero(free & ~sites & (cj > threshold + 1e-9))
        if len(enter) == 0 or rounds >= max_rounds or time.perf_counter() > deadline:
            # rounding keeps the two apart, or time or rounds are up: the duals still bound the whole model (any λ ≥ 0
            # does), and the dive's plan is one of its plans
            break
        sites[enter[np.argsort(-cj[enter], kind="stable")[: max(k // 2, 1)]]] = True
    dive = first if max_steps == 1 else lp_dive(restricted, deadline=deadline, max_steps=max_steps)
    if dive.lp_objective is None:
        dive = first
    elif max_steps is None and dive.x is not None and first.lp_objective is not None:
        # the LP is cheap now, so a plan short of the gap asked gets a second, finer dive (a fifth as many sites
        # fixed per step), and the better plan is kept: which dive does better depends on the LP's vertex (measured
        # on four Miyun models: either won twice)
        covers = _covered(U, wu, dive.x[:m] > 0.5)
        if covers < first.lp_objective / (1.0 + target_gap) and time.perf_counter() < deadline:
            finer = lp_dive(restricted, deadline=deadline, max_steps=max_steps, fix_share=0.05)
            better = finer.x is not None and _covered(U, wu, finer.x[:m] > 0.5) > covers
            dive = dataclasses.replace(
                finer if better else dive, steps=dive.steps + finer.steps, seconds=dive.seconds + finer.seconds
            )
    return PricedDive(dive, last[2] if last is not None else int(sites.sum()), rounds, whole)


@dataclass
class SearchMemo:
    """What the region and window searches proved about one model's plans, kept from one search to the next.

    A window or region whose re-solve (exact, a dive, or stopped at its whole time limit) did not improve the plan is
    not re-solved until a site that its model depends on opens or closes: its model (its sites, the rows they reach,
    and which of those rows the rest of the plan covers) is the same until then. Pass one memo to every
    :func:`region_search` and :func:`window_search` of a model; the plan each search starts from is compared with the
    one the last ended with, so changes made in between (by swaps) count too. Not used with group minima, where a
    window's model counts the whole plan.
    """

    x: npt.NDArray[np.bool_] | None = None
    #: the sites each change opened or closed, in order
    changes: list[npt.NDArray[np.int64]] = field(default_factory=list)
    #: ("window", seed) or ("region", size, region) → len(changes) when it was last found unimprovable
    proven_at: dict[tuple[object, ...], int] = field(default_factory=dict)

    #: per kind of search, what its keys assume (the model's size, the window or region sizes)
    assumed: dict[str, tuple[object, ...]] = field(default_factory=dict)

    def bind(self, kind: str, *assumptions: object) -> None:
        """Forget what ``kind``'s searches proved if they ran with other assumptions (another model, other sizes)."""
        if self.assumed.get(kind, assumptions) != assumptions:
            self.proven_at = {k: v for k, v in self.proven_at.items() if k[0] != kind}
        self.assumed[kind] = assumptions

    def start(self, x: npt.NDArray[np.bool_]) -> None:
        """Record what changed since the last search ended."""
        if self.x is not None and self.x.shape != x.shape:  # another model: nothing proven holds
            self.x, self.changes, self.proven_at = None, [], {}
        if self.x is not None:
            moved = np.flatnonzero(self.x != x)
            if len(moved):
                self.changes.append(moved)

    def changed(self, x_old: npt.NDArray[np.bool_], x_new: npt.NDArray[np.bool_]) -> None:
        """Record an improvement a search made."""
        self.changes.append(np.flatnonzero(x_old != x_new))

    def proven(self, key: tuple[object, ...]) -> None:
        """``key``'s model cannot improve the current plan."""
        self.proven_at[key] = len(self.changes)

    def unchanged(self, key: tuple[object, ...], near: Callable[[], npt.NDArray[np.bool_]]) -> bool:
        """Whether ``key`` was found unimprovable and no site in ``near()`` (a mask of sites) changed since."""
        since = self.proven_at.get(key)
        if since is None:
            return False
        if since < len(self.changes):
            mask = near()
            if any(mask[c].any() for c in self.changes[since:]):
                return False
            self.proven_at[key] = len(self.changes)
        return True

    def end(self, x: npt.NDArray[np.bool_]) -> None:
        """Record the plan a search ended with."""
        self.x = x.copy()


def _no_better(bound: float, current: float, integral: bool) -> bool:
    """Whether a proven upper ``bound`` leaves no plan better than ``current`` (with whole-number weights, by 1)."""
    if integral:
        return math.floor(bound + 1e-6) <= current + 1e-9
    return bound <= current + 1e-9 * max(1.0, abs(current))


def _sites_touching(
    overlap: sp.csr_matrix, sites: npt.NDArray[np.int64], also: npt.NDArray[np.bool_] | None = None
) -> npt.NDArray[np.bool_]:
    """Mask of ``sites``, the sites that reach a row one of them reaches (``overlap``: sites × sites), and ``also``."""
    mask: npt.NDArray[np.bool_] = np.asarray(overlap[sites].sum(axis=0)).ravel() > 0
    mask[sites] = True  # a site that reaches no row is not in overlap, yet counts in its window's or region's count
    return mask | also if also is not None else mask


def _window_model(
    U: sp.csr_matrix,
    C: sp.csc_matrix,
    wu: npt.NDArray[np.float64],
    x: npt.NDArray[np.bool_],
    widx: npt.NDArray[np.int64],
    codes: npt.NDArray[np.int64] | None,
    need: npt.NDArray[np.float64] | None,
    integral: bool,
) -> tuple[MILP, npt.NDArray[np.int64], sp.csr_matrix, npt.NDArray[np.bool_], float, int] | None:
    """The plan ``x`` re-optimised over the sites ``widx`` only: the same number of them open, for the demand not
    already covered from outside, every group minimum kept (counting what outside sites cover). Returns the MILP
    (columns: the window's sites, then its rows' z), its rows, their coverage by the window's sites, which of them
    ``x`` covers, that weight and the count; ``None`` when the window reaches no uncovered demand.
    """
    k = int(x[widx].sum())
    outside = x.copy()
    outside[widx] = False
    cov_out = np.asarray(U @ outside.astype(float)).ravel() > 0
    rows = np.flatnonzero(np.asarray(C[:, widx].sum(axis=1)).ravel() > 0)
    rows = rows[~cov_out[rows]]
    if len(rows) == 0:
        return None
    Sub = U[rows][:, widx].tocsr()
    nr, nc = Sub.shape
    z_now = np.asarray(Sub @ x[widx].astype(float)).ravel() > 0
    cur = float(wu[rows][z_now].sum())
    blocks: list[Block] = [
        (sp.hstack([-Sub, sp.identity(nr, format="csr")], format="csr"), -math.inf, 0.0),
        (sp.csr_matrix(np.r_[np.ones(nc), np.zeros(nr)][None, :]), k, k),
    ]
    if codes is not None and need is not None:
        in_win = np.zeros(U.shape[0], bool)
        in_win[rows] = True
        covered_all = np.asarray(U @ x.astype(float)).ravel() > 0
        fixed_g = group_cover(covered_all & ~in_win, wu, codes, len(need))
        rc = codes[rows]
        gi = np.unique(rc[rc >= 0])
        gi = gi[need[gi] - fixed_g[gi] > 1e-9]
        if len(gi):
            sel = np.isin(rc, gi)
            Gm = sp.csr_matrix(
                (wu[rows][sel], (np.searchsorted(gi, rc[sel]), np.flatnonzero(sel))), shape=(len(gi), nr)
            )
            blocks.append(
                (sp.hstack([sp.csr_matrix((len(gi), nc)), Gm], format="csr"), need[gi] - fixed_g[gi], math.inf)
            )
    A, rl, ru = stack_rows(blocks, nc + nr)
    milp = MILP(
        c=np.r_[np.zeros(nc), wu[rows]],
        A=A,
        row_lower=rl,
        row_upper=ru,
        lower=np.zeros(nc + nr),
        upper=np.ones(nc + nr),
        integer=np.r_[np.ones(nc, bool), np.zeros(nr, bool)],
        maximize=True,
        integral_objective=integral,
    )
    return milp, rows, Sub, z_now, cur, k


def row_graph(U: sp.csr_matrix) -> sp.csr_matrix:
    """Rows × rows, 1 where some site reaches both rows."""
    G: sp.csr_matrix = sp.csr_matrix(U @ U.T)
    G.data[:] = 1
    return G


def partition_rows(
    U: sp.csr_matrix, max_rows: int, *, graph: sp.csr_matrix | None = None
) -> list[npt.NDArray[np.int64]]:
    """Demand rows split into compact pieces of at most ``max_rows``, without geometry.

    Two rows are neighbours when some site reaches both. A piece larger than ``max_rows`` is cut in two at the median
    breadth-first distance from a peripheral row (the row farthest from its first row), and each half is cut again,
    so pieces are contiguous blobs of the coverage graph, about as wide as they are long. ``graph``: the
    :func:`row_graph` of ``U``, when the caller already has it.
    """
    from scipy.sparse import csgraph

    G = row_graph(U) if graph is None else graph
    out: list[npt.NDArray[np.int64]] = []
    todo = [np.arange(U.shape[0])]
    while todo:
        rows = todo.pop()
        if len(rows) <= max_rows:
            out.append(rows)
            continue
        sub = G[rows][:, rows]
        d0 = csgraph.dijkstra(sub, unweighted=True, indices=np.array([0]))[0]
        far = int(np.argmax(np.where(np.isfinite(d0), d0, -1)))
        d = csgraph.dijkstra(sub, unweighted=True, indices=np.array([far]))[0]
        d = np.where(np.isfinite(d), d, np.nanmax(np.where(np.isfinite(d), d, np.nan)) + 1)
        order = np.argsort(d, kind="stable")
        half = len(rows) // 2
        todo += [rows[np.sort(order[:half])], rows[np.sort(order[half:])]]
    return sorted(out, key=lambda r: int(r[0]))


def row_argmax(S: sp.csr_matrix) -> npt.NDArray[np.int64]:
    """Column of each row's largest stored entry: the lowest column on ties, 0 for an empty row.

    As ``S.argmax(axis=1)`` for a matrix of non-negative entries, without scipy's loop over rows in Python (0.38 s
    against 0.04 s for the citywide stations' sites, once per pass of the region search).
    """
    S = S.copy()
    S.sum_duplicates()  # also sorts each row's columns, so the first maximum is the lowest column
    n = S.shape[0]
    counts = np.diff(S.indptr)
    out = np.zeros(n, np.int64)
    if not S.nnz:
        return out
    rows = np.repeat(np.arange(n), counts)
    full = counts > 0
    top = np.zeros(n)
    top[full] = np.maximum.reduceat(S.data, S.indptr[:-1][full])
    at = np.flatnonzero(S.data == top[rows])
    first_rows, first = np.unique(rows[at], return_index=True)
    out[first_rows] = S.indices[at[first]]
    return out


def region_search(
    U: sp.csr_matrix,
    wu: npt.NDArray[np.float64],
    x: npt.NDArray[np.bool_],
    keep_open: npt.NDArray[np.bool_],
    allowed: npt.NDArray[np.bool_],
    deadline: float,
    *,
    codes: npt.NDArray[np.int64] | None = None,
    need: npt.NDArray[np.float64] | None = None,
    max_rows: int = 1500,
    workers: int = 2,
    stop_at: float | None = None,
    memo: SearchMemo | None = None,
) -> tuple[npt.NDArray[np.bool_], int, int]:
    """Large-neighbourhood search over regions, each re-planned from its LP relaxation by a dive.

    The rows are cut into regions (:func:`partition_rows`) and each site belongs to the region of most of the rows it
    reaches. Region by region, most uncovered weight first, the region's open sites are re-placed among its sites by
    :func:`~facility_planner.models._milp.lp_dive` on the window model (the same number open, the rest of the plan
    fixed, every group minimum kept); the new plan is kept when it covers more. ``workers`` regions are dived at
    once, in threads (HiGHS releases the GIL). A second pass uses regions twice as large, so sites can move across
    the first pass's borders. Where the LP is tight this finds what swaps and small windows cannot (a chain of sites
    shifted together). Stops at the deadline or once the plan covers ``stop_at``. With ``memo``, a region whose dive
    did not improve the plan in an earlier search is skipped while no site its model depends on has changed (the dive
    is deterministic). Returns (plan, regions improved, regions tried).
    """
    from concurrent.futures import ThreadPoolExecutor

    from ._milp import lp_dive

    U = U.tocsr()
    C = U.tocsc()
    x = x.copy()
    integral = bool(np.all(wu == np.round(wu)))
    gcodes, gneed = (codes, need) if codes is not None and need is not None else (None, None)
    free = allowed & ~keep_open
    improved = tried = 0

    best = _covered(U, wu, x)
    memo = SearchMemo() if memo is None or codes is not None else memo  # with minima a region counts the whole plan
    memo.bind("region", U.shape, U.nnz, max_rows)
    memo.start(x)

    UT_U = (C.T @ U).tocsr()  # sites × sites: which reach a row in common
    G = row_graph(U)  # both passes cut the same graph
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for size in (max_rows, 2 * max_rows):
            parts = partition_rows(U, size, graph=G)
            owner = np.empty(U.shape[0], np.int64)
            for r, rows in enumerate(parts):
                owner[rows] = r
            n = len(owner)
            onehot = sp.csr_matrix((np.ones(n), (np.arange(n), owner)), shape=(n, len(parts)))
            site_owner = row_argmax((U.T @ onehot).tocsr())
            uncovered = np.asarray(U @ x.astype(float)).ravel() == 0
            order = list(np.argsort(-np.bincount(owner, weights=np.where(uncovered, wu, 0.0), minlength=len(parts))))
            while order and time.perf_counter() < deadline and (stop_at is None or best < stop_at):
                jobs: list[tuple[int, npt.NDArray[np.int64], Any, npt.NDArray[np.bool_], Any]] = []
                # the same pairs as without a memo: a region skipped leaves its place in the pair empty, so the others
                # are dived from the same plans
                batch, order[:workers] = order[:workers], []
                for r in batch:
                    widx = np.flatnonzero((site_owner == r) & free)
                    if memo.unchanged(("region", size, r), functools.partial(_sites_touching, UT_U, widx)):
                        continue
                    wm = _window_model(U, C, wu, x, widx, gcodes, gneed, integral) if x[widx].any() else None
                    if wm is None:
                        memo.proven(("region", size, r))
                        continue
                    # in a copy of this thread's context: a run's stop (RunStop) reaches the dive's solves
                    job = pool.submit(contextvars.copy_context().run, lp_dive, wm[0], deadline=deadline)
                    jobs.append((r, widx, wm, x, job))
                for r, widx, (_milp, _rows, _sub, _z, _cur, k), x_built, fut in jobs:
                    dive = fut.result()
                    tried += 1
                    if dive.x is None or int((dive.x[: len(widx)] > 0.5).sum()) != k:
                        continue
                    cand = x.copy()
                    cand[widx] = dive.x[: len(widx)] > 0.5
                    value = _covered(U, wu, cand)
                    if value <= best + 1e-9 or not meets_minima(U, wu, cand, gcodes, gneed):
                        if x is x_built:  # the model dived is still the plan's: it stays unimproved
                            memo.proven(("region", size, r))
                        continue
                    memo.changed(x, cand)
                    x, best = cand, value
                    improved += 1
    memo.end(x)
    return x, improved, tried


def window_search(
    U: sp.csr_matrix,
    wu: npt.NDArray[np.float64],
    x: npt.NDArray[np.bool_],
    keep_open: npt.NDArray[np.bool_],
    allowed: npt.NDArray[np.bool_],
    deadline: float,
    *,
    codes: npt.NDArray[np.int64] | None = None,
    need: npt.NDArray[np.float64] | None = None,
    hops: int = 2,
    max_sites: int = 400,
    window_time_s: float = 1.0,
    stop_at: float | None = None,
    memo: SearchMemo | None = None,
) -> tuple[npt.NDArray[np.bool_], int, int]:
    """Large-neighbourhood search: re-solve small windows of the plan exactly with the MIP.

    A window is an open site and every site within ``hops`` steps of it in the overlap graph (two sites are
    neighbours when some demand row is reachable from both), so no geometry is needed. Inside the window the same
    number of sites is re-placed optimally (HiGHS, ``window_time_s`` at most) for the demand not already covered from
    outside; with group minima the window keeps every group at or above its minimum. Windows are taken around every
    open site in turn (in a fixed pseudo-random order), pass after pass while a pass improves the plan, until the
    deadline, or until the plan covers ``stop_at``. A window found unimprovable is skipped until a site in it or next
    to it changes, within this search and, through ``memo``, the next ones. Returns (plan, windows improved, tried).
    """
    U = U.tocsr()
    C = U.tocsc()
    UT = C.T.tocsr()
    overlap = (UT @ U).tocsr()
    overlap.data[:] = 1
    x = x.copy()
    integral = bool(np.all(wu == np.round(wu)))
    improved = tried = 0
    free = allowed & ~keep_open
    rng = np.random.default_rng(0)
    seeds: list[np.int64] = []
    last_pass_improved = True
    # a window proven unimprovable stays so until a site in it or next to it changes: its model (its sites, and the
    # rows they reach that no outside site covers) is the same, so it is skipped (on Tongzhou's 101 stations the
    # second pass re-solved 100 unchanged windows for nothing, 2.4 s)
    memo = SearchMemo() if memo is None or codes is not None else memo  # with minima a window counts the whole plan
    memo.bind("window", U.shape, U.nnz, hops, max_sites)
    memo.start(x)
    while True:
        if not seeds:
            # a new pass over every open site, while the previous pass improved something and time remains
            if not last_pass_improved or time.perf_counter() > deadline:
                break
            seeds = list(rng.permutation(np.flatnonzero(x & ~keep_open)))
            last_pass_improved = False
        s = seeds.pop()
        if time.perf_counter() > deadline:
            break
        if not x[s]:
            continue
        win = np.zeros(U.shape[1], bool)
        win[s] = True
        for _ in range(hops):
            layer = (np.asarray(overlap[np.flatnonzero(win)].sum(axis=0)).ravel() > 0) & free & ~win
            room = max_sites - int(win.sum())
            idx = np.flatnonzero(layer)
            if len(idx) > room:
                idx = np.sort(np.random.default_rng(int(s)).choice(idx, room, replace=False))
            win[idx] = True
        widx = np.flatnonzero(win & free)
        key = ("window", int(s))
        # with group minima a window's model counts the whole plan
        if codes is None and memo.unchanged(key, functools.partial(_sites_touching, overlap, widx, win)):
            continue
        wm = _window_model(U, C, wu, x, widx, codes, need, integral)
        if wm is None:
            memo.proven(key)
            continue
        milp, rows, Sub, z_now, cur, k = wm
        nc = len(widx)
        ws = np.r_[x[widx].astype(float), z_now.astype(float)]
        left = deadline - time.perf_counter()
        if left <= 0.01:
            break
        tried += 1
        # the LP relaxation first: where its optimum, rounded down for whole-number weights, is the plan's own cover,
        # the window is proven unimprovable without branch-and-bound (measured on Miyun's 5 km/h stations: 113 of 147
        # windows, the same results in 15.5 s instead of 17.7 s)
        relax = solve_milp(
            dataclasses.replace(milp, integer=np.zeros_like(milp.integer)), time_limit_s=min(window_time_s, left)
        )
        if relax.status == "optimal" and relax.objective is not None and _no_better(relax.objective, cur, integral):
            memo.proven(key)
            continue
        left = deadline - time.perf_counter()
        if left <= 0.01:
            break
        limit = min(window_time_s, left)
        raw = solve_milp(milp, time_limit_s=limit, mip_rel_gap=0.0, warm_start=ws)
        if raw.x is None:
            continue
        y = raw.x[:nc] > 0.5
        z = np.asarray(Sub @ y.astype(float)).ravel() > 0
        if int(y.sum()) == k and float(wu[rows][z].sum()) > cur + 1e-9:
            cand = x.copy()
            cand[widx] = y
            if not meets_minima(U, wu, cand, codes, need):
                continue
            memo.changed(x, cand)
            x = cand
            improved += 1
            last_pass_improved = True
            if stop_at is not None and _covered(U, wu, x) >= stop_at:
                break
        elif raw.status == "optimal" or limit >= window_time_s:
            # proven optimal, or given its whole time limit and stopped there with nothing better: a re-solve of the
            # same model with the same limit ends the same way (measured: of Miyun's 5 km/h station windows, 8 hit
            # their 1 s limit, 5 of them the same window tried again, and none improved the plan), so it waits for its
            # part of the plan to change too. A window cut short by the search's deadline is tried again next time.
            memo.proven(key)
    memo.end(x)
    return x, improved, tried
