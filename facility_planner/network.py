"""Walking networks: OpenStreetMap lines (GeoJSON/GeoPackage), ``.osm`` XML, ``.osm.pbf`` or GraphML; node, check, snap.

Lines from OSM extracts are ways, not split at intersections; they are noded here (``shapely.node``), which joins
lines wherever they cross — bridges and tunnels included, a known simplification for walking. Motorways and trunk
roads (and their links) are not walkable and are dropped. GraphML (as osmnx saves it) is taken as it is: its nodes
are the intersections, and each edge's ``length`` attribute (metres along the street) is its length; an edge
without a usable ``length`` takes the straight line between its nodes, and the notes say how many did.

Every network is checked on the way in, all problems in one :class:`~facility_planner.ValidationError` with the fix:
a CRS that is present and plausible (lon/lat that are really metres are refused), an extent that reaches the study
area, and a largest connected piece that holds most of the street length (a file whose streets are not joined at
intersections is refused; smaller disconnected pieces are dropped and reported in :attr:`StreetNetwork.notes`).

:func:`fetch_network` downloads a district's network through osmnx once (internet needed) and keeps it as GraphML;
later runs read that file offline.
"""

from __future__ import annotations

import os
import socket
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from . import settings
from ._errors import FacilityPlannerError, OutputExistsError, ValidationError
from .coords import WGS84

#: The largest connected piece must hold at least this share of the street length (else the file is refused).
MIN_CONNECTED_SHARE = 0.5

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
        """The number of street nodes."""
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        """The number of stored (directed) street edges."""
        return 0 if self.edges is None else len(self.edges)

    def edge_pairs(self) -> npt.NDArray[np.intp]:
        """(E × 2) node pairs of the streets, each once: the stored ``edges``, else read off the graph."""
        if self.edges is not None:
            return np.asarray(self.edges, dtype=np.intp)
        upper = sp.triu(self.graph).tocoo()
        return np.column_stack([upper.row, upper.col]).astype(np.intp)

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


def _problem(source: str, text: str) -> ValidationError:
    return ValidationError(f"street network `{source}`", [text])


def _from_edges(
    nodes: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    length: np.ndarray,
    crs: str,
    source: str,
    *,
    keep_largest: bool = True,
    min_connected_share: float = MIN_CONNECTED_SHARE,
    notes: list[str] | None = None,
) -> StreetNetwork:
    """Build the graph from node coordinates (metric CRS) and edges with lengths in metres."""
    notes = list(notes or [])
    ok = u != v
    u, v, length = u[ok], v[ok], length[ok]
    n = len(nodes)
    if n == 0 or len(u) == 0:
        raise _problem(source, "no walkable street segments; is it a street network (lines with highway tags)?")
    # parallel edges between the same two nodes: keep the shortest (summing would double lengths)
    G = sp.coo_matrix((np.r_[length, length], (np.r_[u, v], np.r_[v, u])), shape=(n, n))
    dfm = pd.DataFrame({"r": G.row, "c": G.col, "d": G.data}).groupby(["r", "c"], as_index=False)["d"].min()
    G = sp.csr_matrix((dfm["d"], (dfm["r"], dfm["c"])), shape=(n, n))
    if keep_largest:
        ncomp, labels = connected_components(G, directed=False)
        if ncomp > 1:
            sizes = np.bincount(labels)
            seg_len = np.bincount(labels[u], weights=length, minlength=ncomp)
            big = int(np.argmax(seg_len)) if seg_len.sum() > 0 else int(np.argmax(sizes))
            keep = labels == big
            share = seg_len[big] / seg_len.sum() if seg_len.sum() > 0 else sizes[big] / n
            if share < min_connected_share:
                raise _problem(
                    source,
                    f"its largest connected piece holds only {share:.0%} of the street length ({ncomp:,} pieces): "
                    "the streets are not joined where they meet. Export it again with intersections as shared nodes "
                    "(osmnx `save_graphml`, or OSM lines that `shapely.node` can join), or clip it to one connected "
                    "area.",
                )
            notes.append(
                f"{source}: kept the largest connected piece ({int(keep.sum()):,} of {n:,} nodes, "
                f"{seg_len[big] / 1000:,.1f} of {length.sum() / 1000:,.1f} km, {share:.0%}); {ncomp - 1} disconnected "
                f"piece(s) with {int((~keep).sum()):,} nodes were dropped"
            )
            new = -np.ones(n, dtype=int)
            new[keep] = np.arange(int(keep.sum()))
            G = G[keep][:, keep].tocsr()
            nodes = nodes[keep]
            ek = keep[u] & keep[v]
            u, v = new[u[ek]], new[v[ek]]
    edges = np.unique(np.sort(np.column_stack([u, v]), axis=1), axis=0)
    net = StreetNetwork(nodes, G, crs, notes, edges)
    net.notes.insert(
        0, f"{source}: {net.n_nodes:,} nodes, {net.n_edges:,} edges, {G.sum() / 2000:,.1f} km of walkable street"
    )
    return net


