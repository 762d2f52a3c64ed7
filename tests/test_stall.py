"""Stopping a stalled branch-and-bound early: the rule on recorded solver states, then on a real solve.

The grid instance is SYNTHETIC (random weights on a square grid), made for tests only.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from facility_planner.models import max_cover
from facility_planner.models._milp import StallWatch, stop_when_stalled


class _Event:
    """What HiGHS hands its interrupt callback, reduced to what the watch uses."""

    def __init__(self) -> None:
        self.interrupted = False

    def interrupt(self) -> None:
        self.interrupted = True


def _feed(watch: StallWatch, states) -> float | None:
    """Feed (seconds, plan, bound) states in order; the time of the interrupt, or None."""
    for t, plan, bound in states:
        ev = _Event()
        watch.observe(ev, t, plan, bound)
        if ev.interrupted:
            return t
    return None


def test_a_solve_whose_bound_and_plan_stand_still_is_stopped_after_its_window():
    # plan 1,000, bound 1,010: 1% apart, 0.5% asked; nothing moves
    w = StallWatch(30.0, 0.005, integral=True)
    t = _feed(w, [(0.5 + 0.1 * i, 1000.0, 1010.0) for i in range(200)])
    # judged once a tenth of the 30 s limit has passed (a 2 s window then lies behind it)
    assert t is not None and 3.0 <= t <= 3.1
    assert w.stopped["bound_moved"] == 0 and w.stopped["needed"] == pytest.approx(5.0)


def test_a_bound_on_its_way_to_the_gap_or_an_improving_plan_keeps_the_solve_going():
    # the bound falls 0.5 a second: 5 more are needed with 25 s left, so it would get there
    assert (
        _feed(StallWatch(30.0, 0.005, integral=True), [(t, 1000.0, 1010.0 - 0.5 * t) for t in np.arange(0.5, 5, 0.1)])
        is None
    )
    # the bound stands still but the plan improves every second
    states = [(t, 990.0 + int(t), 1010.0) for t in np.arange(0.5, 5, 0.1)]
    assert _feed(StallWatch(30.0, 0.005, integral=True), states) is None
    # within the gap asked already (the solver stops by itself): never interrupted
    assert _feed(StallWatch(30.0, 0.02, integral=True), [(t, 1000.0, 1010.0) for t in np.arange(0.5, 5, 0.1)]) is None
    # an integral objective 0.9 from its bound is proven: nothing to stop
    assert _feed(StallWatch(30.0, 0.0, integral=True), [(t, 1000.0, 1000.9) for t in np.arange(0.5, 5, 0.1)]) is None
    # nor is one whose bound, rounded down to a whole number as it will be reported, is within the gap (5 of 1,000)
    states = [(t, 1000.0, 1005.5) for t in np.arange(0.5, 5, 0.1)]
    assert _feed(StallWatch(30.0, 0.005, integral=True), states) is None
    assert _feed(StallWatch(30.0, 0.005, integral=False), states) is not None  # 5.5 of 1,000 is not


def test_a_slow_bound_is_judged_against_the_time_left():
    # the bound falls 0.1 a second and 5 are needed: at twice that pace it needs 25 s
    states = [(t, 1000.0, 1010.0 - 0.1 * t) for t in np.arange(0.5, 12, 0.1)]
    assert _feed(StallWatch(60.0, 0.005, integral=True), states) is None  # 58 s left at 2 s: enough
    assert _feed(StallWatch(10.0, 0.005, integral=True), states) is not None  # 8 s left: not enough


def _plus_grid(side: int, seed: int):
    """A side × side grid of cells, each reaching itself and its four neighbours (SYNTHETIC weights)."""
    rng = np.random.default_rng(seed)
    n = side * side
    rows, cols = [], []
    for r in range(side):
        for c in range(side):
            i = r * side + c
            for dr, dc in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
                if 0 <= r + dr < side and 0 <= c + dc < side:
                    rows.append(i)
                    cols.append((r + dr) * side + c + dc)
    A = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return A, rng.integers(5, 15, n).astype(float)


def test_a_stalled_maximal_covering_stops_before_its_limit_and_says_why():
    # covering by plus shapes: the LP bound stays about 0.5% above the best plans, and branch-and-bound barely moves it.
    # HiGHS's heuristic sub-MIPs (which call no callback) still improve the plan until about 5 s on this machine, so
    # the stall shows at about 7 s: the limit leaves room for a machine two or three times slower (CI under load hit
    # an 8 s limit first)
    A, w = _plus_grid(20, 1)
    limit = 25.0
    with stop_when_stalled(True):
        sol = max_cover(A, w, 60, time_limit_s=limit, mip_rel_gap=0.001)
    assert sol.status == "stalled" and sol.gap_exceeded
    assert sol.stalled["after_s"] < sol.stalled["limit_s"] == limit and sol.stalled["needed"] > 0
    assert sol.seconds < limit
    assert sol.best_bound >= sol.objective  # still a proven bound, and the plan is complete
    assert len(sol.selected) == 60
    # by default (as asked of a published instance) the same model runs to its limit
    full = max_cover(A, w, 60, time_limit_s=6.0, mip_rel_gap=0.001)
    assert full.status != "stalled" and full.stalled is None


def test_the_note_for_a_gap_left_says_whether_more_time_can_help():
    from facility_planner._i18n import note
    from facility_planner.families import gap_note

    # the large-model path ended before its limit: nothing left to try, so more time is not offered as the fix
    stop, text = gap_note(0.0096, 0.005, {"after_s": 105.4, "limit_s": 300.0, "reason": "converged"})
    assert stop == "stalled" and "0.96%" in text and "105 s of its 300 s" in text and "unlikely" in text
    zh, ok = note(text)
    assert ok and "0.96%" in zh and "300" in zh and "105" in zh and "不太可能" in zh
    # branch-and-bound stopped for a stall
    stop, text = gap_note(0.0087, 0.005, {"after_s": 12.0, "limit_s": 30.0, "window_s": 6.0})
    assert stop == "stalled" and "in its last 6 s" in text and "stop_when_stalled: false" in text
    assert note(text)[1]
    # ran to its limit: only then may a longer one close the gap
    stop, text = gap_note(0.0246, 0.005, None)
    assert stop == "time_limit" and text.endswith("a longer `solver.time_limit_s` may close it")
    zh, ok = note(text)
    assert ok and "2.46%" in zh and "可能缩小差距" in zh
