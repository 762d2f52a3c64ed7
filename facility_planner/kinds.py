"""Model kinds: how a facility family's sites are chosen. A new kind is one function and one line here.

Each kind takes a :class:`~facility_planner.families.FamilyProblem` (tables keyed by ids, no geometry), a
:class:`~facility_planner.travel.FamilyTravel` that hands out labelled travel matrices, and the solver settings, and
returns an :class:`Outcome`: the open sites, who is covered or assigned, and the KPI against the family's target.
Kinds never see geometry and never compute a distance; the travel layer does.

============== =====================================================================================================
kind           what it does
============== =====================================================================================================
``max_cover``  open ``count`` sites in the area (existing kept) to cover the most demand within the time limit;
               equity rules: district/township quotas, a minimum covered share per district/township
``min_cover``  the fewest sites covering ``share`` of the demand (partial set covering); ``max_new`` is reported
``per_unit``   ``per_unit`` sites in every unit (township, rural township or district), each at the least total
               travel for the unit's demand (a 1-median by enumeration, a p-median above 1)
``p_median``   ``count`` sites in the area, split among districts by demand, each district a p-median
``capacitated`` ``per_unit`` sites per unit holding the unit's beds; demand in beds assigned within capacity
               (capacitated p-median); reports the share of bed demand within the time limit
``allocate``   ``count`` beds allocated to demand points (e.g. urban communities) in proportion to their weight
============== =====================================================================================================
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ._errors import InfeasibleModelError, ScenarioError
from ._gate import alone
from .matrices import LabelledMatrix
from .models import SideConstraints, Solution, max_cover, p_median, partial_cover
from .population import largest_remainder
from .progress import progress

if TYPE_CHECKING:
    from .families import FamilyProblem
    from .scenario import FamilySpec, SolverSpec
    from .travel import FamilyTravel


@dataclass
class KPI:
    """One family's result against its target: what every table, map legend, report and comparison reads.

    Attributes
    ----------
    target, achieved
        The target and what the plan achieves, in ``unit``.
    met
        Whether the target is met; ``None`` where the target does not apply (e.g. no rural township in the area).
    unit
        What ``target`` and ``achieved`` count (``"sites"``, ``"share of communities"``, ``"beds"``...).
    gap
        The proven relative optimality gap of the whole problem the family asked (``None`` if no bound is known).
    gap_requested
        The gap the scenario asked for; ``gap_exceeded`` is True when ``gap`` ends above it.
    measured_on
        When the target is measured on part of the demand (e.g. communities with a known location), what part.
    notes
        Why a target is unmet, how a part of a city target was derived, what was assumed.
    figures
        Further numbers of the family (covered people, mean travel minutes...), plain JSON values.
    """

    target: float | None
    achieved: float | None
    met: bool | None
    unit: str
    gap: float | None = None
    gap_requested: float | None = None
    measured_on: str | None = None
    target_basis: str = ""
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def gap_exceeded(self) -> bool:
        """True when the proven gap is above the gap asked for: the plan is the best found, not proven optimal."""
        return self.gap is not None and self.gap_requested is not None and self.gap > self.gap_requested + 1e-9

    @property
    def met_text(self) -> str:
        """``yes``/``no``/``n/a``, qualified when measured on part of the demand or when the gap is above the ask."""
        base = {True: "yes", False: "no", None: "n/a"}[self.met]
        if self.measured_on and self.met is not None:
            base += f" (on {self.measured_on})"
        if self.met is False and self.why_not:
            base += f" ({self.why_not})"
        return base

    @property
    def why_not(self) -> str:
        """Why the target is not met, in a few words, when a rule beyond the count decides it (else empty)."""
        rule = self.figures.get("equity_rule") or {}
        if rule.get("met") is not False:
            return ""
        if rule.get("min_share") is not None:
            got = self.figures.get("lowest_group_share", self.figures.get("covered_share"))
            return f"{rule.get('level', 'district')} minimum {rule['min_share']:.0%} not reached" + (
                f": {got:.1%}" if got is not None else ""
            )
        return f"the {rule.get('level', 'district')} {rule.get('rule', '')} rule cannot be met"

    def as_dict(self) -> dict[str, Any]:
        """A plain dict for JSON."""
        return {
            "target": self.target,
            "achieved": self.achieved,
            "met": self.met,
            "met_text": self.met_text,
            "why_not": self.why_not,
            "unit": self.unit,
            "gap": self.gap,
            "gap_requested": self.gap_requested,
            "gap_exceeded": self.gap_exceeded,
            "measured_on": self.measured_on,
            "target_basis": self.target_basis,
            **self.figures,
        }


@dataclass
class Outcome:
    """What a kind returns; :func:`facility_planner.families.plan_family` turns it into a ``FamilyResult``."""

    chosen: list[Any]
    kpi: KPI
    covered: pd.Series | None = None  # demand id → within reach of an open site
    assigned: pd.Series | None = None  # demand id → serving site id (assignment kinds)
    site_values: pd.DataFrame | None = None  # indexed by site id: served, beds, mean_minutes...
    unit_table: pd.DataFrame | None = None
    solutions: list[Solution] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the plan is exact without a MILP (enumeration, allocation): gap 0
    exact: bool = False
    #: how the plan was assembled when it is not one model of the whole problem
    assembled: str | None = None
    #: covered demand uses the coverage matrix (coverage kinds): maps draw reach circles
    coverage_kind: bool = False


Kind = Callable[["FamilyProblem", "FamilyTravel", "SolverSpec"], Outcome]

#: model kinds by name: the scenario's ``model:`` key picks one
KINDS: dict[str, Kind] = {}
#: what a kind needs in its block; ``check_spec`` reports what is missing
_NEEDS: dict[str, Callable[[FamilySpec], list[str]]] = {}


def kind(name: str, needs: Callable[[FamilySpec], list[str]] = lambda s: []) -> Callable[[Kind], Kind]:
    """Register a model kind under ``name`` (a decorator)."""

    def deco(func: Kind) -> Kind:
        KINDS[name] = func
        _NEEDS[name] = needs
        return func

    return deco


def check_spec(spec: FamilySpec) -> list[str]:
    """Problems with a family block for its model kind (unknown kind, missing target, keys that do not apply)."""
    if spec.model not in KINDS:
        return [f"model {spec.model!r} is not a model kind; use one of: {', '.join(sorted(KINDS))}"]
    return _NEEDS[spec.model](spec)


def _solver_kw(solver: SolverSpec) -> dict[str, Any]:
    return {"solver": solver.name, "time_limit_s": solver.time_limit_s, "mip_rel_gap": solver.mip_rel_gap}


def _worst_gap(sols: list[Solution]) -> float | None:
    gaps = [s.gap for s in sols if s is not None and s.gap is not None]
    return max(gaps) if gaps else None


def _is_open(cov: LabelledMatrix, chosen: Iterable[Any]) -> npt.NDArray[np.bool_]:
    """Whether each column's site is among ``chosen``.

    Hashed: ``np.isin`` on string ids compares every pair (11.6 s of the citywide plan, under a profiler).
    """
    return np.asarray(pd.Index(cov.col_ids).isin(list(chosen)))


def covered_rows(cov: LabelledMatrix, chosen: Iterable[Any]) -> npt.NDArray[np.bool_]:
    """Rows reached by an open site. Uses the stored pattern, so a site at 0 minutes counts (``!= 0`` would not)."""
    open_mask = _is_open(cov, chosen)
    coo = cov.matrix.tocoo()
    hit = open_mask[coo.col]
    out = np.zeros(cov.shape[0], dtype=bool)
    out[coo.row[hit]] = True
    return out


def _served_by_site(cov: LabelledMatrix, w: npt.NDArray[np.float64], chosen: Iterable[Any]) -> pd.Series:
    """Demand weight within reach of each open site, each demand row counted once (at its nearest open site)."""
    open_mask = _is_open(cov, chosen)
    coo = cov.matrix.tocoo()
    keep = open_mask[coo.col]
    r, c, t = coo.row[keep], coo.col[keep], coo.data[keep]
    if not len(r):
        return pd.Series(0.0, index=pd.Index(list(chosen), name="site_id"))
    order = np.lexsort((t, r))
    r, c = r[order], c[order]
    first = np.r_[True, r[1:] != r[:-1]]
    served = np.bincount(c[first], weights=w[r[first]], minlength=cov.shape[1])
    s = pd.Series(served, index=cov.col_ids)
    return s.reindex(list(chosen)).fillna(0.0)


# --------------------------------------------------------------------------------------------- coverage kinds


#: coverage pairs above which max_cover bounds with the Lagrangian (greedy, swaps, exact windows) rather than the MIP
LARGE_COVERAGE = 100_000


def _needs_count(spec: FamilySpec) -> list[str]:
    p = []
    if spec.count is None and not spec.by_district:
        p.append(f"model {spec.model} needs `count` (sites in the whole area) or a `by_district` table")
    if spec.equity.rule == "min_share" and spec.equity.min_share is None:
        p.append("equity.rule min_share needs equity.min_share (e.g. 0.3)")
    return p


def _needs_share(spec: FamilySpec) -> list[str]:
    p = [] if spec.share is not None else ["model min_cover needs `share` (e.g. 0.8 for 80% of the demand)"]
    if spec.equity.rule != "none":
        p.append("model min_cover takes no equity rule; use max_cover with a count for quotas or minimum shares")
    return p


@kind("max_cover", _needs_count)
def plan_max_cover(prob: FamilyProblem, travel: FamilyTravel, solver: SolverSpec) -> Outcome:
    """Open the family's part of ``count`` (existing included) to cover the most demand within the time limit.

    Equity rules: ``quota`` (at most each district's or township's part of the count there, one model of the whole
    area), ``min_share`` (every district or township at least that share of its own demand covered). A rule is
    priced: the same model without it is solved too, and the proven interval of what the rule costs is stated.
    """
    from .models.equity import price_rule

    spec = prob.spec
    target = prob.target_sites()
    if target == 0 or len(prob.demand) == 0 or len(prob.sites) == 0:
        return _nothing_to_plan(prob, travel, solver, target, "sites")
    cov = travel.coverage().cost
    w = prob.weights_for(cov.row_ids)
    ex = [s for s in prob.existing_ids if s in set(cov.col_ids)]
    p_new = max(0, target - len(ex))
    allowed = cov.shape[1] - len(ex) - len(prob.forbidden_ids)
    notes: list[str] = []
    if p_new > allowed:
        notes.append(f"only {allowed} candidate sites for {p_new} new sites: all are opened")
        p_new = max(0, allowed)
    rule = spec.equity
    unmet_rule = False
    one_group_min = None
    if rule.rule != "none" and rule.level == "district" and len(prob.part_districts) == 1:
        # one district planned: its quota is the part being planned, and a minimum share of its own coverage changes
        # nothing the maximum cover would not do anyway; it is checked on the plan below instead of priced
        one_group_min = rule.min_share if rule.rule == "min_share" else None
        rule = rule.model_copy(update={"rule": "none"})
    base = SideConstraints(required=ex, forbidden=list(prob.forbidden_ids))
    level_col = "district_code" if rule.level == "district" else "township_code"
    kw: dict[str, Any] = {"existing": (), "solver": solver.name, "mip_rel_gap": solver.mip_rel_gap}
    if spec.capacity is not None:
        kw["capacity"] = spec.capacity
    elif rule.rule != "quota" and cov.matrix.nnz > LARGE_COVERAGE:
        # measured: the rural mutual-aid points (58k × 60k, 310k pairs) end at 2.4% in 30 s this way, at 150%
        # with the MIP in 60 s (its LP bound is weak and its root LP slow)
        kw["method"] = "lagrangian"
    # a large model uses its whole time limit, so it runs with no other family at work: its plan and bound are what it
    # did in that time (families planned at once: facility_planner._gate)
    price = None
    with alone() if cov.matrix.nnz > LARGE_COVERAGE else contextlib.nullcontext():
        if rule.rule == "none":
            sol = max_cover(cov, w, p_new, side=base, time_limit_s=solver.time_limit_s, **kw)
        else:
            if rule.rule == "quota":
                quotas = prob.quotas(rule.level)
                site_units = prob.site_attr(level_col, cov.col_ids)
                ruled: dict[str, Any] = {
                    "side": SideConstraints(
                        site_units=pd.Series(site_units, index=cov.col_ids),
                        max_per_unit=quotas.to_dict(),
                        units=list(quotas.index),
                        required=ex,
                        forbidden=list(prob.forbidden_ids),
                    )
                }
                p_new = min(p_new, int(quotas.sum()) - len(ex))
                name = f"quotas by {rule.level} (each its part of the count, split by {prob.weight_label})"
            else:
                ruled = {
                    "side": base,
                    "groups": pd.Series(prob.demand_attr(level_col, cov.row_ids), index=cov.row_ids),
                    "min_group_share": rule.min_share,
                }
                name = f"the {rule.level} minimum of {rule.min_share:.0%} covered"
            # a third of the time for the plan without the rule, the rest for the plan asked for
            free = max_cover(cov, w, p_new, side=base, time_limit_s=solver.time_limit_s / 3, **kw)
            try:
                price = price_rule(
                    cov, w, p_new, rule=ruled, name=name, free=free, time_limit_s=solver.time_limit_s * 2 / 3, **kw
                )
            except InfeasibleModelError as exc:
                # the rule cannot hold with this many sites: plan without it and say why, never stop the run
                sol = free
                reasons = "; ".join(exc.reasons[:5]) + (
                    f" and {len(exc.reasons) - 5} more" if len(exc.reasons) > 5 else ""
                )
                notes.append(
                    f"{name} cannot be met with {p_new} new site(s) ({reasons}); the plan is the best one without the "
                    "rule, and the rule is reported as not met"
                )
                unmet_rule = True
            else:
                sol = price.ruled
                notes.append(price.describe())
    chosen = list(sol.selected)
    covered = pd.Series(covered_rows(cov, chosen), index=cov.row_ids)
    cw = float(w[covered.to_numpy()].sum())
    tot = prob.total_weight
    if one_group_min is not None and tot and cw / tot + 1e-12 < one_group_min:
        unmet_rule = True
        notes.append(
            f"the district minimum of {one_group_min:.0%} is not reached: {cw / tot:.1%} of {prob.weight_label} "
            f"within reach with {p_new} new site(s)"
        )
    figures: dict[str, Any] = {
        "sites_target": target,
        "covered_demand": cw,
        "total_demand": tot,
        "covered_share": cw / tot if tot else None,
        "coverage_basis": f"{prob.weight_label} within {travel.spec.time_limit_min:g} min ({travel.describe()})",
    }
    if rule.rule != "none":
        figures["equity_rule"] = {
            "rule": rule.rule, "level": rule.level, "min_share": rule.min_share, "met": not unmet_rule
        }  # fmt: skip
    elif one_group_min is not None:  # one district planned: its own minimum, checked on the plan
        figures["equity_rule"] = {"rule": "min_share", "level": "district", "min_share": one_group_min,
                                  "met": not unmet_rule}  # fmt: skip
    if price is not None:
        figures["equity_price"] = price.summary()
    if "group_coverage" in sol.extra:
        gc = pd.DataFrame(sol.extra["group_coverage"])
        figures["lowest_group_share"] = float(gc["covered_share"].min()) if len(gc) else None
    if "served_weight" in sol.extra:
        figures["within_reach_demand"] = float(sol.extra.get("within_reach_weight", cw))
        figures["served_demand"] = float(sol.extra["served_weight"])
        figures["served_share"] = float(sol.extra["served_weight"]) / tot if tot else None
        figures["capacity_per_site"] = spec.capacity
    kpi = KPI(
        target=float(target),
        achieved=float(len(chosen)),
        met=len(chosen) >= target and not unmet_rule,
        unit="sites",
        gap=sol.gap,
        gap_requested=solver.mip_rel_gap,
        target_basis=prob.target_basis,
        figures=figures,
    )
    site_values = pd.DataFrame({"served": _served_by_site(cov, w, chosen)})
    return Outcome(chosen, kpi, covered, None, site_values, None, [sol], notes + sol.notes, coverage_kind=True)


def _nothing_to_plan(
    prob: FamilyProblem, travel: FamilyTravel, solver: SolverSpec, target: float | None, unit: str
) -> Outcome:
    """A family with no demand, no candidate site or a zero target in this area: no model, and the reason."""
    if len(prob.demand) == 0:
        why = f"no {prob.weight_label} in the area planned"
    elif len(prob.sites) == 0:
        why = "no candidate site in the area planned"
    else:
        why = "this area's part of the target is 0"
    met = None if len(prob.demand) == 0 or target == 0 else False
    kpi = KPI(
        target=None if target is None else float(target),
        achieved=0.0,
        met=met,
        unit=unit,
        gap=None,
        gap_requested=solver.mip_rel_gap,
        target_basis=prob.target_basis,
        figures={"total_demand": prob.total_weight, "covered_share": None},
    )
    empty = pd.Series(False, index=prob.demand["demand_id"].to_numpy())
    return Outcome([], kpi, empty, notes=[f"nothing planned: {why}"], exact=True, coverage_kind=True)


@kind("min_cover", _needs_share)
def plan_min_cover(prob: FamilyProblem, travel: FamilyTravel, solver: SolverSpec) -> Outcome:
    """The fewest new sites (existing kept) covering ``share`` of the family's demand within the time limit."""
    spec = prob.spec
    target_share = spec.share
    if target_share is None:  # check_spec refuses such a block before any kind runs (_needs_share)
        raise ScenarioError(f"families.{prob.key}", ["model min_cover needs `share` (e.g. 0.8 for 80% of the demand)"])
    if len(prob.demand) == 0 or len(prob.sites) == 0:
        return _nothing_to_plan(prob, travel, solver, target_share, f"share of {prob.weight_label} within reach")
    cov = travel.coverage().cost
    w = prob.weights_for(cov.row_ids)
    ex = [s for s in prob.existing_ids if s in set(cov.col_ids)]
    notes: list[str] = []
    # the share is of all the family's demand, reachable or not: scale to the rows the matrix holds
    in_matrix = float(w.sum())
    need = target_share * prob.total_weight
    side = SideConstraints(required=ex, forbidden=list(prob.forbidden_ids))
    try:
        if need > in_matrix + 1e-9:
            raise InfeasibleModelError(
                f"{target_share:.0%} of the demand cannot be reached: only {in_matrix / prob.total_weight:.1%} "
                "lies within reach of any candidate site"
            )
        sol = partial_cover(cov, w, min(1.0, need / in_matrix) if in_matrix else 1.0, side=side, **_solver_kw(solver))
    except InfeasibleModelError as exc:
        notes.append(str(exc).splitlines()[0])
        p = spec.max_new if spec.max_new is not None else cov.shape[1]
        sol = max_cover(cov, w, min(p, cov.shape[1] - len(ex)), side=side, **_solver_kw(solver))
        notes.append(f"covered as much as possible with {p} new sites instead")
    chosen = list(sol.selected)
    covered = pd.Series(covered_rows(cov, chosen), index=cov.row_ids)
    cw = float(w[covered.to_numpy()].sum())
    share = cw / prob.total_weight if prob.total_weight else 0.0
    n_new = len([s for s in chosen if s not in set(ex)])
    figures: dict[str, Any] = {
        "covered_demand": cw,
        "total_demand": prob.total_weight,
        "covered_share": share,
        "sites_new_needed": n_new,
        "coverage_basis": f"{prob.weight_label} within {travel.spec.time_limit_min:g} min ({travel.describe()})",
    }
    if spec.max_new is not None:
        figures["new_sites_limit"] = spec.max_new
        figures["limit_met"] = n_new <= spec.max_new
        if n_new > spec.max_new:
            notes.append(f"{n_new} new sites are needed for {target_share:.0%}, more than the {spec.max_new} planned")
    kpi = KPI(
        target=float(target_share),
        achieved=share,
        met=share + 1e-12 >= target_share,
        unit=f"share of {prob.weight_label} within reach",
        gap=sol.gap,
        gap_requested=solver.mip_rel_gap,
        measured_on=prob.measured_on,
        target_basis=f"{target_share:.0%} of {prob.weight_label}",
        figures=figures,
    )
    site_values = pd.DataFrame({"served": _served_by_site(cov, w, chosen)})
    return Outcome(chosen, kpi, covered, None, site_values, None, [sol], notes + sol.notes, coverage_kind=True)


