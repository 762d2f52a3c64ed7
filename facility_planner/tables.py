"""The tables a planner reads: per family and per district or township-level unit (街乡镇), the sites planned, the
people covered and not, and how far the nearest site is; the site list with coordinates; the uncovered cells.

Distances to the nearest site are straight lines (metres, UTM 50N) from each demand point (a cell centre, a
community, a township centre) to the nearest site of the family in the plan, summarised as the demand-weighted median
and 90th percentile. They describe the plan; the models' travel times (with detour factors or streets) are what the
coverage counts were made with.
"""

from __future__ import annotations

import datetime
import os
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from . import settings

if TYPE_CHECKING:
    from .families import FamilyResult
    from .plan import Plan

#: columns of :func:`unit_tables`, in order
UNIT_COLUMNS = [
    "family",
    "level",
    "district_code",
    "district_zh",
    "township_code",
    "township_zh",
    "sites_new",
    "sites_existing",
    "demand",
    "covered",
    "uncovered",
    "covered_share",
    "nearest_median_m",
    "nearest_p90_m",
]


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``values`` when each counts ``weights`` times (NaN when nothing weighs).

    Examples
    --------
    >>> weighted_quantile(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 8.0]), 0.5)
    3.0
    """
    v = np.asarray(values, float)
    w = np.asarray(weights, float)
    ok = np.isfinite(v) & (w > 0)
    if not ok.any():
        return float("nan")
    v, w = v[ok], w[ok]
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order])
    i = int(np.searchsorted(cum, q * cum[-1] - 1e-9 * cum[-1], side="left"))
    return float(v[order][min(i, len(v) - 1)])


def nearest_site_m(points: gpd.GeoDataFrame, sites: gpd.GeoDataFrame) -> np.ndarray:
    """Straight-line distance in metres from each point (centroid for polygons) to the nearest site; NaN if no site."""
    from scipy.spatial import cKDTree

    if points is None or not len(points):
        return np.zeros(0)
    if sites is None or not len(sites):
        return np.full(len(points), np.nan)
    p = points.geometry.to_crs(settings.working_crs)
    p = p.centroid if not (p.geom_type == "Point").all() else p
    s = sites.geometry.to_crs(settings.working_crs)
    s = s.centroid if not (s.geom_type == "Point").all() else s
    tree = cKDTree(np.column_stack([s.x.to_numpy(), s.y.to_numpy()]))
    dist, _ = tree.query(np.column_stack([p.x.to_numpy(), p.y.to_numpy()]))
    return np.asarray(dist, dtype=float)


def _summarise(d: pd.DataFrame, s: pd.DataFrame, has_cov: bool) -> dict:
    w = d["weight"].to_numpy(float)
    dem = float(w.sum())
    cov = float((d["weight"] * d["covered"]).sum()) if has_cov else None
    ex = s["existing"].astype(bool) if len(s) else pd.Series(dtype=bool)
    return {
        "sites_new": int((~ex).sum()),
        "sites_existing": int(ex.sum()),
        "demand": dem,
        "covered": cov,
        "uncovered": None if cov is None else dem - cov,
        "covered_share": None if cov is None or dem <= 0 else cov / dem,
        "nearest_median_m": weighted_quantile(d["nearest_m"].to_numpy(), w, 0.5) if len(d) else float("nan"),
        "nearest_p90_m": weighted_quantile(d["nearest_m"].to_numpy(), w, 0.9) if len(d) else float("nan"),
    }


def family_unit_table(plan: Plan, key: str) -> pd.DataFrame:
    """One family's rows: the whole plan (``level == "total"``), each district and each township-level unit.

    ``demand`` is what the family serves (people, people aged 60+, communities... see the family's ``serves``);
    ``covered``/``uncovered`` are given for coverage families only.
    """
    fr = plan.families[key]
    towns = plan.demand.townships.set_index("township_code")
    dnames = plan.district_names().set_index("district_code")["name_zh"]
    d = pd.DataFrame(fr.demand.drop(columns="geometry", errors="ignore"))
    d["nearest_m"] = nearest_site_m(fr.demand, fr.sites) if len(fr.demand) else np.zeros(0)
    has_cov = "covered" in d.columns
    if has_cov:
        d["covered"] = d["covered"].astype(bool)
    s = pd.DataFrame(fr.sites.drop(columns="geometry", errors="ignore"))
    rows = [{"family": key, "level": "total", **_summarise(d, s, has_cov)}]
    for code in plan.districts:
        rows.append(
            {
                "family": key,
                "level": "district",
                "district_code": code,
                "district_zh": dnames.get(code),
                **_summarise(d[d["district_code"] == code], s[s["district_code"] == code] if len(s) else s, has_cov),
            }
        )
    tcodes = towns.index[towns["district_code"].isin(plan.districts)]
    dg = dict(list(d.groupby("township_code"))) if len(d) else {}
    sg = dict(list(s.groupby("township_code"))) if len(s) else {}
    empty_d, empty_s = d.iloc[:0], s.iloc[:0]
    for t in tcodes:
        rows.append(
            {
                "family": key,
                "level": "township",
                "district_code": towns.at[t, "district_code"],
                "district_zh": dnames.get(towns.at[t, "district_code"]),
                "township_code": t,
                "township_zh": towns.at[t, "name_zh"],
                **_summarise(dg.get(t, empty_d), sg.get(t, empty_s), has_cov),
            }
        )
    return pd.DataFrame(rows).reindex(columns=UNIT_COLUMNS)


def unit_tables(plan: Plan) -> pd.DataFrame:
    """:func:`family_unit_table` for every family of the plan, one long table (see :data:`UNIT_COLUMNS`)."""
    from .progress import progress

    parts = [family_unit_table(plan, k) for k in progress(list(plan.families), desc="tables", unit="family")]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=UNIT_COLUMNS)


def site_table(fr: FamilyResult, townships: pd.DataFrame | None = None) -> pd.DataFrame:
    """A family's sites with lon/lat (WGS-84), district and township, new or kept, and the people each serves."""
    s = fr.sites
    if s is None or not len(s):
        return pd.DataFrame(columns=["site_id", "status", "lon", "lat", "district_code", "township_code", "served"])
    g = s.to_crs("EPSG:4326").geometry
    g = g.centroid if not (g.geom_type == "Point").all() else g
    out = pd.DataFrame(
        {
            "site_id": s["site_id"].astype(str).to_numpy(),
            "status": np.where(s["existing"].astype(bool), "existing (kept)", "new"),
            "name": s["name"].to_numpy() if "name" in s.columns else None,
            "lon": np.round(g.x.to_numpy(), 6),
            "lat": np.round(g.y.to_numpy(), 6),
            "district_code": s["district_code"].to_numpy(),
            "township_code": s["township_code"].to_numpy(),
        }
    )
    if townships is not None and len(townships):
        out.insert(7, "township_zh", out["township_code"].map(townships.set_index("township_code")["name_zh"]))
    for col in ("served", "beds", "allocated", "mean_minutes"):
        if col in s.columns:
            v = s[col].to_numpy()
            # as a planner reads them: people and beds whole, minutes to one decimal
            out[col] = np.round(v.astype(float), 1 if col == "mean_minutes" else 0) if v.dtype.kind in "fi" else v
    return out


def uncovered_cells(plan: Plan, key: str) -> pd.DataFrame:
    """The family's uncovered demand cells (coverage families on cells): people, township and nearest-site metres."""
    fr = plan.families[key]
    if fr.demand_kind != "cells" or "covered" not in fr.demand.columns:
        return pd.DataFrame()
    d = fr.demand[~fr.demand["covered"].astype(bool) & (fr.demand["weight"] > 0)]
    g = d.geometry.to_crs("EPSG:4326")
    g = g.centroid if not (g.geom_type == "Point").all() else g
    towns = plan.demand.townships.set_index("township_code")["name_zh"]
    return pd.DataFrame(
        {
            "cell_id": d["demand_id"].to_numpy(),
            "district_code": d["district_code"].to_numpy(),
            "township_code": d["township_code"].to_numpy(),
            "township_zh": d["township_code"].map(towns).to_numpy(),
            "people": d["weight"].round().astype(int).to_numpy(),
            "nearest_site_m": np.round(nearest_site_m(d, fr.sites)),
            "lon": np.round(g.x.to_numpy(), 6),
            "lat": np.round(g.y.to_numpy(), 6),
        }
    ).sort_values("people", ascending=False, ignore_index=True)


# ------------------------------------------------------------------------------------------- rounding for readers


def _pct(v) -> float | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else round(100 * float(v), 1)


def _int(v) -> int | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(f) else round(f)


def planner_table(plan: Plan, units: pd.DataFrame | None = None) -> pd.DataFrame:
    """``summary.csv``: one row per family for the whole plan, each district and each township-level unit.

    Rounded as a planner reads them: counts are integers, shares are percent with one decimal, and every column
    holds one unit (a target counted in sites or beds goes in ``target_count``, a target share in ``target_pct``).
    """
    units = unit_tables(plan) if units is None else units
    s = plan.summary()
    dnames = plan.district_names().set_index("district_code")
    rows = []
    for r in units.to_dict("records"):
        f = s["families"][r["family"]]
        share = "share" in (f.get("unit") or "")
        level = r["level"]
        d_rows = {d["district_code"]: d for d in f["districts"]}
        beds = "bed" in (f.get("unit") or "")
        target = achieved = None
        if level == "total":
            target, achieved = f.get("target"), f.get("achieved")
        elif level == "district":
            d = d_rows.get(r["district_code"], {})
            target = d.get("target")
            share = False if target is not None or beds else share
            if beds:  # the district's beds against its beds target, in the unit of the total row
                achieved = d.get("allocated", d.get("beds"))
            else:
                achieved = r["sites_new"] + r["sites_existing"] if not share else r["covered_share"]
            if share:
                target = None
        code = r["district_code"] if isinstance(r["district_code"], str) else ""
        rows.append(
            {
                "family": r["family"],
                "family_zh": f["name_zh"],
                "family_en": f["name_en"],
                "level": level,
                "district_code": code,
                "district_zh": "合计" if level == "total" else r["district_zh"],
                "district_en": "total" if level == "total" else dnames["name_pinyin"].get(code),
                "township_code": r["township_code"] if isinstance(r["township_code"], str) else "",
                "township_zh": r["township_zh"] if isinstance(r["township_zh"], str) else "",
                "unit": f["unit"] if level == "total" else ("share" if share else "beds" if beds else "sites"),
                "target_count": None if share else _int(target),
                "achieved_count": None if share else _int(achieved),
                "target_pct": _pct(target) if share else None,
                "achieved_pct": _pct(achieved) if share else None,
                "met": f["met_text"] if level == "total" else "",
                "sites_new": _int(r["sites_new"]),
                "sites_existing": _int(r["sites_existing"]),
                "demand": _int(r["demand"]),
                "covered": _int(r["covered"]),
                "uncovered": _int(r["uncovered"]),
                "covered_pct": _pct(r["covered_share"]),
                "nearest_median_m": _int(r["nearest_median_m"]),
                "nearest_p90_m": _int(r["nearest_p90_m"]),
                "gap_pct": (None if f["gap"] is None else round(100 * f["gap"], 2)) if level == "total" else None,
            }
        )
    out = pd.DataFrame(rows)
    for c in ("target_count", "achieved_count", "sites_new", "sites_existing", "demand", "covered", "uncovered",
              "nearest_median_m", "nearest_p90_m"):  # fmt: skip
        out[c] = out[c].astype("Int64")
    return out


_HEADERS_ZH = {
    "family": "设施 family",
    "family_zh": "设施",
    "family_en": "family",
    "level": "层级 level",
    "district_code": "区代码 district code",
    "district_zh": "区",
    "district_en": "district",
    "township_code": "街乡镇代码 township code",
    "township_zh": "街乡镇 township",
    "unit": "单位 unit",
    "target_count": "目标(个) target count",
    "achieved_count": "完成(个) achieved count",
    "target_pct": "目标(%) target %",
    "achieved_pct": "完成(%) achieved %",
    "met": "是否达标 met",
    "sites_new": "新建 new sites",
    "sites_existing": "已有 existing sites",
    "demand": "需求 demand",
    "covered": "覆盖 covered",
    "uncovered": "未覆盖 uncovered",
    "covered_pct": "覆盖率(%) covered %",
    "nearest_median_m": "最近设施中位数(米) nearest median m",
    "nearest_p90_m": "最近设施90%分位(米) nearest p90 m",
    "gap_pct": "最优性差距(%) gap %",
    "site_id": "设施编号 site id",
    "status": "状态 status",
    "name": "名称 name",
    "lon": "经度 lon (WGS-84)",
    "lat": "纬度 lat (WGS-84)",
    "served": "服务人数 people served",
    "beds": "床位 beds",
    "allocated": "分配 allocated",
    "mean_minutes": "平均时间(分钟) mean minutes",
    "cell_id": "网格 cell",
    "people": "人数 people",
    "nearest_site_m": "距最近设施(米) nearest site m",
}


def write_workbook(plan: Plan, path: str | Path, *, table: pd.DataFrame | None = None) -> Path:
    """``plan.xlsx``: a ``targets`` sheet (families, districts), a ``townships`` sheet (every family × township-level
    unit), a sheet of sites per family (lon/lat, township, people served) and the uncovered cells of coverage
    families, with bilingual headers. Written to a temporary name and moved into place.
    """
    import os

    path = Path(path)
    table = planner_table(plan) if table is None else table
    sheets: dict[str, pd.DataFrame] = {
        "targets": table[table["level"] != "township"].drop(columns=["township_code", "township_zh"]),
        "townships": table[table["level"] == "township"].drop(
            columns=["target_count", "achieved_count", "target_pct", "achieved_pct", "met", "gap_pct"]
        ),
    }
    towns = plan.demand.townships
    for key, fr in plan.families.items():
        sheets[_sheet(f"sites {key}", sheets)] = site_table(fr, towns)
        unc = uncovered_cells(plan, key)
        if len(unc):
            sheets[_sheet(f"uncovered {key}", sheets)] = unc
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    tmp = path.with_name(f".{path.name}.tmp.xlsx")
    # streamed row by row (openpyxl's write-only mode): the citywide plan's uncovered cells are 125,000 rows, which
    # pandas' cell-by-cell writer took about 50% longer over
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for name, df in sheets.items():
        ws = wb.create_sheet(name)
        ws.freeze_panes = "A2"
        header = []
        for i, col in enumerate(df.columns, start=1):
            label = str(_HEADERS_ZH.get(col, col))
            ws.column_dimensions[get_column_letter(i)].width = min(40, max(10, len(label) + 2))
            cell = WriteOnlyCell(ws, value=label)
            cell.font = bold
            header.append(cell)
        ws.append(header)
        # Python values, missing ones empty (NaN, NA and None alike), an infinite gap written as pandas did
        values = df.astype(object).where(df.notna(), None).replace({np.inf: "inf", -np.inf: "-inf"})
        for row in values.itertuples(index=False, name=None):
            ws.append(row)
    stamp = _fixed_time()
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.save(tmp)
    _fix_zip_times(tmp)
    os.replace(tmp, path)
    return path


def _fixed_time() -> datetime.datetime:
    """``SOURCE_DATE_EPOCH`` when set, else 1980-01-01: two runs of one plan write the same bytes."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC).replace(tzinfo=None)
    return datetime.datetime(1980, 1, 1)


def _fix_zip_times(path: Path) -> None:
    """Rewrite an xlsx (a zip) with every member stamped at :func:`_fixed_time` (openpyxl stamps them now)."""
    stamp = _fixed_time().timetuple()[:6]
    with zipfile.ZipFile(path) as z:
        members = [(info, z.read(info.filename)) for info in z.infolist()]
    tmp = path.with_name(path.name + ".z")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        iso = _fixed_time().strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        for info, data in members:
            if info.filename == "docProps/core.xml":  # openpyxl sets `modified` to the time of saving
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>" + iso + rb"\g<2>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=stamp)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            z.writestr(zi, data)
    os.replace(tmp, path)


def _sheet(name: str, taken: dict) -> str:
    """An Excel sheet name (≤ 31 characters, unique)."""
    base = name[:31]
    n, out = 2, base
    while out in taken:
        out = f"{base[:28]}~{n}"
        n += 1
    return out


__all__ = [
    "UNIT_COLUMNS",
    "family_unit_table",
    "nearest_site_m",
    "planner_table",
    "site_table",
    "uncovered_cells",
    "unit_tables",
    "weighted_quantile",
    "write_workbook",
]
