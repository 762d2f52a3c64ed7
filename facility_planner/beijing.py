"""The bundled Beijing data: boundaries of every level, their codes and hierarchy, and the Haidian census.

Levels: 16 districts (区) → township-level units (街道 subdistrict, 镇 town, 乡 township, 地区 area office) →
communities (居委会) and villages (村委会).

The bundled township polygons (poi86.com, 331 features) predate the 2019–2021 reforms; the official list of
township-level units is the NBS 2023 code list (343 administrative units plus 6 non-administrative zones). The two
are joined by code (matched by name within a district when the data were staged, see ``data/beijing/PROVENANCE.md``).
What does not join is never dropped: :attr:`BeijingAreas.join_report` lists every polygon without a 2023 code and
every 2023 unit without a polygon, with the reason.

Generic boundary code (any city) stays in :mod:`facility_planner.areas`; these names are importable from there too.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from . import settings
from ._errors import ValidationError
from ._validate import Problems, check_geometries
from .areas import resolve_district
from .coords import WGS84
from .io import read_vector

#: Township-level kinds, with their Chinese suffixes. ``rural`` kinds are the ones the cemetery target counts.
KINDS = {
    "subdistrict": "街道",
    "town": "镇",
    "township": "乡",
    "area_office": "地区",
    "special_zone": "非行政区域",
}
RURAL_KINDS = ("town", "township", "area_office")


def data_dir(path: str | Path | None = None) -> Path:
    """The folder holding the bundled Beijing data (``data/beijing``), or ``path`` when given.

    Looks in :data:`facility_planner.settings.data_dir`, then beside the package in a source checkout, then inside
    the installed package.
    """
    candidates = [Path(path)] if path is not None else []
    if settings.data_dir is not None:
        candidates.append(Path(settings.data_dir))
    here = Path(__file__).resolve().parent
    candidates += [here.parent / "data" / "beijing", here / "_data" / "beijing"]
    for c in candidates:
        if (c / "districts_wgs84.geojson").exists():
            return c
    raise ValidationError(
        "bundled data",
        [
            f"no Beijing data folder found (looked in {', '.join(str(c) for c in candidates)}); "
            "run from a clone of the repository or set `facility_planner.settings.data_dir`."
        ],
    )


def _kind_from_label(kind: str | float | None, name: str) -> str:
    if isinstance(kind, str) and kind:
        k = kind.split("(")[0]
        if k in KINDS:
            return k
    if name.endswith("街道"):
        return "subdistrict"
    if name.endswith("地区") or name.endswith("地区办事处"):
        return "area_office"
    if name.endswith("乡"):
        return "township"
    if name.endswith("镇"):
        return "town"
    return "special_zone"


def load_districts(path: str | Path | None = None) -> gpd.GeoDataFrame:
    """The 16 districts of Beijing, WGS-84, with ``district_code``, ``name_zh``, ``name_en``, ``name_pinyin``."""
    d = data_dir(path)
    gdf = read_vector(d / "districts_wgs84.geojson")
    gdf = gdf.rename(columns={"adcode": "district_code"})
    gdf["district_code"] = gdf["district_code"].astype(str)
    return (
        gdf[["district_code", "name_zh", "name_en", "name_pinyin", "geometry"]]
        .sort_values("district_code")
        .reset_index(drop=True)
    )


def load_township_codes(path: str | Path | None = None, *, include_special: bool = False) -> pd.DataFrame:
    """The NBS 2023 township-level units: ``township_code``, ``name_zh``, ``kind``, ``district_code``, ``district_name``.

    By default the 6 non-administrative special zones (development zones, airport) are left out, giving 343 units.
    """
    d = data_dir(path)
    df = pd.read_csv(d / "townships_2023_codes.csv", dtype=str)
    df["kind"] = [_kind_from_label(k, n) for k, n in zip(df["kind"], df["name_zh"], strict=True)]
    df = df.rename(columns={"code": "township_code", "district_adcode": "district_code"})
    if not include_special:
        df = df[df["kind"] != "special_zone"]
    return df.reset_index(drop=True)


def load_community_codes(path: str | Path | None = None) -> pd.DataFrame:
    """The 7,535 NBS 2023 community (居委会) and village (村委会) units, with location where one is known.

    Columns: ``community_code``, ``name_zh``, ``kind`` (``community``/``village``), ``township_code``,
    ``district_code``, ``lon``, ``lat`` (WGS-84, NaN where unknown) and ``has_location``.
    """
    d = data_dir(path)
    df = pd.read_csv(d / "villages_communities_2023_codes.csv", dtype=str)
    df = df.rename(columns={"code": "community_code", "district_adcode": "district_code"})
    df["kind"] = np.where(df["kind"].str.startswith("community"), "community", "village")
    pts = read_vector(d / "village_community_points_adcode2016_wgs84.geojson")
    pts = pts[["code", "geometry"]].drop_duplicates("code")
    loc = pd.DataFrame({"community_code": pts["code"].astype(str), "lon": pts.geometry.x, "lat": pts.geometry.y})
    df = df.merge(loc, on="community_code", how="left")
    df["has_location"] = df["lon"].notna()
    return df


@dataclass
class BeijingAreas:
    """Every boundary level of Beijing, joined, with what did not join.

    Attributes
    ----------
    districts
        16 district polygons (WGS-84).
    townships
        331 township polygons (WGS-84), one row per polygon: ``township_code`` (the NBS 2023 code where the
        polygon joins one, else ``poi86:<district>:<name>``), ``name_zh``, ``kind``, ``district_code``,
        ``join_status`` (``exact``, ``renamed``, ``superseded_by_reform``, ``unmatched``), ``wp_pop``.
    units
        The 343 NBS 2023 township-level units with ``has_polygon``.
    communities
        The 7,535 community/village units (:func:`load_community_codes`).
    join_report
        One row for every polygon without a 2023 code and every 2023 unit without a polygon.
    """

    districts: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    units: pd.DataFrame
    communities: pd.DataFrame
    join_report: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def district_code(self, name: str) -> str:
        """The 6-digit code of a district given as code, Chinese name (海淀区/海淀) or English name (Haidian)."""
        return resolve_district(self.districts, name)


def load_beijing(path: str | Path | None = None) -> BeijingAreas:
    """Load and join every bundled Beijing boundary and code list (read once per process; each call gets copies).

    Examples
    --------
    >>> areas = load_beijing()
    >>> len(areas.districts), len(areas.townships), len(areas.units)
    (16, 331, 343)
    """
    d = data_dir(path)
    stamp = tuple((f.name, f.stat().st_mtime_ns) for f in sorted(d.iterdir()) if f.is_file())
    cached = _load_beijing_cached(str(d.resolve()), stamp)
    return BeijingAreas(
        districts=cached.districts.copy(),
        townships=cached.townships.copy(),
        units=cached.units.copy(),
        communities=cached.communities.copy(),
        join_report=cached.join_report.copy(),
        notes=list(cached.notes),
    )


@functools.lru_cache(maxsize=4)
def _load_beijing_cached(folder: str, stamp: tuple) -> BeijingAreas:
    """The joined areas of one data folder; ``stamp`` (names and modification times) renews it when files change."""
    d = Path(folder)
    districts = load_districts(d)
    units = load_township_codes(d, include_special=True)
    src = read_vector(d / "townships_poi86_beijing_wgs84.geojson")
    problems = Problems("`townships_poi86_beijing_wgs84.geojson`")
    check_geometries(src, problems)
    problems.raise_if_any()

    unit_by_code = units.set_index("township_code")
    codes, names, kinds, status = [], [], [], []
    for r in src.itertuples():
        code = r.code_2023 if isinstance(r.code_2023, str) and r.code_2023 else None
        if code is not None and code in unit_by_code.index:
            u = unit_by_code.loc[code]
            codes.append(code)
            names.append(u["name_zh"])
            kinds.append(u["kind"])
            status.append("exact" if r.match == "exact" else "renamed")
        else:
            codes.append(f"poi86:{r.district_adcode}:{r.name_zh_src}")
            names.append(r.name_zh_src)
            kinds.append(_kind_from_label(None, r.name_zh_src))
            status.append(str(r.match) if r.match == "superseded_by_reform" else "unmatched")
    townships = gpd.GeoDataFrame(
        {
            "township_code": codes,
            "name_zh": names,
            "name_zh_source": src["name_zh_src"].values,
            "kind": kinds,
            "district_code": src["district_adcode"].astype(str).values,
            "join_status": status,
            "wp_pop": pd.to_numeric(src["wp_pop"]).astype("int64").values,
        },
        geometry=src.geometry.values,
        crs=WGS84,
    )
    dup = townships["township_code"].duplicated(keep=False)
    if dup.any():
        raise ValidationError(
            "township polygons", [f"several polygons share code(s) {sorted(set(townships.loc[dup, 'township_code']))}"]
        )

    with_polygon = set(townships["township_code"])
    units["has_polygon"] = units["township_code"].isin(with_polygon)
    rows = []
    for r in townships[townships["join_status"].isin(["superseded_by_reform", "unmatched"])].itertuples():
        reason = (
            "old unit split up by the 2019–2021 reforms; its people are counted in this polygon"
            if r.join_status == "superseded_by_reform"
            else "no NBS 2023 unit of this name in the district; its people are counted in this polygon"
        )
        rows.append(
            {
                "side": "polygon without 2023 code",
                "township_code": r.township_code,
                "name_zh": r.name_zh,
                "district_code": r.district_code,
                "kind": r.kind,
                "reason": reason,
            }
        )
    for r in units[~units["has_polygon"]].itertuples():
        reason = (
            "non-administrative zone (development zone or airport); not a planning unit"
            if r.kind == "special_zone"
            else "unit created after the polygons were drawn (2019–2021 reforms); its area and people lie inside "
            "older polygons of the same district, so no per-unit figures can be given"
        )
        rows.append(
            {
                "side": "2023 unit without polygon",
                "township_code": r.township_code,
                "name_zh": r.name_zh,
                "district_code": r.district_code,
                "kind": r.kind,
                "reason": reason,
            }
        )
    pts = read_vector(d / "village_community_points_adcode2016_wgs84.geojson")
    codes_2023 = set(pd.read_csv(d / "villages_communities_2023_codes.csv", dtype=str, usecols=["code"])["code"])
    stale = pts[~pts["code"].astype(str).isin(codes_2023)]
    for r in stale.itertuples():
        rows.append(
            {
                "side": "community point without 2023 code",
                "township_code": str(r.code),
                "name_zh": r.name_zh_2016,
                "district_code": str(r.code)[:6],
                "kind": r.kind,
                "reason": "2016 code not in the NBS 2023 list (unit renamed, merged or re-coded); point not used",
            }
        )
    report = pd.DataFrame(rows, columns=["side", "township_code", "name_zh", "district_code", "kind", "reason"])
    units_admin = units[units["kind"] != "special_zone"].reset_index(drop=True)
    notes = [
        f"{int(units_admin['has_polygon'].sum())} of {len(units_admin)} township-level units (NBS 2023) have a polygon; "
        f"{int((~units_admin['has_polygon']).sum())} do not (new subdistricts of 2019–2021, listed in the join report).",
        f"{int((townships['join_status'].isin(['superseded_by_reform', 'unmatched'])).sum())} of {len(townships)} "
        "polygons carry no 2023 code; they keep a `poi86:` code and their population.",
        f"{len(pts) - len(stale)} of {len(pts)} community/village points join a 2023 code; the {len(stale)} others "
        "(2016 codes since changed) are listed in the join report and not used.",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        communities = load_community_codes(d)
    return BeijingAreas(districts, townships, units_admin, communities, report, notes)


def load_haidian_census(path: str | Path | None = None) -> pd.DataFrame:
    """2020 census population of Haidian's 29 township-level units: ``township_code``, ``pop_2020``."""
    d = data_dir(path)
    gdf = read_vector(d / "haidian_townships_wgs84.geojson")
    return pd.DataFrame(
        {"township_code": gdf["code"].astype(str), "pop_2020": pd.to_numeric(gdf["pop_2020"]).astype("int64")}
    )
