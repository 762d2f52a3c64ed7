"""Side by side with PySAL spopt: the same maximal covering (MCLP) and location set covering (LSCP) instance solved by
facility_planner and by spopt, same optimum checked, times and the ratio printed from one run.

The instance is SYNTHETIC (uniform random points, seeded): 10,000 weighted demand points and 3,000 candidate sites in a
50 km square, covered within 1 km (the instance of ``bench_models.py``). MCLP: p = 500 sites. LSCP: every demand
covered by the fewest sites; spopt's LSCP needs every demand coverable, so the points with no site within 1 km (about
2%) are dropped for both sides and the count printed. (At 2 km, where no point is out of reach, neither side proves
the unicost set cover optimal within 300 s: we stopped at 343 sites, gap open.)

spopt is installed by this script into its own virtual environment (``benchmarks/.spopt-venv``, git-ignored), pinned,
with the shared libraries held to ``constraints.txt``; it is solved there with its documented default solver, PuLP's
bundled CBC, at a relative gap of 0. Each side is timed from the same coordinates to a proven optimum: spopt's
dense cost matrix (its ``from_cost_matrix`` input), model build and solve; our KD-tree coverage, model build and solve.

    python benchmarks/bench_spopt.py [--spopt-time-limit 1800] [--only mclp|lscp]

Exit status 0 when both sides reach the same optimum, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".spopt-venv"
#: spopt and its solver layer, pinned; the rest follows the repository's constraints.txt
PINS = ["spopt==0.7.0", "PuLP==3.3.2"]
N_DEMAND, N_SITES, SIDE_M, SEED = 10_000, 3_000, 50_000.0, 0
MCLP_RADIUS, MCLP_P, LSCP_RADIUS = 1_000.0, 500, 1_000.0


def instance() -> dict:
    """The SYNTHETIC instance: demand points, weights and candidate sites (seeded)."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    dem, sites = rng.uniform(0, SIDE_M, (N_DEMAND, 2)), rng.uniform(0, SIDE_M, (N_SITES, 2))
    w = rng.integers(1, 100, N_DEMAND).astype(float)
    return {"demand": dem, "sites": sites, "weights": w}


