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
(weights summed), and sites that reach nothing are dropped; a greedy plan is passed to the solver as a start.
"""

from __future__ import annotations

import math
import time

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from .._errors import InfeasibleModelError, ValidationError
from ._milp import MILP, pad_columns, relative_gap, stack_rows
from .base import (
    SideConstraints,
    Solution,
    as_matrix,
    as_weights,
    check_p,
    nearest_assignment,
    prepare_sides,
    run,
)


def merge_identical_rows(R: sp.csr_matrix, w: npt.NDArray[np.float64]):
    """Merge rows with the same set of sites. Returns (unique rows, summed weights, row → unique row index)."""
    R = R.tocsr()
    R.sort_indices()
    keys = [R.indices[R.indptr[i] : R.indptr[i + 1]].tobytes() for i in range(R.shape[0])]
    codes, _uniq = pd.factorize(pd.Series(keys, dtype=object))
    first = np.unique(codes, return_index=True)[1]
    U = R[first]
    wu = np.bincount(codes, weights=w, minlength=len(first))
    return U, wu, codes


def dominated_columns(U: sp.csr_matrix) -> np.ndarray:
    """Columns whose set of rows lies inside another column's set (of identical sets, all but the first).

    From the sparse overlap matrix UᵀU: column j is dominated by k when |rows(j) ∩ rows(k)| = |rows(j)| and k
    covers more (or the same and comes first). Dropping them never worsens a coverage model with unit site costs
    and no per-site side constraints.
    """
    B = U.tocsc().astype(bool).astype(np.int32)
    size = np.asarray(B.sum(axis=0)).ravel()
    ov = (B.T @ B).tocoo()
    j, k, v = ov.row, ov.col, ov.data
    cond = (j != k) & (v == size[j]) & ((size[k] > size[j]) | ((size[k] == size[j]) & (k < j)))
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


def _prepare(coverage, weights, demand_ids, site_ids, side):
    M = as_matrix(coverage, demand_ids, site_ids)
    w = as_weights(weights, M.shape[0], M.row_ids)
    prep = prepare_sides(side, M.col_ids)
    R = M.matrix.copy().tocsr()
    R.data = np.ones_like(R.data)
    allowed = prep.upper > 0
    R_allowed = R[:, np.flatnonzero(allowed)] if not allowed.all() else R
    reach = np.diff(R_allowed.tocsr().indptr) > 0
    return M, w, prep, R, allowed, reach


def _finish(model_name, M, raw, x_sites, prep, t_build, size, notes, objective=None, extra=None) -> Solution:
    open_mask = x_sites > 0.5
    assignment = nearest_assignment(M.matrix, M.matrix, open_mask, M.row_ids, M.col_ids)
    selected = list(M.col_ids[open_mask])
    existing = list(M.col_ids[open_mask & prep.required])
    objective = float(raw.objective if objective is None else objective)
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
    )


def max_cover(
    coverage,
    weights=None,
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
    """Maximal covering: open ``p`` new sites (existing ones kept) to maximise the covered demand weight.

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

    Returns
    -------
    Solution
        ``objective`` is the covered weight; ``extra["covered_share"]`` its share of all weight.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.csr_matrix(np.array([[1, 0], [1, 1], [0, 1]]))
    >>> max_cover(A, [5, 1, 2], p=1).selected
    [0]
    """
    side = _with_existing(side, existing)
    t0 = time.perf_counter()
    M, w, prep, R, allowed, reach = _prepare(coverage, weights, demand_ids, site_ids, side)
    n_req = int(prep.required.sum())
    p = check_p(p, int(allowed.sum()), n_req)
    total = float(w.sum())
    keep = reach & (w > 0)
    U, wu, _ = merge_identical_rows(R[keep], w[keep])
    m = R.shape[1]
    nu = U.shape[0]
    upper = prep.upper.copy()
    p_lo = p
    if not prep.rows:
        # a site that reaches no demand adds nothing: fix it closed, and open fewer than p only if no other site helps
        useful = (np.asarray(U.sum(axis=0)).ravel() > 0) & ~dominated_columns(U)
        upper[~useful & ~prep.required] = 0
        p_lo = min(p, int((upper[~prep.required] > 0).sum()))
    A_link = sp.hstack([-U, sp.identity(nu, format="csr")], format="csr")  # z_k - Σ x_j ≤ 0
    count_row = sp.csr_matrix(np.r_[(~prep.required).astype(float), np.zeros(nu)][None, :])
    blocks = [(A_link, -math.inf, 0.0), (count_row, p_lo, p)]
    blocks += pad_columns(prep.rows, nu)
    A, rl, ru = stack_rows(blocks, m + nu)
    integral = bool(np.all(wu == np.round(wu)))
    milp = MILP(
        c=np.r_[np.zeros(m), wu],
        A=A,
        row_lower=rl,
        row_upper=ru,
        lower=np.r_[prep.lower, np.zeros(nu)],
        upper=np.r_[upper, np.ones(nu)],
        integer=np.r_[np.ones(m, bool), np.zeros(nu, bool)],
        maximize=True,
        integral_objective=integral,
    )
    ws = None
    if not prep.rows:
        x0 = greedy_max_cover(U, wu, p_lo, prep.required.copy(), upper > 0)
        z0 = (np.asarray(U @ x0.astype(float)).ravel() > 0).astype(float)
        ws = np.r_[x0.astype(float), z0]
    t_build = time.perf_counter() - t0
    raw = run(milp, name="max_cover", solver=solver, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, warm_start=ws)
    x = raw.x[:m]
    covered_w = float(w[np.asarray(R @ (x > 0.5)).ravel() > 0].sum())
    notes = []
    if p_lo < p:
        notes.append(f"only {p_lo} new site(s) add coverage; the other {p - p_lo} would reach no uncovered demand")
    if (~reach).any():
        notes.append(
            f"{int((~reach).sum())} demand row(s) (weight {w[~reach].sum():,.0f}, {w[~reach].sum() / max(total, 1e-12):.1%}) "
            "are out of reach of every allowed site"
        )
    size = {"demand_rows": M.shape[0], "merged_rows": nu, "sites": m, "nnz": int(M.matrix.nnz)}
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
        extra={
            "covered_weight": covered_w,
            "total_weight": total,
            "covered_share": covered_w / total if total else 0.0,
        },
    )


def _with_existing(side: SideConstraints | None, existing) -> SideConstraints | None:
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
    coverage,
    *,
    demand_ids=None,
    site_ids=None,
    existing=(),
    side: SideConstraints | None = None,
    costs=None,
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float | None = None,
) -> Solution:
    """Set covering: the fewest (or cheapest, with ``costs``) sites such that every reachable demand is covered.

    Demand that no allowed site can reach is set aside and reported in ``notes`` (never silently).
    ``objective`` is the total cost (the number of sites with unit costs), existing sites included at their cost.
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
    notes = []
    if (~reach).any():
        notes.append(f"{int((~reach).sum())} demand row(s) are out of reach of every allowed site and were left out")
    size = {"demand_rows": M.shape[0], "merged_rows": U.shape[0], "sites": m, "nnz": int(M.matrix.nnz)}
    return _finish(
        "set_cover",
        M,
        raw,
        raw.x,
        prep,
        t_build,
        size,
        notes,
        objective=math.fsum(cost[raw.x > 0.5]),  # summed exactly, not the solver's floating-point value
        extra={"uncoverable_rows": list(M.row_ids[~reach])},
    )


