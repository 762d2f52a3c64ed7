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
closed off (reduced-cost fixing, then probing: the dual re-optimised with each remaining site forced open). Often
the bounds meet and no MIP is needed; otherwise the MIP is solved over the remaining sites, and the bound reported
combines the solver's with those of the closed sites, so it stays a proven bound for the whole problem. The
OR-Library pmed instances solve to optimality in under a second each.

p-median with capacities: the textbook assignment model over the stored pairs, :math:`x_{ij} \le y_j`,
:math:`\sum_i w_i x_{ij} \le C_j y_j`; demand may be split between sites.

p-center: the smallest :math:`D` such that ``p`` sites (plus the existing ones) reach every demand within
:math:`D`, found by bisection over the distinct costs, each step an exact set-covering problem.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._errors import InfeasibleModelError, ValidationError
from .._validate import fmt_ids
from ._milp import MILP, RawResult, pad_columns, solver_options, stack_rows
from .base import SideConstraints, Solution, as_matrix, as_weights, check_p, nearest_assignment, prepare_sides, run
from .coverage import _with_existing, set_cover


def _dense_costs(C: sp.csr_matrix, missing: float) -> np.ndarray | None:
    """A dense copy of the costs (``missing`` where a site cannot serve), for matrices up to 2·10⁷ entries."""
    n, m = C.shape
    if n * m > 2e7:
        return None
    Cc = C.tocoo()
    D = np.full((n, m), missing)
    D[Cc.row, Cc.col] = Cc.data
    return D


def _nearest_costs(C: sp.csr_matrix, open_mask, missing: float = np.inf) -> np.ndarray:
    """Each demand row's cost to its nearest open site (``missing`` if no open site reaches it)."""
    vals = np.where(open_mask[C.indices], C.data, np.inf)
    out = np.full(C.shape[0], np.inf)
    has = np.diff(C.indptr) > 0
    if C.nnz:
        out[has] = np.minimum.reduceat(vals, C.indptr[:-1][has])
    out[~np.isfinite(out)] = missing
    return out


def _greedy_median(C: sp.csr_matrix, w, p: int, required, allowed, penalty: float, deadline=math.inf):
    """Greedy add: open, ``p`` times, the site that saves most weighted cost (an unserved demand costs ``penalty``).

    Works on the stored pairs only, so its cost is ``p`` passes over the non-zeros. Returns the open-site mask.
    """
    Cc = C.tocsc()
    row, col = Cc.indices, np.repeat(np.arange(C.shape[1]), np.diff(Cc.indptr))
    chosen = required.copy()
    cur = _nearest_costs(C, chosen, penalty)
    for _ in range(p):
        if time.perf_counter() > deadline:
            return None
        saving = np.bincount(col, weights=w[row] * np.maximum(0.0, cur[row] - Cc.data), minlength=C.shape[1])
        saving[~allowed | chosen] = -1.0
        j = int(np.argmax(saving))
        if saving[j] < 0:
            return None
        chosen[j] = True
        sl = slice(Cc.indptr[j], Cc.indptr[j + 1])
        cur[row[sl]] = np.minimum(cur[row[sl]], Cc.data[sl])
    return chosen


def _interchange(D: np.ndarray, w, required, allowed, start, max_passes: int = 50, deadline=math.inf):
    """Best-improvement interchange (Teitz & Bart 1968) from the plan ``start``, on dense costs ``D`` in which a
    pair that cannot be served carries a prohibitive cost. Passes stop at ``deadline``."""
    n = D.shape[0]
    chosen = start.copy()
    for _ in range(max_passes):
        if time.perf_counter() > deadline:
            break
        open_ = np.flatnonzero(chosen)
        cand = np.flatnonzero(allowed & ~chosen)
        if not len(cand):  # every allowed site is open: nothing to swap in
            break
        Do = D[:, open_]
        order = np.argsort(Do, axis=1)
        d1 = Do[np.arange(n), order[:, 0]]
        # with one open site, closing it leaves nothing: the swap's cost is the new site's alone
        d2 = Do[np.arange(n), order[:, 1]] if len(open_) > 1 else np.full(n, np.inf)
        nearest = open_[order[:, 0]]
        base = float(w @ d1)
        best = (0.0, -1, -1)
        for j in np.flatnonzero(chosen & ~required):
            without = np.where(nearest == j, d2, d1)
            tot = w @ np.minimum(without[:, None], D[:, cand])
            k = int(np.argmin(tot))
            delta = float(tot[k]) - base
            if delta < best[0] - 1e-9 * max(1.0, abs(base)):
                best = (delta, j, cand[k])
        if best[1] < 0:
            break
        chosen[best[1]] = False
        chosen[best[2]] = True
    return chosen


