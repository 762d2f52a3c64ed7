"""Street-network files: GraphML lengths, .osm.pbf, osmnx download and cache, and every check with its fix.

Every network here is SYNTHETIC (a few hand-placed streets near Tiananmen), written in the test.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facility_planner import FacilityPlannerError, ValidationError
from facility_planner.coords import BEIJING_UTM, WGS84
from facility_planner.network import (
    NetworkDownloadError,
    StreetNetwork,
    fetch_network,
    network_from_graphml,
    network_from_lines,
    read_network,
)

LON0, LAT0 = 116.39, 39.90
BEIJING_BOX = shapely.box(115.4, 39.4, 117.5, 41.1)
GEOD = pyproj.Geod(ellps="WGS84")


def _chord(a, b):
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def _graphml(tmp_path, *, lengths=(1000.0, 500.0), crs="epsg:4326", name="g.graphml", xy=None):
    """SYNTHETIC: a path a–b–c along a street; osmnx's layout (x/y in lon/lat, edge `length` in metres)."""
    G = nx.MultiDiGraph(crs=crs) if crs is not None else nx.MultiDiGraph()
    xy = xy or {"a": (LON0, LAT0), "b": (LON0 + 0.01, LAT0), "c": (LON0 + 0.01, LAT0 + 0.004)}
    for k, (x, y) in xy.items():
        G.add_node(k, x=x, y=y)
    for (u, v), length in zip([("a", "b"), ("b", "c")], lengths, strict=True):
        attrs = {} if length is None else {"length": length}
        G.add_edge(u, v, **attrs)
        G.add_edge(v, u, **attrs)
    path = tmp_path / name
    nx.write_graphml(G, path)
    return path


def test_graphml_edge_length_is_used(tmp_path):
    net = network_from_graphml(_graphml(tmp_path))
    # the street lengths of the file (1,000 m and 500 m), not the straight lines between the nodes (855 m, 444 m)
    assert sorted(net.graph.data.tolist()) == [500.0, 500.0, 1000.0, 1000.0]
    assert net.graph.sum() / 2 == pytest.approx(1500.0)


def test_graphml_unusable_lengths_fall_back_to_the_straight_line_and_say_so(tmp_path):
    a, b, c = (LON0, LAT0), (LON0 + 0.01, LAT0), (LON0 + 0.01, LAT0 + 0.004)
    net = network_from_graphml(_graphml(tmp_path, lengths=(None, 10.0)))  # one missing, one shorter than the chord
    assert net.graph.sum() / 2 == pytest.approx(_chord(a, b) + _chord(b, c), rel=2e-3)
    assert any("4 of 4 edges have no usable `length`" in n for n in net.notes)


def test_graphml_in_a_projected_crs(tmp_path):
    tr = pyproj.Transformer.from_crs(WGS84, BEIJING_UTM, always_xy=True)
    xy = {
        k: tr.transform(*v) for k, v in {"a": (LON0, LAT0), "b": (LON0 + 0.01, LAT0), "c": (LON0, LAT0 + 0.01)}.items()
    }
    net = network_from_graphml(_graphml(tmp_path, crs="EPSG:32650", xy=xy), area=BEIJING_BOX)
    assert net.n_nodes == 3 and net.crs == "EPSG:32650"
    np.testing.assert_allclose(net.nodes[np.argsort(net.nodes[:, 0])][0], xy["a"], atol=1e-6)


