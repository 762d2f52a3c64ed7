"""The facility families of Beijing's 14th Five-Year Civil Affairs Plan: which demand, which model, which target.

Each family function takes the prepared inputs (demand layer, travel, sites) and returns a :class:`FamilyResult`
with the chosen sites, per-cell / per-unit coverage and a KPI against the plan's target
(``shared/docs/PLAN_TARGETS.md``):

* community eldercare stations 社区养老服务驿站: ≥ 1,200 stations and a 15-minute service circle: maximise the
  older population within a 15-minute walk with a district quota of stations (existing kept), or the fewest
  stations reaching a coverage share;
* township eldercare care centres 街乡镇养老照料中心: ≥ 1 in every township-level unit, at the site with best access
  (1-median of the township's older population);
* psychological-service points 社会心理服务中心(站): ≥ 80% of communities/villages covered, the fewest new points (or
  the most covered with ≤ 500 new); counted over communities with a known location, and over population;
* public cemeteries 公益性公墓: one per rural township (镇, 乡, 地区), at a minimum distance from dense housing, with
  best access for the township's people; target: ≥ 80% of rural townships served.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import InfeasibleModelError
from .areas import RURAL_KINDS
from .matrices import LabelledMatrix
from .models import max_cover, partial_cover
from .population import largest_remainder
from .progress import progress

FAMILY_NAMES = {
    "eldercare_stations": ("社区养老服务驿站", "Community eldercare stations"),
    "care_centres": ("街乡镇养老照料中心", "Township eldercare care centres"),
    "psych_points": ("社会心理服务中心(站)", "Psychological-service points"),
    "cemeteries": ("公益性公墓", "Public cemeteries"),
}


@dataclass
class FamilyResult:
    """One family's plan: chosen sites, what they cover, and the KPI against the target."""

    family: str
    sites: gpd.GeoDataFrame  # chosen sites (new and existing) with site_id, existing, district_code, township_code
    kpi: dict
    by_district: pd.DataFrame
    cell_covered: pd.Series | None = None  # cell_id → covered
    unit_table: pd.DataFrame | None = None  # per township (care centres, cemeteries) or per community
    solutions: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: solved exactly without a MILP (e.g. a 1-median by enumeration): the gap is 0
    exact: bool = False

    @property
    def worst_gap(self) -> float | None:
        gaps = [s.gap for s in self.solutions if s.gap is not None]
        if self.exact and not gaps:
            return 0.0
        return max(gaps) if gaps else None


def _solver_kw(solver) -> dict:
    return {"solver": solver.name, "time_limit_s": solver.time_limit_s, "mip_rel_gap": solver.mip_rel_gap}


def district_quotas(
    cells: pd.DataFrame, total: int, *, quota: str, table: dict[str, int], resolve, level: str = "district_code"
) -> pd.Series:
    """Stations per district (or per township with ``level="township_code"``): split by older population with the
    largest-remainder rule, or taken from a table of districts."""
    older = cells.groupby(level)["pop_60"].sum()
    if quota == "table":
        q = pd.Series({resolve(k): int(v) for k, v in table.items()}).reindex(older.index).fillna(0).astype(int)
        return q
    split = largest_remainder(np.full(len(older), total), older.to_numpy(float), np.zeros(len(older)))
    return pd.Series(split, index=older.index)


