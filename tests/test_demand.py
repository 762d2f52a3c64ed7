import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from facility_planner import ValidationError
from facility_planner.areas import load_haidian_census
from facility_planner.demand import build_demand_layer, grid_cells


@pytest.mark.slow  # over 3 s (builds the citywide 500 m layer): out of `make check`, in `make test`
def test_citywide_500m_meets_census_everywhere(city_500):
    cells = city_500.cells
    assert cells["pop"].sum() == 21_893_095
    census = pd.Series(city_500.townships.attrs["census_total"])
    assert (cells.groupby("district_code")["pop"].sum().reindex(census.index) == census).all()
    # each Haidian township equals its census figure
    hd = load_haidian_census().set_index("township_code")["pop_2020"]
    got = cells.groupby("township_code")["pop"].sum().reindex(hd.index)
    assert (got == hd).all()
    # township totals preserved for every township, older population too
    t = city_500.townships.set_index("township_code")
    assert (cells.groupby("township_code")["pop"].sum().reindex(t.index).fillna(0) == t["pop"]).all()
    assert (cells.groupby("township_code")["pop_60"].sum().reindex(t.index).fillna(0) == t["pop_60"]).all()
    assert cells["pop"].dtype.kind == "i" and (cells["pop"] >= 0).all()
    assert cells["cell_id"].is_unique


@pytest.mark.slow  # over 5 s: out of `make check`, in `make test`
def test_no_cell_outside_the_city(city_500):
    cells = city_500.cells
    # cells not cut are whole squares lying properly inside their township; check the cut ones (a fixed sample)
    cut = cells[cells.geometry.area < 500 * 500 - 1]
    sample = cut.sample(min(3000, len(cut)), random_state=0)
    towns = city_500.townships.set_index("township_code").geometry
    own = gpd.GeoSeries(towns.reindex(sample["township_code"]).values, crs=cells.crs)
    assert sample.geometry.difference(own, align=False).area.max() < 0.01  # m², floating-point noise only
    # the township polygons are the city: outside the official district outline lies a negligible area
    city = city_500.districts.to_crs(cells.crs).union_all()
    outside = sample.geometry.difference(city).area.sum()
    assert outside / sample.geometry.area.sum() < 1e-3
    # whole cells lie inside the outline
    whole = cells[cells.geometry.area >= 500 * 500 - 1].sample(3000, random_state=0)
    assert whole.geometry.within(city.buffer(1)).all()


def test_cells_partition_the_townships(haidian_500):
    area_cells = haidian_500.cells.geometry.area.sum()
    area_towns = haidian_500.townships.geometry.area.sum()
    assert area_cells == pytest.approx(area_towns, rel=1e-6)
    assert haidian_500.cells.crs.to_epsg() == 32650
    assert haidian_500.communities is not None and (haidian_500.communities["cell_id"] != "").all()
    assert haidian_500.cells["n_communities"].sum() == len(haidian_500.communities)


def test_250m_and_hex_keep_totals(synthetic_zones):
    for shape, size in (("square", 250), ("hex", 250), ("hex", 500)):
        layer = build_demand_layer(synthetic_zones, cell_size_m=size, shape=shape)
        assert layer.cells.groupby("township_code")["pop"].sum().to_dict() == {"T1": 1001, "T2": 2}
        assert layer.cells["pop_60"].sum() == 201
        assert layer.cells.geometry.area.sum() == pytest.approx(4_000_000, rel=1e-9)


def test_area_spread_is_proportional(synthetic_zones):
    layer = build_demand_layer(synthetic_zones, cell_size_m=1000)
    t1 = layer.cells[layer.cells["township_code"] == "T1"]
    assert sorted(t1["pop"]) == [500, 501]


def test_ancillary_weight_moves_people_to_streets(synthetic_zones):
    # SYNTHETIC street: one line only in the western half of T1
    street = gpd.GeoDataFrame(geometry=[shapely.LineString([(100, 500), (900, 500)])], crs=synthetic_zones.crs)
    layer = build_demand_layer(synthetic_zones, cell_size_m=1000, ancillary=street)
    t1 = layer.cells[layer.cells["township_code"] == "T1"].set_index("grid_col")
    assert t1.loc[0, "pop"] == 1001 and t1.loc[1, "pop"] == 0
    # T2 has no street: falls back to area and says so
    t2 = layer.cells[layer.cells["township_code"] == "T2"]
    assert t2["pop"].sum() == 2 and t2["weight_source"].str.startswith("area").all()


