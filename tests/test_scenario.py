import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from facility_planner import ScenarioError
from facility_planner.cli import app
from facility_planner.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.mark.parametrize("name", ["beijing_2025.yaml", "haidian_network.yaml", "sample_small.yaml"])
def test_bundled_scenarios_validate(name):
    r = runner.invoke(app, ["validate", str(ROOT / "scenarios" / name)])
    assert r.exit_code == 0, r.output
    assert "valid" in r.output


def test_yaml_no_is_not_silently_false(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        "name: x\nextends: %s\nfamilies:\n  cemeteries:\n    enabled: no\n" % (ROOT / "scenarios" / "beijing_2025.yaml")
    )
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    msg = str(e.value)
    assert "families.cemeteries.enabled" in msg and "'no'" in msg and "true or false" in msg and str(f) in msg


def test_every_problem_reported_at_once_with_key_and_fix(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(
        "name: x\ndistrict: Atlantis\n"
        "demand:\n  cell_size_m: -5\n  shape: circle\n"
        "travel:\n  mode: network\n"
        "families:\n  eldercare_stations:\n    name_zh: 驿站\n    name_en: Stations\n    model: max_cover\n"
        "    count: many\n  psych_points:\n    name_zh: 心理\n    name_en: Psych\n    model: min_cover\n    shares: 0.8\n"
    )
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    msg = str(e.value)
    for key in (
        "demand.cell_size_m",
        "demand.shape",
        "travel",
        "families.eldercare_stations.count",
        "families.psych_points.shares",
    ):
        assert f"`{key}`" in msg, key
    assert "network_file" in msg and "check its spelling" in msg and "whole number" in msg
    assert "5 problems" in msg
    r = runner.invoke(app, ["validate", str(f)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "6 problems" in r.output and "no district called 'Atlantis'" in r.output  # schema and district together


def test_missing_files_and_unknown_district(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        f"name: x\nextends: {ROOT / 'scenarios' / 'beijing_2025.yaml'}\ndistrict: Gotham\n"
        "families:\n  eldercare_stations:\n    existing:\n      file: none.csv\n"
    )
    r = runner.invoke(app, ["validate", str(f)])
    assert r.exit_code == 2
    assert "Gotham" in r.output and "none.csv" in r.output and "file not found" in r.output
    r = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert r.exit_code == 2 and "file not found" in r.output
    (tmp_path / "t.yaml").write_text("name: [unclosed\n")
    r = runner.invoke(app, ["validate", str(tmp_path / "t.yaml")])
    assert r.exit_code == 2 and "not valid YAML" in r.output


def test_summary_written_by_run_matches_schema(tmp_path):
    out = tmp_path / "plan"
    r = runner.invoke(app, ["run", str(ROOT / "scenarios" / "sample_small.yaml"), "--out", str(out), "--no-maps"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert len(s["families"]) == 15
    for fam in s["families"].values():
        f = fam
        for k in ("target", "achieved", "met", "unit", "sites_new", "sites_existing", "gap", "districts"):
            assert k in f, (f["name_en"], k)
    assert (out / "summary.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel


def test_validate_names_every_misspelled_district_of_the_family_blocks(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        f"name: x\nextends: {ROOT / 'scenarios' / 'beijing_2025.yaml'}\nfamilies:\n"
        "  eldercare_stations:\n    by_district: {Xichen: 5, 海淀: 3}\n"
        "  mutual_aid_points:\n    within: {districts: [Haidain, Miyun]}\n"
    )
    r = runner.invoke(app, ["validate", str(f)])
    assert r.exit_code == 2, r.output
    assert "2 problems" in r.output  # both at once; 海淀 and Miyun are districts
    assert "`families.eldercare_stations.by_district`" in r.output and "'Xichen'" in r.output
    assert "`families.mutual_aid_points.within.districts`" in r.output and "'Haidain'" in r.output
    assert "Xicheng" in r.output  # the districts to choose from
