"""Two plans side by side: per family the targets, what each achieves, the coverage, the sites, and what really
changed (coverage in percentage points; sites kept, added, removed and moved); a page with the table beside two
synchronised maps.

How sites are matched. A site of plan A and a site of plan B are the *same* site when they have the same ``site_id``
(the candidate ids are stable between runs on the same cells) or lie within 1 m of each other. Of the sites left,
pairs are formed nearest first, one to one: a pair at most ``moved_within_m`` apart (500 m by default, so a site
shifted to the next 500 m cell counts, whatever the rounding of its coordinates) is a site that *moved*; a site of A
left without a partner is *removed*, one of B *added*.
"""

from __future__ import annotations

import html as html_mod
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from . import settings
from ._errors import ValidationError
from .coords import WGS84

MOVED_WITHIN_M = 500.0
_SAME_M = 1.0


# ------------------------------------------------------------------------------------------------- what is compared


def _district_names(summary: dict) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for f in (summary.get("families") or {}).values():
        for d in f.get("districts", []):
            out.setdefault(str(d["district_code"]), (str(d.get("name_zh") or ""), str(d.get("name_en") or "")))
    for code in summary.get("districts", []):
        out.setdefault(str(code), ("", ""))
    return out


def resolve_plan_district(name: str, *summaries: dict) -> str:
    """The district code for ``name`` (a code, 海淀, 海淀区 or Haidian) present in every summary given.

    Raises
    ------
    ValidationError
        No district of that name is in every plan; the message lists the districts they share.
    """
    key = str(name).strip()
    low = key.lower().removesuffix(" district").removesuffix("qu").strip()
    shared = None
    names: dict[str, tuple[str, str]] = {}
    for s in summaries:
        n = _district_names(s)
        for k, v in n.items():
            if k not in names or not any(names[k]):
                names[k] = v
        shared = set(n) if shared is None else shared & set(n)
    shared = shared or set()
    for code in sorted(shared):
        zh, en = names.get(code, ("", ""))
        if key in (code, zh, zh.removesuffix("区")) or (en and low == en.lower()):
            return code
    listed = ", ".join(f"{names[c][1] or c} ({names[c][0]}, {c})" for c in sorted(shared)) or "none"
    raise ValidationError(
        "`--district`",
        [f"no district {name!r} in both plans; give a code, a Chinese or a pinyin name of one of: {listed}."],
    )


def check_comparable(a: dict, b: dict, names: tuple[str, str] = ("A", "B")) -> None:
    """Refuse two plans that do not answer the same question: different areas or different facility families.

    Raises
    ------
    ValidationError
        Every reason at once: districts only one plan covers, families only one plan has.
    """
    problems = []
    da, db = [str(x) for x in a.get("districts", [])], [str(x) for x in b.get("districts", [])]
    if sorted(da) != sorted(db):
        names_ = {**_district_names(a), **_district_names(b)}

        def label(codes):
            return ", ".join(f"{names_.get(c, ('', c))[1] or c} ({c})" for c in sorted(codes)) or "none"

        problems.append(
            f"the plans cover different areas: {names[0]} covers {len(da)} district(s), {names[1]} covers {len(db)}; "
            f"only in {names[0]}: {label(set(da) - set(db))}; only in {names[1]}: {label(set(db) - set(da))}. "
            "Compare plans of the same area (run both with the same `district`)."
        )
    fa, fb = list(a.get("families", {})), list(b.get("families", {}))
    if set(fa) != set(fb):
        problems.append(
            f"the plans have different facility families: only in {names[0]}: {', '.join(sorted(set(fa) - set(fb))) or 'none'}; "
            f"only in {names[1]}: {', '.join(sorted(set(fb) - set(fa))) or 'none'}. Compare runs of scenarios with "
            "the same families (switch a family off with `enabled: false` in both, or in neither)."
        )
    if problems:
        raise ValidationError("plans to compare", problems)


# ------------------------------------------------------------------------------------------------------ site changes


