"""Census tables joined to areas, age shares, and integer allocation that preserves totals.

Rounding rule (used everywhere a total is split into whole people): the largest-remainder (Hamilton) method.
Each part gets the floor of its exact share; the people left over go one each to the parts with the largest
fractional remainders (ties broken by order). Parts therefore always add up exactly to the total.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from ._errors import ValidationError
from ._validate import Problems, check_columns, check_numeric_nonnegative, check_unique
from .beijing import data_dir


def largest_remainder(totals: npt.ArrayLike, weights: npt.ArrayLike, groups: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Split integer ``totals`` (one per group) over rows in proportion to ``weights``, preserving each total.

    Parameters
    ----------
    totals
        Integer total of each row's group, repeated on every row of the group.
    weights
        Non-negative weight of each row. A group whose weights are all zero is split equally.
    groups
        Group label of each row.

    Examples
    --------
    >>> largest_remainder([10, 10, 10], [1, 1, 1], ["a", "a", "a"]).tolist()
    [4, 3, 3]
    """
    totals = np.asarray(totals, dtype=np.int64)
    w = np.asarray(weights, dtype=float)
    g = pd.factorize(np.asarray(groups))[0]
    if len(w) == 0:
        return np.zeros(0, dtype=np.int64)
    wsum = np.bincount(g, weights=w)
    count = np.bincount(g)
    zero = wsum[g] <= 0
    w = np.where(zero, 1.0, w)
    wsum = np.where(wsum <= 0, count, wsum)
    exact = totals * (w / wsum[g])
    base = np.floor(exact).astype(np.int64)
    frac = exact - base
    left = totals[np.unique(g, return_index=True)[1]] - np.bincount(g, weights=base).astype(np.int64)
    # rank rows within their group by descending remainder, ties by position
    order = np.lexsort((np.arange(len(w)), -frac, g))
    rank = np.empty(len(w), dtype=np.int64)
    starts = np.r_[0, np.cumsum(count)[:-1]]
    rank[order] = np.arange(len(w)) - starts[g[order]]
    return base + (rank < left[g]).astype(np.int64)


def load_district_census(path: str | Path | None = None) -> pd.DataFrame:
    """2020 census resident population by district: ``district_code``, ``name_zh``, ``name_pinyin``, ``pop_2020``."""
    df = pd.read_csv(data_dir(path) / "population_2020_districts.csv", dtype={"adcode": str})
    df = df.rename(columns={"adcode": "district_code"})
    return df[["district_code", "name_zh", "name_pinyin", "pop_2020"]]


def load_city_age_shares(path: str | Path | None = None) -> dict[str, float]:
    """Beijing's 2020 shares of residents aged 60+ and 65+ (published counts ÷ census total)."""
    value = pd.read_csv(data_dir(path) / "population_2020_city_age.csv").set_index("indicator")["value"].astype(float)
    total = float(value["resident_population"])
    return {"60+": float(value["age_60_plus"]) / total, "65+": float(value["age_65_plus"]) / total}


def validate_census(
    census: pd.DataFrame, known_codes: set[str], *, code_column: str, pop_column: str, what: str
) -> pd.DataFrame:
    """Check a census table (columns, numbers ≥ 0, codes that join); return it with integer population."""
    problems = Problems(what)
    if check_columns(census, [code_column, pop_column], problems):
        check_numeric_nonnegative(census, pop_column, problems, id_column=code_column)
        codes = census[code_column].astype(str)
        check_unique(pd.DataFrame({code_column: codes}), code_column, problems, fix="give each unit one row")
        unknown = sorted(set(codes) - known_codes)
        if unknown:
            problems.add(
                f"{len(unknown)} code(s) in `{code_column}` match no area: {', '.join(unknown[:10])}"
                f"{' …' if len(unknown) > 10 else ''}; check the codes (6-digit district, 9-digit township)."
            )
        vals = pd.to_numeric(census[pop_column], errors="coerce")
        frac = vals.notna() & (vals % 1 != 0)
        if frac.any():
            problems.add(f"`{pop_column}` must hold whole people; {int(frac.sum())} value(s) have fractions.")
    problems.raise_if_any()
    out = census[[code_column, pop_column]].copy()
    out[code_column] = out[code_column].astype(str)
    out[pop_column] = pd.to_numeric(out[pop_column]).astype("int64")
    return out


