r"""Coverage models: set covering, partial set covering and maximal covering, as sparse MILPs.

Notation: demand rows :math:`i` with weight :math:`w_i`, candidate sites :math:`j`, :math:`N_i` the sites that
reach demand :math:`i` (the stored entries of row :math:`i` of the coverage matrix), :math:`x_j \in \{0,1\}` open,
:math:`z_i \in [0,1]` covered.

* Set covering (LSCP, Toregas et al. 1971): :math:`\min \sum_j c_j x_j` s.t. :math:`\sum_{j \in N_i} x_j \ge 1`
  for every demand that some allowed site can reach.
* Partial set covering: :math:`\min \sum_j c_j x_j` s.t. :math:`z_i \le \sum_{j \in N_i} x_j`,
  :math:`\sum_i w_i z_i \ge s \sum_i w_i` (share :math:`s` of all demand weight, reachable or not).
* Maximal covering (MCLP, Church & ReVelle 1974): :math:`\max \sum_i w_i z_i` s.t.
  :math:`z_i \le \sum_{j \in N_i} x_j`, :math:`\sum_{j \notin E} x_j = p`, :math:`x_j = 1` for existing sites
  :math:`E`.

:math:`z` may be continuous: with integer :math:`x` an optimal :math:`z_i` is 1 exactly when row :math:`i` is
covered. Before solving, demand no allowed site reaches is set aside, rows with identical coverage sets are merged
(weights summed), and sites that reach nothing are dropped; a greedy plan improved by swaps is passed to the solver as
a start.

Equity: ``max_cover(..., groups=district, min_group_share=0.3)`` adds
:math:`\sum_{i \in g} w_i z_i \ge s_g W_g` per group; :func:`facility_planner.models.equity.price_rule` solves the
model without and with a rule and states the proven interval of what the rule costs.

Solving. Every MIP starts from its LP relaxation (HiGHS's interior-point method; for a plain maximal covering over
more than 2,000 useful sites, solved over the sites a Lagrangian ranks first and priced until no site left out would
enter, :func:`~facility_planner.models._large.priced_lp_dive`) and a *dive* from it
(:func:`~facility_planner.models._milp.lp_dive`: the largest fractional sites fixed open, the LP re-solved, until it is
integral), improved by swaps and, if still short of the gap asked, by small windows re-solved exactly. The LP's duals
give a proven bound (:func:`~facility_planner.models._large.lagrangian_value`, valid for any multipliers); when the plan
is within the gap asked of it, branch-and-bound is skipped. Measured on Beijing districts (2,300-2,800 cells,
170-190 stations, 15 minutes' walk): 0.29-0.5% in 2-4 s, where HiGHS's branch-and-bound alone was at 2.1% after
30 s (its own heuristics find poor plans; the LP bound is tight). Otherwise the MIP gets the rest of the time, started
from the best plan, with the sites closed that the LP's duals prove no better plan opens
(:func:`~facility_planner.models._large.reduced_cost_closed`; Miyun's 29 stations: 8,969 of 9,453 sites).

Large models (``method="lagrangian"``, chosen by ``"auto"`` above :data:`LARGE_NNZ` coverage entries). On the
Beijing 500 m grid (77,000 rows × 79,000 sites, 850,000 entries, p = 1,200) the LP relaxation alone takes about 60 s
(interior point; simplex is slower), and highspy 1.16 offers no working lazy constraints or user cuts
(``kCallbackMipDefineLazyConstraints`` is named, but ERGO-Code/HiGHS PR #1636 closed unmerged; issues #1837, #3078),
so branch-and-Benders-cut (Cordeau, Furini & Ljubić 2019) is not available through it. What is done instead: greedy
and swaps; then regions of about 1,500 rows re-planned one by one from their own LP relaxation by a dive, two at a
time in threads (:func:`~facility_planner.models._large.region_search`); then windows of the plan (two steps in the
site-overlap graph around each open site) re-solved exactly by the MIP; and a Lagrangian bound
(:mod:`facility_planner.models._large`) with the group minima kept in its subproblem, valid for the whole problem.
Measured in 30 s on this 2-core machine: the citywide stations under a 30% district minimum at 2.5-2.7% (5.9% with
greedy, swaps and windows alone and the minima relaxed in the bound). The gap that remains is stated and flagged
(``Solution.gap_exceeded``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from .. import settings
from .._errors import InfeasibleModelError, SolverError, ValidationError
from ..matrices import LabelledMatrix
from ._large import (
    SearchMemo,
    _covered,
    lagrangian_bound,
    lagrangian_value,
    meets_minima,
    priced_lp_dive,
    reduced_cost_closed,
    region_search,
    repair_groups,
    swap_local_search,
    window_search,
)
from ._milp import MILP, Block, RawResult, lp_dive, pad_columns, relative_gap, solver_options, stack_rows
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
    search_status,
    solved_values,
    stall_figures,
    weighted_bincount,
)


def merge_identical_rows(
    R: sp.csr_matrix, w: npt.NDArray[np.float64], labels: npt.ArrayLike | None = None
) -> tuple[sp.csr_matrix, npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Merge rows with the same set of sites (and the same label, when ``labels`` is given, e.g. a group code).

    Returns (unique rows, summed weights, row → unique row index).
    """
    R = R.tocsr()
    R.sort_indices()
    keys: list[object] = [R.indices[R.indptr[i] : R.indptr[i + 1]].tobytes() for i in range(R.shape[0])]
    if labels is not None:
        keys = [(k, lab) for k, lab in zip(keys, np.asarray(labels).tolist(), strict=True)]
    codes, _uniq = pd.factorize(pd.Series(keys, dtype=object))
    first = np.unique(codes, return_index=True)[1]
    U = R[first]
    return U, weighted_bincount(codes, w, len(first)), codes.astype(np.int64)


def dominated_columns(U: sp.csr_matrix, allowed: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.bool_]:
    """Columns whose set of rows lies inside another allowed column's set (of identical sets, all but the first).

    From the sparse overlap matrix UᵀU: column j is dominated by k when |rows(j) ∩ rows(k)| = |rows(j)|, k covers
    more (or the same and comes first) and k may open (``allowed``; every column by default): a site inside a
    forbidden site's reach is not dominated, since the forbidden one never opens. Dropping dominated columns never
    worsens a coverage model with unit site costs and no per-site side constraints.
    """
    B = U.tocsc().astype(bool).astype(np.int32)
    size = np.asarray(B.sum(axis=0)).ravel()
    ov = (B.T @ B).tocoo()
    j, k, v = ov.row, ov.col, ov.data
    cond = (j != k) & (v == size[j]) & ((size[k] > size[j]) | ((size[k] == size[j]) & (k < j)))
    if allowed is not None:
        cond &= np.asarray(allowed, dtype=bool)[k]
    out = np.zeros(U.shape[1], dtype=bool)
    out[j[cond]] = True
    return out


