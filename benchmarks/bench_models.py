"""Issue 4 targets: maximal covering on uniform SYNTHETIC points in a 50 km square, radius 1 km, build + solve to a
proven optimum: 10,000 × 3,000, p = 500 in ≤ 5 s; 30,000 × 8,000, p = 100 in ≤ 60 s. Shared published instances:
each ≤ 10 s at its optimum.

Issue 12 (``python benchmarks/bench_models.py --city``): the citywide coverage models over every populated 500 m cell
of Beijing (see :func:`city_main`; ``--with-lp`` also solves the maximal covering's LP relaxation, about 2 minutes).

p-median (issue 12: every published instance proven optimal in ≤ 10 s): OR-Library's pmed11–40 are held back, so
SYNTHETIC random graphs of exactly their sizes (n nodes, e edges, p; integer edge costs 1–100, as Beasley made them)
stand in, each solved to a proven optimum in ≤ 10 s. ``--pmed-only`` runs just those."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure

#: (n, edges, p) of OR-Library pmed11–40 (Beasley 1985), as listed in data/benchmarks/orlib_pmed/PROVENANCE.md
PMED_SIZES = [
    (n, e, p)
    for n, e, ps in [
        (300, 1800, (5, 10, 30, 60, 100)),
        (400, 3200, (5, 10, 40, 80, 133)),
        (500, 5000, (5, 10, 50, 100, 167)),
        (600, 7200, (5, 10, 60, 120, 200)),
        (700, 9800, (5, 10, 70, 140)),
        (800, 12800, (5, 10, 80)),
        (900, 16200, (5, 10, 90)),
    ]
    for p in ps
]


def _mclp(n: int, m: int, p: int):
    def run() -> dict:
        import numpy as np
        import scipy.sparse as sp
        from scipy.spatial import cKDTree

        from facility_planner.models import max_cover

        rng = np.random.default_rng(0)
        dem, sites = rng.uniform(0, 50_000, (n, 2)), rng.uniform(0, 50_000, (m, 2))
        w = rng.integers(1, 100, n)
        lists = cKDTree(sites).query_ball_point(dem, 1000.0)
        r = np.repeat(np.arange(n), [len(x) for x in lists])
        c = np.concatenate([np.asarray(x, dtype=int) for x in lists])
        A = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n, m))
        sol = max_cover(A, w, p, mip_rel_gap=0.0)
        return {"status": sol.status, "gap": sol.gap, "objective": sol.objective}

    return run


def _pmed_graph(n: int, e: int, p: int):
    def run() -> dict:
        import numpy as np
        import scipy.sparse as sp
        from scipy.sparse.csgraph import shortest_path

        from facility_planner.models import p_median

        rng = np.random.default_rng(n + p)
        # a random spanning tree keeps the graph connected; the other edges join random pairs
        i = np.r_[np.arange(1, n), rng.integers(0, n, e - n + 1)]
        j = np.r_[rng.integers(0, np.arange(1, n)), rng.integers(0, n, e - n + 1)]
        # no loops, and each pair once (as OR-Library's reader keeps one cost per pair); fewer than e edges remain
        # when random pairs repeat
        a, b = np.minimum(i, j), np.maximum(i, j)
        _, first = np.unique(a * n + b, return_index=True)
        first = first[a[first] != b[first]]
        a, b = a[first], b[first]
        c = rng.integers(1, 101, len(a)).astype(float)
        G = sp.coo_matrix((np.r_[c, c], (np.r_[a, b], np.r_[b, a])), shape=(n, n)).tocsr()
        D = shortest_path(G, directed=False)
        t, c = time.perf_counter(), time.process_time()
        sol = p_median(D, None, p, mip_rel_gap=0.0, time_limit_s=60)
        return {
            "status": sol.status,
            "gap": sol.gap,
            "objective": sol.objective,
            "solve_s": round(time.perf_counter() - t, 2),  # the target: p_median alone (graph made beforehand)
            "cpu_s": round(time.process_time() - c, 2),
            **{k: v for k, v in sol.size.items() if k.startswith(("branch", "sites_fixed"))},
        }

    return run


def _shared(family: str, folder: str):
    def run() -> dict:
        from facility_planner.benchmarks import run_family

        t = time.perf_counter()
        rows = run_family(family)  # the bundled published instances
        return {
            "instances": len(rows),
            "at_optimum": sum(r.matches for r in rows),
            "slowest_s": round(max(r.seconds for r in rows), 2),
            "all_within_10s": all(r.seconds <= 10 for r in rows),
            "total_s": round(time.perf_counter() - t, 1),
        }

    return run


def _beijing_instance():
    """The citywide instance of issue 12, built without the pipeline: every populated 500 m cell of Beijing (older
    people, ``pop_60``), candidate sites at the populated cells' centroids, reach = 15 min walking at 4 km/h with a
    1.2 detour factor (833 m straight line). Also the located communities against the same sites."""
    from facility_planner.demand import beijing_demand
    from facility_planner.sites import candidates_from_demand
    from facility_planner.travel import straight_line

    layer = beijing_demand(cell_size_m=500)
    sites = candidates_from_demand(layer.cells, populated_only=True)
    reach = {"time_limit_min": 15, "speed_kmh": 4, "detour_factor": 1.2}
    cov = straight_line(layer.centroids(), sites, **reach).cost
    cells = layer.cells.set_index("cell_id")
    w = cells["pop_60"].reindex(cov.row_ids).to_numpy(float)
    district = cells["district_code"].reindex(cov.row_ids).astype(str).to_numpy()
    comm = layer.communities
    comm_cov = straight_line(comm, sites, demand_id="community_code", **reach).cost
    return cov, w, district, comm_cov


def _cpu_s() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _city(kind: str, *, p: int = 1200, time_limit_s: float = 60, gap: float = 0.001, **kw):
    """One citywide coverage model (issue 12 targets): ``kind`` is "max_cover", "max_cover_min_share",
    "partial_cover" or "capacitated"."""

    def run() -> dict:
        from facility_planner.models import capacitated_max_cover, max_cover, partial_cover

        cov, w, district, comm_cov = _beijing_instance()
        t, c = time.perf_counter(), _cpu_s()
        if kind == "max_cover":
            sol = max_cover(cov, w, p, time_limit_s=time_limit_s, mip_rel_gap=gap, groups=district)
        elif kind == "max_cover_min_share":
            sol = max_cover(
                cov, w, p, time_limit_s=time_limit_s, mip_rel_gap=gap, groups=district, min_group_share=kw["share"]
            )
        elif kind == "partial_cover":
            sol = partial_cover(comm_cov, None, kw.get("share", 0.8), time_limit_s=time_limit_s, mip_rel_gap=0.0)
        else:
            sol = capacitated_max_cover(cov, w, p, capacity=kw["capacity"], time_limit_s=time_limit_s, mip_rel_gap=gap)
        out = {
            "model_s": round(time.perf_counter() - t, 1),
            "model_cpu_s": round(_cpu_s() - c, 1),
            "status": sol.status,
            "gap": None if sol.gap is None else round(sol.gap, 5),
            "gap_exceeded": sol.gap_exceeded,
            "objective": sol.objective,
            "best_bound": sol.best_bound,
            "size": sol.size,
            "notes": sol.notes,
        }
        total = sol.extra.get("total_weight")
        if kind != "partial_cover" and total:
            out["share"] = round(sol.objective / total, 5)
            out["bound_share"] = round(sol.best_bound / total, 5) if sol.best_bound is not None else None
        if kind == "capacitated":
            out["within_reach_share"] = round(sol.extra["within_reach_share"], 5)
        if "group_coverage" in sol.extra:
            gc = sol.extra["group_coverage"]
            out["lowest_district_share"] = round(float(gc["covered_share"].min()), 4)
        return out

    return run


def _city_lp(p: int = 1200):
    """The citywide maximal covering's LP relaxation, priced to the whole model's optimum
    (:func:`~facility_planner.models._large.priced_lp_dive`, no dive): no bound built from LP duals or Lagrangian
    multipliers can lie below it, so it is the floor of what ``max_cover``'s bound can prove without branching."""

    def run() -> dict:
        import numpy as np

        from facility_planner.models._large import priced_lp_dive
        from facility_planner.models.coverage import dominated_columns, max_cover_milp, merge_identical_rows

        cov, w, _, _ = _beijing_instance()
        t = time.perf_counter()
        R = cov.matrix.tocsr().astype(float)
        R.data[:] = 1.0
        keep = (np.diff(R.indptr) > 0) & (w > 0)
        U, wu, _ = merge_identical_rows(R[keep], w[keep])
        U = U[:, np.flatnonzero(~dominated_columns(U))].tocsr()
        n, m = U.shape
        milp = max_cover_milp(U, wu, p)  # the model max_cover solves, with no side rows
        none, every = np.zeros(m, bool), np.ones(m, bool)
        priced = priced_lp_dive(milp, U, wu, p, none, every, deadline=time.perf_counter() + 900, max_steps=1)
        lp = priced.dive.lp_objective
        return {
            "lp_s": round(time.perf_counter() - t, 1),
            "lp_objective": lp,
            "proven_whole": priced.whole,
            "rounds": priced.rounds,
            "lp_sites": priced.sites,
            "rows": n,
            "sites": m,
            "lp_share": None if lp is None else round(lp / float(np.sum(w)), 5),
        }

    return run


