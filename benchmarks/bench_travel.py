"""Issue 3 targets: straight-line coverage for the whole city (500 m cells × all cell-centroid candidates, 15 min)
≤ 5 s; network coverage on the central-Beijing street network (~40,000 edges) for 20,000 cells × 20,000 candidate
sites at 15 min ≤ 60 s and ≤ 4 GB."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure


def _straight() -> dict:
    import time

    from facility_planner.demand import beijing_demand
    from facility_planner.sites import candidates_from_demand
    from facility_planner.travel import straight_line

    layer = beijing_demand(cell_size_m=500)
    cells, sites = layer.centroids(), candidates_from_demand(layer.cells)
    t = time.perf_counter()
    tr = straight_line(cells, sites)
    return {
        "coverage_s": round(time.perf_counter() - t, 2),
        "cells": len(cells),
        "sites": len(sites),
        "pairs": int(tr.cost.matrix.nnz),
    }


def _network() -> dict:
    import time

    from facility_planner.areas import data_dir
    from facility_planner.demand import beijing_demand
    from facility_planner.network import network_from_lines
    from facility_planner.sites import candidates_from_demand
    from facility_planner.travel import network_travel

    t0 = time.perf_counter()
    net = network_from_lines(data_dir() / "central_roads_osm2012_sparsetaxi_wgs84.geojson.gz")
    t_net = time.perf_counter() - t0
    layer = beijing_demand(cell_size_m=250)
    hull = net.hull(0)
    cells = layer.centroids()
    cells = cells[cells.geometry.within(hull)].head(20_000)
    sites = candidates_from_demand(layer.cells)
    sites = sites[sites.geometry.within(hull)].head(20_000)
    t = time.perf_counter()
    tr = network_travel(cells, sites, net)
    return {
        "network_build_s": round(t_net, 2),
        "coverage_s": round(time.perf_counter() - t, 2),
        "cells": len(cells),
        "sites": len(sites),
        "edges": net.n_edges,
        "pairs": int(tr.cost.matrix.nnz),
        "fallback_cells": int(tr.fallback.sum()),
    }


def main() -> list[dict]:
    return [
        measure("straight-line coverage, city 500 m", _straight, max_seconds=60),
        measure("network coverage, central Beijing 20k × 20k", _network, max_seconds=60, max_mb=4096),
    ]


if __name__ == "__main__":
    rows = main()
    ok = rows[0]["coverage_s"] <= 5 and all(r["ok"] for r in rows)
    sys.exit(0 if ok else 1)
