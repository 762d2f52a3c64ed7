"""The ``facility-planner`` command: each command calls one library function and only formats its output."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import typer

from ._errors import FacilityPlannerError, ValidationError
from ._interrupt import describe, exit_code_of, handle_signals
from ._output import check_output_dir, check_output_file, write_output_file

app = typer.Typer(
    help="Plan public service facilities: demand layers, location models, plans and maps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Plan public service facilities: demand layers, location models, plans and maps."""


def _friendly(func):
    """Turn our errors into a clear message and exit code 2, never a traceback.

    Ctrl-C and SIGTERM stop the command (also inside a HiGHS solve) with one line and exit code 130 / 143; outputs
    are staged, so an interrupted command leaves the old files and no temporary folder.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            with handle_signals():
                return func(*args, **kwargs)
        except FacilityPlannerError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as exc:
            typer.secho(f"stopped by {describe(exc)}; no half-written output was left.", err=True)
            raise typer.Exit(exit_code_of(exc)) from None

    return wrapper


def _print_table(df, *, floatfmt: str = "{:,.0f}") -> None:
    import pandas as pd

    with pd.option_context("display.max_rows", 500, "display.width", 200, "display.max_columns", 30):
        typer.echo(df.to_string(index=False, float_format=lambda v: floatfmt.format(v)))


@app.command()
@_friendly
def demand(
    out: Annotated[
        Path, typer.Option("--out", help="GeoPackage to write (layers cells, townships, communities, districts).")
    ],
    area: Annotated[str, typer.Option(help="Area to build; only 'beijing' is bundled.")] = "beijing",
    district: Annotated[str | None, typer.Option(help="One district: code, 海淀 or Haidian.")] = None,
    cell_size: Annotated[float, typer.Option("--cell-size", help="Cell size in metres.")] = 500.0,
    shape: Annotated[str, typer.Option(help="square or hex.")] = "square",
    force: Annotated[bool, typer.Option("--force", metavar="", help="Overwrite OUT if it exists.")] = False,
    boundaries: Annotated[
        Path | None, typer.Option(help="Your own township polygons instead of the bundled data.")
    ] = None,
    population: Annotated[Path | None, typer.Option(help="CSV of township_code,pop for --boundaries.")] = None,
    coord_system: Annotated[
        str | None, typer.Option(help="gcj02 if --boundaries holds Gaode/Amap coordinates.")
    ] = None,
    code_column: Annotated[
        str, typer.Option("--code-column", help="Township code column in both files.")
    ] = "township_code",
    district_column: Annotated[
        str, typer.Option("--district-column", help="District code column in --boundaries.")
    ] = "district_code",
    pop_column: Annotated[str, typer.Option("--pop-column", help="Population column in --population.")] = "pop",
) -> None:
    """Build the census-controlled demand layer and print a per-district table of totals."""
    from .demand import beijing_demand, demand_from_files

    check_output_file(out, force=force, what="GeoPackage")
    if boundaries is not None or population is not None:
        if boundaries is None or population is None:
            raise FacilityPlannerError("--boundaries and --population go together; give both files.")
        layer = demand_from_files(
            boundaries,
            population,
            code_column=code_column,
            district_column=district_column,
            pop_column=pop_column,
            coord_system=coord_system,
            cell_size_m=cell_size,
            shape=shape,  # type: ignore[arg-type]
        )
        layer.to_gpkg(out, overwrite=force)
        t = layer.cells.groupby("district_code").agg(
            cells=("cell_id", "size"), pop=("pop", "sum"), pop_60=("pop_60", "sum")
        )
        _print_table(t.reset_index())
        typer.echo(f"wrote {out}")
        return
    if area.lower() != "beijing":
        raise FacilityPlannerError(
            f"area {area!r} is not bundled; only 'beijing' is. Other areas: --boundaries/--population."
        )
    layer = beijing_demand(district=district, cell_size_m=cell_size, shape=shape)  # type: ignore[arg-type]
    layer.to_gpkg(out, overwrite=force)
    table = layer.district_table()
    total = table[["cells", "pop", "pop_60", "townships", "census_2020"]].sum()
    _print_table(table)
    typer.echo(
        f"total: {int(total['cells']):,} cells, {int(total['pop']):,} people "
        f"(census {int(total['census_2020']):,}), {int(total['pop_60']):,} aged 60+"
    )
    for note in layer.notes:
        typer.echo(f"note: {note}")
    n_unjoined = 0 if layer.join_report is None else len(layer.join_report)
    typer.echo(f"{n_unjoined} unit(s) or point(s) did not join: listed in layer 'join_report'; wrote {out}")


def _print_summary(summary: dict) -> None:
    typer.echo(
        f"scenario {summary['scenario']}: {summary['population']:,} people, {summary['population_60_plus']:,} aged 60+"
    )
    # the name column as wide as the longest name, so the numbers line up under their headings
    wn = max([30, *(len(f["name_en"]) for f in summary["families"].values())])
    typer.echo(f"{'family':<{wn}} {'target':>10} {'achieved':>10} {'met':>5} {'new':>6} {'kept':>5} {'gap':>8}  unit")
    for f in summary["families"].values():
        share = "share" in f["unit"]

        def fmt(v, share=share):
            return "n/a" if v is None else (f"{v:.1%}" if share and isinstance(v, float) else f"{v:,.0f}")

        met = "n/a" if f["met"] is None else ("yes" if f["met"] else "NO")
        if f.get("measured_on") and f["met"] is not None:
            met += "*"
        gap = "n/a" if f["gap"] is None else f"{f['gap']:.2%}"
        if f.get("gap_exceeded"):
            gap += "!"
        typer.echo(
            f"{f['name_en']:<{wn}} {fmt(f['target']):>10} {fmt(f['achieved']):>10} {met:>5} "
            f"{f['sites_new']:>6} {f['sites_existing']:>5} {gap:>8}  {f['unit']} ({f['name_zh']})"
        )
    for f in summary["families"].values():
        if f["met"] is False and f.get("why_not"):
            typer.echo(f"  NO for {f['name_en']}: {f['why_not']}")
    if any(f.get("measured_on") for f in summary["families"].values()):
        typer.echo(
            "  * measured on part of the demand: "
            + "; ".join(
                f"{f['name_en']}: {f['measured_on']}" for f in summary["families"].values() if f.get("measured_on")
            )
        )
    for key in summary.get("gaps_exceeded", []):
        f = summary["families"][key]
        why = (
            "(the solver stopped early: neither its plan nor its bound was on its way to the gap asked, so a longer "
            "solver.time_limit_s is unlikely to close it)"
            if f.get("solver_stop") == "stalled"
            else "(the solver hit its time limit); a longer solver.time_limit_s may close it"
        )
        typer.echo(
            f"warning: {f['name_en']}: the proven gap {f['gap']:.2%} is above the {f['gap_requested']:.2%} asked {why}",
            err=True,
        )


@app.command()
@_friendly
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for plan.gpkg, summary.json/csv, maps and report.")],
    district: Annotated[str | None, typer.Option(help="Plan one district only (code, 海淀 or Haidian).")] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", metavar="", help="Replace what a previous run wrote in OUT (manifest.json); other files stay."
        ),
    ] = False,
    no_maps: Annotated[bool, typer.Option("--no-maps", metavar="", help="Skip the maps and the report.")] = False,
    lang: Annotated[str, typer.Option("--lang", help="Language of the report: zh (default) or en.")] = "zh",
    pdf: Annotated[
        bool,
        typer.Option("--pdf", metavar="", help="Also print the report to report.pdf (A4 landscape; needs Chromium)."),
    ] = False,
) -> None:
    """Run a scenario: place the facilities and write the plan (atomically: all or nothing)."""
    import time

    from ._chromium import chromium_path
    from .pipeline import run_scenario, validate_scenario
    from .report import check_lang

    t0 = time.perf_counter()
    check_output_dir(out, force=force)  # before the work: a non-empty --out without --force is refused now
    check_lang(lang)
    scn = validate_scenario(scenario)
    if pdf:  # refused now, not after the run
        if no_maps or not scn.outputs.maps or not scn.outputs.report:
            raise ValidationError(
                "--pdf",
                ["--pdf prints the report, which this run does not write: drop --no-maps, and keep `outputs.maps` "
                 "and `outputs.report` on in the scenario."],
            )  # fmt: skip
        if chromium_path() is None:
            raise ValidationError(
                "--pdf",
                ["--pdf needs Chromium, and none was found (Debian: apt-get install chromium); or leave out --pdf and "
                 "print report.html from a browser (A4 landscape is preset)."],
            )  # fmt: skip
    plan = run_scenario(scn, district=district)
    written = plan.write(out, force=force, maps=False if no_maps else None, lang=lang, pdf=pdf)
    _print_summary(plan.summary())
    for note in [*plan.notes, *written.messages()]:
        typer.echo(f"note: {note}")
    top = list(dict.fromkeys(f.split("/")[0] + ("/" if "/" in f else "") for f in written.written))
    typer.echo(
        f"wrote {out}/ in {time.perf_counter() - t0:.1f} s, of which the plan {plan.seconds.get('total', 0):.1f} s"
        f" ({', '.join(top)})"
    )


@app.command()
@_friendly
def validate(scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")]) -> None:
    """Check a scenario file and report every problem at once."""
    from .pipeline import validate_scenario

    scn = validate_scenario(scenario)
    on = list(scn.enabled_families())
    typer.echo(
        f"{scenario}: valid. Scenario {scn.name!r}, area {scn.area}"
        + (f", district {scn.district}" if scn.district else ", citywide")
        + f", travel {scn.travel.mode}, families: {', '.join(on)}"
    )


@app.command()
@_friendly
def maps(
    plan_dir: Annotated[Path, typer.Argument(help="A folder written by `facility-planner run`.")],
    basemap: Annotated[
        str, typer.Option(help="none (offline), osm, gaode (GCJ-02) or tianditu (TIANDITU_KEY).")
    ] = "none",
    force: Annotated[
        bool, typer.Option("--force", metavar="", help="Replace maps drawn before (maps/ or maps_BASEMAP/).")
    ] = False,
    lang: Annotated[str, typer.Option("--lang", help="Language of the report: zh (default) or en.")] = "zh",
) -> None:
    """Redraw a plan's maps from its plan.gpkg and summary.json: offline into maps/ (and report.html), on a web base
    map into maps_BASEMAP/ (the offline maps stay).
    """
    from ._plan_files import maps_folder, redraw_maps
    from .report import check_lang

    check_lang(lang)
    written = redraw_maps(plan_dir, basemap=basemap, force=force, lang=lang)
    folder = plan_dir / maps_folder(basemap)
    n_maps = sum(f.endswith(".html") and f.startswith(maps_folder(basemap) + "/") for f in written.written)
    typer.echo(f"wrote {n_maps} map(s) in {folder}" + (f" and {plan_dir / 'report.html'}" if basemap == "none" else ""))
    for note in written.messages():
        typer.echo(f"note: {note}")


@app.command()
@_friendly
def compare(
    plan_a: Annotated[Path, typer.Argument(help="First plan folder (A).")],
    plan_b: Annotated[Path, typer.Argument(help="Second plan folder (B).")],
    out: Annotated[Path, typer.Option("--out", help="HTML page: title, legend, table and synchronised maps.")],
    district: Annotated[str | None, typer.Option(help="One district in both plans: code, 海淀 or Haidian.")] = None,
    moved_within: Annotated[
        float, typer.Option("--moved-within", help="A site of A is 'moved' when B's nearest is this close (m).")
    ] = 500.0,
    force: Annotated[bool, typer.Option("--force", metavar="", help="Overwrite OUT if it exists.")] = False,
) -> None:
    """Two plans of the same area: per family the targets, achievements, coverage (change in percentage points) and
    sites kept/added/removed/moved, printed and written as a page beside synchronised maps.
    """
    from .compare import compare_plans, format_comparison

    check_output_file(out, force=force, what="comparison page")
    path, table = compare_plans(plan_a, plan_b, out, district=district, moved_within_m=moved_within)
    _print_table(format_comparison(table))
    typer.echo(f"coverage change in percentage points (B − A); moved = nearest site of B within {moved_within:,.0f} m")
    typer.echo(f"wrote {path}")


@app.command()
@_friendly
def benchmark(
    family: Annotated[str, typer.Argument(help="pmed, scp, mclp-swain or mclp-sjc.")],
    folder: Annotated[
        Path | None,
        typer.Argument(help="Folder with instance files and optima.csv; default: the bundled published instances."),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the rows as a JSON list.")] = None,
    solver: Annotated[
        str | None, typer.Option(help="highs (default) or a PuLP solver (cbc, glpk, gurobi, cplex).")
    ] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per instance.")] = 60.0,
    force: Annotated[bool, typer.Option("--force", metavar="", help="Overwrite the --json file if it exists.")] = False,
) -> None:
    """Solve published instances exactly and compare with their known optima."""
    import json

    from .benchmarks import run_family

    if json_out is not None:
        check_output_file(json_out, force=force, what="JSON file")
    typer.echo(f"{'instance':<20} {'objective':>12} {'optimum':>12} {'gap':>9} {'status':<10} {'seconds':>8}")

    def show(r) -> None:
        gap = "n/a" if r.gap is None else f"{r.gap:.2%}"
        flag = "" if r.matches else "  ≠ optimum"
        typer.echo(
            f"{r.instance:<20} {r.objective:>12,.0f} {r.optimum:>12,.0f} {gap:>9} {r.status:<10} {r.seconds:>8.2f}{flag}"
        )

    rows = run_family(family, folder, solver=solver, time_limit_s=time_limit, progress=show)
    n_ok = sum(r.matches for r in rows)
    typer.echo(f"{n_ok} of {len(rows)} instances at their listed optimum; slowest {max(r.seconds for r in rows):.2f} s")
    if json_out is not None:
        data = [
            {
                "instance": r.instance,
                "objective": r.objective,
                "optimum": r.optimum,
                "gap": r.gap,
                "status": r.status,
                "seconds": round(r.seconds, 3),
            }
            for r in rows
        ]
        write_output_file(json_out, json.dumps(data, indent=2) + "\n", force=force, what="JSON file")
        typer.echo(f"wrote {json_out}")
    if n_ok < len(rows):
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the ``facility-planner`` script."""
    app()


