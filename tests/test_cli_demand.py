import geopandas as gpd
import pyogrio
from typer.testing import CliRunner

from facility_planner.cli import app

runner = CliRunner()


def test_demand_command_writes_gpkg_and_prints_table(tmp_path):
    out = tmp_path / "d.gpkg"
    r = runner.invoke(
        app, ["demand", "--area", "beijing", "--district", "Xicheng", "--cell-size", "500", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert "1,106,214" in r.output and "Xicheng" in r.output
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert {"cells", "townships", "districts", "communities", "join_report"} <= layers
    cells = gpd.read_file(out, layer="cells")
    assert cells.crs.to_epsg() == 4326
    assert int(cells["pop"].sum()) == 1_106_214


def test_demand_refuses_to_overwrite_and_reports_bad_district(tmp_path):
    out = tmp_path / "d.gpkg"
    out.write_text("keep me")
    r = runner.invoke(app, ["demand", "--district", "Xicheng", "--out", str(out)])
    assert r.exit_code == 2 and "--force" in r.output
    assert out.read_text() == "keep me"
    r = runner.invoke(app, ["demand", "--district", "Atlantis", "--out", str(tmp_path / "x.gpkg")])
    assert r.exit_code == 2 and "no district called 'Atlantis'" in r.output and "Traceback" not in r.output
