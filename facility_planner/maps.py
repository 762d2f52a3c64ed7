"""Folium maps of a plan that open anywhere: every script and stylesheet inlined, no request leaves the page.

Layers: district and township boundaries (the context when no tiles load), older population (choropleth), chosen
and existing sites per family (distinct colours; existing sites ringed in black), coverage areas (the isochrones or
circles the plan used), uncovered older people, tooltips in Chinese and English, a layer control, fullscreen and a
legend that is always visible.

Base maps: ``"none"`` (default for files handed over), ``"osm"``, ``"gaode"`` (every layer shifted to GCJ-02 so it
sits right on Gaode's tiles) and ``"tianditu"`` (official map; its key comes from the ``TIANDITU_KEY`` environment
variable and is written into the file only when this base map is asked for).
"""

from __future__ import annotations

import base64
import functools
import html as html_mod
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import FacilityPlannerError, ValidationError
from ._output import atomic_write_text
from ._stable import stable_ids
from .coords import WGS84, to_gcj02
from .families import PALETTE

BASEMAPS = ("none", "osm", "gaode", "tianditu")
OLDER_COLORS = ["#fff7ec", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"]

# CDN URLs folium writes → vendored files (see _assets/README.md)
_ASSETS = {
    "leaflet.js": "leaflet.js",
    "leaflet.css": "leaflet.css",
    "jquery-3.7.1.min.js": "jquery.min.js",
    "Control.FullScreen.min.js": "Control.FullScreen.js",
    "Control.FullScreen.css": "Control.FullScreen.css",
    "L.Map.Sync.min.js": "L.Map.Sync.js",
    "leaflet.markercluster.js": "leaflet.markercluster.js",
    "MarkerCluster.css": "MarkerCluster.css",
    "MarkerCluster.Default.css": "MarkerCluster.Default.css",
}
#: a family with more sites than this on one map is clustered at city zoom (markers split apart when zoomed in)
CLUSTER_ABOVE = 60
UNCOVERED_COLOR = "#3b3b3b"
_DROP_JS = {"bootstrap", "awesome_markers"}
_DROP_CSS = {"bootstrap_css", "glyphicons_css", "awesome_markers_font_css", "awesome_markers_css", "awesome_rotate_css"}


def _asset(name: str) -> str:
    return resources.files("facility_planner").joinpath("_assets", name).read_text(encoding="utf-8")


def _data_uri(name: str) -> str:
    data = resources.files("facility_planner").joinpath("_assets", name).read_bytes()
    mime = "image/svg+xml" if name.endswith(".svg") else "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _css(name: str) -> str:
    css = _asset(name)
    for ref in set(re.findall(r"url\(([^)#]+?)\)", css)):
        clean = ref.strip("'\"")
        if clean.startswith("data:"):
            continue
        css = css.replace(f"url({ref})", f"url({_data_uri(clean)})")
    return css


def _slim(m) -> None:
    """Drop folium's Bootstrap / Font Awesome / awesome-markers for this map only (instance attributes)."""
    import folium

    m.default_js = [(k, v) for k, v in folium.Map.default_js if k not in _DROP_JS]
    m.default_css = [(k, v) for k, v in folium.Map.default_css if k not in _DROP_CSS]


def inline_html(html: str) -> str:
    """Replace every external script and stylesheet with the vendored file's contents; refuse unknown ones."""

    def script(mt: re.Match) -> str:
        name = mt.group(1).rsplit("/", 1)[-1]
        if name not in _ASSETS:
            raise FacilityPlannerError(f"map uses an external script with no vendored copy: {mt.group(1)}")
        body = _asset(_ASSETS[name])
        if name == "leaflet.js":
            icon = _data_uri("images/marker-icon.png")
            body += (
                f"\nL.Icon.Default.imagePath='';L.Icon.Default.mergeOptions({{iconUrl:'{icon}',"
                f"iconRetinaUrl:'{_data_uri('images/marker-icon-2x.png')}',shadowUrl:'{_data_uri('images/marker-shadow.png')}'}});"
            )
        return "<script>" + body.replace("</script", "<\\/script") + "</script>"

    def link(mt: re.Match) -> str:
        name = mt.group(1).rsplit("/", 1)[-1]
        if name not in _ASSETS:
            raise FacilityPlannerError(f"map uses an external stylesheet with no vendored copy: {mt.group(1)}")
        return "<style>" + _css(_ASSETS[name]) + "</style>"

    html = re.sub(r'<script src="(https?://[^"]+)"></script>', script, html)
    html = re.sub(r'<link rel="stylesheet" href="(https?://[^"]+)"\s*/?>', link, html)
    return html


def external_references(html: str) -> list[str]:
    """External ``<script src>`` and ``<link href>`` left in an HTML page (should be none)."""
    refs = re.findall(r"<script[^>]+src=[\"']([^\"']+)", html) + re.findall(r"<link[^>]+href=[\"']([^\"']+)", html)
    return [r for r in refs if not r.startswith("data:")]


def _tiles(m, basemap: str) -> None:
    import folium

    if basemap == "none":
        return
    if basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap", attr="© OpenStreetMap contributors").add_to(m)
    elif basemap == "gaode":
        folium.TileLayer(
            tiles="https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
            attr="© 高德地图 AutoNavi (GCJ-02; every layer of this map is shifted to GCJ-02 to sit on these tiles)",
            name="高德 Gaode",
            subdomains="1234",
        ).add_to(m)
    elif basemap == "tianditu":
        key = os.environ.get("TIANDITU_KEY")
        if not key:
            raise ValidationError(
                "basemap",
                [
                    "the Tianditu base map needs a key in the TIANDITU_KEY environment "
                    "variable; note that the key is written into the HTML file."
                ],
            )
        for layer, name in (("vec", "天地图 Tianditu"), ("cva", "天地图注记 labels")):
            folium.TileLayer(
                tiles=f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
                f"&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}",
                attr="© 天地图 Tianditu",
                name=name,
                subdomains="01234567",
                overlay=layer == "cva",
            ).add_to(m)
    else:
        raise ValidationError("basemap", [f"basemap must be one of {', '.join(BASEMAPS)}; got {basemap!r}."])


def family_styles(summary: dict) -> dict[str, dict]:
    """Family key → name_zh, name_en, color, radius, in the plan's order (read from the summary, never hard-coded)."""
    out = {}
    for i, (key, f) in enumerate((summary.get("families") or {}).items()):
        coverage = f.get("model") in ("max_cover", "min_cover")
        out[key] = {
            "name_zh": f.get("name_zh") or key,
            "name_en": f.get("name_en") or key,
            "color": f.get("color") or PALETTE[i % len(PALETTE)],
            "radius": 5 if coverage else 7,
        }
    return out


def _legend_html(styles: dict[str, dict], older_breaks: list[float], title: str, notes: list[str]) -> str:
    rows = []
    for st in styles.values():
        zh, en = st["name_zh"], st["name_en"]
        rows.append(
            f'<div><span style="display:inline-block;width:12px;height:12px;border-radius:50%;'
            f'background:{st["color"]};margin-right:6px"></span>{zh} {en}</div>'
        )
    rows.append(
        '<div><span style="display:inline-block;width:10px;height:10px;border-radius:50%;background:#fff;'
        'border:3px solid #000;margin-right:6px"></span>已有设施 existing (kept)</div>'
    )
    rows.append(
        '<div><span style="display:inline-block;width:12px;height:12px;background:rgba(214,39,40,0.15);'
        'border:1px solid #d62728;margin-right:6px"></span>覆盖范围 area within reach</div>'
    )
    rows.append(
        '<div><span style="display:inline-block;width:12px;height:12px;background:rgba(59,59,59,0.6);'
        'border:1px solid #000;margin-right:6px"></span>未覆盖老年人 uncovered older people (cells)</div>'
    )
    grad = ",".join(OLDER_COLORS)
    lo, hi = older_breaks[0], older_breaks[-1]
    cont = (
        f'<div style="margin-top:6px">60岁以上人口密度 people 60+ per km²</div>'
        f'<div style="height:10px;background:linear-gradient(to right,{grad});border:1px solid #999"></div>'
        f'<div style="display:flex;justify-content:space-between;font-size:11px"><span>{lo:,.0f}</span>'
        f"<span>{hi:,.0f}+</span></div>"
    )
    foot = "".join(f'<div style="font-size:10px;color:#555;margin-top:4px">{html_mod.escape(n)}</div>' for n in notes)
    return (
        '<div id="fp-legend" style="position:fixed;bottom:24px;left:12px;z-index:9999;background:rgba(255,255,255,0.93);'
        "padding:8px 10px;border:1px solid #888;border-radius:4px;font:12px/1.5 'Noto Sans CJK SC','Microsoft YaHei',"
        f'sans-serif;max-width:320px"><b>{html_mod.escape(title)}</b>{"".join(rows)}{cont}{foot}</div>'
    )


def _color(v: float, breaks: list[float]) -> str:
    for c, b in zip(OLDER_COLORS[::-1], breaks[::-1], strict=False):
        if v >= b:
            return c
    return OLDER_COLORS[0]


def merged_polygons(geoms: np.ndarray) -> Any:
    """The union of polygons: along their shared edges when they tile without overlap (grid cells: 60,000 in 0.4 s,
    where the general union takes 3 s and hatching them one by one in a static map took 50 s), else the general
    union.
    """
    import math

    import shapely

    try:
        merged = shapely.coverage_union_all(geoms)
        if shapely.is_valid(merged) and math.isclose(merged.area, float(shapely.area(geoms).sum()), rel_tol=1e-9):
            return merged
    except shapely.errors.GEOSException:  # GEOS refuses some non-tilings outright (T-junctions, duplicates)
        pass
    return shapely.union_all(geoms)  # overlapping or ill-fitting polygons


def _geojson(gdf: gpd.GeoDataFrame, simplify_m: float, props: list[str], decimals: int = 5) -> dict:
    import shapely

    g = gdf.to_crs("EPSG:32650")
    if simplify_m > 0:
        g["geometry"] = g.geometry.simplify(simplify_m, preserve_topology=True)
    g = g.to_crs(WGS84)
    # 5 decimals of a degree ≈ 1 m: enough for drawing, and GeoJSON otherwise carries 15 digits per number
    g["geometry"] = shapely.transform(g.geometry.values, lambda xy: np.round(xy, decimals))
    cols = [c for c in props if c in g.columns]
    out = g[[*cols, "geometry"]].copy()
    for c in cols:
        if out[c].dtype.kind == "f":
            out[c] = out[c].round(3)
    return json.loads(out.to_json(drop_id=True, to_wgs84=True))


class _MetricScale:
    """Leaflet's scale bar in metres only, bottom right (the legend sits bottom left, so it never covers it)."""

    def __new__(cls):
        from branca.element import MacroElement
        from folium.template import Template

        el = MacroElement()
        el._name = "MetricScale"
        el._template = Template(
            """{% macro script(this, kwargs) %}
            L.control.scale({metric: true, imperial: false, position: 'bottomright', maxWidth: 160})
                .addTo({{ this._parent.get_name() }});
            {% endmacro %}"""
        )
        return el


def _cell_layer(
    name: str, rows: list[list[int | None]], origin: tuple[float, float], *, show: bool, labels: tuple[str, str]
):
    """A layer of filled cells drawn in the browser from integer rows ``[south, west, height, width, older people,
    nearest m]`` (each cell's bounding box in 1/10,000 degree from the layer's south-west corner: the grid's squares,
    or a square's part inside a township): a fifth of the size of the same cells as GeoJSON polygons, so rural
    districts' maps stay small. Each cell has its own tooltip."""
    from folium.map import Layer
    from folium.template import Template

    class CellLayer(Layer):
        _template = Template(
            """{% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.featureGroup();
            (function () {
              var rows = {{ this.rows|tojson }}, g = {{ this.get_name() }}, y0 = {{ this.origin[0] }},
                x0 = {{ this.origin[1] }};
              for (var i = 0; i < rows.length; i++) {
                var r = rows[i], s = y0 + r[0] / 1e4, w = x0 + r[1] / 1e4;
                L.rectangle([[s, w], [s + r[2] / 1e4, w + r[3] / 1e4]],
                  {color: '#000', weight: 0.4, fillColor: '{{ this.fill }}', fillOpacity: 0.6})
                  .bindTooltip({{ this.labels[0]|tojson }} + ' ' + r[4].toLocaleString()
                    + (r[5] === null ? '' : '<br>' + {{ this.labels[1]|tojson }} + ' ' + r[5].toLocaleString()))
                  .addTo(g);
              }
            })();
            {% endmacro %}"""
        )

    layer = CellLayer(name=name, overlay=True, control=True, show=show)
    layer._name = "UncoveredCells"
    layer.rows, layer.origin, layer.fill, layer.labels = rows, origin, UNCOVERED_COLOR, labels
    return layer


_CLUSTER_ICON = """function(cluster) {
  var n = cluster.getChildCount(); var s = n < 10 ? 26 : n < 100 ? 32 : 38;
  return L.divIcon({html: '<div style="background:%s;color:#fff;border:2px solid #fff;border-radius:50%%;'
    + 'width:' + s + 'px;height:' + s + 'px;line-height:' + (s - 4) + 'px;text-align:center;font:bold 12px sans-serif;'
    + 'box-shadow:0 0 3px #000">' + n + '</div>', className: 'fp-cluster', iconSize: L.point(s, s)});
}"""


def citywide_breaks(cells: gpd.GeoDataFrame) -> list[float]:
    """Colour breaks of older people per km² from every populated cell of the plan (one scale for all districts)."""
    c = cells[cells["pop"] > 0]
    if not len(c):
        return [0.0, 1.0, 2.0, 3.0, 4.0]
    dens = (c["pop_60"] / (c["area_m2"] / 1e6)).to_numpy(float)
    return [float(x) for x in np.nanquantile(dens, [0, 0.2, 0.4, 0.6, 0.8])]


def _site_style(feature: dict, *, color: str) -> dict:
    """A site marker's style: the family's colour, existing sites ringed in black, new ones in white."""
    ex = feature["properties"]["existing"]
    return {"color": "#000" if ex else "#fff", "weight": 3 if ex else 1, "fillColor": color, "fillOpacity": 0.95}


def plan_map(
    layers: dict,
    summary: dict,
    *,
    district: str | None = None,
    basemap: str = "none",
    title: str | None = None,
    older_breaks: list[float] | None = None,
):
    """A folium.Map of a plan (from :meth:`Plan.layers` or the layers of a plan.gpkg), optionally one district.

    Parameters
    ----------
    older_breaks
        Colour breaks of older people per km² (five ascending values). :func:`write_maps` passes the breaks of the
        whole plan's cells (:func:`citywide_breaks`) to every district map, so one colour means one density on all.
    """
    import folium
    from folium import plugins

    if basemap not in BASEMAPS:
        raise ValidationError("basemap", [f"basemap must be one of {', '.join(BASEMAPS)}; got {basemap!r}."])
    shift = basemap == "gaode"

    def prep(gdf):
        if gdf is None or not len(gdf):
            return gdf
        g = gdf
        if district is not None and "district_code" in g.columns:
            g = g[g["district_code"].astype(str) == district]  # the district's rows first, then reprojected
        g = g.to_crs(WGS84)
        return to_gcj02(g) if shift else g

    districts = prep(layers["districts"])
    towns = prep(layers["townships"])
    cells = prep(layers["demand_cells"])
    if districts is None or not len(districts):
        raise ValidationError("district", [f"no district {district!r} in this plan."])
    b = districts.total_bounds
    m = folium.Map(
        location=[(b[1] + b[3]) / 2, (b[0] + b[2]) / 2],
        zoom_start=11 if district else 9,
        tiles=None,
        control_scale=False,
        prefer_canvas=True,
        # with no tile layer Leaflet has no maximum zoom, and the marker clusters stop the page's script without one
        # ("Map has no maxZoom specified"): every site marker after them would be missing
        maxZoom=18,
    )
    _slim(m)
    m.add_child(_MetricScale())
    m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    _tiles(m, basemap)
    simp = 15.0 if district else 60.0
    # older population: cells for a district map, townships citywide (keeps the file small)
    if district:
        area = cells[cells["pop"] > 0]  # unpopulated cells stay blank
        area = area.assign(density=area["pop_60"] / (area["area_m2"] / 1e6))
    else:
        t = towns.copy()
        t_area = t.to_crs("EPSG:32650").geometry.area / 1e6
        t["density"] = t["pop_60"] / t_area
        area = t
    if older_breaks is not None and district:
        breaks = list(older_breaks)
    else:
        breaks = (
            list(np.nanquantile(area["density"].to_numpy(float), [0, 0.2, 0.4, 0.6, 0.8]))
            if len(area)
            else [0, 1, 2, 3, 4]
        )
    tnames = towns.set_index("township_code")["name_zh"] if towns is not None and len(towns) else pd.Series(dtype=str)
    fg = folium.FeatureGroup(name="60岁以上人口 older population (60+)", show=True)
    # district maps draw every cell: keep only what the tooltip shows, so large rural districts stay under 5 MB
    props = ["pop", "pop_60", "density"] if district else ["township_code", "name_zh", "pop", "pop_60", "density"]
    gj = _geojson(area, simp if not district else 0.0, props, decimals=4 if district else 5)
    for f in gj["features"]:
        f["properties"]["fill"] = _color(f["properties"].pop("density", None) or 0, breaks)
    labels = {
        "name_zh": "名称 name",
        "township_code": "街乡镇代码 township",
        "pop": "人口 people",
        "pop_60": "60岁以上 aged 60+",
    }
    have = gj["features"][0]["properties"].keys() if gj["features"] else []
    fields = [k for k in labels if k in have]
    folium.GeoJson(
        gj,
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "fillOpacity": 0.55, "weight": 0},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=[labels[k] for k in fields]) if fields else None,
    ).add_to(fg)
    fg.add_to(m)
    styles = family_styles(summary)
    # people of every coverage family whose demand is cells: the cells themselves, filled, each with its
    # own numbers (district maps); per township on the whole-area map, which would otherwise carry every cell
    cov_keys = [
        k
        for k in styles
        if cells is not None
        and f"covered_{k}" in cells.columns
        and layers.get(f"sites_{k}") is not None
        and len(layers[f"sites_{k}"])  # a family with no site here (a target of 0) leaves nothing to show
    ]
    for i, k in enumerate(cov_keys):
        unc = cells[(~cells[f"covered_{k}"].astype(bool)) & (cells["pop_60"] > 0)]
        if not len(unc):
            continue
        zh = styles[k]["name_zh"]
        near = f"nearest_m_{k}"
        if district:
            # each cell with its own numbers (the township names are on the map), drawn from a compact array
            bb = unc.geometry.bounds.to_numpy(float)  # minx, miny, maxx, maxy in lon/lat
            y0, x0 = round(float(bb[:, 1].min()), 4), round(float(bb[:, 0].min()), 4)
            q = np.column_stack(
                [bb[:, 1] - y0, bb[:, 0] - x0, bb[:, 3] - bb[:, 1], bb[:, 2] - bb[:, 0]]
            )  # 1/10,000 degree ≈ 10 m
            q = np.round(q * 1e4).astype(int)
            nm = unc[near].round() if near in unc.columns else pd.Series(np.nan, index=unc.index)
            rows = [
                [*r, round(float(p)), None if d != d else round(float(d))]
                for r, p, d in zip(q.tolist(), unc["pop_60"], nm, strict=True)
            ]
            _cell_layer(
                f"未覆盖老年人 uncovered older people · {zh}",
                rows,
                (y0, x0),
                show=i == 0,
                labels=("未覆盖60岁以上 uncovered aged 60+", "距最近设施(米) nearest site m"),
            ).add_to(m)
            continue
        um = unc.to_crs("EPSG:32650")
        by_town = um.groupby("township_code")
        people = by_town["pop_60"].sum()
        u = gpd.GeoDataFrame(
            {"township_code": people.index, "pop_60": people.to_numpy()},
            geometry=[merged_polygons(g.geometry.to_numpy()) for _, g in by_town],  # in the same (sorted) order
            crs=um.crs,
        )
        u = u.to_crs(WGS84).assign(pop_60=lambda x: x["pop_60"].round())
        u["township"] = u["township_code"].map(tnames).fillna("")
        props = ["township", "pop_60"]
        aliases = ["街乡镇 township", "未覆盖60岁以上 uncovered aged 60+ (township total)"]
        folium.GeoJson(
            _geojson(u, simp, props),
            name=f"未覆盖老年人 uncovered older people · {zh} (按街乡镇 by township)",
            show=i == 0,
            style_function=lambda f: {"fillColor": UNCOVERED_COLOR, "fillOpacity": 0.6, "color": "#000", "weight": 0.4},
            tooltip=folium.GeoJsonTooltip(fields=props, aliases=aliases, localize=True),
        ).add_to(m)
    # coverage areas
    for key, st in styles.items():
        cov = layers.get(f"coverage_{key}")
        cov = prep(cov) if cov is not None else None
        if district and cov is not None and len(cov):
            # a district map shows the areas that reach into the district (its own sites' and its neighbours'),
            # as the covered flags count them, not every circle in the city
            cov = cov[cov.intersects(districts.union_all())]
        if cov is not None and len(cov):
            color = st["color"]
            folium.GeoJson(
                _geojson(cov, 10.0, ["site_id", "minutes", "mode"]),
                name=f"{st['name_zh']} 覆盖 coverage",
                show=False,
                style_function=lambda f, c=color: {"fillColor": c, "fillOpacity": 0.12, "color": c, "weight": 0.6},
            ).add_to(m)
    # boundaries
    folium.GeoJson(
        _geojson(towns, simp, ["township_code", "name_zh", "kind"]),
        name="街乡镇 townships",
        style_function=lambda f: {"fill": False, "color": "#555", "weight": 0.8},
        tooltip=folium.GeoJsonTooltip(
            fields=["name_zh", "township_code", "kind"], aliases=["街乡镇 township", "代码 code", "类型 kind"]
        ),
    ).add_to(m)
    folium.GeoJson(
        _geojson(districts, simp, ["district_code", "name_zh", "name_pinyin"]),
        name="区 districts",
        style_function=lambda f: {"fill": False, "color": "#222", "weight": 2.2},
        tooltip=folium.GeoJsonTooltip(fields=["name_zh", "name_pinyin"], aliases=["区", "district"]),
    ).add_to(m)
    if district and towns is not None and len(towns):
        lab = folium.FeatureGroup(name="街乡镇名称 township names", show=True)
        pts = towns.to_crs("EPSG:32650").representative_point().to_crs(WGS84)
        for nm, pt in zip(towns["name_zh"], pts, strict=True):
            folium.Marker(
                [pt.y, pt.x],
                icon=folium.DivIcon(
                    html=f'<div class="fp-town">{html_mod.escape(str(nm))}</div>', icon_size=(0, 0), icon_anchor=(0, 0)
                ),
                interactive=False,
            ).add_to(lab)
        lab.add_to(m)
    # sites
    present = []
    tname = towns.set_index("township_code")["name_zh"] if towns is not None and len(towns) else pd.Series(dtype=str)
    for key, st in styles.items():
        s = layers.get(f"sites_{key}")
        s = prep(s) if s is not None else None
        if s is None or not len(s):
            continue
        present.append(key)
        zh, en = st["name_zh"], st["name_en"]
        if len(s) > CLUSTER_ABOVE:
            # many sites: grouped into counted circles at city zoom, single markers from street zoom on
            fgs = plugins.MarkerCluster(
                name=f"{zh} {en} ({len(s)})",
                icon_create_function=_CLUSTER_ICON % st["color"],
                options={"disableClusteringAtZoom": 14, "maxClusterRadius": 45, "showCoverageOnHover": False},
            )
        else:
            fgs = folium.FeatureGroup(name=f"{zh} {en} ({len(s)})")
        # one GeoJSON layer per family, not a marker per site: folium compiles every element's script as a template,
        # which took 8.8 of 19.8 s (profiled) for the citywide map's 5,000 sites
        features = []
        for r in s.itertuples():
            ex = bool(getattr(r, "existing", False))
            served = getattr(r, "served", None)
            extra = ""
            if served is not None and served == served:
                extra += f"<br>服务人数 people served {served:,.0f}"
            for col, label in (("beds", "床位 beds"), ("allocated", "分配 allocated")):
                v = getattr(r, col, None)
                if v is not None and v == v:
                    extra += f"<br>{label} {v:,.0f}"
            nm = getattr(r, "name", None)
            if isinstance(nm, str) and nm:
                extra = f"<br>{html_mod.escape(nm)}" + extra
            tip = (
                f"<b>{zh}</b><br>{en}<br>{'已有 existing (kept)' if ex else '新建 new'}{extra}<br>"
                f"{html_mod.escape(str(tname.get(getattr(r, 'township_code', ''), '')))} {getattr(r, 'township_code', '')}"
                f"<br>site {html_mod.escape(str(r.site_id))}"
            )
            features.append({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(r.geometry.x, 6), round(r.geometry.y, 6)]},
                "properties": {"tip": tip, "existing": ex},
            })  # fmt: skip
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=f"{zh} {en} ({len(s)})",
            marker=folium.CircleMarker(radius=st["radius"], fill=True, fill_color=st["color"], fill_opacity=0.95),
            style_function=functools.partial(_site_style, color=st["color"]),
            tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
        ).add_to(fgs)
        fgs.add_to(m)
    # collapsed: the 20-odd layers, listed open, covered a third of a district map
    folium.LayerControl(collapsed=True).add_to(m)
    plugins.Fullscreen(position="topright").add_to(m)
    name = title or summary.get("scenario", "plan")
    foot = ["Boundaries: poi86/Amap via cnmaps & mosstool; streets © OpenStreetMap contributors (ODbL)"]
    if shift:
        foot.append("All layers shifted to GCJ-02 to match Gaode tiles; analysis is in WGS-84.")
    m.get_root().html.add_child(folium.Element(_legend_html({k: styles[k] for k in present}, breaks, name, foot)))
    m.get_root().header.add_child(
        folium.Element(
            "<style>.fp-town{transform:translate(-50%,-50%);white-space:nowrap;font:bold 12px 'Noto Sans CJK SC',"
            "'Microsoft YaHei',sans-serif;color:#333;text-shadow:0 0 3px #fff,0 0 3px #fff;pointer-events:none}"
            ".leaflet-control-scale{margin-bottom:6px!important}</style>"
        )
    )
    return m