def _plan_cost(C: sp.csr_matrix, w, open_mask) -> float:
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

    def __init__(self, C: sp.csr_matrix, w):
        self.C = C
        self.n, self.m = C.shape
        self.row = np.repeat(np.arange(self.n), np.diff(C.indptr))
        self.col = C.indices
        self.wd = w[self.row] * C.data
        self.w = w

    def start(self) -> np.ndarray:
        """Each demand's cheapest weighted cost: the multipliers whose bound is that of opening every site."""
        u = np.full(self.n, np.inf)
        np.minimum.at(u, self.row, self.wd)
        return u

    def solve(
        self,
        p,
        required,
        free,
        u,
        target,
        slack,
        *,
        max_iter,
        patience,
        lam=2.0,
        site_lb=None,
        plans=0,
        D=None,
        deadline=math.inf,
    ):
        """Raise the bound from multipliers ``u`` until it is within ``slack`` of ``target`` or the steps die out.

        ``site_lb`` (if given) is raised in place to the best per-site bound seen. With ``plans`` (a number) every
        relaxed plan is costed (on the dense costs ``D`` if given) and the cheapest ``plans`` distinct ones are
        returned, cheapest first. Returns ``(bound, multipliers, [plan masks], cheapest plan's cost)``.
        """
        row, col, wd = self.row, self.col, self.wd
        free_idx, req_idx = np.flatnonzero(free), np.flatnonzero(required)
        best, best_u, best_cost = -np.inf, u, np.inf
        pool: dict[bytes, tuple[float, np.ndarray]] = {}
        stall = 0
        for _ in range(max_iter):
            red = np.minimum(0.0, wd - u[row])
            rho = np.bincount(col, weights=red, minlength=self.m)
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
            g = 1.0 - np.bincount(row, weights=((red < 0) & open_[col]).astype(float), minlength=self.n)
            gg = float(g @ g)
            if gg == 0.0:  # the relaxed plan assigns every demand once: it is optimal
                break
            u = u + lam * (goal - L) / gg * g
        found = []
        for _, chosen in sorted(pool.values(), key=lambda v: v[0])[:plans]:
            mask = required.copy()
            mask[chosen] = True
            found.append(mask)
        return best, best_u, found, best_cost


def p_median(
    costs,
    weights=None,
    p: int = 1,
    *,
    demand_ids=None,
    site_ids=None,
    existing=(),
    capacities=None,
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
    size: dict = {"demand_rows": n, "sites": m}
    fixed = np.zeros(m, dtype=bool)
    lag_bound, ub, slack, y0 = -math.inf, math.inf, 0.0, None
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
            patience=30,
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
            y1 = _interchange(D, wp, prep.required, allowed, plan, deadline=deadline) if D is not None else plan
            cost = _plan_cost(Cw, wp, y1)
            if cost < ub:
                y0, ub, slack = y1, cost, _slack(cost, integral)
        D = None
        # a site every plan through which costs at least as much as the best plan known can stay closed
        fixed = (site_lb > ub - slack) & free & ~y0
        n_fixed = int(fixed.sum())
        probed = 0
        if lag_bound <= ub - slack:
            # probing: re-optimise the multipliers with each remaining site forced open, most promising first
            cols = np.flatnonzero(allowed & ~fixed)
            sub = _Lagrangian(Cw[:, cols].tocsr(), wp)
            free_s, req_s = free[cols].copy(), prep.required[cols]
            for k in np.argsort(-site_lb[cols]):
                if time.perf_counter() > deadline:
                    break
                if y0[cols[k]] or not free_s[k]:
                    continue
                forced = req_s.copy()
                forced[k] = True
                free_s[k] = False
                b, *_ = sub.solve(
                    p - 1, forced, free_s, u, ub, slack, max_iter=300, patience=10, lam=1.0, deadline=deadline
                )
                probed += 1
                if b > ub - slack:
                    fixed[cols[k]] = True
                    site_lb[cols[k]] = max(site_lb[cols[k]], b)
                else:
                    free_s[k] = True
        if not (free & ~fixed & ~y0).any():
            # every other site is closed off: no plan beats the best one known
            lag_bound = max(lag_bound, min(ub, float(site_lb[fixed].min()) if fixed.any() else ub))
        size.update(
            heuristic_cost=ub,
            lagrangian_bound=lag_bound,
            sites_fixed_closed=n_fixed,
            sites_probed=probed,
            sites_closed_by_probing=int(fixed.sum()) - n_fixed,
        )
    if y0 is not None and (lag_bound > ub - slack or ub - lag_bound <= mip_rel_gap * abs(ub)):
        # the heuristic plan meets the Lagrangian bound (within the gap asked for): no MIP needed
        bound = math.ceil(lag_bound - 1e-6) if integral else lag_bound
        raw = RawResult("optimal", None, ub, bound, None, 0.0, "interchange heuristic + Lagrangian bound")
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
        raw = run(milp, name="p_median", solver=solver, time_limit_s=left, mip_rel_gap=mip_rel_gap, warm_start=ws)
        y = raw.x[:m] > 0.5
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
    )


def _radius_model(c, level_of_pair, lvl_row, lvl_dist, lvl_rank, n_levels, w, m, p, prep, integral, y0):
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
    blocks = [(A_lvl, lo_lvl, math.inf), (count_row, p, p)]
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


def _p_median_capacitated(M, w, p, capacities, prep, solver, time_limit_s, mip_rel_gap, t0) -> Solution:
    n, m = M.shape
    if isinstance(capacities, pd.Series):
        cap = capacities.reindex(M.col_ids)
        if cap.isna().any():
            raise ValidationError("`capacities`", [f"no capacity for {int(cap.isna().sum())} site(s)."])
        cap = cap.to_numpy(float)
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
    blocks = [(assign[has], 1.0, 1.0), (link, -math.inf, 0.0), (capr, -math.inf, 0.0), (count_row, p, p)]
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
    y = raw.x[:m] > 0.5
    xv = raw.x[m:]
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
        float(raw.objective),
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
    )


def p_center(
    costs,
    p: int = 1,
    *,
    demand_ids=None,
    site_ids=None,
    existing=(),
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
