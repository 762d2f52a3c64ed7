"""Nothing lost: staged writes, the manifest, --force that keeps a planner's files, clear path errors, identical runs."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facility_planner import OutputExistsError, OutputPathError, ValidationError
from facility_planner._output import (
    MANIFEST,
    OutputDir,
    check_output_file,
    read_manifest,
    remove_stale_temporaries,
    write_output_file,
)
from facility_planner.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _write(out: Path, files: dict[str, str], **kw):
    with OutputDir(out, command="test", **kw) as stage:
        for rel, text in files.items():
            (stage.path / rel).parent.mkdir(parents=True, exist_ok=True)
            (stage.path / rel).write_text(text)
    return stage.report


def test_new_folder_has_every_file_and_a_manifest_with_sizes_and_hashes(tmp_path):
    out = tmp_path / "plan"
    rep = _write(out, {"a.txt": "A", "maps/index.html": "<html>"})
    assert sorted(rep.written) == ["a.txt", "maps/index.html"] and rep.messages() == []
    man = read_manifest(out)
    assert man["commands"] == ["test"]
    for e in man["files"]:
        p = out / e["path"]
        assert e["bytes"] == p.stat().st_size and e["sha256"] == _sha(p)
    assert sorted(os.listdir(tmp_path)) == ["plan"]  # no temporary folder beside it
    assert Path(rep) == out and (rep / "a.txt").read_text() == "A"


def test_non_empty_folder_is_refused_without_force_with_the_fix(tmp_path):
    out = tmp_path / "plan"
    _write(out, {"a.txt": "A"})
    with pytest.raises(OutputExistsError, match="--force") as e:
        _write(out, {"a.txt": "B"})
    assert MANIFEST in str(e.value) and "left in place" in str(e.value)
    assert (out / "a.txt").read_text() == "A"


def test_force_replaces_only_what_a_run_wrote_and_keeps_the_planners_files(tmp_path):
    out = tmp_path / "plan"
    _write(out, {"a.txt": "A", "old.txt": "old", "edited.txt": "mine", "maps/x.html": "x"})
    (out / "notes.txt").write_text("my notes")
    (out / "edited.txt").write_text("edited by the planner after the run")
    rep = _write(out, {"a.txt": "A2", "maps/y.html": "y"}, force=True)
    assert (out / "a.txt").read_text() == "A2" and (out / "notes.txt").read_text() == "my notes"
    assert not (out / "old.txt").exists() and not (out / "maps" / "x.html").exists()
    assert (out / "edited.txt").read_text().startswith("edited")  # changed since the run: kept, not deleted
    assert rep.replaced == ["a.txt"] and sorted(rep.removed) == ["maps/x.html", "old.txt"]
    assert rep.kept == ["notes.txt"] and rep.kept_edited == ["edited.txt"]
    text = "\n".join(rep.messages())
    assert "notes.txt" in text and "did not write" in text and "edited.txt" in text
    assert {e["path"] for e in read_manifest(out)["files"]} == {"a.txt", "maps/y.html"}


def test_force_into_a_folder_without_manifest_keeps_other_files(tmp_path):
    out = tmp_path / "plan"
    out.mkdir()
    (out / "notes.txt").write_text("n")
    (out / "a.txt").write_text("someone's a")
    rep = _write(out, {"a.txt": "A"}, force=True)
    assert (out / "notes.txt").read_text() == "n" and (out / "a.txt").read_text() == "A"
    assert rep.replaced == ["a.txt"] and rep.kept == ["notes.txt"]


def test_a_failure_midway_leaves_the_old_files_and_no_temporary_folder(tmp_path):
    out = tmp_path / "plan"
    _write(out, {"a.txt": "A"})
    with pytest.raises(RuntimeError), OutputDir(out, force=True, command="t") as stage:
        (stage.path / "a.txt").write_text("half")
        raise RuntimeError("disk full")
    assert (out / "a.txt").read_text() == "A" and sorted(os.listdir(tmp_path)) == ["plan"]
    deep = tmp_path / "x" / "y" / "plan"
    with pytest.raises(RuntimeError), OutputDir(deep, command="t"):
        raise RuntimeError("boom")
    assert sorted(os.listdir(tmp_path)) == ["plan"]  # the folders made for it are gone again


def test_out_that_is_a_file_or_below_a_file_is_a_clear_error(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("x")
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        _write(f, {"a": "b"})
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        _write(f / "plan", {"a": "b"})
    assert f.read_text() == "x"


def test_read_only_parent_is_a_clear_error(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() != 0:  # a real read-only folder (root may write anywhere)
        ro.chmod(0o555)
        try:
            with pytest.raises(OutputPathError, match="read-only"):
                _write(ro / "plan", {"a": "b"})
        finally:
            ro.chmod(0o755)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == ro else real_access(p, mode))
    with pytest.raises(OutputPathError, match="read-only"):
        _write(ro / "plan", {"a": "b"})
    with pytest.raises(OutputPathError, match="read-only"):
        write_output_file(ro / "x.json", "{}", force=False)


def test_os_errors_while_writing_become_clear_errors(tmp_path, monkeypatch):
    import errno

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OutputPathError, match="disk is full"):
        write_output_file(tmp_path / "x.json", "{}", force=False)
    assert os.listdir(tmp_path) == []


def test_single_file_refuses_overwrite_without_force_and_writes_atomically(tmp_path):
    p = tmp_path / "cmp.html"
    write_output_file(p, "one", force=False)
    with pytest.raises(OutputExistsError, match="--force"):
        write_output_file(p, "two", force=False)
    with pytest.raises(OutputExistsError):
        check_output_file(p, force=False)
    write_output_file(p, "two", force=True)
    assert p.read_text() == "two" and os.listdir(tmp_path) == ["cmp.html"]
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output_file(tmp_path, force=True)


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    dead = tmp_path / f".plan.fp-tmp-{2**22 + 12345}-abcd"  # above the kernel's pid_max: no such process
    dead.mkdir()
    alive = tmp_path / f".plan.fp-tmp-{os.getppid()}-abcd"
    alive.mkdir()
    removed = remove_stale_temporaries(tmp_path, "plan")
    assert removed == [dead] and alive.exists() and not dead.exists()


# ------------------------------------------------------------------------------------------------ with a real plan
@pytest.fixture(scope="module")
def plan_dir(sample_small_dir):
    """This module's copy of the written sample plan (tests here add maps to it)."""
    return sample_small_dir


