"""A written plan folder read back (``maps``, ``compare``, the report) and its maps redrawn, without surprises.

:func:`read_plan_folder` checks what it reads: plan.gpkg must open and hold the layers the maps draw, summary.json
must be UTF-8 JSON with the keys the report and the comparison use. A damaged or incomplete folder is one
:class:`~facility_planner._errors.ValidationError` naming each bad file and saying to run the scenario again.

:func:`redraw_maps` rewrites a plan's maps through :class:`~facility_planner._output.OutputDir` (``mode="update"``):
offline maps go to ``maps/`` (with ``report.html``), maps on a web base map to ``maps_<basemap>/``, so drawing the
Gaode version never replaces the offline maps handed over; an existing folder is replaced only with ``force``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from ._errors import ValidationError
from ._output import OutputDir, OutputReport

#: layers every plan.gpkg holds and the maps draw
REQUIRED_LAYERS = ("districts", "townships", "demand_cells")
#: layers whose ``covered*`` columns are numbers (people, shares), never flags
NUMERIC_LAYERS = ("unit_tables",)
#: summary.json: top-level key → accepted types
SUMMARY_KEYS: dict[str, tuple[type, ...]] = {
    "scenario": (str,),
    "area": (str,),
    "travel_mode": (str,),
    "population": (int,),
    "population_60_plus": (int,),
    "families": (dict,),
}
#: each family of summary.json: key → accepted types (None allowed where a value can be missing)
FAMILY_KEYS: dict[str, tuple[type, ...]] = {
    "name_zh": (str,),
    "name_en": (str,),
    "unit": (str,),
    "target": (int, float, type(None)),
    "achieved": (int, float, type(None)),
    "met": (bool, type(None)),
    "sites_new": (int,),
    "sites_existing": (int,),
    "gap": (int, float, type(None)),
    "districts": (list,),
}
_RERUN = "run the scenario again (`facility-planner run SCENARIO --out FOLDER`) to write a complete plan"


def _type_ok(value, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, types)


def check_summary(summary: object, source: str) -> list[str]:
    """Problems of a plan summary (as read from summary.json); empty when it can be drawn and reported."""
    if not isinstance(summary, dict):
        return [f"{source}: the file must hold a JSON object (a plan summary), not {type(summary).__name__}; {_RERUN}."]
    problems = []
    for key, types in SUMMARY_KEYS.items():
        if key not in summary:
            problems.append(f"{source}: key `{key}` is missing; {_RERUN}.")
        elif not _type_ok(summary[key], types):
            problems.append(f"{source}: `{key}` has the wrong type ({summary[key]!r}); {_RERUN}.")
    fams = summary.get("families")
    if isinstance(fams, dict):
        for name, fam in fams.items():
            if not isinstance(fam, dict):
                problems.append(f"{source}: family `{name}` is not an object; {_RERUN}.")
                continue
            for key, types in FAMILY_KEYS.items():
                if key not in fam:
                    problems.append(f"{source}: `families.{name}.{key}` is missing; {_RERUN}.")
                elif not _type_ok(fam[key], types):
                    problems.append(f"{source}: `families.{name}.{key}` has the wrong type ({fam[key]!r}); {_RERUN}.")
            if isinstance(fam.get("districts"), list) and not all(isinstance(d, dict) for d in fam["districts"]):
                problems.append(f"{source}: `families.{name}.districts` must be a list of objects; {_RERUN}.")
    return problems


def read_plan_folder(plan_dir: str | Path, *, is_bool: Callable[[str], bool] = lambda col: False) -> tuple[dict, dict]:
    """The layers of plan.gpkg (name → GeoDataFrame/DataFrame) and the summary.json of a plan folder, checked.

    Columns for which ``is_bool(name)`` is true are read back as booleans (GeoPackage stores them as integers).

    Raises
    ------
    ValidationError
        Every problem of the folder at once: not a folder, a missing file, a file that does not open, a missing
        layer or summary key; each line names the file.
    """
    import geopandas as gpd
    import pyogrio

    d = Path(plan_dir)
    what = f"plan folder {d}"
    if "\x00" in str(d):
        raise ValidationError(what, ["the path contains a NUL character; give the folder's real name."])
    if not d.exists():
        raise ValidationError(
            what, [f"{d} does not exist, so it holds no plan; give a folder written by `facility-planner run`."]
        )
    if not d.is_dir():
        raise ValidationError(what, [f"{d} is a file; give the folder `facility-planner run --out` wrote."])
    gpkg, sj = d / "plan.gpkg", d / "summary.json"
    if not gpkg.exists() and not sj.exists():
        raise ValidationError(what, [f"{d} holds no plan (plan.gpkg and summary.json); {_RERUN}."])
    problems: list[str] = []
    layers: dict = {}
    if not gpkg.is_file():
        problems.append(f"{gpkg} is missing; {_RERUN}.")
    else:
        try:
            names = [str(n) for n, _ in pyogrio.list_layers(gpkg)]
            missing = [n for n in REQUIRED_LAYERS if n not in names]
            if missing:
                problems.append(f"{gpkg} lacks the layer(s) {', '.join(missing)}: it is incomplete; {_RERUN}.")
            else:
                for name in names:
                    g = gpd.read_file(gpkg, layer=name)
                    for col in g.columns if name not in NUMERIC_LAYERS else ():
                        if is_bool(str(col)):
                            g[col] = g[col].astype(bool)
                    layers[name] = g
        except Exception as exc:  # any failure to read our own file means it is damaged
            msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            problems.append(f"{gpkg} cannot be read as a GeoPackage ({msg}); it is damaged; {_RERUN}.")
    summary = None
    if not sj.is_file():
        problems.append(f"{sj} is missing; {_RERUN}.")
    else:
        try:
            summary = json.loads(sj.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as exc:
            problems.append(f"{sj} is not UTF-8 text (byte {exc.start}): it is damaged; {_RERUN}.")
        except (ValueError, RecursionError) as exc:
            problems.append(f"{sj} is not valid JSON ({str(exc)[:120]}): it is damaged; {_RERUN}.")
        except OSError as exc:
            problems.append(f"{sj} cannot be read ({exc.strerror}); check its permissions.")
        else:
            problems += check_summary(summary, str(sj))
    if problems:
        raise ValidationError(what, problems)
    return layers, summary  # type: ignore[return-value]


def maps_folder(basemap: str) -> str:
    """Where maps on ``basemap`` go in a plan folder: ``maps`` (offline) or ``maps_<basemap>``."""
    return "maps" if basemap == "none" else f"maps_{basemap}"


def redraw_maps(plan_dir: str | Path, *, basemap: str = "none", force: bool = False, lang: str = "zh") -> OutputReport:
    """Redraw the maps of a written plan; offline maps also rewrite ``report.html``.

    Offline maps (``basemap="none"``) replace ``maps/`` and ``report.html``; maps on a web base map go to
    ``maps_<basemap>/`` and leave the offline maps and the report as they are. Existing files are replaced only with
    ``force``; the folder's manifest.json records the new files.

    Returns
    -------
    OutputReport
        What was written and replaced.

    Raises
    ------
    OutputExistsError
        The maps folder exists and ``force`` is False.
    ValidationError
        ``basemap`` is unknown, or the plan folder is damaged (see :func:`read_plan_folder`).
    """
    from .maps import BASEMAPS, read_plan_layers, write_maps
    from .report import write_report

    if basemap not in BASEMAPS:
        raise ValidationError("--basemap", [f"basemap must be one of {', '.join(BASEMAPS)}; got {basemap!r}."])
    folder = maps_folder(basemap)
    expect = [folder, "report.html"] if basemap == "none" else [folder]
    out = OutputDir(plan_dir, force=force, mode="update", expect=expect)
    layers, summary = read_plan_layers(plan_dir)
    out.check()  # before drawing: refuse an existing maps folder without --force
    with out as stage:
        write_maps(layers, stage.path / folder, summary=summary, basemap=basemap)
        if basemap == "none":
            write_report(None, stage.path, summary=summary, layers=layers, lang=lang)
    if basemap == "none" and (Path(plan_dir) / "report.pdf").exists():
        stage.report.not_written.append(
            "report.pdf was not printed again and is the earlier report's: print report.html again (A4 landscape is "
            "preset), or run the plan again with --pdf."
        )
    return stage.report
