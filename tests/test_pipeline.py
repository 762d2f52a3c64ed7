"""The main job end to end on real data (small areas), atomic outputs, existing facilities."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest

from facility_planner import OutputExistsError, ScenarioError
from facility_planner.pipeline import run_scenario
from facility_planner.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_plan(sample_small_plan):
    return sample_small_plan


def _covered_by_hand(fam):
    """Which demand points lie within the family's walk of a chosen site, recomputed from the plan's own points:
    straight-line metres × detour ≤ speed × time limit (brute force over every point × site pair)."""
    t = fam.travel
    reach_m = t["speed_kmh"] * 1000.0 * t["time_limit_min"] / 60.0 / t["detour_factor"]
    sites = fam.sites.to_crs(fam.demand.crs).geometry
    nearest = np.array([sites.distance(g).min() for g in fam.demand.geometry])
    return nearest <= reach_m * (1 + 1e-9)


def test_targets_and_kpis(small_plan):
    s = small_plan.summary()
    st = s["families"]["eldercare_stations"]
    # Xicheng's part of 1,200 by people aged 60+: computed here independently of the planner
    from facility_planner.demand import beijing_zones
    from facility_planner.population import largest_remainder

    zones, _, _ = beijing_zones()
    older = zones.groupby("district_code")["pop_60"].sum()
    part = dict(
        zip(
            older.index,
            largest_remainder(np.full(len(older), 1200), older.to_numpy(), np.zeros(len(older))),
            strict=True,
        )
    )
    assert st["target"] == part["110102"] == st["sites_new"] and st["met"] and st["gap"] <= 0.005
    assert "1,200" in st["target_basis"]
    es = small_plan.families["eldercare_stations"]
    covered = _covered_by_hand(es)
    assert (covered == es.demand["covered"].to_numpy()).all()
    w = es.demand["weight"].to_numpy()
    assert st["covered_share"] == pytest.approx(w[covered].sum() / w.sum(), rel=1e-9)
    cc = s["families"]["care_centres"]
    assert cc["achieved"] == 15 == cc["target"]  # Xicheng's 15 subdistricts all have a polygon
    ps = s["families"]["psych_points"]
    pp = small_plan.families["psych_points"]
    reached = _covered_by_hand(pp)
    assert len(pp.demand) == 148 and (reached == pp.demand["covered"].to_numpy()).all()
    assert ps["achieved"] == pytest.approx(reached.sum() / 148) and ps["achieved"] >= 0.8  # the 80% target
    assert ps["met"] and "known location" in ps["measured_on"]
    assert ps["met_text"].startswith("yes (on the 148 communities")
    cm = s["families"]["cemeteries"]
    assert cm["achieved"] is None and cm["met"] is None  # Xicheng has no rural township
    assert s["population"] == 1_106_214
    # per-district rows carry Chinese and English names
    assert s["families"]["eldercare_stations"]["districts"][0]["name_zh"] == "西城区"
    beds = s["families"]["relief_care_beds"]
    assert beds["target"] == 200 == beds["achieved"]  # the plan names Xicheng: ≥ 200 beds


@pytest.mark.slow  # over 3 s (writes the plan twice): out of `make check`, in `make test`
def test_outputs_layers_and_refusal_to_overwrite(small_plan, tmp_path):
    out = tmp_path / "p"
    small_plan.write(out, maps=False)
    layers = {n for n, _ in pyogrio.list_layers(out / "plan.gpkg")}
    assert {
        "sites_eldercare_stations",
        "sites_care_centres",
        "sites_psych_points",
        "demand_cells",
        "townships",
    } <= layers
    cells = gpd.read_file(out / "plan.gpkg", layer="demand_cells")
    assert "covered_eldercare_stations" in cells.columns and cells.crs.to_epsg() == 4326
    with pytest.raises(OutputExistsError, match="--force"):
        small_plan.write(out, maps=False)
    small_plan.write(out, maps=False, force=True)


def test_failed_write_leaves_nothing_half_written(small_plan, tmp_path, monkeypatch):
    import facility_planner.plan as plan_mod

    out = tmp_path / "p"
    out.mkdir()
    (out / "keep.txt").write_text("old plan")

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plan_mod, "write_csv_excel", boom)
    with pytest.raises(RuntimeError):
        small_plan.write(out, maps=False, force=True)
    assert (out / "keep.txt").read_text() == "old plan" and not (out / "plan.gpkg").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["p"]  # no temporary folder left behind


BASE = str(ROOT / "scenarios" / "beijing_2025.yaml")


def _only(*keys, **families):
    return {"plan_only": list(keys), "families": families}


def test_existing_stations_are_kept(tmp_path):
    # SYNTHETIC existing stations: two points inside Xicheng, given as a user's CSV
    f = tmp_path / "stations.csv"
    f.write_text("name,lon,lat\n驿站甲,116.3650,39.9120\n驿站乙,116.3800,39.8900\n", encoding="utf-8")
    scn = scenario_from_dict(
        {
            "name": "t",
            "extends": BASE,
            "district": "Xicheng",
            "demand": {"cell_size_m": 1000.0},
            "base_dir": str(tmp_path),
            **_only(
                "eldercare_stations",
                eldercare_stations={
                    "by_district": {"Xicheng": 10},
                    "count": None,
                    "existing": {"file": "stations.csv"},
                },
            ),
        }
    )
    plan = run_scenario(scn)
    st = plan.summary()["families"]["eldercare_stations"]
    assert st["target"] == 10 and st["sites_existing"] == 2 and st["sites_new"] == 8
    assert not any("no existing sites given for community eldercare" in n for n in plan.notes)


def test_existing_outside_area_is_refused(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("lon,lat\n121.47,31.23\n")
    scn = scenario_from_dict(
        {
            "name": "t",
            "extends": BASE,
            "district": "Xicheng",
            "demand": {"cell_size_m": 1000.0},
            "base_dir": str(tmp_path),
            **_only("eldercare_stations", eldercare_stations={"existing": {"file": "s.csv"}}),
        }
    )
    with pytest.raises(ScenarioError, match="none of the 1 point"):
        run_scenario(scn)


def test_network_scenario_flags_fallback_and_changes_the_plan():
    def plan(mode):
        return run_scenario(
            scenario_from_dict(
                {
                    "name": "n",
                    "extends": BASE,
                    "district": "Haidian",
                    "demand": {"cell_size_m": 1000.0},
                    "base_dir": str(ROOT / "scenarios"),
                    "travel": {"network_file": "../data/beijing/zhongguancun_osm_roads_wgs84.geojson"},
                    **_only("psych_points", psych_points={"travel": {"mode": mode}}),
                }
            )
        )

    net, walk = plan("network"), plan("walk")
    d = net.families["psych_points"].demand
    assert d["straight_line_fallback"].any() and not d["straight_line_fallback"].all()
    # where the network reaches, the plan differs from the straight-line plan
    on_net = set(d.loc[~d["straight_line_fallback"], "township_code"])
    sites_net = net.families["psych_points"].sites
    sites_walk = walk.families["psych_points"].sites
    a = set(sites_net.loc[sites_net["township_code"].isin(on_net), "site_id"])
    b = set(sites_walk.loc[sites_walk["township_code"].isin(on_net), "site_id"])
    assert a != b
    assert net.summary()["families"]["psych_points"]["travel"]["mode"] == "network"
