"""Travel: hand-built (SYNTHETIC) graphs with known shortest paths, real Zhongguancun streets, readers, errors."""

import dataclasses

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from facility_planner import ValidationError
from facility_planner.areas import data_dir
from facility_planner.coords import BEIJING_UTM, WGS84
from facility_planner.network import network_from_graphml, network_from_lines, network_from_osm_xml
from facility_planner.sites import candidates_from_demand, combine_sites, dense_housing, exclude, read_points
from facility_planner.travel import isochrones, network_travel, straight_line

X0, Y0 = 440_000.0, 4_420_000.0  # a spot in Beijing, UTM 50N


def _pts(xy, ids, col):
    return gpd.GeoDataFrame({col: ids}, geometry=gpd.points_from_xy(*np.asarray(xy, float).T), crs=BEIJING_UTM)


@pytest.fixture
def l_graph():
    """SYNTHETIC: an L-shaped street: (0,0)→(600,0)→(600,600), plus a dead end (600,600)→(600,900)."""
    lines = [
        shapely.LineString([(X0, Y0), (X0 + 600, Y0)]),
        shapely.LineString([(X0 + 600, Y0), (X0 + 600, Y0 + 600)]),
        shapely.LineString([(X0 + 600, Y0 + 600), (X0 + 600, Y0 + 900)]),
    ]
    return network_from_lines(gpd.GeoDataFrame(geometry=lines, crs=BEIJING_UTM))


def test_network_coverage_exact_on_hand_built_graph(l_graph):
    # demand at the far corner (600,600) and at (0,0); site at the origin. Walking 4 km/h: 66.67 m/min
    demand = _pts([(X0 + 600, Y0 + 600), (X0, Y0), (X0 + 600, Y0 + 900)], ["corner", "origin", "end"], "cell_id")
    sites = _pts([(X0, Y0)], ["s"], "site_id")
    tr = network_travel(demand, sites, l_graph, time_limit_min=20, detour_factor=1.0)
    m = tr.cost.matrix.toarray()
    assert m[0, 0] == pytest.approx(1200 / (4000 / 60))  # 18 min along the L, not 12.7 by straight line
    assert m[1, 0] == 0 and tr.cost.matrix.nnz == 2  # the origin, explicitly stored at 0 minutes
    assert m[2, 0] == 0  # 1,500 m = 22.5 min: out of reach
    sl = straight_line(demand, sites, time_limit_min=20, detour_factor=1.0)
    assert sl.cost.matrix.toarray()[0, 0] == pytest.approx(np.hypot(600, 600) / (4000 / 60))
    # snap distance is walked: a demand 50 m off the corner needs 18 + 0.75 min
    off = _pts([(X0 + 650, Y0 + 600)], ["off"], "cell_id")
    t = network_travel(off, sites, l_graph, time_limit_min=20).cost.matrix.toarray()[0, 0]
    assert t == pytest.approx((1200 + 50) / (4000 / 60))


def test_largest_component_kept_and_reported():
    lines = [shapely.LineString([(X0, Y0), (X0 + 500, Y0)]), shapely.LineString([(X0 + 5000, Y0), (X0 + 5100, Y0)])]
    net = network_from_lines(gpd.GeoDataFrame(geometry=lines, crs=BEIJING_UTM))
    assert net.n_nodes == 2 and any("disconnected" in n for n in net.notes)


def test_off_network_cells_fall_back_and_are_flagged(l_graph):
    demand = _pts([(X0 + 300, Y0), (X0 - 700, Y0)], ["on", "far"], "cell_id")
    sites = _pts([(X0, Y0)], ["s"], "site_id")
    tr = network_travel(demand, sites, l_graph, max_snap_m=300)
    assert tr.fallback.to_dict() == {"on": False, "far": True}
    assert tr.cost.matrix.toarray()[1, 0] == pytest.approx(700 * 1.2 / (4000 / 60))
    assert any("straight line" in n for n in tr.notes)


def test_real_zhongguancun_network_never_beats_straight_line(haidian_500):
    net = network_from_lines(data_dir() / "zhongguancun_osm_roads_wgs84.geojson")
    hull = net.hull(0)
    cells = haidian_500.centroids()
    cells = cells[cells.geometry.within(hull)]
    sites = candidates_from_demand(haidian_500.cells)
    sites = sites[sites.geometry.within(hull)]
    assert len(cells) > 20
    a = network_travel(cells, sites, net, detour_factor=1.0).cost.matrix.tocoo()
    b = straight_line(cells, sites, detour_factor=1.0).cost.matrix.tocsr()
    assert a.nnz > 0
    # every network pair is within straight-line reach, and its time is never shorter
    assert (np.asarray(b[a.row, a.col]).ravel() <= a.data + 1e-9).all()
    bc = b.tocoo()  # stored entries, zeros included (nonzero() would drop a cell and site at the same point)
    assert set(zip(a.row, a.col, strict=True)) <= set(zip(bc.row, bc.col, strict=True))
    assert b.nnz > a.nnz


