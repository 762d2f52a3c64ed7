"""Scenario files: what to plan, where, against which targets. YAML, validated with strict types.

YAML 1.1 turns ``no``, ``off``, ``yes`` and ``on`` into booleans (a district called "No" would become ``False``).
facility_planner reads YAML with only ``true``/``false`` as booleans, and every field has a strict type, so such a
value is reported rather than silently changed. All problems are reported at once, each with file, key and fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, overload

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticError

from ._errors import ScenarioError


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class DemandSpec(_Strict):
    """The ``demand:`` block: cell size and shape, and the share of people aged 60+."""

    cell_size_m: float = Field(500.0, gt=49, description="Cell size in metres (250 works citywide).")
    shape: Literal["square", "hex"] = "square"
    older_share: float | None = Field(None, ge=0, le=1, description="60+ share; the 2020 city share when empty.")
    older_share_by_district: dict[str, float] = Field(default_factory=dict)
    older_share_table: str | None = Field(None, description="CSV/xlsx `district,older_share` (code or name).")
    population_raster: str | None = Field(
        None, description="A population GeoTIFF (e.g. WorldPop 100 m) that spreads each township's people."
    )


#: how people travel: walking (straight line × detour at walking speed), driving (the same at a driving speed and
#: detour) or on a street network (its lengths at the family's speed)
TravelMode = Literal["walk", "drive", "network", "straight_line"]


class TravelSpec(_Strict):
    """The scenario's travel: the defaults every family starts from."""

    mode: TravelMode = "walk"
    time_limit_min: float = Field(15.0, gt=0)
    speed_kmh: float = Field(4.0, gt=0, description="Walking speed (older residents: 4 km/h).")
    detour_factor: float = Field(1.2, ge=1, le=3, description="Street ÷ straight-line distance when walking.")
    drive_speed_kmh: float = Field(30.0, gt=0, description="Mean door-to-door driving speed.")
    drive_detour_factor: float = Field(1.4, ge=1, le=3, description="Road ÷ straight-line distance when driving.")
    network_file: str | None = None
    max_snap_m: float = Field(300.0, gt=0)

    @model_validator(mode="after")
    def _network_needs_file(self):
        if self.mode == "network" and not self.network_file:
            raise ValueError("travel.mode is 'network' but travel.network_file is empty; give a street file")
        return self


class FamilyTravelSpec(_Strict):
    """A family's travel; every omitted key comes from the scenario's ``travel``."""

    mode: TravelMode | None = None
    time_limit_min: float | None = Field(None, gt=0)
    speed_kmh: float | None = Field(None, gt=0)
    detour_factor: float | None = Field(None, ge=1, le=3)
    network_file: str | None = None


class SolverSpec(_Strict):
    """The ``solver:`` block: solver name, time limit per model, relative optimality gap, and early stopping."""

    name: str = "highs"
    time_limit_s: float = Field(60.0, gt=0)
    mip_rel_gap: float = Field(0.005, ge=0, lt=1)
    stop_when_stalled: bool = Field(
        True,
        description="Stop a maximal-covering branch-and-bound before its time limit when neither its plan nor its "
        "bound is on its way to `mip_rel_gap` (the plan says so); false runs every model to its limit.",
    )


class PointsFileSpec(_Strict):
    """A file of points (CSV with lon/lat columns, xlsx, or any vector file) with its coordinate system."""

    file: str | None = Field(None, description="CSV/xlsx with lon,lat (or 经度,纬度) columns, or a vector file.")
    coord_system: Literal["wgs84", "gcj02", "bd09"] | None = Field(
        None, description="Say gcj02 for Gaode/Amap exports, bd09 for Baidu; untagged files are checked for a shift."
    )
    id_column: str | None = None
    name_column: str | None = None
    lon_column: str | None = None
    lat_column: str | None = None
    sheet: str | None = Field(None, description="The xlsx sheet (the first by default).")
    encoding: str | None = Field(None, description="CSV encoding; UTF-8, UTF-8 with BOM, GBK/GB18030 are detected.")


#: kept for scenario files and notebooks written before families were data
ExistingSpec = PointsFileSpec


class CandidatesSpec(_Strict):
    """Where a family's new sites may go."""

    source: Literal["populated_cells", "cells", "file", "existing_only"] = "populated_cells"
    file: PointsFileSpec = PointsFileSpec()
    spacing_m: float | None = Field(
        None, gt=0, description="Thin the candidates to one per square of this size (large units, driving families)."
    )


