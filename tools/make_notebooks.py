"""Write the teaching notebooks (without outputs). Run: python tools/make_notebooks.py"""

from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).resolve().parents[1] / "notebooks"


def nb(cells):
    book = nbf.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    book.cells = [
        nbf.v4.new_markdown_cell(c[3:]) if c.startswith("md:") else nbf.v4.new_code_cell(c.strip()) for c in cells
    ]
    return book


Q = [
    """md:# 01 · Quickstart: from the census to eldercare stations in one district

This notebook walks through the toolkit on the bundled Beijing data: the demand layer built from the 2020 census,
a plan for community eldercare stations (社区养老服务驿站) in one district, and the map you would hand over.
Everything runs offline.""",
    """import facility_planner as fp

layer = fp.beijing_demand(district="Dongcheng", cell_size_m=500)
layer.district_table()""",
    """md:Each cell carries people (`pop`) and people aged 60+ (`pop_60`), with its township and district codes.
The totals are the 2020 census figures exactly; `pop_source` on each township says where its share came from.""",
    """layer.cells[["cell_id", "township_code", "district_code", "pop", "pop_60"]].head()""",
    """layer.townships[["township_code", "name_zh", "kind", "pop", "pop_60", "pop_source"]].head()""",
    """md:## Plan stations for the district

A scenario says what to plan. The bundled `beijing_2025.yaml` holds every target of the 2025 plan as a family block;
this one `extends` it, plans Dongcheng's part (a count is the city's target: Dongcheng gets its share of the 1,200
stations by older population) and only the stations.""",
    """scenario = fp.scenario_from_dict({
    "name": "dongcheng_stations",
    "extends": "../scenarios/beijing_2025.yaml",
    "district": "Dongcheng",
    "plan_only": ["eldercare_stations"],
})
plan = fp.run_scenario(scenario)
stations = plan.summary()["families"]["eldercare_stations"]
{k: stations[k] for k in ("target", "achieved", "met", "covered_share", "gap", "target_basis", "coverage_basis")}""",
    """md:`gap` is the solver's proven optimality gap: 0 means no other placement of as many stations covers more older people.
Every assumption the plan rests on is listed in its notes:""",
    """for note in plan.notes:
    print("-", note)""",
    """md:## The map

`fp.show` displays the map with every script inlined, so it works without internet, like the files handed to districts.""",
    """fp.show(fp.plan_map(plan.layers(), plan.summary(), district="110101"))""",
]

N = [
    """md:# 02 · The 15-minute circle by street network in Haidian, against straight lines

Whether an older resident is "covered" depends on how far they really walk. This notebook measures the
15-minute walk on the OpenStreetMap streets of Zhongguancun (中关村, Haidian; © OpenStreetMap contributors,
ODbL) and compares it with the straight-line estimate.""",
    """import facility_planner as fp
from facility_planner.areas import data_dir
from facility_planner.models import max_cover
from facility_planner.network import network_from_lines
from facility_planner.sites import candidates_from_demand
from facility_planner.travel import network_travel, straight_line

network = network_from_lines(data_dir() / "zhongguancun_osm_roads_wgs84.geojson")
network.notes""",
    """md:We keep the cells and candidate sites that lie where the street network is (its convex hull), at 250 m.""",
    """layer = fp.beijing_demand(district="Haidian", cell_size_m=250)
hull = network.hull(0)
cells = layer.centroids()
cells = cells[cells.geometry.within(hull)]
sites = candidates_from_demand(layer.cells, populated_only=True)
sites = sites[sites.geometry.within(hull)]
len(cells), len(sites), int(cells["pop_60"].sum())""",
    """by_street = network_travel(cells, sites, network)          # walked along streets, snap distance included
by_line = straight_line(cells, sites)                        # straight line × 1.2 detour factor
no_detour = straight_line(cells, sites, detour_factor=1.0)   # the crow's flight
{"pairs within 15 min — street": by_street.cost.matrix.nnz,
 "straight line × 1.2": by_line.cost.matrix.nnz,
 "straight line, no detour": no_detour.cost.matrix.nnz}""",
    """md:The street network never reaches further than the crow flies; the detour factor of 1.2 is an estimate of how much
further people walk. Now place 8 stations each way and measure both plans **by street**:""",
    """import pandas as pd

weights = cells.set_index("cell_id")["pop_60"]
plan_street = max_cover(by_street.cost, weights, 8, mip_rel_gap=0.0)
plan_line = max_cover(by_line.cost, weights, 8, mip_rel_gap=0.0)

def covered_by_street(selected):
    m = by_street.cost.subset(cols=selected).matrix.tocoo()
    reached = set(by_street.cost.row_ids[m.row])
    return weights[weights.index.isin(reached)].sum() / weights.sum()

pd.DataFrame({
    "planned by": ["street network", "straight line × 1.2"],
    "older people covered (street measure)": [covered_by_street(plan_street.selected), covered_by_street(plan_line.selected)],
    "covered as the plan itself claims": [plan_street.extra["covered_share"], plan_line.extra["covered_share"]],
    "solver gap": [plan_street.gap, plan_line.gap],
})""",
    """md:What changes: a straight-line plan claims a coverage the streets do not deliver, and its sites, judged by the street
measure, cover fewer older people than sites chosen on the network. Where the network data run out, the toolkit
falls back to straight lines and flags those cells (`by_street.fallback`).""",
    """int(by_street.fallback.sum()), len(by_street.fallback)""",
]

