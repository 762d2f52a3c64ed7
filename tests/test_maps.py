"""Maps that open anywhere: no external references, drawn in headless Chromium offline, Gaode shift, report."""

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from facility_planner._chromium import chromium_path, run_headless
from facility_planner.coords import wgs84_to_gcj02
from facility_planner.maps import comparison_map, plan_map, read_plan_layers, save_map

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = chromium_path()
in_ci = os.environ.get("CI") == "true"
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not in_ci, reason="headless Chromium not installed (.ci/run installs it in CI)"
)


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.refs.append(a["src"])
        if tag == "link" and a.get("href"):
            self.refs.append(a["href"])


@pytest.fixture(scope="module")
def plan_dir(sample_small_dir):
    """This module's copy of the written sample plan (a test here redraws its maps)."""
    return sample_small_dir


def test_every_saved_page_is_self_contained(plan_dir):
    pages = [*sorted((plan_dir / "maps").glob("*.html")), plan_dir / "report.html"]
    assert len(pages) >= 3
    for page in pages:
        p = _Refs()
        p.feed(page.read_text(encoding="utf-8"))
        external = [r for r in p.refs if not r.startswith("data:")]
        assert external == [], (page.name, external)
    html = (plan_dir / "maps" / "index.html").read_text(encoding="utf-8")
    assert "L.map(" in html and "Control.FullScreen" in html and "fp-legend" in html
    assert "社区养老服务驿站" in html and "Community eldercare stations" in html
    assert "bootstrap" not in html.lower()


def test_district_map_under_5_mb(plan_dir):
    for page in (plan_dir / "maps").glob("district_*.html"):
        assert page.stat().st_size <= 5 * 1024 * 1024


@pytest.mark.browser
@needs_chromium
def test_map_draws_offline_in_headless_chromium(plan_dir, tmp_path):
    from PIL import Image

    assert CHROMIUM, "CI must install chromium (.ci/run)"
    shot = tmp_path / "map.png"
    run_headless(
        (plan_dir / "maps" / "district_110102_Xicheng.html").as_uri(),
        "--window-size=1200,900",
        "--virtual-time-budget=5000",
        f"--screenshot={shot}",
        exe=CHROMIUM,
    )
    img = Image.open(shot).convert("RGB")
    px = list(img.getdata())
    red = sum(1 for r, g, b in px if abs(r - 0xD6) < 20 and abs(g - 0x27) < 25 and abs(b - 0x28) < 25)  # stations
    blue = sum(1 for r, g, b in px if abs(r - 0x1F) < 20 and abs(g - 0x77) < 25 and abs(b - 0xB4) < 25)  # centres
    dark = sum(1 for r, g, b in px if r < 60 and g < 60 and b < 60)  # district boundary, legend text
    assert red > 200 and blue > 100 and dark > 500, (red, blue, dark)


def test_gaode_variant_is_shifted_to_gcj02(plan_dir):
    layers, summary = read_plan_layers(plan_dir)
    plain = plan_map(layers, summary, district="110102").get_root().render()
    gaode = plan_map(layers, summary, district="110102", basemap="gaode").get_root().render()
    assert "autonavi" in gaode and "autonavi" not in plain
    # a station's marker moves by the GCJ-02 offset (~500-600 m in Beijing; 555 m at Tiananmen)
    # a site's point in its family's GeoJSON layer
    pat = re.compile(r'"coordinates": \[([0-9.]+), ([0-9.]+)\], "type": "Point"\}, "properties": \{"existing"')
    (lon0, lat0), (lon1, lat1) = pat.findall(plain)[0], pat.findall(gaode)[0]
    glon, glat = wgs84_to_gcj02(float(lon0), float(lat0))
    assert abs(float(lon1) - float(glon)) < 1e-6 and abs(float(lat1) - float(glat)) < 1e-6
    # Tiananmen (WGS-84 39.9075 N, 116.3913 E) lands on Gaode's 116.3976 E, 39.9088 N
    tl, tt = wgs84_to_gcj02(116.3913, 39.9075)
    assert abs(float(tl) - 116.3976) < 3e-4 and abs(float(tt) - 39.9089) < 3e-4


