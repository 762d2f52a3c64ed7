"""Readers for published facility-location instances and a runner that checks our optima against the known ones.

Families (a folder laid out like ``shared/benchmarks/<family>/``: instance files plus ``optima.csv`` with columns
``instance,optimum``):

* ``pmed``: OR-Library p-median (Beasley 1985). ``n m p`` then edges ``i j cost``; costs are shortest-path
  distances; a repeated edge takes its **last** cost (Beasley's note).
* ``scp``: OR-Library weighted set covering (Beasley 1987). ``rows cols``, the column costs, then for each row the
  number of covering columns and their 1-based indices.
* ``mclp-swain``: Swain's 55 nodes (Church & ReVelle 1974): ``id x y demand`` lines. Instances are named
  ``swain55_S{radius}_p{p}`` in ``optima.csv``.
* ``mclp-sjc``: São José dos Campos (Lorena & Pereira 2002): ``SJCnnn.txt`` (count, then ``x y``) and
  ``demand-SJCnnn.dat``; named ``SJCnnn_S{radius}_p{p}``.

In the maximal-covering sets every point is a demand and a candidate site, and a point is covered when its
Euclidean distance is ≤ S (inclusive).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path
from scipy.spatial import cKDTree

from ._errors import ValidationError
from .matrices import LabelledMatrix
from .models import max_cover, p_median, set_cover

FAMILIES = ("pmed", "scp", "mclp-swain", "mclp-sjc")


def _tokens(path: Path) -> list[str]:
    return path.read_text().split()


def read_pmed(path: str | Path) -> tuple[np.ndarray, int]:
    """The all-pairs shortest-path cost matrix (n × n) and p of an OR-Library pmed file."""
    t = _tokens(Path(path))
    n, e, p = int(t[0]), int(t[1]), int(t[2])
    vals = np.array(t[3 : 3 + 3 * e], dtype=np.int64).reshape(e, 3)
    if len(vals) != e:
        raise ValidationError(str(path), [f"expected {e} edges, found {len(vals)}"])
    i, j, c = vals[:, 0] - 1, vals[:, 1] - 1, vals[:, 2].astype(float)
    # last occurrence wins: keep the final cost of each unordered pair
    key = np.minimum(i, j) * n + np.maximum(i, j)
    _, last = np.unique(key[::-1], return_index=True)
    last = len(key) - 1 - last
    i, j, c = i[last], j[last], c[last]
    G = sp.coo_matrix((np.r_[c, c], (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    D = shortest_path(G, method="D", directed=False)
    return D, p


def read_scp(path: str | Path) -> tuple[sp.csr_matrix, np.ndarray]:
    """The 0/1 coverage matrix (rows × columns) and the column costs of an OR-Library scp file."""
    t = np.array(_tokens(Path(path)), dtype=np.int64)
    m, n = int(t[0]), int(t[1])
    costs = t[2 : 2 + n].astype(float)
    pos = 2 + n
    rows, cols = [], []
    for i in range(m):
        k = int(t[pos])
        idx = t[pos + 1 : pos + 1 + k] - 1
        rows.append(np.full(k, i))
        cols.append(idx)
        pos += 1 + k
    r, c = np.concatenate(rows), np.concatenate(cols)
    A = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(m, n))
    return A, costs


def read_swain(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (n × 2) and demands of Swain's data set."""
    lines = [ln.split() for ln in Path(path).read_text().splitlines() if ln.strip()]
    body = [ln for ln in lines[1:] if len(ln) >= 4]
    xy = np.array([[float(b[1]), float(b[2])] for b in body])
    w = np.array([float(b[3]) for b in body])
    return xy, w


