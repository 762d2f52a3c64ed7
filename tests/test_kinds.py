"""Every model kind against an optimum found by hand (complete enumeration) on tiny SYNTHETIC problems.

The points below are made up for the test (metres in UTM 50N); nothing here is real data.
"""

from itertools import combinations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from facility_planner.families import FamilyProblem
from facility_planner.kinds import KINDS, check_spec
from facility_planner.scenario import FamilySpec, SolverSpec
from facility_planner.travel import FamilyTravel

CRS = "EPSG:32650"
SOLVER = SolverSpec(time_limit_s=30, mip_rel_gap=0.0)
SPEED, DETOUR = 4.0, 1.2
M_PER_MIN = SPEED * 1000 / 60
X0, Y0 = 440_000.0, 4_420_000.0


def _pts(xy, **cols):
    xy = np.asarray(xy, float)
    return gpd.GeoDataFrame(cols, geometry=gpd.points_from_xy(X0 + xy[:, 0], Y0 + xy[:, 1]), crs=CRS)


def _problem(spec: dict, dxy, w, sxy, *, d_district=None, s_district=None, parts=None, beds=None, unit="district"):
    n, m = len(dxy), len(sxy)
    d_district = d_district or ["d1"] * n
    s_district = s_district or ["d1"] * m
    demand = _pts(
        dxy,
        demand_id=[f"r{i}" for i in range(n)],
        weight=np.asarray(w, float),
        district_code=d_district,
        township_code=d_district,
    )
    sites = _pts(
        sxy,
        site_id=[f"s{j}" for j in range(m)],
        kind="candidate",
        existing=False,
        district_code=s_district,
        township_code=s_district,
        cell_id=[f"s{j}" for j in range(m)],
    )
    fs = FamilySpec(name_zh="测试", name_en="Test", **spec)
    assert check_spec(fs) == []
    codes = sorted(set(d_district) | set(s_district))
    units = pd.DataFrame({"unit": codes, "name_zh": codes, "district_code": codes, "has_area": True, "reason": ""})
    prob = FamilyProblem(
        key="test",
        spec=fs,
        demand=demand,
        sites=sites,
        total_weight=float(np.sum(w)),
        weight_label="people",
        unit_column="district_code" if unit == "district" else "township_code",
        unit_label="districts",
        units_table=units,
        district_parts=pd.Series(parts if parts is not None else {}, dtype=int),
        beds_parts=None if beds is None else pd.Series(beds),
        target_basis="synthetic",
        excluded=sites.iloc[:0],
        part_districts=codes,
        township_parts=None,
    )
    travel = FamilyTravel(
        demand, sites, mode="walk", time_limit_min=spec.get("_t", 15.0), speed_kmh=SPEED, detour_factor=DETOUR
    )
    return prob, travel


def _minutes(dxy, sxy):
    d, s = np.asarray(dxy, float), np.asarray(sxy, float)
    return np.hypot(d[:, None, 0] - s[None, :, 0], d[:, None, 1] - s[None, :, 1]) * DETOUR / M_PER_MIN


RNG = np.random.default_rng(7)
DXY = RNG.uniform(0, 3000, (14, 2))
W = RNG.integers(1, 50, 14).astype(float)
SXY = RNG.uniform(0, 3000, (7, 2))


def test_max_cover_matches_enumeration():
    prob, travel = _problem({"model": "max_cover", "count": 3}, DXY, W, SXY, parts={"d1": 3})
    out = KINDS["max_cover"](prob, travel, SOLVER)
    reach = _minutes(DXY, SXY) <= 15.0
    best = max(W[reach[:, list(c)].any(axis=1)].sum() for c in combinations(range(7), 3))
    assert out.kpi.figures["covered_demand"] == pytest.approx(best)
    assert len(out.chosen) == 3 and out.kpi.met and out.kpi.gap <= 1e-9


def test_max_cover_district_quota_matches_enumeration():
    sd = ["a", "a", "a", "a", "b", "b", "b"]
    dd = ["a"] * 7 + ["b"] * 7
    spec = {"model": "max_cover", "count": 3, "equity": {"rule": "quota", "level": "district"}}
    prob, travel = _problem(spec, DXY, W, SXY, d_district=dd, s_district=sd, parts={"a": 1, "b": 2})
    out = KINDS["max_cover"](prob, travel, SOLVER)
    reach = _minutes(DXY, SXY) <= 15.0
    best = max(
        W[reach[:, [i, *c]].any(axis=1)].sum() for i in range(4) for c in combinations(range(4, 7), 2)
    )  # one of a's sites, two of b's
    assert out.kpi.figures["covered_demand"] == pytest.approx(best)
    chosen = [int(s[1:]) for s in out.chosen]
    assert sum(j < 4 for j in chosen) == 1 and sum(j >= 4 for j in chosen) == 2
    assert "equity_price" in out.kpi.figures  # the rule's price is stated
    price = out.kpi.figures["equity_price"]
    assert price["bound_free"] >= best - 1e-9 and price["price_low"] <= price["price_high"] + 1e-9


