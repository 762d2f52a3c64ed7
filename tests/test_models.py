"""Location models: hand-solvable optima, side constraints, explained infeasibility, solver backends.

Instances here are SYNTHETIC (random points or hand-built matrices), made for tests only.
"""

from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sp

from facility_planner import InfeasibleModelError, SolverError, ValidationError
from facility_planner.matrices import LabelledMatrix
from facility_planner.models import SideConstraints, max_cover, p_center, p_median, partial_cover, set_cover
from facility_planner.models._milp import relative_gap

# 4 demand × 5 sites, hand-solvable: site s2 alone covers d0, d1; s4 covers d2, d3; s0 covers d0 only ...
COV = LabelledMatrix(
    sp.csr_matrix(
        np.array(
            [
                [1, 0, 1, 0, 0],
                [0, 1, 1, 0, 0],
                [0, 0, 0, 1, 1],
                [0, 0, 0, 0, 1],
            ],
            dtype=float,
        )
    ),
    np.array(["d0", "d1", "d2", "d3"]),
    np.array(["s0", "s1", "s2", "s3", "s4"]),
)
W = np.array([10.0, 20.0, 30.0, 5.0])


def test_set_cover_known_optimum():
    sol = set_cover(COV)
    assert sol.optimal and sol.objective == 2 and sorted(sol.selected) == ["s2", "s4"]
    assert sol.gap == 0
    assert sol.assignment["covered"].all()


def test_set_cover_costs_and_uncoverable_rows_reported():
    cov = LabelledMatrix(sp.vstack([COV.matrix, sp.csr_matrix((1, 5))]).tocsr(), [*COV.row_ids, "far"], COV.col_ids)
    sol = set_cover(cov, costs=[1, 1, 5, 1, 1])
    assert sol.objective == 3 and sorted(sol.selected) == ["s0", "s1", "s4"]
    assert sol.extra["uncoverable_rows"] == ["far"]
    assert any("out of reach" in n for n in sol.notes)


def test_max_cover_known_optimum_and_existing_sites():
    sol = max_cover(COV, W, p=1)
    assert sol.objective == 35 and sol.selected == ["s4"]
    sol = max_cover(COV, W, p=1, existing=["s0"])
    assert sorted(sol.selected) == ["s0", "s4"] and sol.existing_sites == ["s0"] and sol.new_sites == ["s4"]
    assert sol.objective == 45
    assert sol.extra["covered_share"] == pytest.approx(45 / 65)


def test_partial_cover_weight_and_units():
    sol = partial_cover(COV, W, share=0.5)
    assert sol.objective == 1 and sol.selected == ["s4"]  # 35 of 65 ≥ 50%
    sol = partial_cover(COV, None, share=0.75)  # 3 of 4 demand units
    assert sol.objective == 2


def test_partial_cover_unreachable_share_is_explained():
    cov = LabelledMatrix(sp.vstack([COV.matrix, sp.csr_matrix((2, 5))]).tocsr(), [*COV.row_ids, "x", "y"], COV.col_ids)
    with pytest.raises(InfeasibleModelError) as e:
        partial_cover(cov, None, share=0.8)
    assert "at most 66.7%" in str(e.value) and "2 demand row(s)" in str(e.value)


def test_per_unit_minimum_and_the_unit_without_sites():
    units = {"s0": "A", "s1": "A", "s2": "B", "s3": "C", "s4": "C"}
    sol = set_cover(COV, side=SideConstraints(site_units=units, min_per_unit=1))
    assert sol.objective == 3
    assert {units[s] for s in sol.selected} == {"A", "B", "C"}
    with pytest.raises(InfeasibleModelError) as e:
        set_cover(COV, side=SideConstraints(site_units=units, min_per_unit=1, units=["A", "B", "C", "D"]))
    assert "unit D needs at least 1 site(s) but has no allowed candidate site" in str(e.value)
    side = SideConstraints(site_units=units, min_per_unit=1, forbidden=["s2"])
    with pytest.raises(InfeasibleModelError, match="unit B"):
        max_cover(COV, W, p=3, side=side)


