"""Published instances solved to their known optima (shared/benchmarks, beside the clone), and the runner's CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from facility_planner.benchmarks import euclidean_coverage, read_pmed, read_scp, run_family
from facility_planner.cli import app

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"published instances not found at {SHARED}")

FAMILIES = [("pmed", "orlib_pmed"), ("scp", "orlib_scp"), ("mclp-swain", "mclp_swain"), ("mclp-sjc", "mclp_sjc")]


@needs_shared
@pytest.mark.parametrize(("family", "folder"), FAMILIES)
def test_every_shared_instance_at_its_optimum(family, folder):
    rows = run_family(family, SHARED / folder)
    assert rows, "optima.csv listed no instance"
    bad = [(r.instance, r.objective, r.optimum) for r in rows if not r.matches or r.status != "optimal"]
    assert not bad


@needs_shared
def test_cli_json(tmp_path):
    out = tmp_path / "swain.json"
    r = CliRunner().invoke(app, ["benchmark", "mclp-swain", str(SHARED / "mclp_swain"), "--json", str(out)])
    assert r.exit_code == 0, r.output
    rows = json.loads(out.read_text())
    assert len(rows) == 24 and set(rows[0]) == {"instance", "objective", "optimum", "gap", "status", "seconds"}
    assert "24 of 24" in r.output


def test_runner_on_any_folder_and_its_errors(tmp_path):
    # SYNTHETIC: a 3-node p-median instance written in OR-Library format, optimum by hand = 3 (open node 2)
    (tmp_path / "tiny.txt").write_text("3 2 1\n1 2 1\n2 3 2\n")
    (tmp_path / "optima.csv").write_text("instance,optimum\ntiny,3\n")
    rows = run_family("pmed", tmp_path)
    assert rows[0].matches and rows[0].objective == 3
    r = CliRunner().invoke(app, ["benchmark", "pmed", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "not a folder" in r.output
    r = CliRunner().invoke(app, ["benchmark", "kmeans", str(tmp_path)])
    assert r.exit_code == 2 and "unknown family" in r.output
    (tmp_path / "optima.csv").write_text("instance,optimum\ntiny,4\n")
    r = CliRunner().invoke(app, ["benchmark", "pmed", str(tmp_path)])
    assert r.exit_code == 1 and "≠ optimum" in r.output


def test_pmed_reader_last_repeated_edge_wins(tmp_path):
    (tmp_path / "p.txt").write_text("2 2 1\n1 2 5\n2 1 7\n")
    D, p = read_pmed(tmp_path / "p.txt")
    assert D[0, 1] == 7 and p == 1


def test_scp_reader(tmp_path):
    (tmp_path / "s.txt").write_text("2 3\n1 2 3\n2 1 2\n1 3\n")
    A, c = read_scp(tmp_path / "s.txt")
    assert A.toarray().tolist() == [[1, 1, 0], [0, 0, 1]] and c.tolist() == [1, 2, 3]


def test_euclidean_coverage_is_inclusive():
    xy = np.array([[0, 0], [3, 4], [10, 0]], dtype=float)
    A = euclidean_coverage(xy, 5).toarray()
    assert A[0, 1] == 1 and A[0, 2] == 0 and np.all(np.diag(A) == 1)