def ensure_venv() -> Path:
    """The spopt environment's Python, created and installed (from wheels) on first use or when the pins change."""
    py = VENV / "bin" / "python"
    stamp = VENV / ".pins"
    want = "\n".join(PINS)
    if py.exists() and stamp.exists() and stamp.read_text() == want:
        return py
    print(f"installing {', '.join(PINS)} into {VENV} (once; about a minute) ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    constraints = HERE.parent / "constraints.txt"
    cmd = [str(py), "-m", "pip", "install", "--quiet", "--only-binary=:all:", *PINS]
    if constraints.exists():
        cmd += ["-c", str(constraints)]
    subprocess.run(cmd, check=True)
    stamp.write_text(want)
    return py


# ------------------------------------------------------------------------------------------------------ spopt side


def spopt_side(npz: str, kind: str, time_limit: float) -> None:
    """Run inside the spopt environment: solve one model, print one JSON line."""
    import numpy as np
    import pulp
    from scipy.spatial.distance import cdist
    from spopt.locate import LSCP, MCLP

    data = np.load(npz)
    t0 = time.perf_counter()
    D = cdist(data["demand"], data["sites"])  # spopt's input: the dense demand × site cost matrix
    t_matrix = time.perf_counter() - t0
    solver = pulp.PULP_CBC_CMD(msg=False, gapRel=0, timeLimit=time_limit)
    if kind == "mclp":
        model = MCLP.from_cost_matrix(D, data["weights"], service_radius=MCLP_RADIUS, p_facilities=MCLP_P)
    else:
        model = LSCP.from_cost_matrix(D, service_radius=LSCP_RADIUS)
    t_build = time.perf_counter() - t0 - t_matrix
    model.solve(solver)
    total = time.perf_counter() - t0
    status = pulp.LpStatus[model.problem.status]
    print(
        json.dumps(
            {
                "objective": pulp.value(model.problem.objective),
                "status": status,
                "proven": status == "Optimal" and total < time_limit,
                "seconds": total,
                "matrix_s": t_matrix,
                "build_s": t_build,
                "solve_s": total - t_matrix - t_build,
                "spopt": __import__("spopt").__version__,
                "pulp": pulp.__version__,
            }
        )
    )


# ------------------------------------------------------------------------------------------------------- our side


def ours(inst: dict, kind: str, keep) -> dict:
    import numpy as np
    import scipy.sparse as sp
    from scipy.spatial import cKDTree

    from facility_planner.models import max_cover, set_cover

    t0 = time.perf_counter()
    dem = inst["demand"][keep]
    radius = MCLP_RADIUS if kind == "mclp" else LSCP_RADIUS
    lists = cKDTree(inst["sites"]).query_ball_point(dem, radius)
    r = np.repeat(np.arange(len(dem)), [len(x) for x in lists])
    c = np.concatenate([np.asarray(x, dtype=int) for x in lists])
    A = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(dem), N_SITES))
    t_matrix = time.perf_counter() - t0
    if kind == "mclp":
        sol = max_cover(A, inst["weights"][keep], MCLP_P, mip_rel_gap=0.0)
    else:
        sol = set_cover(A, mip_rel_gap=0.0)
    return {
        "objective": sol.objective,
        "status": sol.status,
        "proven": sol.optimal and sol.gap == 0,
        "seconds": time.perf_counter() - t0,
        "matrix_s": t_matrix,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spopt-time-limit", type=float, default=1800.0, help="seconds per spopt solve (default 1800)")
    ap.add_argument("--only", choices=["mclp", "lscp"], help="run one model only")
    ap.add_argument("--spopt-side", nargs=2, metavar=("NPZ", "KIND"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.spopt_side:
        spopt_side(*args.spopt_side, args.spopt_time_limit)
        return 0

    import numpy as np
    from scipy.spatial import cKDTree

    py = ensure_venv()
    inst = instance()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ["mclp", "lscp"] if args.only is None else [args.only]:
            keep = np.ones(N_DEMAND, dtype=bool)
            if kind == "lscp":
                d, _ = cKDTree(inst["sites"]).query(inst["demand"])
                keep = d <= LSCP_RADIUS
            npz = str(Path(tmp) / f"{kind}.npz")
            np.savez(npz, demand=inst["demand"][keep], sites=inst["sites"], weights=inst["weights"][keep])
            print(f"{kind.upper()}: {int(keep.sum()):,} demand × {N_SITES:,} sites", end="", flush=True)
            if kind == "mclp":
                print(f", p = {MCLP_P}, radius {MCLP_RADIUS:,.0f} m", flush=True)
            else:
                print(
                    f", radius {LSCP_RADIUS:,.0f} m ({N_DEMAND - int(keep.sum())} demand points out of reach dropped)"
                )
            a = ours(inst, kind, keep)
            print(f"  facility_planner: {a['objective']:>14,.1f}  {a['status']:<10} {a['seconds']:8.2f} s", flush=True)
            out = subprocess.run(
                [str(py), __file__, "--spopt-side", npz, kind, "--spopt-time-limit", str(args.spopt_time_limit)],
                capture_output=True,
                text=True,
            )
            if out.returncode != 0:
                print(out.stderr[-2000:])
                return 1
            b = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"  spopt {b['spopt']} (PuLP {b['pulp']}, CBC): {b['objective']:>14,.1f}  {b['status']:<10} "
                f"{b['seconds']:8.2f} s (cost matrix {b['matrix_s']:.2f} s, build {b['build_s']:.2f} s, "
                f"solve {b['solve_s']:.2f} s)"
            )
            same = abs(a["objective"] - b["objective"]) <= 1e-6 * max(1.0, abs(b["objective"]))
            both = a["proven"] and b["proven"]
            ok &= same and both
            verdict = "same optimum" if same and both else ("SAME VALUE, not proven by both" if same else "DIFFERENT")
            print(
                json.dumps(
                    {
                        "benchmark": f"spopt side by side: {kind}",
                        "ours_s": round(a["seconds"], 2),
                        "spopt_s": round(b["seconds"], 2),
                        "ratio": round(b["seconds"] / a["seconds"], 1),
                        "objective": a["objective"],
                        "verdict": verdict,
                    }
                ),
                flush=True,
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
