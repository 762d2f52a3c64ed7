"""What a planner reads: district and township tables (summary.csv, plan.xlsx), the comparison page, the report in
Chinese with static maps, maps that read at a glance, and progress that stays quiet off a terminal.

Two plans of Xicheng at 1 km cells: A is ``sample_small.yaml`` (run once per session, see conftest); B walks at
3 km/h and plans 20 stations citywide (Xicheng's part: 1 station), so many older people are left uncovered.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from facility_planner import ValidationError
from facility_planner.compare import (
    check_comparable,
    compare_summaries,
    comparison_page,
    resolve_plan_district,
    site_changes,
)
from facility_planner.maps import plan_map, read_plan_layers
from facility_planner.pipeline import run_scenario
from facility_planner.scenario import scenario_from_dict
from facility_planner.tables import weighted_quantile

ROOT = Path(__file__).resolve().parents[1]
SMALL = str(ROOT / "scenarios" / "sample_small.yaml")


@pytest.fixture(scope="module")
def plans(tmp_path_factory, sample_small_plan, sample_small_written):
    base = tmp_path_factory.mktemp("plans")
    a = sample_small_plan
    shutil.copytree(sample_small_written, base / "a")  # the same files as a.write(base / "a")
    scn_b = scenario_from_dict(
        {
            "name": "sample_small_3kmh",
            "extends": SMALL,
            "travel": {"speed_kmh": 3.0},
            "families": {"eldercare_stations": {"count": 20}},
        }
    )
    b = run_scenario(scn_b)
    b.write(base / "b", lang="en")
    return a, b, base / "a", base / "b"


# ------------------------------------------------------------------------------------------------------------ tables


def test_weighted_quantile_matches_the_repeated_values():
    rng = np.random.default_rng(1)
    v = rng.uniform(0, 100, 40)
    w = rng.integers(0, 5, 40)
    rep = np.repeat(v, w)
    for q in (0.5, 0.9):
        # the smallest value with at least q of the weight at or below it
        expected = np.sort(rep)[int(np.ceil(q * len(rep))) - 1]
        assert weighted_quantile(v, w.astype(float), q) == pytest.approx(expected)


def test_summary_csv_has_township_rows_rounded_one_unit_per_column(plans):
    a, _, dir_a, _ = plans
    csv = pd.read_csv(dir_a / "summary.csv", encoding="utf-8-sig", dtype={"district_code": str, "township_code": str})
    towns = a.demand.townships
    n_towns = int((towns["district_code"] == "110102").sum())
    assert set(csv["level"]) == {"total", "district", "township"}
    assert (csv["level"] == "township").sum() == n_towns * len(a.families)
    st = csv[csv["family"] == "eldercare_stations"]
    t = st[st["level"] == "township"]
    assert t["township_zh"].notna().all() and t["township_code"].str.startswith("110102").all()
    # sites of the townships add up to the plan's, people covered + uncovered = demand
    total = st[st["level"] == "total"].iloc[0]
    assert t["sites_new"].sum() == total["sites_new"] == a.summary()["families"]["eldercare_stations"]["sites_new"]
    assert (t["covered"] + t["uncovered"] - t["demand"]).abs().max() <= 1
    # shares in percent with one decimal; counts integers; a share target never sits in a count column
    ps = csv[(csv["family"] == "psych_points") & (csv["level"] == "total")].iloc[0]
    assert ps["target_pct"] == 80.0 and pd.isna(ps["target_count"])
    assert ps["achieved_pct"] == round(ps["achieved_pct"], 1) and 80 <= ps["achieved_pct"] <= 100
    text = (dir_a / "summary.csv").read_text(encoding="utf-8-sig")
    assert not re.search(r"\d\.\d{3,}", text), "a number with more than two decimals in summary.csv"
    # a bed family's district rows count beds, as its total row does (not sites against a beds target)
    fams = a.summary()["families"]
    bed_fams = [k for k, f in fams.items() if "bed" in (f["unit"] or "")]
    assert "home_care_beds" in bed_fams
    for k in bed_fams:
        for d in fams[k]["districts"]:
            row = csv[
                (csv["family"] == k) & (csv["level"] == "district") & (csv["district_code"] == d["district_code"])
            ]
            assert row["unit"].iloc[0] == "beds"
            assert row["achieved_count"].iloc[0] == round(d.get("allocated", d.get("beds")))


def test_plan_xlsx_has_a_townships_sheet_and_site_tables(plans):
    import openpyxl

    a, _, dir_a, _ = plans
    wb = openpyxl.load_workbook(dir_a / "plan.xlsx", read_only=True)
    assert {"targets", "townships", "sites eldercare_stations"} <= set(wb.sheetnames)
    sheet = pd.read_excel(dir_a / "plan.xlsx", sheet_name="sites eldercare_stations")
    assert len(sheet) == len(a.families["eldercare_stations"].sites)
    lon, lat = sheet["经度 lon (WGS-84)"], sheet["纬度 lat (WGS-84)"]
    assert lon.between(116.2, 116.5).all() and lat.between(39.8, 40.0).all()  # Xicheng
    assert sheet["服务人数 people served"].notna().all() and sheet["街乡镇 township"].notna().all()
    towns = pd.read_excel(dir_a / "plan.xlsx", sheet_name="townships")
    assert len(towns) == (a.demand.townships["district_code"] == "110102").sum() * len(a.families)


def test_uncovered_cells_carry_the_distance_to_the_nearest_site(plans):
    dir_b = plans[3]
    unc = pd.read_excel(dir_b / "plan.xlsx", sheet_name="uncovered eldercare_stations")
    d = unc["距最近设施(米) nearest site m"]
    # B walks at 3 km/h for 15 min with detour 1.2: 625 m in a straight line, so every uncovered cell centre is farther
    assert len(unc) > 0 and (d >= 625).all() and d.max() > 1000
    assert unc["人数 people"].sum() > 0


# ----------------------------------------------------------------------------------------------------------- compare


def test_compare_shows_the_coverage_change_and_site_changes(plans):
    la, sa = read_plan_layers(plans[2])
    lb, sb = read_plan_layers(plans[3])
    t = compare_summaries(sa, sb, layers=(la, lb)).set_index("family")
    st = t.loc["eldercare_stations"]
    ca = 100 * sa["families"]["eldercare_stations"]["covered_share"]
    cb = 100 * sb["families"]["eldercare_stations"]["covered_share"]
    assert st["coverage_change_pp"] == pytest.approx(cb - ca) and st["coverage_change_pp"] < -10
    assert st["sites_change"] == st["sites_b"] - st["sites_a"] < 0
    assert st["kept"] + st["moved"] + st["removed"] == st["sites_a"]
    assert st["kept"] + st["moved"] + st["added"] == st["sites_b"]


def test_site_changes_follow_the_rule():
    import geopandas as gpd
    from shapely.geometry import Point

    def sites(ids, xy):
        return gpd.GeoDataFrame({"site_id": ids}, geometry=[Point(x, y) for x, y in xy], crs="EPSG:32650")

    # SYNTHETIC: s1 kept (same id), s2 → t2 300 m away (moved), s3 has nothing within 500 m (removed), t4 added
    a = sites(["s1", "s2", "s3"], [(0, 0), (5000, 0), (10000, 0)])
    b = sites(["s1", "t2", "t4"], [(0, 0), (5300, 0), (10900, 0)])
    ch = site_changes(a, b).set_index("site_id")
    assert ch.loc["s1", "fate"] == "kept" and ch.loc["s2", "fate"] == "moved" and ch.loc["s2", "moved_m"] == 300
    assert ch.loc["s3", "fate"] == "removed" and ch.loc["t4", "fate"] == "added"
    assert site_changes(a, b, moved_within_m=1000).set_index("site_id").loc["s3", "fate"] == "moved"
    # one 500 m cell over, whatever the rounding of the coordinates: within 500 m counts as moved
    for dx in (500.0, 500.0000000001, 499.9999999999):
        c = sites(["s1", "u2"], [(0, 0), (5000 + dx, 0)])
        assert site_changes(a[:2], c).set_index("site_id").loc["s2", "fate"] == "moved"


def test_compare_district_by_name_and_refusals(plans):
    _, sa = read_plan_layers(plans[2])
    _, sb = read_plan_layers(plans[3])
    assert resolve_plan_district("西城", sa, sb) == resolve_plan_district("Xicheng", sa, sb) == "110102"
    assert resolve_plan_district("110102", sa, sb) == "110102"
    with pytest.raises(ValidationError, match="Miyun"):
        resolve_plan_district("Miyun", sa, sb)
    other = json.loads(json.dumps(sb))
    other["districts"] = ["110102", "110228"]
    del other["families"]["funeral_homes"]
    with pytest.raises(ValidationError) as err:
        check_comparable(sa, other)
    assert "different areas" in str(err.value) and "funeral_homes" in str(err.value)


@pytest.mark.slow  # over 3 s: out of `make check`, in `make test`
def test_compare_command_writes_a_page_and_refuses_cleanly(plans, tmp_path):
    from typer.testing import CliRunner

    from facility_planner.cli import app

    out = tmp_path / "cmp.html"
    r = CliRunner().invoke(app, ["compare", str(plans[2]), str(plans[3]), "--out", str(out), "--district", "西城区"])
    assert r.exit_code == 0, r.output
    assert "coverage Δ pp" in r.output and "-" in r.output.split("Community eldercare stations")[1].split("\n")[0]
    page = out.read_text(encoding="utf-8")
    assert "方案比较 Plan comparison" in page and "fp-side" in page and ".sync(" in page
    assert "只在B added" in page and "<table>" in page
    # the two runs are told apart by their folders, not only by their (possibly equal) scenario names
    assert f"{plans[2].name} (" in page and f"{plans[3].name} (" in page
    r = CliRunner().invoke(app, ["compare", str(plans[2]), str(plans[3]), "--out", str(out), "--district", "Miyun"])
    assert r.exit_code == 2 and "--force" in r.output and page == out.read_text(encoding="utf-8")  # kept
    args = ["compare", str(plans[2]), str(plans[3]), "--out", str(out), "--district", "Miyun", "--force"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2 and "Traceback" not in r.output and "Xicheng" in r.output


def test_comparison_page_table_beside_two_maps(plans):
    la, sa = read_plan_layers(plans[2])
    lb, sb = read_plan_layers(plans[3])
    page, table = comparison_page(la, lb, (sa, sb), district="Xicheng")
    html = page.get_root().render()
    assert html.count("L.map(") == 2 and "coverage Δ pp" in html and "西城区" in html
    assert table.set_index("family").loc["eldercare_stations", "coverage_change_pp"] < 0


# ------------------------------------------------------------------------------------------------------------ report


def _pngs(html: str) -> list[bytes]:
    return [base64.b64decode(x) for x in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)]


def test_report_in_chinese_with_a_map_per_family_and_township_table(plans):
    from PIL import Image

    a, _, dir_a, _ = plans
    html = (dir_a / "report.html").read_text(encoding="utf-8")
    for heading in ("规划报告", "目标与完成情况", "街乡镇情况", "分区情况", "数据与假设"):
        assert heading in html
    with_sites = [k for k, f in a.summary()["families"].items() if f["sites_new"] + f["sites_existing"]]
    pngs = _pngs(html)
    assert len(pngs) >= len(with_sites)
    assert Image.open(io.BytesIO(pngs[0])).size[0] > 500
    assert "〔英文原文〕" not in html, "a note of the sample plan has no Chinese template"
    assert "A4 landscape" in html and 'lang="zh-CN"' in html
    # family names inside a translated note are Chinese too (the list of families given no existing sites)
    li = re.search(r"<li>以下设施未提供现有设施位置[^<]*</li>", html)
    assert li and "社区养老服务驿站" in li.group() and "community" not in li.group()
    for t in a.demand.townships[a.demand.townships["district_code"] == "110102"]["name_zh"]:
        assert t in html


def test_report_in_english_and_curve_hook(plans, tmp_path):
    from facility_planner.report import write_report

    dir_b = plans[3]
    html = (dir_b / "report.html").read_text(encoding="utf-8")
    assert "Targets and achievements" in html and "目标与完成情况" not in html and 'lang="en"' in html
    (tmp_path / "curve.svg").write_text('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" id="fp-curve"/>')
    layers, summary = read_plan_layers(dir_b)
    out = write_report(None, tmp_path, summary=summary, layers=layers, lang="zh", figures=False)
    page = out.read_text(encoding="utf-8")
    assert 'id="fp-curve"' in page and "权衡曲线" in page and "<?xml" not in page
    with pytest.raises(ValidationError, match="zh, en"):
        write_report(None, tmp_path, summary=summary, layers=layers, lang="fr")


def test_every_text_has_both_languages():
    from facility_planner._i18n import TEXT, note

    assert all(set(v) == {"zh", "en"} and v["zh"] and (v["en"] or k == "untranslated") for k, v in TEXT.items())
    zh, ok = note("people aged 60+ within 15 min (walking at 4 km/h, detour × 1.2)")
    assert ok and "60岁以上" in zh and "步行" in zh
    assert note("a note nobody wrote a template for") == ("a note nobody wrote a template for", False)
    zh, ok = note(
        "the district minimum of 30% is not reached: 23.6% of people aged 60+ within reach with 29 new site(s)"
    )
    assert ok and "30%" in zh and "23.6%" in zh and "29" in zh and "reached" not in zh
    zh, ok = note(
        "planned only in Tongzhou, Changping (the block's `within.districts`), none of them in this plan's area: "
        "the target does not apply here"
    )
    assert ok and "Tongzhou, Changping" in zh and "不适用" in zh
    # an equity rule's price, every part of it in Chinese (it was half English in the report)
    zh, ok = note(
        "the district minimum of 30% covered costs between 0.2 and 3.1 points of coverage: 68.7% covered without it "
        "(proven ≤ 70.1%), 67.0% with it (the plans found differ by 1.7 points; the interval is what is proven)."
    )
    assert ok and "各区覆盖率不低于 30%" in zh and "0.2 至 3.1 个百分点" in zh and "已证明不超过 70.1%" in zh
    assert "相差 1.7 个百分点" in zh and not re.search("[A-Za-z]", zh)
    zh, ok = note(
        "quotas by township (each its part of the count, split by people aged 60+) costs 9.6 points of coverage: "
        "67.2% covered without it (proven ≤ 70.1%), 57.6% with it."
    )
    assert ok and "按街乡镇配额" in zh and "9.6 个百分点" in zh and not re.search("[A-Za-z]", zh)


# -------------------------------------------------------------------------------------------------------------- maps


def test_district_map_metric_scale_and_uncovered_cells_with_their_own_numbers(plans):
    layers, summary = read_plan_layers(plans[3])
    html = plan_map(layers, summary, district="110102").get_root().render()
    assert "L.control.scale({metric: true, imperial: false" in html and "position: 'bottomright'" in html
    assert "control_scale" not in html.lower() or "imperial: true" not in html
    assert "fp-legend" in html and "bottom:24px;left:12px" in html  # legend bottom-left, scale bottom-right
    # one filled square per uncovered cell, each with its own older people and nearest-site distance in its tooltip
    unc = layers["demand_cells"]
    unc = unc[~unc["covered_eldercare_stations"] & (unc["pop_60"] > 0)]
    arrays = [json.loads(x) for x in re.findall(r"var rows = (\[\[.*?\]\]),", html)]
    rows = next(r for r in arrays if len(r) == len(unc))
    assert sorted(round(v) for v in unc["pop_60"]) == sorted(r[4] for r in rows) and len({r[4] for r in rows}) > 1
    assert (
        min(r[5] for r in rows) >= 625
        and all(r[2] > 0 and r[3] > 0 for r in rows)
        and "bindTooltip" in html
        and "L.rectangle" in html
    )
    assert "\\u672a\\u8986\\u76d6" in html or "未覆盖" in html  # the layer's Chinese name
    assert "fp-town" in html  # township names at district zoom


def test_one_colour_scale_for_every_district_and_clusters_for_dense_families(plans):
    from facility_planner import maps as fpmaps

    layers, summary = read_plan_layers(plans[2])
    breaks = [0.0, 1.0, 2.0, 3.0, 123456.0]
    html = plan_map(layers, summary, district="110102", older_breaks=breaks).get_root().render()
    assert "123,456+" in html  # the legend shows the breaks it was given, not the district's own
    assert fpmaps.citywide_breaks(layers["demand_cells"]) == sorted(fpmaps.citywide_breaks(layers["demand_cells"]))
    n = len(layers["sites_home_care_beds"])
    assert n > fpmaps.CLUSTER_ABOVE and "markerClusterGroup" in html
    saved = fpmaps.inline_html(html)
    assert fpmaps.external_references(saved) == [] and "MarkerClusterGroup" in saved
    # the site tooltips are in the families' GeoJSON, which folium writes with \u escapes
    assert json.dumps("服务人数 people served")[1:-1] in html


# ---------------------------------------------------------------------------------------------------------- progress


def test_progress_is_quiet_in_ci_and_off_a_terminal(monkeypatch):
    from facility_planner import progress as pg

    items = [1, 2, 3]
    monkeypatch.setenv("CI", "true")
    assert not pg.enabled() and pg.progress(items, desc="x") is items
    monkeypatch.delenv("CI")
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal
    assert not pg.enabled()
    with pg.step("demand"):
        pass

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    monkeypatch.setattr("sys.stderr", tty)
    assert pg.enabled()
    assert list(pg.progress(items, desc="families", label=str)) == items
    assert "families" in tty.getvalue()


def test_static_map_fill_draws_the_shapes_geopandas_draws_holes_and_parts_included():
    """SYNTHETIC polygons (one with a hole wound like its exterior, one of two parts): the single collection the
    report's maps use paints the same pixels as geopandas' patch per polygon, and leaves the hole unpainted."""
    import geopandas as gpd
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from shapely.geometry import MultiPolygon, Polygon, box

    from facility_planner.staticmaps import _fill

    ring = Polygon(box(0, 0, 10, 10).exterior.coords, [box(3, 3, 7, 7).exterior.coords])
    two = MultiPolygon([box(12, 0, 15, 4), box(12, 6, 15, 10)])
    geoms = gpd.GeoSeries([ring, two, box(16, 0, 20, 10)])
    colors = ["#d7301f", "#1f4e9c", "#fc8d59"]
    assert ring.exterior.is_ccw and ring.interiors[0].is_ccw  # the hole wound like its exterior

    def draw(fill_with) -> tuple[np.ndarray, Any]:
        fig = Figure(figsize=(4, 2), dpi=80)
        ax = fig.subplots()
        fill_with(ax)
        ax.set_xlim(-1, 21)
        ax.set_ylim(-1, 11)
        ax.set_aspect("equal")
        ax.set_axis_off()
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].astype(int), ax

    ours, ax = draw(lambda ax: _fill(ax, geoms.to_numpy(), colors))
    theirs, _ = draw(lambda ax: gpd.GeoDataFrame(geometry=geoms).plot(ax=ax, color=colors, linewidth=0))
    differ = np.abs(ours - theirs).sum(axis=2) > 60
    assert differ.mean() < 0.002  # antialiased edges at most

    def pixel(x: float, y: float) -> tuple[int, ...]:
        px, py = ax.transData.transform((x, y))
        return tuple(ours[ours.shape[0] - int(py), int(px)])

    hole, solid = pixel(5, 5), pixel(1, 1)  # the hole's centre, and inside the ring
    assert tuple(hole) == (255, 255, 255) and tuple(solid) != (255, 255, 255)
