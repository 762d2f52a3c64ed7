"""Labelled sparse matrices: the only thing the models see (rows = demand ids, columns = site ids)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from ._errors import ValidationError


@dataclass
class LabelledMatrix:
    """A ``scipy.sparse`` CSR matrix whose rows and columns are labelled by ids.

    For a coverage matrix, a stored entry (i, j) means demand i is within reach of site j; its value is the travel
    cost (minutes or metres) where known. Absent entries mean "not reachable within the limit", never zero cost.
    """

    matrix: sp.csr_matrix
    row_ids: npt.NDArray[Any]
    col_ids: npt.NDArray[Any]
    unit: str = ""

    def __post_init__(self) -> None:
        self.matrix = sp.csr_matrix(self.matrix)
        self.row_ids = np.asarray(self.row_ids)
        self.col_ids = np.asarray(self.col_ids)
        problems = []
        if self.matrix.shape != (len(self.row_ids), len(self.col_ids)):
            problems.append(
                f"matrix shape {self.matrix.shape} does not match {len(self.row_ids)} row ids × {len(self.col_ids)} column ids."
            )
        for name, ids in (("row", self.row_ids), ("column", self.col_ids)):
            if len(pd.unique(ids)) != len(ids):
                problems.append(f"{name} ids must be unique.")
        if self.matrix.nnz and not np.isfinite(self.matrix.data).all():
            problems.append("matrix holds NaN or infinite values; leave unreachable pairs out instead.")
        if self.matrix.nnz and (self.matrix.data < 0).any():
            problems.append("matrix holds negative travel costs.")
        if problems:
            raise ValidationError("labelled matrix", problems)

    @property
    def shape(self) -> tuple[int, int]:
        """(number of rows, number of columns)."""
        return self.matrix.shape

    def within(self, limit: float) -> LabelledMatrix:
        """Only the pairs with cost ≤ ``limit``."""
        m = self.matrix.copy()
        m.data = np.where(m.data <= limit, m.data, np.nan)
        keep = ~np.isnan(m.data)
        coo = m.tocoo()
        out = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=m.shape)
        return LabelledMatrix(out, self.row_ids, self.col_ids, self.unit)

    def subset(self, rows: Iterable[Any] | None = None, cols: Iterable[Any] | None = None) -> LabelledMatrix:
        """Rows / columns by id (in the order given)."""
        m = self.matrix
        rid, cid = self.row_ids, self.col_ids
        if rows is not None:
            idx = pd.Index(rid).get_indexer(list(rows))
            if (idx < 0).any():
                raise ValidationError("subset", ["unknown row ids requested."])
            m, rid = m[idx], rid[idx]
        if cols is not None:
            idx = pd.Index(cid).get_indexer(list(cols))
            if (idx < 0).any():
                raise ValidationError("subset", ["unknown column ids requested."])
            m, cid = m[:, idx], cid[idx]
        return LabelledMatrix(m, rid, cid, self.unit)

    def to_frame(self) -> pd.DataFrame:
        """Long table ``row_id``, ``col_id``, ``value`` of the stored pairs."""
        coo = self.matrix.tocoo()
        return pd.DataFrame({"row_id": self.row_ids[coo.row], "col_id": self.col_ids[coo.col], "value": coo.data})

    @classmethod
    def from_dense(
        cls,
        dense: npt.ArrayLike,
        row_ids: npt.ArrayLike | None = None,
        col_ids: npt.ArrayLike | None = None,
        *,
        limit: float | None = None,
        unit: str = "",
    ) -> LabelledMatrix:
        """From a dense array of costs; pairs above ``limit`` (or NaN/inf) are left out."""
        d = np.asarray(dense, dtype=float)
        mask = np.isfinite(d)
        if limit is not None:
            mask &= d <= limit
        r, c = np.nonzero(mask)
        m = sp.csr_matrix((d[r, c], (r, c)), shape=d.shape)
        # explicit zeros (cost 0) must survive: csr drops nothing given explicitly, keep as is
        return cls(
            m,
            np.arange(d.shape[0]) if row_ids is None else np.asarray(row_ids),
            np.arange(d.shape[1]) if col_ids is None else np.asarray(col_ids),
            unit,
        )
