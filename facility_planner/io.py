"""Reading and writing files; no analysis here.

Readers take planners' files as they come and refuse what is wrong with the fix, never a traceback and never a
silently wrong answer:

* :func:`read_vector` — any vector file GDAL reads (GeoJSON, GeoPackage, Shapefile, …), to WGS-84;
* :func:`read_points` — facility lists: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030, UTF-16), Excel ``.xlsx`` or any
  vector file, with Chinese or English headers, in WGS-84, GCJ-02 (Gaode/Amap, Tencent) or BD-09 (Baidu) by
  explicit tag, every problem of one file in one :class:`~facility_planner.ValidationError`;
* :func:`clip_points_to_area` — keep the points of a citywide list that lie in the study area, and say how many.

Writes are atomic: a failed write leaves nothing half-written.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from ._errors import ValidationError
from ._output import reproducible_gpkg, staged_output_file
from ._validate import Problems
from .coords import (
    COORD_SYSTEMS,
    WGS84,
    CoordSystem,
    bd09_to_wgs84,
    coord_system_from_name,
    from_bd09,
    from_gcj02,
    gcj02_to_wgs84,
    to_wgs84_lonlat,
)

# ---------------------------------------------------------------------------------------------------------------
# vector files


def read_vector(
    path: str | Path, *, coord_system: CoordSystem | None = None, what: str | None = None
) -> gpd.GeoDataFrame:
    """Read a vector file (GeoJSON, GeoPackage, …) into WGS-84, converting GCJ-02 / BD-09 only when tagged.

    Parameters
    ----------
    path
        The file. A name ending in ``_gcj02`` or ``_bd09`` (e.g. ``stations_gcj02.geojson``) declares that system,
        and must be confirmed by ``coord_system``.
    coord_system
        ``"wgs84"``, ``"gcj02"`` or ``"bd09"``: what the lon/lat in the file really are. GCJ-02 and BD-09 data
        always say EPSG:4326 in their header, so only you can tell.
    what
        How messages name the file.

    Returns
    -------
    geopandas.GeoDataFrame
        The features in WGS-84 (EPSG:4326).

    Raises
    ------
    ValidationError
        No such file, an unreadable file, no CRS, or a name that says GCJ-02/BD-09 without ``coord_system``
        confirming it.
    """
    what = what or f"`{Path(path).name}`"
    problems = Problems(what)
    p = Path(path)
    if coord_system is not None and coord_system not in COORD_SYSTEMS:
        problems.add(f"`coord_system` must be one of {', '.join(COORD_SYSTEMS)}; got {coord_system!r}.")
        problems.raise_if_any()
    if not p.exists():
        problems.add(f"file not found: {p}; check the path.")
        problems.raise_if_any()
    if p.is_dir() and not p.suffix.lower() == ".gdb":
        problems.add(f"{p} is a folder, not a file; give the file inside it.")
        problems.raise_if_any()
    named = coord_system_from_name(str(p))
    src = str(p)
    if src.lower().endswith(".gz"):
        src = "/vsigzip/" + src
    gdf = None
    try:
        gdf = gpd.read_file(src)
    except Exception as exc:  # pyogrio raises many kinds (DataSourceError, ValueError, …) for a bad file
        problems.add(f"could not read the file ({exc}); is it a vector file (GeoJSON, GeoPackage, Shapefile)?")
        problems.raise_if_any()
    assert gdf is not None
    if gdf.crs is None:
        problems.add(
            "the file has no coordinate reference system; set one with `gdf.set_crs('EPSG:4326')` (lon/lat) "
            "or the projected CRS it really uses, and save it again."
        )
    if named in ("gcj02", "bd09") and coord_system is None:
        problems.add(_name_tag_problem(named))
    problems.raise_if_any()
    system = coord_system or named or "wgs84"
    if system in ("gcj02", "bd09"):
        if not (gdf.crs.equals(pyproj.CRS(WGS84)) or gdf.crs.equals(pyproj.CRS("OGC:CRS84"))):
            problems.add(f"{system.upper()} data must be lon/lat; the file's CRS is {gdf.crs.to_string()}.")
            problems.raise_if_any()
        flat = gdf.set_crs(WGS84, allow_override=True)
        gdf = from_gcj02(flat) if system == "gcj02" else from_bd09(flat)
    else:
        try:
            gdf = gdf.to_crs(WGS84)
        except Exception as exc:  # pyproj.exceptions.CRSError and friends
            problems.add(
                f"its CRS ({gdf.crs.to_string()}) cannot be converted to WGS-84 ({exc}); save it with a standard "
                "CRS such as EPSG:4326 or EPSG:32650."
            )
            problems.raise_if_any()
    return gdf


def _name_tag_problem(named: str) -> str:
    label = {"gcj02": "GCJ-02 (Gaode/Amap, Tencent)", "bd09": "BD-09 (Baidu)"}[named]
    return (
        f"the file name says {label} coordinates but `coord_system` was not given; say "
        f"coord_system='{named}' (`coord_system: {named}` in a scenario) to convert it to WGS-84, or rename the file "
        "if it is really WGS-84."
    )


# ---------------------------------------------------------------------------------------------------------------
# point files


def _norm(name: object) -> str:
    """A header reduced for matching: lower case, without spaces, underscores, dashes and brackets."""
    return re.sub(r"[\s_\-()（）\[\]【】:：.]", "", str(name)).lower()


#: Header names recognised (after :func:`_norm`), best first.
LON_NAMES = ("lon", "lng", "long", "longitude", "经度", "东经", "x", "pointx")
LAT_NAMES = ("lat", "latitude", "纬度", "北纬", "y", "pointy")
LONLAT_NAMES = ("location", "lnglat", "lonlat", "经纬度", "坐标", "位置坐标", "coordinates", "coords")
ID_NAMES = ("siteid", "id", "编号", "站点编号", "机构编号", "设施编号", "poiid", "uid")
NAME_NAMES = ("name", "名称", "名字", "站点名称", "机构名称", "设施名称", "站名", "poiname", "namezh", "title")
DISTRICT_NAMES = ("district", "adname", "区", "区县", "所属区", "所属区县", "行政区", "districtcode", "adcode")

#: Longitude / latitude box that holds mainland China, Hainan and Taiwan (degrees).
CHINA_BOX = (73.0, 3.0, 136.0, 54.0)

READ_NOTES = "read_notes"
_LABEL = {"wgs84": "WGS-84", "gcj02": "GCJ-02", "bd09": "BD-09"}


def _find_column(columns: Sequence[object], names: Sequence[str], contains: Sequence[str] = ()) -> str | None:
    normed = {}
    for c in columns:
        normed.setdefault(_norm(c), c)
    for n in names:
        if n in normed:
            return str(normed[n])
    for c in columns:
        if any(k in str(c) for k in contains):
            return str(c)
    return None


def _rows_text(rows: Sequence[int] | np.ndarray, n: int = 8) -> str:
    rows = [r.item() if hasattr(r, "item") else r for r in rows]
    more = f" … and {len(rows) - n} more" if len(rows) > n else ""
    return ", ".join(map(str, rows[:n])) + more


def _decode(raw: bytes, encoding: str | None, problems: Problems) -> str | None:
    """The text of a CSV file: the given encoding, else UTF-8 (with or without BOM), UTF-16 with BOM, GB18030."""
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            problems.add(f"unknown encoding {encoding!r}; use e.g. 'utf-8', 'gbk', 'gb18030' or 'utf-16'.")
            return None
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            problems.add(
                f"the file is not valid {encoding} (byte {exc.start}: {exc.reason}); check the encoding it was saved "
                "in, or leave `encoding` empty to detect UTF-8, UTF-16 (with BOM) and GBK/GB18030."
            )
            return None
    if raw.startswith(b"PK\x03\x04"):
        problems.add("the file is a zip archive (an Excel workbook?), not CSV text; name it .xlsx or save it as CSV.")
        return None
    if raw.startswith(codecs.BOM_UTF16_LE) or raw.startswith(codecs.BOM_UTF16_BE):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            problems.add("the file starts with a UTF-16 byte-order mark but is not valid UTF-16; save it again.")
            return None
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    problems.add(
        "the file is not text in UTF-8, UTF-16 (with BOM) or GBK/GB18030"
        + (" (it holds NUL bytes: UTF-16 without a byte-order mark, or not a text file)" if b"\x00" in raw else "")
        + "; save it as CSV UTF-8 from Excel, or pass the encoding it uses (`encoding=`)."
    )
    return None


def _sniff_separator(text: str) -> str:
    """The separator of a CSV: the candidate most frequent in the header, else on the busiest of the first lines."""
    lines = [line for line in text.splitlines()[:20] if line.strip()][:10]
    for pool in (lines[:1], lines):  # a title line above the header holds no separator
        best, best_count = ",", 0
        for sep in (",", "\t", ";", "|", "，"):
            count = max((line.count(sep) for line in pool), default=0)
            if count > best_count:
                best, best_count = sep, count
        if best_count:
            return best
    return ","


def _table_from_csv(p: Path, encoding: str | None, problems: Problems) -> pd.DataFrame | None:
    """A CSV as text cells: header = first record; ragged records padded (extra fields get ``Unnamed: k`` columns)."""
    try:
        raw = p.read_bytes()
    except OSError as exc:
        problems.add(f"could not read the file ({exc.strerror or exc}).")
        return None
    if not raw.strip():
        problems.add("the file is empty; it needs a header row (e.g. 名称,经度,纬度) and one row per facility.")
        return None
    text = _decode(raw, encoding, problems)
    if text is None:
        return None
    sep = _sniff_separator(text)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))
    except csv.Error as exc:
        problems.add(f"could not read it as a table ({exc}); check the quotes in the file.")
        return None
    if not records:
        problems.add("the file is empty; it needs a header row (e.g. 名称,经度,纬度) and one row per facility.")
        return None
    width = max(len(r) for r in records)
    header = [c.strip() for c in records[0]] + [""] * (width - len(records[0]))
    header = [c if c else f"Unnamed: {k}" for k, c in enumerate(header)]
    body = [r + [""] * (width - len(r)) for r in records[1:]]
    return pd.DataFrame(body, columns=header, dtype=object).astype(str) if body else pd.DataFrame(columns=header)


def _table_from_excel(p: Path, sheet: str | int | None, problems: Problems, notes: list[str]) -> pd.DataFrame | None:
    try:
        book = pd.ExcelFile(p, engine="openpyxl")
    except ImportError:
        problems.add("reading .xlsx needs openpyxl: `pip install openpyxl` (it is a dependency of facility-planner).")
        return None
    except Exception as exc:  # zipfile.BadZipFile, openpyxl's InvalidFileException, KeyError for missing parts …
        problems.add(f"could not open it as an Excel .xlsx workbook ({type(exc).__name__}: {exc}); save it again.")
        return None
    with book:
        names = book.sheet_names
        if sheet is None:
            if not names:
                problems.add("the workbook has no sheets.")
                return None
            use: str | int = names[0]
            if len(names) > 1:
                notes.append(f"read sheet {names[0]!r}, the first of {len(names)} ({', '.join(names)}); pass `sheet=`.")
        elif isinstance(sheet, int) and not isinstance(sheet, bool) and 0 <= sheet < len(names):
            use = names[sheet]
        elif sheet in names:
            use = sheet
        else:
            problems.add(f"no sheet {sheet!r} in the workbook; its sheets are: {', '.join(map(repr, names))}.")
            return None
        try:
            df = pd.read_excel(book, sheet_name=use, dtype=str, keep_default_na=False)
        except Exception as exc:  # a damaged sheet
            problems.add(f"could not read sheet {use!r} ({type(exc).__name__}: {exc}).")
            return None
    df.columns = [str(c) for c in df.columns]
    return df


def read_table(
    path: str | Path, *, encoding: str | None = None, sheet: str | int | None = None, what: str | None = None
) -> pd.DataFrame:
    """Read a table (CSV/TXT/TSV in any common Chinese encoding, or Excel ``.xlsx``) as text, with ``source_row``.

    The encoding is detected as for :func:`read_points` (UTF-8 with or without BOM, UTF-16 with BOM, GBK/GB18030)
    unless given; the separator (comma, tab, semicolon, |) is detected from the header. Every value is kept as text
    (codes such as ``110101`` or ``007`` keep their digits); wholly blank rows are dropped.

    Parameters
    ----------
    path
        The file.
    encoding
        Text encoding of a CSV (detected when empty).
    sheet
        Excel sheet name or 0-based position (the first sheet by default).
    what
        How messages name the file.

    Returns
    -------
    pandas.DataFrame
        The columns of the file (names stripped) and ``source_row`` (the row in the file, header = row 1).

    Raises
    ------
    ValidationError
        Not found, a folder, empty, undecodable, not a table, repeated column names, or no data rows.
    """
    p = Path(path)
    what = what or f"`{p.name}`"
    problems = Problems(what)
    if not p.exists():
        problems.add(f"file not found: {p}; check the path.")
    elif p.is_dir():
        problems.add(f"{p} is a folder, not a file.")
    elif p.suffix.lower() == ".xls":
        problems.add("old Excel 97–2003 (.xls) workbooks are not read; save it as .xlsx or as CSV UTF-8.")
    problems.raise_if_any()
    notes: list[str] = []
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        table = _table_from_excel(p, sheet, problems, notes)
    else:
        table = _table_from_csv(p, encoding, problems)
    problems.raise_if_any()
    assert table is not None
    table.columns = [str(c).strip() for c in table.columns]
    table["source_row"] = np.arange(len(table), dtype=np.int64) + 2
    cells = table.drop(columns="source_row").astype(str).apply(lambda s: s.str.strip())
    blank = (cells == "").all(axis=1) | cells.isin(["nan", "None"]).all(axis=1)
    table = table[~blank.to_numpy()].reset_index(drop=True)
    if not len(table):
        problems.add("the file has a header but no rows of data.")
    problems.raise_if_any()
    table.attrs[READ_NOTES] = notes
    return table


def _parse_numbers(values: pd.Series) -> pd.Series:
    s = values.astype(str).str.strip().str.replace("\u3000", "", regex=False)
    s = s.str.translate(str.maketrans("０１２３４５６７８９．－", "0123456789.-"))
    out = pd.to_numeric(s, errors="coerce").astype(float)
    return out.where(np.isfinite(out))


@dataclass
class _Coords:
    lon: np.ndarray
    lat: np.ndarray
    rows: np.ndarray  # row number as a spreadsheet shows it (header = row 1), or feature number
    keep: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def _in_box(lon: np.ndarray, lat: np.ndarray, box=CHINA_BOX) -> np.ndarray:
    return (lon >= box[0]) & (lon <= box[2]) & (lat >= box[1]) & (lat <= box[3])


def _check_coordinates(
    lon: np.ndarray, lat: np.ndarray, rows: np.ndarray, problems: Problems, *, lon_name: str, lat_name: str, row: str
) -> np.ndarray:
    """Problems with raw coordinates (as given, before any datum conversion); returns the rows that are usable."""
    missing = np.isnan(lon) | np.isnan(lat)
    if missing.any():
        problems.add(
            f"{int(missing.sum())} {row}(s) with blank or non-numeric coordinates ({row}s {_rows_text(rows[missing])})"
            "; write decimal degrees such as 116.3913 and 39.9075, or delete those rows."
        )
    ok = ~missing
    lo, la = np.where(ok, lon, 0.0), np.where(ok, lat, 0.0)
    inside = _in_box(lo, la)
    swapped = ok & ~inside & _in_box(la, lo)
    big = ok & ~swapped & ((np.abs(lo) > 180) | (np.abs(la) > 90))
    metres = big & (np.abs(lo) > 1000) & (np.abs(la) > 1000)
    if metres.any():
        problems.add(
            f"{int(metres.sum())} {row}(s) hold projected numbers, not degrees, in `{lon_name}`/`{lat_name}` "
            f"(e.g. {lo[metres][0]:.0f}, {la[metres][0]:.0f} at {row} {int(rows[metres][0])}; {row}s "
            f"{_rows_text(rows[metres])}): these are metres in some projected CRS (UTM 50N is EPSG:32650). Convert them "
            "to lon/lat, or give a GeoPackage/GeoJSON that records the CRS."
        )
    other = big & ~metres
    if other.any():
        problems.add(
            f"{int(other.sum())} {row}(s) have coordinates outside lon/lat ranges (±180, ±90) ({row}s "
            f"{_rows_text(rows[other])}); the columns must hold decimal degrees."
        )
    sane = ok & ~big & ~swapped
    if swapped.any():
        whole = " (all of them: the two columns are swapped)" if swapped.sum() == ok.sum() else ""
        problems.add(
            f"{int(swapped.sum())} {row}(s) have longitude and latitude swapped{whole} ({row}s "
            f"{_rows_text(rows[swapped])}: `{lon_name}` holds {lo[swapped][0]:g}, a latitude in China); swap the values "
            "or the headers, or pass lon_column=/lat_column= naming the right columns."
        )
    outside = sane & ~inside & ~swapped
    if outside.any():
        problems.add(
            f"{int(outside.sum())} {row}(s) lie outside China ({row}s {_rows_text(rows[outside])}, e.g. "
            f"{lo[outside][0]:g}, {la[outside][0]:g}); check the coordinates (sign, decimal point, column order)."
        )
    return sane & inside


@lru_cache(maxsize=4)
def _bundled_districts(data_path: str | None) -> gpd.GeoDataFrame | None:
    from .beijing import load_districts

    try:
        return load_districts(data_path)
    except ValidationError:  # installed without the bundled data: no reference to check against
        return None


@lru_cache(maxsize=4)
def _outline(data_path: str | None):
    districts = _bundled_districts(data_path)
    return None if districts is None else shapely.union_all(districts.geometry.values)


def _flips(polys, lon: np.ndarray, lat: np.ndarray, ulon: np.ndarray, ulat: np.ndarray) -> tuple[int, int]:
    """(points inside as given but outside once un-shifted, points outside as given but inside once un-shifted)."""
    shapely.prepare(polys)
    a = shapely.contains_xy(polys, lon, lat)
    b = shapely.contains_xy(polys, ulon, ulat)
    return int((a & ~b).sum()), int((~a & b).sum())


def check_points_not_shifted(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    *,
    reference: gpd.GeoDataFrame | None = None,
    districts: Sequence[object] | None = None,
    what: str = "the file",
    data_path: str | Path | None = None,
) -> tuple[list[str], list[str]]:
    """Tell untagged GCJ-02 / BD-09 points (Gaode, Tencent, Baidu exports) from WGS-84 ones.

    GCJ-02 points read as WGS-84 sit about 500 m off in Beijing, BD-09 points about 1.3 km. A set of true points
    lies inside the area it belongs to. Un-shifting the points (GCJ-02 → WGS-84, and BD-09 → WGS-84) moves points
    near a boundary across it: if the file is WGS-84, points only leave the area; if it is shifted, points only
    enter it. The check counts both moves against each reference that holds (nearly) all the points: the study-area
    polygons given as ``reference``, the bundled Beijing outline, and, when the file names each point's district
    (``districts``: codes or names, e.g. Gaode's ``adname``), the point's own district polygon.

    Parameters
    ----------
    lon, lat
        Coordinates as given in the file (degrees), taken as WGS-84.
    reference
        Polygons of the study area (e.g. the township polygons of a district run), any CRS.
    districts
        Optional district code or name of each point.

    Returns
    -------
    (problems, notes)
        ``problems`` when the points are evidently shifted (with the fix); ``notes`` when nothing could be told
        (no point lies near a boundary), so that the plan says the file was taken as WGS-84 unchecked.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if len(lon) == 0:
        return [], []
    hyps = {"gcj02": gcj02_to_wgs84(lon, lat), "bd09": bd09_to_wgs84(lon, lat)}
    tests: list[tuple[str, dict[str, tuple[int, int]]]] = []

    def contained(polys) -> bool:
        # the reference holds (nearly) all the points, as given or un-shifted: only then are moves one-sided
        shapely.prepare(polys)
        return bool(shapely.dwithin(polys, shapely.points(lon, lat), 0.02).mean() >= 0.95)  # 0.02° ≈ 2 km

    refs = []
    if reference is not None and len(reference):
        refs.append(("the study area", shapely.union_all(reference.to_crs(WGS84).geometry.values)))
    bj = _bundled_districts(None if data_path is None else str(data_path))
    if bj is not None:
        refs.append(("the Beijing outline", _outline(None if data_path is None else str(data_path))))
    for label, polys in refs:
        if contained(polys):
            tests.append((label, {h: _flips(polys, lon, lat, *xy) for h, xy in hyps.items()}))
    if districts is not None and bj is not None:
        polys = _district_polygons(bj, districts)
        if polys is not None:
            has = ~shapely.is_missing(polys)
            if has.sum() >= 3:
                res = {}
                for h, (ulon, ulat) in hyps.items():
                    a = np.zeros(len(lon), bool)
                    b = np.zeros(len(lon), bool)
                    a[has] = shapely.contains_xy(polys[has], lon[has], lat[has])
                    b[has] = shapely.contains_xy(polys[has], ulon[has], ulat[has])
                    res[h] = (int((a & ~b).sum()), int((~a & b).sum()))
                tests.append(("each point's own district (from the district column)", res))
    problems: list[str] = []
    moved_any = False
    for label, res in tests:
        moved_any |= any(o + i > 0 for o, i in res.values())
        # a shifted file: points only enter the area once un-shifted; of two such readings, the cleaner one
        passing = [(o, -i, h) for h, (o, i) in res.items() if i >= 2 and i >= 5 * o]
        for out_, minus_in, h in sorted(passing)[:1]:
            in_ = -minus_in
            name = {"gcj02": "GCJ-02 (Gaode/Amap, Tencent)", "bd09": "BD-09 (Baidu)"}[h]
            problems.append(
                f"the points of {what} look like {name} coordinates taken as WGS-84: {in_} point(s) lie outside "
                f"{label} as given but inside it once converted from {_LABEL[h]}, and {out_} the other way. If the file came from "
                f"that map, say so with coord_system='{h}' (`coord_system: {h}` in a scenario); if the points really "
                "are WGS-84 (GPS, Tianditu, OpenStreetMap), say coord_system='wgs84'."
            )
        if problems:
            break
    notes: list[str] = []
    if not problems and not moved_any:
        notes.append(
            f"{what}: taken as WGS-84 without a tag; no point lies close enough to a boundary to tell a Gaode/Baidu "
            "shift (~500 m / ~1.3 km) from the data. If the file came from Gaode, Tencent or Baidu, say "
            "coord_system='gcj02' or 'bd09'."
        )
    return problems, notes


def _district_polygons(bj: gpd.GeoDataFrame, values: Sequence[object]) -> np.ndarray | None:
    """The polygon of each point's named district (None where the name is not a Beijing district)."""
    lookup = {}
    for r in bj.itertuples():
        geom = r.geometry
        zh = str(r.name_zh)
        for key in (
            str(r.district_code),
            zh,
            zh.removesuffix("区"),
            str(r.name_pinyin).lower(),
            str(r.name_en).lower(),
        ):
            lookup[key.strip().lower()] = geom
    keys = [str(v).strip().lower().removesuffix(" district") for v in values]
    polys = np.array([lookup.get(k) for k in keys], dtype=object)
    if not any(p is not None for p in polys):
        return None
    return polys


def read_points(
    path: str | Path,
    *,
    coord_system: CoordSystem | None = None,
    encoding: str | None = None,
    lon_column: str | None = None,
    lat_column: str | None = None,
    id_column: str | None = None,
    name_column: str | None = None,
    sheet: str | int | None = None,
    what: str | None = None,
    prefix: str = "site",
    reference: gpd.GeoDataFrame | None = None,
    data_path: str | Path | None = None,
) -> gpd.GeoDataFrame:
    r"""Read a list of facilities (points) as planners have them, into WGS-84, every problem in one error.

    Formats: CSV/TXT/TSV in UTF-8, UTF-8 with BOM, GBK/GB18030 (detected) or UTF-16 with BOM (or any ``encoding``);
    Excel ``.xlsx`` (the first sheet, or ``sheet``); any vector file GDAL reads (GeoJSON, GeoPackage, Shapefile …;
    polygons become an inner point). Headers in Chinese or English are recognised: 经度/纬度/名称/编号,
    lon/lng/longitude, lat/latitude, x/y, name, id, or one ``location`` column holding "lon,lat" (Gaode's).

    Parameters
    ----------
    path
        The file.
    coord_system
        ``"wgs84"``, ``"gcj02"`` (Gaode/Amap, Tencent) or ``"bd09"`` (Baidu): what the coordinates are. GCJ-02 and
        BD-09 are converted to WGS-84. Untagged points are checked for an evident GCJ-02/BD-09 shift and refused if
        shifted; a file named ``…_gcj02``/``…_bd09`` must be tagged.
    encoding
        Text encoding of a CSV (detected when empty).
    lon_column, lat_column, id_column, name_column
        Column names, when the headers are not recognised or to choose among several.
    sheet
        Excel sheet name or 0-based position.
    what
        How messages name the file (default: its name).
    prefix
        Ids made for files without an id column: ``prefix-00001`` for the first data row, and so on.
    reference
        Polygons of the study area (any CRS), used to detect shifted coordinates.
    data_path
        Folder of the bundled Beijing data (default: found automatically).

    Returns
    -------
    geopandas.GeoDataFrame
        In WGS-84, one row per facility: ``site_id`` (unique; the file's ids when it has an id column),
        ``name`` (when the file has names), ``source_row`` (the row in the file, header = row 1, or the feature
        number in a vector file), the file's other columns, and the point. ``gdf.attrs["read_notes"]`` lists what
        the reader noticed but did not refuse (duplicate locations, sheet chosen, unchecked datum).

    Raises
    ------
    ValidationError
        One error listing every problem of the file: not found, unreadable or empty; no coordinate columns;
        blank, non-numeric, projected (metre), swapped or out-of-China coordinates (with row numbers);
        repeated or blank ids; an untagged ``…_gcj02``/``…_bd09`` name; evidently shifted untagged coordinates.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "stations.csv"
    >>> _ = f.write_text("名称,经度,纬度\n驿站甲,116.3913,39.9075\n", encoding="gbk")
    >>> pts = read_points(f, coord_system="wgs84", prefix="station")
    >>> pts[["site_id", "name", "source_row"]].values.tolist()
    [['station-00001', '驿站甲', 2]]
    """
    p = Path(path)
    what = what or f"`{p.name}`"
    problems = Problems(what)
    notes: list[str] = []
    if coord_system is not None and coord_system not in COORD_SYSTEMS:
        problems.add(f"`coord_system` must be one of {', '.join(COORD_SYSTEMS)} or empty; got {coord_system!r}.")
        problems.raise_if_any()
    if not p.exists():
        problems.add(f"file not found: {p}; check the path (relative paths are relative to the scenario file).")
        problems.raise_if_any()
    if p.is_dir():
        problems.add(f"{p} is a folder, not a file; give the file of facilities inside it.")
        problems.raise_if_any()
    named = coord_system_from_name(str(p))
    if named in ("gcj02", "bd09") and coord_system is None:
        problems.add(_name_tag_problem(named))
    suffix = p.suffix.lower()
    row = "row"
    converted = False
    if suffix in (".xls",):
        problems.add("old Excel 97–2003 (.xls) workbooks are not read; save it as .xlsx or as CSV UTF-8.")
        problems.raise_if_any()
    if suffix in (".csv", ".txt", ".tsv", ".xlsx", ".xlsm"):
        table = (
            _table_from_excel(p, sheet, problems, notes)
            if suffix in (".xlsx", ".xlsm")
            else _table_from_csv(p, encoding, problems)
        )
        if table is None:
            problems.raise_if_any()
        assert table is not None
        gdf, raw_lon, raw_lat = _points_from_table(table, problems, lon_column, lat_column)
    else:
        try:  # converted here when tagged; the name check above collects its problem with the others
            vec = read_vector(p, coord_system=coord_system or "wgs84", what=what)
        except ValidationError as exc:
            problems.extend(exc.problems)
            problems.raise_if_any()
        gdf, raw_lon, raw_lat = _points_from_vector(vec, problems)
        row = "feature"
        converted = True
    if gdf is None:
        problems.raise_if_any()
    assert gdf is not None and raw_lon is not None and raw_lat is not None
    rows = gdf["source_row"].to_numpy()
    if len(gdf) == 0:
        problems.add("the file has a header but no facilities; add one row per facility.")
        problems.raise_if_any()
    usable = _check_coordinates(
        raw_lon,
        raw_lat,
        rows,
        problems,
        lon_name=gdf.attrs.get("lon_column", "lon"),
        lat_name=gdf.attrs.get("lat_column", "lat"),
        row=row,
    )
    gdf = _assign_ids(gdf, id_column, name_column, prefix, problems, row)
    system = coord_system or named or "wgs84"
    if coord_system is None and usable.any() and not problems:
        district_col = _find_column(list(gdf.columns), DISTRICT_NAMES)
        shift_problems, shift_notes = check_points_not_shifted(
            raw_lon[usable],
            raw_lat[usable],
            reference=reference,
            districts=None if district_col is None else gdf.loc[usable, district_col].tolist(),
            what=what,
            data_path=data_path,
        )
        problems.extend(shift_problems)
        notes.extend(shift_notes)
    problems.raise_if_any()
    lon, lat = (raw_lon, raw_lat) if converted else to_wgs84_lonlat(raw_lon, raw_lat, system)  # type: ignore[arg-type]
    out = gpd.GeoDataFrame(gdf, geometry=gpd.points_from_xy(lon, lat), crs=WGS84)
    if system != "wgs84":
        notes.append(f"{what}: {len(out)} point(s) converted from {_LABEL[system]} to WGS-84.")
    notes.extend(_duplicate_locations(lon, lat, out["site_id"].to_numpy(), rows, what, row))
    lead = [c for c in ("site_id", "name", "source_row") if c in out.columns]
    out = out[lead + [c for c in out.columns if c not in lead]]
    out.attrs = {READ_NOTES: notes}
    return out.reset_index(drop=True)


#: Column names read_points makes itself; a file's own columns of these names are kept as ``<name>_file``.
RESERVED_COLUMNS = ("geometry", "source_row")


def _rename_reserved(table: pd.DataFrame) -> pd.DataFrame:
    clash = [c for c in table.columns if c in RESERVED_COLUMNS]
    return table.rename(columns={c: f"{c}_file" for c in clash}) if clash else table


def _has_coordinate_headers(names: Sequence[object]) -> bool:
    lon = _find_column(names, LON_NAMES, ("经度",))
    lat = _find_column(names, LAT_NAMES, ("纬度",))
    return (lon is not None and lat is not None and lon != lat) or _find_column(
        names, LONLAT_NAMES, ("经纬度",)
    ) is not None


def _promote_header(table: pd.DataFrame, search_rows: int = 10) -> tuple[pd.DataFrame, int]:
    """Find the header below title rows (official spreadsheets often start with a title): (table, rows skipped)."""
    if _has_coordinate_headers(list(table.columns)):
        return table, 0
    for i in range(min(search_rows, len(table))):
        values = [str(v).strip() for v in table.iloc[i].tolist()]
        if _has_coordinate_headers(values):
            body = table.iloc[i + 1 :].copy()
            body.columns = [v if v and v != "nan" else f"Unnamed: {k}" for k, v in enumerate(values)]
            return body, i + 1
    return table, 0


def _points_from_table(
    table: pd.DataFrame, problems: Problems, lon_column: str | None, lat_column: str | None
) -> tuple[pd.DataFrame | None, np.ndarray | None, np.ndarray | None]:
    table = table.copy()
    table.columns = [str(c).strip() for c in table.columns]
    table = _rename_reserved(table)
    offset = 0
    if lon_column is None and lat_column is None:
        table, offset = _promote_header(table)
    if table.columns.duplicated().any():
        dup = sorted(set(table.columns[table.columns.duplicated()]))
        problems.add(f"the header repeats column name(s) {', '.join(map(repr, dup))}; give each column its own name.")
        return None, None, None
    # drop rows that are wholly blank (Excel leaves them), keeping the row numbers of the rest
    table["source_row"] = np.arange(len(table), dtype=np.int64) + 2 + offset
    cells = table.drop(columns="source_row").astype(str).apply(lambda s: s.str.strip())
    blank = (cells == "").all(axis=1) | (cells.isin(["nan", "None"])).all(axis=1)
    table = table[~blank.to_numpy()]
    cols = [c for c in table.columns if c != "source_row"]
    for given, label in ((lon_column, "lon_column"), (lat_column, "lat_column")):
        if given is not None and given not in cols:
            problems.add(f"`{label}` {given!r} is not a column; the columns are {', '.join(map(repr, cols))}.")
    if problems:
        return None, None, None
    lon_c = lon_column or _find_column(cols, LON_NAMES, ("经度",))
    lat_c = lat_column or _find_column(cols, LAT_NAMES, ("纬度",))
    if lon_c is None or lat_c is None or lon_c == lat_c:
        both = _find_column(cols, LONLAT_NAMES, ("经纬度",))
        if both is not None:
            parts = table[both].astype(str).str.replace("，", ",", regex=False).str.split(",", n=1, expand=True)
            if parts.shape[1] == 2:
                lon = _parse_numbers(parts[0]).to_numpy()
                lat = _parse_numbers(parts[1]).to_numpy()
                table = table.drop(columns=[both])
                table.attrs.update(lon_column=both, lat_column=both)
                return table, lon, lat
        problems.add(
            "no longitude/latitude columns found (looked for 经度/纬度, lon/lng/longitude, lat/latitude, x/y, or a "
            f"'location' column holding 'lon,lat'); the columns are {', '.join(map(repr, cols)) or 'none'}. "
            "Rename them, or pass lon_column= and lat_column=."
        )
        return None, None, None
    lon = _parse_numbers(table[lon_c]).to_numpy()
    lat = _parse_numbers(table[lat_c]).to_numpy()
    table = table.drop(columns=[lon_c, lat_c])
    table.attrs.update(lon_column=lon_c, lat_column=lat_c)
    return table, lon, lat


def _points_from_vector(
    vec: gpd.GeoDataFrame, problems: Problems
) -> tuple[pd.DataFrame | None, np.ndarray | None, np.ndarray | None]:
    geom = vec.geometry.values
    missing = shapely.is_missing(geom) | shapely.is_empty(geom)
    numbers = np.arange(len(vec), dtype=np.int64) + 1
    if missing.any():
        problems.add(
            f"{int(missing.sum())} feature(s) have no geometry (features {_rows_text(numbers[missing])}); drop them."
        )
    pts = np.array(geom, dtype=object)
    notpoint = ~missing & (shapely.get_type_id(geom) != 0)
    if notpoint.any():
        pts[notpoint] = shapely.point_on_surface(geom[notpoint])
    xy = np.full((len(vec), 2), np.nan)
    if (~missing).any():
        xy[~missing] = shapely.get_coordinates(pts[~missing])[: int((~missing).sum())]
    table = pd.DataFrame(vec.drop(columns=vec.geometry.name))
    table.columns = [str(c) for c in table.columns]
    table = _rename_reserved(table)
    table["source_row"] = numbers
    table.attrs.update(lon_column="geometry x", lat_column="geometry y")
    return table, xy[:, 0], xy[:, 1]


def _assign_ids(
    gdf: pd.DataFrame, id_column: str | None, name_column: str | None, prefix: str, problems: Problems, row: str
) -> pd.DataFrame:
    cols = [c for c in gdf.columns if c != "source_row"]
    rows = gdf["source_row"].to_numpy()
    for given, label in ((id_column, "id_column"), (name_column, "name_column")):
        if given is not None and given not in cols:
            problems.add(f"`{label}` {given!r} is not a column; the columns are {', '.join(map(repr, cols))}.")
    name_c = name_column if name_column in cols else _find_column(cols, NAME_NAMES, ("名称",))
    if name_c is not None:
        names = gdf[name_c].astype("string").str.strip()
        gdf = gdf.drop(columns=[name_c])
        gdf["name"] = names.to_numpy()
    id_c = id_column if id_column in cols else (None if id_column else _find_column(cols, ID_NAMES))
    if id_c is not None:
        raw = gdf[id_c]
        ids = raw.astype("string").str.strip()
        if pd.api.types.is_float_dtype(raw):  # a vector file's numeric id: 7.0 → "7"
            whole = raw.notna() & (raw % 1 == 0)
            ids = ids.where(~whole, raw[whole].astype("Int64").astype("string"))
        blank = (ids.isna() | (ids == "")).to_numpy()
        if blank.any():
            problems.add(
                f"id column `{id_c}` is blank in {int(blank.sum())} {row}(s) ({row}s {_rows_text(rows[blank])}); "
                "give every facility an id, or pass id_column= naming another column."
            )
        dup = ids.duplicated(keep=False).to_numpy() & ~blank
        if dup.any():
            repeated = sorted(set(ids[dup].tolist()))
            problems.add(
                f"id column `{id_c}` repeats {len(repeated)} id(s) ({_rows_text(repeated)}; {row}s "
                f"{_rows_text(rows[dup])}); ids must be unique: fix the file, or pass id_column= naming another column."
            )
        if id_c != "site_id":
            gdf = gdf.drop(columns=[id_c])
            if "site_id" in gdf.columns:
                gdf = gdf.rename(columns={"site_id": "site_id_file"})
        gdf["site_id"] = ids.to_numpy()
        gdf.attrs["id_column"] = id_c
    else:
        if "site_id" in gdf.columns:
            gdf = gdf.rename(columns={"site_id": "site_id_file"})
        gdf["site_id"] = [f"{prefix}-{i:05d}" for i in range(1, len(gdf) + 1)]
    return gdf


def _duplicate_locations(
    lon: np.ndarray, lat: np.ndarray, ids: np.ndarray, rows: np.ndarray, what: str, row: str, tol_m: float = 1.0
) -> list[str]:
    """Notes on points within ``tol_m`` of another (same facility listed twice?)."""
    if len(lon) < 2:
        return []
    from scipy.spatial import cKDTree

    lat0 = float(np.nanmean(lat))
    xy = np.column_stack([lon * 111_320.0 * np.cos(np.radians(lat0)), lat * 110_574.0])
    pairs = cKDTree(xy).query_pairs(tol_m, output_type="ndarray")
    if not len(pairs):
        return []
    shown = "; ".join(f"{ids[a]} ({row} {rows[a]}) and {ids[b]} ({row} {rows[b]})" for a, b in pairs[:5])
    more = f" … and {len(pairs) - 5} more" if len(pairs) > 5 else ""
    return [
        f"{what}: {len(pairs)} pair(s) of facilities lie within {tol_m:g} m of each other: {shown}{more}. "
        "If they are the same facility listed twice, delete the extra rows."
    ]


@dataclass
class ClipReport:
    """What :func:`clip_points_to_area` kept and dropped."""

    kept: int
    dropped: int
    dropped_site_ids: list[str]
    note: str

    def __str__(self) -> str:
        return self.note


def clip_points_to_area(
    points: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, *, what: str = "points", tolerance_m: float = 1.0
) -> tuple[gpd.GeoDataFrame, ClipReport]:
    """Keep the points that lie in the study area (e.g. a citywide list in a district run), and say how many.

    Parameters
    ----------
    points
        Points with ``site_id`` (e.g. from :func:`read_points`).
    townships
        Polygons of the study area with ``township_code`` and ``district_code`` (e.g. the demand layer's
        townships).
    what
        How the note names the points.
    tolerance_m
        Points this close to the area (boundary noise) count as inside and join the nearest township.

    Returns
    -------
    (kept, report)
        ``kept``: the points inside, in the townships' CRS, with ``township_code`` and ``district_code``;
        ``report``: counts, the dropped ids and a note for the plan. Dropping points is not an error.
    """
    pts = points.to_crs(townships.crs)
    clash = [c for c in ("township_code", "district_code", "index_right") if c in pts.columns]
    pts = pts.rename(columns={c: f"{c}_file" for c in clash})  # the file's own codes are kept beside the joined ones
    towns = townships[["township_code", "district_code", townships.geometry.name]].reset_index(drop=True)
    joined = gpd.sjoin(pts, towns, how="left", predicate="within")
    joined = joined[~joined.index.duplicated()]
    outside = joined["township_code"].isna()
    if outside.any() and tolerance_m > 0 and towns.crs is not None and towns.crs.is_projected:
        near = gpd.sjoin_nearest(pts[outside.to_numpy()], towns, how="left", max_distance=tolerance_m)
        near = near[~near.index.duplicated()]
        hit = near["township_code"].notna()
        for col in ("township_code", "district_code"):
            joined.loc[near.index[hit], col] = near.loc[hit, col]
        outside = joined["township_code"].isna()
    kept = joined[~outside].drop(columns=["index_right"], errors="ignore")
    dropped_ids = joined.loc[outside, "site_id"].astype(str).tolist() if "site_id" in joined else []
    n, k = len(points), len(kept)
    if n == 0:
        note = f"{what}: the file lists no facilities."
    elif k == n:
        note = f"{what}: all {n} lie in the study area."
    elif k == 0:
        note = (
            f"{what}: none of the {n} lie in the study area, so none is used; if some should, check their coordinates "
            "and coord_system."
        )
    else:
        note = f"{what}: {k} of {n} lie in the study area and are used; {n - k} outside it are left out."
    return gpd.GeoDataFrame(kept, crs=townships.crs), ClipReport(k, n - k, dropped_ids, note)


def read_points_in_area(
    path: str | Path, townships: gpd.GeoDataFrame, *, what: str | None = None, **read_kw: object
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read a facility list (:func:`read_points`) and keep the facilities in the study area (:func:`clip_points_to_area`).

    The one call a run needs for a user's list of existing facilities: the shift check uses ``townships`` as the
    study area, a citywide file is filtered to the area, and everything the reader noticed comes back as notes for
    the plan (conversions, duplicates, how many were kept and dropped).

    Parameters
    ----------
    path
        The facility file.
    townships
        The study area's township polygons with ``township_code`` and ``district_code`` (any CRS).
    what
        How messages name the file.
    **read_kw
        Passed to :func:`read_points` (``coord_system``, ``encoding``, ``id_column``, ``name_column``,
        ``lon_column``, ``lat_column``, ``sheet``, ``prefix``).

    Returns
    -------
    (points, notes)
        The facilities inside the area, in the townships' CRS, with ``township_code`` and ``district_code``; notes.

    Raises
    ------
    ValidationError
        Everything :func:`read_points` refuses.
    """
    what = what or f"`{Path(path).name}`"
    pts = read_points(path, reference=townships, what=what, **read_kw)  # type: ignore[arg-type]
    kept, report = clip_points_to_area(pts, townships, what=what)
    return kept, [*pts.attrs.get(READ_NOTES, []), report.note]


#: Boolean columns of plan layers (GeoPackage stores them as integers).
PLAN_BOOL_COLUMNS = ("existing", "covered_eldercare_stations", "straight_line_fallback")


def read_plan_layers(plan_dir: str | Path) -> tuple[dict[str, gpd.GeoDataFrame], dict]:
    """The layers (``plan.gpkg``) and summary (``summary.json``) of a written plan folder, for maps and comparisons.

    Parameters
    ----------
    plan_dir
        A folder written by ``facility-planner run`` / ``Plan.write``.

    Returns
    -------
    (layers, summary)
        Layer name → GeoDataFrame (WGS-84), and the summary as a dict.

    Raises
    ------
    ValidationError
        Not a folder, no plan in it, or a damaged ``plan.gpkg`` / ``summary.json`` (all problems at once), with
        the fix: run the plan again.
    """
    import json

    import pyogrio

    d = Path(plan_dir)
    problems = Problems(f"plan folder `{d}`")
    if not d.exists():
        problems.add(f"{d} does not exist; give the folder `facility-planner run` wrote (its --out).")
    elif not d.is_dir():
        problems.add(f"{d} is a file, not a plan folder; give the folder `facility-planner run` wrote (its --out).")
    elif not (d / "plan.gpkg").exists() or not (d / "summary.json").exists():
        problems.add(f"{d} holds no plan (plan.gpkg and summary.json); run `facility-planner run` first.")
    problems.raise_if_any()
    layers: dict[str, gpd.GeoDataFrame] = {}
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(d / "plan.gpkg")]
    except Exception as exc:  # pyogrio's DataSourceError and friends for a damaged file
        problems.add(f"plan.gpkg cannot be read ({exc}); the plan is damaged: run it again.")
        names = []
    for name in names:
        try:
            g = gpd.read_file(d / "plan.gpkg", layer=name)
        except Exception as exc:
            problems.add(f"layer {name!r} of plan.gpkg cannot be read ({exc}); run the plan again.")
            continue
        for col in PLAN_BOOL_COLUMNS:
            if col in g.columns:
                g[col] = g[col].fillna(0).astype(bool)
        layers[name] = g
    if names and "districts" not in layers and not problems:
        problems.add("plan.gpkg has no `districts` layer; it was not written by facility-planner, or is damaged.")
    summary: dict = {}
    try:
        loaded = json.loads((d / "summary.json").read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            summary = loaded
        else:
            problems.add("summary.json does not hold a summary (a JSON object); run the plan again.")
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        problems.add(f"summary.json is damaged ({type(exc).__name__}: {exc}); run the plan again.")
    except OSError as exc:
        problems.add(f"summary.json cannot be read ({exc.strerror or exc}).")
    problems.raise_if_any()
    return layers, summary


# ---------------------------------------------------------------------------------------------------------------
# writers


def write_gpkg(
    path: str | Path, layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame], *, overwrite: bool = False
) -> Path:
    """Write several layers into one GeoPackage in WGS-84, atomically.

    Raises
    ------
    OutputExistsError
        The file exists and ``overwrite`` is False.
    OutputPathError
        ``path`` is a folder or its folder cannot be written.
    """
    path = Path(path)
    with staged_output_file(path, force=overwrite, what="GeoPackage") as tmp, reproducible_gpkg():
        for name, layer in layers.items():
            if isinstance(layer, gpd.GeoDataFrame):
                out = layer.to_crs(WGS84) if layer.crs is not None else layer
                out = out.copy()
                for col in out.columns:
                    if out[col].dtype == object and col != out.geometry.name:
                        out[col] = out[col].astype("string")
                out.to_file(tmp, layer=name, driver="GPKG")
            else:
                import pyogrio

                table = layer.copy()
                for col in table.columns:
                    if table[col].dtype == object:
                        table[col] = table[col].astype("string")
                pyogrio.write_dataframe(table, tmp, layer=name, driver="GPKG")
    return path


def write_csv_excel(df: pd.DataFrame, path: str | Path) -> Path:
    """CSV in UTF-8 with a byte-order mark, so Excel in China opens Chinese text correctly."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    df.to_csv(tmp, index=False, encoding="utf-8-sig")
    os.replace(tmp, path)
    return path


__all__ = [
    "ClipReport",
    "check_points_not_shifted",
    "clip_points_to_area",
    "read_plan_layers",
    "read_points",
    "read_points_in_area",
    "read_table",
    "read_vector",
    "write_csv_excel",
    "write_gpkg",
]
