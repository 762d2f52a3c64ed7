"""Generic boundary code for any city: district look-up by any name, the GCJ-02 shift check, reading vectors.

The bundled Beijing loaders live in :mod:`facility_planner.beijing`; their names (``load_beijing``, ``data_dir``,
``BeijingAreas``, …) stay importable from here.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ._errors import ValidationError
from .coords import WGS84, from_gcj02
from .io import read_vector as read_vector  # moved to io.py; importable here too


def check_not_shifted(gdf: gpd.GeoDataFrame, reference: gpd.GeoDataFrame, what: str) -> list[str]:
    """Problems if ``gdf`` (said to be WGS-84) fits ``reference`` better once shifted from GCJ-02 to WGS-84.

    GCJ-02 data read as WGS-84 sit 500–600 m off in Beijing. This compares boundary vertices with the reference
    outline both ways; it never converts anything, it only refuses data that are evidently untagged GCJ-02.
    """
    from .coords import BEIJING_UTM

    # the reference boundary lines, indexed: a point's distance to the outline is its distance to the nearest line
    # (measured: 2,000 points against Beijing's districts 1 s -> 0.08 s, the same distances)
    outline = shapely.get_parts(shapely.union_all(reference.to_crs(BEIJING_UTM).geometry.boundary.values))
    pts = shapely.get_coordinates(gdf.to_crs(WGS84).union_all().boundary)
    if len(pts) == 0 or len(outline) == 0:
        return []
    tree = shapely.STRtree(outline)

    def to_outline(xy: np.ndarray) -> np.ndarray:
        (rows, _), dist = tree.query_nearest(shapely.points(xy), return_distance=True, all_matches=False)
        out = np.full(len(xy), np.inf)
        out[rows] = dist
        return out

    rng = np.random.default_rng(0)
    pts = pts[rng.choice(len(pts), size=min(2000, len(pts)), replace=False)]
    shifted = np.column_stack(
        from_gcj02(gpd.GeoDataFrame(geometry=gpd.points_from_xy(*pts.T), crs=WGS84)).geometry.get_coordinates().values.T
    )
    tr = pyproj.Transformer.from_crs(WGS84, BEIJING_UTM, always_xy=True)
    d_as_is = to_outline(np.column_stack(tr.transform(*pts.T)))
    d_shift = to_outline(np.column_stack(tr.transform(*shifted.T)))
    near_as_is = np.median(d_as_is)
    near_shift = np.median(d_shift)
    if near_shift < 100 and near_as_is > 3 * near_shift + 150:
        return [
            f"{what} looks like GCJ-02 (Gaode/Amap) coordinates labelled as WGS-84: its boundary lies a median "
            f"{near_as_is:.0f} m from the official outline as given but {near_shift:.0f} m once converted from "
            "GCJ-02. If it is GCJ-02, say so with coord_system='gcj02'."
        ]
    return []


def resolve_district(districts: pd.DataFrame, name: str) -> str:
    """The 6-digit code of a district given as code, Chinese name (海淀区/海淀) or English name (Haidian).

    Parameters
    ----------
    districts
        The districts table (``district_code``, ``name_zh``, ``name_pinyin``).
    name
        The district as the user wrote it.

    Returns
    -------
    str
        Its district code.

    Raises
    ------
    ValidationError
        When no district matches ``name`` (the message lists the districts).
    """
    key = str(name).strip()
    low = key.lower().removesuffix(" district")
    for _, r in districts.iterrows():
        if key in (r["district_code"], r["name_zh"], r["name_zh"].removesuffix("区")) or low in (
            str(r["name_pinyin"]).lower(),
            str(r["name_en"]).lower().removesuffix(" district"),
        ):
            return str(r["district_code"])
    names = ", ".join(f"{r.name_pinyin} ({r.name_zh}, {r.district_code})" for r in districts.itertuples())
    raise ValidationError("`district`", [f"no district called {name!r}; choose one of: {names}."])


# the Beijing loaders moved to beijing.py; old imports (`from facility_planner.areas import load_beijing`) keep working
_BEIJING = frozenset(
    [
        "BeijingAreas",
        "KINDS",
        "RURAL_KINDS",
        "data_dir",
        "load_beijing",
        "load_community_codes",
        "load_districts",
        "load_haidian_census",
        "load_township_codes",
    ]
)


def __getattr__(name: str) -> Any:
    if name in _BEIJING:
        from . import beijing

        return getattr(beijing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