def test_an_impossible_district_minimum_is_reported_not_fatal():
    sd = ["a", "a", "a", "a", "b", "b", "b"]
    dd = ["a"] * 7 + ["b"] * 7
    spec = {"model": "max_cover", "count": 1, "equity": {"rule": "min_share", "level": "district", "min_share": 0.9}}
    prob, travel = _problem(spec, DXY, W, SXY, d_district=dd, s_district=sd, parts={"a": 1, "b": 0})
    out = KINDS["max_cover"](prob, travel, SOLVER)
    assert len(out.chosen) == 1 and out.kpi.met is False
    assert out.kpi.figures["equity_rule"]["met"] is False
    assert any("cannot be met" in n for n in out.notes)
    # the reason stands beside the "no", where a planner reads it (console, summary.csv), not only in the notes
    assert out.kpi.why_not.startswith("district minimum 90% not reached: ")
    assert out.kpi.met_text == f"no ({out.kpi.why_not})"
    assert out.kpi.as_dict()["why_not"] == out.kpi.why_not


def test_min_cover_matches_enumeration():
    prob, travel = _problem({"model": "min_cover", "share": 0.6}, DXY, W, SXY)
    out = KINDS["min_cover"](prob, travel, SOLVER)
    reach = _minutes(DXY, SXY) <= 15.0
    need = 0.6 * W.sum()
    k_best = next(
        k
        for k in range(1, 8)
        if any(W[reach[:, list(c)].any(axis=1)].sum() >= need - 1e-9 for c in combinations(range(7), k))
    )
    assert len(out.chosen) == k_best
    assert out.kpi.achieved >= 0.6 and out.kpi.met


def test_per_unit_one_median_matches_enumeration():
    dd = ["a"] * 7 + ["b"] * 7
    sd = ["a", "a", "a", "b", "b", "b", "b"]
    prob, travel = _problem(
        {"model": "per_unit", "per_unit": 1, "unit": "district"}, DXY, W, SXY, d_district=dd, s_district=sd
    )
    out = KINDS["per_unit"](prob, travel, SOLVER)
    T = _minutes(DXY, SXY)
    want = {f"s{int(np.argmin(W[:7] @ T[:7, :3]))}", f"s{3 + int(np.argmin(W[7:] @ T[7:, 3:]))}"}
    assert set(out.chosen) == want and out.kpi.met and out.exact
    # how many people reach their site within the family's time is stated beside the count
    share = out.kpi.figures["within_limit_share"]
    ja, jb = sorted(int(s[1:]) for s in want)  # district a's site, district b's site
    nearest = np.r_[T[:7, ja], T[7:, jb]]
    assert share == pytest.approx(float(W[nearest <= 15.0].sum() / W.sum()))
    assert any(n.startswith(f"{share:.1%} of ") and "within 15 min" in n for n in out.notes)


def test_p_median_matches_enumeration():
    prob, travel = _problem({"model": "p_median", "count": 2, "unit": "district"}, DXY, W, SXY, parts={"d1": 2})
    out = KINDS["p_median"](prob, travel, SOLVER)
    T = _minutes(DXY, SXY)
    best = min(combinations(range(7), 2), key=lambda c: float(W @ T[:, list(c)].min(axis=1)))
    assert set(out.chosen) == {f"s{j}" for j in best}
    got = float(out.unit_table["mean_minutes"].iloc[0]) * W.sum()
    assert got == pytest.approx(float(W @ T[:, list(best)].min(axis=1)), rel=1e-6)
    # each site's mean time is its people's mean (weighted), not the mean over its demand points
    near = np.array(best)[np.argmin(T[:, list(best)], axis=1)]
    for j in best:
        mine = near == j
        want = float(W[mine] @ T[mine, j] / W[mine].sum())
        assert float(out.site_values.loc[f"s{j}", "mean_minutes"]) == pytest.approx(want, rel=1e-6)


def test_capacitated_matches_enumeration():
    beds = 100
    spec = {"model": "capacitated", "per_unit": 2, "unit": "district", "beds_per_unit": beds}
    prob, travel = _problem(spec, DXY, W, SXY, beds={"d1": beds})
    out = KINDS["capacitated"](prob, travel, SOLVER)
    T = _minutes(DXY, SXY)
    demand = W * beds / W.sum()
    cap = beds / 2

    def cost(pair):  # transportation problem: each demand point's beds split over the pair within capacity
        c = T[:, list(pair)].ravel()
        a_eq = np.kron(np.eye(len(W)), np.ones(2))
        a_ub = np.kron(np.ones(len(W)), np.eye(2))
        r = linprog(c, A_ub=a_ub, b_ub=[cap, cap], A_eq=a_eq, b_eq=demand, bounds=(0, None), method="highs")
        return r.fun

    best = min(combinations(range(7), 2), key=cost)
    assert set(out.chosen) == {f"s{j}" for j in best}
    assert out.kpi.achieved == beds and out.kpi.met
    assert out.site_values["beds"].sum() == beds


def test_allocate_is_largest_remainder():
    prob, travel = _problem({"model": "allocate", "count": 10}, DXY[:4], [1, 2, 3, 4], SXY, parts={"d1": 10})
    out = KINDS["allocate"](prob, travel, SOLVER)
    assert out.site_values["allocated"].to_dict() == {"r0": 1, "r1": 2, "r2": 3, "r3": 4}
    assert out.kpi.achieved == 10 and out.kpi.met


def test_block_names_wrong_target_for_its_kind():
    with pytest.raises(ValueError, match="needs `share`"):
        FamilySpec(name_zh="x", name_en="x", model="min_cover", count=3)
    with pytest.raises(ValueError, match="not a model kind"):
        FamilySpec(name_zh="x", name_en="x", model="max_coverage", count=3)