def test_graphml_damaged_or_mislabelled_is_refused_with_the_fix(tmp_path):
    good = _graphml(tmp_path).read_text()
    cut = tmp_path / "cut.graphml"
    cut.write_text(good[: len(good) // 2])
    with pytest.raises(ValidationError, match="malformed XML"):
        network_from_graphml(cut)
    with pytest.raises(ValidationError, match="not a CRS PROJ knows"):
        network_from_graphml(_graphml(tmp_path, crs="EPSG:99999999", name="badcrs.graphml"))
    with pytest.raises(ValidationError, match="not a CRS PROJ knows"):
        network_from_graphml(_graphml(tmp_path, crs="Gaode", name="gaode.graphml"))
    tr = pyproj.Transformer.from_crs(WGS84, BEIJING_UTM, always_xy=True)
    metres = {k: tr.transform(*v) for k, v in {"a": (LON0, LAT0), "b": (LON0 + 0.01, LAT0), "c": (LON0, 40)}.items()}
    with pytest.raises(ValidationError, match="metres, not degrees"):
        network_from_graphml(_graphml(tmp_path, xy=metres, name="metres.graphml"))
    with pytest.raises(ValidationError, match="metres, not degrees"):  # no crs attribute: taken as lon/lat, as osmnx
        network_from_graphml(_graphml(tmp_path, crs=None, xy=metres, name="nocrs.graphml"))
    nox = tmp_path / "nox.graphml"
    G = nx.Graph(crs="epsg:4326")
    G.add_node("a", y=39.9)
    G.add_node("b", x="east", y=39.9)
    G.add_edge("a", "b", length=5.0)
    nx.write_graphml(G, nox)
    with pytest.raises(ValidationError, match=r"2 node.*lack numeric `x`/`y`"):
        network_from_graphml(nox)
    empty = tmp_path / "empty.graphml"
    nx.write_graphml(nx.Graph(), empty)
    with pytest.raises(ValidationError, match="no nodes"):
        network_from_graphml(empty)
    with pytest.raises(ValidationError, match="file not found"):
        read_network(tmp_path / "missing.graphml")


def test_network_outside_or_partly_over_the_study_area(tmp_path):
    path = _graphml(tmp_path)
    shanghai = shapely.box(121.2, 31.0, 121.8, 31.4)
    with pytest.raises(ValidationError, match="outside the study area"):
        read_network(path, area=shanghai)
    net = read_network(path, area=BEIJING_BOX)
    assert any("spans 0% of the study area" in n for n in net.notes)
    lines = gpd.GeoDataFrame(geometry=[shapely.LineString([(LON0, LAT0), (LON0 + 0.01, LAT0)])], crs=WGS84)
    with pytest.raises(ValidationError, match="outside the study area"):
        network_from_lines(lines, area=shanghai)


def test_connectivity_share_checked():
    x0, y0 = 440_000.0, 4_420_000.0
    # SYNTHETIC: three separate streets of equal length: the largest piece holds a third of the network
    three = [shapely.LineString([(x0 + k * 2000, y0), (x0 + k * 2000 + 500, y0)]) for k in range(3)]
    with pytest.raises(ValidationError, match="largest connected piece holds only 33%"):
        network_from_lines(gpd.GeoDataFrame(geometry=three, crs=BEIJING_UTM))
    # one long street and a short stray piece: kept, and the dropped piece reported
    two = [shapely.LineString([(x0, y0), (x0 + 900, y0)]), shapely.LineString([(x0 + 5000, y0), (x0 + 5100, y0)])]
    net = network_from_lines(gpd.GeoDataFrame(geometry=two, crs=BEIJING_UTM))
    assert net.n_nodes == 2 and net.graph.sum() / 2 == pytest.approx(900)
    assert any("90%" in n and "1 disconnected" in n for n in net.notes)


def test_lines_without_crs_or_in_a_geographic_working_crs_refused():
    lines = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1, 1)])])
    with pytest.raises(ValidationError, match="no CRS"):
        network_from_lines(lines)
    with pytest.raises(ValidationError, match="not a metric"):
        network_from_lines(lines.set_crs(BEIJING_UTM), crs="EPSG:4326")


def _pbf(path, ways):
    """SYNTHETIC .osm.pbf written with osmium: nodes 1–4 around Tiananmen, the given ways."""
    osmium = pytest.importorskip("osmium")
    nodes = {1: (LON0, LAT0), 2: (LON0 + 0.01, LAT0), 3: (LON0 + 0.01, LAT0 + 0.01), 4: (LON0, LAT0 + 0.01)}
    with osmium.SimpleWriter(str(path)) as w:
        for i, loc in nodes.items():
            w.add_node(osmium.osm.mutable.Node(id=i, location=loc))
        for i, (refs, tags) in enumerate(ways, start=10):
            w.add_way(osmium.osm.mutable.Way(id=i, nodes=refs, tags=tags))
    return path


def test_osm_pbf_read_walkable_ways_only(tmp_path):
    path = _pbf(
        tmp_path / "beijing.osm.pbf",
        [
            ([1, 2], {"highway": "footway"}),
            ([2, 3, 99], {"highway": "residential"}),  # node 99 is outside the extract
            ([3, 4], {"highway": "motorway"}),
            ([4, 1], {"highway": "primary", "foot": "no"}),
            ([1, 3], {"building": "yes"}),
        ],
    )
    net = read_network(path, area=BEIJING_BOX)
    assert net.n_nodes == 3 and net.n_edges == 2
    expect = _chord((LON0, LAT0), (LON0 + 0.01, LAT0)) + _chord((LON0 + 0.01, LAT0), (LON0 + 0.01, LAT0 + 0.01))
    assert net.graph.sum() / 2 == pytest.approx(expect, rel=2e-3)
    assert any("1 way node(s) outside the extract" in n for n in net.notes)
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dnot a pbf file at all")
    with pytest.raises(ValidationError, match=r"could not read it as \.osm\.pbf"):
        read_network(bad)
    none = _pbf(tmp_path / "none.osm.pbf", [([1, 2], {"highway": "motorway"})])
    with pytest.raises(ValidationError, match="no walkable ways"):
        read_network(none)


def test_osm_xml_damaged(tmp_path):
    f = tmp_path / "x.osm"
    f.write_text('<osm><node id="1" lat="39.9" lon="116.4"/><way id="2"><nd ref="1"/>')
    with pytest.raises(ValidationError, match="not valid OSM XML"):
        read_network(f)
    f.write_text(
        '<osm><node id="1" lat="north" lon="116.4"/><way id="2"><nd ref="1"/><tag k="highway" v="path"/></way></osm>'
    )
    with pytest.raises(ValidationError, match=r"no walkable ways.*1 node"):
        read_network(f)


