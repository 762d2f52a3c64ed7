"""Walking networks: read OpenStreetMap lines (GeoJSON/GeoPackage), ``.osm`` XML or GraphML; node, clean, snap.

Lines from OSM extracts are ways, not split at intersections; they are noded here (``shapely.node``), which joins
lines wherever they cross — bridges and tunnels included, a known simplification for walking. Motorways and trunk
roads (and their links) are not walkable and are dropped. The largest connected component is kept; the others
are reported in :attr:`StreetNetwork.notes`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from . import settings
from ._errors import ValidationError
from .coords import WGS84

NOT_WALKABLE = {
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "construction",
    "proposed",
    "raceway",
    "bus_guideway",
}


@dataclass
class StreetNetwork:
    """An undirected walking graph in a metric CRS.

    Attributes
    ----------
    nodes
        (N × 2) node coordinates in ``crs`` (metres).
    graph
        Symmetric ``scipy.sparse`` adjacency with edge lengths in metres.
    """

    nodes: np.ndarray
    graph: sp.csr_matrix
    crs: str
    notes: list[str] = field(default_factory=list)
    edges: np.ndarray | None = None  # (E × 2) node pairs, for drawing isochrones

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        return 0 if self.edges is None else len(self.edges)

    def hull(self, buffer_m: float = 0.0):
        """The area the network spans (convex hull of its nodes, buffered)."""
        return shapely.convex_hull(shapely.multipoints(self.nodes)).buffer(buffer_m)

    def snap(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node of each point and the distance to it (metres)."""
        d, i = cKDTree(self.nodes).query(xy)
        return i, d

    def to_networkx(self) -> nx.Graph:
        """The graph as networkx (node attributes x, y; edge attribute length)."""
        G = nx.Graph()
        for k, (x, y) in enumerate(self.nodes):
            G.add_node(k, x=float(x), y=float(y))
        coo = sp.triu(self.graph).tocoo()
        G.add_weighted_edges_from(
            zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True), weight="length"
        )
        return G