def eldercare_stations(demand, travel, sites, existing, spec, solver, resolve) -> FamilyResult:
    """Stations: maximise the older population within the time limit (per-district quotas), or the fewest."""
    cells = demand.cells
    cov = travel.cost
    w = cells.set_index("cell_id")["pop_60"].reindex(cov.row_ids).to_numpy(float)
    site_d = sites.set_index("site_id")["district_code"].reindex(cov.col_ids).to_numpy()
    cell_d = cells.set_index("cell_id")["district_code"].reindex(cov.row_ids).to_numpy()
    ex_ids = list(existing["site_id"]) if existing is not None and len(existing) else []
    ex_d = sites.set_index("site_id").loc[ex_ids, "district_code"] if ex_ids else pd.Series(dtype=str)
    districts = sorted(set(cell_d))
    notes: list[str] = []
    sols = []
    chosen: list = []
    level = "district_code"
    if spec.mode == "max_cover" and spec.quota == "citywide":
        groups = [("citywide", districts, spec.stations)]
    elif spec.mode == "max_cover" and spec.quota == "township_older_population":
        level = "township_code"
        q = district_quotas(cells, spec.stations, quota="older_population", table={}, resolve=resolve, level=level)
        groups = [(t, [t], int(n)) for t, n in q.items()]
        notes.append(
            "township quotas: the stations are split among township-level units by their people aged 60+ (largest "
            "remainder) and each unit is planned on its own; coverage across unit borders counts in the results"
        )
    elif spec.mode == "max_cover":
        q = district_quotas(cells, spec.stations, quota=spec.quota, table=spec.quota_table, resolve=resolve)
        groups = [(d, [d], int(q.get(d, 0))) for d in districts]
        notes.append(
            "district quotas: "
            + (
                "split by older population (largest remainder)"
                if spec.quota == "older_population"
                else "from the scenario table"
            )
            + "; each district is planned on its own (coverage across a district border counts in the results only)"
        )
    else:
        groups = [(d, [d], None) for d in districts]
    if level == "township_code":
        cell_d = cells.set_index("cell_id")["township_code"].reindex(cov.row_ids).to_numpy()
        site_d = sites.set_index("site_id")["township_code"].reindex(cov.col_ids).to_numpy()
        ex_d = sites.set_index("site_id").loc[ex_ids, "township_code"] if ex_ids else pd.Series(dtype=str)

    def solve(label, ds, total):
        rmask = np.isin(cell_d, ds)
        cmask = np.isin(site_d, ds)
        sub = LabelledMatrix(cov.matrix[rmask][:, cmask], cov.row_ids[rmask], cov.col_ids[cmask], cov.unit)
        ex_here = [e for e in ex_ids if ex_d.get(e) in ds]
        if spec.mode == "max_cover":
            p_new = max(0, total - len(ex_here))
            n_allowed = int(cmask.sum()) - len(ex_here)
            return max_cover(sub, w[rmask], min(p_new, n_allowed), existing=ex_here, **_solver_kw(solver)), p_new
        try:
            return partial_cover(sub, w[rmask], spec.coverage_target, existing=ex_here, **_solver_kw(solver)), None
        except InfeasibleModelError as exc:
            notes.append(f"{label}: {exc}")
            return None, None

    by_label: dict = {}
    unit = "township" if level == "township_code" else "district"
    for label, ds, total in progress(groups, desc="eldercare stations", unit=unit):
        by_label[label] = (ds, total, *solve(label, ds, total))
    if spec.mode == "max_cover":
        # a unit whose quota exceeds the sites that add coverage gives the rest to the other units, by older
        # population (largest remainder); only the units that receive stations are solved again
        for _ in range(5):
            short = {
                lb: v[3] - len(v[2].new_sites)
                for lb, v in by_label.items()
                if v[2] is not None and v[3] is not None and len(v[2].new_sites) < v[3]
            }
            leftover = sum(short.values())
            if leftover <= 0:
                break
            takers = [lb for lb in by_label if lb not in short]
            if not takers:
                break
            older = np.array([w[np.isin(cell_d, by_label[lb][0])].sum() for lb in takers])
            extra = largest_remainder(np.full(len(takers), leftover), older, np.zeros(len(takers)))
            for lb, sh in short.items():
                ds, total, sol, p_new = by_label[lb]
                by_label[lb] = (ds, total - sh, sol, p_new - sh)
            for lb, k in zip(takers, extra, strict=True):
                if k > 0:
                    ds, total, _, _ = by_label[lb]
                    by_label[lb] = (ds, total + int(k), *solve(lb, ds, total + int(k)))
            notes.append(f"{leftover} station(s) moved from units with more quota than useful sites to other units")
    for label, (_ds, _total, sol, _p) in by_label.items():
        if sol is None:
            continue
        sols.append(sol)
        chosen += sol.selected
        notes += [f"{label}: {n}" for n in sol.notes if "per-unit" not in n and "add coverage" not in n]
    chosen_set = set(chosen)
    covered = _covered(cov, chosen_set)
    cov_s = pd.Series(covered, index=cov.row_ids)
    older_cov = float(w[covered].sum())
    older_tot = float(cells["pop_60"].sum())
    out_sites = _site_table(sites, chosen_set, ex_ids)
    by_d = _district_rows(cells, cov_s, out_sites, "pop_60")
    n_sites = len(out_sites)
    if spec.mode == "max_cover":
        target, achieved, unit = float(spec.stations), float(n_sites), "stations"
        met = n_sites >= spec.stations
    else:
        target, achieved, unit = (
            spec.coverage_target,
            older_cov / older_tot if older_tot else 0.0,
            "share of people aged 60+",
        )
        met = achieved + 1e-12 >= spec.coverage_target
    kpi = {
        "target": target,
        "achieved": achieved,
        "met": bool(met),
        "unit": unit,
        "older_covered": older_cov,
        "older_total": older_tot,
        "older_covered_share": older_cov / older_tot if older_tot else 0.0,
        "coverage_basis": f"people aged 60+ within {travel.time_limit_min:g} min ({travel.mode.replace('_', ' ')})",
    }
    return FamilyResult("eldercare_stations", out_sites, kpi, by_d, cov_s, None, sols, notes)


