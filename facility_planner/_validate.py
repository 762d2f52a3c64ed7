"""Input checks shared by every stage. Each check collects problems and raises one ValidationError."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ._errors import ValidationError


class Problems:
    """Collect problems about one input, then raise them together.

    Examples
    --------
    >>> p = Problems("`population`")
    >>> p.add("column `pop` is missing; add it")
    >>> p.raise_if_any()  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValidationError: ...
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.items: list[str] = []

    def add(self, problem: str) -> None:
        self.items.append(problem)

    def extend(self, problems: Iterable[str]) -> None:
        self.items.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, cls: type[ValidationError] = ValidationError) -> None:
        if self.items:
            raise cls(self.what, self.items)


def fmt_ids(values, n: int = 10) -> str:
    """Ids as plain text for messages: ``a, b, c … and 5 more``."""
    return _short([v.item() if hasattr(v, "item") else v for v in values], n)


def _short(values: Sequence[object], n: int = 8) -> str:
    vals = [str(v) for v in values]
    more = f" … and {len(vals) - n} more" if len(vals) > n else ""
    return ", ".join(vals[:n]) + more


def check_columns(df: pd.DataFrame, required: Iterable[str], problems: Problems) -> bool:
    missing = [c for c in required if c not in df.columns]
    if missing:
        problems.add(
            f"missing column(s) {', '.join(f'`{c}`' for c in missing)}; found {_short(list(df.columns))}. "
            "Rename your columns, or name yours (the library's `*_column` arguments; on the command line "
            "`--code-column`, `--district-column`, `--pop-column`)."
        )
        return False
    return True


def check_numeric_nonnegative(df: pd.DataFrame, column: str, problems: Problems, id_column: str | None = None) -> None:
    """Values of ``column`` must be numbers ≥ 0 with no blanks."""
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce")
    labels = df[id_column] if id_column and id_column in df.columns else df.index
    bad = values.isna()
    if bad.any():
        problems.add(
            f"`{column}` has {int(bad.sum())} blank or non-numeric value(s) (at {_short(list(labels[bad]))}: "
            f"{_short(list(raw[bad]))}); write plain numbers such as 12345."
        )
    neg = values < 0
    if neg.any():
        problems.add(
            f"`{column}` has {int(neg.sum())} negative value(s) (at {_short(list(labels[neg]))}); "
            "population cannot be negative."
        )


def check_unique(df: pd.DataFrame, column: str, problems: Problems, *, fix: str = "give every row its own id") -> bool:
    """The one id-uniqueness check: add a problem naming the repeated values of ``column``; True when unique.

    Every caller that needs unique ids (zones, census codes, demand and site ids, family sites) uses it, so the
    message is the same everywhere: the column, the repeated values and ``fix``.

    Examples
    --------
    >>> p = Problems("`sites`")
    >>> check_unique(pd.DataFrame({"site_id": ["a", "b", "a"]}), "site_id", p)
    False
    >>> p.items
    ['`site_id` must be unique; repeated: a; give every row its own id.']
    """
    dup = df[column][df[column].duplicated()]
    if len(dup):
        problems.add(f"`{column}` must be unique; repeated: {_short(sorted(set(map(str, dup))))}; {fix}.")
        return False
    return True


def check_geometries(gdf, problems: Problems, *, id_column: str | None = None) -> None:
    """Geometries must be present, non-empty and valid (``make_valid`` repairs most)."""
    geom = gdf.geometry
    labels = gdf[id_column] if id_column and id_column in gdf.columns else gdf.index
    missing = geom.isna() | geom.is_empty
    if missing.any():
        problems.add(
            f"{int(missing.sum())} feature(s) have no geometry ({_short(list(labels[missing]))}); drop or fix them."
        )
    present = ~missing
    invalid = present & ~geom.is_valid
    if invalid.any():
        problems.add(
            f"{int(invalid.sum())} invalid geometr{'y' if invalid.sum() == 1 else 'ies'} "
            f"({_short(list(labels[invalid]))}); repair them with `shapely.make_valid` or `gdf.make_valid()`."
        )


def check_positive(value: float, name: str, problems: Problems) -> None:
    if not (isinstance(value, int | float | np.floating | np.integer) and np.isfinite(value) and value > 0):
        problems.add(f"`{name}` must be a number > 0; got {value!r}.")
