"""The p-median branch and bound's inner loop, compiled (numba): the Lagrangian dual of one node.

Each subgradient step of a node touches only the (demand, site) pairs that count, a few per demand, in a loop that
numpy cannot express without a dozen passes over arrays of every site × demand; compiled, a step costs
microseconds. The machine code is cached (beside this module, or in the user's cache) after the first call, and
compiled in memory where no cache can be written.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit


def _compiled(fn: Any) -> Any:
    """``fn`` compiled, its machine code cached for the next process.

    The cache lives beside this module or in the user's cache; where neither place is writable (a read-only install,
    a locked-down worker) the function is compiled in memory instead of failing.
    """
    try:
        return njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return njit(nogil=True)(fn)


FloatArray = npt.NDArray[np.floating[Any]]
IntArray = npt.NDArray[np.integer[Any]]


@_compiled
def _select(values: FloatArray, idx: IntArray, k: int) -> None:  # pragma: no cover - compiled
    """Reorder ``idx`` so that its first ``k`` entries index the ``k`` smallest ``values``.

    A quickselect, in place; numba's own sorts take seconds to compile.
    """
    lo, hi = 0, idx.shape[0] - 1
    while lo < hi:
        pivot = values[idx[(lo + hi) // 2]]
        i, j = lo, hi
        while i <= j:
            while values[idx[i]] < pivot:
                i += 1
            while values[idx[j]] > pivot:
                j -= 1
            if i <= j:
                idx[i], idx[j] = idx[j], idx[i]
                i += 1
                j -= 1
        # now idx[lo..j] ≤ pivot ≤ idx[i..hi]; continue in the part that holds position k − 1
        if k - 1 <= j:
            hi = j
        elif k - 1 >= i:
            lo = i
        else:
            return


@_compiled
def node_dual(  # pragma: no cover - compiled; tested through the branch and bound
    cost: FloatArray,
    site: IntArray,
    u0: FloatArray,
    req: IntArray,
    fr: IntArray,
    k: int,
    target: float,
    slack: float,
    lam: float,
    max_iter: int,
    patience: int,
    lam_min: float,
) -> tuple[float, FloatArray, FloatArray, FloatArray, FloatArray, IntArray, float]:
    """Raise the Lagrangian bound of a node from multipliers ``u0`` by subgradient steps.

    ``cost`` holds each demand's weighted costs to every site, ascending (``inf`` where a site cannot serve), and
    ``site`` the site of each; ``req`` are forced open, ``fr`` free, of which ``k`` open (``0 < k < len(fr)``).
    Returns ``(bound, its multipliers, ρ of every site at them, per-free-site bounds on the plans that open it, on
    the plans that close it, cheapest relaxed plan (sites), its cost)``.
    """
    n, m = cost.shape
    nf = fr.shape[0]
    u = u0.copy()
    best = -np.inf
    best_u = u0.copy()
    best_rho = np.zeros(m)
    best_site = np.empty(nf)
    best_close = np.empty(nf)
    best_site.fill(-np.inf)
    best_close.fill(-np.inf)
    plan = np.empty(0, np.int64)
    plan_cost = np.inf
    stall = 0
    rho = np.zeros(m)
    is_open = np.zeros(m, np.bool_)
    g = np.empty(n)
    below = np.zeros(n, np.int64)
    order = np.empty(nf, np.int64)
    rf = np.empty(nf)
    for it in range(max_iter):
        # ρ_j = Σ_i min(WT_ji − u_i, 0): only the pairs cheaper than the demand's multiplier, which come first
        rho.fill(0.0)
        usum = 0.0
        for i in range(n):
            ui = u[i]
            usum += ui
            r = 0
            while r < m and cost[i, r] < ui:
                rho[site[i, r]] += cost[i, r] - ui
                r += 1
            below[i] = r
        for t in range(nf):
            rf[t] = rho[fr[t]]
            order[t] = t
        _select(rf, order, k)
        L = usum
        for j in req:
            L += rho[j]
        for t in range(k):
            L += rf[order[t]]
        is_open.fill(False)
        for j in req:
            is_open[j] = True
        for t in range(k):
            is_open[fr[order[t]]] = True
        # the subgradient: 1 − the open sites each demand is worth assigning to
        gg = 0.0
        for i in range(n):
            worth = 0
            for r in range(below[i]):
                worth += is_open[site[i, r]]
            g[i] = 1.0 - worth
            gg += g[i] * g[i]
        # every 4th step, the relaxed plan's real cost (each demand at its nearest open site)
        cost_plan = np.inf
        if it % 4 == 0 or it == max_iter - 1:
            cost_plan = 0.0
            for i in range(n):
                r = 0
                while r < m and not is_open[site[i, r]]:
                    r += 1
                cost_plan += cost[i, r] if r < m else np.inf
        if cost_plan < plan_cost:
            plan_cost = cost_plan
            plan = np.empty(req.shape[0] + k, np.int64)
            for t in range(req.shape[0]):
                plan[t] = req[t]
            for t in range(k):
                plan[req.shape[0] + t] = fr[order[t]]
        if L > best + 1e-9 * max(1.0, abs(L)):
            best = L
            best_u = u.copy()
            best_rho = rho.copy()
            stall = 0
            # a plan opening free site j costs at least L − ρ_(k) + ρ_j; one closing j, if j is among the k chosen,
            # at least L − ρ_j + ρ_(k+1)
            kth, next_ = -np.inf, np.inf
            for t in range(k):
                kth = max(kth, rf[order[t]])
            for t in range(k, nf):
                next_ = min(next_, rf[order[t]])
            for t in range(nf):
                best_site[t] = L + max(0.0, rf[t] - kth)
                best_close[t] = L
            for t in range(k):
                best_close[order[t]] = L - rf[order[t]] + next_
        else:
            stall += 1
            if stall >= patience:
                lam /= 2.0
                stall = 0
        goal = min(target, plan_cost)
        if best > goal - slack or lam < lam_min or gg == 0.0:
            break
        step = lam * (goal - L) / gg
        for i in range(n):
            u[i] += step * g[i]
    return best, best_u, best_rho, best_site, best_close, plan, plan_cost


def warm_up() -> Any:
    """Compile (or load from the cache) before the first timed call."""
    cost = np.array([[1.0, 2.0], [1.0, 3.0]])
    site = np.array([[0, 1], [1, 0]], np.int64)
    return node_dual(
        cost,
        site,
        np.array([1.5, 1.5]),
        np.zeros(0, np.int64),
        np.arange(2, dtype=np.int64),
        1,
        10.0,
        0.5,
        2.0,
        5,
        4,
        0.05,
    )