def _covered(cov: LabelledMatrix, chosen: set) -> np.ndarray:
    """Rows reached by an open site. Uses the stored pattern, so a site at 0 minutes counts (``!= 0`` would not)."""
    open_mask = np.isin(cov.col_ids, list(chosen))
    coo = cov.matrix.tocoo()
    hit = open_mask[coo.col]
    out = np.zeros(cov.shape[0], dtype=bool)
    out[coo.row[hit]] = True
    return out


def _site_table(sites: gpd.GeoDataFrame, chosen: set, existing_ids: list) -> gpd.GeoDataFrame:
    out = sites[sites["site_id"].isin(chosen)].copy()
    out["existing"] = out["site_id"].isin(existing_ids)
    out["status"] = np.where(out["existing"], "existing (kept)", "new")
    return out


def _district_rows(cells, covered: pd.Series, out_sites, weight: str) -> pd.DataFrame:
    c = cells.set_index("cell_id")
    cov = covered.reindex(c.index).fillna(False).astype(bool)
    g = pd.DataFrame({"district_code": c["district_code"], "w": c[weight], "cw": c[weight] * cov})
    t = g.groupby("district_code").agg(total=("w", "sum"), covered=("cw", "sum"))
    t["covered_share"] = t["covered"] / t["total"].where(t["total"] > 0)
    s = out_sites.groupby("district_code")["existing"].agg(sites_new=lambda x: int((~x).sum()), sites_existing="sum")
    t = t.join(s).fillna({"sites_new": 0, "sites_existing": 0})
    return t.reset_index()