def _from_segments(lines: np.ndarray, crs: str, source: str, *, keep_largest: bool = True) -> StreetNetwork:
    """Build a graph from noded line geometries in a metric CRS (segment lengths measured along the lines)."""
    if len(lines) == 0:
        raise _problem(source, "no walkable street lines; is it a street network (LineStrings with highway tags)?")
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    # consecutive vertices of the same line form segments
    same = idx[1:] == idx[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    keyed = np.round(np.vstack([a, b]), 2)
    uniq, inv = np.unique(keyed, axis=0, return_inverse=True)
    inv = inv.ravel()
    u, v = inv[: len(a)], inv[len(a) :]
    return _from_edges(uniq, u, v, np.hypot(*(a - b).T), crs, source, keep_largest=keep_largest)


def _metric_crs(crs: str | None, source: str) -> str:
    crs = crs or settings.working_crs
    try:
        ok = pyproj.CRS(crs).is_projected
    except pyproj.exceptions.CRSError:
        ok = False
    if not ok:
        raise ValidationError("`crs`", [f"{crs} is not a metric (projected) CRS; use a UTM zone such as EPSG:32650."])
    return crs


def _check_lonlat(lon: np.ndarray, lat: np.ndarray, source: str, declared: str) -> None:
    """Coordinates said to be (or converted to) lon/lat must look like lon/lat."""
    finite = np.isfinite(lon) & np.isfinite(lat)
    problems = []
    if not finite.all():
        problems.append(f"{int((~finite).sum())} node(s) have coordinates that are not finite numbers.")
    lo, la = lon[finite], lat[finite]
    if len(lo) and ((np.abs(lo) > 180).any() or (np.abs(la) > 90).any()):
        problems.append(
            f"its CRS is {declared}, but its coordinates reach {np.nanmax(np.abs(lo)):.0f}, {np.nanmax(np.abs(la)):.0f}: "
            "they are metres, not degrees. Save it with the projected CRS it really uses (e.g. EPSG:32650)."
        )
    if problems:
        raise ValidationError(f"street network `{source}`", problems)


def _check_area(gdf_wgs: gpd.GeoDataFrame, area, source: str) -> list[str]:
    """Refuse a network that misses the study area; note how much of the area it spans."""
    if area is None or len(gdf_wgs) == 0:
        return []
    b = gdf_wgs.total_bounds
    if not np.isfinite(b).all():
        raise _problem(source, "its coordinates are not finite numbers; the file is damaged.")
    ext = shapely.box(*b)
    if not ext.intersects(area):
        raise _problem(
            source,
            f"it lies at {b[0]:.3f}–{b[2]:.3f} E, {b[1]:.3f}–{b[3]:.3f} N, outside the study area; is its CRS right "
            "(projected data read as lon/lat, or GCJ-02 not converted)? Or is it the network of another place?",
        )
    share = shapely.area(shapely.intersection(ext, area)) / max(shapely.area(area), 1e-12)
    if share < 0.9:
        return [
            f"{source}: the network spans {share:.0%} of the study area's extent; cells beyond its reach fall back to "
            "straight-line travel and are flagged."
        ]
    return []


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
    lines
        Street lines, or the file holding them.
    crs
        Metric CRS of the network (:data:`facility_planner.settings.working_crs` by default).
    walkable_only
        Leave out motorways and trunk roads (by the ``highway``/``fclass`` column).
    highway_column
        Column with the OSM ``highway`` tag (``highway`` or Geofabrik's ``fclass`` are found automatically).
    area
        Optional polygon (in WGS-84) the network must overlap; a network elsewhere (e.g. in the wrong CRS or in
        GCJ-02) is refused with an explanation.

    Returns
    -------
    StreetNetwork

    Raises
    ------
    ValidationError
        No CRS, an implausible CRS, no walkable lines, outside the study area, or streets not joined.
    """
    from .io import read_vector

    source = "street lines"
    if not isinstance(lines, gpd.GeoDataFrame):
        source = Path(lines).name
        lines = read_vector(lines, what=f"street network `{source}`")
    if lines.crs is None:
        raise _problem(source, "the lines have no CRS; set it with `set_crs` (EPSG:4326 for lon/lat).")
    crs = _metric_crs(crs, source)
    gdf = lines[~shapely.is_missing(lines.geometry.values) & ~lines.geometry.is_empty]
    gdf = gdf[gdf.geom_type.isin(["LineString", "MultiLineString"])]
    if len(gdf):
        if lines.crs.is_geographic:
            xy = shapely.get_coordinates(gdf.geometry.values)
            _check_lonlat(xy[:, 0], xy[:, 1], source, lines.crs.to_string())
        try:
            gdf = gdf.to_crs(crs)
        except Exception as exc:  # pyproj errors for an odd CRS
            raise _problem(source, f"its CRS cannot be converted to {crs} ({exc}).") from None
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
    area_notes = _check_area(gdf.to_crs(WGS84) if len(gdf) else gdf, area, source)
    try:
        noded = (
            shapely.node(shapely.MultiLineString(list(shapely.get_parts(gdf.geometry.values)))) if len(gdf) else None
        )
    except shapely.errors.GEOSException as exc:  # e.g. coordinates of 1e17 in a projected CRS
        raise _problem(
            source, f"its lines cannot be noded ({exc}); check the coordinates and the CRS the file declares."
        ) from None
    parts = shapely.get_parts(noded) if noded is not None else np.array([])
    net = _from_segments(parts, crs, source)
    if dropped:
        net.notes.append(f"{source}: {dropped} motorway/trunk line(s) left out as not walkable")
    net.notes += area_notes
    return net


def _walkable(tags: dict) -> bool:
    hw = tags.get("highway")
    return not (hw is None or tags.get("area") == "yes" or hw in NOT_WALKABLE or tags.get("foot") == "no")


def network_from_osm_xml(path: str | Path, *, crs: str | None = None, area=None) -> StreetNetwork:
    """A walking network from an OpenStreetMap ``.osm`` XML file (ways with a walkable ``highway`` tag).

    Raises
    ------
    ValidationError
        Not found, not OSM XML, node coordinates missing, no walkable ways, or the checks of
        :func:`network_from_lines`.
    """
    path = Path(path)
    if not path.is_file():
        raise _problem(path.name, f"file not found: {path}")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise _problem(path.name, f"not valid OSM XML ({exc}); download the extract again.") from None
    nodes = {}
    bad = 0
    for n in root.iter("node"):
        try:
            nodes[n.get("id")] = (float(n.get("lon")), float(n.get("lat")))
        except (TypeError, ValueError):
            bad += 1
    lines = []
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if not _walkable(tags):
            continue
        pts = [nodes[r.get("ref")] for r in way.iter("nd") if r.get("ref") in nodes]
        if len(pts) >= 2:
            lines.append(shapely.LineString(pts))
    if not lines:
        extra = f" ({bad} node(s) without a lon/lat)" if bad else ""
        raise _problem(path.name, f"it holds no walkable ways (highway=*) with located nodes{extra}.")
    net = network_from_lines(gpd.GeoDataFrame(geometry=lines, crs=WGS84), crs=crs, walkable_only=False, area=area)
    net.notes = [n.replace("street lines", path.name) for n in net.notes]
    return net


def network_from_osm_pbf(path: str | Path, *, crs: str | None = None, area=None) -> StreetNetwork:
    """A walking network from an OpenStreetMap ``.osm.pbf`` extract (e.g. Geofabrik's China or Beijing file).

    Needs ``osmium`` (PyPI wheels; in the ``[osm]`` extra). Only ways with a walkable ``highway`` tag are read;
    give an extract clipped to your area (``osmium extract``) rather than the whole country, to keep memory low.

    Raises
    ------
    ValidationError
        osmium missing, a damaged file, no walkable ways, or the checks of :func:`network_from_lines`.
    """
    path = Path(path)
    if not path.is_file():
        raise _problem(path.name, f"file not found: {path}")
    try:
        import osmium
    except ImportError:
        raise _problem(
            path.name, "reading .osm.pbf needs osmium: `pip install osmium` (or facility-planner[osm])."
        ) from None
    lines = []
    missing = 0
    try:
        fp = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        for obj in fp.with_filter(osmium.filter.KeyFilter("highway")):
            if not obj.is_way() or not _walkable(dict(obj.tags)):
                continue
            pts = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            missing += len(obj.nodes) - len(pts)
            if len(pts) >= 2:
                lines.append(shapely.LineString(pts))
    except (RuntimeError, ValueError, OSError) as exc:
        raise _problem(path.name, f"could not read it as .osm.pbf ({exc}); download the extract again.") from None
    if not lines:
        raise _problem(path.name, "it holds no walkable ways (highway=*) with located nodes.")
    net = network_from_lines(gpd.GeoDataFrame(geometry=lines, crs=WGS84), crs=crs, walkable_only=False, area=area)
    net.notes = [n.replace("street lines", path.name) for n in net.notes]
    if missing:
        net.notes.append(f"{path.name}: {missing:,} way node(s) outside the extract were left out")
    return net


def _float_attr(values: list[object]) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        try:
            out[i] = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    return out


def network_from_graphml(path: str | Path, *, crs: str | None = None, area=None) -> StreetNetwork:
    """A walking network from GraphML (as osmnx saves it: node ``x``/``y`` in the graph's ``crs``, edge ``length``).

    Each edge's ``length`` (metres along the street) is its length. An edge without a usable ``length`` (missing,
    not a number, negative, or shorter than the straight line between its nodes) takes the straight line, and the
    notes say how many did. A graph without a ``crs`` attribute is taken as lon/lat (EPSG:4326), as osmnx writes
    unprojected graphs, and its coordinates must then look like lon/lat.

    Raises
    ------
    ValidationError
        Not found, malformed XML, not GraphML, a CRS that PROJ does not know, nodes without ``x``/``y``, metres
        labelled as lon/lat, outside the study area, or streets not joined.
    """
    path = Path(path)
    source = path.name
    if not path.is_file():
        raise _problem(source, f"file not found: {path}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            G = nx.read_graphml(path)
    except ET.ParseError as exc:
        raise _problem(source, f"malformed XML ({exc}); the file is damaged or not GraphML: save it again.") from None
    except (nx.NetworkXError, KeyError, ValueError, TypeError) as exc:
        raise _problem(
            source, f"not a GraphML graph networkx can read ({exc}); save it with `ox.save_graphml`."
        ) from None
    if G.number_of_nodes() == 0:
        raise _problem(source, "the graph has no nodes.")
    read_notes = [f"{source}: {w.message}" for w in caught]
    declared = G.graph.get("crs", WGS84)
    try:
        graph_crs = pyproj.CRS(declared)
    except pyproj.exceptions.CRSError:
        raise _problem(
            source,
            f"its `crs` attribute {str(declared)[:80]!r} is not a CRS PROJ knows; set it to the CRS of the node "
            "x/y (EPSG:4326 for lon/lat, as osmnx writes) and save again.",
        ) from None
    names = list(G.nodes())
    data = [d for _, d in G.nodes(data=True)]
    xs = _float_attr([d.get("x") for d in data])
    ys = _float_attr([d.get("y") for d in data])
    bad = np.isnan(xs) | np.isnan(ys)
    if bad.any():
        shown = ", ".join(map(str, [names[i] for i in np.flatnonzero(bad)[:5]]))
        raise _problem(source, f"{int(bad.sum())} node(s) lack numeric `x`/`y` attributes (e.g. {shown}).")
    if graph_crs.is_geographic:
        _check_lonlat(xs, ys, source, graph_crs.to_string())
    crs = _metric_crs(crs, source)
    try:
        tr = pyproj.Transformer.from_crs(graph_crs, crs, always_xy=True)
        mxy = np.column_stack(tr.transform(xs, ys))
        wxy = np.column_stack(pyproj.Transformer.from_crs(graph_crs, WGS84, always_xy=True).transform(xs, ys))
    except pyproj.exceptions.ProjError as exc:
        raise _problem(source, f"its coordinates cannot be converted from {graph_crs.to_string()} ({exc}).") from None
    if not np.isfinite(mxy).all():
        raise _problem(source, f"some nodes lie outside where {graph_crs.to_string()} is defined; is the CRS right?")
    notes = read_notes + _check_area(gpd.GeoDataFrame(geometry=gpd.points_from_xy(*wxy.T), crs=WGS84), area, source)
    index = {n: i for i, n in enumerate(names)}
    triples = list(G.edges(data="length"))
    if not triples:
        raise _problem(source, "the graph has no edges.")
    u = np.array([index[a] for a, _, _ in triples], dtype=np.int64)
    v = np.array([index[b] for _, b, _ in triples], dtype=np.int64)
    given = _float_attr([w for _, _, w in triples])
    chord = np.hypot(*(mxy[u] - mxy[v]).T)
    usable = np.isfinite(given) & (given >= chord * 0.99 - 0.5)
    length = np.where(usable, given, chord)
    n_bad = int((~usable).sum())
    if n_bad:
        notes.append(
            f"{source}: {n_bad:,} of {len(u):,} edges have no usable `length` (missing, not a number, or shorter than "
            "the straight line between their ends); their straight-line length is used"
        )
    return _from_edges(mxy, u, v, length, crs, source, notes=notes)


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


class NetworkDownloadError(FacilityPlannerError, ConnectionError):
    """The street network could not be downloaded (no internet, or the OpenStreetMap servers refused)."""


def fetch_network(
    district: str,
    out: str | Path,
    *,
    network_type: str = "walk",
    cache_folder: str | Path | None = None,
    overwrite: bool = False,
    data_path: str | Path | None = None,
) -> Path:
    """Download a Beijing district's street network from OpenStreetMap through osmnx and keep it as GraphML.

    The first call needs the internet (osmnx queries the Overpass API; its responses are cached in
    ``cache_folder``). When ``out`` exists it is returned as it is and nothing is downloaded, so later runs work
    offline: give the same ``out`` to :func:`read_network` or ``travel.network_file`` in a scenario.

    Parameters
    ----------
    district
        A Beijing district by code, Chinese or English name (``"Haidian"``, ``"海淀区"``, ``"110108"``).
    out
        The GraphML file to write (e.g. ``networks/haidian_walk.graphml``).
    network_type
        osmnx network type: ``"walk"`` (default), ``"drive"``, ``"bike"`` or ``"all"``.
    cache_folder
        Where osmnx keeps its HTTP cache (default: ``.osm_cache`` beside ``out``).
    overwrite
        Download again even if ``out`` exists.

    Returns
    -------
    pathlib.Path
        ``out``, written atomically and checked by reading it back with :func:`network_from_graphml`.

    Raises
    ------
    ValidationError
        Unknown district or network type.
    NetworkDownloadError
        No internet or the server refused; the message says how to get the network another way.
    """
    from .areas import resolve_district
    from .beijing import load_districts

    out = Path(out)
    if network_type not in ("walk", "drive", "bike", "all", "all_public", "drive_service"):
        raise ValidationError("`network_type`", [f"unknown network type {network_type!r}; use 'walk' or 'drive'."])
    districts = load_districts(data_path)
    code = resolve_district(districts, district)
    if out.exists() and not overwrite:
        if out.is_dir():
            raise OutputExistsError(f"{out} is a folder; give a file name such as {out / 'network.graphml'}.")
        return out
    if out.suffix.lower() != ".graphml":
        raise ValidationError("`out`", [f"{out.name}: the network is saved as GraphML; name it …/name.graphml."])
    try:
        import osmnx as ox
    except ImportError:
        raise ValidationError(
            "street network", ["osmnx is not installed; `pip install facility-planner[osm]`, or pass a file."]
        ) from None
    polygon = districts.loc[districts["district_code"] == code, "geometry"].iloc[0]

    def failed(exc: BaseException) -> NetworkDownloadError:
        return NetworkDownloadError(
            f"could not download the {network_type} network of district {code} from OpenStreetMap "
            f"({type(exc).__name__}: {exc}). This needs the internet. Without it: run `facility-planner network "
            f"fetch --district {district} --out {out}` on a machine that has it and copy {out.name} here, or use a "
            ".osm.pbf extract (e.g. Geofabrik's China file, clipped with `osmium extract`)."
        )

    host = urlparse(str(ox.settings.overpass_url)).hostname
    if host:
        try:  # fail in seconds, not after osmnx's retries, when the server cannot be reached at all
            socket.getaddrinfo(host, 443)
        except OSError as exc:
            raise failed(exc) from None
    saved = (ox.settings.use_cache, ox.settings.cache_folder)
    ox.settings.use_cache, ox.settings.cache_folder = True, str(cache_folder or out.parent / ".osm_cache")
    try:
        G = ox.graph_from_polygon(polygon, network_type=network_type, retain_all=False)
    except Exception as exc:  # requests' ConnectionError/Timeout, osmnx's InsufficientResponseError, HTTP errors …
        raise failed(exc) from None
    finally:
        ox.settings.use_cache, ox.settings.cache_folder = saved
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    try:
        ox.save_graphml(G, tmp)
        network_from_graphml(tmp)  # refuse to keep a file that would not read back
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def read_network(path: str | Path, *, crs: str | None = None, area=None) -> StreetNetwork:
    """Read a walking network from a file, by its extension, and check it.

    ``.osm`` (XML), ``.osm.pbf``/``.pbf``, ``.graphml``, or any vector line file (GeoJSON, GeoPackage, ``.gz``).

    Parameters
    ----------
    path
        The network file.
    crs
        Metric CRS of the network (:data:`facility_planner.settings.working_crs` by default).
    area
        Polygon of the study area (WGS-84): a network that misses it is refused, one that covers part of it is noted.

    Returns
    -------
    StreetNetwork

    Raises
    ------
    ValidationError
        Every reader's checks: file missing or damaged, CRS missing or implausible, outside the study area, streets
        not joined.
    """
    p = str(path).lower()
    if p.endswith(".osm"):
        return network_from_osm_xml(path, crs=crs, area=area)
    if p.endswith(".pbf"):
        return network_from_osm_pbf(path, crs=crs, area=area)
    if p.endswith(".graphml"):
        return network_from_graphml(path, crs=crs, area=area)
    return network_from_lines(path, crs=crs, area=area)