# ------------------------------------------------------------------------------------------ assignment kinds


def _needs_per_unit(spec: FamilySpec) -> list[str]:
    p = []
    if spec.equity.rule != "none":
        p.append(f"model {spec.model} places sites unit by unit; it takes no equity rule")
    return p


def _needs_capacitated(spec: FamilySpec) -> list[str]:
    p = _needs_per_unit(spec)
    if spec.beds is None and spec.beds_per_unit is None and not spec.beds_by_district:
        p.append("model capacitated needs beds: `beds` (whole area), `beds_per_unit` or `beds_by_district`")
    return p


def _median_in_unit(
    C: LabelledMatrix, w: npt.NDArray[np.float64], k: int, solver: SolverSpec, cap: float | None = None
) -> tuple[list[Any], pd.Series, npt.NDArray[np.float64], Solution | None]:
    """The ``k`` sites of one unit with the least weighted travel. k = 1 without capacity: exact by enumeration."""
    if cap is None and k == 1:
        dense = np.full(C.shape, np.inf)
        coo = C.matrix.tocoo()
        dense[coo.row, coo.col] = coo.data  # a pair the travel layer left out (beyond a network's reach) is inf
        reach = (np.isfinite(dense) * w[:, None]).sum(axis=0)
        total = np.where(np.isfinite(dense), dense, 0.0).T @ w
        # the most demand reached first, then the least travel: exact over every candidate of the unit
        j = int(np.lexsort((total, -reach))[0])
        site = C.col_ids[j]
        return [site], pd.Series(site, index=C.row_ids), dense[:, j], None
    caps = None if cap is None else np.full(C.shape[1], float(cap))
    sol = p_median(C, w, k, capacities=caps, **_solver_kw(solver))
    a = sol.assignment.set_index("demand_id")
    return list(sol.selected), a["site_id"].reindex(C.row_ids), a["cost"].reindex(C.row_ids).to_numpy(float), sol


