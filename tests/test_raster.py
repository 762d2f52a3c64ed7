"""Population where people live: a population raster spreads each township's people over its cells.

Every raster here is SYNTHETIC, written with rasterio in the test (a made-up "WorldPop-style" grid); the Beijing
test uses the bundled census and boundaries with such a synthetic raster. Also: per-district 60+ share tables and
population tables in the encodings planners use.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rasterio.transform import from_origin

from facility_planner import FacilityPlannerError, ValidationError
from facility_planner.coords import BEIJING_UTM, WGS84
from facility_planner.demand import beijing_demand, build_demand_layer, demand_from_files, raster_zonal_sums
from facility_planner.population import read_older_shares

X0, Y0 = 440_000.0, 4_420_000.0  # UTM 50N, in Beijing


def _write_raster(path, data, *, x0=X0, y0=Y0 + 1000, pixel=100.0, crs=BEIJING_UTM, nodata=None, count=1):
    """SYNTHETIC raster: ``data`` rows from the north edge ``y0`` down, columns from the west edge ``x0``."""
    data = np.asarray(data, dtype="float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[1],
        height=data.shape[0],
        count=count,
        dtype="float32",
        crs=crs,
        transform=from_origin(x0, y0, pixel, pixel),
        nodata=nodata,
    ) as dst:
        for b in range(1, count + 1):
            dst.write(data, b)
    return path


@pytest.fixture
def zones():
    """SYNTHETIC: two 2 km × 1 km townships in one district (UTM 50N)."""
    return gpd.GeoDataFrame(
        {"township_code": ["T1", "T2"], "district_code": ["D1", "D1"], "pop": [10_000, 3_001], "pop_60": [2_000, 601]},
        geometry=[shapely.box(X0, Y0, X0 + 2000, Y0 + 1000), shapely.box(X0 + 2000, Y0, X0 + 4000, Y0 + 1000)],
        crs=BEIJING_UTM,
    )


def _built_up(shape=(10, 40)):
    """SYNTHETIC 100 m grid: 1 person per pixel, 50 in a 'built-up' block (the east half of T1's south row of cells)."""
    data = np.ones(shape, dtype="float32")
    data[5:10, 10:20] = 50.0  # x 1,000–2,000 m, y 0–500 m: one 1 km × 500 m block inside T1
    return data


def test_people_move_into_the_built_up_cells_and_totals_stay(tmp_path, zones):
    tif = _write_raster(tmp_path / "pop.tif", _built_up())
    by_area = build_demand_layer(zones, cell_size_m=500)
    by_raster = build_demand_layer(zones, cell_size_m=500, population_raster=tif)
    for layer in (by_area, by_raster):
        assert layer.cells.groupby("township_code")["pop"].sum().to_dict() == {"T1": 10_000, "T2": 3_001}
        assert layer.cells.groupby("township_code")["pop_60"].sum().to_dict() == {"T1": 2_000, "T2": 601}
        assert int(layer.cells["pop"].sum()) == 13_001
    c = by_raster.cells.set_index("cell_id")
    cent = by_raster.cells.geometry.centroid
    built = ((cent.x > X0 + 1000) & (cent.x < X0 + 2000) & (cent.y < Y0 + 500)).to_numpy()
    assert built.sum() == 2  # two 500 m cells
    # T1 raster: 8 cells; 2 built-up cells hold 25 px × 50 each, 6 others 25 px × 1 each: shares 1250 / 2650
    np.testing.assert_allclose(c["weight"].to_numpy()[built], 1250.0)
    assert c["pop"].to_numpy()[built].tolist() == [4717, 4717]  # 10,000 × 1250 / 2650 = 4716.98
    assert by_area.cells["pop"].to_numpy()[built].tolist() == [1250, 1250]
    assert set(by_raster.cells["weight_source"]) == {"population raster"}
    assert by_raster.params["population_raster"].endswith("pop.tif")


def test_zonal_sums_match_pixel_centres_counted_by_hand(tmp_path, zones):
    """A lon/lat raster (as WorldPop's) over UTM cells: each pixel in the cell holding its centre."""
    rng = np.random.default_rng(5)
    b = zones.to_crs(WGS84).total_bounds
    px = 0.0009
    ncol, nrow = int((b[2] - b[0]) / px) + 3, int((b[3] - b[1]) / px) + 3
    data = rng.integers(0, 30, (nrow, ncol)).astype("float32")
    tif = _write_raster(tmp_path / "ll.tif", data, x0=b[0] - px, y0=b[3] + px, pixel=px, crs=WGS84)
    layer = build_demand_layer(zones, cell_size_m=500)
    sums, notes = raster_zonal_sums(layer.cells.geometry, tif)
    rows, cols = np.mgrid[0:nrow, 0:ncol]
    lon = b[0] - px + (cols.ravel() + 0.5) * px
    lat = b[3] + px - (rows.ravel() + 0.5) * px
    cells_ll = layer.cells.to_crs(WGS84).geometry.values
    want = np.zeros(len(cells_ll))
    for i, g in enumerate(cells_ll):
        want[i] = data.ravel()[shapely.contains_xy(g, lon, lat)].sum()
    # a pixel centre exactly on a shared edge may go either way; totals and almost every cell agree exactly
    assert sums.sum() == pytest.approx(want.sum(), abs=60)
    assert (np.abs(sums - want) < 1e-6).mean() > 0.9
    assert notes == []


def test_coarse_pixels_are_shared_by_area(tmp_path):
    """SYNTHETIC: one 1 km pixel of 1,600 people over a 1 km township cut into sixteen 250 m cells."""
    z = gpd.GeoDataFrame(
        {"township_code": ["T"], "district_code": ["D"], "pop": [1600], "pop_60": [320]},
        geometry=[shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)],
        crs=BEIJING_UTM,
    )
    tif = _write_raster(tmp_path / "coarse.tif", [[1600.0]], pixel=1000.0)
    layer = build_demand_layer(z, cell_size_m=250, population_raster=tif)
    np.testing.assert_allclose(layer.cells["weight"], 100.0)
    assert layer.cells["pop"].tolist() == [100] * 16
    assert any("split into 16×16" in n for n in layer.notes)