def _from_segments(lines: np.ndarray, crs: str, source: str, *, keep_largest: bool = True) -> StreetNetwork:
    """Build a graph from noded line geometries in a metric CRS."""
    problems = []
    if len(lines) == 0:
        problems.append(f"{source}: no walkable street lines; is it a street network (LineStrings with highway tags)?")
        raise ValidationError("street network", problems)
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    # consecutive vertices of the same line form segments
    same = idx[1:] == idx[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    keyed = np.round(np.vstack([a, b]), 2)
    uniq, inv = np.unique(keyed, axis=0, return_inverse=True)
    inv = inv.ravel()
    u, v = inv[: len(a)], inv[len(a) :]
    length = np.hypot(*(a - b).T)
    ok = u != v
    u, v, length = u[ok], v[ok], length[ok]
    n = len(uniq)
    # parallel segments between the same two nodes: keep the shortest (summing would double lengths)
    G = sp.coo_matrix((np.r_[length, length], (np.r_[u, v], np.r_[v, u])), shape=(n, n))
    dfm = pd.DataFrame({"r": G.row, "c": G.col, "d": G.data}).groupby(["r", "c"], as_index=False)["d"].min()
    G = sp.csr_matrix((dfm["d"], (dfm["r"], dfm["c"])), shape=(n, n))
    notes = []
    if keep_largest:
        ncomp, labels = connected_components(G, directed=False)
        if ncomp > 1:
            sizes = np.bincount(labels)
            big = int(np.argmax(sizes))
            keep = labels == big
            seg_len = np.bincount(labels[u], weights=length, minlength=ncomp)
            notes.append(
                f"{source}: kept the largest connected piece ({int(keep.sum()):,} of {n:,} nodes, "
                f"{seg_len[big] / 1000:,.1f} of {length.sum() / 1000:,.1f} km); {ncomp - 1} disconnected piece(s) "
                f"with {int((~keep).sum()):,} nodes were dropped"
            )
            new = -np.ones(n, dtype=int)
            new[keep] = np.arange(int(keep.sum()))
            G = G[keep][:, keep].tocsr()
            uniq = uniq[keep]
            ek = keep[u] & keep[v]
            u, v = new[u[ek]], new[v[ek]]
    edges = np.unique(np.sort(np.column_stack([u, v]), axis=1), axis=0)
    net = StreetNetwork(uniq, G, crs, notes, edges)
    net.notes.insert(
        0, f"{source}: {net.n_nodes:,} nodes, {net.n_edges:,} edges, {G.sum() / 2000:,.1f} km of walkable street"
    )
    return net


def network_from_lines(
    lines: gpd.GeoDataFrame | str | Path,
    *,
    crs: str | None = None,
    walkable_only: bool = True,
    highway_column: str | None = None,
    area=None,
) -> StreetNetwork:
    """A walking network from street lines (GeoDataFrame or file: GeoJSON, GeoPackage, gzipped GeoJSON).

    Parameters
    ----------
    highway_column
        Column with the OSM ``highway`` tag (``highway`` or Geofabrik's ``fclass`` are found automatically).
    area
        Optional polygon (in WGS-84) the network must overlap; a network elsewhere (e.g. in the wrong CRS or in
        GCJ-02) is refused with an explanation.
    """
    from .areas import read_vector

    source = "street lines"
    if not isinstance(lines, gpd.GeoDataFrame):
        source = Path(lines).name
        lines = read_vector(lines)
    if lines.crs is None:
        raise ValidationError(
            "street network", ["the lines have no CRS; set it with `set_crs` (EPSG:4326 for lon/lat)."]
        )
    crs = crs or settings.working_crs
    gdf = lines.to_crs(crs)
    gdf = gdf[~shapely.is_missing(gdf.geometry.values) & ~gdf.geometry.is_empty]
    gdf = gdf[gdf.geom_type.isin(["LineString", "MultiLineString"])]
    col = highway_column or next((c for c in ("highway", "fclass") if c in gdf.columns), None)
    dropped = 0
    if walkable_only and col is not None:
        bad = gdf[col].astype(str).isin(NOT_WALKABLE)
        if "walkable" in gdf.columns:
            bad |= ~gdf["walkable"].astype(bool)
        dropped = int(bad.sum())
        gdf = gdf[~bad]
    if "long_chord" in gdf.columns:
        gdf = gdf[~gdf["long_chord"].astype(bool)]
    _check_area(gdf.to_crs(WGS84) if len(gdf) else gdf, area, source)
    noded = shapely.node(shapely.MultiLineString(list(shapely.get_parts(gdf.geometry.values)))) if len(gdf) else None
    parts = shapely.get_parts(noded) if noded is not None else np.array([])
    net = _from_segments(parts, crs, source)
    if dropped:
        net.notes.append(f"{source}: {dropped} motorway/trunk line(s) left out as not walkable")
    return net


def _check_area(gdf_wgs: gpd.GeoDataFrame, area, source: str) -> None:
    if area is None or len(gdf_wgs) == 0:
        return
    ext = shapely.box(*gdf_wgs.total_bounds)
    if not ext.intersects(area):
        b = gdf_wgs.total_bounds
        raise ValidationError(
            "street network",
            [
                f"{source} lies at {b[0]:.3f}–{b[2]:.3f} E, {b[1]:.3f}–{b[3]:.3f} N, outside the study area; "
                "is its CRS right (projected data read as lon/lat, or GCJ-02 not converted)?"
            ],
        )


def network_from_osm_xml(path: str | Path, *, crs: str | None = None, area=None) -> StreetNetwork:
    """A walking network from an OpenStreetMap ``.osm`` XML file (ways with a walkable ``highway`` tag)."""
    path = Path(path)
    if not path.exists():
        raise ValidationError("street network", [f"file not found: {path}"])
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValidationError("street network", [f"{path.name} is not valid OSM XML ({exc})."]) from None
    nodes = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    lines = []
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        hw = tags.get("highway")
        if hw is None or tags.get("area") == "yes" or hw in NOT_WALKABLE or tags.get("foot") == "no":
            continue
        pts = [nodes[r.get("ref")] for r in way.iter("nd") if r.get("ref") in nodes]
        if len(pts) >= 2:
            lines.append(shapely.LineString(pts))
    gdf = gpd.GeoDataFrame(geometry=lines, crs=WGS84)
    if not len(gdf):
        raise ValidationError("street network", [f"{path.name} holds no walkable ways (highway=*)."])
    net = network_from_lines(gdf, crs=crs, walkable_only=False, area=area)
    net.notes[0] = net.notes[0].replace("street lines", path.name)
    return net


def network_from_graphml(path: str | Path, *, crs: str | None = None, area=None) -> StreetNetwork:
    """A walking network from GraphML (as osmnx saves it: node ``x``/``y`` in lon/lat, edge ``length`` in metres)."""
    path = Path(path)
    if not path.exists():
        raise ValidationError("street network", [f"file not found: {path}"])
    G = nx.read_graphml(path)
    if G.number_of_nodes() == 0:
        raise ValidationError("street network", [f"{path.name} has no nodes."])
    graph_crs = G.graph.get("crs", WGS84)
    try:
        xy = np.array([[float(d["x"]), float(d["y"])] for _, d in G.nodes(data=True)])
    except KeyError:
        raise ValidationError("street network", [f"{path.name}: nodes need `x` and `y` attributes."]) from None
    crs = crs or settings.working_crs
    tr = pyproj.Transformer.from_crs(graph_crs, crs, always_xy=True)
    mxy = np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
    index = {n: i for i, n in enumerate(G.nodes())}
    lines = [shapely.LineString([mxy[index[u]], mxy[index[v]]]) for u, v in G.edges() if u != v]
    gdf = gpd.GeoDataFrame(geometry=lines, crs=crs)
    _check_area(gdf.to_crs(WGS84), area, path.name)
    return _from_segments(np.asarray(gdf.geometry.values), crs, path.name)


def network_from_osmnx(place: str, *, crs: str | None = None) -> StreetNetwork:  # pragma: no cover - needs internet
    """Download a walking network with osmnx (optional extra ``[osm]``; needs internet)."""
    try:
        import osmnx as ox
    except ImportError:
        raise ValidationError(
            "street network", ["osmnx is not installed; `pip install facility-planner[osm]`, or pass a file."]
        ) from None
    G = ox.graph_from_place(place, network_type="walk")
    lines = ox.graph_to_gdfs(G, nodes=False)
    return network_from_lines(lines.reset_index(), crs=crs)


def read_network(path: str | Path, *, crs: str | None = None, area=None) -> StreetNetwork:
    """Read a walking network from a file, by its extension (.osm, .graphml, or any vector line file)."""
    p = str(path).lower()
    if p.endswith(".osm"):
        return network_from_osm_xml(path, crs=crs, area=area)
    if p.endswith(".graphml"):
        return network_from_graphml(path, crs=crs, area=area)
    return network_from_lines(path, crs=crs, area=area)