def _unit_lines(frame: pd.DataFrame, default: str) -> list[str]:
    """``name_zh (unit): reason`` for each row of a unit table (``default`` where no reason is recorded)."""
    names, units = frame["name_zh"].astype(str), frame["unit"].astype(str)
    return [f"{n} ({u}): {r or default}" for n, u, r in zip(names, units, frame["reason"], strict=True)]


def _plan_by_unit(
    prob: FamilyProblem,
    travel: FamilyTravel,
    solver: SolverSpec,
    *,
    k_of: Callable[[Any], Any],
    beds_of: Callable[[Any], Any] | None = None,
) -> Outcome:
    spec = prob.spec
    units = prob.units()  # DataFrame: unit, name_zh, district_code, has_area (+ reason when not)
    chosen: list[Any] = []
    assigned_parts, minutes_parts, sols, rows, site_rows = [], [], [], [], []
    existing_by_unit = prob.existing_by_unit()
    limit = travel.spec.time_limit_min
    for u in progress(list(units.itertuples()), desc=prob.label, unit="unit"):
        k_total = int(k_of(u))
        ex = existing_by_unit.get(u.unit, [])
        k = max(0, k_total - len(ex))
        row = {"unit": u.unit, "name_zh": u.name_zh, "district_code": u.district_code, "sites_target": k_total}
        beds = None if beds_of is None else int(beds_of(u))
        if beds is not None:
            row["beds_target"] = beds
        if not u.has_area:
            rows.append({**row, "sites": len(ex), "reason": u.reason})
            chosen += ex
            continue
        C = travel.block(prob.unit_column, u.unit)  # one unit's block at a time: memory of the largest unit
        if C is None or C.shape[1] == 0:
            rows.append({**row, "sites": len(ex), "reason": prob.no_site_reason(u.unit)})
            chosen += ex
            continue
        if k == 0 or C.shape[0] == 0:
            rows.append({**row, "sites": len(ex), "reason": "" if k == 0 else "no demand in the unit"})
            chosen += ex
            if k and C.shape[0] == 0:  # no one lives here: any candidate is as good; take the first
                chosen.append(C.col_ids[0])
                rows[-1]["sites"] += 1
            continue
        wu = prob.weights_for(C.row_ids)
        k_here = min(k, C.shape[1])
        cap = None
        if beds is not None and k_here > 0:
            wu = wu * (beds / wu.sum()) if wu.sum() > 0 else wu
            per_site = int(np.ceil(beds / k_here))
            cap = per_site if k_here > 1 else None
        sel, asg, mins, sol = _median_in_unit(C, wu, k_here, solver, cap=cap)
        if sol is not None:
            sols.append(sol)
        chosen += ex + sel
        assigned_parts.append(asg)
        minutes_parts.append(pd.Series(mins, index=C.row_ids))
        wsum = float(wu.sum())
        within = float(wu[mins <= limit].sum())
        row.update(
            sites=len(ex) + len(sel),
            mean_minutes=float(wu @ mins / wsum) if wsum else None,
            within_limit_share=within / wsum if wsum else None,
            reason="" if k_here == k else f"only {C.shape[1]} candidate site(s)",
        )
        if beds is not None:
            row["beds"] = beds
            for s in sel:
                site_rows.append({"site_id": s, "beds": int(np.ceil(beds / k_here)) if k_here > 1 else beds})
        rows.append(row)
    base_cols = ["unit", "name_zh", "district_code", "sites_target", "sites", "reason", "mean_minutes"]
    table = pd.DataFrame(rows)
    table = table.reindex(columns=list(dict.fromkeys([*base_cols, *table.columns])))
    if beds_of is not None:
        table = table.reindex(columns=list(dict.fromkeys([*table.columns, "beds_target", "beds"])))
    assigned = pd.concat(assigned_parts) if assigned_parts else pd.Series(dtype=object)
    minutes = pd.concat(minutes_parts) if minutes_parts else pd.Series(dtype=float)
    served = table["sites"] >= table["sites_target"]
    n_units = len(table)
    w_all = prob.weights_for(minutes.index.to_numpy()) if len(minutes) else np.zeros(0)
    wsum = float(w_all.sum())
    figures: dict[str, Any] = {
        "units": n_units,
        "units_served": int(served.sum()),
        "units_unserved": _unit_lines(table[~served], "target not reached"),
        "mean_minutes": float(w_all @ minutes.to_numpy() / wsum) if wsum else None,
        "within_limit_share": float(w_all[minutes.to_numpy() <= limit].sum() / wsum) if wsum else None,
        "travel_basis": travel.describe(),
    }
    site_values: pd.DataFrame | None = None
    target: float
    achieved: float | None
    met: bool | None
    if beds_of is not None:
        beds_total = int(table["beds_target"].sum())
        placed = int(table.get("beds", pd.Series(dtype=float)).fillna(0).sum())
        figures.update(beds_target=beds_total, beds_placed=placed)
        target, achieved, unit = float(beds_total), float(placed), "beds"
        met = bool(served.all()) and placed >= beds_total
        if site_rows:
            site_values = pd.DataFrame(site_rows).set_index("site_id")
    elif spec.share is not None:
        target, achieved = float(spec.share), (float(served.mean()) if n_units else None)
        unit = f"share of {prob.unit_label} with a site"
        met = None if achieved is None else achieved + 1e-12 >= spec.share
    else:
        target, achieved = float(table["sites_target"].sum()), float(table["sites"].sum())
        unit = f"sites ({prob.unit_label}: {int(k_of(None)) if k_of(None) else 'by district'} each)"
        met = bool(served.all()) if n_units else None
    if n_units == 0:
        met = None
    notes = []
    if figures["within_limit_share"] is not None:
        # the target counts sites; how many people reach one within the family's time is the other half of the story
        notes.append(
            f"{figures['within_limit_share']:.1%} of {prob.weight_label} within {limit:g} min of their site "
            f"({travel.describe()}); mean {figures['mean_minutes']:.1f} min"
        )
    if n_units == 0 and prob.spec.within.districts:
        notes.append(
            f"planned only in {', '.join(map(str, prob.spec.within.districts))} (the block's `within.districts`), "
            "none of them in this plan's area: the target does not apply here"
        )
    elif n_units == 0:
        notes.append(f"no {prob.unit_label} in the area: the target does not apply here")
    unserved = table[~served]
    if len(unserved):
        notes.append(
            f"{len(unserved)} {prob.unit_label} without the target's sites: "
            + "; ".join(_unit_lines(unserved, "too few candidate sites"))
        )
    gap = _worst_gap(sols)
    exact = not sols
    kpi = KPI(
        target=target,
        achieved=achieved,
        met=met,
        unit=unit,
        gap=0.0 if exact else gap,
        gap_requested=solver.mip_rel_gap,
        target_basis=prob.target_basis,
        figures=figures,
    )
    out_sv = site_values
    a_minutes = pd.DataFrame({"site_id": assigned, "minutes": minutes, "w": w_all if len(minutes) else []})
    a_minutes["wm"] = a_minutes["w"] * a_minutes["minutes"]
    by_site = a_minutes.groupby("site_id").agg(served=("w", "sum"), wm=("wm", "sum"))
    # the people's mean time, as the family's own figure is (not the mean over the demand points)
    by_site["mean_minutes"] = (by_site["wm"] / by_site["served"]).where(by_site["served"] > 0)
    by_site = by_site.drop(columns="wm")
    out_sv = by_site if out_sv is None else out_sv.join(by_site, how="outer")
    return Outcome(
        list(dict.fromkeys(chosen)),
        kpi,
        None,
        assigned,
        out_sv,
        table,
        sols,
        notes,
        exact=exact,
        assembled=f"one model per {prob.unit_label[:-1] if prob.unit_label.endswith('s') else prob.unit_label}; "
        "units are independent, so the worst unit gap is the plan's gap",
    )


