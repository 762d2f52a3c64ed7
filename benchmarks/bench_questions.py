"""Issue 13 targets: a 10-point trade-off curve of the citywide eldercare stations ≤ 60 s; a 9-run what-if sweep of
one district (Haidian, walking speed × station count) ≤ 60 s on 2 local Dask workers. Both include loading the data
and building travel, as a planner running the command would see them."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure

ROOT = Path(__file__).resolve().parents[1]


def _curve() -> dict:
    from facility_planner.curves import curve_for_scenario

    res = curve_for_scenario(ROOT / "scenarios" / "beijing_2025.yaml", "eldercare_stations", points=10)
    df = res.to_frame()
    last = df.iloc[-1]
    return {
        "points": len(df),
        "new_sites": int(last["new_sites"]),
        "greedy_share": float(last["covered_share"]),
        "bound_share": float(last["upper_share"]),
        "widest_envelope": float(df["envelope_gap"].max()),
        "exact_points": int((df["method"] == "exact").sum()),
        **{f"{k}_s": v for k, v in res.seconds.items()},
    }


def _sweep() -> dict:
    import tempfile

    from facility_planner.sweep import run_sweep

    with tempfile.TemporaryDirectory() as td:
        res = run_sweep(
            ROOT / "scenarios" / "beijing_2025.yaml",
            ["travel.speed_kmh=3,4,5", "families.eldercare_stations.by_district.Haidian=150,200,250"],
            Path(td) / "sweep",
            district="Haidian",
            workers=2,
        )
        t = res.table
    return {
        "runs": len(t),
        "ok": int((t["status"] == "ok").sum()),
        "slowest_run_s": float(t["seconds"].max()),
        "coverage_range": [
            float(t["eldercare_stations.covered_share"].min()),
            float(t["eldercare_stations.covered_share"].max()),
        ],
    }


def main() -> list[dict]:
    rows = [
        measure("curve: citywide eldercare stations, 10 points", _curve, max_seconds=60),
        measure("sweep: Haidian, 3 speeds × 3 station counts, 2 workers", _sweep, max_seconds=60),
    ]
    rows[1]["ok"] = rows[1]["ok"] and rows[1]["runs"] == 9
    return rows


if __name__ == "__main__":
    main()
