"""Coordinate systems: the working metric CRS, WGS-84 files, and GCJ-02 / BD-09 by explicit tag only.

GCJ-02 is the obfuscated datum of Gaode/Amap, Tencent and Google.cn maps; BD-09 is Baidu's, a further offset of
GCJ-02. PROJ has no definition for either, so neither can be recorded in a file's CRS: a GCJ-02 GeoJSON still
*says* EPSG:4326. facility_planner therefore never converts by guess. A file is GCJ-02 or BD-09 only when the user
says so (``coord_system="gcj02"`` / ``"bd09"``); a file whose name ends in ``_gcj02`` / ``_bd09`` must be confirmed
by that tag (it is refused otherwise). Data are converted to WGS-84 on the way in; GCJ-02 is produced again only
for drawing on Gaode tiles.

The forward formulas are the widely published ones (Krasovsky ellipsoid for GCJ-02; Baidu's polar offset for
BD-09); the inverses are fixed-point iterations accurate to well under a centimetre (checked against ``prcoords``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pyproj

WGS84 = "EPSG:4326"
#: The default working CRS for Beijing: UTM zone 50N, metres.
BEIJING_UTM = "EPSG:32650"

CoordSystem = Literal["wgs84", "gcj02", "bd09"]
#: The coordinate systems a file can be tagged with.
COORD_SYSTEMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

_A = 6378245.0
_EE = 0.00669342162296594323


def _transform(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]):
    ret_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret_lat += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    ret_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret_lon += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret_lon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret_lon, ret_lat


def _in_china(lon, lat):
    return (lon > 72.004) & (lon < 137.8347) & (lat > 0.8293) & (lat < 55.8271)


def wgs84_to_gcj02(lon, lat):
    """Shift WGS-84 longitudes/latitudes (degrees, arrays) to GCJ-02. Points outside China are unchanged."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _transform(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    inside = _in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84(lon, lat, *, iterations: int = 8):
    """Invert :func:`wgs84_to_gcj02` by fixed-point iteration (error < 1e-7 degrees after 8 steps)."""
    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(iterations):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        wlon = wlon - (flon - glon)
        wlat = wlat - (flat - glat)
    return wlon, wlat


_X_PI = np.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006


def gcj02_to_bd09(lon, lat):
    """Shift GCJ-02 longitudes/latitudes (degrees, arrays) to Baidu's BD-09."""
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def bd09_to_gcj02(lon, lat, *, iterations: int = 6):
    """Invert :func:`gcj02_to_bd09`: the published closed form, refined by fixed-point iteration (< 1e-9 degrees)."""
    blon = np.asarray(lon, dtype=float)
    blat = np.asarray(lat, dtype=float)
    x = blon - _BD_DLON
    y = blat - _BD_DLAT
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    glon, glat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(iterations):
        flon, flat = gcj02_to_bd09(glon, glat)
        glon = glon - (flon - blon)
        glat = glat - (flat - blat)
    return glon, glat


def wgs84_to_bd09(lon, lat):
    """Shift WGS-84 longitudes/latitudes to BD-09 (via GCJ-02). For tests and for drawing on Baidu tiles."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    """Convert BD-09 (Baidu) longitudes/latitudes to WGS-84 (via GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84_lonlat(lon, lat, system: CoordSystem):
    """Longitudes/latitudes in ``system`` converted to WGS-84 (unchanged for ``"wgs84"``)."""
    if system == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if system == "bd09":
        return bd09_to_wgs84(lon, lat)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _shift_geoseries(geoms, func):
    import shapely

    def f(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = func(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, f)


def to_gcj02(gdf):
    """Return a copy of a GeoDataFrame in WGS-84 with every coordinate shifted to GCJ-02 (for Gaode tiles only)."""
    out = gdf.to_crs(WGS84) if gdf.crs is not None and not gdf.crs.equals(pyproj.CRS(WGS84)) else gdf.copy()
    out[out.geometry.name] = _shift_geoseries(out.geometry.values, wgs84_to_gcj02)
    return out


def from_gcj02(gdf):
    """Return a copy of a GeoDataFrame whose lon/lat are GCJ-02, converted to true WGS-84."""
    out = gdf.copy()
    out[out.geometry.name] = _shift_geoseries(out.geometry.values, gcj02_to_wgs84)
    return out.set_crs(WGS84, allow_override=True)


def from_bd09(gdf):
    """Return a copy of a GeoDataFrame whose lon/lat are BD-09 (Baidu), converted to true WGS-84."""
    out = gdf.copy()
    out[out.geometry.name] = _shift_geoseries(out.geometry.values, bd09_to_wgs84)
    return out.set_crs(WGS84, allow_override=True)


_SUFFIXES = (".gz", ".zip", ".geojson", ".gpkg", ".csv", ".tsv", ".txt", ".json", ".shp", ".xlsx", ".xlsm", ".xls")


def coord_system_from_name(path: str) -> CoordSystem | None:
    """The coordinate system a file's name declares (``..._gcj02.geojson``), or None when it declares none.

    Examples
    --------
    >>> coord_system_from_name("data/stations_bd09.xlsx"), coord_system_from_name("roads.geojson")
    ('bd09', None)
    """
    stem = str(path).replace("\\", "/").lower().rsplit("/", 1)[-1]
    for _ in range(2):  # e.g. .geojson.gz
        for suffix in _SUFFIXES:
            stem = stem.removesuffix(suffix)
    for system in COORD_SYSTEMS:
        if stem.endswith(f"_{system}") or stem.endswith(f"-{system}"):
            return system  # type: ignore[return-value]
    return None


def utm_crs_for(lon: float, lat: float) -> str:
    """EPSG code of the UTM zone containing a lon/lat point (for areas other than Beijing)."""
    zone = int((lon + 180) // 6) + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"