@kind("per_unit", _needs_per_unit)
def plan_per_unit(prob: FamilyProblem, travel: FamilyTravel, solver: SolverSpec) -> Outcome:
    """``per_unit`` sites (default 1) in every unit, each unit's sites at its demand's least total travel."""
    k = prob.spec.per_unit or 1
    return _plan_by_unit(prob, travel, solver, k_of=lambda u: k)


@kind("p_median", _needs_count)
def plan_p_median(prob: FamilyProblem, travel: FamilyTravel, solver: SolverSpec) -> Outcome:
    """``count`` sites split among districts by demand; each district's sites at the least total travel."""
    parts = prob.district_targets()
    return _plan_by_unit(prob, travel, solver, k_of=lambda u: 0 if u is None else int(parts.get(u.unit, 0)))


@kind("capacitated", _needs_capacitated)
def plan_capacitated(prob: FamilyProblem, travel: FamilyTravel, solver: SolverSpec) -> Outcome:
    """``per_unit`` sites in every unit holding the unit's beds; bed demand assigned within capacity."""
    k = prob.spec.per_unit or 1
    beds = prob.beds_targets()
    return _plan_by_unit(
        prob, travel, solver, k_of=lambda u: k, beds_of=lambda u: int(beds.get(u.unit, 0)) if u is not None else 0
    )


