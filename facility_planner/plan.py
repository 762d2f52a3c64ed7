"""The result of a scenario run: chosen sites, coverage, KPIs against the targets; and its writers."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import FacilityPlannerError, ValidationError
from ._output import OutputDir, OutputReport
from .families import FamilyResult
from .io import write_csv_excel, write_gpkg

if TYPE_CHECKING:
    from .demand import DemandLayer
    from .scenario import Scenario


@dataclass
class Plan:
    """A plan for the scenario's area or one district of it.

    Attributes
    ----------
    scenario
        The :class:`~facility_planner.scenario.Scenario` that was run.
    demand
        The :class:`~facility_planner.demand.DemandLayer` the plan was made on.
    families
        Family key → :class:`~facility_planner.families.FamilyResult`, in the scenario's order.
    districts
        District codes this plan covers.
    """

    scenario: Scenario
    demand: DemandLayer
    families: dict[str, FamilyResult]
    districts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def district(self) -> str | None:
        """The one district planned, when the plan covers one district."""
        return self.districts[0] if len(self.districts) == 1 else None

    def district_names(self) -> pd.DataFrame:
        """The districts of the plan's demand layer: ``district_code``, ``name_zh``, ``name_pinyin``."""
        if self.demand.districts is None:  # a plan is made on a layer with districts (pipeline.plan_context)
            raise ValidationError("plan", ["its demand layer has no districts table; build it with `beijing_demand`."])
        return self.demand.districts[["district_code", "name_zh", "name_pinyin"]]

    def summary(self) -> dict:
        """Per family: names, model, the KPI (target, achieved, met, unit, gap...), sites and per-district rows."""
        names = self.district_names().set_index("district_code")
        fams = {}
        for key, fr in self.families.items():
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
                "name_zh": fr.name_zh,
                "name_en": fr.name_en,
                "model": fr.model,
                "color": fr.color,
                "travel": fr.travel,
                **{k: _plain(v) for k, v in fr.kpi.as_dict().items()},
                "sites_new": int((~fr.sites["existing"].astype(bool)).sum()),
                "sites_existing": int(fr.sites["existing"].astype(bool).sum()),
                "assembled": fr.assembled,
                "districts": rows,
                "notes": fr.notes,
            }
        return {
            "scenario": self.scenario.name,
            "description": self.scenario.description,
            "area": self.scenario.area,
            "scenario_district": self.scenario.district,
            "district": self.district,
            "districts": list(self.districts),
            "travel_mode": self.scenario.travel.mode,
            "population": int(self.demand.cells["pop"].sum()),
            "population_60_plus": int(self.demand.cells["pop_60"].sum()),
            "families": fams,
            "gaps_exceeded": [k for k, f in fams.items() if f.get("gap_exceeded")],
            "notes": self.notes,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }

    def summary_table(self) -> pd.DataFrame:
        """``summary.csv``: per family, the whole plan, each district and each township-level unit, rounded as a
        planner reads them (see :func:`facility_planner.tables.planner_table`)."""
        from .tables import planner_table

        return planner_table(self, self.unit_tables())

    def unit_tables(self) -> pd.DataFrame:
        """Per family × (total, district, township): sites, demand, covered, nearest-site distance (cached)."""
        from .tables import unit_tables

        if getattr(self, "_unit_tables", None) is None:
            self._unit_tables = unit_tables(self)
        return self._unit_tables

    def layers(self) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
        """The GeoPackage layers: sites and demand per family, demand cells with covered flags, townships."""
        out: dict = {}
        for key, fr in self.families.items():
            out[f"sites_{key}"] = fr.sites.assign(family=key, family_zh=fr.name_zh, family_en=fr.name_en)
        cells = self.demand.cells.copy()
        for key, fr in self.families.items():
            cc = fr.cell_covered
            if cc is not None:
                cells[f"covered_{key}"] = cells["cell_id"].map(cc).eq(True)
                # the distance an uncovered cell's people are from the family's nearest site (maps, tables)
                from .tables import nearest_site_m

                cells[f"nearest_m_{key}"] = np.round(nearest_site_m(cells, fr.sites))
        for fr in self.families.values():
            if fr.demand_kind == "cells" and "straight_line_fallback" in fr.demand.columns:
                fb = fr.demand.set_index("demand_id")["straight_line_fallback"]
                cells["straight_line_fallback"] = ~cells["cell_id"].map(fb).eq(False)
                break
        out["demand_cells"] = cells
        out["townships"] = self.township_kpis()
        out["unit_tables"] = self.unit_tables()
        out["districts"] = self.demand.districts
        if self.demand.join_report is not None:
            out["join_report"] = self.demand.join_report
        for key, fr in self.families.items():
            if fr.demand_kind != "cells" and len(fr.demand):
                out[f"demand_{key}"] = gpd.GeoDataFrame(fr.demand, crs=fr.demand.crs)
            if fr.unit_table is not None and len(fr.unit_table):
                out[f"units_{key}"] = fr.unit_table
            if fr.reach is not None and len(fr.reach):
                out[f"coverage_{key}"] = fr.reach
        out["families"] = pd.DataFrame(
            [
                {"family": k, "name_zh": f.name_zh, "name_en": f.name_en, "model": f.model, "color": f.color,
                 "coverage_kind": f.coverage_kind, "demand_kind": f.demand_kind, **f.travel}
                for k, f in self.families.items()
            ]
        )  # fmt: skip
        return out

    def township_kpis(self) -> gpd.GeoDataFrame:
        t = self.demand.townships.copy()
        for key, fr in self.families.items():
            d = fr.demand
            if "covered" in d.columns and len(d):
                w = d["weight"] * d["covered"]
                share = w.groupby(d["township_code"]).sum() / d.groupby("township_code")["weight"].sum()
                t[f"{key}_covered_share"] = t["township_code"].map(share)
            n = fr.sites.groupby("township_code").size() if len(fr.sites) else pd.Series(dtype=int)
            t[f"{key}_sites"] = t["township_code"].map(n).fillna(0).astype(int)
        return t

    def write(
        self,
        out_dir: str | Path,
        *,
        force: bool = False,
        maps: bool | None = None,
        lang: str = "zh",
        pdf: bool = False,
    ) -> OutputReport:
        """Write plan.gpkg, summary.json, summary.csv, plan.xlsx (and maps/report in ``lang``), atomically.

        With ``pdf`` the report is also printed to ``report.pdf`` (A4 landscape, headless Chromium, offline). If
        Chromium fails, everything else is still written and ``messages()`` says why the PDF is missing.

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
            from .tables import write_workbook

            write_workbook(self, tmp / "plan.xlsx", table=self.summary_table())
            want_maps = self.scenario.outputs.maps if maps is None else maps
            if want_maps:
                from .maps import write_maps
                from .report import write_report

                write_maps(self, tmp / "maps")
                if self.scenario.outputs.report:
                    write_report(self, tmp, lang=lang)
                    if pdf:
                        _print_pdf(tmp, stage.report)
            if pdf and not (want_maps and self.scenario.outputs.report):
                stage.report.not_written.append(
                    "report.pdf was not written: the report is off here (maps=False, or `outputs.maps` / "
                    "`outputs.report` off in the scenario); turn it on to print it."
                )
        return stage.report


def _plain(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _print_pdf(folder: Path, report: OutputReport) -> None:
    """``folder/report.html`` printed to ``folder/report.pdf``; a failure is noted in ``report``, not raised, so
    the plan it took minutes to make is still written."""
    import subprocess

    from .report import export_pdf

    pdf = folder / "report.pdf"
    try:
        export_pdf(folder / "report.html", pdf, timeout_s=180)
        if not pdf.is_file() or pdf.stat().st_size == 0:
            raise OSError("Chromium ended without writing the file")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError, FacilityPlannerError) as exc:
        pdf.unlink(missing_ok=True)  # no half-written PDF beside the note that says there is none
        if isinstance(exc, subprocess.CalledProcessError | subprocess.TimeoutExpired):
            err = exc.stderr or b""
            lines = (err.decode(errors="replace") if isinstance(err, bytes) else str(err)).strip().splitlines()
            why = f"Chromium failed ({type(exc).__name__}{': ' + lines[-1] if lines else ''})"
        else:
            why = str(exc)
        report.not_written.append(
            f"report.pdf was not written: {why}; open report.html in a browser and print it (A4 landscape is preset)."
        )
