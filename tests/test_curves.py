"""Trade-off curves: greedy ≤ optimum ≤ bound at every p (brute force on SYNTHETIC instances), exact points equal the
brute-force optimum, fewest sites for a share, the files written, and the CLI on the bundled sample scenario."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from facility_planner._errors import InfeasibleModelError, OutputExistsError, ValidationError
from facility_planner.curves import (
    EXACT,
    GREEDY,
    chart_style,
    coverage_curve,
    curve_figure,
    greedy_trace,
    lagrangian_bound,
    write_curve,
)
from facility_planner.matrices import LabelledMatrix


def _instance(seed: int, n: int = 40, m: int = 12, density: float = 0.18):
    """SYNTHETIC: a random coverage matrix with integer weights (ids are strings, not positions)."""
    rng = np.random.default_rng(seed)
    A = (rng.random((n, m)) < density).astype(float)
    w = rng.integers(1, 50, n).astype(float)
    M = LabelledMatrix(sp.csr_matrix(A), [f"d{i}" for i in range(n)], [f"s{j}" for j in range(m)])
    return M, w, A


def _opt(A, w, p, fixed=()):
    """Brute force: the best covered weight with ``p`` new sites besides ``fixed``."""
    free = [j for j in range(A.shape[1]) if j not in fixed]
    best = 0.0
    for T in itertools.combinations(free, p):
        cols = list(fixed) + list(T)
        best = max(best, float(w[A[:, cols].sum(axis=1) > 0].sum()) if cols else 0.0)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_envelope_contains_brute_force_optimum(seed):
    M, w, A = _instance(seed)
    fixed = (0,) if seed % 2 else ()
    existing = [f"s{j}" for j in fixed]
    res = coverage_curve(M, w, max_new=6, points=6, existing=existing, lagrangian_iters=100)
    opt = np.array([_opt(A, w, p, fixed) for p in range(7)])
    assert (res.greedy <= opt + 1e-9).all()
    assert (res.lower <= opt + 1e-9).all()
    assert (res.upper >= opt - 1e-9).all()
    assert (np.diff(res.upper) >= -1e-9).all()  # OPT never falls with more sites, neither does the bound
    df = res.to_frame()
    assert list(df["new_sites"]) == list(range(7))
    assert set(df["method"]) == {GREEDY}
    assert (df["covered"] <= df["upper_bound"] + 1e-6).all()


@pytest.mark.parametrize("seed", range(4))
def test_exact_points_are_the_optimum_and_tighten_the_bound(seed):
    M, w, A = _instance(seed, n=50, m=14)
    res = coverage_curve(M, w, max_new=6, points=3, exact_at=[3, 5])
    df = res.to_frame().set_index("new_sites")
    for p in (3, 5):
        assert df.loc[p, "method"] == EXACT
        assert df.loc[p, "status"] == "optimal"
        assert df.loc[p, "covered"] == pytest.approx(_opt(A, w, p))
        assert res.upper[p] == pytest.approx(_opt(A, w, p), rel=1e-6)
    assert df.loc[2, "method"] == GREEDY
    # an exact plan at 3 is also a plan for 4 (one more site never hurts), so lower[4] ≥ OPT(3)
    assert res.lower[4] >= _opt(A, w, 3) - 1e-9


def test_greedy_bound_is_the_nemhauser_wolsey_bound_on_a_hand_instance():
    """SYNTHETIC, solvable by hand: rows r1…r5 with weights 2,2,2,2,1; sites s0={r1,r2}, s1={r3,r4}, s2={r2,r3,r5}.

    Greedy takes s2 (gain 5), then s0 (gain 2, tie with s1: first index), then s1: 5, 7, 9. The optimum at p=2
    is {s0, s1} = 8, so greedy misses it. Bounds (value + largest gains): from S_0 (gains 4, 4, 5): p=1 → 5,
    p=2 → 9; from S_1 (gains 2, 2): p=2 → 9; from S_2: 7 + 2 = 9. So upper = 0, 5, 9, 9 and OPT = 0, 5, 8, 9.
    """
    A = np.array([[1, 0, 0], [1, 0, 1], [0, 1, 1], [0, 1, 0], [0, 0, 1]], dtype=float)
    w = np.array([2.0, 2.0, 2.0, 2.0, 1.0])
    tr = greedy_trace(sp.csr_matrix(A), w, 3)
    assert list(tr.order) == [2, 0, 1]
    assert list(tr.values) == [0, 5, 7, 9]
    assert np.allclose(tr.upper, [0, 5, 9, 9])
    assert [_opt(A, w, p) for p in range(4)] == [0, 5, 8, 9]
    # the Lagrangian search from the greedy multipliers closes the gap at p=2 (its LP bound is 8 here)
    res = coverage_curve(LabelledMatrix(sp.csr_matrix(A), list("abcde"), ["s0", "s1", "s2"]), w, max_new=3, points=3)
    assert res.upper[2] == pytest.approx(8, rel=1e-3)
    assert res.to_frame()["envelope_gap"].iloc[2] == pytest.approx(1 - 7 / 8, abs=1e-3)


def test_lagrangian_bound_is_valid_and_never_worse_than_its_start():
    for seed in range(5):
        M, w, A = _instance(seed, n=60, m=15, density=0.15)
        tr = greedy_trace(M.matrix, w, 5)
        for p in (2, 4):
            lam0 = np.where(tr.covered_at > tr.best_k[p], w, 0.0)
            b, plan = lagrangian_bound(M.matrix, w, p, lam0, lower=float(tr.values[p]), iters=200)
            assert b >= _opt(A, w, p) - 1e-9
            assert b <= tr.upper[p] + 1e-6
            assert plan <= _opt(A, w, p) + 1e-9


def test_disjoint_sites_close_the_envelope():
    """SYNTHETIC: each site covers its own rows, so greedy is optimal and the bound meets it."""
    A = sp.block_diag([np.ones((3, 1)) * k for k in (1, 1, 1, 1)]).tocsr()
    w = np.array([5, 5, 5, 4, 4, 4, 3, 3, 3, 1, 1, 1], dtype=float)
    res = coverage_curve(LabelledMatrix(A, np.arange(12), np.arange(4)), w, max_new=4, points=4)
    assert list(res.greedy) == [0, 15, 27, 36, 39]
    assert np.allclose(res.upper, res.greedy, rtol=1e-8, atol=1e-6)
    assert (res.to_frame()["envelope_gap"] == 0).all()


def test_fewest_sites_for_a_share():
    for seed in range(3):
        M, w, A = _instance(seed, n=50, m=14)
        total = w.sum() * 1.25  # a fifth of the demand is out of reach of every site (not in the matrix)
        reach = float(w[A.sum(axis=1) > 0].sum())
        share = 0.6 * reach / total
        res = coverage_curve(M, w, to_share=share, total_weight=total)
        s = res.share
        need = share * total
        brute = next(p for p in range(15) if _opt(A, w, p) >= need - 1e-9)
        assert s["exact_sites"] == brute
        assert s["lower_bound_sites"] <= brute <= s["greedy_sites"]
        assert res.greedy[s["greedy_sites"]] >= need - 1e-9
        assert res.exact[brute]["objective"] >= need - 1e-9
        assert res.to_frame()["covered_share"].max() <= 0.8 + 1e-9


def test_problems_are_reported():
    M, w, _ = _instance(0)
    with pytest.raises(ValidationError, match="not columns") as exc:
        coverage_curve(M, w, max_new=2, existing=["nope"], to_share=1.5)
    assert "to_share" in str(exc.value)  # every problem in one error
    with pytest.raises(ValidationError, match="how far"):
        coverage_curve(M, w)
    with pytest.raises(InfeasibleModelError, match="within reach"):
        coverage_curve(M, w, to_share=0.99, total_weight=w.sum() * 2)
    with pytest.raises(InfeasibleModelError, match="cannot open"):
        coverage_curve(M, w, max_new=100)


def test_time_limits_table():
    M, w, A = _instance(3, n=60, m=15)
    res = coverage_curve(M, w, max_new=4, points=2, exact_at=[4], time_limits=[5, 1])
    bt = res.by_time
    assert list(bt["time_limit_s"]) == [1, 5]
    assert (bt["covered"] == _opt(A, w, 4)).all()
    assert (bt["status"] == "optimal").all()


def test_write_curve_files_and_refusal(tmp_path):
    M, w, _ = _instance(1)
    res = coverage_curve(M, w, max_new=4, points=4, exact_at=[2], label="SYNTHETIC test curve")
    written = write_curve(res, tmp_path)
    assert sorted(p.name for p in written) == ["curve.csv", "curve.png", "curve.svg"]
    df = pd.read_csv(tmp_path / "curve.csv", encoding="utf-8-sig")
    assert list(df["method"]) == [GREEDY, GREEDY, EXACT, GREEDY, GREEDY]
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "curve.svg").read_text()
    with pytest.raises(OutputExistsError, match="--force"):
        write_curve(res, tmp_path)
    write_curve(res, tmp_path, force=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_chart_labels_are_bilingual_with_a_cjk_font_and_say_so_without(monkeypatch):
    import matplotlib.pyplot as plt

    import facility_planner.curves as curves

    M, w, _ = _instance(2)
    res = coverage_curve(M, w, max_new=3, points=3)
    _, font, _ = chart_style()
    if font is not None:
        fig, notes = curve_figure(res)
        assert "新增站点数" in fig.axes[0].get_xlabel() and "new sites" in fig.axes[0].get_xlabel()
        assert notes == []
        plt.close(fig)
    monkeypatch.setattr(curves, "cjk_font", lambda: None)
    fig, notes = curve_figure(res)
    assert fig.axes[0].get_xlabel() == "new sites"
    assert any("fonts-noto-cjk" in n for n in notes)
    plt.close(fig)


def test_curve_of_the_sample_scenario_matches_the_plan(sample_small_plan):
    """On the bundled sample (Xicheng, 1 km cells, its part of 1,200 stations): the exact point is the plan's optimum."""
    from facility_planner.curves import curve_for_scenario

    kpi = sample_small_plan.summary()["families"]["eldercare_stations"]
    res = curve_for_scenario("scenarios/sample_small.yaml", "eldercare_stations", points=5)
    df = res.to_frame().set_index("new_sites")
    n = int(kpi["target"])
    assert df.loc[n, "method"] == EXACT
    assert df.loc[n, "covered"] == pytest.approx(kpi["covered_demand"], rel=0.005)
    assert res.upper[n] >= kpi["covered_demand"] - 1e-6
    assert res.total_weight == pytest.approx(kpi["total_demand"])
    assert (np.diff(res.greedy) >= 0).all()


