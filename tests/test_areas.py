import geopandas as gpd
import pytest
import shapely

from facility_planner import ValidationError
from facility_planner.areas import check_not_shifted, read_vector, resolve_district
from facility_planner.coords import WGS84, gcj02_to_wgs84, to_gcj02, wgs84_to_gcj02


def test_bundled_levels_and_join_report(beijing_areas):
    a = beijing_areas
    assert len(a.districts) == 16
    assert len(a.townships) == 331
    assert len(a.units) == 343
    assert a.units["kind"].value_counts().to_dict() == {
        "subdistrict": 165,
        "town": 107,
        "area_office": 56,
        "township": 15,
    }
    assert len(a.communities) == 7535
    assert int(a.communities["has_location"].sum()) == 2161  # 2,331 points less the 170 without a 2023 code
    # nothing dropped silently: every polygon without a 2023 code and every 2023 unit without a polygon is listed
    no_code = a.townships["township_code"].str.startswith("poi86:")
    report = a.join_report
    listed_no_code = set(report.loc[report["side"] == "polygon without 2023 code", "township_code"])
    assert int(no_code.sum()) == 7 and set(a.townships.loc[no_code, "township_code"]) == listed_no_code
    # 321 of the 343 units of 2023 have a polygon; the 22 without are the subdistricts created after the boundary
    # file was drawn (Fengtai's 2021 split, Tongzhou's and Changping's and Daxing's new subdistricts, Beigong town)
    # and every one is in the join report
    without = a.units.loc[~a.units["has_polygon"]]
    assert int(a.units["has_polygon"].sum()) == 321 and len(without) == 22
    assert set(without["township_code"]) <= set(
        report.loc[report["side"] == "2023 unit without polygon", "township_code"]
    )
    assert {"110106008", "110112007", "110114012", "110115011"} <= set(
        without["township_code"]
    )  # 六里桥, 潞源, 龙泽园, 高米店
    assert without["district_code"].value_counts().to_dict() == {
        "110106": 9,
        "110112": 7,
        "110114": 2,
        "110115": 3,
        "110105": 1,
    }
    # the 2,331 community points: those with a 2023 code are located, the rest are listed
    stale = a.join_report[a.join_report["side"] == "community point without 2023 code"]
    assert int(a.communities["has_location"].sum()) + len(stale) == 2331


def test_resolve_district_by_any_name(beijing_areas):
    d = beijing_areas.districts
    for name in ("Haidian", "haidian", "海淀区", "海淀", "110108", "Haidian District"):
        assert resolve_district(d, name) == "110108"
    with pytest.raises(ValidationError, match="Chaoyang"):
        resolve_district(d, "Chaoyng")


def test_gcj02_offset_at_tiananmen_and_inverse():
    lon, lat = 116.3913, 39.9075
    glon, glat = wgs84_to_gcj02(lon, lat)
    import pyproj

    d = pyproj.Geod(ellps="WGS84").inv(lon, lat, float(glon), float(glat))[2]
    assert d == pytest.approx(555, abs=1.5)  # MAPS.md: 555 m at Tiananmen
    assert float(glon) > lon and float(glat) > lat  # GCJ-02 shifts Beijing north-east
    back = gcj02_to_wgs84(glon, glat)
    assert abs(float(back[0]) - lon) < 1e-7 and abs(float(back[1]) - lat) < 1e-7


def test_gcj02_matches_the_pairs_in_the_bundled_data():
    """The staged point files carry both coordinate pairs, converted with the standard public formula."""
    import numpy as np

    from facility_planner.areas import data_dir

    pts = gpd.read_file(data_dir() / "village_community_points_adcode2016_wgs84.geojson")
    glon, glat = wgs84_to_gcj02(pts["lon_wgs84"].to_numpy(), pts["lat_wgs84"].to_numpy())
    assert np.abs(glon - pts["lon_gcj02"]).max() < 2e-6 and np.abs(glat - pts["lat_gcj02"]).max() < 2e-6


def test_gcj02_close_to_prcoords_oracle():
    """prcoords (CC0) is an independent implementation; it uses a slightly different meridian arc length, so the
    two agree exactly in longitude and within 2 m in latitude across Beijing."""
    prcoords = pytest.importorskip("prcoords", reason="prcoords (dev extra) is the independent oracle")
    import numpy as np

    rng = np.random.default_rng(0)
    for lon, lat in zip(rng.uniform(115.4, 117.5, 50), rng.uniform(39.4, 41.1, 50), strict=True):
        g = prcoords.wgs_gcj((lat, lon))
        ours = wgs84_to_gcj02(lon, lat)
        assert abs(float(ours[0]) - g.lon) < 1e-9 and abs(float(ours[1]) - g.lat) < 2e-5


def test_gcj02_files_need_an_explicit_tag(tmp_path):
    from facility_planner.areas import data_dir

    src = data_dir() / "districts_gcj02.geojson"
    with pytest.raises(ValidationError, match="coord_system='gcj02'"):
        read_vector(src)
    wgs = read_vector(src, coord_system="gcj02")
    ref = read_vector(data_dir() / "districts_wgs84.geojson")
    # converted GCJ-02 lands on the WGS-84 boundary
    assert not check_not_shifted(wgs, ref, "converted")


def test_untagged_gcj02_is_detected_not_guessed(beijing_areas, tmp_path):
    shifted = to_gcj02(beijing_areas.townships[beijing_areas.townships["district_code"] == "110108"])
    problems = check_not_shifted(
        shifted, beijing_areas.districts[beijing_areas.districts["district_code"] == "110108"], "`zones`"
    )
    assert problems and "GCJ-02" in problems[0]


def test_file_without_crs(tmp_path):
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(0, 0, 1, 1)])
    path = tmp_path / "x.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        gdf.to_file(path)
    with pytest.raises(ValidationError, match="no coordinate reference system"):
        read_vector(path)
    with pytest.raises(ValidationError, match="file not found"):
        read_vector(tmp_path / "missing.geojson")


def test_read_vector_reprojects_to_wgs84(tmp_path):
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(440000, 4420000)], crs="EPSG:32650")
    gdf.to_file(tmp_path / "p.gpkg")
    out = read_vector(tmp_path / "p.gpkg")
    assert out.crs.equals(WGS84) or out.crs.to_epsg() == 4326
    assert 116 < out.geometry.x.iloc[0] < 117