def _needs_allocate(spec: FamilySpec) -> list[str]:
    p = [] if spec.count is not None or spec.by_district else ["model allocate needs `count` (beds or places)"]
    if spec.equity.rule != "none":
        p.append("model allocate takes no equity rule")
    return p


@kind("allocate", _needs_allocate)
def plan_allocate(prob: FamilyProblem, travel: FamilyTravel, solver: SolverSpec) -> Outcome:
    """``count`` (e.g. home-care beds) allocated to the demand points by weight, per district (largest remainder)."""
    d = prob.demand_table()
    parts = prob.district_targets()
    d = d[d["weight"] > 0]
    d = d[d["district_code"].isin(parts.index)]
    totals = parts.reindex(d["district_code"]).to_numpy()
    alloc = largest_remainder(totals, d["weight"].to_numpy(float), d["district_code"].to_numpy())
    sv = pd.DataFrame({"allocated": alloc}, index=pd.Index(d["demand_id"].to_numpy(), name="site_id"))
    sv = sv[sv["allocated"] > 0]
    target = int(parts.sum())
    placed = int(sv["allocated"].sum())
    missing = [c for c in parts.index if c not in set(d["district_code"]) and parts[c] > 0]
    notes = []
    if missing:
        notes.append(f"{len(missing)} district(s) have no demand point to allocate to: {', '.join(missing)}")
    kpi = KPI(
        target=float(target),
        achieved=float(placed),
        met=placed >= target,
        unit=f"{prob.spec.name_en.lower()} allocated",
        gap=0.0,
        gap_requested=solver.mip_rel_gap,
        measured_on=prob.measured_on,
        target_basis=prob.target_basis,
        figures={
            "points_receiving": len(sv),
            "allocation_basis": f"in proportion to {prob.weight_label} (largest remainder, per district)",
        },
    )
    return Outcome(list(sv.index), kpi, None, None, sv, None, [], notes, exact=True, assembled=None)


__all__ = ["KINDS", "KPI", "Outcome", "check_spec", "covered_rows", "kind"]