def _numbers(text: str | None, what: str, kind=int) -> list | None:
    """``"400,800"`` → ``[400, 800]``; ``"none"`` → ``[]``; None → None."""
    if text is None:
        return None
    if text.strip().lower() in ("", "none"):
        return []
    try:
        return [kind(v) for v in text.split(",")]
    except ValueError:
        raise FacilityPlannerError(f"{what} takes numbers separated by commas (e.g. 400,800); got {text!r}.") from None


@app.command()
@_friendly
def curve(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    family: Annotated[str, typer.Option("--family", help="The facility family, e.g. eldercare_stations.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for curve.csv, curve.svg and curve.png.")],
    max_new: Annotated[
        int | None, typer.Option("--max", help="Largest number of new sites (default: the family's target).")
    ] = None,
    to_share: Annotated[
        float | None, typer.Option("--to-share", help="Fewest sites covering this share, e.g. 0.9.")
    ] = None,
    district: Annotated[str | None, typer.Option(help="One district only (code, 海淀 or Haidian).")] = None,
    points: Annotated[int, typer.Option(help="Points on the curve (evenly spaced).")] = 10,
    exact: Annotated[
        str | None, typer.Option(help="Numbers of new sites solved exactly, e.g. 400,800 ('none': no MILP).")
    ] = None,
    time_limits: Annotated[
        str | None, typer.Option("--time-limits", help="Also solve the last exact point at these limits (s): 10,30.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", metavar="", help="Replace curve files already in OUT.")] = False,
) -> None:
    """Covered demand against the number of new sites: exact points and a proven envelope between them."""
    from .curves import check_curve_out, curve_for_scenario, write_curve

    if max_new is not None and to_share is not None:
        raise FacilityPlannerError("give --max or --to-share, not both.")
    check_curve_out(out, force=force)
    res = curve_for_scenario(
        scenario,
        family,
        max_new=max_new,
        to_share=to_share,
        district=district,
        points=points,
        exact_at=_numbers(exact, "--exact"),
        time_limits=_numbers(time_limits, "--time-limits", float) or (),
    )
    written = write_curve(res, out, force=force)
    typer.echo(res.label)
    df = res.to_frame()
    df["covered_share"] = df["covered_share"].map("{:.2%}".format)
    df["upper_share"] = df["upper_share"].map("{:.2%}".format)
    df["envelope_gap"] = df["envelope_gap"].map("{:.2%}".format)
    _print_table(df[["new_sites", "method", "covered", "covered_share", "upper_share", "envelope_gap", "status"]])
    if res.share:
        s = res.share
        typer.echo(
            f"{s['share']:.0%} of {res.weight_label}: {s['exact_sites']} new sites (exact, {s['status']}, gap "
            f"{(s['gap'] or 0):.2%}); greedy needs {s['greedy_sites']}; no plan with fewer than "
            f"{s['lower_bound_sites']} does it (proven)"
        )
    if len(res.by_time):
        _print_table(res.by_time, floatfmt="{:,.4g}")
    for note in res.notes:
        typer.echo(f"note: {note}")
    typer.echo(f"wrote {', '.join(str(p) for p in written)} in {res.seconds['total']:.1f} s")


