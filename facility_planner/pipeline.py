"""``run_scenario``: the only place that chains the stages (demand → sites → travel → models → plan)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import settings
from ._errors import FacilityPlannerError, ScenarioError, ValidationError
from ._gate import Gate, working
from ._interrupt import RunStop, deferred_signals
from .areas import resolve_district
from .beijing import load_beijing
from .demand import beijing_demand, beijing_zones
from .families import FamilyResult, PlanContext, plan_family
from .matrices import LabelledMatrix
from .plan import Plan
from .progress import counter, progress, step
from .scenario import FamilySpec, Scenario, load_scenario


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
    dm = scn.demand
    table = scn.resolve(dm.older_share_table)
    zones, _, _ = beijing_zones(
        older_share=dm.older_share, older_share_by_district=dm.older_share_by_district, older_share_table=table
    )
    zones = zones[zones["district_code"].isin(whole)]
    demand = beijing_demand(
        district=part[0] if len(part) == 1 else None,
        cell_size_m=scn.demand.cell_size_m,
        shape=scn.demand.shape,
        older_share=dm.older_share,
        older_share_by_district=dm.older_share_by_district,
        older_share_table=table,
        population_raster=scn.resolve(dm.population_raster),
    )
    demand.params["communities_total"] = int(areas.communities["district_code"].isin(part).sum())
    return PlanContext(scn, areas, demand, zones, whole, part)


@dataclass
class CoverageProblem:
    """One coverage family's problem from a scenario, for curves and what-ifs: matrix, weights, existing sites."""

    coverage: LabelledMatrix
    weights: np.ndarray
    existing: list
    total_weight: float
    label: str
    target_sites: int | None = None
    weight_label: str = "demand"
    notes: list[str] = field(default_factory=list)


def family_problem(scenario: Scenario | str | Path, family: str, *, district: str | None = None) -> CoverageProblem:
    """The coverage matrix, weights and existing sites of one coverage family (``max_cover``/``min_cover``).

    The same demand, candidates, exclusions and travel :func:`run_scenario` would use, without solving.
    """
    from .families import family_problem as problem_of
    from .families import family_travel

    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if family not in scn.families:
        raise ScenarioError(
            "--family", [f"no family {family!r} in {scn.name}; choose one of: {', '.join(scn.families)}."]
        )
    spec = scn.families[family]
    if spec.model not in ("max_cover", "min_cover"):
        raise ScenarioError(
            "--family",
            [f"{family} is planned with {spec.model}, not a coverage model; a curve needs max_cover or min_cover."],
        )
    ctx = plan_context(scn, district=district)
    prob = problem_of(ctx, family, spec)
    cov = family_travel(ctx, family, prob).coverage().cost
    notes = list(prob.notes)
    if spec.equity.rule != "none":
        notes.append(
            f"the curve places sites anywhere in the area, without the scenario's equity rule ({spec.equity.rule} by "
            f"{spec.equity.level}); a plan under the rule is one of these plans, so the bound holds for it too"
        )
    where = ", ".join(ctx.district_name(d) for d in ctx.part_districts) if ctx.is_part else "whole area"
    t = scn.family_travel(family)
    return CoverageProblem(
        coverage=cov,
        weights=prob.weights_for(cov.row_ids),
        existing=[s for s in prob.existing_ids if s in set(cov.col_ids)],
        total_weight=prob.total_weight,
        label=f"{spec.name_zh} {spec.name_en}, {where}: {prob.weight_label} within {t.time_limit_min:g} min",
        target_sites=prob.target_sites() if (spec.count is not None or spec.by_district) else None,
        weight_label=prob.weight_label,
        notes=notes,
    )