def _xy(sites: gpd.GeoDataFrame | None) -> np.ndarray:
    if sites is None or not len(sites):
        return np.zeros((0, 2))
    g = sites.geometry.to_crs(settings.working_crs)
    g = g.centroid if not (g.geom_type == "Point").all() else g
    return np.column_stack([g.x.to_numpy(), g.y.to_numpy()])


def site_changes(
    sites_a: gpd.GeoDataFrame | None, sites_b: gpd.GeoDataFrame | None, *, moved_within_m: float = MOVED_WITHIN_M
) -> pd.DataFrame:
    """Each site of either plan with its fate: ``kept``, ``moved`` (with the partner and distance), ``removed``
    (only in A) or ``added`` (only in B). See the module docstring for the rule.
    """
    from scipy.spatial import cKDTree

    ida = [] if sites_a is None or not len(sites_a) else list(sites_a["site_id"].astype(str))
    idb = [] if sites_b is None or not len(sites_b) else list(sites_b["site_id"].astype(str))
    xa, xb = _xy(sites_a), _xy(sites_b)
    fate_a = np.array(["removed"] * len(ida), dtype=object)
    fate_b = np.array(["added"] * len(idb), dtype=object)
    partner_a = np.full(len(ida), -1)
    dist_a = np.full(len(ida), np.nan)
    pos_b = {s: j for j, s in enumerate(idb)}
    for i, s in enumerate(ida):
        j = pos_b.get(s)
        if j is not None and fate_b[j] == "added":
            fate_a[i], fate_b[j], partner_a[i], dist_a[i] = "kept", "kept", j, float(np.hypot(*(xa[i] - xb[j])))
    if len(ida) and len(idb):
        free_b = np.flatnonzero(fate_b == "added")
        free_a = np.flatnonzero(fate_a == "removed")
        if len(free_a) and len(free_b):
            tree = cKDTree(xb[free_b])
            k = min(len(free_b), 8)
            # within the distance, inclusive: a site one 500 m cell away lies at 499.9999… or 500.0000…1 m
            reach = moved_within_m * (1 + 1e-9) + 1e-6
            dist_k, near_k = tree.query(xa[free_a], k=k, distance_upper_bound=reach)
            d, j_k = np.reshape(dist_k, (len(free_a), k)), np.reshape(near_k, (len(free_a), k))
            pairs = sorted(
                (float(d[r, c]), int(free_a[r]), int(free_b[j_k[r, c]]))
                for r in range(len(free_a))
                for c in range(k)
                if np.isfinite(d[r, c])
            )
            for dist, ia, jb in pairs:
                if fate_a[ia] != "removed" or fate_b[jb] != "added":
                    continue
                fate = "kept" if dist <= _SAME_M else "moved"
                fate_a[ia], fate_b[jb], partner_a[ia], dist_a[ia] = fate, fate, jb, dist
    rows = [
        {
            "plan": "A",
            "site_id": s,
            "fate": fate_a[i],
            "partner": idb[partner_a[i]] if partner_a[i] >= 0 else None,
            "moved_m": round(dist_a[i]) if fate_a[i] == "moved" else None,
        }
        for i, s in enumerate(ida)
    ]
    rows += [
        {"plan": "B", "site_id": s, "fate": fate_b[j], "partner": None, "moved_m": None}
        for j, s in enumerate(idb)
        if fate_b[j] == "added"
    ]
    return pd.DataFrame(rows, columns=["plan", "site_id", "fate", "partner", "moved_m"])


def _sites_in(layers: dict | None, key: str, district: str | None):
    if layers is None:
        return None
    s = layers.get(f"sites_{key}")
    if s is None or not len(s):
        return s
    if district is not None:
        s = s[s["district_code"].astype(str) == district]
    return s


# -------------------------------------------------------------------------------------------------------- the table


