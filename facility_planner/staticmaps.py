"""Static maps for the printed report, drawn offline with matplotlib: older people per km² (cells in a district,
townships for a whole area), township and district boundaries, a family's sites (existing ones ringed in black) and
its uncovered cells, a metric scale bar. Drawn in UTM 50N so the axes are metres.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np

from . import settings

OLDER_COLORS = ["#fff7ec", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"]
#: uncovered older people: a hatch in a colour outside the density scale
UNCOVERED_COLOR = "#1f4e9c"
_FONTS = [
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Microsoft YaHei",
    "PingFang SC",
    "WenQuanYi Micro Hei",
    "DejaVu Sans",
]


def has_cjk_font() -> bool:
    """Whether matplotlib can draw Chinese; registers an installed Noto/WenQuanYi CJK font that its cache missed
    (matplotlib skips ``.ttc`` collections installed after its font cache was built).
    """
    from matplotlib import font_manager as fm

    names = {f.name for f in fm.fontManager.ttflist}
    if any(n in names for n in _FONTS[:-1]):
        return True
    for path in fm.findSystemFonts(fontext="ttf") + _ttc_files():  # "ttf" finds .ttf, .otf and .ttc alike
        low = Path(path).name.lower()
        if ("cjk" in low and "sans" in low) or "wqy" in low or "msyh" in low or "pingfang" in low:
            try:
                fm.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    names = {f.name for f in fm.fontManager.ttflist}
    return any(n in names for n in _FONTS[:-1])


def _ttc_files() -> list[str]:
    out: list[str] = []
    for d in ("/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts"), "C:/Windows/Fonts",
              "/System/Library/Fonts", "/Library/Fonts"):  # fmt: skip
        p = Path(d)
        if p.is_dir():
            out += [str(f) for f in p.rglob("*.tt[cf]") if "cjk" in f.name.lower() or "msyh" in f.name.lower()]
    return out


def _density_colors(values: np.ndarray, breaks: list[float]) -> list[str]:
    idx = np.searchsorted(np.asarray(breaks, float), np.asarray(values, float), side="right") - 1
    return [OLDER_COLORS[int(min(max(i, 0), len(OLDER_COLORS) - 1))] for i in idx]


def _fill(ax, geoms: np.ndarray, colors: list[str]) -> None:
    """Polygons filled, without edges, as one collection of paths: each polygon (or part of a multipolygon) one path,
    its exterior and holes as sub-paths, the same shapes geopandas' ``plot`` draws with a patch per polygon (Miyun's
    10,000 cells: 2.7 s that way; a report has a map per district).
    """
    import shapely
    from matplotlib.collections import PathCollection
    from matplotlib.path import Path as MPath

    parts, part_of = shapely.get_parts(geoms, return_index=True)
    # exteriors anticlockwise, holes clockwise: a collection fills by the non-zero rule, so a hole wound like its
    # exterior would be painted over
    parts = shapely.orient_polygons(parts, exterior_cw=False)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    xy, vert_of = shapely.get_coordinates(rings, return_index=True)
    if not len(xy):
        return
    codes = np.full(len(xy), MPath.LINETO, dtype=MPath.code_type)
    ring_start = np.r_[0, np.flatnonzero(np.diff(vert_of)) + 1]
    codes[ring_start] = MPath.MOVETO  # every ring a closed sub-path (its last point repeats its first)
    part = ring_of[vert_of]
    cut = np.r_[0, np.flatnonzero(np.diff(part)) + 1, len(xy)]
    paths = [MPath(xy[a:b], codes[a:b]) for a, b in itertools.pairwise(cut)]
    face = np.asarray(colors, dtype=object)[part_of[part[cut[:-1]]]]
    ax.add_collection(PathCollection(paths, facecolors=list(face), linewidths=0), autolim=True)


def _scale_bar(ax, extent_m: float) -> None:
    nice = [100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000]
    length = max([n for n in nice if n <= extent_m / 4] or [nice[0]])
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    x, y = x0 + 0.04 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    ax.plot([x, x + length], [y, y], color="#000", linewidth=3, solid_capstyle="butt")
    label = f"{length // 1000:,} km" if length >= 1000 else f"{length} m"
    ax.text(x + length / 2, y + 0.015 * (y1 - y0), label, ha="center", va="bottom", fontsize=8)


def plan_png(
    layers: dict,
    *,
    family: str | None = None,
    families: dict[str, dict] | None = None,
    district: str | None = None,
    breaks: list[float] | None = None,
    title: str = "",
    legend: dict[str, str] | None = None,
    dpi: int = 110,
) -> bytes:
    """A PNG of the plan: one family (``family``) or every family in ``families`` (key → style with ``color``,
    ``name_zh``), over the older population; one district (a code) or the whole plan.

    ``legend`` holds the labels (translated by the caller): ``older``, ``uncovered``, ``existing``.
    """
    import matplotlib
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from .maps import merged_polygons

    legend = legend or {}
    crs = settings.working_crs

    def part(g):
        if g is None or not len(g):
            return g
        if district is not None and "district_code" in g.columns:
            g = g[g["district_code"].astype(str) == district]
        return g if g.crs is not None and g.crs.equals(crs) else g.to_crs(crs)

    dist = part(layers["districts"])
    towns = part(layers["townships"])
    cells = part(layers["demand_cells"])
    with matplotlib.rc_context({"font.sans-serif": _FONTS, "font.family": "sans-serif", "axes.unicode_minus": False}):
        # a Figure outside pyplot: its canvas draws nothing until savefig renders it once (geopandas asks for a
        # redraw after every layer it plots, which on a pyplot Agg figure renders the whole figure each time)
        fig = Figure(figsize=(7.6, 5.4), dpi=dpi)
        ax = fig.subplots()
        if district is not None:
            area = cells[cells["pop"] > 0]
            dens = area["pop_60"] / (area["area_m2"] / 1e6)
        else:
            area = towns
            dens = towns["pop_60"] / (towns.geometry.area / 1e6)
        br = breaks or [float(x) for x in np.nanquantile(dens.to_numpy(float), [0, 0.2, 0.4, 0.6, 0.8])]
        if len(area):
            _fill(ax, area.geometry.to_numpy(), _density_colors(dens.to_numpy(), br))
        keys = [family] if family else list((families or {}).keys())
        handles: list[Artist] = []
        if family and f"covered_{family}" in cells.columns:
            unc = cells[~cells[f"covered_{family}"].astype(bool) & (cells["pop_60"] > 0)]
            s = layers.get(f"sites_{family}")
            if len(unc) and s is not None and len(s):
                # hatched in blue over the red density scale: a grey wash vanished in the darkest townships; one
                # merged shape, since hatching each of 60,000 cells took 50 s a map
                gpd.GeoSeries([merged_polygons(unc.geometry.to_numpy())], crs=unc.crs).plot(
                    ax=ax, facecolor="none", edgecolor=UNCOVERED_COLOR, hatch="////", linewidth=0
                )
                handles.append(
                    Patch(facecolor="white", edgecolor=UNCOVERED_COLOR, hatch="////",
                          label=legend.get("uncovered", "uncovered"))
                )  # fmt: skip
        towns.boundary.plot(ax=ax, color="#666", linewidth=0.4)
        dist.boundary.plot(ax=ax, color="#111", linewidth=1.2)
        for key in keys:
            s = part(layers.get(f"sites_{key}"))
            if s is None or not len(s):
                continue
            st = (families or {}).get(key, {})
            color = st.get("color", "#d62728")
            ex = s["existing"].astype(bool) if "existing" in s.columns else np.zeros(len(s), bool)
            pts = s.geometry.centroid if not (s.geom_type == "Point").all() else s.geometry
            size = 14 if len(s) > 200 else 26
            ax.scatter(pts.x[~ex], pts.y[~ex], s=size, c=color, edgecolors="white", linewidths=0.5, zorder=5)
            if ex.any():
                ax.scatter(pts.x[ex], pts.y[ex], s=size, c=color, edgecolors="black", linewidths=1.4, zorder=6)
            handles.append(
                Line2D([], [], marker="o", linestyle="", markerfacecolor=color, markeredgecolor="white",
                       markersize=7, label=f"{st.get('name_zh', key)} ({len(s)})")
            )  # fmt: skip
        handles.append(Patch(facecolor=OLDER_COLORS[3], label=legend.get("older", "people 60+ per km²")))
        b = dist.total_bounds
        pad = 0.03 * max(b[2] - b[0], b[3] - b[1])
        ax.set_xlim(b[0] - pad, b[2] + pad)
        ax.set_ylim(b[1] - pad, b[3] + pad)
        ax.set_aspect("equal")
        ax.set_axis_off()
        _scale_bar(ax, b[2] - b[0])
        ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.9)
        if title:
            ax.set_title(title, fontsize=11)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()


def cell_breaks(cells: gpd.GeoDataFrame) -> list[float]:
    """Density breaks (people 60+ per km²) of every populated cell, shared by every district figure."""
    from .maps import citywide_breaks

    return citywide_breaks(cells)


__all__ = ["cell_breaks", "plan_png"]