def _unit_district_rows(district_code: pd.Series, served: pd.Series, out_sites: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per district: units, units served, their share, and the new / existing sites (unit-counted families)."""
    frame = pd.DataFrame({"district_code": np.asarray(district_code), "served": np.asarray(served, dtype=bool)})
    t = frame.groupby("district_code").agg(units=("served", "size"), covered=("served", "sum"))
    t["covered_share"] = t["covered"] / t["units"]
    s = out_sites.groupby("district_code")["existing"].agg(sites_new=lambda x: int((~x).sum()), sites_existing="sum")
    return t.join(s).fillna({"sites_new": 0, "sites_existing": 0}).reset_index()


def _one_median_per_unit(cells, sites, unit_codes, weight, travel, desc) -> pd.DataFrame:
    """For each unit, the candidate site of that unit minimising the weighted straight-line travel (1-median)."""
    m_per_min = travel.speed_kmh * 1000 / 60
    cxy = np.column_stack([cells.geometry.x, cells.geometry.y]) if len(cells) else np.zeros((0, 2))
    rows = []
    c_by = cells.groupby("township_code").indices
    s_by = sites.groupby("township_code").indices
    sxy = np.column_stack([sites.geometry.x, sites.geometry.y]) if len(sites) else np.zeros((0, 2))
    for code in progress(unit_codes, desc=desc, unit="township"):
        ci = c_by.get(code, np.array([], int))
        si = s_by.get(code, np.array([], int))
        if len(si) == 0:
            rows.append({"township_code": code, "site_id": None, "mean_minutes": np.nan})
            continue
        wv = cells[weight].to_numpy(float)[ci]
        if len(ci) == 0 or wv.sum() == 0:
            j = si[0]
            rows.append({"township_code": code, "site_id": sites["site_id"].iloc[j], "mean_minutes": np.nan})
            continue
        D = np.hypot(*(cxy[ci][:, None, :] - sxy[si][None, :, :]).transpose(2, 0, 1)) * travel.detour_factor / m_per_min
        # one site per unit: the 1-median is found exactly by evaluating every candidate
        total = wv @ D
        j = int(np.argmin(total))
        rows.append(
            {"township_code": code, "site_id": sites["site_id"].iloc[si[j]], "mean_minutes": total[j] / wv.sum()}
        )
    return pd.DataFrame(rows, columns=["township_code", "site_id", "mean_minutes"])


def care_centres(demand, travel, sites, areas_units, spec) -> FamilyResult:
    """One care centre in every township-level unit with a polygon, at its older population's 1-median."""
    cells = demand.centroids()
    towns = demand.townships
    codes = list(towns["township_code"])
    table = _one_median_per_unit(cells, sites, codes, "pop_60", travel, "care centres")
    chosen = set(table["site_id"].dropna())
    out_sites = _site_table(sites, chosen, [])
    units = areas_units[areas_units["district_code"].isin(towns["district_code"])]
    served = units["township_code"].isin(table.dropna(subset=["site_id"])["township_code"])
    missing = units[~served]
    notes = []
    if len(missing):
        notes.append(
            f"{len(missing)} township-level unit(s) cannot get a centre placed: no boundary in the bundled data "
            f"(new subdistricts of 2019–2021): {', '.join(missing['name_zh'])}. Their people are inside older "
            "polygons, which do get centres; give boundaries to plan them separately."
        )
    table = table.merge(
        towns[["township_code", "name_zh", "kind", "district_code", "pop_60"]], on="township_code", how="left"
    )
    kpi = {
        "target": float(len(units) * spec.per_township),
        "achieved": float(int(served.sum())),
        "met": bool(served.all()),
        "unit": "township-level units (NBS 2023) with a care centre",
        "units_total": len(units),
        "units_without_boundary": list(missing["township_code"]),
        "mean_minutes_to_centre": float(
            np.nansum(table["mean_minutes"] * table["pop_60"]) / max(table["pop_60"].sum(), 1)
        ),
    }
    by_d = _unit_district_rows(units["district_code"], served, out_sites)
    notes.append(
        "each centre at the site with the least mean straight-line travel for the unit's older people (1-median, exact)"
    )
    return FamilyResult("care_centres", out_sites, kpi, by_d, None, table, [], notes, exact=True)


def psych_points(demand, travel_comm, travel_cells, sites, spec, solver) -> FamilyResult:
    """Partial cover over communities with a known location; population coverage reported beside it."""
    comm = demand.communities
    cov = travel_comm.cost
    notes = []
    if spec.mode == "min_points":
        try:
            sol = partial_cover(cov, None, spec.share, **_solver_kw(solver))
        except InfeasibleModelError as exc:
            notes.append(str(exc))
            sol = max_cover(cov, None, min(spec.max_new, cov.shape[1]), **_solver_kw(solver))
            notes.append("fell back to covering as many communities as possible")
    else:
        sol = max_cover(cov, None, min(spec.max_new, cov.shape[1]), **_solver_kw(solver))
    chosen = set(sol.selected)
    c_cov = pd.Series(_covered(cov, chosen), index=cov.row_ids)
    out_sites = _site_table(sites, chosen, [])
    cells_cov = pd.Series(_covered(travel_cells.cost, chosen), index=travel_cells.cost.row_ids)
    pop_share = float(
        demand.cells.set_index("cell_id")["pop"].reindex(cells_cov.index)[cells_cov.to_numpy()].sum()
        / max(demand.cells["pop"].sum(), 1)
    )
    n_known = len(comm)
    share = float(c_cov.mean()) if n_known else 0.0
    kpi = {
        "target": spec.share,
        "achieved": share,
        "met": bool(share + 1e-12 >= spec.share),
        "unit": "share of communities/villages with a known location within reach",
        "communities_known": n_known,
        "communities_total_2023": int(demand.params.get("communities_total", 0)),
        "population_covered_share": pop_share,
        "coverage_basis": f"{n_known} community/village points with a location (2016 geocodes); population share "
        "from demand cells",
        "new_points_limit": spec.max_new,
        "limit_met": len(out_sites) <= spec.max_new,
    }
    if len(out_sites) > spec.max_new:
        notes.append(f"{len(out_sites)} points are needed for {spec.share:.0%}, more than the {spec.max_new} planned")
    cc = comm.set_index("community_code")
    by_d = _unit_district_rows(cc["district_code"].reindex(c_cov.index), c_cov, out_sites)
    unit_table = comm.assign(covered=c_cov.reindex(comm["community_code"]).to_numpy())
    return FamilyResult("psych_points", out_sites, kpi, by_d, cells_cov, unit_table, [sol], notes + sol.notes)


def cemeteries(demand, travel, sites_ok, sites_all, spec) -> FamilyResult:
    """One cemetery per rural township at its population's 1-median among sites away from dense housing."""
    towns = demand.townships
    rural = towns[towns["kind"].isin(RURAL_KINDS) & ~towns["township_code"].str.startswith("poi86:")]
    cells = demand.centroids()
    table = _one_median_per_unit(cells, sites_ok, list(rural["township_code"]), "pop", travel, "cemeteries")
    table = table.merge(rural[["township_code", "name_zh", "kind", "district_code", "pop"]], on="township_code")
    n_cand = sites_all.groupby("township_code").size()
    table["reason"] = np.where(
        table["site_id"].notna(),
        "",
        np.where(
            table["township_code"].map(n_cand).fillna(0) > 0,
            f"every candidate site lies within {spec.min_distance_from_dense_m:g} m of dense housing "
            f"(≥ {spec.dense_density_per_km2:g} people/km²)",
            "no candidate site in the township",
        ),
    )
    chosen = set(table["site_id"].dropna())
    out_sites = _site_table(sites_ok, chosen, [])
    served = table["site_id"].notna()
    share = float(served.mean()) if len(table) else None
    notes = (
        [] if len(table) else ["no rural township (镇/乡/地区) in the area: the cemetery target does not apply here"]
    )
    left = table[~served]
    if len(left):
        notes.append(
            f"{len(left)} rural township(s) without a feasible site: "
            + "; ".join(f"{r.name_zh} ({r.township_code}): {r.reason}" for r in left.itertuples())
        )
    superseded = towns[towns["kind"].isin(RURAL_KINDS) & towns["township_code"].str.startswith("poi86:")]
    if len(superseded):
        notes.append(
            f"{len(superseded)} rural polygon(s) without a 2023 code are not counted: {', '.join(superseded['name_zh'])}"
        )
    kpi = {
        "target": spec.target_share,
        "achieved": share,
        "met": None if share is None else bool(share + 1e-12 >= spec.target_share),
        "unit": "share of rural townships (镇/乡/地区) with a cemetery site",
        "rural_townships": len(table),
        "unserved": [r.township_code for r in left.itertuples()],
    }
    by_d = _unit_district_rows(table["district_code"], served, out_sites)
    return FamilyResult("cemeteries", out_sites, kpi, by_d, None, table, [], notes, exact=True)


__all__ = ["FAMILY_NAMES", "FamilyResult", "care_centres", "cemeteries", "eldercare_stations", "psych_points"]