def test_max_per_unit_budget_required_forbidden():
    units = {"s0": "A", "s1": "A", "s2": "A", "s3": "C", "s4": "C"}
    sol = max_cover(COV, W, p=2, side=SideConstraints(site_units=units, max_per_unit=1))
    assert sum(units[s] == "A" for s in sol.selected) <= 1
    sol = max_cover(COV, W, p=2, side=SideConstraints(forbidden=["s4"]))
    assert "s4" not in sol.selected
    cost = {"s0": 1, "s1": 1, "s2": 5, "s3": 1, "s4": 2}
    sol = max_cover(COV, W, p=2, side=SideConstraints(budget=3, site_cost=cost))
    # the optimum under the budget, by complete enumeration of every plan of at most 2 sites costing at most 3
    dense, ids = COV.matrix.toarray() > 0, list(COV.col_ids)
    best = max(
        W[dense[:, [ids.index(s) for s in plan]].any(axis=1)].sum() if plan else 0.0
        for k in range(3)
        for plan in combinations(ids, k)
        if sum(cost[s] for s in plan) <= 3
    )
    assert best == 55.0  # {s1, s4}: d1, d2, d3 (hand check of the enumeration)
    assert sol.optimal and sol.objective == pytest.approx(best)
    assert sum(cost[s] for s in sol.selected) <= 3
    with pytest.raises(InfeasibleModelError, match="both required and forbidden"):
        max_cover(COV, W, p=1, side=SideConstraints(required=["s1"], forbidden=["s1"]))
    with pytest.raises(ValidationError, match="not candidate sites"):
        max_cover(COV, W, p=1, existing=["nope"])


def test_p_too_large_is_explained():
    with pytest.raises(InfeasibleModelError, match="only 4 candidate sites"):
        max_cover(COV, W, p=5, existing=["s0"])


def test_p_median_and_p_center_known_optimum():
    D = np.array([[0, 3, 5.0], [3, 0, 4], [5, 4, 0], [6, 2, 1]])
    sol = p_median(D, [1, 1, 1, 1], p=1)
    assert sol.objective == 9 and sol.selected == [1]
    sol = p_median(D, [1, 1, 1, 10], p=1)
    assert sol.selected == [2]
    assert p_center(D, p=1).objective == 4
    assert p_center(D, p=2).objective == 3  # e.g. sites {1, 2}: d0 is 3 from site 1
    cap = p_median(D, [1, 1, 1, 1], p=2, capacities=[2, 2, 2])
    assert cap.optimal and cap.objective == 4


def test_p_median_with_every_site_open():
    # p equal to the number of allowed sites leaves nothing to swap: every site opens, each demand at its nearest
    D = np.array([[0, 3, 5.0], [3, 0, 4], [5, 4, 0], [6, 2, 1]])
    sol = p_median(D, [1, 1, 1, 1], p=3)
    assert sol.optimal and sorted(sol.selected) == [0, 1, 2] and sol.objective == 1
    sol = p_median(D, [1, 1, 1, 1], p=2, existing=[0])
    assert sorted(sol.selected) == [0, 1, 2] and sol.objective == 1


def test_p_median_sparse_unreachable_demand_is_explained():
    C = LabelledMatrix(sp.csr_matrix(([1.0, 2.0], ([0, 1], [0, 0])), shape=(3, 2)), ["a", "b", "c"], ["s", "t"])
    with pytest.raises(InfeasibleModelError, match="demand c "):
        p_median(C, None, p=1)


def test_zero_cost_entries_count():
    # a demand at a site has cost 0, stored explicitly: still reachable
    C = LabelledMatrix(sp.csr_matrix(([0.0, 5.0, 0.0], ([0, 0, 1], [0, 1, 1])), shape=(2, 2)), ["a", "b"], ["s", "t"])
    sol = p_median(C, [1, 1], p=1)
    assert sol.selected == ["t"] and sol.objective == 5


