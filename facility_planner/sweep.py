"""What-if sweeps: a grid of scenario variants run as Dask tasks, one results table, chart and page.

``--set travel.speed_kmh=3,4,5 --set families.eldercare_stations.count=1000,1200`` makes 3 × 2 = 6 runs. Each
override is a dotted path into the scenario file as written (so the mechanism knows nothing of the schema); values
are read with YAML 1.2 rules (``3`` → 3, ``0.8`` → 0.8, ``true`` → True, ``no`` stays the text "no"). Every resulting
scenario is validated before anything runs, and all problems are reported at once.

Each run's scenario is written to ``DIR/runs/<run-id>/scenario.yaml`` (``base_dir`` and ``extends`` absolute, so
it runs on its own: ``facility-planner run DIR/runs/run-3/scenario.yaml --out …``), with the run's ``summary.json`` beside it.
The runs go to a ``dask.distributed`` cluster: a ``LocalCluster`` (processes, one thread each) unless the address
of an existing scheduler is given. Workers of an existing cluster need facility_planner installed and the files a
scenario names (``base_dir``) at the same paths.
"""

from __future__ import annotations

import contextlib
import copy
import html
import itertools
import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ._errors import FacilityPlannerError, ScenarioError, ValidationError
from ._output import OutputDir, check_output_dir

_KEY = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_0-9][\w-]*)*$")
#: family metrics charted, first found wins (a share reads across runs; a count of sites may be the target itself)
_CHART_METRICS = ("older_covered_share", "covered_share", "population_covered_share", "achieved")


def parse_value(text: str) -> Any:
    """One value with YAML 1.2 rules (only true/false are booleans; numbers stay numbers; the rest is text)."""
    from .scenario import _Yaml12Loader

    try:
        return yaml.load(text, Loader=_Yaml12Loader)
    except yaml.YAMLError as exc:
        raise ValidationError("--set", [f"cannot read the value {text!r}: {exc}"]) from None


def parse_set(text: str) -> tuple[str, list]:
    """``"travel.speed_kmh=3,4,5"`` → ``("travel.speed_kmh", [3, 4, 5])``.

    Values are separated by commas; write a YAML list (``key=[a, "b,c"]``) when a value holds a comma.
    """
    key, sep, rest = text.partition("=")
    key = key.strip()
    problems = []
    if not sep:
        problems.append(f"`{text}` has no `=`; write KEY=VALUE[,VALUE…], e.g. travel.speed_kmh=3,4,5.")
    elif not _KEY.match(key):
        problems.append(f"`{key}` is not a dotted key; write e.g. travel.speed_kmh or families.psych_points.share.")
    if problems:
        raise ValidationError("--set", problems)
    rest = rest.strip()
    if rest.startswith("["):
        values = parse_value(rest)
        if not isinstance(values, list):
            raise ValidationError("--set", [f"`{text}`: expected a list of values after `=`."])
    else:
        values = [parse_value(v.strip()) for v in rest.split(",")]
    if not values or any(v is None for v in values):
        raise ValidationError("--set", [f"`{text}`: give one or more values after `=`, separated by commas."])
    return key, values


def set_path(data: dict, key: str, value: Any) -> dict:
    """A deep copy of ``data`` with the dotted ``key`` set to ``value`` (missing mappings are created)."""
    out = copy.deepcopy(data)
    parts = key.split(".")
    node = out
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        elif not isinstance(nxt, dict):
            where = ".".join(parts[: i + 1])
            raise ValidationError("--set", [f"`{key}`: `{where}` is {nxt!r} in the scenario, not a mapping of keys."])
        node = nxt
    node[parts[-1]] = value
    return out


def _schema_hint(key: str) -> str | None:
    """For a dotted key unknown to the scenario schema, which keys exist where it goes wrong (None if it is known
    or the schema cannot tell, e.g. under a free-form mapping).
    """
    from pydantic import BaseModel

    from .scenario import Scenario

    model: type[BaseModel] = Scenario
    parts = key.split(".")
    for i, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            where = ".".join(parts[:i]) or "the top level"
            return f"`{key}`: no key `{part}` at {where}; known keys there: {', '.join(sorted(fields))}."
        ann = fields[part].annotation
        if i < len(parts) - 1:
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                model = ann
            else:
                return None
    return None


