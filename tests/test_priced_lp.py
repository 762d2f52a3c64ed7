"""LP shortcuts of the maximal covering: its LP solved over a few sites and priced to the whole model's optimum
(``priced_lp_dive``), and the window search's LP check and memo of windows stopped at their time limit.

Every instance here is SYNTHETIC (random points in a square, random weights, a town-like grid), made for tests only.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial import cKDTree

from facility_planner.models import max_cover
from facility_planner.models._large import _covered, lagrangian_value, priced_lp_dive
from facility_planner.models._milp import lp_dive
from facility_planner.models.coverage import max_cover_milp


def _town(seed: int, n: int = 2500, m: int = 3000, radius: float = 450.0):
    """SYNTHETIC: n demand points in clusters and m sites uniform in a 6 km square; coverage within ``radius``."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 6000, (12, 2))
    dem = centres[rng.integers(0, 12, n)] + rng.normal(0, 600, (n, 2))
    sites = rng.uniform(0, 6000, (m, 2))
    lists = cKDTree(sites).query_ball_point(dem, radius)
    r = np.repeat(np.arange(n), [len(x) for x in lists])
    c = np.concatenate([np.asarray(x, dtype=int) for x in lists])
    U = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n, m))
    keep = np.asarray(U.sum(axis=1)).ravel() > 0
    return U[keep].tocsr(), rng.integers(1, 40, int(keep.sum())).astype(float)


def _grid(seed: int, side: int = 70, radius: float = 1.6, towns: int = 25):
    """SYNTHETIC, shaped like a district's cells: a side × side grid of cells, people in towns of random size, each
    cell a candidate site reaching the cells within ``radius`` cells (about 9). The few sites near the towns reach a
    small part of the cells, as on Beijing's grid, so pricing applies."""
    rng = np.random.default_rng(seed)
    xy = np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2).astype(float)
    centres, size, pop = rng.uniform(0, side, (towns, 2)), rng.uniform(1.5, 5, towns), rng.lognormal(6, 1, towns)
    d = np.linalg.norm(xy[:, None, :] - centres[None], axis=2)
    w = np.round((pop * np.exp(-((d / size) ** 2))).sum(axis=1) + rng.uniform(0, 3, len(xy)))
    lists = cKDTree(xy).query_ball_point(xy, radius)
    r = np.repeat(np.arange(len(xy)), [len(x) for x in lists])
    c = np.concatenate([np.asarray(x, dtype=int) for x in lists])
    U = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(xy), len(xy)))
    return U[w > 0].tocsr(), w[w > 0]


def _milp(U, wu, p, required=None):
    """The MILP max_cover builds (site columns, then one z per row; the links, then the count row), required sites
    fixed open."""
    required = np.zeros(U.shape[1], bool) if required is None else required
    return max_cover_milp(U, wu, p, required=required, lower=required.astype(float))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_priced_lp_is_the_whole_lp_and_its_duals_bound_the_whole_model(seed):
    U, wu = (_town if seed == 2 else _grid)(seed)
    m = U.shape[1]
    required = np.zeros(m, bool)
    required[[5, 17]] = True  # existing sites stay open in both
    allowed = np.ones(m, bool)
    allowed[30:60] = False  # forbidden sites stay closed
    p = 12
    milp = _milp(U, wu, p, required)
    milp.upper[:m][~allowed] = 0.0
    full = lp_dive(milp, deadline=1e18, max_steps=1)
    # a start that leaves out most of the LP's sites, so pricing must bring them in (on the compact town too, where
    # by default the whole LP would be solved instead)
    priced = priced_lp_dive(
        milp, U, wu, p, required, allowed, deadline=1e18, min_sites=30, per_site=1, max_rows_share=1.0
    )
    assert priced.whole and priced.rounds >= 2 and priced.sites < m
    assert priced.dive.lp_objective == pytest.approx(full.lp_objective, rel=1e-7)
    # its duals, over every site, give back the whole LP's bound
    bound = lagrangian_value(U, wu, p, required, allowed, np.abs(priced.dive.row_dual[: U.shape[0]]))
    assert bound == pytest.approx(full.lp_objective, rel=1e-6)
    # the dive's plan is a plan of the whole model: p new sites, the existing ones open
    x = priced.dive.x[:m] > 0.5
    assert x[required].all() and int(x[~required].sum()) == p and not x[~allowed].any()
    assert _covered(U, wu, x) <= bound + 1e-6


def test_pricing_stopped_early_says_so_and_still_bounds_the_model():
    U, wu = _grid(3)
    m = U.shape[1]
    required, allowed = np.zeros(m, bool), np.ones(m, bool)
    milp = _milp(U, wu, 12)
    full = lp_dive(milp, deadline=1e18, max_steps=1)
    # a deadline already past: the first restricted LP is not solved, so the whole model is solved instead
    late = priced_lp_dive(milp, U, wu, 12, required, allowed, deadline=0.0, min_sites=60, per_site=1)
    assert late.dive.lp_objective is None and late.dive.x is None and not late.whole
    # one pricing round allowed: a too-small start ends short of the whole LP, and says so
    one = priced_lp_dive(milp, U, wu, 12, required, allowed, deadline=1e18, min_sites=13, per_site=1, max_rounds=1)
    assert not one.whole and one.rounds == 1
    assert one.dive.lp_objective <= full.lp_objective + 1e-6
    bound = lagrangian_value(U, wu, 12, required, allowed, np.abs(one.dive.row_dual[: U.shape[0]]))
    assert bound >= full.lp_objective - 1e-6  # any multipliers bound the whole model


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_max_cover_with_the_priced_lp_reaches_the_plain_mip_optimum(seed):
    U, wu = _grid(seed)
    if seed == 6:
        wu = wu + np.random.default_rng(seed).uniform(0, 1, len(wu))  # fractional weights
    existing = [100, 2000] if seed == 5 else []
    exact = max_cover(U, wu, 20, existing=existing, mip_rel_gap=0.0, time_limit_s=120)
    assert exact.optimal
    # with a gap allowed the priced LP and its dive run (4,600 useful sites for 1,000 in the LP)
    sol = max_cover(U, wu, 20, existing=existing, mip_rel_gap=0.005, time_limit_s=120)
    assert any("priced to the whole model's optimum" in n for n in sol.notes)
    assert set(existing) <= set(sol.selected) and len(sol.selected) == 20 + len(existing)
    assert sol.best_bound >= exact.objective - 1e-6
    assert exact.objective * (1 - 0.005) - 1e-6 <= sol.objective <= exact.objective + 1e-6
    assert sol.gap <= 0.005 + 1e-9