def compare_summaries(
    a: dict,
    b: dict,
    *,
    layers: tuple[dict, dict] | None = None,
    district: str | None = None,
    moved_within_m: float = MOVED_WITHIN_M,
    check: bool = True,
) -> pd.DataFrame:
    """Per family: target, achieved, coverage and sites of plans A and B, and the real differences.

    Parameters
    ----------
    a, b
        Plan summaries (:meth:`Plan.summary` or a plan folder's ``summary.json``).
    layers
        The two plans' layers (:meth:`Plan.layers` or :func:`~facility_planner.maps.read_plan_layers`); with them the
        table counts sites ``kept``, ``added``, ``removed`` and ``moved`` (see the module docstring).
    district
        Compare one district (a code, 海淀 or Haidian) of two plans that both cover it.
    check
        Refuse plans of different areas or families (:func:`check_comparable`).

    Returns
    -------
    pandas.DataFrame
        One row per family. Shares are in percent (``unit`` ends in ``(%)``); ``coverage_change_pp`` is B minus A in
        percentage points, ``sites_change`` B minus A.
    """
    if check:
        check_comparable(a, b)
    code = resolve_plan_district(district, a, b) if district is not None else None
    rows = []
    keys = list(dict.fromkeys([*a.get("families", {}), *b.get("families", {})]))
    for key in keys:
        fa, fb = a["families"].get(key) or {}, b["families"].get(key) or {}
        f0 = fa or fb
        unit = f0.get("unit") or ""
        share = "share" in unit

        def pick(f, code=code, share=share):
            if code is None:
                sites = (f.get("sites_new") or 0) + (f.get("sites_existing") or 0) if f else None
                return f.get("target"), f.get("achieved"), f.get("covered_share"), sites
            d = next((r for r in f.get("districts", []) if str(r["district_code"]) == code), None)
            if d is None:
                return None, None, None, None
            sites = (d.get("sites_new") or 0) + (d.get("sites_existing") or 0)
            cov = d.get("covered_share")
            got = cov if share else d.get("beds", d.get("allocated", sites))
            return d.get("target"), got, cov, sites

        ta, aa, ca, sa = pick(fa)
        tb, ab, cb, sb = pick(fb)
        if code is not None and share:
            unit = "share within reach in the district"
        elif code is not None:
            unit = "beds in the district" if "beds" in unit else "sites in the district"
        scale = 100.0 if share else 1.0

        def num(v, scale=scale):
            return None if v is None else float(v) * scale

        def diff(x, y):
            return None if x is None or y is None else y - x

        row = {
            "family": key,
            "family_zh": f0.get("name_zh", key),
            "family_en": f0.get("name_en", key),
            "unit": unit + (" (%)" if share else ""),
            "target_a": num(ta),
            "target_b": num(tb),
            "achieved_a": num(aa),
            "achieved_b": num(ab),
            "achieved_change": diff(num(aa), num(ab)),
            "coverage_a_pct": None if ca is None else 100 * ca,
            "coverage_b_pct": None if cb is None else 100 * cb,
            "coverage_change_pp": diff(None if ca is None else 100 * ca, None if cb is None else 100 * cb),
            "sites_a": sa,
            "sites_b": sb,
            "sites_change": diff(sa, sb),
            "met_a": fa.get("met") if code is None else None,
            "met_b": fb.get("met") if code is None else None,
        }
        if layers is not None:
            ch = site_changes(
                _sites_in(layers[0], key, code), _sites_in(layers[1], key, code), moved_within_m=moved_within_m
            )
            counts = ch[ch["plan"] == "A"]["fate"].value_counts()
            row |= {
                "kept": int(counts.get("kept", 0)),
                "moved": int(counts.get("moved", 0)),
                "removed": int(counts.get("removed", 0)),
                "added": int((ch["fate"] == "added").sum()),
            }
        rows.append(row)
    return pd.DataFrame(rows)