def _fingerprint(ctx: PlanContext, key: str, spec: FamilySpec, index: int) -> str:
    """A digest of what decides a family's result; two runs with the same one plan the family the same way.

    It covers the scenario but its families, the family's block and place, the area planned, and the cells of the
    families it must avoid.
    """
    from . import __version__

    scn = ctx.scenario.model_dump(mode="json", exclude={"families", "outputs", "name", "description"})
    avoid = {o: sorted(map(str, ctx.chosen_cells.get(o, ()))) for o in spec.exclude.not_with}
    what = [__version__, scn, str(ctx.scenario.resolve(".")), key, spec.model_dump(mode="json"), index]
    blob = json.dumps([*what, ctx.part_districts, avoid], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:40]


def _plan_family(ctx: PlanContext, key: str, spec: FamilySpec, index: int, cache: Path | None) -> FamilyResult:
    """:func:`plan_family`, or its result from ``cache`` when a run with the same inputs planned it.

    A sweep's runs share this way the families that no override touches.
    """
    if cache is None:
        return plan_family(ctx, key, spec, index)
    path = cache / f"{key}-{_fingerprint(ctx, key, spec, index)}.pickle"
    if path.exists():
        try:
            with path.open("rb") as f:
                res: FamilyResult = pickle.load(f)
            return res
        except Exception:  # an entry that does not load (another version's, a damaged file): plan it again
            pass
    res = plan_family(ctx, key, spec, index)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    with tmp.open("wb") as f:
        pickle.dump(res, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)  # whole or not at all: another process may read it at once
    return res


def _plan_families(
    ctx: PlanContext, fams: list[tuple[str, FamilySpec]], workers: int, cache: Path | None = None
) -> tuple[dict[str, FamilyResult], dict[str, float]]:
    """Every family planned, up to ``workers`` at once; the results in the scenario's order, and each one's seconds.

    Families run in threads: their time is mostly in HiGHS and numpy, which release the GIL, so two families take
    about the longer of the two on two cores. A family whose ``exclude.not_with`` names others (listed before it)
    starts once they are planned, so it sees their sites as when planned one by one. A model that uses its whole time
    limit runs alone (:mod:`facility_planner._gate`). A family that fails stops the others, as does Ctrl-C; the main
    thread returns only when no worker is inside HiGHS.
    """

    def record(key: str, spec: FamilySpec, res: FamilyResult) -> None:
        results[key] = res
        if spec.model != "allocate":
            cells = res.sites.get("cell_id")
            ctx.chosen_cells[key] = set(cells.dropna()) if cells is not None else set()

    results: dict[str, FamilyResult] = {}
    seconds: dict[str, float] = {}
    if workers <= 1 or len(fams) <= 1:
        for i, (key, spec) in enumerate(progress(fams, desc="families", unit="family", label=lambda kv: kv[0])):
            t1 = time.perf_counter()
            record(key, spec, _plan_family(ctx, key, spec, i, cache))
            seconds[key] = time.perf_counter() - t1
        return results, seconds

    done: queue.Queue[tuple[str, FamilyResult | None, BaseException | None, float]] = queue.Queue()

    def work(i: int, key: str, spec: FamilySpec) -> None:
        t1 = time.perf_counter()
        try:
            with working(gate):  # a model that must run alone waits for the others, and they for it (_gate)
                res = _plan_family(ctx, key, spec, i, cache)
            done.put((key, res, None, time.perf_counter() - t1))
        except BaseException as exc:  # re-raised in the main thread
            done.put((key, None, exc, time.perf_counter() - t1))

    stop, gate = RunStop(), Gate()
    specs = dict(fams)
    # the families each must avoid that this run plans (a family not planned has no sites to avoid)
    after = {key: [o for o in spec.exclude.not_with if o in specs] for key, spec in fams}
    pending = [(i, key, spec) for i, (key, spec) in enumerate(fams)]
    running: list[str] = []
    try:
        with counter(len(fams), desc="families", unit="family") as bar:
            while pending or running:
                for item in list(pending):  # in the file's order, each once the families it must avoid are planned
                    if len(running) >= workers:
                        break
                    if all(o in results for o in after[item[1]]):
                        pending.remove(item)
                        running.append(item[1])
                        stop.start(work, *item, name=f"family-{item[1]}")
                if not running:  # cannot happen: validation orders `not_with` before its family; never hang on it
                    raise ScenarioError(
                        "families", [f"cannot order {', '.join(i[1] for i in pending)} (exclude.not_with)"]
                    )
                bar.set_postfix_str(", ".join(running), refresh=True)
                try:
                    key, res, exc, secs = done.get(timeout=0.05)  # short waits: the main thread keeps taking signals
                except queue.Empty:
                    continue
                running.remove(key)
                if exc is not None:
                    raise exc
                assert res is not None
                record(key, specs[key], res)
                seconds[key] = secs
                bar.update(1)
    except BaseException:
        stop.set()
        with deferred_signals():
            stop.wait_idle(10.0)  # a process must not exit while a worker is inside HiGHS
        raise
    return {key: results[key] for key, _spec in fams}, seconds