def test_plan_write_records_a_manifest_and_keeps_timings_out_of_the_summary(plan_dir):
    man = read_manifest(plan_dir)
    names = {e["path"] for e in man["files"]}
    assert {"plan.gpkg", "summary.json", "summary.csv", "report.html", "maps/index.html"} <= names
    assert "seconds" in man["run"] and "seconds" not in json.loads((plan_dir / "summary.json").read_text("utf-8"))


@pytest.mark.slow  # over 5 s: out of `make check`, in `make test`
def test_maps_on_gaode_go_beside_the_offline_maps_and_never_overwrite_without_force(plan_dir):
    offline = {p.name: _sha(p) for p in (plan_dir / "maps").glob("*.html")}
    r = runner.invoke(app, ["maps", str(plan_dir), "--basemap", "gaode"])
    assert r.exit_code == 0, r.output
    assert (plan_dir / "maps_gaode" / "index.html").exists()
    assert {p.name: _sha(p) for p in (plan_dir / "maps").glob("*.html")} == offline
    again = runner.invoke(app, ["maps", str(plan_dir), "--basemap", "gaode"])
    assert again.exit_code == 2 and "--force" in again.output and "Traceback" not in again.output
    offline_again = runner.invoke(app, ["maps", str(plan_dir)])
    assert offline_again.exit_code == 2 and "--force" in offline_again.output
    forced = runner.invoke(app, ["maps", str(plan_dir), "--force"])
    assert forced.exit_code == 0, forced.output
    assert {p.name: _sha(p) for p in (plan_dir / "maps").glob("*.html")} == offline  # same plan, same bytes
    assert "maps_gaode/index.html" in {e["path"] for e in read_manifest(plan_dir)["files"]}


