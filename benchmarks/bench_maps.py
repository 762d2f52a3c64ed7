"""Issue 6 targets: a district map ≤ 5 MB, the citywide map ≤ 15 MB; a district map opens and draws in headless
Chromium (network off) in ≤ 5 s. Uses the citywide plan of scenarios/beijing_2025.yaml."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure

ROOT = Path(__file__).resolve().parents[1]


def _maps() -> dict:
    from facility_planner.pipeline import run_scenario

    out = Path(tempfile.mkdtemp()) / "plan"
    run_scenario(ROOT / "scenarios" / "beijing_2025.yaml").write(out)
    sizes = {p.name: p.stat().st_size for p in (out / "maps").glob("*.html")}
    district = max((k for k in sizes if k.startswith("district_")), key=sizes.get)
    row = {
        "largest_district_map": district,
        "largest_district_mb": round(sizes[district] / 2**20, 2),
        "citywide_mb": round(sizes["index.html"] / 2**20, 2),
    }
    from facility_planner._chromium import chromium_path, run_headless

    if chromium_path():
        t = time.perf_counter()
        run_headless((out / "maps" / district).as_uri(), f"--screenshot={out.parent / 'shot.png'}")
        row["open_and_draw_s"] = round(time.perf_counter() - t, 2)
    return row


def main() -> list[dict]:
    row = measure("maps of the citywide plan", _maps, max_seconds=1e9)
    row["ok"] = row["largest_district_mb"] <= 5 and row["citywide_mb"] <= 15 and row.get("open_and_draw_s", 0) <= 5
    return [row]


if __name__ == "__main__":
    rows = main()
    sys.exit(0 if all(r["ok"] for r in rows) else 1)