class HousingDistanceSpec(_Strict):
    """``exclude.away_from_housing``: keep sites this far from cells with dense housing."""

    distance_m: float = Field(1000.0, ge=0, description="No populated cell this dense within this distance.")
    density_per_km2: float = Field(5000.0, gt=0, description="People per km² that count as dense housing.")
    max_people: float | None = Field(
        None, ge=0, description="Also avoid sites with more people than this living within `distance_m`."
    )


class ExcludeSpec(_Strict):
    """Exclusion zones: candidates inside (or near) them are never chosen, and the plan says why."""

    file: str | None = Field(None, description="A polygon file (any vector format, WGS-84) of areas to avoid.")
    distance_m: float = Field(0.0, ge=0, description="Also avoid this distance around the polygons of `file`.")
    away_from_housing: HousingDistanceSpec | None = None
    max_cell_pop: float | None = Field(
        None, ge=0, description="Avoid cells where more people than this live (the site's own cell)."
    )
    not_with: list[str] = Field(
        default_factory=list, description="Families whose chosen cells this family must not share (planned first)."
    )


class EquitySpec(_Strict):
    """How the family's sites are shared out among districts or townships."""

    rule: Literal["none", "quota", "min_share"] = "none"
    level: Literal["district", "township"] = "district"
    min_share: float | None = Field(None, gt=0, le=1, description="Minimum covered share in every unit (min_share).")


UnitLevel = Literal["township", "rural_township", "district"]
TownshipKind = Literal["subdistrict", "town", "township", "area_office"]


class WithinSpec(_Strict):
    """Restrict a family's demand and sites to part of the scenario's area."""

    districts: list[str] = Field(default_factory=list, description="Only these districts (name or code).")
    township_kinds: list[TownshipKind] = Field(
        default_factory=list, description="Only townships of these kinds (e.g. town, township for rural families)."
    )