@pytest.mark.slow  # over 5 s: out of `make check`, in `make test`
def test_compare_and_benchmark_refuse_to_overwrite(plan_dir, tmp_path):
    existing = tmp_path / "cmp.html"
    existing.write_text("keep me")
    r = runner.invoke(app, ["compare", str(plan_dir), str(plan_dir), "--out", str(existing)])
    assert r.exit_code == 2 and "--force" in r.output and existing.read_text() == "keep me"
    r = runner.invoke(app, ["benchmark", "pmed", str(tmp_path), "--json", str(existing)])
    assert r.exit_code == 2 and "--force" in r.output and existing.read_text() == "keep me"
    r = runner.invoke(app, ["compare", str(plan_dir), str(plan_dir), "--out", str(existing), "--force"])
    assert r.exit_code == 0, r.output
    assert existing.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    "damage",
    ["no_summary", "summary_not_json", "summary_wrong_type", "gpkg_junk", "gpkg_missing_layer", "summary_gbk"],
)
def test_damaged_plan_folder_is_one_clear_error_naming_the_file(plan_dir, tmp_path, damage):
    import shutil

    import pyogrio

    d = tmp_path / "damaged"
    shutil.copytree(plan_dir, d)
    if damage == "no_summary":
        (d / "summary.json").unlink()
        bad = "summary.json"
    elif damage == "summary_not_json":
        (d / "summary.json").write_text('{"scenario": "x", ')
        bad = "summary.json"
    elif damage == "summary_wrong_type":
        s = json.loads((d / "summary.json").read_text("utf-8"))
        s["families"]["eldercare_stations"]["sites_new"] = "thirty"
        (d / "summary.json").write_text(json.dumps(s), encoding="utf-8")
        bad = "sites_new"
    elif damage == "summary_gbk":
        (d / "summary.json").write_bytes('{"scenario": "西城"}'.encode("gbk"))
        bad = "summary.json"
    elif damage == "gpkg_junk":
        (d / "plan.gpkg").write_bytes(b"\x00junk" * 100)
        bad = "plan.gpkg"
    else:
        keep = d / "keep.gpkg"
        df = pyogrio.read_dataframe(d / "plan.gpkg", layer="sites_care_centres")
        pyogrio.write_dataframe(df, keep, layer="sites_care_centres", driver="GPKG")
        keep.replace(d / "plan.gpkg")
        bad = "districts"
    from facility_planner.maps import read_plan_layers

    with pytest.raises(ValidationError, match=bad):
        read_plan_layers(d)
    for args in (["maps", str(d), "--force"], ["compare", str(d), str(plan_dir), "--out", str(tmp_path / "c.html")]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and bad in r.output and "Traceback" not in r.output, r.output
        assert r.exception is None or isinstance(r.exception, SystemExit)


def test_force_is_a_plain_flag_in_every_writing_command():
    for cmd in ("run", "demand", "maps", "compare", "benchmark", "curve", "sweep"):
        r = runner.invoke(app, [cmd, "--help"], terminal_width=200)
        assert r.exit_code == 0
        line = next(ln for ln in r.output.splitlines() if "--force" in ln)
        assert "<bool>" not in line and "--no-force" not in line, (cmd, line)


@pytest.mark.slow  # over 5 s: out of `make check`, in `make test`
def test_run_force_keeps_a_planners_notes(tmp_path):
    out = tmp_path / "o"
    scn = str(ROOT / "scenarios" / "sample_small.yaml")
    assert runner.invoke(app, ["run", scn, "--out", str(out), "--no-maps"]).exit_code == 0
    (out / "notes.txt").write_text("meeting notes")
    refused = runner.invoke(app, ["run", scn, "--out", str(out), "--no-maps"])
    assert refused.exit_code == 2 and "--force" in refused.output
    r = runner.invoke(app, ["run", scn, "--out", str(out), "--no-maps", "--force"])
    assert r.exit_code == 0, r.output
    assert (out / "notes.txt").read_text() == "meeting notes" and "notes.txt" in r.output


@pytest.mark.slow
def test_two_runs_of_one_scenario_write_identical_files(tmp_path):
    """Every file is byte-identical, maps and GeoPackage included; manifest.json differs only in the run's timings."""
    from facility_planner.pipeline import run_scenario

    outs = []
    for name in ("a", "b"):
        run_scenario(ROOT / "scenarios" / "sample_small.yaml").write(tmp_path / name)
        outs.append(tmp_path / name)
    files = sorted(str(p.relative_to(outs[0])) for p in outs[0].rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(outs[1])) for p in outs[1].rglob("*") if p.is_file())
    assert {"plan.gpkg", "summary.json", "maps/index.html", "report.html"} <= set(files)
    differ = [f for f in files if (outs[0] / f).read_bytes() != (outs[1] / f).read_bytes()]
    assert differ in ([], [MANIFEST]), differ
    ma, mb = (read_manifest(o) for o in outs)
    assert ma["files"] == mb["files"]  # same sizes and hashes
    ma.pop("run", None), mb.pop("run", None)
    assert ma == mb


def test_the_cli_summary_table_lines_up_under_its_headings_with_long_family_names(capsys):
    from facility_planner.cli import _print_summary

    fam = {
        "name_en": "Intellectual-disability welfare institutions",  # longer than the old 30-character column
        "name_zh": "智障人员社会福利机构",
        "unit": "beds",
        "target": 1600,
        "achieved": 1600,
        "met": True,
        "gap": 0.0,
        "sites_new": 32,
        "sites_existing": 0,
    }
    short = {**fam, "name_en": "Care centres", "target": 343, "achieved": 321, "met": False}
    _print_summary({"scenario": "s", "population": 1, "population_60_plus": 1, "families": {"a": fam, "b": short}})
    lines = capsys.readouterr().out.splitlines()
    head = next(x for x in lines if x.startswith("family"))
    end = head.index("target") + len("target")  # numbers are right-aligned under their heading
    rows = [x for x in lines if x.startswith(("Intellectual", "Care centres"))]
    assert [r[end - 5 : end] for r in rows] == ["1,600", "  343"]


def test_an_interrupt_as_the_staging_folder_is_made_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C can land in ``mkdir`` once it has made the folder: ``__enter__`` then fails, ``__exit__`` never runs,
    and the temporary folder (and the parents made for --out) stayed behind. A clean-clone test run saw it once."""
    real = Path.mkdir

    def mkdir_then_interrupted(self, *a, **kw):
        real(self, *a, **kw)
        if ".fp-tmp-" in self.name:
            raise KeyboardInterrupt

    monkeypatch.setattr(Path, "mkdir", mkdir_then_interrupted)
    with pytest.raises(KeyboardInterrupt), OutputDir(tmp_path / "new" / "out", command="test"):
        pytest.fail("the block must not run")
    assert list(tmp_path.iterdir()) == []