def test_grid_cells_cover_bounds():
    polys, _, _ = grid_cells((0, 0, 1000, 1000), 300, "hex")
    assert shapely.union_all(polys).contains(shapely.box(0, 0, 1000, 1000))
    polys, _, _ = grid_cells((0, 0, 1000, 1000), 300, "square")
    assert len(polys) == 16


def test_bad_zones_one_error_listing_everything(synthetic_zones):
    bad = synthetic_zones.copy()
    bad["pop"] = bad["pop"].astype(object)
    bad.loc[0, "pop"] = "many"
    bad.loc[1, "pop_60"] = -3
    bad.loc[1, "geometry"] = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])  # bow-tie
    with pytest.raises(ValidationError) as e:
        build_demand_layer(bad)
    msg = str(e.value)
    assert "non-numeric" in msg and "negative" in msg and "invalid geometr" in msg and "make_valid" in msg
    assert "3 problems" in msg


def test_missing_crs_and_columns(synthetic_zones):
    with pytest.raises(ValidationError, match="no CRS"):
        build_demand_layer(synthetic_zones.set_crs(None, allow_override=True))
    with pytest.raises(ValidationError, match="missing column"):
        build_demand_layer(synthetic_zones.drop(columns="district_code"))
    with pytest.raises(ValidationError, match="cell_size_m"):
        build_demand_layer(synthetic_zones, cell_size_m=-1)
    dup = pd.concat([synthetic_zones, synthetic_zones])
    with pytest.raises(ValidationError, match="unique"):
        build_demand_layer(gpd.GeoDataFrame(dup, crs=synthetic_zones.crs))


def test_geographic_zones_are_projected(synthetic_zones):
    layer = build_demand_layer(synthetic_zones.to_crs("EPSG:4326"), cell_size_m=500)
    assert layer.cells.crs.to_epsg() == 32650
    assert layer.cells["pop"].sum() == 1003
    assert np.isclose(layer.cells.geometry.area.sum(), 4e6, rtol=1e-4)


@pytest.mark.slow  # over 5 s: out of `make check`, in `make test`
def test_user_files_every_problem_in_one_error(tmp_path, beijing_areas):
    from facility_planner.coords import to_gcj02
    from facility_planner.demand import demand_from_files

    # real Xicheng township polygons, shifted to GCJ-02 but saved as if WGS-84 (the untagged case)
    towns = beijing_areas.townships[beijing_areas.townships["district_code"] == "110102"][
        ["township_code", "district_code", "geometry"]
    ]
    to_gcj02(towns).to_file(tmp_path / "towns.geojson")
    # SYNTHETIC population table with three mistakes: negative, text, and a code with no boundary
    rows = ["township_code,pop"] + [f"{c},1000" for c in towns["township_code"].iloc[2:]]
    rows += [f"{towns['township_code'].iloc[0]},-5", f"{towns['township_code'].iloc[1]},lots", "999999999,10"]
    (tmp_path / "pop.csv").write_text("\n".join(rows))
    with pytest.raises(ValidationError) as e:
        demand_from_files(tmp_path / "towns.geojson", tmp_path / "pop.csv")
    msg = str(e.value)
    assert "negative" in msg and "non-numeric" in msg and "999999999" in msg and "GCJ-02" in msg
    assert "4 problems" in msg
    # fixed: tagged as GCJ-02, clean numbers → a layer that sums to the table
    (tmp_path / "pop.csv").write_text("\n".join(["township_code,pop"] + [f"{c},1000" for c in towns["township_code"]]))
    layer = demand_from_files(tmp_path / "towns.geojson", tmp_path / "pop.csv", coord_system="gcj02")
    assert layer.cells["pop"].sum() == 1000 * len(towns)