def test_cli_curve(tmp_path):
    from facility_planner.cli import app

    out = tmp_path / "c"
    args = ["curve", "scenarios/sample_small.yaml", "--family", "eldercare_stations", "--out", str(out)]
    r = CliRunner().invoke(app, [*args, "--to-share", "0.5", "--points", "4"])
    assert r.exit_code == 0, r.output
    assert "50% of people aged 60+" in r.output
    assert {p.name for p in out.iterdir()} == {"curve.csv", "curve.svg", "curve.png"}
    r = CliRunner().invoke(app, [*args, "--max", "10"])
    assert r.exit_code == 2 and "--force" in r.output
    r = CliRunner().invoke(app, [*args, "--max", "10", "--to-share", "0.5", "--force"])
    assert r.exit_code == 2 and "not both" in r.output
    r = CliRunner().invoke(app, [*args, "--max", "5", "--family", "cemeteries", "--force"])
    assert r.exit_code == 2 and "not a coverage model" in r.output and "Traceback" not in r.output


def test_chinese_text_without_a_cjk_font_is_noted_not_fatal(tmp_path, monkeypatch):
    import facility_planner.curves as curves

    monkeypatch.setattr(curves, "cjk_font", lambda: None)
    M, w, _ = _instance(4)
    res = coverage_curve(M, w, max_new=2, points=2, label="海淀 SYNTHETIC")
    write_curve(res, tmp_path)
    assert any("could not be drawn" in n for n in res.notes)
    assert any("fonts-noto-cjk" in n for n in res.notes)


def test_a_solver_without_a_bound_reports_none_not_infinity(monkeypatch):
    """A time-limited MILP that proved no bound (HiGHS reports inf) must not read as "bound = 100%"."""
    import facility_planner.curves as curves

    real = curves.max_cover

    def no_bound(*a, **k):
        sol = real(*a, **k)
        sol.best_bound, sol.gap, sol.status = float("inf"), float("inf"), "time_limit"
        return sol

    monkeypatch.setattr(curves, "max_cover", no_bound)
    M, w, A = _instance(5)
    res = coverage_curve(M, w, max_new=3, points=3, exact_at=[3], time_limits=[1])
    assert res.exact[3]["bound"] is None and res.exact[3]["gap"] is None
    assert res.by_time["bound_share"].isna().all()
    assert np.isfinite(res.upper).all() and res.upper[3] >= _opt(A, w, 3) - 1e-9