def test_nodata_and_empty_townships(tmp_path, zones):
    data = _built_up()
    data[:, 20:] = -99999.0  # T2 is nodata, as WorldPop marks water and areas outside the country
    tif = _write_raster(tmp_path / "nodata.tif", data, nodata=-99999.0)
    layer = build_demand_layer(zones, cell_size_m=500, population_raster=tif)
    t2 = layer.cells[layer.cells["township_code"] == "T2"]
    assert set(t2["weight_source"]) == {"area (no population raster data in township)"}
    assert t2["pop"].sum() == 3_001 and t2["pop"].max() - t2["pop"].min() <= 1  # spread by area
    assert any("1 township(s) have no population raster data" in n for n in layer.notes)


def test_bad_rasters_refused_with_the_fix(tmp_path, zones):
    cells = build_demand_layer(zones, cell_size_m=500).cells.geometry
    with pytest.raises(ValidationError, match="file not found"):
        raster_zonal_sums(cells, tmp_path / "none.tif")
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00 not a tiff")
    with pytest.raises(ValidationError, match="could not read it as a raster"):
        raster_zonal_sums(cells, junk)
    neg = _built_up()
    neg[0, 0] = -5
    with pytest.raises(ValidationError, match="negative values that are not marked nodata"):
        raster_zonal_sums(cells, _write_raster(tmp_path / "neg.tif", neg))
    with pytest.raises(ValidationError, match="do not overlap"):
        raster_zonal_sums(cells, _write_raster(tmp_path / "far.tif", _built_up(), x0=X0 + 50_000))
    with pytest.raises(ValidationError, match="no people inside the area"):
        raster_zonal_sums(cells, _write_raster(tmp_path / "zero.tif", np.zeros((10, 40))))
    with pytest.raises(ValidationError, match="band 2 does not exist"):
        raster_zonal_sums(cells, _write_raster(tmp_path / "one.tif", _built_up()), band=2)
    with pytest.raises(ValidationError, match="has no CRS"):
        raster_zonal_sums(cells, _write_raster(tmp_path / "nocrs.tif", _built_up(), crs=None))
    with pytest.raises(ValidationError, match="not both"):
        build_demand_layer(zones, population_raster=tmp_path / "one.tif", ancillary=zones)


