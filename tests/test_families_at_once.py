"""Families planned two at a time: the same plans as one by one, the order kept, a failure or Ctrl-C stops the rest,
and a model that uses its whole time limit runs alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from facility_planner._gate import Gate, alone, working
from facility_planner._interrupt import Interrupted, RunStop

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _wait_until(cond, timeout_s: float = 5.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return False


def test_a_model_that_runs_alone_waits_for_the_others_and_holds_new_ones_back():
    gate = Gate()
    log: list[str] = []
    b_may_end, c_started = threading.Event(), threading.Event()

    def family_a():
        with working(gate):
            log.append("a works")
            with alone():
                log.append("a alone")
                time.sleep(0.2)  # c tries to start meanwhile
                log.append("a alone ends")

    def family_b():
        with working(gate):
            log.append("b works")
            b_may_end.wait(5)
            log.append("b ends")

    def family_c():
        c_started.set()
        with working(gate):
            log.append("c works")

    tb = threading.Thread(target=family_b)
    tb.start()
    assert _wait_until(lambda: "b works" in log)
    ta = threading.Thread(target=family_a)
    ta.start()
    assert _wait_until(lambda: "a works" in log)
    time.sleep(0.1)
    assert "a alone" not in log  # b is still at work
    tc = threading.Thread(target=family_c)
    tc.start()
    c_started.wait(5)
    time.sleep(0.1)
    assert "c works" not in log  # a waits to run alone: nobody new starts
    b_may_end.set()
    for t in (ta, tb, tc):
        t.join(5)
    assert log.index("b ends") < log.index("a alone") < log.index("a alone ends") < log.index("c works")


def test_alone_outside_a_run_does_not_wait():
    with alone():
        pass  # no gate: families planned one at a time


def _yanqing():
    from facility_planner.scenario import load_scenario

    # 1 km cells, Yanqing: every family, rural townships (cemeteries kept off the cells of four other families)
    return load_scenario(ROOT / "scenarios" / "sample_small.yaml").model_copy(update={"district": "Yanqing"})


def test_two_at_a_time_gives_the_same_plans_in_the_same_order():
    from facility_planner.pipeline import run_scenario

    scn = _yanqing()
    one, two = run_scenario(scn, workers=1), run_scenario(scn, workers=2)
    assert list(two.families) == list(one.families) == list(scn.enabled_families())

    def plans(p):
        return {k: (sorted(map(str, f.sites["site_id"])), f.kpi.achieved, f.kpi.gap) for k, f in p.families.items()}

    assert plans(two) == plans(one)
    assert len(two.families["cemeteries"].sites) > 0
    cem = set(two.families["cemeteries"].sites["cell_id"])
    for other in scn.families["cemeteries"].exclude.not_with:
        assert not cem & set(two.families[other].sites["cell_id"].dropna())


def test_a_family_that_fails_stops_the_run_with_its_error(monkeypatch):
    import facility_planner.pipeline as P
    from facility_planner._errors import ScenarioError

    real = P.plan_family
    started: list[str] = []

    def plan_family(ctx, key, spec, i=0):
        started.append(key)
        if key == "care_centres":
            raise ScenarioError(f"families.{key}", ["SYNTHETIC failure"])
        return real(ctx, key, spec, i)

    monkeypatch.setattr(P, "plan_family", plan_family)
    with pytest.raises(ScenarioError, match="SYNTHETIC failure"):
        P.run_scenario(ROOT / "scenarios" / "sample_small.yaml", workers=2)
    assert len(started) < 6  # the failure stopped the run: the families after it never started


def test_a_workers_solve_is_interrupted_when_its_run_is_stopped():
    from facility_planner.models._milp import solve_milp

    stop = RunStop()
    out: dict = {}

    def work():
        t = time.perf_counter()
        try:
            solve_milp(_hard_model(), time_limit_s=60, mip_rel_gap=0, threads=1)
            out["result"] = "finished"
        except Interrupted:
            out["result"] = "interrupted"
        out["seconds"] = time.perf_counter() - t

    th = stop.start(work, name="worker")
    time.sleep(1.0)  # inside the solve
    stop.set()
    assert stop.wait_idle(10)
    th.join(10)
    assert out["result"] == "interrupted" and out["seconds"] < 10
    with pytest.raises(Interrupted):  # a new solve of the stopped run is refused
        with stop.solving():
            pass


def _hard_model():
    import numpy as np
    import scipy.sparse as sp

    from facility_planner.models._milp import MILP

    # SYNTHETIC: a random set-cover MILP HiGHS does not close in 60 s on one core
    rng = np.random.default_rng(1)
    n, m = 300, 1200
    A = (rng.random((m, n)) < 0.02).astype(float)
    A[np.arange(m), rng.integers(0, n, m)] = 1
    return MILP(
        c=rng.integers(1, 10, n).astype(float), A=sp.csr_matrix(A), row_lower=np.ones(m),
        row_upper=np.full(m, np.inf), lower=np.zeros(n), upper=np.ones(n), integer=np.ones(n, bool),
    )  # fmt: skip


# Two families at once, each in a long solve; Ctrl-C must end the run promptly, not after the solves.
PARALLEL_SOLVES = textwrap.dedent(
    """
    import sys
    import facility_planner.pipeline as P
    from facility_planner._interrupt import Interrupted, handle_signals
    from facility_planner.models._milp import solve_milp
    from facility_planner.scenario import load_scenario
    sys.path.insert(0, {tests!r})
    from test_families_at_once import _hard_model

    def plan_family(ctx, key, spec, i=0):
        # one write per line: print's separate writes of two threads interleaved ("solving solving ...")
        sys.stdout.write(f"solving {{key}}\\n")
        sys.stdout.flush()
        solve_milp(_hard_model(), time_limit_s=60, mip_rel_gap=0, threads=1)
        raise SystemExit("a solve ran to its end")

    P.plan_family = plan_family
    fams = list(load_scenario({scenario!r}).enabled_families().items())[:2]
    with handle_signals():
        try:
            P._plan_families(None, fams, 2)
        except Interrupted as exc:
            print("interrupted", flush=True)
            sys.exit(exc.exit_code)
    """
)


@pytest.mark.slow
def test_ctrl_c_stops_families_solving_at_once_promptly():
    code = PARALLEL_SOLVES.format(tests=str(ROOT / "tests"), scenario=str(ROOT / "scenarios" / "sample_small.yaml"))
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=ENV) as p:
        try:
            assert {p.stdout.readline().split()[0] for _ in range(2)} == {"solving"}
            time.sleep(1.0)  # both inside their solves
            t = time.perf_counter()
            p.send_signal(signal.SIGINT)
            out = p.stdout.read()
            p.wait(timeout=30)
            took = time.perf_counter() - t
        finally:
            p.kill()
    assert "interrupted" in out and p.returncode == 130
    assert took < 5.0, f"took {took:.1f} s to stop"


def test_a_family_that_must_avoid_a_family_not_planned_still_runs():
    """`plan_only` leaves out families that cemeteries must avoid: the run must not wait for them (it used to hang)."""
    from facility_planner.pipeline import run_scenario

    scn = _yanqing().model_copy(update={"plan_only": ["care_centres", "cemeteries"]})
    assert set(scn.families["cemeteries"].exclude.not_with) - set(scn.plan_only)
    out: dict = {}
    th = threading.Thread(target=lambda: out.update(plan=run_scenario(scn, workers=2)), daemon=True)
    th.start()
    th.join(120)
    assert "plan" in out, "the run did not finish"
    assert list(out["plan"].families) == ["care_centres", "cemeteries"]


def test_a_family_cache_plans_a_family_once_and_again_when_what_decides_it_changes(tmp_path, monkeypatch):
    import facility_planner.pipeline as P

    real = P.plan_family
    planned: list[str] = []

    def plan_family(ctx, key, spec, i=0):
        planned.append(key)
        return real(ctx, key, spec, i)

    monkeypatch.setattr(P, "plan_family", plan_family)
    base = _yanqing().model_copy(update={"plan_only": ["eldercare_stations", "care_centres", "cemeteries"]})
    first = P.run_scenario(base, family_cache=tmp_path, workers=1)
    assert planned == ["eldercare_stations", "care_centres", "cemeteries"]
    planned.clear()
    again = P.run_scenario(base, family_cache=tmp_path, workers=2)
    assert planned == []  # every family from the cache, the same plan
    for k, f in first.families.items():
        assert sorted(map(str, again.families[k].sites["site_id"])) == sorted(map(str, f.sites["site_id"]))
    # fewer stations: the stations again, and the cemeteries (they must avoid the stations' cells); not the centres
    fams = dict(base.families)
    fams["eldercare_stations"] = fams["eldercare_stations"].model_copy(update={"by_district": {"Yanqing": 5}})
    P.run_scenario(base.model_copy(update={"families": fams}), family_cache=tmp_path, workers=1)
    assert planned == ["eldercare_stations", "cemeteries"]


def test_a_sweep_starts_runs_that_share_little_first():
    from facility_planner.sweep import SweepRun, _sharing_order

    runs = [SweepRun(f"run-{i + 1}", {"speed": s, "count": c}, {}) for i, (s, c) in enumerate(
        [(s, c) for s in (3, 4, 5) for c in (20, 28)]
    )]  # fmt: skip
    assert [r.run_id for r in _sharing_order(runs)] == ["run-1", "run-3", "run-5", "run-2", "run-4", "run-6"]
