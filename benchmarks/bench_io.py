"""Issue 14 target: a 10,000-row GBK facility file (经度/纬度 headers, untagged) imports in ≤ 5 s.

The file is SYNTHETIC: 10,000 points jittered by up to ~300 m around the bundled real community points of Beijing,
with Chinese names, written in GBK as a Gaode/Excel export would be. The timed part is `read_points` alone, in a
fresh process: decoding, header detection, every coordinate check, the shift check against the Beijing outline
(bundled boundaries loaded inside the timing) and duplicate detection.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure


def make_file(folder: Path, n: int = 10_000) -> Path:
    from facility_planner.areas import load_community_codes

    comm = load_community_codes()
    comm = comm[comm["has_location"]]
    rng = np.random.default_rng(14)
    pick = rng.integers(0, len(comm), n)
    df = pd.DataFrame(
        {
            "编号": [f"BJ{i:06d}" for i in range(1, n + 1)],
            "名称": [f"社区养老服务驿站{i}号" for i in range(1, n + 1)],
            "地址": "北京市",
            "经度": comm["lon"].to_numpy()[pick] + rng.uniform(-0.003, 0.003, n),
            "纬度": comm["lat"].to_numpy()[pick] + rng.uniform(-0.003, 0.003, n),
        }
    )
    path = folder / "驿站_10000.csv"
    df.to_csv(path, index=False, encoding="gbk", float_format="%.6f")
    return path


def main() -> list[dict]:
    folder = Path(tempfile.mkdtemp(prefix="bench-io-"))
    path = make_file(folder)

    def run() -> dict:
        from facility_planner.io import read_points

        pts = read_points(path, prefix="station")
        return {"rows": len(pts), "file_kb": round(path.stat().st_size / 1024)}

    try:
        return [measure("read_points 10,000-row GBK CSV", run, max_seconds=5)]
    finally:
        path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    rows = main()
    sys.exit(0 if all(r["ok"] for r in rows) else 1)
