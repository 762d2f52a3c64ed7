r"""Capacitated maximal covering: each open site serves at most :math:`K_j` people (weight) of the demand within reach.

Notation as in :mod:`facility_planner.models.coverage`; :math:`E` the coverage pairs :math:`(i, j)`,
:math:`x_{ij} \in [0, 1]` the share of demand row :math:`i` that site :math:`j` serves:

.. math::
    \max \sum_{(i,j) \in E} w_i x_{ij} \quad \text{s.t.} \quad
    \sum_{j} x_{ij} \le 1 \;\; \forall i, \qquad
    \sum_{i} w_i x_{ij} \le K_j y_j \;\; \forall j, \qquad
    x_{ij} \le y_j \;\; \forall (i,j) \in E, \qquad
    \sum_{j \notin R} y_j = p, \; y_j = 1 \; (j \in R), \; y \in \{0, 1\}.

Only :math:`y` is integer: for a fixed set of open sites, who is served is a transportation LP (solved exactly).
The rows :math:`x_{ij} \le y_j` tighten the LP relaxation; they are added while the model is small
(:data:`VUB_MAX_PAIRS`). Above :data:`LARGE_PAIRS` pairs the model is not handed to the MIP: the plan comes from a
capacity-aware greedy with swaps, each candidate plan's service computed exactly, and the bound from the Lagrangian
relaxation of :math:`\sum_j x_{ij} \le 1` (multipliers :math:`\lambda_i \in [0, 1]` per person), whose subproblem
splits into one fractional knapsack per site — valid for any :math:`\lambda`:

.. math::
    L(\lambda) = \sum_i \lambda_i w_i + \sum_{j \in R} v_j(\lambda) + \max_{|S| = p} \sum_{j \in S} v_j(\lambda),
    \qquad v_j(\lambda) = \max\Bigl\{\sum_{i \in N_j} (1 - \lambda_i) w_i x_{ij} :
    \sum_i w_i x_{ij} \le K_j,\ 0 \le x \le 1\Bigr\}.

The Solution separates *within reach* (demand some open site reaches: ``extra["within_reach_weight"]``) from
*served* (assigned within capacity: ``objective`` and ``extra["served_weight"]``); ``extra["allocation"]`` lists who
is served by which site.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from .._errors import ValidationError
from ..matrices import LabelledMatrix
from ._milp import MILP, Block, RawResult, _new_highs, pad_columns, relative_gap, solver_options, stack_rows
from .base import (
    Prepared,
    SideConstraints,
    Solution,
    check_p,
    run,
    search_status,
    solved_values,
    weighted_bincount,
)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.integer[Any]]
#: what ``capacity`` may be: one number for every site, one per site in site order, or site id → capacity
Capacity = float | npt.ArrayLike | dict[Any, float] | pd.Series

#: coverage pairs up to which the rows x_ij ≤ y_j are added (they tighten the LP, and cost one row per pair)
VUB_MAX_PAIRS = 200_000
#: coverage pairs above which ``method="auto"`` uses greedy + swaps + the Lagrangian bound instead of the MIP
#: (measured on Huairou district, 9,800 rows, ~100,000 pairs, p = 40: the MIP had no useful bound after 40 s, the
#: heuristic path a 5.5% gap in 20 s)
LARGE_PAIRS = 50_000


def _capacities(capacity: Capacity, site_ids: npt.NDArray[Any]) -> FloatArray:
    m = len(site_ids)
    if isinstance(capacity, pd.Series | dict):
        c = pd.Series(capacity).reindex(site_ids)
        if c.isna().any():
            raise ValidationError(
                "`capacity`", [f"no capacity for {int(c.isna().sum())} site(s); give every site one."]
            )
        K = c.to_numpy(float)
    else:
        K = np.asarray(capacity, dtype=float)
        if K.ndim == 0:
            K = np.full(m, float(K))
        elif K.shape != (m,):
            raise ValidationError("`capacity`", [f"expected one capacity or {m} (one per site); got {K.shape}."])
    if not np.isfinite(K).all() or (K < 0).any():
        raise ValidationError("`capacity`", ["capacities must be finite numbers ≥ 0 (people one site can serve)."])
    return K


def served_by(
    P: sp.csr_matrix, w: npt.NDArray[np.float64], K: npt.NDArray[np.float64], open_mask: npt.NDArray[np.bool_]
) -> tuple[float, sp.csr_matrix]:
    """Most weight the open sites can serve within capacity (a transportation LP, solved exactly by HiGHS).

    Returns the served weight and the served amounts per pair (demand × site, people).
    """
    import highspy

    n, m = P.shape
    cols = np.flatnonzero(open_mask)
    sub = P[:, cols].tocoo()
    if sub.nnz == 0:
        return 0.0, sp.csr_matrix((n, m))
    r, c = sub.row, sub.col
    ne = len(r)
    # variables: amount a_e ∈ [0, w_i]; rows: Σ_e∈i a_e ≤ w_i, Σ_e∈j a_e ≤ K_j
    rows_i = sp.csr_matrix((np.ones(ne), (r, np.arange(ne))), shape=(n, ne))
    rows_j = sp.csr_matrix((np.ones(ne), (c, np.arange(ne))), shape=(len(cols), ne))
    used_i = np.flatnonzero(np.diff(rows_i.indptr) > 0)
    A = sp.vstack([rows_i[used_i], rows_j]).tocsc()
    h = _new_highs(highspy, False)
    h.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = ne, A.shape[0]
    lp.col_cost_ = np.ones(ne)
    lp.col_lower_ = np.zeros(ne)
    lp.col_upper_ = w[r].astype(float)
    lp.row_lower_ = np.full(A.shape[0], -highspy.kHighsInf)
    lp.row_upper_ = np.r_[w[used_i], K[cols]].astype(float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(np.float64)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = ne, A.shape[0]
    lp.sense_ = highspy.ObjSense.kMaximize
    h.passModel(lp)
    h.run()
    a = np.clip(np.array(h.getSolution().col_value), 0.0, None)
    flows = sp.csr_matrix((a, (r, cols[c])), shape=(n, m))
    return float(a.sum()), flows


def _greedy(
    P: sp.csr_matrix, w: FloatArray, K: FloatArray, p: int, required: BoolArray, allowed: BoolArray
) -> BoolArray:
    """Open, one at a time, the site that can take the most unserved weight (min(K_j, unserved within reach)),
    serving rows in the order of the sparse column (the exact service is recomputed by the LP afterwards).
    """
    C = P.tocsc()
    left = w.astype(float).copy()
    chosen = required.copy()
    for r in np.flatnonzero(required):
        _take(C, left, K, int(r))
    for _ in range(p):
        reach = np.asarray(C.T @ left).ravel()
        val = np.minimum(reach, K)
        val[chosen | ~allowed] = -1
        j = int(np.argmax(val))
        if val[j] < 0:
            break
        chosen[j] = True
        _take(C, left, K, j)
    return chosen


def _take(C: sp.csc_matrix, left: FloatArray, K: FloatArray, j: int) -> None:
    rows = C.indices[C.indptr[j] : C.indptr[j + 1]]
    cap = float(K[j])
    # serve the largest remaining demand first
    for i in rows[np.argsort(-left[rows])]:
        a = min(cap, float(left[i]))
        left[i] -= a
        cap -= a
        if cap <= 0:
            break


def _knapsack_values(
    P_csc: sp.csc_matrix, w: FloatArray, K: FloatArray, lam: FloatArray
) -> tuple[FloatArray, tuple[IntArray, FloatArray]]:
    """v_j(λ): per site, a fractional knapsack over the rows it reaches (value (1-λ_i) per person, size w_i).

    Also returns the knapsacks' solution: the stored entries in the order they were taken, and the people taken.
    """
    m = P_csc.shape[1]
    col = np.repeat(np.arange(m), np.diff(P_csc.indptr))
    rows = P_csc.indices
    val = 1.0 - lam[rows]
    # one sort on a combined key (column, then value descending; λ ∈ [0, 1]): ~10× faster than lexsort
    order = np.argsort(col + 0.5 * lam[rows], kind="quicksort")
    col_s, rows_s, val_s = col[order], rows[order], val[order]
    ws = np.where(val_s > 0, w[rows_s], 0.0)
    cum = np.cumsum(ws)
    start = P_csc.indptr[:-1]
    base = np.r_[0.0, cum][start][col_s]
    before = cum - ws - base  # weight taken before this entry in its column
    take = np.clip(K[col_s] - before, 0.0, ws)
    return weighted_bincount(col_s, take * val_s, m), (order, take)


def _lagrangian(
    P: sp.csr_matrix,
    w: FloatArray,
    K: FloatArray,
    p: int,
    required: BoolArray,
    allowed: BoolArray,
    lower: float,
    deadline: float | None,
    max_iter: int = 1500,
    target_gap: float = 0.0,
) -> tuple[float, int]:
    """The Lagrangian bound (module docstring) by subgradient steps from λ = 0.5, and the number of steps taken."""
    C = P.tocsc()
    C.sort_indices()
    n, m = P.shape
    free_idx = np.flatnonzero(allowed & ~required)
    req_idx = np.flatnonzero(required)
    p = min(p, len(free_idx))
    lam = np.full(n, 0.5)
    best, alpha, since, it = math.inf, 2.0, 0, 0
    col_of = np.repeat(np.arange(m), np.diff(C.indptr))
    for it in range(1, max_iter + 1):  # noqa: B007
        v, (order, take) = _knapsack_values(C, w, K, lam)
        vf = v[free_idx]
        top = free_idx[np.argpartition(-vf, p - 1)[:p]] if 0 < p < len(free_idx) else free_idx[:p]
        L = float(lam @ w + v[req_idx].sum() + v[top].sum())
        if L < best - 1e-9 * max(1.0, abs(L)):
            best, since = L, 0
        else:
            since += 1
            if since >= 20:
                alpha, since = alpha / 2, 0
        if best - lower <= target_gap * max(abs(lower), 1e-9) or alpha < 1e-6:
            break
        if deadline is not None and time.perf_counter() > deadline:
            break
        y = np.zeros(m)
        y[req_idx] = 1.0
        y[top] = 1.0
        served = np.bincount(C.indices[order], weights=take * y[col_of[order]], minlength=n)
        g = w - served  # ∂L/∂λ_i
        nn = float(g @ g)
        if nn == 0:
            break
        step = alpha * max(L - lower, 1e-9 * max(abs(L), 1.0)) / nn
        lam = np.clip(lam - step * g, 0.0, 1.0)
    return best, it


def _swap_search(
    P: sp.csr_matrix,
    w: FloatArray,
    K: FloatArray,
    x: BoolArray,
    required: BoolArray,
    allowed: BoolArray,
    deadline: float,
    n_try: int = 30,
) -> tuple[BoolArray, int]:
    """First-improvement swaps: close the open site serving least, open the candidate with the most unserved weight
    within reach (capped at its capacity); each trial plan is evaluated exactly. Stops when ``n_try`` trials in a row
    fail or time runs out.
    """
    C = P.tocsc()
    fails, swaps = 0, 0
    while fails < n_try and time.perf_counter() < deadline:
        val, flows = served_by(P, w, K, x)
        left = w - np.asarray(flows.sum(axis=1)).ravel()
        gain = np.minimum(np.asarray(C.T @ left).ravel(), K)
        gain[x | ~allowed] = -1
        load = np.asarray(flows.sum(axis=0)).ravel()
        load[~x | required] = np.inf
        outs = np.argsort(load)[:n_try]
        ins = np.argsort(-gain)[:n_try]
        improved = False
        for k, j in zip(outs, ins, strict=False):
            if not np.isfinite(load[k]) or gain[j] <= 0 or gain[j] <= load[k]:
                fails += 1
                continue
            y = x.copy()
            y[k], y[j] = False, True
            v2, _ = served_by(P, w, K, y)
            if v2 > val + 1e-9 * max(1.0, val):
                x, improved = y, True
                swaps += 1
                fails = 0
                break
            fails += 1
            if time.perf_counter() > deadline:
                break
        if not improved:
            break
    return x, swaps


def capacitated_max_cover(
    coverage: Any,
    weights: Any = None,
    p: int = 1,
    *,
    capacity: Capacity,
    demand_ids: npt.ArrayLike | None = None,
    site_ids: npt.ArrayLike | None = None,
    existing: Iterable[Any] = (),
    side: SideConstraints | None = None,
    method: str = "auto",
    solver: str | None = None,
    time_limit_s: float | None = None,
    mip_rel_gap: float | None = None,
) -> Solution:
    """Capacitated maximal covering (module docstring): open ``p`` new sites to maximise the weight *served*.

    Parameters
    ----------
    coverage, weights, p, demand_ids, site_ids, existing, side
        As :func:`~facility_planner.models.coverage.max_cover`.
    capacity
        People one site serves at most: a number for every site, an array in site order or a mapping site id →
        capacity.
    method
        ``"mip"``, ``"heuristic"`` (greedy + swaps with the Lagrangian bound) or ``"auto"`` (``"mip"`` up to
        :data:`LARGE_PAIRS` coverage pairs).
    solver, time_limit_s, mip_rel_gap
        The solver (``"highs"`` or a PuLP solver name), its time limit in seconds and the relative optimality gap
        at which it may stop (defaults from :mod:`facility_planner.settings`).

    Returns
    -------
    Solution
        ``objective`` = served weight; ``extra``: ``served_weight``, ``within_reach_weight``, ``total_weight``,
        ``served_share``, ``within_reach_share``, ``allocation`` (demand_id, site_id, served).
    """
    from .coverage import _prepare, _with_existing

    if method not in ("auto", "mip", "heuristic"):
        raise ValidationError("`method`", [f"`method` must be 'auto', 'mip' or 'heuristic'; got {method!r}."])
    side = _with_existing(side, existing)
    time_limit_s, mip_rel_gap = solver_options(time_limit_s, mip_rel_gap)
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    # coverage._prepare is untyped until the coverage rewrite types it (issue 15); its results are typed below
    prepared = _prepare(coverage, weights, demand_ids, site_ids, side)
    M: LabelledMatrix = prepared[0]
    w: FloatArray = prepared[1]
    prep: Prepared = prepared[2]
    R: sp.csr_matrix = prepared[3]
    allowed: BoolArray = prepared[4]
    reach: BoolArray = prepared[5]
    K = _capacities(capacity, M.col_ids)
    n_req = int(prep.required.sum())
    p = check_p(p, int(allowed.sum()), n_req)
    total = float(w.sum())
    keep = reach & (w > 0)
    from .coverage import merge_identical_rows

    U, wu, row_code = merge_identical_rows(R[keep], w[keep])
    nu, m = U.shape
    upper = prep.upper.copy()
    useful = (np.asarray(U.sum(axis=0)).ravel() > 0) & (K > 0)
    upper[~useful & ~prep.required] = 0
    p_lo = min(p, int((upper[~prep.required] > 0).sum())) if not prep.rows else p
    x0 = _greedy(U, wu, K, p_lo, prep.required.copy(), upper > 0) if not prep.rows else None
    pairs = U.nnz
    # side constraints need the MIP; without them the greedy plan x0 exists
    heuristic = not prep.rows and (method == "heuristic" or (method == "auto" and pairs > LARGE_PAIRS))
    notes: list[str] = []
    if heuristic and x0 is not None:
        x0, n_swaps = _swap_search(U, wu, K, x0, prep.required, upper > 0, t0 + 0.3 * time_limit_s)
        searched_out = time.perf_counter() < t0 + 0.3 * time_limit_s  # no swap left that improves the plan
        lower, _ = served_by(U, wu, K, x0)
        t1 = time.perf_counter()
        bound, iters = _lagrangian(U, wu, K, p_lo, prep.required, upper > 0, lower, deadline, target_gap=mip_rel_gap)
        if not searched_out and time.perf_counter() < deadline - 0.02 * time_limit_s:
            # the bound ended early and the swaps were cut: they get the rest of the time
            x0, more = _swap_search(U, wu, K, x0, prep.required, upper > 0, deadline)
            n_swaps += more
            searched_out = time.perf_counter() < deadline
            lower, _ = served_by(U, wu, K, x0)
        # the open sites cannot serve more than their capacities, nor more than the demand within reach
        free_k = np.sort(K[(upper > 0) & ~prep.required])[::-1][:p_lo].sum()
        bound = min(bound, float(K[prep.required].sum() + free_k), float(wu.sum()))
        bound = max(bound, lower)
        gap = relative_gap(lower, bound)
        status, ended = search_status(gap, mip_rel_gap, t0, time_limit_s, searched_out=searched_out)
        raw = RawResult(
            status, x0.astype(float), lower, bound, gap, time.perf_counter() - t1, "greedy + swaps; Lagrangian bound",
            extra=ended,
        )  # fmt: skip
        x = x0
        t_build = t1 - t0
        notes.append(
            f"large model ({pairs:,} coverage pairs): plan by capacity-aware greedy + {n_swaps} swaps, bound by the "
            f"Lagrangian relaxation ({iters} subgradient steps)"
        )
    else:
        Ucoo = U.tocoo()
        r, c = Ucoo.row, Ucoo.col
        ne = len(r)
        # columns: y (m), x_e (ne); rows: Σ_e∈i x_e ≤ 1; Σ_e∈j w_i x_e − K_j y_j ≤ 0; x_e − y_j ≤ 0; count
        Ri = sp.csr_matrix((np.ones(ne), (r, np.arange(ne))), shape=(nu, ne))
        Rj = sp.csr_matrix((wu[r], (c, np.arange(ne))), shape=(m, ne))
        blocks: list[Block] = [
            (sp.hstack([sp.csr_matrix((nu, m)), Ri], format="csr"), -math.inf, 1.0),
            (sp.hstack([-sp.diags(K), Rj], format="csr"), -math.inf, 0.0),
        ]
        if ne <= VUB_MAX_PAIRS:
            V = sp.hstack(
                [-sp.csr_matrix((np.ones(ne), (np.arange(ne), c)), shape=(ne, m)), sp.identity(ne, format="csr")],
                format="csr",
            )
            blocks.append((V, -math.inf, 0.0))
        count = sp.csr_matrix(np.r_[(~prep.required).astype(float), np.zeros(ne)][None, :])
        blocks.append((count, p_lo, p))
        blocks += pad_columns(prep.rows, ne)
        A, rl, ru = stack_rows(blocks, m + ne)
        milp = MILP(
            c=np.r_[np.zeros(m), wu[r]],
            A=A,
            row_lower=rl,
            row_upper=ru,
            lower=np.r_[prep.lower, np.zeros(ne)],
            upper=np.r_[upper, np.ones(ne)],
            integer=np.r_[np.ones(m, bool), np.zeros(ne, bool)],
            maximize=True,
        )
        ws = None
        if x0 is not None:
            _v, flows = served_by(U, wu, K, x0)
            fx = np.asarray(flows[r, c]).ravel() / np.maximum(wu[r], 1e-12)
            ws = np.r_[x0.astype(float), np.clip(fx, 0.0, 1.0)]
        t_build = time.perf_counter() - t0
        raw = run(
            milp,
            name="capacitated_max_cover",
            solver=solver,
            time_limit_s=max(deadline - time.perf_counter(), 0.05 * time_limit_s),
            mip_rel_gap=mip_rel_gap,
            warm_start=ws,
            started=t0,
            limit_s=time_limit_s,
        )
        x = solved_values(raw, "capacitated_max_cover")[:m] > 0.5
        cap_bound = float(K[prep.required].sum() + np.sort(K[(upper > 0) & ~prep.required])[::-1][:p].sum())
        if raw.bound is not None and raw.objective is not None and cap_bound < raw.bound:
            # the open sites cannot serve more than their capacities (HiGHS may stop before its bound is below this)
            raw.bound = max(cap_bound, raw.objective)
            raw.gap = relative_gap(raw.objective, raw.bound)
    # exact service of the final plan, on the original rows
    served_w, flows_u = served_by(U, wu, K, x)
    within = float(w[np.asarray(R @ x.astype(float)).ravel() > 0].sum())
    alloc = _allocation(flows_u, row_code, keep, w, wu, M)
    from .coverage import _finish

    size = {"demand_rows": M.shape[0], "merged_rows": nu, "sites": m, "nnz": int(M.matrix.nnz)}
    extra = {
        "served_weight": served_w,
        "within_reach_weight": within,
        "total_weight": total,
        "served_share": served_w / total if total else 0.0,
        "within_reach_share": within / total if total else 0.0,
        "covered_share": served_w / total if total else 0.0,
        "allocation": alloc,
        "method": "heuristic" if heuristic else "mip",
    }
    if (~reach).any():
        notes.append(f"{int((~reach).sum())} demand row(s) are out of reach of every allowed site")
    return _finish(
        "capacitated_max_cover",
        M,
        raw,
        x.astype(float),
        prep,
        t_build,
        size,
        notes,
        objective=served_w,
        extra=extra,
        requested_gap=mip_rel_gap,
    )


def _allocation(
    flows_u: sp.csr_matrix, row_code: IntArray, keep: BoolArray, w: FloatArray, wu: FloatArray, M: LabelledMatrix
) -> pd.DataFrame:
    """Served people per (original demand row, site): a merged row's service is shared in proportion to weight."""
    fu = flows_u.tocoo()
    kept = np.flatnonzero(keep)
    # original rows of each merged row
    by_code = pd.Series(kept).groupby(row_code).apply(list)
    row_list: list[int] = []
    site_list: list[int] = []
    amounts: list[float] = []
    for u, j, a in zip(fu.row, fu.col, fu.data, strict=True):
        if a <= 1e-9:
            continue
        for i in by_code[u]:
            row_list.append(i)
            site_list.append(int(j))
            amounts.append(a * w[i] / wu[u])
    rows, sites = np.asarray(row_list, dtype=int), np.asarray(site_list, dtype=int)
    return pd.DataFrame(
        {
            "demand_id": M.row_ids[rows] if len(rows) else [],
            "site_id": M.col_ids[sites] if len(sites) else [],
            "served": np.asarray(amounts, dtype=float),
        }
    )