class FamilySpec(_Strict):
    """One facility family: what is served, how people travel, where sites may go, which model, what target."""

    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    enabled: bool = True
    serves: Literal["pop", "pop_60", "communities", "urban_communities", "villages", "townships"] = "pop_60"
    demand_level: Literal["cell", "township"] = Field(
        "cell", description="cell: every populated cell; township: people gathered at each township's centre."
    )
    weight: Literal["count", "pop", "pop_60"] = Field(
        "count", description="Communities/villages/townships: each counts 1, or by the people (60+) of its cell."
    )
    within: WithinSpec = WithinSpec()
    travel: FamilyTravelSpec = FamilyTravelSpec()
    model: str = Field(min_length=1, description="A model kind: max_cover, min_cover, per_unit, p_median, ...")
    # the target
    count: int | None = Field(None, ge=0, description="Sites (or beds to allocate) in the scenario's whole area.")
    share: float | None = Field(None, gt=0, le=1, description="A share of the demand (min_cover) or of units.")
    per_unit: int | None = Field(None, ge=1, description="Sites in every unit (per_unit, capacitated).")
    unit: UnitLevel = "township"
    unit_kinds: list[TownshipKind] = Field(
        default_factory=lambda: list[TownshipKind](["town", "township"]),
        description="Township kinds that make a rural township.",
    )
    by_district: dict[str, int] = Field(default_factory=dict, description="A count's parts for named districts.")
    beds: int | None = Field(None, ge=0, description="Beds in the scenario's whole area, split by demand.")
    beds_per_unit: int | None = Field(None, ge=0, description="Beds in every unit (district).")
    beds_by_district: dict[str, int] = Field(default_factory=dict, description="Beds for named districts.")
    max_new: int | None = Field(None, ge=0, description="At most this many new sites (stated in the KPI).")
    capacity: float | None = Field(None, gt=0, description="Demand one site can serve (capacitated coverage).")
    equity: EquitySpec = EquitySpec()
    # sites
    candidates: CandidatesSpec = CandidatesSpec()
    existing: PointsFileSpec = PointsFileSpec()
    locked: PointsFileSpec = PointsFileSpec()
    forbidden: list[str] = Field(default_factory=list, description="Candidate site ids that must stay closed.")
    exclude: ExcludeSpec = ExcludeSpec()
    color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$", description="Map colour, e.g. '#d62728'.")

    @model_validator(mode="after")
    def _target_fits_model(self):
        from .kinds import check_spec

        problems = check_spec(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class OutputsSpec(_Strict):
    """The ``outputs:`` block: which maps and report to write, and the basemap."""

    maps: bool = True
    report: bool = True
    basemap: Literal["none", "osm", "gaode", "tianditu"] = "none"


class Scenario(_Strict):
    """A whole scenario. Load with :func:`load_scenario`; every field has a default except ``name``.

    ``families`` maps a family key (any identifier) to its :class:`FamilySpec`; the order of the file is the order of
    the plan (a family that must avoid another's cells is planned after it).

    Parameters
    ----------
    name, description
        What the scenario is called and what it is for.
    area, district
        The area (``"beijing"``) and optionally one district whose part of the targets is planned.
    demand, travel, solver, outputs
        The ``demand:``, ``travel:``, ``solver:`` and ``outputs:`` blocks.
    families
        Family key → :class:`FamilySpec`, planned in this order.
    plan_only
        Plan only these family keys (empty: every enabled family).
    base_dir
        The folder relative paths are resolved against (the scenario file's own folder).
    """

    name: str = Field(min_length=1)
    description: str = ""
    area: Literal["beijing"] = "beijing"
    district: str | None = Field(
        None, description="Plan this district's part of the area's targets (a count is always the whole area's)."
    )
    demand: DemandSpec = DemandSpec()
    travel: TravelSpec = TravelSpec()
    solver: SolverSpec = SolverSpec()
    families: dict[str, FamilySpec] = Field(default_factory=dict)
    plan_only: list[str] = Field(
        default_factory=list, description="Plan only these families (keys); empty: every enabled family."
    )
    outputs: OutputsSpec = OutputsSpec()
    base_dir: str = Field(".", description="Folder relative paths are resolved against (the scenario's own folder).")

    @model_validator(mode="after")
    def _family_keys(self):
        problems = []
        for key, fam in self.families.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", key):
                problems.append(
                    f"family key {key!r} must be lower-case letters, digits and _ (it names files and layers)"
                )
            for other in fam.exclude.not_with:
                if other not in self.families:
                    problems.append(f"families.{key}.exclude.not_with names {other!r}, which is not a family here")
                elif list(self.families).index(other) > list(self.families).index(key):
                    problems.append(f"families.{key}.exclude.not_with: list {other!r} before {key!r} in the file")
        for key in self.plan_only:
            if key not in self.families:
                problems.append(f"plan_only names {key!r}, which is not a family here ({', '.join(self.families)})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def enabled_families(self) -> dict[str, FamilySpec]:
        """The families to plan, in the file's order."""
        return {k: f for k, f in self.families.items() if f.enabled and (not self.plan_only or k in self.plan_only)}

    def family_travel(self, key: str) -> TravelSpec:
        """The travel of one family: its own keys over the scenario's ``travel``."""
        ft = self.families[key].travel
        base = self.travel
        mode = ft.mode or base.mode
        if mode == "straight_line":
            mode = "walk"
        drive = mode == "drive"
        return TravelSpec.model_construct(
            mode=mode,
            time_limit_min=ft.time_limit_min or base.time_limit_min,
            speed_kmh=ft.speed_kmh or (base.drive_speed_kmh if drive else base.speed_kmh),
            detour_factor=ft.detour_factor or (base.drive_detour_factor if drive else base.detour_factor),
            drive_speed_kmh=base.drive_speed_kmh,
            drive_detour_factor=base.drive_detour_factor,
            network_file=ft.network_file or base.network_file,
            max_snap_m=base.max_snap_m,
        )

    @overload
    def resolve(self, path: str) -> Path: ...
    @overload
    def resolve(self, path: None) -> None: ...
    def resolve(self, path: str | None) -> Path | None:
        """``path`` relative to the scenario file's folder (absolute paths unchanged, None stays None)."""
        if path is None:
            return None
        p = Path(path)
        return p if p.is_absolute() else Path(self.base_dir) / p


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only true/false, so `no`, `on`, `off`, `yes` stay strings."""


_Yaml12Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

_FIX = {
    "bool_type": "write true or false",
    "int_type": "write a whole number (e.g. 1200)",
    "float_type": "write a plain number (e.g. 500, or 0.8 for a share)",
    "string_type": "write text (quote it if it looks like a number or yes/no)",
    "extra_forbidden": "remove it or check its spelling",
    "literal_error": "use one of the allowed values",
    "missing": "add it",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than": "use a smaller value",
    "less_than_equal": "use a smaller value",
    "dict_type": "write a mapping (key: value lines)",
    "model_type": "write a mapping (key: value lines)",
}


def _short_repr(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scenario_from_dict(data: object, *, source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as a dict; raise one ScenarioError listing every problem.

    Parameters
    ----------
    data
        The scenario as a mapping (what the YAML file holds).
    source
        Where it came from, for the messages (a file name).

    Returns
    -------
    Scenario
        The validated scenario (``extends:`` resolved).
    """
    if not isinstance(data, dict):
        raise ScenarioError(source, ["the file must hold a mapping of keys (name:, families:, …) at the top level."])
    data = _with_base(data, source=source, seen=())
    try:
        return Scenario.model_validate(data)
    except PydanticError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(x) for x in err["loc"]) or "(top level)"
            got = err.get("input")
            fix = _FIX.get(err["type"], "")
            msg = err["msg"].removeprefix("Value error, ")
            got_s = "" if isinstance(got, dict) or err["type"] in ("missing",) else f" (got {_short_repr(got)})"
            problems.append(f"{source}: `{key}`: {msg}{got_s}" + (f"; {fix}." if fix else "."))
        raise ScenarioError(source, problems) from None


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _with_base(data: dict, *, source: str, seen: tuple[str, ...]) -> dict:
    """Resolve ``extends: other.yaml``: the other scenario's keys, with this file's keys over them (mappings merged).

    A district study or a what-if then says only what differs from the plan it starts from, e.g.
    ``extends: beijing_2025.yaml`` and ``families: {cemeteries: {enabled: false}}``.
    """
    if "extends" not in data:
        return data
    ext = data["extends"]
    rest = {k: v for k, v in data.items() if k != "extends"}
    if not isinstance(ext, str) or not ext:
        raise ScenarioError(source, [f"{source}: `extends`: write the path of a scenario file (got {ext!r})."])
    base_dir = Path(str(data.get("base_dir", ".")))
    path = Path(ext) if Path(ext).is_absolute() else base_dir / ext
    key = str(path.resolve())
    if key in seen or len(seen) >= 8:
        raise ScenarioError(
            source, [f"{source}: `extends`: {ext} extends itself (directly or in a chain); break the loop."]
        )
    base = read_yaml(path)
    if not isinstance(base, dict):
        raise ScenarioError(str(path), [f"{path}: the file must hold a mapping of keys at the top level."])
    base = _with_base({**base, "base_dir": str(path.resolve().parent)}, source=str(path), seen=(*seen, key))
    base = _absolute_files(base, Path(base.pop("base_dir")))  # the base's files stay relative to the base file
    return _deep_merge(base, rest)


def _absolute_files(d, base_dir: Path):
    """Paths under keys ``file`` / ``network_file`` made absolute against ``base_dir``."""
    if isinstance(d, dict):
        return {
            k: (
                str(base_dir / v)
                if k in ("file", "network_file", "older_share_table", "population_raster")
                and isinstance(v, str)
                and v
                and not Path(v).is_absolute()
                else _absolute_files(v, base_dir)
            )
            for k, v in d.items()
        }
    return d


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file.

    Parameters
    ----------
    path
        The scenario YAML file; relative paths inside it are resolved against its folder.

    Returns
    -------
    Scenario
        The validated scenario.

    Raises
    ------
    ScenarioError
        Lists every problem at once with the file, the key and how to fix it.
    """
    from ._yaml import read_yaml_file_checked

    p = Path(path)
    data, problems = read_yaml_file_checked(p)  # values YAML misreads (`020`, `1:30`, a key twice) come back here
    if isinstance(data, dict) and "base_dir" not in data:
        data = {**data, "base_dir": str(p.resolve().parent)}
    try:
        scn = scenario_from_dict(data, source=str(p))
    except ScenarioError as exc:
        problems = [*problems, *exc.problems]
    if problems:
        raise ScenarioError(str(p), problems)
    return scn


def read_yaml(path: str | Path):
    """Parse a scenario YAML file with YAML 1.2 booleans (`no`, `on`, `off` stay strings), safely.

    A folder, a binary or non-UTF-8 file, a huge file, nesting deeper than 32 levels, aliases that expand beyond
    100,000 values, numbers YAML 1.1 misreads (``020`` octal, ``1:30`` base 60) and keys given twice are each a
    :class:`ScenarioError` with the fix (see :mod:`facility_planner._yaml`).
    """
    from ._yaml import read_yaml_file

    return read_yaml_file(path)