def control_to_census(
    zones: pd.DataFrame,
    district_census: pd.DataFrame,
    *,
    zone_census: pd.DataFrame | None = None,
    weight_column: str = "wp_pop",
    weight_label: str = "modelled estimate",
) -> pd.DataFrame:
    """Give each zone an integer population so that every district's census total is met exactly.

    Zones with their own census figure (``zone_census``: ``township_code``, ``pop_2020``) keep it. The rest of the
    district total is split over the other zones in proportion to ``weight_column`` by the largest-remainder rule.

    Returns ``zones`` with ``pop`` and ``pop_source`` columns.

    Raises
    ------
    ValidationError
        A zone's district has no census row, or the zone census figures exceed their district total.
    """
    z = zones.copy()
    census = validate_census(
        district_census,
        set(z["district_code"]),
        code_column="district_code",
        pop_column="pop_2020",
        what="`district_census`",
    )
    problems = Problems("population control")
    missing = sorted(set(z["district_code"]) - set(census["district_code"]))
    if missing:
        problems.add(f"district(s) {missing} have zones but no census total; add them to the census table.")
    check_numeric_nonnegative(z, weight_column, problems, id_column="township_code")
    problems.raise_if_any()
    total = z["district_code"].map(census.set_index("district_code")["pop_2020"]).astype("int64")
    known = pd.Series(np.nan, index=z.index)
    if zone_census is not None:
        zc = validate_census(
            zone_census,
            set(z["township_code"]),
            code_column="township_code",
            pop_column="pop_2020",
            what="`zone_census`",
        )
        known = z["township_code"].map(zc.set_index("township_code")["pop_2020"])
    has_known = known.notna()
    known_sum = known.fillna(0).groupby(z["district_code"]).transform("sum").astype("int64")
    rest = total - known_sum
    bad = sorted(set(z.loc[rest < 0, "district_code"]))
    all_known = has_known.groupby(z["district_code"]).transform("all")
    off = sorted(set(z.loc[all_known & (rest != 0), "district_code"]))
    for dcode in bad + [o for o in off if o not in bad]:
        s = int(known_sum[z["district_code"] == dcode].iloc[0])
        t = int(total[z["district_code"] == dcode].iloc[0])
        problems.add(f"township census figures of district {dcode} add up to {s:,} but its census total is {t:,}.")
    problems.raise_if_any()
    free = ~has_known
    pop = np.array(known.fillna(0).astype("int64"), dtype=np.int64)
    if free.any():
        pop[free.to_numpy()] = largest_remainder(
            rest[free], pd.to_numeric(z.loc[free, weight_column]), z.loc[free, "district_code"]
        )
    z["pop"] = pop
    z["pop_source"] = np.where(has_known, "census_2020_township", f"census_2020_district_split_by_{weight_label}")
    return z


def older_population(
    zones: pd.DataFrame,
    *,
    share: float,
    by_district: dict[str, float] | None = None,
    column: str = "pop_60",
) -> pd.DataFrame:
    """Add the older population of each zone: district total × share, split over zones by population.

    Parameters
    ----------
    share
        The city-wide share (e.g. 0.196 for 60+), used for districts not in ``by_district``.
    by_district
        Optional per-district shares keyed by district code; they override ``share``.
    """
    problems = Problems("older-population shares")
    by_district = dict(by_district or {})
    for k, v in {"(city)": share, **by_district}.items():
        if not isinstance(v, int | float) or not 0 <= v <= 1:
            problems.add(f"share for {k} must be a number between 0 and 1 (e.g. 0.196 for 19.6%); got {v!r}.")
    unknown = sorted(set(by_district) - set(zones["district_code"]))
    if unknown:
        problems.add(f"`by_district` names unknown district code(s) {unknown}.")
    problems.raise_if_any()
    z = zones.copy()
    s = z["district_code"].map(lambda c: by_district.get(c, share)).astype(float)
    dpop = z.groupby("district_code")["pop"].transform("sum")
    dolder = np.rint(dpop * s).astype("int64")
    z[column] = largest_remainder(dolder, z["pop"], z["district_code"])
    z[column + "_share_source"] = np.where(z["district_code"].isin(by_district.keys()), "district table", "city share")
    return z


#: Column names recognised in an older-share table (:func:`read_older_shares`), best first.
SHARE_DISTRICT_COLUMNS = ("district", "district_code", "区", "区县", "区名", "name")
SHARE_VALUE_COLUMNS = ("older_share", "share_60", "share", "60岁及以上占比", "60岁以上占比", "占比")


