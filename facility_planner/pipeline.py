"""``run_scenario``: the only place that chains the stages (demand → sites → travel → models → plan)."""

from __future__ import annotations

import time
from pathlib import Path

from ._errors import ScenarioError, ValidationError
from .areas import load_beijing, resolve_district
from .demand import beijing_demand, beijing_zones
from .families import FamilyResult, PlanContext, plan_family
from .plan import Plan
from .progress import progress, step
from .scenario import Scenario, load_scenario


def _area_districts(areas, scn: Scenario, district: str | None) -> tuple[list[str], list[str]]:
    """District codes of the scenario's whole area (its targets' area) and of the part this run plans."""
    whole = list(areas.districts["district_code"])
    name = district if district is not None else scn.district
    if name is None:
        return whole, whole
    return whole, [resolve_district(areas.districts, name)]


def plan_context(scenario: Scenario | str | Path, *, district: str | None = None) -> PlanContext:
    """Load the area, its demand layer and the citywide figures the families' targets are split by."""
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    areas = load_beijing()
    whole, part = _area_districts(areas, scn, district)
    zones, _, _ = beijing_zones(
        older_share=scn.demand.older_share, older_share_by_district=scn.demand.older_share_by_district
    )
    zones = zones[zones["district_code"].isin(whole)]
    demand = beijing_demand(
        district=part[0] if len(part) == 1 else None,
        cell_size_m=scn.demand.cell_size_m,
        shape=scn.demand.shape,
        older_share=scn.demand.older_share,
        older_share_by_district=scn.demand.older_share_by_district,
    )
    demand.params["communities_total"] = int(areas.communities["district_code"].isin(part).sum())
    return PlanContext(scn, areas, demand, zones, whole, part)


def run_scenario(scenario: Scenario | str | Path, *, district: str | None = None) -> Plan:
    """Run a scenario and return the :class:`~facility_planner.plan.Plan`.

    Parameters
    ----------
    scenario
        A :class:`~facility_planner.scenario.Scenario` or the path of a scenario YAML file.
    district
        Plan one district's part of the scenario's area: counts are the district's part of the scenario's
        targets (the same part the whole run gives it), shares and per-unit targets stay as they are.
    """
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    with step("demand"):
        ctx = plan_context(scn, district=district)
    t["demand"] = time.perf_counter() - t0
    notes = list(ctx.demand.notes)
    if ctx.is_part:
        notes.append(
            f"this plan covers {', '.join(map(ctx.district_name, ctx.part_districts))}, part of the scenario's area: "
            "every count below is this part's share of the scenario's target (how it was split is in each family)"
        )
    results: dict[str, FamilyResult] = {}
    no_existing = []
    fams = list(scn.enabled_families().items())
    for i, (key, spec) in enumerate(progress(fams, desc="families", unit="family", label=lambda kv: kv[0])):
        t1 = time.perf_counter()
        results[key] = plan_family(ctx, key, spec, i)
        if spec.model != "allocate":
            cells = results[key].sites.get("cell_id")
            ctx.chosen_cells[key] = set(cells.dropna()) if cells is not None else set()
        if spec.existing.file is None and spec.model not in ("allocate",):
            no_existing.append(spec.name_en.lower())
        t[key] = time.perf_counter() - t1
    if no_existing:
        notes.append(
            f"no existing sites given for {', '.join(no_existing)}: every site in the plan is new. No open dataset "
            "of existing facilities is bundled; give yours under the family's `existing.file` to keep them."
        )
    t["total"] = time.perf_counter() - t0
    return Plan(scn, ctx.demand, results, ctx.part_districts, notes, t)


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
        files = [("travel.network_file", scn.travel.network_file)]
        for k, f in scn.families.items():
            files += [
                (f"families.{k}.existing.file", f.existing.file),
                (f"families.{k}.locked.file", f.locked.file),
                (f"families.{k}.candidates.file.file", f.candidates.file.file),
                (f"families.{k}.exclude.file", f.exclude.file),
                (f"families.{k}.travel.network_file", f.travel.network_file),
            ]
        for key, f in files:
            if f and not scn.resolve(f).exists():
                problems.append(
                    f"{path}: `{key}`: file not found: {scn.resolve(f)}; fix the path (relative to the scenario file)."
                )
    if problems:
        raise ScenarioError(str(path), problems)
    return scn


__all__ = ["plan_context", "run_scenario", "validate_scenario"]