@dataclass
class SweepRun:
    """One run of a sweep: its id, the overridden values and the full scenario (a validated dict)."""

    run_id: str
    params: dict[str, Any]
    scenario: dict


def plan_runs(
    scenario: str | Path,
    overrides: Sequence[str] | dict[str, list],
    *,
    district: str | None = None,
) -> list[SweepRun]:
    """The grid of runs (every combination of the overrides), each validated; all problems in one error.

    Parameters
    ----------
    scenario
        The base scenario file.
    overrides
        ``["travel.speed_kmh=3,4,5", ...]`` or ``{"travel.speed_kmh": [3, 4, 5], ...}``.
    district
        Plan one district in every run (sets the scenario's ``district``).
    """
    from .scenario import read_yaml, scenario_from_dict

    path = Path(scenario)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ScenarioError(str(path), ["the file must hold a mapping of keys (name:, families:, …) at the top level."])
    if isinstance(overrides, dict):
        grid = {k: list(v) for k, v in overrides.items()}
    else:
        grid = {}
        for text in overrides:
            k, v = parse_set(text)
            if k in grid:
                raise ValidationError("--set", [f"`{k}` is given twice; give all its values in one --set."])
            grid[k] = v
    if not grid:
        raise ValidationError("--set", ["no override given; e.g. --set travel.speed_kmh=3,4,5."])
    base_dir = Path(raw.get("base_dir") or ".")
    raw = {**raw, "base_dir": str(base_dir if base_dir.is_absolute() else (path.resolve().parent / base_dir).resolve())}
    ext = raw.get("extends")
    if isinstance(ext, str) and not Path(ext).is_absolute():
        # a scenario that extends another names it relative to its own folder; the run files live elsewhere
        raw["extends"] = str((path.resolve().parent / ext).resolve())
    if district is not None:
        raw["district"] = district
    problems: list[str] = []
    for k in grid:
        hint = _schema_hint(k)
        if hint:
            problems.append(f"--set {hint}")
    if problems:
        raise ScenarioError(f"{path} with --set", problems)
    keys = list(grid)
    combos = list(itertools.product(*(grid[k] for k in keys)))
    width = len(str(len(combos)))
    runs = []
    seen: list[str] = []
    for i, combo in enumerate(combos, 1):
        run_id = f"run-{i:0{width}d}"
        d = raw
        params = dict(zip(keys, combo, strict=True))
        try:
            for k, v in params.items():
                d = set_path(d, k, v)
            d["name"] = f"{raw.get('name', path.stem)}-{run_id}"
            scenario_from_dict(d, source=", ".join(f"{k}={v!r}" for k, v in params.items()))
        except ValidationError as exc:
            for p in exc.problems:
                if p not in seen:
                    seen.append(p)
            continue
        runs.append(SweepRun(run_id, params, d))
    if seen:
        raise ScenarioError(f"{path} with --set", seen)
    return runs


def run_one(scenario: dict, family_cache: str | None = None) -> dict:
    """Run one scenario (a validated dict) and return ``{"summary": plan.summary(), "seconds": …}``, or
    ``{"error": message}`` for a problem the scenario causes (e.g. an infeasible target). A Dask task.

    ``family_cache``: a folder the sweep's runs share, so a family no override touches is planned once
    (:func:`~facility_planner.pipeline.run_scenario`).
    """
    from . import settings
    from .pipeline import run_scenario
    from .scenario import scenario_from_dict

    settings.show_progress = False
    t0 = time.perf_counter()
    try:
        # one family at a time: the sweep runs one scenario per core already
        plan = run_scenario(scenario_from_dict(scenario), workers=1, family_cache=family_cache)
        summary = plan.summary()
    except FacilityPlannerError as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - t0}
    return {"summary": json.loads(json.dumps(summary, default=_json_default)), "seconds": time.perf_counter() - t0}