def save_map(m, path: str | Path) -> Path:
    """Save a folium map as one self-contained HTML file (scripts and styles inlined); refuse external references."""
    root = m.get_root()
    html = inline_html(stable_ids(root.render(), root))  # numbered element ids: equal maps are equal bytes
    left = external_references(html)
    if left:
        raise FacilityPlannerError(f"the map still references external files: {left[:3]}")
    return atomic_write_text(path, html)  # temporary file beside it, renamed into place


class OfflineMap:
    """Shows a folium map in Jupyter with every script inlined (folium's own display loads them from CDNs)."""

    def __init__(self, m, height: int = 600) -> None:
        self.map = m
        self.height = height

    def _repr_html_(self) -> str:
        page = inline_html(self.map.get_root().render())
        return (
            f'<iframe srcdoc="{html_mod.escape(page)}" style="width:100%;height:{self.height}px;border:none" '
            'sandbox="allow-scripts"></iframe>'
        )

    def save(self, path: str | Path) -> Path:
        return save_map(self.map, path)


def show(m, height: int = 600) -> OfflineMap:
    """Display a map in a notebook offline: ``show(plan_map(...))``."""
    return OfflineMap(m, height)


def write_maps(
    plan_or_layers, out_dir: str | Path, *, summary: dict | None = None, basemap: str | None = None
) -> list[Path]:
    """Write ``index.html`` (citywide or the plan's area) and one map per district into ``out_dir``."""
    if hasattr(plan_or_layers, "layers"):
        layers, summary = plan_or_layers.layers(), plan_or_layers.summary()
        basemap = basemap or plan_or_layers.scenario.outputs.basemap
    else:
        layers = plan_or_layers
    basemap = basemap or "none"
    from .progress import progress

    out = Path(out_dir)
    written = [save_map(plan_map(layers, summary, basemap=basemap), out / "index.html")]
    breaks = citywide_breaks(layers["demand_cells"])
    for r in progress(list(layers["districts"].itertuples()), desc="maps", unit="district"):
        code = str(r.district_code)
        written.append(
            save_map(
                plan_map(
                    layers,
                    summary,
                    district=code,
                    basemap=basemap,
                    title=f"{summary.get('scenario', '')} · {r.name_zh} {r.name_pinyin}",
                    older_breaks=breaks,
                ),
                out / f"district_{code}_{r.name_pinyin}.html",
            )
        )
    return written


