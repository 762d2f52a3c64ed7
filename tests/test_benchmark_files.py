"""Damaged benchmark instance files: every reader refuses them with a FacilityPlannerError that names the file, the
line and the fix, or reads them into an instance that the models then solve correctly; never another exception,
never a hang.

The mutations are made by hypothesis from the bundled published files (truncate, insert junk, delete or repeat a
line, flip a sign, replace a number); the specific cases below are the ones seen in practice.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facility_planner import FacilityPlannerError
from facility_planner.benchmarks import (
    bundled_dir,
    euclidean_coverage,
    read_optima,
    read_pmed,
    read_scp,
    read_sjc,
    read_swain,
    run_family,
)
from facility_planner.models import max_cover, p_median, set_cover

PMED1 = bundled_dir("pmed") / "pmed1.txt"
SCP41 = bundled_dir("scp") / "scp41.txt"
SWAIN = bundled_dir("mclp-swain") / "swain.txt"
SJC_XY = bundled_dir("mclp-sjc") / "SJC324.txt"
SJC_W = bundled_dir("mclp-sjc") / "demand-SJC324.dat"


@contextlib.contextmanager
def _timeout(seconds: float):
    """Fail (instead of hanging) when the block runs longer than ``seconds``."""

    def expire(signum, frame):
        raise TimeoutError(f"no answer after {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


JUNK = [
    b"x",
    b"-1",
    b"-7",
    b"0",
    b"1.5",
    b"nan",
    b"inf",
    b"1e999",
    b"99999999999999999999",
    b"\x00",
    b"\xff\xfe",
    b"\xe4\xb8\xad",
    b"\r\n",
    b"\n\n",
    b" ",
    b",",
    b"#",
]


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """``original`` with one to three random mutations."""
    data = original
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "junk", "delete line", "repeat line", "flip sign", "number"]))
        lines = data.split(b"\n")
        if kind == "truncate":
            data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
        elif kind == "junk":
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.sampled_from(JUNK)) + data[at:]
        elif kind in ("delete line", "repeat line") and lines:
            k = draw(st.integers(0, len(lines) - 1))
            lines[k : k + 1] = [] if kind == "delete line" else [lines[k], lines[k]]
            data = b"\n".join(lines)
        else:
            tokens = data.split(b" ")
            k = draw(st.integers(0, len(tokens) - 1))
            if kind == "flip sign":
                tokens[k] = b"-" + tokens[k]
            else:
                tokens[k] = str(draw(st.sampled_from([0, 1, 2, 3, 5, 101, 999, 10**6]))).encode()
            data = b" ".join(tokens)
    return data


def _write(data: bytes, name: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fp-bench-"))
    (folder / name).write_bytes(data)
    return folder


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@pytest.mark.slow
@FUZZ
@given(mutated(PMED1.read_bytes()))
def test_damaged_pmed_file(data):
    folder = _write(data, "pmed1.txt")
    try:
        with _timeout(30):
            try:
                D, p = read_pmed(folder / "pmed1.txt")
            except FacilityPlannerError as exc:
                assert "pmed1.txt" in str(exc)
                return
            assert np.isfinite(D).all() and (D >= 0).all() and np.allclose(D, D.T) and 1 <= p <= len(D)
            sol = p_median(D, None, p, mip_rel_gap=0.0, time_limit_s=10)
            assert sol.objective == pytest.approx(D[:, sol.selected].min(axis=1).sum())
            assert sol.best_bound <= sol.objective + 1e-6 and len(sol.selected) == p
            D0, p0 = read_pmed(PMED1)
            if sol.optimal and p == p0 and np.array_equal(D, D0):
                assert sol.objective == 5819  # the published optimum
    finally:
        shutil.rmtree(folder)


@pytest.mark.slow
@FUZZ
@given(mutated(SCP41.read_bytes()))
def test_damaged_scp_file(data):
    folder = _write(data, "scp41.txt")
    try:
        with _timeout(30):
            try:
                A, c = read_scp(folder / "scp41.txt")
            except FacilityPlannerError as exc:
                assert "scp41.txt" in str(exc)
                return
            assert set(np.unique(A.data)) <= {1.0} and (c >= 0).all() and (A.getnnz(axis=1) >= 1).all()
            sol = set_cover(A, costs=c, mip_rel_gap=0.0, time_limit_s=10)
            x = np.zeros(A.shape[1], bool)
            x[sol.selected] = True
            assert (A @ x >= 1).all() and sol.objective == pytest.approx(c[x].sum())
    finally:
        shutil.rmtree(folder)


@pytest.mark.slow
@FUZZ
@given(mutated(SWAIN.read_bytes()), st.sampled_from([10.0, 15.0]), st.integers(1, 5))
def test_damaged_swain_file(data, radius, p):
    folder = _write(data, "swain.txt")
    try:
        with _timeout(30):
            try:
                xy, w = read_swain(folder / "swain.txt")
            except FacilityPlannerError as exc:
                assert "swain.txt" in str(exc)
                return
            assert np.isfinite(xy).all() and (w >= 0).all() and len(xy) == len(w)
            _check_max_cover(xy, w, radius, min(p, len(w)))
    finally:
        shutil.rmtree(folder)


@pytest.mark.slow
@FUZZ
@given(mutated(SJC_XY.read_bytes()), mutated(SJC_W.read_bytes()), st.booleans())
def test_damaged_sjc_files(xy_data, w_data, damage_coordinates):
    folder = _write(xy_data if damage_coordinates else SJC_XY.read_bytes(), "SJC324.txt")
    (folder / "demand-SJC324.dat").write_bytes(SJC_W.read_bytes() if damage_coordinates else w_data)
    try:
        with _timeout(30):
            try:
                xy, w = read_sjc(folder / "SJC324.txt", folder / "demand-SJC324.dat")
            except FacilityPlannerError as exc:
                assert "SJC324.txt" in str(exc) or "demand-SJC324.dat" in str(exc)
                return
            assert np.isfinite(xy).all() and (w >= 0).all() and len(xy) == len(w)
            _check_max_cover(xy, w, 800.0, 3)
    finally:
        shutil.rmtree(folder)


def _check_max_cover(xy, w, radius, p):
    cov = euclidean_coverage(xy, radius)
    sol = max_cover(cov, w, p, mip_rel_gap=0.0, time_limit_s=10)
    x = np.zeros(len(w), bool)
    x[sol.selected] = True
    assert sol.objective == pytest.approx(w[(cov @ x) > 0].sum())


@pytest.mark.slow
@FUZZ
@given(mutated(b"instance,optimum,source\nswain55_S10_p1,123,x\nswain55_S15_p2,247,x\n"))
def test_damaged_optima_csv(data):
    folder = _write(data, "optima.csv")
    shutil.copy(SWAIN, folder / "swain.txt")
    try:
        with _timeout(30):
            try:
                rows = run_family("mclp-swain", folder)
            except FacilityPlannerError as exc:
                assert str(folder) in str(exc) or "optima.csv" in str(exc)
                return
            assert rows and all(np.isfinite([r.objective, r.optimum]).all() for r in rows)
    finally:
        shutil.rmtree(folder)


# ------------------------------------------------------------------------------------------------ cases seen so far


def _error(tmp_path, name: str, data: bytes | str, reader=None) -> str:
    f = tmp_path / name
    f.write_bytes(data if isinstance(data, bytes) else data.encode())
    with pytest.raises(FacilityPlannerError) as exc, _timeout(30):
        (reader or read_pmed)(f)
    return str(exc.value)


def test_negative_pmed_cost_is_refused_not_a_hang(tmp_path):
    # scipy's Dijkstra never ends on an undirected negative edge (a negative cycle i→j→i): refuse it first
    msg = _error(tmp_path, "neg.txt", "3 2 1\n1 2 4\n2 3 -2\n")
    assert "line 3" in msg and "cost -2" in msg and "≥ 0" in msg


def test_pmed_problems_listed_together_with_lines(tmp_path):
    msg = _error(tmp_path, "bad.txt", "4 4 2\n1 2 3\n2 x 1\n3 9 2\n1 4 -1\n")
    assert "3 problems" in msg
    assert "line 3: vertex 'x' is not an integer" in msg
    assert "line 4: edge 3 9 names a vertex outside 1..4" in msg
    assert "line 5: edge 1 4 has cost -1" in msg
    assert "3 and 4" not in msg  # no double report for the non-number
    assert "the graph falls into" not in msg  # connectivity is checked only on a readable graph


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("3 3 1\n1 2 1\n2 3 1\n", "truncated: line 1 declares 3 edges"),
        ("3 1 1\n1 2 1\n2 3 1\n", "line 3: 3 value(s) after the 1 edges"),
        ("3 2 4\n1 2 1\n2 3 1\n", "p = 4 exceeds the 3 vertices"),
        ("4 2 1\n1 2 1\n2 3 1\n", "vertex(es) 4 cannot be reached"),
        ("3 two 1\n", "'two' is not an integer"),
        ("", "the file is empty"),
        ("3 2\n", "must start with `n_vertices n_edges p`"),
        ("9000 1 1\n1 2 3\n", "vertices is refused"),
    ],
)
def test_pmed_reader_refusals(tmp_path, text, expect):
    assert expect in _error(tmp_path, "p.txt", text)


def test_binary_and_non_utf8_files(tmp_path):
    assert "binary file" in _error(tmp_path, "b.txt", b"3 2 1\n\x00\x01\x02")
    assert "line 2: byte 0xa3 is not UTF-8" in _error(tmp_path, "g.txt", "3 2 1\n１ 2 距离\n".encode("gbk"))
    with pytest.raises(FacilityPlannerError, match="folder"):
        read_pmed(tmp_path)


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("2 3\n1 2 3\n2 1 2\n", "truncated: line 1 declares 2 rows, but it ends after 1"),
        ("2 3\n1 2 3\n2 1 2\n1 3\n7\n", "line 5: 1 value(s) after the 2 rows"),
        ("2 3\n1 2 3\n2 1 4\n1 3\n", "line 3: row 1 names column 4, outside 1..3"),
        ("2 3\n1 -2 3\n2 1 2\n1 3\n", "line 2: column 2 costs -2"),
        ("2 3\n1 2 3\n0\n1 3\n", "row 1 is covered by 0 column(s)"),
        ("2 3\n1 2 3\n2 1 2\n3 3\n", "truncated in row 2 of 2"),
    ],
)
def test_scp_reader_refusals(tmp_path, text, expect):
    assert expect in _error(tmp_path, "s.txt", text, read_scp)


def test_point_readers_refusals(tmp_path):
    assert "truncated: line 1 declares 3 points but 2" in _error(
        tmp_path, "w.txt", "3\n1 2. 3. 4\n2 3. 4. 5\n", read_swain
    )
    assert "line 2: demand -4 is negative" in _error(tmp_path, "w.txt", "1\n1 2. 3. -4\n", read_swain)
    assert "line 2: expected 4 values" in _error(tmp_path, "w.txt", "1\n1 2. 3.\n", read_swain)
    (tmp_path / "d.dat").write_text("5\n6\n")
    msg = _error(tmp_path, "c.txt", "3 1 800\n0 0\n1 1\n2 2\n", lambda f: read_sjc(f, tmp_path / "d.dat"))
    assert "2 demand values for the 3 points" in msg


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("instance,optimum\n", "no instance is listed"),
        ("name,value\na,1\n", "must name the columns `instance` and `optimum`"),
        ("instance,optimum\na,\n", "line 2: instance 'a' has no optimum"),
        ("instance,optimum\na,1\nb,x\na,2\n", "line 3: the optimum of 'b' is 'x'"),
        ("instance,optimum\na,1\nb,x\na,2\n", "line 4: instance 'a' is listed again (first on line 2)"),
    ],
)
def test_optima_refusals(tmp_path, text, expect):
    assert expect in _error(tmp_path, "optima.csv", text, read_optima)


def test_runner_lists_every_bad_file_before_solving(tmp_path):
    (tmp_path / "a.txt").write_text("3 2 1\n1 2 1\n2 3 -1\n")
    (tmp_path / "b.txt").write_text("3 2 1\n1 2 1\n")
    (tmp_path / "optima.csv").write_text("instance,optimum\na,1\nb,1\nc,1\n")
    with pytest.raises(FacilityPlannerError) as exc:
        run_family("pmed", tmp_path)
    msg = str(exc.value)
    assert "a.txt: line 3" in msg and "b.txt: the file is truncated" in msg and "c.txt is missing" in msg


def test_p_median_refuses_negative_costs():
    import scipy.sparse as sp

    from facility_planner.matrices import LabelledMatrix

    M = LabelledMatrix.from_dense(np.array([[0.0, 2.0], [2.0, 0.0]]))
    M.matrix.data[0] = -1.0  # changed after the matrix was checked
    with pytest.raises(FacilityPlannerError, match="negative"), _timeout(30):
        p_median(M, None, 1)
    with pytest.raises(FacilityPlannerError, match="negative"), _timeout(30):
        p_median(sp.csr_matrix(np.array([[0.0, -2.0], [2.0, 0.0]])), None, 1)