def _json_default(v):
    if hasattr(v, "item"):
        return v.item()
    return str(v)


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, *, workers: int = 2) -> Iterator:
    """A ``distributed.Client``: to ``scheduler`` (an address such as ``tcp://host:8786``) or to a new
    ``LocalCluster`` of ``workers`` processes with one thread each (its dashboard on a free port); closed on exit.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - distributed is a dependency
        raise FacilityPlannerError("dask.distributed is not installed; `pip install distributed`.") from exc
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise FacilityPlannerError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}); check the address, or leave out "
                "--scheduler to run on a local cluster."
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    if not (isinstance(workers, int) and workers >= 1):
        raise ValidationError("--workers", [f"`workers` must be a whole number ≥ 1; got {workers!r}."])
    # each worker's HiGHS gets its share of the cores (two workers × HiGHS's own two threads on two cores made
    # every run slower)
    solver_threads = max(1, (os.cpu_count() or 1) // workers)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            env={"FACILITY_PLANNER_SOLVER_THREADS": str(solver_threads)},
            # a free port: the default (None) still takes 8787 and warns "Port 8787 is already in use" when another
            # cluster or notebook has it
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def map_tasks(func: Callable, items: Iterable, *, client=None) -> list:
    """``[func(x) for x in items]``, as Dask tasks on ``client`` when one is given (results in input order).

    For independent sub-problems inside one run (districts, townships): without a client it runs here, in order.
    Inside a task of a sweep, pass ``distributed.get_client()``; the task leaves the worker's thread pool while it
    waits, so sub-tasks never wait for it. ``func`` must be picklable to run on a cluster.
    """
    items = list(items)
    if client is None:
        return [func(x) for x in items]
    from distributed import get_worker, rejoin, secede

    futures = client.map(func, items, pure=False)
    try:
        get_worker()
    except ValueError:  # not inside a task: wait here
        return client.gather(futures)
    # inside a task (e.g. one run of a sweep): give the worker's thread back while waiting, or the sub-tasks could
    # wait for the very thread that waits for them
    secede()
    try:
        return client.gather(futures)
    finally:
        rejoin()


@dataclass
class SweepResult:
    """The table of a sweep (one row per run) and where it was written."""

    table: pd.DataFrame
    runs: list[SweepRun]
    out_dir: Path | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def results_table(runs: Sequence[SweepRun], results: Sequence[dict]) -> pd.DataFrame:
    """One row per run: ``run_id``, the overridden values, ``status``, ``seconds``, then per family every scalar of
    its summary (``<family>.<key>``, e.g. ``eldercare_stations.covered_share``); extra keys are kept.
    """
    rows = []
    for run, res in zip(runs, results, strict=True):
        row: dict[str, Any] = {"run_id": run.run_id, **run.params}
        row["status"] = "error" if "error" in res else "ok"
        row["seconds"] = round(float(res.get("seconds", math.nan)), 1)
        row["error"] = res.get("error", "")
        fams = (res.get("summary") or {}).get("families") or {}
        for fam, f in fams.items():
            if not isinstance(f, dict):
                continue
            for k, v in f.items():
                if k in ("name_zh", "name_en") or not (v is None or isinstance(v, bool | int | float | str)):
                    continue
                if isinstance(v, float):
                    v = round(v, 4) if abs(v) < 10 else round(v, 1)
                row[f"{fam}.{k}"] = v
        rows.append(row)
    df = pd.DataFrame(rows)
    if "error" in df and not df["error"].astype(bool).any():
        df = df.drop(columns="error")
    return df


def _family_names(results: Sequence[dict]) -> dict[str, tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {}
    for res in results:
        for fam, f in ((res.get("summary") or {}).get("families") or {}).items():
            if isinstance(f, dict):
                names.setdefault(fam, (str(f.get("name_zh") or ""), str(f.get("name_en") or fam)))
    return names


def _metric(table: pd.DataFrame, fam: str) -> str | None:
    """The column charted for a family: its KPI when the KPI is a share (it reads across runs), else the first
    coverage share found, else the KPI.
    """

    def numeric(col: str) -> bool:
        return col in table and bool(pd.to_numeric(table[col], errors="coerce").notna().any())

    unit = " ".join(str(u) for u in table.get(f"{fam}.unit", pd.Series(dtype=object)).dropna().unique())
    if "share" in unit and numeric(f"{fam}.achieved"):
        return f"{fam}.achieved"
    for m in _CHART_METRICS:
        if numeric(f"{fam}.{m}"):
            return f"{fam}.{m}"
    return None


def _measure(table: pd.DataFrame, fam: str, col: str) -> tuple[bool, str]:
    """How a family's charted column reads: whether it is a share (shown in %), and its label (the family's unit for
    its KPI, else the column's name).
    """
    unit = " ".join(str(u) for u in table.get(f"{fam}.unit", pd.Series(dtype=object)).dropna().unique())
    metric = col.split(".", 1)[1]
    share = col.endswith("share") or (metric == "achieved" and "share" in unit)
    return share, unit if metric == "achieved" and unit else metric.replace("_", " ")


def _flat_value(table: pd.DataFrame, fam: str, col: str, value: float) -> str:
    """``value`` as the chart would have shown it: a share in %, else the number and the family's unit."""
    share, label = _measure(table, fam, col)
    if share:
        return f"{100 * value:.1f}%" + ("" if col.endswith(".achieved") else f" {label}")
    what = re.sub(r"\s*\(.*\)$", "", label)
    if value == 1 and what in ("sites", "beds"):
        what = what[:-1]
    return f"{value:,.{0 if float(value).is_integer() else 2}f} {what}".rstrip()