def test_district_map_draws_only_coverage_reaching_the_district(plan_dir):
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import Point

    layers, summary = read_plan_layers(plan_dir)
    cov = layers["coverage_eldercare_stations"]
    # a SYNTHETIC 833 m circle in Miyun, 60 km away, as if a station there belonged to the same plan
    far = gpd.GeoDataFrame(
        {"site_id": ["synthetic-far"], "mode": ["straight_line"], "minutes": [15.0]},
        geometry=[Point(116.84, 40.38)],
        crs="EPSG:4326",
    ).to_crs("EPSG:32650")
    far["geometry"] = far.buffer(833)
    layers = {**layers, "coverage_eldercare_stations": pd.concat([cov, far.to_crs(cov.crs)], ignore_index=True)}
    html = plan_map(layers, summary, district="110102").get_root().render()
    assert "synthetic-far" not in html
    assert str(cov["site_id"].iloc[0]) in html  # Xicheng's own circles stay


def test_tianditu_needs_key_and_writes_it_only_when_asked(plan_dir, monkeypatch):
    from facility_planner import ValidationError

    layers, summary = read_plan_layers(plan_dir)
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    with pytest.raises(ValidationError, match="TIANDITU_KEY"):
        plan_map(layers, summary, basemap="tianditu")
    monkeypatch.setenv("TIANDITU_KEY", "secret123")
    assert "secret123" in plan_map(layers, summary, basemap="tianditu").get_root().render()
    assert "secret123" not in plan_map(layers, summary).get_root().render()


def test_comparison_map_and_report(plan_dir, tmp_path):
    layers, _summary = read_plan_layers(plan_dir)
    out = save_map(comparison_map(layers, layers, names=("A", "B")), tmp_path / "cmp.html")
    p = _Refs()
    html = out.read_text(encoding="utf-8")
    p.feed(html)
    assert [r for r in p.refs if not r.startswith("data:")] == []
    assert "L.Map.Sync" in html or ".sync(" in html
    report = (plan_dir / "report.html").read_text(encoding="utf-8")
    assert "A4 landscape" in report and "maps/index.html" in report and "西城区" in report
    assert "达标" in report and "目标与完成情况" in report


@pytest.mark.slow  # over 5 s (it redraws every map): out of `make check`, in `make test`
def test_maps_command_redraws(plan_dir):
    from typer.testing import CliRunner

    from facility_planner.cli import app

    (plan_dir / "maps" / "index.html").unlink()
    r = CliRunner().invoke(app, ["maps", str(plan_dir)])
    assert r.exit_code == 2 and "--force" in r.output  # the maps drawn before are not overwritten silently
    (plan_dir / "report.pdf").write_bytes(b"%PDF-1.4 an earlier report")
    r = CliRunner().invoke(app, ["maps", str(plan_dir), "--force"])
    (plan_dir / "report.pdf").unlink()
    assert r.exit_code == 0, r.output
    assert (plan_dir / "maps" / "index.html").exists()
    assert "report.pdf was not printed again" in r.output  # the PDF beside the new report.html is the old one
    r = CliRunner().invoke(app, ["maps", str(plan_dir.parent / "nothing")])
    assert r.exit_code == 2 and "holds no plan" in r.output