def test_beijing_district_with_a_synthetic_raster_keeps_the_census(tmp_path):
    """Dongcheng with a SYNTHETIC 100 m raster that puts people only north of 39.92° N."""
    plain = beijing_demand(district="Dongcheng", cell_size_m=500)
    b = plain.townships.to_crs(WGS84).total_bounds
    px = 0.001
    nrow, ncol = int((b[3] - b[1]) / px) + 2, int((b[2] - b[0]) / px) + 2
    lat = b[3] + px - (np.arange(nrow) + 0.5) * px
    data = np.where(lat[:, None] > 39.92, 10.0, 0.0) * np.ones((1, ncol))
    tif = _write_raster(tmp_path / "dongcheng.tif", data, x0=b[0] - px, y0=b[3] + px, pixel=px, crs=WGS84)
    layer = beijing_demand(district="Dongcheng", cell_size_m=500, population_raster=tif)
    got = layer.cells.groupby("township_code")[["pop", "pop_60"]].sum()
    want = plain.cells.groupby("township_code")[["pop", "pop_60"]].sum()
    pd.testing.assert_frame_equal(got, want)  # every township keeps its people
    assert int(layer.cells["pop"].sum()) == 708_829  # Dongcheng, 2020 census
    # in townships that straddle 39.92° N, the southern cells lose their people to the northern ones
    bounds = layer.cells.to_crs(WGS84).bounds
    split = layer.cells.assign(north=(bounds["miny"] > 39.9205).to_numpy(), south=(bounds["maxy"] < 39.9195).to_numpy())
    mixed = split.groupby("township_code").filter(lambda t: t["north"].any() and t["south"].any())
    assert len(mixed)
    ras = mixed[mixed["weight_source"] == "population raster"]
    assert ras.loc[ras["south"], "pop"].sum() == 0 and ras.loc[ras["north"], "pop"].sum() > 0
    assert any("population raster dongcheng.tif" in n for n in layer.notes)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=arrays(np.float32, (10, 40), elements=st.floats(0, 1e4, width=32)))
def test_any_raster_keeps_every_township_total(tmp_path, zones, data):
    tif = _write_raster(tmp_path / "gen.tif", data)
    try:
        layer = build_demand_layer(zones, cell_size_m=500, population_raster=tif)
    except FacilityPlannerError:
        assert data.sum() == 0  # the only refusal a non-negative raster can earn: nobody in it
        return
    assert layer.cells.groupby("township_code")["pop"].sum().to_dict() == {"T1": 10_000, "T2": 3_001}
    assert (layer.cells["pop"] >= 0).all()


# ---------------------------------------------------------------------------------------------------------------
# per-district 60+ shares and population tables


def test_older_share_table_by_name_code_and_percent(tmp_path, beijing_areas):
    f = tmp_path / "shares.csv"
    f.write_text("district,older_share\n东城区,0.25\nXicheng,24.0%\n110105,0.2\n", encoding="gbk")
    shares = read_older_shares(f, beijing_areas.districts)
    assert shares == {"110101": 0.25, "110102": 0.24, "110105": 0.2}
    layer = beijing_demand(district="Dongcheng", cell_size_m=1000, older_share_table=f)
    assert int(layer.cells["pop_60"].sum()) == round(708_829 * 0.25)
    assert any("own share from shares.csv" in n for n in layer.notes)