def test_bad_inputs():
    with pytest.raises(ValidationError, match="negative weight"):
        max_cover(COV, [-1, 1, 1, 1], p=1)
    with pytest.raises(ValidationError, match="expected 4 weights"):
        max_cover(COV, [1, 1], p=1)
    with pytest.raises(ValidationError, match="whole number"):
        max_cover(COV, W, p=1.5)
    with pytest.raises(ValidationError, match="share"):
        partial_cover(COV, W, share=80)
    with pytest.raises(ValidationError, match="time_limit_s"):
        max_cover(COV, W, p=1, time_limit_s=0)
    with pytest.raises(SolverError, match="unknown solver"):
        max_cover(COV, W, p=1, solver="nosuchsolver")


@pytest.mark.slow
def test_time_limit_returns_best_plan_with_gap():
    rng = np.random.default_rng(3)
    n, m = 3000, 1500
    dem, sites = rng.uniform(0, 20000, (n, 2)), rng.uniform(0, 20000, (m, 2))
    from scipy.spatial import cKDTree

    lists = cKDTree(sites).query_ball_point(dem, 1500)
    r = np.repeat(np.arange(n), [len(x) for x in lists])
    c = np.concatenate([np.asarray(x, dtype=int) for x in lists])
    A = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n, m))
    w = rng.integers(1, 50, n).astype(float)
    sol = partial_cover(A, w, share=0.95, time_limit_s=1.0, mip_rel_gap=0.0)
    # whatever the machine managed in 1 s: the plan is feasible and its bound and gap are true statements
    assert sol.status in ("time_limit", "optimal")
    open_cols = np.isin(np.arange(m), sol.selected)
    covered = np.asarray(A[:, open_cols].sum(axis=1)).ravel() > 0
    assert w[covered].sum() >= 0.95 * w.sum() - 1e-6
    assert sol.objective == len(sol.selected)
    assert sol.best_bound is not None and sol.gap is not None
    assert sol.best_bound <= sol.objective + 1e-9
    assert sol.gap == pytest.approx(relative_gap(sol.objective, sol.best_bound))
    # the bound is valid: no plan needs fewer sites than it says. A second solve with more time gives a plan (an
    # upper bound on the optimum) and its own bound; each run's bound must lie below the other's plan.
    ref = partial_cover(A, w, share=0.95, time_limit_s=20.0, mip_rel_gap=0.0)
    assert sol.best_bound <= ref.objective + 1e-9
    assert ref.best_bound is not None and ref.best_bound <= sol.objective + 1e-9
    if sol.optimal and ref.optimal:
        assert sol.objective == ref.objective


def test_cbc_backend_agrees_with_highs():
    pytest.importorskip("pulp")
    import pulp

    if "PULP_CBC_CMD" not in pulp.listSolvers(onlyAvailable=True):
        pytest.skip("CBC is not available in this PuLP install")
    a = max_cover(COV, W, p=2, solver="cbc")
    b = max_cover(COV, W, p=2)
    assert a.objective == b.objective and a.optimal
    D = np.array([[0, 3, 5.0], [3, 0, 4], [5, 4, 0], [6, 2, 1]])
    assert p_median(D, [1, 2, 3, 4], p=1, solver="cbc").objective == p_median(D, [1, 2, 3, 4], p=1).objective


def test_a_start_plan_is_where_max_cover_begins():
    # rows a b c d e (weights 2 2 2 2 1), sites L {a, b}, M {b, c, e}, R {c, d}, p = 2: greedy takes M first and
    # ends at 7; the optimum {L, R} covers 8. With no time to improve, the plan is the start it was given
    A = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1], [0, 1, 0]], float))
    w = np.array([2, 2, 2, 2, 1.0])
    for method in ("lagrangian", "mip"):
        sol = max_cover(A, w, 2, site_ids=["L", "M", "R"], method=method, time_limit_s=1e-3, start=["L", "R"])
        assert sol.objective == 8 and sorted(sol.selected) == ["L", "R"]
    # a start with fewer than p sites is completed greedily; one site is the whole plan's start
    sol = max_cover(A, w, 2, site_ids=["L", "M", "R"], time_limit_s=1e-3, start=["R"], method="lagrangian")
    assert "R" in sol.selected and len(sol.selected) == 2
    with pytest.raises(ValidationError, match="not candidate sites: Q"):
        max_cover(A, w, 2, site_ids=["L", "M", "R"], start=["L", "Q"])
    with pytest.raises(ValidationError, match=r"opens 3 new sites; at most p = 2"):
        max_cover(A, w, 2, site_ids=["L", "M", "R"], start=["L", "M", "R"])