def _costs(costs, M) -> npt.NDArray[np.float64]:
    if costs is None:
        return np.ones(M.shape[1])
    if isinstance(costs, pd.Series):
        c = costs.reindex(M.col_ids)
        if c.isna().any():
            raise ValidationError("`costs`", [f"no cost for {int(c.isna().sum())} site(s); give every site a cost."])
        return c.to_numpy(float)
    c = np.asarray(costs, dtype=float)
    if c.shape != (M.shape[1],) or not np.isfinite(c).all() or (c < 0).any():
        raise ValidationError("`costs`", [f"expected {M.shape[1]} finite costs ≥ 0 (one per site)."])
    return c


def _greedy_set_cover(U: sp.csr_matrix, cost, required, allowed) -> npt.NDArray[np.bool_]:
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
    coverage,
    weights=None,
    share: float = 0.8,
    *,
    demand_ids=None,
    site_ids=None,
    existing=(),
    side: SideConstraints | None = None,
    costs=None,
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float | None = None,
) -> Solution:
    """Partial set covering: the fewest (or cheapest) sites covering at least ``share`` of all demand weight.

    With ``weights=None`` every demand row counts as one unit (e.g. "80% of communities"). The share is of *all*
    weight, reachable or not. If no number of sites can reach the share, the error says how far the reachable
    demand falls short and why.
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
    A_link = sp.hstack([-U, sp.identity(nu, format="csr")], format="csr")
    share_row = sp.csr_matrix(np.r_[np.zeros(m), wu][None, :])
    blocks = [(A_link, -math.inf, 0.0), (share_row, need - 1e-9 * max(total, 1), math.inf)]
    blocks += pad_columns(prep.rows, nu)
    A, rl, ru = stack_rows(blocks, m + nu)
    milp = MILP(
        c=np.r_[cost, np.zeros(nu)],
        A=A,
        row_lower=rl,
        row_upper=ru,
        lower=np.r_[prep.lower, np.zeros(nu)],
        upper=np.r_[prep.upper, np.ones(nu)],
        integer=np.r_[np.ones(m, bool), np.zeros(nu, bool)],
        integral_objective=bool(np.all(cost == np.round(cost))),
    )
    t_build = time.perf_counter() - t0
    raw = run(milp, name="partial_cover", solver=solver, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap)
    x = raw.x[:m]
    covered_w = float(w[np.asarray(R @ (x > 0.5)).ravel() > 0].sum())
    size = {"demand_rows": M.shape[0], "merged_rows": nu, "sites": m, "nnz": int(M.matrix.nnz)}
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
    )