def greedy_max_cover(
    R: sp.csr_matrix, w: npt.NDArray[np.float64], p: int, fixed: npt.NDArray[np.bool_], allowed: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Greedy maximal covering: fixed sites first, then repeatedly the site adding the most uncovered weight."""
    R = R.tocsr()
    C = R.tocsc()
    n, _m = R.shape
    chosen = fixed.copy()
    covered = np.asarray(R[:, np.flatnonzero(fixed)].sum(axis=1)).ravel() > 0 if fixed.any() else np.zeros(n, bool)
    gain = np.asarray(C.T @ np.where(covered, 0.0, w)).ravel()
    gain[~allowed | chosen] = -1
    for _ in range(p):
        j = int(np.argmax(gain))
        if gain[j] < 0:
            break
        chosen[j] = True
        gain[j] = -1
        rows = C.indices[C.indptr[j] : C.indptr[j + 1]]
        new = rows[~covered[rows]]
        if len(new):
            covered[new] = True
            dec = np.asarray(R[new].T @ w[new]).ravel()
            gain -= dec
            gain[chosen | ~allowed] = -1
    return chosen


def _prepare(
    coverage: Any, weights: Any, demand_ids: Any, site_ids: Any, side: SideConstraints | None
) -> tuple[
    LabelledMatrix, npt.NDArray[np.float64], Prepared, sp.csr_matrix, npt.NDArray[np.bool_], npt.NDArray[np.bool_]
]:
    M = as_matrix(coverage, demand_ids, site_ids)
    w = as_weights(weights, M.shape[0], M.row_ids)
    prep = prepare_sides(side, M.col_ids)
    R = M.matrix.copy().tocsr()
    R.data = np.ones_like(R.data)
    allowed = prep.upper > 0
    R_allowed = R[:, np.flatnonzero(allowed)] if not allowed.all() else R
    reach = np.diff(R_allowed.tocsr().indptr) > 0
    return M, w, prep, R, allowed, reach


def max_cover_milp(
    U: sp.csr_matrix,
    wu: npt.NDArray[np.float64],
    p: int,
    *,
    p_lo: int | None = None,
    required: npt.NDArray[np.bool_] | None = None,
    lower: npt.NDArray[np.float64] | None = None,
    upper: npt.NDArray[np.float64] | None = None,
    extra: list[Block] | None = None,
) -> MILP:
    r"""The maximal covering MILP over merged demand rows ``U`` (rows × sites) of weights ``wu``.

    Columns: the sites, then one :math:`z_i` per row. Rows: the links :math:`z_i - \sum_{j \in N_i} x_j \le 0`,
    then the count of new sites (not ``required``) between ``p_lo`` (``p`` by default) and ``p``, then ``extra`` row
    blocks over the same columns. The layout :func:`~facility_planner.models._large.priced_lp_dive` expects when
    there are no extra rows. ``lower`` and ``upper`` bound the sites (0 and 1 by default).
    """
    nu, m = U.shape
    required = np.zeros(m, bool) if required is None else required
    A_link = sp.hstack([-U, sp.identity(nu, format="csr")], format="csr")  # z_k - Σ x_j ≤ 0
    count_row = sp.csr_matrix(np.r_[(~required).astype(float), np.zeros(nu)][None, :])
    blocks: list[Block] = [(A_link, -math.inf, 0.0), (count_row, p if p_lo is None else p_lo, p), *(extra or [])]
    A, rl, ru = stack_rows(blocks, m + nu)
    return MILP(
        c=np.r_[np.zeros(m), wu],
        A=A,
        row_lower=rl,
        row_upper=ru,
        lower=np.r_[np.zeros(m) if lower is None else lower, np.zeros(nu)],
        upper=np.r_[np.ones(m) if upper is None else upper, np.ones(nu)],
        integer=np.r_[np.ones(m, bool), np.zeros(nu, bool)],
        maximize=True,
        integral_objective=bool(np.all(wu == np.round(wu))),
        root_ipm=True,
    )


def _start_mask(
    start: Any, site_ids: npt.NDArray[Any], required: npt.NDArray[np.bool_], allowed: npt.NDArray[np.bool_], p: int
) -> npt.NDArray[np.bool_] | None:
    """``max_cover``'s ``start`` (site ids) as a mask over the sites.

    A clear error for unknown ids or more than ``p`` new sites that may open (forbidden ones are dropped, not counted).
    """
    if start is None:
        return None
    ids = list(pd.unique(pd.Series([start] if isinstance(start, str) else list(start), dtype=object)))
    pos = pd.Index(site_ids).get_indexer(ids)
    problems = []
    if (pos < 0).any():
        unknown = [str(i) for i, k in zip(ids, pos, strict=True) if k < 0]
        problems.append(
            f"`start` names {len(unknown)} site id(s) that are not candidate sites: {', '.join(unknown[:5])}"
            + (" ..." if len(unknown) > 5 else "")
        )
    mask = np.zeros(len(site_ids), dtype=bool)
    mask[pos[pos >= 0]] = True
    n_new = int((mask & ~required & allowed).sum())
    if n_new > p:
        problems.append(f"`start` opens {n_new} new sites; at most p = {p}")
    if problems:
        raise ValidationError("`start`", problems)
    return mask


def _finish(
    model_name: str,
    M: LabelledMatrix,
    raw: RawResult,
    x_sites: npt.NDArray[np.float64],
    prep: Prepared,
    t_build: float,
    size: dict[str, int],
    notes: list[str],
    objective: float | None = None,
    extra: dict[str, Any] | None = None,
    requested_gap: float | None = None,
) -> Solution:
    open_mask = x_sites > 0.5
    assignment = nearest_assignment(M.matrix, M.matrix, open_mask, M.row_ids, M.col_ids)
    selected = list(M.col_ids[open_mask])
    existing = list(M.col_ids[open_mask & prep.required])
    if objective is None:
        objective = raw.objective
    if objective is None:
        raise SolverError(f"{model_name}: solver {raw.solver} ended ({raw.status}) without an objective value.")
    objective = float(objective)
    gap = raw.gap if raw.bound is None else relative_gap(objective, raw.bound)
    return Solution(
        model=model_name,
        status=raw.status,
        objective=objective,
        best_bound=raw.bound,
        gap=gap,
        seconds=raw.seconds,
        build_seconds=t_build,
        selected=selected,
        existing_sites=existing,
        assignment=assignment,
        solver=raw.solver,
        size=size,
        notes=prep.notes + notes,
        extra=extra or {},
        requested_gap=requested_gap,
        stalled=stall_figures(raw),
    )


#: above this many coverage entries (after reductions), ``method="auto"`` bounds with the Lagrangian instead of the
#: MIP: measured on the Beijing 500 m grid (850,000 entries) HiGHS spends 65-90 s on the root LP alone
LARGE_NNZ = 400_000
#: the share of the time limit the LP relaxation and its dive may take before branch-and-bound gets the rest
DIVE_SHARE = 0.5
#: with ``method="lagrangian"``, the share of the time limit by which the region search (LP dives) stops
REGION_SHARE = 0.6
#: with ``method="lagrangian"``, the share of the time limit spent improving the plan (greedy, swaps, windows); the
#: rest tightens the bound
WINDOW_SHARE = 0.7


def max_cover(
    coverage: Any,
    weights: Any = None,
    p: int = 1,
    *,
    demand_ids: Any = None,
    site_ids: Any = None,
    existing: Any = (),
    side: SideConstraints | None = None,
    groups: Any = None,
    min_group_share: float | Mapping[Any, float] | None = None,
    capacity: Any = None,
    method: str = "auto",
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float | None = None,
    start: Any = None,
) -> Solution:
    r"""Maximal covering: open ``p`` new sites (existing ones kept) to maximise the covered demand weight.

    With ``groups`` and ``min_group_share`` each group (e.g. district) must have at least its share of its own
    weight covered: :math:`\sum_{i \in g} w_i z_i \ge s_g W_g`, with :math:`W_g` all of the group's weight
    (reachable or not). With ``capacity`` the model is the capacitated one
    (:func:`facility_planner.models.capacity.capacitated_max_cover`).

    Parameters
    ----------
    coverage
        :class:`~facility_planner.matrices.LabelledMatrix` (demand × site; an entry = within reach) or a scipy
        sparse matrix with ``demand_ids`` / ``site_ids``.
    weights
        Demand weight per row (e.g. older population); 1 each by default. A Series is aligned by demand id.
    p
        Number of *new* sites.
    existing
        Site ids already open: kept, not counted in ``p`` (added to ``side.required``).
    side
        :class:`SideConstraints` (per-unit limits, forbidden sites, budget).
    groups
        A label per demand row (array in row order, or a Series / mapping by demand id), e.g. district codes.
        Coverage per group is reported in ``extra["group_coverage"]``; rows without a label belong to no group.
    min_group_share
        Minimum covered share of each group's weight: one share for every group, or a mapping label → share
        (groups not named have no minimum). A minimum that no plan can meet raises
        :class:`InfeasibleModelError` naming the groups.
    capacity
        People (weight) one site can serve: a number or a mapping / Series site id → capacity.
    method
        ``"mip"``: the MILP on HiGHS (or ``solver``), started from greedy + swap local search. ``"lagrangian"``:
        greedy + swap local search, bounded by the Lagrangian relaxation (valid for the whole problem; for very
        large models whose LP alone takes minutes). ``"auto"``: ``"mip"`` up to :data:`LARGE_NNZ` coverage entries
        after reductions, else ``"lagrangian"``.
    demand_ids, site_ids
        Row and column ids when ``coverage`` is a plain scipy matrix (0..n-1 by default).
    solver, time_limit_s, mip_rel_gap
        The solver (``"highs"`` or a PuLP solver name), its time limit in seconds and the relative optimality gap
        at which it may stop (defaults from :mod:`facility_planner.settings`).
    start
        Site ids of a plan to start from instead of the greedy one, e.g. the plan of the same model without an
        equity rule (:func:`~facility_planner.models.equity.price_rule` passes it): its sites that may open are
        kept, completed greedily to ``p`` new sites, then improved (and, with group minima, repaired) as any start.
        At most ``p`` new sites. Not used by models with per-unit or budget rows (they start from the solver) or
        with capacities.

    Returns
    -------
    Solution
        ``objective`` is the covered weight; ``extra["covered_share"]`` its share of all weight;
        ``best_bound`` a proven upper bound on the covered weight of any plan; ``gap_exceeded`` says whether the
        gap is above the requested ``mip_rel_gap``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.csr_matrix(np.array([[1, 0], [1, 1], [0, 1]]))
    >>> max_cover(A, [5, 1, 2], p=1).selected == [0]
    True
    """
    if capacity is not None:
        if groups is not None or min_group_share is not None:
            raise ValidationError(
                "`capacity`", ["capacities and group minima together are not supported yet; drop one of them."]
            )
        if start is not None:  # not used with capacities (see above), but a wrong id is still an error
            ids = as_matrix(coverage, demand_ids, site_ids).col_ids
            _start_mask(start, ids, np.zeros(len(ids), bool), np.ones(len(ids), bool), len(ids))
        from .capacity import capacitated_max_cover

        return capacitated_max_cover(
            coverage,
            weights,
            p,
            capacity=capacity,
            demand_ids=demand_ids,
            site_ids=site_ids,
            existing=existing,
            side=side,
            solver=solver,
            time_limit_s=time_limit_s,
            mip_rel_gap=mip_rel_gap,
        )
    if method not in ("auto", "mip", "lagrangian"):
        raise ValidationError("`method`", [f"`method` must be 'auto', 'mip' or 'lagrangian'; got {method!r}."])
    side = _with_existing(side, existing)
    time_limit_s, mip_rel_gap = solver_options(time_limit_s, mip_rel_gap)
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    M, w, prep, R, allowed, reach = _prepare(coverage, weights, demand_ids, site_ids, side)
    n_req = int(prep.required.sum())
    p = check_p(p, int(allowed.sum()), n_req)
    start_mask = _start_mask(start, M.col_ids, prep.required, prep.upper > 0, p)
    total = float(w.sum())
    grp = _groups(groups, min_group_share, M, w, reach)
    keep = reach & (w > 0)
    codes_rows = grp.codes[keep] if grp else None
    U, wu, row_code = merge_identical_rows(R[keep], w[keep], codes_rows)
    # the group minima, when some group has one: group code per merged row, and the weight each group needs
    mins: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None = None
    if grp is not None and codes_rows is not None and grp.need_any:
        mins = (codes_rows[np.unique(row_code, return_index=True)[1]], grp.need)
    gkw: dict[str, Any] = {"codes": mins[0], "need": mins[1]} if mins is not None else {}
    m = R.shape[1]
    nu = U.shape[0]
    upper = prep.upper.copy()
    p_lo = p
    if not prep.rows:
        # a site that reaches no demand adds nothing: fix it closed, and open fewer than p only if no other site helps
        useful = (np.asarray(U.sum(axis=0)).ravel() > 0) & ~dominated_columns(U, upper > 0)
        upper[~useful & ~prep.required] = 0
        p_lo = min(p, int((upper[~prep.required] > 0).sum()))
    # start: greedy, improved by swaps; with group minima, then repaired (sites moved to the short groups) and
    # improved again by swaps that keep every minimum
    x0 = None
    n_swaps = 0
    if not prep.rows:
        if start_mask is None:
            x0 = greedy_max_cover(U, wu, p_lo, prep.required.copy(), upper > 0)
        else:
            # the given plan's sites that may open, completed greedily (a site the reductions closed is replaced)
            x0 = (start_mask & (upper > 0)) | prep.required
            x0 = greedy_max_cover(U, wu, p_lo - int((x0 & ~prep.required).sum()), x0, upper > 0)
        x0, n_swaps = swap_local_search(U, wu, x0, prep.required, upper > 0, deadline=t0 + 0.1 * time_limit_s)
        if mins is not None:
            # the repair must finish for the plan to be usable: it may take up to half the time limit
            x0 = repair_groups(U, wu, x0, prep.required, upper > 0, *mins, deadline=t0 + 0.5 * time_limit_s)
            if meets_minima(U, wu, x0, *mins):
                x0, more = swap_local_search(
                    U,
                    wu,
                    x0,
                    prep.required,
                    upper > 0,
                    **gkw,
                    deadline=max(t0 + 0.1 * time_limit_s, time.perf_counter() + 0.02 * time_limit_s),
                )
                n_swaps += more
            else:
                x0 = None  # no plan found that meets every minimum: the solver finds one, or proves there is none
    use_lagrangian = method == "lagrangian" or (method == "auto" and U.nnz > LARGE_NNZ)
    if use_lagrangian and (prep.rows or x0 is None):
        use_lagrangian = False  # the Lagrangian needs a plain count constraint and a feasible start
    notes = []
    t_build = time.perf_counter() - t0
    if use_lagrangian and x0 is not None:
        # improve the plan: regions re-planned from their LP relaxation by a dive, then small windows re-solved
        # exactly (together about half the time); then bound it
        # one memo for every search: a region or window found unimprovable is not re-solved until its part of the plan
        # changes (measured: Miyun's 20, 28 and 36 stations at 5 km/h, the same plans in 7.9, 10.8 and 9.2 s instead
        # of 9.0, 10.9 and 11.9 s)
        memo = SearchMemo()
        x0, n_regions_better, n_regions = region_search(
            U, wu, x0, prep.required, upper > 0, t0 + REGION_SHARE * time_limit_s, memo=memo, **gkw
        )
        x0, n_better, n_windows = window_search(
            U, wu, x0, prep.required, upper > 0, t0 + WINDOW_SHARE * time_limit_s, memo=memo, **gkw
        )
        x0, more = swap_local_search(
            U, wu, x0, prep.required, upper > 0, deadline=t0 + WINDOW_SHARE * time_limit_s, **gkw
        )
        n_swaps += more
        lower = _covered(U, wu, x0)
        t1 = time.perf_counter()
        # the group minima stay in the Lagrangian subproblem (a knapsack per group), so this bounds the plan asked for
        bkw: dict[str, Any] = {"codes": mins[0], "need": mins[1] - 1e-9} if mins is not None else {}
        bound, iters, _ = lagrangian_bound(
            U, wu, p_lo, prep.required, upper > 0, lower, deadline=deadline, target_gap=mip_rel_gap, **bkw
        )
        searched_out = False  # whether the last searches ended before their deadlines: nothing left to try
        while not searched_out and time.perf_counter() < deadline - 0.02 * time_limit_s:
            # the bound converged early: spend what is left on the plan, regions first (half the time left), then
            # windows; again while the regions were cut short and time remains
            until = deadline - 0.5 * (deadline - time.perf_counter())
            x0, r2, rt2 = region_search(U, wu, x0, prep.required, upper > 0, until, memo=memo, **gkw)
            searched_out = time.perf_counter() < until
            n_regions_better, n_regions = n_regions_better + r2, n_regions + rt2
            x0, b2, w2 = window_search(U, wu, x0, prep.required, upper > 0, deadline, memo=memo, **gkw)
            x0, more = swap_local_search(U, wu, x0, prep.required, upper > 0, deadline=deadline, **gkw)
            n_better, n_windows, n_swaps = n_better + b2, n_windows + w2, n_swaps + more
            lower = _covered(U, wu, x0)
        if np.all(wu == np.round(wu)):
            bound = math.floor(bound + 1e-6)
        bound = max(bound, lower)
        gap = relative_gap(lower, bound)
        # ended before its limit: the search had nothing left to try and the bound had converged (measured: the
        # citywide stations with a 300 s limit end after 105 s at 0.96%), so a longer limit would not help
        status, ended = search_status(gap, mip_rel_gap, t0, time_limit_s, searched_out=searched_out)
        raw = RawResult(
            status,
            x0.astype(float),
            lower,
            bound,
            gap,
            time.perf_counter() - t1,
            "greedy + swaps; Lagrangian bound",
            extra={"lagrangian_iterations": iters, "swaps": n_swaps, **ended},
        )
        notes.append(
            f"large model ({U.nnz:,} coverage entries): plan by greedy, {n_regions_better} of {n_regions} regions "
            f"re-planned from their LP relaxation, {n_swaps} swaps and {n_better} of {n_windows} windows re-solved "
            f"exactly; bound by the Lagrangian relaxation ({iters} subgradient steps)"
        )
        x = x0.astype(float)
    else:
        more_rows: list[Block] = []
        gi = np.flatnonzero(mins[1] > 0) if mins is not None else np.zeros(0, np.int64)
        if mins is not None:
            cu, need = mins
            G = sp.csr_matrix((wu[cu >= 0], (cu[cu >= 0], np.flatnonzero(cu >= 0))), shape=(len(need), nu))[gi]
            more_rows.append((sp.hstack([sp.csr_matrix((len(gi), m)), G], format="csr"), need[gi] - 1e-9, math.inf))
        more_rows += pad_columns(prep.rows, nu)
        milp = max_cover_milp(
            U, wu, p, p_lo=p_lo, required=prep.required, lower=prep.lower, upper=upper, extra=more_rows
        )
        integral = milp.integral_objective
        t_build = time.perf_counter() - t0
        # the LP relaxation and a dive from it: a proven bound and, where the LP is tight, a plan within the gap asked
        # for, before (and often instead of) branch-and-bound
        dive_bound, dive_steps, dive_lam = None, 0, None
        if (solver or settings.solver).lower() == "highs":
            # with no gap allowed only branch-and-bound proves a fractional LP's optimum: the LP alone then (its plan
            # if it is integral), and the solver's time for the rest (measured: a full dive first made a 10,000 ×
            # 3,000 maximal covering 40% slower)
            dive_until = t0 + DIVE_SHARE * time_limit_s
            steps_cap = 1 if mip_rel_gap == 0 else None
            if not prep.rows and mins is None:
                # the LP over a few sites, priced to the whole model's optimum (measured on Miyun's stations: 0.14 s
                # instead of 1.8 s by interior point over all 9,780 sites, the same optimum)
                priced = priced_lp_dive(
                    milp, U, wu, p, prep.required, upper > 0, deadline=dive_until, max_steps=steps_cap,
                    lower=_covered(U, wu, x0) if x0 is not None else 0.0, target_gap=mip_rel_gap,
                )  # fmt: skip
                dive = priced.dive
                n_allowed = int((upper > 0).sum())
                if priced.sites < n_allowed:
                    notes.append(
                        f"LP relaxation over {priced.sites:,} of {n_allowed:,} candidate sites, "
                        + (
                            f"priced to the whole model's optimum in {priced.rounds} round(s)"
                            if priced.whole
                            else f"not priced to the whole model's optimum in {priced.rounds} round(s) (time or rounds "
                            "ran out; its duals still bound the whole model)"
                        )
                    )
            else:
                dive = lp_dive(milp, deadline=dive_until, max_steps=steps_cap)
            dive_steps = dive.steps
            if dive.x is not None:
                xd = dive.x[:m] > 0.5
                if not prep.rows:
                    xd, more = swap_local_search(
                        U, wu, xd, prep.required, upper > 0, deadline=t0 + DIVE_SHARE * time_limit_s, **gkw
                    )
                    n_swaps += more
                ok = mins is None or meets_minima(U, wu, xd, *mins)
                if ok and (x0 is None or _covered(U, wu, xd) > _covered(U, wu, x0)):
                    x0 = xd
            if dive.row_dual is not None and not prep.rows:
                dive_lam = np.abs(dive.row_dual[:nu])
                nu_g = None
                if mins is not None:
                    nu_g = np.zeros(len(mins[1]))
                    nu_g[gi] = np.abs(dive.row_dual[nu + 1 : nu + 1 + len(gi)])
                dive_bound = lagrangian_value(
                    U, wu, p, prep.required, upper > 0, np.abs(dive.row_dual[:nu]),
                    codes=mins[0] if mins else None, need=mins[1] - 1e-9 if mins else None, nu=nu_g,
                )  # fmt: skip
                if integral:
                    dive_bound = math.floor(dive_bound + 1e-6)
        n_better = n_windows = 0
        if dive_bound is not None and x0 is not None and not prep.rows and mip_rel_gap > 0:
            # the dive's plan is close: small windows re-solved exactly often close the rest faster than the MIP (a
            # fifth of the time at most; with no gap allowed only branch-and-bound can prove the optimum)
            goal = dive_bound / (1.0 + mip_rel_gap)
            if _covered(U, wu, x0) < goal:
                until = min(t0 + WINDOW_SHARE * time_limit_s, time.perf_counter() + 0.2 * time_limit_s)
                x0, n_better, n_windows = window_search(U, wu, x0, prep.required, upper > 0, until, stop_at=goal, **gkw)
        lower = _covered(U, wu, x0) if x0 is not None else -math.inf
        if x0 is not None and dive_bound is not None and relative_gap(lower, max(dive_bound, lower)) <= mip_rel_gap:
            bound = max(dive_bound, lower)
            raw = RawResult(
                "optimal",
                np.r_[x0.astype(float), (np.asarray(U @ x0.astype(float)).ravel() > 0).astype(float)],
                lower,
                bound,
                relative_gap(lower, bound),
                time.perf_counter() - t0 - t_build,
                "highs",
                "LP relaxation and dive",
                extra={"dive_steps": dive_steps, "swaps": n_swaps},
            )
            notes.append(
                f"plan from the LP relaxation by a dive ({dive_steps} LPs), {n_swaps} swaps and {n_better} of "
                f"{n_windows} windows re-solved exactly; bound from the LP's duals, so branch-and-bound was not needed"
            )
        else:
            ws = None
            if x0 is not None:
                z0 = (np.asarray(U @ x0.astype(float)).ravel() > 0).astype(float)
                ws = np.r_[x0.astype(float), z0]
            if dive_lam is not None and x0 is not None and mins is None and p_lo == p:
                # sites the LP's duals prove no better plan opens are closed before branch-and-bound; the optimum
                # and every bound proven stay those of the whole model (measured: Miyun's 29 stations, 8,969 of
                # 9,453 sites closed, branch-and-bound 7.5 s -> 3.5 s)
                closed = reduced_cost_closed(U, wu, p, prep.required, upper > 0, dive_lam, x0, integral=integral)
                n_closed, n_open = int(closed.sum()), int(((upper > 0) & ~prep.required).sum())
                # a few sites closed change the model little but do change HiGHS's path: Tongzhou's 101 stations
                # with 14 of 3,932 closed took 5 s in branch-and-bound instead of 3 s, so only a tenth or more
                if n_closed and n_closed >= 0.1 * n_open:
                    milp.upper[:m][closed] = 0.0
                    notes.append(
                        f"{n_closed:,} of {n_open:,} candidate sites closed before branch-and-bound: "
                        "the LP's duals prove no plan that opens one of them beats the plan found"
                    )
            remaining = max(deadline - time.perf_counter(), 0.05 * time_limit_s)
            explain = grp.explain(p) if grp is not None and mins is not None else ()
            # with a plan from our own search, HiGHS's root reduced-cost sub-MIP adds little and nothing stops it
            # (measured on nine Beijing district models with the same start: seven the same plans, three of them
            # 6-19 s faster; two 0.07% and 0.17% lower, still within the gap asked; the 10,000 x 3,000 benchmark the
            # same optimum, 3.2-3.8 s instead of 4.2 s)
            milp.root_reduced_cost_heuristic = ws is None
            # the rows are merged, dominated and useless sites closed already; when the optimum must be proven, HiGHS's
            # root cuts do the proof and its presolve (7% of the rest removed on the 10,000 x 3,000 benchmark) slows
            # them. Measured without it, gap 0: 1.2-2.5x faster on eight random 10,000 x 3,000 instances at 1 km
            # (p = 250 and 500), 482 s instead of 581 s on four at 1.5 km (one 6.6x faster, three 10-20% slower).
            # With a gap allowed it is kept: there finding a plan within the gap decides, and without presolve
            # Miyun's mutual-aid points took 8.5-9.5 s instead of 6-6.6 s (Tongzhou's stations 4.4 s instead of 7-9 s)
            milp.presolve = bool(prep.rows) or mins is not None or mip_rel_gap > 0
            milp.stall_watch = True
            raw = run(
                milp,
                name="max_cover",
                solver=solver,
                time_limit_s=remaining,
                mip_rel_gap=mip_rel_gap,
                warm_start=ws,
                explain=explain,
                started=t0,
                limit_s=time_limit_s,
            )
            if dive_bound is not None and raw.objective is not None and (raw.bound is None or dive_bound < raw.bound):
                # the LP's bound is tighter than what branch-and-bound proved in its time (e.g. stopped in its root)
                bound = max(dive_bound, raw.objective)
                gap = relative_gap(raw.objective, bound)
                raw = replace(raw, bound=bound, gap=gap, status="optimal" if gap <= mip_rel_gap else raw.status)
        x = solved_values(raw, "max_cover")[:m]
    covered = np.asarray(R @ (x > 0.5)).ravel() > 0
    covered_w = float(w[covered].sum())
    if p_lo < p:
        notes.append(f"only {p_lo} new site(s) add coverage; the other {p - p_lo} would reach no uncovered demand")
    if (~reach).any():
        notes.append(
            f"{int((~reach).sum())} demand row(s) (weight {w[~reach].sum():,.0f}, {w[~reach].sum() / max(total, 1e-12):.1%}) "
            "are out of reach of every allowed site"
        )
    size = {"demand_rows": M.shape[0], "merged_rows": nu, "sites": m, "nnz": int(M.matrix.nnz)}
    extra: dict[str, Any] = {
        "covered_weight": covered_w,
        "total_weight": total,
        "covered_share": covered_w / total if total else 0.0,
        "method": "lagrangian" if use_lagrangian else "mip",
    }
    if raw.bound is not None and total:
        extra["bound_share"] = float(raw.bound) / total
    if grp:
        extra["group_coverage"] = grp.table(covered, w)
    return _finish(
        "max_cover",
        M,
        raw,
        x,
        prep,
        t_build,
        size,
        notes,
        objective=covered_w,
        extra=extra,
        requested_gap=mip_rel_gap,
    )


class _Groups:
    """Demand groups (e.g. districts) with optional minimum covered shares."""

    def __init__(
        self,
        labels: list[Any],
        codes: npt.NDArray[np.int64],
        weight: npt.NDArray[np.float64],
        share: npt.NDArray[np.float64],
        need: npt.NDArray[np.float64],
        reach_w: npt.NDArray[np.float64],
    ) -> None:
        self.labels = labels  # group labels, in code order
        self.codes = codes  # per demand row: group code, -1 for none
        self.weight = weight  # W_g: all weight of the group
        self.share = share  # s_g (0 where no minimum)
        self.need = need  # s_g W_g
        self.reach_w = reach_w  # weight within reach of some allowed site

    @property
    def need_any(self) -> bool:
        return bool((self.need > 0).any())

    def explain(self, p: int) -> list[str]:
        out = [
            f"group {lab}: minimum {s:.1%} of {wg:,.0f} = {nd:,.0f} (at most {rw / max(wg, 1e-12):.1%} is within reach)"
            for lab, s, wg, nd, rw in zip(self.labels, self.share, self.weight, self.need, self.reach_w, strict=True)
            if nd > 0
        ]
        return [
            f"with p = {p} new sites the group minima cannot all be met at once; lower the minima or raise p",
            *out,
        ]

    def table(self, covered: npt.NDArray[np.bool_], w: npt.NDArray[np.float64]) -> pd.DataFrame:
        has = self.codes >= 0
        cov = np.bincount(self.codes[has], weights=np.where(covered, w, 0.0)[has], minlength=len(self.labels))
        return pd.DataFrame(
            {
                "group": self.labels,
                "weight": self.weight,
                "covered_weight": cov,
                "covered_share": np.where(self.weight > 0, cov / np.maximum(self.weight, 1e-12), 0.0),
                "min_share": self.share,
            }
        )


def _groups(
    groups: Any,
    min_group_share: float | Mapping[Any, float] | None,
    M: LabelledMatrix,
    w: npt.NDArray[np.float64],
    reach: npt.NDArray[np.bool_],
) -> _Groups | None:
    """Group codes per demand row, group weights and minima; every impossible minimum in one error."""
    if groups is None:
        if min_group_share is not None:
            raise ValidationError("`min_group_share`", ["a minimum share per group needs `groups` (a label per row)."])
        return None
    n = M.shape[0]
    problems = []
    if isinstance(groups, pd.Series | Mapping):
        ser = pd.Series(groups) if not isinstance(groups, pd.Series) else groups
        lab = ser.reindex(M.row_ids)
    else:
        arr = np.asarray(groups, dtype=object)
        if arr.shape != (n,):
            raise ValidationError("`groups`", [f"expected one label per demand row ({n}); got shape {arr.shape}."])
        lab = pd.Series(arr)
    codes, uniques = pd.factorize(lab, use_na_sentinel=True)
    labels = list(uniques)
    weight = weighted_bincount(codes[codes >= 0], w[codes >= 0], len(labels))
    reach_w = weighted_bincount(codes[(codes >= 0) & reach], w[(codes >= 0) & reach], len(labels))
    share = np.zeros(len(labels))
    if min_group_share is not None:
        if isinstance(min_group_share, Mapping):
            unknown = [k for k in min_group_share if k not in set(labels)]
            if unknown:
                problems.append(f"`min_group_share` names {len(unknown)} group(s) with no demand row: {unknown[:10]}.")
            share = np.array([float(min_group_share.get(g, 0.0)) for g in labels])
        elif isinstance(min_group_share, int | float) and not isinstance(min_group_share, bool):
            share = np.full(len(labels), float(min_group_share))
        else:
            problems.append(f"`min_group_share` must be a share or a mapping group → share; got {min_group_share!r}.")
        if ((share < 0) | (share > 1) | ~np.isfinite(share)).any():
            problems.append("every minimum share must be in [0, 1], e.g. 0.3 for 30%.")
    if problems:
        raise ValidationError("group minima", problems)
    need = share * weight
    short = np.flatnonzero(reach_w + 1e-9 < need)
    if len(short):
        raise InfeasibleModelError(
            f"max_cover: {len(short)} group minimum(s) cannot be met by any plan:",
            [
                f"group {labels[k]}: minimum {share[k]:.1%} of {weight[k]:,.0f} but only "
                f"{reach_w[k] / max(weight[k], 1e-12):.1%} is within reach of any allowed site"
                for k in short
            ],
        )
    return _Groups(labels, codes.astype(np.int64), weight, share, need, reach_w)


def _with_existing(side: SideConstraints | None, existing: Any) -> SideConstraints | None:
    existing = list(existing)
    if not existing:
        return side
    side = side or SideConstraints()
    return SideConstraints(
        site_units=side.site_units,
        min_per_unit=side.min_per_unit,
        max_per_unit=side.max_per_unit,
        units=side.units,
        required=list(side.required) + existing,
        forbidden=side.forbidden,
        budget=side.budget,
        site_cost=side.site_cost,
    )


def set_cover(
    coverage: Any,
    *,
    demand_ids: Any = None,
    site_ids: Any = None,
    existing: Any = (),
    side: SideConstraints | None = None,
    costs: Any = None,
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float | None = None,
) -> Solution:
    """Set covering: the fewest (or cheapest, with ``costs``) sites such that every reachable demand is covered.

    Demand that no allowed site can reach is set aside and reported in ``notes`` (never silently).

    Parameters
    ----------
    coverage
        :class:`~facility_planner.matrices.LabelledMatrix` (demand × site; an entry = within reach) or a scipy
        sparse matrix with ``demand_ids`` / ``site_ids``.
    demand_ids, site_ids
        Row and column ids when ``coverage`` is a plain scipy matrix (0..n-1 by default).
    existing
        Site ids already open: kept, and counted in the objective at their cost (added to ``side.required``).
    side
        :class:`SideConstraints` (per-unit limits, forbidden sites, budget).
    costs
        Cost per site (array in column order, or a Series / mapping by site id); 1 each by default.
    solver, time_limit_s, mip_rel_gap
        The solver (``"highs"`` or a PuLP solver name), its time limit in seconds and the relative optimality gap
        at which it may stop (defaults from :mod:`facility_planner.settings`).

    Returns
    -------
    Solution
        ``objective`` is the total cost (the number of sites with unit costs), existing sites included at their
        cost; ``best_bound`` a proven lower bound on it.
    """
    side = _with_existing(side, existing)
    t0 = time.perf_counter()
    M, _w, prep, R, allowed, reach = _prepare(coverage, None, demand_ids, site_ids, side)
    cost = _costs(costs, M)
    U, _, _ = merge_identical_rows(R[reach], np.ones(int(reach.sum())))
    m = R.shape[1]
    blocks = [(U, 1.0, math.inf), *prep.rows]
    A, rl, ru = stack_rows(blocks, m)
    milp = MILP(
        c=cost,
        A=A,
        row_lower=rl,
        row_upper=ru,
        lower=prep.lower,
        upper=prep.upper,
        integer=np.ones(m, bool),
        integral_objective=bool(np.all(cost == np.round(cost))),
    )
    ws = None
    if not prep.rows:
        ws = _greedy_set_cover(U, cost, prep.required, allowed).astype(float)
    t_build = time.perf_counter() - t0
    raw = run(milp, name="set_cover", solver=solver, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, warm_start=ws)
    xs = solved_values(raw, "set_cover")
    notes = []
    if (~reach).any():
        notes.append(f"{int((~reach).sum())} demand row(s) are out of reach of every allowed site and were left out")
    size = {"demand_rows": M.shape[0], "merged_rows": U.shape[0], "sites": m, "nnz": int(M.matrix.nnz)}
    return _finish(
        "set_cover",
        M,
        raw,
        xs,
        prep,
        t_build,
        size,
        notes,
        objective=math.fsum(cost[xs > 0.5]),  # summed exactly, not the solver's floating-point value
        extra={"uncoverable_rows": list(M.row_ids[~reach])},
    )


def _costs(costs: Any, M: LabelledMatrix) -> npt.NDArray[np.float64]:
    if costs is None:
        return np.ones(M.shape[1])
    if isinstance(costs, pd.Series):
        c = costs.reindex(M.col_ids)
        if c.isna().any():
            raise ValidationError("`costs`", [f"no cost for {int(c.isna().sum())} site(s); give every site a cost."])
        return c.to_numpy(float)
    arr = np.asarray(costs, dtype=np.float64)
    if arr.shape != (M.shape[1],) or not np.isfinite(arr).all() or (arr < 0).any():
        raise ValidationError("`costs`", [f"expected {M.shape[1]} finite costs ≥ 0 (one per site)."])
    return arr


def _greedy_set_cover(
    U: sp.csr_matrix,
    cost: npt.NDArray[np.float64],
    required: npt.NDArray[np.bool_],
    allowed: npt.NDArray[np.bool_],
) -> npt.NDArray[np.bool_]:
    """Chvátal's greedy: repeatedly the site with the lowest cost per newly covered row."""
    U = U.tocsr()
    C = U.tocsc()
    n, _m = U.shape
    chosen = required.copy()
    covered = np.asarray(U[:, np.flatnonzero(chosen)].sum(axis=1)).ravel() > 0 if chosen.any() else np.zeros(n, bool)
    count = np.asarray(C.T @ (~covered).astype(float)).ravel()
    while not covered.all():
        ratio = np.where(allowed & ~chosen & (count > 0), cost / np.maximum(count, 1e-12), np.inf)
        j = int(np.argmin(ratio))
        if not np.isfinite(ratio[j]):
            break
        chosen[j] = True
        rows = C.indices[C.indptr[j] : C.indptr[j + 1]]
        new = rows[~covered[rows]]
        covered[new] = True
        count -= np.asarray(U[new].sum(axis=0)).ravel()
    return chosen


def partial_cover(
    coverage: Any,
    weights: Any = None,
    share: float = 0.8,
    *,
    demand_ids: Any = None,
    site_ids: Any = None,
    existing: Any = (),
    side: SideConstraints | None = None,
    costs: Any = None,
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float | None = None,
) -> Solution:
    """Partial set covering: the fewest (or cheapest) sites covering at least ``share`` of all demand weight.

    With ``weights=None`` every demand row counts as one unit (e.g. "80% of communities"). The share is of *all*
    weight, reachable or not. If no number of sites can reach the share, the error says how far the reachable
    demand falls short and why.

    Parameters
    ----------
    coverage
        :class:`~facility_planner.matrices.LabelledMatrix` (demand × site; an entry = within reach) or a scipy
        sparse matrix with ``demand_ids`` / ``site_ids``.
    weights
        Demand weight per row; 1 each by default. A Series is aligned by demand id.
    share
        The share of all demand weight to cover, in (0, 1].
    demand_ids, site_ids
        Row and column ids when ``coverage`` is a plain scipy matrix (0..n-1 by default).
    existing
        Site ids already open: kept, and counted in the objective at their cost (added to ``side.required``).
    side
        :class:`SideConstraints` (per-unit limits, forbidden sites, budget).
    costs
        Cost per site (array in column order, or a Series / mapping by site id); 1 each by default.
    solver, time_limit_s, mip_rel_gap
        The solver (``"highs"`` or a PuLP solver name), its time limit in seconds and the relative optimality gap
        at which it may stop (defaults from :mod:`facility_planner.settings`).

    Returns
    -------
    Solution
        ``objective`` is the total cost of the sites; ``extra["covered_share"]`` the share reached.

    Raises
    ------
    InfeasibleModelError
        When no set of allowed sites reaches ``share``.
    """
    if not (isinstance(share, int | float) and 0 < share <= 1):
        raise ValidationError("`share`", [f"`share` must be in (0, 1], e.g. 0.8 for 80%; got {share!r}."])
    side = _with_existing(side, existing)
    t0 = time.perf_counter()
    M, w, prep, R, _allowed, reach = _prepare(coverage, weights, demand_ids, site_ids, side)
    cost = _costs(costs, M)
    total = float(w.sum())
    need = share * total
    reachable = float(w[reach].sum())
    if reachable + 1e-9 < need:
        raise InfeasibleModelError(
            f"partial_cover: no number of sites covers {share:.0%} of the demand; at most {reachable / total:.1%} "
            "is within reach of any allowed site.",
            [
                f"{int((~reach).sum())} demand row(s) with weight {total - reachable:,.0f} are out of reach of every allowed site",
                "add candidate sites near them, allow forbidden sites, or lower the share",
            ],
        )
    keep = reach & (w > 0)
    U, wu, _ = merge_identical_rows(R[keep], w[keep])
    m, nu = R.shape[1], U.shape[0]
    upper = prep.upper.copy()
    if not prep.rows and np.all(cost == cost[0]):
        # equal costs: a site reaching no demand, or reaching a subset of another's, is never needed
        useful = (np.asarray(U.sum(axis=0)).ravel() > 0) & ~dominated_columns(U, upper > 0)
        upper[~useful & ~prep.required] = 0
    ws = None
    # the model holds only the sites that may open (78,796 candidates → 1,947 for Beijing's communities)
    cols = np.flatnonzero((upper > 0) | prep.required) if not prep.rows else np.arange(m)
    Uc, mc = U[:, cols].tocsr(), len(cols)
    if not prep.rows:
        x0 = _greedy_partial(U, wu, cost, need - 1e-9 * max(total, 1), prep.required, upper > 0)
        if x0 is not None:
            z0 = (np.asarray(U @ x0.astype(float)).ravel() > 0).astype(float)
            ws = np.r_[x0[cols].astype(float), z0]
    A_link = sp.hstack([-Uc, sp.identity(nu, format="csr")], format="csr")
    share_row = sp.csr_matrix(np.r_[np.zeros(mc), wu][None, :])
    blocks: list[Block] = [(A_link, -math.inf, 0.0), (share_row, need - 1e-9 * max(total, 1), math.inf)]
    blocks += pad_columns(prep.rows, nu)
    A, rl, ru = stack_rows(blocks, mc + nu)
    milp = MILP(
        c=np.r_[cost[cols], np.zeros(nu)],
        A=A,
        row_lower=rl,
        row_upper=ru,
        lower=np.r_[prep.lower[cols], np.zeros(nu)],
        upper=np.r_[upper[cols], np.ones(nu)],
        integer=np.r_[np.ones(mc, bool), np.zeros(nu, bool)],
        integral_objective=bool(np.all(cost == np.round(cost))),
    )
    t_build = time.perf_counter() - t0
    time_limit_s, mip_rel_gap = solver_options(time_limit_s, mip_rel_gap)
    raw = run(
        milp, name="partial_cover", solver=solver, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, warm_start=ws
    )
    x = np.zeros(m)
    x[cols] = solved_values(raw, "partial_cover")[:mc]
    covered_w = float(w[np.asarray(R @ (x > 0.5)).ravel() > 0].sum())
    size = {"demand_rows": M.shape[0], "merged_rows": nu, "sites": m, "model_sites": mc, "nnz": int(M.matrix.nnz)}
    return _finish(
        "partial_cover",
        M,
        raw,
        x,
        prep,
        t_build,
        size,
        [],
        objective=math.fsum(cost[x > 0.5]),
        extra={
            "covered_weight": covered_w,
            "total_weight": total,
            "covered_share": covered_w / total if total else 0.0,
            "target_share": share,
        },
        requested_gap=mip_rel_gap,
    )


def _greedy_partial(
    U: sp.csr_matrix,
    wu: npt.NDArray[np.float64],
    cost: npt.NDArray[np.float64],
    need: float,
    required: npt.NDArray[np.bool_],
    allowed: npt.NDArray[np.bool_],
) -> npt.NDArray[np.bool_] | None:
    """Greedy partial cover: the site with the lowest cost per newly covered weight until ``need`` is covered."""
    U = U.tocsr()
    C = U.tocsc()
    chosen = required.copy()
    covered = np.asarray(U @ chosen.astype(float)).ravel() > 0
    got = float(wu[covered].sum())
    gain = np.asarray(C.T @ np.where(covered, 0.0, wu)).ravel()
    while got < need:
        ratio = np.where(allowed & ~chosen & (gain > 0), cost / np.maximum(gain, 1e-12), np.inf)
        j = int(np.argmin(ratio))
        if not np.isfinite(ratio[j]):
            return None
        chosen[j] = True
        rows = C.indices[C.indptr[j] : C.indptr[j + 1]]
        new = rows[~covered[rows]]
        covered[new] = True
        got += float(wu[new].sum())
        gain -= np.asarray(U[new].T @ wu[new]).ravel()
    return chosen