C = [
    """md:# 03 · One public cemetery per rural township (公益性公墓)

The plan asks for a public cemetery in every rural township (乡镇: towns 镇 and townships 乡; area offices 地区 only
when a scenario asks), away from housing, with the best access by car for the township's people; 80% of rural
townships served is the target. This notebook plans it for Fangshan and Chaoyang and shows which townships are left
without a feasible site, and why.""",
    """import pandas as pd

import facility_planner as fp

def cemetery_plan(district, distance_m=1000, dense=1000, kinds=("town", "township")):
    scenario = fp.scenario_from_dict({
        "name": f"cemeteries_{district}", "extends": "../scenarios/beijing_2025.yaml", "district": district,
        "plan_only": ["cemeteries"],
        "families": {"cemeteries": {
            "unit_kinds": list(kinds),
            "exclude": {"away_from_housing": {"distance_m": float(distance_m), "density_per_km2": float(dense)}},
        }},
    })
    return fp.run_scenario(scenario).families["cemeteries"]

fangshan = cemetery_plan("Fangshan")
fangshan.kpi.as_dict()""",
    """fangshan.unit_table[["unit", "name_zh", "sites", "mean_minutes", "within_limit_share", "reason"]].head(10)""",
    """md:Chaoyang has no towns or townships, only area offices (地区), most of them built up. Counted as rural townships
on request, many have no site 1 km from housing, and each is named with the reason:""",
    """chaoyang = cemetery_plan("Chaoyang", kinds=("town", "township", "area_office"))
print(chaoyang.kpi.achieved, "of rural townships served; target", chaoyang.kpi.target)
chaoyang.unit_table.loc[chaoyang.unit_table["sites"] < 1, ["unit", "name_zh", "reason"]]""",
    """md:What counts as housing, and how far away a cemetery must be, are planning choices; the plan shows their effect:""",
    """rows = []
for distance_m, dense in [(1000, 1000), (500, 1000), (500, 5000), (300, 15000)]:
    k = cemetery_plan("Chaoyang", distance_m, dense, kinds=("town", "township", "area_office")).kpi
    rows.append({"no housing within (m)": distance_m, "housing = people/km² ≥": dense,
                 "share served": k.achieved, "without a site": len(k.figures["units_unserved"]), "target": k.target})
pd.DataFrame(rows)""",
]

S = [
    """md:# 04 · Two scenarios side by side

Planners compare options: here, Xicheng with its part of the 1,200 stations against 80, with everything else equal.
The maps are synchronised (pan one, the other follows) and the table lists the differences.""",
    """import facility_planner as fp

def xicheng(stations=None):
    families = {} if stations is None else {"eldercare_stations": {"count": None, "by_district": {"Xicheng": stations}}}
    return fp.run_scenario(fp.scenario_from_dict({
        "name": f"xicheng_{stations or 'plan'}", "extends": "../scenarios/beijing_2025.yaml", "district": "Xicheng",
        "plan_only": ["eldercare_stations", "psych_points"], "families": families,
    }))

a, b = xicheng(), xicheng(80)
# coverage change in percentage points; sites kept, added, removed, and moved (B's nearest within 500 m)
fp.compare_summaries(a.summary(), b.summary(), layers=(a.layers(), b.layers()))""",
    """md:The older population within a 15-minute walk:""",
    """sa, sb = a.summary()["families"]["eldercare_stations"], b.summary()["families"]["eldercare_stations"]
sa["covered_share"], sb["covered_share"]""",
    """fp.show(fp.comparison_map(a.layers(), b.layers(), names=(f"{sa['sites_new']} stations", "80 stations")), height=500)""",
]

