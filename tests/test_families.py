"""Families as data, on real Beijing data: a family the code never heard of, targets at the right level, cemeteries
sited as cemeteries."""

from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely

from facility_planner import ScenarioError
from facility_planner.demand import beijing_zones
from facility_planner.families import family_problem, split_count
from facility_planner.pipeline import plan_context, run_scenario
from facility_planner.population import largest_remainder
from facility_planner.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
BASE = str(ROOT / "scenarios" / "beijing_2025.yaml")

CANTEENS = {
    "name_zh": "老年餐桌",
    "name_en": "Elderly canteens",
    "serves": "pop_60",
    "travel": {"mode": "walk", "time_limit_min": 10},
    "model": "max_cover",
    "count": 300,
}


def _older_parts(total: int) -> dict:
    """Each district's part of ``total`` by people aged 60+, computed here without the planner's split."""
    zones, _, _ = beijing_zones()
    older = zones.groupby("district_code")["pop_60"].sum()
    parts = largest_remainder(np.full(len(older), total), older.to_numpy(), np.zeros(len(older)))
    return dict(zip(older.index, parts.tolist(), strict=True))


def test_a_family_the_code_never_heard_of_runs_everywhere(tmp_path):
    scn = scenario_from_dict(
        {
            "name": "canteens",
            "district": "Xicheng",
            "demand": {"cell_size_m": 1000.0},
            "families": {"elderly_canteens": CANTEENS},
        }
    )
    plan = run_scenario(scn)
    f = plan.summary()["families"]["elderly_canteens"]
    assert f["name_zh"] == "老年餐桌" and f["model"] == "max_cover"
    assert f["target"] == _older_parts(300)["110102"] == f["sites_new"]
    assert f["travel"]["time_limit_min"] == 10 and f["gap"] is not None
    plan.write(tmp_path / "p")
    layers = {n for n, _ in pyogrio.list_layers(tmp_path / "p" / "plan.gpkg")}
    assert {"sites_elderly_canteens", "coverage_elderly_canteens"} <= layers
    html = (tmp_path / "p" / "maps" / "index.html").read_text(encoding="utf-8")
    assert "老年餐桌" in html and "Elderly canteens" in html
    report = (tmp_path / "p" / "report.html").read_text(encoding="utf-8")
    assert "老年餐桌" in report
    csv = (tmp_path / "p" / "summary.csv").read_text(encoding="utf-8-sig")
    assert "elderly_canteens" in csv


def test_count_is_the_whole_area_target_and_a_district_gets_its_part():
    parts = _older_parts(1200)
    assert sum(parts.values()) == 1200
    city = plan_context(scenario_from_dict({"name": "c", "extends": BASE, "demand": {"cell_size_m": 2000.0}}))
    prob = family_problem(city, "eldercare_stations", city.scenario.families["eldercare_stations"])
    assert prob.district_parts.sum() == 1200 and prob.district_parts.to_dict() == parts
    assert prob.target_sites() == 1200
    one = plan_context(city.scenario, district="Haidian")
    prob_h = family_problem(one, "eldercare_stations", one.scenario.families["eldercare_stations"])
    assert prob_h.target_sites() == parts["110108"] and "part of 1,200" in prob_h.target_basis


def test_by_district_table_takes_its_parts_first():
    w = {"a": 1.0, "b": 3.0, "c": 0.0}
    import pandas as pd

    s = split_count(10, pd.Series(w), {"c": 2})
    assert s.to_dict() == {"a": 2, "b": 6, "c": 2} and s.sum() == 10


@pytest.fixture(scope="module")
def mentougou():
    scn = scenario_from_dict(
        {
            "name": "m",
            "extends": BASE,
            "district": "Mentougou",
            "demand": {"cell_size_m": 1000.0},
            "plan_only": ["eldercare_stations", "care_centres", "social_work_platforms", "cemeteries"],
        }
    )
    return run_scenario(scn)


def test_cemeteries_away_from_housing_and_off_other_families_cells(mentougou):
    spec = mentougou.scenario.families["cemeteries"]
    h = spec.exclude.away_from_housing
    cells = mentougou.demand.cells
    dens = cells["pop"] / (cells["area_m2"] / 1e6)
    dense = shapely.union_all(cells[dens >= h.density_per_km2].geometry.values)
    cem = mentougou.families["cemeteries"].sites
    assert len(cem) > 0
    pts = cem.to_crs(cells.crs).geometry
    assert all(dense.distance(p) > h.distance_m for p in pts)  # none within the stated distance of dense housing
    pop = cells.set_index("cell_id")["pop"]
    assert (cem["cell_id"].map(pop).fillna(0) <= spec.exclude.max_cell_pop).all()
    for other in ("eldercare_stations", "care_centres", "social_work_platforms"):
        taken = set(mentougou.families[other].sites["cell_id"].dropna())
        assert not taken & set(cem["cell_id"]), other
    k = mentougou.summary()["families"]["cemeteries"]
    # towns and townships only (Mentougou has area offices: they are not counted by default)
    units = mentougou.families["cemeteries"].unit_table
    kinds = mentougou.demand.townships.set_index("township_code")["kind"]
    assert set(units["unit"].map(kinds).dropna()) <= {"town", "township"}
    assert k["unit"].startswith("share of rural townships") and k["travel"]["mode"] == "drive"


def test_network_travel_without_a_street_file_is_a_scenario_error():
    fam = {**CANTEENS, "travel": {"mode": "network"}}  # the scenario's travel names no network_file either
    scn = scenario_from_dict(
        {"name": "net", "district": "Xicheng", "demand": {"cell_size_m": 1000.0}, "families": {"canteens": fam}}
    )
    with pytest.raises(ScenarioError, match=r"families\.canteens\.travel\.network_file"):
        run_scenario(scn)


def test_a_new_family_without_a_colour_takes_one_no_other_family_uses():
    from facility_planner.families import family_colours

    scn = scenario_from_dict({"name": "c", "extends": BASE, "families": {"elderly_canteens": CANTEENS}})
    colours = family_colours(scn)
    others = [c.lower() for k, c in colours.items() if k != "elderly_canteens"]
    assert len(colours) == 16 and colours["elderly_canteens"].lower() not in others
    # every family of the bundled plan keeps its own colour
    assert all(colours[k] == f.color for k, f in scn.families.items() if f.color)