def test_price_rule_starts_the_ruled_plan_from_the_plan_without_the_rule(monkeypatch):
    from facility_planner.models import equity

    calls = []

    def spy(*args, **kw):
        calls.append(kw)
        return max_cover(*args, **kw)

    monkeypatch.setattr(equity, "max_cover", spy)
    A = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1], [0, 1, 0]], float))
    pr = equity.price_rule(A, [2, 2, 2, 2, 1], 1, rule={"groups": [0, 0, 1, 1, 1], "min_group_share": {1: 0.5}})
    assert "start" not in calls[0] and calls[1]["start"] == pr.free.selected
    assert pr.ruled.objective <= pr.free.objective


def test_the_price_sentence_when_the_plan_with_the_rule_found_more(monkeypatch):
    # SYNTHETIC (a reviewer's reproducer): the plan without the rule is cut off at once, the one with a rule that
    # barely binds starts from it with more time and covers more: the sentence says so, in English and in Chinese
    import re

    from scipy.spatial import cKDTree

    from facility_planner._i18n import note
    from facility_planner.models.equity import price_rule

    rng = np.random.default_rng(3)
    dem, sites = rng.random((400, 2)), rng.random((120, 2))
    lists = cKDTree(sites).query_ball_point(dem, 0.12)
    r = np.repeat(np.arange(400), [len(x) for x in lists])
    A = sp.csr_matrix((np.ones(len(r)), (r, np.concatenate(lists).astype(int))), shape=(400, 120))
    w = rng.integers(1, 50, 400).astype(float)
    g = (dem[:, 0] > 0.5).astype(int)
    free = max_cover(A, w, 8, groups=g, method="lagrangian", time_limit_s=1e-3, mip_rel_gap=0.0, start=range(8))
    pr = price_rule(
        A, w, 8, rule={"groups": g, "min_group_share": 0.05}, name="the district minimum of 5% covered", free=free,
        method="lagrangian", time_limit_s=3, mip_rel_gap=0.0,
    )  # fmt: skip
    assert pr.ruled.objective > free.objective and pr.price_found < 0
    text = pr.describe()
    assert "the plan found with the rule covers" in text and "differ by -" not in text
    zh, ok = note(text)
    assert ok and "多覆盖" in zh and not re.search("[A-Za-z]", zh)
    # no bound proven without the rule: no "inf" in the sentence
    monkeypatch.setattr(pr.free, "best_bound", None)
    text = pr.describe()
    assert "at least" in text and "inf" not in text
    zh, ok = note(text)
    assert ok and "至少" in zh and not re.search("[A-Za-z]", zh)


def test_start_ids_are_checked_everywhere_and_forbidden_ones_are_dropped():
    A = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1], [0, 1, 0]], float))
    w = np.array([2, 2, 2, 2, 1.0])
    ids = ["L", "M", "R"]
    # a forbidden site in the start is dropped and not counted against p
    sol = max_cover(A, w, 2, site_ids=ids, side=SideConstraints(forbidden=["M"]), start=["L", "M", "R"])
    assert sorted(sol.selected) == ["L", "R"]
    # one id given as a string is one id, not its letters
    with pytest.raises(ValidationError, match="not candidate sites: LR"):
        max_cover(A, w, 2, site_ids=ids, start="LR")
    assert "R" in max_cover(A, w, 2, site_ids=ids, start="R", time_limit_s=1e-3, method="lagrangian").selected
    # with capacities the start is not used, but a wrong id is still refused
    with pytest.raises(ValidationError, match="not candidate sites: Q"):
        max_cover(A, w, 2, site_ids=ids, capacity=5, start=["L", "Q"])
