"""Our optimum equals PySAL spopt's on small random (SYNTHETIC) instances of each model spopt has."""

import numpy as np
import pytest

spopt_locate = pytest.importorskip("spopt.locate", reason="spopt is a dev dependency")
pulp = pytest.importorskip("pulp")

from facility_planner.matrices import LabelledMatrix  # noqa: E402
from facility_planner.models import max_cover, p_center, p_median, set_cover  # noqa: E402

CBC = pulp.PULP_CBC_CMD(msg=False)


def _instance(seed, n=40, m=15):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 10, (n, 2))
    s = rng.uniform(0, 10, (m, 2))
    D = np.hypot(*(d[:, None, :] - s[None, :, :]).transpose(2, 0, 1))
    w = rng.integers(1, 20, n).astype(float)
    return D, w


@pytest.mark.parametrize("seed", range(4))
def test_mclp(seed):
    D, w = _instance(seed)
    r, p = 2.5, 3
    theirs = spopt_locate.MCLP.from_cost_matrix(D, w, service_radius=r, p_facilities=p).solve(CBC)
    ours = max_cover(LabelledMatrix.from_dense(D, limit=r), w, p, mip_rel_gap=0.0)
    assert ours.objective == pytest.approx(pulp.value(theirs.problem.objective))


@pytest.mark.parametrize("seed", range(4))
def test_lscp(seed):
    D, _ = _instance(seed)
    r = 3.5
    D = D[(D <= r).any(axis=1)]  # spopt needs every demand coverable
    theirs = spopt_locate.LSCP.from_cost_matrix(D, service_radius=r).solve(CBC)
    ours = set_cover(LabelledMatrix.from_dense(D, limit=r), mip_rel_gap=0.0)
    assert ours.objective == pytest.approx(pulp.value(theirs.problem.objective))


@pytest.mark.parametrize("seed", range(4))
def test_p_median(seed):
    D, w = _instance(seed)
    theirs = spopt_locate.PMedian.from_cost_matrix(D, w, p_facilities=4).solve(CBC)
    ours = p_median(D, w, 4, mip_rel_gap=0.0)
    assert ours.objective == pytest.approx(pulp.value(theirs.problem.objective), rel=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_p_center(seed):
    D, _ = _instance(seed, n=25, m=10)
    theirs = spopt_locate.PCenter.from_cost_matrix(D, p_facilities=3).solve(CBC)
    ours = p_center(D, 3)
    assert ours.objective == pytest.approx(pulp.value(theirs.problem.objective), rel=1e-6)