def sweep_figure(table: pd.DataFrame, keys: list[str], names: dict[str, tuple[str, str]]):
    """One panel per family: its coverage share (or achieved value) against the first override, one line per
    combination of the others. Returns (figure, notes).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .curves import _label, chart_style, glyph_watch

    rc, font, notes = chart_style()
    fams = [(f, m) for f in names if (m := _metric(table, f)) is not None]
    ok = table[table["status"] == "ok"] if "status" in table else table
    # a family whose value is the same in every run gives a flat line: it is named with its value in a note instead
    # of a panel (a Haidian sweep of speed and station count: 11 of 14 panels were flat), unless nothing varies
    flat = {
        f: v.unique()
        for f, m in fams
        if (v := pd.to_numeric(ok[m], errors="coerce").round(9)).notna().all() and v.nunique() == 1
    }
    if flat and len(flat) < len(fams):
        notes.append(
            "the same in every run, so not charted: "
            + "; ".join(f"{names[f][1]}: {_flat_value(ok, f, m, flat[f][0])}" for f, m in fams if f in flat)
        )
        fams = [(f, m) for f, m in fams if f not in flat]
    x_key, others = keys[0], keys[1:]
    xs = list(dict.fromkeys(table[x_key]))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in xs)
    with plt.rc_context(rc), glyph_watch(notes):
        n = max(len(fams), 1)
        ncols = min(n, 2)
        nrows = math.ceil(n / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 3.8 * nrows), squeeze=False)
        for ax in axes.flat[len(fams) :]:
            ax.set_visible(False)
        for ax, (fam, col) in zip(axes.flat, fams, strict=False):
            share, ylabel = _measure(ok, fam, col)
            scale = 100 if share else 1
            groups = ok.groupby(others, sort=False) if others else [((), ok)]
            for gkey, g in groups:
                gkey = gkey if isinstance(gkey, tuple) else (gkey,)
                y = pd.to_numeric(g[col], errors="coerce")
                xv = g[x_key].to_numpy() if numeric else [xs.index(v) for v in g[x_key]]
                lab = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in zip(others, gkey, strict=True)) or None
                ax.plot(xv, scale * y, "o-", label=lab)
            target = pd.to_numeric(ok.get(f"{fam}.target", pd.Series(dtype=float)), errors="coerce").dropna().unique()
            if col.endswith(".achieved") and len(target) == 1:
                ax.axhline(scale * target[0], color="grey", ls="--", lw=0.8, label=_label("目标", "target", font))
            zh, en = names.get(fam, ("", fam))
            ax.set_title(_label(zh, en, font) if zh else en, fontsize=10)
            ax.set_xlabel(x_key)
            ax.set_ylabel(ylabel[:48] + (" (%)" if share else ""), fontsize=9)
            if not numeric:
                ax.set_xticks(range(len(xs)), [str(v) for v in xs])
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[1]:
                ax.legend(fontsize=7)
        fig.tight_layout()
    return fig, notes


def _html_page(
    title: str, table: pd.DataFrame, svg: str, notes: list[str], scenario: str, params: Sequence[str] = ()
) -> str:
    """The page: title, the chart inline, the main columns of the table (all of them are in sweep.csv)."""
    svg = re.sub(r"^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?", "", svg)
    keep = (".target", ".achieved", ".met", ".unit", ".gap", "covered_share", ".sites_new", ".sites_existing")
    cols = [c for c in table.columns if c != "error" and ("." not in c or c.endswith(keep) or c in params)]
    show = table[cols]
    body = show.to_html(index=False, escape=True, na_rep="", border=0, classes="sweep")
    err = ""
    if "error" in table and table["error"].astype(bool).any():
        items = "".join(
            f"<li><b>{html.escape(str(r.run_id))}</b>: <pre>{html.escape(str(r.error))}</pre></li>"
            for r in table.itertuples()
            if r.error
        )
        err = f"<h2>运行失败 / Runs that failed</h2><ul>{items}</ul>"
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 1.5em; color: #222; }}
table.sweep {{ border-collapse: collapse; font-size: 12px; }}
table.sweep th, table.sweep td {{ border: 1px solid #ccc; padding: 3px 6px; text-align: right; }}
table.sweep th {{ background: #f0f0f0; position: sticky; top: 0; }}
.chart svg {{ max-width: 100%; height: auto; }}
.wrap {{ overflow-x: auto; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>情景 / scenario: <code>{html.escape(scenario)}</code>. {len(table)} 次运行 / runs; 每次运行的情景文件在
<code>runs/&lt;run-id&gt;/scenario.yaml</code> (each run's scenario, runnable on its own). 主要列如下，全部列见 / main columns below, every column in
<a href="sweep.csv">sweep.csv</a>.</p>
<div class="chart">{svg}</div>
<h2>结果 / Results</h2>
<div class="wrap">{body}</div>
{err}
{"<h2>说明 / Notes</h2><ul>" + note_html + "</ul>" if notes else ""}
</body></html>
"""


