"""``run_scenario``: the only place that chains the stages (demand → sites → travel → models → plan)."""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd

from . import families as fam
from ._errors import ScenarioError, ValidationError
from .areas import load_beijing, resolve_district
from .coords import WGS84
from .demand import beijing_demand
from .network import read_network
from .plan import Plan
from .scenario import Scenario, load_scenario
from .sites import candidates_from_demand, combine_sites, dense_housing, exclude, read_points
from .travel import isochrones, network_travel, straight_line


def _existing(scn: Scenario, spec, towns: gpd.GeoDataFrame, label: str) -> gpd.GeoDataFrame | None:
    if spec.file is None:
        return None
    pts = read_points(
        scn.resolve(spec.file),
        coord_system=spec.coord_system,
        id_column=spec.id_column,
        what=f"existing {label} ({spec.file})",
        prefix=label,
    )
    pts = pts.to_crs(towns.crs)
    joined = gpd.sjoin(pts, towns[["township_code", "district_code", "geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated()]
    outside = joined["township_code"].isna()
    if outside.any():
        raise ScenarioError(
            f"existing {label}",
            [
                f"{int(outside.sum())} existing site(s) in {spec.file} lie outside the study area "
                f"({', '.join(map(str, joined.loc[outside, 'site_id'].head(5)))}); check coordinates and coord_system."
            ],
        )
    return joined.drop(columns=["index_right"])


def run_scenario(scenario: Scenario | str | Path, *, district: str | None = None) -> Plan:
    """Run a scenario and return the :class:`~facility_planner.plan.Plan`.

    Parameters
    ----------
    scenario
        A :class:`~facility_planner.scenario.Scenario` or the path of a scenario YAML file.
    district
        Plan one district only (overrides the scenario's ``district``).
    """
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if district is not None:
        scn = scn.model_copy(update={"district": district})
    t = {}
    t0 = time.perf_counter()
    areas = load_beijing()
    if scn.district:
        resolve_district(areas.districts, scn.district)  # clear error before any work
    demand = beijing_demand(
        district=scn.district,
        cell_size_m=scn.demand.cell_size_m,
        shape=scn.demand.shape,
        older_share=scn.demand.older_share,
        older_share_by_district=scn.demand.older_share_by_district,
    )
    demand.params["communities_total"] = int(
        areas.communities["district_code"].isin(demand.districts["district_code"]).sum()
    )
    t["demand"] = time.perf_counter() - t0
    cells = demand.centroids()
    towns = demand.townships
    notes = list(demand.notes)
    F = scn.families
    existing = {
        "eldercare_stations": _existing(scn, F.eldercare_stations.existing, towns, "station"),
        "care_centres": _existing(scn, F.care_centres.existing, towns, "care centre"),
        "psych_points": _existing(scn, F.psych_points.existing, towns, "psych point"),
        "cemeteries": _existing(scn, F.cemeteries.existing, towns, "cemetery"),
    }
    none_given = [fam.FAMILY_NAMES[k][1].lower() for k, ex in existing.items() if ex is None and getattr(F, k).enabled]
    if none_given:
        notes.append(
            f"no existing sites given for {', '.join(none_given)}: every site in the plan is new. No open "
            "dataset of existing facilities is bundled; give yours under `existing.file` to keep them."
        )
    t1 = time.perf_counter()
    cand = candidates_from_demand(demand.cells, populated_only=True)
    # the study area: the township polygons the demand was built on (100 m of tolerance for boundary noise)
    area = gpd.GeoSeries([towns.union_all().buffer(100)], crs=towns.crs).to_crs(WGS84).iloc[0]
    # travel for people: cells → candidate sites (+ existing stations)
    station_sites = combine_sites(candidates=cand, existing=existing["eldercare_stations"], area=area)
    network = None
    fallback = None
    tr_kw = {
        "time_limit_min": scn.travel.time_limit_min,
        "speed_kmh": scn.travel.speed_kmh,
        "detour_factor": scn.travel.detour_factor,
    }
    if scn.travel.mode == "network":
        network = read_network(scn.resolve(scn.travel.network_file), area=area)
        travel = network_travel(cells, station_sites, network, max_snap_m=scn.travel.max_snap_m, **tr_kw)
        fallback = travel.fallback
    else:
        travel = straight_line(cells, station_sites, **tr_kw)
    notes += travel.notes
    t["travel"] = time.perf_counter() - t1
    results: dict[str, fam.FamilyResult] = {}
    isos: dict[str, gpd.GeoDataFrame] = {}
    kw_resolve = lambda name: resolve_district(areas.districts, name)  # noqa: E731
    if F.eldercare_stations.enabled:
        t2 = time.perf_counter()
        ex = existing["eldercare_stations"]
        ex_sites = station_sites[station_sites["existing"]] if ex is not None else None
        results["eldercare_stations"] = fam.eldercare_stations(
            demand, travel, station_sites, ex_sites, F.eldercare_stations, scn.solver, kw_resolve
        )
        chosen = list(results["eldercare_stations"].sites["site_id"])
        isos["eldercare_stations"] = isochrones(travel, station_sites, chosen, network=network)
        t["eldercare_stations"] = time.perf_counter() - t2
    if F.care_centres.enabled:
        t2 = time.perf_counter()
        results["care_centres"] = fam.care_centres(demand, travel, cand, areas.units, F.care_centres)
        t["care_centres"] = time.perf_counter() - t2
    if F.psych_points.enabled:
        t2 = time.perf_counter()
        comm = demand.communities
        if comm is None or not len(comm):
            notes.append("psychological-service points: no community with a known location in the area; skipped")
        else:
            spec = F.psych_points
            kw = dict(tr_kw)
            if spec.time_limit_min is not None:
                kw["time_limit_min"] = spec.time_limit_min
            comm_pts = comm.rename(columns={"community_code": "demand_id"})
            if network is not None:
                tc = network_travel(
                    comm_pts, cand, network, demand_id="demand_id", max_snap_m=scn.travel.max_snap_m, **kw
                )
                tcells = network_travel(cells, cand, network, max_snap_m=scn.travel.max_snap_m, **kw)
            else:
                tc = straight_line(comm_pts, cand, demand_id="demand_id", **kw)
                tcells = straight_line(cells, cand, **kw)
            results["psych_points"] = fam.psych_points(demand, tc, tcells, cand, spec, scn.solver)
        t["psych_points"] = time.perf_counter() - t2
    if F.cemeteries.enabled:
        t2 = time.perf_counter()
        spec = F.cemeteries
        all_cand = candidates_from_demand(demand.cells)
        dense = dense_housing(demand.cells, min_density_per_km2=spec.dense_density_per_km2)
        ok, _ = exclude(all_cand, dense, min_distance_m=spec.min_distance_from_dense_m, reason="dense housing")
        results["cemeteries"] = fam.cemeteries(demand, travel, ok, all_cand, spec)
        t["cemeteries"] = time.perf_counter() - t2
    t["total"] = time.perf_counter() - t0
    return Plan(scn, demand, results, existing, scn.travel.mode, isos, fallback, notes, t)


def validate_scenario(path: str | Path) -> Scenario:
    """Load and check a scenario, including that its files exist and its district is known; all problems at once."""
    from .scenario import read_yaml

    problems: list[str] = []
    scn = None
    try:
        scn = load_scenario(path)
    except ScenarioError as exc:
        problems += exc.problems
    raw = {}
    try:
        raw = read_yaml(path) or {}
    except ScenarioError:
        pass  # already reported by load_scenario
    district = raw.get("district") if isinstance(raw, dict) else None
    if isinstance(district, str) and district:
        try:
            resolve_district(load_beijing().districts, district)
        except ValidationError as exc:
            problems += [f"{path}: `district`: {p}" for p in exc.problems]
    if scn is not None:
        files = [("travel.network_file", scn.travel.network_file)] + [
            (f"families.{k}.existing.file", getattr(scn.families, k).existing.file)
            for k in ("eldercare_stations", "care_centres", "psych_points", "cemeteries")
        ]
        for key, f in files:
            if f and not scn.resolve(f).exists():
                problems.append(
                    f"{path}: `{key}`: file not found: {scn.resolve(f)}; fix the path (relative to the scenario file)."
                )
    if problems:
        raise ScenarioError(str(path), problems)
    return scn


__all__ = ["run_scenario", "validate_scenario"]
