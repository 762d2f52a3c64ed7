"""Published instances solved to their known optima (bundled in data/benchmarks), and the runner's CLI."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from facility_planner.benchmarks import FAMILIES, bundled_dir, euclidean_coverage, read_pmed, read_scp, run_family
from facility_planner.cli import app

# how many instances each bundled optima.csv lists (a dropped row would otherwise go unnoticed)
BUNDLED = {"pmed": 10, "scp": 10, "mclp-swain": 24, "mclp-sjc": 24}


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_every_bundled_instance_at_its_optimum(family):
    rows = run_family(family)
    assert len(rows) == BUNDLED[family]
    bad = [(r.instance, r.objective, r.optimum) for r in rows if not r.matches or r.status != "optimal"]
    assert not bad


def test_bundled_folders_hold_provenance_and_checksums():
    import hashlib

    for family in FAMILIES:
        folder = bundled_dir(family)
        assert (folder / "PROVENANCE.md").is_file()
        sums = (folder / "SHA256SUMS").read_text().split()
        listed = dict(zip(sums[1::2], sums[::2], strict=True))
        assert "optima.csv" in listed
        for name, digest in listed.items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def test_cli_json(tmp_path):
    out = tmp_path / "swain.json"
    r = CliRunner().invoke(app, ["benchmark", "mclp-swain", "--json", str(out)])  # the bundled instances
    assert r.exit_code == 0, r.output
    rows = json.loads(out.read_text())
    assert len(rows) == 24 and set(rows[0]) == {"instance", "objective", "optimum", "gap", "status", "seconds"}
    assert "24 of 24" in r.output
    # an existing --json file is kept unless --force
    out.write_text("keep me")
    r = CliRunner().invoke(app, ["benchmark", "mclp-swain", str(bundled_dir("mclp-swain")), "--json", str(out)])
    assert r.exit_code == 2 and "--force" in r.output and out.read_text() == "keep me"
    r = CliRunner().invoke(app, ["benchmark", "mclp-swain", "--json", str(out), "--force"])
    assert r.exit_code == 0 and len(json.loads(out.read_text())) == 24
    # a missing folder is made (as `run --out` makes its folder); a file in the way is a clear error
    r = CliRunner().invoke(app, ["benchmark", "mclp-swain", "--json", str(tmp_path / "no" / "x.json")])
    assert r.exit_code == 0 and len(json.loads((tmp_path / "no" / "x.json").read_text())) == 24
    r = CliRunner().invoke(app, ["benchmark", "mclp-swain", "--json", str(out / "x.json")])
    assert r.exit_code == 2 and "is a file, not a folder" in r.output and "Traceback" not in r.output


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