def write_sweep(
    runs: Sequence[SweepRun],
    results: Sequence[dict],
    out_dir: str | Path,
    *,
    scenario_label: str = "",
    force: bool = False,
) -> SweepResult:
    """Write ``runs/<id>/scenario.yaml`` + ``summary.json``, ``sweep.csv``, ``sweep.svg``/``.png`` and
    ``sweep.html`` into ``out_dir`` (atomically: built in a temporary folder, moved into place when complete).
    """
    import matplotlib.pyplot as plt

    from .curves import save_figure
    from .io import write_csv_excel

    out = Path(out_dir)
    _check_out(out, force)
    table = results_table(runs, results)
    notes: list[str] = []
    # staged beside OUT and moved in when complete; --force replaces what a sweep wrote (manifest.json), nothing else
    with OutputDir(out, force=force) as stage:
        tmp = stage.path
        for run, res in zip(runs, results, strict=True):
            d = tmp / "runs" / run.run_id
            d.mkdir(parents=True)
            (d / "scenario.yaml").write_text(
                f"# sweep run {run.run_id}: {', '.join(f'{k}={v!r}' for k, v in run.params.items())}\n"
                + yaml.safe_dump(run.scenario, allow_unicode=True, sort_keys=False),
                encoding="utf-8",
            )
            (d / "summary.json").write_text(
                json.dumps(res.get("summary") or {"error": res.get("error")}, ensure_ascii=False, indent=2),
                encoding="utf-8",
            )
        write_csv_excel(table, tmp / "sweep.csv")
        keys = list(runs[0].params) if runs else []
        fig, notes = sweep_figure(table, keys, _family_names(results))
        try:
            notes += save_figure(fig, tmp / "sweep.svg", tmp / "sweep.png", dpi=130)
        finally:
            plt.close(fig)
        n_err = int((table["status"] == "error").sum()) if "status" in table else 0
        if n_err:
            notes.append(f"{n_err} of {len(table)} run(s) failed; their reasons are listed on the page")
        title = f"情景对比 / What-if sweep: {scenario_label}" if scenario_label else "情景对比 / What-if sweep"
        (tmp / "sweep.html").write_text(
            _html_page(title, table, (tmp / "sweep.svg").read_text(encoding="utf-8"), notes, scenario_label, keys),
            encoding="utf-8",
        )
    notes += stage.report.messages()
    return SweepResult(table, list(runs), out, notes)