def format_comparison(df: pd.DataFrame) -> pd.DataFrame:
    """The comparison table as a planner reads it: percent with one decimal, counts as integers, signed changes."""

    def f(v, signed=False, pct=False):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return "–"
        if isinstance(v, bool | np.bool_):
            return "yes" if v else "no"
        s = f"{v:+,.1f}" if signed and pct else f"{v:,.1f}" if pct else f"{v:+,.0f}" if signed else f"{v:,.0f}"
        return ("0.0" if pct else "0") if signed and v == 0 else s

    out = pd.DataFrame({"设施 family": df["family_zh"] + " · " + df["family_en"]})
    pct = df["unit"].str.endswith("(%)")
    out["target A"] = [f(v, pct=p) for v, p in zip(df["target_a"], pct, strict=True)]
    out["target B"] = [f(v, pct=p) for v, p in zip(df["target_b"], pct, strict=True)]
    out["achieved A"] = [f(v, pct=p) for v, p in zip(df["achieved_a"], pct, strict=True)]
    out["achieved B"] = [f(v, pct=p) for v, p in zip(df["achieved_b"], pct, strict=True)]
    out["coverage A %"] = [f(v, pct=True) for v in df["coverage_a_pct"]]
    out["coverage B %"] = [f(v, pct=True) for v in df["coverage_b_pct"]]
    out["coverage Δ pp"] = [f(v, signed=True, pct=True) for v in df["coverage_change_pp"]]
    out["sites A"] = [f(v) for v in df["sites_a"]]
    out["sites B"] = [f(v) for v in df["sites_b"]]
    out["sites Δ"] = [f(v, signed=True) for v in df["sites_change"]]
    for c in ("kept", "added", "removed", "moved"):
        if c in df.columns:
            out[c] = [f(v) for v in df[c]]
    out["unit"] = df["unit"]
    return out


# ---------------------------------------------------------------------------------------------------- maps and page


def comparison_map(
    layers_a: dict,
    layers_b: dict,
    *,
    names: tuple[str, str] = ("A", "B"),
    district: str | None = None,
    summaries: tuple[dict, dict] | None = None,
    moved_within_m: float = MOVED_WITHIN_M,
):
    """Two plans side by side in synchronised maps (folium DualMap with Leaflet.Sync inlined).

    Sites are drawn in their family's colour; a site only in A (removed) is ringed red on the left map, a site only in
    B (added) ringed green on the right map, a moved site ringed orange on both. ``district`` is a district code.
    """
    import folium
    from folium import plugins

    from .maps import _geojson, _layer_styles, _MetricScale, _slim

    def ctx(layers):
        d = layers["districts"].to_crs(WGS84)
        return d[d["district_code"].astype(str) == district] if district else d

    d = ctx(layers_a)
    if not len(d):
        raise ValidationError("district", [f"no district {district!r} in the first plan."])
    b = d.total_bounds
    dm = plugins.DualMap(
        location=[(b[1] + b[3]) / 2, (b[0] + b[2]) / 2],
        zoom_start=11 if district else 9,
        tiles=None,
        control_scale=False,
        prefer_canvas=True,
    )
    for sub in (dm, dm.m1, dm.m2):
        _slim(sub)
    for sub in (dm.m1, dm.m2):
        sub.add_child(_MetricScale())
    dm.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    styles = _layer_styles(layers_a, summaries)
    fates: dict[str, pd.DataFrame] = {}
    for key in styles:
        fates[key] = site_changes(
            _sites_in(layers_a, key, district), _sites_in(layers_b, key, district), moved_within_m=moved_within_m
        )
    ring = {"removed": "#c62828", "added": "#1a7f37", "moved": "#ef6c00"}
    for side, (mm, layers, name) in enumerate(((dm.m1, layers_a, names[0]), (dm.m2, layers_b, names[1]))):
        towns = layers.get("townships")
        if towns is not None and len(towns):
            t = towns.to_crs(WGS84)
            if district:
                t = t[t["district_code"].astype(str) == district]
            folium.GeoJson(
                _geojson(t, 15.0 if district else 60.0, ["name_zh"]),
                name=f"街乡镇 townships ({name})",
                style_function=lambda f: {"fill": False, "color": "#777", "weight": 0.6},
            ).add_to(mm)
        folium.GeoJson(
            _geojson(ctx(layers), 60.0, ["name_zh"]),
            name=f"区 districts ({name})",
            style_function=lambda f: {"fill": False, "color": "#222", "weight": 2},
        ).add_to(mm)
        for key, st in styles.items():
            s = _sites_in(layers, key, district)
            if s is None or not len(s):
                continue
            s = s.to_crs(WGS84)
            fate = fates[key]
            fmap = dict(zip(fate[fate["plan"] == ("A" if side == 0 else "B")]["site_id"], fate["fate"], strict=False))
            if side == 1:
                # B's sites: kept or moved partners are matched from A's rows
                moved_b = set(fate[(fate["plan"] == "A") & (fate["fate"] == "moved")]["partner"])
                fmap = {sid: ("moved" if sid in moved_b else fmap.get(sid, "kept")) for sid in s["site_id"].astype(str)}
            fg = folium.FeatureGroup(name=f"{st['name_zh']} {st['name_en']} ({name}: {len(s)})")
            for r in s.itertuples():
                fa = fmap.get(str(r.site_id), "kept")
                served = getattr(r, "served", None)
                extra = f" · 服务 serves {served:,.0f}" if served is not None and served == served else ""
                folium.CircleMarker(
                    [r.geometry.y, r.geometry.x],
                    radius=st["radius"],
                    color=ring.get(fa, "#fff"),
                    weight=3 if fa in ring else 1,
                    fill=True,
                    fill_color=st["color"],
                    fill_opacity=0.9,
                    tooltip=f"{st['name_zh']} · {name} · {fa} · {r.site_id}{extra}",
                ).add_to(fg)
            fg.add_to(mm)
        folium.LayerControl(collapsed=True).add_to(mm)
    return dm


