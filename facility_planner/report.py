"""The plan report: targets against achievements, a per-district table, links to the maps. One HTML file, no
external resources, printable at A4 landscape; :func:`export_pdf` prints it with headless Chromium when present."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ._chromium import run_headless

if TYPE_CHECKING:
    import pandas as pd

_CSS = """
@page { size: A4 landscape; margin: 12mm; }
body { font: 13px/1.45 'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif; color: #222; margin: 18px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 18px 0 6px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; page-break-inside: auto; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: right; } th { background: #f0f0f0; }
td.l, th.l { text-align: left; } tr { page-break-inside: avoid; }
.met { color: #1a7f37; font-weight: bold; } .miss { color: #c62828; font-weight: bold; } .na { color: #777; }
.notes li { margin: 2px 0; } .small { color: #555; font-size: 11px; }
h3 { font-size: 14px; margin: 10px 0 4px; } figure { margin: 6px 0; page-break-inside: avoid; display: inline-block; }
img.map { width: 100%; max-width: 250mm; border: 1px solid #ccc; } figcaption { font-size: 11px; color: #555; }
section.fam { page-break-before: auto; } section.towns { page-break-before: always; }
section.fam h2 { page-break-after: avoid; }
table.wide { font-size: 10px; } table.wide th { font-weight: normal; } .curve svg { max-width: 100%; height: auto; }
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


def _n(v, lang: str) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return f'<span class="na">{_T("na", lang)}</span>'
    return f"{float(v):,.0f}"


def _pctf(v, lang: str) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return f'<span class="na">{_T("na", lang)}</span>'
    return f"{100 * float(v):.1f}%"


def _T(key: str, lang: str, **kw) -> str:
    from ._i18n import text

    return html.escape(text(key, lang, **kw))


def _note_html(s: str | None, lang: str, names: dict[str, str] | None = None) -> str:
    from ._i18n import note, text

    out, ok = note(s, lang)
    if ok:
        if lang == "zh" and names:  # family names inside a translated note, e.g. the list of families with no sites
            for en in sorted(names, key=len, reverse=True):
                out = out.replace(en, names[en])
        return html.escape(out)
    return f"<span class='small'>{html.escape(text('untranslated', lang))}</span>{html.escape(out)}"


def _img(png: bytes, alt: str) -> str:
    import base64

    return f"<img class='map' alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"


def report_html(
    summary: dict,
    map_links: list[tuple[str, str]],
    *,
    lang: str = "zh",
    units: pd.DataFrame | None = None,
    figures: dict[str, list[tuple[str, bytes]]] | None = None,
    curve_svg: str | None = None,
) -> str:
    """The report page as a string: Chinese first (``lang="zh"``), English with ``lang="en"``.

    Parameters
    ----------
    summary
        The plan summary.
    map_links
        (label, relative href) of the interactive maps.
    units
        The plan's unit tables (:func:`facility_planner.tables.unit_tables`) for the district and township tables.
    figures
        Static maps: family key or ``"districts"`` → [(caption, PNG bytes)].
    curve_svg
        The trade-off curve (``curve.svg`` of the plan folder) when present.
    """
    from ._i18n import MODELS_ZH, value
    from ._i18n import unit as unit_t

    e = html.escape
    L = lang
    zh = L == "zh"
    figures = figures or {}

    def fname(f):
        return (
            f"{e(f['name_zh'])}<br><span class='small'>{e(f['name_en'])}</span>"
            if zh
            else (f"{e(f['name_en'])}<br><span class='small'>{e(f['name_zh'])}</span>")
        )

    def val(v, u):
        if v is None:
            return f'<span class="na">{_T("na", L)}</span>'
        if isinstance(v, float) and "share" in u:
            return f"{v:.1%}"
        return f"{v:,.0f}" if float(v).is_integer() or abs(v) >= 10 else f"{v:,.2f}"

    rows = []
    for f in summary["families"].values():
        met = (
            f'<span class="na">{_T("na", L)}</span>'
            if f["met"] is None
            else (
                f'<span class="met">{_T("yes", L)}</span>' if f["met"] else f'<span class="miss">{_T("no", L)}</span>'
            )
        )
        if f.get("measured_on") and f["met"] is not None:
            met += f"<br><span class='small'>{_T('on_part', L, what=_note_html(f['measured_on'], L))}</span>"
        gap = _T("na", L) if f["gap"] is None else f"{f['gap']:.2%}"
        if f.get("gap_exceeded"):
            asked = f"{f['gap_requested']:.2%}"
            gap = f"<span class='miss'>{_T('gap_over', L, gap=gap, asked=asked)}</span>"
        rows.append(
            f"<tr><td class='l'>{fname(f)}</td>"
            f"<td>{val(f['target'], f['unit'])}</td><td>{val(f['achieved'], f['unit'])}</td><td>{met}</td>"
            f"<td>{_pctf(f.get('covered_share'), L)}</td>"
            f"<td>{f['sites_new']:,}</td><td>{f['sites_existing']:,}</td><td>{gap}</td>"
            f"<td class='l'>{e(unit_t(f['unit'], L))}<br><span class='small'>{_note_html(f.get('target_basis'), L)}"
            "</span></td></tr>"
        )
    fam_sections = []
    for key, f in summary["families"].items():
        u = units[units["family"] == key] if units is not None and len(units) else None
        has_cov = any("covered_share" in d for d in f["districts"])
        head = (
            f"<th class='l'>{_T('district', L)}</th><th>{_T('target', L)}</th><th>{_T('new', L)}</th>"
            f"<th>{_T('existing', L)}</th><th>{_T('demand', L)}</th>"
            + (
                f"<th>{_T('covered', L)}</th><th>{_T('uncovered', L)}</th><th>{_T('covered_share', L)}</th>"
                if has_cov
                else f"<th>{_T('beds_or_allocated', L)}</th>"
            )
            + f"<th>{_T('nearest_median', L)}</th><th>{_T('nearest_p90', L)}</th>"
        )
        trs = []
        for d in f["districts"]:
            ur = None
            if u is not None:
                m = u[(u["level"] == "district") & (u["district_code"].astype(str) == str(d["district_code"]))]
                ur = m.iloc[0] if len(m) else None
            dn = d.get("name_zh") if zh else (d.get("name_en") or d.get("name_zh"))
            cov = (
                f"<td>{_n(d.get('covered'), L)}</td>"
                f"<td>{_n(None if d.get('covered') is None else d.get('demand', 0) - d['covered'], L)}</td>"
                f"<td>{_pctf(d.get('covered_share'), L)}</td>"
                if has_cov
                else f"<td>{_n(d.get('beds', d.get('allocated')), L)}</td>"
            )
            near = (
                f"<td>{_n(ur['nearest_median_m'], L)}</td><td>{_n(ur['nearest_p90_m'], L)}</td>"
                if ur is not None
                else f"<td>{_n(None, L)}</td><td>{_n(None, L)}</td>"
            )
            trs.append(
                f"<tr><td class='l'>{e(str(dn or ''))}</td><td>{_n(d.get('target'), L)}</td>"
                f"<td>{_n(d.get('sites_new'), L)}</td><td>{_n(d.get('sites_existing'), L)}</td>"
                f"<td>{_n(d.get('demand'), L)}</td>{cov}{near}</tr>"
            )
        notes = "".join(f"<li>{_note_html(n, L)}</li>" for n in f.get("notes", []))
        basis = f.get("coverage_basis") or f.get("travel_basis") or ""
        model = MODELS_ZH.get(f.get("model"), f.get("model")) if zh else f.get("model")
        figs = "".join(f"<figure>{_img(png, cap)}<figcaption>{e(cap)}</figcaption></figure>" for cap, png in
                       figures.get(key, []))  # fmt: skip
        if not figs and f["sites_new"] + f["sites_existing"] == 0:
            figs = f"<p class='small'>{_T('no_sites', L)}</p>"
        fam_sections.append(
            f"<section class='fam'><h2>{e(f['name_zh'] if zh else f['name_en'])} · "
            f"{e(f['name_en'] if zh else f['name_zh'])}</h2>"
            f"<p class='small'>{_T('model', L)}: {e(str(model))} · {_note_html(basis, L)}</p>{figs}"
            f"<h3>{_T('by_district', L)}</h3><table><tr>{head}</tr>{''.join(trs)}</table>"
            f"<h3>{_T('notes', L)}</h3><ul class='notes small'>{notes}</ul></section>"
        )
    towns = _township_table(summary, units, L) if units is not None and len(units) else ""
    dfigs = "".join(f"<figure>{_img(png, cap)}<figcaption>{e(cap)}</figcaption></figure>" for cap, png in
                    figures.get("districts", []))  # fmt: skip
    links = "".join(f"<li><a href='{e(href)}'>{e(label)}</a></li>" for label, href in map_links)
    fam_zh = {}
    for f in summary["families"].values():
        if f.get("name_en") and f.get("name_zh"):
            fam_zh[f["name_en"]] = fam_zh[f["name_en"].lower()] = f["name_zh"]
    notes = "".join(f"<li>{_note_html(n, L, fam_zh)}</li>" for n in summary.get("notes", []))
    district = summary.get("district")
    dname = ""
    if district:
        for f in summary["families"].values():
            for d in f["districts"]:
                if str(d["district_code"]) == str(district):
                    dname = d.get("name_zh") if zh else d.get("name_en")
    curve = f"<h2>{_T('curve', L)}</h2><div class='curve'>{curve_svg}</div>" if curve_svg else ""
    title = f"{e(summary['scenario'])} · {_T('report', L)}"
    return f"""<!DOCTYPE html><html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">
<title>{title}</title><style>{_CSS}</style></head><body>
<h1>{title}</h1>
<p>{e(summary.get("description") or "")}</p>
<p class="small">{_T("area", L)}: {e(value(summary["area"], L))} · {e(str(dname or district)) if district else _T("whole_area", L)}
 · {_T("travel", L)}: {e(value(summary["travel_mode"], L))} · {_T("residents", L, n=summary["population"], n60=summary["population_60_plus"])}</p>
<h2>{_T("targets", L)}</h2>
<table><tr><th class='l'>{_T("facility", L)}</th><th>{_T("target", L)}</th><th>{_T("achieved", L)}</th><th>{_T("met", L)}</th>
<th>{_T("covered_share", L)}</th><th>{_T("new", L)}</th><th>{_T("existing", L)}</th><th>{_T("gap", L)}</th>
<th class='l'>{_T("unit", L)}</th></tr>{"".join(rows)}</table>
<p class="small">{_T("gap_note", L)}</p>
{curve}
<h2 class="noprint">{_T("maps", L)}</h2><ul class="noprint">{links}</ul>
{"<h2>" + _T("static_maps", L) + "</h2>" + dfigs if dfigs else ""}
{"".join(fam_sections)}
{towns}
<h2>{_T("data", L)}</h2><ul class="notes small">{notes}</ul>
<p class="small">{_T("sources", L)}</p>
</body></html>"""


def _township_table(summary: dict, units, L: str) -> str:
    """One table of every township-level unit: sites per family; uncovered and share for coverage families."""
    e = html.escape
    zh = L == "zh"
    t = units[units["level"] == "township"]
    fams = [k for k, f in summary["families"].items() if f["sites_new"] + f["sites_existing"] > 0]
    cov = [k for k in fams if t[t["family"] == k]["covered"].notna().any()]
    if not fams:
        return ""
    name = (lambda f: f["name_zh"]) if zh else (lambda f: f["name_en"])
    head = (
        f"<tr><th class='l'>{_T('district', L)}</th><th class='l'>{_T('township', L)}</th>"
        + "".join(f"<th>{e(name(summary['families'][k]))}<br>{_T('sites', L)}</th>" for k in fams)
        + "".join(
            f"<th>{e(name(summary['families'][k]))}<br>{_T('uncovered', L)}</th>"
            f"<th>{e(name(summary['families'][k]))}<br>{_T('covered_share', L)}</th>"
            f"<th>{e(name(summary['families'][k]))}<br>{_T('nearest_median', L)}</th>"
            for k in cov
        )
        + "</tr>"
    )
    by = {k: t[t["family"] == k].set_index("township_code") for k in fams}
    first = by[fams[0]]
    rows = []
    for code, r in first.sort_values(["district_code", "township_code"]).iterrows():
        cells = "".join(
            f"<td>{_n(by[k].at[code, 'sites_new'] + by[k].at[code, 'sites_existing'], L)}</td>" for k in fams
        )
        cells += "".join(
            f"<td>{_n(by[k].at[code, 'uncovered'], L)}</td><td>{_pctf(by[k].at[code, 'covered_share'], L)}</td>"
            f"<td>{_n(by[k].at[code, 'nearest_median_m'], L)}</td>"
            for k in cov
        )
        rows.append(f"<tr><td class='l'>{e(str(r['district_zh']))}</td><td class='l'>{e(str(r['township_zh']))}</td>"
                    f"{cells}</tr>")  # fmt: skip
    return (
        f"<section class='towns'><h2>{_T('townships', L)}</h2><p class='small'>{_T('townships_intro', L)}</p>"
        f"<table class='wide'>{head}{''.join(rows)}</table></section>"
    )


def _figures(layers: dict, summary: dict, lang: str) -> dict[str, list[tuple[str, bytes]]]:
    """Static maps: one per family with sites (the whole plan area) and one per district (every family)."""
    from ._i18n import text
    from .maps import family_styles
    from .progress import progress
    from .staticmaps import cell_breaks, has_cjk_font, plan_png

    # without a Chinese font the figures are labelled in English (the page around them stays in ``lang``)
    flang = lang if has_cjk_font() else "en"
    styles = family_styles(summary)
    if flang == "en":
        styles = {k: {**v, "name_zh": v["name_en"]} for k, v in styles.items()}
    legend = {"older": text("older", flang), "uncovered": text("uncov_legend", flang)}
    lang = flang
    zh = lang == "zh"
    out: dict[str, list[tuple[str, bytes]]] = {}
    import geopandas as gpd

    from . import settings

    # project once: every figure is drawn in metres
    layers = {
        k: v.to_crs(settings.working_crs) if isinstance(v, gpd.GeoDataFrame) and v.crs is not None else v
        for k, v in layers.items()
        if k in ("districts", "townships", "demand_cells") or k.startswith("sites_")
    }
    dist = layers["districts"]
    one = summary.get("district") or (str(dist["district_code"].iloc[0]) if len(dist) == 1 else None)
    breaks = cell_breaks(layers["demand_cells"])
    todo = [k for k, f in summary["families"].items() if f["sites_new"] + f["sites_existing"] > 0]
    for key in progress(todo, desc="report maps", unit="family"):
        st = styles[key]
        cap = text("family_map", lang, name=st["name_zh"] if zh else st["name_en"])
        png = plan_png(layers, family=key, families={key: st}, district=one, breaks=breaks if one else None,
                       title=cap, legend=legend)  # fmt: skip
        out[key] = [(cap, png)]
    if one is None:
        present = {k: styles[k] for k in todo}
        for r in progress(list(dist.itertuples()), desc="report maps", unit="district"):
            name = r.name_zh if zh else r.name_pinyin
            cap = text("district_map", lang, name=name)
            png = plan_png(layers, families=present, district=str(r.district_code), breaks=breaks, title=cap,
                           legend=legend)  # fmt: skip
            out.setdefault("districts", []).append((cap, png))
    return out


def check_lang(lang: str) -> None:
    """Refuse a report language we cannot write, before any work is done.

    Raises
    ------
    ValidationError
        When ``lang`` is not one of ``zh`` and ``en``.
    """
    from ._errors import ValidationError
    from ._i18n import LANGS

    if lang not in LANGS:
        raise ValidationError("lang", [f"the report's language must be one of {', '.join(LANGS)}; got {lang!r}."])


def write_report(
    plan,
    out_dir: str | Path,
    *,
    summary: dict | None = None,
    layers: dict | None = None,
    lang: str = "zh",
    figures: bool = True,
) -> Path:
    """Write ``report.html`` into ``out_dir``: Chinese first (``lang="zh"``) or English (``lang="en"``).

    It links the maps found in ``out_dir/maps``, embeds a static map per family and per district (PNG, drawn
    offline), the district and township tables, and the trade-off curve when ``out_dir/curve.svg`` exists.
    ``plan`` may be ``None`` when ``summary`` and ``layers`` (of a written plan folder) are given.
    """
    from ._i18n import text

    check_lang(lang)
    out = Path(out_dir)
    summary = summary or plan.summary()
    if layers is None and plan is not None:
        layers = plan.layers()
    units = layers.get("unit_tables") if layers is not None else None
    if units is not None and not len(units):
        units = None
    maps = sorted((out / "maps").glob("*.html")) if (out / "maps").exists() else []
    links = [
        (
            text("whole_map", lang) if p.name == "index.html" else p.stem.replace("district_", "").replace("_", " "),
            f"maps/{p.name}",
        )
        for p in sorted(maps, key=lambda p: (p.name != "index.html", p.name))
    ]
    figs = _figures(layers, summary, lang) if figures and layers is not None else {}
    curve = out / "curve.svg"  # written by the curves step when it runs; embedded when present
    svg = None
    if curve.exists():
        svg = curve.read_text(encoding="utf-8")
        svg = svg[svg.find("<svg") :] if "<svg" in svg else None
    path = out / "report.html"
    tmp = path.with_name(".report.html.tmp")
    tmp.write_text(report_html(summary, links, lang=lang, units=units, figures=figs, curve_svg=svg), encoding="utf-8")
    os.replace(tmp, path)
    return path


def export_pdf(report: str | Path, pdf: str | Path | None = None, *, timeout_s: float = 60) -> Path:
    """Print the report to PDF (A4 landscape) with headless Chromium, offline."""
    report = Path(report).resolve()
    pdf = Path(pdf) if pdf else report.with_suffix(".pdf")
    run_headless(report.as_uri(), "--no-pdf-header-footer", f"--print-to-pdf={pdf.resolve()}", timeout_s=timeout_s)
    return pdf


__all__ = ["export_pdf", "report_html", "write_report"]