def test_time_running_out_while_pricing_keeps_the_last_lp_solved(monkeypatch):
    from facility_planner.models import _milp as milp_module

    U, wu = _grid(2)
    m = U.shape[1]
    required, allowed = np.zeros(m, bool), np.ones(m, bool)
    milp = _milp(U, wu, 12)
    full = lp_dive(milp, deadline=1e18, max_steps=1)
    real = milp_module.lp_dive
    calls = []

    def second_runs_out(model, **kw):
        calls.append(1)
        if len(calls) == 2:  # the second restricted LP: time is up before it is solved
            return milp_module.Dive(None, None, None, None, 0, 0.0)
        return real(model, **kw)

    monkeypatch.setattr(milp_module, "lp_dive", second_runs_out)
    got = priced_lp_dive(milp, U, wu, 12, required, allowed, deadline=1e18, min_sites=60, per_site=1)
    assert not got.whole and got.rounds == 2 and got.sites == 60
    assert got.dive.lp_objective is not None and got.dive.lp_objective < full.lp_objective - 1e-6
    bound = lagrangian_value(U, wu, 12, required, allowed, np.abs(got.dive.row_dual[: U.shape[0]]))
    assert bound >= full.lp_objective - 1e-6


def test_no_better_rounds_only_whole_number_weights():
    from facility_planner.models._large import _no_better

    assert _no_better(100.99, 100.0, integral=True)  # no whole number above 100 and at most 100.99
    assert not _no_better(101.0, 100.0, integral=True)
    assert not _no_better(100.99, 100.0, integral=False)  # a fractional plan could cover 100.5
    assert _no_better(100.0 + 1e-8, 100.0, integral=False)


@pytest.mark.parametrize("seed", range(4))
def test_the_window_lp_check_skips_no_window_that_could_improve(monkeypatch, seed):
    """The window search with its LP check ends with the same plan as without it (every window then goes to the
    MIP), from the same poor start; integer and fractional weights."""
    import time

    from facility_planner.models import _large

    U, wu = _town(seed, n=900, m=400, radius=500.0)
    if seed % 2:
        wu = wu + np.random.default_rng(seed).uniform(0, 1, len(wu))  # fractional weights
    m = U.shape[1]
    x = np.zeros(m, bool)
    x[np.random.default_rng(seed).choice(m, 15, replace=False)] = True
    none, every = np.zeros(m, bool), np.ones(m, bool)
    with_check = _large.window_search(U, wu, x, none, every, time.perf_counter() + 120, hops=1, max_sites=40)
    monkeypatch.setattr(_large, "_no_better", lambda *a: False)
    without = _large.window_search(U, wu, x, none, every, time.perf_counter() + 120, hops=1, max_sites=40)
    assert with_check[1] > 0  # the start was poor: windows improved it
    assert (with_check[0] == without[0]).all()


def test_a_window_cut_short_by_the_deadline_is_tried_again(monkeypatch):
    """A window whose MIP stopped at its time limit with nothing better is remembered only when it had its whole
    window time; one cut short by the search's deadline is solved again by the next search."""
    import time

    from facility_planner.models import _large
    from facility_planner.models._milp import RawResult

    U, wu = _town(1, n=600, m=300, radius=500.0)
    m = U.shape[1]
    x = np.zeros(m, bool)
    x[np.random.default_rng(1).choice(m, 10, replace=False)] = True
    none, every = np.zeros(m, bool), np.ones(m, bool)
    limits = []
    real = _large.solve_milp

    def nothing_better(milp, **kw):
        if not milp.integer.any():
            return real(milp, **kw)
        limits.append(kw["time_limit_s"])  # the MIP: stopped at its limit with the start it was given
        ws = kw["warm_start"]
        return RawResult("time_limit", ws, float(milp.c @ ws), None, None, kw["time_limit_s"], "highs", "", {})

    monkeypatch.setattr(_large, "_no_better", lambda *a: False)  # every window goes to its MIP
    monkeypatch.setattr(_large, "solve_milp", nothing_better)
    memo = _large.SearchMemo()
    # the deadline is closer than the window time: every MIP gets less than its 5 s, and none is remembered
    _large.window_search(U, wu, x, none, every, time.perf_counter() + 2.0, window_time_s=5.0, memo=memo)
    assert limits and max(limits) < 5.0
    # so the next search solves them again, each with its whole 5 s, and remembers them: a third solves nothing
    limits.clear()
    _large.window_search(U, wu, x, none, every, time.perf_counter() + 600, window_time_s=5.0, memo=memo)
    assert limits and min(limits) == 5.0
    limits.clear()
    _large.window_search(U, wu, x, none, every, time.perf_counter() + 600, window_time_s=5.0, memo=memo)
    assert limits == []