def _fake_osmnx_graph():
    """SYNTHETIC stand-in for what osmnx returns: a MultiDiGraph with lon/lat nodes and edge lengths."""
    G = nx.MultiDiGraph(crs="epsg:4326")
    G.add_node(1, x=LON0, y=LAT0, street_count=1)
    G.add_node(2, x=LON0 + 0.01, y=LAT0, street_count=1)
    G.add_edge(1, 2, osmid=10, length=900.0, highway="footway")
    G.add_edge(2, 1, osmid=10, length=900.0, highway="footway")
    return G


def test_fetch_network_downloads_once_then_works_offline(tmp_path, monkeypatch):
    ox = pytest.importorskip("osmnx")
    calls = []

    def fake(polygon, network_type, retain_all):
        calls.append((polygon.bounds, network_type))
        return _fake_osmnx_graph()

    monkeypatch.setattr(ox, "graph_from_polygon", fake)
    monkeypatch.setattr(ox.settings, "overpass_url", "https://localhost/api")  # resolvable offline; never called
    out = tmp_path / "nets" / "dongcheng_walk.graphml"
    assert fetch_network("Dongcheng", out) == out
    assert len(calls) == 1 and calls[0][1] == "walk"
    west, south, east, north = calls[0][0]
    assert 116.3 < west < east < 116.5 and 39.8 < south < north < 40.0  # Dongcheng's outline was asked for
    assert not list(out.parent.glob(".*.part"))
    net = read_network(out)
    assert net.graph.sum() / 2 == pytest.approx(900.0)  # its `length`, read back

    def offline(*args, **kwargs):
        raise AssertionError("no download when the file is there")

    monkeypatch.setattr(ox, "graph_from_polygon", offline)
    assert fetch_network("东城区", out) == out


def test_fetch_network_failures_say_what_to_do(tmp_path, monkeypatch):
    ox = pytest.importorskip("osmnx")
    import requests

    def no_internet(*args, **kwargs):
        raise requests.ConnectionError("Name or service not known")

    monkeypatch.setattr(ox, "graph_from_polygon", no_internet)
    monkeypatch.setattr(ox.settings, "overpass_url", "https://localhost/api")
    out = tmp_path / "nets" / "haidian.graphml"
    with pytest.raises(NetworkDownloadError, match=r"ConnectionError.*needs the internet.*copy haidian\.graphml here"):
        fetch_network("Haidian", out)
    assert not out.parent.exists()  # nothing left behind
    monkeypatch.setattr(ox.settings, "overpass_url", "https://no-such-host.invalid/api")
    with pytest.raises(NetworkDownloadError, match="gaierror"):  # unreachable: refused before any download attempt
        fetch_network("Haidian", out)
    with pytest.raises(ValidationError, match="no district called"):
        fetch_network("Atlantis", out)
    with pytest.raises(ValidationError, match="unknown network type"):
        fetch_network("Haidian", out, network_type="boat")
    with pytest.raises(ValidationError, match="saved as GraphML"):
        fetch_network("Haidian", tmp_path / "haidian.geojson")


# ---------------------------------------------------------------------------------------------------------------
# property-based: a damaged or odd network file gives a network or a FacilityPlannerError, never another exception


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(min_value=0, max_value=3000),
    insert=st.sampled_from(["", "<", "&", '"', "<data key='d0'>x</data>", "\x00", "中"]),
    crs=st.sampled_from(["epsg:4326", "EPSG:32650", "", "epsg:0", "+proj=longlat", "GCJ-02"]),
    lengths=st.tuples(
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
        st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6)),
    ),
)
def test_any_graphml_gives_a_network_or_a_clear_error(tmp_path, cut, insert, crs, lengths):
    text = _graphml(tmp_path, crs=crs, lengths=lengths).read_text()
    cut = min(cut, len(text))
    f = tmp_path / "generated.graphml"
    f.write_text(text[:cut] + insert + text[cut:], encoding="utf-8")
    try:
        net = read_network(f, area=BEIJING_BOX)
    except FacilityPlannerError:
        return
    assert isinstance(net, StreetNetwork) and net.n_nodes >= 2
    assert np.isfinite(net.graph.data).all() and (net.graph.data >= 0).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    coords=st.lists(
        st.tuples(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False, allow_infinity=False)),
        min_size=2,
        max_size=8,
    ),
    crs=st.sampled_from(["EPSG:4326", "EPSG:32650", "EPSG:3857"]),
)
def test_any_line_file_gives_a_network_or_a_clear_error(tmp_path, coords, crs):
    line = shapely.LineString(coords)
    f = tmp_path / "generated.geojson"
    gpd.GeoDataFrame({"highway": ["footway"]}, geometry=[line], crs=crs).to_file(f)
    try:
        net = read_network(f, area=BEIJING_BOX)
    except FacilityPlannerError:
        return
    assert np.isfinite(net.nodes).all() and np.isfinite(net.graph.data).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".graphml", ".osm", ".osm.pbf", ".geojson", ".gpkg"]))
def test_any_bytes_as_a_network_file(tmp_path, data, suffix):
    f = tmp_path / f"generated{suffix}"
    f.write_bytes(data)
    with pytest.raises(FacilityPlannerError):
        read_network(f)
