"""What-if sweeps: parsing and validating overrides, and real sweeps on a 2-worker Dask LocalCluster."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from facility_planner._errors import OutputExistsError, ScenarioError, ValidationError
from facility_planner.sweep import map_tasks, parse_set, plan_runs, results_table, run_sweep, set_path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "scenarios" / "sample_small.yaml"


def test_parse_set_reads_values_with_yaml_1_2_rules():
    assert parse_set("travel.speed_kmh=3,4.5, 5") == ("travel.speed_kmh", [3, 4.5, 5])
    key, vals = parse_set("district=no,Haidian,true")
    assert key == "district" and vals == ["no", "Haidian", True]  # `no` stays text, as in scenario files
    assert parse_set('outputs.basemap=[none, "a,b"]') == ("outputs.basemap", ["none", "a,b"])
    with pytest.raises(ValidationError, match="no `=`"):
        parse_set("travel.speed_kmh")
    with pytest.raises(ValidationError, match="dotted key"):
        parse_set("travel..speed=3")
    with pytest.raises(ValidationError, match="one or more values"):
        parse_set("travel.speed_kmh=3,,4")


def test_set_path_creates_mappings_and_refuses_to_go_through_a_value():
    base = {"travel": {"mode": "straight_line"}, "name": "x"}
    out = set_path(base, "families.psych_points.share", 0.7)
    assert out["families"] == {"psych_points": {"share": 0.7}}
    assert "families" not in base  # the base dict is left alone
    with pytest.raises(ValidationError, match="not a mapping"):
        set_path(base, "name.first", "y")


def test_plan_runs_builds_the_grid_with_absolute_base_dir():
    key = "families.eldercare_stations.by_district.Xicheng"
    runs = plan_runs(SAMPLE, ["travel.speed_kmh=3,4,5", f"{key}=10,20"])
    assert [r.run_id for r in runs] == [f"run-{i}" for i in range(1, 7)]
    assert runs[1].params == {"travel.speed_kmh": 3, key: 20}
    assert runs[1].scenario["families"]["eldercare_stations"] == {"by_district": {"Xicheng": 20}}
    assert runs[1].scenario["travel"] == {"speed_kmh": 3}
    assert Path(runs[0].scenario["base_dir"]) == SAMPLE.parent
    assert len({r.scenario["name"] for r in runs}) == 6
    runs = plan_runs(SAMPLE, {"travel.time_limit_min": [10]}, district="Dongcheng")
    assert runs[0].scenario["district"] == "Dongcheng"


def test_unknown_keys_and_bad_values_are_refused_all_at_once():
    with pytest.raises(ScenarioError) as exc:
        plan_runs(SAMPLE, ["travel.speeed_kmh=3"])
    msg = str(exc.value)
    assert "no key `speeed_kmh` at travel" in msg and "speed_kmh" in msg
    with pytest.raises(ScenarioError) as exc:  # under a family the schema is the block's: a misspelt key
        plan_runs(SAMPLE, ["families.eldercare_stations.stations=10"])
    msg = str(exc.value)
    assert "families.eldercare_stations.stations" in msg and "check its spelling" in msg
    with pytest.raises(ScenarioError) as exc:
        plan_runs(SAMPLE, ["travel.speed_kmh=-1,4,fast"])
    msg = str(exc.value)
    assert "travel.speed_kmh" in msg and "greater than 0" in msg and "'fast'" in msg
    with pytest.raises(ValidationError, match="twice"):
        plan_runs(SAMPLE, ["travel.speed_kmh=3", "travel.speed_kmh=4"])


def test_results_table_keeps_extra_keys_and_errors():
    from facility_planner.sweep import SweepRun

    runs = [SweepRun("run-1", {"a": 1}, {}), SweepRun("run-2", {"a": 2}, {})]
    results = [
        {"summary": {"families": {"f": {"target": 3.0, "achieved": 0.123456, "new_kpi": "x", "rows": [1]}}}},
        {"error": "InfeasibleModelError: no plan", "seconds": 1.0},
    ]
    t = results_table(runs, results)
    assert list(t["status"]) == ["ok", "error"]
    assert t.loc[0, "f.achieved"] == 0.1235 and t.loc[0, "f.new_kpi"] == "x"
    assert "f.rows" not in t
    assert t.loc[1, "error"].startswith("InfeasibleModelError")


def test_sweep_chart_names_the_families_that_do_not_change_instead_of_drawing_flat_lines():
    import matplotlib.pyplot as plt

    from facility_planner.sweep import SweepRun, sweep_figure

    runs = [SweepRun(f"run-{i}", {"travel.speed_kmh": v}, {}) for i, v in enumerate((3, 4, 5), 1)]

    def fam(share, beds):
        return {
            "stations": {"name_en": "Stations", "target": 10, "achieved": 10, "unit": "sites", "covered_share": share},
            "beds": {"name_en": "Beds", "target": 200, "achieved": beds, "unit": "beds"},
        }

    def figure(results):
        table = results_table(runs, results)
        names = {"stations": ("", "Stations"), "beds": ("", "Beds")}
        fig, notes = sweep_figure(table, ["travel.speed_kmh"], names)
        titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
        plt.close(fig)
        return titles, notes

    titles, notes = figure([{"summary": {"families": fam(s, 200)}} for s in (0.5, 0.6, 0.7)])
    assert titles == ["Stations"]
    assert any("not charted: Beds: 200 beds" in n for n in notes)
    titles, notes = figure([{"summary": {"families": fam(s, 1)}} for s in (0.5, 0.6, 0.7)])
    assert any("not charted: Beds: 1 bed" in n and "1 beds" not in n for n in notes)
    titles, notes = figure([{"summary": {"families": fam(s, b)}} for s, b in ((0.5, 200), (0.6, 210), (0.7, 220))])
    assert titles == ["Stations", "Beds"] and not any("not charted" in n for n in notes)
    # nothing changes: every family is still drawn, and no note says otherwise
    titles, notes = figure([{"summary": {"families": fam(0.5, 200)}} for _ in range(3)])
    assert titles == ["Stations", "Beds"] and not any("not charted" in n for n in notes)


def test_map_tasks_runs_locally_without_a_client():
    assert map_tasks(math.sqrt, [1, 4, 9]) == [1.0, 2.0, 3.0]


@pytest.fixture(scope="module")
def cluster():
    import logging

    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
        ) as lc,
        Client(lc) as client,
    ):
        yield client


@pytest.mark.slow
def test_map_tasks_on_a_cluster_keeps_the_order(cluster):
    assert map_tasks(math.sqrt, [16, 1, 9, 4], client=cluster) == [4.0, 1.0, 3.0, 2.0]
    assert len(cluster.scheduler_info()["workers"]) == 2


@pytest.mark.slow
def test_map_tasks_inside_a_task_does_not_deadlock(cluster):
    """Two tasks on two one-thread workers each map sub-tasks on the same client (as a run splitting districts)."""

    def square(x):
        return x * x

    def run(n):
        from distributed import get_client

        from facility_planner.sweep import map_tasks

        return sum(map_tasks(square, range(n), client=get_client()))

    assert map_tasks(run, [3, 4], client=cluster) == [5, 14]


@pytest.mark.slow
def test_sweep_of_walking_speed_on_two_workers(cluster, tmp_path):
    out = tmp_path / "sweep"
    seen = []
    res = run_sweep(
        SAMPLE,
        ["travel.speed_kmh=3,4,5", "families.eldercare_stations.by_district.Xicheng=15"],
        out,
        client=cluster,
        on_result=lambda run, r: seen.append(run.run_id),
    )
    assert sorted(seen) == ["run-1", "run-2", "run-3"]
    t = pd.read_csv(out / "sweep.csv", encoding="utf-8-sig")
    assert len(t) == 3 and list(t["travel.speed_kmh"]) == [3, 4, 5]
    assert (t["eldercare_stations.target"] == 15).all()
    assert (t["status"] == "ok").all()
    cov = t["eldercare_stations.covered_share"].to_list()
    assert cov[0] < cov[1] <= cov[2] and cov[0] < cov[2]  # a slower walk covers fewer older people
    assert (t["eldercare_stations.achieved"] == t["eldercare_stations.target"]).all()
    page = (out / "sweep.html").read_text(encoding="utf-8")
    assert "What-if sweep" in page and "<svg" in page and "run-3" in page
    assert (out / "sweep.png").stat().st_size > 1000
    # each run reproduces on its own from the scenario file written beside its summary
    from facility_planner.pipeline import run_scenario

    again = run_scenario(out / "runs" / "run-1" / "scenario.yaml").summary()["families"]["eldercare_stations"]
    assert again["covered_share"] == pytest.approx(cov[0], abs=1e-4)
    assert (out / "runs" / "run-1" / "summary.json").exists()
    assert res.table.shape[0] == 3
    with pytest.raises(OutputExistsError, match="--force"):
        run_sweep(SAMPLE, ["travel.speed_kmh=3"], out, client=cluster)


@pytest.mark.slow
def test_cli_sweep_on_an_existing_scheduler(cluster, tmp_path):
    from facility_planner.cli import app

    addr = cluster.scheduler.address
    out = tmp_path / "s"
    args = ["sweep", str(SAMPLE), "--set", "families.psych_points.share=0.5,0.9", "--scheduler", addr]
    r = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert r.exit_code == 0, r.output
    t = pd.read_csv(out / "sweep.csv", encoding="utf-8-sig")
    assert list(t["psych_points.target"]) == [0.5, 0.9]
    assert t["psych_points.achieved"].iloc[0] < t["psych_points.achieved"].iloc[1]
    # the terminal table holds what differs between the runs, not every family's columns
    assert "psych_points.achieved" in r.output and "care_centres.achieved" not in r.output
    assert max(len(line) for line in r.output.splitlines()) < 400
    r = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "t"), "--set", "travel.speed=3"])
    assert r.exit_code == 2 and "no key `speed` at travel" in r.output and "Traceback" not in r.output


def test_runs_of_the_bundled_plan_validate_with_the_family_order_kept():
    """The cemeteries' `not_with` names families listed before them: a run's scenario, as checked and as written,
    keeps the file's family order (a sorted dump put cemeteries first and refused every run)."""
    from facility_planner.sweep import plan_runs, validate_runs

    scn = ROOT / "scenarios" / "beijing_2025.yaml"
    runs = plan_runs(scn, ["families.eldercare_stations.by_district.Haidian=150,200"], district="Haidian")
    validate_runs(scn, runs)  # raised ScenarioError before the fix
    assert list(runs[0].scenario["families"]).index("eldercare_stations") < list(runs[0].scenario["families"]).index(
        "cemeteries"
    )


def _worker_solver_threads() -> int | None:
    import highspy

    from facility_planner import settings
    from facility_planner.models._milp import _new_highs

    h = _new_highs(highspy, False)
    got = h.getOptionValue("threads")
    assert (got[1] if isinstance(got, tuple) else got) == settings.solver_threads  # (status, value) in highspy 1.16
    return settings.solver_threads


@pytest.mark.slow
def test_a_local_cluster_does_not_need_the_dashboard_port():
    """Another cluster or notebook holding 8787 must not make a sweep warn ("Port 8787 is already in use")."""
    import socket
    import warnings

    from facility_planner.sweep import dask_client

    s = socket.socket()
    try:
        s.bind(("", 8787))
        s.listen()
    except OSError:
        pass  # already held (e.g. by another test's cluster): the condition this test needs
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with dask_client(workers=1) as client:
                assert client.submit(sum, [1, 2]).result() == 3
                # the worker's HiGHS gets the machine's cores ÷ workers (here all of them), not HiGHS's own choice
                threads = client.submit(_worker_solver_threads, pure=False).result()
                assert threads == max(1, os.cpu_count() or 1)
        assert not [w for w in caught if "8787" in str(w.message)]
    finally:
        s.close()