_PAGE_CSS = """
body { margin:0; font: 13px/1.45 'Noto Sans CJK SC','Microsoft YaHei','PingFang SC',sans-serif; color:#222; }
#fp-side { position:absolute; left:0; top:0; bottom:0; width:50%; overflow:auto; padding:10px 12px;
  box-sizing:border-box; border-right:1px solid #999; background:#fff; }
#fp-side h1 { font-size:17px; margin:0 0 4px; } #fp-side h2 { font-size:14px; margin:12px 0 4px; }
#fp-side table { border-collapse:collapse; width:100%; font-size:10.5px; }
#fp-side th, #fp-side td { border:1px solid #bbb; padding:2px 3px; text-align:right; }
#fp-side th { background:#f0f0f0; font-weight:normal; } #fp-side td.l { text-align:left; }
#fp-side td { white-space:nowrap; } #fp-side td.l { white-space:normal; min-width:8em; }
.fp-up { color:#1a7f37; font-weight:bold; } .fp-down { color:#c62828; font-weight:bold; }
.fp-key span { display:inline-block; width:11px; height:11px; border-radius:50%; margin:0 4px 0 10px;
  vertical-align:middle; }
.fp-label { position:absolute; top:0; z-index:1000; background:rgba(255,255,255,.9); padding:2px 8px;
  font-weight:bold; border:1px solid #888; }
"""


