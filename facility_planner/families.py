"""Facility families as data: a scenario block says what is served, how people travel, where sites may go, which
model kind places them and what target counts. This module turns a block into a :class:`FamilyProblem` (demand
points, candidate sites, targets, all keyed by ids) and a kind's :class:`~facility_planner.kinds.Outcome` into a
:class:`FamilyResult`. Nothing here knows a family by name: the plan's targets live in the scenario file.

Targets at the right level: a ``count`` is the target of the scenario's whole area (1,200 stations for Beijing). It
is split among districts by the family's demand (largest remainder) or taken from ``by_district``; a district run
plans that district's part, so the district run and the citywide run give a district the same target.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from . import settings
from ._errors import ScenarioError
from ._validate import Problems, check_unique
from .coords import CoordSystem
from .kinds import KINDS, KPI, Outcome
from .models._milp import stop_when_stalled
from .population import largest_remainder
from .sites import candidates_from_demand, dense_housing, exclude

if TYPE_CHECKING:
    from .beijing import BeijingAreas
    from .demand import DemandLayer
    from .models import Solution
    from .network import StreetNetwork
    from .scenario import FamilySpec, PointsFileSpec, Scenario
    from .travel import FamilyTravel

#: what each ``serves:`` value counts, in words
SERVES_LABEL = {
    "pop": "people",
    "pop_60": "people aged 60+",
    "communities": "communities/villages",
    "urban_communities": "urban communities",
    "villages": "villages",
    "townships": "township-level units",
}
_COMMUNITY_KINDS = {
    "communities": ("community", "village"),
    "urban_communities": ("community",),
    "villages": ("village",),
}
#: a palette for families without their own ``color`` (colour-blind safe first, then distinct)
PALETTE = [
    "#d62728", "#1f77b4", "#9467bd", "#2ca02c", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1", "#636363", "#fd8d3c", "#74c476", "#9e9ac8", "#969696",
]  # fmt: skip


def family_colours(scenario: Scenario) -> dict[str, str]:
    """Family key → map colour: the block's own ``color``, else the first palette colour no other family uses.

    A family the scenario adds without a colour (e.g. a new ``elderly_canteens`` block) so never takes the colour of
    another family (taking the palette by position gave the 16th family the disability institutions' blue).
    """
    fams = scenario.families
    taken = {f.color.lower() for f in fams.values() if f.color}
    free = [c for c in PALETTE if c.lower() not in taken]
    out: dict[str, str] = {}
    for i, (k, f) in enumerate(fams.items()):
        if f.color:
            out[k] = f.color
        else:
            out[k] = free.pop(0) if free else PALETTE[i % len(PALETTE)]
    return out


@dataclass
class PlanContext:
    """What every family of one run shares: the area, its demand layer, the citywide figures targets split by."""

    scenario: Scenario
    areas: BeijingAreas
    demand: DemandLayer
    zones_city: gpd.GeoDataFrame  # every township of the scenario's area with pop / pop_60 (for target splits)
    scenario_districts: list[str]  # district codes of the scenario's whole area
    part_districts: list[str]  # district codes this run plans
    network: StreetNetwork | None = None
    network_file: str | None = None  # the file ``network`` was read from (families may name other files)
    chosen_cells: dict[str, set[Any]] = field(default_factory=dict)  # family key → cell ids of its chosen sites
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)  # for shared caches

    @property
    def is_part(self) -> bool:
        """True when this run plans only some of the scenario's districts."""
        return set(self.part_districts) != set(self.scenario_districts)

    def resolve_district(self, name: str) -> str:
        """The district code of ``name`` (code, Chinese or English name)."""
        from .areas import resolve_district

        return resolve_district(self.areas.districts, name)

    def district_name(self, code: str) -> str:
        """``"Pinyin 中文"`` for a district code (the code itself when unknown)."""
        d = self.areas.districts.set_index("district_code")
        return f"{d.loc[code, 'name_pinyin']} {d.loc[code, 'name_zh']}" if code in d.index else str(code)


@dataclass
class FamilyProblem:
    """One family's inputs, keyed by ids: demand points and weights, candidate and existing sites, its targets."""

    key: str
    spec: FamilySpec
    demand: gpd.GeoDataFrame  # demand_id, weight, district_code, township_code, geometry (points)
    sites: gpd.GeoDataFrame  # site_id, existing, kind, district_code, township_code, cell_id, name, geometry
    total_weight: float
    weight_label: str
    unit_column: str
    unit_label: str
    units_table: pd.DataFrame  # unit, name_zh, district_code, has_area, reason
    district_parts: pd.Series  # district code → part of the count (whole scenario area)
    beds_parts: pd.Series | None
    target_basis: str
    excluded: gpd.GeoDataFrame
    existing_ids: list[Any] = field(default_factory=list)
    forbidden_ids: list[Any] = field(default_factory=list)
    measured_on: str | None = None
    notes: list[str] = field(default_factory=list)
    part_districts: list[str] = field(default_factory=list)
    township_parts: pd.Series | None = None
    #: the demand and site tables indexed by id, built on first use (see ``_by_id``)
    _by_id_cache: dict[str, pd.DataFrame] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def label(self) -> str:
        """The family's English name."""
        return self.spec.name_en

    def _by_id(self, which: str) -> pd.DataFrame:
        """The demand (or sites) table indexed by id, built once: kinds look weights up unit by unit."""
        if which not in self._by_id_cache:
            frame = self.demand if which == "demand" else self.sites
            key = "demand_id" if which == "demand" else "site_id"
            self._by_id_cache[which] = pd.DataFrame(frame.drop(columns="geometry")).set_index(key)
        return self._by_id_cache[which]

    def weights_for(self, ids: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Demand weights for ``ids`` in their order (0 for an unknown id)."""
        return self._by_id("demand")["weight"].reindex(np.asarray(ids)).fillna(0.0).to_numpy(float)

    def demand_attr(self, col: str, ids: npt.ArrayLike) -> npt.NDArray[Any]:
        """Column ``col`` of the demand points ``ids``, in their order."""
        return self._by_id("demand")[col].reindex(np.asarray(ids)).to_numpy()

    def site_attr(self, col: str, ids: npt.ArrayLike) -> npt.NDArray[Any]:
        """Column ``col`` of the candidate sites ``ids``, in their order."""
        return self._by_id("sites")[col].reindex(np.asarray(ids)).to_numpy()

    def demand_table(self) -> pd.DataFrame:
        """The demand points without their geometry."""
        return pd.DataFrame(self.demand.drop(columns="geometry"))

    def district_targets(self) -> pd.Series:
        """The part of the count of each district of this run."""
        return self.district_parts.reindex(self.part_districts).fillna(0).astype(int)

    def target_sites(self) -> int:
        """The number of sites this run must place (its districts' parts of the count)."""
        return int(self.district_targets().sum())

    def quotas(self, level: str) -> pd.Series:
        """Sites per district, or per township (each district's part split by township demand)."""
        if level == "district":
            return self.district_targets()
        assert self.township_parts is not None
        return self.township_parts

    def beds_targets(self) -> pd.Series:
        """Beds to provide per district (capacitated families only)."""
        assert self.beds_parts is not None
        return self.beds_parts

    def units(self) -> pd.DataFrame:
        """The units a per-unit target counts (unit, name_zh, district_code, has_area, reason)."""
        return self.units_table

    def existing_by_unit(self) -> dict[Any, list[Any]]:
        """Unit → ids of the existing sites in it."""
        ex = self.sites[self.sites["existing"]]
        return {u: list(g["site_id"]) for u, g in ex.groupby(self.unit_column)} if len(ex) else {}

    def no_site_reason(self, unit: Any) -> str:
        """Why ``unit`` has no candidate site, in words (the exclusions that removed its sites)."""
        dropped = self.excluded[self.excluded[self.unit_column] == unit] if len(self.excluded) else self.excluded
        if len(dropped):
            reasons = dropped["excluded_by"].value_counts()
            return "every candidate site excluded: " + "; ".join(f"{n} {r}" for r, n in reasons.items())
        return "no candidate site in the unit"


@dataclass
class FamilyResult:
    """One family's plan: the sites, what they cover or serve, the KPI against the target, per-district rows."""

    key: str
    name_zh: str
    name_en: str
    model: str
    sites: gpd.GeoDataFrame  # site_id, existing, status, name, district_code, township_code, served, geometry
    kpi: KPI
    by_district: pd.DataFrame
    demand: gpd.GeoDataFrame  # the family's demand points with covered / assigned_site / minutes
    demand_kind: str  # "cells", "communities", "townships"
    color: str = "#d62728"
    unit_table: pd.DataFrame | None = None
    solutions: list[Solution] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    exact: bool = False
    assembled: str | None = None
    coverage_kind: bool = False
    travel: dict[str, Any] = field(default_factory=dict)
    #: what each chosen site reaches within the time limit (coverage kinds; WGS-84 polygons for maps)
    reach: gpd.GeoDataFrame | None = None

    @property
    def family(self) -> str:
        """The family's key in the scenario."""
        return self.key

    @property
    def cell_covered(self) -> pd.Series | None:
        """Cell id → covered, for families whose demand is cells and whose model is a coverage kind."""
        if self.demand_kind != "cells" or "covered" not in self.demand.columns:
            return None
        covered: pd.Series = self.demand.set_index("demand_id")["covered"]
        return covered

    @property
    def worst_gap(self) -> float | None:
        """The largest relative optimality gap of the family's models (None when unknown)."""
        return self.kpi.gap


# --------------------------------------------------------------------------------------------------- demand


def _within(ctx: PlanContext, spec: FamilySpec, frame: pd.DataFrame) -> pd.Series:
    """Rows of ``frame`` (with district_code, township_code) inside the family's ``within``."""
    keep = pd.Series(True, index=frame.index)
    if spec.within.districts:
        codes = {ctx.resolve_district(d) for d in spec.within.districts}
        keep &= frame["district_code"].isin(codes)
    if spec.within.township_kinds:
        kinds = _township_kinds(ctx)
        keep &= frame["township_code"].map(kinds).isin(spec.within.township_kinds)
    return keep


def _township_kinds(ctx: PlanContext) -> pd.Series:
    k: pd.Series = pd.concat(
        [ctx.areas.units.set_index("township_code")["kind"], ctx.areas.townships.set_index("township_code")["kind"]]
    )
    return k[~k.index.duplicated()]


def family_demand(ctx: PlanContext, spec: FamilySpec) -> tuple[gpd.GeoDataFrame, float, str | None]:
    """The family's demand points (``demand_id``, ``weight``, codes, geometry), the total weight, and the sample note."""
    crs = settings.working_crs
    serves = spec.serves
    measured_on = None
    if serves in ("pop", "pop_60"):
        c = ctx.demand.centroids()
        c = c[_within(ctx, spec, c)]
        pts = gpd.GeoDataFrame(
            {
                "demand_id": c["cell_id"].to_numpy(),
                "weight": c[serves].to_numpy(float),
                "district_code": c["district_code"].to_numpy(),
                "township_code": c["township_code"].to_numpy(),
            },
            geometry=c.geometry.to_crs(crs).values,
            crs=crs,
        )
        pts = pts[pts["weight"] > 0]
        if spec.demand_level == "township":
            xy = shapely.get_coordinates(pts.geometry.values)
            g = pd.DataFrame({"t": pts["township_code"].to_numpy(), "w": pts["weight"].to_numpy()})
            g["wx"], g["wy"] = g["w"] * xy[:, 0], g["w"] * xy[:, 1]
            g["d"] = pts["district_code"].to_numpy()
            a = g.groupby("t").agg(w=("w", "sum"), wx=("wx", "sum"), wy=("wy", "sum"), d=("d", "first"))
            pts = gpd.GeoDataFrame(
                {"demand_id": a.index.to_numpy(), "weight": a["w"].to_numpy(), "district_code": a["d"].to_numpy(),
                 "township_code": a.index.to_numpy()},
                geometry=gpd.points_from_xy(a["wx"] / a["w"], a["wy"] / a["w"]),
                crs=crs,
            )  # fmt: skip
        total = float(pts["weight"].sum())
    elif serves in _COMMUNITY_KINDS:
        kinds = _COMMUNITY_KINDS[serves]
        comm = ctx.demand.communities
        comm = comm[comm["kind"].isin(kinds)] if comm is not None else None
        allc = ctx.areas.communities
        allc = allc[allc["kind"].isin(kinds) & allc["district_code"].isin(ctx.part_districts)]
        allc = allc[_within(ctx, spec, allc)]
        if comm is None or not len(comm):
            pts = gpd.GeoDataFrame(
                {"demand_id": [], "weight": [], "district_code": [], "township_code": []}, geometry=[], crs=crs
            )
        else:
            comm = comm[_within(ctx, spec, comm)]
            w = np.ones(len(comm))
            if spec.weight != "count":  # the people of the community's cell, shared among its communities
                cells = ctx.demand.cells.set_index("cell_id")
                n_in = comm.groupby("cell_id")["community_code"].transform("size").to_numpy(float)
                w = cells[spec.weight].reindex(comm["cell_id"]).fillna(0).to_numpy(float) / n_in
            pts = gpd.GeoDataFrame(
                {
                    "demand_id": comm["community_code"].to_numpy(),
                    "weight": w,
                    "district_code": comm["district_code"].to_numpy(),
                    "township_code": comm["township_code"].to_numpy(),
                    "name": comm["name_zh"].to_numpy(),
                    "cell_id": comm["cell_id"].to_numpy(),
                },
                geometry=comm.geometry.to_crs(crs).values,
                crs=crs,
            )
        total = float(pts["weight"].sum())
        n_all = len(allc)
        if n_all and len(pts) < n_all:
            measured_on = (
                f"the {len(pts):,} {SERVES_LABEL[serves]} with a known location, {len(pts) / n_all:.0%} of {n_all:,}"
            )
    elif serves == "townships":
        t = ctx.demand.townships
        t = t[_within(ctx, spec, t) & ~t["township_code"].astype(str).str.startswith("poi86:")]
        pts = gpd.GeoDataFrame(
            {
                "demand_id": t["township_code"].to_numpy(),
                "weight": 1.0,
                "district_code": t["district_code"].to_numpy(),
                "township_code": t["township_code"].to_numpy(),
                "name": t["name_zh"].to_numpy(),
            },
            geometry=t.geometry.to_crs(crs).representative_point().values,
            crs=crs,
        )
        total = float(len(pts))
    else:  # pragma: no cover - the schema allows no other value
        raise ScenarioError("serves", [f"unknown demand {serves!r}"])
    return pts.reset_index(drop=True), total, measured_on


# ------------------------------------------------------------------------------------------------- targets


def _city_weights(ctx: PlanContext, spec: FamilySpec, level: str = "district_code") -> pd.Series:
    """The family's demand per district (or township) over the scenario's WHOLE area: what a count is split by."""
    z: pd.DataFrame = ctx.zones_city
    if spec.serves in ("pop", "pop_60"):
        z = z[_within(ctx, spec, z)]
        return z.groupby(level)[spec.serves].sum().astype(float)
    if spec.serves in _COMMUNITY_KINDS and spec.weight != "count":
        # communities weighted by people: the district's people stand in (no citywide community populations)
        z = z[_within(ctx, spec, z)]
        return z.groupby(level)[spec.weight].sum().astype(float)
    if spec.serves in _COMMUNITY_KINDS:
        c: pd.DataFrame = ctx.areas.communities
        c = c[c["kind"].isin(_COMMUNITY_KINDS[spec.serves]) & c["district_code"].isin(ctx.scenario_districts)]
        c = c[_within(ctx, spec, c)]
        return c.groupby(level).size().astype(float)
    u = z[~z["township_code"].astype(str).str.startswith("poi86:")]
    u = u[_within(ctx, spec, u)]
    return u.groupby(level).size().astype(float)


def split_count(total: int, weights: pd.Series, fixed: dict[str, int] | None = None) -> pd.Series:
    """Split ``total`` among the index of ``weights`` by weight (largest remainder), ``fixed`` parts taken first.

    Examples
    --------
    >>> split_count(10, pd.Series({"a": 1.0, "b": 1.0, "c": 1.0})).tolist()
    [4, 3, 3]
    >>> split_count(10, pd.Series({"a": 1.0, "b": 1.0, "c": 1.0}), {"a": 6}).tolist()
    [6, 2, 2]
    """
    fixed = fixed or {}
    out = pd.Series(0, index=weights.index, dtype=int)
    for k, v in fixed.items():
        out[k] = int(v)
    rest_idx = [i for i in weights.index if i not in fixed]
    left = int(total) - int(sum(fixed.values()))
    if rest_idx and left > 0:
        w = weights.reindex(rest_idx).fillna(0).to_numpy(float)
        out[rest_idx] = largest_remainder(np.full(len(rest_idx), left), w, np.zeros(len(rest_idx)))
    return out


def _district_parts(
    ctx: PlanContext, key: str, spec: FamilySpec, amount: int | None, table: dict[str, int], what: str
) -> tuple[pd.Series, str]:
    """District code → part of ``amount`` over the scenario's whole area, and how it was derived (in words)."""
    weights = _city_weights(ctx, spec).reindex(ctx.scenario_districts).fillna(0.0)
    by = SERVES_LABEL[spec.weight] if spec.serves in _COMMUNITY_KINDS and spec.weight != "count" else None
    fixed: dict[str, int] = {}
    for name, v in table.items():
        try:
            code = ctx.resolve_district(name)
        except Exception:
            raise ScenarioError(
                f"families.{key}", [f"`families.{key}.{what}` names {name!r}, which is not a district"]
            ) from None
        if code in ctx.scenario_districts:
            fixed[code] = int(v)
    if amount is None:
        amount = sum(fixed.values())
    if sum(fixed.values()) > amount:
        raise ScenarioError(
            f"families.{key}",
            [f"`families.{key}.{what}` adds up to {sum(fixed.values())}, more than the total {amount}; fix either."],
        )
    parts = split_count(amount, weights, fixed)
    how = f"{amount:,} in the scenario's area"
    by = by or SERVES_LABEL[spec.serves]
    how += (
        f", {len(fixed)} district(s) from `{what}`, the rest split by {by} (largest remainder)"
        if fixed
        else f", split among districts by {by} (largest remainder)"
    )
    return parts, how


def _units(ctx: PlanContext, spec: FamilySpec, demand: gpd.GeoDataFrame) -> tuple[str, str, pd.DataFrame]:
    """The units a per-unit target counts: NBS 2023 township-level units, rural townships, or districts."""
    if spec.unit == "district":
        d = ctx.areas.districts
        d = d[d["district_code"].isin(ctx.part_districts)]
        if spec.within.districts:
            d = d[d["district_code"].isin({ctx.resolve_district(x) for x in spec.within.districts})]
        if spec.within.township_kinds:  # e.g. township nursing homes: only districts that have such townships
            d = d[d["district_code"].isin(set(demand["district_code"]))]
        t = pd.DataFrame(
            {"unit": d["district_code"].to_numpy(), "name_zh": d["name_zh"].to_numpy(),
             "district_code": d["district_code"].to_numpy(), "has_area": True, "reason": ""}
        )  # fmt: skip
        return "district_code", "districts", t
    units = ctx.areas.units
    units = units[units["district_code"].isin(ctx.part_districts)]
    label = "township-level units"
    if spec.unit == "rural_township":
        units = units[units["kind"].isin(spec.unit_kinds)]
        label = (
            "rural townships ("
            + "/".join(
                {"town": "镇", "township": "乡", "area_office": "地区", "subdistrict": "街道"}[k]
                for k in spec.unit_kinds
            )
            + ")"
        )
    units = units[_within(ctx, spec, units)]
    has_poly = set(ctx.demand.townships["township_code"])
    t = pd.DataFrame(
        {
            "unit": units["township_code"].to_numpy(),
            "name_zh": units["name_zh"].to_numpy(),
            "district_code": units["district_code"].to_numpy(),
        }
    )
    t["has_area"] = t["unit"].isin(has_poly)
    t["reason"] = np.where(
        t["has_area"], "", "no boundary in the bundled data (a unit created 2019–2021; its people are in older units)"
    )
    return "township_code", label, t


# --------------------------------------------------------------------------------------------------- sites


def _thin(sites: gpd.GeoDataFrame, spacing_m: float, unit_col: str) -> gpd.GeoDataFrame:
    """One candidate per square of ``spacing_m`` (per unit): the one nearest the square's centre."""
    xy = shapely.get_coordinates(sites.geometry.values)
    gx, gy = np.floor(xy[:, 0] / spacing_m), np.floor(xy[:, 1] / spacing_m)
    d = np.hypot(xy[:, 0] - (gx + 0.5) * spacing_m, xy[:, 1] - (gy + 0.5) * spacing_m)
    f = pd.DataFrame({"u": sites[unit_col].to_numpy(), "gx": gx, "gy": gy, "d": d}, index=sites.index)
    keep = f.sort_values("d").drop_duplicates(["u", "gx", "gy"]).index
    return sites.loc[sorted(keep)]


class _ReadOptions(TypedDict):
    """The options of a scenario's point file, as :func:`facility_planner.io.read_points` takes them."""

    coord_system: CoordSystem | None
    encoding: str | None
    id_column: str | None
    name_column: str | None
    lon_column: str | None
    lat_column: str | None
    sheet: str | None
    prefix: str


def _read_user_points(
    ctx: PlanContext, key: str, which: str, ps: PointsFileSpec, prefix: str, notes: list[str]
) -> gpd.GeoDataFrame | None:
    """A user's point file, checked, in this run's area (a citywide file is filtered to it, and the counts said)."""
    if ps.file is None:
        return None
    from .io import read_points, read_points_in_area

    what = f"families.{key}.{which} ({ps.file})"
    kw: _ReadOptions = {
        "coord_system": ps.coord_system,
        "encoding": ps.encoding,
        "id_column": ps.id_column,
        "name_column": ps.name_column,
        "lon_column": ps.lon_column,
        "lat_column": ps.lat_column,
        "sheet": ps.sheet,
        "prefix": prefix,
    }
    kept, read_notes = read_points_in_area(ctx.scenario.resolve(ps.file), ctx.demand.townships, what=what, **kw)
    if not len(kept):
        # nothing in this run's part: fine for a district run, a mistake if nothing lies anywhere in the area
        everywhere = read_points(ctx.scenario.resolve(ps.file), what=what, **kw)
        city = gpd.GeoDataFrame(ctx.zones_city[["township_code", "district_code", "geometry"]], crs=ctx.zones_city.crs)
        inside = gpd.sjoin(everywhere.to_crs(city.crs), city, predicate="within")
        if len(everywhere) and not len(inside):
            raise ScenarioError(
                f"families.{key}.{which}",
                [
                    f"none of the {len(everywhere)} point(s) of {ps.file} lies in the scenario's area; check the "
                    "coordinates, their order (lon, lat) and `coord_system`."
                ],
            )
    notes += [n for n in read_notes if n]
    return kept.to_crs(settings.working_crs)


def family_sites(
    ctx: PlanContext, key: str, spec: FamilySpec, demand: gpd.GeoDataFrame, unit_col: str
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[Any], list[str]]:
    """Candidate, existing and locked sites of a family, with what was excluded and why."""
    notes: list[str] = []
    cells = ctx.demand.cells
    cand_src = spec.candidates.source
    parts = []
    if spec.model == "allocate":  # an allocation goes to the demand points themselves
        d = demand.copy()
        d["site_id"] = d["demand_id"]
        d["kind"] = "demand point"
        d["existing"] = False
        return d, gpd.GeoDataFrame(d.iloc[:0]), [], notes
    if cand_src in ("populated_cells", "cells"):
        cand = candidates_from_demand(
            cells, populated_only=cand_src == "populated_cells", points=ctx.demand.cell_points()
        ).to_crs(settings.working_crs)
        cand["kind"] = "candidate"
    elif cand_src == "file":
        pts = _read_user_points(ctx, key, "candidates.file", spec.candidates.file, f"{key}-candidate", notes)
        if pts is None:
            raise ScenarioError(f"families.{key}", [f"`families.{key}.candidates.file.file` is empty; give a file."])
        cand = pts
        cand["kind"] = "user candidate"
        cand["cell_id"] = None
    else:
        cand = gpd.GeoDataFrame({"site_id": [], "kind": []}, geometry=[], crs=settings.working_crs)
    cand = cand[_within(ctx, spec, cand)] if len(cand) else cand
    excluded = []
    if len(cand) and spec.exclude.file:
        from .areas import read_vector

        zones = read_vector(ctx.scenario.resolve(spec.exclude.file), what=f"families.{key}.exclude.file")
        cand, ex = exclude(cand, zones, min_distance_m=spec.exclude.distance_m, reason="an exclusion zone")
        excluded.append(ex)
    if len(cand) and spec.exclude.away_from_housing is not None:
        h = spec.exclude.away_from_housing
        dense = dense_housing(cells, min_density_per_km2=h.density_per_km2)
        cand, ex = exclude(cand, dense, min_distance_m=h.distance_m, reason=f"housing ≥ {h.density_per_km2:,.0f}/km²")
        excluded.append(ex)
        if h.max_people is not None and len(cand):
            from .travel import people_within

            near = people_within(cand, cells, h.distance_m)
            bad = cand["site_id"].map(near).to_numpy() > h.max_people
            ex = cand[bad].copy()
            ex["excluded_by"] = f"more than {h.max_people:,.0f} people within {h.distance_m:,.0f} m"
            excluded.append(ex)
            cand = cand[~bad]
    if len(cand) and spec.exclude.max_cell_pop is not None and "cell_id" in cand.columns:
        pop = cells.set_index("cell_id")["pop"]
        bad = cand["cell_id"].map(pop).fillna(0) > spec.exclude.max_cell_pop
        ex = cand[bad].copy()
        ex["excluded_by"] = f"more than {spec.exclude.max_cell_pop:g} people live in the cell"
        excluded.append(ex)
        cand = cand[~bad]
    for other in spec.exclude.not_with:
        taken = ctx.chosen_cells.get(other, set())
        if len(cand) and taken and "cell_id" in cand.columns:
            bad = cand["cell_id"].isin(taken)
            ex = cand[bad].copy()
            ex["excluded_by"] = f"a cell chosen for {other}"
            excluded.append(ex)
            cand = cand[~bad]
    if spec.candidates.spacing_m and len(cand):
        before = len(cand)
        cand = _thin(cand, spec.candidates.spacing_m, unit_col)
        notes.append(
            f"candidates thinned to one per {spec.candidates.spacing_m:,.0f} m square: {len(cand):,} of {before:,}"
        )
    parts.append(cand)
    existing = _read_user_points(ctx, key, "existing", spec.existing, f"{key}", notes)
    ex_ids: list[Any] = []
    if existing is not None:
        e = existing
        e["kind"] = "existing"
        e["site_id"] = "existing:" + e["site_id"].astype(str)
        ex_ids = list(e["site_id"])
        e["cell_id"] = None
        parts.append(e)
    locked = _read_user_points(ctx, key, "locked", spec.locked, f"{key}-locked", notes)
    if locked is not None:
        lk = locked
        lk["kind"] = "locked"
        lk["site_id"] = "locked:" + lk["site_id"].astype(str)
        lk["cell_id"] = None
        ex_ids += list(lk["site_id"])
        parts.append(lk)
    cols = ["site_id", "kind", "name", "district_code", "township_code", "cell_id", "geometry"]
    parts = [p.reindex(columns=cols) for p in parts if len(p)]
    if parts:
        sites = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=settings.working_crs)
    else:
        sites = gpd.GeoDataFrame({c: [] for c in cols[:-1]}, geometry=[], crs=settings.working_crs)
    sites["existing"] = sites["kind"].isin(["existing", "locked"])
    problems = Problems(f"families.{key}")
    check_unique(sites, "site_id", problems, fix="make the ids in your files unique")
    problems.raise_if_any(ScenarioError)
    ex_all = [e for e in excluded if len(e)]
    excl = gpd.GeoDataFrame(pd.concat(ex_all, ignore_index=True), crs=settings.working_crs) if ex_all else cand.iloc[:0]
    if len(excl):
        by = excl["excluded_by"].value_counts()
        notes.append("candidates excluded: " + "; ".join(f"{n:,} ({r})" for r, n in by.items()))
    return sites, excl, ex_ids, notes


# ------------------------------------------------------------------------------------------------ problem


def family_problem(ctx: PlanContext, key: str, spec: FamilySpec) -> FamilyProblem:
    """Everything one family's model kind needs, from its scenario block."""
    if spec.model not in KINDS:
        raise ScenarioError(f"families.{key}", [f"`families.{key}.model`: unknown kind {spec.model!r}"])
    demand, total, measured_on = family_demand(ctx, spec)
    unit_col, unit_label, units = _units(ctx, spec, demand)
    sites, excl, ex_ids, notes = family_sites(ctx, key, spec, demand, unit_col)
    forbidden = [s for s in spec.forbidden if s in set(sites["site_id"])]
    if len(forbidden) < len(spec.forbidden):
        notes.append(f"{len(spec.forbidden) - len(forbidden)} forbidden site id(s) are not candidates here")
    basis = ""
    parts = pd.Series(dtype=int)
    if spec.count is not None or spec.by_district:
        parts, basis = _district_parts(ctx, key, spec, spec.count, spec.by_district, "by_district")
        if ctx.is_part:
            mine = int(parts.reindex(ctx.part_districts).fillna(0).sum())
            basis = f"{mine:,} here: this area's part of {basis}"
    beds = None
    if spec.model == "capacitated":
        if spec.beds is not None or spec.beds_by_district:
            amount = spec.beds
            if amount is None and spec.beds_per_unit is not None:
                n_other = len(list(ctx.scenario_districts))
                fixed_n = len(spec.beds_by_district)
                amount = sum(spec.beds_by_district.values()) + spec.beds_per_unit * (n_other - fixed_n)
            bparts, basis = _district_parts(ctx, key, spec, amount, spec.beds_by_district, "beds_by_district")
            if spec.beds is None and spec.beds_per_unit is not None:  # a table plus a default for the rest
                fixed = {ctx.resolve_district(k) for k in spec.beds_by_district}
                bparts = pd.Series(
                    {d: (bparts[d] if d in fixed else spec.beds_per_unit) for d in ctx.scenario_districts}
                )
                basis = f"{int(bparts.sum()):,} beds: {len(fixed)} district(s) from `beds_by_district`, " \
                        f"{spec.beds_per_unit} in every other district"  # fmt: skip
        else:
            bparts = pd.Series(dict.fromkeys(ctx.scenario_districts, spec.beds_per_unit))
            basis = f"{spec.beds_per_unit} beds in every district"
        if spec.unit != "district":
            raise ScenarioError(
                f"families.{key}", [f"`families.{key}.unit`: capacitated beds are planned per district"]
            )
        beds = bparts.reindex(units["unit"]).fillna(0).astype(int)
        if ctx.is_part:
            basis = f"{int(beds.sum()):,} beds here: this area's part of {basis}"
    township_parts = None
    if spec.equity.rule == "quota" and spec.equity.level == "township" and len(parts):
        tw = _city_weights(ctx, spec, "township_code")
        z = ctx.zones_city.set_index("township_code")["district_code"]
        tp = []
        for d, n in parts.reindex(ctx.part_districts).fillna(0).astype(int).items():
            w = tw[tw.index.map(z) == d]
            if len(w):
                tp.append(split_count(int(n), w))
        township_parts = pd.concat(tp) if tp else pd.Series(dtype=int)
    if spec.model in ("per_unit",) and not basis:
        k = spec.per_unit or 1
        basis = f"{k} in every one of the {len(units):,} {unit_label}"
        if spec.share is not None:
            basis = f"{spec.share:.0%} of the {len(units):,} {unit_label} with {k} site(s)"
    return FamilyProblem(
        key=key,
        spec=spec,
        demand=demand,
        sites=sites,
        total_weight=total,
        weight_label=SERVES_LABEL[spec.serves],
        unit_column=unit_col,
        unit_label=unit_label,
        units_table=units,
        district_parts=parts,
        beds_parts=beds,
        target_basis=basis,
        excluded=excl,
        existing_ids=ex_ids,
        forbidden_ids=forbidden,
        measured_on=measured_on,
        notes=notes,
        part_districts=ctx.part_districts,
        township_parts=township_parts,
    )


def family_travel(ctx: PlanContext, key: str, prob: FamilyProblem) -> FamilyTravel:
    """The family's travel (its own keys over the scenario's), ready to hand matrices to the kind."""
    from .travel import FamilyTravel

    t = ctx.scenario.family_travel(key)
    network = None
    if t.mode == "network":
        if not t.network_file:
            raise ScenarioError(
                f"families.{key}.travel",
                [f"travel mode 'network' needs a street file: give `families.{key}.travel.network_file` or "
                 "`travel.network_file`."],
            )  # fmt: skip
        with ctx.lock:  # families planned at once: one reads the file, the other waits for it
            network = ctx.network
            if network is None or ctx.network_file != t.network_file:
                from .network import read_network

                area = ctx.demand.townships.to_crs("EPSG:4326").union_all().buffer(0.001)
                network = read_network(ctx.scenario.resolve(t.network_file), area=area)
                ctx.network, ctx.network_file = network, t.network_file
    return FamilyTravel(
        prob.demand,
        prob.sites,
        mode=t.mode,
        time_limit_min=t.time_limit_min,
        speed_kmh=t.speed_kmh,
        detour_factor=t.detour_factor,
        network=network,
        max_snap_m=t.max_snap_m,
    )


def plan_family(ctx: PlanContext, key: str, spec: FamilySpec, index: int = 0) -> FamilyResult:
    """Plan one family: its problem, its travel, its model kind, and the result with KPI and district rows."""
    prob = family_problem(ctx, key, spec)
    travel = family_travel(ctx, key, prob)
    with stop_when_stalled(ctx.scenario.solver.stop_when_stalled):
        out: Outcome = KINDS[spec.model](prob, travel, ctx.scenario.solver)
    return _result(ctx, prob, travel, out, index)


def _result(ctx: PlanContext, prob: FamilyProblem, travel: FamilyTravel, out: Outcome, index: int) -> FamilyResult:
    spec = prob.spec
    chosen = list(dict.fromkeys(out.chosen))
    sites = prob.sites[prob.sites["site_id"].isin(chosen)].copy()
    sites["status"] = np.where(sites["existing"], "existing (kept)", "new")
    if out.site_values is not None and len(out.site_values):
        sv = out.site_values.copy()
        sv.index = sv.index.astype(sites["site_id"].dtype) if len(sites) else sv.index
        sites = sites.join(sv, on="site_id")
    if "served" not in sites.columns:
        sites["served"] = np.nan
    sites = sites.to_crs("EPSG:4326") if len(sites) else sites.set_crs(settings.working_crs, allow_override=True)
    d = prob.demand.copy()
    if out.covered is not None:
        d["covered"] = d["demand_id"].map(out.covered).eq(True)
    if out.assigned is not None and len(out.assigned):
        d["assigned_site"] = d["demand_id"].map(out.assigned)
    cov_t = travel._coverage
    if cov_t is not None and cov_t.fallback is not None:
        d["straight_line_fallback"] = ~d["demand_id"].map(cov_t.fallback).eq(False)
    kind = "cells" if spec.serves in ("pop", "pop_60") and spec.demand_level == "cell" else (
        "townships" if spec.serves == "townships" or spec.demand_level == "township" else "communities"
    )  # fmt: skip
    by_d = _district_rows(prob, d, sites, ctx)
    kpi = out.kpi
    kpi.notes = [*prob.notes, *out.notes]
    if out.assembled and out.solutions:
        kpi.notes.append(f"assembled from sub-problems: {out.assembled}")
    # the note follows the solve that left the widest gap (one per unit in some kinds)
    gapped = [s for s in out.solutions if s.gap is not None]
    worst = max(gapped, key=lambda s: s.gap or 0.0) if gapped else None
    st = worst.stalled if worst is not None and worst.status == "stalled" else None
    if kpi.gap_exceeded and kpi.gap is not None and kpi.gap_requested is not None:
        kpi.figures["solver_stop"], why = gap_note(kpi.gap, kpi.gap_requested, st)
        kpi.notes.append(why)
    h = spec.exclude.away_from_housing
    if h is not None and len(sites):
        from .travel import people_within

        near = people_within(sites.to_crs(settings.working_crs), ctx.demand.cells, h.distance_m)
        sites["people_within_m"] = sites["site_id"].map(near)
        kpi.figures["people_within_distance_m"] = h.distance_m
        kpi.figures["people_within_median"] = float(near.median())
        kpi.figures["people_within_max"] = float(near.max())
        kpi.notes.append(
            f"people living within {h.distance_m:,.0f} m of a site (cell centres): median {near.median():,.0f}, "
            f"most {near.max():,.0f}; people are spread evenly inside each township unless a population raster "
            "is given, so these are estimates"
        )
    tr = travel.spec
    reach = None
    if out.coverage_kind and len(sites):
        from .travel import isochrones

        reach = isochrones(tr, prob.sites, list(sites["site_id"]), network=travel.network)
    return FamilyResult(
        key=prob.key,
        name_zh=spec.name_zh,
        name_en=spec.name_en,
        model=spec.model,
        sites=sites,
        kpi=kpi,
        by_district=by_d,
        demand=d,
        demand_kind=kind,
        color=spec.color or family_colours(ctx.scenario).get(prob.key, PALETTE[index % len(PALETTE)]),
        unit_table=out.unit_table,
        solutions=out.solutions,
        notes=kpi.notes,
        exact=out.exact,
        assembled=out.assembled,
        coverage_kind=out.coverage_kind,
        travel={"mode": tr.mode, "time_limit_min": tr.time_limit_min, "speed_kmh": tr.speed_kmh,
                "detour_factor": tr.detour_factor},
        reach=reach,
    )  # fmt: skip


def gap_note(gap: float, requested: float, stalled: dict[str, Any] | None) -> tuple[str, str]:
    """Why a family's proven gap is above the one asked: (``"stalled"`` or ``"time_limit"``, the note in words).

    ``stalled``: the figures of :attr:`~facility_planner.models.base.Solution.stalled` of the solve that left the
    widest gap, or None when it ran to its limit. A stall says a longer limit is unlikely to help; only a solve that
    used its whole limit may close the gap with more.
    """
    head = f"the proven gap {gap:.2%} is above the {requested:.2%} asked: "
    if stalled and stalled.get("reason") == "converged":
        return "stalled", (
            head + f"the model ended after {stalled['after_s']:.0f} s of its {stalled['limit_s']:.0f} s because its "
            "search had nothing left to try and its bound had stopped moving; a longer `solver.time_limit_s` is "
            "unlikely to close it"
        )
    if stalled:
        return "stalled", (
            head + f"the model stopped after {stalled['after_s']:.0f} s of its {stalled['limit_s']:.0f} s because in "
            f"its last {stalled['window_s']:.0f} s the plan did not improve and the bound moved too little to reach "
            "the gap asked in time; a longer `solver.time_limit_s` is unlikely to close it "
            "(`solver.stop_when_stalled: false` runs to the limit)"
        )
    return "time_limit", head + "the solver stopped at its time limit; a longer `solver.time_limit_s` may close it"


def _district_rows(prob: FamilyProblem, d: pd.DataFrame, sites: pd.DataFrame, ctx: PlanContext) -> pd.DataFrame:
    """Per district of the run: target part, sites new/existing, demand, covered demand and share."""
    codes = list(ctx.part_districts)
    t = pd.DataFrame(index=pd.Index(codes, name="district_code"))
    if len(prob.district_parts):
        t["target"] = prob.district_parts.reindex(codes).fillna(0).astype(int)
    t["demand"] = d.groupby("district_code")["weight"].sum().reindex(codes).fillna(0.0)
    if "covered" in d.columns:
        cw = d["weight"] * d["covered"]
        t["covered"] = cw.groupby(d["district_code"]).sum().reindex(codes).fillna(0.0)
        t["covered_share"] = t["covered"] / t["demand"].where(t["demand"] > 0)
    ex = sites.groupby("district_code")["existing"]
    t["sites_new"] = ex.apply(lambda x: int((~x.astype(bool)).sum())).reindex(codes).fillna(0).astype(int)
    t["sites_existing"] = ex.apply(lambda x: int(x.astype(bool).sum())).reindex(codes).fillna(0).astype(int)
    if "beds" in sites.columns:
        t["beds"] = sites.groupby("district_code")["beds"].sum().reindex(codes).fillna(0).astype(int)
    if "allocated" in sites.columns:
        t["allocated"] = sites.groupby("district_code")["allocated"].sum().reindex(codes).fillna(0).astype(int)
    if prob.unit_column == "township_code" and prob.spec.model in ("per_unit",):
        u = prob.units_table
        t["units"] = u.groupby("district_code").size().reindex(codes).fillna(0).astype(int)
    return t.reset_index()


__all__ = [
    "PALETTE",
    "FamilyProblem",
    "FamilyResult",
    "PlanContext",
    "family_colours",
    "family_problem",
    "plan_family",
    "split_count",
]