def city_main(time_limit_s: float = 60) -> list[dict]:
    """The citywide benchmarks of issue 12 (each in its own process; time and memory of the whole child, model
    time and CPU separately). Targets: max cover proven ≤ 0.1% in ≤ 60 s and ≤ 4 GB, with and without a district
    minimum; partial cover of 80% of located communities proven optimal in ≤ 30 s."""
    rows = [
        measure("city max_cover p=1200", _city("max_cover", time_limit_s=time_limit_s), max_seconds=90, max_mb=4096),
        measure(
            "city max_cover p=1200, district minimum 30%",
            _city("max_cover_min_share", share=0.3, time_limit_s=time_limit_s),
            max_seconds=90,
            max_mb=4096,
        ),
        measure("city partial_cover 80% of communities", _city("partial_cover", time_limit_s=120), max_seconds=45),
        measure(
            "city capacitated max_cover p=1200, K=2500",
            _city("capacitated", capacity=2500, time_limit_s=time_limit_s),
            max_seconds=90,
            max_mb=4096,
        ),
    ]
    for row in rows:
        row["ok"] = row["ok"] and not row["gap_exceeded"]
    if "--with-lp" in sys.argv:
        # why the first two miss 0.1%: a plan within 0.1% of the bound needs one within about 0.1% of this LP optimum
        lp = measure("city max_cover p=1200, LP relaxation (no branching)", _city_lp(), max_seconds=1e9)
        if lp["lp_objective"]:
            lp["best_plan_below_lp"] = round(1 - rows[0]["objective"] / lp["lp_objective"], 5)
        print(json.dumps({"benchmark": "the 60 s plan below the LP relaxation", "share": lp.get("best_plan_below_lp")}))
    # the price of the district minimum, as price_rule states it: proven interval, in points of citywide coverage
    free, ruled = rows[0], rows[1]
    low = max(0.0, free["share"] - min(ruled["bound_share"], free["bound_share"])) * 100
    high = max(0.0, free["bound_share"] - ruled["share"]) * 100
    found = (free["share"] - ruled["share"]) * 100
    price = {"points_low": round(low, 2), "points_high": round(high, 2), "points_between_plans": round(found, 2)}
    print(json.dumps({"benchmark": "price of the district minimum 30%", **price}))
    for row in rows:
        print(f"{row['benchmark']}: {'ok' if row['ok'] else 'MISSED'} (gap {row['gap']}, model {row['model_s']} s)")
    return rows


