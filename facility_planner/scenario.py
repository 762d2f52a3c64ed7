"""Scenario files: what to plan, where, against which targets. YAML, validated with strict types.

YAML 1.1 turns ``no``, ``off``, ``yes`` and ``on`` into booleans (a district called "No" would become ``False``).
facility_planner reads YAML with only ``true``/``false`` as booleans, and every field has a strict type, so such a
value is reported rather than silently changed. All problems are reported at once, each with file, key and fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticError

from ._errors import ScenarioError


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class DemandSpec(_Strict):
    cell_size_m: float = Field(500.0, gt=49, description="Cell size in metres (250 works citywide).")
    shape: Literal["square", "hex"] = "square"
    older_share: float | None = Field(None, ge=0, le=1, description="60+ share; the 2020 city share when empty.")
    older_share_by_district: dict[str, float] = Field(default_factory=dict)


class TravelSpec(_Strict):
    mode: Literal["straight_line", "network"] = "straight_line"
    time_limit_min: float = Field(15.0, gt=0)
    speed_kmh: float = Field(4.0, gt=0)
    detour_factor: float = Field(1.2, ge=1, le=3)
    network_file: str | None = None
    max_snap_m: float = Field(300.0, gt=0)

    @model_validator(mode="after")
    def _network_needs_file(self):
        if self.mode == "network" and not self.network_file:
            raise ValueError("travel.mode is 'network' but travel.network_file is empty; give a street file")
        return self


class SolverSpec(_Strict):
    name: str = "highs"
    time_limit_s: float = Field(60.0, gt=0)
    mip_rel_gap: float = Field(0.005, ge=0, lt=1)


class ExistingSpec(_Strict):
    file: str | None = Field(None, description="CSV with lon/lat, or a vector file of existing facilities.")
    coord_system: Literal["wgs84", "gcj02"] = "wgs84"
    id_column: str | None = None


class StationsSpec(_Strict):
    enabled: bool = True
    mode: Literal["max_cover", "min_sites"] = "max_cover"
    stations: int = Field(1200, ge=0, description="Stations in total (existing included) for max_cover.")
    coverage_target: float = Field(0.8, gt=0, le=1, description="Older-population share for min_sites.")
    quota: Literal["township_older_population", "older_population", "table", "citywide"] = "township_older_population"
    quota_table: dict[str, int] = Field(default_factory=dict)
    existing: ExistingSpec = ExistingSpec()


class CareCentresSpec(_Strict):
    enabled: bool = True
    per_township: int = Field(1, ge=1, le=1, description="Centres per unit; the plan asks for 1 (only 1 is supported).")
    existing: ExistingSpec = ExistingSpec()


class PsychSpec(_Strict):
    enabled: bool = True
    mode: Literal["min_points", "max_cover"] = "min_points"
    share: float = Field(0.8, gt=0, le=1)
    max_new: int = Field(500, ge=0)
    time_limit_min: float | None = Field(
        None, gt=0, description="Service distance in walking minutes; travel's when empty."
    )
    existing: ExistingSpec = ExistingSpec()


class CemeteriesSpec(_Strict):
    enabled: bool = True
    min_distance_from_dense_m: float = Field(1000.0, ge=0)
    dense_density_per_km2: float = Field(5000.0, gt=0)
    target_share: float = Field(0.8, gt=0, le=1)
    existing: ExistingSpec = ExistingSpec()


class FamiliesSpec(_Strict):
    eldercare_stations: StationsSpec = StationsSpec()
    care_centres: CareCentresSpec = CareCentresSpec()
    psych_points: PsychSpec = PsychSpec()
    cemeteries: CemeteriesSpec = CemeteriesSpec()


class OutputsSpec(_Strict):
    maps: bool = True
    report: bool = True
    basemap: Literal["none", "osm", "gaode", "tianditu"] = "none"


class Scenario(_Strict):
    """A whole scenario. Load with :func:`load_scenario`; every field has a default except ``name``."""

    name: str = Field(min_length=1)
    description: str = ""
    area: Literal["beijing"] = "beijing"
    district: str | None = None
    demand: DemandSpec = DemandSpec()
    travel: TravelSpec = TravelSpec()
    solver: SolverSpec = SolverSpec()
    families: FamiliesSpec = FamiliesSpec()
    outputs: OutputsSpec = OutputsSpec()
    base_dir: str = Field(".", description="Folder relative paths are resolved against (the scenario's own folder).")

    def resolve(self, path: str | None) -> Path | None:
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


def scenario_from_dict(data: dict, *, source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as a dict; raise one ScenarioError listing every problem."""
    if not isinstance(data, dict):
        raise ScenarioError(source, ["the file must hold a mapping of keys (name:, families:, …) at the top level."])
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


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file.

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