def read_older_shares(
    path: str | Path, districts: pd.DataFrame, *, encoding: str | None = None, what: str | None = None
) -> dict[str, float]:
    """Per-district shares of people aged 60+ from a table file, keyed by district code.

    The file is a CSV (UTF-8, UTF-8 with BOM or GBK) or ``.xlsx`` with two columns::

        district,older_share
        东城区,0.243
        Xicheng,0.239
        110105,22.1%

    ``district`` holds a district's 6-digit code, its Chinese name (with or without 区) or its English/pinyin name;
    ``older_share`` the share of its residents aged 60+, as a fraction (0.243) or a percentage with a % sign
    (24.3%). Chinese headers 区/区县 and 60岁及以上占比/占比 are accepted too. Districts not in the table take the
    city share (the 2020 census share unless another is given): the plan says which districts did.

    Parameters
    ----------
    path
        The table file.
    districts
        The districts it may name (``district_code``, ``name_zh``, ``name_en``, ``name_pinyin``).

    Returns
    -------
    dict
        District code → share (0–1).

    Raises
    ------
    ValidationError
        One error listing every problem: missing columns, unknown or repeated districts, blank, non-numeric or
        out-of-range shares (with row numbers).
    """
    from .areas import resolve_district
    from .io import read_table

    what = what or f"`{Path(path).name}`"
    table = read_table(path, encoding=encoding, what=what)
    problems = Problems(what)
    norm = {str(c).strip().lower(): c for c in table.columns}
    dcol = next((norm[c] for c in SHARE_DISTRICT_COLUMNS if c in norm), None)
    vcol = next((norm[c] for c in SHARE_VALUE_COLUMNS if c in norm), None)
    if dcol is None or vcol is None:
        cols = ", ".join(repr(c) for c in table.columns if c != "source_row")
        problems.add(
            f"the table needs columns `district` (code or name) and `older_share` (e.g. 0.243 or 24.3%); its columns "
            f"are {cols}."
        )
        problems.raise_if_any()
    out: dict[str, float] = {}
    rows_of: dict[str, list[int]] = {}
    bad_value: list[str] = []
    unknown: list[str] = []
    for name, raw, row in zip(table[dcol], table[vcol], table["source_row"], strict=True):
        try:
            code = resolve_district(districts, str(name))
        except ValidationError:
            unknown.append(f"{name!r} (row {row})")
            continue
        text = str(raw).strip().replace("％", "%")
        percent = text.endswith("%")
        try:
            value = float(text.rstrip("%").strip())
        except ValueError:
            value = float("nan")
        if percent:
            value /= 100
        if not np.isfinite(value) or not 0 <= value <= 1:
            hint = " (a percentage needs a % sign: 24.3%)" if np.isfinite(value) and 1 < value <= 100 else ""
            bad_value.append(f"{raw!r} (row {row}){hint}")
            continue
        rows_of.setdefault(code, []).append(int(row))
        out[code] = value
    if unknown:
        names = ", ".join(f"{r.name_zh} / {r.name_pinyin} / {r.district_code}" for r in districts.itertuples())
        problems.add(f"{len(unknown)} unknown district(s): {', '.join(unknown[:8])}; use one of: {names}.")
    if bad_value:
        problems.add(
            f"{len(bad_value)} share(s) are not a number between 0 and 1: {', '.join(bad_value[:8])}; write e.g. "
            "0.243 or 24.3%."
        )
    repeated = {c: r for c, r in rows_of.items() if len(r) > 1}
    if repeated:
        problems.add(
            "district(s) listed more than once: "
            + "; ".join(f"{c} (rows {', '.join(map(str, r))})" for c, r in repeated.items())
            + "; keep one row per district."
        )
    problems.raise_if_any()
    return out


def check_totals(df: pd.DataFrame, expected: pd.Series, *, by: str, column: str) -> list[str]:
    """Return messages for groups whose ``column`` sum differs from ``expected`` (indexed by group)."""
    got = df.groupby(by)[column].sum()
    diff = (got.reindex(expected.index).fillna(0) - expected).loc[lambda x: x != 0]
    return [f"{by} {k}: {column} sums to {int(got.get(k, 0)):,}, expected {int(expected[k]):,}" for k in diff.index]


__all__ = [
    "ValidationError",
    "check_totals",
    "control_to_census",
    "largest_remainder",
    "load_city_age_shares",
    "load_district_census",
    "older_population",
    "read_older_shares",
]