def main(pmed_only: bool = False) -> list[dict]:
    rows = []
    if not pmed_only:
        rows += [
            measure("max_cover 10,000 × 3,000, p=500", _mclp(10_000, 3_000, 500), max_seconds=5),
            measure("max_cover 30,000 × 8,000, p=100", _mclp(30_000, 8_000, 100), max_seconds=60),
        ]
    import facility_planner.models  # noqa: F401  (imported once here; each measured child is forked from this one)

    for n, e, p in PMED_SIZES:
        row = measure(f"p_median random graph n={n}, e={e:,}, p={p}", _pmed_graph(n, e, p), max_seconds=1e9)
        row["ok"] = row["status"] == "optimal" and row["gap"] == 0 and row["solve_s"] <= 10
        rows.append(row)
    pm = rows[-len(PMED_SIZES) :]
    print(
        f"p-median, graphs of pmed11-40's sizes: {sum(r['ok'] for r in pm)} of {len(pm)} proven optimal in ≤ 10 s; "
        f"slowest {max(r['solve_s'] for r in pm):.1f} s wall, {max(r['cpu_s'] for r in pm):.1f} s CPU"
    )
    if not pmed_only:
        for fam, folder in [
            ("pmed", "orlib_pmed"),
            ("scp", "orlib_scp"),
            ("mclp-swain", "mclp_swain"),
            ("mclp-sjc", "mclp_sjc"),
        ]:
            row = measure(f"published {folder}", _shared(fam, folder), max_seconds=1e9)
            row["ok"] = row["at_optimum"] == row["instances"] and row["all_within_10s"]
            rows.append(row)
    return rows


if __name__ == "__main__":
    rows = city_main() if "--city" in sys.argv else main(pmed_only="--pmed-only" in sys.argv)
    sys.exit(0 if all(r["ok"] for r in rows) else 1)
