"""Readers for published facility-location instances and a runner that checks our optima against the known ones.

Families (a folder laid out like ``data/benchmarks/<family>/``: instance files plus ``optima.csv`` with columns
``instance,optimum``; the published instances are bundled, see :func:`bundled_dir`):

* ``pmed``: OR-Library p-median (Beasley 1985). ``n m p`` then edges ``i j cost``; costs are shortest-path
  distances; a repeated edge takes its **last** cost (Beasley's note).
* ``scp``: OR-Library weighted set covering (Beasley 1987). ``rows cols``, the column costs, then for each row the
  number of covering columns and their 1-based indices.
* ``mclp-swain``: Swain's 55 nodes (Church & ReVelle 1974): a count, then ``id x y demand`` lines. Instances are
  named ``swain55_S{radius}_p{p}`` in ``optima.csv``.
* ``mclp-sjc``: São José dos Campos (Lorena & Pereira 2002): ``SJCnnn.txt`` (count, then ``x y``) and
  ``demand-SJCnnn.dat``; named ``SJCnnn_S{radius}_p{p}``.

In the maximal-covering sets every point is a demand and a candidate site, and a point is covered when its
Euclidean distance is ≤ S (inclusive).

Every reader checks its file completely and raises one :class:`~facility_planner.ValidationError` listing every
problem found, each with its line number and the fix: a truncated file, a token that is not a number, counts that
do not match the header, indices out of range, negative costs, an empty, binary or non-UTF-8 file, a file too large
to be an instance.
"""

from __future__ import annotations

import csv
import io
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, shortest_path
from scipy.spatial import cKDTree

from ._errors import ValidationError
from .matrices import LabelledMatrix
from .models import max_cover, p_median, set_cover

FAMILIES = ("pmed", "scp", "mclp-swain", "mclp-sjc")
#: the bundled folder of each family, under ``data/benchmarks`` (``facility_planner/_data/benchmarks`` when installed)
FAMILY_FOLDERS = {"pmed": "orlib_pmed", "scp": "orlib_scp", "mclp-swain": "mclp_swain", "mclp-sjc": "mclp_sjc"}

#: size guards: an instance file larger than this is refused before it is read
MAX_FILE_BYTES = 64 * 2**20
#: p-median graphs: the all-pairs cost matrix is dense (n² numbers)
MAX_PMED_VERTICES = 5_000
#: maximal covering point sets, and the pairs within the radius
MAX_POINTS = 100_000
MAX_COVER_PAIRS = 20_000_000
#: at most this many problems of one kind are listed (then a count of the rest)
_SHOW = 8