def _text_leaves(d, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            if k != "name":
                out.update(_text_leaves(v, f"{prefix}{k}."))
    elif isinstance(d, str):
        out[prefix] = d
    return out


def _check_out(out: Path, force: bool) -> None:
    check_output_dir(out, force=force)  # a file, a read-only folder, or non-empty without --force: refused


def validate_runs(scenario: str | Path, runs: Sequence[SweepRun]) -> None:
    """Check every run's scenario as ``run`` would (files, districts, the family order), before any run starts.

    Each distinct set of text values is checked once (numbers cannot name a file). Raises :class:`ScenarioError`
    naming the base scenario and the run's values.
    """
    from .pipeline import validate_scenario

    # files and districts: validate_scenario once per distinct set of text values (numbers cannot name a file)
    with tempfile.TemporaryDirectory() as td:
        checked: set[str] = set()
        for run in runs:
            key = json.dumps(_text_leaves(run.scenario), sort_keys=True)
            if key in checked:
                continue
            checked.add(key)
            f = Path(td) / "scenario.yaml"
            f.write_text(yaml.safe_dump(run.scenario, allow_unicode=True, sort_keys=False), encoding="utf-8")
            try:
                validate_scenario(f)
            except ScenarioError as exc:
                what = ", ".join(f"{k}={v!r}" for k, v in run.params.items())
                raise ScenarioError(
                    f"{scenario} with {what}", [p.replace(str(f), str(scenario)) for p in exc.problems]
                ) from None


def _sharing_order(runs: Sequence[SweepRun]) -> list[SweepRun]:
    """The runs in the order to start them: every value of the other keys first with the last key's first value.

    Runs are the product of the overrides, the last key varying fastest, and the runs that differ only in the last
    key share most families. Started this way, two workers start runs that share little, and the later runs of
    each group find the families their group has already planned (3 x 3 Miyun sweep: 9 runs, 3 groups).
    """
    if not runs or not runs[0].params:
        return list(runs)
    last = list(runs[0].params)[-1]
    values: list = []
    for r in runs:
        if r.params[last] not in values:
            values.append(r.params[last])
    return sorted(runs, key=lambda r: values.index(r.params[last]))  # stable: the other keys keep their order


def run_sweep(
    scenario: str | Path,
    overrides: Sequence[str] | dict[str, list],
    out_dir: str | Path,
    *,
    district: str | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    client=None,
    force: bool = False,
    on_result: Callable[[SweepRun, dict], None] | None = None,
) -> SweepResult:
    """Run every combination of ``overrides`` on Dask and write the table, chart and page.

    Parameters
    ----------
    scenario
        The base scenario file.
    overrides
        ``["travel.speed_kmh=3,4,5", "families.eldercare_stations.count=1000,1200"]`` or a dict key → values.
    out_dir
        Folder for ``sweep.csv``, ``sweep.svg``/``.png``, ``sweep.html`` and ``runs/<run-id>/``.
    scheduler
        Address of an existing Dask scheduler; by default a ``LocalCluster`` of ``workers`` processes.
    client
        An existing ``distributed.Client`` to use instead (``scheduler``/``workers`` are then ignored).
    on_result
        Called with each run and its result as it finishes (e.g. to show progress).

    Returns
    -------
    SweepResult
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    _check_out(out, force)  # before any work
    runs = plan_runs(scenario, overrides, district=district)
    validate_runs(scenario, runs)
    results: dict[str, dict] = {}
    with contextlib.ExitStack() as stack:
        cache = None
        if client is None:
            if scheduler is None:  # local workers share this machine's disk: runs share the families they have alike
                cache = stack.enter_context(tempfile.TemporaryDirectory(prefix="facility-planner-sweep-"))
            client = stack.enter_context(dask_client(scheduler, workers=workers))
        from distributed import as_completed

        futures = {
            client.submit(
                run_one, run.scenario, cache, key=f"facility-planner-{run.run_id}-{id(runs)}", pure=False
            ): run
            for run in _sharing_order(runs)
        }
        for fut in as_completed(futures):
            run = futures[fut]
            res = fut.result()
            results[run.run_id] = res
            if on_result is not None:
                on_result(run, res)
    ordered = [results[r.run_id] for r in runs]
    res = write_sweep(runs, ordered, out, scenario_label=str(scenario), force=force)
    res.seconds = time.perf_counter() - t0
    return res


__all__ = [
    "SweepResult",
    "SweepRun",
    "dask_client",
    "map_tasks",
    "parse_set",
    "plan_runs",
    "results_table",
    "run_one",
    "run_sweep",
    "write_sweep",
]