def test_isochrones(l_graph):
    sites = _pts([(X0, Y0)], ["s"], "site_id")
    demand = _pts([(X0 + 100, Y0)], ["c"], "cell_id")
    tr = network_travel(demand, sites, l_graph, time_limit_min=10)
    iso = isochrones(tr, sites, ["s"], network=l_graph)
    assert iso.crs.to_epsg() == 4326 and len(iso) == 1
    g = iso.to_crs(BEIJING_UTM).geometry.iloc[0]
    assert g.contains(shapely.Point(X0 + 550, Y0)) and not g.contains(shapely.Point(X0 + 600, Y0 + 300))
    circ = isochrones(straight_line(demand, sites), sites, ["s"]).to_crs(BEIJING_UTM).geometry.iloc[0]
    assert circ.area == pytest.approx(np.pi * (1000 / 1.2) ** 2, rel=0.01)
    # a network built without its edge list (edges=None) draws the same reach from its graph
    bare = dataclasses.replace(l_graph, edges=None)
    assert bare.edge_pairs().tolist() == l_graph.edge_pairs().tolist()
    g_bare = isochrones(tr, sites, ["s"], network=bare).to_crs(BEIJING_UTM).geometry.iloc[0]
    assert g_bare.symmetric_difference(g).area == pytest.approx(0.0, abs=1e-3)


def test_osm_xml_and_graphml_readers(tmp_path, l_graph):
    osm = tmp_path / "t.osm"
    osm.write_text(
        '<osm version="0.6"><node id="1" lat="39.90" lon="116.40"/><node id="2" lat="39.90" lon="116.41"/>'
        '<node id="3" lat="39.91" lon="116.41"/>'
        '<way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way>'
        '<way id="11"><nd ref="2"/><nd ref="3"/><tag k="highway" v="motorway"/></way></osm>'
    )
    net = network_from_osm_xml(osm)
    assert net.n_nodes == 2 and net.graph.sum() / 2 == pytest.approx(855, rel=0.01)
    G = nx.Graph(crs="EPSG:4326")
    G.add_node("a", x=116.40, y=39.90)
    G.add_node("b", x=116.41, y=39.90)
    G.add_edge("a", "b", length=855.0)
    path = tmp_path / "g.graphml"
    nx.write_graphml(G, path)
    assert network_from_graphml(path).n_nodes == 2


def test_bad_network_and_parameters(tmp_path, l_graph):
    empty = gpd.GeoDataFrame(geometry=[], crs=BEIJING_UTM)
    with pytest.raises(ValidationError, match="no walkable street lines"):
        network_from_lines(empty)
    # a network in metres declared as lon/lat is refused as such (outside-the-area: tests/test_network_files.py)
    lines = gpd.GeoDataFrame(geometry=[shapely.LineString([(X0, Y0), (X0 + 100, Y0)])], crs=BEIJING_UTM)
    wrong = lines.set_crs(WGS84, allow_override=True)
    area = shapely.box(115.4, 39.4, 117.5, 41.1)
    with pytest.raises(ValidationError, match="metres, not degrees"):
        network_from_lines(wrong, area=area)
    sites = _pts([(X0, Y0)], ["s"], "site_id")
    with pytest.raises(ValidationError, match="time_limit_min"):
        straight_line(sites.rename(columns={"site_id": "cell_id"}), sites, time_limit_min=0)
    with pytest.raises(ValidationError, match="within 300 m"):
        network_travel(_pts([(X0 + 9e4, Y0)], ["x"], "cell_id"), _pts([(X0 + 9e4, Y0)], ["s"], "site_id"), l_graph)


def test_sites_from_csv_and_gcj02_tag(tmp_path):
    f = tmp_path / "stations.csv"
    f.write_text("name,lon,lat\n驿站A,116.3913,39.9075\n驿站B,116.40,39.91\n", encoding="utf-8")
    s = read_points(f)
    assert list(s["site_id"]) == ["site-00001", "site-00002"] and s.crs.to_epsg() == 4326
    g = tmp_path / "stations_gcj02.csv"
    g.write_text("name,lng,lat\nA,116.397545,39.908905\n")
    with pytest.raises(ValidationError, match="coord_system='gcj02'"):
        read_points(g)
    conv = read_points(g, coord_system="gcj02")
    assert conv.geometry.x.iloc[0] == pytest.approx(116.3913, abs=2e-4)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,lon,lat\nA,abc,39.9\nB,400,39.9\n")
    with pytest.raises(ValidationError) as e:
        read_points(bad)
    assert "non-numeric" in str(e.value) and "outside lon/lat" in str(e.value)


def test_exclusion_and_sites_outside_area(haidian_500):
    sites = candidates_from_demand(haidian_500.cells)
    dense = dense_housing(haidian_500.cells, min_density_per_km2=20_000)
    kept, dropped = exclude(sites, dense, min_distance_m=200, reason="dense housing")
    assert len(kept) + len(dropped) == len(sites) and len(dropped) > 0
    assert dropped["excluded_by"].str.contains("200 m").all()
    assert not kept.geometry.intersects(dense.buffer(199)).any()
    far = gpd.GeoDataFrame({"site_id": ["x"]}, geometry=[shapely.Point(121.47, 31.23)], crs=WGS84)  # Shanghai
    area = haidian_500.districts.union_all()
    with pytest.raises(ValidationError, match="outside the study area"):
        combine_sites(candidates=sites.head(3), existing=far, area=area)