def comparison_page(
    layers_a: dict,
    layers_b: dict,
    summaries: tuple[dict, dict],
    *,
    names: tuple[str, str] | None = None,
    district: str | None = None,
    moved_within_m: float = MOVED_WITHIN_M,
) -> tuple[object, pd.DataFrame]:
    """The comparison page (a folium Figure: title, legend and table beside two synchronised maps) and its table.

    Raises
    ------
    ValidationError
        The plans cover different areas or families, or ``district`` is not in both.
    """
    import folium

    sa, sb = summaries
    names = names or (str(sa.get("scenario", "A")), str(sb.get("scenario", "B")))
    if names[0] == names[1]:
        names = (f"A: {names[0]}", f"B: {names[1]}")
    check_comparable(sa, sb, names)
    code = resolve_plan_district(district, sa, sb) if district is not None else None
    table = compare_summaries(
        sa, sb, layers=(layers_a, layers_b), district=code, moved_within_m=moved_within_m, check=False
    )
    dm = comparison_map(
        layers_a, layers_b, names=names, district=code, summaries=summaries, moved_within_m=moved_within_m
    )
    fig = dm.get_root()
    css = _PAGE_CSS + (
        f"#{dm.m1.get_name()} {{ left:50% !important; width:25% !important; }}"
        f"#{dm.m2.get_name()} {{ left:75% !important; width:25% !important; }}"
    )
    dname = ""
    if code is not None:
        zh, en = _district_names(sa).get(code, ("", ""))
        dname = f" · {zh} {en}"
    e = html_mod.escape
    shown = format_comparison(table)
    # the unit goes under the family's name, not in a column of its own: the table fits beside the maps (at 1,400 px
    # it needed scrolling)
    units = shown.pop("unit").tolist()
    heads = "".join(f"<th>{e(c)}</th>" for c in shown.columns)

    def cell(c, v, unit):
        if c == "设施 family":
            return f"<td class='l'>{e(str(v))}<br><small>{e(unit)}</small></td>"
        cls = ""
        if c in ("coverage Δ pp", "sites Δ") and v not in ("–", "0", "0.0"):
            cls = "fp-up" if v.startswith("+") else "fp-down"
        return f"<td class='{cls}'>{e(str(v))}</td>"

    body = "".join(
        "<tr>" + "".join(cell(c, v, u) for c, v in r.items()) + "</tr>"
        for r, u in zip(shown.to_dict("records"), units, strict=True)
    )
    legend = (
        "<div class='fp-key'>"
        "<span style='background:#fff;border:3px solid #c62828'></span>只在A removed (left map)"
        "<span style='background:#fff;border:3px solid #1a7f37'></span>只在B added (right map)"
        "<span style='background:#fff;border:3px solid #ef6c00'></span>移动 moved (≤ "
        f"{moved_within_m:,.0f} m)</div><div class='fp-key'>"
        + "".join(
            f"<span style='background:{st['color']}'></span>{e(st['name_zh'])}"
            for st in _family_colours(summaries).values()
        )
        + "</div>"
    )
    side = (
        f"<div id='fp-side'><h1>方案比较 Plan comparison{e(dname)}</h1>"
        f"<div>左 left: <b>{e(names[0])}</b> · 右 right: <b>{e(names[1])}</b></div>"
        f"<h2>图例 Legend</h2>{legend}"
        f"<h2>差异 Differences (B − A)</h2><table><tr>{heads}</tr>{body}</table>"
        "<p style='font-size:11px;color:#555'>覆盖率变化以百分点计 coverage change in percentage points. "
        "Sites: <i>kept</i> = same site id (or within 1 m) in both; <i>moved</i> = a site of A whose nearest "
        f"unmatched site of B is within {moved_within_m:,.0f} m (pairs formed nearest first, one to one); "
        "<i>removed</i> = only in A; <i>added</i> = only in B.</p></div>"
        f"<div class='fp-label' style='left:calc(50% + 50px)'>A · {e(names[0])}</div>"
        f"<div class='fp-label' style='left:calc(75% + 50px)'>B · {e(names[1])}</div>"
    )
    fig.header.add_child(folium.Element(f"<title>方案比较 Plan comparison{e(dname)}</title><style>{css}</style>"))
    fig.html.add_child(folium.Element(side))
    return dm, table


def _family_colours(summaries: tuple[dict, dict]) -> dict:
    from .maps import family_styles

    st = family_styles(summaries[0])
    st.update({k: v for k, v in family_styles(summaries[1]).items() if k not in st})
    return st


def compare_plans(
    plan_a: str | Path,
    plan_b: str | Path,
    out: str | Path,
    *,
    district: str | None = None,
    moved_within_m: float = MOVED_WITHIN_M,
) -> tuple[Path, pd.DataFrame]:
    """Compare two plan folders: write the comparison page ``out`` (HTML, offline) and return it with the table."""
    from .maps import read_plan_layers, save_map

    la, sa = read_plan_layers(plan_a)
    lb, sb = read_plan_layers(plan_b)
    # the folders tell two runs of one scenario apart (the page showed 'A: beijing_2025' and 'B: beijing_2025')
    names = tuple(
        f"{Path(folder).resolve().name} ({s.get('scenario', '')})" for folder, s in ((plan_a, sa), (plan_b, sb))
    )
    page, table = comparison_page(
        la, lb, (sa, sb), district=district, moved_within_m=moved_within_m, names=(names[0], names[1])
    )
    return save_map(page, out), table


__all__ = [
    "MOVED_WITHIN_M",
    "check_comparable",
    "compare_plans",
    "compare_summaries",
    "comparison_map",
    "comparison_page",
    "format_comparison",
    "resolve_plan_district",
    "site_changes",
]
