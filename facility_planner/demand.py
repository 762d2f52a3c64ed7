"""The demand layer: the area cut into cells carrying population, older population and their unit codes.

Cells are squares or hexagons of a given size in a metric CRS, cut along township boundaries, so every cell lies in
exactly one township and one district and no cell reaches outside the area. Population is spread inside each
township by cell area, or by an ancillary weight (street length, building floor area …) when one is given; the
largest-remainder rule (see :mod:`facility_planner.population`) keeps whole people and exact totals:

* cells of a township add up to the township's population, townships to the district census total;
* the same holds for the older population;
* every township with people has at least one cell.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import settings
from ._errors import FacilityPlannerError, ValidationError
from ._validate import Problems, check_columns, check_geometries, check_numeric_nonnegative, check_unique
from .coords import WGS84
from .population import largest_remainder

CellShape = Literal["square", "hex"]


def grid_cells(bounds: tuple[float, float, float, float], cell_size_m: float, shape: CellShape = "square"):
    """Cells covering ``bounds`` (metric): returns (polygons, row index, column index).

    For ``"square"`` cells ``cell_size_m`` is the side; for ``"hex"`` (pointy-top) it is the distance between
    neighbouring centres, so both shapes have about the same number of cells per km².
    """
    xmin, ymin, xmax, ymax = bounds
    if shape == "square":
        nx = max(1, math.ceil((xmax - xmin) / cell_size_m))
        ny = max(1, math.ceil((ymax - ymin) / cell_size_m))
        grid_cols, grid_rows = np.meshgrid(np.arange(nx), np.arange(ny))
        cols, rows = grid_cols.ravel(), grid_rows.ravel()
        x0 = xmin + cols * cell_size_m
        y0 = ymin + rows * cell_size_m
        polys = shapely.box(x0, y0, x0 + cell_size_m, y0 + cell_size_m)
        return polys, rows, cols
    if shape == "hex":
        w = cell_size_m  # centre spacing along a row
        r = w / math.sqrt(3)  # circumradius
        dy = 1.5 * r
        nx = math.ceil((xmax - xmin) / w) + 3
        ny = math.ceil((ymax - ymin) / dy) + 3
        grid_cols, grid_rows = np.meshgrid(np.arange(nx), np.arange(ny))
        cols, rows = grid_cols.ravel(), grid_rows.ravel()
        # vertices on an integer lattice of half-steps, so neighbouring hexagons share bit-identical coordinates
        kx = (2 * cols + rows % 2)[:, None] + np.array([1, 0, -1, -1, 0, 1])[None, :]
        ky = (3 * rows)[:, None] + np.array([1, 2, 1, -1, -2, -1])[None, :]
        xs = (xmin - w) + kx * (w / 2)
        ys = (ymin - dy) + ky * (r / 2)
        coords = np.stack([xs, ys], axis=-1)
        hexes = shapely.polygons(coords)
        return hexes, rows, cols
    raise ValidationError("`shape`", [f"cell shape must be 'square' or 'hex'; got {shape!r}."])


def validate_zones(zones: gpd.GeoDataFrame, *, pop_column: str, older_column: str | None) -> None:
    """Check the zones a demand layer is built from; raise one ValidationError listing every problem."""
    problems = Problems("`zones`")
    if not isinstance(zones, gpd.GeoDataFrame):
        raise ValidationError("`zones`", [f"expected a GeoDataFrame of township polygons; got {type(zones).__name__}."])
    required = ["township_code", "district_code", pop_column] + ([older_column] if older_column else [])
    if check_columns(zones, required, problems):
        check_numeric_nonnegative(zones, pop_column, problems, id_column="township_code")
        if older_column:
            check_numeric_nonnegative(zones, older_column, problems, id_column="township_code")
            p = pd.to_numeric(zones[pop_column], errors="coerce")
            o = pd.to_numeric(zones[older_column], errors="coerce")
            over = o > p
            if over.any():
                problems.add(
                    f"`{older_column}` exceeds `{pop_column}` in {int(over.sum())} zone(s); check the age shares."
                )
        check_unique(zones, "township_code", problems)
    if zones.crs is None:
        problems.add(
            "`zones` has no CRS; set the one the coordinates are in, e.g. `zones.set_crs('EPSG:4326')` for lon/lat."
        )
    check_geometries(zones, problems, id_column="township_code" if "township_code" in zones.columns else None)
    if len(zones) and not problems:
        kinds = set(zones.geom_type)
        if not kinds <= {"Polygon", "MultiPolygon"}:
            problems.add(f"`zones` must be polygons; found {sorted(kinds)}.")
    problems.raise_if_any()


def _ancillary_weight(pieces: gpd.GeoSeries, ancillary: gpd.GeoDataFrame | gpd.GeoSeries, column: str | None):
    """Weight per piece from lines (length), points (count or ``column`` sum) or polygons (area)."""
    anc = ancillary.to_crs(pieces.crs)
    geoms = anc.geometry.values
    vals = anc[column].to_numpy(float) if column else np.ones(len(anc))
    kinds = set(anc.geom_type)
    left, right = shapely.STRtree(geoms).query(pieces.values, predicate="intersects")
    if kinds <= {"LineString", "MultiLineString"}:
        measure = shapely.length(shapely.intersection(pieces.values[left], geoms[right])) * (
            vals[right] if column else 1.0
        )
    elif kinds <= {"Point", "MultiPoint"}:
        measure = vals[right]
    else:
        measure = shapely.area(shapely.intersection(pieces.values[left], geoms[right])) * (
            vals[right] if column else 1.0
        )
    return np.bincount(left, weights=measure, minlength=len(pieces))


def raster_zonal_sums(
    polygons: gpd.GeoSeries, raster: str | Path, *, band: int = 1, max_subdivide: int = 16
) -> tuple[np.ndarray, list[str]]:
    """Sum of a raster's values (e.g. people per pixel) inside each polygon, with notes on what was assumed.

    Each pixel counts in the polygon holding its centre. When pixels are coarse against the polygons (a pixel wider
    than a quarter of a typical polygon), every pixel is first split into k × k equal sub-pixels, each carrying
    1/k² of its value, so a pixel shared by several polygons is shared by area. Pixels that are nodata, NaN or
    negative count as 0. The polygons are reprojected to the raster's CRS; they should not overlap (cell pieces
    never do), so the sums add up to the raster's total inside them.

    Parameters
    ----------
    polygons
        Polygons with a CRS (e.g. the cell pieces of a demand layer).
    raster
        A GeoTIFF (or any raster GDAL reads), e.g. WorldPop's 100 m population count for China.
    band
        The band holding the values.
    max_subdivide
        Largest k for the sub-pixel split (bounds memory).

    Returns
    -------
    (sums, notes)

    Raises
    ------
    ValidationError
        Not found or not a raster, no CRS, no such band, a raster that misses the polygons, negative values that are
        not nodata, or no positive value inside the polygons.
    """
    import rasterio
    import rasterio.features
    import rasterio.windows
    from affine import Affine

    path = Path(raster)
    what = f"population raster `{path.name}`"
    problems = Problems(what)
    if not path.is_file():
        problems.add(f"file not found: {path}; check the path.")
        problems.raise_if_any()
    notes: list[str] = []
    try:
        src = rasterio.open(path)
    except (rasterio.errors.RasterioIOError, rasterio.errors.RasterioError) as exc:
        problems.add(f"could not read it as a raster ({exc}); give a GeoTIFF such as WorldPop's population count.")
        problems.raise_if_any()
    with src:
        if src.crs is None:
            problems.add("the raster has no CRS; WorldPop rasters are EPSG:4326: set it with `gdal_edit.py -a_srs`.")
        if not 1 <= band <= src.count:
            problems.add(f"band {band} does not exist; the raster has {src.count} band(s).")
        problems.raise_if_any()
        try:
            geoms = polygons.to_crs(src.crs).geometry.values
        except Exception as exc:  # pyproj errors for an exotic raster CRS
            problems.add(f"its CRS ({src.crs}) cannot be used ({exc}).")
            problems.raise_if_any()
        gb = shapely.total_bounds(geoms)
        rb = src.bounds
        if not (gb[0] < rb.right and gb[2] > rb.left and gb[1] < rb.top and gb[3] > rb.bottom):
            problems.add(
                f"the raster covers {rb.left:.3f}–{rb.right:.3f}, {rb.bottom:.3f}–{rb.top:.3f} (in {src.crs}) and the "
                f"area {gb[0]:.3f}–{gb[2]:.3f}, {gb[1]:.3f}–{gb[3]:.3f}: they do not overlap. Is it the raster of "
                "another country or region, or in another CRS?"
            )
            problems.raise_if_any()
        window = rasterio.windows.from_bounds(*gb, transform=src.transform)
        window = window.round_offsets(op="floor").round_lengths(op="ceil")
        window = window.intersection(rasterio.windows.Window(0, 0, src.width, src.height))
        data = src.read(band, window=window, masked=True).astype("float64")
        transform = src.window_transform(window)
        nodata = np.ma.getmaskarray(data) | ~np.isfinite(data.filled(np.nan))
        values = np.where(nodata, 0.0, data.filled(0.0))
        negative = values < 0
        if negative.any():
            problems.add(
                f"{int(negative.sum())} pixel(s) inside the area hold negative values that are not marked nodata "
                f"(e.g. {values[negative][0]:g}); set the raster's nodata value (WorldPop uses -99999) or fix them."
            )
            problems.raise_if_any()
        covered = float(np.nansum(shapely.area(shapely.intersection(geoms, shapely.box(*src.bounds)))))
        total_area = float(np.nansum(shapely.area(geoms)))
        if total_area > 0 and covered < 0.99 * total_area:
            notes.append(f"{what} covers {covered / total_area:.0%} of the area; people elsewhere are spread by area.")
    # sub-pixels so that a coarse pixel is shared by area among the polygons it overlaps
    pix = max(abs(transform.a), abs(transform.e))
    typical = float(np.median(np.sqrt(shapely.area(geoms)))) if len(geoms) else pix
    k = int(min(max_subdivide, max(1, np.ceil(4 * pix / max(typical, 1e-12)))))
    if k > 1:
        values = np.repeat(np.repeat(values, k, axis=0), k, axis=1) / (k * k)
        transform = transform * Affine.scale(1 / k)
        notes.append(f"{what}: pixels are coarse against the cells; each was split into {k}×{k} by area")
    labels = rasterio.features.rasterize(
        ((g, i + 1) for i, g in enumerate(geoms) if g is not None and not g.is_empty),
        out_shape=values.shape,
        transform=transform,
        fill=0,
        dtype="int32",
    )
    sums = np.bincount(labels.ravel(), weights=values.ravel(), minlength=len(geoms) + 1)[1:]
    if not sums.sum() > 0:
        problems.add("the raster holds no people inside the area (all pixels there are 0 or nodata).")
        problems.raise_if_any()
    return sums, notes


@dataclass
class DemandLayer:
    """Cells with people, plus the tables they were built from.

    Attributes
    ----------
    cells
        GeoDataFrame in the working CRS: ``cell_id``, ``township_code``, ``district_code``, ``pop``, ``pop_60``
        (older population), ``area_m2``, ``weight``, ``n_communities``, geometry (cell cut to its township).
    townships
        Township zones with ``pop``, ``pop_60`` and ``pop_source``.
    communities
        Community/village units with a known location, with the ``cell_id`` they lie in.
    """

    cells: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame | None = None
    districts: gpd.GeoDataFrame | None = None
    join_report: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    #: (the cells' geometry array, its points): the cache of :meth:`cell_points`
    _points: tuple[object, gpd.GeoSeries] | None = field(default=None, init=False, repr=False, compare=False)

    def district_table(self) -> pd.DataFrame:
        """Per-district totals of cells, people and older people, with the census check."""
        c = self.cells
        t = c.groupby("district_code").agg(cells=("cell_id", "size"), pop=("pop", "sum"), pop_60=("pop_60", "sum"))
        t["townships"] = self.townships.groupby("district_code").size().reindex(t.index).fillna(0).astype(int)
        if self.districts is not None:
            names = self.districts.set_index("district_code")
            t.insert(0, "name_en", names["name_pinyin"].reindex(t.index))
            t.insert(1, "name_zh", names["name_zh"].reindex(t.index))
        if "census_total" in self.townships.attrs:
            census = pd.Series(self.townships.attrs["census_total"])
            t["census_2020"] = census.reindex(t.index)
        return t.reset_index()

    def cell_points(self) -> gpd.GeoSeries:
        """One point per cell (centroid of the piece, moved inside when the piece is not convex), indexed as ``cells``.

        Worked out once while the cells' geometry is the same object: every family asks for them twice, for its demand
        and for its candidates (0.2 s each time over Beijing's 80,000 cells).
        """
        from .sites import interior_points

        geoms = self.cells.geometry
        cached = self._points
        if cached is None or cached[0] is not geoms.values:
            cached = (geoms.values, gpd.GeoSeries(interior_points(geoms), index=geoms.index, crs=self.cells.crs))
            self._points = cached
        return cached[1]

    def centroids(self) -> gpd.GeoDataFrame:
        """The cells as points (:meth:`cell_points`), with every column of ``cells``."""
        pts = self.cell_points()
        return gpd.GeoDataFrame(self.cells.drop(columns="geometry"), geometry=pts.values, crs=self.cells.crs)

    def to_gpkg(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the layer as a GeoPackage (WGS-84): layers ``cells``, ``townships``, ``communities``, ``districts``."""
        from .io import write_gpkg

        layers = {"cells": self.cells, "townships": self.townships}
        if self.communities is not None:
            layers["communities"] = self.communities
        if self.districts is not None:
            layers["districts"] = self.districts
        if self.join_report is not None:
            layers["join_report"] = self.join_report
        return write_gpkg(path, layers, overwrite=overwrite)


def build_demand_layer(
    zones: gpd.GeoDataFrame,
    *,
    cell_size_m: float = 500.0,
    shape: CellShape = "square",
    pop_column: str = "pop",
    older_column: str | None = "pop_60",
    ancillary: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    ancillary_column: str | None = None,
    crs: str | None = None,
    communities: gpd.GeoDataFrame | None = None,
    population_raster: str | Path | None = None,
    raster_band: int = 1,
) -> DemandLayer:
    """Cut ``zones`` (township polygons with integer population) into cells and spread the people over them.

    Parameters
    ----------
    zones
        Polygons with ``township_code``, ``district_code``, ``pop_column`` and (optionally) ``older_column``.
    pop_column, older_column
        The columns of ``zones`` holding all people and people aged 60+ (``older_column=None``: no 60+ layer).
    cell_size_m
        Square side, or hexagon centre spacing, in metres (500 by default; 250 works citywide).
    shape
        ``"square"`` or ``"hex"``.
    ancillary
        Optional layer whose amount inside each cell weights the spread: line length (e.g. a street network),
        point count (or the sum of ``ancillary_column``), or polygon area. A township with no ancillary amount
        inside falls back to area and says so in the cell's ``weight_source``.
    ancillary_column
        The column of ``ancillary`` points to sum instead of counting them.
    crs
        Metric CRS for the cells; :data:`facility_planner.settings.working_crs` by default.
    communities
        Optional points (``community_code`` …) to attach to the cells they lie in.
    population_raster
        Optional raster of where people live (a GeoTIFF such as WorldPop's 100 m population count): each cell's
        weight is the raster's sum over it (:func:`raster_zonal_sums`), so people move into the built-up cells while
        every township keeps its census total exactly. A township with no raster people falls back to area and
        says so in ``weight_source``. Not together with ``ancillary``.
    raster_band
        The raster band holding people.

    Returns
    -------
    DemandLayer
        The cells (``cell_id``, ``pop``, ``pop_60``, codes, ``weight_source``) with the zones' totals kept exactly.
    """
    validate_zones(zones, pop_column=pop_column, older_column=older_column)
    problems = Problems("demand layer parameters")
    if ancillary is not None and population_raster is not None:
        problems.add("give either `ancillary` or `population_raster`, not both.")
    if not isinstance(cell_size_m, int | float) or not math.isfinite(cell_size_m) or cell_size_m <= 0:
        problems.add(f"`cell_size_m` must be a number of metres > 0; got {cell_size_m!r}.")
    elif cell_size_m < 50:
        problems.add(f"`cell_size_m` = {cell_size_m} m would make far too many cells; use 50 m or more.")
    if shape not in ("square", "hex"):
        problems.add(f"`shape` must be 'square' or 'hex'; got {shape!r}.")
    problems.raise_if_any()
    t0 = time.perf_counter()
    crs = crs or settings.working_crs
    z = zones.to_crs(crs).reset_index(drop=True)
    if not z.crs.is_projected:
        raise ValidationError("`crs`", [f"{crs} is not a metric (projected) CRS; use a UTM zone such as EPSG:32650."])
    zgeom = z.geometry.values
    from ._guards import check_cell_count

    check_cell_count(float(z.geometry.area.sum()) / 1e6, float(cell_size_m), shape=shape)
    polys, rows, cols = grid_cells(tuple(z.total_bounds), float(cell_size_m), shape)
    tree = shapely.STRtree(polys)
    zi, ci = tree.query(zgeom, predicate="intersects")
    # cells wholly inside their zone need no cutting
    shapely.prepare(zgeom)
    whole = shapely.contains_properly(zgeom[zi], polys[ci])
    pieces = polys[ci].copy()
    cut = ~whole
    pieces[cut] = shapely.intersection(polys[ci[cut]], zgeom[zi[cut]])
    # keep polygonal parts only (an intersection along an edge can leave lines)
    pieces[cut] = [
        p
        if p.geom_type in ("Polygon", "MultiPolygon")
        else shapely.union_all([g for g in shapely.get_parts(p) if g.geom_type in ("Polygon", "MultiPolygon")])
        for p in pieces[cut]
    ]
    area = shapely.area(pieces)
    keep = area > 1e-3
    zi, ci, pieces, area = zi[keep], ci[keep], pieces[keep], area[keep]
    order = np.lexsort((zi, cols[ci], rows[ci]))
    zi, ci, pieces, area = zi[order], ci[order], pieces[order], area[order]

    codes = z["township_code"].astype(str).to_numpy()[zi]
    prefix = "H" if shape == "hex" else "S"
    size_tag = f"{cell_size_m:g}"
    cell_id = np.char.add(
        np.char.add(f"{prefix}{size_tag}-", np.char.add(np.char.zfill(rows[ci].astype(str), 4), "-")),
        np.char.add(np.char.zfill(cols[ci].astype(str), 4), np.char.add("-", codes.astype(str))),
    )
    cells = gpd.GeoDataFrame(
        {
            "cell_id": cell_id,
            "grid_row": rows[ci].astype(np.int32),
            "grid_col": cols[ci].astype(np.int32),
            "township_code": codes,
            "district_code": z["district_code"].astype(str).to_numpy()[zi],
            "area_m2": area,
        },
        geometry=pieces,
        crs=crs,
    )
    weight = area.copy()
    weight_source = np.full(len(cells), "area", dtype=object)
    raster_notes: list[str] = []
    if ancillary is not None or population_raster is not None:
        if population_raster is not None:
            aw, raster_notes = raster_zonal_sums(cells.geometry, population_raster, band=raster_band)
            label = "population raster"
        else:
            aw = _ancillary_weight(cells.geometry, ancillary, ancillary_column)
            label = "ancillary"
        ztot = np.bincount(zi, weights=aw, minlength=len(z))
        has = ztot[zi] > 0
        weight = np.where(has, aw, area)
        weight_source = np.where(has, label, f"area (no {label} data in township)")
        n_fallback = int((ztot[np.unique(zi)] <= 0).sum())
        if n_fallback:
            raster_notes.append(
                f"{n_fallback} township(s) have no {label} data inside; their people are spread by area"
            )
    cells["weight"] = weight
    cells["weight_source"] = weight_source
    zpop = pd.to_numeric(z[pop_column]).astype("int64").to_numpy()
    cells["pop"] = largest_remainder(zpop[zi], weight, zi)
    if older_column:
        zold = pd.to_numeric(z[older_column]).astype("int64").to_numpy()
        cells["pop_60"] = largest_remainder(zold[zi], cells["pop"].to_numpy(float), zi)
    cells["n_communities"] = 0

    comm_out = None
    if communities is not None and len(communities):
        cp = communities.to_crs(crs)
        li, ri = shapely.STRtree(cells.geometry.values).query(cp.geometry.values, predicate="intersects")
        first = pd.Series(ri, index=li).groupby(level=0).min()
        comm_out = cp.copy()
        comm_out["cell_id"] = None
        comm_out.loc[comm_out.index[first.index], "cell_id"] = cells["cell_id"].to_numpy()[first.to_numpy()]
        counts = np.bincount(first.to_numpy(), minlength=len(cells))
        cells["n_communities"] = counts
        outside = comm_out["cell_id"].isna().sum()
        if outside:
            comm_out["cell_id"] = comm_out["cell_id"].fillna("")
    cells = cells.reset_index(drop=True)
    z_out = z.copy()
    z_out["n_cells"] = np.bincount(zi, minlength=len(z))
    layer = DemandLayer(
        cells=cells,
        townships=z_out,
        communities=comm_out,
        notes=raster_notes,
        params={"cell_size_m": cell_size_m, "shape": shape, "crs": crs, "seconds": round(time.perf_counter() - t0, 2)},
    )
    if population_raster is not None:
        layer.params["population_raster"] = str(population_raster)
    _check_invariants(layer, pop_column, older_column)
    return layer


def _check_invariants(layer: DemandLayer, pop_column: str, older_column: str | None) -> None:
    """Fail loudly (never silently) if the layer does not preserve the zones' totals."""
    c, z = layer.cells, layer.townships
    errors: list[str] = []
    got = c.groupby("township_code")["pop"].sum()
    want = z.set_index("township_code")[pop_column].astype("int64")
    diff = got.reindex(want.index).fillna(0) - want
    if (diff != 0).any():
        errors.append(f"population not preserved in townships {list(diff[diff != 0].index[:5])}")
    if older_column:
        got = c.groupby("township_code")["pop_60"].sum()
        want = z.set_index("township_code")[older_column].astype("int64")
        if ((got.reindex(want.index).fillna(0) - want) != 0).any():
            errors.append("older population not preserved")
    populated = set(z.loc[z[pop_column] > 0, "township_code"])
    missing = populated - set(c["township_code"])
    if missing:
        errors.append(f"populated townships without cells: {sorted(missing)[:5]}")
    if errors:
        raise FacilityPlannerError("internal error, demand layer invariants broken: " + "; ".join(errors))


def beijing_zones(
    *,
    older_share: float | None = None,
    older_share_by_district: dict[str, float] | None = None,
    older_share_table: str | Path | None = None,
    data_path: str | Path | None = None,
) -> tuple[gpd.GeoDataFrame, float, dict[str, float]]:
    """Every Beijing township polygon with ``pop`` and ``pop_60``, controlled to the 2020 district census.

    The same numbers :func:`beijing_demand` spreads over cells, without the cells: what a district's share of a
    citywide target is computed from. Returns the zones, the 60+ share used and the per-district shares by code.
    """
    from .areas import resolve_district
    from .beijing import load_beijing, load_haidian_census
    from .population import control_to_census, load_city_age_shares, load_district_census, older_population

    areas = load_beijing(data_path)
    census = load_district_census(data_path)
    zones = control_to_census(
        areas.townships, census, zone_census=load_haidian_census(data_path), weight_label="worldpop_estimate"
    )
    share = older_share if older_share is not None else load_city_age_shares(data_path)["60+"]
    by_d = {resolve_district(areas.districts, k): v for k, v in (older_share_by_district or {}).items()}
    if older_share_table is not None:
        from .population import read_older_shares

        if by_d:
            raise ValidationError(
                "older-population shares", ["give `older_share_by_district` or `older_share_table`, not both."]
            )
        by_d = read_older_shares(older_share_table, areas.districts)
    return older_population(zones, share=share, by_district=by_d), share, by_d


def beijing_demand(
    *,
    district: str | None = None,
    cell_size_m: float = 500.0,
    shape: CellShape = "square",
    older_share: float | None = None,
    older_share_by_district: dict[str, float] | None = None,
    older_share_table: str | Path | None = None,
    ancillary: gpd.GeoDataFrame | None = None,
    ancillary_column: str | None = None,
    population_raster: str | Path | None = None,
    data_path: str | Path | None = None,
) -> DemandLayer:
    """The demand layer for Beijing (or one district) from the bundled 2020 census data.

    Township populations are controlled to each district's 2020 census total; Haidian's townships take their own
    census figures, the others the district total split by the WorldPop estimate of the township file
    (``pop_source`` says which, per township). Inside each township people are spread over the cells by area, or
    by ``population_raster`` (e.g. WorldPop 100 m) or an ``ancillary`` layer when given; the totals stay exact.

    Older population (60+) is the city share (the 2020 census share unless ``older_share`` is given) except for
    districts with their own share, from ``older_share_by_district`` (district code or name → share) or from an
    ``older_share_table`` file (CSV/xlsx ``district,older_share``; see
    :func:`~facility_planner.population.read_older_shares`).

    Parameters
    ----------
    district
        Only this district (code, Chinese or English name); the whole city by default.
    cell_size_m, shape
        Cell size in metres and ``"square"`` or ``"hex"`` cells, as :func:`build_demand_layer`.
    older_share, older_share_by_district, older_share_table
        The share of people aged 60+: one city share, shares per district, or a file of them (see above).
    ancillary, ancillary_column, population_raster
        Where people live inside a township, as :func:`build_demand_layer`.
    data_path
        A folder with the Beijing data files instead of the bundled ones.

    Returns
    -------
    DemandLayer
        The cells with ``pop`` and ``pop_60``, each township's and district's census total kept exactly.

    Examples
    --------
    >>> layer = beijing_demand(district="Haidian", cell_size_m=1000)
    >>> int(layer.cells["pop"].sum())
    3133469
    """
    from .areas import resolve_district
    from .beijing import load_beijing
    from .population import load_district_census

    areas = load_beijing(data_path)
    census = load_district_census(data_path)
    zones, share, by_d = beijing_zones(
        older_share=older_share,
        older_share_by_district=older_share_by_district,
        older_share_table=older_share_table,
        data_path=data_path,
    )
    table_name = Path(older_share_table).name if older_share_table is not None else None
    districts = areas.districts.merge(census[["district_code", "pop_2020"]], on="district_code")
    report = areas.join_report
    if district is not None:
        code = resolve_district(areas.districts, district)
        zones = zones[zones["district_code"] == code]
        districts = districts[districts["district_code"] == code]
        report = report[report["district_code"] == code]
    comm = areas.communities[areas.communities["has_location"]]
    comm_gdf = gpd.GeoDataFrame(comm, geometry=gpd.points_from_xy(comm["lon"], comm["lat"]), crs=WGS84)
    comm_gdf = comm_gdf[comm_gdf["district_code"].isin(zones["district_code"])]
    layer = build_demand_layer(
        zones,
        cell_size_m=cell_size_m,
        shape=shape,
        ancillary=ancillary,
        ancillary_column=ancillary_column,
        communities=comm_gdf,
        population_raster=population_raster,
    )
    layer.townships.attrs["census_total"] = (
        census.set_index("district_code")["pop_2020"].reindex(districts["district_code"]).to_dict()
    )
    layer.districts = districts.reset_index(drop=True)
    layer.join_report = report.reset_index(drop=True)
    n_loc = int(areas.communities["has_location"].sum())
    in_area = areas.communities["district_code"].isin(zones["district_code"])
    n_loc_area = int((areas.communities["has_location"] & in_area).sum())
    spread = (
        f"Inside each township people are spread over the cells by the population raster "
        f"{Path(population_raster).name} (township totals unchanged)."
        if population_raster is not None
        else "Inside each township people are spread over the cells by "
        + ("the ancillary layer." if ancillary is not None else "area (no population raster given).")
    )
    own = (
        f", {len(by_d)} district(s) with their own share"
        + (f" from {table_name}" if table_name else "")
        + f" ({', '.join(sorted(by_d))}), the others the city share"
        if by_d
        else "; no per-district age figures are published in the bundled data"
    )
    layer.notes = [
        *areas.notes,
        "Population: 2020 census by district (exact); Haidian townships from their census figures; other townships "
        "split by the WorldPop estimate (a model, not a count).",
        spread,
        *layer.notes,
        f"Older population (60+): city share {share:.4f} "
        + ("(2020 census share)" if older_share is None else "(given)")
        + own
        + ".",
        f"Community/village locations known for {n_loc} of {len(areas.communities)} units (2016 geocodes); "
        f"{n_loc_area} of {int(in_area.sum())} in the area.",
    ]
    layer.params.update(communities_total=int(in_area.sum()), communities_located=n_loc_area)
    return layer


def demand_from_files(
    boundaries: str | Path,
    population: str | Path,
    *,
    code_column: str = "township_code",
    district_column: str = "district_code",
    pop_column: str = "pop",
    older_share: float | None = None,
    coord_system: str | None = None,
    cell_size_m: float = 500.0,
    shape: CellShape = "square",
    check_against_beijing: bool = True,
    population_raster: str | Path | None = None,
    older_share_table: str | Path | None = None,
    encoding: str | None = None,
) -> DemandLayer:
    """A demand layer from your own township boundaries and population table, every input checked first.

    Parameters
    ----------
    boundaries
        Polygons (GeoJSON, GeoPackage, …) with ``code_column`` and ``district_column``.
    population
        CSV (UTF-8, UTF-8 with BOM, GBK or UTF-16; or ``.xlsx``) with ``code_column`` and ``pop_column`` (whole
        people, ≥ 0).
    population_raster
        Optional raster of where people live (e.g. WorldPop 100 m) spreading each township's people over its cells;
        see :func:`build_demand_layer`.
    older_share_table
        Optional CSV/xlsx ``district,older_share`` with per-district 60+ shares (district codes as in the
        boundaries); the others take ``older_share`` (the 2020 Beijing share by default).
    encoding
        Encoding of the population CSV (detected when empty).
    coord_system
        ``"gcj02"`` if the boundaries are Gaode/Amap coordinates (converted to WGS-84); they are never guessed.
    check_against_beijing
        Compare boundaries lying in Beijing with the bundled official outline, to catch GCJ-02 data labelled as
        WGS-84.

    Raises
    ------
    ValidationError
        One error listing every problem found: missing columns, no CRS, untagged GCJ-02, bad population values,
        invalid geometry, codes that do not join (both ways).
    """
    from .areas import check_not_shifted
    from .beijing import load_districts
    from .io import read_table, read_vector
    from .population import load_city_age_shares, older_population, read_older_shares

    problems = Problems(f"`{Path(boundaries).name}` + `{Path(population).name}`")
    gdf = read_vector(boundaries, coord_system=coord_system, what=f"`{Path(boundaries).name}`")  # raises on no CRS
    table = read_table(population, encoding=encoding, what=f"`{Path(population).name}`")
    ok_g = check_columns(gdf, [code_column, district_column], problems)
    ok_t = check_columns(table, [code_column, pop_column], problems)
    check_geometries(gdf, problems, id_column=code_column if ok_g else None)
    if ok_t:
        table[code_column] = table[code_column].astype(str).str.strip()
        check_numeric_nonnegative(table, pop_column, problems, id_column=code_column)
        values = pd.to_numeric(table[pop_column], errors="coerce")
        frac = values.notna() & np.isfinite(values) & (values % 1 != 0)
        if frac.any():
            problems.add(
                f"`{pop_column}` must hold whole people; {int(frac.sum())} value(s) have fractions (rows "
                f"{', '.join(map(str, table.loc[frac, 'source_row'].head(8)))}); round them in the file if that is "
                "what you mean."
            )
        huge = values.notna() & (values > 1e9)
        if huge.any():
            problems.add(
                f"`{pop_column}` has {int(huge.sum())} value(s) above 1,000,000,000 people (rows "
                f"{', '.join(map(str, table.loc[huge, 'source_row'].head(8)))}); is a column shifted?"
            )
        check_unique(table, code_column, problems)
    if ok_g:
        check_unique(gdf, code_column, problems)
    if ok_g and ok_t:
        g_codes, t_codes = set(gdf[code_column].astype(str)), set(table[code_column].astype(str))
        if t_codes - g_codes:
            problems.add(
                f"{len(t_codes - g_codes)} population code(s) match no boundary: "
                f"{', '.join(sorted(t_codes - g_codes)[:8])}; check the codes or add the boundaries."
            )
        if g_codes - t_codes:
            problems.add(
                f"{len(g_codes - t_codes)} boundar(y/ies) have no population row: "
                f"{', '.join(sorted(g_codes - t_codes)[:8])}; add them (0 if nobody lives there)."
            )
    if check_against_beijing and len(gdf) and gdf.geometry.is_valid.all():
        ref = load_districts()
        if gdf.total_bounds[0] < ref.total_bounds[2] and gdf.total_bounds[2] > ref.total_bounds[0]:
            problems.extend(check_not_shifted(gdf, ref, f"`{Path(boundaries).name}`"))
    problems.raise_if_any()
    zones = gdf[[code_column, district_column, "geometry"]].rename(
        columns={code_column: "township_code", district_column: "district_code"}
    )
    zones["township_code"] = zones["township_code"].astype(str)
    zones["district_code"] = zones["district_code"].astype(str)
    pops = table.set_index(table[code_column].astype(str))[pop_column]
    zones["pop"] = pd.to_numeric(zones["township_code"].map(pops)).astype("int64")
    share = older_share if older_share is not None else load_city_age_shares()["60+"]
    by_d: dict[str, float] = {}
    if older_share_table is not None:
        codes = sorted(set(zones["district_code"]))
        dframe = pd.DataFrame({"district_code": codes, "name_zh": codes, "name_en": codes, "name_pinyin": codes})
        by_d = read_older_shares(older_share_table, dframe)
    zones = older_population(zones, share=share, by_district=by_d)
    layer = build_demand_layer(zones, cell_size_m=cell_size_m, shape=shape, population_raster=population_raster)
    own = (
        f"; {len(by_d)} district(s) with their own share from {Path(older_share_table).name}"
        if by_d and older_share_table is not None
        else ""
    )
    layer.notes = [
        f"Population from {Path(population).name}; older population at the city share {share:.4f}{own}.",
        *layer.notes,
    ]
    return layer
