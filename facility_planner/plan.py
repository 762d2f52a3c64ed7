"""The result of a scenario run: chosen sites, coverage, KPIs against the targets; and its writers."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ._output import OutputDir, OutputReport
from .families import FAMILY_NAMES, FamilyResult
from .io import write_csv_excel, write_gpkg


@dataclass
class Plan:
    """A plan for the whole city or one district.

    Attributes
    ----------
    families
        Family key → :class:`~facility_planner.families.FamilyResult`.
    demand
        The :class:`~facility_planner.demand.DemandLayer` the plan was made on.
    """

    scenario: object
    demand: object
    families: dict[str, FamilyResult]
    existing: dict[str, gpd.GeoDataFrame]
    travel_mode: str
    isochrones: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    fallback_cells: pd.Series | None = None
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def district_names(self) -> pd.DataFrame:
        return self.demand.districts[["district_code", "name_zh", "name_pinyin"]]

    def summary(self) -> dict:
        """Per family: target, achieved, met, unit, sites_new, sites_existing, gap and per-district rows."""
        names = self.district_names().set_index("district_code")
        fams = {}
        for key, fr in self.families.items():
            zh, en = FAMILY_NAMES[key]
            rows = []
            for r in fr.by_district.to_dict("records"):
                code = r["district_code"]
                rows.append(
                    {
                        "district_code": code,
                        "name_zh": names["name_zh"].get(code),
                        "name_en": names["name_pinyin"].get(code),
                        **{k: _plain(v) for k, v in r.items() if k != "district_code"},
                    }
                )
            fams[key] = {
                "name_zh": zh,
                "name_en": en,
                **{k: _plain(v) for k, v in fr.kpi.items()},
                "sites_new": int((~fr.sites["existing"]).sum()),
                "sites_existing": int(fr.sites["existing"].sum()),
                "gap": _plain(fr.worst_gap),
                "districts": rows,
                "notes": fr.notes,
            }
        return {
            "scenario": self.scenario.name,
            "description": self.scenario.description,
            "area": self.scenario.area,
            "district": self.scenario.district,
            "travel_mode": self.travel_mode,
            "population": int(self.demand.cells["pop"].sum()),
            "population_60_plus": int(self.demand.cells["pop_60"].sum()),
            "families": fams,
            "notes": self.notes,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }

    def summary_table(self) -> pd.DataFrame:
        """One row per family and district (plus a citywide row), Chinese and English names."""
        rows = []
        s = self.summary()
        for key, f in s["families"].items():
            rows.append(
                {
                    "family": key,
                    "family_zh": f["name_zh"],
                    "district_code": "",
                    "district_zh": "全市/合计",
                    "district_en": "total",
                    "target": f["target"],
                    "achieved": f["achieved"],
                    "met": f["met"],
                    "unit": f["unit"],
                    "sites_new": f["sites_new"],
                    "sites_existing": f["sites_existing"],
                    "gap": f["gap"],
                }
            )
            for d in f["districts"]:
                rows.append(
                    {
                        "family": key,
                        "family_zh": f["name_zh"],
                        "district_code": d["district_code"],
                        "district_zh": d["name_zh"],
                        "district_en": d["name_en"],
                        "target": None,
                        "achieved": d.get("covered_share"),
                        "met": None,
                        "unit": "covered share in district",
                        "sites_new": d.get("sites_new"),
                        "sites_existing": d.get("sites_existing"),
                        "gap": None,
                    }
                )
        return pd.DataFrame(rows)

    def layers(self) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
        """The GeoPackage layers: sites per family, existing sites, demand cells with covered flags, townships."""
        out: dict = {}
        for key, fr in self.families.items():
            zh, en = FAMILY_NAMES[key]
            out[f"sites_{key}"] = fr.sites.assign(family=key, family_zh=zh, family_en=en)
        ex = [g.assign(family=k) for k, g in self.existing.items() if g is not None and len(g)]
        if ex:
            out["existing_sites"] = gpd.GeoDataFrame(pd.concat(ex, ignore_index=True), crs=ex[0].crs)
        cells = self.demand.cells.copy()
        for key, fr in self.families.items():
            if fr.cell_covered is not None:
                cells[f"covered_{key}"] = cells["cell_id"].map(fr.cell_covered).fillna(False).astype(bool)
        if self.fallback_cells is not None:
            cells["straight_line_fallback"] = cells["cell_id"].map(self.fallback_cells).fillna(True).astype(bool)
        out["demand_cells"] = cells
        out["townships"] = self.township_kpis()
        out["districts"] = self.demand.districts
        if self.demand.join_report is not None:
            out["join_report"] = self.demand.join_report
        if "psych_points" in self.families and self.families["psych_points"].unit_table is not None:
            comm = self.families["psych_points"].unit_table
            out["communities"] = comm
        for key, iso in self.isochrones.items():
            out[f"coverage_{key}"] = iso
        return out

    def township_kpis(self) -> gpd.GeoDataFrame:
        t = self.demand.townships.copy()
        cells = self.demand.cells
        for key, fr in self.families.items():
            if fr.cell_covered is not None:
                cov = cells["cell_id"].map(fr.cell_covered).fillna(False).astype(bool)
                w = "pop_60" if key == "eldercare_stations" else "pop"
                share = (cells[w] * cov).groupby(cells["township_code"]).sum() / cells.groupby("township_code")[w].sum()
                t[f"{key}_covered_share"] = t["township_code"].map(share)
            if key in ("care_centres", "cemeteries") and fr.unit_table is not None:
                has = fr.unit_table.dropna(subset=["site_id"]).set_index("township_code")["site_id"]
                t[f"{key}_site"] = t["township_code"].map(has)
        return t

    def write(self, out_dir: str | Path, *, force: bool = False, maps: bool | None = None) -> OutputReport:
        """Write plan.gpkg, summary.json, summary.csv (and maps/report when asked) and manifest.json, atomically.

        Everything is written into a temporary folder beside ``out_dir`` first and moved into place only when
        complete, so a failed or interrupted run leaves no half-written plan and no temporary folder. A non-empty
        folder is refused unless ``force``; with ``force`` only the files a previous run wrote (its manifest.json)
        and the files written now are replaced, and anything else in the folder is left in place.

        The run's timings go into manifest.json, not summary.json, so two runs of one scenario write identical
        plan files (see :mod:`facility_planner._output`).

        Returns
        -------
        OutputReport
            The folder (``Path(report)``) and what was written, replaced, removed and kept (``report.messages()``).

        Raises
        ------
        OutputExistsError
            ``out_dir`` is not empty and ``force`` is False.
        OutputPathError
            ``out_dir`` is a file, or its folder cannot be written.
        """
        summary = self.summary()
        seconds = summary.pop("seconds", None)
        with OutputDir(out_dir, force=force, extra={"seconds": seconds} if seconds else None) as stage:
            tmp = stage.path
            write_gpkg(tmp / "plan.gpkg", self.layers())
            (tmp / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
            write_csv_excel(self.summary_table(), tmp / "summary.csv")
            want_maps = self.scenario.outputs.maps if maps is None else maps
            if want_maps:
                from .maps import write_maps
                from .report import write_report

                write_maps(self, tmp / "maps")
                if self.scenario.outputs.report:
                    write_report(self, tmp)
        return stage.report


def _plain(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v
