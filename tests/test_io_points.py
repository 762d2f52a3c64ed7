"""Facility lists as planners have them: encodings, headers, formats, datums, and every refusal with its fix.

Points marked SYNTHETIC are made up for the test; the shift tests use the bundled real community points of Beijing.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facility_planner import FacilityPlannerError, ValidationError
from facility_planner.coords import BEIJING_UTM, WGS84, wgs84_to_bd09, wgs84_to_gcj02
from facility_planner.io import clip_points_to_area, read_points

# SYNTHETIC stations near Tiananmen and in Haidian (WGS-84)
LON = [116.3913, 116.3100, 116.4500]
LAT = [39.9075, 39.9900, 39.9300]
GEOD = pyproj.Geod(ellps="WGS84")


def _metres(a_lon, a_lat, b_lon, b_lat):
    return np.asarray(GEOD.inv(a_lon, a_lat, b_lon, b_lat)[2])


def _csv(tmp_path, text, name="stations.csv", encoding="utf-8"):
    f = tmp_path / name
    f.write_bytes(text.encode(encoding))
    return f


CHINESE = "编号,名称,经度,纬度\nA01,东城驿站,116.3913,39.9075\nA02,海淀驿站,116.31,39.99\nA03,朝阳驿站,116.45,39.93\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_chinese_csv_in_every_common_encoding(tmp_path, encoding):
    pts = read_points(_csv(tmp_path, CHINESE, encoding=encoding), coord_system="wgs84")
    assert pts["site_id"].tolist() == ["A01", "A02", "A03"]
    assert pts["name"].tolist() == ["东城驿站", "海淀驿站", "朝阳驿站"]
    assert pts["source_row"].tolist() == [2, 3, 4]
    assert pts.crs.to_epsg() == 4326
    np.testing.assert_allclose(pts.geometry.x, LON)
    np.testing.assert_allclose(pts.geometry.y, LAT)


def test_encoding_given_and_wrong_encoding_refused(tmp_path):
    f = _csv(tmp_path, CHINESE, encoding="gbk")
    assert read_points(f, encoding="gbk", coord_system="wgs84")["name"].iloc[0] == "东城驿站"
    with pytest.raises(ValidationError, match="not valid utf-8"):
        read_points(f, encoding="utf-8", coord_system="wgs84")
    with pytest.raises(ValidationError, match="unknown encoding"):
        read_points(f, encoding="klingon", coord_system="wgs84")
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValidationError, match="not text"):
        read_points(junk)


@pytest.mark.parametrize(
    "header",
    [
        "name,lon,lat",
        "name,lng,lat",
        "Name,Longitude,Latitude",
        "name,x,y",
        "名字,东经,北纬",
        "name,经度(WGS84),纬度(WGS84)",
    ],
)
def test_english_and_chinese_headers(tmp_path, header):
    body = "".join(f"s{i},{x},{y}\n" for i, (x, y) in enumerate(zip(LON, LAT, strict=True)))
    pts = read_points(_csv(tmp_path, header + "\n" + body), coord_system="wgs84", prefix="station")
    assert pts["site_id"].tolist() == ["station-00001", "station-00002", "station-00003"]
    assert pts["name"].tolist() == ["s0", "s1", "s2"]
    np.testing.assert_allclose(pts.geometry.x, LON)


def test_gaode_location_column_separators_and_named_columns(tmp_path):
    f = _csv(tmp_path, 'name;location\n甲;"116.3913,39.9075"\n乙;"116.31,39.99"\n')
    pts = read_points(f, coord_system="wgs84")
    np.testing.assert_allclose(pts.geometry.y, LAT[:2])
    t = _csv(tmp_path, "站\tE\tN\n甲\t116.3913\t39.9075\n", name="t.tsv")
    with pytest.raises(ValidationError, match=r"no longitude/latitude columns.*'E', 'N'"):
        read_points(t)
    assert read_points(t, lon_column="E", lat_column="N", coord_system="wgs84").geometry.x.iloc[0] == 116.3913
    with pytest.raises(ValidationError, match="`lon_column` 'east' is not a column"):
        read_points(t, lon_column="east", lat_column="N")


def test_xlsx_first_sheet_named_sheet_and_errors(tmp_path):
    f = tmp_path / "stations.xlsx"
    df = pd.DataFrame({"编号": ["B1", "B2"], "名称": ["甲", "乙"], "经度": LON[:2], "纬度": LAT[:2]})
    with pd.ExcelWriter(f, engine="openpyxl") as w:
        pd.DataFrame({"说明": ["封面"]}).to_excel(w, sheet_name="封面", index=False)
        df.to_excel(w, sheet_name="驿站", index=False)
    pts = read_points(f, sheet="驿站", coord_system="wgs84")
    assert pts["site_id"].tolist() == ["B1", "B2"] and pts["name"].tolist() == ["甲", "乙"]
    assert read_points(f, sheet=1, coord_system="wgs84")["site_id"].tolist() == ["B1", "B2"]
    with pytest.raises(ValidationError, match="no longitude/latitude columns"):
        read_points(f)  # the first sheet is a cover page
    with pytest.raises(ValidationError, match=r"no sheet '站点'.*'封面', '驿站'"):
        read_points(f, sheet="站点")
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(ValidationError, match="could not open it as an Excel"):
        read_points(bad)
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ValidationError, match=r"save it as \.xlsx"):
        read_points(old)
    renamed = tmp_path / "renamed.csv"
    renamed.write_bytes(f.read_bytes())
    with pytest.raises(ValidationError, match="zip archive"):
        read_points(renamed)


def test_title_rows_above_the_header(tmp_path):
    """Official spreadsheets often open with a title row; the header is found below it, row numbers stay true."""
    f = tmp_path / "名单.xlsx"
    rows = [["西城区养老驿站名单（2025年）", None, None], [None, None, None], ["名称", "经度", "纬度"]]
    rows += [["甲", LON[0], LAT[0]], ["乙", "abc", LAT[1]]]
    pd.DataFrame(rows).to_excel(f, index=False, header=False)
    with pytest.raises(ValidationError, match=r"non-numeric coordinates \(rows 5\)"):
        read_points(f, coord_system="wgs84")
    t = _csv(tmp_path, "驿站名单\n名称,经度,纬度\n甲,116.3913,39.9075\n", name="title.csv")
    pts = read_points(t, coord_system="wgs84")
    assert pts["name"].tolist() == ["甲"] and pts["source_row"].tolist() == [3]


def test_vector_files_points_polygons_and_projected(tmp_path):
    g = gpd.GeoDataFrame({"名称": ["甲", "乙"], "id": [7, 8]}, geometry=gpd.points_from_xy(LON[:2], LAT[:2]), crs=WGS84)
    g.to_crs(BEIJING_UTM).to_file(tmp_path / "s.gpkg")
    pts = read_points(tmp_path / "s.gpkg", coord_system="wgs84")
    assert pts["site_id"].tolist() == ["7", "8"] and pts["name"].tolist() == ["甲", "乙"]
    np.testing.assert_allclose(pts.geometry.x, LON[:2], atol=1e-9)
    polys = g.to_crs(BEIJING_UTM).buffer(50).to_crs(WGS84)
    gpd.GeoDataFrame({"name": ["p", "q"]}, geometry=polys, crs=WGS84).to_file(tmp_path / "p.geojson")
    pp = read_points(tmp_path / "p.geojson", coord_system="wgs84")
    assert (pp.geom_type == "Point").all()
    assert _metres(pp.geometry.x, pp.geometry.y, LON[:2], LAT[:2]).max() < 60
    with pytest.raises(ValidationError, match="could not read the file"):
        read_points(_csv(tmp_path, "not a vector file", name="x.geojson"))


@pytest.mark.parametrize(
    ("system", "forward"), [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)], ids=["gcj02", "bd09"]
)
def test_gcj02_and_bd09_by_tag_land_on_the_true_point(tmp_path, system, forward):
    x, y = forward(np.array(LON), np.array(LAT))
    shift = _metres(x, y, LON, LAT)
    assert shift.min() > 400  # the offset this conversion removes
    text = "name,lon,lat\n" + "".join(f"s{i},{a:.8f},{b:.8f}\n" for i, (a, b) in enumerate(zip(x, y, strict=True)))
    pts = read_points(_csv(tmp_path, text), coord_system=system)
    assert _metres(pts.geometry.x, pts.geometry.y, LON, LAT).max() < 0.01
    assert any(f"converted from {system[:-2].upper()}-{system[-2:]}" in n for n in pts.attrs["read_notes"])
    # a file named for its datum must be tagged: refused with the fix, never read as WGS-84
    named = _csv(tmp_path, text, name=f"stations_{system}.csv")
    with pytest.raises(ValidationError, match=f"coord_system='{system}'"):
        read_points(named)
    assert _metres(*read_points(named, coord_system=system).geometry.get_coordinates().values.T, LON, LAT).max() < 0.01
    gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=WGS84).to_file(tmp_path / f"v_{system}.geojson")
    with pytest.raises(ValidationError, match=f"coord_system='{system}'"):
        read_points(tmp_path / f"v_{system}.geojson")
    v = read_points(tmp_path / f"v_{system}.geojson", coord_system=system)
    assert _metres(v.geometry.x, v.geometry.y, LON, LAT).max() < 0.01


@pytest.fixture(scope="module")
def communities(beijing_areas):
    """Real community/village points of Beijing (bundled, WGS-84), as a stand-in for a citywide station list."""
    c = beijing_areas.communities
    return c[c["has_location"]].reset_index(drop=True)


def _gaode_export(tmp_path, lon, lat, name="驿站.csv", district=None):
    """A file as a Gaode export is: GBK, 经度/纬度 headers, no datum tag."""
    df = pd.DataFrame({"名称": [f"驿站{i}" for i in range(len(lon))], "经度": lon, "纬度": lat})
    if district is not None:
        df.insert(1, "adname", district)
    f = tmp_path / name
    df.to_csv(f, index=False, encoding="gbk", float_format="%.6f")
    return f


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_untagged_shifted_citywide_file_refused_then_accepted_with_tag(tmp_path, communities, system):
    lon, lat = communities["lon"].to_numpy(), communities["lat"].to_numpy()
    forward = wgs84_to_gcj02 if system == "gcj02" else wgs84_to_bd09
    f = _gaode_export(tmp_path, *forward(lon, lat))
    with pytest.raises(ValidationError, match=f"look like .*coord_system='{system}'"):
        read_points(f)
    pts = read_points(f, coord_system=system)
    assert _metres(pts.geometry.x, pts.geometry.y, lon, lat).max() < 0.2  # 6 decimals in the file ≈ 0.1 m
    # the true WGS-84 file is not refused, and says nothing about an unchecked datum (points near the edge moved out)
    ok = read_points(_gaode_export(tmp_path, lon, lat, name="wgs.csv"))
    assert len(ok) == len(lon) and not any("without a tag" in n for n in ok.attrs["read_notes"])


def test_untagged_shift_seen_inside_a_district(tmp_path, communities, beijing_areas):
    hd = communities[communities["district_code"] == "110108"]
    lon, lat = wgs84_to_gcj02(hd["lon"].to_numpy(), hd["lat"].to_numpy())
    towns = beijing_areas.townships[beijing_areas.townships["district_code"] == "110108"]
    f = _gaode_export(tmp_path, lon, lat)
    # Haidian lies inside Beijing: against the city outline alone the shift cannot be seen, and the reader says so
    unchecked = read_points(f)
    assert any("without a tag" in n for n in unchecked.attrs["read_notes"])
    with pytest.raises(ValidationError, match="outside the study area as given"):
        read_points(f, reference=towns)
    with pytest.raises(ValidationError, match="own district"):
        read_points(_gaode_export(tmp_path, lon, lat, name="d.csv", district="海淀区"))
    assert len(read_points(f, reference=towns, coord_system="gcj02")) == len(hd)
    true = _gaode_export(tmp_path, hd["lon"], hd["lat"], name="true.csv", district="海淀区")
    assert len(read_points(true, reference=towns)) == len(hd)


def test_every_bad_row_in_one_error_with_row_numbers(tmp_path):
    text = (
        "name,lon,lat\n"
        "ok,116.39,39.90\n"  # row 2
        "blank,,39.9\n"  # row 3
        "text,abc,39.9\n"  # row 4
        "swapped,39.9,116.39\n"  # row 5
        "metres,440000,4420000\n"  # row 6
        "range,400,39.9\n"  # row 7
        "paris,2.35,48.85\n"  # row 8
        "\n"  # row 9: blank line, skipped
        "ok2,116.40,39.91\n"  # row 10
    )
    with pytest.raises(ValidationError) as e:
        read_points(_csv(tmp_path, text))
    msg = str(e.value)
    assert len(e.value.problems) == 5
    assert "2 row(s) with blank or non-numeric coordinates (rows 3, 4)" in msg
    assert "projected numbers" in msg and "row 6" in msg
    assert "outside lon/lat ranges" in msg and "rows 7" in msg
    assert "swapped" in msg and "rows 5" in msg
    assert "outside China (rows 8" in msg


def test_whole_file_swapped_or_in_metres(tmp_path):
    swapped = "".join(f"s{i},{b},{a}\n" for i, (a, b) in enumerate(zip(LON, LAT, strict=True)))
    with pytest.raises(ValidationError, match="all of them: the two columns are swapped"):
        read_points(_csv(tmp_path, "name,lon,lat\n" + swapped))
    utm = pyproj.Transformer.from_crs(WGS84, BEIJING_UTM, always_xy=True)
    x, y = utm.transform(LON, LAT)
    metres = "".join(f"s{i},{a:.1f},{b:.1f}\n" for i, (a, b) in enumerate(zip(x, y, strict=True)))
    with pytest.raises(ValidationError, match=r"3 row.*projected numbers.*EPSG:32650"):
        read_points(_csv(tmp_path, "name,x,y\n" + metres))


def test_empty_files_refused(tmp_path):
    with pytest.raises(ValidationError, match="the file is empty"):
        read_points(_csv(tmp_path, ""))
    with pytest.raises(ValidationError, match="no facilities"):
        read_points(_csv(tmp_path, "名称,经度,纬度\n"))
    with pytest.raises(ValidationError, match="no facilities"):
        read_points(_csv(tmp_path, "名称,经度,纬度\n,,\n\n", name="blank_rows.csv"))
    with pytest.raises(ValidationError, match="file not found"):
        read_points(tmp_path / "nothing.csv")
    with pytest.raises(ValidationError, match="is a folder"):
        read_points(tmp_path)


def test_ids_repeated_or_blank_refused_and_duplicate_places_reported(tmp_path):
    text = "编号,名称,经度,纬度\nA,甲,116.39,39.90\nA,乙,116.40,39.91\n,丙,116.41,39.92\n"
    with pytest.raises(ValidationError) as e:
        read_points(_csv(tmp_path, text), coord_system="wgs84")
    assert "repeats 1 id(s) (A; rows 2, 3)" in str(e.value) and "blank in 1 row(s) (rows 4)" in str(e.value)
    with pytest.raises(ValidationError, match="`id_column` 'code' is not a column"):
        read_points(_csv(tmp_path, text), id_column="code", coord_system="wgs84")
    # same place twice (0.3 m apart): read, and reported
    same = "名称,经度,纬度\n甲,116.390000,39.900000\n甲',116.390003,39.900001\n乙,116.40,39.91\n"
    pts = read_points(_csv(tmp_path, same, name="same.csv"), coord_system="wgs84")
    assert len(pts) == 3
    note = next(n for n in pts.attrs["read_notes"] if "within 1 m" in n)
    assert "site-00001 (row 2) and site-00002 (row 3)" in note


def test_wrong_coord_system_value_refused(tmp_path):
    with pytest.raises(ValidationError, match="must be one of wgs84, gcj02, bd09"):
        read_points(_csv(tmp_path, CHINESE), coord_system="cgcs2000")  # type: ignore[arg-type]


def test_clip_points_to_the_study_area():
    """SYNTHETIC: two townships side by side, points inside each, on the shared edge and outside."""
    x0, y0 = 440_000.0, 4_420_000.0
    towns = gpd.GeoDataFrame(
        {"township_code": ["T1", "T2"], "district_code": ["D1", "D1"]},
        geometry=[shapely.box(x0, y0, x0 + 1000, y0 + 1000), shapely.box(x0 + 1000, y0, x0 + 2000, y0 + 1000)],
        crs=BEIJING_UTM,
    )
    xy = [(x0 + 500, y0 + 500), (x0 + 1500, y0 + 500), (x0 + 2000.5, y0 + 500), (x0 + 5000, y0), (x0 - 900, y0)]
    pts = gpd.GeoDataFrame(
        {"site_id": ["a", "b", "edge", "far", "west"]}, geometry=gpd.points_from_xy(*np.array(xy).T), crs=BEIJING_UTM
    ).to_crs(WGS84)
    pts["township_code"] = "from the file"  # a file's own column of that name is kept aside, not confused
    kept, report = clip_points_to_area(pts, towns, what="existing stations")
    assert kept["site_id"].tolist() == ["a", "b", "edge"]
    assert kept["township_code_file"].eq("from the file").all()
    assert kept["township_code"].tolist() == ["T1", "T2", "T2"]
    assert (report.kept, report.dropped, report.dropped_site_ids) == (3, 2, ["far", "west"])
    assert str(report) == "existing stations: 3 of 5 lie in the study area and are used; 2 outside it are left out."
    none, r0 = clip_points_to_area(pts.iloc[3:], towns)
    assert len(none) == 0 and "none of the 2" in r0.note


# ---------------------------------------------------------------------------------------------------------------
# property-based: whatever a planner's file holds, the reader answers with a result or a FacilityPlannerError

HEADERS = [
    "经度",
    "纬度",
    "名称",
    "编号",
    "lon",
    "lat",
    "lng",
    "x",
    "y",
    "name",
    "id",
    "location",
    "adname",
    "备注",
    "",
]
HEADERS += ["geometry", "source_row", "site_id", "township_code", "district_code", "index_right"]
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=70, max_value=140).map(lambda v: f"{v:.6f}"),
    st.floats(min_value=0, max_value=60).map(lambda v: f"{v:.6f}"),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["", " ", "NA", "北京", "海淀区", "116.39,39.90", '"', "\t", "１１６.３９", "116°23′"]),
    st.text(max_size=8),
)


def _check_result(pts: gpd.GeoDataFrame, n_rows: int) -> None:
    assert isinstance(pts, gpd.GeoDataFrame) and pts.crs.to_epsg() == 4326
    assert 0 < len(pts) <= n_rows
    assert pts["site_id"].is_unique and pts["site_id"].notna().all()
    x, y = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
    assert np.isfinite(x).all() and np.isfinite(y).all()
    assert ((x > 72) & (x < 137) & (y > 2) & (y < 55)).all()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=5),
    rows=st.lists(st.lists(CELLS, min_size=0, max_size=6), max_size=6),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk", "utf-16"]),
    sep=st.sampled_from([",", ";", "\t"]),
    system=st.sampled_from([None, "wgs84", "gcj02", "bd09"]),
)
def test_any_csv_gives_points_or_a_clear_error(tmp_path, header, rows, encoding, sep, system):
    text = sep.join(header) + "\n" + "".join(sep.join(r) + "\n" for r in rows)
    f = tmp_path / "generated.csv"
    try:
        f.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        f.write_bytes(text.encode("utf-8"))
    try:
        pts = read_points(f, coord_system=system)
    except FacilityPlannerError as exc:
        assert str(exc).strip()
        return
    _check_result(pts, len(rows))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".xlsx", ".geojson", ".gpkg", ".txt"]))
def test_any_bytes_give_points_or_a_clear_error(tmp_path, data, suffix):
    f = tmp_path / f"generated{suffix}"
    f.write_bytes(data)
    try:
        pts = read_points(f)
    except FacilityPlannerError:
        return
    _check_result(pts, 10**6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lon=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=6),
    lat=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=6),
    ids=st.lists(st.sampled_from(["a", "b", "c", "", "1"]), min_size=6, max_size=6),
)
def test_any_xlsx_gives_points_or_a_clear_error(tmp_path, lon, lat, ids):
    n = min(len(lon), len(lat))
    f = tmp_path / "generated.xlsx"
    pd.DataFrame({"编号": ids[:n], "经度": lon[:n], "纬度": lat[:n]}).to_excel(f, index=False, engine="openpyxl")
    try:
        pts = read_points(f)
    except FacilityPlannerError:
        return
    _check_result(pts, n)


# ---------------------------------------------------------------------------------------------------------------
# plan folders read back (for `maps` and `compare`): damaged ones refused with the fix


def _plan_folder(tmp_path):
    """SYNTHETIC plan folder: a districts layer, a sites layer with a boolean column, a summary."""
    from facility_planner.io import write_gpkg

    d = tmp_path / "plan"
    d.mkdir()
    districts = gpd.GeoDataFrame(
        {"district_code": ["110101"]}, geometry=[shapely.box(116.38, 39.85, 116.45, 39.97)], crs=WGS84
    )
    sites = gpd.GeoDataFrame({"site_id": ["a"], "existing": [True]}, geometry=[shapely.Point(116.4, 39.9)], crs=WGS84)
    write_gpkg(d / "plan.gpkg", {"districts": districts, "sites_eldercare_stations": sites})
    (d / "summary.json").write_text('{"scenario": "t"}', encoding="utf-8")
    return d


def test_plan_folder_read_back_and_damage_refused(tmp_path):
    from facility_planner.io import read_plan_layers

    d = _plan_folder(tmp_path)
    layers, summary = read_plan_layers(d)
    assert summary == {"scenario": "t"} and set(layers) == {"districts", "sites_eldercare_stations"}
    assert layers["sites_eldercare_stations"]["existing"].tolist() == [True]
    with pytest.raises(ValidationError, match="does not exist"):
        read_plan_layers(tmp_path / "nothing")
    with pytest.raises(ValidationError, match="is a file"):
        read_plan_layers(d / "summary.json")
    with pytest.raises(ValidationError, match="holds no plan"):
        read_plan_layers(tmp_path)
    (d / "summary.json").write_bytes(b'{"scenario": "t"')
    gpkg = (d / "plan.gpkg").read_bytes()
    (d / "plan.gpkg").write_bytes(gpkg[: len(gpkg) // 3])
    with pytest.raises(ValidationError) as e:
        read_plan_layers(d)
    assert len(e.value.problems) == 2
    assert "plan.gpkg" in e.value.problems[0] and "summary.json is damaged" in e.value.problems[1]
    (d / "summary.json").write_text("[1, 2]")
    (d / "plan.gpkg").write_bytes(gpkg)
    with pytest.raises(ValidationError, match="does not hold a summary"):
        read_plan_layers(d)


def test_read_points_in_area_filters_a_citywide_xlsx_and_reports(tmp_path, communities, beijing_areas):
    from facility_planner.io import read_points_in_area

    f = tmp_path / "全市驿站.xlsx"
    pd.DataFrame(
        {
            "编号": communities["community_code"],
            "名称": communities["name_zh"],
            "经度": communities["lon"],
            "纬度": communities["lat"],
        }
    ).to_excel(f, index=False)
    towns = beijing_areas.townships[beijing_areas.townships["district_code"] == "110102"].to_crs(BEIJING_UTM)
    kept, notes = read_points_in_area(f, towns, what="existing stations")
    want = int((communities["district_code"] == "110102").sum())
    assert len(kept) == pytest.approx(want, abs=3)  # community codes vs polygons: a few lie on a boundary
    assert kept["district_code"].eq("110102").all() and kept.crs == towns.crs
    assert kept["site_id"].str.startswith("110102").mean() > 0.95  # the file's own ids are kept
    assert notes[-1] == f"existing stations: {len(kept)} of {len(communities)} lie in the study area and are used; " + (
        f"{len(communities) - len(kept)} outside it are left out."
    )