def read_plan_layers(plan_dir: str | Path) -> tuple[dict, dict]:
    """The layers and summary of a written plan folder (for redrawing maps).

    Raises
    ------
    ValidationError
        The folder is not a plan folder, or its plan.gpkg / summary.json is missing, damaged or incomplete; the
        message names the file and says to run the scenario again.
    """
    from ._plan_files import read_plan_folder

    return read_plan_folder(
        plan_dir,
        is_bool=lambda col: col in ("existing", "straight_line_fallback") or col.startswith("covered_"),
    )


def _layer_styles(layers: dict, summaries: tuple[dict, dict] | None) -> dict[str, dict]:
    """Family styles from the summaries, or from the plan's ``families`` layer, or from its ``sites_*`` layers."""
    if summaries:
        st = family_styles(summaries[0])
        st.update({k: v for k, v in family_styles(summaries[1]).items() if k not in st})
        return st
    fam = layers.get("families")
    if fam is not None and len(fam):
        return family_styles({"families": {r["family"]: dict(r) for r in fam.to_dict("records")}})
    keys = [k.removeprefix("sites_") for k in layers if k.startswith("sites_")]
    return family_styles({"families": {k: {} for k in keys}})


# the comparison lives in compare.py; these names stay importable from maps
from .compare import compare_summaries, comparison_map  # noqa: E402

__all__ = [
    "compare_summaries",
    "comparison_map",
    "plan_map",
    "read_plan_layers",
    "save_map",
    "show",
    "write_maps",
]