def test_older_share_table_every_problem_in_one_error(tmp_path, beijing_areas):
    f = tmp_path / "shares.csv"
    f.write_text("区,占比\n东城区,0.25\n东城,0.26\nAtlantis,0.2\n朝阳区,24\n海淀区,abc\n")
    with pytest.raises(ValidationError) as e:
        read_older_shares(f, beijing_areas.districts)
    msg = str(e.value)
    assert len(e.value.problems) == 3
    assert "'Atlantis' (row 4)" in msg and "Dongcheng" in msg
    assert "'24' (row 5) (a percentage needs a % sign" in msg and "'abc' (row 6)" in msg
    assert "110101 (rows 2, 3)" in msg
    g = tmp_path / "cols.csv"
    g.write_text("name,value\n东城区,0.2\n")
    with pytest.raises(ValidationError, match="needs columns `district`"):
        read_older_shares(g, beijing_areas.districts)
    with pytest.raises(ValidationError, match="not both"):
        beijing_demand(district="Dongcheng", older_share_table=f, older_share_by_district={"东城区": 0.2})


@pytest.fixture
def user_boundaries(tmp_path, beijing_areas):
    t = beijing_areas.townships
    t = t[t["district_code"] == "110101"][["township_code", "district_code", "geometry"]]
    path = tmp_path / "towns.geojson"
    t.to_file(path)
    return path, t


@pytest.mark.slow  # over 5 s: out of `make check`, in `make test`
@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "utf-16"])
def test_population_table_in_planners_encodings(tmp_path, user_boundaries, encoding):
    path, t = user_boundaries
    pop = tmp_path / "pop.csv"
    rows = "".join(f"{c},{1000 + i}\n" for i, c in enumerate(t["township_code"]))
    pop.write_bytes(("township_code,人口\n" + rows).encode(encoding))
    layer = demand_from_files(path, pop, pop_column="人口", cell_size_m=1000)
    assert int(layer.cells["pop"].sum()) == sum(1000 + i for i in range(len(t)))


def test_population_table_fractions_huge_and_empty_refused(tmp_path, user_boundaries):
    path, t = user_boundaries
    codes = t["township_code"].tolist()
    pop = tmp_path / "pop.csv"
    values = ["12.5", "9e12", "abc"] + ["100"] * (len(codes) - 3)
    pop.write_text("township_code,pop\n" + "".join(f"{c},{v}\n" for c, v in zip(codes, values, strict=True)))
    with pytest.raises(ValidationError) as e:
        demand_from_files(path, pop, cell_size_m=1000)
    msg = str(e.value)
    assert "fractions (rows 2)" in msg and "above 1,000,000,000 people (rows 3)" in msg and "non-numeric" in msg
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValidationError, match="the file is empty"):
        demand_from_files(path, empty)
    header = tmp_path / "header.csv"
    header.write_text("township_code,pop\n")
    with pytest.raises(ValidationError, match="no rows of data"):
        demand_from_files(path, header)


def test_points_with_weights_spread_people_too(zones):
    """SYNTHETIC: two weighted points (e.g. housing estates with their flats) in T1, none in T2."""
    pts = gpd.GeoDataFrame(
        {"flats": [300.0, 100.0]},
        geometry=[shapely.Point(X0 + 250, Y0 + 250), shapely.Point(X0 + 1750, Y0 + 750)],
        crs=BEIJING_UTM,
    )
    layer = build_demand_layer(zones, cell_size_m=500, ancillary=pts, ancillary_column="flats")
    t1 = layer.cells[layer.cells["township_code"] == "T1"].sort_values("pop", ascending=False)
    assert t1["pop"].tolist()[:2] == [7500, 2500] and t1["pop"].iloc[2:].sum() == 0
    assert layer.cells.groupby("township_code")["pop"].sum().to_dict() == {"T1": 10_000, "T2": 3_001}
    assert set(layer.cells.loc[layer.cells["township_code"] == "T2", "weight_source"]) == {
        "area (no ancillary data in township)"
    }
