"""The plan report: targets against achievements, a per-district table, links to the maps. One HTML file, no
external resources, printable at A4 landscape; :func:`export_pdf` prints it with headless Chromium when present."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from pathlib import Path

_CSS = """
@page { size: A4 landscape; margin: 12mm; }
body { font: 13px/1.45 'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif; color: #222; margin: 18px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 18px 0 6px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; page-break-inside: auto; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: right; } th { background: #f0f0f0; }
td.l, th.l { text-align: left; } tr { page-break-inside: avoid; }
.met { color: #1a7f37; font-weight: bold; } .miss { color: #c62828; font-weight: bold; } .na { color: #777; }
.notes li { margin: 2px 0; } .small { color: #555; font-size: 11px; }
@media print { a { color: #222; text-decoration: none; } .noprint { display: none; } }
"""


def _fmt(v, unit: str = "") -> str:
    if v is None:
        return '<span class="na">n/a</span>'
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and "share" in unit:
        return f"{v:.1%}"
    if isinstance(v, float) and float(v).is_integer():
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 10 else f"{v:,.0f}"
    return html.escape(f"{v:,}" if isinstance(v, int) else str(v))


def report_html(summary: dict, map_links: list[tuple[str, str]]) -> str:
    """The report page as a string."""
    e = html.escape
    rows = []
    for f in summary["families"].values():
        met = (
            '<span class="na">n/a</span>'
            if f["met"] is None
            else ('<span class="met">达标 met</span>' if f["met"] else '<span class="miss">未达标 not met</span>')
        )
        if f.get("measured_on") and f["met"] is not None:
            met += f"<br><span class='small'>on {e(f['measured_on'])}</span>"
        gap = "n/a" if f["gap"] is None else f"{f['gap']:.2%}"
        if f.get("gap_exceeded"):
            gap = f"<span class='miss'>{gap} &gt; {f['gap_requested']:.2%} asked</span>"
        cov = f.get("covered_share")
        rows.append(
            f"<tr><td class='l'>{e(f['name_zh'])}<br><span class='small'>{e(f['name_en'])}</span></td>"
            f"<td>{_fmt(f['target'], f['unit'])}</td><td>{_fmt(f['achieved'], f['unit'])}</td><td>{met}</td>"
            f"<td>{_fmt(cov, 'share')}</td>"
            f"<td>{f['sites_new']:,}</td><td>{f['sites_existing']:,}</td><td>{gap}</td><td class='l'>{e(f['unit'])}"
            f"<br><span class='small'>{e(f.get('target_basis') or '')}</span></td></tr>"
        )
    fam_tables = []
    for f in summary["families"].values():
        has_cov = any("covered_share" in d for d in f["districts"])
        trs = "".join(
            f"<tr><td class='l'>{e(str(d.get('name_zh') or ''))} {e(str(d.get('name_en') or ''))}</td>"
            f"<td>{_fmt(d.get('target'))}</td><td>{_fmt(d.get('sites_new'))}</td><td>{_fmt(d.get('sites_existing'))}</td>"
            + (
                f"<td>{_fmt(d.get('covered'))}</td><td>{_fmt(d.get('demand'))}</td>"
                f"<td>{_fmt(d.get('covered_share'), 'share')}</td>"
                if has_cov
                else f"<td>{_fmt(d.get('beds', d.get('allocated')))}</td>"
            )
            + "</tr>"
            for d in f["districts"]
        )
        head = (
            "<th>覆盖 covered</th><th>需求 demand</th><th>覆盖率 share</th>"
            if has_cov
            else "<th>床位/分配 beds or allocated</th>"
        )
        notes = "".join(f"<li>{e(n)}</li>" for n in f.get("notes", []))
        basis = f.get("coverage_basis") or (
            f.get("travel") and (f"travel: {f['travel'].get('mode')}, {f['travel'].get('time_limit_min')} min")
        )
        fam_tables.append(
            f"<h2>{e(f['name_zh'])} · {e(f['name_en'])}</h2>"
            f"<p class='small'>Model: {e(str(f.get('model')))} · {e(str(basis or ''))}</p>"
            f"<table><tr><th class='l'>区 district</th><th>目标 target</th><th>新建 new</th><th>已有 existing</th>{head}</tr>"
            f"{trs}</table><ul class='notes small'>{notes}</ul>"
        )
    links = "".join(f"<li><a href='{e(href)}'>{e(label)}</a></li>" for label, href in map_links)
    notes = "".join(f"<li>{e(n)}</li>" for n in summary.get("notes", []))
    return f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<title>{e(summary["scenario"])} — 规划报告 plan report</title><style>{_CSS}</style></head><body>
<h1>{e(summary["scenario"])} · 规划报告 Plan report</h1>
<p>{e(summary.get("description") or "")}</p>
<p class="small">Area: {e(summary["area"])}{" · district " + e(str(summary["district"])) if summary.get("district") else " · whole area"}
 · travel: {e(summary["travel_mode"])} · {summary["population"]:,} residents, {summary["population_60_plus"]:,} aged 60+ (2020 census)</p>
<h2>目标与完成 Targets and achievements (北京市“十四五”民政事业发展规划)</h2>
<table><tr><th class='l'>设施 facility</th><th>目标 target</th><th>完成 achieved</th><th>是否达标 met</th><th>覆盖率 covered</th><th>新建 new</th>
<th>已有 existing</th><th>最优性差距 solver gap</th><th class='l'>单位 unit</th></tr>{"".join(rows)}</table>
<p class="small">Solver gap: the largest relative distance between a plan and the best bound the solver proved (0% = proven optimal).</p>
<h2>地图 Maps</h2><ul>{links}</ul>
{"".join(fam_tables)}
<h2>数据与假设 Data and assumptions</h2><ul class="notes small">{notes}</ul>
<p class="small">Street data © OpenStreetMap contributors (ODbL). Census: Beijing Municipal Bureau of Statistics, 7th census (2020).</p>
</body></html>"""


def write_report(plan, out_dir: str | Path, *, summary: dict | None = None) -> Path:
    """Write ``report.html`` into ``out_dir``, linking the maps found in ``out_dir/maps``."""
    out = Path(out_dir)
    summary = summary or plan.summary()
    maps = sorted((out / "maps").glob("*.html")) if (out / "maps").exists() else []
    links = [
        (
            "全市 / whole area (index)"
            if p.name == "index.html"
            else p.stem.replace("district_", "").replace("_", " "),
            f"maps/{p.name}",
        )
        for p in sorted(maps, key=lambda p: (p.name != "index.html", p.name))
    ]
    path = out / "report.html"
    tmp = path.with_name(".report.html.tmp")
    tmp.write_text(report_html(summary, links), encoding="utf-8")
    os.replace(tmp, path)
    return path


def chromium_path() -> str | None:
    """The headless Chromium on this machine, if any."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def run_headless(url: str, *args: str, timeout_s: float = 60, exe: str | None = None) -> None:
    """Open ``url`` in headless Chromium with every network request blocked (a throwaway profile), passing ``args``
    (e.g. ``--screenshot=…`` or ``--print-to-pdf=…``). Used for the PDF export, the map tests and the benchmark."""
    import tempfile

    exe = exe or chromium_path()
    if exe is None:
        from ._errors import FacilityPlannerError

        raise FacilityPlannerError(
            "no Chromium found; install it (Debian: apt-get install chromium), or print "
            "report.html from a browser (A4 landscape is preset)."
        )
    with tempfile.TemporaryDirectory() as prof:
        subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={prof}",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--proxy-server=127.0.0.1:9",
                *args,
                url,
            ],
            check=True,
            timeout=timeout_s,
            capture_output=True,
        )


def export_pdf(report: str | Path, pdf: str | Path | None = None, *, timeout_s: float = 60) -> Path:
    """Print the report to PDF (A4 landscape) with headless Chromium, offline."""
    report = Path(report).resolve()
    pdf = Path(pdf) if pdf else report.with_suffix(".pdf")
    run_headless(report.as_uri(), "--no-pdf-header-footer", f"--print-to-pdf={pdf.resolve()}", timeout_s=timeout_s)
    return pdf


__all__ = ["export_pdf", "report_html", "run_headless", "write_report"]