Y = [
    """md:# 05 · Your own data: stations from Gaode, a population raster, a street network

Planners arrive with their own files. This notebook brings three of them to the toolkit: a list of existing
stations exported from Gaode (GBK text, 经度/纬度 headers, GCJ-02 coordinates, no tag saying so), a population raster
and a street network. So that it runs anywhere, offline, the files are written here:

* the **station list is a SYNTHETIC stand-in**: the bundled community/village points of Beijing (real locations),
  shifted to GCJ-02 as Gaode would give them, named as stations;
* the **population raster is SYNTHETIC**: the density of those points on a 0.002° grid, standing in for WorldPop's
  100 m population count (download that one for real plans, see the README);
* the **street network** is the bundled OpenStreetMap extract of Zhongguancun (© OpenStreetMap contributors, ODbL),
  saved as GraphML as `facility-planner network fetch` would save it.""",
    """import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import facility_planner as fp
from facility_planner.areas import data_dir, load_beijing
from facility_planner.coords import wgs84_to_gcj02
from facility_planner.io import clip_points_to_area, read_points

work = Path(tempfile.mkdtemp())
communities = load_beijing().communities.query("has_location")
lon, lat = wgs84_to_gcj02(communities["lon"].to_numpy(), communities["lat"].to_numpy())
export = pd.DataFrame({"名称": "驿站·" + communities["name_zh"], "经度": lon.round(6), "纬度": lat.round(6)})
export.to_csv(work / "驿站_高德导出.csv", index=False, encoding="gb18030")
export.head(3)""",
    """md:## Stations: refused until their coordinate system is said

Read as they are, these points would sit about 500 m from where the stations are. The reader notices (some points
fall outside Beijing as given but inside once converted from GCJ-02) and refuses, saying how to fix it:""",
    """try:
    read_points(work / "驿站_高德导出.csv", what="our stations")
except fp.ValidationError as err:
    print(err)""",
    """stations = read_points(work / "驿站_高德导出.csv", coord_system="gcj02", prefix="station", what="our stations")
print(*stations.attrs["read_notes"], sep="\\n")
stations.head(3)""",
    """md:A citywide list in a district plan: the stations in the district are kept, the others left out, and the
plan can say how many.""",
    """xicheng = fp.beijing_demand(district="Xicheng", cell_size_m=250)
kept, report = clip_points_to_area(stations, xicheng.townships, what="our stations")
print(report)
kept[["site_id", "name", "township_code"]].head(3)""",
    """md:## Where people live: a population raster

By default people are spread over each township's cells by area. A raster of where people live moves them into
the built-up cells; every township keeps its census total exactly.""",
    """import rasterio
from rasterio.transform import from_origin

px, west, south, east, north = 0.002, 115.4, 39.4, 117.5, 41.1
counts, _, _ = np.histogram2d(
    communities["lat"], communities["lon"],
    bins=[round((north - south) / px), round((east - west) / px)], range=[[south, north], [west, east]],
)
grid = counts[::-1].astype("float32")  # raster rows run from north to south
raster = work / "synthetic_population.tif"
with rasterio.open(
    raster, "w", driver="GTiff", width=grid.shape[1], height=grid.shape[0], count=1, dtype="float32",
    crs="EPSG:4326", transform=from_origin(west, north, px, px),
) as dst:
    dst.write(grid, 1)

by_raster = fp.beijing_demand(district="Xicheng", cell_size_m=250, population_raster=raster)
totals = pd.DataFrame({
    "by area": xicheng.cells.groupby("township_code")["pop"].sum(),
    "by raster": by_raster.cells.groupby("township_code")["pop"].sum(),
})
assert (totals["by area"] == totals["by raster"]).all()
totals.head()""",
    """def densest_tenth(layer):
    pop = np.sort(layer.cells["pop"].to_numpy())[::-1]
    return pop[: len(pop) // 10].sum() / pop.sum()


print(f"people in the densest tenth of cells: {densest_tenth(xicheng):.0%} by area, "
      f"{densest_tenth(by_raster):.0%} by the raster")""",
    """md:## A street network from a file

`facility-planner network fetch --district Haidian --out networks/haidian_walk.graphml` downloads a district's
walking network once (osmnx, needs the internet) and keeps it as GraphML; later runs read the file offline.
`.osm.pbf` extracts (Geofabrik) are read too. Every network file is checked on the way in: its CRS, its extent
against the study area, and how much of it is connected. Here the bundled Zhongguancun streets, saved as GraphML:""",
    """import networkx as nx

from facility_planner.network import read_network
from facility_planner.travel import network_travel

streets = read_network(data_dir() / "zhongguancun_osm_roads_wgs84.geojson")
G = streets.to_networkx()
G.graph["crs"] = streets.crs
nx.write_graphml(G, work / "zhongguancun.graphml")
network = read_network(work / "zhongguancun.graphml")
network.notes""",
    """haidian = fp.beijing_demand(district="Haidian", cell_size_m=250, population_raster=raster)
hull = network.hull(0)
cells = haidian.centroids()
cells = cells[cells.geometry.within(hull)]
ours, _ = clip_points_to_area(stations, haidian.townships)
ours = ours[ours.to_crs(cells.crs).geometry.within(hull)]
travel = network_travel(cells, ours, network, time_limit_min=15)
reached = travel.cost.matrix.getnnz(axis=1) > 0
older = cells["pop_60"].to_numpy()
print(f"{len(ours)} of our stations lie in the network's area; {older[reached].sum() / older.sum():.0%} of the "
      f"{older.sum():,} people aged 60+ there live within a 15-minute walk of one")""",
]

if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    for name, cells in [
        ("01_quickstart", Q),
        ("02_eldercare_15min_network", N),
        ("03_cemeteries_per_township", C),
        ("04_compare_scenarios", S),
        ("05_your_own_data", Y),
    ]:
        nbf.write(nb(cells), HERE / f"{name}.ipynb")
        print("wrote", name)