@app.command()
@_friendly
def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    set_: Annotated[
        list[str], typer.Option("--set", help="KEY=V1,V2,… a dotted scenario key and its values; repeat for a grid.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for sweep.csv/.svg/.png/.html and runs/.")],
    district: Annotated[str | None, typer.Option(help="Every run plans this district only.")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a running Dask scheduler (default: a local cluster).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes of the local cluster.")] = 2,
    force: Annotated[
        bool, typer.Option("--force", metavar="", help="Replace what a previous sweep wrote in OUT; other files stay.")
    ] = False,
) -> None:
    """What-if sweep: every combination of the --set values as a Dask task; one table, chart and page."""
    from .sweep import run_sweep

    def show(run, res) -> None:
        what = ", ".join(f"{k}={v}" for k, v in run.params.items())
        status = "failed: " + res["error"].splitlines()[0] if "error" in res else "done"
        typer.echo(f"{run.run_id} ({what}) {status} in {res.get('seconds', 0):.1f} s", err=True)

    res = run_sweep(
        scenario, set_, out, district=district, scheduler=scheduler, workers=workers, force=force, on_result=show
    )
    keys = list(res.runs[0].params) if res.runs else []
    t = res.table
    # the results that differ between runs (the rest is in sweep.csv): a terminal-wide table, not 2,000 characters
    varied = [
        c
        for c in t.columns
        if c.endswith((".achieved", ".met", ".covered_share", ".gap", ".gap_exceeded"))
        and t[c].astype(str).nunique(dropna=False) > 1
    ]
    cols = ["run_id", *keys, "status", *varied]
    shown = t[[c for c in cols if c in t]].rename(columns=lambda c: c.split(".")[-1] if c in keys else c)
    _print_table(shown, floatfmt="{:,.4g}")
    if len(varied) < sum(c.endswith((".achieved", ".gap")) for c in t.columns):
        typer.echo("  (results equal in every run are left out here; sweep.csv has every column)")
    import textwrap

    for note in res.notes:  # wrapped: a note can list every family (the ones the chart leaves out)
        typer.echo(textwrap.fill(f"note: {note}", width=110, subsequent_indent="      ", break_on_hyphens=False))
    typer.echo(f"wrote {out}/ (sweep.csv, sweep.svg, sweep.png, sweep.html, runs/) in {res.seconds:.1f} s")


network_app = typer.Typer(help="Street networks: fetch one from OpenStreetMap once, then plan offline with it.")
app.add_typer(network_app, name="network")


@network_app.command("fetch")
@_friendly
def network_fetch(
    district: Annotated[str, typer.Option(help="The district (code, 海淀 or Haidian).")],
    out: Annotated[
        Path, typer.Option("--out", help="GraphML file to write (then `travel.network_file` in a scenario).")
    ],
    network_type: Annotated[str, typer.Option("--type", help="walk (default), drive or all.")] = "walk",
    force: Annotated[bool, typer.Option("--force", metavar="", help="Download again over an existing file.")] = False,
) -> None:
    """Download a district's streets through osmnx (needs the internet once) and check the file as a run would."""
    from .network import fetch_network, read_network

    path = fetch_network(district, out, network_type=network_type, overwrite=force)
    net = read_network(path)
    typer.echo(f"{path}: {net.n_nodes:,} nodes, {net.n_edges:,} edges")
    for note in net.notes:
        typer.echo(f"note: {note}")


if __name__ == "__main__":  # pragma: no cover
    main()