def read_sjc(coord_path: str | Path, demand_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates and demands of a São José dos Campos instance (only the first integer of the header counts)."""
    lines = [ln.split() for ln in Path(coord_path).read_text().splitlines() if ln.strip()]
    n = int(lines[0][0])
    xy = np.array([[float(a), float(b)] for a, b in (ln[:2] for ln in lines[1 : 1 + n])])
    w = np.array(Path(demand_path).read_text().split(), dtype=float)[:n]
    return xy, w


def euclidean_coverage(xy: np.ndarray, radius: float) -> sp.csr_matrix:
    """Coverage (point × point) within ``radius``, inclusive, from a KD-tree; never a dense matrix."""
    tree = cKDTree(xy)
    pairs = tree.query_pairs(radius * (1 + 1e-12), output_type="ndarray")
    d = np.hypot(*(xy[pairs[:, 0]] - xy[pairs[:, 1]]).T)
    pairs = pairs[d <= radius + 1e-9]
    n = len(xy)
    r = np.r_[pairs[:, 0], pairs[:, 1], np.arange(n)]
    c = np.r_[pairs[:, 1], pairs[:, 0], np.arange(n)]
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n, n))


@dataclass
class BenchRow:
    instance: str
    objective: float
    optimum: float
    gap: float | None
    status: str
    seconds: float

    @property
    def matches(self) -> bool:
        return abs(self.objective - self.optimum) < 1e-6 * max(1.0, abs(self.optimum))


def _optima(folder: Path) -> pd.DataFrame:
    f = folder / "optima.csv"
    if not f.exists():
        raise ValidationError(
            str(folder), [f"no optima.csv in {folder}; the folder must hold instance files and optima.csv."]
        )
    df = pd.read_csv(f, dtype={"instance": str})
    if not {"instance", "optimum"} <= set(df.columns):
        raise ValidationError(str(f), ["optima.csv needs columns `instance` and `optimum`."])
    return df


_NAME = re.compile(r"^(?P<base>.+?)_S(?P<S>[0-9.]+)_p(?P<p>\d+)$")


def run_family(
    family: str, folder: str | Path, *, solver: str | None = None, time_limit_s: float = 60.0, progress=None
) -> list[BenchRow]:
    """Solve every instance listed in ``folder/optima.csv`` and return one row per instance, exact (gap 0)."""
    folder = Path(folder)
    if family not in FAMILIES:
        raise ValidationError("`family`", [f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}."])
    if not folder.is_dir():
        raise ValidationError("`DIR`", [f"{folder} is not a folder."])
    opt = _optima(folder)
    rows: list[BenchRow] = []
    cache: dict = {}
    for rec in opt.itertuples():
        name = str(rec.instance)
        t0 = time.perf_counter()
        if family == "pmed":
            D, p = read_pmed(_find(folder, name, ".txt"))
            sol = p_median(
                LabelledMatrix.from_dense(D), None, p, solver=solver, time_limit_s=time_limit_s, mip_rel_gap=0.0
            )
        elif family == "scp":
            A, costs = read_scp(_find(folder, name, ".txt"))
            sol = set_cover(A, costs=costs, solver=solver, time_limit_s=time_limit_s, mip_rel_gap=0.0)
        else:
            mt = _NAME.match(name)
            if not mt:
                raise ValidationError(
                    str(folder / "optima.csv"), [f"instance name {name!r} is not like BASE_S<radius>_p<p>."]
                )
            base, S, p = mt["base"], float(mt["S"]), int(mt["p"])
            if base not in cache:
                if family == "mclp-swain":
                    files = sorted(folder.glob("*.txt"))
                    if not files:
                        raise ValidationError(str(folder), ["no Swain data file (*.txt) found."])
                    cache[base] = read_swain(files[0])
                else:
                    cache[base] = read_sjc(_find(folder, base, ".txt"), _find(folder, f"demand-{base}", ".dat"))
            xy, w = cache[base]
            cov = euclidean_coverage(xy, S)
            sol = max_cover(cov, w, p, solver=solver, time_limit_s=time_limit_s, mip_rel_gap=0.0)
        row = BenchRow(name, float(sol.objective), float(rec.optimum), sol.gap, sol.status, time.perf_counter() - t0)
        rows.append(row)
        if progress:
            progress(row)
    return rows


def _find(folder: Path, name: str, ext: str) -> Path:
    for cand in (folder / f"{name}{ext}", folder / name):
        if cand.exists():
            return cand
    raise ValidationError(str(folder), [f"instance file {name}{ext} listed in optima.csv is missing."])