def run_scenario(
    scenario: Scenario | str | Path,
    *,
    district: str | None = None,
    workers: int | None = None,
    family_cache: str | Path | None = None,
) -> Plan:
    """Run a scenario and return the :class:`~facility_planner.plan.Plan`.

    Parameters
    ----------
    scenario
        A :class:`~facility_planner.scenario.Scenario` or the path of a scenario YAML file.
    district
        Plan one district's part of the scenario's area: counts are the district's part of the scenario's
        targets (the same part the whole run gives it), shares and per-unit targets stay as they are.
    workers
        Families planned at once (threads); :data:`facility_planner.settings.family_workers` by default. Plans are
        the same either way, except where a model stops at its time limit: then it had the core to share.
    family_cache
        A folder where each family's result is kept under a fingerprint of what decides it (the scenario but its
        other families, the family's block, the area, the cells it must avoid); a run that finds its family there
        takes it instead of planning it again. The sweep gives its runs one, so a family no override touches is
        planned once per sweep, not once per run.

    Returns
    -------
    Plan
        Every family's sites, coverage and KPIs; write it with the plan's writers or the CLI's ``run``.
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
    fams = list(scn.enabled_families().items())
    n_workers = settings.family_workers if workers is None else workers
    cache = Path(family_cache) if family_cache is not None else None
    results, seconds = _plan_families(ctx, fams, max(1, int(n_workers)), cache)
    t.update(seconds)
    no_existing = [
        spec.name_en.lower() for _key, spec in fams if spec.existing.file is None and spec.model not in ("allocate",)
    ]
    if no_existing:
        notes.append(
            f"no existing sites given for {', '.join(no_existing)}: every site in the plan is new. No open dataset "
            "of existing facilities is bundled; give yours under the family's `existing.file` to keep them."
        )
    t["total"] = time.perf_counter() - t0
    return Plan(scn, ctx.demand, results, ctx.part_districts, notes, t)


def validate_scenario(path: str | Path) -> Scenario:
    """Load and check a scenario, including that its files exist and its district is known; all problems at once.

    Parameters
    ----------
    path
        The scenario YAML file.

    Returns
    -------
    Scenario
        The validated scenario.

    Raises
    ------
    ScenarioError
        Every problem of the file, its referenced files and its district, in one error.
    """
    from .scenario import read_yaml

    problems: list[str] = []
    scn = None
    try:
        scn = load_scenario(path)
    except ScenarioError as exc:
        problems += exc.problems
    raw: object = {}
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
        for k, fam in scn.families.items():
            files += [
                (f"families.{k}.existing.file", fam.existing.file),
                (f"families.{k}.locked.file", fam.locked.file),
                (f"families.{k}.candidates.file.file", fam.candidates.file.file),
                (f"families.{k}.exclude.file", fam.exclude.file),
                (f"families.{k}.travel.network_file", fam.travel.network_file),
            ]
        files += [
            ("demand.older_share_table", scn.demand.older_share_table),
            ("demand.population_raster", scn.demand.population_raster),
        ]
        missing = set()
        for key, f in files:
            if f and not scn.resolve(f).exists():
                missing.add(key)
                problems.append(
                    f"{path}: `{key}`: file not found: {scn.resolve(f)}; fix the path (relative to the scenario file)."
                )
        problems += _read_named_files(scn, path, missing)
        problems += _named_districts(scn, path)
        try:  # a cell size the machine cannot hold, refused before any work
            from ._guards import check_cell_count

            d = load_beijing().districts
            if scn.district and scn.district in set(d["district_code"]) | set(d["name_pinyin"]) | set(d["name_zh"]):
                d = d[d["district_code"] == resolve_district(d, scn.district)]
            check_cell_count(
                float(d.to_crs("EPSG:32650").area.sum()) / 1e6, scn.demand.cell_size_m, shape=scn.demand.shape
            )
        except FacilityPlannerError as exc:
            problems += [f"{path}: `demand.cell_size_m`: {p}" for p in (getattr(exc, "problems", None) or [str(exc)])]
    if problems or scn is None:  # scn is None only when loading failed, which reported its problems
        raise ScenarioError(str(path), problems or ["the scenario could not be loaded; check the file."])
    return scn


def _named_districts(scn: Scenario, path) -> list[str]:
    """The districts a scenario names, checked against the area's, as `run` would refuse them.

    Those of every family block (``by_district``, ``beds_by_district``, ``within.districts``) and the demand's
    ``older_share_by_district``.
    """
    d = load_beijing().districts
    names = [("demand.older_share_by_district", n) for n in scn.demand.older_share_by_district]
    for k, fam in scn.families.items():
        names += [(f"families.{k}.by_district", n) for n in fam.by_district]
        names += [(f"families.{k}.beds_by_district", n) for n in fam.beds_by_district]
        names += [(f"families.{k}.within.districts", n) for n in fam.within.districts]
    problems = []
    for key, name in names:
        try:
            resolve_district(d, str(name))
        except ValidationError as exc:
            problems += [f"{path}: `{key}`: {p}" for p in exc.problems]
    return problems


def _read_named_files(scn: Scenario, path, skip: set[str]) -> list[str]:
    """Read every file the scenario names, as `run` would, and return what it would refuse."""
    from .io import read_points, read_vector
    from .network import read_network
    from .population import read_older_shares

    problems: list[str] = []

    def attempt(key: str, func) -> None:
        if key in skip:
            return
        try:
            func()
        except FacilityPlannerError as exc:
            lines = getattr(exc, "problems", None) or [str(exc)]
            problems.extend(f"{path}: `{key}`: {p}" for p in lines)

    areas = None
    for k, f in scn.families.items():
        for which, ps in (("existing", f.existing), ("locked", f.locked), ("candidates.file", f.candidates.file)):
            if ps.file:
                kw = {
                    "coord_system": ps.coord_system, "encoding": ps.encoding, "id_column": ps.id_column,
                    "name_column": ps.name_column, "lon_column": ps.lon_column, "lat_column": ps.lat_column,
                    "sheet": ps.sheet,
                }  # fmt: skip
                attempt(f"families.{k}.{which}.file", lambda ps=ps, kw=kw: read_points(scn.resolve(ps.file), **kw))
        if f.exclude.file:
            attempt(f"families.{k}.exclude.file", lambda f=f: read_vector(scn.resolve(f.exclude.file)))
    nets = {scn.travel.network_file} | {f.travel.network_file for f in scn.families.values()}
    for nf in sorted(n for n in nets if n):
        attempt("travel.network_file", lambda nf=nf: read_network(scn.resolve(nf)))
    if scn.demand.older_share_table:
        areas = areas or load_beijing()
        attempt(
            "demand.older_share_table",
            lambda: read_older_shares(scn.resolve(scn.demand.older_share_table), areas.districts),
        )
    return problems


__all__ = ["CoverageProblem", "family_problem", "plan_context", "run_scenario", "validate_scenario"]