@pytest.mark.browser
@needs_chromium
def test_report_prints_to_pdf_with_the_plan(sample_small_plan, tmp_path, monkeypatch):
    import json
    import subprocess

    import facility_planner.report as report

    assert CHROMIUM, "CI must install chromium (.ci/run)"
    written = sample_small_plan.write(tmp_path / "plan", pdf=True)
    data = (tmp_path / "plan" / "report.pdf").read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 10_000
    manifest = json.loads((tmp_path / "plan" / "manifest.json").read_text(encoding="utf-8"))
    assert "report.pdf" in json.dumps(manifest) and written.messages() == []

    # Chromium failing loses nothing else: the plan and report are written, and the message says why no PDF
    def broken(*a, **k):
        raise subprocess.CalledProcessError(1, ["chromium"], stderr=b"[0101/000000:FATAL] no display")

    monkeypatch.setattr(report, "export_pdf", broken)
    written = sample_small_plan.write(tmp_path / "again", pdf=True)
    assert (tmp_path / "again" / "report.html").exists() and (tmp_path / "again" / "plan.gpkg").exists()
    assert not (tmp_path / "again" / "report.pdf").exists()
    assert any("report.pdf was not written" in m and "no display" in m for m in written.messages())
    # Chromium ending "well" without a file is a failure too, not a silent success
    monkeypatch.setattr(report, "export_pdf", lambda *a, **k: None)
    written = sample_small_plan.write(tmp_path / "silent", pdf=True)
    assert any("without writing the file" in m for m in written.messages())
    # asked for with the report off: said, not skipped in silence
    written = sample_small_plan.write(tmp_path / "nomaps", pdf=True, maps=False)
    assert any("the report is off here" in m for m in written.messages())


def test_cli_pdf_without_the_report_is_refused_before_the_run(tmp_path):
    from typer.testing import CliRunner

    from facility_planner.cli import app

    r = CliRunner().invoke(
        app, ["run", str(ROOT / "scenarios" / "sample_small.yaml"), "--out", str(tmp_path / "o"), "--no-maps", "--pdf"]
    )
    assert r.exit_code == 2 and "--pdf prints the report" in r.output and not (tmp_path / "o").exists()


def test_clustered_sites_leave_the_map_a_maximum_zoom(plan_dir, monkeypatch):
    """Marker clusters need the map's maxZoom; with no tile layer Leaflet has none, and the clusters stopped the page's
    script ("Map has no maxZoom specified"), so a district with many sites showed none of them."""
    import facility_planner.maps as maps

    layers, summary = read_plan_layers(plan_dir)
    monkeypatch.setattr(maps, "CLUSTER_ABOVE", 0)  # cluster every family, as a big district does
    html = plan_map(layers, summary, district="110102").get_root().render()
    assert "markerClusterGroup" in html
    options = html[html.index("L.map(") :][:600]
    assert re.search(r'"maxZoom": \d+', options), options


def test_merged_polygons_tiles_and_overlaps():
    # SYNTHETIC squares. Grid cells tile: merged along their shared edges. Overlapping ones do not tile, and the
    # fast path would be wrong for them: the general union must take over (its area counts the overlap once).
    import numpy as np
    import shapely

    from facility_planner.maps import merged_polygons

    grid = np.array([shapely.box(x, y, x + 1, y + 1) for x in range(4) for y in range(3) if (x, y) != (1, 1)])
    tiled = merged_polygons(grid)
    assert shapely.is_valid(tiled) and tiled.area == pytest.approx(11.0)
    assert tiled.equals(shapely.union_all(grid))  # one shape with the hole at (1, 1)
    overlapping = np.array([shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3)])
    merged = merged_polygons(overlapping)
    assert shapely.is_valid(merged) and merged.area == pytest.approx(7.0)
    # inputs GEOS's coverage union refuses with an error rather than a wrong shape: a T-junction (two cells against
    # the side of a larger one, e.g. where township polygons overlap) and a cell given twice
    t_junction = np.array([shapely.box(0, 0, 2, 2), shapely.box(2, 0, 3, 1), shapely.box(2, 1, 3, 2)])
    assert merged_polygons(t_junction).area == pytest.approx(6.0)
    assert merged_polygons(np.array([shapely.box(0, 0, 1, 1)] * 2)).area == pytest.approx(1.0)
