"""Issue 2 targets: citywide demand layer at 500 m in ≤ 20 s and ≤ 2 GB; at 250 m in ≤ 60 s."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure


def _layer(size: float):
    def run() -> dict:
        from facility_planner.demand import beijing_demand

        layer = beijing_demand(cell_size_m=size)
        return {"cells": len(layer.cells), "pop": int(layer.cells["pop"].sum())}

    return run


def main() -> list[dict]:
    return [
        measure("demand citywide 500 m", _layer(500), max_seconds=20, max_mb=2048),
        measure("demand citywide 250 m", _layer(250), max_seconds=60),
    ]


if __name__ == "__main__":
    rows = main()
    sys.exit(0 if all(r["ok"] for r in rows) else 1)
