"""Run every benchmark and exit non-zero if any misses its target. `make benchmark` calls this."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

MODULES = ["bench_demand", "bench_travel", "bench_models", "bench_maps", "bench_io", "bench_questions"]

if __name__ == "__main__":
    rows = []
    for name in MODULES:
        rows += importlib.import_module(name).main()
    print(f"{sum(r['ok'] for r in rows)} of {len(rows)} benchmarks within target")
    sys.exit(0 if all(r["ok"] for r in rows) else 1)
