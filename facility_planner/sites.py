"""Candidate sites and existing facilities.

Candidates come from the demand layer (cell centroids, optionally only populated ones, or only cells below a
density), from a user file (CSV with lon/lat columns, or any vector file), or both. Exclusion zones (polygons, or a
distance from dense housing) remove candidates. Existing facilities (a user file) are kept as fixed sites.

No real dataset of existing eldercare stations, care centres, psychological service points or cemeteries is
bundled: existing facilities always come from the user, and every plan says when none were given.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import settings
from ._errors import ValidationError
from ._validate import Problems
from .areas import read_vector
from .coords import WGS84, CoordSystem, from_gcj02

LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")


def read_points(
    path: str | Path,
    *,
    coord_system: CoordSystem | None = None,
    id_column: str | None = None,
    what: str | None = None,
    prefix: str = "site",
) -> gpd.GeoDataFrame:
    """Read facility points from CSV (lon/lat columns) or a vector file, in WGS-84, with a unique ``site_id``.

    GCJ-02 coordinates (from Gaode/Amap) must be declared with ``coord_system="gcj02"``; they are converted.
    """
    p = Path(path)
    what = what or f"`{p.name}`"
    problems = Problems(what)
    if not p.exists():
        problems.add(f"file not found: {p}")
        problems.raise_if_any()
    if p.suffix.lower() in (".csv", ".txt"):
        try:
            df = pd.read_csv(p, encoding="utf-8-sig")
        except Exception as exc:
            problems.add(f"could not read the CSV ({exc}).")
            problems.raise_if_any()
        lower = {c.lower().strip(): c for c in df.columns}
        lon = next((lower[n] for n in LON_NAMES if n in lower), None)
        lat = next((lower[n] for n in LAT_NAMES if n in lower), None)
        if lon is None or lat is None:
            problems.add(
                f"no lon/lat columns found (looked for {', '.join(LON_NAMES)} and {', '.join(LAT_NAMES)}); "
                f"columns are {', '.join(map(str, df.columns))}."
            )
            problems.raise_if_any()
        x = pd.to_numeric(df[lon], errors="coerce")
        y = pd.to_numeric(df[lat], errors="coerce")
        bad = x.isna() | y.isna()
        if bad.any():
            problems.add(
                f"{int(bad.sum())} row(s) with blank or non-numeric coordinates (rows {list(np.flatnonzero(bad)[:5] + 2)})."
            )
        out_of_range = ~bad & ((x.abs() > 180) | (y.abs() > 90))
        if out_of_range.any():
            problems.add(
                f"{int(out_of_range.sum())} row(s) have coordinates outside lon/lat ranges; the CSV must hold "
                "degrees (WGS-84, or GCJ-02 with coord_system='gcj02')."
            )
        problems.raise_if_any()
        gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(x, y), crs=WGS84)
        from .coords import coord_system_from_name

        named = coord_system_from_name(str(p))
        if named == "gcj02" and coord_system is None:
            problems.add("the file name says GCJ-02; pass coord_system='gcj02' to convert it (or rename the file).")
            problems.raise_if_any()
        if (coord_system or named) == "gcj02":
            gdf = from_gcj02(gdf)
    else:
        gdf = read_vector(p, coord_system=coord_system, what=what)
        if len(gdf) and not gdf.geom_type.isin(["Point"]).all():
            gdf["geometry"] = gdf.geometry.representative_point()
    if id_column is not None:
        if id_column not in gdf.columns:
            raise ValidationError(what, [f"id column `{id_column}` not found."])
        ids = gdf[id_column].astype(str)
        if ids.duplicated().any():
            raise ValidationError(what, [f"`{id_column}` has repeated ids; they must be unique."])
        gdf["site_id"] = ids.to_numpy()
    elif "site_id" not in gdf.columns:
        gdf["site_id"] = [f"{prefix}-{i:05d}" for i in range(len(gdf))]
    return gdf


def candidates_from_demand(
    cells: gpd.GeoDataFrame,
    *,
    populated_only: bool = False,
    max_density_per_km2: float | None = None,
) -> gpd.GeoDataFrame:
    """One candidate site per demand cell (its centroid, moved inside the cell when the cell is not convex)."""
    c = cells
    if populated_only:
        c = c[c["pop"] > 0]
    if max_density_per_km2 is not None:
        dens = c["pop"] / (c["area_m2"] / 1e6)
        c = c[dens <= max_density_per_km2]
    cent = c.geometry.centroid
    inside = cent.within(c.geometry)
    pts = np.where(inside, cent.values, c.geometry.representative_point().values)
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
    if out["site_id"].duplicated().any():
        dup = out.loc[out["site_id"].duplicated(), "site_id"].head(5).tolist()
        raise ValidationError("sites", [f"site ids repeat across inputs: {dup}; make them unique."])
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