def bundled_dir(family: str) -> Path:
    """The folder of the published instances of ``family`` bundled with the package.

    Parameters
    ----------
    family
        One of :data:`FAMILIES`.

    Returns
    -------
    Path
        ``data/benchmarks/<folder>`` in a source checkout, ``facility_planner/_data/benchmarks/<folder>`` in an
        installed package.
    """
    if family not in FAMILY_FOLDERS:
        raise ValidationError("`family`", [f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}."])
    here = Path(__file__).resolve().parent
    candidates = [
        base / FAMILY_FOLDERS[family] for base in (here.parent / "data" / "benchmarks", here / "_data" / "benchmarks")
    ]
    for c in candidates:
        if (c / "optima.csv").is_file():
            return c
    raise ValidationError(
        "bundled instances",
        [
            f"no bundled {family} instances found (looked in {', '.join(str(c) for c in candidates)}); "
            "run from a clone of the repository or pass the folder of the instances."
        ],
    )


# ---------------------------------------------------------------------------------------------------------- reading


def _read_text(path: str | Path, what: str) -> str:
    """The text of an instance file, or one clear error: missing, a folder, empty, too large, binary, not UTF-8."""
    path = Path(path)
    if not path.exists():
        raise ValidationError(str(path), [f"the {what} file does not exist; check the path."])
    if not path.is_file():
        raise ValidationError(str(path), [f"expected a {what} file; this is a folder or a special file."])
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValidationError(
            str(path),
            [
                f"the file has {size / 2**20:,.0f} MB; a {what} instance this large is refused "
                f"(limit {MAX_FILE_BYTES / 2**20:.0f} MB, `facility_planner.benchmarks.MAX_FILE_BYTES`)."
            ],
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValidationError(str(path), [f"cannot read the file ({exc.strerror}); check its permissions."]) from None
    if not raw.strip():
        raise ValidationError(str(path), [f"the file is empty; a {what} file holds numbers in plain text."])
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise ValidationError(
            str(path), [f"line {line}: a NUL byte; this is a binary file, not a plain-text {what} instance."]
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValidationError(
            str(path),
            [f"line {line}: byte {raw[exc.start]:#04x} is not UTF-8 text; save the file as plain UTF-8 (or ASCII)."],
        ) from None


class _Tokens:
    """The whitespace-separated tokens of a text and the line each comes from."""

    def __init__(self, text: str) -> None:
        toks: list[str] = []
        counts: list[int] = []
        for line in text.splitlines():
            parts = line.split()
            toks += parts
            counts.append(len(parts))
        self.toks = toks
        self.line = np.repeat(np.arange(1, len(counts) + 1), counts)

    def __len__(self) -> int:
        return len(self.toks)

    def where(self, k: int) -> str:
        return f"line {int(self.line[k])}" if 0 <= k < len(self.line) else "the end of the file"


class _Problems(list):
    """Problems of one file, at most :data:`_SHOW` of each kind listed."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    def add(self, kind: str, text: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] <= _SHOW:
            self.append(text)

    def close(self) -> list[str]:
        out = list(self)
        out += [f"… and {n - _SHOW} more {kind}" for kind, n in self.counts.items() if n > _SHOW]
        return out


def _numbers(t: _Tokens, pos, kind: type, what: str, problems: _Problems) -> np.ndarray:
    """Tokens at ``pos`` (a slice or index array) as int64 or finite float64; each token that is not one is a
    problem with its line."""
    at = np.arange(len(t))[pos] if isinstance(pos, slice) else np.asarray(pos, dtype=np.int64)
    toks = [t.toks[k] for k in at]
    dtype = np.int64 if kind is int else np.float64
    try:
        vals = np.array(toks, dtype=dtype)
        bad = np.zeros(len(vals), bool) if kind is int else ~np.isfinite(vals)
        vals[bad] = 1
    except (ValueError, OverflowError):
        # a token that is no number reads as 1: reported once here, not again as out of range or negative
        vals = np.ones(len(toks), dtype=dtype)
        bad = np.zeros(len(toks), bool)
        for k, s in enumerate(toks):
            try:
                v = int(s) if kind is int else float(s)
                if kind is int and not -(2**62) < v < 2**62:
                    raise OverflowError
                if kind is int or math.isfinite(v):
                    vals[k] = v
                else:
                    bad[k] = True
            except (ValueError, OverflowError):
                bad[k] = True
    for bad_k in np.flatnonzero(bad):
        noun = "an integer" if kind is int else "a finite number"
        problems.add("values that are not numbers", f"{t.where(int(at[bad_k]))}: {what} {toks[bad_k]!r} is not {noun}.")
    return vals


def _header(t: _Tokens, names: list[str], path: Path, layout: str) -> list[int]:
    """The integers at the start of a file; anything else ends the reading with one error."""
    problems = _Problems()
    if len(t) < len(names):
        problems.add("header", f"line 1: the file must start with {layout}; found {len(t)} value(s).")
    else:
        vals = _numbers(t, slice(0, len(names)), int, "header value", problems)
        for name, v in zip(names, vals, strict=True):
            if v < (0 if name.startswith("number of edges") else 1):
                problems.add("header", f"{t.where(0)}: {name} is {int(v)}; it must be ≥ 1.")
    if problems:
        raise ValidationError(str(path), [*problems.close(), f"an instance file starts with {layout}."])
    return [int(v) for v in vals]


def _pmed_graph(path: str | Path) -> tuple[sp.csr_matrix, int]:
    """The graph of an OR-Library pmed file (a repeated edge: the last cost counts) and p, fully checked."""
    path = Path(path)
    t = _Tokens(_read_text(path, "p-median"))
    n, e, p = _header(t, ["number of vertices", "number of edges (may be 0)", "p"], path, "`n_vertices n_edges p`")
    problems = _Problems()
    if n > MAX_PMED_VERTICES:
        raise ValidationError(
            str(path),
            [
                f"line 1: {n:,} vertices; the all-pairs cost matrix of more than {MAX_PMED_VERTICES:,} vertices is "
                f"refused (`facility_planner.benchmarks.MAX_PMED_VERTICES`)."
            ],
        )
    if p > n:
        problems.add("header", f"line 1: p = {p} exceeds the {n} vertices; p must be between 1 and {n}.")
    body = len(t) - 3
    if body < 3 * e:
        problems.add(
            "count",
            f"the file is truncated: line 1 declares {e:,} edges (3 values each, {3 * e:,} values) but {body:,} "
            f"values follow, the last on {t.where(len(t) - 1)}; restore the missing edges or correct the edge "
            f"count on line 1.",
        )
    elif body > 3 * e:
        problems.add(
            "count",
            f"{t.where(3 + 3 * e)}: {body - 3 * e:,} value(s) after the {e:,} edges declared on line 1; remove them "
            f"or correct the edge count.",
        )
    k = min(body // 3, e)
    at = 3 + 3 * np.arange(k)
    ij = _numbers(t, np.c_[at, at + 1].ravel(), int, "vertex", problems).reshape(k, 2)
    c = _numbers(t, at + 2, float, "edge cost", problems)
    for r in np.flatnonzero(((ij < 1) | (ij > n)).any(axis=1)):
        problems.add(
            "edges with a vertex out of range",
            f"{t.where(int(at[r]))}: edge {int(ij[r, 0])} {int(ij[r, 1])} names a vertex outside 1..{n}.",
        )
    for r in np.flatnonzero(c < 0):
        problems.add(
            "negative edge costs",
            f"{t.where(int(at[r]) + 2)}: edge {int(ij[r, 0])} {int(ij[r, 1])} has cost {c[r]:g}; edge costs must "
            f"be ≥ 0 (shortest paths are undefined when an edge is negative).",
        )
    if problems:
        raise ValidationError(str(path), problems.close())
    i, j = ij[:, 0] - 1, ij[:, 1] - 1
    # last occurrence wins: keep the final cost of each unordered pair
    key = np.minimum(i, j) * n + np.maximum(i, j)
    _, last = np.unique(key[::-1], return_index=True)
    last = len(key) - 1 - last
    i, j, c = i[last], j[last], c[last]
    G = sp.coo_matrix((np.r_[c, c], (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    n_parts, label = connected_components(G, directed=False)
    if n_parts > 1:
        cut = np.flatnonzero(label != label[0]) + 1
        raise ValidationError(
            str(path),
            [
                f"the graph falls into {n_parts} parts: vertex(es) {', '.join(map(str, cut[:_SHOW]))}"
                f"{' …' if len(cut) > _SHOW else ''} cannot be reached from vertex 1; restore the missing edges "
                f"(a p-median instance's costs are shortest paths over a connected graph)."
            ],
        )
    return G, p


def read_pmed(path: str | Path) -> tuple[np.ndarray, int]:
    """The all-pairs shortest-path cost matrix and ``p`` of an OR-Library pmed file.

    Parameters
    ----------
    path
        The file: ``n_vertices n_edges p``, then ``n_edges`` lines ``i j cost`` (1-based, undirected; a repeated
        edge takes its last cost).

    Returns
    -------
    tuple of (numpy.ndarray, int)
        The dense n × n cost matrix and p.

    Raises
    ------
    ValidationError
        Every problem of the file, with line numbers: truncated, non-numeric, wrong counts, vertices out of range,
        negative costs, a disconnected graph, an empty, binary or oversized file.
    """
    G, p = _pmed_graph(path)
    return shortest_path(G, method="D", directed=False), p


def read_scp(path: str | Path) -> tuple[sp.csr_matrix, np.ndarray]:
    """The 0/1 coverage matrix (rows × columns) and the column costs of an OR-Library scp file.

    Parameters
    ----------
    path
        The file: ``rows cols``, the ``cols`` column costs, then for each row the number of columns that cover it
        and their 1-based indices (values may wrap over lines).

    Returns
    -------
    tuple of (scipy.sparse.csr_matrix, numpy.ndarray)
        Coverage (a column listed twice for a row counts once) and the costs.

    Raises
    ------
    ValidationError
        Every problem of the file, with line numbers.
    """
    path = Path(path)
    t = _Tokens(_read_text(path, "set-covering"))
    m, n = _header(t, ["number of rows", "number of columns"], path, "`n_rows n_columns`")
    problems = _Problems()
    if 2 + n > len(t):
        raise ValidationError(
            str(path),
            [
                f"the file is truncated: line 1 declares {n:,} columns, but only {len(t) - 2:,} values follow "
                f"(the last on {t.where(len(t) - 1)}); restore the column costs and rows, or correct line 1."
            ],
        )
    costs = _numbers(t, slice(2, 2 + n), float, "column cost", problems)
    for col in np.flatnonzero(costs < 0).tolist():
        problems.add(
            "negative column costs", f"{t.where(2 + col)}: column {col + 1} costs {costs[col]:g}; costs must be ≥ 0."
        )
    pos = 2 + n
    rows, cols = [], []
    for i in range(m):
        if pos >= len(t):
            problems.add(
                "count",
                f"the file is truncated: line 1 declares {m:,} rows, but it ends after {i:,}; restore the missing "
                f"rows or correct line 1.",
            )
            break
        head = _Problems()
        k = int(_numbers(t, [pos], int, f"the column count of row {i + 1}", head)[0])
        if head:
            problems += head
            break  # the next row cannot be found: stop here
        if k < 1 or k > n:
            problems.add(
                "rows",
                f"{t.where(pos)}: row {i + 1} is covered by {k} column(s); each row needs 1..{n} covering columns "
                f"(a row no column covers makes the instance infeasible).",
            )
            if k < 0 or k > n:
                break
        if pos + 1 + k > len(t):
            problems.add(
                "count",
                f"the file is truncated in row {i + 1} of {m:,}: it lists {k} columns but {len(t) - pos - 1} value(s) "
                f"follow; restore the row or correct its count on {t.where(pos)}.",
            )
            break
        idx = _numbers(t, slice(pos + 1, pos + 1 + k), int, f"column index of row {i + 1}", problems)
        for b in np.flatnonzero((idx < 1) | (idx > n)).tolist():
            problems.add(
                "column indices out of range",
                f"{t.where(pos + 1 + b)}: row {i + 1} names column {int(idx[b])}, outside 1..{n:,}.",
            )
        rows.append(np.full(k, i))
        cols.append(idx - 1)
        pos += 1 + k
    else:
        if pos < len(t):
            problems.add(
                "count",
                f"{t.where(pos)}: {len(t) - pos:,} value(s) after the {m:,} rows declared on line 1; remove them or "
                f"correct line 1.",
            )
    if problems:
        raise ValidationError(str(path), problems.close())
    r, c = np.concatenate(rows), np.concatenate(cols)
    A = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(m, n))
    A.sum_duplicates()
    A.data[:] = 1.0
    return A, costs


def _point_lines(path: Path, what: str, width: int, names: str) -> tuple[int, list[tuple[int, list[str]]]]:
    """The count on line 1 (its first integer) and the non-blank lines after it, each with its line number."""
    text = _read_text(path, what)
    lines = [(k, ln.split()) for k, ln in enumerate(text.splitlines(), 1) if ln.split()]
    if not lines:
        raise ValidationError(
            str(path), [f"the file holds only blank lines; a {what} file holds numbers in plain text."]
        )
    head = lines[0][1][0]
    try:
        n = int(head)
    except ValueError:
        n = -1
    if n < 1:
        raise ValidationError(
            str(path),
            [f"line {lines[0][0]}: expected the number of points (an integer ≥ 1) first; found {head!r}."],
        )
    if n > MAX_POINTS:
        raise ValidationError(
            str(path),
            [f"line 1: {n:,} points; more than {MAX_POINTS:,} are refused (`facility_planner.benchmarks.MAX_POINTS`)."],
        )
    body = lines[1:]
    problems = _Problems()
    if len(body) < n:
        last = body[-1][0] if body else lines[0][0]
        problems.add(
            "count",
            f"the file is truncated: line 1 declares {n} points but {len(body)} lines of {names} follow (the last "
            f"is line {last}); restore the missing lines or correct line 1.",
        )
    elif len(body) > n:
        problems.add(
            "count",
            f"line {body[n][0]}: {len(body) - n} line(s) after the {n} points declared on line 1; remove them or "
            f"correct line 1.",
        )
    for k, parts in body:
        if len(parts) != width:
            problems.add("lines", f"line {k}: expected {width} values ({names}); found {len(parts)}.")
    if problems:
        raise ValidationError(str(path), problems.close())
    return n, body


def _table(path: Path, body, columns: list[int], what: list[str]) -> np.ndarray:
    """Finite numbers from the given columns of each line; problems with line numbers."""
    problems = _Problems()
    out = np.zeros((len(body), len(columns)))
    for r, (k, parts) in enumerate(body):
        for c, (col, name) in enumerate(zip(columns, what, strict=True)):
            try:
                v = float(parts[col])
            except ValueError:
                v = math.nan
            if not math.isfinite(v):
                problems.add("values that are not numbers", f"line {k}: {name} {parts[col]!r} is not a finite number.")
            elif name == "demand" and v < 0:
                problems.add("negative demands", f"line {k}: demand {v:g} is negative; demands must be ≥ 0.")
            out[r, c] = v
    if problems:
        raise ValidationError(str(path), problems.close())
    return out


def read_swain(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (n × 2) and demands of Swain's data set.

    Parameters
    ----------
    path
        The file: the number of nodes, then one line ``id x y demand`` per node.

    Returns
    -------
    tuple of (numpy.ndarray, numpy.ndarray)
        Coordinates and demands (≥ 0).

    Raises
    ------
    ValidationError
        Every problem of the file, with line numbers.
    """
    path = Path(path)
    _, body = _point_lines(path, "Swain", 4, "id x y demand")
    vals = _table(path, body, [1, 2, 3], ["x", "y", "demand"])
    return vals[:, :2], vals[:, 2]


def read_sjc(coord_path: str | Path, demand_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates and demands of a São José dos Campos instance (only the first integer of the header counts).

    Parameters
    ----------
    coord_path
        ``SJCnnn.txt``: the number of points (then anything on that line), then one line ``x y`` per point.
    demand_path
        ``demand-SJCnnn.dat``: one demand per point, in the same order.

    Returns
    -------
    tuple of (numpy.ndarray, numpy.ndarray)
        Coordinates and demands (≥ 0).

    Raises
    ------
    ValidationError
        Every problem of either file, with line numbers.
    """
    coord_path, demand_path = Path(coord_path), Path(demand_path)
    n, body = _point_lines(coord_path, "SJC coordinates", 2, "x y")
    xy = _table(coord_path, body, [0, 1], ["x", "y"])
    t = _Tokens(_read_text(demand_path, "SJC demand"))
    problems = _Problems()
    if len(t) != n:
        where = f"the last on {t.where(len(t) - 1)}" if len(t) < n else f"the first extra on {t.where(n)}"
        problems.add(
            "count",
            f"{len(t)} demand values for the {n} points of {coord_path.name} ({where}); give exactly one demand per "
            f"point, in the same order.",
        )
    w = _numbers(t, slice(0, len(t)), float, "demand", problems)[:n]
    for k in np.flatnonzero(w < 0).tolist():
        problems.add("negative demands", f"{t.where(k)}: demand {w[k]:g} is negative; demands must be ≥ 0.")
    if problems:
        raise ValidationError(str(demand_path), problems.close())
    return xy, w


def euclidean_coverage(xy: np.ndarray, radius: float) -> sp.csr_matrix:
    """Coverage (point × point) within ``radius``, inclusive, from a KD-tree; never a dense matrix.

    Parameters
    ----------
    xy
        Point coordinates, n × 2.
    radius
        The covering distance (≥ 0).

    Returns
    -------
    scipy.sparse.csr_matrix
        1 where two points lie within ``radius`` of each other (each point covers itself).

    Raises
    ------
    ValidationError
        A negative or non-finite radius, or more than :data:`MAX_COVER_PAIRS` covered pairs.
    """
    if not (math.isfinite(radius) and radius >= 0):
        raise ValidationError("`radius`", [f"radius {radius!r} must be a finite number ≥ 0."])
    tree = cKDTree(xy)
    r_eff = radius * (1 + 1e-12) + 1e-9
    n_pairs = int(tree.count_neighbors(tree, r_eff))
    if n_pairs > MAX_COVER_PAIRS:
        raise ValidationError(
            "`radius`",
            [
                f"radius {radius:g} makes {n_pairs:,} covered pairs among {len(xy):,} points; more than "
                f"{MAX_COVER_PAIRS:,} are refused (`facility_planner.benchmarks.MAX_COVER_PAIRS`)."
            ],
        )
    pairs = tree.query_pairs(r_eff, output_type="ndarray")
    d = np.hypot(*(xy[pairs[:, 0]] - xy[pairs[:, 1]]).T)
    pairs = pairs[d <= radius + 1e-9]
    n = len(xy)
    r = np.r_[pairs[:, 0], pairs[:, 1], np.arange(n)]
    c = np.r_[pairs[:, 1], pairs[:, 0], np.arange(n)]
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n, n))


# ----------------------------------------------------------------------------------------------------------- running


@dataclass
class BenchRow:
    """One solved instance: our objective beside the listed optimum."""

    instance: str
    objective: float
    optimum: float
    gap: float | None
    status: str
    seconds: float

    @property
    def matches(self) -> bool:
        """The objective equals the listed optimum (to 10⁻⁶ relative)."""
        return abs(self.objective - self.optimum) < 1e-6 * max(1.0, abs(self.optimum))


def read_optima(path: str | Path) -> list[tuple[str, float]]:
    """The ``instance,optimum`` rows of an ``optima.csv`` (other columns, such as ``source``, are ignored).

    Parameters
    ----------
    path
        The CSV file; its header names the columns ``instance`` and ``optimum``.

    Returns
    -------
    list of (str, float)
        Instance names and their optima, in file order.

    Raises
    ------
    ValidationError
        Every problem of the file, with line numbers: missing columns or values, non-numeric or repeated rows, no
        row at all, an empty, binary or non-UTF-8 file.
    """
    path = Path(path)
    text = _read_text(path, "optima.csv")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error):
        header = []
    if "instance" not in header or "optimum" not in header:
        raise ValidationError(
            str(path), [f"line 1: the header must name the columns `instance` and `optimum`; found {header}."]
        )
    ci, co = header.index("instance"), header.index("optimum")
    problems = _Problems()
    out: list[tuple[str, float]] = []
    seen: dict[str, int] = {}
    try:
        for fields in reader:
            k = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            name = fields[ci].strip() if ci < len(fields) else ""
            val = fields[co].strip() if co < len(fields) else ""
            if not name:
                problems.add("rows", f"line {k}: no instance name; fill it in or remove the row.")
                continue
            try:
                v = float(val)
            except ValueError:
                v = math.nan
            if not val:
                problems.add(
                    "rows", f"line {k}: instance {name!r} has no optimum; give its known value or remove the row."
                )
            elif not math.isfinite(v):
                problems.add("rows", f"line {k}: the optimum of {name!r} is {val!r}, not a finite number.")
            elif name in seen:
                problems.add("rows", f"line {k}: instance {name!r} is listed again (first on line {seen[name]}).")
            else:
                seen[name] = k
                out.append((name, v))
    except csv.Error as exc:
        problems.add("csv", f"line {reader.line_num}: {exc}; check the quoting.")
    if not out and not problems:
        problems.add("rows", "no instance is listed; add one row `instance,optimum` per instance.")
    if problems:
        raise ValidationError(str(path), problems.close())
    return out


_NAME = re.compile(r"^(?P<base>.+?)_S(?P<S>[0-9]+(?:\.[0-9]+)?)_p(?P<p>\d+)$")


def _find(folder: Path, name: str, ext: str) -> Path | None:
    for cand in (folder / f"{name}{ext}", folder / name):
        if cand.is_file():
            return cand
    return None


def _load_all(family: str, folder: Path, optima: list[tuple[str, float]]) -> dict:
    """Read and check every instance file ``optima.csv`` names, before anything is solved; one error for all."""
    problems: list[str] = []
    data: dict = {}
    f_opt = folder / "optima.csv"

    def load(key, reader: Callable, *files: Path):
        if key in data:
            return
        try:
            data[key] = reader(*files)
        except ValidationError as exc:
            problems.extend(f"{Path(exc.what).name}: {p}" for p in exc.problems)
            data[key] = None

    swain = None
    if family == "mclp-swain":
        files = sorted(folder.glob("*.txt"))
        if not files:
            problems.append(f"{folder}: no Swain data file (*.txt); put the data file beside optima.csv.")
        else:
            swain = files[0]
    for name, _ in optima:
        if family in ("pmed", "scp"):
            f = _find(folder, name, ".txt")
            if f is None:
                problems.append(f"{f_opt.name}: instance file {name}.txt is missing from {folder}.")
                continue
            load(name, _pmed_graph if family == "pmed" else read_scp, f)
            continue
        mt = _NAME.match(name)
        if not mt:
            problems.append(
                f"{f_opt.name}: instance name {name!r} is not like BASE_S<radius>_p<p> (e.g. SJC324_S800_p3)."
            )
            continue
        base = mt["base"]
        if family == "mclp-swain":
            if swain is not None:
                load(base, read_swain, swain)
        else:
            fc, fd = _find(folder, base, ".txt"), _find(folder, f"demand-{base}", ".dat")
            if fc is None or fd is None:
                missing = [f for f, have in ((f"{base}.txt", fc), (f"demand-{base}.dat", fd)) if have is None]
                problems.append(f"{f_opt.name}: {name} needs {' and '.join(missing)}, missing from {folder}.")
                continue
            load(base, read_sjc, fc, fd)
        if data.get(base) is not None and not 1 <= int(mt["p"]) <= len(data[base][0]):
            problems.append(
                f"{f_opt.name}: {name}: p = {mt['p']} must be between 1 and the {len(data[base][0])} points."
            )
    if problems:
        raise ValidationError(str(folder), problems)
    return data


def run_family(
    family: str,
    folder: str | Path | None = None,
    *,
    solver: str | None = None,
    time_limit_s: float = 60.0,
    progress: Callable[[BenchRow], None] | None = None,
) -> list[BenchRow]:
    """Solve every instance listed in ``folder/optima.csv`` exactly (gap 0) and return one row per instance.

    Parameters
    ----------
    family
        One of :data:`FAMILIES`.
    folder
        A folder of instance files and ``optima.csv``; ``None`` takes the bundled published instances.
    solver, time_limit_s
        Passed to the model (``time_limit_s`` per instance).
    progress
        Called with each row as soon as its instance is solved.

    Returns
    -------
    list of BenchRow
        One per row of ``optima.csv``.

    Raises
    ------
    ValidationError
        An unknown family, a missing folder, or any problem in ``optima.csv`` or an instance file (all files are
        read and checked before anything is solved).
    """
    if family not in FAMILIES:
        raise ValidationError("`family`", [f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}."])
    folder = bundled_dir(family) if folder is None else Path(folder)
    if not folder.is_dir():
        raise ValidationError("`DIR`", [f"{folder} is not a folder."])
    if not (folder / "optima.csv").is_file():
        raise ValidationError(
            str(folder), [f"no optima.csv in {folder}; the folder must hold instance files and optima.csv."]
        )
    optima = read_optima(folder / "optima.csv")
    data = _load_all(family, folder, optima)
    rows: list[BenchRow] = []
    for name, optimum in optima:
        t0 = time.perf_counter()
        if family == "pmed":
            G, p = data[name]
            D = shortest_path(G, method="D", directed=False)
            sol = p_median(
                LabelledMatrix.from_dense(D), None, p, solver=solver, time_limit_s=time_limit_s, mip_rel_gap=0.0
            )
        elif family == "scp":
            A, costs = data[name]
            sol = set_cover(A, costs=costs, solver=solver, time_limit_s=time_limit_s, mip_rel_gap=0.0)
        else:
            mt = _NAME.match(name)
            assert mt is not None  # checked in _load_all
            xy, w = data[mt["base"]]
            cov = euclidean_coverage(xy, float(mt["S"]))
            sol = max_cover(cov, w, int(mt["p"]), solver=solver, time_limit_s=time_limit_s, mip_rel_gap=0.0)
        row = BenchRow(name, float(sol.objective), optimum, sol.gap, sol.status, time.perf_counter() - t0)
        rows.append(row)
        if progress:
            progress(row)
    return rows
