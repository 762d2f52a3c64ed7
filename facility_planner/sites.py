"""Candidate sites and existing facilities.

Candidates come from the demand layer (cell centroids, optionally only populated ones, or only cells below a
density), from a user file (CSV with lon/lat columns, or any vector file), or both. Exclusion zones (polygons, or a
distance from dense housing) remove candidates. Existing facilities (a user file) are kept as fixed sites.

No real dataset of existing eldercare stations, care centres, psychological service points or cemeteries is
bundled: existing facilities always come from the user, and every plan says when none were given.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from . import settings
from ._errors import ValidationError
from ._validate import Problems, check_unique
from .coords import WGS84
from .io import clip_points_to_area as clip_points_to_area  # moved to io.py; importable here too
from .io import read_points as read_points


def interior_points(geoms: gpd.GeoSeries) -> npt.NDArray[np.object_]:
    """One point per polygon: its centroid, or a point inside it where the centroid falls outside (not convex)."""
    cent = geoms.centroid
    inside = np.asarray(cent.within(geoms))
    out = cent.values.copy()
    if not inside.all():
        out[~inside] = geoms[~inside].representative_point().values
    return np.asarray(out)


def candidates_from_demand(
    cells: gpd.GeoDataFrame,
    *,
    populated_only: bool = False,
    max_density_per_km2: float | None = None,
    points: gpd.GeoSeries | None = None,
) -> gpd.GeoDataFrame:
    """One candidate site per demand cell (its centroid, moved inside the cell when the cell is not convex).

    ``points``: the cells' points when already known (:meth:`DemandLayer.cell_points`, indexed as ``cells``).
    """
    c = cells
    if populated_only:
        c = c[c["pop"] > 0]
    if max_density_per_km2 is not None:
        dens = c["pop"] / (c["area_m2"] / 1e6)
        c = c[dens <= max_density_per_km2]
    pts = points.loc[c.index].values if points is not None else interior_points(c.geometry)
    out = gpd.GeoDataFrame(
        {
            "site_id": "c:" + c["cell_id"].astype(str),
            "cell_id": c["cell_id"].to_numpy(),
            "township_code": c["township_code"].to_numpy(),
            "district_code": c["district_code"].to_numpy(),
            "source": "cell centroid",
        },
        geometry=list(pts),
        crs=c.crs,
    )
    return out.reset_index(drop=True)


def dense_housing(cells: gpd.GeoDataFrame, *, min_density_per_km2: float = 10_000.0):
    """Polygon of cells whose population density is at least ``min_density_per_km2`` (dense housing)."""
    dens = cells["pop"] / (cells["area_m2"] / 1e6)
    sel = cells[dens >= min_density_per_km2]
    return shapely.union_all(sel.geometry.values) if len(sel) else shapely.Polygon()


def exclude(
    sites: gpd.GeoDataFrame,
    zones=None,
    *,
    min_distance_m: float = 0.0,
    reason: str = "exclusion zone",
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Drop sites inside ``zones`` (a polygon or GeoDataFrame in the sites' CRS) or within ``min_distance_m`` of them.

    Returns (kept, excluded) so that a plan can say which candidates were removed and why.
    """
    if zones is None:
        return sites, sites.iloc[:0]
    geom = zones.to_crs(sites.crs).union_all() if isinstance(zones, gpd.GeoDataFrame | gpd.GeoSeries) else zones
    if geom.is_empty:
        return sites, sites.iloc[:0]
    zone = geom.buffer(min_distance_m) if min_distance_m > 0 else geom
    shapely.prepare(zone)
    bad = shapely.intersects(zone, sites.geometry.values)
    excluded = sites[bad].copy()
    excluded["excluded_by"] = reason if not min_distance_m else f"within {min_distance_m:g} m of {reason}"
    return sites[~bad].copy(), excluded


def combine_sites(
    *,
    candidates: gpd.GeoDataFrame | None = None,
    user: gpd.GeoDataFrame | None = None,
    existing: gpd.GeoDataFrame | None = None,
    area=None,
    crs: str | None = None,
) -> gpd.GeoDataFrame:
    """All sites in one table with ``site_id``, ``kind`` (candidate / user / existing) and ``existing`` flag.

    Sites outside ``area`` (a polygon in WGS-84) are refused with a clear error.
    """
    crs = crs or settings.working_crs
    parts = []
    for gdf, kind in ((candidates, "candidate"), (user, "user candidate"), (existing, "existing")):
        if gdf is None or not len(gdf):
            continue
        g = gdf.to_crs(crs).copy()
        g["kind"] = kind
        g["existing"] = kind == "existing"
        if kind == "existing" and not g["site_id"].astype(str).str.startswith("existing").all():
            g["site_id"] = "existing:" + g["site_id"].astype(str)
        parts.append(
            g[
                [
                    c
                    for c in g.columns
                    if c
                    in ("site_id", "kind", "existing", "name", "township_code", "district_code", "cell_id", "geometry")
                ]
            ]
        )
    if not parts:
        raise ValidationError("sites", ["no candidate sites: give candidates from the demand layer or a file."])
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=crs)
    problems = Problems("sites")
    check_unique(out, "site_id", problems, fix="site ids repeat across inputs; make them unique")
    problems.raise_if_any()
    if area is not None:
        zone = area.buffer(1e-4)
        shapely.prepare(zone)
        xy = shapely.get_coordinates(out.to_crs(WGS84).geometry.values)
        inside = pd.Series(shapely.contains_xy(zone, xy[:, 0], xy[:, 1]), index=out.index)
        if not inside.all():
            bad = out.loc[~inside, "site_id"].head(8).tolist()
            raise ValidationError(
                "sites",
                [
                    f"{int((~inside).sum())} site(s) lie outside the study area ({', '.join(map(str, bad))}); "
                    "check their coordinates (lon/lat order, GCJ-02 not declared) or drop them."
                ],
            )
    return out
